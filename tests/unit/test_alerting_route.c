/* tests/unit/test_alerting_route.c — the routing trees of Alertmanager's
 * configuration documentation and of its own route tests
 * (dispatch/route_test.go): which receivers an alert
 * reaches, `continue`, inheritance of group_by and the timers, route keys;
 * inhibit rules (critical mutes warning with equal labels, never itself);
 * configuration errors with FILE:LINE (unknown receiver, bad regex,
 * unknown key); the self-referring option table in the reference and the
 * loader's depth guard. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/inhibit.h"
#include "alerting/route.h"
#include "common/config.h"

#include "tests/unit/testing.h"

struct top {
    struct pw_route_conf route;
    struct pw_section_list inhibit_rules;
};

static const struct pw_option top_options[] = {
    {.name = "route", .type = PW_OPT_SECTION,
     .offset = offsetof(struct top, route), .section = pw_route_options},
    {.name = "inhibit_rules", .type = PW_OPT_SECTION_LIST,
     .offset = offsetof(struct top, inhibit_rules),
     .section = pw_inhibit_options},
    {0},
};

static const char *const receivers[] = {
    "notify-def", "notify-A", "notify-testing", "notify-productionA",
    "notify-productionB", "notify-BC",
};

/* dispatch/route_test.go's tree */
static const char tree_yaml[] =
    "route:\n"
    "  receiver: notify-def\n"
    "  routes:\n"
    "  - match: {owner: team-A}\n"
    "    receiver: notify-A\n"
    "    routes:\n"
    "    - match: {env: testing}\n"
    "      receiver: notify-testing\n"
    "      group_by: ['...']\n"
    "    - match: {env: production}\n"
    "      receiver: notify-productionA\n"
    "      group_wait: 1m\n"
    "      continue: true\n"
    "    - match_re: {env: \"produ.*\", job: \".*\"}\n"
    "      receiver: notify-productionB\n"
    "      group_wait: 30s\n"
    "      group_interval: 5m\n"
    "      repeat_interval: 1h\n"
    "      group_by: [job]\n"
    "  - match_re: {owner: \"team-(B|C)\"}\n"
    "    group_by: [foo, bar]\n"
    "    group_wait: 2m\n"
    "    receiver: notify-BC\n"
    "  - match: {group_by: role}\n"
    "    group_by: [role]\n"
    "    routes:\n"
    "    - match: {env: testing}\n"
    "      receiver: notify-testing\n"
    "      routes:\n"
    "      - match: {wait: long}\n"
    "        group_wait: 2m\n";

static struct pw_route *load(const char *yaml, struct top *t,
                             struct pw_err *err)
{
    memset(t, 0, sizeof *t);
    if (pw_config_load_string("alerting.yaml", yaml, strlen(yaml),
                              top_options, t, err) < 0)
        return NULL;
    struct pw_inhibit_rules rules;
    if (pw_inhibit_build(t->inhibit_rules.items, t->inhibit_rules.len,
                         "alerting.yaml", "inhibit_rules", &rules, err) < 0)
        return NULL;
    pw_inhibit_free(&rules);
    return pw_route_build(&t->route, "alerting.yaml", "route", receivers,
                          sizeof receivers / sizeof receivers[0], err);
}

static struct pw_labels labels(const char *const *kv)
{
    struct pw_labels ls = {0};
    struct pw_err err = {{0}};
    for (; kv[0]; kv += 2)
        ck_assert_int_eq(pw_labels_set(&ls, kv[0], kv[1], &err), 0);
    return ls;
}

#define S 1000000000LL

static void expect(const struct pw_route *root, const char *const *kv,
                   size_t n, const char *const *recv, const int64_t *wait_s)
{
    struct pw_labels ls = labels(kv);
    const struct pw_route *out[8];
    size_t got = pw_route_match(root, &ls, out, 8);
    ck_assert_uint_eq(got, n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(out[i]->receiver, recv[i]);
        ck_assert_int_eq(out[i]->group_wait_ns, wait_s[i] * S);
    }
    pw_labels_free(&ls);
}

