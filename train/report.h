/* train/report.h — `pipewatch-train report`: one self-contained HTML page
 * (inline CSS and SVG, no script, no external asset) over the inputs
 * evaluate and fit read.
 *
 *   report --out PAGE.html [--nab DIR | --from FILE...] [--metric M.F]
 *          [--bundle BUNDLE] [--threshold T] [--max-series N]
 *          [--tagger-tsv FILE | --loghub-csv FILE [--normal-label L]]
 *          [--holdout SHARE] [--seed N] [--title TEXT]
 *
 * For each series (at most --max-series, default 40): the data; the
 * forecast band (Holt-Winters one step ahead +- 1.96 sd, with the bundle's
 * model for the metric, else its "default", else one fitted on the
 * series); the anomaly score (the bundle's isolation forest when it scores
 * one feature, with its calibrated threshold; otherwise the streaming
 * detector of `evaluate`, threshold --threshold, default 0.5); the
 * labelled windows; the detections (score >= threshold). With a tagger
 * input, the log classifier is trained on a seeded shuffle as `tagger`
 * does and the held-out share's confusion matrix is drawn. The page is
 * written to PAGE.html.tmp and renamed. Exit 0, 1 on error, 2 on usage. */
#ifndef PW_TRAIN_REPORT_H
#define PW_TRAIN_REPORT_H

int pw_cmd_report(int argc, char **argv);

#endif
