/* collectors/kafka_lag.c — consumer group lag, per group, topic and partition.
 *
 * Why it is built this way:
 * - Committed offsets come from the OffsetFetch admin call
 *   (rd_kafka_ListConsumerGroupOffsets, in librdkafka since 2.0), so the
 *   collector never joins a group and never triggers a rebalance. High
 *   watermarks come from rd_kafka_query_watermark_offsets, asked after the
 *   committed offsets so that a lag is never negative for lack of ordering.
 * - The partitions asked for are every partition of every topic in the
 *   cluster's metadata (internal `__` topics left out), or of `topics` when
 *   set. Kafka can answer "every partition the group committed" to a null
 *   list, but librdkafka 2.0.2's mock cluster cannot; asking for the full
 *   list works on both, and it shows the partitions of a consumed topic that
 *   have no commit at all, which a null list would hide.
 * - A topic is reported for a group when the group committed at least one of
 *   its partitions, or when the topic is named in `topics`. A partition
 *   without a commit is reported without committed_offset and with
 *   lag = high watermark - low watermark: everything still retained, which
 *   is what a consumer starting from the earliest offset would have to read
 *   (kafka-consumer-groups prints "-" there; a number can be alerted on).
 *   A committed offset beyond the high watermark (a truncated or re-created
 *   topic) reads as lag 0.
 * - lag_rate is the change of lag per second since the previous tick (the
 *   tick timestamps, not the wall clock of the call), absent on the first.
 * - Status, after Burrow's rules, on the last `status_window` ticks of
 *   each partition (fewer observations: ok):
 *     stalled  the committed offset did not move in the window and the lag
 *              was above 0 throughout: the consumer stopped while data
 *              waits, whether more keeps coming (lag growing) or not (lag
 *              flat). A partition without any commit is stalled only when
 *              its backlog grows (nobody consumes while data arrives); a
 *              flat one may just be a consumer reading from the latest
 *              offset. The window must be longer than the group's commit
 *              interval, or a consumer between commits reads as stalled;
 *     lagging  the committed offset moved, the lag was above 0 throughout,
 *              never fell from one tick to the next and is higher at the end
 *              (a consumer that works but cannot keep up);
 *     ok       anything else, including a lag that fell at some tick.
 *   A group's status is its worst partition's.
 * - all_groups: when the cluster answers ListGroups with "unsupported" (as
 *   the development broker does), it is not asked again by this process;
 *   every tick then reports the error and watches `groups` only.
 * - Every blocking call of a tick shares one budget (`timeout`), so a dead
 *   or slow cluster costs the agent's loop at most that long: the tick is
 *   reported and skipped. Admin replies carry a request number; a late reply
 *   to a request that timed out is dropped by the next tick.
 * - History is a flat array sorted by (group, topic, partition), searched
 *   with bsearch and re-sorted once per tick when partitions appear; entries
 *   of partitions that disappeared are pruned after a tick with no error. */
#include "collectors/kafka_lag.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/log.h"

#define MAX_WINDOW 32

struct lag_config {
    struct pw_collector_common common;
    struct pw_str_list brokers;
    struct pw_kv_list kafka;
    struct pw_str_list groups;
    bool all_groups;
    struct pw_str_list topics;
    int64_t timeout_ms;
    int64_t status_window;
};