START_TEST(test_route_tree_from_alertmanagers_tests)
{
    struct top t;
    struct pw_err err = {{0}};
    struct pw_route *root = load(tree_yaml, &t, &err);
    ck_assert_msg(root != NULL, "%s", err.msg);
    expect(root, (const char *[]){"owner", "team-A", NULL}, 1,
           (const char *[]){"notify-A"}, (int64_t[]){30});
    expect(root, (const char *[]){"owner", "team-A", "env", "unset", NULL}, 1,
           (const char *[]){"notify-A"}, (int64_t[]){30});
    expect(root, (const char *[]){"owner", "team-C", NULL}, 1,
           (const char *[]){"notify-BC"}, (int64_t[]){120});
    /* continue: both production routes */
    expect(root, (const char *[]){"owner", "team-A", "env", "production",
                                  NULL}, 2,
           (const char *[]){"notify-productionA", "notify-productionB"},
           (int64_t[]){60, 30});
    /* inheritance of the receiver two levels down */
    expect(root, (const char *[]){"group_by", "role", NULL}, 1,
           (const char *[]){"notify-def"}, (int64_t[]){30});
    expect(root, (const char *[]){"group_by", "role", "env", "testing", NULL},
           1, (const char *[]){"notify-testing"}, (int64_t[]){30});
    expect(root, (const char *[]){"group_by", "role", "env", "testing",
                                  "wait", "long", NULL}, 1,
           (const char *[]){"notify-testing"}, (int64_t[]){120});
    /* nothing matches: the root */
    expect(root, (const char *[]){"owner", "team-Z", NULL}, 1,
           (const char *[]){"notify-def"}, (int64_t[]){30});

    /* group_by, timers and keys as built */
    const struct pw_route *a = root->routes[0];
    ck_assert_str_eq(root->key, "{}");
    ck_assert_str_eq(a->key, "{}/{owner=\"team-A\"}");
    ck_assert_str_eq(a->routes[2]->key,
                     "{}/{owner=\"team-A\"}/{env=~\"produ.*\",job=~\".*\"}");
    ck_assert(a->routes[0]->group_by_all);
    ck_assert_uint_eq(a->routes[2]->n_group_by, 1);
    ck_assert_int_eq(a->routes[2]->repeat_interval_ns, 3600 * S);
    ck_assert_int_eq(a->repeat_interval_ns, 4 * 3600 * S);
    ck_assert_int_eq(a->group_interval_ns, 300 * S);
    const struct pw_route *role = root->routes[2];
    ck_assert_uint_eq(role->routes[0]->routes[0]->n_group_by, 1);
    ck_assert_str_eq(role->routes[0]->routes[0]->group_by[0], "role");
    ck_assert_int_eq(role->routes[0]->routes[0]->line, 30);

    struct pw_labels ls = labels((const char *[]){"owner", "team-C", "foo",
                                                  "1", "x", "y", NULL});
    struct pw_labels gl = {0};
    ck_assert_int_eq(pw_route_group_labels(root->routes[1], &ls, &gl, &err),
                     0);
    char *s = pw_labels_string(&gl);
    ck_assert_str_eq(s, "{foo=\"1\"}");
    free(s);
    pw_labels_free(&gl);
    pw_labels_free(&ls);
    pw_route_free(root);
    pw_config_release(top_options, &t);
}
END_TEST

/* A child may set group_wait to 0 (not "unset"). */
START_TEST(test_route_zero_group_wait_overrides)
{
    struct top t;
    struct pw_err err = {{0}};
    struct pw_route *root = load("route:\n  receiver: notify-def\n"
                                 "  group_wait: 1m\n  routes:\n"
                                 "  - match: {a: b}\n    group_wait: 0s\n",
                                 &t, &err);
    ck_assert_msg(root != NULL, "%s", err.msg);
    ck_assert_int_eq(root->group_wait_ns, 60 * S);
    ck_assert_int_eq(root->routes[0]->group_wait_ns, 0);
    pw_route_free(root);
    pw_config_release(top_options, &t);
}
END_TEST

static void expect_error(const char *yaml, const char *want)
{
    struct top t;
    struct pw_err err = {{0}};
    struct pw_route *root = load(yaml, &t, &err);
    ck_assert_msg(root == NULL, "no error for %s", yaml);
    ck_assert_msg(strstr(err.msg, want) != NULL, "wanted \"%s\" in \"%s\"",
                  want, err.msg);
    pw_config_release(top_options, &t);
}

