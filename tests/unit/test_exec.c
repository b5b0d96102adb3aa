/* tests/unit/test_exec.c — the exec collector with real commands: line
 * protocol on stdout, a command that hangs (and one that ignores SIGTERM),
 * a failing command, garbage output, shell: true, the output bound, a
 * program that does not exist. After every run no child is left: neither a
 * zombie (waitpid) nor a live member of the command's process group. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collectors/exec.h"
#include "common/clock.h"
#include "common/lineproto.h"

#include "tests/unit/testing.h"

struct run {
    void *conf;
    struct pw_collector c;
    struct pw_lp_writer w;
    struct pw_lp_batch *batch;
    struct pw_err err;
    int rc;
    int64_t took_ms;
};

static int load(struct run *r, const char *yaml)
{
    const struct pw_collector_ops *ops = &pw_exec_collector;
    memset(r, 0, sizeof *r);
    r->conf = calloc(1, ops->config_size);
    r->c = (struct pw_collector){.ops = ops, .config = r->conf};
    if (pw_config_load_string("t.yaml", yaml, strlen(yaml), ops->options, r->conf,
                              &r->err) < 0)
        return -1;
    return ops->start(&r->c, &r->err);
}

static void start(struct run *r, const char *yaml)
{
    ck_assert_msg(load(r, yaml) == 0, "%s", r->err.msg);
    pw_lp_writer_init(&r->w);
    r->batch = pw_lp_batch_new();
}

/* Processes of group `pgid` that are not zombies, from /proc. */
static int live_members(int pgid)
{
    DIR *d = opendir("/proc");
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512];
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        const char *rp = strrchr(buf, ')');
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 &&
            pgrp == pgid && state != 'Z')
            n++;
    }
    closedir(d);
    return n;
}

/* No child of this process remains, zombie or alive, and nothing of the
 * last command's process group. */
static void assert_no_children(const struct run *r)
{
    errno = 0;
    ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
    ck_assert_int_eq(errno, ECHILD);
    struct pw_exec_stats st;
    pw_exec_get_stats(&r->c, &st);
    /* Killed grandchildren are reparented to init and stay zombies until it
     * reaps them (slowly in some containers): those are dead, and not ours. */
    int alive = st.last_pid > 0 ? live_members(st.last_pid) : 0;
    ck_assert_msg(alive == 0, "%d processes of group %d still run", alive, st.last_pid);
}

static void collect(struct run *r, int64_t ts)
{
    pw_lp_writer_reset(&r->w);
    int64_t t0 = pw_mono_ms();
    r->rc = r->c.ops->collect(&r->c, ts, &r->w, &r->err);
    r->took_ms = pw_mono_ms() - t0;
    pw_lp_batch_reset(r->batch);
    struct pw_err perr;
    int n = pw_lp_parse(r->w.buf.data ? r->w.buf.data : "", r->w.buf.len, 0,
                        r->batch, &perr);
    ck_assert_msg(n >= 0, "output does not parse: %s\n%s", perr.msg, r->w.buf.data);
    ck_assert_uint_eq((size_t)n, r->w.points);
    assert_no_children(r);
}

static void finish(struct run *r)
{
    if (r->c.state)
        r->c.ops->stop(&r->c);
    pw_config_release(pw_exec_collector.options, r->conf);
    free(r->conf);
    pw_lp_writer_release(&r->w);
    pw_lp_batch_free(r->batch);
}

static bool is(struct pw_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static const struct pw_lp_point *find(struct run *r, const char *m)
{
    for (size_t i = 0; i < pw_lp_batch_len(r->batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r->batch, i);
        if (is(p->measurement, m))
            return p;
    }
    return NULL;
}

static const struct pw_lp_field *field(const struct pw_lp_point *p, const char *k)
{
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < p->nfields; i++)
        if (is(p->fields[i].key, k))
            return &p->fields[i];
    ck_abort_msg("no field %s", k);
    return NULL;
}

