/* common/words.h — quantities as people read them in messages.
 *
 * One spelling of a duration for every message pipewatch writes (the
 * analyzer's prediction summaries, the ETA in Slack and log alerts), so
 * that "2 h 40 min" in a prediction is "in 2 h 40 min" in its alert. */
#ifndef PW_WORDS_H
#define PW_WORDS_H

#include <stddef.h>

/* "45 s", "40 min", "2 h 40 min", "3 d 4 h" (rounded to the second, the
 * two largest units); "an unknown time" for a negative or non-finite
 * value. Always NUL-terminates when size > 0. */
void pw_duration_words(double seconds, char *out, size_t size);

#endif
