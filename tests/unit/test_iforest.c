/* tests/unit/test_iforest.c — the isolation forest: c(n) against hand
 * values, outliers scoring above inliers, reproducibility under a seed,
 * attribution, merging, both calibrations, and every refusal with a
 * reason. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "models/iforest.h"

#include "tests/unit/testing.h"

/* n rows of d standard normal features, then `extra` rows left zero for
 * the caller. Free with free(). */
static double *normal_data(size_t n, size_t d, size_t extra,
                           unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *x = calloc((n + extra) * d, sizeof *x);
    for (size_t i = 0; i < n * d; i++)
        x[i] = gsl_ran_gaussian(rng, 1.0);
    gsl_rng_free(rng);
    return x;
}

static struct pw_iforest *fit(const double *x, size_t n, size_t d,
                              size_t trees, size_t psi, unsigned long seed)
{
    struct pw_iforest_config c;
    pw_iforest_config_default(&c);
    c.n_trees = trees;
    c.psi = psi;
    c.seed = seed;
    struct pw_err err = {{0}};
    struct pw_iforest *f = pw_iforest_fit(x, n, d, &c, &err);
    ck_assert_msg(f != NULL, "pw_iforest_fit: %s", err.msg);
    return f;
}

START_TEST(test_iforest_c_matches_hand_values)
{
    /* c(n) = 2 (ln(n - 1) + 0.5772156649) - 2 (n - 1) / n, by hand:
     * c(3)   = 2 (0.693147 + 0.577216) - 4/3        = 1.207392
     * c(10)  = 2 (2.197225 + 0.577216) - 18/10      = 3.748880
     * c(256) = 2 (5.541264 + 0.577216) - 510/256    = 10.244771 */
    ck_assert_double_eq(pw_iforest_c(0), 0);
    ck_assert_double_eq(pw_iforest_c(1), 0);
    ck_assert_double_eq(pw_iforest_c(2), 1);
    ck_assert_double_eq_tol(pw_iforest_c(3), 1.207392, 1e-6);
    ck_assert_double_eq_tol(pw_iforest_c(10), 3.748880, 1e-6);
    ck_assert_double_eq_tol(pw_iforest_c(256), 10.244771, 1e-6);
    ck_assert_double_eq_tol(pw_iforest_c(100000), 22.180282, 1e-6);
}
END_TEST

START_TEST(test_iforest_obvious_outlier_scores_above_every_inlier)
{
    size_t n = 200, d = 2;
    double *x = normal_data(n, d, 1, 3);
    x[n * d] = 8;                     /* row n: far from the cloud */
    x[n * d + 1] = 8;
    struct pw_iforest *f = fit(x, n + 1, d, 100, 256, 1);
    ck_assert_uint_eq(pw_iforest_psi(f), n + 1);   /* psi capped at n */
    ck_assert_uint_eq(pw_iforest_trees(f), 100);
    double *s = malloc((n + 1) * sizeof *s);
    pw_iforest_score_batch(f, x, n + 1, s);
    double max_in = 0, mean_in = 0;
    for (size_t i = 0; i < n; i++) {
        max_in = fmax(max_in, s[i]);
        mean_in += s[i] / (double)n;
    }
    ck_assert_msg(s[n] > max_in, "outlier %.3f, highest inlier %.3f", s[n],
                  max_in);
    ck_assert_msg(s[n] > 0.7, "outlier scores only %.3f", s[n]);
    ck_assert_msg(mean_in < 0.5, "inliers average %.3f", mean_in);
    /* Beyond the outlier in both features, a new point takes the
     * outlier's path in every tree (it is the maximum of both), so it
     * scores exactly the same. */
    double far[2] = {50, 50};
    ck_assert_double_eq(pw_iforest_score(f, far), s[n]);
    free(s);
    free(x);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_batch_scores_equal_single_scores)
{
    size_t n = 1000, d = 8;
    double *x = normal_data(n, d, 0, 5);
    struct pw_iforest *f = fit(x, n, d, 100, 256, 9);
    double *q = normal_data(300, d, 0, 6);
    for (size_t i = 0; i < 300 * d; i += 7)
        q[i] *= 4;                       /* some far, some near */
    double s[300];
    pw_iforest_score_batch(f, q, 300, s);   /* blocks of 64 and a tail */
    for (size_t i = 0; i < 300; i++) {
        double one = pw_iforest_score(f, q + i * d);
        ck_assert_msg(s[i] == one, "row %zu: batch %.17g, single %.17g", i,
                      s[i], one);
        double h = pw_iforest_path_length(f, q + i * d);
        ck_assert_double_eq_tol(one, exp2(-h / pw_iforest_c(256)), 1e-15);
    }
    free(q);
    free(x);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_wide_rows_score_one_at_a_time_the_same)
{
    size_t n = 40, d = 5000;         /* too wide for a padded block */
    double *x = normal_data(n, d, 0, 8);
    struct pw_iforest *f = fit(x, n, d, 20, 256, 2);
    double s[40];
    pw_iforest_score_batch(f, x, n, s);
    for (size_t i = 0; i < n; i++)
        ck_assert(s[i] == pw_iforest_score(f, x + i * d));
    free(x);
    pw_iforest_free(f);
}
END_TEST

