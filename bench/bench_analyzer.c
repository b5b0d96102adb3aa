/* bench/bench_analyzer.c — the analyzer's speed and memory. Not a test.
 *
 *   memory [SERIES]
 *       The engine alone (no Kafka): SERIES series (default 1 M), 20 per
 *       entity as a host has them, one in 20 watched by a forecast rule
 *       (disk.used_percent), each fed 3 samples. Prints resident memory
 *       per series (from /proc, anonymous pages) next to what the state
 *       says it holds, and the forecast state's share.
 *
 *   kafka BOOTSTRAP [SAMPLES] [PROBES]
 *       One whole analyzer (pw_analyzer, as pipewatch-analyzer runs it)
 *       fed from a broker (bench/analyzer.sh starts the development
 *       broker): SAMPLES samples (default 5 M) are first produced as
 *       50-line line protocol messages keyed by entity (1000 hosts, the
 *       host collector's shapes, a forecast rule on disk and two anomaly
 *       features), then consumed: samples/s over wall time and over the
 *       analyzer thread's CPU time (parse, state update, rules; librdkafka's
 *       fetch threads are counted apart, from the process's CPU time).
 *       Then PROBES (default 200) latency probes, 50 ms apart: each is one
 *       message whose samples drive a fresh entity past a forecast
 *       rule's threshold; the time from producing it to reading the
 *       prediction back from pipewatch.predictions is measured: p50, p99
 *       (after one untimed probe: the first produce to a topic waits for
 *       its metadata). The analyzer's config sets fetch.wait.max.ms: 10:
 *       the development broker holds every fetch for its whole wait (a
 *       real broker answers as soon as fetch.min.bytes is there), so with
 *       librdkafka's 500 ms default the figure would be the mock's.
 *       BENCH_VERBOSE=1 prints every probe.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "analyzer/analyzer.h"
#include "analyzer/config.h"
#include "analyzer/engine.h"
#include "common/buf.h"
#include "common/log.h"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Anonymous resident kB (RssAnon): the process's own memory, without the
 * shared libraries' pages. */
static long rss_anon_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench-analyzer: %s: %s\n", what, why);
    exit(1);
}

/* ---- memory ---------------------------------------------------------- */

static void on_nothing(const struct pw_prediction *p, void *arg) { (void)p; (void)arg; }

static void feed(struct pw_engine *e, const char *entity, const char *series, double v,
                 int64_t ts)
{
    struct pw_sample s;
    s.entity = (struct pw_str){entity, strlen(entity)};
    s.series = (struct pw_str){series, strlen(series)};
    s.measurement = (struct pw_str){series, strcspn(series, ", ")};
    const char *field = strrchr(series, ' ') + 1;
    s.field = (struct pw_str){field, strlen(field)};
    s.value = v;
    s.ts_ns = ts;
    pw_engine_sample(e, &s, 0);
}

static int bench_memory(long nseries)
{
    struct pw_err err = {{0}};
    struct pw_engine_rule rule = {.name = "disk_full", .severity = "warning",
                                  .clear_for_ms = 600000};
    if (pw_rule_parse("disk.used_percent > 95 within 6h", &rule.rule, &err) < 0)
        die("rule", err.msg);
    struct pw_engine_config c = {
        .rules = &rule, .nrules = 1, .eval_interval_ms = 60000,
        .refresh_ms = 3600000, .trend_capacity = 120,
    };
    pw_hw_model_default(&c.default_model, 0, 10, false);
    long before = rss_anon_kb();
    struct pw_engine *e = pw_engine_new(&c, NULL, on_nothing, NULL, &err);
    if (!e)
        die("engine", err.msg);
    const int per_entity = 20;
    long nentities = nseries / per_entity;
    char entity[32], series[128];
    double t0 = mono_s();
    long samples = 0;
    for (int round = 0; round < 3; round++) {
        int64_t ts = 1700000000000000000LL + (int64_t)round * 10000000000LL;
        for (long en = 0; en < nentities; en++) {
            snprintf(entity, sizeof entity, "node-%06ld", en);
            for (int s = 0; s < per_entity; s++) {
                if (s == 0)
                    snprintf(series, sizeof series,
                             "disk,host=%s,path=/ used_percent", entity);
                else
                    snprintf(series, sizeof series,
                             "cpu,cpu=cpu%d,host=%s usage_user", s, entity);
                feed(e, entity, series, 40.0 + s + round, ts);
                samples++;
            }
        }
    }
    double dt = mono_s() - t0;
    long after = rss_anon_kb();
    struct pw_state *st = pw_engine_state(e);
    size_t held = pw_state_series_count(st);
    double rss_per = (double)(after - before) * 1024.0 / (double)held;
    printf("series held            %zu (%zu entities, %zu watched by the rule)\n", held,
           pw_state_entities(st), pw_state_watches(st));
    printf("forecast state/series  %zu B (Holt-Winters state in the series record)\n",
           sizeof(struct pw_hw_state));
    printf("state says it holds    %.1f MiB, %.0f B/series\n",
           (double)pw_state_bytes(st) / 1048576.0, (double)pw_state_bytes(st) / (double)held);
    printf("resident (anonymous)   %.1f MiB for the engine, %.0f B/series\n",
           (double)(after - before) / 1024.0, rss_per);
    printf("1 M series would take  %.0f MiB resident\n", rss_per * 1e6 / 1048576.0);
    printf("samples in             %ld in %.2f s: %.2f M samples/s (state only, no parse)\n",
           samples, dt, (double)samples / dt / 1e6);
    pw_engine_free(e);
    pw_rule_release(&rule.rule);
    return 0;
}

