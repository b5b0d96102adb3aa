/* analyzer/state.h — what the analyzer holds per entity and per series.
 *
 * Memory is the constraint (a million series per instance), so series live
 * in one flat array of fixed-size records, their names in one string arena,
 * and one open-addressing hash table finds a series by (entity, series
 * key): no allocation per series beyond amortised array growth. Per series:
 * the Holt-Winters state (256 B, models/holtwinters.h) and 40 B of
 * bookkeeping, plus the name. Only series a forecast rule watches carry a
 * robust trend window (models/trend.h, about 160 B per sample); they are
 * few (a disk, a consumer lag), and each such (series, rule) pair is a
 * "watch" with its own prediction state.
 *
 * Entities are fewer (hosts, pipelines) and own the per-entity parts: the
 * feature vector the isolation forest scores, the state of the anomaly and
 * log rules, the log windows. Each entity remembers the Kafka partition it
 * arrived on, so that a revoked partition's entities can be checkpointed
 * and dropped together (pw_state_drop_partition).
 *
 * Not thread-safe: one state per consumer thread. */
#ifndef PW_ANALYZER_STATE_H
#define PW_ANALYZER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer/rules.h"
#include "common/err.h"
#include "models/holtwinters.h"
#include "models/trend.h"

#define PW_NONE UINT32_MAX

/* A rule's standing for one entity (anomaly, log burst) or one watched
 * series (forecast). Hysteresis: a prediction fires on the first true
 * evaluation and resolves only after its condition has been false for
 * the rule's clear_for (see analyzer/engine.h). */
struct pw_pred {
    bool active;
    int64_t first_seen_ns;   /* when it fired (0: never) */
    int64_t last_true_ns;    /* newest evaluation that found it true */
    int64_t notified_ns;     /* when the last event was emitted */
    double eta_s;            /* forecast: seconds to the breach at last_true */
    double confidence;       /* [0, 1] */
    double value;            /* what was measured: level, score, count */
};

struct pw_series {
    struct pw_hw_state hw;   /* first: 8-byte aligned, 256 B */
    double last_value;
    uint64_t key_off;        /* arena offset of the series key (NUL-ended) */
    uint32_t key_len;
    uint32_t entity;
    uint32_t next;           /* next series of the same entity, or PW_NONE */
    uint32_t watch;          /* first watch on this series, or PW_NONE */
    uint16_t model;          /* index into the Holt-Winters models */
    uint16_t meas_len;       /* the key starts with the measurement */
    int16_t feature;         /* index among the anomaly features, or -1 */
};

struct pw_watch {
    struct pw_trend *trend;
    uint32_t series;
    uint32_t next;           /* next watch on the same series, or PW_NONE */
    uint16_t rule;
    double last_eval_s;      /* sample time of the last evaluation */
    struct pw_pred pred;
};

/* The newest `count` + 1 occurrences of one log category (a ring of
 * timestamps): "more than count per window" holds when the ring is full
 * and spans at most the window. Sized by the rule, so exact. */
struct pw_log_window {
    int64_t *ts_ns;
    uint32_t cap, head, len;
    double prob_sum;         /* the tagger's probabilities of the ring's lines */
    double *prob;
};

/* A template seen on an entity's lines, for evidence. */
#define PW_ENTITY_TEMPLATES 8
struct pw_template_count {
    long id;
    uint32_t count;
    char category[24];
};

struct pw_entity {
    char *name;
    int32_t partition;
    bool dirty;              /* changed since the last checkpoint */
    uint32_t first_series;   /* PW_NONE when none */
    uint32_t nseries;
    int64_t last_seen_ns;
    double *features;        /* nfeatures; NAN until seen */
    double anomaly_score;    /* NAN until scored */
    bool rescore;            /* a feature changed since the last score */
    struct pw_pred *preds;   /* one per rule (forecast rules unused here) */
    struct pw_log_window *logs;   /* one per rule (log burst rules only) */
    struct pw_template_count templates[PW_ENTITY_TEMPLATES];
};

struct pw_state_config {
    const struct pw_rule *rules;   /* borrowed, nrules */
    size_t nrules;
    const char *const *features;   /* "measurement.field" names; borrowed */
    size_t nfeatures;
    const struct pw_hw_model *models;   /* borrowed; models[0] is the default */
    const char *const *model_names;     /* "measurement.field", [0] unused */
    size_t nmodels;
    struct pw_trend_config trend;  /* for the watches' windows */
};

