/* alerting/silence.c — silences (contract: silence.h).
 *
 * The store keeps every silence in memory (a few hundred at most in
 * practice) for the per-alert `silenced` test, and writes each change to
 * SQLite before it returns, so that the in-memory list is always a copy of
 * the durable one. Expired silences are kept for Alertmanager's retention
 * (120 h) so that `list` still shows them, then forgotten.
 */
#include "alerting/silence.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "alerting/amjson.h"

#define RETENTION_NS (120LL * 3600 * 1000000000)

struct pw_silences {
    char *path;
    sqlite3 *db;
    struct pw_silence *v;
    size_t n;
};

/* ------------------------------------------------------------------------ */
/* One silence                                                               */

void pw_silence_free(struct pw_silence *s)
{
    if (!s)
        return;
    pw_matchers_free(&s->matchers);
    free(s->created_by);
    free(s->comment);
    memset(s, 0, sizeof *s);
}

enum pw_silence_state pw_silence_state(const struct pw_silence *s,
                                       int64_t now_ns)
{
    if (now_ns < s->starts_at_ns)
        return PW_SILENCE_PENDING;
    if (now_ns >= s->ends_at_ns)
        return PW_SILENCE_EXPIRED;
    return PW_SILENCE_ACTIVE;
}

const char *pw_silence_state_name(enum pw_silence_state st)
{
    switch (st) {
    case PW_SILENCE_PENDING: return "pending";
    case PW_SILENCE_ACTIVE: return "active";
    case PW_SILENCE_EXPIRED: return "expired";
    }
    return "?";
}

bool pw_silence_matches(const struct pw_silence *s,
                        const struct pw_labels *ls)
{
    return s->matchers.n > 0 && pw_matchers_match(&s->matchers, ls);
}

static int time_field(const json_t *o, const char *name, int64_t *ns,
                      struct pw_err *err)
{
    json_t *v = json_object_get(o, name);
    if (!v)
        return pw_err_set(err, "the silence has no %s: give a time such as "
                          "\"2026-12-04T15:00:00Z\"", name);
    if (!json_is_string(v) || pw_am_time_parse(json_string_value(v), ns) < 0)
        return pw_err_set(err, "%s is not an RFC 3339 time such as "
                          "\"2026-12-04T15:00:00Z\"", name);
    return 0;
}

static int text_field(const json_t *o, const char *name, char **out,
                      struct pw_err *err)
{
    json_t *v = json_object_get(o, name);
    if (!v || !json_is_string(v) || !*json_string_value(v))
        return pw_err_set(err, "the silence needs a %s (a non-empty string)",
                          name);
    if (!(*out = strdup(json_string_value(v))))
        return pw_err_set(err, "out of memory reading a silence");
    return 0;
}

static int matchers_field(const json_t *o, struct pw_matchers *ms,
                          struct pw_err *err)
{
    json_t *arr = json_object_get(o, "matchers");
    if (!arr || !json_is_array(arr) || json_array_size(arr) == 0)
        return pw_err_set(err, "the silence needs at least one matcher "
                          "(\"matchers\": [{\"name\": ..., \"value\": ..., "
                          "\"isRegex\": false}])");
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m) {
        json_t *name = json_object_get(m, "name");
        json_t *value = json_object_get(m, "value");
        json_t *re = json_object_get(m, "isRegex");
        json_t *eq = json_object_get(m, "isEqual");
        if (!json_is_object(m) || !json_is_string(name) ||
            !json_is_string(value))
            return pw_err_set(err, "matcher %zu needs a name and a value "
                              "(strings)", i + 1);
        if (re && !json_is_boolean(re))
            return pw_err_set(err, "matcher %zu: isRegex must be true or "
                              "false", i + 1);
        if (eq && !json_is_boolean(eq))
            return pw_err_set(err, "matcher %zu: isEqual must be true or "
                              "false", i + 1);
        bool is_re = re && json_is_true(re);
        bool is_eq = !eq || json_is_true(eq);
        enum pw_match_type t = is_re ? (is_eq ? PW_MATCH_RE : PW_MATCH_NRE)
                                     : (is_eq ? PW_MATCH_EQ : PW_MATCH_NE);
        struct pw_err e = {{0}};
        if (pw_matchers_add(ms, json_string_value(name), t,
                            json_string_value(value), &e) < 0)
            return pw_err_set(err, "matcher %zu: %s", i + 1, e.msg);
    }
    struct pw_labels none = {0};
    if (pw_matchers_match(ms, &none))
        return pw_err_set(err, "at least one matcher must not match the "
                          "empty string: this silence would mute every "
                          "alert");
    return 0;
}

