/* common/config.c — the YAML configuration loader (contract: config.h).
 *
 * Why it is built this way. Every module declares its keys once, as a table
 * of struct pw_option, and this is the only file that knows YAML. We load the
 * whole document with libyaml's document API (yaml_parser_load) instead of
 * walking parser events, because then every node carries its start mark: any
 * error can name the file, the 1-based line and the dotted key, and a missing
 * key can point at the mapping that should have held it. The walk is driven
 * by the tables, not by the document, so its depth is bounded by the tables
 * however deep the input nests, and aliases (which the document API shares
 * rather than copies) cannot make it blow up.
 *
 * Rules a table author or a user may want to know:
 *  - A YAML null for a key (`~`, `null`, `Null`, `NULL`, `!!null`, or nothing
 *    after the colon) means "not set": the default stays. A null section is
 *    an absent section; a null entry of a PW_OPT_MAP is skipped; a null item
 *    in a PW_OPT_STRING_LIST is an error, and so is a null item of a
 *    PW_OPT_SECTION_LIST. A null or empty top level (an empty
 *    file, only comments, a bare `---`) is an empty mapping. A required key
 *    whose value is null is reported as missing, at the key's own line.
 *  - Quoted scalars are accepted for every type ("8080" is an integer where
 *    an integer is wanted). Tags other than !!null are ignored. Merge keys
 *    (`<<`) are not supported: they are reported as unknown keys. The stream
 *    must hold one document.
 *  - A value is built completely before it replaces the old one, so after a
 *    failed load every field holds either its old or its new value, never a
 *    half-built list, and pw_config_release frees whatever is there.
 *  - pw_config_defaults (and so every load) first frees what the target's
 *    string, list and map fields hold, then sets every option to its default
 *    or to zero/NULL. The target must therefore be zeroed or filled by this
 *    loader before, never uninitialised memory; loading the same struct twice
 *    does not leak.
 *  - Table defaults: PW_OPT_STRING defaults are taken literally; numbers,
 *    booleans, durations and sizes are parsed like file text (but not range
 *    checked, so that e.g. 0 can mean "off" below a minimum);
 *    PW_OPT_STRING_LIST and PW_OPT_MAP defaults are YAML text ("[a, b]", a
 *    single scalar, "{acks: all}").
 *  - Doubles go through strtod, so they follow LC_NUMERIC; the agent never
 *    calls setlocale for it.
 */
#include "common/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/buf.h"

#define KEY_MAX 256       /* dotted keys longer than this are cut in messages */
#define QUOTE_MAX 96      /* room for a quoted, escaped excerpt of a value */
#define QUOTE_BYTES 60    /* input bytes shown before "..." */
#define SUGGEST_MAX 64    /* keys longer than this get no suggestion */

#define WHAT_INT "an integer"
#define WHAT_DOUBLE "a number"
#define WHAT_BOOL "a boolean (true/false, yes/no, on/off)"
#define WHAT_DURATION "a duration such as \"10s\" or \"500ms\""
#define WHAT_SIZE "a size such as \"512\", \"64KiB\" or \"10MB\""

/* Where errors go while one document is applied to one table. */
struct loader {
    const char *file;       /* the name used in messages */
    yaml_document_t *doc;
    struct pw_err *err;
    bool is_default;        /* applying a table default: lists get no file */
    int *depth;             /* nesting of sections now being applied; a
                               table may refer to itself (a route's
                               `routes:`), so the document bounds the depth
                               and this guard bounds the stack. May be NULL */
};

/* Sections and section lists nested deeper than this are refused. */
#define NEST_MAX 64

/* ------------------------------------------------------------------------ */
/* Small text helpers                                                        */

/* Writes text as a double-quoted excerpt for a message: control characters
 * escaped, cut after QUOTE_BYTES bytes so that a long value cannot crowd the
 * rest of the sentence out of the 512-byte message. */
static void quote(char *dst, size_t cap, const char *text, size_t len)
{
    size_t o = 0;
    dst[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        bool continuation = (c & 0xc0) == 0x80;   /* inside a UTF-8 char */
        if (o + 8 >= cap || (i >= QUOTE_BYTES && !continuation)) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c == '\n') {
            memcpy(dst + o, "\\n", 2);
            o += 2;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o++] = '"';
    dst[o] = '\0';
}

/* out = prefix.name, cut at KEY_MAX; control characters become '?' so that
 * a hostile key cannot break the one-line message. */
static void join_key(char *out, const char *prefix, const char *name,
                     size_t name_len)
{
    size_t o = 0;
    if (prefix && *prefix) {
        size_t plen = strnlen(prefix, KEY_MAX - 2);
        memcpy(out, prefix, plen);
        o = plen;
        out[o++] = '.';
    }
    for (size_t i = 0; i < name_len && o + 1 < KEY_MAX; i++) {
        unsigned char c = (unsigned char)name[i];
        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[o] = '\0';
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* ------------------------------------------------------------------------ */
/* Value parsers                                                             */

static int bad_value(struct pw_err *err, const char *what, const char *text,
                     const char *why)
{
    char q[QUOTE_MAX];
    quote(q, sizeof q, text, strlen(text));
    if (why)
        return pw_err_set(err, "expected %s, got %s (%s)", what, q, why);
    return pw_err_set(err, "expected %s, got %s", what, q);
}

static int parse_int(const char *text, int64_t *out, struct pw_err *err)
{
    const char *p = text + (*text == '+' || *text == '-');
    if (!is_digit(*p))
        return bad_value(err, WHAT_INT, text, NULL);
    while (is_digit(*p))
        p++;
    if (*p)
        return bad_value(err, WHAT_INT, text, "decimal digits only");
    errno = 0;
    long long v = strtoll(text, NULL, 10);
    if (errno == ERANGE)
        return bad_value(err, WHAT_INT, text, "too large for a 64-bit integer");
    *out = (int64_t)v;
    return 0;
}

static int parse_double(const char *text, double *out, struct pw_err *err)
{
    if (!*text || is_space(*text) || *text == '\n')
        return bad_value(err, WHAT_DOUBLE, text, NULL);
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end)
        return bad_value(err, WHAT_DOUBLE, text, NULL);
    if (!isfinite(v))
        return bad_value(err, WHAT_DOUBLE, text, "it must be finite");
    *out = v;
    return 0;
}

int pw_parse_bool(const char *text, bool *out, struct pw_err *err)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return bad_value(err, WHAT_BOOL, text, NULL);
}

