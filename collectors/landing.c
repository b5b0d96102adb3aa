/* collectors/landing.c — data landing: files arriving in directories.
 *
 * A pipeline that stops writing is often noticed only by the people reading
 * its output; the age of the newest file says it first. For each named glob
 * (`paths:` name -> pattern) the collector reports the number of files, their
 * total size and the age of the newest one (by mtime, against the tick's
 * time; negative when the file's clock is ahead). A match that is a
 * directory stands for the regular files directly inside it (not
 * recursive); names starting with '.' are left out there, as writers use
 * them for files still being written. Symbolic links are followed.
 *
 * With `columns` on, the newest file, when it ends in .csv, .jsonl or
 * .ndjson, is scanned for rows and empty values per column. Only the first
 * `max_scan_bytes` are read; a file that goes on is marked truncated and its
 * unterminated last record is left out, so the shares are those of the
 * prefix. A scan is reused while the file's size and mtime stay the same.
 * - CSV, RFC 4180: the first record names the columns; fields are separated
 *   by ',', records by CRLF or LF; a field may be double-quoted and then hold
 *   commas, line breaks and "" for a quote. Empty = no characters (a quoted
 *   "" too; spaces are characters). Blank lines are skipped; a row with fewer
 *   fields than the header counts the missing ones as empty, and a row whose
 *   field count differs from the header's is counted in bad_rows (and still
 *   in rows). An empty header name becomes _N (N from 1); a UTF-8 BOM is
 *   skipped. Parsing is lenient after a closing quote, like Python's csv.
 * - JSON lines: one JSON object per line; the columns are the keys, in order
 *   of first appearance; empty = the key missing, null or "". A line that is
 *   not an object counts in bad_rows, not in rows. Blank lines are skipped.
 * At most `max_columns` columns are tracked per file; the rest are counted
 * in the field `dropped_columns` of data_landing. */
#include "collectors/landing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"

struct landing_config {
    struct pw_collector_common common;
    struct pw_kv_list paths;
    bool columns;
    int64_t max_scan_bytes;
    int64_t max_columns;
};

static const struct pw_option landing_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct landing_config, "false", "60s"),
    {"paths", PW_OPT_MAP, offsetof(struct landing_config, paths), NULL, false, 0, 0,
     NULL,
     "Name -> glob of the files (or of directories whose files) to watch, e.g. "
     "orders: /data/in/orders/*.csv; the name is the `name` tag."},
    {"columns", PW_OPT_BOOL, offsetof(struct landing_config, columns), "true", false,
     0, 0, NULL,
     "Scan the newest file, when it is .csv, .jsonl or .ndjson, for rows and the "
     "share of empty values per column."},
    {"max_scan_bytes", PW_OPT_SIZE, offsetof(struct landing_config, max_scan_bytes),
     "1MiB", false, 1024, 1073741824.0, NULL,
     "At most this much of a file is read for the column scan."},
    {"max_columns", PW_OPT_INT, offsetof(struct landing_config, max_columns), "256",
     false, 1, 65536, NULL, "At most this many columns are reported per file."},
    {0},
};

/* ---- the row scanner -------------------------------------------------- */

int pw_landing_format_of(const char *path, enum pw_landing_format *out)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return -1;
    if (strcasecmp(dot, ".csv") == 0)
        *out = PW_LANDING_CSV;
    else if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
        *out = PW_LANDING_JSONL;
    else
        return -1;
    return 0;
}

void pw_landing_scan_init(struct pw_landing_scan *s, enum pw_landing_format f,
                          size_t max_columns)
{
    memset(s, 0, sizeof *s);
    s->format = f;
    s->max_columns = max_columns;
}

void pw_landing_scan_release(struct pw_landing_scan *s)
{
    for (size_t i = 0; i < s->ncolumns; i++)
        free(s->columns[i].name);
    free(s->columns);
    json_decref(s->index);
    memset(s, 0, sizeof *s);
}