static const struct pw_option lag_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct lag_config, "false", "30s"),
    {"brokers", PW_OPT_STRING_LIST, offsetof(struct lag_config, brokers), NULL,
     false, 0, 0, NULL,
     "Bootstrap servers (host:port) of the cluster whose consumer groups are "
     "watched; may instead be given as kafka.bootstrap.servers."},
    {"kafka", PW_OPT_MAP, offsetof(struct lag_config, kafka), NULL, false, 0, 0,
     NULL, "librdkafka properties for this collector's client, passed through "
           "(TLS and SASL go here); they override brokers."},
    {"groups", PW_OPT_STRING_LIST, offsetof(struct lag_config, groups), NULL,
     false, 0, 0, NULL, "Consumer groups to watch (group ids)."},
    {"all_groups", PW_OPT_BOOL, offsetof(struct lag_config, all_groups), "false",
     false, 0, 0, NULL,
     "Also watch every group the cluster lists (ListGroups; needs Kafka 0.9 or "
     "later, not offered by the development broker)."},
    {"topics", PW_OPT_STRING_LIST, offsetof(struct lag_config, topics), NULL,
     false, 0, 0, NULL,
     "Only these topics, each reported for every group even without commits; "
     "empty: every topic a group committed on."},
    {"timeout", PW_OPT_DURATION, offsetof(struct lag_config, timeout_ms), "5s",
     false, 100, 60000,
     NULL, "Time budget of one tick for all requests together; a cluster "
           "that does not answer within it makes the tick fail and be skipped."},
    {"status_window", PW_OPT_INT, offsetof(struct lag_config, status_window), "5",
     false, 2, MAX_WINDOW, NULL,
     "Ticks looked at for a group's status (ok, lagging, stalled)."},
    {0},
};

enum status { STATUS_OK, STATUS_LAGGING, STATUS_STALLED };
static const char *const status_names[] = {"ok", "lagging", "stalled"};

/* History of one (group, topic, partition); newest observation last. */
struct part_state {
    char *group, *topic;           /* owned */
    int32_t partition;
    bool seen;                     /* observed in the current tick */
    int n;                         /* observations held, at most the window */
    int64_t last_ts_ns;
    int64_t committed[MAX_WINDOW]; /* -1: no commit */
    int64_t lag[MAX_WINDOW];
};

struct part_array {
    struct part_state *v;
    size_t len, cap;
};

struct lag_state {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;          /* admin replies */
    uintptr_t seq;                /* number of the last admin request */
    struct part_array hist;       /* sorted */
    struct part_array fresh;      /* new this tick; merged into hist at the end */
    bool no_list_groups;          /* the cluster answered ListGroups with
                                     "unsupported": not asked again */
    struct pw_log_limiter log;
};

/* One topic of the tick's metadata. Names are borrowed from the metadata. */
struct topic_info {
    const char *name;
    int32_t nslots;               /* highest partition id + 1 */
    int64_t *low, *high;          /* per partition id; -1 until queried */
    bool listed;                  /* named in `topics` */
};

struct tick {
    const struct rd_kafka_metadata *md;
    struct topic_info *topics;    /* sorted by name */
    size_t ntopics;
    char **groups;                /* owned, sorted, unique */
    size_t ngroups;
    int64_t deadline_ms;          /* monotonic */
    int64_t ts_ns;
};

/* Return codes below 0: SKIP = this item failed (err says why), the tick
 * goes on; FATAL = the budget is spent or the cluster is gone. */
enum { SKIP = -1, FATAL = -2 };

static int64_t remaining_ms(const struct tick *t)
{
    int64_t r = t->deadline_ms - pw_mono_ms();
    return r > 0 ? r : 0;
}

static bool fatal_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
           e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
           e == RD_KAFKA_RESP_ERR__DESTROY;
}

/* ---- configuration and handles ---------------------------------------- */

static char *join_brokers(const struct pw_str_list *l)
{
    size_t len = 1;
    for (size_t i = 0; i < l->len; i++)
        len += strlen(l->items[i]) + 1;
    char *s = malloc(len), *p = s;
    if (!s)
        return NULL;
    *p = '\0';
    for (size_t i = 0; i < l->len; i++)
        p += sprintf(p, "%s%s", i ? "," : "", l->items[i]);
    return s;
}

static bool has_key(const struct pw_kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return true;
    return false;
}

static void lag_stop(struct pw_collector *c)
{
    struct lag_state *st = c->state;
    if (!st)
        return;
    if (st->q)
        rd_kafka_queue_destroy(st->q);
    if (st->rk)
        rd_kafka_destroy(st->rk);
    for (size_t i = 0; i < st->hist.len; i++) {
        free(st->hist.v[i].group);
        free(st->hist.v[i].topic);
    }
    free(st->hist.v);
    free(st->fresh.v);
    free(st);
    c->state = NULL;
}

