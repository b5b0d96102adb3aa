/* common/buf.c — growable byte buffer (see buf.h for the oom contract). */
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pw_buf_init(struct pw_buf *b) { memset(b, 0, sizeof *b); }

void pw_buf_release(struct pw_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void pw_buf_reset(struct pw_buf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->data)
        b->data[0] = '\0';
}

bool pw_buf_reserve(struct pw_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';   /* buf.h: terminated whenever cap > 0 */
    return true;
}

void pw_buf_append(struct pw_buf *b, const void *data, size_t len)
{
    if (!pw_buf_reserve(b, len))
        return;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void pw_buf_putc(struct pw_buf *b, char c) { pw_buf_append(b, &c, 1); }

void pw_buf_puts(struct pw_buf *b, const char *s) { pw_buf_append(b, s, strlen(s)); }

void pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !pw_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void pw_buf_truncate(struct pw_buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

int pw_buf_read_file(struct pw_buf *b, const char *path, size_t max_bytes,
                     struct pw_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return pw_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    size_t start = b->len, n;
    char chunk[65536];
    int rc = pw_buf_reserve(b, 0) ? 0 : pw_err_set(err, "%s: out of memory", path);
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b->len - start + n > max_bytes)
            rc = pw_err_set(err, "%s: larger than %zu bytes", path, max_bytes);
        else
            pw_buf_append(b, chunk, n);
    }
    if (rc == 0 && ferror(f))
        rc = pw_err_set(err, "%s: cannot read: %s", path, strerror(errno));
    if (rc == 0 && b->oom)
        rc = pw_err_set(err, "%s: cannot read: out of memory", path);
    fclose(f);
    if (rc < 0)
        pw_buf_truncate(b, start);
    return rc;
}
