/* train/tagger_cmd.c — see tagger_cmd.h. */
#include "train/tagger_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/sha256.h"
#include "models/bundle.h"
#include "models/codec.h"
#include "models/logclass.h"
#include "models/loghubdata.h"

#define INPUT_MAX_BYTES ((size_t)1 << 30)

struct examples {
    struct pw_logclass_example *ex;
    size_t n, cap;
    char *text;                 /* the TSV file's bytes, when --tsv */
    struct pw_loghub hub;       /* the CSV, when --loghub-csv */
};

static int push(struct examples *e, const char *cat, const char *line)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 1024;
        struct pw_logclass_example *nx = realloc(e->ex, cap * sizeof *nx);
        if (!nx)
            return -1;
        e->ex = nx;
        e->cap = cap;
    }
    e->ex[e->n++] = (struct pw_logclass_example){cat, line};
    return 0;
}

static int load_tsv(const char *path, struct examples *e, uint8_t fp[PW_SHA256_LEN],
                    struct pw_err *err)
{
    struct pw_buf b;
    pw_buf_init(&b);
    if (pw_buf_read_file(&b, path, INPUT_MAX_BYTES, err) < 0)
        return -1;
    e->text = b.data;
    pw_sha256(e->text, b.len, fp);
    size_t row = 0;
    for (char *save = NULL, *line = strtok_r(e->text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        row++;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[n - 1] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line)
            return pw_err_set(err, "%s: row %zu: expected \"category<TAB>line\"", path, row);
        *tab = '\0';
        if (push(e, line, tab + 1) < 0)
            return pw_err_set(err, "out of memory");
    }
    return 0;
}

static int load_csv(const char *path, const char *normal, struct examples *e,
                    uint8_t fp[PW_SHA256_LEN], struct pw_err *err)
{
    struct pw_buf b;
    pw_buf_init(&b);
    if (pw_buf_read_file(&b, path, INPUT_MAX_BYTES, err) < 0)
        return -1;
    pw_sha256(b.data, b.len, fp);
    pw_buf_release(&b);
    if (pw_loghub_load_file(path, &e->hub, err) < 0)
        return -1;
    for (size_t i = 0; i < e->hub.n; i++) {
        const struct pw_loghub_line *l = &e->hub.lines[i];
        if (!l->label)
            return pw_err_set(err, "%s: no Label column: nothing to learn categories from",
                              path);
        if (push(e, strcmp(l->label, "-") == 0 ? normal : l->label, l->content) < 0)
            return pw_err_set(err, "out of memory");
    }
    return 0;
}

struct counts {
    size_t tp, fp, fn, support;
};

static double ratio(size_t a, size_t b)
{
    return b ? (double)a / (double)b : 0;
}

static double f1(double p, double r)
{
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: pipewatch-train tagger (--tsv FILE | --loghub-csv FILE "
                    "[--normal-label L])\n"
                    "                              [--holdout SHARE] [--seed N] [--out BUNDLE "
                    "[--parent BUNDLE]] [--json]\n");
    return 2;
}

static int write_bundle(const char *out, const char *parent, const struct pw_logclass *m,
                        const uint8_t fp[PW_SHA256_LEN], const char *what, struct pw_err *err)
{
    struct pw_bundle b;
    if (pw_bundle_init(&b, err) < 0)
        return -1;
    int rc = 0;
    if (parent) {
        struct pw_bundle p;
        rc = pw_bundle_read_file(parent, &p, err);
        if (rc == 0) {
            memcpy(b.parent, p.digest, PW_SHA256_LEN);
            pw_bundle_free(&p);
        }
    }
    memcpy(b.fingerprint, fp, PW_SHA256_LEN);
    struct pw_buf s;
    pw_buf_init(&s);
    if (rc == 0)
        rc = pw_bundle_set_trained_on(&b, what, err);
    if (rc == 0)
        rc = pw_codec_put_logclass(&s, m, err);
    if (rc == 0)
        rc = pw_bundle_add(&b, PW_CODEC_LOGCLASS_KIND, "default", s.data, s.len, err);
    if (rc == 0)
        rc = pw_bundle_write_file(&b, out, err);
    pw_buf_release(&s);
    pw_bundle_free(&b);
    return rc;
}