static int lag_start(struct pw_collector *c, struct pw_err *err)
{
    const struct lag_config *cf = c->config;
    if (cf->brokers.len == 0 && !has_key(&cf->kafka, "bootstrap.servers"))
        return pw_err_set(err, "kafka_lag: no cluster given: set "
                               "collectors.kafka_lag.brokers");
    if (cf->groups.len == 0 && !cf->all_groups)
        return pw_err_set(err, "kafka_lag: no group to watch: set "
                               "collectors.kafka_lag.groups or all_groups");
    struct lag_state *st = calloc(1, sizeof *st);
    char *brokers = join_brokers(&cf->brokers);
    if (!st || !brokers) {
        free(st);
        free(brokers);
        return pw_err_set(err, "kafka_lag: out of memory");
    }
    c->state = st;
    const char *defaults[] = {
        "client.id", "pipewatch-lag",
        cf->brokers.len ? "bootstrap.servers" : NULL, brokers,
        NULL,
    };
    rd_kafka_conf_t *conf = pw_kafka_conf_new(defaults, &cf->kafka, err);
    free(brokers);
    if (!conf) {
        lag_stop(c);
        return pw_err_prefix(err, "kafka_lag");
    }
    /* A producer handle that never produces: the lightest client type that
     * serves admin calls and watermark queries, with no group of its own. */
    char errstr[512];
    st->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!st->rk) {
        rd_kafka_conf_destroy(conf);
        lag_stop(c);
        return pw_err_set(err, "kafka_lag: cannot create a Kafka client: %s", errstr);
    }
    st->q = rd_kafka_queue_new(st->rk);
    return 0;
}

/* ---- admin calls ---------------------------------------------------------- */

static rd_kafka_AdminOptions_t *admin_options(struct lag_state *st,
                                              rd_kafka_admin_op_t op,
                                              const struct tick *t)
{
    rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(st->rk, op);
    char errstr[256];
    int64_t ms = remaining_ms(t);
    rd_kafka_AdminOptions_set_request_timeout(o, ms > 1 ? (int)ms : 1, errstr,
                                              sizeof errstr);
    rd_kafka_AdminOptions_set_opaque(o, (void *)++st->seq);
    return o;
}

/* Waits for the reply to request st->seq; drops late replies to earlier
 * requests. NULL when the budget ran out. */
