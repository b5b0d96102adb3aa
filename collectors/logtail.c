/* collectors/logtail.c — the log tail collector.
 *
 * Files. Each `files` item is a glob (its directory part without wildcards,
 * so that it can be watched) and optionally a multiline start pattern. A
 * file is known by device and inode, not by name: a file renamed within
 * the glob is the same file, and a new file under an old name is a new
 * file. Files are read from their remembered position; without one, on
 * the very first start (no state file yet) from their end (or beginning
 * with from_beginning), and otherwise from the beginning (they are new:
 * created since, perhaps while the agent was down).
 *
 * Following. inotify on each glob's directory wakes the agent (its
 * descriptor is in the agent's poll); a modification only reads, a
 * creation, rename or deletion also rescans the globs. Every poll_interval
 * the globs are rescanned anyway and the files checked for truncation, and
 * an open multiline record idle for multiline_timeout is shipped.
 *
 * Rotation by rename (logrotate's default, create): the name now leads to
 * another inode. The old file stays open and is read to its end, and on
 * until it has been idle for rotate_wait (a writer may write a little more
 * before it reopens); its last unterminated line, if any, is then shipped
 * and the file closed. The new file is read from its beginning at once. A
 * file renamed away before we ever opened it (a writer rotating faster
 * than we look) is found from inotify's rename events and read whole.
 *
 * Rotation by copytruncate: the same inode shrinks below our offset (or,
 * rewritten past it before we looked, its first 64 bytes change: checked
 * before every read). The lines not yet shipped are only in the copy, so
 * the copy is looked for (a regular file named like the file plus a
 * suffix, e.g. app.log.1 or app.log-20261204, not compressed, starting with
 * the file's first bytes and holding the bytes we read just before our
 * offset) and followed as a rotated file of its own from our committed
 * offset; so is any newer copy (a generation we never read: two
 * copytruncates between two looks). The file is then read from 0, and the
 * time of that truncation is kept (in the state file too): while nothing
 * of the new generation has been read, a copy newer than it is such a
 * generation as well (a copytruncate while the agent was down). The glob
 * must not match the copies (they would be read as new files).
 *
 * Positions. A file's committed offset is the first byte not yet in a
 * record the agent's spool has taken: records are contiguous, a message
 * holds records of one file only, and a message's end becomes the
 * committed offset only when the agent's emit() returned (the spool
 * append is durable: it survives a crash of the agent). The state file
 * (one line per open file: device, inode, offset, fingerprint, truncation
 * time, path) is
 * written atomically (a temporary file, fsync, rename) every
 * state_interval and at stop. So a restart resumes where the spool left
 * off: at least once, never a skip; a crash (not a stop) may ship again
 * what was spooled since the last state write. At start, a remembered file
 * that the glob no longer matches (rotated while the agent was down) is
 * looked for by inode in its directory and read to its end, with the
 * rules (multiline_start) of the glob that matched the name it had.
 *
 * Records. Without a start pattern a line is a record. With one, a line
 * that matches it starts a record and a line that does not joins the
 * record before it with "\n" (a stack trace); a record is shipped when
 * the next one starts or when it has been idle for multiline_timeout. A
 * trailing CR is removed. A line (or a record) longer than max_line_bytes
 * is cut there and the rest skipped to its newline; cut lines are counted.
 * A line not yet terminated by a newline waits for it (except in a rotated
 * file being closed).
 *
 * Speed. Files are read with pread in large chunks; lines are found with
 * memchr; a record is copied once into the message, escaped for JSON by a
 * table for ASCII and a UTF-8 check for the rest; the JSON prefix with the
 * entity and source is built once per file. One call reads at most
 * read_budget bytes and asks to be called again, so one busy file neither
 * starves the agent's loop nor swells the spool faster than the sender
 * drains it. */
#include "collectors/logtail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/clock.h"
#include "common/log.h"

#define FP_MAX 64                   /* bytes of a file's fingerprint */
#define TAIL_MAX 64                 /* bytes kept from before the offset */
#define CHUNK (256 * 1024)          /* one pread */
#define READ_BUDGET (8u << 20)      /* bytes read per collect_logs call */
#define IDLE_FREE_NS (30 * 1000000000LL)   /* a file this quiet frees its buffer */
#define GEN_MARGIN_NS (50 * 1000000LL)     /* file times lag the clock by a tick */
#define STATE_MAGIC "# pipewatch logtail state 1\n"

struct lt_file_conf {
    char *path;
    char *multiline_start;
    int line;
};

struct logtail_config {
    struct pw_collector_common common;
    struct pw_section_list files;
    char *state_file;
    char *entity;
    int64_t max_line_bytes;
    int64_t multiline_timeout_ms;
    int64_t rotate_wait_ms;
    int64_t poll_interval_ms;
    int64_t state_interval_ms;
    bool from_beginning;
};

static const struct pw_option file_options[] = {
    {"path", PW_OPT_STRING, offsetof(struct lt_file_conf, path), NULL, true, 0, 0,
     NULL, "Glob of the files to follow, e.g. /var/log/app/*.log; wildcards only "
           "in the last component (its directory is watched). It should not "
           "match the copies that copytruncate leaves."},
    {"multiline_start", PW_OPT_STRING, offsetof(struct lt_file_conf, multiline_start),
     NULL, false, 0, 0, NULL,
     "A regular expression (PCRE2) that the first line of a record matches, e.g. "
     "^\\d{4}-\\d\\d-\\d\\d ; lines that do not match join the record before them "
     "(stack traces). Unset: every line is a record."},
    PW_OPT_ITEM_END_LINE(struct lt_file_conf, line),
};

static const struct pw_option logtail_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct logtail_config, "false", "10s"),
    {"files", PW_OPT_SECTION_LIST, offsetof(struct logtail_config, files), NULL,
     false, 0, 1000, file_options,
     "The files to follow, each a mapping with the keys below."},
    {"state_file", PW_OPT_STRING, offsetof(struct logtail_config, state_file),
     "/var/lib/pipewatch/logtail.state", false, 0, 0, NULL,
     "Where the read positions are kept across restarts (by device and inode); "
     "written atomically."},
    {"entity", PW_OPT_STRING, offsetof(struct logtail_config, entity), "", false, 0,
     0, NULL, "The records' entity; empty: the agent's entity (the host name)."},
    {"max_line_bytes", PW_OPT_SIZE, offsetof(struct logtail_config, max_line_bytes),
     "16KiB", false, 256, 262144.0, NULL,
     "A longer line (or multiline record) is cut to this size; the rest is "
     "skipped and the cut counted. A record travels alone when it does not "
     "fit a message, so keep it well under Kafka's message.max.bytes."},
    {"multiline_timeout", PW_OPT_DURATION,
     offsetof(struct logtail_config, multiline_timeout_ms), "1s", false, 10,
     600000.0, NULL,
     "A multiline record with no new line for this long is shipped."},
    {"rotate_wait", PW_OPT_DURATION, offsetof(struct logtail_config, rotate_wait_ms),
     "5s", false, 0, 3600000.0, NULL,
     "A file rotated away by rename is read until it has been idle this long, "
     "then closed."},
    {"poll_interval", PW_OPT_DURATION,
     offsetof(struct logtail_config, poll_interval_ms), "1s", false, 10, 60000.0,
     NULL, "How often the globs are rescanned and the files checked for "
           "truncation, whatever inotify says."},
    {"state_interval", PW_OPT_DURATION,
     offsetof(struct logtail_config, state_interval_ms), "1s", false, 0, 600000.0,
     NULL, "The state file is written at most this often (and at stop)."},
    {"from_beginning", PW_OPT_BOOL, offsetof(struct logtail_config, from_beginning),
     "false", false, 0, 0, NULL,
     "Read files found at the first start with no remembered position from "
     "their beginning instead of their end."},
    {0},
};

