/* alerting/service.c — the alerting parts joined for a daemon (see
 * service.h). The dispatcher's notify callback is the outbox's enqueue, so
 * that a notification is on disk before the dispatcher logs it as sent;
 * the API handlers are thin: JSON in and out is the parts' own. */
#include "alerting/service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alerting/dispatch.h"
#include "alerting/inhibit.h"
#include "alerting/outbox.h"
#include "alerting/receiver.h"
#include "alerting/silence.h"
#include "common/clock.h"
#include "common/log.h"

#define C struct pw_alerting_config
#define DAY_MS (86400LL * 1000)

const struct pw_option pw_alerting_options[] = {
    {"dir", PW_OPT_STRING, offsetof(C, dir), "/var/lib/pipewatch/alerting", false, 0, 0,
     NULL,
     "Where alerting keeps its SQLite files (alerts and silences, the outbox); "
     "created if missing."},
    {"external_url", PW_OPT_STRING, offsetof(C, external_url), NULL, false, 0, 0, NULL,
     "The URL people reach this analyzer at: links in notifications "
     "(generatorURL, externalURL)."},
    {"route", PW_OPT_SECTION, offsetof(C, route), NULL, false, 0, 0, pw_route_options,
     "The routing tree, as Alertmanager's `route:` (docs/alerting.md)."},
    {"inhibit_rules", PW_OPT_SECTION_LIST, offsetof(C, inhibit_rules), NULL, false, 0, 0,
     pw_inhibit_options, "Inhibition rules, as Alertmanager's `inhibit_rules:`."},
    {"receivers", PW_OPT_SECTION_LIST, offsetof(C, receivers), NULL, false, 0, 0,
     pw_receiver_options,
     "Where notifications go (webhook, Slack, log, Kafka; "
     "docs/alerting-delivery.md). Alerting is on when this is not empty."},
    {"delivery", PW_OPT_SECTION, offsetof(C, delivery), NULL, false, 0, 0,
     pw_deliver_options_table, "How deliveries are made and retried."},
    {"keep", PW_OPT_DURATION, offsetof(C, keep_ms), "7d", false, 3600 * 1000,
     365 * DAY_MS, NULL,
     "How long delivered and failed notifications stay in the outbox (a "
     "notification formed again within this time is recognised and dropped)."},
    {0},
};

struct pw_alerting {
    const struct pw_alerting_config *cfg;
    struct pw_receivers *receivers;
    struct pw_route *route;
    struct pw_inhibit_rules inhibit;
    struct pw_silences *silences;
    struct pw_dispatch *dispatch;
    struct pw_outbox *outbox;
    struct pw_deliver *deliver;
    bool in_batch;
    bool healthy;
    int64_t last_prune_ns;
    struct pw_log_limiter errlog;
    /* counters */
    uint64_t puts, commit_failures, notifications, notify_failures, tick_failures;
};

bool pw_alerting_enabled(const struct pw_alerting_config *c)
{
    return c->receivers.len > 0;
}

/* The parts that read the configuration, built into `a` (which the caller
 * frees with release_parts either way). */
static int build_parts(struct pw_alerting *a, const struct pw_alerting_config *c,
                       const char *file, struct pw_err *err)
{
    if (!(a->receivers = pw_receivers_new(file, &c->receivers, err)))
        return pw_err_prefix(err, "alerting");
    const char **names = calloc(a->receivers->n ? a->receivers->n : 1, sizeof *names);
    if (!names)
        return pw_err_set(err, "out of memory");
    for (size_t i = 0; i < a->receivers->n; i++)
        names[i] = a->receivers->v[i].name;
    a->route = pw_route_build(&c->route, file, "alerting.route", names, a->receivers->n, err);
    free(names);
    if (!a->route)
        return -1;
    if (pw_inhibit_build(c->inhibit_rules.items, c->inhibit_rules.len, file,
                         "alerting.inhibit_rules", &a->inhibit, err) < 0)
        return -1;
    return 0;
}