static int64_t ival(const struct pw_lp_point *p, const char *k)
{
    const struct pw_lp_field *f = field(p, k);
    ck_assert_int_eq(f->type, PW_FIELD_INT);
    return f->v.i;
}

static struct pw_exec_stats stats(const struct run *r)
{
    struct pw_exec_stats st;
    pw_exec_get_stats(&r->c, &st);
    return st;
}

START_TEST(test_exec_command_printing_line_protocol)
{
    struct run r;
    start(&r, "{command: [printf, 'airflow_dag,dag=etl duration=1.5,ok=true\\n"
              "q v=2i 1234\\n']}");
    collect(&r, 1700000000000000000LL);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    const struct pw_lp_point *p = find(&r, "airflow_dag");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->ts_ns, 1700000000000000000LL);   /* the tick's */
    ck_assert(field(p, "duration")->v.f == 1.5);
    ck_assert(field(p, "ok")->v.b);
    p = find(&r, "q");
    ck_assert_int_eq(p->ts_ns, 1234);                    /* its own */
    ck_assert_int_eq(ival(p, "v"), 2);
    p = find(&r, "exec");
    ck_assert_uint_eq(p->ntags, 1);
    ck_assert(is(p->tags[0].value, "printf"));
    ck_assert_int_eq(ival(p, "exit_status"), 0);
    ck_assert_int_eq(ival(p, "points"), 2);
    ck_assert_int_eq(ival(p, "parse_errors"), 0);
    ck_assert(!field(p, "timed_out")->v.b);
    ck_assert_uint_eq(stats(&r).runs, 1);
    ck_assert_uint_eq(stats(&r).failures, 0);
    /* Twice: the state is reused. */
    collect(&r, 1);
    ck_assert_uint_eq(pw_lp_batch_len(r.batch), 3);
    finish(&r);
}
END_TEST

START_TEST(test_exec_hanging_command_is_killed_after_timeout)
{
    struct run r;
    start(&r, "{command: [sleep, 30], timeout: 200ms, kill_grace: 2s}");
    collect(&r, 1);
    ck_assert_msg(r.took_ms >= 190 && r.took_ms < 1500, "took %lld ms",
                  (long long)r.took_ms);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "still running after the 200 ms timeout") != NULL,
                  "%s", r.err.msg);
    ck_assert_uint_eq(stats(&r).overruns, 1);
    ck_assert_int_eq(stats(&r).last_exit_status, -1);
    const struct pw_lp_point *p = find(&r, "exec");
    ck_assert(field(p, "timed_out")->v.b);
    ck_assert_int_eq(ival(p, "exit_status"), -1);
    finish(&r);
}
END_TEST

START_TEST(test_exec_command_ignoring_sigterm_gets_sigkill_with_its_children)
{
    struct run r;
    /* The shell and its background children ignore SIGTERM, print a point
     * first: the point is kept, the whole group is killed. */
    start(&r, "{shell: true, timeout: 200ms, kill_grace: 300ms, command: "
              "[\"trap '' TERM; echo 'early v=1i'; sleep 30 & sleep 30 & wait\"]}");
    collect(&r, 1);
    ck_assert_msg(r.took_ms >= 490 && r.took_ms < 2000, "took %lld ms",
                  (long long)r.took_ms);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "Killed") != NULL, "%s", r.err.msg);
    ck_assert_ptr_nonnull(find(&r, "early"));
    ck_assert_uint_eq(stats(&r).overruns, 1);
    finish(&r);
}
END_TEST

START_TEST(test_exec_failing_command_is_counted_and_reported)
{
    struct run r;
    start(&r, "{command: [sh, -c, 'echo \"m v=1\"; echo it broke >&2; exit 3']}");
    collect(&r, 1);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_str_eq(r.err.msg, "exec sh: exited with status 3");
    ck_assert_ptr_nonnull(find(&r, "m"));
    ck_assert_int_eq(ival(find(&r, "exec"), "exit_status"), 3);
    struct pw_exec_stats st = stats(&r);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.stderr_lines, 1);
    ck_assert_int_eq(st.last_exit_status, 3);
    finish(&r);
}
END_TEST

