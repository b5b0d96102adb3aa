/* collectors/prometheus.c — scrapes Prometheus endpoints (contract and the
 * mapping to line protocol: prometheus.h).
 *
 * Why it is built this way. A tick must not last as long as the sum of its
 * targets' timeouts, so the targets due in a tick are fetched together with
 * libcurl's multi interface, each with its own timeout; one slow or dead
 * exporter costs its own `up=0` and nothing else. The easy handles live as
 * long as the collector, so connections are kept alive between scrapes as
 * Prometheus does. Bodies go into a per-target buffer that is reused (and
 * bounded by max_body_size), and the parser (promtext.h) hands samples over
 * one by one with no allocation, straight into the line-protocol writer. */
#include "collectors/prometheus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "collectors/promtext.h"
#include "common/buf.h"
#include "common/clock.h"

#define ACCEPT_HEADER                                                         \
    "Accept: application/openmetrics-text;version=1.0.0,"                     \
    "text/plain;version=0.0.4;q=0.5"
#define TOKEN_MAX_BYTES 16384

struct prom_target {
    char *url;
    int64_t interval_ms;
    int64_t timeout_ms;
    struct pw_kv_list labels;
    char *bearer_token_file;
};

struct prom_config {
    struct pw_collector_common common;
    struct pw_section_list targets;     /* of struct prom_target */
    int64_t max_body_bytes;
};

static const struct pw_option target_options[] = {
    {"url", PW_OPT_STRING, offsetof(struct prom_target, url), NULL, true, 0, 0,
     NULL, "The endpoint to scrape (http or https), e.g. "
           "http://127.0.0.1:9100/metrics; also the `url` tag of its points."},
    {"interval", PW_OPT_DURATION, offsetof(struct prom_target, interval_ms), "0s",
     false, 0, 86400000.0, NULL,
     "Scrape this target every so often instead of every tick (0s: every "
     "tick); it is scraped on the first tick at least this long after the "
     "last scrape, so use a multiple of the collector's interval."},
    {"timeout", PW_OPT_DURATION, offsetof(struct prom_target, timeout_ms), "5s",
     false, 100, 600000.0, NULL,
     "Give up on a scrape after this long (connection included); the target "
     "then reports up=0."},
    {"labels", PW_OPT_MAP, offsetof(struct prom_target, labels), NULL, false, 0,
     0, NULL, "Extra tags on every point of this target (e.g. {job: node}); "
              "they win over a scraped label of the same name."},
    {"bearer_token_file", PW_OPT_STRING,
     offsetof(struct prom_target, bearer_token_file), NULL, false, 0, 0, NULL,
     "A file holding a bearer token, sent as `Authorization: Bearer`; read "
     "again on every scrape so that a rotated token is picked up."},
    PW_OPT_ITEM_END(struct prom_target),
};

static const struct pw_option prom_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct prom_config, "false", "15s"),
    {"targets", PW_OPT_SECTION_LIST, offsetof(struct prom_config, targets), NULL,
     false, 0, 1000, target_options,
     "The endpoints to scrape, each a mapping with the keys below."},
    {"max_body_size", PW_OPT_SIZE, offsetof(struct prom_config, max_body_bytes),
     "10MiB", false, 1024, 1073741824.0, NULL,
     "A response body larger than this fails the scrape (up=0)."},
    {0},
};

struct target_state {
    const struct prom_target *conf;
    CURL *easy;
    struct curl_slist *headers;
    struct pw_buf body;
    size_t max_body;
    bool too_big;
    bool active;            /* being fetched in this tick */
    bool done;              /* its transfer has finished (result is set) */
    bool scraped;
    int64_t last_tick_ns;
    CURLcode result;
    char errbuf[CURL_ERROR_SIZE];
    struct pw_lp_tag *fixed;    /* url and the target's labels */
    size_t nfixed;
};

struct prom_state {
    CURLM *multi;
    struct target_state *t;
    size_t n;
    struct pw_prom_parser parser;
    struct pw_lp_tag *tags;     /* reused for every sample */
    size_t tags_cap;
};

/* What a sample callback needs. */
struct emit {
    struct prom_state *st;
    struct target_state *t;
    struct pw_lp_writer *w;
    int64_t tick_ns;
    uint64_t written;
};

static struct pw_str cstr(const char *s)
{
    return (struct pw_str){s, strlen(s)};
}

static bool str_eq(struct pw_str a, struct pw_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static int key_cmp(struct pw_str a, struct pw_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.ptr, b.ptr, n);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct target_state *t = user;
    size_t n = size * nmemb;
    if (t->body.len + n > t->max_body) {
        t->too_big = true;
        return 0;                     /* aborts the transfer */
    }
    pw_buf_append(&t->body, data, n);
    return t->body.oom ? 0 : n;
}

