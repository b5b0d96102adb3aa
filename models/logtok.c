/* models/logtok.c — see logtok.h for the rules.
 *
 * Why it is built this way: this runs on every log line before anything
 * else, so it is a single pass over the bytes with a 256-entry class table,
 * writing the masked text straight into the caller's buffer; each piece is
 * classified by small hand-written matchers (no regex engine, no
 * allocation), cheapest and most common shapes first. */
#include "models/logtok.h"

#include <string.h>

static const char *const placeholders[PW_LOGTOK_NKINDS] = {
    "<NUM>", "<HEX>", "<IP>", "<PATH>", "<UUID>", "<TIME>", "<ID>", "<HOST>",
};

const char *pw_logtok_placeholder(enum pw_logtok_kind k)
{
    return (unsigned)k < PW_LOGTOK_NKINDS ? placeholders[k] : "<*>";
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool is_blank(unsigned char c) { return c <= ' '; }
static bool is_delim(char c)
{
    switch (c) {
    case '=': case ',': case ';': case '(': case ')': case '[': case ']':
    case '{': case '}': case '"': case '\'': case '<': case '>':
        return true;
    }
    return false;
}

/* Digits at s[*i..]: advances *i, returns how many (at most max). */
static size_t digits(const char *s, size_t len, size_t *i, size_t max)
{
    size_t k = 0;
    while (*i < len && k < max && is_digit(s[*i]))
        (*i)++, k++;
    return k;
}

static bool match_ipv4(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '/')
        i++;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t k = digits(s, len, &i, 3);
        if (k == 0)
            return false;
    }
    if (i < len && s[i] == ':') {
        i++;
        if (digits(s, len, &i, 5) == 0)
            return false;
    }
    return i == len;
}

static bool match_uuid(const char *s, size_t len)
{
    static const size_t group[5] = {8, 4, 4, 4, 12};
    if (len != 36)
        return false;
    size_t i = 0;
    for (int g = 0; g < 5; g++) {
        if (g > 0 && s[i++] != '-')
            return false;
        for (size_t k = 0; k < group[g]; k++)
            if (!is_hex(s[i++]))
                return false;
    }
    return true;
}

static bool match_hex(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        i = 2;
    else if (len < 8)
        return false;
    for (; i < len; i++)
        if (!is_hex(s[i]))
            return false;
    return true;   /* the caller has checked for a digit */
}

/* 12:34[:56][.,789]  |  2017-05-16[T or -]...  |  17/06/09, 2005.06.03 */
static bool match_time(const char *s, size_t len)
{
    size_t i = 0;
    size_t k = digits(s, len, &i, 4);
    if (k == 0 || i >= len)
        return false;
    char sep = s[i];
    if (sep == ':') {
        int fields = 1;
        while (i < len && s[i] == ':') {
            i++;
            if (digits(s, len, &i, 2) != 2)
                return false;
            fields++;
        }
        if (fields < 2 || k > 2)
            return false;
        if (i < len && (s[i] == '.' || s[i] == ',')) {
            i++;
            if (digits(s, len, &i, 9) == 0)
                return false;
        }
        return i == len;
    }
    if (sep != '-' && sep != '/' && sep != '.')
        return false;
    for (int f = 0; f < 2; f++) {
        if (i >= len || s[i] != sep)
            return false;
        i++;
        size_t m = digits(s, len, &i, 4);
        if (m == 0 || m > 2 + 2 * (f == 1))
            return false;
    }
    if (sep == '.' && k != 4)
        return false;                     /* 1.2.3 is a version, not a date */
    return i == len || s[i] == 'T' || s[i] == '-' || s[i] == '_';
}

/* [+-]digits[.digits]* [unit of <= 3 letters | %] */
static bool match_num(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    if (digits(s, len, &i, len) == 0)
        return false;
    while (i + 1 < len && s[i] == '.' && is_digit(s[i + 1])) {
        i++;
        digits(s, len, &i, len);
    }
    if (i < len && s[i] == '%')
        return i + 1 == len;
    size_t unit = 0;
    while (i < len && is_alpha(s[i]))
        i++, unit++;
    return i == len && unit <= 3;
}

static bool looks_like_path(const char *s, size_t len, bool has_digit)
{
    const char *slash = memchr(s, '/', len);
    if (!slash)
        return false;
    if (slash > s && slash[-1] == ':' && slash + 1 < s + len && slash[1] == '/')
        return true;                                   /* scheme://... */
    bool rooted = s[0] == '/' ||
                  (len > 2 && (s[0] == '.' || s[0] == '~') && s[1] == '/');
    if (rooted && memchr(s + 1, '/', len - 1))
        return true;
    return has_digit && slash != s + len - 1;
}

/* A host name: lowercase labels joined by dots, ending in a common
 * top-level domain (so that java.io.IOException and spark.executor stay
 * literal: their "TLD" comes first). Two-letter domains that are also
 * words or config-key suffixes (id, in, io, it, is, no, us, ...) are left
 * out: "mapred.task.id" is a key, not a host. */
static bool match_host(const char *s, size_t len)
{
    static const char *const tlds[] = {
        "com", "net", "org", "edu", "gov", "mil", "info", "biz", "local",
        "internal", "de", "uk", "pl", "jp", "cn", "ru", "fr", "nl", "br",
        "au", "ca", "tw", "kr", "es", "se", "ch", "cz", "dk", "fi", "hu",
        "ro", "gr", "pt", "ar", "mx", "il", "za", "hk", "sg", "th", "vn",
        "tr", "ua", "eu", NULL,
    };
    const char *dot = NULL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (i == 0 || s[i - 1] == '.')
                return false;
            dot = s + i;
        } else if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-')) {
            return false;
        }
    }
    if (!dot || dot == s + len - 1)
        return false;
    size_t tl = (size_t)(s + len - dot - 1);
    for (const char *const *t = tlds; *t; t++)
        if (strlen(*t) == tl && memcmp(*t, dot + 1, tl) == 0)
            return true;
    return false;
}

