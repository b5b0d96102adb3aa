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
    pw_hw_init(&s, &m);
    const float *season = s.season;
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
    pw_hw_init(&s, &m);
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
    struct pw_hw_state s;
    pw_hw_init(&s, &m);
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
    ck_assert_int_eq(pw_hw_start(&s, &m, y, 96, T0, &err), 0);
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 5, 3, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 42.5, 1e-12);
    ck_assert_double_eq(s.var, 0);
}
END_TEST

START_TEST(test_hw_rejects_and_counts_nonfinite_backwards_and_early)
{
    struct pw_hw_model m;
    hand_model(&m, 2, 1.0);
    struct pw_hw_state s;
    pw_hw_init(&s, &m);
    const float *season = s.season;
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
    ck_assert(memcmp(season, season_before, sizeof season_before) == 0);
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
    struct pw_hw_state s;
    pw_hw_init(&s, &m);
    const float *season = s.season;
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
    struct pw_hw_state s;
    ck_assert_int_eq(pw_hw_start(&s, &m, y, 95, T0, &err), -1);
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
    struct pw_hw_state s;
    pw_hw_init(&s, m);
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
    /* A week of 5-minute samples: compressed to 48 knots, checked too
     * (it was beyond the polynomial). Measured: the damped default is
     * stable (0.9999998), the undamped one is not (1.0000089). */
    struct pw_err err = {{0}};
    pw_hw_model_default(&m, 2016, 300, true);
    ck_assert_msg(pw_hw_max_root(&m, &r, &err) == 0, "%s", err.msg);
    ck_assert(r > 0.9999 && r < 1);
    ck_assert(pw_hw_stable(&m));
    m.p.phi = 1;
    ck_assert_msg(pw_hw_max_root(&m, &r, &err) == 0, "%s", err.msg);
    ck_assert_double_eq_tol(r, 1.0000089, 1e-6);
}
END_TEST

/* Feeds 100 + 20 sin(0.1 i) (period 62.8 steps, not the model's) for n
 * steps into a state of model m; returns the largest |level| seen. */
static double run_sine_any(const struct pw_hw_model *m, size_t n)
{
    struct pw_hw_state s;
    pw_hw_init(&s, m);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        pw_hw_update(&s, m, T0 + i * m->step_s, 100 + 20 * sin(i * 0.1), NULL);
        worst = isfinite(s.level) ? fmax(worst, fabs(s.level)) : INFINITY;
    }
    return worst;
}

START_TEST(test_hw_compressed_stability_check_predicts_divergence)
{
    /* m = 288 runs on 48 knots; the root is the compressed model's own. */
    struct pw_hw_model m;
    pw_hw_model_default(&m, 288, STEP, true);
    ck_assert_uint_eq(pw_hw_knots(&m), 48);
    double r;
    m.p.beta = 0.3;
    ck_assert_int_eq(pw_hw_max_root(&m, &r, NULL), 0);
    /* Measured: 1.0005319 (per step); 1e12 after about 52 000 steps. */
    ck_assert_double_eq_tol(r, 1.0005319, 1e-6);
    ck_assert(!pw_hw_stable(&m));
    ck_assert_msg(!(run_sine_any(&m, 200000) < 1e9), "should have diverged");
    m.p.beta = 0.001;                    /* root 0.9999855 */
    ck_assert_int_eq(pw_hw_max_root(&m, &r, NULL), 0);
    ck_assert(r < 1);
    ck_assert_msg(run_sine_any(&m, 200000) < 200, "stable model ran away");
}
END_TEST

START_TEST(test_hw_state_fits_in_256_bytes)
{
    /* The season lives in the state: bytes per series = sizeof, for any
     * period, the longest ones included. */
    ck_assert_uint_le(sizeof(struct pw_hw_state), 256);
    uint32_t periods[] = {0, 2, 48, 288, 2016};
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++) {
        struct pw_hw_model m;
        pw_hw_model_default(&m, periods[i], 300, false);
        uint32_t K = pw_hw_knots(&m);
        ck_assert_uint_eq(K, periods[i] < 48 ? periods[i] : 48);
        ck_assert_uint_le(K, PW_HW_SEASON_KNOTS);
        size_t bytes_per_series = sizeof(struct pw_hw_state);
        ck_assert_uint_le(bytes_per_series, 256);
        ck_assert_uint_ge(sizeof(((struct pw_hw_state *)0)->season),
                          K * sizeof(float));
    }
}
END_TEST

