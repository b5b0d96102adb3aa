/* common/lineproto.c — Influx line protocol: the writer and the parser.
 *
 * Why it is built this way.
 *
 * The writer appends straight into a pw_buf and undoes a bad line by
 * truncating to where the line began, so a point costs no allocation and a
 * half-written point never reaches the wire.
 *
 * The parser is hand-written: one pass, byte by byte, with an explicit
 * position for every error. A message is taken whole or not at all, so it
 * parses into scratch arrays that hold offsets (the scratch may move while it
 * grows) and only at the end copies everything into one block of the batch's
 * chunked arena and turns the offsets into pointers. Arena chunks never move,
 * so the slices of earlier messages stay valid until reset; reset folds the
 * chunks into one so that a steady stream reuses a single block.
 *
 * Escaping follows InfluxDB's own decoder (influxdata/line-protocol v2): in a
 * measurement a backslash escapes ',' and ' '; in tag keys, tag values and
 * field keys it escapes ',', ' ' and '='; in a quoted string it escapes '"'
 * and '\'. A backslash before any other character is an ordinary character
 * and the character after it is read normally (so "a\\,b" is `a\,b`). The
 * writer therefore escapes only those characters and leaves other
 * backslashes alone, which reads back exactly — except for what line
 * protocol cannot say at all. There, the writer's choices are:
 *
 *  - '\n' in a measurement, tag key, tag value or field key is written as
 *    the two characters `\n` (Telegraf's convention): a newline ends the
 *    line and no escape can carry it. So "a<LF>b" reads back as `a\nb`.
 *    In string field values a newline is written raw, inside the quotes, as
 *    InfluxDB accepts; the parser therefore splits lines outside quotes only.
 *  - A name that ends in a backslash cannot be written (the backslash would
 *    escape the separator after it; InfluxDB's encoder refuses it too). A
 *    tag whose key or value ends in '\' is skipped, like an empty one; a
 *    field whose key is empty or ends in '\' is skipped; a measurement that
 *    is empty, ends in '\' or starts with '#' (which would make the line a
 *    comment) makes pw_lp_end roll the line back and return 0.
 *  - A line the parser would refuse is rolled back too (pw_lp_end returns
 *    0): longer than 65535 bytes, or more than 1024 tags or fields.
 *  - Tags must come before fields: a tag added after a field is ignored.
 *  - pw_lp_write_point writes the timestamp when the point has one
 *    (has_ts, any sign, since InfluxDB accepts times before 1970) or when
 *    its defaulted ts_ns is >= 0; so re-encoding a parsed message keeps the
 *    arrival time that the parser filled in.
 *
 * Floats are printed with the fewest of 15, 16 or 17 significant digits that
 * strtod reads back to the same double, and parsed with strtod after our own
 * syntax check (no hex, inf or nan). Both follow LC_NUMERIC, which is "C"
 * unless the program calls setlocale; pipewatch does not. */
#include "common/lineproto.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINE_BYTES 65535
#define MAX_TAGS 1024
#define MAX_FIELDS 1024
/* A line shorter than this cannot hold more than MAX_TAGS tags (",k=v"). */
#define MIN_BYTES_FOR_TOO_MANY_TAGS (4 * (MAX_TAGS + 1))

/* ---- escaping rules shared by writer and parser ------------------------ */

/* Characters a backslash escapes in a measurement (eq = false) or in a tag
 * key, tag value or field key (eq = true); they also end the name. */
static bool is_special(char c, bool eq)
{
    return c == ',' || c == ' ' || (eq && c == '=');
}

/* ---- writer ------------------------------------------------------------ */

void pw_lp_writer_init(struct pw_lp_writer *w)
{
    memset(w, 0, sizeof *w);
    pw_buf_init(&w->buf);
}

void pw_lp_writer_reset(struct pw_lp_writer *w)
{
    pw_buf_reset(&w->buf);
    w->points = 0;
    w->skipped_nonfinite = 0;
    w->line_start = 0;
    w->nfields_in_line = 0;
    w->in_line = false;
}

void pw_lp_writer_release(struct pw_lp_writer *w)
{
    pw_buf_release(&w->buf);
    pw_lp_writer_init(w);
}

/* A name that can be written: not empty, no trailing backslash. */
static bool writable_name(const char *s, size_t n)
{
    return s && n > 0 && s[n - 1] != '\\';
}

