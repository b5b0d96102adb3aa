/* models/iforest.c — see iforest.h for the contract.
 *
 * Why it is built this way: a tree is grown depth first over an index
 * array of its subsample, partitioned in place at each split, into a
 * scratch array of 2 psi - 1 nodes (the most a tree of at most psi leaves
 * can have); a split appends its two children side by side, so a node
 * needs one child index, and the tree is then copied to the end of the
 * forest's single node array. Indices inside a tree are relative to its
 * first node, which makes merging two forests a concatenation. Each node's
 * training count goes to a parallel array that only attribution reads, so
 * that it costs the scoring walk no cache space.
 *
 * Scoring is the hot path. A leaf keeps its whole path length (depth +
 * c(size)) in `split`, points to itself, and names feature d; a block of
 * points is copied with one extra column holding -inf, so at a leaf
 * "x[d] < split" is always true and the walk stays put. Every point of the
 * block can then take exactly the tree's depth steps, in lockstep, with one
 * load-compare-add per step and no branch that depends on the data. */
#include "models/iforest.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#define EULER_GAMMA 0.5772156649

struct pw_iforest {
    size_t n_trees;
    size_t d;
    size_t psi;                      /* min(cfg psi, n) */
    double c_psi;                    /* c(psi): the normaliser */
    struct pw_iforest_node *nodes;   /* every tree, one after the other */
    size_t n_nodes;
    uint32_t *sizes;                 /* training points per node, parallel
                                        to nodes: for attribution only, so
                                        kept out of the scoring array */
    size_t *tree_start;              /* n_trees + 1 offsets into nodes */
    unsigned char *tree_depth;       /* deepest leaf of each tree */
};

void pw_iforest_config_default(struct pw_iforest_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_trees = 100;
    c->psi = 256;
    c->seed = 1;
}

double pw_iforest_c(double n)
{
    if (n <= 1)
        return 0;
    if (n <= 2)
        return 1;
    return 2 * (log(n - 1) + EULER_GAMMA) - 2 * (n - 1) / n;
}

/* ceil(log2 psi): 0 for psi = 1. At most 24 (PW_IFOREST_MAX_PSI). */
static unsigned height_limit(size_t psi)
{
    unsigned l = 0;
    while (((size_t)1 << l) < psi)
        l++;
    return l;
}

/* ---- growing */

struct grower {
    const double *x;
    size_t d;
    unsigned limit;                  /* height limit */
    gsl_rng *rng;
    size_t *rows;                    /* the tree's subsample, partitioned */
    size_t *feat;                    /* a permutation of 0..d-1 */
    struct pw_iforest_node *tree;    /* scratch, 2 psi - 1 nodes */
    uint32_t *sizes;                 /* scratch, 2 psi - 1 */
    size_t len;                      /* nodes used in tree */
    unsigned depth;                  /* deepest leaf so far */
};

static void make_leaf(struct grower *g, size_t at, unsigned depth, size_t size)
{
    g->tree[at].split = depth + pw_iforest_c((double)size);
    g->tree[at].feature = (uint32_t)g->d;
    g->tree[at].child = (uint32_t)at;
    g->sizes[at] = (uint32_t)size;
    if (depth > g->depth)
        g->depth = depth;
}

/* Draws features in random order until one is not constant over rows
 * [lo, hi); returns it with its min and max, or -1 if all are constant. */
static long pick_feature(struct grower *g, size_t lo, size_t hi,
                         double *min, double *max)
{
    for (size_t k = 0; k < g->d; k++) {
        size_t j = k + gsl_rng_uniform_int(g->rng, g->d - k);
        size_t f = g->feat[j];
        g->feat[j] = g->feat[k];
        g->feat[k] = f;
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = lo; i < hi; i++) {
            double v = g->x[g->rows[i] * g->d + f];
            mn = v < mn ? v : mn;
            mx = v > mx ? v : mx;
        }
        if (mx > mn) {
            *min = mn;
            *max = mx;
            return (long)f;
        }
    }
    return -1;
}

