/* train/main.c — pipewatch-train, the offline retraining CLI: a table of
 * subcommands, each in its own file. */
#include <stdio.h>
#include <string.h>

#include "train/bundle_cmds.h"
#include "train/evaluate.h"
#include "train/fit_cmd.h"
#include "train/report.h"
#include "train/tagger_cmd.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"evaluate", pw_cmd_evaluate, "evaluate --nab DIR [--nab-results OUT] [--json]   the detector on a NAB-layout corpus, scored by NAB's rules"},
    {"fit", pw_cmd_fit, "fit (--from FILE... | --nab DIR | --brokers B --topic T --since 7d) --out BUNDLE [--models-dir DIR]   fit the analyzer's models"},
    {"report", pw_cmd_report, "report --out PAGE.html [--nab DIR | --from FILE...] [--bundle B] [--tagger-tsv F]   one HTML page: data, forecast band, scores, windows, detections"},
    {"tagger", pw_cmd_tagger, "tagger (--tsv F | --loghub-csv F) [--holdout S] [--out BUNDLE]   train and score the log classifier"},
    {"inspect", pw_cmd_inspect, "inspect [--json] BUNDLE    what a bundle holds and where it came from"},
    {"diff", pw_cmd_diff, "diff BUNDLE BUNDLE          what changed between two bundles (exit 1 if anything)"},
    {"verify", pw_cmd_verify, "verify DIR                  every checksum and the parent chain of a models directory"},
    {"promote", pw_cmd_promote, "promote --models-dir DIR [--force] BUNDLE   put a bundle in service, atomically"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: pipewatch-train COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("pipewatch-train %s\n", PW_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pipewatch-train: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
