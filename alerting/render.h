/* alerting/render.h — a notification rendered into a receiver's payload.
 *
 * Pure functions (no I/O, no clock, no globals): a notification and a few
 * options in, a malloc'd NUL-terminated text out. Whatever bytes the labels
 * and annotations hold, the JSON payloads are valid JSON in UTF-8 (invalid
 * UTF-8 sequences become U+FFFD), which tests/fuzz/fuzz_alert_render.c
 * checks.
 *
 * What the analyzer puts in an alert (the contract these renderers read):
 *   labels       alertname  the rule's name          ("DiskWillFill")
 *                entity     what the prediction is about ("db-1")
 *                rule       the rule's expression
 *                kind       forecast_breach | anomaly | log_burst
 *                severity   critical | warning | info
 *   annotations  summary       one human sentence
 *                description   more detail (optional)
 *                eta_seconds   seconds from now to the predicted failure,
 *                              a decimal number (absent: no ETA)
 *                confidence    a probability in [0, 1] ("0.87"), or text
 *                evidence      JSON text: an object whose members are shown
 *                              as "name: value" (other JSON or plain text is
 *                              shown as it is)
 *   generator_url  a link to the prediction (the analyzer's API), optional
 * Missing labels or annotations are left out of the Slack message; the
 * webhook payload carries whatever is there.
 */
#ifndef PW_RENDER_H
#define PW_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "common/err.h"

struct pw_render_opts {
    const char *external_url;   /* Alertmanager's externalURL; may be NULL */
    size_t max_alerts;          /* 0: all; else the rest count in
                                   truncatedAlerts */
    bool send_resolved;         /* false: resolved alerts are left out */
    const char *channel;        /* Slack: may be NULL */
};

/* The generic webhook body: Alertmanager's webhook payload version 4
 *   {"version":"4","groupKey":…,"truncatedAlerts":0,"status":"firing",
 *    "receiver":…,"groupLabels":{…},"commonLabels":{…},
 *    "commonAnnotations":{…},"externalURL":…,
 *    "alerts":[{"status","labels","annotations","startsAt","endsAt",
 *               "generatorURL","fingerprint"}],
 *    "idempotencyKey":…}
 * Times are RFC 3339 in UTC (Go's RFC3339Nano form); endsAt is
 * "0001-01-01T00:00:00Z" while unknown; the fingerprint is 16 hex digits.
 * Each of the render functions returns 0 with *out set (the caller frees
 * it), 0 with *out NULL when there is nothing to send (every alert resolved
 * and send_resolved false, as Alertmanager skips it), or -1 with err set. */
int pw_render_webhook(const struct pw_notification *n,
                      const struct pw_render_opts *o, char **out,
                      struct pw_err *err);

/* A Slack incoming-webhook message in Block Kit: a header
 * ("[FIRING:2] CRITICAL db-1 DiskWillFill"), then per alert (at most 10,
 * a context line counts the rest) a section with the summary, the ETA in
 * words, the confidence, a section with the evidence, and a link to
 * generatorURL; a plain `text` fallback for notifications. */
int pw_render_slack(const struct pw_notification *n,
                    const struct pw_render_opts *o, char **out,
                    struct pw_err *err);

/* The log receiver's text: one line per alert, each ending in '\n':
 * `alert firing receiver=R key=K alertname=… entity=… severity=… eta=…
 * summary="…"`; control characters are replaced by spaces. */
int pw_render_log(const struct pw_notification *n,
                  const struct pw_render_opts *o, char **out,
                  struct pw_err *err);

/* "in 3 h 20 min", "in 45 s", "in 2 d 4 h", "now" (seconds <= 0), into out
 * (always NUL-terminated when n > 0). */
void pw_eta_words(double seconds, char *out, size_t n);

/* Unix ns as RFC 3339 UTC with the fraction Go would print
 * ("2026-12-04T14:30:00.25Z"); 0 gives "0001-01-01T00:00:00Z".
 * out must hold 40 bytes. */
void pw_rfc3339(int64_t unix_ns, char *out, size_t n);

#endif
