/* alerting/inhibit.h — Alertmanager's inhibit rules.
 *
 *   inhibit_rules:
 *     - source_matchers: ['severity="critical"']
 *       target_matchers: ['severity="warning"']
 *       equal: [alertname, entity]
 *
 * A target alert (one the target matchers match) is muted while some
 * firing source alert (one the source matchers match) has the same values
 * for every `equal` label (a label both lack counts as equal). As in
 * Alertmanager, when the target alert also matches the source matchers, a
 * source that also matches the target matchers does not count, so that a
 * rule whose two sides overlap cannot make alerts inhibit each other (or
 * themselves).
 */
#ifndef PW_INHIBIT_H
#define PW_INHIBIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "alerting/matcher.h"
#include "common/config.h"

struct pw_inhibit_conf {
    struct pw_kv_list source_match, source_match_re, target_match,
        target_match_re;
    struct pw_str_list source_matchers, target_matchers, equal;
    int line;
};

/* The keys of one rule (the item table of `inhibit_rules:`). */
extern const struct pw_option pw_inhibit_options[];

struct pw_inhibit_rule {
    struct pw_matchers source, target;
    char **equal;
    size_t n_equal;
};

struct pw_inhibit_rules {
    struct pw_inhibit_rule *v;
    size_t n;
};

/* Compiles `n` rules read from `file` (for messages); `key_prefix` is the
 * dotted key of the list ("inhibit_rules"). Errors name FILE:LINE and the
 * key. Returns 0 or -1. */
int pw_inhibit_build(const struct pw_inhibit_conf *conf, size_t n,
                     const char *file, const char *key_prefix,
                     struct pw_inhibit_rules *out, struct pw_err *err);
void pw_inhibit_free(struct pw_inhibit_rules *rules);

/* Does a firing source alert with labels `src` inhibit the target alert
 * `tgt` under rule `r` (both sides, the equal labels, the two-sided
 * exclusion)? */
bool pw_inhibit_rule_mutes(const struct pw_inhibit_rule *r,
                           const struct pw_labels *tgt,
                           const struct pw_labels *src);

/* Is `tgt` muted by any of the firing alerts `firing` (n of them)? When it
 * is and by_fp is not NULL, *by_fp is the inhibiting alert's fingerprint. */
bool pw_inhibit_mutes(const struct pw_inhibit_rules *rules,
                      const struct pw_labels *tgt,
                      const struct pw_labels *const *firing, size_t n,
                      uint64_t *by_fp);

#endif
