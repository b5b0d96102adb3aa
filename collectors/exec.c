/* collectors/exec.c — runs a command and reads its stdout as line protocol
 * (contract: exec.h).
 *
 * Why it is built this way. The agent is one loop, so a command must never
 * hold it longer than its timeout, whatever it does: it is started with
 * posix_spawn in a process group of its own (so that a timeout can stop the
 * shell and everything it started with one kill), its stdout and stderr are
 * read through non-blocking pipes with poll, and the loop that reads them
 * also watches the clock and the child. The child is always reaped with
 * waitpid before collect returns, so no zombie outlives a tick. What the
 * command prints is untrusted input: its size is bounded, and a line that is
 * not line protocol costs that line only. */
#include "collectors/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

extern char **environ;

#define STDERR_LINE_MAX 512       /* longer stderr lines are cut when logged */
#define LOG_EVERY_MS 5000
#define KILL_WAIT_MS 2000         /* after SIGKILL, stop waiting for pipes */

struct exec_config {
    struct pw_collector_common common;
    struct pw_str_list command;
    bool shell;
    int64_t timeout_ms;
    int64_t kill_grace_ms;
    int64_t max_output_bytes;
    bool report;
};

static const struct pw_option exec_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct exec_config, "false", "60s"),
    {"command", PW_OPT_STRING_LIST, offsetof(struct exec_config, command), NULL,
     false, 0, 0, NULL,
     "The command as a list: the program (PATH is searched) and its "
     "arguments, run without a shell. Needed when the collector is enabled."},
    {"shell", PW_OPT_BOOL, offsetof(struct exec_config, shell), "false", false, 0,
     0, NULL, "Join the command's items with spaces and run the text with "
              "/bin/sh -c (pipes, redirections, variables)."},
    {"timeout", PW_OPT_DURATION, offsetof(struct exec_config, timeout_ms), "10s",
     false, 10, 3600000.0, NULL,
     "A run still going after this long is stopped: SIGTERM to its process "
     "group, SIGKILL after kill_grace; the overrun is counted."},
    {"kill_grace", PW_OPT_DURATION, offsetof(struct exec_config, kill_grace_ms),
     "1s", false, 0, 60000.0, NULL,
     "Time between SIGTERM and SIGKILL when a run overruns its timeout."},
    {"max_output_size", PW_OPT_SIZE,
     offsetof(struct exec_config, max_output_bytes), "1MiB", false, 64,
     268435456.0, NULL,
     "Stdout beyond this many bytes per run is read and dropped (counted)."},
    {"report", PW_OPT_BOOL, offsetof(struct exec_config, report), "true", false, 0,
     0, NULL, "Also write an `exec` point per run: exit_status, "
              "duration_seconds, timed_out, points, parse_errors, dropped_bytes."},
    {0},
};

struct exec_state {
    char **argv;               /* NULL-terminated; items borrowed from config */
    char *shell_text;          /* owned, when shell: true */
    char name[64];             /* the `command` tag */
    struct pw_buf out;         /* stdout of the run, reused */
    char errline[STDERR_LINE_MAX];
    size_t errlen;
    struct pw_lp_batch *batch;
    struct pw_exec_stats stats;
    struct pw_log_limiter stderr_log, parse_log;
};

/* One run's outcome. */
struct run {
    int exit_status;           /* -1: killed by a signal */
    int signal;
    bool timed_out;
    bool spawned;
    uint64_t dropped;
    int64_t duration_ns;
};

void pw_exec_get_stats(const struct pw_collector *c, struct pw_exec_stats *out)
{
    const struct exec_state *st = c->state;
    if (st)
        *out = st->stats;
    else
        memset(out, 0, sizeof *out);
}

static void exec_stop(struct pw_collector *c)
{
    struct exec_state *st = c->state;
    if (!st)
        return;
    free(st->argv);
    free(st->shell_text);
    pw_buf_release(&st->out);
    pw_lp_batch_free(st->batch);
    free(st);
    c->state = NULL;
}

static int exec_start(struct pw_collector *c, struct pw_err *err)
{
    const struct exec_config *cf = c->config;
    if (cf->command.len == 0 || !cf->command.items[0][0])
        return pw_err_set(err, "exec: no command; set collectors.exec.command "
                          "to a list such as [/usr/bin/my-script, --flag]");
    struct exec_state *st = calloc(1, sizeof *st);
    if (!st)
        return pw_err_set(err, "exec: out of memory");
    c->state = st;
    pw_buf_init(&st->out);
    st->batch = pw_lp_batch_new();
    st->argv = calloc(cf->command.len + 3, sizeof *st->argv);
    if (!st->batch || !st->argv) {
        exec_stop(c);
        return pw_err_set(err, "exec: out of memory");
    }
    if (cf->shell) {
        struct pw_buf b;
        pw_buf_init(&b);
        for (size_t i = 0; i < cf->command.len; i++) {
            if (i)
                pw_buf_putc(&b, ' ');
            pw_buf_puts(&b, cf->command.items[i]);
        }
        if (b.oom) {
            pw_buf_release(&b);
            exec_stop(c);
            return pw_err_set(err, "exec: out of memory");
        }
        st->shell_text = b.data;          /* taken over from the buffer */
        st->argv[0] = "/bin/sh";
        st->argv[1] = "-c";
        st->argv[2] = st->shell_text;
    } else {
        for (size_t i = 0; i < cf->command.len; i++)
            st->argv[i] = cf->command.items[i];
    }
    /* The tag: the first word's basename. */
    const char *first = cf->command.items[0];
    size_t len = strcspn(first, " \t");
    const char *slash = memrchr(first, '/', len);
    const char *base = slash ? slash + 1 : first;
    len -= (size_t)(base - first);
    if (len == 0)
        base = "sh", len = 2;
    if (len >= sizeof st->name)
        len = sizeof st->name - 1;
    memcpy(st->name, base, len);
    st->name[len] = '\0';
    st->stats.last_exit_status = 0;
    return 0;
}

