/* tests/unit/test_alerting_silence.c — silences: pending, active, expired
 * windows; regex and negative matchers; expire (active and pending); the
 * API v2 JSON in and out; validation sentences; update by id; everything
 * persisted across a reopen. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/amjson.h"
#include "alerting/silence.h"

#include "tests/unit/testing.h"

#define S 1000000000LL
#define M (60 * S)
#define T0 (1764800000LL * S)      /* 2025-12-03T22:13:20Z */

static char dir[64], db[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/pw_silence_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/silences.db", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char *body(const char *matchers, int64_t start, int64_t end)
{
    char a[PW_AM_TIME_LEN], b[PW_AM_TIME_LEN];
    pw_am_time_format(start, a);
    pw_am_time_format(end, b);
    char *out = NULL;
    ck_assert_int_ge(asprintf(&out, "{\"matchers\":%s,\"startsAt\":\"%s\","
                              "\"endsAt\":\"%s\",\"createdBy\":\"ops\","
                              "\"comment\":\"disk swap\"}",
                              matchers, a, b), 0);
    return out;
}

static struct pw_labels labels(const char *entity, const char *sev)
{
    struct pw_labels ls = {0};
    struct pw_err err = {{0}};
    pw_labels_set(&ls, "alertname", "Disk", &err);
    pw_labels_set(&ls, "entity", entity, &err);
    pw_labels_set(&ls, "severity", sev, &err);
    return ls;
}

START_TEST(test_silence_window_regex_and_expire)
{
    struct pw_err err = {{0}};
    struct pw_silences *s = pw_silences_open(db, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    char *b = body("[{\"name\":\"entity\",\"value\":\"db-.*\",\"isRegex\":true},"
                   "{\"name\":\"severity\",\"value\":\"critical\","
                   "\"isRegex\":false,\"isEqual\":false}]",
                   T0 + 10 * M, T0 + 70 * M);
    char id[PW_SILENCE_ID_LEN + 1];
    ck_assert_msg(pw_silences_add_json(s, b, strlen(b), T0, id, &err) == 0,
                  "%s", err.msg);
    free(b);
    ck_assert_uint_eq(strlen(id), 36);
    ck_assert_int_eq(id[14], '4');
    struct pw_labels db1 = labels("db-1", "warning");
    struct pw_labels db1c = labels("db-1", "critical");
    struct pw_labels web = labels("web-1", "warning");
    const char *ids[2];
    /* pending, then active, then (at endsAt) expired */
    ck_assert_uint_eq(pw_silences_silenced(s, &db1, T0, ids, 2), 0);
    ck_assert_uint_eq(pw_silences_silenced(s, &db1, T0 + 10 * M, ids, 2), 1);
    ck_assert_str_eq(ids[0], id);
    ck_assert_uint_eq(pw_silences_silenced(s, &db1c, T0 + 10 * M, NULL, 0),
                      0);
    ck_assert_uint_eq(pw_silences_silenced(s, &web, T0 + 10 * M, NULL, 0), 0);
    ck_assert_uint_eq(pw_silences_silenced(s, &db1, T0 + 70 * M, NULL, 0), 0);

    /* the list in API v2's shape */
    char *list = pw_silences_list_json(s, T0 + 20 * M);
    json_t *arr = json_loads(list, 0, NULL);
    free(list);
    json_t *x = json_array_get(arr, 0);
    ck_assert_str_eq(json_string_value(json_object_get(x, "id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(x, "status"), "state")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(x, "startsAt")),
                     "2025-12-03T22:23:20.000Z");
    json_t *m1 = json_array_get(json_object_get(x, "matchers"), 1);
    ck_assert(json_is_false(json_object_get(m1, "isEqual")));
    ck_assert_str_eq(json_string_value(json_object_get(x, "createdBy")),
                     "ops");
    json_decref(arr);

    /* expire: active -> expired; twice is an error */
    ck_assert_int_eq(pw_silences_expire(s, id, T0 + 20 * M, &err), 0);
    ck_assert_uint_eq(pw_silences_silenced(s, &db1, T0 + 20 * M, NULL, 0), 0);
    ck_assert_int_eq(pw_silences_expire(s, id, T0 + 21 * M, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "already expired"));
    ck_assert_int_eq(pw_silences_expire(s, "nope", T0, &err), -1);

    /* a pending silence expires without ever being active */
    b = body("[{\"name\":\"entity\",\"value\":\"web-1\",\"isRegex\":false}]",
             T0 + 60 * M, T0 + 120 * M);
    char id2[PW_SILENCE_ID_LEN + 1];
    ck_assert_int_eq(pw_silences_add_json(s, b, strlen(b), T0 + 21 * M, id2,
                                          &err), 0);
    free(b);
    ck_assert_int_eq(pw_silences_expire(s, id2, T0 + 22 * M, &err), 0);
    ck_assert_uint_eq(pw_silences_silenced(s, &web, T0 + 61 * M, NULL, 0), 0);
    ck_assert_int_eq(pw_silence_state(pw_silences_get(s, id2), T0 + 61 * M),
                     PW_SILENCE_EXPIRED);

    /* persisted: a reopened store has both, in the same states */
    pw_silences_close(s);
    s = pw_silences_open(db, &err);
    ck_assert_uint_eq(pw_silences_count(s), 2);
    ck_assert_int_eq(pw_silence_state(pw_silences_get(s, id), T0 + 30 * M),
                     PW_SILENCE_EXPIRED);
    ck_assert_int_eq(pw_silence_state(pw_silences_get(s, id2), T0 + 30 * M),
                     PW_SILENCE_EXPIRED);
    char *one = pw_silences_get_json(s, id2, T0 + 30 * M);
    ck_assert_ptr_nonnull(strstr(one, "\"expired\""));
    free(one);
    ck_assert_ptr_null(pw_silences_get_json(s, "x", T0));
    pw_labels_free(&db1);
    pw_labels_free(&db1c);
    pw_labels_free(&web);
    pw_silences_close(s);
}
END_TEST

START_TEST(test_silence_update_by_id_persists)
{
    struct pw_err err = {{0}};
    struct pw_silences *s = pw_silences_open(db, &err);
    char *b = body("[{\"name\":\"entity\",\"value\":\"h1\",\"isRegex\":false}]",
                   T0 - 5 * M, T0 + 60 * M);
    char id[PW_SILENCE_ID_LEN + 1], id2[PW_SILENCE_ID_LEN + 1];
    ck_assert_int_eq(pw_silences_add_json(s, b, strlen(b), T0, id, &err), 0);
    free(b);
    /* a startsAt in the past became now */
    ck_assert_int_eq(pw_silences_get(s, id)->starts_at_ns, T0);
    char *upd = NULL;
    ck_assert_int_ge(asprintf(&upd, "{\"id\":\"%s\",\"matchers\":[{\"name\":"
                              "\"entity\",\"value\":\"h2\",\"isRegex\":false}],"
                              "\"startsAt\":\"2025-12-03T22:13:20Z\","
                              "\"endsAt\":\"2025-12-04T00:00:00Z\","
                              "\"createdBy\":\"ops\",\"comment\":\"moved\"}",
                              id), 0);
    ck_assert_msg(pw_silences_add_json(s, upd, strlen(upd), T0 + M, id2,
                                       &err) == 0, "%s", err.msg);
    free(upd);
    ck_assert_str_eq(id2, id);
    ck_assert_uint_eq(pw_silences_count(s), 1);
    pw_silences_close(s);
    s = pw_silences_open(db, &err);
    ck_assert_str_eq(pw_silences_get(s, id)->comment, "moved");
    ck_assert_str_eq(pw_silences_get(s, id)->matchers.v[0].value, "h2");
    pw_silences_close(s);
}
END_TEST

static void expect_invalid(const char *json, const char *want)
{
    struct pw_silence x;
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_silence_parse_json(json, strlen(json), T0, &x, &err),
                     -1);
    pw_silence_free(&x);
    ck_assert_msg(strstr(err.msg, want) != NULL, "wanted \"%s\" in \"%s\"",
                  want, err.msg);
}

#define TIMES "\"startsAt\":\"2025-12-03T22:13:20Z\"," \
              "\"endsAt\":\"2025-12-03T23:13:20Z\""
#define WHO "\"createdBy\":\"ops\",\"comment\":\"c\""

START_TEST(test_silence_validation_sentences)
{
    expect_invalid("{", "not valid JSON");
    expect_invalid("[]", "must be a JSON object");
    expect_invalid("{\"matchers\":[]," TIMES "," WHO "}",
                   "at least one matcher");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\".*\","
                   "\"isRegex\":true}]," TIMES "," WHO "}",
                   "must not match the empty string");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\"(\","
                   "\"isRegex\":true}]," TIMES "," WHO "}",
                   "matcher 1: label a: the regex \"(\" does not compile");
    expect_invalid("{\"matchers\":[{\"name\":\"a-b\",\"value\":\"x\"}],"
                   TIMES "," WHO "}", "not a valid label name");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],"
                   "\"startsAt\":\"yesterday\",\"endsAt\":\"2026-01-01T00:00:"
                   "00Z\"," WHO "}", "startsAt is not an RFC 3339 time");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],"
                   "\"startsAt\":\"2025-12-03T23:00:00Z\",\"endsAt\":"
                   "\"2025-12-03T22:59:00Z\"," WHO "}",
                   "endsAt must be after startsAt");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],"
                   "\"startsAt\":\"2025-12-03T20:00:00Z\",\"endsAt\":"
                   "\"2025-12-03T22:00:00+01:00\"," WHO "}",
                   "endsAt is in the past");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\"x\"}],"
                   TIMES ",\"comment\":\"c\"}", "needs a createdBy");
    expect_invalid("{\"matchers\":[{\"name\":\"a\",\"value\":\"x\","
                   "\"isRegex\":\"yes\"}]," TIMES "," WHO "}",
                   "isRegex must be true or false");
    expect_invalid("{\"id\":\"../x\",\"matchers\":[{\"name\":\"a\",\"value\":"
                   "\"x\"}]," TIMES "," WHO "}", "id must be");

    struct pw_err err = {{0}};
    struct pw_silences *s = pw_silences_open(db, &err);
    const char *unknown = "{\"id\":\"0123\",\"matchers\":[{\"name\":\"a\","
                          "\"value\":\"x\"}]," TIMES "," WHO "}";
    char id[PW_SILENCE_ID_LEN + 1];
    ck_assert_int_eq(pw_silences_add_json(s, unknown, strlen(unknown), T0, id,
                                          &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no silence has the id 0123"));
    pw_silences_close(s);
}
END_TEST

START_TEST(test_rfc3339_times)
{
    int64_t ns;
    ck_assert_int_eq(pw_am_time_parse("2025-12-03T22:13:20Z", &ns), 0);
    ck_assert_int_eq(ns, T0);
    ck_assert_int_eq(pw_am_time_parse("2025-12-03T23:13:20.5+01:00", &ns), 0);
    ck_assert_int_eq(ns, T0 + S / 2);
    ck_assert_int_eq(pw_am_time_parse("1970-01-01T00:00:00.000000001Z", &ns),
                     0);
    ck_assert_int_eq(ns, 1);
    ck_assert_int_eq(pw_am_time_parse("2025-12-03 22:13:20Z", &ns), -1);
    ck_assert_int_eq(pw_am_time_parse("2025-13-03T22:13:20Z", &ns), -1);
    ck_assert_int_eq(pw_am_time_parse("2025-12-03T22:13:20", &ns), -1);
    char t[PW_AM_TIME_LEN];
    pw_am_time_format(T0 + 123456789, t);
    ck_assert_str_eq(t, "2025-12-03T22:13:20.123Z");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alerting_silence");
    TCase *tc = tcase_create("silence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_silence_window_regex_and_expire);
    tcase_add_test(tc, test_silence_update_by_id_persists);
    tcase_add_test(tc, test_silence_validation_sentences);
    tcase_add_test(tc, test_rfc3339_times);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
