/* analyzer/rules.c — the rule language (see rules.h). A small hand-written
 * scanner: the grammar is four fixed shapes, and a parser generator would
 * cost more than it saves. */
#include "analyzer/rules.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

const char *pw_rule_kind_name(enum pw_rule_kind k)
{
    switch (k) {
    case PW_RULE_FORECAST: return "forecast";
    case PW_RULE_ANOMALY: return "anomaly";
    case PW_RULE_LOG_BURST: return "log_burst";
    }
    return "unknown";
}

struct scan {
    const char *s;
    size_t pos;
    struct pw_err *err;
};

static void skip_ws(struct scan *sc)
{
    while (sc->s[sc->pos] == ' ' || sc->s[sc->pos] == '\t')
        sc->pos++;
}

static int fail(struct scan *sc, const char *what)
{
    const char *at = sc->s + sc->pos;
    if (!*at)
        return pw_err_set(sc->err, "column %zu: %s, got the end of the rule",
                          sc->pos + 1, what);
    return pw_err_set(sc->err, "column %zu: %s, got \"%.20s\"", sc->pos + 1,
                      what, at);
}

/* A bare word: letters, digits, '_', '-', '.', ':' (metric names). */
static size_t word_len(const char *p)
{
    size_t n = 0;
    while (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-' ||
           p[n] == '.' || p[n] == ':')
        n++;
    return n;
}

static int keyword(struct scan *sc, const char *kw)
{
    skip_ws(sc);
    size_t n = strlen(kw);
    if (strncmp(sc->s + sc->pos, kw, n) == 0 && word_len(sc->s + sc->pos) == n) {
        sc->pos += n;
        return 0;
    }
    char what[64];
    snprintf(what, sizeof what, "expected \"%s\"", kw);
    return fail(sc, what);
}

static char *take_word(struct scan *sc, const char *what)
{
    skip_ws(sc);
    size_t n = word_len(sc->s + sc->pos);
    if (n == 0) {
        fail(sc, what);
        return NULL;
    }
    char *w = strndup(sc->s + sc->pos, n);
    if (!w)
        pw_err_set(sc->err, "out of memory");
    sc->pos += n;
    return w;
}

static int take_number(struct scan *sc, double *out)
{
    skip_ws(sc);
    const char *start = sc->s + sc->pos;
    if (!(isdigit((unsigned char)*start) || *start == '-' || *start == '+' ||
          *start == '.'))
        return fail(sc, "expected a number");
    char *end;
    errno = 0;
    double v = strtod(start, &end);
    /* strtod accepts "inf", "nan" and hex: a threshold is none of those. */
    if (end == start || errno == ERANGE || !isfinite(v))
        return fail(sc, "expected a finite number");
    for (const char *p = start; p < end; p++)
        if (*p == 'x' || *p == 'X')
            return fail(sc, "expected a decimal number");
    if (word_len(end) > 0)
        return fail(sc, "expected a number followed by a space");
    sc->pos += (size_t)(end - start);
    *out = v;
    return 0;
}

static int take_duration(struct scan *sc, int64_t *out)
{
    skip_ws(sc);
    size_t n = word_len(sc->s + sc->pos);
    char text[32];
    if (n == 0 || n >= sizeof text)
        return fail(sc, "expected a duration such as \"40m\" or \"6h\"");
    memcpy(text, sc->s + sc->pos, n);
    text[n] = 0;
    struct pw_err e;
    if (pw_parse_duration_ms(text, out, &e) < 0 || *out <= 0)
        return fail(sc, "expected a positive duration such as \"40m\" or \"6h\"");
    sc->pos += n;
    return 0;
}

static int take_op(struct scan *sc, bool *rising, bool allow_lt)
{
    skip_ws(sc);
    char c = sc->s[sc->pos];
    if (c == '>' || (allow_lt && c == '<')) {
        *rising = c == '>';
        sc->pos++;
        return 0;
    }
    return fail(sc, allow_lt ? "expected \">\" or \"<\"" : "expected \">\"");
}

static int at_end(struct scan *sc)
{
    skip_ws(sc);
    if (sc->s[sc->pos])
        return fail(sc, "expected the end of the rule");
    return 0;
}

/* Escapes as a series key does (line protocol tag escaping: , = space). */
static void escape_into(char *out, size_t *o, const char *s)
{
    for (; *s; s++) {
        if (*s == ',' || *s == '=' || *s == ' ')
            out[(*o)++] = '\\';
        out[(*o)++] = *s;
    }
}

