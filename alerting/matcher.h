/* alerting/matcher.h — Alertmanager's label matchers.
 *
 * A matcher tests one label: equal (=), not equal (!=), regex (=~) or
 * negated regex (!~). A label the set does not have counts as the empty
 * string, as in Alertmanager, so `team!="a"` matches an alert without a team
 * and `team=~".*"` matches every alert. Regexes are PCRE2, anchored at both
 * ends as Alertmanager anchors them: ^(?:re)$.
 *
 * Matchers come from three places: the configuration's `match:` (name:
 * value), `match_re:` (name: regex), and `matchers:` strings such as
 * `severity=~"warn|crit"`; and a silence's {name, value, isRegex, isEqual}.
 *
 * A compiled matcher holds PCRE2 match data: matching is not thread-safe
 * (the dispatcher runs on one thread).
 */
#ifndef PW_MATCHER_H
#define PW_MATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "alerting/alert.h"
#include "common/err.h"

enum pw_match_type { PW_MATCH_EQ, PW_MATCH_NE, PW_MATCH_RE, PW_MATCH_NRE };

struct pw_matcher {
    char *name;
    char *value;                    /* the text, or the regex as written */
    enum pw_match_type type;
    void *re;                       /* pcre2_code for RE and NRE */
    void *md;                       /* pcre2_match_data */
};

struct pw_matchers {
    struct pw_matcher *v;
    size_t n;
};

/* Builds a matcher. A regex that does not compile is an error whose
 * sentence names the regex and PCRE2's reason and offset. Returns 0 or -1. */
int pw_matcher_init(struct pw_matcher *m, const char *name,
                    enum pw_match_type type, const char *value,
                    struct pw_err *err);
/* Parses `name="value"`, `name!="v"`, `name=~"re"`, `name!~"re"` (the value
 * may be unquoted; in quotes \" \\ and \n are escapes; spaces around the
 * operator are allowed; optional surrounding braces with one matcher).
 * Returns 0 or -1 with a sentence in err. */
int pw_matcher_parse(struct pw_matcher *m, const char *text,
                     struct pw_err *err);
void pw_matcher_free(struct pw_matcher *m);
bool pw_matcher_matches(const struct pw_matcher *m,
                        const struct pw_labels *ls);
/* The operator as Alertmanager writes it: "=", "!=", "=~", "!~". */
const char *pw_match_type_str(enum pw_match_type t);
/* Writes `name="value"` (value quoted, " and \ escaped) into out; returns
 * the length it needs (as snprintf). */
size_t pw_matcher_format(const struct pw_matcher *m, char *out, size_t cap);

/* Appends a matcher (built as pw_matcher_init). Returns 0 or -1. */
int pw_matchers_add(struct pw_matchers *ms, const char *name,
                    enum pw_match_type type, const char *value,
                    struct pw_err *err);
/* Appends the matchers of a string: one matcher, or several separated by
 * commas outside quotes, optionally in braces ({a="1", b=~"2"}), as
 * Alertmanager's configuration accepts. Returns 0 or -1. */
int pw_matchers_add_text(struct pw_matchers *ms, const char *text,
                         struct pw_err *err);
/* Sorts by name, then value, then operator (=, !=, =~, !~), as
 * Alertmanager's labels.Matchers sorts a route's matchers, so that route
 * keys are Alertmanager's and do not depend on the YAML's order. */
void pw_matchers_sort(struct pw_matchers *ms);
/* True when every matcher matches (an empty list matches everything). */
bool pw_matchers_match(const struct pw_matchers *ms,
                       const struct pw_labels *ls);
void pw_matchers_free(struct pw_matchers *ms);

#endif
