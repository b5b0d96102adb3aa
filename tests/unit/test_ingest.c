/* tests/unit/test_ingest.c — analyzer/ingest: line protocol, collectd's
 * write_kafka JSON, Telegraf's JSON serializer and log records in, samples
 * and records out. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testing.h"
#include "analyzer/ingest.h"

/* ---- helpers ----------------------------------------------------------- */

#define MAXS 256

struct got {
    char entity[64], measurement[64], field[64], series[256];
    double value;
    int64_t ts_ns;
};

struct sink {
    struct got s[MAXS];
    size_t n;
};

static void copy_str(char *dst, size_t cap, struct pw_str s)
{
    ck_assert_uint_lt(s.len, cap);
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
}

static void collect(const struct pw_sample *s, void *arg)
{
    struct sink *k = arg;
    ck_assert_uint_lt(k->n, MAXS);
    struct got *g = &k->s[k->n++];
    copy_str(g->entity, sizeof g->entity, s->entity);
    copy_str(g->measurement, sizeof g->measurement, s->measurement);
    copy_str(g->field, sizeof g->field, s->field);
    copy_str(g->series, sizeof g->series, s->series);
    g->value = s->value;
    g->ts_ns = s->ts_ns;
}

static struct pw_ingest *new_in(enum pw_ingest_format f, const char *tag)
{
    struct pw_err err = {{0}};
    struct pw_ingest *in = pw_ingest_new(f, tag, &err);
    ck_assert_msg(in != NULL, "pw_ingest_new: %s", err.msg);
    return in;
}

#define DEFAULT_TS 1700000000123456789LL

/* Ingests `text` (no key unless key != NULL) and checks the sample count. */
static void ingest_ok(struct pw_ingest *in, const char *key, const char *text,
                      int want, struct sink *k)
{
    struct pw_err err = {{0}};
    memset(k, 0, sizeof *k);
    int n = pw_ingest_metrics(in, key, key ? strlen(key) : 0, text,
                              strlen(text), DEFAULT_TS, collect, k, &err);
    ck_assert_msg(n == want, "ingest of \"%s\" gave %d (want %d): %s", text, n,
                  want, err.msg);
    ck_assert_uint_eq(k->n, (size_t)want);
}

/* Ingests `text`, expects -1, nothing handed out, and `want` in the error. */
static void ingest_bad(struct pw_ingest *in, const char *text, const char *want)
{
    struct pw_err err = {{0}};
    struct sink k = {0};
    uint64_t malformed = pw_ingest_stats(in)->malformed;
    uint64_t samples = pw_ingest_stats(in)->samples;
    int n = pw_ingest_metrics(in, NULL, 0, text, strlen(text), DEFAULT_TS,
                              collect, &k, &err);
    ck_assert_msg(n == -1, "ingest of \"%s\" gave %d, want -1", text, n);
    ck_assert_uint_eq(k.n, 0);
    ck_assert_msg(strstr(err.msg, want) != NULL, "error \"%s\" lacks \"%s\"",
                  err.msg, want);
    ck_assert_uint_eq(pw_ingest_stats(in)->malformed, malformed + 1);
    ck_assert_uint_eq(pw_ingest_stats(in)->samples, samples);
}

static void check_sample(const struct got *g, const char *entity,
                         const char *measurement, const char *field,
                         const char *series, double value, int64_t ts)
{
    ck_assert_str_eq(g->entity, entity);
    ck_assert_str_eq(g->measurement, measurement);
    ck_assert_str_eq(g->field, field);
    ck_assert_str_eq(g->series, series);
    ck_assert_msg(g->value == value, "value %.17g, want %.17g", g->value, value);
    ck_assert_int_eq(g->ts_ns, ts);
}

/* ---- format names ------------------------------------------------------ */

START_TEST(test_format_parse)
{
    enum pw_ingest_format f = PW_INGEST_AUTO;
    ck_assert_int_eq(pw_ingest_format_parse("influx", &f), 0);
    ck_assert_int_eq(f, PW_INGEST_LINEPROTO);
    ck_assert_int_eq(pw_ingest_format_parse("collectd", &f), 0);
    ck_assert_int_eq(f, PW_INGEST_COLLECTD_JSON);
    ck_assert_int_eq(pw_ingest_format_parse("telegraf", &f), 0);
    ck_assert_int_eq(f, PW_INGEST_TELEGRAF_JSON);
    ck_assert_int_eq(pw_ingest_format_parse("auto", &f), 0);
    ck_assert_int_eq(f, PW_INGEST_AUTO);
    ck_assert_int_eq(pw_ingest_format_parse("json", &f), -1);
    ck_assert_int_eq(pw_ingest_format_parse("", &f), -1);
    ck_assert_int_eq(pw_ingest_format_parse(NULL, &f), -1);
}
END_TEST

/* ---- line protocol ----------------------------------------------------- */