int pw_cmd_tagger(int argc, char **argv)
{
    const char *tsv = NULL, *csv = NULL, *normal = "normal", *out = NULL, *parent = NULL;
    double holdout = 0.2;
    unsigned long seed = 1;
    bool json = false;
    static const struct option opts[] = {
        {"tsv", required_argument, NULL, 't'},      {"loghub-csv", required_argument, NULL, 'c'},
        {"normal-label", required_argument, NULL, 'n'}, {"holdout", required_argument, NULL, 'h'},
        {"seed", required_argument, NULL, 's'},     {"out", required_argument, NULL, 'o'},
        {"parent", required_argument, NULL, 'p'},   {"json", no_argument, NULL, 'j'},
        {0, 0, 0, 0}};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
        case 't': tsv = optarg; break;
        case 'c': csv = optarg; break;
        case 'n': normal = optarg; break;
        case 'o': out = optarg; break;
        case 'p': parent = optarg; break;
        case 'j': json = true; break;
        case 'h':
            holdout = strtod(optarg, &end);
            if (*end || !(holdout >= 0 && holdout < 1))
                return fprintf(stderr, "pipewatch-train: tagger: --holdout %s: a share in "
                                       "[0, 1)\n", optarg), 2;
            break;
        case 's':
            seed = strtoul(optarg, &end, 10);
            if (*end)
                return usage();
            break;
        default: return usage();
        }
    }
    if (optind != argc || !tsv == !csv || (parent && !out))
        return usage();

    struct examples e;
    memset(&e, 0, sizeof e);
    struct pw_err err = {{0}};
    uint8_t fp[PW_SHA256_LEN];
    int rc = tsv ? load_tsv(tsv, &e, fp, &err) : load_csv(csv, normal, &e, fp, &err);
    if (rc == 0 && e.n == 0)
        rc = pw_err_set(&err, "%s: no labelled lines", tsv ? tsv : csv);
    /* A seeded shuffle, then the last share held out. */
    size_t ntest = (size_t)floor(holdout * (double)e.n), ntrain = e.n - ntest;
    struct pw_logclass *m = NULL;
    if (rc == 0) {
        gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
        gsl_rng_set(r, seed);
        gsl_ran_shuffle(r, e.ex, e.n, sizeof *e.ex);
        gsl_rng_free(r);
        struct pw_logclass_config cfg;
        pw_logclass_config_default(&cfg);
        m = pw_logclass_train(e.ex, ntrain, &cfg, &err);
        rc = m ? 0 : -1;
    }
    size_t k = m ? pw_logclass_ncategories(m) : 0, correct = 0;
    struct counts *cnt = calloc(k ? k : 1, sizeof *cnt);
    for (size_t i = ntrain; rc == 0 && i < e.n; i++) {
        size_t pred = pw_logclass_predict(m, e.ex[i].line, strlen(e.ex[i].line), NULL, NULL);
        int truth = pw_logclass_find(m, e.ex[i].category);
        correct += truth >= 0 && (size_t)truth == pred;
        if (truth >= 0) {
            cnt[truth].support++;
            if ((size_t)truth == pred)
                cnt[truth].tp++;
            else
                cnt[truth].fn++;
        }
        if (truth < 0 || (size_t)truth != pred)
            cnt[pred].fp++;
    }
    char what[512];
    snprintf(what, sizeof what, "log categories from %s (%zu lines, %zu held out, seed %lu)",
             tsv ? tsv : csv, e.n, ntest, seed);
    if (rc == 0 && out)
        rc = write_bundle(out, parent, m, fp, what, &err);
    if (rc < 0) {
        fprintf(stderr, "pipewatch-train: tagger: %s\n", err.msg);
    } else {
        double mp = 0, mr = 0, mf = 0;
        size_t present = 0;
        json_t *cats = json_array();
        if (!json)
            printf("trained on %zu lines, %zu categories; held out %zu\n%-24s %8s %9s %7s %7s\n",
                   ntrain, k, ntest, "category", "support", "precision", "recall", "F1");
        for (size_t c = 0; c < k; c++) {
            double p = ratio(cnt[c].tp, cnt[c].tp + cnt[c].fp), r = ratio(cnt[c].tp, cnt[c].support);
            if (cnt[c].support) {
                mp += p;
                mr += r;
                mf += f1(p, r);
                present++;
            }
            if (json)
                json_array_append_new(cats, json_pack("{s:s, s:I, s:f, s:f, s:f}", "category",
                                                      pw_logclass_category(m, c), "support",
                                                      (json_int_t)cnt[c].support, "precision", p,
                                                      "recall", r, "f1", f1(p, r)));
            else
                printf("%-24s %8zu %9.4f %7.4f %7.4f\n", pw_logclass_category(m, c),
                       cnt[c].support, p, r, f1(p, r));
        }
        double n = present ? (double)present : 1, acc = ratio(correct, ntest);
        if (json) {
            json_t *o = json_pack("{s:I, s:I, s:I, s:f, s:{s:f, s:f, s:f}, s:o}", "lines",
                                  (json_int_t)e.n, "trained", (json_int_t)ntrain, "held_out",
                                  (json_int_t)ntest, "accuracy", acc, "macro", "precision",
                                  mp / n, "recall", mr / n, "f1", mf / n, "categories", cats);
            if (out)
                json_object_set_new(o, "bundle", json_string(out));
            char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(text);
            free(text);
            json_decref(o);
        } else {
            json_decref(cats);
            printf("%-24s %8zu %9.4f %7.4f %7.4f   (over the %zu categories held out)\n",
                   "macro", ntest, mp / n, mr / n, mf / n, present);
            printf("accuracy %.4f%s%s\n", acc, out ? "; bundle: " : "", out ? out : "");
        }
    }
    free(cnt);
    pw_logclass_free(m);
    free(e.ex);
    free(e.text);
    pw_loghub_free(&e.hub);
    return rc < 0 ? 1 : 0;
}
