/* tests/unit/test_statsd.c — the StatsD parser, the aggregation (exact
 * percentiles, sets, gauges across intervals, overflow), templates on lines
 * as Airflow and Spark send them, and the collector over real UDP. */
#include <arpa/inet.h>
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collectors/statsd.h"
#include "common/lineproto.h"

#include "tests/unit/collector_check.h"
#include "tests/unit/testing.h"

/* ---- helpers ----------------------------------------------------------- */

static struct pw_statsd_line parse_ok(const char *text)
{
    struct pw_statsd_line l;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_statsd_parse_line(text, strlen(text), &l, &err) == 0,
                  "%s: %s", text, err.msg);
    return l;
}

struct out {
    struct pw_lp_writer w;
    struct pw_lp_batch *b;
};

static const double default_pct[] = {50, 90, 99};

static struct pw_statsd_agg *agg_with(const char *const *templates, size_t nt,
                                      bool delete_gauges, size_t max_keys)
{
    struct pw_statsd_agg_config cf = {
        .percentiles = default_pct, .npercentiles = 3, .percentile_limit = 1000,
        .max_keys = max_keys, .delete_gauges = delete_gauges, .separator = "_",
        .templates = templates, .ntemplates = nt};
    struct pw_err err;
    struct pw_statsd_agg *a = pw_statsd_agg_new(&cf, &err);
    ck_assert_msg(a != NULL, "%s", err.msg);
    return a;
}

static void feed(struct pw_statsd_agg *a, const char *packet)
{
    pw_statsd_agg_feed(a, packet, strlen(packet));
}

/* Writes the interval and parses it back. */
static void write_out(struct pw_statsd_agg *a, struct out *o)
{
    pw_lp_writer_init(&o->w);
    o->b = pw_lp_batch_new();
    size_t n = pw_statsd_agg_write(a, 1000, &o->w);
    ck_assert_uint_eq(n, o->w.points);
    struct pw_err err;
    if (n == 0)
        return;
    int k = pw_lp_parse(o->w.buf.data, o->w.buf.len, 0, o->b, &err);
    ck_assert_msg(k == (int)n, "output does not parse: %s\n%s", err.msg, o->w.buf.data);
}

static void out_free(struct out *o)
{
    pw_lp_writer_release(&o->w);
    pw_lp_batch_free(o->b);
}

static const char *tag_of(const struct pw_lp_point *p, const char *k)
{
    static char buf[256];
    for (size_t i = 0; i < p->ntags; i++)
        if (str_is(p->tags[i].key, k)) {
            snprintf(buf, sizeof buf, "%.*s", (int)p->tags[i].value.len,
                     p->tags[i].value.ptr);
            return buf;
        }
    return NULL;
}

/* The point with this measurement whose tags include every "k=v" given
 * (NULL-terminated). */
static const struct pw_lp_point *find(struct out *o, const char *m, ...)
{
    for (size_t i = 0; i < pw_lp_batch_len(o->b); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(o->b, i);
        if (!str_is(p->measurement, m))
            continue;
        va_list ap;
        va_start(ap, m);
        bool ok = true;
        for (const char *kv; ok && (kv = va_arg(ap, const char *)) != NULL;) {
            char k[128];
            const char *eq = strchr(kv, '=');
            snprintf(k, sizeof k, "%.*s", (int)(eq - kv), kv);
            const char *v = tag_of(p, k);
            ok = v && strcmp(v, eq + 1) == 0;
        }
        va_end(ap);
        if (ok)
            return p;
    }
    return NULL;
}

static double num(const struct pw_lp_point *p, const char *k)
{
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < p->nfields; i++)
        if (str_is(p->fields[i].key, k)) {
            const struct pw_lp_field *f = &p->fields[i];
            return f->type == PW_FIELD_FLOAT ? f->v.f : (double)f->v.i;
        }
    ck_abort_msg("no field %s", k);
    return NAN;
}


static bool has_field(const struct pw_lp_point *p, const char *k)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (str_is(p->fields[i].key, k))
            return true;
    return false;
}

/* The value of field k on any point of measurement m (field templates write
 * one line per field, with the same measurement, tags and timestamp). */
static double field_of(struct out *o, const char *m, const char *k)
{
    for (size_t i = 0; i < pw_lp_batch_len(o->b); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(o->b, i);
        if (str_is(p->measurement, m) && has_field(p, k))
            return num(p, k);
    }
    ck_abort_msg("no %s with field %s", m, k);
    return NAN;
}

/* ---- parser ------------------------------------------------------------ */

