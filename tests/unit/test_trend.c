/* tests/unit/test_trend.c — the robust trend / time-to-threshold model:
 * exact ETAs on clean lines, honest ranges on noisy ones, and above all no
 * ETA where there is no trend (flat, noisy, falling, seasonal, real data). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_fit.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "models/nabdata.h"
#include "models/trend.h"

#include "tests/unit/testing.h"

#define T0 1700000000.0          /* an epoch-sized start time */

/* A 30-minute window of 10-second samples. */
static struct pw_trend *new_trend(void)
{
    struct pw_trend_config c;
    pw_trend_config_default(&c, 200, 1800);
    struct pw_err err = {{0}};
    struct pw_trend *t = pw_trend_new(&c, &err);
    ck_assert_msg(t != NULL, "pw_trend_new: %s", err.msg);
    return t;
}

/* value = 50 + slope * s + noise, s = 0, 10, ..., 1800: at s = 1800 a
 * 1/60 per second rise is at 80, so threshold 95 is 900 s away. */
static void feed_line(struct pw_trend *t, double slope, double noise_sd,
                      gsl_rng *rng)
{
    for (int i = 0; i <= 180; i++) {
        double s = 10.0 * i;
        double v = 50 + slope * s;
        if (noise_sd > 0)
            v += gsl_ran_gaussian(rng, noise_sd);
        ck_assert_int_eq(pw_trend_add(t, T0 + s, v, NULL), 0);
    }
}

static enum pw_trend_status fit_eta(struct pw_trend *t, double threshold,
                                    enum pw_trend_dir dir, double horizon_s,
                                    struct pw_trend_fit *fit,
                                    struct pw_trend_eta *eta)
{
    struct pw_err err = {{0}};
    ck_assert_msg(pw_trend_fit(t, fit, &err) == 0, "fit at %.0f: %s",
                  fit->t_last_s, err.msg);
    return pw_trend_eta(t, fit, threshold, dir, horizon_s, eta);
}