static void put_name(struct pw_buf *b, const char *s, size_t n, bool eq)
{
    if (n > (SIZE_MAX - 1) / 2) {
        b->oom = true;
        return;
    }
    if (!pw_buf_reserve(b, 2 * n))
        return;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\n') {
            *o++ = '\\';
            *o++ = 'n';
            continue;
        }
        if (is_special(c, eq))
            *o++ = '\\';
        *o++ = c;
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void pw_lp_escape_name(struct pw_buf *b, const char *s, size_t n,
                       bool measurement)
{
    put_name(b, s, n, !measurement);
}

static void put_string_value(struct pw_buf *b, const char *s, size_t n)
{
    if (n > (SIZE_MAX - 3) / 2) {
        b->oom = true;
        return;
    }
    if (!pw_buf_reserve(b, 2 * n + 2))
        return;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            *o++ = '\\';
        *o++ = s[i];
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double. %g
 * drops trailing zeros, so 1.0 prints as "1", which Influx reads as a
 * float (integers carry an `i`). */
static void put_float(struct pw_buf *b, double v)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (prec == 17 || same_double(strtod(tmp, NULL), v))
            break;
    }
    pw_buf_puts(b, tmp);
}

static void begin_n(struct pw_lp_writer *w, const char *m, size_t n)
{
    if (w->in_line) /* previous line never ended: drop it */
        pw_buf_truncate(&w->buf, w->line_start);
    w->line_start = w->buf.len;
    w->nfields_in_line = 0;
    w->in_line = writable_name(m, n) && m[0] != '#';
    if (w->in_line)
        put_name(&w->buf, m, n, false);
}

static void tag_n(struct pw_lp_writer *w, const char *k, size_t kn,
                  const char *v, size_t vn)
{
    if (!w->in_line || w->nfields_in_line > 0)
        return;
    if (!writable_name(k, kn) || !writable_name(v, vn))
        return;
    pw_buf_putc(&w->buf, ',');
    put_name(&w->buf, k, kn, true);
    pw_buf_putc(&w->buf, '=');
    put_name(&w->buf, v, vn, true);
}

/* Writes " key=" or ",key=" and returns true if the field can be written. */
static bool field_key(struct pw_lp_writer *w, const char *k, size_t kn)
{
    if (!w->in_line || !writable_name(k, kn))
        return false;
    pw_buf_putc(&w->buf, w->nfields_in_line ? ',' : ' ');
    put_name(&w->buf, k, kn, true);
    pw_buf_putc(&w->buf, '=');
    w->nfields_in_line++;
    return true;
}

static void field_float_n(struct pw_lp_writer *w, const char *k, size_t kn,
                          double v)
{
    if (!isfinite(v)) {
        w->skipped_nonfinite++;
        return;
    }
    if (field_key(w, k, kn))
        put_float(&w->buf, v);
}

static void field_int_n(struct pw_lp_writer *w, const char *k, size_t kn,
                        int64_t v)
{
    if (field_key(w, k, kn))
        pw_buf_printf(&w->buf, "%" PRId64 "i", v);
}

static void field_uint_n(struct pw_lp_writer *w, const char *k, size_t kn,
                         uint64_t v)
{
    if (field_key(w, k, kn))
        pw_buf_printf(&w->buf, "%" PRIu64 "u", v);
}

static void field_bool_n(struct pw_lp_writer *w, const char *k, size_t kn,
                         bool v)
{
    if (field_key(w, k, kn))
        pw_buf_puts(&w->buf, v ? "true" : "false");
}

static void field_string_n(struct pw_lp_writer *w, const char *k, size_t kn,
                           const char *v, size_t vn)
{
    if (!v)
        vn = 0;
    if (field_key(w, k, kn))
        put_string_value(&w->buf, v ? v : "", vn);
}

static size_t cstrlen(const char *s) { return s ? strlen(s) : 0; }

void pw_lp_begin(struct pw_lp_writer *w, const char *measurement)
{
    begin_n(w, measurement, cstrlen(measurement));
}

void pw_lp_tag(struct pw_lp_writer *w, const char *key, const char *value)
{
    tag_n(w, key, cstrlen(key), value, cstrlen(value));
}