/* ---- kafka ------------------------------------------------------------ */

#define HOSTS 1000
#define LINES 50
static const long long T0 = 1700000000000000000LL;

/* One 50-line message for host h at collection number k: the host
 * collector's shapes (cpu per core, mem, disk, net). Returns its samples. */
static int host_message(struct pw_buf *b, int h, long k)
{
    long long ts = T0 + (long long)k * 10000000000LL;
    int samples = 0;
    for (int i = 0; i < LINES; i++) {
        switch (i % 4) {
        case 0:
            pw_buf_printf(b, "cpu,cpu=cpu%d,host=node-%04d usage_user=%d.%02d,"
                          "usage_system=%d.5,usage_iowait=0.%d %lld\n",
                          i / 4, h, 10 + i % 50, (int)(k % 100), i % 7, i % 10, ts);
            samples += 3;
            break;
        case 1:
            pw_buf_printf(b, "mem,host=node-%04d,slot=%d used_percent=%d.125,"
                          "available=%ldi %lld\n", h, i, 40 + i % 30, 1000000L + i * k, ts);
            samples += 2;
            break;
        case 2:
            pw_buf_printf(b, "disk,host=node-%04d,path=/d%d used_percent=%.3f,"
                          "free=%ldi,inodes_used=%di %lld\n",
                          h, i, 50.0 + (double)k * 0.001, 900000000L - k, 1000 + i, ts);
            samples += 3;
            break;
        default:
            pw_buf_printf(b, "net,host=node-%04d,interface=eth%d bytes_recv=%ldi,"
                          "bytes_sent=%ldi,err_in=0i,drop_in=%di %lld\n",
                          h, i, 1000L * k, 700L * k, (int)(k % 3), ts);
            samples += 4;
            break;
        }
    }
    return samples;
}

static rd_kafka_t *producer(const char *boot, const char *linger)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", linger, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "compression.codec", "lz4", errstr, sizeof errstr))
        die("producer config", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        die("producer", errstr);
    return rk;
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key, const struct pw_buf *b)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE(b->data, b->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(rk, 10);
            continue;
        }
        if (e)
            die("produce", rd_kafka_err2str(e));
        return;
    }
}

