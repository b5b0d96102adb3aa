/* agent/agent.c — the agent's loop body and reload.
 *
 * Every collection goes to the spool before anything else happens to it
 * (see spool.h and sender.h): the loop is collect -> spool -> sender, and a
 * crash anywhere loses at most the collection in hand. The loop sleeps in
 * poll() on librdkafka's queue event descriptor and the status port's, so
 * reports and requests are served at once and an idle agent sleeps until
 * its next tick. */
#include "agent/agent.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/schedule.h"
#include "agent/sender.h"
#include "agent/spool.h"
#include "common/clock.h"
#include "common/lineproto.h"
#include "common/log.h"
#include "common/status.h"

struct running_collector {
    struct pw_collector c;
    struct pw_schedule sched;
    bool active;
    uint64_t collections;
    uint64_t errors;
    uint64_t points;
    int64_t cpu_ns;              /* process CPU spent in collect */
    uint64_t log_messages;       /* log collectors: messages spooled */
    int64_t logs_due_ms;         /* log collectors: call collect_logs by then */
    uint64_t missed_before;      /* missed ticks of schedules before a reload */
    struct pw_log_limiter log;
};

struct pw_agent {
    const struct pw_agent_schema *schema;
    struct pw_agent_config *cfg;   /* heap: collectors point into it */
    struct running_collector coll[PW_AGENT_MAX_COLLECTORS];
    struct pw_lp_writer w;
    struct pw_spool *spool;
    struct pw_sender *sender;
    struct pw_status *status;
    uint64_t messages;
    uint64_t spool_errors;
    int64_t started_ns;
    struct pw_log_limiter spool_log;
};

static int64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A fixed per-process offset in [0, jitter): different hosts collect at
 * different moments, one host always at the same one. */
static int64_t draw_jitter_ns(int64_t jitter_ms)
{
    if (jitter_ms <= 0)
        return 0;
    unsigned seed = (unsigned)(pw_realtime_ns() ^ (int64_t)getpid());
    return (int64_t)(rand_r(&seed) % (unsigned)jitter_ms) * 1000000;
}

static void stop_collectors(struct pw_agent *a)
{
    for (size_t i = 0; i < a->schema->ncollectors; i++) {
        struct running_collector *rc = &a->coll[i];
        if (rc->active && rc->c.ops->stop)
            rc->c.ops->stop(&rc->c);
        rc->active = false;
    }
}

/* Starts the enabled collectors of cfg into coll[]; on failure stops the
 * ones it started. */
static int start_collectors(const struct pw_agent_schema *schema,
                            const struct pw_agent_config *cfg,
                            struct running_collector *coll, struct pw_err *err)
{
    int64_t now = pw_realtime_ns();
    for (size_t i = 0; i < schema->ncollectors; i++) {
        struct running_collector *rc = &coll[i];
        memset(rc, 0, sizeof *rc);
        rc->c.ops = pw_collectors[i];
        rc->c.config = pw_agent_collector_config(schema, cfg, i);
        const struct pw_collector_common *common = rc->c.config;
        if (!common->enabled)
            continue;
        if (rc->c.ops->start && rc->c.ops->start(&rc->c, err) < 0) {
            for (size_t j = 0; j < i; j++)
                if (coll[j].active && coll[j].c.ops->stop)
                    coll[j].c.ops->stop(&coll[j].c);
            return -1;
        }
        rc->active = true;
        pw_schedule_init(&rc->sched, common->interval_ms * 1000000,
                         draw_jitter_ns(common->jitter_ms), now);
    }
    return 0;
}

static int start_status(struct pw_agent *a, const char *listen, const char *token_file,
                        struct pw_err *err)
{
    if (!listen || !listen[0])
        return 0;
    a->status = pw_status_start(listen, pw_agent_render_metrics, a, err);
    if (!a->status)
        return -1;
    if (pw_status_set_token_file(a->status, token_file, err) < 0) {
        pw_status_stop(a->status);
        a->status = NULL;
        return -1;
    }
    pw_log(PW_INFO, "status port listening on %s (port %u)", listen,
           (unsigned)pw_status_port(a->status));
    return 0;
}

