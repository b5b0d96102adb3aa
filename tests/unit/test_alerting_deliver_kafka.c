/* tests/unit/test_alerting_deliver_kafka.c — the deliverer's Kafka and log
 * receivers: a notification produced to a topic on librdkafka's mock cluster
 * is sent once the broker acknowledges it (the producer's delivery reports
 * forwarded to pw_deliver_kafka_report), the log receiver's delivery is sent
 * at once, a Kafka config without a producer fails as bad_request, and the
 * counters reach the metrics text. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/deliver.h"
#include "alerting/outbox.h"
#include "alerting/receiver.h"
#include "common/clock.h"
#include "common/kafka.h"
#include "tests/unit/alerting_fixture.h"
#include "tests/unit/testing.h"

struct rcfg {
    struct pw_section_list receivers;
};
static const struct pw_option rtable[] = {
    {"receivers", PW_OPT_SECTION_LIST, offsetof(struct rcfg, receivers), NULL,
     false, 0, 100, pw_receiver_options, "r"},
    {0},
};

static const char yaml[] =
    "receivers:\n"
    "  - name: k\n"
    "    kafka_configs: [{topic: pipewatch.alerts}]\n"
    "    log_configs: [{level: info}]\n";

struct ctx {
    struct pw_deliver *d;
    int others;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct ctx *c = opaque;
    if (!pw_deliver_kafka_report(c->d, m))
        c->others++;
}

static char dbpath[64];

static void cleanup_db(void)
{
    char p[80];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
}

static void run(bool with_producer, struct pw_deliver_stats *st, char **metrics)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/pw_dk_XXXXXX");
    int fd = mkstemp(dbpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(dbpath);
    struct rcfg c = {0};
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_config_load_string("r.yaml", yaml, strlen(yaml), rtable,
                                           &c, &err), 0);
    struct pw_receivers *r = pw_receivers_new("r.yaml", &c.receivers, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    struct pw_outbox *ob = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_msg(ob != NULL, "%s", err.msg);
    struct ctx cx = {0};
    rd_kafka_t *rk = NULL;
    if (with_producer) {
        static const char *const defaults[] = {"test.mock.num.brokers", "1",
                                               NULL};
        rk = pw_kafka_producer_new(defaults, NULL, dr_cb, &cx, &err);
        ck_assert_msg(rk != NULL, "%s", err.msg);
    }
    cx.d = pw_deliver_new(ob, r, rk, NULL, &err);
    ck_assert_msg(cx.d != NULL, "%s", err.msg);

    struct pw_alert a;
    fx_alert(&a, "DiskWillFill", "db-1", true);
    struct pw_labels g = {0};
    fx_set(&g, "entity", "db-1");
    struct pw_notification n = {
        .receiver = "k", .group_key = "{}:{entity=\"db-1\"}",
        .group_labels = &g, .alerts = &a, .n_alerts = 1,
        .idempotency_key = "key-1",
    };
    ck_assert_int_eq(pw_outbox_enqueue(ob, &n, &err), 0);
    ck_assert_int_eq(pw_outbox_enqueued(ob), 2);
    fx_alert_free(&a);
    fx_labels_free(&g);

    int64_t deadline = pw_mono_ns() + 20 * (int64_t)1000000000;
    while (pw_mono_ns() < deadline &&
           pw_outbox_count(ob, PW_DELIVERY_PENDING) > 0) {
        ck_assert_int_eq(pw_deliver_poll(cx.d, pw_realtime_ns(), 10, &err), 0);
        if (rk)
            rd_kafka_poll(rk, 10);
    }
    pw_deliver_get_stats(cx.d, st);
    size_t len = 0;
    FILE *mf = open_memstream(metrics, &len);
    pw_deliver_write_metrics(cx.d, mf);
    fclose(mf);
    ck_assert_int_eq(cx.others, 0);
    if (rk) {
        rd_kafka_flush(rk, 5000);
        rd_kafka_destroy(rk);
    }
    pw_deliver_free(cx.d);
    pw_outbox_close(ob);
    pw_receivers_free(r);
    pw_config_release(rtable, &c);
    cleanup_db();
}

START_TEST(test_deliver_kafka_and_log_receivers_are_sent)
{
    struct pw_deliver_stats st;
    char *metrics = NULL;
    run(true, &st, &metrics);
    ck_assert_int_eq(st.sent, 2);
    ck_assert_int_eq(st.pending, 0);
    ck_assert_int_eq(st.in_flight, 0);
    ck_assert_ptr_nonnull(strstr(metrics, "pipewatch_alert_deliveries_sent_total 2\n"));
    ck_assert_ptr_nonnull(strstr(metrics,
        "pipewatch_alert_delivery_failures_total{reason=\"http_4xx\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(metrics, "pipewatch_alert_deliveries_pending 0\n"));
    free(metrics);
}
END_TEST

START_TEST(test_deliver_kafka_without_a_producer_fails_as_bad_request)
{
    struct pw_deliver_stats st;
    char *metrics = NULL;
    run(false, &st, &metrics);
    ck_assert_int_eq(st.sent, 1);   /* the log receiver */
    ck_assert_int_eq(st.failed[PW_FAIL_BAD_REQUEST], 1);
    ck_assert_ptr_nonnull(strstr(metrics,
        "pipewatch_alert_delivery_failures_total{reason=\"bad_request\"} 1\n"));
    free(metrics);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("alerting_deliver_kafka");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_deliver_kafka_and_log_receivers_are_sent);
    tcase_add_test(tc, test_deliver_kafka_without_a_producer_fails_as_bad_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(suite());
}
