/* models/holtwinters.h — additive Holt-Winters forecasting, one O(1) update
 * per sample, for millions of series.
 *
 * Why: a threshold on a metric that has a daily rhythm either fires every
 * evening or never. Holt-Winters carries a level, a trend and a seasonal
 * profile forward by exponential smoothing, so "what should this be now,
 * and how far off is unusual" costs a few multiplications per sample and
 * 256 bytes per series. The analyzer holds millions of series, so the
 * design separates what is shared from what is per series:
 *
 *   struct pw_hw_model   parameters (alpha, beta, gamma, phi), the season
 *                        period m and the nominal sampling step: one per
 *                        metric class, shared (borrowed) by many series;
 *   struct pw_hw_state   the per-series state, seasonal profile included:
 *                        a fixed-size plain struct with no pointer, which
 *                        the caller owns (an element of a flat array) and
 *                        may copy or persist byte for byte.
 *
 * Memory per series: exactly sizeof(struct pw_hw_state) = 256 bytes
 * (x86-64 and any ABI with 8-byte doubles: 64 bytes of level, trend,
 * variance, timestamp and counters plus PW_HW_SEASON_KNOTS = 48 floats of
 * season), whatever the period, nothing else (no allocation per series or
 * per sample): 10 M series take 2.56 GB. A period of up to 48 samples is
 * held exactly; a longer one is compressed (below). bench-holtwinters
 * prints the figures.
 *
 * The model, in error-correction form (Hyndman et al., "Forecasting with
 * exponential smoothing", 2008, ETS(A,Ad,A); fpp3 section 8.3). The
 * season is a periodic piecewise-linear function of the phase p in
 * [0, m) (the sample's position in the season) with K = min(m,
 * PW_HW_SEASON_KNOTS) knots c_0 .. c_{K-1}, knot k at phase k m / K:
 *
 *     x = p K / m,  i = floor(x),  f = x - i,  j = (i + 1) mod K
 *     s(p)       = (1 - f) c_i + f c_j
 *     forecast   yhat = l + phi b + s(p)
 *     error      e    = y - yhat
 *     level      l'   = l + phi b + alpha e
 *     trend      b'   = phi b + alpha beta e
 *     season     c_i' = c_i + (1 - f) gamma e,   c_j' = c_j + f gamma e
 *
 * With K = m, x = p and f = 0: c_p is the season slot s_{t-m} of the
 * classical model and the update is s_t = s_{t-m} + gamma e, the same
 * arithmetic to the bit (period <= 48). With K < m the seasonal update is
 * a gradient step of size gamma on the squared error in the knots, so the
 * knots track the least-squares piecewise-linear fit of the season: what
 * is lost is detail finer than m / K samples. On NAB (two weeks of
 * training, the rest held out, one step ahead, fitted parameters; see
 * test_holtwinters) the cost grows with the sharpness of the profile:
 * nyc_taxi with its daily period (m = 48) is not compressed and its
 * figures are unchanged; with its weekly period (m = 336 at 30 min, a knot every 3.5
 * h) 1.33e6 -> 1.80e6 (x 1.35); art_daily_small_noise (m = 288 at 5 min,
 * a knot every 30 min), a square wave whose 5-minute steps the knots
 * cannot follow, 10.1 -> 23.7 (x 2.35). pw_hw_holdout_mse measures it for
 * any series; where it matters, a coarser step (m <= 48) keeps the model
 * exact.
 *
 * beta here is the share of a level change taken into the trend (fpp3's
 * beta*, in (0, 1)); gamma is in (0, 1 - alpha); phi in (0, 1], 1 meaning
 * undamped. With m = 0 there is no season (s = 0).
 *
 * Pure computation: no I/O, no logging, no global state, no threads. A
 * state is not thread-safe; a model may be read by any number of threads. */
#ifndef PW_HOLTWINTERS_H
#define PW_HOLTWINTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Largest season period accepted (a week of 5-minute samples). */
#define PW_HW_MAX_PERIOD 2016

/* Knots of the seasonal profile held per series: K = min(m, this). 48
 * fills the state to exactly 256 bytes. */
#define PW_HW_SEASON_KNOTS 48

struct pw_hw_params {
    double alpha;   /* level smoothing, (0, 1) */
    double beta;    /* trend smoothing (beta*), (0, 1) */
    double gamma;   /* season smoothing, (0, 1 - alpha); ignored if m = 0 */
    double phi;     /* trend damping, (0, 1]; 1 = undamped */
};

