/* common/buf.h — a growable byte buffer.
 *
 * Appends never fail loudly: on allocation failure the buffer sets `oom`
 * and ignores further appends, so that a writer can check once at the end. */
#ifndef PW_BUF_H
#define PW_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

struct pw_buf {
    char *data;     /* always NUL-terminated when len > 0 or cap > 0 */
    size_t len;
    size_t cap;
    bool oom;
};

void pw_buf_init(struct pw_buf *b);
void pw_buf_release(struct pw_buf *b);           /* frees the storage */
void pw_buf_reset(struct pw_buf *b);             /* len = 0, keeps storage */
bool pw_buf_reserve(struct pw_buf *b, size_t extra);
void pw_buf_append(struct pw_buf *b, const void *data, size_t len);
void pw_buf_putc(struct pw_buf *b, char c);
void pw_buf_puts(struct pw_buf *b, const char *s);
void pw_buf_printf(struct pw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pw_buf_truncate(struct pw_buf *b, size_t len);  /* len <= b->len */

/* Appends the whole file at path (NUL-terminated, like every append).
 * Returns 0, or -1 with err naming the path: cannot open, cannot read,
 * larger than max_bytes, out of memory. On failure b holds what it held. */
int pw_buf_read_file(struct pw_buf *b, const char *path, size_t max_bytes,
                     struct pw_err *err);

#endif