/* "1.5 MiB" split into a non-negative decimal number and a unit. */
struct amount {
    uint64_t whole;
    uint64_t frac_num;      /* the digits after the point: frac_num/frac_den */
    uint64_t frac_den;
    bool whole_overflow;
    const char *unit;       /* rest of the text, possibly "" */
};

/* Returns 0, -1 if the number is malformed, -2 if it is negative. */
static int split_amount(const char *text, struct amount *a)
{
    const char *p = text;
    memset(a, 0, sizeof *a);
    a->frac_den = 1;
    if (*p == '-' && is_digit(p[1]))
        return -2;
    if (!is_digit(*p))
        return -1;
    for (; is_digit(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (a->whole > (UINT64_MAX - d) / 10)
            a->whole_overflow = true;
        else
            a->whole = a->whole * 10 + d;
    }
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -1;
        for (; is_digit(*p); p++) {
            if (a->frac_den >= 1000000000000000000ULL)
                continue;                   /* beyond 18 digits: ignored */
            a->frac_num = a->frac_num * 10 + (uint64_t)(*p - '0');
            a->frac_den *= 10;
        }
    }
    const char *num_end = p;
    while (is_space(*p))
        p++;
    if (p != num_end && !*p)
        return -1;           /* "10 " : a space and then nothing */
    a->unit = p;
    return 0;
}

/* whole * mult + frac * mult rounded half up, or -1 if it does not fit in
 * int64. long double keeps frac_num * mult exact, so "1.0005s" is a true
 * tie and rounds to 1001 ms. */
static int scale_amount(const struct amount *a, int64_t mult, int64_t *out)
{
    if (a->whole_overflow || a->whole > (uint64_t)(INT64_MAX / mult))
        return -1;
    int64_t v = (int64_t)a->whole * mult;
    long double f = floorl((long double)a->frac_num * (long double)mult /
                           (long double)a->frac_den + 0.5L);
    if ((long double)(INT64_MAX - v) < f)
        return -1;
    *out = v + (int64_t)f;
    return 0;
}

int pw_parse_duration_ms(const char *text, int64_t *out, struct pw_err *err)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
        {"d", 86400000}, {"", 1000},
    };
    struct amount a;
    int rc = split_amount(text, &a);
    if (rc == -2)
        return bad_value(err, WHAT_DURATION, text, "it cannot be negative");
    if (rc < 0)
        return bad_value(err, WHAT_DURATION, text, NULL);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(a.unit, units[i].unit) != 0)
            continue;
        if (scale_amount(&a, units[i].ms, out) < 0)
            return bad_value(err, WHAT_DURATION, text, "too large");
        return 0;
    }
    return bad_value(err, WHAT_DURATION, text,
                     "units are ms, s, m, h and d; a bare number is seconds");
}

int pw_parse_size_bytes(const char *text, int64_t *out, struct pw_err *err)
{
    static const struct { const char *unit; int64_t bytes; } units[] = {
        {"", 1}, {"b", 1},
        {"kb", 1000LL}, {"mb", 1000000LL}, {"gb", 1000000000LL},
        {"tb", 1000000000000LL},
        {"kib", 1LL << 10}, {"mib", 1LL << 20}, {"gib", 1LL << 30},
        {"tib", 1LL << 40},
    };
    struct amount a;
    int rc = split_amount(text, &a);
    if (rc == -2)
        return bad_value(err, WHAT_SIZE, text, "it cannot be negative");
    if (rc < 0)
        return bad_value(err, WHAT_SIZE, text, NULL);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(a.unit, units[i].unit) != 0)
            continue;
        if (scale_amount(&a, units[i].bytes, out) < 0)
            return bad_value(err, WHAT_SIZE, text, "too large");
        return 0;
    }
    return bad_value(err, WHAT_SIZE, text,
                     "units are B, KB, MB, GB, TB, KiB, MiB, GiB and TiB");
}

/* ------------------------------------------------------------------------ */
/* Ranges, in the option's own units                                         */

static bool has_range(const struct pw_option *opt)
{
    return !(opt->min == 0 && opt->max == 0);
}

/* Largest unit that divides v exactly: 90000 -> "90s", 7200000 -> "2h". */
static void format_duration(char *dst, size_t cap, double ms)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
    };
    if (ms != floor(ms) || fabs(ms) >= 9e18) {
        snprintf(dst, cap, "%.15gms", ms);
        return;
    }
    int64_t v = (int64_t)ms;
    for (size_t i = 0; v != 0 && i < sizeof units / sizeof units[0]; i++) {
        if (v % units[i].ms == 0) {
            snprintf(dst, cap, "%lld%s", (long long)(v / units[i].ms),
                     units[i].unit);
            return;
        }
    }
    snprintf(dst, cap, "%lldms", (long long)v);
}

/* Bytes in the unit that divides exactly with the smallest quotient, binary
 * first on a tie: 1048576 -> "1MiB", 1000000000000 -> "1TB", 1500 -> "1500B". */
