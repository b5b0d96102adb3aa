/* agent/schedule.c — see schedule.h for the rules; all arithmetic is in
 * integer nanoseconds so that a year of ticks does not drift by one. */
#include "agent/schedule.h"

static int64_t first_tick_after(int64_t interval, int64_t offset, int64_t now)
{
    /* floor division, correct for negative times too */
    int64_t base = now - offset;
    int64_t q = base / interval;
    if (base % interval != 0 && base < 0)
        q--;
    return (q + 1) * interval + offset;
}

void pw_schedule_init(struct pw_schedule *s, int64_t interval_ns,
                      int64_t jitter_ns, int64_t now_ns)
{
    s->interval_ns = interval_ns;
    s->offset_ns = jitter_ns > 0 ? jitter_ns % interval_ns : 0;
    s->next_ns = first_tick_after(interval_ns, s->offset_ns, now_ns);
    s->ticks = s->missed = s->realigned = 0;
}

bool pw_schedule_due(struct pw_schedule *s, int64_t now_ns, int64_t *tick_ns)
{
    if (now_ns < s->next_ns) {
        if (s->next_ns - now_ns > s->interval_ns) {
            /* The wall clock went back: re-align rather than sleep through
             * the gap. */
            s->next_ns = first_tick_after(s->interval_ns, s->offset_ns, now_ns);
            s->realigned++;
        }
        return false;
    }
    int64_t late = now_ns - s->next_ns;
    if (late >= s->interval_ns) {
        /* Keep the latest tick that has passed; skip the ones before it. */
        int64_t skip = late / s->interval_ns;
        s->missed += (uint64_t)skip;
        s->next_ns += skip * s->interval_ns;
    }
    *tick_ns = s->next_ns;
    s->next_ns += s->interval_ns;
    s->ticks++;
    return true;
}

int64_t pw_schedule_wait_ns(const struct pw_schedule *s, int64_t now_ns)
{
    return now_ns >= s->next_ns ? 0 : s->next_ns - now_ns;
}