static void grow(struct grower *g, size_t at, size_t lo, size_t hi,
                 unsigned depth)
{
    double mn, mx;
    long f = -1;
    if (depth < g->limit && hi - lo > 1)
        f = pick_feature(g, lo, hi, &mn, &mx);
    if (f < 0) {
        make_leaf(g, at, depth, hi - lo);
        return;
    }
    double p = mn + gsl_rng_uniform(g->rng) * (mx - mn);
    /* Both children must be non-empty: min < p <= max. Rounding (or an
     * overflowing range) can break that; the midpoint, then max, cannot. */
    if (!(p > mn && p <= mx))
        p = mn + 0.5 * (mx - mn);
    if (!(p > mn && p <= mx))
        p = mx;
    size_t mid = lo;
    for (size_t i = lo; i < hi; i++) {
        if (g->x[g->rows[i] * g->d + (size_t)f] < p) {
            size_t r = g->rows[i];
            g->rows[i] = g->rows[mid];
            g->rows[mid++] = r;
        }
    }
    size_t c = g->len;
    g->len += 2;
    g->tree[at].split = p;
    g->tree[at].feature = (uint32_t)f;
    g->tree[at].child = (uint32_t)c;
    g->sizes[at] = (uint32_t)(hi - lo);
    grow(g, c, lo, mid, depth + 1);
    grow(g, c + 1, mid, hi, depth + 1);
}

static int check_config(const struct pw_iforest_config *c, size_t n, size_t d,
                        struct pw_err *err)
{
    if (c->n_trees < 1 || c->n_trees > PW_IFOREST_MAX_TREES)
        return pw_err_set(err, "iforest: n_trees %zu must be in [1, %d]",
                          c->n_trees, PW_IFOREST_MAX_TREES);
    if (c->psi < 1 || c->psi > PW_IFOREST_MAX_PSI)
        return pw_err_set(err, "iforest: psi %zu must be in [1, %u]", c->psi,
                          PW_IFOREST_MAX_PSI);
    if (n == 0)
        return pw_err_set(err, "iforest: the training set is empty; give at "
                          "least one row");
    if (n > UINT32_MAX)
        return pw_err_set(err, "iforest: %zu training rows is more than %u; "
                          "subsample first", n, UINT32_MAX);
    if (d == 0)
        return pw_err_set(err, "iforest: the training set has zero features; "
                          "give at least one column");
    if (d > PW_IFOREST_MAX_FEATURES)
        return pw_err_set(err, "iforest: %zu features is more than %d", d,
                          PW_IFOREST_MAX_FEATURES);
    return 0;
}

static int check_finite(const double *x, size_t n, size_t d,
                        struct pw_err *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(x[i * d + j]))
                return pw_err_set(err, "iforest: training value at row %zu, "
                                  "column %zu is %g; remove or impute "
                                  "non-finite values before fitting", i, j,
                                  x[i * d + j]);
    return 0;
}

static struct pw_iforest *alloc_forest(size_t n_trees, size_t d, size_t psi,
                                       size_t n_nodes)
{
    struct pw_iforest *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->n_trees = n_trees;
    f->d = d;
    f->psi = psi;
    f->c_psi = pw_iforest_c((double)psi);
    f->nodes = malloc((n_nodes ? n_nodes : 1) * sizeof *f->nodes);
    f->sizes = malloc((n_nodes ? n_nodes : 1) * sizeof *f->sizes);
    f->tree_start = malloc((n_trees + 1) * sizeof *f->tree_start);
    f->tree_depth = malloc(n_trees);
    if (!f->nodes || !f->sizes || !f->tree_start || !f->tree_depth) {
        pw_iforest_free(f);
        return NULL;
    }
    return f;
}

