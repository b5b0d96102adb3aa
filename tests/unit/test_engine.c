/* tests/unit/test_engine.c — the analyzer's engine and state: forecast,
 * anomaly and log-burst rules fire and resolve with hysteresis; a
 * checkpointed entity continues where it stopped (no cold start); a
 * revoked partition's entities go and the rest stay. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "analyzer/engine.h"
#include "models/tagger.h"

#include "tests/unit/testing.h"

#define T0_NS 1700000000000000000LL
#define S 1000000000LL

struct events {
    int n, firing, resolved;
    char last[4096];
    int64_t first_fire_ns;
    double last_eta, last_conf;
    enum pw_rule_kind last_kind;
};

static void on_event(const struct pw_prediction *p, void *arg)
{
    struct events *ev = arg;
    ev->n++;
    if (p->status == PW_PRED_FIRING) {
        if (!ev->firing)
            ev->first_fire_ns = p->at_ns;
        ev->firing++;
    } else {
        ev->resolved++;
    }
    ev->last_eta = p->eta_s;
    ev->last_conf = p->confidence;
    ev->last_kind = p->kind;
    snprintf(ev->last, sizeof ev->last, "%s", p->json);
}

static struct pw_engine_rule rules[4];
static const char *features[2] = {"cpu.usage", "net.errors"};

static struct pw_engine *new_engine(struct events *ev, const struct pw_logclass *lc)
{
    static const char *exprs[4] = {
        "disk.used_percent{path=\"/\"} > 95 within 6h",
        "anomaly > 0.7",
        "log category out_of_memory > 3 per 5m",
        "kafka_lag.lag > 1e6 within 1h",
    };
    static const char *names[4] = {"disk_full", "unusual", "oom_burst", "lag"};
    struct pw_err err = {{0}};
    for (int i = 0; i < 4; i++) {
        pw_rule_release(&rules[i].rule);
        ck_assert_msg(pw_rule_parse(exprs[i], &rules[i].rule, &err) == 0, "%s", err.msg);
        rules[i].name = names[i];
        rules[i].severity = "warning";
        rules[i].clear_for_ms = 120000;
    }
    struct pw_engine_config c = {
        .rules = rules, .nrules = 4, .features = features, .nfeatures = 2,
        .eval_interval_ms = 10000, .refresh_ms = 3600000, .trend_capacity = 120,
    };
    pw_hw_model_default(&c.default_model, 0, 10, false);
    memset(ev, 0, sizeof *ev);
    struct pw_engine *e = pw_engine_new(&c, lc, on_event, ev, &err);
    ck_assert_msg(e != NULL, "%s", err.msg);
    return e;
}

static void sample(struct pw_engine *e, const char *entity, const char *series,
                   double v, int64_t ts_ns, int32_t partition)
{
    struct pw_sample s;
    s.entity = (struct pw_str){entity, strlen(entity)};
    s.series = (struct pw_str){series, strlen(series)};
    size_t meas = strcspn(series, ", ");
    s.measurement = (struct pw_str){series, meas};
    const char *field = strrchr(series, ' ') + 1;
    s.field = (struct pw_str){field, strlen(field)};
    s.value = v;
    s.ts_ns = ts_ns;
    pw_engine_sample(e, &s, partition);
}

#define DISK "disk,path=/ used_percent"

/* 50 % rising 0.002 %/s (7.2 %/h), every 10 s: 95 % is reached 22500 s
 * after the start. The rule's horizon is 6 h, so its window is 3 h and it
 * may extrapolate two window spans: it can fire from about t = 7500 s
 * (span 7500 s, ETA 15000 s), sample 750. */
static int64_t feed_disk(struct pw_engine *e, int from, int to, gsl_rng *rng)
{
    int64_t ts = 0;
    for (int i = from; i < to; i++) {
        ts = T0_NS + (int64_t)i * 10 * S;
        sample(e, "host-1", DISK, 50 + 0.002 * i * 10 + gsl_ran_gaussian(rng, 0.2), ts, 0);
    }
    return ts;
}

