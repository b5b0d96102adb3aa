/* models/loghubdata.h — reading a LogHub `<S>_2k.log_structured.csv`.
 *
 * Why: the log tagger is evaluated (bench-tagger) and regression-tested
 * (test_tagger) against LogHub's hand-labelled samples, and both need the
 * same three columns: Content (the message with the header fields parsed
 * away: what the miner sees), EventId (the ground-truth template) and, for
 * BGL, Label ("-" normal, else an alert category). The file is RFC 4180 CSV
 * (quoted fields, "" for a quote), read strictly: a malformed record is an
 * error naming the file and record. */
#ifndef PW_MODELS_LOGHUBDATA_H
#define PW_MODELS_LOGHUBDATA_H

#include <stddef.h>

#include "common/err.h"

struct pw_loghub_line {
    char *content;     /* the Content column */
    char *event_id;    /* EventId, e.g. "E77" */
    char *label;       /* Label column, NULL when the file has none */
};

struct pw_loghub {
    struct pw_loghub_line *lines;   /* in file order */
    size_t n;
};

/* Loads `<dir>/<system>/<system>_2k.log_structured.csv` (dir is the
 * directory holding the system folders). Returns 0, or -1 with err set and
 * *out empty. */
int pw_loghub_load(const char *dir, const char *system, struct pw_loghub *out,
                   struct pw_err *err);

/* The same for a structured CSV at any path. */
int pw_loghub_load_file(const char *path, struct pw_loghub *out, struct pw_err *err);

/* Frees what pw_loghub_load allocated; accepts an empty or zeroed *l. */
void pw_loghub_free(struct pw_loghub *l);

/* Grouping accuracy (Zhu et al., ICSE-SEIP 2019): the share of the n lines
 * whose predicted group (pred[i], any integer id) holds exactly the same
 * set of lines as their ground-truth group (truth[i], any string).
 * Returns a value in [0, 1]; 0 for n = 0 or out of memory. */
double pw_loghub_grouping_accuracy(const char *const *truth,
                                   const unsigned *pred, size_t n);

#endif
