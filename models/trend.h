/* models/trend.h — robust linear trend and time-to-threshold for one series.
 *
 * Why: most pipeline failures we can predict are a resource drifting toward
 * a limit — a disk filling, a consumer lag growing. A straight line fitted
 * over the recent past and extended to the limit says "full in 3 h". The
 * hard part is not the line but not crying wolf: metrics are noisy, spiky,
 * seasonal and sometimes flat, and a naive least-squares slope extended far
 * enough crosses any threshold. So the fit is robust (GSL's iteratively
 * reweighted least squares with Tukey's bisquare weights, so a few spikes do
 * not tilt the line) and an ETA is only reported after explicit guards, each
 * with its own "no ETA" reason (see enum pw_trend_status and pw_trend_eta).
 *
 * Pure computation: no I/O, no logging, no global state, no threads. One
 * struct pw_trend per series; not thread-safe, use one per thread/series.
 *
 * Units: timestamps and durations in seconds (double, any epoch; irregular
 * spacing is fine, the regression is on time, not on sample index). Slope is
 * value units per second. Values are whatever the series carries.
 *
 * Window: a ring buffer of at most `capacity` (timestamp, value) samples.
 * When a sample arrives, samples older than newest - window_s fall out, and
 * when the ring is full the oldest is overwritten. A gap longer than the
 * window therefore empties it down to the new sample, and the series is
 * "insufficient data" until min_samples and min_span_s are met again.
 *
 * Memory per series (measured by bench-trend, glibc x86-64): about
 * 100 bytes + 160 bytes x capacity once a full window has been fitted —
 * 16 B/sample for the ring, 24 B/sample for the design matrix and response
 * (allocated at creation), and GSL's robust workspace (~120 B/sample,
 * allocated by the first fit). pw_trend_add never allocates. pw_trend_fit
 * reallocates the GSL workspace only when the number of samples in the
 * window differs from the previous fit's (it is sized to the exact count);
 * in steady state (regular sampling, full window) it does not allocate. */
#ifndef PW_TREND_H
#define PW_TREND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct pw_trend_config {
    size_t capacity;          /* max samples in the window, >= 3 */
    double window_s;          /* max age relative to the newest sample;
                                 0 = bounded by capacity only */
    /* Guards (see pw_trend_eta). */
    size_t min_samples;       /* fewer -> INSUFFICIENT_DATA; >= 3 */
    double min_span_s;        /* newest - oldest below this -> INSUFFICIENT_DATA */
    double min_t;             /* |slope| / se(slope) below this -> NOT_SIGNIFICANT */
    double min_r2;            /* robust R^2 below this -> POOR_FIT */
    double max_rho;           /* residual lag-1 autocorrelation above this
                                 -> POOR_FIT: the residuals run in long
                                 same-sign stretches, so the window is not
                                 a line plus noise (a step, a daily cycle)
                                 and extending it would mislead */
    double z;                 /* width of the ETA range, in standard errors */
    double max_extrapolation; /* ETA beyond this many window spans ->
                                 BEYOND_HORIZON; 0 = no such limit */
};

/* Fills c with the defaults for a window of `capacity` samples spanning
 * window_s seconds: min_samples 10 (or capacity if smaller), min_span_s a
 * quarter of window_s, min_t 3, min_r2 0.5, max_rho 0.8, z 1.96 (95 %),
 * max_extrapolation 2. */
void pw_trend_config_default(struct pw_trend_config *c, size_t capacity,
                             double window_s);

/* Samples seen by pw_trend_add. Rejected samples are not stored. */
struct pw_trend_counters {
    uint64_t accepted;
    uint64_t rejected_nonfinite;   /* NaN or +-inf timestamp or value */
    uint64_t rejected_backwards;   /* timestamp < newest accepted one */
    uint64_t evicted;              /* fell out: older than window_s, or the
                                      ring was full */
};

struct pw_trend;

