/* collectors/statsd.c — StatsD / DogStatsD over UDP, aggregated per interval.
 *
 * Why it is built this way: StatsD senders fire and forget, so whatever we
 * do not read in time the kernel drops silently. The socket therefore gets a
 * large receive buffer, and one thread does nothing but read datagrams in
 * batches (recvmmsg) and fold them into a hash table; the agent's collect()
 * only swaps that table for an empty one under a mutex and writes the full
 * one afterwards, so the reader never waits for encoding. Parsing works on
 * slices of the datagram and aggregation on flat arrays: no allocation per
 * line, only when a key first appears in an interval (its key bytes go into
 * an arena) or a timer's sample array grows.
 *
 * Keys are the line's type, name and DogStatsD tags in sorted order, so the
 * same series sent with its tags in another order is one key. Templates map
 * names to measurement, field and tags only when the interval is written,
 * once per key, not per line. Gauges live in their own table owned by the
 * writer, which is what lets them outlive the interval while everything the
 * reader touches is thrown away at each swap. See statsd.h for the format. */
#include "collectors/statsd.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"

/* ---- configuration ----------------------------------------------------- */

struct statsd_config {
    struct pw_collector_common common;
    char *listen;
    char *tcp_listen;
    int64_t read_buffer_bytes;
    int64_t max_packet_bytes;
    struct pw_str_list percentiles;
    int64_t percentile_limit;
    int64_t max_keys;
    bool delete_gauges;
    char *metric_separator;
    struct pw_str_list templates;
};

static const struct pw_option statsd_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct statsd_config, "false", "10s"),
    {"listen", PW_OPT_STRING, offsetof(struct statsd_config, listen),
     "127.0.0.1:8125", false, 0, 0, NULL,
     "UDP address and port to receive StatsD lines on (HOST:PORT, [IPv6]:PORT, "
     ":PORT for every address; port 0 picks a free one)."},
    {"tcp_listen", PW_OPT_STRING, offsetof(struct statsd_config, tcp_listen), NULL,
     false, 0, 0, NULL,
     "Also accept StatsD lines over TCP here (HOST:PORT, newline-terminated "
     "lines, at most 64 connections); unset or empty for UDP only."},
    {"read_buffer", PW_OPT_SIZE, offsetof(struct statsd_config, read_buffer_bytes),
     "8MiB", false, 64 * 1024, 1024.0 * 1024 * 1024, NULL,
     "Socket receive buffer (SO_RCVBUF; beyond net.core.rmem_max only with "
     "CAP_NET_ADMIN): what absorbs bursts while the reader is busy."},
    {"max_packet_size", PW_OPT_SIZE, offsetof(struct statsd_config, max_packet_bytes),
     "8KiB", false, 512, 65535, NULL,
     "Longest datagram read whole; a longer one loses its last, cut line "
     "(counted as truncated). Over TCP, the longest line."},
    {"percentiles", PW_OPT_STRING_LIST, offsetof(struct statsd_config, percentiles),
     "[50, 90, 99]", false, 0, 0, NULL,
     "Percentiles reported for timings, histograms and distributions, in "
     "(0, 100]; field p50, p99_9 for 99.9."},
    {"percentile_limit", PW_OPT_INT, offsetof(struct statsd_config, percentile_limit),
     "1000", false, 1, 1000000, NULL,
     "Samples kept per timing key and interval for percentiles (a uniform "
     "reservoir beyond it); count, sum, mean, stddev, lower and upper are exact."},
    {"max_keys", PW_OPT_INT, offsetof(struct statsd_config, max_keys), "100000",
     false, 1, 100000000, NULL,
     "Distinct keys (name, type, tags) per interval, and gauges kept; metrics "
     "of further keys are dropped and counted as overflow. Memory is about "
     "150 bytes a key, plus 8 bytes a kept timing sample, twice over."},
    {"delete_gauges", PW_OPT_BOOL, offsetof(struct statsd_config, delete_gauges),
     "false", false, 0, 0, NULL,
     "Forget gauges after each interval (as Telegraf's delete_gauges) instead "
     "of re-sending their last value."},
    {"metric_separator", PW_OPT_STRING,
     offsetof(struct statsd_config, metric_separator), "_", false, 0, 0, NULL,
     "Joins the name parts that templates put into one measurement, field or tag."},
    {"templates", PW_OPT_STRING_LIST, offsetof(struct statsd_config, templates),
     NULL, false, 0, 0, NULL,
     "Graphite-style templates, \"FILTER TEMPLATE\" or \"TEMPLATE\", e.g. "
     "\"airflow.ti.finish.* measurement.measurement.measurement.dag_id.task_id.state\"; "
     "parts: measurement, measurement*, field, field*, or a tag name. "
     "Unmatched names are the measurement as they are."},
    {0},
};

/* ---- parsing ----------------------------------------------------------- */

const char *pw_statsd_type_name(enum pw_statsd_type t)
{
    static const char *const names[] = {"counter", "gauge", "timing",
                                        "histogram", "distribution", "set"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static bool has_control(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return true;
    return false;
}

/* A decimal number as StatsD senders write it. Plain decimals with at most
 * 19 digits are converted here, correctly rounded (an exact integer mantissa
 * divided by an exact power of ten); anything else goes through strtod. */
static int parse_number(const char *p, size_t n, double *out)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,
                                   1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
                                   1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20};
    if (n == 0 || n > 64)
        return -1;
    size_t i = 0;
    bool neg = false;
    if (p[0] == '+' || p[0] == '-') {
        neg = p[0] == '-';
        i = 1;
    }
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    bool dot = false;
    for (; i < n; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            if (digits == 19)
                goto slow;
            mant = mant * 10 + (uint64_t)(c - '0');
            digits++;
            frac += dot;
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            goto slow;
        }
    }
    if (digits == 0 || mant > (1ULL << 53))
        goto slow;
    double v = (double)mant / pow10[frac];
    *out = neg ? -v : v;
    return 0;
slow:
    for (size_t k = 0; k < n; k++)   /* no hex, inf, nan or spaces */
        if (!strchr("0123456789.eE+-", p[k]))
            return -1;
    char tmp[65];
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int parse_type(const char *p, size_t n, enum pw_statsd_type *t)
{
    if (n == 1) {
        switch (p[0]) {
        case 'c': *t = PW_STATSD_COUNTER; return 0;
        case 'g': *t = PW_STATSD_GAUGE; return 0;
        case 'h': *t = PW_STATSD_HISTOGRAM; return 0;
        case 'd': *t = PW_STATSD_DISTRIBUTION; return 0;
        case 's': *t = PW_STATSD_SET; return 0;
        }
    } else if (n == 2 && p[0] == 'm' && p[1] == 's') {
        *t = PW_STATSD_TIMING;
        return 0;
    }
    return -1;
}

