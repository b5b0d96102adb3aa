/* bench/bench_tagger.c — the log tagger on LogHub: template grouping
 * accuracy per system, BGL alert classification by 5-fold cross-validation,
 * and lines per second. Not a test: it prints figures.
 *
 *   ./build/bench/bench-tagger [groups|verbose|bgl|speed|all] [LOGHUB_DIR]
 *
 * LOGHUB_DIR defaults to $PW_SHARED_DIR/loghub. "verbose" is "groups" with
 * every mined template. The speed figures with the default classifier need
 * the training file: $PW_SOURCE_DIR/models/data/tagger_default.tsv (else
 * ./models/data/tagger_default.tsv). Environment overrides for experiments:
 * PW_TAGGER_ST (similarity threshold), PW_TAGGER_DEPTH, PW_TAGGER_ALPHA
 * (classifier smoothing), PW_TAGGER_DUMP
 * (per-line "system, template, truth, masked line" on stderr). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/drain.h"
#include "models/logclass.h"
#include "models/loghubdata.h"
#include "models/logtok.h"
#include "models/tagger.h"

static const char *const systems[] = {
    "HDFS", "Hadoop", "Spark", "Zookeeper", "BGL", "OpenStack", "Linux",
    "Apache", NULL,
};

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int groups(const char *dir, int verbose)
{
    double sum = 0;
    int k = 0;
    printf("%-10s %8s %9s %9s\n", "system", "accuracy", "templates", "truth");
    for (const char *const *s = systems; *s; s++, k++) {
        struct pw_err err;
        struct pw_loghub lh;
        if (pw_loghub_load(dir, *s, &lh, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        struct pw_drain_config cfg;
        pw_drain_config_default(&cfg);
        if (getenv("PW_TAGGER_ST"))
            cfg.sim_threshold = atof(getenv("PW_TAGGER_ST"));
        if (getenv("PW_TAGGER_DEPTH"))
            cfg.depth = (unsigned)atoi(getenv("PW_TAGGER_DEPTH"));
        struct pw_drain *d = pw_drain_new(&cfg, &err);
        static struct pw_logtok_line tl;
        unsigned *pred = malloc(lh.n * sizeof *pred);
        const char **truth = malloc(lh.n * sizeof *truth);
        for (size_t i = 0; i < lh.n; i++) {
            pw_logtok_mask(lh.lines[i].content, strlen(lh.lines[i].content), &tl);
            pred[i] = (unsigned)pw_drain_add(d, &tl, &err);
            truth[i] = lh.lines[i].event_id;
            if (getenv("PW_TAGGER_DUMP"))
                fprintf(stderr, "%s\t%u\t%s\t%s\n", *s, pred[i], truth[i], tl.text);
        }
        double acc = pw_loghub_grouping_accuracy(truth, pred, lh.n);
        size_t ntruth = 0;
        for (size_t i = 0; i < lh.n; i++) {
            size_t j = 0;
            while (j < i && strcmp(truth[j], truth[i]) != 0)
                j++;
            ntruth += j == i;
        }
        printf("%-10s %8.4f %9zu %9zu\n", *s, acc, pw_drain_count(d), ntruth);
        if (verbose) {
            char buf[1024];
            for (size_t t = 0; t < pw_drain_count(d); t++) {
                pw_drain_template(d, t, buf, sizeof buf);
                printf("   T%zu %llu: %s\n", t,
                       (unsigned long long)pw_drain_lines(d, t), buf);
            }
        }
        sum += acc;
        free(pred);
        free(truth);
        pw_drain_free(d);
        pw_loghub_free(&lh);
    }
    printf("%-10s %8.4f\n", "mean", sum / k);
    return 0;
}

/* ---- BGL classification by 5-fold cross-validation ------------------- */

#define FOLDS 5

struct prf {
    double p, r, f1;
    size_t support;
};

static struct prf score(size_t tp, size_t fp, size_t fn)
{
    struct prf s = {0, 0, 0, tp + fn};
    s.p = tp + fp ? (double)tp / (tp + fp) : 0;
    s.r = tp + fn ? (double)tp / (tp + fn) : 0;
    s.f1 = s.p + s.r > 0 ? 2 * s.p * s.r / (s.p + s.r) : 0;
    return s;
}

/* Cross-validated predictions: pred[i] is the category name predicted for
 * line i by a model trained on the other folds (fold = i % FOLDS, so every
 * fold spans the whole time range). label(i) gives the training label. */
