/* models/holtwinters.c — see holtwinters.h for the contract.
 *
 * Why it is built this way: the per-sample path (pw_hw_update) is a handful
 * of comparisons and multiplications on a 72-byte struct and one float of
 * season, with no division outside the warm-up and no allocation, so that
 * one core keeps up with tens of millions of samples a second. The season
 * is float: its components are deviations from the level, and 24 bits of
 * mantissa are far below any metric's noise, while halving the bytes that
 * dominate the per-series memory. Everything costly — the decomposition,
 * the parameter search, the ACF — happens once per training window, and
 * the search runs the very same step function over a float season, so the
 * error it minimises is the error the online series will make. */
#include "models/holtwinters.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_poly.h>

#define FLAG_LEVEL 1u      /* level and trend hold a value */

/* Logistic bounds for the fit: parameters stay in [EPS, 1 - EPS]. */
#define EPS 1e-4
#define PHI_LO 0.8
#define PHI_SPAN 0.18

_Static_assert(sizeof(struct pw_hw_state) <= 256,
               "the per-series state must stay within 256 bytes");

void pw_hw_model_default(struct pw_hw_model *m, uint32_t period,
                         double step_s, bool damped)
{
    memset(m, 0, sizeof *m);
    m->p.alpha = 0.2;
    m->p.beta = 0.001;
    m->p.gamma = 0.1;
    m->p.phi = damped ? 0.98 : 1.0;
    m->period = period;
    m->damped = damped;
    m->step_s = step_s;
    m->max_gap_steps = period > 12 ? period : 12;
    m->var_weight = 0.01;
}

int pw_hw_model_check(const struct pw_hw_model *m, struct pw_err *err)
{
    const struct pw_hw_params *p = &m->p;
    if (!(p->alpha > 0 && p->alpha < 1))
        return pw_err_set(err, "holtwinters: alpha %g must be in (0, 1)",
                          p->alpha);
    if (!(p->beta > 0 && p->beta < 1))
        return pw_err_set(err, "holtwinters: beta %g must be in (0, 1)",
                          p->beta);
    if (m->period > 0 && !(p->gamma > 0 && p->gamma < 1 - p->alpha))
        return pw_err_set(err, "holtwinters: gamma %g must be in (0, 1 - "
                          "alpha = %g)", p->gamma, 1 - p->alpha);
    if (!(p->phi > 0 && p->phi <= 1))
        return pw_err_set(err, "holtwinters: phi %g must be in (0, 1]",
                          p->phi);
    if (m->period == 1 || m->period > PW_HW_MAX_PERIOD)
        return pw_err_set(err, "holtwinters: period %u must be 0 (none) or "
                          "in [2, %d]", m->period, PW_HW_MAX_PERIOD);
    if (!(m->step_s > 0) || isinf(m->step_s))
        return pw_err_set(err, "holtwinters: step_s %g must be finite and "
                          "> 0", m->step_s);
    if (!(m->max_gap_steps >= 1))
        return pw_err_set(err, "holtwinters: max_gap_steps %g must be >= 1",
                          m->max_gap_steps);
    if (!(m->var_weight > 0 && m->var_weight <= 1))
        return pw_err_set(err, "holtwinters: var_weight %g must be in "
                          "(0, 1]", m->var_weight);
    return 0;
}

size_t pw_hw_min_train(const struct pw_hw_model *m)
{
    return m->period > 0 ? 2 * (size_t)m->period : 10;
}

static inline void inc(uint32_t *c, uint32_t by)
{
    *c = *c > UINT32_MAX - by ? UINT32_MAX : *c + by;
}

/* phi + phi^2 + ... + phi^k. */
static double phi_sum(double phi, double k)
{
    if (phi == 1)
        return k;
    return phi * (1 - pow(phi, k)) / (1 - phi);
}

/* One step of the recursion (the equations in holtwinters.h) on level l,
 * trend b and the season slot sj (NULL without season); returns the
 * one-step error. The same code serves the online update and the fit. */