int pw_statsd_parse_line(const char *s, size_t len, struct pw_statsd_line *o,
                         struct pw_err *err)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    const char *end = s + len;
    const char *colon = memchr(s, ':', len);
    if (!colon)
        return pw_err_set(err, "no ':' after the name");
    if (colon == s)
        return pw_err_set(err, "empty name");
    const char *bar = memchr(colon + 1, '|', (size_t)(end - colon - 1));
    if (!bar)
        return pw_err_set(err, "no '|' after the value");
    const char *tp = bar + 1;
    const char *tend = memchr(tp, '|', (size_t)(end - tp));
    if (!tend)
        tend = end;
    memset(o, 0, sizeof *o);
    o->name = (struct pw_str){s, (size_t)(colon - s)};
    o->sample_rate = 1;
    if (has_control(s, (size_t)(colon - s)))
        return pw_err_set(err, "control character in the name");
    if (parse_type(tp, (size_t)(tend - tp), &o->type) < 0)
        return pw_err_set(err, "unknown type '%.*s'", (int)(tend - tp > 8 ? 8 : tend - tp), tp);
    const char *vp = colon + 1;
    size_t vlen = (size_t)(bar - vp);
    if (o->type == PW_STATSD_SET) {
        if (vlen == 0 || has_control(vp, vlen))
            return pw_err_set(err, "empty set member or control character in it");
        o->member = (struct pw_str){vp, vlen};
    } else {
        if (parse_number(vp, vlen, &o->value) < 0)
            return pw_err_set(err, "value '%.*s' is not a finite number",
                              (int)(vlen > 32 ? 32 : vlen), vp);
        o->delta = o->type == PW_STATSD_GAUGE && (vp[0] == '+' || vp[0] == '-');
    }
    /* Sections: |@rate, |#tags, and DogStatsD's |c:container and |T ts. */
    for (const char *p = tend; p < end;) {
        p++;   /* the '|' */
        const char *q = memchr(p, '|', (size_t)(end - p));
        if (!q)
            q = end;
        size_t n = (size_t)(q - p);
        if (n == 0)
            return pw_err_set(err, "empty section");
        if (p[0] == '@') {
            double r;
            if (parse_number(p + 1, n - 1, &r) < 0 || !(r > 0 && r <= 1))
                return pw_err_set(err, "sample rate '%.*s' is not in (0, 1]",
                                  (int)(n > 16 ? 16 : n), p);
            o->sample_rate = r;
        } else if (p[0] == '#') {
            o->tags = (struct pw_str){p + 1, n - 1};
        } else if (!(p[0] == 'T' || (p[0] == 'c' && n > 1 && p[1] == ':'))) {
            return pw_err_set(err, "unknown section '%.*s'", (int)(n > 16 ? 16 : n), p);
        }
        p = q;
    }
    return 0;
}

/* ---- tables ------------------------------------------------------------ */

static uint64_t hash_bytes(const char *p, size_t n)
{
    const uint64_t m1 = 0xff51afd7ed558ccdULL, m2 = 0xc4ceb9fe1a85ec53ULL;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (n * m2);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h ^= k * m1;
        h = ((h << 29) | (h >> 35)) * m2;
        p += 8;
        n -= 8;
    }
    uint64_t k = 0;
    memcpy(&k, p, n);
    h ^= k * m1;
    h ^= h >> 33;
    h *= m1;
    h ^= h >> 33;
    h *= m2;
    h ^= h >> 33;
    return h ? h : 1;   /* 0 marks an empty set slot */
}

/* Aggregated state of one key in one interval. For timings, `mean` and `m2`
 * are West's weighted running mean and sum of squared deviations. */
struct entry {
    uint64_t hash;
    uint32_t key_off, key_len;
    uint8_t type;
    bool has_abs;        /* gauge: an absolute value arrived this interval */
    double value;        /* counter sum, gauge value */
    double count, mean, m2, min, max;
    uint64_t seen;       /* samples offered to the reservoir */
    double *samples;
    uint32_t nsamples, samples_cap;
    uint64_t *set;       /* open addressing over member hashes */
    uint32_t set_len, set_cap;
};

struct table {
    struct entry *e;
    size_t n, cap;
    uint32_t *index;     /* entry number + 1, 0 = empty */
    size_t index_cap;    /* a power of two, at least twice n */
    char *arena;
    size_t arena_len, arena_cap;
    uint64_t packets, lines, malformed, overflow;
    uint64_t rng;
};

static int table_init(struct table *t)
{
    memset(t, 0, sizeof *t);
    t->index_cap = 1024;
    t->index = calloc(t->index_cap, sizeof *t->index);
    t->rng = 0x853c49e6748fea9bULL;
    return t->index ? 0 : -1;
}

static void table_reset(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].samples);
        free(t->e[i].set);
    }
    t->n = 0;
    t->arena_len = 0;
    memset(t->index, 0, t->index_cap * sizeof *t->index);
    t->packets = t->lines = t->malformed = t->overflow = 0;
}

