/* models/trend.c — see trend.h for the contract.
 *
 * Why it is built this way: the window is two flat arrays used as a ring,
 * so adding a sample is a few stores and never allocates. The fit copies
 * the window, oldest first, into a design matrix preallocated at creation
 * (columns: 1, ts - t_last) and hands it to gsl_multifit_robust with the
 * bisquare weight function. Time is measured back from the newest sample so
 * that the intercept is "the level now", which is what both the "already
 * past" guard and the ETA want, and so that large epoch timestamps never
 * meet the solver. Everything that decides "no ETA" lives in pw_trend_eta,
 * one guard per reason, in the order the header lists. */
#include "models/trend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_fit.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_statistics_double.h>

struct pw_trend {
    struct pw_trend_config cfg;
    struct pw_trend_counters counters;
    double *ts;            /* ring of timestamps, cfg.capacity */
    double *val;           /* ring of values, cfg.capacity */
    size_t head;           /* index of the oldest sample */
    size_t len;
    double *x;             /* design matrix rows (1, dt), 2 * capacity */
    double *y;             /* response, capacity */
    gsl_multifit_robust_workspace *ws;
    size_t ws_n;           /* rows ws was allocated for */
};

void pw_trend_config_default(struct pw_trend_config *c, size_t capacity,
                             double window_s)
{
    memset(c, 0, sizeof *c);
    c->capacity = capacity;
    c->window_s = window_s;
    c->min_samples = capacity < 10 ? capacity : 10;
    c->min_span_s = window_s / 4;
    c->min_t = 3.0;
    c->min_r2 = 0.5;
    c->max_rho = 0.8;
    c->z = 1.96;
    c->max_extrapolation = 2.0;
}

static int check_config(const struct pw_trend_config *c, struct pw_err *err)
{
    if (c->capacity < 3)
        return pw_err_set(err, "trend: capacity %zu is too small; give at "
                          "least 3 samples", c->capacity);
    if (c->min_samples < 3 || c->min_samples > c->capacity)
        return pw_err_set(err, "trend: min_samples %zu must be in [3, "
                          "capacity %zu]", c->min_samples, c->capacity);
    if (!(c->window_s >= 0) || !(c->min_span_s >= 0) ||
        !(c->max_extrapolation >= 0) || isinf(c->max_extrapolation))
        return pw_err_set(err, "trend: window_s, min_span_s and "
                          "max_extrapolation must be finite and >= 0");
    if (!(c->min_t > 0) || !(c->z > 0) || isinf(c->min_t) || isinf(c->z))
        return pw_err_set(err, "trend: min_t and z must be finite and > 0");
    if (!(c->min_r2 <= 1) || isnan(c->min_r2))
        return pw_err_set(err, "trend: min_r2 %g must be <= 1", c->min_r2);
    if (!(c->max_rho > 0 && c->max_rho <= 1))
        return pw_err_set(err, "trend: max_rho %g must be in (0, 1]", c->max_rho);
    return 0;
}

struct pw_trend *pw_trend_new(const struct pw_trend_config *cfg,
                              struct pw_err *err)
{
    if (check_config(cfg, err) < 0)
        return NULL;
    struct pw_trend *t = calloc(1, sizeof *t);
    double *block = calloc(cfg->capacity, 5 * sizeof(double));
    if (!t || !block) {
        free(t);
        free(block);
        pw_err_set(err, "trend: out of memory for a window of %zu samples",
                   cfg->capacity);
        return NULL;
    }
    t->cfg = *cfg;
    t->ts = block;
    t->val = block + cfg->capacity;
    t->x = block + 2 * cfg->capacity;
    t->y = block + 4 * cfg->capacity;
    return t;
}

void pw_trend_free(struct pw_trend *t)
{
    if (!t)
        return;
    if (t->ws)
        gsl_multifit_robust_free(t->ws);
    free(t->ts);
    free(t);
}

void pw_trend_reset(struct pw_trend *t)
{
    t->head = t->len = 0;
}

size_t pw_trend_len(const struct pw_trend *t)
{
    return t->len;
}