START_TEST(test_exec_garbage_lines_are_skipped_and_counted)
{
    struct run r;
    start(&r, "{command: [printf, 'good v=1\\nthis is garbage\\n\\377\\001 x\\n"
              "also_good v=2i\\n']}");
    collect(&r, 1);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "2 lines of output are not line protocol; "
                                    "first: line 2, column") != NULL, "%s", r.err.msg);
    ck_assert_ptr_nonnull(find(&r, "good"));
    ck_assert_ptr_nonnull(find(&r, "also_good"));
    ck_assert_int_eq(ival(find(&r, "exec"), "parse_errors"), 2);
    ck_assert_uint_eq(stats(&r).parse_errors, 2);
    ck_assert_uint_eq(stats(&r).failures, 0);
    finish(&r);
}
END_TEST

START_TEST(test_exec_shell_true_runs_through_sh)
{
    struct run r;
    start(&r, "{shell: true, command: [echo, 'piped v=$((40+2))i', '|', "
              "'sed s/piped/through_sh/']}");
    collect(&r, 1);
    ck_assert_msg(r.rc == 0, "%s", r.err.msg);
    ck_assert_int_eq(ival(find(&r, "through_sh"), "v"), 42);
    ck_assert(is(find(&r, "exec")->tags[0].value, "echo"));
    /* Without the shell, the same words are plain arguments. */
    finish(&r);
    start(&r, "{command: [echo, 'x v=$((1))i']}");
    collect(&r, 1);
    ck_assert_int_eq(r.rc, -1);     /* "$((1))i" is not a value */
    finish(&r);
}
END_TEST

START_TEST(test_exec_output_beyond_the_bound_is_dropped)
{
    struct run r;
    start(&r, "{max_output_size: 1KiB, shell: true, command: "
              "['i=0; while [ $i -lt 2000 ]; do echo \"line v=${i}i\"; i=$((i+1)); done']}");
    collect(&r, 1);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "output larger than max_output_size") != NULL, "%s",
                  r.err.msg);
    struct pw_exec_stats st = stats(&r);
    ck_assert_uint_gt(st.dropped_bytes, 10000);
    ck_assert_uint_eq(st.parse_errors, 0);          /* cut at a whole line */
    const struct pw_lp_point *e = find(&r, "exec");
    int64_t points = ival(e, "points");
    ck_assert(points > 50 && points < 120);
    ck_assert_int_eq(ival(e, "dropped_bytes"), (int64_t)st.dropped_bytes);
    finish(&r);
}
END_TEST

START_TEST(test_exec_missing_program_and_missing_command)
{
    struct run r;
    start(&r, "{command: [/nonexistent/program]}");
    collect(&r, 1);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_msg(strstr(r.err.msg, "cannot run /nonexistent/program") != NULL, "%s",
                  r.err.msg);
    ck_assert_uint_eq(stats(&r).failures, 1);
    finish(&r);
    ck_assert_int_eq(load(&r, "{enabled: true}"), -1);
    ck_assert_msg(strstr(r.err.msg, "exec: no command") != NULL, "%s", r.err.msg);
    finish(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_exec_command_printing_line_protocol);
    tcase_add_test(tc, test_exec_hanging_command_is_killed_after_timeout);
    tcase_add_test(tc, test_exec_command_ignoring_sigterm_gets_sigkill_with_its_children);
    tcase_add_test(tc, test_exec_failing_command_is_counted_and_reported);
    tcase_add_test(tc, test_exec_garbage_lines_are_skipped_and_counted);
    tcase_add_test(tc, test_exec_shell_true_runs_through_sh);
    tcase_add_test(tc, test_exec_output_beyond_the_bound_is_dropped);
    tcase_add_test(tc, test_exec_missing_program_and_missing_command);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return pw_run_suite(suite()); }
