/* alerting/receiver.c — receiver configuration: tables, checks, secrets
 * (contract: receiver.h).
 *
 * Why it is built this way. The loader (common/config.c) validates types and
 * ranges from the tables; what it cannot know (one of url / url_file, a
 * readable secret file, a set environment variable, unique names) is checked
 * here, once, at load time, so that --check-config catches it with FILE:LINE.
 * Everything a delivery needs is then resolved into flat pw_target structs,
 * so that the delivery path never reads a file or the environment, and a
 * secret lives in exactly one place in memory. Messages built here mention
 * the key, the file or the variable, never the value.
 */
#include "alerting/receiver.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define W struct pw_webhook_config
#define S struct pw_slack_config
#define L struct pw_log_config
#define K struct pw_kafka_receiver_config
#define R struct pw_receiver_config

#define T struct pw_tls_config
static const struct pw_option tls_options[] = {
    {"ca_file", PW_OPT_STRING, offsetof(T, ca_file), NULL, false, 0, 0, NULL,
     "CA certificates (PEM) to verify the receiver's certificate with; unset: "
     "the system's."},
    {"cert_file", PW_OPT_STRING, offsetof(T, cert_file), NULL, false, 0, 0, NULL,
     "A client certificate (PEM) for receivers that require one."},
    {"key_file", PW_OPT_STRING, offsetof(T, key_file), NULL, false, 0, 0, NULL,
     "The client certificate's key (PEM, unencrypted)."},
    {"insecure_skip_verify", PW_OPT_BOOL, offsetof(T, insecure_skip_verify),
     "false", false, 0, 0, NULL,
     "Accept any certificate (never in production: a warning is logged)."},
    {0},
};

static const struct pw_option http_options[] = {
    {"tls_config", PW_OPT_SECTION, offsetof(struct pw_http_config, tls_config),
     NULL, false, 0, 0, tls_options, "TLS settings for https:// URLs."},
    {0},
};

static const struct pw_option webhook_options[] = {
    {"url", PW_OPT_STRING, offsetof(W, url), NULL, false, 0, 0, NULL,
     "The URL to POST to (a secret: prefer url_file)."},
    {"url_file", PW_OPT_STRING, offsetof(W, url_file), NULL, false, 0, 0, NULL,
     "A file holding the URL."},
    {"headers", PW_OPT_MAP, offsetof(W, headers), NULL, false, 0, 0, NULL,
     "Extra HTTP headers, name: value."},
    {"hmac_secret_file", PW_OPT_STRING, offsetof(W, hmac_secret_file), NULL,
     false, 0, 0, NULL,
     "A file holding the key of the X-Pipewatch-Signature HMAC-SHA256 header."},
    {"hmac_secret_env", PW_OPT_STRING, offsetof(W, hmac_secret_env), NULL,
     false, 0, 0, NULL,
     "An environment variable holding the HMAC key (instead of the file)."},
    {"max_alerts", PW_OPT_INT, offsetof(W, max_alerts), "0", false, 0,
     1000000, NULL,
     "At most this many alerts per payload (the rest counted in "
     "truncatedAlerts); 0: all."},
    {"send_resolved", PW_OPT_BOOL, offsetof(W, send_resolved), "true", false,
     0, 0, NULL, "Whether resolved alerts are sent."},
    {"timeout", PW_OPT_DURATION, offsetof(W, timeout_ms), "10s", false, 100,
     600000, NULL, "Total time allowed for one attempt."},
    {"http_config", PW_OPT_SECTION, offsetof(W, http_config), NULL, false, 0, 0,
     http_options, "HTTP client settings (Alertmanager's http_config)."},
    PW_OPT_ITEM_END_LINE(W, line),
};

static const struct pw_option slack_options[] = {
    {"api_url", PW_OPT_STRING, offsetof(S, api_url), NULL, false, 0, 0, NULL,
     "The Slack incoming-webhook URL (a secret: prefer api_url_file)."},
    {"api_url_file", PW_OPT_STRING, offsetof(S, api_url_file), NULL, false, 0,
     0, NULL, "A file holding the incoming-webhook URL."},
    {"channel", PW_OPT_STRING, offsetof(S, channel), NULL, false, 0, 0, NULL,
     "The channel to post to; unset: the webhook's own."},
    {"send_resolved", PW_OPT_BOOL, offsetof(S, send_resolved), "false", false,
     0, 0, NULL, "Whether resolved alerts are sent."},
    {"timeout", PW_OPT_DURATION, offsetof(S, timeout_ms), "10s", false, 100,
     600000, NULL, "Total time allowed for one attempt."},
    {"http_config", PW_OPT_SECTION, offsetof(S, http_config), NULL, false, 0, 0,
     http_options, "HTTP client settings (Alertmanager's http_config)."},
    PW_OPT_ITEM_END_LINE(S, line),
};