void pw_trend_sample(const struct pw_trend *t, size_t i, double *ts_s,
                     double *value)
{
    size_t k = (t->head + i) % t->cfg.capacity;
    *ts_s = t->ts[k];
    *value = t->val[k];
}

const struct pw_trend_counters *pw_trend_counters(const struct pw_trend *t)
{
    return &t->counters;
}

static size_t slot(const struct pw_trend *t, size_t i)
{
    return (t->head + i) % t->cfg.capacity;
}

int pw_trend_add(struct pw_trend *t, double ts_s, double value,
                 struct pw_err *err)
{
    if (!isfinite(ts_s) || !isfinite(value)) {
        t->counters.rejected_nonfinite++;
        return pw_err_set(err, "trend: rejected non-finite sample "
                          "(ts %g, value %g)", ts_s, value);
    }
    if (t->len > 0) {
        double newest = t->ts[slot(t, t->len - 1)];
        if (ts_s < newest) {
            t->counters.rejected_backwards++;
            return pw_err_set(err, "trend: rejected sample at %.3f s, before "
                              "the newest one at %.3f s", ts_s, newest);
        }
    }
    if (t->len == t->cfg.capacity) {
        t->head = slot(t, 1);
        t->len--;
        t->counters.evicted++;
    }
    size_t s = slot(t, t->len);
    t->ts[s] = ts_s;
    t->val[s] = value;
    t->len++;
    t->counters.accepted++;
    if (t->cfg.window_s > 0) {
        while (t->len > 1 && ts_s - t->ts[t->head] > t->cfg.window_s) {
            t->head = slot(t, 1);
            t->len--;
            t->counters.evicted++;
        }
    }
    return 0;
}

/* GSL reports non-convergence through its process-wide error handler,
 * whose default aborts. A fit on odd data must fail, not end the process,
 * so the handler is off for the duration of our GSL calls (see trend.h). */
static int ensure_workspace(struct pw_trend *t, size_t n, struct pw_err *err)
{
    if (t->ws && t->ws_n == n)
        return 0;
    if (t->ws)
        gsl_multifit_robust_free(t->ws);
    t->ws = gsl_multifit_robust_alloc(gsl_multifit_robust_bisquare, n, 2);
    t->ws_n = t->ws ? n : 0;
    if (!t->ws)
        return pw_err_set(err, "trend: out of memory for a %zu-sample fit", n);
    /* Bisquare reweighting can cycle on real data (a level shift in the
     * window); GSL's default of 100 iterations gives up on a few NAB
     * windows that settle by 300. */
    gsl_multifit_robust_maxiter(PW_TREND_MAXITER, t->ws);
    return 0;
}

/* Weighted R^2 and lag-1 autocorrelation of the weighted residuals;
 * w NULL means unit weights. */
static double weight(const gsl_vector *w, size_t i)
{
    return w ? gsl_vector_get(w, i) : 1.0;
}

static void residual_stats(const gsl_vector *y, const gsl_vector *r,
                           const gsl_vector *w, double *r2, double *rho)
{
    size_t n = y->size;
    double sw = 0, swy = 0;
    for (size_t i = 0; i < n; i++) {
        sw += weight(w, i);
        swy += weight(w, i) * gsl_vector_get(y, i);
    }
    double ybar = sw > 0 ? swy / sw : 0;
    double sst = 0, sse = 0, ssu = 0, lag = 0, prev = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = weight(w, i);
        double d = gsl_vector_get(y, i) - ybar;
        double ri = gsl_vector_get(r, i);
        sst += wi * d * d;
        sse += wi * ri * ri;
        ssu += ri * ri;
        if (i > 0)
            lag += ri * prev;
        prev = ri;
    }
    /* A constant series has nothing to explain: call it 0, not 1. */
    *r2 = sst > 0 ? 1 - sse / sst : 0;
    /* rho is unweighted: the residuals the bisquare set aside (one side of
     * a step) are exactly the ones that show the line is the wrong shape. */
    double p = ssu > 0 ? lag / ssu : 0;
    *rho = p < 0 ? 0 : p > 0.99 ? 0.99 : p;
}

/* True if every sample that kept a weight lies on the line, to rounding:
 * a constant, an exact counter, or either with a few spikes. GSL's scale
 * estimate (a MAD of zero) is then 0/0. Non-finite weights count as 1. */
