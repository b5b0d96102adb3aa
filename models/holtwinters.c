/* models/holtwinters.c — see holtwinters.h for the contract.
 *
 * Why it is built this way: the per-sample path (pw_hw_update) is a handful
 * of comparisons and multiplications on one 256-byte struct, touching one
 * knot of season (two when the season is compressed, with one integer
 * division to find them), with no allocation, so that one core keeps up
 * with tens of millions of samples a second. The season is float: its
 * components are deviations from the level, and 24 bits of mantissa are
 * far below any metric's noise, while halving the bytes that dominate the
 * per-series memory. The season lives inside the state (no pointer) so
 * that a state can be copied and persisted as it is. The compressed
 * season keeps the classical model as its K = m case to the bit: a phase
 * on a knot (f = 0) takes the one-knot path. Everything costly — the decomposition,
 * the parameter search, the ACF — happens once per training window, and
 * the search runs the very same step function over a float season, so the
 * error it minimises is the error the online series will make. */
#include "models/holtwinters.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_eigen.h>
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
_Static_assert(PW_HW_SEASON_KNOTS >= 2 &&
               (uint64_t)PW_HW_MAX_PERIOD * PW_HW_MAX_PERIOD < UINT32_MAX,
               "knot positions are computed as p K / m in uint32_t");

/* The knots of a season: c[0..K) over a period of m samples, K <= m. */
struct season {
    float *c;               /* NULL: no season */
    uint32_t K, m;
};

/* Where phase p falls: knots i and j = (i + 1) mod K, weights 1 - f, f. */
struct slot {
    uint32_t i, j;
    double f;
};

static inline struct slot slot_of(const struct season *sv, uint32_t p)
{
    if (sv->K == sv->m)
        return (struct slot){p, p, 0};
    uint32_t x = p * sv->K, i = x / sv->m, r = x % sv->m;
    return (struct slot){i, i + 1 == sv->K ? 0 : i + 1,
                         (double)r / sv->m};
}

static inline double season_at(const struct season *sv, struct slot sl)
{
    if (!sv->c)
        return 0;
    if (sl.f == 0)
        return sv->c[sl.i];
    return (1 - sl.f) * sv->c[sl.i] + sl.f * sv->c[sl.j];
}

/* <w(a), w(b)>: the product of the knot weights of two slots. */
static double weight_dot(struct slot a, struct slot b)
{
    double d = 0;
    if (a.i == b.i) d += (1 - a.f) * (1 - b.f);
    if (a.i == b.j) d += (1 - a.f) * b.f;
    if (a.j == b.i) d += a.f * (1 - b.f);
    if (a.j == b.j) d += a.f * b.f;
    return d;
}

uint32_t pw_hw_knots(const struct pw_hw_model *m)
{
    return m->period < PW_HW_SEASON_KNOTS ? m->period : PW_HW_SEASON_KNOTS;
}

/* The state's knots as a season (writable: the caller decides). */
static struct season state_season(const struct pw_hw_state *s,
                                  const struct pw_hw_model *m)
{
    return (struct season){m->period ? (float *)s->season : NULL,
                           pw_hw_knots(m), m->period};
}

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
 * trend b and the season at phase p; returns the one-step error. The same
 * code serves the online update, the fit and pw_hw_holdout_mse. */
static inline double hw_step(double *l, double *b, const struct season *sv,
                             uint32_t p, double y,
                             const struct pw_hw_params *par)
{
    struct slot sl = sv->c ? slot_of(sv, p) : (struct slot){0, 0, 0};
    double s0 = season_at(sv, sl);
    double pb = par->phi * *b;
    double e = y - (*l + pb + s0);
    *l += pb + par->alpha * e;
    *b = pb + par->alpha * par->beta * e;
    if (sv->c) {
        if (sl.f == 0) {
            sv->c[sl.i] = (float)(s0 + par->gamma * e);
        } else {
            double ge = par->gamma * e;
            sv->c[sl.i] = (float)(sv->c[sl.i] + (1 - sl.f) * ge);
            sv->c[sl.j] = (float)(sv->c[sl.j] + sl.f * ge);
        }
    }
    return e;
}