static inline double hw_step(double *l, double *b, float *sj, double y,
                             const struct pw_hw_params *p)
{
    double s0 = sj ? *sj : 0;
    double pb = p->phi * *b;
    double e = y - (*l + pb + s0);
    *l += pb + p->alpha * e;
    *b = pb + p->alpha * p->beta * e;
    if (sj)
        *sj = (float)(s0 + p->gamma * e);
    return e;
}

void pw_hw_init(struct pw_hw_state *s, const struct pw_hw_model *m,
                float *season)
{
    memset(s, 0, sizeof *s);
    s->last_ts_s = NAN;
    s->season = m->period > 0 ? season : NULL;
    if (s->season)
        memset(season, 0, m->period * sizeof *season);
}

static void skip_slots(struct pw_hw_state *s, const struct pw_hw_model *m,
                       double k)
{
    if (m->period > 0)
        s->season_idx = (uint32_t)fmod(s->season_idx + k, m->period);
}

/* Moves the state on k steps without data: what a forecast would do. */
static void bridge(struct pw_hw_state *s, const struct pw_hw_model *m,
                   double k)
{
    s->level += phi_sum(m->p.phi, k) * s->trend;
    if (m->p.phi != 1)
        s->trend *= pow(m->p.phi, k);
    skip_slots(s, m, k);
}

static void restart_level(struct pw_hw_state *s, double y)
{
    s->level = y - (s->season ? s->season[s->season_idx] : 0);
    s->trend = 0;
    s->flags |= FLAG_LEVEL;
}

static void next_slot(struct pw_hw_state *s, const struct pw_hw_model *m)
{
    if (m->period > 0 && ++s->season_idx == m->period)
        s->season_idx = 0;
}

int pw_hw_update(struct pw_hw_state *s, const struct pw_hw_model *m,
                 double ts_s, double y, struct pw_err *err)
{
    if (!isfinite(ts_s) || !isfinite(y)) {
        inc(&s->rejected_nonfinite, 1);
        return pw_err_set(err, "holtwinters: rejected non-finite sample "
                          "(ts %g, value %g)", ts_s, y);
    }
    double k = 1;
    if (!isnan(s->last_ts_s)) {
        if (ts_s < s->last_ts_s) {
            inc(&s->rejected_backwards, 1);
            return pw_err_set(err, "holtwinters: rejected sample at %.3f s, "
                              "before the newest one at %.3f s", ts_s,
                              s->last_ts_s);
        }
        k = floor((ts_s - s->last_ts_s) / m->step_s + 0.5);
        if (k < 1) {
            inc(&s->rejected_early, 1);
            return pw_err_set(err, "holtwinters: rejected sample at %.3f s, "
                              "less than half a %g s step after the one at "
                              "%.3f s", ts_s, m->step_s, s->last_ts_s);
        }
    }
    s->last_ts_s = ts_s;
    if (!(s->flags & FLAG_LEVEL)) {          /* cold start: first sample */
        restart_level(s, y);
        next_slot(s, m);
        return 0;
    }
    if (k > 1) {
        if (k > m->max_gap_steps) {
            skip_slots(s, m, k - 1);
            restart_level(s, y);
            inc(&s->resets, 1);
            next_slot(s, m);
            return 0;
        }
        bridge(s, m, k - 1);
        inc(&s->gap_steps, k - 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(k - 1));
    }
    float *sj = s->season ? s->season + s->season_idx : NULL;
    double e = hw_step(&s->level, &s->trend, sj, y, &m->p);
    inc(&s->updates, 1);
    /* Running mean of e^2 while 1/updates > var_weight, then an EWMA. */
    double w = m->var_weight;
    if ((double)s->updates * w < 1)
        w = 1.0 / s->updates;
    s->var += w * (e * e - s->var);
    next_slot(s, m);
    return 0;
}