/* From Telegraf's concepts/metrics documentation
 * (docs.influxdata.com/telegraf/v1/concepts/metrics/). */
START_TEST(test_lp_telegraf_docs_example)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    ingest_ok(in, NULL,
              "cpu,host=web01,cpu=cpu0 usage_idle=92.5,usage_user=4.2 "
              "1717000000000000000\n", 2, &k);
    /* Tags sorted by key in the series: cpu before host. */
    check_sample(&k.s[0], "web01", "cpu", "usage_idle",
                 "cpu,cpu=cpu0,host=web01 usage_idle", 92.5,
                 1717000000000000000LL);
    check_sample(&k.s[1], "web01", "cpu", "usage_user",
                 "cpu,cpu=cpu0,host=web01 usage_user", 4.2,
                 1717000000000000000LL);
    ck_assert_uint_eq(pw_ingest_stats(in)->messages, 1);
    ck_assert_uint_eq(pw_ingest_stats(in)->samples, 2);
    pw_ingest_free(in);
}
END_TEST

/* Several lines, as Telegraf's influx serializer batches them (the lines
 * follow Telegraf's cpu, mem and system input plugins' field names), with
 * a comment, a blank line, integer/unsigned fields and a missing
 * timestamp. */
START_TEST(test_lp_multi_line)
{
    struct pw_ingest *in = new_in(PW_INGEST_LINEPROTO, NULL);
    struct sink k;
    ingest_ok(in, NULL,
              "# written by telegraf\n"
              "mem,host=db1 used_percent=61.2,available=3325009920i 1700000000000000000\n"
              "\n"
              "system,host=db1 load1=0.42,n_cpus=8u\r\n"
              "cpu,cpu=cpu-total,host=db1 usage_system=1.5 1700000000000000001\n",
              5, &k);
    check_sample(&k.s[0], "db1", "mem", "used_percent",
                 "mem,host=db1 used_percent", 61.2, 1700000000000000000LL);
    check_sample(&k.s[1], "db1", "mem", "available", "mem,host=db1 available",
                 3325009920.0, 1700000000000000000LL);
    check_sample(&k.s[2], "db1", "system", "load1", "system,host=db1 load1",
                 0.42, DEFAULT_TS);
    check_sample(&k.s[3], "db1", "system", "n_cpus", "system,host=db1 n_cpus",
                 8.0, DEFAULT_TS);
    check_sample(&k.s[4], "db1", "cpu", "usage_system",
                 "cpu,cpu=cpu-total,host=db1 usage_system", 1.5,
                 1700000000000000001LL);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_lp_entity_key_tag_unknown)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    const char *msg = "disk,host=h1,dev=sda util=3 10\n";
    /* The message key wins over the tag. */
    ingest_ok(in, "node-7", msg, 1, &k);
    ck_assert_str_eq(k.s[0].entity, "node-7");
    /* No key (or an empty one): the host tag. */
    ingest_ok(in, NULL, msg, 1, &k);
    ck_assert_str_eq(k.s[0].entity, "h1");
    ingest_ok(in, "", msg, 1, &k);
    ck_assert_str_eq(k.s[0].entity, "h1");
    /* No key, no tag: "unknown". */
    ingest_ok(in, NULL, "disk,dev=sda util=3 10\n", 1, &k);
    ck_assert_str_eq(k.s[0].entity, "unknown");
    /* Each point of a message has its own entity. */
    ingest_ok(in, NULL, "a,host=x v=1 1\na,host=y v=2 2\na v=3 3\n", 3, &k);
    ck_assert_str_eq(k.s[0].entity, "x");
    ck_assert_str_eq(k.s[1].entity, "y");
    ck_assert_str_eq(k.s[2].entity, "unknown");
    pw_ingest_free(in);

    /* A configured entity tag; host is then an ordinary tag. */
    in = new_in(PW_INGEST_AUTO, "pipeline");
    ingest_ok(in, NULL, "lag,host=h1,pipeline=orders v=5 1\n", 1, &k);
    ck_assert_str_eq(k.s[0].entity, "orders");
    ingest_ok(in, NULL, "lag,host=h1 v=5 1\n", 1, &k);
    ck_assert_str_eq(k.s[0].entity, "unknown");
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_lp_series_sorting_and_escaping)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    /* Unsorted tags with escaped commas, spaces and equals signs; a
     * measurement with an escaped space; a field key with an '='. */
    ingest_ok(in, NULL,
              "my\\ disk,zone=eu\\ west,host=a\\,b,dev=x\\=y free\\=pct=1 1\n",
              1, &k);
    ck_assert_str_eq(k.s[0].measurement, "my disk");
    ck_assert_str_eq(k.s[0].field, "free=pct");
    ck_assert_str_eq(k.s[0].entity, "a,b");
    ck_assert_str_eq(k.s[0].series,
                     "my\\ disk,dev=x\\=y,host=a\\,b,zone=eu\\ west free\\=pct");
    /* The same series written with the tags in another order meets it. */
    struct sink k2;
    ingest_ok(in, NULL,
              "my\\ disk,host=a\\,b,dev=x\\=y,zone=eu\\ west free\\=pct=2 2\n",
              1, &k2);
    ck_assert_str_eq(k2.s[0].series, k.s[0].series);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_lp_bools_and_strings)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    /* Telegraf's procstat and systemd_units style: a string state next
     * to numbers and booleans. */
    ingest_ok(in, NULL,
              "svc,host=h up=true,state=\"running\",down=F,pid=4242i 5\n", 3,
              &k);
    ck_assert_str_eq(k.s[0].field, "up");
    ck_assert(k.s[0].value == 1.0);
    ck_assert_str_eq(k.s[1].field, "down");
    ck_assert(k.s[1].value == 0.0);
    ck_assert_str_eq(k.s[2].field, "pid");
    ck_assert(k.s[2].value == 4242.0);
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_strings, 1);
    /* A point of strings only gives no sample and is not an error. */
    ingest_ok(in, NULL, "log,host=h msg=\"hello\" 5\n", 0, &k);
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_strings, 2);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_lp_malformed)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    /* A good first line, a bad second: nothing comes out. */
    ingest_bad(in, "cpu,host=h v=1 1\ncpu,host=h v=nope 2\n", "line 2, column");
    ingest_bad(in, "cpu,host=h\n", "line 1");
    ingest_bad(in, "cpu v=1 12x\n", "line 1");
    ck_assert_uint_eq(pw_ingest_stats(in)->samples, 0);
    ck_assert_uint_eq(pw_ingest_stats(in)->messages, 3);
    /* The ingest goes on after a bad message. */
    struct sink k;
    ingest_ok(in, NULL, "cpu,host=h v=1 1\n", 1, &k);
    /* An empty message has no sample and is not malformed. */
    ingest_ok(in, NULL, "", 0, &k);
    ingest_ok(in, NULL, "\n\n", 0, &k);
    ck_assert_uint_eq(pw_ingest_stats(in)->malformed, 3);
    pw_ingest_free(in);
}
END_TEST