START_TEST(test_statsd_parses_every_type)
{
    struct pw_statsd_line l = parse_ok("gorets:1|c");
    ck_assert(str_is(l.name, "gorets") && l.type == PW_STATSD_COUNTER && l.value == 1 &&
              l.sample_rate == 1 && l.tags.len == 0);
    l = parse_ok("gaugor:333|g");
    ck_assert(l.type == PW_STATSD_GAUGE && l.value == 333 && !l.delta);
    l = parse_ok("gaugor:-10|g");
    ck_assert(l.delta && l.value == -10);
    l = parse_ok("gaugor:+4.5|g");
    ck_assert(l.delta && l.value == 4.5);
    l = parse_ok("glork:320|ms");
    ck_assert(l.type == PW_STATSD_TIMING && l.value == 320);
    l = parse_ok("hist:0.25|h");
    ck_assert(l.type == PW_STATSD_HISTOGRAM && l.value == 0.25);
    l = parse_ok("dist:1e3|d");
    ck_assert(l.type == PW_STATSD_DISTRIBUTION && l.value == 1000);
    l = parse_ok("uniques:765|s");
    ck_assert(l.type == PW_STATSD_SET && str_is(l.member, "765"));
    l = parse_ok("users:alice@example.com|s");
    ck_assert(str_is(l.member, "alice@example.com"));
    l = parse_ok("gorets:1|c|@0.1");
    ck_assert(l.sample_rate == 0.1);
    l = parse_ok("x:2|c\r");
    ck_assert(l.value == 2);
    l = parse_ok("neg:-3|c");
    ck_assert(l.value == -3 && !l.delta);
    l = parse_ok("exact:0.1|g");
    ck_assert(l.value == 0.1);   /* correctly rounded like strtod */
    l = parse_ok("big:12345678901234567890|c");
    ck_assert(l.value == 12345678901234567890.0);
}
END_TEST

START_TEST(test_statsd_parses_dogstatsd_tags_and_sections)
{
    struct pw_statsd_line l = parse_ok("page.views:1|c|@0.5|#env:prod,region:eu-west");
    ck_assert(l.sample_rate == 0.5 && str_is(l.tags, "env:prod,region:eu-west"));
    l = parse_ok("page.views:1|c|#env:prod|@0.5");
    ck_assert(l.sample_rate == 0.5 && str_is(l.tags, "env:prod"));
    l = parse_ok("x:1|g|#a:b|c:abc123|T1656581400");
    ck_assert(str_is(l.tags, "a:b"));
    l = parse_ok("url:1|c|#path:http://x/y:z");
    ck_assert(str_is(l.tags, "path:http://x/y:z"));
}
END_TEST

START_TEST(test_statsd_rejects_malformed_lines)
{
    static const char *const bad[] = {
        "", "noColon", ":1|c", "name:1", "name:1|", "name:1|x", "name:1|msx",
        "name:|c", "name:abc|c", "name:1.2.3|g", "name:nan|g", "name:inf|c",
        "name:0x10|c", "name: 1|c", "name:1e999|ms", "name:1|c|@0", "name:1|c|@2",
        "name:1|c|@-0.5", "name:1|c|@x", "name:1|c||#a:b", "name:1|c|zzz",
        "na\tme:1|c", "name:|s", "name:-|c", "name:+|g",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct pw_statsd_line l;
        struct pw_err err = {{0}};
        ck_assert_msg(pw_statsd_parse_line(bad[i], strlen(bad[i]), &l, &err) < 0,
                      "accepted \"%s\"", bad[i]);
        ck_assert_msg(err.msg[0], "no reason for \"%s\"", bad[i]);
    }
}
END_TEST

/* ---- aggregation ------------------------------------------------------- */

