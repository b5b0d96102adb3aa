/* alerting/route.c — the routing tree (contract: route.h).
 *
 * The configuration is read by the common loader into struct pw_route_conf
 * (one option table that refers to itself for `routes:`); pw_route_build
 * then resolves inheritance top-down, compiles the matchers and checks the
 * receiver names, so that every later error is impossible at match time.
 * A timer left unset is a sentinel default far beyond any allowed value
 * (the loader's range check keeps users from writing it), because 0 is a
 * legitimate group_wait and cannot mean "unset".
 */
#include "alerting/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNSET_TEXT "106751991167d"   /* == PW_ROUTE_UNSET_MS */
#define YEAR_MS 31536000000.0

#define ROOT_GROUP_WAIT_MS 30000
#define ROOT_GROUP_INTERVAL_MS 300000
#define ROOT_REPEAT_INTERVAL_MS 14400000

const struct pw_option pw_route_options[] = {
    {.name = "receiver", .type = PW_OPT_STRING,
     .offset = offsetof(struct pw_route_conf, receiver),
     .description = "The receiver that gets this route's notifications; "
                    "inherited from the parent route when unset (the root "
                    "route must name one)."},
    {.name = "group_by", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct pw_route_conf, group_by),
     .description = "Labels whose values form an aggregation group; '...' "
                    "groups by every label; inherited when unset or empty."},
    {.name = "group_wait", .type = PW_OPT_DURATION,
     .offset = offsetof(struct pw_route_conf, group_wait_ms),
     .default_value = UNSET_TEXT, .min = 0, .max = YEAR_MS,
     .description = "How long a new group waits for more alerts before its "
                    "first notification; inherited when unset (root: 30s)."},
    {.name = "group_interval", .type = PW_OPT_DURATION,
     .offset = offsetof(struct pw_route_conf, group_interval_ms),
     .default_value = UNSET_TEXT, .min = 1, .max = YEAR_MS,
     .description = "How long to wait before notifying about changes "
                    "(new or resolved alerts) in a group already notified; "
                    "inherited when unset (root: 5m)."},
    {.name = "repeat_interval", .type = PW_OPT_DURATION,
     .offset = offsetof(struct pw_route_conf, repeat_interval_ms),
     .default_value = UNSET_TEXT, .min = 1, .max = YEAR_MS,
     .description = "How long to wait before notifying again about a group "
                    "that has not changed; inherited when unset (root: 4h)."},
    {.name = "match", .type = PW_OPT_MAP,
     .offset = offsetof(struct pw_route_conf, match),
     .description = "Labels that must equal these values."},
    {.name = "match_re", .type = PW_OPT_MAP,
     .offset = offsetof(struct pw_route_conf, match_re),
     .description = "Labels that must match these regexes (PCRE2, anchored "
                    "at both ends)."},
    {.name = "matchers", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct pw_route_conf, matchers),
     .description = "Matchers as Alertmanager writes them: name=\"v\", "
                    "name!=\"v\", name=~\"re\", name!~\"re\"."},
    {.name = "continue", .type = PW_OPT_BOOL,
     .offset = offsetof(struct pw_route_conf, continue_),
     .default_value = "false",
     .description = "Keep trying the following sibling routes after this "
                    "one matched."},
    {.name = "routes", .type = PW_OPT_SECTION_LIST,
     .offset = offsetof(struct pw_route_conf, routes),
     .section = pw_route_options,
     .description = "Child routes, tried in order (the same keys as this "
                    "route)."},
    PW_OPT_ITEM_END_LINE(struct pw_route_conf, line),
};

/* ------------------------------------------------------------------------ */
/* Building                                                                  */

struct build {
    const char *file;
    const char *const *receivers;
    size_t n_receivers;
    struct pw_err *err;
    int depth;
};

static int fail_at(const struct build *B, int line, const char *key,
                   const char *what)
{
    if (line > 0)
        return pw_err_set(B->err, "%s:%d: %s: %s", B->file, line, key, what);
    return pw_err_set(B->err, "%s: %s: %s", B->file, key, what);
}

static bool known_receiver(const struct build *B, const char *name)
{
    if (!B->receivers)
        return true;
    for (size_t i = 0; i < B->n_receivers; i++)
        if (B->receivers[i] && strcmp(B->receivers[i], name) == 0)
            return true;
    return false;
}