/* Abbreviated day and month names, as dates print them ("Fri Jun 17"). */
static bool match_dayname(const char *s, size_t len)
{
    static const char names[] = "MonTueWedThuFriSatSun"
                                "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (len != 3 || s[0] < 'A' || s[0] > 'Z')
        return false;
    for (size_t i = 0; i + 3 <= sizeof names - 1; i += 3)
        if (memcmp(names + i, s, 3) == 0)
            return true;
    return false;
}

int pw_logtok_classify(const char *s, size_t len)
{
    bool has_digit = false;
    for (size_t i = 0; i < len; i++)
        if (is_digit(s[i])) {
            has_digit = true;
            break;
        }
    if (!has_digit) {
        if (looks_like_path(s, len, false))
            return PW_LOGTOK_PATH;
        if (match_dayname(s, len))
            return PW_LOGTOK_TIME;
        return match_host(s, len) ? PW_LOGTOK_HOST : -1;
    }
    if (match_host(s, len))
        return PW_LOGTOK_HOST;
    if (match_ipv4(s, len))
        return PW_LOGTOK_IP;
    if (match_num(s, len))
        return PW_LOGTOK_NUM;
    if (match_time(s, len))
        return PW_LOGTOK_TIME;
    if (match_uuid(s, len))
        return PW_LOGTOK_UUID;
    if (match_hex(s, len))
        return PW_LOGTOK_HEX;
    if (looks_like_path(s, len, true))
        return PW_LOGTOK_PATH;
    return PW_LOGTOK_ID;
}

struct writer {
    struct pw_logtok_line *out;
    size_t pos;
};

static bool put(struct writer *w, const char *s, size_t n)
{
    if (w->pos + n >= PW_LOGTOK_MAX_BYTES)
        return false;
    memcpy(w->out->text + w->pos, s, n);
    w->pos += n;
    return true;
}

/* Masks the piece s[0..n) into w; returns true if it became a placeholder
 * (a trailing ':' or '.' stays literal after it). kind is its class. */
static bool put_piece(struct writer *w, const char *s, size_t n, int kind,
                      bool *ok)
{
    size_t core = n;
    while (core > 1 && (s[core - 1] == ':' || s[core - 1] == '.'))
        core--;
    if (kind < 0) {
        *ok = put(w, s, n);
        return false;
    }
    const char *ph = placeholders[kind];
    *ok = put(w, ph, strlen(ph)) && put(w, s + core, n - core);
    return true;
}

size_t pw_logtok_mask(const char *line, size_t len, struct pw_logtok_line *out)
{
    struct writer w = {out, 0};
    out->n = 0;
    out->truncated = false;
    const char *nul = memchr(line, '\0', len);
    if (nul)
        len = (size_t)(nul - line);
    size_t i = 0;
    while (i < len) {
        while (i < len && is_blank((unsigned char)line[i]))
            i++;
        if (i >= len)
            break;
        size_t start = i;
        while (i < len && !is_blank((unsigned char)line[i]))
            i++;
        if (out->n == PW_LOGTOK_MAX_TOKENS) {
            out->truncated = true;
            break;
        }
        size_t save = w.pos;
        if (out->n > 0 && !put(&w, " ", 1)) {
            out->truncated = true;
            break;
        }
        size_t tok_start = w.pos;
        bool ok = true, var = false, literal = false;
        for (size_t j = start; j < i && ok;) {
            if (is_delim(line[j])) {
                ok = put(&w, line + j, 1);
                j++;
                continue;
            }
            size_t p = j;
            while (j < i && !is_delim(line[j]))
                j++;
            size_t core = j - p;
            while (core > 1 && (line[p + core - 1] == ':' ||
                                line[p + core - 1] == '.'))
                core--;
            int kind = pw_logtok_classify(line + p, core);
            if (kind == PW_LOGTOK_PATH) {
                /* A path or URL runs to the end of the token (a query
                 * string's '=' and ',' are part of it), less closing
                 * punctuation. */
                j = i;
                while (j > p + core && strchr("\"')]};,:.", line[j - 1]))
                    j--;
                core = j - p;
            }
            if (kind == PW_LOGTOK_TIME && core == j - p && j + 1 < i &&
                line[j] == ',' && is_digit(line[j + 1])) {
                /* 04:00:12,223: the milliseconds after a comma. */
                j++;
                while (j < i && is_digit(line[j]))
                    j++;
                core = j - p;
            }
            bool masked = put_piece(&w, line + p, j - p, kind, &ok);
            var |= masked;
            literal |= !masked || core < j - p;
        }
        if (!ok) {
            w.pos = save;
            out->truncated = true;
            break;
        }
        size_t tl = w.pos - tok_start;
        out->off[out->n] = (uint16_t)tok_start;
        out->len[out->n] = (uint16_t)tl;
        uint8_t fl = var ? PW_LOGTOK_VAR : 0;
        /* WHOLE: placeholders and delimiters only, "<IP>", "(<HOST>)",
         * "<IP>,<IP>": the token as a whole is a variable. */
        if (var && !literal)
            fl |= PW_LOGTOK_WHOLE;
        out->flags[out->n] = fl;
        out->n++;
    }
    out->text[w.pos] = '\0';
    out->text_len = w.pos;
    return out->n;
}