START_TEST(forecast_fires_with_eta_and_resolves)
{
    struct events ev;
    struct pw_engine *e = new_engine(&ev, NULL);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int64_t ts = feed_disk(e, 0, 1080, rng);   /* 3 hours */
    ck_assert_int_eq(ev.firing, 1);
    ck_assert_int_eq(ev.resolved, 0);
    ck_assert_int_eq(ev.last_kind, PW_RULE_FORECAST);
    /* The truth at the firing time t: 22500 - t seconds. */
    double t = (double)(ev.first_fire_ns - T0_NS) / 1e9;
    json_error_t jerr;
    json_t *o = json_loads(ev.last, 0, &jerr);
    ck_assert_msg(o != NULL, "%s", jerr.text);
    double eta = json_real_value(json_object_get(o, "eta_s"));
    ck_assert_msg(fabs(eta - (22500 - t)) < 0.05 * (22500 - t), "eta %g, truth %g", eta,
                  22500 - t);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "version")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(o, "status")), "firing");
    ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "forecast_breach");
    ck_assert_str_eq(json_string_value(json_object_get(o, "entity")), "host-1");
    ck_assert_str_eq(json_string_value(json_object_get(o, "series")), DISK);
    ck_assert(ev.last_conf > 0.9);
    json_t *evid = json_object_get(o, "evidence");
    double slope = json_real_value(json_object_get(evid, "slope_per_s"));
    ck_assert_msg(slope > 0.0018 && slope < 0.0022, "slope %g", slope);
    ck_assert_double_eq(json_real_value(json_object_get(evid, "threshold")), 95);
    json_decref(o);
    /* The API lists it. */
    struct pw_buf b;
    pw_buf_init(&b);
    pw_engine_active_json(e, &b);
    ck_assert_msg(strstr(b.data, "\"rule\":\"disk_full\"") != NULL, "%s", b.data);
    pw_buf_release(&b);
    /* The disk is cleaned up: flat at 20 %. It stays firing through
     * clear_for (2 min) and then resolves, once. */
    int i = 1;
    for (; i < 6; i++)
        sample(e, "host-1", DISK, 20 + gsl_ran_gaussian(rng, 0.2), ts + i * 10 * S, 0);
    ck_assert_int_eq(ev.firing, 1);
    for (; i < 200; i++)
        sample(e, "host-1", DISK, 20 + gsl_ran_gaussian(rng, 0.2), ts + i * 10 * S, 0);
    ck_assert_int_eq(ev.firing, 1);
    ck_assert_int_eq(ev.resolved, 1);
    ck_assert_msg(strstr(ev.last, "\"status\":\"resolved\"") != NULL, "%s", ev.last);
    gsl_rng_free(rng);
    pw_engine_free(e);
}
END_TEST

START_TEST(no_prediction_without_a_trend)
{
    struct events ev;
    struct pw_engine *e = new_engine(&ev, NULL);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    for (int i = 0; i < 2000; i++) {
        int64_t ts = T0_NS + (int64_t)i * 10 * S;
        sample(e, "host-1", DISK, 80 + gsl_ran_gaussian(rng, 3), ts, 0);
        /* The rule's tag filter: another path never counts. */
        sample(e, "host-1", "disk,path=/data used_percent", 50 + 0.02 * i, ts, 0);
        sample(e, "host-2", "kafka_lag,group=etl lag", 1000 + gsl_ran_gaussian(rng, 100),
               ts, 0);
    }
    ck_assert_int_eq(ev.n, 0);
    ck_assert_uint_eq(pw_state_series_count(pw_engine_state(e)), 3);
    ck_assert_uint_eq(pw_state_watches(pw_engine_state(e)), 2);
    gsl_rng_free(rng);
    pw_engine_free(e);
}
END_TEST

/* The entity is checkpointed half-way through a building trend and
 * restored into a fresh engine: it fires at the same sample as the engine
 * that never stopped, with the same ETA. */