int pw_hw_forecast(const struct pw_hw_state *s, const struct pw_hw_model *m,
                   uint32_t h, double z, struct pw_hw_forecast *out,
                   struct pw_err *err)
{
    if (!(s->flags & FLAG_LEVEL))
        return pw_err_set(err, "holtwinters: no forecast before the first "
                          "sample");
    if (h == 0)
        return pw_err_set(err, "holtwinters: forecast horizon must be >= 1 "
                          "step");
    const struct pw_hw_params *p = &m->p;
    double season = 0;
    if (s->season)
        season = s->season[(s->season_idx + (uint64_t)h - 1) % m->period];
    double mult = 1, phi_j = 0, phi_pow = 1;
    for (uint32_t j = 1; j < h; j++) {
        phi_pow *= p->phi;
        phi_j += phi_pow;
        double c = p->alpha + p->alpha * p->beta * phi_j;
        if (m->period > 0 && j % m->period == 0)
            c += p->gamma;
        mult += c * c;
    }
    out->mean = s->level + phi_sum(p->phi, h) * s->trend + season;
    out->sd = sqrt(s->var * mult);
    out->lo = out->mean - z * out->sd;
    out->hi = out->mean + z * out->sd;
    return 0;
}

/* ---- initialisation by classical decomposition ---- */

static int check_train(const struct pw_hw_model *m, const double *y,
                       size_t n, struct pw_err *err)
{
    if (pw_hw_model_check(m, err) < 0)
        return -1;
    size_t need = pw_hw_min_train(m);
    if (n < need)
        return pw_err_set(err, "holtwinters: %zu training samples are too "
                          "few; give at least %zu (%s)", n, need,
                          m->period ? "two whole seasons" : "10 samples");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return pw_err_set(err, "holtwinters: training sample %zu is not "
                              "finite (%g); fill or cut gaps first", i, y[i]);
    return 0;
}

/* Least-squares line through d(i) = y[i] - season[i mod m], i in [0, n):
 * returns the level at index -1 (the state before y[0]) and the slope. */
static void init_line(const double *y, size_t n, const float *season,
                      uint32_t m, double *level, double *trend)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double d = y[i] - (season ? season[i % m] : 0);
        double x = (double)i;
        sx += x;
        sy += d;
        sxx += x * x;
        sxy += x * d;
    }
    double dn = (double)n, den = dn * sxx - sx * sx;
    double b = den > 0 ? (dn * sxy - sx * sy) / den : 0;
    double a = (sy - b * sx) / dn;
    *level = a - b;
    *trend = b;
}

/* The season of the first K = min(n / m, 4) seasons: mean of y - MA per
 * slot, MA the centred moving average of order m (2 x m for even m),
 * shifted to sum to zero. sum and cnt are m-sized scratch. */
static void init_season(const double *y, size_t n, uint32_t m, float *season,
                        double *sum, double *cnt)
{
    size_t K = n / m < 4 ? n / m : 4, N = K * m, h = m / 2;
    memset(sum, 0, m * sizeof *sum);
    memset(cnt, 0, m * sizeof *cnt);
    double win = 0;                       /* sum of y[i - h .. i + h] */
    for (size_t j = 0; j <= 2 * h; j++)
        win += y[j];
    for (size_t i = h; i + h < N; i++) {
        if (i > h)
            win += y[i + h] - y[i - h - 1];
        double ma = m % 2 ? win / m
                          : (win - 0.5 * (y[i - h] + y[i + h])) / m;
        sum[i % m] += y[i] - ma;
        cnt[i % m] += 1;
    }
    double mean = 0;
    for (uint32_t j = 0; j < m; j++) {
        sum[j] = cnt[j] > 0 ? sum[j] / cnt[j] : 0;
        mean += sum[j] / m;
    }
    for (uint32_t j = 0; j < m; j++)
        season[j] = (float)(sum[j] - mean);
}

struct hw_init {
    double level, trend;
    float *season;          /* m floats, or NULL */
};

