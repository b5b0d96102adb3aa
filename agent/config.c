/* agent/config.c — the agent's option table and the checks it cannot
 * express (host-name default, Kafka properties validated by librdkafka). */
#include "agent/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/log.h"

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)

static const struct pw_option topics_options[] = {
    {"metrics", PW_OPT_STRING, offsetof(struct pw_agent_config, topics.metrics) -
                                   offsetof(struct pw_agent_config, topics),
     "pipewatch.metrics", false, 0, 0, NULL,
     "Topic for samples (Influx line protocol, key = entity)."},
    {"logs", PW_OPT_STRING, offsetof(struct pw_agent_config, topics.logs) -
                                offsetof(struct pw_agent_config, topics),
     "pipewatch.logs", false, 0, 0, NULL,
     "Topic for log records (newline-delimited JSON {ts, entity, source, line}, "
     "key = entity)."},
    {0},
};

#define SPOOL_OFF(f) (offsetof(struct pw_agent_config, spool.f) - \
                      offsetof(struct pw_agent_config, spool))
static const struct pw_option spool_options[] = {
    {"path", PW_OPT_STRING, SPOOL_OFF(path), "/var/lib/pipewatch/agent-spool.db",
     false, 0, 0, NULL,
     "SQLite file holding every message until Kafka acknowledges it."},
    {"max_bytes", PW_OPT_SIZE, SPOOL_OFF(max_bytes), "256MiB", false, 64 * KIB,
     1024.0 * 1024 * MIB, NULL,
     "Bound on spooled payload; when full the oldest messages are dropped (and "
     "counted)."},
    {"max_inflight", PW_OPT_INT, SPOOL_OFF(max_inflight), "1000", false, 1, 1000000,
     NULL, "Messages handed to librdkafka at once; the rest wait on disk."},
    {"retry_backoff", PW_OPT_DURATION, SPOOL_OFF(retry_backoff_ms), "5s", false,
     10, 600000, NULL,
     "Pause before re-sending messages whose delivery failed (e.g. timed out "
     "while the cluster was away)."},
    {0},
};

static const struct pw_option status_options[] = {
    {"listen", PW_OPT_STRING,
     offsetof(struct pw_agent_config, status.listen) -
         offsetof(struct pw_agent_config, status),
     "127.0.0.1:9273", false, 0, 0, NULL,
     "Address of the HTTP status port (/metrics in Prometheus text format, "
     "/healthz); empty to disable. Loopback by default."},
    {"token_file", PW_OPT_STRING,
     offsetof(struct pw_agent_config, status.token_file) -
         offsetof(struct pw_agent_config, status),
     NULL, false, 0, 0, NULL,
     "A file whose first line is a bearer token: every request but /healthz "
     "must then send \"Authorization: Bearer TOKEN\" (Prometheus: "
     "authorization.credentials_file)."},
    {0},
};

static const struct pw_option top_options[] = {
    {"entity", PW_OPT_STRING, offsetof(struct pw_agent_config, entity), NULL,
     false, 0, 0, NULL,
     "Name of what this agent watches: the key of every message (default: the "
     "host name)."},
    {"log_level", PW_OPT_STRING, offsetof(struct pw_agent_config, log_level),
     "info", false, 0, 0, NULL, "debug, info, warn or error."},
    {"kafka", PW_OPT_MAP, offsetof(struct pw_agent_config, kafka), NULL, false, 0,
     0, NULL,
     "librdkafka properties, passed through (bootstrap.servers is required; "
     "TLS and SASL go here; NAME_file: FILE sets NAME to FILE's first line, "
     "for secrets; docs/security.md)."},
    {"topics", PW_OPT_SECTION, offsetof(struct pw_agent_config, topics), NULL,
     false, 0, 0, topics_options, "Topic names."},
    {"max_message_bytes", PW_OPT_SIZE,
     offsetof(struct pw_agent_config, max_message_bytes), "256KiB", false, 1024,
     16 * MIB, NULL,
     "Samples of one collection (and log records) are split into messages of "
     "at most this size."},
    {"spool", PW_OPT_SECTION, offsetof(struct pw_agent_config, spool), NULL, false,
     0, 0, spool_options, "The on-disk spool that keeps data while Kafka is away."},
    {"shutdown_timeout", PW_OPT_DURATION,
     offsetof(struct pw_agent_config, shutdown_timeout_ms), "5s", false, 0, 300000,
     NULL,
     "On SIGTERM, how long to wait for Kafka to acknowledge in-flight messages "
     "(the rest stay in the spool)."},
    {"status", PW_OPT_SECTION, offsetof(struct pw_agent_config, status), NULL,
     false, 0, 0, status_options, "The local HTTP status port."},
};

