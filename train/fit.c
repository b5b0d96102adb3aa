/* train/fit.c — see fit.h. */
#include "train/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "models/codec.h"

void pw_fit_options_default(struct pw_fit_options *o)
{
    memset(o, 0, sizeof *o);
    pw_iforest_config_default(&o->forest);
    o->max_train = 20000;
}

void pw_fit_rows_free(struct pw_fit_rows *r)
{
    free(r->x);
    free(r->ts_s);
    free(r->labels);
    free(r->entity);
    memset(r, 0, sizeof *r);
}

void pw_fit_result_free(struct pw_fit_result *r)
{
    free(r->metrics);
    free(r->classes);
    memset(r, 0, sizeof *r);
}

/* ---- feature rows ----------------------------------------------------- */

struct event {
    double ts;
    uint32_t feature;
    uint32_t i;
    size_t series;
};

static int cmp_event(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->feature != y->feature)
        return x->feature < y->feature ? -1 : 1;
    if (x->series != y->series)
        return x->series < y->series ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_entity(const void *a, const void *b, void *arg)
{
    const struct pw_history *h = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(h->series[i].entity, h->series[j].entity);
    return c ? c : (i < j ? -1 : i > j);
}

static int rows_reserve(struct pw_fit_rows *r, bool labels)
{
    if (r->n < r->cap)
        return 0;
    size_t cap = r->cap ? r->cap * 2 : 1024;
    double *x = realloc(r->x, cap * r->d * sizeof *x);
    if (x)
        r->x = x;
    double *t = x ? realloc(r->ts_s, cap * sizeof *t) : NULL;
    if (t)
        r->ts_s = t;
    const char **e = t ? realloc(r->entity, cap * sizeof *e) : NULL;
    if (e)
        r->entity = e;
    uint8_t *l = e && labels ? realloc(r->labels, cap) : NULL;
    if (l)
        r->labels = l;
    if (!x || !t || !e || (labels && !l))
        return -1;
    r->cap = cap;
    return 0;
}

