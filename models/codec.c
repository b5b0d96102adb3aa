/* models/codec.c — see codec.h for the layouts. Lengths read from a
 * section are checked against the bytes left before anything is
 * allocated for them. */
#include "models/codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

#define LAYOUT_VERSION 1

static int check_version(struct pw_reader *r, const char *what, struct pw_err *err)
{
    uint32_t v = pw_get_u32(r);
    if (r->bad)
        return pw_err_set(err, "%s: truncated section", what);
    if (v != LAYOUT_VERSION)
        return pw_err_set(err, "%s: layout version %u; this build reads %d", what, v,
                          LAYOUT_VERSION);
    return 0;
}

static int finish(struct pw_reader *r, const char *what, struct pw_err *err)
{
    if (r->bad)
        return pw_err_set(err, "%s: truncated section", what);
    if (pw_reader_left(r) != 0)
        return pw_err_set(err, "%s: %zu unexpected bytes at the end of the section", what,
                          pw_reader_left(r));
    return 0;
}

void pw_codec_put_hw_model(struct pw_buf *b, const struct pw_hw_model *m)
{
    pw_put_u32(b, LAYOUT_VERSION);
    pw_put_f64(b, m->p.alpha);
    pw_put_f64(b, m->p.beta);
    pw_put_f64(b, m->p.gamma);
    pw_put_f64(b, m->p.phi);
    pw_put_u32(b, m->period);
    pw_put_u8(b, m->damped ? 1 : 0);
    pw_put_f64(b, m->step_s);
    pw_put_f64(b, m->max_gap_steps);
    pw_put_f64(b, m->var_weight);
}

int pw_codec_get_hw_model(const void *data, size_t len, struct pw_hw_model *m,
                          struct pw_err *err)
{
    struct pw_reader r;
    pw_reader_init(&r, data, len);
    if (check_version(&r, "Holt-Winters model", err) < 0)
        return -1;
    struct pw_hw_model out;
    memset(&out, 0, sizeof out);
    out.p.alpha = pw_get_f64(&r);
    out.p.beta = pw_get_f64(&r);
    out.p.gamma = pw_get_f64(&r);
    out.p.phi = pw_get_f64(&r);
    out.period = pw_get_u32(&r);
    uint8_t damped = pw_get_u8(&r);
    out.step_s = pw_get_f64(&r);
    out.max_gap_steps = pw_get_f64(&r);
    out.var_weight = pw_get_f64(&r);
    if (finish(&r, "Holt-Winters model", err) < 0)
        return -1;
    if (damped > 1)
        return pw_err_set(err, "Holt-Winters model: damped flag %u is not 0 or 1", damped);
    out.damped = damped == 1;
    if (pw_hw_model_check(&out, err) < 0)
        return pw_err_prefix(err, "Holt-Winters model");
    *m = out;
    return 0;
}

void pw_codec_put_calibration(struct pw_buf *b, double threshold)
{
    pw_put_u32(b, LAYOUT_VERSION);
    pw_put_f64(b, threshold);
}

int pw_codec_get_calibration(const void *data, size_t len, double *threshold,
                             struct pw_err *err)
{
    struct pw_reader r;
    pw_reader_init(&r, data, len);
    if (check_version(&r, "calibration", err) < 0)
        return -1;
    double t = pw_get_f64(&r);
    if (finish(&r, "calibration", err) < 0)
        return -1;
    if (!(t > 0 && t <= 1))
        return pw_err_set(err, "calibration: threshold %g is not in (0, 1]", t);
    *threshold = t;
    return 0;
}

void pw_codec_put_iforest(struct pw_buf *b, const struct pw_iforest *f)
{
    size_t trees = pw_iforest_trees(f);
    pw_put_u32(b, LAYOUT_VERSION);
    pw_put_u64(b, trees);
    pw_put_u64(b, pw_iforest_features(f));
    pw_put_u64(b, pw_iforest_psi(f));
    for (size_t t = 0; t < trees; t++) {
        size_t n;
        pw_iforest_tree(f, t, &n);
        pw_put_u64(b, n);
    }
    for (size_t t = 0; t < trees; t++) {
        size_t n;
        const struct pw_iforest_node *nodes = pw_iforest_tree(f, t, &n);
        for (size_t i = 0; i < n; i++) {
            pw_put_f64(b, nodes[i].split);
            pw_put_u32(b, nodes[i].feature);
            pw_put_u32(b, nodes[i].child);
        }
    }
    for (size_t t = 0; t < trees; t++) {
        size_t n;
        pw_iforest_tree(f, t, &n);
        const uint32_t *counts = pw_iforest_tree_counts(f, t);
        for (size_t i = 0; i < n; i++)
            pw_put_u32(b, counts[i]);
    }
}

