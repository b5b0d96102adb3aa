/* tests/unit/test_rules.c — the rule language: every form, its canonical
 * text, tag filters against series keys, and errors that point at the
 * column. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "analyzer/rules.h"

#include "tests/unit/testing.h"

static void parse_ok(const char *text, struct pw_rule *r)
{
    struct pw_err err = {{0}};
    ck_assert_msg(pw_rule_parse(text, r, &err) == 0, "%s: %s", text, err.msg);
}

static void parse_bad(const char *text, const char *want)
{
    struct pw_rule r;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_rule_parse(text, &r, &err) < 0, "accepted: %s", text);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s: got \"%s\", want \"%s\"", text,
                  err.msg, want);
    pw_rule_release(&r);
}

START_TEST(forecast_rules)
{
    struct pw_rule r;
    parse_ok("fs.used_percent > 95 within 6h", &r);
    ck_assert_int_eq(r.kind, PW_RULE_FORECAST);
    ck_assert_str_eq(r.measurement, "fs");
    ck_assert_str_eq(r.field, "used_percent");
    ck_assert(r.rising);
    ck_assert_double_eq(r.threshold, 95);
    ck_assert_int_eq(r.horizon_ms, 6 * 3600 * 1000);
    pw_rule_release(&r);

    parse_ok("  kafka_lag.lag   >   1e6   within   1h ", &r);
    ck_assert_double_eq(r.threshold, 1e6);
    ck_assert_int_eq(r.horizon_ms, 3600000);
    pw_rule_release(&r);

    /* The last dot splits: a dotted StatsD measurement keeps its dots. */
    parse_ok("airflow.dagrun.duration.value < -2.5 within 40m", &r);
    ck_assert_str_eq(r.measurement, "airflow.dagrun.duration");
    ck_assert_str_eq(r.field, "value");
    ck_assert(!r.rising);
    ck_assert_double_eq(r.threshold, -2.5);
    pw_rule_release(&r);
}
END_TEST

START_TEST(other_kinds)
{
    struct pw_rule r;
    parse_ok("anomaly > calibrated", &r);
    ck_assert_int_eq(r.kind, PW_RULE_ANOMALY);
    ck_assert(isnan(r.threshold));
    pw_rule_release(&r);
    parse_ok("anomaly > 0.7", &r);
    ck_assert_double_eq(r.threshold, 0.7);
    pw_rule_release(&r);
    parse_ok("log category out_of_memory > 3 per 5m", &r);
    ck_assert_int_eq(r.kind, PW_RULE_LOG_BURST);
    ck_assert_str_eq(r.category, "out_of_memory");
    ck_assert_uint_eq(r.count, 3);
    ck_assert_int_eq(r.window_ms, 300000);
    pw_rule_release(&r);
}
END_TEST

START_TEST(canonical_text_round_trips)
{
    const char *texts[] = {
        "fs.used_percent > 95 within 6h",
        "disk.used_percent{path=\"/var lib\",fstype=\"ext4\"} > 90.5 within 90s",
        "kafka_lag.lag > 1000000 within 1h",
        "anomaly > calibrated",
        "anomaly > 0.75",
        "log category disk_full > 0 per 1d",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        struct pw_rule r, again;
        char out[512], out2[512];
        parse_ok(texts[i], &r);
        pw_rule_format(&r, out, sizeof out);
        ck_assert_str_eq(out, texts[i]);
        parse_ok(out, &again);
        pw_rule_format(&again, out2, sizeof out2);
        ck_assert_str_eq(out, out2);
        pw_rule_release(&r);
        pw_rule_release(&again);
    }
}
END_TEST

static bool matches(const struct pw_rule *r, const char *series)
{
    const char *comma = strpbrk(series, ", ");
    size_t meas = (size_t)(comma - series);
    const char *field = strrchr(series, ' ') + 1;
    return pw_rule_matches_series(r, series, meas, field, strlen(field), series,
                                  strlen(series));
}

START_TEST(tag_filters_match_series_keys)
{
    struct pw_rule r;
    parse_ok("disk.used_percent{path=\"/var lib\"} > 90 within 1h", &r);
    ck_assert(matches(&r, "disk,device=sda1,path=/var\\ lib used_percent"));
    ck_assert(!matches(&r, "disk,device=sda1,path=/var used_percent"));
    ck_assert(!matches(&r, "disk,device=sda1,path=/var\\ lib\\ 2 used_percent"));
    ck_assert(!matches(&r, "disk,device=sda1,path=/var\\ lib free"));
    ck_assert(!matches(&r, "disks,path=/var\\ lib used_percent"));
    pw_rule_release(&r);
    parse_ok("disk.used_percent > 90 within 1h", &r);
    ck_assert(matches(&r, "disk,path=/ used_percent"));
    ck_assert(matches(&r, "disk used_percent"));
    pw_rule_release(&r);
    /* A tag value that looks like another tag inside an escaped value. */
    parse_ok("m.f{a=\"b\"} > 1 within 1h", &r);
    ck_assert(!matches(&r, "m,x=y\\,a=b f"));
    ck_assert(matches(&r, "m,a=b,x=y f"));
    pw_rule_release(&r);
}
END_TEST

START_TEST(errors_name_the_column)
{
    parse_bad("", "column 1: expected a metric");
    parse_bad("fs > 95 within 6h", "measurement.field");
    parse_bad("fs.used_percent >= 95 within 6h", "column 18: expected a number");
    parse_bad("fs.used_percent = 95 within 6h", "column 17: expected \">\" or \"<\"");
    parse_bad("fs.used_percent > 95 in 6h", "column 22: expected \"within\"");
    parse_bad("fs.used_percent > 95 within six", "column 29: expected a positive duration");
    parse_bad("fs.used_percent > nan within 6h", "expected a number");
    parse_bad("fs.used_percent > 0x10 within 6h", "decimal");
    parse_bad("fs.used_percent > 95 within 6h please", "expected the end of the rule");
    parse_bad("fs.used_percent{path=/} > 1 within 1h", "quoted tag value");
    parse_bad("fs.used_percent{path=\"/\" > 1 within 1h", "\",\" or \"}\"");
    parse_bad("anomaly > often", "expected a number");
    parse_bad("anomaly > 1.5", "in (0, 1)");
    parse_bad("anomaly < 0.5", "expected \">\"");
    parse_bad("log level error > 3 per 5m", "expected \"category\"");
    parse_bad("log category oom > 2.5 per 5m", "whole number");
    parse_bad("log category oom > 3 per", "expected a duration");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, forecast_rules);
    tcase_add_test(tc, other_kinds);
    tcase_add_test(tc, canonical_text_round_trips);
    tcase_add_test(tc, tag_filters_match_series_keys);
    tcase_add_test(tc, errors_name_the_column);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
