/* agent/main.c — pipewatch-agent: the command line, signals and systemd.
 *
 * Everything else is in agent.c; main only decides when to start, reload
 * and stop. Signal handlers set flags; the loop acts on them. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "agent/config.h"
#include "common/clock.h"
#include "common/log.h"

#define DEFAULT_CONFIG "/etc/pipewatch/agent.yaml"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_stop(int sig) { (void)sig; stop_requested = 1; }
static void on_reload(int sig) { (void)sig; reload_requested = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pipewatch-agent [--config FILE] [--check-config | --once]\n"
            "\n"
            "Collects host and pipeline metrics and streams them into Kafka as\n"
            "Influx line protocol (topic pipewatch.metrics, key = entity). While\n"
            "Kafka is unreachable it keeps collecting into a bounded on-disk spool\n"
            "and replays it in order afterwards.\n"
            "\n"
            "  -c, --config FILE   configuration (YAML; default " DEFAULT_CONFIG ")\n"
            "      --check-config  validate the configuration and exit (0 ok, 2 bad)\n"
            "      --once          print one collection as line protocol and exit;\n"
            "                      no Kafka (the configuration file is optional)\n"
            "      --config-reference  print every configuration key (Markdown)\n"
            "  -h, --help          this text\n"
            "      --version       the version\n"
            "\n"
            "Signals: SIGTERM/SIGINT flush and exit; SIGHUP reloads the\n"
            "configuration (a bad one is reported and the old one kept).\n");
}

static void apply_log_level(const struct pw_agent_config *c)
{
    enum pw_log_level lv;
    if (c->log_level && pw_log_level_parse(c->log_level, &lv) == 0)
        pw_log_set_level(lv);
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

static int run(const struct pw_agent_schema *schema, const char *path)
{
    struct pw_err err;
    struct pw_agent_config cfg;
    if (pw_agent_config_load(schema, path, true, &cfg, &err) < 0) {
        pw_log(PW_ERROR, "%s", err.msg);
        pw_agent_config_release(schema, &cfg);
        return 2;
    }
    apply_log_level(&cfg);
    char entity[256];
    snprintf(entity, sizeof entity, "%s", cfg.entity);
    struct pw_agent *a = pw_agent_new(schema, &cfg, &err);
    if (!a) {
        pw_log(PW_ERROR, "cannot start: %s", err.msg);
        return 1;
    }
    pw_log(PW_INFO, "pipewatch-agent %s started for entity \"%s\"", PW_VERSION, entity);

    uint64_t watchdog_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
    sd_notify(0, "READY=1\nSTATUS=started");
    int64_t last_ping = 0, last_status = 0;

    /* Wake at least twice per watchdog period to ping it. */
    int max_wait_ms = 1000;
    if (watchdog && (int64_t)watchdog_usec / 2000 < max_wait_ms)
        max_wait_ms = (int)(watchdog_usec / 2000);
    while (!stop_requested) {
        pw_agent_step(a, max_wait_ms);
        if (reload_requested) {
            reload_requested = 0;
            sd_notify(0, "RELOADING=1");
            struct pw_agent_config next;
            if (pw_agent_config_load(schema, path, true, &next, &err) < 0) {
                pw_log(PW_ERROR, "reload refused, keeping the running "
                       "configuration: %s", err.msg);
                pw_agent_config_release(schema, &next);
            } else {
                apply_log_level(&next);
                if (pw_agent_reload(a, &next, &err) < 0)
                    pw_log(PW_ERROR, "reload failed, keeping the running "
                           "configuration: %s", err.msg);
                else
                    pw_log(PW_INFO, "configuration reloaded from %s", path);
            }
            sd_notify(0, "READY=1");
        }
        int64_t now = pw_mono_ms();
        if (watchdog && (now - last_ping) * 1000 >= (int64_t)watchdog_usec / 2) {
            sd_notify(0, "WATCHDOG=1");
            last_ping = now;
        }
        if (now - last_status >= 10000) {
            char line[256];
            pw_agent_status_line(a, line, sizeof line);
            sd_notifyf(0, "STATUS=%s", line);
            last_status = now;
        }
    }
    sd_notify(0, "STOPPING=1");
    pw_log(PW_INFO, "stopping: flushing to Kafka");
    int left = pw_agent_flush(a);
    if (left > 0)
        pw_log(PW_WARN, "%d messages not acknowledged in time; they stay in the "
               "spool for the next start", left);
    char line[256];
    pw_agent_status_line(a, line, sizeof line);
    pw_log(PW_INFO, "stopped: %s", line);
    pw_agent_free(a);
    return 0;
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK = 256, OPT_ONCE, OPT_VERSION, OPT_REFERENCE };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"once", no_argument, NULL, OPT_ONCE},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"config-reference", no_argument, NULL, OPT_REFERENCE},
        {0},
    };
    const char *path = NULL;
    bool check = false, once = false, reference = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case OPT_CHECK: check = true; break;
        case OPT_ONCE: once = true; break;
        case OPT_REFERENCE: reference = true; break;
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("pipewatch-agent %s\n", PW_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pipewatch-agent: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    pw_log_init("pipewatch-agent", PW_INFO);

    struct pw_agent_schema schema;
    struct pw_err err;
    if (pw_agent_schema_init(&schema, &err) < 0) {
        pw_log(PW_ERROR, "%s", err.msg);
        return 1;
    }
    if (reference) {
        printf("# pipewatch-agent configuration\n\n"
               "Generated by `pipewatch-agent --config-reference` from the option "
               "tables in the code; do not edit by hand.\n\n");
        pw_config_reference(stdout, schema.top, NULL);
        return 0;
    }
    if (check) {
        struct pw_agent_config cfg;
        int rc = pw_agent_config_load(&schema, path ? path : DEFAULT_CONFIG, true,
                                      &cfg, &err);
        pw_agent_config_release(&schema, &cfg);
        if (rc < 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        printf("%s: configuration is valid\n", path ? path : DEFAULT_CONFIG);
        return 0;
    }
    if (once) {
        struct pw_agent_config cfg;
        if (pw_agent_config_load(&schema, path, false, &cfg, &err) < 0) {
            fprintf(stderr, "%s\n", err.msg);
            pw_agent_config_release(&schema, &cfg);
            return 2;
        }
        apply_log_level(&cfg);
        int rc = pw_agent_once(&schema, &cfg, stdout, &err);
        pw_agent_config_release(&schema, &cfg);
        if (rc < 0) {
            fprintf(stderr, "pipewatch-agent: %s\n", err.msg);
            return 1;
        }
        return 0;
    }
    install_signals();
    return run(&schema, path ? path : DEFAULT_CONFIG);
}
