/* agent/sender.c — spool -> librdkafka, with delivery reports back into the
 * spool. Producer shape from librdkafka's examples/producer.c: produce,
 * rd_kafka_poll() for reports on every loop, QUEUE_FULL is back-pressure. */
#include "agent/sender.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"

struct pw_sender {
    rd_kafka_t *rk;
    struct pw_spool *spool;
    int64_t max_inflight;
    int64_t retry_backoff_ms;
    int64_t cursor;             /* last seq handed to librdkafka */
    int64_t oldest_failed;      /* 0 when no retriable failure is pending */
    int64_t resume_at_ms;       /* monotonic; no produce before this */
    int64_t highest_sent;       /* to count re-sends */
    int event_fd[2];            /* librdkafka writes to [1] when reports wait */
    struct pw_sender_stats st;
    struct pw_log_limiter fail_log, perm_log;
};

/* Errors that re-sending cannot fix. Anything else (timeouts, transport,
 * leader changes, unknown topic while it is being created) may pass. */
static bool is_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return true;
    default:
        return false;
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct pw_sender *s = opaque;
    int64_t seq = (int64_t)(intptr_t)m->_private;
    struct pw_err err;
    s->st.inflight--;
    if (!m->err) {
        s->st.delivered++;
        /* A full spool drops its oldest records, which may be the very
         * ones librdkafka still holds and delivers later: those counted as
         * dropped arrived after all, and are counted as such. */
        int rc = pw_spool_ack(s->spool, seq, &err);
        if (rc < 0)
            pw_log(PW_ERROR, "%s", err.msg);
        else if (rc == 0)
            s->st.delivered_after_drop++;
        return;
    }
    s->st.failed++;
    if (is_permanent(m->err)) {
        pw_log_limited(&s->perm_log, 10000, PW_ERROR,
                       "dropping message %lld for %s: %s (it cannot succeed)",
                       (long long)seq, rd_kafka_topic_name(m->rkt),
                       rd_kafka_err2str(m->err));
        int rc = pw_spool_ack(s->spool, seq, &err);
        if (rc < 0)
            pw_log(PW_ERROR, "%s", err.msg);
        else if (rc > 0)   /* else the spool's bound dropped (and counted) it */
            s->st.dropped_permanent++;
        return;
    }
    pw_log_limited(&s->fail_log, 10000, PW_WARN,
                   "delivery to %s failed (%s); kept in the spool, will retry",
                   rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    if (s->oldest_failed == 0 || seq < s->oldest_failed)
        s->oldest_failed = seq;
}

struct pw_sender *pw_sender_new(const struct pw_kv_list *kafka,
                                struct pw_spool *spool, int64_t max_inflight,
                                int64_t retry_backoff_ms, struct pw_err *err)
{
    struct pw_sender *s = calloc(1, sizeof *s);
    if (!s) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    s->spool = spool;
    s->max_inflight = max_inflight;
    s->retry_backoff_ms = retry_backoff_ms;
    /* librdkafka retries without a deadline, in order, across an outage of
     * any length (the idempotent producer keeps the order); the spool
     * bounds what is kept. A user who sets message.timeout.ms gets the
     * rewind path instead, at the cost described in sender.h. */
    static const char *const defaults[] = {"message.timeout.ms", "0", NULL};
    s->rk = pw_kafka_producer_new(defaults, kafka, on_delivery, s, err);
    if (!s->rk) {
        free(s);
        return NULL;
    }
    if (pipe2(s->event_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        pw_err_set(err, "cannot create a pipe: %s", strerror(errno));
        rd_kafka_destroy(s->rk);
        free(s);
        return NULL;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(s->rk);
    rd_kafka_queue_io_event_enable(q, s->event_fd[1], "r", 1);
    rd_kafka_queue_destroy(q);
    return s;
}

/* After a retriable failure: once every report is in, rewind and pause. */
static void maybe_rewind(struct pw_sender *s)
{
    if (s->oldest_failed == 0 || s->st.inflight > 0)
        return;
    s->cursor = s->oldest_failed - 1;
    s->oldest_failed = 0;
    s->resume_at_ms = pw_mono_ms() + s->retry_backoff_ms;
}

int pw_sender_fd(const struct pw_sender *s) { return s->event_fd[0]; }

int64_t pw_sender_wait_ms(const struct pw_sender *s)
{
    if (s->oldest_failed != 0)
        return -1;   /* waiting for reports, which the fd announces */
    int64_t left = s->resume_at_ms - pw_mono_ms();
    return left > 0 ? left : -1;
}

int pw_sender_pump(struct pw_sender *s, int wait_ms)
{
    char drain[64];
    while (read(s->event_fd[0], drain, sizeof drain) > 0)
        ;
    rd_kafka_poll(s->rk, wait_ms);
    maybe_rewind(s);
    if (s->oldest_failed != 0 || pw_mono_ms() < s->resume_at_ms)
        return 0;
    struct pw_err err;
    while ((int64_t)s->st.inflight < s->max_inflight) {
        struct pw_spool_record r;
        int rc = pw_spool_next(s->spool, s->cursor, &r, &err);
        if (rc < 0) {
            pw_log(PW_ERROR, "%s", err.msg);
            return -1;
        }
        if (rc == 0)
            break;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->rk, RD_KAFKA_V_TOPIC(r.topic),
            RD_KAFKA_V_KEY((void *)r.key, r.key_len),
            RD_KAFKA_V_VALUE((void *)r.value, r.value_len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)(intptr_t)r.seq), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;   /* back-pressure: the spool holds it; try next loop */
        s->cursor = r.seq;
        if (e) {
            s->st.dropped_permanent++;
            pw_log_limited(&s->perm_log, 10000, PW_ERROR,
                           "dropping message %lld for %s: %s", (long long)r.seq,
                           r.topic, rd_kafka_err2str(e));
            if (pw_spool_ack(s->spool, r.seq, &err) < 0)
                pw_log(PW_ERROR, "%s", err.msg);
            continue;
        }
        s->st.produced++;
        s->st.inflight++;
        if (r.seq <= s->highest_sent)
            s->st.resent++;
        else
            s->highest_sent = r.seq;
    }
    return 0;
}

int pw_sender_flush(struct pw_sender *s, int64_t timeout_ms)
{
    int64_t deadline = pw_mono_ms() + timeout_ms;
    /* rd_kafka_flush serves the delivery reports, so acks reach the spool. */
    while (s->st.inflight > 0 && pw_mono_ms() < deadline)
        rd_kafka_flush(s->rk, (int)(deadline - pw_mono_ms() < 100
                                       ? deadline - pw_mono_ms() : 100));
    return (int)s->st.inflight;
}

void pw_sender_stats(const struct pw_sender *s, struct pw_sender_stats *out)
{
    *out = s->st;
}

void pw_sender_free(struct pw_sender *s)
{
    if (!s)
        return;
    /* Take back what librdkafka still holds (it stays in the spool) and
     * serve those reports now, while the spool is known to be alive. */
    rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(s->rk, 0);
    rd_kafka_destroy(s->rk);
    close(s->event_fd[0]);
    close(s->event_fd[1]);
    free(s);
}
