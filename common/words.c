/* common/words.c — see words.h. */
#include "common/words.h"

#include <math.h>
#include <stdio.h>

void pw_duration_words(double s, char *out, size_t size)
{
    if (size == 0)
        return;
    if (!isfinite(s) || s < 0) {
        snprintf(out, size, "an unknown time");
        return;
    }
    long long t = llround(s);
    if (t < 60)
        snprintf(out, size, "%lld s", t);
    else if (t < 3600)
        snprintf(out, size, "%lld min", t / 60);
    else if (t < 86400) {
        long long m = (t % 3600) / 60;
        if (m)
            snprintf(out, size, "%lld h %lld min", t / 3600, m);
        else
            snprintf(out, size, "%lld h", t / 3600);
    } else {
        long long h = (t % 86400) / 3600;
        if (h)
            snprintf(out, size, "%lld d %lld h", t / 86400, h);
        else
            snprintf(out, size, "%lld d", t / 86400);
    }
}
