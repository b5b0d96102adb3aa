/* common/buf.c — growable byte buffer (see buf.h for the oom contract). */
#include "common/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* read(2) straight into the buffer: no stdio buffer and no stack chunk
 * keep a copy of the file behind us, which matters when it holds a secret
 * (a caller that wipes the buffer then wipes the only copy we made, as long
 * as the file is small enough not to make the buffer grow mid-read). */
int pw_buf_read_file(struct pw_buf *b, const char *path, size_t max_bytes,
                     struct pw_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pw_err_set(err, "%s: cannot open: %s", path, strerror(errno));
    size_t start = b->len;
    int rc = 0;
    for (;;) {
        if (!pw_buf_reserve(b, 4096)) {
            rc = pw_err_set(err, "%s: cannot read: out of memory", path);
            break;
        }
        ssize_t n = read(fd, b->data + b->len, b->cap - b->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = pw_err_set(err, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        if (n == 0)
            break;
        if (b->len - start + (size_t)n > max_bytes) {
            rc = pw_err_set(err, "%s: larger than %zu bytes", path, max_bytes);
            break;
        }
        b->len += (size_t)n;
    }
    close(fd);
    if (rc < 0)
        b->len = start;
    if (b->data)   /* read() may have written over the terminating NUL */
        b->data[b->len] = '\0';
    return rc;
}