static int add_matchers(const struct build *B, struct pw_route *r,
                        const struct pw_route_conf *c, const char *key)
{
    struct pw_err e = {{0}};
    char sub[512];
    for (size_t i = 0; i < c->match.len; i++) {
        const struct pw_kv *kv = &c->match.items[i];
        snprintf(sub, sizeof sub, "%s.match.%s", key, kv->key);
        if (pw_matchers_add(&r->matchers, kv->key, PW_MATCH_EQ, kv->value,
                            &e) < 0)
            return fail_at(B, kv->line, sub, e.msg);
    }
    for (size_t i = 0; i < c->match_re.len; i++) {
        const struct pw_kv *kv = &c->match_re.items[i];
        snprintf(sub, sizeof sub, "%s.match_re.%s", key, kv->key);
        if (pw_matchers_add(&r->matchers, kv->key, PW_MATCH_RE, kv->value,
                            &e) < 0)
            return fail_at(B, kv->line, sub, e.msg);
    }
    for (size_t i = 0; i < c->matchers.len; i++) {
        snprintf(sub, sizeof sub, "%s.matchers[%zu]", key, i + 1);
        if (pw_matchers_add_text(&r->matchers, c->matchers.items[i], &e) < 0)
            return fail_at(B, c->line, sub, e.msg);
    }
    pw_matchers_sort(&r->matchers);
    return 0;
}

static char *route_key(const struct pw_route *parent,
                       const struct pw_matchers *ms)
{
    size_t need = (parent ? strlen(parent->key) + 1 : 0) + 3;
    for (size_t i = 0; i < ms->n; i++)
        need += pw_matcher_format(&ms->v[i], NULL, 0) + 1;
    char *k = malloc(need);
    if (!k)
        return NULL;
    size_t n = 0;
    if (parent)
        n += (size_t)sprintf(k, "%s/", parent->key);
    k[n++] = '{';
    for (size_t i = 0; i < ms->n; i++) {
        if (i)
            k[n++] = ',';
        n += pw_matcher_format(&ms->v[i], k + n, need - n);
    }
    k[n++] = '}';
    k[n] = 0;
    return k;
}

static int copy_group_by(const struct build *B, struct pw_route *r,
                         const struct pw_str_list *gb,
                         const struct pw_route *parent, int line,
                         const char *key)
{
    if (gb->len == 0 && parent) {
        r->group_by_all = parent->group_by_all;
        gb = NULL;
    }
    size_t n = gb ? gb->len : parent ? parent->n_group_by : 0;
    if (n && !(r->group_by = calloc(n, sizeof *r->group_by)))
        return fail_at(B, line, key, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *name = gb ? gb->items[i] : parent->group_by[i];
        if (gb && strcmp(name, "...") == 0) {
            r->group_by_all = true;
            continue;
        }
        if (!(r->group_by[r->n_group_by] = strdup(name)))
            return fail_at(B, line, key, "out of memory");
        r->n_group_by++;
    }
    if (gb && r->group_by_all && r->n_group_by) {
        char sub[300];
        snprintf(sub, sizeof sub, "%s.group_by", key);
        return fail_at(B, line, sub, "'...' groups by every label and cannot "
                       "be combined with label names");
    }
    return 0;
}

static int64_t inherit(int64_t v, int64_t parent_ns, int64_t root_ms)
{
    if (v != PW_ROUTE_UNSET_MS)
        return v * 1000000;
    return parent_ns >= 0 ? parent_ns : root_ms * 1000000;
}

static struct pw_route *build(struct build *B, const struct pw_route_conf *c,
                              const struct pw_route *parent, const char *key)
{
    if (++B->depth > 64) {
        fail_at(B, c->line, key, "routes are nested more than 64 deep");
        return NULL;
    }
    struct pw_route *r = calloc(1, sizeof *r);
    if (!r) {
        fail_at(B, c->line, key, "out of memory");
        return NULL;
    }
    r->line = c->line;
    r->continue_ = c->continue_;
    const char *recv = c->receiver ? c->receiver
                                   : parent ? parent->receiver : NULL;
    char sub[512];
    snprintf(sub, sizeof sub, "%s.receiver", key);
    if (!recv) {
        fail_at(B, c->line, sub, "the root route must name a receiver");
        goto fail;
    }
    if (!known_receiver(B, recv)) {
        char what[300];
        snprintf(what, sizeof what, "no receiver is named \"%.200s\"", recv);
        fail_at(B, c->line, sub, what);
        goto fail;
    }
    if (!(r->receiver = strdup(recv))) {
        fail_at(B, c->line, key, "out of memory");
        goto fail;
    }
    if (copy_group_by(B, r, &c->group_by, parent, c->line, key) < 0)
        goto fail;
    r->group_wait_ns = inherit(c->group_wait_ms,
                               parent ? parent->group_wait_ns : -1,
                               ROOT_GROUP_WAIT_MS);
    r->group_interval_ns = inherit(c->group_interval_ms,
                                   parent ? parent->group_interval_ns : -1,
                                   ROOT_GROUP_INTERVAL_MS);
    r->repeat_interval_ns = inherit(c->repeat_interval_ms,
                                    parent ? parent->repeat_interval_ns : -1,
                                    ROOT_REPEAT_INTERVAL_MS);
    if (add_matchers(B, r, c, key) < 0)
        goto fail;
    if (!parent && r->matchers.n) {
        fail_at(B, c->line, key, "the root route must not have matchers: "
                "it receives every alert");
        goto fail;
    }
    if (!parent && r->continue_) {
        fail_at(B, c->line, key, "the root route cannot have continue set");
        goto fail;
    }
    if (!(r->key = route_key(parent, &r->matchers))) {
        fail_at(B, c->line, key, "out of memory");
        goto fail;
    }
    if (c->routes.len &&
        !(r->routes = calloc(c->routes.len, sizeof *r->routes))) {
        fail_at(B, c->line, key, "out of memory");
        goto fail;
    }
    const struct pw_route_conf *kids = c->routes.items;
    for (size_t i = 0; i < c->routes.len; i++) {
        char ck[512];
        snprintf(ck, sizeof ck, "%s.routes[%zu]", key, i + 1);
        if (!(r->routes[i] = build(B, &kids[i], r, ck)))
            goto fail;
        r->n_routes++;
    }
    B->depth--;
    return r;
fail:
    pw_route_free(r);
    return NULL;
}

