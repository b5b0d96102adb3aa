/* collectors/promtext.c — the Prometheus / OpenMetrics text parser
 * (contract: promtext.h).
 *
 * Why it is built this way. Exporters are written by many hands and served
 * by processes we do not control, so the parser trusts nothing: it walks one
 * line at a time with explicit bounds, and a line it cannot read costs that
 * line only (counted, reported with its number, skipped). Scrapes repeat
 * every few seconds with thousands of samples each, so nothing is allocated
 * per sample: label slices point into the input, and only label values with
 * escapes are unescaped, into a scratch buffer sized once per longest line.
 * Which family a sample belongs to follows the last # TYPE line, as
 * Prometheus's own text parser does: `foo_bucket` after `# TYPE foo
 * histogram` is a bucket of foo, a series that matches no # TYPE is
 * untyped. */
#include "collectors/promtext.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_LABELS 256       /* more on one sample is an error */
#define MAX_NUMBER_CHARS 63  /* longest value or timestamp token */

/* One line being parsed. */
struct cursor {
    const char *start, *p, *end;
    int line;
};

struct ctx {
    struct pw_prom_parser *P;
    struct pw_prom_stats *stats;
    pw_prom_error_fn on_error;
    void *user;
};

const char *pw_prom_type_name(enum pw_prom_type t)
{
    switch (t) {
    case PW_PROM_UNTYPED: return "untyped";
    case PW_PROM_COUNTER: return "counter";
    case PW_PROM_GAUGE: return "gauge";
    case PW_PROM_HISTOGRAM: return "histogram";
    case PW_PROM_SUMMARY: return "summary";
    case PW_PROM_GAUGE_HISTOGRAM: return "gaugehistogram";
    case PW_PROM_INFO: return "info";
    case PW_PROM_STATESET: return "stateset";
    }
    return "?";
}

void pw_prom_parser_init(struct pw_prom_parser *p, bool openmetrics)
{
    memset(p, 0, sizeof *p);
    p->openmetrics = openmetrics;
}

void pw_prom_parser_release(struct pw_prom_parser *p)
{
    free(p->labels);
    free(p->scratch);
    bool om = p->openmetrics;
    memset(p, 0, sizeof *p);
    p->openmetrics = om;
}

static void report(struct ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(struct ctx *c, int line, const char *fmt, ...)
{
    char msg[sizeof c->stats->first_error];
    int n = snprintf(msg, sizeof msg, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof msg)
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    c->stats->errors++;
    if (c->stats->first_error_line == 0) {
        c->stats->first_error_line = line;
        memcpy(c->stats->first_error, msg, sizeof msg);
    }
    if (c->on_error)
        c->on_error(c->user, line, msg);
}

/* ---- tokens ------------------------------------------------------------ */

static bool is_blank(char ch) { return ch == ' ' || ch == '\t'; }

static void skip_blanks(struct cursor *k)
{
    while (k->p < k->end && is_blank(*k->p))
        k->p++;
}

static bool name_start(char ch, bool colon)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (colon && ch == ':');
}

static bool name_char(char ch, bool colon)
{
    return name_start(ch, colon) || (ch >= '0' && ch <= '9');
}

/* A metric name (colon allowed) or a label name; empty slice if none. */
static struct pw_str take_name(struct cursor *k, bool colon)
{
    struct pw_str s = {k->p, 0};
    if (k->p < k->end && name_start(*k->p, colon))
        while (k->p < k->end && name_char(*k->p, colon))
            k->p++;
    s.len = (size_t)(k->p - s.ptr);
    return s;
}

/* Up to the next blank. */
static struct pw_str take_word(struct cursor *k)
{
    struct pw_str s = {k->p, 0};
    while (k->p < k->end && !is_blank(*k->p))
        k->p++;
    s.len = (size_t)(k->p - s.ptr);
    return s;
}

