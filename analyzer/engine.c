/* analyzer/engine.c — rules applied to samples and log lines (engine.h). */
#include "analyzer/engine.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/words.h"
#include "models/tagger.h"

struct pw_engine {
    struct pw_engine_config cfg;
    struct pw_rule *rules;             /* copies of cfg.rules[i].rule (shallow) */
    struct pw_state *st;
    struct pw_tagger *tagger;
    const struct pw_logclass *logclass_default;
    const struct pw_logclass *logclass;
    /* Holt-Winters models in service: [0] the configured default, then the
     * bundle's; names parallel. */
    struct pw_hw_model *hw;
    const char **hw_names;
    size_t nhw;
    const struct pw_iforest *forest;
    double anomaly_threshold;
    double *attr;                      /* nfeatures scratch */
    pw_prediction_fn fn;
    void *arg;
    struct pw_engine_stats stats;
    int64_t watermark_ns;
};

/* transition()'s third outcome beside PW_PRED_FIRING and _RESOLVED. */
#define REFRESH 2

static const char *kind_event_name(enum pw_rule_kind k)
{
    switch (k) {
    case PW_RULE_FORECAST: return "forecast_breach";
    case PW_RULE_ANOMALY: return "anomaly";
    case PW_RULE_LOG_BURST: return "log_burst";
    }
    return "unknown";
}

static void iso_time(int64_t ns, char *out, size_t size)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", day, (int)((ns % 1000000000) / 1000000));
}

