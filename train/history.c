/* train/history.c — series from files (see history.h); the Kafka reader is
 * in history_kafka.c. CSV by hand: two or three columns need no library,
 * and a hand parser can say exactly which line and column is wrong. */
#include "train/history.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer/ingest.h"
#include "common/buf.h"
#include "models/nabdata.h"

#define NONE UINT32_MAX
#define FILE_MAX_BYTES ((size_t)1 << 30)
#define NO_TS INT64_MIN

int pw_history_init(struct pw_history *h, struct pw_err *err)
{
    memset(h, 0, sizeof *h);
    if (!(h->hash = pw_sha256_new()))
        return pw_err_set(err, "out of memory");
    return 0;
}

void pw_history_free(struct pw_history *h)
{
    for (size_t i = 0; i < h->n; i++) {
        struct pw_hist_series *s = &h->series[i];
        free(s->entity);
        free(s->key);
        free(s->metric);
        free(s->cls);
        free(s->ts_s);
        free(s->values);
        free(s->labels);
    }
    free(h->series);
    free(h->index);
    pw_sha256_free(h->hash);
    memset(h, 0, sizeof *h);
}

void pw_history_fingerprint(const struct pw_history *h, uint8_t out[PW_SHA256_LEN])
{
    pw_sha256_final(h->hash, out);
}

static uint64_t key_hash(const char *e, size_t el, const char *m, size_t ml)
{
    uint64_t x = 1469598103934665603ull;
    for (size_t i = 0; i < el; i++)
        x = (x ^ (uint8_t)e[i]) * 1099511628211ull;
    x = (x ^ 0xff) * 1099511628211ull;
    for (size_t i = 0; i < ml; i++)
        x = (x ^ (uint8_t)m[i]) * 1099511628211ull;
    return x;
}

static bool same(const char *a, const char *b, size_t bl)
{
    return strlen(a) == bl && memcmp(a, b, bl) == 0;
}

static int grow_index(struct pw_history *h)
{
    size_t cap = h->index_cap ? h->index_cap * 2 : 256;
    uint32_t *ix = malloc(cap * sizeof *ix);
    if (!ix)
        return -1;
    for (size_t i = 0; i < cap; i++)
        ix[i] = NONE;
    for (size_t i = 0; i < h->n; i++) {
        const struct pw_hist_series *s = &h->series[i];
        size_t slot = key_hash(s->entity, strlen(s->entity), s->key, strlen(s->key)) &
                      (cap - 1);
        while (ix[slot] != NONE)
            slot = (slot + 1) & (cap - 1);
        ix[slot] = (uint32_t)i;
    }
    free(h->index);
    h->index = ix;
    h->index_cap = cap;
    return 0;
}

static struct pw_hist_series *find_or_add(struct pw_history *h, const char *e, size_t el,
                                          const char *key, size_t kl, const char *m,
                                          size_t ml, const char *cls)
{
    if ((h->n + 1) * 10 > h->index_cap * 7 && grow_index(h) < 0)
        return NULL;
    size_t slot = key_hash(e, el, key, kl) & (h->index_cap - 1);
    for (; h->index[slot] != NONE; slot = (slot + 1) & (h->index_cap - 1)) {
        struct pw_hist_series *s = &h->series[h->index[slot]];
        if (same(s->entity, e, el) && same(s->key, key, kl))
            return s;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        struct pw_hist_series *ns = realloc(h->series, cap * sizeof *ns);
        if (!ns)
            return NULL;
        h->series = ns;
        h->cap = cap;
    }
    struct pw_hist_series *s = &h->series[h->n];
    memset(s, 0, sizeof *s);
    s->entity = strndup(e, el);
    s->key = strndup(key, kl);
    s->metric = strndup(m, ml);
    s->cls = strdup(cls ? cls : "default");
    if (!s->entity || !s->key || !s->metric || !s->cls) {
        free(s->entity);
        free(s->key);
        free(s->metric);
        free(s->cls);
        return NULL;
    }
    h->index[slot] = (uint32_t)h->n++;
    return s;
}

int pw_history_add(struct pw_history *h, const char *entity, size_t entity_len,
                   const char *metric, size_t metric_len, const char *cls, double ts_s,
                   double value, int label, struct pw_err *err)
{
    return pw_history_add_series(h, entity, entity_len, metric, metric_len, metric,
                                 metric_len, cls, ts_s, value, label, err);
}

