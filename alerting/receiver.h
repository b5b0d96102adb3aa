/* alerting/receiver.h — receivers: where notifications go, as configured.
 *
 * The configuration has Alertmanager's shape (option tables, common/config.h):
 *
 *   receivers:
 *     - name: oncall
 *       rate_limit: 5            # notifications per second (0: none)
 *       rate_burst: 10
 *       webhook_configs:
 *         - url_file: /etc/pipewatch/oncall.url     # or url:
 *           headers: {X-Team: storage}
 *           hmac_secret_env: PW_ONCALL_HMAC         # or hmac_secret_file:
 *           max_alerts: 0
 *           send_resolved: true
 *           timeout: 10s
 *           http_config:
 *             tls_config:                           # for https:// URLs
 *               ca_file: /etc/pipewatch/receiver-ca.pem
 *               cert_file: ...                      # client certificate,
 *               key_file: ...                       #   both or neither
 *               insecure_skip_verify: false         # the default
 *       slack_configs:
 *         - api_url_file: /etc/pipewatch/slack.url  # or api_url:
 *           channel: "#storage"
 *       log_configs:
 *         - level: warn
 *       kafka_configs:
 *         - topic: pipewatch.alerts
 *
 * A receiver holds any number of configs of each kind; a notification for
 * the receiver is rendered and delivered once per config. A config is named
 * "KIND[INDEX]" ("webhook[0]", "slack[1]") within its receiver: that name,
 * the receiver's and the notification's idempotency key identify one
 * delivery in the outbox.
 *
 * Secrets. URLs carry tokens (Slack's do), and the HMAC key is a key: they
 * may be written inline, read from a file (*_file: the file's contents,
 * trailing whitespace removed) or from the environment (hmac_secret_env).
 * They are resolved once, by pw_receivers_new, and never appear in a log line
 * or an error message: URLs are shown redacted by pw_url_redact
 * ("https://hooks.slack.com/…").
 *
 * TLS. An https:// receiver's certificate is always verified (against the
 * system's CAs, or tls_config.ca_file) unless insecure_skip_verify is set,
 * which pw_receivers_new reports with a warning each time it resolves the
 * configuration: verification is never off silently.
 *
 * The tables are exported so that a program's configuration can include them
 * (the analyzer under `alerting:`): pw_receiver_options is the item table of
 * a `receivers:` PW_OPT_SECTION_LIST (items are struct pw_receiver_config).
 */
#ifndef PW_RECEIVER_H
#define PW_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/log.h"

/* http_config.tls_config, as Alertmanager has it. */
struct pw_tls_config {
    char *ca_file;                /* NULL: the system's CA store */
    char *cert_file, *key_file;   /* a client certificate; both or neither */
    bool insecure_skip_verify;
};

struct pw_http_config {
    struct pw_tls_config tls_config;
};

struct pw_webhook_config {
    char *url, *url_file;
    struct pw_kv_list headers;
    char *hmac_secret_file, *hmac_secret_env;
    int64_t max_alerts;           /* 0: all */
    bool send_resolved;
    int64_t timeout_ms;           /* total time of one attempt */
    struct pw_http_config http_config;
    int line;
};

struct pw_slack_config {
    char *api_url, *api_url_file;
    char *channel;                /* may be NULL: the webhook's own channel */
    bool send_resolved;
    int64_t timeout_ms;
    struct pw_http_config http_config;
    int line;
};

struct pw_log_config {
    char *level;                  /* debug, info, warn, error */
    bool send_resolved;
    int line;
};

struct pw_kafka_receiver_config {
    char *topic;
    bool send_resolved;
    int line;
};

struct pw_receiver_config {
    char *name;
    double rate_limit;            /* deliveries per second; 0: unlimited */
    int64_t rate_burst;
    struct pw_section_list webhook_configs;   /* struct pw_webhook_config */
    struct pw_section_list slack_configs;     /* struct pw_slack_config */
    struct pw_section_list log_configs;       /* struct pw_log_config */
    struct pw_section_list kafka_configs;     /* struct pw_kafka_receiver_config */
    int line;
};

/* The item table of `receivers:` (items: struct pw_receiver_config). */
extern const struct pw_option pw_receiver_options[];

/* What a notification is rendered into and how it travels. */
enum pw_target_kind {
    PW_TARGET_WEBHOOK,
    PW_TARGET_SLACK,
    PW_TARGET_LOG,
    PW_TARGET_KAFKA,
};

/* One config of one receiver, resolved: secrets read, values checked. */
struct pw_target {
    enum pw_target_kind kind;
    char config_name[32];         /* "webhook[0]" */
    char *url;                    /* webhook, slack: the secret URL */
    char *url_redacted;           /* for logs */
    char **headers;               /* "Name: value" lines, n_headers */
    size_t n_headers;
    unsigned char *hmac_key;      /* NULL: no signature */
    size_t hmac_key_len;
    size_t max_alerts;            /* 0: all */
    bool send_resolved;
    int64_t timeout_ms;
    char *tls_ca_file;            /* webhook, slack: NULL = system CAs */
    char *tls_cert_file, *tls_key_file;   /* NULL: no client certificate */
    bool tls_insecure_skip_verify;
    char *channel;                /* slack; may be NULL */
    enum pw_log_level log_level;  /* log */
    char *topic;                  /* kafka */
};

struct pw_receiver {
    char *name;
    double rate_limit;            /* per second; 0: unlimited */
    double rate_burst;
    struct pw_target *targets;
    size_t n_targets;
};

struct pw_receivers {
    struct pw_receiver *v;
    size_t n;
};

/* Checks the loaded `receivers:` list (items: struct pw_receiver_config;
 * `file` names the configuration file for errors) and resolves it: names
 * unique and non-empty, exactly one of url / url_file (api_url /
 * api_url_file), at most one of hmac_secret_file / hmac_secret_env, URLs
 * http(s), secret files readable, secret environment variables set, TLS
 * files readable (cert_file and key_file together), header names valid, log levels known, topics non-empty. Errors read
 * "FILE:LINE: receivers[I].webhook_configs[J].url_file: ..." and never
 * contain a secret. Returns a set the caller frees with pw_receivers_free,
 * or NULL with err set. The result keeps no pointer into `list`. */
struct pw_receivers *pw_receivers_new(const char *file,
                                      const struct pw_section_list *list,
                                      struct pw_err *err);
void pw_receivers_free(struct pw_receivers *r);

/* The receiver called `name`, or NULL. */
const struct pw_receiver *pw_receivers_find(const struct pw_receivers *r,
                                            const char *name);
/* The target of `rcv` called `config_name` ("webhook[0]"), or NULL. */
const struct pw_target *pw_receiver_target(const struct pw_receiver *rcv,
                                           const char *config_name);

/* Writes a form of `url` safe to log: "scheme://host[:port]/…" (no user
 * information, path or query), or "(invalid URL)". Always NUL-terminates
 * when n > 0. */
void pw_url_redact(const char *url, char *out, size_t n);

const char *pw_target_kind_name(enum pw_target_kind kind);

#endif
