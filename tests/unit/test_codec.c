/* tests/unit/test_codec.c — every model through its bundle encoding and
 * back: the same predictions, the same bytes again, and refusal of
 * truncated or malformed sections (a forest that would loop or leave its
 * trees above all). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "models/bundle.h"
#include "models/codec.h"
#include "models/tagger.h"

#include "tests/unit/testing.h"

static struct pw_iforest *small_forest(void)
{
    double x[200 * 3];
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 3; j++)
            x[i * 3 + j] = sin(i * (j + 1) * 0.37) + (i == 7 ? 9 : 0);
    struct pw_iforest_config c;
    pw_iforest_config_default(&c);
    c.n_trees = 20;
    c.psi = 64;
    struct pw_err err = {{0}};
    struct pw_iforest *f = pw_iforest_fit(x, 200, 3, &c, &err);
    ck_assert_msg(f != NULL, "%s", err.msg);
    return f;
}

START_TEST(test_codec_hw_model_round_trip)
{
    struct pw_hw_model m, back;
    pw_hw_model_default(&m, 48, 1800, true);
    m.p.alpha = 0.123456789;
    struct pw_buf b;
    pw_buf_init(&b);
    pw_codec_put_hw_model(&b, &m);
    struct pw_err err = {{0}};
    ck_assert_msg(pw_codec_get_hw_model(b.data, b.len, &back, &err) == 0, "%s", err.msg);
    ck_assert(memcmp(&back.p, &m.p, sizeof m.p) == 0);
    ck_assert_uint_eq(back.period, 48);
    ck_assert(back.damped);
    ck_assert_double_eq(back.step_s, 1800);
    for (size_t n = 0; n < b.len; n++)
        ck_assert_int_eq(pw_codec_get_hw_model(b.data, n, &back, &err), -1);
    /* alpha out of range: the model's own check speaks. */
    b.data[4 + 7] = 0x40;   /* alpha's top byte: now about 2 */
    ck_assert_int_eq(pw_codec_get_hw_model(b.data, b.len, &back, &err), -1);
    ck_assert_msg(strstr(err.msg, "alpha") != NULL, "%s", err.msg);
    pw_buf_release(&b);
}
END_TEST

START_TEST(test_codec_iforest_round_trip_scores_the_same)
{
    struct pw_iforest *f = small_forest();
    struct pw_buf b, again;
    pw_buf_init(&b);
    pw_buf_init(&again);
    pw_codec_put_iforest(&b, f);
    struct pw_err err = {{0}};
    struct pw_iforest *g = pw_codec_get_iforest(b.data, b.len, &err);
    ck_assert_msg(g != NULL, "%s", err.msg);
    ck_assert_uint_eq(pw_iforest_trees(g), 20);
    for (int i = 0; i < 50; i++) {
        double x[3] = {sin(i * 0.1), cos(i * 0.2), i * 0.05 - 1};
        ck_assert(pw_iforest_score(f, x) == pw_iforest_score(g, x));
        double af[3], ag[3];
        ck_assert_int_eq(pw_iforest_attribute(f, x, af), 0);
        ck_assert_int_eq(pw_iforest_attribute(g, x, ag), 0);
        ck_assert(memcmp(af, ag, sizeof af) == 0);
    }
    double batch_f[4], batch_g[4], xs[12] = {0, 0, 0, 9, 9, 9, 1, 2, 3, -5, 0, 5};
    pw_iforest_score_batch(f, xs, 4, batch_f);
    pw_iforest_score_batch(g, xs, 4, batch_g);
    ck_assert(memcmp(batch_f, batch_g, sizeof batch_f) == 0);
    pw_codec_put_iforest(&again, g);
    ck_assert_uint_eq(again.len, b.len);
    ck_assert_mem_eq(again.data, b.data, b.len);
    for (size_t n = 0; n < b.len; n += 7)
        ck_assert_ptr_null(pw_codec_get_iforest(b.data, n, &err));
    pw_iforest_free(f);
    pw_iforest_free(g);
    pw_buf_release(&b);
    pw_buf_release(&again);
}
END_TEST

/* Offset of node i's fields in an encoded forest of `trees` trees. */
static size_t node_at(size_t trees, size_t i)
{
    return 4 + 3 * 8 + trees * 8 + i * 16;
}

