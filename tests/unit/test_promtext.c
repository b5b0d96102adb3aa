/* tests/unit/test_promtext.c — the Prometheus / OpenMetrics text parser:
 * every construct of the format, exact values, escapes, families, and bad
 * lines skipped with their line numbers. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/promtext.h"

#include "tests/unit/testing.h"

#define MAX_SAMPLES 64

/* A copy of what the callback saw (slices die with the callback). */
struct got_sample {
    char name[128], family[128], unit[32];
    enum pw_prom_type type;
    enum pw_prom_role role;
    char labels[512];          /* "k=v;k=v;" */
    double value;
    int64_t ts_ms;
    bool has_ts;
    int line;
};

struct got {
    struct got_sample s[MAX_SAMPLES];
    size_t n;
    int error_lines[MAX_SAMPLES];
    size_t nerrors;
    struct pw_prom_stats stats;
    int rc;
};

static void copy(char *dst, size_t cap, struct pw_str s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

static int on_sample(void *ctx, const struct pw_prom_sample *s)
{
    struct got *g = ctx;
    ck_assert_uint_lt(g->n, MAX_SAMPLES);
    struct got_sample *o = &g->s[g->n++];
    copy(o->name, sizeof o->name, s->name);
    copy(o->family, sizeof o->family, s->family);
    copy(o->unit, sizeof o->unit, s->unit);
    o->type = s->type;
    o->role = s->role;
    o->labels[0] = '\0';
    for (size_t i = 0; i < s->nlabels; i++) {
        size_t len = strlen(o->labels);
        snprintf(o->labels + len, sizeof o->labels - len, "%.*s=%.*s;",
                 (int)s->labels[i].name.len, s->labels[i].name.ptr,
                 (int)s->labels[i].value.len, s->labels[i].value.ptr);
    }
    o->value = s->value;
    o->ts_ms = s->ts_ms;
    o->has_ts = s->has_ts;
    o->line = s->line;
    return 0;
}

static void on_error(void *ctx, int line, const char *msg)
{
    struct got *g = ctx;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "line %d: ", line);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "message %s", msg);
    if (g->nerrors < MAX_SAMPLES)
        g->error_lines[g->nerrors++] = line;
}

static struct got *parse(const char *text, bool om)
{
    static struct got g;
    memset(&g, 0, sizeof g);
    struct pw_prom_parser p;
    pw_prom_parser_init(&p, om);
    g.rc = pw_prom_parse(&p, text, strlen(text), on_sample, on_error, &g, &g.stats);
    pw_prom_parser_release(&p);
    return &g;
}

START_TEST(test_promtext_counter_gauge_help_type_and_exact_values)
{
    struct got *g = parse(
        "# HELP http_requests_total The total number of HTTP requests.\n"
        "# TYPE http_requests_total counter\n"
        "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
        "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
        "\n"
        "# TYPE node_load1 gauge\n"
        "node_load1 0.21\n"
        "node_memory_bytes 1.7179869184e+10\n"
        "metric_without_timestamp_and_labels 12.47\n"
        "neg -0.5e-3\n",
        false);
    ck_assert_int_eq(g->rc, 0);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert_uint_eq(g->n, 6);
    ck_assert_uint_eq(g->stats.samples, 6);
    ck_assert_uint_eq(g->stats.lines, 10);
    ck_assert_str_eq(g->s[0].name, "http_requests_total");
    ck_assert_str_eq(g->s[0].family, "http_requests_total");
    ck_assert_int_eq(g->s[0].type, PW_PROM_COUNTER);
    ck_assert_int_eq(g->s[0].role, PW_PROM_VALUE);
    ck_assert_str_eq(g->s[0].labels, "method=post;code=200;");
    ck_assert(g->s[0].value == 1027.0);
    ck_assert(g->s[0].has_ts);
    ck_assert_int_eq(g->s[0].ts_ms, 1395066363000LL);
    ck_assert_int_eq(g->s[0].line, 3);
    ck_assert(g->s[1].value == 3.0);
    ck_assert_int_eq(g->s[2].type, PW_PROM_GAUGE);
    ck_assert(g->s[2].value == 0.21);
    ck_assert(!g->s[2].has_ts);
    /* A series that does not match the last # TYPE is untyped. */
    ck_assert_str_eq(g->s[3].family, "node_memory_bytes");
    ck_assert_int_eq(g->s[3].type, PW_PROM_UNTYPED);
    ck_assert(g->s[3].value == 17179869184.0);
    ck_assert(g->s[4].value == 12.47);
    ck_assert(g->s[5].value == -0.0005);
}
END_TEST