static void release_parts(struct pw_alerting *a)
{
    pw_route_free(a->route);
    a->route = NULL;
    pw_inhibit_free(&a->inhibit);
    pw_receivers_free(a->receivers);
    a->receivers = NULL;
}

int pw_alerting_check(const struct pw_alerting_config *c, const char *file,
                      struct pw_err *err)
{
    if (!pw_alerting_enabled(c))
        return 0;
    struct pw_alerting a = {0};
    int rc = build_parts(&a, c, file, err);
    release_parts(&a);
    return rc;
}

static int notify(const struct pw_notification *n, void *user)
{
    struct pw_alerting *a = user;
    struct pw_err err = {{0}};
    if (pw_outbox_enqueue(a->outbox, n, &err) < 0) {
        a->notify_failures++;
        pw_log_limited(&a->errlog, 10000, PW_ERROR,
                       "alerting: cannot store a notification for %s: %s", n->receiver,
                       err.msg);
        return -1;
    }
    a->notifications++;
    return 0;
}

static int make_dir(const char *dir, struct pw_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return pw_err_set(err, "alerting.dir: path too long");
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) < 0 && errno != EEXIST)
            return pw_err_set(err, "alerting.dir: cannot create %s: %s", path,
                              strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        return pw_err_set(err, "alerting.dir: cannot create %s: %s", path, strerror(errno));
    return 0;
}

struct pw_alerting *pw_alerting_new(const struct pw_alerting_config *c, const char *file,
                                    rd_kafka_t *producer, struct pw_err *err)
{
    struct pw_alerting *a = calloc(1, sizeof *a);
    if (!a) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    a->cfg = c;
    a->healthy = true;
    if (build_parts(a, c, file, err) < 0 || make_dir(c->dir, err) < 0)
        goto fail;
    char path[4200];
    snprintf(path, sizeof path, "%s/alerts.db", c->dir);
    if (!(a->silences = pw_silences_open(path, err)))
        goto fail;
    struct pw_dispatch_conf dc = {
        .db_path = path, .route = a->route, .inhibit = &a->inhibit,
        .silences = a->silences, .notify = notify, .user = a,
    };
    if (!(a->dispatch = pw_dispatch_open(&dc, pw_realtime_ns(), err)))
        goto fail;
    snprintf(path, sizeof path, "%s/outbox.db", c->dir);
    if (!(a->outbox = pw_outbox_open(path, a->receivers, c->external_url, err)))
        goto fail;
    if (!(a->deliver = pw_deliver_new(a->outbox, a->receivers, producer, &c->delivery, err)))
        goto fail;
    pw_log(PW_INFO, "alerting: %zu receivers, %zu alerts held, %zu silences, %lld "
           "deliveries pending", a->receivers->n, pw_dispatch_alert_count(a->dispatch),
           pw_silences_count(a->silences),
           (long long)pw_outbox_count(a->outbox, PW_DELIVERY_PENDING));
    return a;
fail:
    pw_err_prefix(err, "alerting");
    pw_alerting_free(a);
    return NULL;
}

void pw_alerting_free(struct pw_alerting *a)
{
    if (!a)
        return;
    if (a->in_batch)
        pw_dispatch_rollback(a->dispatch);
    pw_deliver_free(a->deliver);
    pw_outbox_close(a->outbox);
    pw_dispatch_close(a->dispatch);
    pw_silences_close(a->silences);
    release_parts(a);
    free(a);
}

int pw_alerting_begin(struct pw_alerting *a, struct pw_err *err)
{
    if (a->in_batch)
        return 0;
    if (pw_dispatch_begin(a->dispatch, err) < 0)
        return -1;
    a->in_batch = true;
    return 0;
}