static int same_forest(const struct pw_iforest *a, const struct pw_iforest *b)
{
    if (pw_iforest_trees(a) != pw_iforest_trees(b))
        return 0;
    for (size_t t = 0; t < pw_iforest_trees(a); t++) {
        size_t na, nb;
        const struct pw_iforest_node *ta = pw_iforest_tree(a, t, &na);
        const struct pw_iforest_node *tb = pw_iforest_tree(b, t, &nb);
        if (na != nb || memcmp(ta, tb, na * sizeof *ta) != 0)
            return 0;
    }
    return 1;
}

START_TEST(test_iforest_same_seed_same_forest_and_scores)
{
    size_t n = 2000, d = 4;
    double *x = normal_data(n, d, 0, 11);
    struct pw_iforest *a = fit(x, n, d, 100, 256, 42);
    struct pw_iforest *b = fit(x, n, d, 100, 256, 42);
    ck_assert(same_forest(a, b));
    double *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb);
    pw_iforest_score_batch(a, x, n, sa);
    pw_iforest_score_batch(b, x, n, sb);
    ck_assert(memcmp(sa, sb, n * sizeof *sa) == 0);
    free(sa);
    free(sb);
    free(x);
    pw_iforest_free(a);
    pw_iforest_free(b);
}
END_TEST

START_TEST(test_iforest_different_seed_different_trees)
{
    size_t n = 2000, d = 4;
    double *x = normal_data(n, d, 0, 11);
    struct pw_iforest *a = fit(x, n, d, 100, 256, 42);
    struct pw_iforest *b = fit(x, n, d, 100, 256, 43);
    ck_assert(!same_forest(a, b));
    /* Not one tree in common, and the scores differ but agree roughly. */
    size_t n0, n1;
    for (size_t t = 0; t < 100; t++) {
        const struct pw_iforest_node *ta = pw_iforest_tree(a, t, &n0);
        const struct pw_iforest_node *tb = pw_iforest_tree(b, t, &n1);
        ck_assert(n0 != n1 || memcmp(ta, tb, n0 * sizeof *ta) != 0);
    }
    double p[4] = {0.1, -0.2, 0.3, 0};
    double s0 = pw_iforest_score(a, p), s1 = pw_iforest_score(b, p);
    ck_assert(s0 != s1);
    ck_assert_double_eq_tol(s0, s1, 0.05);
    free(x);
    pw_iforest_free(a);
    pw_iforest_free(b);
}
END_TEST