/* ---- JSON string encoding ---------------------------------------------- */

/* 0: copy as is; 1: escape; 2: a byte >= 0x80 (check UTF-8). */
static const unsigned char esc_class[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 2,
};

/* The length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
            (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
            return 0;
        return 4;
    }
    return 0;
}

void pw_logtail_json_escape(struct pw_buf *out, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!pw_buf_reserve(out, n * 6 + 1))
        return;
    const unsigned char *s = (const unsigned char *)str;
    char *o = out->data + out->len;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && esc_class[s[j]] == 0)
            j++;
        memcpy(o, s + i, j - i);
        o += j - i;
        i = j;
        if (i >= n)
            break;
        unsigned c = s[i];
        if (esc_class[c] == 2) {
            size_t l = utf8_len(s + i, n - i);
            if (l) {
                memcpy(o, s + i, l);
                o += l;
                i += l;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
                i++;
            }
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\t': *o++ = 't'; break;
        case '\r': *o++ = 'r'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
        i++;
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* ---- the state file ----------------------------------------------------- */

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

void pw_logtail_state_format(struct pw_buf *out, const struct pw_logtail_pos *p)
{
    pw_buf_printf(out, "%" PRIu64 " %" PRIu64 " %" PRId64 " %" PRIu32 " %016" PRIx64
                  " %" PRId64 " ", p->dev, p->ino, p->offset, p->fp_len, p->fp_hash,
                  p->gen_ns);
    /* The path, with backslash and newline escaped. */
    for (const char *c = p->path ? p->path : ""; *c; c++) {
        if (*c == '\\')
            pw_buf_puts(out, "\\\\");
        else if (*c == '\n')
            pw_buf_puts(out, "\\n");
        else
            pw_buf_putc(out, *c);
    }
    pw_buf_putc(out, '\n');
}

static bool parse_u64(const char **p, const char *end, int base, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    while (s < end) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            break;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
        s++;
        digits++;
    }
    if (digits == 0 || s >= end || *s != ' ')
        return false;
    *p = s + 1;
    *out = v;
    return true;
}

struct parsed_pos {
    struct pw_logtail_pos pos;
    size_t path_off;
};

int pw_logtail_state_parse(const char *buf, size_t len, pw_logtail_pos_fn fn,
                           void *arg, struct pw_err *err)
{
    size_t ml = strlen(STATE_MAGIC);
    if (len < ml || memcmp(buf, STATE_MAGIC, ml) != 0)
        return pw_err_set(err, "line 1: not a logtail state file (expected \"%.*s\")",
                          (int)ml - 1, STATE_MAGIC);
    /* Parse everything first (whole or nothing), then hand out. */
    struct parsed_pos *all = NULL;
    size_t n = 0, cap = 0;
    struct pw_buf paths;
    pw_buf_init(&paths);
    int lineno = 1, rc = 0;
    for (const char *p = buf + ml, *end = buf + len; p < end;) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            rc = pw_err_set(err, "line %d: not terminated (a partial write?)", lineno);
            break;
        }
        const char *s = p;
        p = nl + 1;
        if (s == nl)
            continue;
        struct parsed_pos pp = {{0}, 0};
        uint64_t off, fplen, gen;
        if (!parse_u64(&s, nl, 10, &pp.pos.dev) || !parse_u64(&s, nl, 10, &pp.pos.ino) ||
            !parse_u64(&s, nl, 10, &off) || !parse_u64(&s, nl, 10, &fplen) ||
            !parse_u64(&s, nl, 16, &pp.pos.fp_hash) || !parse_u64(&s, nl, 10, &gen)) {
            rc = pw_err_set(err, "line %d: expected \"DEV INODE OFFSET FPLEN FPHASH GEN "
                            "PATH\"", lineno);
            break;
        }
        if (off > (uint64_t)INT64_MAX || fplen > FP_MAX || gen > (uint64_t)INT64_MAX) {
            rc = pw_err_set(err, "line %d: offset, fingerprint length or generation out "
                            "of range", lineno);
            break;
        }
        pp.pos.gen_ns = (int64_t)gen;
        pp.pos.offset = (int64_t)off;
        pp.pos.fp_len = (uint32_t)fplen;
        pp.path_off = paths.len;
        for (; s < nl; s++) {
            char c = *s;
            if (c == '\\' && s + 1 < nl && (s[1] == '\\' || s[1] == 'n')) {
                c = s[1] == 'n' ? '\n' : '\\';
                s++;
            }
            if (c == '\0') {
                rc = pw_err_set(err, "line %d: NUL in the path", lineno);
                break;
            }
            pw_buf_putc(&paths, c);
        }
        if (rc < 0)
            break;
        pw_buf_putc(&paths, '\0');
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            struct parsed_pos *na = realloc(all, nc * sizeof *na);
            if (!na) {
                rc = pw_err_set(err, "out of memory");
                break;
            }
            all = na;
            cap = nc;
        }
        all[n++] = pp;
    }
    if (rc == 0 && paths.oom)
        rc = pw_err_set(err, "out of memory");
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            all[i].pos.path = paths.data + all[i].path_off;
            fn(&all[i].pos, arg);
        }
        rc = (int)n;
    }
    free(all);
    pw_buf_release(&paths);
    return rc;
}

/* ---- the collector ------------------------------------------------------ */

struct pattern {
    const struct lt_file_conf *conf;
    pcre2_code *re;
    pcre2_match_data *md;
    char *dir;                /* watched directory */
    int wd;
};

struct tfile {
    struct tfile *next;
    struct pattern *pat;
    char *path;
    int fd;
    uint64_t dev, ino;
    int64_t off;              /* next byte to read */
    int64_t committed;        /* first byte not in a spooled record */
    char *rbuf;               /* bytes [off - rlen, off) not yet lines */
    size_t rlen, rcap;
    bool skipping;            /* discarding the rest of an overlong line */
    struct pw_buf rec;        /* the record being assembled */
    bool rec_open, rec_cut;
    int64_t rec_end;          /* offset after its last line */
    int64_t rec_mono_ns;      /* when its last line came */
    int64_t msg_end;          /* offset after the last record in the message */
    unsigned char fp[FP_MAX];
    size_t fp_len;
    bool fp_by_hash;          /* only the state file's hash of them is known */
    uint64_t fp_hash;
    int64_t gen_ns;           /* realtime of the last truncation handled (0: none) */
    unsigned char tail[TAIL_MAX];
    size_t tail_len;
    bool rotated, seen;
    int64_t active_mono_ns;   /* last time it gave bytes (or was rotated) */
    char *prefix;             /* {"entity":"E","source":"S","ts": */
    size_t prefix_len;
};

struct saved_pos {
    struct pw_logtail_pos pos;
    char *path;
    bool used;
};

struct logtail_stats {
    uint64_t records, bytes, lines_cut, rotations, truncations, recovered_bytes,
        emit_errors, read_errors, held_back;
};

