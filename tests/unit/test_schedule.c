/* tests/unit/test_schedule.c — the drift-free scheduler. */
#include <check.h>
#include <stdlib.h>

#include "agent/schedule.h"

#include "tests/unit/testing.h"

#define S 1000000000LL

START_TEST(test_schedule_first_tick_is_aligned_to_interval)
{
    struct pw_schedule s;
    pw_schedule_init(&s, 10 * S, 0, 1700000003 * S + 123);
    ck_assert_int_eq(s.next_ns, 1700000010 * S);
    int64_t t;
    ck_assert(!pw_schedule_due(&s, 1700000009 * S, &t));
    ck_assert_int_eq(pw_schedule_wait_ns(&s, 1700000009 * S), 1 * S);
    ck_assert(pw_schedule_due(&s, 1700000010 * S, &t));
    ck_assert_int_eq(t, 1700000010 * S);
}
END_TEST

START_TEST(test_schedule_late_wakeups_do_not_drift)
{
    struct pw_schedule s;
    int64_t now = 1000 * S;
    pw_schedule_init(&s, 1 * S, 0, now);
    /* Wake up 0..900 ms late every time, for 10000 ticks: the tick
     * timestamps must still be exact multiples of the interval. */
    srand(7);
    int64_t expect = 1001 * S;
    for (int i = 0; i < 10000; i++) {
        int64_t t;
        now = expect + (int64_t)(rand() % 900) * 1000000;
        ck_assert(pw_schedule_due(&s, now, &t));
        ck_assert_int_eq(t, expect);
        ck_assert(!pw_schedule_due(&s, now, &t));
        expect += S;
    }
    ck_assert_int_eq(s.ticks, 10000);
    ck_assert_int_eq(s.missed, 0);
}
END_TEST

START_TEST(test_schedule_skips_and_counts_missed_ticks)
{
    struct pw_schedule s;
    pw_schedule_init(&s, 1 * S, 0, 0);
    int64_t t;
    ck_assert(pw_schedule_due(&s, 1 * S, &t));
    /* Suspended for 5.5 s: ticks 2,3,4,5 are missed, 6 is delivered. */
    ck_assert(pw_schedule_due(&s, 6 * S + S / 2, &t));
    ck_assert_int_eq(t, 6 * S);
    ck_assert_int_eq(s.missed, 4);
    ck_assert_int_eq(s.next_ns, 7 * S);
}
END_TEST

START_TEST(test_schedule_jitter_is_a_fixed_offset)
{
    struct pw_schedule s;
    pw_schedule_init(&s, 10 * S, 23 * S + 5, 100 * S);   /* 23 s mod 10 s = 3 s */
    ck_assert_int_eq(s.offset_ns, 3 * S + 5);
    int64_t t;
    ck_assert(!pw_schedule_due(&s, 103 * S, &t));
    ck_assert(pw_schedule_due(&s, 103 * S + 5, &t));
    ck_assert_int_eq(t, 103 * S + 5);
    ck_assert(pw_schedule_due(&s, 113 * S + 5, &t));
    ck_assert_int_eq(t, 113 * S + 5);
}
END_TEST

START_TEST(test_schedule_realigns_after_clock_steps_back)
{
    struct pw_schedule s;
    pw_schedule_init(&s, 1 * S, 0, 1000 * S);
    int64_t t;
    ck_assert(!pw_schedule_due(&s, 500 * S, &t));   /* clock went back 500 s */
    ck_assert_int_eq(s.realigned, 1);
    ck_assert_int_eq(s.next_ns, 501 * S);
    ck_assert(pw_schedule_due(&s, 501 * S, &t));
    ck_assert_int_eq(t, 501 * S);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_schedule_first_tick_is_aligned_to_interval);
    tcase_add_test(tc, test_schedule_late_wakeups_do_not_drift);
    tcase_add_test(tc, test_schedule_skips_and_counts_missed_ticks);
    tcase_add_test(tc, test_schedule_jitter_is_a_fixed_offset);
    tcase_add_test(tc, test_schedule_realigns_after_clock_steps_back);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
