/* tests/unit/test_tagger.c — the log tagger's parts: masking of every
 * variable kind, Drain grouping and stable ids, the naive Bayes classifier
 * (posterior order, save/load round trip, corrupt and truncated input,
 * bad training sets) and the default pipeline-failure model on lines that
 * are not in its training file. LogHub accuracy is test_tagger_loghub.c. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/drain.h"
#include "models/logclass.h"
#include "models/loghubdata.h"
#include "models/logtok.h"
#include "models/tagger.h"

#include "tests/unit/testing.h"

static const char *masked(const char *line)
{
    static struct pw_logtok_line l;
    pw_logtok_mask(line, strlen(line), &l);
    return l.text;
}

#define ck_mask(in, out) ck_assert_str_eq(masked(in), out)

START_TEST(test_logtok_masks_each_variable_kind)
{
    ck_mask("took 42 ms, retry -1 of 3.5", "took <NUM> ms, retry <NUM> of <NUM>");
    ck_mask("size 3200ms 64MB 95%", "size <NUM> <NUM> <NUM>");
    ck_mask("addr 0x7f3e2a1b at deadbeef12 in 113d3a99c3da401fbd62cc2caa5b96d2",
            "addr <HEX> at <HEX> in <HEX>");
    ck_mask("from 10.0.4.17:41233 and /10.10.34.11:45307 to 8.8.8.8",
            "from <IP> and <IP> to <IP>");
    ck_mask("open /var/lib/kafka/data/orders-3 and ./conf/a.yaml failed",
            "open <PATH> and <PATH> failed");
    ck_mask("GET http://driver-0:4040/jobs?id=7 now", "GET <PATH> now");
    ck_mask("instance 38101a0b-2096-447d-96ea-a692162415ae up",
            "instance <UUID> up");
    ck_mask("at 2024-03-02 04:00:12,223 and 17/06/09 20:10:40 on Fri Jun",
            "at <TIME> <TIME> and <TIME> <TIME> on <TIME> <TIME>");
    ck_mask("block blk_-6952295868487656571 of appattempt_1445144423722_0020_000001",
            "block <ID> of <ID>");
    ck_mask("rhost=csnsu.nsuok.edu user=root (uid=0)",
            "rhost=<HOST> user=root (uid=<NUM>)");
    /* Literal words, versions and Java names stay literal. */
    ck_mask("java.io.IOException: Connection reset by peer",
            "java.io.IOException: Connection reset by peer");
    ck_mask("mapred.task.id is deprecated", "mapred.task.id is deprecated");
    /* A trailing ':' or '.' stays after the placeholder. */
    ck_mask("port 8080: done at 12.", "port <NUM>: done at <NUM>.");
}
END_TEST

START_TEST(test_logtok_flags_and_limits)
{
    struct pw_logtok_line l;
    ck_assert_uint_eq(pw_logtok_mask("a <b> 12 (x=1) <IP>", 19, &l), 5);
    ck_assert_uint_eq(l.flags[0], 0);
    ck_assert_uint_eq(l.flags[2], PW_LOGTOK_VAR | PW_LOGTOK_WHOLE);
    ck_assert_uint_eq(l.flags[3], PW_LOGTOK_VAR);
    ck_assert_uint_eq(pw_logtok_mask("", 0, &l), 0);
    ck_assert_str_eq(l.text, "");
    ck_assert_uint_eq(pw_logtok_mask("  \t \n", 5, &l), 0);
    /* Too many tokens: cut, flagged, never overflowing. */
    char big[3000];
    for (int i = 0; i < 1000; i++)
        memcpy(big + 3 * i, "ab ", 3);
    big[2999] = '\0';
    ck_assert_uint_eq(pw_logtok_mask(big, strlen(big), &l), PW_LOGTOK_MAX_TOKENS);
    ck_assert(l.truncated);
    ck_assert_uint_eq(strlen(l.text), l.text_len);
    /* An embedded NUL ends the line. */
    ck_assert_uint_eq(pw_logtok_mask("a b\0c d", 7, &l), 2);
    ck_assert_int_eq(pw_logtok_classify("12", 2), PW_LOGTOK_NUM);
    ck_assert_int_eq(pw_logtok_classify("word", 4), -1);
}
END_TEST