static void table_release(struct table *t)
{
    table_reset(t);
    free(t->e);
    free(t->index);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

static bool table_grow_index(struct table *t)
{
    size_t cap = t->index_cap * 2;
    uint32_t *ix = calloc(cap, sizeof *ix);
    if (!ix)
        return false;
    for (size_t i = 0; i < t->n; i++) {
        size_t s = t->e[i].hash & (cap - 1);
        while (ix[s])
            s = (s + 1) & (cap - 1);
        ix[s] = (uint32_t)i + 1;
    }
    free(t->index);
    t->index = ix;
    t->index_cap = cap;
    return true;
}

/* The entry of key, added (zeroed) when new and the table holds fewer than
 * max_keys; NULL when full or out of memory. */
static struct entry *table_get(struct table *t, const char *key, size_t len,
                               uint64_t h, size_t max_keys, bool *added)
{
    size_t mask = t->index_cap - 1, s = h & mask;
    *added = false;
    for (uint32_t ix; (ix = t->index[s]) != 0; s = (s + 1) & mask) {
        struct entry *e = &t->e[ix - 1];
        if (e->hash == h && e->key_len == len &&
            memcmp(t->arena + e->key_off, key, len) == 0)
            return e;
    }
    if (t->n >= max_keys)
        return NULL;
    if ((t->n + 1) * 2 > t->index_cap) {
        if (!table_grow_index(t))
            return NULL;
        mask = t->index_cap - 1;
        for (s = h & mask; t->index[s]; s = (s + 1) & mask)
            ;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        struct entry *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return NULL;
        t->e = e;
        t->cap = cap;
    }
    if (t->arena_len + len > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 16384;
        while (cap < t->arena_len + len)
            cap *= 2;
        char *a = realloc(t->arena, cap);
        if (!a)
            return NULL;
        t->arena = a;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, key, len);
    struct entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->key_off = (uint32_t)t->arena_len;
    e->key_len = (uint32_t)len;
    e->type = (uint8_t)(key[0] - '0');
    t->arena_len += len;
    t->index[s] = (uint32_t)++t->n;
    *added = true;
    return e;
}

static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s;   /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static void add_sample(struct table *t, struct entry *e, double v, double w,
                       size_t limit)
{
    if (e->count == 0) {
        e->min = e->max = v;
    } else {
        if (v < e->min)
            e->min = v;
        if (v > e->max)
            e->max = v;
    }
    double count = e->count + w, d = v - e->mean;
    e->mean += d * w / count;
    e->m2 += w * d * (v - e->mean);
    e->count = count;
    e->seen++;
    if (e->nsamples < limit) {
        if (e->nsamples == e->samples_cap) {
            uint32_t cap = e->samples_cap ? e->samples_cap * 2 : 16;
            if (cap > limit)
                cap = (uint32_t)limit;
            double *s = realloc(e->samples, cap * sizeof *s);
            if (!s)
                return;
            e->samples = s;
            e->samples_cap = cap;
        }
        e->samples[e->nsamples++] = v;
    } else {
        uint64_t j = next_random(&t->rng) % e->seen;
        if (j < limit)
            e->samples[j] = v;
    }
}

#define SET_MAX_MEMBERS (1u << 22)

/* Returns false when the set is full (or out of memory). */
static bool set_add(struct entry *e, uint64_t h)
{
    if ((e->set_len + 1) * 2 > e->set_cap) {
        if (e->set_cap >= SET_MAX_MEMBERS * 2)
            return false;
        uint32_t cap = e->set_cap ? e->set_cap * 2 : 16;
        uint64_t *s = calloc(cap, sizeof *s);
        if (!s)
            return false;
        for (uint32_t i = 0; i < e->set_cap; i++) {
            if (!e->set[i])
                continue;
            uint32_t k = (uint32_t)e->set[i] & (cap - 1);
            while (s[k])
                k = (k + 1) & (cap - 1);
            s[k] = e->set[i];
        }
        free(e->set);
        e->set = s;
        e->set_cap = cap;
    }
    uint32_t k = (uint32_t)h & (e->set_cap - 1);
    for (; e->set[k]; k = (k + 1) & (e->set_cap - 1))
        if (e->set[k] == h)
            return true;
    e->set[k] = h;
    e->set_len++;
    return true;
}

/* ---- templates --------------------------------------------------------- */

enum part_kind { PART_SKIP, PART_MEASUREMENT, PART_FIELD, PART_TAG };

struct tmpl_part {
    enum part_kind kind;
    bool rest;           /* measurement* or field* */
    const char *tag;
};

struct tmpl {
    char *text;          /* owns every string below, split in place */
    const char **filter;
    size_t nfilter;
    struct tmpl_part *parts;
    size_t nparts;
};

static size_t split_dots(char *s, const char **out, size_t max)
{
    size_t n = 0;
    for (char *p = s;; p++) {
        if (n < max && (p == s || p[-1] == '\0'))
            out[n++] = p;
        if (*p == '\0')
            break;
        if (*p == '.')
            *p = '\0';
    }
    return n;
}

#define MAX_PARTS 128

static int tmpl_parse(struct tmpl *t, const char *src, struct pw_err *err)
{
    memset(t, 0, sizeof *t);
    t->text = strdup(src);
    if (!t->text)
        return pw_err_set(err, "out of memory");
    char *words[3];
    size_t nw = 0;
    for (char *save = NULL, *w = strtok_r(t->text, " \t", &save); w;
         w = strtok_r(NULL, " \t", &save)) {
        if (nw == 2)
            return pw_err_set(err, "template \"%s\": expected \"FILTER TEMPLATE\" or "
                              "\"TEMPLATE\" (default tags are not supported)", src);
        words[nw++] = w;
    }
    if (nw == 0)
        return pw_err_set(err, "empty template");
    const char *parts[MAX_PARTS];
    t->filter = calloc(MAX_PARTS, sizeof *t->filter);
    t->parts = calloc(MAX_PARTS, sizeof *t->parts);
    if (!t->filter || !t->parts)
        return pw_err_set(err, "out of memory");
    if (nw == 2) {
        t->nfilter = split_dots(words[0], t->filter, MAX_PARTS);
        for (size_t i = 0; i < t->nfilter; i++)
            if (!t->filter[i][0])
                return pw_err_set(err, "template \"%s\": empty part in the filter", src);
    }
    t->nparts = split_dots(words[nw - 1], parts, MAX_PARTS);
    for (size_t i = 0; i < t->nparts; i++) {
        struct tmpl_part *p = &t->parts[i];
        const char *s = parts[i];
        if (!*s) {
            p->kind = PART_SKIP;
        } else if (strcmp(s, "measurement") == 0 || strcmp(s, "measurement*") == 0) {
            p->kind = PART_MEASUREMENT;
            p->rest = s[11] == '*';
        } else if (strcmp(s, "field") == 0 || strcmp(s, "field*") == 0) {
            p->kind = PART_FIELD;
            p->rest = s[5] == '*';
        } else if (strchr(s, '*')) {
            return pw_err_set(err, "template \"%s\": '*' only in measurement* or field*", src);
        } else {
            p->kind = PART_TAG;
            p->tag = s;
        }
        if (p->rest && i + 1 != t->nparts)
            return pw_err_set(err, "template \"%s\": %s must be the last part", src, s);
    }
    return 0;
}

static void tmpl_release(struct tmpl *t)
{
    free(t->text);
    free(t->filter);
    free(t->parts);
}

/* ---- aggregation ------------------------------------------------------- */

struct pw_statsd_agg {
    struct table tables[2];
    struct table *active, *spare;
    struct table gauges;          /* kept across intervals; writer only */
    double percentiles[PW_STATSD_MAX_PERCENTILES];
    char pnames[PW_STATSD_MAX_PERCENTILES][24];
    size_t npercentiles;
    size_t percentile_limit, max_keys;
    bool delete_gauges;
    char *separator;
    struct tmpl *templates;
    size_t ntemplates;
    struct pw_statsd_counts total;
    /* writer scratch */
    struct pw_buf sc, field, name, meas, fld, fld_tmp;
    struct out_tag { size_t k, v; } *tags;
    size_t tags_cap;
};

struct pw_statsd_agg *pw_statsd_agg_new(const struct pw_statsd_agg_config *cf,
                                        struct pw_err *err)
{
    struct pw_statsd_agg *a = calloc(1, sizeof *a);
    if (!a) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    pw_buf_init(&a->sc);
    pw_buf_init(&a->field);
    pw_buf_init(&a->name);
    pw_buf_init(&a->meas);
    pw_buf_init(&a->fld);
    pw_buf_init(&a->fld_tmp);
    if (table_init(&a->tables[0]) < 0 || table_init(&a->tables[1]) < 0 ||
        table_init(&a->gauges) < 0) {
        pw_err_set(err, "out of memory");
        goto fail;
    }
    a->active = &a->tables[0];
    a->spare = &a->tables[1];
    if (cf->npercentiles > PW_STATSD_MAX_PERCENTILES) {
        pw_err_set(err, "at most %d percentiles", PW_STATSD_MAX_PERCENTILES);
        goto fail;
    }
    for (size_t i = 0; i < cf->npercentiles; i++) {
        double p = cf->percentiles[i];
        if (!(p > 0 && p <= 100)) {
            pw_err_set(err, "percentile %g is not in (0, 100]", p);
            goto fail;
        }
        a->percentiles[i] = p;
        snprintf(a->pnames[i], sizeof a->pnames[i], "p%g", p);
        for (char *c = a->pnames[i]; *c; c++)
            if (*c == '.')
                *c = '_';
    }
    a->npercentiles = cf->npercentiles;
    a->percentile_limit = cf->percentile_limit ? cf->percentile_limit : 1000;
    a->max_keys = cf->max_keys ? cf->max_keys : 100000;
    if (a->max_keys > UINT32_MAX / 2)
        a->max_keys = UINT32_MAX / 2;
    a->delete_gauges = cf->delete_gauges;
    a->separator = strdup(cf->separator ? cf->separator : "_");
    a->templates = calloc(cf->ntemplates + 1, sizeof *a->templates);
    if (!a->separator || !a->templates) {
        pw_err_set(err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cf->ntemplates; i++) {
        a->ntemplates = i + 1;
        if (tmpl_parse(&a->templates[i], cf->templates[i], err) < 0)
            goto fail;
    }
    return a;
fail:
    pw_statsd_agg_free(a);
    return NULL;
}

void pw_statsd_agg_free(struct pw_statsd_agg *a)
{
    if (!a)
        return;
    table_release(&a->tables[0]);
    table_release(&a->tables[1]);
    table_release(&a->gauges);
    for (size_t i = 0; i < a->ntemplates; i++)
        tmpl_release(&a->templates[i]);
    free(a->templates);
    free(a->separator);
    free(a->tags);
    pw_buf_release(&a->sc);
    pw_buf_release(&a->field);
    pw_buf_release(&a->name);
    pw_buf_release(&a->meas);
    pw_buf_release(&a->fld);
    pw_buf_release(&a->fld_tmp);
    free(a);
}

struct tag_slice {
    const char *k, *v;
    size_t klen, vlen;
};

static int tag_cmp(const struct tag_slice *x, const struct tag_slice *y)
{
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->k, y->k, n);
    if (c || x->klen != y->klen)
        return c ? c : (x->klen < y->klen ? -1 : 1);
    n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = memcmp(x->v, y->v, n);
    return c ? c : (x->vlen < y->vlen ? -1 : x->vlen > y->vlen);
}

/* Builds the key: type digit, name, and when there are tags, 0x1f and the
 * tags sorted as "k:v,k:v". Returns its length, or 0 when malformed/long. */
static size_t build_key(const struct pw_statsd_line *l, char *key)
{
    size_t n = 0;
    if (1 + l->name.len > PW_STATSD_MAX_KEY)
        return 0;
    key[n++] = (char)('0' + l->type);
    memcpy(key + n, l->name.ptr, l->name.len);
    n += l->name.len;
    if (l->tags.len == 0)
        return n;
    struct tag_slice tags[PW_STATSD_MAX_TAGS];
    size_t nt = 0;
    bool sorted = true;
    const char *p = l->tags.ptr, *end = p + l->tags.len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        if (!c)
            c = end;
        if (c > p) {
            if (nt == PW_STATSD_MAX_TAGS)
                return 0;
            struct tag_slice *t = &tags[nt];
            const char *colon = memchr(p, ':', (size_t)(c - p));
            t->k = p;
            t->klen = colon ? (size_t)(colon - p) : (size_t)(c - p);
            t->v = colon ? colon + 1 : "true";
            t->vlen = colon ? (size_t)(c - colon - 1) : 4;
            if (t->klen == 0 || has_control(p, (size_t)(c - p)))
                return 0;
            if (nt > 0 && sorted && tag_cmp(&tags[nt - 1], t) > 0)
                sorted = false;
            nt++;
        }
        p = c + 1;
    }
    if (!sorted)   /* insertion sort: tag lists are short */
        for (size_t i = 1; i < nt; i++) {
            struct tag_slice t = tags[i];
            size_t j = i;
            for (; j > 0 && tag_cmp(&tags[j - 1], &t) > 0; j--)
                tags[j] = tags[j - 1];
            tags[j] = t;
        }
    if (nt == 0)
        return n;
    key[n++] = 0x1f;
    for (size_t i = 0; i < nt; i++) {
        if (n + tags[i].klen + tags[i].vlen + 2 > PW_STATSD_MAX_KEY)
            return 0;
        if (i)
            key[n++] = ',';
        memcpy(key + n, tags[i].k, tags[i].klen);
        n += tags[i].klen;
        key[n++] = ':';
        memcpy(key + n, tags[i].v, tags[i].vlen);
        n += tags[i].vlen;
    }
    return n;
}

