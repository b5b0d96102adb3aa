/* tests/unit/test_nabdata.c — the NAB corpus loader on the real corpus in
 * ../shared/data/nab, and its errors on broken copies of it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/nabdata.h"

#include "tests/unit/testing.h"

static const struct pw_nab_series *find(const struct pw_nab_corpus *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->series[i].name, name) == 0)
            return &c->series[i];
    return NULL;
}

START_TEST(test_nabdata_parse_time)
{
    int64_t t;
    ck_assert_int_eq(pw_nab_parse_time("1970-01-01 00:00:00", &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(pw_nab_parse_time("2013-12-10 06:25:00.000000", &t), 0);
    ck_assert_int_eq(t, 1386656700);
    ck_assert_int_eq(pw_nab_parse_time("2013-12-10 06:25", &t), -1);
    ck_assert_int_eq(pw_nab_parse_time("2013-13-10 06:25:00", &t), -1);
    ck_assert_int_eq(pw_nab_parse_time("2013-12-10 06:25:00x", &t), -1);
    ck_assert_int_eq(pw_nab_parse_time("", &t), -1);
}
END_TEST

START_TEST(test_nabdata_loads_real_known_cause)
{
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "nab"), 0);
    const char *groups[] = {"realKnownCause", NULL};
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_nab_load(dir, groups, &c, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n, 7);
    for (size_t i = 1; i < c.n; i++)
        ck_assert_int_lt(strcmp(c.series[i - 1].name, c.series[i].name), 0);
    const struct pw_nab_series *m = find(&c, "realKnownCause/machine_temperature_system_failure.csv");
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->n, 22695);                  /* wc -l minus the header */
    ck_assert_uint_eq(m->nwindows, 4);
    int64_t t;
    pw_nab_parse_time("2013-12-10 06:25:00", &t);
    ck_assert_int_eq(m->windows[0][0], t);
    pw_nab_parse_time("2014-02-09 14:05:00", &t);
    ck_assert_int_eq(m->windows[3][1], t);
    pw_nab_parse_time("2013-12-02 21:15:00", &t);   /* its first row */
    ck_assert_int_eq(m->ts[0], t);
    ck_assert_double_eq_tol(m->values[0], 73.967322, 1e-6);
    size_t back = 0;
    for (size_t i = 1; i < m->n; i++)
        back += m->ts[i] <= m->ts[i - 1];
    ck_assert_uint_eq(back, 1);                      /* line 10151: 02:55 -> 02:00 */
    ck_assert_uint_eq(m->nonincreasing, 1);
    pw_nab_corpus_free(&c);
    ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(test_nabdata_series_without_windows_has_none)
{
    char dir[1100];
    ck_assert_int_eq(pw_shared_data(dir, sizeof dir, "nab"), 0);
    const char *groups[] = {"artificialNoAnomaly", NULL};
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_nab_load(dir, groups, &c, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n, 5);
    for (size_t i = 0; i < c.n; i++)
        ck_assert_uint_eq(c.series[i].nwindows, 0);
    pw_nab_corpus_free(&c);
}
END_TEST

/* A throwaway corpus: data/g/s.csv with `csv`, labels with `labels`. */
static void make_corpus(char *dir, size_t size, const char *csv, const char *labels)
{
    snprintf(dir, size, "/tmp/pw_nabdata_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/data", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/data/g", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/labels", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/data/g/s.csv", dir);
    FILE *f = fopen(path, "w");
    fputs(csv, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/labels/combined_windows.json", dir);
    f = fopen(path, "w");
    fputs(labels, f);
    fclose(f);
}

static void remove_corpus(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void expect_error(const char *csv, const char *labels, const char *fragment)
{
    char dir[64];
    make_corpus(dir, sizeof dir, csv, labels);
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_nab_load(dir, NULL, &c, &err), -1);
    ck_assert_msg(strstr(err.msg, fragment) != NULL, "error \"%s\" lacks \"%s\"", err.msg,
                  fragment);
    ck_assert_uint_eq(c.n, 0);
    remove_corpus(dir);
}

START_TEST(test_nabdata_errors_name_file_and_line)
{
    const char *ok_labels = "{\"g/s.csv\": []}";
    expect_error("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n",
                 ok_labels, "s.csv:3:");
    expect_error("timestamp,value\n2014-01-01 00:00:00,nan\n", ok_labels, "s.csv:2:");
    expect_error("time,val\n2014-01-01 00:00:00,1\n", ok_labels, "s.csv:1:");
    expect_error("timestamp,value\n", ok_labels, "no data rows");
    expect_error("timestamp,value\n2014-01-01 00:00:00,1\n", "{\"g/s.csv\": [[\"x\"]]}",
                 "g/s.csv");
    expect_error("timestamp,value\n2014-01-01 00:00:00,1\n", "{\"g/s.csv\": [}",
                 "combined_windows.json:1:");
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_nab_load("/nonexistent/nab", NULL, &c, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/nab"));
}
END_TEST

START_TEST(test_nabdata_small_corpus_round_trip)
{
    char dir[64];
    make_corpus(dir, sizeof dir,
                "timestamp,value\n2014-01-01 00:00:00,1.5\n2014-01-01 00:05:00,-2\n"
                "2014-01-01 00:10:00,3e2\n2014-01-01 00:10:00,4\n",
                "{\"g/s.csv\": [[\"2014-01-01 00:05:00.000000\", \"2014-01-01 00:10:00.000000\"]]}");
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_nab_load(dir, NULL, &c, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(c.series[0].name, "g/s.csv");
    ck_assert_uint_eq(c.series[0].n, 4);
    ck_assert_uint_eq(c.series[0].nonincreasing, 1);   /* the repeated 00:10 */
    ck_assert_double_eq(c.series[0].values[2], 300);
    ck_assert_uint_eq(c.series[0].nwindows, 1);
    ck_assert_int_eq(c.series[0].windows[0][1] - c.series[0].windows[0][0], 300);
    pw_nab_corpus_free(&c);
    remove_corpus(dir);
}
END_TEST

int main(void)
{
    pw_require_shared_data();
    Suite *s = suite_create("nabdata");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_nabdata_parse_time);
    tcase_add_test(tc, test_nabdata_loads_real_known_cause);
    tcase_add_test(tc, test_nabdata_series_without_windows_has_none);
    tcase_add_test(tc, test_nabdata_errors_name_file_and_line);
    tcase_add_test(tc, test_nabdata_small_corpus_round_trip);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
