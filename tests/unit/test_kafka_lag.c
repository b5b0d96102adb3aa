/* tests/unit/test_kafka_lag.c — the kafka_lag collector against the
 * development broker (pipewatch-broker, librdkafka's mock cluster), started
 * by each test and stopped at its end.
 *
 * Offsets are committed by a consumer handle in the group that never joins
 * it (rd_kafka_commit with explicit offsets), so every committed offset is
 * exactly known and no test waits for a rebalance; messages go to explicit
 * partitions. Tick timestamps are chosen by the test, so lag rates are
 * exact. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collectors/kafka_lag.h"
#include "common/clock.h"
#include "common/kafka.h"
#include "common/lineproto.h"

#include "tests/unit/collector_check.h"
#include "tests/unit/testing.h"

#define TOPIC "lagt"
#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

struct broker {
    pid_t pid;
    char bootstrap[256];
    char dir[64];
};

static void broker_start(struct broker *b)
{
    const char *build = getenv("PW_BUILD_DIR");
    ck_assert_msg(build, "PW_BUILD_DIR is not set");
    snprintf(b->dir, sizeof b->dir, "/tmp/test_kafka_lag.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(b->dir));
    char exe[1024], file[128];
    snprintf(exe, sizeof exe, "%s/pipewatch-broker", build);
    snprintf(file, sizeof file, "%s/bootstrap", b->dir);
    b->pid = fork();
    ck_assert_int_ge(b->pid, 0);
    if (b->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(exe, exe, "--bootstrap-file", file, "--partitions", "3", "--topics",
              TOPIC, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(file, "r");
        if (f) {
            bool ok = fgets(b->bootstrap, sizeof b->bootstrap, f) != NULL;
            fclose(f);
            if (ok) {
                b->bootstrap[strcspn(b->bootstrap, "\n")] = '\0';
                return;
            }
        }
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    ck_abort_msg("pipewatch-broker did not start within 10 s");
}

static void broker_stop(struct broker *b)
{
    kill(b->pid, SIGTERM);
    waitpid(b->pid, NULL, 0);
    rmdir(b->dir);
}

/* A producer and a consumer handle in `group` that never joins. */
struct clients {
    rd_kafka_t *producer, *committer;
};

static void clients_new(struct clients *cl, const char *bootstrap, const char *group)
{
    struct pw_err err;
    struct pw_kv kv = {"bootstrap.servers", (char *)bootstrap, 0};
    struct pw_kv_list props = {&kv, 1, NULL};
    cl->producer = pw_kafka_producer_new(NULL, &props, NULL, NULL, &err);
    ck_assert_msg(cl->producer, "%s", err.msg);
    cl->committer = pw_kafka_consumer_new(&props, group, &err);
    ck_assert_msg(cl->committer, "%s", err.msg);
}

static void clients_free(struct clients *cl)
{
    rd_kafka_destroy(cl->committer);
    rd_kafka_destroy(cl->producer);
}

static void produce(struct clients *cl, int partition, int n)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(rd_kafka_producev(cl->producer, RD_KAFKA_V_TOPIC(TOPIC),
                                           RD_KAFKA_V_PARTITION(partition),
                                           RD_KAFKA_V_VALUE("m", 1), RD_KAFKA_V_END),
                         0);
    ck_assert_int_eq(rd_kafka_flush(cl->producer, 10000), 0);
}

static void commit(struct clients *cl, int partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, TOPIC, partition)->offset = offset;
    rd_kafka_resp_err_t e = rd_kafka_commit(cl->committer, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    ck_assert_msg(e == 0, "commit: %s", rd_kafka_err2str(e));
}

/* ---- the collector under test -------------------------------------------- */