START_TEST(test_promtext_special_values)
{
    struct got *g = parse("a NaN\nb +Inf\nc -Inf\nd Inf\ne nan\nf 0\ng -0\n", false);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert_uint_eq(g->n, 7);
    ck_assert(isnan(g->s[0].value));
    ck_assert(isinf(g->s[1].value) && g->s[1].value > 0);
    ck_assert(isinf(g->s[2].value) && g->s[2].value < 0);
    ck_assert(isinf(g->s[3].value) && g->s[3].value > 0);
    ck_assert(isnan(g->s[4].value));
    ck_assert(g->s[5].value == 0 && !signbit(g->s[5].value));
    ck_assert(g->s[6].value == 0 && signbit(g->s[6].value));
}
END_TEST

START_TEST(test_promtext_label_escapes_and_odd_spacing)
{
    struct got *g = parse(
        "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
        "spaced { a = \"1\" , b=\"2\", } 4\n"
        "empty{} 5\n"
        "  \tindented 6\r\n"
        "utf{name=\"caf\xc3\xa9 \xe2\x9c\x93\"} 7\n",
        false);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert_uint_eq(g->n, 5);
    ck_assert_str_eq(g->s[0].labels,
                     "path=C:\\DIR\\FILE.TXT;error=Cannot find file:\n\"FILE.TXT\";");
    ck_assert(g->s[0].value == 1458255915.0);
    ck_assert_str_eq(g->s[1].labels, "a=1;b=2;");
    ck_assert(g->s[1].value == 4);
    ck_assert_str_eq(g->s[2].labels, "");
    ck_assert_str_eq(g->s[3].name, "indented");
    ck_assert(g->s[3].value == 6);
    ck_assert_str_eq(g->s[4].labels, "name=caf\xc3\xa9 \xe2\x9c\x93;");
}
END_TEST

START_TEST(test_promtext_histogram_series)
{
    struct got *g = parse(
        "# HELP http_request_duration_seconds A histogram of the request duration.\n"
        "# TYPE http_request_duration_seconds histogram\n"
        "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
        "http_request_duration_seconds_bucket{le=\"0.1\"} 33444\n"
        "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
        "http_request_duration_seconds_sum 53423\n"
        "http_request_duration_seconds_count 144320\n"
        "http_request_duration_seconds_bucket_not 1\n",
        false);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert_uint_eq(g->n, 6);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(g->s[i].family, "http_request_duration_seconds");
        ck_assert_int_eq(g->s[i].type, PW_PROM_HISTOGRAM);
    }
    ck_assert_int_eq(g->s[0].role, PW_PROM_BUCKET);
    ck_assert_str_eq(g->s[2].labels, "le=+Inf;");
    ck_assert(g->s[2].value == 144320);
    ck_assert_int_eq(g->s[3].role, PW_PROM_SUM);
    ck_assert(g->s[3].value == 53423);
    ck_assert_int_eq(g->s[4].role, PW_PROM_COUNT);
    ck_assert_int_eq(g->s[5].type, PW_PROM_UNTYPED);
    ck_assert_str_eq(g->s[5].family, "http_request_duration_seconds_bucket_not");
}
END_TEST

START_TEST(test_promtext_summary_series)
{
    struct got *g = parse(
        "# TYPE rpc_duration_seconds summary\n"
        "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
        "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
        "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
        "rpc_duration_seconds_sum 1.7560473e+07\n"
        "rpc_duration_seconds_count 2693\n",
        false);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert_uint_eq(g->n, 5);
    ck_assert_int_eq(g->s[0].role, PW_PROM_QUANTILE);
    ck_assert_int_eq(g->s[0].type, PW_PROM_SUMMARY);
    ck_assert_str_eq(g->s[1].labels, "quantile=0.5;");
    ck_assert(g->s[2].value == 76656);
    ck_assert_int_eq(g->s[3].role, PW_PROM_SUM);
    ck_assert(g->s[3].value == 17560473);
    ck_assert_int_eq(g->s[4].role, PW_PROM_COUNT);
    ck_assert_str_eq(g->s[4].family, "rpc_duration_seconds");
}
END_TEST