struct pw_route *pw_route_build(const struct pw_route_conf *conf,
                                const char *file, const char *key_prefix,
                                const char *const *receivers,
                                size_t n_receivers, struct pw_err *err)
{
    struct build B = {file ? file : "(config)", receivers, n_receivers, err,
                      0};
    return build(&B, conf, NULL, key_prefix ? key_prefix : "route");
}

void pw_route_free(struct pw_route *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_routes; i++)
        pw_route_free(r->routes[i]);
    free(r->routes);
    for (size_t i = 0; i < r->n_group_by; i++)
        free(r->group_by[i]);
    free(r->group_by);
    pw_matchers_free(&r->matchers);
    free(r->receiver);
    free(r->key);
    free(r);
}

/* ------------------------------------------------------------------------ */
/* Matching                                                                  */

static size_t match(const struct pw_route *r, const struct pw_labels *ls,
                    const struct pw_route **out, size_t cap, size_t n)
{
    if (!pw_matchers_match(&r->matchers, ls))
        return n;
    size_t start = n;
    for (size_t i = 0; i < r->n_routes; i++) {
        size_t before = n;
        n = match(r->routes[i], ls, out, cap, n);
        if (n > before && !r->routes[i]->continue_)
            break;
    }
    if (n == start) {
        if (n < cap)
            out[n] = r;
        n++;
    }
    return n;
}

size_t pw_route_match(const struct pw_route *root,
                      const struct pw_labels *labels,
                      const struct pw_route **out, size_t cap)
{
    return match(root, labels, out, cap, 0);
}

int pw_route_group_labels(const struct pw_route *r,
                          const struct pw_labels *labels,
                          struct pw_labels *out, struct pw_err *err)
{
    pw_labels_free(out);
    if (r->group_by_all)
        return pw_labels_copy(out, labels, err);
    for (size_t i = 0; i < r->n_group_by; i++) {
        const char *v = pw_labels_get(labels, r->group_by[i]);
        if (v && pw_labels_set(out, r->group_by[i], v, err) < 0)
            return -1;
    }
    return 0;
}

/* Go's %q, enough for label values: \" \\ and control bytes escaped. */
static size_t quote_go(const char *s, char *out)
{
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': out[n++] = '\\'; out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; out[n++] = '\\'; break;
        case '\n': out[n++] = '\\'; out[n++] = 'n'; break;
        case '\t': out[n++] = '\\'; out[n++] = 't'; break;
        case '\r': out[n++] = '\\'; out[n++] = 'r'; break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                n += (size_t)sprintf(out + n, "\\x%02x", *p);
            else
                out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    return n;
}

char *pw_labels_string(const struct pw_labels *ls)
{
    size_t need = 3;
    for (size_t i = 0; i < ls->n; i++)
        need += strlen(ls->v[i].name) + 4 * strlen(ls->v[i].value) + 6;
    char *s = malloc(need);
    if (!s)
        return NULL;
    size_t n = 0;
    s[n++] = '{';
    for (size_t i = 0; i < ls->n; i++) {
        if (i) {
            s[n++] = ',';
            s[n++] = ' ';
        }
        size_t l = strlen(ls->v[i].name);
        memcpy(s + n, ls->v[i].name, l);
        n += l;
        s[n++] = '=';
        n += quote_go(ls->v[i].value, s + n);
    }
    s[n++] = '}';
    s[n] = 0;
    return s;
}
