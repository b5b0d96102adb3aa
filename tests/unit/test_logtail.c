/* tests/unit/test_logtail.c — the log tail collector on real files in a
 * temporary directory: reading, multiline records, the size limit, the
 * state file, rotation by rename and by copytruncate done while the
 * collector runs, and restarts, each checking that every line arrives
 * exactly once. The agent is stood in for by an emit() that parses each
 * message (newline-delimited JSON) with jansson and can be told to fail. */
#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collectors/logtail.h"
#include "common/buf.h"
#include "common/config.h"

#include "tests/unit/testing.h"

#define MAXREC 4096

struct sink {
    size_t n, messages;
    char *line[MAXREC];
    char *source[MAXREC];
    bool fail;                /* refuse messages */
    bool hold;                /* push back (a filling spool) */
};

static int sink_emit(void *arg, const char *msg, size_t len, struct pw_err *err)
{
    struct sink *k = arg;
    if (k->fail)
        return pw_err_set(err, "spool refused (test)");
    if (k->hold)
        return 1;
    k->messages++;
    ck_assert_int_eq(msg[len - 1], '\n');
    for (const char *p = msg, *end = msg + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        ck_assert_msg(o != NULL, "bad record \"%.*s\": %s", (int)(nl - p), p, je.text);
        ck_assert_str_eq(json_string_value(json_object_get(o, "entity")), "web-1");
        ck_assert(json_is_integer(json_object_get(o, "ts")));
        ck_assert_uint_lt(k->n, MAXREC);
        k->line[k->n] = strdup(json_string_value(json_object_get(o, "line")));
        k->source[k->n] = strdup(json_string_value(json_object_get(o, "source")));
        k->n++;
        json_decref(o);
        p = nl + 1;
    }
    return 0;
}

static void sink_clear(struct sink *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->line[i]);
        free(k->source[i]);
    }
    memset(k, 0, sizeof *k);
}

struct lt {
    void *conf;
    struct pw_collector c;
    struct sink sink;
    struct pw_log_out out;
};

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw_logtail_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void lt_start(struct lt *t, const char *extra_fmt, ...)
{
    char extra[1024];
    va_list ap;
    va_start(ap, extra_fmt);
    vsnprintf(extra, sizeof extra, extra_fmt, ap);
    va_end(ap);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "enabled: true\nstate_file: %s/state\nrotate_wait: 0s\n"
             "poll_interval: 10ms\nstate_interval: 0s\n%s",
             dir, extra);
    struct pw_err err;
    t->conf = calloc(1, pw_logtail_collector.config_size);
    ck_assert_msg(pw_config_load_string("t.yaml", yaml, strlen(yaml),
                                        pw_logtail_collector.options, t->conf,
                                        &err) == 0, "%s", err.msg);
    ck_assert_msg(pw_logtail_collector.check(t->conf, "t.yaml", &err) == 0, "%s",
                  err.msg);
    t->c = (struct pw_collector){.ops = &pw_logtail_collector, .config = t->conf};
    ck_assert_msg(pw_logtail_collector.start(&t->c, &err) == 0, "%s", err.msg);
    t->out = (struct pw_log_out){.entity = "web-1", .max_message_bytes = 4096,
                                 .emit = sink_emit, .arg = &t->sink};
}

/* Runs collect_logs until it has nothing more (and once more after a pause
 * longer than poll_interval, so that rescans happen). */
static int lt_run(struct lt *t)
{
    struct pw_err err;
    int rc = 0;
    for (int round = 0; round < 2; round++) {
        if (round)
            nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);
        do {
            if (pw_logtail_collector.collect_logs(&t->c, &t->out, &err) < 0)
                rc = -1;
        } while (pw_logtail_collector.logs_wait_ms(&t->c) == 0 && rc == 0);
    }
    return rc;
}

static void lt_stop(struct lt *t)
{
    pw_logtail_collector.stop(&t->c);
    pw_config_release(pw_logtail_collector.options, t->conf);
    free(t->conf);
}

static void lt_free(struct lt *t)
{
    lt_stop(t);
    sink_clear(&t->sink);
}

static void append(const char *name, const char *fmt, ...)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

