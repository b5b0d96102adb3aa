/* models/drain.c — see drain.h for the algorithm and its departures.
 *
 * Why it is built this way: tokens are interned once into small integer
 * ids (an open-addressing table over one string arena), so the tree walk
 * and the similarity loop compare integers, never strings. Tree edges live
 * in one hash table keyed by (parent node, token id), so a node is just
 * its list of templates and the number of its children. Templates are
 * flat arrays of token ids; id 0 is <*>. */
#include "models/drain.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WILD 0u
#define HARD 0x80u         /* token flag beside PW_LOGTOK_*, see token_flags */
#define NONE UINT32_MAX

struct node {
    uint32_t nchildren;
    uint32_t ncl, capcl;
    uint32_t *cl;          /* template ids at this leaf */
};

struct tmpl {
    uint32_t *tok;
    uint32_t n;
    uint64_t lines;
};

struct edge {
    uint64_t key;          /* parent << 32 | token (or length) */
    uint32_t child;        /* NONE: empty slot */
};

struct pw_drain {
    struct pw_drain_config cfg;
    /* vocabulary */
    char *arena;
    size_t arena_len, arena_cap;
    uint32_t *voff, *vlen;
    uint8_t *vflags;       /* PW_LOGTOK_* and HARD of the token */
    uint32_t *vskel;       /* id of what the token is compared by: itself,
                              its literal part, or WILD (all variable) */
    uint32_t *vgen;        /* id of the token with placeholders as <*> */
    uint32_t nvocab, capvocab;
    uint32_t *vtab;        /* id + 1, 0 empty */
    uint32_t vmask;
    /* tree */
    struct node *nodes;
    uint32_t nnodes, capnodes;
    struct edge *edges;
    uint32_t nedges, emask;
    /* templates */
    struct tmpl *t;
    uint32_t nt, capt;
};

void pw_drain_config_default(struct pw_drain_config *c)
{
    c->depth = 6;
    c->sim_threshold = 0.5;
    c->max_children = 100;
    c->route_skip_vars = true;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static bool grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint32_t nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, (size_t)nc * elem);
    if (!np)
        return false;
    *p = np;
    *cap = nc;
    return true;
}

static uint32_t vocab_find(const struct pw_drain *d, const char *s, size_t n,
                           uint64_t h)
{
    for (uint32_t i = (uint32_t)h & d->vmask;; i = (i + 1) & d->vmask) {
        uint32_t e = d->vtab[i];
        if (e == 0)
            return NONE;
        uint32_t id = e - 1;
        if (d->vlen[id] == n && memcmp(d->arena + d->voff[id], s, n) == 0)
            return id;
    }
}

static int vocab_rehash(struct pw_drain *d)
{
    uint32_t size = (d->vmask + 1) * 2;
    uint32_t *tab = calloc(size, sizeof *tab);
    if (!tab)
        return -1;
    for (uint32_t id = 0; id < d->nvocab; id++) {
        uint64_t h = hash_bytes(d->arena + d->voff[id], d->vlen[id]);
        uint32_t i = (uint32_t)h & (size - 1);
        while (tab[i])
            i = (i + 1) & (size - 1);
        tab[i] = id + 1;
    }
    free(d->vtab);
    d->vtab = tab;
    d->vmask = size - 1;
    return 0;
}

