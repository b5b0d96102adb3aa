/* train/evaluate.c — see evaluate.h. */
#include "train/evaluate.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "models/bundle.h"
#include "models/codec.h"
#include "models/detector.h"
#include "models/iforest.h"
#include "models/nab.h"
#include "models/nabdata.h"
#include "train/fit.h"

#define MAX_GROUPS 32

struct options {
    const char *nab, *results, *from, *name, *bundle;
    const char *groups[MAX_GROUPS + 1];
    char *groups_text;
    bool json;
};

static int usage(void)
{
    fprintf(stderr,
            "usage: pipewatch-train evaluate --nab DIR [--groups G,G] [--json]\n"
            "                                [--nab-results OUT [--detector-name NAME]]\n"
            "       pipewatch-train evaluate --nab DIR --from-results OUT "
            "[--detector-name NAME] [--json]\n"
            "       pipewatch-train evaluate --nab DIR --bundle BUNDLE [--json] [...]\n");
    return 2;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        {"nab", required_argument, NULL, 'n'},       {"groups", required_argument, NULL, 'g'},
        {"nab-results", required_argument, NULL, 'r'}, {"from-results", required_argument, NULL, 'f'},
        {"detector-name", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"bundle", required_argument, NULL, 'b'},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->name = "pipewatch";
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'n': o->nab = optarg; break;
        case 'r': o->results = optarg; break;
        case 'f': o->from = optarg; break;
        case 'd': o->name = optarg; break;
        case 'j': o->json = true; break;
        case 'b': o->bundle = optarg; break;
        case 'g': {
            free(o->groups_text);
            o->groups_text = strdup(optarg);
            size_t n = 0;
            for (char *save = NULL, *t = strtok_r(o->groups_text, ",", &save); t && n < MAX_GROUPS;
                 t = strtok_r(NULL, ",", &save))
                o->groups[n++] = t;
            o->groups[n] = NULL;
            break;
        }
        default: return -1;
        }
    }
    if (!o->nab || optind != argc || (o->results && o->from) || (o->bundle && o->from))
        return -1;
    if (!valid_name(o->name)) {
        fprintf(stderr, "pipewatch-train: evaluate: detector name \"%s\": use letters, digits, "
                        "'_' and '-' (at most 64)\n", o->name);
        return -1;
    }
    return 0;
}

