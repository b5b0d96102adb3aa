/* train/report.c — `pipewatch-train report` (see report.h): one HTML page a
 * person can read to decide whether to trust the models.
 *
 * Self-contained on purpose: inline CSS and SVG, no script, no font, no
 * external asset, so the page can be mailed, attached to a ticket or
 * opened offline and shows the same. Long series are drawn per pixel
 * column (the minimum and the maximum of each column), so that a spike of
 * one sample among 20 000 is still visible and the page stays small. */
#include "train/report.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "common/buf.h"
#include "models/bundle.h"
#include "models/codec.h"
#include "models/detector.h"
#include "models/holtwinters.h"
#include "models/logclass.h"
#include "models/loghubdata.h"
#include "train/fit.h"
#include "train/history.h"

#define MAX_FILES 1024
#define W 1040.0            /* plot width, px */
#define H_DATA 200.0
#define H_SCORE 70.0
#define LEFT 70.0
#define COLS 550            /* pixel columns sampled */

struct options {
    const char *files[MAX_FILES];
    size_t nfiles;
    const char *nab, *metric, *entity_tag, *bundle, *out, *tsv, *loghub, *normal, *title;
    double threshold;
    size_t max_series;
    double holdout;
    unsigned long seed;
};

static int usage(void)
{
    fprintf(stderr,
        "usage: pipewatch-train report --out PAGE.html\n"
        "         [--nab DIR | --from FILE...] [--metric M.F] [--entity-tag TAG]\n"
        "         [--bundle BUNDLE] [--threshold T] [--max-series N]\n"
        "         [--tagger-tsv FILE | --loghub-csv FILE [--normal-label L]]\n"
        "         [--holdout SHARE] [--seed N] [--title TEXT]\n");
    return 2;
}

static void esc(struct pw_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': pw_buf_puts(b, "&lt;"); break;
        case '>': pw_buf_puts(b, "&gt;"); break;
        case '&': pw_buf_puts(b, "&amp;"); break;
        case '"': pw_buf_puts(b, "&quot;"); break;
        default: pw_buf_putc(b, *s);
        }
    }
}

static void iso(double ts, char out[32])
{
    time_t t = (time_t)ts;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%d %H:%M", &tm))
        snprintf(out, 32, "%.0f", ts);
}

/* ---- one series --------------------------------------------------------- */

struct scored {
    double *t, *v, *lo, *hi, *score;   /* time order; lo/hi NAN before a forecast */
    uint8_t *label;                    /* NULL without labels */
    size_t n;
};

static void scored_free(struct scored *s)
{
    free(s->t);
    free(s->v);
    free(s->lo);
    free(s->hi);
    free(s->score);
    free(s->label);
}

