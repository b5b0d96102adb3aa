/* analyzer/config.c — the analyzer's option tables (config.h). */
#include "analyzer/config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/ingest.h"
#include "analyzer/rules.h"
#include "common/kafka.h"

#define C struct pw_analyzer_config
#define R struct pw_analyzer_rule_config
/* Offsets in a nested table are relative to its section's struct. */
#define SUB(sec, f) (offsetof(C, sec.f) - offsetof(C, sec))

static const struct pw_option topics_options[] = {
    {"metrics", PW_OPT_STRING, SUB(topics, metrics), "pipewatch.metrics", false,
     0, 0, NULL, "Topic of the metrics (line protocol, collectd or Telegraf JSON)."},
    {"logs", PW_OPT_STRING, SUB(topics, logs), "pipewatch.logs", false, 0, 0,
     NULL, "Topic of the log records (JSON {ts, entity, source, line}); \"\" for none."},
    {"predictions", PW_OPT_STRING, SUB(topics, predictions),
     "pipewatch.predictions", false, 0, 0, NULL,
     "Where prediction events go (JSON, docs/predictions.md); \"\" for none."},
    {"state", PW_OPT_STRING, SUB(topics, state), "pipewatch.state", false, 0, 0,
     NULL, "The compacted topic of entity checkpoints (key = entity); it needs at "
     "least as many partitions as the metrics topic."},
    {"dead_letter", PW_OPT_STRING, SUB(topics, dead_letter), "", false, 0, 0,
     NULL, "Where malformed messages are copied; \"\" for nowhere (they are "
     "counted and skipped either way)."},
    {0},
};

static const struct pw_option models_options[] = {
    {"dir", PW_OPT_STRING, SUB(models, dir), "", false, 0, 0, NULL,
     "The models directory pipewatch-train promotes into; \"\" to run on the "
     "defaults (no anomaly model)."},
    {"check_interval", PW_OPT_DURATION, SUB(models, check_interval_ms), "5s",
     false, 100, 3600000, NULL,
     "How often the directory is checked for a newly promoted bundle (SIGHUP "
     "checks at once)."},
    {"tagger_tsv", PW_OPT_STRING, SUB(models, tagger_tsv), "", false, 0, 0,
     NULL, "Training file of the default log tagger; \"\" for the installed one."},
    {0},
};

static const struct pw_option checkpoint_options[] = {
    {"interval", PW_OPT_DURATION, SUB(checkpoint, interval_ms), "10s", false,
     100, 3600000, NULL,
     "How often changed entities are checkpointed and offsets committed: a "
     "restart re-processes at most this much."},
    {"restore_timeout", PW_OPT_DURATION, SUB(checkpoint, restore_timeout_ms),
     "30s", false, 100, 3600000, NULL,
     "Longest wait for one partition's checkpoints on assignment."},
    {0},
};

static const struct pw_option forecast_options[] = {
    {"eval_interval", PW_OPT_DURATION, SUB(forecast, eval_interval_ms), "10s",
     false, 0, 86400000, NULL,
     "Forecast rules are evaluated at most this often per series (sample time)."},
    {"refresh", PW_OPT_DURATION, SUB(forecast, refresh_ms), "5m", false, 0,
     86400000, NULL, "A firing prediction is re-sent with its new ETA this often."},
    {"trend_samples", PW_OPT_INT, SUB(forecast, trend_samples), "120", false,
     10, 100000, NULL, "Samples in a watched series' trend window."},
    {"step", PW_OPT_DURATION, SUB(forecast, step_ms), "10s", false, 1, 86400000,
     NULL, "Nominal sampling step of the default Holt-Winters model."},
    {"season", PW_OPT_INT, SUB(forecast, season), "0", false, 0, 2016, NULL,
     "Season period of the default model, in steps (0: none)."},
    {0},
};

static const struct pw_option rule_options[] = {
    {"name", PW_OPT_STRING, offsetof(R, name), NULL, true, 0, 0, NULL,
     "The rule's name: the alert name, unique."},
    {"expr", PW_OPT_STRING, offsetof(R, expr), NULL, true, 0, 0, NULL,
     "What to look for: \"fs.used_percent > 95 within 6h\", \"anomaly > "
     "calibrated\", \"log category out_of_memory > 3 per 5m\" (docs/analyzer.md)."},
    {"severity", PW_OPT_STRING, offsetof(R, severity), "warning", false, 0, 0, NULL,
     "critical, warning or info."},
    {"clear_for", PW_OPT_DURATION, offsetof(R, clear_for_ms), "5m", false, 0,
     86400000, NULL,
     "A prediction resolves after its condition has been false this long."},
    PW_OPT_ITEM_END_LINE(R, line),
};

static const struct pw_option status_options[] = {
    {"listen", PW_OPT_STRING, SUB(status, listen), "127.0.0.1:9466", false, 0,
     0, NULL, "HOST:PORT of /metrics, /healthz and /api/v1/predictions; \"\" for none."},
    {"token_file", PW_OPT_STRING, SUB(status, token_file), NULL, false, 0, 0, NULL,
     "A file whose first line is a bearer token: every request but /healthz "
     "must then send \"Authorization: Bearer TOKEN\" (Prometheus: "
     "authorization.credentials_file; pipewatch-ctl: $PIPEWATCH_TOKEN)."},
    {0},
};