static rd_kafka_event_t *await_reply(struct lag_state *st, const struct tick *t)
{
    for (;;) {
        int64_t ms = remaining_ms(t);
        if (ms <= 0)
            return NULL;
        rd_kafka_event_t *ev = rd_kafka_queue_poll(st->q, (int)ms);
        if (!ev)
            continue;
        if ((uintptr_t)rd_kafka_event_opaque(ev) == st->seq)
            return ev;
        rd_kafka_event_destroy(ev);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_group(struct tick *t, size_t *cap, const char *name)
{
    if (t->ngroups == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **g = realloc(t->groups, ncap * sizeof *g);
        if (!g)
            return -1;
        t->groups = g;
        *cap = ncap;
    }
    if (!(t->groups[t->ngroups] = strdup(name)))
        return -1;
    t->ngroups++;
    return 0;
}

static void sort_unique(struct tick *t)
{
    qsort(t->groups, t->ngroups, sizeof *t->groups, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < t->ngroups; i++) {
        if (k > 0 && strcmp(t->groups[k - 1], t->groups[i]) == 0)
            free(t->groups[i]);
        else
            t->groups[k++] = t->groups[i];
    }
    t->ngroups = k;
}

/* Adds every group the cluster lists. SKIP when some brokers did not
 * answer (what was listed is kept), FATAL when nothing came back. */
static int list_groups(struct lag_state *st, const struct lag_config *cf,
                       struct tick *t, size_t *cap, struct pw_err *err)
{
    if (st->no_list_groups)
        return pw_err_set(err, "kafka_lag: all_groups: the cluster does not "
                               "support listing groups; only `groups` are "
                               "watched"), t->ngroups == 0 ? FATAL : SKIP;
    rd_kafka_AdminOptions_t *o =
        admin_options(st, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, t);
    rd_kafka_ListConsumerGroups(st->rk, o, st->q);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_event_t *ev = await_reply(st, t);
    if (!ev)
        return pw_err_set(err, "kafka_lag: the cluster did not list its groups "
                               "within %lld ms; tick skipped",
                          (long long)cf->timeout_ms), FATAL;
    int rc = 0;
    if (rd_kafka_event_error(ev)) {
        rc = pw_err_set(err, "kafka_lag: listing groups failed: %s",
                        rd_kafka_event_error_string(ev));
    } else {
        const rd_kafka_ListConsumerGroups_result_t *res =
            rd_kafka_event_ListConsumerGroups_result(ev);
        size_t nvalid = 0, nerr = 0;
        const rd_kafka_ConsumerGroupListing_t **valid =
            rd_kafka_ListConsumerGroups_result_valid(res, &nvalid);
        const rd_kafka_error_t **errs =
            rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
        for (size_t i = 0; i < nvalid && rc == 0; i++)
            if (add_group(t, cap, rd_kafka_ConsumerGroupListing_group_id(valid[i])) < 0)
                rc = pw_err_set(err, "kafka_lag: out of memory");
        if (rc == 0 && nerr > 0) {
            rc = pw_err_set(err, "kafka_lag: listing groups failed on %zu "
                                 "broker(s): %s", nerr,
                            rd_kafka_error_string(errs[0]));
            /* Asking again would not help, and librdkafka 2.0.2 leaks a
             * little on every such answer. */
            if (nvalid == 0 &&
                rd_kafka_error_code(errs[0]) == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
                st->no_list_groups = true;
        }
    }
    rd_kafka_event_destroy(ev);
    return rc < 0 ? (t->ngroups == 0 ? FATAL : SKIP) : 0;
}

/* The configured groups plus, with all_groups, every group listed; sorted,
 * each once. */
static int load_groups(struct lag_state *st, const struct lag_config *cf,
                       struct tick *t, struct pw_err *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < cf->groups.len; i++)
        if (add_group(t, &cap, cf->groups.items[i]) < 0)
            return pw_err_set(err, "kafka_lag: out of memory"), FATAL;
    int rc = cf->all_groups ? list_groups(st, cf, t, &cap, err) : 0;
    sort_unique(t);
    return rc;
}

static bool listed(const struct pw_str_list *l, const char *name)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i], name) == 0)
            return true;
    return false;
}

static int cmp_topic(const void *a, const void *b)
{
    return strcmp(((const struct topic_info *)a)->name,
                  ((const struct topic_info *)b)->name);
}