struct logtail {
    const struct logtail_config *cf;
    struct pattern *pats;
    size_t npats;
    struct tfile *files;
    int ifd;
    bool first_scan, had_state, more, dirty;
    int64_t next_poll_mono_ns, last_state_mono_ns;
    struct saved_pos *saved;
    size_t nsaved, saved_cap;
    struct pw_buf msg;
    const struct pw_log_out *out;
    const char *entity;
    int64_t now_ns;           /* the records' ts for this call */
    char ts_text[24];         /* now_ns in decimal, and its length */
    size_t ts_len;
    int64_t chunk_mono_ns;    /* when the chunk being split was read */
    bool shipped;             /* collect_logs has run: the state is ours */
    bool held;                /* this call met back-pressure */
    struct logtail_stats st;
    struct pw_log_limiter log;
};

static void set_fp(struct tfile *f, const char *data, int64_t at, size_t n)
{
    /* Bytes [at, at + n) of the file: refresh the fingerprint if they
     * overlap its first FP_MAX bytes. */
    if (at >= FP_MAX || at > (int64_t)f->fp_len)
        return;
    size_t upto = (size_t)at + n < FP_MAX ? (size_t)at + n : FP_MAX;
    if (upto > f->fp_len) {
        memcpy(f->fp + at, data, upto - (size_t)at);
        f->fp_len = upto;
    }
}

static void set_tail(struct tfile *f, const char *data, size_t n)
{
    if (n >= TAIL_MAX) {
        memcpy(f->tail, data + n - TAIL_MAX, TAIL_MAX);
        f->tail_len = TAIL_MAX;
        return;
    }
    size_t keep = f->tail_len + n > TAIL_MAX ? TAIL_MAX - n : f->tail_len;
    memmove(f->tail, f->tail + f->tail_len - keep, keep);
    memcpy(f->tail + keep, data, n);
    f->tail_len = keep + n;
}

static char *json_prefix(const char *entity, const char *source, size_t *len)
{
    struct pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, "{\"entity\":\"");
    pw_logtail_json_escape(&b, entity, strlen(entity));
    pw_buf_puts(&b, "\",\"source\":\"");
    pw_logtail_json_escape(&b, source, strlen(source));
    pw_buf_puts(&b, "\",\"ts\":");
    if (b.oom) {
        pw_buf_release(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* Hands the message to the agent; on success it holds up to f->msg_end. */
static int emit(struct logtail *lt, struct tfile *f, struct pw_err *err)
{
    if (lt->msg.len == 0)
        return 0;
    if (lt->msg.oom) {
        lt->msg.oom = false;
        pw_buf_reset(&lt->msg);
        return pw_err_set(err, "logtail: out of memory");
    }
    int rc = lt->out->emit(lt->out->arg, lt->msg.data, lt->msg.len, err);
    if (rc != 0) {
        pw_buf_reset(&lt->msg);
        if (rc > 0) {
            /* Back-pressure: these lines are read again later. */
            lt->st.held_back++;
            lt->held = true;
            return pw_err_set(err, "held back");
        }
        lt->st.emit_errors++;
        return -1;
    }
    pw_buf_reset(&lt->msg);
    f->committed = f->msg_end;
    lt->dirty = true;
    return 0;
}

/* Moves the open record into the message (emitting a full message first). */
static int finish_record(struct logtail *lt, struct tfile *f, struct pw_err *err)
{
    if (!f->rec_open)
        return 0;
    size_t need = f->prefix_len + 24 + 12 + f->rec.len * 6 + 4;
    if (lt->msg.len > 0 && lt->msg.len + need > lt->out->max_message_bytes &&
        emit(lt, f, err) < 0)
        return -1;
    if (!f->prefix) {
        f->prefix = json_prefix(lt->entity, f->path, &f->prefix_len);
        if (!f->prefix)
            return pw_err_set(err, "logtail: out of memory");
    }
    struct pw_buf *m = &lt->msg;
    if (!pw_buf_reserve(m, need))
        return pw_err_set(err, "logtail: out of memory");
    memcpy(m->data + m->len, f->prefix, f->prefix_len);
    m->len += f->prefix_len;
    memcpy(m->data + m->len, lt->ts_text, lt->ts_len);
    m->len += lt->ts_len;
    memcpy(m->data + m->len, ",\"line\":\"", 9);
    m->len += 9;
    pw_logtail_json_escape(m, f->rec.data ? f->rec.data : "", f->rec.len);
    pw_buf_append(m, "\"}\n", 3);
    f->msg_end = f->rec_end;
    f->rec_open = false;
    f->rec_cut = false;
    pw_buf_reset(&f->rec);
    lt->st.records++;
    return 0;
}

static bool starts_record(struct tfile *f, const char *s, size_t n)
{
    struct pattern *p = f->pat;
    return pcre2_match(p->re, (PCRE2_SPTR)s, n, 0, 0, p->md, NULL) >= 0;
}

/* Appends text to the open record, cut at max_line_bytes. */
static void rec_add(struct logtail *lt, struct tfile *f, const char *s, size_t n)
{
    size_t max = (size_t)lt->cf->max_line_bytes;
    if (f->rec.len + n > max) {
        n = f->rec.len < max ? max - f->rec.len : 0;
        if (!f->rec_cut)
            lt->st.lines_cut++;
        f->rec_cut = true;
    }
    pw_buf_append(&f->rec, s, n);
}

/* One line [s, s+n) (no newline) whose bytes end at end_off. */
static int take_line(struct logtail *lt, struct tfile *f, const char *s, size_t n,
                     int64_t end_off, bool cut, struct pw_err *err)
{
    if (n > 0 && s[n - 1] == '\r' && !cut)
        n--;
    bool multi = f->pat->re != NULL;
    if (!multi || !f->rec_open || starts_record(f, s, n)) {
        if (finish_record(lt, f, err) < 0)
            return -1;
        f->rec_open = true;
        rec_add(lt, f, s, n);
    } else {
        rec_add(lt, f, "\n", 1);
        rec_add(lt, f, s, n);
    }
    if (cut && !f->rec_cut) {
        lt->st.lines_cut++;
        f->rec_cut = true;
    }
    f->rec_end = end_off;
    f->rec_mono_ns = lt->chunk_mono_ns;
    if (!multi && !cut)
        return finish_record(lt, f, err);
    return 0;
}

/* Turns the complete lines in rbuf into records; keeps the partial rest. */
static int take_lines(struct logtail *lt, struct tfile *f, struct pw_err *err)
{
    char *p = f->rbuf, *end = f->rbuf + f->rlen;
    int64_t base = f->off - (int64_t)f->rlen;
    size_t max = (size_t)lt->cf->max_line_bytes;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            if (f->skipping) {
                p = end;   /* still inside the overlong line */
            } else if ((size_t)(end - p) >= max) {
                if (take_line(lt, f, p, max, base + (end - f->rbuf), true, err) < 0)
                    return -1;
                f->skipping = true;
                p = end;
            }
            break;
        }
        int64_t eo = base + (nl + 1 - f->rbuf);
        if (f->skipping) {
            f->skipping = false;
            f->rec_end = eo;
            if (!f->pat->re && finish_record(lt, f, err) < 0)
                return -1;
        } else if (take_line(lt, f, p, (size_t)(nl - p) > max ? max : (size_t)(nl - p),
                             eo, (size_t)(nl - p) > max, err) < 0) {
            return -1;
        } else if ((size_t)(nl - p) > max && !f->pat->re &&
                   finish_record(lt, f, err) < 0) {
            return -1;
        }
        p = nl + 1;
    }
    size_t rest = (size_t)(end - p);
    memmove(f->rbuf, p, rest);
    f->rlen = rest;
    return 0;
}