static int cross_validate(const struct pw_loghub *lh,
                          const char *(*label)(const struct pw_loghub_line *),
                          const char **pred)
{
    struct pw_logclass_example *ex = malloc(lh->n * sizeof *ex);
    struct pw_logclass_config cfg;
    pw_logclass_config_default(&cfg);
    if (getenv("PW_TAGGER_ALPHA"))
        cfg.alpha = atof(getenv("PW_TAGGER_ALPHA"));
    for (int k = 0; k < FOLDS; k++) {
        size_t n = 0;
        for (size_t i = 0; i < lh->n; i++)
            if ((int)(i % FOLDS) != k)
                ex[n++] = (struct pw_logclass_example){
                    label(&lh->lines[i]), lh->lines[i].content};
        struct pw_err err;
        struct pw_logclass *m = pw_logclass_train(ex, n, &cfg, &err);
        if (!m) {
            fprintf(stderr, "%s\n", err.msg);
            free(ex);
            return -1;
        }
        for (size_t i = k; i < lh->n; i += FOLDS) {
            const char *c = lh->lines[i].content;
            size_t best = pw_logclass_predict(m, c, strlen(c), NULL, NULL);
            /* the model is freed below: keep the training label's pointer */
            const char *name = pw_logclass_category(m, best);
            pred[i] = NULL;
            for (size_t j = 0; j < lh->n && !pred[i]; j++)
                if (strcmp(label(&lh->lines[j]), name) == 0)
                    pred[i] = label(&lh->lines[j]);
        }
        pw_logclass_free(m);
    }
    free(ex);
    return 0;
}

static const char *binary_label(const struct pw_loghub_line *l)
{
    return strcmp(l->label, "-") == 0 ? "normal" : "alert";
}

static const char *category_label(const struct pw_loghub_line *l)
{
    return strcmp(l->label, "-") == 0 ? "normal" : l->label;
}