/* The shortest decimal text that reads back as exactly v. */
static void shortest(double v, char *out, size_t size)
{
    for (int p = 1; p <= 17; p++) {
        snprintf(out, size, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void nab_time(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
}

static bool in_windows(const struct pw_nab_series *s, int64_t ts)
{
    for (size_t w = 0; w < s->nwindows; w++)
        if (ts >= s->windows[w][0] && ts <= s->windows[w][1])
            return true;
    return false;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* OUT/NAME/<group>/NAME_<file>.csv for series s ("<group>/<file>.csv"). */
static void result_path(const struct options *o, const char *root, const struct pw_nab_series *s,
                        char *out, size_t size)
{
    const char *slash = strchr(s->name, '/');
    int glen = slash ? (int)(slash - s->name) : 0;
    snprintf(out, size, "%s/%s/%.*s/%s_%s", root, o->name, glen, s->name, o->name,
             slash ? slash + 1 : s->name);
}

static int write_results(const struct options *o, const struct pw_nab_series *s,
                         const double *scores)
{
    char path[4096];
    result_path(o, o->results, s, path, sizeof path);
    char *dir = strdup(path);
    *strrchr(dir, '/') = '\0';
    if (mkdirs(dir) < 0) {
        fprintf(stderr, "pipewatch-train: evaluate: %s: cannot create: %s\n", dir, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "pipewatch-train: evaluate: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fputs("timestamp,value,anomaly_score,label\n", f);
    for (size_t i = 0; i < s->n; i++) {
        char when[32], value[40], score[40];
        nab_time(s->ts[i], when);
        shortest(s->values[i], value, sizeof value);
        shortest(scores[i], score, sizeof score);
        fprintf(f, "%s,%s,%s,%d\n", when, value, score, in_windows(s, s->ts[i]) ? 1 : 0);
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "pipewatch-train: evaluate: %s: cannot write: %s\n", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* Reads the anomaly_score column of a results file written as above. */
static int read_results(const struct options *o, const struct pw_nab_series *s, double *scores)
{
    char path[4096];
    result_path(o, o->from, s, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "pipewatch-train: evaluate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    int rc = 0;
    size_t row = 0;
    if (!fgets(line, sizeof line, f) || strcmp(line, "timestamp,value,anomaly_score,label\n") != 0) {
        fprintf(stderr, "pipewatch-train: evaluate: %s:1: expected the header "
                        "\"timestamp,value,anomaly_score,label\"\n", path);
        rc = -1;
    }
    while (rc == 0 && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL, *end = NULL;
        double v = c2 ? strtod(c2 + 1, &end) : NAN;
        if (row >= s->n || !c2 || end == c2 + 1 || *end != ',' || !(v >= 0 && v <= 1)) {
            fprintf(stderr, "pipewatch-train: evaluate: %s:%zu: %s\n", path, row + 2,
                    row >= s->n ? "more rows than the data file" :
                                  "expected timestamp,value,anomaly_score in [0,1],label");
            rc = -1;
            break;
        }
        scores[row++] = v;
    }
    if (rc == 0 && row != s->n) {
        fprintf(stderr, "pipewatch-train: evaluate: %s: %zu rows, the data file has %zu\n", path,
                row, s->n);
        rc = -1;
    }
    fclose(f);
    return rc;
}

/* The bundle's isolation forest over one feature, the series' value: the
 * analyzer's anomaly score for an entity whose feature vector is this
 * metric alone (what `fit` writes for CSV and NAB input). */
struct forest_model {
    struct pw_iforest *f;
    double threshold;
};

static int load_forest(const char *path, struct forest_model *fm)
{
    struct pw_bundle b;
    struct pw_err err = {{0}};
    fm->f = NULL;
    fm->threshold = NAN;
    if (pw_bundle_read_file(path, &b, &err) < 0) {
        fprintf(stderr, "pipewatch-train: evaluate: %s\n", err.msg);
        return -1;
    }
    const struct pw_bundle_section *f = pw_bundle_find(&b, PW_CODEC_IFOREST_KIND, "default");
    const struct pw_bundle_section *c = pw_bundle_find(&b, PW_CODEC_CALIB_KIND, "default");
    int rc = -1;
    if (!f)
        fprintf(stderr, "pipewatch-train: evaluate: %s: no isolation forest (IFOR default)\n", path);
    else if (!(fm->f = pw_codec_get_iforest(f->data, f->len, &err)))
        fprintf(stderr, "pipewatch-train: evaluate: %s: IFOR default: %s\n", path, err.msg);
    else if (pw_iforest_features(fm->f) != 1)
        fprintf(stderr, "pipewatch-train: evaluate: %s: the forest scores %zu features; a NAB "
                        "series is one\n", path, pw_iforest_features(fm->f));
    else if (c && pw_codec_get_calibration(c->data, c->len, &fm->threshold, &err) < 0)
        fprintf(stderr, "pipewatch-train: evaluate: %s: CALB default: %s\n", path, err.msg);
    else
        rc = 0;
    if (rc < 0) {
        pw_iforest_free(fm->f);
        fm->f = NULL;
    }
    pw_bundle_free(&b);
    return rc;
}

/* Pointwise figures at the calibrated threshold over every row. */
struct pointwise {
    size_t tp, fp, fn, rows, positives;
    double precision, recall, f1, auc;
};

static double auc_of(const struct pw_nab_file *files, size_t nfiles,
                     const struct pw_nab_corpus *c, size_t rows)
{
    double *sc = malloc((rows ? rows : 1) * sizeof *sc);
    uint8_t *lab = malloc(rows ? rows : 1);
    double a = NAN;
    if (sc && lab) {
        size_t k = 0;
        for (size_t f = 0; f < nfiles; f++)
            for (size_t i = 0; i < files[f].n; i++, k++) {
                sc[k] = files[f].scores[i];
                lab[k] = in_windows(&c->series[f], files[f].ts[i]);
            }
        a = pw_fit_auc(sc, lab, k);
    }
    free(sc);
    free(lab);
    return a;
}

static int detect(const struct pw_nab_series *s, double *scores)
{
    struct pw_detector_config c;
    pw_detector_config_default(&c);
    struct pw_err err = {{0}};
    struct pw_detector *d = pw_detector_new(&c, &err);
    if (!d) {
        fprintf(stderr, "pipewatch-train: evaluate: %s\n", err.msg);
        return -1;
    }
    for (size_t i = 0; i < s->n; i++)
        pw_detector_push(d, (double)s->ts[i], s->values[i], &scores[i], NULL);
    pw_detector_free(d);
    return 0;
}

static void report(const struct options *o, const struct pw_nab_corpus *c, size_t rows,
                   const struct pw_nab_result *r, bool scored, const struct pointwise *pw,
                   double thr)
{
    if (o->json) {
        json_t *top = json_pack("{s:s, s:s, s:I, s:I}", "corpus", o->nab, "detector", o->name,
                                "files", (json_int_t)c->n, "rows", (json_int_t)rows);
        if (o->results)
            json_object_set_new(top, "nab_results", json_string(o->results));
        json_t *profiles = json_object();
        for (int p = 0; scored && p < 3; p++)
            json_object_set_new(profiles, pw_nab_profiles[p].name,
                                json_pack("{s:f, s:f, s:I, s:I, s:I}", "score", r[p].normalized,
                                          "threshold", r[p].threshold, "windows_detected",
                                          (json_int_t)r[p].windows_detected, "windows",
                                          (json_int_t)r[p].windows, "false_positives",
                                          (json_int_t)r[p].false_positives));
        json_object_set_new(top, "nab", scored ? profiles : (json_decref(profiles), json_null()));
        if (o->bundle)
            json_object_set_new(top, "bundle", json_string(o->bundle));
        if (pw)
            json_object_set_new(top, "calibrated",
                                json_pack("{s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f}",
                                          "threshold", thr, "rows", (json_int_t)pw->rows,
                                          "positives", (json_int_t)pw->positives, "tp",
                                          (json_int_t)pw->tp, "fp", (json_int_t)pw->fp,
                                          "precision", pw->precision, "recall", pw->recall,
                                          "f1", pw->f1, "auc", pw->auc));
        char *text = json_dumps(top, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        puts(text);
        free(text);
        json_decref(top);
        return;
    }
    printf("corpus:   %s (%zu files, %zu rows)\n", o->nab, c->n, rows);
    printf("detector: %s%s\n", o->name, o->from ? " (scores read back from its results)" : "");
    if (o->results)
        printf("results:  %s/%s/ (NAB's results layout)\n", o->results, o->name);
    if (o->bundle)
        printf("scores:   the isolation forest of %s on each value\n", o->bundle);
    if (pw)
        printf("calibrated threshold %.6f, rows in labelled windows as positives (%zu of %zu):\n"
               "          precision %.4f  recall %.4f  F1 %.4f  AUC %.4f  (TP %zu, FP %zu)\n",
               thr, pw->positives, pw->rows, pw->precision, pw->recall, pw->f1, pw->auc,
               pw->tp, pw->fp);
    if (!scored) {
        printf("NAB:      not scored (no labels/combined_windows.json)\n");
        return;
    }
    printf("%-20s %8s %10s %9s %5s\n", "NAB profile", "score", "threshold", "windows", "FP");
    for (int p = 0; p < 3; p++)
        printf("%-20s %8.2f %10.6f %4zu/%-4zu %5zu\n", pw_nab_profiles[p].name, r[p].normalized,
               r[p].threshold, r[p].windows_detected, r[p].windows, r[p].false_positives);
}

int pw_cmd_evaluate(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) < 0) {
        free(o.groups_text);
        return usage();
    }
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    if (pw_nab_load(o.nab, o.groups[0] ? o.groups : NULL, &c, &err) < 0) {
        fprintf(stderr, "pipewatch-train: evaluate: %s\n", err.msg);
        free(o.groups_text);
        return 1;
    }
    struct forest_model fm = {NULL, NAN};
    if (o.bundle && load_forest(o.bundle, &fm) < 0) {
        pw_nab_corpus_free(&c);
        free(o.groups_text);
        return 1;
    }
    if (o.bundle && strcmp(o.name, "pipewatch") == 0)
        o.name = "pipewatch-iforest";
    struct pw_nab_file *files = calloc(c.n, sizeof *files);
    int rc = files ? 0 : 1;
    size_t rows = 0;
    for (size_t f = 0; rc == 0 && f < c.n; f++) {
        const struct pw_nab_series *s = &c.series[f];
        double *scores = malloc((s->n ? s->n : 1) * sizeof *scores);
        files[f] = (struct pw_nab_file){s->ts, scores, s->n,
                                        (const int64_t(*)[2])s->windows, s->nwindows};
        if (scores && fm.f)
            for (size_t i = 0; i < s->n; i++)
                scores[i] = pw_iforest_score(fm.f, &s->values[i]);
        if (!scores || (o.from ? read_results(&o, s, scores) : fm.f ? 0 : detect(s, scores)) < 0 ||
            (o.results && write_results(&o, s, scores) < 0))
            rc = 1;
        rows += s->n;
    }
    struct pw_nab_result r[3];
    bool scored = rc == 0 && c.labelled;
    for (int p = 0; scored && p < 3; p++)
        if (pw_nab_score(files, c.n, &pw_nab_profiles[p], &r[p], &err) < 0) {
            fprintf(stderr, "pipewatch-train: evaluate: %s\n", err.msg);
            rc = 1;
            scored = false;
        }
    struct pointwise pw = {0};
    bool have_pw = rc == 0 && fm.f && c.labelled && !isnan(fm.threshold);
    for (size_t f = 0; have_pw && f < c.n; f++)
        for (size_t i = 0; i < files[f].n; i++) {
            bool lab = in_windows(&c.series[f], files[f].ts[i]);
            bool hit = pw_iforest_is_anomaly(files[f].scores[i], fm.threshold);
            pw.tp += lab && hit;
            pw.fp += !lab && hit;
            pw.fn += lab && !hit;
            pw.positives += lab;
            pw.rows++;
        }
    if (have_pw) {
        pw.precision = pw.tp + pw.fp ? (double)pw.tp / (double)(pw.tp + pw.fp) : 0;
        pw.recall = pw.positives ? (double)pw.tp / (double)pw.positives : 0;
        pw.f1 = pw.precision + pw.recall > 0
                    ? 2 * pw.precision * pw.recall / (pw.precision + pw.recall) : 0;
        pw.auc = auc_of(files, c.n, &c, rows);
    }
    if (rc == 0)
        report(&o, &c, rows, r, scored, have_pw ? &pw : NULL, fm.threshold);
    pw_iforest_free(fm.f);
    for (size_t f = 0; files && f < c.n; f++)
        free((void *)files[f].scores);
    free(files);
    pw_nab_corpus_free(&c);
    free(o.groups_text);
    return rc;
}
