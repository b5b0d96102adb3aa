/* alerting/render.c — payloads from notifications (contract: render.h).
 *
 * Why it is built this way. The bodies are built as jansson trees and dumped
 * once, so that quoting and escaping are jansson's problem, not ours; every
 * string from an alert first goes through utf8_clean, because jansson
 * refuses invalid UTF-8 and a label's bytes come from outside. The webhook
 * body follows Alertmanager's notify/webhook (payload version 4) field for
 * field so that receivers written for Alertmanager accept it unchanged; the
 * Slack message keeps within Block Kit's limits (150 characters in a header,
 * 3000 in a section, 50 blocks) so that Slack never answers 400 to a long
 * label, which would not be retried.
 */
#include "alerting/render.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/words.h"

#define SLACK_HEADER_MAX 150
#define SLACK_TEXT_MAX 2900
#define SLACK_MAX_ALERTS 10

/* ---- text helpers ------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0;   /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0;   /* surrogate */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0;
        if (c == 0xf4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

/* A copy of s, at most max_bytes long (0: no limit) and cut on a character
 * boundary, with every invalid byte replaced by U+FFFD. */
static char *utf8_clean_max(const char *s, size_t max_bytes)
{
    if (!s)
        s = "";
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t k = utf8_seq(p);
        const char *src = (const char *)p;
        size_t step = k ? k : 1;
        if (!k) {
            src = "\xef\xbf\xbd";
            k = 3;
        }
        if (max_bytes && o + k > max_bytes)
            break;
        memcpy(out + o, src, k);
        o += k;
        p += step;
    }
    out[o] = '\0';
    return out;
}

/* A JSON string of s, made valid UTF-8. */
static json_t *jstr(const char *s)
{
    char *c = utf8_clean_max(s, 0);
    if (!c)
        return NULL;
    json_t *j = json_string(c);
    free(c);
    return j;
}

/* obj[key] = value, both cleaned; takes the reference to value. */
static int jset(json_t *obj, const char *key, json_t *value)
{
    if (!value)
        return -1;
    char *k = utf8_clean_max(key, 0);
    if (!k) {
        json_decref(value);
        return -1;
    }
    int rc = json_object_set_new(obj, k, value);
    free(k);
    return rc;
}

