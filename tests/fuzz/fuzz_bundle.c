/* tests/fuzz/fuzz_bundle.c — the bundle loader on any bytes.
 *
 * A decode either fails with a message or succeeds; a success must
 * re-encode to exactly the input (the encoding is canonical and the digest
 * covers everything), so any difference aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pw_bundle b;
    struct pw_err err = {{0}};
    if (pw_bundle_decode(data, size, "fuzz", &b, &err) < 0) {
        if (err.msg[0] == '\0' || b.nsections != 0)
            abort();
        return 0;
    }
    struct pw_buf out;
    pw_buf_init(&out);
    if (pw_bundle_encode(&b, &out, &err) < 0 || out.len != size ||
        memcmp(out.data, data, size) != 0) {
        fprintf(stderr, "re-encoding differs from the input\n");
        abort();
    }
    pw_buf_release(&out);
    pw_bundle_free(&b);
    return 0;
}
