/* alerting/deliver.c — HTTP, log and Kafka delivery from the outbox
 * (contract: deliver.h).
 *
 * Why it is built this way. The outbox is the queue: nothing is held in
 * memory but the transfers in flight (a fixed array of jobs), so a crash
 * loses nothing and a restart needs no recovery step. Each step asks the
 * outbox for due rows, starts them on a curl multi handle (which shares its
 * connection cache between transfers, so a busy receiver gets kept-alive
 * connections), and records the outcomes of the step in one transaction:
 * one fsync per step rather than per delivery. Retry times are written to
 * the row, so a backoff (or a receiver's Retry-After) survives a restart.
 * Secrets stay in the pw_target structs: URLs go to curl, never to a log
 * line (which shows pw_url_redact's form), and curl's own error text (which
 * may quote a URL) is not logged, only curl_easy_strerror's generic one.
 */
#include "alerting/deliver.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define O struct pw_deliver_options
const struct pw_option pw_deliver_options_table[] = {
    {"max_in_flight", PW_OPT_INT, offsetof(O, max_in_flight), "100", false, 1,
     10000, NULL, "Deliveries in flight at once."},
    {"connect_timeout", PW_OPT_DURATION, offsetof(O, connect_timeout_ms), "5s",
     false, 100, 600000, NULL, "Time allowed to connect to a receiver."},
    {"backoff_initial", PW_OPT_DURATION, offsetof(O, backoff_initial_ms),
     "500ms", false, 1, 3600000, NULL,
     "The first retry's backoff cap; it doubles with each retry."},
    {"backoff_max", PW_OPT_DURATION, offsetof(O, backoff_max_ms), "5m", false,
     1, 86400000, NULL, "The largest backoff cap."},
    {"give_up_after", PW_OPT_DURATION, offsetof(O, give_up_after_ms), "24h",
     false, 0, 31536000000.0, NULL,
     "A delivery still failing this long after it was enqueued is given up "
     "(0: never)."},
    {0},
};

/* Retry-After values beyond this are capped: a receiver cannot park an
 * alert for a day. */
#define RETRY_AFTER_MAX_S 3600
/* Due rows read beyond the free slots, so that rows of a rate-limited
 * receiver do not hide the others'. */
#define DUE_EXTRA 256

struct job {
    bool used;
    struct pw_delivery d;
    size_t rcv;                      /* index in receivers */
    const struct pw_target *t;
    CURL *easy;
    struct curl_slist *headers;
    char retry_after[128];           /* the header's value, or "" */
};

struct bucket {
    double tokens;
    int64_t last_ns;
};

/* An outcome waiting to be written in this step's transaction. */
enum outcome_kind { OUT_SENT, OUT_RETRY, OUT_FAILED };
struct outcome {
    enum outcome_kind kind;
    int64_t id;
    int64_t t_ns;                    /* done time or next attempt */
    int status;
    char why[96];
};

struct pw_deliver {
    struct pw_outbox *outbox;
    const struct pw_receivers *receivers;
    rd_kafka_t *rk;
    struct pw_deliver_options opt;
    CURLM *multi;
    struct job *jobs;
    size_t n_jobs, in_flight;
    int64_t *ids;                    /* ids in flight, for pw_outbox_due */
    struct bucket *buckets;          /* per receiver */
    struct outcome *outcomes;
    size_t n_outcomes, cap_outcomes;
    struct pw_delivery *due;         /* scratch for pw_outbox_due */
    size_t cap_due;
    uint64_t rng;
    int64_t next_due_ns;             /* cached: no due query before this */
    uint64_t seen_enqueued;          /* pw_outbox_enqueued when cached */
    struct pw_deliver_stats st;
    struct pw_log_limiter lim_fail, lim_retry;
};

const char *pw_retry_reason_name(enum pw_retry_reason r)
{
    static const char *const n[] = {"http_5xx", "http_429", "connect",
                                    "timeout", "other", "tls"};
    return (unsigned)r < PW_RETRY_N ? n[r] : "?";
}

