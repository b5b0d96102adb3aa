/* agent/sender.h — moves spooled messages to Kafka, oldest first.
 *
 * The spool is the source of truth: a message is deleted from it only in
 * the delivery report that says Kafka has it. The sender keeps a cursor (the
 * last sequence number handed to librdkafka) and at most max_inflight
 * messages in librdkafka's queue. When a delivery fails with an error that
 * may pass (timeout, broker down), it stops handing out new messages until
 * every outstanding report is in, moves the cursor back before the oldest
 * failure and waits retry_backoff: so the spool is replayed in order, and a
 * message that did arrive is never sent twice by us (librdkafka's idempotent
 * producer covers its own retries). A permanent error (message too large,
 * not authorised) drops that message, counted and logged, rather than
 * blocking everything behind it.
 *
 * By default the producer has no message timeout (message.timeout.ms = 0):
 * librdkafka itself retries across an outage, in order, and the spool is
 * what makes that safe across restarts and bounded in size. If the user
 * sets a finite message.timeout.ms, failed messages are re-sent from the
 * spool as described above; then, if the cluster returns between the
 * timeouts of two messages, a later message can arrive before an earlier
 * one that timed out (nothing is lost or doubled, but the order across
 * that boundary is not kept). */
#ifndef PW_SENDER_H
#define PW_SENDER_H

#include <stdint.h>

#include "agent/spool.h"
#include "common/config.h"
#include "common/err.h"

struct pw_sender;

struct pw_sender_stats {
    uint64_t produced;          /* handed to librdkafka (incl. re-sends) */
    uint64_t delivered;         /* acknowledged by Kafka */
    uint64_t failed;            /* delivery reports with an error */
    uint64_t resent;            /* re-handed after a failure */
    uint64_t dropped_permanent; /* dropped for a permanent error */
    uint64_t delivered_after_drop; /* acknowledged after the spool's bound
                                      had dropped them (librdkafka still
                                      held them): not lost after all */
    uint64_t inflight;
};

/* Creates the producer from `kafka` props. Borrows `spool` (it must outlive
 * the sender). */
struct pw_sender *pw_sender_new(const struct pw_kv_list *kafka,
                                struct pw_spool *spool, int64_t max_inflight,
                                int64_t retry_backoff_ms, struct pw_err *err);

/* Serves delivery reports (rd_kafka_poll, waiting up to wait_ms for one) and
 * hands new spooled messages to librdkafka. Returns 0, or -1 on a spool
 * error (logged; the caller carries on). */
int pw_sender_pump(struct pw_sender *s, int wait_ms);

/* A file descriptor that becomes readable when librdkafka has delivery
 * reports to serve (for the program's poll(); pw_sender_pump drains it). */
int pw_sender_fd(const struct pw_sender *s);

/* How long the caller may sleep before pw_sender_pump has work of its own
 * (a retry backoff ending): milliseconds, or -1 for "until the fd says". */
int64_t pw_sender_wait_ms(const struct pw_sender *s);

/* Waits up to timeout_ms for in-flight messages to be acknowledged; returns
 * how many were still in flight (they stay in the spool). */
int pw_sender_flush(struct pw_sender *s, int64_t timeout_ms);

void pw_sender_stats(const struct pw_sender *s, struct pw_sender_stats *out);
void pw_sender_free(struct pw_sender *s);   /* NULL is fine; does not flush */

#endif