START_TEST(test_statsd_counters_scale_by_sample_rate_and_reset)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    feed(a, "hits:1|c|@0.1\nhits:2|c\nhits:1|c|@0.5");
    struct out o;
    write_out(a, &o);
    const struct pw_lp_point *p = find(&o, "hits", "metric_type=counter", NULL);
    ck_assert_double_eq_tol(num(p, "value"), 10 + 2 + 2, 1e-9);
    out_free(&o);
    write_out(a, &o);   /* nothing arrived: a counter is not re-sent */
    ck_assert_ptr_null(find(&o, "hits", NULL));
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_gauges_persist_and_take_deltas)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    struct out o;
    feed(a, "q:+5|g\nq:-2|g");            /* deltas from nothing: 3 */
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "q", "metric_type=gauge", NULL), "value"), 3);
    out_free(&o);
    write_out(a, &o);                     /* kept */
    ck_assert_double_eq(num(find(&o, "q", NULL), "value"), 3);
    out_free(&o);
    feed(a, "q:+10|g");                   /* delta on the kept value */
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "q", NULL), "value"), 13);
    out_free(&o);
    feed(a, "q:+1|g\nq:7|g\nq:+0.5|g");   /* absolute, then a delta on it */
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "q", NULL), "value"), 7.5);
    out_free(&o);
    pw_statsd_agg_free(a);

    a = agg_with(NULL, 0, true, 1000);    /* delete_gauges */
    feed(a, "q:42|g");
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "q", NULL), "value"), 42);
    out_free(&o);
    write_out(a, &o);
    ck_assert_ptr_null(find(&o, "q", NULL));
    out_free(&o);
    feed(a, "q:+1|g");                    /* forgotten: the delta starts at 0 */
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "q", NULL), "value"), 1);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_timing_statistics_are_exact)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    char line[64];
    /* 1..100 in a scrambled order, several per packet */
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof line, "t:%d|ms\nh:%d|h", (i * 37) % 100 + 1, i + 1);
        feed(a, line);
    }
    struct out o;
    write_out(a, &o);
    const struct pw_lp_point *p = find(&o, "t", "metric_type=timing", NULL);
    ck_assert_double_eq(num(p, "count"), 100);
    ck_assert_double_eq_tol(num(p, "sum"), 5050, 1e-9);
    ck_assert_double_eq_tol(num(p, "mean"), 50.5, 1e-12);
    ck_assert_double_eq_tol(num(p, "stddev"), sqrt((100.0 * 100 - 1) / 12), 1e-9);
    ck_assert_double_eq(num(p, "lower"), 1);
    ck_assert_double_eq(num(p, "upper"), 100);
    ck_assert_double_eq(num(p, "p50"), 50);   /* nearest rank */
    ck_assert_double_eq(num(p, "p90"), 90);
    ck_assert_double_eq(num(p, "p99"), 99);
    const struct pw_lp_point *h = find(&o, "h", "metric_type=histogram", NULL);
    ck_assert_double_eq(num(h, "p90"), 90);
    out_free(&o);

    /* A sampled timer counts 1/rate times; a single sample is every
     * percentile; 99.9 is named p99_9. */
    static const double pct[] = {25, 99.9};
    struct pw_statsd_agg_config cf = {.percentiles = pct, .npercentiles = 2,
                                      .percentile_limit = 1000, .max_keys = 10};
    struct pw_err err;
    struct pw_statsd_agg *b = pw_statsd_agg_new(&cf, &err);
    ck_assert_ptr_nonnull(b);
    feed(b, "s:8|ms|@0.25\nd:1|d\nd:2|d\nd:3|d\nd:4|d");
    write_out(b, &o);
    p = find(&o, "s", NULL);
    ck_assert_double_eq(num(p, "count"), 4);
    ck_assert_double_eq(num(p, "sum"), 32);
    ck_assert_double_eq(num(p, "p25"), 8);
    ck_assert_double_eq(num(p, "p99_9"), 8);
    ck_assert(!has_field(p, "p50"));
    p = find(&o, "d", "metric_type=distribution", NULL);
    ck_assert_double_eq(num(p, "p25"), 1);
    ck_assert_double_eq(num(p, "p99_9"), 4);
    out_free(&o);
    pw_statsd_agg_free(b);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_timing_reservoir_keeps_exact_moments)
{
    struct pw_statsd_agg_config cf = {.percentiles = default_pct, .npercentiles = 3,
                                      .percentile_limit = 100, .max_keys = 10};
    struct pw_err err;
    struct pw_statsd_agg *a = pw_statsd_agg_new(&cf, &err);
    char line[32];
    for (int i = 1; i <= 10000; i++) {
        snprintf(line, sizeof line, "t:%d|ms", i);
        feed(a, line);
    }
    struct out o;
    write_out(a, &o);
    const struct pw_lp_point *p = find(&o, "t", NULL);
    ck_assert_double_eq(num(p, "count"), 10000);
    ck_assert_double_eq_tol(num(p, "mean"), 5000.5, 1e-9);
    ck_assert_double_eq(num(p, "lower"), 1);
    ck_assert_double_eq(num(p, "upper"), 10000);
    ck_assert(fabs(num(p, "p50") - 5000) < 1500);   /* from 100 samples */
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_sets_count_distinct_members_per_interval)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    feed(a, "u:alice|s\nu:bob|s\nu:alice|s\nu:carol|s|#env:prod\nu:42|s\nu:42|s");
    struct out o;
    write_out(a, &o);
    const struct pw_lp_point *p = NULL;
    for (size_t i = 0; i < pw_lp_batch_len(o.b); i++) {
        const struct pw_lp_point *q = pw_lp_batch_get(o.b, i);
        if (str_is(q->measurement, "u") && !tag_of(q, "env"))
            p = q;
    }
    ck_assert_ptr_nonnull(p);
    ck_assert_double_eq(num(p, "value"), 3);
    ck_assert(p->fields[0].type == PW_FIELD_INT);
    ck_assert_double_eq(num(find(&o, "u", "env=prod", "metric_type=set", NULL), "value"), 1);
    out_free(&o);
    feed(a, "u:alice|s");
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "u", NULL), "value"), 1);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_tags_in_any_order_are_one_series)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    feed(a, "req:1|c|#b:2,a:1\nreq:1|c|#a:1,b:2\nreq:1|c|#a:1,b:3\nreq:5|c|#flag");
    struct out o;
    write_out(a, &o);
    ck_assert_uint_eq(o.w.points, 3);
    const struct pw_lp_point *p = find(&o, "req", "a=1", "b=2", NULL);
    ck_assert_double_eq(num(p, "value"), 2);
    ck_assert(str_is(p->tags[0].key, "a") && str_is(p->tags[1].key, "b") &&
              str_is(p->tags[2].key, "metric_type"));
    ck_assert_double_eq(num(find(&o, "req", "flag=true", NULL), "value"), 5);
    out_free(&o);
    /* a repeated tag key: one tag, the last in sorted order; a DogStatsD tag
     * named metric_type does not replace ours */
    feed(a, "dup:1|c|#a:2,a:1,metric_type:x,a:1");
    write_out(a, &o);
    const struct pw_lp_point *d = find(&o, "dup", NULL);
    ck_assert_uint_eq(d->ntags, 2);
    ck_assert_str_eq(tag_of(d, "a"), "2");
    ck_assert_str_eq(tag_of(d, "metric_type"), "counter");
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_malformed_lines_are_counted_and_skipped)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    feed(a, "ok:1|c\ngarbage\nbad:x|c\n\n\r\nok:1|c\r\nworse:1|q\nok:1|c");
    feed(a, "\x01\xff\xfe:1|c");
    struct out o;
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "ok", NULL), "value"), 3);
    ck_assert_uint_eq(o.w.points, 1);
    struct pw_statsd_counts n;
    pw_statsd_agg_counts(a, &n);
    ck_assert_uint_eq(n.packets, 2);
    ck_assert_uint_eq(n.lines, 7);
    ck_assert_uint_eq(n.malformed, 4);
    ck_assert_uint_eq(n.keys, 1);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_max_keys_bounds_an_interval)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 3);
    feed(a, "a:1|c\nb:1|c\nc:1|g\nd:1|c\ne:1|ms\na:1|c");
    struct out o;
    write_out(a, &o);
    ck_assert_uint_eq(o.w.points, 3);
    ck_assert_double_eq(num(find(&o, "a", NULL), "value"), 2);
    struct pw_statsd_counts n;
    pw_statsd_agg_counts(a, &n);
    ck_assert_uint_eq(n.overflow, 2);
    out_free(&o);
    feed(a, "d:1|c");   /* a new interval has room again (c is a kept gauge) */
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "d", NULL), "value"), 1);
    ck_assert_double_eq(num(find(&o, "c", NULL), "value"), 1);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