/* Interns s[0..n); NONE when out of memory. */
static uint32_t vocab_add(struct pw_drain *d, const char *s, size_t n,
                          uint8_t flags)
{
    uint64_t h = hash_bytes(s, n);
    uint32_t id = vocab_find(d, s, n, h);
    if (id != NONE)
        return id;
    if ((d->nvocab + 1) * 2 > d->vmask + 1 && vocab_rehash(d) < 0)
        return NONE;
    uint32_t cap = d->capvocab;
    if (d->nvocab == cap) {
        uint32_t c1 = cap, c2 = cap, c3 = cap, c4 = cap, c5 = cap;
        if (!grow((void **)&d->voff, &c1, cap + 1, sizeof *d->voff) ||
            !grow((void **)&d->vlen, &c2, cap + 1, sizeof *d->vlen) ||
            !grow((void **)&d->vflags, &c3, cap + 1, sizeof *d->vflags) ||
            !grow((void **)&d->vskel, &c4, cap + 1, sizeof *d->vskel) ||
            !grow((void **)&d->vgen, &c5, cap + 1, sizeof *d->vgen))
            return NONE;
        c4 = c4 < c5 ? c4 : c5;
        c1 = c1 < c2 ? c1 : c2;
        c3 = c3 < c4 ? c3 : c4;
        d->capvocab = c1 < c3 ? c1 : c3;
    }
    if (d->arena_len + n > d->arena_cap) {
        size_t nc = d->arena_cap ? d->arena_cap * 2 : 4096;
        while (nc < d->arena_len + n)
            nc *= 2;
        char *na = realloc(d->arena, nc);
        if (!na)
            return NONE;
        d->arena = na;
        d->arena_cap = nc;
    }
    memcpy(d->arena + d->arena_len, s, n);
    id = d->nvocab++;
    d->voff[id] = (uint32_t)d->arena_len;
    d->vlen[id] = (uint32_t)n;
    d->vflags[id] = flags;
    d->vskel[id] = id;
    d->arena_len += n;
    uint32_t i = (uint32_t)h & d->vmask;
    while (d->vtab[i])
        i = (i + 1) & d->vmask;
    d->vtab[i] = id + 1;
    d->vgen[id] = id;
    if (!(flags & PW_LOGTOK_VAR))
        return id;
    if (flags & PW_LOGTOK_WHOLE) {
        d->vskel[id] = d->vgen[id] = WILD;
        return id;
    }
    if (n >= PW_LOGTOK_MAX_BYTES)
        return id;                  /* not from pw_logtok_mask: as literal */
    /* A token partly a placeholder: compared by its literal part alone
     * ("rhost=<IP>" meets "rhost=<HOST>" and "rhost="), shown with <*>. */
    char sk[PW_LOGTOK_MAX_BYTES], gen[PW_LOGTOK_MAX_BYTES];
    size_t k = 0, g = 0;
    for (size_t j = 0; j < n; j++) {
        const char *c = d->arena + d->voff[id] + j;
        const char *gt = c[0] == '<' ? memchr(c, '>', n - j) : NULL;
        if (gt && gt - c >= 2 && c[1] >= 'A' && c[1] <= 'Z') {
            memcpy(gen + g, "<*>", 3);
            g += 3;
            j += (size_t)(gt - c);
        } else {
            sk[k++] = *c;
            gen[g++] = *c;
        }
    }
    uint8_t hard = flags & HARD;
    uint32_t skel = vocab_add(d, sk, k, hard);
    uint32_t gid = skel == NONE ? NONE : vocab_add(d, gen, g, hard);
    if (gid == NONE)
        return NONE;
    d->vskel[id] = skel;
    d->vskel[gid] = skel;
    d->vgen[id] = gid;
    return id;
}

static uint32_t edge_find(const struct pw_drain *d, uint64_t key)
{
    for (uint32_t i = (uint32_t)hash_u64(key) & d->emask;;
         i = (i + 1) & d->emask) {
        if (d->edges[i].child == NONE)
            return NONE;
        if (d->edges[i].key == key)
            return d->edges[i].child;
    }
}

