/* agent/config.h — the agent's configuration: its keys and how it loads.
 *
 * The top-level keys are a static table; the `collectors:` section is built
 * at start-up from the collector registry, each collector's keys under its
 * name, so that adding a collector never touches this file. The collectors'
 * config structs live in one block inside struct pw_agent_config at offsets
 * the schema computes. */
#ifndef PW_AGENT_CONFIG_H
#define PW_AGENT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "collectors/collector.h"
#include "common/config.h"

#define PW_AGENT_MAX_COLLECTORS 16
#define PW_AGENT_COLLECTOR_SPACE 8192

struct pw_agent_config {
    char *entity;                 /* defaulted to the host name by load */
    char *log_level;
    struct pw_kv_list kafka;      /* librdkafka properties, passed through */
    struct {
        char *metrics;
        char *logs;
    } topics;
    int64_t max_message_bytes;
    struct {
        char *path;
        int64_t max_bytes;
        int64_t max_inflight;
        int64_t retry_backoff_ms;
    } spool;
    int64_t shutdown_timeout_ms;
    struct {
        char *listen;             /* host:port, or "" for none */
        char *token_file;         /* bearer token; NULL: none */
    } status;
    _Alignas(16) unsigned char collectors[PW_AGENT_COLLECTOR_SPACE];
};

struct pw_agent_schema {
    struct pw_option top[16];
    struct pw_option collectors[PW_AGENT_MAX_COLLECTORS + 1];
    size_t ncollectors;
    size_t offset[PW_AGENT_MAX_COLLECTORS];   /* into config->collectors */
};

/* Builds the schema from the registry. Returns 0, or -1 if the collectors do
 * not fit (a build-time mistake, reported in err). */
int pw_agent_schema_init(struct pw_agent_schema *s, struct pw_err *err);

/* Loads `path` (NULL: defaults only) into *c, then applies what the table
 * cannot say: entity defaults to the host name; when `need_kafka`, the
 * kafka map must name bootstrap.servers and every property must be one
 * librdkafka accepts. Errors name file, line and key. The caller releases
 * *c with pw_agent_config_release whatever the result. */
int pw_agent_config_load(const struct pw_agent_schema *s, const char *path,
                         bool need_kafka, struct pw_agent_config *c,
                         struct pw_err *err);

void pw_agent_config_release(const struct pw_agent_schema *s,
                             struct pw_agent_config *c);

/* The config struct of collector i (registry order). */
const void *pw_agent_collector_config(const struct pw_agent_schema *s,
                                      const struct pw_agent_config *c, size_t i);

#endif