void pw_lp_field_float(struct pw_lp_writer *w, const char *key, double v)
{
    field_float_n(w, key, cstrlen(key), v);
}

void pw_lp_field_int(struct pw_lp_writer *w, const char *key, int64_t v)
{
    field_int_n(w, key, cstrlen(key), v);
}

void pw_lp_field_uint(struct pw_lp_writer *w, const char *key, uint64_t v)
{
    field_uint_n(w, key, cstrlen(key), v);
}

void pw_lp_field_bool(struct pw_lp_writer *w, const char *key, bool v)
{
    field_bool_n(w, key, cstrlen(key), v);
}

void pw_lp_field_string(struct pw_lp_writer *w, const char *key,
                        const char *v, size_t len)
{
    field_string_n(w, key, cstrlen(key), v, len);
}

/* Tags in the written line: unescaped commas before the first unescaped
 * space, read with the parser's rules. */
static size_t count_tags(const char *s, size_t n)
{
    size_t tags = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && is_special(s[i + 1], true))
            i++;
        else if (s[i] == ' ')
            break;
        else if (s[i] == ',')
            tags++;
    }
    return tags;
}

static int end_line(struct pw_lp_writer *w, bool with_ts, int64_t ts_ns)
{
    if (!w->in_line)
        return 0;
    w->in_line = false;
    if (w->buf.oom) {
        pw_buf_truncate(&w->buf, w->line_start);
        return -1;
    }
    if (w->nfields_in_line == 0 || w->nfields_in_line > MAX_FIELDS)
        goto rollback;
    if (with_ts)
        pw_buf_printf(&w->buf, " %" PRId64, ts_ns);
    size_t line_len = w->buf.len - w->line_start;
    if (line_len > MAX_LINE_BYTES)
        goto rollback;
    if (line_len >= MIN_BYTES_FOR_TOO_MANY_TAGS &&
        count_tags(w->buf.data + w->line_start, line_len) > MAX_TAGS)
        goto rollback;
    pw_buf_putc(&w->buf, '\n');
    if (w->buf.oom) {
        pw_buf_truncate(&w->buf, w->line_start);
        return -1;
    }
    w->points++;
    return 1;
rollback:
    pw_buf_truncate(&w->buf, w->line_start);
    return 0;
}

int pw_lp_end(struct pw_lp_writer *w, int64_t ts_ns)
{
    return end_line(w, ts_ns >= 0, ts_ns);
}

int pw_lp_write_point(struct pw_lp_writer *w, const struct pw_lp_point *p)
{
    begin_n(w, p->measurement.ptr, p->measurement.len);
    for (size_t i = 0; i < p->ntags; i++) {
        const struct pw_lp_tag *t = &p->tags[i];
        tag_n(w, t->key.ptr, t->key.len, t->value.ptr, t->value.len);
    }
    for (size_t i = 0; i < p->nfields; i++) {
        const struct pw_lp_field *f = &p->fields[i];
        const char *k = f->key.ptr;
        size_t kn = f->key.len;
        switch (f->type) {
        case PW_FIELD_FLOAT: field_float_n(w, k, kn, f->v.f); break;
        case PW_FIELD_INT: field_int_n(w, k, kn, f->v.i); break;
        case PW_FIELD_UINT: field_uint_n(w, k, kn, f->v.u); break;
        case PW_FIELD_BOOL: field_bool_n(w, k, kn, f->v.b); break;
        case PW_FIELD_STRING:
            field_string_n(w, k, kn, f->v.s.ptr, f->v.s.len);
            break;
        }
    }
    return end_line(w, p->has_ts || p->ts_ns >= 0, p->ts_ns);
}

/* ---- splitting writer output into messages ------------------------------ */

/* The length of the line at buf[0..len) including its '\n' (or up to len).
 * Sections: measurement and tags up to the first unescaped space, then the
 * fields, where a '"' right after '=' opens a string that only an unescaped
 * '"' closes. A backslash escapes exactly what the parser lets it escape
 * (scan_name, scan_string): ',', ' ' and '=' in names, '"' and '\\' in
 * strings; before anything else it is a literal byte. */
