/* analyzer/main.c — pipewatch-analyzer: the command line, signals and
 * systemd. Everything else is in analyzer.c. Signal handlers set flags;
 * the loop acts on them. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <systemd/sd-daemon.h>

#include "analyzer/analyzer.h"
#include "analyzer/config.h"
#include "common/clock.h"
#include "common/log.h"

#define DEFAULT_CONFIG "/etc/pipewatch/analyzer.yaml"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig) { (void)sig; stop_requested = 1; }
static void on_reload(int sig) { (void)sig; reload_requested = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pipewatch-analyzer [--config FILE] [--check-config]\n"
            "\n"
            "Consumes metrics and logs from Kafka as a consumer group, forecasts\n"
            "every series, scores entities and tags log lines, and turns the rules\n"
            "of its configuration into predictions (topic pipewatch.predictions).\n"
            "Run several with one group_id to scale out; state moves with the\n"
            "partitions through the pipewatch.state topic.\n"
            "\n"
            "  -c, --config FILE   configuration (YAML; default " DEFAULT_CONFIG ")\n"
            "      --check-config  validate the configuration and exit (0 ok, 2 bad)\n"
            "      --config-reference  print every configuration key (Markdown)\n"
            "  -h, --help          this text\n"
            "      --version       the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT checkpoint, commit and exit; SIGHUP checks the\n"
            "models directory for a newly promoted bundle.\n");
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run(const char *path)
{
    struct pw_err err;
    struct pw_analyzer_config cfg;
    if (pw_analyzer_config_load(path, true, &cfg, &err) < 0) {
        pw_log(PW_ERROR, "%s", err.msg);
        pw_analyzer_config_release(&cfg);
        return 2;
    }
    enum pw_log_level lv;
    if (pw_log_level_parse(cfg.log_level, &lv) == 0)
        pw_log_set_level(lv);
    /* The trend fits call GSL from this thread only, but switch its
     * aborting handler off once for good (models/trend.h). */
    gsl_set_error_handler_off();
    struct pw_analyzer *a = pw_analyzer_new(&cfg, &err);
    if (!a) {
        pw_log(PW_ERROR, "cannot start: %s", err.msg);
        pw_analyzer_config_release(&cfg);
        return 1;
    }
    pw_log(PW_INFO, "pipewatch-analyzer %s started in group \"%s\"", PW_VERSION,
           cfg.group_id);
    uint64_t watchdog_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
    sd_notify(0, "READY=1\nSTATUS=started");
    int64_t last_ping = 0, last_status = 0;
    int max_wait_ms = 500;
    if (watchdog && (int64_t)watchdog_usec / 2000 < max_wait_ms)
        max_wait_ms = (int)(watchdog_usec / 2000);
    while (!stop_requested) {
        pw_analyzer_step(a, max_wait_ms);
        if (reload_requested) {
            reload_requested = 0;
            pw_analyzer_reload_models(a);
        }
        int64_t now = pw_mono_ms();
        if (watchdog && (now - last_ping) * 1000 >= (int64_t)watchdog_usec / 2) {
            sd_notify(0, "WATCHDOG=1");
            last_ping = now;
        }
        if (now - last_status >= 10000) {
            char line[512];
            pw_analyzer_status_line(a, line, sizeof line);
            sd_notifyf(0, "STATUS=%s", line);
            if (last_status)
                pw_log(PW_DEBUG, "%s", line);
            last_status = now;
        }
    }
    sd_notify(0, "STOPPING=1");
    pw_log(PW_INFO, "stopping: checkpointing and committing");
    pw_analyzer_close(a);
    char line[512];
    pw_analyzer_status_line(a, line, sizeof line);
    pw_log(PW_INFO, "stopped: %s", line);
    pw_analyzer_free(a);
    pw_analyzer_config_release(&cfg);
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_VERSION, OPT_REFERENCE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"config-reference", no_argument, NULL, OPT_REFERENCE},
        {0},
    };
    const char *path = NULL;
    bool check = false, reference = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case OPT_CHECK: check = true; break;
        case OPT_REFERENCE: reference = true; break;
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("pipewatch-analyzer %s\n", PW_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pipewatch-analyzer: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    pw_log_init("pipewatch-analyzer", PW_INFO);
    if (reference) {
        printf("# pipewatch-analyzer configuration\n\n"
               "Generated by `pipewatch-analyzer --config-reference` from the option "
               "tables in the code; do not edit by hand.\n\n");
        pw_config_reference(stdout, pw_analyzer_options, NULL);
        return 0;
    }
    if (check) {
        struct pw_err err;
        struct pw_analyzer_config cfg;
        int rc = pw_analyzer_config_load(path ? path : DEFAULT_CONFIG, true, &cfg, &err);
        pw_analyzer_config_release(&cfg);
        if (rc < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        printf("%s: configuration is valid\n", path ? path : DEFAULT_CONFIG);
        return 0;
    }
    install_signals();
    return run(path ? path : DEFAULT_CONFIG);
}
