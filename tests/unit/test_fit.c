/* tests/unit/test_fit.c — pipewatch-train fit's library: history readers
 * (CSV, line protocol) and their errors, the feature rows the forest is
 * fitted on (the analyzer's vector: newest value of each feature, once all
 * are seen), and a fitted bundle the analyzer's own loader takes and
 * scores with. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/engine.h"
#include "analyzer/inservice.h"
#include "models/codec.h"
#include "train/fit.h"
#include "train/history.h"

#include "tests/unit/testing.h"

static struct pw_history h;
static struct pw_err err;

static void setup(void)
{
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(pw_history_init(&h, &err), 0);
}

static void teardown(void)
{
    pw_history_free(&h);
}

static long csv(const char *text)
{
    return pw_history_read_csv(&h, "t.csv", text, strlen(text), "t", "m.v", &err);
}

START_TEST(test_csv_reads_header_quotes_iso_times_and_labels)
{
    const char *text = "TimeStamp,Value,Label\r\n"
                       "\"2018-04-25T00:00:00Z\",1.5,0\r\n"
                       "\"2018-04-25T00:01:00Z\",2.5,1\r\n"
                       "1524614520,3.5,0\n";
    ck_assert_int_eq(csv(text), 3);
    ck_assert_uint_eq(h.n, 1);
    const struct pw_hist_series *s = &h.series[0];
    ck_assert_str_eq(s->entity, "t");
    ck_assert_str_eq(s->metric, "m.v");
    ck_assert_double_eq(s->ts_s[0], 1524614400.0);
    ck_assert_double_eq(s->ts_s[1], 1524614460.0);
    ck_assert_double_eq(s->ts_s[2], 1524614520.0);
    ck_assert_double_eq(s->values[1], 2.5);
    ck_assert_ptr_nonnull(s->labels);
    ck_assert_int_eq(s->labels[0], 0);
    ck_assert_int_eq(s->labels[1], 1);
    /* NAB's form and epoch milliseconds. */
    double t;
    ck_assert_int_eq(pw_history_parse_time("2014-07-01 00:30:00", 19, &t), 0);
    ck_assert_double_eq(t, 1404174600.0);
    ck_assert_int_eq(pw_history_parse_time("1404174600000", 13, &t), 0);
    ck_assert_double_eq(t, 1404174600.0);
}
END_TEST

START_TEST(test_csv_errors_name_file_and_line)
{
    ck_assert_int_lt(csv("timestamp,value\n"), 0);
    ck_assert_msg(strstr(err.msg, "t.csv: no rows"), "%s", err.msg);
    ck_assert_int_lt(csv(""), 0);
    ck_assert_int_lt(csv("1,2\n2,3,1\n"), 0);
    ck_assert_msg(strstr(err.msg, "t.csv:2: 3 columns where the rows before have 2"), "%s",
                  err.msg);
    ck_assert_int_lt(csv("1,2,3,4\n"), 0);
    ck_assert_msg(strstr(err.msg, "t.csv:1: 4 columns; expected timestamp,value[,label]"),
                  "%s", err.msg);
    ck_assert_int_lt(csv("a,b\n1,nan\n"), 0);
    ck_assert_msg(strstr(err.msg, "t.csv:2: value \"nan\" is not finite"), "%s", err.msg);
    ck_assert_int_lt(csv("1,inf\n"), 0);
    ck_assert_msg(strstr(err.msg, "not finite"), "%s", err.msg);
    ck_assert_int_lt(csv("1,2\nyesterday,3\n"), 0);
    ck_assert_msg(strstr(err.msg, "t.csv:2: timestamp \"yesterday\""), "%s", err.msg);
    ck_assert_int_lt(csv("1,2\n2,x\n"), 0);
    ck_assert_msg(strstr(err.msg, "t.csv:2: value \"x\" is not a number"), "%s", err.msg);
    ck_assert_int_lt(csv("1,2,7\n"), 0);
    ck_assert_msg(strstr(err.msg, "label \"7\""), "%s", err.msg);
    ck_assert_int_lt(csv("\"1,2\n"), 0);
    ck_assert_msg(strstr(err.msg, "unterminated quote"), "%s", err.msg);
}
END_TEST

