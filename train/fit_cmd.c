/* train/fit_cmd.c — `pipewatch-train fit` (see fit_cmd.h): history in,
 * bundle out, never half a bundle.
 *
 * SIGINT and SIGTERM only set a flag; the work checks it between units
 * (a file, a Kafka message, a model) and stops with exit 130 before the
 * bundle is written. The bundle itself is written by pw_bundle_write_file:
 * a temporary file, fsync, rename. So an interrupted fit leaves either no
 * file or the previous one, whenever the signal comes. */
#include "train/fit_cmd.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/config.h"
#include "common/buf.h"
#include "models/store.h"
#include "train/fit.h"
#include "train/history.h"
#include "train/progress.h"

#define MAX_FILES 4096
#define MAX_FEATURES 256

static volatile sig_atomic_t interrupted;
static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct options {
    const char *files[MAX_FILES];
    size_t nfiles;
    const char *nab, *brokers, *topic, *since, *metric, *entity_tag, *class_tag;
    const char *features_text, *analyzer_config, *out, *models_dir, *parent;
    double contamination;
    struct pw_fit_options fit;
    int timeout_ms;
    bool quiet;
};

static int usage(void)
{
    fprintf(stderr,
        "usage: pipewatch-train fit (--from FILE... | --nab DIR |\n"
        "                            --brokers LIST --topic T --since DURATION)\n"
        "                           --out BUNDLE [--models-dir DIR | --parent BUNDLE]\n"
        "                           [--features M.F,M.F | --analyzer-config FILE]\n"
        "                           [--metric M.F] [--entity-tag TAG] [--class-tag TAG]\n"
        "                           [--contamination C] [--trees N] [--seed N]\n"
        "                           [--max-train N] [--timeout-ms MS] [--quiet]\n");
    return 2;
}

static int parse_size(const char *text, size_t lo, size_t hi, size_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || v < lo || v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse(int argc, char **argv, struct options *o)
{
    enum { O_FROM = 256, O_NAB, O_BROKERS, O_TOPIC, O_SINCE, O_METRIC, O_ENTITY, O_CLASS,
           O_FEATURES, O_ACONF, O_OUT, O_MODELS, O_PARENT, O_CONT, O_TREES, O_SEED, O_MAXT,
           O_TIMEOUT, O_QUIET };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},
        {"nab", required_argument, NULL, O_NAB},
        {"brokers", required_argument, NULL, O_BROKERS},
        {"topic", required_argument, NULL, O_TOPIC},
        {"since", required_argument, NULL, O_SINCE},
        {"metric", required_argument, NULL, O_METRIC},
        {"entity-tag", required_argument, NULL, O_ENTITY},
        {"class-tag", required_argument, NULL, O_CLASS},
        {"features", required_argument, NULL, O_FEATURES},
        {"analyzer-config", required_argument, NULL, O_ACONF},
        {"out", required_argument, NULL, O_OUT},
        {"models-dir", required_argument, NULL, O_MODELS},
        {"parent", required_argument, NULL, O_PARENT},
        {"contamination", required_argument, NULL, O_CONT},
        {"trees", required_argument, NULL, O_TREES},
        {"seed", required_argument, NULL, O_SEED},
        {"max-train", required_argument, NULL, O_MAXT},
        {"timeout-ms", required_argument, NULL, O_TIMEOUT},
        {"quiet", no_argument, NULL, O_QUIET},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    pw_fit_options_default(&o->fit);
    o->metric = "series.value";
    o->timeout_ms = 10000;
    optind = 1;
    bool from = false;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        size_t v;
        char *end = NULL;
        switch (c) {
        case O_FROM:
            from = true;
            if (o->nfiles == MAX_FILES)
                return fprintf(stderr, "pipewatch-train: fit: more than %d files\n", MAX_FILES), -1;
            o->files[o->nfiles++] = optarg;
            break;
        case O_NAB: o->nab = optarg; break;
        case O_BROKERS: o->brokers = optarg; break;
        case O_TOPIC: o->topic = optarg; break;
        case O_SINCE: o->since = optarg; break;
        case O_METRIC: o->metric = optarg; break;
        case O_ENTITY: o->entity_tag = optarg; break;
        case O_CLASS: o->class_tag = optarg; break;
        case O_FEATURES: o->features_text = optarg; break;
        case O_ACONF: o->analyzer_config = optarg; break;
        case O_OUT: o->out = optarg; break;
        case O_MODELS: o->models_dir = optarg; break;
        case O_PARENT: o->parent = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_CONT:
            o->contamination = strtod(optarg, &end);
            if (*end || !(o->contamination > 0 && o->contamination <= 0.5))
                return fprintf(stderr, "pipewatch-train: fit: --contamination %s: a share "
                                       "in (0, 0.5]\n", optarg), -1;
            break;
        case O_TREES:
            if (parse_size(optarg, 1, PW_IFOREST_MAX_TREES, &o->fit.forest.n_trees) < 0)
                return fprintf(stderr, "pipewatch-train: fit: --trees %s: 1..%d\n", optarg,
                               PW_IFOREST_MAX_TREES), -1;
            break;
        case O_SEED:
            if (parse_size(optarg, 0, (size_t)-1, &v) < 0)
                return -1;
            o->fit.forest.seed = (unsigned long)v;
            break;
        case O_MAXT:
            if (parse_size(optarg, 10, 10000000, &o->fit.max_train) < 0)
                return fprintf(stderr, "pipewatch-train: fit: --max-train %s: 10..10000000\n",
                               optarg), -1;
            break;
        case O_TIMEOUT:
            if (parse_size(optarg, 100, 600000, &v) < 0)
                return -1;
            o->timeout_ms = (int)v;
            break;
        default: return -1;
        }
    }
    /* Files after the options belong to --from. */
    for (; from && optind < argc && o->nfiles < MAX_FILES; optind++)
        o->files[o->nfiles++] = argv[optind];
    int sources = (o->nfiles > 0) + (o->nab != NULL) + (o->brokers || o->topic || o->since);
    if (optind != argc || sources != 1 || !o->out || (o->models_dir && o->parent) ||
        (o->features_text && o->analyzer_config))
        return -1;
    if ((o->brokers || o->topic || o->since) && !(o->brokers && o->topic && o->since)) {
        fprintf(stderr, "pipewatch-train: fit: Kafka history needs --brokers, --topic and "
                        "--since together\n");
        return -1;
    }
    if (!strchr(o->metric, '.') || o->metric[0] == '.') {
        fprintf(stderr, "pipewatch-train: fit: --metric %s: expected measurement.field\n",
                o->metric);
        return -1;
    }
    return 0;
}