/* ---- templates: Airflow and Spark as they send ------------------------- */

/* Airflow ([metrics] statsd_on = True, statsd_prefix = airflow): metric
 * names from its metrics documentation, values formatted by the Python
 * statsd client (timers as %0.6f|ms, delta gauges with a sign). */
static const char airflow_packet[] =
    "airflow.dag_processing.total_parse_time:1.23|g\n"
    "airflow.dagbag_size:42|g\n"
    "airflow.executor.open_slots:31|g\n"
    "airflow.pool.open_slots.default_pool:128|g\n"
    "airflow.scheduler_heartbeat:1|c\n"
    "airflow.ti_successes:1|c\n"
    "airflow.ti.finish.etl_daily.load_orders.success:1|c\n"
    "airflow.ti.finish.etl_daily.load_users.failed:1|c\n"
    "airflow.ti.finish.etl_daily.load_orders.success:1|c\n"
    "airflow.ti.start.etl_daily.load_orders:1|c\n"
    "airflow.dag.etl_daily.load_orders.duration:5123.456000|ms\n"
    "airflow.dag.etl_daily.load_orders.duration:4876.544000|ms\n"
    "airflow.dagrun.duration.success.etl_daily:60000.000000|ms\n"
    "airflow.dag_processing.processes:+1|g\n"
    "airflow.dag_processing.processes:-1|g\n"
    "airflow.dag_processing.processes:+1|g\n";