struct pw_iforest *pw_iforest_fit(const double *x, size_t n, size_t d,
                                  const struct pw_iforest_config *cfg,
                                  struct pw_err *err)
{
    if (check_config(cfg, n, d, err) < 0 || check_finite(x, n, d, err) < 0)
        return NULL;
    size_t psi = cfg->psi < n ? cfg->psi : n;
    size_t max_nodes = 2 * psi - 1;
    /* Reserve room for trees of average size; grown by doubling. */
    size_t cap = cfg->n_trees * (psi + 1);
    struct pw_iforest *f = alloc_forest(cfg->n_trees, d, psi, cap);
    struct grower g = {.x = x, .d = d, .limit = height_limit(psi)};
    size_t *perm = malloc(n * sizeof *perm);
    g.rows = malloc(psi * sizeof *g.rows);
    g.feat = malloc(d * sizeof *g.feat);
    g.tree = malloc(max_nodes * sizeof *g.tree);
    g.sizes = malloc(max_nodes * sizeof *g.sizes);
    g.rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!f || !perm || !g.rows || !g.feat || !g.tree || !g.sizes || !g.rng)
        goto oom;
    gsl_rng_set(g.rng, cfg->seed);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t j = 0; j < d; j++)
        g.feat[j] = j;

    size_t used = 0;
    for (size_t t = 0; t < cfg->n_trees; t++) {
        /* Partial Fisher-Yates: perm's first psi entries are a uniform
         * sample without replacement, whatever order perm was left in. */
        for (size_t k = 0; k < psi; k++) {
            size_t j = k + gsl_rng_uniform_int(g.rng, n - k);
            size_t r = perm[j];
            perm[j] = perm[k];
            perm[k] = r;
            g.rows[k] = r;
        }
        g.len = 1;
        g.depth = 0;
        grow(&g, 0, 0, psi, 0);
        if (used + g.len > cap) {
            size_t ncap = 2 * cap > used + g.len ? 2 * cap : used + g.len;
            struct pw_iforest_node *nn = realloc(f->nodes, ncap * sizeof *nn);
            if (nn)
                f->nodes = nn;
            uint32_t *ns = realloc(f->sizes, ncap * sizeof *ns);
            if (ns)
                f->sizes = ns;
            if (!nn || !ns)
                goto oom;
            cap = ncap;
        }
        memcpy(f->nodes + used, g.tree, g.len * sizeof *g.tree);
        memcpy(f->sizes + used, g.sizes, g.len * sizeof *g.sizes);
        f->tree_start[t] = used;
        f->tree_depth[t] = (unsigned char)g.depth;
        used += g.len;
    }
    f->tree_start[cfg->n_trees] = used;
    f->n_nodes = used;
    struct pw_iforest_node *shrunk = realloc(f->nodes, used * sizeof *shrunk);
    if (shrunk)
        f->nodes = shrunk;
    uint32_t *shrunk_sizes = realloc(f->sizes, used * sizeof *shrunk_sizes);
    if (shrunk_sizes)
        f->sizes = shrunk_sizes;
    gsl_rng_free(g.rng);
    free(g.tree);
    free(g.sizes);
    free(g.feat);
    free(g.rows);
    free(perm);
    return f;

oom:
    pw_err_set(err, "iforest: out of memory for %zu trees of psi %zu over "
               "%zu features", cfg->n_trees, psi, d);
    if (g.rng)
        gsl_rng_free(g.rng);
    free(g.tree);
    free(g.sizes);
    free(g.feat);
    free(g.rows);
    free(perm);
    pw_iforest_free(f);
    return NULL;
}

void pw_iforest_free(struct pw_iforest *f)
{
    if (!f)
        return;
    free(f->nodes);
    free(f->sizes);
    free(f->tree_start);
    free(f->tree_depth);
    free(f);
}

size_t pw_iforest_trees(const struct pw_iforest *f) { return f->n_trees; }
size_t pw_iforest_features(const struct pw_iforest *f) { return f->d; }
size_t pw_iforest_psi(const struct pw_iforest *f) { return f->psi; }

size_t pw_iforest_bytes(const struct pw_iforest *f)
{
    return sizeof *f + f->n_nodes * (sizeof *f->nodes + sizeof *f->sizes) +
           (f->n_trees + 1) * sizeof *f->tree_start + f->n_trees;
}

const struct pw_iforest_node *pw_iforest_tree(const struct pw_iforest *f,
                                              size_t tree, size_t *n_nodes)
{
    if (tree >= f->n_trees) {
        *n_nodes = 0;
        return NULL;
    }
    *n_nodes = f->tree_start[tree + 1] - f->tree_start[tree];
    return f->nodes + f->tree_start[tree];
}

const uint32_t *pw_iforest_tree_counts(const struct pw_iforest *f, size_t tree)
{
    return tree < f->n_trees ? f->sizes + f->tree_start[tree] : NULL;
}

/* Checks one tree read from outside so that every walk ends inside it:
 * children point strictly forward (no cycle) and within the tree, an
 * internal node splits on a feature < d at a finite value, a leaf names
 * feature d, points to itself and holds a finite path length >= 0 (the
 * scoring loop's -inf column relies on "-inf < split" at a leaf). Also
 * finds the tree's depth, which the lockstep walk needs. */
