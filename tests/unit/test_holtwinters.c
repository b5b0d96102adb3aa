/* tests/unit/test_holtwinters.c — the Holt-Winters model: the recursion
 * against numbers worked by hand, the rules for bad, early, late and
 * missing samples, and on real NAB series the fit, the season detection
 * and the prediction intervals. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/holtwinters.h"
#include "models/nabdata.h"

#include "tests/unit/testing.h"

#define T0 1700000000.0          /* an epoch-sized start time */
#define STEP 60.0

/* alpha 0.5, beta 0.5 (so alpha beta = 0.25), gamma 0.2, period m. */
static void hand_model(struct pw_hw_model *m, uint32_t period, double phi)
{
    pw_hw_model_default(m, period, STEP, phi < 1);
    m->p.alpha = 0.5;
    m->p.beta = 0.5;
    m->p.gamma = 0.2;
    m->p.phi = phi;
    ck_assert_int_eq(pw_hw_model_check(m, NULL), 0);
}

static void add_ok(struct pw_hw_state *s, const struct pw_hw_model *m,
                   double step, double y)
{
    struct pw_err err = {{0}};
    ck_assert_msg(pw_hw_update(s, m, T0 + step * STEP, y, &err) == 0,
                  "update at step %g: %s", step, err.msg);
}

START_TEST(test_hw_recursion_matches_hand_computed_steps)
{
    struct pw_hw_model m;
    hand_model(&m, 2, 1.0);
    struct pw_hw_state s;
    float season[2];
    pw_hw_init(&s, &m, season);
    /* Cold start, season (0, 0), slot 0.
     * y0 = 10: level = 10 - s0 = 10, trend 0; not an error; slot -> 1. */
    add_ok(&s, &m, 0, 10);
    ck_assert_double_eq(s.level, 10);
    ck_assert_uint_eq(s.updates, 0);
    /* y1 = 14, slot 1: yhat = 10 + 0 + 0 = 10, e = 4;
     * level = 10 + 0 + 0.5*4 = 12, trend = 0 + 0.25*4 = 1,
     * s1 = 0 + 0.2*4 = 0.8; var = 16 (mean of one e^2); slot -> 0. */
    add_ok(&s, &m, 1, 14);
    ck_assert_double_eq_tol(s.level, 12, 1e-12);
    ck_assert_double_eq_tol(s.trend, 1, 1e-12);
    ck_assert_double_eq_tol(season[1], 0.8, 1e-6);
    ck_assert_double_eq_tol(s.var, 16, 1e-12);
    /* y2 = 13, slot 0: yhat = 12 + 1 + 0 = 13, e = 0: level 13, trend 1,
     * s0 = 0; var = (16 + 0) / 2 = 8. */
    add_ok(&s, &m, 2, 13);
    ck_assert_double_eq_tol(s.level, 13, 1e-12);
    ck_assert_double_eq_tol(s.var, 8, 1e-12);
    /* y3 = 17, slot 1: yhat = 13 + 1 + 0.8 = 14.8, e = 2.2;
     * level = 14 + 1.1 = 15.1, trend = 1 + 0.55 = 1.55,
     * s1 = 0.8 + 0.44 = 1.24; var = (16 + 0 + 4.84) / 3 = 6.94667. */
    add_ok(&s, &m, 3, 17);
    ck_assert_double_eq_tol(s.level, 15.1, 1e-6);
    ck_assert_double_eq_tol(s.trend, 1.55, 1e-6);
    ck_assert_double_eq_tol(season[1], 1.24, 1e-6);
    ck_assert_double_eq_tol(s.var, 20.84 / 3, 1e-6);
    ck_assert_uint_eq(s.updates, 3);
    ck_assert_uint_eq(s.season_idx, 0);
    /* Forecasts. h = 1, slot 0: 15.1 + 1.55 + 0 = 16.65, sd = sqrt(var).
     * h = 2, slot 1: 15.1 + 2*1.55 + 1.24 = 19.44;
     *   c1 = 0.5 + 0.25*1 = 0.75 (1 mod 2 != 0): multiplier 1.5625.
     * h = 3, slot 0: 15.1 + 3*1.55 = 19.75;
     *   c2 = 0.5 + 0.25*2 + 0.2 (2 mod 2 == 0) = 1.2:
     *   multiplier 1 + 0.5625 + 1.44 = 3.0025. */
    struct pw_hw_forecast f;
    double var = 20.84 / 3;
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 1, 2, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 16.65, 1e-6);
    ck_assert_double_eq_tol(f.sd, sqrt(var), 1e-6);
    ck_assert_double_eq_tol(f.hi - f.mean, 2 * sqrt(var), 1e-6);
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 2, 2, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 19.44, 1e-6);
    ck_assert_double_eq_tol(f.sd, sqrt(var * 1.5625), 1e-6);
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 3, 2, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 19.75, 1e-6);
    ck_assert_double_eq_tol(f.sd, sqrt(var * 3.0025), 1e-6);
    /* A gap: the next sample comes at step 6 (k = 3). Steps 4 and 5 are
     * bridged: level 15.1 + 2*1.55 = 18.2, slot 0 + 2 = 0; then y6 is
     * predicted as 18.2 + 1.55 + s0 = 19.75, the h = 3 forecast. Feeding
     * exactly that is a zero error: level 19.75, trend 1.55. */
    add_ok(&s, &m, 6, 19.75);
    ck_assert_uint_eq(s.gap_steps, 2);
    ck_assert_double_eq_tol(s.level, 19.75, 1e-6);
    ck_assert_double_eq_tol(s.trend, 1.55, 1e-6);
    ck_assert_uint_eq(s.updates, 4);
}
END_TEST