static int cmp_idx_ts(const void *a, const void *b, void *arg)
{
    const double *t = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (t[i] != t[j])
        return t[i] < t[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* The model the analyzer would run this series with: the bundle's HWIN for
 * its metric, else its "default", else one fitted here. */
static int pick_model(const struct pw_bundle *b, const struct pw_hist_series *s,
                      struct pw_hw_model *m, const char **from, struct pw_err *err)
{
    const struct pw_bundle_section *sec = NULL;
    if (b && (sec = pw_bundle_find(b, PW_CODEC_HW_KIND, s->metric)))
        *from = "the bundle's model for this metric";
    else if (b && (sec = pw_bundle_find(b, PW_CODEC_HW_KIND, "default")))
        *from = "the bundle's default model";
    if (sec)
        return pw_codec_get_hw_model(sec->data, sec->len, m, err);
    double mse;
    *from = "fitted on this series";
    return pw_fit_hw_series(s, 20000, true, m, &mse, err);
}

static int score_series(const struct pw_hist_series *s, const struct pw_bundle *b,
                        const struct pw_iforest *forest, struct scored *o, const char **model_from,
                        struct pw_hw_model *m, struct pw_err *err)
{
    memset(o, 0, sizeof *o);
    size_t n = s->n;
    size_t *idx = malloc(n * sizeof *idx);
    o->t = malloc(n * sizeof *o->t);
    o->v = malloc(n * sizeof *o->v);
    o->lo = malloc(n * sizeof *o->lo);
    o->hi = malloc(n * sizeof *o->hi);
    o->score = malloc(n * sizeof *o->score);
    o->label = s->labels ? malloc(n) : NULL;
    if (!idx || !o->t || !o->v || !o->lo || !o->hi || !o->score || (s->labels && !o->label)) {
        free(idx);
        scored_free(o);
        return pw_err_set(err, "out of memory");
    }
    o->n = n;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, n, sizeof *idx, cmp_idx_ts, s->ts_s);
    for (size_t k = 0; k < n; k++) {
        o->t[k] = s->ts_s[idx[k]];
        o->v[k] = s->values[idx[k]];
        if (o->label)
            o->label[k] = s->labels[idx[k]];
    }
    free(idx);
    int rc = pick_model(b, s, m, model_from, err);
    struct pw_hw_state st;
    if (rc == 0)
        pw_hw_init(&st, m);
    for (size_t k = 0; k < n; k++) {
        struct pw_hw_forecast f;
        o->lo[k] = o->hi[k] = NAN;
        if (rc == 0 && st.updates > 2 && pw_hw_forecast(&st, m, 1, 1.96, &f, NULL) == 0) {
            o->lo[k] = f.lo;
            o->hi[k] = f.hi;
        }
        if (rc == 0)
            pw_hw_update(&st, m, o->t[k], o->v[k], NULL);
    }
    if (rc < 0) {
        scored_free(o);
        return pw_err_prefix(err, "%s %s: no Holt-Winters model", s->entity, s->metric);
    }
    if (forest) {
        for (size_t k = 0; k < n; k++)
            o->score[k] = pw_iforest_score(forest, &o->v[k]);
        return 0;
    }
    struct pw_detector_config c;
    pw_detector_config_default(&c);
    struct pw_detector *d = pw_detector_new(&c, err);
    if (!d) {
        scored_free(o);
        return -1;
    }
    for (size_t k = 0; k < n; k++)
        pw_detector_push(d, o->t[k], o->v[k], &o->score[k], NULL);
    pw_detector_free(d);
    return 0;
}

static double px(double t, double t0, double t1)
{
    return LEFT + (t1 > t0 ? (t - t0) / (t1 - t0) : 0.5) * W;
}

static double py(double v, double lo, double hi, double top, double h)
{
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return top + h - (hi > lo ? (v - lo) / (hi - lo) : 0.5) * h;
}

/* Column c's [first, last) sample range. */
static void column(const struct scored *s, size_t c, size_t *a, size_t *e)
{
    *a = s->n * c / COLS;
    *e = s->n * (c + 1) / COLS;
    if (*e <= *a)
        *e = *a + 1;
    if (*e > s->n)
        *e = s->n;
}

static void chart(struct pw_buf *b, const struct pw_hist_series *s, const struct scored *o,
                  double thr, const char *model_from, const struct pw_hw_model *m,
                  bool forest)
{
    double t0 = o->t[0], t1 = o->t[o->n - 1];
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t k = 0; k < o->n; k++) {
        vmin = fmin(vmin, o->v[k]);
        vmax = fmax(vmax, o->v[k]);
    }
    double pad = (vmax - vmin) * 0.15 + (vmax == vmin ? 1 : 0);
    double lo = vmin - pad, hi = vmax + pad;
    size_t windows = 0, det = 0, det_in = 0, covered = 0, inside = 0;
    for (size_t k = 0; k < o->n; k++) {
        bool lab = o->label && o->label[k];
        windows += lab && (k == 0 || !o->label[k - 1]);
        if (o->score[k] >= thr) {
            det++;
            det_in += lab;
        }
        if (!isnan(o->lo[k])) {
            covered++;
            inside += o->v[k] >= o->lo[k] && o->v[k] <= o->hi[k];
        }
    }
    char a[32], z[32];
    iso(t0, a);
    iso(t1, z);
    pw_buf_puts(b, "<section class=\"series\"><h2>");
    esc(b, s->entity);
    pw_buf_puts(b, " <span class=\"metric\">");
    esc(b, s->metric);
    pw_buf_printf(b, "</span></h2>\n<p class=\"facts\">%zu samples, %s to %s UTC; "
                  "%zu labelled window%s; %zu detection%s (%zu inside a window). "
                  "Forecast band: Holt-Winters one step ahead &plusmn; 1.96 sd (%s: "
                  "&alpha; %.3f, &beta; %.3f, &gamma; %.3f, &phi; %.3f, period %u, step %g s), "
                  "covering %.1f %% of the values. Score: %s, detections at &ge; %.4g.</p>\n",
                  o->n, a, z, windows, windows == 1 ? "" : "s", det, det == 1 ? "" : "s", det_in,
                  model_from, m->p.alpha, m->p.beta, m->p.gamma, m->p.phi, m->period, m->step_s,
                  covered ? 100.0 * (double)inside / (double)covered : 0.0,
                  forest ? "the bundle's isolation forest" : "the streaming detector",
                  thr);
    double total_h = 20 + H_DATA + 20 + H_SCORE + 30;
    pw_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n", LEFT + W + 20, total_h,
                  LEFT + W + 20, total_h);
    double top = 10, stop = top + H_DATA + 20;
    pw_buf_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n"
                  "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"frame\"/>\n",
                  LEFT, top, W, H_DATA, LEFT, stop, W, H_SCORE);
    /* Labelled windows, across both panels. */
    for (size_t k = 0; o->label && k < o->n; k++) {
        if (!o->label[k] || (k > 0 && o->label[k - 1]))
            continue;
        size_t e = k;
        while (e + 1 < o->n && o->label[e + 1])
            e++;
        double x0 = px(o->t[k], t0, t1), x1 = px(o->t[e], t0, t1);
        pw_buf_printf(b, "<rect class=\"window\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" "
                      "height=\"%.0f\"><title>labelled window</title></rect>\n", x0, top,
                      fmax(x1 - x0, 2), stop + H_SCORE - top);
    }
    /* The band: upper edge left to right, lower edge back. */
    pw_buf_puts(b, "<path class=\"band\" d=\"");
    bool first = true;
    for (size_t c = 0; c < COLS; c++) {
        size_t k0, k1;
        column(o, c, &k0, &k1);
        double h = -INFINITY;
        for (size_t k = k0; k < k1; k++)
            if (!isnan(o->hi[k]))
                h = fmax(h, o->hi[k]);
        if (h == -INFINITY)
            continue;
        pw_buf_printf(b, "%c%.1f %.1f", first ? 'M' : 'L', px(o->t[k0], t0, t1),
                      py(h, lo, hi, top, H_DATA));
        first = false;
    }
    for (size_t c = COLS; !first && c-- > 0;) {
        size_t k0, k1;
        column(o, c, &k0, &k1);
        double l = INFINITY;
        for (size_t k = k0; k < k1; k++)
            if (!isnan(o->lo[k]))
                l = fmin(l, o->lo[k]);
        if (l == INFINITY)
            continue;
        pw_buf_printf(b, "L%.1f %.1f", px(o->t[k0], t0, t1), py(l, lo, hi, top, H_DATA));
    }
    pw_buf_puts(b, first ? "\"/>\n" : "Z\"><title>forecast band</title></path>\n");
    /* The data: min and max of each column. */
    pw_buf_puts(b, "<polyline class=\"data\" points=\"");
    for (size_t c = 0; c < COLS; c++) {
        size_t k0, k1;
        column(o, c, &k0, &k1);
        if (k0 >= o->n)
            break;
        size_t imin = k0, imax = k0;
        for (size_t k = k0; k < k1; k++) {
            if (o->v[k] < o->v[imin])
                imin = k;
            if (o->v[k] > o->v[imax])
                imax = k;
        }
        size_t p1 = imin < imax ? imin : imax, p2 = imin < imax ? imax : imin;
        pw_buf_printf(b, "%.1f,%.1f %.1f,%.1f ", px(o->t[p1], t0, t1),
                      py(o->v[p1], lo, hi, top, H_DATA), px(o->t[p2], t0, t1),
                      py(o->v[p2], lo, hi, top, H_DATA));
    }
    pw_buf_puts(b, "\"/>\n");
    /* The score: max of each column, and the threshold. */
    pw_buf_puts(b, "<polyline class=\"score\" points=\"");
    for (size_t c = 0; c < COLS; c++) {
        size_t k0, k1;
        column(o, c, &k0, &k1);
        if (k0 >= o->n)
            break;
        double mx = 0;
        for (size_t k = k0; k < k1; k++)
            if (isfinite(o->score[k]))
                mx = fmax(mx, o->score[k]);
        pw_buf_printf(b, "%.1f,%.1f ", px(o->t[k0], t0, t1), py(mx, 0, 1, stop, H_SCORE));
    }
    pw_buf_puts(b, "\"/>\n");
    pw_buf_printf(b, "<line class=\"thr\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
                  LEFT, LEFT + W, py(thr, 0, 1, stop, H_SCORE), py(thr, 0, 1, stop, H_SCORE));
    /* Detections: a mark on the data and a tick under the score. */
    size_t drawn = 0;
    for (size_t k = 0; k < o->n && drawn < 400; k++) {
        if (!(o->score[k] >= thr))
            continue;
        char when[32];
        iso(o->t[k], when);
        double x = px(o->t[k], t0, t1);
        pw_buf_printf(b, "<circle class=\"det\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"><title>detection "
                      "%s UTC, score %.3f</title></circle><line class=\"dett\" x1=\"%.1f\" "
                      "x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\"/>\n", x,
                      py(o->v[k], lo, hi, top, H_DATA), when, o->score[k], x, x, stop,
                      stop + H_SCORE);
        drawn++;
    }
    /* Axes labels. */
    pw_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" text-anchor=\"end\">%.4g</text>"
                  "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" text-anchor=\"end\">%.4g</text>"
                  "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" text-anchor=\"end\">score 1</text>"
                  "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" text-anchor=\"end\">0</text>"
                  "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\">%s</text>"
                  "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\" text-anchor=\"end\">%s</text>\n",
                  LEFT - 4, top + 10, hi, LEFT - 4, top + H_DATA, lo, LEFT - 4, stop + 10,
                  LEFT - 4, stop + H_SCORE, LEFT, stop + H_SCORE + 16, a, LEFT + W,
                  stop + H_SCORE + 16, z);
    pw_buf_puts(b, "</svg></section>\n");
}