/* Appends a column; a NULL or empty name becomes _N. -1: out of memory. */
static int add_column(struct pw_landing_scan *s, const char *name, size_t len)
{
    struct pw_landing_column *c =
        realloc(s->columns, (s->ncolumns + 1) * sizeof *s->columns);
    if (!c)
        return -1;
    s->columns = c;
    char *n;
    if (len == 0) {
        n = malloc(24);
        if (n)
            snprintf(n, 24, "_%zu", s->ncolumns + 1);
    } else {
        n = malloc(len + 1);
        if (n) {
            memcpy(n, name, len);
            n[len] = '\0';
        }
    }
    if (!n)
        return -1;
    c[s->ncolumns++] = (struct pw_landing_column){n, 0};
    return 0;
}

/* One CSV field as the record parser saw it: raw bytes (quotes and all) and
 * the length of its value once unquoted. */
struct csv_field {
    const char *raw;
    size_t raw_len, value_len;
};

struct csv_sink {
    struct pw_landing_scan *s;
    bool header;                  /* this record is the header */
    bool oom;
};

/* The value of a raw field, unquoted ("" -> "), into out (value_len + 1). */
static void csv_unquote(const struct csv_field *f, char *out)
{
    size_t k = 0;
    bool inq = false;
    for (size_t i = 0; i < f->raw_len; i++) {
        char c = f->raw[i];
        if (c == '"') {
            if (inq && i + 1 < f->raw_len && f->raw[i + 1] == '"') {
                out[k++] = '"';
                i++;
            } else {
                inq = !inq;
            }
        } else {
            out[k++] = c;
        }
    }
    out[k] = '\0';
}

static void csv_field(struct csv_sink *k, size_t index, const struct csv_field *f)
{
    struct pw_landing_scan *s = k->s;
    if (k->header) {
        if (s->ncolumns >= s->max_columns) {
            s->dropped_columns++;
            return;
        }
        char *name = malloc(f->value_len + 1);
        if (!name) {
            k->oom = true;
            return;
        }
        csv_unquote(f, name);
        if (add_column(s, name, strlen(name)) < 0)
            k->oom = true;
        free(name);
        return;
    }
    if (index < s->ncolumns && f->value_len > 0)
        s->columns[index].filled++;
}

/* Parses the record at *pos. Returns the number of fields (>= 1) and moves
 * *pos past the record's line break, or 0 when no whole record is left
 * (with complete=false, an unterminated record is not whole). A blank line
 * is a record of one empty unquoted field. */
static size_t csv_record(const char *buf, size_t len, size_t *pos, bool complete,
                         struct csv_sink *sink, bool *blank)
{
    size_t i = *pos, nfields = 0;
    if (i >= len)
        return 0;
    /* First pass: find the end, so that an unterminated record makes no
     * callback. Second pass: the fields. */
    for (int pass = 0; pass < 2; pass++) {
        i = *pos;
        nfields = 0;
        for (;;) {
            struct csv_field f = {buf + i, 0, 0};
            size_t start = i;
            bool quoted = false, inq = false;
            if (buf[i] == '"') {
                quoted = inq = true;
                i++;
            }
            for (; i < len; i++) {
                char c = buf[i];
                if (inq) {
                    if (c != '"') {
                        f.value_len++;
                    } else if (i + 1 < len && buf[i + 1] == '"') {
                        f.value_len++;
                        i++;
                    } else {
                        inq = false;
                    }
                    continue;
                }
                if (c == ',' || c == '\n' || (c == '\r' && (i + 1 >= len || buf[i + 1] == '\n')))
                    break;
                if (c == '"') {        /* lenient: a quote opens again */
                    inq = true;
                    continue;
                }
                f.value_len++;
            }
            f.raw_len = i - start;
            if (i >= len && !complete)
                return 0;
            if (pass == 1)
                csv_field(sink, nfields, &f);
            nfields++;
            if (i < len && buf[i] == ',') {
                i++;
                if (i >= len) {        /* "a," at the very end: one more empty field */
                    if (!complete)
                        return 0;
                    if (pass == 1)
                        csv_field(sink, nfields, &(struct csv_field){buf + i, 0, 0});
                    nfields++;
                    break;
                }
                continue;
            }
            if (pass == 0 && nfields == 1 && !quoted && f.raw_len == 0)
                *blank = true;
            if (i < len)
                i += buf[i] == '\r' ? (i + 1 < len ? 2 : 1) : 1;
            break;
        }
        if (pass == 0 && *blank)
            break;
    }
    *pos = i;
    return nfields;
}

