/* models/nabdata.h — reading a corpus in the NAB layout.
 *
 * NAB keeps series as `data/<group>/<file>.csv` (columns timestamp,value;
 * timestamps "YYYY-MM-DD HH:MM:SS", UTC) and their anomaly windows in
 * `labels/combined_windows.json` ({"<group>/<file>.csv": [[start, end],
 * ...]}). This loads such a directory (the one holding data/ and labels/)
 * for evaluation and retraining; every malformed line or label is an error
 * naming the file and line. */
#ifndef PW_MODELS_NABDATA_H
#define PW_MODELS_NABDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct pw_nab_series {
    char *name;                /* "<group>/<file>.csv" */
    int64_t *ts;               /* seconds since the epoch, in file order */
    double *values;
    size_t n;
    size_t nonincreasing;      /* rows whose timestamp is not after the
                                  previous row's: kept in file order, as
                                  NAB's scorer keeps them */
    int64_t (*windows)[2];     /* [start, end] in seconds, inclusive */
    size_t nwindows;
};

struct pw_nab_corpus {
    struct pw_nab_series *series;
    size_t n;
    bool labelled;             /* labels/combined_windows.json was there */
};

/* Loads every data/<group>/<file>.csv under nab_dir whose group is in `groups`
 * (NULL-terminated; NULL for all groups), sorted by name, with their
 * windows (a file absent from the labels has none; without a labels file
 * at all, none has any and `labelled` is false). On error returns -1 with
 * err set and *out empty. */
int pw_nab_load(const char *nab_dir, const char *const *groups,
                struct pw_nab_corpus *out, struct pw_err *err);

void pw_nab_corpus_free(struct pw_nab_corpus *c);

/* Parses "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) into seconds. 0 or -1. */
int pw_nab_parse_time(const char *text, int64_t *out);

#endif
