/* tests/fuzz/fuzz_lineproto.c — the line protocol parser on any bytes, and
 * the writer as its inverse.
 *
 * Every input is parsed into a batch that already holds one point: a failed
 * parse must leave exactly that point. A successful parse is re-encoded with
 * pw_lp_write_point and parsed again, and the two parses must agree on every
 * measurement, tag, field (type and value, floats bit for bit) and timestamp;
 * encoding the second parse must give the same bytes again. Any difference
 * aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/lineproto.h"
#include "tests/fuzz/fuzz_check.h"

/* With more input than this a parsed line may legitimately grow past the
 * 65535-byte limit when re-encoded ("1e14" becomes 15 digits), and the
 * writer then rolls it back instead of writing it. */
#define REENCODE_SAFE_BYTES 16000

static bool same_str(struct pw_str a, struct pw_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool same_field(const struct pw_lp_field *a, const struct pw_lp_field *b)
{
    if (!same_str(a->key, b->key) || a->type != b->type)
        return false;
    switch (a->type) {
    case PW_FIELD_FLOAT: return memcmp(&a->v.f, &b->v.f, sizeof a->v.f) == 0;
    case PW_FIELD_INT: return a->v.i == b->v.i;
    case PW_FIELD_UINT: return a->v.u == b->v.u;
    case PW_FIELD_BOOL: return a->v.b == b->v.b;
    case PW_FIELD_STRING: return same_str(a->v.s, b->v.s);
    }
    return false;
}

static void check_same_point(const struct pw_lp_point *a, const struct pw_lp_point *b)
{
    CHECK(same_str(a->measurement, b->measurement));
    CHECK(a->ntags == b->ntags);
    for (size_t i = 0; i < a->ntags; i++) {
        CHECK(same_str(a->tags[i].key, b->tags[i].key));
        CHECK(same_str(a->tags[i].value, b->tags[i].value));
    }
    CHECK(a->nfields == b->nfields);
    for (size_t i = 0; i < a->nfields; i++)
        CHECK(same_field(&a->fields[i], &b->fields[i]));
    CHECK(a->ts_ns == b->ts_ns);
    CHECK(a->has_ts == b->has_ts);
}

/* Writes points [from, len) of b; returns false if one was rolled back. */
static bool encode(struct pw_lp_writer *w, const struct pw_lp_batch *b, size_t from)
{
    for (size_t i = from; i < pw_lp_batch_len(b); i++) {
        int rc = pw_lp_write_point(w, pw_lp_batch_get(b, i));
        CHECK(rc >= 0);
        if (rc == 0)
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char seed[] = "seed,t=v f=1i 5";
    struct pw_err err;
    struct pw_lp_batch *a = pw_lp_batch_new();
    struct pw_lp_batch *b = pw_lp_batch_new();
    CHECK(a && b);
    CHECK(pw_lp_parse(seed, sizeof seed - 1, -1, a, &err) == 1);
    const struct pw_lp_point *seed_point = pw_lp_batch_get(a, 0);

    /* A negative default keeps missing timestamps missing on re-encode, so
     * has_ts can be compared too. */
    int n = pw_lp_parse((const char *)data, size, -1, a, &err);
    if (n < 0) {
        CHECK(strncmp(err.msg, "line ", 5) == 0);
        CHECK(pw_lp_batch_len(a) == 1);
        CHECK(pw_lp_batch_get(a, 0) == seed_point);
        CHECK(seed_point->measurement.len == 4 &&
              memcmp(seed_point->measurement.ptr, "seed", 4) == 0);
        goto out;
    }
    CHECK(pw_lp_batch_len(a) == 1 + (size_t)n);

    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    if (!encode(&w, a, 1)) {
        CHECK(size > REENCODE_SAFE_BYTES);
        pw_lp_writer_release(&w);
        goto out;
    }
    CHECK(w.points == (size_t)n);

    int m = pw_lp_parse(w.buf.data, w.buf.len, -1, b, &err);
    if (m != n)
        fprintf(stderr, "re-parse gave %d, want %d: %s\n", m, n, err.msg);
    CHECK(m == n);
    for (size_t i = 0; i < (size_t)n; i++)
        check_same_point(pw_lp_batch_get(a, 1 + i), pw_lp_batch_get(b, i));

    struct pw_lp_writer w2;
    pw_lp_writer_init(&w2);
    CHECK(encode(&w2, b, 0));
    CHECK(w2.buf.len == w.buf.len);
    CHECK(w.buf.len == 0 || memcmp(w2.buf.data, w.buf.data, w.buf.len) == 0);
    pw_lp_writer_release(&w2);

    /* Split into small messages as the agent does: every message parses on
     * its own, and together they hold every point. */
    size_t off = 0, total = 0;
    while (off < w.buf.len) {
        size_t len = pw_lp_next_message(w.buf.data + off, w.buf.len - off, 64);
        CHECK(len > 0);
        pw_lp_batch_reset(b);
        int k = pw_lp_parse(w.buf.data + off, len, -1, b, &err);
        CHECK(k >= 1);
        total += (size_t)k;
        off += len;
    }
    CHECK(total == (size_t)n);
    pw_lp_writer_release(&w);
out:
    pw_lp_batch_free(a);
    pw_lp_batch_free(b);
    return 0;
}