static int scan_csv(struct pw_landing_scan *s, const char *buf, size_t len,
                    bool complete)
{
    size_t pos = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    struct csv_sink sink = {s, true, false};
    bool have_header = false;
    size_t header_fields = 0;
    for (;;) {
        bool blank = false;
        sink.header = !have_header;
        size_t n = csv_record(buf, len, &pos, complete, &sink, &blank);
        if (n == 0)
            break;
        if (blank)
            continue;
        if (sink.oom)
            return -1;
        if (!have_header) {
            have_header = true;
            header_fields = n;
            continue;
        }
        s->rows++;
        if (n != header_fields)
            s->bad_rows++;
    }
    return 0;
}

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static bool json_empty(const json_t *v)
{
    return json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* Counts one JSON object's keys. -1: out of memory. */
static int jsonl_row(struct pw_landing_scan *s, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        json_t *ix = json_object_get(s->index, key);
        size_t col;
        if (ix) {
            col = (size_t)json_integer_value(ix);
        } else if (s->ncolumns >= s->max_columns) {
            s->dropped_columns++;
            /* Remembered as untracked (-1) so it is counted once. */
            if (json_object_set_new(s->index, key, json_integer(-1)) < 0)
                return -1;
            continue;
        } else {
            col = s->ncolumns;
            if (add_column(s, key, strlen(key)) < 0 ||
                json_object_set_new(s->index, key, json_integer((json_int_t)col)) < 0)
                return -1;
        }
        if (col < s->ncolumns && !json_empty(v))
            s->columns[col].filled++;
    }
    return 0;
}

static int scan_jsonl(struct pw_landing_scan *s, const char *buf, size_t len,
                      bool complete)
{
    if (!s->index && !(s->index = json_object()))
        return -1;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        if (!nl && !complete)
            break;
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t n = end - pos;
        const char *line = buf + pos;
        pos = nl ? end + 1 : len;
        if (is_blank(line, n))
            continue;
        json_error_t jerr;
        json_t *obj = json_loadb(line, n, 0, &jerr);
        if (!json_is_object(obj)) {
            s->bad_rows++;
            json_decref(obj);
            continue;
        }
        s->rows++;
        int rc = jsonl_row(s, obj);
        json_decref(obj);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int pw_landing_scan_buffer(struct pw_landing_scan *s, const char *buf, size_t len,
                           bool complete)
{
    return s->format == PW_LANDING_CSV ? scan_csv(s, buf, len, complete)
                                       : scan_jsonl(s, buf, len, complete);
}

/* ---- the collector -------------------------------------------------------- */

/* The last scan of a pattern's newest file, reused while it is unchanged. */
struct cached_scan {
    char *path;
    int64_t mtime_ns;
    int64_t size;
    bool valid, truncated;
    int64_t scanned_bytes;
    struct pw_landing_scan scan;
};

struct landing_state {
    struct cached_scan *cache;    /* one per configured path */
    struct pw_log_limiter log;
};

struct walk {
    int64_t files, bytes;
    bool have_newest;
    int64_t newest_mtime_ns;
    int64_t newest_size;
    char *newest;                 /* owned */
};

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int consider(struct walk *w, const char *path, const struct stat *st)
{
    w->files++;
    w->bytes += st->st_size;
    int64_t m = mtime_ns(st);
    if (w->have_newest && (m < w->newest_mtime_ns ||
                           (m == w->newest_mtime_ns && strcmp(path, w->newest) <= 0)))
        return 0;
    char *p = strdup(path);
    if (!p)
        return -1;
    free(w->newest);
    w->newest = p;
    w->newest_mtime_ns = m;
    w->newest_size = st->st_size;
    w->have_newest = true;
    return 0;
}

static int walk_dir(struct walk *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;                 /* vanished or unreadable: nothing to count */
    struct dirent *e;
    int rc = 0;
    char path[4096];
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path)
            continue;
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = consider(w, path, &st);
    }
    closedir(d);
    return rc;
}