static void start(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void start(struct run *r, const char *fmt, ...)
{
    char yaml[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof yaml, fmt, ap);
    va_end(ap);
    run_start(r, &pw_kafka_lag_collector, yaml);
}

/* One tick at ts; returns the collector's return code, err in *err. */
static int collect(struct run *r, int64_t ts, struct pw_err *err)
{
    pw_lp_writer_reset(&r->w);
    int rc = r->c.ops->collect(&r->c, ts, &r->w, err);
    pw_lp_batch_reset(r->batch);
    struct pw_err perr;
    int n = pw_lp_parse(r->w.buf.data, r->w.buf.len, 0, r->batch, &perr);
    ck_assert_msg(n >= 0, "collector output does not parse: %s\n%.*s", perr.msg,
                  (int)r->w.buf.len, r->w.buf.data);
    ck_assert_uint_eq((size_t)n, r->w.points);
    return rc;
}

static void collect_ok(struct run *r, int64_t ts)
{
    struct pw_err err;
    ck_assert_msg(collect(r, ts, &err) == 0, "%s", err.msg);
}

/* The point of measurement m whose tags include every (key, value) given,
 * NULL-terminated. */
static const struct pw_lp_point *find(struct run *r, const char *m, ...)
{
    for (size_t i = 0; i < pw_lp_batch_len(r->batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r->batch, i);
        if (!str_is(p->measurement, m))
            continue;
        bool all = true;
        va_list ap;
        va_start(ap, m);
        const char *k;
        while (all && (k = va_arg(ap, const char *)) != NULL) {
            const char *v = va_arg(ap, const char *);
            bool hit = false;
            for (size_t t = 0; t < p->ntags; t++)
                hit |= str_is(p->tags[t].key, k) && str_is(p->tags[t].value, v);
            all = hit;
        }
        va_end(ap);
        if (all)
            return p;
    }
    return NULL;
}

static bool status_is(const struct pw_lp_point *p, const char *want)
{
    const struct pw_lp_field *f = field(p, "status");
    return f && f->type == PW_FIELD_STRING && str_is(f->v.s, want);
}

#define PART(r, g, p) find(r, "kafka_consumer_lag", "group", g, "topic", TOPIC, "partition", p, NULL)
#define GROUP(r, g) find(r, "kafka_consumer_group", "group", g, NULL)

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_lag_is_high_watermark_minus_committed_per_partition)
{
    struct broker b;
    broker_start(&b);
    struct clients cl;
    clients_new(&cl, b.bootstrap, "g1");
    produce(&cl, 0, 10);
    produce(&cl, 1, 10);
    produce(&cl, 2, 7);
    commit(&cl, 0, 4);
    commit(&cl, 1, 10);        /* caught up */
                               /* partition 2: no commit */
    struct run r;
    start(&r, "{brokers: ['%s'], groups: [g1, nobody], timeout: 5s}", b.bootstrap);
    collect_ok(&r, T0);

    const struct pw_lp_point *p0 = PART(&r, "g1", "0"), *p1 = PART(&r, "g1", "1"),
                             *p2 = PART(&r, "g1", "2");
    ck_assert_int_eq(ival(p0, "committed_offset"), 4);
    ck_assert_int_eq(ival(p0, "high_watermark"), 10);
    ck_assert_int_eq(ival(p0, "lag"), 6);
    ck_assert_int_eq(ival(p1, "committed_offset"), 10);
    ck_assert_int_eq(ival(p1, "lag"), 0);
    /* No commit: no committed_offset, lag = everything retained. */
    ck_assert_ptr_null(field(p2, "committed_offset"));
    ck_assert_int_eq(ival(p2, "high_watermark"), 7);
    ck_assert_int_eq(ival(p2, "lag"), 7);
    ck_assert_ptr_null(field(p0, "lag_rate"));   /* first tick: no rate */
    ck_assert_int_eq(p0->ts_ns, T0);

    const struct pw_lp_point *g = GROUP(&r, "g1");
    ck_assert_int_eq(ival(g, "total_lag"), 13);
    ck_assert_int_eq(ival(g, "partitions"), 3);
    ck_assert(status_is(g, "ok"));
    /* A group with no commit anywhere: a group point and no partition. */
    ck_assert_int_eq(ival(GROUP(&r, "nobody"), "total_lag"), 0);
    ck_assert_int_eq(ival(GROUP(&r, "nobody"), "partitions"), 0);
    ck_assert_ptr_null(PART(&r, "nobody", "0"));

    finish(&r);
    clients_free(&cl);
    broker_stop(&b);
}
END_TEST

