/* analyzer/analyzer.c — the daemon's Kafka side (see analyzer.h). */
#include "analyzer/analyzer.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "alerting/service.h"
#include "analyzer/alertmap.h"
#include "analyzer/engine.h"
#include "analyzer/ingest.h"
#include "analyzer/inservice.h"
#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"
#include "common/status.h"
#include "models/tagger.h"

#ifndef PW_DATA_DIR
#define PW_DATA_DIR "/usr/share/pipewatch"
#endif

struct counters {
    uint64_t messages, malformed, dead_lettered, oversized;
    uint64_t predictions_produced, delivery_failures;
    uint64_t checkpoints, checkpoint_failures, entities_checkpointed, commits;
    uint64_t restored_entities, restore_errors, rebalances;
    uint64_t bundles_loaded, bundles_refused;
    uint64_t alert_failures;
};

struct pw_analyzer {
    const struct pw_analyzer_config *cfg;
    rd_kafka_t *consumer, *producer, *restorer;
    struct pw_ingest *ingest;
    struct pw_engine *engine;
    struct pw_engine_rule *rules;
    struct pw_logclass *logclass_default;
    struct pw_inservice models;
    bool has_models;
    char models_target[PATH_MAX];
    struct pw_status *status;
    struct pw_alerting *alerting;  /* NULL when alerting is off */
    struct pw_buf scratch;
    int32_t *held;                 /* partition numbers whose state we hold */
    size_t nheld;
    int32_t cur_partition;
    struct counters c;
    struct pw_log_limiter malformed_log, delivery_log;
    int64_t last_tick_ms, last_checkpoint_ms, last_models_ms;
    /* The checkpoint in flight (see checkpoint_start). */
    bool ckpt_pending;
    rd_kafka_topic_partition_list_t *ckpt_positions;
    uint64_t ckpt_failures;
    int64_t ckpt_started_ms;
};

/* ---- Kafka callbacks --------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct pw_analyzer *a = opaque;
    if (a->alerting && pw_alerting_kafka_report(a->alerting, m))
        return;
    if (m->err) {
        a->c.delivery_failures++;
        pw_log_limited(&a->delivery_log, 10000, PW_WARN, "delivery to %s failed: %s",
                       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

static int produce(struct pw_analyzer *a, const char *topic, int32_t partition,
                   const void *key, size_t key_len, const void *value, size_t len)
{
    for (int tries = 0; tries < 100; tries++) {
        rd_kafka_resp_err_t rc = rd_kafka_producev(
            a->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            pw_log_limited(&a->delivery_log, 10000, PW_WARN, "cannot produce to %s: %s",
                           topic, rd_kafka_err2str(rc));
            return -1;
        }
        rd_kafka_poll(a->producer, 100);
    }
    return -1;
}

/* Hands the prediction to alerting, inside the step's batch (committed,
 * durably, before the step ends and so before any checkpoint commits the
 * offsets the prediction came from). */
static void to_alerting(struct pw_analyzer *a, const struct pw_prediction *p)
{
    struct pw_err err = {{0}};
    struct pw_alert alert;
    if (pw_alert_from_prediction(p, a->cfg->alerting.external_url, &alert, &err) < 0 ||
        pw_alerting_begin(a->alerting, &err) < 0 ||
        pw_alerting_put(a->alerting, &alert, &err) < 0) {
        a->c.alert_failures++;
        pw_log_limited(&a->delivery_log, 10000, PW_ERROR, "alerting: %s", err.msg);
    }
    pw_alert_free(&alert);
}

/* Makes the alerts put so far durable (see checkpoint_start). */
static void alerting_commit(struct pw_analyzer *a)
{
    struct pw_err err = {{0}};
    if (a->alerting && pw_alerting_in_batch(a->alerting) &&
        pw_alerting_commit(a->alerting, &err) < 0) {
        a->c.alert_failures++;
        pw_log(PW_ERROR, "alerting: alerts not stored: %s", err.msg);
    }
}