static int setup_target(struct target_state *t, const struct prom_target *tc,
                        size_t max_body, struct pw_err *err)
{
    t->conf = tc;
    t->max_body = max_body;
    pw_buf_init(&t->body);
    if (!tc->url || (strncmp(tc->url, "http://", 7) != 0 &&
                     strncmp(tc->url, "https://", 8) != 0))
        return pw_err_set(err, "prometheus: target \"%s\": the url must start "
                          "with http:// or https://", tc->url ? tc->url : "");
    t->nfixed = 1 + tc->labels.len;
    t->fixed = calloc(t->nfixed, sizeof *t->fixed);
    if (!t->fixed)
        return pw_err_set(err, "prometheus: out of memory");
    t->fixed[0] = (struct pw_lp_tag){cstr("url"), cstr(tc->url)};
    for (size_t i = 0; i < tc->labels.len; i++) {
        if (strcmp(tc->labels.items[i].key, "url") == 0)
            return pw_err_set(err, "%s:%d: prometheus target %s: the label "
                              "\"url\" is set by the collector",
                              tc->labels.file ? tc->labels.file : "config",
                              tc->labels.items[i].line, tc->url);
        t->fixed[1 + i] = (struct pw_lp_tag){cstr(tc->labels.items[i].key),
                                             cstr(tc->labels.items[i].value)};
    }
    CURL *e = t->easy = curl_easy_init();
    if (!e)
        return pw_err_set(err, "prometheus: curl_easy_init failed");
    curl_easy_setopt(e, CURLOPT_URL, tc->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)tc->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)tc->timeout_ms);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");   /* gzip, deflate, ... */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "pipewatch-agent/" PW_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    return 0;
}

static void prom_stop(struct pw_collector *c)
{
    struct prom_state *st = c->state;
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++) {
        struct target_state *t = &st->t[i];
        if (t->easy) {
            if (t->active)
                curl_multi_remove_handle(st->multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        curl_slist_free_all(t->headers);
        pw_buf_release(&t->body);
        free(t->fixed);
    }
    if (st->multi)
        curl_multi_cleanup(st->multi);
    pw_prom_parser_release(&st->parser);
    free(st->tags);
    free(st->t);
    free(st);
    c->state = NULL;
    curl_global_cleanup();
}

static int prom_start(struct pw_collector *c, struct pw_err *err)
{
    const struct prom_config *cf = c->config;
    if (cf->targets.len == 0)
        return pw_err_set(err, "prometheus: no targets; list them under "
                          "collectors.prometheus.targets");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return pw_err_set(err, "prometheus: curl_global_init failed");
    struct prom_state *st = calloc(1, sizeof *st);
    if (!st) {
        curl_global_cleanup();
        return pw_err_set(err, "prometheus: out of memory");
    }
    c->state = st;
    st->t = calloc(cf->targets.len, sizeof *st->t);
    st->multi = curl_multi_init();
    if (!st->t || !st->multi) {
        prom_stop(c);
        return pw_err_set(err, "prometheus: out of memory");
    }
    st->n = cf->targets.len;
    const struct prom_target *targets = cf->targets.items;
    for (size_t i = 0; i < st->n; i++)
        if (setup_target(&st->t[i], &targets[i], (size_t)cf->max_body_bytes, err) < 0) {
            prom_stop(c);
            return -1;
        }
    pw_prom_parser_init(&st->parser, false);
    return 0;
}

/* The token file's first line, or NULL with err set. */
static char *read_token(const char *path, struct pw_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        pw_err_set(err, "cannot read bearer_token_file %s: %m", path);
        return NULL;
    }
    char *tok = calloc(1, TOKEN_MAX_BYTES + 1);
    size_t n = tok ? fread(tok, 1, TOKEN_MAX_BYTES, f) : 0;
    fclose(f);
    if (!tok) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    tok[n] = '\0';
    tok[strcspn(tok, "\r\n")] = '\0';
    if (!*tok) {
        free(tok);
        pw_err_set(err, "bearer_token_file %s is empty", path);
        return NULL;
    }
    return tok;
}

/* Prepares a due target for this tick; false (err set) if it cannot be. */
static bool prepare(struct target_state *t, struct pw_err *err)
{
    curl_slist_free_all(t->headers);
    t->headers = curl_slist_append(NULL, ACCEPT_HEADER);
    if (t->conf->bearer_token_file) {
        char *tok = read_token(t->conf->bearer_token_file, err);
        if (!tok)
            return false;
        size_t len = strlen(tok) + 32;
        char *h = malloc(len);
        if (h) {
            snprintf(h, len, "Authorization: Bearer %s", tok);
            struct curl_slist *l = curl_slist_append(t->headers, h);
            if (l)
                t->headers = l;
            free(h);
        }
        free(tok);
    }
    if (!t->headers)
        return pw_err_set(err, "out of memory"), false;
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    pw_buf_reset(&t->body);
    t->body.oom = false;
    t->too_big = false;
    t->errbuf[0] = '\0';
    t->result = CURLE_OK;
    t->done = false;
    return true;
}