static const struct pw_option log_options[] = {
    {"level", PW_OPT_STRING, offsetof(L, level), "warn", false, 0, 0, NULL,
     "The level of the log lines: debug, info, warn or error."},
    {"send_resolved", PW_OPT_BOOL, offsetof(L, send_resolved), "true", false,
     0, 0, NULL, "Whether resolved alerts are logged."},
    PW_OPT_ITEM_END_LINE(L, line),
};

static const struct pw_option kafka_options[] = {
    {"topic", PW_OPT_STRING, offsetof(K, topic), NULL, true, 0, 0, NULL,
     "The topic the webhook body is produced to (key: the group key)."},
    {"send_resolved", PW_OPT_BOOL, offsetof(K, send_resolved), "true", false,
     0, 0, NULL, "Whether resolved alerts are sent."},
    PW_OPT_ITEM_END_LINE(K, line),
};

const struct pw_option pw_receiver_options[] = {
    {"name", PW_OPT_STRING, offsetof(R, name), NULL, true, 0, 0, NULL,
     "The receiver's name, unique; routes refer to it."},
    {"rate_limit", PW_OPT_DOUBLE, offsetof(R, rate_limit), "0", false, 0, 1e6,
     NULL, "Deliveries per second to this receiver (a token bucket); 0: no limit."},
    {"rate_burst", PW_OPT_INT, offsetof(R, rate_burst), "10", false, 1, 1000000,
     NULL, "The token bucket's size: deliveries allowed at once."},
    {"webhook_configs", PW_OPT_SECTION_LIST, offsetof(R, webhook_configs), NULL,
     false, 0, 100, webhook_options,
     "Generic webhooks (Alertmanager's payload version 4)."},
    {"slack_configs", PW_OPT_SECTION_LIST, offsetof(R, slack_configs), NULL,
     false, 0, 100, slack_options, "Slack incoming webhooks (Block Kit)."},
    {"log_configs", PW_OPT_SECTION_LIST, offsetof(R, log_configs), NULL, false,
     0, 100, log_options, "The program's log: one line per alert."},
    {"kafka_configs", PW_OPT_SECTION_LIST, offsetof(R, kafka_configs), NULL,
     false, 0, 100, kafka_options, "Kafka topics (the webhook body)."},
    PW_OPT_ITEM_END_LINE(R, line),
};

const char *pw_target_kind_name(enum pw_target_kind kind)
{
    switch (kind) {
    case PW_TARGET_WEBHOOK: return "webhook";
    case PW_TARGET_SLACK: return "slack";
    case PW_TARGET_LOG: return "log";
    case PW_TARGET_KAFKA: return "kafka";
    }
    return "?";
}

