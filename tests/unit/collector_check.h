/* tests/unit/collector_check.h — what the collector tests share: a
 * collector started from a YAML snippet with a writer and a batch to parse
 * its output into (struct run), and readers of the parsed points (a name
 * compared with a slice, a field by key, its value with the type
 * asserted). */
#ifndef PW_TEST_COLLECTOR_CHECK_H
#define PW_TEST_COLLECTOR_CHECK_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/collector.h"
#include "common/config.h"
#include "common/lineproto.h"

struct run {
    void *conf;
    struct pw_collector c;
    struct pw_lp_writer w;
    struct pw_lp_batch *batch;
};

/* Loads yaml against ops' options and starts the collector; any failure
 * fails the test. */
static inline void run_start(struct run *r, const struct pw_collector_ops *ops,
                             const char *yaml)
{
    struct pw_err err;
    r->conf = calloc(1, ops->config_size);
    ck_assert_msg(pw_config_load_string("t.yaml", yaml, strlen(yaml), ops->options,
                                        r->conf, &err) == 0, "%s", err.msg);
    r->c = (struct pw_collector){.ops = ops, .config = r->conf};
    ck_assert_msg(ops->start(&r->c, &err) == 0, "%s", err.msg);
    pw_lp_writer_init(&r->w);
    r->batch = pw_lp_batch_new();
}

static inline void finish(struct run *r)
{
    r->c.ops->stop(&r->c);
    pw_config_release(r->c.ops->options, r->conf);
    free(r->conf);
    pw_lp_writer_release(&r->w);
    pw_lp_batch_free(r->batch);
}

static inline bool str_is(struct pw_str s, const char *z)
{
    return s.len == strlen(z) && memcmp(s.ptr, z, s.len) == 0;
}

/* The field named k of p (p must not be NULL), or NULL. */
static inline const struct pw_lp_field *field(const struct pw_lp_point *p, const char *k)
{
    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < p->nfields; i++)
        if (str_is(p->fields[i].key, k))
            return &p->fields[i];
    return NULL;
}

static inline int64_t ival(const struct pw_lp_point *p, const char *k)
{
    const struct pw_lp_field *f = field(p, k);
    ck_assert_msg(f && f->type == PW_FIELD_INT, "no integer field %s", k);
    return f->v.i;
}

static inline double fval(const struct pw_lp_point *p, const char *k)
{
    const struct pw_lp_field *f = field(p, k);
    ck_assert_msg(f && f->type == PW_FIELD_FLOAT, "no float field %s", k);
    return f->v.f;
}

#endif