START_TEST(test_route_config_errors_name_file_line_key)
{
    expect_error("route:\n  receiver: notify-def\n  routes:\n"
                 "  - match: {a: b}\n    receiver: nobody\n",
                 "alerting.yaml:4: route.routes[1].receiver: no receiver is "
                 "named \"nobody\"");
    expect_error("route:\n  receiver: notify-def\n  routes:\n"
                 "  - match_re:\n      owner: \"team-(B\"\n",
                 "alerting.yaml:5: route.routes[1].match_re.owner: label "
                 "owner: the regex \"team-(B\" does not compile");
    expect_error("route:\n  receiver: notify-def\n  routes:\n"
                 "  - matchers: ['a=~\"(\"']\n",
                 "alerting.yaml:4: route.routes[1].matchers[1]:");
    expect_error("route:\n  receiver: notify-def\n  routes:\n"
                 "  - match: {a: b}\n    recevier: notify-A\n",
                 "alerting.yaml:5: route.routes[1].recevier: unknown key");
    expect_error("route:\n  group_by: [a]\n", "route.receiver: the root route "
                 "must name a receiver");
    expect_error("route:\n  receiver: notify-def\n  match: {a: b}\n",
                 "alerting.yaml:2: route: the root route must not have "
                 "matchers");
    expect_error("route:\n  receiver: notify-def\n  group_wait: 1000000d\n",
                 "alerting.yaml:3: route.group_wait:");
    expect_error("route:\n  receiver: notify-def\n"
                 "inhibit_rules:\n  - source_match_re: {severity: \"[\"}\n",
                 "alerting.yaml:4: inhibit_rules[1].source_match_re.severity:");
}
END_TEST

START_TEST(test_route_reference_and_depth_guard)
{
    /* the reference names the recursion instead of following it */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    pw_config_reference(f, top_options, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "`route.receiver`"));
    ck_assert_ptr_nonnull(strstr(text, "`route.routes[].*`"));
    ck_assert_ptr_nonnull(strstr(text, "The same keys as `route`"));
    ck_assert_ptr_nonnull(strstr(text, "`inhibit_rules[].equal`"));
    free(text);

    /* 100 nested routes: refused with a sentence, not a stack overflow */
    char *yaml = NULL;
    f = open_memstream(&yaml, &len);
    fputs("route:\n  receiver: notify-def\n", f);
    for (int i = 0; i < 100; i++)
        fprintf(f, "%*sroutes:\n%*s- match: {a: b}\n", 2 + 2 * i, "",
                2 + 2 * i, "");
    fclose(f);
    struct top t;
    struct pw_err err = {{0}};
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(pw_config_load_string("deep.yaml", yaml, len,
                                           top_options, &t, &err), -1);
    ck_assert_msg(strstr(err.msg, "nested more than 64 deep") != NULL, "%s",
                  err.msg);
    pw_config_release(top_options, &t);
    free(yaml);
}
END_TEST

