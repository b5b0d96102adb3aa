/* tests/unit/test_kafka.c — common/kafka.c's configuration checks: file
 * properties, SASL mechanisms, and NAME_file secrets. No broker is
 * contacted: only configurations are built. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/kafka.h"
#include "testing.h"

static char dir[] = "/tmp/pw_test_kafka.XXXXXX";

static char *path_of(const char *name)
{
    static char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(path_of(name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* A one-entry property list from "cfg.yaml", line 7. */
static struct pw_kv_list one(const char *key, const char *value)
{
    static struct pw_kv kv;
    kv = (struct pw_kv){(char *)key, (char *)value, 7};
    return (struct pw_kv_list){&kv, 1, "cfg.yaml"};
}

static void setup(void) { ck_assert_ptr_nonnull(mkdtemp(dir)); }
static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir + strlen(dir) - 6, "XXXXXX");
}

START_TEST(missing_tls_files_are_named_with_file_line_key)
{
    struct pw_err err = {{0}};
    struct pw_kv_list l = one("ssl.ca.location", "/nonexistent/ca.pem");
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_str_eq(err.msg, "cfg.yaml:7: kafka.ssl.ca.location: cannot read "
                              "/nonexistent/ca.pem: No such file or directory");
    l = one("ssl.key.location", "/nonexistent/k");
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "kafka.ssl.key.location: cannot read"));
    l = one("ssl.ca.location", "probe");
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), 0);
    write_file("ca.pem", "x");
    l = one("ssl.ca.location", path_of("ca.pem"));
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), 0);
}
END_TEST

START_TEST(sasl_mechanisms_are_checked)
{
    struct pw_err err = {{0}};
    const char *ok[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"};
    for (size_t i = 0; i < 4; i++) {
        struct pw_kv_list l = one("sasl.mechanism", ok[i]);
        ck_assert_msg(pw_kafka_check_props(&l, &err) == 0, "%s: %s", ok[i], err.msg);
    }
    struct pw_kv_list l = one("sasl.mechanisms", "SCRAM-SHA-1");
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cfg.yaml:7: kafka.sasl.mechanisms: unknown "
                                          "SASL mechanism \"SCRAM-SHA-1\""));
}
END_TEST

START_TEST(a_file_property_sets_the_property_to_the_first_line)
{
    struct pw_err err = {{0}};
    write_file("pw", "  s3cret value \nsecond line\n");
    struct pw_kv_list l = one("sasl.password_file", path_of("pw"));
    rd_kafka_conf_t *conf = pw_kafka_conf_new(NULL, &l, &err);
    ck_assert_msg(conf != NULL, "%s", err.msg);
    char v[64];
    size_t n = sizeof v;
    ck_assert_int_eq(rd_kafka_conf_get(conf, "sasl.password", v, &n), RD_KAFKA_CONF_OK);
    ck_assert_str_eq(v, "s3cret value");
    rd_kafka_conf_destroy(conf);
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), 0);
}
END_TEST

START_TEST(a_bad_file_property_is_named_and_its_value_never_quoted)
{
    struct pw_err err = {{0}};
    struct pw_kv_list l = one("sasl.password_file", "/nonexistent/pw");
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cfg.yaml:7: kafka.sasl.password_file: "));
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/pw"));
    write_file("blank", "\n");
    l = one("sasl.password_file", path_of("blank"));
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "the first line of"));
    write_file("empty", "");
    l = one("sasl.password_file", path_of("empty"));
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "the first line of"));
    /* No such property: librdkafka's refusal, without the value. */
    write_file("v", "t0p-secret\n");
    l = one("no.such.property_file", path_of("v"));
    ck_assert_int_eq(pw_kafka_check_props(&l, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "cfg.yaml:7: kafka.no.such.property_file: "));
    ck_assert_ptr_null(strstr(err.msg, "t0p-secret"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kafka");
    TCase *tc = tcase_create("kafka");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, missing_tls_files_are_named_with_file_line_key);
    tcase_add_test(tc, sasl_mechanisms_are_checked);
    tcase_add_test(tc, a_file_property_sets_the_property_to_the_first_line);
    tcase_add_test(tc, a_bad_file_property_is_named_and_its_value_never_quoted);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