int pw_fit_rows_build(const struct pw_history *h, const char *cls,
                      const char *const *features, size_t nfeatures,
                      struct pw_fit_rows *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    out->d = nfeatures;
    if (nfeatures == 0)
        return 0;
    size_t *sidx = malloc(nfeatures * sizeof *sidx);
    double *cur = malloc(nfeatures * sizeof *cur);
    uint8_t *curlab = calloc(nfeatures, 1);
    size_t *order = malloc((h->n ? h->n : 1) * sizeof *order);
    size_t cap = 0;
    struct event *ev = NULL;
    int rc = 0;
    if (!sidx || !cur || !curlab || !order) {
        rc = pw_err_set(err, "out of memory");
        goto out;
    }
    /* Rows carry labels when any series of a feature has them (a row of
     * an unlabelled entity is then normal). */
    bool any_labels = false;
    for (size_t s = 0; s < h->n; s++)
        for (size_t j = 0; j < nfeatures && h->series[s].labels; j++)
            any_labels |= strcmp(h->series[s].metric, features[j]) == 0;
    /* Entities by name (series grouped by a sort, not a scan per entity:
     * a topic may hold tens of thousands of series). */
    for (size_t i = 0; i < h->n; i++)
        order[i] = i;
    qsort_r(order, h->n, sizeof *order, cmp_entity, (void *)h);
    for (size_t g = 0; g < h->n && rc == 0;) {
        size_t gstart = g;
        const char *ent = h->series[order[g]].entity;
        while (g < h->n && strcmp(h->series[order[g]].entity, ent) == 0)
            g++;
        if (cls && strcmp(h->series[order[gstart]].cls, cls) != 0)
            continue;
        /* Every series of a feature's metric feeds it (two series of one
         * measurement.field with other tags both set the analyzer's
         * feature, the newest wins). */
        size_t found = 0, nev = 0;
        for (size_t j = 0; j < nfeatures; j++)
            sidx[j] = 0;   /* series of feature j */
        for (size_t k = gstart; k < g; k++)
            for (size_t j = 0; j < nfeatures; j++)
                if (strcmp(h->series[order[k]].metric, features[j]) == 0) {
                    found += sidx[j]++ == 0;
                    nev += h->series[order[k]].n;
                }
        if (found < nfeatures) {
            out->entities_missing++;
            continue;
        }
        out->entities++;
        if (nev > cap) {
            struct event *ne = realloc(ev, nev * sizeof *ne);
            if (!ne) {
                rc = pw_err_set(err, "out of memory");
                break;
            }
            ev = ne;
            cap = nev;
        }
        size_t k = 0;
        for (size_t q = gstart; q < g; q++)
            for (size_t j = 0; j < nfeatures; j++) {
                const struct pw_hist_series *s = &h->series[order[q]];
                if (strcmp(s->metric, features[j]) != 0)
                    continue;
                for (size_t i = 0; i < s->n; i++)
                    ev[k++] = (struct event){s->ts_s[i], (uint32_t)j, (uint32_t)i, order[q]};
            }
        qsort(ev, nev, sizeof *ev, cmp_event);
        size_t seen = 0;
        for (size_t j = 0; j < nfeatures; j++) {
            cur[j] = NAN;
            curlab[j] = 0;
        }
        for (size_t e = 0; e < nev; e++) {
            const struct pw_hist_series *s = &h->series[ev[e].series];
            if (isnan(cur[ev[e].feature]))
                seen++;
            cur[ev[e].feature] = s->values[ev[e].i];
            curlab[ev[e].feature] = s->labels ? s->labels[ev[e].i] : 0;
            if (seen < nfeatures || (e + 1 < nev && ev[e + 1].ts == ev[e].ts))
                continue;
            bool want_labels = any_labels;
            if (rows_reserve(out, want_labels) < 0) {
                rc = pw_err_set(err, "out of memory");
                break;
            }
            memcpy(out->x + out->n * nfeatures, cur, nfeatures * sizeof *cur);
            out->ts_s[out->n] = ev[e].ts;
            out->entity[out->n] = ent;
            if (want_labels) {
                uint8_t l = 0;
                for (size_t j = 0; j < nfeatures; j++)
                    l |= curlab[j];
                out->labels[out->n] = l;
            }
            out->n++;
        }
    }
out:
    free(ev);
    free(sidx);
    free(cur);
    free(curlab);
    free(order);
    if (rc < 0)
        pw_fit_rows_free(out);
    return rc;
}

/* ---- Holt-Winters ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int pw_fit_regular(const struct pw_hist_series *s, size_t max_n, double **y, size_t *n,
                   double *step_s, double *t0_s, struct pw_err *err)
{
    size_t m = s->n;
    double *t = malloc((m ? m : 1) * sizeof *t);
    struct event *ord = malloc((m ? m : 1) * sizeof *ord);
    if (!t || !ord) {
        free(t);
        free(ord);
        return pw_err_set(err, "out of memory");
    }
    for (size_t i = 0; i < m; i++)
        ord[i] = (struct event){s->ts_s[i], 0, (uint32_t)i, 0};
    qsort(ord, m, sizeof *ord, cmp_event);
    size_t nd = 0;
    for (size_t i = 1; i < m; i++)
        if (ord[i].ts > ord[i - 1].ts)
            t[nd++] = ord[i].ts - ord[i - 1].ts;
    if (nd < 2) {
        free(t);
        free(ord);
        return pw_err_set(err, "%s %s: fewer than 3 distinct timestamps", s->entity, s->metric);
    }
    qsort(t, nd, sizeof *t, cmp_double);
    double step = t[nd / 2];
    free(t);
    double first = ord[0].ts, last = ord[m - 1].ts;
    double span = (last - first) / step;
    if (!(span < 1e8)) {
        free(ord);
        return pw_err_set(err, "%s %s: %.0f steps of %g s: too many to resample", s->entity,
                          s->metric, span, step);
    }
    size_t total = (size_t)llround(span) + 1;
    size_t skip = total > max_n ? total - max_n : 0;
    size_t len = total - skip;
    double *v = malloc(len * sizeof *v);
    if (!v) {
        free(ord);
        return pw_err_set(err, "out of memory");
    }
    for (size_t k = 0; k < len; k++)
        v[k] = NAN;
    for (size_t i = 0; i < m; i++) {
        long long k = llround((ord[i].ts - first) / step) - (long long)skip;
        if (k >= 0 && (size_t)k < len && isnan(v[k]))
            v[k] = s->values[ord[i].i];
    }
    free(ord);
    /* Interpolate the holes; extend the ends. */
    size_t prev = SIZE_MAX;
    for (size_t k = 0; k < len; k++) {
        if (isnan(v[k]))
            continue;
        if (prev == SIZE_MAX) {
            for (size_t j = 0; j < k; j++)
                v[j] = v[k];
        } else {
            for (size_t j = prev + 1; j < k; j++)
                v[j] = v[prev] + (v[k] - v[prev]) * (double)(j - prev) / (double)(k - prev);
        }
        prev = k;
    }
    for (size_t j = prev + 1; prev != SIZE_MAX && j < len; j++)
        v[j] = v[prev];
    *y = v;
    *n = len;
    *step_s = step;
    *t0_s = first + (double)skip * step;
    return 0;
}