/* A long measurement and tags repeated over a thousand fields would make
 * some thirty megabytes of series keys out of one 37 kB line: refused. */
START_TEST(test_lp_series_amplification_refused)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, "m,host=h,t=");
    for (int i = 0; i < 30000; i++)
        pw_buf_putc(&b, 'x');
    for (int i = 0; i < 1000; i++)
        pw_buf_printf(&b, "%cf%d=1", i ? ',' : ' ', i);
    pw_buf_puts(&b, " 1\n");
    ck_assert(!b.oom);
    ingest_bad(in, b.data, "series keys of this message");
    /* A shorter prefix over the same fields is fine. */
    pw_buf_reset(&b);
    pw_buf_puts(&b, "m,host=h");
    for (int i = 0; i < 1000; i++)
        pw_buf_printf(&b, "%cf%d=1", i ? ',' : ' ', i);
    pw_buf_puts(&b, " 1\n");
    struct pw_err err = {{0}};
    int n = pw_ingest_metrics(in, NULL, 0, b.data, b.len, 0, NULL, NULL, &err);
    ck_assert_msg(n == 1000, "%d: %s", n, err.msg);
    pw_buf_release(&b);
    pw_ingest_free(in);
}
END_TEST

/* ---- collectd ---------------------------------------------------------- */

/* The example of collectd's wiki page "JSON"
 * (https://collectd.org/wiki/index.php/JSON), as write_http and
 * write_kafka send it: a counter. */
static const char collectd_wiki[] =
    "[\n"
    "   {\n"
    "     \"values\":  [1901474177],\n"
    "     \"dstypes\":  [\"counter\"],\n"
    "     \"dsnames\":    [\"value\"],\n"
    "     \"time\":      1280959128,\n"
    "     \"interval\":          10,\n"
    "     \"host\":            \"leeloo.octo.it\",\n"
    "     \"plugin\":          \"cpu\",\n"
    "     \"plugin_instance\": \"0\",\n"
    "     \"type\":            \"cpu\",\n"
    "     \"type_instance\":   \"idle\"\n"
    "   }\n"
    " ]";

START_TEST(test_collectd_wiki_example)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    ingest_ok(in, NULL, collectd_wiki, 1, &k);
    check_sample(&k.s[0], "leeloo.octo.it", "cpu", "cpu",
                 "cpu,host=leeloo.octo.it,plugin_instance=0,type_instance=idle cpu",
                 1901474177.0, 1280959128000000000LL);
    pw_ingest_free(in);
}
END_TEST

/* As collectd 5's format_json.c (src/utils/format_json/format_json.c,
 * value_list_to_json) writes value lists: "time" and "interval" with %.3f,
 * gauges with %.15g (non-finite ones as null), derives as integers, empty
 * instances as "". The interface lines are the shape of a real write_log
 * capture (if_errors of collectd 5.7 on "photon2"). */