static void feed_line(struct pw_statsd_agg *a, struct table *t, const char *s,
                      size_t len)
{
    struct pw_statsd_line l;
    char key[PW_STATSD_MAX_KEY];
    t->lines++;
    size_t klen;
    if (pw_statsd_parse_line(s, len, &l, NULL) < 0 || (klen = build_key(&l, key)) == 0) {
        t->malformed++;
        return;
    }
    bool added;
    struct entry *e = table_get(t, key, klen, hash_bytes(key, klen), a->max_keys, &added);
    if (!e) {
        t->overflow++;
        return;
    }
    switch (l.type) {
    case PW_STATSD_COUNTER:
        e->value += l.value / l.sample_rate;
        break;
    case PW_STATSD_GAUGE:
        if (l.delta) {
            e->value += l.value;
        } else {
            e->value = l.value;
            e->has_abs = true;
        }
        break;
    case PW_STATSD_SET:
        if (!set_add(e, hash_bytes(l.member.ptr, l.member.len)))
            t->overflow++;
        break;
    default:
        add_sample(t, e, l.value, 1.0 / l.sample_rate, a->percentile_limit);
        break;
    }
}

void pw_statsd_agg_feed(struct pw_statsd_agg *a, const char *buf, size_t len)
{
    struct table *t = a->active;
    t->packets++;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p && !(le - p == 1 && *p == '\r'))
            feed_line(a, t, p, (size_t)(le - p));
        p = le + 1;
    }
}

void pw_statsd_agg_swap(struct pw_statsd_agg *a)
{
    struct table *t = a->active;
    a->active = a->spare;
    a->spare = t;
}

/* -- writing -- */