static int check_tree(const struct pw_iforest_node *t, size_t len, size_t d, size_t tree,
                      unsigned char *depth_out, struct pw_err *err)
{
    if (len == 0)
        return pw_err_set(err, "iforest: tree %zu has no nodes", tree);
    unsigned char *depth = calloc(len, 1);
    if (!depth)
        return pw_err_set(err, "iforest: out of memory");
    unsigned char deepest = 0;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        const struct pw_iforest_node *nd = &t[i];
        if (nd->feature == d) {
            if (nd->child != i || !isfinite(nd->split) || nd->split < 0)
                rc = pw_err_set(err, "iforest: tree %zu, node %zu: a malformed leaf", tree, i);
            else if (depth[i] > deepest)
                deepest = depth[i];
        } else if (nd->feature > d || nd->child <= i || (size_t)nd->child + 1 >= len ||
                   !isfinite(nd->split)) {
            rc = pw_err_set(err, "iforest: tree %zu, node %zu: a malformed split", tree, i);
        } else if (depth[i] == UCHAR_MAX) {
            rc = pw_err_set(err, "iforest: tree %zu is deeper than %d", tree, UCHAR_MAX);
        } else {
            depth[nd->child] = depth[nd->child + 1] = (unsigned char)(depth[i] + 1);
        }
    }
    free(depth);
    *depth_out = deepest;
    return rc;
}

struct pw_iforest *pw_iforest_from_parts(size_t n_trees, size_t d, size_t psi,
                                         const struct pw_iforest_node *nodes,
                                         const size_t *tree_nodes, const uint32_t *counts,
                                         struct pw_err *err)
{
    if (n_trees < 1 || n_trees > PW_IFOREST_MAX_TREES || d < 1 ||
        d > PW_IFOREST_MAX_FEATURES || psi < 1 || psi > PW_IFOREST_MAX_PSI) {
        pw_err_set(err, "iforest: %zu trees, %zu features, psi %zu: out of range", n_trees,
                   d, psi);
        return NULL;
    }
    size_t total = 0;
    for (size_t t = 0; t < n_trees; t++) {
        if (tree_nodes[t] > 2 * psi - 1) {
            pw_err_set(err, "iforest: tree %zu has %zu nodes; psi %zu allows %zu", t,
                       tree_nodes[t], psi, 2 * psi - 1);
            return NULL;
        }
        total += tree_nodes[t];
    }
    struct pw_iforest *f = alloc_forest(n_trees, d, psi, total);
    if (!f) {
        pw_err_set(err, "iforest: out of memory for %zu nodes", total);
        return NULL;
    }
    memcpy(f->nodes, nodes, total * sizeof *nodes);
    memcpy(f->sizes, counts, total * sizeof *counts);
    f->n_nodes = total;
    size_t at = 0;
    for (size_t t = 0; t < n_trees; t++) {
        f->tree_start[t] = at;
        if (check_tree(f->nodes + at, tree_nodes[t], d, t, &f->tree_depth[t], err) < 0) {
            pw_iforest_free(f);
            return NULL;
        }
        at += tree_nodes[t];
    }
    f->tree_start[n_trees] = at;
    return f;
}

/* ---- scoring */

static bool has_nan(const double *x, size_t d)
{
    for (size_t j = 0; j < d; j++)
        if (isnan(x[j]))
            return true;
    return false;
}

/* The leaf x reaches in tree t; path[] gets the index (in the forest) of
 * every node on the way, leaf included (room for the height limit + 1, at
 * most 25), if path is not NULL, and *k the number of splits passed. */
static const struct pw_iforest_node *walk(const struct pw_iforest *f,
                                          size_t t, const double *x,
                                          size_t *path, size_t *k)
{
    const struct pw_iforest_node *base = f->nodes + f->tree_start[t];
    const struct pw_iforest_node *nd = base;
    size_t n = 0;
    while (nd->feature != f->d) {
        if (path)
            path[n] = (size_t)(nd - f->nodes);
        n++;
        nd = base + nd->child + !(x[nd->feature] < nd->split);
    }
    if (path)
        path[n] = (size_t)(nd - f->nodes);
    if (k)
        *k = n;
    return nd;
}

double pw_iforest_path_length(const struct pw_iforest *f, const double *x)
{
    if (has_nan(x, f->d))
        return NAN;
    double sum = 0;
    for (size_t t = 0; t < f->n_trees; t++)
        sum += walk(f, t, x, NULL, NULL)->split;
    return sum / (double)f->n_trees;
}

