/* common/err.c — formatting of struct pw_err messages. */
#include "common/err.h"

#include <stdio.h>
#include <string.h>

int pw_err_set(struct pw_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int pw_err_prefix(struct pw_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    return -1;
}

void pw_err_clear(struct pw_err *err)
{
    if (err)
        err->msg[0] = '\0';
}
