/* bench/bench_alerting_deliver.c — alert deliveries per second from the
 * outbox to a local webhook receiver, with N in flight.
 *
 *   ./build/bench/bench-alerting-deliver [NOTIFICATIONS] [IN_FLIGHT] [DIR]
 *
 * The receiver is libmicrohttpd inside this process (its own thread, epoll,
 * answering 200 at once), so that the figure is the deliverer's: curl multi,
 * the outbox's reads and its batched, fsynced updates. Notifications (one
 * alert each, one webhook config) are enqueued first, each in its own
 * durable transaction (that rate is printed too), into an outbox in DIR
 * (default: a new directory under /tmp), then delivered until none is
 * pending. */
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/deliver.h"
#include "alerting/outbox.h"
#include "alerting/receiver.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "tests/unit/alerting_fixture.h"

static atomic_ulong requests;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **state)
{
    (void)cls; (void)url; (void)method; (void)version; (void)data;
    static int marker;
    if (!*state) {
        *state = &marker;
        return MHD_YES;
    }
    if (*data_size) {
        *data_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&requests, 1);
    static const char ok[] = "{\"ok\":true}";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof ok - 1, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

struct cfg {
    struct pw_section_list receivers;
};
static const struct pw_option table[] = {
    {"receivers", PW_OPT_SECTION_LIST, offsetof(struct cfg, receivers), NULL,
     false, 0, 10, pw_receiver_options, "r"},
    {0},
};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 5000;
    long in_flight = argc > 2 ? atol(argv[2]) : 100;
    char dir[256];
    if (argc > 3)
        snprintf(dir, sizeof dir, "%s", argv[3]);
    else {
        snprintf(dir, sizeof dir, "/tmp/bench-alerting-XXXXXX");
        if (!mkdtemp(dir))
            return perror("mkdtemp"), 1;
    }
    pw_log_init("bench-alerting-deliver", PW_WARN);

    struct MHD_Daemon *mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
        on_request, NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!mhd)
        return fprintf(stderr, "cannot start libmicrohttpd\n"), 1;
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info->port;

    char yaml[512], db[300];
    snprintf(yaml, sizeof yaml,
             "receivers:\n  - name: bench\n    webhook_configs:\n"
             "      - url: http://127.0.0.1:%u/hook\n", port);
    snprintf(db, sizeof db, "%s/outbox.db", dir);
    struct cfg c = {0};
    struct pw_err err = {{0}};
    struct pw_receivers *rcv = NULL;
    struct pw_outbox *ob = NULL;
    struct pw_deliver *d = NULL;
    struct pw_deliver_options opt;
    pw_config_defaults(pw_deliver_options_table, &opt, &err);
    opt.max_in_flight = in_flight;
    if (pw_config_load_string("bench", yaml, strlen(yaml), table, &c, &err) < 0 ||
        !(rcv = pw_receivers_new("bench", &c.receivers, &err)) ||
        !(ob = pw_outbox_open(db, rcv, "http://bench/", &err)) ||
        !(d = pw_deliver_new(ob, rcv, NULL, &opt, &err))) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }

    struct pw_labels group = {0};
    fx_set(&group, "entity", "db-1");
    /* The first tenth one transaction each, the rest 500 to a transaction
     * (pw_outbox_begin/commit around enqueues, as a loop tick can). */
    long single = n / 10;
    double single_s = 0;
    int64_t t0 = pw_mono_ns();
    for (long i = 0; i < n; i++) {
        if (i == single) {
            single_s = (double)(pw_mono_ns() - t0) / 1e9;
            t0 = pw_mono_ns();
        }
        if (i >= single && (i - single) % 500 == 0 &&
            pw_outbox_begin(ob, true, &err) < 0)
            return fprintf(stderr, "bench: %s\n", err.msg), 1;
        struct pw_alert a;
        char entity[32], key[32];
        snprintf(entity, sizeof entity, "host-%ld", i);
        snprintf(key, sizeof key, "bench-%ld", i);
        fx_alert(&a, "DiskWillFill", entity, true);
        struct pw_notification notif = {
            .receiver = "bench", .group_key = "{}:{entity=\"db-1\"}",
            .group_labels = &group, .alerts = &a, .n_alerts = 1,
            .idempotency_key = key,
        };
        if (pw_outbox_enqueue(ob, &notif, &err) != 0) {
            fprintf(stderr, "bench: enqueue: %s\n", err.msg);
            return 1;
        }
        fx_alert_free(&a);
        if (i >= single && ((i - single) % 500 == 499 || i == n - 1) &&
            pw_outbox_commit(ob, &err) < 0)
            return fprintf(stderr, "bench: %s\n", err.msg), 1;
    }
    double batch_s = (double)(pw_mono_ns() - t0) / 1e9;

    t0 = pw_mono_ns();
    int64_t last_check = 0;
    for (;;) {
        if (pw_deliver_poll(d, pw_realtime_ns(), 50, &err) < 0)
            fprintf(stderr, "bench: %s\n", err.msg);
        if (pw_mono_ns() - last_check > 20000000) {
            last_check = pw_mono_ns();
            if (pw_outbox_count(ob, PW_DELIVERY_PENDING) == 0)
                break;
        }
        if (pw_mono_ns() - t0 > 300 * (int64_t)1000000000) {
            fprintf(stderr, "bench: not done after 300 s\n");
            break;
        }
    }
    double del_s = (double)(pw_mono_ns() - t0) / 1e9;
    struct pw_deliver_stats st;
    pw_deliver_get_stats(d, &st);

    printf("command: %s %ld %ld %s\n", argv[0], n, in_flight, dir);
    printf("enqueue, one fsynced transaction each: %ld in %.2f s = %.0f/s\n",
           single, single_s, (double)single / single_s);
    printf("enqueue, 500 to a transaction: %ld in %.2f s = %.0f/s\n",
           n - single, batch_s, (double)(n - single) / batch_s);
    printf("delivery, %ld in flight: %llu sent (%lu requests received) in "
           "%.2f s = %.0f deliveries/s; retried %llu, failed %llu\n",
           in_flight, (unsigned long long)st.sent,
           (unsigned long)atomic_load(&requests), del_s,
           (double)st.sent / del_s,
           (unsigned long long)(st.retried[0] + st.retried[1] + st.retried[2] +
                                st.retried[3] + st.retried[4] + st.retried[5]),
           (unsigned long long)(st.failed[0] + st.failed[1] + st.failed[2] +
                                st.failed[3]));

    pw_deliver_free(d);
    pw_outbox_close(ob);
    pw_receivers_free(rcv);
    pw_config_release(table, &c);
    fx_labels_free(&group);
    MHD_stop_daemon(mhd);
    if (argc <= 3) {
        char p[320];
        const char *sfx[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(p, sizeof p, "%s%s", db, sfx[i]);
            unlink(p);
        }
        rmdir(dir);
    }
    return 0;
}
