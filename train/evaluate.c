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

#include "models/detector.h"
#include "models/nab.h"
#include "models/nabdata.h"

#define MAX_GROUPS 32

struct options {
    const char *nab, *results, *from, *name;
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
            "[--detector-name NAME] [--json]\n");
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
    if (!o->nab || optind != argc || (o->results && o->from))
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
                   const struct pw_nab_result *r, bool scored)
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
    struct pw_nab_file *files = calloc(c.n, sizeof *files);
    int rc = files ? 0 : 1;
    size_t rows = 0;
    for (size_t f = 0; rc == 0 && f < c.n; f++) {
        const struct pw_nab_series *s = &c.series[f];
        double *scores = malloc((s->n ? s->n : 1) * sizeof *scores);
        files[f] = (struct pw_nab_file){s->ts, scores, s->n,
                                        (const int64_t(*)[2])s->windows, s->nwindows};
        if (!scores || (o.from ? read_results(&o, s, scores) : detect(s, scores)) < 0 ||
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
    if (rc == 0)
        report(&o, &c, rows, r, scored);
    for (size_t f = 0; files && f < c.n; f++)
        free((void *)files[f].scores);
    free(files);
    pw_nab_corpus_free(&c);
    free(o.groups_text);
    return rc;
}