static int edge_put(struct pw_drain *d, uint64_t key, uint32_t child)
{
    if ((d->nedges + 1) * 2 > d->emask + 1) {
        uint32_t size = (d->emask + 1) * 2;
        struct edge *ne = malloc((size_t)size * sizeof *ne);
        if (!ne)
            return -1;
        for (uint32_t i = 0; i < size; i++)
            ne[i].child = NONE;
        for (uint32_t j = 0; j <= d->emask; j++) {
            if (d->edges[j].child == NONE)
                continue;
            uint32_t i = (uint32_t)hash_u64(d->edges[j].key) & (size - 1);
            while (ne[i].child != NONE)
                i = (i + 1) & (size - 1);
            ne[i] = d->edges[j];
        }
        free(d->edges);
        d->edges = ne;
        d->emask = size - 1;
    }
    uint32_t i = (uint32_t)hash_u64(key) & d->emask;
    while (d->edges[i].child != NONE)
        i = (i + 1) & d->emask;
    d->edges[i].key = key;
    d->edges[i].child = child;
    d->nedges++;
    return 0;
}

static uint32_t node_new(struct pw_drain *d)
{
    if (!grow((void **)&d->nodes, &d->capnodes, d->nnodes + 1,
              sizeof *d->nodes))
        return NONE;
    memset(&d->nodes[d->nnodes], 0, sizeof d->nodes[0]);
    return d->nnodes++;
}

struct pw_drain *pw_drain_new(const struct pw_drain_config *cfg,
                              struct pw_err *err)
{
    if (cfg->depth < 3 || cfg->depth > 16 || !(cfg->sim_threshold > 0) ||
        cfg->sim_threshold > 1 || cfg->max_children < 2) {
        pw_err_set(err, "drain: bad configuration (depth %u must be in "
                   "[3, 16], sim_threshold %g in (0, 1], max_children %u "
                   ">= 2)", cfg->depth, cfg->sim_threshold,
                   cfg->max_children);
        return NULL;
    }
    struct pw_drain *d = calloc(1, sizeof *d);
    if (!d)
        goto oom;
    d->cfg = *cfg;
    d->vmask = 1023;
    d->vtab = calloc(d->vmask + 1, sizeof *d->vtab);
    d->emask = 1023;
    d->edges = malloc((d->emask + 1) * sizeof *d->edges);
    if (!d->vtab || !d->edges)
        goto oom;
    for (uint32_t i = 0; i <= d->emask; i++)
        d->edges[i].child = NONE;
    if (vocab_add(d, "<*>", 3, PW_LOGTOK_VAR | PW_LOGTOK_WHOLE) != WILD ||
        node_new(d) != 0)
        goto oom;
    return d;
oom:
    pw_drain_free(d);
    pw_err_set(err, "drain: out of memory");
    return NULL;
}

void pw_drain_free(struct pw_drain *d)
{
    if (!d)
        return;
    free(d->arena);
    free(d->voff);
    free(d->vlen);
    free(d->vflags);
    free(d->vskel);
    free(d->vgen);
    free(d->vtab);
    for (uint32_t i = 0; i < d->nnodes; i++)
        free(d->nodes[i].cl);
    free(d->nodes);
    free(d->edges);
    for (uint32_t i = 0; i < d->nt; i++)
        free(d->t[i].tok);
    free(d->t);
    free(d);
}

/* A "hard" token must match a template's token exactly (up to the types
 * of its placeholders) or the template is not a candidate at all: a
 * key=value pair ("user=root": an enumerated value is part of the event)
 * and a token that is partly a placeholder ("LOGIN(uid=<NUM>)": its
 * literal part is structure). */

static uint8_t token_flags(const char *s, size_t n, uint8_t flags)
{
    bool partial = (flags & PW_LOGTOK_VAR) && !(flags & PW_LOGTOK_WHOLE);
    if (partial || (n > 1 && memchr(s, '=', n - 1)))
        flags |= HARD;
    return flags;
}

/* Token ids and flags of a line. With learn false unknown tokens get NONE
 * (they can match only a <*>); with learn they are interned (NONE = no
 * memory). */