START_TEST(test_lag_growth_is_lagging_then_stalled_when_commits_stop)
{
    struct broker b;
    broker_start(&b);
    struct clients cl;
    clients_new(&cl, b.bootstrap, "g2");
    produce(&cl, 0, 10);
    commit(&cl, 0, 4);
    struct run r;
    start(&r, "{brokers: ['%s'], groups: [g2], status_window: 3, timeout: 5s}",
          b.bootstrap);
    collect_ok(&r, T0);                       /* lag 6 */
    ck_assert_int_eq(ival(PART(&r, "g2", "0"), "lag"), 6);

    /* The consumer commits, but slower than the producer writes. */
    produce(&cl, 0, 5);
    commit(&cl, 0, 6);
    collect_ok(&r, T0 + 2 * SEC);             /* 15 - 6 = 9 */
    const struct pw_lp_point *p = PART(&r, "g2", "0");
    ck_assert_int_eq(ival(p, "lag"), 9);
    ck_assert_double_eq_tol(fval(p, "lag_rate"), 1.5, 1e-9);   /* +3 in 2 s */
    ck_assert(status_is(GROUP(&r, "g2"), "ok"));               /* 2 of 3 ticks */

    produce(&cl, 0, 5);
    commit(&cl, 0, 8);
    collect_ok(&r, T0 + 3 * SEC);             /* 20 - 8 = 12 */
    p = PART(&r, "g2", "0");
    ck_assert_int_eq(ival(p, "lag"), 12);
    ck_assert_double_eq_tol(fval(p, "lag_rate"), 3.0, 1e-9);
    const struct pw_lp_point *g = GROUP(&r, "g2");
    ck_assert(status_is(g, "lagging"));
    ck_assert_int_eq(ival(g, "status_code"), 1);
    ck_assert_double_eq_tol(fval(g, "lag_rate"), 3.0, 1e-9);

    /* The consumer stops: the committed offset stays at 8 while data keeps
     * coming. The window still sees the move from 6 to 8 one tick later. */
    produce(&cl, 0, 5);
    collect_ok(&r, T0 + 4 * SEC);             /* 25 - 8 = 17 */
    ck_assert(status_is(GROUP(&r, "g2"), "lagging"));
    produce(&cl, 0, 5);
    collect_ok(&r, T0 + 5 * SEC);             /* 30 - 8 = 22; 8, 8, 8 */
    ck_assert_int_eq(ival(PART(&r, "g2", "0"), "lag"), 22);
    g = GROUP(&r, "g2");
    ck_assert(status_is(g, "stalled"));
    ck_assert_int_eq(ival(g, "status_code"), 2);

    /* No more data either: the lag is flat, the consumer still stopped. */
    collect_ok(&r, T0 + 6 * SEC);
    ck_assert_double_eq_tol(fval(PART(&r, "g2", "0"), "lag_rate"), 0.0, 1e-9);
    ck_assert(status_is(GROUP(&r, "g2"), "stalled"));

    /* It catches up: ok again. */
    commit(&cl, 0, 30);
    collect_ok(&r, T0 + 7 * SEC);
    ck_assert_int_eq(ival(PART(&r, "g2", "0"), "lag"), 0);
    ck_assert_double_eq_tol(fval(PART(&r, "g2", "0"), "lag_rate"), -22.0, 1e-9);
    ck_assert(status_is(GROUP(&r, "g2"), "ok"));

    finish(&r);
    clients_free(&cl);
    broker_stop(&b);
}
END_TEST

START_TEST(test_topics_option_reports_partitions_without_commits)
{
    struct broker b;
    broker_start(&b);
    struct clients cl;
    clients_new(&cl, b.bootstrap, "g3");
    produce(&cl, 1, 3);
    struct run r;
    start(&r, "{brokers: ['%s'], groups: [g3], topics: [" TOPIC "], status_window: 2}",
          b.bootstrap);
    collect_ok(&r, T0);
    ck_assert_int_eq(ival(PART(&r, "g3", "1"), "lag"), 3);
    ck_assert_ptr_null(field(PART(&r, "g3", "1"), "committed_offset"));
    ck_assert_int_eq(ival(PART(&r, "g3", "0"), "lag"), 0);
    ck_assert_int_eq(ival(GROUP(&r, "g3"), "partitions"), 3);
    /* Without a commit, a flat backlog is ok and a growing one stalled. */
    collect_ok(&r, T0 + SEC);
    ck_assert(status_is(GROUP(&r, "g3"), "ok"));
    produce(&cl, 1, 2);
    collect_ok(&r, T0 + 2 * SEC);
    ck_assert_int_eq(ival(PART(&r, "g3", "1"), "lag"), 5);
    ck_assert(status_is(GROUP(&r, "g3"), "stalled"));
    finish(&r);
    clients_free(&cl);
    broker_stop(&b);
}
END_TEST

