/* alerting/deliver.h — delivery of the outbox's payloads to the receivers.
 *
 * Made for a daemon's event loop: pw_deliver_poll does the work that is due
 * (starts deliveries, moves transfers on, records outcomes in the outbox)
 * and returns, waiting at most max_wait_ms for network activity (0: never
 * blocks). HTTP goes through libcurl's multi interface, up to max_in_flight
 * transfers at once, with connection reuse.
 *
 * Per attempt of a webhook or Slack delivery: POST of the stored body with
 * Content-Type: application/json, Idempotency-Key: <key>, the config's
 * custom headers and, with an HMAC key, X-Pipewatch-Signature:
 * sha256=<hex HMAC-SHA256 of the exact body>; connect and total timeouts.
 *   2xx                           sent
 *   429, 5xx, connection errors,  retried: exponential backoff with full
 *   timeouts, other transport       jitter (a uniform delay in [0, min(max,
 *   errors                          initial * 2^(attempt-1))]), and never
 *                                   sooner than a Retry-After (seconds or an
 *                                   HTTP date) says
 *   other 1xx/3xx/4xx, malformed  failed, not retried (counted, logged, the
 *   URL                             row kept as failed with its status)
 *   still failing give_up_after   failed ("expired")
 *   after being enqueued
 * Each receiver has a token bucket (rate_limit per second, rate_burst): a
 * delivery with no token waits, pending, for the next one.
 * The log receiver writes one pw_log line per alert at its level; the Kafka
 * receiver produces the webhook body to its topic (key: the group key,
 * header idempotency-key) on the producer the caller passed, and the
 * delivery is sent when the broker acknowledges it (see
 * pw_deliver_kafka_report).
 *
 * Logs name the receiver, the config and the redacted URL, never a secret.
 */
#ifndef PW_DELIVER_H
#define PW_DELIVER_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "alerting/outbox.h"
#include "alerting/receiver.h"
#include "common/config.h"
#include "common/err.h"

struct pw_deliver_options {
    int64_t max_in_flight;        /* transfers at once (default 100) */
    int64_t connect_timeout_ms;   /* default 5 s */
    int64_t backoff_initial_ms;   /* default 500 ms */
    int64_t backoff_max_ms;       /* default 5 min */
    int64_t give_up_after_ms;     /* default 24 h; 0: never */
};

/* The `delivery:` section table (struct pw_deliver_options). */
extern const struct pw_option pw_deliver_options_table[];

/* Why a retry was scheduled / a delivery failed (the metrics' labels). */
enum pw_retry_reason {
    PW_RETRY_HTTP_5XX,
    PW_RETRY_HTTP_429,
    PW_RETRY_CONNECT,
    PW_RETRY_TIMEOUT,
    PW_RETRY_OTHER,          /* other transport errors, Kafka errors */
    PW_RETRY_TLS,            /* the receiver's certificate did not verify,
                                or ours could not be loaded */
    PW_RETRY_N
};
enum pw_fail_reason {
    PW_FAIL_HTTP_4XX,        /* any status not 2xx, 429 or 5xx */
    PW_FAIL_EXPIRED,         /* retried past give_up_after */
    PW_FAIL_NO_RECEIVER,     /* the receiver or config is gone */
    PW_FAIL_BAD_REQUEST,     /* malformed URL, unsupported protocol, no
                                Kafka producer */
    PW_FAIL_N
};
const char *pw_retry_reason_name(enum pw_retry_reason r);
const char *pw_fail_reason_name(enum pw_fail_reason r);

struct pw_deliver_stats {
    uint64_t sent;                    /* deliveries that reached a receiver */
    uint64_t attempts;                /* attempts started */
    uint64_t retried[PW_RETRY_N];     /* retries scheduled, by reason */
    uint64_t failed[PW_FAIL_N];       /* deliveries given up, by reason */
    uint64_t rate_limited;            /* steps in which a receiver used all
                                         its tokens with rows due: its
                                         rate limit held deliveries back */
    uint64_t retry_after_honoured;    /* retries delayed by a Retry-After */
    int64_t in_flight;
    int64_t pending;                  /* rows pending in the outbox, in
                                         flight included */
};

struct pw_deliver;

/* A deliverer for `outbox` (borrowed) and `receivers` (borrowed: both must
 * outlive it). `rk` is a producer for the Kafka receivers, borrowed, may be
 * NULL (Kafka deliveries then fail with PW_FAIL_BAD_REQUEST). `opts` is
 * copied; NULL: the defaults. Initialises libcurl globally on first use
 * (call curl_global_init early in main if other threads exist). */
struct pw_deliver *pw_deliver_new(struct pw_outbox *outbox,
                                  const struct pw_receivers *receivers,
                                  rd_kafka_t *rk,
                                  const struct pw_deliver_options *opts,
                                  struct pw_err *err);
/* Stops: transfers in flight are abandoned (their rows stay pending and are
 * sent after a restart). With a Kafka producer, rd_kafka_flush it first:
 * a delivery report after pw_deliver_free must not reach
 * pw_deliver_kafka_report. */
void pw_deliver_free(struct pw_deliver *d);

/* One step: records finished transfers, starts due deliveries (up to the
 * in-flight limit and the receivers' rate limits), and waits for network
 * activity at most max_wait_ms (0: does not block), never past the next
 * due retry. `now_ns` is wall-clock Unix ns (pw_realtime_ns()): retry times
 * are stored in the outbox and must survive a restart. Returns 0, or -1
 * with err set when the outbox cannot be read or written (deliveries are
 * then retried at the next step). */
int pw_deliver_poll(struct pw_deliver *d, int64_t now_ns, int max_wait_ms,
                    struct pw_err *err);

/* The Kafka producer's delivery-report callback forwards each report here
 * first: returns true if the message was an alert delivery (then recorded),
 * false if it belongs to the caller. */
bool pw_deliver_kafka_report(struct pw_deliver *d, const rd_kafka_message_t *m);

/* Milliseconds until the next thing to do (a due retry, a token), at most
 * cap_ms: a hint for an event loop that polls other things too. */
int pw_deliver_next_wakeup_ms(struct pw_deliver *d, int64_t now_ns,
                              int cap_ms);

/* Counters (pending is read from the outbox: a small query). */
void pw_deliver_get_stats(struct pw_deliver *d, struct pw_deliver_stats *out);

/* The counters in Prometheus text format (pipewatch_alert_deliveries_*). */
void pw_deliver_write_metrics(struct pw_deliver *d, FILE *out);

/* Parses a Retry-After value: delta seconds ("120") or an HTTP date ("Wed,
 * 21 Oct 2015 07:28:00 GMT"), the delay from now_s (Unix seconds) clamped
 * to >= 0. Returns 0 or -1 (unparseable). */
int pw_retry_after_parse(const char *value, int64_t now_s, int64_t *delay_s);

/* The full-jitter backoff for the attempt-th failure (1-based): a uniform
 * delay in [0, min(max_ms, initial_ms * 2^(attempt-1))], from `rnd`
 * (uniform in [0, 1)). */
int64_t pw_backoff_ms(int64_t attempt, int64_t initial_ms, int64_t max_ms,
                      double rnd);

#endif
