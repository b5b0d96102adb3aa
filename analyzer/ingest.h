/* analyzer/ingest.h — a consumed Kafka message in, samples or log records
 * out.
 *
 * The analyzer reads what our agent writes and what existing agents
 * already produce, so that a site running Telegraf or collectd can feed it
 * unchanged:
 *   - Influx line protocol (our agent; Telegraf's "influx" serializer):
 *     one or more lines per message (common/lineproto.h);
 *   - collectd's write_kafka JSON (Format JSON): an array of value lists
 *     {"values":[…],"dstypes":[…],"dsnames":[…],"time":…,"interval":…,
 *      "host":…,"plugin":…,"plugin_instance":…,"type":…,"type_instance":…};
 *     measurement = plugin, tags plugin_instance/type_instance (when not
 *     empty) and host, field = type, or type_dsname when a type has
 *     several data sources (dsnames other than "value"); time is float
 *     seconds;
 *   - Telegraf's JSON serializer: one metric {"name":…,"tags":{…},
 *     "fields":{…},"timestamp":…} or a batch {"metrics":[…]}; the
 *     timestamp's json_timestamp_units shows in its magnitude: below 1e11
 *     seconds (the default "1s"), below 1e14 milliseconds, below 1e17
 *     microseconds, else nanoseconds (json_timestamp_format, a text
 *     timestamp, is not read). A null field (what a JSON writer makes of
 *     NaN) is dropped as non-finite; collectd writes non-finite gauges and
 *     rates as null too.
 * The format is told by the first non-blank byte ('[' collectd, '{'
 * Telegraf, anything else line protocol) unless the configuration fixes it.
 *
 * A sample is one numeric field of one point: float, integer and unsigned
 * fields, booleans as 0/1; string fields are not samples and are skipped.
 *
 * The entity (whose models and predictions the sample feeds) is the
 * message key when there is one (our agent keys by entity); otherwise the
 * value of the configured entity tag (default "host"); otherwise
 * "unknown".
 *
 * A message is taken whole or not at all: it is parsed completely before
 * the first sample is handed out, so a malformed message emits nothing and
 * the caller can count it and move on. Nothing from outside is trusted:
 * sizes are bounded (a metrics message over 16 MiB, a log message over
 * 1 MiB, or a message whose series keys would take more than 16 times its
 * size is refused), numbers range-checked, NaN and infinities dropped
 * (counted in pw_ingest_stats). */
#ifndef PW_ANALYZER_INGEST_H
#define PW_ANALYZER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/lineproto.h"   /* struct pw_str */

enum pw_ingest_format {
    PW_INGEST_AUTO,
    PW_INGEST_LINEPROTO,
    PW_INGEST_COLLECTD_JSON,
    PW_INGEST_TELEGRAF_JSON,
};

/* Parses "auto", "influx", "collectd", "telegraf". 0 or -1. */
int pw_ingest_format_parse(const char *text, enum pw_ingest_format *out);

/* All slices are valid only during the callback. */
struct pw_sample {
    struct pw_str entity;
    struct pw_str measurement;
    struct pw_str field;
    /* The series identity: "measurement,k1=v1,k2=v2 field" with the tags
     * sorted by key and escaped as line protocol escapes them, so that two
     * sources naming the same series the same way meet in one series. */
    struct pw_str series;
    double value;
    int64_t ts_ns;
};

struct pw_log_record {
    struct pw_str entity;    /* the key; else the record's "entity"; else "unknown" */
    struct pw_str source;    /* "" when absent */
    struct pw_str line;
    int64_t ts_ns;
};

struct pw_ingest_stats {
    uint64_t messages;
    uint64_t samples;
    uint64_t malformed;          /* messages refused whole */
    uint64_t skipped_strings;    /* string fields (not samples) */
    uint64_t skipped_nonfinite;  /* NaN / inf values */
    uint64_t log_records;        /* log records handed out */
};

struct pw_ingest;

/* entity_tag: the tag naming the entity when the message has no key
 * (copied; NULL = "host"). */
struct pw_ingest *pw_ingest_new(enum pw_ingest_format format,
                                const char *entity_tag, struct pw_err *err);
void pw_ingest_free(struct pw_ingest *in);   /* NULL is fine */

typedef void (*pw_sample_fn)(const struct pw_sample *s, void *arg);

/* Parses one metrics message and calls fn for each sample, in message
 * order. Points without a timestamp get default_ts_ns. Returns the number
 * of samples handed out, or -1 with err ("collectd JSON: item 3: …",
 * "line 2, column 7: …") having handed out none. Reuses its buffers: no
 * allocation per message in steady state. */
int pw_ingest_metrics(struct pw_ingest *in, const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      int64_t default_ts_ns, pw_sample_fn fn, void *arg,
                      struct pw_err *err);

typedef void (*pw_log_fn)(const struct pw_log_record *r, void *arg);

/* Parses one log message and calls fn for each record, in message order.
 * A record is JSON {"ts":…,"entity":…,"source":…,"line":…} (ts: number,
 * seconds when below 1e14 else nanoseconds, or absent = default_ts_ns;
 * "line" is required). The message is one such object, or several, one per
 * line (newline-delimited JSON, as our agent's log collector batches them;
 * blank lines are skipped). A value that is neither (its first line is not a
 * JSON object) is taken as one raw line, trailing CR/LF removed (a plain
 * syslog/kcat producer; an empty one is an error). As for metrics, the
 * message is taken whole or not at all: one bad record refuses it ("log
 * record 3: no \"line\"") before any is handed out. Returns the number of
 * records handed out, or -1 with err. A record's slices are valid only
 * during the callback. */
int pw_ingest_log(struct pw_ingest *in, const void *key, size_t key_len,
                  const void *value, size_t value_len, int64_t default_ts_ns,
                  pw_log_fn fn, void *arg, struct pw_err *err);

const struct pw_ingest_stats *pw_ingest_stats(const struct pw_ingest *in);

#endif