/* Allocates a series with the given configuration (copied; cfg is
 * borrowed). Returns NULL and fills err if the configuration is out of
 * range (capacity < 3, min_samples < 3 or > capacity, negative durations,
 * min_t or z <= 0) or memory runs out. */
struct pw_trend *pw_trend_new(const struct pw_trend_config *cfg,
                              struct pw_err *err);

/* Frees t and everything it holds; accepts NULL. */
void pw_trend_free(struct pw_trend *t);

/* Appends one sample. Returns 0 if it was accepted; -1 if it was rejected
 * (non-finite, or timestamp going backwards; equal timestamps are accepted)
 * — the matching counter is incremented and err (may be NULL) says why.
 * Never allocates. */
int pw_trend_add(struct pw_trend *t, double ts_s, double value,
                 struct pw_err *err);

/* Empties the window (after a counter reset, say); counters are kept. */
void pw_trend_reset(struct pw_trend *t);

size_t pw_trend_len(const struct pw_trend *t);

/* The i-th sample of the window, oldest first (i < pw_trend_len), for
 * checkpointing a window and replaying it into a new one. */
void pw_trend_sample(const struct pw_trend *t, size_t i, double *ts_s,
                     double *value);
const struct pw_trend_counters *pw_trend_counters(const struct pw_trend *t);

/* A robust straight line over the window:
 *     value(ts) = level + slope * (ts - t_last_s)
 * so `level` (the intercept) is the fitted value at the newest sample. */
struct pw_trend_fit {
    bool valid;            /* false: n < min_samples or span_s < min_span_s,
                              or not converged; only n, span_s, t_last_s
                              and converged are then set */
    bool converged;        /* false: the bisquare iterations did not settle
                              within PW_TREND_MAXITER (the window holds no
                              single robust line, e.g. a level shift) */
    size_t n;              /* samples in the window */
    double t_last_s;       /* newest timestamp: the time origin */
    double span_s;         /* newest - oldest timestamp */
    double level;          /* intercept, value units */
    double slope;          /* value units per second */
    /* Covariance of (level, slope): GSL's robust covariance
     * sigma^2 (X^T X)^-1, multiplied by the autocorrelation factor
     * (1 + rho) / (1 - rho) (see rho). */
    double var_level;
    double var_slope;
    double cov_level_slope;
    double se_slope;       /* sqrt(var_slope) */
    double t_slope;        /* slope / se_slope (0 if both are 0) */
    double r2;             /* robust R^2: 1 - sum w r^2 / sum w (y - ybar_w)^2
                              with the final bisquare weights w; 0 for a
                              constant series */
    double sigma;          /* GSL's final residual scale estimate */
    double rho;            /* lag-1 autocorrelation of the weighted residuals
                              in sample order, clipped to [0, 0.99]: runs of
                              same-sign residuals (a curve or a daily cycle
                              fitted with a line) mean fewer independent
                              samples than n, and the standard errors are
                              widened by sqrt((1 + rho) / (1 - rho)) */
    double recent_residual; /* median residual of the newest recent_n
                               samples (recent_n = n / 8 in [5, 64]): far
                               from 0 when the line no longer describes
                               the present (a step inside the window) */
    size_t recent_n;
    double recent_slope;   /* ordinary least-squares slope of the newest
                              recent_slope_n = max(n / 4, 5) samples */
    double recent_slope_se;
    size_t recent_slope_n;
    double noise;          /* noise scale from the first differences,
                              1.4826 MAD(diff) / sqrt(2): unlike sigma, not
                              inflated by a step or a curve in the window */
};

#define PW_TREND_MAXITER 500

/* Fits the window. Returns 0 with fit filled (fit->valid false when there
 * is too little data or the robust iterations do not converge within
 * PW_TREND_MAXITER: neither is an error, both mean "no ETA"). Returns -1
 * and fills err only if memory for the GSL workspace cannot be had or the
 * result is not finite; fit->valid is then false and the caller should
 * treat it as "no ETA".
 *
 * GSL reports non-convergence through its process-wide error handler,
 * whose default aborts; so this call switches the handler off around its
 * GSL calls and restores the previous one. That swap is not thread-safe: a
 * program that fits from several threads must call
 * gsl_set_error_handler_off() once in main before starting them (the swap
 * is then a no-op). */