/* ---- the tagger's confusion matrix -------------------------------------- */

struct example_set {
    struct pw_logclass_example *ex;
    size_t n;
    char *text;
    struct pw_loghub hub;
};

static int load_examples(const struct options *o, struct example_set *e, struct pw_err *err)
{
    memset(e, 0, sizeof *e);
    size_t cap = 0;
    if (o->tsv) {
        struct pw_buf b;
        pw_buf_init(&b);
        if (pw_buf_read_file(&b, o->tsv, (size_t)1 << 30, err) < 0)
            return -1;
        e->text = b.data;
        size_t row = 0;
        for (char *save = NULL, *l = strtok_r(e->text ? e->text : (char *)"", "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            row++;
            size_t n = strlen(l);
            if (n && l[n - 1] == '\r')
                l[n - 1] = '\0';
            if (!*l || *l == '#')
                continue;
            char *tab = strchr(l, '\t');
            if (!tab || tab == l)
                return pw_err_set(err, "%s: row %zu: expected \"category<TAB>line\"", o->tsv, row);
            *tab = '\0';
            if (e->n == cap) {
                cap = cap ? cap * 2 : 1024;
                struct pw_logclass_example *nx = realloc(e->ex, cap * sizeof *nx);
                if (!nx)
                    return pw_err_set(err, "out of memory");
                e->ex = nx;
            }
            e->ex[e->n++] = (struct pw_logclass_example){l, tab + 1};
        }
    } else {
        if (pw_loghub_load_file(o->loghub, &e->hub, err) < 0)
            return -1;
        if (!(e->ex = calloc(e->hub.n ? e->hub.n : 1, sizeof *e->ex)))
            return pw_err_set(err, "out of memory");
        for (size_t i = 0; i < e->hub.n; i++) {
            const struct pw_loghub_line *l = &e->hub.lines[i];
            if (!l->label)
                return pw_err_set(err, "%s: no Label column: nothing to learn categories from",
                                  o->loghub);
            e->ex[e->n++] = (struct pw_logclass_example){
                strcmp(l->label, "-") == 0 ? o->normal : l->label, l->content};
        }
    }
    if (e->n < 2)
        return pw_err_set(err, "%s: fewer than two labelled lines", o->tsv ? o->tsv : o->loghub);
    return 0;
}

static int confusion(struct pw_buf *b, const struct options *o, struct pw_err *err)
{
    struct example_set e;
    int rc = load_examples(o, &e, err);
    struct pw_logclass *m = NULL;
    size_t *cm = NULL, k = 0, ntest = 0, ntrain = 0;
    if (rc == 0) {
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r, o->seed);
        gsl_ran_shuffle(r, e.ex, e.n, sizeof *e.ex);
        gsl_rng_free(r);
        ntest = (size_t)floor(o->holdout * (double)e.n);
        if (ntest == 0)
            ntest = 1;
        ntrain = e.n - ntest;
        struct pw_logclass_config cfg;
        pw_logclass_config_default(&cfg);
        m = pw_logclass_train(e.ex, ntrain, &cfg, err);
        rc = m ? 0 : -1;
    }
    if (rc == 0) {
        k = pw_logclass_ncategories(m);
        /* One more row for categories unseen in training. */
        if (!(cm = calloc((k + 1) * k, sizeof *cm)))
            rc = pw_err_set(err, "out of memory");
    }
    size_t correct = 0;
    for (size_t i = ntrain; rc == 0 && i < e.n; i++) {
        size_t pred = pw_logclass_predict(m, e.ex[i].line, strlen(e.ex[i].line), NULL, NULL);
        int truth = pw_logclass_find(m, e.ex[i].category);
        size_t row = truth < 0 ? k : (size_t)truth;
        cm[row * k + pred]++;
        correct += truth >= 0 && (size_t)truth == pred;
    }
    if (rc == 0) {
        pw_buf_puts(b, "<section class=\"tagger\"><h2>Log tagger: confusion matrix</h2>\n"
                       "<p class=\"facts\">");
        esc(b, o->tsv ? o->tsv : o->loghub);
        pw_buf_printf(b, ": %zu lines, trained on %zu, %zu held out (seed %lu); accuracy "
                      "%.4f. Rows: the true category; columns: the predicted one.</p>\n"
                      "<table class=\"cm\"><tr><th>true \\ predicted</th>", e.n, ntrain, ntest,
                      o->seed, (double)correct / (double)ntest);
        for (size_t c = 0; c < k; c++) {
            pw_buf_puts(b, "<th>");
            esc(b, pw_logclass_category(m, c));
            pw_buf_puts(b, "</th>");
        }
        pw_buf_puts(b, "<th>recall</th></tr>\n");
        for (size_t r = 0; r <= k; r++) {
            size_t sum = 0;
            for (size_t c = 0; c < k; c++)
                sum += cm[r * k + c];
            if (r == k && sum == 0)
                break;
            pw_buf_puts(b, "<tr><th>");
            esc(b, r < k ? pw_logclass_category(m, r) : "(not in training)");
            pw_buf_puts(b, "</th>");
            for (size_t c = 0; c < k; c++) {
                double share = sum ? (double)cm[r * k + c] / (double)sum : 0;
                pw_buf_printf(b, "<td style=\"background:rgba(%s,%.2f)\">%zu</td>",
                              r == c ? "30,130,60" : "200,40,40", 0.08 + 0.8 * share,
                              cm[r * k + c]);
            }
            pw_buf_printf(b, "<td>%s%.3f</td></tr>\n", sum ? "" : "n/a ",
                          sum && r < k ? (double)cm[r * k + r] / (double)sum : 0.0);
        }
        pw_buf_puts(b, "</table></section>\n");
    }
    free(cm);
    pw_logclass_free(m);
    free(e.ex);
    free(e.text);
    pw_loghub_free(&e.hub);
    return rc;
}