START_TEST(test_codec_iforest_refuses_forests_that_would_loop_or_escape)
{
    struct pw_iforest *f = small_forest();
    struct pw_buf b;
    pw_buf_init(&b);
    pw_codec_put_iforest(&b, f);
    struct pw_err err = {{0}};
    struct {
        size_t field;      /* 0 split, 8 feature, 12 child */
        uint32_t value;
        const char *why;
    } cases[] = {
        {12, 0, "malformed split"},          /* root's child back to itself: a loop */
        {12, 100000, "malformed split"},     /* a child outside the tree */
        {8, 7, "malformed split"},           /* a feature beyond d (leaf is 3) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        uint32_t v = cases[k].value;
        for (int i = 0; i < 4; i++)
            copy[node_at(20, 0) + cases[k].field + i] = (char)(v >> (8 * i));
        ck_assert_ptr_null(pw_codec_get_iforest(copy, b.len, &err));
        ck_assert_msg(strstr(err.msg, cases[k].why) != NULL, "%zu: %s", k, err.msg);
        free(copy);
    }
    /* A leaf whose path length is NaN would make the lockstep walk step
     * past it: refused. Find the first leaf of tree 0. */
    size_t n;
    const struct pw_iforest_node *t0 = pw_iforest_tree(f, 0, &n);
    size_t leaf = 0;
    while (t0[leaf].feature != 3)
        leaf++;
    char *copy = malloc(b.len);
    memcpy(copy, b.data, b.len);
    double nan = NAN;
    uint64_t bits;
    memcpy(&bits, &nan, 8);
    for (int i = 0; i < 8; i++)
        copy[node_at(20, leaf) + i] = (char)(bits >> (8 * i));
    ck_assert_ptr_null(pw_codec_get_iforest(copy, b.len, &err));
    ck_assert_msg(strstr(err.msg, "malformed leaf") != NULL, "%s", err.msg);
    free(copy);
    pw_iforest_free(f);
    pw_buf_release(&b);
}
END_TEST

static struct pw_logclass *default_classifier(void)
{
    const char *src = getenv("PW_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", PW_TAGGER_DEFAULT_TSV);
    struct pw_err err = {{0}};
    struct pw_logclass *m = pw_tagger_default_model(path, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    return m;
}

START_TEST(test_codec_logclass_round_trip_in_a_bundle_file)
{
    struct pw_logclass *m = default_classifier();
    struct pw_iforest *f = small_forest();
    struct pw_hw_model hw;
    pw_hw_model_default(&hw, 0, 60, false);
    struct pw_bundle bundle, back;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_bundle_init(&bundle, &err), 0);
    struct pw_buf s;
    pw_buf_init(&s);
    ck_assert_int_eq(pw_codec_put_logclass(&s, m, &err), 0);
    ck_assert_int_eq(pw_bundle_add(&bundle, PW_CODEC_LOGCLASS_KIND, "default", s.data, s.len, &err), 0);
    pw_buf_reset(&s);
    pw_codec_put_iforest(&s, f);
    ck_assert_int_eq(pw_bundle_add(&bundle, PW_CODEC_IFOREST_KIND, "host", s.data, s.len, &err), 0);
    pw_buf_reset(&s);
    pw_codec_put_hw_model(&s, &hw);
    ck_assert_int_eq(pw_bundle_add(&bundle, PW_CODEC_HW_KIND, "disk", s.data, s.len, &err), 0);
    char dir[] = "/tmp/pw_codec_XXXXXX", path[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/b.pwb", dir);
    ck_assert_int_eq(pw_bundle_write_file(&bundle, path, &err), 0);
    ck_assert_msg(pw_bundle_read_file(path, &back, &err) == 0, "%s", err.msg);
    const struct pw_bundle_section *sec = pw_bundle_find(&back, PW_CODEC_LOGCLASS_KIND, "default");
    ck_assert_ptr_nonnull(sec);
    struct pw_logclass *m2 = pw_codec_get_logclass(sec->data, sec->len, &err);
    ck_assert_msg(m2 != NULL, "%s", err.msg);
    const char *lines[] = {
        "java.lang.OutOfMemoryError: Java heap space",
        "write failed: No space left on device",
        "Connection refused to broker kafka-3:9092",
        "task finished in 12 s",
    };
    for (size_t i = 0; i < 4; i++) {
        double p1, p2;
        size_t c1 = pw_logclass_predict(m, lines[i], strlen(lines[i]), &p1, NULL);
        size_t c2 = pw_logclass_predict(m2, lines[i], strlen(lines[i]), &p2, NULL);
        ck_assert_uint_eq(c1, c2);
        ck_assert(p1 == p2);
    }
    sec = pw_bundle_find(&back, PW_CODEC_LOGCLASS_KIND, "default");
    for (size_t n = 0; n < sec->len; n += 97)
        ck_assert_ptr_null(pw_codec_get_logclass(sec->data, n, &err));
    pw_logclass_free(m2);
    pw_logclass_free(m);
    pw_iforest_free(f);
    pw_buf_release(&s);
    pw_bundle_free(&bundle);
    pw_bundle_free(&back);
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_codec_hw_model_round_trip);
    tcase_add_test(tc, test_codec_iforest_round_trip_scores_the_same);
    tcase_add_test(tc, test_codec_iforest_refuses_forests_that_would_loop_or_escape);
    tcase_add_test(tc, test_codec_logclass_round_trip_in_a_bundle_file);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