int pw_trend_fit(struct pw_trend *t, struct pw_trend_fit *fit,
                 struct pw_err *err);

enum pw_trend_dir {
    PW_TREND_RISING,       /* alert when the value goes above threshold */
    PW_TREND_FALLING,      /* alert when the value goes below threshold */
};

enum pw_trend_status {
    PW_TREND_ETA = 0,           /* eta_s is within the horizon */
    PW_TREND_PAST,              /* the fitted level is already at or past the
                                   threshold: eta_s = 0 (a flag, not a
                                   forecast) */
    PW_TREND_INSUFFICIENT_DATA, /* fit not valid: too little data */
    PW_TREND_NOT_CONVERGED,     /* fit not valid: no robust line */
    PW_TREND_NOT_SIGNIFICANT,   /* |t_slope| < min_t, or the slope's z-range
                                   includes 0 (the far end is infinite) */
    PW_TREND_POOR_FIT,          /* r2 < min_r2, rho > max_rho, or the
                                   recent residuals are biased: the line
                                   does not explain the movement */
    PW_TREND_WRONG_DIRECTION,   /* significant, but moving away */
    PW_TREND_SLOWING,           /* the newest quarter of the window moves
                                   at significantly less than half the
                                   fitted pace: a step or a bend that has
                                   levelled off, not a trend */
    PW_TREND_BEYOND_HORIZON,    /* eta_s is computed but too far ahead */
};

/* "eta", "past", "insufficient data", ...; never NULL. */
const char *pw_trend_status_name(enum pw_trend_status s);

struct pw_trend_eta {
    enum pw_trend_status status;
    /* Seconds from fit->t_last_s. Set for ETA, PAST (all 0) and
     * BEYOND_HORIZON; NAN otherwise. */
    double eta_s;
    /* Fieller range: the times x at which the line's z-standard-error band
     * contains the threshold, i.e. the solutions of
     *   (level + slope x - T)^2 <= z^2 (var_level + 2 x cov + x^2 var_slope).
     * It accounts for the slope's and the level's uncertainty and their
     * covariance, is asymmetric (longer on the far side), and is bounded
     * exactly when |slope| / se(slope) > z. eta_low_s is clipped at 0. */
    double eta_low_s;
    double eta_high_s;
    double horizon_s;      /* the horizon actually applied: min(horizon_s,
                              max_extrapolation * span_s) */
};

/* Time until the fitted line crosses `threshold` in direction `dir`,
 * through the guards, in this order:
 *   1. fit not valid                          -> INSUFFICIENT_DATA or
 *                                                NOT_CONVERGED
 *   2. level already at/past the threshold    -> PAST, eta 0
 *   3. |t_slope| < min_t or |t_slope| <= z    -> NOT_SIGNIFICANT
 *   4. r2 < min_r2, rho > max_rho, or
 *      |recent_residual| > 3 * 1.2533 * min(sigma, noise) / sqrt(recent_n)
 *                                             -> POOR_FIT
 *   5. slope points away from the threshold   -> WRONG_DIRECTION
 *   6. recent_slope + z se < slope / 2 (in the direction of travel)
 *                                             -> SLOWING
 *   7. eta beyond the horizon                 -> BEYOND_HORIZON
 *   otherwise                                 -> ETA
 * horizon_s must be > 0 (use INFINITY for none). t gives the guard
 * settings; fit must come from pw_trend_fit on the same t. Fills *eta and
 * returns its status. */
enum pw_trend_status pw_trend_eta(const struct pw_trend *t,
                                  const struct pw_trend_fit *fit,
                                  double threshold, enum pw_trend_dir dir,
                                  double horizon_s, struct pw_trend_eta *eta);

#endif