static size_t sc_put(struct pw_buf *b, const char *s, size_t n)
{
    size_t off = b->len;
    pw_buf_append(b, s, n);
    pw_buf_putc(b, '\0');
    return off;
}

static void add_out_tag(struct pw_statsd_agg *a, size_t *nt, size_t k, size_t v)
{
    if (*nt == a->tags_cap) {
        size_t cap = a->tags_cap ? a->tags_cap * 2 : 32;
        struct out_tag *t = realloc(a->tags, cap * sizeof *t);
        if (!t)
            return;
        a->tags = t;
        a->tags_cap = cap;
    }
    a->tags[(*nt)++] = (struct out_tag){k, v};
}

static bool filter_matches(const struct tmpl *t, const char *const *parts, size_t n)
{
    if (t->nfilter > n)
        return false;
    for (size_t i = 0; i < t->nfilter; i++)
        if (fnmatch(t->filter[i], parts[i], 0) != 0)
            return false;
    return true;
}

/* Maps name to a measurement, a field (offset or SIZE_MAX) and tags, all in
 * a->sc. Returns the measurement's offset. */
static size_t map_name(struct pw_statsd_agg *a, const char *name, size_t len,
                       size_t *field, size_t *nt)
{
    *field = SIZE_MAX;
    const struct tmpl *best = NULL;
    const char *parts[MAX_PARTS];
    size_t np = 0;
    if (a->ntemplates > 0) {
        /* split a copy outside a->sc, which moves as it grows */
        pw_buf_reset(&a->name);
        pw_buf_append(&a->name, name, len);
        if (a->name.oom)
            return sc_put(&a->sc, name, len);
        np = split_dots(a->name.data, parts, MAX_PARTS);
        for (size_t i = 0; i < a->ntemplates; i++) {
            const struct tmpl *t = &a->templates[i];
            if (filter_matches(t, parts, np) && (!best || t->nfilter > best->nfilter))
                best = t;
        }
    }
    if (!best)
        return sc_put(&a->sc, name, len);
    const char *sep = a->separator;
    pw_buf_reset(&a->meas);
    pw_buf_reset(&a->fld);
    for (size_t i = 0; i < best->nparts && i < np; i++) {
        const struct tmpl_part *tp = &best->parts[i];
        size_t last = tp->rest ? np : i + 1;
        struct pw_buf *dst = tp->kind == PART_MEASUREMENT ? &a->meas
                             : tp->kind == PART_FIELD     ? &a->fld
                                                          : NULL;
        for (size_t j = i; dst && j < last; j++) {
            if (dst->len)
                pw_buf_puts(dst, sep);
            pw_buf_puts(dst, parts[j]);
        }
        if (tp->kind != PART_TAG)
            continue;
        size_t k;   /* a repeated tag name joins its parts */
        for (k = 0; k < *nt; k++)
            if (strcmp(a->sc.data + a->tags[k].k, tp->tag) == 0)
                break;
        if (k < *nt) {
            pw_buf_reset(&a->fld_tmp);
            pw_buf_puts(&a->fld_tmp, a->sc.data + a->tags[k].v);
            pw_buf_puts(&a->fld_tmp, sep);
            pw_buf_puts(&a->fld_tmp, parts[i]);
            a->tags[k].v = sc_put(&a->sc, a->fld_tmp.data, a->fld_tmp.len);
        } else {
            size_t ko = sc_put(&a->sc, tp->tag, strlen(tp->tag));
            size_t vo = sc_put(&a->sc, parts[i], strlen(parts[i]));
            add_out_tag(a, nt, ko, vo);
        }
    }
    size_t m = a->meas.len ? sc_put(&a->sc, a->meas.data, a->meas.len)
                           : sc_put(&a->sc, name, len);
    if (a->fld.len)
        *field = sc_put(&a->sc, a->fld.data, a->fld.len);
    return m;
}

static int out_tag_cmp(const void *x, const void *y, void *ctx)
{
    const char *base = ctx;
    return strcmp(base + ((const struct out_tag *)x)->k,
                  base + ((const struct out_tag *)y)->k);
}

static const char *field_name(struct pw_statsd_agg *a, const char *prefix,
                              const char *suffix)
{
    pw_buf_reset(&a->field);
    if (prefix) {
        pw_buf_puts(&a->field, prefix);
        if (suffix)
            pw_buf_putc(&a->field, '_');
    }
    if (suffix)
        pw_buf_puts(&a->field, suffix);
    return a->field.oom ? "value" : a->field.data;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void write_entry(struct pw_statsd_agg *a, const struct table *t,
                        struct entry *e, int64_t ts, struct pw_lp_writer *w)
{
    const char *key = t->arena + e->key_off;
    size_t klen = e->key_len;
    const char *us = memchr(key, 0x1f, klen);
    size_t nlen = (us ? (size_t)(us - key) : klen) - 1;
    pw_buf_reset(&a->sc);
    size_t nt = 0, field;
    size_t meas = map_name(a, key + 1, nlen, &field, &nt);
    if (us) {   /* the DogStatsD tags, already "k:v,k:v" */
        const char *p = us + 1, *end = key + klen;
        while (p < end) {
            const char *c = memchr(p, ',', (size_t)(end - p));
            if (!c)
                c = end;
            const char *colon = memchr(p, ':', (size_t)(c - p));
            size_t ko = sc_put(&a->sc, p, (size_t)(colon - p));
            size_t vo = sc_put(&a->sc, colon + 1, (size_t)(c - colon - 1));
            add_out_tag(a, &nt, ko, vo);
            p = c + 1;
        }
    }
    size_t mk = sc_put(&a->sc, "metric_type", 11);
    const char *tn = pw_statsd_type_name((enum pw_statsd_type)e->type);
    add_out_tag(a, &nt, mk, sc_put(&a->sc, tn, strlen(tn)));
    if (a->sc.oom)
        return;
    const char *base = a->sc.data;
    /* On equal keys the later one wins (DogStatsD over template, metric_type
     * over both); then the keys are unique and sorted. */
    for (size_t i = 0; i < nt; i++)
        for (size_t j = i + 1; j < nt; j++)
            if (strcmp(base + a->tags[i].k, base + a->tags[j].k) == 0) {
                a->tags[i].k = SIZE_MAX;
                break;
            }
    size_t kept = 0;
    for (size_t i = 0; i < nt; i++)
        if (a->tags[i].k != SIZE_MAX)
            a->tags[kept++] = a->tags[i];
    qsort_r(a->tags, kept, sizeof *a->tags, out_tag_cmp, (void *)base);

    const char *prefix = field == SIZE_MAX ? NULL : base + field;
    pw_lp_begin(w, base + meas);
    for (size_t i = 0; i < kept; i++)
        pw_lp_tag(w, base + a->tags[i].k, base + a->tags[i].v);
    switch ((enum pw_statsd_type)e->type) {
    case PW_STATSD_COUNTER:
    case PW_STATSD_GAUGE:
        pw_lp_field_float(w, prefix ? prefix : "value", e->value);
        break;
    case PW_STATSD_SET:
        pw_lp_field_int(w, prefix ? prefix : "value", (int64_t)e->set_len);
        break;
    default: {
        double var = e->count > 0 ? e->m2 / e->count : 0;
        pw_lp_field_float(w, field_name(a, prefix, "count"), e->count);
        pw_lp_field_float(w, field_name(a, prefix, "sum"), e->mean * e->count);
        pw_lp_field_float(w, field_name(a, prefix, "mean"), e->mean);
        pw_lp_field_float(w, field_name(a, prefix, "stddev"), var > 0 ? sqrt(var) : 0);
        pw_lp_field_float(w, field_name(a, prefix, "lower"), e->min);
        pw_lp_field_float(w, field_name(a, prefix, "upper"), e->max);
        if (e->nsamples > 0 && a->npercentiles > 0) {
            qsort(e->samples, e->nsamples, sizeof *e->samples, cmp_double);
            for (size_t i = 0; i < a->npercentiles; i++) {
                double rank = ceil(a->percentiles[i] * e->nsamples / 100.0 - 1e-9);
                size_t ix = rank < 1 ? 0 : (size_t)rank - 1;
                if (ix >= e->nsamples)
                    ix = e->nsamples - 1;
                pw_lp_field_float(w, field_name(a, prefix, a->pnames[i]), e->samples[ix]);
            }
        }
        break;
    }
    }
    pw_lp_end(w, ts);
}

/* Folds the interval's gauges into the kept ones. */
static void merge_gauges(struct pw_statsd_agg *a, struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct entry *e = &t->e[i];
        if (e->type != PW_STATSD_GAUGE)
            continue;
        bool added;
        struct entry *g = table_get(&a->gauges, t->arena + e->key_off, e->key_len,
                                    e->hash, a->max_keys, &added);
        if (!g) {
            t->overflow++;
            continue;
        }
        g->value = e->has_abs ? e->value : g->value + e->value;
    }
}

