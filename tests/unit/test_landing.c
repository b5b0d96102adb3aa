/* tests/unit/test_landing.c — the landing collector: the CSV and JSON-lines
 * scanner on buffers with known counts, then the collector on real files
 * written by the test, with mtimes set by utimensat so that ages are exact. */
#include <check.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collectors/landing.h"
#include "common/lineproto.h"

#include "tests/unit/collector_check.h"
#include "tests/unit/testing.h"

#define SEC 1000000000LL
#define T0 (1700000000LL * SEC)

/* ---- the scanner ------------------------------------------------------------ */

static void scan(struct pw_landing_scan *s, enum pw_landing_format f, const char *text,
                 bool complete)
{
    pw_landing_scan_init(s, f, 256);
    ck_assert_int_eq(pw_landing_scan_buffer(s, text, strlen(text), complete), 0);
}

static uint64_t empty_of(const struct pw_landing_scan *s, const char *col)
{
    for (size_t i = 0; i < s->ncolumns; i++)
        if (strcmp(s->columns[i].name, col) == 0)
            return s->rows - s->columns[i].filled;
    ck_abort_msg("no column %s", col);
    return 0;
}

static const char csv[] =
    "id,name,\"e,mail\",note\r\n"
    "1,alice,a@x,\"multi\nline, with \"\"quotes\"\"\"\r\n"
    "2,,\"\",\r\n"                      /* name, e,mail and note empty */
    "3,\"bob \"\"b\"\"\",b@x\r\n"       /* short: note missing (bad row) */
    "\r\n"                              /* blank: skipped */
    "4,carol,c@x,hi,extra";             /* long (bad row), unterminated */

START_TEST(test_csv_rows_and_empty_shares_follow_rfc4180)
{
    struct pw_landing_scan s;
    scan(&s, PW_LANDING_CSV, csv, true);
    ck_assert_uint_eq(s.rows, 4);
    ck_assert_uint_eq(s.bad_rows, 2);
    ck_assert_uint_eq(s.ncolumns, 4);
    ck_assert_str_eq(s.columns[2].name, "e,mail");
    ck_assert_uint_eq(empty_of(&s, "id"), 0);
    ck_assert_uint_eq(empty_of(&s, "name"), 1);
    ck_assert_uint_eq(empty_of(&s, "e,mail"), 1);
    ck_assert_uint_eq(empty_of(&s, "note"), 2);
    pw_landing_scan_release(&s);

    /* The file goes on past the buffer: the unterminated record is left out. */
    scan(&s, PW_LANDING_CSV, csv, false);
    ck_assert_uint_eq(s.rows, 3);
    ck_assert_uint_eq(s.bad_rows, 1);
    ck_assert_uint_eq(empty_of(&s, "note"), 2);
    pw_landing_scan_release(&s);

    /* A record cut inside a quoted field is not a record either. */
    scan(&s, PW_LANDING_CSV, "a,b\n1,\"x\n2,y\n", false);
    ck_assert_uint_eq(s.rows, 0);
    pw_landing_scan_release(&s);
}
END_TEST

START_TEST(test_csv_bom_unnamed_columns_and_column_limit)
{
    struct pw_landing_scan s;
    scan(&s, PW_LANDING_CSV, "\xEF\xBB\xBF" "a,,c\n1,2,\n", true);
    ck_assert_uint_eq(s.ncolumns, 3);
    ck_assert_str_eq(s.columns[0].name, "a");
    ck_assert_str_eq(s.columns[1].name, "_2");
    ck_assert_uint_eq(s.rows, 1);
    ck_assert_uint_eq(empty_of(&s, "c"), 1);
    pw_landing_scan_release(&s);

    pw_landing_scan_init(&s, PW_LANDING_CSV, 2);
    const char *t = "a,b,c\n1,2,3\n";
    ck_assert_int_eq(pw_landing_scan_buffer(&s, t, strlen(t), true), 0);
    ck_assert_uint_eq(s.ncolumns, 2);
    ck_assert_uint_eq(s.dropped_columns, 1);
    ck_assert_uint_eq(s.bad_rows, 0);
    pw_landing_scan_release(&s);

    /* Only a header: no rows. Empty input: nothing at all. */
    scan(&s, PW_LANDING_CSV, "x,y", true);
    ck_assert_uint_eq(s.ncolumns, 2);
    ck_assert_uint_eq(s.rows, 0);
    pw_landing_scan_release(&s);
    scan(&s, PW_LANDING_CSV, "", true);
    ck_assert_uint_eq(s.ncolumns, 0);
    pw_landing_scan_release(&s);
}
END_TEST