static double *load(const char *group, const char *file, size_t *n,
                    double *step_s);

/* The classical recursion (the equations with K = m), written out here
 * independently of the library: level, trend and float season[m]. */
struct classic {
    double l, b;
    float s[64];
};

static void classic_step(struct classic *c, const struct pw_hw_params *p,
                         uint32_t slot, double y)
{
    double s0 = c->s[slot], pb = p->phi * c->b;
    double e = y - (c->l + pb + s0);
    c->l += pb + p->alpha * e;
    c->b = pb + p->alpha * p->beta * e;
    c->s[slot] = (float)(s0 + p->gamma * e);
}

START_TEST(test_hw_with_as_many_knots_as_period_is_the_classical_model)
{
    /* m = 48 = PW_HW_SEASON_KNOTS: the largest uncompressed period. Every
     * step must be the classical one to the bit. */
    struct pw_hw_model m;
    pw_hw_model_default(&m, 48, STEP, true);
    ck_assert_uint_eq(pw_hw_knots(&m), 48);
    struct pw_hw_state s;
    pw_hw_init(&s, &m);
    struct classic c = {0};
    uint64_t x = 12345;
    for (int i = 0; i < 5000; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        double y = 50 + 10 * sin(i * 2 * M_PI / 48) + (double)(x >> 40) / 1e6;
        add_ok(&s, &m, i, y);
        if (i == 0)
            c.l = y;                 /* the cold start sets the level */
        else
            classic_step(&c, &m.p, (uint32_t)(i % 48), y);
        ck_assert(s.level == c.l && s.trend == c.b);
    }
    ck_assert(memcmp(s.season, c.s, 48 * sizeof(float)) == 0);
    /* And the held-out evaluation with knots = m runs the same model as
     * the state does. */
    size_t n;
    double step;
    double *y = load("realKnownCause", "nyc_taxi.csv", &n, &step);
    pw_hw_model_default(&m, 48, step, true);
    double a, b;
    ck_assert_int_eq(pw_hw_holdout_mse(&m, 48, y, 672, n, &a, NULL), 0);
    ck_assert_int_eq(pw_hw_holdout_mse(&m, 0, y, 672, n, &b, NULL), 0);
    ck_assert(a == b);
    free(y);
}
END_TEST

START_TEST(test_hw_compressed_update_splits_the_error_between_two_knots)
{
    /* m = 96 on 48 knots: knot k at phase 2k, so phase 1 is halfway
     * between knots 0 and 1 (x = 0.5), phase 2 is on knot 1. */
    struct pw_hw_model m;
    hand_model(&m, 96, 1.0);
    ck_assert_uint_eq(pw_hw_knots(&m), 48);
    struct pw_hw_state s;
    pw_hw_init(&s, &m);
    /* y0 = 10 at phase 0: level 10. */
    add_ok(&s, &m, 0, 10);
    /* y1 = 14 at phase 1: s(1) = 0.5 c0 + 0.5 c1 = 0, yhat 10, e = 4:
     * level 12, trend 1, c0 and c1 each + 0.5 * 0.2 * 4 = 0.4. */
    add_ok(&s, &m, 1, 14);
    ck_assert_double_eq_tol(s.level, 12, 1e-12);
    ck_assert_double_eq_tol(s.trend, 1, 1e-12);
    ck_assert_double_eq_tol(s.season[0], 0.4, 1e-6);
    ck_assert_double_eq_tol(s.season[1], 0.4, 1e-6);
    ck_assert_double_eq(s.season[2], 0);
    /* y2 = 13.4 at phase 2, on knot 1: yhat = 12 + 1 + 0.4 = 13.4, e = 0:
     * level 13, trend 1, knots unchanged. Forecast h = 1 (phase 3,
     * x = 1.5): 13 + 1 + 0.5 * 0.4 + 0.5 * 0 = 14.2; h = 2 (phase 4, on
     * knot 2): 13 + 2 * 1 + 0 = 15. */
    add_ok(&s, &m, 2, 13.4);
    ck_assert_double_eq_tol(s.level, 13, 1e-6);
    ck_assert_double_eq_tol(s.season[1], 0.4, 1e-6);
    struct pw_hw_forecast f;
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 1, 0, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 14.2, 1e-6);
    ck_assert_int_eq(pw_hw_forecast(&s, &m, 2, 0, &f, NULL), 0);
    ck_assert_double_eq_tol(f.mean, 15, 1e-6);
    /* The variance multiplier at h = 2: the error at phase 3 (0.5 on
     * knots 1 and 2) reaches phase 4 (1 on knot 2) with weight 0.5:
     * c1 = 0.5 + 0.25 * 1 + 0.2 * 0.5 = 0.85. */
    ck_assert_double_eq_tol(f.sd * f.sd, s.var * (1 + 0.85 * 0.85), 1e-9);
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
    struct pw_hw_state s;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_hw_start(&s, m, y, train, T0, &err) == 0, "%s",
                  err.msg);
    double total = 0;
    for (size_t i = train; i < train + len; i++) {
        struct pw_hw_forecast f;
        ck_assert_int_eq(pw_hw_forecast(&s, m, 1, 0, &f, NULL), 0);
        total += (y[i] - f.mean) * (y[i] - f.mean);
        ck_assert_int_eq(pw_hw_update(&s, m, T0 + (i - train + 1) * m->step_s,
                                      y[i], NULL), 0);
    }
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