START_TEST(test_trend_clean_linear_rise_gives_exact_eta)
{
    struct pw_trend *t = new_trend();
    feed_line(t, 1.0 / 60, 0, NULL);
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 3600, &fit, &eta),
                     PW_TREND_ETA);
    ck_assert_double_eq_tol(fit.slope, 1.0 / 60, 1e-9);
    ck_assert_double_eq_tol(fit.level, 80, 1e-6);
    ck_assert_double_eq_tol(fit.t_last_s, T0 + 1800, 1e-6);
    ck_assert_double_eq_tol(eta.eta_s, 900, 900 * 0.01);
    ck_assert(eta.eta_low_s <= eta.eta_s && eta.eta_s <= eta.eta_high_s);
    ck_assert_double_eq_tol(eta.eta_high_s - eta.eta_low_s, 0, 1);
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_noisy_rise_eta_close_and_range_covers_truth)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int covered = 0;
    for (int seed = 1; seed <= 100; seed++) {
        gsl_rng_set(rng, (unsigned long)seed);
        struct pw_trend *t = new_trend();
        feed_line(t, 1.0 / 60, 1.0, rng);
        struct pw_trend_fit fit;
        struct pw_trend_eta eta;
        ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 3600, &fit, &eta),
                         PW_TREND_ETA);
        ck_assert_msg(fabs(eta.eta_s - 900) < 900 * 0.08,
                      "seed %d: eta %.1f s, truth 900 s", seed, eta.eta_s);
        ck_assert(eta.eta_low_s < eta.eta_s && eta.eta_s < eta.eta_high_s);
        if (eta.eta_low_s <= 900 && 900 <= eta.eta_high_s)
            covered++;
        pw_trend_free(t);
    }
    /* A 95 % range: allow some misses, not many. */
    ck_assert_msg(covered >= 88, "range covered the true ETA %d/100 times",
                  covered);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(test_trend_flat_noisy_series_never_gives_eta)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int etas = 0, not_sig = 0;
    for (int seed = 1; seed <= 200; seed++) {
        gsl_rng_set(rng, (unsigned long)seed);
        struct pw_trend *t = new_trend();
        feed_line(t, 0, 1.0, rng);
        struct pw_trend_fit fit;
        struct pw_trend_eta eta;
        /* 3 sigma above the mean, no horizon of our own. */
        enum pw_trend_status s = fit_eta(t, 53, PW_TREND_RISING, INFINITY,
                                         &fit, &eta);
        ck_assert_int_ne(s, PW_TREND_PAST);
        ck_assert_int_ne(s, PW_TREND_INSUFFICIENT_DATA);
        etas += s == PW_TREND_ETA;
        not_sig += s == PW_TREND_NOT_SIGNIFICANT;
        pw_trend_free(t);
    }
    ck_assert_msg(etas == 0, "%d false ETAs on 200 flat series", etas);
    ck_assert_msg(not_sig >= 190, "only %d/200 flagged not significant",
                  not_sig);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(test_trend_constant_series_is_not_significant)
{
    struct pw_trend *t = new_trend();
    feed_line(t, 0, 0, NULL);
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, INFINITY, &fit, &eta),
                     PW_TREND_NOT_SIGNIFICANT);
    ck_assert(isnan(eta.eta_s));
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_falling_series_gives_no_eta_for_rising_threshold)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    struct pw_trend *t = new_trend();
    feed_line(t, -1.0 / 60, 0.5, rng);          /* 50 -> 20 */
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, INFINITY, &fit, &eta),
                     PW_TREND_WRONG_DIRECTION);
    ck_assert(isnan(eta.eta_s));
    /* The same line falling toward 5 (900 s away) is an ETA. */
    ck_assert_int_eq(pw_trend_eta(t, &fit, 5, PW_TREND_FALLING, 3600, &eta),
                     PW_TREND_ETA);
    ck_assert_double_eq_tol(eta.eta_s, 900, 900 * 0.05);
    pw_trend_free(t);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(test_trend_outliers_do_not_tilt_the_slope)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    struct pw_trend *t = new_trend();
    double xs[181], ys[181];
    for (int i = 0; i <= 180; i++) {
        double s = 10.0 * i;
        double v = 50 + s / 60 + gsl_ran_gaussian(rng, 0.2);
        if (i == 20 || i == 160 || i == 170 || i == 175 || i == 178)
            v += 500;                     /* spikes, mostly at the end */
        xs[i] = s;
        ys[i] = v;
        ck_assert_int_eq(pw_trend_add(t, T0 + s, v, NULL), 0);
    }
    double c0, c1, cov00, cov01, cov11, sumsq;
    gsl_fit_linear(xs, 1, ys, 1, 181, &c0, &c1, &cov00, &cov01, &cov11,
                   &sumsq);
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    enum pw_trend_status s = fit_eta(t, 95, PW_TREND_RISING, 3600, &fit,
                                     &eta);
    ck_assert_msg(fabs(fit.slope * 60 - 1) < 0.02,
                  "robust slope %g per minute, truth 1", fit.slope * 60);
    ck_assert_msg(fabs(c1 * 60 - 1) > 0.3,
                  "OLS slope %g per minute: the spikes should tilt it", c1 * 60);
    ck_assert_int_eq(s, PW_TREND_ETA);
    ck_assert_double_eq_tol(eta.eta_s, 900, 900 * 0.05);
    pw_trend_free(t);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(test_trend_already_past_threshold_is_eta_zero_flagged)
{
    struct pw_trend *t = new_trend();
    feed_line(t, 1.0 / 60, 0, NULL);            /* level 80 now */
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    ck_assert_int_eq(fit_eta(t, 70, PW_TREND_RISING, 3600, &fit, &eta),
                     PW_TREND_PAST);
    ck_assert(eta.eta_s == 0 && eta.eta_low_s == 0 && eta.eta_high_s == 0);
    /* Past a falling threshold too, even while rising. */
    ck_assert_int_eq(pw_trend_eta(t, &fit, 85, PW_TREND_FALLING, 3600, &eta),
                     PW_TREND_PAST);
    /* A flat series above the line is past, whatever its slope says. */
    pw_trend_reset(t);
    for (int i = 0; i < 100; i++)
        pw_trend_add(t, T0 + 10000 + 10.0 * i, 99, NULL);
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 3600, &fit, &eta),
                     PW_TREND_PAST);
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_beyond_horizon_keeps_the_estimate)
{
    struct pw_trend *t = new_trend();
    feed_line(t, 1.0 / 60, 0, NULL);
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 600, &fit, &eta),
                     PW_TREND_BEYOND_HORIZON);
    ck_assert_double_eq_tol(eta.eta_s, 900, 1);
    /* max_extrapolation 2 x a 1800 s span caps a longer horizon at 3600 s:
     * threshold 200 is 7200 s away. */
    ck_assert_int_eq(pw_trend_eta(t, &fit, 200, PW_TREND_RISING, 1e9, &eta),
                     PW_TREND_BEYOND_HORIZON);
    ck_assert_double_eq_tol(eta.horizon_s, 3600, 1e-6);
    ck_assert_double_eq_tol(eta.eta_s, 7200, 1);
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_rejects_and_counts_bad_samples)
{
    struct pw_trend *t = new_trend();
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_trend_add(t, T0, 1, &err), 0);
    ck_assert_int_eq(pw_trend_add(t, T0 + 10, NAN, &err), -1);
    ck_assert(strstr(err.msg, "non-finite") != NULL);
    ck_assert_int_eq(pw_trend_add(t, T0 + 10, INFINITY, NULL), -1);
    ck_assert_int_eq(pw_trend_add(t, NAN, 1, NULL), -1);
    ck_assert_int_eq(pw_trend_add(t, T0 - 1, 1, &err), -1);
    ck_assert(strstr(err.msg, "before") != NULL);
    ck_assert_int_eq(pw_trend_add(t, T0, 2, NULL), 0);    /* equal: fine */
    const struct pw_trend_counters *c = pw_trend_counters(t);
    ck_assert_int_eq(c->accepted, 2);
    ck_assert_int_eq(c->rejected_nonfinite, 3);
    ck_assert_int_eq(c->rejected_backwards, 1);
    ck_assert_int_eq(pw_trend_len(t), 2);
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_too_few_samples_is_insufficient_data)
{
    struct pw_trend *t = new_trend();
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 3600, &fit, &eta),
                     PW_TREND_INSUFFICIENT_DATA);
    for (int i = 0; i < 9; i++)               /* min_samples is 10 */
        pw_trend_add(t, T0 + 60.0 * i, 50 + i, NULL);
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 3600, &fit, &eta),
                     PW_TREND_INSUFFICIENT_DATA);
    ck_assert(!fit.valid);
    ck_assert_int_eq(fit.n, 9);
    /* Enough samples but a 19 s span, below min_span_s = 450 s. */
    pw_trend_reset(t);
    for (int i = 0; i < 20; i++)
        pw_trend_add(t, T0 + 1000 + i, 50 + i, NULL);
    ck_assert_int_eq(fit_eta(t, 95, PW_TREND_RISING, 3600, &fit, &eta),
                     PW_TREND_INSUFFICIENT_DATA);
    ck_assert_double_eq_tol(fit.span_s, 19, 1e-9);
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_window_drops_old_samples_and_gaps)
{
    struct pw_trend_config c;
    pw_trend_config_default(&c, 50, 100);
    struct pw_trend *t = pw_trend_new(&c, NULL);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i <= 30; i++)             /* 1 per 10 s, 100 s window */
        pw_trend_add(t, T0 + 10.0 * i, i, NULL);
    ck_assert_int_eq(pw_trend_len(t), 11);    /* T0+200 .. T0+300 */
    ck_assert_int_eq(pw_trend_counters(t)->evicted, 20);
    pw_trend_add(t, T0 + 1000, 0, NULL);      /* a gap: window restarts */
    ck_assert_int_eq(pw_trend_len(t), 1);
    for (int i = 1; i <= 120; i++)            /* capacity bounds it too */
        pw_trend_add(t, T0 + 1000 + 0.5 * i, 0, NULL);
    ck_assert_int_eq(pw_trend_len(t), 50);
    pw_trend_free(t);
}
END_TEST