static const char collectd_batch[] =
    "[{\"values\":[2449,1861],\"dstypes\":[\"derive\",\"derive\"],"
    "\"dsnames\":[\"rx\",\"tx\"],\"time\":1530138718.239,\"interval\":10.000,"
    "\"host\":\"mwp-signalbox1\",\"plugin\":\"interface\","
    "\"plugin_instance\":\"eth0\",\"type\":\"if_packets\",\"type_instance\":\"\"},"
    "{\"values\":[0.381944927576563],\"dstypes\":[\"gauge\"],"
    "\"dsnames\":[\"value\"],\"time\":1630108891.967,\"interval\":90.000,"
    "\"host\":\"s-kvm2\",\"plugin\":\"cpu\",\"plugin_instance\":\"\","
    "\"type\":\"percent\",\"type_instance\":\"wait\"},"
    "{\"values\":[0.05,null,0.01],\"dstypes\":[\"gauge\",\"gauge\",\"gauge\"],"
    "\"dsnames\":[\"shortterm\",\"midterm\",\"longterm\"],\"time\":1630108891.000,"
    "\"interval\":10.000,\"host\":\"s-kvm2\",\"plugin\":\"load\","
    "\"plugin_instance\":\"\",\"type\":\"load\",\"type_instance\":\"\"}]";

START_TEST(test_collectd_value_lists)
{
    struct pw_ingest *in = new_in(PW_INGEST_COLLECTD_JSON, NULL);
    struct sink k;
    ingest_ok(in, NULL, collectd_batch, 5, &k);
    /* Several data sources: field = type_dsname. Float seconds to ns. */
    check_sample(&k.s[0], "mwp-signalbox1", "interface", "if_packets_rx",
                 "interface,host=mwp-signalbox1,plugin_instance=eth0 if_packets_rx",
                 2449.0, 1530138718239000000LL);
    check_sample(&k.s[1], "mwp-signalbox1", "interface", "if_packets_tx",
                 "interface,host=mwp-signalbox1,plugin_instance=eth0 if_packets_tx",
                 1861.0, 1530138718239000000LL);
    /* Empty plugin_instance left out; a gauge is a float. */
    check_sample(&k.s[2], "s-kvm2", "cpu", "percent",
                 "cpu,host=s-kvm2,type_instance=wait percent",
                 0.381944927576563, 1630108891967000000LL);
    /* null (a NaN gauge) dropped and counted; the others kept. */
    check_sample(&k.s[3], "s-kvm2", "load", "load_shortterm",
                 "load,host=s-kvm2 load_shortterm", 0.05,
                 1630108891000000000LL);
    check_sample(&k.s[4], "s-kvm2", "load", "load_longterm",
                 "load,host=s-kvm2 load_longterm", 0.01,
                 1630108891000000000LL);
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_nonfinite, 1);
    /* The key wins over host. */
    ingest_ok(in, "rack4", collectd_batch, 5, &k);
    ck_assert_str_eq(k.s[0].entity, "rack4");
    ck_assert_str_eq(k.s[4].entity, "rack4");
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_collectd_big_counter_and_rates)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    /* A counter near its 64-bit wrap: above INT64_MAX, still a sample. */
    ingest_ok(in, NULL,
              "[{\"values\":[18446744073709551000],\"dstypes\":[\"counter\"],"
              "\"dsnames\":[\"value\"],\"time\":1700000000.500,\"interval\":10.000,"
              "\"host\":\"h\",\"plugin\":\"net\",\"plugin_instance\":\"\","
              "\"type\":\"bytes\",\"type_instance\":\"\"}]", 1, &k);
    ck_assert(k.s[0].value == 18446744073709551000.0);
    ck_assert_int_eq(k.s[0].ts_ns, 1700000000500000000LL);
    /* StoreRates true: a derive written as a (negative) rate. */
    ingest_ok(in, NULL,
              "[{\"values\":[-12.5],\"dstypes\":[\"derive\"],"
              "\"dsnames\":[\"value\"],\"time\":1700000000.000,\"interval\":10.000,"
              "\"host\":\"h\",\"plugin\":\"x\",\"plugin_instance\":\"\","
              "\"type\":\"derive\",\"type_instance\":\"d\"}]", 1, &k);
    ck_assert(k.s[0].value == -12.5);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_collectd_malformed)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    /* A good item then a bad dstype: nothing is handed out. */
    ingest_bad(in,
               "[{\"values\":[1],\"dstypes\":[\"gauge\"],\"dsnames\":[\"value\"],"
               "\"time\":1,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"},"
               "{\"values\":[1],\"dstypes\":[\"gaug\"],\"dsnames\":[\"value\"],"
               "\"time\":1,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"}]",
               "collectd JSON: item 2: dstypes[0]");
    ingest_bad(in,
               "[{\"values\":[1,2],\"dstypes\":[\"gauge\"],\"dsnames\":[\"value\"],"
               "\"time\":1,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"}]",
               "collectd JSON: item 1: \"values\", \"dstypes\" and \"dsnames\" "
               "must be as long");
    ingest_bad(in,
               "[{\"values\":[\"1\"],\"dstypes\":[\"gauge\"],\"dsnames\":[\"value\"],"
               "\"time\":1,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"}]",
               "item 1: values[0] is not a number");
    ingest_bad(in,
               "[{\"values\":[-1],\"dstypes\":[\"counter\"],\"dsnames\":[\"value\"],"
               "\"time\":1,\"host\":\"h\",\"plugin\":\"p\",\"type\":\"t\"}]",
               "cannot be negative");
    ingest_bad(in,
               "[{\"values\":[1],\"dstypes\":[\"gauge\"],\"dsnames\":[\"value\"],"
               "\"time\":1,\"host\":\"h\",\"plugin\":\"\",\"type\":\"t\"}]",
               "\"plugin\" and \"type\" must be non-empty");
    ingest_bad(in,
               "[{\"values\":[1],\"dstypes\":[\"gauge\"],\"dsnames\":[\"value\"],"
               "\"time\":1e300,\"plugin\":\"p\",\"type\":\"t\"}]",
               "\"time\" is not seconds");
    ingest_bad(in, "[{\"values\":[1],", "collectd JSON: line 1, column");
    ingest_bad(in, "[1]", "collectd JSON: item 1: not an object");
    /* Forced format: a Telegraf metric is not a collectd message. */
    struct pw_ingest *c = new_in(PW_INGEST_COLLECTD_JSON, NULL);
    ingest_bad(c, "{\"name\":\"m\",\"fields\":{\"v\":1}}",
               "collectd JSON: not an array");
    pw_ingest_free(c);
    pw_ingest_free(in);
}
END_TEST