void pw_url_redact(const char *url, char *out, size_t n)
{
    if (n == 0)
        return;
    const char *sep = url ? strstr(url, "://") : NULL;
    if (!sep || sep == url) {
        snprintf(out, n, "(invalid URL)");
        return;
    }
    const char *host = sep + 3;
    size_t host_len = strcspn(host, "/?#");
    /* Drop user information ("user:token@host"). */
    const char *at = memchr(host, '@', host_len);
    if (at) {
        host_len -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    snprintf(out, n, "%.*s://%.*s/\xe2\x80\xa6", (int)(sep - url), url,
             (int)host_len, host);
}

/* Reads a whole secret file, trailing whitespace removed. */
static char *read_secret(const char *path, size_t *len_out, struct pw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pw_err_set(err, "cannot read %s: %s", path, strerror(errno)),
               NULL;
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            if (cap >= 1u << 20) {
                free(buf);
                fclose(f);
                return pw_err_set(err, "%s is larger than 1 MiB", path), NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (!buf)
        return pw_err_set(err, "out of memory reading %s", path), NULL;
    if (rerr) {
        free(buf);
        return pw_err_set(err, "cannot read %s", path), NULL;
    }
    while (len > 0 && isspace((unsigned char)buf[len - 1]))
        len--;
    buf[len] = '\0';
    if (len == 0) {
        free(buf);
        return pw_err_set(err, "%s is empty", path), NULL;
    }
    if (len_out)
        *len_out = len;
    return buf;
}

static int check_url(const char *url, struct pw_err *err)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return pw_err_set(err, "the URL must start with http:// or https://");
    const char *host = strstr(url, "://") + 3;
    if (*host == '\0' || *host == '/')
        return pw_err_set(err, "the URL has no host");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return pw_err_set(err, "the URL contains a space or control "
                                   "character");
    return 0;
}

/* Exactly one of the inline value and the file: the URL, checked. */
static char *resolve_url(const char *file, int line, const char *key,
                         const char *inline_url, const char *url_file,
                         struct pw_err *err)
{
    if ((inline_url != NULL) == (url_file != NULL))
        return pw_err_set(err, "%s:%d: %s: set exactly one of %s and %s_file",
                          file, line, key, strrchr(key, '.') + 1,
                          strrchr(key, '.') + 1),
               NULL;
    char *url;
    struct pw_err e = {{0}};
    if (url_file) {
        url = read_secret(url_file, NULL, &e);
        if (!url)
            return pw_err_set(err, "%s:%d: %s_file: %s", file, line, key, e.msg),
                   NULL;
    } else {
        url = strdup(inline_url);
        if (!url)
            return pw_err_set(err, "out of memory"), NULL;
    }
    if (check_url(url, &e) < 0) {
        char red[128];
        pw_url_redact(url, red, sizeof red);
        pw_err_set(err, "%s:%d: %s%s: %s (%s)", file, line, key,
                   url_file ? "_file" : "", e.msg, red);
        free(url);
        return NULL;
    }
    return url;
}

static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

static bool header_value_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n' || *s == '\0')
            return false;
    return true;
}

static void target_free(struct pw_target *t)
{
    free(t->url);
    free(t->url_redacted);
    for (size_t i = 0; i < t->n_headers; i++)
        free(t->headers[i]);
    free(t->headers);
    if (t->hmac_key) {
        memset(t->hmac_key, 0, t->hmac_key_len);
        free(t->hmac_key);
    }
    free(t->channel);
    free(t->topic);
    free(t->tls_ca_file);
    free(t->tls_cert_file);
    free(t->tls_key_file);
}

static int set_url(struct pw_target *t, char *url)
{
    char red[160];
    t->url = url;
    pw_url_redact(url, red, sizeof red);
    t->url_redacted = strdup(red);
    return t->url_redacted ? 0 : -1;
}

static int tls_file(const char *file, int line, const char *key,
                    const char *name, const char *path, char **out,
                    struct pw_err *err)
{
    if (!path)
        return 0;
    if (access(path, R_OK) != 0)
        return pw_err_set(err, "%s:%d: %s.http_config.tls_config.%s: cannot "
                          "read %s: %s", file, line, key, name, path,
                          strerror(errno));
    if (!(*out = strdup(path)))
        return pw_err_set(err, "out of memory");
    return 0;
}

/* http_config.tls_config into the target: files checked now, so that
 * --check-config catches a wrong path. */
static int resolve_tls(const char *file, int line, const char *key,
                       const struct pw_tls_config *c, struct pw_target *t,
                       struct pw_err *err)
{
    if ((c->cert_file != NULL) != (c->key_file != NULL))
        return pw_err_set(err, "%s:%d: %s.http_config.tls_config: set both "
                          "cert_file and key_file, or neither", file, line, key);
    if (tls_file(file, line, key, "ca_file", c->ca_file, &t->tls_ca_file, err) < 0 ||
        tls_file(file, line, key, "cert_file", c->cert_file, &t->tls_cert_file,
                 err) < 0 ||
        tls_file(file, line, key, "key_file", c->key_file, &t->tls_key_file,
                 err) < 0)
        return -1;
    t->tls_insecure_skip_verify = c->insecure_skip_verify;
    if (c->insecure_skip_verify)
        pw_log(PW_WARN, "%s:%d: %s.http_config.tls_config.insecure_skip_verify: "
               "the receiver's TLS certificate will not be verified (%s)",
               file, line, key, t->url_redacted);
    return 0;
}

