/* bench/bench_collector.c — CPU time of one collector's collection, part by
 * part: runs the named collector N times with each of its boolean options
 * switched on alone (and once with its whole default configuration) and
 * prints CPU per collection. Not a test: it prints figures.
 *
 *   ./build/bench/bench-collector host 200 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/collector.h"
#include "common/config.h"
#include "common/lineproto.h"

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int run(const struct pw_collector_ops *ops, const char *yaml, int n,
               const char *label)
{
    struct pw_err err;
    void *conf = calloc(1, ops->config_size);
    if (pw_config_load_string("bench", yaml, strlen(yaml), ops->options, conf, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    struct pw_collector c = {.ops = ops, .config = conf};
    if (ops->start(&c, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    ops->collect(&c, 0, &w, &err);   /* warm-up: first readings, caches */
    size_t points = 0, bytes = 0;
    double t0 = cpu_ms();
    for (int i = 0; i < n; i++) {
        pw_lp_writer_reset(&w);
        ops->collect(&c, 0, &w, &err);
        points += w.points;
        bytes += w.buf.len;
    }
    double per = (cpu_ms() - t0) / n;
    printf("%-12s %8.3f ms CPU per collection, %5.1f points, %6.0f bytes\n", label,
           per, (double)points / n, (double)bytes / n);
    pw_lp_writer_release(&w);
    ops->stop(&c);
    pw_config_release(ops->options, conf);
    free(conf);
    return 0;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "host";
    int n = argc > 2 ? atoi(argv[2]) : 200;
    const struct pw_collector_ops *ops = pw_collector_find(name);
    if (!ops || n <= 0) {
        fprintf(stderr, "usage: bench-collector NAME [N]\n");
        return 2;
    }
    printf("collector %s, %d collections each\n", name, n);
    if (run(ops, "{}", n, "(all)") < 0)
        return 1;
    for (const struct pw_option *o = ops->options; o->name; o++) {
        if (o->type != PW_OPT_BOOL || strcmp(o->name, "enabled") == 0)
            continue;
        char yaml[1024] = "{";
        for (const struct pw_option *q = ops->options; q->name; q++)
            if (q->type == PW_OPT_BOOL && strcmp(q->name, "enabled") != 0)
                snprintf(yaml + strlen(yaml), sizeof yaml - strlen(yaml), "%s: %s, ",
                         q->name, q == o ? "true" : "false");
        strcat(yaml, "}");
        if (run(ops, yaml, n, o->name) < 0)
            return 1;
    }
    return 0;
}