START_TEST(test_lineproto_goes_through_the_analyzers_ingest)
{
    const char *text = "# comment\n"
                       "cpu,host=a,role=db usage=1.5,idle=2i 1000000000000\n"
                       "\n"
                       "cpu,role=web usage=2.5,note=\"x\" 2000000000000\n";
    long n = pw_history_read_lineproto(&h, "m.lp", text, strlen(text), NULL, "role", &err);
    ck_assert_msg(n == 3, "%ld: %s", n, err.msg);
    ck_assert_uint_eq(h.n, 3);
    ck_assert_str_eq(h.series[0].entity, "a");
    ck_assert_str_eq(h.series[0].metric, "cpu.usage");
    ck_assert_str_eq(h.series[0].cls, "db");
    ck_assert_str_eq(h.series[1].metric, "cpu.idle");
    ck_assert_str_eq(h.series[2].entity, "unknown");   /* no host tag, as the analyzer */
    ck_assert_str_eq(h.series[2].cls, "web");
    ck_assert_double_eq(h.series[0].ts_s[0], 1000.0);

    const char *nots = "cpu,host=a usage=1 1000000000000\ncpu,host=a usage=2\n";
    ck_assert_int_lt(pw_history_read_lineproto(&h, "m.lp", nots, strlen(nots), NULL, NULL,
                                               &err), 0);
    ck_assert_msg(strstr(err.msg, "m.lp:2") && strstr(err.msg, "without a timestamp"), "%s",
                  err.msg);
    const char *bad = "cpu,host=a usage=1 1000000000000\ncpu,host=a usage= 5\n";
    ck_assert_int_lt(pw_history_read_lineproto(&h, "m.lp", bad, strlen(bad), NULL, NULL,
                                               &err), 0);
    ck_assert_msg(strncmp(err.msg, "m.lp:2: ", 8) == 0, "%s", err.msg);
}
END_TEST

static void add(const char *e, const char *m, double t, double v, int label)
{
    ck_assert_int_eq(pw_history_add(&h, e, strlen(e), m, strlen(m), NULL, t, v, label, &err), 0);
}

START_TEST(test_rows_are_the_newest_value_of_each_feature)
{
    add("x", "a.f", 10, 1, -1);
    add("x", "b.g", 12, 100, -1);
    add("x", "a.f", 14, 2, -1);
    add("x", "a.f", 16, 3, 1);
    add("x", "b.g", 16, 200, -1);
    add("y", "a.f", 10, 5, -1);    /* lacks b.g */
    const char *feat[] = {"a.f", "b.g"};
    struct pw_fit_rows r;
    ck_assert_int_eq(pw_fit_rows_build(&h, NULL, feat, 2, &r, &err), 0);
    ck_assert_uint_eq(r.entities, 1);
    ck_assert_uint_eq(r.entities_missing, 1);
    /* t=10: b.g not seen yet: no row. t=12, 14, 16 (both updated once). */
    ck_assert_uint_eq(r.n, 3);
    ck_assert_double_eq(r.x[0], 1);
    ck_assert_double_eq(r.x[1], 100);
    ck_assert_double_eq(r.x[2], 2);
    ck_assert_double_eq(r.x[3], 100);
    ck_assert_double_eq(r.x[4], 3);
    ck_assert_double_eq(r.x[5], 200);
    ck_assert_double_eq(r.ts_s[2], 16);
    ck_assert_ptr_nonnull(r.labels);
    ck_assert_int_eq(r.labels[1], 0);
    ck_assert_int_eq(r.labels[2], 1);
    ck_assert_str_eq(r.entity[0], "x");
    pw_fit_rows_free(&r);
}
END_TEST

START_TEST(test_auc)
{
    double s[] = {0.1, 0.2, 0.3, 0.4};
    uint8_t l1[] = {0, 0, 1, 1}, l2[] = {1, 1, 0, 0}, l3[] = {0, 1, 0, 1};
    ck_assert_double_eq(pw_fit_auc(s, l1, 4), 1.0);
    ck_assert_double_eq(pw_fit_auc(s, l2, 4), 0.0);
    ck_assert_double_eq_tol(pw_fit_auc(s, l3, 4), 0.75, 1e-12);
    double t[] = {0.5, 0.5};
    uint8_t l4[] = {0, 1};
    ck_assert_double_eq(pw_fit_auc(t, l4, 2), 0.5);
    ck_assert(isnan(pw_fit_auc(s, l1, 2)));
}
END_TEST

