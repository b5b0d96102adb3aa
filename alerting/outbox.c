/* alerting/outbox.c — the persistent outbox on SQLite (contract: outbox.h).
 *
 * Why it is built this way. SQLite in WAL mode with synchronous=FULL gives a
 * durable commit (the WAL is fsynced at each commit) without a server, and
 * one UNIQUE constraint gives the idempotency the dispatcher relies on:
 * INSERT OR IGNORE of a (key, receiver, config) that exists is a no-op, so a
 * notification formed twice is stored once. Payloads are rendered at enqueue
 * time and stored as the exact bytes to send: the HMAC signs those bytes, a
 * retry sends the same bytes, and a config change after the fact cannot alter
 * what was promised. Secrets (URLs, keys) are not stored; they are looked up
 * in the current configuration at delivery time. In-flight state is not
 * stored either: after a crash an in-flight row is simply pending again.
 */
#include "alerting/outbox.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/render.h"
#include "common/clock.h"

struct pw_outbox {
    sqlite3 *db;
    const struct pw_receivers *receivers;
    char *external_url;
    bool in_batch, batch_durable;
    uint64_t enqueued;
    sqlite3_stmt *ins, *due, *next, *sent, *retry, *failed, *count;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS delivery ("
    " id INTEGER PRIMARY KEY,"
    " idempotency_key TEXT NOT NULL,"
    " receiver TEXT NOT NULL,"
    " config TEXT NOT NULL,"
    " group_key TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " created_ns INTEGER NOT NULL,"
    " next_attempt_ns INTEGER NOT NULL,"
    " done_ns INTEGER,"
    " last_status INTEGER,"
    " last_error TEXT,"
    " UNIQUE (idempotency_key, receiver, config));"
    "CREATE INDEX IF NOT EXISTS delivery_due"
    " ON delivery (state, next_attempt_ns);";

static int db_fail(struct pw_outbox *o, struct pw_err *err, const char *what)
{
    return pw_err_set(err, "outbox: %s: %s", what, sqlite3_errmsg(o->db));
}

static int prepare(struct pw_outbox *o, sqlite3_stmt **st, const char *sql,
                   struct pw_err *err)
{
    if (sqlite3_prepare_v2(o->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(o, err, "preparing a statement");
    return 0;
}

static int exec(struct pw_outbox *o, const char *sql, struct pw_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(o->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pw_err_set(err, "outbox: %s: %s", sql, msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

struct pw_outbox *pw_outbox_open(const char *path,
                                 const struct pw_receivers *receivers,
                                 const char *external_url, struct pw_err *err)
{
    struct pw_outbox *o = calloc(1, sizeof *o);
    if (!o)
        return pw_err_set(err, "out of memory"), NULL;
    o->receivers = receivers;
    if (external_url && !(o->external_url = strdup(external_url))) {
        free(o);
        return pw_err_set(err, "out of memory"), NULL;
    }
    if (sqlite3_open_v2(path, &o->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        pw_err_set(err, "outbox: cannot open %s: %s", path,
                   o->db ? sqlite3_errmsg(o->db) : "out of memory");
        pw_outbox_close(o);
        return NULL;
    }
    /* One process owns an outbox: two delivering from one file would send
     * everything twice. The exclusive lock is taken by the write below and
     * held until close (the OS drops it if the process dies). */
    if (exec(o, "PRAGMA locking_mode=EXCLUSIVE", err) < 0) {
        pw_err_prefix(err, "%s", path);
        pw_outbox_close(o);
        return NULL;
    }
    sqlite3_busy_timeout(o->db, 200);
    /* journal_mode answers with a row: check that WAL was granted. */
    sqlite3_stmt *st = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(o->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        wal = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal")
              == 0;
    sqlite3_finalize(st);
    if (!wal) {
        int code = sqlite3_errcode(o->db);
        if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
            pw_err_set(err, "outbox: %s is in use by another process (one "
                       "outbox per process: give each its own file)", path);
        else
            pw_err_set(err, "outbox: %s: cannot switch to WAL mode: %s", path,
                       sqlite3_errmsg(o->db));
        pw_outbox_close(o);
        return NULL;
    }
    if (exec(o, "BEGIN IMMEDIATE", err) < 0 || exec(o, "COMMIT", err) < 0) {
        pw_err_set(err, "outbox: %s is in use by another process (one outbox "
                   "per process: give each its own file)", path);
        pw_outbox_close(o);
        return NULL;
    }
    sqlite3_busy_timeout(o->db, 5000);
    if (exec(o, "PRAGMA synchronous=FULL", err) < 0 ||
        exec(o, schema, err) < 0 ||
        prepare(o, &o->ins,
                "INSERT OR IGNORE INTO delivery (idempotency_key, receiver,"
                " config, group_key, body, created_ns, next_attempt_ns)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)", err) < 0 ||
        prepare(o, &o->due,
                "SELECT id, idempotency_key, receiver, config, group_key, body,"
                " attempts, created_ns, next_attempt_ns FROM delivery"
                " WHERE state = 0 AND next_attempt_ns <= ?1"
                " AND (?3 IS NULL OR receiver NOT IN"
                "      (SELECT value FROM json_each(?3)))"
                " AND (?4 IS NULL OR receiver = ?4)"
                " ORDER BY next_attempt_ns, id LIMIT ?2", err) < 0 ||
        prepare(o, &o->next,
                "SELECT id, next_attempt_ns FROM delivery WHERE state = 0"
                " ORDER BY next_attempt_ns, id LIMIT ?1", err) < 0 ||
        prepare(o, &o->sent,
                "UPDATE delivery SET state = 1, attempts = attempts + 1,"
                " done_ns = ?2, last_status = ?3, last_error = NULL"
                " WHERE id = ?1", err) < 0 ||
        prepare(o, &o->retry,
                "UPDATE delivery SET attempts = attempts + 1,"
                " next_attempt_ns = ?2, last_status = ?3, last_error = ?4"
                " WHERE id = ?1", err) < 0 ||
        prepare(o, &o->failed,
                "UPDATE delivery SET state = 2, attempts = attempts + 1,"
                " done_ns = ?2, last_status = ?3, last_error = ?4"
                " WHERE id = ?1", err) < 0 ||
        prepare(o, &o->count, "SELECT count(*) FROM delivery WHERE state = ?1",
                err) < 0) {
        pw_err_prefix(err, "%s", path);
        pw_outbox_close(o);
        return NULL;
    }
    return o;
}

void pw_outbox_close(struct pw_outbox *o)
{
    if (!o)
        return;
    sqlite3_stmt *sts[] = {o->ins, o->due, o->next, o->sent,
                           o->retry, o->failed, o->count};
    for (size_t i = 0; i < sizeof sts / sizeof *sts; i++)
        sqlite3_finalize(sts[i]);
    sqlite3_close(o->db);
    free(o->external_url);
    free(o);
}

static int render(const struct pw_outbox *o, const struct pw_target *t,
                  const struct pw_notification *n, char **body,
                  struct pw_err *err)
{
    struct pw_render_opts ro = {
        .external_url = o->external_url,
        .max_alerts = t->max_alerts,
        .send_resolved = t->send_resolved,
        .channel = t->channel,
    };
    switch (t->kind) {
    case PW_TARGET_WEBHOOK:
    case PW_TARGET_KAFKA: return pw_render_webhook(n, &ro, body, err);
    case PW_TARGET_SLACK: return pw_render_slack(n, &ro, body, err);
    case PW_TARGET_LOG: return pw_render_log(n, &ro, body, err);
    }
    return pw_err_set(err, "unknown receiver kind");
}

int pw_outbox_enqueue(struct pw_outbox *o, const struct pw_notification *n,
                      struct pw_err *err)
{
    const struct pw_receiver *r = pw_receivers_find(o->receivers, n->receiver);
    if (!r)
        return pw_err_set(err, "outbox: no receiver called \"%s\"",
                          n->receiver ? n->receiver : "(null)");
    if (o->in_batch && !o->batch_durable)
        return pw_err_set(err, "outbox: an enqueue inside a non-durable batch "
                          "(a programming error)");
    if (!n->idempotency_key || !*n->idempotency_key)
        return pw_err_set(err, "outbox: a notification for %s has no "
                          "idempotency key", r->name);
    /* Render everything first: a failure then leaves the database alone. */
    char **bodies = calloc(r->n_targets + 1, sizeof *bodies);
    if (!bodies)
        return pw_err_set(err, "out of memory");
    int rc = 0, stored = 0;
    for (size_t i = 0; rc == 0 && i < r->n_targets; i++)
        rc = render(o, &r->targets[i], n, &bodies[i], err);
    bool own_tx = !o->in_batch;
    if (rc == 0 && own_tx && exec(o, "BEGIN IMMEDIATE", err) < 0)
        rc = -1;
    int64_t now = n->now_ns ? n->now_ns : pw_realtime_ns();
    for (size_t i = 0; rc == 0 && i < r->n_targets; i++) {
        if (!bodies[i])
            continue;   /* nothing for this config */
        sqlite3_stmt *st = o->ins;
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, n->idempotency_key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->targets[i].config_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, n->group_key ? n->group_key : "", -1,
                          SQLITE_STATIC);
        sqlite3_bind_blob(st, 5, bodies[i], (int)strlen(bodies[i]),
                          SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, now);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = db_fail(o, err, "storing a delivery");
        else
            stored += sqlite3_changes(o->db);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (own_tx && rc == 0 && exec(o, "COMMIT", err) < 0)
        rc = -1;
    if (rc == 0)
        o->enqueued += (uint64_t)stored;
    if (own_tx && rc < 0 && !sqlite3_get_autocommit(o->db))
        sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
    for (size_t i = 0; i < r->n_targets; i++)
        free(bodies[i]);
    free(bodies);
    return rc < 0 ? -1 : 0;
}

void pw_delivery_clear(struct pw_delivery *d)
{
    free(d->idempotency_key);
    free(d->receiver);
    free(d->config);
    free(d->group_key);
    free(d->body);
    memset(d, 0, sizeof *d);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

static bool skipped(int64_t id, const int64_t *skip, size_t n_skip)
{
    for (size_t i = 0; i < n_skip; i++)
        if (skip[i] == id)
            return true;
    return false;
}

int pw_outbox_due(struct pw_outbox *o, int64_t now_ns, const int64_t *skip,
                  size_t n_skip, const char *receiver,
                  const char *skip_receivers_json, struct pw_delivery *out,
                  size_t max, struct pw_err *err)
{
    if (max == 0)
        return 0;
    sqlite3_stmt *st = o->due;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, now_ns);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(max + n_skip));
    if (skip_receivers_json)
        sqlite3_bind_text(st, 3, skip_receivers_json, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    if (receiver)
        sqlite3_bind_text(st, 4, receiver, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    if (receiver)
        sqlite3_bind_text(st, 4, receiver, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    size_t k = 0;
    int rc;
    while (k < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (skipped(id, skip, n_skip))
            continue;
        struct pw_delivery *d = &out[k];
        memset(d, 0, sizeof *d);
        d->id = id;
        d->idempotency_key = col_dup(st, 1);
        d->receiver = col_dup(st, 2);
        d->config = col_dup(st, 3);
        d->group_key = col_dup(st, 4);
        d->body_len = (size_t)sqlite3_column_bytes(st, 5);
        d->body = malloc(d->body_len + 1);
        if (d->body) {
            const void *b = sqlite3_column_blob(st, 5);
            if (d->body_len)
                memcpy(d->body, b, d->body_len);
            d->body[d->body_len] = '\0';
        }
        d->attempts = sqlite3_column_int64(st, 6);
        d->created_ns = sqlite3_column_int64(st, 7);
        d->next_attempt_ns = sqlite3_column_int64(st, 8);
        k++;
        if (!d->idempotency_key || !d->receiver || !d->config ||
            !d->group_key || !d->body) {
            for (size_t i = 0; i < k; i++)
                pw_delivery_clear(&out[i]);
            sqlite3_reset(st);
            return pw_err_set(err, "out of memory reading the outbox");
        }
    }
    if (k < max && rc != SQLITE_DONE) {
        for (size_t i = 0; i < k; i++)
            pw_delivery_clear(&out[i]);
        db_fail(o, err, "reading due deliveries");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return (int)k;
}

int64_t pw_outbox_next_due(struct pw_outbox *o, const int64_t *skip,
                           size_t n_skip)
{
    sqlite3_stmt *st = o->next;
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(n_skip + 1));
    int64_t next = INT64_MAX;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (skipped(sqlite3_column_int64(st, 0), skip, n_skip))
            continue;
        next = sqlite3_column_int64(st, 1);
        break;
    }
    sqlite3_reset(st);
    return next;
}

int pw_outbox_begin(struct pw_outbox *o, bool durable, struct pw_err *err)
{
    if (o->in_batch)
        return 0;
    if (exec(o, durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
             err) < 0 ||
        exec(o, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    o->in_batch = true;
    o->batch_durable = durable;
    return 0;
}

int pw_outbox_commit(struct pw_outbox *o, struct pw_err *err)
{
    if (!o->in_batch)
        return 0;
    o->in_batch = false;
    int rc = exec(o, "COMMIT", err);
    if (rc < 0)
        sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
    if (!o->batch_durable)
        exec(o, "PRAGMA synchronous=FULL", NULL);
    return rc;
}

void pw_outbox_rollback(struct pw_outbox *o)
{
    if (o->in_batch && !sqlite3_get_autocommit(o->db))
        sqlite3_exec(o->db, "ROLLBACK", NULL, NULL, NULL);
    if (o->in_batch && !o->batch_durable)
        exec(o, "PRAGMA synchronous=FULL", NULL);
    o->in_batch = false;
}

uint64_t pw_outbox_enqueued(const struct pw_outbox *o) { return o->enqueued; }

static int mark(struct pw_outbox *o, sqlite3_stmt *st, int64_t id, int64_t t,
                int http_status, const char *why, struct pw_err *err)
{
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, t);
    if (http_status)
        sqlite3_bind_int(st, 3, http_status);
    else
        sqlite3_bind_null(st, 3);
    if (why && sqlite3_bind_parameter_count(st) >= 4)
        sqlite3_bind_text(st, 4, why, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_fail(o, err, "recording a delivery attempt");
    return 0;
}

int pw_outbox_mark_sent(struct pw_outbox *o, int64_t id, int64_t now_ns,
                        int http_status, struct pw_err *err)
{
    return mark(o, o->sent, id, now_ns, http_status, NULL, err);
}

int pw_outbox_mark_retry(struct pw_outbox *o, int64_t id, int64_t next_ns,
                         int http_status, const char *why, struct pw_err *err)
{
    return mark(o, o->retry, id, next_ns, http_status, why, err);
}

int pw_outbox_mark_failed(struct pw_outbox *o, int64_t id, int64_t now_ns,
                          int http_status, const char *why,
                          struct pw_err *err)
{
    return mark(o, o->failed, id, now_ns, http_status, why, err);
}

int64_t pw_outbox_count(struct pw_outbox *o, enum pw_delivery_state state)
{
    sqlite3_stmt *st = o->count;
    sqlite3_reset(st);
    sqlite3_bind_int(st, 1, (int)state);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0)
                                               : -1;
    sqlite3_reset(st);
    return n;
}

int64_t pw_outbox_prune(struct pw_outbox *o, int64_t before_ns,
                        struct pw_err *err)
{
    sqlite3_stmt *st = NULL;
    if (prepare(o, &st,
                "DELETE FROM delivery WHERE state != 0 AND done_ns < ?1",
                err) < 0)
        return -1;
    sqlite3_bind_int64(st, 1, before_ns);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return db_fail(o, err, "pruning");
    return sqlite3_changes(o->db);
}