const char *pw_fail_reason_name(enum pw_fail_reason r)
{
    static const char *const n[] = {"http_4xx", "expired", "no_receiver",
                                    "bad_request"};
    return (unsigned)r < PW_FAIL_N ? n[r] : "?";
}

int64_t pw_backoff_ms(int64_t attempt, int64_t initial_ms, int64_t max_ms,
                      double rnd)
{
    if (attempt < 1)
        attempt = 1;
    double cap = (double)initial_ms;
    for (int64_t i = 1; i < attempt && cap < (double)max_ms; i++)
        cap *= 2;
    if (cap > (double)max_ms)
        cap = (double)max_ms;
    if (rnd < 0)
        rnd = 0;
    if (rnd >= 1)
        rnd = 0.999999;
    return (int64_t)(cap * rnd);
}

int pw_retry_after_parse(const char *value, int64_t now_s, int64_t *delay_s)
{
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        char *end;
        long long v = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end || v < 0)
            return -1;
        *delay_s = v;
        return 0;
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    *delay_s = (int64_t)t > now_s ? (int64_t)t - now_s : 0;
    return 0;
}

/* xorshift64*: a per-deliverer generator for the jitter. */
static double rnd01(struct pw_deliver *d)
{
    d->rng ^= d->rng >> 12;
    d->rng ^= d->rng << 25;
    d->rng ^= d->rng >> 27;
    return (double)((d->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

struct pw_deliver *pw_deliver_new(struct pw_outbox *outbox,
                                  const struct pw_receivers *receivers,
                                  rd_kafka_t *rk,
                                  const struct pw_deliver_options *opts,
                                  struct pw_err *err)
{
    struct pw_deliver *d = calloc(1, sizeof *d);
    if (!d)
        return pw_err_set(err, "out of memory"), NULL;
    d->outbox = outbox;
    d->receivers = receivers;
    d->rk = rk;
    if (opts) {
        d->opt = *opts;
    } else if (pw_config_defaults(pw_deliver_options_table, &d->opt, err) < 0) {
        free(d);
        return NULL;
    }
    if (d->opt.max_in_flight < 1)
        d->opt.max_in_flight = 1;
    d->n_jobs = (size_t)d->opt.max_in_flight;
    d->cap_due = d->n_jobs + DUE_EXTRA;
    d->rng = (uint64_t)pw_mono_ns() ^ ((uint64_t)getpid() << 32) ^
             (uint64_t)(uintptr_t)d;
    if (!d->rng)
        d->rng = 88172645463325252ULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(d);
        return pw_err_set(err, "cannot initialise libcurl"), NULL;
    }
    d->multi = curl_multi_init();
    d->jobs = calloc(d->n_jobs, sizeof *d->jobs);
    d->ids = calloc(d->n_jobs, sizeof *d->ids);
    d->buckets = calloc(receivers->n ? receivers->n : 1, sizeof *d->buckets);
    d->due = calloc(d->cap_due, sizeof *d->due);
    if (!d->multi || !d->jobs || !d->ids || !d->buckets || !d->due) {
        pw_deliver_free(d);
        return pw_err_set(err, "out of memory"), NULL;
    }
    curl_multi_setopt(d->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)d->n_jobs);
    for (size_t i = 0; i < receivers->n; i++) {
        d->buckets[i].tokens = receivers->v[i].rate_burst;
        d->buckets[i].last_ns = -1;
    }
    return d;
}

static void job_release(struct pw_deliver *d, struct job *j)
{
    if (j->easy) {
        curl_multi_remove_handle(d->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->headers);
    pw_delivery_clear(&j->d);
    memset(j, 0, sizeof *j);
    d->in_flight--;
}

void pw_deliver_free(struct pw_deliver *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->jobs && i < d->n_jobs; i++)
        if (d->jobs[i].used)
            job_release(d, &d->jobs[i]);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    free(d->jobs);
    free(d->ids);
    free(d->buckets);
    free(d->due);
    free(d->outcomes);
    free(d);
}

/* ---- outcomes ------------------------------------------------------------ */

static void add_outcome(struct pw_deliver *d, enum outcome_kind kind,
                        int64_t id, int64_t t_ns, int status, const char *why)
{
    if (d->n_outcomes == d->cap_outcomes) {
        size_t cap = d->cap_outcomes ? d->cap_outcomes * 2 : 64;
        struct outcome *n = realloc(d->outcomes, cap * sizeof *n);
        if (!n) {
            /* The row stays as it was: pending, retried at once. */
            pw_log(PW_ERROR, "alert delivery: out of memory recording an "
                             "outcome; delivery %lld will be attempted again",
                   (long long)id);
            return;
        }
        d->outcomes = n;
        d->cap_outcomes = cap;
    }
    struct outcome *o = &d->outcomes[d->n_outcomes++];
    o->kind = kind;
    o->id = id;
    o->t_ns = t_ns;
    o->status = status;
    snprintf(o->why, sizeof o->why, "%s", why ? why : "");
}

static int flush_outcomes(struct pw_deliver *d, struct pw_err *err)
{
    if (d->n_outcomes == 0)
        return 0;
    int rc = pw_outbox_begin(d->outbox, false, err);
    for (size_t i = 0; rc == 0 && i < d->n_outcomes; i++) {
        const struct outcome *o = &d->outcomes[i];
        switch (o->kind) {
        case OUT_SENT:
            rc = pw_outbox_mark_sent(d->outbox, o->id, o->t_ns, o->status, err);
            break;
        case OUT_RETRY:
            rc = pw_outbox_mark_retry(d->outbox, o->id, o->t_ns, o->status,
                                      o->why, err);
            if (rc == 0 && o->t_ns < d->next_due_ns)
                d->next_due_ns = o->t_ns;
            break;
        case OUT_FAILED:
            rc = pw_outbox_mark_failed(d->outbox, o->id, o->t_ns, o->status,
                                       o->why, err);
            break;
        }
    }
    if (rc == 0)
        rc = pw_outbox_commit(d->outbox, err);
    else
        pw_outbox_rollback(d->outbox);
    if (rc == 0)
        d->n_outcomes = 0;
    /* On failure the outcomes stay queued and are written at the next step;
     * a crash before then only means sending them again. */
    return rc;
}

static void fail_delivery(struct pw_deliver *d, const struct pw_delivery *dl,
                          int64_t now_ns, enum pw_fail_reason r, int status,
                          const char *what, const char *where)
{
    d->st.failed[r]++;
    char why[96];
    snprintf(why, sizeof why, "%s: %s", pw_fail_reason_name(r), what);
    add_outcome(d, OUT_FAILED, dl->id, now_ns, status, why);
    pw_log_limited(&d->lim_fail, 1000, PW_WARN,
                   "alert delivery to %s %s (%s) failed, not retried: %s "
                   "(key %s)", dl->receiver, dl->config, where, what,
                   dl->idempotency_key);
}

static void retry_delivery(struct pw_deliver *d, const struct pw_delivery *dl,
                           int64_t now_ns, enum pw_retry_reason r, int status,
                           const char *what, const char *where,
                           int64_t retry_after_s)
{
    int64_t attempt = dl->attempts + 1;
    if (d->opt.give_up_after_ms > 0 &&
        now_ns - dl->created_ns > d->opt.give_up_after_ms * 1000000) {
        char w[96];
        snprintf(w, sizeof w, "%s, retried for longer than give_up_after",
                 what);
        fail_delivery(d, dl, now_ns, PW_FAIL_EXPIRED, status, w, where);
        return;
    }
    int64_t delay_ms = pw_backoff_ms(attempt, d->opt.backoff_initial_ms,
                                     d->opt.backoff_max_ms, rnd01(d));
    if (retry_after_s >= 0) {
        if (retry_after_s > RETRY_AFTER_MAX_S)
            retry_after_s = RETRY_AFTER_MAX_S;
        if (retry_after_s * 1000 > delay_ms)
            delay_ms = retry_after_s * 1000;
        d->st.retry_after_honoured++;
    }
    d->st.retried[r]++;
    char why[96];
    snprintf(why, sizeof why, "%s: %s", pw_retry_reason_name(r), what);
    add_outcome(d, OUT_RETRY, dl->id, now_ns + delay_ms * 1000000, status, why);
    pw_log_limited(&d->lim_retry, 1000, PW_INFO,
                   "alert delivery to %s %s (%s): %s; attempt %lld, retry in "
                   "%lld ms (key %s)", dl->receiver, dl->config, where, what,
                   (long long)attempt, (long long)delay_ms, dl->idempotency_key);
}

/* ---- HTTP -------------------------------------------------------------- */

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct job *j = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        size_t vlen = len - (sizeof name - 1);
        if (vlen >= sizeof j->retry_after)
            vlen = sizeof j->retry_after - 1;
        memcpy(j->retry_after, p + sizeof name - 1, vlen);
        j->retry_after[vlen] = '\0';
        /* trim CR LF and spaces at the end */
        for (size_t k = strlen(j->retry_after);
             k > 0 && strchr(" \t\r\n", j->retry_after[k - 1]); k--)
            j->retry_after[k - 1] = '\0';
    } else if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        j->retry_after[0] = '\0';   /* a new response (after a 100) */
    }
    return len;
}