START_TEST(test_hw_compressed_season_costs_a_bounded_share_of_accuracy)
{
    /* Two weeks of training, the rest held out, one step ahead; the
     * parameters fitted for the model that runs (K knots). */
    struct {
        const char *group, *file;
        uint32_t period;
        bool damped;
        double bound;       /* on MSE(K) / MSE(K = m) */
    } cases[] = {
        /* m = 288 at 5 min on 48 knots: a knot every 30 min cannot follow
         * the 5-minute steps of this square wave. Measured 2.35 (2.53
         * with the default parameters). */
        {"artificialNoAnomaly", "art_daily_small_noise.csv", 288, false,
         2.8},
        /* m = 48 at 30 min: not compressed, the same model exactly. */
        {"realKnownCause", "nyc_taxi.csv", 48, true, 1.0},
        /* The weekly period of the same series, 336 on 48 knots: measured
         * 1.35; only printed, for the report. */
        {"realKnownCause", "nyc_taxi.csv", 336, true, INFINITY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n;
        double step;
        double *y = load(cases[c].group, cases[c].file, &n, &step);
        size_t train = 14 * 86400 / (size_t)step;    /* two weeks */
        if (train > n / 2)
            train = n / 2;            /* art_daily_small_noise: 2 weeks in all */
        struct pw_hw_model m;
        pw_hw_model_default(&m, cases[c].period, step, cases[c].damped);
        struct pw_hw_fit_result r;
        struct pw_err err = {{0}};
        ck_assert_msg(pw_hw_fit(&m, y, train, &r, &err) == 0, "%s", err.msg);
        double full, comp, online = holdout_mse(&m, y, train, n - train);
        ck_assert_int_eq(pw_hw_holdout_mse(&m, m.period, y, train, n, &full,
                                           &err), 0);
        ck_assert_int_eq(pw_hw_holdout_mse(&m, 0, y, train, n, &comp, &err),
                         0);
        printf("%s m %u: held-out one-step MSE full (K = m) %.4g, "
               "compressed (K = %u) %.4g, ratio %.3f\n", cases[c].file,
               m.period, full, pw_hw_knots(&m), comp, comp / full);
        /* The evaluation runs what a state runs (to rounding: the
         * forecast sums phi once more). */
        ck_assert_double_eq_tol(comp, online, 1e-9 * online);
        ck_assert_msg(comp <= cases[c].bound * full, "%s: %g vs %g",
                      cases[c].file, comp, full);
        free(y);
    }
}
END_TEST

START_TEST(test_hw_fit_refuses_diverging_parameters_on_compressed_season)
{
    /* art_daily_small_noise, m = 288 on 48 knots. */
    size_t n;
    double step;
    double *y = load("artificialNoAnomaly", "art_daily_small_noise.csv", &n,
                     &step);
    size_t train = n / 2;
    /* A start inside the usual box whose compressed model diverges
     * (measured root 1.0006564): every trial around it is refused, and so
     * is the fit, the model untouched. */
    struct pw_hw_model start;
    pw_hw_model_default(&start, 288, step, false);
    start.p.beta = 0.3;
    double r0, r1;
    ck_assert_int_eq(pw_hw_max_root(&start, &r0, NULL), 0);
    ck_assert_msg(r0 > 1 + 1e-4, "start root %.7f", r0);
    struct pw_hw_model fit = start;
    struct pw_hw_fit_result r;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_hw_fit(&fit, y, train, &r, &err), -1);
    ck_assert(strstr(err.msg, "stable") != NULL);
    ck_assert(memcmp(&fit, &start, sizeof fit) == 0);
    ck_assert_uint_gt(r.unstable_trials, 0);
    /* From the default start the fit ends on a stable model. */
    pw_hw_model_default(&fit, 288, step, false);
    ck_assert_msg(pw_hw_fit(&fit, y, train, &r, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pw_hw_max_root(&fit, &r1, NULL), 0);
    ck_assert(pw_hw_stable(&fit));
    /* The series over and over (250 000 samples): the refused start runs
     * away, the fitted model does not. */
    struct pw_hw_state a, b;
    pw_hw_init(&a, &start);
    pw_hw_init(&b, &fit);
    double worst_a = 0, worst_b = 0;
    for (size_t i = 0; i < 250000; i++) {
        double yi = y[i % n], ts = T0 + (double)i * step;
        pw_hw_update(&a, &start, ts, yi, NULL);
        pw_hw_update(&b, &fit, ts, yi, NULL);
        worst_a = isfinite(a.level) ? fmax(worst_a, fabs(a.level)) : INFINITY;
        worst_b = isfinite(b.level) ? fmax(worst_b, fabs(b.level)) : INFINITY;
    }
    printf("art_daily_small_noise, 250 000 samples: refused start (root "
           "%.7f) max |level| %.3g; fitted (root %.7f) %.3g\n", r0, worst_a,
           r1, worst_b);
    ck_assert_msg(!(worst_a < 1e9), "the unstable start should diverge");
    ck_assert_msg(worst_b < 1000, "the fitted model ran away");
    free(y);
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
    struct pw_hw_state s;
    ck_assert_int_eq(pw_hw_start(&s, m, y, train, T0, NULL), 0);
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
    struct pw_hw_state xa, xb;
    ck_assert_int_eq(pw_hw_start(&xa, &a, y, 1000, T0, NULL), 0);
    ck_assert_int_eq(pw_hw_start(&xb, &b, y, 1000, T0, NULL), 0);
    for (size_t i = 1000; i < n; i++) {
        pw_hw_update(&xa, &a, T0 + (i - 999) * step, y[i], NULL);
        pw_hw_update(&xb, &b, T0 + (i - 999) * step, y[i], NULL);
    }
    ck_assert(xa.level == xb.level && xa.trend == xb.trend &&
              xa.var == xb.var);
    ck_assert(memcmp(xa.season, xb.season, sizeof xa.season) == 0);
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
    tcase_add_test(tc, test_hw_compressed_stability_check_predicts_divergence);
    tcase_add_test(tc, test_hw_state_fits_in_256_bytes);
    tcase_add_test(tc, test_hw_compressed_update_splits_the_error_between_two_knots);
    suite_add_tcase(s, tc);
    TCase *real = tcase_create("nab");
    tcase_set_timeout(real, 100);
    tcase_add_test(real, test_hw_fit_beats_default_parameters_on_nab);
    tcase_add_test(real, test_hw_detects_period_on_nab);
    tcase_add_test(real, test_hw_with_as_many_knots_as_period_is_the_classical_model);
    tcase_add_test(real, test_hw_compressed_season_costs_a_bounded_share_of_accuracy);
    tcase_add_test(real, test_hw_fit_refuses_diverging_parameters_on_compressed_season);
    tcase_add_test(real, test_hw_intervals_cover_about_the_nominal_share_on_nab);
    tcase_add_test(real, test_hw_is_deterministic);
    suite_add_tcase(s, real);
    return pw_run_suite(s);
}