static bool is_due(const struct target_state *t, int64_t tick_ns,
                   int64_t coll_interval_ms)
{
    /* Without an override every call is a tick of ours: always due. */
    if (!t->scraped || t->conf->interval_ms <= coll_interval_ms)
        return true;
    int64_t every = t->conf->interval_ms;
    /* Half a tick of slack: ticks may slip by jitter or a late loop. */
    return tick_ns - t->last_tick_ns >= (every - coll_interval_ms / 2) * 1000000;
}

/* Runs the transfers added to the multi handle until all are done. Each
 * has its own timeout, so this ends; the deadline is a second guard. */
static void run_transfers(struct prom_state *st, int64_t deadline_ms)
{
    int running = 1;
    while (running > 0) {
        if (curl_multi_perform(st->multi, &running) != CURLM_OK)
            break;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(st->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct target_state *t = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            if (t) {
                t->result = m->data.result;
                t->done = true;
            }
        }
        if (running == 0 || pw_mono_ms() > deadline_ms)
            break;
        curl_multi_poll(st->multi, NULL, 0, 200, NULL);
    }
    for (size_t i = 0; i < st->n; i++)
        if (st->t[i].active && !st->t[i].done)
            st->t[i].result = CURLE_OPERATION_TIMEDOUT;
}

static bool grow_tags(struct prom_state *st, size_t need)
{
    if (need <= st->tags_cap)
        return true;
    size_t cap = st->tags_cap ? st->tags_cap : 32;
    while (cap < need)
        cap *= 2;
    struct pw_lp_tag *t = realloc(st->tags, cap * sizeof *t);
    if (!t)
        return false;
    st->tags = t;
    st->tags_cap = cap;
    return true;
}

static bool is_fixed(const struct target_state *t, struct pw_str name)
{
    for (size_t i = 0; i < t->nfixed; i++)
        if (str_eq(t->fixed[i].key, name))
            return true;
    return false;
}

static int on_sample(void *ctx, const struct pw_prom_sample *s)
{
    struct emit *e = ctx;
    struct prom_state *st = e->st;
    struct target_state *t = e->t;
    if (!grow_tags(st, s->nlabels + t->nfixed))
        return 0;                       /* counted below as not written */
    size_t n = 0;
    for (size_t i = 0; i < s->nlabels; i++)
        if (!is_fixed(t, s->labels[i].name))
            st->tags[n++] = (struct pw_lp_tag){s->labels[i].name, s->labels[i].value};
    for (size_t i = 0; i < t->nfixed; i++)
        st->tags[n++] = t->fixed[i];
    for (size_t i = 1; i < n; i++) {    /* insertion sort: n is small */
        struct pw_lp_tag x = st->tags[i];
        size_t j = i;
        for (; j > 0 && key_cmp(st->tags[j - 1].key, x.key) > 0; j--)
            st->tags[j] = st->tags[j - 1];
        st->tags[j] = x;
    }
    struct pw_lp_field f = {.key = s->name, .type = PW_FIELD_FLOAT, .v.f = s->value};
    int64_t ts = e->tick_ns;
    if (s->has_ts && s->ts_ms > -9000000000000LL && s->ts_ms < 9000000000000LL)
        ts = s->ts_ms * 1000000;
    struct pw_lp_point p = {cstr("prometheus"), st->tags, n, &f, 1, ts, true};
    if (pw_lp_write_point(e->w, &p) == 1)
        e->written++;
    return 0;
}

static void write_up(struct prom_state *st, struct target_state *t,
                     struct pw_lp_writer *w, int64_t tick_ns, bool up,
                     double seconds, uint64_t samples, uint64_t parse_errors)
{
    if (!grow_tags(st, t->nfixed))
        return;
    /* The fixed tags sorted: url among the target's labels. */
    struct pw_lp_tag *tags = st->tags;
    size_t n = t->nfixed;
    memcpy(tags, t->fixed, n * sizeof *tags);
    for (size_t i = 1; i < n; i++) {
        struct pw_lp_tag x = tags[i];
        size_t j = i;
        for (; j > 0 && key_cmp(tags[j - 1].key, x.key) > 0; j--)
            tags[j] = tags[j - 1];
        tags[j] = x;
    }
    struct pw_lp_field f[4] = {
        {.key = cstr("up"), .type = PW_FIELD_FLOAT, .v.f = up ? 1 : 0},
        {.key = cstr("scrape_duration_seconds"), .type = PW_FIELD_FLOAT, .v.f = seconds},
        {.key = cstr("scrape_samples_scraped"), .type = PW_FIELD_FLOAT, .v.f = (double)samples},
        {.key = cstr("scrape_parse_errors"), .type = PW_FIELD_FLOAT, .v.f = (double)parse_errors},
    };
    struct pw_lp_point p = {cstr("prometheus"), tags, n, f, 4, tick_ns, true};
    pw_lp_write_point(w, &p);
}