START_TEST(test_promtext_untyped_and_help_before_type)
{
    struct got *g = parse("# HELP x Some x.\n# TYPE x untyped\nx 1\n"
                          "# HELP y Help only, then a gauge.\n# TYPE y gauge\ny 2\n"
                          "# just a comment\n#\nz 3\n",
                          false);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert_uint_eq(g->n, 3);
    ck_assert_int_eq(g->s[0].type, PW_PROM_UNTYPED);
    ck_assert_int_eq(g->s[1].type, PW_PROM_GAUGE);
    ck_assert_int_eq(g->s[2].type, PW_PROM_UNTYPED);
}
END_TEST

START_TEST(test_promtext_openmetrics_suffixes_unit_eof_and_seconds)
{
    struct got *g = parse(
        "# TYPE kafka_consumergroup_lag_seconds gauge\n"
        "# UNIT kafka_consumergroup_lag_seconds seconds\n"
        "kafka_consumergroup_lag_seconds{group=\"g1\"} 1.5 1700000000.250\n"
        "# TYPE airflow_dagrun counter\n"
        "# HELP airflow_dagrun Runs.\n"
        "airflow_dagrun_total{dag=\"etl\"} 17 1700000000\n"
        "airflow_dagrun_created{dag=\"etl\"} 1.6e9\n"
        "# TYPE req histogram\n"
        "req_bucket{le=\"1.0\"} 1 # {trace_id=\"abc\"} 0.5 1700000000.1\n"
        "req_bucket{le=\"+Inf\"} 2\n"
        "req_count 2\nreq_sum 3.5\nreq_created 1.6e9\n"
        "# TYPE build info\nbuild_info{version=\"1.2\"} 1\n"
        "# EOF\n",
        true);
    ck_assert_uint_eq(g->stats.errors, 0);
    ck_assert(g->stats.eof_seen);
    ck_assert_uint_eq(g->n, 9);
    ck_assert_str_eq(g->s[0].unit, "seconds");
    ck_assert_int_eq(g->s[0].ts_ms, 1700000000250LL);
    ck_assert_str_eq(g->s[1].family, "airflow_dagrun");
    ck_assert_int_eq(g->s[1].type, PW_PROM_COUNTER);
    ck_assert_int_eq(g->s[1].role, PW_PROM_VALUE);
    ck_assert_int_eq(g->s[1].ts_ms, 1700000000000LL);
    ck_assert_int_eq(g->s[2].role, PW_PROM_CREATED);
    ck_assert(g->s[2].value == 1.6e9);
    ck_assert_int_eq(g->s[3].role, PW_PROM_BUCKET);
    ck_assert(!g->s[3].has_ts);   /* the exemplar's timestamp is not the sample's */
    ck_assert_int_eq(g->s[5].role, PW_PROM_COUNT);
    ck_assert_int_eq(g->s[6].role, PW_PROM_SUM);
    ck_assert_int_eq(g->s[7].role, PW_PROM_CREATED);
    ck_assert_int_eq(g->s[8].type, PW_PROM_INFO);
    ck_assert_str_eq(g->s[8].family, "build");
}
END_TEST

START_TEST(test_promtext_text_after_eof_is_an_error)
{
    struct got *g = parse("a 1\n# EOF\nb 2\nc 3\n", true);
    ck_assert_uint_eq(g->n, 1);
    ck_assert_uint_eq(g->stats.errors, 1);
    ck_assert_int_eq(g->error_lines[0], 3);
}
END_TEST

