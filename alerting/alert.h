/* alerting/alert.h — an alert and a notification, as Alertmanager has them.
 *
 * The shared contract of the alerting module. The analyzer turns each
 * prediction into a struct pw_alert; the dispatcher (routes, grouping,
 * inhibition, silences: alerting/dispatch.h) turns alerts into
 * notifications, one per aggregation group and receiver each time a group's
 * timer fires; the outbox and the receivers (alerting/outbox.h,
 * alerting/receiver.h) render a notification into a receiver's payload and
 * deliver it.
 *
 * Labels are kept sorted by name with unique names, so that equality,
 * matching and the fingerprint need no sorting at the point of use.
 * The fingerprint is Alertmanager's: FNV-1a 64 over the sorted labels, each
 * name and value followed by the byte 0xff (model.LabelSet.Fingerprint).
 */
#ifndef PW_ALERT_H
#define PW_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct pw_label {
    char *name;
    char *value;
};

/* A set of labels (or annotations): sorted by name, names unique, both
 * strings owned by the set. */
struct pw_labels {
    struct pw_label *v;
    size_t n;
};

/* Sets name=value, replacing an existing value; keeps the order. An empty
 * value removes the label, as in Prometheus. Returns 0 or -1 (out of
 * memory, in err). */
int pw_labels_set(struct pw_labels *ls, const char *name, const char *value,
                  struct pw_err *err);
/* The value of `name`, or NULL. */
const char *pw_labels_get(const struct pw_labels *ls, const char *name);
int pw_labels_copy(struct pw_labels *dst, const struct pw_labels *src,
                   struct pw_err *err);
void pw_labels_free(struct pw_labels *ls);
/* Alertmanager's LabelSet fingerprint (see above). */
uint64_t pw_labels_fingerprint(const struct pw_labels *ls);

enum pw_alert_status { PW_ALERT_FIRING, PW_ALERT_RESOLVED };

struct pw_alert {
    struct pw_labels labels;        /* identity: alertname, entity, rule,
                                       severity, kind, ... */
    struct pw_labels annotations;   /* summary, description, eta, evidence
                                       (JSON text), confidence */
    int64_t starts_at_ns;           /* Unix ns */
    int64_t ends_at_ns;             /* 0 while firing with no end known */
    enum pw_alert_status status;
    uint64_t fingerprint;           /* pw_labels_fingerprint(&labels) */
    char *generator_url;            /* may be NULL */
};

void pw_alert_free(struct pw_alert *a);
int pw_alert_copy(struct pw_alert *dst, const struct pw_alert *src,
                  struct pw_err *err);

/* What a group's timer produces for one receiver: the group's alerts at
 * that moment (firing and newly resolved), borrowed for the duration of the
 * call that hands it over. */
struct pw_notification {
    const char *receiver;           /* receiver name from the configuration */
    const char *group_key;          /* Alertmanager's groupKey:
                                       route path + "{}:" + group labels */
    const struct pw_labels *group_labels;
    const struct pw_alert *alerts;
    size_t n_alerts;
    /* The same notification (same receiver, group, alerts and statuses, and
     * the same repeat slot) always has the same key, so that a notification
     * formed twice (a crash between forming and recording it) is stored and
     * delivered once: the outbox is unique on it, and receivers see it in
     * every payload to drop the rare duplicate. */
    const char *idempotency_key;
    int64_t now_ns;
};

#endif