static int add_header(struct curl_slist **l, const char *h)
{
    struct curl_slist *n = curl_slist_append(*l, h);
    if (!n)
        return -1;
    *l = n;
    return 0;
}

static int start_http(struct pw_deliver *d, struct job *j)
{
    const struct pw_target *t = j->t;
    char line[512];
    j->easy = curl_easy_init();
    if (!j->easy)
        return -1;
    if (add_header(&j->headers, "Content-Type: application/json") < 0 ||
        add_header(&j->headers, "User-Agent: pipewatch/" PW_VERSION) < 0 ||
        add_header(&j->headers, "Expect:") < 0)
        return -1;
    /* The key is opaque to us: a control character in it must not end the
     * header (the body carries the exact key). */
    char *key_line;
    if (asprintf(&key_line, "Idempotency-Key: %s", j->d.idempotency_key) < 0)
        return -1;
    for (char *p = key_line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '_';
    int hrc = add_header(&j->headers, key_line);
    free(key_line);
    if (hrc < 0)
        return -1;
    if (t->hmac_key) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (!HMAC(EVP_sha256(), t->hmac_key, (int)t->hmac_key_len,
                  (const unsigned char *)j->d.body, j->d.body_len, md, &md_len))
            return -1;
        char *p = line + snprintf(line, sizeof line,
                                  "X-Pipewatch-Signature: sha256=");
        for (unsigned i = 0; i < md_len; i++)
            p += snprintf(p, 3, "%02x", md[i]);
        if (add_header(&j->headers, line) < 0)
            return -1;
    }
    for (size_t i = 0; i < t->n_headers; i++)
        if (add_header(&j->headers, t->headers[i]) < 0)
            return -1;
    CURL *e = j->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->d.body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->d.body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)d->opt.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* curl verifies by default; said here so that nobody has to know. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, t->tls_insecure_skip_verify ? 0L : 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, t->tls_insecure_skip_verify ? 0L : 2L);
    if (t->tls_ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, t->tls_ca_file);
    if (t->tls_cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, t->tls_cert_file);
        curl_easy_setopt(e, CURLOPT_SSLKEY, t->tls_key_file);
    }
    if (curl_multi_add_handle(d->multi, e) != CURLM_OK)
        return -1;
    return 0;
}

