/* alerting/amjson.c — Alertmanager JSON helpers (contract: amjson.h). */
#include "alerting/amjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void pw_am_time_format(int64_t ns, char out[PW_AM_TIME_LEN])
{
    int64_t s = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, PW_AM_TIME_LEN, "0001-01-01T00:00:00.000Z");
        return;
    }
    snprintf(out, PW_AM_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(rem / 1000000));
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int pw_am_time_parse(const char *text, int64_t *ns)
{
    if (!text)
        return -1;
    const char *p = text;
    int Y, M, D, h, m, s;
    if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) ||
        *p++ != '-' || digits(&p, 2, &D) || (*p != 'T' && *p != 't'))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &m) ||
        *p++ != ':' || digits(&p, 2, &s))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60)
        return -1;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 9) {
                frac = frac * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0)
            return -1;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    int64_t secs = days_from_civil(Y, M, D) * 86400 + h * 3600 + m * 60 + s -
                   off;
    if (secs > INT64_MAX / 1000000000 - 1 || secs < INT64_MIN / 1000000000 + 1)
        return -1;
    *ns = secs * 1000000000 + frac;
    return 0;
}

json_t *pw_am_labels_json(const struct pw_labels *ls)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < ls->n; i++)
        if (json_object_set_new(o, ls->v[i].name,
                                json_string(ls->v[i].value)) < 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

int pw_am_labels_from_json(const json_t *obj, const char *what,
                           struct pw_labels *out, struct pw_err *err)
{
    pw_labels_free(out);
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return pw_err_set(err, "%s must be an object of names to strings",
                          what);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!json_is_string(v)) {
            pw_labels_free(out);
            return pw_err_set(err, "%s.%.64s must be a string", what, k);
        }
        if (pw_labels_set(out, k, json_string_value(v), err) < 0) {
            pw_labels_free(out);
            return pw_err_prefix(err, "%s", what);
        }
    }
    return 0;
}

json_t *pw_am_alert_store_json(const struct pw_alert *a)
{
    json_t *o = json_pack("{s:o?, s:o?, s:I, s:I, s:s, s:s?}",
                          "labels", pw_am_labels_json(&a->labels),
                          "annotations", pw_am_labels_json(&a->annotations),
                          "startsAtNs", (json_int_t)a->starts_at_ns,
                          "endsAtNs", (json_int_t)a->ends_at_ns,
                          "status", a->status == PW_ALERT_RESOLVED
                                        ? "resolved" : "firing",
                          "generatorURL", a->generator_url);
    return o;
}

int pw_am_alert_from_store_json(const json_t *obj, struct pw_alert *out,
                                struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    json_t *l = json_object_get(obj, "labels");
    json_t *an = json_object_get(obj, "annotations");
    json_t *st = json_object_get(obj, "status");
    json_t *gu = json_object_get(obj, "generatorURL");
    if (pw_am_labels_from_json(l, "labels", &out->labels, err) < 0 ||
        pw_am_labels_from_json(an, "annotations", &out->annotations,
                               err) < 0)
        goto fail;
    out->starts_at_ns = json_integer_value(json_object_get(obj, "startsAtNs"));
    out->ends_at_ns = json_integer_value(json_object_get(obj, "endsAtNs"));
    out->status = st && json_is_string(st) &&
                          strcmp(json_string_value(st), "resolved") == 0
                      ? PW_ALERT_RESOLVED : PW_ALERT_FIRING;
    if (gu && json_is_string(gu) &&
        !(out->generator_url = strdup(json_string_value(gu)))) {
        pw_err_set(err, "out of memory reading an alert");
        goto fail;
    }
    out->fingerprint = pw_labels_fingerprint(&out->labels);
    return 0;
fail:
    pw_alert_free(out);
    return -1;
}