/* Fills ini (season storage given) from y; check_train has passed. */
static int decompose(const struct pw_hw_model *m, const double *y, size_t n,
                     struct hw_init *ini, struct pw_err *err)
{
    if (m->period == 0) {
        init_line(y, n < 10 ? n : 10, NULL, 0, &ini->level, &ini->trend);
        return 0;
    }
    double *scratch = malloc(2 * (size_t)m->period * sizeof *scratch);
    if (!scratch)
        return pw_err_set(err, "holtwinters: out of memory for a season of "
                          "%u", m->period);
    init_season(y, n, m->period, ini->season, scratch, scratch + m->period);
    free(scratch);
    size_t K = n / m->period < 4 ? n / m->period : 4;
    init_line(y, K * m->period, ini->season, m->period, &ini->level,
              &ini->trend);
    return 0;
}

int pw_hw_start(struct pw_hw_state *s, const struct pw_hw_model *m,
                float *season, const double *y, size_t n, double ts_last_s,
                struct pw_err *err)
{
    pw_hw_init(s, m, season);
    if (check_train(m, y, n, err) < 0)
        return -1;
    if (!isfinite(ts_last_s))
        return pw_err_set(err, "holtwinters: ts_last_s %g is not finite",
                          ts_last_s);
    struct hw_init ini = {.season = s->season};
    if (decompose(m, y, n, &ini, err) < 0) {
        pw_hw_init(s, m, season);
        return -1;
    }
    s->level = ini.level;
    s->trend = ini.trend;
    s->flags |= FLAG_LEVEL;
    for (size_t i = 0; i < n; i++)
        pw_hw_update(s, m, ts_last_s - (double)(n - 1 - i) * m->step_s, y[i],
                     NULL);
    return 0;
}

/* ---- stability ---- */

int pw_hw_max_root(const struct pw_hw_model *m, double *max_root,
                   struct pw_err *err)
{
    *max_root = NAN;
    if (pw_hw_model_check(m, err) < 0)
        return -1;
    double a = m->p.alpha, b = m->p.alpha * m->p.beta, g = m->p.gamma;
    double phi = m->p.phi;
    if (m->period == 0) {
        /* D = [[1 - a, phi (1 - a)], [-b, phi (1 - b)]]. */
        double tr = 1 - a + phi * (1 - b), det = phi * (1 - a);
        double disc = tr * tr - 4 * det;
        *max_root = disc >= 0 ? (fabs(tr) + sqrt(disc)) / 2 : sqrt(det);
        return 0;
    }
    if (m->period > PW_HW_STABILITY_MAX_PERIOD)
        return pw_err_set(err, "holtwinters: stability of period %u is not "
                          "checked (above %d: too costly)", m->period,
                          PW_HW_STABILITY_MAX_PERIOD);
    size_t mm = m->period, n = mm + 2;       /* coefficients, degree m + 1 */
    double *P = malloc((n + 2 * (n - 1)) * sizeof *P);
    gsl_poly_complex_workspace *w = gsl_poly_complex_workspace_alloc(n);
    if (!P || !w) {
        free(P);
        gsl_poly_complex_workspace_free(w);
        return pw_err_set(err, "holtwinters: out of memory for the stability "
                          "check of period %u", m->period);
    }
    double *z = P + n;
    P[0] = phi * (1 - a - g);
    P[1] = a + b - a * phi + g - 1;
    for (size_t i = 2; i < mm; i++)
        P[i] = a + b - a * phi;
    P[mm] = a + b - phi;
    P[mm + 1] = 1;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = gsl_poly_complex_solve(P, n, w, z);
    gsl_set_error_handler(old);
    double mx = 0;
    for (size_t i = 0; rc == GSL_SUCCESS && i < n - 1; i++)
        mx = fmax(mx, hypot(z[2 * i], z[2 * i + 1]));
    gsl_poly_complex_workspace_free(w);
    free(P);
    if (rc != GSL_SUCCESS)
        return pw_err_set(err, "holtwinters: the characteristic roots for "
                          "period %u did not converge", m->period);
    *max_root = mx;
    return 0;
}

bool pw_hw_stable(const struct pw_hw_model *m)
{
    double r;
    return pw_hw_max_root(m, &r, NULL) == 0 && r <= 1 + 1e-10;
}

/* ---- fitting ---- */

