/* models/tagger.h — the log tagger: for each log line, its template (an id
 * and a text, mined online) and its category (with a probability).
 *
 * Why: the analyzer turns a stream of log lines into counts per event and
 * per kind of failure. This is the one call it makes per line; the parts
 * are modules with one job each, usable alone:
 *   logtok.h    tokenizing and masking variables ("<NUM>", "<IP>", ...)
 *   drain.h     template mining (Drain, with the departures it lists)
 *   logclass.h  the category classifier (naive Bayes) and its file format
 * A line is masked once and both the miner and the classifier read the
 * masked form.
 *
 * The default model: pw_tagger_default_model trains the classifier at
 * startup from models/data/tagger_default.tsv (a few hundred hand-written
 * "category<TAB>line" rows for data-pipeline failures; about 1 ms). The
 * categories are normal, out_of_memory, disk_full, network, timeout,
 * permission, crash, data.
 *
 * Not thread-safe (the miner learns): one struct pw_tagger per thread. A
 * line costs no allocation unless it brings a new token or template. */
#ifndef PW_MODELS_TAGGER_H
#define PW_MODELS_TAGGER_H

#include <stddef.h>

#include "common/err.h"
#include "models/drain.h"
#include "models/logclass.h"

/* Where the default training file lives in the source tree. */
#define PW_TAGGER_DEFAULT_TSV "models/data/tagger_default.tsv"

struct pw_tagger;

/* A tagger mining with cfg (NULL: pw_drain_config_default) and
 * classifying with model (borrowed: it must outlive the tagger; NULL: no
 * classification, every tag's category is NULL). NULL with err set on a
 * bad config or no memory. */
struct pw_tagger *pw_tagger_new(const struct pw_drain_config *cfg,
                                const struct pw_logclass *model,
                                struct pw_err *err);
void pw_tagger_free(struct pw_tagger *t);

struct pw_tag {
    long template_id;        /* >= 0, see drain.h: stable, small */
    const char *category;    /* owned by the model; NULL without a model */
    size_t category_index;
    double prob;             /* posterior of category (0 without a model) */
};

/* Tags line[0..len). 0, or -1 with err set when memory runs out (the
 * tag is then unset). */
int pw_tagger_tag(struct pw_tagger *t, const char *line, size_t len,
                  struct pw_tag *tag, struct pw_err *err);

/* Template text of id (see pw_drain_template). */
size_t pw_tagger_template(const struct pw_tagger *t, size_t id, char *buf,
                          size_t size);

/* The miner, for counts (borrowed, lives as long as t). */
const struct pw_drain *pw_tagger_drain(const struct pw_tagger *t);

/* Trains the default classifier from the TSV at path (normally
 * <source>/PW_TAGGER_DEFAULT_TSV, or wherever it is installed) with the
 * default logclass config. The caller frees it with pw_logclass_free. */
struct pw_logclass *pw_tagger_default_model(const char *path,
                                            struct pw_err *err);

#endif
