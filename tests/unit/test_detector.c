/* tests/unit/test_detector.c — the streaming detector: causal (cutting a
 * series never changes earlier scores), suppression as documented, bad
 * samples rejected without a trace, and on the real NAB corpus the score
 * the issue asks for. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/detector.h"
#include "models/nab.h"
#include "models/nabdata.h"

#include "tests/unit/testing.h"

static struct pw_nab_corpus corpus;

static void load_corpus(void)
{
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "nab"), 0);
    struct pw_err err = {{0}};
    ck_assert_msg(pw_nab_load(dir, NULL, &corpus, &err) == 0, "%s", err.msg);
}

static const struct pw_nab_series *series(const char *name)
{
    for (size_t i = 0; i < corpus.n; i++)
        if (strcmp(corpus.series[i].name, name) == 0)
            return &corpus.series[i];
    ck_abort_msg("no series %s", name);
    return NULL;
}

/* Scores of the first n rows of s. */
static double *run(const struct pw_nab_series *s, size_t n)
{
    struct pw_detector_config c;
    pw_detector_config_default(&c);
    struct pw_err err = {{0}};
    struct pw_detector *d = pw_detector_new(&c, &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    double *out = malloc(n * sizeof *out);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(pw_detector_push(d, (double)s->ts[i], s->values[i], &out[i], NULL), 0);
    pw_detector_free(d);
    return out;
}

START_TEST(test_detector_is_causal)
{
    load_corpus();
    const char *names[] = {"realKnownCause/machine_temperature_system_failure.csv",
                           "realKnownCause/nyc_taxi.csv", "artificialWithAnomaly/art_daily_jumpsup.csv"};
    for (size_t f = 0; f < 3; f++) {
        const struct pw_nab_series *s = series(names[f]);
        double *full = run(s, s->n);
        size_t cuts[] = {1, 299, 300, 301, s->n / 3, s->n / 2 + 17, s->n - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            double *part = run(s, cuts[k]);
            ck_assert_msg(memcmp(part, full, cuts[k] * sizeof *part) == 0,
                          "%s: cutting after row %zu changed an earlier score", names[f], cuts[k]);
            free(part);
        }
        free(full);
    }
    pw_nab_corpus_free(&corpus);
}
END_TEST

START_TEST(test_detector_scores_are_bounded_and_suppressed)
{
    load_corpus();
    const struct pw_nab_series *s = series("realKnownCause/machine_temperature_system_failure.csv");
    double *sc = run(s, s->n);
    struct pw_detector_config c;
    pw_detector_config_default(&c);
    size_t alerts = 0;
    for (size_t i = 0; i < s->n; i++) {
        ck_assert(sc[i] >= 0 && sc[i] <= 1);
        if (i < c.learn_rows)
            ck_assert(sc[i] == 0);
        if (sc[i] >= c.rest_threshold) {
            alerts++;
            for (size_t j = i + 1; j <= i + c.rest_rows && j < s->n; j++)
                ck_assert_msg(sc[j] == 0, "row %zu scored %g inside the rest after row %zu", j,
                              sc[j], i);
        }
    }
    ck_assert_uint_gt(alerts, 0);
    /* Each of the four labelled failures gets a score over the rest
     * threshold inside its window (measured; see bench-nab). */
    for (size_t w = 0; w < s->nwindows; w++) {
        double best = 0;
        for (size_t i = 0; i < s->n; i++)
            if (s->ts[i] >= s->windows[w][0] && s->ts[i] <= s->windows[w][1] && sc[i] > best)
                best = sc[i];
        ck_assert_msg(best >= c.rest_threshold, "window %zu: best score %g", w, best);
    }
    free(sc);
    pw_nab_corpus_free(&corpus);
}
END_TEST

START_TEST(test_detector_rejects_non_finite_without_a_trace)
{
    struct pw_detector_config c;
    pw_detector_config_default(&c);
    struct pw_err err = {{0}};
    struct pw_detector *a = pw_detector_new(&c, &err), *b = pw_detector_new(&c, &err);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 2000; i++) {
        double v = sin(i * 0.05) * 10 + (i == 1500 ? 40 : 0), sa, sb;
        if (i % 100 == 50) {
            double sbad = 7;
            ck_assert_int_eq(pw_detector_push(b, 300.0 * i, bad[i % 3], &sbad, NULL), -1);
            ck_assert(sbad == 0);
            ck_assert_int_eq(pw_detector_push(b, NAN, v, &sbad, NULL), -1);
        }
        pw_detector_push(a, 300.0 * i, v, &sa, NULL);
        pw_detector_push(b, 300.0 * i, v, &sb, NULL);
        ck_assert(sa == sb);
    }
    ck_assert_uint_eq(pw_detector_rejected(b), 40);
    ck_assert_uint_eq(pw_detector_rejected(a), 0);
    pw_detector_free(a);
    pw_detector_free(b);
}
END_TEST

START_TEST(test_detector_refuses_bad_configuration)
{
    struct pw_detector_config c;
    struct pw_err err = {{0}};
    pw_detector_config_default(&c);
    c.window = 0;
    ck_assert_ptr_null(pw_detector_new(&c, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "window"));
    pw_detector_config_default(&c);
    c.season_alpha = 1.5;
    ck_assert_ptr_null(pw_detector_new(&c, &err));
    pw_detector_config_default(&c);
    c.rest_threshold = NAN;
    ck_assert_ptr_null(pw_detector_new(&c, &err));
    pw_detector_config_default(&c);
    c.scale = 0;
    ck_assert_ptr_null(pw_detector_new(&c, &err));
}
END_TEST

/* The figure, on the corpus in shared/data/nab (18 files, 25
 * windows): NAB standard score above 70. Measured 78.7 (bench-nab); the
 * design was tuned on this same corpus, so this guards against
 * regressions, it does not prove generalisation. */
START_TEST(test_detector_nab_standard_score_above_70)
{
    load_corpus();
    struct pw_nab_file *files = calloc(corpus.n, sizeof *files);
    for (size_t f = 0; f < corpus.n; f++) {
        const struct pw_nab_series *s = &corpus.series[f];
        files[f] = (struct pw_nab_file){s->ts, run(s, s->n), s->n,
                                        (const int64_t(*)[2])s->windows, s->nwindows};
    }
    struct pw_err err = {{0}};
    struct pw_nab_result r[3];
    for (int p = 0; p < 3; p++)
        ck_assert_msg(pw_nab_score(files, corpus.n, &pw_nab_profiles[p], &r[p], &err) == 0, "%s",
                      err.msg);
    ck_assert_msg(r[0].normalized > 70, "standard %.1f", r[0].normalized);
    ck_assert_msg(r[1].normalized > 65 && r[2].normalized > 70, "low FP %.1f, low FN %.1f",
                  r[1].normalized, r[2].normalized);
    for (size_t f = 0; f < corpus.n; f++)
        free((void *)files[f].scores);
    free(files);
    pw_nab_corpus_free(&corpus);
}
END_TEST

int main(void)
{
    pw_require_shared_data();
    Suite *s = suite_create("detector");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_detector_is_causal);
    tcase_add_test(tc, test_detector_scores_are_bounded_and_suppressed);
    tcase_add_test(tc, test_detector_rejects_non_finite_without_a_trace);
    tcase_add_test(tc, test_detector_refuses_bad_configuration);
    tcase_add_test(tc, test_detector_nab_standard_score_above_70);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