/* ---- Telegraf ---------------------------------------------------------- */

/* The "Standard format" example of Telegraf's JSON serializer README
 * (plugins/serializers/json/README.md). */
static const char telegraf_readme[] =
    "{\n"
    "    \"fields\": {\n"
    "        \"field_1\": 30,\n"
    "        \"field_2\": 4,\n"
    "        \"field_N\": 59,\n"
    "        \"n_images\": 660\n"
    "    },\n"
    "    \"name\": \"docker\",\n"
    "    \"tags\": {\n"
    "        \"host\": \"raynor\"\n"
    "    },\n"
    "    \"timestamp\": 1458229140\n"
    "}\n";

START_TEST(test_telegraf_readme_example)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    ingest_ok(in, NULL, telegraf_readme, 4, &k);
    check_sample(&k.s[0], "raynor", "docker", "field_1",
                 "docker,host=raynor field_1", 30, 1458229140000000000LL);
    check_sample(&k.s[3], "raynor", "docker", "n_images",
                 "docker,host=raynor n_images", 660, 1458229140000000000LL);
    pw_ingest_free(in);
}
END_TEST

/* The README's "Batch format", with a second metric in the shape of
 * Telegraf's cpu input (unsorted tags, a bool, a string, no timestamp). */
START_TEST(test_telegraf_batch)
{
    struct pw_ingest *in = new_in(PW_INGEST_TELEGRAF_JSON, NULL);
    struct sink k;
    ingest_ok(in, NULL,
              "{\"metrics\":[{\"fields\":{\"field_1\":30,\"field_2\":4,"
              "\"field_N\":59,\"n_images\":660},\"name\":\"docker\","
              "\"tags\":{\"host\":\"raynor\"},\"timestamp\":1458229140},"
              "{\"fields\":{\"usage_idle\":92.5,\"online\":true,\"mode\":\"x\"},"
              "\"name\":\"cpu\",\"tags\":{\"host\":\"web01\",\"cpu\":\"cpu0\"}}]}",
              6, &k);
    ck_assert_str_eq(k.s[3].series, "docker,host=raynor n_images");
    check_sample(&k.s[4], "web01", "cpu", "usage_idle",
                 "cpu,cpu=cpu0,host=web01 usage_idle", 92.5, DEFAULT_TS);
    check_sample(&k.s[5], "web01", "cpu", "online",
                 "cpu,cpu=cpu0,host=web01 online", 1.0, DEFAULT_TS);
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_strings, 1);
    /* The format is fixed: line protocol is refused. */
    ingest_bad(in, "cpu,host=web01,cpu=cpu0 usage_idle=1\n",
               "Telegraf JSON: line 1");
    pw_ingest_free(in);
    /* The same series in line protocol meets the JSON one. */
    struct sink k2;
    in = new_in(PW_INGEST_AUTO, NULL);
    ingest_ok(in, NULL, "cpu,host=web01,cpu=cpu0 usage_idle=1\n", 1, &k2);
    ck_assert_str_eq(k2.s[0].series, k.s[4].series);
    /* An empty batch is not an error. */
    ingest_ok(in, NULL, "{\"metrics\":[]}", 0, &k);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_telegraf_timestamp_units)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    static const struct {
        const char *ts;
        int64_t want;
    } cases[] = {
        {"1458229140", 1458229140000000000LL},             /* 1s */
        {"1458229140123", 1458229140123000000LL},          /* 1ms */
        {"1458229140123456", 1458229140123456000LL},       /* 1us */
        {"1458229140123456789", 1458229140123456789LL},    /* 1ns */
        {"1458229140.25", 1458229140250000000LL},          /* fractional s */
        {"-5", -5000000000LL},                              /* before 1970 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "{\"name\":\"m\",\"fields\":{\"v\":1},\"timestamp\":%s}",
                 cases[i].ts);
        ingest_ok(in, NULL, msg, 1, &k);
        ck_assert_msg(k.s[0].ts_ns == cases[i].want, "%s gave %" PRId64,
                      cases[i].ts, k.s[0].ts_ns);
    }
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_telegraf_nonfinite_and_escaping)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink k;
    /* null is what a JSON writer makes of NaN: dropped and counted. */
    ingest_ok(in, NULL,
              "{\"name\":\"net stats\",\"tags\":{\"if\":\"eth0,1\",\"host\":\"h=1\","
              "\"empty\":\"\"},\"fields\":{\"a\":null,\"b b\":2}}", 1, &k);
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_nonfinite, 1);
    /* Escaped as line protocol escapes; the empty tag left out. */
    check_sample(&k.s[0], "h=1", "net stats", "b b",
                 "net\\ stats,host=h\\=1,if=eth0\\,1 b\\ b", 2, DEFAULT_TS);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_telegraf_malformed)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    ingest_bad(in,
               "{\"metrics\":[{\"name\":\"a\",\"fields\":{\"v\":1}},"
               "{\"name\":\"b\",\"fields\":{\"v\":[1]}}]}",
               "Telegraf JSON: metric 2: field \"v\" is not a number");
    ingest_bad(in, "{\"fields\":{\"v\":1}}",
               "Telegraf JSON: \"name\" must be a non-empty string");
    ingest_bad(in, "{\"name\":\"m\",\"tags\":{\"h\":1},\"fields\":{\"v\":1}}",
               "tag \"h\" is not a string");
    ingest_bad(in, "{\"name\":\"m\",\"fields\":{\"v\":1},"
                   "\"timestamp\":\"2016-03-17T15:39:00Z\"}",
               "\"timestamp\" is not a number");
    ingest_bad(in, "{\"name\":\"m\",\"fields\":{\"v\":1},\"timestamp\":1e30}",
               "\"timestamp\"");
    ingest_bad(in, "{\"name\":\"m\",\"fields\":{\"v\":1,\"v\":2}}",
               "Telegraf JSON: line 1");
    ingest_bad(in, "{\"name\":\"m\",\"fields\":{\"v\":1}} trailing",
               "Telegraf JSON: line 1");
    ingest_bad(in, "{\"metrics\":{}}", "\"metrics\" is not an array");
    /* A refused message's string and null fields are not counted. */
    ingest_bad(in, "{\"name\":\"m\",\"fields\":{\"s\":\"x\",\"n\":null,\"v\":{}}}",
               "field \"v\"");
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_strings, 0);
    ck_assert_uint_eq(pw_ingest_stats(in)->skipped_nonfinite, 0);
    pw_ingest_free(in);
}
END_TEST

