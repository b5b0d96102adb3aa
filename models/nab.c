/* models/nab.c — NAB's scoring, sweep and normalisation (see nab.h for the
 * rules). The whole corpus is flattened into one list of scored rows, sorted
 * by anomaly score, and swept once from the highest score down, updating the
 * total incrementally: O(N log N) for N rows, as NAB's optimiser does it. */
#include "models/nab.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

const struct pw_nab_profile pw_nab_profiles[3] = {
    {"standard", 1.0, 0.11, 1.0},
    {"reward_low_FP_rate", 1.0, 0.22, 1.0},
    {"reward_low_FN_rate", 1.0, 0.11, 2.0},
};

double pw_nab_scaled_sigmoid(double x)
{
    if (x >= 3.0)
        return -1.0;
    return 2.0 / (1.0 + exp(5.0 * x)) - 1.0;
}

size_t pw_nab_probation(size_t n)
{
    double p = floor(0.15 * (double)n);
    return (size_t)(p < 750.0 ? p : 750.0);
}

struct row {
    double score;       /* the detector's anomaly score */
    double weight;      /* what a detection here is worth */
    long window;        /* corpus-wide window number, or -1 */
};

static int by_score_desc(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    return (x->score < y->score) - (x->score > y->score);
}

/* Appends the scored rows of one file; numbers its windows from *next_win. */
static int add_file(const struct pw_nab_file *f, const struct pw_nab_profile *p,
                    struct row *rows, size_t *nrows, long *next_win,
                    struct pw_err *err)
{
    const double max_tp = pw_nab_scaled_sigmoid(-1.0);
    size_t probation = pw_nab_probation(f->n);
    size_t w = 0;                 /* next window to enter */
    long cur = -1;                /* corpus number of the window we are in */
    size_t cur_left = 0, cur_right = 0;
    bool have_prev = false;
    size_t prev_right = 0;
    double prev_width = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (cur < 0 && w < f->nwindows && f->ts[i] >= f->windows[w][0]) {
            cur_left = i;
            cur_right = i;
            while (cur_right + 1 < f->n && f->ts[cur_right + 1] <= f->windows[w][1])
                cur_right++;
            if (f->ts[i] > f->windows[w][1])
                return pw_err_set(err, "NAB scorer: window %zu covers no row", w);
            cur = (*next_win)++;
            w++;
        }
        double weight;
        if (cur >= 0) {
            double width = (double)(cur_right - cur_left + 1);
            double pos = -((double)(cur_right - i) + 1.0) / width;
            weight = pw_nab_scaled_sigmoid(pos) * p->tp_weight / max_tp;
        } else {
            double pos = have_prev && prev_width > 1
                             ? fabs((double)i - (double)prev_right) / (prev_width - 1.0)
                             : 3.0;
            weight = pw_nab_scaled_sigmoid(pos) * p->fp_weight;
        }
        if (i >= probation)
            rows[(*nrows)++] = (struct row){f->scores[i], weight, cur};
        if (cur >= 0 && i == cur_right) {
            have_prev = true;
            prev_right = cur_right;
            prev_width = (double)(cur_right - cur_left + 1);
            cur = -1;
        }
    }
    if (w < f->nwindows)
        return pw_err_set(err, "NAB scorer: window %zu lies after the last row", w);
    return 0;
}

int pw_nab_score(const struct pw_nab_file *files, size_t nfiles,
                 const struct pw_nab_profile *profile,
                 struct pw_nab_result *out, struct pw_err *err)
{
    size_t total = 0;
    long nwin_all = 0;
    for (size_t f = 0; f < nfiles; f++)
        total += files[f].n;
    if (total == 0)
        return pw_err_set(err, "NAB scorer: no rows");
    struct row *rows = malloc(total * sizeof *rows);
    if (!rows)
        return pw_err_set(err, "NAB scorer: out of memory for %zu rows", total);
    size_t nrows = 0;
    for (size_t f = 0; f < nfiles; f++) {
        if (add_file(&files[f], profile, rows, &nrows, &nwin_all, err) < 0) {
            free(rows);
            return -1;
        }
    }
    /* Windows that lie wholly in probation have no row: NAB leaves them out. */
    double *best = malloc((size_t)(nwin_all > 0 ? nwin_all : 1) * sizeof *best);
    bool *scored = calloc((size_t)(nwin_all > 0 ? nwin_all : 1), sizeof *scored);
    if (!best || !scored) {
        free(rows);
        free(best);
        free(scored);
        return pw_err_set(err, "NAB scorer: out of memory");
    }
    size_t windows = 0;
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].window >= 0 && !scored[rows[i].window]) {
            scored[rows[i].window] = true;
            windows++;
        }
    if (windows == 0) {
        free(rows);
        free(best);
        free(scored);
        return pw_err_set(err, "NAB scorer: no labelled window outside the probation periods");
    }
    for (long w = 0; w < nwin_all; w++)
        best[w] = -profile->fn_weight;
    bool *hit = scored;   /* reused: which windows have a detection */
    for (long w = 0; w < nwin_all; w++)
        hit[w] = false;
    qsort(rows, nrows, sizeof *rows, by_score_desc);

    /* Sweep: the score of threshold t counts every row with score >= t. */
    double sum = -profile->fn_weight * (double)windows;
    double best_sum = sum, best_t = INFINITY;   /* "never fires" */
    size_t detected = 0, fps = 0, best_detected = 0, best_fps = 0;
    for (size_t i = 0; i < nrows;) {
        double t = rows[i].score;
        for (; i < nrows && rows[i].score == t; i++) {
            const struct row *r = &rows[i];
            if (r->window < 0) {
                sum += r->weight;
                fps++;
            } else if (r->weight > best[r->window]) {
                if (!hit[r->window]) {
                    hit[r->window] = true;
                    detected++;
                }
                sum += r->weight - best[r->window];
                best[r->window] = r->weight;
            }
        }
        if (sum > best_sum) {
            best_sum = sum;
            best_t = t;
            best_detected = detected;
            best_fps = fps;
        }
    }
    out->threshold = best_t;
    out->raw = best_sum;
    out->windows = windows;
    out->windows_detected = best_detected;
    out->false_positives = best_fps;
    out->null_score = -profile->fn_weight * (double)windows;
    out->perfect = profile->tp_weight * (double)windows;
    out->normalized = 100.0 * (out->raw - out->null_score) / (out->perfect - out->null_score);
    free(rows);
    free(best);
    free(scored);
    return 0;
}