START_TEST(checkpoint_continues_without_cold_start)
{
    struct events a, b;
    struct pw_engine *ea = new_engine(&a, NULL);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    feed_disk(ea, 0, 1080, rng);
    ck_assert_int_eq(a.firing, 1);
    pw_engine_free(ea);

    /* Same data, interrupted after 400 samples (before it can fire). */
    ea = new_engine(&a, NULL);
    gsl_rng_set(rng, 0);
    feed_disk(ea, 0, 400, rng);
    ck_assert_int_eq(a.firing, 0);
    struct pw_state *st = pw_engine_state(ea);
    uint32_t idx = pw_state_find_entity(st, "host-1", 6);
    ck_assert_uint_ne(idx, PW_NONE);
    struct pw_buf buf;
    pw_buf_init(&buf);
    struct pw_err err = {{0}};
    ck_assert_msg(pw_state_encode_entity(st, idx, &buf, &err) == 0, "%s", err.msg);

    struct pw_engine *eb = new_engine(&b, NULL);
    /* Every truncation is refused and changes nothing. */
    for (size_t cut = 0; cut < buf.len; cut += 7)
        ck_assert_uint_eq(pw_state_decode_entity(pw_engine_state(eb), buf.data, cut, 3, &err),
                          PW_NONE);
    ck_assert_uint_eq(pw_state_entities(pw_engine_state(eb)), 0);
    ck_assert_msg(pw_state_decode_entity(pw_engine_state(eb), buf.data, buf.len, 3, &err) !=
                  PW_NONE, "%s", err.msg);
    ck_assert_int_eq(pw_state_entity_at(pw_engine_state(eb), 0)->partition, 3);
    feed_disk(eb, 400, 1080, rng);
    ck_assert_int_eq(b.firing, 1);
    /* The reference run of the same data fired at the same moment. */
    struct events c;
    struct pw_engine *ec = new_engine(&c, NULL);
    gsl_rng_set(rng, 0);
    feed_disk(ec, 0, 1080, rng);
    ck_assert_int_eq(c.firing, 1);
    ck_assert_int_eq(b.first_fire_ns, c.first_fire_ns);
    ck_assert_double_eq_tol(b.last_eta, c.last_eta, 1e-6);
    /* Without the checkpoint the restored engine would still be cold:
     * the last 680 samples alone fire later. */
    struct events d;
    struct pw_engine *ed = new_engine(&d, NULL);
    gsl_rng_set(rng, 0);
    feed_disk(ed, 0, 400, rng);   /* discarded: a new engine below */
    pw_engine_free(ed);
    ed = new_engine(&d, NULL);
    feed_disk(ed, 400, 1080, rng);
    ck_assert(d.firing == 0 || d.first_fire_ns > c.first_fire_ns);
    pw_buf_release(&buf);
    gsl_rng_free(rng);
    pw_engine_free(ea);
    pw_engine_free(eb);
    pw_engine_free(ec);
    pw_engine_free(ed);
}
END_TEST

/* An entity too large for one Kafka message is checkpointed in parts, each
 * within the limit, and the parts restore the whole entity: it encodes to
 * the same bytes as the original, whichever order the parts come in. */
START_TEST(large_entity_checkpoints_in_parts)
{
    struct events a, b;
    struct pw_engine *ea = new_engine(&a, NULL);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    feed_disk(ea, 0, 400, rng);   /* one watched series, with a trend window */
    char key[64];
    for (int k = 0; k < 4000; k++) {
        snprintf(key, sizeof key, "app,id=%d value", k);
        for (int i = 0; i < 3; i++)
            sample(ea, "host-1", key, k + i, T0_NS + (int64_t)i * 10 * S, 0);
    }
    struct pw_state *st = pw_engine_state(ea);
    uint32_t idx = pw_state_find_entity(st, "host-1", 6);
    struct pw_buf whole, parts;
    pw_buf_init(&whole);
    pw_buf_init(&parts);
    struct pw_err err = {{0}};
    ck_assert_msg(pw_state_encode_entity(st, idx, &whole, &err) == 0, "%s", err.msg);
    ck_assert_uint_gt(whole.len, 1000000);     /* past Kafka's default limit */
    size_t *ends;
    const size_t max = 64 * 1024;
    int n = pw_state_encode_entity_parts(st, idx, max, &parts, &ends, &err);
    ck_assert_msg(n > 1, "%d parts: %s", n, err.msg);
    for (int k = 0; k < n; k++)
        ck_assert_uint_le(ends[k] - (k ? ends[k - 1] : 0), max);

    /* Small enough for one part: the same bytes as the whole. */
    struct pw_buf one;
    pw_buf_init(&one);
    size_t *one_end;
    ck_assert_int_eq(pw_state_encode_entity_parts(st, idx, SIZE_MAX, &one, &one_end, &err), 1);
    ck_assert_uint_eq(one_end[0], whole.len);
    ck_assert(memcmp(one.data, whole.data, whole.len) == 0);
    free(one_end);
    pw_buf_release(&one);
    pw_engine_free(ea);

    /* (One engine at a time: new_engine re-parses the rules they share.) */
    for (int backwards = 0; backwards < 2; backwards++) {
        struct pw_engine *eb = new_engine(&b, NULL);
        for (int j = 0; j < n; j++) {
            int k = backwards ? n - 1 - j : j;
            size_t from = k ? ends[k - 1] : 0;
            ck_assert_msg(pw_state_decode_entity(pw_engine_state(eb), parts.data + from,
                                                 ends[k] - from, 0, &err) != PW_NONE,
                          "%s", err.msg);
        }
        ck_assert_uint_eq(pw_state_series_count(pw_engine_state(eb)), 4001);
        struct pw_buf again;
        pw_buf_init(&again);
        ck_assert(pw_state_encode_entity(pw_engine_state(eb), 0, &again, &err) == 0);
        ck_assert_uint_eq(again.len, whole.len);
        ck_assert(memcmp(again.data, whole.data, whole.len) == 0);
        pw_buf_release(&again);
        pw_engine_free(eb);
    }
    free(ends);
    pw_buf_release(&whole);
    pw_buf_release(&parts);
    gsl_rng_free(rng);
}
END_TEST

