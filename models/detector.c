/* models/detector.c — see detector.h for the method.
 *
 * Everything is a ring buffer sized at creation (or, for the seasonal
 * profiles, at the second sample, when the step is known), so a push
 * never allocates after that and costs one pass over the reservoir. The
 * design and its knobs were chosen on NAB (bench-nab prints the figures
 * and how each part contributes); the constants below are those. */
#include "models/detector.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

/* Rows of raw history before a likelihood speaks. */
#define LIKELIHOOD_WARMUP 100
#define MAX_WINDOW 64

struct likelihood {
    double *recent;          /* short_len raw values */
    size_t nrecent, rpos;
    double rsum;
    double *hist;            /* history raw values */
    size_t nhist, hcap, hpos;
    double hsum, hsum2;
};

struct season {
    size_t period;           /* rows; 0 = off */
    double *mean;
    uint32_t *seen;
    struct likelihood lik;
};

struct pw_detector {
    struct pw_detector_config c;
    uint64_t rows, rejected;
    double first_ts;
    double lo, hi;
    /* novelty */
    double *vals;            /* last `block` values, for the block mean */
    double vsum;
    double *means;           /* ring of block means, 2 window block */
    size_t mcap;
    double *res;             /* reservoir: window doubles per entry */
    size_t nres;
    uint32_t rng;
    struct likelihood nlik;
    struct season day, week;
    size_t quiet;
};

void pw_detector_config_default(struct pw_detector_config *c)
{
    memset(c, 0, sizeof *c);
    c->learn_rows = 300;
    c->window = 8;
    c->block = 12;
    c->reservoir = 2000;
    c->season_alpha = 0.1;
    c->day_s = 86400;
    c->week_s = 7 * 86400;
    c->short_len = 10;
    c->history = 8640;
    c->var_floor = 1e-5;
    c->scale = 10;
    c->extreme_tolerance = 0.02;
    c->rest_threshold = 0.3;
    c->rest_rows = 150;
    c->seed = 12345;
}

const char *pw_detector_source_name(enum pw_detector_source s)
{
    switch (s) {
    case PW_DETECTOR_NONE:    return "none";
    case PW_DETECTOR_DAILY:   return "daily profile";
    case PW_DETECTOR_WEEKLY:  return "weekly profile";
    case PW_DETECTOR_NOVELTY: return "novel shape";
    case PW_DETECTOR_EXTREME: return "beyond the range seen";
    }
    return "unknown";
}

static int lik_init(struct likelihood *l, const struct pw_detector_config *c)
{
    memset(l, 0, sizeof *l);
    l->recent = calloc(c->short_len, sizeof *l->recent);
    l->hist = calloc(c->history, sizeof *l->hist);
    l->hcap = c->history;
    l->nrecent = c->short_len;
    return l->recent && l->hist ? 0 : -1;
}

static void lik_free(struct likelihood *l)
{
    free(l->recent);
    free(l->hist);
}

/* The likelihood score of the newest raw value (see detector.h, step 2). */
static double lik_step(struct likelihood *l, const struct pw_detector_config *c, double raw)
{
    l->rsum += raw - l->recent[l->rpos];
    l->recent[l->rpos] = raw;
    l->rpos = (l->rpos + 1) % l->nrecent;
    double short_mean = l->rsum / (double)l->nrecent;
    double score = 0;
    if (l->nhist >= LIKELIHOOD_WARMUP) {
        double mean = l->hsum / (double)l->nhist;
        double var = l->hsum2 / (double)l->nhist - mean * mean;
        if (var < c->var_floor)
            var = c->var_floor;
        double q = gsl_cdf_ugaussian_Q((short_mean - mean) / sqrt(var));
        score = q > 1e-300 ? -log10(q) / c->scale : 30.0 / c->scale;
        if (score > 1)
            score = 1;
    }
    if (l->nhist == l->hcap) {
        double old = l->hist[l->hpos];
        l->hsum -= old;
        l->hsum2 -= old * old;
    } else {
        l->nhist++;
    }
    l->hist[l->hpos] = raw;
    l->hsum += raw;
    l->hsum2 += raw * raw;
    l->hpos = (l->hpos + 1) % l->hcap;
    return score;
}

