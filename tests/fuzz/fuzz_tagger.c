/* tests/fuzz/fuzz_tagger.c — the log tagger (masking, template mining,
 * classification) on any bytes. The input is split at newlines and every
 * line is tagged by one tagger, so the miner's tree and templates grow
 * across lines as in the analyzer. Each line must get a template whose
 * text can be read back, and tagging the same line again must give the
 * same template (ids are stable). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/tagger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pw_logclass *model(void)
{
    static struct pw_logclass *m;
    if (!m) {
        struct pw_logclass_example ex[] = {
            {"normal", "task 3 finished in 12 ms"},
            {"disk_full", "write failed: No space left on device"},
            {"network", "connection refused by 10.0.0.7:9092"},
        };
        struct pw_logclass_config c;
        pw_logclass_config_default(&c);
        struct pw_err err;
        m = pw_logclass_train(ex, 3, &c, &err);
        if (!m)
            abort();
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_err err;
    struct pw_tagger *t = pw_tagger_new(NULL, model(), &err);
    if (!t)
        abort();
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct pw_tag a, b;
        if (pw_tagger_tag(t, p, len, &a, &err) == 0) {
            char text[512];
            pw_tagger_template(t, (size_t)a.template_id, text, sizeof text);
            if (a.template_id < 0 || !a.category || !(a.prob >= 0 && a.prob <= 1))
                abort();
            if (pw_tagger_tag(t, p, len, &b, &err) == 0 && b.template_id != a.template_id) {
                fprintf(stderr, "the same line changed template: %ld then %ld\n",
                        a.template_id, b.template_id);
                abort();
            }
        }
        p += len + 1;
    }
    pw_tagger_free(t);
    return 0;
}