static double score_of(const struct pw_iforest *f, double mean_h)
{
    if (isnan(mean_h))
        return NAN;
    if (f->c_psi == 0)
        return 1;
    return exp2(-mean_h / f->c_psi);
}

double pw_iforest_score(const struct pw_iforest *f, const double *x)
{
    return score_of(f, pw_iforest_path_length(f, x));
}

#define BLOCK 64
#define SCRATCH 4096     /* doubles of stack for one padded block */

/* Scores m <= BLOCK rows, padded with a -inf column into xs (see the
 * comment at the top of the file). */
static void score_block(const struct pw_iforest *f, const double *x,
                        size_t m, double *out)
{
    const size_t d = f->d, stride = d + 1;
    double xs[SCRATCH];
    double h[BLOCK];
    uint32_t at[BLOCK];
    for (size_t j = 0; j < m; j++) {
        memcpy(xs + j * stride, x + j * d, d * sizeof *xs);
        xs[j * stride + d] = -INFINITY;
        h[j] = 0;
    }
    for (size_t t = 0; t < f->n_trees; t++) {
        const struct pw_iforest_node *base = f->nodes + f->tree_start[t];
        unsigned depth = f->tree_depth[t];
        memset(at, 0, sizeof at);
        for (unsigned l = 0; l < depth; l++) {
            for (size_t j = 0; j < m; j++) {
                const struct pw_iforest_node *nd = base + at[j];
                at[j] = nd->child +
                        !(xs[j * stride + nd->feature] < nd->split);
            }
        }
        for (size_t j = 0; j < m; j++)
            h[j] += base[at[j]].split;
    }
    for (size_t j = 0; j < m; j++)
        out[j] = has_nan(x + j * d, d)
                     ? NAN
                     : score_of(f, h[j] / (double)f->n_trees);
}

void pw_iforest_score_batch(const struct pw_iforest *f, const double *x,
                            size_t n, double *out)
{
    size_t block = SCRATCH / (f->d + 1);
    block = block > BLOCK ? BLOCK : block;
    if (block == 0) {
        /* Very wide rows: one point at a time, walking with branches. */
        for (size_t i = 0; i < n; i++)
            out[i] = pw_iforest_score(f, x + i * f->d);
        return;
    }
    for (size_t i = 0; i < n; i += block) {
        size_t m = n - i < block ? n - i : block;
        score_block(f, x + i * f->d, m, out + i);
    }
}

int pw_iforest_attribute(const struct pw_iforest *f, const double *x,
                         double *out)
{
    const size_t d = f->d;
    if (has_nan(x, d)) {
        for (size_t j = 0; j < d; j++)
            out[j] = NAN;
        return -1;
    }
    size_t path[32];
    for (int pass = 0; pass < 2; pass++) {
        /* Pass 0: trees weighted by how much shorter than c(psi) x's path
         * is. Pass 1 (nothing was shorter): every tree weighs 1. */
        double total = 0;
        memset(out, 0, d * sizeof *out);
        for (size_t t = 0; t < f->n_trees; t++) {
            size_t k;
            double h = walk(f, t, x, path, &k)->split;
            double w = pass == 0 ? f->c_psi - h : 1;
            if (!(w > 0) || k == 0)
                continue;
            /* Split i shrank x's group from sizes[path[i]] to
             * sizes[path[i + 1]] points: log2 of the ratio is the bits of
             * isolation it contributed; they add up to log2(psi / leaf). */
            const uint32_t *n = f->sizes;
            double bits = log2(n[path[0]] / (double)n[path[k]]);
            for (size_t i = 0; i < k; i++)
                out[f->nodes[path[i]].feature] +=
                    w * log2(n[path[i]] / (double)n[path[i + 1]]) / bits;
            total += w;
        }
        if (total > 0) {
            for (size_t j = 0; j < d; j++)
                out[j] /= total;
            return 0;
        }
    }
    for (size_t j = 0; j < d; j++)
        out[j] = 1.0 / (double)d;
    return 0;
}