/* Appends lines "<tag> <i>" for i in [from, to). */
static void append_lines(const char *name, const char *tag, int from, int to)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    for (int i = from; i < to; i++)
        fprintf(f, "%s %d\n", tag, i);
    fclose(f);
}

/* The sink holds exactly "<tag> <i>" for i in [0, n), each once, in order. */
static void expect_lines(const struct sink *k, const char *tag, int n)
{
    int next = 0;
    for (size_t i = 0; i < k->n; i++) {
        char want[64];
        snprintf(want, sizeof want, "%s %d", tag, next);
        if (strncmp(k->line[i], tag, strlen(tag)) != 0 || k->line[i][strlen(tag)] != ' ')
            continue;
        ck_assert_msg(strcmp(k->line[i], want) == 0, "record %zu: \"%s\", want \"%s\"",
                      i, k->line[i], want);
        next++;
    }
    ck_assert_int_eq(next, n);
}

static void mv(const char *from, const char *to)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/%s", dir, from);
    snprintf(b, sizeof b, "%s/%s", dir, to);
    ck_assert_int_eq(rename(a, b), 0);
}

static void copytruncate(const char *name, const char *copy)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s/%s %s/%s && : > %s/%s", dir, name, dir, copy, dir,
             name);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(test_reads_lines_as_json_records)
{
    append("a.log", "before start\n");
    struct lt t = {0};
    lt_start(&t, "files:\n  - path: %s/*.log\n", dir);
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_uint_eq(t.sink.n, 0);   /* existing content: from the end */
    append("a.log", "plain\n\"quoted\" \\ back\ttab\r\n\xff\xfe bad utf8 \xc3\xa9\n");
    append("a.log", "partial");
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_uint_eq(t.sink.n, 3);
    ck_assert_str_eq(t.sink.line[0], "plain");
    ck_assert_str_eq(t.sink.line[1], "\"quoted\" \\ back\ttab");
    ck_assert_str_eq(t.sink.line[2], "\xef\xbf\xbd\xef\xbf\xbd bad utf8 \xc3\xa9");
    char src[128];
    snprintf(src, sizeof src, "%s/a.log", dir);
    ck_assert_str_eq(t.sink.source[0], src);
    /* The unterminated line waits for its newline. */
    append("a.log", " line\n");
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_uint_eq(t.sink.n, 4);
    ck_assert_str_eq(t.sink.line[3], "partial line");
    /* A file created later is read from its beginning. */
    append_lines("b.log", "b", 0, 3000);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "b", 3000);
    ck_assert_uint_gt(t.sink.messages, 10);   /* cut at max_message_bytes */
    lt_free(&t);
}
END_TEST

START_TEST(test_multiline_records)
{
    struct lt t = {0};
    lt_start(&t, "multiline_timeout: 50ms\nfiles:\n  - path: %s/app.log\n"
                 "    multiline_start: '^\\d{4}-'\n", dir);
    append("app.log", "2026-12-04 ERROR boom\n"
                      "java.lang.IllegalStateException: x\n"
                      "\tat A.b(A.java:1)\n"
                      "2026-12-04 INFO next\n"
                      "\tat C.d(C.java:2)\n");
    struct pw_err err;
    ck_assert_int_eq(pw_logtail_collector.collect_logs(&t.c, &t.out, &err), 0);
    /* The first record is complete (the next began); the second waits. */
    ck_assert_uint_eq(t.sink.n, 1);
    ck_assert_str_eq(t.sink.line[0], "2026-12-04 ERROR boom\n"
                                     "java.lang.IllegalStateException: x\n"
                                     "\tat A.b(A.java:1)");
    ck_assert_int_le(pw_logtail_collector.logs_wait_ms(&t.c), 50);
    nanosleep(&(struct timespec){0, 80 * 1000000}, NULL);
    ck_assert_int_eq(pw_logtail_collector.collect_logs(&t.c, &t.out, &err), 0);
    ck_assert_uint_eq(t.sink.n, 2);
    ck_assert_str_eq(t.sink.line[1], "2026-12-04 INFO next\n\tat C.d(C.java:2)");
    lt_free(&t);
}
END_TEST