size_t pw_statsd_agg_flush(struct pw_statsd_agg *a, int64_t ts_ns,
                           struct pw_lp_writer *out)
{
    struct table *t = a->spare;
    size_t before = out->points;
    merge_gauges(a, t);
    for (size_t i = 0; i < t->n; i++)
        if (t->e[i].type != PW_STATSD_GAUGE)
            write_entry(a, t, &t->e[i], ts_ns, out);
    for (size_t i = 0; i < a->gauges.n; i++)
        write_entry(a, &a->gauges, &a->gauges.e[i], ts_ns, out);
    if (a->delete_gauges)
        table_reset(&a->gauges);
    a->total.packets += t->packets;
    a->total.lines += t->lines;
    a->total.malformed += t->malformed;
    a->total.overflow += t->overflow;
    a->total.keys = t->n;
    table_reset(t);
    return out->points - before;
}

size_t pw_statsd_agg_write(struct pw_statsd_agg *a, int64_t ts_ns,
                           struct pw_lp_writer *out)
{
    pw_statsd_agg_swap(a);
    return pw_statsd_agg_flush(a, ts_ns, out);
}

void pw_statsd_agg_counts(const struct pw_statsd_agg *a, struct pw_statsd_counts *out)
{
    *out = a->total;
}

/* ---- the collector: socket and receiver thread ------------------------- */

#define RECV_BATCH 64
#define UDP_BATCHES_PER_POLL 16   /* then TCP gets its turn */
#define TCP_MAX_CONNECTIONS 64

/* A TCP sender: lines may straddle reads, so the tail after the last '\n'
 * waits in buf for the next read. */
struct tcp_conn {
    int fd;
    char *buf;             /* max_packet bytes: the longest line accepted */
    size_t len;
    bool skipping;         /* inside a line longer than buf: drop to '\n' */
};

struct statsd_state {
    int fd, wake_fd, tcp_fd;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    struct pw_statsd_agg *agg;
    size_t max_packet;
    char listen[80], tcp_listen[80];
    unsigned port, tcp_port;
    bool ovfl;                   /* the kernel reports drops */
    atomic_bool stop;
    atomic_uint_fast64_t kernel_drops, truncated, tcp_connections, tcp_refused;
    struct tcp_conn conns[TCP_MAX_CONNECTIONS];   /* receiver thread only */
    size_t nconns;
};

/* Resolves "HOST:PORT", "[V6]:PORT" or ":PORT" for a passive socket. */
static int resolve(const char *key, const char *listen, int socktype,
                   struct addrinfo **res, struct pw_err *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1])
        return pw_err_set(err, "statsd: %s \"%s\" is not HOST:PORT (or :PORT for "
                          "every address)", key, listen);
    char host[256];
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (hl >= 2 && h[0] == '[' && colon[-1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= sizeof host)
        return pw_err_set(err, "statsd: %s: host too long", key);
    memcpy(host, h, hl);
    host[hl] = '\0';
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int rc = getaddrinfo(hl ? host : NULL, colon + 1, &hints, res);
    if (rc != 0)
        return pw_err_set(err, "statsd: cannot resolve %s \"%s\": %s", key, listen,
                          gai_strerror(rc));
    return 0;
}

/* The bound address as text, and its port. */
static void describe(int fd, char *name, size_t size, unsigned *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char hbuf[64], pbuf[8];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        getnameinfo((struct sockaddr *)&ss, sl, hbuf, sizeof hbuf, pbuf, sizeof pbuf,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        *port = (unsigned)atoi(pbuf);
        if (ss.ss_family == AF_INET6)
            snprintf(name, size, "[%s]:%s", hbuf, pbuf);
        else
            snprintf(name, size, "%s:%s", hbuf, pbuf);
    }
}

