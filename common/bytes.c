/* common/bytes.c — see bytes.h. Byte by byte on purpose: the encoding is
 * defined by the file format, not by the host's layout, and the compiler
 * turns these loops into single loads and stores on little-endian hosts. */
#include "common/bytes.h"

#include <stdlib.h>
#include <string.h>

static void put_le(struct pw_buf *b, uint64_t v, int n)
{
    uint8_t out[8];
    for (int i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * i));
    pw_buf_append(b, out, (size_t)n);
}

void pw_put_u8(struct pw_buf *b, uint8_t v) { put_le(b, v, 1); }
void pw_put_u32(struct pw_buf *b, uint32_t v) { put_le(b, v, 4); }
void pw_put_u64(struct pw_buf *b, uint64_t v) { put_le(b, v, 8); }
void pw_put_i64(struct pw_buf *b, int64_t v) { put_le(b, (uint64_t)v, 8); }

void pw_put_f64(struct pw_buf *b, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le(b, bits, 8);
}

void pw_put_f32(struct pw_buf *b, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    put_le(b, bits, 4);
}

void pw_put_bytes(struct pw_buf *b, const void *p, size_t len)
{
    pw_buf_append(b, p, len);
}

void pw_put_str(struct pw_buf *b, const char *s)
{
    size_t n = strlen(s);
    pw_put_u32(b, (uint32_t)n);
    pw_buf_append(b, s, n);
}

void pw_reader_init(struct pw_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->bad = false;
}

size_t pw_reader_left(const struct pw_reader *r)
{
    return r->bad ? 0 : r->len - r->off;
}

const uint8_t *pw_get_span(struct pw_reader *r, size_t len)
{
    if (r->bad || len > r->len - r->off) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += len;
    return p;
}

static uint64_t get_le(struct pw_reader *r, int n)
{
    const uint8_t *p = pw_get_span(r, (size_t)n);
    uint64_t v = 0;
    for (int i = 0; p && i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

uint8_t pw_get_u8(struct pw_reader *r) { return (uint8_t)get_le(r, 1); }
uint32_t pw_get_u32(struct pw_reader *r) { return (uint32_t)get_le(r, 4); }
uint64_t pw_get_u64(struct pw_reader *r) { return get_le(r, 8); }
int64_t pw_get_i64(struct pw_reader *r) { return (int64_t)get_le(r, 8); }

double pw_get_f64(struct pw_reader *r)
{
    uint64_t bits = get_le(r, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

float pw_get_f32(struct pw_reader *r)
{
    uint32_t bits = (uint32_t)get_le(r, 4);
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

void pw_get_bytes(struct pw_reader *r, void *out, size_t len)
{
    const uint8_t *p = pw_get_span(r, len);
    if (p)
        memcpy(out, p, len);
    else
        memset(out, 0, len);
}

char *pw_get_str(struct pw_reader *r, size_t max_len)
{
    uint32_t n = pw_get_u32(r);
    if (n > max_len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = pw_get_span(r, n);
    if (!p || memchr(p, '\0', n)) {
        r->bad = true;
        return NULL;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->bad = true;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