static int walk_pattern(struct walk *w, const char *pattern, struct pw_err *err)
{
    glob_t g;
    int grc = glob(pattern, GLOB_NOSORT | GLOB_BRACE | GLOB_TILDE, NULL, &g);
    if (grc == GLOB_NOMATCH)
        return 0;
    if (grc != 0) {
        globfree(&g);
        return pw_err_set(err, "landing: %s: %s", pattern,
                          grc == GLOB_NOSPACE ? "out of memory"
                                              : "a directory could not be read");
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = walk_dir(w, g.gl_pathv[i]);
        else if (S_ISREG(st.st_mode))
            rc = consider(w, g.gl_pathv[i], &st);
    }
    globfree(&g);
    if (rc < 0)
        return pw_err_set(err, "landing: out of memory");
    return 0;
}

/* Reads the first max bytes of path and scans them into c. */
static int scan_file(struct cached_scan *c, const char *path, int64_t max,
                     size_t max_columns, enum pw_landing_format fmt,
                     struct pw_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pw_err_set(err, "landing: cannot open %s: %s", path, strerror(errno));
    /* One byte more than the limit tells whether the file goes on. */
    char *buf = malloc((size_t)max + 1);
    if (!buf) {
        close(fd);
        return pw_err_set(err, "landing: out of memory");
    }
    size_t len = 0;
    while (len < (size_t)max + 1) {
        ssize_t n = read(fd, buf + len, (size_t)max + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return pw_err_set(err, "landing: cannot read %s: %s", path, strerror(e));
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    bool truncated = len > (size_t)max;
    if (truncated)
        len = (size_t)max;
    pw_landing_scan_release(&c->scan);
    pw_landing_scan_init(&c->scan, fmt, max_columns);
    int rc = pw_landing_scan_buffer(&c->scan, buf, len, !truncated);
    free(buf);
    if (rc < 0)
        return pw_err_set(err, "landing: out of memory scanning %s", path);
    c->truncated = truncated;
    c->scanned_bytes = (int64_t)len;
    return 0;
}

/* The cached scan of the newest file, rescanned when it changed. NULL when
 * the file is not of a scanned kind or could not be read. */
static const struct cached_scan *newest_scan(struct landing_state *st,
                                             const struct landing_config *cf,
                                             size_t i, const struct walk *w)
{
    enum pw_landing_format fmt;
    if (!cf->columns || !w->have_newest || pw_landing_format_of(w->newest, &fmt) < 0)
        return NULL;
    struct cached_scan *c = &st->cache[i];
    if (c->valid && strcmp(c->path, w->newest) == 0 &&
        c->mtime_ns == w->newest_mtime_ns && c->size == w->newest_size)
        return c;
    c->valid = false;
    free(c->path);
    c->path = strdup(w->newest);
    struct pw_err err;
    if (!c->path || scan_file(c, w->newest, cf->max_scan_bytes,
                              (size_t)cf->max_columns, fmt, &err) < 0) {
        pw_log_limited(&st->log, 60000, PW_WARN, "%s",
                       c->path ? err.msg : "landing: out of memory");
        return NULL;
    }
    c->mtime_ns = w->newest_mtime_ns;
    c->size = w->newest_size;
    c->valid = true;
    return c;
}

struct kv_name {
    const char *name, *pattern;
};

static void report(const struct kv_name *n, const struct walk *w, const struct cached_scan *c, int64_t ts_ns,
                   struct pw_lp_writer *out)
{
    pw_lp_begin(out, "data_landing");
    pw_lp_tag(out, "name", n->name);
    pw_lp_tag(out, "pattern", n->pattern);
    pw_lp_field_int(out, "files", w->files);
    pw_lp_field_int(out, "bytes", w->bytes);
    if (w->have_newest)
        pw_lp_field_float(out, "newest_age_seconds",
                          (double)(ts_ns - w->newest_mtime_ns) / 1e9);
    if (c) {
        pw_lp_field_int(out, "rows", (int64_t)c->scan.rows);
        pw_lp_field_int(out, "bad_rows", (int64_t)c->scan.bad_rows);
        pw_lp_field_int(out, "columns", (int64_t)c->scan.ncolumns);
        pw_lp_field_int(out, "dropped_columns", (int64_t)c->scan.dropped_columns);
        pw_lp_field_int(out, "scanned_bytes", c->scanned_bytes);
        pw_lp_field_bool(out, "truncated", c->truncated);
    }
    pw_lp_end(out, ts_ns);
    for (size_t j = 0; c && j < c->scan.ncolumns; j++) {
        const struct pw_landing_column *col = &c->scan.columns[j];
        uint64_t empty = c->scan.rows - col->filled;
        pw_lp_begin(out, "data_landing_column");
        pw_lp_tag(out, "column", col->name);
        pw_lp_tag(out, "name", n->name);
        pw_lp_field_int(out, "empty", (int64_t)empty);
        if (c->scan.rows > 0)
            pw_lp_field_float(out, "empty_share", (double)empty / (double)c->scan.rows);
        pw_lp_end(out, ts_ns);
    }
}

static int landing_start(struct pw_collector *c, struct pw_err *err)
{
    const struct landing_config *cf = c->config;
    if (cf->paths.len == 0)
        return pw_err_set(err, "landing: no paths to watch: set "
                               "collectors.landing.paths (name: glob)");
    struct landing_state *st = calloc(1, sizeof *st);
    if (st)
        st->cache = calloc(cf->paths.len, sizeof *st->cache);
    if (!st || !st->cache) {
        free(st);
        return pw_err_set(err, "landing: out of memory");
    }
    c->state = st;
    return 0;
}

static void landing_stop(struct pw_collector *c)
{
    const struct landing_config *cf = c->config;
    struct landing_state *st = c->state;
    if (!st)
        return;
    for (size_t i = 0; i < cf->paths.len; i++) {
        free(st->cache[i].path);
        pw_landing_scan_release(&st->cache[i].scan);
    }
    free(st->cache);
    free(st);
    c->state = NULL;
}

static int landing_collect(struct pw_collector *c, int64_t ts_ns,
                           struct pw_lp_writer *out, struct pw_err *err)
{
    const struct landing_config *cf = c->config;
    struct landing_state *st = c->state;
    int rc = 0;
    for (size_t i = 0; i < cf->paths.len; i++) {
        const struct kv_name n = {cf->paths.items[i].key, cf->paths.items[i].value};
        struct walk w = {0};
        struct pw_err e;
        if (walk_pattern(&w, n.pattern, &e) < 0) {
            if (rc == 0)
                *err = e;
            rc = -1;              /* the other patterns are still reported */
        } else {
            report(&n, &w, newest_scan(st, cf, i, &w), ts_ns, out);
        }
        free(w.newest);
    }
    if (out->buf.oom)
        return pw_err_set(err, "landing: out of memory while encoding");
    return rc;
}

const struct pw_collector_ops pw_landing_collector = {
    .name = "landing",
    .options = landing_options,
    .config_size = sizeof(struct landing_config),
    .start = landing_start,
    .collect = landing_collect,
    .stop = landing_stop,
};