static void fingerprint(const char *entity, const char *rule, const char *series,
                        char out[17])
{
    uint64_t h = 1469598103934665603ull;
    const char *parts[3] = {entity, rule, series ? series : ""};
    for (size_t p = 0; p < 3; p++) {
        for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
            h ^= *c;
            h *= 1099511628211ull;
        }
        h ^= 0xff;
        h *= 1099511628211ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Fills the parts of an event common to every kind, hands it out, frees. */
static void emit(struct pw_engine *e, struct pw_prediction *p, json_t *evidence)
{
    if ((int)p->status == REFRESH) {
        p->status = PW_PRED_FIRING;
        p->update = true;
    }
    char expr[512], at[64], first[64], eta_at[64];
    size_t ri = 0;
    for (; ri < e->cfg.nrules; ri++)
        if (strcmp(e->cfg.rules[ri].name, p->rule) == 0)
            break;
    pw_rule_format(&e->rules[ri], expr, sizeof expr);
    p->expr = expr;
    fingerprint(p->entity, p->rule, p->series, p->fingerprint);
    iso_time(p->at_ns, at, sizeof at);
    iso_time(p->first_seen_ns, first, sizeof first);
    json_t *o = json_object();
    json_object_set_new(o, "version", json_integer(PW_PREDICTION_VERSION));
    json_object_set_new(o, "fingerprint", json_string(p->fingerprint));
    json_object_set_new(o, "status",
                        json_string(p->status == PW_PRED_FIRING ? "firing" : "resolved"));
    json_object_set_new(o, "update", json_boolean(p->update));
    json_object_set_new(o, "entity", json_string(p->entity));
    json_object_set_new(o, "rule", json_string(p->rule));
    json_object_set_new(o, "expr", json_string(expr));
    json_object_set_new(o, "kind", json_string(kind_event_name(p->kind)));
    json_object_set_new(o, "severity", json_string(p->severity));
    if (p->series)
        json_object_set_new(o, "series", json_string(p->series));
    json_object_set_new(o, "eta_s", num(p->eta_s));
    if (isfinite(p->eta_s)) {
        iso_time(p->at_ns + (int64_t)(p->eta_s * 1e9), eta_at, sizeof eta_at);
        json_object_set_new(o, "eta", json_string(eta_at));
    }
    json_object_set_new(o, "confidence", num(p->confidence));
    json_object_set_new(o, "first_seen", json_string(first));
    json_object_set_new(o, "at", json_string(at));
    json_object_set_new(o, "summary", json_string(p->summary));
    json_object_set_new(o, "evidence", evidence ? evidence : json_object());
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (!text)
        return;
    p->json = text;
    if (p->status == PW_PRED_FIRING && !p->update)
        e->stats.fired[p->kind]++;
    if (p->status == PW_PRED_RESOLVED)
        e->stats.resolved[p->kind]++;
    e->fn(p, e->arg);
    free(text);
}

/* Moves a prediction through firing / refresh / resolve for one
 * evaluation at event time now. Returns the status to emit (REFRESH: firing
 * again, with news), or -1. */
static int transition(const struct pw_engine *e, const struct pw_engine_rule *r,
                      struct pw_pred *pred, bool cond, int64_t now)
{
    if (cond) {
        pred->last_true_ns = now;
        if (!pred->active) {
            pred->active = true;
            pred->first_seen_ns = now;
            pred->notified_ns = now;
            return PW_PRED_FIRING;
        }
        if (now - pred->notified_ns >= e->cfg.refresh_ms * 1000000) {
            pred->notified_ns = now;
            return REFRESH;
        }
        return -1;
    }
    if (pred->active && now - pred->last_true_ns >= r->clear_for_ms * 1000000) {
        pred->active = false;
        pred->notified_ns = now;
        return PW_PRED_RESOLVED;
    }
    return -1;
}

struct pw_engine *pw_engine_new(const struct pw_engine_config *cfg,
                                const struct pw_logclass *logclass_default,
                                pw_prediction_fn fn, void *arg, struct pw_err *err)
{
    struct pw_engine *e = calloc(1, sizeof *e);
    if (!e) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    e->fn = fn;
    e->arg = arg;
    e->logclass_default = e->logclass = logclass_default;
    e->anomaly_threshold = NAN;
    e->rules = calloc(cfg->nrules ? cfg->nrules : 1, sizeof *e->rules);
    e->hw = malloc(sizeof *e->hw);
    e->hw_names = calloc(1, sizeof *e->hw_names);
    e->attr = calloc(cfg->nfeatures ? cfg->nfeatures : 1, sizeof *e->attr);
    if (!e->rules || !e->hw || !e->hw_names || !e->attr) {
        pw_err_set(err, "out of memory");
        pw_engine_free(e);
        return NULL;
    }
    for (size_t i = 0; i < cfg->nrules; i++)
        e->rules[i] = cfg->rules[i].rule;
    e->hw[0] = cfg->default_model;
    e->hw_names[0] = "";
    e->nhw = 1;
    if (pw_hw_model_check(&e->hw[0], err) < 0) {
        pw_err_prefix(err, "the default forecast model");
        pw_engine_free(e);
        return NULL;
    }
    struct pw_state_config sc = {
        .rules = e->rules, .nrules = cfg->nrules,
        .features = cfg->features, .nfeatures = cfg->nfeatures,
        .models = e->hw, .model_names = e->hw_names, .nmodels = 1,
    };
    if (!e->cfg.trend_capacity)
        e->cfg.trend_capacity = 120;
    pw_trend_config_default(&sc.trend, e->cfg.trend_capacity, 0);
    if (!(e->st = pw_state_new(&sc, err)) ||
        !(e->tagger = pw_tagger_new(NULL, e->logclass, err))) {
        pw_engine_free(e);
        return NULL;
    }
    return e;
}

void pw_engine_free(struct pw_engine *e)
{
    if (!e)
        return;
    pw_state_free(e->st);
    pw_tagger_free(e->tagger);
    free(e->rules);
    free(e->hw);
    free(e->hw_names);
    free(e->attr);
    free(e);
}

int pw_engine_set_models(struct pw_engine *e, const struct pw_engine_models *m,
                         struct pw_err *err)
{
    if (m->forest && pw_iforest_features(m->forest) != e->cfg.nfeatures)
        return pw_err_set(err, "the bundle's isolation forest scores %zu features, the "
                          "configuration lists %zu", pw_iforest_features(m->forest),
                          e->cfg.nfeatures);
    size_t n = 1 + m->nhw;
    struct pw_hw_model *hw = malloc(n * sizeof *hw);
    const char **names = malloc(n * sizeof *names);
    if (!hw || !names) {
        free(hw);
        free(names);
        return pw_err_set(err, "out of memory");
    }
    hw[0] = e->hw[0];
    names[0] = "";
    for (size_t i = 0; i < m->nhw; i++) {
        if (pw_hw_model_check(&m->hw[i], err) < 0) {
            free(hw);
            free(names);
            return pw_err_prefix(err, "forecast model %s", m->hw_names[i]);
        }
        hw[1 + i] = m->hw[i];
        names[1 + i] = m->hw_names[i];
    }
    const struct pw_logclass *lc = m->logclass ? m->logclass : e->logclass_default;
    if (lc != e->logclass) {
        struct pw_tagger *t = pw_tagger_new(NULL, lc, err);
        if (!t) {
            free(hw);
            free(names);
            return -1;
        }
        pw_tagger_free(e->tagger);
        e->tagger = t;
        e->logclass = lc;
    }
    pw_state_set_models(e->st, hw, names, n);
    free(e->hw);
    free(e->hw_names);
    e->hw = hw;
    e->hw_names = names;
    e->nhw = n;
    e->forest = m->forest;
    e->anomaly_threshold = m->anomaly_threshold;
    return 0;
}

static void evaluate_watch(struct pw_engine *e, struct pw_entity *ent,
                           struct pw_watch *w, uint32_t series, int64_t now)
{
    const struct pw_engine_rule *er = &e->cfg.rules[w->rule];
    const struct pw_rule *r = &er->rule;
    struct pw_trend_fit fit;
    struct pw_trend_eta eta;
    e->stats.evaluations++;
    if (pw_trend_fit(w->trend, &fit, NULL) < 0)
        fit.valid = false;
    enum pw_trend_status st = pw_trend_eta(w->trend, &fit, r->threshold,
                                           r->rising ? PW_TREND_RISING : PW_TREND_FALLING,
                                           (double)r->horizon_ms / 1000.0, &eta);
    bool cond = st == PW_TREND_ETA || st == PW_TREND_PAST;
    if (cond) {
        /* The probability that the line is past the threshold at the
         * rule's horizon: "within 6h" is the question the user asked. */
        double h = st == PW_TREND_PAST ? 0 : (double)r->horizon_ms / 1000.0;
        double mu = fit.level + fit.slope * h;
        double sd = sqrt(fmax(fit.var_level + 2 * h * fit.cov_level_slope +
                              h * h * fit.var_slope, 0));
        double z = sd > 0 ? (r->rising ? mu - r->threshold : r->threshold - mu) / sd
                          : (cond ? INFINITY : -INFINITY);
        w->pred.confidence = 0.5 * erfc(-z / M_SQRT2);
        w->pred.eta_s = eta.eta_s;
        w->pred.value = fit.level;
    }
    int out = transition(e, er, &w->pred, cond, now);
    if (out < 0)
        return;
    const char *key = pw_state_series_key(e->st, series);
    const struct pw_series *s = pw_state_series_at(e->st, series);
    char words[64], lo[64], hi[64], summary[768];
    json_t *ev = json_object();
    json_object_set_new(ev, "series", json_string(key));
    json_object_set_new(ev, "trend_status", json_string(pw_trend_status_name(st)));
    json_object_set_new(ev, "samples", json_integer((json_int_t)fit.n));
    json_object_set_new(ev, "window_s", num(fit.span_s));
    json_object_set_new(ev, "value", num(s->last_value));
    json_object_set_new(ev, "level", num(fit.level));
    json_object_set_new(ev, "slope_per_s", num(fit.slope));
    json_object_set_new(ev, "r2", num(fit.r2));
    json_object_set_new(ev, "threshold", num(r->threshold));
    json_object_set_new(ev, "horizon_s", json_real((double)r->horizon_ms / 1000.0));
    if (cond) {
        json_object_set_new(ev, "eta_low_s", num(eta.eta_low_s));
        json_object_set_new(ev, "eta_high_s", num(eta.eta_high_s));
    }
    /* The seasonal model's view at the horizon, beside the line's. */
    const struct pw_hw_model *m = pw_state_model(e->st, s->model);
    struct pw_hw_forecast fc;
    double hsteps = fmin((double)r->horizon_ms / 1000.0 / m->step_s, 100000);
    if (s->hw.updates >= 10 && hsteps >= 1 &&
        pw_hw_forecast(&s->hw, m, (uint32_t)hsteps, 1.96, &fc, NULL) == 0) {
        json_t *f = json_object();
        json_object_set_new(f, "model", json_string("holt-winters"));
        json_object_set_new(f, "at_s", json_real(hsteps * m->step_s));
        json_object_set_new(f, "mean", num(fc.mean));
        json_object_set_new(f, "lo", num(fc.lo));
        json_object_set_new(f, "hi", num(fc.hi));
        json_object_set_new(ev, "forecast", f);
    }
    char metric[300];
    snprintf(metric, sizeof metric, "%s.%s", r->measurement, r->field);
    if (out != PW_PRED_RESOLVED) {
        pw_duration_words(w->pred.eta_s, words, sizeof words);
        pw_duration_words(eta.eta_low_s, lo, sizeof lo);
        pw_duration_words(eta.eta_high_s, hi, sizeof hi);
        if (st == PW_TREND_PAST)
            snprintf(summary, sizeof summary, "%s on %s is already %s %g", metric,
                     ent->name, r->rising ? "above" : "below", r->threshold);
        else if (isfinite(eta.eta_high_s) && strcmp(lo, hi) != 0)
            snprintf(summary, sizeof summary, "%s on %s will %s %g in %s (95 %% range %s to %s)",
                     metric, ent->name, r->rising ? "pass" : "fall below", r->threshold,
                     words, lo, hi);
        else
            snprintf(summary, sizeof summary, "%s on %s will %s %g in %s", metric,
                     ent->name, r->rising ? "pass" : "fall below", r->threshold, words);
    } else {
        snprintf(summary, sizeof summary, "%s on %s no longer heads for %g within %s",
                 metric, ent->name, r->threshold,
                 (pw_duration_words((double)r->horizon_ms / 1000, words, sizeof words), words));
    }
    struct pw_prediction p = {
        .status = (enum pw_prediction_status)out, .entity = ent->name, .rule = er->name,
        .kind = r->kind, .severity = er->severity, .series = key,
        .eta_s = out != PW_PRED_RESOLVED ? w->pred.eta_s : NAN,
        .confidence = w->pred.confidence, .first_seen_ns = w->pred.first_seen_ns,
        .at_ns = now, .summary = summary,
    };
    emit(e, &p, ev);
}

void pw_engine_sample(struct pw_engine *e, const struct pw_sample *s, int32_t partition)
{
    e->stats.samples++;
    if (s->ts_ns > e->watermark_ns)
        e->watermark_ns = s->ts_ns;
    uint32_t ei = pw_state_entity(e->st, s->entity.ptr, s->entity.len, partition);
    if (ei == PW_NONE)
        return;
    bool created;
    uint32_t si = pw_state_series(e->st, ei, s->series.ptr, s->series.len,
                                  s->measurement.len, s->field.ptr, s->field.len,
                                  &created, NULL);
    if (si == PW_NONE)
        return;
    struct pw_entity *ent = pw_state_entity_at(e->st, ei);
    struct pw_series *ser = pw_state_series_at(e->st, si);
    double ts_s = (double)s->ts_ns / 1e9;
    ent->dirty = true;
    if (s->ts_ns > ent->last_seen_ns)
        ent->last_seen_ns = s->ts_ns;
    ser->last_value = s->value;
    if (pw_hw_update(&ser->hw, pw_state_model(e->st, ser->model), ts_s, s->value, NULL) < 0)
        e->stats.samples_rejected++;
    if (ser->feature >= 0) {
        ent->features[ser->feature] = s->value;
        ent->rescore = true;
    }
    for (uint32_t wi = ser->watch; wi != PW_NONE;) {
        struct pw_watch *w = pw_state_watch_at(e->st, wi);
        /* The window spans half the horizon in trend_capacity samples, so
         * a series sampled faster is thinned to one sample per
         * window / capacity: the window then covers its span whatever the
         * sampling rate (see state.c, add_watch). */
        double every = (double)e->rules[w->rule].horizon_ms / 2000.0 /
                       (double)e->cfg.trend_capacity;
        size_t len = pw_trend_len(w->trend);
        double last_ts = -INFINITY, last_v;
        if (len)
            pw_trend_sample(w->trend, len - 1, &last_ts, &last_v);
        if (ts_s - last_ts >= every * 0.999)
            pw_trend_add(w->trend, ts_s, s->value, NULL);
        if (len && ts_s - w->last_eval_s >= (double)e->cfg.eval_interval_ms / 1000.0) {
            w->last_eval_s = ts_s;
            evaluate_watch(e, ent, w, si, s->ts_ns);
        }
        wi = w->next;
    }
}

static void note_template(struct pw_entity *ent, long id, const char *category)
{
    size_t min = 0;
    for (size_t i = 0; i < PW_ENTITY_TEMPLATES; i++) {
        if (ent->templates[i].id == id) {
            if (ent->templates[i].count < UINT32_MAX)
                ent->templates[i].count++;
            return;
        }
        if (ent->templates[i].count < ent->templates[min].count)
            min = i;
    }
    /* Not among the kept ones: it replaces the rarest (a space-saving
     * sketch in its simplest form; counts of the others stay exact). */
    ent->templates[min].id = id;
    ent->templates[min].count = 1;
    snprintf(ent->templates[min].category, sizeof ent->templates[min].category, "%s",
             category ? category : "");
}

static bool burst_holds(const struct pw_log_window *w, int64_t window_ms, int64_t now)
{
    return w->cap && w->len == w->cap && w->ts_ns[w->head] > now - window_ms * 1000000;
}

static void log_event(struct pw_engine *e, struct pw_entity *ent, size_t ri, int out,
                      int64_t now)
{
    const struct pw_engine_rule *er = &e->cfg.rules[ri];
    struct pw_pred *pred = &ent->preds[ri];
    char words[64], summary[512];
    pw_duration_words((double)er->rule.window_ms / 1000, words, sizeof words);
    json_t *ev = json_object();
    json_object_set_new(ev, "category", json_string(er->rule.category));
    json_object_set_new(ev, "count", json_integer((json_int_t)pred->value));
    json_object_set_new(ev, "window_s", json_real((double)er->rule.window_ms / 1000));
    json_t *tpl = json_array();
    for (size_t i = 0; i < PW_ENTITY_TEMPLATES; i++) {
        const struct pw_template_count *t = &ent->templates[i];
        if (t->id < 0 || strcmp(t->category, er->rule.category) != 0)
            continue;
        char text[512];
        pw_tagger_template(e->tagger, (size_t)t->id, text, sizeof text);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(t->id));
        json_object_set_new(o, "text", json_string(text));
        json_object_set_new(o, "count", json_integer(t->count));
        json_array_append_new(tpl, o);
    }
    json_object_set_new(ev, "templates", tpl);
    if (out != PW_PRED_RESOLVED)
        snprintf(summary, sizeof summary, "%s logged more than %u %s lines in %s",
                 ent->name, er->rule.count, er->rule.category, words);
    else
        snprintf(summary, sizeof summary, "%s: the burst of %s lines is over", ent->name,
                 er->rule.category);
    struct pw_prediction p = {
        .status = (enum pw_prediction_status)out, .entity = ent->name, .rule = er->name,
        .kind = PW_RULE_LOG_BURST, .severity = er->severity, .eta_s = NAN,
        .confidence = pred->confidence, .first_seen_ns = pred->first_seen_ns,
        .at_ns = now, .summary = summary,
    };
    emit(e, &p, ev);
}