START_TEST(test_trend_bad_config_is_refused_with_a_reason)
{
    struct pw_trend_config c;
    struct pw_err err = {{0}};
    pw_trend_config_default(&c, 2, 60);
    ck_assert_ptr_null(pw_trend_new(&c, &err));
    ck_assert(strstr(err.msg, "capacity") != NULL);
    pw_trend_config_default(&c, 100, 60);
    c.z = 0;
    ck_assert_ptr_null(pw_trend_new(&c, &err));
    ck_assert(strstr(err.msg, "z") != NULL);
    pw_trend_config_default(&c, 100, -1);
    ck_assert_ptr_null(pw_trend_new(&c, &err));
    pw_trend_free(NULL);
}
END_TEST

/* ---- real data: NAB series must not raise ETAs toward a threshold well
 * above everything they ever reach. */

/* Slides a 72-sample window over the series, fitting at every sample, and
 * returns how many ETAs point at max + range within a 24 h horizon. */
static int false_etas(const struct pw_nab_series *sr)
{
    size_t n = sr->n;
    double *ts = malloc(n * sizeof *ts);
    const double *val = sr->values;
    for (size_t i = 0; i < n; i++)
        ts[i] = (double)sr->ts[i];
    double lo = val[0], hi = val[0];
    for (size_t i = 0; i < n; i++) {
        lo = val[i] < lo ? val[i] : lo;
        hi = val[i] > hi ? val[i] : hi;
    }
    double range = hi - lo > 1 ? hi - lo : 1;
    /* 72 samples' worth of window: 6 h at NAB's usual 5 minutes, 3 days
     * for the hourly series. */
    double step = ts[n - 1] - ts[0];
    for (size_t i = 1; i < n && i < 100; i++)
        if (ts[i] > ts[i - 1])
            step = fmin(step, ts[i] - ts[i - 1]);
    double threshold = hi + range;
    struct pw_trend_config c;
    pw_trend_config_default(&c, 400, 72 * step);
    struct pw_trend *t = pw_trend_new(&c, NULL);
    ck_assert_ptr_nonnull(t);
    int etas = 0, fits = 0;
    for (size_t i = 0; i < n; i++) {
        pw_trend_add(t, ts[i], val[i], NULL);
        struct pw_trend_fit fit;
        struct pw_trend_eta eta;
        if (fit_eta(t, threshold, PW_TREND_RISING, 24 * 3600.0, &fit, &eta)
            == PW_TREND_ETA)
            etas++;
        fits += fit.valid;
    }
    ck_assert_msg(fits > (int)n / 2, "%s: only %d valid fits", sr->name, fits);
    pw_trend_free(t);
    free(ts);
    return etas;
}

