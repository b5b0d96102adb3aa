/* common/log.h — logging to stderr with levels.
 *
 * Lines look like `2026-11-25T10:00:00.123Z warn agent: message`. Under
 * systemd (JOURNAL_STREAM set) the timestamp is left out and a <N> priority
 * prefix is written instead, so the journal records the level. The level and
 * program name are process-wide settings made once by main. */
#ifndef PW_LOG_H
#define PW_LOG_H

#include <stdint.h>

enum pw_log_level { PW_DEBUG, PW_INFO, PW_WARN, PW_ERROR };

void pw_log_init(const char *program, enum pw_log_level level);
void pw_log_set_level(enum pw_log_level level);
enum pw_log_level pw_log_get_level(void);

/* Parses "debug", "info", "warn"/"warning", "error". Returns 0 or -1. */
int pw_log_level_parse(const char *text, enum pw_log_level *out);
const char *pw_log_level_name(enum pw_log_level level);

void pw_log(enum pw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Rate-limited logging for things that can repeat per message: at most one
 * line per interval_ms per limiter; the next line says how many were
 * suppressed. The caller owns the limiter (zero-initialised). */
struct pw_log_limiter {
    int64_t last_ms;
    uint64_t suppressed;
};

void pw_log_limited(struct pw_log_limiter *lim, int64_t interval_ms,
                    enum pw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