void pw_engine_log(struct pw_engine *e, const struct pw_log_record *rec, int32_t partition)
{
    e->stats.log_lines++;
    if (rec->ts_ns > e->watermark_ns)
        e->watermark_ns = rec->ts_ns;
    uint32_t ei = pw_state_entity(e->st, rec->entity.ptr, rec->entity.len, partition);
    if (ei == PW_NONE)
        return;
    struct pw_tag tag;
    if (pw_tagger_tag(e->tagger, rec->line.ptr, rec->line.len, &tag, NULL) < 0)
        return;
    struct pw_entity *ent = pw_state_entity_at(e->st, ei);
    ent->dirty = true;
    if (rec->ts_ns > ent->last_seen_ns)
        ent->last_seen_ns = rec->ts_ns;
    note_template(ent, tag.template_id, tag.category);
    if (!tag.category)
        return;
    for (size_t ri = 0; ri < e->cfg.nrules; ri++) {
        const struct pw_rule *r = &e->rules[ri];
        if (r->kind != PW_RULE_LOG_BURST || strcmp(r->category, tag.category) != 0)
            continue;
        struct pw_log_window *w = &ent->logs[ri];
        uint32_t at = (w->head + w->len) % w->cap;
        if (w->len == w->cap) {
            w->prob_sum -= w->prob[w->head];
            w->head = (w->head + 1) % w->cap;
        } else {
            w->len++;
        }
        w->ts_ns[at] = rec->ts_ns;
        w->prob[at] = tag.prob;
        w->prob_sum += tag.prob;
        bool cond = burst_holds(w, r->window_ms, rec->ts_ns);
        struct pw_pred *pred = &ent->preds[ri];
        if (cond) {
            pred->value = w->len;
            pred->confidence = w->prob_sum / w->len;
        }
        int out = transition(e, &e->cfg.rules[ri], pred, cond, rec->ts_ns);
        if (out >= 0)
            log_event(e, ent, ri, out, rec->ts_ns);
    }
}

