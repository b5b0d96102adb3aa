/* bench/bench_iforest.c — the isolation forest's speed, and its accuracy
 * on labelled real data next to scikit-learn's. Not a test: it prints
 * figures.
 *
 *   ./build/bench/bench-iforest [score] [N_POINTS] [FEATURES]
 *       fits 100 trees, psi 256, on 100 000 standard normal rows and scores
 *       N_POINTS (default 1 000 000) fresh rows with pw_iforest_score_batch
 *       on this one thread, 5 times: CPU points/s (best and median), the
 *       forest's bytes and nodes, and the fit's CPU time.
 *
 *   ./build/bench/bench-iforest eval SHARED_DIR OUT_DIR [SEEDS]
 *       for every NAB realKnownCause series and every cloud ingress file:
 *       writes OUT_DIR/<name>.csv, the feature matrix and label this
 *       program scores (so that tests/eval/iforest_sklearn.py fits
 *       scikit-learn on exactly the same numbers), fits a forest per seed
 *       1..SEEDS (default 10) on all rows, scores them, and writes the ROC
 *       AUC of each to OUT_DIR/ours.csv (name,seed,auc).
 *
 * Features of row t (t >= K - 1, K = 12 samples): value, value - previous
 * value, mean and standard deviation of the last K values (t included).
 * Label: 1 inside a NAB anomaly window, or the cloud file's Label. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "models/iforest.h"
#include "models/nabdata.h"

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double *normal_rows(size_t n, size_t d, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; x && i < n * d; i++)
        x[i] = gsl_ran_gaussian(rng, 1.0);
    gsl_rng_free(rng);
    return x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_score(size_t n, size_t d)
{
    size_t n_train = 100000;
    double *train = normal_rows(n_train, d, 1);
    double *x = normal_rows(n, d, 2);
    double *out = malloc(n * sizeof *out);
    if (!train || !x || !out) {
        fprintf(stderr, "bench-iforest: out of memory\n");
        return 1;
    }
    struct pw_iforest_config c;
    pw_iforest_config_default(&c);
    struct pw_err err;
    double t0 = cpu_s();
    struct pw_iforest *f = pw_iforest_fit(train, n_train, d, &c, &err);
    double fit_s = cpu_s() - t0;
    if (!f) {
        fprintf(stderr, "bench-iforest: %s\n", err.msg);
        return 1;
    }
    size_t nodes = 0;
    for (size_t t = 0; t < pw_iforest_trees(f); t++) {
        size_t m;
        pw_iforest_tree(f, t, &m);
        nodes += m;
    }
    printf("forest: %zu trees, psi %zu, %zu features, %zu nodes "
           "(%.1f per tree), %zu bytes (%zu of them scoring nodes), "
           "fit %.1f ms CPU\n", pw_iforest_trees(f), pw_iforest_psi(f), d,
           nodes, (double)nodes / pw_iforest_trees(f), pw_iforest_bytes(f),
           nodes * sizeof(struct pw_iforest_node), fit_s * 1e3);
    enum { RUNS = 5 };
    double rate[RUNS], check = 0;
    pw_iforest_score_batch(f, x, n < 10000 ? n : 10000, out);   /* warm */
    for (int r = 0; r < RUNS; r++) {
        t0 = cpu_s();
        pw_iforest_score_batch(f, x, n, out);
        rate[r] = (double)n / (cpu_s() - t0);
        check += out[n / 2];
    }
    qsort(rate, RUNS, sizeof *rate, cmp_double);
    printf("score_batch: %zu points x %d runs, best %.2f M points/s, "
           "median %.2f M points/s (CPU time, one thread; check %.6f)\n", n,
           RUNS, rate[RUNS - 1] / 1e6, rate[RUNS / 2] / 1e6, check / RUNS);
    t0 = cpu_s();
    size_t single = n / 10;
    for (size_t i = 0; i < single; i++)
        check += pw_iforest_score(f, x + i * d);
    printf("score (one point a call): %.2f M points/s\n",
           (double)single / (cpu_s() - t0) / 1e6);
    pw_iforest_free(f);
    free(train);
    free(x);
    free(out);
    return 0;
}

