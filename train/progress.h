/* train/progress.h — progress of a long command, for a person or a log.
 *
 * On a terminal (isatty) one line redrawn in place, at most ten times a
 * second: "stage [#######.......]  45%  1234/2742". Otherwise (a pipe, a
 * file, a CI log) plain lines, one when a stage starts, then at most one
 * every 2 seconds, and one at its end, so that a log shows where a run was
 * without filling up. */
#ifndef PW_TRAIN_PROGRESS_H
#define PW_TRAIN_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct pw_progress {
    FILE *out;
    bool tty;
    bool quiet;
    bool drawn;            /* a tty line is on screen */
    char stage[64];
    double last_s;         /* monotonic time of the last output */
};

/* tty: isatty(fileno(out)). quiet: print nothing. */
void pw_progress_init(struct pw_progress *p, FILE *out, bool quiet);
void pw_progress_update(struct pw_progress *p, const char *stage, size_t done, size_t total);
/* Ends a tty line (a newline) so other output starts on its own line. */
void pw_progress_end(struct pw_progress *p);

#endif