static void on_prediction(const struct pw_prediction *p, void *arg)
{
    struct pw_analyzer *a = arg;
    /* The data's time, not the clock's: a replay or a catch-up after an
     * outage says when in the data the prediction was made. */
    char at[32];
    time_t secs = (time_t)(p->at_ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pw_log(PW_INFO, "prediction %s: %s [rule %s, data time %s, confidence %.2f, %s]",
           p->status == PW_PRED_RESOLVED ? "resolved" : p->update ? "update" : "firing",
           p->summary, p->rule, at, p->confidence, p->fingerprint);
    const char *topic = a->cfg->topics.predictions;
    if (topic && *topic &&
        produce(a, topic, RD_KAFKA_PARTITION_UA, p->entity, strlen(p->entity), p->json,
                strlen(p->json)) == 0)
        a->c.predictions_produced++;
    if (a->alerting)
        to_alerting(a, p);
}

/* ---- checkpoints ------------------------------------------------------- */

/* Checkpoints every changed entity, waits for Kafka to acknowledge them
 * (and the predictions before them), then commits the consumer's
 * positions. Nothing is committed unless all of that succeeded. */
/* Checkpoints run in two halves so that the loop never waits on Kafka:
 * checkpoint_start produces every changed entity and notes the consumer's
 * positions; checkpoint_finish, called from every step, commits those
 * positions once the producer has nothing in flight (the checkpoints and
 * every prediction before them acknowledged). A delivery failure in
 * between abandons the checkpoint: every entity is marked changed again
 * and the positions are not committed, so the next checkpoint retries. A
 * commit is asynchronous: losing one only means re-processing a little
 * more after a crash. On revoke and at close, checkpoint_sync does both
 * halves with a bounded wait. */
static void mark_all_dirty(struct pw_analyzer *a)
{
    struct pw_state *st = pw_engine_state(a->engine);
    for (uint32_t i = 0, n = (uint32_t)pw_state_entities(st); i < n; i++)
        pw_state_entity_at(st, i)->dirty = true;
}

static void checkpoint_abandon(struct pw_analyzer *a, const char *why)
{
    pw_log(PW_WARN, "checkpoint: %s; offsets not committed (the next checkpoint "
           "retries)", why);
    a->c.checkpoint_failures++;
    mark_all_dirty(a);
    if (a->ckpt_positions)
        rd_kafka_topic_partition_list_destroy(a->ckpt_positions);
    a->ckpt_positions = NULL;
    a->ckpt_pending = false;
}

/* An entity's checkpoint larger than this goes in parts (see
 * pw_state_encode_entity_parts), each its own record: Kafka refuses a
 * message over message.max.bytes (1 MB by default, on the producer and on
 * the broker), and an entity with a few thousand series is larger. */
#define CHECKPOINT_PART_BYTES (512 * 1024)

/* Produces the parts of one entity's checkpoint from a->scratch. Part 0 is
 * keyed by the entity's name, as a whole checkpoint is; part k by the name,
 * a NUL byte and k in decimal, a key no entity name can have, so that
 * compaction keeps one record of each part. Parts of an earlier, larger
 * checkpoint that outlive it are older than every part of the newer one,
 * whose parts name every series again (an entity held never forgets one),
 * so a restore, reading in order, ends with the newer state. */
static int produce_parts(struct pw_analyzer *a, const struct pw_entity *e,
                         const size_t *ends, size_t nparts)
{
    size_t name_len = strlen(e->name), from = 0;
    char *key = malloc(name_len + 24);
    if (!key)
        return -1;
    memcpy(key, e->name, name_len);
    for (size_t k = 0; k < nparts; k++) {
        size_t key_len = name_len;
        if (k > 0)
            key_len += 1 + (size_t)snprintf(key + name_len + 1, 23, "%zu", k);
        key[name_len] = '\0';
        if (produce(a, a->cfg->topics.state, e->partition, key, key_len,
                    a->scratch.data + from, ends[k] - from) < 0) {
            free(key);
            return -1;
        }
        from = ends[k];
    }
    free(key);
    return 0;
}

static void checkpoint_start(struct pw_analyzer *a)
{
    if (a->ckpt_pending)
        return;
    /* Alerts put since the step's commit (a tick resolving predictions)
     * are made durable before the positions are taken. An alert that could
     * not be stored must be made again from the same messages after a
     * restart: their offsets are never committed. */
    alerting_commit(a);
    if (a->alerting && (a->c.alert_failures || !pw_alerting_healthy(a->alerting))) {
        checkpoint_abandon(a, "alerts could not be stored durably (see the errors "
                           "above; restart once alerting's disk is healthy)");
        return;
    }
    struct pw_state *st = pw_engine_state(a->engine);
    struct pw_err err;
    a->ckpt_failures = a->c.delivery_failures;
    a->ckpt_started_ms = pw_mono_ms();
    a->ckpt_pending = true;
    size_t n = 0, count = pw_state_entities(st);
    for (uint32_t i = 0; i < count; i++) {
        struct pw_entity *e = pw_state_entity_at(st, i);
        if (!e->dirty)
            continue;
        pw_buf_reset(&a->scratch);
        size_t *ends;
        int nparts = pw_state_encode_entity_parts(st, i, CHECKPOINT_PART_BYTES, &a->scratch,
                                                  &ends, &err);
        if (nparts < 0) {
            checkpoint_abandon(a, err.msg);
            return;
        }
        int queued = produce_parts(a, e, ends, (size_t)nparts);
        free(ends);
        if (queued < 0) {
            checkpoint_abandon(a, "cannot queue an entity's state");
            return;
        }
        e->dirty = false;
        n++;
    }
    a->c.entities_checkpointed += n;
    /* The positions now: every message before them has had its effects
     * queued above (states) or earlier (predictions). */
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(a->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        rd_kafka_position(a->consumer, parts);
        a->ckpt_positions = rd_kafka_topic_partition_list_new(parts->cnt ? parts->cnt : 1);
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset >= 0)
                rd_kafka_topic_partition_list_add(a->ckpt_positions, parts->elems[i].topic,
                                                  parts->elems[i].partition)->offset =
                    parts->elems[i].offset;
        rd_kafka_topic_partition_list_destroy(parts);
    }
}