static void log_line(struct pw_engine *e, const char *entity, const char *line, int64_t ts)
{
    struct pw_log_record r = {
        .entity = {entity, strlen(entity)}, .source = {"/var/log/app.log", 16},
        .line = {line, strlen(line)}, .ts_ns = ts,
    };
    pw_engine_log(e, &r, 0);
}

START_TEST(log_burst_fires_and_clears)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", getenv("PW_SOURCE_DIR"), PW_TAGGER_DEFAULT_TSV);
    struct pw_err err = {{0}};
    struct pw_logclass *lc = pw_tagger_default_model(path, &err);
    ck_assert_msg(lc != NULL, "%s", err.msg);
    struct events ev;
    struct pw_engine *e = new_engine(&ev, lc);
    int64_t t = T0_NS;
    /* Three OOMs in five minutes are not more than three. */
    for (int i = 0; i < 3; i++) {
        log_line(e, "etl-1", "java.lang.OutOfMemoryError: Java heap space", t += 60 * S);
        log_line(e, "etl-1", "INFO task 42 finished in 3.5 s", t += S);
    }
    ck_assert_int_eq(ev.n, 0);
    log_line(e, "etl-1", "java.lang.OutOfMemoryError: Java heap space", t += 60 * S);
    ck_assert_int_eq(ev.firing, 1);
    ck_assert_int_eq(ev.last_kind, PW_RULE_LOG_BURST);
    ck_assert_msg(strstr(ev.last, "OutOfMemoryError") != NULL, "%s", ev.last);
    ck_assert(ev.last_conf > 0.5);
    /* Quiet. The OOMs were at t - 183, -122, -61 and 0 s: a minute later
     * four still fall within 5 min; at t + 150 s the first has left (the
     * burst is over) but clear_for (2 min since the last true tick, t +
     * 60 s) has not passed; at t + 4 min it has, and it resolves, once. */
    pw_engine_tick(e, t + 60 * S);
    ck_assert_int_eq(ev.resolved, 0);
    pw_engine_tick(e, t + 150 * S);
    ck_assert_int_eq(ev.resolved, 0);
    pw_engine_tick(e, t + 4 * 60 * S);
    ck_assert_int_eq(ev.resolved, 1);
    pw_engine_tick(e, t + 8 * 60 * S);
    ck_assert_int_eq(ev.resolved, 1);
    ck_assert_int_eq(ev.firing, 1);
    pw_engine_free(e);
    pw_logclass_free(lc);
}
END_TEST

