/* analyzer/analyzer.h — the analyzer daemon: Kafka in, predictions out.
 *
 * One consumer in the group reads the metrics and logs topics; each
 * message goes through analyzer/ingest into the engine (analyzer/engine.h).
 * Predictions are produced to the predictions topic (key = entity).
 *
 * At least once, and state that moves with its partitions (as Kafka
 * Streams does it with a changelog topic):
 *   - the entity's partition on the metrics topic is also its partition on
 *     the state topic (checkpoints are produced to that partition
 *     explicitly), so a partition's state is one partition of the state
 *     topic;
 *   - every checkpoint interval, and when partitions are revoked, every
 *     changed entity is checkpointed, the producer is flushed (states and
 *     predictions acknowledged), and only then are the consumer's
 *     positions committed. A crash re-processes from the last commit, on
 *     top of the state checkpointed with it;
 *   - on assignment, each newly assigned partition's state is read back
 *     from the state topic (to its high watermark) before the partition is
 *     consumed; entities of partitions that left are dropped. The
 *     assignment strategy is "range", so that partition N of the metrics
 *     and of the logs topic (the same entities, both keyed by entity) go
 *     to the same instance.
 *
 * A malformed message is counted, logged at most once per 10 s with a
 * sample, copied to the dead-letter topic if one is configured, and
 * skipped.
 *
 * Models: the bundle in service in models.dir is loaded at start and
 * whenever `current` changes (checked every models.check_interval, or at
 * once on pw_analyzer_reload_models), verified first; a bad bundle is
 * refused and the old models kept. The swap happens between two messages:
 * none is dropped.
 *
 * Status port: /metrics, /healthz and /api/v1/predictions (JSON: the
 * predictions now firing). */
#ifndef PW_ANALYZER_H
#define PW_ANALYZER_H

#include <stddef.h>

#include "analyzer/config.h"
#include "common/err.h"

struct pw_analyzer;

/* Borrows cfg for its whole life. */
struct pw_analyzer *pw_analyzer_new(const struct pw_analyzer_config *cfg,
                                    struct pw_err *err);

/* Consumes and processes what is there for up to max_wait_ms, serves the
 * status port, ticks the engine, checkpoints when due. */
void pw_analyzer_step(struct pw_analyzer *a, int max_wait_ms);

/* Checks models.dir now (SIGHUP). */
void pw_analyzer_reload_models(struct pw_analyzer *a);

/* Final checkpoint and commit, leaves the group. Then free. */
void pw_analyzer_close(struct pw_analyzer *a);
void pw_analyzer_free(struct pw_analyzer *a);

void pw_analyzer_status_line(struct pw_analyzer *a, char *out, size_t size);

/* The engine (its counters and state), for benchmarks and tests. */
struct pw_engine;
struct pw_engine *pw_analyzer_engine(struct pw_analyzer *a);

#endif
