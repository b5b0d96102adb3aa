/* tests/unit/test_nab.c — the NAB scorer against cases computed by hand
 * from NAB's rules (nab/sweeper.py). Every file below has 200 rows, so the
 * probation period is floor(0.15 * 200) = 30 rows, and one window over rows
 * 150..154 (5 rows). S(x) = 2/(1+e^(5x)) - 1. Rows not named score 0; the
 * threshold 0 (every row a detection) is always a candidate, but with 120
 * rows before the window it costs -13.2 and never wins here. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "models/nab.h"
#include "tests/unit/testing.h"

#define N 200

static int64_t ts[N];
static double sc[N];
static const int64_t win[1][2] = {{150, 154}};
static const struct pw_nab_profile *standard = &pw_nab_profiles[0];

static struct pw_nab_file file_with(const int *hot, size_t nhot)
{
    for (int i = 0; i < N; i++) {
        ts[i] = i;
        sc[i] = 0.0;
    }
    for (size_t k = 0; k < nhot; k++)
        sc[hot[k]] = 1.0;
    return (struct pw_nab_file){ts, sc, N, win, 1};
}

START_TEST(test_nab_scaled_sigmoid_known_values)
{
    ck_assert_double_eq_tol(pw_nab_scaled_sigmoid(-1.0), 0.986614, 1e-6);
    ck_assert_double_eq_tol(pw_nab_scaled_sigmoid(-0.5), 0.848284, 1e-6);
    ck_assert_double_eq_tol(pw_nab_scaled_sigmoid(0.0), 0.0, 1e-12);
    ck_assert_double_eq_tol(pw_nab_scaled_sigmoid(1.0), -0.986614, 1e-6);
    ck_assert_double_eq(pw_nab_scaled_sigmoid(3.0), -1.0);
    ck_assert_uint_eq(pw_nab_probation(20), 3);
    ck_assert_uint_eq(pw_nab_probation(10000), 750);
}
END_TEST

START_TEST(test_nab_detection_at_left_edge_is_perfect)
{
    int hot[] = {150};
    struct pw_nab_file f = file_with(hot, 1);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    /* position -(154-150+1)/5 = -1: weight S(-1)/S(-1) = 1. */
    ck_assert_double_eq_tol(r.raw, 1.0, 1e-9);
    ck_assert_double_eq(r.threshold, 1.0);
    ck_assert_double_eq_tol(r.normalized, 100.0, 1e-9);
    ck_assert_uint_eq(r.windows, 1);
    ck_assert_uint_eq(r.windows_detected, 1);
    ck_assert_uint_eq(r.false_positives, 0);
}
END_TEST

START_TEST(test_nab_late_detection_scores_less)
{
    int hot[] = {152};
    struct pw_nab_file f = file_with(hot, 1);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    /* position -(154-152+1)/5 = -0.6: S(-0.6) = 0.905148, / S(-1) = 0.917437;
     * normalised 100 (0.917437 + 1) / 2 = 95.8718. */
    ck_assert_double_eq_tol(r.raw, 0.905148 / 0.986614, 1e-5);
    ck_assert_double_eq_tol(r.normalized, 95.8718, 1e-3);
}
END_TEST

START_TEST(test_nab_only_first_detection_in_window_counts)
{
    int hot[] = {151, 152, 153, 154};
    struct pw_nab_file f = file_with(hot, 4);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    /* the best is row 151: position -0.8, S(-0.8) = 0.964028 / 0.986614 */
    ck_assert_double_eq_tol(r.raw, 0.964028 / 0.986614, 1e-5);
}
END_TEST

START_TEST(test_nab_false_positive_costs_and_optimiser_declines)
{
    /* A lone detection before the window: raw at threshold 1 would be
     * -1 (missed window) - 0.11 (S(3) * 0.11) = -1.11 < -1, so the best
     * threshold is "never fire": normalised 0. */
    int hot[] = {50};
    struct pw_nab_file f = file_with(hot, 1);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    ck_assert(isinf(r.threshold));
    ck_assert_double_eq_tol(r.raw, -1.0, 1e-12);
    ck_assert_double_eq_tol(r.normalized, 0.0, 1e-12);

    /* With a detection at the left edge too: 1 - 0.11 = 0.89, normalised
     * 100 (0.89 + 1) / 2 = 94.5. */
    int hot2[] = {50, 150};
    f = file_with(hot2, 2);
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    ck_assert_double_eq_tol(r.raw, 0.89, 1e-9);
    ck_assert_double_eq_tol(r.normalized, 94.5, 1e-9);
    ck_assert_uint_eq(r.false_positives, 1);
    /* reward_low_FP_rate charges 0.22: 0.78 -> 89.0 */
    ck_assert_int_eq(pw_nab_score(&f, 1, &pw_nab_profiles[1], &r, &err), 0);
    ck_assert_double_eq_tol(r.normalized, 89.0, 1e-9);
}
END_TEST

