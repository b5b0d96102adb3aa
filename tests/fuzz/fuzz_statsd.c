/* tests/fuzz/fuzz_statsd.c — the StatsD parser and aggregation on any bytes.
 *
 * The input is fed as datagrams (split at 0x00 bytes, so that one input can
 * be several packets) to an aggregation with templates, a small max_keys and
 * a small percentile_limit, so that overflow and the reservoir are reached.
 * Three intervals are written. Checks: every line written parses back as
 * line protocol, and the counts add up (packets as fed, lines >= malformed,
 * no more keys than max_keys); every line that pw_statsd_parse_line accepts
 * has a non-empty name and a sample rate in (0, 1]. Any difference aborts. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/statsd.h"
#include "common/lineproto.h"
#include "tests/fuzz/fuzz_check.h"

#define MAX_KEYS 32

static void check_lines(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        struct pw_statsd_line l;
        struct pw_err err;
        if (pw_statsd_parse_line(p, (size_t)(le - p), &l, &err) == 0) {
            CHECK(l.name.len > 0);
            CHECK(l.sample_rate > 0 && l.sample_rate <= 1);
            CHECK(isfinite(l.value));
        }
        p = le + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const double pct[] = {50, 90, 99.9};
    static const char *const templates[] = {
        "a.* measurement.tag.field*", "a.b.* measurement..measurement*",
        "*.x measurement.tag.tag", "measurement.field",
    };
    struct pw_statsd_agg_config cf = {
        .percentiles = pct, .npercentiles = 3, .percentile_limit = 4,
        .max_keys = MAX_KEYS, .delete_gauges = size % 2, .separator = "_",
        .templates = templates, .ntemplates = 4};
    struct pw_err err;
    struct pw_statsd_agg *a = pw_statsd_agg_new(&cf, &err);
    CHECK(a);
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    struct pw_lp_batch *b = pw_lp_batch_new();
    const char *p = (const char *)data, *end = p + size;
    uint64_t packets = 0;
    for (int interval = 0; interval < 3; interval++) {
        /* the first interval gets the first half of the packets, the second
         * the rest, the third nothing (kept gauges only) */
        const char *stop = interval == 0 ? p + (size_t)(end - p) / 2 : end;
        if (interval == 2)
            stop = p;
        while (p < stop) {
            const char *z = memchr(p, '\0', (size_t)(end - p));
            const char *pe = z ? z : end;
            check_lines(p, (size_t)(pe - p));
            pw_statsd_agg_feed(a, p, (size_t)(pe - p));
            packets++;
            p = pe + (z ? 1 : 0);
            if (!z)
                break;
        }
        pw_lp_writer_reset(&w);
        size_t n = pw_statsd_agg_write(a, 1000 + interval, &w);
        CHECK(n == w.points);
        CHECK(!w.buf.oom);
        struct pw_statsd_counts c;
        pw_statsd_agg_counts(a, &c);
        CHECK(c.packets == packets);
        CHECK(c.malformed <= c.lines);
        CHECK(c.keys <= MAX_KEYS);
        CHECK(n <= 2 * MAX_KEYS);   /* the interval's keys and the kept gauges */
        if (n > 0) {
            pw_lp_batch_reset(b);
            int k = pw_lp_parse(w.buf.data, w.buf.len, 0, b, &err);
            if (k != (int)n)
                fprintf(stderr, "%s\n%.*s\n", err.msg, (int)w.buf.len, w.buf.data);
            CHECK(k == (int)n);
        }
    }
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
    pw_statsd_agg_free(a);
    return 0;
}
