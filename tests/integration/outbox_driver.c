/* tests/integration/outbox_driver.c — the alert outbox and delivery, driven
 * from the command line for the integration tests and by hand.
 *
 * Reads a configuration with `receivers:` (alerting/receiver.h),
 * `delivery:` (alerting/deliver.h) and `external_url:`, enqueues generated
 * notifications into an outbox, then runs delivery until the outbox holds
 * nothing pending or a deadline passes, and prints its counters as
 * `name=value` lines on stdout:
 *
 *   outbox_driver --config F --db F [--enqueue N] [--group-size K]
 *                 [--receiver NAME] [--key-prefix P] [--resolved]
 *                 [--deadline SECONDS] [--no-deliver]
 *
 * Notification i (0-based) has idempotency key P-i and K alerts for entity
 * host-i (alertname DiskWillFill, DiskWillFill2, ...), with the labels and
 * annotations the analyzer sets (alerting/render.h). Exit 0 when nothing is
 * pending at the end, 2 at the deadline, 1 on an error. The label helpers
 * here are the test's own (alerting/alert.c is another module's).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/deliver.h"
#include "alerting/outbox.h"
#include "alerting/receiver.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"

struct driver_config {
    char *external_url;
    struct pw_section_list receivers;
    struct pw_deliver_options delivery;
};

static const struct pw_option driver_options[] = {
    {"external_url", PW_OPT_STRING, offsetof(struct driver_config, external_url),
     "http://pipewatch.test/", false, 0, 0, NULL, "externalURL."},
    {"receivers", PW_OPT_SECTION_LIST,
     offsetof(struct driver_config, receivers), NULL, false, 0, 1000,
     pw_receiver_options, "Receivers."},
    {"delivery", PW_OPT_SECTION, offsetof(struct driver_config, delivery),
     NULL, false, 0, 0, pw_deliver_options_table, "Delivery."},
    {0},
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

/* Appends a label (names given in sorted order by the caller). */
static void add(struct pw_labels *ls, const char *name, const char *value)
{
    ls->v = realloc(ls->v, (ls->n + 1) * sizeof *ls->v);
    if (!ls->v)
        abort();
    ls->v[ls->n].name = strdup(name);
    ls->v[ls->n].value = strdup(value);
    ls->n++;
}

static void free_labels(struct pw_labels *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].name);
        free(ls->v[i].value);
    }
    free(ls->v);
    ls->v = NULL;
    ls->n = 0;
}