void pw_hw_init(struct pw_hw_state *s, const struct pw_hw_model *m)
{
    (void)m;
    memset(s, 0, sizeof *s);
    s->last_ts_s = NAN;
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

static void restart_level(struct pw_hw_state *s, const struct pw_hw_model *m,
                          double y)
{
    struct season sv = state_season(s, m);
    s->level = y - (sv.c ? season_at(&sv, slot_of(&sv, s->season_idx)) : 0);
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
        restart_level(s, m, y);
        next_slot(s, m);
        return 0;
    }
    if (k > 1) {
        if (k > m->max_gap_steps) {
            skip_slots(s, m, k - 1);
            restart_level(s, m, y);
            inc(&s->resets, 1);
            next_slot(s, m);
            return 0;
        }
        bridge(s, m, k - 1);
        inc(&s->gap_steps, k - 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(k - 1));
    }
    struct season sv = state_season(s, m);
    double e = hw_step(&s->level, &s->trend, &sv, s->season_idx, y, &m->p);
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
    struct season sv = state_season(s, m);
    double season = 0;
    uint32_t q = 0;
    struct slot sq = {0, 0, 0};
    if (sv.c) {
        q = (uint32_t)((s->season_idx + (uint64_t)h - 1) % m->period);
        sq = slot_of(&sv, q);
        season = season_at(&sv, sq);
    }
    double mult = 1, phi_j = 0, phi_pow = 1;
    for (uint32_t j = 1; j < h; j++) {
        phi_pow *= p->phi;
        phi_j += phi_pow;
        double c = p->alpha + p->alpha * p->beta * phi_j;
        if (sv.c && sv.K == sv.m) {
            if (j % m->period == 0)
                c += p->gamma;
        } else if (sv.c) {        /* the error at phase q - j, seen at q */
            uint32_t qj = (q + m->period - j % m->period) % m->period;
            c += p->gamma * weight_dot(slot_of(&sv, qj), sq);
        }
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

/* Least-squares line through d(i) = y[i] - s(i mod m), i in [0, n) (sv
 * NULL: no season): returns the level at index -1 (the state before y[0])
 * and the slope. */
static void init_line(const double *y, size_t n, const struct season *sv,
                      double *level, double *trend)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double d = y[i];
        if (sv && sv->c)
            d -= season_at(sv, slot_of(sv, (uint32_t)(i % sv->m)));
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

/* The season of the first S = min(n / m, 4) seasons: mean of y - MA per
 * slot, MA the centred moving average of order m (2 x m for even m),
 * shifted to sum to zero, into sum[0..m) (as double); cnt is m-sized
 * scratch. */
static void init_season(const double *y, size_t n, uint32_t m, double *sum,
                        double *cnt)
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
        sum[j] -= mean;
}

/* The knots from the season prof[0..m): with K = m the season itself;
 * otherwise knot k is the mean of prof weighted by w_k(p), and the knots
 * are shifted so that s(p) sums to 0. acc and wsum are K-sized scratch. */
static void compress_season(const double *prof, const struct season *sv,
                            double *acc, double *wsum)
{
    if (sv->K == sv->m) {
        for (uint32_t j = 0; j < sv->m; j++)
            sv->c[j] = (float)prof[j];
        return;
    }
    memset(acc, 0, sv->K * sizeof *acc);
    memset(wsum, 0, sv->K * sizeof *wsum);
    for (uint32_t p = 0; p < sv->m; p++) {
        struct slot sl = slot_of(sv, p);
        acc[sl.i] += (1 - sl.f) * prof[p];
        wsum[sl.i] += 1 - sl.f;
        acc[sl.j] += sl.f * prof[p];
        wsum[sl.j] += sl.f;
    }
    double mean = 0;          /* of s(p) = sum_k c_k wsum_k / m */
    for (uint32_t k = 0; k < sv->K; k++) {
        acc[k] = wsum[k] > 0 ? acc[k] / wsum[k] : 0;
        mean += acc[k] * wsum[k] / sv->m;
    }
    for (uint32_t k = 0; k < sv->K; k++)
        sv->c[k] = (float)(acc[k] - mean);
}

struct hw_init {
    double level, trend;
    struct season sv;       /* knots storage given (c NULL: no season) */
};

/* Fills ini from y; check_train has passed. */
static int decompose(const struct pw_hw_model *m, const double *y, size_t n,
                     struct hw_init *ini, struct pw_err *err)
{
    if (m->period == 0) {
        init_line(y, n < 10 ? n : 10, NULL, &ini->level, &ini->trend);
        return 0;
    }
    size_t mm = m->period;
    double *scratch = malloc((2 * mm + 2 * ini->sv.K) * sizeof *scratch);
    if (!scratch)
        return pw_err_set(err, "holtwinters: out of memory for a season of "
                          "%u", m->period);
    init_season(y, n, m->period, scratch, scratch + mm);
    compress_season(scratch, &ini->sv, scratch + mm, scratch + mm + ini->sv.K);
    free(scratch);
    size_t S = n / mm < 4 ? n / mm : 4;
    init_line(y, S * mm, &ini->sv, &ini->level, &ini->trend);
    return 0;
}

int pw_hw_start(struct pw_hw_state *s, const struct pw_hw_model *m,
                const double *y, size_t n, double ts_last_s,
                struct pw_err *err)
{
    pw_hw_init(s, m);
    if (check_train(m, y, n, err) < 0)
        return -1;
    if (!isfinite(ts_last_s))
        return pw_err_set(err, "holtwinters: ts_last_s %g is not finite",
                          ts_last_s);
    struct hw_init ini = {.sv = state_season(s, m)};
    if (decompose(m, y, n, &ini, err) < 0) {
        pw_hw_init(s, m);
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

/* The per-step spectral radius of the periodic compressed model (see
 * holtwinters.h): the monodromy matrix over one season on x = (l, b, c),
 * the unit direction deflated, its eigenvalues by GSL. */
static int max_root_compressed(const struct pw_hw_model *m, double *max_root,
                               struct pw_err *err)
{
    struct season sv = {NULL, pw_hw_knots(m), m->period};
    size_t n = sv.K + 2, nb = n - 1;
    double a = m->p.alpha, ab = m->p.alpha * m->p.beta, g = m->p.gamma;
    double phi = m->p.phi;
    double *M = malloc((n * n + n + nb * nb) * sizeof *M);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(nb);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(nb);
    int rc = -1;
    if (!M || !w || !ev) {
        pw_err_set(err, "holtwinters: out of memory for the stability "
                   "check of period %u", m->period);
        goto out;
    }
    double *r = M + n * n, *B = r + n;
    memset(M, 0, n * n * sizeof *M);
    for (size_t k = 0; k < n; k++)
        M[k * n + k] = 1;
    /* M <- D_p M = F M - g_p (w_p' M), row by row: O(n) per phase. */
    for (uint32_t p = 0; p < sv.m; p++) {
        struct slot sl = slot_of(&sv, p);
        double *L = M, *T = M + n, *Ci = M + (2 + sl.i) * n,
               *Cj = M + (2 + sl.j) * n;
        for (size_t k = 0; k < n; k++)
            r[k] = L[k] + phi * T[k] + (1 - sl.f) * Ci[k] + sl.f * Cj[k];
        for (size_t k = 0; k < n; k++) {
            L[k] += phi * T[k] - a * r[k];
            T[k] = phi * T[k] - ab * r[k];
            Ci[k] -= g * (1 - sl.f) * r[k];
            Cj[k] -= g * sl.f * r[k];
        }
    }
    /* In the basis (v, e_1, ..., e_{n-1}), v = (1, 0, -1, ..., -1): the
     * block without v is B_kj = M_kj - v_k M_0j, k, j >= 1. */
    for (size_t k = 1; k < n; k++)
        for (size_t j = 1; j < n; j++)
            B[(k - 1) * nb + (j - 1)] = M[k * n + j] + (k >= 2 ? M[j] : 0);
    gsl_matrix_view Bv = gsl_matrix_view_array(B, nb, nb);
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int st = gsl_eigen_nonsymm(&Bv.matrix, ev, w);
    gsl_set_error_handler(old);
    if (st != GSL_SUCCESS) {
        pw_err_set(err, "holtwinters: the eigenvalues for period %u did not "
                   "converge", m->period);
        goto out;
    }
    double mx = 0;
    for (size_t k = 0; k < nb; k++) {
        gsl_complex z = gsl_vector_complex_get(ev, k);
        mx = fmax(mx, hypot(GSL_REAL(z), GSL_IMAG(z)));
    }
    *max_root = pow(mx, 1.0 / sv.m);
    rc = 0;
out:
    gsl_vector_complex_free(ev);
    gsl_eigen_nonsymm_free(w);
    free(M);
    return rc;
}

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
    if (pw_hw_knots(m) < m->period)
        return max_root_compressed(m, max_root, err);
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
    struct season sv;       /* scratch copy of ini.sv */
    bool check;             /* reject unstable trials */
    double best_stable;     /* lowest SSE of a trial found stable */
    size_t unstable;        /* trials rejected as unstable */
};

static double sse(const struct fit_ctx *c, const struct pw_hw_params *p)
{
    uint32_t m = c->m->period;
    double l = c->ini.level, b = c->ini.trend, total = 0;
    if (m > 0)
        memcpy(c->sv.c, c->ini.sv.c, c->sv.K * sizeof *c->sv.c);
    for (size_t i = 0, j = 0; i < c->n; i++) {
        double e = hw_step(&l, &b, &c->sv, (uint32_t)j, c->y[i], p);
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
    float buf[2 * PW_HW_SEASON_KNOTS];
    uint32_t K = pw_hw_knots(m);
    struct fit_ctx c = {.m = m, .y = y, .n = n, .best_stable = INFINITY,
                        .check = true};
    c.ini.sv = (struct season){m->period ? buf : NULL, K, m->period};
    c.sv = (struct season){m->period ? buf + K : NULL, K, m->period};
    if (decompose(m, y, n, &c.ini, err) < 0)
        return -1;
    res->mse_start = sse(&c, &m->p) / (double)n;
    struct pw_hw_params best;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    int rc = minimise(&c, &best, res, err);
    gsl_set_error_handler(old);
    if (rc < 0)
        return -1;
    if (res->mse >= 1e300 / (double)n)
        return pw_err_set(err, "holtwinters: no finite, stable parameters "
                          "found from the starting point; start from "
                          "smaller beta and gamma");
    bool start_ok = pw_hw_stable(m);
    if (res->mse <= res->mse_start || !start_ok)
        m->p = best;
    else
        res->mse = res->mse_start;   /* the stable start was better */
    return 0;
}

/* ---- what the compression costs ---- */

int pw_hw_holdout_mse(const struct pw_hw_model *m, uint32_t knots,
                      const double *y, size_t train, size_t n, double *mse,
                      struct pw_err *err)
{
    *mse = NAN;
    if (check_train(m, y, train, err) < 0)
        return -1;
    if (m->period == 0)
        return pw_err_set(err, "holtwinters: the held-out comparison of "
                          "knots needs a seasonal model");
    if (knots == 0)
        knots = pw_hw_knots(m);
    if (knots < 2 || knots > m->period)
        return pw_err_set(err, "holtwinters: %u knots for period %u; give "
                          "2 .. period (or 0 for the model's own)", knots,
                          m->period);
    if (n <= train)
        return pw_err_set(err, "holtwinters: no held-out samples (%zu "
                          "training of %zu)", train, n);
    for (size_t i = train; i < n; i++)
        if (!isfinite(y[i]))
            return pw_err_set(err, "holtwinters: held-out sample %zu is not "
                              "finite (%g)", i, y[i]);
    float *c = malloc(knots * sizeof *c);
    if (!c)
        return pw_err_set(err, "holtwinters: out of memory for %u knots",
                          knots);
    struct hw_init ini = {.sv = {c, knots, m->period}};
    if (decompose(m, y, train, &ini, err) < 0) {
        free(c);
        return -1;
    }
    double l = ini.level, b = ini.trend, total = 0;
    for (size_t i = 0; i < n; i++) {
        double e = hw_step(&l, &b, &ini.sv, (uint32_t)(i % m->period), y[i],
                           &m->p);
        if (i >= train)
            total += e * e;
    }
    free(c);
    *mse = total / (double)(n - train);
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
    init_line(y, n, NULL, &level, &slope);      /* level at index -1 */
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
