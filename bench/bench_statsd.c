/* bench/bench_statsd.c — the StatsD collector's speed and loss. Not a test:
 * it prints figures.
 *
 *   ./build/bench/bench-statsd parse [METRICS]
 *       (a) parse + aggregate on one core, in process: METRICS lines
 *       (default 20 M) from datagrams of about 1400 bytes mixing counters
 *       (some sampled), gauges (some deltas), timers, histograms and sets over
 *       10 000 keys, a third with DogStatsD tags; an interval is written every
 *       1 M lines. Prints metrics/s for feeding alone and with the writes.
 *
 *   ./build/bench/bench-statsd udp [PACKETS_PER_S] [SECONDS] [LINES_PER_PACKET]
 *       (b) the collector running in process (its receiver thread on a UDP
 *       socket on 127.0.0.1), a sender thread at the given packet rate
 *       (default 100 000/s for 5 s, 10 counter lines of value 1 per packet
 *       over 1 000 keys) and collect() every second. Prints sent, received
 *       (the collector's packet count), aggregated (the sum of the counter
 *       values written, which is lines received), and the kernel's drop count.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collectors/statsd.h"
#include "common/config.h"
#include "common/lineproto.h"
#include "common/log.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- (a) parse + aggregate --------------------------------------------- */

struct packet {
    char *data;
    size_t len, lines;
};

static size_t make_packets(struct packet **out)
{
    const size_t npackets = 4096;
    struct packet *ps = calloc(npackets, sizeof *ps);
    unsigned seed = 42;
    for (size_t i = 0; i < npackets; i++) {
        char *buf = malloc(1600);
        size_t len = 0, lines = 0;
        while (len < 1400) {
            unsigned key = (unsigned)rand_r(&seed) % 10000, kind = key % 10;
            const char *tags = key % 3 == 0 ? "|#env:prod,service:checkout" : "";
            int n;
            if (kind < 5)
                n = snprintf(buf + len, 1600 - len, "%sapp.requests.%u:%u|c%s%s",
                             lines ? "\n" : "", key, 1 + key % 7,
                             key % 4 == 0 ? "|@0.1" : "", tags);
            else if (kind < 7)
                n = snprintf(buf + len, 1600 - len, "%sapp.queue.%u:%s%u|g%s",
                             lines ? "\n" : "", key, key % 2 ? "+" : "",
                             (unsigned)rand_r(&seed) % 1000, tags);
            else if (kind < 9)
                n = snprintf(buf + len, 1600 - len, "%sapp.latency.%u:%u.%03u|%s%s",
                             lines ? "\n" : "", key, (unsigned)rand_r(&seed) % 500,
                             (unsigned)rand_r(&seed) % 1000, key % 2 ? "ms" : "h", tags);
            else
                n = snprintf(buf + len, 1600 - len, "%sapp.users.%u:user%u|s%s",
                             lines ? "\n" : "", key, (unsigned)rand_r(&seed) % 5000, tags);
            len += (size_t)n;
            lines++;
        }
        ps[i] = (struct packet){buf, len, lines};
    }
    *out = ps;
    return npackets;
}

