/* models/nab.h — the Numenta Anomaly Benchmark scorer, by NAB's rules.
 *
 * So that a figure we print can be compared with the published ones, this
 * reimplements NAB's sweeper and threshold optimiser (numenta/NAB,
 * nab/sweeper.py and nab/optimizer.py) exactly:
 *
 * - The first min(floor(0.15 n), 750) rows of each file are a probation
 *   period: not scored at all (a window lying wholly in it does not count).
 * - A row inside an anomaly window [l, r] (row indices) carries the weight
 *   tp * S(-(r - i + 1) / (r - l + 1)) / S(-1), where S(x) = 2 / (1 +
 *   e^(5x)) - 1 is the scaled sigmoid (S(x) = -1 for x >= 3): about +tp at
 *   the left edge, falling towards 0 at the right edge.
 * - A row outside every window carries fp * S(x): x = 3 (so -fp) before the
 *   first window, and x = |i - r_prev| / (w_prev - 1) after a window (right
 *   edge r_prev, width w_prev rows): a detection just after a window costs
 *   little, one far after it costs -fp.
 * - For a threshold t every row with score >= t is a detection. A window's
 *   value is -fn without a detection, else the best (earliest) detection's
 *   weight: only one detection per window counts. All detections outside
 *   windows add their (negative) weights.
 * - One threshold is chosen for the whole corpus: the one maximising the
 *   summed score (ties: the higher threshold, as NAB's stable sort gives).
 * - Normalised = 100 (raw - null) / (perfect - null), with null = -fn W (a
 *   detector that never fires) and perfect = tp W (one detection at the left
 *   edge of each of the W scored windows).
 *
 * Windows are given as timestamps, as in NAB's combined_windows.json. Rows
 * are taken in file order: a window starts at the first row whose timestamp
 * reaches its start and runs over the following rows while their
 * timestamps stay within its end. (Two of NAB's own files step back in
 * time — a replayed daylight-saving hour — and are scored in file order.) */
#ifndef PW_MODELS_NAB_H
#define PW_MODELS_NAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct pw_nab_profile {
    const char *name;
    double tp_weight, fp_weight, fn_weight;
};

/* NAB's three profiles, as in its profiles.json: "standard",
 * "reward_low_FP_rate", "reward_low_FN_rate". */
extern const struct pw_nab_profile pw_nab_profiles[3];

/* One data file: n rows with timestamps (any unit, in file order) and the
 * detector's anomaly scores, and its labelled windows [start, end]
 * (inclusive, same unit, in time order, not overlapping). Borrowed. */
struct pw_nab_file {
    const int64_t *ts;
    const double *scores;
    size_t n;
    const int64_t (*windows)[2];
    size_t nwindows;
};

struct pw_nab_result {
    double threshold;     /* the corpus-wide best threshold */
    double raw;           /* summed score at that threshold */
    double null_score;    /* -fn * windows */
    double perfect;       /* tp * windows */
    double normalized;    /* 0 = never fires, 100 = perfect */
    size_t windows;       /* scored windows */
    size_t windows_detected;
    size_t false_positives;   /* detections outside every window */
};

/* Scores a corpus under one profile. Returns 0, or -1 with err set (no
 * rows, no scored window, a window that covers no row, out of memory). */
int pw_nab_score(const struct pw_nab_file *files, size_t nfiles,
                 const struct pw_nab_profile *profile,
                 struct pw_nab_result *out, struct pw_err *err);

/* NAB's scaled sigmoid S(x) (see above). */
double pw_nab_scaled_sigmoid(double x);

/* Rows in the probation period of a file of n rows. */
size_t pw_nab_probation(size_t n);

#endif