static enum pw_retry_reason transport_reason(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT: return PW_RETRY_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR: return PW_RETRY_CONNECT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return PW_RETRY_TLS;
    default: return PW_RETRY_OTHER;
    }
}

static void finish_http(struct pw_deliver *d, struct job *j, CURLcode code,
                        int64_t now_ns)
{
    long status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    const char *where = j->t->url_redacted;
    char what[96];
    if (code == CURLE_OK && status >= 200 && status < 300) {
        d->st.sent++;
        add_outcome(d, OUT_SENT, j->d.id, now_ns, (int)status, NULL);
    } else if (code == CURLE_OK && (status == 429 || status >= 500)) {
        int64_t ra = -1;
        if (j->retry_after[0] &&
            pw_retry_after_parse(j->retry_after, now_ns / 1000000000, &ra) < 0)
            ra = -1;
        snprintf(what, sizeof what, "HTTP %ld", status);
        retry_delivery(d, &j->d, now_ns,
                       status == 429 ? PW_RETRY_HTTP_429 : PW_RETRY_HTTP_5XX,
                       (int)status, what, where, ra);
    } else if (code == CURLE_OK) {
        snprintf(what, sizeof what, "HTTP %ld", status);
        fail_delivery(d, &j->d, now_ns, PW_FAIL_HTTP_4XX, (int)status, what,
                      where);
    } else if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) {
        fail_delivery(d, &j->d, now_ns, PW_FAIL_BAD_REQUEST, 0,
                      curl_easy_strerror(code), where);
    } else if (transport_reason(code) == PW_RETRY_TLS) {
        snprintf(what, sizeof what, "TLS: %s", curl_easy_strerror(code));
        retry_delivery(d, &j->d, now_ns, PW_RETRY_TLS, 0, what, where, -1);
    } else {
        retry_delivery(d, &j->d, now_ns, transport_reason(code), 0,
                       curl_easy_strerror(code), where, -1);
    }
    job_release(d, j);
}

