/* tests/fuzz/fuzz_config.c — the configuration loader on arbitrary bytes.
 *
 * The loader reads files that people edit by hand, so any input must give
 * either a filled struct or an error message, never a crash, a hang or a
 * leak. The table below has every option type and a nested section (with a
 * required key inside, so that the missing-key path runs too). The same
 * bytes then go through the real loaders, the agent's (every collector's
 * section and check) and the analyzer's (rules, alerting: routes,
 * receivers, inhibit rules), from a memory file since they take a path,
 * and through the public value parsers. A refusal always says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent/config.h"
#include "analyzer/config.h"
#include "common/config.h"
#include "tests/fuzz/fuzz_check.h"

struct inner {
    char *host;
    int64_t port;
    bool tls;
};

struct outer {
    char *name;
    int64_t count;
    double ratio;
    bool debug;
    int64_t interval_ms;
    int64_t buffer_bytes;
    struct inner server;
    struct pw_kv_list props;
    struct pw_str_list hosts;
};

static const struct pw_option inner_table[] = {
    {.name = "host", .type = PW_OPT_STRING,
     .offset = offsetof(struct inner, host), .required = true},
    {.name = "port", .type = PW_OPT_INT,
     .offset = offsetof(struct inner, port), .default_value = "8080",
     .min = 1, .max = 65535},
    {.name = "tls", .type = PW_OPT_BOOL,
     .offset = offsetof(struct inner, tls), .default_value = "on"},
    {0},
};

static const struct pw_option outer_table[] = {
    {.name = "name", .type = PW_OPT_STRING,
     .offset = offsetof(struct outer, name), .default_value = "fuzz"},
    {.name = "count", .type = PW_OPT_INT,
     .offset = offsetof(struct outer, count), .default_value = "3"},
    {.name = "ratio", .type = PW_OPT_DOUBLE,
     .offset = offsetof(struct outer, ratio), .default_value = "0.5",
     .min = 0, .max = 1},
    {.name = "debug", .type = PW_OPT_BOOL,
     .offset = offsetof(struct outer, debug)},
    {.name = "interval", .type = PW_OPT_DURATION,
     .offset = offsetof(struct outer, interval_ms), .default_value = "10s",
     .min = 100, .max = 86400000},
    {.name = "buffer", .type = PW_OPT_SIZE,
     .offset = offsetof(struct outer, buffer_bytes), .default_value = "1MiB",
     .min = 1024, .max = 1073741824},
    {.name = "server", .type = PW_OPT_SECTION,
     .offset = offsetof(struct outer, server), .section = inner_table},
    {.name = "props", .type = PW_OPT_MAP,
     .offset = offsetof(struct outer, props), .default_value = "{acks: all}"},
    {.name = "hosts", .type = PW_OPT_STRING_LIST,
     .offset = offsetof(struct outer, hosts), .default_value = "[a, b]"},
    {0},
};

/* The input as a file the loaders can open: one memory file, rewritten. */
static const char *as_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-config", 0);
        CHECK(fd >= 0);
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
    return path;
}

static void real_loaders(const uint8_t *data, size_t size)
{
    static struct pw_agent_schema schema;
    static bool have_schema;
    struct pw_err err = {{0}};
    if (!have_schema) {
        CHECK(pw_agent_schema_init(&schema, &err) == 0);
        have_schema = true;
    }
    const char *path = as_file(data, size);

    static struct pw_agent_config agent;   /* 8 KiB of collector configs */
    err.msg[0] = '\0';
    if (pw_agent_config_load(&schema, path, false, &agent, &err) < 0)
        CHECK(err.msg[0] != '\0');
    pw_agent_config_release(&schema, &agent);

    struct pw_analyzer_config analyzer;
    err.msg[0] = '\0';
    if (pw_analyzer_config_load(path, false, &analyzer, &err) < 0)
        CHECK(err.msg[0] != '\0');
    pw_analyzer_config_release(&analyzer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_err err = {{0}};
    struct outer cfg;
    memset(&cfg, 0, sizeof cfg);
    if (pw_config_load_string("fuzz.yaml", (const char *)data, size, outer_table,
                              &cfg, &err) < 0)
        CHECK(err.msg[0] != '\0');
    pw_config_release(outer_table, &cfg);
    real_loaders(data, size);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int64_t v;
    bool b;
    pw_parse_duration_ms(text, &v, &err);
    pw_parse_size_bytes(text, &v, &err);
    pw_parse_bool(text, &b, &err);
    free(text);
    return 0;
}