START_TEST(test_bad_pattern_names_file_line_and_key)
{
    const char *yaml = "enabled: true\nfiles:\n  - path: /tmp/x.log\n"
                       "  - path: /tmp/y.log\n    multiline_start: '^(unclosed'\n";
    void *conf = calloc(1, pw_logtail_collector.config_size);
    struct pw_err err;
    ck_assert_int_eq(pw_config_load_string("agent.yaml", yaml, strlen(yaml),
                                           pw_logtail_collector.options, conf, &err), 0);
    ck_assert_int_eq(pw_logtail_collector.check(conf, "agent.yaml", &err), -1);
    ck_assert_msg(strstr(err.msg, "agent.yaml:4: collectors.logtail.files[2]."
                                  "multiline_start: missing closing parenthesis"),
                  "%s", err.msg);
    pw_config_release(pw_logtail_collector.options, conf);
    const char *yaml2 = "enabled: true\nfiles:\n  - path: /tmp/*/x.log\n";
    ck_assert_int_eq(pw_config_load_string("agent.yaml", yaml2, strlen(yaml2),
                                           pw_logtail_collector.options, conf, &err), 0);
    ck_assert_int_eq(pw_logtail_collector.check(conf, "agent.yaml", &err), -1);
    ck_assert_msg(strstr(err.msg, "agent.yaml:3: collectors.logtail.files[1].path"),
                  "%s", err.msg);
    pw_config_release(pw_logtail_collector.options, conf);
    free(conf);
}
END_TEST

START_TEST(test_long_lines_are_cut_and_counted)
{
    struct lt t = {0};
    lt_start(&t, "max_line_bytes: 256\nfiles:\n  - path: %s/a.log\n", dir);
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    append("a.log", "short\n%s\nafter\n", big);
    /* An overlong line still being written: cut, the rest skipped later. */
    append("a.log", "%s", big);
    ck_assert_int_eq(lt_run(&t), 0);
    append("a.log", "%s\nlast\n", big);
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_uint_eq(t.sink.n, 5);
    ck_assert_str_eq(t.sink.line[0], "short");
    ck_assert_uint_eq(strlen(t.sink.line[1]), 256);
    ck_assert_str_eq(t.sink.line[2], "after");
    ck_assert_uint_eq(strlen(t.sink.line[3]), 256);
    ck_assert_str_eq(t.sink.line[4], "last");
    /* The count is in the collector's own point. */
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    struct pw_err err;
    ck_assert_int_eq(pw_logtail_collector.collect(&t.c, 1, &w, &err), 0);
    ck_assert_ptr_nonnull(strstr(w.buf.data, "lines_cut=2i"));
    ck_assert_ptr_nonnull(strstr(w.buf.data, "records=5i"));
    pw_lp_writer_release(&w);
    lt_free(&t);
}
END_TEST

static void read_state(const struct pw_logtail_pos *p, void *arg)
{
    int64_t *off = arg;
    *off = p->offset;
}

START_TEST(test_restart_resumes_from_the_state_file)
{
    struct lt t = {0};
    const char *conf = "files:\n  - path: %s/a.log\n    multiline_start: '^l'\n"
                       "multiline_timeout: 10m\n";
    lt_start(&t, conf, dir);
    append_lines("a.log", "l", 0, 100);
    ck_assert_int_eq(lt_run(&t), 0);
    /* 99 records out; "l 99" is open (it may get continuation lines). */
    ck_assert_uint_eq(t.sink.n, 99);
    append_lines("a.log", "l", 100, 200);
    /* The spool refuses: nothing may advance. */
    t.sink.fail = true;
    ck_assert_int_eq(lt_run(&t), -1);
    ck_assert_uint_eq(t.sink.n, 99);
    lt_stop(&t);

    /* The state says: the first byte of "l 99". */
    struct pw_buf b;
    pw_buf_init(&b);
    char path[128];
    struct pw_err err;
    snprintf(path, sizeof path, "%s/state", dir);
    ck_assert_int_eq(pw_buf_read_file(&b, path, 1 << 20, &err), 0);
    int64_t off = -1;
    ck_assert_int_eq(pw_logtail_state_parse(b.data, b.len, read_state, &off, &err), 1);
    ck_assert_int_eq(off, 10 * 4 + 89 * 5);
    pw_buf_release(&b);

    /* Lines written while the agent is down are read after the restart,
     * none twice. */
    append_lines("a.log", "l", 200, 300);
    t.sink.fail = false;
    lt_start(&t, conf, dir);
    ck_assert_int_eq(lt_run(&t), 0);
    lt_stop(&t);
    append("a.log", "end\n");
    lt_start(&t, "files:\n  - path: %s/a.log\n", dir);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "l", 300);
    ck_assert_str_eq(t.sink.line[t.sink.n - 1], "end");
    lt_free(&t);
}
END_TEST

