/* tests/fuzz/fuzz_logtail.c — what the log tail collector reads from
 * outside: its state file, and the bytes of the log lines it encodes.
 *
 * The input is parsed as a state file, checked: a refusal says why and
 * hands out nothing; a taken file hands out as many positions as it
 * returns, each within range, and writing those positions back and parsing
 * the result gives the same positions (the format round-trips, escaped
 * paths included).
 * The input is also encoded as a JSON string the way a log line is, and
 * jansson must accept "\"<encoded>\"" as a string: so no line, whatever
 * its bytes (control characters, quotes, invalid UTF-8), can make a record
 * the analyzer refuses; valid UTF-8 without NUL comes back unchanged. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/logtail.h"
#include "common/buf.h"
#include "tests/fuzz/fuzz_check.h"

struct positions {
    size_t n;
    struct pw_buf text;   /* the positions written back */
    uint64_t sum;
};

static void on_pos(const struct pw_logtail_pos *p, void *arg)
{
    struct positions *ps = arg;
    CHECK(p->offset >= 0 && p->fp_len <= 64 && p->path);
    ps->n++;
    ps->sum += p->dev ^ p->ino ^ (uint64_t)p->offset ^ p->fp_hash ^ p->fp_len ^ strlen(p->path);
    pw_logtail_state_format(&ps->text, p);
}

static bool valid_utf8_no_nul(const uint8_t *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n);
    bool ok = j != NULL && memchr(s, 0, n) == NULL;
    json_decref(j);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_err err = {{0}};
    struct positions a = {0}, b = {0};
    pw_buf_init(&a.text);
    pw_buf_init(&b.text);
    pw_buf_puts(&a.text, "# pipewatch logtail state 1\n");
    pw_buf_puts(&b.text, "# pipewatch logtail state 1\n");
    int rc = pw_logtail_state_parse((const char *)data, size, on_pos, &a, &err);
    if (rc < 0) {
        CHECK(rc == -1 && a.n == 0 && err.msg[0]);
    } else {
        CHECK((size_t)rc == a.n);
        int rc2 = pw_logtail_state_parse(a.text.data, a.text.len, on_pos, &b, &err);
        CHECK(rc2 == rc && b.sum == a.sum);
        CHECK(b.text.len == a.text.len && memcmp(b.text.data, a.text.data, a.text.len) == 0);
    }
    pw_buf_release(&a.text);
    pw_buf_release(&b.text);

    struct pw_buf j;
    pw_buf_init(&j);
    pw_buf_putc(&j, '"');
    pw_logtail_json_escape(&j, (const char *)data, size);
    pw_buf_putc(&j, '"');
    CHECK(!j.oom);
    json_error_t je;
    json_t *v = json_loadb(j.data, j.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        fprintf(stderr, "refused: %s\n", je.text);
    CHECK(v && json_is_string(v));
    if (valid_utf8_no_nul(data, size))
        CHECK(json_string_length(v) == size &&
              memcmp(json_string_value(v), data, size) == 0);
    json_decref(v);
    pw_buf_release(&j);
    return 0;
}