struct pw_agent *pw_agent_new(const struct pw_agent_schema *schema,
                              struct pw_agent_config *cfg, struct pw_err *err)
{
    struct pw_agent *a = calloc(1, sizeof *a);
    if (!a) {
        pw_agent_config_release(schema, cfg);
        pw_err_set(err, "out of memory");
        return NULL;
    }
    a->schema = schema;
    a->cfg = malloc(sizeof *a->cfg);
    if (!a->cfg) {
        pw_agent_config_release(schema, cfg);
        free(a);
        pw_err_set(err, "out of memory");
        return NULL;
    }
    *a->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    a->started_ns = pw_realtime_ns();
    pw_lp_writer_init(&a->w);
    a->spool = pw_spool_open(a->cfg->spool.path, a->cfg->spool.max_bytes, err);
    if (!a->spool)
        goto fail;
    struct pw_spool_stats ss;
    pw_spool_stats(a->spool, &ss);
    if (ss.records > 0)
        pw_log(PW_INFO, "spool %s holds %llu messages from an earlier run; "
               "replaying them first", a->cfg->spool.path,
               (unsigned long long)ss.records);
    a->sender = pw_sender_new(&a->cfg->kafka, a->spool, a->cfg->spool.max_inflight,
                              a->cfg->spool.retry_backoff_ms, err);
    if (!a->sender)
        goto fail;
    if (start_collectors(schema, a->cfg, a->coll, err) < 0)
        goto fail;
    if (start_status(a, a->cfg->status.listen, a->cfg->status.token_file, err) < 0)
        goto fail;
    return a;
fail:
    pw_agent_free(a);
    return NULL;
}

/* Splits the writer's lines into messages of at most max_message_bytes
 * (a single longer line goes alone) and appends them to the spool. */
static void spool_collection(struct pw_agent *a)
{
    const char *p = a->w.buf.data, *end = p + a->w.buf.len;
    size_t max = (size_t)a->cfg->max_message_bytes;
    struct pw_err err;
    while (p < end) {
        const char *cut = p + pw_lp_next_message(p, (size_t)(end - p), max);
        if (pw_spool_append(a->spool, a->cfg->topics.metrics, a->cfg->entity,
                            strlen(a->cfg->entity), p, (size_t)(cut - p), NULL,
                            &err) < 0) {
            a->spool_errors++;
            pw_log_limited(&a->spool_log, 10000, PW_ERROR, "%s", err.msg);
        } else {
            a->messages++;
        }
        p = cut;
    }
}

static void run_due_collectors(struct pw_agent *a)
{
    int64_t now = pw_realtime_ns();
    for (size_t i = 0; i < a->schema->ncollectors; i++) {
        struct running_collector *rc = &a->coll[i];
        int64_t tick;
        if (!rc->active || !pw_schedule_due(&rc->sched, now, &tick))
            continue;
        pw_lp_writer_reset(&a->w);
        struct pw_err err;
        int64_t cpu0 = process_cpu_ns();
        int rc_collect = rc->c.ops->collect(&rc->c, tick, &a->w, &err);
        rc->cpu_ns += process_cpu_ns() - cpu0;
        rc->collections++;
        if (rc_collect < 0) {
            rc->errors++;
            pw_log_limited(&rc->log, 60000, PW_WARN, "collector %s: %s",
                           rc->c.ops->name, err.msg);
        }
        rc->points += a->w.points;
        if (a->w.points > 0)
            spool_collection(a);
    }
}

static bool logs_paused(const struct pw_agent *a);