/* An asynchronous commit's result. */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    struct pw_analyzer *a = opaque;
    if (!err)
        a->c.commits++;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        a->c.checkpoint_failures++;
        pw_log_limited(&a->delivery_log, 10000, PW_WARN, "checkpoint: commit failed: %s",
                       rd_kafka_err2str(err));
    }
}

/* Commits when everything produced is acknowledged. Returns true when no
 * checkpoint is pending any more. */
static bool checkpoint_finish(struct pw_analyzer *a, bool sync)
{
    if (!a->ckpt_pending)
        return true;
    if (a->c.delivery_failures != a->ckpt_failures) {
        checkpoint_abandon(a, "Kafka refused a delivery");
        return true;
    }
    if (rd_kafka_outq_len(a->producer) > 0) {
        if (pw_mono_ms() - a->ckpt_started_ms > a->cfg->checkpoint.interval_ms * 10 + 30000)
            checkpoint_abandon(a, "Kafka did not acknowledge in time");
        return !a->ckpt_pending;
    }
    if (a->ckpt_positions && a->ckpt_positions->cnt > 0) {
        rd_kafka_resp_err_t rc;
        if (sync) {
            rc = rd_kafka_commit(a->consumer, a->ckpt_positions, 0);
            a->c.commits += rc == RD_KAFKA_RESP_ERR_NO_ERROR;
        } else {
            /* The result comes back through the consumer's queue, served
             * by rd_kafka_consumer_poll in the step. */
            rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(a->consumer);
            rc = rd_kafka_commit_queue(a->consumer, a->ckpt_positions, q, on_commit, a);
            rd_kafka_queue_destroy(q);
        }
        if (rc && rc != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            pw_log(PW_WARN, "checkpoint: commit failed: %s", rd_kafka_err2str(rc));
            a->c.checkpoint_failures++;
        }
    }
    if (a->ckpt_positions)
        rd_kafka_topic_partition_list_destroy(a->ckpt_positions);
    a->ckpt_positions = NULL;
    a->ckpt_pending = false;
    a->c.checkpoints++;
    return true;
}

static void checkpoint_sync(struct pw_analyzer *a, int timeout_ms)
{
    if (a->ckpt_pending) {
        rd_kafka_flush(a->producer, timeout_ms);
        checkpoint_finish(a, true);
    }
    checkpoint_start(a);
    rd_kafka_flush(a->producer, timeout_ms);
    if (rd_kafka_outq_len(a->producer) > 0)
        checkpoint_abandon(a, "Kafka did not acknowledge in time");
    else
        checkpoint_finish(a, true);
}


/* Reads partition p of the state topic up to its high watermark into the
 * state. */