/* Reads pipewatch.predictions from its end, for the latency probes. */
static rd_kafka_t *predictions_reader(const char *boot)
{
    char errstr[512], group[64];
    snprintf(group, sizeof group, "bench-reader-%d", (int)getpid());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof errstr))
        die("reader config", errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk)
        die("reader", errstr);
    rd_kafka_poll_set_consumer(rk);
    /* Assigned, not subscribed: no group join to wait for, so that the
     * first probes do not measure the reader's start. */
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, "pipewatch.predictions", NULL);
    if (rd_kafka_metadata(rk, 0, topic, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].partition_cnt < 1)
        die("reader", "no metadata for pipewatch.predictions");
    rd_kafka_topic_partition_list_t *t = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(t, "pipewatch.predictions", i)->offset =
            RD_KAFKA_OFFSET_END;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(topic);
    if (rd_kafka_assign(rk, t))
        die("reader", "cannot assign");
    rd_kafka_topic_partition_list_destroy(t);
    return rk;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_kafka(const char *boot, long want_samples, int probes)
{
    pw_log_set_level(PW_WARN);
    char dir[] = "/tmp/bench-analyzer.XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp", "failed");
    char path[256];
    snprintf(path, sizeof path, "%s/analyzer.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die(path, "cannot write");
    fprintf(f,
            "log_level: warning\n"
            "kafka:\n  bootstrap.servers: \"%s\"\n  fetch.wait.max.ms: 10\n"
            "group_id: bench-%d\n"
            "checkpoint:\n  interval: 5s\n"
            "forecast:\n  eval_interval: 1m\n"
            "features: [cpu.usage_iowait, mem.used_percent]\n"
            "rules:\n"
            "  - name: disk_full\n    expr: 'disk.used_percent > 95 within 6h'\n"
            "  - name: probe\n    expr: 'probe.value > 100 within 1h'\n"
            "    severity: critical\n",
            boot, (int)getpid());
    fclose(f);

    struct pw_err err = {{0}};
    struct pw_analyzer_config cfg;
    if (pw_analyzer_config_load(path, true, &cfg, &err) < 0)
        die("config", err.msg);
    struct pw_analyzer *a = pw_analyzer_new(&cfg, &err);
    if (!a)
        die("analyzer", err.msg);
    const struct pw_engine_stats *st = pw_engine_stats(pw_analyzer_engine(a));
    long rss0 = rss_anon_kb();

    /* One message first, so that the analyzer has joined the group and
     * holds its partitions; then the bulk, produced while the analyzer
     * does not run (it is one thread: it consumes only inside
     * pw_analyzer_step), so that the clock measures consumption alone. */
    rd_kafka_t *prod = producer(boot, "20");
    struct pw_buf b;
    pw_buf_init(&b);
    char key[32];
    host_message(&b, HOSTS, 0);
    snprintf(key, sizeof key, "node-%04d", HOSTS);
    produce(prod, "pipewatch.metrics", key, &b);
    rd_kafka_flush(prod, 10000);
    while (st->samples == 0)
        pw_analyzer_step(a, 50);
    uint64_t warm = st->samples;
    long produced = 0, messages = 0;
    double tp = mono_s();
    for (long k = 0; produced < want_samples; k++)
        for (int h = 0; h < HOSTS && produced < want_samples; h++) {
            b.len = 0;
            produced += host_message(&b, h, k);
            snprintf(key, sizeof key, "node-%04d", h);
            produce(prod, "pipewatch.metrics", key, &b);
            messages++;
            rd_kafka_poll(prod, 0);
        }
    if (rd_kafka_flush(prod, 120000))
        die("produce", "not everything was acknowledged in 120 s");
    printf("produced               %ld samples in %ld messages of %d lines (%.1f s)\n",
           produced, messages, LINES, mono_s() - tp);
    double w0 = mono_s(), c0 = cpu_s(CLOCK_THREAD_CPUTIME_ID), p0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    uint64_t s0 = st->samples;
    double deadline = w0 + 600;
    while (st->samples - warm < (uint64_t)produced && mono_s() < deadline)
        pw_analyzer_step(a, 50);
    double w1 = mono_s(), c1 = cpu_s(CLOCK_THREAD_CPUTIME_ID), p1 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    double n = (double)(st->samples - s0);
    if (st->samples - warm < (uint64_t)produced)
        printf("NOT ALL CONSUMED: %llu of %ld samples in 600 s\n",
               (unsigned long long)(st->samples - warm), produced);
    printf("consumed               %.0f samples in %.2f s wall: %.2f M samples/s\n",
           n, w1 - w0, n / (w1 - w0) / 1e6);
    printf("analyzer thread CPU    %.2f s: %.2f M samples/s per core (parse, state, rules)\n",
           c1 - c0, n / (c1 - c0) / 1e6);
    printf("process CPU            %.2f s (librdkafka's threads: %.2f s)\n", p1 - p0,
           (p1 - p0) - (c1 - c0));
    printf("state                  %zu series, %zu entities; RSS anon %.1f MiB (+%.1f MiB)\n",
           pw_state_series_count(pw_engine_state(pw_analyzer_engine(a))),
           pw_state_entities(pw_engine_state(pw_analyzer_engine(a))),
           (double)rss_anon_kb() / 1024.0, (double)(rss_anon_kb() - rss0) / 1024.0);

    /* Latency probes: produce, then step the analyzer and read the
     * predictions topic in turns (one thread: the analyzer works while
     * the reader waits, as two processes would). */
    rd_kafka_t *reader = predictions_reader(boot);
    rd_kafka_t *fast = producer(boot, "0");
    double *sent = calloc((size_t)probes, sizeof *sent);
    double *lat = calloc((size_t)probes, sizeof *lat);
    /* One probe first, untimed: the first produce to a topic waits for
     * its metadata (the probe producer's and the analyzer's), a start-up
     * cost of seconds on the development broker, not a latency. */
    b.len = 0;
    for (int i = 0; i < 30; i++)
        pw_buf_printf(&b, "probe,host=probe-warm value=%d %lld\n", i * 5,
                      T0 + 86400000000000LL + (long long)i * 60000000000LL);
    produce(fast, "pipewatch.metrics", "probe-warm", &b);
    for (double until = mono_s() + 30; mono_s() < until;) {
        pw_analyzer_step(a, 2);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 2);
        bool back = m && !m->err && m->key_len == 10 && !memcmp(m->key, "probe-warm", 10);
        if (m)
            rd_kafka_message_destroy(m);
        if (back)
            break;
    }
    int got = 0, next = 0;
    double tnext = mono_s();
    double end = tnext + probes * 0.05 + 30;
    while (got < probes && mono_s() < end) {
        if (next < probes && mono_s() >= tnext) {
            b.len = 0;
            snprintf(key, sizeof key, "probe-%d", next);
            /* 30 samples a minute apart from 0 to 145: past 100 at the
             * 21st, heading there well within the hour before that. */
            for (int i = 0; i < 30; i++)
                pw_buf_printf(&b, "probe,host=%s value=%d %lld\n", key, i * 5,
                              T0 + 86400000000000LL + (long long)i * 60000000000LL);
            sent[next] = mono_s();
            produce(fast, "pipewatch.metrics", key, &b);
            rd_kafka_poll(fast, 0);
            next++;
            tnext += 0.05;
        }
        pw_analyzer_step(a, 2);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(reader, 2);
        if (!m)
            continue;
        if (!m->err && m->key_len > 6 && !memcmp(m->key, "probe-", 6)) {
            int i = atoi((const char *)m->key + 6);
            json_t *j = json_loadb(m->payload, m->len, 0, NULL);
            const char *status = j ? json_string_value(json_object_get(j, "status")) : NULL;
            if (i >= 0 && i < probes && sent[i] > 0 && lat[i] == 0 && status &&
                !strcmp(status, "firing")) {
                lat[i] = mono_s() - sent[i];
                got++;
            }
            json_decref(j);
        }
        rd_kafka_message_destroy(m);
    }
    if (getenv("BENCH_VERBOSE"))
        for (int i = 0; i < probes; i++)
            printf("probe %d %.1f ms\n", i, lat[i] * 1e3);
    double *sorted = calloc((size_t)probes, sizeof *sorted);
    int k = 0;
    for (int i = 0; i < probes; i++)
        if (lat[i] > 0)
            sorted[k++] = lat[i];
    qsort(sorted, (size_t)k, sizeof *sorted, cmp_double);
    if (k)
        printf("produce -> prediction  %d of %d probes: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
               k, probes, sorted[(k - 1) / 2] * 1e3,
               sorted[(int)ceil(0.99 * k) - 1] * 1e3, sorted[k - 1] * 1e3);
    else
        printf("produce -> prediction  no probe's prediction came back\n");

    free(sent);
    free(lat);
    free(sorted);
    rd_kafka_destroy(reader);
    rd_kafka_flush(fast, 5000);
    rd_kafka_destroy(fast);
    rd_kafka_destroy(prod);
    pw_analyzer_close(a);
    pw_analyzer_free(a);
    pw_analyzer_config_release(&cfg);
    pw_buf_release(&b);
    unlink(path);
    rmdir(dir);
    return k == probes ? 0 : 3;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "memory"))
        return bench_memory(argc > 2 ? atol(argv[2]) : 1000000);
    if (argc >= 3 && !strcmp(argv[1], "kafka"))
        return bench_kafka(argv[2], argc > 3 ? atol(argv[3]) : 5000000,
                           argc > 4 ? atoi(argv[4]) : 200);
    fprintf(stderr, "usage: bench-analyzer memory [SERIES]\n"
                    "       bench-analyzer kafka BOOTSTRAP [SAMPLES] [PROBES]\n"
                    "       (./bench/analyzer.sh starts a broker and runs both)\n");
    return 2;
}