static struct pw_drain *new_drain(void)
{
    struct pw_drain_config c;
    pw_drain_config_default(&c);
    struct pw_err err = {{0}};
    struct pw_drain *d = pw_drain_new(&c, &err);
    ck_assert_msg(d != NULL, "%s", err.msg);
    return d;
}

static long add(struct pw_drain *d, const char *line)
{
    struct pw_logtok_line l;
    struct pw_err err = {{0}};
    pw_logtok_mask(line, strlen(line), &l);
    long id = pw_drain_add(d, &l, &err);
    ck_assert_msg(id >= 0, "%s", err.msg);
    return id;
}

START_TEST(test_drain_groups_variables_and_separates_events)
{
    struct pw_drain *d = new_drain();
    long a = add(d, "PacketResponder 1 for block blk_38865049064139660 terminating");
    long b = add(d, "PacketResponder 0 for block blk_-6952295868487656571 terminating");
    long c = add(d, "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 dest: /10.250.19.102:50010");
    long e = add(d, "Receiving block blk_1 src: /10.0.0.1:1 dest: /10.0.0.2:2");
    /* A word that varies after the first 4 constant tokens (the routing
     * ones at the default depth 6) is merged by similarity; one among
     * them routes the line elsewhere (the documented price). */
    long f = add(d, "Executor started task loader in pool main for user alice");
    long g = add(d, "Executor started task loader in pool main for user bob");
    long h = add(d, "Executor stopped task loader in pool main for user bob");
    ck_assert_int_eq(a, b);
    ck_assert_int_eq(c, e);
    ck_assert_int_ne(a, c);
    ck_assert_int_eq(f, g);        /* 9 of 10 tokens equal */
    ck_assert_int_ne(g, h);        /* "stopped" is a routing token */
    char buf[256];
    pw_drain_template(d, (size_t)f, buf, sizeof buf);
    ck_assert_str_eq(buf, "Executor started task loader in pool main for user <*>");
    pw_drain_template(d, (size_t)a, buf, sizeof buf);
    ck_assert_str_eq(buf, "PacketResponder <NUM> for block <ID> terminating");
    /* key=value tokens with a word value do not merge: user=root is an
     * event of its own... */
    long k1 = add(d, "authentication failure; rhost=10.0.0.1 user=root");
    long k2 = add(d, "authentication failure; rhost=db-1.example.com user=guest");
    ck_assert_int_ne(k1, k2);
    /* ...but key=<variable> tokens do. */
    long k3 = add(d, "authentication failure; rhost=db-2.example.com user=root");
    ck_assert_int_eq(k1, k3);
    pw_drain_template(d, (size_t)k1, buf, sizeof buf);
    ck_assert_str_eq(buf, "authentication failure; rhost=<*> user=root");
    ck_assert_uint_eq(pw_drain_lines(d, (size_t)k1), 2);
    /* Truncating the template text says how long it is. */
    ck_assert_uint_eq(pw_drain_template(d, (size_t)k1, buf, 5), strlen(
        "authentication failure; rhost=<*> user=root"));
    ck_assert_str_eq(buf, "auth");
    pw_drain_free(d);
}
END_TEST

