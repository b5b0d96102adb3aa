/* models/loghubdata.c — LogHub structured CSV and the grouping accuracy
 * (see loghubdata.h). The CSV reader is a small state machine over the
 * whole file in memory: 2,000-line samples are a few hundred KB. */
#include "models/loghubdata.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define MAX_FIELDS 32

/* The samples are 2,000 lines; a structured CSV of a whole system log is
 * not what this reader is for. */
#define LOGHUB_MAX_BYTES ((size_t)256 << 20)

/* Parses one record starting at *p, unquoting fields in place (the text
 * only shrinks). Fields are NUL-terminated; returns the field count, 0 at
 * the end of the input, -1 on an unterminated quote. */
static int parse_record(char **p, char *end, char **fields)
{
    char *s = *p;
    if (s >= end)
        return 0;
    int nf = 0;
    for (;;) {
        char *w = s, *start = s;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end)
                    return -1;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        *w++ = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                *w++ = *s++;
            }
        } else {
            while (s < end && *s != ',' && *s != '\n' && *s != '\r')
                w = ++s;
        }
        char sep = s < end ? *s : '\n';
        if (sep != ',' && sep != '\n' && sep != '\r')
            return -1;                         /* text after a closing quote */
        *w = '\0';
        if (nf < MAX_FIELDS)
            fields[nf] = start;
        nf++;
        s++;
        if (sep != ',') {
            if (sep == '\r' && s < end && *s == '\n')
                s++;
            break;
        }
    }
    *p = s;
    return nf;
}

static int column(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n && i < MAX_FIELDS; i++)
        if (strcmp(hdr[i], name) == 0)
            return i;
    return -1;
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

int pw_loghub_load(const char *dir, const char *system, struct pw_loghub *out,
                   struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/%s/%s_2k.log_structured.csv",
                         dir, system, system) >= sizeof path)
        return pw_err_set(err, "loghub: path too long for %s", system);
    return pw_loghub_load_file(path, out, err);
}

int pw_loghub_load_file(const char *path, struct pw_loghub *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    struct pw_buf file;
    pw_buf_init(&file);
    if (pw_buf_read_file(&file, path, LOGHUB_MAX_BYTES, err) < 0)
        return pw_err_prefix(err, "loghub");
    char *text = file.data;
    size_t len = file.len;
    char *p = text, *end = text + len, *hdr[MAX_FIELDS], *f[MAX_FIELDS];
    int nh = parse_record(&p, end, hdr);
    int c_content = column(hdr, nh, "Content");
    int c_event = column(hdr, nh, "EventId");
    int c_label = column(hdr, nh, "Label");
    if (nh <= 0 || c_content < 0 || c_event < 0) {
        free(text);
        return pw_err_set(err, "loghub: %s has no header with Content and "
                          "EventId columns", path);
    }
    size_t cap = 0;
    for (size_t rec = 2;; rec++) {
        int nf = parse_record(&p, end, f);
        if (nf == 0)
            break;
        if (nf == 1 && f[0][0] == '\0')
            continue;                              /* blank line */
        if (nf != nh) {
            free(text);
            pw_loghub_free(out);
            return pw_err_set(err, "loghub: %s record %zu has %d fields, the "
                              "header %d", path, rec, nf, nh);
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 2048;
            struct pw_loghub_line *nl = realloc(out->lines, cap * sizeof *nl);
            if (!nl)
                goto oom;
            out->lines = nl;
        }
        struct pw_loghub_line *l = &out->lines[out->n];
        l->content = dup(f[c_content]);
        l->event_id = dup(f[c_event]);
        l->label = c_label >= 0 ? dup(f[c_label]) : NULL;
        out->n++;
        if (!l->content || !l->event_id || (c_label >= 0 && !l->label))
            goto oom;
    }
    free(text);
    return 0;
oom:
    free(text);
    pw_loghub_free(out);
    return pw_err_set(err, "loghub: out of memory reading %s", path);
}

void pw_loghub_free(struct pw_loghub *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->lines[i].content);
        free(l->lines[i].event_id);
        free(l->lines[i].label);
    }
    free(l->lines);
    l->lines = NULL;
    l->n = 0;
}

/* Two lines are in the same "cell" when they share both the truth and the
 * predicted group. A line is correct iff its truth group, its predicted
 * group and its cell all have the same size. Sizes come from sorting
 * indices (qsort_r, so no global state), O(n log n). */
struct groups {
    const char *const *truth;
    const unsigned *pred;
};

static int by_truth(const void *a, const void *b, void *arg)
{
    const struct groups *g = arg;
    return strcmp(g->truth[*(const size_t *)a], g->truth[*(const size_t *)b]);
}

static int by_pred(const void *a, const void *b, void *arg)
{
    const struct groups *g = arg;
    unsigned x = g->pred[*(const size_t *)a], y = g->pred[*(const size_t *)b];
    return x < y ? -1 : x > y;
}

static int by_cell(const void *a, const void *b, void *arg)
{
    int c = by_truth(a, b, arg);
    return c ? c : by_pred(a, b, arg);
}

static void group_sizes(size_t *idx, size_t n, size_t *size,
                        int (*cmp)(const void *, const void *, void *),
                        struct groups *g)
{
    qsort_r(idx, n, sizeof *idx, cmp, g);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && cmp(&idx[i], &idx[j], g) == 0)
            j++;
        for (size_t k = i; k < j; k++)
            size[idx[k]] = j - i;
        i = j;
    }
}

double pw_loghub_grouping_accuracy(const char *const *truth,
                                   const unsigned *pred, size_t n)
{
    if (n == 0)
        return 0;
    size_t *idx = malloc(n * sizeof *idx);
    size_t *st = malloc(n * sizeof *st), *sp = malloc(n * sizeof *sp);
    size_t *sc = malloc(n * sizeof *sc);
    double acc = 0;
    if (idx && st && sp && sc) {
        struct groups g = {truth, pred};
        for (size_t i = 0; i < n; i++)
            idx[i] = i;
        group_sizes(idx, n, st, by_truth, &g);
        group_sizes(idx, n, sp, by_pred, &g);
        group_sizes(idx, n, sc, by_cell, &g);
        size_t ok = 0;
        for (size_t i = 0; i < n; i++)
            ok += st[i] == sp[i] && sp[i] == sc[i];
        acc = (double)ok / n;
    }
    free(idx);
    free(st);
    free(sp);
    free(sc);
    return acc;
}
