/* tests/fuzz/fuzz_promtext.c — the Prometheus text parser on any bytes, in
 * both modes (0.0.4 and OpenMetrics), and its samples through the
 * line-protocol writer as the prometheus collector writes them.
 *
 * Checks: the parser never crashes or reads out of bounds; every sample it
 * hands over has a well-formed metric name, well-formed label names, no
 * duplicate label, an le label on a bucket; the counts add up (samples and
 * errors at most the lines); and whatever the samples hold, the writer's
 * output parses back as line protocol, point for point. Any failure aborts. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/promtext.h"
#include "common/lineproto.h"
#include "tests/fuzz/fuzz_check.h"

static bool name_ok(struct pw_str s, bool colon)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

struct ctx {
    struct pw_lp_writer w;
    struct pw_lp_tag tags[300];
    uint64_t seen;
};

static int on_sample(void *arg, const struct pw_prom_sample *s)
{
    struct ctx *c = arg;
    c->seen++;
    CHECK(name_ok(s->name, true));
    CHECK(s->family.len <= s->name.len);
    CHECK(s->nlabels <= 256);
    bool le = false;
    for (size_t i = 0; i < s->nlabels; i++) {
        CHECK(name_ok(s->labels[i].name, false));
        for (size_t j = 0; j < i; j++)
            CHECK(!(s->labels[i].name.len == s->labels[j].name.len &&
                    memcmp(s->labels[i].name.ptr, s->labels[j].name.ptr,
                           s->labels[i].name.len) == 0));
        le |= s->labels[i].name.len == 2 && memcmp(s->labels[i].name.ptr, "le", 2) == 0;
        c->tags[i] = (struct pw_lp_tag){s->labels[i].name, s->labels[i].value};
    }
    CHECK(s->role != PW_PROM_BUCKET || le);
    struct pw_lp_field f = {.key = s->name, .type = PW_FIELD_FLOAT, .v.f = s->value};
    struct pw_lp_point p = {{"prometheus", 10}, c->tags, s->nlabels, &f, 1,
                            s->has_ts ? s->ts_ms : 1, true};
    int rc = pw_lp_write_point(&c->w, &p);
    CHECK(rc >= 0);
    CHECK(rc == 1 || !isfinite(s->value));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int om = 0; om < 2; om++) {
        struct pw_prom_parser p;
        pw_prom_parser_init(&p, om);
        struct ctx c;
        pw_lp_writer_init(&c.w);
        c.seen = 0;
        struct pw_prom_stats st;
        int rc = pw_prom_parse(&p, (const char *)data, size, on_sample, NULL, &c, &st);
        CHECK(rc == 0);
        CHECK(st.samples == c.seen);
        CHECK(st.samples + st.errors <= st.lines);
        CHECK((st.errors == 0) == (st.first_error_line == 0));
        CHECK(st.first_error_line == 0 || strncmp(st.first_error, "line ", 5) == 0);
        struct pw_lp_batch *b = pw_lp_batch_new();
        struct pw_err err;
        int n = pw_lp_parse(c.w.buf.data ? c.w.buf.data : "", c.w.buf.len, 0, b, &err);
        if (n < 0)
            fprintf(stderr, "writer output does not parse: %s\n%.*s\n", err.msg,
                    (int)c.w.buf.len, c.w.buf.data);
        CHECK(n >= 0 && (size_t)n == c.w.points);
        pw_lp_batch_free(b);
        pw_lp_writer_release(&c.w);
        pw_prom_parser_release(&p);
    }
    return 0;
}
