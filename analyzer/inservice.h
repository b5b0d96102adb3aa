/* analyzer/inservice.h — the models of one bundle, decoded for the engine.
 *
 * A bundle (models/bundle.h) holds encoded sections; the engine wants
 * live models (analyzer/engine.h, struct pw_engine_models). This module
 * decodes a bundle's sections once, owns the results, and is swapped
 * whole: the analyzer loads the new bundle into a fresh pw_inservice,
 * hands its models to the engine, and only then frees the old one, so a
 * bad bundle never replaces a good one.
 *
 * What is taken from the bundle (models/codec.h):
 *   HWIN <metric>    a Holt-Winters model for the series of that
 *                    measurement.field ("default": all others);
 *   IFOR <class>     the isolation forest ("default", else the first);
 *   CALB <class>     its calibrated anomaly threshold (codec.h);
 *   NBAY <name>      the log classifier (the first).
 * Unknown sections are ignored (a newer pipewatch-train may write more). */
#ifndef PW_ANALYZER_INSERVICE_H
#define PW_ANALYZER_INSERVICE_H

#include "analyzer/engine.h"
#include "common/err.h"
#include "common/sha256.h"
#include "models/bundle.h"

struct pw_inservice {
    struct pw_engine_models models;      /* borrowed from the fields below */
    struct pw_iforest *forest;
    struct pw_logclass *logclass;
    struct pw_hw_model *hw;
    char **hw_names;
    char digest_hex[PW_SHA256_HEX_LEN + 1];
    char *trained_on;
};

/* Decodes b. 0, or -1 with err naming the section at fault (out is then
 * empty). */
int pw_inservice_from_bundle(const struct pw_bundle *b, struct pw_inservice *out,
                             struct pw_err *err);

/* Loads the bundle in service in a models directory (models/store.h),
 * after verifying the directory (every digest, the parent chain). Returns
 * 0; 1 when nothing is in service (out empty); -1 with err. */
int pw_inservice_load_dir(const char *dir, struct pw_inservice *out,
                          struct pw_err *err);

void pw_inservice_release(struct pw_inservice *s);

#endif