START_TEST(test_hw_damped_forecast_matches_hand_computation)
{
    struct pw_hw_model m;
    hand_model(&m, 0, 0.9);
    struct pw_hw_state s;
    pw_hw_init(&s, &m, NULL);
    /* y0 = 10: level 10. y1 = 14: yhat 10, e = 4, level 12,
     * trend = 0.9*0 + 0.25*4 = 1, var 16. */
    add_ok(&s, &m, 0, 10);
    add_ok(&s, &m, 1, 14);
    /* h = 3: 12 + (0.9 + 0.81 + 0.729) * 1 = 14.439;
     * c1 = 0.5 + 0.25*0.9 = 0.725, c2 = 0.5 + 0.25*1.71 = 0.9275:
     * multiplier 1 + 0.525625 + 0.86025625 = 2.38588125. */
    struct pw_hw_forecast f;
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 3, 1.96, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 14.439, 1e-9);
    ck_assert_double_eq_tol(f.sd, 4 * sqrt(2.38588125), 1e-9);
    ck_assert_double_eq_tol(f.lo, 14.439 - 1.96 * f.sd, 1e-9);
}
END_TEST

START_TEST(test_hw_constant_series_forecasts_the_constant_exactly)
{
    struct pw_hw_model m;
    pw_hw_model_default(&m, 24, STEP, true);
    float season[24];
    struct pw_hw_state s;
    pw_hw_init(&s, &m, season);
    for (int i = 0; i < 1000; i++)
        add_ok(&s, &m, i, 42.5);
    struct pw_hw_forecast f;
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 100, 3, &f, NULL), 0);
    ck_assert_double_eq(f.mean, 42.5);
    ck_assert_double_eq(f.sd, 0);
    /* Warm start and fit on a constant: nothing to learn, no error. */
    double y[96];
    for (int i = 0; i < 96; i++)
        y[i] = 42.5;
    struct pw_hw_fit_result r;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_hw_fit(&m, y, 96, &r, &err) == 0, "%s", err.msg);
    ck_assert_double_eq(r.mse, 0);
    ck_assert_int_eq(pw_hw_start(&s, &m, season, y, 96, T0, &err), 0);
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 5, 3, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 42.5, 1e-12);
    ck_assert_double_eq(s.var, 0);
}
END_TEST