START_TEST(test_back_pressure_holds_lines_in_their_file)
{
    struct lt t = {0};
    lt_start(&t, "files:\n  - path: %s/a.log\n", dir);
    append_lines("a.log", "h", 0, 1000);
    t.sink.hold = true;
    ck_assert_int_eq(lt_run(&t), 0);   /* not an error */
    ck_assert_uint_eq(t.sink.n, 0);
    append_lines("a.log", "h", 1000, 2000);
    t.sink.hold = false;
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "h", 2000);
    ck_assert_uint_eq(t.sink.n, 2000);
    lt_free(&t);
}
END_TEST

START_TEST(test_rotation_by_rename_while_running)
{
    struct lt t = {0};
    lt_start(&t, "files:\n  - path: %s/app.log\n", dir);
    append_lines("app.log", "r", 0, 500);
    ck_assert_int_eq(lt_run(&t), 0);
    append_lines("app.log", "r", 500, 1000);   /* not read yet */
    mv("app.log", "app.log.1");
    append_lines("app.log.1", "r", 1000, 1100);   /* the writer had not reopened */
    append_lines("app.log", "r", 1100, 2000);     /* the new file */
    ck_assert_int_eq(lt_run(&t), 0);
    append_lines("app.log", "r", 2000, 2100);
    mv("app.log", "app.log.1");   /* again, over the old copy */
    append_lines("app.log", "r", 2100, 2200);
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "r", 2200);
    ck_assert_uint_eq(t.sink.n, 2200);
    /* A file that lives under the followed name only between two looks
     * (created, written, renamed away, twice): read from the renames. */
    append_lines("app.log", "r", 2200, 2300);
    mv("app.log", "app.log.1");
    append_lines("app.log", "r", 2300, 2400);
    mv("app.log", "app.log.2");
    mv("app.log.2", "app.log.3");
    append_lines("app.log", "r", 2400, 2500);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "r", 2500);
    ck_assert_uint_eq(t.sink.n, 2500);
    char want[128];
    snprintf(want, sizeof want, "%s/app.log", dir);
    for (size_t i = 0; i < t.sink.n; i++)
        ck_assert_str_eq(t.sink.source[i], want);
    lt_free(&t);
}
END_TEST

START_TEST(test_rotation_by_copytruncate_while_running)
{
    struct lt t = {0};
    lt_start(&t, "files:\n  - path: %s/app.log\n", dir);
    append_lines("app.log", "c", 0, 500);
    ck_assert_int_eq(lt_run(&t), 0);
    append_lines("app.log", "c", 500, 800);    /* only in the copy */
    copytruncate("app.log", "app.log.1");
    append_lines("app.log", "c", 800, 900);
    ck_assert_int_eq(lt_run(&t), 0);
    /* Truncated and written past the old offset before we look. */
    append_lines("app.log", "c", 900, 950);
    copytruncate("app.log", "app.log.2");
    append_lines("app.log", "c", 950, 1500);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "c", 1500);
    ck_assert_uint_eq(t.sink.n, 1500);
    /* While the agent pushes back (Kafka away), lines pile up; then the
     * file is copied and truncated; they are read from the copy. */
    t.sink.hold = true;
    append_lines("app.log", "c", 1500, 2000);
    ck_assert_int_eq(lt_run(&t), 0);
    copytruncate("app.log", "app.log.3");
    append_lines("app.log", "c", 2000, 2100);
    ck_assert_int_eq(lt_run(&t), 0);
    t.sink.hold = false;
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "c", 2100);
    ck_assert_uint_eq(t.sink.n, 2100);
    /* Two copytruncates between two looks: the generation in between is
     * only in the newer copy. */
    append_lines("app.log", "c", 2100, 2200);
    copytruncate("app.log", "app.log.4");
    nanosleep(&(struct timespec){0, 20 * 1000000}, NULL);   /* distinct mtimes */
    append_lines("app.log", "c", 2200, 2400);
    copytruncate("app.log", "app.log.5");
    append_lines("app.log", "c", 2400, 2450);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "c", 2450);
    ck_assert_uint_eq(t.sink.n, 2450);
    lt_free(&t);
}
END_TEST

