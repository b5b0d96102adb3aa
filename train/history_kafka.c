/* train/history_kafka.c — history from a Kafka topic (history.h,
 * pw_history_read_kafka).
 *
 * A group-less read of a fixed range: for each partition, from the offset
 * of the first message at or after the start time (offsets for times) to
 * the high watermark seen before reading, so that the read ends even while
 * producers keep writing, and the same command on the same topic reads the
 * same messages. Nothing is committed: retraining must not move the
 * analyzer's group. Messages go through the analyzer's own ingest. */
#include "train/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "analyzer/ingest.h"
#include "common/kafka.h"

struct kctx {
    struct pw_history *h;
    const char *class_tag;
    double since_s;
    long added;
    int rc;
    struct pw_err *err;
    char metric[1024];
};

static void on_sample(const struct pw_sample *s, void *arg)
{
    struct kctx *c = arg;
    double ts = (double)s->ts_ns / 1e9;
    if (c->rc < 0 || ts < c->since_s)
        return;
    int n = snprintf(c->metric, sizeof c->metric, "%.*s.%.*s", (int)s->measurement.len,
                     s->measurement.ptr, (int)s->field.len, s->field.ptr);
    if (n < 0 || (size_t)n >= sizeof c->metric)
        return;   /* a name no model could carry: skipped */
    char cls[256];
    const char *cp = NULL;
    if (c->class_tag) {
        /* "measurement,k=v,... field": find ",TAG=" (names as escaped). */
        size_t tl = strlen(c->class_tag);
        const char *p = s->series.ptr, *end = p + s->series.len;
        for (; p + tl + 2 <= end; p++) {
            if (p[0] == ',' && p[-1] != '\\' && memcmp(p + 1, c->class_tag, tl) == 0 &&
                p[tl + 1] == '=') {
                const char *v = p + tl + 2;
                size_t o = 0;
                while (v < end && *v != ',' && *v != ' ' && o + 1 < sizeof cls) {
                    if (*v == '\\' && v + 1 < end)
                        v++;
                    cls[o++] = *v++;
                }
                cls[o] = '\0';
                cp = o ? cls : NULL;
                break;
            }
        }
    }
    if (pw_history_add_series(c->h, s->entity.ptr, s->entity.len, s->series.ptr,
                              s->series.len, c->metric, (size_t)n, cp, ts, s->value, -1,
                              c->err) < 0)
        c->rc = -1;
    else
        c->added++;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

long pw_history_read_kafka(struct pw_history *h, const struct pw_kafka_source *src,
                           size_t *malformed, struct pw_err *err)
{
    if (malformed)
        *malformed = 0;
    const char *defaults[] = {
        "bootstrap.servers", src->brokers,
        "group.id", "pipewatch-train",
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "enable.partition.eof", "true",
        "log_level", "3",
        NULL,
    };
    rd_kafka_conf_t *conf = pw_kafka_conf_new(defaults, NULL, err);
    if (!conf)
        return -1;
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return pw_err_set(err, "cannot create a Kafka consumer: %s", errstr);
    }
    struct pw_ingest *in = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t *stop = NULL;
    const struct rd_kafka_metadata *md = NULL;
    long rc = -1;
    int timeout = src->timeout_ms > 0 ? src->timeout_ms : 10000;

    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, src->topic, NULL);
    rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout)
                                : rd_kafka_last_error();
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (e) {
        pw_err_set(err, "cannot read the metadata of topic \"%s\" from %s within %d ms: %s "
                   "(are the brokers reachable?)", src->topic, src->brokers, timeout,
                   rd_kafka_err2str(e));
        goto out;
    }
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        pw_err_set(err, "topic \"%s\" on %s: %s", src->topic, src->brokers,
                   md->topic_cnt == 1 && md->topics[0].err
                       ? rd_kafka_err2str(md->topics[0].err) : "no partitions");
        goto out;
    }
    int np = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(np);
    stop = calloc((size_t)np, sizeof *stop);
    if (!parts || !stop) {
        pw_err_set(err, "out of memory");
        goto out;
    }
    double since = now_s() - src->since_s;
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(parts, src->topic, md->topics[0].partitions[i].id)
            ->offset = (int64_t)(since * 1000);
    e = rd_kafka_offsets_for_times(rk, parts, timeout);
    if (e) {
        pw_err_set(err, "topic \"%s\": offsets for time %.0f: %s", src->topic, since,
                   rd_kafka_err2str(e));
        goto out;
    }
    size_t total = 0;
    int active = 0, fallback = 0;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo, hi;
        e = rd_kafka_query_watermark_offsets(rk, src->topic, p->partition, &lo, &hi, timeout);
        if (e || p->err) {
            pw_err_set(err, "topic \"%s\" partition %d: %s", src->topic, p->partition,
                       rd_kafka_err2str(e ? e : p->err));
            goto out;
        }
        /* -1 means no message at or after the time, but librdkafka's mock
         * cluster (the development broker) answers -1 to every lookup by
         * time ("FIXME: by timestamp" in 2.0.2). A partition that holds
         * messages is then read from its start and filtered by the
         * messages' own timestamps below: the same result, more reading. */
        if (p->offset < 0 && hi > lo) {
            p->offset = lo;
            fallback++;
        }
        if (p->offset < 0 || p->offset > hi)
            p->offset = hi;
        if (p->offset < lo)
            p->offset = lo;
        stop[i] = hi;
        total += (size_t)(hi - p->offset);
        if (hi > p->offset)
            active++;
        else
            stop[i] = -1;   /* finished before it starts */
    }
    h->inputs += (size_t)np;
    if (fallback)
        fprintf(stderr, "pipewatch-train: topic \"%s\": the broker found no offset for the "
                "time on %d non-empty partition%s; reading %s from the start and keeping "
                "messages from the time on\n", src->topic, fallback, fallback == 1 ? "" : "s",
                fallback == 1 ? "it" : "them");
    if (!(in = pw_ingest_new(PW_INGEST_AUTO, src->entity_tag, err)))
        goto out;
    if ((e = rd_kafka_assign(rk, parts))) {
        pw_err_set(err, "cannot assign the partitions of \"%s\": %s", src->topic,
                   rd_kafka_err2str(e));
        goto out;
    }
    struct kctx c = {.h = h, .class_tag = src->class_tag, .since_s = since, .err = err};
    size_t done = 0, idle_ms = 0;
    while (active > 0 && c.rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if ((idle_ms += 100) >= (size_t)timeout * 3) {
                pw_err_set(err, "topic \"%s\": nothing read for %zu ms with %d partition%s "
                           "unfinished (are the brokers reachable?)", src->topic, idle_ms,
                           active, active == 1 ? "" : "s");
                goto out_unassign;
            }
            continue;
        }
        idle_ms = 0;
        int idx = -1;
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].partition == m->partition)
                idx = i;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            pw_err_set(err, "topic \"%s\": %s", src->topic, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            goto out_unassign;
        }
        int64_t next = m->err ? m->offset : m->offset + 1;
        if (!m->err && idx >= 0 && stop[idx] >= 0 && m->offset < stop[idx]) {
            rd_kafka_timestamp_type_t tt;
            int64_t mts = rd_kafka_message_timestamp(m, &tt);
            struct pw_err pe;
            if (mts >= 0 && (double)mts / 1e3 < since) {
                /* produced before the time: not in the history */
            } else if (pw_ingest_metrics(in, m->key, m->key_len, m->payload, m->len,
                                  mts > 0 ? mts * 1000000 : 0, on_sample, &c, &pe) < 0) {
                if (malformed)
                    (*malformed)++;
            } else {
                pw_sha256_update(h->hash, m->payload, m->len);
            }
            done++;
            if (src->progress && src->progress(done, total, src->arg)) {
                rd_kafka_message_destroy(m);
                pw_err_set(err, "interrupted");
                goto out_unassign;
            }
        }
        if (idx >= 0 && stop[idx] >= 0 && next >= stop[idx]) {
            stop[idx] = -1;   /* finished */
            active--;
        }
        rd_kafka_message_destroy(m);
    }
    rc = c.rc < 0 ? -1 : c.added;
out_unassign:
    rd_kafka_assign(rk, NULL);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    pw_ingest_free(in);
    free(stop);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
