/* agent/agent.h — the agent at run time: collectors on their schedules,
 * samples into the spool as line-protocol messages, the sender draining the
 * spool into Kafka, and the status port.
 *
 * main owns the process (signals, systemd, the command line); this module
 * owns one running configuration and can swap it for another (reload). */
#ifndef PW_AGENT_H
#define PW_AGENT_H

#include <stdint.h>
#include <stdio.h>

#include "agent/config.h"
#include "common/buf.h"
#include "common/err.h"

struct pw_agent;

/* Starts an agent on *cfg, which it takes over (the struct's contents move
 * into the agent; *cfg is zeroed), even on failure. Opens the spool, creates
 * the producer, starts the collectors and the status port. `schema` is
 * borrowed and must outlive the agent. */
struct pw_agent *pw_agent_new(const struct pw_agent_schema *schema,
                              struct pw_agent_config *cfg, struct pw_err *err);

/* One turn of the loop: waits (serving Kafka and the status port) until the
 * next tick or at most max_wait_ms, runs the collectors that are due, and
 * hands spooled messages to Kafka. */
void pw_agent_step(struct pw_agent *a, int max_wait_ms);

/* Applies a new configuration (taken over as in pw_agent_new). If anything
 * in it cannot be started, returns -1 with err set and keeps running the old
 * configuration. */
int pw_agent_reload(struct pw_agent *a, struct pw_agent_config *cfg,
                    struct pw_err *err);

/* Waits up to the configured shutdown_timeout for in-flight messages;
 * returns how many were left (they stay in the spool). */
int pw_agent_flush(struct pw_agent *a);

void pw_agent_free(struct pw_agent *a);   /* NULL is fine */

/* Self-metrics in Prometheus text format. */
void pw_agent_render_metrics(struct pw_buf *out, void *agent);

/* One line for systemd's STATUS=. */
void pw_agent_status_line(const struct pw_agent *a, char *buf, size_t len);

/* The status port bound (0 if none). */
uint16_t pw_agent_status_port(const struct pw_agent *a);

/* --once: runs every enabled collector (twice, a quarter second apart, so
 * that rate-based values such as cpu are there) and writes the second
 * collection as line protocol to `out`. No Kafka, no spool. */
int pw_agent_once(const struct pw_agent_schema *schema,
                  const struct pw_agent_config *cfg, FILE *out,
                  struct pw_err *err);

#endif
