/* alerting/dispatch.h — from alerts to notifications, as Alertmanager's
 * dispatcher and notify pipeline do it.
 *
 * The analyzer puts alerts (firing or resolved). Each alert is kept in an
 * alert store keyed by its fingerprint, written to SQLite (WAL,
 * synchronous=FULL), and routed: every route it reaches puts it into an
 * aggregation group (the route and the values of its group_by labels).
 * A group's timer fires group_wait after the group is created, then every
 * group_interval. When it fires, tick() forms the group's notification:
 * muted alerts (inhibited, silenced) are left out; the notification log
 * (what this group last sent to its receiver, and when) decides whether
 * anything is new (a firing alert not yet notified, a newly resolved one)
 * or repeat_interval has passed, exactly as Alertmanager's DedupStage. If
 * so, the callback gets a struct pw_notification; when it returns 0 (the
 * outbox has it durably) the notification log is updated, durably.
 * Resolved alerts are then dropped from the group (sent once), an empty
 * group is removed, and an alert no group holds leaves the store.
 *
 * Time is an argument (now_ns, Unix ns): there is no hidden clock.
 *
 * Durability and restart. put() returns once the alert is in the database
 * (or, inside begin/commit, once commit returns): the analyzer commits its
 * Kafka offsets after pw_dispatch_commit. A reopened dispatcher reloads the
 * alerts and rebuilds the groups; a group this receiver was notified about
 * continues its group_interval from the logged time, a group never notified
 * waits group_wait from its first alert. Nothing already notified is sent
 * again before repeat_interval; nothing pending is forgotten. A crash
 * between the callback and the log update forms the same notification
 * again, with the same idempotency key, which the outbox drops.
 *
 * The idempotency key is the SHA-256 (hex) of the receiver, the group key,
 * the sorted fingerprints with their status, and the repeat slot: the time
 * of the previous notification of this group to this receiver (0 for the
 * first), so that a repeat gets a new key and a re-formed one the same.
 *
 * One dispatcher is used from one thread.
 */
#ifndef PW_DISPATCH_H
#define PW_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "alerting/inhibit.h"
#include "alerting/route.h"
#include "alerting/silence.h"
#include "common/err.h"

/* Takes a notification; returns 0 once it is durably taken (the outbox),
 * anything else to have the same group tried again at the next tick. The
 * notification and everything it points to are borrowed for the call. */
typedef int (*pw_notify_fn)(const struct pw_notification *n, void *user);

struct pw_dispatch_conf {
    const char *db_path;                  /* SQLite file (created) */
    const struct pw_route *route;         /* borrowed, must outlive */
    const struct pw_inhibit_rules *inhibit; /* borrowed; may be NULL */
    struct pw_silences *silences;         /* borrowed; may be NULL */
    pw_notify_fn notify;
    void *user;
    /* Alertmanager's resolve_timeout: a firing alert put without an end
     * gets now + this as its end, so that an alert its source stopped
     * refreshing resolves by itself. 0 (the default here) = off: alerts
     * fire until they are put resolved. */
    int64_t resolve_timeout_ns;
};

struct pw_dispatch;

/* Opens the database (creating it), reloads its alerts and rebuilds the
 * groups as of now_ns. Returns NULL with err set. */
struct pw_dispatch *pw_dispatch_open(const struct pw_dispatch_conf *conf,
                                     int64_t now_ns, struct pw_err *err);
void pw_dispatch_close(struct pw_dispatch *d);

/* A new configuration (a reload): the groups are rebuilt from the stored
 * alerts under the new tree, as after a restart, so that nothing already
 * notified is sent again before its time (groups whose key did not change
 * keep their log) and nothing pending is forgotten. Borrowed as in
 * pw_dispatch_conf; the old tree may be freed once this returns 0. On
 * error, close and reopen the dispatcher. */
int pw_dispatch_set_routes(struct pw_dispatch *d,
                           const struct pw_route *route,
                           const struct pw_inhibit_rules *inhibit,
                           int64_t now_ns, struct pw_err *err);

/* A batch: puts between begin and commit are one transaction, durable when
 * commit returns 0. Without begin, each put is its own transaction. */
int pw_dispatch_begin(struct pw_dispatch *d, struct pw_err *err);
int pw_dispatch_commit(struct pw_dispatch *d, struct pw_err *err);
/* Drops the uncommitted puts from the database. The in-memory state keeps
 * them (they will be delivered if the process lives); used on errors. */
void pw_dispatch_rollback(struct pw_dispatch *d);

/* Puts an alert (copied). Its fingerprint is computed here. A resolved
 * alert the store does not hold is ignored: nobody was told it fired. A
 * put for a held alert updates it (annotations, status, endsAt; the
 * earlier startsAt while it keeps firing). Returns 0 or -1. */
int pw_dispatch_put(struct pw_dispatch *d, const struct pw_alert *a,
                    int64_t now_ns, struct pw_err *err);

/* Flushes every group whose timer is due at now_ns: calls the callback for
 * each notification formed. Returns how many the callback took, or -1 (a
 * database error; groups not flushed stay due). Not inside a batch. */
int pw_dispatch_tick(struct pw_dispatch *d, int64_t now_ns,
                     struct pw_err *err);
/* When the next group timer is due (INT64_MAX when there is no group): the
 * caller's poll timeout. */
int64_t pw_dispatch_next_due_ns(const struct pw_dispatch *d);

size_t pw_dispatch_alert_count(const struct pw_dispatch *d);
size_t pw_dispatch_group_count(const struct pw_dispatch *d);

/* GET /api/v2/alerts: the alerts not resolved at now_ns, as a JSON array
 * (malloc'd text) of Alertmanager's gettableAlert: labels, annotations,
 * startsAt, endsAt, updatedAt, generatorURL, fingerprint, receivers, and
 * status {state: active|suppressed, silencedBy, inhibitedBy, mutedBy}.
 * NULL when out of memory. */
char *pw_dispatch_alerts_json(struct pw_dispatch *d, int64_t now_ns);

#endif