static void read_finished(struct pw_deliver *d, int64_t now_ns)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct job *j = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        if (j)
            finish_http(d, j, m->data.result, now_ns);
    }
}

/* ---- log and Kafka ------------------------------------------------------- */

static void deliver_log(struct pw_deliver *d, const struct pw_delivery *dl,
                        const struct pw_target *t, int64_t now_ns)
{
    const char *p = dl->body;
    while (*p) {
        size_t len = strcspn(p, "\n");
        pw_log(t->log_level, "%.*s", (int)len, p);
        p += len;
        if (*p == '\n')
            p++;
    }
    d->st.sent++;
    add_outcome(d, OUT_SENT, dl->id, now_ns, 0, NULL);
}

static int start_kafka(struct pw_deliver *d, struct job *j)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        d->rk, RD_KAFKA_V_TOPIC(j->t->topic),
        RD_KAFKA_V_KEY(j->d.group_key, strlen(j->d.group_key)),
        RD_KAFKA_V_VALUE(j->d.body, j->d.body_len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("idempotency-key", j->d.idempotency_key,
                          (ssize_t)strlen(j->d.idempotency_key)),
        RD_KAFKA_V_OPAQUE(j), RD_KAFKA_V_END);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -(int)e - 1;
}

bool pw_deliver_kafka_report(struct pw_deliver *d, const rd_kafka_message_t *m)
{
    struct job *j = m->_private;
    if (!d || !j || j < d->jobs || j >= d->jobs + d->n_jobs || !j->used ||
        j->t->kind != PW_TARGET_KAFKA)
        return false;
    int64_t now = pw_realtime_ns();
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        d->st.sent++;
        add_outcome(d, OUT_SENT, j->d.id, now, 0, NULL);
    } else {
        retry_delivery(d, &j->d, now, PW_RETRY_OTHER, 0, rd_kafka_err2str(m->err),
                       j->t->topic, -1);
    }
    job_release(d, j);
    return true;
}

/* ---- the step ------------------------------------------------------------ */

/* Refills receiver i's bucket up to now. */
static void refill(struct pw_deliver *d, size_t i, int64_t now_ns)
{
    const struct pw_receiver *r = &d->receivers->v[i];
    struct bucket *b = &d->buckets[i];
    if (b->last_ns >= 0 && now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) / 1e9 * r->rate_limit;
        if (b->tokens > r->rate_burst)
            b->tokens = r->rate_burst;
    }
    if (now_ns > b->last_ns)
        b->last_ns = now_ns;
}

/* Takes a token from receiver i's bucket, or returns false (and the time
 * the next one arrives in *wait_ns). */
