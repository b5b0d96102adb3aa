/* tests/unit/test_prometheus.c — the prometheus collector against a real
 * HTTP server on loopback (libmicrohttpd, ephemeral port, a thread per
 * connection so that a hanging endpoint holds up no other): exporter text
 * into points, up/scrape_* per target, a refused port, a server that hangs,
 * HTTP errors, a body over the limit, bearer tokens, OpenMetrics, the
 * per-target interval, and configuration errors. */
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

#include <microhttpd.h>

#include "collectors/prometheus.h"
#include "common/clock.h"
#include "common/lineproto.h"

#include "tests/unit/testing.h"

/* ---- the server ---------------------------------------------------------- */

static const char NODE_TEXT[] =
    "# HELP node_load1 1m load average.\n"
    "# TYPE node_load1 gauge\n"
    "node_load1 0.21\n"
    "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n"
    "# TYPE node_network_receive_bytes_total counter\n"
    "node_network_receive_bytes_total{device=\"eth0\"} 1.234567e+09\n"
    "node_network_receive_bytes_total{device=\"lo\",job=\"scraped\"} 42\n"
    "# TYPE http_request_duration_seconds histogram\n"
    "http_request_duration_seconds_bucket{handler=\"/api\",le=\"0.1\"} 3\n"
    "http_request_duration_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 5\n"
    "http_request_duration_seconds_sum{handler=\"/api\"} 1.5\n"
    "http_request_duration_seconds_count{handler=\"/api\"} 5\n"
    "# TYPE go_gc_duration_seconds summary\n"
    "go_gc_duration_seconds{quantile=\"0.5\"} 0.000125\n"
    "go_gc_duration_seconds_sum 0.25\n"
    "go_gc_duration_seconds_count 2000\n"
    "weird_label{path=\"a \\\"b\\\" c\\\\d\"} 1\n"
    "nan_gauge NaN\n"
    "this line is broken\n";

static const char OM_TEXT[] =
    "# TYPE kafka_consumergroup_lag gauge\n"
    "kafka_consumergroup_lag{consumergroup=\"etl\",partition=\"0\"} 17 1700000000.5\n"
    "# TYPE airflow_dagrun counter\n"
    "airflow_dagrun_total{dag_id=\"daily\"} 3\n"
    "# EOF\n";

static char last_accept[256];
static char body_4k[4096 + 1];

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status,
                               const char *body, size_t len, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size,
        (void)con_cls;
    const char *text = "text/plain; version=0.0.4; charset=utf-8";
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
    if (strcmp(url, "/metrics") == 0) {
        snprintf(last_accept, sizeof last_accept, "%s", accept ? accept : "");
        return respond(conn, 200, NODE_TEXT, strlen(NODE_TEXT), text);
    }
    if (strcmp(url, "/om") == 0)
        return respond(conn, 200, OM_TEXT, strlen(OM_TEXT),
                       "application/openmetrics-text; version=1.0.0; charset=utf-8");
    if (strcmp(url, "/hang") == 0) {
        nanosleep(&(struct timespec){1, 500000000}, NULL);
        return respond(conn, 200, "late 1\n", 7, text);
    }
    if (strcmp(url, "/auth") == 0) {
        const char *auth =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (auth && strcmp(auth, "Bearer s3cret") == 0)
            return respond(conn, 200, "secret_metric 1\n", 16, text);
        return respond(conn, 401, "no\n", 3, text);
    }
    if (strcmp(url, "/big") == 0)
        return respond(conn, 200, body_4k, 4096, text);
    return respond(conn, 500, "boom\n", 5, text);
}

static struct MHD_Daemon *server;
static unsigned server_port;

static void server_up(void)
{
    memset(body_4k, '#', 4096);
    server = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                  MHD_USE_THREAD_PER_CONNECTION,
                              0, NULL, NULL, on_request, NULL,
                              MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&(struct sockaddr_in){
                                  .sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
                              MHD_OPTION_END);
    ck_assert_ptr_nonnull(server);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server, MHD_DAEMON_INFO_BIND_PORT);
    ck_assert_ptr_nonnull(info);
    server_port = info->port;
}