START_TEST(test_trend_nab_series_raise_no_eta_above_their_range)
{
    /* Every series of these groups stays inside its range, so any ETA
     * toward max + range within a day is false. */
    const char *groups[] = {"artificialNoAnomaly", "realKnownCause", NULL};
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "nab"), 0);
    struct pw_nab_corpus corpus;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_nab_load(dir, groups, &corpus, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(corpus.n, 12);
    for (size_t i = 0; i < corpus.n; i++) {
        int etas = false_etas(&corpus.series[i]);
        ck_assert_msg(etas == 0, "%s: %d ETAs toward a threshold it never "
                      "reaches", corpus.series[i].name, etas);
    }
    pw_nab_corpus_free(&corpus);
}
END_TEST

int main(void)
{
    pw_require_shared_data();
    Suite *s = suite_create("trend");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_trend_clean_linear_rise_gives_exact_eta);
    tcase_add_test(tc, test_trend_noisy_rise_eta_close_and_range_covers_truth);
    tcase_add_test(tc, test_trend_flat_noisy_series_never_gives_eta);
    tcase_add_test(tc, test_trend_constant_series_is_not_significant);
    tcase_add_test(tc, test_trend_falling_series_gives_no_eta_for_rising_threshold);
    tcase_add_test(tc, test_trend_outliers_do_not_tilt_the_slope);
    tcase_add_test(tc, test_trend_already_past_threshold_is_eta_zero_flagged);
    tcase_add_test(tc, test_trend_beyond_horizon_keeps_the_estimate);
    tcase_add_test(tc, test_trend_rejects_and_counts_bad_samples);
    tcase_add_test(tc, test_trend_too_few_samples_is_insufficient_data);
    tcase_add_test(tc, test_trend_window_drops_old_samples_and_gaps);
    tcase_add_test(tc, test_trend_bad_config_is_refused_with_a_reason);
    suite_add_tcase(s, tc);
    TCase *real = tcase_create("nab");
    tcase_set_timeout(real, 100);
    tcase_add_test(real, test_trend_nab_series_raise_no_eta_above_their_range);
    suite_add_tcase(s, real);
    return pw_run_suite(s);
}
