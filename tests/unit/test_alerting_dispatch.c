/* tests/unit/test_alerting_dispatch.c — the dispatcher with time in the
 * test's hands: group_wait delays the first notification, group_interval
 * batches later changes, repeat_interval re-sends, a resolved alert is
 * sent once and an empty group goes away; inhibition and silences leave
 * muted alerts out; a batch is durable at commit; a restart (close and
 * reopen the same database) mid-group neither repeats a notification nor
 * forgets a pending alert; a refused notification comes back with the same
 * idempotency key; the GET /api/v2/alerts listing. */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alerting/dispatch.h"
#include "common/config.h"

#include "tests/unit/testing.h"

#define S 1000000000LL
#define M (60 * S)
#define T0 (1764800000LL * S)

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

static const char config_yaml[] =
    "route:\n"
    "  receiver: team\n"
    "  group_by: [alertname]\n"
    "  group_wait: 30s\n"
    "  group_interval: 5m\n"
    "  repeat_interval: 4h\n"
    "  routes:\n"
    "  - match: {severity: page}\n"
    "    receiver: pager\n"
    "    group_wait: 0s\n"
    "    continue: true\n"
    "inhibit_rules:\n"
    "  - source_match: {severity: critical}\n"
    "    target_match: {severity: warning}\n"
    "    equal: [alertname]\n";

/* What the callback saw. */
struct sent {
    char receiver[32];
    char group_key[160];
    char key[80];
    char alerts[512];          /* "entity:f entity:r ..." in order */
    size_t n;
};

static struct sent sent[64];
static size_t n_sent;
static int refuse;             /* the callback refuses this many */

static int notify(const struct pw_notification *n, void *user)
{
    (void)user;
    if (refuse > 0) {
        refuse--;
        return -1;
    }
    ck_assert_uint_lt(n_sent, 64);
    struct sent *s = &sent[n_sent++];
    memset(s, 0, sizeof *s);
    snprintf(s->receiver, sizeof s->receiver, "%s", n->receiver);
    snprintf(s->group_key, sizeof s->group_key, "%s", n->group_key);
    snprintf(s->key, sizeof s->key, "%s", n->idempotency_key);
    s->n = n->n_alerts;
    for (size_t i = 0; i < n->n_alerts; i++) {
        const char *e = pw_labels_get(&n->alerts[i].labels, "entity");
        size_t len = strlen(s->alerts);
        snprintf(s->alerts + len, sizeof s->alerts - len, "%s%s:%c",
                 i ? " " : "", e ? e : "?",
                 n->alerts[i].status == PW_ALERT_RESOLVED ? 'r' : 'f');
    }
    return 0;
}

static char dir[64], db[128];
static struct top conf;
static struct pw_route *root;
static struct pw_inhibit_rules rules;
static struct pw_silences *sil;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw_dispatch_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/alerts.db", dir);
    struct pw_err err = {{0}};
    memset(&conf, 0, sizeof conf);
    ck_assert_int_eq(pw_config_load_string("t.yaml", config_yaml,
                                           strlen(config_yaml), top_options,
                                           &conf, &err), 0);
    const char *recv[] = {"team", "pager"};
    root = pw_route_build(&conf.route, "t.yaml", "route", recv, 2, &err);
    ck_assert_msg(root != NULL, "%s", err.msg);
    ck_assert_int_eq(pw_inhibit_build(conf.inhibit_rules.items,
                                      conf.inhibit_rules.len, "t.yaml",
                                      "inhibit_rules", &rules, &err), 0);
    sil = pw_silences_open(db, &err);
    ck_assert_msg(sil != NULL, "%s", err.msg);
    n_sent = 0;
    refuse = 0;
}

