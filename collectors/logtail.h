/* collectors/logtail.h — the log tail collector: lines of files matching
 * globs, followed with inotify, shipped as log records to the logs topic.
 *
 * The rules (rotation, positions, multiline records, the size limit) are in
 * the comment at the top of logtail.c. What is exported beyond the
 * collector is for the unit tests, the fuzz target and the benchmark: the
 * state file's parser and writer, and the JSON string encoder. */
#ifndef PW_COLLECTOR_LOGTAIL_H
#define PW_COLLECTOR_LOGTAIL_H

#include <stddef.h>
#include <stdint.h>

#include "collectors/collector.h"
#include "common/buf.h"

extern const struct pw_collector_ops pw_logtail_collector;

/* One remembered position: the file (device and inode), the first byte not
 * yet shipped, and a fingerprint of the file's first bytes (so that a
 * reused inode is not taken for the file it was). path is informational. */
struct pw_logtail_pos {
    uint64_t dev, ino;
    int64_t offset;
    uint64_t fp_hash;         /* FNV-1a of the first fp_len bytes */
    uint32_t fp_len;
    int64_t gen_ns;           /* when it was last truncated (0: never): copies
                                 newer than that hold lines never read */
    const char *path;         /* NUL-terminated; valid during the callback */
};

typedef void (*pw_logtail_pos_fn)(const struct pw_logtail_pos *p, void *arg);

/* Parses a state file's text, calling fn for each position. Returns the
 * number of positions, or -1 with err ("line 3: ...") having called fn for
 * none. Anything may be in buf: it is checked, never trusted. */
int pw_logtail_state_parse(const char *buf, size_t len, pw_logtail_pos_fn fn,
                           void *arg, struct pw_err *err);

/* Appends one position as a state file line. */
void pw_logtail_state_format(struct pw_buf *out, const struct pw_logtail_pos *p);

/* Appends s[0..n) as the inside of a JSON string: '"', '\\' and control
 * bytes escaped, bytes that are not valid UTF-8 replaced by U+FFFD. */
void pw_logtail_json_escape(struct pw_buf *out, const char *s, size_t n);

#endif
