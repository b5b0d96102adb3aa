/* train/fit_cmd.h — `pipewatch-train fit`: fits the models the analyzer
 * serves (train/fit.h) on history from files or a Kafka topic
 * (train/history.h) and writes a bundle whose parent is the bundle in
 * service.
 *
 *   fit --from FILE... | --nab DIR | --brokers LIST --topic T --since 7d
 *       --out BUNDLE [--models-dir DIR | --parent BUNDLE]
 *       [--features M.F,... | --analyzer-config FILE] [--metric M.F]
 *       [--entity-tag TAG] [--class-tag TAG] [--contamination C]
 *       [--trees N] [--seed N] [--max-train N] [--timeout-ms MS] [--quiet]
 *
 * CSV and NAB input is one series per file, entity = the file name,
 * metric = --metric (default "series.value"); without features, the forest
 * is then fitted over that metric alone. Progress on stderr (a bar on a
 * terminal, plain lines otherwise). Exit 0; 1 on any error (a clear
 * sentence on stderr, no bundle written); 2 on bad usage; 130 when
 * interrupted (SIGINT/SIGTERM), with no bundle written. */
#ifndef PW_TRAIN_FIT_CMD_H
#define PW_TRAIN_FIT_CMD_H

int pw_cmd_fit(int argc, char **argv);

#endif
