/* common/log.c — stderr logging. Settings are process-wide because a log
 * line must not need a context pointer threaded through every call; they are
 * written once by main (and on reload), read everywhere. */
#include "common/log.h"
#include "common/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_program = "pipewatch";
static enum pw_log_level log_level = PW_INFO;
static int log_journal = -1;   /* -1 unknown, 0 no, 1 stderr goes to journald */

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const int level_syslog[] = {7, 6, 4, 3};

void pw_log_init(const char *program, enum pw_log_level level)
{
    log_program = program;
    log_level = level;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void pw_log_set_level(enum pw_log_level level) { log_level = level; }
enum pw_log_level pw_log_get_level(void) { return log_level; }

const char *pw_log_level_name(enum pw_log_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

int pw_log_level_parse(const char *text, enum pw_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, level_names[i]) == 0) {
            *out = (enum pw_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = PW_WARN;
        return 0;
    }
    return -1;
}

__attribute__((format(printf, 2, 0)))
static void vlog(enum pw_log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    int n;
    if (log_journal == 1) {
        n = snprintf(line, sizeof line, "<%d>%s: ", level_syslog[level],
                     level_names[level]);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[level], log_program);
    }
    if (n < 0)
        return;
    if ((size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t len = strnlen(line, sizeof line - 2);
    line[len++] = '\n';
    /* One write per line so that concurrent writers do not interleave. */
    fwrite(line, 1, len, stderr);
    fflush(stderr);
}

void pw_log(enum pw_log_level level, const char *fmt, ...)
{
    if (level < log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void pw_log_limited(struct pw_log_limiter *lim, int64_t interval_ms,
                    enum pw_log_level level, const char *fmt, ...)
{
    int64_t now = pw_mono_ms();
    if (lim->last_ms != 0 && now - lim->last_ms < interval_ms) {
        lim->suppressed++;
        return;
    }
    lim->last_ms = now;
    if (lim->suppressed > 0) {
        pw_log(level, "(%llu similar messages suppressed)",
               (unsigned long long)lim->suppressed);
        lim->suppressed = 0;
    }
    if (level < log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}