/* Forgets everything read after the committed offset: the next read starts
 * there again (after a refused message). */
static void rewind_file(struct tfile *f)
{
    f->off = f->committed;
    f->rlen = 0;
    f->tail_len = 0;   /* it was the tail of the read, not of the commit */
    f->skipping = false;
    f->rec_open = false;
    f->rec_cut = false;
    pw_buf_reset(&f->rec);
    f->msg_end = f->committed;
}

/* Ships the unterminated last line and the open record (a file about to be
 * closed or truncated). */
static int flush_all(struct logtail *lt, struct tfile *f, struct pw_err *err)
{
    if (f->rlen > 0 && !f->skipping) {
        size_t max = (size_t)lt->cf->max_line_bytes;
        if (take_line(lt, f, f->rbuf, f->rlen > max ? max : f->rlen, f->off,
                      f->rlen > max, err) < 0)
            return -1;
    }
    f->rlen = 0;
    if (f->skipping) {
        f->skipping = false;
        f->rec_end = f->off;
    }
    if (finish_record(lt, f, err) < 0)
        return -1;
    return emit(lt, f, err);
}

/* Reads f from f->off to its end or the budget; 1 if the budget ran out. */
static int read_file(struct logtail *lt, struct tfile *f, size_t *budget,
                     struct pw_err *err)
{
    size_t need = (size_t)lt->cf->max_line_bytes + CHUNK;
    if (f->rcap < need) {
        char *nb = realloc(f->rbuf, need);
        if (!nb)
            return pw_err_set(err, "logtail: out of memory");
        f->rbuf = nb;
        f->rcap = need;
    }
    for (;;) {
        if (*budget == 0)
            return 1;
        size_t room = f->rcap - f->rlen;
        if (room > CHUNK)
            room = CHUNK;
        ssize_t n = pread(f->fd, f->rbuf + f->rlen, room, f->off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            lt->st.read_errors++;
            return pw_err_set(err, "logtail: reading %s: %s", f->path, strerror(errno));
        }
        if (n == 0)
            return 0;
        set_fp(f, f->rbuf + f->rlen, f->off, (size_t)n);
        set_tail(f, f->rbuf + f->rlen, (size_t)n);
        f->rlen += (size_t)n;
        f->off += n;
        lt->st.bytes += (uint64_t)n;
        f->active_mono_ns = lt->chunk_mono_ns = pw_mono_ns();
        *budget = (size_t)n >= *budget ? 0 : *budget - (size_t)n;
        if (take_lines(lt, f, err) < 0)
            return -1;
    }
}

/* ---- copytruncate --------------------------------------------------------- */

/* The names a copy of f may have: f's name plus a suffix (app.log.1,
 * app.log-20261204), not compressed ones. NULL-terminated list or NULL;
 * free with globfree. */
static bool copy_names(const struct tfile *f, glob_t *g)
{
    size_t plen = strlen(f->path);
    char *pat = malloc(plen * 2 + 4);
    if (!pat)
        return false;
    size_t k = 0;
    for (size_t i = 0; i < plen; i++) {
        if (strchr("*?[\\", f->path[i]))
            pat[k++] = '\\';
        pat[k++] = f->path[i];
    }
    memcpy(pat + k, "?*", 3);
    int rc = glob(pat, 0, NULL, g);
    free(pat);
    return rc == 0;
}

static bool compressed_name(const char *name)
{
    static const char *const sfx[] = {".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".zip"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        size_t m = strlen(sfx[i]);
        if (n > m && strcmp(name + n - m, sfx[i]) == 0)
            return true;
    }
    return false;
}