int pw_history_add_series(struct pw_history *h, const char *entity, size_t entity_len,
                          const char *key, size_t key_len, const char *metric,
                          size_t metric_len, const char *cls, double ts_s, double value,
                          int label, struct pw_err *err)
{
    /* Names are C strings from here on: a NUL inside one would cut it. */
    if (memchr(entity, '\0', entity_len) || memchr(key, '\0', key_len) ||
        memchr(metric, '\0', metric_len) || (cls && !*cls))
        return pw_err_set(err, "a NUL byte in an entity or series name");
    struct pw_hist_series *s = find_or_add(h, entity, entity_len, key, key_len, metric,
                                           metric_len, cls);
    if (!s)
        return pw_err_set(err, "out of memory");
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        double *t = realloc(s->ts_s, cap * sizeof *t);
        if (t)
            s->ts_s = t;
        double *v = t ? realloc(s->values, cap * sizeof *v) : NULL;
        if (v)
            s->values = v;
        if (!t || !v)
            return pw_err_set(err, "out of memory");
        if (s->labels || label >= 0) {
            uint8_t *l = realloc(s->labels, cap);
            if (!l)
                return pw_err_set(err, "out of memory");
            if (!s->labels)
                memset(l, 0, s->cap);
            s->labels = l;
        }
        s->cap = cap;
    } else if (!s->labels && label >= 0) {
        if (!(s->labels = calloc(s->cap, 1)))
            return pw_err_set(err, "out of memory");
    }
    s->ts_s[s->n] = ts_s;
    s->values[s->n] = value;
    if (s->labels)
        s->labels[s->n] = label > 0;
    s->n++;
    h->rows++;
    return 0;
}

/* ---- line protocol, through the analyzer's ingest ---------------------- */

struct lp_ctx {
    struct pw_history *h;
    const char *class_tag;
    size_t class_tag_len;
    char metric[1024];
    char cls[256];
    long added;
    size_t lineno;
    int rc;
    struct pw_err *err;
};

/* The value of tag `tag` in a series key "measurement,k=v,... field"
 * (escaped as line protocol escapes names), unescaped into out. */
static bool tag_value(const struct pw_str *series, const char *tag, size_t tl, char *out,
                      size_t size)
{
    const char *p = series->ptr, *end = p + series->len;
    /* Skip the measurement. */
    while (p < end && *p != ',' && *p != ' ')
        p += (*p == '\\' && p + 1 < end) ? 2 : 1;
    while (p < end && *p == ',') {
        const char *k = ++p;
        while (p < end && *p != '=')
            p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        bool match = (size_t)(p - k) == tl && memcmp(k, tag, tl) == 0;
        if (p < end)
            p++;
        size_t o = 0;
        while (p < end && *p != ',' && *p != ' ') {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (match && o + 1 < size)
                out[o++] = *p;
            p++;
        }
        if (match) {
            out[o] = '\0';
            return o > 0;
        }
    }
    return false;
}

static void on_sample(const struct pw_sample *s, void *arg)
{
    struct lp_ctx *c = arg;
    if (c->rc < 0)
        return;
    if (s->ts_ns == NO_TS) {
        c->rc = pw_err_set(c->err, "a point without a timestamp (history needs the time "
                           "of every sample)");
        return;
    }
    int n = snprintf(c->metric, sizeof c->metric, "%.*s.%.*s", (int)s->measurement.len,
                     s->measurement.ptr, (int)s->field.len, s->field.ptr);
    if (n < 0 || (size_t)n >= sizeof c->metric) {
        c->rc = pw_err_set(c->err, "a measurement.field name longer than %zu bytes",
                           sizeof c->metric - 1);
        return;
    }
    const char *cls = NULL;
    if (c->class_tag && tag_value(&s->series, c->class_tag, c->class_tag_len, c->cls,
                                  sizeof c->cls))
        cls = c->cls;
    if (pw_history_add_series(c->h, s->entity.ptr, s->entity.len, s->series.ptr,
                              s->series.len, c->metric, (size_t)n, cls,
                              (double)s->ts_ns / 1e9, s->value, -1, c->err) < 0)
        c->rc = -1;
    else
        c->added++;
}

long pw_history_read_lineproto(struct pw_history *h, const char *source, const char *data,
                               size_t len, const char *entity_tag, const char *class_tag,
                               struct pw_err *err)
{
    struct pw_ingest *in = pw_ingest_new(PW_INGEST_LINEPROTO, entity_tag, err);
    if (!in)
        return -1;
    struct lp_ctx c = {.h = h, .class_tag = class_tag,
                       .class_tag_len = class_tag ? strlen(class_tag) : 0, .err = err};
    for (size_t pos = 0; pos < len && c.rc == 0;) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        c.lineno++;
        size_t lead = 0;
        while (lead < n && (line[lead] == ' ' || line[lead] == '\t' || line[lead] == '\r'))
            lead++;
        if (lead == n || line[lead] == '#')
            continue;
        struct pw_err e;
        /* A point without a timestamp gets NO_TS, refused in on_sample. */
        if (pw_ingest_metrics(in, NULL, 0, line, n, NO_TS, on_sample, &c, &e) < 0) {
            pw_ingest_free(in);
            return pw_err_set(err, "%s:%zu: %s", source, c.lineno,
                              strncmp(e.msg, "line 1, ", 8) == 0 ? e.msg + 8 : e.msg);
        }
    }
    pw_ingest_free(in);
    if (c.rc < 0)
        return pw_err_prefix(err, "%s:%zu", source, c.lineno);
    pw_sha256_update(h->hash, data, len);
    h->inputs++;
    return c.added;
}