static int on_progress(const char *stage, size_t done, size_t total, void *arg)
{
    pw_progress_update(arg, stage, done, total);
    return interrupted;
}

static int on_kafka_progress(size_t done, size_t total, void *arg)
{
    pw_progress_update(arg, "reading kafka", done, total);
    return interrupted;
}

/* The features: a comma list, or the analyzer's own configuration (its
 * `features:` and its entity_tag, unless --entity-tag overrides). */
static int load_features(struct options *o, char **text, const char **feat, size_t *n,
                         struct pw_analyzer_config *ac, bool *have_ac, struct pw_err *err)
{
    *n = 0;
    if (o->analyzer_config) {
        if (pw_analyzer_config_load(o->analyzer_config, false, ac, err) < 0)
            return -1;
        *have_ac = true;
        for (size_t i = 0; i < ac->features.len && *n < MAX_FEATURES; i++)
            feat[(*n)++] = ac->features.items[i];
        if (*n == 0)
            return pw_err_set(err, "%s: no `features:` list: the analyzer scores no feature "
                              "vector, so there is no isolation forest to fit",
                              o->analyzer_config);
        if (!o->entity_tag)
            o->entity_tag = ac->entity_tag;
        return 0;
    }
    if (!o->features_text)
        return 0;
    if (!(*text = strdup(o->features_text)))
        return pw_err_set(err, "out of memory");
    for (char *save = NULL, *t = strtok_r(*text, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (!strchr(t, '.') || t[0] == '.')
            return pw_err_set(err, "--features: \"%s\": expected measurement.field", t);
        if (*n == MAX_FEATURES)
            return pw_err_set(err, "--features: more than %d", MAX_FEATURES);
        feat[(*n)++] = t;
    }
    if (*n == 0)
        return pw_err_set(err, "--features: an empty list");
    return 0;
}

static int read_history(struct options *o, struct pw_history *h, struct pw_progress *pg,
                        struct pw_buf *what, struct pw_err *err)
{
    if (o->nab) {
        pw_progress_update(pg, "reading", 0, 1);
        if (pw_history_read_nab(h, o->nab, o->metric, err) < 0)
            return -1;
        pw_buf_printf(what, "NAB %s (%zu files)", o->nab, h->inputs);
        pw_progress_update(pg, "reading", 1, 1);
        return 0;
    }
    if (o->brokers) {
        struct pw_kafka_source src = {
            .brokers = o->brokers, .topic = o->topic, .entity_tag = o->entity_tag,
            .class_tag = o->class_tag, .timeout_ms = o->timeout_ms,
            .progress = on_kafka_progress, .arg = pg};
        if (pw_history_parse_duration(o->since, &src.since_s) < 0)
            return pw_err_set(err, "--since %s: expected a duration such as 90m, 12h, 7d",
                              o->since);
        size_t malformed = 0;
        if (pw_history_read_kafka(h, &src, &malformed, err) < 0)
            return -1;
        if (malformed)
            fprintf(stderr, "pipewatch-train: fit: skipped %zu malformed message%s\n",
                    malformed, malformed == 1 ? "" : "s");
        pw_buf_printf(what, "kafka topic %s on %s, the last %s (%zu partitions)", o->topic,
                      o->brokers, o->since, h->inputs);
        if (h->rows == 0)
            return pw_err_set(err, "topic \"%s\": no samples in the last %s", o->topic,
                              o->since);
        return 0;
    }
    pw_buf_printf(what, "%zu file%s:", o->nfiles, o->nfiles == 1 ? "" : "s");
    for (size_t i = 0; i < o->nfiles; i++) {
        if (interrupted)
            return pw_err_set(err, "interrupted");
        pw_progress_update(pg, "reading", i, o->nfiles);
        if (pw_history_read_file(h, o->files[i], o->metric, o->entity_tag, o->class_tag,
                                 err) < 0)
            return -1;
        /* Provenance: each file's own digest, while the text has room. */
        if (what->len < 3000) {
            struct pw_buf b;
            pw_buf_init(&b);
            uint8_t d[PW_SHA256_LEN];
            char hex[PW_SHA256_HEX_LEN + 1];
            if (pw_buf_read_file(&b, o->files[i], (size_t)1 << 30, NULL) == 0) {
                pw_sha256(b.data ? b.data : "", b.len, d);
                pw_sha256_hex(d, hex);
                const char *base = strrchr(o->files[i], '/');
                pw_buf_printf(what, " %s sha256:%.16s", base ? base + 1 : o->files[i], hex);
            }
            pw_buf_release(&b);
        }
    }
    pw_progress_update(pg, "reading", o->nfiles, o->nfiles);
    return 0;
}

static int set_parent(const struct options *o, struct pw_bundle *b, char parent_hex[65],
                      struct pw_err *err)
{
    snprintf(parent_hex, 65, "none");
    struct pw_bundle p;
    memset(&p, 0, sizeof p);
    int rc = 0;
    if (o->parent)
        rc = pw_bundle_read_file(o->parent, &p, err);
    else if (o->models_dir)
        rc = pw_store_load_current(o->models_dir, &p, err);
    else
        return 0;
    if (rc < 0)
        return pw_err_prefix(err, "the parent bundle");
    if (rc == 1)
        return 0;   /* nothing in service yet: a first bundle */
    memcpy(b->parent, p.digest, PW_SHA256_LEN);
    pw_sha256_hex(p.digest, parent_hex);
    pw_bundle_free(&p);
    return 0;
}

int pw_cmd_fit(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) < 0)
        return usage();
    interrupted = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    struct pw_progress pg;
    pw_progress_init(&pg, stderr, o.quiet);
    struct pw_err err = {{0}};
    struct pw_history h;
    struct pw_bundle b;
    memset(&b, 0, sizeof b);
    struct pw_fit_result res;
    memset(&res, 0, sizeof res);
    struct pw_analyzer_config ac;
    bool have_ac = false;
    char *ftext = NULL;
    const char *feat[MAX_FEATURES];
    size_t nfeat = 0;
    struct pw_buf what;
    pw_buf_init(&what);
    char parent_hex[65] = "none";
    int rc = pw_history_init(&h, &err);
    if (rc == 0)
        rc = load_features(&o, &ftext, feat, &nfeat, &ac, &have_ac, &err);
    if (rc == 0 && nfeat == 0 && (o.nab || (o.nfiles && !o.features_text))) {
        /* One series per CSV/NAB file: the forest scores that metric. */
        bool csv_only = o.nab != NULL;
        for (size_t i = 0; !csv_only && i < o.nfiles; i++) {
            size_t l = strlen(o.files[i]);
            csv_only = l >= 4 && strcasecmp(o.files[i] + l - 4, ".csv") == 0;
        }
        if (csv_only)
            feat[nfeat++] = o.metric;
    }
    if (rc == 0)
        rc = pw_bundle_init(&b, &err);
    if (rc == 0)
        rc = set_parent(&o, &b, parent_hex, &err);
    if (rc == 0)
        rc = read_history(&o, &h, &pg, &what, &err);
    if (rc == 0) {
        o.fit.features = feat;
        o.fit.nfeatures = nfeat;
        o.fit.contamination = o.contamination;
        o.fit.progress = on_progress;
        o.fit.arg = &pg;
        rc = pw_fit(&h, &o.fit, &b, &res, &err);
    }
    if (rc == 0) {
        pw_buf_printf(&what, "; %zu series, %zu rows", h.n, h.rows);
        if (nfeat) {
            pw_buf_printf(&what, "; features");
            for (size_t i = 0; i < nfeat; i++)
                pw_buf_printf(&what, "%s%s", i ? "," : " ", feat[i]);
        }
        if (what.len > PW_BUNDLE_MAX_NAME)
            pw_buf_truncate(&what, PW_BUNDLE_MAX_NAME);
        pw_history_fingerprint(&h, b.fingerprint);
        rc = pw_bundle_set_trained_on(&b, what.data, &err);
    }
    if (rc == 0 && interrupted)
        rc = pw_err_set(&err, "interrupted");
    if (rc == 0)
        rc = pw_bundle_write_file(&b, o.out, &err);
    pw_progress_end(&pg);
    if (rc < 0) {
        fprintf(stderr, "pipewatch-train: fit: %s%s\n", err.msg,
                interrupted ? "; no bundle written" : "");
    } else {
        char hex[PW_SHA256_HEX_LEN + 1];
        pw_sha256_hex(b.digest, hex);
        printf("history:  %zu series, %zu rows from %zu input%s\n", h.n, h.rows, h.inputs,
               h.inputs == 1 ? "" : "s");
        printf("%-32s %8s %7s %7s %7s %7s %6s %10s\n", "holt-winters", "steps", "alpha",
               "beta", "gamma", "phi", "period", "step_s");
        for (size_t i = 0; i < res.nmetrics; i++) {
            const struct pw_fit_metric *m = &res.metrics[i];
            printf("%-32s %8zu %7.4f %7.4f %7.4f %7.4f %6u %10g\n", m->name, m->samples,
                   m->model.p.alpha, m->model.p.beta, m->model.p.gamma, m->model.p.phi,
                   m->model.period, m->model.step_s);
        }
        if (res.skipped_metrics)
            printf("(%zu metric%s too short or irregular to fit: the default model serves "
                   "them)\n", res.skipped_metrics, res.skipped_metrics == 1 ? "" : "s");
        for (size_t i = 0; i < res.nclasses; i++) {
            const struct pw_fit_class *c = &res.classes[i];
            if (!c->rows) {
                printf("forest %s: no entity with every feature (%zu lack one): none fitted\n",
                       c->name, c->entities_missing);
                continue;
            }
            printf("forest %s: %zu rows from %zu entit%s (%zu lack a feature), threshold "
                   "%.6f (%s), flags %zu\n", c->name, c->rows, c->entities,
                   c->entities == 1 ? "y" : "ies", c->entities_missing, c->threshold,
                   c->from_labels ? "best F1 on the labels" : "contamination quantile",
                   c->flagged);
            if (c->labelled)
                printf("  on the training rows: precision %.4f recall %.4f F1 %.4f AUC %.4f\n",
                       c->precision, c->recall, c->f1, c->auc);
        }
        if (!nfeat)
            printf("no features given (--features or --analyzer-config): no isolation "
                   "forest\n");
        printf("bundle:   %s\ndigest:   %s\nparent:   %s\n", o.out, hex, parent_hex);
    }
    pw_fit_result_free(&res);
    pw_bundle_free(&b);
    pw_history_free(&h);
    pw_buf_release(&what);
    free(ftext);
    if (have_ac)
        pw_analyzer_config_release(&ac);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc == 0 ? 0 : interrupted ? 130 : 1;
}
