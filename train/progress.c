/* train/progress.c — see progress.h. */
#include "train/progress.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void pw_progress_init(struct pw_progress *p, FILE *out, bool quiet)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->quiet = quiet;
    p->tty = isatty(fileno(out)) == 1;
    p->last_s = -1e9;
}

void pw_progress_update(struct pw_progress *p, const char *stage, size_t done, size_t total)
{
    if (p->quiet)
        return;
    bool new_stage = strcmp(stage, p->stage) != 0;
    double now = mono_s();
    bool end = total && done >= total;
    if (!new_stage && !end && now - p->last_s < (p->tty ? 0.1 : 2.0))
        return;
    if (new_stage && p->tty && p->drawn)
        fputc('\n', p->out);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    p->last_s = now;
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 0;
    if (p->tty) {
        char bar[31];
        int fill = total ? (int)(30.0 * (double)done / (double)total) : 0;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(p->out, "\r\033[K%-18s [%s] %3d%%  %zu/%zu", stage, bar, pct, done, total);
        p->drawn = true;
    } else {
        fprintf(p->out, "pipewatch-train: %s: %zu/%zu (%d%%)\n", stage, done, total, pct);
    }
    fflush(p->out);
}

void pw_progress_end(struct pw_progress *p)
{
    if (p->tty && p->drawn && !p->quiet) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = false;
}