static void format_size(char *dst, size_t cap, double bytes)
{
    static const struct { const char *unit; int64_t bytes; } units[] = {
        {"TiB", 1LL << 40}, {"GiB", 1LL << 30}, {"MiB", 1LL << 20},
        {"KiB", 1LL << 10}, {"TB", 1000000000000LL}, {"GB", 1000000000LL},
        {"MB", 1000000LL}, {"KB", 1000LL},
    };
    if (bytes != floor(bytes) || fabs(bytes) >= 9e18) {
        snprintf(dst, cap, "%.15gB", bytes);
        return;
    }
    int64_t v = (int64_t)bytes, best_q = v;
    const char *best = "B";
    for (size_t i = 0; v != 0 && i < sizeof units / sizeof units[0]; i++) {
        if (v % units[i].bytes == 0 && llabs(v / units[i].bytes) < llabs(best_q)) {
            best_q = v / units[i].bytes;
            best = units[i].unit;
        }
    }
    snprintf(dst, cap, "%lld%s", (long long)best_q, best);
}

static void format_bound(char *dst, size_t cap, enum pw_opt_type type,
                         double v)
{
    if (type == PW_OPT_DURATION)
        format_duration(dst, cap, v);
    else if (type == PW_OPT_SIZE)
        format_size(dst, cap, v);
    else
        snprintf(dst, cap, "%.15g", v);
}

/* "between 100ms and 1d" */
static void format_range(char *dst, size_t cap, const struct pw_option *opt)
{
    char lo[48], hi[48];
    format_bound(lo, sizeof lo, opt->type, opt->min);
    format_bound(hi, sizeof hi, opt->type, opt->max);
    snprintf(dst, cap, "between %s and %s", lo, hi);
}

/* ------------------------------------------------------------------------ */
/* Errors with file, line and key                                            */

