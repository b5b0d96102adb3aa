/* collectors/collector.h — what every collector provides, and all the core
 * knows of one.
 *
 * As in collectd, a collector is one .c file ending in one `const struct
 * pw_collector_ops` and one line in registry.c; adding a collector never
 * touches the agent. Its configuration keys are declared as data (an option
 * table) under `collectors.<name>` and validated by common/config. Its
 * config struct must begin with `struct pw_collector_common` so that the
 * agent can read enabled/interval/jitter without knowing the rest. */
#ifndef PW_COLLECTOR_H
#define PW_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/lineproto.h"

struct pw_collector_common {
    bool enabled;
    int64_t interval_ms;
    int64_t jitter_ms;
};

/* The three common keys, for a collector's option table; `type` is the
 * collector's config struct and `def_interval` its default interval. */
#define PW_COLLECTOR_COMMON_OPTIONS(type, def_enabled, def_interval)           \
    {"enabled", PW_OPT_BOOL, offsetof(type, common.enabled), def_enabled,      \
     false, 0, 0, NULL, "Whether this collector runs."},                       \
    {"interval", PW_OPT_DURATION, offsetof(type, common.interval_ms),          \
     def_interval, false, 100, 86400000.0, NULL,                               \
     "Collection interval; ticks are aligned to multiples of it."},            \
    {"jitter", PW_OPT_DURATION, offsetof(type, common.jitter_ms), "0s",        \
     false, 0, 3600000.0, NULL,                                                \
     "Random delay up to this much added to every tick, fixed per process, "   \
     "so that a fleet does not collect in lockstep."}

struct pw_collector {
    const struct pw_collector_ops *ops;
    const void *config;    /* the collector's config struct; borrowed */
    void *state;           /* owned by the collector: set by start, freed by stop */
};

/* Where a log collector's records go: messages of newline-delimited JSON
 * records {"ts","entity","source","line"} for the logs topic (see
 * analyzer/ingest.h), each at most max_message_bytes unless one record
 * alone is larger. */
struct pw_log_out {
    const char *entity;          /* the agent's entity (borrowed) */
    size_t max_message_bytes;
    /* Takes one message durably (into the agent's spool): 0; 1 when the
     * agent cannot take more now (its spool is filling: back-pressure, not
     * an error); -1 with err set. Unless 0, the collector must read those
     * lines again later. */
    int (*emit)(void *arg, const char *msg, size_t len, struct pw_err *err);
    void *arg;
};

struct pw_collector_ops {
    const char *name;                   /* the key under `collectors:` */
    const struct pw_option *options;    /* NULL-terminated */
    size_t config_size;                 /* sizeof its config struct */
    int (*start)(struct pw_collector *c, struct pw_err *err);
    /* Appends this tick's points, stamped ts_ns, to out. A failure is
     * reported and the tick skipped; the collector stays scheduled. */
    int (*collect)(struct pw_collector *c, int64_t ts_ns,
                   struct pw_lp_writer *out, struct pw_err *err);
    void (*stop)(struct pw_collector *c);

    /* Optional: checks what the option table cannot say (a pattern's
     * syntax) right after loading, so that --check-config reports it;
     * `file` names the configuration in the error (FILE:LINE: key: ...). */
    int (*check)(const void *config, const char *file, struct pw_err *err);

    /* Log collectors only (NULL for the others), driven by events rather
     * than ticks. logs_fd: a descriptor that becomes readable when there
     * may be something new (or -1). logs_wait_ms: how long the agent may
     * wait before calling collect_logs again without an event (0: at once,
     * there is more). collect_logs: ships what is new through out; 0, or
     * -1 with err (what was not taken is shipped on a later call). */
    int (*logs_fd)(struct pw_collector *c);
    int64_t (*logs_wait_ms)(struct pw_collector *c);
    int (*collect_logs)(struct pw_collector *c, const struct pw_log_out *out,
                        struct pw_err *err);
    /* Optional: writes down what it must remember (read positions) now,
     * before a reload starts its successor. */
    void (*checkpoint)(struct pw_collector *c);
};

/* The registry: every collector, NULL-terminated. */
extern const struct pw_collector_ops *const pw_collectors[];

const struct pw_collector_ops *pw_collector_find(const char *name);

#endif