static void anomaly_event(struct pw_engine *e, struct pw_entity *ent, size_t ri, int out,
                          double thr, int64_t now)
{
    const struct pw_engine_rule *er = &e->cfg.rules[ri];
    json_t *ev = json_object();
    json_object_set_new(ev, "score", num(ent->anomaly_score));
    json_object_set_new(ev, "threshold", num(thr));
    json_t *feats = json_array();
    if (e->forest && pw_iforest_attribute(e->forest, ent->features, e->attr) == 0) {
        /* Largest share first: the features that isolated the point. */
        size_t order[64], n = e->cfg.nfeatures < 64 ? e->cfg.nfeatures : 64;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && e->attr[order[j]] > e->attr[order[j - 1]]; j--) {
                size_t t = order[j];
                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (size_t k = 0; k < n && k < 5; k++) {
            json_t *o = json_object();
            json_object_set_new(o, "name", json_string(e->cfg.features[order[k]]));
            json_object_set_new(o, "value", num(ent->features[order[k]]));
            json_object_set_new(o, "share", num(e->attr[order[k]]));
            json_array_append_new(feats, o);
        }
    }
    json_object_set_new(ev, "features", feats);
    char summary[512];
    if (out != PW_PRED_RESOLVED)
        snprintf(summary, sizeof summary, "%s behaves unusually (anomaly score %.2f, "
                 "threshold %.2f)", ent->name, ent->anomaly_score, thr);
    else
        snprintf(summary, sizeof summary, "%s behaves as usual again", ent->name);
    struct pw_prediction p = {
        .status = (enum pw_prediction_status)out, .entity = ent->name, .rule = er->name,
        .kind = PW_RULE_ANOMALY, .severity = er->severity, .eta_s = NAN,
        .confidence = ent->preds[ri].confidence, .first_seen_ns = ent->preds[ri].first_seen_ns,
        .at_ns = now, .summary = summary,
    };
    emit(e, &p, ev);
}