/* ---- running ------------------------------------------------------------ */

static void log_stderr_line(struct exec_state *st)
{
    st->stats.stderr_lines++;
    pw_log_limited(&st->stderr_log, LOG_EVERY_MS, PW_WARN, "exec %s: stderr: %.*s",
                   st->name, (int)st->errlen, st->errline);
    st->errlen = 0;
}

static void take_stderr(struct exec_state *st, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            log_stderr_line(st);
        } else if (st->errlen < sizeof st->errline) {
            char ch = data[i];
            st->errline[st->errlen++] = (ch >= 0 && ch < 0x20 && ch != '\t') ? '?' : ch;
        }
    }
}

static void take_stdout(struct exec_state *st, size_t max, const char *data,
                        size_t n, struct run *r)
{
    size_t room = st->out.len < max ? max - st->out.len : 0;
    size_t keep = n < room ? n : room;
    pw_buf_append(&st->out, data, keep);
    r->dropped += n - keep;
}

/* Reads what fd has; returns false at EOF or on an error. */
static bool drain(int fd, struct exec_state *st, size_t max, bool is_stdout,
                  struct run *r)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n > 0) {
            if (is_stdout)
                take_stdout(st, max, chunk, (size_t)n, r);
            else
                take_stderr(st, chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
}

static int spawn(const struct exec_state *st, int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);   /* the agent ignores SIGPIPE */
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawnp(pid, st->argv[0], &fa, &at, st->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Runs the command once, reading its output into st->out, and reaps it. */
static int run_command(const struct exec_config *cf, struct exec_state *st,
                       struct run *r, struct pw_err *err)
{
    int outp[2], errp[2];
    if (pipe2(outp, O_CLOEXEC) < 0)
        return pw_err_set(err, "exec %s: pipe: %m", st->name);
    if (pipe2(errp, O_CLOEXEC) < 0) {
        close(outp[0]);
        close(outp[1]);
        return pw_err_set(err, "exec %s: pipe: %m", st->name);
    }
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    pid_t pid;
    int64_t t0 = pw_mono_ns();
    int rc = spawn(st, outp[1], errp[1], &pid);
    close(outp[1]);
    close(errp[1]);
    if (rc != 0) {
        close(outp[0]);
        close(errp[0]);
        return pw_err_set(err, "exec %s: cannot run %s: %s", st->name, st->argv[0],
                          strerror(rc));
    }
    r->spawned = true;
    st->stats.last_pid = (int)pid;
    size_t max = (size_t)cf->max_output_bytes;
    int64_t deadline = t0 / 1000000 + cf->timeout_ms, kill_at = -1, killed_at = -1;
    int fds[2] = {outp[0], errp[0]};
    bool exited = false;
    int status = 0;
    for (;;) {
        if (!exited) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            exited = w == pid || (w < 0 && errno == ECHILD);
        }
        if (exited && fds[0] < 0 && fds[1] < 0)
            break;
        int64_t now = pw_mono_ms();
        if (!r->timed_out && now >= deadline) {
            r->timed_out = true;
            kill(-pid, SIGTERM);
            kill_at = now + cf->kill_grace_ms;
        }
        if (kill_at >= 0 && now >= kill_at) {
            kill(-pid, SIGKILL);
            kill_at = -1;
            killed_at = now;
        }
        if (killed_at >= 0 && now - killed_at > KILL_WAIT_MS)
            break;     /* something outside the group holds the pipes */
        int64_t next = r->timed_out ? (kill_at >= 0 ? kill_at : now + 100) : deadline;
        /* While the child runs with its pipes closed, look at it often. */
        int wait = (int)min64(next - now, (fds[0] < 0 && fds[1] < 0) ? 10 : 100);
        struct pollfd pf[2];
        nfds_t n = 0;
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                pf[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
        if (poll(pf, n, wait < 0 ? 0 : wait) < 0 && errno != EINTR)
            break;
        for (nfds_t i = 0; i < n; i++) {
            if (!pf[i].revents)
                continue;
            int which = pf[i].fd == fds[0] ? 0 : 1;
            if (!drain(fds[which], st, max, which == 0, r)) {
                close(fds[which]);
                fds[which] = -1;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (!exited) {
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (st->errlen)
        log_stderr_line(st);
    r->duration_ns = pw_mono_ns() - t0;
    if (WIFSIGNALED(status)) {
        r->exit_status = -1;
        r->signal = WTERMSIG(status);
    } else {
        r->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return 0;
}

/* ---- output ------------------------------------------------------------- */

/* Parses stdout into st->batch: whole if it can, else line by line so that
 * one bad line costs only itself. Returns the number of bad lines; *first
 * gets the first error. */
static uint64_t parse_output(struct exec_state *st, int64_t ts_ns,
                             struct pw_err *first)
{
    struct pw_err err;
    const char *buf = st->out.data ? st->out.data : "";
    size_t len = st->out.len;
    pw_lp_batch_reset(st->batch);
    if (pw_lp_parse(buf, len, ts_ns, st->batch, &err) >= 0)
        return 0;
    uint64_t bad = 0;
    int line = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        line++;
        if (pw_lp_parse(buf + at, end - at, ts_ns, st->batch, &err) < 0) {
            /* The parser says "line 1"; name the line of the output. */
            const char *rest = strchr(err.msg, ',');
            if (bad++ == 0)
                pw_err_set(first, "line %d%s", line, rest ? rest : err.msg);
        }
        at = end + 1;
    }
    return bad;
}

static int exec_collect(struct pw_collector *c, int64_t ts_ns,
                        struct pw_lp_writer *out, struct pw_err *err)
{
    const struct exec_config *cf = c->config;
    struct exec_state *st = c->state;
    struct run r = {0};
    pw_buf_reset(&st->out);
    st->out.oom = false;
    st->stats.runs++;
    if (run_command(cf, st, &r, err) < 0) {
        st->stats.failures++;
        return -1;
    }
    /* Output cut at the bound ends at the last whole line. */
    if (r.dropped && st->out.len) {
        const char *nl = memrchr(st->out.data, '\n', st->out.len);
        size_t keep = nl ? (size_t)(nl - st->out.data) + 1 : 0;
        r.dropped += st->out.len - keep;
        pw_buf_truncate(&st->out, keep);
    }
    struct pw_err perr = {{0}};
    uint64_t bad = parse_output(st, ts_ns, &perr);
    uint64_t points = 0;
    for (size_t i = 0; i < pw_lp_batch_len(st->batch); i++)
        if (pw_lp_write_point(out, pw_lp_batch_get(st->batch, i)) == 1)
            points++;
    st->stats.parse_errors += bad;
    st->stats.dropped_bytes += r.dropped;
    st->stats.last_exit_status = r.exit_status;
    bool failed = r.exit_status != 0;
    if (failed)
        st->stats.failures++;
    if (r.timed_out)
        st->stats.overruns++;
    if (bad)
        pw_log_limited(&st->parse_log, LOG_EVERY_MS, PW_WARN,
                       "exec %s: %llu lines of output are not line protocol; %s",
                       st->name, (unsigned long long)bad, perr.msg);
    if (cf->report) {
        pw_lp_begin(out, "exec");
        pw_lp_tag(out, "command", st->name);
        pw_lp_field_int(out, "exit_status", r.exit_status);
        pw_lp_field_float(out, "duration_seconds", (double)r.duration_ns / 1e9);
        pw_lp_field_bool(out, "timed_out", r.timed_out);
        pw_lp_field_int(out, "points", (int64_t)points);
        pw_lp_field_int(out, "parse_errors", (int64_t)bad);
        pw_lp_field_int(out, "dropped_bytes", (int64_t)r.dropped);
        pw_lp_end(out, ts_ns);
    }
    if (out->buf.oom)
        return pw_err_set(err, "exec %s: out of memory while encoding", st->name);
    if (r.timed_out)
        return pw_err_set(err, "exec %s: still running after the %lld ms timeout; "
                          "stopped (%s)", st->name, (long long)cf->timeout_ms,
                          r.signal ? strsignal(r.signal) : "exited on SIGTERM");
    if (r.exit_status < 0)
        return pw_err_set(err, "exec %s: killed by %s", st->name, strsignal(r.signal));
    if (failed)
        return pw_err_set(err, "exec %s: exited with status %d", st->name,
                          r.exit_status);
    if (r.dropped)
        return pw_err_set(err, "exec %s: output larger than max_output_size; "
                          "%llu bytes dropped", st->name, (unsigned long long)r.dropped);
    if (bad)
        return pw_err_set(err, "exec %s: %llu lines of output are not line "
                          "protocol; first: %s", st->name, (unsigned long long)bad,
                          perr.msg);
    return 0;
}

const struct pw_collector_ops pw_exec_collector = {
    .name = "exec",
    .options = exec_options,
    .config_size = sizeof(struct exec_config),
    .start = exec_start,
    .collect = exec_collect,
    .stop = exec_stop,
};
