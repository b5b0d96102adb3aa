/* analyzer/state.c — entity and series tables (see state.h). */
#include "analyzer/state.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An open-addressing table of indices (linear probing), keyed by a 32-bit
 * hash; the caller compares the keys. Slots hold index + 1 (0 = empty). */
struct table {
    uint32_t *slot;
    uint32_t *hash;
    size_t cap;      /* a power of two */
    size_t used;
};

struct pw_state {
    struct pw_state_config cfg;
    struct pw_entity *ents;
    size_t nents, cap_ents;
    struct table ent_tab;
    struct pw_series *ser;
    size_t nser, cap_ser;
    struct table ser_tab;
    char *arena;             /* series keys: "entity\0key\0" */
    size_t arena_len, arena_cap;
    struct pw_watch *watches;
    size_t nwatches, cap_watches;
};

/* FNV-1a, then a final mix: keys are short and this is not exposed to a
 * chosen-key attacker beyond longer probes. */
static uint32_t hash_bytes(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

static uint32_t mix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x7feb352d;
    h ^= h >> 15;
    h *= 0x846ca68b;
    h ^= h >> 16;
    return h;
}

static int table_grow(struct table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    uint32_t *slot = calloc(ncap, sizeof *slot);
    uint32_t *hash = calloc(ncap, sizeof *hash);
    if (!slot || !hash) {
        free(slot);
        free(hash);
        return -1;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slot[i])
            continue;
        size_t j = t->hash[i] & (ncap - 1);
        while (slot[j])
            j = (j + 1) & (ncap - 1);
        slot[j] = t->slot[i];
        hash[j] = t->hash[i];
    }
    free(t->slot);
    free(t->hash);
    t->slot = slot;
    t->hash = hash;
    t->cap = ncap;
    return 0;
}

static void table_release(struct table *t)
{
    free(t->slot);
    free(t->hash);
    memset(t, 0, sizeof *t);
}

static int table_insert(struct table *t, uint32_t h, uint32_t idx)
{
    if ((t->used + 1) * 4 > t->cap * 3 && table_grow(t) < 0)
        return -1;
    size_t j = h & (t->cap - 1);
    while (t->slot[j])
        j = (j + 1) & (t->cap - 1);
    t->slot[j] = idx + 1;
    t->hash[j] = h;
    t->used++;
    return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = ncap;
    return 0;
}

struct pw_state *pw_state_new(const struct pw_state_config *cfg, struct pw_err *err)
{
    if (cfg->nmodels == 0 || cfg->nmodels > UINT16_MAX) {
        pw_err_set(err, "the state needs between 1 and 65535 forecast models");
        return NULL;
    }
    struct pw_state *st = calloc(1, sizeof *st);
    if (!st) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    st->cfg = *cfg;
    return st;
}

static void watch_release(struct pw_watch *w)
{
    pw_trend_free(w->trend);
    w->trend = NULL;
}

static void entity_release(const struct pw_state *st, struct pw_entity *e)
{
    free(e->name);
    free(e->features);
    free(e->preds);
    if (e->logs)
        for (size_t r = 0; r < st->cfg.nrules; r++) {
            free(e->logs[r].ts_ns);
            free(e->logs[r].prob);
        }
    free(e->logs);
}

void pw_state_free(struct pw_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nents; i++)
        entity_release(st, &st->ents[i]);
    for (size_t i = 0; i < st->nwatches; i++)
        watch_release(&st->watches[i]);
    free(st->ents);
    free(st->ser);
    free(st->arena);
    free(st->watches);
    table_release(&st->ent_tab);
    table_release(&st->ser_tab);
    free(st);
}

uint32_t pw_state_find_entity(const struct pw_state *st, const char *name, size_t len)
{
    if (!st->ent_tab.cap)
        return PW_NONE;
    uint32_t h = mix(hash_bytes(2166136261u, name, len));
    for (size_t j = h & (st->ent_tab.cap - 1); st->ent_tab.slot[j];
         j = (j + 1) & (st->ent_tab.cap - 1)) {
        if (st->ent_tab.hash[j] != h)
            continue;
        const struct pw_entity *e = &st->ents[st->ent_tab.slot[j] - 1];
        if (strlen(e->name) == len && memcmp(e->name, name, len) == 0)
            return st->ent_tab.slot[j] - 1;
    }
    return PW_NONE;
}