void pw_engine_tick(struct pw_engine *e, int64_t now)
{
    if (now <= 0)
        now = e->watermark_ns;
    size_t n = pw_state_entities(e->st);
    for (uint32_t i = 0; i < n; i++) {
        struct pw_entity *ent = pw_state_entity_at(e->st, i);
        bool scored = false;
        if (ent->rescore && e->forest) {
            bool complete = true;
            for (size_t f = 0; f < e->cfg.nfeatures; f++)
                complete &= isfinite(ent->features[f]);
            if (complete) {
                ent->anomaly_score = pw_iforest_score(e->forest, ent->features);
                ent->rescore = false;
                ent->dirty = true;
                scored = true;
                e->stats.scored++;
            }
        }
        for (size_t ri = 0; ri < e->cfg.nrules; ri++) {
            const struct pw_rule *r = &e->rules[ri];
            struct pw_pred *pred = &ent->preds[ri];
            int out = -1;
            if (r->kind == PW_RULE_ANOMALY) {
                double thr = isnan(r->threshold) ? e->anomaly_threshold : r->threshold;
                if (isnan(thr))
                    continue;   /* "calibrated" without a calibration: idle */
                bool cond = scored && ent->anomaly_score >= thr;
                if (cond) {
                    pred->value = ent->anomaly_score;
                    pred->confidence = fmin(1, fmax(0, (ent->anomaly_score - thr) / (1 - thr)));
                }
                if (!scored && !pred->active)
                    continue;
                out = transition(e, &e->cfg.rules[ri], pred, cond, now);
                if (out >= 0)
                    anomaly_event(e, ent, ri, out, thr, now);
            } else if (r->kind == PW_RULE_LOG_BURST && pred->active) {
                bool cond = burst_holds(&ent->logs[ri], r->window_ms, now);
                out = transition(e, &e->cfg.rules[ri], pred, cond, now);
                if (out >= 0)
                    log_event(e, ent, ri, out, now);
            }
        }
    }
}

