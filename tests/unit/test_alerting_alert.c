/* tests/unit/test_alerting_alert.c — labels stay sorted and unique, an
 * empty value removes a label, and the fingerprint is Alertmanager's
 * (FNV-1a 64, each name and value followed by 0xff; the expected values
 * were computed independently in Python). */
#include <check.h>
#include <string.h>

#include "alerting/alert.h"

#include "tests/unit/testing.h"

static void set(struct pw_labels *ls, const char *n, const char *v)
{
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_labels_set(ls, n, v, &err), 0);
}

START_TEST(test_labels_sorted_unique_empty_removes)
{
    struct pw_labels ls = {0};
    set(&ls, "severity", "warning");
    set(&ls, "alertname", "DiskFull");
    set(&ls, "instance", "db1");
    set(&ls, "severity", "critical");
    ck_assert_uint_eq(ls.n, 3);
    ck_assert_str_eq(ls.v[0].name, "alertname");
    ck_assert_str_eq(ls.v[1].name, "instance");
    ck_assert_str_eq(ls.v[2].name, "severity");
    ck_assert_str_eq(pw_labels_get(&ls, "severity"), "critical");
    set(&ls, "instance", "");
    ck_assert_uint_eq(ls.n, 2);
    ck_assert_ptr_null(pw_labels_get(&ls, "instance"));
    set(&ls, "nothere", NULL);
    ck_assert_uint_eq(ls.n, 2);
    struct pw_labels cp = {0};
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_labels_copy(&cp, &ls, &err), 0);
    ck_assert_uint_eq(cp.n, 2);
    ck_assert_str_eq(cp.v[1].value, "critical");
    pw_labels_free(&cp);
    pw_labels_free(&ls);
    ck_assert_int_eq(pw_labels_set(&ls, "", "x", &err), -1);
}
END_TEST

START_TEST(test_fingerprint_is_alertmanagers)
{
    struct pw_labels ls = {0};
    ck_assert_uint_eq(pw_labels_fingerprint(&ls), 0xcbf29ce484222325ULL);
    set(&ls, "a", "1");
    ck_assert_uint_eq(pw_labels_fingerprint(&ls), 0xd3b971819376d835ULL);
    pw_labels_free(&ls);
    /* inserted out of order: the fingerprint sees them sorted */
    set(&ls, "severity", "critical");
    set(&ls, "instance", "db1");
    set(&ls, "alertname", "DiskFull");
    ck_assert_uint_eq(pw_labels_fingerprint(&ls), 0xe94c744ae3d44df8ULL);
    pw_labels_free(&ls);
    set(&ls, "z", "x y");
    set(&ls, "entity", "host-\xc3\xa9");
    ck_assert_uint_eq(pw_labels_fingerprint(&ls), 0xbd9c8f7cc7d29f72ULL);
    pw_labels_free(&ls);
}
END_TEST

START_TEST(test_alert_copy_and_free)
{
    struct pw_alert a = {0}, b = {0};
    struct pw_err err = {{0}};
    set(&a.labels, "alertname", "X");
    set(&a.annotations, "summary", "s");
    a.generator_url = strdup("http://x");
    a.starts_at_ns = 5;
    a.fingerprint = pw_labels_fingerprint(&a.labels);
    ck_assert_int_eq(pw_alert_copy(&b, &a, &err), 0);
    ck_assert_str_eq(b.generator_url, "http://x");
    ck_assert_str_eq(pw_labels_get(&b.annotations, "summary"), "s");
    ck_assert_uint_eq(b.fingerprint, a.fingerprint);
    pw_alert_free(&a);
    pw_alert_free(&b);
    pw_alert_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alerting_alert");
    TCase *tc = tcase_create("alert");
    tcase_add_test(tc, test_labels_sorted_unique_empty_removes);
    tcase_add_test(tc, test_fingerprint_is_alertmanagers);
    tcase_add_test(tc, test_alert_copy_and_free);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
