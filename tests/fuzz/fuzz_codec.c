/* tests/fuzz/fuzz_codec.c — the model decoders of models/codec.h on any
 * bytes. The first byte picks the decoder (mod 3: Holt-Winters model,
 * isolation forest, log classifier), the rest is the section. A decode
 * that succeeds must re-encode to exactly those bytes; a decoded forest
 * must score points (a forest that loops or walks out of its nodes would
 * hang or crash here). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_or_abort(struct pw_buf *b, const uint8_t *data, size_t size)
{
    if (b->len != size || memcmp(b->data, data, size) != 0) {
        fprintf(stderr, "re-encoding differs from the input\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int which = data[0] % 3;
    data++;
    size--;
    struct pw_err err = {{0}};
    struct pw_buf b;
    pw_buf_init(&b);
    if (which == 0) {
        struct pw_hw_model m;
        if (pw_codec_get_hw_model(data, size, &m, &err) == 0) {
            pw_codec_put_hw_model(&b, &m);
            same_or_abort(&b, data, size);
        }
    } else if (which == 1) {
        struct pw_iforest *f = pw_codec_get_iforest(data, size, &err);
        if (f) {
            size_t d = pw_iforest_features(f);
            double *x = calloc(d * 3, sizeof *x), s[3], *a = calloc(d, sizeof *a);
            for (size_t j = 0; j < d; j++) {
                x[j] = -1e300;
                x[2 * d + j] = 1e300;
            }
            pw_iforest_score_batch(f, x, 3, s);
            (void)pw_iforest_score(f, x + d);
            pw_iforest_attribute(f, x, a);
            free(x);
            free(a);
            pw_codec_put_iforest(&b, f);
            same_or_abort(&b, data, size);
            pw_iforest_free(f);
        }
    } else {
        struct pw_logclass *m = pw_codec_get_logclass(data, size, &err);
        if (m) {
            double p;
            pw_logclass_predict(m, "disk full on /var", 17, &p, NULL);
            if (pw_codec_put_logclass(&b, m, &err) == 0)
                same_or_abort(&b, data, size);
            pw_logclass_free(m);
        }
    }
    pw_buf_release(&b);
    return 0;
}
