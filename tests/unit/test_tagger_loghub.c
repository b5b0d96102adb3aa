/* tests/unit/test_tagger_loghub.c — the template miner against LogHub's
 * hand-labelled 2,000-line samples (shared data; skipped, visibly, without
 * it). Bounds are the figures measured when the miner was written
 * (bench-tagger groups), less a margin of 0.02, so a change that costs
 * grouping accuracy anywhere fails here. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/loghubdata.h"
#include "models/tagger.h"

#include "tests/unit/testing.h"

static const struct {
    const char *system;
    double measured;
} bounds[] = {
    {"HDFS", 0.9975},     {"Hadoop", 0.9915}, {"Spark", 1.0},
    {"Zookeeper", 0.9885}, {"BGL", 0.9735},   {"OpenStack", 0.9785},
    {"Linux", 0.9990},    {"Apache", 1.0},
};
#define MARGIN 0.02

static double accuracy(const char *system)
{
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "loghub"), 0);
    struct pw_loghub lh;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_loghub_load(dir, system, &lh, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(lh.n, 2000);
    struct pw_tagger *t = pw_tagger_new(NULL, NULL, &err);
    ck_assert_ptr_nonnull(t);
    unsigned *pred = malloc(lh.n * sizeof *pred);
    const char **truth = malloc(lh.n * sizeof *truth);
    for (size_t i = 0; i < lh.n; i++) {
        struct pw_tag tag;
        const char *c = lh.lines[i].content;
        ck_assert_int_eq(pw_tagger_tag(t, c, strlen(c), &tag, &err), 0);
        pred[i] = (unsigned)tag.template_id;
        truth[i] = lh.lines[i].event_id;
    }
    double acc = pw_loghub_grouping_accuracy(truth, pred, lh.n);
    free(pred);
    free(truth);
    pw_tagger_free(t);
    pw_loghub_free(&lh);
    return acc;
}

START_TEST(test_tagger_loghub_grouping_accuracy_holds)
{
    double sum = 0;
    size_t n = sizeof bounds / sizeof *bounds;
    for (size_t i = 0; i < n; i++) {
        double acc = accuracy(bounds[i].system);
        printf("%-10s grouping accuracy %.4f (bound %.4f)\n", bounds[i].system,
               acc, bounds[i].measured - MARGIN);
        ck_assert_msg(acc >= bounds[i].measured - MARGIN,
                      "%s: grouping accuracy %.4f below %.4f",
                      bounds[i].system, acc, bounds[i].measured - MARGIN);
        sum += acc;
    }
    ck_assert_msg(sum / n >= 0.97, "mean grouping accuracy %.4f below 0.97",
                  sum / n);
}
END_TEST

START_TEST(test_tagger_loghub_bgl_has_labels)
{
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "loghub"), 0);
    struct pw_loghub lh;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_loghub_load(dir, "BGL", &lh, &err) == 0, "%s", err.msg);
    size_t alerts = 0;
    for (size_t i = 0; i < lh.n; i++) {
        ck_assert_ptr_nonnull(lh.lines[i].label);
        alerts += strcmp(lh.lines[i].label, "-") != 0;
    }
    ck_assert_uint_eq(alerts, 143);
    pw_loghub_free(&lh);
    ck_assert_int_eq(pw_loghub_load(dir, "NoSuchSystem", &lh, &err), -1);
    ck_assert(strstr(err.msg, "NoSuchSystem") != NULL);
}
END_TEST

int main(void)
{
    pw_require_shared_data();
    Suite *s = suite_create("tagger_loghub");
    TCase *tc = tcase_create("loghub");
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, test_tagger_loghub_grouping_accuracy_holds);
    tcase_add_test(tc, test_tagger_loghub_bgl_has_labels);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
