/* tests/unit/test_buf.c — the byte buffer's file reading: whole files,
 * empty ones (still a C string), the size bound, and errors that name the
 * path and leave the buffer as it was. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"

#include "tests/unit/testing.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_buf_read_file_appends_whole_files)
{
    char path[] = "/tmp/pw_buf_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct pw_buf b;
    pw_buf_init(&b);
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_buf_read_file(&b, path, 10, &err), 0);   /* empty */
    ck_assert_ptr_nonnull(b.data);
    ck_assert_str_eq(b.data, "");
    pw_buf_puts(&b, ">");
    char big[100000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(path, big);
    ck_assert_int_eq(pw_buf_read_file(&b, path, sizeof big, &err), 0);
    ck_assert_uint_eq(b.len, sizeof big);            /* ">" + 99999 bytes */
    ck_assert_int_eq(b.data[0], '>');
    ck_assert_int_eq(b.data[b.len], '\0');
    /* Over the bound: an error, and the buffer keeps what it held. */
    ck_assert_int_eq(pw_buf_read_file(&b, path, 1000, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "larger than 1000 bytes"));
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_uint_eq(b.len, sizeof big);
    ck_assert_int_eq(b.data[b.len], '\0');   /* the refused bytes are not left readable */
    ck_assert_int_eq(pw_buf_read_file(&b, "/nonexistent/f", 10, &err), -1);
    ck_assert_str_eq(err.msg, "/nonexistent/f: cannot open: No such file or directory");
    ck_assert_int_eq(pw_buf_read_file(&b, "/tmp", 10, &err), -1);   /* a directory */
    ck_assert_ptr_nonnull(strstr(err.msg, "/tmp: cannot read"));
    ck_assert_uint_eq(b.len, sizeof big);
    pw_buf_release(&b);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_buf_read_file_appends_whole_files);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
