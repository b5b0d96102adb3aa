/* analyzer/alertmap.h — a prediction as an Alertmanager-style alert.
 *
 * What the analyzer hands to alerting (alerting/alert.h) for each
 * prediction event:
 *
 *   labels       alertname (the rule's name), entity, severity, kind
 *                (forecast_breach, anomaly, log_burst), rule (its canonical
 *                expression) and, for forecasts, series (the series key):
 *                the same prediction always has the same labels, so the
 *                same Alertmanager fingerprint;
 *   annotations  summary, confidence ("0.93"), eta_seconds (forecasts),
 *                evidence (the record's evidence object as JSON text),
 *                prediction_fingerprint (the record's own fingerprint);
 *   startsAt     when the prediction first fired (data time);
 *   endsAt       when it resolved (0 while firing);
 *   generatorURL external_url + "/api/v1/predictions" when configured.
 *
 * Receivers (alerting/receiver.h) render these into Slack and webhook
 * bodies. */
#ifndef PW_ANALYZER_ALERTMAP_H
#define PW_ANALYZER_ALERTMAP_H

#include "alerting/alert.h"
#include "analyzer/engine.h"
#include "common/err.h"

/* Fills *out (released with pw_alert_free, also after a failure).
 * external_url may be NULL. 0, or -1 with err. */
int pw_alert_from_prediction(const struct pw_prediction *p, const char *external_url,
                             struct pw_alert *out, struct pw_err *err);

#endif
