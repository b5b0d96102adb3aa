/* analyzer/rules.h — prediction rules: what the analyzer looks for.
 *
 * A rule is one line of text in the configuration, in one of three forms:
 *
 *   METRIC[{TAG="V",…}] > NUMBER within DURATION      a forecast breach
 *   METRIC[{TAG="V",…}] < NUMBER within DURATION      (falling toward it)
 *   anomaly > calibrated | anomaly > NUMBER           an entity anomaly
 *   log category NAME > COUNT per DURATION            a log burst
 *
 * METRIC is measurement.field (split at the last dot, so a measurement
 * may hold dots: "airflow.dagrun.duration.value" is measurement
 * "airflow.dagrun.duration", field "value"). A tag filter keeps the series
 * whose tags have exactly those values (disk.used_percent{path="/"}).
 * NUMBER is a decimal or exponent literal (95, 1e6, 0.5); DURATION as in
 * the configuration ("90s", "40m", "6h", "1d"). Keywords are lowercase;
 * spaces separate tokens and may be repeated.
 *
 * Examples from the issue: "fs.used_percent > 95 within 6h",
 * "kafka_lag.lag > 1e6 within 1h", "anomaly > calibrated",
 * "log category out_of_memory > 3 per 5m".
 *
 * Parsing never trusts its input (rules come from files people edit): an
 * error says the column and what was expected there. */
#ifndef PW_ANALYZER_RULES_H
#define PW_ANALYZER_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum pw_rule_kind {
    PW_RULE_FORECAST,     /* a series crossing a threshold within a horizon */
    PW_RULE_ANOMALY,      /* the entity's isolation-forest score */
    PW_RULE_LOG_BURST,    /* a log category counted in a sliding window */
};

#define PW_RULE_MAX_TAGS 8

struct pw_rule_tag {
    char *key;
    char *value;
    char *needle;           /* ",key=value" escaped as in a series key */
};

struct pw_rule {
    enum pw_rule_kind kind;
    /* forecast */
    char *measurement;
    char *field;
    struct pw_rule_tag tags[PW_RULE_MAX_TAGS];
    size_t ntags;
    bool rising;            /* '>' (true) or '<' */
    double threshold;       /* forecast and anomaly (NAN = calibrated) */
    int64_t horizon_ms;     /* forecast: "within" */
    /* log burst */
    char *category;
    uint32_t count;         /* more than this many ... */
    int64_t window_ms;      /* ... per this window */
};

/* "forecast", "anomaly", "log_burst"; never NULL. */
const char *pw_rule_kind_name(enum pw_rule_kind k);

/* Parses text into r (which the caller releases with pw_rule_release,
 * also after a failure). 0, or -1 with err = "column N: what". */
int pw_rule_parse(const char *text, struct pw_rule *r, struct pw_err *err);
void pw_rule_release(struct pw_rule *r);

/* Whether a sample is one the forecast rule watches: same measurement and
 * field, and every tag of the filter present with its value in the
 * sample's series key (analyzer/ingest.h: "m,k1=v1,k2=v2 field", escaped
 * as line protocol escapes it). */
bool pw_rule_matches_series(const struct pw_rule *r, const char *meas,
                            size_t meas_len, const char *field,
                            size_t field_len, const char *series,
                            size_t series_len);

/* Writes the rule back in its canonical text form. */
void pw_rule_format(const struct pw_rule *r, char *out, size_t size);

#endif
