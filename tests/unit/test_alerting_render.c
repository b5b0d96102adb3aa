/* tests/unit/test_alerting_render.c — the payload renderers (webhook v4,
 * Slack Block Kit, log lines), their helpers (ETA in words, RFC 3339), the
 * receiver configuration's checks and errors, and the retry arithmetic
 * (Retry-After, backoff with full jitter). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/deliver.h"
#include "alerting/receiver.h"
#include "alerting/render.h"
#include "tests/unit/alerting_fixture.h"
#include "tests/unit/testing.h"

struct fx {
    struct pw_alert alerts[12];
    size_t n;
    struct pw_labels group;
    struct pw_notification notif;
};

static void fx_init(struct fx *f, size_t n, bool all_firing)
{
    memset(f, 0, sizeof *f);
    f->n = n;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "DiskWillFill%zu", i);
        fx_alert(&f->alerts[i], name, "db-1", all_firing || i == 0);
    }
    fx_set(&f->group, "entity", "db-1");
    f->notif = (struct pw_notification){
        .receiver = "oncall", .group_key = "{}:{entity=\"db-1\"}",
        .group_labels = &f->group, .alerts = f->alerts, .n_alerts = n,
        .idempotency_key = "key-1", .now_ns = 1,
    };
}

static void fx_free(struct fx *f)
{
    for (size_t i = 0; i < f->n; i++)
        fx_alert_free(&f->alerts[i]);
    fx_labels_free(&f->group);
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", e.text, text);
    return j;
}

START_TEST(test_render_webhook_has_every_v4_field)
{
    struct fx f;
    fx_init(&f, 2, false);
    struct pw_render_opts o = {.external_url = "http://am/", .send_resolved = true};
    char *out = NULL;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_render_webhook(&f.notif, &o, &out, &err), 0);
    json_t *j = parse(out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "version")), "4");
    ck_assert_str_eq(json_string_value(json_object_get(j, "groupKey")),
                     "{}:{entity=\"db-1\"}");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "truncatedAlerts")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "firing");
    ck_assert_str_eq(json_string_value(json_object_get(j, "receiver")), "oncall");
    ck_assert_str_eq(json_string_value(json_object_get(j, "externalURL")), "http://am/");
    ck_assert_str_eq(json_string_value(json_object_get(j, "idempotencyKey")), "key-1");
    json_t *common = json_object_get(j, "commonLabels");
    /* alertname differs between the two alerts: not common */
    ck_assert_ptr_null(json_object_get(common, "alertname"));
    ck_assert_str_eq(json_string_value(json_object_get(common, "entity")), "db-1");
    ck_assert_ptr_nonnull(json_object_get(j, "commonAnnotations"));
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(j, "groupLabels"), "entity")), "db-1");
    json_t *alerts = json_object_get(j, "alerts");
    ck_assert_int_eq(json_array_size(alerts), 2);
    json_t *a0 = json_array_get(alerts, 0), *a1 = json_array_get(alerts, 1);
    ck_assert_str_eq(json_string_value(json_object_get(a0, "status")), "firing");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "startsAt")),
                     "2025-12-04T14:30:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "endsAt")),
                     "0001-01-01T00:00:00Z");
    ck_assert_str_eq(json_string_value(json_object_get(a1, "status")), "resolved");
    ck_assert_str_eq(json_string_value(json_object_get(a1, "endsAt")),
                     "2025-12-04T15:30:00.5Z");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "fingerprint")),
                     "0123456789abcdef");
    ck_assert_str_eq(json_string_value(json_object_get(a0, "generatorURL")),
                     "http://pipewatch.test/p/1");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_object_get(a0, "annotations"), "eta_seconds")), "12000");
    json_decref(j);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_webhook_truncates_and_counts)
{
    struct fx f;
    fx_init(&f, 5, true);
    struct pw_render_opts o = {.max_alerts = 2, .send_resolved = true};
    char *out = NULL;
    ck_assert_int_eq(pw_render_webhook(&f.notif, &o, &out, NULL), 0);
    json_t *j = parse(out);
    ck_assert_int_eq(json_array_size(json_object_get(j, "alerts")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "truncatedAlerts")), 3);
    json_decref(j);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_resolved_left_out_without_send_resolved)
{
    struct fx f;
    fx_init(&f, 3, false);   /* one firing, two resolved */
    struct pw_render_opts o = {.send_resolved = false};
    char *out = NULL;
    ck_assert_int_eq(pw_render_webhook(&f.notif, &o, &out, NULL), 0);
    json_t *j = parse(out);
    ck_assert_int_eq(json_array_size(json_object_get(j, "alerts")), 1);
    json_decref(j);
    free(out);
    /* Only resolved alerts: nothing to send. */
    f.notif.alerts = &f.alerts[1];
    f.notif.n_alerts = 2;
    ck_assert_int_eq(pw_render_webhook(&f.notif, &o, &out, NULL), 0);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(pw_render_slack(&f.notif, &o, &out, NULL), 0);
    ck_assert_ptr_null(out);
    o.send_resolved = true;
    ck_assert_int_eq(pw_render_webhook(&f.notif, &o, &out, NULL), 0);
    j = parse(out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "resolved");
    json_decref(j);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_invalid_utf8_becomes_valid_json)
{
    struct fx f;
    fx_init(&f, 1, true);
    fx_set(&f.alerts[0].labels, "bad\xff", "v\xc3\x28\xed\xa0\x80\"\\\n");
    fx_set(&f.alerts[0].annotations, "summary", "\xf0\x9f\x94\xa5 fire \xe2\x82");
    struct pw_render_opts o = {.send_resolved = true};
    char *out = NULL;
    ck_assert_int_eq(pw_render_webhook(&f.notif, &o, &out, NULL), 0);
    json_t *j = parse(out);
    json_t *labels = json_object_get(json_array_get(json_object_get(j, "alerts"), 0),
                                     "labels");
    ck_assert_ptr_nonnull(json_object_get(labels, "bad\xef\xbf\xbd"));
    json_decref(j);
    free(out);
    ck_assert_int_eq(pw_render_slack(&f.notif, &o, &out, NULL), 0);
    j = parse(out);
    json_decref(j);
    ck_assert_ptr_nonnull(strstr(out, "\xf0\x9f\x94\xa5 fire"));
    free(out);
    fx_free(&f);
}
END_TEST