static size_t line_length(const char *buf, size_t len)
{
    int section = 0;            /* 0 series key, 1 fields, 2 timestamp */
    bool in_string = false;
    bool after_eq = false;      /* the previous byte was an unescaped '=' */
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\' && i + 1 < len && (buf[i + 1] == '"' || buf[i + 1] == '\\'))
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        bool was_after_eq = after_eq;
        after_eq = false;
        if (c == '\\' && i + 1 < len && is_special(buf[i + 1], true)) {
            i++;
            continue;
        }
        if (c == '\n')
            return i + 1;
        if (c == ' ' && section < 2)
            section++;
        else if (section == 1 && c == '"' && was_after_eq)
            in_string = true;
        else if (section == 1 && c == '=')
            after_eq = true;
    }
    return len;
}

size_t pw_lp_next_message(const char *buf, size_t len, size_t max_bytes)
{
    size_t n = 0;
    while (n < len) {
        size_t line = line_length(buf + n, len - n);
        if (n > 0 && n + line > max_bytes)
            break;
        n += line;
    }
    return n;
}

/* ---- batch storage ----------------------------------------------------- */

/* Parse-time records: offsets into the scratch string area. */
struct sc_tag {
    size_t koff, klen, voff, vlen;
};

struct sc_field {
    size_t koff, klen;
    enum pw_field_type type;
    union {
        double f;
        int64_t i;
        uint64_t u;
        bool b;
        struct {
            size_t off, len;
        } s;
    } v;
};

struct sc_point {
    size_t moff, mlen;
    size_t tag0, ntags;
    size_t field0, nfields;
    int64_t ts_ns;
    bool has_ts;
};

/* Arena chunk: committed points, tags, fields and strings; never moves. */
struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
};

#define CHUNK_MIN_BYTES (64 * 1024)

struct pw_lp_batch {
    const struct pw_lp_point **index; /* the points, in order */
    size_t len, index_cap;
    struct chunk *chunks, *cur; /* cur is the last chunk */

    /* Scratch for the message being parsed, reused from call to call. */
    char *str;
    size_t str_len, str_cap;
    struct sc_tag *tags;
    size_t ntags, tags_cap;
    struct sc_field *fields;
    size_t nfields, fields_cap;
    struct sc_point *points;
    size_t npoints, points_cap;
    char *num; /* a number copied out to be NUL-terminated for strtod */
    size_t num_cap;
};

/* Grows *p to hold at least `need` elements of `elem` bytes. */
static bool grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    void **p = pp;
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return false;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return false;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

static size_t align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) / a * a;
}