START_TEST(test_inhibit_critical_mutes_warning_not_itself)
{
    struct top t;
    struct pw_err err = {{0}};
    struct pw_route *root = load(
        "route: {receiver: notify-def}\n"
        "inhibit_rules:\n"
        "  - source_matchers: ['severity=\"critical\"']\n"
        "    target_match: {severity: warning}\n"
        "    equal: [alertname, entity]\n"
        "  - source_match_re: {kind: \"outage|down\"}\n"
        "    target_match_re: {kind: \"outage|down|slow\"}\n",
        &t, &err);
    ck_assert_msg(root != NULL, "%s", err.msg);
    struct pw_inhibit_rules rules;
    ck_assert_int_eq(pw_inhibit_build(t.inhibit_rules.items,
                                      t.inhibit_rules.len, "alerting.yaml",
                                      "inhibit_rules", &rules, &err), 0);
    struct pw_labels crit = labels((const char *[]){
        "alertname", "Disk", "entity", "h1", "severity", "critical", NULL});
    struct pw_labels warn = labels((const char *[]){
        "alertname", "Disk", "entity", "h1", "severity", "warning", NULL});
    struct pw_labels warn2 = labels((const char *[]){
        "alertname", "Disk", "entity", "h2", "severity", "warning", NULL});
    const struct pw_labels *firing[] = {&crit};
    uint64_t by = 0;
    ck_assert(pw_inhibit_mutes(&rules, &warn, firing, 1, &by));
    ck_assert_uint_eq(by, pw_labels_fingerprint(&crit));
    ck_assert(!pw_inhibit_mutes(&rules, &warn2, firing, 1, NULL));
    ck_assert(!pw_inhibit_mutes(&rules, &crit, firing, 1, NULL));
    /* the second rule's sides overlap: an outage cannot mute itself or
     * another outage, but mutes a slow alert */
    struct pw_labels out1 = labels((const char *[]){"kind", "outage", "x",
                                                    "1", NULL});
    struct pw_labels out2 = labels((const char *[]){"kind", "down", NULL});
    struct pw_labels slow = labels((const char *[]){"kind", "slow", NULL});
    const struct pw_labels *f2[] = {&out1, &out2};
    ck_assert(!pw_inhibit_mutes(&rules, &out1, f2, 2, NULL));
    ck_assert(!pw_inhibit_mutes(&rules, &out2, f2, 2, NULL));
    ck_assert(pw_inhibit_mutes(&rules, &slow, f2, 2, NULL));
    pw_labels_free(&crit);
    pw_labels_free(&warn);
    pw_labels_free(&warn2);
    pw_labels_free(&out1);
    pw_labels_free(&out2);
    pw_labels_free(&slow);
    pw_inhibit_free(&rules);
    pw_route_free(root);
    pw_config_release(top_options, &t);
}
END_TEST