START_TEST(test_statsd_airflow_lines_with_templates)
{
    static const char *const templates[] = {
        "airflow.ti.finish.* measurement.measurement.measurement.dag_id.task_id.state",
        "airflow.ti.start.* measurement.measurement.measurement.dag_id.task_id",
        "airflow.dag.*.*.duration measurement.measurement.dag_id.task_id.measurement",
        "airflow.dagrun.duration.* measurement.measurement.measurement.state.dag_id",
        "airflow.pool.open_slots.* measurement.measurement.measurement.pool",
        "airflow.* measurement.measurement.field",
    };
    struct pw_statsd_agg *a = agg_with(templates, 6, false, 1000);
    feed(a, airflow_packet);
    struct out o;
    write_out(a, &o);
    struct pw_statsd_counts n;
    pw_statsd_agg_counts(a, &n);
    ck_assert_uint_eq(n.malformed, 0);
    const struct pw_lp_point *p = find(&o, "airflow_ti_finish", "dag_id=etl_daily",
                                       "task_id=load_orders", "state=success", NULL);
    ck_assert_double_eq(num(p, "value"), 2);
    ck_assert_double_eq(num(find(&o, "airflow_ti_finish", "task_id=load_users",
                                 "state=failed", NULL), "value"), 1);
    ck_assert_double_eq(num(find(&o, "airflow_ti_start", "task_id=load_orders", NULL),
                            "value"), 1);
    p = find(&o, "airflow_dag_duration", "dag_id=etl_daily", "task_id=load_orders",
             "metric_type=timing", NULL);
    ck_assert_double_eq(num(p, "count"), 2);
    ck_assert_double_eq_tol(num(p, "mean"), 5000, 1e-9);
    ck_assert_double_eq(num(p, "upper"), 5123.456);
    p = find(&o, "airflow_dagrun_duration", "state=success", "dag_id=etl_daily", NULL);
    ck_assert_double_eq(num(p, "p99"), 60000);
    ck_assert_double_eq(num(find(&o, "airflow_pool_open_slots", "pool=default_pool",
                                 NULL), "value"), 128);
    /* measurement.measurement.field: the last part is the field */
    ck_assert_double_eq(field_of(&o, "airflow_dag_processing", "total_parse_time"), 1.23);
    ck_assert_double_eq(field_of(&o, "airflow_dag_processing", "processes"), 1);
    /* two parts only: the field part is missing, so the field is "value" */
    ck_assert_double_eq(num(find(&o, "airflow_dagbag_size", NULL), "value"), 42);
    ck_assert_double_eq(num(find(&o, "airflow_scheduler_heartbeat", NULL), "value"), 1);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_airflow_lines_without_templates_keep_their_names)
{
    struct pw_statsd_agg *a = agg_with(NULL, 0, false, 1000);
    feed(a, airflow_packet);
    /* Airflow with statsd_datadog_enabled: the same metrics with tags */
    feed(a, "airflow.ti.finish:1|c|#dag_id:etl_daily,task_id:load_orders,state:success\n"
            "airflow.task.duration:812.5|ms|#dag_id:etl_daily,task_id:load_orders\n");
    struct out o;
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "airflow.ti.finish.etl_daily.load_orders.success",
                                 NULL), "value"), 2);
    ck_assert_double_eq(num(find(&o, "airflow.dag_processing.total_parse_time", NULL),
                            "value"), 1.23);
    ck_assert_double_eq(num(find(&o, "airflow.ti.finish", "dag_id=etl_daily",
                                 "state=success", NULL), "value"), 1);
    ck_assert_double_eq(num(find(&o, "airflow.task.duration", "task_id=load_orders",
                                 NULL), "p50"), 812.5);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

/* Spark's StatsdSink (metrics.properties: *.sink.statsd.class=
 * org.apache.spark.metrics.sink.StatsdSink, prefix=spark): one metric per
 * datagram, "<prefix>.<app_id>.<executor_id>.<source>.<metric>"; doubles as
 * %2.2f, gauges |g, counters |c, the statistics of histograms and timers as
 * |ms, and counts of meters and histograms as gauges. */