static int fail(const struct loader *L, int line, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(const struct loader *L, int line, const char *key,
                const char *fmt, ...)
{
    char what[sizeof L->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (key && *key)
        return pw_err_set(L->err, "%s:%d: %s: %s", L->file, line, key, what);
    return pw_err_set(L->err, "%s:%d: %s", L->file, line, what);
}

static int line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

static const char *expected(enum pw_opt_type type)
{
    switch (type) {
    case PW_OPT_STRING: return "a string";
    case PW_OPT_INT: return WHAT_INT;
    case PW_OPT_DOUBLE: return WHAT_DOUBLE;
    case PW_OPT_BOOL: return WHAT_BOOL;
    case PW_OPT_DURATION: return WHAT_DURATION;
    case PW_OPT_SIZE: return WHAT_SIZE;
    case PW_OPT_SECTION: return "a mapping";
    case PW_OPT_MAP: return "a mapping";
    case PW_OPT_STRING_LIST: return "a string or a sequence of strings";
    case PW_OPT_SECTION_LIST: return "a sequence of mappings";
    }
    return "a value";
}

/* "a mapping", "a sequence" or the quoted scalar text. */
static void describe(char *dst, size_t cap, const yaml_node_t *n)
{
    if (n->type == YAML_MAPPING_NODE)
        snprintf(dst, cap, "a mapping");
    else if (n->type == YAML_SEQUENCE_NODE)
        snprintf(dst, cap, "a sequence");
    else if (n->type == YAML_SCALAR_NODE)
        quote(dst, cap, (const char *)n->data.scalar.value,
              n->data.scalar.length);
    else
        snprintf(dst, cap, "nothing");
}

static int wrong_type(const struct loader *L, const char *key,
                      const char *what, const yaml_node_t *n)
{
    char got[QUOTE_MAX];
    describe(got, sizeof got, n);
    return fail(L, line_of(n), key, "expected %s, got %s", what, got);
}

static int out_of_memory(const struct loader *L, int line, const char *key)
{
    return fail(L, line, key, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

static bool is_null(const yaml_node_t *n)
{
    if (!n)
        return true;
    if (n->type != YAML_SCALAR_NODE)
        return false;
    if (n->tag && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
        return true;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
           !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* The scalar's text, or NULL (with err set) if it is not a scalar or holds
 * a NUL byte (possible with "\0" in a double-quoted scalar). */
static const char *scalar_text(const struct loader *L, const char *key,
                               const char *what, const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE) {
        wrong_type(L, key, what, n);
        return NULL;
    }
    const char *text = (const char *)n->data.scalar.value;
    if (strlen(text) != n->data.scalar.length) {
        fail(L, line_of(n), key, "the value contains a NUL character");
        return NULL;
    }
    return text;
}

static yaml_node_t *node_at(const struct loader *L, int index)
{
    return yaml_document_get_node(L->doc, index);
}

static bool key_is(const yaml_node_t *k, const char *name, size_t len)
{
    return k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == len &&
           memcmp(k->data.scalar.value, name, len) == 0;
}

static bool same_key(const yaml_node_t *a, const yaml_node_t *b)
{
    return a && b && a->type == YAML_SCALAR_NODE &&
           key_is(b, (const char *)a->data.scalar.value, a->data.scalar.length);
}

/* The first pair before `upto` in `map` with the same key, or NULL. */
static yaml_node_pair_t *earlier_pair(const struct loader *L,
                                      yaml_node_t *map, yaml_node_pair_t *upto)
{
    yaml_node_t *k = node_at(L, upto->key);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < upto; p++)
        if (same_key(node_at(L, p->key), k))
            return p;
    return NULL;
}

static int duplicate(const struct loader *L, const char *key,
                     yaml_node_t *k, yaml_node_pair_t *first)
{
    yaml_node_t *fk = node_at(L, first->key);
    return fail(L, line_of(k), key, "duplicate key (first at line %d)",
                fk ? line_of(fk) : 0);
}

/* ------------------------------------------------------------------------ */
/* Did you mean                                                              */

static size_t edit_distance(const char *a, size_t al, const char *b, size_t bl)
{
    size_t row[SUGGEST_MAX + 1];
    for (size_t j = 0; j <= bl; j++)
        row[j] = j;
    for (size_t i = 1; i <= al; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= bl; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[bl];
}

/* The known key closest to `name` within edit distance 2 (and closer than
 * the typed key is long, so that "x" does not suggest "id"), or NULL. */
static const char *suggest(const struct pw_option *table, const char *name,
                           size_t len)
{
    const char *best = NULL;
    size_t best_d = 3;
    if (len == 0 || len > SUGGEST_MAX)
        return NULL;
    for (const struct pw_option *o = table; o->name; o++) {
        size_t olen = strlen(o->name);
        if (olen > SUGGEST_MAX)
            continue;
        size_t d = edit_distance(name, len, o->name, olen);
        if (d < best_d && d < len) {
            best = o->name;
            best_d = d;
        }
    }
    return best;
}

static int unknown_key(const struct loader *L, const struct pw_option *table,
                       const char *key, const yaml_node_t *k)
{
    const char *s = suggest(table, (const char *)k->data.scalar.value,
                            k->data.scalar.length);
    if (s)
        return fail(L, line_of(k), key, "unknown key (did you mean \"%s\"?)", s);
    return fail(L, line_of(k), key, "unknown key");
}

/* ------------------------------------------------------------------------ */
/* Lists and maps                                                            */

static void release_kv(struct pw_kv_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    free(l->file);
    memset(l, 0, sizeof *l);
}

static void release_strs(struct pw_str_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int push_str(const struct loader *L, const char *key,
                    struct pw_str_list *l, const yaml_node_t *item)
{
    const char *text = scalar_text(L, key, "a string", item);
    if (!text)
        return -1;
    if (!(l->items[l->len] = strdup(text)))
        return out_of_memory(L, line_of(item), key);
    l->len++;
    return 0;
}

/* A sequence of scalars, or one scalar as a one-item list. */
static int build_strs(const struct loader *L, const char *key,
                      const yaml_node_t *n, struct pw_str_list *out)
{
    if (n->type == YAML_MAPPING_NODE)
        return wrong_type(L, key, expected(PW_OPT_STRING_LIST), n);
    size_t count = n->type == YAML_SEQUENCE_NODE
        ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
        : 1;
    memset(out, 0, sizeof *out);
    if (count && !(out->items = calloc(count, sizeof *out->items)))
        return out_of_memory(L, line_of(n), key);
    if (n->type != YAML_SEQUENCE_NODE)
        return push_str(L, key, out, n);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = node_at(L, n->data.sequence.items.start[i]);
        if (is_null(item))
            return fail(L, item ? line_of(item) : line_of(n), key,
                        "item %zu is null; quote it if you mean the text", i + 1);
        if (push_str(L, key, out, item) < 0)
            return -1;
    }
    return 0;
}

static int push_kv(const struct loader *L, const char *key,
                   struct pw_kv_list *l, const yaml_node_t *k,
                   const yaml_node_t *v)
{
    const char *val = scalar_text(L, key,
                                  "a scalar (text, a number or a boolean)", v);
    if (!val)
        return -1;
    struct pw_kv *kv = &l->items[l->len];
    kv->key = strdup((const char *)k->data.scalar.value);
    kv->value = strdup(val);
    kv->line = line_of(k);
    l->len++;              /* counted even if half-filled, so release frees */
    if (!kv->key || !kv->value)
        return out_of_memory(L, line_of(k), key);
    return 0;
}

/* A mapping of scalar keys to scalar values, in file order; null values are
 * skipped, duplicate keys are an error. */
static int build_kv(const struct loader *L, const char *key, yaml_node_t *n,
                    struct pw_kv_list *out)
{
    if (n->type != YAML_MAPPING_NODE)
        return wrong_type(L, key, expected(PW_OPT_MAP), n);
    yaml_node_pair_t *start = n->data.mapping.pairs.start;
    size_t count = (size_t)(n->data.mapping.pairs.top - start);
    memset(out, 0, sizeof *out);
    if (count && !(out->items = calloc(count, sizeof *out->items)))
        return out_of_memory(L, line_of(n), key);
    if (!L->is_default && !(out->file = strdup(L->file)))
        return out_of_memory(L, line_of(n), key);
    for (yaml_node_pair_t *p = start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
        if (!k || !scalar_text(L, key, "text for a key", k))
            return k ? -1 : fail(L, line_of(n), key, "a key is missing");
        char sub[KEY_MAX];
        join_key(sub, key, (const char *)k->data.scalar.value,
                 k->data.scalar.length);
        yaml_node_pair_t *first = earlier_pair(L, n, p);
        if (first)
            return duplicate(L, sub, k, first);
        if (!is_null(v) && push_kv(L, sub, out, k, v) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Applying a document to a table                                            */

static int apply_table(const struct loader *L, const struct pw_option *table,
                       void *target, yaml_node_t *map, int map_line,
                       const char *prefix);
static int apply_pairs(const struct loader *L, const struct pw_option *table,
                       void *target, yaml_node_t *map, int map_line,
                       const char *prefix);

static int check_range(const struct loader *L, const struct pw_option *opt,
                       const char *key, const yaml_node_t *n, double v)
{
    if (!has_range(opt) || (v >= opt->min && v <= opt->max))
        return 0;
    char range[128], got[QUOTE_MAX];
    format_range(range, sizeof range, opt);
    describe(got, sizeof got, n);
    return fail(L, line_of(n), key, "must be %s, got %s", range, got);
}

static int set_string(const struct loader *L, char **field, const char *key,
                      const yaml_node_t *n)
{
    const char *text = scalar_text(L, key, expected(PW_OPT_STRING), n);
    if (!text)
        return -1;
    char *s = strdup(text);
    if (!s)
        return out_of_memory(L, line_of(n), key);
    free(*field);
    *field = s;
    return 0;
}

/* INT, DOUBLE, BOOL, DURATION, SIZE: parse, check the range, store. */
static int set_number(const struct loader *L, const struct pw_option *opt,
                      void *field, const char *key, const yaml_node_t *n)
{
    const char *text = scalar_text(L, key, expected(opt->type), n);
    if (!text)
        return -1;
    struct pw_err perr = {{0}};
    int64_t i = 0;
    double d = 0;
    bool b = false;
    int rc;
    switch (opt->type) {
    case PW_OPT_INT: rc = parse_int(text, &i, &perr); d = (double)i; break;
    case PW_OPT_DURATION: rc = pw_parse_duration_ms(text, &i, &perr);
        d = (double)i; break;
    case PW_OPT_SIZE: rc = pw_parse_size_bytes(text, &i, &perr);
        d = (double)i; break;
    case PW_OPT_DOUBLE: rc = parse_double(text, &d, &perr); break;
    case PW_OPT_BOOL: rc = pw_parse_bool(text, &b, &perr); break;
    default: return fail(L, line_of(n), key, "not a scalar option");
    }
    if (rc < 0)
        return fail(L, line_of(n), key, "%s", perr.msg);
    if (opt->type != PW_OPT_BOOL && check_range(L, opt, key, n, d) < 0)
        return -1;
    if (opt->type == PW_OPT_DOUBLE)
        *(double *)field = d;
    else if (opt->type == PW_OPT_BOOL)
        *(bool *)field = b;
    else
        *(int64_t *)field = i;
    return 0;
}

static int set_strs(const struct loader *L, struct pw_str_list *field,
                    const char *key, const yaml_node_t *n)
{
    struct pw_str_list l = {0};
    if (build_strs(L, key, n, &l) < 0) {
        release_strs(&l);
        return -1;
    }
    release_strs(field);
    *field = l;
    return 0;
}

static int set_kv(const struct loader *L, struct pw_kv_list *field,
                  const char *key, yaml_node_t *n)
{
    struct pw_kv_list l = {0};
    if (build_kv(L, key, n, &l) < 0) {
        release_kv(&l);
        return -1;
    }
    release_kv(field);
    *field = l;
    return 0;
}

/* sizeof the item struct of a PW_OPT_SECTION_LIST: the offset in the
 * terminating row of its table (PW_OPT_ITEM_END). */
/* PW_OPT_ITEM_END_LINE's offset of the item's `int line`, plus one; 0 =
 * none. */
static size_t item_line_offset(const struct pw_option *table)
{
    const struct pw_option *o = table;
    while (o->name)
        o++;
    return (size_t)o->max;
}

static size_t item_size(const struct pw_option *table)
{
    const struct pw_option *o = table;
    while (o && o->name)
        o++;
    return o ? o->offset : 0;
}

static void release_sections(const struct pw_option *opt,
                             struct pw_section_list *l)
{
    size_t size = item_size(opt->section);
    for (size_t i = 0; i < l->len; i++)
        pw_config_release(opt->section, (char *)l->items + i * size);
    free(l->items);
    memset(l, 0, sizeof *l);
}

static int defaults_table(const struct pw_option *table, void *target,
                          const char *prefix, struct pw_err *err);

/* A sequence of mappings (or one mapping as a one-item list); every item
 * gets its table's defaults, then its own keys, named "key[N].sub". */
static int build_sections(const struct loader *L, const struct pw_option *opt,
                          const char *key, yaml_node_t *n,
                          struct pw_section_list *out)
{
    size_t size = item_size(opt->section);
    if (!opt->section || size == 0)
        return fail(L, line_of(n), key,
                    "the option table has no item table or no item size");
    if (n->type == YAML_SCALAR_NODE)
        return wrong_type(L, key, expected(PW_OPT_SECTION_LIST), n);
    size_t count = n->type == YAML_SEQUENCE_NODE
        ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start)
        : 1;
    if (has_range(opt) && ((double)count < opt->min || (double)count > opt->max))
        return fail(L, line_of(n), key, "must hold %.0f to %.0f items, got %zu",
                    opt->min, opt->max, count);
    memset(out, 0, sizeof *out);
    if (count && !(out->items = calloc(count, size)))
        return out_of_memory(L, line_of(n), key);
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *item = n->type == YAML_SEQUENCE_NODE
            ? node_at(L, n->data.sequence.items.start[i]) : n;
        char sub[KEY_MAX + 24];
        snprintf(sub, sizeof sub, "%.*s[%zu]", KEY_MAX - 1, key, i + 1);
        if (!item || item->type != YAML_MAPPING_NODE)
            return item ? wrong_type(L, sub, "a mapping", item)
                        : fail(L, line_of(n), sub, "item is missing");
        void *target = (char *)out->items + i * size;
        out->len++;            /* counted before it is filled, so release frees */
        if (defaults_table(opt->section, target, sub, L->err) < 0 ||
            apply_table(L, opt->section, target, item, line_of(item), sub) < 0)
            return -1;
        size_t line_at = item_line_offset(opt->section);
        if (line_at)
            *(int *)((char *)target + line_at - 1) = line_of(item);
    }
    return 0;
}

static int set_sections(const struct loader *L, const struct pw_option *opt,
                        void *field, const char *key, yaml_node_t *n)
{
    struct pw_section_list l = {0};
    if (build_sections(L, opt, key, n, &l) < 0) {
        release_sections(opt, &l);
        return -1;
    }
    release_sections(opt, field);
    *(struct pw_section_list *)field = l;
    return 0;
}

/* One option's value from the document; null keeps the default. */
static int apply_option(const struct loader *L, const struct pw_option *opt,
                        void *target, const char *key, yaml_node_t *n)
{
    void *field = (char *)target + opt->offset;
    if (is_null(n))
        return 0;
    switch (opt->type) {
    case PW_OPT_STRING:
        return set_string(L, field, key, n);
    case PW_OPT_SECTION:
        if (n->type != YAML_MAPPING_NODE)
            return wrong_type(L, key, expected(opt->type), n);
        if (apply_table(L, opt->section, field, n, line_of(n), key) < 0)
            return -1;
        if (item_line_offset(opt->section))
            *(int *)((char *)field + item_line_offset(opt->section) - 1) =
                line_of(n);
        return 0;
    case PW_OPT_MAP:
        return set_kv(L, field, key, n);
    case PW_OPT_STRING_LIST:
        return set_strs(L, field, key, n);
    case PW_OPT_SECTION_LIST:
        return set_sections(L, opt, field, key, n);
    default:
        return set_number(L, opt, field, key, n);
    }
}

/* The value of `name` in `map` (NULL map = absent section), or NULL. */
static yaml_node_pair_t *find_pair(const struct loader *L, yaml_node_t *map,
                                   const char *name)
{
    if (!map)
        return NULL;
    size_t len = strlen(name);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top; p++)
        if (key_is(node_at(L, p->key), name, len))
            return p;
    return NULL;
}

/* After the keys present: required keys, and required keys inside sections
 * that are absent or null. */
static int check_required(const struct loader *L,
                          const struct pw_option *table, void *target,
                          yaml_node_t *map, int map_line, const char *prefix)
{
    for (const struct pw_option *o = table; o->name; o++) {
        char key[KEY_MAX];
        join_key(key, prefix, o->name, strlen(o->name));
        yaml_node_pair_t *p = find_pair(L, map, o->name);
        yaml_node_t *k = p ? node_at(L, p->key) : NULL;
        yaml_node_t *v = p ? node_at(L, p->value) : NULL;
        if (!is_null(v))
            continue;
        if (o->required && k)
            return fail(L, line_of(k), key,
                        "required key is missing (its value is null)");
        if (o->required)
            return fail(L, map_line, key, "required key is missing");
        if (o->type == PW_OPT_SECTION &&
            apply_table(L, o->section, (char *)target + o->offset, NULL,
                        k ? line_of(k) : map_line, key) < 0)
            return -1;
    }
    return 0;
}

static int apply_pair(const struct loader *L, const struct pw_option *table,
                      void *target, yaml_node_t *map, yaml_node_pair_t *p,
                      const char *prefix)
{
    yaml_node_t *k = node_at(L, p->key), *v = node_at(L, p->value);
    if (!k)
        return fail(L, line_of(map), prefix, "a key is missing");
    if (!scalar_text(L, prefix, "text for a key", k))
        return -1;
    const char *name = (const char *)k->data.scalar.value;
    char key[KEY_MAX];
    join_key(key, prefix, name, k->data.scalar.length);
    const struct pw_option *opt = table;
    while (opt->name && !key_is(k, opt->name, strlen(opt->name)))
        opt++;
    if (!opt->name)
        return unknown_key(L, table, key, k);
    yaml_node_pair_t *first = earlier_pair(L, map, p);
    if (first)
        return duplicate(L, key, k, first);
    return apply_option(L, opt, target, key, v);
}

/* Applies `map` (a mapping node, or NULL for an absent section) to `table`
 * over `target`. map_line is the line blamed for a missing required key. */
static int apply_table(const struct loader *L, const struct pw_option *table,
                       void *target, yaml_node_t *map, int map_line,
                       const char *prefix)
{
    if (!table)
        return fail(L, map_line, prefix, "the option table has no section");
    if (L->depth && *L->depth >= NEST_MAX)
        return fail(L, map_line, prefix,
                    "sections are nested more than %d deep", NEST_MAX);
    if (L->depth)
        ++*L->depth;
    int rc = apply_pairs(L, table, target, map, map_line, prefix);
    if (L->depth)
        --*L->depth;
    return rc;
}

static int apply_pairs(const struct loader *L, const struct pw_option *table,
                       void *target, yaml_node_t *map, int map_line,
                       const char *prefix)
{
    for (yaml_node_pair_t *p = map ? map->data.mapping.pairs.start : NULL;
         map && p < map->data.mapping.pairs.top; p++)
        if (apply_pair(L, table, target, map, p, prefix) < 0)
            return -1;
    return check_required(L, table, target, map, map_line, prefix);
}

/* ------------------------------------------------------------------------ */
/* Defaults and release                                                      */

/* A PW_OPT_MAP or PW_OPT_STRING_LIST default, written as YAML. */
static int yaml_default(const struct pw_option *opt, void *target,
                        const char *key, struct pw_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser))
        return pw_err_set(err, "%s: out of memory", key);
    const char *text = opt->default_value;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text,
                                 strlen(text));
    int rc = -1;
    if (!yaml_parser_load(&parser, &doc)) {
        pw_err_set(err, "%s: the table's default is not valid YAML: %s", key,
                   parser.problem ? parser.problem : "unknown problem");
    } else {
        struct loader L = {"(default)", &doc, err, true, NULL};
        rc = apply_option(&L, opt, target, key,
                          yaml_document_get_root_node(&doc));
        if (rc < 0)
            pw_err_prefix(err, "the table's default does not parse");
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

static int scalar_default(const struct pw_option *opt, void *field,
                          const char *key, struct pw_err *err)
{
    const char *text = opt->default_value;
    struct pw_err perr = {{0}};
    int rc = 0;
    switch (opt->type) {
    case PW_OPT_INT: rc = parse_int(text, field, &perr); break;
    case PW_OPT_DOUBLE: rc = parse_double(text, field, &perr); break;
    case PW_OPT_BOOL: rc = pw_parse_bool(text, field, &perr); break;
    case PW_OPT_DURATION: rc = pw_parse_duration_ms(text, field, &perr); break;
    case PW_OPT_SIZE: rc = pw_parse_size_bytes(text, field, &perr); break;
    default: break;
    }
    if (rc < 0)
        return pw_err_set(err, "%s: the table's default does not parse: %s",
                          key, perr.msg);
    return 0;
}

static int default_option(const struct pw_option *opt, void *target,
                          const char *key, struct pw_err *err);

static int defaults_table(const struct pw_option *table, void *target,
                          const char *prefix, struct pw_err *err)
{
    for (const struct pw_option *o = table; o->name; o++) {
        char key[KEY_MAX];
        join_key(key, prefix, o->name, strlen(o->name));
        if (default_option(o, target, key, err) < 0)
            return -1;
    }
    return 0;
}

static int default_option(const struct pw_option *opt, void *target,
                          const char *key, struct pw_err *err)
{
    void *field = (char *)target + opt->offset;
    const char *def = opt->default_value;
    switch (opt->type) {
    case PW_OPT_STRING: {
        char *s = def ? strdup(def) : NULL;
        if (def && !s)
            return pw_err_set(err, "%s: out of memory", key);
        free(*(char **)field);
        *(char **)field = s;
        return 0;
    }
    case PW_OPT_SECTION:
        if (!opt->section)
            return pw_err_set(err, "%s: the section has no option table", key);
        return defaults_table(opt->section, field, key, err);
    case PW_OPT_MAP:
        release_kv(field);
        return def ? yaml_default(opt, target, key, err) : 0;
    case PW_OPT_STRING_LIST:
        release_strs(field);
        return def ? yaml_default(opt, target, key, err) : 0;
    case PW_OPT_SECTION_LIST:
        release_sections(opt, field);
        return def ? yaml_default(opt, target, key, err) : 0;
    case PW_OPT_DOUBLE:
        *(double *)field = 0;
        break;
    case PW_OPT_BOOL:
        *(bool *)field = false;
        break;
    default:
        *(int64_t *)field = 0;
        break;
    }
    return def ? scalar_default(opt, field, key, err) : 0;
}

int pw_config_defaults(const struct pw_option *table, void *target,
                       struct pw_err *err)
{
    if (!table || !target)
        return pw_err_set(err, "no option table or no target to fill");
    return defaults_table(table, target, NULL, err);
}

void pw_config_release(const struct pw_option *table, void *target)
{
    if (!table || !target)
        return;
    for (const struct pw_option *o = table; o->name; o++) {
        void *field = (char *)target + o->offset;
        if (o->type == PW_OPT_STRING) {
            free(*(char **)field);
            *(char **)field = NULL;
        } else if (o->type == PW_OPT_MAP) {
            release_kv(field);
        } else if (o->type == PW_OPT_STRING_LIST) {
            release_strs(field);
        } else if (o->type == PW_OPT_SECTION) {
            pw_config_release(o->section, field);
        } else if (o->type == PW_OPT_SECTION_LIST) {
            release_sections(o, field);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                   */

static int syntax_error(const char *name, const yaml_parser_t *p,
                        const char *text, size_t len, struct pw_err *err)
{
    if (p->error == YAML_MEMORY_ERROR)
        return pw_err_set(err, "%s: out of memory while reading YAML", name);
    size_t line = p->problem_mark.line;
    if (p->error == YAML_READER_ERROR) {   /* only an offset is known */
        line = 0;
        for (size_t i = 0; i < p->problem_offset && i < len; i++)
            line += text[i] == '\n';
    }
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->context)
        return pw_err_set(err, "%s:%zu: YAML syntax error: %s (%s)", name,
                          line + 1, problem, p->context);
    return pw_err_set(err, "%s:%zu: YAML syntax error: %s", name, line + 1,
                      problem);
}

/* Reads the documents after the first: 0 at the end of the stream, -1 on a
 * syntax error or a document with content. Empty ones (a trailing `---`)
 * are tolerated. */
static int check_rest(const char *name, yaml_parser_t *parser,
                      const char *text, size_t len, struct pw_err *err)
{
    for (;;) {
        yaml_document_t next;
        if (!yaml_parser_load(parser, &next))
            return syntax_error(name, parser, text, len, err);
        yaml_node_t *root = yaml_document_get_root_node(&next);
        int line = root ? line_of(root) : 0;
        bool content = root && !is_null(root);
        yaml_document_delete(&next);
        if (!root)
            return 0;
        if (content)
            return pw_err_set(err, "%s:%d: a second YAML document starts "
                              "here; the configuration must be one document",
                              name, line);
    }
}

/* Loads the first document, and makes sure that nothing follows it. */
static int load_document(const char *name, const char *text, size_t len,
                         yaml_document_t *doc, struct pw_err *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return pw_err_set(err, "%s: out of memory while reading YAML", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = -1;
    if (!yaml_parser_load(&parser, doc)) {
        syntax_error(name, &parser, text, len, err);
    } else if (yaml_document_get_root_node(doc) &&
               check_rest(name, &parser, text, len, err) < 0) {
        yaml_document_delete(doc);
    } else {
        rc = 0;
    }
    yaml_parser_delete(&parser);
    return rc;
}

int pw_config_load_string(const char *name, const char *text, size_t len,
                          const struct pw_option *table, void *target,
                          struct pw_err *err)
{
    if (pw_config_defaults(table, target, err) < 0)
        return -1;
    yaml_document_t doc;
    if (load_document(name, text ? text : "", text ? len : 0, &doc, err) < 0)
        return -1;
    int depth = 0;
    struct loader L = {name, &doc, err, false, &depth};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc;
    if (is_null(root)) {
        rc = apply_table(&L, table, target, NULL, root ? line_of(root) : 1,
                         NULL);
    } else if (root->type != YAML_MAPPING_NODE) {
        char got[QUOTE_MAX];
        describe(got, sizeof got, root);
        rc = fail(&L, line_of(root), NULL,
                  "expected a mapping of keys at the top level, got %s", got);
    } else {
        rc = apply_table(&L, table, target, root, line_of(root), NULL);
    }
    yaml_document_delete(&doc);
    return rc;
}

/* A configuration is a few kilobytes; this only stops a wrong path (a
 * device, a log file) from being read whole. */
#define CONFIG_MAX_BYTES ((size_t)16 << 20)

int pw_config_load(const char *path, const struct pw_option *table,
                   void *target, struct pw_err *err)
{
    struct pw_buf b;
    pw_buf_init(&b);
    int rc = pw_buf_read_file(&b, path, CONFIG_MAX_BYTES, err);
    if (rc == 0)
        rc = pw_config_load_string(path, b.data, b.len, table, target, err);
    pw_buf_release(&b);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Reference                                                                 */

static const char *type_name(enum pw_opt_type type)
{
    switch (type) {
    case PW_OPT_STRING: return "string";
    case PW_OPT_INT: return "integer";
    case PW_OPT_DOUBLE: return "number";
    case PW_OPT_BOOL: return "boolean";
    case PW_OPT_DURATION: return "duration";
    case PW_OPT_SIZE: return "size";
    case PW_OPT_SECTION: return "section";
    case PW_OPT_MAP: return "map";
    case PW_OPT_STRING_LIST: return "list of strings";
    case PW_OPT_SECTION_LIST: return "list of sections";
    }
    return "?";
}

/* Text for a table cell: '|' escaped, newlines as spaces. */
static void put_cell(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", out);
        else
            fputc(*s == '\n' ? ' ' : *s, out);
    }
}

static bool is_numeric(enum pw_opt_type t)
{
    return t == PW_OPT_INT || t == PW_OPT_DOUBLE || t == PW_OPT_DURATION ||
           t == PW_OPT_SIZE;
}

/* The tables being written, outermost first, with their keys: a table
 * that refers to itself (a route's `routes:`) is written once and then
 * named, not expanded again. */
struct ref_stack {
    const struct pw_option *table[NEST_MAX];
    char key[NEST_MAX][KEY_MAX];
    int n;
};

static const char *ref_seen(const struct ref_stack *st,
                            const struct pw_option *table)
{
    for (int i = 0; i < st->n; i++)
        if (st->table[i] == table)
            return st->key[i];
    return NULL;
}

static void reference_rows(FILE *out, const struct pw_option *table,
                           const char *prefix, struct ref_stack *st)
{
    if (st->n < NEST_MAX) {
        st->table[st->n] = table;
        snprintf(st->key[st->n], KEY_MAX, "%s", prefix ? prefix : "");
    }
    st->n++;
    for (const struct pw_option *o = table; o && o->name; o++) {
        char key[KEY_MAX];
        join_key(key, prefix, o->name, strlen(o->name));
        fprintf(out, "| `%s` | %s | ", key, type_name(o->type));
        if (o->required) {
            fputs("required", out);
        } else if (o->default_value) {
            fputc('`', out);
            put_cell(out, o->default_value);
            fputc('`', out);
        }
        fputs(" | ", out);
        if (is_numeric(o->type) && has_range(o)) {
            char lo[48], hi[48];
            format_bound(lo, sizeof lo, o->type, o->min);
            format_bound(hi, sizeof hi, o->type, o->max);
            fprintf(out, "%s to %s", lo, hi);
        }
        fputs(" | ", out);
        put_cell(out, o->description);
        fputs(" |\n", out);
        const char *seen = o->section ? ref_seen(st, o->section) : NULL;
        bool nested = o->type == PW_OPT_SECTION ||
                      o->type == PW_OPT_SECTION_LIST;
        if (nested && (seen || st->n >= NEST_MAX)) {
            fprintf(out, "| `%s%s.*` | | | | The same keys as `%s` "
                    "(nested). |\n", key,
                    o->type == PW_OPT_SECTION_LIST ? "[]" : "",
                    seen && *seen ? seen : "the top level");
            continue;
        }
        if (o->type == PW_OPT_SECTION)
            reference_rows(out, o->section, key, st);
        if (o->type == PW_OPT_SECTION_LIST) {
            char items[KEY_MAX + 2];
            snprintf(items, sizeof items, "%.*s[]", KEY_MAX - 1, key);
            reference_rows(out, o->section, items, st);
        }
    }
    st->n--;
}

void pw_config_reference(FILE *out, const struct pw_option *table,
                         const char *prefix)
{
    fputs("| Key | Type | Default | Range | Description |\n"
          "|---|---|---|---|---|\n", out);
    struct ref_stack *st = calloc(1, sizeof *st);
    if (!st)
        return;
    reference_rows(out, table, prefix, st);
    free(st);
}