static void server_down(void)
{
    MHD_stop_daemon(server);
    server = NULL;
}

/* A loopback port nobody listens on. */
static unsigned refused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

/* ---- running the collector ------------------------------------------------ */

struct run {
    void *conf;
    struct pw_collector c;
    struct pw_lp_writer w;
    struct pw_lp_batch *batch;
    struct pw_err err;
    int rc;
};

static int load(struct run *r, const char *yaml)
{
    const struct pw_collector_ops *ops = &pw_prometheus_collector;
    memset(r, 0, sizeof *r);
    r->conf = calloc(1, ops->config_size);
    if (pw_config_load_string("t.yaml", yaml, strlen(yaml), ops->options, r->conf,
                              &r->err) < 0)
        return -1;
    r->c = (struct pw_collector){.ops = ops, .config = r->conf};
    return ops->start(&r->c, &r->err);
}

static void start(struct run *r, const char *yaml)
{
    ck_assert_msg(load(r, yaml) == 0, "%s", r->err.msg);
    pw_lp_writer_init(&r->w);
    r->batch = pw_lp_batch_new();
}

static void collect(struct run *r, int64_t ts)
{
    pw_lp_writer_reset(&r->w);
    r->rc = r->c.ops->collect(&r->c, ts, &r->w, &r->err);
    pw_lp_batch_reset(r->batch);
    struct pw_err perr;
    int n = pw_lp_parse(r->w.buf.data ? r->w.buf.data : "", r->w.buf.len, 0,
                        r->batch, &perr);
    ck_assert_msg(n >= 0, "output does not parse: %s\n%s", perr.msg, r->w.buf.data);
    ck_assert_uint_eq((size_t)n, r->w.points);
}

static void finish(struct run *r)
{
    if (r->c.state)
        r->c.ops->stop(&r->c);
    pw_config_release(r->c.ops ? r->c.ops->options : pw_prometheus_collector.options,
                      r->conf);
    free(r->conf);
    pw_lp_writer_release(&r->w);
    pw_lp_batch_free(r->batch);
}

static bool is(struct pw_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static const char *tag(const struct pw_lp_point *p, const char *k)
{
    static char v[256];
    for (size_t i = 0; i < p->ntags; i++)
        if (is(p->tags[i].key, k)) {
            snprintf(v, sizeof v, "%.*s", (int)p->tags[i].value.len, p->tags[i].value.ptr);
            return v;
        }
    return NULL;
}

static const struct pw_lp_field *field(const struct pw_lp_point *p, const char *k)
{
    for (size_t i = 0; i < p->nfields; i++)
        if (is(p->fields[i].key, k))
            return &p->fields[i];
    return NULL;
}

/* The n-th point (0-based) holding field `f` whose tag `tk` is `tv` (tk
 * NULL: any), or NULL. */
static const struct pw_lp_point *find(struct run *r, const char *f,
                                      const char *tk, const char *tv)
{
    for (size_t i = 0; i < pw_lp_batch_len(r->batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r->batch, i);
        if (!is(p->measurement, "prometheus") || !field(p, f))
            continue;
        const char *t = tk ? tag(p, tk) : NULL;
        if (!tk || (t && strcmp(t, tv) == 0))
            return p;
    }
    return NULL;
}

static double value(const struct pw_lp_point *p, const char *f)
{
    ck_assert_ptr_nonnull(p);
    const struct pw_lp_field *x = field(p, f);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->type, PW_FIELD_FLOAT);
    return x->v.f;
}

static char yaml[2048];

/* ---- tests ----------------------------------------------------------------- */