static bool take_token(struct pw_deliver *d, size_t i, int64_t now_ns,
                       int64_t *wait_ns)
{
    const struct pw_receiver *r = &d->receivers->v[i];
    if (r->rate_limit <= 0)
        return true;
    struct bucket *b = &d->buckets[i];
    refill(d, i, now_ns);
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return true;
    }
    *wait_ns = (int64_t)((1 - b->tokens) / r->rate_limit * 1e9) + 1;
    return false;
}

static struct job *free_job(struct pw_deliver *d)
{
    for (size_t i = 0; i < d->n_jobs; i++)
        if (!d->jobs[i].used)
            return &d->jobs[i];
    return NULL;
}

static size_t collect_ids(struct pw_deliver *d)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n_jobs; i++)
        if (d->jobs[i].used)
            d->ids[k++] = d->jobs[i].d.id;
    return k;
}

/* Starts the rows read into d->due[0..n): until the slots run out (then
 * returns true: rows were left), skipping (and counting) rows whose
 * receiver has no token left. */
static bool launch_rows(struct pw_deliver *d, int n, int64_t now_ns,
                        size_t free_slots, size_t *started)
{
    bool left = false;
    for (int k = 0; k < n; k++) {
        struct pw_delivery *dl = &d->due[k];
        if (*started == free_slots) {
            pw_delivery_clear(dl);
            left = true;
            continue;
        }
        const struct pw_receiver *r = pw_receivers_find(d->receivers,
                                                        dl->receiver);
        const struct pw_target *t = r ? pw_receiver_target(r, dl->config) : NULL;
        if (!t) {
            fail_delivery(d, dl, now_ns, PW_FAIL_NO_RECEIVER, 0,
                          "the receiver or its config is no longer configured",
                          "-");
            pw_delivery_clear(dl);
            continue;
        }
        size_t ri = (size_t)(r - d->receivers->v);
        int64_t w = 0;
        if (!take_token(d, ri, now_ns, &w)) {
            d->st.rate_limited++;
            pw_delivery_clear(dl);
            continue;
        }
        if (t->kind == PW_TARGET_LOG) {
            d->st.attempts++;
            deliver_log(d, dl, t, now_ns);
            pw_delivery_clear(dl);
            continue;
        }
        if (t->kind == PW_TARGET_KAFKA && !d->rk) {
            fail_delivery(d, dl, now_ns, PW_FAIL_BAD_REQUEST, 0,
                          "no Kafka producer was given to the deliverer",
                          t->topic);
            pw_delivery_clear(dl);
            continue;
        }
        struct job *j = free_job(d);
        j->used = true;
        j->d = *dl;
        memset(dl, 0, sizeof *dl);
        j->rcv = ri;
        j->t = t;
        d->in_flight++;
        d->st.attempts++;
        (*started)++;
        int rc = t->kind == PW_TARGET_KAFKA ? start_kafka(d, j)
                                            : start_http(d, j);
        if (rc < 0) {
            const char *why = t->kind == PW_TARGET_KAFKA
                ? rd_kafka_err2str((rd_kafka_resp_err_t)(-rc - 1))
                : "cannot set up the request (out of memory)";
            retry_delivery(d, &j->d, now_ns, PW_RETRY_OTHER, 0, why,
                           t->kind == PW_TARGET_KAFKA ? t->topic
                                                      : t->url_redacted, -1);
            job_release(d, j);
            (*started)--;
        }
    }
    return left;
}

/* When receiver i (rate-limited) has its next token, or INT64_MAX if it has
 * one now. */
static int64_t token_time(struct pw_deliver *d, size_t i, int64_t now_ns)
{
    const struct pw_receiver *r = &d->receivers->v[i];
    double tokens = d->buckets[i].tokens;
    if (tokens >= 1)
        return INT64_MAX;
    return now_ns + (int64_t)((1 - tokens) / r->rate_limit * 1e9) + 1;
}

/* Reads due rows and starts them. Receivers without a rate limit are read
 * in one query, oldest due first; each rate-limited receiver then in its
 * own query, only as many rows as it has tokens, so that its backlog is
 * neither read over and over nor in the way of the others. */
