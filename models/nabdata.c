/* models/nabdata.c — the NAB layout, read strictly (see nabdata.h).
 * CSV by hand (two numeric columns need no library); the labels through
 * jansson. */
#include "models/nabdata.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

int pw_nab_parse_time(const char *text, int64_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int consumed = 0;
    if (sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return -1;
    const char *rest = text + consumed;
    if (*rest == '.') {          /* fractional seconds: ignored, digits only */
        rest++;
        while (*rest >= '0' && *rest <= '9')
            rest++;
    }
    if (*rest != '\0' || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static void series_free(struct pw_nab_series *s)
{
    free(s->name);
    free(s->ts);
    free(s->values);
    free(s->windows);
}

void pw_nab_corpus_free(struct pw_nab_corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        series_free(&c->series[i]);
    free(c->series);
    c->series = NULL;
    c->n = 0;
}

static int read_csv(const char *path, struct pw_nab_series *s, struct pw_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return pw_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    char line[256];
    size_t cap = 0;
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (lineno == 1) {
            if (strcmp(line, "timestamp,value") != 0)
                rc = pw_err_set(err, "%s:1: expected the header \"timestamp,value\", got \"%.60s\"",
                                path, line);
            if (rc < 0)
                break;
            continue;
        }
        if (line[0] == '\0')
            continue;
        char *comma = strchr(line, ',');
        char *end = NULL;
        int64_t t;
        double v = 0;
        if (comma) {
            *comma = '\0';
            errno = 0;
            v = strtod(comma + 1, &end);
        }
        if (!comma || pw_nab_parse_time(line, &t) < 0 || end == comma + 1 || *end ||
            errno == ERANGE || !isfinite(v)) {
            rc = pw_err_set(err, "%s:%d: expected \"YYYY-MM-DD HH:MM:SS,number\" "
                            "with a finite number", path, lineno);
            break;
        }
        /* NAB's own files have a few (a daylight-saving hour replayed in
         * ec2_request_latency_system_failure, an hour's step back in
         * machine_temperature_system_failure); NAB scores by row, so do we. */
        if (s->n > 0 && t <= s->ts[s->n - 1])
            s->nonincreasing++;
        if (s->n == cap) {
            cap = cap ? cap * 2 : 1024;
            int64_t *nt = realloc(s->ts, cap * sizeof *nt);
            double *nv = nt ? realloc(s->values, cap * sizeof *nv) : NULL;
            if (nt)
                s->ts = nt;
            if (!nt || !nv) {
                rc = pw_err_set(err, "%s: out of memory", path);
                break;
            }
            s->values = nv;
        }
        s->ts[s->n] = t;
        s->values[s->n] = v;
        s->n++;
    }
    fclose(f);
    if (rc == 0 && s->n == 0)
        rc = pw_err_set(err, "%s: no data rows", path);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(((const struct pw_nab_series *)a)->name,
                  ((const struct pw_nab_series *)b)->name);
}

static int attach_windows(json_t *labels, const char *labels_path,
                          struct pw_nab_series *s, struct pw_err *err)
{
    json_t *list = json_object_get(labels, s->name);
    if (!list)
        return 0;
    if (!json_is_array(list))
        return pw_err_set(err, "%s: \"%s\": expected a list of [start, end]", labels_path,
                          s->name);
    size_t n = json_array_size(list);
    s->windows = calloc(n ? n : 1, sizeof *s->windows);
    if (!s->windows)
        return pw_err_set(err, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *w = json_array_get(list, i);
        const char *a = json_string_value(json_array_get(w, 0));
        const char *b = json_string_value(json_array_get(w, 1));
        if (!json_is_array(w) || json_array_size(w) != 2 || !a || !b ||
            pw_nab_parse_time(a, &s->windows[i][0]) < 0 ||
            pw_nab_parse_time(b, &s->windows[i][1]) < 0 ||
            s->windows[i][1] < s->windows[i][0] ||
            (i > 0 && s->windows[i][0] <= s->windows[i - 1][1]))
            return pw_err_set(err, "%s: \"%s\": window %zu is not a valid "
                              "[\"start\", \"end\"] after the one before", labels_path,
                              s->name, i);
    }
    s->nwindows = n;
    return 0;
}

static bool wanted(const char *group, const char *const *groups)
{
    if (!groups)
        return true;
    for (size_t i = 0; groups[i]; i++)
        if (strcmp(groups[i], group) == 0)
            return true;
    return false;
}

int pw_nab_load(const char *nab_dir, const char *const *groups,
                struct pw_nab_corpus *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    snprintf(path, sizeof path, "%s/labels/combined_windows.json", nab_dir);
    json_error_t jerr;
    json_t *labels = NULL;
    if (access(path, F_OK) == 0 || errno != ENOENT) {
        labels = json_load_file(path, 0, &jerr);
        if (!labels)
            return pw_err_set(err, "%s:%d: %s", path, jerr.line, jerr.text);
    }
    out->labelled = labels != NULL;
    char labels_path[4096];
    snprintf(labels_path, sizeof labels_path, "%s", path);

    snprintf(path, sizeof path, "%s/data", nab_dir);
    DIR *top = opendir(path);
    if (!top) {
        json_decref(labels);
        return pw_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 0;
    int rc = 0;
    struct dirent *g;
    while (rc == 0 && (g = readdir(top)) != NULL) {
        if (g->d_name[0] == '.' || !wanted(g->d_name, groups))
            continue;
        char gpath[4096];
        snprintf(gpath, sizeof gpath, "%s/data/%s", nab_dir, g->d_name);
        DIR *d = opendir(gpath);
        if (!d)
            continue;   /* not a directory */
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".csv") != 0)
                continue;
            if (out->n == cap) {
                cap = cap ? cap * 2 : 16;
                struct pw_nab_series *ns = realloc(out->series, cap * sizeof *ns);
                if (!ns) {
                    rc = pw_err_set(err, "out of memory");
                    break;
                }
                out->series = ns;
            }
            struct pw_nab_series *s = &out->series[out->n++];
            memset(s, 0, sizeof *s);
            size_t nl = strlen(g->d_name) + 1 + len + 1;
            s->name = malloc(nl);
            if (!s->name) {
                rc = pw_err_set(err, "out of memory");
                break;
            }
            snprintf(s->name, nl, "%s/%s", g->d_name, e->d_name);
            char fpath[8192];
            snprintf(fpath, sizeof fpath, "%s/%s", gpath, e->d_name);
            if (read_csv(fpath, s, err) < 0 ||
                (labels && attach_windows(labels, labels_path, s, err) < 0))
                rc = -1;
        }
        closedir(d);
    }
    closedir(top);
    json_decref(labels);
    if (rc == 0 && out->n == 0)
        rc = pw_err_set(err, "%s/data: no CSV files in the groups asked for", nab_dir);
    if (rc < 0) {
        pw_nab_corpus_free(out);
        return -1;
    }
    qsort(out->series, out->n, sizeof *out->series, cmp_names);
    return 0;
}