START_TEST(test_prometheus_scrapes_exporter_text_into_points)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", server_port);
    snprintf(yaml, sizeof yaml,
             "{interval: 10s, targets: [{url: '%s', labels: {job: node, env: test}}]}",
             url);
    struct run r;
    start(&r, yaml);
    const int64_t ts = 1700000000000000000LL;
    collect(&r, ts);
    /* One malformed line: reported, the rest kept. */
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "1 malformed lines skipped, first line 19") != NULL,
                  "%s", r.err.msg);
    ck_assert_str_eq(last_accept, "application/openmetrics-text;version=1.0.0,"
                                  "text/plain;version=0.0.4;q=0.5");

    const struct pw_lp_point *p = find(&r, "node_load1", NULL, NULL);
    ck_assert(value(p, "node_load1") == 0.21);
    ck_assert_str_eq(tag(p, "url"), url);
    ck_assert_str_eq(tag(p, "job"), "node");
    ck_assert_str_eq(tag(p, "env"), "test");
    ck_assert_uint_eq(p->ntags, 3);
    ck_assert_int_eq(p->ts_ns, ts);
    /* Tags are sorted by key. */
    for (size_t i = 1; i < p->ntags; i++)
        ck_assert(memcmp(p->tags[i - 1].key.ptr, p->tags[i].key.ptr, 1) <= 0);

    p = find(&r, "node_network_receive_bytes_total", "device", "eth0");
    ck_assert(value(p, "node_network_receive_bytes_total") == 1234567000.0);
    /* The target's label wins over a scraped one of the same name. */
    p = find(&r, "node_network_receive_bytes_total", "device", "lo");
    ck_assert_str_eq(tag(p, "job"), "node");

    p = find(&r, "http_request_duration_seconds_bucket", "le", "+Inf");
    ck_assert(value(p, "http_request_duration_seconds_bucket") == 5);
    ck_assert_str_eq(tag(p, "handler"), "/api");
    p = find(&r, "http_request_duration_seconds_bucket", "le", "0.1");
    ck_assert(value(p, "http_request_duration_seconds_bucket") == 3);
    ck_assert(value(find(&r, "http_request_duration_seconds_sum", NULL, NULL),
                    "http_request_duration_seconds_sum") == 1.5);
    p = find(&r, "http_request_duration_seconds_count", NULL, NULL);
    ck_assert(value(p, "http_request_duration_seconds_count") == 5);
    ck_assert_ptr_null(tag(p, "le"));

    p = find(&r, "go_gc_duration_seconds", "quantile", "0.5");
    ck_assert(value(p, "go_gc_duration_seconds") == 0.000125);
    ck_assert(value(find(&r, "go_gc_duration_seconds_count", NULL, NULL),
                    "go_gc_duration_seconds_count") == 2000);

    p = find(&r, "weird_label", NULL, NULL);
    ck_assert_str_eq(tag(p, "path"), "a \"b\" c\\d");
    /* NaN cannot travel in line protocol: dropped and counted. */
    ck_assert_ptr_null(find(&r, "nan_gauge", NULL, NULL));
    ck_assert_uint_eq(r.w.skipped_nonfinite, 1);

    p = find(&r, "up", NULL, NULL);
    ck_assert(value(p, "up") == 1);
    ck_assert_str_eq(tag(p, "url"), url);
    ck_assert_str_eq(tag(p, "job"), "node");
    ck_assert(value(p, "scrape_samples_scraped") == 12);
    ck_assert(value(p, "scrape_parse_errors") == 1);
    double d = value(p, "scrape_duration_seconds");
    ck_assert(d > 0 && d < 2);
    /* 11 sample points (the NaN one dropped) and the up point. */
    ck_assert_uint_eq(pw_lp_batch_len(r.batch), 12);
    finish(&r);
}
END_TEST

