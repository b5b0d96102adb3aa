/* common/sha256.h — SHA-256 through OpenSSL's libcrypto (already in every
 * process through librdkafka), for bundle checksums and data fingerprints.
 * Streaming, so that a training run can fingerprint what it read as it
 * reads it. */
#ifndef PW_SHA256_H
#define PW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define PW_SHA256_LEN 32
#define PW_SHA256_HEX_LEN 64

struct pw_sha256;   /* opaque */

/* NULL only when memory runs out. */
struct pw_sha256 *pw_sha256_new(void);
void pw_sha256_update(struct pw_sha256 *h, const void *data, size_t len);
/* Writes the digest and resets h for reuse. */
void pw_sha256_final(struct pw_sha256 *h, uint8_t out[PW_SHA256_LEN]);
void pw_sha256_free(struct pw_sha256 *h);

/* One shot. Returns 0, or -1 when memory runs out. */
int pw_sha256(const void *data, size_t len, uint8_t out[PW_SHA256_LEN]);

/* Lower-case hex, NUL-terminated. */
void pw_sha256_hex(const uint8_t d[PW_SHA256_LEN], char out[PW_SHA256_HEX_LEN + 1]);
/* Parses 64 hex digits (either case, nothing else). 0 or -1. */
int pw_sha256_from_hex(const char *hex, uint8_t out[PW_SHA256_LEN]);

#endif