static int entity_init(const struct pw_state *st, struct pw_entity *e,
                       const char *name, size_t len, int32_t partition)
{
    memset(e, 0, sizeof *e);
    e->name = strndup(name, len);
    e->partition = partition;
    e->first_series = PW_NONE;
    e->anomaly_score = NAN;
    e->features = malloc((st->cfg.nfeatures ? st->cfg.nfeatures : 1) * sizeof(double));
    e->preds = calloc(st->cfg.nrules ? st->cfg.nrules : 1, sizeof *e->preds);
    e->logs = calloc(st->cfg.nrules ? st->cfg.nrules : 1, sizeof *e->logs);
    if (!e->name || !e->features || !e->preds || !e->logs)
        return -1;
    for (size_t i = 0; i < st->cfg.nfeatures; i++)
        e->features[i] = NAN;
    for (size_t i = 0; i < PW_ENTITY_TEMPLATES; i++)
        e->templates[i].id = -1;
    for (size_t r = 0; r < st->cfg.nrules; r++) {
        const struct pw_rule *rule = &st->cfg.rules[r];
        if (rule->kind != PW_RULE_LOG_BURST)
            continue;
        struct pw_log_window *w = &e->logs[r];
        w->cap = rule->count + 1;
        w->ts_ns = calloc(w->cap, sizeof *w->ts_ns);
        w->prob = calloc(w->cap, sizeof *w->prob);
        if (!w->ts_ns || !w->prob)
            return -1;
    }
    return 0;
}

uint32_t pw_state_entity(struct pw_state *st, const char *name, size_t len,
                         int32_t partition)
{
    uint32_t idx = pw_state_find_entity(st, name, len);
    if (idx != PW_NONE) {
        if (st->ents[idx].partition != partition) {
            st->ents[idx].partition = partition;
            st->ents[idx].dirty = true;
        }
        return idx;
    }
    if (st->nents >= PW_NONE - 1 ||
        grow((void **)&st->ents, &st->cap_ents, st->nents + 1, sizeof *st->ents) < 0)
        return PW_NONE;
    struct pw_entity *e = &st->ents[st->nents];
    if (entity_init(st, e, name, len, partition) < 0) {
        entity_release(st, e);
        return PW_NONE;
    }
    uint32_t h = mix(hash_bytes(2166136261u, name, len));
    if (table_insert(&st->ent_tab, h, (uint32_t)st->nents) < 0) {
        entity_release(st, e);
        return PW_NONE;
    }
    e->dirty = true;
    return (uint32_t)st->nents++;
}

struct pw_entity *pw_state_entity_at(struct pw_state *st, uint32_t idx)
{
    return idx < st->nents ? &st->ents[idx] : NULL;
}

size_t pw_state_entities(const struct pw_state *st) { return st->nents; }

static uint32_t series_hash(uint32_t entity, const char *key, size_t len)
{
    return mix(hash_bytes(hash_bytes(2166136261u, &entity, sizeof entity), key, len));
}

static uint16_t model_for(const struct pw_state *st, const char *key, size_t meas_len,
                          const char *field, size_t field_len)
{
    for (size_t m = 1; m < st->cfg.nmodels; m++) {
        const char *n = st->cfg.model_names[m];
        size_t nl = strlen(n);
        if (nl == meas_len + 1 + field_len && memcmp(n, key, meas_len) == 0 &&
            n[meas_len] == '.' && memcmp(n + meas_len + 1, field, field_len) == 0)
            return (uint16_t)m;
    }
    return 0;
}

static int add_watch(struct pw_state *st, uint32_t series, uint16_t rule,
                     struct pw_err *err)
{
    if (grow((void **)&st->watches, &st->cap_watches, st->nwatches + 1,
             sizeof *st->watches) < 0)
        return pw_err_set(err, "out of memory");
    struct pw_trend_config tc = st->cfg.trend;
    /* The window spans the horizon's half: a trend seen over 3 h says
     * little about 24 h, and pw_trend_eta refuses extrapolating beyond
     * max_extrapolation window spans anyway. */
    const struct pw_rule *r = &st->cfg.rules[rule];
    if (tc.window_s <= 0)
        tc.window_s = (double)r->horizon_ms / 2000.0;
    tc.min_span_s = tc.window_s / 4;
    struct pw_trend *t = pw_trend_new(&tc, err);
    if (!t)
        return -1;
    struct pw_watch *w = &st->watches[st->nwatches];
    memset(w, 0, sizeof *w);
    w->trend = t;
    w->series = series;
    w->rule = rule;
    w->last_eval_s = -INFINITY;
    w->next = st->ser[series].watch;
    st->ser[series].watch = (uint32_t)st->nwatches++;
    return 0;
}