START_TEST(test_prometheus_refused_port_is_up_0_and_does_not_stop_others)
{
    unsigned dead = refused_port();
    snprintf(yaml, sizeof yaml,
             "{targets: [{url: 'http://127.0.0.1:%u/metrics'}, "
             "{url: 'http://127.0.0.1:%u/om'}]}", dead, server_port);
    struct run r;
    start(&r, yaml);
    collect(&r, 1000000000);
    ck_assert_int_eq(r.rc, -1);
    char want[96];
    snprintf(want, sizeof want, "1 of 2 targets failed: http://127.0.0.1:%u/metrics: ", dead);
    ck_assert_msg(strstr(r.err.msg, want) != NULL, "%s", r.err.msg);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", dead);
    const struct pw_lp_point *p = find(&r, "up", "url", url);
    ck_assert(value(p, "up") == 0);
    ck_assert(value(p, "scrape_samples_scraped") == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/om", server_port);
    ck_assert(value(find(&r, "up", "url", url), "up") == 1);
    ck_assert_ptr_nonnull(find(&r, "kafka_consumergroup_lag", NULL, NULL));
    finish(&r);
}
END_TEST

START_TEST(test_prometheus_hanging_server_times_out_concurrently)
{
    snprintf(yaml, sizeof yaml,
             "{targets: [{url: 'http://127.0.0.1:%u/hang', timeout: 300ms}, "
             "{url: 'http://127.0.0.1:%u/hang', timeout: 400ms}, "
             "{url: 'http://127.0.0.1:%u/om', timeout: 5s}]}",
             server_port, server_port, server_port);
    struct run r;
    start(&r, yaml);
    int64_t t0 = pw_mono_ms();
    collect(&r, 1000000000);
    int64_t took = pw_mono_ms() - t0;
    /* Concurrent: the tick lasts about the longest timeout, not the sum. */
    ck_assert_msg(took >= 390 && took < 1200, "collect took %lld ms", (long long)took);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "2 of 3 targets failed") != NULL, "%s", r.err.msg);
    ck_assert_msg(strstr(r.err.msg, "imed out") != NULL, "%s", r.err.msg);
    int down = 0;
    for (size_t i = 0; i < pw_lp_batch_len(r.batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r.batch, i);
        if (!field(p, "up"))
            continue;
        if (strstr(tag(p, "url"), "/hang")) {
            ck_assert(value(p, "up") == 0);
            double d = value(p, "scrape_duration_seconds");
            ck_assert_msg(d >= 0.29 && d < 1.0, "duration %f", d);
            down++;
        } else {
            ck_assert(value(p, "up") == 1);
        }
    }
    ck_assert_int_eq(down, 2);
    finish(&r);
}
END_TEST

START_TEST(test_prometheus_http_errors_body_limit_and_bearer_token)
{
    char tok[] = "/tmp/pw_prom_token_XXXXXX";
    int fd = mkstemp(tok);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "s3cret\n", 7), 7);
    close(fd);
    snprintf(yaml, sizeof yaml,
             "{max_body_size: 1KiB, targets: ["
             "{url: 'http://127.0.0.1:%u/auth', bearer_token_file: '%s'}, "
             "{url: 'http://127.0.0.1:%u/auth'}, "
             "{url: 'http://127.0.0.1:%u/nothing'}, "
             "{url: 'http://127.0.0.1:%u/big'}, "
             "{url: 'http://127.0.0.1:%u/auth', bearer_token_file: /nonexistent/token}]}",
             server_port, tok, server_port, server_port, server_port, server_port);
    struct run r;
    start(&r, yaml);
    collect(&r, 1000000000);
    unlink(tok);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "4 of 5 targets failed") != NULL, "%s", r.err.msg);
    ck_assert_msg(strstr(r.err.msg, "HTTP status 401") != NULL, "%s", r.err.msg);
    ck_assert_msg(strstr(r.err.msg, "HTTP status 500") != NULL, "%s", r.err.msg);
    ck_assert(value(find(&r, "secret_metric", NULL, NULL), "secret_metric") == 1);
    int ups = 0, downs = 0;
    for (size_t i = 0; i < pw_lp_batch_len(r.batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r.batch, i);
        if (field(p, "up"))
            value(p, "up") == 1 ? ups++ : downs++;
    }
    ck_assert_int_eq(ups, 1);
    ck_assert_int_eq(downs, 4);
    finish(&r);
}
END_TEST

