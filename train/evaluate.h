/* train/evaluate.h — `pipewatch-train evaluate`: the detector over a corpus
 * in the NAB layout, scored by NAB's rules, and optionally its scores
 * written as NAB's own results/ folder so that NAB's run.py scores them
 * unchanged.
 *
 *   evaluate --nab DIR [--groups G,G] [--json]
 *            [--nab-results OUT [--detector-name NAME]]
 *   evaluate --nab DIR --from-results OUT [--detector-name NAME] [--json]
 *   evaluate --nab DIR --bundle BUNDLE [--json] [--nab-results OUT ...]
 *
 * With --nab-results, for every DIR/data/<group>/<file>.csv it writes
 * OUT/NAME/<group>/NAME_<file>.csv with the header
 * "timestamp,value,anomaly_score,label": one row per input row, the
 * timestamp as NAB writes it ("YYYY-MM-DD HH:MM:SS", UTC), the value and
 * score in the shortest text that reads back to the same double, the score
 * in [0, 1], label 1 inside a labelled window, else 0. NAME defaults to
 * "pipewatch" (letters, digits, '_' and '-' only, as NAB's detector
 * names). --from-results reads such files back instead of running the
 * detector, so the figures can be recomputed from what was written.
 *
 * With --bundle, the scores are the bundle's isolation forest ("IFOR
 * default", which must score one feature: what `fit` writes for CSV and
 * NAB input) on each value, and precision, recall, F1 and AUC at its
 * calibrated threshold ("CALB default") are printed too, a row inside a
 * labelled window counting as a positive ("calibrated" in --json).
 *
 * The detector is models/detector.h with its defaults, run causally: the
 * score of a row depends on that row and the rows before it only. Returns
 * the exit code (0, 1 on any error, 2 on bad usage). */
#ifndef PW_TRAIN_EVALUATE_H
#define PW_TRAIN_EVALUATE_H

int pw_cmd_evaluate(int argc, char **argv);

#endif