static void *arena_alloc(struct pw_lp_batch *b, size_t n)
{
    if (n > SIZE_MAX - alignof(max_align_t))
        return NULL;
    n = align_up(n);
    struct chunk *c = b->cur;
    if (!c || c->cap - c->used < n) {
        size_t cap = c ? c->cap : 0;
        if (cap < CHUNK_MIN_BYTES)
            cap = CHUNK_MIN_BYTES;
        if (cap < n)
            cap = n;
        if (cap > SIZE_MAX - sizeof *c)
            return NULL;
        struct chunk *nc = malloc(sizeof *nc + cap);
        if (!nc)
            return NULL;
        nc->next = NULL;
        nc->cap = cap;
        nc->used = 0;
        if (c)
            c->next = nc;
        else
            b->chunks = nc;
        b->cur = c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void free_chunks(struct chunk *c)
{
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

struct pw_lp_batch *pw_lp_batch_new(void)
{
    return calloc(1, sizeof(struct pw_lp_batch));
}

void pw_lp_batch_reset(struct pw_lp_batch *b)
{
    if (!b)
        return;
    b->len = 0;
    if (b->chunks && b->chunks->next) {
        /* Fold the chunks into one of their total size, so that the next
         * message of the same size fits without another allocation. */
        size_t total = 0;
        for (struct chunk *c = b->chunks; c; c = c->next)
            total += c->cap;
        free_chunks(b->chunks);
        b->chunks = b->cur = malloc(sizeof *b->chunks + total);
        if (b->chunks) {
            b->chunks->next = NULL;
            b->chunks->cap = total;
        }
    }
    if (b->chunks)
        b->chunks->used = 0;
}

void pw_lp_batch_free(struct pw_lp_batch *b)
{
    if (!b)
        return;
    free_chunks(b->chunks);
    free(b->index);
    free(b->str);
    free(b->tags);
    free(b->fields);
    free(b->points);
    free(b->num);
    free(b);
}

size_t pw_lp_batch_len(const struct pw_lp_batch *b)
{
    return b ? b->len : 0;
}

const struct pw_lp_point *pw_lp_batch_get(const struct pw_lp_batch *b,
                                          size_t i)
{
    return b && i < b->len ? b->index[i] : NULL;
}

/* ---- parser ------------------------------------------------------------ */

struct parser {
    const char *s;
    size_t len;
    struct pw_lp_batch *b;
    int64_t default_ts_ns;
    size_t err_pos;
    char err_what[200];
};

static int fail(struct parser *ps, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, size_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err_what, sizeof ps->err_what, fmt, ap);
    va_end(ap);
    ps->err_pos = pos;
    return -1;
}

static int fail_oom(struct parser *ps, size_t pos)
{
    return fail(ps, pos, "out of memory while parsing");
}

/* "line N, column C: what" with N and C counted in bytes from 1. */
static int report(const struct parser *ps, struct pw_err *err)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < ps->err_pos && i < ps->len; i++) {
        if (ps->s[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    return pw_err_set(err, "line %zu, column %zu: %s", line,
                      ps->err_pos - line_start + 1, ps->err_what);
}

/* End of a line: end of input, '\n', or a '\r' that ends the input or is
 * followed by '\n'. */
static bool at_eol(const struct parser *ps, size_t p)
{
    if (p >= ps->len || ps->s[p] == '\n')
        return true;
    return ps->s[p] == '\r' && (p + 1 >= ps->len || ps->s[p + 1] == '\n');
}

static size_t skip_eol(const struct parser *ps, size_t p)
{
    if (p < ps->len && ps->s[p] == '\r')
        p++;
    if (p < ps->len && ps->s[p] == '\n')
        p++;
    return p;
}

static size_t skip_spaces(const struct parser *ps, size_t p)
{
    while (p < ps->len && ps->s[p] == ' ')
        p++;
    return p;
}

/* Reads a measurement (eq = false) or a key or tag value (eq = true) from p
 * up to an unescaped separator or the end of the line, unescaping it into
 * the scratch area (which pw_lp_parse sized for the whole message). */
static size_t scan_name(struct parser *ps, size_t p, bool eq, size_t *off,
                        size_t *n)
{
    struct pw_lp_batch *b = ps->b;
    const char *s = ps->s;
    char *start = b->str + b->str_len, *o = start;
    while (p < ps->len) {
        char c = s[p];
        if (c == '\n' || is_special(c, eq))
            break;
        if (c == '\\' && p + 1 < ps->len && is_special(s[p + 1], eq)) {
            *o++ = s[p + 1];
            p += 2;
            continue;
        }
        *o++ = c;
        p++;
    }
    *off = b->str_len;
    *n = (size_t)(o - start);
    b->str_len += *n;
    return p;
}

/* Reads a string value after its opening quote; returns the position after
 * the closing quote, or SIZE_MAX if there is none. */
static size_t scan_string(struct parser *ps, size_t p, size_t *off,
                          size_t *n)
{
    struct pw_lp_batch *b = ps->b;
    const char *s = ps->s;
    char *start = b->str + b->str_len, *o = start;
    for (;;) {
        if (p >= ps->len)
            return SIZE_MAX;
        char c = s[p];
        if (c == '"')
            break;
        if (c == '\\' && p + 1 < ps->len && (s[p + 1] == '"' || s[p + 1] == '\\')) {
            *o++ = s[p + 1];
            p += 2;
            continue;
        }
        *o++ = c;
        p++;
    }
    *off = b->str_len;
    *n = (size_t)(o - start);
    b->str_len += *n;
    return p + 1;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Decimal digits only, at least one; -1 on bad syntax, -2 on overflow. */
static int parse_digits(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Optional '-' and digits, in int64 range; -1 on bad syntax, -2 on range. */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
    bool neg = n > 0 && s[0] == '-';
    uint64_t mag;
    int rc = parse_digits(s + neg, n - neg, &mag);
    if (rc < 0)
        return rc;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (mag > limit)
        return -2;
    if (neg)
        *out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    else
        *out = (int64_t)mag;
    return 0;
}

/* [-]digits[.digits][(e|E)[+|-]digits], at least one mantissa digit. This
 * is what we hand to strtod, so hex, inf and nan never reach it. */
static bool float_syntax(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && s[i] == '-')
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && is_digit(s[i]); i++)
            digits++;
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        for (; i < n && is_digit(s[i]); i++)
            exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    return i == n;
}

static bool token_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int parse_bool(struct parser *ps, size_t a, size_t n, bool *out)
{
    static const char *const yes[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const no[] = {"f", "F", "false", "False", "FALSE"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (token_is(ps->s + a, n, yes[i])) {
            *out = true;
            return 0;
        }
        if (token_is(ps->s + a, n, no[i])) {
            *out = false;
            return 0;
        }
    }
    return fail(ps, a, "invalid boolean (use true or false)");
}

static int parse_float(struct parser *ps, size_t a, size_t n, double *out)
{
    const char *s = ps->s + a;
    if (!float_syntax(s, n))
        return fail(ps, a, "invalid number");
    struct pw_lp_batch *b = ps->b;
    if (n == SIZE_MAX || !grow(&b->num, &b->num_cap, n + 1, 1))
        return fail_oom(ps, a);
    memcpy(b->num, s, n);
    b->num[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(b->num, &end);
    if (end != b->num + n)
        return fail(ps, a, "invalid number");
    if (!isfinite(v))
        return fail(ps, a, "float out of range");
    *out = v; /* an underflow (ERANGE, tiny or zero result) is accepted */
    return 0;
}

/* Parses the value of a field starting at *p into f; on success *p is
 * after the value. */
static int parse_value(struct parser *ps, size_t *p, struct sc_field *f)
{
    const char *s = ps->s;
    size_t a = *p;
    if (a < ps->len && s[a] == '"') {
        size_t e = scan_string(ps, a + 1, &f->v.s.off, &f->v.s.len);
        if (e == SIZE_MAX)
            return fail(ps, a, "unterminated string (no closing '\"')");
        f->type = PW_FIELD_STRING;
        *p = e;
        return 0;
    }
    size_t e = a;
    while (e < ps->len && s[e] != ',' && s[e] != ' ' && !at_eol(ps, e))
        e++;
    size_t n = e - a;
    *p = e;
    if (n == 0)
        return fail(ps, a, "field has no value");
    char first = s[a], last = s[e - 1];
    if (first == 't' || first == 'T' || first == 'f' || first == 'F') {
        f->type = PW_FIELD_BOOL;
        return parse_bool(ps, a, n, &f->v.b);
    }
    if (first != '-' && first != '.' && !is_digit(first))
        return fail(ps, a, "invalid field value (expected a number, a "
                           "boolean or a quoted string)");
    if (last == 'i') {
        f->type = PW_FIELD_INT;
        int rc = parse_int64(s + a, n - 1, &f->v.i);
        if (rc == -2)
            return fail(ps, a, "integer out of range (int64)");
        return rc < 0 ? fail(ps, a, "invalid integer") : 0;
    }
    if (last == 'u') {
        f->type = PW_FIELD_UINT;
        int rc = parse_digits(s + a, n - 1, &f->v.u);
        if (rc == -2)
            return fail(ps, a, "unsigned integer out of range (uint64)");
        return rc < 0 ? fail(ps, a, "invalid unsigned integer (digits only)") : 0;
    }
    f->type = PW_FIELD_FLOAT;
    return parse_float(ps, a, n, &f->v.f);
}

static int parse_tags(struct parser *ps, size_t *pp, struct sc_point *pt)
{
    struct pw_lp_batch *b = ps->b;
    const char *s = ps->s;
    size_t p = *pp;
    pt->tag0 = b->ntags;
    while (p < ps->len && s[p] == ',') {
        size_t k = ++p;
        struct sc_tag t;
        p = scan_name(ps, p, true, &t.koff, &t.klen);
        if (t.klen == 0)
            return fail(ps, k, "empty tag key");
        if (p >= ps->len || s[p] != '=')
            return fail(ps, p, "tag without '=' (expected key=value)");
        size_t v = ++p;
        p = scan_name(ps, p, true, &t.voff, &t.vlen);
        if (p < ps->len && s[p] == '=')
            return fail(ps, p, "unescaped '=' in tag value (write it as \\=)");
        if (t.vlen == 0)
            return fail(ps, v, "empty tag value");
        if (pt->ntags == MAX_TAGS)
            return fail(ps, k, "more than %d tags on one line", MAX_TAGS);
        if (!grow(&b->tags, &b->tags_cap, b->ntags + 1, sizeof *b->tags))
            return fail_oom(ps, k);
        b->tags[b->ntags++] = t;
        pt->ntags++;
    }
    *pp = p;
    return 0;
}

static int parse_fields(struct parser *ps, size_t *pp, struct sc_point *pt)
{
    struct pw_lp_batch *b = ps->b;
    const char *s = ps->s;
    size_t p = *pp;
    pt->field0 = b->nfields;
    for (;;) {
        size_t k = p;
        struct sc_field f;
        p = scan_name(ps, p, true, &f.koff, &f.klen);
        if (f.klen == 0)
            return fail(ps, k, "empty field key");
        if (p >= ps->len || s[p] != '=')
            return fail(ps, p, "field with no value (expected key=value)");
        p++;
        if (at_eol(ps, p) || s[p] == ',' || s[p] == ' ')
            return fail(ps, p, "field with no value (expected key=value)");
        if (parse_value(ps, &p, &f) < 0)
            return -1;
        if (pt->nfields == MAX_FIELDS)
            return fail(ps, k, "more than %d fields on one line", MAX_FIELDS);
        if (!grow(&b->fields, &b->fields_cap, b->nfields + 1, sizeof *b->fields))
            return fail_oom(ps, k);
        b->fields[b->nfields++] = f;
        pt->nfields++;
        if (p < ps->len && s[p] == ',') {
            p++;
            continue;
        }
        *pp = p;
        return 0;
    }
}

/* Parses the point that starts at p (after any leading spaces). On success
 * *content_end is where the line's terminator starts and *next is where
 * the next line starts. */
static int parse_line(struct parser *ps, size_t p, size_t *content_end,
                      size_t *next)
{
    struct pw_lp_batch *b = ps->b;
    const char *s = ps->s;
    struct sc_point pt = {0};
    size_t m = p;
    p = scan_name(ps, p, false, &pt.moff, &pt.mlen);
    if (pt.mlen == 0)
        return fail(ps, m, "empty measurement name");
    if (parse_tags(ps, &p, &pt) < 0)
        return -1;
    /* Here p is at a space, a newline or the end of the input. */
    p = skip_spaces(ps, p);
    if (at_eol(ps, p))
        return fail(ps, p, "missing fields (expected a space, then key=value)");
    if (parse_fields(ps, &p, &pt) < 0)
        return -1;
    if (!at_eol(ps, p) && s[p] != ' ')
        return fail(ps, p, "unexpected character after field value "
                           "(expected ',', ' ' or end of line)");
    p = skip_spaces(ps, p);
    pt.ts_ns = ps->default_ts_ns;
    if (!at_eol(ps, p)) {
        size_t a = p;
        while (p < ps->len && s[p] != ' ' && !at_eol(ps, p))
            p++;
        int rc = parse_int64(s + a, p - a, &pt.ts_ns);
        if (rc == -2)
            return fail(ps, a, "timestamp out of range (int64 nanoseconds)");
        if (rc < 0)
            return fail(ps, a, "invalid timestamp (expected integer nanoseconds)");
        pt.has_ts = true;
        p = skip_spaces(ps, p);
        if (!at_eol(ps, p))
            return fail(ps, p, "unexpected text after timestamp");
    }
    if (!grow(&b->points, &b->points_cap, b->npoints + 1, sizeof *b->points))
        return fail_oom(ps, m);
    b->points[b->npoints++] = pt;
    *content_end = p;
    *next = skip_eol(ps, p);
    return 0;
}

/* Copies the scratch records of this message into one arena block, turns
 * offsets into pointers and appends the points to the batch. */
static int commit(struct parser *ps)
{
    struct pw_lp_batch *b = ps->b;
    size_t np = b->npoints;
    if (np == 0)
        return 0;
    if (np > INT_MAX)
        return fail(ps, ps->len, "more than %d points in one message", INT_MAX);
    if (!grow(&b->index, &b->index_cap, b->len + np, sizeof *b->index))
        return fail_oom(ps, ps->len);
    size_t sz_points = align_up(np * sizeof(struct pw_lp_point));
    size_t sz_tags = align_up(b->ntags * sizeof(struct pw_lp_tag));
    size_t sz_fields = align_up(b->nfields * sizeof(struct pw_lp_field));
    char *mem = arena_alloc(b, sz_points + sz_tags + sz_fields + b->str_len);
    if (!mem)
        return fail_oom(ps, ps->len);
    struct pw_lp_point *points = (struct pw_lp_point *)(void *)mem;
    struct pw_lp_tag *tags = (struct pw_lp_tag *)(void *)(mem + sz_points);
    struct pw_lp_field *fields =
        (struct pw_lp_field *)(void *)(mem + sz_points + sz_tags);
    char *str = mem + sz_points + sz_tags + sz_fields;
    memcpy(str, b->str, b->str_len);

    for (size_t i = 0; i < b->ntags; i++) {
        const struct sc_tag *t = &b->tags[i];
        tags[i].key = (struct pw_str){str + t->koff, t->klen};
        tags[i].value = (struct pw_str){str + t->voff, t->vlen};
    }
    for (size_t i = 0; i < b->nfields; i++) {
        const struct sc_field *f = &b->fields[i];
        struct pw_lp_field *o = &fields[i];
        o->key = (struct pw_str){str + f->koff, f->klen};
        o->type = f->type;
        switch (f->type) {
        case PW_FIELD_FLOAT: o->v.f = f->v.f; break;
        case PW_FIELD_INT: o->v.i = f->v.i; break;
        case PW_FIELD_UINT: o->v.u = f->v.u; break;
        case PW_FIELD_BOOL: o->v.b = f->v.b; break;
        case PW_FIELD_STRING:
            o->v.s = (struct pw_str){str + f->v.s.off, f->v.s.len};
            break;
        }
    }
    for (size_t i = 0; i < np; i++) {
        const struct sc_point *sp = &b->points[i];
        points[i] = (struct pw_lp_point){
            .measurement = {str + sp->moff, sp->mlen},
            .tags = tags + sp->tag0,
            .ntags = sp->ntags,
            .fields = fields + sp->field0,
            .nfields = sp->nfields,
            .ts_ns = sp->ts_ns,
            .has_ts = sp->has_ts,
        };
        b->index[b->len + i] = &points[i];
    }
    b->len += np;
    return (int)np;
}

/* A failed line whose error lies past the length limit is reported as too
 * long, if the line really goes on there. */
static void prefer_too_long(struct parser *ps, size_t line_start)
{
    if (ps->err_pos - line_start < MAX_LINE_BYTES)
        return;
    size_t limit = line_start + MAX_LINE_BYTES;
    if (!at_eol(ps, limit))
        fail(ps, limit, "line longer than %d bytes", MAX_LINE_BYTES);
}

int pw_lp_parse(const char *buf, size_t len, int64_t default_ts_ns,
                struct pw_lp_batch *out, struct pw_err *err)
{
    if (!out || (!buf && len > 0))
        return pw_err_set(err, "pw_lp_parse: no batch or no input buffer");
    out->str_len = out->ntags = out->nfields = out->npoints = 0;
    /* Unescaped text is never longer than the message: size it once. */
    if (len == SIZE_MAX || !grow(&out->str, &out->str_cap, len + 1, 1))
        return pw_err_set(err, "out of memory parsing a %zu-byte message", len);
    struct parser ps = {
        .s = buf, .len = len, .b = out, .default_ts_ns = default_ts_ns,
    };
    size_t p = 0;
    while (p < len) {
        size_t line_start = p;
        p = skip_spaces(&ps, p);
        if (at_eol(&ps, p)) {
            p = skip_eol(&ps, p);
            continue;
        }
        if (buf[p] == '#') {
            const char *nl = memchr(buf + p, '\n', len - p);
            p = nl ? (size_t)(nl - buf) + 1 : len;
            continue;
        }
        size_t content_end = 0, next = 0;
        if (parse_line(&ps, p, &content_end, &next) < 0) {
            prefer_too_long(&ps, line_start);
            return report(&ps, err);
        }
        if (content_end - line_start > MAX_LINE_BYTES) {
            fail(&ps, line_start + MAX_LINE_BYTES, "line longer than %d bytes",
                 MAX_LINE_BYTES);
            return report(&ps, err);
        }
        p = next;
    }
    int n = commit(&ps);
    return n < 0 ? report(&ps, err) : n;
}
