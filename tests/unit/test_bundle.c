/* tests/unit/test_bundle.c — model bundles: round trip, the byte layout,
 * the parent chain, and refusal of every truncated, corrupted and
 * future-version file. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/sha256.h"
#include "models/bundle.h"

#include "tests/unit/testing.h"

static void make_bundle(struct pw_bundle *b)
{
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_bundle_init(b, &err), 0);
    b->created_s = 1764000000;
    ck_assert_int_eq(pw_bundle_set_trained_on(b, "nab/realKnownCause, 7 files", &err), 0);
    ck_assert_int_eq(pw_sha256("rows", 4, b->fingerprint), 0);
    double params[4] = {0.5, 0.1, 0.2, 0.98};
    ck_assert_int_eq(pw_bundle_add(b, "HWIN", "disk", params, sizeof params, &err), 0);
    ck_assert_int_eq(pw_bundle_add(b, "IFOR", "host", "forest", 6, &err), 0);
    ck_assert_int_eq(pw_bundle_add(b, "TAGR", "default", "", 0, &err), 0);
}

static void encode(struct pw_bundle *b, struct pw_buf *out)
{
    struct pw_err err = {{0}};
    pw_buf_init(out);
    ck_assert_int_eq(pw_bundle_encode(b, out, &err), 0);
}

START_TEST(test_bundle_round_trip_keeps_everything)
{
    struct pw_bundle b, back;
    make_bundle(&b);
    struct pw_buf buf;
    encode(&b, &buf);
    struct pw_err err = {{0}};
    ck_assert_msg(pw_bundle_decode(buf.data, buf.len, "mem", &back, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(back.version, PW_BUNDLE_VERSION);
    ck_assert_int_eq(back.created_s, 1764000000);
    ck_assert_str_eq(back.trained_on, "nab/realKnownCause, 7 files");
    ck_assert_mem_eq(back.fingerprint, b.fingerprint, PW_SHA256_LEN);
    ck_assert_mem_eq(back.digest, b.digest, PW_SHA256_LEN);
    ck_assert_uint_eq(back.nsections, 3);
    const struct pw_bundle_section *s = pw_bundle_find(&back, "HWIN", "disk");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->len, 4 * sizeof(double));
    double params[4];
    memcpy(params, s->data, sizeof params);
    ck_assert_double_eq(params[3], 0.98);
    s = pw_bundle_find(&back, "TAGR", "default");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->len, 0);
    ck_assert_ptr_null(pw_bundle_find(&back, "HWIN", "host"));
    /* The digest is the SHA-256 of everything before the last 32 bytes. */
    uint8_t d[PW_SHA256_LEN];
    pw_sha256(buf.data, buf.len - PW_SHA256_LEN, d);
    ck_assert_mem_eq(d, back.digest, PW_SHA256_LEN);
    ck_assert_mem_eq(buf.data + buf.len - PW_SHA256_LEN, d, PW_SHA256_LEN);
    /* Encoding what was decoded gives the same bytes. */
    struct pw_buf again;
    encode(&back, &again);
    ck_assert_uint_eq(again.len, buf.len);
    ck_assert_mem_eq(again.data, buf.data, buf.len);
    pw_buf_release(&again);
    pw_buf_release(&buf);
    pw_bundle_free(&b);
    pw_bundle_free(&back);
}
END_TEST

START_TEST(test_bundle_layout_is_little_endian_at_fixed_offsets)
{
    struct pw_bundle b;
    make_bundle(&b);
    struct pw_buf buf;
    encode(&b, &buf);
    const uint8_t *p = (const uint8_t *)buf.data;
    ck_assert_mem_eq(p, "PWBUNDL\n", 8);
    ck_assert_mem_eq(p + 8, "\x01\x00\x00\x00", 4);            /* version 1 */
    ck_assert_mem_eq(p + 12, "\x03\x00\x00\x00", 4);           /* 3 sections */
    /* 1764000000 = 0x6924_8100 */
    ck_assert_mem_eq(p + 16, "\x00\x81\x24\x69\x00\x00\x00\x00", 8);
    ck_assert_mem_eq(p + 56, b.fingerprint, PW_SHA256_LEN);
    ck_assert_mem_eq(p + 88, "\x1b\x00\x00\x00nab/", 8);         /* 27-byte text */
    ck_assert_mem_eq(p + 92 + 27, "HWIN\x04\x00\x00\x00" "disk" "\x20\x00\x00\x00\x00\x00\x00\x00", 20);
    pw_buf_release(&buf);
    pw_bundle_free(&b);
}
END_TEST