static const char *block_text(json_t *b)
{
    return json_string_value(json_object_get(json_object_get(b, "text"), "text"));
}

START_TEST(test_render_slack_block_kit_message)
{
    struct fx f;
    fx_init(&f, 1, true);
    fx_set(&f.alerts[0].annotations, "eta_seconds", "200");
    struct pw_render_opts o = {.channel = "#ops"};
    char *out = NULL;
    ck_assert_int_eq(pw_render_slack(&f.notif, &o, &out, NULL), 0);
    json_t *j = parse(out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "channel")), "#ops");
    json_t *blocks = json_object_get(j, "blocks");
    json_t *h = json_array_get(blocks, 0);
    ck_assert_str_eq(json_string_value(json_object_get(h, "type")), "header");
    ck_assert_str_eq(block_text(h), "[FIRING:1] CRITICAL db-1 DiskWillFill0");
    const char *s = block_text(json_array_get(blocks, 1));
    ck_assert_ptr_nonnull(strstr(s, "*The disk will be full*"));
    ck_assert_ptr_nonnull(strstr(s, "in 3 min"));
    ck_assert_ptr_nonnull(strstr(s, "87%"));
    const char *ev = block_text(json_array_get(blocks, 2));
    ck_assert_ptr_nonnull(strstr(ev, "last: 91.5"));
    ck_assert_ptr_nonnull(strstr(ev, "series: fs"));
    json_t *ctx = json_array_get(blocks, 3);
    ck_assert_str_eq(json_string_value(json_object_get(ctx, "type")), "context");
    ck_assert_str_eq(json_string_value(json_object_get(
        json_array_get(json_object_get(ctx, "elements"), 0), "text")),
        "<http://pipewatch.test/p/1|View the prediction>");
    ck_assert_str_eq(json_string_value(json_object_get(j, "text")),
                     "[FIRING:1] CRITICAL db-1 DiskWillFill0");
    json_decref(j);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_slack_keeps_within_block_kit_limits)
{
    struct fx f;
    fx_init(&f, 12, true);
    char *big = malloc(10001);
    memset(big, 'x', 10000);
    big[10000] = '\0';
    memcpy(big + 9000, "<&>", 3);
    fx_set(&f.alerts[0].annotations, "summary", big);
    fx_set(&f.alerts[0].labels, "entity", big);
    fx_set(&f.alerts[0].annotations, "evidence", big);
    free(big);
    struct pw_render_opts o = {0};
    char *out = NULL;
    ck_assert_int_eq(pw_render_slack(&f.notif, &o, &out, NULL), 0);
    json_t *j = parse(out);
    json_t *blocks = json_object_get(j, "blocks");
    ck_assert_int_le(json_array_size(blocks), 50);
    ck_assert_int_le(strlen(block_text(json_array_get(blocks, 0))), 150);
    size_t i;
    json_t *b;
    bool more = false;
    json_array_foreach(blocks, i, b) {
        const char *type = json_string_value(json_object_get(b, "type"));
        if (!strcmp(type, "section"))
            ck_assert_int_le(strlen(block_text(b)), 3000);
        if (!strcmp(type, "context")) {
            const char *t = json_string_value(json_object_get(
                json_array_get(json_object_get(b, "elements"), 0), "text"));
            if (strstr(t, "and 2 more alerts"))
                more = true;
        }
    }
    ck_assert(more);
    json_decref(j);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_slack_escapes_mrkdwn)
{
    struct fx f;
    fx_init(&f, 1, true);
    fx_set(&f.alerts[0].annotations, "summary", "a <b> & c");
    fx_set(&f.alerts[0].annotations, "evidence", "not json <x>");
    fx_set(&f.alerts[0].annotations, "confidence", "high");
    struct pw_render_opts o = {0};
    char *out = NULL;
    ck_assert_int_eq(pw_render_slack(&f.notif, &o, &out, NULL), 0);
    json_t *j = parse(out);
    json_t *blocks = json_object_get(j, "blocks");
    const char *s = block_text(json_array_get(blocks, 1));
    ck_assert_ptr_nonnull(strstr(s, "a &lt;b&gt; &amp; c"));
    ck_assert_ptr_nonnull(strstr(s, "*Confidence:* high"));
    ck_assert_ptr_nonnull(strstr(block_text(json_array_get(blocks, 2)),
                                 "not json &lt;x&gt;"));
    json_decref(j);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_log_one_line_per_alert)
{
    struct fx f;
    fx_init(&f, 3, true);
    fx_set(&f.alerts[1].annotations, "summary", "two\nlines \"quoted\"");
    struct pw_render_opts o = {.send_resolved = true};
    char *out = NULL;
    ck_assert_int_eq(pw_render_log(&f.notif, &o, &out, NULL), 0);
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    ck_assert_int_eq(lines, 3);
    ck_assert_ptr_nonnull(strstr(out, "alert firing receiver=oncall key=key-1 "
                                      "fingerprint=0123456789abcdef "
                                      "alertname=DiskWillFill0 entity=db-1"));
    ck_assert_ptr_nonnull(strstr(out, "eta=\"in 3 h 20 min\""));
    ck_assert_ptr_nonnull(strstr(out, "summary=\"two lines \\\"quoted\\\"\""));
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_render_eta_in_words)
{
    char b[64];
    struct { double s; const char *w; } cases[] = {
        {12000, "in 3 h 20 min"}, {45, "in 45 s"}, {0, "now"}, {-5, "now"},
        {600, "in 10 min"}, {7200, "in 2 h"}, {187200, "in 2 d 4 h"},
        {86400, "in 1 d"}, {1e12, "in more than 100 years"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pw_eta_words(cases[i].s, b, sizeof b);
        ck_assert_str_eq(b, cases[i].w);
    }
}
END_TEST

START_TEST(test_render_rfc3339_like_go)
{
    char b[40];
    pw_rfc3339(0, b, sizeof b);
    ck_assert_str_eq(b, "0001-01-01T00:00:00Z");
    pw_rfc3339(1764858600000000000LL, b, sizeof b);
    ck_assert_str_eq(b, "2025-12-04T14:30:00Z");
    pw_rfc3339(1764858600123456789LL, b, sizeof b);
    ck_assert_str_eq(b, "2025-12-04T14:30:00.123456789Z");
    pw_rfc3339(1764858600120000000LL, b, sizeof b);
    ck_assert_str_eq(b, "2025-12-04T14:30:00.12Z");
    pw_rfc3339(-1, b, sizeof b);
    ck_assert_str_eq(b, "1969-12-31T23:59:59.999999999Z");
}
END_TEST

/* ---- receiver configuration ---- */

struct rcfg {
    struct pw_section_list receivers;
};
static const struct pw_option rtable[] = {
    {"receivers", PW_OPT_SECTION_LIST, offsetof(struct rcfg, receivers), NULL,
     false, 0, 100, pw_receiver_options, "r"},
    {0},
};

/* Loads `yaml` and resolves it; returns the receivers or NULL (err set). */
static struct pw_receivers *load(const char *yaml, struct pw_err *err)
{
    struct rcfg c = {0};
    struct pw_receivers *r = NULL;
    if (pw_config_load_string("r.yaml", yaml, strlen(yaml), rtable, &c, err) == 0)
        r = pw_receivers_new("r.yaml", &c.receivers, err);
    pw_config_release(rtable, &c);
    return r;
}

START_TEST(test_receiver_config_resolves_every_kind)
{
    setenv("PW_TEST_HMAC_KEY", "sekrit", 1);
    struct pw_err err = {{0}};
    struct pw_receivers *r = load(
        "receivers:\n"
        "  - name: a\n"
        "    rate_limit: 2.5\n"
        "    webhook_configs:\n"
        "      - url: https://user:pw@hooks.example.com:8443/T/abc?x=1\n"
        "        headers: {X-A: one}\n"
        "        hmac_secret_env: PW_TEST_HMAC_KEY\n"
        "        max_alerts: 3\n"
        "    slack_configs: [{api_url: 'https://hooks.slack.com/services/X', channel: '#c'}]\n"
        "    log_configs: [{level: info}]\n"
        "    kafka_configs: [{topic: alerts}]\n"
        "  - name: b\n", &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    ck_assert_uint_eq(r->n, 2);
    const struct pw_receiver *a = pw_receivers_find(r, "a");
    ck_assert_uint_eq(a->n_targets, 4);
    const struct pw_target *w = pw_receiver_target(a, "webhook[0]");
    ck_assert_str_eq(w->url_redacted, "https://hooks.example.com:8443/\xe2\x80\xa6");
    ck_assert_str_eq(w->headers[0], "X-A: one");
    ck_assert_uint_eq(w->hmac_key_len, 6);
    ck_assert_uint_eq(w->max_alerts, 3);
    ck_assert(w->send_resolved);
    ck_assert(!pw_receiver_target(a, "slack[0]")->send_resolved);
    ck_assert_str_eq(pw_receiver_target(a, "slack[0]")->channel, "#c");
    ck_assert_int_eq(pw_receiver_target(a, "log[0]")->log_level, PW_INFO);
    ck_assert_str_eq(pw_receiver_target(a, "kafka[0]")->topic, "alerts");
    ck_assert_double_eq(a->rate_limit, 2.5);
    ck_assert_uint_eq(pw_receivers_find(r, "b")->n_targets, 0);
    ck_assert_ptr_null(pw_receivers_find(r, "c"));
    pw_receivers_free(r);
}
END_TEST

static void expect_error(const char *yaml, const char *want)
{
    struct pw_err err = {{0}};
    struct pw_receivers *r = load(yaml, &err);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(err.msg, want) != NULL, "error \"%s\" lacks \"%s\"",
                  err.msg, want);
    ck_assert_msg(strstr(err.msg, "SECRET") == NULL, "a secret in \"%s\"",
                  err.msg);
}

START_TEST(test_receiver_config_errors_name_file_line_key_not_secrets)
{
    unsetenv("PW_TEST_UNSET_VAR");
    expect_error("receivers:\n  - name: a\n    webhook_configs:\n"
                 "      - url: ftp://host/SECRET\n",
                 "r.yaml:4: receivers[0].webhook_configs[0].url: the URL must "
                 "start with http:// or https:// (ftp://host/");
    expect_error("receivers:\n  - name: a\n    webhook_configs:\n"
                 "      - {url: 'http://h/SECRET', url_file: /x}\n",
                 "r.yaml:4: receivers[0].webhook_configs[0].url: set exactly one "
                 "of url and url_file");
    expect_error("receivers:\n  - name: a\n    webhook_configs:\n"
                 "      - {}\n", "set exactly one of url and url_file");
    expect_error("receivers:\n  - name: a\n    slack_configs:\n"
                 "      - api_url_file: /nonexistent/url-file\n",
                 "r.yaml:4: receivers[0].slack_configs[0].api_url_file: cannot "
                 "read /nonexistent/");
    expect_error("receivers:\n  - name: a\n    webhook_configs:\n"
                 "      - url: http://h/SECRET\n        hmac_secret_env: "
                 "PW_TEST_UNSET_VAR\n",
                 "r.yaml:4: receivers[0].webhook_configs[0].hmac_secret_env: "
                 "the environment variable PW_TEST_UNSET_VAR is not set");
    expect_error("receivers:\n  - name: a\n  - name: a\n",
                 "r.yaml:3: receivers[1].name: \"a\" is already");
    expect_error("receivers:\n  - name: a\n    log_configs: [{level: loud}]\n",
                 "r.yaml:3: receivers[0].log_configs[0].level");
    expect_error("receivers:\n  - name: a\n    webhook_configs:\n"
                 "      - url: http://h/SECRET\n        headers:\n"
                 "          'Bad Name': x\n",
                 "r.yaml:6: receivers[0].webhook_configs[0].headers: \"Bad Name\"");
    expect_error("receivers:\n  - name: a\n    webhook_configs:\n"
                 "      - url: http://h/SECRET\n        urls: x\n",
                 "r.yaml:5");
}
END_TEST

START_TEST(test_receiver_url_file_is_trimmed)
{
    char path[] = "/tmp/pw_url_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    dprintf(fd, "https://hooks.slack.com/services/T/B/SECRET\n\n");
    close(fd);
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  - name: s\n    slack_configs: [{api_url_file: %s}]\n",
             path);
    struct pw_err err = {{0}};
    struct pw_receivers *r = load(yaml, &err);
    unlink(path);
    ck_assert_msg(r != NULL, "%s", err.msg);
    const struct pw_target *t = pw_receiver_target(&r->v[0], "slack[0]");
    ck_assert_str_eq(t->url, "https://hooks.slack.com/services/T/B/SECRET");
    ck_assert_str_eq(t->url_redacted, "https://hooks.slack.com/\xe2\x80\xa6");
    pw_receivers_free(r);
}
END_TEST

