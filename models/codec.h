/* models/codec.h — how each model is stored inside a bundle section.
 *
 * One place knows every model's bytes, so that a bundle's sections can be
 * read back and checked by one loader (and fuzzed as one). The section
 * kinds and their layouts, little-endian (common/bytes.h), each starting
 * with a u32 layout version:
 *
 *   "HWIN"  Holt-Winters model (a metric class's parameters): version 1,
 *           f64 alpha, beta, gamma, phi, u32 period, u8 damped, f64 step_s,
 *           max_gap_steps, var_weight.
 *   "IFOR"  isolation forest: version 1, u64 trees, features, psi, then
 *           u64 node count per tree, then every node (f64 split, u32
 *           feature, u32 child) and every node's u32 training count.
 *   "CALB"  an anomaly threshold calibrated for the isolation forest of the
 *           same name: version 1, f64 threshold in (0, 1].
 *   "NBAY"  log category classifier: version 1, u64 length, then the text
 *           pw_logclass_write produces (already versioned and checksummed).
 *
 * Decoders check everything (the model's own validation included) and
 * refuse trailing bytes; a NULL or -1 return always comes with err set. */
#ifndef PW_MODELS_CODEC_H
#define PW_MODELS_CODEC_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "models/holtwinters.h"
#include "models/iforest.h"
#include "models/logclass.h"

#define PW_CODEC_HW_KIND "HWIN"
#define PW_CODEC_IFOREST_KIND "IFOR"
#define PW_CODEC_LOGCLASS_KIND "NBAY"
#define PW_CODEC_CALIB_KIND "CALB"

void pw_codec_put_hw_model(struct pw_buf *b, const struct pw_hw_model *m);
int pw_codec_get_hw_model(const void *data, size_t len, struct pw_hw_model *m,
                          struct pw_err *err);

void pw_codec_put_calibration(struct pw_buf *b, double threshold);
int pw_codec_get_calibration(const void *data, size_t len, double *threshold,
                             struct pw_err *err);

void pw_codec_put_iforest(struct pw_buf *b, const struct pw_iforest *f);
struct pw_iforest *pw_codec_get_iforest(const void *data, size_t len, struct pw_err *err);

/* 0, or -1 with err set (out of memory, or the writer failed). */
int pw_codec_put_logclass(struct pw_buf *b, const struct pw_logclass *m, struct pw_err *err);
struct pw_logclass *pw_codec_get_logclass(const void *data, size_t len, struct pw_err *err);

#endif