/* ---- CSV ------------------------------------------------------------------ */

static int parse_epoch(const char *t, size_t len, double *ts_s)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, t, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end || errno == ERANGE || !isfinite(v) || v < 0)
        return -1;
    double a = fabs(v);
    *ts_s = a < 1e11 ? v : a < 1e14 ? v / 1e3 : a < 1e17 ? v / 1e6 : v / 1e9;
    return 0;
}

int pw_history_parse_time(const char *text, size_t len, double *ts_s)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (len >= 19 && buf[4] == '-' && (buf[10] == ' ' || buf[10] == 'T')) {
        buf[10] = ' ';
        double frac = 0;
        char *dot = strchr(buf + 19, '.');
        size_t end = len;
        if (buf[end - 1] == 'Z')
            buf[--end] = '\0';
        if (dot) {
            char *e = NULL;
            frac = strtod(dot, &e);
            if (*e)
                return -1;
            *dot = '\0';
        }
        int64_t s;
        if (pw_nab_parse_time(buf, &s) < 0)
            return -1;
        *ts_s = (double)s + frac;
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        if (!(isdigit((unsigned char)buf[i]) || buf[i] == '.' || buf[i] == 'e' ||
              buf[i] == 'E' || buf[i] == '+'))
            return -1;
    return parse_epoch(buf, len, ts_s);
}

/* Splits a CSV row into at most `max` fields (no embedded commas or
 * quotes inside quotes: these files are numbers and times). Returns the
 * field count, or -1 on an unterminated quote. */
static int split_row(const char *line, size_t n, const char *f[], size_t fl[], int max)
{
    int k = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && line[i] == ' ')
            i++;
        const char *start = line + i;
        size_t l;
        if (i < n && line[i] == '"') {
            const char *q = memchr(line + i + 1, '"', n - i - 1);
            if (!q)
                return -1;
            start = line + i + 1;
            l = (size_t)(q - start);
            i = (size_t)(q - line) + 1;
            while (i < n && line[i] == ' ')
                i++;
            if (i < n && line[i] != ',')
                return -1;
        } else {
            const char *c = memchr(line + i, ',', n - i);
            size_t stop = c ? (size_t)(c - line) : n;
            l = stop - i;
            while (l && start[l - 1] == ' ')
                l--;
            i = stop;
        }
        if (k < max) {
            f[k] = start;
            fl[k] = l;
        }
        k++;
        if (i >= n)
            return k;
        i++;   /* the comma */
    }
}

static int parse_value(const char *t, size_t len, double *v, bool *finite)
{
    char buf[128];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, t, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    *v = strtod(buf, &end);
    if (end == buf || *end)
        return -1;
    *finite = isfinite(*v) && errno != ERANGE;
    return 0;
}

