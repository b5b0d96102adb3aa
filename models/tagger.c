/* models/tagger.c — see tagger.h. Glue only: mask once into a scratch
 * line held by the tagger (so tagging allocates nothing), then mine, then
 * classify. */
#include "models/tagger.h"

#include <stdlib.h>

struct pw_tagger {
    struct pw_drain *drain;
    const struct pw_logclass *model;
    struct pw_logtok_line line;      /* scratch, ~6 KB */
};

struct pw_tagger *pw_tagger_new(const struct pw_drain_config *cfg,
                                const struct pw_logclass *model,
                                struct pw_err *err)
{
    struct pw_drain_config def;
    if (!cfg) {
        pw_drain_config_default(&def);
        cfg = &def;
    }
    struct pw_tagger *t = calloc(1, sizeof *t);
    if (!t) {
        pw_err_set(err, "tagger: out of memory");
        return NULL;
    }
    t->drain = pw_drain_new(cfg, err);
    if (!t->drain) {
        free(t);
        return NULL;
    }
    t->model = model;
    return t;
}

void pw_tagger_free(struct pw_tagger *t)
{
    if (!t)
        return;
    pw_drain_free(t->drain);
    free(t);
}

int pw_tagger_tag(struct pw_tagger *t, const char *line, size_t len,
                  struct pw_tag *tag, struct pw_err *err)
{
    pw_logtok_mask(line, len, &t->line);
    long id = pw_drain_add(t->drain, &t->line, err);
    if (id < 0)
        return -1;
    tag->template_id = id;
    tag->category = NULL;
    tag->category_index = 0;
    tag->prob = 0;
    if (t->model) {
        tag->category_index = pw_logclass_predict_masked(t->model, &t->line,
                                                         &tag->prob, NULL);
        tag->category = pw_logclass_category(t->model, tag->category_index);
    }
    return 0;
}

size_t pw_tagger_template(const struct pw_tagger *t, size_t id, char *buf,
                          size_t size)
{
    return pw_drain_template(t->drain, id, buf, size);
}

const struct pw_drain *pw_tagger_drain(const struct pw_tagger *t)
{
    return t->drain;
}

struct pw_logclass *pw_tagger_default_model(const char *path,
                                            struct pw_err *err)
{
    struct pw_logclass_config cfg;
    pw_logclass_config_default(&cfg);
    return pw_logclass_train_tsv(path, &cfg, err);
}