START_TEST(test_iforest_trees_respect_height_limit_and_layout)
{
    size_t n = 5000, d = 3;
    double *x = normal_data(n, d, 0, 12);
    struct pw_iforest *f = fit(x, n, d, 50, 256, 1);
    ck_assert_uint_eq(sizeof(struct pw_iforest_node), 16);
    size_t total = 0;
    for (size_t t = 0; t < 50; t++) {
        size_t m;
        const struct pw_iforest_node *tr = pw_iforest_tree(f, t, &m);
        ck_assert(m >= 1 && m <= 2 * 256 - 1);
        total += m;
        for (size_t i = 0; i < m; i++) {
            if (tr[i].feature == d) {      /* leaf: self-loop, h >= depth */
                ck_assert_uint_eq(tr[i].child, i);
                ck_assert(tr[i].split >= 0);
                /* depth <= 8, c(size) <= c(256 - 8): h below 8 + c(248) */
                ck_assert(tr[i].split < 8 + pw_iforest_c(248) + 1e-9);
            } else {
                ck_assert(tr[i].feature < d);
                ck_assert(tr[i].child > i && tr[i].child + 1 < m);
            }
        }
    }
    ck_assert(pw_iforest_bytes(f) >= total * 16);
    size_t m;
    ck_assert_ptr_null(pw_iforest_tree(f, 50, &m));
    ck_assert_uint_eq(m, 0);
    free(x);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_attribution_picks_the_feature_the_outlier_differs_in)
{
    size_t n = 500, d = 4;
    double *x = normal_data(n, d, 0, 21);
    struct pw_iforest *f = fit(x, n, d, 100, 256, 3);
    for (size_t k = 0; k < d; k++) {
        double p[4] = {0.2, -0.1, 0.05, 0.3};
        p[k] = 7;                       /* ordinary except in feature k */
        double a[4];
        ck_assert_int_eq(pw_iforest_attribute(f, p, a), 0);
        double sum = 0;
        for (size_t j = 0; j < d; j++) {
            ck_assert(a[j] >= 0);
            sum += a[j];
            if (j != k)
                ck_assert_msg(a[k] > 4 * a[j], "feature %zu: %.3f vs "
                              "feature %zu: %.3f", k, a[k], j, a[j]);
        }
        ck_assert_double_eq_tol(sum, 1, 1e-12);
        ck_assert_msg(a[k] > 0.6, "feature %zu gets only %.3f", k, a[k]);
    }
    /* An ordinary point still gets a distribution summing to 1. */
    double mid[4] = {0, 0, 0, 0}, a[4];
    ck_assert_int_eq(pw_iforest_attribute(f, mid, a), 0);
    ck_assert_double_eq_tol(a[0] + a[1] + a[2] + a[3], 1, 1e-12);
    double nan_p[4] = {0, NAN, 0, 0};
    ck_assert_int_eq(pw_iforest_attribute(f, nan_p, a), -1);
    ck_assert(isnan(a[0]));
    free(x);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_attribution_of_constant_training_is_uniform)
{
    double x[30];
    for (int i = 0; i < 30; i++)
        x[i] = 5;                       /* 10 equal rows of 3 features */
    struct pw_iforest *f = fit(x, 10, 3, 10, 256, 1);
    double p[3] = {5, 5, 100}, a[3];
    ck_assert_int_eq(pw_iforest_attribute(f, p, a), 0);
    for (int j = 0; j < 3; j++)
        ck_assert_double_eq_tol(a[j], 1.0 / 3, 1e-12);
    /* Every tree is one leaf holding 10 points: h = c(10) = c(psi). */
    ck_assert_double_eq_tol(pw_iforest_path_length(f, p), pw_iforest_c(10),
                            1e-12);
    ck_assert_double_eq_tol(pw_iforest_score(f, p), 0.5, 1e-12);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_merge_pools_trees_and_averages_path_lengths)
{
    size_t n = 1000, d = 3;
    double *x1 = normal_data(n, d, 0, 31);
    double *x2 = normal_data(n, d, 0, 32);
    for (size_t i = 0; i < n * d; i++)
        x2[i] = 2 * x2[i] + 1;           /* a different distribution */
    struct pw_iforest *a = fit(x1, n, d, 60, 256, 1);
    struct pw_iforest *b = fit(x2, n, d, 40, 256, 2);
    struct pw_err err = {{0}};
    struct pw_iforest *m = pw_iforest_merge(a, b, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    ck_assert_uint_eq(pw_iforest_trees(m), 100);
    ck_assert_uint_eq(pw_iforest_psi(m), 256);
    /* a's trees first, then b's, node for node. */
    size_t k, l;
    const struct pw_iforest_node *tm = pw_iforest_tree(m, 0, &k);
    const struct pw_iforest_node *ta = pw_iforest_tree(a, 0, &l);
    ck_assert(k == l && memcmp(tm, ta, l * sizeof *ta) == 0);
    tm = pw_iforest_tree(m, 60, &k);
    ta = pw_iforest_tree(b, 0, &l);
    ck_assert(k == l && memcmp(tm, ta, l * sizeof *ta) == 0);
    double q[20 * 3];
    for (size_t i = 0; i < 20 * 3; i++)
        q[i] = x2[i] + (i % 5 == 0 ? 3 : 0);
    double sm[20];
    pw_iforest_score_batch(m, q, 20, sm);
    for (size_t i = 0; i < 20; i++) {
        double ha = pw_iforest_path_length(a, q + i * d);
        double hb = pw_iforest_path_length(b, q + i * d);
        double h = (60 * ha + 40 * hb) / 100;
        ck_assert_double_eq_tol(pw_iforest_path_length(m, q + i * d), h,
                                1e-12);
        ck_assert_double_eq_tol(sm[i], exp2(-h / pw_iforest_c(256)), 1e-12);
    }
    pw_iforest_free(m);

    /* A different psi or feature count is refused, with the reason. */
    struct pw_iforest *c = fit(x1, n, d, 10, 128, 1);
    ck_assert_ptr_null(pw_iforest_merge(a, c, &err));
    ck_assert(strstr(err.msg, "psi 256 and 128") != NULL);
    struct pw_iforest *small = fit(x1, 100, d, 10, 256, 1);  /* psi 100 */
    ck_assert_ptr_null(pw_iforest_merge(a, small, &err));
    struct pw_iforest *e = fit(x1, n, 1, 10, 256, 1);
    ck_assert_ptr_null(pw_iforest_merge(a, e, &err));
    ck_assert(strstr(err.msg, "features") != NULL);
    pw_iforest_free(c);
    pw_iforest_free(small);
    pw_iforest_free(e);
    free(x1);
    free(x2);
    pw_iforest_free(a);
    pw_iforest_free(b);
}
END_TEST

START_TEST(test_iforest_threshold_from_contamination)
{
    /* scores 0.000, 0.001, ..., 0.999 shuffled: the 0.9 quantile sits at
     * position 0.9 * 999 = 899.1, 0.899 + 0.1 * 0.001 = 0.8991, and flags
     * exactly the 100 scores 0.900 .. 0.999. */
    double s[1000];
    for (int i = 0; i < 1000; i++)
        s[(i * 7919) % 1000] = i / 1000.0;
    double thr;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_iforest_threshold_contamination(s, 1000, 0.1, &thr,
                                                        &err), 0);
    ck_assert_double_eq_tol(thr, 0.8991, 1e-12);
    int flagged = 0;
    for (int i = 0; i < 1000; i++)
        flagged += pw_iforest_is_anomaly(s[i], thr);
    ck_assert_int_eq(flagged, 100);

    /* On a forest's own training scores, 5 % of 2000 flags about 100. */
    double *x = normal_data(2000, 3, 0, 41);
    struct pw_iforest *f = fit(x, 2000, 3, 100, 256, 1);
    double *ts = malloc(2000 * sizeof *ts);
    pw_iforest_score_batch(f, x, 2000, ts);
    ck_assert_int_eq(pw_iforest_threshold_contamination(ts, 2000, 0.05, &thr,
                                                        &err), 0);
    flagged = 0;
    for (int i = 0; i < 2000; i++)
        flagged += pw_iforest_is_anomaly(ts[i], thr);
    ck_assert_msg(flagged >= 99 && flagged <= 101, "flagged %d", flagged);

    ck_assert_int_eq(pw_iforest_threshold_contamination(ts, 2000, 0, &thr,
                                                        &err), -1);
    ck_assert(strstr(err.msg, "contamination") != NULL);
    ck_assert_int_eq(pw_iforest_threshold_contamination(ts, 2000, 0.6, &thr,
                                                        NULL), -1);
    ck_assert_int_eq(pw_iforest_threshold_contamination(ts, 0, 0.1, &thr,
                                                        &err), -1);
    ts[7] = NAN;
    ck_assert_int_eq(pw_iforest_threshold_contamination(ts, 2000, 0.1, &thr,
                                                        &err), -1);
    ck_assert(strstr(err.msg, "score 7") != NULL);
    free(ts);
    free(x);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_threshold_from_labels_maximises_f1)
{
    /* Flag top k: k=1 F1 2/3, k=2 1/2, k=3 4/5, k=4 2/3, k=5 4/7. */
    double s[5] = {0.6, 0.9, 0.5, 0.7, 0.8};
    int y[5] = {0, 1, 0, 1, 0};
    struct pw_iforest_calibration c;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_iforest_threshold_f1(s, y, 5, &c, &err), 0);
    ck_assert_double_eq(c.threshold, 0.7);
    ck_assert_double_eq_tol(c.f1, 0.8, 1e-12);
    ck_assert_double_eq_tol(c.precision, 2.0 / 3, 1e-12);
    ck_assert_double_eq_tol(c.recall, 1, 1e-12);
    ck_assert_uint_eq(c.flagged, 3);

    /* Tied scores are flagged together: the top 1 alone is not possible. */
    double t[3] = {0.9, 0.9, 0.1};
    int ty[3] = {1, 0, 0};
    ck_assert_int_eq(pw_iforest_threshold_f1(t, ty, 3, &c, &err), 0);
    ck_assert_double_eq(c.threshold, 0.9);
    ck_assert_uint_eq(c.flagged, 2);
    ck_assert_double_eq_tol(c.f1, 2.0 / 3, 1e-12);

    int none[3] = {0, 0, 0};
    ck_assert_int_eq(pw_iforest_threshold_f1(t, none, 3, &c, &err), -1);
    ck_assert(strstr(err.msg, "no positive") != NULL);
    ck_assert_int_eq(pw_iforest_threshold_f1(t, ty, 0, &c, &err), -1);
    t[1] = NAN;
    ck_assert_int_eq(pw_iforest_threshold_f1(t, ty, 3, &c, &err), -1);
}
END_TEST