/* Fits a model to one regular series: the season from the ACF, then the
 * parameters; a seasonal fit that fails falls back to no season. */
static int fit_hw(const double *y, size_t n, double step, bool seasonal, struct pw_hw_model *m,
                  double *mse, struct pw_err *err)
{
    uint32_t period = 0;
    if (seasonal && n >= 8) {
        size_t max_lag = n / 2 - 1;
        if (max_lag > PW_HW_MAX_PERIOD)
            max_lag = PW_HW_MAX_PERIOD;
        struct pw_hw_period p;
        if (max_lag >= 2 && pw_hw_detect_period(y, n, max_lag, &p, NULL) == 0)
            period = p.period;
    }
    for (;;) {
        pw_hw_model_default(m, period, step, true);
        struct pw_hw_fit_result r;
        if (n >= pw_hw_min_train(m) && pw_hw_fit(m, y, n, &r, err) == 0) {
            *mse = r.mse;
            return 0;
        }
        if (period == 0)
            return -1;
        period = 0;
    }
}

int pw_fit_hw_series(const struct pw_hist_series *s, size_t max_train, bool seasonal,
                     struct pw_hw_model *m, double *mse, struct pw_err *err)
{
    double *y, step, t0;
    size_t n;
    if (pw_fit_regular(s, max_train, &y, &n, &step, &t0, err) < 0)
        return -1;
    int rc = fit_hw(y, n, step, seasonal, m, mse, err);
    free(y);
    return rc;
}

static int progress(const struct pw_fit_options *o, const char *stage, size_t done,
                    size_t total, struct pw_err *err)
{
    if (o->progress && o->progress(stage, done, total, o->arg))
        return pw_err_set(err, "interrupted");
    return 0;
}

static int add_hw(struct pw_bundle *b, const char *name, const struct pw_hw_model *m,
                  struct pw_err *err)
{
    struct pw_buf s;
    pw_buf_init(&s);
    pw_codec_put_hw_model(&s, m);
    int rc = s.oom ? pw_err_set(err, "out of memory")
                   : pw_bundle_add(b, PW_CODEC_HW_KIND, name, s.data, s.len, err);
    pw_buf_release(&s);
    return rc;
}