static int emit_logs(void *arg, const char *msg, size_t len, struct pw_err *err)
{
    struct pw_agent *a = arg;
    if (logs_paused(a))
        return 1;
    if (pw_spool_append(a->spool, a->cfg->topics.logs, a->cfg->entity,
                        strlen(a->cfg->entity), msg, len, NULL, err) < 0) {
        a->spool_errors++;
        return -1;
    }
    a->messages++;
    return 0;
}

/* Log files are their own durable buffer: while the spool is more than
 * half full (Kafka away or slow), log collectors are not called, so that
 * the spool never has to drop the oldest messages for lines that could
 * just as well wait in their files. */
static bool logs_paused(const struct pw_agent *a)
{
    struct pw_spool_stats ss;
    pw_spool_stats(a->spool, &ss);
    return ss.bytes > (uint64_t)a->cfg->spool.max_bytes / 2;
}

/* Log collectors run when their descriptor says so or when they asked to
 * be called again (an idle record, a rescan); each spooled message is
 * durable before the collector advances its positions. */
static void run_log_collectors(struct pw_agent *a, const bool *readable)
{
    if (logs_paused(a))
        return;
    int64_t now = pw_mono_ms();
    struct pw_log_out out = {
        .entity = a->cfg->entity,
        .max_message_bytes = (size_t)a->cfg->max_message_bytes,
        .emit = emit_logs,
        .arg = a,
    };
    for (size_t i = 0; i < a->schema->ncollectors; i++) {
        struct running_collector *rc = &a->coll[i];
        if (!rc->active || !rc->c.ops->collect_logs || (!readable[i] && now < rc->logs_due_ms))
            continue;
        struct pw_err err;
        int64_t cpu0 = process_cpu_ns();
        uint64_t m0 = a->messages;
        if (rc->c.ops->collect_logs(&rc->c, &out, &err) < 0) {
            rc->errors++;
            pw_log_limited(&rc->log, 10000, PW_WARN, "collector %s: %s",
                           rc->c.ops->name, err.msg);
        }
        rc->cpu_ns += process_cpu_ns() - cpu0;
        rc->log_messages += a->messages - m0;
        /* Held back by a filling spool: called again as soon as it drains. */
        rc->logs_due_ms = logs_paused(a) ? 0 : pw_mono_ms() + rc->c.ops->logs_wait_ms(&rc->c);
    }
}

static int64_t min_wait(int64_t a, int64_t b)
{
    return b >= 0 && b < a ? b : a;
}

static int wait_ms(const struct pw_agent *a, int max_wait_ms)
{
    int64_t now = pw_realtime_ns(), wait = max_wait_ms;
    for (size_t i = 0; i < a->schema->ncollectors; i++)
        if (a->coll[i].active)
            wait = min_wait(wait,
                            (pw_schedule_wait_ns(&a->coll[i].sched, now) + 999999) /
                                1000000);
    int64_t mono = pw_mono_ms();
    bool paused = logs_paused(a);
    for (size_t i = 0; i < a->schema->ncollectors; i++)
        if (a->coll[i].active && a->coll[i].c.ops->collect_logs)
            wait = min_wait(wait, paused ? 100
                                  : a->coll[i].logs_due_ms > mono ? a->coll[i].logs_due_ms - mono
                                                                  : 0);
    wait = min_wait(wait, pw_sender_wait_ms(a->sender));
    if (a->status)
        wait = min_wait(wait, pw_status_timeout_ms(a->status));
    return (int)wait;
}