static int bgl(const char *dir)
{
    struct pw_err err;
    struct pw_loghub lh;
    if (pw_loghub_load(dir, "BGL", &lh, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    const char **pred = calloc(lh.n, sizeof *pred);
    size_t alerts = 0;
    for (size_t i = 0; i < lh.n; i++)
        alerts += strcmp(lh.lines[i].label, "-") != 0;
    struct pw_logclass_config cfg;
    pw_logclass_config_default(&cfg);
    if (getenv("PW_TAGGER_ALPHA"))
        cfg.alpha = atof(getenv("PW_TAGGER_ALPHA"));
    printf("\nBGL: %zu lines, %zu alerts; naive Bayes (words + bigrams, "
           "alpha %g), %d-fold cross-validation (fold = line %% %d)\n",
           lh.n, alerts, cfg.alpha, FOLDS, FOLDS);

    if (cross_validate(&lh, binary_label, pred) < 0)
        return -1;
    size_t tp = 0, fp = 0, fn = 0, ok = 0;
    for (size_t i = 0; i < lh.n; i++) {
        bool truth = strcmp(binary_label(&lh.lines[i]), "alert") == 0;
        bool said = strcmp(pred[i], "alert") == 0;
        tp += truth && said;
        fp += !truth && said;
        fn += truth && !said;
        ok += truth == said;
    }
    struct prf b = score(tp, fp, fn);
    printf("alert vs normal:  precision %.4f  recall %.4f  F1 %.4f  "
           "(tp %zu fp %zu fn %zu; accuracy %.4f)\n", b.p, b.r, b.f1, tp, fp,
           fn, (double)ok / lh.n);

    if (cross_validate(&lh, category_label, pred) < 0)
        return -1;
    /* Per alert category (normal is a class of the model but not averaged),
     * then the macro average over the alert categories. */
    const char *cats[64];
    size_t nc = 0;
    for (size_t i = 0; i < lh.n; i++) {
        const char *c = category_label(&lh.lines[i]);
        size_t j = 0;
        while (j < nc && strcmp(cats[j], c) != 0)
            j++;
        if (j == nc && nc < 64 && strcmp(c, "normal") != 0)
            cats[nc++] = c;
    }
    printf("%-10s %7s %9s %7s %7s\n", "category", "support", "precision",
           "recall", "F1");
    double sp = 0, sr = 0, sf = 0;
    ok = 0;
    for (size_t j = 0; j < nc; j++) {
        tp = fp = fn = 0;
        for (size_t i = 0; i < lh.n; i++) {
            bool truth = strcmp(category_label(&lh.lines[i]), cats[j]) == 0;
            bool said = strcmp(pred[i], cats[j]) == 0;
            tp += truth && said;
            fp += !truth && said;
            fn += truth && !said;
        }
        struct prf s = score(tp, fp, fn);
        printf("%-10s %7zu %9.4f %7.4f %7.4f\n", cats[j], s.support, s.p, s.r,
               s.f1);
        sp += s.p;
        sr += s.r;
        sf += s.f1;
    }
    for (size_t i = 0; i < lh.n; i++)
        ok += strcmp(category_label(&lh.lines[i]), pred[i]) == 0;
    printf("%-10s %7zu %9.4f %7.4f %7.4f   (macro over %zu alert categories; "
           "accuracy over all %zu lines %.4f)\n", "macro", alerts, sp / nc,
           sr / nc, sf / nc, nc, lh.n, (double)ok / lh.n);
    free(pred);
    pw_loghub_free(&lh);
    return 0;
}

/* ---- speed ------------------------------------------------------------ */

#define SPEED_LINES 200000     /* per system: the 2,000 lines, 100 times */

static int speed(const char *dir)
{
    struct pw_err err;
    char path[1100];
    const char *src = getenv("PW_SOURCE_DIR");
    snprintf(path, sizeof path, "%s%s%s", src ? src : "", src ? "/" : "",
             PW_TAGGER_DEFAULT_TSV);
    struct pw_logclass *model = pw_tagger_default_model(path, &err);
    if (!model)
        fprintf(stderr, "no default model (%s): classifier figures skipped\n",
                err.msg);
    printf("\nspeed: CPU time of one thread, each system's 2,000 Content "
           "lines %d times over (first pass learns)\n", SPEED_LINES / 2000);
    printf("%-10s %12s %14s %16s %12s\n", "system", "mask only", "mask+drain",
           "first pass", "+classify");
    double tot_lines = 0, tot[3] = {0};
    for (const char *const *s = systems; *s; s++) {
        struct pw_loghub lh;
        if (pw_loghub_load(dir, *s, &lh, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        size_t *len = malloc(lh.n * sizeof *len);
        for (size_t i = 0; i < lh.n; i++)
            len[i] = strlen(lh.lines[i].content);
        size_t reps = SPEED_LINES / lh.n;
        double lines = (double)reps * lh.n;
        static struct pw_logtok_line tl;
        size_t sink = 0;
        double t0 = cpu_s();
        for (size_t r = 0; r < reps; r++)
            for (size_t i = 0; i < lh.n; i++)
                sink += pw_logtok_mask(lh.lines[i].content, len[i], &tl);
        double t_mask = cpu_s() - t0;

        double t_run[2], t_first = 0;
        for (int with_model = 0; with_model < 2; with_model++) {
            const struct pw_logclass *m = with_model ? model : NULL;
            if (with_model && !m) {
                t_run[1] = 0;
                continue;
            }
            struct pw_tagger *t = pw_tagger_new(NULL, m, &err);
            struct pw_tag tag;
            t0 = cpu_s();
            for (size_t r = 0; r < reps; r++) {
                for (size_t i = 0; i < lh.n; i++) {
                    pw_tagger_tag(t, lh.lines[i].content, len[i], &tag, &err);
                    sink += (size_t)tag.template_id;
                }
                if (r == 0 && !with_model)
                    t_first = cpu_s() - t0;
            }
            t_run[with_model] = cpu_s() - t0;
            pw_tagger_free(t);
        }
        printf("%-10s %10.2f M %12.2f M %14.2f M %10.2f M lines/s\n", *s,
               lines / t_mask / 1e6, lines / t_run[0] / 1e6,
               lh.n / t_first / 1e6,
               t_run[1] > 0 ? lines / t_run[1] / 1e6 : 0.0);
        tot_lines += lines;
        tot[0] += t_mask;
        tot[1] += t_run[0];
        tot[2] += t_run[1];
        if (sink == 42)
            printf(" ");
        free(len);
        pw_loghub_free(&lh);
    }
    printf("%-10s %10.2f M %12.2f M %14s   %10.2f M lines/s\n", "overall",
           tot_lines / tot[0] / 1e6, tot_lines / tot[1] / 1e6, "",
           tot[2] > 0 ? tot_lines / tot[2] / 1e6 : 0.0);
    pw_logclass_free(model);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";
    char dir[1024];
    if (argc > 2)
        snprintf(dir, sizeof dir, "%s", argv[2]);
    else if (getenv("PW_SHARED_DIR"))
        snprintf(dir, sizeof dir, "%s/loghub", getenv("PW_SHARED_DIR"));
    else {
        fprintf(stderr, "usage: bench-tagger [groups|bgl|speed|all] "
                        "[LOGHUB_DIR] (or set PW_SHARED_DIR)\n");
        return 2;
    }
    bool all = strcmp(mode, "all") == 0;
    if (all || strcmp(mode, "groups") == 0 || strcmp(mode, "verbose") == 0)
        if (groups(dir, strcmp(mode, "verbose") == 0) < 0)
            return 1;
    if ((all || strcmp(mode, "bgl") == 0) && bgl(dir) < 0)
        return 1;
    if ((all || strcmp(mode, "speed") == 0) && speed(dir) < 0)
        return 1;
    return 0;
}