static int line_ids(struct pw_drain *d, const struct pw_logtok_line *l,
                    uint32_t *ids, uint8_t *fl, bool learn)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *s = l->text + l->off[i];
        fl[i] = token_flags(s, l->len[i], l->flags[i]);
        if (learn) {
            ids[i] = vocab_add(d, s, l->len[i], fl[i]);
            if (ids[i] == NONE)
                return -1;
        } else {
            ids[i] = vocab_find(d, s, l->len[i], hash_bytes(s, l->len[i]));
        }
        /* A literal "<*>" in the line is the wildcard's own text: read it
         * as a variable, or the line could never match its own template
         * (found by fuzz_tagger). */
        if (ids[i] == WILD)
            fl[i] |= PW_LOGTOK_VAR;
    }
    return 0;
}

static bool has_alnum(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9'))
            return true;
    }
    return false;
}

/* Walks the tree; with learn, creates the missing nodes. NONE if absent
 * (or no memory, with learn). */
static uint32_t route(struct pw_drain *d, const struct pw_logtok_line *l,
                      const uint32_t *ids, bool learn)
{
    uint64_t key = (uint64_t)l->n;     /* root is node 0 */
    uint32_t node = edge_find(d, key);
    if (node == NONE) {
        if (!learn || (node = node_new(d)) == NONE || edge_put(d, key, node) < 0)
            return NONE;
        d->nodes[0].nchildren++;
    }
    /* Route on the first depth - 2 constant tokens, skipping variables:
     * "[instance: <UUID>] VM Paused" routes on "[instance:", "VM"... where
     * Drain would spend a level on the <*> branch. */
    size_t levels = d->cfg.depth - 2;
    for (size_t i = 0, used = 0; used < levels && i < l->n; i++) {
        if (d->cfg.route_skip_vars && ((l->flags[i] & PW_LOGTOK_VAR) ||
                                 !has_alnum(l->text + l->off[i], l->len[i])))
            continue;
        used++;
        bool var = (l->flags[i] & PW_LOGTOK_VAR) != 0;
        uint32_t tok = var || ids[i] == NONE ? WILD : ids[i];
        uint32_t next = edge_find(d, (uint64_t)node << 32 | tok);
        if (next == NONE && tok != WILD) {
            if (d->nodes[node].nchildren + 1 >= d->cfg.max_children)
                tok = WILD;
            next = edge_find(d, (uint64_t)node << 32 | tok);
        }
        if (next == NONE) {
            if (!learn)
                return NONE;
            next = node_new(d);
            if (next == NONE || edge_put(d, (uint64_t)node << 32 | tok, next) < 0)
                return NONE;
            d->nodes[node].nchildren++;
        }
        node = next;
    }
    return node;
}

/* Similarity of template t and a line: the share of positions where they
 * are equal (same token, or same skeleton, or a <*> meeting a
 * placeholder); -1 if a hard token differs. *par counts t's <*>. */
static double similarity(const struct pw_drain *d, const struct tmpl *t,
                         const uint32_t *ids, const uint8_t *fl,
                         uint32_t *par)
{
    uint32_t eq = 0;
    *par = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        uint32_t tt = t->tok[i], lt = ids[i];
        if (tt == WILD) {
            (*par)++;
            eq += (fl[i] & PW_LOGTOK_VAR) != 0;
        } else if (tt == lt || (lt != NONE && d->vskel[tt] == d->vskel[lt])) {
            eq++;
        } else if ((d->vflags[tt] & HARD) || (fl[i] & HARD)) {
            return -1;
        }
    }
    return t->n ? (double)eq / t->n : 1.0;
}

/* Best template at a leaf; NONE below threshold. Ties go to the template
 * with more <*> (Drain's rule: the more general one). */
static uint32_t best(const struct pw_drain *d, uint32_t node,
                     const uint32_t *ids, const uint8_t *fl)
{
    const struct node *nd = &d->nodes[node];
    uint32_t best_id = NONE, best_par = 0;
    double best_sim = -1;
    for (uint32_t c = 0; c < nd->ncl; c++) {
        uint32_t par;
        double sim = similarity(d, &d->t[nd->cl[c]], ids, fl, &par);
        if (sim > best_sim || (sim == best_sim && par > best_par)) {
            best_sim = sim;
            best_par = par;
            best_id = nd->cl[c];
        }
    }
    return best_sim >= d->cfg.sim_threshold ? best_id : NONE;
}