static int fit_metrics(const struct pw_history *h, const struct pw_fit_options *o,
                       struct pw_bundle *b, struct pw_fit_result *res, struct pw_err *err)
{
    /* Distinct metrics, each with its longest series. */
    size_t *best = malloc((h->n + 1) * sizeof *best), nm = 0, longest = SIZE_MAX;
    if (!best)
        return pw_err_set(err, "out of memory");
    for (size_t s = 0; s < h->n; s++) {
        size_t k = 0;
        while (k < nm && strcmp(h->series[best[k]].metric, h->series[s].metric) != 0)
            k++;
        if (k == nm)
            best[nm++] = s;
        else if (h->series[s].n > h->series[best[k]].n)
            best[k] = s;
        if (longest == SIZE_MAX || h->series[s].n > h->series[longest].n)
            longest = s;
    }
    res->metrics = calloc(nm + 1, sizeof *res->metrics);
    if (!res->metrics) {
        free(best);
        return pw_err_set(err, "out of memory");
    }
    int rc = 0;
    for (size_t k = 0; k <= nm && rc == 0; k++) {
        bool dflt = k == nm;
        if ((rc = progress(o, "holt-winters", k, nm + 1, err)) < 0)
            break;
        if (dflt && longest == SIZE_MAX)
            break;
        const struct pw_hist_series *s = &h->series[dflt ? longest : best[k]];
        double *y, step, t0, mse;
        size_t n;
        struct pw_err e;
        struct pw_fit_metric *fm = &res->metrics[res->nmetrics];
        snprintf(fm->name, sizeof fm->name, "%s", dflt ? "default" : s->metric);
        if (pw_fit_regular(s, o->max_train, &y, &n, &step, &t0, &e) < 0) {
            res->skipped_metrics++;
            continue;
        }
        if (fit_hw(y, n, step, !dflt, &fm->model, &mse, &e) < 0) {
            res->skipped_metrics++;
            free(y);
            continue;
        }
        free(y);
        fm->samples = n;
        fm->mse = mse;
        if ((rc = add_hw(b, fm->name, &fm->model, err)) == 0)
            res->nmetrics++;
    }
    free(best);
    if (rc == 0)
        rc = progress(o, "holt-winters", nm + 1, nm + 1, err);
    if (rc == 0 && res->nmetrics == 0)
        rc = pw_err_set(err, "no series long enough to fit a Holt-Winters model (each needs "
                        "at least 10 samples at a regular step)");
    return rc;
}

/* ---- isolation forest --------------------------------------------------- */

double pw_fit_auc(const double *scores, const uint8_t *labels, size_t n)
{
    struct event *o = malloc((n ? n : 1) * sizeof *o);
    if (!o)
        return NAN;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        o[i] = (struct event){scores[i], 0, (uint32_t)i, 0};
        pos += labels[i] != 0;
    }
    size_t neg = n - pos;
    if (!pos || !neg) {
        free(o);
        return NAN;
    }
    qsort(o, n, sizeof *o, cmp_event);
    /* Mann-Whitney U with mid-ranks for ties. */
    double rank_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && o[j].ts == o[i].ts)
            j++;
        double mid = ((double)i + (double)j + 1) / 2;   /* ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (labels[o[k].i])
                rank_sum += mid;
        i = j;
    }
    free(o);
    double u = rank_sum - (double)pos * ((double)pos + 1) / 2;
    return u / ((double)pos * (double)neg);
}

static int fit_class(const struct pw_history *h, const char *cls, const struct pw_fit_options *o,
                     struct pw_bundle *b, struct pw_fit_class *fc, struct pw_err *err)
{
    struct pw_fit_rows r;
    if (pw_fit_rows_build(h, cls, o->features, o->nfeatures, &r, err) < 0)
        return -1;
    snprintf(fc->name, sizeof fc->name, "%s", cls);
    fc->rows = r.n;
    fc->entities = r.entities;
    fc->entities_missing = r.entities_missing;
    if (r.n == 0) {
        pw_fit_rows_free(&r);
        return 1;   /* nothing to fit for this class */
    }
    struct pw_iforest *f = pw_iforest_fit(r.x, r.n, r.d, &o->forest, err);
    double *scores = f ? malloc(r.n * sizeof *scores) : NULL;
    int *lab = scores && r.labels ? malloc(r.n * sizeof *lab) : NULL;
    int rc = -1;
    if (!f)
        goto out;
    if (!scores || (r.labels && !lab)) {
        pw_err_set(err, "out of memory");
        goto out;
    }
    pw_iforest_score_batch(f, r.x, r.n, scores);
    size_t pos = 0;
    for (size_t i = 0; r.labels && i < r.n; i++)
        pos += (lab[i] = r.labels[i]) != 0;
    fc->labelled = pos > 0;
    if (fc->labelled && o->contamination == 0) {
        struct pw_iforest_calibration cal;
        if (pw_iforest_threshold_f1(scores, lab, r.n, &cal, err) < 0)
            goto out;
        fc->threshold = cal.threshold;
        fc->from_labels = true;
    } else if (pw_iforest_threshold_contamination(scores, r.n,
                                                  o->contamination > 0 ? o->contamination : 0.01,
                                                  &fc->threshold, err) < 0) {
        goto out;
    }
    size_t tp = 0, flagged = 0;
    for (size_t i = 0; i < r.n; i++) {
        bool hit = pw_iforest_is_anomaly(scores[i], fc->threshold);
        flagged += hit;
        tp += hit && r.labels && r.labels[i];
    }
    fc->flagged = flagged;
    if (fc->labelled) {
        fc->precision = flagged ? (double)tp / (double)flagged : 0;
        fc->recall = (double)tp / (double)pos;
        fc->f1 = fc->precision + fc->recall > 0
                     ? 2 * fc->precision * fc->recall / (fc->precision + fc->recall) : 0;
        fc->auc = pw_fit_auc(scores, r.labels, r.n);
    }
    struct pw_buf s;
    pw_buf_init(&s);
    pw_codec_put_iforest(&s, f);
    rc = s.oom ? pw_err_set(err, "out of memory")
               : pw_bundle_add(b, PW_CODEC_IFOREST_KIND, cls, s.data, s.len, err);
    pw_buf_reset(&s);
    pw_codec_put_calibration(&s, fc->threshold);
    if (rc == 0)
        rc = s.oom ? pw_err_set(err, "out of memory")
                   : pw_bundle_add(b, PW_CODEC_CALIB_KIND, cls, s.data, s.len, err);
    pw_buf_release(&s);