static int resolve_webhook(const char *file, const char *key,
                           const struct pw_webhook_config *c,
                           struct pw_target *t, struct pw_err *err)
{
    char k[240];
    snprintf(k, sizeof k, "%s.url", key);
    char *url = resolve_url(file, c->line, k, c->url, c->url_file, err);
    if (!url)
        return -1;
    if (set_url(t, url) < 0)
        return pw_err_set(err, "out of memory");
    if (c->headers.len) {
        t->headers = calloc(c->headers.len, sizeof *t->headers);
        if (!t->headers)
            return pw_err_set(err, "out of memory");
    }
    for (size_t i = 0; i < c->headers.len; i++) {
        const struct pw_kv *h = &c->headers.items[i];
        if (!header_name_ok(h->key))
            return pw_err_set(err, "%s:%d: %s.headers: \"%s\" is not a valid "
                              "header name", file, h->line, key, h->key);
        if (!header_value_ok(h->value))
            return pw_err_set(err, "%s:%d: %s.headers.%s: the value contains "
                              "a line break", file, h->line, key, h->key);
        if (asprintf(&t->headers[t->n_headers], "%s: %s", h->key, h->value) < 0)
            return pw_err_set(err, "out of memory");
        t->n_headers++;
    }
    if (c->hmac_secret_file && c->hmac_secret_env)
        return pw_err_set(err, "%s:%d: %s: set at most one of hmac_secret_file "
                          "and hmac_secret_env", file, c->line, key);
    if (c->hmac_secret_file) {
        struct pw_err e = {{0}};
        char *s = read_secret(c->hmac_secret_file, &t->hmac_key_len, &e);
        if (!s)
            return pw_err_set(err, "%s:%d: %s.hmac_secret_file: %s", file,
                              c->line, key, e.msg);
        t->hmac_key = (unsigned char *)s;
    } else if (c->hmac_secret_env) {
        const char *v = getenv(c->hmac_secret_env);
        if (!v || !*v)
            return pw_err_set(err, "%s:%d: %s.hmac_secret_env: the environment "
                              "variable %s is not set or empty", file, c->line,
                              key, c->hmac_secret_env);
        t->hmac_key = (unsigned char *)strdup(v);
        if (!t->hmac_key)
            return pw_err_set(err, "out of memory");
        t->hmac_key_len = strlen(v);
    }
    t->max_alerts = (size_t)c->max_alerts;
    t->send_resolved = c->send_resolved;
    t->timeout_ms = c->timeout_ms;
    return resolve_tls(file, c->line, key, &c->http_config.tls_config, t, err);
}

static int resolve_slack(const char *file, const char *key,
                         const struct pw_slack_config *c, struct pw_target *t,
                         struct pw_err *err)
{
    char k[240];
    snprintf(k, sizeof k, "%s.api_url", key);
    char *url = resolve_url(file, c->line, k, c->api_url, c->api_url_file, err);
    if (!url)
        return -1;
    if (set_url(t, url) < 0)
        return pw_err_set(err, "out of memory");
    if (c->channel && !(t->channel = strdup(c->channel)))
        return pw_err_set(err, "out of memory");
    t->send_resolved = c->send_resolved;
    t->timeout_ms = c->timeout_ms;
    return resolve_tls(file, c->line, key, &c->http_config.tls_config, t, err);
}

static int resolve_log(const char *file, const char *key,
                       const struct pw_log_config *c, struct pw_target *t,
                       struct pw_err *err)
{
    if (pw_log_level_parse(c->level, &t->log_level) < 0)
        return pw_err_set(err, "%s:%d: %s.level: expected debug, info, warn or "
                          "error, got \"%s\"", file, c->line, key, c->level);
    t->send_resolved = c->send_resolved;
    return 0;
}

static int resolve_kafka(const char *file, const char *key,
                         const struct pw_kafka_receiver_config *c,
                         struct pw_target *t, struct pw_err *err)
{
    if (!c->topic || !*c->topic)
        return pw_err_set(err, "%s:%d: %s.topic: must not be empty", file,
                          c->line, key);
    if (!(t->topic = strdup(c->topic)))
        return pw_err_set(err, "out of memory");
    t->send_resolved = c->send_resolved;
    return 0;
}