static const char *const spark_lines[] = {
    "spark.app-20231101120000-0001.driver.BlockManager.memory.memUsed_MB:12.00|g",
    "spark.app-20231101120000-0001.driver.BlockManager.memory.maxMem_MB:2004.00|g",
    "spark.app-20231101120000-0001.driver.DAGScheduler.stage.runningStages:1|g",
    "spark.app-20231101120000-0001.driver.HiveExternalCatalog.fileCacheHits:0|c",
    "spark.app-20231101120000-0001.driver.LiveListenerBus.numEventsPosted:214|c",
    "spark.app-20231101120000-0001.driver.DAGScheduler.messageProcessingTime.max:3.51|ms",
    "spark.app-20231101120000-0001.driver.DAGScheduler.messageProcessingTime.p99:3.51|ms",
    "spark.app-20231101120000-0001.driver.DAGScheduler.messageProcessingTime.count:42|g",
    "spark.app-20231101120000-0001.1.executor.bytesRead:1048576|c",
    "spark.app-20231101120000-0001.1.JVMCPU.jvmCpuTime:5230000000|g",
};

START_TEST(test_statsd_spark_sink_lines_with_templates)
{
    static const char *const templates[] = {
        "spark.*.driver.* measurement.app_id.executor_id.measurement*",
        "spark.*.* measurement.app_id.executor_id.measurement.field*",
    };
    struct pw_statsd_agg *a = agg_with(templates, 2, false, 1000);
    for (size_t i = 0; i < sizeof spark_lines / sizeof spark_lines[0]; i++)
        feed(a, spark_lines[i]);
    struct out o;
    write_out(a, &o);
    struct pw_statsd_counts n;
    pw_statsd_agg_counts(a, &n);
    ck_assert_uint_eq(n.malformed, 0);
    ck_assert_uint_eq(n.packets, 10);
    const char *app = "app_id=app-20231101120000-0001";
    ck_assert_double_eq(num(find(&o, "spark_BlockManager_memory_memUsed_MB", app,
                                 "executor_id=driver", NULL), "value"), 12);
    ck_assert_double_eq(num(find(&o, "spark_LiveListenerBus_numEventsPosted", app,
                                 "metric_type=counter", NULL), "value"), 214);
    ck_assert_double_eq(num(find(&o, "spark_DAGScheduler_messageProcessingTime_max",
                                 app, "metric_type=timing", NULL), "upper"), 3.51);
    ck_assert_double_eq(num(find(&o, "spark_executor", app, "executor_id=1", NULL),
                            "bytesRead"), 1048576);
    ck_assert_double_eq(num(find(&o, "spark_JVMCPU", "executor_id=1", NULL),
                            "jvmCpuTime"), 5230000000.0);
    out_free(&o);
    pw_statsd_agg_free(a);
}
END_TEST

START_TEST(test_statsd_template_rules)
{
    static const char *const templates[] = {
        "a.* measurement.host.host.field",     /* repeated tag joins */
        "a.b.* measurement..measurement",       /* more specific; empty part skips */
        "measurement.measurement*",            /* no filter: the last resort */
    };
    struct pw_statsd_agg *a = agg_with(templates, 3, false, 1000);
    feed(a, "a.web.01.load:1|g\na.b.c.d:2|g\nz.y.x:3|g\nsingle:4|g");
    struct out o;
    write_out(a, &o);
    ck_assert_double_eq(num(find(&o, "a", "host=web_01", NULL), "load"), 1);
    ck_assert_double_eq(num(find(&o, "a_c", NULL), "value"), 2);
    ck_assert_double_eq(num(find(&o, "z_y_x", NULL), "value"), 3);
    ck_assert_double_eq(num(find(&o, "single", NULL), "value"), 4);
    out_free(&o);
    pw_statsd_agg_free(a);

    static const char *const bad[][1] = {{"a.* measurement* x"}, {"x.measurement*.y"},
                                         {"a..b measurement"}, {"meas*urement"}};
    for (size_t i = 0; i < 4; i++) {
        struct pw_statsd_agg_config cf = {.templates = bad[i], .ntemplates = 1};
        struct pw_err err = {{0}};
        ck_assert_msg(pw_statsd_agg_new(&cf, &err) == NULL, "accepted %s", bad[i][0]);
        ck_assert(strstr(err.msg, "template") || strstr(err.msg, "filter"));
    }
}
END_TEST

/* ---- the collector over UDP -------------------------------------------- */

/* Sends one datagram to the collector's UDP port. */
static void send_udp(struct run *r, const char *data, size_t len)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)pw_statsd_port(&r->c))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    ck_assert(sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to) == (ssize_t)len);
    close(fd);
}

/* One tick: collects into r's writer, parses it into r's batch, and returns
 * a view of both for the helpers above (owned by r; finish frees them). */
