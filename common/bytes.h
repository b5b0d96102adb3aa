/* common/bytes.h — little-endian binary encoding for files we write and
 * read back on another host (model bundles and the models inside them).
 *
 * Writing appends to a struct pw_buf (its oom flag is the one check at the
 * end). Reading goes through struct pw_reader, which never reads past the
 * end: an overrun sets `bad`, returns zeros from then on, and the caller
 * checks once after decoding a whole record. Integers are little-endian
 * whatever the host; doubles travel as their IEEE-754 bit pattern in a
 * u64, so a round trip is exact (NaN payloads included). */
#ifndef PW_BYTES_H
#define PW_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

void pw_put_u8(struct pw_buf *b, uint8_t v);
void pw_put_u32(struct pw_buf *b, uint32_t v);
void pw_put_u64(struct pw_buf *b, uint64_t v);
void pw_put_i64(struct pw_buf *b, int64_t v);
void pw_put_f64(struct pw_buf *b, double v);
void pw_put_f32(struct pw_buf *b, float v);
/* A u32 length, then the bytes (no NUL). */
void pw_put_str(struct pw_buf *b, const char *s);
void pw_put_bytes(struct pw_buf *b, const void *p, size_t len);

struct pw_reader {
    const uint8_t *p;   /* borrowed */
    size_t len;
    size_t off;
    bool bad;           /* set on the first overrun; sticky */
};

void pw_reader_init(struct pw_reader *r, const void *p, size_t len);
size_t pw_reader_left(const struct pw_reader *r);

uint8_t pw_get_u8(struct pw_reader *r);
uint32_t pw_get_u32(struct pw_reader *r);
uint64_t pw_get_u64(struct pw_reader *r);
int64_t pw_get_i64(struct pw_reader *r);
double pw_get_f64(struct pw_reader *r);
float pw_get_f32(struct pw_reader *r);
/* Copies len bytes to out (zeros on overrun). */
void pw_get_bytes(struct pw_reader *r, void *out, size_t len);
/* A pointer to the next len bytes inside the input (NULL on overrun). */
const uint8_t *pw_get_span(struct pw_reader *r, size_t len);
/* A string written by pw_put_str, as a new NUL-terminated allocation; NULL
 * on overrun, on a length above max_len, on an embedded NUL or on OOM (the
 * last also sets bad, so that one check covers all). */
char *pw_get_str(struct pw_reader *r, size_t max_len);

#endif