/* The topics to ask about, from the cluster's metadata, sorted by name. */
static int load_topics(struct lag_state *st, const struct lag_config *cf,
                       struct tick *t, struct pw_err *err)
{
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(st->rk, 1, NULL, &t->md, (int)remaining_ms(t));
    if (e) {
        t->md = NULL;
        return pw_err_set(err, "kafka_lag: no metadata from the cluster within "
                               "%lld ms: %s; tick skipped",
                          (long long)cf->timeout_ms, rd_kafka_err2str(e)), FATAL;
    }
    t->topics = calloc((size_t)t->md->topic_cnt + 1, sizeof *t->topics);
    if (!t->topics)
        return pw_err_set(err, "kafka_lag: out of memory"), FATAL;
    for (int i = 0; i < t->md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *mt = &t->md->topics[i];
        bool named = listed(&cf->topics, mt->topic);
        if (mt->err || mt->partition_cnt <= 0 ||
            (cf->topics.len > 0 && !named) ||
            (!named && strncmp(mt->topic, "__", 2) == 0))
            continue;
        int32_t nslots = 0;
        for (int p = 0; p < mt->partition_cnt; p++)
            if (mt->partitions[p].id >= nslots)
                nslots = mt->partitions[p].id + 1;
        struct topic_info *ti = &t->topics[t->ntopics];
        ti->name = mt->topic;
        ti->nslots = nslots;
        ti->listed = named;
        ti->low = malloc((size_t)nslots * sizeof *ti->low);
        ti->high = malloc((size_t)nslots * sizeof *ti->high);
        t->ntopics++;
        if (!ti->low || !ti->high)
            return pw_err_set(err, "kafka_lag: out of memory"), FATAL;
        for (int32_t p = 0; p < nslots; p++)
            ti->low[p] = ti->high[p] = -1;
    }
    qsort(t->topics, t->ntopics, sizeof *t->topics, cmp_topic);
    for (size_t i = 0; i < cf->topics.len; i++) {
        struct topic_info key = {.name = cf->topics.items[i]};
        if (!bsearch(&key, t->topics, t->ntopics, sizeof key, cmp_topic))
            pw_log_limited(&st->log, 60000, PW_WARN,
                           "kafka_lag: topic %s is not in the cluster",
                           cf->topics.items[i]);
    }
    return 0;
}

static void tick_release(struct tick *t)
{
    for (size_t i = 0; i < t->ntopics; i++) {
        free(t->topics[i].low);
        free(t->topics[i].high);
    }
    free(t->topics);
    if (t->md)
        rd_kafka_metadata_destroy(t->md);
    for (size_t i = 0; i < t->ngroups; i++)
        free(t->groups[i]);
    free(t->groups);
}

/* The group's committed offsets for every partition of the tick's topics,
 * sorted by topic and partition; offset < 0: no commit. */