static void teardown(void)
{
    pw_silences_close(sil);
    pw_inhibit_free(&rules);
    pw_route_free(root);
    pw_config_release(top_options, &conf);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct pw_dispatch *open_at(int64_t now)
{
    struct pw_dispatch_conf c = {
        .db_path = db, .route = root, .inhibit = &rules, .silences = sil,
        .notify = notify, .user = NULL,
    };
    struct pw_err err = {{0}};
    struct pw_dispatch *d = pw_dispatch_open(&c, now, &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    return d;
}

static void put(struct pw_dispatch *d, const char *alertname,
                const char *entity, const char *severity, bool resolved,
                int64_t now)
{
    struct pw_alert a = {0};
    struct pw_err err = {{0}};
    pw_labels_set(&a.labels, "alertname", alertname, &err);
    pw_labels_set(&a.labels, "entity", entity, &err);
    pw_labels_set(&a.labels, "severity", severity, &err);
    pw_labels_set(&a.annotations, "summary", "something", &err);
    a.starts_at_ns = now;
    a.status = resolved ? PW_ALERT_RESOLVED : PW_ALERT_FIRING;
    a.ends_at_ns = resolved ? now : 0;
    ck_assert_msg(pw_dispatch_put(d, &a, now, &err) == 0, "%s", err.msg);
    pw_alert_free(&a);
}

static int tick(struct pw_dispatch *d, int64_t now)
{
    struct pw_err err = {{0}};
    int n = pw_dispatch_tick(d, now, &err);
    ck_assert_msg(n >= 0, "%s", err.msg);
    return n;
}

START_TEST(test_group_timers_repeat_and_resolved_once)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "h1", "warning", false, T0);
    ck_assert_int_eq(tick(d, T0), 0);
    put(d, "Disk", "h2", "warning", false, T0 + 10 * S);
    ck_assert_int_eq(tick(d, T0 + 29 * S), 0);
    ck_assert_int_eq(pw_dispatch_next_due_ns(d), T0 + 30 * S);
    /* group_wait: the first notification holds both */
    ck_assert_int_eq(tick(d, T0 + 30 * S), 1);
    ck_assert_str_eq(sent[0].receiver, "team");
    ck_assert_str_eq(sent[0].group_key, "{}:{alertname=\"Disk\"}");
    ck_assert_str_eq(sent[0].alerts, "h1:f h2:f");
    ck_assert_int_eq(tick(d, T0 + 31 * S), 0);
    /* group_interval: a new alert waits for the next interval */
    put(d, "Disk", "h3", "warning", false, T0 + 60 * S);
    ck_assert_int_eq(tick(d, T0 + 2 * M), 0);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 1);
    ck_assert_str_eq(sent[1].alerts, "h1:f h2:f h3:f");
    /* nothing new: nothing sent */
    ck_assert_int_eq(tick(d, T0 + 30 * S + 10 * M), 0);
    /* a resolved alert is sent once, then leaves the group */
    put(d, "Disk", "h1", "warning", true, T0 + 11 * M);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 15 * M), 1);
    ck_assert_str_eq(sent[2].alerts, "h1:r h2:f h3:f");
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 2);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 20 * M), 0);
    /* repeat_interval after the last notification (at +15m30s) */
    ck_assert_int_eq(tick(d, T0 + 30 * S + 15 * M + 235 * M), 0);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 15 * M + 240 * M), 1);
    ck_assert_str_eq(sent[3].alerts, "h2:f h3:f");
    ck_assert_str_ne(sent[3].key, sent[2].key);
    /* all resolved: one last notification, then the group is gone */
    put(d, "Disk", "h2", "warning", true, T0 + 256 * M);
    put(d, "Disk", "h3", "warning", true, T0 + 256 * M);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 260 * M), 1);
    ck_assert_str_eq(sent[4].alerts, "h2:r h3:r");
    ck_assert_uint_eq(pw_dispatch_group_count(d), 0);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 0);
    ck_assert_int_eq(pw_dispatch_next_due_ns(d), INT64_MAX);
    ck_assert_int_eq(tick(d, T0 + 300 * M), 0);
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_resolved_before_first_flush_is_never_sent)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "h1", "warning", false, T0);
    put(d, "Disk", "h1", "warning", true, T0 + 5 * S);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 0);
    ck_assert_uint_eq(pw_dispatch_group_count(d), 0);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 0);
    /* a resolved alert never seen is ignored */
    put(d, "Disk", "h9", "warning", true, T0 + 40 * S);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 0);
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_child_route_with_group_wait_zero)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Down", "h1", "page", false, T0);
    ck_assert_int_eq(tick(d, T0), 1);
    ck_assert_str_eq(sent[0].receiver, "pager");
    ck_assert_str_eq(sent[0].group_key,
                     "{}/{severity=\"page\"}:{alertname=\"Down\"}");
    ck_assert_uint_eq(pw_dispatch_group_count(d), 1);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 1);
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_inhibition_critical_mutes_warning)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "w1", "warning", false, T0);
    put(d, "Disk", "c1", "critical", false, T0);
    put(d, "Other", "w2", "warning", false, T0);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 2);
    /* groups come out in hash order: find each */
    const struct sent *disk = strstr(sent[0].group_key, "Disk") ? &sent[0]
                                                                 : &sent[1];
    const struct sent *other = disk == &sent[0] ? &sent[1] : &sent[0];
    ck_assert_str_eq(disk->alerts, "c1:f");
    ck_assert_str_eq(other->alerts, "w2:f");
    char *json = pw_dispatch_alerts_json(d, T0 + 31 * S);
    ck_assert_ptr_nonnull(json);
    json_t *arr = json_loads(json, 0, NULL);
    ck_assert_uint_eq(json_array_size(arr), 3);
    /* sorted by labels: Disk/c1, Disk/w1, Other/w2 */
    json_t *w1 = json_array_get(arr, 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(w1, "status"), "state")),
                     "suppressed");
    ck_assert_uint_eq(json_array_size(json_object_get(
                          json_object_get(w1, "status"), "inhibitedBy")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(arr, 0), "status"),
                         "state")), "active");
    ck_assert_uint_eq(strlen(json_string_value(json_object_get(w1,
                                                "fingerprint"))), 16);
    json_decref(arr);
    free(json);
    /* the critical resolves: its resolution goes out with the warning,
     * no longer muted */
    put(d, "Disk", "c1", "critical", true, T0 + 60 * S);
    n_sent = 0;
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 1);
    ck_assert_str_eq(sent[0].alerts, "c1:r w1:f");
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_silence_mutes_while_active)
{
    struct pw_err err = {{0}};
    char id[PW_SILENCE_ID_LEN + 1];
    const char *body =
        "{\"matchers\":[{\"name\":\"entity\",\"value\":\"h1|h3\","
        "\"isRegex\":true}],\"startsAt\":\"2025-12-03T22:13:20Z\","
        "\"endsAt\":\"2025-12-03T22:23:20Z\",\"createdBy\":\"ops\","
        "\"comment\":\"maintenance\"}";
    /* T0 is 2025-12-03T22:13:20Z; the silence lasts 10 minutes */
    ck_assert_msg(pw_silences_add_json(sil, body, strlen(body), T0, id,
                                       &err) == 0, "%s", err.msg);
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "h1", "warning", false, T0);
    put(d, "Disk", "h2", "warning", false, T0);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 1);
    ck_assert_str_eq(sent[0].alerts, "h2:f");
    char *json = pw_dispatch_alerts_json(d, T0 + 31 * S);
    json_t *arr = json_loads(json, 0, NULL);
    json_t *sb = json_object_get(json_object_get(json_array_get(arr, 0),
                                                 "status"), "silencedBy");
    ck_assert_str_eq(json_string_value(json_array_get(sb, 0)), id);
    json_decref(arr);
    free(json);
    /* after the silence ends, h1 is new to the receiver */
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 0);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 10 * M), 1);
    ck_assert_str_eq(sent[1].alerts, "h1:f h2:f");
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_batch_is_durable_at_commit)
{
    struct pw_err err = {{0}};
    struct pw_dispatch *d = open_at(T0);
    ck_assert_int_eq(pw_dispatch_begin(d, &err), 0);
    put(d, "Disk", "h1", "warning", false, T0);
    put(d, "Disk", "h2", "warning", false, T0);
    ck_assert_int_eq(pw_dispatch_tick(d, T0, &err), -1);   /* in a batch */
    ck_assert_int_eq(pw_dispatch_commit(d, &err), 0);
    ck_assert_int_eq(pw_dispatch_begin(d, &err), 0);
    put(d, "Disk", "h3", "warning", false, T0);
    pw_dispatch_rollback(d);
    pw_dispatch_close(d);
    d = open_at(T0 + S);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 2);
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_restart_mid_group_no_duplicate_nothing_lost)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "h1", "warning", false, T0);
    put(d, "Disk", "h2", "warning", false, T0);
    pw_dispatch_close(d);
    /* restart before group_wait ran out: it still runs from the first put */
    d = open_at(T0 + 20 * S);
    ck_assert_int_eq(tick(d, T0 + 29 * S), 0);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 1);
    ck_assert_str_eq(sent[0].alerts, "h1:f h2:f");
    pw_dispatch_close(d);
    /* restart after the notification: no duplicate, the interval goes on */
    d = open_at(T0 + 1 * M);
    ck_assert_int_eq(tick(d, T0 + 1 * M), 0);
    ck_assert_int_eq(pw_dispatch_next_due_ns(d), T0 + 30 * S + 5 * M);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 0);
    /* a pending alert survives a restart */
    put(d, "Disk", "h3", "warning", false, T0 + 6 * M);
    put(d, "Disk", "h1", "warning", true, T0 + 6 * M);
    pw_dispatch_close(d);
    d = open_at(T0 + 7 * M);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 10 * M), 1);
    ck_assert_str_eq(sent[1].alerts, "h1:r h2:f h3:f");
    pw_dispatch_close(d);
    d = open_at(T0 + 11 * M);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 2);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 15 * M), 0);
    pw_dispatch_close(d);
    ck_assert_uint_eq(n_sent, 2);
}
END_TEST

