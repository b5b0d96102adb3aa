/* common/kafka.h — Kafka client setup from the configuration.
 *
 * Every librdkafka property passes through from the `kafka:` map of a
 * program's configuration, so TLS, SASL, timeouts and compression need no
 * code of ours. Our defaults are applied first and the user's map overrides
 * them; a property librdkafka rejects is reported with the file, line and
 * key it came from (`agent.yaml:7: kafka.sasl.mechanism: ...`).
 *
 * Secrets need not be written in the configuration: a property name with
 * "_file" appended (`sasl.password_file: /etc/pipewatch/kafka.pw`) sets the
 * property to the first line of that file (surrounding white space
 * removed); our buffer of it is wiped once librdkafka has its copy, and
 * no message quotes it. librdkafka has no property ending in "_file".
 *
 * Producers are idempotent by default (no duplicates or reordering from
 * librdkafka's own retries). Consumers are at-least-once: offsets are stored
 * by the application after a message's effects are durable
 * (enable.auto.offset.store=false) and committed in the background. */
#ifndef PW_KAFKA_H
#define PW_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "common/config.h"
#include "common/err.h"

/* Builds a configuration: `defaults` (a NULL-terminated list of name, value
 * pairs; may be NULL), then every entry of `props` (may be NULL). Returns a
 * conf the caller owns, or NULL with err set. */
rd_kafka_conf_t *pw_kafka_conf_new(const char *const *defaults,
                                   const struct pw_kv_list *props,
                                   struct pw_err *err);

/* A producer: idempotent, lz4 compression, linger 50 ms, murmur2 partitioner,
 * then the program's own `defaults` (name, value pairs, NULL-terminated; may
 * be NULL), then `props`, which override all of them. `dr_cb` (may be NULL) receives delivery reports through
 * rd_kafka_poll(); `opaque` is its rd_kafka_opaque(). The caller polls. */
rd_kafka_t *pw_kafka_producer_new(
    const char *const *defaults, const struct pw_kv_list *props,
    void (*dr_cb)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque),
    void *opaque, struct pw_err *err);

/* A consumer in `group_id` (required unless props sets group.id), reading
 * from the earliest offset when the group has none, with offsets stored by
 * the application (see above). The main queue is redirected to the consumer
 * queue, so rd_kafka_consumer_poll() serves every callback. */
rd_kafka_t *pw_kafka_consumer_new(const struct pw_kv_list *props,
                                  const char *group_id, struct pw_err *err);

/* As pw_kafka_consumer_new, with the program's own `defaults` (applied
 * before props) and a rebalance callback (may be NULL: librdkafka's
 * default assignment) with `opaque` as its rd_kafka_opaque(). A program
 * that keeps per-partition state takes its partitions over here. */
rd_kafka_t *pw_kafka_group_consumer_new(
    const char *const *defaults, const struct pw_kv_list *props,
    const char *group_id,
    void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque),
    void *opaque, struct pw_err *err);

/* Subscribes to the given topics (n names). */
int pw_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n,
                       struct pw_err *err);

/* Checks a property map without creating a client: every name and value must
 * be accepted by librdkafka, every file property (ssl.ca.location,
 * ssl.key.location, ...) must name a readable file, and a SASL mechanism
 * must be one this librdkafka was built with. Used by --check-config and at
 * start-up; errors name FILE:LINE: kafka.KEY. */
int pw_kafka_check_props(const struct pw_kv_list *props, struct pw_err *err);

#endif