static int fetch_committed(struct lag_state *st, const struct tick *t,
                           const char *group,
                           rd_kafka_topic_partition_list_t **out,
                           struct pw_err *err)
{
    rd_kafka_topic_partition_list_t *req = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < t->ntopics; i++)
        for (int32_t p = 0; p < t->topics[i].nslots; p++)
            rd_kafka_topic_partition_list_add(req, t->topics[i].name, p);
    rd_kafka_ListConsumerGroupOffsets_t *lo =
        rd_kafka_ListConsumerGroupOffsets_new(group, req);
    rd_kafka_topic_partition_list_destroy(req);
    rd_kafka_AdminOptions_t *o =
        admin_options(st, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, t);
    rd_kafka_ListConsumerGroupOffsets(st->rk, &lo, 1, o, st->q);
    rd_kafka_ListConsumerGroupOffsets_destroy(lo);
    rd_kafka_AdminOptions_destroy(o);

    rd_kafka_event_t *ev = await_reply(st, t);
    if (!ev)
        return pw_err_set(err, "kafka_lag: group %s: no committed offsets within "
                               "the tick's budget; tick skipped", group), FATAL;
    int rc = 0;
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    if (e) {
        rc = pw_err_set(err, "kafka_lag: group %s: %s", group,
                        rd_kafka_event_error_string(ev));
        rc = fatal_error(e) ? FATAL : SKIP;
    } else {
        size_t n = 0;
        const rd_kafka_group_result_t **g = rd_kafka_ListConsumerGroupOffsets_result_groups(
            rd_kafka_event_ListConsumerGroupOffsets_result(ev), &n);
        const rd_kafka_error_t *ge = n == 1 ? rd_kafka_group_result_error(g[0]) : NULL;
        const rd_kafka_topic_partition_list_t *parts =
            n == 1 ? rd_kafka_group_result_partitions(g[0]) : NULL;
        if (n != 1 || ge || !parts) {
            rc = pw_err_set(err, "kafka_lag: group %s: %s", group,
                            ge ? rd_kafka_error_string(ge) : "no result");
            rc = ge && fatal_error(rd_kafka_error_code(ge)) ? FATAL : SKIP;
        } else {
            *out = rd_kafka_topic_partition_list_copy(parts);
            rd_kafka_topic_partition_list_sort(*out, NULL, NULL);
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* Low and high watermark of one partition, asked once per tick. */
static int watermarks(struct lag_state *st, const struct tick *t,
                      struct topic_info *ti, int32_t p, struct pw_err *err)
{
    if (ti->high[p] >= 0)
        return 0;
    int64_t ms = remaining_ms(t);
    if (ms <= 0)
        return pw_err_set(err, "kafka_lag: the %s watermarks did not come within "
                               "the tick's budget; tick skipped", ti->name), FATAL;
    int64_t lo = -1, hi = -1;
    rd_kafka_resp_err_t e =
        rd_kafka_query_watermark_offsets(st->rk, ti->name, p, &lo, &hi, (int)ms);
    if (e) {
        pw_err_set(err, "kafka_lag: watermarks of %s[%d]: %s", ti->name, (int)p,
                   rd_kafka_err2str(e));
        return fatal_error(e) ? FATAL : SKIP;
    }
    ti->low[p] = lo;
    ti->high[p] = hi;
    return 0;
}

/* ---- history and status ---------------------------------------------------- */

static int cmp_key(const char *g, const char *t, int32_t p,
                   const struct part_state *s)
{
    int c = strcmp(g, s->group);
    if (!c)
        c = strcmp(t, s->topic);
    if (!c)
        c = p < s->partition ? -1 : p > s->partition;
    return c;
}

static int cmp_state(const void *a, const void *b)
{
    const struct part_state *x = a;
    return cmp_key(x->group, x->topic, x->partition, b);
}

/* The history of (g, t, p): found in hist, or a new entry in fresh. NULL
 * when out of memory. The pointer is valid until the tick ends. */
static struct part_state *history(struct lag_state *st, const char *g,
                                  const char *t, int32_t p)
{
    size_t lo = 0, hi = st->hist.len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(g, t, p, &st->hist.v[mid]);
        if (c == 0)
            return &st->hist.v[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    struct part_array *f = &st->fresh;
    if (f->len == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 64;
        struct part_state *v = realloc(f->v, ncap * sizeof *v);
        if (!v)
            return NULL;
        f->v = v;
        f->cap = ncap;
    }
    struct part_state *s = &f->v[f->len];
    memset(s, 0, sizeof *s);
    s->group = strdup(g);
    s->topic = strdup(t);
    s->partition = p;
    if (!s->group || !s->topic) {
        free(s->group);
        free(s->topic);
        return NULL;
    }
    f->len++;
    return s;
}

static void observe(struct part_state *s, int window, int64_t committed, int64_t lag,
                    int64_t ts_ns)
{
    if (s->n >= window) {
        int drop = s->n - window + 1;
        memmove(s->committed, s->committed + drop,
                (size_t)(s->n - drop) * sizeof *s->committed);
        memmove(s->lag, s->lag + drop, (size_t)(s->n - drop) * sizeof *s->lag);
        s->n -= drop;
    }
    s->committed[s->n] = committed;
    s->lag[s->n] = lag;
    s->n++;
    s->last_ts_ns = ts_ns;
    s->seen = true;
}

/* The rule in the comment at the top of the file. */
static enum status partition_status(const struct part_state *s, int window)
{
    if (s->n < window)
        return STATUS_OK;
    const int64_t *c = s->committed + s->n - window, *l = s->lag + s->n - window;
    bool moved = false, never_fell = true;
    for (int i = 0; i < window; i++) {
        if (l[i] <= 0)
            return STATUS_OK;
        if (i > 0) {
            moved |= c[i] != c[0];
            never_fell &= l[i] >= l[i - 1];
        }
    }
    bool grew = l[window - 1] > l[0];
    if (!moved)
        return grew || c[0] >= 0 ? STATUS_STALLED : STATUS_OK;
    if (!grew)
        return STATUS_OK;
    return never_fell ? STATUS_LAGGING : STATUS_OK;
}

/* Merges the entries new this tick into hist; after a clean tick, also
 * drops the partitions that were not seen. */
static int merge_history(struct lag_state *st, bool prune)
{
    struct part_array *h = &st->hist, *f = &st->fresh;
    size_t k = 0;
    for (size_t i = 0; i < h->len; i++) {
        if (prune && !h->v[i].seen) {
            free(h->v[i].group);
            free(h->v[i].topic);
            continue;
        }
        h->v[i].seen = false;
        h->v[k++] = h->v[i];
    }
    h->len = k;
    if (h->len + f->len > h->cap) {
        size_t ncap = h->len + f->len + 64;
        struct part_state *v = realloc(h->v, ncap * sizeof *v);
        if (!v) {
            for (size_t i = 0; i < f->len; i++) {
                free(f->v[i].group);
                free(f->v[i].topic);
            }
            f->len = 0;
            return -1;
        }
        h->v = v;
        h->cap = ncap;
    }
    for (size_t i = 0; i < f->len; i++) {
        f->v[i].seen = false;
        h->v[h->len++] = f->v[i];
    }
    if (f->len > 0)
        qsort(h->v, h->len, sizeof *h->v, cmp_state);
    f->len = 0;
    return 0;
}

/* ---- one group ---------------------------------------------------------- */

struct group_sum {
    int64_t total_lag;
    int64_t lag_delta;
    int64_t dt_ns;                /* of the partitions with a previous tick */
    bool have_rate;
    int64_t partitions;
    enum status status;
};

static struct topic_info *find_topic(const struct tick *t, const char *name)
{
    struct topic_info key = {.name = name};
    return bsearch(&key, t->topics, t->ntopics, sizeof key, cmp_topic);
}

/* Does the group have a commit on any partition of topic list[from..]? */
static bool committed_on(const rd_kafka_topic_partition_list_t *l, int from,
                         const char *topic)
{
    for (int i = from; i < l->cnt && strcmp(l->elems[i].topic, topic) == 0; i++)
        if (!l->elems[i].err && l->elems[i].offset >= 0)
            return true;
    return false;
}

static int report_partition(struct lag_state *st, const struct lag_config *cf,
                            struct tick *t, const char *group,
                            struct topic_info *ti,
                            const rd_kafka_topic_partition_t *tp,
                            struct group_sum *sum, struct pw_lp_writer *out,
                            struct pw_err *err)
{
    int32_t p = tp->partition;
    if (p < 0 || p >= ti->nslots)
        return 0;
    if (tp->err) {
        pw_log_limited(&st->log, 60000, PW_WARN,
                       "kafka_lag: group %s: committed offset of %s[%d]: %s",
                       group, ti->name, (int)p, rd_kafka_err2str(tp->err));
        return 0;
    }
    int rc = watermarks(st, t, ti, p, err);
    if (rc == SKIP) {
        pw_log_limited(&st->log, 60000, PW_WARN, "%s", err->msg);
        return 0;
    }
    if (rc < 0)
        return rc;
    int64_t committed = tp->offset >= 0 ? tp->offset : -1;
    int64_t lag = committed >= 0 ? ti->high[p] - committed : ti->high[p] - ti->low[p];
    if (lag < 0)
        lag = 0;

    struct part_state *s = history(st, group, ti->name, p);
    if (!s)
        return pw_err_set(err, "kafka_lag: out of memory"), FATAL;
    bool have_prev = s->n > 0 && t->ts_ns > s->last_ts_ns;
    int64_t prev_lag = s->n > 0 ? s->lag[s->n - 1] : 0, prev_ts = s->last_ts_ns;
    observe(s, (int)cf->status_window, committed, lag, t->ts_ns);
    enum status ps = partition_status(s, (int)cf->status_window);

    char pbuf[16];
    snprintf(pbuf, sizeof pbuf, "%d", (int)p);
    pw_lp_begin(out, "kafka_consumer_lag");
    pw_lp_tag(out, "group", group);
    pw_lp_tag(out, "partition", pbuf);
    pw_lp_tag(out, "topic", ti->name);
    if (committed >= 0)
        pw_lp_field_int(out, "committed_offset", committed);
    pw_lp_field_int(out, "high_watermark", ti->high[p]);
    pw_lp_field_int(out, "lag", lag);
    if (have_prev)
        pw_lp_field_float(out, "lag_rate",
                          (double)(lag - prev_lag) * 1e9 / (double)(t->ts_ns - prev_ts));
    pw_lp_end(out, t->ts_ns);

    sum->total_lag += lag;
    sum->partitions++;
    if (have_prev) {
        sum->lag_delta += lag - prev_lag;
        sum->dt_ns = t->ts_ns - prev_ts;
        sum->have_rate = true;
    }
    if (ps > sum->status)
        sum->status = ps;
    return 0;
}

static int collect_group(struct lag_state *st, const struct lag_config *cf,
                         struct tick *t, const char *group,
                         struct pw_lp_writer *out, struct pw_err *err)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int rc = t->ntopics ? fetch_committed(st, t, group, &parts, err) : 0;
    if (rc < 0)
        return rc;
    struct group_sum sum = {0};
    for (int i = 0; parts && i < parts->cnt && rc == 0;) {
        const char *topic = parts->elems[i].topic;
        struct topic_info *ti = find_topic(t, topic);
        bool report = ti && (ti->listed || committed_on(parts, i, topic));
        for (; i < parts->cnt && strcmp(parts->elems[i].topic, topic) == 0 && rc == 0; i++)
            if (report)
                rc = report_partition(st, cf, t, group, ti, &parts->elems[i], &sum,
                                      out, err);
    }
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rc < 0)
        return rc;
    pw_lp_begin(out, "kafka_consumer_group");
    pw_lp_tag(out, "group", group);
    pw_lp_field_int(out, "total_lag", sum.total_lag);
    if (sum.have_rate && sum.dt_ns > 0)
        pw_lp_field_float(out, "lag_rate",
                          (double)sum.lag_delta * 1e9 / (double)sum.dt_ns);
    pw_lp_field_int(out, "partitions", sum.partitions);
    pw_lp_field_string(out, "status", status_names[sum.status],
                       strlen(status_names[sum.status]));
    pw_lp_field_int(out, "status_code", sum.status);
    pw_lp_end(out, t->ts_ns);
    return 0;
}

static int lag_collect(struct pw_collector *c, int64_t ts_ns,
                       struct pw_lp_writer *out, struct pw_err *err)
{
    const struct lag_config *cf = c->config;
    struct lag_state *st = c->state;
    struct tick t = {.deadline_ms = pw_mono_ms() + cf->timeout_ms, .ts_ns = ts_ns};
    struct pw_err first = {{0}};
    size_t failed = 0;

    int rc = load_groups(st, cf, &t, err);
    if (rc == SKIP) {
        first = *err;
        failed++;
    }
    if (rc != FATAL)
        rc = load_topics(st, cf, &t, err);
    for (size_t i = 0; rc != FATAL && i < t.ngroups; i++) {
        rc = collect_group(st, cf, &t, t.groups[i], out, err);
        if (rc == SKIP) {
            if (!failed++)
                first = *err;
            pw_log_limited(&st->log, 60000, PW_WARN, "%s", err->msg);
        }
    }
    size_t ngroups = t.ngroups;
    tick_release(&t);
    bool clean = rc != FATAL && failed == 0;
    if (merge_history(st, clean) < 0 && rc != FATAL)
        return pw_err_set(err, "kafka_lag: out of memory");
    if (out->buf.oom)
        return pw_err_set(err, "kafka_lag: out of memory while encoding");
    if (rc == FATAL)
        return -1;
    if (failed) {
        *err = first;
        return pw_err_prefix(err, "%zu of %zu groups failed, first", failed, ngroups);
    }
    return 0;
}

const struct pw_collector_ops pw_kafka_lag_collector = {
    .name = "kafka_lag",
    .options = lag_options,
    .config_size = sizeof(struct lag_config),
    .start = lag_start,
    .collect = lag_collect,
    .stop = lag_stop,
};