struct pw_hw_model {
    struct pw_hw_params p;
    uint32_t period;        /* m: 0 = no season, else 2..PW_HW_MAX_PERIOD */
    bool damped;            /* pw_hw_fit estimates phi in [0.8, 0.98];
                               otherwise it keeps phi = 1 */
    double step_s;          /* nominal sampling step, > 0 */
    double max_gap_steps;   /* a gap of more steps resets level and trend
                               (see pw_hw_update); >= 1 */
    double var_weight;      /* EWMA weight of the residual variance, (0, 1]:
                               the variance is the running mean of the
                               squared one-step errors until 1/k drops
                               below var_weight (k errors seen), then an
                               EWMA with this weight */
};

/* Fills m with the defaults for period m (0: none) and step step_s:
 * alpha 0.2, beta 0.001, gamma 0.1 (a slow trend: with beta 0.1 a daily
 * season of 48 or more steps is already unstable, see pw_hw_max_root), phi 0.98 if damped else 1,
 * max_gap_steps = max(m, 12), var_weight 0.01 (about the last 100 errors). */
void pw_hw_model_default(struct pw_hw_model *m, uint32_t period,
                         double step_s, bool damped);

/* 0, or -1 with err saying which field is out of range. */
int pw_hw_model_check(const struct pw_hw_model *m, struct pw_err *err);

/* The per-series state. The fields are public so that a flat array of them
 * can be allocated, copied and persisted by the caller; change them only
 * through the functions below. Counters are uint32_t and saturate. */
struct pw_hw_state {
    double level;
    double trend;
    double var;             /* residual variance estimate (see var_weight) */
    double last_ts_s;       /* newest accepted timestamp; NAN before any */
    uint32_t updates;       /* one-step errors folded into the state (the
                               very first sample of a cold start only sets
                               the level and is not one) */
    uint32_t season_idx;    /* season slot of the next sample */
    uint32_t rejected_nonfinite;  /* NaN or +-inf timestamp or value */
    uint32_t rejected_backwards;  /* timestamp before last_ts_s */
    uint32_t rejected_early;      /* less than half a step after last_ts_s
                                     (a duplicate, or sampling faster than
                                     the model's step) */
    uint32_t gap_steps;     /* missing steps bridged without an update */
    uint32_t resets;        /* gaps longer than max_gap_steps */
    uint32_t flags;         /* internal */
    float season[PW_HW_SEASON_KNOTS];  /* knots c_0 .. c_{K-1} (see the
                               model above); the rest stay 0 */
};

/* K, the knots the model's season uses: min(period, PW_HW_SEASON_KNOTS),
 * 0 without season. */
uint32_t pw_hw_knots(const struct pw_hw_model *m);

/* A cold start: no level yet, season all zero. The first accepted sample
 * sets the level; the season is learnt at rate gamma. */
void pw_hw_init(struct pw_hw_state *s, const struct pw_hw_model *m);

/* A warm start from a training window y[0..n), sampled at the model's
 * step, the last sample at ts_last_s. Initial components by classical
 * decomposition (see pw_hw_fit), then every sample is fed through the
 * update, so the state ends where an online series would (season_idx =
 * n mod m, updates = n, var from all n one-step errors). Returns -1 with err if n is below pw_hw_min_train(m) or a
 * value is not finite; s is then a cold start. */
int pw_hw_start(struct pw_hw_state *s, const struct pw_hw_model *m,
                const double *y, size_t n, double ts_last_s,
                struct pw_err *err);

/* Training samples pw_hw_start and pw_hw_fit need: 2 m for a seasonal
 * model (two whole seasons for the decomposition), 10 without season. */
size_t pw_hw_min_train(const struct pw_hw_model *m);

/* Folds in one sample. O(1), never allocates. The timestamp places the
 * sample on the model's grid: k = round((ts_s - last_ts_s) / step_s).
 *   - non-finite ts_s or y: rejected, rejected_nonfinite++;
 *   - ts_s < last_ts_s: rejected, rejected_backwards++;
 *   - k == 0 (less than half a step later, equal timestamps included):
 *     rejected, rejected_early++ (the first sample in a step wins);
 *   - k == 1: the normal update;
 *   - 1 < k <= max_gap_steps: the k - 1 missing steps are bridged as a
 *     forecast would (l += phi_{k-1} b, b *= phi^{k-1}, the season slot
 *     moves on k - 1 slots, season and variance untouched), gap_steps +=
 *     k - 1, then the normal update;
 *   - k > max_gap_steps: the season slot moves on as above (the phase is
 *     kept by counting steps), the level restarts at y - season, the trend
 *     at 0, resets++; season and variance are kept; no error is folded in.
 * Returns 0 if accepted, -1 if rejected (err, may be NULL, says why). */
int pw_hw_update(struct pw_hw_state *s, const struct pw_hw_model *m,
                 double ts_s, double y, struct pw_err *err);