static int bench_parse(long long metrics)
{
    struct packet *ps;
    size_t np = make_packets(&ps);
    size_t bytes = 0, lines = 0;
    for (size_t i = 0; i < np; i++)
        bytes += ps[i].len, lines += ps[i].lines;
    printf("corpus: %zu datagrams, %.1f lines and %.0f bytes each, 10000 keys\n", np,
           (double)lines / np, (double)bytes / np);
    static const double pct[] = {50, 90, 99};
    static const char *const templates[] = {"app.* measurement.measurement.key"};
    struct pw_statsd_agg_config cf = {.percentiles = pct, .npercentiles = 3,
                                      .percentile_limit = 1000, .max_keys = 100000,
                                      .separator = "_", .templates = templates,
                                      .ntemplates = 1};
    struct pw_err err;
    struct pw_statsd_agg *a = pw_statsd_agg_new(&cf, &err);
    if (!a) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    long long fed = 0, since = 0, points = 0, intervals = 0;
    double feed_cpu = 0, write_cpu = 0;
    size_t i = 0;
    while (fed < metrics) {
        double t0 = cpu_s();
        for (int k = 0; k < 256; k++) {
            pw_statsd_agg_feed(a, ps[i].data, ps[i].len);
            fed += (long long)ps[i].lines;
            since += (long long)ps[i].lines;
            i = (i + 1) % np;
        }
        double t1 = cpu_s();
        feed_cpu += t1 - t0;
        if (since >= 1000000 || fed >= metrics) {
            pw_lp_writer_reset(&w);
            points += (long long)pw_statsd_agg_write(a, 0, &w);
            write_cpu += cpu_s() - t1;
            since = 0;
            intervals++;
        }
    }
    struct pw_statsd_counts c;
    pw_statsd_agg_counts(a, &c);
    printf("parse+aggregate: %lld metrics in %.3f s CPU: %.2f M metrics/s, %.0f ns/metric, "
           "%.0f MB/s\n", fed, feed_cpu, fed / feed_cpu / 1e6, feed_cpu / fed * 1e9,
           (double)fed / lines * bytes / feed_cpu / 1e6);
    printf("with writing:    %lld intervals, %lld points, %.3f s CPU writing (%.1f ms per "
           "interval): %.2f M metrics/s overall\n", intervals, points, write_cpu,
           write_cpu / intervals * 1e3, fed / (feed_cpu + write_cpu) / 1e6);
    printf("malformed %llu, overflow %llu\n", (unsigned long long)c.malformed,
           (unsigned long long)c.overflow);
    pw_lp_writer_release(&w);
    pw_statsd_agg_free(a);
    for (size_t k = 0; k < np; k++)
        free(ps[k].data);
    free(ps);
    return 0;
}

/* ---- (b) UDP load ------------------------------------------------------ */

struct sender {
    unsigned port;
    double rate, seconds;
    int lines;
    long long sent, sent_lines, send_errors;
};