out:
    free(lab);
    free(scores);
    pw_iforest_free(f);
    pw_fit_rows_free(&r);
    return rc;
}

static int fit_forests(const struct pw_history *h, const struct pw_fit_options *o,
                       struct pw_bundle *b, struct pw_fit_result *res, struct pw_err *err)
{
    const char **classes = malloc((h->n + 1) * sizeof *classes);
    size_t nc = 0;
    if (!classes)
        return pw_err_set(err, "out of memory");
    for (size_t s = 0; s < h->n; s++) {
        size_t k = 0;
        while (k < nc && strcmp(classes[k], h->series[s].cls) != 0)
            k++;
        if (k == nc)
            classes[nc++] = h->series[s].cls;
    }
    res->classes = calloc(nc ? nc : 1, sizeof *res->classes);
    if (!res->classes) {
        free(classes);
        return pw_err_set(err, "out of memory");
    }
    int rc = 0;
    size_t fitted = 0;
    for (size_t k = 0; k < nc && rc == 0; k++) {
        if ((rc = progress(o, "isolation forest", k, nc, err)) < 0)
            break;
        int r = fit_class(h, classes[k], o, b, &res->classes[res->nclasses], err);
        if (r < 0)
            rc = -1;
        else
            fitted += r == 0;
        res->nclasses++;
    }
    free(classes);
    if (rc == 0)
        rc = progress(o, "isolation forest", nc, nc, err);
    if (rc == 0 && fitted == 0) {
        struct pw_buf miss;
        pw_buf_init(&miss);
        for (size_t j = 0; j < o->nfeatures; j++) {
            bool any = false;
            for (size_t s = 0; s < h->n && !any; s++)
                any = strcmp(h->series[s].metric, o->features[j]) == 0;
            if (!any)
                pw_buf_printf(&miss, "%s%s", miss.len ? ", " : "", o->features[j]);
        }
        if (miss.len)
            rc = pw_err_set(err, "no entity has every feature, so no isolation forest can be "
                            "fitted: no series of %s in the history", miss.data);
        else
            rc = pw_err_set(err, "no entity has every feature (each is in some entity's "
                            "series, never all in one), so no isolation forest can be fitted");
        pw_buf_release(&miss);
    }
    return rc;
}

int pw_fit(const struct pw_history *h, const struct pw_fit_options *o, struct pw_bundle *b,
           struct pw_fit_result *res, struct pw_err *err)
{
    memset(res, 0, sizeof *res);
    if (h->rows == 0)
        return pw_err_set(err, "the history is empty: nothing to fit");
    if (fit_metrics(h, o, b, res, err) < 0 ||
        (o->nfeatures && fit_forests(h, o, b, res, err) < 0))
        return -1;
    return 0;
}