/* Alertmanager's fingerprint (alert.h), for the test's own alerts. */
static uint64_t fingerprint(const struct pw_labels *ls)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < ls->n; i++) {
        for (const char *p = ls->v[i].name; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
        for (const char *p = ls->v[i].value; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int enqueue(struct pw_outbox *ob, const char *receiver,
                   const char *prefix, long i, long group_size, bool resolved,
                   long *stored)
{
    char entity[64], key[128], gk[256], name[64];
    snprintf(entity, sizeof entity, "host-%ld", i);
    snprintf(key, sizeof key, "%s-%ld", prefix, i);
    snprintf(gk, sizeof gk, "{}:{entity=\"%s\"}", entity);
    struct pw_labels group = {0};
    add(&group, "entity", entity);
    struct pw_alert *alerts = calloc((size_t)group_size, sizeof *alerts);
    int64_t now = pw_realtime_ns();
    for (long k = 0; k < group_size; k++) {
        struct pw_alert *a = &alerts[k];
        if (k == 0)
            snprintf(name, sizeof name, "DiskWillFill");
        else
            snprintf(name, sizeof name, "DiskWillFill%ld", k + 1);
        add(&a->labels, "alertname", name);
        add(&a->labels, "entity", entity);
        add(&a->labels, "kind", "forecast");
        add(&a->labels, "rule", "fs.used_percent > 95 within 6h");
        add(&a->labels, "severity", "critical");
        add(&a->annotations, "confidence", "0.87");
        add(&a->annotations, "description",
            "The root filesystem grows 2 GiB an hour.");
        add(&a->annotations, "eta_seconds", "12000");
        add(&a->annotations, "evidence",
            "{\"series\":\"fs.used_percent\",\"last\":91.5,\"slope_per_h\":1.2}");
        add(&a->annotations, "summary", "The disk of the host will be full");
        a->starts_at_ns = now - 60 * (int64_t)1000000000;
        a->ends_at_ns = resolved ? now : 0;
        a->status = resolved ? PW_ALERT_RESOLVED : PW_ALERT_FIRING;
        a->fingerprint = fingerprint(&a->labels);
        a->generator_url = strdup("http://pipewatch.test/api/v1/predictions");
    }
    struct pw_notification n = {
        .receiver = receiver, .group_key = gk, .group_labels = &group,
        .alerts = alerts, .n_alerts = (size_t)group_size,
        .idempotency_key = key, .now_ns = now,
    };
    struct pw_err err = {{0}};
    uint64_t before = pw_outbox_enqueued(ob);
    int rc = pw_outbox_enqueue(ob, &n, &err);
    if (rc < 0)
        fprintf(stderr, "outbox_driver: enqueue %s: %s\n", key, err.msg);
    else
        *stored += (long)(pw_outbox_enqueued(ob) - before);
    for (long k = 0; k < group_size; k++) {
        free_labels(&alerts[k].labels);
        free_labels(&alerts[k].annotations);
        free(alerts[k].generator_url);
    }
    free(alerts);
    free_labels(&group);
    return rc < 0 ? -1 : 0;
}

static void print_stats(struct pw_deliver *d, int64_t elapsed_ms)
{
    struct pw_deliver_stats s;
    pw_deliver_get_stats(d, &s);
    printf("sent=%llu\nattempts=%llu\n", (unsigned long long)s.sent,
           (unsigned long long)s.attempts);
    uint64_t retried = 0, failed = 0;
    for (int r = 0; r < PW_RETRY_N; r++) {
        printf("retried_%s=%llu\n", pw_retry_reason_name(r),
               (unsigned long long)s.retried[r]);
        retried += s.retried[r];
    }
    for (int r = 0; r < PW_FAIL_N; r++) {
        printf("failed_%s=%llu\n", pw_fail_reason_name(r),
               (unsigned long long)s.failed[r]);
        failed += s.failed[r];
    }
    printf("retried=%llu\nfailed=%llu\nrate_limited=%llu\n"
           "retry_after_honoured=%llu\nin_flight=%lld\npending=%lld\n"
           "elapsed_ms=%lld\n",
           (unsigned long long)retried, (unsigned long long)failed,
           (unsigned long long)s.rate_limited,
           (unsigned long long)s.retry_after_honoured, (long long)s.in_flight,
           (long long)s.pending, (long long)elapsed_ms);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *config = NULL, *db = NULL, *receiver = "default";
    const char *prefix = "n";
    long n_enqueue = 0, group_size = 1;
    double deadline_s = 60;
    bool resolved = false, deliver = true;
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"enqueue", required_argument, NULL, 'n'},
        {"group-size", required_argument, NULL, 'g'},
        {"receiver", required_argument, NULL, 'r'},
        {"key-prefix", required_argument, NULL, 'p'},
        {"resolved", no_argument, NULL, 'R'},
        {"deadline", required_argument, NULL, 't'},
        {"no-deliver", no_argument, NULL, 'N'},
        {0, 0, 0, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'd': db = optarg; break;
        case 'n': n_enqueue = atol(optarg); break;
        case 'g': group_size = atol(optarg); break;
        case 'r': receiver = optarg; break;
        case 'p': prefix = optarg; break;
        case 'R': resolved = true; break;
        case 't': deadline_s = atof(optarg); break;
        case 'N': deliver = false; break;
        default:
            fprintf(stderr, "usage: outbox_driver --config F --db F [...]\n");
            return 1;
        }
    }
    if (!config || !db || group_size < 1) {
        fprintf(stderr, "usage: outbox_driver --config F --db F [...]\n");
        return 1;
    }
    /* PW_DRIVER_DEBUG=1: debug logging (the secrets test reads it all). */
    pw_log_init("outbox-driver", getenv("PW_DRIVER_DEBUG") ? PW_DEBUG : PW_INFO);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    struct driver_config cfg = {0};
    struct pw_err err = {{0}};
    struct pw_receivers *rcv = NULL;
    struct pw_outbox *ob = NULL;
    struct pw_deliver *d = NULL;
    int rc = 1;
    if (pw_config_load(config, driver_options, &cfg, &err) < 0 ||
        !(rcv = pw_receivers_new(config, &cfg.receivers, &err)) ||
        !(ob = pw_outbox_open(db, rcv, cfg.external_url, &err)) ||
        !(d = pw_deliver_new(ob, rcv, NULL, &cfg.delivery, &err))) {
        fprintf(stderr, "outbox_driver: %s\n", err.msg);
        goto out;
    }
    int64_t t0 = pw_mono_ns();
    long stored = 0;
    for (long i = 0; i < n_enqueue; i++)
        if (enqueue(ob, receiver, prefix, i, group_size, resolved, &stored) < 0)
            goto out;
    printf("enqueued=%ld\nstored=%ld\n", n_enqueue, stored);
    fflush(stdout);
    int64_t deadline = t0 + (int64_t)(deadline_s * 1e9);
    int64_t last_check = 0;
    rc = 2;
    while (deliver && !stop && pw_mono_ns() < deadline) {
        if (pw_deliver_poll(d, pw_realtime_ns(), 100, &err) < 0)
            fprintf(stderr, "outbox_driver: %s\n", err.msg);
        if (pw_mono_ns() - last_check > 20000000) {
            last_check = pw_mono_ns();
            if (pw_outbox_count(ob, PW_DELIVERY_PENDING) == 0) {
                rc = 0;
                break;
            }
        }
    }
    if (!deliver)
        rc = 0;
    print_stats(d, (pw_mono_ns() - t0) / 1000000);
out:
    pw_deliver_free(d);
    pw_outbox_close(ob);
    pw_receivers_free(rcv);
    pw_config_release(driver_options, &cfg);
    return rc;
}