static json_t *labels_json(const struct pw_labels *ls)
{
    json_t *o = json_object();
    for (size_t i = 0; o && ls && i < ls->n; i++)
        if (jset(o, ls->v[i].name, jstr(ls->v[i].value)) < 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

static const char *lget(const struct pw_labels *ls, const char *name)
{
    for (size_t i = 0; ls && i < ls->n; i++)
        if (ls->v[i].name && strcmp(ls->v[i].name, name) == 0)
            return ls->v[i].value;
    return NULL;
}

void pw_rfc3339(int64_t unix_ns, char *out, size_t n)
{
    if (unix_ns == 0) {
        snprintf(out, n, "0001-01-01T00:00:00Z");
        return;
    }
    int64_t sec = unix_ns / 1000000000, frac = unix_ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        sec -= 1;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 0) {
        snprintf(out, n, "0001-01-01T00:00:00Z");
        return;
    }
    char fs[12] = "";
    if (frac) {
        snprintf(fs, sizeof fs, ".%09lld", (long long)frac);
        size_t l = strlen(fs);
        while (fs[l - 1] == '0')
            fs[--l] = '\0';
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, fs);
}

void pw_eta_words(double seconds, char *out, size_t n)
{
    if (n == 0)
        return;
    if (isnan(seconds)) {
        snprintf(out, n, "unknown");
        return;
    }
    if (seconds < 1) {
        snprintf(out, n, "now");
        return;
    }
    if (seconds > 3.15e9) {
        snprintf(out, n, "in more than 100 years");
        return;
    }
    char words[48];
    pw_duration_words(seconds, words, sizeof words);
    snprintf(out, n, "in %s", words);
}

/* The alerts a receiver is sent: all, or the firing ones. */
static bool included(const struct pw_render_opts *o, const struct pw_alert *a)
{
    return o->send_resolved || a->status == PW_ALERT_FIRING;
}

static size_t count_included(const struct pw_notification *n,
                             const struct pw_render_opts *o, size_t *firing)
{
    size_t k = 0;
    *firing = 0;
    for (size_t i = 0; i < n->n_alerts; i++)
        if (included(o, &n->alerts[i])) {
            k++;
            if (n->alerts[i].status == PW_ALERT_FIRING)
                (*firing)++;
        }
    return k;
}

/* The labels (or annotations, which = 1) every included alert has with the
 * same value, as Alertmanager's commonLabels. */
static json_t *common_json(const struct pw_notification *n,
                           const struct pw_render_opts *o, int which)
{
    json_t *obj = json_object();
    const struct pw_labels *first = NULL;
    size_t fi = 0;
    for (; fi < n->n_alerts; fi++)
        if (included(o, &n->alerts[fi])) {
            first = which ? &n->alerts[fi].annotations : &n->alerts[fi].labels;
            break;
        }
    for (size_t i = 0; obj && first && i < first->n; i++) {
        const char *name = first->v[i].name, *value = first->v[i].value;
        bool common = true;
        for (size_t j = fi + 1; common && j < n->n_alerts; j++) {
            if (!included(o, &n->alerts[j]))
                continue;
            const char *v = lget(which ? &n->alerts[j].annotations
                                       : &n->alerts[j].labels, name);
            common = v && value && strcmp(v, value) == 0;
        }
        if (common && jset(obj, name, jstr(value)) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

static json_t *alert_json(const struct pw_alert *a)
{
    char starts[40], ends[40], fp[17];
    pw_rfc3339(a->starts_at_ns, starts, sizeof starts);
    pw_rfc3339(a->ends_at_ns, ends, sizeof ends);
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)a->fingerprint);
    json_t *o = json_object();
    if (!o ||
        jset(o, "status", json_string(a->status == PW_ALERT_FIRING
                                          ? "firing" : "resolved")) < 0 ||
        jset(o, "labels", labels_json(&a->labels)) < 0 ||
        jset(o, "annotations", labels_json(&a->annotations)) < 0 ||
        jset(o, "startsAt", json_string(starts)) < 0 ||
        jset(o, "endsAt", json_string(ends)) < 0 ||
        jset(o, "generatorURL", jstr(a->generator_url ? a->generator_url : ""))
            < 0 ||
        jset(o, "fingerprint", json_string(fp)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int dump(json_t *root, char **out, struct pw_err *err)
{
    if (!root)
        return pw_err_set(err, "out of memory rendering a notification");
    *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!*out)
        return pw_err_set(err, "out of memory rendering a notification");
    return 0;
}

/* The webhook body as a tree (also the Kafka receiver's message). */
static json_t *webhook_json(const struct pw_notification *n,
                            const struct pw_render_opts *o, size_t k,
                            size_t firing)
{
    size_t max = o->max_alerts && o->max_alerts < k ? o->max_alerts : k;
    json_t *root = json_object();
    json_t *alerts = json_array();
    if (!root || !alerts) {
        json_decref(root);
        json_decref(alerts);
        return NULL;
    }
    size_t put = 0;
    for (size_t i = 0; i < n->n_alerts && put < max; i++) {
        if (!included(o, &n->alerts[i]))
            continue;
        if (json_array_append_new(alerts, alert_json(&n->alerts[i])) < 0) {
            json_decref(root);
            json_decref(alerts);
            return NULL;
        }
        put++;
    }
    if (jset(root, "version", json_string("4")) < 0 ||
        jset(root, "groupKey", jstr(n->group_key ? n->group_key : "")) < 0 ||
        jset(root, "truncatedAlerts", json_integer((json_int_t)(k - max))) < 0 ||
        jset(root, "status", json_string(firing ? "firing" : "resolved")) < 0 ||
        jset(root, "receiver", jstr(n->receiver ? n->receiver : "")) < 0 ||
        jset(root, "groupLabels", labels_json(n->group_labels)) < 0 ||
        jset(root, "commonLabels", common_json(n, o, 0)) < 0 ||
        jset(root, "commonAnnotations", common_json(n, o, 1)) < 0 ||
        jset(root, "externalURL", jstr(o->external_url ? o->external_url : ""))
            < 0 ||
        jset(root, "alerts", alerts) < 0 ||
        jset(root, "idempotencyKey",
             jstr(n->idempotency_key ? n->idempotency_key : "")) < 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

int pw_render_webhook(const struct pw_notification *n,
                      const struct pw_render_opts *o, char **out,
                      struct pw_err *err)
{
    size_t firing, k = count_included(n, o, &firing);
    *out = NULL;
    if (k == 0)
        return 0;
    return dump(webhook_json(n, o, k, firing), out, err);
}

/* ---- Slack ------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* Slack's mrkdwn escaping: &, < and > only. */
static void sb_mrkdwn(struct sbuf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '&')
            sb_str(b, "&amp;");
        else if (*s == '<')
            sb_str(b, "&lt;");
        else if (*s == '>')
            sb_str(b, "&gt;");
        else
            sb_add(b, s, 1);
    }
}

/* A cleaned, length-limited JSON string from a buffer (which it frees). */
static json_t *jstr_take(struct sbuf *b, size_t max)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    char *c = utf8_clean_max(b->p ? b->p : "", 0);
    free(b->p);
    if (!c)
        return NULL;
    size_t l = strlen(c);
    if (max && l > max) {
        /* Cut on a character boundary, with room for an ellipsis. */
        l = max - 3;
        while (l > 0 && ((unsigned char)c[l] & 0xc0) == 0x80)
            l--;
        memcpy(c + l, "\xe2\x80\xa6", 4);
    }
    json_t *j = json_string(c);
    free(c);
    return j;
}

static json_t *text_obj(const char *type, json_t *text)
{
    json_t *o = json_object();
    if (!o || !text || jset(o, "type", json_string(type)) < 0 ||
        jset(o, "text", text) < 0) {
        json_decref(o);
        return NULL;
    }
    if (!strcmp(type, "plain_text") && jset(o, "emoji", json_true()) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *block(const char *type, json_t *text)
{
    json_t *o = json_object();
    if (!o || !text || jset(o, "type", json_string(type)) < 0 ||
        jset(o, "text", text) < 0) {
        json_decref(o);
        json_decref(text);
        return NULL;
    }
    return o;
}

static json_t *context_block(json_t *mrkdwn)
{
    json_t *o = json_object(), *els = json_array();
    if (!o || !els || !mrkdwn || json_array_append_new(els, mrkdwn) < 0 ||
        jset(o, "type", json_string("context")) < 0 ||
        jset(o, "elements", els) < 0) {
        json_decref(o);
        json_decref(els);
        return NULL;
    }
    return o;
}

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

static void sb_confidence(struct sbuf *b, const char *conf)
{
    char *end;
    double v = strtod(conf, &end);
    if (end != conf && *end == '\0' && v >= 0 && v <= 1) {
        char t[32];
        snprintf(t, sizeof t, "%.0f%%", v * 100);
        sb_str(b, t);
    } else {
        sb_mrkdwn(b, conf);
    }
}

/* One evidence value as people read it: strings as they are, numbers
 * with six significant digits (77.67, not 77.670000000000002). */
static void sb_evidence_value(struct sbuf *b, const json_t *v)
{
    if (json_is_string(v)) {
        sb_mrkdwn(b, json_string_value(v));
        return;
    }
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
    sb_mrkdwn(b, t ? t : "?");
    free(t);
}

static void sb_evidence(struct sbuf *b, const char *ev)
{
    json_t *j = json_loads(ev, JSON_DECODE_ANY, NULL);
    if (j && json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) {
            sb_str(b, "\xe2\x80\xa2 ");
            sb_mrkdwn(b, key);
            sb_str(b, ": ");
            sb_evidence_value(b, v);
            sb_str(b, "\n");
            if (b->len > SLACK_TEXT_MAX)
                break;
        }
    } else if (j && json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            sb_str(b, "\xe2\x80\xa2 ");
            sb_evidence_value(b, v);
            sb_str(b, "\n");
            if (b->len > SLACK_TEXT_MAX)
                break;
        }
    } else {
        sb_mrkdwn(b, ev);
    }
    json_decref(j);
}

static bool is_http_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
           && !strpbrk(u, " \t\r\n|<>");
}

/* The blocks of one alert, appended to `blocks`. */
static int slack_alert(json_t *blocks, const struct pw_alert *a)
{
    const struct pw_labels *an = &a->annotations;
    const char *summary = lget(an, "summary"), *desc = lget(an, "description");
    const char *eta = lget(an, "eta_seconds"), *conf = lget(an, "confidence");
    const char *ev = lget(an, "evidence");
    const char *alertname = lget(&a->labels, "alertname");
    const char *entity = lget(&a->labels, "entity");
    struct sbuf b = {0};
    sb_str(&b, a->status == PW_ALERT_FIRING ? "*" : "*[resolved] ");
    sb_mrkdwn(&b, summary ? summary : alertname ? alertname : "alert");
    sb_str(&b, "*");
    if (entity) {
        sb_str(&b, "\n*Entity:* ");
        sb_mrkdwn(&b, entity);
    }
    if (eta && a->status == PW_ALERT_FIRING) {
        char *end;
        double s = strtod(eta, &end);
        if (end != eta && *end == '\0' && isfinite(s)) {
            char words[64];
            pw_eta_words(s, words, sizeof words);
            sb_str(&b, "\n*ETA:* ");
            sb_str(&b, words);
        }
    }
    if (conf) {
        sb_str(&b, "\n*Confidence:* ");
        sb_confidence(&b, conf);
    }
    if (desc) {
        sb_str(&b, "\n");
        sb_mrkdwn(&b, desc);
    }
    if (json_array_append_new(blocks,
            block("section", text_obj("mrkdwn", jstr_take(&b, SLACK_TEXT_MAX))))
        < 0)
        return -1;
    if (ev && *ev) {
        struct sbuf e = {0};
        sb_str(&e, "*Evidence*\n");
        sb_evidence(&e, ev);
        if (json_array_append_new(blocks,
                block("section",
                      text_obj("mrkdwn", jstr_take(&e, SLACK_TEXT_MAX)))) < 0)
            return -1;
    }
    if (is_http_url(a->generator_url)) {
        struct sbuf l = {0};
        sb_str(&l, "<");
        sb_mrkdwn(&l, a->generator_url);
        sb_str(&l, "|View the prediction>");
        if (l.len < SLACK_TEXT_MAX &&
            json_array_append_new(blocks,
                context_block(text_obj("mrkdwn", jstr_take(&l, 0)))) < 0)
            return -1;
        else if (l.len >= SLACK_TEXT_MAX)
            free(l.p);
    }
    return 0;
}

int pw_render_slack(const struct pw_notification *n,
                    const struct pw_render_opts *o, char **out,
                    struct pw_err *err)
{
    size_t firing, k = count_included(n, o, &firing);
    *out = NULL;
    if (k == 0)
        return 0;
    const struct pw_alert *first = NULL;
    for (size_t i = 0; i < n->n_alerts && !first; i++)
        if (included(o, &n->alerts[i]) &&
            (!firing || n->alerts[i].status == PW_ALERT_FIRING))
            first = &n->alerts[i];
    const char *sev = lget(&first->labels, "severity");
    const char *entity = lget(&first->labels, "entity");
    const char *alertname = lget(&first->labels, "alertname");

    struct sbuf h = {0};
    char tag[48];
    if (firing)
        snprintf(tag, sizeof tag, "[FIRING:%zu]", firing);
    else
        snprintf(tag, sizeof tag, "[RESOLVED]");
    sb_str(&h, tag);
    if (sev) {
        char *s = strdup(sev);
        if (s) {
            upper(s);
            sb_str(&h, " ");
            sb_str(&h, s);
            free(s);
        }
    }
    if (entity) {
        sb_str(&h, " ");
        sb_str(&h, entity);
    }
    if (alertname) {
        sb_str(&h, " ");
        sb_str(&h, alertname);
    }
    /* The fallback text (notifications, screen readers) is the header. */
    char *fallback = utf8_clean_max(h.p ? h.p : tag, SLACK_TEXT_MAX);

    json_t *root = json_object(), *blocks = json_array();
    int rc = root && blocks && fallback ? 0 : -1;
    if (rc == 0)
        rc = json_array_append_new(blocks,
                 block("header", text_obj("plain_text",
                                          jstr_take(&h, SLACK_HEADER_MAX))));
    else
        free(h.p);
    size_t shown = 0;
    for (size_t i = 0; rc == 0 && i < n->n_alerts; i++) {
        if (!included(o, &n->alerts[i]))
            continue;
        if (shown == SLACK_MAX_ALERTS)
            break;
        if (shown > 0 &&
            json_array_append_new(blocks, json_pack("{s:s}", "type", "divider"))
                < 0)
            rc = -1;
        if (rc == 0)
            rc = slack_alert(blocks, &n->alerts[i]);
        shown++;
    }
    if (rc == 0 && k > shown) {
        char more[96];
        snprintf(more, sizeof more, "and %zu more alert%s in this group",
                 k - shown, k - shown == 1 ? "" : "s");
        rc = json_array_append_new(blocks,
                 context_block(text_obj("mrkdwn", json_string(more))));
    }
    if (rc == 0 && o->channel)
        rc = jset(root, "channel", jstr(o->channel));
    if (rc == 0)
        rc = jset(root, "text", json_string(fallback));
    if (rc == 0) {
        rc = jset(root, "blocks", blocks);
        blocks = NULL;
    }
    free(fallback);
    json_decref(blocks);
    if (rc < 0) {
        json_decref(root);
        return pw_err_set(err, "out of memory rendering a Slack message");
    }
    return dump(root, out, err);
}

/* ---- log --------------------------------------------------------------- */

static void sb_logval(struct sbuf *b, const char *v)
{
    char *c = utf8_clean_max(v ? v : "", 1024);
    if (!c) {
        b->oom = true;
        return;
    }
    bool quote = !*c || strpbrk(c, " \"=\\") != NULL;
    if (quote)
        sb_str(b, "\"");
    for (const char *p = c; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            sb_str(b, " ");
        else if (quote && (*p == '"' || *p == '\\')) {
            sb_str(b, "\\");
            sb_add(b, p, 1);
        } else
            sb_add(b, p, 1);
    }
    if (quote)
        sb_str(b, "\"");
    free(c);
}

int pw_render_log(const struct pw_notification *n,
                  const struct pw_render_opts *o, char **out,
                  struct pw_err *err)
{
    size_t firing, k = count_included(n, o, &firing);
    *out = NULL;
    if (k == 0)
        return 0;
    struct sbuf b = {0};
    static const char *const labels[] = {"alertname", "entity", "severity",
                                         "kind"};
    for (size_t i = 0; i < n->n_alerts; i++) {
        const struct pw_alert *a = &n->alerts[i];
        if (!included(o, a))
            continue;
        sb_str(&b, a->status == PW_ALERT_FIRING ? "alert firing receiver="
                                                : "alert resolved receiver=");
        sb_logval(&b, n->receiver);
        sb_str(&b, " key=");
        sb_logval(&b, n->idempotency_key);
        char fp[17];
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)a->fingerprint);
        sb_str(&b, " fingerprint=");
        sb_str(&b, fp);
        for (size_t j = 0; j < sizeof labels / sizeof *labels; j++) {
            const char *v = lget(&a->labels, labels[j]);
            if (v) {
                sb_str(&b, " ");
                sb_str(&b, labels[j]);
                sb_str(&b, "=");
                sb_logval(&b, v);
            }
        }
        const char *eta = lget(&a->annotations, "eta_seconds");
        if (eta && a->status == PW_ALERT_FIRING) {
            char *end;
            double s = strtod(eta, &end);
            if (end != eta && *end == '\0' && isfinite(s)) {
                char words[64];
                pw_eta_words(s, words, sizeof words);
                sb_str(&b, " eta=");
                sb_logval(&b, words);
            }
        }
        const char *summary = lget(&a->annotations, "summary");
        if (summary) {
            sb_str(&b, " summary=");
            sb_logval(&b, summary);
        }
        sb_str(&b, "\n");
    }
    if (b.oom) {
        free(b.p);
        return pw_err_set(err, "out of memory rendering log lines");
    }
    *out = b.p;
    return 0;
}
