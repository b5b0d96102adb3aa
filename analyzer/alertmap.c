/* analyzer/alertmap.c — a prediction as an alert (see alertmap.h). The
 * evidence is taken from the prediction's own JSON record, so that the
 * alert and the pipewatch.predictions record can never disagree. */
#include "analyzer/alertmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int pw_alert_from_prediction(const struct pw_prediction *p, const char *external_url,
                             struct pw_alert *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    char num[64];
    if (pw_labels_set(&out->labels, "alertname", p->rule, err) < 0 ||
        pw_labels_set(&out->labels, "entity", p->entity, err) < 0 ||
        pw_labels_set(&out->labels, "severity", p->severity ? p->severity : "warning",
                      err) < 0 ||
        pw_labels_set(&out->labels, "kind",
                      p->kind == PW_RULE_FORECAST  ? "forecast_breach"
                      : p->kind == PW_RULE_ANOMALY ? "anomaly"
                                                   : "log_burst",
                      err) < 0 ||
        pw_labels_set(&out->labels, "rule", p->expr ? p->expr : "", err) < 0 ||
        (p->series && pw_labels_set(&out->labels, "series", p->series, err) < 0))
        return -1;
    snprintf(num, sizeof num, "%.2f", isnan(p->confidence) ? 0.0 : p->confidence);
    if (pw_labels_set(&out->annotations, "summary", p->summary ? p->summary : "", err) < 0 ||
        pw_labels_set(&out->annotations, "confidence", num, err) < 0 ||
        pw_labels_set(&out->annotations, "prediction_fingerprint", p->fingerprint, err) < 0)
        return -1;
    if (isfinite(p->eta_s)) {
        snprintf(num, sizeof num, "%.0f", p->eta_s);
        if (pw_labels_set(&out->annotations, "eta_seconds", num, err) < 0)
            return -1;
    }
    if (p->json) {
        json_t *rec = json_loads(p->json, 0, NULL);
        json_t *ev = rec ? json_object_get(rec, "evidence") : NULL;
        /* As the record writes its numbers: not jansson's 17 digits. */
        char *text = ev ? json_dumps(ev, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        int rc = text ? pw_labels_set(&out->annotations, "evidence", text, err) : 0;
        free(text);
        json_decref(rec);
        if (rc < 0)
            return -1;
    }
    out->starts_at_ns = p->first_seen_ns ? p->first_seen_ns : p->at_ns;
    out->status = p->status == PW_PRED_RESOLVED ? PW_ALERT_RESOLVED : PW_ALERT_FIRING;
    out->ends_at_ns = p->status == PW_PRED_RESOLVED ? p->at_ns : 0;
    out->fingerprint = pw_labels_fingerprint(&out->labels);
    if (external_url && *external_url) {
        size_t len = strlen(external_url);
        while (len && external_url[len - 1] == '/')
            len--;
        size_t n = len + 32;
        if (!(out->generator_url = malloc(n)))
            return pw_err_set(err, "out of memory");
        snprintf(out->generator_url, n, "%.*s/api/v1/predictions", (int)len, external_url);
    }
    return 0;
}