START_TEST(test_dead_cluster_fails_the_tick_within_the_timeout)
{
    struct broker b;
    broker_start(&b);
    struct clients cl;
    clients_new(&cl, b.bootstrap, "g4");
    produce(&cl, 0, 2);
    commit(&cl, 0, 1);
    struct run r;
    start(&r, "{brokers: ['%s'], groups: [g4], timeout: 1s}", b.bootstrap);
    collect_ok(&r, T0);
    clients_free(&cl);
    broker_stop(&b);

    for (int i = 1; i <= 2; i++) {
        struct pw_err err;
        int64_t t0 = pw_mono_ms();
        int rc = collect(&r, T0 + i * SEC, &err);
        int64_t took = pw_mono_ms() - t0;
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err.msg, "tick skipped"), "%s", err.msg);
        ck_assert_msg(took < 2500, "a dead cluster held the tick for %lld ms",
                      (long long)took);
        ck_assert_uint_eq(r.w.points, 0);
    }
    finish(&r);
}
END_TEST

START_TEST(test_all_groups_error_is_reported_and_named_groups_still_collected)
{
    /* The mock cluster of librdkafka 2.0.2 has no ListGroups. */
    struct broker b;
    broker_start(&b);
    struct clients cl;
    clients_new(&cl, b.bootstrap, "g5");
    produce(&cl, 0, 5);
    commit(&cl, 0, 2);
    struct run r;
    start(&r, "{brokers: ['%s'], groups: [g5], all_groups: true}", b.bootstrap);
    struct pw_err err;
    ck_assert_int_eq(collect(&r, T0, &err), -1);
    ck_assert_msg(strstr(err.msg, "listing groups failed") &&
                  strstr(err.msg, "not supported"), "%s", err.msg);
    ck_assert_int_eq(ival(PART(&r, "g5", "0"), "lag"), 3);
    /* Not asked again: the next tick says so and still reports g5. */
    ck_assert_int_eq(collect(&r, T0 + SEC, &err), -1);
    ck_assert_msg(strstr(err.msg, "does not support listing groups"), "%s", err.msg);
    ck_assert_int_eq(ival(PART(&r, "g5", "0"), "lag"), 3);
    finish(&r);
    clients_free(&cl);
    broker_stop(&b);
}
END_TEST

START_TEST(test_start_needs_a_cluster_and_a_group)
{
    const struct pw_collector_ops *ops = &pw_kafka_lag_collector;
    const char *bad[] = {"{groups: [g]}", "{brokers: ['127.0.0.1:1']}",
                         "{brokers: ['127.0.0.1:1'], groups: [g], kafka: {no.such: 1}}"};
    const char *want[] = {"no cluster", "no group", "no.such"};
    for (int i = 0; i < 3; i++) {
        struct pw_err err;
        void *conf = calloc(1, ops->config_size);
        ck_assert(pw_config_load_string("t.yaml", bad[i], strlen(bad[i]), ops->options,
                                        conf, &err) == 0);
        struct pw_collector c = {.ops = ops, .config = conf};
        ck_assert_int_eq(ops->start(&c, &err), -1);
        ck_assert_msg(strstr(err.msg, want[i]), "%s", err.msg);
        ck_assert_ptr_null(c.state);
        pw_config_release(ops->options, conf);
        free(conf);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka_lag");
    TCase *tc = tcase_create("broker");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_lag_is_high_watermark_minus_committed_per_partition);
    tcase_add_test(tc, test_lag_growth_is_lagging_then_stalled_when_commits_stop);
    tcase_add_test(tc, test_topics_option_reports_partitions_without_commits);
    tcase_add_test(tc, test_dead_cluster_fails_the_tick_within_the_timeout);
    tcase_add_test(tc, test_all_groups_error_is_reported_and_named_groups_still_collected);
    tcase_add_test(tc, test_start_needs_a_cluster_and_a_group);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
