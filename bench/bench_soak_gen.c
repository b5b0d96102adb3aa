/* bench/bench_soak_gen.c — the load source of bench/soak.sh: a command for
 * the agent's exec collector that prints one tick's samples as line
 * protocol and counts them.
 *
 *   bench-soak_gen SERIES COUNT_FILE START_S
 *
 * While a file COUNT_FILE.stop exists it prints nothing and counts nothing
 * (the soak's drain period: the agent goes on running, the load stops).
 *
 * Prints SERIES lines, one numeric field each, so that one line is one
 * point in the agent and one sample in the analyzer: "count in = count out"
 * can then be checked sample for sample. The lines carry no timestamp (the
 * agent stamps them with its tick). After stdout is written and flushed,
 * appends "SERIES\n" to COUNT_FILE in one O_APPEND write, so the sum of
 * that file's lines is exactly what was handed to the agent; a run that
 * could not write all of stdout appends nothing and exits 1.
 *
 * What the series are, so that the analyzer does real work (bench/soak.sh
 * configures a forecast rule on disk.used_percent and the features
 * cpu.usage_iowait, mem.used_percent):
 *   the first 1 %   disk,path=/dN used_percent  rising from 93 at 0.01 to
 *                   0.02 %/s from START_S (the forecast rule watches them;
 *                   with its 2-minute horizon they fire in the first
 *                   minute, so that the analyzer's work is the same from
 *                   then on)
 *   the next 1 %    cpu,cpu=cpuN usage_iowait   noisy around 2
 *   the next 1 %    mem,slot=N used_percent     noisy around 60
 *   the rest        app,id=N value              a slow sine per series
 * Values depend only on the series and the clock, so the generator keeps no
 * state between runs. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long hash(unsigned long x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdUL;
    x ^= x >> 33;
    return x;
}

/* Noise in [-1, 1), different per series and per 100 ms. */
static double noise(long series, double t)
{
    return (double)(hash((unsigned long)series * 1000003UL + (unsigned long)(t * 10)) % 2000) /
               1000.0 - 1.0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench-soak_gen SERIES COUNT_FILE START_S\n");
        return 2;
    }
    long series = atol(argv[1]);
    double start = atof(argv[3]);
    if (series < 1 || series > 10000000) {
        fprintf(stderr, "bench-soak_gen: SERIES must be 1 to 10000000\n");
        return 2;
    }
    char stop[4096];
    snprintf(stop, sizeof stop, "%s.stop", argv[2]);
    if (access(stop, F_OK) == 0)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + ts.tv_nsec / 1e9, age = t - start;
    long band = series / 100 > 0 ? series / 100 : 1;
    static char buf[1 << 16];
    setvbuf(stdout, buf, _IOFBF, sizeof buf);
    for (long i = 0; i < series; i++) {
        if (i < band)
            printf("disk,path=/d%ld used_percent=%.4f\n", i,
                   93.0 + (0.01 + 0.01 * (double)i / (double)band) * age + 0.05 * noise(i, t));
        else if (i < 2 * band)
            printf("cpu,cpu=cpu%ld usage_iowait=%.4f\n", i - band, 2.0 + noise(i, t));
        else if (i < 3 * band)
            printf("mem,slot=%ld used_percent=%.4f\n", i - 2 * band, 60.0 + 5 * noise(i, t));
        else
            printf("app,id=%ld value=%.4f\n", i,
                   100.0 + 10.0 * sin(t / 60.0 + (double)i) + noise(i, t));
    }
    if (fflush(stdout) != 0 || ferror(stdout))
        return 1;
    int fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0)
        return 1;
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", series);
    int ok = write(fd, line, (size_t)n) == n;
    close(fd);
    return ok ? 0 : 1;
}