static bool ts_after(struct timespec a, struct timespec b)
{
    return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* Looks for the copy of f's content as it was at f->off: a copy name, at
 * least f->off long, starting with f's first bytes and, when we still have
 * them, holding the bytes we read just before f->off there; the newest
 * such. Returns its path (malloc'd) and stat, or NULL. */
static char *find_copy(struct tfile *f, struct stat *out)
{
    if (f->off <= 0 || f->fp_len == 0)
        return NULL;
    glob_t g;
    if (!copy_names(f, &g))
        return NULL;
    char *best = NULL;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        int c = open(g.gl_pathv[i], O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (c < 0)
            continue;
        unsigned char buf[TAIL_MAX > FP_MAX ? TAIL_MAX : FP_MAX];
        bool ok = fstat(c, &st) == 0 && S_ISREG(st.st_mode) &&
                  (uint64_t)st.st_ino != f->ino && st.st_size >= f->off &&
                  pread(c, buf, f->fp_len, 0) == (ssize_t)f->fp_len &&
                  (f->fp_by_hash ? fnv1a(buf, f->fp_len) == f->fp_hash
                                 : memcmp(buf, f->fp, f->fp_len) == 0) &&
                  (f->tail_len == 0 ||
                   (pread(c, buf, f->tail_len, f->off - (int64_t)f->tail_len) ==
                        (ssize_t)f->tail_len &&
                    memcmp(buf, f->tail, f->tail_len) == 0));
        close(c);
        if (ok && (!best || ts_after(st.st_mtim, out->st_mtim))) {
            free(best);
            best = strdup(g.gl_pathv[i]);
            *out = st;
        }
    }
    globfree(&g);
    return best;
}

static struct tfile *find_file(struct logtail *lt, uint64_t dev, uint64_t ino);
static struct tfile *open_file(struct logtail *lt, struct pattern *pat,
                               const char *path, const struct stat *st);

/* Follows path (a copy of f) as a rotated file of f's, from byte `from`. */
static void follow_copy(struct logtail *lt, struct tfile *f, const char *path,
                        const struct stat *st, int64_t from)
{
    if (find_file(lt, (uint64_t)st->st_dev, (uint64_t)st->st_ino))
        return;
    struct tfile *c = open_file(lt, f->pat, path, st);
    if (!c)
        return;
    char *src = strdup(f->path);
    if (src) {
        free(c->path);
        c->path = src;
    }
    c->off = c->committed = c->msg_end = from;
    c->fp_len = 0;
    c->rotated = true;
    pw_log(PW_DEBUG, "logtail: %s: reading its copy %s from byte %lld", f->path, path,
           (long long)from);
    lt->st.recovered_bytes += (uint64_t)(st->st_size - from);
}

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Follows, oldest first, every copy of f newer than `after` (not `except`,
 * not compressed): generations of f never read. Returns the newest one's
 * mtime in ns (0 if none). */
static int64_t follow_newer_copies(struct logtail *lt, struct tfile *f,
                                   struct timespec after, const char *except)
{
    glob_t g;
    int64_t newest = 0;
    if (!copy_names(f, &g))
        return 0;
    for (;;) {
        const char *next = NULL;
        struct stat nst = {0};
        for (size_t i = 0; i < g.gl_pathc; i++) {
            struct stat st;
            if ((except && strcmp(g.gl_pathv[i], except) == 0) ||
                compressed_name(g.gl_pathv[i]) || stat(g.gl_pathv[i], &st) != 0 ||
                !S_ISREG(st.st_mode) || (uint64_t)st.st_ino == f->ino ||
                !ts_after(st.st_mtim, after))
                continue;
            if (!next || ts_after(nst.st_mtim, st.st_mtim)) {
                next = g.gl_pathv[i];
                nst = st;
            }
        }
        if (!next)
            break;
        follow_copy(lt, f, next, &nst, 0);
        after = nst.st_mtim;
        newest = ts_ns(nst.st_mtim);
    }
    globfree(&g);
    return newest;
}

/* f shrank under us (or starts otherwise): a copytruncate. What was not
 * shipped yet is in the copy: the copy is followed as a rotated file from
 * our committed offset (so a partial line or an open record is read again
 * whole there), and so is any newer copy (a second copytruncate before we
 * looked: a generation we never saw), whole; f starts again at 0. Every
 * copy is a file of its own, with its own position in the state file. */
static int truncated(struct logtail *lt, struct tfile *f, struct pw_err *err)
{
    lt->st.truncations++;
    int64_t copy_ns = 0;
    pw_log(PW_DEBUG, "logtail: %s (inode %llu) truncated below byte %lld (committed %lld)",
           f->path, (unsigned long long)f->ino, (long long)f->off, (long long)f->committed);
    struct stat cst;
    char *copy = find_copy(f, &cst);
    if (copy) {
        follow_copy(lt, f, copy, &cst, f->committed);
        copy_ns = follow_newer_copies(lt, f, cst.st_mtim, copy);
        if (copy_ns < ts_ns(cst.st_mtim))
            copy_ns = ts_ns(cst.st_mtim);
        free(copy);
        /* What we held of f beyond the commit is read again in the copy. */
        f->rlen = 0;
        f->skipping = false;
        f->rec_open = f->rec_cut = false;
        pw_buf_reset(&f->rec);
    } else {
        pw_log_limited(&lt->log, 60000, PW_WARN,
                       "logtail: %s was truncated at byte %lld and no copy of it "
                       "was found (none named %s?* that is as long and starts "
                       "with its first %zu bytes); lines written just before may "
                       "be missing", f->path, (long long)f->off, f->path, f->fp_len);
        if (flush_all(lt, f, err) < 0)
            return -1;
    }
    f->off = f->committed = f->msg_end = 0;
    f->fp_len = 0;
    f->fp_by_hash = false;
    f->tail_len = 0;
    /* The new generation starts now (less a margin for the coarse clock of
     * file times, but not before a copy already followed). */
    int64_t gen = pw_realtime_ns() - GEN_MARGIN_NS;
    if (copy_ns > gen)
        gen = copy_ns;
    f->gen_ns = gen;
    lt->dirty = true;
    return 0;
}

/* The file no longer starts with the bytes it started with (rewritten
 * past our offset after a truncation we did not see shrink). */
static bool fp_changed(struct tfile *f)
{
    if (f->fp_len == 0)
        return false;
    unsigned char buf[FP_MAX];
    ssize_t n = pread(f->fd, buf, f->fp_len, 0);
    if (n >= 0 && n < (ssize_t)f->fp_len)
        return true;
    return n >= 0 && (f->fp_by_hash ? fnv1a(buf, f->fp_len) != f->fp_hash
                                    : memcmp(buf, f->fp, f->fp_len) != 0);
}

/* ---- files ---------------------------------------------------------------- */

static void close_file(struct tfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    free(f->rbuf);
    free(f->prefix);
    pw_buf_release(&f->rec);
    free(f);
}

static struct tfile *find_file(struct logtail *lt, uint64_t dev, uint64_t ino)
{
    for (struct tfile *f = lt->files; f; f = f->next)
        if (f->dev == dev && f->ino == ino)
            return f;
    return NULL;
}

static struct saved_pos *find_saved(struct logtail *lt, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < lt->nsaved; i++)
        if (!lt->saved[i].used && lt->saved[i].pos.dev == dev &&
            lt->saved[i].pos.ino == ino)
            return &lt->saved[i];
    return NULL;
}

/* The first fp_len bytes of fd hash to what was saved. */
static bool fp_matches(int fd, const struct pw_logtail_pos *p, unsigned char *fp)
{
    ssize_t n = pread(fd, fp, p->fp_len, 0);
    return n == (ssize_t)p->fp_len && fnv1a(fp, p->fp_len) == p->fp_hash;
}

/* Opens path (already stat'ed) as a followed file. */
static struct tfile *open_file(struct logtail *lt, struct pattern *pat,
                               const char *path, const struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pw_log_limited(&lt->log, 60000, PW_WARN, "logtail: cannot open %s: %s", path,
                       strerror(errno));
        return NULL;
    }
    struct tfile *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        close(fd);
        return NULL;
    }
    f->fd = fd;
    f->pat = pat;
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    pw_buf_init(&f->rec);
    f->active_mono_ns = pw_mono_ns();
    struct saved_pos *sp = find_saved(lt, f->dev, f->ino);
    int64_t start = 0;
    if (sp)
        f->gen_ns = sp->pos.gen_ns;
    if (sp && sp->pos.offset <= st->st_size && fp_matches(fd, &sp->pos, f->fp)) {
        sp->used = true;
        start = sp->pos.offset;
        f->fp_len = sp->pos.fp_len;
    } else if (sp && sp->pos.fp_len > 0) {
        /* The same inode, shorter or starting otherwise: truncated (a
         * copytruncate) while nobody read it. The first housekeeping sees
         * it, looks for the copy by the remembered hash of the first bytes,
         * reads what was not shipped from there, then the file from 0. */
        sp->used = true;
        start = sp->pos.offset;
        f->fp_len = sp->pos.fp_len;
        f->fp_by_hash = true;
        f->fp_hash = sp->pos.fp_hash;
    } else if (lt->first_scan && !lt->had_state && !lt->cf->from_beginning) {
        start = st->st_size;
        ssize_t n = pread(fd, f->fp, FP_MAX, 0);
        f->fp_len = n > 0 ? (size_t)n : 0;
    }
    f->off = f->committed = f->msg_end = start;
    /* Appended: files are read in the order they were found, so a rotated
     * file comes before the ones that replaced it. */
    struct tfile **tail = &lt->files;
    while (*tail)
        tail = &(*tail)->next;
    *tail = f;
    lt->dirty = true;
    pw_log(PW_DEBUG, "logtail: following %s from byte %lld", path, (long long)start);
    return f;
}

