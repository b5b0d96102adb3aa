/* tests/fuzz/fuzz_ingest.c — the analyzer's message parsers on any bytes.
 *
 * The input goes to pw_ingest_metrics with the format told from the bytes
 * (auto) and with each format fixed, twice on the same pw_ingest (buffers
 * reused), with and without a key, and to pw_ingest_log. Checks:
 *  - a refused message hands out nothing, says why, and is counted as
 *    malformed and nothing else;
 *  - a taken one hands out exactly the count it returns, the same count
 *    both times; every sample has a finite value and a non-empty entity
 *    (the key when there is one);
 *  - a series key is line protocol: "series=1" parses as one point whose
 *    measurement and field are the sample's and whose tags are sorted
 *    (checked when no name needs the writer's lossy choices: a backslash,
 *    a newline, an empty field key, a leading '#');
 *  - a log message hands out as many records as it returns (none when
 *    refused), each with an entity (the key when there is one) whose
 *    slices can be read whole. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/ingest.h"
#include "common/lineproto.h"
#include "tests/fuzz/fuzz_check.h"

struct run {
    size_t calls;
    const char *key;
    size_t key_len;
    struct pw_lp_batch *batch;
};

static bool same(struct pw_str a, struct pw_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static void check_series(const struct pw_sample *s, struct pw_lp_batch *b)
{
    if (memchr(s->series.ptr, '\\', s->series.len) ||
        memchr(s->series.ptr, '\n', s->series.len) || s->field.len == 0 ||
        s->measurement.len == 0 || s->measurement.ptr[0] == '#')
        return;
    char line[4096];
    if (s->series.len + 3 > sizeof line)
        return;
    memcpy(line, s->series.ptr, s->series.len);
    memcpy(line + s->series.len, "=1", 2);
    struct pw_err err;
    pw_lp_batch_reset(b);
    int n = pw_lp_parse(line, s->series.len + 2, 0, b, &err);
    if (n != 1)
        fprintf(stderr, "series \"%.*s\": %s\n", (int)s->series.len,
                s->series.ptr, err.msg);
    CHECK(n == 1);
    const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
    CHECK(same(p->measurement, s->measurement));
    CHECK(p->nfields == 1 && same(p->fields[0].key, s->field));
    for (size_t i = 1; i < p->ntags; i++) {
        struct pw_str a = p->tags[i - 1].key, c = p->tags[i].key;
        size_t m = a.len < c.len ? a.len : c.len;
        int d = memcmp(a.ptr, c.ptr, m);
        CHECK(d < 0 || (d == 0 && a.len <= c.len));
    }
}

static void on_sample(const struct pw_sample *s, void *arg)
{
    struct run *r = arg;
    r->calls++;
    CHECK(isfinite(s->value));
    CHECK(s->entity.len > 0);
    if (r->key_len > 0)
        CHECK(s->entity.len == r->key_len &&
              memcmp(s->entity.ptr, r->key, r->key_len) == 0);
    check_series(s, r->batch);
}

static void metrics(struct pw_ingest *in, const char *key, const uint8_t *data,
                    size_t size, struct pw_lp_batch *batch)
{
    int counts[2];
    for (int pass = 0; pass < 2; pass++) {
        struct run r = {.key = key, .key_len = key ? strlen(key) : 0,
                        .batch = batch};
        struct pw_err err = {{0}};
        const struct pw_ingest_stats *st = pw_ingest_stats(in);
        uint64_t msgs = st->messages, bad = st->malformed, ok = st->samples;
        uint64_t strs = st->skipped_strings, nonfin = st->skipped_nonfinite;
        int n = pw_ingest_metrics(in, key, r.key_len, data, size, 42,
                                  on_sample, &r, &err);
        CHECK(st->messages == msgs + 1);
        if (n < 0) {
            CHECK(n == -1);
            CHECK(r.calls == 0);
            CHECK(err.msg[0] != '\0');
            CHECK(st->malformed == bad + 1);
            CHECK(st->samples == ok);
            CHECK(st->skipped_strings == strs);
            CHECK(st->skipped_nonfinite == nonfin);
        } else {
            CHECK(r.calls == (size_t)n);
            CHECK(st->malformed == bad);
            CHECK(st->samples == ok + (uint64_t)n);
        }
        counts[pass] = n;
    }
    CHECK(counts[0] == counts[1]);
}

static unsigned sum(struct pw_str s)
{
    unsigned h = 0;
    for (size_t i = 0; i < s.len; i++)
        h = h * 31 + (unsigned char)s.ptr[i];
    return h;
}

static void on_log(const struct pw_log_record *rec, void *arg)
{
    struct run *r = arg;
    r->calls++;
    CHECK(rec->entity.len > 0);
    if (r->key)
        CHECK(same(rec->entity, (struct pw_str){r->key, r->key_len}));
    volatile unsigned h = sum(rec->entity) + sum(rec->source) + sum(rec->line);
    (void)h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum pw_ingest_format formats[] = {
        PW_INGEST_AUTO, PW_INGEST_LINEPROTO, PW_INGEST_COLLECTD_JSON,
        PW_INGEST_TELEGRAF_JSON,
    };
    struct pw_lp_batch *batch = pw_lp_batch_new();
    CHECK(batch);
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        struct pw_err err;
        struct pw_ingest *in = pw_ingest_new(formats[f], f == 3 ? "cpu" : NULL,
                                             &err);
        CHECK(in);
        metrics(in, NULL, data, size, batch);
        metrics(in, "node-1", data, size, batch);
        pw_ingest_free(in);
    }

    struct pw_err err = {{0}};
    struct pw_ingest *in = pw_ingest_new(PW_INGEST_AUTO, NULL, &err);
    CHECK(in);
    size_t first = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *key = pass ? "k" : NULL;
        struct run r = {.key = key, .key_len = key ? 1 : 0};
        uint64_t malformed = pw_ingest_stats(in)->malformed;
        int rc = pw_ingest_log(in, key, key ? 1 : 0, data, size, 7, on_log, &r, &err);
        if (rc >= 0) {
            CHECK(rc >= 1 && (size_t)rc == r.calls);
            CHECK(pw_ingest_stats(in)->malformed == malformed);
            if (pass == 0)
                first = r.calls;
            else
                CHECK(r.calls == first);   /* the key changes no record count */
        } else {
            CHECK(rc == -1 && err.msg[0] != '\0' && r.calls == 0);
            CHECK(pw_ingest_stats(in)->malformed == malformed + 1);
        }
    }
    CHECK(pw_ingest_stats(in)->messages == 2);
    pw_ingest_free(in);
    pw_lp_batch_free(batch);
    return 0;
}