START_TEST(test_refused_notification_returns_with_same_key)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "h1", "warning", false, T0);
    refuse = 1;
    ck_assert_int_eq(tick(d, T0 + 30 * S), 0);
    ck_assert_int_eq(pw_dispatch_next_due_ns(d), T0 + 30 * S);
    ck_assert_int_eq(tick(d, T0 + 31 * S), 1);
    char first[80];
    snprintf(first, sizeof first, "%s", sent[0].key);
    ck_assert_uint_eq(strlen(first), 64);
    pw_dispatch_close(d);
    /* the same notification formed in another process: the same key (the
     * log entry is removed to stand for a crash before it was written) */
    sqlite3 *h;
    ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(h, "DELETE FROM nflog", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    d = open_at(T0 + 40 * S);
    ck_assert_int_eq(tick(d, T0 + 40 * S), 1);
    ck_assert_str_eq(sent[1].key, first);
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_old_alert_skips_group_wait_new_one_without_start_waits)
{
    struct pw_dispatch *d = open_at(T0);
    struct pw_alert a = {0};
    struct pw_err err = {{0}};
    /* no start given: it starts now and waits group_wait */
    pw_labels_set(&a.labels, "alertname", "Fresh", &err);
    pw_labels_set(&a.labels, "entity", "h1", &err);
    ck_assert_int_eq(pw_dispatch_put(d, &a, T0, &err), 0);
    ck_assert_int_eq(tick(d, T0 + 1 * S), 0);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 1);
    pw_alert_free(&a);
    /* started 10 minutes ago: Alertmanager flushes such a group at once */
    pw_labels_set(&a.labels, "alertname", "Old", &err);
    pw_labels_set(&a.labels, "entity", "h2", &err);
    pw_labels_set(&a.labels, "severity", "warning", &err);
    a.starts_at_ns = T0 + 31 * S - 10 * M;
    ck_assert_int_eq(pw_dispatch_put(d, &a, T0 + 31 * S, &err), 0);
    ck_assert_int_eq(tick(d, T0 + 31 * S), 1);
    ck_assert_str_eq(sent[1].alerts, "h2:f");
    pw_alert_free(&a);
    /* resolved, dropped, then firing again: new to the receiver */
    put(d, "Old", "h2", "warning", true, T0 + 40 * S);
    put(d, "Old", "h2x", "warning", false, T0 + 40 * S);
    ck_assert_int_eq(tick(d, T0 + 31 * S + 5 * M), 1);
    ck_assert_str_eq(sent[2].alerts, "h2:r h2x:f");
    put(d, "Old", "h2", "warning", false, T0 + 6 * M);
    ck_assert_int_eq(tick(d, T0 + 31 * S + 10 * M), 1);
    ck_assert_str_eq(sent[3].alerts, "h2:f h2x:f");
    pw_dispatch_close(d);
}
END_TEST