struct fit_ctx {
    const struct pw_hw_model *m;
    const double *y;
    size_t n;
    struct hw_init ini;
    float *season;          /* scratch copy of ini.season */
    bool check;             /* reject unstable trials (period small enough) */
    double best_stable;     /* lowest SSE of a trial found stable */
    size_t unstable;        /* trials rejected as unstable */
};

static double sse(const struct fit_ctx *c, const struct pw_hw_params *p)
{
    uint32_t m = c->m->period;
    double l = c->ini.level, b = c->ini.trend, total = 0;
    if (m > 0)
        memcpy(c->season, c->ini.season, m * sizeof *c->season);
    for (size_t i = 0, j = 0; i < c->n; i++) {
        float *sj = m > 0 ? c->season + j : NULL;
        double e = hw_step(&l, &b, sj, c->y[i], p);
        total += e * e;
        if (m > 0 && ++j == m)
            j = 0;
    }
    return isfinite(total) ? total : 1e300;
}

static double logistic(double u)
{
    return EPS + (1 - 2 * EPS) / (1 + exp(-u));
}

static double logit(double v)
{
    v = v < 0.001 ? 0.001 : v > 0.999 ? 0.999 : v;
    double q = (v - EPS) / (1 - 2 * EPS);
    return log(q / (1 - q));
}

/* u -> parameters; the layout of u is alpha, beta, [gamma], [phi]. */
static void unpack(const struct fit_ctx *c, const gsl_vector *u,
                   struct pw_hw_params *p)
{
    size_t i = 0;
    p->alpha = logistic(gsl_vector_get(u, i++));
    p->beta = logistic(gsl_vector_get(u, i++));
    p->gamma = c->m->period > 0
                   ? (1 - p->alpha) * logistic(gsl_vector_get(u, i++)) : 0;
    p->phi = c->m->damped
                 ? PHI_LO + PHI_SPAN * logistic(gsl_vector_get(u, i++)) : 1;
}

/* The SSE of a trial, or 1e300 if the trial would be the best so far but
 * is unstable: the root check costs O(m^3), so only trials that could
 * become the answer pay for it. */
static double objective(const gsl_vector *u, void *arg)
{
    struct fit_ctx *c = arg;
    struct pw_hw_model trial = *c->m;
    unpack(c, u, &trial.p);
    double v = sse(c, &trial.p);
    if (!c->check || v >= c->best_stable)
        return v;
    if (!pw_hw_stable(&trial)) {
        c->unstable++;
        return 1e300;
    }
    c->best_stable = v;
    return v;
}

static int minimise(struct fit_ctx *c, struct pw_hw_params *best,
                    struct pw_hw_fit_result *res, struct pw_err *err)
{
    const struct pw_hw_params *p0 = &c->m->p;
    size_t dim = 2 + (c->m->period > 0) + c->m->damped, i = 0;
    gsl_vector *u = gsl_vector_alloc(dim), *step = gsl_vector_alloc(dim);
    gsl_multimin_fminimizer *mm =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2,
                                      dim);
    int rc = -1;
    if (!u || !step || !mm) {
        pw_err_set(err, "holtwinters: out of memory for the fit");
        goto out;
    }
    gsl_vector_set(u, i++, logit(p0->alpha));
    gsl_vector_set(u, i++, logit(p0->beta));
    if (c->m->period > 0)
        gsl_vector_set(u, i++, logit(p0->gamma / (1 - p0->alpha)));
    if (c->m->damped)
        gsl_vector_set(u, i++, logit((p0->phi - PHI_LO) / PHI_SPAN));
    gsl_vector_set_all(step, 1.0);
    gsl_multimin_function f = {.f = objective, .n = dim, .params = c};
    if (gsl_multimin_fminimizer_set(mm, &f, u, step) != GSL_SUCCESS) {
        pw_err_set(err, "holtwinters: the fit could not start");
        goto out;
    }
    int status = GSL_CONTINUE;
    size_t iter = 0;
    while (status == GSL_CONTINUE && iter < PW_HW_FIT_MAXITER) {
        iter++;
        if (gsl_multimin_fminimizer_iterate(mm) != GSL_SUCCESS)
            break;                /* no progress possible: keep the best */
        status = gsl_multimin_test_size(gsl_multimin_fminimizer_size(mm),
                                        1e-4);
    }
    res->iterations = iter;
    res->unstable_trials = c->unstable;
    res->converged = status == GSL_SUCCESS;
    unpack(c, mm->x, best);
    res->mse = mm->fval / (double)c->n;
    rc = 0;