static int check(const struct pw_detector_config *c, struct pw_err *err)
{
    if (c->window < 1 || c->window > MAX_WINDOW)
        return pw_err_set(err, "detector: window %zu must be in [1, %d]", c->window, MAX_WINDOW);
    if (c->block < 1 || c->block > 100000 || c->reservoir < 1 || c->reservoir > 1000000)
        return pw_err_set(err, "detector: block %zu and reservoir %zu must be in [1, 100000] "
                               "and [1, 1000000]", c->block, c->reservoir);
    if (c->short_len < 1 || c->history < 1 || c->history > 10000000)
        return pw_err_set(err, "detector: short_len and history must be >= 1 (history at "
                               "most 10000000)");
    if (!(c->season_alpha > 0 && c->season_alpha <= 1))
        return pw_err_set(err, "detector: season_alpha %g must be in (0, 1]", c->season_alpha);
    if (!(c->day_s >= 0 && c->week_s >= 0 && c->day_s < 1e9 && c->week_s < 1e9))
        return pw_err_set(err, "detector: day_s and week_s must be in [0, 1e9)");
    if (!(c->var_floor > 0) || !(c->scale > 0) || !(c->extreme_tolerance >= 0) ||
        !isfinite(c->var_floor + c->scale + c->extreme_tolerance))
        return pw_err_set(err, "detector: var_floor and scale must be > 0, "
                               "extreme_tolerance >= 0");
    if (!(c->rest_threshold > 0 && c->rest_threshold <= 1))
        return pw_err_set(err, "detector: rest_threshold %g must be in (0, 1]",
                          c->rest_threshold);
    return 0;
}

struct pw_detector *pw_detector_new(const struct pw_detector_config *c, struct pw_err *err)
{
    if (check(c, err) < 0)
        return NULL;
    struct pw_detector *d = calloc(1, sizeof *d);
    if (!d) {
        pw_err_set(err, "detector: out of memory");
        return NULL;
    }
    d->c = *c;
    d->rng = c->seed;
    d->mcap = 2 * c->window * c->block;
    d->vals = calloc(c->block, sizeof *d->vals);
    d->means = calloc(d->mcap, sizeof *d->means);
    d->res = calloc(c->window * c->reservoir, sizeof *d->res);
    if (!d->vals || !d->means || !d->res || lik_init(&d->nlik, c) < 0 ||
        lik_init(&d->day.lik, c) < 0 || lik_init(&d->week.lik, c) < 0) {
        pw_detector_free(d);
        pw_err_set(err, "detector: out of memory");
        return NULL;
    }
    return d;
}

static void season_free(struct season *s)
{
    free(s->mean);
    free(s->seen);
    lik_free(&s->lik);
}

void pw_detector_free(struct pw_detector *d)
{
    if (!d)
        return;
    free(d->vals);
    free(d->means);
    free(d->res);
    lik_free(&d->nlik);
    season_free(&d->day);
    season_free(&d->week);
    free(d);
}

uint64_t pw_detector_rejected(const struct pw_detector *d)
{
    return d->rejected;
}

/* Block mean at row j (j <= the current row, within the ring). */
static double mean_at(const struct pw_detector *d, uint64_t j)
{
    return d->means[j % d->mcap];
}

/* Novelty of the newest window of block means (detector.h, N); stores the
 * window that ended `window` blocks ago into the reservoir. */
static double novelty(struct pw_detector *d, uint64_t i, double range)
{
    const size_t w = d->c.window, st = d->c.block;
    const uint64_t need = (uint64_t)w * st;
    if (i + 1 < 2 * need)
        return 0;
    double cur[MAX_WINDOW], old[MAX_WINDOW];
    for (size_t k = 0; k < w; k++) {
        uint64_t j = i - (uint64_t)(w - 1 - k) * st;
        cur[k] = mean_at(d, j);
        old[k] = mean_at(d, j - need);
    }
    double best = INFINITY;
    for (size_t r = 0; r < d->nres; r++) {
        const double *q = d->res + r * w;
        double dist = 0;
        for (size_t k = 0; k < w && dist < best; k++) {
            double t = cur[k] - q[k];
            dist += t * t;
        }
        if (dist < best)
            best = dist;
    }
    uint64_t seen = i + 2 - 2 * need;
    if (d->nres < d->c.reservoir) {
        memcpy(d->res + d->nres * w, old, w * sizeof *old);
        d->nres++;
    } else {
        d->rng = d->rng * 1103515245u + 12345u;
        uint64_t j = (uint64_t)(d->rng >> 4) % seen;
        if (j < d->c.reservoir)
            memcpy(d->res + j * w, old, w * sizeof *old);
    }
    if (!isfinite(best))
        return 0;
    double dist = sqrt(best / (double)w) / (range > 0 ? range : 1);
    return dist > 1 ? 1 : dist;
}