START_TEST(test_hw_rejects_and_counts_nonfinite_backwards_and_early)
{
    struct pw_hw_model m;
    hand_model(&m, 2, 1.0);
    float season[2];
    struct pw_hw_state s;
    pw_hw_init(&s, &m, season);
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_hw_update(&s, &m, T0, NAN, &err), -1);
    ck_assert(strstr(err.msg, "non-finite") != NULL);
    ck_assert(isnan(s.last_ts_s));      /* nothing entered the state */
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 1, 2, &(struct pw_hw_forecast){0},
                                    &err), -1);
    add_ok(&s, &m, 0, 10);
    add_ok(&s, &m, 1, 14);
    struct pw_hw_state before = s;
    float season_before[2] = {season[0], season[1]};
    ck_assert_int_eq(pw_hw_update(&s, &m, T0 + 2 * STEP, INFINITY, NULL), -1);
    ck_assert_int_eq(pw_hw_update(&s, &m, T0 + 2 * STEP, -INFINITY, NULL), -1);
    ck_assert_int_eq(pw_hw_update(&s, &m, NAN, 1, NULL), -1);
    ck_assert_int_eq(pw_hw_update(&s, &m, INFINITY, 1, NULL), -1);
    ck_assert_int_eq(pw_hw_update(&s, &m, T0, 1, &err), -1);
    ck_assert(strstr(err.msg, "before") != NULL);
    ck_assert_int_eq(pw_hw_update(&s, &m, T0 + STEP, 1, &err), -1); /* dup */
    ck_assert(strstr(err.msg, "half") != NULL);
    ck_assert_int_eq(pw_hw_update(&s, &m, T0 + 1.4 * STEP, 1, NULL), -1);
    ck_assert_uint_eq(s.rejected_nonfinite, 5);   /* the first NaN too */
    ck_assert_uint_eq(s.rejected_backwards, 1);
    ck_assert_uint_eq(s.rejected_early, 2);
    /* The state itself did not move. */
    ck_assert(s.level == before.level && s.trend == before.trend &&
              s.var == before.var && s.last_ts_s == before.last_ts_s &&
              s.updates == before.updates &&
              s.season_idx == before.season_idx);
    ck_assert(memcmp(season, season_before, sizeof season) == 0);
    /* 1.4 steps later rounds to the next step: accepted, no gap. */
    ck_assert_int_eq(pw_hw_update(&s, &m, T0 + 2.4 * STEP, 13, NULL), 0);
    ck_assert_uint_eq(s.gap_steps, 0);
    ck_assert_uint_eq(s.updates, 2);
}
END_TEST

START_TEST(test_hw_long_gap_resets_level_and_trend_keeps_season_phase)
{
    struct pw_hw_model m;
    hand_model(&m, 4, 1.0);
    m.max_gap_steps = 10;
    float season[4];
    struct pw_hw_state s;
    pw_hw_init(&s, &m, season);
    for (int i = 0; i < 40; i++)
        add_ok(&s, &m, i, 100 + i + (i % 4 == 1 ? 8 : 0));
    ck_assert_uint_eq(s.season_idx, 0);
    float s1 = season[1];
    ck_assert(s1 > 1);                   /* slot 1 learnt its bump */
    /* 41 steps later: k = 41 > 10. The 40 missing steps move the slot
     * from 0 to 40 mod 4 = 0; the new sample restarts the level there
     * (y - s0) and moves the slot on to 1. */
    add_ok(&s, &m, 39 + 41, 500);
    ck_assert_uint_eq(s.resets, 1);
    ck_assert_uint_eq(s.gap_steps, 0);
    ck_assert_double_eq_tol(s.level, 500 - (double)season[0], 1e-9);
    ck_assert_double_eq(s.trend, 0);
    ck_assert_uint_eq(s.season_idx, 1);
    ck_assert(season[1] == s1);          /* season kept */
}
END_TEST

