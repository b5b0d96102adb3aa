/* alerting/silence.h — silences, stored durably, in Alertmanager's shape.
 *
 * A silence mutes every alert that all its matchers match while it is
 * active: from startsAt (inclusive) to endsAt (exclusive). Before that it
 * is pending, after that expired. Silences live in SQLite (WAL,
 * synchronous=FULL): a silence added or expired survives a crash once the
 * call returns.
 *
 * JSON in and out is Alertmanager's API v2:
 *   POST /api/v2/silences body (pw_silences_add_json):
 *     {"id": optional, "matchers": [{"name": "...", "value": "...",
 *      "isRegex": false, "isEqual": true}], "startsAt": "RFC 3339",
 *      "endsAt": "RFC 3339", "createdBy": "...", "comment": "..."}
 *   GET /api/v2/silences items (pw_silences_list_json): the same fields
 *     plus "status": {"state": "pending" | "active" | "expired"} and
 *     "updatedAt".
 * Validation follows Alertmanager: at least one matcher, valid label
 * names, regexes that compile, not every matcher matching the empty string,
 * endsAt after startsAt and not in the past, createdBy and comment given.
 * A startsAt in the past becomes now. Posting with the id of an existing
 * silence that is not expired replaces it; an unknown id is an error.
 *
 * One store is used from one thread.
 */
#ifndef PW_SILENCE_H
#define PW_SILENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/alert.h"
#include "alerting/matcher.h"
#include "common/err.h"

enum pw_silence_state {
    PW_SILENCE_PENDING, PW_SILENCE_ACTIVE, PW_SILENCE_EXPIRED
};

#define PW_SILENCE_ID_LEN 36     /* a UUID, as Alertmanager's */

struct pw_silence {
    char id[PW_SILENCE_ID_LEN + 1];
    struct pw_matchers matchers;    /* compiled; EQ/NE/RE/NRE from
                                       isEqual and isRegex */
    int64_t starts_at_ns, ends_at_ns, updated_at_ns;
    char *created_by;
    char *comment;
};

/* Parses and validates a POST body (see above) at time now_ns (for the "in
 * the past" rules). Errors are sentences naming the field. Returns 0 or -1;
 * `out` is released with pw_silence_free either way. */
int pw_silence_parse_json(const char *json, size_t len, int64_t now_ns,
                          struct pw_silence *out, struct pw_err *err);
void pw_silence_free(struct pw_silence *s);
enum pw_silence_state pw_silence_state(const struct pw_silence *s,
                                       int64_t now_ns);
const char *pw_silence_state_name(enum pw_silence_state st);
bool pw_silence_matches(const struct pw_silence *s,
                        const struct pw_labels *ls);

struct pw_silences;

/* Opens (creates) the store in the SQLite file at `path`; it may be the
 * dispatcher's file. Returns NULL with err set. */
struct pw_silences *pw_silences_open(const char *path, struct pw_err *err);
void pw_silences_close(struct pw_silences *s);

/* Adds (or replaces, see above) a silence from a POST body; its id goes to
 * id_out. Durable when it returns 0. */
int pw_silences_add_json(struct pw_silences *s, const char *json, size_t len,
                         int64_t now_ns, char id_out[PW_SILENCE_ID_LEN + 1],
                         struct pw_err *err);
/* Expires a silence now (a pending one is expired without ever being
 * active). An unknown or already expired id is an error. */
int pw_silences_expire(struct pw_silences *s, const char *id, int64_t now_ns,
                       struct pw_err *err);
/* The silence with this id, or NULL (borrowed until the next change). */
const struct pw_silence *pw_silences_get(const struct pw_silences *s,
                                         const char *id);
size_t pw_silences_count(const struct pw_silences *s);

/* GET /api/v2/silences: a JSON array (malloc'd text), or one silence as an
 * object (NULL if unknown). */
char *pw_silences_list_json(const struct pw_silences *s, int64_t now_ns);
char *pw_silences_get_json(const struct pw_silences *s, const char *id,
                           int64_t now_ns);

/* How many active silences mute `ls` at now_ns; their ids go to ids[0..cap)
 * (borrowed) when ids is not NULL. */
size_t pw_silences_silenced(const struct pw_silences *s,
                            const struct pw_labels *ls, int64_t now_ns,
                            const char **ids, size_t cap);

#endif