static void scan(struct logtail *lt)
{
    for (struct tfile *f = lt->files; f; f = f->next)
        f->seen = false;
    for (size_t i = 0; i < lt->npats; i++) {
        glob_t g;
        if (glob(lt->pats[i].conf->path, 0, NULL, &g) != 0)
            continue;
        for (size_t j = 0; j < g.gl_pathc; j++) {
            struct stat st;
            if (stat(g.gl_pathv[j], &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            struct tfile *f = find_file(lt, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (!f)
                f = open_file(lt, &lt->pats[i], g.gl_pathv[j], &st);
            if (f)
                f->seen = true;
        }
        globfree(&g);
    }
    /* A followed file the globs no longer lead to was rotated (or deleted):
     * it is drained, then closed. */
    for (struct tfile *f = lt->files; f; f = f->next)
        if (!f->seen && !f->rotated) {
            f->rotated = true;
            f->active_mono_ns = pw_mono_ns();
            lt->st.rotations++;
        }
}

/* The pattern a remembered file was followed by, for its multiline rule:
 * the one whose glob matches the name it had. Not merely one watching its
 * directory: globs often share one (app.log and svc.log in /var/log/x),
 * and a plain file read with another's multiline_start has all its lines
 * joined into one record, cut at max_line_bytes, the rest skipped. */
static struct pattern *pattern_of_path(struct logtail *lt, const char *path,
                                       const char *dir)
{
    for (size_t k = 0; k < lt->npats; k++)
        if (fnmatch(lt->pats[k].conf->path, path, FNM_PATHNAME | FNM_PERIOD) == 0)
            return &lt->pats[k];
    /* The glob changed since (a new configuration): its directory's first. */
    for (size_t k = 0; k < lt->npats; k++)
        if (strcmp(lt->pats[k].dir, dir) == 0)
            return &lt->pats[k];
    return &lt->pats[0];
}

/* At start: remembered files the globs do not match (rotated while the
 * agent was down) are found by inode in their directory and drained. */
static void adopt_rotated(struct logtail *lt)
{
    for (size_t i = 0; i < lt->nsaved; i++) {
        struct saved_pos *sp = &lt->saved[i];
        if (sp->used || !sp->path[0])
            continue;
        char *dir = strdup(sp->path);
        if (!dir)
            continue;
        char *slash = strrchr(dir, '/');
        if (slash)
            *(slash == dir ? slash + 1 : slash) = '\0';
        else
            strcpy(dir, ".");
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_ino != (ino_t)sp->pos.ino)
                continue;
            char path[PATH_MAX];
            struct stat st;
            if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
                stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
                (uint64_t)st.st_dev != sp->pos.dev ||
                find_file(lt, sp->pos.dev, sp->pos.ino))
                continue;
            struct tfile *f = open_file(lt, pattern_of_path(lt, sp->path, dir), path, &st);
            if (f && sp->used) {
                free(f->path);
                f->path = strdup(sp->path);   /* the source it had */
                if (!f->path)
                    f->path = strdup("");
                f->rotated = true;
                pw_log(PW_INFO, "logtail: %s was rotated while the agent was down; "
                       "reading the rest of it from %s", sp->path, path);
            }
            break;
        }
        if (d)
            closedir(d);
        free(dir);
    }
}

/* ---- the state file -------------------------------------------------------- */

static void keep_saved(const struct pw_logtail_pos *p, void *arg)
{
    struct logtail *lt = arg;
    if (lt->nsaved == lt->saved_cap) {
        size_t nc = lt->saved_cap ? lt->saved_cap * 2 : 16;
        struct saved_pos *n = realloc(lt->saved, nc * sizeof *n);
        if (!n)
            return;
        lt->saved = n;
        lt->saved_cap = nc;
    }
    char *path = strdup(p->path);
    if (!path)
        return;
    lt->saved[lt->nsaved] = (struct saved_pos){.pos = *p, .path = path};
    lt->saved[lt->nsaved].pos.path = path;
    lt->nsaved++;
}

static int load_state(struct logtail *lt, struct pw_err *err)
{
    struct pw_buf b;
    pw_buf_init(&b);
    int rc = pw_buf_read_file(&b, lt->cf->state_file, 64u << 20, err);
    if (rc < 0) {
        pw_buf_release(&b);
        if (access(lt->cf->state_file, F_OK) != 0 && errno == ENOENT)
            return 0;   /* the first start */
        return -1;
    }
    rc = pw_logtail_state_parse(b.data ? b.data : "", b.len, keep_saved, lt, err);
    pw_buf_release(&b);
    lt->had_state = rc >= 0;
    if (rc < 0) {
        /* A damaged state file must not stop the agent: start afresh,
         * loudly. */
        pw_log(PW_ERROR, "logtail: state file %s ignored: %s", lt->cf->state_file,
               err->msg);
    }
    return 0;
}

static int save_state(struct logtail *lt, struct pw_err *err)
{
    struct pw_buf b;
    pw_buf_init(&b);
    pw_buf_puts(&b, STATE_MAGIC);
    for (struct tfile *f = lt->files; f; f = f->next) {
        struct pw_logtail_pos p = {
            .dev = f->dev, .ino = f->ino, .offset = f->committed,
            .fp_hash = f->fp_by_hash ? f->fp_hash : fnv1a(f->fp, f->fp_len),
            .fp_len = (uint32_t)f->fp_len, .gen_ns = f->gen_ns,
            .path = f->path,
        };
        pw_logtail_state_format(&b, &p);
    }
    char tmp[PATH_MAX];
    int rc = 0;
    if (b.oom)
        rc = pw_err_set(err, "logtail: out of memory");
    else if (snprintf(tmp, sizeof tmp, "%s.tmp", lt->cf->state_file) >= (int)sizeof tmp)
        rc = pw_err_set(err, "logtail: state_file path too long");
    if (rc == 0) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
        if (fd < 0) {
            rc = pw_err_set(err, "logtail: cannot write %s: %s", tmp, strerror(errno));
        } else {
            size_t done = 0;
            while (done < b.len) {
                ssize_t n = write(fd, b.data + done, b.len - done);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                done += (size_t)n;
            }
            if (done != b.len || fsync(fd) != 0)
                rc = pw_err_set(err, "logtail: cannot write %s: %s", tmp,
                                strerror(errno));
            close(fd);
            if (rc == 0 && rename(tmp, lt->cf->state_file) != 0)
                rc = pw_err_set(err, "logtail: cannot rename %s to %s: %s", tmp,
                                lt->cf->state_file, strerror(errno));
        }
    }
    pw_buf_release(&b);
    if (rc == 0) {
        lt->dirty = false;
        lt->last_state_mono_ns = pw_mono_ns();
    }
    return rc;
}

/* ---- the collector's operations -------------------------------------------- */

static bool has_glob(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("*?[", s[i]))
            return true;
    return false;
}

static int check_pattern(const struct lt_file_conf *fc, size_t i, const char *file,
                         pcre2_code **out, struct pw_err *err)
{
    const char *slash = strrchr(fc->path, '/');
    if (!slash || has_glob(fc->path, (size_t)(slash - fc->path)))
        return pw_err_set(err, "%s:%d: collectors.logtail.files[%zu].path: \"%s\" must "
                          "be absolute with wildcards only in its last component",
                          file, fc->line, i + 1, fc->path);
    if (!fc->multiline_start)
        return 0;
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)fc->multiline_start, PCRE2_ZERO_TERMINATED,
                                   0, &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return pw_err_set(err, "%s:%d: collectors.logtail.files[%zu].multiline_start: "
                          "%s at offset %zu", file, fc->line, i + 1, (char *)msg,
                          (size_t)at);
    }
    if (out) {
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* faster when it can */
        *out = re;
    } else {
        pcre2_code_free(re);
    }
    return 0;
}

static int logtail_check(const void *config, const char *file, struct pw_err *err)
{
    const struct logtail_config *cf = config;
    if (!cf->common.enabled)
        return 0;
    const struct lt_file_conf *fcs = cf->files.items;
    if (cf->files.len == 0)
        return pw_err_set(err, "%s: collectors.logtail.files: at least one file is "
                          "needed when the collector is enabled", file);
    for (size_t i = 0; i < cf->files.len; i++)
        if (check_pattern(&fcs[i], i, file, NULL, err) < 0)
            return -1;
    if (!cf->state_file || !cf->state_file[0])
        return pw_err_set(err, "%s: collectors.logtail.state_file: must not be empty",
                          file);
    return 0;
}

static void logtail_stop(struct pw_collector *c);