/* ---- logs -------------------------------------------------------------- */

/* Copies of the records a log message handed out. */
struct log_sink {
    size_t n;
    struct {
        char entity[64], source[64], line[256];
        int64_t ts_ns;
    } r[8];
};

static void copy_log_str(char *dst, size_t cap, struct pw_str s)
{
    ck_assert_uint_lt(s.len, cap);
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
}

static void on_log(const struct pw_log_record *rec, void *arg)
{
    struct log_sink *k = arg;
    ck_assert_uint_lt(k->n, 8);
    copy_log_str(k->r[k->n].entity, 64, rec->entity);
    copy_log_str(k->r[k->n].source, 64, rec->source);
    copy_log_str(k->r[k->n].line, 256, rec->line);
    k->r[k->n].ts_ns = rec->ts_ns;
    k->n++;
}

static void logs_ok(struct pw_ingest *in, const char *key, const char *text,
                    size_t want, struct log_sink *k)
{
    struct pw_err err = {{0}};
    memset(k, 0, sizeof *k);
    int rc = pw_ingest_log(in, key, key ? strlen(key) : 0, text, strlen(text),
                           DEFAULT_TS, on_log, k, &err);
    ck_assert_msg(rc == (int)want, "log \"%s\": %d records (want %zu): %s",
                  text, rc, want, err.msg);
    ck_assert_uint_eq(k->n, want);
}