START_TEST(test_bundle_every_truncation_is_refused)
{
    struct pw_bundle b, back;
    make_bundle(&b);
    struct pw_buf buf;
    encode(&b, &buf);
    for (size_t n = 0; n < buf.len; n++) {
        struct pw_err err = {{0}};
        /* A copy of exactly n bytes, so that ASan sees any read past it. */
        char *copy = malloc(n ? n : 1);
        memcpy(copy, buf.data, n);
        ck_assert_int_eq(pw_bundle_decode(copy, n, "cut", &back, &err), -1);
        ck_assert_msg(strstr(err.msg, "cut: ") == err.msg, "%zu: %s", n, err.msg);
        ck_assert_uint_eq(back.nsections, 0);
        free(copy);
    }
    pw_buf_release(&buf);
    pw_bundle_free(&b);
}
END_TEST

START_TEST(test_bundle_every_flipped_byte_is_refused)
{
    struct pw_bundle b, back;
    make_bundle(&b);
    struct pw_buf buf;
    encode(&b, &buf);
    int corrupted = 0;
    for (size_t i = 0; i < buf.len; i++) {
        struct pw_err err = {{0}};
        buf.data[i] ^= 0x20;
        ck_assert_msg(pw_bundle_decode(buf.data, buf.len, "flip", &back, &err) == -1,
                      "byte %zu flipped and still loaded", i);
        corrupted += strstr(err.msg, "SHA-256 does not match") != NULL;
        buf.data[i] ^= 0x20;
    }
    /* Most flips land in payloads and names: only the digest catches them. */
    ck_assert_int_gt(corrupted, (int)buf.len / 2);
    pw_buf_release(&buf);
    pw_bundle_free(&b);
}
END_TEST

START_TEST(test_bundle_future_version_and_foreign_files_are_named)
{
    struct pw_bundle b, back;
    make_bundle(&b);
    struct pw_buf buf;
    encode(&b, &buf);
    struct pw_err err = {{0}};
    buf.data[8] = 2;
    ck_assert_int_eq(pw_bundle_decode(buf.data, buf.len, "new.bundle", &back, &err), -1);
    ck_assert_msg(strstr(err.msg, "new.bundle: bundle format version 2; this build reads "
                                  "version 1") != NULL, "%s", err.msg);
    ck_assert_int_eq(pw_bundle_decode("hello world, not a bundle", 25, "x.txt", &back, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "x.txt: not a pipewatch model bundle"));
    pw_buf_release(&buf);
    pw_bundle_free(&b);
}
END_TEST

START_TEST(test_bundle_hostile_lengths_do_not_allocate)
{
    /* A valid header that claims a 2^60-byte section in a tiny file. */
    struct pw_buf buf;
    pw_buf_init(&buf);
    pw_put_bytes(&buf, "PWBUNDL\n", 8);
    pw_put_u32(&buf, 1);
    pw_put_u32(&buf, 1);
    pw_put_i64(&buf, 0);
    uint8_t zero[64] = {0};
    pw_put_bytes(&buf, zero, 64);
    pw_put_str(&buf, "");
    pw_put_bytes(&buf, "HWIN", 4);
    pw_put_str(&buf, "x");
    pw_put_u64(&buf, (uint64_t)1 << 60);
    pw_put_bytes(&buf, zero, 32);
    struct pw_bundle back;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_bundle_decode(buf.data, buf.len, "big", &back, &err), -1);
    ck_assert_msg(strstr(err.msg, "truncated bundle: the file ends inside section 1 (HWIN "
                                  "\"x\"") != NULL, "%s", err.msg);
    pw_buf_release(&buf);
}
END_TEST

