/* train/tagger_cmd.h — `pipewatch-train tagger`: trains the log category
 * classifier from labelled lines, scores it on a held-out share, and
 * writes it into a bundle.
 *
 *   tagger (--tsv FILE | --loghub-csv FILE [--normal-label L])
 *          [--holdout SHARE] [--seed N] [--out BUNDLE [--parent BUNDLE]] [--json]
 *
 * --tsv reads "category<TAB>line" rows (blank and '#' rows skipped);
 * --loghub-csv a LogHub structured CSV with a Label column (its "-" is
 * normal, renamed to L, default "normal"). The lines are shuffled with the
 * seed (default 1) and the last SHARE of them (default 0.2; 0 = none) held
 * out; the model is trained on the rest and that model is the one
 * written: the figures printed are those of what ships. Per category:
 * support, precision, recall, F1 on the held-out lines; macro averages;
 * accuracy. The bundle holds one "NBAY" section named "default", the input
 * file's SHA-256 as fingerprint, and the parent's digest when given.
 * Returns the exit code (0, 1 on error, 2 on bad usage). */
#ifndef PW_TRAIN_TAGGER_CMD_H
#define PW_TRAIN_TAGGER_CMD_H

int pw_cmd_tagger(int argc, char **argv);

#endif
