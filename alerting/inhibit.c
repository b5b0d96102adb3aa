/* alerting/inhibit.c — inhibit rules (contract: inhibit.h).
 *
 * The rule is Alertmanager's InhibitRule.hasEqual, including its
 * "two-sided match" exclusion; the dispatcher calls it while forming a
 * notification, over the firing alerts it holds.
 */
#include "alerting/inhibit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct pw_option pw_inhibit_options[] = {
    {.name = "source_match", .type = PW_OPT_MAP,
     .offset = offsetof(struct pw_inhibit_conf, source_match),
     .description = "Labels a source (inhibiting) alert must equal."},
    {.name = "source_match_re", .type = PW_OPT_MAP,
     .offset = offsetof(struct pw_inhibit_conf, source_match_re),
     .description = "Labels a source alert must match (regexes, anchored)."},
    {.name = "source_matchers", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct pw_inhibit_conf, source_matchers),
     .description = "Matchers a source alert must match, as "
                    "name=\"v\", name!=\"v\", name=~\"re\", name!~\"re\"."},
    {.name = "target_match", .type = PW_OPT_MAP,
     .offset = offsetof(struct pw_inhibit_conf, target_match),
     .description = "Labels a target (muted) alert must equal."},
    {.name = "target_match_re", .type = PW_OPT_MAP,
     .offset = offsetof(struct pw_inhibit_conf, target_match_re),
     .description = "Labels a target alert must match (regexes, anchored)."},
    {.name = "target_matchers", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct pw_inhibit_conf, target_matchers),
     .description = "Matchers a target alert must match."},
    {.name = "equal", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct pw_inhibit_conf, equal),
     .description = "Labels whose values must be the same in the source and "
                    "the target alert."},
    PW_OPT_ITEM_END_LINE(struct pw_inhibit_conf, line),
};

static int side(struct pw_matchers *ms, const struct pw_kv_list *eq,
                const struct pw_kv_list *re, const struct pw_str_list *txt,
                const char *file, const char *key, const char *which,
                int line, struct pw_err *err)
{
    struct pw_err e = {{0}};
    for (size_t i = 0; i < eq->len; i++)
        if (pw_matchers_add(ms, eq->items[i].key, PW_MATCH_EQ,
                            eq->items[i].value, &e) < 0)
            return pw_err_set(err, "%s:%d: %s.%s_match.%s: %s", file,
                              eq->items[i].line, key, which,
                              eq->items[i].key, e.msg);
    for (size_t i = 0; i < re->len; i++)
        if (pw_matchers_add(ms, re->items[i].key, PW_MATCH_RE,
                            re->items[i].value, &e) < 0)
            return pw_err_set(err, "%s:%d: %s.%s_match_re.%s: %s", file,
                              re->items[i].line, key, which,
                              re->items[i].key, e.msg);
    for (size_t i = 0; i < txt->len; i++)
        if (pw_matchers_add_text(ms, txt->items[i], &e) < 0)
            return pw_err_set(err, "%s:%d: %s.%s_matchers[%zu]: %s", file,
                              line, key, which, i + 1, e.msg);
    return 0;
}

int pw_inhibit_build(const struct pw_inhibit_conf *conf, size_t n,
                     const char *file, const char *key_prefix,
                     struct pw_inhibit_rules *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    if (!file)
        file = "(config)";
    if (!key_prefix)
        key_prefix = "inhibit_rules";
    if (n && !(out->v = calloc(n, sizeof *out->v)))
        return pw_err_set(err, "out of memory building inhibit rules");
    for (size_t i = 0; i < n; i++) {
        const struct pw_inhibit_conf *c = &conf[i];
        struct pw_inhibit_rule *r = &out->v[i];
        out->n++;
        char key[300];
        snprintf(key, sizeof key, "%s[%zu]", key_prefix, i + 1);
        if (side(&r->source, &c->source_match, &c->source_match_re,
                 &c->source_matchers, file, key, "source", c->line, err) < 0 ||
            side(&r->target, &c->target_match, &c->target_match_re,
                 &c->target_matchers, file, key, "target", c->line, err) < 0)
            goto fail;
        if (c->equal.len &&
            !(r->equal = calloc(c->equal.len, sizeof *r->equal))) {
            pw_err_set(err, "out of memory building inhibit rules");
            goto fail;
        }
        for (size_t j = 0; j < c->equal.len; j++) {
            if (!(r->equal[j] = strdup(c->equal.items[j]))) {
                pw_err_set(err, "out of memory building inhibit rules");
                goto fail;
            }
            r->n_equal++;
        }
    }
    return 0;
fail:
    pw_inhibit_free(out);
    return -1;
}

void pw_inhibit_free(struct pw_inhibit_rules *rules)
{
    if (!rules)
        return;
    for (size_t i = 0; i < rules->n; i++) {
        struct pw_inhibit_rule *r = &rules->v[i];
        pw_matchers_free(&r->source);
        pw_matchers_free(&r->target);
        for (size_t j = 0; j < r->n_equal; j++)
            free(r->equal[j]);
        free(r->equal);
    }
    free(rules->v);
    rules->v = NULL;
    rules->n = 0;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool pw_inhibit_rule_mutes(const struct pw_inhibit_rule *r,
                           const struct pw_labels *tgt,
                           const struct pw_labels *src)
{
    if (!pw_matchers_match(&r->target, tgt) ||
        !pw_matchers_match(&r->source, src))
        return false;
    for (size_t i = 0; i < r->n_equal; i++)
        if (!same(pw_labels_get(src, r->equal[i]),
                  pw_labels_get(tgt, r->equal[i])))
            return false;
    if (pw_matchers_match(&r->source, tgt) &&
        pw_matchers_match(&r->target, src))
        return false;
    return true;
}

bool pw_inhibit_mutes(const struct pw_inhibit_rules *rules,
                      const struct pw_labels *tgt,
                      const struct pw_labels *const *firing, size_t n,
                      uint64_t *by_fp)
{
    for (size_t i = 0; i < rules->n; i++) {
        const struct pw_inhibit_rule *r = &rules->v[i];
        if (!pw_matchers_match(&r->target, tgt))
            continue;
        for (size_t j = 0; j < n; j++) {
            if (pw_inhibit_rule_mutes(r, tgt, firing[j])) {
                if (by_fp)
                    *by_fp = pw_labels_fingerprint(firing[j]);
                return true;
            }
        }
    }
    return false;
}
