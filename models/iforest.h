/* models/iforest.h — isolation forest (Liu, Ting and Zhou, ICDM 2008).
 *
 * Why: a pipeline's metrics come in groups (rate, lag, error ratio, their
 * recent change) and a failure is often a combination no single threshold
 * catches. An isolation forest needs no labels and no distribution: a point
 * that random axis-parallel cuts separate from the rest in few cuts is
 * unusual. It trains in milliseconds on a few hundred samples per tree and
 * scores a point in a few hundred node visits, so it can run per sample.
 *
 * The algorithm, exactly as the paper has it:
 *   - t trees (default 100), each grown on psi points drawn without
 *     replacement from the training set (default 256; n when n < psi);
 *   - a node splits on a feature drawn uniformly at random, at a value drawn
 *     uniformly in [min, max) of that feature over the node's points; points
 *     with x < split go left, the others right;
 *   - a node becomes a leaf when it holds one point, all its points are
 *     equal, or it is at the height limit ceil(log2 psi);
 *   - the path length of x in a tree is the depth of the leaf it reaches
 *     plus c(size), size being the number of training points in that leaf
 *     (the expected remaining depth of the unbuilt subtree);
 *   - score s(x) = 2^(-E[h(x)] / c(psi)), E over the trees, with
 *     c(n) = 2 H(n - 1) - 2 (n - 1) / n,  H(i) = ln(i) + 0.5772156649,
 *     the average path length of an unsuccessful search in a binary search
 *     tree of n keys; c(2) = 1 and c(n) = 0 for n <= 1 (the formula gives
 *     0.1544 for n = 2, but a two-point node needs exactly one more cut).
 * s near 1: isolated early, anomalous; s well below 0.5: ordinary. These
 * are also scikit-learn's conventions (its score_samples is -s).
 *
 * Two details the paper leaves open, decided as scikit-learn does: when the
 * drawn feature is constant over the node, another feature is drawn (the
 * features are tried in random order) and the node is a leaf only when every
 * feature is constant there; and a split value that rounding puts outside
 * (min, max] is replaced by the midpoint, so that both children are never
 * empty.
 *
 * Reproducible: the randomness is one gsl_rng (mt19937) seeded from the
 * configuration, so the same seed and the same data give the same forest,
 * node for node, and bitwise the same scores (with the same libm).
 *
 * Layout: the whole forest is one contiguous array of 16-byte nodes, each
 * tree a run of it (struct pw_iforest_node below). Scoring walks a block of
 * points through one tree at a time, all in lockstep for the tree's depth,
 * with no branch on the data: the tree stays in L1 and the walks of the
 * block's points overlap in the CPU.
 *
 * Pure computation: no I/O, no logging, no global state. A forest is
 * read-only after fitting, so several threads may score with one forest
 * concurrently. Data is row-major: row i of an n x d matrix is
 * x[i * d .. i * d + d - 1]. */