int pw_alerting_put(struct pw_alerting *a, const struct pw_alert *alert,
                    struct pw_err *err)
{
    a->puts++;
    if (pw_dispatch_put(a->dispatch, alert, pw_realtime_ns(), err) < 0) {
        if (!a->in_batch) {
            a->commit_failures++;
            a->healthy = false;
        }
        return -1;
    }
    if (!a->in_batch)
        a->healthy = true;
    return 0;
}

int pw_alerting_commit(struct pw_alerting *a, struct pw_err *err)
{
    if (!a->in_batch)
        return 0;
    a->in_batch = false;
    if (pw_dispatch_commit(a->dispatch, err) < 0) {
        pw_dispatch_rollback(a->dispatch);
        a->commit_failures++;
        a->healthy = false;
        return -1;
    }
    a->healthy = true;
    return 0;
}

bool pw_alerting_in_batch(const struct pw_alerting *a) { return a->in_batch; }
bool pw_alerting_healthy(const struct pw_alerting *a) { return a->healthy; }

void pw_alerting_poll(struct pw_alerting *a, int max_wait_ms)
{
    struct pw_err err = {{0}};
    int64_t now = pw_realtime_ns();
    if (!a->in_batch && pw_dispatch_next_due_ns(a->dispatch) <= now &&
        pw_dispatch_tick(a->dispatch, now, &err) < 0) {
        a->tick_failures++;
        pw_log_limited(&a->errlog, 10000, PW_ERROR, "alerting: %s", err.msg);
    }
    if (pw_deliver_poll(a->deliver, now, max_wait_ms, &err) < 0)
        pw_log_limited(&a->errlog, 10000, PW_ERROR, "alerting: delivery: %s", err.msg);
    /* Once an hour, forget deliveries finished longer ago than `keep`. */
    if (now - a->last_prune_ns > 3600LL * 1000000000) {
        a->last_prune_ns = now;
        if (pw_outbox_prune(a->outbox, now - a->cfg->keep_ms * 1000000, &err) < 0)
            pw_log_limited(&a->errlog, 10000, PW_WARN, "alerting: prune: %s", err.msg);
    }
}

int pw_alerting_wakeup_ms(struct pw_alerting *a, int cap_ms)
{
    int64_t now = pw_realtime_ns();
    int ms = pw_deliver_next_wakeup_ms(a->deliver, now, cap_ms);
    int64_t due = pw_dispatch_next_due_ns(a->dispatch);
    if (due != INT64_MAX) {
        int64_t d = due <= now ? 0 : (due - now) / 1000000 + 1;
        if (d < ms)
            ms = (int)d;
    }
    return ms;
}

bool pw_alerting_kafka_report(struct pw_alerting *a, const rd_kafka_message_t *m)
{
    return pw_deliver_kafka_report(a->deliver, m);
}

/* ---- API v2 ------------------------------------------------------------- */

static int api_error(struct pw_buf *out, const char **type, int code, const char *msg)
{
    /* Alertmanager answers errors as a JSON string. */
    *type = "application/json";
    pw_buf_putc(out, '"');
    for (const char *p = msg; *p; p++) {
        if (*p == '"' || *p == '\\')
            pw_buf_putc(out, '\\');
        if ((unsigned char)*p >= 0x20)
            pw_buf_putc(out, *p);
    }
    pw_buf_puts(out, "\"\n");
    return code;
}

static int api_text(struct pw_buf *out, char *json, int code)
{
    if (!json) {
        pw_buf_puts(out, "\"out of memory\"\n");
        return 500;
    }
    pw_buf_puts(out, json);
    pw_buf_putc(out, '\n');
    free(json);
    return code;
}

