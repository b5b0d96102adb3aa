/* common/lineproto.h — Influx line protocol: writer (encoder) and parser.
 *
 *   measurement[,tag=value...] field=value[,field=value...] [timestamp_ns]
 *
 * Escaping, as InfluxDB defines it: in the measurement, commas and spaces are
 * backslash-escaped; in tag keys, tag values and field keys, commas, spaces
 * and equals signs; in string field values (double-quoted), double quotes and
 * backslashes. Field values: float (`1.5`, `1e3`, `-2`), integer (`12i`),
 * unsigned (`12u`), boolean (t, T, true, True, TRUE, f, F, false, False,
 * FALSE), string (`"text"`). The timestamp is integer nanoseconds since the
 * epoch. A message may hold several lines separated by '\n'; empty lines and
 * lines starting with '#' are ignored; a trailing '\r' is tolerated.
 *
 * The writer appends straight into a pw_buf with no allocation per point; the
 * parser never trusts its input: every length is checked, numbers are parsed
 * with range checks, and a malformed line is an error that names the line
 * and the column, never a crash. */
#ifndef PW_LINEPROTO_H
#define PW_LINEPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

/* A string slice: not NUL-terminated. */
struct pw_str {
    const char *ptr;
    size_t len;
};

enum pw_field_type {
    PW_FIELD_FLOAT,
    PW_FIELD_INT,
    PW_FIELD_UINT,
    PW_FIELD_BOOL,
    PW_FIELD_STRING,
};

struct pw_lp_field {
    struct pw_str key;
    enum pw_field_type type;
    union {
        double f;
        int64_t i;
        uint64_t u;
        bool b;
        struct pw_str s;
    } v;
};

struct pw_lp_tag {
    struct pw_str key;
    struct pw_str value;
};

/* One parsed point. All slices are unescaped and point into storage owned by
 * the pw_lp_batch (or, for the writer, by the caller). */
struct pw_lp_point {
    struct pw_str measurement;
    const struct pw_lp_tag *tags;
    size_t ntags;
    const struct pw_lp_field *fields;
    size_t nfields;
    int64_t ts_ns;
    bool has_ts;          /* false when the line had no timestamp */
};

/* ---- writer ------------------------------------------------------------ */

/* Builds lines into `buf`. Usage:
 *   pw_lp_begin(w, "cpu");
 *   pw_lp_tag(w, "cpu", "cpu-total");        (tags in sorted key order)
 *   pw_lp_field_float(w, "usage_user", 12.5);
 *   pw_lp_end(w, ts_ns);
 * A point with no field (every value skipped) is rolled back by pw_lp_end,
 * since line protocol cannot express it. Non-finite floats are skipped (line
 * protocol cannot carry NaN or infinities) and counted in skipped_nonfinite.
 * A tag with an empty key or value is skipped (InfluxDB rejects them). */
struct pw_lp_writer {
    struct pw_buf buf;
    size_t points;              /* complete lines written since reset */
    uint64_t skipped_nonfinite;
    /* private */
    size_t line_start;
    size_t nfields_in_line;
    bool in_line;
};

void pw_lp_writer_init(struct pw_lp_writer *w);
void pw_lp_writer_reset(struct pw_lp_writer *w);   /* keeps the storage */
void pw_lp_writer_release(struct pw_lp_writer *w);

void pw_lp_begin(struct pw_lp_writer *w, const char *measurement);
void pw_lp_tag(struct pw_lp_writer *w, const char *key, const char *value);
void pw_lp_field_float(struct pw_lp_writer *w, const char *key, double v);
void pw_lp_field_int(struct pw_lp_writer *w, const char *key, int64_t v);
void pw_lp_field_uint(struct pw_lp_writer *w, const char *key, uint64_t v);
void pw_lp_field_bool(struct pw_lp_writer *w, const char *key, bool v);
void pw_lp_field_string(struct pw_lp_writer *w, const char *key,
                        const char *v, size_t len);
/* Ends the line with " ts_ns\n" (ts_ns < 0: no timestamp). Returns 1 if a
 * line was written, 0 if it was rolled back (no fields), -1 if the buffer
 * could not grow (w->buf.oom). */
int pw_lp_end(struct pw_lp_writer *w, int64_t ts_ns);

/* Appends s[0..n) to b escaped as the writer escapes a measurement
 * (measurement = true: ',' and ' ') or a tag key, tag value or field key
 * (false: ',', ' ' and '='); '\n' becomes the two characters `\n`. For
 * callers that build series keys out of parsed names (analyzer/ingest). */
void pw_lp_escape_name(struct pw_buf *b, const char *s, size_t n,
                       bool measurement);

/* Writes a whole parsed point (tags in the given order). Same return as
 * pw_lp_end. */
int pw_lp_write_point(struct pw_lp_writer *w, const struct pw_lp_point *p);

/* Splits writer output into messages: returns the length of the first
 * message of buf[0..len): whole lines, together at most max_bytes, or one
 * line alone if that line is longer. Knows that a newline inside a string
 * field value does not end a line. Meant for text the writer produced. */
size_t pw_lp_next_message(const char *buf, size_t len, size_t max_bytes);

/* ---- parser ------------------------------------------------------------ */

/* Parsed points and the storage their slices point into. Reusable: reset
 * keeps the memory so that a consumer does not allocate per message. */
struct pw_lp_batch;

struct pw_lp_batch *pw_lp_batch_new(void);
void pw_lp_batch_reset(struct pw_lp_batch *b);
void pw_lp_batch_free(struct pw_lp_batch *b);
size_t pw_lp_batch_len(const struct pw_lp_batch *b);
const struct pw_lp_point *pw_lp_batch_get(const struct pw_lp_batch *b,
                                          size_t i);

/* Parses every line of buf[0..len) and appends the points to `out`. A line
 * without a timestamp gets `default_ts_ns` (and has_ts = false). On a
 * malformed line returns -1 with err = "line N, column C: what is wrong",
 * and `out` holds nothing from this call (a message is taken whole or not at
 * all). Limits: at most 65535 bytes per line; more than 1024 tags or fields
 * on one line is an error. Returns the number of points appended. */
int pw_lp_parse(const char *buf, size_t len, int64_t default_ts_ns,
                struct pw_lp_batch *out, struct pw_err *err);

#endif