static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > PW_SILENCE_ID_LEN)
        return false;
    for (; *id; id++)
        if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f') ||
              (*id >= 'A' && *id <= 'F') || *id == '-'))
            return false;
    return true;
}

int pw_silence_parse_json(const char *json, size_t len, int64_t now_ns,
                          struct pw_silence *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return pw_err_set(err, "the silence is not valid JSON: %s (line %d)",
                          jerr.text, jerr.line);
    int rc = -1;
    if (!json_is_object(o)) {
        pw_err_set(err, "the silence must be a JSON object");
        goto out;
    }
    json_t *id = json_object_get(o, "id");
    if (id && !json_is_null(id)) {
        if (!json_is_string(id) || !valid_id(json_string_value(id))) {
            pw_err_set(err, "id must be a silence id such as "
                       "\"8f0c0a9e-...\"");
            goto out;
        }
        snprintf(out->id, sizeof out->id, "%s", json_string_value(id));
    }
    if (matchers_field(o, &out->matchers, err) < 0 ||
        time_field(o, "startsAt", &out->starts_at_ns, err) < 0 ||
        time_field(o, "endsAt", &out->ends_at_ns, err) < 0 ||
        text_field(o, "createdBy", &out->created_by, err) < 0 ||
        text_field(o, "comment", &out->comment, err) < 0)
        goto out;
    if (out->ends_at_ns <= out->starts_at_ns) {
        pw_err_set(err, "endsAt must be after startsAt");
        goto out;
    }
    if (out->ends_at_ns <= now_ns) {
        pw_err_set(err, "endsAt is in the past: a silence must end in the "
                   "future");
        goto out;
    }
    if (out->starts_at_ns < now_ns)
        out->starts_at_ns = now_ns;
    out->updated_at_ns = now_ns;
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* JSON out                                                                  */

static json_t *matchers_json(const struct pw_matchers *ms)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < ms->n; i++) {
        const struct pw_matcher *m = &ms->v[i];
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:b, s:b}", "name", m->name, "value",
                           m->value, "isRegex",
                           m->type == PW_MATCH_RE || m->type == PW_MATCH_NRE,
                           "isEqual",
                           m->type == PW_MATCH_EQ || m->type == PW_MATCH_RE));
    }
    return arr;
}

static json_t *silence_json(const struct pw_silence *s, int64_t now_ns)
{
    char a[PW_AM_TIME_LEN], b[PW_AM_TIME_LEN], u[PW_AM_TIME_LEN];
    pw_am_time_format(s->starts_at_ns, a);
    pw_am_time_format(s->ends_at_ns, b);
    pw_am_time_format(s->updated_at_ns, u);
    return json_pack("{s:s, s:{s:s}, s:s, s:o, s:s, s:s, s:s, s:s}", "id",
                     s->id, "status", "state",
                     pw_silence_state_name(pw_silence_state(s, now_ns)),
                     "updatedAt", u, "matchers", matchers_json(&s->matchers),
                     "startsAt", a, "endsAt", b, "createdBy", s->created_by,
                     "comment", s->comment);
}

static char *dump(json_t *j)
{
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return t;
}

char *pw_silences_list_json(const struct pw_silences *s, int64_t now_ns)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < s->n; i++)
        json_array_append_new(arr, silence_json(&s->v[i], now_ns));
    return dump(arr);
}