static void *send_loop(void *arg)
{
    struct sender *s = arg;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connect(fd, (struct sockaddr *)&to, sizeof to);
    enum { BATCH = 32 };
    char bufs[BATCH][1024];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    unsigned key = 0;
    double t0 = now_s();
    for (;;) {
        double el = now_s() - t0;
        if (el >= s->seconds)
            break;
        long long due = (long long)(el * s->rate) - s->sent;
        if (due <= 0) {
            nanosleep(&(struct timespec){0, 50000}, NULL);
            continue;
        }
        int n = due > BATCH ? BATCH : (int)due;
        for (int i = 0; i < n; i++) {
            size_t len = 0;
            for (int l = 0; l < s->lines; l++)
                len += (size_t)snprintf(bufs[i] + len, sizeof bufs[i] - len,
                                        "%sload.requests.k%u:1|c", l ? "\n" : "",
                                        key++ % 1000);
            iov[i] = (struct iovec){bufs[i], len};
            msgs[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int m = sendmmsg(fd, msgs, (unsigned)n, 0);
        if (m < 0) {
            s->send_errors++;
            continue;
        }
        s->sent += m;
        s->sent_lines += (long long)m * s->lines;
    }
    close(fd);
    return NULL;
}

/* Adds the collector's output to the totals: counter values of load.* and
 * the pipewatch_statsd counts (cumulative, so the last one is kept). */
static void tally(struct pw_lp_batch *b, double *aggregated, double *packets,
                  double *lines, double *drops)
{
    for (size_t i = 0; i < pw_lp_batch_len(b); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(b, i);
        bool self = p->measurement.len == 16 &&
                    memcmp(p->measurement.ptr, "pipewatch_statsd", 16) == 0;
        for (size_t f = 0; f < p->nfields; f++) {
            const struct pw_lp_field *fl = &p->fields[f];
            double v = fl->type == PW_FIELD_FLOAT ? fl->v.f
                       : fl->type == PW_FIELD_UINT ? (double)fl->v.u
                                                   : (double)fl->v.i;
            if (!self && fl->key.len == 5 && memcmp(fl->key.ptr, "value", 5) == 0)
                *aggregated += v;
            else if (self && fl->key.len == 7 && memcmp(fl->key.ptr, "packets", 7) == 0)
                *packets = v;
            else if (self && fl->key.len == 5 && memcmp(fl->key.ptr, "lines", 5) == 0)
                *lines = v;
            else if (self && fl->key.len == 12 && memcmp(fl->key.ptr, "kernel_drops", 12) == 0)
                *drops = v;
        }
    }
}

static int bench_udp(double rate, double seconds, int lines)
{
    const struct pw_collector_ops *ops = &pw_statsd_collector;
    const char *yaml = "{enabled: true, listen: '127.0.0.1:0'}";
    struct pw_err err;
    void *conf = calloc(1, ops->config_size);
    if (pw_config_load_string("bench", yaml, strlen(yaml), ops->options, conf, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct pw_collector c = {.ops = ops, .config = conf};
    if (ops->start(&c, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct sender s = {.port = pw_statsd_port(&c), .rate = rate, .seconds = seconds,
                       .lines = lines};
    pthread_t th;
    pthread_create(&th, NULL, send_loop, &s);
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    struct pw_lp_batch *b = pw_lp_batch_new();
    double aggregated = 0, packets = 0, got_lines = 0, drops = 0, collect_ms = 0;
    double t0 = now_s();
    int ticks = 0;
    for (;;) {
        double el = now_s() - t0;
        bool last = el > seconds + 1.0;
        double next = (ticks + 1) * 1.0;
        if (!last && el < next) {
            double d = next - el;
            nanosleep(&(struct timespec){(time_t)d, (long)((d - (time_t)d) * 1e9)}, NULL);
            continue;
        }
        pw_lp_writer_reset(&w);
        double c0 = now_s();
        ops->collect(&c, 0, &w, &err);
        collect_ms += (now_s() - c0) * 1e3;
        ticks++;
        pw_lp_batch_reset(b);
        if (pw_lp_parse(w.buf.data, w.buf.len, 0, b, &err) < 0) {
            fprintf(stderr, "output does not parse: %s\n", err.msg);
            return 1;
        }
        tally(b, &aggregated, &packets, &got_lines, &drops);
        if (last)
            break;
    }
    pthread_join(th, NULL);
    printf("udp: %.0f packets/s for %.0f s, %d lines per packet (%d bytes max each)\n", rate,
           seconds, lines, (int)(lines * 22));
    printf("sent       %lld packets, %lld lines (%.0f packets/s achieved), %lld send errors\n",
           s.sent, s.sent_lines, s.sent / seconds, s.send_errors);
    printf("received   %.0f packets, %.0f lines\n", packets, got_lines);
    printf("aggregated %.0f (sum of counter values written)\n", aggregated);
    printf("lost       %.0f packets (%.4f%%); kernel drop count %.0f\n", s.sent - packets,
           s.sent ? 100.0 * (s.sent - packets) / s.sent : 0, drops);
    printf("collect()  %.2f ms per interval on average, %d intervals\n", collect_ms / ticks,
           ticks);
    pw_lp_writer_release(&w);
    pw_lp_batch_free(b);
    ops->stop(&c);
    pw_config_release(ops->options, conf);
    free(conf);
    return s.sent == packets && aggregated == (double)s.sent_lines ? 0 : 3;
}

int main(int argc, char **argv)
{
    pw_log_init("bench-statsd", PW_WARN);
    const char *mode = argc > 1 ? argv[1] : "parse";
    if (strcmp(mode, "parse") == 0)
        return bench_parse(argc > 2 ? atoll(argv[2]) : 20000000LL);
    if (strcmp(mode, "udp") == 0)
        return bench_udp(argc > 2 ? atof(argv[2]) : 100000, argc > 3 ? atof(argv[3]) : 5,
                         argc > 4 ? atoi(argv[4]) : 10);
    fprintf(stderr, "usage: bench-statsd parse [METRICS] | udp [PACKETS_PER_S] [SECONDS] "
                    "[LINES_PER_PACKET]\n");
    return 2;
}