START_TEST(test_rotation_while_down_is_read_after_restart)
{
    struct lt t = {0};
    const char *conf = "files:\n  - path: %s/app.log\n";
    lt_start(&t, conf, dir);
    append_lines("app.log", "d", 0, 100);
    ck_assert_int_eq(lt_run(&t), 0);
    lt_stop(&t);
    append_lines("app.log", "d", 100, 200);
    mv("app.log", "app.log.1");
    append_lines("app.log", "d", 200, 300);
    lt_start(&t, conf, dir);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "d", 300);
    ck_assert_uint_eq(t.sink.n, 300);
    /* And a copytruncate while it is down: the rest is read from the copy
     * (found by the remembered hash of the file's first bytes). */
    lt_stop(&t);
    append_lines("app.log", "d", 300, 400);
    copytruncate("app.log", "app.log.2");
    append_lines("app.log", "d", 400, 450);
    lt_start(&t, conf, dir);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "d", 450);
    ck_assert_uint_eq(t.sink.n, 450);
    /* Truncated, nothing of the new generation read, stopped; copied and
     * truncated again while down: that generation is in the newer copy. */
    append_lines("app.log", "d", 450, 500);
    copytruncate("app.log", "app.log.4");
    ck_assert_int_eq(lt_run(&t), 0);
    lt_stop(&t);
    nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
    append_lines("app.log", "d", 500, 600);
    copytruncate("app.log", "app.log.5");
    append_lines("app.log", "d", 600, 650);
    lt_start(&t, conf, dir);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "d", 650);
    ck_assert_uint_eq(t.sink.n, 650);
    lt_free(&t);
}
END_TEST

/* Two globs in one directory, one with a multiline pattern: a file of
 * the plain one rotated away while the agent was down (or across a
 * reload) is still read with its own glob's rules, one line a record.
 * (It was given the last pattern of its directory, so its lines were
 * joined as one multiline record, cut at max_line_bytes, the rest lost.) */
START_TEST(test_rotated_while_down_keeps_its_own_pattern)
{
    struct lt t = {0};
    const char *conf = "multiline_timeout: 10ms\nfiles:\n  - path: %s/app.log\n"
                       "  - path: %s/svc.log\n    multiline_start: '^\\d{4}-'\n";
    lt_start(&t, conf, dir, dir);
    append_lines("app.log", "a", 0, 100);
    append("svc.log", "2026-12-04 svc 0\n\tat X.y(X.java:1)\n");
    ck_assert_int_eq(lt_run(&t), 0);
    lt_stop(&t);
    append_lines("app.log", "a", 100, 300);
    mv("app.log", "app.log.1");
    append_lines("app.log", "a", 300, 350);
    append("svc.log", "2026-12-04 svc 1\n");
    lt_start(&t, conf, dir, dir);
    ck_assert_int_eq(lt_run(&t), 0);
    expect_lines(&t.sink, "a", 350);
    ck_assert_uint_eq(t.sink.n, 350 + 2);
    lt_free(&t);
}
END_TEST

/* Two globs in one directory share its inotify watch: a file of the
 * second one renamed away before it was ever read is still found from the
 * rename events and read whole, under its name, with its own rules. */