void pw_agent_step(struct pw_agent *a, int max_wait_ms)
{
    /* Sleep until a tick is due, librdkafka has reports, or the status port
     * has a request: an idle agent wakes only when there is work. A signal
     * interrupts the poll, so SIGTERM and SIGHUP act at once. */
    struct pollfd fds[2 + PW_AGENT_MAX_COLLECTORS] = {
        {.fd = pw_sender_fd(a->sender), .events = POLLIN},
        {.fd = a->status ? pw_status_fd(a->status) : -1, .events = POLLIN}};
    size_t n = a->schema->ncollectors;
    bool paused = logs_paused(a);
    for (size_t i = 0; i < n; i++) {
        struct running_collector *rc = &a->coll[i];
        fds[2 + i] = (struct pollfd){
            .fd = rc->active && rc->c.ops->logs_fd && !paused ? rc->c.ops->logs_fd(&rc->c) : -1,
            .events = POLLIN};
    }
    poll(fds, 2 + n, wait_ms(a, max_wait_ms));
    bool readable[PW_AGENT_MAX_COLLECTORS];
    for (size_t i = 0; i < n; i++)
        readable[i] = fds[2 + i].fd >= 0 && (fds[2 + i].revents & POLLIN);
    pw_sender_pump(a->sender, 0);
    pw_status_run(a->status);
    run_due_collectors(a);
    run_log_collectors(a, readable);
    pw_sender_pump(a->sender, 0);
}

static bool kv_equal(const struct pw_kv_list *x, const struct pw_kv_list *y)
{
    if (x->len != y->len)
        return false;
    for (size_t i = 0; i < x->len; i++)
        if (strcmp(x->items[i].key, y->items[i].key) != 0 ||
            strcmp(x->items[i].value, y->items[i].value) != 0)
            return false;
    return true;
}

static bool str_equal(const char *x, const char *y)
{
    return strcmp(x ? x : "", y ? y : "") == 0;
}

int pw_agent_reload(struct pw_agent *a, struct pw_agent_config *cfg,
                    struct pw_err *err)
{
    struct pw_agent_config *next = malloc(sizeof *next);
    if (!next) {
        pw_agent_config_release(a->schema, cfg);
        return pw_err_set(err, "out of memory");
    }
    *next = *cfg;
    memset(cfg, 0, sizeof *cfg);
    struct pw_spool *spool = a->spool;
    struct pw_sender *sender = a->sender;
    struct pw_status *status = a->status;
    struct running_collector coll[PW_AGENT_MAX_COLLECTORS];
    bool new_spool = !str_equal(next->spool.path, a->cfg->spool.path);
    bool new_sender = new_spool || !kv_equal(&next->kafka, &a->cfg->kafka) ||
                      next->spool.max_inflight != a->cfg->spool.max_inflight ||
                      next->spool.retry_backoff_ms != a->cfg->spool.retry_backoff_ms;
    bool new_status = !str_equal(next->status.listen, a->cfg->status.listen) ||
                      !str_equal(next->status.token_file, a->cfg->status.token_file);

    /* Start everything new first; only then retire the old. */
    if (new_spool && !(spool = pw_spool_open(next->spool.path, next->spool.max_bytes, err)))
        goto fail;
    if (new_sender && !(sender = pw_sender_new(&next->kafka, spool, next->spool.max_inflight,
                                               next->spool.retry_backoff_ms, err)))
        goto fail;
    /* The old log collectors write down their positions first, so that
     * their successors start where they are. */
    for (size_t i = 0; i < a->schema->ncollectors; i++)
        if (a->coll[i].active && a->coll[i].c.ops->checkpoint)
            a->coll[i].c.ops->checkpoint(&a->coll[i].c);
    if (start_collectors(a->schema, next, coll, err) < 0)
        goto fail;
    if (new_status) {
        pw_status_stop(a->status);   /* free the port before binding it again */
        a->status = NULL;
        if (start_status(a, next->status.listen, next->status.token_file, err) < 0) {
            pw_log(PW_WARN, "status port not restarted: %s", err->msg);
        }
        status = a->status;
    }