static void restore(struct pw_analyzer *a, int32_t p)
{
    const char *topic = a->cfg->topics.state;
    int64_t lo = 0, hi = 0;
    int timeout = (int)a->cfg->checkpoint.restore_timeout_ms;
    rd_kafka_resp_err_t rc =
        rd_kafka_query_watermark_offsets(a->restorer, topic, p, &lo, &hi, timeout);
    if (rc) {
        pw_log(PW_WARN, "restore of partition %d: no state read (%s)", (int)p,
               rd_kafka_err2str(rc));
        a->c.restore_errors++;
        return;
    }
    if (hi <= lo)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = lo;
    rd_kafka_assign(a->restorer, l);
    rd_kafka_topic_partition_list_destroy(l);
    int64_t next = lo, deadline = pw_mono_ms() + timeout;
    size_t restored = 0;
    struct pw_err err;
    while (next < hi && pw_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(a->restorer, 200);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                pw_log(PW_WARN, "restore of partition %d: %s", (int)p,
                       rd_kafka_message_errstr(m));
            else
                next = hi;
        } else if (m->partition == p) {
            next = m->offset + 1;
            if (m->len > 0) {
                if (pw_state_decode_entity(pw_engine_state(a->engine), m->payload, m->len,
                                           p, &err) == PW_NONE) {
                    a->c.restore_errors++;
                    pw_log(PW_WARN, "restore of partition %d, offset %lld: %s", (int)p,
                           (long long)m->offset, err.msg);
                } else {
                    restored++;
                }
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_assign(a->restorer, NULL);
    if (next < hi) {
        pw_log(PW_WARN, "restore of partition %d stopped at offset %lld of %lld "
               "(checkpoint.restore_timeout)", (int)p, (long long)next, (long long)hi);
        a->c.restore_errors++;
    }
    a->c.restored_entities += restored;
    pw_log(PW_INFO, "partition %d: %zu checkpoint records restored", (int)p, restored);
}

static bool in_list(const int32_t *v, size_t n, int32_t p)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == p)
            return true;
    return false;
}

/* The set of partition numbers in parts (any topic). */
static size_t partition_numbers(const rd_kafka_topic_partition_list_t *parts, int32_t *out)
{
    size_t n = 0;
    for (int i = 0; i < parts->cnt; i++)
        if (!in_list(out, n, parts->elems[i].partition))
            out[n++] = parts->elems[i].partition;
    return n;
}

static void take_over(struct pw_analyzer *a, const rd_kafka_topic_partition_list_t *parts,
                      bool incremental)
{
    int32_t *nums = malloc(((size_t)parts->cnt + a->nheld + 1) * sizeof *nums);
    if (!nums)
        return;
    size_t n = partition_numbers(parts, nums);
    if (!incremental)   /* eager: parts is the whole new assignment */
        for (size_t i = 0; i < a->nheld; i++)
            if (!in_list(nums, n, a->held[i])) {
                size_t d = pw_state_drop_partition(pw_engine_state(a->engine), a->held[i]);
                pw_log(PW_INFO, "partition %d left: %zu entities dropped", (int)a->held[i], d);
            }
    for (size_t i = 0; i < n; i++)
        if (!in_list(a->held, a->nheld, nums[i]))
            restore(a, nums[i]);
    if (incremental) {
        for (size_t i = 0; i < a->nheld; i++)
            if (!in_list(nums, n, a->held[i]))
                nums[n++] = a->held[i];
    }
    free(a->held);
    a->held = nums;
    a->nheld = n;
}

static void give_up(struct pw_analyzer *a, const rd_kafka_topic_partition_list_t *parts)
{
    int32_t nums[1024];
    size_t n = parts->cnt <= 1024 ? partition_numbers(parts, nums) : 0;
    for (size_t i = 0; i < n; i++) {
        pw_state_drop_partition(pw_engine_state(a->engine), nums[i]);
        for (size_t j = 0; j < a->nheld; j++)
            if (a->held[j] == nums[i])
                a->held[j--] = a->held[--a->nheld];
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct pw_analyzer *a = opaque;
    bool incremental = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    a->c.rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        pw_log(PW_INFO, "assigned %d partitions", parts->cnt);
        take_over(a, parts, incremental);
        if (incremental)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
    } else {
        pw_log(PW_INFO, "revoking %d partitions: checkpointing first", parts->cnt);
        if (!rd_kafka_assignment_lost(rk))
            checkpoint_sync(a, 10000);
        else if (a->ckpt_pending)
            checkpoint_abandon(a, "the assignment was lost");
        if (incremental) {
            give_up(a, parts);
            rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
        } else {
            rd_kafka_assign(rk, NULL);
        }
    }
}

/* ---- messages ---------------------------------------------------------- */

