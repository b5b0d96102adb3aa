/* analyzer/engine.h — samples and log lines in, predictions out.
 *
 * The engine owns the analyzer's models in service and its state
 * (analyzer/state.h) and applies the rules (analyzer/rules.h):
 *
 *   forecast   each sample of a watched series goes into its robust trend
 *              window; at most every eval_interval (sample time) the window
 *              is fitted and pw_trend_eta asked for the time to the
 *              threshold within the horizon. Fires on ETA (or PAST, with
 *              ETA 0). Confidence: the probability, under the fit's
 *              Gaussian error model, that the line is past the threshold at
 *              the horizon (Phi((mu_h - T) / sd_h), rising).
 *   anomaly    the entity's feature vector (the newest value of each
 *              configured feature) is scored by the isolation forest of
 *              the bundle in service at every tick where a feature changed,
 *              once every feature has been seen. Fires when the score
 *              reaches the threshold (the rule's, or the bundle's
 *              calibrated one). Confidence: how far past the threshold the
 *              score is, (s - thr) / (1 - thr), clipped to [0, 1].
 *              Evidence: the features that isolated the point
 *              (pw_iforest_attribute), largest first.
 *   log burst  every log line is tagged (models/tagger.h); a line of the
 *              rule's category enters the entity's window; fires when more
 *              than `count` fall within `window`. Confidence: the mean
 *              probability the tagger gave those lines. Evidence: the
 *              templates seen.
 *
 * Hysteresis: a prediction fires on the first true evaluation and
 * resolves only once its condition has been false for the rule's
 * clear_for, so that an ETA hovering at the horizon does not flap.
 *
 * Time is event time: the timestamps of the samples and lines, and the
 * newest of them as "now" for ticks. A replay at accelerated time or a
 * re-processing after a restart therefore gives the same predictions as
 * the live run did.
 *
 * Events are handed to a callback as they happen: on firing, on resolving,
 * and while firing at most every refresh interval (with the new ETA). Each
 * carries its JSON (the pipewatch.predictions record, version 1,
 * docs/predictions.md). Not thread-safe. */
#ifndef PW_ANALYZER_ENGINE_H
#define PW_ANALYZER_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyzer/ingest.h"
#include "analyzer/rules.h"
#include "analyzer/state.h"
#include "common/err.h"
#include "models/iforest.h"
#include "models/logclass.h"

#define PW_PREDICTION_VERSION 1

struct pw_engine_rule {
    const char *name;           /* unique; the alert name */
    struct pw_rule rule;        /* parsed; borrowed */
    const char *severity;       /* "critical", "warning", "info" */
    int64_t clear_for_ms;       /* hysteresis */
};

struct pw_engine_config {
    const struct pw_engine_rule *rules;   /* borrowed */
    size_t nrules;
    const char *const *features;          /* borrowed; anomaly features */
    size_t nfeatures;
    int64_t eval_interval_ms;             /* forecast evaluations per watch */
    int64_t refresh_ms;                   /* re-emit a firing prediction */
    size_t trend_capacity;                /* samples per trend window */
    struct pw_hw_model default_model;     /* for series without their own */
};

/* What the bundle in service supplies. Everything is borrowed until the
 * next pw_engine_set_models; NULL/0 parts mean "none". */
struct pw_engine_models {
    const struct pw_iforest *forest;      /* features in config order */
    double anomaly_threshold;             /* calibrated; NAN = none */
    const struct pw_logclass *logclass;   /* NULL: the default tagger model */
    const struct pw_hw_model *hw;         /* per metric: hw[i] for hw_names[i] */
    const char *const *hw_names;          /* "measurement.field" */
    size_t nhw;
};

enum pw_prediction_status { PW_PRED_FIRING, PW_PRED_RESOLVED };

struct pw_prediction {
    enum pw_prediction_status status;
    bool update;                  /* a refresh of a firing prediction */
    const char *entity;
    const char *rule;             /* the rule's name */
    const char *expr;             /* its canonical text */
    enum pw_rule_kind kind;
    const char *severity;
    const char *series;           /* forecast: the series key; else NULL */
    double eta_s;                 /* seconds from at_ns; NAN when not a forecast */
    double confidence;
    int64_t first_seen_ns;
    int64_t at_ns;
    char fingerprint[17];         /* hex of a 64-bit hash: entity, rule, series */
    const char *summary;          /* one human sentence */
    const char *json;             /* the whole record */
};

typedef void (*pw_prediction_fn)(const struct pw_prediction *p, void *arg);

struct pw_engine_stats {
    uint64_t samples;
    uint64_t samples_rejected;    /* by the forecast state (backwards, early) */
    uint64_t log_lines;
    uint64_t evaluations;
    uint64_t scored;
    uint64_t fired[3];            /* by kind */
    uint64_t resolved[3];
};

struct pw_engine;

/* logclass_default: the classifier used when the bundle has none
 * (borrowed; may be NULL: log lines are then only mined). */
struct pw_engine *pw_engine_new(const struct pw_engine_config *cfg,
                                const struct pw_logclass *logclass_default,
                                pw_prediction_fn fn, void *arg,
                                struct pw_err *err);
void pw_engine_free(struct pw_engine *e);

/* Swaps the models in service. Series keep their state: a new
 * Holt-Winters model applies from their next sample. 0 or -1 (the old
 * models stay) when the forest's feature count does not match the
 * configuration. */
int pw_engine_set_models(struct pw_engine *e, const struct pw_engine_models *m,
                         struct pw_err *err);

void pw_engine_sample(struct pw_engine *e, const struct pw_sample *s, int32_t partition);
void pw_engine_log(struct pw_engine *e, const struct pw_log_record *rec,
                   int32_t partition);

/* Scores the entities whose features changed and resolves predictions
 * whose condition has been false for clear_for, at event time now_ns (0:
 * the newest timestamp seen). Call it about once a second. */
void pw_engine_tick(struct pw_engine *e, int64_t now_ns);

struct pw_state *pw_engine_state(struct pw_engine *e);
const struct pw_engine_stats *pw_engine_stats(const struct pw_engine *e);
int64_t pw_engine_watermark_ns(const struct pw_engine *e);

/* Every prediction now firing, as a JSON array (for /api/v1/predictions);
 * appended to out. */
void pw_engine_active_json(struct pw_engine *e, struct pw_buf *out);

#endif