static bool exact_fit(const gsl_vector *y, const gsl_vector *r,
                      const gsl_vector *w, double *tol)
{
    double ymax = 1, rmax = 0;
    for (size_t i = 0; i < y->size; i++) {
        ymax = fmax(ymax, fabs(gsl_vector_get(y, i)));
        double wi = gsl_vector_get(w, i);
        if (!(wi == 0))
            rmax = fmax(rmax, fabs(gsl_vector_get(r, i)));
    }
    *tol = 1e-12 * ymax;
    return rmax <= *tol;
}

/* Median of the residuals of the newest k samples (k = n / 8, clamped to
 * [5, RECENT_MAX], and at most n): does the line still describe "now"? */
#define RECENT_MAX 64
static double recent_median(const gsl_vector *r, size_t *k_out)
{
    size_t n = r->size, k = n / 8;
    k = k < 5 ? 5 : k > RECENT_MAX ? RECENT_MAX : k;
    k = k > n ? n : k;
    double v[RECENT_MAX];
    for (size_t i = 0; i < k; i++) {      /* insertion sort: k is small */
        double x = gsl_vector_get(r, n - k + i);
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    *k_out = k;
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* Ordinary least-squares slope of the newest quarter of the window (at
 * least 5 samples), from the design matrix's time column. */
static void recent_slope(const struct pw_trend *t, size_t n,
                         struct pw_trend_fit *fit)
{
    size_t k = n / 4 < 5 ? 5 : n / 4;
    k = k > n ? n : k;
    double c0, c1, cov00, cov01, cov11, sumsq;
    fit->recent_slope_n = k;
    if (gsl_fit_linear(t->x + 2 * (n - k) + 1, 2, t->y + (n - k), 1, k, &c0,
                       &c1, &cov00, &cov01, &cov11, &sumsq) != GSL_SUCCESS ||
        !isfinite(c1) || !isfinite(cov11)) {
        fit->recent_slope = NAN;
        fit->recent_slope_se = NAN;
        return;
    }
    fit->recent_slope = c1;
    fit->recent_slope_se = sqrt(cov11);
}

/* Noise scale from the first differences: 1.4826 MAD(diff) / sqrt(2). A
 * step or a curve in the window inflates the regression's sigma but
 * leaves this alone. scratch holds n - 1 doubles and is overwritten. */
static double diff_noise(const double *y, size_t n, double *scratch)
{
    if (n < 3)
        return 0;
    for (size_t i = 1; i < n; i++)
        scratch[i - 1] = y[i] - y[i - 1];
    double med = gsl_stats_median(scratch, 1, n - 1);
    for (size_t i = 0; i < n - 1; i++)
        scratch[i] = fabs(scratch[i] - med);
    return 1.4826 * gsl_stats_median(scratch, 1, n - 1) / M_SQRT2;
}

static bool finite_weights(const gsl_vector *w)
{
    for (size_t i = 0; i < w->size; i++)
        if (!isfinite(gsl_vector_get(w, i)))
            return false;
    return true;
}

int pw_trend_fit(struct pw_trend *t, struct pw_trend_fit *fit,
                 struct pw_err *err)
{
    memset(fit, 0, sizeof *fit);
    fit->converged = true;   /* until the robust iterations say otherwise */
    size_t n = t->len;
    fit->n = n;
    if (n == 0)
        return 0;
    fit->t_last_s = t->ts[slot(t, n - 1)];
    fit->span_s = fit->t_last_s - t->ts[t->head];
    if (n < t->cfg.min_samples || fit->span_s < t->cfg.min_span_s ||
        fit->span_s <= 0)
        return 0;

    for (size_t i = 0; i < n; i++) {
        size_t s = slot(t, i);
        t->x[2 * i] = 1.0;
        t->x[2 * i + 1] = t->ts[s] - fit->t_last_s;
        t->y[i] = t->val[s];
    }
    gsl_matrix_view X = gsl_matrix_view_array(t->x, n, 2);
    gsl_vector_view y = gsl_vector_view_array(t->y, n);
    double cbuf[2], covbuf[4];
    gsl_vector_view c = gsl_vector_view_array(cbuf, 2);
    gsl_matrix_view cov = gsl_matrix_view_array(covbuf, 2, 2);

    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = ensure_workspace(t, n, err);
    int gsl_rc = rc < 0 ? 0 : gsl_multifit_robust(&X.matrix, &y.vector,
                                                  &c.vector, &cov.matrix,
                                                  t->ws);
    gsl_set_error_handler(old);
    if (rc < 0)
        return -1;
    if (gsl_rc == GSL_EMAXITER) {
        /* Not an error: the data has no single robust line. No ETA. */
        fit->converged = false;
        return 0;
    }
    if (gsl_rc != GSL_SUCCESS)
        return pw_err_set(err, "trend: robust fit of %zu samples failed: %s",
                          n, gsl_strerror(gsl_rc));

    gsl_multifit_robust_stats st = gsl_multifit_robust_statistics(t->ws);
    const gsl_vector *w = st.weights;
    double tol;
    bool exact = exact_fit(&y.vector, st.r, st.weights, &tol);
    if (!exact && (!isfinite(covbuf[0]) || !isfinite(covbuf[3])))
        return pw_err_set(err, "trend: robust fit of %zu samples gave a "
                          "non-finite covariance", n);
    if (exact) {
        /* An exact line is known exactly: zero variance, and a slope that
         * is zero to rounding is zero. */
        memset(covbuf, 0, sizeof covbuf);
        if (fabs(cbuf[1]) * fit->span_s <= tol)
            cbuf[1] = 0;
        if (!finite_weights(st.weights))
            w = NULL;
    }
    residual_stats(&y.vector, st.r, w, &fit->r2, &fit->rho);
    if (exact)
        fit->rho = 0;   /* the "residuals" are rounding: no shape in them */
    fit->recent_residual = recent_median(st.r, &fit->recent_n);
    recent_slope(t, n, fit);
    fit->noise = diff_noise(t->y, n, t->x);   /* t->x is scratch from here */
    double inflate = (1 + fit->rho) / (1 - fit->rho);
    fit->level = cbuf[0];
    fit->slope = cbuf[1];
    fit->var_level = covbuf[0] * inflate;
    fit->cov_level_slope = covbuf[1] * inflate;
    fit->var_slope = covbuf[3] * inflate;
    fit->se_slope = sqrt(fit->var_slope);
    fit->sigma = st.sigma;
    if (fit->slope == 0)
        fit->t_slope = 0;
    else
        fit->t_slope = fit->slope / fit->se_slope;   /* may be +-inf */
    if (!isfinite(fit->level) || !isfinite(fit->slope) ||
        !isfinite(fit->var_level) || !isfinite(fit->var_slope))
        return pw_err_set(err, "trend: robust fit of %zu samples gave a "
                          "non-finite line (level %g, slope %g, var %g %g)",
                          n, fit->level, fit->slope, fit->var_level,
                          fit->var_slope);
    fit->valid = true;
    return 0;
}

const char *pw_trend_status_name(enum pw_trend_status s)
{
    switch (s) {
    case PW_TREND_ETA:               return "eta";
    case PW_TREND_PAST:              return "already past threshold";
    case PW_TREND_INSUFFICIENT_DATA: return "insufficient data";
    case PW_TREND_NOT_CONVERGED:     return "no robust line";
    case PW_TREND_NOT_SIGNIFICANT:   return "slope not significant";
    case PW_TREND_POOR_FIT:          return "trend explains too little";
    case PW_TREND_WRONG_DIRECTION:   return "moving away from threshold";
    case PW_TREND_SLOWING:           return "trend levelling off";
    case PW_TREND_BEYOND_HORIZON:    return "beyond horizon";
    }
    return "unknown";
}

/* Fieller range (see trend.h), written around the point estimate x* so
 * that it is stable when the variances are tiny: with x = x* + u the
 * condition is A u^2 - 2 z^2 g u - z^2 V <= 0, where A = slope^2 -
 * z^2 var_slope (> 0, the caller checked |t_slope| > z), g = cov + x*
 * var_slope and V = var(level + slope x*) >= 0. The roots' product is
 * -z^2 V / A <= 0, so u1 <= 0 <= u2: the range always contains x*. */
static void fieller(const struct pw_trend_fit *f, double x, double z,
                    double *lo, double *hi)
{
    double z2 = z * z;
    double A = f->slope * f->slope - z2 * f->var_slope;
    double g = f->cov_level_slope + x * f->var_slope;
    double V = f->var_level + 2 * x * f->cov_level_slope +
               x * x * f->var_slope;
    V = V > 0 ? V : 0;
    double root = sqrt(z2 * z2 * g * g + A * z2 * V);
    double q = z2 * g + (g >= 0 ? root : -root);   /* no cancellation */
    double u1 = 0, u2 = 0;
    if (q != 0) {
        double ua = q / A, ub = -z2 * V / q;
        u1 = fmin(ua, ub);
        u2 = fmax(ua, ub);
    }
    *lo = x + u1 < 0 ? 0 : x + u1;
    *hi = x + u2;
}

static enum pw_trend_status done(struct pw_trend_eta *e,
                                 enum pw_trend_status s)
{
    e->status = s;
    return s;
}

enum pw_trend_status pw_trend_eta(const struct pw_trend *t,
                                  const struct pw_trend_fit *fit,
                                  double threshold, enum pw_trend_dir dir,
                                  double horizon_s, struct pw_trend_eta *eta)
{
    const struct pw_trend_config *c = &t->cfg;
    eta->eta_s = eta->eta_low_s = eta->eta_high_s = NAN;
    eta->horizon_s = horizon_s;
    if (c->max_extrapolation > 0 && fit->valid &&
        c->max_extrapolation * fit->span_s < horizon_s)
        eta->horizon_s = c->max_extrapolation * fit->span_s;

    if (!fit->valid)
        return done(eta, fit->converged ? PW_TREND_INSUFFICIENT_DATA
                                        : PW_TREND_NOT_CONVERGED);
    double sign = dir == PW_TREND_RISING ? 1.0 : -1.0;
    if (sign * (fit->level - threshold) >= 0) {
        eta->eta_s = eta->eta_low_s = eta->eta_high_s = 0;
        return done(eta, PW_TREND_PAST);
    }
    /* Written so that a NaN fails every guard. */
    double abs_t = fabs(fit->t_slope);
    if (!(abs_t >= c->min_t && abs_t > c->z))
        return done(eta, PW_TREND_NOT_SIGNIFICANT);
    /* The median of k iid residuals has a standard error of about
     * 1.2533 sd / sqrt(k); 3 of those is a bias, not noise. The sd is the
     * smaller of the fit's sigma and the noise seen in the differences, so
     * that a step in the window cannot widen its own tolerance. */
    double sd = fmin(fit->sigma, fit->noise);
    double recent_tol = 3 * 1.2533 * sd / sqrt((double)fit->recent_n);
    /* ...but never below rounding, so that an exact line passes. */
    double rounding = 1e-9 * (fabs(fit->level) + fabs(fit->slope) * fit->span_s);
    recent_tol = fmax(recent_tol, rounding);
    if (!(fit->r2 >= c->min_r2) || !(fit->rho <= c->max_rho) ||
        !(fabs(fit->recent_residual) <= recent_tol))
        return done(eta, PW_TREND_POOR_FIT);
    if (!(sign * fit->slope > 0))
        return done(eta, PW_TREND_WRONG_DIRECTION);
    /* Evidence that the newest quarter moves at less than half the pace
     * (a step or a bend that has levelled off), or no recent slope at all
     * (too few distinct times). NaN fails. */
    if (!(sign * fit->recent_slope + c->z * fit->recent_slope_se >=
          sign * fit->slope / 2))
        return done(eta, PW_TREND_SLOWING);

    eta->eta_s = (threshold - fit->level) / fit->slope;
    fieller(fit, eta->eta_s, c->z, &eta->eta_low_s, &eta->eta_high_s);
    if (!(eta->eta_s <= eta->horizon_s))
        return done(eta, PW_TREND_BEYOND_HORIZON);
    return done(eta, PW_TREND_ETA);
}
