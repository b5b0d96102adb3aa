/* tests/unit/lp_check.h — reading parsed line-protocol points in tests:
 * a name compared with a slice, a field by key, and its value with the
 * type asserted. For the collector tests, which all check points. */
#ifndef PW_TEST_LP_CHECK_H
#define PW_TEST_LP_CHECK_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/lineproto.h"

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