static bool str_is(struct pw_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static bool str_ieq(struct pw_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && strncasecmp(s.ptr, lit, n) == 0;
}

/* A float as Prometheus writes them: decimal or exponent notation, NaN,
 * +Inf, -Inf (Go's ParseFloat is case-insensitive, and so are we). */
static bool parse_value(struct pw_str s, double *out)
{
    if (s.len == 0 || s.len > MAX_NUMBER_CHARS)
        return false;
    if (str_ieq(s, "nan")) {
        *out = NAN;
        return true;
    }
    if (str_ieq(s, "+inf") || str_ieq(s, "inf") || str_ieq(s, "+infinity") ||
        str_ieq(s, "infinity")) {
        *out = INFINITY;
        return true;
    }
    if (str_ieq(s, "-inf") || str_ieq(s, "-infinity")) {
        *out = -INFINITY;
        return true;
    }
    char tmp[MAX_NUMBER_CHARS + 1];
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    /* strtod also reads "nan(...)", "infinity" spellings and hex floats;
     * only digits, sign, point and exponent are let through. */
    for (size_t i = 0; i < s.len; i++)
        if (!strchr("0123456789+-.eE", tmp[i]))
            return false;
    char *endp;
    errno = 0;
    double v = strtod(tmp, &endp);
    if (endp != tmp + s.len || endp == tmp)
        return false;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL))
        return false;       /* "1e999" is not a value, it is a typo */
    *out = v;
    return true;
}

/* 0.0.4: integer milliseconds. OpenMetrics: seconds, maybe fractional. */
static bool parse_timestamp(struct pw_str s, bool seconds, int64_t *ms)
{
    if (s.len == 0 || s.len > MAX_NUMBER_CHARS)
        return false;
    char tmp[MAX_NUMBER_CHARS + 1];
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    char *endp;
    errno = 0;
    if (!seconds) {
        for (size_t i = 0; i < s.len; i++)
            if (!(tmp[i] >= '0' && tmp[i] <= '9') && !(i == 0 && (tmp[i] == '-' || tmp[i] == '+')))
                return false;
        long long v = strtoll(tmp, &endp, 10);
        if (errno == ERANGE || endp != tmp + s.len || endp == tmp)
            return false;
        *ms = v;
        return true;
    }
    double v;
    if (!parse_value(s, &v) || !isfinite(v) || fabs(v) > 9.2e15)
        return false;
    *ms = (int64_t)llround(v * 1000.0);
    return true;
}

/* ---- storage ----------------------------------------------------------- */

static bool reserve_scratch(struct pw_prom_parser *P, size_t need)
{
    if (need <= P->scratch_cap)
        return true;
    size_t cap = P->scratch_cap ? P->scratch_cap : 256;
    while (cap < need)
        cap *= 2;
    char *s = realloc(P->scratch, cap);
    if (!s)
        return false;
    P->scratch = s;
    P->scratch_cap = cap;
    return true;
}

static bool push_label(struct pw_prom_parser *P, size_t n)
{
    if (n < P->labels_cap)
        return true;
    size_t cap = P->labels_cap ? P->labels_cap * 2 : 16;
    struct pw_prom_label *l = realloc(P->labels, cap * sizeof *l);
    if (!l)
        return false;
    P->labels = l;
    P->labels_cap = cap;
    return true;
}

/* ---- families ---------------------------------------------------------- */

static void set_family(struct pw_prom_parser *P, struct pw_str name,
                       enum pw_prom_type type)
{
    size_t n = name.len < sizeof P->family ? name.len : 0;  /* too long: none */
    memcpy(P->family, name.ptr, n);
    P->family_len = n;
    P->family_type = type;
    P->unit_len = 0;
}