#ifndef PW_IFOREST_H
#define PW_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* One node. Internal: `feature` < d, go to nodes[child] if x[feature] <
 * split, else to nodes[child + 1] (indices relative to the tree's first
 * node). Leaf: feature == d (the forest's feature count), `split` holds the
 * leaf's whole path length depth + c(size), and child is the leaf's own
 * index, so that a walk that has arrived stays there (see iforest.c). */
struct pw_iforest_node {
    double split;
    uint32_t feature;
    uint32_t child;
};

struct pw_iforest_config {
    size_t n_trees;        /* t, >= 1 (default 100) */
    size_t psi;            /* subsample size, >= 1 (default 256); n is used
                              when the training set is smaller */
    unsigned long seed;    /* for gsl_rng_mt19937 (default 1; 0 is GSL's
                              default seed 4357) */
};

/* Limits, so that a bad configuration fails instead of exhausting memory:
 * node indices are 32-bit. */
#define PW_IFOREST_MAX_TREES    100000
#define PW_IFOREST_MAX_PSI      (1u << 24)
#define PW_IFOREST_MAX_FEATURES 65536

/* n_trees 100, psi 256, seed 1. */
void pw_iforest_config_default(struct pw_iforest_config *c);

struct pw_iforest;

/* Grows a forest on the n x d row-major matrix x (borrowed, not kept).
 * Returns NULL and fills err when n or d is 0, d exceeds
 * PW_IFOREST_MAX_FEATURES, a value is NaN or infinite (the message names
 * the first such row and column, 0-based), the configuration is out of
 * range, or memory runs out. */
struct pw_iforest *pw_iforest_fit(const double *x, size_t n, size_t d,
                                  const struct pw_iforest_config *cfg,
                                  struct pw_err *err);

/* Frees f; accepts NULL. */
void pw_iforest_free(struct pw_iforest *f);

size_t pw_iforest_trees(const struct pw_iforest *f);
size_t pw_iforest_features(const struct pw_iforest *f);
/* The subsample size actually used, min(cfg psi, n): c(psi) normalises. */
size_t pw_iforest_psi(const struct pw_iforest *f);
/* Memory held by the forest: nodes (16 B), per-node training counts
 * (4 B), per-tree index (9 B), the struct. */
size_t pw_iforest_bytes(const struct pw_iforest *f);

/* The nodes of tree `tree` and their count; the pointer is valid while f
 * lives. NULL and 0 if tree >= pw_iforest_trees. For tests and
 * inspection. */
const struct pw_iforest_node *pw_iforest_tree(const struct pw_iforest *f,
                                              size_t tree, size_t *n_nodes);

/* The training counts of tree `tree`'s nodes (parallel to
 * pw_iforest_tree), or NULL past the last tree. */
const uint32_t *pw_iforest_tree_counts(const struct pw_iforest *f, size_t tree);

/* A forest from the parts the two functions above give (for the bundle
 * codec): tree_nodes[n_trees] node counts, then the nodes and counts of
 * every tree one after the other (copied). Everything is checked so that
 * scoring a forest read from a file can neither loop nor leave its trees:
 * children strictly forward and inside their tree, features < d at
 * internal nodes and = d at leaves, leaves pointing to themselves with a
 * finite path length >= 0, at most 2 psi - 1 nodes per tree. NULL with err
 * set otherwise. */
struct pw_iforest *pw_iforest_from_parts(size_t n_trees, size_t d, size_t psi,
                                         const struct pw_iforest_node *nodes,
                                         const size_t *tree_nodes, const uint32_t *counts,
                                         struct pw_err *err);

/* c(n) as defined above: 0 for n <= 1, 1 for n = 2, else
 * 2 (ln(n - 1) + 0.5772156649) - 2 (n - 1) / n. */
double pw_iforest_c(double n);

/* E[h(x)]: the mean path length of the d-vector x over the trees. NaN if
 * x holds a NaN (a NaN has no side of a split); +-inf are fine. */
double pw_iforest_path_length(const struct pw_iforest *f, const double *x);

/* s(x) = 2^(-E[h(x)] / c(psi)) in (0, 1]; NaN if x holds a NaN. With
 * psi = 1, c(psi) = 0 and every score is 1 (nothing can be told apart). */
double pw_iforest_score(const struct pw_iforest *f, const double *x);

/* Scores the n x d row-major matrix x into out[n]; rows with a NaN score
 * NaN. Allocates nothing (uses about 33 KB of stack); this is the fast
 * path (bench-iforest). Rows wider than 4095 features are walked one at a
 * time instead, several times slower. */
void pw_iforest_score_batch(const struct pw_iforest *f, const double *x,
                            size_t n, double *out);

/* Which features made x isolate early, as out[d] >= 0 summing to 1.
 * Definition: in tree t, x's path passes k_t splits; split i takes x's
 * group of training points from n_i to n_(i+1) (n_0 = psi, n_k = the
 * leaf's size), i.e. contributes log2(n_i / n_(i+1)) bits of isolation,
 * and the bits of a path add up to log2(psi / n_k). Each split credits
 * its feature with its share of the path's bits times the tree's weight
 * w_t = max(0, c(psi) - h_t): how much shorter than an ordinary point's
 * the path is. So a cut that x passed with the majority earns almost
 * nothing, the cut that split x off earns most, and trees where x was
 * not isolated early do not count. out is normalised by the sum of w_t.
 * If no tree has w_t > 0 (x is ordinary), every tree gets w_t = 1. If no
 * tree has any split (all training points were equal), out is uniform.
 * Reads the per-node training counts, kept beside the nodes (4 bytes a
 * node, never touched by scoring). Returns 0, or -1 with out all NaN if x
 * holds a NaN. */
int pw_iforest_attribute(const struct pw_iforest *f, const double *x,
                         double *out);

/* The union of a's and b's trees (a's first) as a new forest; a and b are
 * borrowed and unchanged. Scores of the result are 2^(-E/c(psi)) with E the
 * mean over all pooled trees, i.e. (t_a E_a + t_b E_b) / (t_a + t_b).
 * Refused (NULL, err says which) when the feature counts differ or the
 * psi actually used differ: a tree's path lengths are on the scale of its
 * own psi (its height limit and leaf terms come from it), and normalising
 * them by another c(psi) would bias the pooled score; retrain one side
 * with the other's psi (or subsample so that min(psi, n) agree). Also NULL
 * if the pooled forest would exceed PW_IFOREST_MAX_TREES or memory runs
 * out. */
struct pw_iforest *pw_iforest_merge(const struct pw_iforest *a,
                                    const struct pw_iforest *b,
                                    struct pw_err *err);

/* ---- Threshold calibration. A point is anomalous iff its score is
 * >= the threshold (pw_iforest_is_anomaly). Both calibrations are pure
 * functions of scores; they copy and sort them (O(n) memory). */

static inline int pw_iforest_is_anomaly(double score, double threshold)
{
    return score >= threshold;
}

/* The threshold that flags the `contamination` share of the given
 * (training) scores: their (1 - contamination) quantile, linearly
 * interpolated between order statistics (numpy's default, which is what
 * scikit-learn's offset_ uses). contamination in (0, 0.5]. Returns 0, or -1
 * with err set for n == 0, a contamination out of range or a NaN score. */
int pw_iforest_threshold_contamination(const double *scores, size_t n,
                                       double contamination,
                                       double *threshold, struct pw_err *err);

struct pw_iforest_calibration {
    double threshold;      /* the lowest score of the flagged set */
    double f1;             /* 2 P R / (P + R) at that threshold */
    double precision;
    double recall;
    size_t flagged;        /* scores >= threshold */
};

/* The threshold that maximises F1 on labelled scores (labels[i] != 0:
 * anomalous). Every distinct score is tried as a threshold (ties are
 * flagged together); on equal F1 the higher threshold wins (fewer alerts).
 * Returns 0, or -1 with err set for n == 0, no positive label, or a NaN
 * score. */
int pw_iforest_threshold_f1(const double *scores, const int *labels, size_t n,
                            struct pw_iforest_calibration *out,
                            struct pw_err *err);

#endif
