/* alerting/route.h — Alertmanager's routing tree.
 *
 * Configuration (declared as option tables so that the analyzer's
 * configuration can hold it under `alerting:`):
 *
 *   route:
 *     receiver: team-x
 *     group_by: [alertname, cluster]     # '...' = every label
 *     group_wait: 30s                    # default 30s at the root
 *     group_interval: 5m                 # default 5m
 *     repeat_interval: 4h                # default 4h
 *     routes:
 *       - match: {service: database}
 *         match_re: {owner: "team-(a|b)"}
 *         matchers: ['severity=~"crit|page"']
 *         receiver: team-db
 *         continue: true
 *         routes: [...]
 *
 * A child route inherits every key it leaves unset (receiver, group_by and
 * the three timers) from its parent. An empty `group_by` list counts as
 * unset. Matching walks the tree depth first, as Alertmanager does: a route
 * matches when its matchers do; its children are tried in order, and the
 * first child that matches stops the walk among its siblings unless it has
 * `continue: true`; a matching route none of whose children match is
 * itself the result. The root matches every alert.
 */
#ifndef PW_ROUTE_H
#define PW_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "alerting/matcher.h"
#include "common/config.h"

/* A timer left unset in the configuration (inherited from the parent). */
#define PW_ROUTE_UNSET_MS (106751991167LL * 86400000LL)   /* "106751991167d" */

/* One route as the configuration describes it (the loader fills it). */
struct pw_route_conf {
    char *receiver;
    struct pw_str_list group_by;
    int64_t group_wait_ms;          /* PW_ROUTE_UNSET_MS: inherited */
    int64_t group_interval_ms;
    int64_t repeat_interval_ms;
    struct pw_kv_list match;
    struct pw_kv_list match_re;
    struct pw_str_list matchers;
    bool continue_;                 /* `continue` */
    struct pw_section_list routes;  /* of struct pw_route_conf */
    int line;                       /* where a nested route starts; 0 at the
                                       root */
};

/* The keys of one route; `routes` refers to this table itself. */
extern const struct pw_option pw_route_options[];

/* A route ready to match: inherited values resolved, matchers compiled. */
struct pw_route {
    char *receiver;
    char **group_by;
    size_t n_group_by;
    bool group_by_all;              /* group_by: ['...'] */
    int64_t group_wait_ns, group_interval_ns, repeat_interval_ns;
    struct pw_matchers matchers;
    bool continue_;
    struct pw_route **routes;
    size_t n_routes;
    char *key;                      /* Alertmanager's route key: the
                                       parent's key, "/", then the sorted
                                       matchers as {a="b",c=~"d"} */
    int line;
};

/* Builds the tree from `conf` (read from `file`, for messages). Every
 * receiver named must be one of `receivers` (n_receivers names) unless
 * receivers is NULL; the root must name a receiver and must have no
 * matchers. Errors name FILE:LINE and the key, e.g.
 *   alerting.yaml:14: route.routes[2].match_re.owner: the regex ... Returns
 * the tree or NULL. `key_prefix` is the dotted key of the root route in the
 * file ("route", or "alerting.route"). */
struct pw_route *pw_route_build(const struct pw_route_conf *conf,
                                const char *file, const char *key_prefix,
                                const char *const *receivers,
                                size_t n_receivers, struct pw_err *err);
void pw_route_free(struct pw_route *r);

/* Every route that `labels` reaches, in order (see above). Writes up to
 * `cap` routes into out; returns how many matched (may exceed cap). */
size_t pw_route_match(const struct pw_route *root,
                      const struct pw_labels *labels,
                      const struct pw_route **out, size_t cap);

/* The group labels of `labels` under route `r` (its group_by), into
 * `out` (emptied first). Returns 0 or -1. */
int pw_route_group_labels(const struct pw_route *r,
                          const struct pw_labels *labels,
                          struct pw_labels *out, struct pw_err *err);

/* Alertmanager's LabelSet.String(): {a="b", c="d"} (Go %q quoting of
 * values). Returns a malloc'd string or NULL. */
char *pw_labels_string(const struct pw_labels *ls);

#endif
