/* agent/spool.c — the spool on SQLite.
 *
 * SQLite because the spool must survive a crash at any instruction and
 * SQLite's WAL gives that with a few statements; a hand-rolled segment file
 * would need its own recovery code. One table, seq INTEGER PRIMARY KEY
 * (rowid order = append order; AUTOINCREMENT so that a seq is never reused,
 * even after the spool empties, which keeps a sender's cursor valid). The
 * payload byte count is kept in memory and recomputed at open, so the bound
 * costs nothing per append. Deleted pages are returned to the file system by
 * incremental vacuum, so the file shrinks after an outage is replayed. */
#include "agent/spool.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

struct pw_spool {
    sqlite3 *db;
    sqlite3_stmt *insert, *next, *del, *size_of, *oldest;
    int64_t max_bytes;
    struct pw_spool_stats st;
    uint64_t acks_since_vacuum;
};

static int db_err(struct pw_spool *s, struct pw_err *err, const char *what)
{
    return pw_err_set(err, "spool: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec(struct pw_spool *s, const char *sql, struct pw_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pw_err_set(err, "spool: %s: %s", sql, msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int prepare(struct pw_spool *s, const char *sql, sqlite3_stmt **st,
                   struct pw_err *err)
{
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
        SQLITE_OK)
        return db_err(s, err, "prepare");
    return 0;
}

static int load_totals(struct pw_spool *s, struct pw_err *err)
{
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT count(*), coalesce(sum(length(topic) + "
                           "length(key) + length(value)), 0) FROM spool",
                           -1, &q, NULL) != SQLITE_OK)
        return db_err(s, err, "prepare");
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        s->st.records = (uint64_t)sqlite3_column_int64(q, 0);
        s->st.bytes = (uint64_t)sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 0 : db_err(s, err, "count");
}

struct pw_spool *pw_spool_open(const char *path, int64_t max_bytes,
                               struct pw_err *err)
{
    struct pw_spool *s = calloc(1, sizeof *s);
    if (!s) {
        pw_err_set(err, "spool: out of memory");
        return NULL;
    }
    s->max_bytes = max_bytes;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        pw_err_set(err, "spool: cannot open %s: %s", path,
                   s->db ? sqlite3_errmsg(s->db) : "out of memory");
        pw_spool_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 2000);
    /* page_size and auto_vacuum must be chosen before the first table
     * exists (an existing file keeps its own). 64 KiB pages: a message of
     * log records is hundreds of KiB, and SQLite writes, checkpoints and
     * frees a value page by page, so 4 KiB pages cost ~400 system calls
     * per such message, 64 KiB ones ~60 (bench/bench_logtail.c). */
    if (exec(s, "PRAGMA page_size=65536", err) < 0 ||
        exec(s, "PRAGMA auto_vacuum=INCREMENTAL", err) < 0 ||
        /* One agent per spool: an exclusive lock keeps a second one out
         * (it gets "database is locked") and spares a lock round trip per
         * statement. */
        exec(s, "PRAGMA locking_mode=EXCLUSIVE", err) < 0 ||
        exec(s, "PRAGMA journal_mode=WAL", err) < 0 ||
        exec(s, "PRAGMA synchronous=NORMAL", err) < 0 ||
        exec(s, "PRAGMA cache_size=-256", err) < 0 ||   /* 256 KiB: the agent is small */
        exec(s,
             "CREATE TABLE IF NOT EXISTS spool ("
             " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
             " topic TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL)",
             err) < 0 ||
        prepare(s, "INSERT INTO spool(topic, key, value) VALUES (?, ?, ?)",
                &s->insert, err) < 0 ||
        prepare(s,
                "SELECT seq, topic, key, value FROM spool WHERE seq > ? "
                "ORDER BY seq LIMIT 1",
                &s->next, err) < 0 ||
        /* The size by a SELECT of its own: length() of a blob column
         * reads only the record header, whereas DELETE ... RETURNING
         * copied the whole value out first. */
        prepare(s, "SELECT length(topic) + length(key) + length(value) FROM spool "
                   "WHERE seq = ?", &s->size_of, err) < 0 ||
        prepare(s, "DELETE FROM spool WHERE seq = ?", &s->del, err) < 0 ||
        prepare(s, "SELECT seq FROM spool ORDER BY seq LIMIT 1", &s->oldest,
                err) < 0 ||
        load_totals(s, err) < 0) {
        pw_err_prefix(err, "%s", path);
        pw_spool_close(s);
        return NULL;
    }
    return s;
}

void pw_spool_close(struct pw_spool *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_exec(s->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->next);
    sqlite3_finalize(s->del);
    sqlite3_finalize(s->size_of);
    sqlite3_finalize(s->oldest);
    sqlite3_close(s->db);
    free(s);
}