/* ---- retry arithmetic ---- */

START_TEST(test_retry_after_seconds_and_http_date)
{
    int64_t d = -1;
    ck_assert_int_eq(pw_retry_after_parse("120", 1000, &d), 0);
    ck_assert_int_eq(d, 120);
    ck_assert_int_eq(pw_retry_after_parse(" 7 ", 1000, &d), 0);
    ck_assert_int_eq(d, 7);
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    ck_assert_int_eq(pw_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT",
                                          1445412480 - 30, &d), 0);
    ck_assert_int_eq(d, 30);
    ck_assert_int_eq(pw_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT",
                                          1445412480 + 30, &d), 0);
    ck_assert_int_eq(d, 0);
    ck_assert_int_eq(pw_retry_after_parse("soon", 0, &d), -1);
    ck_assert_int_eq(pw_retry_after_parse("-5", 0, &d), -1);
    ck_assert_int_eq(pw_retry_after_parse("5x", 0, &d), -1);
}
END_TEST

START_TEST(test_backoff_full_jitter_bounds)
{
    ck_assert_int_eq(pw_backoff_ms(1, 500, 300000, 0.0), 0);
    ck_assert_int_eq(pw_backoff_ms(1, 500, 300000, 0.5), 250);
    ck_assert_int_eq(pw_backoff_ms(3, 500, 300000, 0.5), 1000);
    ck_assert_int_le(pw_backoff_ms(3, 500, 300000, 0.9999), 2000);
    ck_assert_int_eq(pw_backoff_ms(40, 500, 300000, 0.5), 150000);
    ck_assert_int_eq(pw_backoff_ms(1000000, 500, 300000, 0.5), 150000);
}
END_TEST

static Suite *render_suite(void)
{
    Suite *s = suite_create("alerting_render");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_render_webhook_has_every_v4_field);
    tcase_add_test(tc, test_render_webhook_truncates_and_counts);
    tcase_add_test(tc, test_render_resolved_left_out_without_send_resolved);
    tcase_add_test(tc, test_render_invalid_utf8_becomes_valid_json);
    tcase_add_test(tc, test_render_slack_block_kit_message);
    tcase_add_test(tc, test_render_slack_keeps_within_block_kit_limits);
    tcase_add_test(tc, test_render_slack_escapes_mrkdwn);
    tcase_add_test(tc, test_render_log_one_line_per_alert);
    tcase_add_test(tc, test_render_eta_in_words);
    tcase_add_test(tc, test_render_rfc3339_like_go);
    tcase_add_test(tc, test_receiver_config_resolves_every_kind);
    tcase_add_test(tc, test_receiver_config_errors_name_file_line_key_not_secrets);
    tcase_add_test(tc, test_receiver_url_file_is_trimmed);
    tcase_add_test(tc, test_retry_after_seconds_and_http_date);
    tcase_add_test(tc, test_backoff_full_jitter_bounds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(render_suite());
}