START_TEST(test_hw_too_short_training_is_an_error)
{
    struct pw_hw_model m;
    pw_hw_model_default(&m, 48, 1800, false);
    double y[200];
    for (int i = 0; i < 200; i++)
        y[i] = sin(i * 2 * M_PI / 48);
    struct pw_hw_fit_result r;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_hw_fit(&m, y, 0, &r, &err), -1);
    ck_assert(strstr(err.msg, "too few") != NULL);
    ck_assert_int_eq(pw_hw_fit(&m, y, 95, &r, &err), -1);   /* < 2 m */
    ck_assert(strstr(err.msg, "two whole seasons") != NULL);
    float season[48];
    struct pw_hw_state s;
    ck_assert_int_eq(pw_hw_start(&s, &m, season, y, 95, T0, &err), -1);
    ck_assert(isnan(s.last_ts_s));       /* left a clean cold start */
    ck_assert_int_eq(pw_hw_fit(&m, y, 96, &r, &err), 0);
    y[10] = NAN;
    ck_assert_int_eq(pw_hw_fit(&m, y, 96, &r, &err), -1);
    ck_assert(strstr(err.msg, "sample 10") != NULL);
    struct pw_hw_model ns;
    pw_hw_model_default(&ns, 0, 60, true);
    ck_assert_int_eq(pw_hw_fit(&ns, y + 20, 9, &r, &err), -1);
    struct pw_hw_period per;
    ck_assert_int_eq(pw_hw_detect_period(y + 20, 100, 50, &per, &err), -1);
    ck_assert_int_eq(pw_hw_detect_period(y + 20, 100, 1, &per, &err), -1);
}
END_TEST

START_TEST(test_hw_bad_model_is_refused_with_a_reason)
{
    struct pw_hw_model m;
    struct pw_err err = {{0}};
    pw_hw_model_default(&m, 24, 60, false);
    ck_assert_int_eq(pw_hw_model_check(&m, &err), 0);
    m.p.gamma = 0.9;                     /* >= 1 - alpha */
    ck_assert_int_eq(pw_hw_model_check(&m, &err), -1);
    ck_assert(strstr(err.msg, "gamma") != NULL);
    pw_hw_model_default(&m, 1, 60, false);
    ck_assert_int_eq(pw_hw_model_check(&m, &err), -1);
    ck_assert(strstr(err.msg, "period") != NULL);
    pw_hw_model_default(&m, 0, 0, false);
    ck_assert_int_eq(pw_hw_model_check(&m, &err), -1);
    ck_assert(strstr(err.msg, "step_s") != NULL);
}
END_TEST

/* Feeds a sine of period 62.8 steps (not the model's 48) for n steps;
 * returns the largest |level| seen (inf once it overflows). */
static double run_sine(const struct pw_hw_model *m, size_t n)
{
    float season[48];
    struct pw_hw_state s;
    pw_hw_init(&s, m, season);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        pw_hw_update(&s, m, T0 + i * m->step_s, 100 + 20 * sin(i * 0.1), NULL);
        worst = isfinite(s.level) ? fmax(worst, fabs(s.level)) : INFINITY;
    }
    return worst;
}

START_TEST(test_hw_unstable_parameters_are_detected_and_do_diverge)
{
    struct pw_hw_model m;
    pw_hw_model_default(&m, 48, STEP, true);
    double r;
    /* Inside the usual box, yet a root outside the unit circle. */
    m.p.beta = 0.1;
    ck_assert_int_eq(pw_hw_max_root(&m, &r, NULL), 0);
    ck_assert_double_eq_tol(r, 1.000216, 2e-6);
    ck_assert(!pw_hw_stable(&m));
    ck_assert_msg(!(run_sine(&m, 300000) < 1e9), "should have diverged");
    /* The default beta: stable, and it stays bounded. */
    m.p.beta = 0.001;
    ck_assert_int_eq(pw_hw_max_root(&m, &r, NULL), 0);
    ck_assert(r < 1);
    ck_assert(pw_hw_stable(&m));
    ck_assert_msg(run_sine(&m, 300000) < 200, "stable model ran away");
    /* No season: the 2 x 2 discount matrix, always stable in the box. */
    pw_hw_model_default(&m, 0, STEP, true);
    ck_assert_int_eq(pw_hw_max_root(&m, &r, NULL), 0);
    ck_assert(r > 0.9 && r < 1);
    /* A week of 5-minute samples is beyond the check. */
    struct pw_err err = {{0}};
    pw_hw_model_default(&m, 2016, 300, false);
    ck_assert_int_eq(pw_hw_max_root(&m, &r, &err), -1);
    ck_assert(strstr(err.msg, "not checked") != NULL);
    ck_assert(!pw_hw_stable(&m));
}
END_TEST