static const char jsonl[] =
    "{\"a\":1,\"b\":\"x\",\"c\":null}\n"
    "{\"a\":2,\"b\":\"\"}\r\n"
    "not json\n"
    "[1,2]\n"
    "   \n"
    "{\"a\":3,\"d\":\"y\",\"b\":0}\n"
    "{\"a\":4";                          /* unterminated and broken */

START_TEST(test_jsonl_missing_null_and_empty_strings_are_empty)
{
    struct pw_landing_scan s;
    scan(&s, PW_LANDING_JSONL, jsonl, false);
    ck_assert_uint_eq(s.rows, 3);
    ck_assert_uint_eq(s.bad_rows, 2);
    ck_assert_uint_eq(s.ncolumns, 4);
    const char *order[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 4; i++)
        ck_assert_str_eq(s.columns[i].name, order[i]);
    ck_assert_uint_eq(empty_of(&s, "a"), 0);
    ck_assert_uint_eq(empty_of(&s, "b"), 1);      /* "" in row 2; 0 is a value */
    ck_assert_uint_eq(empty_of(&s, "c"), 3);      /* null, missing, missing */
    ck_assert_uint_eq(empty_of(&s, "d"), 2);
    pw_landing_scan_release(&s);

    /* The whole file: the last line is one more bad row. */
    scan(&s, PW_LANDING_JSONL, jsonl, true);
    ck_assert_uint_eq(s.rows, 3);
    ck_assert_uint_eq(s.bad_rows, 3);
    pw_landing_scan_release(&s);

    pw_landing_scan_init(&s, PW_LANDING_JSONL, 1);
    const char *t = "{\"a\":1,\"b\":2}\n{\"b\":1,\"c\":2}\n";
    ck_assert_int_eq(pw_landing_scan_buffer(&s, t, strlen(t), true), 0);
    ck_assert_uint_eq(s.ncolumns, 1);
    ck_assert_uint_eq(s.dropped_columns, 2);      /* b and c, each once */
    pw_landing_scan_release(&s);
}
END_TEST

START_TEST(test_format_follows_the_file_name)
{
    enum pw_landing_format f;
    ck_assert_int_eq(pw_landing_format_of("/x/a.CSV", &f), 0);
    ck_assert_int_eq(f, PW_LANDING_CSV);
    ck_assert_int_eq(pw_landing_format_of("a.ndjson", &f), 0);
    ck_assert_int_eq(f, PW_LANDING_JSONL);
    ck_assert_int_eq(pw_landing_format_of("a.jsonl", &f), 0);
    ck_assert_int_eq(pw_landing_format_of("a.csv.gz", &f), -1);
    ck_assert_int_eq(pw_landing_format_of("/x.csv/a", &f), -1);
}
END_TEST

/* ---- the collector on files ---------------------------------------------- */

static char dir[64];