static int make_needle(struct pw_rule_tag *t, struct pw_err *err)
{
    size_t cap = 2 * (strlen(t->key) + strlen(t->value)) + 3;
    t->needle = malloc(cap);
    if (!t->needle)
        return pw_err_set(err, "out of memory");
    size_t o = 0;
    t->needle[o++] = ',';
    escape_into(t->needle, &o, t->key);
    t->needle[o++] = '=';
    escape_into(t->needle, &o, t->value);
    t->needle[o] = 0;
    return 0;
}

/* {key="value",key2="value2"} */
static int take_tags(struct pw_rule *r, struct scan *sc)
{
    sc->pos++;   /* '{' */
    for (;;) {
        skip_ws(sc);
        if (sc->s[sc->pos] == '}' && r->ntags > 0) {
            sc->pos++;
            return 0;
        }
        if (r->ntags == PW_RULE_MAX_TAGS)
            return fail(sc, "too many tags in the filter (at most 8)");
        struct pw_rule_tag *t = &r->tags[r->ntags];
        if (!(t->key = take_word(sc, "expected a tag name")))
            return -1;
        r->ntags++;
        skip_ws(sc);
        if (sc->s[sc->pos] != '=')
            return fail(sc, "expected \"=\"");
        sc->pos++;
        skip_ws(sc);
        if (sc->s[sc->pos] != '"')
            return fail(sc, "expected a quoted tag value");
        sc->pos++;
        const char *start = sc->s + sc->pos;
        const char *q = strchr(start, '"');
        if (!q)
            return fail(sc, "expected a closing quote");
        if (q == start)
            return fail(sc, "expected a non-empty tag value");
        if (!(t->value = strndup(start, (size_t)(q - start))))
            return pw_err_set(sc->err, "out of memory");
        if (make_needle(t, sc->err) < 0)
            return -1;
        sc->pos += (size_t)(q - start) + 1;
        skip_ws(sc);
        if (sc->s[sc->pos] == ',') {
            sc->pos++;
            continue;
        }
        if (sc->s[sc->pos] == '}') {
            sc->pos++;
            return 0;
        }
        return fail(sc, "expected \",\" or \"}\"");
    }
}

static int parse_forecast(struct pw_rule *r, struct scan *sc)
{
    r->kind = PW_RULE_FORECAST;
    char *metric = take_word(sc, "expected a metric (measurement.field), "
                                 "\"anomaly\" or \"log\"");
    if (!metric)
        return -1;
    char *dot = strrchr(metric, '.');
    if (!dot || dot == metric || !dot[1]) {
        free(metric);
        sc->pos = 0;
        skip_ws(sc);
        return fail(sc, "expected a metric as measurement.field");
    }
    r->measurement = strndup(metric, (size_t)(dot - metric));
    r->field = strdup(dot + 1);
    free(metric);
    if (!r->measurement || !r->field)
        return pw_err_set(sc->err, "out of memory");
    if (sc->s[sc->pos] == '{' && take_tags(r, sc) < 0)
        return -1;
    if (take_op(sc, &r->rising, true) < 0 || take_number(sc, &r->threshold) < 0 ||
        keyword(sc, "within") < 0 || take_duration(sc, &r->horizon_ms) < 0)
        return -1;
    return at_end(sc);
}

static int parse_anomaly(struct pw_rule *r, struct scan *sc)
{
    r->kind = PW_RULE_ANOMALY;
    r->rising = true;
    if (take_op(sc, &r->rising, false) < 0)
        return -1;
    skip_ws(sc);
    if (strncmp(sc->s + sc->pos, "calibrated", 10) == 0 &&
        word_len(sc->s + sc->pos) == 10) {
        sc->pos += 10;
        r->threshold = NAN;
    } else {
        if (take_number(sc, &r->threshold) < 0)
            return -1;
        if (!(r->threshold > 0 && r->threshold < 1)) {
            sc->pos = 0;
            return pw_err_set(sc->err, "an anomaly score threshold is in (0, 1), "
                              "got %g", r->threshold);
        }
    }
    return at_end(sc);
}