START_TEST(test_hw_state_fits_in_256_bytes)
{
    ck_assert_uint_le(sizeof(struct pw_hw_state), 256);
    /* What the header promises: with the season, 256 B up to m = 46. */
    ck_assert_uint_le(sizeof(struct pw_hw_state) + 46 * sizeof(float), 256);
}
END_TEST

/* ---- real data ---- */

/* The values of one NAB series, e.g. ("realKnownCause", "nyc_taxi.csv");
 * *step_s gets the first interval. Caller frees. */
static double *load(const char *group, const char *file, size_t *n,
                    double *step_s)
{
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "nab"), 0);
    const char *groups[] = {group, NULL};
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_nab_load(dir, groups, &c, &err) == 0, "%s", err.msg);
    char name[256];
    snprintf(name, sizeof name, "%s/%s", group, file);
    double *y = NULL;
    for (size_t i = 0; i < c.n; i++) {
        if (strcmp(c.series[i].name, name) != 0)
            continue;
        *n = c.series[i].n;
        *step_s = (double)(c.series[i].ts[1] - c.series[i].ts[0]);
        y = malloc(*n * sizeof *y);
        memcpy(y, c.series[i].values, *n * sizeof *y);
    }
    pw_nab_corpus_free(&c);
    ck_assert_msg(y != NULL, "%s not in the corpus", name);
    return y;
}

/* One-step MSE of a warm-started series over y[train, train + len). */
static double holdout_mse(const struct pw_hw_model *m, const double *y,
                          size_t train, size_t len)
{
    float *season = malloc(m->period * sizeof *season);
    struct pw_hw_state s;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_hw_start(&s, m, season, y, train, T0, &err) == 0, "%s",
                  err.msg);
    double total = 0;
    for (size_t i = train; i < train + len; i++) {
        struct pw_hw_forecast f;
        ck_assert_int_eq(pw_hw_forecast(&s, m, 1, 0, &f, NULL), 0);
        total += (y[i] - f.mean) * (y[i] - f.mean);
        ck_assert_int_eq(pw_hw_update(&s, m, T0 + (i - train + 1) * m->step_s,
                                      y[i], NULL), 0);
    }
    free(season);
    return total / len;
}

START_TEST(test_hw_fit_beats_default_parameters_on_nab)
{
    struct {
        const char *group, *file;
        uint32_t period;
        bool damped;
    } cases[] = {
        {"realKnownCause", "nyc_taxi.csv", 48, true},           /* 30 min */
        {"artificialNoAnomaly", "art_daily_small_noise.csv", 288, false},
        {"realKnownCause", "ec2_request_latency_system_failure.csv", 0, true},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n;
        double step;
        double *y = load(cases[c].group, cases[c].file, &n, &step);
        size_t train = 14 * 86400 / (size_t)step;    /* two weeks */
        if (train > n / 2)
            train = n / 2;
        struct pw_hw_model def, fit;
        pw_hw_model_default(&def, cases[c].period, step, cases[c].damped);
        fit = def;
        struct pw_hw_fit_result r;
        struct pw_err err = {{0}};
        ck_assert_msg(pw_hw_fit(&fit, y, train, &r, &err) == 0, "%s: %s",
                      cases[c].file, err.msg);
        ck_assert_int_eq(pw_hw_model_check(&fit, NULL), 0);
        ck_assert_msg(pw_hw_stable(&fit), "%s: fitted model unstable",
                      cases[c].file);
        double out_def = holdout_mse(&def, y, train, n - train);
        double out_fit = holdout_mse(&fit, y, train, n - train);
        printf("%s: alpha %.4f beta %.4f gamma %.4f phi %.4f, %zu iter%s, "
               "%zu unstable trials; "
               "in-sample MSE %.4g -> %.4g; held-out %.4g -> %.4g\n",
               cases[c].file, fit.p.alpha, fit.p.beta, fit.p.gamma, fit.p.phi,
               r.iterations, r.converged ? "" : " (not converged)",
               r.unstable_trials,
               r.mse_start, r.mse, out_def, out_fit);
        ck_assert_msg(r.mse < 0.95 * r.mse_start, "%s: in-sample %g vs %g",
                      cases[c].file, r.mse, r.mse_start);
        ck_assert_msg(out_fit < out_def, "%s: held-out %g vs default %g",
                      cases[c].file, out_fit, out_def);
        free(y);
    }
}
END_TEST

