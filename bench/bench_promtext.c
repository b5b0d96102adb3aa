/* bench/bench_promtext.c — speed of the Prometheus text parser on one
 * thread: a node-exporter-like exposition (SERIES series: gauges, labelled
 * counters, histograms with 12 buckets, summaries, some escaped label
 * values) parsed REPS times, alone and then with every sample written as
 * line protocol the way the prometheus collector writes it. Prints MB/s and
 * samples/s. Not a test: it prints figures.
 *
 *   ./build/bench/bench-promtext [SERIES] [REPS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/promtext.h"
#include "common/buf.h"
#include "common/lineproto.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void exposition(struct pw_buf *b, int series)
{
    static const char *const les[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                      "0.5", "1", "2.5", "5", "10", "+Inf"};
    for (int i = 0; i < series; i++) {
        switch (i % 4) {
        case 0:
            pw_buf_printf(b, "# HELP node_gauge_%d A gauge.\n# TYPE node_gauge_%d gauge\n"
                          "node_gauge_%d %d.%03d\n", i, i, i, i, i % 1000);
            break;
        case 1:
            pw_buf_printf(b, "# TYPE node_network_receive_bytes_%d_total counter\n", i);
            for (int d = 0; d < 4; d++)
                pw_buf_printf(b, "node_network_receive_bytes_%d_total{device=\"eth%d\","
                              "path=\"C:\\\\dir\\\\%d\"} %.6e\n", i, d, d, 1e9 * d + i);
            break;
        case 2:
            pw_buf_printf(b, "# TYPE http_request_duration_%d_seconds histogram\n", i);
            for (int k = 0; k < 12; k++)
                pw_buf_printf(b, "http_request_duration_%d_seconds_bucket{handler=\"/api/v1/q\","
                              "method=\"GET\",le=\"%s\"} %d\n", i, les[k], k * 100);
            pw_buf_printf(b, "http_request_duration_%d_seconds_sum{handler=\"/api/v1/q\","
                          "method=\"GET\"} 53423.5\nhttp_request_duration_%d_seconds_count{"
                          "handler=\"/api/v1/q\",method=\"GET\"} 1100\n", i, i);
            break;
        default:
            pw_buf_printf(b, "# TYPE go_gc_%d_seconds summary\n", i);
            for (int q = 0; q < 5; q++)
                pw_buf_printf(b, "go_gc_%d_seconds{quantile=\"%.2f\"} %.6e\n", i, q * 0.25, q * 1e-5);
            pw_buf_printf(b, "go_gc_%d_seconds_sum 0.127\ngo_gc_%d_seconds_count 2214\n", i, i);
        }
    }
}

struct sink {
    struct pw_lp_writer *w;   /* NULL: parse only */
    struct pw_lp_tag tags[64];
};

static int on_sample(void *ctx, const struct pw_prom_sample *s)
{
    struct sink *k = ctx;
    if (!k->w)
        return 0;
    size_t n = s->nlabels < 63 ? s->nlabels : 63;
    for (size_t i = 0; i < n; i++)
        k->tags[i] = (struct pw_lp_tag){s->labels[i].name, s->labels[i].value};
    k->tags[n++] = (struct pw_lp_tag){{"url", 3}, {"http://127.0.0.1:9100/metrics", 29}};
    struct pw_lp_field f = {.key = s->name, .type = PW_FIELD_FLOAT, .v.f = s->value};
    struct pw_lp_point p = {{"prometheus", 10}, k->tags, n, &f, 1, 1700000000000000000LL, true};
    pw_lp_write_point(k->w, &p);
    return 0;
}

int main(int argc, char **argv)
{
    int series = argc > 1 ? atoi(argv[1]) : 4000;
    int reps = argc > 2 ? atoi(argv[2]) : 50;
    struct pw_buf text;
    pw_buf_init(&text);
    exposition(&text, series);
    struct pw_prom_parser p;
    pw_prom_parser_init(&p, false);
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    for (int mode = 0; mode < 2; mode++) {
        struct sink k = {.w = mode ? &w : NULL};
        struct pw_prom_stats st;
        uint64_t samples = 0;
        double t0 = now_s();
        for (int r = 0; r < reps; r++) {
            pw_lp_writer_reset(&w);
            pw_prom_parse(&p, text.data, text.len, on_sample, NULL, &k, &st);
            samples += st.samples;
        }
        double dt = now_s() - t0;
        printf("%-28s %6.1f MB/s  %6.2f M samples/s  (%zu bytes, %llu samples, "
               "%llu errors per exposition)\n",
               mode ? "parse + line protocol:" : "parse only:",
               (double)text.len * reps / dt / 1e6, (double)samples / dt / 1e6, text.len,
               (unsigned long long)st.samples, (unsigned long long)st.errors);
    }
    pw_lp_writer_release(&w);
    pw_prom_parser_release(&p);
    pw_buf_release(&text);
    return 0;
}