int pw_alerting_api(const char *method, const char *path, const char *body,
                    size_t body_len, struct pw_buf *out, const char **content_type,
                    void *arg)
{
    struct pw_alerting *a = arg;
    int64_t now = pw_realtime_ns();
    struct pw_err err = {{0}};
    *content_type = "application/json";
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    char p[512];
    if (plen >= sizeof p)
        return api_error(out, content_type, 404, "not found");
    memcpy(p, path, plen);
    p[plen] = '\0';
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

    if (!strcmp(p, "/api/v2/alerts")) {
        if (!get)
            return api_error(out, content_type, 405,
                             "alerts come from the analyzer's rules; only GET is served");
        return api_text(out, pw_dispatch_alerts_json(a->dispatch, now), 200);
    }
    if (!strcmp(p, "/api/v2/silences")) {
        if (get)
            return api_text(out, pw_silences_list_json(a->silences, now), 200);
        if (strcmp(method, "POST") != 0)
            return api_error(out, content_type, 405, "use GET or POST");
        char id[PW_SILENCE_ID_LEN + 1];
        if (pw_silences_add_json(a->silences, body, body_len, now, id, &err) < 0)
            return api_error(out, content_type, 400, err.msg);
        pw_log(PW_INFO, "alerting: silence %s set through the API", id);
        pw_buf_printf(out, "{\"silenceID\":\"%s\"}\n", id);
        return 200;
    }
    if (!strncmp(p, "/api/v2/silence/", 16) && p[16]) {
        const char *id = p + 16;
        if (get) {
            char *json = pw_silences_get_json(a->silences, id, now);
            if (!json)
                return api_error(out, content_type, 404, "silence not found");
            return api_text(out, json, 200);
        }
        if (strcmp(method, "DELETE") != 0)
            return api_error(out, content_type, 405, "use GET or DELETE");
        if (pw_silences_expire(a->silences, id, now, &err) < 0)
            return api_error(out, content_type,
                             pw_silences_get(a->silences, id) ? 400 : 404, err.msg);
        pw_log(PW_INFO, "alerting: silence %s expired through the API", id);
        return 200;
    }
    if (!strcmp(p, "/api/v2/status") && get) {
        pw_buf_printf(out, "{\"cluster\":{\"status\":\"disabled\",\"peers\":[]},"
                      "\"versionInfo\":{\"version\":\"pipewatch-%s\"},"
                      "\"config\":{\"original\":\"\"},\"uptime\":\"\"}\n",
                      PW_VERSION);
        return 200;
    }
    return api_error(out, content_type, 404, "not found");
}

/* ---- metrics ------------------------------------------------------------ */

void pw_alerting_metrics(struct pw_alerting *a, struct pw_buf *out)
{
#define G(name, help, v)                                                         \
    pw_buf_printf(out, "# HELP pipewatch_alerting_" name " " help "\n"           \
                  "# TYPE pipewatch_alerting_" name " gauge\n"                   \
                  "pipewatch_alerting_" name " %llu\n", (unsigned long long)(v))
#define K(name, help, v)                                                         \
    pw_buf_printf(out, "# HELP pipewatch_alerting_" name " " help "\n"           \
                  "# TYPE pipewatch_alerting_" name " counter\n"                 \
                  "pipewatch_alerting_" name " %llu\n", (unsigned long long)(v))
    G("alerts", "Alerts held (firing, or resolved and not yet notified).",
      pw_dispatch_alert_count(a->dispatch));
    G("groups", "Aggregation groups.", pw_dispatch_group_count(a->dispatch));
    G("silences", "Silences stored (any state).", pw_silences_count(a->silences));
    K("alerts_put_total", "Alerts handed over by the analyzer (firing, updated, resolved).",
      a->puts);
    K("notifications_total", "Notifications formed and stored in the outbox.",
      a->notifications);
    K("notification_failures_total", "Notifications the outbox could not store (retried).",
      a->notify_failures);
    K("commit_failures_total", "Batches of alerts that could not be made durable.",
      a->commit_failures);
#undef G
#undef K
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        pw_deliver_write_metrics(a->deliver, f);
        fclose(f);
        pw_buf_append(out, text, len);
    }
    free(text);
}
