/* alerting/dispatch.c — the dispatcher (contract: dispatch.h).
 *
 * Why it is built this way. Memory: an alert is stored once (struct entry,
 * in a hash table by fingerprint) and groups hold pointers to it with a
 * reference count, so an alert in three routes costs three pointers, not
 * three copies. Groups are in a hash table by group key; a tick walks them
 * all, which for tens of thousands of groups is microseconds and needs no
 * timer heap to keep consistent. The notification log is not held in
 * memory: it is read from SQLite (by primary key) when a group flushes,
 * which is once per group_interval at most.
 *
 * The flush is Alertmanager's: MuteStage (inhibition, silences) filters the
 * alerts, DedupStage's needsUpdate decides with the log, and after a
 * successful flush the resolved alerts leave the group.
 */
#include "alerting/dispatch.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/amjson.h"
#include "common/sha256.h"

#define MAX_ROUTES 64          /* routes one alert may reach */
#define NFLOG_RETENTION_NS (120LL * 3600 * 1000000000)   /* Alertmanager's */

struct entry {
    struct entry *next;        /* hash chain */
    struct pw_alert a;
    int64_t received_ns;       /* first put */
    int64_t updated_ns;
    unsigned refs;             /* groups holding it */
};

struct group {
    struct group *next;        /* hash chain */
    uint64_t hash;
    char *key;
    const struct pw_route *route;
    struct pw_labels labels;
    struct entry **alerts;
    size_t n, cap;
    int64_t next_ns;
    bool flushed;
};

struct pw_dispatch {
    struct pw_dispatch_conf conf;
    sqlite3 *db;
    sqlite3_stmt *put_stmt, *del_stmt, *nflog_get, *nflog_put, *nflog_gc;
    bool in_batch;
    struct entry **alerts;     /* buckets */
    size_t n_alerts, alert_buckets;
    struct group **groups;
    size_t n_groups, group_buckets;
    int64_t last_gc_ns;
};

/* ------------------------------------------------------------------------ */
/* SQLite                                                                    */

static int db_fail(struct pw_dispatch *d, struct pw_err *err, const char *what)
{
    return pw_err_set(err, "alert store %s: %s: %s", d->conf.db_path, what,
                      sqlite3_errmsg(d->db));
}