struct pw_state *pw_engine_state(struct pw_engine *e) { return e->st; }
const struct pw_engine_stats *pw_engine_stats(const struct pw_engine *e) { return &e->stats; }
int64_t pw_engine_watermark_ns(const struct pw_engine *e) { return e->watermark_ns; }

static json_t *active_item(const struct pw_engine *e, const char *entity, size_t ri,
                           const char *series, const struct pw_pred *p)
{
    char first[64], last[64], fp[17];
    const struct pw_engine_rule *er = &e->cfg.rules[ri];
    fingerprint(entity, er->name, series, fp);
    iso_time(p->first_seen_ns, first, sizeof first);
    iso_time(p->last_true_ns, last, sizeof last);
    json_t *o = json_object();
    json_object_set_new(o, "fingerprint", json_string(fp));
    json_object_set_new(o, "entity", json_string(entity));
    json_object_set_new(o, "rule", json_string(er->name));
    json_object_set_new(o, "kind", json_string(kind_event_name(er->rule.kind)));
    json_object_set_new(o, "severity", json_string(er->severity));
    if (series)
        json_object_set_new(o, "series", json_string(series));
    json_object_set_new(o, "eta_s", num(er->rule.kind == PW_RULE_FORECAST ? p->eta_s : NAN));
    json_object_set_new(o, "confidence", num(p->confidence));
    json_object_set_new(o, "value", num(p->value));
    json_object_set_new(o, "first_seen", json_string(first));
    json_object_set_new(o, "last_true", json_string(last));
    return o;
}

void pw_engine_active_json(struct pw_engine *e, struct pw_buf *out)
{
    json_t *arr = json_array();
    size_t n = pw_state_entities(e->st);
    for (uint32_t i = 0; i < n; i++) {
        struct pw_entity *ent = pw_state_entity_at(e->st, i);
        for (size_t ri = 0; ri < e->cfg.nrules; ri++)
            if (e->rules[ri].kind != PW_RULE_FORECAST && ent->preds[ri].active)
                json_array_append_new(arr, active_item(e, ent->name, ri, NULL, &ent->preds[ri]));
        for (uint32_t s = ent->first_series; s != PW_NONE;) {
            const struct pw_series *ser = pw_state_series_at(e->st, s);
            for (uint32_t w = ser->watch; w != PW_NONE;) {
                const struct pw_watch *wt = pw_state_watch_at(e->st, w);
                if (wt->pred.active)
                    json_array_append_new(arr, active_item(e, ent->name, wt->rule,
                                                           pw_state_series_key(e->st, s),
                                                           &wt->pred));
                w = wt->next;
            }
            s = ser->next;
        }
    }
    char *text = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(arr);
    if (text) {
        pw_buf_puts(out, text);
        free(text);
    } else {
        out->oom = true;
    }
}
