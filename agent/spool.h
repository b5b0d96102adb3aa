/* agent/spool.h — the agent's bounded, on-disk, ordered message spool.
 *
 * Every message the agent produces is written here first and deleted only
 * when Kafka has acknowledged it, so nothing is lost while the cluster is
 * away, nor when the agent itself restarts. Records come back in the order
 * they were appended (a sequence number). The spool is bounded by the bytes
 * of its payloads (topic + key + value); appending past the bound drops the
 * oldest records, and the drops are counted.
 *
 * Storage is SQLite in WAL mode with synchronous=NORMAL: an append survives
 * a crash of the agent; the last appends before a power loss may not (the
 * price of not calling fsync once a second on every host). */
#ifndef PW_SPOOL_H
#define PW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct pw_spool;

struct pw_spool_record {
    int64_t seq;
    const char *topic;          /* NUL-terminated */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
};

struct pw_spool_stats {
    uint64_t records;           /* now in the spool */
    uint64_t bytes;             /* payload bytes now in the spool */
    uint64_t appended;          /* since open */
    uint64_t acked;
    uint64_t dropped_records;   /* removed by the size bound before an ack */
    uint64_t dropped_bytes;
};

/* Opens (creating if needed) the spool file at path, bounded to max_bytes of
 * payload. Records left by an earlier run are kept and come first. */
struct pw_spool *pw_spool_open(const char *path, int64_t max_bytes,
                               struct pw_err *err);
void pw_spool_close(struct pw_spool *s);   /* NULL is fine */

/* Changes the bound (on reload); drops the oldest records if now over. */
int pw_spool_set_max_bytes(struct pw_spool *s, int64_t max_bytes,
                           struct pw_err *err);

/* Appends one record; on success stores its sequence number in *seq (may be
 * NULL). A record larger than the bound by itself is refused. */
int pw_spool_append(struct pw_spool *s, const char *topic, const void *key,
                    size_t key_len, const void *value, size_t value_len,
                    int64_t *seq, struct pw_err *err);

/* Finds the oldest record with seq > after_seq. Returns 1 and fills *rec
 * (valid until the next call on this spool), 0 when there is none, -1 on
 * error. */
int pw_spool_next(struct pw_spool *s, int64_t after_seq,
                  struct pw_spool_record *rec, struct pw_err *err);

/* Deletes the record (acknowledged by Kafka). Returns 1 when it was there,
 * 0 for an unknown seq (already dropped by the bound: not an error), -1 on
 * error. */
int pw_spool_ack(struct pw_spool *s, int64_t seq, struct pw_err *err);

void pw_spool_stats(const struct pw_spool *s, struct pw_spool_stats *out);

#endif