static struct out tick(struct run *r, int expect_points)
{
    struct pw_err err;
    pw_lp_writer_reset(&r->w);
    ck_assert_msg(r->c.ops->collect(&r->c, 5, &r->w, &err) == 0, "%s", err.msg);
    pw_lp_batch_reset(r->batch);
    int n = pw_lp_parse(r->w.buf.data, r->w.buf.len, 0, r->batch, &err);
    if (expect_points >= 0)
        ck_assert_msg(n == expect_points, "%d points, want %d: %s", n, expect_points,
                      r->w.buf.data);
    return (struct out){r->w, r->batch};
}

START_TEST(test_statsd_collector_receives_udp_and_reports_itself)
{
    ck_assert_ptr_eq(pw_collector_find("statsd"), &pw_statsd_collector);
    struct run r;
    run_start(&r, &pw_statsd_collector,
              "{enabled: true, listen: '127.0.0.1:0', percentiles: [50, 99.9],"
              " templates: ['airflow.* measurement.measurement.field']}");
    ck_assert_uint_gt(pw_statsd_port(&r.c), 0);
    const char *packets[] = {"airflow.dag_processing.total_parse_time:1.23|g",
                             "x:1|c\nx:2|c\nbroken\nt:5|ms|#k:v", "x:3|c|@0.5"};
    for (int i = 0; i < 3; i++)
        send_udp(&r, packets[i], strlen(packets[i]));
    /* the receiver thread may need a moment */
    struct out o;
    for (int tries = 0; tries < 100; tries++) {
        nanosleep(&(struct timespec){0, 20000000}, NULL);
        o = tick(&r, -1);
        if (num(find(&o, "pipewatch_statsd", NULL), "packets") == 3)
            break;
    }
    const struct pw_lp_point *st = find(&o, "pipewatch_statsd", NULL);
    ck_assert_double_eq(num(st, "packets"), 3);
    ck_assert_double_eq(num(st, "lines"), 6);
    ck_assert_double_eq(num(st, "malformed"), 1);
    ck_assert_double_eq(num(st, "overflow"), 0);
    ck_assert_double_eq(num(st, "truncated"), 0);
    ck_assert(strstr(tag_of(st, "listen"), "127.0.0.1:") != NULL);
    /* everything arrived in one interval or was spread over the polls
     * above; the gauge is kept, so it is there in the last one */
    ck_assert_double_eq(field_of(&o, "airflow_dag_processing", "total_parse_time"), 1.23);
    finish(&r);
}
END_TEST

START_TEST(test_statsd_collector_sums_across_one_interval_over_udp)
{
    struct run r;
    run_start(&r, &pw_statsd_collector, "{listen: '127.0.0.1:0'}");
    for (int i = 0; i < 500; i++)
        send_udp(&r, "n:1|c\nv:1|s", 11);
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    struct out o = tick(&r, 3);
    ck_assert_double_eq(num(find(&o, "n", NULL), "value"), 500);
    ck_assert_double_eq(num(find(&o, "v", NULL), "value"), 1);
    ck_assert_double_eq(num(find(&o, "pipewatch_statsd", NULL), "packets"), 500);
    finish(&r);
}
END_TEST

START_TEST(test_statsd_collector_keeps_whole_lines_of_a_cut_datagram)
{
    struct run r;
    run_start(&r, &pw_statsd_collector, "{listen: '127.0.0.1:0', max_packet_size: 512}");
    char big[1000];
    size_t len = 0;
    for (int i = 0; len + 12 < sizeof big; i++)   /* "cut:1|c|#k:v" lines */
        len += (size_t)snprintf(big + len, sizeof big - len, "%scut:1|c|#k:v",
                                i ? "\n" : "");
    send_udp(&r, big, len);
    nanosleep(&(struct timespec){0, 200000000}, NULL);
    struct out o = tick(&r, 2);
    /* 512 bytes hold 39 whole lines of 13 bytes ("...|#k:v\n"), the 40th is
     * cut and left out rather than read as "cut:1|c|#k" */
    const struct pw_lp_point *st = find(&o, "pipewatch_statsd", NULL);
    ck_assert_double_eq(num(st, "truncated"), 1);
    ck_assert_double_eq(num(st, "malformed"), 0);
    ck_assert_double_eq(num(find(&o, "cut", "k=v", NULL), "value"), 512 / 13);
    finish(&r);
}
END_TEST

