/* alerting/alert.c — labels, alerts and Alertmanager's fingerprint
 * (contract: alert.h).
 *
 * A label set is a sorted array: a lookup is a binary search, an insert a
 * memmove. Label sets are small (a handful of labels), so this beats any
 * tree or hash in both memory and time, and the fingerprint can walk the
 * array in order without sorting.
 */
#include "alerting/alert.h"

#include <stdlib.h>
#include <string.h>

/* Index of `name`, or -(insertion point) - 1. */
static long find(const struct pw_labels *ls, const char *name)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ls->v[mid].name, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

int pw_labels_set(struct pw_labels *ls, const char *name, const char *value,
                  struct pw_err *err)
{
    if (!name || !*name)
        return pw_err_set(err, "a label needs a name");
    long i = find(ls, name);
    if (!value || !*value) {
        if (i < 0)
            return 0;
        free(ls->v[i].name);
        free(ls->v[i].value);
        memmove(&ls->v[i], &ls->v[i + 1],
                (ls->n - (size_t)i - 1) * sizeof ls->v[0]);
        if (--ls->n == 0) {
            free(ls->v);
            ls->v = NULL;
        }
        return 0;
    }
    char *v = strdup(value);
    if (!v)
        return pw_err_set(err, "out of memory setting label %s", name);
    if (i >= 0) {
        free(ls->v[i].value);
        ls->v[i].value = v;
        return 0;
    }
    size_t at = (size_t)(-i - 1);
    char *n = strdup(name);
    struct pw_label *nv = n ? realloc(ls->v, (ls->n + 1) * sizeof *nv) : NULL;
    if (!nv) {
        free(n);
        free(v);
        return pw_err_set(err, "out of memory setting label %s", name);
    }
    ls->v = nv;
    memmove(&ls->v[at + 1], &ls->v[at], (ls->n - at) * sizeof ls->v[0]);
    ls->v[at].name = n;
    ls->v[at].value = v;
    ls->n++;
    return 0;
}

const char *pw_labels_get(const struct pw_labels *ls, const char *name)
{
    long i = find(ls, name);
    return i >= 0 ? ls->v[i].value : NULL;
}

void pw_labels_free(struct pw_labels *ls)
{
    if (!ls)
        return;
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].name);
        free(ls->v[i].value);
    }
    free(ls->v);
    ls->v = NULL;
    ls->n = 0;
}

int pw_labels_copy(struct pw_labels *dst, const struct pw_labels *src,
                   struct pw_err *err)
{
    struct pw_labels out = {0};
    if (src->n) {
        out.v = calloc(src->n, sizeof *out.v);
        if (!out.v)
            return pw_err_set(err, "out of memory copying labels");
    }
    for (size_t i = 0; i < src->n; i++) {
        out.v[i].name = strdup(src->v[i].name);
        out.v[i].value = strdup(src->v[i].value);
        out.n++;
        if (!out.v[i].name || !out.v[i].value) {
            pw_labels_free(&out);
            return pw_err_set(err, "out of memory copying labels");
        }
    }
    pw_labels_free(dst);
    *dst = out;
    return 0;
}

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv_add(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= FNV_PRIME;
    }
    h ^= 0xff;
    return h * FNV_PRIME;
}

uint64_t pw_labels_fingerprint(const struct pw_labels *ls)
{
    uint64_t h = FNV_OFFSET;
    for (size_t i = 0; i < ls->n; i++) {
        h = fnv_add(h, ls->v[i].name);
        h = fnv_add(h, ls->v[i].value);
    }
    return h;
}

void pw_alert_free(struct pw_alert *a)
{
    if (!a)
        return;
    pw_labels_free(&a->labels);
    pw_labels_free(&a->annotations);
    free(a->generator_url);
    memset(a, 0, sizeof *a);
}

int pw_alert_copy(struct pw_alert *dst, const struct pw_alert *src,
                  struct pw_err *err)
{
    struct pw_alert out = *src;
    memset(&out.labels, 0, sizeof out.labels);
    memset(&out.annotations, 0, sizeof out.annotations);
    out.generator_url = NULL;
    if (pw_labels_copy(&out.labels, &src->labels, err) < 0 ||
        pw_labels_copy(&out.annotations, &src->annotations, err) < 0)
        goto fail;
    if (src->generator_url && !(out.generator_url = strdup(src->generator_url))) {
        pw_err_set(err, "out of memory copying an alert");
        goto fail;
    }
    pw_alert_free(dst);
    *dst = out;
    return 0;
fail:
    pw_alert_free(&out);
    return -1;
}