START_TEST(test_iforest_refuses_bad_input_with_a_reason)
{
    struct pw_iforest_config c;
    pw_iforest_config_default(&c);
    ck_assert_uint_eq(c.n_trees, 100);
    ck_assert_uint_eq(c.psi, 256);
    struct pw_err err = {{0}};
    double x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

    ck_assert_ptr_null(pw_iforest_fit(x, 0, 3, &c, &err));
    ck_assert(strstr(err.msg, "empty") != NULL);
    ck_assert_ptr_null(pw_iforest_fit(NULL, 0, 3, &c, &err));
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 0, &c, &err));
    ck_assert(strstr(err.msg, "zero features") != NULL);

    x[3 * 3 + 1] = NAN;                 /* row 3, column 1 */
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 3, &c, &err));
    ck_assert_msg(strstr(err.msg, "row 3, column 1") != NULL, "%s", err.msg);
    x[3 * 3 + 1] = 11;
    x[2] = -INFINITY;                   /* row 0, column 2 */
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 3, &c, &err));
    ck_assert_msg(strstr(err.msg, "row 0, column 2") != NULL, "%s", err.msg);
    x[2] = 3;

    c.n_trees = 0;
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 3, &c, &err));
    ck_assert(strstr(err.msg, "n_trees") != NULL);
    c.n_trees = PW_IFOREST_MAX_TREES + 1;
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 3, &c, NULL));
    c.n_trees = 10;
    c.psi = 0;
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 3, &c, &err));
    ck_assert(strstr(err.msg, "psi") != NULL);
    c.psi = (size_t)PW_IFOREST_MAX_PSI + 1;
    ck_assert_ptr_null(pw_iforest_fit(x, 4, 3, &c, &err));
    ck_assert_ptr_null(pw_iforest_fit(x, 4, PW_IFOREST_MAX_FEATURES + 1, &c,
                                      &err));
    pw_iforest_free(NULL);

    /* Scoring a NaN is NaN, not a crash; infinities are just far. */
    c.psi = 256;
    struct pw_iforest *f = pw_iforest_fit(x, 4, 3, &c, &err);
    ck_assert_ptr_nonnull(f);
    double p[3] = {1, NAN, 3}, s[2];
    ck_assert(isnan(pw_iforest_score(f, p)));
    ck_assert(isnan(pw_iforest_path_length(f, p)));
    double rows[6] = {1, NAN, 3, INFINITY, 0, -INFINITY};
    pw_iforest_score_batch(f, rows, 2, s);
    ck_assert(isnan(s[0]));
    ck_assert(s[1] > 0 && s[1] <= 1);
    pw_iforest_free(f);
}
END_TEST

