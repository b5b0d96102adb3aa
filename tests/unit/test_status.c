/* tests/unit/test_status.c — the status port over real HTTP (libcurl on
 * loopback): /metrics and /healthz, an API route with a body, and the
 * bearer token (401 without it or with a wrong one, /healthz always open,
 * a bad token file refused). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/status.h"

#include "tests/unit/testing.h"

struct server {
    struct pw_status *st;
    pthread_t thread;
    atomic_bool stop;
};

static void render(struct pw_buf *out, void *arg)
{
    (void)arg;
    pw_buf_puts(out, "pipewatch_test_up 1\n");
}

static int echo(const char *method, const char *path, const char *body, size_t len,
                struct pw_buf *out, const char **type, void *arg)
{
    (void)arg;
    *type = "text/plain";
    pw_buf_printf(out, "%s %s %.*s", method, path, (int)len, body);
    return 200;
}

/* The status port is driven from one loop, as in the daemons. */
static void *serve(void *arg)
{
    struct server *s = arg;
    while (!atomic_load(&s->stop)) {
        pw_status_run(s->st);
        usleep(1000);
    }
    return NULL;
}

static void start(struct server *s, const char *token_file)
{
    struct pw_err err = {{0}};
    s->st = pw_status_start("127.0.0.1:0", render, NULL, &err);
    ck_assert_msg(s->st != NULL, "%s", err.msg);
    ck_assert_int_eq(pw_status_route(s->st, "/api/", echo, NULL, &err), 0);
    ck_assert_msg(pw_status_set_token_file(s->st, token_file, &err) == 0, "%s", err.msg);
    atomic_store(&s->stop, false);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void stop(struct server *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    pw_status_stop(s->st);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    pw_buf_append(arg, data, size * n);
    return size * n;
}

/* GET (or POST when body) path; returns the status, the body in *out. */
static long get(struct server *s, const char *path, const char *auth, const char *body,
                struct pw_buf *out)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", (unsigned)pw_status_port(s->st),
             path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (auth)
        h = curl_slist_append(h, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    pw_buf_reset(out);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pw_buf_putc(out, '\0');
    return code;
}

START_TEST(open_port_serves_metrics_health_and_routes)
{
    struct server s;
    start(&s, NULL);
    struct pw_buf b;
    pw_buf_init(&b);
    ck_assert_int_eq(get(&s, "/metrics", NULL, NULL, &b), 200);
    ck_assert_str_eq(b.data, "pipewatch_test_up 1\n");
    ck_assert_int_eq(get(&s, "/healthz", NULL, NULL, &b), 200);
    ck_assert_int_eq(get(&s, "/nothing", NULL, NULL, &b), 404);
    ck_assert_int_eq(get(&s, "/api/v2/x", NULL, "{\"a\":1}", &b), 200);
    ck_assert_str_eq(b.data, "POST /api/v2/x {\"a\":1}");
    pw_buf_release(&b);
    stop(&s);
}
END_TEST

START_TEST(token_required_everywhere_but_health)
{
    char path[] = "/tmp/pw-token-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "  s3cret-token \nsecond line\n", 28), 28);
    close(fd);
    struct server s;
    start(&s, path);
    struct pw_buf b;
    pw_buf_init(&b);
    ck_assert_int_eq(get(&s, "/metrics", NULL, NULL, &b), 401);
    ck_assert_ptr_null(strstr(b.data, "s3cret"));
    ck_assert_int_eq(get(&s, "/metrics", "Authorization: Bearer wrong", NULL, &b), 401);
    ck_assert_int_eq(get(&s, "/metrics", "Authorization: Bearer s3cret-toke", NULL, &b), 401);
    ck_assert_int_eq(get(&s, "/metrics", "Authorization: Bearer s3cret-token2", NULL, &b),
                     401);
    ck_assert_int_eq(get(&s, "/metrics", "Authorization: Basic s3cret-token", NULL, &b), 401);
    ck_assert_int_eq(get(&s, "/metrics", "Authorization: Bearer s3cret-token", NULL, &b), 200);
    ck_assert_str_eq(b.data, "pipewatch_test_up 1\n");
    ck_assert_int_eq(get(&s, "/api/v2/x", NULL, "{}", &b), 401);
    ck_assert_int_eq(get(&s, "/api/v2/x", "Authorization: bearer s3cret-token", "{}", &b), 200);
    ck_assert_int_eq(get(&s, "/healthz", NULL, NULL, &b), 200);
    pw_buf_release(&b);
    stop(&s);
    unlink(path);
}
END_TEST

START_TEST(bad_token_files_are_refused)
{
    struct pw_err err = {{0}};
    struct pw_status *st = pw_status_start("127.0.0.1:0", render, NULL, &err);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(pw_status_set_token_file(st, "/nonexistent/token", &err), -1);
    ck_assert_msg(strstr(err.msg, "/nonexistent/token") != NULL, "%s", err.msg);
    char path[] = "/tmp/pw-token-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_eq(write(fd, "   \n", 4), 4);
    close(fd);
    ck_assert_int_eq(pw_status_set_token_file(st, path, &err), -1);
    ck_assert_msg(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    unlink(path);
    pw_status_stop(st);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("status");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, open_port_serves_metrics_health_and_routes);
    tcase_add_test(tc, token_required_everywhere_but_health);
    tcase_add_test(tc, bad_token_files_are_refused);
    suite_add_tcase(s, tc);
    int rc = pw_run_suite(s);
    curl_global_cleanup();
    return rc;
}