    if (new_sender) {
        pw_sender_flush(a->sender, 2000);
        pw_sender_free(a->sender);
    }
    if (new_spool) {
        struct pw_spool_stats ss;
        pw_spool_stats(a->spool, &ss);
        if (ss.records > 0)
            pw_log(PW_WARN, "the old spool %s still holds %llu messages; they are "
                   "sent when an agent uses that path again", a->cfg->spool.path,
                   (unsigned long long)ss.records);
        pw_spool_close(a->spool);
    } else if (next->spool.max_bytes != a->cfg->spool.max_bytes &&
               pw_spool_set_max_bytes(spool, next->spool.max_bytes, err) < 0) {
        pw_log(PW_WARN, "%s", err->msg);
    }
    stop_collectors(a);
    /* Counters are counters: they go on across a reload. */
    for (size_t i = 0; i < a->schema->ncollectors; i++) {
        coll[i].collections += a->coll[i].collections;
        coll[i].errors += a->coll[i].errors;
        coll[i].points += a->coll[i].points;
        coll[i].cpu_ns += a->coll[i].cpu_ns;
        coll[i].missed_before += a->coll[i].missed_before + a->coll[i].sched.missed;
    }
    memcpy(a->coll, coll, sizeof coll);
    a->spool = spool;
    a->sender = sender;
    a->status = status;
    pw_agent_config_release(a->schema, a->cfg);
    free(a->cfg);
    a->cfg = next;
    return 0;
fail:
    if (sender != a->sender)
        pw_sender_free(sender);
    if (spool != a->spool)
        pw_spool_close(spool);
    pw_agent_config_release(a->schema, next);
    free(next);
    return -1;
}

int pw_agent_flush(struct pw_agent *a)
{
    return pw_sender_flush(a->sender, a->cfg->shutdown_timeout_ms);
}

void pw_agent_free(struct pw_agent *a)
{
    if (!a)
        return;
    stop_collectors(a);
    pw_status_stop(a->status);
    pw_sender_free(a->sender);
    pw_spool_close(a->spool);
    pw_lp_writer_release(&a->w);
    if (a->cfg)
        pw_agent_config_release(a->schema, a->cfg);
    free(a->cfg);
    free(a);
}

uint16_t pw_agent_status_port(const struct pw_agent *a)
{
    return a->status ? pw_status_port(a->status) : 0;
}