uint32_t pw_state_series(struct pw_state *st, uint32_t entity, const char *key,
                         size_t key_len, size_t meas_len, const char *field,
                         size_t field_len, bool *created, struct pw_err *err)
{
    uint32_t h = series_hash(entity, key, key_len);
    *created = false;
    if (st->ser_tab.cap)
        for (size_t j = h & (st->ser_tab.cap - 1); st->ser_tab.slot[j];
             j = (j + 1) & (st->ser_tab.cap - 1)) {
            if (st->ser_tab.hash[j] != h)
                continue;
            uint32_t i = st->ser_tab.slot[j] - 1;
            const struct pw_series *s = &st->ser[i];
            if (s->entity == entity && s->key_len == key_len &&
                memcmp(st->arena + s->key_off, key, key_len) == 0)
                return i;
        }
    if (key_len > UINT32_MAX / 2 || meas_len > UINT16_MAX || st->nser >= PW_NONE - 1 ||
        grow((void **)&st->ser, &st->cap_ser, st->nser + 1, sizeof *st->ser) < 0 ||
        grow((void **)&st->arena, &st->arena_cap, st->arena_len + key_len + 1, 1) < 0) {
        pw_err_set(err, "out of memory for a new series");
        return PW_NONE;
    }
    uint32_t idx = (uint32_t)st->nser;
    if (table_insert(&st->ser_tab, h, idx) < 0) {
        pw_err_set(err, "out of memory for a new series");
        return PW_NONE;
    }
    struct pw_series *s = &st->ser[idx];
    memset(s, 0, sizeof *s);
    s->model = model_for(st, key, meas_len, field, field_len);
    int f = pw_state_feature(st, key, meas_len, field, field_len);
    s->feature = (int16_t)(f < INT16_MAX ? f : -1);
    pw_hw_init(&s->hw, &st->cfg.models[s->model]);
    s->last_value = NAN;
    s->key_off = st->arena_len;
    s->key_len = (uint32_t)key_len;
    s->meas_len = (uint16_t)meas_len;
    memcpy(st->arena + st->arena_len, key, key_len);
    st->arena[st->arena_len + key_len] = 0;
    st->arena_len += key_len + 1;
    s->entity = entity;
    s->watch = PW_NONE;
    struct pw_entity *e = &st->ents[entity];
    s->next = e->first_series;
    e->first_series = idx;
    e->nseries++;
    st->nser++;
    *created = true;
    for (size_t r = 0; r < st->cfg.nrules; r++)
        if (pw_rule_matches_series(&st->cfg.rules[r], key, meas_len, field, field_len,
                                   key, key_len) &&
            add_watch(st, idx, (uint16_t)r, err) < 0)
            return PW_NONE;
    return idx;
}

struct pw_series *pw_state_series_at(struct pw_state *st, uint32_t idx)
{
    return idx < st->nser ? &st->ser[idx] : NULL;
}

const char *pw_state_series_key(const struct pw_state *st, uint32_t idx)
{
    return st->arena + st->ser[idx].key_off;
}

size_t pw_state_series_count(const struct pw_state *st) { return st->nser; }

struct pw_watch *pw_state_watch_at(struct pw_state *st, uint32_t idx)
{
    return idx < st->nwatches ? &st->watches[idx] : NULL;
}

size_t pw_state_watches(const struct pw_state *st) { return st->nwatches; }

const struct pw_hw_model *pw_state_model(const struct pw_state *st, uint16_t idx)
{
    return &st->cfg.models[idx < st->cfg.nmodels ? idx : 0];
}

void pw_state_set_models(struct pw_state *st, const struct pw_hw_model *models,
                         const char *const *names, size_t n)
{
    if (n == 0 || n > UINT16_MAX)
        return;
    /* The old models stay valid until this returns (the caller's promise). */
    const struct pw_hw_model *old = st->cfg.models;
    st->cfg.models = models;
    st->cfg.model_names = names;
    st->cfg.nmodels = n;
    for (size_t i = 0; i < st->nser; i++) {
        struct pw_series *s = &st->ser[i];
        const char *key = st->arena + s->key_off;
        const char *field = key + s->key_len;
        while (field > key + s->meas_len && !(field[-1] == ' ' && field[-2] != '\\'))
            field--;
        uint16_t m = model_for(st, key, s->meas_len, field,
                               (size_t)(key + s->key_len - field));
        const struct pw_hw_model *was = &old[s->model];
        if (models[m].period != was->period || models[m].step_s != was->step_s)
            pw_hw_init(&s->hw, &models[m]);
        s->model = m;
    }
}

const struct pw_state_config *pw_state_config(const struct pw_state *st)
{
    return &st->cfg;
}

int pw_state_feature(const struct pw_state *st, const char *meas, size_t meas_len,
                     const char *field, size_t field_len)
{
    for (size_t i = 0; i < st->cfg.nfeatures; i++) {
        const char *n = st->cfg.features[i];
        if (strlen(n) == meas_len + 1 + field_len && memcmp(n, meas, meas_len) == 0 &&
            n[meas_len] == '.' && memcmp(n + meas_len + 1, field, field_len) == 0)
            return (int)i;
    }
    return -1;
}

/* Rebuilds every table without the entities of `partition`. A revoke is
 * rare and bounded by the state's size, so a compacting copy is simpler
 * and safer than deletion from open-addressing tables. */
