/* bench/bench_alerting_dispatch.c — what N active alerts cost the
 * dispatcher (RSS and heap in use), and how fast it takes puts (batched in
 * transactions of BATCH, and one transaction per put) and forms
 * notifications in a tick. Alerts look like the analyzer's: 6 labels,
 * annotations with a ~200-byte evidence JSON; routed by a two-level tree
 * grouping by alertname and cluster, one inhibit rule. The database is a
 * temporary file (synchronous=FULL, so the numbers include fsync). Not a
 * test: it prints figures.
 *
 *   ./build/bench/bench-alerting-dispatch [N] [BATCH] */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alerting/dispatch.h"
#include "common/config.h"
#include <sqlite3.h>

#define S 1000000000LL

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static size_t heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

struct top {
    struct pw_route_conf route;
    struct pw_section_list inhibit_rules;
};

static const struct pw_option top_options[] = {
    {.name = "route", .type = PW_OPT_SECTION,
     .offset = offsetof(struct top, route), .section = pw_route_options},
    {.name = "inhibit_rules", .type = PW_OPT_SECTION_LIST,
     .offset = offsetof(struct top, inhibit_rules),
     .section = pw_inhibit_options},
    {0},
};

static const char yaml[] =
    "route:\n"
    "  receiver: team\n"
    "  group_by: [alertname, cluster]\n"
    "  routes:\n"
    "  - matchers: ['severity=\"critical\"']\n"
    "    receiver: pager\n"
    "  - match_re: {kind: \"forecast|trend\"}\n"
    "    receiver: team\n"
    "inhibit_rules:\n"
    "  - source_matchers: ['severity=\"critical\"']\n"
    "    target_matchers: ['severity=\"warning\"']\n"
    "    equal: [alertname, cluster]\n";

static size_t notified;

static int notify(const struct pw_notification *n, void *user)
{
    (void)user;
    notified += n->n_alerts;
    return 0;
}

static void make(struct pw_alert *a, int i, int64_t now)
{
    static const char *const kinds[] = {"forecast", "trend", "anomaly",
                                        "logs"};
    char v[64], ev[256];
    struct pw_err err = {{0}};
    memset(a, 0, sizeof *a);
    snprintf(v, sizeof v, "Predicted%d", i % 20);
    pw_labels_set(&a->labels, "alertname", v, &err);
    snprintf(v, sizeof v, "host-%05d", i);
    pw_labels_set(&a->labels, "entity", v, &err);
    snprintf(v, sizeof v, "c%d", i % 10);
    pw_labels_set(&a->labels, "cluster", v, &err);
    pw_labels_set(&a->labels, "severity", i % 7 ? "warning" : "critical",
                  &err);
    pw_labels_set(&a->labels, "kind", kinds[i % 4], &err);
    pw_labels_set(&a->labels, "rule", "disk_full", &err);
    pw_labels_set(&a->annotations, "summary", "disk will be full", &err);
    pw_labels_set(&a->annotations, "eta", "in 3 hours", &err);
    pw_labels_set(&a->annotations, "confidence", "0.92", &err);
    snprintf(ev, sizeof ev, "{\"series\":\"disk,host=host-%05d used_percent\","
             "\"forecast\":[91.2,93.4,95.1,97.9],\"limit\":95,"
             "\"model\":\"holt-winters\",\"interval\":[88.1,99.7]}", i);
    pw_labels_set(&a->annotations, "evidence", ev, &err);
    a->starts_at_ns = now;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    int batch = argc > 2 ? atoi(argv[2]) : 500;
    if (n <= 0 || batch <= 0)
        return 2;
    char dir[] = "/tmp/pw_bench_alerting_XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char db[128];
    snprintf(db, sizeof db, "%s/alerts.db", dir);
    struct pw_err err = {{0}};
    struct top t;
    memset(&t, 0, sizeof t);
    if (pw_config_load_string("bench.yaml", yaml, strlen(yaml), top_options,
                              &t, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct pw_route *root = pw_route_build(&t.route, "bench.yaml", "route",
                                           NULL, 0, &err);
    struct pw_inhibit_rules rules;
    if (!root || pw_inhibit_build(t.inhibit_rules.items, t.inhibit_rules.len,
                                  "bench.yaml", "inhibit_rules", &rules,
                                  &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int64_t t0 = 1764800000LL * S;
    struct pw_dispatch_conf c = {.db_path = db, .route = root,
                                 .inhibit = &rules, .notify = notify};
    struct pw_dispatch *d = pw_dispatch_open(&c, t0, &err);
    if (!d) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    long rss0 = rss_kib();
    size_t heap0 = heap_bytes();
    int64_t sq0 = sqlite3_memory_used();

    double a = now_s();
    for (int i = 0; i < n; i += batch) {
        pw_dispatch_begin(d, &err);
        for (int j = i; j < i + batch && j < n; j++) {
            struct pw_alert al;
            make(&al, j, t0);
            if (pw_dispatch_put(d, &al, t0, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            pw_alert_free(&al);
        }
        if (pw_dispatch_commit(d, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    double put_s = now_s() - a;
    long rss1 = rss_kib();
    size_t heap1 = heap_bytes();
    int64_t sq1 = sqlite3_memory_used();

    /* one transaction (one fsync) per put: the cost of not batching */
    int single = n < 200 ? n : 200;
    a = now_s();
    for (int j = 0; j < single; j++) {
        struct pw_alert al;
        make(&al, j, t0 + S);
        pw_dispatch_put(d, &al, t0 + S, &err);
        pw_alert_free(&al);
    }
    double single_s = now_s() - a;

    a = now_s();
    int notes = pw_dispatch_tick(d, t0 + 30 * S, &err);
    double tick_s = now_s() - a;
    a = now_s();
    int idle = pw_dispatch_tick(d, t0 + 330 * S, &err);
    double idle_s = now_s() - a;

    printf("alerts: %d in %zu groups\n", n, pw_dispatch_group_count(d));
    double ours = (double)(heap1 - heap0) - (double)(sq1 - sq0);
    printf("memory: %.1f MiB of heap for %d alerts (%.0f bytes/alert), "
           "SQLite %.1f MiB more (page cache); RSS %.1f MiB -> %.1f MiB\n",
           ours / 1048576.0, n, ours / n, (double)(sq1 - sq0) / 1048576.0,
           rss0 / 1024.0, rss1 / 1024.0);
    printf("put: %.0f alerts/s in transactions of %d (%.3f s)\n", n / put_s,
           batch, put_s);
    printf("put: %.0f alerts/s with one transaction each (%d puts)\n",
           single / single_s, single);
    printf("tick (first flush): %d notifications holding %zu alerts (the "
           "other %zu inhibited) in %.3f s = %.0f alerts/s\n", notes,
           notified, (size_t)n - notified, tick_s, n / tick_s);
    printf("tick (group_interval, nothing new): %d notifications in %.3f s\n",
           idle, idle_s);
    pw_dispatch_close(d);
    pw_inhibit_free(&rules);
    pw_route_free(root);
    pw_config_release(top_options, &t);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