static int resolve_receiver(const char *file, size_t idx,
                            const struct pw_receiver_config *c,
                            struct pw_receiver *r, struct pw_err *err)
{
    if (!c->name || !*c->name)
        return pw_err_set(err, "%s:%d: receivers[%zu].name: must not be empty",
                          file, c->line, idx);
    if (!(r->name = strdup(c->name)))
        return pw_err_set(err, "out of memory");
    r->rate_limit = c->rate_limit;
    r->rate_burst = (double)c->rate_burst;
    size_t n = c->webhook_configs.len + c->slack_configs.len +
               c->log_configs.len + c->kafka_configs.len;
    if (n == 0)
        return 0;   /* Alertmanager allows a receiver that sends nothing */
    r->targets = calloc(n, sizeof *r->targets);
    if (!r->targets)
        return pw_err_set(err, "out of memory");
    const struct pw_section_list *lists[] = {
        &c->webhook_configs, &c->slack_configs, &c->log_configs,
        &c->kafka_configs};
    const char *list_names[] = {"webhook_configs", "slack_configs",
                                "log_configs", "kafka_configs"};
    for (int kind = 0; kind < 4; kind++) {
        for (size_t j = 0; j < lists[kind]->len; j++) {
            struct pw_target *t = &r->targets[r->n_targets++];
            char key[160];
            snprintf(key, sizeof key, "receivers[%zu].%s[%zu]", idx,
                     list_names[kind], j);
            t->kind = (enum pw_target_kind)kind;
            snprintf(t->config_name, sizeof t->config_name, "%s[%zu]",
                     pw_target_kind_name(t->kind), j);
            int rc = 0;
            switch (t->kind) {
            case PW_TARGET_WEBHOOK:
                rc = resolve_webhook(file, key,
                    &((const struct pw_webhook_config *)lists[kind]->items)[j],
                    t, err);
                break;
            case PW_TARGET_SLACK:
                rc = resolve_slack(file, key,
                    &((const struct pw_slack_config *)lists[kind]->items)[j],
                    t, err);
                break;
            case PW_TARGET_LOG:
                rc = resolve_log(file, key,
                    &((const struct pw_log_config *)lists[kind]->items)[j],
                    t, err);
                break;
            case PW_TARGET_KAFKA:
                rc = resolve_kafka(file, key,
                    &((const struct pw_kafka_receiver_config *)
                          lists[kind]->items)[j],
                    t, err);
                break;
            }
            if (rc < 0)
                return -1;
        }
    }
    return 0;
}

struct pw_receivers *pw_receivers_new(const char *file,
                                      const struct pw_section_list *list,
                                      struct pw_err *err)
{
    if (!file)
        file = "(config)";
    struct pw_receivers *r = calloc(1, sizeof *r);
    if (!r || (list->len && !(r->v = calloc(list->len, sizeof *r->v)))) {
        free(r);
        return pw_err_set(err, "out of memory"), NULL;
    }
    const struct pw_receiver_config *items = list->items;
    for (size_t i = 0; i < list->len; i++) {
        for (size_t j = 0; j < i; j++)
            if (items[i].name && items[j].name &&
                strcmp(items[i].name, items[j].name) == 0) {
                pw_err_set(err, "%s:%d: receivers[%zu].name: \"%s\" is already "
                           "the name of receivers[%zu] (line %d)", file,
                           items[i].line, i, items[i].name, j, items[j].line);
                pw_receivers_free(r);
                return NULL;
            }
        r->n++;
        if (resolve_receiver(file, i, &items[i], &r->v[i], err) < 0) {
            pw_receivers_free(r);
            return NULL;
        }
    }
    return r;
}

void pw_receivers_free(struct pw_receivers *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->v[i].n_targets; j++)
            target_free(&r->v[i].targets[j]);
        free(r->v[i].targets);
        free(r->v[i].name);
    }
    free(r->v);
    free(r);
}

const struct pw_receiver *pw_receivers_find(const struct pw_receivers *r,
                                            const char *name)
{
    for (size_t i = 0; r && name && i < r->n; i++)
        if (strcmp(r->v[i].name, name) == 0)
            return &r->v[i];
    return NULL;
}

const struct pw_target *pw_receiver_target(const struct pw_receiver *rcv,
                                           const char *config_name)
{
    for (size_t i = 0; rcv && config_name && i < rcv->n_targets; i++)
        if (strcmp(rcv->targets[i].config_name, config_name) == 0)
            return &rcv->targets[i];
    return NULL;
}