/* ---- eval */

#define K 12
#define NFEAT 4

/* Rows t = K-1 .. n-1 of the window features; returns the row count. */
static size_t features(const double *v, size_t n, double *x)
{
    size_t rows = 0;
    for (size_t t = K - 1; t < n; t++, rows++) {
        double mean = 0, ss = 0;
        for (size_t i = t + 1 - K; i <= t; i++)
            mean += v[i] / K;
        for (size_t i = t + 1 - K; i <= t; i++)
            ss += (v[i] - mean) * (v[i] - mean);
        double *r = x + rows * NFEAT;
        r[0] = v[t];
        r[1] = t > 0 ? v[t] - v[t - 1] : 0;
        r[2] = mean;
        r[3] = sqrt(ss / K);
    }
    return rows;
}

struct pair {
    double s;
    int y;
};

static int by_score(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    return cmp_double(&x->s, &y->s);
}

/* ROC AUC as the Mann-Whitney statistic, tied scores sharing their mean
 * rank (the same number as sklearn's trapezoidal roc_auc_score). */
static double auc(const double *s, const int *y, size_t n)
{
    struct pair *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pair){s[i], y[i]};
    qsort(p, n, sizeof *p, by_score);
    double rank_sum = 0, pos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].s == p[i].s)
            j++;
        double rank = (i + 1 + j) / 2.0;       /* mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (p[k].y) {
                rank_sum += rank;
                pos++;
            }
        i = j;
    }
    free(p);
    double neg = (double)n - pos;
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

static int eval_one(const char *name, const double *v, const int *label,
                    size_t n, const char *out_dir, int seeds, FILE *ours)
{
    if (n < K + 1)
        return 0;
    double *x = malloc(n * NFEAT * sizeof *x);
    double *s = malloc(n * sizeof *s);
    size_t rows = features(v, n, x);
    const int *y = label + (K - 1);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.csv", out_dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp) {
        perror(path);
        return -1;
    }
    fprintf(fp, "value,diff,mean%d,std%d,label\n", K, K);
    size_t pos = 0;
    for (size_t i = 0; i < rows; i++) {
        const double *r = x + i * NFEAT;
        fprintf(fp, "%.17g,%.17g,%.17g,%.17g,%d\n", r[0], r[1], r[2], r[3],
                y[i]);
        pos += y[i] != 0;
    }
    fclose(fp);
    double sum = 0;
    for (int seed = 1; seed <= seeds; seed++) {
        struct pw_iforest_config c;
        pw_iforest_config_default(&c);
        c.seed = (unsigned long)seed;
        struct pw_err err;
        struct pw_iforest *f = pw_iforest_fit(x, rows, NFEAT, &c, &err);
        if (!f) {
            fprintf(stderr, "%s: %s\n", name, err.msg);
            return -1;
        }
        pw_iforest_score_batch(f, x, rows, s);
        double a = auc(s, y, rows);
        fprintf(ours, "%s,%d,%.6f\n", name, seed, a);
        sum += a;
        pw_iforest_free(f);
    }
    printf("%-45s %6zu rows %5zu anomalous  AUC %.4f (mean of %d seeds)\n",
           name, rows, pos, sum / seeds, seeds);
    free(x);
    free(s);
    return 0;
}

static int eval_nab(const char *shared, const char *out_dir, int seeds,
                    FILE *ours)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/nab", shared);
    const char *groups[] = {"realKnownCause", NULL};
    struct pw_nab_corpus corpus;
    struct pw_err err;
    if (pw_nab_load(dir, groups, &corpus, &err) < 0) {
        fprintf(stderr, "bench-iforest: %s\n", err.msg);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < corpus.n && rc == 0; i++) {
        const struct pw_nab_series *sr = &corpus.series[i];
        int *label = calloc(sr->n, sizeof *label);
        for (size_t t = 0; t < sr->n; t++)
            for (size_t w = 0; w < sr->nwindows; w++)
                if (sr->ts[t] >= sr->windows[w][0] &&
                    sr->ts[t] <= sr->windows[w][1])
                    label[t] = 1;
        char name[256];
        snprintf(name, sizeof name, "nab-%s", strchr(sr->name, '/') + 1);
        name[strlen(name) - 4] = '\0';             /* drop ".csv" */
        rc = eval_one(name, sr->values, label, sr->n, out_dir, seeds, ours);
        free(label);
    }
    pw_nab_corpus_free(&corpus);
    return rc;
}

