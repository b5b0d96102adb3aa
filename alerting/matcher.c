/* alerting/matcher.c — label matchers (contract: matcher.h).
 *
 * Regexes are compiled once, with PCRE2_UTF (Go's regexp, which
 * Alertmanager uses, works on UTF-8 runes) and PCRE2_MATCH_INVALID_UTF so
 * that a label holding bytes that are not UTF-8 simply does not match
 * instead of failing. The match data is allocated with the matcher, so that
 * matching allocates nothing.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "alerting/matcher.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pw_match_type_str(enum pw_match_type t)
{
    switch (t) {
    case PW_MATCH_EQ: return "=";
    case PW_MATCH_NE: return "!=";
    case PW_MATCH_RE: return "=~";
    case PW_MATCH_NRE: return "!~";
    }
    return "?";
}

static bool valid_name(const char *s)
{
    if (!s || !*s || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

int pw_matcher_init(struct pw_matcher *m, const char *name,
                    enum pw_match_type type, const char *value,
                    struct pw_err *err)
{
    memset(m, 0, sizeof *m);
    if (!valid_name(name))
        return pw_err_set(err, "\"%.64s\" is not a valid label name (letters, "
                          "digits and _, not starting with a digit)",
                          name ? name : "");
    if (!value)
        value = "";
    m->type = type;
    m->name = strdup(name);
    m->value = strdup(value);
    if (!m->name || !m->value) {
        pw_matcher_free(m);
        return pw_err_set(err, "out of memory building a matcher");
    }
    if (type != PW_MATCH_RE && type != PW_MATCH_NRE)
        return 0;
    size_t len = strlen(value);
    char *anchored = malloc(len + 8);
    if (!anchored) {
        pw_matcher_free(m);
        return pw_err_set(err, "out of memory building a matcher");
    }
    memcpy(anchored, "^(?:", 4);
    memcpy(anchored + 4, value, len);
    memcpy(anchored + 4 + len, ")$", 3);
    int code;
    PCRE2_SIZE off;
    m->re = pcre2_compile((PCRE2_SPTR)anchored, len + 6,
                          PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &off,
                          NULL);
    free(anchored);
    if (!m->re) {
        PCRE2_UCHAR why[160];
        pcre2_get_error_message(code, why, sizeof why);
        size_t at = off >= 4 ? off - 4 : 0;
        pw_matcher_free(m);
        return pw_err_set(err, "label %s: the regex \"%.80s\" does not "
                          "compile: %s (at offset %zu)",
                          name, value, (char *)why, at > len ? len : at);
    }
    m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
    if (!m->md) {
        pw_matcher_free(m);
        return pw_err_set(err, "out of memory building a matcher");
    }
    return 0;
}

void pw_matcher_free(struct pw_matcher *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->value);
    pcre2_match_data_free(m->md);
    pcre2_code_free(m->re);
    memset(m, 0, sizeof *m);
}

bool pw_matcher_matches(const struct pw_matcher *m,
                        const struct pw_labels *ls)
{
    const char *v = pw_labels_get(ls, m->name);
    if (!v)
        v = "";
    switch (m->type) {
    case PW_MATCH_EQ: return strcmp(v, m->value) == 0;
    case PW_MATCH_NE: return strcmp(v, m->value) != 0;
    case PW_MATCH_RE:
    case PW_MATCH_NRE: {
        int rc = pcre2_match(m->re, (PCRE2_SPTR)v, strlen(v), 0, 0, m->md,
                             NULL);
        return (rc >= 0) == (m->type == PW_MATCH_RE);
    }
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Text form                                                                 */

/* Skips spaces and tabs, never past `end`. */
static const char *skip_space(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

int pw_matcher_parse(struct pw_matcher *m, const char *text,
                     struct pw_err *err)
{
    memset(m, 0, sizeof *m);
    if (!text)
        return pw_err_set(err, "a matcher is empty");
    size_t tlen = strlen(text);
    if (tlen > 65536)
        return pw_err_set(err, "a matcher is longer than 64 KiB");
    const char *end = text + tlen;
    const char *p = skip_space(text, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (*p == '{') {
        if (end <= p + 1 || end[-1] != '}')
            return pw_err_set(err, "matcher \"%.80s\": an opening { without "
                              "a closing }", text);
        end--;
        p = skip_space(p + 1, end);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
    }
    const char *ns = p;
    while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                       (*p >= '0' && *p <= '9') || *p == '_'))
        p++;
    if (p == ns)
        return pw_err_set(err, "matcher \"%.80s\": expected a label name "
                          "first, as in severity=\"critical\"", text);
    size_t nlen = (size_t)(p - ns);
    p = skip_space(p, end);
    enum pw_match_type type;
    if (p + 1 < end && p[0] == '=' && p[1] == '~') {
        type = PW_MATCH_RE; p += 2;
    } else if (p + 1 < end && p[0] == '!' && p[1] == '~') {
        type = PW_MATCH_NRE; p += 2;
    } else if (p + 1 < end && p[0] == '!' && p[1] == '=') {
        type = PW_MATCH_NE; p += 2;
    } else if (p < end && p[0] == '=') {
        type = PW_MATCH_EQ; p += 1;
    } else {
        return pw_err_set(err, "matcher \"%.80s\": expected one of =, !=, =~ "
                          "or !~ after the label name", text);
    }
    p = skip_space(p, end);
    char *value = malloc((size_t)(end - p) + 1);
    char *name = malloc(nlen + 1);
    if (!value || !name) {
        free(value);
        free(name);
        return pw_err_set(err, "out of memory parsing a matcher");
    }
    memcpy(name, ns, nlen);
    name[nlen] = 0;
    size_t vlen = 0;
    int rc = 0;
    if (p < end && *p == '"') {
        p++;
        bool closed = false;
        while (p < end) {
            char c = *p++;
            if (c == '"') {
                closed = true;
                break;
            }
            if (c == '\\') {
                if (p >= end) {
                    break;
                }
                c = *p++;
                if (c == 'n')
                    c = '\n';
                else if (c != '"' && c != '\\') {
                    value[vlen++] = '\\';  /* kept: a regex escape */
                }
            }
            value[vlen++] = c;
        }
        if (!closed)
            rc = pw_err_set(err, "matcher \"%.80s\": the quoted value has no "
                            "closing quote", text);
        else if (skip_space(p, end) != end)
            rc = pw_err_set(err, "matcher \"%.80s\": unexpected text after "
                            "the quoted value", text);
    } else {
        for (; p < end; p++) {
            if (*p == '"' || *p == ',' || *p == '{' || *p == '}') {
                rc = pw_err_set(err, "matcher \"%.80s\": unexpected '%c' in "
                                "an unquoted value (quote the value)", text,
                                *p);
                break;
            }
            value[vlen++] = *p;
        }
    }
    value[vlen] = 0;
    if (rc == 0)
        rc = pw_matcher_init(m, name, type, value, err);
    free(name);
    free(value);
    return rc;
}

