/* alerting/outbox.h — the persistent outbox: notifications waiting to reach
 * their receivers.
 *
 * The promise: when pw_outbox_enqueue returns 0, the notification's payloads
 * (one per config of its receiver) are on disk (SQLite, WAL, synchronous =
 * FULL: the commit is fsynced) and will be delivered, after a receiver
 * outage or a crash and restart of the process, until a receiver takes them
 * or refuses them for good. So the analyzer enqueues first and stores its
 * Kafka offsets after.
 *
 * Exactly once in practice: a delivery is identified by (idempotency key,
 * receiver, config); enqueueing the same notification again stores nothing
 * new (even after it was sent). A crash between a receiver's 2xx and the
 * outbox recording it sends that payload again after the restart, with the
 * same idempotency key (header and body), so the receiver can drop it.
 *
 * Rows: pending (waiting for its time, or in flight), sent, failed (a 4xx
 * other than 429, a receiver or config that no longer exists, or retries
 * past the deadline). Sent and failed rows are kept for pw_outbox_prune.
 * Times stored are wall-clock Unix ns, so a retry time survives a restart.
 *
 * Not thread-safe: one thread (the daemon's loop) uses an outbox, and one
 * process owns its file (an exclusive lock, held from open to close: two
 * analyzers sharing a file would send everything twice).
 */
#ifndef PW_OUTBOX_H
#define PW_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "alerting/receiver.h"
#include "common/err.h"

struct pw_outbox;

enum pw_delivery_state {
    PW_DELIVERY_PENDING = 0,
    PW_DELIVERY_SENT = 1,
    PW_DELIVERY_FAILED = 2,
};

/* Opens (creating if needed) the outbox database at `path` and locks it
 * (fails, saying so, if another process or handle has it open).
 * `receivers` is borrowed and must outlive the outbox (payloads are
 * rendered for its configs); `external_url` (may be NULL) is copied. */
struct pw_outbox *pw_outbox_open(const char *path,
                                 const struct pw_receivers *receivers,
                                 const char *external_url, struct pw_err *err);
void pw_outbox_close(struct pw_outbox *o);

/* Renders `n` for every config of receiver n->receiver and stores the
 * payloads in one transaction. Returns 0 when they are durable (or were
 * stored before: the same idempotency key; or no config wants them: every
 * alert resolved and send_resolved false), or -1 with err set (an unknown
 * receiver, no idempotency key, a disk error): nothing was stored. This is
 * the dispatcher's "0 once durably stored". How many deliveries were new:
 * the change of pw_outbox_enqueued. */
int pw_outbox_enqueue(struct pw_outbox *o, const struct pw_notification *n,
                      struct pw_err *err);

/* One stored delivery, as the deliverer sees it. */
struct pw_delivery {
    int64_t id;
    char *idempotency_key;
    char *receiver;
    char *config;          /* "webhook[0]" */
    char *group_key;
    char *body;            /* the exact payload */
    size_t body_len;
    int64_t attempts;      /* made so far */
    int64_t created_ns;
    int64_t next_attempt_ns;
};

void pw_delivery_clear(struct pw_delivery *d);

/* Up to `max` pending deliveries due at `now_ns` (next attempt <= now),
 * oldest due first, skipping the ids in `skip` (n_skip: those in flight);
 * only those of `receiver` if it is not NULL, and none of the receivers
 * named in `skip_receivers_json` (a JSON array of names, or NULL), so that
 * a rate-limited receiver's backlog is read only as far as its tokens go
 * and does not hide the others' rows. Fills out[0..] (the caller clears
 * each) and returns how many, or -1. */
int pw_outbox_due(struct pw_outbox *o, int64_t now_ns, const int64_t *skip,
                  size_t n_skip, const char *receiver,
                  const char *skip_receivers_json, struct pw_delivery *out,
                  size_t max, struct pw_err *err);

/* The earliest next attempt among pending deliveries not in `skip`, or
 * INT64_MAX if none. */
int64_t pw_outbox_next_due(struct pw_outbox *o, const int64_t *skip,
                           size_t n_skip);

/* Transactions. pw_outbox_begin(o, true, ...) makes the enqueues up to
 * pw_outbox_commit one durable transaction (one fsync for many
 * notifications: what a loop tick that forms several should do; each is
 * durable when the commit returns 0, not before). pw_outbox_begin(o, false,
 * ...) is for the deliverer's marks: they are committed without an fsync
 * (synchronous=NORMAL in WAL mode, which survives a crash of the process but
 * not of the machine; a mark lost that way only means one more attempt with
 * the same idempotency key); an enqueue inside such a batch is refused.
 * A mark or an enqueue outside a batch commits on its own. */
int pw_outbox_begin(struct pw_outbox *o, bool durable, struct pw_err *err);
int pw_outbox_commit(struct pw_outbox *o, struct pw_err *err);
void pw_outbox_rollback(struct pw_outbox *o);
int pw_outbox_mark_sent(struct pw_outbox *o, int64_t id, int64_t now_ns,
                        int http_status, struct pw_err *err);
int pw_outbox_mark_retry(struct pw_outbox *o, int64_t id, int64_t next_ns,
                         int http_status, const char *why, struct pw_err *err);
int pw_outbox_mark_failed(struct pw_outbox *o, int64_t id, int64_t now_ns,
                          int http_status, const char *why,
                          struct pw_err *err);

/* How many deliveries were newly stored through this handle so far: a
 * deliverer notices new rows by its change. */
uint64_t pw_outbox_enqueued(const struct pw_outbox *o);

/* Counts of rows in a state, or -1. */
int64_t pw_outbox_count(struct pw_outbox *o, enum pw_delivery_state state);

/* Deletes sent and failed rows finished before `before_ns` (their keys are
 * then forgotten: a notification enqueued again after that is new).
 * Returns the number deleted, or -1. */
int64_t pw_outbox_prune(struct pw_outbox *o, int64_t before_ns,
                        struct pw_err *err);

#endif