static int start_due(struct pw_deliver *d, int64_t now_ns, struct pw_err *err)
{
    size_t free_slots = d->n_jobs - d->in_flight;
    uint64_t gen = pw_outbox_enqueued(d->outbox);
    if (gen != d->seen_enqueued) {
        d->seen_enqueued = gen;     /* new rows: the cached time is stale */
        d->next_due_ns = 0;
    }
    if (free_slots == 0 || now_ns < d->next_due_ns)
        return 0;
    json_t *limited = NULL;
    for (size_t i = 0; i < d->receivers->n; i++) {
        if (d->receivers->v[i].rate_limit <= 0)
            continue;
        refill(d, i, now_ns);
        if (!limited && !(limited = json_array()))
            return pw_err_set(err, "out of memory");
        json_array_append_new(limited, json_string(d->receivers->v[i].name));
    }
    char *skip_json = limited ? json_dumps(limited, JSON_COMPACT) : NULL;
    json_decref(limited);
    if (limited && !skip_json)
        return pw_err_set(err, "out of memory");

    size_t n_ids = collect_ids(d);
    size_t want = free_slots + DUE_EXTRA;
    if (want > d->cap_due)
        want = d->cap_due;
    int n = pw_outbox_due(d->outbox, now_ns, d->ids, n_ids, NULL, skip_json,
                          d->due, want, err);
    free(skip_json);
    if (n < 0)
        return -1;
    size_t started = 0;
    bool left = launch_rows(d, n, now_ns, free_slots, &started);
    bool unread = (size_t)n == want;

    int64_t token_wait = INT64_MAX;
    for (size_t i = 0; i < d->receivers->n; i++) {
        const struct pw_receiver *r = &d->receivers->v[i];
        if (r->rate_limit <= 0)
            continue;
        double tokens = d->buckets[i].tokens;
        if (tokens >= 1 && started < free_slots) {
            size_t k = (size_t)tokens;
            bool by_tokens = true;
            if (k > free_slots - started) {
                k = free_slots - started;
                by_tokens = false;
            }
            if (k > d->cap_due)
                k = d->cap_due;
            n_ids = collect_ids(d);
            int m = pw_outbox_due(d->outbox, now_ns, d->ids, n_ids, r->name,
                                  NULL, d->due, k, err);
            if (m < 0)
                return -1;
            left |= launch_rows(d, m, now_ns, free_slots, &started);
            /* Every token used and rows were there to use them: the limit
             * is what holds this receiver's deliveries back. */
            if (by_tokens && (size_t)m == k)
                d->st.rate_limited++;
        }
        int64_t t = token_time(d, i, now_ns);
        if (t < token_wait)
            token_wait = t;
    }

    /* Until when no query is needed. Slots full or rows left unread: ask
     * again at the next step. Otherwise until the next retry is due or a
     * token arrives, whichever is first; rows due now but not started are
     * waiting for a token (or for this step's outcomes to be written). */
    if (left || unread || started == free_slots) {
        d->next_due_ns = 0;
        return 0;
    }
    n_ids = collect_ids(d);
    int64_t nd = pw_outbox_next_due(d->outbox, d->ids, n_ids);
    if (nd > now_ns)
        d->next_due_ns = nd < token_wait ? nd : token_wait;
    else if (token_wait != INT64_MAX)
        d->next_due_ns = token_wait;
    else
        d->next_due_ns = d->n_outcomes ? 0 : now_ns + 10000000;
    return 0;
}

int pw_deliver_poll(struct pw_deliver *d, int64_t now_ns, int max_wait_ms,
                    struct pw_err *err)
{
    int running = 0, rc = 0;
    curl_multi_perform(d->multi, &running);
    read_finished(d, now_ns);
    if (flush_outcomes(d, err) < 0)
        return -1;
    if (start_due(d, now_ns, err) < 0)
        rc = -1;
    curl_multi_perform(d->multi, &running);
    /* A transfer may have finished already (loopback): record it before
     * deciding how long to wait, or its freed slot would idle. */
    read_finished(d, now_ns);
    if (max_wait_ms > 0) {
        int wait = d->n_outcomes ? 0
                                 : pw_deliver_next_wakeup_ms(d, now_ns,
                                                             max_wait_ms);
        if (wait > 0) {
            int numfds;
            curl_multi_poll(d->multi, NULL, 0, wait, &numfds);
            curl_multi_perform(d->multi, &running);
            now_ns = pw_realtime_ns();
            read_finished(d, now_ns);
        }
    }
    if (flush_outcomes(d, rc < 0 ? NULL : err) < 0)
        rc = -1;
    return rc;
}