/* An h-step-ahead forecast from the state (h = 1 is the next step on the
 * grid, at last_ts_s + step_s):
 *
 *     mean   = l + phi_h b + s(q),  q = (season_idx + h - 1) mod m
 *     var_h  = var (1 + sum_{j=1}^{h-1} c_j^2),
 *     c_j    = alpha + alpha beta phi_j + gamma <w(q - j), w(q)>
 *
 * with phi_j = phi + phi^2 + ... + phi^j (= j if undamped) and w(p) the
 * knot weights of phase p ((1 - f) at knot i, f at knot j): the share of
 * an error at phase q - j that the season carries to phase q. With K = m
 * the product is [j mod m == 0], the textbook multiplier. It is exact for
 * the linear model above with homoscedastic
 * Gaussian errors (Hyndman et al. 2008, eq. 6.4 class 1; fpp3 table 9.7
 * gives the same sum in closed form); var is our estimate of sigma^2 (see
 * var_weight), and the interval ignores parameter uncertainty. On real
 * data the model is only approximately right: on NAB's nyc_taxi (fitted
 * on two weeks) a 95 % interval covered 0.93 of the values one step
 * ahead, 0.91 six steps ahead and 1.00 a day ahead (the fitted alpha near
 * 1 makes the textbook variance grow like a random walk's). Cost O(h). */
struct pw_hw_forecast {
    double mean;
    double sd;              /* sqrt(var_h) */
    double lo, hi;          /* mean -+ z sd */
};

/* h >= 1 and z >= 0. Returns -1 with err if the state has no level yet
 * (no accepted sample) or h is 0. */
int pw_hw_forecast(const struct pw_hw_state *s, const struct pw_hw_model *m,
                   uint32_t h, double z, struct pw_hw_forecast *out,
                   struct pw_err *err);

/* Fitting the parameters to a training window. */
struct pw_hw_fit_result {
    double mse_start;       /* one-step MSE with the model's parameters on
                               entry */
    double mse;             /* with the fitted ones (<= mse_start) */
    size_t iterations;      /* Nelder-Mead iterations */
    bool converged;         /* simplex size fell below 1e-4 (in the
                               transformed space) within the limit */
    size_t unstable_trials; /* trials refused by the stability check */
};

#define PW_HW_FIT_MAXITER 1000

/* Estimates alpha, beta, gamma (if m > 0) and phi (if damped) by
 * minimising the sum of squared one-step errors over y[0..n), sampled at
 * the model's step, with GSL's Nelder-Mead (nmsimplex2) started from the
 * model's parameters. The search runs on unconstrained u with
 *     alpha = L(u1), beta = L(u2), gamma = (1 - alpha) L(u3),
 *     phi = 0.8 + 0.18 L(u4),        L(u) = 1 / (1 + e^-u),
 * clamped away from 0 and 1 by 1e-4 so that starting values on the bounds
 * work. The recursion for each trial starts from the decomposition:
 *   - seasonal: a centred moving average of order m (2 x m when m is even)
 *     over the first S = min(n / m, 4) seasons is the trend-cycle; the
 *     season is the mean of y - MA per slot over those seasons, shifted to
 *     sum to 0; with fewer knots than the period (K < m) knot k takes
 *     the mean of that season weighted by its interpolation weights
 *     w_k(p) (a hat of width 2 m / K around phase k m / K), and the knots
 *     are shifted so that s(p) sums to 0 over a season; level and trend
 *     are the least-squares line through the deseasonalised (by s(p))
 *     first S seasons, taken at index -1 (the state before y[0]);
 *   - no season: the least-squares line through the first 10 samples.
 * The errors of all n samples count (the decomposition's own samples
 * included). The result is stable (pw_hw_stable), for every period: a
 * trial that would improve on the best stable one so far is root-checked
 * and, if unstable, scored as +huge. If the fit does not beat the starting
 * parameters and those are stable, they are kept. On success updates m->p and returns 0. Returns -1 with err,
 * m untouched, if n < pw_hw_min_train(m), a value is not finite, the model
 * is invalid or memory runs out. Allocates O(m) scratch. GSL's error
 * handler is switched off around its calls as in models/trend.h (same
 * thread-safety caveat). */
int pw_hw_fit(struct pw_hw_model *m, const double *y, size_t n,
              struct pw_hw_fit_result *res, struct pw_err *err);