START_TEST(test_log_records)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct log_sink k;
    /* ts in seconds (fractional), entity and source in the record. */
    logs_ok(in, NULL,
            "{\"ts\":1700000000.5,\"entity\":\"node-3\",\"source\":\"kernel\","
            "\"line\":\"EXT4-fs error (device sda1): ext4_find_entry\"}", 1, &k);
    ck_assert_str_eq(k.r[0].entity, "node-3");
    ck_assert_str_eq(k.r[0].source, "kernel");
    ck_assert_str_eq(k.r[0].line, "EXT4-fs error (device sda1): ext4_find_entry");
    ck_assert_int_eq(k.r[0].ts_ns, 1700000000500000000LL);
    /* ts in nanoseconds; the key wins over the record's entity. */
    logs_ok(in, "node-9",
            "{\"ts\":1700000000123456789,\"entity\":\"node-3\",\"line\":\"x\"}",
            1, &k);
    ck_assert_str_eq(k.r[0].entity, "node-9");
    ck_assert_str_eq(k.r[0].source, "");
    ck_assert_int_eq(k.r[0].ts_ns, 1700000000123456789LL);
    /* No ts, no entity, no key: the default time and "unknown". */
    logs_ok(in, NULL, "{\"line\":\"y\"}", 1, &k);
    ck_assert_str_eq(k.r[0].entity, "unknown");
    ck_assert_int_eq(k.r[0].ts_ns, DEFAULT_TS);
    /* One object pretty-printed over several lines is still one record. */
    logs_ok(in, NULL, "{\n  \"line\": \"z\",\n  \"ts\": 2\n}\n", 1, &k);
    ck_assert_str_eq(k.r[0].line, "z");
    ck_assert_int_eq(k.r[0].ts_ns, 2000000000LL);
    pw_ingest_free(in);
}
END_TEST

/* The agent's log collector batches records, one JSON object per line. */
START_TEST(test_log_several_records)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct log_sink k;
    logs_ok(in, "web-1",
            "{\"ts\":1700000000,\"entity\":\"web-1\",\"source\":\"/var/log/a.log\","
            "\"line\":\"first\"}\n"
            "{\"ts\":1700000001,\"entity\":\"web-1\",\"source\":\"/var/log/a.log\","
            "\"line\":\"java.lang.IllegalStateException: boom\\n\\tat A.b(A.java:1)\"}\n"
            "\r\n"
            "  {\"ts\":1700000002,\"source\":\"/var/log/b.log\",\"line\":\"third\"}\r\n",
            3, &k);
    ck_assert_str_eq(k.r[0].line, "first");
    ck_assert_str_eq(k.r[0].source, "/var/log/a.log");
    ck_assert_str_eq(k.r[1].line,
                     "java.lang.IllegalStateException: boom\n\tat A.b(A.java:1)");
    ck_assert_int_eq(k.r[1].ts_ns, 1700000001000000000LL);
    ck_assert_str_eq(k.r[2].line, "third");
    ck_assert_str_eq(k.r[2].source, "/var/log/b.log");
    ck_assert_str_eq(k.r[2].entity, "web-1");   /* the key */
    /* Without a key each record names its own entity. */
    logs_ok(in, NULL, "{\"entity\":\"a\",\"line\":\"1\"}\n{\"line\":\"2\"}", 2, &k);
    ck_assert_str_eq(k.r[0].entity, "a");
    ck_assert_str_eq(k.r[1].entity, "unknown");
    ck_assert_uint_eq(pw_ingest_stats(in)->log_records, 5);

    /* Whole or nothing: one bad record refuses the message, none handed out. */
    struct pw_err err = {{0}};
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"{\"line\":\"a\"}\n{\"line\":\"b\"}\n{\"ts\":1}\n", "log record 3: no \"line\""},
        {"{\"line\":\"a\"}\n{\"line\":\"b\"\n", "log record 2: "},
        {"{\"line\":\"a\"}\nplain text\n", "log record 2: "},
        {"{\"line\":\"a\"}\n[1]\n", "log record 2: not a JSON object"},
        {"{\"line\":\"a\"}\n{\"line\":\"b\",\"ts\":\"x\"}", "log record 2: \"ts\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&k, 0, sizeof k);
        int rc = pw_ingest_log(in, NULL, 0, bad[i].text, strlen(bad[i].text),
                               DEFAULT_TS, on_log, &k, &err);
        ck_assert_int_eq(rc, -1);
        ck_assert_uint_eq(k.n, 0);
        ck_assert_msg(strstr(err.msg, bad[i].want), "\"%s\": error \"%s\"",
                      bad[i].text, err.msg);
    }
    ck_assert_uint_eq(pw_ingest_stats(in)->log_records, 5);
    ck_assert_uint_eq(pw_ingest_stats(in)->malformed, 5);
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_log_raw_lines)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct log_sink k;
    /* A BGL line from LogHub, as a plain producer sends it. */
    logs_ok(in, "R02-M1-N0",
            "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 "
            "2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL "
            "INFO instruction cache parity error corrected\n", 1, &k);
    ck_assert_str_eq(k.r[0].entity, "R02-M1-N0");
    ck_assert_str_eq(k.r[0].line, "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 "
                     "2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL "
                     "INFO instruction cache parity error corrected");
    ck_assert_int_eq(k.r[0].ts_ns, DEFAULT_TS);
    /* Without a key: "unknown". A line that only looks like JSON, and
     * JSON that is not an object, are raw lines. */
    logs_ok(in, NULL, "{oops} daemon restarted\r\n", 1, &k);
    ck_assert_str_eq(k.r[0].entity, "unknown");
    ck_assert_str_eq(k.r[0].line, "{oops} daemon restarted");
    logs_ok(in, NULL, "42", 1, &k);
    ck_assert_str_eq(k.r[0].line, "42");
    /* Several plain lines stay one raw record, as before. */
    logs_ok(in, NULL, "{oops}\nsecond\n", 1, &k);
    ck_assert_str_eq(k.r[0].line, "{oops}\nsecond");
    pw_ingest_free(in);
}
END_TEST

