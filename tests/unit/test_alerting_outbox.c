/* tests/unit/test_alerting_outbox.c — the persistent outbox: one row per
 * (idempotency key, receiver, config) however often a notification is
 * enqueued, in WAL mode, surviving a reopen; due rows, in-flight skipping,
 * retries in the future, sent and failed states, pruning; an unknown
 * receiver stores nothing. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/outbox.h"
#include "alerting/receiver.h"
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
    "  - name: oncall\n"
    "    webhook_configs: [{url: 'http://127.0.0.1:9/a'}, {url: 'http://127.0.0.1:9/b'}]\n"
    "    slack_configs: [{api_url: 'http://127.0.0.1:9/s'}]\n"
    "  - name: quiet\n";

static struct pw_receivers *receivers(void)
{
    struct rcfg c = {0};
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_config_load_string("r.yaml", yaml, strlen(yaml), rtable,
                                           &c, &err), 0);
    struct pw_receivers *r = pw_receivers_new("r.yaml", &c.receivers, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    pw_config_release(rtable, &c);
    return r;
}

static char dbpath[64];

static void setup(void)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/pw_outbox_XXXXXX");
    int fd = mkstemp(dbpath);
    ck_assert_int_ge(fd, 0);
    close(fd);
    unlink(dbpath);
}

static void teardown(void)
{
    char p[80];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
}

/* Enqueues notification `key` (one alert, firing unless resolved). */
static int enqueue(struct pw_outbox *o, const char *receiver, const char *key,
                   bool firing, struct pw_err *err)
{
    struct pw_alert a;
    fx_alert(&a, "DiskWillFill", "db-1", firing);
    struct pw_labels g = {0};
    fx_set(&g, "entity", "db-1");
    struct pw_notification n = {
        .receiver = receiver, .group_key = "{}:{entity=\"db-1\"}",
        .group_labels = &g, .alerts = &a, .n_alerts = 1,
        .idempotency_key = key, .now_ns = 1000,
    };
    /* The number of deliveries newly stored, or -1. */
    uint64_t before = pw_outbox_enqueued(o);
    int rc = pw_outbox_enqueue(o, &n, err);
    if (rc == 0)
        rc = (int)(pw_outbox_enqueued(o) - before);
    else
        ck_assert_int_eq(pw_outbox_enqueued(o), before);
    fx_alert_free(&a);
    fx_labels_free(&g);
    return rc;
}

START_TEST(test_outbox_same_notification_is_stored_once)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    struct pw_outbox *o = pw_outbox_open(dbpath, r, "http://am/", &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 3);
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 0);
    ck_assert_int_eq(pw_outbox_enqueued(o), 3);
    ck_assert_int_eq(enqueue(o, "oncall", "k2", true, &err), 3);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 6);
    /* Resolved-only: Slack (send_resolved false by default) gets nothing. */
    ck_assert_int_eq(enqueue(o, "oncall", "k3", false, &err), 2);
    /* A receiver with no configs stores nothing, and that is no error. */
    ck_assert_int_eq(enqueue(o, "quiet", "k4", true, &err), 0);
    pw_outbox_close(o);

    /* Reopened (a restart): the rows are there, the keys still known. */
    o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 8);
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 0);
    pw_outbox_close(o);
    pw_receivers_free(r);
}
END_TEST

START_TEST(test_outbox_is_wal_and_unique)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    struct pw_outbox *o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 3);
    pw_outbox_close(o);
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* The database itself refuses a second row for the same delivery. */
    int rc = sqlite3_exec(db,
        "INSERT INTO delivery (idempotency_key, receiver, config, group_key,"
        " body, created_ns, next_attempt_ns)"
        " VALUES ('k1', 'oncall', 'webhook[0]', '', 'x', 0, 0)",
        NULL, NULL, NULL);
    ck_assert_int_eq(rc, SQLITE_CONSTRAINT);
    sqlite3_close(db);
    pw_receivers_free(r);
}
END_TEST

START_TEST(test_outbox_unknown_receiver_or_key_stores_nothing)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    struct pw_outbox *o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_int_eq(enqueue(o, "nobody", "k1", true, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no receiver called \"nobody\""));
    ck_assert_int_eq(enqueue(o, "oncall", "", true, &err), -1);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 0);
    pw_outbox_close(o);
    pw_receivers_free(r);
}
END_TEST

