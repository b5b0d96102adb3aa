/* collectors/promtext.h — a parser of the Prometheus text exposition format.
 *
 * Format 0.0.4 (what /metrics endpoints serve as text/plain) and the basics
 * of OpenMetrics 1.0 (application/openmetrics-text):
 *
 *   # HELP http_requests_total The total number of HTTP requests.
 *   # TYPE http_requests_total counter
 *   http_requests_total{method="post",code="200"} 1027 1395066363000
 *   # TYPE rpc_duration_seconds histogram
 *   rpc_duration_seconds_bucket{le="+Inf"} 144320
 *   rpc_duration_seconds_sum 53423
 *   rpc_duration_seconds_count 144320
 *   # EOF                                           (OpenMetrics only)
 *
 * Every sample is handed to a callback as a struct pw_prom_sample: its
 * series name, the family it belongs to (by the preceding # TYPE line), the
 * family's type and what the sample is within the family (a bucket, a sum, a
 * quantile, ...), the labels unescaped (\\, \" and \n), the value (NaN, +Inf
 * and -Inf included) and the timestamp when there is one. Timestamps are
 * integer milliseconds in 0.0.4 and (possibly fractional) seconds in
 * OpenMetrics; the sample always carries milliseconds.
 *
 * A malformed line is counted, reported to the error callback with its line
 * number, and skipped; parsing goes on with the next line. Nothing in the
 * input is fatal. Text after "# EOF" is an error (counted once). OpenMetrics
 * exemplars (" # {...} value") after a sample are skipped.
 *
 * No I/O, no allocation per sample: a struct pw_prom_parser keeps a label
 * array and an unescaping buffer that grow to the largest line seen and are
 * reused across lines and calls. Slices handed to the callback point into
 * the input or into that buffer and are valid during the callback only. */
#ifndef PW_PROMTEXT_H
#define PW_PROMTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/lineproto.h"   /* struct pw_str */

enum pw_prom_type {
    PW_PROM_UNTYPED,         /* no # TYPE, "untyped" or OpenMetrics "unknown" */
    PW_PROM_COUNTER,
    PW_PROM_GAUGE,
    PW_PROM_HISTOGRAM,
    PW_PROM_SUMMARY,
    PW_PROM_GAUGE_HISTOGRAM, /* OpenMetrics gaugehistogram */
    PW_PROM_INFO,            /* OpenMetrics info */
    PW_PROM_STATESET,        /* OpenMetrics stateset */
};

/* What a sample is within its family. */
enum pw_prom_role {
    PW_PROM_VALUE,      /* counter (with or without _total), gauge, untyped,
                           info (_info), stateset */
    PW_PROM_BUCKET,     /* histogram _bucket (has an "le" label) */
    PW_PROM_QUANTILE,   /* summary sample with a "quantile" label */
    PW_PROM_SUM,        /* histogram or summary _sum (gaugehistogram _gsum) */
    PW_PROM_COUNT,      /* histogram or summary _count (_gcount) */
    PW_PROM_CREATED,    /* OpenMetrics _created */
};

struct pw_prom_label {
    struct pw_str name;
    struct pw_str value;   /* unescaped */
};

struct pw_prom_sample {
    struct pw_str name;            /* the series name as written */
    struct pw_str family;          /* the # TYPE name it belongs to, or name */
    struct pw_str unit;            /* from # UNIT, or empty */
    enum pw_prom_type type;
    enum pw_prom_role role;
    const struct pw_prom_label *labels;
    size_t nlabels;
    double value;
    int64_t ts_ms;                 /* valid when has_ts */
    bool has_ts;
    int line;                      /* 1-based */
};

/* Returns 0 to go on, non-zero to stop parsing (pw_prom_parse returns it). */
typedef int (*pw_prom_sample_fn)(void *ctx, const struct pw_prom_sample *s);
/* A skipped line: `msg` is "line N: what is wrong". May be NULL. */
typedef void (*pw_prom_error_fn)(void *ctx, int line, const char *msg);

struct pw_prom_stats {
    uint64_t lines;        /* lines read, comments and blank lines included */
    uint64_t samples;      /* samples handed to the callback */
    uint64_t errors;       /* malformed lines skipped */
    int first_error_line;  /* 0 when no error */
    char first_error[200]; /* "line N: ..." */
    bool eof_seen;         /* "# EOF" was read */
};

struct pw_prom_parser {
    bool openmetrics;      /* timestamps in seconds; # EOF expected */
    /* private: reused across lines and calls */
    struct pw_prom_label *labels;
    size_t labels_cap;
    char *scratch;
    size_t scratch_cap;
    char family[256];      /* the current # TYPE family */
    size_t family_len;
    char unit[64];
    size_t unit_len;
    enum pw_prom_type family_type;
};

/* A zeroed struct is ready too; openmetrics is set by the caller. */
void pw_prom_parser_init(struct pw_prom_parser *p, bool openmetrics);
void pw_prom_parser_release(struct pw_prom_parser *p);

/* Parses buf[0..len) (one whole exposition; # TYPE state starts afresh),
 * calls on_sample for every good sample and on_error for every skipped
 * line, and fills *stats (zeroed first). Returns 0, the callback's non-zero
 * value if it stopped the parse, or -1 if memory for a line could not be
 * had (that line is counted as an error and parsing stops). */
int pw_prom_parse(struct pw_prom_parser *p, const char *buf, size_t len,
                  pw_prom_sample_fn on_sample, pw_prom_error_fn on_error,
                  void *ctx, struct pw_prom_stats *stats);

const char *pw_prom_type_name(enum pw_prom_type t);

#endif
