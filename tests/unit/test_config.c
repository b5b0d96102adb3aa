/* tests/unit/test_config.c — the YAML configuration loader: every option
 * type, defaults, every error class with its file:line:key, the value
 * parsers, the reference, and release (LeakSanitizer watches the forked
 * test processes under -DPW_SANITIZE=ON). */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/testing.h"
#include "common/config.h"

struct tls {
    char *ca_file;
    bool verify;
};

struct server {
    char *host;
    int64_t port;
    struct tls tls;
};

struct cfg {
    char *name;
    int64_t workers;
    double ratio;
    bool debug;
    int64_t interval_ms;
    int64_t buffer_bytes;
    struct server server;
    struct pw_kv_list kafka;
    struct pw_str_list brokers;
};

static const struct pw_option tls_table[] = {
    {.name = "ca_file", .type = PW_OPT_STRING,
     .offset = offsetof(struct tls, ca_file),
     .description = "CA bundle used to verify the server."},
    {.name = "verify", .type = PW_OPT_BOOL,
     .offset = offsetof(struct tls, verify), .default_value = "true",
     .description = "Verify the server certificate."},
    {0},
};

static const struct pw_option server_table[] = {
    {.name = "host", .type = PW_OPT_STRING,
     .offset = offsetof(struct server, host), .required = true,
     .description = "Host name to listen on."},
    {.name = "port", .type = PW_OPT_INT,
     .offset = offsetof(struct server, port), .default_value = "8080",
     .min = 1, .max = 65535, .description = "TCP port."},
    {.name = "tls", .type = PW_OPT_SECTION,
     .offset = offsetof(struct server, tls), .section = tls_table,
     .description = "TLS settings."},
    {0},
};

static const struct pw_option cfg_table[] = {
    {.name = "name", .type = PW_OPT_STRING,
     .offset = offsetof(struct cfg, name), .default_value = "pipewatch",
     .description = "Name of this agent | shown in metrics."},
    {.name = "workers", .type = PW_OPT_INT,
     .offset = offsetof(struct cfg, workers), .default_value = "4",
     .min = 1, .max = 64, .description = "Worker threads."},
    {.name = "ratio", .type = PW_OPT_DOUBLE,
     .offset = offsetof(struct cfg, ratio), .default_value = "0.5",
     .min = 0, .max = 1, .description = "Sampling ratio."},
    {.name = "debug", .type = PW_OPT_BOOL,
     .offset = offsetof(struct cfg, debug), .default_value = "false",
     .description = "Verbose logging."},
    {.name = "interval", .type = PW_OPT_DURATION,
     .offset = offsetof(struct cfg, interval_ms), .default_value = "10s",
     .min = 100, .max = 86400000, .description = "Collection interval."},
    {.name = "buffer", .type = PW_OPT_SIZE,
     .offset = offsetof(struct cfg, buffer_bytes), .default_value = "1MiB",
     .min = 1024, .max = 1073741824, .description = "Buffer size."},
    {.name = "server", .type = PW_OPT_SECTION,
     .offset = offsetof(struct cfg, server), .section = server_table,
     .description = "The HTTP server."},
    {.name = "kafka", .type = PW_OPT_MAP,
     .offset = offsetof(struct cfg, kafka),
     .description = "librdkafka properties, passed through."},
    {.name = "brokers", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct cfg, brokers),
     .default_value = "[localhost:9092]", .description = "Bootstrap brokers."},
    {0},
};

static struct pw_err err;

static int load(const char *yaml, struct cfg *c)
{
    memset(&err, 0, sizeof err);
    return pw_config_load_string("t.yaml", yaml, strlen(yaml), cfg_table, c,
                                 &err);
}

/* Loads yaml into a fresh struct, expects failure, releases. */
static void load_fails(const char *yaml)
{
    struct cfg c = {0};
    ck_assert_int_eq(load(yaml, &c), -1);
    pw_config_release(cfg_table, &c);
}

#define ck_assert_err_has(needle)                                          \
    ck_assert_msg(strstr(err.msg, (needle)) != NULL,                       \
                  "error \"%s\" lacks \"%s\"", err.msg, (needle))

#define ck_assert_err_lacks(needle)                                        \
    ck_assert_msg(strstr(err.msg, (needle)) == NULL,                       \
                  "error \"%s\" has \"%s\"", err.msg, (needle))

