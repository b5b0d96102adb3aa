/* tests/unit/test_alerting_matcher.c — Alertmanager's matchers: =, !=, =~,
 * !~, a missing label as the empty string, regexes anchored at both ends,
 * the text form and its errors. */
#include <check.h>
#include <string.h>

#include "alerting/matcher.h"

#include "tests/unit/testing.h"

static struct pw_labels labels(const char *const *kv)
{
    struct pw_labels ls = {0};
    struct pw_err err = {{0}};
    for (; kv[0]; kv += 2)
        ck_assert_int_eq(pw_labels_set(&ls, kv[0], kv[1], &err), 0);
    return ls;
}

static bool text_matches(const char *text, const struct pw_labels *ls)
{
    struct pw_matcher m;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_matcher_parse(&m, text, &err) == 0, "%s: %s", text,
                  err.msg);
    bool r = pw_matcher_matches(&m, ls);
    pw_matcher_free(&m);
    return r;
}

START_TEST(test_matcher_operators_and_missing_labels)
{
    struct pw_labels ls = labels((const char *[]){
        "alertname", "DiskFull", "severity", "critical", "env", "prod-eu",
        NULL});
    ck_assert(text_matches("severity=\"critical\"", &ls));
    ck_assert(!text_matches("severity!=\"critical\"", &ls));
    ck_assert(text_matches("severity =~ \"crit.*|warn\"", &ls));
    ck_assert(!text_matches("severity!~\"crit.*|warn\"", &ls));
    ck_assert(text_matches("severity=critical", &ls));
    ck_assert(text_matches("{severity=\"critical\"}", &ls));
    /* anchored: a substring does not match */
    ck_assert(!text_matches("env=~\"prod\"", &ls));
    ck_assert(text_matches("env=~\"prod.*\"", &ls));
    ck_assert(!text_matches("env=~\"rod-eu\"", &ls));
    /* anchoring wraps the whole alternation */
    ck_assert(!text_matches("env=~\"x|prod\"", &ls));
    /* a missing label is the empty string */
    ck_assert(text_matches("team!=\"a\"", &ls));
    ck_assert(text_matches("team=\"\"", &ls));
    ck_assert(text_matches("team=~\".*\"", &ls));
    ck_assert(!text_matches("team=~\".+\"", &ls));
    /* escapes in quoted values */
    struct pw_labels q = labels((const char *[]){"msg", "say \"hi\"", NULL});
    ck_assert(text_matches("msg=\"say \\\"hi\\\"\"", &q));
    ck_assert(text_matches("msg=~\"say \\\"h.\\\"\"", &q));
    pw_labels_free(&q);
    pw_labels_free(&ls);
}
END_TEST

START_TEST(test_matcher_errors_are_sentences)
{
    struct pw_matcher m;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_matcher_parse(&m, "severity=~\"(crit\"", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "does not compile"));
    ck_assert_int_eq(pw_matcher_parse(&m, "=\"x\"", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "label name"));
    ck_assert_int_eq(pw_matcher_parse(&m, "a<\"x\"", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "=~"));
    ck_assert_int_eq(pw_matcher_parse(&m, "a=\"x", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "closing quote"));
    ck_assert_int_eq(pw_matcher_parse(&m, "a=\"x\" y", &err), -1);
    ck_assert_int_eq(pw_matcher_parse(&m, "{a=\"x\"", &err), -1);
    ck_assert_int_eq(pw_matcher_parse(&m, "1a=\"x\"", &err), -1);
    ck_assert_int_eq(pw_matcher_init(&m, "bad-name", PW_MATCH_EQ, "x", &err),
                     -1);
}
END_TEST

START_TEST(test_matchers_sorted_and_formatted)
{
    struct pw_matchers ms = {0};
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_matchers_add_text(&ms, "b=~\"x|y\"", &err), 0);
    ck_assert_int_eq(pw_matchers_add(&ms, "a", PW_MATCH_EQ, "q\"t", &err), 0);
    pw_matchers_sort(&ms);
    char buf[64];
    pw_matcher_format(&ms.v[0], buf, sizeof buf);
    ck_assert_str_eq(buf, "a=\"q\\\"t\"");
    pw_matcher_format(&ms.v[1], buf, sizeof buf);
    ck_assert_str_eq(buf, "b=~\"x|y\"");
    struct pw_labels ls = labels((const char *[]){"a", "q\"t", "b", "y",
                                                  NULL});
    ck_assert(pw_matchers_match(&ms, &ls));
    pw_labels_set(&ls, "b", "z", &err);
    ck_assert(!pw_matchers_match(&ms, &ls));
    pw_labels_free(&ls);
    pw_matchers_free(&ms);
    /* Alertmanager's order: name, then value, then operator */
    ck_assert_int_eq(pw_matchers_add_text(&ms, "a=\"y\", a!=\"x\", a!~\"y\"",
                                          &err), 0);
    pw_matchers_sort(&ms);
    ck_assert_int_eq(ms.v[0].type, PW_MATCH_NE);
    ck_assert_int_eq(ms.v[1].type, PW_MATCH_EQ);
    ck_assert_int_eq(ms.v[2].type, PW_MATCH_NRE);
    pw_matchers_free(&ms);
    /* several in one string, a comma inside quotes kept */
    ck_assert_int_eq(pw_matchers_add_text(&ms, "{a=\"1,2\", b!~\"x\"}",
                                          &err), 0);
    ck_assert_uint_eq(ms.n, 2);
    ck_assert_str_eq(ms.v[0].value, "1,2");
    ck_assert_int_eq(ms.v[1].type, PW_MATCH_NRE);
    ck_assert_int_eq(pw_matchers_add_text(&ms, "c=\"3\",", &err), 0);
    ck_assert_uint_eq(ms.n, 3);
    ck_assert_int_eq(pw_matchers_add_text(&ms, "{}", &err), -1);
    ck_assert_int_eq(pw_matchers_add_text(&ms, "a=\"1\" b=\"2\"", &err), -1);
    pw_matchers_free(&ms);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alerting_matcher");
    TCase *tc = tcase_create("matcher");
    tcase_add_test(tc, test_matcher_operators_and_missing_labels);
    tcase_add_test(tc, test_matcher_errors_are_sentences);
    tcase_add_test(tc, test_matchers_sorted_and_formatted);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