START_TEST(test_promtext_bad_lines_are_skipped_with_line_numbers)
{
    struct got *g = parse(
        "good_a 1\n"                                   /* 1 */
        "bad value here\n"                             /* 2: bad value */
        "good_b{x=\"1\"} 2\n"                          /* 3 */
        "no_value\n"                                   /* 4 */
        "unclosed{x=\"1\" 3\n"                         /* 5 */
        "badesc{x=\"\\t\"} 4\n"                        /* 6 */
        "dup{x=\"1\",x=\"2\"} 5\n"                     /* 7 */
        "9starts_with_digit 1\n"                       /* 8 */
        "ts_bad 1 12.5\n"                              /* 9: ms must be integer */
        "trailing 1 2 3\n"                             /* 10 */
        "# TYPE h histogram\n"                         /* 11 */
        "h_bucket 1\n"                                 /* 12: no le */
        "# TYPE s summary\n"                           /* 13 */
        "s{quantile=\"x\"} 1\n"                        /* 14 */
        "# TYPE q nosuchtype\n"                        /* 15 */
        "hex 0x10\n"                                   /* 16 */
        "toobig 1e999\n"                               /* 17 */
        "nolabelname{=\"1\"} 1\n"                      /* 18 */
        "good_c 3\n",                                  /* 19 */
        false);
    ck_assert_int_eq(g->rc, 0);
    ck_assert_uint_eq(g->n, 3);
    ck_assert_str_eq(g->s[0].name, "good_a");
    ck_assert_str_eq(g->s[1].name, "good_b");
    ck_assert_str_eq(g->s[2].name, "good_c");
    ck_assert_int_eq(g->s[2].line, 19);
    int want[] = {2, 4, 5, 6, 7, 8, 9, 10, 12, 14, 15, 16, 17, 18};
    size_t nwant = sizeof want / sizeof want[0];
    ck_assert_uint_eq(g->stats.errors, nwant);
    ck_assert_uint_eq(g->nerrors, nwant);
    for (size_t i = 0; i < nwant; i++)
        ck_assert_int_eq(g->error_lines[i], want[i]);
    ck_assert_int_eq(g->stats.first_error_line, 2);
    ck_assert_msg(strstr(g->stats.first_error, "line 2: bad: bad value \"value\"") != NULL,
                  "%s", g->stats.first_error);
}
END_TEST

START_TEST(test_promtext_no_final_newline_and_empty_input)
{
    struct got *g = parse("a 1\nb 2", false);
    ck_assert_uint_eq(g->n, 2);
    ck_assert(g->s[1].value == 2);
    g = parse("", false);
    ck_assert_uint_eq(g->n, 0);
    ck_assert_uint_eq(g->stats.errors, 0);
}
END_TEST

static int stop_after_one(void *ctx, const struct pw_prom_sample *s)
{
    (void)s;
    (*(int *)ctx)++;
    return 7;
}

START_TEST(test_promtext_callback_can_stop_and_parser_is_reusable)
{
    struct pw_prom_parser p;
    pw_prom_parser_init(&p, false);
    struct pw_prom_stats st;
    int calls = 0;
    const char *text = "a{x=\"\\\\\"} 1\nb 2\n";
    ck_assert_int_eq(pw_prom_parse(&p, text, strlen(text), stop_after_one, NULL,
                                   &calls, &st), 7);
    ck_assert_int_eq(calls, 1);
    /* # TYPE state does not leak from one exposition into the next. */
    struct got g = {0};
    const char *t1 = "# TYPE a counter\n";
    ck_assert_int_eq(pw_prom_parse(&p, t1, strlen(t1), on_sample, on_error, &g, &st), 0);
    const char *t2 = "a 1\n";
    ck_assert_int_eq(pw_prom_parse(&p, t2, strlen(t2), on_sample, on_error, &g, &st), 0);
    ck_assert_uint_eq(g.n, 1);
    ck_assert_int_eq(g.s[0].type, PW_PROM_UNTYPED);
    pw_prom_parser_release(&p);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("promtext");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_promtext_counter_gauge_help_type_and_exact_values);
    tcase_add_test(tc, test_promtext_special_values);
    tcase_add_test(tc, test_promtext_label_escapes_and_odd_spacing);
    tcase_add_test(tc, test_promtext_histogram_series);
    tcase_add_test(tc, test_promtext_summary_series);
    tcase_add_test(tc, test_promtext_untyped_and_help_before_type);
    tcase_add_test(tc, test_promtext_openmetrics_suffixes_unit_eof_and_seconds);
    tcase_add_test(tc, test_promtext_text_after_eof_is_an_error);
    tcase_add_test(tc, test_promtext_bad_lines_are_skipped_with_line_numbers);
    tcase_add_test(tc, test_promtext_no_final_newline_and_empty_input);
    tcase_add_test(tc, test_promtext_callback_can_stop_and_parser_is_reusable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pw_run_suite(suite()); }