int pw_deliver_next_wakeup_ms(struct pw_deliver *d, int64_t now_ns, int cap_ms)
{
    if (pw_outbox_enqueued(d->outbox) != d->seen_enqueued)
        return 0;
    if (d->in_flight == d->n_jobs || d->next_due_ns == INT64_MAX)
        return cap_ms;
    if (d->next_due_ns <= now_ns)
        return 0;
    int64_t ms = (d->next_due_ns - now_ns + 999999) / 1000000;
    return ms < cap_ms ? (int)ms : cap_ms;
}

void pw_deliver_get_stats(struct pw_deliver *d, struct pw_deliver_stats *out)
{
    d->st.in_flight = (int64_t)d->in_flight;
    d->st.pending = pw_outbox_count(d->outbox, PW_DELIVERY_PENDING);
    *out = d->st;
}

void pw_deliver_write_metrics(struct pw_deliver *d, FILE *out)
{
    struct pw_deliver_stats s;
    pw_deliver_get_stats(d, &s);
    fprintf(out,
            "# HELP pipewatch_alert_deliveries_sent_total Deliveries a receiver "
            "accepted.\n"
            "# TYPE pipewatch_alert_deliveries_sent_total counter\n"
            "pipewatch_alert_deliveries_sent_total %llu\n"
            "# HELP pipewatch_alert_delivery_attempts_total Delivery attempts "
            "started.\n"
            "# TYPE pipewatch_alert_delivery_attempts_total counter\n"
            "pipewatch_alert_delivery_attempts_total %llu\n",
            (unsigned long long)s.sent, (unsigned long long)s.attempts);
    fprintf(out, "# HELP pipewatch_alert_delivery_retries_total Retries "
                 "scheduled, by reason.\n"
                 "# TYPE pipewatch_alert_delivery_retries_total counter\n");
    for (int r = 0; r < PW_RETRY_N; r++)
        fprintf(out, "pipewatch_alert_delivery_retries_total{reason=\"%s\"} "
                     "%llu\n", pw_retry_reason_name((enum pw_retry_reason)r),
                (unsigned long long)s.retried[r]);
    fprintf(out, "# HELP pipewatch_alert_delivery_failures_total Deliveries "
                 "given up, by reason.\n"
                 "# TYPE pipewatch_alert_delivery_failures_total counter\n");
    for (int r = 0; r < PW_FAIL_N; r++)
        fprintf(out, "pipewatch_alert_delivery_failures_total{reason=\"%s\"} "
                     "%llu\n", pw_fail_reason_name((enum pw_fail_reason)r),
                (unsigned long long)s.failed[r]);
    fprintf(out,
            "# HELP pipewatch_alert_delivery_rate_limited_total Steps in which a "
            "receiver's rate limit held due deliveries back.\n"
            "# TYPE pipewatch_alert_delivery_rate_limited_total counter\n"
            "pipewatch_alert_delivery_rate_limited_total %llu\n"
            "# HELP pipewatch_alert_deliveries_in_flight Deliveries in flight.\n"
            "# TYPE pipewatch_alert_deliveries_in_flight gauge\n"
            "pipewatch_alert_deliveries_in_flight %lld\n"
            "# HELP pipewatch_alert_deliveries_pending Deliveries waiting in "
            "the outbox.\n"
            "# TYPE pipewatch_alert_deliveries_pending gauge\n"
            "pipewatch_alert_deliveries_pending %lld\n",
            (unsigned long long)s.rate_limited, (long long)s.in_flight,
            (long long)s.pending);
}