/* A process that dies without closing anything (after commit, after a
 * tick) loses nothing and makes the next one send nothing twice. */
START_TEST(test_killed_process_loses_nothing_repeats_nothing)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct pw_dispatch *d = open_at(T0);
        struct pw_err err = {{0}};
        if (pw_dispatch_begin(d, &err) < 0)
            _exit(90);
        put(d, "Disk", "h1", "warning", false, T0);
        put(d, "Disk", "h2", "warning", false, T0);
        if (pw_dispatch_commit(d, &err) < 0)
            _exit(91);
        _exit(0);              /* no close: as if killed */
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct pw_dispatch *d = open_at(T0 + 10 * S);
        struct pw_err err = {{0}};
        int n = pw_dispatch_tick(d, T0 + 30 * S, &err);
        _exit(n == 1 && strcmp(sent[0].alerts, "h1:f h2:f") == 0 ? 0 : 92);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    struct pw_dispatch *d = open_at(T0 + 40 * S);
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 2);
    ck_assert_int_eq(tick(d, T0 + 40 * S), 0);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 0);
    put(d, "Disk", "h3", "warning", false, T0 + 6 * M);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 10 * M), 1);
    ck_assert_str_eq(sent[0].alerts, "h1:f h2:f h3:f");
    pw_dispatch_close(d);
}
END_TEST