static void write_file(const char *name, const char *text, int64_t mtime_ns)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    struct timespec ts[2] = {{mtime_ns / SEC, mtime_ns % SEC},
                             {mtime_ns / SEC, mtime_ns % SEC}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_landing.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void start(struct run *r, const char *fmt, ...)
{
    char yaml[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof yaml, fmt, ap);
    va_end(ap);
    run_start(r, &pw_landing_collector, yaml);
}

static void collect(struct run *r, int64_t ts)
{
    struct pw_err err;
    pw_lp_writer_reset(&r->w);
    ck_assert_msg(r->c.ops->collect(&r->c, ts, &r->w, &err) == 0, "%s", err.msg);
    pw_lp_batch_reset(r->batch);
    int n = pw_lp_parse(r->w.buf.data, r->w.buf.len, 0, r->batch, &err);
    ck_assert_msg(n > 0, "collector output does not parse: %s", err.msg);
    ck_assert_uint_eq((size_t)n, r->w.points);
}

static const struct pw_lp_point *find(struct run *r, const char *m, const char *k1,
                                      const char *v1, const char *k2, const char *v2)
{
    for (size_t i = 0; i < pw_lp_batch_len(r->batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r->batch, i);
        if (!str_is(p->measurement, m))
            continue;
        bool h1 = false, h2 = !k2;
        for (size_t t = 0; t < p->ntags; t++) {
            h1 |= str_is(p->tags[t].key, k1) && str_is(p->tags[t].value, v1);
            h2 |= k2 && str_is(p->tags[t].key, k2) && str_is(p->tags[t].value, v2);
        }
        if (h1 && h2)
            return p;
    }
    return NULL;
}

#define LANDING(r, name) find(r, "data_landing", "name", name, NULL, NULL)
#define COLUMN(r, name, col) find(r, "data_landing_column", "name", name, "column", col)

static const char orders_csv[] = "id,customer,amount\n1,ann,3\n2,,4\n3,bo,\n4,,\n";
static const char events_jsonl[] = "{\"k\":1,\"v\":\"a\"}\n{\"k\":2,\"v\":null}\n"
                                   "{\"k\":3}\n{\"k\":4,\"v\":\"\"}\n{\"k\":5,\"v\":\"b\"}\n";

START_TEST(test_counts_bytes_ages_and_columns_of_real_files)
{
    make_dir();
    write_file("orders.csv", orders_csv, T0 - 3600 * SEC);
    write_file("events.jsonl", events_jsonl, T0 - 90 * SEC - SEC / 2);
    write_file("readme.txt", "hello\n", T0 - 7200 * SEC);
    write_file(".part.csv", "x\n1\n", T0);   /* being written: left out */
    size_t all_bytes = strlen(orders_csv) + strlen(events_jsonl) + 6;

    struct run r;
    start(&r, "{paths: {all: '%s/*', dir: '%s', csv: '%s/*.csv', "
              "none: '%s/missing/*'}}", dir, dir, dir, dir);
    collect(&r, T0);

    const struct pw_lp_point *all = LANDING(&r, "all");
    ck_assert_int_eq(ival(all, "files"), 3);
    ck_assert_int_eq(ival(all, "bytes"), (int64_t)all_bytes);
    ck_assert_double_eq_tol(fval(all, "newest_age_seconds"), 90.5, 1e-6);
    ck_assert_int_eq(ival(all, "rows"), 5);
    ck_assert_int_eq(ival(all, "columns"), 2);
    ck_assert_int_eq(ival(all, "scanned_bytes"), (int64_t)strlen(events_jsonl));
    ck_assert(!field(all, "truncated")->v.b);
    ck_assert_int_eq(ival(COLUMN(&r, "all", "k"), "empty"), 0);
    ck_assert_int_eq(ival(COLUMN(&r, "all", "v"), "empty"), 3);
    ck_assert_double_eq_tol(fval(COLUMN(&r, "all", "v"), "empty_share"), 0.6, 1e-12);

    /* A directory stands for the files in it, the hidden one left out. */
    const struct pw_lp_point *d = LANDING(&r, "dir");
    ck_assert_int_eq(ival(d, "files"), 3);
    ck_assert_int_eq(ival(d, "bytes"), (int64_t)all_bytes);
    ck_assert_double_eq_tol(fval(d, "newest_age_seconds"), 90.5, 1e-6);

    const struct pw_lp_point *c = LANDING(&r, "csv");
    ck_assert_int_eq(ival(c, "files"), 1);
    ck_assert_double_eq_tol(fval(c, "newest_age_seconds"), 3600.0, 1e-6);
    ck_assert_int_eq(ival(c, "rows"), 4);
    ck_assert_int_eq(ival(c, "bad_rows"), 0);
    ck_assert_int_eq(ival(COLUMN(&r, "csv", "id"), "empty"), 0);
    ck_assert_int_eq(ival(COLUMN(&r, "csv", "customer"), "empty"), 2);
    ck_assert_double_eq_tol(fval(COLUMN(&r, "csv", "amount"), "empty_share"), 0.5, 1e-12);

    const struct pw_lp_point *n = LANDING(&r, "none");
    ck_assert_int_eq(ival(n, "files"), 0);
    ck_assert_int_eq(ival(n, "bytes"), 0);
    ck_assert_ptr_null(field(n, "newest_age_seconds"));
    ck_assert_ptr_null(field(n, "rows"));

    /* A new file lands: it becomes the newest and is scanned. */
    write_file("orders2.csv", "id,customer\n9,\n", T0 + 5 * SEC);
    collect(&r, T0 + 10 * SEC);
    c = LANDING(&r, "csv");
    ck_assert_int_eq(ival(c, "files"), 2);
    ck_assert_double_eq_tol(fval(c, "newest_age_seconds"), 5.0, 1e-6);
    ck_assert_int_eq(ival(c, "rows"), 1);
    ck_assert_int_eq(ival(COLUMN(&r, "csv", "customer"), "empty"), 1);
    ck_assert_ptr_null(COLUMN(&r, "csv", "amount"));
    finish(&r);
    remove_dir();
}
END_TEST

START_TEST(test_scan_stops_at_the_byte_limit)
{
    make_dir();
    /* 4-byte header and 4-byte rows: 1 KiB holds the header and 255 rows. */
    size_t cap = 8 + 4 * 600;
    char *text = malloc(cap + 1), *p = text;
    p += sprintf(p, "a,b\n");
    for (int i = 0; i < 600; i++)
        p += sprintf(p, "%02d,\n", i % 100);
    write_file("big.csv", text, T0 - SEC);
    free(text);

    struct run r;
    start(&r, "{paths: {big: '%s/*.csv'}, max_scan_bytes: 1KiB}", dir);
    collect(&r, T0);
    const struct pw_lp_point *b = LANDING(&r, "big");
    ck_assert(field(b, "truncated")->v.b);
    ck_assert_int_eq(ival(b, "scanned_bytes"), 1024);
    ck_assert_int_eq(ival(b, "rows"), 255);
    ck_assert_int_eq(ival(b, "bytes"), 4 + 4 * 600);
    ck_assert_double_eq_tol(fval(COLUMN(&r, "big", "b"), "empty_share"), 1.0, 1e-12);
    ck_assert_double_eq_tol(fval(COLUMN(&r, "big", "a"), "empty_share"), 0.0, 1e-12);
    finish(&r);

    start(&r, "{paths: {big: '%s/*.csv'}, columns: false}", dir);
    collect(&r, T0);
    ck_assert_ptr_null(field(LANDING(&r, "big"), "rows"));
    ck_assert_ptr_null(COLUMN(&r, "big", "a"));
    finish(&r);
    remove_dir();
}
END_TEST

START_TEST(test_start_needs_paths)
{
    const struct pw_collector_ops *ops = &pw_landing_collector;
    struct pw_err err;
    void *conf = calloc(1, ops->config_size);
    ck_assert(pw_config_load_string("t.yaml", "{}", 2, ops->options, conf, &err) == 0);
    struct pw_collector c = {.ops = ops, .config = conf};
    ck_assert_int_eq(ops->start(&c, &err), -1);
    ck_assert_msg(strstr(err.msg, "collectors.landing.paths"), "%s", err.msg);
    pw_config_release(ops->options, conf);
    free(conf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("landing");
    TCase *tc = tcase_create("scanner");
    tcase_add_test(tc, test_csv_rows_and_empty_shares_follow_rfc4180);
    tcase_add_test(tc, test_csv_bom_unnamed_columns_and_column_limit);
    tcase_add_test(tc, test_jsonl_missing_null_and_empty_strings_are_empty);
    tcase_add_test(tc, test_format_follows_the_file_name);
    suite_add_tcase(s, tc);
    TCase *tf = tcase_create("files");
    tcase_add_test(tf, test_counts_bytes_ages_and_columns_of_real_files);
    tcase_add_test(tf, test_scan_stops_at_the_byte_limit);
    tcase_add_test(tf, test_start_needs_paths);
    suite_add_tcase(s, tf);
    return pw_run_suite(s);
}
