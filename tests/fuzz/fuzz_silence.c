/* tests/fuzz/fuzz_silence.c — a silence's JSON (the body of POST
 * /api/v2/silences) and matcher strings (`name=~"re"`), on any bytes.
 *
 * Every input goes through the parsers (a silence, one matcher, a list of
 * matchers as a configuration's `matchers:` string). A silence that parses must be
 * valid: matchers present and not all matching the empty label set, an end
 * after its start and after "now", the texts present. Every matcher that
 * parses (the input as a matcher string, or a silence's matchers) is
 * written back in Alertmanager's text form and parsed again, and the two
 * must agree on name, operator and value. Any difference aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/silence.h"
#include "tests/fuzz/fuzz_check.h"

#define NOW (1764800000LL * 1000000000LL)

static void round_trip(const struct pw_matcher *m)
{
    size_t need = pw_matcher_format(m, NULL, 0) + 1;
    char *text = malloc(need);
    CHECK(text);
    CHECK(pw_matcher_format(m, text, need) + 1 == need);
    struct pw_matcher again;
    struct pw_err err = {{0}};
    CHECK(pw_matcher_parse(&again, text, &err) == 0);
    CHECK(strcmp(again.name, m->name) == 0);
    CHECK(strcmp(again.value, m->value) == 0);
    CHECK(again.type == m->type);
    pw_matcher_free(&again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_silence s;
    struct pw_err err = {{0}};
    if (pw_silence_parse_json((const char *)data, size, NOW, &s, &err) == 0) {
        struct pw_labels none = {0};
        CHECK(s.matchers.n > 0);
        CHECK(!pw_matchers_match(&s.matchers, &none));
        CHECK(s.ends_at_ns > s.starts_at_ns);
        CHECK(s.ends_at_ns > NOW && s.starts_at_ns >= NOW);
        CHECK(s.created_by && *s.created_by && s.comment && *s.comment);
        for (size_t i = 0; i < s.matchers.n; i++)
            round_trip(&s.matchers.v[i]);
    } else {
        CHECK(err.msg[0] != 0);
    }
    pw_silence_free(&s);

    char *text = malloc(size + 1);
    CHECK(text);
    memcpy(text, data, size);
    text[size] = 0;
    struct pw_matcher m;
    if (pw_matcher_parse(&m, text, &err) == 0) {
        round_trip(&m);
        pw_matcher_free(&m);
    } else {
        CHECK(err.msg[0] != 0);
    }
    struct pw_matchers ms = {0};
    if (pw_matchers_add_text(&ms, text, &err) == 0) {
        CHECK(ms.n > 0);
        for (size_t i = 0; i < ms.n; i++)
            round_trip(&ms.v[i]);
    } else {
        CHECK(err.msg[0] != 0);
    }
    pw_matchers_free(&ms);
    free(text);
    return 0;
}