/* Stability (forecastability): the usual box above (alpha, beta in (0, 1),
 * gamma < 1 - alpha) does not keep a seasonal model stable. The errors are
 * fed back through the discount matrix D = F - g w' (Hyndman et al. 2008,
 * ch. 10), and if an eigenvalue lies outside the unit circle the state
 * grows without bound on any data: alpha 0.2, beta 0.1, gamma 0.1, phi
 * 0.98, m 48 has a root of modulus 1.000216 and reaches 1e12 after about
 * 140 000 samples (test_holtwinters shows it). The longer the season, the
 * smaller the stable region. pw_hw_max_root computes the largest modulus
 * of the model that actually runs (with its K knots), per step:
 *   - K = m (period <= 48): the roots of forecast::admissible's polynomial
 *     (R package forecast, the seasonal unit root removed)
 *       z^{m+1} + (a + b - phi) z^m + (a + b - a phi) (z^{m-1} + ... + z^2)
 *       + (a + b - a phi + g - 1) z + phi (1 - a - g),
 *     a = alpha, b = alpha beta, g = gamma, by GSL's companion-matrix
 *     solver, O(m^3), 0.2 ms at m = 48;
 *   - K < m: the compressed model is periodic, not constant (the knot
 *     weights depend on the phase), so the criterion is its monodromy
 *     matrix M = D_{m-1} ... D_0, the product of the m discount matrices
 *     D_p = F - g_p w_p' on (l, b, c_0 .. c_{K-1}) over one season; the
 *     direction (1, 0, -1, ..., -1) (level up, every knot down: the same
 *     forecasts) is an exact eigenvector of every D_p with eigenvalue 1
 *     and is deflated away, as the polynomial's seasonal unit root is, and
 *     the result is rho(M)^(1/m), rho the largest eigenvalue modulus (GSL's
 *     nonsymmetric eigensolver on a (K+1)^2 matrix): O(m K + K^3), about
 *     1 ms, for any period up to PW_HW_MAX_PERIOD. It is not the
 *     uncompressed model's stability: the two differ, and the series runs
 *     the compressed one. (Checked while developing, with the same code
 *     run at K = m: for phi = 1 it gives the polynomial's root to 1e-15;
 *     for phi < 1 it agrees to 1e-9 with the eigenvalues of the classical
 *     D itself, and both differ from the polynomial's root by up to 1e-4,
 *     e.g. m 48, beta 0.1, phi 0.98: 1.0002025 against 1.000216.)
 *   - m = 0: the eigenvalues of the 2 x 2 D.
 * Returns -1 with err if the model is invalid or the solver fails.
 * pw_hw_stable: max root <= 1 + 1e-10 (false on any error). */
int pw_hw_max_root(const struct pw_hw_model *m, double *max_root,
                   struct pw_err *err);
bool pw_hw_stable(const struct pw_hw_model *m);

/* What the compression costs on a series: the one-step MSE over the
 * held-out y[train..n) of the model run with `knots` knots (2..period;
 * 0 = the model's own K) instead of K, warm-started on y[0..train) as
 * pw_hw_start does and then updated sample by sample as pw_hw_update does
 * on a regular grid. knots = period is the uncompressed classical model
 * for any period. The model must be seasonal. Allocates O(m). Returns -1
 * with err on an invalid model or knots, train < pw_hw_min_train, n <=
 * train, a non-finite value or no memory. */
int pw_hw_holdout_mse(const struct pw_hw_model *m, uint32_t knots,
                      const double *y, size_t train, size_t n, double *mse,
                      struct pw_err *err);

/* Season period detection from the autocorrelation function. */
struct pw_hw_period {
    uint32_t period;        /* 0: no significant season */
    double acf;             /* ACF at period (0 if none) */
    double bound;           /* the significance bound applied */
};

/* The series y[0..n) is detrended by a least-squares line, its sample
 * ACF r_k = sum (x_i x_{i+k}) / sum x_i^2 is computed for k up to
 * max_lag + 1 (O(n max_lag)), and the period is the lag k in [2, max_lag]
 * with the highest local peak (r_k >= r_{k-1}, r_k > r_{k+1}) that
 *   - exceeds bound = max(3 / sqrt(n), 0.1): 3 white-noise standard
 *     errors, and an effect size worth modelling, and
 *   - rises above the lowest r_j, j < k, by at least the bound too (a
 *     slowly decaying ACF with ripples — a random walk — has no season).
 * With no such lag, period 0. The biased ACF shrinks with the lag, so a
 * multiple of the true period rarely beats it; but a series with both a
 * daily and a weekly rhythm may report the weekly one if max_lag reaches
 * it (limit max_lag to pick the shorter). Requires 2 <= max_lag and n >=
 * 2 (max_lag + 1); returns -1 with err otherwise, or on a non-finite value
 * or no memory (allocates n doubles). */
int pw_hw_detect_period(const double *y, size_t n, size_t max_lag,
                        struct pw_hw_period *out, struct pw_err *err);

#endif