static void on_sample(const struct pw_sample *s, void *arg)
{
    struct pw_analyzer *a = arg;
    pw_engine_sample(a->engine, s, a->cur_partition);
}

static void malformed(struct pw_analyzer *a, const rd_kafka_message_t *m, const char *why)
{
    a->c.malformed++;
    int show = m->len < 120 ? (int)m->len : 120;
    pw_log_limited(&a->malformed_log, 10000, PW_WARN,
                   "malformed message skipped (%s [%d] offset %lld): %s; it starts "
                   "\"%.*s\"", rd_kafka_topic_name(m->rkt), (int)m->partition,
                   (long long)m->offset, why, show, m->payload ? (const char *)m->payload : "");
    const char *dl = a->cfg->topics.dead_letter;
    if (dl && *dl && produce(a, dl, RD_KAFKA_PARTITION_UA, m->key, m->key_len, m->payload,
                             m->len) == 0)
        a->c.dead_lettered++;
}

static void on_log(const struct pw_log_record *rec, void *arg)
{
    struct pw_analyzer *a = arg;
    pw_engine_log(a->engine, rec, a->cur_partition);
}

static void process(struct pw_analyzer *a, const rd_kafka_message_t *m)
{
    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            pw_log_limited(&a->delivery_log, 10000, PW_WARN, "consumer: %s",
                           rd_kafka_message_errstr(m));
        return;
    }
    a->c.messages++;
    if ((int64_t)m->len > a->cfg->max_message_bytes) {
        a->c.oversized++;
        malformed(a, m, "larger than max_message_bytes");
        return;
    }
    rd_kafka_timestamp_type_t tt;
    int64_t ts_ms = rd_kafka_message_timestamp(m, &tt);
    int64_t def_ns = ts_ms > 0 ? ts_ms * 1000000 : pw_realtime_ns();
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct pw_err err;
    a->cur_partition = m->partition;
    if (strcmp(topic, a->cfg->topics.metrics) == 0) {
        if (pw_ingest_metrics(a->ingest, m->key, m->key_len, m->payload, m->len, def_ns,
                              on_sample, a, &err) < 0)
            malformed(a, m, err.msg);
    } else {
        if (pw_ingest_log(a->ingest, m->key, m->key_len, m->payload, m->len, def_ns,
                          on_log, a, &err) < 0)
            malformed(a, m, err.msg);
    }
}

/* ---- models ------------------------------------------------------------ */

static void check_models(struct pw_analyzer *a, bool forced)
{
    const char *dir = a->cfg->models.dir;
    if (!dir || !*dir)
        return;
    char link[PATH_MAX + 16], target[PATH_MAX];
    snprintf(link, sizeof link, "%s/current", dir);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return;   /* nothing in service yet */
    target[n] = 0;
    if (!forced && strcmp(target, a->models_target) == 0)
        return;
    snprintf(a->models_target, sizeof a->models_target, "%s", target);
    struct pw_inservice next;
    struct pw_err err;
    int rc = pw_inservice_load_dir(dir, &next, &err);
    if (rc == 0 && pw_engine_set_models(a->engine, &next.models, &err) == 0) {
        if (a->has_models)
            pw_inservice_release(&a->models);
        a->models = next;
        a->has_models = true;
        a->c.bundles_loaded++;
        pw_log(PW_INFO, "models in service: bundle %.16s (%s)", next.digest_hex,
               next.trained_on);
        return;
    }
    if (rc == 0)
        pw_inservice_release(&next);
    if (rc != 1) {
        a->c.bundles_refused++;
        pw_log(PW_ERROR, "new bundle refused, the models in service stay: %s", err.msg);
    }
}

void pw_analyzer_reload_models(struct pw_analyzer *a) { check_models(a, true); }

/* ---- status ------------------------------------------------------------ */

