/* tests/fuzz/fuzz_check.h — the one macro every fuzz target shares: an
 * invariant that must hold for any input, reported with its place and
 * turned into a crash so that libFuzzer keeps the input. */
#ifndef PW_FUZZ_CHECK_H
#define PW_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif
