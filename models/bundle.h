/* models/bundle.h — a model bundle: one file holding the fitted models in
 * service, where they came from, and a checksum chain to their ancestors.
 *
 * Why one file with its own checksum: the analyzer swaps its models by
 * renaming one file into place, so a bundle must be self-contained and
 * self-verifying (a truncated copy or a flipped bit must be refused, not
 * half-loaded); and an operator asking "which data made this model, and
 * what did it replace?" follows the parent digests down the chain.
 *
 * Layout, version 1. Integers little-endian (common/bytes.h); strings are
 * a u32 length and that many bytes, no NUL.
 *
 *   offset  size  field
 *   0       8     magic "PWBUNDL\n"
 *   8       4     format version (1)
 *   12      4     section count
 *   16      8     created, seconds since the epoch (signed)
 *   24      32    parent bundle's digest (all zero: no parent)
 *   56      32    training-data fingerprint (SHA-256 of what was read)
 *   88      str   trained_on: a human description ("nab/realKnownCause,
 *                 7 files, 69560 rows")
 *   ...     per section: 4-byte kind ("HWIN", "IFOR", "TAGR", ...),
 *                        str name (the entity class or series the model is
 *                        for), u64 length, the payload
 *   end-32  32    SHA-256 of every byte before it: the bundle's digest
 *
 * The payloads are the models' own encodings (their headers say how); the
 * bundle neither knows nor checks them beyond the digest.
 *
 * Loading checks, in order: the size, the magic, the version (a newer one
 * is refused with both numbers), every length against the bytes left
 * (truncation), the digest (corruption). Nothing is returned from a file
 * that fails any of them. */
#ifndef PW_MODELS_BUNDLE_H
#define PW_MODELS_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/sha256.h"

#define PW_BUNDLE_VERSION 1
#define PW_BUNDLE_MAX_SECTIONS 65536
#define PW_BUNDLE_MAX_NAME 4096
#define PW_BUNDLE_MAX_BYTES ((size_t)1 << 32)   /* 4 GiB */

struct pw_bundle_section {
    char kind[5];             /* four characters and a NUL */
    char *name;               /* owned */
    uint8_t *data;            /* owned */
    size_t len;
};

struct pw_bundle {
    uint32_t version;                      /* as read; PW_BUNDLE_VERSION when built */
    int64_t created_s;
    uint8_t parent[PW_SHA256_LEN];         /* zero: none */
    uint8_t fingerprint[PW_SHA256_LEN];
    char *trained_on;                      /* owned, never NULL after init */
    struct pw_bundle_section *sections;    /* owned */
    size_t nsections;
    uint8_t digest[PW_SHA256_LEN];         /* set by encode, write and load */
};

/* An empty bundle: version 1, created now, no parent, no sections.
 * Returns 0, or -1 if memory runs out. */
int pw_bundle_init(struct pw_bundle *b, struct pw_err *err);

/* Frees everything b owns and leaves it empty; accepts a zeroed bundle. */
void pw_bundle_free(struct pw_bundle *b);

/* Sets the description (copied). 0 or -1 (out of memory, or longer than
 * PW_BUNDLE_MAX_NAME). */
int pw_bundle_set_trained_on(struct pw_bundle *b, const char *text, struct pw_err *err);

/* Appends a section: kind is exactly four printable ASCII characters,
 * name at most PW_BUNDLE_MAX_NAME bytes; data is copied. A second section
 * with the same kind and name is refused. 0 or -1. */
int pw_bundle_add(struct pw_bundle *b, const char *kind, const char *name,
                  const void *data, size_t len, struct pw_err *err);

/* The section of that kind and name, or NULL. Borrowed from b. */
const struct pw_bundle_section *pw_bundle_find(const struct pw_bundle *b,
                                               const char *kind, const char *name);

/* Encodes b (appending to out) and sets b->digest. 0 or -1 (out of
 * memory). */
int pw_bundle_encode(struct pw_bundle *b, struct pw_buf *out, struct pw_err *err);

/* Decodes len bytes into b (which must not hold a bundle: it is
 * overwritten). On failure b is left empty and err says which check
 * failed, with `source` (a file name, or any label) in front. */
int pw_bundle_decode(const void *data, size_t len, const char *source,
                     struct pw_bundle *b, struct pw_err *err);

/* Writes b to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. A crash leaves the old file or
 * the new one, never a mix. Sets b->digest. 0 or -1. */
int pw_bundle_write_file(struct pw_bundle *b, const char *path, struct pw_err *err);

/* Reads and decodes a bundle file (see pw_bundle_decode). 0 or -1. */
int pw_bundle_read_file(const char *path, struct pw_bundle *b, struct pw_err *err);

#endif
