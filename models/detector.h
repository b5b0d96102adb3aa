/* models/detector.h — a causal streaming anomaly detector for one series:
 * one value in, one score in [0, 1] out, no look-ahead.
 *
 * Why this shape: a score is only useful if one threshold means the same on
 * every series, whatever its units, noise and rhythm. So each raw signal is
 * turned into a probability of its own recent behaviour (Numenta's
 * "anomaly likelihood", Ahmad et al. 2017), and the detector reports the
 * most surprising one. Evaluated with NAB's rules by bench-nab and
 * `pipewatch-train evaluate`.
 *
 * Per sample x at row i (r = max - min of the values seen so far):
 *   1. Raw signals, each divided by r:
 *      S  |x - s_d(phase)|: a daily seasonal profile, one exponentially
 *         weighted mean per time of day (weight season_alpha);
 *      T  the same with a weekly profile;
 *      N  novelty of the recent shape: the RMS distance from the last
 *         `window` block means (blocks of `block` rows) to the nearest of a
 *         reservoir of `reservoir` earlier such windows (a uniform sample
 *         of the past, seeded).
 *   2. Each raw signal becomes a likelihood score: the mean of its last
 *      `short_len` values against the mean and variance (floored at
 *      var_floor) of its last `history` values gives a Gaussian tail
 *      probability Q; the score is min(1, -log10(Q) / scale). A seasonal
 *      signal starts once its phase has been seen.
 *   3. The score is the largest of them; a value beyond the running min or
 *      max by more than extreme_tolerance * r scores 1.
 *   4. Suppression: the first learn_rows rows score 0; after a score >=
 *      rest_threshold the next rest_rows rows score 0 (one alert per
 *      episode, as NAB rewards and people prefer).
 *
 * The season periods are in seconds; the number of rows in a period is
 * taken from the first two timestamps (period / step, used only if it
 * divides exactly), and the phase is the row count modulo that. So gaps
 * and irregular sampling shift the seasonal phase: a documented limit, fine
 * for regularly sampled series. Timestamps are otherwise not used.
 *
 * Non-finite values are rejected and counted and leave the state alone.
 *
 * Memory: about 8 (window x reservoir + 3 history + 2 (day + week rows))
 * bytes, ~400 KB per series at the defaults with 5-minute samples: this is
 * an entity-level or evaluation detector, not the per-series state of
 * millions of series (that is models/holtwinters). Not thread-safe; one
 * per series. */
#ifndef PW_MODELS_DETECTOR_H
#define PW_MODELS_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct pw_detector_config {
    size_t learn_rows;          /* 300 */
    size_t window;              /* 8 block means (1..64) */
    size_t block;               /* 12 rows per block mean */
    size_t reservoir;           /* 2000 past windows */
    double season_alpha;        /* 0.1 */
    double day_s, week_s;       /* 86400, 604800; 0 switches one off */
    size_t short_len;           /* 10 */
    size_t history;             /* 8640 */
    double var_floor;           /* 1e-5 */
    double scale;               /* 10: Q = 1e-10 scores 1 */
    double extreme_tolerance;   /* 0.02 of the running range; 0 = off */
    double rest_threshold;      /* 0.3 */
    size_t rest_rows;           /* 150 */
    uint32_t seed;              /* reservoir sampling; 12345 */
};

void pw_detector_config_default(struct pw_detector_config *c);

/* Which signal gave the last score, for evidence. */
enum pw_detector_source {
    PW_DETECTOR_NONE = 0,
    PW_DETECTOR_DAILY,          /* S */
    PW_DETECTOR_WEEKLY,         /* T */
    PW_DETECTOR_NOVELTY,        /* N */
    PW_DETECTOR_EXTREME,        /* beyond the running range */
};

const char *pw_detector_source_name(enum pw_detector_source s);

struct pw_detector;

/* NULL with err set when the configuration is out of range or memory runs
 * out. */
struct pw_detector *pw_detector_new(const struct pw_detector_config *c, struct pw_err *err);
void pw_detector_free(struct pw_detector *d);

/* Feeds one sample. Returns 0 with *score in [0, 1] (and *source, if not
 * NULL, the signal behind it before suppression); -1 if value or ts_s is
 * not finite (counted, state untouched, *score 0). */
int pw_detector_push(struct pw_detector *d, double ts_s, double value, double *score,
                     enum pw_detector_source *source);

/* Samples rejected as non-finite. */
uint64_t pw_detector_rejected(const struct pw_detector *d);

#endif