/* ---- the page ------------------------------------------------------------ */

static const char *style =
    "body{font:14px/1.4 sans-serif;margin:24px;color:#222;background:#fff}"
    "h1{font-size:22px}h2{font-size:16px;margin:18px 0 4px}.metric{color:#666;font-weight:normal}"
    ".facts{margin:2px 0 6px;color:#444;max-width:1150px}"
    ".frame{fill:#fafafa;stroke:#bbb}.window{fill:#f6b26b;fill-opacity:.35}"
    ".band{fill:#6fa8dc;fill-opacity:.35;stroke:none}"
    ".data{fill:none;stroke:#1f3a93;stroke-width:1}.score{fill:none;stroke:#6a329f;stroke-width:1}"
    ".thr{stroke:#cc0000;stroke-dasharray:4 3}.det{fill:#e00;fill-opacity:.8}"
    ".dett{stroke:#e00;stroke-width:1.5}.ax{font-size:11px;fill:#555}"
    ".legend span{display:inline-block;margin-right:16px}"
    ".sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}"
    "table.cm{border-collapse:collapse}table.cm td,table.cm th{border:1px solid #ccc;"
    "padding:4px 8px;text-align:right}";

static int write_page(const char *path, const struct pw_buf *page, struct pw_err *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return pw_err_set(err, "%s: %s", tmp, strerror(errno));
    bool ok = fwrite(page->data, 1, page->len, f) == page->len;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return pw_err_set(err, "%s: cannot write: %s", path, strerror(e));
    }
    return 0;
}

