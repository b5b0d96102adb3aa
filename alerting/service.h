/* alerting/service.h — alerting as one service inside a daemon's loop.
 *
 * The one header the analyzer includes. It joins the parts:
 *
 *   put (alerts) ─► dispatch (routes, groups, inhibition, silences; SQLite)
 *                     │ tick: a notification per group and receiver due
 *                     ▼
 *                   outbox (payloads per receiver config; SQLite, fsynced)
 *                     │ poll: due deliveries
 *                     ▼
 *                   deliver (libcurl multi, retries, rate limits; Kafka, log)
 *
 * and serves Alertmanager's API v2 paths for alerts and silences on the
 * daemon's status port (pw_alerting_api), so that `pipewatch-ctl` and
 * `amtool` work against it.
 *
 * Configuration (`alerting:` in the analyzer's file, pw_alerting_options):
 * dir (the SQLite files), external_url, route, inhibit_rules, receivers,
 * delivery. Alerting is on when `receivers` is not empty.
 *
 * Durability, in the order the daemon calls: pw_alerting_put (inside
 * begin/commit) stores alerts; pw_alerting_commit returns once they are on
 * disk, and only then may the daemon commit the Kafka offsets of the
 * messages they came from. pw_alerting_poll forms due notifications (each
 * enqueued durably before the dispatcher records it as sent) and moves
 * deliveries on. A crash anywhere loses nothing that was committed; a
 * notification formed twice has the same idempotency key and is stored
 * once.
 *
 * Time: the dispatcher's timers, silences and retries run on the wall
 * clock (pw_realtime_ns), while alerts carry their data's time
 * (startsAt, endsAt). One thread. */
#ifndef PW_ALERTING_SERVICE_H
#define PW_ALERTING_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "alerting/alert.h"
#include "alerting/deliver.h"
#include "alerting/route.h"
#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"

struct pw_alerting_config {
    char *dir;                          /* alerts.db, outbox.db */
    char *external_url;                 /* links in payloads; may be NULL */
    struct pw_route_conf route;
    struct pw_section_list inhibit_rules;   /* struct pw_inhibit_conf */
    struct pw_section_list receivers;       /* struct pw_receiver_config */
    struct pw_deliver_options delivery;
    int64_t keep_ms;                    /* sent/failed deliveries kept */
};

/* The `alerting:` section's table (struct pw_alerting_config). */
extern const struct pw_option pw_alerting_options[];

/* Whether the configuration turns alerting on (receivers given). */
bool pw_alerting_enabled(const struct pw_alerting_config *c);

/* Everything --check-config can check without opening files for writing:
 * receivers (secrets readable), the route tree (receivers exist), inhibit
 * rules. `file` names the configuration in errors ("FILE:LINE: key: …").
 * 0 or -1. */
int pw_alerting_check(const struct pw_alerting_config *c, const char *file,
                      struct pw_err *err);

struct pw_alerting;

/* Opens the databases under c->dir (created 0750 if missing) and starts
 * the deliverer. `producer` (borrowed, may be NULL) carries the Kafka
 * receivers' messages: its delivery reports must go to
 * pw_alerting_kafka_report first. `c` is borrowed for the service's life.
 * NULL with err set. */
struct pw_alerting *pw_alerting_new(const struct pw_alerting_config *c, const char *file,
                                    rd_kafka_t *producer, struct pw_err *err);
void pw_alerting_free(struct pw_alerting *a);

/* A batch of puts, durable when commit returns 0. A put outside a batch
 * commits on its own. After a failed commit the puts are not durable: the
 * daemon must not commit the offsets they came from (pw_alerting_healthy
 * turns false until a later commit succeeds). */
int pw_alerting_begin(struct pw_alerting *a, struct pw_err *err);
int pw_alerting_put(struct pw_alerting *a, const struct pw_alert *alert,
                    struct pw_err *err);
int pw_alerting_commit(struct pw_alerting *a, struct pw_err *err);
bool pw_alerting_in_batch(const struct pw_alerting *a);
bool pw_alerting_healthy(const struct pw_alerting *a);

/* Forms the notifications due now and moves deliveries on, waiting for
 * network activity at most max_wait_ms (0: not at all). Errors are logged
 * and counted; the work is retried at the next call. */
void pw_alerting_poll(struct pw_alerting *a, int max_wait_ms);
/* Milliseconds until pw_alerting_poll has something to do, at most cap_ms. */
int pw_alerting_wakeup_ms(struct pw_alerting *a, int cap_ms);

/* The daemon's producer's delivery reports: true when `m` was an alert
 * delivery (then handled), false when it is the daemon's own. */
bool pw_alerting_kafka_report(struct pw_alerting *a, const rd_kafka_message_t *m);

/* A status-port route (common/status.h) for the prefix "/api/v2/":
 *   GET    /api/v2/alerts           the alerts, with silencedBy/inhibitedBy
 *   GET    /api/v2/silences         every silence
 *   POST   /api/v2/silences         create or update; {"silenceID": …}
 *   GET    /api/v2/silence/ID       one silence
 *   DELETE /api/v2/silence/ID       expire it
 * as Alertmanager's API v2 has them. `arg` is the struct pw_alerting. */
int pw_alerting_api(const char *method, const char *path, const char *body,
                    size_t body_len, struct pw_buf *out, const char **content_type,
                    void *arg);

/* Prometheus text: pipewatch_alerting_* (alerts, groups, silences,
 * notifications, errors) and the deliverer's pipewatch_alert_deliveries_*. */
void pw_alerting_metrics(struct pw_alerting *a, struct pw_buf *out);

#endif