/* Adds "url: what" to the collect error (the first three in full). */
static void note_failure(char *msg, size_t cap, size_t *failed,
                         const char *url, const char *what)
{
    size_t len = strlen(msg);
    if (*failed < 3 && len < cap)
        snprintf(msg + len, cap - len, "%s%s: %s", *failed ? "; " : "", url, what);
    (*failed)++;
}

/* Turns one finished transfer into points; returns false if it failed. */
static bool finish_target(struct prom_state *st, struct target_state *t,
                          struct pw_lp_writer *w, int64_t tick_ns,
                          char *why, size_t why_cap)
{
    long status = 0;
    curl_off_t total_us = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    int64_t parse0 = pw_mono_ns();
    bool ok = false;
    struct pw_prom_stats ps = {0};
    if (t->too_big)
        snprintf(why, why_cap, "body larger than max_body_size (%zu bytes)", t->max_body);
    else if (t->body.oom)
        snprintf(why, why_cap, "out of memory for the body");
    else if (t->result != CURLE_OK)
        snprintf(why, why_cap, "%s", t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
    else if (status < 200 || status > 299)
        snprintf(why, why_cap, "HTTP status %ld", status);
    else
        ok = true;
    if (ok) {
        char *ct = NULL;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct);
        st->parser.openmetrics =
            ct && strncmp(ct, "application/openmetrics-text", 28) == 0;
        struct emit e = {st, t, w, tick_ns, 0};
        pw_prom_parse(&st->parser, t->body.data ? t->body.data : "", t->body.len,
                      on_sample, NULL, &e, &ps);
        if (ps.errors)
            snprintf(why, why_cap, "%llu malformed lines skipped, first %s",
                     (unsigned long long)ps.errors, ps.first_error);
    }
    double seconds = (double)total_us / 1e6 + (double)(pw_mono_ns() - parse0) / 1e9;
    write_up(st, t, w, tick_ns, ok, seconds, ps.samples, ps.errors);
    t->scraped = true;
    t->last_tick_ns = tick_ns;
    return ok && ps.errors == 0;
}

static int prom_collect(struct pw_collector *c, int64_t ts_ns,
                        struct pw_lp_writer *out, struct pw_err *err)
{
    const struct prom_config *cf = c->config;
    struct prom_state *st = c->state;
    char msg[sizeof err->msg] = "";
    size_t failed = 0, due = 0;
    int64_t longest_ms = 0;
    for (size_t i = 0; i < st->n; i++) {
        struct target_state *t = &st->t[i];
        t->active = false;
        if (!is_due(t, ts_ns, cf->common.interval_ms))
            continue;
        due++;
        struct pw_err perr;
        if (!prepare(t, &perr)) {
            note_failure(msg, sizeof msg, &failed, t->conf->url, perr.msg);
            write_up(st, t, out, ts_ns, false, 0, 0, 0);
            t->scraped = true;
            t->last_tick_ns = ts_ns;
            continue;
        }
        if (curl_multi_add_handle(st->multi, t->easy) != CURLM_OK) {
            note_failure(msg, sizeof msg, &failed, t->conf->url,
                         "cannot add the transfer");
            continue;
        }
        t->active = true;
        if (t->conf->timeout_ms > longest_ms)
            longest_ms = t->conf->timeout_ms;
    }
    run_transfers(st, pw_mono_ms() + longest_ms + 2000);
    for (size_t i = 0; i < st->n; i++) {
        struct target_state *t = &st->t[i];
        if (!t->active)
            continue;
        curl_multi_remove_handle(st->multi, t->easy);
        t->active = false;
        char why[300] = "";
        if (!finish_target(st, t, out, ts_ns, why, sizeof why))
            note_failure(msg, sizeof msg, &failed, t->conf->url, why);
    }
    if (out->buf.oom)
        return pw_err_set(err, "prometheus: out of memory while encoding");
    if (failed)
        return pw_err_set(err, "prometheus: %zu of %zu targets failed: %s", failed,
                          due, msg);
    return 0;
}

const struct pw_collector_ops pw_prometheus_collector = {
    .name = "prometheus",
    .options = prom_options,
    .config_size = sizeof(struct prom_config),
    .start = prom_start,
    .collect = prom_collect,
    .stop = prom_stop,
};