/* Deletes one record; *bytes gets its payload size (0 if it was gone). */
static int delete_seq(struct pw_spool *s, int64_t seq, uint64_t *bytes,
                      struct pw_err *err)
{
    *bytes = 0;
    sqlite3_reset(s->size_of);
    sqlite3_bind_int64(s->size_of, 1, seq);
    if (sqlite3_step(s->size_of) == SQLITE_ROW)
        *bytes = (uint64_t)sqlite3_column_int64(s->size_of, 0);
    sqlite3_reset(s->size_of);
    sqlite3_reset(s->del);
    sqlite3_bind_int64(s->del, 1, seq);
    int rc = sqlite3_step(s->del);
    sqlite3_reset(s->del);
    if (rc != SQLITE_DONE)
        return db_err(s, err, "delete");
    if (*bytes > 0 || sqlite3_changes(s->db) > 0) {
        s->st.records--;
        s->st.bytes -= *bytes;
    }
    return 0;
}

static int drop_oldest_until(struct pw_spool *s, uint64_t room,
                             struct pw_err *err)
{
    while (s->st.records > 0 && s->st.bytes + room > (uint64_t)s->max_bytes) {
        sqlite3_reset(s->oldest);
        if (sqlite3_step(s->oldest) != SQLITE_ROW) {
            sqlite3_reset(s->oldest);
            return db_err(s, err, "find oldest");
        }
        int64_t seq = sqlite3_column_int64(s->oldest, 0);
        sqlite3_reset(s->oldest);
        uint64_t bytes;
        if (delete_seq(s, seq, &bytes, err) < 0)
            return -1;
        s->st.dropped_records++;
        s->st.dropped_bytes += bytes;
    }
    return 0;
}

int pw_spool_set_max_bytes(struct pw_spool *s, int64_t max_bytes,
                           struct pw_err *err)
{
    s->max_bytes = max_bytes;
    return drop_oldest_until(s, 0, err);
}

int pw_spool_append(struct pw_spool *s, const char *topic, const void *key,
                    size_t key_len, const void *value, size_t value_len,
                    int64_t *seq, struct pw_err *err)
{
    uint64_t size = strlen(topic) + key_len + value_len;
    if (size > (uint64_t)s->max_bytes)
        return pw_err_set(err, "spool: a message of %llu bytes exceeds the "
                          "spool's bound of %lld bytes",
                          (unsigned long long)size, (long long)s->max_bytes);
    if (drop_oldest_until(s, size, err) < 0)
        return -1;
    sqlite3_reset(s->insert);
    sqlite3_bind_text(s->insert, 1, topic, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s->insert, 2, key_len ? key : "", (int)key_len, SQLITE_STATIC);
    sqlite3_bind_blob(s->insert, 3, value_len ? value : "", (int)value_len,
                      SQLITE_STATIC);
    int rc = sqlite3_step(s->insert);
    sqlite3_reset(s->insert);
    if (rc != SQLITE_DONE)
        return db_err(s, err, "append");
    if (seq)
        *seq = sqlite3_last_insert_rowid(s->db);
    s->st.records++;
    s->st.bytes += size;
    s->st.appended++;
    return 0;
}

int pw_spool_next(struct pw_spool *s, int64_t after_seq,
                  struct pw_spool_record *rec, struct pw_err *err)
{
    sqlite3_reset(s->next);
    sqlite3_bind_int64(s->next, 1, after_seq);
    int rc = sqlite3_step(s->next);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(s->next);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s->next);
        return db_err(s, err, "read");
    }
    /* The column pointers stay valid until the statement is reset, which
     * happens at the next call: that is the contract of *rec. */
    rec->seq = sqlite3_column_int64(s->next, 0);
    rec->topic = (const char *)sqlite3_column_text(s->next, 1);
    rec->key = sqlite3_column_blob(s->next, 2);
    rec->key_len = (size_t)sqlite3_column_bytes(s->next, 2);
    rec->value = sqlite3_column_blob(s->next, 3);
    rec->value_len = (size_t)sqlite3_column_bytes(s->next, 3);
    return 1;
}

int pw_spool_ack(struct pw_spool *s, int64_t seq, struct pw_err *err)
{
    uint64_t bytes;
    if (delete_seq(s, seq, &bytes, err) < 0)
        return -1;
    if (bytes > 0)
        s->st.acked++;
    /* Give freed pages back now and then, not on every ack. */
    if (++s->acks_since_vacuum >= 1000) {
        s->acks_since_vacuum = 0;
        sqlite3_exec(s->db, "PRAGMA incremental_vacuum", NULL, NULL, NULL);
    }
    return bytes > 0;
}

void pw_spool_stats(const struct pw_spool *s, struct pw_spool_stats *out)
{
    *out = s->st;
}