void pw_agent_render_metrics(struct pw_buf *out, void *agent)
{
    struct pw_agent *a = agent;
    struct pw_spool_stats sp;
    struct pw_sender_stats se;
    pw_spool_stats(a->spool, &sp);
    pw_sender_stats(a->sender, &se);
    pw_buf_printf(out,
                  "# HELP pipewatch_agent_start_time_seconds When the agent started.\n"
                  "# TYPE pipewatch_agent_start_time_seconds gauge\n"
                  "pipewatch_agent_start_time_seconds %lld\n",
                  (long long)(a->started_ns / 1000000000));
    static const char *const coll_metrics[][2] = {
        {"collections_total", "Collections run."},
        {"collection_errors_total", "Collections that reported an error."},
        {"points_total", "Points collected."},
        {"collect_cpu_seconds_total", "Process CPU time spent collecting."},
        {"missed_ticks_total", "Ticks skipped because they came too late."},
    };
    for (size_t m = 0; m < 5; m++) {
        pw_buf_printf(out, "# HELP pipewatch_agent_%s %s\n# TYPE pipewatch_agent_%s counter\n",
                      coll_metrics[m][0], coll_metrics[m][1], coll_metrics[m][0]);
        for (size_t i = 0; i < a->schema->ncollectors; i++) {
            const struct running_collector *rc = &a->coll[i];
            if (!rc->active)
                continue;
            if (m == 3)
                pw_buf_printf(out, "pipewatch_agent_%s{collector=\"%s\"} %.6f\n",
                              coll_metrics[m][0], rc->c.ops->name, rc->cpu_ns / 1e9);
            else
                pw_buf_printf(out, "pipewatch_agent_%s{collector=\"%s\"} %llu\n",
                              coll_metrics[m][0], rc->c.ops->name,
                              (unsigned long long)(m == 0   ? rc->collections
                                                   : m == 1 ? rc->errors
                                                   : m == 2 ? rc->points
                                                            : rc->missed_before + rc->sched.missed));
        }
    }
    const struct {
        const char *name, *type, *help;
        unsigned long long v;
    } rows[] = {
        {"messages_total", "counter", "Messages written to the spool.", a->messages},
        {"spool_errors_total", "counter", "Messages the spool refused.", a->spool_errors},
        {"spool_messages", "gauge", "Messages in the spool, not yet acknowledged.", sp.records},
        {"spool_bytes", "gauge", "Payload bytes in the spool.", sp.bytes},
        {"spool_dropped_messages_total", "counter",
         "Messages dropped from a full spool before Kafka acknowledged them.", sp.dropped_records},
        {"spool_dropped_bytes_total", "counter", "Bytes of those messages.", sp.dropped_bytes},
        {"spool_dropped_delivered_total", "counter",
         "Of the messages dropped from a full spool, those librdkafka still held and "
         "Kafka acknowledged after all (lost = dropped - this).", se.delivered_after_drop},
        {"kafka_produced_total", "counter", "Messages handed to librdkafka.", se.produced},
        {"kafka_delivered_total", "counter", "Messages Kafka acknowledged.", se.delivered},
        {"kafka_delivery_failures_total", "counter", "Delivery reports with an error.", se.failed},
        {"kafka_resent_total", "counter", "Messages re-sent after a failed delivery.", se.resent},
        {"kafka_dropped_total", "counter", "Messages dropped for a permanent error.", se.dropped_permanent},
        {"kafka_inflight_messages", "gauge", "Messages librdkafka holds now.", se.inflight},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        pw_buf_printf(out, "# HELP pipewatch_agent_%s %s\n# TYPE pipewatch_agent_%s %s\n"
                      "pipewatch_agent_%s %llu\n",
                      rows[i].name, rows[i].help, rows[i].name, rows[i].type,
                      rows[i].name, rows[i].v);
}

void pw_agent_status_line(const struct pw_agent *a, char *buf, size_t len)
{
    struct pw_spool_stats sp;
    struct pw_sender_stats se;
    pw_spool_stats(a->spool, &sp);
    pw_sender_stats(a->sender, &se);
    uint64_t collections = 0;
    for (size_t i = 0; i < a->schema->ncollectors; i++)
        collections += a->coll[i].collections;
    snprintf(buf, len,
             "%llu collections, %llu messages delivered, %llu in the spool, "
             "%llu dropped",
             (unsigned long long)collections, (unsigned long long)se.delivered, (unsigned long long)sp.records,
             (unsigned long long)(sp.dropped_records - se.delivered_after_drop +
                                  se.dropped_permanent));
}

int pw_agent_once(const struct pw_agent_schema *schema,
                  const struct pw_agent_config *cfg, FILE *out,
                  struct pw_err *err)
{
    struct running_collector coll[PW_AGENT_MAX_COLLECTORS];
    if (start_collectors(schema, cfg, coll, err) < 0)
        return -1;
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1)
            nanosleep(&(struct timespec){0, 250000000}, NULL);
        pw_lp_writer_reset(&w);
        int64_t now = pw_realtime_ns();
        for (size_t i = 0; i < schema->ncollectors; i++) {
            if (!coll[i].active)
                continue;
            if (coll[i].c.ops->collect(&coll[i].c, now, &w, err) < 0) {
                pw_err_prefix(err, "collector %s", coll[i].c.ops->name);
                rc = -1;
                break;
            }
        }
    }
    if (rc == 0 && w.buf.len > 0 && fwrite(w.buf.data, 1, w.buf.len, out) != w.buf.len)
        rc = pw_err_set(err, "cannot write to standard output");
    pw_lp_writer_release(&w);
    for (size_t i = 0; i < schema->ncollectors; i++)
        if (coll[i].active && coll[i].c.ops->stop)
            coll[i].c.ops->stop(&coll[i].c);
    return rc;
}
