/* bench/bench_nab.c — the detector (models/detector.h) over a corpus in
 * the NAB layout, scored by NAB's rules (models/nab.h): the three profile
 * scores, and per file which windows were found and how early, and the
 * false positives.
 *
 *   bench-nab [NAB_DIR]     default: $PW_SHARED_DIR/nab, else ../shared/data/nab
 *
 * One configuration for every file (pw_detector_config_default). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/detector.h"
#include "models/nab.h"
#include "models/nabdata.h"

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int in_window(const struct pw_nab_series *s, size_t i)
{
    for (size_t w = 0; w < s->nwindows; w++)
        if (s->ts[i] >= s->windows[w][0] && s->ts[i] <= s->windows[w][1])
            return (int)w;
    return -1;
}

int main(int argc, char **argv)
{
    char dir[1024];
    const char *shared = getenv("PW_SHARED_DIR");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/nab", shared ? shared : "../shared/data");
    struct pw_nab_corpus c;
    struct pw_err err = {{0}};
    if (pw_nab_load(dir, NULL, &c, &err) < 0) {
        fprintf(stderr, "bench-nab: %s\n", err.msg);
        return 1;
    }
    struct pw_detector_config cfg;
    pw_detector_config_default(&cfg);
    struct pw_nab_file *files = calloc(c.n, sizeof *files);
    size_t rows = 0;
    double t0 = cpu_s();
    for (size_t f = 0; f < c.n; f++) {
        const struct pw_nab_series *s = &c.series[f];
        double *scores = malloc(s->n * sizeof *scores);
        struct pw_detector *d = pw_detector_new(&cfg, &err);
        if (!d || !scores) {
            fprintf(stderr, "bench-nab: %s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; i < s->n; i++)
            pw_detector_push(d, (double)s->ts[i], s->values[i], &scores[i], NULL);
        pw_detector_free(d);
        rows += s->n;
        files[f] = (struct pw_nab_file){s->ts, scores, s->n,
                                        (const int64_t(*)[2])s->windows, s->nwindows};
    }
    double elapsed = cpu_s() - t0;
    printf("corpus: %s, %zu files, %zu rows; detector %.2f s CPU (%.0f rows/s)\n\n", dir, c.n,
           rows, elapsed, (double)rows / elapsed);
    printf("%-20s %10s %10s %9s %6s\n", "profile", "score", "threshold", "windows", "FP");
    double threshold = 0;
    for (int p = 0; p < 3; p++) {
        struct pw_nab_result r;
        if (pw_nab_score(files, c.n, &pw_nab_profiles[p], &r, &err) < 0) {
            fprintf(stderr, "bench-nab: %s\n", err.msg);
            return 1;
        }
        if (p == 0)
            threshold = r.threshold;
        printf("%-20s %10.1f %10.4f %4zu/%-4zu %6zu\n", pw_nab_profiles[p].name, r.normalized,
               r.threshold, r.windows_detected, r.windows, r.false_positives);
    }
    printf("\nper file at the standard threshold (window: first detection's position "
           "in it, 0 = left edge):\n");
    for (size_t f = 0; f < c.n; f++) {
        const struct pw_nab_series *s = &c.series[f];
        size_t probation = pw_nab_probation(s->n), fp = 0;
        printf("  %-56s", s->name);
        long first[64];
        for (size_t w = 0; w < 64; w++)
            first[w] = -1;
        for (size_t i = probation; i < s->n; i++) {
            if (files[f].scores[i] < threshold)
                continue;
            int w = in_window(s, i);
            if (w < 0)
                fp++;
            else if (w < 64 && first[w] < 0)
                first[w] = (long)i;
        }
        for (size_t w = 0; w < s->nwindows && w < 64; w++) {
            size_t l = 0, r = 0;
            bool seen = false;
            for (size_t i = 0; i < s->n; i++)
                if (in_window(s, i) == (int)w) {
                    l = seen ? l : i;
                    r = i;
                    seen = true;
                }
            if (first[w] >= 0)
                printf(" W%zu@%.2f", w, (double)((size_t)first[w] - l) / (double)(r - l + 1));
            else
                printf(" W%zu-miss", w);
        }
        printf(" FP %zu\n", fp);
        free((void *)files[f].scores);
    }
    free(files);
    pw_nab_corpus_free(&c);
    return 0;
}