START_TEST(test_iforest_tiny_training_sets_work)
{
    struct pw_iforest_config c;
    pw_iforest_config_default(&c);
    struct pw_err err = {{0}};
    double one[2] = {1, 2};
    struct pw_iforest *f = pw_iforest_fit(one, 1, 2, &c, &err);
    ck_assert_msg(f != NULL, "%s", err.msg);
    ck_assert_uint_eq(pw_iforest_psi(f), 1);
    ck_assert_double_eq(pw_iforest_score(f, one), 1);   /* c(1) = 0 */
    pw_iforest_free(f);
    double two[2] = {1, 2};             /* two rows of one feature */
    f = pw_iforest_fit(two, 2, 1, &c, &err);
    ck_assert_ptr_nonnull(f);
    /* Each tree: one cut, two leaves of one point at depth 1: h = 1 = c(2). */
    ck_assert_double_eq_tol(pw_iforest_score(f, two), 0.5, 1e-12);
    pw_iforest_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("iforest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_iforest_c_matches_hand_values);
    tcase_add_test(tc, test_iforest_obvious_outlier_scores_above_every_inlier);
    tcase_add_test(tc, test_iforest_batch_scores_equal_single_scores);
    tcase_add_test(tc, test_iforest_wide_rows_score_one_at_a_time_the_same);
    tcase_add_test(tc, test_iforest_same_seed_same_forest_and_scores);
    tcase_add_test(tc, test_iforest_different_seed_different_trees);
    tcase_add_test(tc, test_iforest_trees_respect_height_limit_and_layout);
    tcase_add_test(tc, test_iforest_attribution_picks_the_feature_the_outlier_differs_in);
    tcase_add_test(tc, test_iforest_attribution_of_constant_training_is_uniform);
    tcase_add_test(tc, test_iforest_merge_pools_trees_and_averages_path_lengths);
    tcase_add_test(tc, test_iforest_threshold_from_contamination);
    tcase_add_test(tc, test_iforest_threshold_from_labels_maximises_f1);
    tcase_add_test(tc, test_iforest_refuses_bad_input_with_a_reason);
    tcase_add_test(tc, test_iforest_tiny_training_sets_work);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