START_TEST(test_log_malformed)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct log_sink k = {0};
    struct pw_err err = {{0}};
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"{\"ts\":1,\"entity\":\"e\"}", "no \"line\""},
        {"{\"line\":7}", "\"line\" is not a string"},
        {"{\"line\":\"x\",\"ts\":\"yesterday\"}", "\"ts\""},
        {"{\"line\":\"x\",\"ts\":1e300}", "\"ts\""},
        {"{\"line\":\"x\",\"entity\":[]}", "\"entity\" is not a string"},
        {"\n", "empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = pw_ingest_log(in, NULL, 0, cases[i].text,
                               strlen(cases[i].text), DEFAULT_TS, on_log, &k, &err);
        ck_assert_int_eq(rc, -1);
        ck_assert_msg(strstr(err.msg, cases[i].want), "\"%s\": error \"%s\"",
                      cases[i].text, err.msg);
    }
    ck_assert_uint_eq(k.n, 0);
    ck_assert_uint_eq(pw_ingest_stats(in)->malformed, 6);
    pw_ingest_free(in);
}
END_TEST

/* ---- reuse ------------------------------------------------------------- */

/* The same ingest over many messages of every format, mixed with bad
 * ones, gives the same samples each time (no state leaks between
 * messages). */
START_TEST(test_reuse_across_formats)
{
    struct pw_ingest *in = new_in(PW_INGEST_AUTO, NULL);
    struct sink first, again;
    ingest_ok(in, NULL, collectd_batch, 5, &first);
    for (int i = 0; i < 50; i++) {
        ingest_ok(in, NULL, telegraf_readme, 4, &again);
        ingest_bad(in, "cpu v=", "line 1");
        ingest_ok(in, NULL, "cpu,host=a v=1 1\ncpu,host=b v=2 2\n", 2, &again);
        ingest_ok(in, NULL, collectd_batch, 5, &again);
        for (size_t j = 0; j < 5; j++) {
            ck_assert_str_eq(again.s[j].series, first.s[j].series);
            ck_assert_str_eq(again.s[j].field, first.s[j].field);
        }
    }
    ck_assert_uint_eq(pw_ingest_stats(in)->messages, 201);
    ck_assert_uint_eq(pw_ingest_stats(in)->malformed, 50);
    ck_assert_uint_eq(pw_ingest_stats(in)->samples, 5 + 50 * (4 + 2 + 5));
    pw_ingest_free(in);
    pw_ingest_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_parse);
    tcase_add_test(tc, test_lp_telegraf_docs_example);
    tcase_add_test(tc, test_lp_multi_line);
    tcase_add_test(tc, test_lp_entity_key_tag_unknown);
    tcase_add_test(tc, test_lp_series_sorting_and_escaping);
    tcase_add_test(tc, test_lp_bools_and_strings);
    tcase_add_test(tc, test_lp_malformed);
    tcase_add_test(tc, test_lp_series_amplification_refused);
    tcase_add_test(tc, test_collectd_wiki_example);
    tcase_add_test(tc, test_collectd_value_lists);
    tcase_add_test(tc, test_collectd_big_counter_and_rates);
    tcase_add_test(tc, test_collectd_malformed);
    tcase_add_test(tc, test_telegraf_readme_example);
    tcase_add_test(tc, test_telegraf_batch);
    tcase_add_test(tc, test_telegraf_timestamp_units);
    tcase_add_test(tc, test_telegraf_nonfinite_and_escaping);
    tcase_add_test(tc, test_telegraf_malformed);
    tcase_add_test(tc, test_log_records);
    tcase_add_test(tc, test_log_several_records);
    tcase_add_test(tc, test_log_raw_lines);
    tcase_add_test(tc, test_log_malformed);
    tcase_add_test(tc, test_reuse_across_formats);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(suite());
}
