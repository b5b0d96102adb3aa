/* tests/unit/alerting_fixture.h — alerts and notifications for the alerting
 * tests, built with the tests' own label helpers (alerting/alert.c belongs
 * to another module; these names do not clash with alert.h's). */
#ifndef PW_ALERTING_FIXTURE_H
#define PW_ALERTING_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/alert.h"

/* Sets name=value keeping the labels sorted (replaces an existing name). */
static inline void fx_set(struct pw_labels *ls, const char *name,
                          const char *value)
{
    size_t i = 0;
    while (i < ls->n && strcmp(ls->v[i].name, name) < 0)
        i++;
    if (i < ls->n && strcmp(ls->v[i].name, name) == 0) {
        free(ls->v[i].value);
        ls->v[i].value = strdup(value);
        return;
    }
    ls->v = realloc(ls->v, (ls->n + 1) * sizeof *ls->v);
    memmove(&ls->v[i + 1], &ls->v[i], (ls->n - i) * sizeof *ls->v);
    ls->v[i].name = strdup(name);
    ls->v[i].value = strdup(value);
    ls->n++;
}

static inline void fx_labels_free(struct pw_labels *ls)
{
    for (size_t i = 0; i < ls->n; i++) {
        free(ls->v[i].name);
        free(ls->v[i].value);
    }
    free(ls->v);
    ls->v = NULL;
    ls->n = 0;
}

/* An alert as the analyzer makes it, for `entity`. */
static inline void fx_alert(struct pw_alert *a, const char *alertname,
                            const char *entity, bool firing)
{
    memset(a, 0, sizeof *a);
    fx_set(&a->labels, "alertname", alertname);
    fx_set(&a->labels, "entity", entity);
    fx_set(&a->labels, "kind", "forecast");
    fx_set(&a->labels, "rule", "fs.used_percent > 95 within 6h");
    fx_set(&a->labels, "severity", "critical");
    fx_set(&a->annotations, "summary", "The disk will be full");
    fx_set(&a->annotations, "eta_seconds", "12000");
    fx_set(&a->annotations, "confidence", "0.87");
    fx_set(&a->annotations, "evidence", "{\"last\":91.5,\"series\":\"fs\"}");
    a->starts_at_ns = 1764858600000000000LL;   /* 2025-12-04T14:30:00Z */
    a->ends_at_ns = firing ? 0 : 1764862200500000000LL;
    a->status = firing ? PW_ALERT_FIRING : PW_ALERT_RESOLVED;
    a->fingerprint = 0x0123456789abcdefULL;
    a->generator_url = strdup("http://pipewatch.test/p/1");
}

static inline void fx_alert_free(struct pw_alert *a)
{
    fx_labels_free(&a->labels);
    fx_labels_free(&a->annotations);
    free(a->generator_url);
    memset(a, 0, sizeof *a);
}

#endif
