/* train/history.h — the history pipewatch-train fits on: series of
 * (timestamp, value[, label]) per entity and metric, read from files or a
 * Kafka topic.
 *
 * Why one shape for every source: the fit (train/fit.h) must see what the
 * analyzer sees, whatever the history came from. So a line-protocol file
 * and a Kafka topic both go through the analyzer's own ingest
 * (analyzer/ingest.h: the same entity rule, the same numeric fields, the
 * same NaN handling), and a CSV or NAB file becomes one series named by
 * the caller (entity = the file name, metric = --metric).
 *
 * Inputs:
 *   - line protocol (one point per line, as our agent writes; a line with
 *     no timestamp is an error: history without time is not history);
 *   - CSV "timestamp,value[,label]": an optional header row (any row whose
 *     value column is not a number, first row only); fields may be double
 *     quoted; the timestamp is "YYYY-MM-DD HH:MM:SS" or ISO 8601
 *     "YYYY-MM-DDTHH:MM:SS[.f][Z]" (UTC), or a number since the epoch
 *     (seconds below 1e11, milliseconds below 1e14, microseconds below
 *     1e17, else nanoseconds, as analyzer/ingest reads Telegraf's); label
 *     0 or 1. Every row must have the same number of columns;
 *   - the NAB layout (models/nabdata.h): labels from its windows;
 *   - a Kafka topic from a point in time (pw_history_read_kafka).
 * Every malformed row is an error naming the file and line; a non-finite
 * value too (in CSV; line protocol has no way to write one).
 *
 * Every byte read is hashed into `fingerprint` (SHA-256), so the bundle can
 * say exactly which data made it. */
#ifndef PW_TRAIN_HISTORY_H
#define PW_TRAIN_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/sha256.h"

struct pw_hist_series {
    char *entity;            /* owned */
    char *key;               /* the series: "measurement,tags field" as the
                                analyzer keys it (CSV/NAB: the metric); owned */
    char *metric;            /* "measurement.field", owned */
    char *cls;               /* entity class ("default" unless a class tag) */
    double *ts_s;            /* seconds since the epoch, in arrival order */
    double *values;
    uint8_t *labels;         /* NULL unless the source had labels */
    size_t n, cap;
};

struct pw_history {
    struct pw_hist_series *series;
    size_t n, cap;
    size_t rows;             /* samples over all series */
    size_t inputs;           /* files or partitions read */
    struct pw_sha256 *hash;  /* running fingerprint of every input byte */
    /* private: (entity, metric) -> series index */
    uint32_t *index;
    size_t index_cap;
};

/* 0, or -1 (out of memory). */
int pw_history_init(struct pw_history *h, struct pw_err *err);
void pw_history_free(struct pw_history *h);

/* The SHA-256 of everything read. Ends the running hash: call it once,
 * after the last read. */
void pw_history_fingerprint(const struct pw_history *h, uint8_t out[PW_SHA256_LEN]);

/* Appends one sample to the series (entity, metric), creating it with class
 * cls (NULL: "default"); its key is the metric. label < 0: none. 0 or -1
 * (out of memory). */
int pw_history_add(struct pw_history *h, const char *entity, size_t entity_len,
                   const char *metric, size_t metric_len, const char *cls,
                   double ts_s, double value, int label, struct pw_err *err);

/* The same for the series (entity, key) of metric `metric` (several series
 * of one entity may share a metric: cpu usage per core). */
int pw_history_add_series(struct pw_history *h, const char *entity, size_t entity_len,
                          const char *key, size_t key_len, const char *metric,
                          size_t metric_len, const char *cls, double ts_s, double value,
                          int label, struct pw_err *err);

/* Line protocol bytes (a file's contents, `source` names it in errors).
 * entity_tag: as the analyzer's (NULL = "host"); class_tag: the tag whose
 * value is the entity class (NULL: every entity is "default"). Returns the
 * number of samples added, or -1 with err. */
long pw_history_read_lineproto(struct pw_history *h, const char *source,
                               const char *data, size_t len, const char *entity_tag,
                               const char *class_tag, struct pw_err *err);

/* CSV bytes as above: one series (entity, metric). Returns the samples
 * added (>= 1), or -1 with err ("FILE:LINE: ..."; "FILE: no rows"). */
long pw_history_read_csv(struct pw_history *h, const char *source, const char *data,
                         size_t len, const char *entity, const char *metric,
                         struct pw_err *err);

/* A file by its name: ".csv" is CSV (entity = the file's base name without
 * .csv), anything else line protocol. Reads at most 1 GiB. */
long pw_history_read_file(struct pw_history *h, const char *path, const char *metric,
                          const char *entity_tag, const char *class_tag,
                          struct pw_err *err);

/* Every series of a NAB-layout directory (models/nabdata.h) as entity
 * "<group>/<file>.csv", metric `metric`, labelled 1 inside its windows
 * when the labels file is there. */
long pw_history_read_nab(struct pw_history *h, const char *dir, const char *metric,
                         struct pw_err *err);

/* Parses a CSV timestamp as above into seconds. 0 or -1. */
int pw_history_parse_time(const char *text, size_t len, double *ts_s);

/* Parses a duration "30s", "15m", "12h", "7d", "2w" into seconds (> 0). */
int pw_history_parse_duration(const char *text, double *seconds);

/* What pw_history_read_kafka reads. */
struct pw_kafka_source {
    const char *brokers;
    const char *topic;
    double since_s;          /* read messages from now - since_s */
    const char *entity_tag;
    const char *class_tag;
    int timeout_ms;          /* for metadata and offsets (the broker must
                                answer within it) */
    /* Called now and then with messages read and the total to read; may
     * be NULL. Returning non-zero stops the read (-1, "interrupted"). */
    int (*progress)(size_t done, size_t total, void *arg);
    void *arg;
};

/* Reads every partition of the topic from the offsets for time now -
 * since_s (rd_kafka_offsets_for_times) up to the high watermark seen at
 * the start, as a group-less consumer (commits nothing), and adds every
 * sample whose timestamp is at or after that time. A message that does not
 * parse is counted in *malformed (may be NULL) and skipped, as the analyzer
 * does. Returns the samples added, or -1 with err (unreachable brokers, an
 * unknown topic, a timeout). */
long pw_history_read_kafka(struct pw_history *h, const struct pw_kafka_source *src,
                           size_t *malformed, struct pw_err *err);

#endif