START_TEST(test_drain_template_ids_are_stable)
{
    struct pw_drain *d = new_drain();
    const char *lines[] = {
        "Starting job with parallelism 8 for ingest",
        "Checkpoint 1201 acknowledged by all 8 tasks",
        "Starting job with parallelism 4 for export",
        "Disk usage on /data is 97%",
        "Checkpoint 1202 acknowledged by all 8 tasks",
    };
    long ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = add(d, lines[i]);
    ck_assert_int_eq(ids[0], 0);
    ck_assert_int_eq(ids[1], 1);
    ck_assert_int_eq(ids[2], 0);      /* generalised, same id */
    ck_assert_int_eq(ids[3], 2);
    ck_assert_int_eq(ids[4], 1);
    ck_assert_uint_eq(pw_drain_count(d), 3);
    /* Replaying gives the same ids; matching without learning agrees. */
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(add(d, lines[i]), ids[i]);
    struct pw_logtok_line l;
    pw_logtok_mask("Starting job with parallelism 2 for other", 41, &l);
    ck_assert_int_eq(pw_drain_match(d, &l), 0);
    pw_logtok_mask("Something never seen", 20, &l);
    ck_assert_int_eq(pw_drain_match(d, &l), -1);
    ck_assert_uint_eq(pw_drain_count(d), 3);
    /* The empty line has a template too. */
    long empty = add(d, "");
    ck_assert_int_eq(add(d, "   "), empty);
    char buf[8];
    ck_assert_uint_eq(pw_drain_template(d, 999, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    pw_drain_free(d);
}
END_TEST

START_TEST(test_drain_rejects_bad_config)
{
    struct pw_drain_config c;
    struct pw_err err = {{0}};
    pw_drain_config_default(&c);
    c.depth = 2;
    ck_assert_ptr_null(pw_drain_new(&c, &err));
    ck_assert(strstr(err.msg, "depth") != NULL);
    pw_drain_config_default(&c);
    c.sim_threshold = 0;
    ck_assert_ptr_null(pw_drain_new(&c, &err));
}
END_TEST

/* A tiny training set whose posterior order is known by construction. */
static const struct pw_logclass_example tiny[] = {
    {"disk", "no space left on device"},
    {"disk", "disk full on /data"},
    {"disk", "no space left while writing spill file"},
    {"net", "connection refused by host"},
    {"net", "connection reset by peer"},
    {"ok", "job finished"},
    {"ok", "job started"},
    {"ok", "job finished in 12 s"},
};

static struct pw_logclass *train_tiny(void)
{
    struct pw_logclass_config cfg;
    pw_logclass_config_default(&cfg);
    struct pw_err err = {{0}};
    struct pw_logclass *m = pw_logclass_train(tiny, 8, &cfg, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

static size_t predict(const struct pw_logclass *m, const char *line,
                      double *post)
{
    return pw_logclass_predict(m, line, strlen(line), NULL, post);
}

START_TEST(test_logclass_posterior_order_on_tiny_set)
{
    struct pw_logclass *m = train_tiny();
    ck_assert_uint_eq(pw_logclass_ncategories(m), 3);
    ck_assert_str_eq(pw_logclass_category(m, 0), "disk");
    ck_assert_str_eq(pw_logclass_category(m, 2), "ok");
    ck_assert_ptr_null(pw_logclass_category(m, 3));
    ck_assert_int_eq(pw_logclass_find(m, "net"), 1);
    ck_assert_int_eq(pw_logclass_find(m, "nope"), -1);
    double post[3];
    ck_assert_uint_eq(predict(m, "No space left on device /tmp", post), 0);
    ck_assert(post[0] > post[1] && post[0] > post[2]);
    ck_assert_double_eq_tol(post[0] + post[1] + post[2], 1, 1e-12);
    ck_assert_uint_eq(predict(m, "connection refused", post), 1);
    ck_assert(post[1] > post[0] && post[1] > post[2]);
    ck_assert_uint_eq(predict(m, "job 7 finished", post), 2);
    /* Unknown words only: the prior decides (ok and disk have 3 lines
     * each, net 2), so net is last. */
    predict(m, "zebra quux", post);
    ck_assert(post[1] < post[0] && post[1] < post[2]);
    ck_assert_double_eq_tol(post[0], post[2], 1e-12);
    pw_logclass_free(m);
}
END_TEST

/* Serialises m into a malloc'd buffer. */
static char *to_bytes(const struct pw_logclass *m, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_logclass_write(m, f, &err), 0);
    fclose(f);
    return buf;
}

static struct pw_logclass *from_bytes(const char *buf, size_t len,
                                      struct pw_err *err)
{
    FILE *f = len ? fmemopen((void *)buf, len, "r") : fopen("/dev/null", "r");
    ck_assert_ptr_nonnull(f);
    struct pw_logclass *m = pw_logclass_read(f, err);
    fclose(f);
    return m;
}

START_TEST(test_logclass_save_load_round_trip_predicts_identically)
{
    struct pw_logclass *m = train_tiny();
    size_t len;
    char *buf = to_bytes(m, &len);
    ck_assert(strncmp(buf, "pw-logclass 1\n", 14) == 0);
    struct pw_err err = {{0}};
    struct pw_logclass *r = from_bytes(buf, len, &err);
    ck_assert_msg(r != NULL, "%s", err.msg);
    const char *probe[] = {"no space left", "connection reset", "job done",
                           "zebra", "", "disk full connection refused job"};
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        double a[3], b[3];
        ck_assert_uint_eq(predict(m, probe[i], a), predict(r, probe[i], b));
        ck_assert(memcmp(a, b, sizeof a) == 0);
    }
    /* Writing the reloaded model gives the same bytes. */
    size_t len2;
    char *buf2 = to_bytes(r, &len2);
    ck_assert_uint_eq(len, len2);
    ck_assert(memcmp(buf, buf2, len) == 0);
    free(buf);
    free(buf2);
    pw_logclass_free(m);
    pw_logclass_free(r);
}
END_TEST

START_TEST(test_logclass_corrupt_or_truncated_input_fails)
{
    struct pw_logclass *m = train_tiny();
    size_t len;
    char *buf = to_bytes(m, &len);
    struct pw_err err = {{0}};
    /* Every proper prefix fails. */
    for (size_t n = 0; n < len; n++) {
        struct pw_logclass *r = from_bytes(buf, n, &err);
        ck_assert_msg(r == NULL, "a %zu-byte prefix of %zu was accepted", n, len);
        ck_assert(err.msg[0] != '\0');
    }
    /* Every single-byte change fails (a changed digit is caught by the
     * totals or the checksum, anything else by the parser). */
    char *bad = malloc(len);
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] = bad[i] == '7' ? '3' : '7';
        struct pw_logclass *r = from_bytes(bad, len, &err);
        ck_assert_msg(r == NULL, "byte %zu changed was accepted", i);
    }
    /* Garbage and another version. */
    ck_assert_ptr_null(from_bytes("hello\n", 6, &err));
    ck_assert_ptr_null(from_bytes("pw-logclass 2\n", 14, &err));
    ck_assert(strstr(err.msg, "format") != NULL);
    free(bad);
    free(buf);
    pw_logclass_free(m);
}
END_TEST

