/* common/config.h — YAML configuration, validated against option tables.
 *
 * Each module declares its keys once, as data (a NULL-terminated array of
 * struct pw_option: name, type, where in the module's struct the value goes,
 * default, range, description). The loader reads the YAML (libyaml), checks
 * every key against the tables and fills the caller's struct. The same
 * tables generate the README's configuration reference, so it cannot drift.
 *
 * Every error names the file, the line and the dotted key at fault:
 *   agent.yaml:12: collectors.host.interval: expected a duration such as
 *   "10s" or "500ms", got "ten"
 * Error classes: unknown key (with a suggestion when one is close), wrong
 * type (a mapping where a scalar is expected, "abc" for an integer, ...),
 * value out of range, missing required key, YAML syntax error, duplicate key.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum pw_opt_type {
    PW_OPT_STRING,      /* char *, malloc'd; NULL when unset with no default */
    PW_OPT_INT,         /* int64_t; decimal; range [min, max] */
    PW_OPT_DOUBLE,      /* double; finite; range [min, max] */
    PW_OPT_BOOL,        /* bool; true/false/yes/no/on/off */
    PW_OPT_DURATION,    /* int64_t milliseconds: "250ms", "10s", "5m", "2h",
                           "1d"; a bare number is seconds; range in ms */
    PW_OPT_SIZE,        /* int64_t bytes: "512", "64KiB", "10MiB", "1GiB",
                           "10KB", "10MB", "1GB" (KB = 1000, KiB = 1024);
                           range in bytes */
    PW_OPT_SECTION,     /* a nested mapping described by .section; the value
                           is a struct at .offset; an absent section gets its
                           defaults */
    PW_OPT_MAP,         /* a free mapping of string keys to scalar values,
                           kept as text (struct pw_kv_list): used for
                           pass-through properties such as `kafka:` */
    PW_OPT_STRING_LIST, /* a sequence of strings (struct pw_str_list); a
                           single scalar is accepted as a one-item list */
    PW_OPT_SECTION_LIST,/* a sequence of mappings, each described by
                           .section (struct pw_section_list); a single
                           mapping is accepted as a one-item list. The item
                           table ends with PW_OPT_ITEM_END(type) so that the
                           loader knows the item size; range = item count */
};

struct pw_option {
    const char *name;
    enum pw_opt_type type;
    size_t offset;                    /* offsetof(target struct, field) */
    const char *default_value;        /* as it would be written in YAML;
                                         NULL = no default */
    bool required;                    /* a missing required key is an error */
    double min, max;                  /* inclusive range; ignored when
                                         min == max == 0 */
    const struct pw_option *section;  /* PW_OPT_SECTION: the nested table */
    const char *description;          /* one sentence for the reference */
};

/* A key/value pair from a PW_OPT_MAP, with the line it came from so that a
 * later consumer (e.g. rd_kafka_conf_set) can report file:line:key too. */
struct pw_kv {
    char *key;
    char *value;
    int line;
};

struct pw_kv_list {
    struct pw_kv *items;
    size_t len;
    char *file;            /* the file the list was read from, or NULL */
};

struct pw_str_list {
    char **items;
    size_t len;
};

/* The value of a PW_OPT_SECTION_LIST: `len` structs of the item type, each
 * filled with its table's defaults and then its mapping's values. */
struct pw_section_list {
    void *items;           /* an array of the item struct */
    size_t len;
};

/* The terminator of a PW_OPT_SECTION_LIST item table: a {0} row that also
 * carries sizeof the item struct. */
#define PW_OPT_ITEM_END(type) {.name = NULL, .offset = sizeof(type)}
/* The same, for an item struct with an `int` member that the loader sets to
 * the line the item starts on, so that checks made after loading (a rule's
 * syntax, say) can still name FILE:LINE. */
#define PW_OPT_ITEM_END_LINE(type, line_member)                               \
    {.name = NULL, .offset = sizeof(type),                                    \
     .max = (double)(offsetof(type, line_member) + 1)}

/* Fills `target` (a struct laid out as `table` describes) with the defaults
 * of every option, recursively. Returns 0, or -1 if a default in the table
 * itself does not parse (a programming error, reported in err). */
int pw_config_defaults(const struct pw_option *table, void *target,
                       struct pw_err *err);

/* Loads the YAML file at `path` into `target`: defaults first, then the
 * file's values, then the required-key check. The top level of the file must
 * be a mapping. On error `target` may be partly filled; the caller releases
 * it with pw_config_release either way. Returns 0 or -1 with err set to
 * "PATH:LINE: KEY: what is wrong". */
int pw_config_load(const char *path, const struct pw_option *table,
                   void *target, struct pw_err *err);

/* As pw_config_load, from a buffer; `name` stands for the file name in
 * error messages. */
int pw_config_load_string(const char *name, const char *text, size_t len,
                          const struct pw_option *table, void *target,
                          struct pw_err *err);

/* Frees every string, list and map that the loader allocated in `target`
 * (recursively) and zeroes those fields. Safe on a zeroed struct. */
void pw_config_release(const struct pw_option *table, void *target);

/* Parsers shared with code that reads values from elsewhere (command line,
 * environment). Each returns 0 or -1 with a sentence in err. */
int pw_parse_duration_ms(const char *text, int64_t *out, struct pw_err *err);
int pw_parse_size_bytes(const char *text, int64_t *out, struct pw_err *err);
int pw_parse_bool(const char *text, bool *out, struct pw_err *err);

/* Writes a Markdown reference of `table` (one row per key: dotted name,
 * type, default, range, description) to `out`, nested sections under
 * `prefix` (NULL at the top). */
#include <stdio.h>
void pw_config_reference(FILE *out, const struct pw_option *table,
                         const char *prefix);

#endif
