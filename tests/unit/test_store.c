/* tests/unit/test_store.c — the models directory: promotion is atomic and
 * keeps the parent chain, verify names the first broken link; and the
 * pipewatch-train commands over it (exit codes). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/bundle.h"
#include "models/store.h"
#include "train/bundle_cmds.h"

#include "tests/unit/testing.h"

static char root[64];

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/pw_store_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* Writes root/<name>.pwb with the given parent (NULL: none); returns its
 * digest in d. */
static void make(const char *name, const uint8_t *parent, const char *payload,
                 uint8_t d[PW_SHA256_LEN])
{
    struct pw_bundle b;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_bundle_init(&b, &err), 0);
    if (parent)
        memcpy(b.parent, parent, PW_SHA256_LEN);
    ck_assert_int_eq(pw_bundle_add(&b, "HWIN", "disk", payload, strlen(payload), &err), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/%s.pwb", root, name);
    ck_assert_msg(pw_bundle_write_file(&b, path, &err) == 0, "%s", err.msg);
    memcpy(d, b.digest, PW_SHA256_LEN);
    pw_bundle_free(&b);
}

static int promote(const char *name, int force, struct pw_err *err)
{
    char path[128], dir[128], hex[PW_SHA256_HEX_LEN + 1];
    snprintf(path, sizeof path, "%s/%s.pwb", root, name);
    snprintf(dir, sizeof dir, "%s/models", root);
    return pw_store_promote(dir, path, force, hex, err);
}

static void current_is(const uint8_t d[PW_SHA256_LEN])
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/models", root);
    struct pw_bundle b;
    struct pw_err err = {{0}};
    ck_assert_msg(pw_store_load_current(dir, &b, &err) == 0, "%s", err.msg);
    ck_assert_mem_eq(b.digest, d, PW_SHA256_LEN);
    pw_bundle_free(&b);
}