static void render(struct pw_buf *o, void *arg)
{
    struct pw_analyzer *a = arg;
    const struct pw_engine_stats *s = pw_engine_stats(a->engine);
    struct pw_state *st = pw_engine_state(a->engine);
    const struct pw_ingest_stats *is = pw_ingest_stats(a->ingest);
#define C(name, help, v)                                                        \
    pw_buf_printf(o, "# HELP pipewatch_analyzer_" name " " help "\n"          \
                     "# TYPE pipewatch_analyzer_" name " counter\n"            \
                     "pipewatch_analyzer_" name " %llu\n", (unsigned long long)(v))
#define G(name, help, fmt, v)                                                   \
    pw_buf_printf(o, "# HELP pipewatch_analyzer_" name " " help "\n"          \
                     "# TYPE pipewatch_analyzer_" name " gauge\n"              \
                     "pipewatch_analyzer_" name " " fmt "\n", v)
    C("messages_total", "Kafka messages consumed.", a->c.messages);
    C("parse_errors_total", "Malformed messages counted and skipped.", a->c.malformed);
    C("dead_lettered_total", "Malformed messages copied to the dead-letter topic.",
      a->c.dead_lettered);
    C("samples_total", "Samples applied.", s->samples);
    C("samples_rejected_total", "Samples the forecast state refused (late, early, "
      "not finite).", s->samples_rejected);
    C("string_fields_skipped_total", "String fields, which are not samples.",
      is->skipped_strings);
    C("log_lines_total", "Log lines tagged.", s->log_lines);
    C("evaluations_total", "Forecast rule evaluations.", s->evaluations);
    C("anomaly_scores_total", "Entities scored by the isolation forest.", s->scored);
    pw_buf_printf(o, "# HELP pipewatch_analyzer_predictions_total Prediction events.\n"
                     "# TYPE pipewatch_analyzer_predictions_total counter\n");
    static const char *kinds[3] = {"forecast_breach", "anomaly", "log_burst"};
    for (int k = 0; k < 3; k++)
        pw_buf_printf(o, "pipewatch_analyzer_predictions_total{kind=\"%s\",status=\"firing\"} %llu\n"
                         "pipewatch_analyzer_predictions_total{kind=\"%s\",status=\"resolved\"} %llu\n",
                      kinds[k], (unsigned long long)s->fired[k], kinds[k],
                      (unsigned long long)s->resolved[k]);
    C("predictions_produced_total", "Prediction records produced to Kafka.",
      a->c.predictions_produced);
    C("delivery_failures_total", "Kafka deliveries that failed.", a->c.delivery_failures);
    C("checkpoints_total", "Checkpoints completed (state acknowledged, offsets committed or their commit requested).",
      a->c.checkpoints);
    C("commits_total", "Offset commits the group coordinator confirmed.", a->c.commits);
    C("checkpoint_failures_total", "Checkpoints that did not complete.",
      a->c.checkpoint_failures);
    C("restored_entities_total", "Entity checkpoints read back on assignment.",
      a->c.restored_entities);
    C("rebalances_total", "Consumer group rebalances.", a->c.rebalances);
    C("bundles_loaded_total", "Model bundles taken into service.", a->c.bundles_loaded);
    C("bundles_refused_total", "Model bundles refused.", a->c.bundles_refused);
    G("entities", "Entities held.", "%zu", pw_state_entities(st));
    G("series", "Series held.", "%zu", pw_state_series_count(st));
    G("watches", "Series watched by forecast rules.", "%zu", pw_state_watches(st));
    G("state_bytes", "Memory of the entity and series state, approximately.", "%zu",
      pw_state_bytes(st));
    G("partitions", "Partition numbers whose state this instance holds.", "%zu", a->nheld);
    int64_t lag = 0;
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(a->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        rd_kafka_position(a->consumer, parts);
        for (int i = 0; i < parts->cnt; i++) {
            int64_t lo, hi;
            if (parts->elems[i].offset >= 0 &&
                rd_kafka_get_watermark_offsets(a->consumer, parts->elems[i].topic,
                                               parts->elems[i].partition, &lo, &hi) == 0 &&
                hi > parts->elems[i].offset)
                lag += hi - parts->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(parts);
    }
    G("consumer_lag", "Messages behind the high watermarks of the assigned partitions.",
      "%lld", (long long)lag);
    C("alert_failures_total", "Predictions that could not be handed to alerting durably.",
      a->c.alert_failures);
#undef C
#undef G
    if (a->alerting)
        pw_alerting_metrics(a->alerting, o);
}

static int api_predictions(const char *method, const char *path, const char *body,
                           size_t len, struct pw_buf *out, const char **type, void *arg)
{
    (void)body;
    (void)len;
    (void)type;
    struct pw_analyzer *a = arg;
    if (strcmp(path, "/api/v1/predictions") != 0) {
        pw_buf_puts(out, "{\"error\":\"not found\"}");
        return 404;
    }
    if (strcmp(method, "GET") != 0) {
        pw_buf_puts(out, "{\"error\":\"method not allowed\"}");
        return 405;
    }
    pw_buf_puts(out, "{\"status\":\"success\",\"data\":");
    pw_engine_active_json(a->engine, out);
    pw_buf_puts(out, "}");
    return 200;
}

/* ---- life cycle -------------------------------------------------------- */

static struct pw_logclass *default_logclass(const char *configured, struct pw_err *err)
{
    if (configured && *configured)
        return pw_tagger_default_model(configured, err);
    const char *candidates[] = {PW_DATA_DIR "/tagger_default.tsv",
#ifdef PW_SOURCE_DIR
                                PW_SOURCE_DIR "/" PW_TAGGER_DEFAULT_TSV,
#endif
                                NULL};
    for (size_t i = 0; candidates[i]; i++)
        if (access(candidates[i], R_OK) == 0)
            return pw_tagger_default_model(candidates[i], err);
    pw_err_set(err, "no default tagger training file (set models.tagger_tsv)");
    return NULL;
}

struct pw_analyzer *pw_analyzer_new(const struct pw_analyzer_config *cfg, struct pw_err *err)
{
    struct pw_analyzer *a = calloc(1, sizeof *a);
    if (!a) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    pw_buf_init(&a->scratch);
    a->models.models.anomaly_threshold = NAN;
    const struct pw_analyzer_rule_config *rc = cfg->rules.items;
    a->rules = calloc(cfg->rules.len ? cfg->rules.len : 1, sizeof *a->rules);
    if (!a->rules) {
        pw_err_set(err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < cfg->rules.len; i++) {
        a->rules[i].name = rc[i].name;
        a->rules[i].severity = rc[i].severity;
        a->rules[i].clear_for_ms = rc[i].clear_for_ms;
        if (pw_rule_parse(rc[i].expr, &a->rules[i].rule, err) < 0) {
            pw_err_prefix(err, "rule %s", rc[i].name);
            goto fail;
        }
    }
    if (!(a->logclass_default = default_logclass(cfg->models.tagger_tsv, err)))
        goto fail;
    enum pw_ingest_format fmt;
    pw_ingest_format_parse(cfg->format, &fmt);
    if (!(a->ingest = pw_ingest_new(fmt, cfg->entity_tag, err)))
        goto fail;
    struct pw_engine_config ec = {
        .rules = a->rules, .nrules = cfg->rules.len,
        .features = (const char *const *)cfg->features.items, .nfeatures = cfg->features.len,
        .eval_interval_ms = cfg->forecast.eval_interval_ms,
        .refresh_ms = cfg->forecast.refresh_ms,
        .trend_capacity = (size_t)cfg->forecast.trend_samples,
    };
    pw_hw_model_default(&ec.default_model, (uint32_t)cfg->forecast.season,
                        (double)cfg->forecast.step_ms / 1000.0, false);
    if (!(a->engine = pw_engine_new(&ec, a->logclass_default, on_prediction, a, err)))
        goto fail;
    check_models(a, true);
    static const char *const consumer_defaults[] = {
        "partition.assignment.strategy", "range",
        "enable.auto.commit", "false",
        NULL,
    };
    if (!(a->producer = pw_kafka_producer_new(NULL, &cfg->kafka, on_delivery, a, err)))
        goto fail;
    if (pw_alerting_enabled(&cfg->alerting) &&
        !(a->alerting = pw_alerting_new(&cfg->alerting, cfg->file, a->producer, err)))
        goto fail;
    if (!(a->consumer = pw_kafka_group_consumer_new(consumer_defaults, &cfg->kafka,
                                                    cfg->group_id, on_rebalance, a, err)))
        goto fail;
    char restore_group[512];
    snprintf(restore_group, sizeof restore_group, "%s.restore", cfg->group_id);
    static const char *const restorer_defaults[] = {
        "enable.auto.commit", "false",
        "enable.partition.eof", "true",
        NULL,
    };
    if (!(a->restorer = pw_kafka_group_consumer_new(restorer_defaults, &cfg->kafka,
                                                    restore_group, NULL, NULL, err)))
        goto fail;
    const char *topics[2] = {cfg->topics.metrics, cfg->topics.logs};
    size_t ntopics = cfg->topics.logs && *cfg->topics.logs ? 2 : 1;
    if (pw_kafka_subscribe(a->consumer, topics, ntopics, err) < 0)
        goto fail;
    if (cfg->status.listen && *cfg->status.listen) {
        if (!(a->status = pw_status_start(cfg->status.listen, render, a, err)) ||
            pw_status_set_token_file(a->status, cfg->status.token_file, err) < 0 ||
            (a->alerting &&
             pw_status_route(a->status, "/api/v2/", pw_alerting_api, a->alerting, err) < 0) ||
            pw_status_route(a->status, "/api/", api_predictions, a, err) < 0)
            goto fail;
        pw_log(PW_INFO, "status port on %s (port %u)", cfg->status.listen,
               (unsigned)pw_status_port(a->status));
    }
    a->last_tick_ms = a->last_checkpoint_ms = a->last_models_ms = pw_mono_ms();
    return a;
fail:
    pw_analyzer_free(a);
    return NULL;
}

void pw_analyzer_step(struct pw_analyzer *a, int max_wait_ms)
{
    int64_t end = pw_mono_ms() + max_wait_ms;
    int wait = max_wait_ms < 100 ? max_wait_ms : 100;
    for (;;) {
        /* Drain what is there, then wait a little for more, serving the
         * status port in between. */
        /* With alerting on, the loop also drives libcurl's transfers: it
         * comes round at least every 10 ms. */
        int first_wait = a->alerting ? (wait < 10 ? wait : 10) : wait;
        for (int i = 0; i < 10000; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(a->consumer, i ? 0 : first_wait);
            if (!m)
                break;
            process(a, m);
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(a->producer, 0);
        if (a->alerting) {
            alerting_commit(a);
            pw_alerting_poll(a->alerting, 0);
        }
        pw_status_run(a->status);
        int64_t now = pw_mono_ms();
        if (now - a->last_tick_ms >= 1000) {
            pw_engine_tick(a->engine, 0);
            a->last_tick_ms = now;
        }
        checkpoint_finish(a, false);
        if (now - a->last_checkpoint_ms >= a->cfg->checkpoint.interval_ms && !a->ckpt_pending) {
            checkpoint_start(a);
            a->last_checkpoint_ms = pw_mono_ms();
        }
        if (now - a->last_models_ms >= a->cfg->models.check_interval_ms) {
            check_models(a, false);
            a->last_models_ms = now;
        }
        if (now >= end)
            return;
    }
}

void pw_analyzer_close(struct pw_analyzer *a)
{
    pw_engine_tick(a->engine, 0);
    alerting_commit(a);
    checkpoint_sync(a, 10000);
    rd_kafka_consumer_close(a->consumer);
    rd_kafka_flush(a->producer, 5000);
}

void pw_analyzer_free(struct pw_analyzer *a)
{
    if (!a)
        return;
    pw_status_stop(a->status);
    if (a->consumer)
        rd_kafka_destroy(a->consumer);
    if (a->restorer) {
        rd_kafka_consumer_close(a->restorer);
        rd_kafka_destroy(a->restorer);
    }
    /* After the flush in pw_analyzer_close: no delivery report may reach
     * a freed deliverer. */
    pw_alerting_free(a->alerting);
    a->alerting = NULL;
    if (a->producer)
        rd_kafka_destroy(a->producer);
    pw_engine_free(a->engine);
    pw_ingest_free(a->ingest);
    if (a->rules)
        for (size_t i = 0; i < a->cfg->rules.len; i++)
            pw_rule_release(&a->rules[i].rule);
    free(a->rules);
    pw_logclass_free(a->logclass_default);
    if (a->has_models)
        pw_inservice_release(&a->models);
    pw_buf_release(&a->scratch);
    if (a->ckpt_positions)
        rd_kafka_topic_partition_list_destroy(a->ckpt_positions);
    free(a->held);
    free(a);
}

struct pw_engine *pw_analyzer_engine(struct pw_analyzer *a) { return a->engine; }

void pw_analyzer_status_line(struct pw_analyzer *a, char *out, size_t size)
{
    const struct pw_engine_stats *s = pw_engine_stats(a->engine);
    struct pw_state *st = pw_engine_state(a->engine);
    snprintf(out, size, "%llu messages (%llu malformed), %llu samples, %llu log lines, "
             "%zu entities, %zu series, %llu predictions, %llu checkpoints",
             (unsigned long long)a->c.messages, (unsigned long long)a->c.malformed,
             (unsigned long long)s->samples, (unsigned long long)s->log_lines,
             pw_state_entities(st), pw_state_series_count(st),
             (unsigned long long)(s->fired[0] + s->fired[1] + s->fired[2]),
             (unsigned long long)a->c.checkpoints);
}