START_TEST(test_nab_false_positive_just_after_window_costs_little)
{
    /* Row 155, one past the right edge 154 of a 5-row window: position
     * |155 - 154| / (5 - 1) = 0.25, S(0.25) = -0.554600, times 0.11. */
    int hot[] = {150, 155};
    struct pw_nab_file f = file_with(hot, 2);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    ck_assert_double_eq_tol(r.raw, 1.0 - 0.11 * 0.554600, 1e-5);
}
END_TEST

START_TEST(test_nab_probation_rows_are_not_scored)
{
    /* A detection in row 1 (probation) costs nothing. */
    int hot[] = {1, 150};
    struct pw_nab_file f = file_with(hot, 2);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), 0);
    ck_assert_double_eq_tol(r.raw, 1.0, 1e-12);
    ck_assert_uint_eq(r.false_positives, 0);
}
END_TEST

START_TEST(test_nab_threshold_is_one_for_the_corpus)
{
    /* File A wants threshold 0.9 (its window detection scores 0.9), file B
     * has a false positive at 0.95 and a detection at 0.5. Candidates:
     * t=0.95: A missed (-1), B FP (-0.11) + missed (-1) = -2.11
     * t=0.9:  A 1, B -1.11 = -0.11
     * t=0.5:  A 1, B -0.11 + 1 = 1.89  <- best
     * never:  -2. */
    static int64_t ta[N], tb[N];
    static double sa[N], sb[N];
    for (int i = 0; i < N; i++) {
        ta[i] = tb[i] = i;
        sa[i] = sb[i] = 0.0;
    }
    sa[150] = 0.9;
    sb[50] = 0.95;
    sb[150] = 0.5;
    struct pw_nab_file files[2] = {{ta, sa, N, win, 1}, {tb, sb, N, win, 1}};
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(files, 2, standard, &r, &err), 0);
    ck_assert_double_eq(r.threshold, 0.5);
    ck_assert_double_eq_tol(r.raw, 1.89, 1e-9);
    ck_assert_uint_eq(r.windows, 2);
    ck_assert_double_eq_tol(r.normalized, 100.0 * (1.89 + 2.0) / 4.0, 1e-9);
}
END_TEST

START_TEST(test_nab_reward_low_fn_doubles_the_miss)
{
    int hot[] = {50};
    struct pw_nab_file f = file_with(hot, 1);
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, &pw_nab_profiles[2], &r, &err), 0);
    ck_assert_double_eq_tol(r.null_score, -2.0, 1e-12);
    ck_assert_double_eq_tol(r.raw, -2.0, 1e-12);   /* the FP would make it -2.11 */
}
END_TEST

START_TEST(test_nab_step_back_in_time_keeps_file_order)
{
    /* As machine_temperature_system_failure's hour replayed at row 10151:
     * rows 100..109 repeat earlier timestamps; the window (150..154) and
     * its detection score as before. */
    int hot[] = {151};
    struct pw_nab_file f = file_with(hot, 1);
    struct pw_nab_result before, after;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &before, &err), 0);
    for (int i = 100; i < 110; i++)
        ts[i] = i - 50;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &after, &err), 0);
    ck_assert_double_eq_tol(after.raw, before.raw, 1e-12);
    ck_assert_uint_eq(after.windows_detected, 1);
}
END_TEST

START_TEST(test_nab_rejects_bad_input)
{
    struct pw_nab_result r;
    struct pw_err err;
    ck_assert_int_eq(pw_nab_score(NULL, 0, standard, &r, &err), -1);
    ck_assert(strstr(err.msg, "no rows") != NULL);
    int hot[] = {150};
    struct pw_nab_file f = file_with(hot, 1);
    static const int64_t early[1][2] = {{0, 2}};   /* wholly in probation */
    f.windows = early;
    ck_assert_int_eq(pw_nab_score(&f, 1, standard, &r, &err), -1);
    ck_assert(strstr(err.msg, "no labelled window") != NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("nab");
    TCase *tc = tcase_create("scorer");
    tcase_add_test(tc, test_nab_scaled_sigmoid_known_values);
    tcase_add_test(tc, test_nab_detection_at_left_edge_is_perfect);
    tcase_add_test(tc, test_nab_late_detection_scores_less);
    tcase_add_test(tc, test_nab_only_first_detection_in_window_counts);
    tcase_add_test(tc, test_nab_false_positive_costs_and_optimiser_declines);
    tcase_add_test(tc, test_nab_false_positive_just_after_window_costs_little);
    tcase_add_test(tc, test_nab_probation_rows_are_not_scored);
    tcase_add_test(tc, test_nab_threshold_is_one_for_the_corpus);
    tcase_add_test(tc, test_nab_reward_low_fn_doubles_the_miss);
    tcase_add_test(tc, test_nab_step_back_in_time_keeps_file_order);
    tcase_add_test(tc, test_nab_rejects_bad_input);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