START_TEST(test_store_promotes_a_chain_and_rolls_back_one_step)
{
    uint8_t a[PW_SHA256_LEN], b[PW_SHA256_LEN], c[PW_SHA256_LEN], x[PW_SHA256_LEN];
    make("a", NULL, "one", a);
    make("b", a, "two", b);
    make("c", b, "three", c);
    make("x", NULL, "stranger", x);
    struct pw_err err = {{0}};
    char dir[128];
    snprintf(dir, sizeof dir, "%s/models", root);
    struct pw_bundle none;
    ck_assert_int_eq(pw_store_load_current(dir, &none, &err), 1);   /* nothing yet */
    ck_assert_int_eq(promote("b", 0, &err), -1);                    /* its parent is absent */
    ck_assert_ptr_nonnull(strstr(err.msg, "is not in"));
    ck_assert_msg(promote("a", 0, &err) == 0, "%s", err.msg);
    current_is(a);
    ck_assert_msg(promote("b", 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(promote("c", 0, &err) == 0, "%s", err.msg);
    current_is(c);
    ck_assert_int_eq(promote("x", 0, &err), -1);                    /* not of this line */
    ck_assert_ptr_nonnull(strstr(err.msg, "--force"));
    current_is(c);
    ck_assert_msg(promote("b", 0, &err) == 0, "%s", err.msg);       /* one step back */
    current_is(b);
    ck_assert_msg(promote("x", 1, &err) == 0, "%s", err.msg);       /* forced */
    current_is(x);
    struct pw_store_report r;
    ck_assert_msg(pw_store_verify(dir, &r, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(r.bundles, 4);
    ck_assert_uint_eq(r.valid, 4);
    ck_assert_uint_eq(r.chain, 1);
    ck_assert_msg(promote("c", 1, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(pw_store_verify(dir, &r, &err), 0);
    ck_assert_uint_eq(r.chain, 3);                                  /* c -> b -> a */
    /* No temporary files or links are left behind. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 2", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_store_verify_names_the_first_broken_link)
{
    uint8_t a[PW_SHA256_LEN], b[PW_SHA256_LEN], c[PW_SHA256_LEN];
    make("a", NULL, "one", a);
    make("b", a, "two", b);
    make("c", b, "three", c);
    struct pw_err err = {{0}};
    ck_assert_int_eq(promote("a", 0, &err), 0);
    ck_assert_int_eq(promote("b", 0, &err), 0);
    ck_assert_int_eq(promote("c", 0, &err), 0);
    char dir[128], bpath[256], hex[PW_SHA256_HEX_LEN + 1];
    snprintf(dir, sizeof dir, "%s/models", root);
    pw_sha256_hex(b, hex);
    snprintf(bpath, sizeof bpath, "%s/bundles/%s.pwb", dir, hex);
    /* Flip one byte of b's payload. */
    FILE *f = fopen(bpath, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, -33, SEEK_END);   /* the payload "two" ends where the digest starts */
    int ch = fgetc(f);
    fseek(f, -33, SEEK_END);   /* the payload "two" ends where the digest starts */
    fputc(ch ^ 1, f);
    fclose(f);
    struct pw_store_report r;
    ck_assert_int_eq(pw_store_verify(dir, &r, &err), -1);
    char chex[PW_SHA256_HEX_LEN + 1];
    pw_sha256_hex(c, chex);
    ck_assert_msg(strstr(err.msg, "broken link: the parent of ") && strstr(err.msg, chex) &&
                      strstr(err.msg, "SHA-256 does not match"), "%s", err.msg);
    ck_assert_uint_eq(r.valid, 2);
    /* Through the command: exit 1. */
    char *argv[] = {"verify", dir, NULL};
    ck_assert_int_eq(pw_cmd_verify(2, argv), 1);
    /* A missing parent. */
    unlink(bpath);
    ck_assert_int_eq(pw_store_verify(dir, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "cannot open") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_train_commands_exit_codes)
{
    uint8_t a[PW_SHA256_LEN], b[PW_SHA256_LEN];
    make("a", NULL, "one", a);
    make("b", a, "two", b);
    char pa[128], pb[128], dir[128];
    snprintf(pa, sizeof pa, "%s/a.pwb", root);
    snprintf(pb, sizeof pb, "%s/b.pwb", root);
    snprintf(dir, sizeof dir, "%s/models", root);
    char *inspect[] = {"inspect", pa, NULL};
    ck_assert_int_eq(pw_cmd_inspect(2, inspect), 0);
    char *inspect_json[] = {"inspect", "--json", pb, NULL};
    ck_assert_int_eq(pw_cmd_inspect(3, inspect_json), 0);
    char *inspect_missing[] = {"inspect", "/nonexistent.pwb", NULL};
    ck_assert_int_eq(pw_cmd_inspect(2, inspect_missing), 1);
    char *inspect_usage[] = {"inspect", NULL};
    ck_assert_int_eq(pw_cmd_inspect(1, inspect_usage), 2);
    char *diff_same[] = {"diff", pa, pa, NULL};
    ck_assert_int_eq(pw_cmd_diff(3, diff_same), 0);
    char *diff[] = {"diff", pa, pb, NULL};
    ck_assert_int_eq(pw_cmd_diff(3, diff), 1);
    char *promote_b[] = {"promote", "--models-dir", dir, pb, NULL};
    ck_assert_int_eq(pw_cmd_promote(4, promote_b), 1);              /* parent absent */
    char *promote_a[] = {"promote", "--models-dir", dir, pa, NULL};
    ck_assert_int_eq(pw_cmd_promote(4, promote_a), 0);
    ck_assert_int_eq(pw_cmd_promote(4, promote_b), 0);
    char *verify[] = {"verify", dir, NULL};
    ck_assert_int_eq(pw_cmd_verify(2, verify), 0);
    char *promote_usage[] = {"promote", pa, NULL};
    ck_assert_int_eq(pw_cmd_promote(2, promote_usage), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_store_promotes_a_chain_and_rolls_back_one_step);
    tcase_add_test(tc, test_store_verify_names_the_first_broken_link);
    tcase_add_test(tc, test_train_commands_exit_codes);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