char *pw_silences_get_json(const struct pw_silences *s, const char *id,
                           int64_t now_ns)
{
    const struct pw_silence *x = pw_silences_get(s, id);
    return x ? dump(silence_json(x, now_ns)) : NULL;
}

/* ------------------------------------------------------------------------ */
/* The store                                                                 */

static int db_fail(const struct pw_silences *s, struct pw_err *err,
                   const char *what)
{
    return pw_err_set(err, "silence store %s: %s: %s", s->path, what,
                      sqlite3_errmsg(s->db));
}

/* The stored form: the API's fields plus exact times. */
static char *store_text(const struct pw_silence *x)
{
    return dump(json_pack("{s:s, s:o, s:I, s:I, s:I, s:s, s:s}", "id", x->id,
                          "matchers", matchers_json(&x->matchers),
                          "startsAtNs", (json_int_t)x->starts_at_ns,
                          "endsAtNs", (json_int_t)x->ends_at_ns,
                          "updatedAtNs", (json_int_t)x->updated_at_ns,
                          "createdBy", x->created_by, "comment",
                          x->comment));
}

static int from_store(const char *text, struct pw_silence *x)
{
    memset(x, 0, sizeof *x);
    json_t *o = json_loads(text, 0, NULL);
    struct pw_err err = {{0}};
    int rc = -1;
    json_t *id = json_object_get(o, "id");
    json_t *by = json_object_get(o, "createdBy");
    json_t *c = json_object_get(o, "comment");
    if (!o || !json_is_string(id) || !json_is_string(by) ||
        !json_is_string(c) || matchers_field(o, &x->matchers, &err) < 0)
        goto out;
    snprintf(x->id, sizeof x->id, "%s", json_string_value(id));
    x->starts_at_ns = json_integer_value(json_object_get(o, "startsAtNs"));
    x->ends_at_ns = json_integer_value(json_object_get(o, "endsAtNs"));
    x->updated_at_ns = json_integer_value(json_object_get(o, "updatedAtNs"));
    x->created_by = strdup(json_string_value(by));
    x->comment = strdup(json_string_value(c));
    rc = x->created_by && x->comment ? 0 : -1;
out:
    if (rc < 0)
        pw_silence_free(x);
    json_decref(o);
    return rc;
}

static int save(struct pw_silences *s, const struct pw_silence *x,
                struct pw_err *err)
{
    char *text = store_text(x);
    if (!text)
        return pw_err_set(err, "out of memory storing a silence");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO silences(id, body) "
                           "VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK) {
        free(text);
        return db_fail(s, err, "storing a silence");
    }
    sqlite3_bind_text(st, 1, x->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, free);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : db_fail(s, err, "storing a silence");
}

static void forget_old(struct pw_silences *s, int64_t now_ns)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].ends_at_ns + RETENTION_NS < now_ns) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(s->db, "DELETE FROM silences WHERE id=?",
                                   -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, s->v[i].id, -1, SQLITE_STATIC);
                sqlite3_step(st);
                sqlite3_finalize(st);
            }
            pw_silence_free(&s->v[i]);
            continue;
        }
        s->v[k++] = s->v[i];
    }
    s->n = k;
}

struct pw_silences *pw_silences_open(const char *path, struct pw_err *err)
{
    struct pw_silences *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path ? path : ""))) {
        free(s);
        pw_err_set(err, "out of memory opening the silence store");
        return NULL;
    }
    char *msg = NULL;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
                        SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        db_fail(s, err, "opening");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE IF NOT EXISTS silences("
                     " id TEXT PRIMARY KEY, body TEXT NOT NULL);",
                     NULL, NULL, &msg) != SQLITE_OK) {
        pw_err_set(err, "silence store %s: %s", path, msg ? msg : "error");
        sqlite3_free(msg);
        goto fail;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT body FROM silences ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "reading silences");
        goto fail;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct pw_silence x;
        const char *t = (const char *)sqlite3_column_text(st, 0);
        if (!t || from_store(t, &x) < 0)
            continue;
        struct pw_silence *v = realloc(s->v, (s->n + 1) * sizeof *v);
        if (!v) {
            pw_silence_free(&x);
            break;
        }
        s->v = v;
        s->v[s->n++] = x;
    }
    sqlite3_finalize(st);
    return s;
