/* analyzer/checkpoint.c — an entity's state as bytes, and back (the
 * pw_state_encode_entity / pw_state_decode_entity half of state.h).
 *
 * Layout, little-endian (common/bytes.h), version 1:
 *   "PWST" u32 version, str entity, i64 last_seen_ns, f64 anomaly_score,
 *   u32 n, n x (str feature, f64 value),
 *   u32 n, n x (str rule, pred, u32 k, k x (i64 ts_ns, f64 prob))
 *                                   (anomaly and log-burst rules' standing)
 *   u32 n, n x (i64 template id, u32 count, str category),
 *   u32 n, n x series: str key, u32 meas_len, f64 last_value, hw state,
 *          u32 w, w x (str rule, f64 last_eval_s, pred,
 *                      u32 k, k x (f64 ts_s, f64 value))
 *   pred = u8 active, i64 first_seen, last_true, notified, f64 eta_s,
 *          confidence, value
 *   hw state = f64 level, trend, var, last_ts_s, 8 x u32 counters,
 *          48 x f32 season
 * Rules travel as their canonical text, features by name: a checkpoint
 * written under another configuration restores what still applies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/state.h"
#include "common/bytes.h"

#define MAGIC "PWST"
#define VERSION 1
#define MAX_NAME 65536
#define MAX_ITEMS (1u << 24)

static void put_pred(struct pw_buf *b, const struct pw_pred *p)
{
    pw_put_u8(b, p->active);
    pw_put_i64(b, p->first_seen_ns);
    pw_put_i64(b, p->last_true_ns);
    pw_put_i64(b, p->notified_ns);
    pw_put_f64(b, p->eta_s);
    pw_put_f64(b, p->confidence);
    pw_put_f64(b, p->value);
}

/* Times a checkpoint may hold: from the epoch to 2116. The engine
 * subtracts them from the newest sample's time, which must not overflow. */
#define MAX_TIME_NS ((int64_t)1 << 62)

static bool time_ok(int64_t t) { return t >= 0 && t <= MAX_TIME_NS; }

/* False when the prediction could not have been written by the engine (a
 * time out of range, an infinite measure, a confidence outside [0, 1]). */
static bool get_pred(struct pw_reader *r, struct pw_pred *p)
{
    p->active = pw_get_u8(r) != 0;
    p->first_seen_ns = pw_get_i64(r);
    p->last_true_ns = pw_get_i64(r);
    p->notified_ns = pw_get_i64(r);
    p->eta_s = pw_get_f64(r);
    p->confidence = pw_get_f64(r);
    p->value = pw_get_f64(r);
    return time_ok(p->first_seen_ns) && time_ok(p->last_true_ns) &&
           time_ok(p->notified_ns) && !isinf(p->eta_s) && !isinf(p->value) &&
           fabs(p->value) < 1e15 && (isnan(p->confidence) ||
                                     (p->confidence >= 0 && p->confidence <= 1));
}

static void put_hw(struct pw_buf *b, const struct pw_hw_state *s)
{
    pw_put_f64(b, s->level);
    pw_put_f64(b, s->trend);
    pw_put_f64(b, s->var);
    pw_put_f64(b, s->last_ts_s);
    const uint32_t c[8] = {s->updates, s->season_idx, s->rejected_nonfinite,
                           s->rejected_backwards, s->rejected_early, s->gap_steps,
                           s->resets, s->flags};
    for (size_t i = 0; i < 8; i++)
        pw_put_u32(b, c[i]);
    for (size_t i = 0; i < PW_HW_SEASON_KNOTS; i++)
        pw_put_f32(b, s->season[i]);
}

static void get_hw(struct pw_reader *r, struct pw_hw_state *s)
{
    s->level = pw_get_f64(r);
    s->trend = pw_get_f64(r);
    s->var = pw_get_f64(r);
    s->last_ts_s = pw_get_f64(r);
    uint32_t *c[8] = {&s->updates, &s->season_idx, &s->rejected_nonfinite,
                      &s->rejected_backwards, &s->rejected_early, &s->gap_steps,
                      &s->resets, &s->flags};
    for (size_t i = 0; i < 8; i++)
        *c[i] = pw_get_u32(r);
    for (size_t i = 0; i < PW_HW_SEASON_KNOTS; i++)
        s->season[i] = pw_get_f32(r);
}