static int open_udp(struct statsd_state *st, const struct statsd_config *cf,
                    struct pw_err *err)
{
    struct addrinfo *res;
    if (resolve("listen", cf->listen ? cf->listen : "", SOCK_DGRAM, &res, err) < 0)
        return -1;
    st->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (st->fd < 0) {
        freeaddrinfo(res);
        return pw_err_set(err, "statsd: socket: %s", strerror(errno));
    }
    int one = 1;
    /* SO_REUSEPORT: a reload starts the new collector before it stops the
     * old one, on the same port. */
    setsockopt(st->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    int want = (int)cf->read_buffer_bytes;
    if (setsockopt(st->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) < 0)
        setsockopt(st->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
#ifdef SO_RXQ_OVFL
    st->ovfl = setsockopt(st->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) == 0;
#endif
    if (bind(st->fd, res->ai_addr, res->ai_addrlen) < 0) {
        int e = errno;
        freeaddrinfo(res);
        return pw_err_set(err, "statsd: cannot bind udp %s: %s", cf->listen, strerror(e));
    }
    freeaddrinfo(res);
    describe(st->fd, st->listen, sizeof st->listen, &st->port);
    int got = 0;
    socklen_t gl = sizeof got;
    getsockopt(st->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
    pw_log(PW_INFO, "statsd: listening on udp %s (port %u), receive buffer %d bytes",
           st->listen, st->port, got);
    /* Linux reports twice what was granted (bookkeeping included). */
    if ((int64_t)got < cf->read_buffer_bytes)
        pw_log(PW_WARN, "statsd: receive buffer is %d bytes, %lld asked: raise "
               "net.core.rmem_max or give the agent CAP_NET_ADMIN", got,
               (long long)cf->read_buffer_bytes);
    return 0;
}

static int open_tcp(struct statsd_state *st, const struct statsd_config *cf,
                    struct pw_err *err)
{
    struct addrinfo *res;
    if (resolve("tcp_listen", cf->tcp_listen, SOCK_STREAM, &res, err) < 0)
        return -1;
    st->tcp_fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (st->tcp_fd < 0) {
        freeaddrinfo(res);
        return pw_err_set(err, "statsd: socket: %s", strerror(errno));
    }
    int one = 1;
    setsockopt(st->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(st->tcp_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(st->tcp_fd, res->ai_addr, res->ai_addrlen) < 0 || listen(st->tcp_fd, 128) < 0) {
        int e = errno;
        freeaddrinfo(res);
        return pw_err_set(err, "statsd: cannot listen on tcp %s: %s", cf->tcp_listen,
                          strerror(e));
    }
    freeaddrinfo(res);
    describe(st->tcp_fd, st->tcp_listen, sizeof st->tcp_listen, &st->tcp_port);
    pw_log(PW_INFO, "statsd: listening on tcp %s (port %u)", st->tcp_listen, st->tcp_port);
    return 0;
}

struct udp_batch {
    char *bufs;
    struct mmsghdr msgs[RECV_BATCH];
    struct iovec iov[RECV_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } ctrl[RECV_BATCH];
};

/* Reads what the UDP socket holds, a bounded number of batches. */
static void read_udp(struct statsd_state *st, struct udp_batch *b)
{
    size_t stride = st->max_packet;
    for (int round = 0; round < UDP_BATCHES_PER_POLL && !atomic_load(&st->stop); round++) {
        for (int i = 0; i < RECV_BATCH; i++) {
            b->iov[i] = (struct iovec){b->bufs + (size_t)i * stride, stride};
            b->msgs[i].msg_hdr = (struct msghdr){
                .msg_iov = &b->iov[i], .msg_iovlen = 1,
                .msg_control = st->ovfl ? b->ctrl[i].buf : NULL,
                .msg_controllen = st->ovfl ? sizeof b->ctrl[i].buf : 0};
            b->msgs[i].msg_len = 0;
        }
        int n = recvmmsg(st->fd, b->msgs, RECV_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;   /* EAGAIN: drained */
        uint64_t trunc = 0, drops = 0;
        bool have_drops = false;
        for (int i = 0; i < n; i++) {
            struct msghdr *h = &b->msgs[i].msg_hdr;
            if (h->msg_flags & MSG_TRUNC) {
                /* keep only the whole lines of a cut datagram */
                const char *p = b->iov[i].iov_base;
                size_t len = b->msgs[i].msg_len;
                while (len > 0 && p[len - 1] != '\n')
                    len--;
                b->msgs[i].msg_len = (unsigned)len;
                trunc++;
            }
#ifdef SO_RXQ_OVFL
            for (struct cmsghdr *c = st->ovfl ? CMSG_FIRSTHDR(h) : NULL; c;
                 c = CMSG_NXTHDR(h, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                    uint32_t d;
                    memcpy(&d, CMSG_DATA(c), sizeof d);
                    drops = d;   /* cumulative for the socket */
                    have_drops = true;
                }
#endif
        }
        pthread_mutex_lock(&st->mu);
        for (int i = 0; i < n; i++)
            pw_statsd_agg_feed(st->agg, b->iov[i].iov_base, b->msgs[i].msg_len);
        pthread_mutex_unlock(&st->mu);
        if (trunc)
            atomic_fetch_add(&st->truncated, trunc);
        if (have_drops)
            atomic_store(&st->kernel_drops, drops);
        if (n < RECV_BATCH)
            return;
    }
}

static void close_conn(struct statsd_state *st, size_t i)
{
    close(st->conns[i].fd);
    free(st->conns[i].buf);
    st->conns[i] = st->conns[--st->nconns];
}

static void feed_locked(struct statsd_state *st, const char *buf, size_t len)
{
    pthread_mutex_lock(&st->mu);
    pw_statsd_agg_feed(st->agg, buf, len);
    pthread_mutex_unlock(&st->mu);
}

/* One read from a TCP sender: whole lines are fed (one "packet" per read),
 * the tail kept; a line longer than the buffer is dropped and counted as
 * truncated; at EOF the tail is the last line. */
static void read_tcp(struct statsd_state *st, size_t i)
{
    struct tcp_conn *c = &st->conns[i];
    ssize_t n = read(c->fd, c->buf + c->len, st->max_packet - c->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        if (c->len > 0 && !c->skipping)
            feed_locked(st, c->buf, c->len);
        close_conn(st, i);
        return;
    }
    size_t start = c->len;
    c->len += (size_t)n;
    if (c->skipping) {
        char *nl = memchr(c->buf + start, '\n', c->len - start);
        if (!nl) {
            c->len = 0;
            return;
        }
        c->skipping = false;
        size_t rest = c->len - (size_t)(nl + 1 - c->buf);
        memmove(c->buf, nl + 1, rest);
        c->len = rest;
    }
    size_t whole = c->len;
    while (whole > 0 && c->buf[whole - 1] != '\n')
        whole--;
    if (whole > 0) {
        feed_locked(st, c->buf, whole);
        memmove(c->buf, c->buf + whole, c->len - whole);
        c->len -= whole;
    } else if (c->len == st->max_packet) {
        c->len = 0;
        c->skipping = true;
        atomic_fetch_add(&st->truncated, 1);
    }
}

static void accept_tcp(struct statsd_state *st)
{
    for (;;) {
        int fd = accept4(st->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        char *buf = st->nconns < TCP_MAX_CONNECTIONS ? malloc(st->max_packet) : NULL;
        if (!buf) {
            close(fd);
            atomic_fetch_add(&st->tcp_refused, 1);
            continue;
        }
        st->conns[st->nconns++] = (struct tcp_conn){.fd = fd, .buf = buf};
        atomic_fetch_add(&st->tcp_connections, 1);
    }
}

static void *receiver(void *arg)
{
    struct statsd_state *st = arg;
    struct udp_batch *b = calloc(1, sizeof *b);
    if (b)
        b->bufs = malloc(RECV_BATCH * st->max_packet);
    if (!b || !b->bufs) {
        pw_log(PW_ERROR, "statsd: out of memory for the receive buffers");
        free(b);
        return NULL;
    }
    struct pollfd p[3 + TCP_MAX_CONNECTIONS];
    while (!atomic_load(&st->stop)) {
        p[0] = (struct pollfd){.fd = st->fd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = st->wake_fd, .events = POLLIN};
        p[2] = (struct pollfd){.fd = st->tcp_fd, .events = POLLIN};
        size_t nc = st->nconns;
        for (size_t i = 0; i < nc; i++)
            p[3 + i] = (struct pollfd){.fd = st->conns[i].fd, .events = POLLIN};
        if (poll(p, 3 + nc, -1) < 0) {
            if (errno == EINTR)
                continue;
            pw_log(PW_ERROR, "statsd: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents)
            read_udp(st, b);
        /* downwards, so that close_conn's move of the last into slot i
         * never moves one not yet looked at */
        for (size_t i = nc; i-- > 0;)
            if (p[3 + i].revents)
                read_tcp(st, i);
        if (p[2].revents)
            accept_tcp(st);
    }
    free(b->bufs);
    free(b);
    return NULL;
}

static void statsd_stop(struct pw_collector *c)
{
    struct statsd_state *st = c->state;
    if (!st)
        return;
    if (st->thread_started) {
        atomic_store(&st->stop, true);
        uint64_t one = 1;
        if (write(st->wake_fd, &one, sizeof one) < 0)
            pw_log(PW_WARN, "statsd: cannot wake the receiver: %s", strerror(errno));
        pthread_join(st->thread, NULL);
        pthread_mutex_destroy(&st->mu);
    }
    while (st->nconns > 0)
        close_conn(st, st->nconns - 1);
    if (st->fd >= 0)
        close(st->fd);
    if (st->tcp_fd >= 0)
        close(st->tcp_fd);
    if (st->wake_fd >= 0)
        close(st->wake_fd);
    pw_statsd_agg_free(st->agg);
    free(st);
    c->state = NULL;
}

static int statsd_start(struct pw_collector *c, struct pw_err *err)
{
    const struct statsd_config *cf = c->config;
    struct statsd_state *st = calloc(1, sizeof *st);
    if (!st)
        return pw_err_set(err, "statsd: out of memory");
    st->fd = st->wake_fd = st->tcp_fd = -1;
    c->state = st;
    double pct[PW_STATSD_MAX_PERCENTILES];
    if (cf->percentiles.len > PW_STATSD_MAX_PERCENTILES) {
        statsd_stop(c);
        return pw_err_set(err, "statsd: percentiles: at most %d", PW_STATSD_MAX_PERCENTILES);
    }
    for (size_t i = 0; i < cf->percentiles.len; i++) {
        char *end;
        pct[i] = strtod(cf->percentiles.items[i], &end);
        if (end == cf->percentiles.items[i] || *end || !(pct[i] > 0 && pct[i] <= 100)) {
            pw_err_set(err, "statsd: percentiles: \"%s\" is not a number in (0, 100]",
                       cf->percentiles.items[i]);
            statsd_stop(c);
            return -1;
        }
    }
    struct pw_statsd_agg_config ac = {
        .percentiles = pct,
        .npercentiles = cf->percentiles.len,
        .percentile_limit = (size_t)cf->percentile_limit,
        .max_keys = (size_t)cf->max_keys,
        .delete_gauges = cf->delete_gauges,
        .separator = cf->metric_separator ? cf->metric_separator : "",
        .templates = (const char *const *)cf->templates.items,
        .ntemplates = cf->templates.len,
    };
    st->agg = pw_statsd_agg_new(&ac, err);
    if (!st->agg) {
        pw_err_prefix(err, "statsd: templates");
        statsd_stop(c);
        return -1;
    }
    st->max_packet = (size_t)cf->max_packet_bytes;
    st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (st->wake_fd < 0) {
        pw_err_set(err, "statsd: eventfd: %s", strerror(errno));
        statsd_stop(c);
        return -1;
    }
    if (open_udp(st, cf, err) < 0 ||
        (cf->tcp_listen && cf->tcp_listen[0] && open_tcp(st, cf, err) < 0)) {
        statsd_stop(c);
        return -1;
    }
    pthread_mutex_init(&st->mu, NULL);
    /* The receiver takes no signals: SIGTERM and SIGHUP must interrupt the
     * agent's poll in the main thread, not land here. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&st->thread, NULL, receiver, st);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_mutex_destroy(&st->mu);
        pw_err_set(err, "statsd: cannot start the receiver thread: %s", strerror(rc));
        statsd_stop(c);
        return -1;
    }
    st->thread_started = true;
    return 0;
}

static int statsd_collect(struct pw_collector *c, int64_t ts_ns,
                          struct pw_lp_writer *out, struct pw_err *err)
{
    struct statsd_state *st = c->state;
    pthread_mutex_lock(&st->mu);
    pw_statsd_agg_swap(st->agg);
    pthread_mutex_unlock(&st->mu);
    pw_statsd_agg_flush(st->agg, ts_ns, out);
    struct pw_statsd_counts n;
    pw_statsd_agg_counts(st->agg, &n);
    pw_lp_begin(out, "pipewatch_statsd");
    pw_lp_tag(out, "listen", st->listen);
    pw_lp_field_uint(out, "packets", n.packets);
    pw_lp_field_uint(out, "lines", n.lines);
    pw_lp_field_uint(out, "malformed", n.malformed);
    pw_lp_field_uint(out, "truncated", atomic_load(&st->truncated));
    pw_lp_field_uint(out, "overflow", n.overflow);
    if (st->ovfl)
        pw_lp_field_uint(out, "kernel_drops", atomic_load(&st->kernel_drops));
    if (st->tcp_fd >= 0) {
        pw_lp_field_uint(out, "tcp_connections", atomic_load(&st->tcp_connections));
        pw_lp_field_uint(out, "tcp_refused", atomic_load(&st->tcp_refused));
    }
    pw_lp_field_uint(out, "keys", n.keys);
    pw_lp_end(out, ts_ns);
    if (out->buf.oom)
        return pw_err_set(err, "statsd: out of memory while encoding");
    return 0;
}

unsigned pw_statsd_port(const struct pw_collector *c)
{
    const struct statsd_state *st = c->state;
    return st ? st->port : 0;
}

unsigned pw_statsd_tcp_port(const struct pw_collector *c)
{
    const struct statsd_state *st = c->state;
    return st ? st->tcp_port : 0;
}

const struct pw_collector_ops pw_statsd_collector = {
    .name = "statsd",
    .options = statsd_options,
    .config_size = sizeof(struct statsd_config),
    .start = statsd_start,
    .collect = statsd_collect,
    .stop = statsd_stop,
};
