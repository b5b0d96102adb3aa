/* bench/bench_ingest.c — speed of the analyzer's input (analyzer/ingest.h)
 * on one thread: messages as they come off Kafka, parsed and handed out
 * sample by sample to a callback that reads every slice.
 *
 *   lp        50-line line protocol messages as our agent writes them
 *             (host collector shapes: cpu, mem, disk, net; 2-3 tags,
 *             3-4 fields a line), keyed by entity;
 *   telegraf  Telegraf JSON batches {"metrics":[…]} of 50 metrics of the
 *             same shapes, no key (entity from the host tag);
 *   collectd  collectd write_kafka JSON arrays of 50 value lists (single-
 *             and two-source types).
 *
 * 64 distinct messages are cycled until about SAMPLES samples have gone
 * through. Prints samples/s, ns/sample and MB/s. Not a test.
 *
 *   ./build/bench/bench-ingest [lp|telegraf|collectd|all] [SAMPLES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzer/ingest.h"
#include "common/buf.h"

#define MESSAGES 64
#define POINTS 50

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const long long T0 = 1700000000000000000LL;

static void lp_message(struct pw_buf *b, int m)
{
    for (int i = 0; i < POINTS; i++) {
        long long ts = T0 + (long long)m * 10000000000LL;
        int h = m % 16;
        switch (i % 4) {
        case 0:
            pw_buf_printf(b, "cpu,cpu=cpu%d,host=node-%02d usage_user=%d.%02d,"
                          "usage_system=%d.5,usage_idle=%d.25,usage_iowait=0.%d %lld\n",
                          i % 8, h, i, m % 100, i % 7, 80 - i % 20, i % 10, ts);
            break;
        case 1:
            pw_buf_printf(b, "mem,host=node-%02d used_percent=%d.125,available=%di,"
                          "cached=%du %lld\n", h, 40 + i % 30, 1000000 + i * m, 77 * i, ts);
            break;
        case 2:
            pw_buf_printf(b, "disk,device=sd%c,host=node-%02d,path=/var/lib/data%d "
                          "used_percent=%d.5,inodes_free=%di,read_only=false %lld\n",
                          'a' + i % 4, h, i % 3, i % 90, 500000 - i, ts);
            break;
        default:
            pw_buf_printf(b, "net,host=node-%02d,interface=eth%d bytes_recv=%du,"
                          "bytes_sent=%du,err_in=0i %lld\n", h, i % 2, 123456 * i + m,
                          654321 * i, ts);
        }
    }
}

static void telegraf_message(struct pw_buf *b, int m)
{
    pw_buf_puts(b, "{\"metrics\":[");
    for (int i = 0; i < POINTS; i++) {
        long long ts = 1700000000LL + m * 10;
        int h = m % 16;
        if (i)
            pw_buf_putc(b, ',');
        switch (i % 4) {
        case 0:
            pw_buf_printf(b, "{\"fields\":{\"usage_user\":%d.%02d,\"usage_system\":%d.5,"
                          "\"usage_idle\":%d.25,\"usage_iowait\":0.%d},\"name\":\"cpu\","
                          "\"tags\":{\"cpu\":\"cpu%d\",\"host\":\"node-%02d\"},"
                          "\"timestamp\":%lld}", i, m % 100, i % 7, 80 - i % 20, i % 10,
                          i % 8, h, ts);
            break;
        case 1:
            pw_buf_printf(b, "{\"fields\":{\"used_percent\":%d.125,\"available\":%d,"
                          "\"cached\":%d},\"name\":\"mem\",\"tags\":{\"host\":\"node-%02d\"},"
                          "\"timestamp\":%lld}", 40 + i % 30, 1000000 + i * m, 77 * i, h, ts);
            break;
        case 2:
            pw_buf_printf(b, "{\"fields\":{\"used_percent\":%d.5,\"inodes_free\":%d,"
                          "\"read_only\":false},\"name\":\"disk\",\"tags\":{\"device\":"
                          "\"sd%c\",\"host\":\"node-%02d\",\"path\":\"/var/lib/data%d\"},"
                          "\"timestamp\":%lld}", i % 90, 500000 - i, 'a' + i % 4, h, i % 3, ts);
            break;
        default:
            pw_buf_printf(b, "{\"fields\":{\"bytes_recv\":%d,\"bytes_sent\":%d,\"err_in\":0},"
                          "\"name\":\"net\",\"tags\":{\"host\":\"node-%02d\",\"interface\":"
                          "\"eth%d\"},\"timestamp\":%lld}", 123456 * i + m, 654321 * i, h,
                          i % 2, ts);
        }
    }
    pw_buf_puts(b, "]}");
}

static void collectd_message(struct pw_buf *b, int m)
{
    pw_buf_putc(b, '[');
    for (int i = 0; i < POINTS; i++) {
        double t = 1700000000.0 + m * 10 + 0.125;
        int h = m % 16;
        if (i)
            pw_buf_putc(b, ',');
        if (i % 2)
            pw_buf_printf(b, "{\"values\":[%d,%d],\"dstypes\":[\"derive\",\"derive\"],"
                          "\"dsnames\":[\"rx\",\"tx\"],\"time\":%.3f,\"interval\":10.000,"
                          "\"host\":\"node-%02d\",\"plugin\":\"interface\","
                          "\"plugin_instance\":\"eth%d\",\"type\":\"if_octets\","
                          "\"type_instance\":\"\"}", 123456 * i + m, 654321 * i, t, h, i % 4);
        else
            pw_buf_printf(b, "{\"values\":[%d.%d],\"dstypes\":[\"gauge\"],"
                          "\"dsnames\":[\"value\"],\"time\":%.3f,\"interval\":10.000,"
                          "\"host\":\"node-%02d\",\"plugin\":\"cpu\","
                          "\"plugin_instance\":\"%d\",\"type\":\"percent\","
                          "\"type_instance\":\"user\"}", i, m % 10, t, h, i % 8);
    }
    pw_buf_putc(b, ']');
}

struct sink {
    double sum;
    size_t bytes;
};

static void on_sample(const struct pw_sample *s, void *arg)
{
    struct sink *k = arg;
    k->sum += s->value + (double)(s->ts_ns & 1);
    k->bytes += s->entity.len + s->measurement.len + s->field.len + s->series.len;
    k->bytes += (unsigned char)s->series.ptr[s->series.len - 1];
}

static int run(const char *name, void (*gen)(struct pw_buf *, int), int keyed,
               long target)
{
    struct pw_buf msgs[MESSAGES];
    size_t total_bytes = 0;
    for (int m = 0; m < MESSAGES; m++) {
        pw_buf_init(&msgs[m]);
        gen(&msgs[m], m);
        total_bytes += msgs[m].len;
    }
    struct pw_err err;
    struct pw_ingest *in = pw_ingest_new(PW_INGEST_AUTO, NULL, &err);
    if (!in) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct sink k = {0};
    /* Warm-up: buffers grow to their steady size. */
    for (int m = 0; m < MESSAGES; m++) {
        char key[16];
        snprintf(key, sizeof key, "node-%02d", m % 16);
        if (pw_ingest_metrics(in, key, keyed ? strlen(key) : 0, msgs[m].data,
                              msgs[m].len, T0, on_sample, &k, &err) < 0) {
            fprintf(stderr, "%s: message %d: %s\n", name, m, err.msg);
            return 1;
        }
    }
    long samples = 0, messages = 0;
    size_t bytes = 0;
    double t0 = now_s();
    while (samples < target) {
        int m = (int)(messages % MESSAGES);
        char key[16];
        snprintf(key, sizeof key, "node-%02d", m % 16);
        int n = pw_ingest_metrics(in, key, keyed ? strlen(key) : 0, msgs[m].data,
                                  msgs[m].len, T0, on_sample, &k, &err);
        if (n < 0) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            return 1;
        }
        samples += n;
        bytes += msgs[m].len;
        messages++;
    }
    double dt = now_s() - t0;
    printf("%-9s %6.1f samples/message, %7zu bytes/message: %10.0f samples/s  "
           "%6.1f ns/sample  %7.1f MB/s  (%ld samples in %.2f s; check %.0f %zu)\n",
           name, (double)samples / (double)messages,
           total_bytes / MESSAGES, (double)samples / dt, dt * 1e9 / (double)samples,
           (double)bytes / dt / 1e6, samples, dt, k.sum, k.bytes);
    pw_ingest_free(in);
    for (int m = 0; m < MESSAGES; m++)
        pw_buf_release(&msgs[m]);
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "all";
    long target = argc > 2 ? atol(argv[2]) : 5000000;
    if (target <= 0) {
        fprintf(stderr, "usage: bench-ingest [lp|telegraf|collectd|all] [SAMPLES]\n");
        return 2;
    }
    int all = strcmp(what, "all") == 0, rc = 0, any = 0;
    if (all || strcmp(what, "lp") == 0)
        rc |= run("lp", lp_message, 1, target), any = 1;
    if (all || strcmp(what, "telegraf") == 0)
        rc |= run("telegraf", telegraf_message, 0, target), any = 1;
    if (all || strcmp(what, "collectd") == 0)
        rc |= run("collectd", collectd_message, 0, target), any = 1;
    if (!any) {
        fprintf(stderr, "usage: bench-ingest [lp|telegraf|collectd|all] [SAMPLES]\n");
        return 2;
    }
    return rc;
}