static void rule_text(const struct pw_state *st, size_t i, char *out, size_t size)
{
    pw_rule_format(&pw_state_config(st)->rules[i], out, size);
}

static int find_rule(const struct pw_state *st, const char *text)
{
    char buf[512];
    for (size_t i = 0; i < pw_state_config(st)->nrules; i++) {
        rule_text(st, i, buf, sizeof buf);
        if (strcmp(buf, text) == 0)
            return (int)i;
    }
    return -1;
}

struct keyed {
    const char *key;
    uint32_t idx;
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* The entity's own part of a checkpoint: everything before its series. */
static void put_entity_head(struct pw_state *st, const struct pw_entity *e, struct pw_buf *out)
{
    const struct pw_state_config *cfg = pw_state_config(st);
    char text[512];
    pw_put_bytes(out, MAGIC, 4);
    pw_put_u32(out, VERSION);
    pw_put_str(out, e->name);
    pw_put_i64(out, e->last_seen_ns);
    pw_put_f64(out, e->anomaly_score);
    pw_put_u32(out, (uint32_t)cfg->nfeatures);
    for (size_t i = 0; i < cfg->nfeatures; i++) {
        pw_put_str(out, cfg->features[i]);
        pw_put_f64(out, e->features[i]);
    }
    uint32_t n = 0;
    for (size_t i = 0; i < cfg->nrules; i++)
        n += cfg->rules[i].kind != PW_RULE_FORECAST;
    pw_put_u32(out, n);
    for (size_t i = 0; i < cfg->nrules; i++) {
        if (cfg->rules[i].kind == PW_RULE_FORECAST)
            continue;
        rule_text(st, i, text, sizeof text);
        pw_put_str(out, text);
        put_pred(out, &e->preds[i]);
        const struct pw_log_window *w = &e->logs[i];
        pw_put_u32(out, w->len);
        for (uint32_t k = 0; k < w->len; k++) {
            uint32_t j = (w->head + k) % w->cap;
            pw_put_i64(out, w->ts_ns[j]);
            pw_put_f64(out, w->prob[j]);
        }
    }
    n = 0;
    for (size_t i = 0; i < PW_ENTITY_TEMPLATES; i++)
        n += e->templates[i].id >= 0;
    pw_put_u32(out, n);
    for (size_t i = 0; i < PW_ENTITY_TEMPLATES; i++) {
        if (e->templates[i].id < 0)
            continue;
        pw_put_i64(out, e->templates[i].id);
        pw_put_u32(out, e->templates[i].count);
        pw_put_str(out, e->templates[i].category);
    }
}

static void put_series(struct pw_state *st, uint32_t s, const char *key, struct pw_buf *out)
{
    char text[512];
    const struct pw_series *ser = pw_state_series_at(st, s);
    pw_put_str(out, key);
    pw_put_u32(out, ser->meas_len);
    pw_put_f64(out, ser->last_value);
    put_hw(out, &ser->hw);
    uint32_t n = 0;
    for (uint32_t w = ser->watch; w != PW_NONE; w = pw_state_watch_at(st, w)->next)
        n++;
    pw_put_u32(out, n);
    for (uint32_t w = ser->watch; w != PW_NONE; w = pw_state_watch_at(st, w)->next) {
        const struct pw_watch *wt = pw_state_watch_at(st, w);
        rule_text(st, wt->rule, text, sizeof text);
        pw_put_str(out, text);
        pw_put_f64(out, wt->last_eval_s);
        put_pred(out, &wt->pred);
        size_t k = pw_trend_len(wt->trend);
        pw_put_u32(out, (uint32_t)k);
        for (size_t i = 0; i < k; i++) {
            double ts, v;
            pw_trend_sample(wt->trend, i, &ts, &v);
            pw_put_f64(out, ts);
            pw_put_f64(out, v);
        }
    }
}

/* Overwrites the u32 at `at` (written by pw_put_u32: little-endian). */
static void patch_u32(struct pw_buf *b, size_t at, uint32_t v)
{
    if (b->oom || at + 4 > b->len)
        return;
    for (int i = 0; i < 4; i++)
        b->data[at + (size_t)i] = (char)(v >> (8 * i));
}

/* Each part is the entity's head, a series count and its series: a whole
 * checkpoint of the entity that names only some of its series, which
 * decode() restores without touching the others. */
int pw_state_encode_entity_parts(const struct pw_state *st_c, uint32_t idx, size_t max_bytes,
                                 struct pw_buf *out, size_t **ends, struct pw_err *err)
{
    struct pw_state *st = (struct pw_state *)st_c;   /* the accessors are not const */
    struct pw_entity *e = pw_state_entity_at(st, idx);
    *ends = NULL;
    if (!e)
        return pw_err_set(err, "no entity %u", idx);
    /* Series in key order, not list order: the list is newest first, so a
     * restore (which creates them in the order written) would reverse it,
     * and a checkpoint that moved would no longer encode to the same
     * bytes. */
    struct keyed *order = malloc((e->nseries ? e->nseries : 1) * sizeof *order);
    struct pw_buf head, one;
    pw_buf_init(&head);
    pw_buf_init(&one);
    size_t nparts = 0, cap = 0, base = out->len;
    if (!order)
        goto oom;
    uint32_t nser = 0;
    for (uint32_t s = e->first_series; s != PW_NONE && nser < e->nseries;
         s = pw_state_series_at(st, s)->next)
        order[nser++] = (struct keyed){pw_state_series_key(st, s), s};
    qsort(order, nser, sizeof *order, by_key);
    put_entity_head(st, e, &head);
    if (head.oom)
        goto oom;
    size_t part = 0, count_at = 0;
    uint32_t in_part = 0;
    for (uint32_t o = 0; o < nser || nparts == 0; o++) {
        if (o < nser) {
            pw_buf_reset(&one);
            put_series(st, order[o].idx, order[o].key, &one);
            if (one.oom)
                goto oom;
        }
        /* A new part first, or before a series that would take the part
         * in hand past max_bytes (a part has at least one series). */
        if (nparts == 0 || (in_part > 0 && out->len - part + one.len > max_bytes)) {
            if (nparts > 0) {
                patch_u32(out, count_at, in_part);
                (*ends)[nparts - 1] = out->len;
            }
            if (nparts == cap) {
                size_t *grown = realloc(*ends, (cap = cap ? 2 * cap : 4) * sizeof **ends);
                if (!grown)
                    goto oom;
                *ends = grown;
            }
            nparts++;
            part = out->len;
            pw_put_bytes(out, head.data, head.len);
            count_at = out->len;
            pw_put_u32(out, 0);
            in_part = 0;
        }
        if (o < nser) {
            pw_put_bytes(out, one.data, one.len);
            in_part++;
        }
    }
    patch_u32(out, count_at, in_part);
    (*ends)[nparts - 1] = out->len;
    bool oom = out->oom;
    free(order);
    pw_buf_release(&head);
    pw_buf_release(&one);
    if (oom)
        goto oom_late;
    return (int)nparts;
oom:
    free(order);
    pw_buf_release(&head);
    pw_buf_release(&one);
oom_late:
    free(*ends);
    *ends = NULL;
    out->len = base;
    return pw_err_set(err, "out of memory encoding entity %s", e->name);
}

int pw_state_encode_entity(const struct pw_state *st, uint32_t idx, struct pw_buf *out,
                           struct pw_err *err)
{
    size_t *ends;
    int n = pw_state_encode_entity_parts(st, idx, SIZE_MAX, out, &ends, err);
    free(ends);
    return n < 0 ? -1 : 0;
}

/* The field of a series key: after the last unescaped space. */
static int key_field(const char *key, size_t len, size_t meas_len, const char **field,
                     size_t *field_len)
{
    for (size_t i = len; i-- > meas_len;)
        if (key[i] == ' ' && (i == 0 || key[i - 1] != '\\')) {
            *field = key + i + 1;
            *field_len = len - i - 1;
            return 0;
        }
    return -1;
}

#define BAD(...) do { pw_err_set(err, __VA_ARGS__); goto fail; } while (0)

/* One pass over the bytes: with apply false it only checks them, with
 * apply true it changes the state (after a checking pass succeeded). */
static uint32_t decode(struct pw_state *st, const void *data, size_t len,
                       int32_t partition, bool apply, struct pw_err *err)
{
    const struct pw_state_config *cfg = pw_state_config(st);
    struct pw_reader r;
    pw_reader_init(&r, data, len);
    char *name = NULL, *s = NULL;
    uint32_t idx = PW_NONE;
    struct pw_entity *e = NULL;
    char magic[4];
    pw_get_bytes(&r, magic, 4);
    if (r.bad || memcmp(magic, MAGIC, 4) != 0)
        BAD("not an entity checkpoint (bad magic)");
    uint32_t version = pw_get_u32(&r);
    if (version != VERSION)
        BAD("checkpoint version %u, this analyzer reads %u", version, VERSION);
    if (!(name = pw_get_str(&r, MAX_NAME)) || !*name)
        BAD("bad entity name");
    if (apply) {
        idx = pw_state_entity(st, name, strlen(name), partition);
        if (idx == PW_NONE)
            BAD("out of memory");
        e = pw_state_entity_at(st, idx);
    }
    int64_t last_seen = pw_get_i64(&r);
    double score = pw_get_f64(&r);
    if (!r.bad && (!time_ok(last_seen) || isinf(score)))
        BAD("entity last seen or score out of range");
    if (e) {
        e->last_seen_ns = last_seen;
        e->anomaly_score = score;
    }
    uint32_t n = pw_get_u32(&r);
    if (n > MAX_ITEMS)
        BAD("too many features");
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        s = pw_get_str(&r, MAX_NAME);
        double v = pw_get_f64(&r);
        if (!s)
            BAD("bad feature name");
        if (e)
            for (size_t f = 0; f < cfg->nfeatures; f++)
                if (strcmp(cfg->features[f], s) == 0)
                    e->features[f] = v;
        free(s);
        s = NULL;
    }
    n = pw_get_u32(&r);
    if (n > MAX_ITEMS)
        BAD("too many rules");
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        if (!(s = pw_get_str(&r, MAX_NAME)))
            BAD("bad rule text");
        struct pw_pred p;
        if (!get_pred(&r, &p) && !r.bad)
            BAD("rule \"%.60s\": a prediction out of range", s);
        uint32_t k = pw_get_u32(&r);
        if (k > MAX_ITEMS || (size_t)k * 16 > pw_reader_left(&r))
            BAD("log window of %u entries overruns the checkpoint", k);
        int rule = find_rule(st, s);
        struct pw_log_window *w = NULL;
        if (e && rule >= 0 && cfg->rules[rule].kind != PW_RULE_FORECAST) {
            e->preds[rule] = p;
            w = &e->logs[rule];
            if (w->cap)
                w->head = w->len = 0;
            else
                w = NULL;
        }
        for (uint32_t j = 0; j < k; j++) {
            int64_t ts = pw_get_i64(&r);
            double prob = pw_get_f64(&r);
            if (w) {   /* keep the newest cap entries */
                uint32_t at = (w->head + w->len) % w->cap;
                if (w->len == w->cap)
                    w->head = (w->head + 1) % w->cap;
                else
                    w->len++;
                w->ts_ns[at] = ts;
                w->prob[at] = prob;
            }
        }
        free(s);
        s = NULL;
    }
    n = pw_get_u32(&r);
    if (n > PW_ENTITY_TEMPLATES)
        BAD("too many templates (%u)", n);
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        int64_t id = pw_get_i64(&r);
        uint32_t count = pw_get_u32(&r);
        if (!(s = pw_get_str(&r, 23)))
            BAD("bad template category");
        if (e) {
            e->templates[i].id = (long)id;
            e->templates[i].count = count;
            snprintf(e->templates[i].category, sizeof e->templates[i].category, "%s", s);
        }
        free(s);
        s = NULL;
    }
    n = pw_get_u32(&r);
    if (n > MAX_ITEMS)
        BAD("too many series");
    for (uint32_t i = 0; i < n && !r.bad; i++) {
        if (!(s = pw_get_str(&r, MAX_NAME)))
            BAD("bad series key");
        size_t klen = strlen(s);
        uint32_t meas_len = pw_get_u32(&r);
        const char *field;
        size_t field_len;
        if (meas_len == 0 || meas_len >= klen || key_field(s, klen, meas_len, &field, &field_len) < 0)
            BAD("series key \"%.60s\" has no measurement and field", s);
        double last = pw_get_f64(&r);
        struct pw_hw_state hw;
        get_hw(&r, &hw);
        uint32_t ser = PW_NONE;
        if (e) {
            bool created;
            ser = pw_state_series(st, idx, s, klen, meas_len, field, field_len, &created, err);
            if (ser == PW_NONE)
                goto fail;
            struct pw_series *sp = pw_state_series_at(st, ser);
            const struct pw_hw_model *m = pw_state_model(st, sp->model);
            sp->last_value = last;
            /* A season laid out for another period would be misread. */
            uint32_t slots = m->period ? m->period : 1;
            if (hw.season_idx < slots)
                sp->hw = hw;
        }
        uint32_t nw = pw_get_u32(&r);
        if (nw > 4096)
            BAD("too many watches on one series");
        for (uint32_t j = 0; j < nw && !r.bad; j++) {
            char *rt = pw_get_str(&r, MAX_NAME);
            if (!rt)
                BAD("bad watch rule text");
            double last_eval = pw_get_f64(&r);
            struct pw_pred p;
            if (!get_pred(&r, &p) && !r.bad) {
                free(rt);
                BAD("series \"%.60s\": a prediction out of range", s);
            }
            uint32_t k = pw_get_u32(&r);
            if (k > MAX_ITEMS || (size_t)k * 16 > pw_reader_left(&r)) {
                free(rt);
                BAD("trend window of %u samples overruns the checkpoint", k);
            }
            struct pw_watch *wt = NULL;
            if (e) {
                int rule = find_rule(st, rt);
                struct pw_series *sp = pw_state_series_at(st, ser);
                for (uint32_t w = sp->watch; w != PW_NONE && rule >= 0;
                     w = pw_state_watch_at(st, w)->next)
                    if (pw_state_watch_at(st, w)->rule == rule)
                        wt = pw_state_watch_at(st, w);
            }
            free(rt);
            if (wt) {
                wt->last_eval_s = last_eval;
                wt->pred = p;
                pw_trend_reset(wt->trend);
            }
            for (uint32_t q = 0; q < k; q++) {
                double ts = pw_get_f64(&r), v = pw_get_f64(&r);
                if (wt)
                    pw_trend_add(wt->trend, ts, v, NULL);
            }
        }
        free(s);
        s = NULL;
    }
    if (r.bad)
        BAD("truncated checkpoint");
    if (pw_reader_left(&r))
        BAD("%zu trailing bytes after the checkpoint", pw_reader_left(&r));
    if (e)
        e->dirty = false;
    free(name);
    return apply ? idx : 0;
fail:
    free(s);
    free(name);
    return PW_NONE;
}

uint32_t pw_state_decode_entity(struct pw_state *st, const void *data, size_t len,
                                int32_t partition, struct pw_err *err)
{
    if (decode(st, data, len, partition, false, err) == PW_NONE)
        return PW_NONE;
    uint32_t idx = decode(st, data, len, partition, true, err);
    if (idx == PW_NONE)
        pw_err_prefix(err, "restoring a checkpoint that had checked out");
    return idx;
}
