/* bench/bench_logtail.c — the log tail collector on one thread, in process.
 *
 *   bench-logtail [LINES] [DIR]
 *
 * Writes a log file of LINES lines (default 2 000 000; ~110 bytes each,
 * web-server-like, a few with characters to escape and non-ASCII) in DIR
 * (default /tmp), then runs the collector over it from the beginning:
 *   read     records encoded into messages that emit() only counts: the
 *            collector's own cost (read, split, JSON-escape, batch);
 *   multiline the same with a multiline start pattern (PCRE2, JIT);
 *   spool    emit() appends each message to the agent's SQLite spool and
 *            a drain deletes it again, as Kafka's acknowledgements do: the
 *            agent's path minus librdkafka (bench/logtail.sh runs the
 *            whole agent against the development broker).
 * For each: lines/s of CPU time (one thread) and of wall time, MB/s, the
 * messages and their mean size; then the process's peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agent/spool.h"
#include "collectors/logtail.h"
#include "common/config.h"

struct counter {
    uint64_t messages, bytes, records;
    struct pw_spool *spool;
    int64_t last_seq;
};

static int count_emit(void *arg, const char *msg, size_t len, struct pw_err *err)
{
    struct counter *k = arg;
    if (k->spool) {
        int64_t seq;
        if (pw_spool_append(k->spool, "pipewatch.logs", "bench", 5, msg, len, &seq,
                            err) < 0)
            return -1;
        /* The sender reads it back and Kafka acknowledges it. */
        struct pw_spool_record rec;
        if (pw_spool_next(k->spool, k->last_seq, &rec, err) == 1) {
            k->last_seq = rec.seq;
            pw_spool_ack(k->spool, rec.seq, err);
        }
    }
    k->messages++;
    k->bytes += len;
    for (const char *p = msg; (p = memchr(p, '\n', (size_t)(msg + len - p))); p++)
        k->records++;
    return 0;
}

static double now_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void write_file(const char *path, long lines)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    static const char *const paths[] = {"/api/orders", "/api/users/42", "/static/app.js",
                                        "/healthz", "/api/search?q=caf\xc3\xa9"};
    for (long i = 0; i < lines; i++) {
        if (i % 1000 == 999)
            fprintf(f, "2026-12-04T12:00:%02ld.%06ldZ WARN worker-%ld \"slow\" request\t"
                       "took %ld ms \\ retry\n", i / 1000 % 60, i % 1000000, i % 16, i % 997);
        else
            fprintf(f, "2026-12-04T12:00:%02ld.%06ldZ INFO 10.0.%ld.%ld GET %s 200 %ld "
                       "bytes in %ld us\n", i / 1000 % 60, i % 1000000, i % 256, i % 200,
                    paths[i % 5], 100 + i % 9000, 50 + i % 5000);
    }
    fclose(f);
}

static void run(const char *name, const char *dir, const char *extra, bool spool,
                long lines, off_t size)
{
    char yaml[1024], state[512], spath[512];
    snprintf(state, sizeof state, "%s/bench-logtail.state", dir);
    snprintf(spath, sizeof spath, "%s/bench-logtail-spool.db", dir);
    unlink(state);
    unlink(spath);
    snprintf(yaml, sizeof yaml,
             "enabled: true\nfrom_beginning: true\nstate_file: %s\nfiles:\n"
             "  - path: %s/bench-logtail.log\n%s", state, dir, extra);
    const struct pw_collector_ops *ops = &pw_logtail_collector;
    void *conf = calloc(1, ops->config_size);
    struct pw_err err;
    if (pw_config_load_string("bench", yaml, strlen(yaml), ops->options, conf, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    struct counter k = {0};
    if (spool && !(k.spool = pw_spool_open(spath, 1LL << 30, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    struct pw_collector c = {.ops = ops, .config = conf};
    struct pw_log_out out = {.entity = "bench-host", .max_message_bytes = 256 * 1024,
                             .emit = count_emit, .arg = &k};
    double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    if (ops->start(&c, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    while ((long)k.records < lines) {
        if (ops->collect_logs(&c, &out, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        if (ops->logs_wait_ms(&c) > 0 && (long)k.records < lines)
            usleep(1000);   /* the last multiline record waits for its timeout */
    }
    double cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0, wall = now_s(CLOCK_MONOTONIC) - w0;
    ops->stop(&c);
    pw_spool_close(k.spool);
    pw_config_release(ops->options, conf);
    free(conf);
    unlink(state);
    unlink(spath);
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", spath);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", spath);
    unlink(wal);
    printf("%-10s %9.0f lines/s CPU  %9.0f lines/s wall  %6.1f MB/s read  "
           "%llu records in %llu messages (mean %.0f KiB)\n",
           name, lines / cpu, lines / wall, size / cpu / 1e6,
           (unsigned long long)k.records, (unsigned long long)k.messages,
           k.messages ? k.bytes / 1024.0 / k.messages : 0.0);
}

int main(int argc, char **argv)
{
    long lines = argc > 1 ? atol(argv[1]) : 2000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/bench-logtail.log", dir);
    write_file(path, lines);
    FILE *f = fopen(path, "r");
    fseek(f, 0, SEEK_END);
    off_t size = ftello(f);
    fclose(f);
    printf("bench-logtail: %ld lines, %.1f MB, one thread, 256 KiB messages\n", lines,
           size / 1e6);
    /* Once to warm the page cache. */
    run("(warm-up)", dir, "", false, lines, size);
    run("read", dir, "", false, lines, size);
    run("multiline", dir, "    multiline_start: '^\\d{4}-\\d\\d-\\d\\dT'\n"
                          "multiline_timeout: 10ms\n", false, lines, size);
    run("spool", dir, "", true, lines, size);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %ld KiB\n", ru.ru_maxrss);
    unlink(path);
    return 0;
}