struct pw_state;

struct pw_state *pw_state_new(const struct pw_state_config *cfg, struct pw_err *err);
void pw_state_free(struct pw_state *st);

/* The entity of that name, created on first sight (on `partition`); its
 * index, or PW_NONE when memory runs out. An entity seen on another
 * partition than before moves to it. */
uint32_t pw_state_entity(struct pw_state *st, const char *name, size_t len,
                         int32_t partition);
struct pw_entity *pw_state_entity_at(struct pw_state *st, uint32_t idx);
size_t pw_state_entities(const struct pw_state *st);
/* Finds an entity by name: its index or PW_NONE. */
uint32_t pw_state_find_entity(const struct pw_state *st, const char *name, size_t len);

/* The series (entity, key), created on first sight with a cold
 * Holt-Winters state and a watch for every forecast rule that matches it
 * (meas/field are the sample's). Its index, or PW_NONE (out of memory;
 * err set). *created says whether it is new. */
uint32_t pw_state_series(struct pw_state *st, uint32_t entity, const char *key,
                         size_t key_len, size_t meas_len, const char *field,
                         size_t field_len, bool *created, struct pw_err *err);
struct pw_series *pw_state_series_at(struct pw_state *st, uint32_t idx);
const char *pw_state_series_key(const struct pw_state *st, uint32_t idx);
size_t pw_state_series_count(const struct pw_state *st);
struct pw_watch *pw_state_watch_at(struct pw_state *st, uint32_t idx);
size_t pw_state_watches(const struct pw_state *st);
const struct pw_hw_model *pw_state_model(const struct pw_state *st, uint16_t idx);
/* Replaces the Holt-Winters models (same conventions as in the config:
 * [0] the default, borrowed) and re-resolves every series' model; a series
 * whose model changed restarts cold (its state was learnt under other
 * parameters and another season). */
void pw_state_set_models(struct pw_state *st, const struct pw_hw_model *models,
                         const char *const *names, size_t n);
/* The feature index of "measurement.field", or -1. */
int pw_state_feature(const struct pw_state *st, const char *meas, size_t meas_len,
                     const char *field, size_t field_len);
const struct pw_state_config *pw_state_config(const struct pw_state *st);

/* Drops every entity last seen on `partition` (after its checkpoint), and
 * its series and watches; indices of what remains may change. Returns the
 * number of entities dropped. */
size_t pw_state_drop_partition(struct pw_state *st, int32_t partition);

/* Bytes held, approximately (tables, arena, watches' windows). */
size_t pw_state_bytes(const struct pw_state *st);

/* ---- checkpoints --------------------------------------------------------
 * One entity's whole state as bytes (little-endian, versioned), the value
 * of its record in the pipewatch.state topic. Rules are named by their
 * canonical text, so that a checkpoint taken under another configuration
 * restores what still applies and drops the rest. */
#include "common/buf.h"
int pw_state_encode_entity(const struct pw_state *st, uint32_t entity,
                           struct pw_buf *out, struct pw_err *err);
/* The same in parts of at most max_bytes each, for an entity too large for
 * one Kafka message (about 300 bytes a series, so some 3000 series pass
 * Kafka's default limit of 1 MB): each part holds the entity's own state
 * and some of its series (in key order; a series alone larger than
 * max_bytes gets a part of its own), and restoring every part with
 * pw_state_decode_entity, in any order, restores the whole entity. The
 * parts are appended to out one after another; *ends (allocated, the
 * caller frees it; NULL on failure) receives the end offset in out of
 * each. Returns the number of parts (at least 1), or -1 with err (out
 * then as it was). */
int pw_state_encode_entity_parts(const struct pw_state *st, uint32_t entity,
                                 size_t max_bytes, struct pw_buf *out, size_t **ends,
                                 struct pw_err *err);
/* Restores the entity the bytes describe, on `partition`, creating it if
 * needed: the series and watches in the checkpoint are overwritten, others
 * kept. The bytes are checked whole before anything changes: on malformed
 * bytes returns PW_NONE with err and the state is untouched. */
uint32_t pw_state_decode_entity(struct pw_state *st, const void *data, size_t len,
                                int32_t partition, struct pw_err *err);

#endif