START_TEST(test_hw_detects_period_on_nab)
{
    size_t n;
    double step;
    struct pw_hw_period p;
    struct pw_err err = {{0}};
    /* nyc_taxi: 30-minute samples, a daily (48) and a weekly (336)
     * rhythm. Up to two days of lags, the day. */
    double *y = load("realKnownCause", "nyc_taxi.csv", &n, &step);
    ck_assert_double_eq(step, 1800);
    ck_assert_int_eq(pw_hw_detect_period(y, n, 100, &p, &err), 0);
    printf("nyc_taxi, lags <= 100: period %u, acf %.3f, bound %.3f\n",
           p.period, p.acf, p.bound);
    ck_assert_uint_eq(p.period, 48);
    /* Up to ten days: the week is the stronger rhythm. */
    ck_assert_int_eq(pw_hw_detect_period(y, n, 480, &p, &err), 0);
    printf("nyc_taxi, lags <= 480: period %u, acf %.3f\n", p.period, p.acf);
    ck_assert(p.period == 48 || p.period == 336);
    free(y);
    /* 5-minute samples with a daily square-ish wave: 288. */
    y = load("artificialNoAnomaly", "art_daily_small_noise.csv", &n, &step);
    ck_assert_int_eq(pw_hw_detect_period(y, n, 600, &p, &err), 0);
    printf("art_daily_small_noise: period %u, acf %.3f\n", p.period, p.acf);
    ck_assert_uint_eq(p.period, 288);
    free(y);
    /* Noise and a flat line: no season. */
    y = load("artificialNoAnomaly", "art_noisy.csv", &n, &step);
    ck_assert_int_eq(pw_hw_detect_period(y, n, 600, &p, &err), 0);
    printf("art_noisy: period %u\n", p.period);
    ck_assert_uint_eq(p.period, 0);
    free(y);
    y = load("artificialNoAnomaly", "art_flatline.csv", &n, &step);
    ck_assert_int_eq(pw_hw_detect_period(y, n, 600, &p, &err), 0);
    ck_assert_uint_eq(p.period, 0);
    free(y);
}
END_TEST

/* Share of y[train..n) inside the h-step interval issued h steps before. */
static double coverage(const struct pw_hw_model *m, const double *y,
                       size_t n, size_t train, uint32_t h, double z)
{
    float *season = malloc(m->period * sizeof *season);
    struct pw_hw_state s;
    ck_assert_int_eq(pw_hw_start(&s, m, season, y, train, T0, NULL), 0);
    size_t inside = 0, total = 0;
    for (size_t i = train; i + h <= n; i++) {
        struct pw_hw_forecast f;
        ck_assert_int_eq(pw_hw_forecast(&s, m, h, z, &f, NULL), 0);
        double actual = y[i + h - 1];
        inside += f.lo <= actual && actual <= f.hi;
        total++;
        ck_assert_int_eq(pw_hw_update(&s, m, T0 + (i - train + 1) * m->step_s,
                                      y[i], NULL), 0);
    }
    free(season);
    return (double)inside / total;
}