START_TEST(test_resolve_timeout_resolves_unrefreshed_alerts)
{
    struct pw_dispatch_conf c = {
        .db_path = db, .route = root, .inhibit = &rules, .silences = sil,
        .notify = notify, .resolve_timeout_ns = 5 * M,
    };
    struct pw_err err = {{0}};
    struct pw_dispatch *d = pw_dispatch_open(&c, T0, &err);
    ck_assert_ptr_nonnull(d);
    put(d, "Disk", "h1", "warning", false, T0);
    put(d, "Disk", "h2", "warning", false, T0);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 1);
    /* h2 is refreshed, h1 is not: h1 resolves at T0 + 5m */
    put(d, "Disk", "h2", "warning", false, T0 + 4 * M);
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 1);
    ck_assert_str_eq(sent[1].alerts, "h1:r h2:f");
    ck_assert_uint_eq(pw_dispatch_alert_count(d), 1);
    pw_dispatch_close(d);
}
END_TEST

/* A reload with a new tree: alerts regroup; a group whose key is the same
 * is not notified again, a new group is notified after its group_wait. */
START_TEST(test_set_routes_regroups_without_repeats)
{
    struct pw_dispatch *d = open_at(T0);
    put(d, "Disk", "h1", "warning", false, T0);
    put(d, "Disk", "h2", "critical", false, T0);
    ck_assert_int_eq(tick(d, T0 + 30 * S), 1);
    ck_assert_str_eq(sent[0].alerts, "h2:f");       /* h1 inhibited */
    static const char y[] =
        "route:\n  receiver: team\n  group_by: [alertname]\n"
        "  routes:\n  - match: {severity: critical}\n"
        "    receiver: pager\n    group_wait: 1m\n";
    struct top t2;
    struct pw_err err = {{0}};
    memset(&t2, 0, sizeof t2);
    ck_assert_int_eq(pw_config_load_string("t2.yaml", y, strlen(y),
                                           top_options, &t2, &err), 0);
    const char *recv[] = {"team", "pager"};
    struct pw_route *r2 = pw_route_build(&t2.route, "t2.yaml", "route", recv,
                                         2, &err);
    ck_assert_ptr_nonnull(r2);
    ck_assert_int_eq(pw_dispatch_set_routes(d, r2, NULL, T0 + 40 * S, &err),
                     0);
    ck_assert_uint_eq(pw_dispatch_group_count(d), 2);
    /* h2's group is new: its group_wait (1m) counts from h2's arrival;
     * h1 (no longer inhibited) is new in the old group's key: sent at that
     * group's next interval */
    ck_assert_int_eq(tick(d, T0 + 40 * S), 0);
    ck_assert_int_eq(tick(d, T0 + 60 * S), 1);
    ck_assert_str_eq(sent[1].receiver, "pager");
    ck_assert_str_eq(sent[1].alerts, "h2:f");
    ck_assert_int_eq(tick(d, T0 + 30 * S + 5 * M), 1);
    ck_assert_str_eq(sent[2].receiver, "team");
    ck_assert_str_eq(sent[2].alerts, "h1:f");
    pw_dispatch_close(d);
    pw_route_free(r2);
    pw_config_release(top_options, &t2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alerting_dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_group_timers_repeat_and_resolved_once);
    tcase_add_test(tc, test_resolved_before_first_flush_is_never_sent);
    tcase_add_test(tc, test_child_route_with_group_wait_zero);
    tcase_add_test(tc, test_inhibition_critical_mutes_warning);
    tcase_add_test(tc, test_silence_mutes_while_active);
    tcase_add_test(tc, test_old_alert_skips_group_wait_new_one_without_start_waits);
    tcase_add_test(tc, test_resolve_timeout_resolves_unrefreshed_alerts);
    tcase_add_test(tc, test_set_routes_regroups_without_repeats);
    tcase_add_test(tc, test_batch_is_durable_at_commit);
    tcase_add_test(tc, test_restart_mid_group_no_duplicate_nothing_lost);
    tcase_add_test(tc, test_refused_notification_returns_with_same_key);
    tcase_add_test(tc, test_killed_process_loses_nothing_repeats_nothing);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