START_TEST(test_bundle_refuses_bad_sections)
{
    struct pw_bundle b;
    make_bundle(&b);
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_bundle_add(&b, "HWIN", "disk", "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "already there"));
    ck_assert_int_eq(pw_bundle_add(&b, "HW", "a", "x", 1, &err), -1);
    ck_assert_int_eq(pw_bundle_add(&b, "HW N", "a", "x", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "four printable"));
    ck_assert_uint_eq(b.nsections, 3);
    pw_bundle_free(&b);
}
END_TEST

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(test_bundle_files_chain_to_their_parent)
{
    char dir[] = "/tmp/pw_bundle_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "%s/one.pwb", dir);
    snprintf(p2, sizeof p2, "%s/two.pwb", dir);
    struct pw_bundle one, two, r1, r2;
    struct pw_err err = {{0}};
    make_bundle(&one);
    ck_assert_int_eq(pw_bundle_write_file(&one, p1, &err), 0);
    make_bundle(&two);
    memcpy(two.parent, one.digest, PW_SHA256_LEN);
    ck_assert_int_eq(pw_bundle_write_file(&two, p2, &err), 0);
    ck_assert_int_eq(count_entries(dir), 2);                  /* no temporary left */
    ck_assert_msg(pw_bundle_read_file(p2, &r2, &err) == 0, "%s", err.msg);
    ck_assert_msg(pw_bundle_read_file(p1, &r1, &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(r2.parent, r1.digest, PW_SHA256_LEN);
    ck_assert_mem_ne(r2.digest, r1.digest, PW_SHA256_LEN);   /* the parent differs */
    /* Overwriting replaces the file whole. */
    ck_assert_int_eq(pw_bundle_write_file(&two, p1, &err), 0);
    pw_bundle_free(&r1);
    ck_assert_int_eq(pw_bundle_read_file(p1, &r1, &err), 0);
    ck_assert_mem_eq(r1.digest, two.digest, PW_SHA256_LEN);
    ck_assert_int_eq(count_entries(dir), 2);
    /* A truncated file on disk. */
    ck_assert_int_eq(truncate(p1, 100), 0);
    pw_bundle_free(&r1);
    ck_assert_int_eq(pw_bundle_read_file(p1, &r1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated bundle"));
    ck_assert_ptr_nonnull(strstr(err.msg, p1));
    ck_assert_int_eq(pw_bundle_read_file("/nonexistent/x.pwb", &r1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/x.pwb: cannot open"));
    pw_bundle_free(&one);
    pw_bundle_free(&two);
    pw_bundle_free(&r2);
    unlink(p1);
    unlink(p2);
    rmdir(dir);
}
END_TEST

START_TEST(test_sha256_known_vectors)
{
    uint8_t d[PW_SHA256_LEN];
    char hex[PW_SHA256_HEX_LEN + 1];
    pw_sha256("abc", 3, d);
    pw_sha256_hex(d, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    struct pw_sha256 *h = pw_sha256_new();
    pw_sha256_update(h, "a", 1);
    pw_sha256_update(h, "bc", 2);
    uint8_t d2[PW_SHA256_LEN];
    pw_sha256_final(h, d2);
    ck_assert_mem_eq(d, d2, PW_SHA256_LEN);
    pw_sha256_final(h, d2);                                    /* reset: empty input */
    pw_sha256_hex(d2, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pw_sha256_free(h);
    uint8_t back[PW_SHA256_LEN];
    ck_assert_int_eq(pw_sha256_from_hex("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", back), 0);
    ck_assert_mem_eq(back, d, PW_SHA256_LEN);
    ck_assert_int_eq(pw_sha256_from_hex("ba78", back), -1);
    ck_assert_int_eq(pw_sha256_from_hex("zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", back), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bundle");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bundle_round_trip_keeps_everything);
    tcase_add_test(tc, test_bundle_layout_is_little_endian_at_fixed_offsets);
    tcase_add_test(tc, test_bundle_every_truncation_is_refused);
    tcase_add_test(tc, test_bundle_every_flipped_byte_is_refused);
    tcase_add_test(tc, test_bundle_future_version_and_foreign_files_are_named);
    tcase_add_test(tc, test_bundle_hostile_lengths_do_not_allocate);
    tcase_add_test(tc, test_bundle_refuses_bad_sections);
    tcase_add_test(tc, test_bundle_files_chain_to_their_parent);
    tcase_add_test(tc, test_sha256_known_vectors);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