static int season_start(struct season *s, const struct pw_detector_config *c, double period_s,
                        double step_s)
{
    long long step = llround(step_s), period = llround(period_s);
    if (step <= 0 || period <= 0 || period % step != 0 || period / step > 10000000)
        return 0;
    s->period = (size_t)(period / step);
    s->mean = calloc(s->period, sizeof *s->mean);
    s->seen = calloc(s->period, sizeof *s->seen);
    (void)c;
    if (!s->mean || !s->seen) {
        s->period = 0;
        return -1;
    }
    return 0;
}

/* Seasonal residual likelihood at row i, or -1 while its phase is new. */
static double season_step(struct season *s, const struct pw_detector_config *c, uint64_t i,
                          double x, double range)
{
    if (s->period == 0)
        return -1;
    size_t ph = (size_t)(i % s->period);
    bool primed = s->seen[ph] > 0;
    double e = primed && range > 0 ? fabs(x - s->mean[ph]) / range : 0;
    if (!primed)
        s->mean[ph] = x;
    else
        s->mean[ph] += c->season_alpha * (x - s->mean[ph]);
    if (s->seen[ph] < UINT32_MAX)
        s->seen[ph]++;
    return primed ? lik_step(&s->lik, c, e) : -1;
}

int pw_detector_push(struct pw_detector *d, double ts_s, double x, double *score,
                     enum pw_detector_source *source)
{
    *score = 0;
    if (source)
        *source = PW_DETECTOR_NONE;
    if (!isfinite(x) || !isfinite(ts_s)) {
        d->rejected++;
        return -1;
    }
    const struct pw_detector_config *c = &d->c;
    uint64_t i = d->rows++;
    bool extreme = false;
    if (i == 0) {
        d->lo = d->hi = x;
        d->first_ts = ts_s;
    } else if (d->hi > d->lo && c->extreme_tolerance > 0) {
        double tol = (d->hi - d->lo) * c->extreme_tolerance;
        extreme = x > d->hi + tol || x < d->lo - tol;
    }
    d->lo = x < d->lo ? x : d->lo;
    d->hi = x > d->hi ? x : d->hi;
    double range = d->hi - d->lo;

    double best = 0;
    enum pw_detector_source src = PW_DETECTOR_NONE;
    /* N: block mean of the last `block` values, then the window novelty. */
    d->vsum += x - d->vals[i % c->block];
    d->vals[i % c->block] = x;
    d->means[i % d->mcap] = d->vsum / (double)(i + 1 < c->block ? i + 1 : c->block);
    double t = lik_step(&d->nlik, c, novelty(d, i, range));
    if (t > best) {
        best = t;
        src = PW_DETECTOR_NOVELTY;
    }
    /* S and T: their periods in rows are known from the second sample. */
    if (i == 1 && (season_start(&d->day, c, c->day_s, ts_s - d->first_ts) < 0 ||
                   season_start(&d->week, c, c->week_s, ts_s - d->first_ts) < 0)) {
        d->day.period = d->week.period = 0;   /* out of memory: go on without */
    }
    t = season_step(&d->day, c, i, x, range);
    if (t > best) {
        best = t;
        src = PW_DETECTOR_DAILY;
    }
    t = season_step(&d->week, c, i, x, range);
    if (t > best) {
        best = t;
        src = PW_DETECTOR_WEEKLY;
    }
    if (extreme && best < 1) {
        best = 1;
        src = PW_DETECTOR_EXTREME;
    }
    if (source)
        *source = src;
    if (i < c->learn_rows)
        return 0;
    if (d->quiet > 0) {
        d->quiet--;
        return 0;
    }
    if (best >= c->rest_threshold)
        d->quiet = c->rest_rows;
    *score = best;
    return 0;
}
