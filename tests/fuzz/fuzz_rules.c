/* tests/fuzz/fuzz_rules.c — the analyzer's rule language on any bytes.
 *
 * The bytes (up to the first NUL) go to pw_rule_parse. Checks:
 *  - a refused rule says why;
 *  - a taken one writes back a canonical text that parses to the same
 *    canonical text (the checkpoint names rules by it, so it must be a
 *    fixed point), and of the same kind;
 *  - matching a few series keys against it is safe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/rules.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct pw_rule r = {0}, again = {0};
    struct pw_err err = {{0}};
    if (pw_rule_parse(text, &r, &err) < 0) {
        CHECK(err.msg[0] != '\0');
    } else {
        char canon[1024], canon2[1024];
        pw_rule_format(&r, canon, sizeof canon);
        if (strlen(canon) < sizeof canon - 1) {
            struct pw_err err2 = {{0}};
            int rc = pw_rule_parse(canon, &again, &err2);
            if (rc < 0)
                fprintf(stderr, "\"%s\" -> \"%s\": %s\n", text, canon, err2.msg);
            CHECK(rc == 0);
            CHECK(again.kind == r.kind);
            pw_rule_format(&again, canon2, sizeof canon2);
            if (strcmp(canon, canon2))
                fprintf(stderr, "\"%s\" -> \"%s\" -> \"%s\"\n", text, canon, canon2);
            CHECK(strcmp(canon, canon2) == 0);
        }
        static const char *const series[] = {
            "disk,path=/ used_percent", "disk,host=a,path=/ used_percent",
            "kafka_lag,group=g,topic=t lag", "x y", "",
        };
        for (size_t i = 0; i < sizeof series / sizeof *series; i++) {
            const char *s = series[i];
            size_t meas = strcspn(s, ", ");
            const char *field = strrchr(s, ' ');
            field = field ? field + 1 : s + strlen(s);
            (void)pw_rule_matches_series(&r, s, meas, field, strlen(field), s, strlen(s));
        }
    }
    pw_rule_release(&r);
    pw_rule_release(&again);
    free(text);
    return 0;
}