size_t pw_matcher_format(const struct pw_matcher *m, char *out, size_t cap)
{
    size_t n = 0;
#define PUT(c) do { if (n + 1 < cap) out[n] = (c); n++; } while (0)
    for (const char *s = m->name; *s; s++)
        PUT(*s);
    for (const char *s = pw_match_type_str(m->type); *s; s++)
        PUT(*s);
    PUT('"');
    for (const char *s = m->value; *s; s++) {
        if (*s == '"' || *s == '\\')
            PUT('\\');
        if (*s == '\n') {
            PUT('\\');
            PUT('n');
            continue;
        }
        PUT(*s);
    }
    PUT('"');
#undef PUT
    if (cap)
        out[n < cap ? n : cap - 1] = 0;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Lists                                                                     */

static struct pw_matcher *grow(struct pw_matchers *ms, struct pw_err *err)
{
    struct pw_matcher *v = realloc(ms->v, (ms->n + 1) * sizeof *v);
    if (!v) {
        pw_err_set(err, "out of memory adding a matcher");
        return NULL;
    }
    ms->v = v;
    return &v[ms->n];
}

int pw_matchers_add(struct pw_matchers *ms, const char *name,
                    enum pw_match_type type, const char *value,
                    struct pw_err *err)
{
    struct pw_matcher *m = grow(ms, err);
    if (!m || pw_matcher_init(m, name, type, value, err) < 0)
        return -1;
    ms->n++;
    return 0;
}

static int add_one(struct pw_matchers *ms, const char *text,
                   struct pw_err *err)
{
    struct pw_matcher *m = grow(ms, err);
    if (!m || pw_matcher_parse(m, text, err) < 0)
        return -1;
    ms->n++;
    return 0;
}

/* As Alertmanager's labels.ParseMatchers: one string may hold several
 * matchers separated by commas (outside quotes), optionally in braces. */
int pw_matchers_add_text(struct pw_matchers *ms, const char *text,
                         struct pw_err *err)
{
    if (!text)
        return pw_err_set(err, "a matcher is empty");
    size_t len = strlen(text);
    if (len > 65536)
        return pw_err_set(err, "a matcher is longer than 64 KiB");
    const char *end = text + len;
    const char *p = skip_space(text, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p < end && *p == '{' && end - p >= 2 && end[-1] == '}') {
        p++;
        end--;
    }
    char *buf = malloc((size_t)(end - p) + 1);
    if (!buf)
        return pw_err_set(err, "out of memory parsing matchers");
    size_t before = ms->n;
    int rc = 0;
    while (rc == 0 && p < end) {
        const char *q = p;
        bool quoted = false;
        for (; q < end; q++) {
            if (quoted && *q == '\\' && q + 1 < end)
                q++;
            else if (*q == '"')
                quoted = !quoted;
            else if (!quoted && *q == ',')
                break;
        }
        memcpy(buf, p, (size_t)(q - p));
        buf[q - p] = 0;
        if (*skip_space(buf, buf + (q - p)) != 0 || q == end)
            rc = add_one(ms, buf, err);
        p = q < end ? q + 1 : q;
    }
    free(buf);
    if (rc == 0 && ms->n == before)
        rc = pw_err_set(err, "matcher \"%.80s\": no matcher in it", text);
    return rc;
}

static int cmp_matcher(const void *a, const void *b)
{
    const struct pw_matcher *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    if ((c = strcmp(x->value, y->value)))
        return c;
    return x->type < y->type ? -1 : x->type > y->type;
}

void pw_matchers_sort(struct pw_matchers *ms)
{
    if (ms->n > 1)
        qsort(ms->v, ms->n, sizeof ms->v[0], cmp_matcher);
}

bool pw_matchers_match(const struct pw_matchers *ms,
                       const struct pw_labels *ls)
{
    for (size_t i = 0; i < ms->n; i++)
        if (!pw_matcher_matches(&ms->v[i], ls))
            return false;
    return true;
}

void pw_matchers_free(struct pw_matchers *ms)
{
    if (!ms)
        return;
    for (size_t i = 0; i < ms->n; i++)
        pw_matcher_free(&ms->v[i]);
    free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}