struct pw_iforest *pw_iforest_merge(const struct pw_iforest *a,
                                    const struct pw_iforest *b,
                                    struct pw_err *err)
{
    if (a->d != b->d) {
        pw_err_set(err, "iforest: cannot merge forests over %zu and %zu "
                   "features", a->d, b->d);
        return NULL;
    }
    if (a->psi != b->psi) {
        pw_err_set(err, "iforest: cannot merge forests grown with psi %zu "
                   "and %zu: their path lengths are on different scales; "
                   "retrain one with the other's psi", a->psi, b->psi);
        return NULL;
    }
    size_t trees = a->n_trees + b->n_trees;
    if (trees > PW_IFOREST_MAX_TREES) {
        pw_err_set(err, "iforest: merging %zu and %zu trees exceeds %d",
                   a->n_trees, b->n_trees, PW_IFOREST_MAX_TREES);
        return NULL;
    }
    struct pw_iforest *f = alloc_forest(trees, a->d, a->psi,
                                        a->n_nodes + b->n_nodes);
    if (!f) {
        pw_err_set(err, "iforest: out of memory merging %zu trees", trees);
        return NULL;
    }
    f->n_nodes = a->n_nodes + b->n_nodes;
    memcpy(f->nodes, a->nodes, a->n_nodes * sizeof *f->nodes);
    memcpy(f->nodes + a->n_nodes, b->nodes, b->n_nodes * sizeof *f->nodes);
    memcpy(f->sizes, a->sizes, a->n_nodes * sizeof *f->sizes);
    memcpy(f->sizes + a->n_nodes, b->sizes, b->n_nodes * sizeof *f->sizes);
    for (size_t t = 0; t < a->n_trees; t++)
        f->tree_start[t] = a->tree_start[t];
    for (size_t t = 0; t <= b->n_trees; t++)
        f->tree_start[a->n_trees + t] = a->n_nodes + b->tree_start[t];
    memcpy(f->tree_depth, a->tree_depth, a->n_trees);
    memcpy(f->tree_depth + a->n_trees, b->tree_depth, b->n_trees);
    return f;
}

/* ---- calibration */

static int check_scores(const double *scores, size_t n, struct pw_err *err)
{
    if (n == 0)
        return pw_err_set(err, "iforest: no scores to calibrate on");
    for (size_t i = 0; i < n; i++)
        if (isnan(scores[i]))
            return pw_err_set(err, "iforest: score %zu is NaN; drop rows "
                              "with NaN before calibrating", i);
    return 0;
}

int pw_iforest_threshold_contamination(const double *scores, size_t n,
                                       double contamination,
                                       double *threshold, struct pw_err *err)
{
    if (!(contamination > 0 && contamination <= 0.5))
        return pw_err_set(err, "iforest: contamination %g must be in "
                          "(0, 0.5]", contamination);
    if (check_scores(scores, n, err) < 0)
        return -1;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return pw_err_set(err, "iforest: out of memory sorting %zu scores", n);
    memcpy(s, scores, n * sizeof *s);
    gsl_sort(s, 1, n);
    *threshold = gsl_stats_quantile_from_sorted_data(s, 1, n,
                                                     1 - contamination);
    free(s);
    return 0;
}

struct scored {
    double s;
    int y;
};

static int by_score_desc(const void *pa, const void *pb)
{
    double a = ((const struct scored *)pa)->s;
    double b = ((const struct scored *)pb)->s;
    return (a < b) - (a > b);
}

int pw_iforest_threshold_f1(const double *scores, const int *labels, size_t n,
                            struct pw_iforest_calibration *out,
                            struct pw_err *err)
{
    if (check_scores(scores, n, err) < 0)
        return -1;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        pos += labels[i] != 0;
    if (pos == 0)
        return pw_err_set(err, "iforest: no positive label among %zu; F1 is "
                          "undefined, calibrate from a contamination instead",
                          n);
    struct scored *v = malloc(n * sizeof *v);
    if (!v)
        return pw_err_set(err, "iforest: out of memory sorting %zu scores", n);
    for (size_t i = 0; i < n; i++) {
        v[i].s = scores[i];
        v[i].y = labels[i] != 0;
    }
    qsort(v, n, sizeof *v, by_score_desc);
    memset(out, 0, sizeof *out);
    out->f1 = -1;
    size_t tp = 0;
    for (size_t i = 0; i < n; i++) {
        tp += (size_t)v[i].y;
        if (i + 1 < n && v[i + 1].s == v[i].s)
            continue;                 /* ties are flagged together */
        double f1 = 2.0 * (double)tp / (double)(i + 1 + pos);
        if (f1 > out->f1) {
            out->f1 = f1;
            out->threshold = v[i].s;
            out->flagged = i + 1;
            out->precision = (double)tp / (double)(i + 1);
            out->recall = (double)tp / (double)pos;
        }
    }
    free(v);
    return 0;
}
