/* bench/bench_holtwinters.c — what Holt-Winters costs: online updates per
 * second on one core (one hot series, and many series round-robin from
 * flat array of states, the way the analyzer holds them), bytes per
 * series (the state, season included, for any period), and the
 * time to fit and to detect the period of a two-week window of 5-minute
 * samples. Not a test: it prints figures. Data is synthetic (a daily sine,
 * a slow trend and deterministic pseudo-random noise), so the figures do
 * not depend on the shared data.
 *
 *   ./build/bench/bench-holtwinters [SERIES [PERIOD [SAMPLES]]]
 *
 * defaults: 100000 series, period 48, 50 000 000 samples per case. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/holtwinters.h"

#define T0 1700000000.0
#define NVALUES 4096            /* a small table: no RNG in the timed loop */

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t lcg = 88172645463325252u;
static double noise(void)           /* uniform in [-1, 1) */
{
    lcg = lcg * 6364136223846793005u + 1442695040888963407u;
    return (double)(lcg >> 11) / (double)(1ull << 52) - 1;
}

static void synth(double *y, size_t n, uint32_t period)
{
    for (size_t i = 0; i < n; i++)
        y[i] = 100 + 0.001 * i + 20 * sin(2 * M_PI * i / (period ? period : 288))
               + 3 * noise();
}

/* Updates round-robin over nseries series, `samples` in all. */
static int run_updates(uint32_t period, size_t nseries, size_t samples)
{
    struct pw_hw_model m;
    pw_hw_model_default(&m, period, 60, true);
    struct pw_hw_state *st = malloc(nseries * sizeof *st);
    double *vals = malloc(NVALUES * sizeof *vals);
    if (!st || !vals) {
        fprintf(stderr, "bench-holtwinters: out of memory for %zu series\n",
                nseries);
        return -1;
    }
    synth(vals, NVALUES, period);
    for (size_t i = 0; i < nseries; i++)
        pw_hw_init(&st[i], &m);
    size_t rounds = samples / nseries ? samples / nseries : 1;
    /* Warm-up round: first samples, page faults. */
    for (size_t i = 0; i < nseries; i++)
        pw_hw_update(&st[i], &m, T0, vals[i % NVALUES], NULL);
    double t0 = cpu_s();
    for (size_t r = 1; r <= rounds; r++) {
        double ts = T0 + (double)r * m.step_s;
        for (size_t i = 0; i < nseries; i++)
            pw_hw_update(&st[i], &m, ts, vals[(r + i) % NVALUES], NULL);
    }
    double dt = cpu_s() - t0, sum = 0;
    for (size_t i = 0; i < nseries; i++)
        sum += st[i].level;
    size_t per = sizeof *st;
    printf("updates: %7zu series x %5zu rounds, m %4u (K %2u): %6.1f M "
           "samples/s (%5.1f ns each), %5zu B/series, %7.1f MB in all "
           "[check %.3g]\n",
           nseries, rounds, period, pw_hw_knots(&m),
           rounds * nseries / dt / 1e6,
           dt / (rounds * nseries) * 1e9, per, per * nseries / 1e6,
           sum / nseries);
    free(st);
    free(vals);
    return 0;
}

static void run_fit(uint32_t period, bool damped, const double *y, size_t n,
                    int reps)
{
    struct pw_hw_model m;
    struct pw_hw_fit_result r = {0};
    struct pw_err err = {{0}};
    double t0 = cpu_s();
    for (int i = 0; i < reps; i++) {
        pw_hw_model_default(&m, period, 300, damped);
        if (pw_hw_fit(&m, y, n, &r, &err) < 0) {
            fprintf(stderr, "bench-holtwinters: %s\n", err.msg);
            return;
        }
    }
    double dt = (cpu_s() - t0) / reps;
    printf("fit: %zu samples (2 weeks of 5 min), m %3u, %s: %7.2f ms, "
           "%zu iterations, MSE %.3g -> %.3g\n", n, period,
           damped ? "damped  " : "undamped", dt * 1e3, r.iterations,
           r.mse_start, r.mse);
}

int main(int argc, char **argv)
{
    size_t nseries = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    uint32_t period = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 48;
    size_t samples = argc > 3 ? strtoul(argv[3], NULL, 10) : 50000000;
    if (nseries == 0 || period == 1 || period > PW_HW_MAX_PERIOD ||
        samples == 0) {
        fprintf(stderr, "usage: bench-holtwinters [SERIES [PERIOD "
                        "[SAMPLES]]]\n");
        return 2;
    }
    /* The season is inside the state (K = min(m, PW_HW_SEASON_KNOTS)
     * knots), so the bytes per series do not depend on m. */
    uint32_t ms[] = {0, 24, 48, 288, 2016};
    printf("bytes per series = sizeof(struct pw_hw_state), season "
           "included:");
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        struct pw_hw_model dm;
        pw_hw_model_default(&dm, ms[i], 60, false);
        printf(" m %u (K %u): %zu B%s", ms[i], pw_hw_knots(&dm),
               sizeof(struct pw_hw_state),
               i + 1 < sizeof ms / sizeof ms[0] ? "," : "\n");
    }
    if (run_updates(period, 1, samples) < 0 ||
        run_updates(period, nseries, samples) < 0 ||
        run_updates(0, nseries, samples) < 0 ||
        run_updates(288, nseries / 10 ? nseries / 10 : 1, samples) < 0)
        return 1;

    size_t n = 14 * 288;
    double *y = malloc(n * sizeof *y);
    if (!y)
        return 1;
    synth(y, n, 288);
    run_fit(288, false, y, n, 5);
    run_fit(288, true, y, n, 5);
    run_fit(0, true, y, n, 5);
    struct pw_hw_period p;
    double t0 = cpu_s();
    for (int i = 0; i < 5; i++)
        pw_hw_detect_period(y, n, 600, &p, NULL);
    printf("period detection: %zu samples, lags <= 600: %.2f ms, found %u\n",
           n, (cpu_s() - t0) / 5 * 1e3, p.period);
    free(y);
    return 0;
}