static int exec(struct pw_dispatch *d, const char *sql, struct pw_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        pw_err_set(err, "alert store %s: %s", d->conf.db_path,
                   msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS alerts("
    "  fp INTEGER PRIMARY KEY, body TEXT NOT NULL,"
    "  received_ns INTEGER NOT NULL, updated_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nflog("
    "  group_key TEXT NOT NULL, receiver TEXT NOT NULL,"
    "  firing BLOB, resolved BLOB, ts_ns INTEGER NOT NULL,"
    "  PRIMARY KEY(group_key, receiver));";

static int prepare(struct pw_dispatch *d, struct pw_err *err)
{
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } q[] = {
        {&d->put_stmt, "INSERT OR REPLACE INTO alerts(fp, body, received_ns,"
                       " updated_ns) VALUES(?,?,?,?)"},
        {&d->del_stmt, "DELETE FROM alerts WHERE fp=?"},
        {&d->nflog_get, "SELECT firing, resolved, ts_ns FROM nflog WHERE "
                        "group_key=? AND receiver=?"},
        {&d->nflog_put, "INSERT OR REPLACE INTO nflog(group_key, receiver, "
                        "firing, resolved, ts_ns) VALUES(?,?,?,?,?)"},
        {&d->nflog_gc, "DELETE FROM nflog WHERE ts_ns < ?"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        if (sqlite3_prepare_v2(d->db, q[i].sql, -1, q[i].st, NULL) !=
            SQLITE_OK)
            return db_fail(d, err, "preparing a statement");
    return 0;
}

static int step_done(struct pw_dispatch *d, sqlite3_stmt *st,
                     struct pw_err *err, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return db_fail(d, err, what);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Hash tables                                                               */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static int grow_alerts(struct pw_dispatch *d)
{
    size_t nb = d->alert_buckets ? d->alert_buckets * 2 : 64;
    struct entry **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < d->alert_buckets; i++) {
        for (struct entry *e = d->alerts[i], *next; e; e = next) {
            next = e->next;
            size_t j = mix(e->a.fingerprint) & (nb - 1);
            e->next = b[j];
            b[j] = e;
        }
    }
    free(d->alerts);
    d->alerts = b;
    d->alert_buckets = nb;
    return 0;
}

static struct entry *find_alert(const struct pw_dispatch *d, uint64_t fp)
{
    if (!d->alert_buckets)
        return NULL;
    for (struct entry *e = d->alerts[mix(fp) & (d->alert_buckets - 1)]; e;
         e = e->next)
        if (e->a.fingerprint == fp)
            return e;
    return NULL;
}

static int insert_alert(struct pw_dispatch *d, struct entry *e)
{
    if (d->n_alerts >= d->alert_buckets && grow_alerts(d) < 0)
        return -1;
    size_t j = mix(e->a.fingerprint) & (d->alert_buckets - 1);
    e->next = d->alerts[j];
    d->alerts[j] = e;
    d->n_alerts++;
    return 0;
}

static void unlink_alert(struct pw_dispatch *d, struct entry *e)
{
    struct entry **pp = &d->alerts[mix(e->a.fingerprint) &
                                   (d->alert_buckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = e->next;
        d->n_alerts--;
    }
}

static void free_entry(struct entry *e)
{
    pw_alert_free(&e->a);
    free(e);
}

static int grow_groups(struct pw_dispatch *d)
{
    size_t nb = d->group_buckets ? d->group_buckets * 2 : 64;
    struct group **b = calloc(nb, sizeof *b);
    if (!b)
        return -1;
    for (size_t i = 0; i < d->group_buckets; i++) {
        for (struct group *g = d->groups[i], *next; g; g = next) {
            next = g->next;
            size_t j = g->hash & (nb - 1);
            g->next = b[j];
            b[j] = g;
        }
    }
    free(d->groups);
    d->groups = b;
    d->group_buckets = nb;
    return 0;
}

static struct group *find_group(const struct pw_dispatch *d, const char *key,
                                uint64_t h)
{
    if (!d->group_buckets)
        return NULL;
    for (struct group *g = d->groups[h & (d->group_buckets - 1)]; g;
         g = g->next)
        if (g->hash == h && strcmp(g->key, key) == 0)
            return g;
    return NULL;
}

static void free_group(struct group *g)
{
    free(g->key);
    pw_labels_free(&g->labels);
    free(g->alerts);
    free(g);
}

static void remove_group(struct pw_dispatch *d, struct group *g)
{
    struct group **pp = &d->groups[g->hash & (d->group_buckets - 1)];
    while (*pp && *pp != g)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = g->next;
        d->n_groups--;
    }
    free_group(g);
}

/* ------------------------------------------------------------------------ */
/* Routing an alert into its groups                                          */

static char *group_key(const struct pw_route *r, const struct pw_labels *gl)
{
    char *ls = pw_labels_string(gl);
    if (!ls)
        return NULL;
    size_t n = strlen(r->key) + strlen(ls) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s:%s", r->key, ls);
    free(ls);
    return k;
}

static int add_to_group(struct pw_dispatch *d, const struct pw_route *r,
                        struct entry *e, int64_t now_ns, struct pw_err *err)
{
    struct pw_labels gl = {0};
    if (pw_route_group_labels(r, &e->a.labels, &gl, err) < 0)
        return -1;
    char *key = group_key(r, &gl);
    if (!key) {
        pw_labels_free(&gl);
        return pw_err_set(err, "out of memory grouping an alert");
    }
    uint64_t h = hash_str(key);
    struct group *g = find_group(d, key, h);
    if (!g) {
        if ((d->n_groups >= d->group_buckets && grow_groups(d) < 0) ||
            !(g = calloc(1, sizeof *g))) {
            free(key);
            pw_labels_free(&gl);
            return pw_err_set(err, "out of memory grouping an alert");
        }
        g->key = key;
        g->hash = h;
        g->route = r;
        g->labels = gl;
        g->next_ns = now_ns + r->group_wait_ns;
        size_t j = h & (d->group_buckets - 1);
        g->next = d->groups[j];
        d->groups[j] = g;
        d->n_groups++;
    } else {
        free(key);
        pw_labels_free(&gl);
    }
    /* A new alert is routed once and reaches each route at most once, so
     * it cannot be in this group already. */
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 2;
        struct entry **v = realloc(g->alerts, cap * sizeof *v);
        if (!v)
            return pw_err_set(err, "out of memory grouping an alert");
        g->alerts = v;
        g->cap = cap;
    }
    g->alerts[g->n++] = e;
    e->refs++;
    /* Alertmanager: flush at once if this alert's wait is already over
     * (an old alert put into a group not yet notified). */
    if (!g->flushed && e->a.starts_at_ns + r->group_wait_ns < now_ns &&
        g->next_ns > now_ns)
        g->next_ns = now_ns;
    return 0;
}

static int route_entry(struct pw_dispatch *d, struct entry *e, int64_t now_ns,
                       struct pw_err *err)
{
    const struct pw_route *out[MAX_ROUTES];
    size_t n = pw_route_match(d->conf.route, &e->a.labels, out, MAX_ROUTES);
    if (n > MAX_ROUTES)
        n = MAX_ROUTES;
    for (size_t i = 0; i < n; i++)
        if (add_to_group(d, out[i], e, now_ns, err) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Open, close, batches                                                      */

static int save_alert(struct pw_dispatch *d, const struct entry *e,
                      struct pw_err *err)
{
    json_t *j = pw_am_alert_store_json(&e->a);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return pw_err_set(err, "out of memory storing an alert");
    sqlite3_bind_int64(d->put_stmt, 1, (sqlite3_int64)e->a.fingerprint);
    sqlite3_bind_text(d->put_stmt, 2, text, -1, free);
    sqlite3_bind_int64(d->put_stmt, 3, e->received_ns);
    sqlite3_bind_int64(d->put_stmt, 4, e->updated_ns);
    return step_done(d, d->put_stmt, err, "storing an alert");
}

static int delete_alert_row(struct pw_dispatch *d, uint64_t fp,
                            struct pw_err *err)
{
    sqlite3_bind_int64(d->del_stmt, 1, (sqlite3_int64)fp);
    return step_done(d, d->del_stmt, err, "deleting an alert");
}

/* The time of the log entry for (group, receiver), or -1 when none. */
static int64_t nflog_time(struct pw_dispatch *d, const struct group *g)
{
    sqlite3_bind_text(d->nflog_get, 1, g->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(d->nflog_get, 2, g->route->receiver, -1,
                      SQLITE_STATIC);
    int64_t ts = -1;
    if (sqlite3_step(d->nflog_get) == SQLITE_ROW)
        ts = sqlite3_column_int64(d->nflog_get, 2);
    sqlite3_reset(d->nflog_get);
    sqlite3_clear_bindings(d->nflog_get);
    return ts;
}

/* Routes every stored alert into its groups, as if each were put at its
 * first arrival (group_wait counts from there); groups this receiver was
 * already notified about continue their interval from the log. */
static int rebuild_groups(struct pw_dispatch *d, int64_t now_ns,
                          struct pw_err *err)
{
    for (size_t b = 0; b < d->alert_buckets; b++)
        for (struct entry *e = d->alerts[b]; e; e = e->next)
            if (route_entry(d, e, e->received_ns, err) < 0)
                return -1;
    for (size_t i = 0; i < d->group_buckets; i++) {
        for (struct group *g = d->groups[i]; g; g = g->next) {
            int64_t ts = nflog_time(d, g);
            if (ts >= 0) {
                g->flushed = true;
                g->next_ns = ts + g->route->group_interval_ns;
            }
            if (g->next_ns < now_ns)
                g->next_ns = now_ns;
        }
    }
    return 0;
}

static int reload(struct pw_dispatch *d, int64_t now_ns, struct pw_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "SELECT body, received_ns, updated_ns "
                           "FROM alerts", -1, &st, NULL) != SQLITE_OK)
        return db_fail(d, err, "reading alerts");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *body = (const char *)sqlite3_column_text(st, 0);
        json_error_t jerr;
        json_t *j = body ? json_loads(body, 0, &jerr) : NULL;
        struct entry *e = calloc(1, sizeof *e);
        struct pw_err ignored = {{0}};
        if (!j || !e || pw_am_alert_from_store_json(j, &e->a, &ignored) < 0) {
            json_decref(j);
            free(e);
            continue;          /* a row we cannot read: skipped */
        }
        json_decref(j);
        e->received_ns = sqlite3_column_int64(st, 1);
        e->updated_ns = sqlite3_column_int64(st, 2);
        if (find_alert(d, e->a.fingerprint) || insert_alert(d, e) < 0)
            free_entry(e);
    }
    sqlite3_finalize(st);
    return rebuild_groups(d, now_ns, err);
}

static void free_groups(struct pw_dispatch *d)
{
    for (size_t i = 0; i < d->group_buckets; i++)
        for (struct group *g = d->groups[i], *next; g; g = next) {
            next = g->next;
            free_group(g);
        }
    free(d->groups);
    d->groups = NULL;
    d->group_buckets = d->n_groups = 0;
}

int pw_dispatch_set_routes(struct pw_dispatch *d,
                           const struct pw_route *route,
                           const struct pw_inhibit_rules *inhibit,
                           int64_t now_ns, struct pw_err *err)
{
    if (!route)
        return pw_err_set(err, "the dispatcher needs a route tree");
    free_groups(d);
    for (size_t b = 0; b < d->alert_buckets; b++)
        for (struct entry *e = d->alerts[b]; e; e = e->next)
            e->refs = 0;
    d->conf.route = route;
    d->conf.inhibit = inhibit;
    return rebuild_groups(d, now_ns, err);
}

struct pw_dispatch *pw_dispatch_open(const struct pw_dispatch_conf *conf,
                                     int64_t now_ns, struct pw_err *err)
{
    if (!conf || !conf->db_path || !conf->route || !conf->notify) {
        pw_err_set(err, "the dispatcher needs a database path, a route tree "
                   "and a notify callback");
        return NULL;
    }
    struct pw_dispatch *d = calloc(1, sizeof *d);
    if (!d) {
        pw_err_set(err, "out of memory opening the dispatcher");
        return NULL;
    }
    d->conf = *conf;
    d->last_gc_ns = now_ns;
    if (sqlite3_open_v2(conf->db_path, &d->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        db_fail(d, err, "opening");
        goto fail;
    }
    sqlite3_busy_timeout(d->db, 5000);
    if (exec(d, schema, err) < 0 || prepare(d, err) < 0 ||
        reload(d, now_ns, err) < 0)
        goto fail;
    return d;
fail:
    pw_dispatch_close(d);
    return NULL;
}

void pw_dispatch_close(struct pw_dispatch *d)
{
    if (!d)
        return;
    free_groups(d);
    for (size_t i = 0; i < d->alert_buckets; i++)
        for (struct entry *e = d->alerts[i], *next; e; e = next) {
            next = e->next;
            free_entry(e);
        }
    free(d->alerts);
    if (d->in_batch)
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(d->put_stmt);
    sqlite3_finalize(d->del_stmt);
    sqlite3_finalize(d->nflog_get);
    sqlite3_finalize(d->nflog_put);
    sqlite3_finalize(d->nflog_gc);
    sqlite3_close(d->db);
    free(d);
}

int pw_dispatch_begin(struct pw_dispatch *d, struct pw_err *err)
{
    if (d->in_batch)
        return pw_err_set(err, "a batch is already open");
    if (exec(d, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    d->in_batch = true;
    return 0;
}

int pw_dispatch_commit(struct pw_dispatch *d, struct pw_err *err)
{
    if (!d->in_batch)
        return pw_err_set(err, "no batch is open");
    if (exec(d, "COMMIT", err) < 0)
        return -1;
    d->in_batch = false;
    return 0;
}

void pw_dispatch_rollback(struct pw_dispatch *d)
{
    if (d->in_batch)
        sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    d->in_batch = false;
}

/* ------------------------------------------------------------------------ */
/* Put                                                                       */

static bool is_resolved(const struct pw_alert *a, int64_t now_ns)
{
    return a->status == PW_ALERT_RESOLVED ||
           (a->ends_at_ns > 0 && a->ends_at_ns <= now_ns);
}

static int update_entry(struct entry *e, const struct pw_alert *a,
                        int64_t starts_ns, int64_t ends_ns, int64_t now_ns,
                        struct pw_err *err)
{
    struct pw_labels ann = {0};
    char *url = NULL;
    if (pw_labels_copy(&ann, &a->annotations, err) < 0)
        return -1;
    if (a->generator_url && !(url = strdup(a->generator_url))) {
        pw_labels_free(&ann);
        return pw_err_set(err, "out of memory updating an alert");
    }
    bool was_firing = !is_resolved(&e->a, now_ns);
    bool firing = !is_resolved(a, now_ns);
    if (!(was_firing && firing && e->a.starts_at_ns < starts_ns))
        e->a.starts_at_ns = starts_ns;
    e->a.ends_at_ns = ends_ns;
    e->a.status = a->status;
    pw_labels_free(&e->a.annotations);
    e->a.annotations = ann;
    free(e->a.generator_url);
    e->a.generator_url = url;
    e->updated_ns = now_ns;
    return 0;
}

int pw_dispatch_put(struct pw_dispatch *d, const struct pw_alert *a,
                    int64_t now_ns, struct pw_err *err)
{
    if (a->labels.n == 0)
        return pw_err_set(err, "an alert needs at least one label");
    uint64_t fp = pw_labels_fingerprint(&a->labels);
    /* as Alertmanager's API: an alert without a start starts now */
    int64_t starts_ns = a->starts_at_ns ? a->starts_at_ns : now_ns;
    int64_t ends_ns = a->ends_at_ns;
    if (a->status == PW_ALERT_FIRING && !ends_ns && d->conf.resolve_timeout_ns)
        ends_ns = now_ns + d->conf.resolve_timeout_ns;
    struct entry *e = find_alert(d, fp);
    if (e) {
        if (update_entry(e, a, starts_ns, ends_ns, now_ns, err) < 0)
            return -1;
        return save_alert(d, e, err);
    }
    if (is_resolved(a, now_ns))
        return 0;
    e = calloc(1, sizeof *e);
    if (!e || pw_alert_copy(&e->a, a, err) < 0) {
        free(e);
        return pw_err_set(err, "out of memory storing an alert");
    }
    e->a.fingerprint = fp;
    e->a.starts_at_ns = starts_ns;
    e->a.ends_at_ns = ends_ns;
    e->received_ns = e->updated_ns = now_ns;
    if (insert_alert(d, e) < 0) {
        free_entry(e);
        return pw_err_set(err, "out of memory storing an alert");
    }
    if (save_alert(d, e, err) < 0 || route_entry(d, e, now_ns, err) < 0) {
        if (e->refs == 0) {
            unlink_alert(d, e);
            free_entry(e);
        }
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Flush                                                                     */

/* Per tick: for each inhibit rule, the firing alerts its source side
 * matches (Alertmanager's source cache), sorted by the values of the
 * rule's `equal` labels so that a target finds the sources with its own
 * values by binary search instead of scanning them all. */
struct source {
    char *eq;                  /* the equal labels' values, \xff-joined */
    const struct pw_labels *labels;
};

struct sources {
    struct source *v;
    size_t n, cap;
};

struct tick_state {
    struct sources *src;       /* one per rule, built on first need */
    bool built, failed;
};

/* The values of r's equal labels in ls ("" when absent), joined. */
static char *equal_key(const struct pw_inhibit_rule *r,
                       const struct pw_labels *ls)
{
    size_t len = 1;
    for (size_t i = 0; i < r->n_equal; i++) {
        const char *v = pw_labels_get(ls, r->equal[i]);
        len += (v ? strlen(v) : 0) + 1;
    }
    char *k = malloc(len), *p = k;
    if (!k)
        return NULL;
    for (size_t i = 0; i < r->n_equal; i++) {
        const char *v = pw_labels_get(ls, r->equal[i]);
        size_t l = v ? strlen(v) : 0;
        memcpy(p, v ? v : "", l);
        p += l;
        *p++ = '\xff';
    }
    *p = 0;
    return k;
}

static int cmp_source(const void *a, const void *b)
{
    return strcmp(((const struct source *)a)->eq,
                  ((const struct source *)b)->eq);
}

static int build_sources(struct pw_dispatch *d, struct tick_state *ts,
                         int64_t now_ns)
{
    const struct pw_inhibit_rules *rules = d->conf.inhibit;
    ts->built = true;
    if (!rules || !rules->n)
        return 0;
    ts->src = calloc(rules->n, sizeof *ts->src);
    if (!ts->src)
        return -1;
    for (size_t b = 0; b < d->alert_buckets; b++) {
        for (struct entry *e = d->alerts[b]; e; e = e->next) {
            if (is_resolved(&e->a, now_ns))
                continue;
            for (size_t r = 0; r < rules->n; r++) {
                if (!pw_matchers_match(&rules->v[r].source, &e->a.labels))
                    continue;
                struct sources *s = &ts->src[r];
                if (s->n == s->cap) {
                    size_t cap = s->cap ? s->cap * 2 : 8;
                    struct source *v = realloc(s->v, cap * sizeof *v);
                    if (!v)
                        return -1;
                    s->v = v;
                    s->cap = cap;
                }
                char *k = equal_key(&rules->v[r], &e->a.labels);
                if (!k)
                    return -1;
                s->v[s->n].eq = k;
                s->v[s->n++].labels = &e->a.labels;
            }
        }
    }
    for (size_t r = 0; r < rules->n; r++)
        if (ts->src[r].n > 1)
            qsort(ts->src[r].v, ts->src[r].n, sizeof ts->src[r].v[0],
                  cmp_source);
    return 0;
}

static void free_tick_state(struct tick_state *ts, size_t n_rules)
{
    if (ts->src)
        for (size_t r = 0; r < n_rules; r++) {
            for (size_t i = 0; i < ts->src[r].n; i++)
                free(ts->src[r].v[i].eq);
            free(ts->src[r].v);
        }
    free(ts->src);
}

/* Alertmanager's Inhibitor.Mutes over the tick's source cache. */
static bool inhibited(struct pw_dispatch *d, struct tick_state *ts,
                      const struct pw_labels *ls, int64_t now_ns,
                      uint64_t *by)
{
    const struct pw_inhibit_rules *rules = d->conf.inhibit;
    if (!rules || !rules->n)
        return false;
    if (!ts->built && build_sources(d, ts, now_ns) < 0)
        ts->failed = true;
    if (ts->failed)
        return false;
    for (size_t r = 0; r < rules->n; r++) {
        const struct pw_inhibit_rule *rule = &rules->v[r];
        const struct sources *s = &ts->src[r];
        if (!s->n || !pw_matchers_match(&rule->target, ls))
            continue;
        char *k = equal_key(rule, ls);
        if (!k)
            return false;
        size_t lo = 0, hi = s->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(s->v[mid].eq, k) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool two_sided = pw_matchers_match(&rule->source, ls);
        for (size_t i = lo; i < s->n && strcmp(s->v[i].eq, k) == 0; i++) {
            if (two_sided && pw_matchers_match(&rule->target, s->v[i].labels))
                continue;
            bool same = true;  /* exact, should a value hold the byte 0xff */
            for (size_t j = 0; same && j < rule->n_equal; j++) {
                const char *a = pw_labels_get(ls, rule->equal[j]);
                const char *b = pw_labels_get(s->v[i].labels, rule->equal[j]);
                same = strcmp(a ? a : "", b ? b : "") == 0;
            }
            if (!same)
                continue;
            if (by)
                *by = pw_labels_fingerprint(s->v[i].labels);
            free(k);
            return true;
        }
        free(k);
    }
    return false;
}

static bool silenced(const struct pw_dispatch *d, const struct pw_labels *ls,
                     int64_t now_ns)
{
    return d->conf.silences &&
           pw_silences_silenced(d->conf.silences, ls, now_ns, NULL, 0) > 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Is every element of `sub` (sorted) in `set` (sorted)? */
static bool subset(const uint64_t *set, size_t n_set, const uint64_t *sub,
                   size_t n_sub)
{
    size_t i = 0;
    for (size_t j = 0; j < n_sub; j++) {
        while (i < n_set && set[i] < sub[j])
            i++;
        if (i == n_set || set[i] != sub[j])
            return false;
    }
    return true;
}

struct nflog_entry {
    bool found;
    uint64_t *firing, *resolved;
    size_t n_firing, n_resolved;
    int64_t ts_ns;
};

static uint64_t *blob_fps(sqlite3_stmt *st, int col, size_t *n)
{
    int bytes = sqlite3_column_bytes(st, col);
    const void *b = sqlite3_column_blob(st, col);
    *n = 0;
    if (!b || bytes <= 0)
        return NULL;
    uint64_t *v = malloc((size_t)bytes);
    if (!v)
        return NULL;
    memcpy(v, b, (size_t)bytes);
    *n = (size_t)bytes / sizeof *v;
    return v;
}

static void nflog_read(struct pw_dispatch *d, const struct group *g,
                       struct nflog_entry *ne)
{
    memset(ne, 0, sizeof *ne);
    sqlite3_bind_text(d->nflog_get, 1, g->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(d->nflog_get, 2, g->route->receiver, -1,
                      SQLITE_STATIC);
    if (sqlite3_step(d->nflog_get) == SQLITE_ROW) {
        ne->found = true;
        ne->firing = blob_fps(d->nflog_get, 0, &ne->n_firing);
        ne->resolved = blob_fps(d->nflog_get, 1, &ne->n_resolved);
        ne->ts_ns = sqlite3_column_int64(d->nflog_get, 2);
    }
    sqlite3_reset(d->nflog_get);
    sqlite3_clear_bindings(d->nflog_get);
}

/* Alertmanager's DedupStage.needsUpdate (receivers send resolved). */
static bool needs_update(const struct nflog_entry *ne, const uint64_t *firing,
                         size_t n_firing, const uint64_t *resolved,
                         size_t n_resolved, int64_t repeat_ns, int64_t now_ns)
{
    if (!ne->found)
        return n_firing > 0;
    if (!subset(ne->firing, ne->n_firing, firing, n_firing))
        return true;
    if (n_firing == 0)
        return ne->n_firing > 0;
    if (!subset(ne->resolved, ne->n_resolved, resolved, n_resolved))
        return true;
    return ne->ts_ns <= now_ns - repeat_ns;
}

static int cmp_labels(const struct pw_labels *a, const struct pw_labels *b)
{
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (c)
            return c;
        if ((c = strcmp(a->v[i].value, b->v[i].value)))
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

static int cmp_alert(const void *x, const void *y)
{
    return cmp_labels(&((const struct pw_alert *)x)->labels,
                      &((const struct pw_alert *)y)->labels);
}

static void idempotency_key(const char *receiver, const char *gkey,
                            const struct pw_alert *alerts, size_t n,
                            int64_t slot, char out[PW_SHA256_HEX_LEN + 1])
{
    uint64_t *fps = malloc((n ? n : 1) * sizeof *fps);
    struct pw_sha256 *h = pw_sha256_new();
    uint8_t dig[PW_SHA256_LEN];
    if (!fps || !h) {
        free(fps);
        pw_sha256_free(h);
        snprintf(out, PW_SHA256_HEX_LEN + 1, "%s", "");
        return;
    }
    pw_sha256_update(h, receiver, strlen(receiver) + 1);
    pw_sha256_update(h, gkey, strlen(gkey) + 1);
    /* sorted by fingerprint; the low bit of each entry is not used, the
     * status goes in its own byte */
    for (size_t i = 0; i < n; i++)
        fps[i] = alerts[i].fingerprint;
    qsort(fps, n, sizeof *fps, cmp_u64);
    for (size_t i = 0; i < n; i++) {
        char item[40];
        const struct pw_alert *a = NULL;
        for (size_t j = 0; j < n && !a; j++)
            if (alerts[j].fingerprint == fps[i])
                a = &alerts[j];
        int len = snprintf(item, sizeof item, "%016llx:%c,",
                           (unsigned long long)fps[i],
                           a->status == PW_ALERT_RESOLVED ? 'r' : 'f');
        pw_sha256_update(h, item, (size_t)len);
    }
    char slot_text[32];
    int len = snprintf(slot_text, sizeof slot_text, "@%lld", (long long)slot);
    pw_sha256_update(h, slot_text, (size_t)len);
    pw_sha256_final(h, dig);
    pw_sha256_free(h);
    free(fps);
    pw_sha256_hex(dig, out);
}

static int nflog_write(struct pw_dispatch *d, const struct group *g,
                       const uint64_t *firing, size_t n_firing,
                       const uint64_t *resolved, size_t n_resolved,
                       int64_t now_ns, struct pw_err *err)
{
    sqlite3_stmt *st = d->nflog_put;
    sqlite3_bind_text(st, 1, g->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->route->receiver, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, firing, (int)(n_firing * sizeof *firing),
                      SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, resolved, (int)(n_resolved * sizeof *resolved),
                      SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_ns);
    return step_done(d, st, err, "writing the notification log");
}

/* Drops the group's resolved alerts (and alerts no group holds any more). */
static int drop_resolved(struct pw_dispatch *d, struct group *g,
                         int64_t now_ns, struct pw_err *err)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        struct entry *e = g->alerts[i];
        if (!is_resolved(&e->a, now_ns)) {
            g->alerts[k++] = e;
            continue;
        }
        if (--e->refs == 0) {
            if (delete_alert_row(d, e->a.fingerprint, err) < 0) {
                e->refs++;
                g->alerts[k++] = e;
                continue;
            }
            unlink_alert(d, e);
            free_entry(e);
        }
    }
    g->n = k;
    return 0;
}

/* Returns 1 when a notification was taken, 0 when none was due (or the
 * callback refused it), -1 on a database error. */
static int flush(struct pw_dispatch *d, struct group *g,
                 struct tick_state *ts, int64_t now_ns, struct pw_err *err)
{
    size_t n = g->n, nk = 0, nf = 0, nr = 0;
    struct pw_alert *kept = calloc(n ? n : 1, sizeof *kept);
    uint64_t *firing = calloc(n ? n : 1, sizeof *firing);
    uint64_t *resolved = calloc(n ? n : 1, sizeof *resolved);
    int rc = -1;
    struct nflog_entry ne = {0};
    if (!kept || !firing || !resolved) {
        pw_err_set(err, "out of memory flushing a group");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct pw_alert *a = &g->alerts[i]->a;
        if (inhibited(d, ts, &a->labels, now_ns, NULL) ||
            silenced(d, &a->labels, now_ns))
            continue;
        kept[nk] = *a;          /* shallow: borrowed for the callback */
        if (is_resolved(a, now_ns)) {
            kept[nk].status = PW_ALERT_RESOLVED;
            resolved[nr++] = a->fingerprint;
        } else {
            kept[nk].status = PW_ALERT_FIRING;
            firing[nf++] = a->fingerprint;
        }
        nk++;
    }
    qsort(firing, nf, sizeof *firing, cmp_u64);
    qsort(resolved, nr, sizeof *resolved, cmp_u64);
    nflog_read(d, g, &ne);
    rc = 0;
    if (nk && needs_update(&ne, firing, nf, resolved, nr,
                           g->route->repeat_interval_ns, now_ns)) {
        qsort(kept, nk, sizeof *kept, cmp_alert);
        char key[PW_SHA256_HEX_LEN + 1];
        idempotency_key(g->route->receiver, g->key, kept, nk,
                        ne.found ? ne.ts_ns : 0, key);
        struct pw_notification note = {
            .receiver = g->route->receiver,
            .group_key = g->key,
            .group_labels = &g->labels,
            .alerts = kept,
            .n_alerts = nk,
            .idempotency_key = key,
            .now_ns = now_ns,
        };
        if (d->conf.notify(&note, d->conf.user) != 0)
            goto out;          /* not taken: due again at the next tick */
        if (exec(d, "BEGIN IMMEDIATE", err) < 0) {
            rc = -1;
            goto out;
        }
        if (nflog_write(d, g, firing, nf, resolved, nr, now_ns, err) < 0 ||
            drop_resolved(d, g, now_ns, err) < 0 ||
            exec(d, "COMMIT", err) < 0) {
            sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
            rc = -1;
            goto out;
        }
        rc = 1;
    } else if (g->n > nf) {    /* resolved alerts (some muted) to drop */
        if (exec(d, "BEGIN IMMEDIATE", err) < 0) {
            rc = -1;
            goto out;
        }
        if (drop_resolved(d, g, now_ns, err) < 0 ||
            exec(d, "COMMIT", err) < 0) {
            sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
            rc = -1;
            goto out;
        }
    }
    g->flushed = true;
    g->next_ns = now_ns + g->route->group_interval_ns;
out:
    free(ne.firing);
    free(ne.resolved);
    free(kept);
    free(firing);
    free(resolved);
    return rc;
}

int pw_dispatch_tick(struct pw_dispatch *d, int64_t now_ns,
                     struct pw_err *err)
{
    if (d->in_batch)
        return pw_err_set(err, "tick inside a batch: commit it first");
    size_t n_due = 0;
    for (size_t b = 0; b < d->group_buckets; b++)
        for (struct group *g = d->groups[b]; g; g = g->next)
            n_due += g->next_ns <= now_ns;
    if (!n_due)
        return 0;
    struct group **due = malloc(n_due * sizeof *due);
    if (!due)
        return pw_err_set(err, "out of memory in a tick");
    size_t k = 0;
    for (size_t b = 0; b < d->group_buckets; b++)
        for (struct group *g = d->groups[b]; g; g = g->next)
            if (g->next_ns <= now_ns)
                due[k++] = g;
    struct tick_state ts = {0};
    int taken = 0, rc = 0;
    for (size_t i = 0; i < k && rc == 0; i++) {
        int r = flush(d, due[i], &ts, now_ns, err);
        if (r < 0)
            rc = -1;
        else
            taken += r;
        if (due[i]->n == 0)
            remove_group(d, due[i]);
    }
    free_tick_state(&ts, d->conf.inhibit ? d->conf.inhibit->n : 0);
    free(due);
    if (rc == 0 && now_ns - d->last_gc_ns > 3600LL * 1000000000) {
        d->last_gc_ns = now_ns;
        sqlite3_bind_int64(d->nflog_gc, 1, now_ns - NFLOG_RETENTION_NS);
        step_done(d, d->nflog_gc, err, "expiring the notification log");
    }
    return rc < 0 ? -1 : taken;
}

int64_t pw_dispatch_next_due_ns(const struct pw_dispatch *d)
{
    int64_t next = INT64_MAX;
    for (size_t b = 0; b < d->group_buckets; b++)
        for (struct group *g = d->groups[b]; g; g = g->next)
            if (g->next_ns < next)
                next = g->next_ns;
    return next;
}

size_t pw_dispatch_alert_count(const struct pw_dispatch *d)
{
    return d->n_alerts;
}

size_t pw_dispatch_group_count(const struct pw_dispatch *d)
{
    return d->n_groups;
}

/* ------------------------------------------------------------------------ */
/* GET /api/v2/alerts                                                        */

static json_t *alert_json(struct pw_dispatch *d, struct tick_state *ts,
                          const struct entry *e, int64_t now_ns)
{
    char t1[PW_AM_TIME_LEN], t2[PW_AM_TIME_LEN], t3[PW_AM_TIME_LEN];
    char fp[17];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)e->a.fingerprint);
    pw_am_time_format(e->a.starts_at_ns, t1);
    /* Alertmanager gives a firing alert without an end updatedAt plus
     * resolve_timeout (5m). */
    pw_am_time_format(e->a.ends_at_ns ? e->a.ends_at_ns
                                      : e->updated_ns + 300000000000LL, t2);
    pw_am_time_format(e->updated_ns, t3);
    json_t *recv = json_array(), *sil = json_array(), *inh = json_array();
    const struct pw_route *routes[MAX_ROUTES];
    size_t nr = pw_route_match(d->conf.route, &e->a.labels, routes,
                               MAX_ROUTES);
    for (size_t i = 0; i < nr && i < MAX_ROUTES; i++) {
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= strcmp(routes[j]->receiver, routes[i]->receiver) == 0;
        if (!dup)
            json_array_append_new(recv, json_pack("{s:s}", "name",
                                                  routes[i]->receiver));
    }
    const char *ids[16];
    size_t ns = d->conf.silences
                    ? pw_silences_silenced(d->conf.silences, &e->a.labels,
                                           now_ns, ids, 16)
                    : 0;
    for (size_t i = 0; i < ns && i < 16; i++)
        json_array_append_new(sil, json_string(ids[i]));
    uint64_t by;
    if (inhibited(d, ts, &e->a.labels, now_ns, &by)) {
        char byfp[17];
        snprintf(byfp, sizeof byfp, "%016llx", (unsigned long long)by);
        json_array_append_new(inh, json_string(byfp));
    }
    bool suppressed = json_array_size(sil) || json_array_size(inh);
    return json_pack("{s:o?, s:o?, s:s, s:s, s:s, s:s, s:s, s:o, "
                     "s:{s:s, s:o, s:o, s:[]}}",
                     "labels", pw_am_labels_json(&e->a.labels),
                     "annotations", pw_am_labels_json(&e->a.annotations),
                     "startsAt", t1, "endsAt", t2, "updatedAt", t3,
                     "generatorURL",
                     e->a.generator_url ? e->a.generator_url : "",
                     "fingerprint", fp, "receivers", recv,
                     "status", "state", suppressed ? "suppressed" : "active",
                     "silencedBy", sil, "inhibitedBy", inh, "mutedBy");
}

static int cmp_entry(const void *x, const void *y)
{
    const struct entry *a = *(const struct entry *const *)x;
    const struct entry *b = *(const struct entry *const *)y;
    return cmp_labels(&a->a.labels, &b->a.labels);
}

char *pw_dispatch_alerts_json(struct pw_dispatch *d, int64_t now_ns)
{
    struct entry **v = malloc((d->n_alerts ? d->n_alerts : 1) * sizeof *v);
    json_t *arr = json_array();
    char *text = NULL;
    if (!v || !arr)
        goto out;
    size_t n = 0;
    for (size_t b = 0; b < d->alert_buckets; b++)
        for (struct entry *e = d->alerts[b]; e; e = e->next)
            if (!is_resolved(&e->a, now_ns))
                v[n++] = e;
    qsort(v, n, sizeof *v, cmp_entry);
    struct tick_state ts = {0};
    for (size_t i = 0; i < n; i++) {
        json_t *j = alert_json(d, &ts, v[i], now_ns);
        if (!j || json_array_append_new(arr, j) < 0)
            goto out_ts;
    }
    text = json_dumps(arr, JSON_COMPACT);
out_ts:
    free_tick_state(&ts, d->conf.inhibit ? d->conf.inhibit->n : 0);
out:
    json_decref(arr);
    free(v);
    return text;
}
