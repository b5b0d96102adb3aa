/* analyzer/inservice.c — a bundle's models, decoded (inservice.h). */
#include "analyzer/inservice.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/codec.h"
#include "models/store.h"

void pw_inservice_release(struct pw_inservice *s)
{
    pw_iforest_free(s->forest);
    pw_logclass_free(s->logclass);
    for (size_t i = 0; i < s->models.nhw; i++)
        free(s->hw_names[i]);
    free(s->hw_names);
    free(s->hw);
    free(s->trained_on);
    memset(s, 0, sizeof *s);
    s->models.anomaly_threshold = NAN;
}

int pw_inservice_from_bundle(const struct pw_bundle *b, struct pw_inservice *out,
                             struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    out->models.anomaly_threshold = NAN;
    size_t nhw = 0;
    for (size_t i = 0; i < b->nsections; i++)
        nhw += strcmp(b->sections[i].kind, PW_CODEC_HW_KIND) == 0;
    out->hw = calloc(nhw ? nhw : 1, sizeof *out->hw);
    out->hw_names = calloc(nhw ? nhw : 1, sizeof *out->hw_names);
    out->trained_on = strdup(b->trained_on ? b->trained_on : "");
    if (!out->hw || !out->hw_names || !out->trained_on) {
        pw_err_set(err, "out of memory");
        goto fail;
    }
    const struct pw_bundle_section *forest = NULL, *calib = NULL;
    for (size_t i = 0; i < b->nsections; i++) {
        const struct pw_bundle_section *s = &b->sections[i];
        if (strcmp(s->kind, PW_CODEC_HW_KIND) == 0) {
            size_t k = out->models.nhw;
            if (pw_codec_get_hw_model(s->data, s->len, &out->hw[k], err) < 0) {
                pw_err_prefix(err, "section HWIN \"%s\"", s->name);
                goto fail;
            }
            if (!(out->hw_names[k] = strdup(s->name))) {
                pw_err_set(err, "out of memory");
                goto fail;
            }
            out->models.nhw++;
        } else if (strcmp(s->kind, PW_CODEC_IFOREST_KIND) == 0) {
            if (!forest || strcmp(s->name, "default") == 0)
                forest = s;
        } else if (strcmp(s->kind, PW_CODEC_LOGCLASS_KIND) == 0 && !out->logclass) {
            if (!(out->logclass = pw_codec_get_logclass(s->data, s->len, err))) {
                pw_err_prefix(err, "section NBAY \"%s\"", s->name);
                goto fail;
            }
        }
    }
    if (forest) {
        if (!(out->forest = pw_codec_get_iforest(forest->data, forest->len, err))) {
            pw_err_prefix(err, "section IFOR \"%s\"", forest->name);
            goto fail;
        }
        calib = pw_bundle_find(b, PW_CODEC_CALIB_KIND, forest->name);
        if (calib && pw_codec_get_calibration(calib->data, calib->len,
                                              &out->models.anomaly_threshold, err) < 0) {
            pw_err_prefix(err, "section CALB \"%s\"", calib->name);
            goto fail;
        }
    }
    out->models.forest = out->forest;
    out->models.logclass = out->logclass;
    out->models.hw = out->hw;
    out->models.hw_names = (const char *const *)out->hw_names;
    pw_sha256_hex(b->digest, out->digest_hex);
    return 0;
fail:
    pw_inservice_release(out);
    return -1;
}

int pw_inservice_load_dir(const char *dir, struct pw_inservice *out, struct pw_err *err)
{
    memset(out, 0, sizeof *out);
    out->models.anomaly_threshold = NAN;
    struct pw_store_report rep;
    struct pw_bundle b;
    memset(&b, 0, sizeof b);
    int rc = pw_store_load_current(dir, &b, err);
    if (rc != 0)
        return rc;
    if (pw_store_verify(dir, &rep, err) < 0) {
        pw_bundle_free(&b);
        return pw_err_prefix(err, "refusing the models in %s", dir);
    }
    rc = pw_inservice_from_bundle(&b, out, err);
    pw_bundle_free(&b);
    return rc;
}