START_TEST(test_rename_before_read_in_a_shared_directory)
{
    struct lt t = {0};
    lt_start(&t, "multiline_timeout: 10ms\nfiles:\n  - path: %s/app.log\n"
                 "  - path: %s/svc.log\n    multiline_start: '^\\d{4}-'\n", dir, dir);
    append("app.log", "a 0\n");
    append("svc.log", "2026-12-04 s 0\n\tat X.y(X.java:1)\n");
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_uint_eq(t.sink.n, 2);
    /* svc.log: rotated; the next one lives only between two looks. */
    mv("svc.log", "svc.log.1");
    append("svc.log", "2026-12-04 s 1\n\tat X.y(X.java:2)\n2026-12-04 s 2\n");
    mv("svc.log", "svc.log.2");
    append("svc.log", "2026-12-04 s 3\n");
    ck_assert_int_eq(lt_run(&t), 0);
    ck_assert_int_eq(lt_run(&t), 0);
    char want[128];
    snprintf(want, sizeof want, "%s/svc.log", dir);
    static const char *const svc[] = {"2026-12-04 s 0\n\tat X.y(X.java:1)",
                                      "2026-12-04 s 1\n\tat X.y(X.java:2)",
                                      "2026-12-04 s 2", "2026-12-04 s 3"};
    size_t k = 0;
    for (size_t i = 0; i < t.sink.n; i++) {
        if (strcmp(t.sink.source[i], want) != 0)
            continue;
        ck_assert_uint_lt(k, 4);
        ck_assert_str_eq(t.sink.line[i], svc[k]);
        k++;
    }
    ck_assert_uint_eq(k, 4);
    ck_assert_uint_eq(t.sink.n, 5);
    lt_free(&t);
}
END_TEST

static void count_pos(const struct pw_logtail_pos *p, void *arg)
{
    (void)p;
    ++*(int *)arg;
}

START_TEST(test_state_file_parser)
{
    struct pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, "# pipewatch logtail state 1\n");
    struct pw_logtail_pos p = {.dev = 2049, .ino = 123456, .offset = 987654321,
                               .fp_hash = 0xdeadbeef, .fp_len = 64,
                               .gen_ns = 1764849600123456789,
                               .path = "/var/log/a b\\c\nd.log"};
    pw_logtail_state_format(&b, &p);
    int n = 0;
    struct pw_err err;
    ck_assert_int_eq(pw_logtail_state_parse(b.data, b.len, count_pos, &n, &err), 1);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"nonsense\n", "line 1: not a logtail state file"},
        {"# pipewatch logtail state 1\n1 2 3 4 5 6 /a\n1 2", "line 3: not terminated"},
        {"# pipewatch logtail state 1\n1 2 x 4 5 6 /a\n", "line 2: expected"},
        {"# pipewatch logtail state 1\n1 2 3 4 5 /a\n", "line 2: expected"},
        {"# pipewatch logtail state 1\n1 2 3 65 5 6 /a\n", "line 2: offset, fingerprint"},
        {"# pipewatch logtail state 1\n1 2 99999999999999999999 4 5 6 /a\n", "line 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 0;
        ck_assert_int_eq(pw_logtail_state_parse(bad[i].text, strlen(bad[i].text),
                                                count_pos, &n, &err), -1);
        ck_assert_int_eq(n, 0);
        ck_assert_msg(strstr(err.msg, bad[i].want), "%s", err.msg);
    }
    pw_buf_release(&b);
}
END_TEST

static Suite *logtail_suite(void)
{
    Suite *s = suite_create("logtail");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_reads_lines_as_json_records);
    tcase_add_test(tc, test_multiline_records);
    tcase_add_test(tc, test_bad_pattern_names_file_line_and_key);
    tcase_add_test(tc, test_long_lines_are_cut_and_counted);
    tcase_add_test(tc, test_restart_resumes_from_the_state_file);
    tcase_add_test(tc, test_back_pressure_holds_lines_in_their_file);
    tcase_add_test(tc, test_rotation_by_rename_while_running);
    tcase_add_test(tc, test_rotation_by_copytruncate_while_running);
    tcase_add_test(tc, test_rotation_while_down_is_read_after_restart);
    tcase_add_test(tc, test_rotated_while_down_keeps_its_own_pattern);
    tcase_add_test(tc, test_rename_before_read_in_a_shared_directory);
    tcase_add_test(tc, test_state_file_parser);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(logtail_suite());
}