#define NODE_BYTES 20   /* f64 split, u32 feature, u32 child, u32 count */

struct pw_iforest *pw_codec_get_iforest(const void *data, size_t len, struct pw_err *err)
{
    struct pw_reader r;
    pw_reader_init(&r, data, len);
    if (check_version(&r, "isolation forest", err) < 0)
        return NULL;
    uint64_t trees = pw_get_u64(&r), d = pw_get_u64(&r), psi = pw_get_u64(&r);
    if (r.bad || trees < 1 || trees > PW_IFOREST_MAX_TREES || trees > pw_reader_left(&r) / 8) {
        pw_err_set(err, "isolation forest: %llu trees in a %zu-byte section",
                   (unsigned long long)trees, len);
        return NULL;
    }
    size_t *per_tree = malloc(trees * sizeof *per_tree);
    if (!per_tree) {
        pw_err_set(err, "isolation forest: out of memory");
        return NULL;
    }
    uint64_t total = 0;
    for (uint64_t t = 0; t < trees; t++) {
        per_tree[t] = (size_t)pw_get_u64(&r);
        total += per_tree[t];
        if (per_tree[t] > len || total > len)   /* stops overflow; checked exactly below */
            r.bad = true;
    }
    if (r.bad || total > pw_reader_left(&r) / NODE_BYTES) {
        free(per_tree);
        pw_err_set(err, "isolation forest: truncated section (node counts exceed it)");
        return NULL;
    }
    struct pw_iforest_node *nodes = malloc((total ? total : 1) * sizeof *nodes);
    uint32_t *counts = malloc((total ? total : 1) * sizeof *counts);
    struct pw_iforest *f = NULL;
    if (!nodes || !counts) {
        pw_err_set(err, "isolation forest: out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < total; i++) {
        nodes[i].split = pw_get_f64(&r);
        nodes[i].feature = pw_get_u32(&r);
        nodes[i].child = pw_get_u32(&r);
    }
    for (uint64_t i = 0; i < total; i++)
        counts[i] = pw_get_u32(&r);
    if (finish(&r, "isolation forest", err) < 0)
        goto out;
    f = pw_iforest_from_parts((size_t)trees, (size_t)d, (size_t)psi, nodes, per_tree, counts,
                              err);
out:
    free(per_tree);
    free(nodes);
    free(counts);
    return f;
}

int pw_codec_put_logclass(struct pw_buf *b, const struct pw_logclass *m, struct pw_err *err)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f)
        return pw_err_set(err, "log classifier: out of memory");
    int rc = pw_logclass_write(m, f, err);
    if (fclose(f) != 0 && rc == 0)
        rc = pw_err_set(err, "log classifier: out of memory");
    if (rc == 0) {
        pw_put_u32(b, LAYOUT_VERSION);
        pw_put_u64(b, n);
        pw_put_bytes(b, text, n);
    }
    free(text);
    return rc;
}

struct pw_logclass *pw_codec_get_logclass(const void *data, size_t len, struct pw_err *err)
{
    struct pw_reader r;
    pw_reader_init(&r, data, len);
    if (check_version(&r, "log classifier", err) < 0)
        return NULL;
    uint64_t n = pw_get_u64(&r);
    const uint8_t *text = n <= pw_reader_left(&r) ? pw_get_span(&r, (size_t)n) : NULL;
    if (!text || finish(&r, "log classifier", err) < 0) {
        if (!text)
            pw_err_set(err, "log classifier: truncated section");
        return NULL;
    }
    if (n == 0) {
        pw_err_set(err, "log classifier: empty model text");
        return NULL;
    }
    /* fmemopen wants a writable pointer in its prototype but only reads. */
    FILE *f = fmemopen((void *)text, (size_t)n, "r");
    if (!f) {
        pw_err_set(err, "log classifier: out of memory");
        return NULL;
    }
    struct pw_logclass *m = pw_logclass_read(f, err);
    if (m && fgetc(f) != EOF) {
        pw_logclass_free(m);
        m = NULL;
        pw_err_set(err, "log classifier: bytes after the model's end line");
    }
    fclose(f);
    if (!m)
        pw_err_prefix(err, "log classifier");
    return m;
}
