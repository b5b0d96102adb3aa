/* collectors/exec.h — the exec collector: runs a command every interval and
 * sends what it prints on stdout, read as line protocol.
 *
 * Configuration (collectors.exec):
 *
 *   exec:
 *     interval: 30s
 *     command: [/usr/local/bin/airflow-dag-stats, --format, influx]
 *     timeout: 10s
 *
 * The command is an argv list, run without a shell (PATH is searched for
 * the first item). With `shell: true` the items are joined by spaces and run
 * as `/bin/sh -c TEXT`. The command gets /dev/null as stdin, a process group
 * of its own, default signal dispositions and an empty signal mask.
 *
 *  - stdout is parsed as line protocol (common/lineproto.h); a point with no
 *    timestamp gets the tick's. A line that does not parse is counted and
 *    skipped (the others are kept).
 *  - stdout beyond max_output_size is read and dropped, and counted.
 *  - stderr is logged at warn, one line per message, rate-limited.
 *  - a command still running after `timeout` is sent SIGTERM (its whole
 *    process group), then SIGKILL after `kill_grace`; the overrun is
 *    counted and the output read so far is still used. The child is always
 *    reaped: no zombie is left.
 *  - a non-zero exit status or a death by signal is counted and reported
 *    (the collect call returns an error, which the agent logs rate-limited).
 *  - with `report: true` (the default) every run also writes one point
 *    `exec,command=<first item's basename> exit_status=0i,
 *    duration_seconds=0.01,timed_out=false,points=3i,parse_errors=0i,
 *    dropped_bytes=0i` — the run's own figures — so that a failing command
 *    shows in the data and not only in the log. */
#ifndef PW_COLLECTOR_EXEC_H
#define PW_COLLECTOR_EXEC_H

#include <stdint.h>

#include "collectors/collector.h"

extern const struct pw_collector_ops pw_exec_collector;

/* Totals since start, for tests and the status port. */
struct pw_exec_stats {
    uint64_t runs;
    uint64_t failures;          /* non-zero exit, killed, or could not spawn */
    uint64_t overruns;          /* timeouts */
    uint64_t parse_errors;      /* stdout lines that were not line protocol */
    uint64_t dropped_bytes;     /* stdout beyond max_output_size */
    uint64_t stderr_lines;
    int last_exit_status;       /* -1 if it died by a signal */
    int last_pid;
};

/* Fills *out from a started exec collector. */
void pw_exec_get_stats(const struct pw_collector *c, struct pw_exec_stats *out);

#endif
