/* models/logclass.h — a category classifier for log lines: multinomial
 * naive Bayes with Laplace smoothing over the words and word bigrams of
 * the masked line.
 *
 * Why: an operator wants "out of memory on 12 executors", not 12 raw
 * stack traces; a category per line (out_of_memory, disk_full, network,
 * ...) is what the analyzer counts and alerts on. Naive Bayes learns from
 * a few hundred labelled lines, trains in one pass, predicts with a few
 * table look-ups per word and is easy to read back from its counts.
 *
 * Features: the line is masked (logtok.h), lowercased and cut into words
 * (runs of letters, digits and '_'; a placeholder is one word, "<num>");
 * every word and every pair of neighbouring words is a feature. Features
 * are kept as 64-bit FNV-1a hashes (the words are not stored): a bigram is
 * hash(word1 + ' ' + word2). Features unseen in training are ignored.
 *
 * The category set belongs to the model: names are given with the
 * training examples and stored in the model, ordered by first appearance.
 *
 * Posteriors: naive Bayes is over-confident on long lines (it counts
 * correlated features as independent evidence), so treat prob as a
 * ranking score more than a calibrated probability.
 *
 * Serialised form (pw_logclass_write / pw_logclass_read): text, so
 * endian-safe, versioned by its first line, and closed by a checksum:
 *
 *     pw-logclass 1
 *     alpha <laplace alpha, %.17g>
 *     bigrams <0|1>
 *     categories <K>
 *     <name>\t<training lines>\t<feature count>           K lines
 *     features <V>
 *     <16 hex digits: feature hash> <count_1> ... <count_K>   V lines
 *     end <16 hex digits: FNV-1a 64 of every byte before "end">
 *
 * A reader checks every field, the counts against the totals and the
 * checksum: a truncated or altered model is an error, never a crash or a
 * silently different classifier. Another container can embed these bytes
 * (open_memstream / fmemopen give a FILE * over a buffer).
 *
 * A trained model is immutable: prediction is thread-safe. */
#ifndef PW_MODELS_LOGCLASS_H
#define PW_MODELS_LOGCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/err.h"
#include "models/logtok.h"

#define PW_LOGCLASS_MAX_CATEGORIES 64
#define PW_LOGCLASS_MAX_NAME 63        /* bytes in a category name */

struct pw_logclass_config {
    double alpha;     /* additive smoothing, > 0; 1 is Laplace's rule.
                         Default 0.1: on BGL (5-fold cross-validation,
                         bench-tagger bgl) alpha 1 gives alert precision
                         0.75 (F1 0.86), 0.1 gives 0.94 (F1 0.96): with a
                         few short lines in a category, alpha 1 lends
                         every unseen word of a long normal line too much
                         weight in the small category */
    bool bigrams;     /* use word pairs as well as words, default true */
};

void pw_logclass_config_default(struct pw_logclass_config *c);

/* One labelled training line (both borrowed). */
struct pw_logclass_example {
    const char *category;
    const char *line;
};

struct pw_logclass;

/* Trains a model from n examples (borrowed; the model keeps no pointer to
 * them). Errors (NULL, err set): no examples, an empty or over-long
 * category name or one with a tab or newline, more than
 * PW_LOGCLASS_MAX_CATEGORIES categories, fewer than 2 categories, a bad
 * config, no memory. */
struct pw_logclass *pw_logclass_train(const struct pw_logclass_example *ex,
                                      size_t n,
                                      const struct pw_logclass_config *cfg,
                                      struct pw_err *err);

/* Trains from a file of "category<TAB>line" rows; blank rows and rows
 * starting with '#' are skipped; a row without a tab is an error naming
 * the file and row. */
struct pw_logclass *pw_logclass_train_tsv(const char *path,
                                          const struct pw_logclass_config *cfg,
                                          struct pw_err *err);

void pw_logclass_free(struct pw_logclass *m);

size_t pw_logclass_ncategories(const struct pw_logclass *m);

/* The name of category i, or NULL if i is out of range. */
const char *pw_logclass_category(const struct pw_logclass *m, size_t i);

/* Index of the category named name, or -1. */
int pw_logclass_find(const struct pw_logclass *m, const char *name);

/* Classifies a masked line: returns the most probable category's index
 * and, if prob is not NULL, its posterior probability; if post is not
 * NULL it receives all K posteriors (K = pw_logclass_ncategories). A line
 * with no known feature gets the prior. Never fails, never allocates. */
size_t pw_logclass_predict_masked(const struct pw_logclass *m,
                                  const struct pw_logtok_line *line,
                                  double *prob, double *post);

/* The same for a raw line (masks it first; uses about 6 KB of stack). */
size_t pw_logclass_predict(const struct pw_logclass *m, const char *line,
                           size_t len, double *prob, double *post);

/* Writes the model in the format above. 0, or -1 with err set on an I/O
 * error. */
int pw_logclass_write(const struct pw_logclass *m, FILE *f,
                      struct pw_err *err);

/* Reads a model written by pw_logclass_write from the current position
 * of f (reads up to and including the "end" line). NULL with err set on a
 * truncated, corrupt or unknown-version input, or no memory. */
struct pw_logclass *pw_logclass_read(FILE *f, struct pw_err *err);

#endif
