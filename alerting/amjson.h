/* alerting/amjson.h — the pieces of Alertmanager's JSON that the alerting
 * module's API shapes share: RFC 3339 times, label sets as objects, an
 * alert's stored form.
 */
#ifndef PW_AMJSON_H
#define PW_AMJSON_H

#include <jansson.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "common/err.h"

#define PW_AM_TIME_LEN 80

/* Unix ns as "2026-12-04T14:30:00.123Z" (UTC, milliseconds, as
 * Alertmanager's API writes them). */
void pw_am_time_format(int64_t ns, char out[PW_AM_TIME_LEN]);
/* Parses RFC 3339: "2026-12-04T14:30:00Z", with optional fraction (up to
 * nanoseconds) and a Z or +hh:mm / -hh:mm offset. Returns 0 or -1. */
int pw_am_time_parse(const char *text, int64_t *ns);

/* {"name": "value", ...}; NULL when out of memory. */
json_t *pw_am_labels_json(const struct pw_labels *ls);
/* Fills `out` (emptied first) from an object of strings. `what` names the
 * field in messages ("labels"). Returns 0 or -1. */
int pw_am_labels_from_json(const json_t *obj, const char *what,
                           struct pw_labels *out, struct pw_err *err);

/* An alert as the dispatcher stores it (ns-exact). */
json_t *pw_am_alert_store_json(const struct pw_alert *a);
int pw_am_alert_from_store_json(const json_t *obj, struct pw_alert *out,
                                struct pw_err *err);

#endif