static bool parse_type(struct pw_str w, enum pw_prom_type *t)
{
    static const struct { const char *name; enum pw_prom_type type; } types[] = {
        {"counter", PW_PROM_COUNTER},     {"gauge", PW_PROM_GAUGE},
        {"histogram", PW_PROM_HISTOGRAM}, {"summary", PW_PROM_SUMMARY},
        {"untyped", PW_PROM_UNTYPED},     {"unknown", PW_PROM_UNTYPED},
        {"gaugehistogram", PW_PROM_GAUGE_HISTOGRAM},
        {"info", PW_PROM_INFO},           {"stateset", PW_PROM_STATESET},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (str_is(w, types[i].name)) {
            *t = types[i].type;
            return true;
        }
    return false;
}

struct suffix {
    const char *text;
    enum pw_prom_role role;
};

static const struct suffix *suffixes_of(enum pw_prom_type t)
{
    static const struct suffix counter[] = {
        {"_total", PW_PROM_VALUE}, {"_created", PW_PROM_CREATED}, {NULL, 0}};
    static const struct suffix histogram[] = {
        {"_bucket", PW_PROM_BUCKET}, {"_sum", PW_PROM_SUM},
        {"_count", PW_PROM_COUNT}, {"_created", PW_PROM_CREATED}, {NULL, 0}};
    static const struct suffix gaugehistogram[] = {
        {"_bucket", PW_PROM_BUCKET}, {"_gsum", PW_PROM_SUM},
        {"_gcount", PW_PROM_COUNT}, {NULL, 0}};
    static const struct suffix summary[] = {
        {"_sum", PW_PROM_SUM}, {"_count", PW_PROM_COUNT},
        {"_created", PW_PROM_CREATED}, {NULL, 0}};
    static const struct suffix info[] = {{"_info", PW_PROM_VALUE}, {NULL, 0}};
    switch (t) {
    case PW_PROM_COUNTER: return counter;
    case PW_PROM_HISTOGRAM: return histogram;
    case PW_PROM_GAUGE_HISTOGRAM: return gaugehistogram;
    case PW_PROM_SUMMARY: return summary;
    case PW_PROM_INFO: return info;
    default: return NULL;
    }
}

static const struct pw_prom_label *find_label(const struct pw_prom_label *l,
                                              size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (str_is(l[i].name, name))
            return &l[i];
    return NULL;
}

/* Which family `s->name` belongs to, and as what. */
static void classify(const struct pw_prom_parser *P, struct pw_prom_sample *s)
{
    struct pw_str fam = {P->family, P->family_len};
    s->family = s->name;
    s->type = PW_PROM_UNTYPED;
    s->role = PW_PROM_VALUE;
    s->unit = (struct pw_str){P->unit, 0};
    if (fam.len == 0 || s->name.len < fam.len ||
        memcmp(s->name.ptr, fam.ptr, fam.len) != 0)
        return;
    struct pw_str rest = {s->name.ptr + fam.len, s->name.len - fam.len};
    enum pw_prom_role role;
    if (rest.len == 0) {
        role = P->family_type == PW_PROM_SUMMARY &&
                       find_label(s->labels, s->nlabels, "quantile")
                   ? PW_PROM_QUANTILE : PW_PROM_VALUE;
    } else {
        const struct suffix *sx = suffixes_of(P->family_type);
        while (sx && sx->text && !str_is(rest, sx->text))
            sx++;
        if (!sx || !sx->text)
            return;
        role = sx->role;
    }
    s->family = fam;
    s->type = P->family_type;
    s->role = role;
    s->unit.len = P->unit_len;
}

/* ---- lines ------------------------------------------------------------- */

static void comment_line(struct ctx *c, struct cursor *k)
{
    struct pw_prom_parser *P = c->P;
    k->p++;                                   /* '#' */
    skip_blanks(k);
    struct pw_str kw = take_word(k);
    bool help = str_is(kw, "HELP"), type = str_is(kw, "TYPE"),
         unit = str_is(kw, "UNIT");
    if (!help && !type && !unit)
        return;                               /* an ordinary comment */
    skip_blanks(k);
    struct pw_str name = take_name(k, true);
    if (name.len == 0 || (k->p < k->end && !is_blank(*k->p))) {
        report(c, k->line, "# %.*s: expected a metric name", (int)kw.len, kw.ptr);
        return;
    }
    bool same = name.len == P->family_len &&
                memcmp(name.ptr, P->family, name.len) == 0;
    skip_blanks(k);
    if (type) {
        struct pw_str w = take_word(k);
        enum pw_prom_type t;
        skip_blanks(k);
        if (!parse_type(w, &t) || k->p != k->end) {
            report(c, k->line, "# TYPE %.*s: unknown type \"%.*s\"",
                   (int)name.len, name.ptr, (int)(w.len > 40 ? 40 : w.len), w.ptr);
            return;
        }
        size_t unit_len = same ? P->unit_len : 0;
        set_family(P, name, t);
        P->unit_len = unit_len;
    } else if (unit) {
        struct pw_str w = take_word(k);
        if (!same)
            set_family(P, name, PW_PROM_UNTYPED);
        P->unit_len = w.len < sizeof P->unit ? w.len : 0;
        memcpy(P->unit, w.ptr, P->unit_len);
    } else if (!same) {
        /* # HELP may come first: it opens the family, # TYPE types it. */
        set_family(P, name, PW_PROM_UNTYPED);
    }
}

/* A quoted label value at k->p (after the '"'); unescaped into *dst.
 * Returns false on a bad escape or a missing closing quote. */
static bool label_value(struct cursor *k, char **dst, struct pw_str *out,
                        const char **why)
{
    const char *start = k->p;
    const char *q = start;
    while (q < k->end && *q != '"' && *q != '\\')
        q++;
    if (q < k->end && *q == '"') {            /* no escapes: point at input */
        *out = (struct pw_str){start, (size_t)(q - start)};
        k->p = q + 1;
        return true;
    }
    char *o = *dst;
    out->ptr = o;
    for (q = start; q < k->end && *q != '"'; q++) {
        if (*q != '\\') {
            *o++ = *q;
            continue;
        }
        if (++q == k->end)
            break;
        switch (*q) {
        case '\\': *o++ = '\\'; break;
        case '"': *o++ = '"'; break;
        case 'n': *o++ = '\n'; break;
        default:
            *why = "unknown escape in a label value (only \\\\, \\\" and \\n)";
            return false;
        }
    }
    if (q >= k->end) {
        *why = "label value has no closing quote";
        return false;
    }
    out->len = (size_t)(o - out->ptr);
    *dst = o;
    k->p = q + 1;
    return true;
}

/* `{name="value",...}` at k->p (after the '{'). Returns the label count or
 * -1 with *why set. */
static int label_set(struct ctx *c, struct cursor *k, const char **why)
{
    struct pw_prom_parser *P = c->P;
    char *dst = P->scratch;
    size_t n = 0;
    for (;;) {
        skip_blanks(k);
        if (k->p < k->end && *k->p == '}') {
            k->p++;
            return (int)n;
        }
        struct pw_str name = take_name(k, false);
        if (name.len == 0) {
            *why = k->p < k->end ? "expected a label name or '}'"
                                 : "label set has no closing '}'";
            return -1;
        }
        skip_blanks(k);
        if (k->p >= k->end || *k->p != '=') {
            *why = "expected '=' after a label name";
            return -1;
        }
        k->p++;
        skip_blanks(k);
        if (k->p >= k->end || *k->p != '"') {
            *why = "expected a quoted label value";
            return -1;
        }
        k->p++;
        struct pw_str value;
        if (!label_value(k, &dst, &value, why))
            return -1;
        for (size_t i = 0; i < n; i++)
            if (P->labels[i].name.len == name.len &&
                memcmp(P->labels[i].name.ptr, name.ptr, name.len) == 0) {
                *why = "duplicate label name";
                return -1;
            }
        if (n >= MAX_LABELS) {
            *why = "more than 256 labels";
            return -1;
        }
        if (!push_label(P, n)) {
            *why = "out of memory";
            return -1;
        }
        P->labels[n++] = (struct pw_prom_label){name, value};
        skip_blanks(k);
        if (k->p < k->end && *k->p == ',') {
            k->p++;
            continue;
        }
        if (k->p < k->end && *k->p == '}')
            continue;
        *why = k->p < k->end ? "expected ',' or '}' after a label value"
                             : "label set has no closing '}'";
        return -1;
    }
}

static bool numeric_label(const struct pw_prom_sample *s, const char *name)
{
    const struct pw_prom_label *l = find_label(s->labels, s->nlabels, name);
    double v;
    return l && parse_value(l->value, &v) && !isnan(v);
}

/* Returns the callback's value (non-zero stops the parse). */
static int sample_line(struct ctx *c, struct cursor *k,
                       pw_prom_sample_fn on_sample, void *user)
{
    struct pw_prom_parser *P = c->P;
    struct pw_prom_sample s = {.line = k->line};
    const char *why = NULL;
    s.name = take_name(k, true);
    if (s.name.len == 0) {
        report(c, k->line, "expected a metric name");
        return 0;
    }
    skip_blanks(k);
    if (k->p < k->end && *k->p == '{') {
        k->p++;
        int n = label_set(c, k, &why);
        if (n < 0) {
            report(c, k->line, "%.*s: %s", (int)(s.name.len > 80 ? 80 : s.name.len),
                   s.name.ptr, why);
            return 0;
        }
        s.labels = P->labels;
        s.nlabels = (size_t)n;
        skip_blanks(k);
    } else if (k->p < k->end && k->p == s.name.ptr + s.name.len) {
        report(c, k->line, "unexpected character after the metric name");
        return 0;
    }
    const char *value_at = k->p;
    struct pw_str v = take_word(k);
    if (v.len == 0) {
        report(c, k->line, "%.*s: no value", (int)(s.name.len > 80 ? 80 : s.name.len),
               s.name.ptr);
        return 0;
    }
    if (!parse_value(v, &s.value)) {
        report(c, k->line, "%.*s: bad value \"%.*s\" at column %d",
               (int)(s.name.len > 80 ? 80 : s.name.len), s.name.ptr,
               (int)(v.len > 40 ? 40 : v.len), v.ptr, (int)(value_at - k->start + 1));
        return 0;
    }
    skip_blanks(k);
    if (k->p < k->end && *k->p != '#') {
        struct pw_str t = take_word(k);
        if (!parse_timestamp(t, P->openmetrics, &s.ts_ms)) {
            report(c, k->line, "%.*s: bad timestamp \"%.*s\"",
                   (int)(s.name.len > 80 ? 80 : s.name.len), s.name.ptr,
                   (int)(t.len > 40 ? 40 : t.len), t.ptr);
            return 0;
        }
        s.has_ts = true;
        skip_blanks(k);
    }
    /* Anything left must be an OpenMetrics exemplar, which we skip. */
    if (k->p < k->end && !(*k->p == '#' && P->openmetrics)) {
        report(c, k->line, "%.*s: unexpected text after the %s",
               (int)(s.name.len > 80 ? 80 : s.name.len), s.name.ptr,
               s.has_ts ? "timestamp" : "value");
        return 0;
    }
    classify(P, &s);
    if (s.role == PW_PROM_BUCKET && !numeric_label(&s, "le")) {
        report(c, k->line, "%.*s: a histogram bucket needs a numeric le label",
               (int)(s.name.len > 80 ? 80 : s.name.len), s.name.ptr);
        return 0;
    }
    if (s.role == PW_PROM_QUANTILE && !numeric_label(&s, "quantile")) {
        report(c, k->line, "%.*s: the quantile label is not a number",
               (int)(s.name.len > 80 ? 80 : s.name.len), s.name.ptr);
        return 0;
    }
    c->stats->samples++;
    return on_sample ? on_sample(user, &s) : 0;
}

int pw_prom_parse(struct pw_prom_parser *p, const char *buf, size_t len,
                  pw_prom_sample_fn on_sample, pw_prom_error_fn on_error,
                  void *ctx, struct pw_prom_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    p->family_len = p->unit_len = 0;
    p->family_type = PW_PROM_UNTYPED;
    struct ctx c = {p, stats, on_error, ctx};
    const char *end = buf + len;
    int line = 0;
    for (const char *at = buf; at < end;) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        const char *eol = nl ? nl : end;
        struct cursor k = {at, at, eol, ++line};
        at = nl ? nl + 1 : end;
        stats->lines++;
        if (k.end > k.p && k.end[-1] == '\r')
            k.end--;
        skip_blanks(&k);
        if (k.p == k.end)
            continue;
        if (stats->eof_seen) {
            report(&c, line, "text after # EOF");
            break;
        }
        if (*k.p == '#') {
            struct cursor e = k;
            e.p++;
            skip_blanks(&e);
            if (e.end - e.p == 3 && memcmp(e.p, "EOF", 3) == 0) {
                stats->eof_seen = true;
                continue;
            }
            comment_line(&c, &k);
            continue;
        }
        /* Unescaped label values are never longer than the line. */
        if (!reserve_scratch(p, (size_t)(k.end - k.p) + 1)) {
            report(&c, line, "out of memory for a line of %zu bytes",
                   (size_t)(k.end - k.p));
            return -1;
        }
        int rc = sample_line(&c, &k, on_sample, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}
