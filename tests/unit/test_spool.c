/* tests/unit/test_spool.c — the on-disk spool: order, bound, persistence. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/spool.h"

#include "tests/unit/testing.h"

static char dir[256];
static char path[300];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/spool.db", dir);
}

static void teardown(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void append_n(struct pw_spool *s, int from, int to)
{
    struct pw_err err;
    for (int i = from; i < to; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "msg-%06d", i);
        ck_assert_int_eq(pw_spool_append(s, "t", "k", 1, v, (size_t)n, NULL, &err), 0);
    }
}

/* Reads every record after `after` and checks they are msg-<from..to-1>. */
static void expect_values(struct pw_spool *s, int from, int to)
{
    struct pw_err err;
    struct pw_spool_record r;
    int64_t cursor = 0;
    for (int i = from; i < to; i++) {
        ck_assert_int_eq(pw_spool_next(s, cursor, &r, &err), 1);
        char v[32];
        snprintf(v, sizeof v, "msg-%06d", i);
        ck_assert_uint_eq(r.value_len, strlen(v));
        ck_assert(memcmp(r.value, v, r.value_len) == 0);
        ck_assert_str_eq(r.topic, "t");
        ck_assert(r.seq > cursor);
        cursor = r.seq;
    }
    ck_assert_int_eq(pw_spool_next(s, cursor, &r, &err), 0);
}

START_TEST(test_spool_returns_records_in_append_order)
{
    struct pw_err err;
    struct pw_spool *s = pw_spool_open(path, 1 << 20, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    append_n(s, 0, 100);
    expect_values(s, 0, 100);
    struct pw_spool_stats st;
    pw_spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 100);
    ck_assert_uint_eq(st.bytes, 100 * (1 + 1 + 10));
    pw_spool_close(s);
}
END_TEST

START_TEST(test_spool_ack_removes_and_survives_reopen)
{
    struct pw_err err;
    struct pw_spool *s = pw_spool_open(path, 1 << 20, &err);
    ck_assert_ptr_nonnull(s);
    append_n(s, 0, 10);
    struct pw_spool_record r;
    int64_t cursor = 0;
    for (int i = 0; i < 4; i++) {   /* ack the first four */
        ck_assert_int_eq(pw_spool_next(s, cursor, &r, &err), 1);
        cursor = r.seq;
        ck_assert_int_eq(pw_spool_ack(s, r.seq, &err), 1);
    }
    ck_assert_int_eq(pw_spool_ack(s, 999999, &err), 0);   /* unknown: fine */
    pw_spool_close(s);

    s = pw_spool_open(path, 1 << 20, &err);
    ck_assert_ptr_nonnull(s);
    expect_values(s, 4, 10);
    struct pw_spool_stats st;
    pw_spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 6);
    /* Sequence numbers keep growing across an emptied spool. */
    int64_t last = 0, seq = 0;
    while (pw_spool_next(s, last, &r, &err) == 1) {
        last = r.seq;
        ck_assert_int_eq(pw_spool_ack(s, r.seq, &err), 1);
    }
    ck_assert_int_eq(pw_spool_append(s, "t", "k", 1, "x", 1, &seq, &err), 0);
    ck_assert(seq > last);
    pw_spool_close(s);
}
END_TEST

START_TEST(test_spool_full_drops_oldest_and_counts)
{
    struct pw_err err;
    /* Each record is 12 payload bytes: room for exactly 50. */
    struct pw_spool *s = pw_spool_open(path, 600, &err);
    ck_assert_ptr_nonnull(s);
    append_n(s, 0, 80);
    struct pw_spool_stats st;
    pw_spool_stats(s, &st);
    ck_assert_uint_eq(st.records, 50);
    ck_assert_uint_eq(st.dropped_records, 30);
    ck_assert_uint_eq(st.dropped_bytes, 30 * 12);
    ck_assert(st.bytes <= 600);
    expect_values(s, 30, 80);

    /* Shrinking the bound drops more of the oldest. */
    ck_assert_int_eq(pw_spool_set_max_bytes(s, 120, &err), 0);
    expect_values(s, 70, 80);

    /* A record bigger than the bound is refused with a clear error. */
    char big[200];
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(pw_spool_append(s, "t", "k", 1, big, sizeof big, NULL, &err), -1);
    ck_assert(strstr(err.msg, "exceeds") != NULL);
    pw_spool_close(s);
}
END_TEST

START_TEST(test_spool_open_reports_unwritable_path)
{
    struct pw_err err;
    struct pw_spool *s = pw_spool_open("/nonexistent-dir/x/spool.db", 1000, &err);
    ck_assert_ptr_null(s);
    ck_assert(strstr(err.msg, "/nonexistent-dir/x/spool.db") != NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_spool_returns_records_in_append_order);
    tcase_add_test(tc, test_spool_ack_removes_and_survives_reopen);
    tcase_add_test(tc, test_spool_full_drops_oldest_and_counts);
    tcase_add_test(tc, test_spool_open_reports_unwritable_path);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