static int parse(int argc, char **argv, struct options *o)
{
    enum { O_FROM = 256, O_NAB, O_METRIC, O_ENTITY, O_BUNDLE, O_OUT, O_TSV, O_LOGHUB,
           O_NORMAL, O_THR, O_MAX, O_HOLD, O_SEED, O_TITLE };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},     {"nab", required_argument, NULL, O_NAB},
        {"metric", required_argument, NULL, O_METRIC}, {"entity-tag", required_argument, NULL, O_ENTITY},
        {"bundle", required_argument, NULL, O_BUNDLE}, {"out", required_argument, NULL, O_OUT},
        {"tagger-tsv", required_argument, NULL, O_TSV}, {"loghub-csv", required_argument, NULL, O_LOGHUB},
        {"normal-label", required_argument, NULL, O_NORMAL},
        {"threshold", required_argument, NULL, O_THR}, {"max-series", required_argument, NULL, O_MAX},
        {"holdout", required_argument, NULL, O_HOLD},  {"seed", required_argument, NULL, O_SEED},
        {"title", required_argument, NULL, O_TITLE},   {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->metric = "series.value";
    o->normal = "normal";
    o->threshold = NAN;
    o->max_series = 40;
    o->holdout = 0.2;
    o->seed = 1;
    o->title = "pipewatch-train report";
    optind = 1;
    bool from = false;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case O_FROM:
            from = true;
            if (o->nfiles == MAX_FILES)
                return -1;
            o->files[o->nfiles++] = optarg;
            break;
        case O_NAB: o->nab = optarg; break;
        case O_METRIC: o->metric = optarg; break;
        case O_ENTITY: o->entity_tag = optarg; break;
        case O_BUNDLE: o->bundle = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_TSV: o->tsv = optarg; break;
        case O_LOGHUB: o->loghub = optarg; break;
        case O_NORMAL: o->normal = optarg; break;
        case O_TITLE: o->title = optarg; break;
        case O_THR:
            o->threshold = strtod(optarg, &end);
            if (*end || !(o->threshold >= 0 && o->threshold <= 1))
                return -1;
            break;
        case O_MAX:
            o->max_series = strtoul(optarg, &end, 10);
            if (*end || o->max_series == 0)
                return -1;
            break;
        case O_HOLD:
            o->holdout = strtod(optarg, &end);
            if (*end || !(o->holdout > 0 && o->holdout < 1))
                return -1;
            break;
        case O_SEED:
            o->seed = strtoul(optarg, &end, 10);
            if (*end)
                return -1;
            break;
        default: return -1;
        }
    }
    for (; from && optind < argc && o->nfiles < MAX_FILES; optind++)
        o->files[o->nfiles++] = argv[optind];
    if (optind != argc || !o->out || (o->nab && o->nfiles) || (o->tsv && o->loghub) ||
        !(o->nab || o->nfiles || o->tsv || o->loghub))
        return -1;
    return 0;
}