out:
    gsl_multimin_fminimizer_free(mm);
    gsl_vector_free(u);
    gsl_vector_free(step);
    return rc;
}

int pw_hw_fit(struct pw_hw_model *m, const double *y, size_t n,
              struct pw_hw_fit_result *res, struct pw_err *err)
{
    memset(res, 0, sizeof *res);
    if (check_train(m, y, n, err) < 0)
        return -1;
    float *buf = NULL;
    if (m->period > 0) {
        buf = malloc(2 * (size_t)m->period * sizeof *buf);
        if (!buf)
            return pw_err_set(err, "holtwinters: out of memory for a season "
                              "of %u", m->period);
    }
    struct fit_ctx c = {.m = m, .y = y, .n = n, .best_stable = INFINITY,
                        .check = m->period <= PW_HW_STABILITY_MAX_PERIOD};
    c.ini.season = buf;
    c.season = buf ? buf + m->period : NULL;
    if (decompose(m, y, n, &c.ini, err) < 0) {
        free(buf);
        return -1;
    }
    res->mse_start = sse(&c, &m->p) / (double)n;
    struct pw_hw_params best;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = minimise(&c, &best, res, err);
    gsl_set_error_handler(old);
    free(buf);
    if (rc < 0)
        return -1;
    if (res->mse >= 1e300 / (double)n)
        return pw_err_set(err, "holtwinters: no finite, stable parameters "
                          "found from the starting point; start from "
                          "smaller beta and gamma");
    bool start_ok = !c.check || pw_hw_stable(m);
    if (res->mse <= res->mse_start || !start_ok)
        m->p = best;
    else
        res->mse = res->mse_start;   /* the stable start was better */
    return 0;
}

/* ---- season period from the ACF ---- */

int pw_hw_detect_period(const double *y, size_t n, size_t max_lag,
                        struct pw_hw_period *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    if (max_lag < 2 || n < 2 * (max_lag + 1))
        return pw_err_set(err, "holtwinters: period detection needs max_lag "
                          ">= 2 and at least 2 (max_lag + 1) samples; got "
                          "max_lag %zu, %zu samples", max_lag, n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]))
            return pw_err_set(err, "holtwinters: sample %zu is not finite "
                              "(%g)", i, y[i]);
    double *x = malloc((n + max_lag + 2) * sizeof *x);
    if (!x)
        return pw_err_set(err, "holtwinters: out of memory for %zu samples",
                          n);
    double *r = x + n;                    /* r[0 .. max_lag + 1] */
    double level, slope;
    init_line(y, n, NULL, 0, &level, &slope);   /* level at index -1 */
    double ss = 0, yy = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = y[i] - (level + slope * (double)(i + 1));
        ss += x[i] * x[i];
        yy += y[i] * y[i];
    }
    out->bound = fmax(3 / sqrt((double)n), 0.1);
    if (!(ss > 1e-20 * yy)) {             /* a line to rounding: no season */
        free(x);
        return 0;
    }
    for (size_t k = 0; k <= max_lag + 1; k++) {
        double acc = 0;
        for (size_t i = 0; i + k < n; i++)
            acc += x[i] * x[i + k];
        r[k] = acc / ss;
    }
    double lowest = r[1], best = -1;
    for (size_t k = 2; k <= max_lag; k++) {
        if (r[k] >= r[k - 1] && r[k] > r[k + 1] && r[k] > out->bound &&
            r[k] - lowest >= out->bound && r[k] > best) {
            best = r[k];
            out->period = (uint32_t)k;
            out->acf = r[k];
        }
        lowest = fmin(lowest, r[k]);
    }
    free(x);
    return 0;
}