static int parse_log(struct pw_rule *r, struct scan *sc)
{
    r->kind = PW_RULE_LOG_BURST;
    if (keyword(sc, "category") < 0)
        return -1;
    if (!(r->category = take_word(sc, "expected a log category name")))
        return -1;
    bool rising;
    double n;
    if (take_op(sc, &rising, false) < 0 || take_number(sc, &n) < 0)
        return -1;
    if (n < 0 || n > 100000 || n != floor(n))
        return pw_err_set(sc->err, "a log burst count is a whole number in "
                          "[0, 100000], got %g", n);
    r->count = (uint32_t)n;
    if (keyword(sc, "per") < 0 || take_duration(sc, &r->window_ms) < 0)
        return -1;
    return at_end(sc);
}

int pw_rule_parse(const char *text, struct pw_rule *r, struct pw_err *err)
{
    memset(r, 0, sizeof *r);
    r->threshold = NAN;
    if (!text)
        return pw_err_set(err, "column 1: expected a rule");
    struct scan sc = {text, 0, err};
    skip_ws(&sc);
    const char *p = text + sc.pos;
    size_t n = word_len(p);
    if (n == 7 && strncmp(p, "anomaly", 7) == 0) {
        sc.pos += n;
        return parse_anomaly(r, &sc);
    }
    if (n == 3 && strncmp(p, "log", 3) == 0) {
        sc.pos += n;
        return parse_log(r, &sc);
    }
    return parse_forecast(r, &sc);
}

void pw_rule_release(struct pw_rule *r)
{
    if (!r)
        return;
    free(r->measurement);
    free(r->field);
    free(r->category);
    for (size_t i = 0; i < r->ntags; i++) {
        free(r->tags[i].key);
        free(r->tags[i].value);
        free(r->tags[i].needle);
    }
    memset(r, 0, sizeof *r);
}

/* Whether needle occurs in the tag part of the series key followed by the
 * end of the tag (',' or ' ', unescaped). */
static bool has_tag(const char *series, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl < len; i++) {
        if (series[i] == ' ' && (i == 0 || series[i - 1] != '\\'))
            return false;     /* the tags end at the first unescaped space */
        if (memcmp(series + i, needle, nl) == 0 &&
            (i == 0 || series[i - 1] != '\\') &&
            (series[i + nl] == ',' || series[i + nl] == ' '))
            return true;
    }
    return false;
}

bool pw_rule_matches_series(const struct pw_rule *r, const char *meas,
                            size_t meas_len, const char *field,
                            size_t field_len, const char *series,
                            size_t series_len)
{
    if (r->kind != PW_RULE_FORECAST)
        return false;
    if (strlen(r->measurement) != meas_len ||
        memcmp(r->measurement, meas, meas_len) != 0 ||
        strlen(r->field) != field_len || memcmp(r->field, field, field_len) != 0)
        return false;
    for (size_t i = 0; i < r->ntags; i++)
        if (!has_tag(series, series_len, r->tags[i].needle))
            return false;
    return true;
}

static void fmt_duration(int64_t ms, char *out, size_t size)
{
    static const struct { int64_t ms; const char *unit; } units[] = {
        {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (ms % units[i].ms == 0) {
            snprintf(out, size, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
}

void pw_rule_format(const struct pw_rule *r, char *out, size_t size)
{
    char d[32] = "";
    size_t o = 0;
    out[0] = 0;
    switch (r->kind) {
    case PW_RULE_FORECAST:
        fmt_duration(r->horizon_ms, d, sizeof d);
        o += (size_t)snprintf(out, size, "%s.%s", r->measurement, r->field);
        for (size_t i = 0; i < r->ntags && o < size; i++)
            o += (size_t)snprintf(out + o, size - o, "%s%s=\"%s\"%s",
                                  i ? "," : "{", r->tags[i].key, r->tags[i].value,
                                  i + 1 == r->ntags ? "}" : "");
        if (o < size)
            snprintf(out + o, size - o, " %c %.17g within %s", r->rising ? '>' : '<',
                     r->threshold, d);
        break;
    case PW_RULE_ANOMALY:
        if (isnan(r->threshold))
            snprintf(out, size, "anomaly > calibrated");
        else
            snprintf(out, size, "anomaly > %.17g", r->threshold);
        break;
    case PW_RULE_LOG_BURST:
        fmt_duration(r->window_ms, d, sizeof d);
        snprintf(out, size, "log category %s > %u per %s", r->category, r->count, d);
        break;
    }
}