static int events;
static void on_event(const struct pw_prediction *p, void *arg)
{
    (void)arg;
    if (p->status == PW_PRED_FIRING && p->kind == PW_RULE_ANOMALY)
        events++;
}

START_TEST(test_fitted_bundle_loads_into_the_analyzer_and_scores)
{
    /* Three hosts, two features with a daily-ish rhythm, one minute apart. */
    for (int host = 0; host < 3; host++) {
        char e[8];
        snprintf(e, sizeof e, "h%d", host);
        for (int i = 0; i < 2000; i++) {
            double t = 1.7e9 + 60.0 * i;
            add(e, "sys.cpu", t, 50 + 10 * sin(i / 20.0) + (i % 7) * 0.1, -1);
            add(e, "sys.lag", t + 1, 5 + (i % 5) * 0.2, -1);
        }
    }
    const char *feat[] = {"sys.cpu", "sys.lag"};
    struct pw_fit_options o;
    pw_fit_options_default(&o);
    o.features = feat;
    o.nfeatures = 2;
    o.contamination = 0.01;
    struct pw_bundle b;
    ck_assert_int_eq(pw_bundle_init(&b, &err), 0);
    struct pw_fit_result res;
    ck_assert_msg(pw_fit(&h, &o, &b, &res, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(res.nmetrics, 3);
    ck_assert_str_eq(res.metrics[2].name, "default");
    ck_assert_uint_eq(res.nclasses, 1);
    ck_assert_uint_eq(res.classes[0].rows, 3 * 2 * 2000 - 3);
    ck_assert_ptr_nonnull(pw_bundle_find(&b, PW_CODEC_HW_KIND, "sys.cpu"));
    ck_assert_ptr_nonnull(pw_bundle_find(&b, PW_CODEC_IFOREST_KIND, "default"));
    ck_assert_ptr_nonnull(pw_bundle_find(&b, PW_CODEC_CALIB_KIND, "default"));

    /* Through bytes, as the analyzer reads it. */
    struct pw_buf enc;
    pw_buf_init(&enc);
    ck_assert_int_eq(pw_bundle_encode(&b, &enc, &err), 0);
    struct pw_bundle back;
    ck_assert_msg(pw_bundle_decode(enc.data, enc.len, "fit", &back, &err) == 0, "%s", err.msg);
    struct pw_inservice in;
    ck_assert_msg(pw_inservice_from_bundle(&back, &in, &err) == 0, "%s", err.msg);
    ck_assert_double_eq_tol(in.models.anomaly_threshold, res.classes[0].threshold, 1e-15);
    ck_assert_uint_eq(in.models.nhw, 3);

    struct pw_engine_rule rule = {.name = "unusual", .severity = "warning", .clear_for_ms = 1};
    ck_assert_int_eq(pw_rule_parse("anomaly > calibrated", &rule.rule, &err), 0);
    struct pw_engine_config c = {.rules = &rule, .nrules = 1, .features = feat,
                                 .nfeatures = 2, .eval_interval_ms = 10000,
                                 .refresh_ms = 3600000, .trend_capacity = 120};
    pw_hw_model_default(&c.default_model, 0, 60, false);
    struct pw_engine *eng = pw_engine_new(&c, NULL, on_event, NULL, &err);
    ck_assert_ptr_nonnull(eng);
    ck_assert_msg(pw_engine_set_models(eng, &in.models, &err) == 0, "%s", err.msg);
    /* A vector far from anything seen fires the calibrated anomaly rule. */
    events = 0;
    struct pw_sample s = {0};
    const char *ser[2] = {"sys,host=z cpu", "sys,host=z lag"};
    const double v[2] = {500, 90};
    for (int f = 0; f < 2; f++) {
        s.entity = (struct pw_str){"z", 1};
        s.series = (struct pw_str){ser[f], strlen(ser[f])};
        s.measurement = (struct pw_str){"sys", 3};
        s.field = (struct pw_str){ser[f] + 11, 3};
        s.value = v[f];
        s.ts_ns = (int64_t)2e18 + f;
        pw_engine_sample(eng, &s, 0);
    }
    pw_engine_tick(eng, 0);
    ck_assert_int_eq(events, 1);
    /* A configuration with another feature count refuses the forest. */
    const char *one[] = {"sys.cpu"};
    c.features = one;
    c.nfeatures = 1;
    struct pw_engine *eng1 = pw_engine_new(&c, NULL, on_event, NULL, &err);
    ck_assert_int_lt(pw_engine_set_models(eng1, &in.models, &err), 0);
    pw_engine_free(eng1);
    pw_engine_free(eng);
    pw_rule_release(&rule.rule);
    pw_inservice_release(&in);
    pw_bundle_free(&back);
    pw_buf_release(&enc);
    pw_bundle_free(&b);
    pw_fit_result_free(&res);
}
END_TEST

START_TEST(test_fit_refuses_empty_history_and_missing_features)
{
    struct pw_fit_options o;
    pw_fit_options_default(&o);
    struct pw_bundle b;
    ck_assert_int_eq(pw_bundle_init(&b, &err), 0);
    struct pw_fit_result res;
    ck_assert_int_lt(pw_fit(&h, &o, &b, &res, &err), 0);
    ck_assert_msg(strstr(err.msg, "empty"), "%s", err.msg);
    for (int i = 0; i < 100; i++)
        add("x", "a.f", 60.0 * i, i % 3, -1);
    const char *feat[] = {"a.f", "nope.g"};
    o.features = feat;
    o.nfeatures = 2;
    ck_assert_int_lt(pw_fit(&h, &o, &b, &res, &err), 0);
    ck_assert_msg(strstr(err.msg, "nope.g"), "%s", err.msg);
    pw_fit_result_free(&res);
    pw_bundle_free(&b);
}
END_TEST

START_TEST(test_every_series_of_a_feature_feeds_it)
{
    /* Two cores of one host: two series, one metric, as the analyzer's
     * feature takes the newest of either. */
    const char *k0 = "cpu,cpu=0,host=x usage", *k1 = "cpu,cpu=1,host=x usage";
    ck_assert_int_eq(pw_history_add_series(&h, "x", 1, k0, strlen(k0), "cpu.usage", 9, NULL,
                                           10, 1, -1, &err), 0);
    ck_assert_int_eq(pw_history_add_series(&h, "x", 1, k1, strlen(k1), "cpu.usage", 9, NULL,
                                           11, 2, -1, &err), 0);
    ck_assert_int_eq(pw_history_add_series(&h, "x", 1, k0, strlen(k0), "cpu.usage", 9, NULL,
                                           12, 3, -1, &err), 0);
    ck_assert_uint_eq(h.n, 2);
    const char *feat[] = {"cpu.usage"};
    struct pw_fit_rows r;
    ck_assert_int_eq(pw_fit_rows_build(&h, NULL, feat, 1, &r, &err), 0);
    ck_assert_uint_eq(r.n, 3);
    ck_assert_double_eq(r.x[0], 1);
    ck_assert_double_eq(r.x[1], 2);
    ck_assert_double_eq(r.x[2], 3);
    pw_fit_rows_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("fit");
    TCase *tc = tcase_create("fit");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_csv_reads_header_quotes_iso_times_and_labels);
    tcase_add_test(tc, test_csv_errors_name_file_and_line);
    tcase_add_test(tc, test_lineproto_goes_through_the_analyzers_ingest);
    tcase_add_test(tc, test_rows_are_the_newest_value_of_each_feature);
    tcase_add_test(tc, test_auc);
    tcase_add_test(tc, test_every_series_of_a_feature_feeds_it);
    tcase_add_test(tc, test_fitted_bundle_loads_into_the_analyzer_and_scores);
    tcase_add_test(tc, test_fit_refuses_empty_history_and_missing_features);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(suite());
}