/* ingress-NN.csv: "TimeStamp,Value,Label", the timestamp quoted. */
static int eval_cloud(const char *shared, const char *out_dir, int seeds,
                      FILE *ours)
{
    for (int k = 1; k <= 5; k++) {
        char path[1200], name[64];
        snprintf(path, sizeof path,
                 "%s/cloud/data-ingress-rate/ingress-%02d.csv", shared, k);
        snprintf(name, sizeof name, "cloud-ingress-%02d", k);
        FILE *fp = fopen(path, "r");
        if (!fp) {
            perror(path);
            return -1;
        }
        size_t cap = 1 << 15, n = 0, line = 0;
        double *v = malloc(cap * sizeof *v);
        int *y = malloc(cap * sizeof *y);
        char buf[256];
        while (fgets(buf, sizeof buf, fp)) {
            if (line++ == 0)
                continue;                          /* header */
            char *comma = strchr(buf, ',');
            char *end;
            if (!comma) {
                fprintf(stderr, "%s:%zu: no comma\n", path, line);
                return -1;
            }
            double val = strtod(comma + 1, &end);
            if (end == comma + 1 || *end != ',' || !isfinite(val)) {
                fprintf(stderr, "%s:%zu: bad value\n", path, line);
                return -1;
            }
            if (n == cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                y = realloc(y, cap * sizeof *y);
            }
            v[n] = val;
            y[n++] = atoi(end + 1) != 0;
        }
        fclose(fp);
        int rc = eval_one(name, v, y, n, out_dir, seeds, ours);
        free(v);
        free(y);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int eval(const char *shared, const char *out_dir, int seeds)
{
    mkdir(out_dir, 0755);
    char path[1200];
    snprintf(path, sizeof path, "%s/ours.csv", out_dir);
    FILE *ours = fopen(path, "w");
    if (!ours) {
        perror(path);
        return 1;
    }
    fprintf(ours, "name,seed,auc\n");
    int rc = eval_nab(shared, out_dir, seeds, ours);
    if (rc == 0)
        rc = eval_cloud(shared, out_dir, seeds, ours);
    fclose(ours);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "eval") == 0) {
        if (argc < 4) {
            fprintf(stderr, "usage: bench-iforest eval SHARED_DIR OUT_DIR "
                            "[SEEDS]\n");
            return 2;
        }
        int seeds = argc > 4 ? atoi(argv[4]) : 10;
        return eval(argv[2], argv[3], seeds > 0 ? seeds : 10);
    }
    int a = argc > 1 && strcmp(argv[1], "score") == 0 ? 2 : 1;
    long n = argc > a ? atol(argv[a]) : 1000000;
    long d = argc > a + 1 ? atol(argv[a + 1]) : 8;
    if (n <= 0 || d <= 0) {
        fprintf(stderr, "usage: bench-iforest [score] [N_POINTS] [FEATURES]\n"
                        "       bench-iforest eval SHARED_DIR OUT_DIR "
                        "[SEEDS]\n");
        return 2;
    }
    return bench_score((size_t)n, (size_t)d);
}