static const char good_yaml[] =
    "name: edge-1\n"                       /* 1 */
    "workers: 8\n"                         /* 2 */
    "ratio: 0.25\n"                        /* 3 */
    "debug: yes\n"                         /* 4 */
    "interval: 1.5s\n"                     /* 5 */
    "buffer: 10MiB\n"                      /* 6 */
    "server:\n"                            /* 7 */
    "  host: example.org\n"                /* 8 */
    "  port: \"9090\"\n"                   /* 9 */
    "  tls:\n"                             /* 10 */
    "    ca_file: /etc/ca.pem\n"           /* 11 */
    "    verify: off\n"                    /* 12 */
    "kafka:\n"                             /* 13 */
    "  bootstrap.servers: k1:9092\n"       /* 14 */
    "  acks: all\n"                        /* 15 */
    "  enable.idempotence: true\n"         /* 16 */
    "  linger.ms: 5\n"                     /* 17 */
    "brokers:\n"                           /* 18 */
    "  - a:9092\n"                         /* 19 */
    "  - b:9092\n";                        /* 20 */

START_TEST(test_config_full_good_config_fills_every_type)
{
    struct cfg c = {0};
    ck_assert_msg(load(good_yaml, &c) == 0, "%s", err.msg);
    ck_assert_str_eq(c.name, "edge-1");
    ck_assert_int_eq(c.workers, 8);
    ck_assert_double_eq(c.ratio, 0.25);
    ck_assert(c.debug);
    ck_assert_int_eq(c.interval_ms, 1500);
    ck_assert_int_eq(c.buffer_bytes, 10485760);
    ck_assert_str_eq(c.server.host, "example.org");
    ck_assert_int_eq(c.server.port, 9090);
    ck_assert_str_eq(c.server.tls.ca_file, "/etc/ca.pem");
    ck_assert(!c.server.tls.verify);
    ck_assert_uint_eq(c.kafka.len, 4);
    ck_assert_str_eq(c.kafka.items[2].key, "enable.idempotence");
    ck_assert_str_eq(c.kafka.items[2].value, "true");
    ck_assert_str_eq(c.kafka.items[3].value, "5");
    ck_assert_uint_eq(c.brokers.len, 2);
    ck_assert_str_eq(c.brokers.items[0], "a:9092");
    ck_assert_str_eq(c.brokers.items[1], "b:9092");
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_defaults_apply_when_keys_absent)
{
    struct cfg c = {0};
    ck_assert_msg(load("server:\n  host: h\n", &c) == 0, "%s", err.msg);
    ck_assert_str_eq(c.name, "pipewatch");
    ck_assert_int_eq(c.workers, 4);
    ck_assert_double_eq(c.ratio, 0.5);
    ck_assert(!c.debug);
    ck_assert_int_eq(c.interval_ms, 10000);
    ck_assert_int_eq(c.buffer_bytes, 1048576);
    ck_assert_int_eq(c.server.port, 8080);
    ck_assert_ptr_null(c.server.tls.ca_file);
    ck_assert(c.server.tls.verify);          /* section absent: defaults */
    ck_assert_uint_eq(c.kafka.len, 0);
    ck_assert_ptr_null(c.kafka.items);
    ck_assert_uint_eq(c.brokers.len, 1);     /* YAML default "[localhost:9092]" */
    ck_assert_str_eq(c.brokers.items[0], "localhost:9092");
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_defaults_alone_fill_the_struct)
{
    struct cfg c = {0};
    ck_assert_int_eq(pw_config_defaults(cfg_table, &c, &err), 0);
    ck_assert_str_eq(c.name, "pipewatch");
    ck_assert_int_eq(c.interval_ms, 10000);
    ck_assert(c.server.tls.verify);
    ck_assert_ptr_null(c.server.host);
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_null_value_keeps_the_default)
{
    struct cfg c = {0};
    ck_assert_msg(load("name: ~\nworkers: null\ninterval:\n"
                       "server:\n  host: h\n  tls: ~\nkafka:\nbrokers: ~\n",
                       &c) == 0, "%s", err.msg);
    ck_assert_str_eq(c.name, "pipewatch");
    ck_assert_int_eq(c.workers, 4);
    ck_assert_int_eq(c.interval_ms, 10000);
    ck_assert(c.server.tls.verify);
    ck_assert_uint_eq(c.brokers.len, 1);
    pw_config_release(cfg_table, &c);

    /* A quoted "null" is text, not null. */
    struct cfg d = {0};
    ck_assert_msg(load("name: \"null\"\nserver: {host: h}\n", &d) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(d.name, "null");
    pw_config_release(cfg_table, &d);
}
END_TEST

START_TEST(test_config_empty_file_is_an_empty_mapping)
{
    struct cfg c = {0};
    ck_assert_int_eq(load("", &c), -1);
    ck_assert_str_eq(err.msg, "t.yaml:1: server.host: required key is missing");
    ck_assert_str_eq(c.name, "pipewatch");   /* defaults were applied */
    pw_config_release(cfg_table, &c);

    load_fails("# only a comment\n");
    ck_assert_err_has("t.yaml:1: server.host: required key is missing");
}
END_TEST

START_TEST(test_config_missing_required_key_names_the_mapping_line)
{
    load_fails("workers: 2\n"
               "server:\n"
               "  port: 80\n");
    ck_assert_str_eq(err.msg, "t.yaml:3: server.host: required key is missing");

    load_fails("workers: 2\nserver:\n  host:\n");
    ck_assert_err_has("t.yaml:3: server.host: required key is missing");
}
END_TEST

START_TEST(test_config_unknown_key_suggests_a_close_name)
{
    load_fails("server:\n  host: h\n  prot: 80\n");
    ck_assert_str_eq(err.msg,
                     "t.yaml:3: server.prot: unknown key (did you mean \"port\"?)");

    load_fails("intervall: 5s\n");
    ck_assert_err_has("t.yaml:1: intervall: unknown key (did you mean \"interval\"?)");
}
END_TEST

START_TEST(test_config_unknown_key_far_from_any_name_has_no_suggestion)
{
    load_fails("server:\n  host: h\ncolour: blue\n");
    ck_assert_str_eq(err.msg, "t.yaml:3: colour: unknown key");
    load_fails("<<: {}\n");                  /* merge keys are not supported */
    ck_assert_err_has("t.yaml:1: <<: unknown key");
}
END_TEST

START_TEST(test_config_wrong_type_says_what_was_expected_and_found)
{
    load_fails("server:\n  host: h\n  port: abc\n");
    ck_assert_str_eq(err.msg,
                     "t.yaml:3: server.port: expected an integer, got \"abc\"");

    load_fails("server:\n  host: [a, b]\n");
    ck_assert_err_has("t.yaml:2: server.host: expected a string, got a sequence");

    load_fails("server: localhost\n");
    ck_assert_err_has("t.yaml:1: server: expected a mapping, got \"localhost\"");

    load_fails("interval: ten\nserver: {host: h}\n");
    ck_assert_str_eq(err.msg, "t.yaml:1: interval: expected a duration such as "
                              "\"10s\" or \"500ms\", got \"ten\"");

    load_fails("ratio: {a: 1}\n");
    ck_assert_err_has("t.yaml:1: ratio: expected a number, got a mapping");

    load_fails("debug: maybe\n");
    ck_assert_err_has("t.yaml:1: debug: expected a boolean");
    ck_assert_err_has("got \"maybe\"");

    load_fails("kafka: [a]\n");
    ck_assert_err_has("t.yaml:1: kafka: expected a mapping, got a sequence");

    load_fails("kafka:\n  acks: all\n  sasl:\n    user: u\n");
    ck_assert_err_has("t.yaml:4: kafka.sasl: expected a scalar");
    ck_assert_err_has("got a mapping");

    load_fails("brokers: {a: b}\n");
    ck_assert_err_has("t.yaml:1: brokers: expected a string or a sequence of "
                      "strings, got a mapping");

    load_fails("brokers:\n  - a\n  - [b]\n");
    ck_assert_err_has("t.yaml:3: brokers: expected a string, got a sequence");

    load_fails("workers: \"1\\u0000\"\n");
    ck_assert_err_has("t.yaml:1: workers: the value contains a NUL character");
}
END_TEST

START_TEST(test_config_integers_are_strict_decimal)
{
    static const char *const bad[] = {
        "0x10", "12abc", "1.5", "", " 5", "+", "9223372036854775808",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[128];
        snprintf(yaml, sizeof yaml, "server: {host: h, port: \"%s\"}\n", bad[i]);
        load_fails(yaml);
        ck_assert_err_has("t.yaml:1: server.port: expected an integer");
    }
    struct cfg c = {0};
    ck_assert_msg(load("server: {host: h, port: '+0443'}\n", &c) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(c.server.port, 443);   /* decimal, not octal */
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_doubles_must_be_finite_without_junk)
{
    load_fails("ratio: 0.5x\n");
    ck_assert_err_has("t.yaml:1: ratio: expected a number, got \"0.5x\"");
    load_fails("ratio: 1e999\n");
    ck_assert_err_has("t.yaml:1: ratio: expected a number");
    load_fails("ratio: nan\n");
    ck_assert_err_has("finite");
}
END_TEST

START_TEST(test_config_range_errors_use_the_options_units)
{
    load_fails("server:\n  host: h\n  port: 70000\n");
    ck_assert_str_eq(err.msg, "t.yaml:3: server.port: must be between 1 and "
                              "65535, got \"70000\"");

    load_fails("ratio: 1.5\n");
    ck_assert_err_has("t.yaml:1: ratio: must be between 0 and 1, got \"1.5\"");

    load_fails("\ninterval: 50ms\n");
    ck_assert_err_has("t.yaml:2: interval: must be between 100ms and 1d, "
                      "got \"50ms\"");
    load_fails("interval: 2d\n");
    ck_assert_err_has("t.yaml:1: interval: must be between 100ms and 1d");

    load_fails("buffer: 2GiB\n");
    ck_assert_err_has("t.yaml:1: buffer: must be between 1KiB and 1GiB, "
                      "got \"2GiB\"");

    load_fails("workers: -3\n");
    ck_assert_err_has("t.yaml:1: workers: must be between 1 and 64");
}
END_TEST

START_TEST(test_config_duplicate_key_is_an_error)
{
    load_fails("workers: 1\nserver: {host: h}\nworkers: 2\n");
    ck_assert_str_eq(err.msg,
                     "t.yaml:3: workers: duplicate key (first at line 1)");

    load_fails("server:\n  host: a\n  host: b\n");
    ck_assert_err_has("t.yaml:3: server.host: duplicate key (first at line 2)");

    load_fails("kafka:\n  acks: 1\n  acks: all\n");
    ck_assert_err_has("t.yaml:3: kafka.acks: duplicate key (first at line 2)");
}
END_TEST

START_TEST(test_config_yaml_syntax_error_names_the_line)
{
    load_fails("workers: 1\nname: a: b\n");
    ck_assert_err_has("t.yaml:2: YAML syntax error: ");
    ck_assert_err_has("mapping values are not allowed");

    load_fails("server:\n  host: h\nbrokers: [a, b\n");
    ck_assert_err_has("t.yaml:");
    ck_assert_err_has("YAML syntax error: ");
    ck_assert_err_has("(while parsing a flow sequence)");

    load_fails("name: x\x01y\n");          /* a reader error: only an offset */
    ck_assert_err_has("t.yaml:1: YAML syntax error: control characters");
}
END_TEST

START_TEST(test_config_second_document_is_an_error)
{
    load_fails("server: {host: h}\n---\nworkers: 2\n");
    ck_assert_err_has("t.yaml:3: a second YAML document");

    load_fails("server: {host: h}\n---\n---\nworkers: [\n");
    ck_assert_err_has("t.yaml:5: YAML syntax error: ");

    /* a trailing empty document, as some generators write, is tolerated */
    struct cfg c = {0};
    ck_assert_msg(load("server: {host: h}\n...\n---\n", &c) == 0, "%s",
                  err.msg);
    ck_assert_str_eq(c.server.host, "h");
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_top_level_must_be_a_mapping)
{
    load_fails("- a\n- b\n");
    ck_assert_str_eq(err.msg, "t.yaml:1: expected a mapping of keys at the top "
                              "level, got a sequence");
    load_fails("\n\njust text\n");
    ck_assert_err_has("t.yaml:3: expected a mapping of keys at the top level, "
                      "got \"just text\"");
}
END_TEST

START_TEST(test_config_nonexistent_file_cannot_be_opened)
{
    struct cfg c = {0};
    ck_assert_int_eq(pw_config_load("/nonexistent/agent.yaml", cfg_table, &c,
                                     &err), -1);
    ck_assert_str_eq(err.msg,
                     "/nonexistent/agent.yaml: cannot open: No such file or directory");
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_loads_a_file_and_names_it)
{
    char path[] = "/tmp/pw_test_config_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(good_yaml, f);
    fclose(f);

    struct cfg c = {0};
    int rc = pw_config_load(path, cfg_table, &c, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_str_eq(c.kafka.file, path);
    ck_assert_int_eq(c.server.port, 9090);
    pw_config_release(cfg_table, &c);

    f = fopen(path, "w");
    fputs("server:\n  host: h\n  port: 0\n", f);
    fclose(f);
    rc = pw_config_load(path, cfg_table, &c, &err);
    unlink(path);
    ck_assert_int_eq(rc, -1);
    char want[128];
    snprintf(want, sizeof want, "%s:3: server.port: must be between", path);
    ck_assert_err_has(want);
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_duration_parser)
{
    static const struct { const char *text; int64_t ms; } good[] = {
        {"1.5s", 1500}, {"250ms", 250}, {"2h", 7200000}, {"5m", 300000},
        {"1d", 86400000}, {"10", 10000}, {"0.5", 500}, {"0", 0},
        {"1.0005s", 1001}, {"10 s", 10000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = -1;
        ck_assert_msg(pw_parse_duration_ms(good[i].text, &ms, &err) == 0,
                      "%s: %s", good[i].text, err.msg);
        ck_assert_int_eq(ms, good[i].ms);
    }
    static const char *const bad[] = {
        "-1s", "", "ten", "10 parsecs", "1.s", ".5s", "5S", "1e3s", "5 ",
        "9999999999999999999999d", "106751991168d", "10s junk",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        ck_assert_msg(pw_parse_duration_ms(bad[i], &ms, &err) == -1,
                      "\"%s\" parsed", bad[i]);
        ck_assert_int_eq(ms, 42);
        ck_assert_err_has("expected a duration such as \"10s\" or \"500ms\"");
    }
    pw_parse_duration_ms("-1s", &(int64_t){0}, &err);
    ck_assert_err_has("negative");
}
END_TEST

START_TEST(test_config_size_parser)
{
    static const struct { const char *text; int64_t bytes; } good[] = {
        {"10MiB", 10485760}, {"10MB", 10000000}, {"512", 512},
        {"512B", 512}, {"64KiB", 65536}, {"10KB", 10000},
        {"1GiB", 1073741824}, {"1GB", 1000000000}, {"1.5MiB", 1572864},
        {"2 tib", 2199023255552LL}, {"3kb", 3000}, {"1TB", 1000000000000LL},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t b = -1;
        ck_assert_msg(pw_parse_size_bytes(good[i].text, &b, &err) == 0,
                      "%s: %s", good[i].text, err.msg);
        ck_assert_int_eq(b, good[i].bytes);
    }
    static const char *const bad[] = {
        "10 parsecs", "", "-1KiB", "MiB", "10K", "1.MiB", "10MiBs",
        "99999999TiB",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t b = 42;
        ck_assert_msg(pw_parse_size_bytes(bad[i], &b, &err) == -1,
                      "\"%s\" parsed", bad[i]);
        ck_assert_int_eq(b, 42);
        ck_assert_err_has("expected a size");
    }
}
END_TEST

START_TEST(test_config_bool_parser)
{
    static const char *const yes[] = {"true", "yes", "on", "True", "YES"};
    static const char *const no[] = {"false", "no", "off", "FALSE", "Off"};
    for (size_t i = 0; i < 5; i++) {
        bool b = false;
        ck_assert_int_eq(pw_parse_bool(yes[i], &b, &err), 0);
        ck_assert(b);
        ck_assert_int_eq(pw_parse_bool(no[i], &b, &err), 0);
        ck_assert(!b);
    }
    bool b;
    ck_assert_int_eq(pw_parse_bool("1", &b, &err), -1);
    ck_assert_int_eq(pw_parse_bool("", &b, &err), -1);
    ck_assert_int_eq(pw_parse_bool("yess", &b, &err), -1);
}
END_TEST

START_TEST(test_config_map_keeps_order_and_lines)
{
    struct cfg c = {0};
    ck_assert_msg(load(good_yaml, &c) == 0, "%s", err.msg);
    ck_assert_str_eq(c.kafka.file, "t.yaml");
    static const char *const keys[] = {
        "bootstrap.servers", "acks", "enable.idempotence", "linger.ms",
    };
    static const char *const values[] = {"k1:9092", "all", "true", "5"};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(c.kafka.items[i].key, keys[i]);
        ck_assert_str_eq(c.kafka.items[i].value, values[i]);
        ck_assert_int_eq(c.kafka.items[i].line, 14 + i);
    }
    pw_config_release(cfg_table, &c);

    /* null entries are skipped, the rest keep their order */
    struct cfg d = {0};
    ck_assert_msg(load("server: {host: h}\nkafka:\n  z: 1\n  y: ~\n  a: 2\n",
                       &d) == 0, "%s", err.msg);
    ck_assert_uint_eq(d.kafka.len, 2);
    ck_assert_str_eq(d.kafka.items[0].key, "z");
    ck_assert_str_eq(d.kafka.items[1].key, "a");
    ck_assert_int_eq(d.kafka.items[1].line, 5);
    pw_config_release(cfg_table, &d);
}
END_TEST

START_TEST(test_config_string_list_from_sequence_or_scalar)
{
    struct cfg c = {0};
    ck_assert_msg(load("server: {host: h}\nbrokers: [x:1, \"y:2\", 3]\n", &c)
                  == 0, "%s", err.msg);
    ck_assert_uint_eq(c.brokers.len, 3);
    ck_assert_str_eq(c.brokers.items[0], "x:1");
    ck_assert_str_eq(c.brokers.items[1], "y:2");
    ck_assert_str_eq(c.brokers.items[2], "3");
    pw_config_release(cfg_table, &c);

    ck_assert_msg(load("server: {host: h}\nbrokers: only:9092\n", &c) == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(c.brokers.len, 1);
    ck_assert_str_eq(c.brokers.items[0], "only:9092");
    pw_config_release(cfg_table, &c);

    ck_assert_msg(load("server: {host: h}\nbrokers: []\n", &c) == 0, "%s",
                  err.msg);
    ck_assert_uint_eq(c.brokers.len, 0);
    pw_config_release(cfg_table, &c);

    load_fails("brokers:\n  - a\n  -\n");
    ck_assert_err_has("t.yaml:3: brokers: item 2 is null");
}
END_TEST

START_TEST(test_config_reference_lists_dotted_names)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    pw_config_reference(out, cfg_table, NULL);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "| Key | Type | Default | Range | "
                                       "Description |\n|---|"));
    ck_assert_ptr_nonnull(strstr(text, "| `server.tls.verify` | boolean | "
                                       "`true` |  | Verify the server "
                                       "certificate. |\n"));
    ck_assert_ptr_nonnull(strstr(text, "| `server.host` | string | required |"));
    ck_assert_ptr_nonnull(strstr(text, "| `server.port` | integer | `8080` | "
                                       "1 to 65535 |"));
    ck_assert_ptr_nonnull(strstr(text, "| `interval` | duration | `10s` | "
                                       "100ms to 1d |"));
    ck_assert_ptr_nonnull(strstr(text, "| `buffer` | size | `1MiB` | "
                                       "1KiB to 1GiB |"));
    ck_assert_ptr_nonnull(strstr(text, "| `server.tls.ca_file` |"));
    ck_assert_ptr_nonnull(strstr(text, "| `kafka` | map |"));
    ck_assert_ptr_nonnull(strstr(text, "| `brokers` | list of strings |"));
    ck_assert_ptr_nonnull(strstr(text, "agent \\| shown"));  /* escaped pipe */
    free(text);

    text = NULL;
    out = open_memstream(&text, &len);
    pw_config_reference(out, server_table, "outputs.http");
    fclose(out);
    ck_assert_ptr_nonnull(strstr(text, "| `outputs.http.tls.verify` |"));
    free(text);
}
END_TEST

START_TEST(test_config_loading_twice_then_release_does_not_leak)
{
    struct cfg c = {0};
    ck_assert_msg(load(good_yaml, &c) == 0, "%s", err.msg);
    ck_assert_msg(load(good_yaml, &c) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.kafka.len, 4);        /* replaced, not appended */
    ck_assert_uint_eq(c.brokers.len, 2);
    ck_assert_int_eq(load("server: {host: h}\nkafka: {a: 1}\n", &c), 0);
    ck_assert_str_eq(c.name, "pipewatch");    /* back to the default */
    ck_assert_ptr_null(c.server.tls.ca_file);
    ck_assert_uint_eq(c.kafka.len, 1);
    ck_assert_int_eq(load("kafka: {a: 1, b: [x]}\n", &c), -1);  /* partial */
    ck_assert_int_eq(load(good_yaml, &c), 0);
    pw_config_release(cfg_table, &c);
    /* LeakSanitizer fails this forked test at exit if anything leaked. */
}
END_TEST

START_TEST(test_config_release_is_safe_on_zeroed_and_twice)
{
    struct cfg c = {0};
    pw_config_release(cfg_table, &c);
    ck_assert_int_eq(load(good_yaml, &c), 0);
    pw_config_release(cfg_table, &c);
    ck_assert_ptr_null(c.name);
    ck_assert_ptr_null(c.server.host);
    ck_assert_ptr_null(c.server.tls.ca_file);
    ck_assert_ptr_null(c.kafka.items);
    ck_assert_ptr_null(c.kafka.file);
    ck_assert_uint_eq(c.kafka.len, 0);
    ck_assert_ptr_null(c.brokers.items);
    ck_assert_uint_eq(c.brokers.len, 0);
    pw_config_release(cfg_table, &c);
}
END_TEST

START_TEST(test_config_bad_table_default_is_reported)
{
    struct holder { int64_t ms; struct pw_str_list l; } h = {0};
    const struct pw_option bad_duration[] = {
        {.name = "wait", .type = PW_OPT_DURATION,
         .offset = offsetof(struct holder, ms), .default_value = "soon"},
        {0},
    };
    ck_assert_int_eq(pw_config_defaults(bad_duration, &h, &err), -1);
    ck_assert_err_has("wait: the table's default does not parse");
    ck_assert_err_has("\"soon\"");

    const struct pw_option bad_list[] = {
        {.name = "hosts", .type = PW_OPT_STRING_LIST,
         .offset = offsetof(struct holder, l), .default_value = "{a: b}"},
        {0},
    };
    ck_assert_int_eq(pw_config_defaults(bad_list, &h, &err), -1);
    ck_assert_err_has("hosts");
    pw_config_release(bad_list, &h);
}
END_TEST

START_TEST(test_config_anchors_and_aliases_are_followed)
{
    struct cfg c = {0};
    ck_assert_msg(load("name: &n shared\nserver:\n  host: *n\n"
                       "brokers: &b [a]\n", &c) == 0, "%s", err.msg);
    ck_assert_str_eq(c.server.host, "shared");
    ck_assert_str_eq(c.brokers.items[0], "a");
    pw_config_release(cfg_table, &c);
}
END_TEST

/* PW_OPT_SECTION_LIST: a sequence of mappings, each item with its table's
 * defaults; one mapping is a one-item list; errors name the item. */
struct endpoint {
    char *url;
    int64_t timeout_ms;
    struct pw_kv_list labels;
};

struct endpoints {
    struct pw_section_list list;
};

static const struct pw_option endpoint_table[] = {
    {.name = "url", .type = PW_OPT_STRING, .offset = offsetof(struct endpoint, url),
     .required = true},
    {.name = "timeout", .type = PW_OPT_DURATION,
     .offset = offsetof(struct endpoint, timeout_ms), .default_value = "5s"},
    {.name = "labels", .type = PW_OPT_MAP, .offset = offsetof(struct endpoint, labels)},
    PW_OPT_ITEM_END(struct endpoint),
};

static const struct pw_option endpoints_table[] = {
    {.name = "targets", .type = PW_OPT_SECTION_LIST,
     .offset = offsetof(struct endpoints, list), .min = 0, .max = 2,
     .section = endpoint_table},
    {0},
};

static int load_endpoints(const char *yaml, struct endpoints *e)
{
    return pw_config_load_string("e.yaml", yaml, strlen(yaml), endpoints_table, e, &err);
}

START_TEST(test_config_section_list_items_get_defaults_and_errors_name_the_item)
{
    struct endpoints e = {0};
    ck_assert_msg(load_endpoints("targets:\n  - url: a\n  - url: b\n    timeout: 1s\n"
                                 "    labels: {job: x}\n", &e) == 0, "%s", err.msg);
    ck_assert_uint_eq(e.list.len, 2);
    const struct endpoint *items = e.list.items;
    ck_assert_str_eq(items[0].url, "a");
    ck_assert_int_eq(items[0].timeout_ms, 5000);
    ck_assert_uint_eq(items[0].labels.len, 0);
    ck_assert_str_eq(items[1].url, "b");
    ck_assert_int_eq(items[1].timeout_ms, 1000);
    ck_assert_str_eq(items[1].labels.items[0].value, "x");
    /* Loading again replaces the list (LeakSanitizer checks the old one). */
    ck_assert_msg(load_endpoints("targets: {url: only}\n", &e) == 0, "%s", err.msg);
    ck_assert_uint_eq(e.list.len, 1);
    ck_assert_str_eq(((const struct endpoint *)e.list.items)[0].url, "only");
    ck_assert_msg(load_endpoints("{}", &e) == 0, "%s", err.msg);
    ck_assert_uint_eq(e.list.len, 0);

    ck_assert_int_eq(load_endpoints("targets:\n  - url: a\n  - timeout: 2s\n", &e), -1);
    ck_assert_str_eq(err.msg, "e.yaml:3: targets[2].url: required key is missing");
    ck_assert_int_eq(load_endpoints("targets:\n  - url: a\n    timeout: soon\n", &e), -1);
    ck_assert_err_has("e.yaml:3: targets[1].timeout: expected a duration");
    ck_assert_int_eq(load_endpoints("targets: [a]\n", &e), -1);
    ck_assert_err_has("targets[1]: expected a mapping");
    ck_assert_int_eq(load_endpoints("targets: [~]\n", &e), -1);
    ck_assert_err_has("targets[1]: expected a mapping");
    ck_assert_int_eq(load_endpoints("targets: text\n", &e), -1);
    ck_assert_err_has("targets: expected a sequence of mappings");
    ck_assert_int_eq(load_endpoints("targets: [{url: a}, {url: b}, {url: c}]\n", &e), -1);
    ck_assert_err_has("targets: must hold 0 to 2 items, got 3");
    pw_config_release(endpoints_table, &e);
    ck_assert_uint_eq(e.list.len, 0);

    FILE *f = tmpfile();
    pw_config_reference(f, endpoints_table, NULL);
    char buf[2048] = {0};
    rewind(f);
    ck_assert_uint_gt(fread(buf, 1, sizeof buf - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "| `targets` | list of sections |"));
    ck_assert_ptr_nonnull(strstr(buf, "| `targets[].timeout` | duration | `5s` |"));
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_config_full_good_config_fills_every_type);
    tcase_add_test(tc, test_config_defaults_apply_when_keys_absent);
    tcase_add_test(tc, test_config_defaults_alone_fill_the_struct);
    tcase_add_test(tc, test_config_null_value_keeps_the_default);
    tcase_add_test(tc, test_config_empty_file_is_an_empty_mapping);
    tcase_add_test(tc, test_config_missing_required_key_names_the_mapping_line);
    tcase_add_test(tc, test_config_unknown_key_suggests_a_close_name);
    tcase_add_test(tc, test_config_unknown_key_far_from_any_name_has_no_suggestion);
    tcase_add_test(tc, test_config_wrong_type_says_what_was_expected_and_found);
    tcase_add_test(tc, test_config_integers_are_strict_decimal);
    tcase_add_test(tc, test_config_doubles_must_be_finite_without_junk);
    tcase_add_test(tc, test_config_range_errors_use_the_options_units);
    tcase_add_test(tc, test_config_duplicate_key_is_an_error);
    tcase_add_test(tc, test_config_yaml_syntax_error_names_the_line);
    tcase_add_test(tc, test_config_second_document_is_an_error);
    tcase_add_test(tc, test_config_top_level_must_be_a_mapping);
    tcase_add_test(tc, test_config_nonexistent_file_cannot_be_opened);
    tcase_add_test(tc, test_config_loads_a_file_and_names_it);
    tcase_add_test(tc, test_config_duration_parser);
    tcase_add_test(tc, test_config_size_parser);
    tcase_add_test(tc, test_config_bool_parser);
    tcase_add_test(tc, test_config_map_keeps_order_and_lines);
    tcase_add_test(tc, test_config_string_list_from_sequence_or_scalar);
    tcase_add_test(tc, test_config_reference_lists_dotted_names);
    tcase_add_test(tc, test_config_loading_twice_then_release_does_not_leak);
    tcase_add_test(tc, test_config_release_is_safe_on_zeroed_and_twice);
    tcase_add_test(tc, test_config_bad_table_default_is_reported);
    tcase_add_test(tc, test_config_anchors_and_aliases_are_followed);
    tcase_add_test(tc, test_config_section_list_items_get_defaults_and_errors_name_the_item);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return pw_run_suite(config_suite());
}