START_TEST(test_statsd_collector_reads_lines_over_tcp)
{
    struct run r;
    run_start(&r, &pw_statsd_collector,
              "{listen: '127.0.0.1:0', tcp_listen: '127.0.0.1:0', max_packet_size: 512}");
    ck_assert_uint_gt(pw_statsd_tcp_port(&r.c), 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)pw_statsd_tcp_port(&r.c))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    for (int conn = 0; conn < 2; conn++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert(connect(fd, (struct sockaddr *)&to, sizeof to) == 0);
        /* a line split over two writes, a line too long for the buffer, and
         * a last line without its newline */
        const char *parts[] = {"tcp.count:1|c\ntcp.t", "ime:5|ms\n"};
        for (int i = 0; i < 2; i++) {
            ck_assert(write(fd, parts[i], strlen(parts[i])) == (ssize_t)strlen(parts[i]));
            nanosleep(&(struct timespec){0, 20000000}, NULL);
        }
        char big[2000];
        memset(big, 'x', sizeof big);
        memcpy(big + sizeof big - 7, ":1|c\nok", 7);   /* no NUL */
        ck_assert(write(fd, big, sizeof big) == (ssize_t)sizeof big);
        ck_assert(write(fd, ":2|c", 4) == 4);
        close(fd);
    }
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    struct out o = tick(&r, 4);
    ck_assert_double_eq(num(find(&o, "tcp.count", NULL), "value"), 2);
    ck_assert_double_eq(num(find(&o, "tcp.time", NULL), "count"), 2);
    ck_assert_double_eq(num(find(&o, "ok", NULL), "value"), 4);
    const struct pw_lp_point *st = find(&o, "pipewatch_statsd", NULL);
    ck_assert_double_eq(num(st, "tcp_connections"), 2);
    ck_assert_double_eq(num(st, "truncated"), 2);
    ck_assert_double_eq(num(st, "malformed"), 0);
    ck_assert_double_eq(num(st, "lines"), 6);
    finish(&r);
}
END_TEST

START_TEST(test_statsd_collector_refuses_bad_settings)
{
    const struct pw_collector_ops *ops = &pw_statsd_collector;
    const char *bad[] = {"{listen: 'nonsense'}", "{listen: '127.0.0.1:0', tcp_listen: 'x'}",
                         "{listen: '127.0.0.1:0', percentiles: [0]}",
                         "{listen: '127.0.0.1:0', percentiles: [fifty]}",
                         "{listen: '127.0.0.1:0', templates: ['a.* measurement* b']}"};
    for (int i = 0; i < 5; i++) {
        struct pw_err err = {{0}};
        void *conf = calloc(1, ops->config_size);
        ck_assert(pw_config_load_string("t.yaml", bad[i], strlen(bad[i]), ops->options,
                                        conf, &err) == 0);
        struct pw_collector c = {.ops = ops, .config = conf};
        ck_assert_msg(ops->start(&c, &err) < 0, "started with %s", bad[i]);
        ck_assert_msg(strncmp(err.msg, "statsd:", 7) == 0, "%s", err.msg);
        ck_assert_ptr_null(c.state);
        pw_config_release(ops->options, conf);
        free(conf);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("statsd");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_statsd_parses_every_type);
    tcase_add_test(tc, test_statsd_parses_dogstatsd_tags_and_sections);
    tcase_add_test(tc, test_statsd_rejects_malformed_lines);
    tcase_add_test(tc, test_statsd_counters_scale_by_sample_rate_and_reset);
    tcase_add_test(tc, test_statsd_gauges_persist_and_take_deltas);
    tcase_add_test(tc, test_statsd_timing_statistics_are_exact);
    tcase_add_test(tc, test_statsd_timing_reservoir_keeps_exact_moments);
    tcase_add_test(tc, test_statsd_sets_count_distinct_members_per_interval);
    tcase_add_test(tc, test_statsd_tags_in_any_order_are_one_series);
    tcase_add_test(tc, test_statsd_malformed_lines_are_counted_and_skipped);
    tcase_add_test(tc, test_statsd_max_keys_bounds_an_interval);
    tcase_add_test(tc, test_statsd_airflow_lines_with_templates);
    tcase_add_test(tc, test_statsd_airflow_lines_without_templates_keep_their_names);
    tcase_add_test(tc, test_statsd_spark_sink_lines_with_templates);
    tcase_add_test(tc, test_statsd_template_rules);
    tcase_add_test(tc, test_statsd_collector_receives_udp_and_reports_itself);
    tcase_add_test(tc, test_statsd_collector_sums_across_one_interval_over_udp);
    tcase_add_test(tc, test_statsd_collector_keeps_whole_lines_of_a_cut_datagram);
    tcase_add_test(tc, test_statsd_collector_reads_lines_over_tcp);
    tcase_add_test(tc, test_statsd_collector_refuses_bad_settings);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