START_TEST(test_outbox_due_retry_sent_failed_prune)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    struct pw_outbox *o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 3);
    struct pw_delivery d[8];
    int n = pw_outbox_due(o, 1000, NULL, 0, NULL, NULL, d, 8, &err);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(d[0].idempotency_key, "k1");
    ck_assert_str_eq(d[0].receiver, "oncall");
    ck_assert_str_eq(d[0].config, "webhook[0]");
    ck_assert_str_eq(d[2].config, "slack[0]");
    ck_assert_ptr_nonnull(strstr(d[0].body, "\"idempotencyKey\":\"k1\""));
    ck_assert_uint_eq(d[0].body_len, strlen(d[0].body));
    int64_t ids[3] = {d[0].id, d[1].id, d[2].id};
    for (int i = 0; i < n; i++)
        pw_delivery_clear(&d[i]);
    /* Not due yet before its creation time; in-flight ids are skipped. */
    ck_assert_int_eq(pw_outbox_due(o, 999, NULL, 0, NULL, NULL, d, 8, &err), 0);
    n = pw_outbox_due(o, 1000, ids, 2, NULL, NULL, d, 8, &err);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(d[0].id, ids[2]);
    pw_delivery_clear(&d[0]);

    ck_assert_int_eq(pw_outbox_begin(o, false, &err), 0);
    /* Marks are not fsynced: an enqueue has no place in their batch. */
    ck_assert_int_eq(enqueue(o, "oncall", "k9", true, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "non-durable"));
    ck_assert_int_eq(pw_outbox_mark_sent(o, ids[0], 2000, 200, &err), 0);
    ck_assert_int_eq(pw_outbox_mark_retry(o, ids[1], 5000, 503, "http_5xx", &err), 0);
    ck_assert_int_eq(pw_outbox_mark_failed(o, ids[2], 2000, 400, "http_4xx", &err), 0);
    ck_assert_int_eq(pw_outbox_commit(o, &err), 0);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_SENT), 1);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_FAILED), 1);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 1);
    ck_assert_int_eq(pw_outbox_due(o, 4999, NULL, 0, NULL, NULL, d, 8, &err), 0);
    ck_assert_int_eq(pw_outbox_next_due(o, NULL, 0), 5000);
    ck_assert_int_eq(pw_outbox_next_due(o, &ids[1], 1), INT64_MAX);
    ck_assert_int_eq(pw_outbox_due(o, 5000, NULL, 0, NULL, "[\"oncall\"]", d, 8, &err), 0);
    n = pw_outbox_due(o, 5000, NULL, 0, NULL, "[\"other\"]", d, 8, &err);
    ck_assert_int_eq(n, 1);
    pw_delivery_clear(&d[0]);
    ck_assert_int_eq(pw_outbox_due(o, 5000, NULL, 0, "other", NULL, d, 8, &err), 0);
    n = pw_outbox_due(o, 5000, NULL, 0, "oncall", NULL, d, 8, &err);
    ck_assert_int_eq(n, 1);
    pw_delivery_clear(&d[0]);
    n = pw_outbox_due(o, 5000, NULL, 0, NULL, NULL, d, 8, &err);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(d[0].attempts, 1);
    pw_delivery_clear(&d[0]);
    /* Sent: enqueueing it again still stores nothing. */
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 0);
    /* Prune: done rows before the time go, pending ones stay. */
    ck_assert_int_eq(pw_outbox_prune(o, 2001, &err), 2);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 1);
    ck_assert_int_eq(enqueue(o, "oncall", "k1", true, &err), 2);
    pw_outbox_close(o);
    pw_receivers_free(r);
}
END_TEST

START_TEST(test_outbox_batched_enqueues_commit_together)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    struct pw_outbox *o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_int_eq(pw_outbox_begin(o, true, &err), 0);
    ck_assert_int_eq(enqueue(o, "oncall", "a", true, &err), 3);
    ck_assert_int_eq(enqueue(o, "oncall", "b", true, &err), 3);
    ck_assert_int_eq(enqueue(o, "oncall", "a", true, &err), 0);
    ck_assert_int_eq(pw_outbox_commit(o, &err), 0);
    pw_outbox_close(o);
    o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 6);
    /* A batch rolled back stores nothing. */
    ck_assert_int_eq(pw_outbox_begin(o, true, &err), 0);
    ck_assert_int_eq(enqueue(o, "oncall", "c", true, &err), 3);
    pw_outbox_rollback(o);
    ck_assert_int_eq(pw_outbox_count(o, PW_DELIVERY_PENDING), 6);
    pw_outbox_close(o);
    pw_receivers_free(r);
}
END_TEST

START_TEST(test_outbox_is_owned_by_one_opener)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    struct pw_outbox *o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    ck_assert_ptr_null(pw_outbox_open(dbpath, r, NULL, &err));
    ck_assert_msg(strstr(err.msg, "in use by another process") != NULL, "%s",
                  err.msg);
    pw_outbox_close(o);
    o = pw_outbox_open(dbpath, r, NULL, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    pw_outbox_close(o);
    pw_receivers_free(r);
}
END_TEST

START_TEST(test_outbox_open_fails_cleanly_on_a_bad_path)
{
    struct pw_receivers *r = receivers();
    struct pw_err err = {{0}};
    ck_assert_ptr_null(pw_outbox_open("/nonexistent/dir/outbox.db", r, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/dir/outbox.db"));
    pw_receivers_free(r);
}
END_TEST

static Suite *outbox_suite(void)
{
    Suite *s = suite_create("alerting_outbox");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_outbox_same_notification_is_stored_once);
    tcase_add_test(tc, test_outbox_is_wal_and_unique);
    tcase_add_test(tc, test_outbox_unknown_receiver_or_key_stores_nothing);
    tcase_add_test(tc, test_outbox_due_retry_sent_failed_prune);
    tcase_add_test(tc, test_outbox_batched_enqueues_commit_together);
    tcase_add_test(tc, test_outbox_is_owned_by_one_opener);
    tcase_add_test(tc, test_outbox_open_fails_cleanly_on_a_bad_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(outbox_suite());
}