fail:
    pw_silences_close(s);
    return NULL;
}

void pw_silences_close(struct pw_silences *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        pw_silence_free(&s->v[i]);
    free(s->v);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

static struct pw_silence *find(const struct pw_silences *s, const char *id)
{
    for (size_t i = 0; id && i < s->n; i++)
        if (strcmp(s->v[i].id, id) == 0)
            return &s->v[i];
    return NULL;
}

const struct pw_silence *pw_silences_get(const struct pw_silences *s,
                                         const char *id)
{
    return find(s, id);
}

size_t pw_silences_count(const struct pw_silences *s)
{
    return s->n;
}

static int new_id(char out[PW_SILENCE_ID_LEN + 1], struct pw_err *err)
{
    uint8_t b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        return pw_err_set(err, "no random bytes for a silence id");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, PW_SILENCE_ID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

int pw_silences_add_json(struct pw_silences *s, const char *json, size_t len,
                         int64_t now_ns, char id_out[PW_SILENCE_ID_LEN + 1],
                         struct pw_err *err)
{
    struct pw_silence x;
    if (pw_silence_parse_json(json, len, now_ns, &x, err) < 0) {
        pw_silence_free(&x);
        return -1;
    }
    forget_old(s, now_ns);
    struct pw_silence *old = x.id[0] ? find(s, x.id) : NULL;
    if (x.id[0] && !old) {
        pw_err_set(err, "no silence has the id %s", x.id);
        pw_silence_free(&x);
        return -1;
    }
    if (old && pw_silence_state(old, now_ns) == PW_SILENCE_EXPIRED)
        old = NULL;                 /* an expired one stays; a new id */
    if (!old && new_id(x.id, err) < 0) {
        pw_silence_free(&x);
        return -1;
    }
    if (save(s, &x, err) < 0) {
        pw_silence_free(&x);
        return -1;
    }
    if (old) {
        pw_silence_free(old);
        *old = x;
    } else {
        struct pw_silence *v = realloc(s->v, (s->n + 1) * sizeof *v);
        if (!v) {
            pw_silence_free(&x);
            return pw_err_set(err, "out of memory adding a silence");
        }
        s->v = v;
        s->v[s->n++] = x;
    }
    if (id_out)
        snprintf(id_out, PW_SILENCE_ID_LEN + 1, "%s", x.id);
    return 0;
}

int pw_silences_expire(struct pw_silences *s, const char *id, int64_t now_ns,
                       struct pw_err *err)
{
    struct pw_silence *x = find(s, id);
    if (!x)
        return pw_err_set(err, "no silence has the id %.64s", id ? id : "");
    enum pw_silence_state st = pw_silence_state(x, now_ns);
    if (st == PW_SILENCE_EXPIRED)
        return pw_err_set(err, "silence %s is already expired", x->id);
    int64_t s0 = x->starts_at_ns, e0 = x->ends_at_ns, u0 = x->updated_at_ns;
    if (st == PW_SILENCE_PENDING)
        x->starts_at_ns = now_ns;
    x->ends_at_ns = now_ns;
    x->updated_at_ns = now_ns;
    if (save(s, x, err) < 0) {
        x->starts_at_ns = s0;
        x->ends_at_ns = e0;
        x->updated_at_ns = u0;
        return -1;
    }
    return 0;
}

size_t pw_silences_silenced(const struct pw_silences *s,
                            const struct pw_labels *ls, int64_t now_ns,
                            const char **ids, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct pw_silence *x = &s->v[i];
        if (pw_silence_state(x, now_ns) != PW_SILENCE_ACTIVE ||
            !pw_silence_matches(x, ls))
            continue;
        if (ids && n < cap)
            ids[n] = x->id;
        n++;
    }
    return n;
}