START_TEST(anomaly_fires_with_attribution)
{
    struct events ev;
    struct pw_engine *e = new_engine(&ev, NULL);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    enum { N = 1000 };
    double *x = malloc(N * 2 * sizeof *x);
    for (int i = 0; i < N; i++) {
        x[2 * i] = 40 + gsl_ran_gaussian(rng, 5);
        x[2 * i + 1] = 2 + gsl_ran_gaussian(rng, 1);
    }
    struct pw_iforest_config fc;
    pw_iforest_config_default(&fc);
    struct pw_err err = {{0}};
    struct pw_iforest *f = pw_iforest_fit(x, N, 2, &fc, &err);
    ck_assert_msg(f != NULL, "%s", err.msg);
    struct pw_engine_models m = {.forest = f, .anomaly_threshold = NAN};
    ck_assert_msg(pw_engine_set_models(e, &m, &err) == 0, "%s", err.msg);
    int64_t t = T0_NS;
    for (int i = 0; i < 50; i++) {
        sample(e, "web-1", "cpu usage", 40 + gsl_ran_gaussian(rng, 5), t += 10 * S, 0);
        sample(e, "web-1", "net errors", 2 + gsl_ran_gaussian(rng, 1), t, 0);
        pw_engine_tick(e, t);
    }
    ck_assert_int_eq(ev.n, 0);
    ck_assert_uint_eq(pw_engine_stats(e)->scored, 50);
    /* Errors jump while the CPU looks normal. */
    sample(e, "web-1", "net errors", 40, t += 10 * S, 0);
    pw_engine_tick(e, t);
    ck_assert_int_eq(ev.firing, 1);
    ck_assert_int_eq(ev.last_kind, PW_RULE_ANOMALY);
    json_t *o = json_loads(ev.last, 0, NULL);
    json_t *feats = json_object_get(json_object_get(o, "evidence"), "features");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(feats, 0), "name")),
                     "net.errors");
    json_decref(o);
    /* A forest for another feature count is refused; the old one stays. */
    struct pw_iforest *f3 = pw_iforest_fit(x, N / 3, 3, &fc, &err);
    struct pw_engine_models m3 = {.forest = f3, .anomaly_threshold = NAN};
    ck_assert_int_eq(pw_engine_set_models(e, &m3, &err), -1);
    ck_assert_msg(strstr(err.msg, "3 features") != NULL, "%s", err.msg);
    pw_iforest_free(f3);
    pw_engine_free(e);
    pw_iforest_free(f);
    free(x);
    gsl_rng_free(rng);
}
END_TEST

START_TEST(revoked_partition_entities_go)
{
    struct events ev;
    struct pw_engine *e = new_engine(&ev, NULL);
    struct pw_state *st = pw_engine_state(e);
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "host-%d", i);
        for (int k = 0; k < 3; k++) {
            char series[64];
            snprintf(series, sizeof series, "disk,path=/%s used_percent", k ? "x" : "");
            series[strlen("disk,path=/")] = k == 2 ? 'y' : series[strlen("disk,path=/")];
            sample(e, name, series, 10 + k, T0_NS + (int64_t)k * S, i % 3);
        }
    }
    size_t series = pw_state_series_count(st);
    ck_assert_uint_eq(pw_state_entities(st), 300);
    ck_assert_uint_eq(pw_state_drop_partition(st, 1), 100);
    ck_assert_uint_eq(pw_state_entities(st), 200);
    ck_assert_uint_eq(pw_state_series_count(st), series * 2 / 3);
    ck_assert_uint_eq(pw_state_watches(st), 200);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "host-%d", i);
        uint32_t idx = pw_state_find_entity(st, name, strlen(name));
        ck_assert_int_eq(idx == PW_NONE, i % 3 == 1);
        if (idx != PW_NONE) {
            /* Series still found, and a new sample lands in the old one. */
            sample(e, name, "disk,path=/ used_percent", 5, T0_NS + 10 * S, i % 3);
            ck_assert_uint_eq(pw_state_entity_at(st, idx)->nseries, 3);
        }
    }
    ck_assert_uint_eq(pw_state_series_count(st), series * 2 / 3);
    pw_engine_free(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("engine");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, forecast_fires_with_eta_and_resolves);
    tcase_add_test(tc, no_prediction_without_a_trend);
    tcase_add_test(tc, checkpoint_continues_without_cold_start);
    tcase_add_test(tc, large_entity_checkpoints_in_parts);
    tcase_add_test(tc, log_burst_fires_and_clears);
    tcase_add_test(tc, anomaly_fires_with_attribution);
    tcase_add_test(tc, revoked_partition_entities_go);
    suite_add_tcase(s, tc);
    int rc = pw_run_suite(s);
    for (int i = 0; i < 4; i++)
        pw_rule_release(&rules[i].rule);
    return rc;
}
