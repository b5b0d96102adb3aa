/* agent/schedule.h — drift-free periodic ticks for one collector.
 *
 * Ticks fall on wall-clock multiples of the interval plus a fixed offset
 * (the jitter, drawn once), like Telegraf's round_interval: with a 10 s
 * interval every host collects at :00, :10, :20 (+ its offset), so series
 * from a fleet line up. The next tick is the previous tick + interval, never
 * "now + interval", so lateness never accumulates. A tick that is more than
 * one interval late is skipped and counted (the host was suspended, or a
 * collection overran); a wall clock stepped backwards by more than an
 * interval re-aligns the schedule instead of waiting for the old time. */
#ifndef PW_SCHEDULE_H
#define PW_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

struct pw_schedule {
    int64_t interval_ns;
    int64_t offset_ns;      /* in [0, interval) */
    int64_t next_ns;        /* wall-clock time of the next tick */
    uint64_t ticks;
    uint64_t missed;        /* ticks skipped because they were too late */
    uint64_t realigned;     /* clock steps backwards handled */
};

/* Starts the schedule at the first tick strictly after now_ns. jitter_ns is
 * the offset already drawn by the caller (0 for none); it is reduced modulo
 * the interval. interval_ns must be > 0. */
void pw_schedule_init(struct pw_schedule *s, int64_t interval_ns,
                      int64_t jitter_ns, int64_t now_ns);

/* If a tick is due at now_ns, returns true, stores the tick's scheduled time
 * in *tick_ns (the timestamp its samples carry) and advances. */
bool pw_schedule_due(struct pw_schedule *s, int64_t now_ns, int64_t *tick_ns);

/* Nanoseconds from now_ns until the next tick (0 if due). */
int64_t pw_schedule_wait_ns(const struct pw_schedule *s, int64_t now_ns);

#endif
