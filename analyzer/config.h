/* analyzer/config.h — the analyzer's configuration: its keys and how it
 * loads. The rules are checked here too (analyzer/rules.h), so that
 * --check-config catches a bad rule with its file and line. */
#ifndef PW_ANALYZER_CONFIG_H
#define PW_ANALYZER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "alerting/service.h"
#include "common/config.h"

struct pw_analyzer_rule_config {
    char *name;
    char *expr;
    char *severity;
    int64_t clear_for_ms;
    int line;                 /* where the item starts, for errors */
};

struct pw_analyzer_config {
    char *log_level;
    struct pw_kv_list kafka;
    char *group_id;
    struct {
        char *metrics, *logs, *predictions, *state, *dead_letter;
    } topics;
    char *format;             /* auto, influx, collectd, telegraf */
    char *entity_tag;
    struct {
        char *dir;            /* the models directory (models/store.h), or "" */
        int64_t check_interval_ms;
        char *tagger_tsv;     /* the default log tagger's training file */
    } models;
    struct {
        int64_t interval_ms;  /* checkpoint + commit */
        int64_t restore_timeout_ms;
    } checkpoint;
    struct {
        int64_t eval_interval_ms;
        int64_t refresh_ms;
        int64_t trend_samples;
        int64_t step_ms;
        int64_t season;
    } forecast;
    struct pw_str_list features;
    struct pw_section_list rules;     /* of struct pw_analyzer_rule_config */
    struct {
        char *listen;
        char *token_file;
    } status;
    int64_t max_message_bytes;
    struct pw_alerting_config alerting;
    char *file;               /* the file it was loaded from ("" for defaults) */
};

extern const struct pw_option pw_analyzer_options[];

/* Loads path into *c (the caller releases it with pw_analyzer_config_release
 * whatever the result), then checks what the table cannot: every rule
 * parses, rule names are unique, the format is known, and (need_kafka) the
 * Kafka properties name bootstrap.servers and librdkafka accepts them. */
int pw_analyzer_config_load(const char *path, bool need_kafka,
                            struct pw_analyzer_config *c, struct pw_err *err);
void pw_analyzer_config_release(struct pw_analyzer_config *c);

#endif