size_t pw_state_drop_partition(struct pw_state *st, int32_t partition)
{
    size_t dropped = 0;
    for (size_t i = 0; i < st->nents; i++)
        dropped += st->ents[i].partition == partition;
    if (!dropped)
        return 0;
    struct pw_state *nw = calloc(1, sizeof *nw);
    uint32_t *ent_map = malloc(st->nents * sizeof *ent_map);
    if (!nw || !ent_map) {
        free(nw);
        free(ent_map);
        return 0;   /* out of memory: keep them; they are only stale */
    }
    nw->cfg = st->cfg;
    bool ok = true;
    for (size_t i = 0; i < st->nents && ok; i++) {
        struct pw_entity *e = &st->ents[i];
        ent_map[i] = PW_NONE;
        if (e->partition == partition)
            continue;
        if (grow((void **)&nw->ents, &nw->cap_ents, nw->nents + 1, sizeof *nw->ents) < 0 ||
            table_insert(&nw->ent_tab, mix(hash_bytes(2166136261u, e->name, strlen(e->name))),
                         (uint32_t)nw->nents) < 0) {
            ok = false;
            break;
        }
        ent_map[i] = (uint32_t)nw->nents;
        nw->ents[nw->nents] = *e;
        nw->ents[nw->nents].first_series = PW_NONE;
        nw->ents[nw->nents].nseries = 0;
        nw->nents++;
    }
    /* Series in their original order, so each entity's chain keeps its
     * order reversed as before; watches follow their series. */
    for (size_t i = 0; i < st->nser && ok; i++) {
        struct pw_series *s = &st->ser[i];
        uint32_t ne = ent_map[s->entity];
        if (ne == PW_NONE)
            continue;
        const char *key = st->arena + s->key_off;
        if (grow((void **)&nw->ser, &nw->cap_ser, nw->nser + 1, sizeof *nw->ser) < 0 ||
            grow((void **)&nw->arena, &nw->arena_cap, nw->arena_len + s->key_len + 1, 1) < 0 ||
            table_insert(&nw->ser_tab, series_hash(ne, key, s->key_len), (uint32_t)nw->nser) < 0) {
            ok = false;
            break;
        }
        struct pw_series *d = &nw->ser[nw->nser];
        *d = *s;
        d->entity = ne;
        d->key_off = nw->arena_len;
        memcpy(nw->arena + nw->arena_len, key, s->key_len + 1);
        nw->arena_len += s->key_len + 1;
        d->next = nw->ents[ne].first_series;
        nw->ents[ne].first_series = (uint32_t)nw->nser;
        nw->ents[ne].nseries++;
        d->watch = PW_NONE;
        for (uint32_t w = s->watch; w != PW_NONE && ok; w = st->watches[w].next) {
            if (grow((void **)&nw->watches, &nw->cap_watches, nw->nwatches + 1,
                     sizeof *nw->watches) < 0) {
                ok = false;
                break;
            }
            struct pw_watch *dw = &nw->watches[nw->nwatches];
            *dw = st->watches[w];
            dw->series = (uint32_t)nw->nser;
            dw->next = d->watch;
            d->watch = (uint32_t)nw->nwatches++;
        }
        nw->nser++;
    }
    if (!ok) {   /* nothing moved yet: the trends still belong to st */
        free(nw->ents);
        free(nw->ser);
        free(nw->arena);
        free(nw->watches);
        table_release(&nw->ent_tab);
        table_release(&nw->ser_tab);
        free(nw);
        free(ent_map);
        return 0;
    }
    for (size_t i = 0; i < st->nents; i++)
        if (ent_map[i] == PW_NONE)
            entity_release(st, &st->ents[i]);
    for (size_t i = 0; i < st->nwatches; i++)   /* the kept ones moved to nw */
        if (ent_map[st->ser[st->watches[i].series].entity] == PW_NONE)
            watch_release(&st->watches[i]);
    free(st->ents);
    free(st->ser);
    free(st->arena);
    free(st->watches);
    table_release(&st->ent_tab);
    table_release(&st->ser_tab);
    *st = *nw;
    free(nw);
    free(ent_map);
    return dropped;
}

size_t pw_state_bytes(const struct pw_state *st)
{
    size_t b = sizeof *st + st->cap_ents * sizeof *st->ents +
               st->cap_ser * sizeof *st->ser + st->arena_cap +
               st->cap_watches * sizeof *st->watches +
               (st->ent_tab.cap + st->ser_tab.cap) * 2 * sizeof(uint32_t);
    b += st->nwatches * (st->cfg.trend.capacity * 160 + 100);
    b += st->nents * (st->cfg.nfeatures * sizeof(double) +
                      st->cfg.nrules * (sizeof(struct pw_pred) + sizeof(struct pw_log_window)) + 64);
    return b;
}