START_TEST(test_prometheus_openmetrics_sample_timestamps_are_kept)
{
    snprintf(yaml, sizeof yaml, "{targets: {url: 'http://127.0.0.1:%u/om'}}", server_port);
    struct run r;
    start(&r, yaml);
    collect(&r, 5000000000LL);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    const struct pw_lp_point *p = find(&r, "kafka_consumergroup_lag", NULL, NULL);
    ck_assert_int_eq(p->ts_ns, 1700000000500000000LL);
    ck_assert_str_eq(tag(p, "consumergroup"), "etl");
    p = find(&r, "airflow_dagrun_total", NULL, NULL);
    ck_assert(value(p, "airflow_dagrun_total") == 3);
    ck_assert_int_eq(p->ts_ns, 5000000000LL);
    finish(&r);
}
END_TEST

START_TEST(test_prometheus_target_interval_skips_ticks)
{
    snprintf(yaml, sizeof yaml,
             "{interval: 1s, targets: [{url: 'http://127.0.0.1:%u/om', interval: 3s}, "
             "{url: 'http://127.0.0.1:%u/om?every'}]}", server_port, server_port);
    struct run r;
    start(&r, yaml);
    int slow = 0, every = 0;
    for (int i = 0; i < 7; i++) {
        collect(&r, (int64_t)(100 + i) * 1000000000LL);
        ck_assert_msg(r.rc == 0, "%s", r.err.msg);
        for (size_t k = 0; k < pw_lp_batch_len(r.batch); k++) {
            const struct pw_lp_point *p = pw_lp_batch_get(r.batch, k);
            if (field(p, "up"))
                strstr(tag(p, "url"), "every") ? every++ : slow++;
        }
    }
    ck_assert_int_eq(every, 7);
    ck_assert_int_eq(slow, 3);       /* ticks 100, 103, 106 */
    finish(&r);
}
END_TEST

START_TEST(test_prometheus_configuration_errors)
{
    struct run r;
    ck_assert_int_eq(load(&r, "{enabled: true}"), -1);
    ck_assert_msg(strstr(r.err.msg, "no targets") != NULL, "%s", r.err.msg);
    finish(&r);
    ck_assert_int_eq(load(&r, "{targets: [{url: 'ftp://x/metrics'}]}"), -1);
    ck_assert_msg(strstr(r.err.msg, "must start with http://") != NULL, "%s", r.err.msg);
    finish(&r);
    ck_assert_int_eq(load(&r, "targets:\n  - url: http://a/\n  - timeout: 1s\n"), -1);
    ck_assert_str_eq(r.err.msg, "t.yaml:3: targets[2].url: required key is missing");
    finish(&r);
    ck_assert_int_eq(load(&r, "targets:\n  - url: http://a/\n    timout: 1s\n"), -1);
    ck_assert_msg(strstr(r.err.msg, "t.yaml:3: targets[1].timout: unknown key") != NULL,
                  "%s", r.err.msg);
    finish(&r);
    ck_assert_int_eq(load(&r, "targets: [http://a/]\n"), -1);
    ck_assert_msg(strstr(r.err.msg, "targets[1]: expected a mapping") != NULL, "%s",
                  r.err.msg);
    finish(&r);
    ck_assert_int_eq(load(&r, "targets: [{url: 'http://a/', labels: {url: x}}]\n"), -1);
    ck_assert_msg(strstr(r.err.msg, "\"url\" is set by the collector") != NULL, "%s",
                  r.err.msg);
    finish(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("prometheus");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, server_up, server_down);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_prometheus_scrapes_exporter_text_into_points);
    tcase_add_test(tc, test_prometheus_refused_port_is_up_0_and_does_not_stop_others);
    tcase_add_test(tc, test_prometheus_hanging_server_times_out_concurrently);
    tcase_add_test(tc, test_prometheus_http_errors_body_limit_and_bearer_token);
    tcase_add_test(tc, test_prometheus_openmetrics_sample_timestamps_are_kept);
    tcase_add_test(tc, test_prometheus_target_interval_skips_ticks);
    tcase_add_test(tc, test_prometheus_configuration_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pw_run_suite(suite()); }
