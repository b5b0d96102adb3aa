/* common/err.h — the error a failing function hands back to its caller.
 *
 * A function that can fail returns 0 / a negative number, or a pointer /
 * NULL, and writes one human sentence into a caller-provided struct pw_err:
 * what failed, on which input, and what to do. Only main decides to exit. */
#ifndef PW_ERR_H
#define PW_ERR_H

#include <stdarg.h>

struct pw_err {
    char msg[512];
};

/* Formats the message into err (truncating if needed). err may be NULL.
 * Always returns -1, so that `return pw_err_set(err, ...);` reads well. */
int pw_err_set(struct pw_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in err. Returns -1. */
int pw_err_prefix(struct pw_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void pw_err_clear(struct pw_err *err);

#endif