const struct pw_option pw_analyzer_options[] = {
    {"log_level", PW_OPT_STRING, offsetof(C, log_level), "info", false, 0, 0, NULL,
     "debug, info, warn or error."},
    {"kafka", PW_OPT_MAP, offsetof(C, kafka), NULL, false, 0, 0, NULL,
     "librdkafka properties, passed through (bootstrap.servers is required; "
     "TLS and SASL go here too; NAME_file: FILE sets NAME to FILE's first "
     "line, for secrets; docs/security.md)."},
    {"group_id", PW_OPT_STRING, offsetof(C, group_id), "pipewatch-analyzer", false, 0,
     0, NULL, "The consumer group: every analyzer of one deployment shares it."},
    {"topics", PW_OPT_SECTION, offsetof(C, topics), NULL, false, 0, 0, topics_options,
     "Kafka topics."},
    {"format", PW_OPT_STRING, offsetof(C, format), "auto", false, 0, 0, NULL,
     "Metrics format: auto, influx, collectd or telegraf."},
    {"entity_tag", PW_OPT_STRING, offsetof(C, entity_tag), "host", false, 0, 0, NULL,
     "The tag naming the entity when a message has no key."},
    {"max_message_bytes", PW_OPT_SIZE, offsetof(C, max_message_bytes), "1MiB", false,
     1024, 1073741824.0, NULL, "Larger messages are counted as malformed."},
    {"models", PW_OPT_SECTION, offsetof(C, models), NULL, false, 0, 0, models_options,
     "The model bundles in service."},
    {"checkpoint", PW_OPT_SECTION, offsetof(C, checkpoint), NULL, false, 0, 0,
     checkpoint_options, "State checkpoints and offset commits."},
    {"forecast", PW_OPT_SECTION, offsetof(C, forecast), NULL, false, 0, 0,
     forecast_options, "Forecasting defaults."},
    {"features", PW_OPT_STRING_LIST, offsetof(C, features), NULL, false, 0, 0, NULL,
     "The anomaly features per entity, as measurement.field, in the order the "
     "bundle's isolation forest was trained on."},
    {"rules", PW_OPT_SECTION_LIST, offsetof(C, rules), NULL, false, 0, 1000,
     rule_options, "Prediction rules."},
    {"status", PW_OPT_SECTION, offsetof(C, status), NULL, false, 0, 0, status_options,
     "The local HTTP status port."},
    {"alerting", PW_OPT_SECTION, offsetof(C, alerting), NULL, false, 0, 0,
     pw_alerting_options,
     "Routing predictions to people, as Alertmanager does (docs/alerting.md): on "
     "when `receivers` is given."},
    {0},
};

static bool has_prop(const struct pw_kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return true;
    return false;
}

int pw_analyzer_config_load(const char *path, bool need_kafka,
                            struct pw_analyzer_config *c, struct pw_err *err)
{
    memset(c, 0, sizeof *c);
    if (path) {
        if (pw_config_load(path, pw_analyzer_options, c, err) < 0)
            return -1;
    } else if (pw_config_defaults(pw_analyzer_options, c, err) < 0) {
        return -1;
    }
    const char *file = path ? path : "(defaults)";
    if (!(c->file = strdup(file)))
        return pw_err_set(err, "out of memory");
    enum pw_ingest_format fmt;
    if (pw_ingest_format_parse(c->format, &fmt) < 0)
        return pw_err_set(err, "%s: format: expected auto, influx, collectd or "
                          "telegraf, got \"%s\"", file, c->format);
    const R *rules = c->rules.items;
    for (size_t i = 0; i < c->rules.len; i++) {
        struct pw_rule r;
        struct pw_err e;
        int rc = pw_rule_parse(rules[i].expr, &r, &e);
        pw_rule_release(&r);
        if (rc < 0)
            return pw_err_set(err, "%s:%d: rules[%zu].expr: %s", file, rules[i].line,
                              i + 1, e.msg);
        const char *sev = rules[i].severity;
        if (strcmp(sev, "critical") && strcmp(sev, "warning") && strcmp(sev, "info"))
            return pw_err_set(err, "%s:%d: rules[%zu].severity: expected critical, "
                              "warning or info, got \"%s\"", file, rules[i].line, i + 1,
                              sev);
        for (size_t j = 0; j < i; j++)
            if (strcmp(rules[j].name, rules[i].name) == 0)
                return pw_err_set(err, "%s:%d: rules[%zu].name: \"%s\" is already the "
                                  "name of rules[%zu]", file, rules[i].line, i + 1,
                                  rules[i].name, j + 1);
    }
    for (size_t i = 0; i < c->features.len; i++)
        if (!strchr(c->features.items[i], '.'))
            return pw_err_set(err, "%s: features[%zu]: expected measurement.field, got "
                              "\"%s\"", file, i + 1, c->features.items[i]);
    if (pw_alerting_check(&c->alerting, file, err) < 0)
        return -1;
    if (need_kafka) {
        if (!has_prop(&c->kafka, "bootstrap.servers"))
            return pw_err_set(err, "%s: kafka.bootstrap.servers: required key is missing",
                              file);
        if (pw_kafka_check_props(&c->kafka, err) < 0)
            return -1;
    }
    return 0;
}

void pw_analyzer_config_release(struct pw_analyzer_config *c)
{
    pw_config_release(pw_analyzer_options, c);
    free(c->file);
    c->file = NULL;
}