/* The example in docs/alerting.md loads and builds. */
START_TEST(test_route_docs_example_loads)
{
    const char *src = getenv("PW_SOURCE_DIR");
    if (!src)
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/docs/alerting.md", src);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[512], *yaml = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&yaml, &len);
    /* The first YAML block that is a bare route tree (the page also shows
     * the whole `alerting:` section of the analyzer). */
    bool in = false, first = false, done = false;
    while (!done && fgets(line, sizeof line, f)) {
        if (!in && strncmp(line, "```yaml", 7) == 0) {
            in = first = true;
        } else if (in && strncmp(line, "```", 3) == 0) {
            done = true;
        } else if (in && first && strncmp(line, "route:", 6) != 0) {
            in = false;
        } else if (in) {
            first = false;
            fputs(line, out);
        }
    }
    fclose(f);
    fclose(out);
    ck_assert(done);
    struct top t;
    struct pw_err err = {{0}};
    memset(&t, 0, sizeof t);
    ck_assert_msg(pw_config_load_string("alerting.md", yaml, len, top_options,
                                        &t, &err) == 0, "%s", err.msg);
    const char *recv[] = {"team-ops", "pager", "team-db", "team-capacity"};
    struct pw_route *root = pw_route_build(&t.route, "alerting.md", "route",
                                           recv, 4, &err);
    ck_assert_msg(root != NULL, "%s", err.msg);
    struct pw_inhibit_rules rules;
    ck_assert_msg(pw_inhibit_build(t.inhibit_rules.items, t.inhibit_rules.len,
                                   "alerting.md", "inhibit_rules", &rules,
                                   &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(root->n_routes, 3);
    ck_assert_int_eq(root->routes[0]->group_wait_ns, 0);
    ck_assert(root->routes[1]->group_by_all);
    struct pw_labels ls = labels((const char *[]){"severity", "critical",
                                                  "kind", "trend", NULL});
    const struct pw_route *m[4];
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 2);
    ck_assert_str_eq(m[0]->receiver, "pager");
    ck_assert_str_eq(m[1]->receiver, "team-capacity");
    pw_labels_free(&ls);
    pw_inhibit_free(&rules);
    pw_route_free(root);
    pw_config_release(top_options, &t);
    free(yaml);
}
END_TEST

/* The example tree of Alertmanager's configuration documentation (its
 * mute_time_intervals / active_time_intervals left out: time intervals are
 * not supported). */
static const char am_docs_yaml[] =
    "route:\n"
    "  receiver: 'default-receiver'\n"
    "  group_wait: 30s\n"
    "  group_interval: 5m\n"
    "  repeat_interval: 4h\n"
    "  group_by: [cluster, alertname]\n"
    "  routes:\n"
    "  - receiver: 'database-pager'\n"
    "    group_wait: 10s\n"
    "    matchers:\n"
    "    - service=~\"mysql|cassandra\"\n"
    "  - receiver: 'frontend-pager'\n"
    "    group_by: [product, environment]\n"
    "    matchers:\n"
    "    - team=\"frontend\"\n"
    "  - receiver: 'dev-pager'\n"
    "    matchers:\n"
    "      - service=\"inhouse-service\"\n"
    "    continue: true\n"
    "  - receiver: 'on-call-pager'\n"
    "    matchers:\n"
    "      - service=\"inhouse-service\"\n";

START_TEST(test_route_alertmanager_docs_example)
{
    struct top t;
    struct pw_err err = {{0}};
    memset(&t, 0, sizeof t);
    ck_assert_int_eq(pw_config_load_string("am.yaml", am_docs_yaml,
                                           strlen(am_docs_yaml), top_options,
                                           &t, &err), 0);
    const char *recv[] = {"default-receiver", "database-pager",
                          "frontend-pager", "dev-pager", "on-call-pager"};
    struct pw_route *root = pw_route_build(&t.route, "am.yaml", "route", recv,
                                           5, &err);
    ck_assert_msg(root != NULL, "%s", err.msg);
    const struct pw_route *m[4];
    struct pw_labels ls = labels((const char *[]){"service", "mysql",
                                                  "cluster", "eu", NULL});
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 1);
    ck_assert_str_eq(m[0]->receiver, "database-pager");
    ck_assert_int_eq(m[0]->group_wait_ns, 10 * S);
    ck_assert_uint_eq(m[0]->n_group_by, 2);          /* inherited */
    ck_assert_str_eq(m[0]->group_by[0], "cluster");
    pw_labels_free(&ls);
    /* anchored: mysqlx is not mysql */
    ls = labels((const char *[]){"service", "mysqlx", NULL});
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 1);
    ck_assert_str_eq(m[0]->receiver, "default-receiver");
    pw_labels_free(&ls);
    ls = labels((const char *[]){"team", "frontend", "product", "shop",
                                 NULL});
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 1);
    ck_assert_str_eq(m[0]->receiver, "frontend-pager");
    ck_assert_str_eq(m[0]->group_by[1], "environment");
    ck_assert_int_eq(m[0]->group_wait_ns, 30 * S);
    pw_labels_free(&ls);
    /* continue: both inhouse routes */
    ls = labels((const char *[]){"service", "inhouse-service", NULL});
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 2);
    ck_assert_str_eq(m[0]->receiver, "dev-pager");
    ck_assert_str_eq(m[1]->receiver, "on-call-pager");
    pw_labels_free(&ls);
    /* team=frontend and service=mysql: the first sibling wins */
    ls = labels((const char *[]){"service", "cassandra", "team", "frontend",
                                 NULL});
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 1);
    ck_assert_str_eq(m[0]->receiver, "database-pager");
    pw_labels_free(&ls);
    ls = labels((const char *[]){"alertname", "x", NULL});
    ck_assert_uint_eq(pw_route_match(root, &ls, m, 4), 1);
    ck_assert_str_eq(m[0]->receiver, "default-receiver");
    pw_labels_free(&ls);
    pw_route_free(root);
    pw_config_release(top_options, &t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alerting_route");
    TCase *tc = tcase_create("route");
    tcase_add_test(tc, test_route_tree_from_alertmanagers_tests);
    tcase_add_test(tc, test_route_alertmanager_docs_example);
    tcase_add_test(tc, test_route_zero_group_wait_overrides);
    tcase_add_test(tc, test_route_config_errors_name_file_line_key);
    tcase_add_test(tc, test_route_reference_and_depth_guard);
    tcase_add_test(tc, test_inhibit_critical_mutes_warning_not_itself);
    tcase_add_test(tc, test_route_docs_example_loads);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