START_TEST(test_logclass_bad_training_sets_fail)
{
    struct pw_logclass_config cfg;
    pw_logclass_config_default(&cfg);
    struct pw_err err = {{0}};
    ck_assert_ptr_null(pw_logclass_train(tiny, 0, &cfg, &err));
    ck_assert(strstr(err.msg, "no training") != NULL);
    ck_assert_ptr_null(pw_logclass_train(tiny, 3, &cfg, &err));  /* disk only */
    ck_assert(strstr(err.msg, "one category") != NULL);
    struct pw_logclass_example bad[] = {{"a\tb", "x"}, {"c", "y"}};
    ck_assert_ptr_null(pw_logclass_train(bad, 2, &cfg, &err));
    struct pw_logclass_example empty[] = {{"", "x"}, {"c", "y"}};
    ck_assert_ptr_null(pw_logclass_train(empty, 2, &cfg, &err));
    cfg.alpha = 0;
    ck_assert_ptr_null(pw_logclass_train(tiny, 8, &cfg, &err));
    ck_assert_ptr_null(pw_tagger_default_model("/nonexistent/x.tsv", &err));
    ck_assert(strstr(err.msg, "/nonexistent/x.tsv") != NULL);
}
END_TEST

static struct pw_logclass *default_model(void)
{
    const char *src = getenv("PW_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", PW_TAGGER_DEFAULT_TSV);
    struct pw_err err = {{0}};
    struct pw_logclass *m = pw_tagger_default_model(path, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

/* Written for this test; none of these is in tagger_default.tsv. */
static const struct {
    const char *category, *line;
} held_out[] = {
    {"out_of_memory", "ERROR Executor: task 3 died: java.lang.OutOfMemoryError: Java heap space"},
    {"out_of_memory", "Mar 03 01:02:03 node-9 kernel: Out of memory: Killed process 9911 (java)"},
    {"out_of_memory", "Container killed by YARN for exceeding memory limits. 5.2 GB of 5 GB physical memory used"},
    {"disk_full", "OSError: [Errno 28] No space left on device: '/scratch/out.parquet'"},
    {"disk_full", "could not write to file \"pg_wal/000000010000\": No space left on device"},
    {"network", "java.net.ConnectException: Connection refused to broker-7:9092"},
    {"network", "psycopg2.OperationalError: could not connect to server: No route to host"},
    {"timeout", "requests.exceptions.ReadTimeout: Read timed out. (read timeout=60)"},
    {"timeout", "ERROR:  canceling statement due to statement timeout"},
    {"permission", "PermissionError: [Errno 13] Permission denied: '/etc/etl/secret.yaml'"},
    {"permission", "FATAL:  password authentication failed for user \"loader\""},
    {"crash", "Exception in thread \"worker-3\" java.lang.NullPointerException"},
    {"crash", "Segmentation fault (core dumped) in /usr/bin/ingestd"},
    {"data", "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)"},
    {"data", "ERROR:  invalid input syntax for type numeric: \"abc\""},
    {"normal", "INFO DAGScheduler: Job 31 finished: collect at Report.scala:88, took 2.1 s"},
    {"normal", "[2024-04-01, 02:00:00 UTC] {taskinstance.py:1400} INFO - Marking task as SUCCESS. dag_id=sales, task_id=load"},
};

START_TEST(test_default_model_labels_unseen_pipeline_lines)
{
    struct pw_logclass *m = default_model();
    static const char *const want[] = {"normal", "out_of_memory", "disk_full",
        "network", "timeout", "permission", "crash", "data"};
    ck_assert_uint_eq(pw_logclass_ncategories(m), 8);
    for (size_t i = 0; i < 8; i++)
        ck_assert_int_ge(pw_logclass_find(m, want[i]), 0);
    size_t n = sizeof held_out / sizeof *held_out, ok = 0;
    for (size_t i = 0; i < n; i++) {
        double p;
        size_t c = pw_logclass_predict(m, held_out[i].line,
                                       strlen(held_out[i].line), &p, NULL);
        bool hit = strcmp(pw_logclass_category(m, c), held_out[i].category) == 0;
        ok += hit;
        if (!hit)
            fprintf(stderr, "default model: %s -> %s (%.2f), want %s\n",
                    held_out[i].line, pw_logclass_category(m, c), p,
                    held_out[i].category);
    }
    /* All but at most one right. */
    ck_assert_msg(ok + 1 >= n, "%zu of %zu right", ok, n);
    pw_logclass_free(m);
}
END_TEST

START_TEST(test_tagger_tags_template_and_category)
{
    struct pw_logclass *m = default_model();
    struct pw_err err = {{0}};
    struct pw_tagger *t = pw_tagger_new(NULL, m, &err);
    ck_assert_msg(t != NULL, "%s", err.msg);
    struct pw_tag a, b;
    const char *l1 = "java.net.ConnectException: Connection refused to broker-7:9092";
    const char *l2 = "java.net.ConnectException: Connection refused to broker-2:9092";
    ck_assert_int_eq(pw_tagger_tag(t, l1, strlen(l1), &a, &err), 0);
    ck_assert_int_eq(pw_tagger_tag(t, l2, strlen(l2), &b, &err), 0);
    ck_assert_int_eq(a.template_id, b.template_id);
    ck_assert_str_eq(a.category, "network");
    ck_assert(a.prob > 0.5 && a.prob <= 1);
    char buf[128];
    pw_tagger_template(t, (size_t)a.template_id, buf, sizeof buf);
    ck_assert_str_eq(buf, "java.net.ConnectException: Connection refused to <ID>");
    ck_assert_uint_eq(pw_drain_count(pw_tagger_drain(t)), 1);
    pw_tagger_free(t);
    /* Without a model: templates only. */
    t = pw_tagger_new(NULL, NULL, &err);
    ck_assert_int_eq(pw_tagger_tag(t, l1, strlen(l1), &a, &err), 0);
    ck_assert_ptr_null(a.category);
    pw_tagger_free(t);
    pw_logclass_free(m);
}
END_TEST

START_TEST(test_grouping_accuracy_counts_exact_groups)
{
    /* Truth {0,1,2} {3,4} {5}; predicted {0,1,2} {3} {4,5}: only the first
     * group is exactly right. */
    const char *truth[] = {"A", "A", "A", "B", "B", "C"};
    unsigned pred[] = {7, 7, 7, 1, 2, 2};
    ck_assert_double_eq_tol(pw_loghub_grouping_accuracy(truth, pred, 6),
                            3.0 / 6, 1e-12);
    unsigned same[] = {0, 0, 0, 9, 9, 4};
    ck_assert_double_eq(pw_loghub_grouping_accuracy(truth, same, 6), 1.0);
    unsigned one[] = {0, 0, 0, 0, 0, 0};
    ck_assert_double_eq(pw_loghub_grouping_accuracy(truth, one, 6), 0.0);
    ck_assert_double_eq(pw_loghub_grouping_accuracy(truth, one, 0), 0.0);
}
END_TEST

/* Random bytes (weighted toward the characters the masker cares about)
 * through the masker, a small-fanout miner and the classifier: no crash,
 * no overflow (run under PW_SANITIZE), ids in range. */
START_TEST(test_tagger_survives_random_bytes)
{
    static const char alphabet[] = "aZ09_-.:/=,;()[]{}<>\"' \t\nxX<NUM>0x1f";
    struct pw_drain_config c;
    pw_drain_config_default(&c);
    c.max_children = 2;
    c.depth = 3;
    struct pw_err err = {{0}};
    struct pw_drain *d = pw_drain_new(&c, &err);
    struct pw_logclass *m = train_tiny();
    struct pw_logtok_line l;
    srand(7);
    char line[6000];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)(rand() % (iter % 100 == 0 ? 6000 : 80));
        for (size_t i = 0; i < n; i++)
            line[i] = rand() % 4 ? alphabet[rand() % (sizeof alphabet - 1)]
                                 : (char)(rand() % 256);
        pw_logtok_mask(line, n, &l);
        ck_assert(l.text_len < PW_LOGTOK_MAX_BYTES);
        long id = pw_drain_add(d, &l, &err);
        ck_assert(id >= 0 && (size_t)id < pw_drain_count(d));
        ck_assert_int_eq(pw_drain_match(d, &l), id);
        char buf[64];
        pw_drain_template(d, (size_t)id, buf, sizeof buf);
        double p;
        ck_assert_uint_lt(pw_logclass_predict_masked(m, &l, &p, NULL), 3);
        ck_assert(p > 0 && p <= 1);
    }
    pw_logclass_free(m);
    pw_drain_free(d);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tagger");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_logtok_masks_each_variable_kind);
    tcase_add_test(tc, test_logtok_flags_and_limits);
    tcase_add_test(tc, test_drain_groups_variables_and_separates_events);
    tcase_add_test(tc, test_drain_template_ids_are_stable);
    tcase_add_test(tc, test_drain_rejects_bad_config);
    tcase_add_test(tc, test_logclass_posterior_order_on_tiny_set);
    tcase_add_test(tc, test_logclass_save_load_round_trip_predicts_identically);
    tcase_add_test(tc, test_logclass_corrupt_or_truncated_input_fails);
    tcase_add_test(tc, test_logclass_bad_training_sets_fail);
    tcase_add_test(tc, test_default_model_labels_unseen_pipeline_lines);
    tcase_add_test(tc, test_tagger_tags_template_and_category);
    tcase_add_test(tc, test_grouping_accuracy_counts_exact_groups);
    tcase_add_test(tc, test_tagger_survives_random_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(suite());
}