long pw_history_read_csv(struct pw_history *h, const char *source, const char *data,
                         size_t len, const char *entity, const char *metric,
                         struct pw_err *err)
{
    size_t lineno = 0, rows = 0, nonempty = 0;
    int columns = 0;
    size_t el = strlen(entity), ml = strlen(metric);
    for (size_t pos = 0; pos < len;) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        pos += n + (nl != NULL);
        lineno++;
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
            n--;
        if (n == 0)
            continue;
        nonempty++;
        if (memchr(line, '\0', n))
            return pw_err_set(err, "%s:%zu: a NUL byte: not a text CSV file", source, lineno);
        const char *f[3];
        size_t fl[3];
        int k = split_row(line, n, f, fl, 3);
        if (k < 0)
            return pw_err_set(err, "%s:%zu: an unterminated quote", source, lineno);
        if (k < 2 || k > 3)
            return pw_err_set(err, "%s:%zu: %d column%s; expected timestamp,value[,label]",
                              source, lineno, k, k == 1 ? "" : "s");
        if (columns && k != columns)
            return pw_err_set(err, "%s:%zu: %d columns where the rows before have %d",
                              source, lineno, k, columns);
        columns = k;
        double ts, v;
        bool finite;
        if (parse_value(f[1], fl[1], &v, &finite) < 0) {
            if (nonempty == 1 && pw_history_parse_time(f[0], fl[0], &ts) < 0)
                continue;   /* the header */
            return pw_err_set(err, "%s:%zu: value \"%.*s\" is not a number", source, lineno,
                              (int)(fl[1] > 40 ? 40 : fl[1]), f[1]);
        }
        if (!finite)
            return pw_err_set(err, "%s:%zu: value \"%.*s\" is not finite", source, lineno,
                              (int)(fl[1] > 40 ? 40 : fl[1]), f[1]);
        if (pw_history_parse_time(f[0], fl[0], &ts) < 0)
            return pw_err_set(err, "%s:%zu: timestamp \"%.*s\": expected \"YYYY-MM-DD "
                              "HH:MM:SS\", ISO 8601 or a number since the epoch", source,
                              lineno, (int)(fl[0] > 40 ? 40 : fl[0]), f[0]);
        int label = -1;
        if (k == 3) {
            if (fl[2] == 1 && (f[2][0] == '0' || f[2][0] == '1'))
                label = f[2][0] - '0';
            else
                return pw_err_set(err, "%s:%zu: label \"%.*s\": expected 0 or 1", source,
                                  lineno, (int)(fl[2] > 40 ? 40 : fl[2]), f[2]);
        }
        if (pw_history_add(h, entity, el, metric, ml, NULL, ts, v, label, err) < 0)
            return -1;
        rows++;
    }
    if (rows == 0)
        return pw_err_set(err, "%s: no rows of data", source);
    pw_sha256_update(h->hash, data, len);
    h->inputs++;
    return (long)rows;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

long pw_history_read_file(struct pw_history *h, const char *path, const char *metric,
                          const char *entity_tag, const char *class_tag, struct pw_err *err)
{
    struct pw_buf b;
    pw_buf_init(&b);
    if (pw_buf_read_file(&b, path, FILE_MAX_BYTES, err) < 0)
        return -1;
    long rc;
    if (ends_with(path, ".csv")) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        char entity[512];
        snprintf(entity, sizeof entity, "%.*s", (int)(strlen(base) - 4), base);
        rc = pw_history_read_csv(h, path, b.data ? b.data : "", b.len, entity, metric, err);
    } else {
        rc = pw_history_read_lineproto(h, path, b.data ? b.data : "", b.len, entity_tag,
                                       class_tag, err);
        if (rc == 0)
            rc = pw_err_set(err, "%s: no samples (an empty file, or only comments)", path);
    }
    pw_buf_release(&b);
    return rc;
}

long pw_history_read_nab(struct pw_history *h, const char *dir, const char *metric,
                         struct pw_err *err)
{
    struct pw_nab_corpus c;
    if (pw_nab_load(dir, NULL, &c, err) < 0)
        return -1;
    long added = 0;
    size_t ml = strlen(metric);
    if (c.n == 0) {
        pw_nab_corpus_free(&c);
        return pw_err_set(err, "%s: no data/<group>/<file>.csv files", dir);
    }
    for (size_t f = 0; f < c.n; f++) {
        const struct pw_nab_series *s = &c.series[f];
        size_t w = 0;
        for (size_t i = 0; i < s->n; i++) {
            int label = -1;
            if (c.labelled) {
                while (w < s->nwindows && s->windows[w][1] < s->ts[i])
                    w++;
                label = w < s->nwindows && s->ts[i] >= s->windows[w][0];
            }
            if (pw_history_add(h, s->name, strlen(s->name), metric, ml, NULL,
                               (double)s->ts[i], s->values[i], label, err) < 0) {
                pw_nab_corpus_free(&c);
                return -1;
            }
            added++;
        }
        /* The fingerprint covers what was read, as numbers and labels. */
        pw_sha256_update(h->hash, s->name, strlen(s->name) + 1);
        pw_sha256_update(h->hash, s->ts, s->n * sizeof *s->ts);
        pw_sha256_update(h->hash, s->values, s->n * sizeof *s->values);
        pw_sha256_update(h->hash, s->windows, s->nwindows * sizeof *s->windows);
        h->inputs++;
    }
    pw_nab_corpus_free(&c);
    return added;
}

int pw_history_parse_duration(const char *text, double *seconds)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !(v > 0))
        return -1;
    double unit;
    if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1;
    else if (strcmp(end, "m") == 0)
        unit = 60;
    else if (strcmp(end, "h") == 0)
        unit = 3600;
    else if (strcmp(end, "d") == 0)
        unit = 86400;
    else if (strcmp(end, "w") == 0)
        unit = 7 * 86400;
    else
        return -1;
    *seconds = v * unit;
    return isfinite(*seconds) ? 0 : -1;
}