static int logtail_start(struct pw_collector *c, struct pw_err *err)
{
    const struct logtail_config *cf = c->config;
    if (logtail_check(cf, "config", err) < 0)
        return -1;
    struct logtail *lt = calloc(1, sizeof *lt);
    if (!lt)
        return pw_err_set(err, "logtail: out of memory");
    c->state = lt;
    lt->cf = cf;
    lt->ifd = -1;
    pw_buf_init(&lt->msg);
    lt->pats = calloc(cf->files.len, sizeof *lt->pats);
    if (!lt->pats)
        goto oom;
    lt->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (lt->ifd < 0) {
        pw_err_set(err, "logtail: inotify: %s", strerror(errno));
        goto fail;
    }
    const struct lt_file_conf *fcs = cf->files.items;
    for (size_t i = 0; i < cf->files.len; i++) {
        struct pattern *p = &lt->pats[i];
        lt->npats = i + 1;
        p->conf = &fcs[i];
        p->wd = -1;
        if (check_pattern(&fcs[i], i, "config", &p->re, err) < 0)
            goto fail;
        if (p->re && !(p->md = pcre2_match_data_create_from_pattern(p->re, NULL)))
            goto oom;
        const char *slash = strrchr(fcs[i].path, '/');
        p->dir = strndup(fcs[i].path, slash == fcs[i].path ? 1 : (size_t)(slash - fcs[i].path));
        if (!p->dir)
            goto oom;
        p->wd = inotify_add_watch(lt->ifd, p->dir,
                                  IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM |
                                      IN_DELETE | IN_ATTRIB | IN_CLOSE_WRITE);
        if (p->wd < 0)
            pw_log(PW_WARN, "logtail: cannot watch %s (%s); it is polled every "
                   "poll_interval", p->dir, strerror(errno));
    }
    if (load_state(lt, err) < 0)
        goto fail;
    lt->first_scan = true;
    scan(lt);
    adopt_rotated(lt);
    lt->first_scan = false;
    for (size_t i = 0; i < lt->nsaved; i++)
        free(lt->saved[i].path);
    free(lt->saved);
    lt->saved = NULL;
    lt->nsaved = lt->saved_cap = 0;
    lt->more = true;
    lt->next_poll_mono_ns = pw_mono_ns() + cf->poll_interval_ms * 1000000;
    return 0;
oom:
    pw_err_set(err, "logtail: out of memory");
fail:
    logtail_stop(c);
    return -1;
}

/* A rename seen in the events: from a followed name (or from a name that
 * was itself renamed from one) to another. */
struct moved {
    uint32_t cookie;
    int wd;
    struct pattern *pat;         /* the glob of the followed name */
    char origin[NAME_MAX + 1];   /* the followed name it had */
    char to[NAME_MAX + 1];       /* "" until the IN_MOVED_TO */
};
#define MAX_MOVED 64

static struct pattern *pattern_of_wd(struct logtail *lt, int wd)
{
    for (size_t i = 0; i < lt->npats; i++)
        if (lt->pats[i].wd == wd)
            return &lt->pats[i];
    return NULL;
}

static bool followed_name(const struct pattern *p, const char *name)
{
    const char *slash = strrchr(p->conf->path, '/');
    return fnmatch(slash ? slash + 1 : p->conf->path, name, FNM_PERIOD) == 0;
}

/* The glob watching wd that matches name, or NULL. Globs in one directory
 * share its watch (inotify gives one descriptor per directory). */
static struct pattern *pattern_of_name(struct logtail *lt, int wd, const char *name)
{
    for (size_t i = 0; i < lt->npats; i++)
        if (lt->pats[i].wd == wd && followed_name(&lt->pats[i], name))
            return &lt->pats[i];
    return NULL;
}

/* Notes a rename event; moves[] chains a name renamed twice. */
static void note_move(struct logtail *lt, const struct inotify_event *ev,
                      struct moved *moves, size_t *nmoves)
{
    if (!pattern_of_wd(lt, ev->wd) || !ev->len)
        return;
    if (ev->mask & IN_MOVED_FROM) {
        struct pattern *p = pattern_of_name(lt, ev->wd, ev->name);
        const char *origin = p ? ev->name : NULL;
        for (size_t i = 0; i < *nmoves && !origin; i++)
            if (moves[i].wd == ev->wd && strcmp(moves[i].to, ev->name) == 0) {
                origin = moves[i].origin;
                p = moves[i].pat;
                moves[i].to[0] = '\0';   /* it moved on */
            }
        if (!origin || *nmoves == MAX_MOVED)
            return;
        struct moved *m = &moves[(*nmoves)++];
        m->cookie = ev->cookie;
        m->wd = ev->wd;
        m->pat = p;
        snprintf(m->origin, sizeof m->origin, "%s", origin);
        m->to[0] = '\0';
    } else {
        for (size_t i = 0; i < *nmoves; i++)
            if (moves[i].cookie == ev->cookie && moves[i].wd == ev->wd && !moves[i].to[0])
                snprintf(moves[i].to, sizeof moves[i].to, "%s", ev->name);
    }
}

/* A file renamed away from a followed name before we ever opened it (a
 * writer that rotates faster than the agent looks): read it whole, as a
 * rotated file, under the name it had. */
static void adopt_moved(struct logtail *lt, const struct moved *moves, size_t nmoves)
{
    for (size_t i = 0; i < nmoves; i++) {
        const struct moved *m = &moves[i];
        if (!m->to[0] || pattern_of_name(lt, m->wd, m->to))
            continue;   /* gone on, or still followed by a glob */
        char path[PATH_MAX], origin[PATH_MAX];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", m->pat->dir, m->to) >= (int)sizeof path ||
            snprintf(origin, sizeof origin, "%s/%s", m->pat->dir, m->origin) >=
                (int)sizeof origin ||
            stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
            find_file(lt, (uint64_t)st.st_dev, (uint64_t)st.st_ino))
            continue;
        struct tfile *f = open_file(lt, m->pat, path, &st);
        if (!f)
            continue;
        char *o = strdup(origin);
        if (o) {
            free(f->path);
            f->path = o;
        }
        f->rotated = true;
        lt->st.rotations++;
        pw_log(PW_DEBUG, "logtail: %s was renamed to %s before it was read; reading it",
               origin, path);
    }
}

/* Reads the inotify events: 1 if one calls for a rescan. */
static bool drain_inotify(struct logtail *lt)
{
    bool rescan = false;
    struct moved moves[MAX_MOVED];
    size_t nmoves = 0;
    _Alignas(struct inotify_event) char buf[16384];
    for (;;) {
        ssize_t n = read(lt->ifd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            if (ev->mask & ~(uint32_t)(IN_MODIFY | IN_CLOSE_WRITE))
                rescan = true;
            if (ev->mask & (IN_MOVED_FROM | IN_MOVED_TO))
                note_move(lt, ev, moves, &nmoves);
            p += sizeof *ev + ev->len;
        }
    }
    adopt_moved(lt, moves, nmoves);
    return rescan;
}