START_TEST(test_hw_intervals_cover_about_the_nominal_share_on_nab)
{
    size_t n;
    double step;
    double *y = load("realKnownCause", "nyc_taxi.csv", &n, &step);
    struct pw_hw_model m;
    pw_hw_model_default(&m, 48, step, true);
    struct pw_hw_fit_result r;
    ck_assert_int_eq(pw_hw_fit(&m, y, 672, &r, NULL), 0);
    /* Measured (fit on the first two weeks, 95 % / 80 % nominal):
     * h = 1: 0.947 / 0.823; h = 6: 0.871 / 0.741; h = 48: 1.000 / 0.988.
     * One step ahead the interval is right; a few hours ahead it is
     * somewhat narrow (the day's shape drifts, which the model's error
     * structure does not know); a day ahead the fitted alpha near 1 makes
     * the textbook variance grow like a random walk's, far wider than the
     * errors. The bounds are loose and one-sided where the bias is known. */
    struct {
        uint32_t h;
        double lo95, hi95, lo80, hi80;
    } cases[] = {
        {1, 0.90, 0.99, 0.72, 0.90},
        {6, 0.80, 0.99, 0.65, 0.90},
        {48, 0.95, 1.00, 0.80, 1.00},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t h = cases[i].h;
        double c95 = coverage(&m, y, n, 672, h, 1.96);
        double c80 = coverage(&m, y, n, 672, h, 1.2816);
        printf("nyc_taxi h=%u: 95%% interval covers %.3f, 80%% covers %.3f\n",
               h, c95, c80);
        ck_assert_msg(c95 >= cases[i].lo95 && c95 <= cases[i].hi95,
                      "h=%u 95%%: %.3f", h, c95);
        ck_assert_msg(c80 >= cases[i].lo80 && c80 <= cases[i].hi80,
                      "h=%u 80%%: %.3f", h, c80);
        ck_assert(c80 <= c95);
    }
    free(y);
}
END_TEST

START_TEST(test_hw_is_deterministic)
{
    size_t n;
    double step;
    double *y = load("realKnownCause", "nyc_taxi.csv", &n, &step);
    struct pw_hw_model a, b;
    pw_hw_model_default(&a, 48, step, true);
    b = a;
    struct pw_hw_fit_result ra, rb;
    ck_assert_int_eq(pw_hw_fit(&a, y, 1000, &ra, NULL), 0);
    ck_assert_int_eq(pw_hw_fit(&b, y, 1000, &rb, NULL), 0);
    ck_assert(memcmp(&a, &b, sizeof a) == 0);
    ck_assert(ra.mse == rb.mse && ra.iterations == rb.iterations);
    float sa[48], sb[48];
    struct pw_hw_state xa, xb;
    ck_assert_int_eq(pw_hw_start(&xa, &a, sa, y, 1000, T0, NULL), 0);
    ck_assert_int_eq(pw_hw_start(&xb, &b, sb, y, 1000, T0, NULL), 0);
    for (size_t i = 1000; i < n; i++) {
        pw_hw_update(&xa, &a, T0 + (i - 999) * step, y[i], NULL);
        pw_hw_update(&xb, &b, T0 + (i - 999) * step, y[i], NULL);
    }
    ck_assert(xa.level == xb.level && xa.trend == xb.trend &&
              xa.var == xb.var);
    ck_assert(memcmp(sa, sb, sizeof sa) == 0);
    free(y);
}
END_TEST

int main(void)
{
    pw_require_shared_data();
    Suite *s = suite_create("holtwinters");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hw_recursion_matches_hand_computed_steps);
    tcase_add_test(tc, test_hw_damped_forecast_matches_hand_computation);
    tcase_add_test(tc, test_hw_constant_series_forecasts_the_constant_exactly);
    tcase_add_test(tc, test_hw_rejects_and_counts_nonfinite_backwards_and_early);
    tcase_add_test(tc, test_hw_long_gap_resets_level_and_trend_keeps_season_phase);
    tcase_add_test(tc, test_hw_too_short_training_is_an_error);
    tcase_add_test(tc, test_hw_bad_model_is_refused_with_a_reason);
    tcase_add_test(tc, test_hw_unstable_parameters_are_detected_and_do_diverge);
    tcase_add_test(tc, test_hw_state_fits_in_256_bytes);
    suite_add_tcase(s, tc);
    TCase *real = tcase_create("nab");
    tcase_set_timeout(real, 100);
    tcase_add_test(real, test_hw_fit_beats_default_parameters_on_nab);
    tcase_add_test(real, test_hw_detects_period_on_nab);
    tcase_add_test(real, test_hw_intervals_cover_about_the_nominal_share_on_nab);
    tcase_add_test(real, test_hw_is_deterministic);
    suite_add_tcase(s, real);
    return pw_run_suite(s);
}
