/* train/fit.h — models fitted on a history (train/history.h), as the
 * sections of a bundle the analyzer loads (analyzer/inservice.h).
 *
 * What is fitted:
 *   HWIN <measurement.field>  per metric: Holt-Winters parameters fitted
 *           (models/holtwinters.h, pw_hw_fit) on the metric's longest
 *           series, resampled onto its median step (the first sample in a
 *           step wins, as pw_hw_update keeps it; missing steps linearly
 *           interpolated), its newest max_train steps; the season period
 *           from the ACF (pw_hw_detect_period), none if the fit refuses it.
 *   HWIN default              a non-seasonal damped model fitted the same
 *           way on the longest series of all: for series the bundle has no
 *           model for.
 *   IFOR <class>, CALB <class>  per entity class (history.h), when
 *           features are given: an isolation forest over exactly the
 *           analyzer's feature vector (analyzer/engine.h): for each entity
 *           of the class that has every feature, at each distinct
 *           timestamp, once every feature has been seen, the newest value
 *           of each feature in the configured order. Calibrated threshold:
 *           the score quantile that flags `contamination` of the training
 *           rows, or, when the rows carry labels (a row is labelled
 *           anomalous if the newest sample of any of its features is) and
 *           no contamination was asked for, the threshold of the best F1
 *           on them (in-sample, so optimistic; `evaluate` the bundle on
 *           other data for honest figures).
 * Deterministic: the same history and options give the same sections. */
#ifndef PW_TRAIN_FIT_H
#define PW_TRAIN_FIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "models/bundle.h"
#include "models/holtwinters.h"
#include "models/iforest.h"
#include "train/history.h"

struct pw_fit_options {
    const char *const *features;   /* "measurement.field", borrowed; may be 0 */
    size_t nfeatures;
    double contamination;          /* (0, 0.5]; 0 = labels if any, else 0.01 */
    struct pw_iforest_config forest;
    size_t max_train;              /* newest steps per Holt-Winters fit (20000) */
    /* Called between units of work (stage, done, total); non-zero stops
     * the fit ("interrupted"). May be NULL. */
    int (*progress)(const char *stage, size_t done, size_t total, void *arg);
    void *arg;
};

void pw_fit_options_default(struct pw_fit_options *o);

/* The feature rows of one class (see above). */
struct pw_fit_rows {
    double *x;                /* n x d, row-major */
    double *ts_s;             /* n */
    uint8_t *labels;          /* n, or NULL when no feature series has labels */
    const char **entity;      /* n, borrowed from the history */
    size_t n, d;
    size_t entities;          /* entities of the class with every feature */
    size_t entities_missing;  /* entities of the class lacking one */
    size_t cap;               /* private */
};

/* Rows of class cls (NULL: every class). 0, or -1 with err (no memory). */
int pw_fit_rows_build(const struct pw_history *h, const char *cls,
                      const char *const *features, size_t nfeatures,
                      struct pw_fit_rows *out, struct pw_err *err);
void pw_fit_rows_free(struct pw_fit_rows *r);

/* A series resampled onto its median step (see above): the newest
 * at most max_n steps. 0, or -1 with err (fewer than 3 distinct times). */
int pw_fit_regular(const struct pw_hist_series *s, size_t max_n, double **y, size_t *n,
                   double *step_s, double *t0_s, struct pw_err *err);

/* A Holt-Winters model fitted on one series as above (seasonal: look for
 * a season). 0, or -1 with err. */
int pw_fit_hw_series(const struct pw_hist_series *s, size_t max_train, bool seasonal,
                     struct pw_hw_model *m, double *mse, struct pw_err *err);

/* ROC AUC of scores against labels (ties count one half); NAN without
 * both classes. */
double pw_fit_auc(const double *scores, const uint8_t *labels, size_t n);

struct pw_fit_metric {
    char name[256];
    size_t samples;           /* steps fitted on */
    struct pw_hw_model model;
    double mse;
};

struct pw_fit_class {
    char name[256];
    size_t rows, entities, entities_missing;
    double threshold;
    bool from_labels;         /* threshold by best F1 on the labels */
    bool labelled;
    double precision, recall, f1, auc;   /* on the training rows, if labelled */
    size_t flagged;
};

struct pw_fit_result {
    struct pw_fit_metric *metrics;     /* "default" last */
    size_t nmetrics;
    struct pw_fit_class *classes;
    size_t nclasses;
    size_t skipped_metrics;            /* too short to fit */
};

/* Fits everything and appends the sections to b (b keeps its header: the
 * caller sets parent, trained_on and fingerprint). 0, or -1 with err (no
 * usable series, features no entity has, interrupted, no memory). */
int pw_fit(const struct pw_history *h, const struct pw_fit_options *o,
           struct pw_bundle *b, struct pw_fit_result *res, struct pw_err *err);
void pw_fit_result_free(struct pw_fit_result *r);

#endif