int pw_agent_schema_init(struct pw_agent_schema *s, struct pw_err *err)
{
    memset(s, 0, sizeof *s);
    size_t ntop = sizeof top_options / sizeof top_options[0];
    memcpy(s->top, top_options, sizeof top_options);
    size_t off = 0;
    for (size_t i = 0; pw_collectors[i]; i++) {
        const struct pw_collector_ops *ops = pw_collectors[i];
        if (i >= PW_AGENT_MAX_COLLECTORS ||
            off + ops->config_size > PW_AGENT_COLLECTOR_SPACE)
            return pw_err_set(err, "too many collectors for the agent's "
                              "configuration block (raise PW_AGENT_COLLECTOR_SPACE)");
        s->offset[i] = off;
        s->collectors[i] = (struct pw_option){
            ops->name, PW_OPT_SECTION, off, NULL, false, 0, 0, ops->options,
            "Collector settings.",
        };
        off += (ops->config_size + 15) & ~(size_t)15;
        s->ncollectors = i + 1;
    }
    s->top[ntop] = (struct pw_option){
        "collectors", PW_OPT_SECTION, offsetof(struct pw_agent_config, collectors),
        NULL, false, 0, 0, s->collectors, "One section per collector, by name.",
    };
    return 0;
}

const void *pw_agent_collector_config(const struct pw_agent_schema *s,
                                      const struct pw_agent_config *c, size_t i)
{
    return c->collectors + s->offset[i];
}

static bool has_prop(const struct pw_kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return true;
    return false;
}

int pw_agent_config_load(const struct pw_agent_schema *s, const char *path,
                         bool need_kafka, struct pw_agent_config *c,
                         struct pw_err *err)
{
    memset(c, 0, sizeof *c);
    int rc = path ? pw_config_load(path, s->top, c, err)
                  : pw_config_defaults(s->top, c, err);
    if (rc < 0)
        return -1;
    const char *where = path ? path : "(defaults)";
    if (!c->entity || !c->entity[0]) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            return pw_err_set(err, "%s: entity: not set and the host name is "
                              "unknown; set entity", where);
        free(c->entity);
        c->entity = strdup(host);
        if (!c->entity)
            return pw_err_set(err, "out of memory");
    }
    if (c->log_level) {
        enum pw_log_level lv;
        if (pw_log_level_parse(c->log_level, &lv) < 0)
            return pw_err_set(err, "%s: log_level: expected debug, info, warn or "
                              "error, got \"%s\"", where, c->log_level);
    }
    if (!c->topics.metrics || !c->topics.metrics[0])
        return pw_err_set(err, "%s: topics.metrics: must not be empty", where);
    if (!c->topics.logs || !c->topics.logs[0])
        return pw_err_set(err, "%s: topics.logs: must not be empty", where);
    for (size_t i = 0; i < s->ncollectors; i++)
        if (pw_collectors[i]->check &&
            pw_collectors[i]->check(pw_agent_collector_config(s, c, i), where, err) < 0)
            return -1;
    if (need_kafka) {
        if (!has_prop(&c->kafka, "bootstrap.servers"))
            return pw_err_set(err, "%s: kafka.bootstrap.servers: required key "
                              "is missing", where);
        if (pw_kafka_check_props(&c->kafka, err) < 0)
            return -1;
        if (!c->spool.path || !c->spool.path[0])
            return pw_err_set(err, "%s: spool.path: must not be empty", where);
    }
    return 0;
}

void pw_agent_config_release(const struct pw_agent_schema *s,
                             struct pw_agent_config *c)
{
    pw_config_release(s->top, c);
}