/* Idle multiline records, drained rotated files, truncations. */
static int housekeep(struct logtail *lt, struct pw_err *err)
{
    int64_t now = pw_mono_ns();
    for (struct tfile **pp = &lt->files; *pp;) {
        struct tfile *f = *pp;
        if (f->rec_open && !f->skipping &&
            now - f->rec_mono_ns >= lt->cf->multiline_timeout_ms * 1000000 &&
            (finish_record(lt, f, err) < 0 || emit(lt, f, err) < 0)) {
            rewind_file(f);
            return -1;
        }
        if (f->rotated) {
            struct stat st;
            bool gone = fstat(f->fd, &st) == 0 && st.st_size <= f->off &&
                        now - f->active_mono_ns >= lt->cf->rotate_wait_ms * 1000000;
            if (gone) {
                if (flush_all(lt, f, err) < 0) {
                    rewind_file(f);
                    return -1;
                }
                *pp = f->next;
                close_file(f);
                lt->dirty = true;
                continue;
            }
        } else {
            struct stat st;
            if (f->gen_ns > 0 && f->off == 0) {
                /* Nothing read since the last truncation: if it was copied
                 * and truncated again meanwhile, that generation is only in
                 * a copy newer than the truncation we handled. */
                struct timespec after = {f->gen_ns / 1000000000, f->gen_ns % 1000000000};
                int64_t newest = follow_newer_copies(lt, f, after, NULL);
                if (newest > f->gen_ns) {
                    f->gen_ns = newest;
                    lt->dirty = true;
                }
            }
            if (fstat(f->fd, &st) == 0 &&
                (st.st_size < f->off || fp_changed(f)) &&
                truncated(lt, f, err) < 0) {
                rewind_file(f);
                return -1;
            }
        }
        /* A quiet file gives its read buffer back (max_line_bytes + 256 KiB):
         * an agent following many files holds buffers for the busy ones. */
        if (f->rlen == 0 && f->rbuf && now - f->active_mono_ns > IDLE_FREE_NS) {
            free(f->rbuf);
            f->rbuf = NULL;
            f->rcap = 0;
        }
        pp = &f->next;
    }
    return 0;
}

static int logtail_collect_logs(struct pw_collector *c, const struct pw_log_out *out,
                                struct pw_err *err)
{
    struct logtail *lt = c->state;
    lt->out = out;
    lt->entity = lt->cf->entity && lt->cf->entity[0] ? lt->cf->entity : out->entity;
    lt->now_ns = pw_realtime_ns();
    lt->ts_len = (size_t)snprintf(lt->ts_text, sizeof lt->ts_text, "%" PRId64, lt->now_ns);
    lt->shipped = true;
    lt->held = false;
    int64_t now = lt->chunk_mono_ns = pw_mono_ns();
    bool tick = now >= lt->next_poll_mono_ns;
    if (drain_inotify(lt) || tick)
        scan(lt);
    if (tick)
        lt->next_poll_mono_ns = now + lt->cf->poll_interval_ms * 1000000;
    int rc = housekeep(lt, err);
    size_t budget = READ_BUDGET;
    lt->more = false;
    /* Rotated files first: their lines came before the new files' ones. */
    for (int pass = 0; pass < 2; pass++)
    for (struct tfile *f = lt->files; f && rc == 0; f = f->next) {
        if (f->rotated != (pass == 0))
            continue;
        int r = read_file(lt, f, &budget, err);
        if (r == 0 || r == 1)
            r = emit(lt, f, err);
        if (r < 0) {
            rewind_file(f);
            rc = -1;
        } else if (budget == 0) {
            lt->more = true;
        }
    }
    if (rc < 0)
        lt->more = false;
    if (lt->held)
        rc = 0;   /* not an error: the agent calls again when it can take more */
    if (lt->dirty &&
        pw_mono_ns() - lt->last_state_mono_ns >= lt->cf->state_interval_ms * 1000000) {
        struct pw_err e2;
        if (save_state(lt, &e2) < 0) {
            pw_log_limited(&lt->log, 60000, PW_ERROR, "%s", e2.msg);
        }
    }
    return rc;
}

static int logtail_fd(struct pw_collector *c)
{
    struct logtail *lt = c->state;
    return lt ? lt->ifd : -1;
}

static int64_t logtail_wait_ms(struct pw_collector *c)
{
    struct logtail *lt = c->state;
    if (lt->more)
        return 0;
    int64_t now = pw_mono_ns();
    int64_t wait = lt->next_poll_mono_ns - now;
    for (struct tfile *f = lt->files; f; f = f->next)
        if (f->rec_open) {
            int64_t w = f->rec_mono_ns + lt->cf->multiline_timeout_ms * 1000000 - now;
            if (w < wait)
                wait = w;
        }
    if (lt->dirty) {
        int64_t w = lt->last_state_mono_ns + lt->cf->state_interval_ms * 1000000 - now;
        if (w < wait)
            wait = w;
    }
    return wait <= 0 ? 0 : (wait + 999999) / 1000000;
}

/* The collector's own numbers, on the regular tick. */
static int logtail_collect(struct pw_collector *c, int64_t ts_ns,
                           struct pw_lp_writer *w, struct pw_err *err)
{
    (void)err;
    struct logtail *lt = c->state;
    uint64_t files = 0, rotated = 0;
    for (struct tfile *f = lt->files; f; f = f->next) {
        files++;
        rotated += f->rotated;
    }
    pw_lp_begin(w, "logtail");
    pw_lp_field_int(w, "files", (int64_t)files);
    pw_lp_field_int(w, "rotated_files", (int64_t)rotated);
    pw_lp_field_int(w, "records", (int64_t)lt->st.records);
    pw_lp_field_int(w, "bytes", (int64_t)lt->st.bytes);
    pw_lp_field_int(w, "lines_cut", (int64_t)lt->st.lines_cut);
    pw_lp_field_int(w, "rotations", (int64_t)lt->st.rotations);
    pw_lp_field_int(w, "truncations", (int64_t)lt->st.truncations);
    pw_lp_field_int(w, "recovered_bytes", (int64_t)lt->st.recovered_bytes);
    pw_lp_field_int(w, "emit_errors", (int64_t)lt->st.emit_errors);
    pw_lp_field_int(w, "read_errors", (int64_t)lt->st.read_errors);
    pw_lp_field_int(w, "held_back", (int64_t)lt->st.held_back);
    pw_lp_end(w, ts_ns);
    return 0;
}

static void logtail_stop(struct pw_collector *c)
{
    struct logtail *lt = c->state;
    if (!lt)
        return;
    /* Only a collector that has shipped owns the state (not --once). */
    if (lt->shipped && lt->dirty) {
        struct pw_err err;
        if (save_state(lt, &err) < 0)
            pw_log(PW_ERROR, "%s", err.msg);
    }
    while (lt->files) {
        struct tfile *f = lt->files;
        lt->files = f->next;
        close_file(f);
    }
    for (size_t i = 0; i < lt->npats; i++) {
        pcre2_match_data_free(lt->pats[i].md);
        pcre2_code_free(lt->pats[i].re);
        free(lt->pats[i].dir);
    }
    free(lt->pats);
    for (size_t i = 0; i < lt->nsaved; i++)
        free(lt->saved[i].path);
    free(lt->saved);
    if (lt->ifd >= 0)
        close(lt->ifd);
    pw_buf_release(&lt->msg);
    free(lt);
    c->state = NULL;
}

static void logtail_checkpoint(struct pw_collector *c)
{
    struct logtail *lt = c->state;
    struct pw_err err;
    if (lt && lt->shipped && lt->dirty && save_state(lt, &err) < 0)
        pw_log(PW_ERROR, "%s", err.msg);
}

const struct pw_collector_ops pw_logtail_collector = {
    .name = "logtail",
    .options = logtail_options,
    .config_size = sizeof(struct logtail_config),
    .start = logtail_start,
    .collect = logtail_collect,
    .stop = logtail_stop,
    .check = logtail_check,
    .logs_fd = logtail_fd,
    .logs_wait_ms = logtail_wait_ms,
    .collect_logs = logtail_collect_logs,
    .checkpoint = logtail_checkpoint,
};