long pw_drain_match(const struct pw_drain *d, const struct pw_logtok_line *l)
{
    uint32_t ids[PW_LOGTOK_MAX_TOKENS];
    uint8_t fl[PW_LOGTOK_MAX_TOKENS];
    struct pw_drain *md = (struct pw_drain *)d;   /* learn = false: reads */
    if (l->n > PW_LOGTOK_MAX_TOKENS)
        return -1;
    line_ids(md, l, ids, fl, false);
    uint32_t node = route(md, l, ids, false);
    if (node == NONE)
        return -1;
    uint32_t id = best(d, node, ids, fl);
    return id == NONE ? -1 : (long)id;
}

long pw_drain_add(struct pw_drain *d, const struct pw_logtok_line *l,
                  struct pw_err *err)
{
    uint32_t ids[PW_LOGTOK_MAX_TOKENS];
    uint8_t fl[PW_LOGTOK_MAX_TOKENS];
    uint32_t node;
    if (l->n > PW_LOGTOK_MAX_TOKENS)
        return pw_err_set(err, "drain: line with %zu tokens (at most %d)",
                          l->n, PW_LOGTOK_MAX_TOKENS);
    if (line_ids(d, l, ids, fl, true) < 0 ||
        (node = route(d, l, ids, true)) == NONE)
        return pw_err_set(err, "drain: out of memory");
    uint32_t id = best(d, node, ids, fl);
    if (id != NONE) {
        struct tmpl *t = &d->t[id];
        for (uint32_t i = 0; i < t->n; i++) {
            uint32_t tt = t->tok[i];
            if (tt == ids[i] || tt == WILD)
                continue;
            uint32_t lt = ids[i];
            if (d->vskel[tt] != d->vskel[lt])
                t->tok[i] = WILD;
            else
                t->tok[i] = d->vflags[tt] & PW_LOGTOK_VAR ? d->vgen[tt]
                                                          : d->vgen[lt];
        }
        t->lines++;
        return id;
    }
    struct node *nd = &d->nodes[node];
    if (!grow((void **)&d->t, &d->capt, d->nt + 1, sizeof *d->t) ||
        !grow((void **)&nd->cl, &nd->capcl, nd->ncl + 1, sizeof *nd->cl))
        return pw_err_set(err, "drain: out of memory");
    struct tmpl *t = &d->t[d->nt];
    t->n = (uint32_t)l->n;
    t->lines = 1;
    t->tok = malloc((l->n ? l->n : 1) * sizeof *t->tok);
    if (!t->tok)
        return pw_err_set(err, "drain: out of memory");
    memcpy(t->tok, ids, l->n * sizeof *ids);
    nd->cl[nd->ncl++] = d->nt;
    return d->nt++;
}

size_t pw_drain_count(const struct pw_drain *d)
{
    return d->nt;
}

uint64_t pw_drain_lines(const struct pw_drain *d, size_t id)
{
    return id < d->nt ? d->t[id].lines : 0;
}

size_t pw_drain_template(const struct pw_drain *d, size_t id, char *buf,
                         size_t size)
{
    if (size)
        buf[0] = '\0';
    if (id >= d->nt)
        return 0;
    const struct tmpl *t = &d->t[id];
    size_t pos = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        const char *s = d->arena + d->voff[t->tok[i]];
        size_t n = d->vlen[t->tok[i]];
        for (size_t k = 0; k < n + (i > 0); k++, pos++) {
            char c = i > 0 ? (k == 0 ? ' ' : s[k - 1]) : s[k];
            if (pos + 1 < size)
                buf[pos] = c;
        }
    }
    if (size)
        buf[pos < size ? pos : size - 1] = '\0';
    return pos;
}