int pw_cmd_report(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) < 0)
        return usage();
    struct pw_err err = {{0}};
    struct pw_history h;
    struct pw_bundle bundle;
    memset(&bundle, 0, sizeof bundle);
    struct pw_iforest *forest = NULL;
    double thr = o.threshold;
    struct pw_buf page;
    pw_buf_init(&page);
    int rc = pw_history_init(&h, &err);
    if (rc == 0 && o.bundle) {
        rc = pw_bundle_read_file(o.bundle, &bundle, &err);
        const struct pw_bundle_section *f = rc == 0 ? pw_bundle_find(&bundle, PW_CODEC_IFOREST_KIND, "default") : NULL;
        if (f && rc == 0) {
            if (!(forest = pw_codec_get_iforest(f->data, f->len, &err)))
                rc = pw_err_prefix(&err, "%s: section IFOR default", o.bundle);
            const struct pw_bundle_section *cal = pw_bundle_find(&bundle, PW_CODEC_CALIB_KIND, "default");
            double t;
            if (forest && pw_iforest_features(forest) != 1) {
                fprintf(stderr, "pipewatch-train: report: the bundle's forest scores %zu "
                                "features, not one series: scores from the detector\n",
                        pw_iforest_features(forest));
                pw_iforest_free(forest);
                forest = NULL;
            } else if (forest && cal && isnan(thr) &&
                       pw_codec_get_calibration(cal->data, cal->len, &t, &err) == 0) {
                thr = t;
            }
        }
    }
    if (isnan(thr))
        thr = 0.5;
    if (rc == 0 && o.nab)
        rc = pw_history_read_nab(&h, o.nab, o.metric, &err) < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < o.nfiles; i++)
        rc = pw_history_read_file(&h, o.files[i], o.metric, o.entity_tag, NULL, &err) < 0 ? -1 : 0;
    if (rc == 0) {
        char when[32];
        iso((double)time(NULL), when);
        pw_buf_puts(&page, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                           "<title>");
        esc(&page, o.title);
        pw_buf_printf(&page, "</title><style>%s</style></head><body>\n<h1>", style);
        esc(&page, o.title);
        pw_buf_printf(&page, "</h1>\n<p class=\"facts\">Generated %s UTC by pipewatch-train %s. ",
                      when, PW_VERSION);
        if (o.bundle) {
            char hex[PW_SHA256_HEX_LEN + 1];
            pw_sha256_hex(bundle.digest, hex);
            pw_buf_puts(&page, "Bundle ");
            esc(&page, o.bundle);
            pw_buf_printf(&page, " (%.16s&hellip;, trained on ", hex);
            esc(&page, bundle.trained_on);
            pw_buf_puts(&page, "). ");
        }
        pw_buf_printf(&page, "%zu series, %zu samples.</p>\n<p class=\"legend\">"
                      "<span><i class=\"sw\" style=\"background:#1f3a93\"></i>data</span>"
                      "<span><i class=\"sw\" style=\"background:#6fa8dc\"></i>forecast band</span>"
                      "<span><i class=\"sw\" style=\"background:#f6b26b\"></i>labelled window</span>"
                      "<span><i class=\"sw\" style=\"background:#6a329f\"></i>anomaly score</span>"
                      "<span><i class=\"sw\" style=\"background:#e00\"></i>detection</span></p>\n",
                      h.n, h.rows);
    }
    size_t shown = 0;
    for (size_t i = 0; rc == 0 && i < h.n && shown < o.max_series; i++) {
        const struct pw_hist_series *s = &h.series[i];
        struct scored sc;
        struct pw_hw_model m;
        const char *from = "";
        if (s->n < 3)
            continue;
        if (score_series(s, o.bundle ? &bundle : NULL, forest, &sc, &from, &m, &err) < 0) {
            fprintf(stderr, "pipewatch-train: report: skipping %s %s: %s\n", s->entity,
                    s->metric, err.msg);
            continue;
        }
        chart(&page, s, &sc, thr, from, &m, forest != NULL);
        scored_free(&sc);
        shown++;
    }
    if (rc == 0 && h.n > shown)
        pw_buf_printf(&page, "<p class=\"facts\">%zu more series not shown (--max-series).</p>\n",
                      h.n - shown);
    if (rc == 0 && (o.tsv || o.loghub))
        rc = confusion(&page, &o, &err);
    if (rc == 0) {
        pw_buf_puts(&page, "</body></html>\n");
        rc = page.oom ? pw_err_set(&err, "out of memory") : write_page(o.out, &page, &err);
    }
    if (rc < 0)
        fprintf(stderr, "pipewatch-train: report: %s\n", err.msg);
    else
        printf("report: %s (%zu series, %zu bytes)\n", o.out, shown, page.len);
    pw_iforest_free(forest);
    pw_bundle_free(&bundle);
    pw_history_free(&h);
    pw_buf_release(&page);
    return rc < 0 ? 1 : 0;
}
