/* analyzer/ingest.c — a consumed Kafka message in, samples or a log record
 * out (the contract is analyzer/ingest.h).
 *
 * Why it is built this way.
 *
 * Whole or nothing. Every message is parsed and turned into "staged"
 * samples first; only when the whole message is good are they handed to
 * the callback. A staged sample holds its strings as references that are
 * either pointers into storage that lives for the whole call (the caller's
 * key, the line protocol batch, the jansson tree) or offsets into one text
 * buffer (series keys, collectd's type_dsname fields), since that buffer
 * may move while it grows; the offsets become pointers at hand-out time.
 *
 * No allocation per message in steady state: the line protocol batch, the
 * text buffer, the staged samples and the tag-sorting scratch all belong to
 * the pw_ingest and are reset, never freed, between messages. The JSON
 * formats go through jansson, whose tree is allocated per message by
 * jansson itself (its allocator hooks are process-wide, and we keep no
 * global state); our own buffers are still reused.
 *
 * Series keys. "measurement,k1=v1 field" with tags sorted by key (bytewise)
 * and escaped by the line protocol writer's own escaping
 * (pw_lp_escape_name), so that a series named by Telegraf JSON, collectd or
 * our agent's line protocol comes out as the same bytes. Tags with an empty
 * key or value are left out, as line protocol cannot carry them. The
 * "measurement,tags" prefix is built once per point and copied for each
 * field. Most producers already sort their tags (Telegraf and our writer
 * do), so sorting is skipped when the tags are in order.
 *
 * Numbers in JSON. jansson refuses an integer above INT64_MAX, which a
 * collectd counter or absolute value (uint64) or a Telegraf unsigned field
 * can be; such a message is parsed again with every number read as a
 * double, which is what a sample holds anyway. */
#include "analyzer/ingest.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

/* A bound on what one message may be, whatever the format: Kafka's own
 * default limit is 1 MB, so this is far beyond any real message and keeps
 * counts within int. */
#define MAX_MESSAGE_BYTES (16u * 1024 * 1024)
/* Each sample's series key repeats its point's measurement and tags, so a
 * line with a long prefix and many fields could make far more series text
 * than message bytes; this bounds the amplification. */
#define SERIES_TEXT_FACTOR 16
#define SERIES_TEXT_SLACK (64u * 1024)
#define MAX_LOG_BYTES (1u * 1024 * 1024)
#define INT64_NS_MAX_SECONDS 9223372036.0

/* A string of the message being staged: ptr != NULL, or off into in->text. */
struct ref {
    const char *ptr;
    size_t off, len;
};

struct staged {
    struct ref entity, measurement, field, series;
    double value;
    int64_t ts_ns;
};

struct staged_log {
    json_t *root;
    struct pw_log_record rec;
};

struct pw_ingest {
    enum pw_ingest_format format;
    char *entity_tag;
    size_t entity_tag_len;
    struct pw_ingest_stats stats;

    struct pw_lp_batch *batch;
    struct pw_buf text;
    size_t text_limit;      /* for the message being staged */
    bool over_limit;
    /* Skipped values of the message being staged: they reach the stats
     * only if the message is taken. */
    uint64_t pend_strings, pend_nonfinite;
    struct staged *staged;
    size_t nstaged, staged_cap;
    /* Tags of the point being staged (JSON formats fill tags_in) and the
     * sorted order. */
    struct pw_lp_tag *tags_in;
    size_t tags_in_cap;
    const struct pw_lp_tag **sorted;
    size_t sorted_cap;

    /* The log records of the message being staged (their strings point
     * into the jansson trees, released after the hand-out). */
    struct staged_log *logs;
    size_t nlogs, logs_cap;
};

/* ---- small helpers ------------------------------------------------------ */

static bool grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return false;
        n *= 2;
    }
    void *p = realloc(*(void **)pp, n * elem);
    if (!p)
        return false;
    *(void **)pp = p;
    *cap = n;
    return true;
}

static struct ref ref_ptr(const char *p, size_t n)
{
    return (struct ref){.ptr = p ? p : "", .len = n};
}

static struct pw_str resolve(const struct pw_ingest *in, struct ref r)
{
    return (struct pw_str){r.ptr ? r.ptr : in->text.data + r.off, r.len};
}

static bool str_eq(struct pw_str s, const char *p, size_t n)
{
    return s.len == n && (n == 0 || memcmp(s.ptr, p, n) == 0);
}

static int cmp_str(struct pw_str a, struct pw_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

static int cmp_tag(const void *a, const void *b)
{
    const struct pw_lp_tag *x = *(const struct pw_lp_tag *const *)a;
    const struct pw_lp_tag *y = *(const struct pw_lp_tag *const *)b;
    int c = cmp_str(x->key, y->key);
    if (c)
        return c;
    /* Equal keys (line protocol does not forbid them): keep message order
     * so that the key is stable. */
    return x < y ? -1 : x > y;
}

/* ---- public: setup ------------------------------------------------------ */

int pw_ingest_format_parse(const char *text, enum pw_ingest_format *out)
{
    static const struct {
        const char *name;
        enum pw_ingest_format f;
    } names[] = {
        {"auto", PW_INGEST_AUTO},
        {"influx", PW_INGEST_LINEPROTO},
        {"collectd", PW_INGEST_COLLECTD_JSON},
        {"telegraf", PW_INGEST_TELEGRAF_JSON},
    };
    if (!text || !out)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    }
    return -1;
}

struct pw_ingest *pw_ingest_new(enum pw_ingest_format format,
                                const char *entity_tag, struct pw_err *err)
{
    if (format < PW_INGEST_AUTO || format > PW_INGEST_TELEGRAF_JSON) {
        pw_err_set(err, "ingest: unknown format %d", (int)format);
        return NULL;
    }
    if (!entity_tag)
        entity_tag = "host";
    if (!*entity_tag) {
        pw_err_set(err, "ingest: the entity tag is empty");
        return NULL;
    }
    struct pw_ingest *in = calloc(1, sizeof *in);
    if (!in) {
        pw_err_set(err, "ingest: out of memory");
        return NULL;
    }
    in->format = format;
    in->entity_tag = strdup(entity_tag);
    in->entity_tag_len = strlen(entity_tag);
    in->batch = pw_lp_batch_new();
    pw_buf_init(&in->text);
    if (!in->entity_tag || !in->batch) {
        pw_ingest_free(in);
        pw_err_set(err, "ingest: out of memory");
        return NULL;
    }
    return in;
}

void pw_ingest_free(struct pw_ingest *in)
{
    if (!in)
        return;
    free(in->entity_tag);
    pw_lp_batch_free(in->batch);
    pw_buf_release(&in->text);
    free(in->staged);
    free(in->tags_in);
    free(in->sorted);
    free(in->logs);
    free(in);
}

const struct pw_ingest_stats *pw_ingest_stats(const struct pw_ingest *in)
{
    return &in->stats;
}

/* ---- staging ------------------------------------------------------------ */

/* What one point contributes to every one of its samples. */
struct point_ctx {
    struct ref entity;
    struct ref measurement;
    size_t prefix_off, prefix_len;  /* "measurement,k=v..." in in->text */
    int64_t ts_ns;
};

/* Writes the series prefix of a point and picks its entity. 0 or -1 (out
 * of memory). */
static int begin_point(struct pw_ingest *in, struct pw_str key,
                       struct pw_str measurement, const struct pw_lp_tag *tags,
                       size_t ntags, int64_t ts_ns, struct point_ctx *pc)
{
    pc->measurement = ref_ptr(measurement.ptr, measurement.len);
    pc->ts_ns = ts_ns;
    pc->entity = ref_ptr("unknown", 7);
    if (key.len > 0) {
        pc->entity = ref_ptr(key.ptr, key.len);
    } else {
        for (size_t i = 0; i < ntags; i++) {
            if (tags[i].value.len > 0 &&
                str_eq(tags[i].key, in->entity_tag, in->entity_tag_len)) {
                pc->entity = ref_ptr(tags[i].value.ptr, tags[i].value.len);
                break;
            }
        }
    }

    if (!grow(&in->sorted, &in->sorted_cap, ntags + 1, sizeof *in->sorted))
        return -1;
    bool in_order = true;
    for (size_t i = 0; i < ntags; i++) {
        in->sorted[i] = &tags[i];
        if (i > 0 && cmp_str(tags[i - 1].key, tags[i].key) > 0)
            in_order = false;
    }
    if (!in_order)
        qsort(in->sorted, ntags, sizeof *in->sorted, cmp_tag);

    pc->prefix_off = in->text.len;
    pw_lp_escape_name(&in->text, measurement.ptr, measurement.len, true);
    for (size_t i = 0; i < ntags; i++) {
        const struct pw_lp_tag *t = in->sorted[i];
        if (t->key.len == 0 || t->value.len == 0)
            continue;
        pw_buf_putc(&in->text, ',');
        pw_lp_escape_name(&in->text, t->key.ptr, t->key.len, false);
        pw_buf_putc(&in->text, '=');
        pw_lp_escape_name(&in->text, t->value.ptr, t->value.len, false);
    }
    pc->prefix_len = in->text.len - pc->prefix_off;
    if (in->text.len > in->text_limit)
        in->over_limit = true;
    return in->text.oom || in->over_limit ? -1 : 0;
}

/* Stages one sample of the point: "prefix field" is its series. A
 * non-finite value is counted and dropped. 0 or -1 (out of memory or
 * over the series text limit: see stage_error). */
static int stage(struct pw_ingest *in, const struct point_ctx *pc,
                 struct ref field, double value)
{
    if (!isfinite(value)) {
        in->pend_nonfinite++;
        return 0;
    }
    if (!grow(&in->staged, &in->staged_cap, in->nstaged + 1,
              sizeof *in->staged))
        return -1;
    struct pw_str f = resolve(in, field);
    /* The prefix is copied from earlier in the same buffer: reserve first,
     * since reserving may move it. */
    if (f.len > (SIZE_MAX - pc->prefix_len - 1) / 2 ||
        !pw_buf_reserve(&in->text, pc->prefix_len + 1 + 2 * f.len))
        return -1;
    f = resolve(in, field);
    size_t off = in->text.len;
    memcpy(in->text.data + off, in->text.data + pc->prefix_off, pc->prefix_len);
    in->text.len += pc->prefix_len;
    in->text.data[in->text.len++] = ' ';
    pw_lp_escape_name(&in->text, f.ptr, f.len, false);
    if (in->text.len > in->text_limit)
        in->over_limit = true;
    if (in->text.oom || in->over_limit)
        return -1;
    struct staged *s = &in->staged[in->nstaged++];
    s->entity = pc->entity;
    s->measurement = pc->measurement;
    s->field = field;
    s->series = (struct ref){.off = off, .len = in->text.len - off};
    s->value = value;
    s->ts_ns = pc->ts_ns;
    return 0;
}

static void reset_staging(struct pw_ingest *in, size_t message_len)
{
    pw_buf_reset(&in->text);
    in->text.oom = false;
    in->over_limit = false;
    in->pend_strings = in->pend_nonfinite = 0;
    in->text_limit = SERIES_TEXT_FACTOR * message_len + SERIES_TEXT_SLACK;
    in->nstaged = 0;
}

/* Why staging failed: out of memory or too much series text. */
static int stage_error(const struct pw_ingest *in, struct pw_err *err)
{
    if (in->over_limit)
        return pw_err_set(err, "the series keys of this message would take "
                          "more than %d times its size (long measurement and "
                          "tags repeated over many fields)", SERIES_TEXT_FACTOR);
    return pw_err_set(err, "out of memory");
}

static int hand_out(struct pw_ingest *in, pw_sample_fn fn, void *arg)
{
    for (size_t i = 0; i < in->nstaged; i++) {
        const struct staged *st = &in->staged[i];
        struct pw_sample s = {
            .entity = resolve(in, st->entity),
            .measurement = resolve(in, st->measurement),
            .field = resolve(in, st->field),
            .series = resolve(in, st->series),
            .value = st->value,
            .ts_ns = st->ts_ns,
        };
        if (fn)
            fn(&s, arg);
    }
    in->stats.samples += in->nstaged;
    in->stats.skipped_strings += in->pend_strings;
    in->stats.skipped_nonfinite += in->pend_nonfinite;
    return (int)in->nstaged;
}

/* ---- line protocol ------------------------------------------------------ */

static int stage_lineproto(struct pw_ingest *in, struct pw_str key,
                           const char *buf, size_t len, int64_t default_ts_ns,
                           struct pw_err *err)
{
    pw_lp_batch_reset(in->batch);
    if (pw_lp_parse(buf, len, default_ts_ns, in->batch, err) < 0)
        return -1;
    size_t n = pw_lp_batch_len(in->batch);
    for (size_t i = 0; i < n; i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(in->batch, i);
        struct point_ctx pc;
        if (begin_point(in, key, p->measurement, p->tags, p->ntags, p->ts_ns,
                        &pc) < 0)
            return stage_error(in, err);
        for (size_t j = 0; j < p->nfields; j++) {
            const struct pw_lp_field *f = &p->fields[j];
            double v;
            switch (f->type) {
            case PW_FIELD_FLOAT: v = f->v.f; break;
            case PW_FIELD_INT: v = (double)f->v.i; break;
            case PW_FIELD_UINT: v = (double)f->v.u; break;
            case PW_FIELD_BOOL: v = f->v.b ? 1.0 : 0.0; break;
            case PW_FIELD_STRING:
            default:
                in->pend_strings++;
                continue;
            }
            if (stage(in, &pc, ref_ptr(f->key.ptr, f->key.len), v) < 0)
                return stage_error(in, err);
        }
    }
    return 0;
}

/* ---- JSON common -------------------------------------------------------- */

/* json_loadb, once more with every number a double if an integer is
 * beyond int64 (see the top of the file). */
static json_t *loadb_wide(const char *buf, size_t len, json_error_t *je)
{
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, je);
    if (!root && json_error_code(je) == json_error_numeric_overflow)
        root = json_loadb(buf, len, JSON_REJECT_DUPLICATES |
                          JSON_DECODE_INT_AS_REAL, je);
    return root;
}

static json_t *load_json(const char *buf, size_t len, const char *what,
                         struct pw_err *err)
{
    json_error_t je;
    json_t *root = loadb_wide(buf, len, &je);
    if (!root)
        pw_err_set(err, "%s: line %d, column %d: %s", what, je.line,
                   je.column, je.text);
    return root;
}

/* A JSON number as a double; false if v is not a number. */
static bool json_num(const json_t *v, double *out)
{
    if (json_is_integer(v)) {
        *out = (double)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        *out = json_real_value(v);
        return true;
    }
    return false;
}

static struct pw_str json_str(const json_t *v)
{
    return (struct pw_str){json_string_value(v), json_string_length(v)};
}

/* Seconds (a double) to nanoseconds, refusing what int64 cannot hold.
 * The fraction is rounded to the microsecond: for today's dates a double
 * holds seconds to about 0.24 us, so finer digits are noise (collectd's
 * "%.3f" 1530138718.239 is 1530138718.2390000820 as a double). */
static bool seconds_to_ns(double s, int64_t *out)
{
    if (!(fabs(s) < INT64_NS_MAX_SECONDS))
        return false;
    double whole = floor(s);
    *out = (int64_t)whole * 1000000000 + llround((s - whole) * 1e6) * 1000;
    return true;
}

/* A Telegraf timestamp: json_timestamp_units shows in its magnitude. */
static bool telegraf_ts(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t t = json_integer_value(v);
        json_int_t a = t < 0 ? -t : t;
        if (t == INT64_MIN)
            return false;
        if (a < 100000000000LL)           /* < 1e11: seconds */
            return seconds_to_ns((double)t, out);
        if (a < 100000000000000LL)        /* < 1e14: milliseconds */
            return !__builtin_mul_overflow((int64_t)t, 1000000, out);
        if (a < 100000000000000000LL)     /* < 1e17: microseconds */
            return !__builtin_mul_overflow((int64_t)t, 1000, out);
        *out = (int64_t)t;                /* nanoseconds */
        return true;
    }
    double t;
    if (!json_num(v, &t))
        return false;
    double a = fabs(t);
    if (a < 1e11)
        return seconds_to_ns(t, out);
    double ns = a < 1e14 ? t * 1e6 : a < 1e17 ? t * 1e3 : t;
    if (!(fabs(ns) < 9.2e18))
        return false;
    *out = llround(ns);
    return true;
}

static struct pw_lp_tag *tags_room(struct pw_ingest *in, size_t n)
{
    if (!grow(&in->tags_in, &in->tags_in_cap, n + 1, sizeof *in->tags_in))
        return NULL;
    return in->tags_in;
}

/* ---- collectd ----------------------------------------------------------- */

/* A string member of a value list; absent or null = "". */
static int vl_string(const json_t *item, const char *name, struct pw_str *out,
                     size_t idx, struct pw_err *err)
{
    const json_t *v = json_object_get(item, name);
    if (!v || json_is_null(v)) {
        *out = (struct pw_str){"", 0};
        return 0;
    }
    if (!json_is_string(v))
        return pw_err_set(err, "collectd JSON: item %zu: \"%s\" is not a string",
                          idx, name);
    *out = json_str(v);
    return 0;
}

/* One collectd value; *skip when the value is null (a non-finite gauge or
 * rate, which collectd writes as null). */
static int collectd_value(const json_t *v, struct pw_str dstype, double *out,
                          bool *skip, size_t idx, size_t k, struct pw_err *err)
{
    static const char *const types[] = {"gauge", "counter", "derive",
                                        "absolute"};
    bool known = false;
    for (size_t i = 0; i < 4; i++)
        known = known || str_eq(dstype, types[i], strlen(types[i]));
    if (!known)
        return pw_err_set(err, "collectd JSON: item %zu: dstypes[%zu]: \"%.*s\" "
                          "is not gauge, counter, derive or absolute", idx, k,
                          (int)(dstype.len > 32 ? 32 : dstype.len), dstype.ptr);
    *skip = false;
    if (json_is_null(v)) {
        *skip = true;
        return 0;
    }
    if (!json_num(v, out))
        return pw_err_set(err, "collectd JSON: item %zu: values[%zu] is not a "
                          "number", idx, k);
    /* Counters and absolutes are unsigned in collectd; a negative one is
     * not something collectd writes. Rates (StoreRates) may be any real. */
    bool is_unsigned = str_eq(dstype, "counter", 7) ||
                       str_eq(dstype, "absolute", 8);
    if (is_unsigned && *out < 0)
        return pw_err_set(err, "collectd JSON: item %zu: values[%zu]: a %.*s "
                          "cannot be negative", idx, k, (int)dstype.len,
                          dstype.ptr);
    return 0;
}

static int stage_collectd_item(struct pw_ingest *in, struct pw_str key,
                               const json_t *item, size_t idx,
                               int64_t default_ts_ns, struct pw_err *err)
{
    if (!json_is_object(item))
        return pw_err_set(err, "collectd JSON: item %zu: not an object", idx);
    const json_t *values = json_object_get(item, "values");
    const json_t *dstypes = json_object_get(item, "dstypes");
    const json_t *dsnames = json_object_get(item, "dsnames");
    if (!json_is_array(values) || !json_is_array(dstypes) ||
        !json_is_array(dsnames))
        return pw_err_set(err, "collectd JSON: item %zu: \"values\", \"dstypes\" "
                          "and \"dsnames\" must be arrays", idx);
    size_t n = json_array_size(values);
    if (n == 0 || json_array_size(dstypes) != n || json_array_size(dsnames) != n)
        return pw_err_set(err, "collectd JSON: item %zu: \"values\", \"dstypes\" "
                          "and \"dsnames\" must be as long as each other and "
                          "not empty", idx);
    struct pw_str host, plugin, plugin_instance, type, type_instance;
    if (vl_string(item, "host", &host, idx, err) < 0 ||
        vl_string(item, "plugin", &plugin, idx, err) < 0 ||
        vl_string(item, "plugin_instance", &plugin_instance, idx, err) < 0 ||
        vl_string(item, "type", &type, idx, err) < 0 ||
        vl_string(item, "type_instance", &type_instance, idx, err) < 0)
        return -1;
    if (plugin.len == 0 || type.len == 0)
        return pw_err_set(err, "collectd JSON: item %zu: \"plugin\" and \"type\" "
                          "must be non-empty strings", idx);
    int64_t ts = default_ts_ns;
    const json_t *time = json_object_get(item, "time");
    if (time) {
        double t;
        if (!json_num(time, &t) || !seconds_to_ns(t, &ts))
            return pw_err_set(err, "collectd JSON: item %zu: \"time\" is not "
                              "seconds since the epoch", idx);
    }

    /* Sorted already: host < plugin_instance < type_instance. */
    struct pw_lp_tag *tags = tags_room(in, 3);
    if (!tags)
        return stage_error(in, err);
    size_t ntags = 0;
    tags[ntags++] = (struct pw_lp_tag){{"host", 4}, host};
    if (plugin_instance.len)
        tags[ntags++] = (struct pw_lp_tag){{"plugin_instance", 15}, plugin_instance};
    if (type_instance.len)
        tags[ntags++] = (struct pw_lp_tag){{"type_instance", 13}, type_instance};
    struct point_ctx pc;
    if (begin_point(in, key, plugin, tags, ntags, ts, &pc) < 0)
        return stage_error(in, err);

    for (size_t k = 0; k < n; k++) {
        const json_t *dsname = json_array_get(dsnames, k);
        const json_t *dstype = json_array_get(dstypes, k);
        if (!json_is_string(dsname) || json_string_length(dsname) == 0 ||
            !json_is_string(dstype))
            return pw_err_set(err, "collectd JSON: item %zu: dsnames[%zu] and "
                              "dstypes[%zu] must be non-empty strings", idx, k, k);
        double v = 0;
        bool skip = false;
        if (collectd_value(json_array_get(values, k), json_str(dstype), &v,
                           &skip, idx, k, err) < 0)
            return -1;
        if (skip) {
            in->pend_nonfinite++;
            continue;
        }
        struct pw_str ds = json_str(dsname);
        struct ref field = ref_ptr(type.ptr, type.len);
        if (!str_eq(ds, "value", 5)) {
            /* type_dsname, kept in the text buffer for the message. */
            field = (struct ref){.off = in->text.len,
                                 .len = type.len + 1 + ds.len};
            pw_buf_append(&in->text, type.ptr, type.len);
            pw_buf_putc(&in->text, '_');
            pw_buf_append(&in->text, ds.ptr, ds.len);
            if (in->text.oom)
                return stage_error(in, err);
        }
        if (stage(in, &pc, field, v) < 0)
            return stage_error(in, err);
    }
    return 0;
}

static int stage_collectd(struct pw_ingest *in, struct pw_str key,
                          const json_t *root, int64_t default_ts_ns,
                          struct pw_err *err)
{
    if (!json_is_array(root))
        return pw_err_set(err, "collectd JSON: not an array of value lists");
    for (size_t i = 0; i < json_array_size(root); i++) {
        if (stage_collectd_item(in, key, json_array_get(root, i), i + 1,
                                default_ts_ns, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- Telegraf ----------------------------------------------------------- */

static int tg_err(struct pw_err *err, size_t idx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error about metric idx (0 = the message is one metric). */
static int tg_err(struct pw_err *err, size_t idx, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (idx)
        return pw_err_prefix(err, "Telegraf JSON: metric %zu", idx);
    return pw_err_prefix(err, "Telegraf JSON");
}

/* One metric; idx 0 = a single metric, else its place in the batch. */
static int stage_telegraf_metric(struct pw_ingest *in, struct pw_str key,
                                 const json_t *m, size_t idx,
                                 int64_t default_ts_ns, struct pw_err *err)
{
    if (!json_is_object(m))
        return tg_err(err, idx, "not an object");
    const json_t *name = json_object_get(m, "name");
    const json_t *tags = json_object_get(m, "tags");
    const json_t *fields = json_object_get(m, "fields");
    if (!json_is_string(name) || json_string_length(name) == 0)
        return tg_err(err, idx, "\"name\" must be a non-empty string");
    if (tags && !json_is_object(tags))
        return tg_err(err, idx, "\"tags\" must be an object");
    if (!json_is_object(fields))
        return tg_err(err, idx, "\"fields\" must be an object");
    int64_t ts = default_ts_ns;
    const json_t *t = json_object_get(m, "timestamp");
    if (t && !telegraf_ts(t, &ts))
        return tg_err(err, idx, "\"timestamp\" is not a number that fits "
                          "nanoseconds since the epoch (json_timestamp_format "
                          "is not supported)");

    size_t ntags = tags ? json_object_size(tags) : 0;
    struct pw_lp_tag *tv = tags_room(in, ntags);
    if (!tv)
        return stage_error(in, err);
    size_t i = 0;
    if (tags) {
        for (void *it = json_object_iter((json_t *)tags); it;
             it = json_object_iter_next((json_t *)tags, it)) {
            const json_t *v = json_object_iter_value(it);
            const char *k = json_object_iter_key(it);
            if (!json_is_string(v))
                return tg_err(err, idx, "tag \"%.64s\" is not a string", k);
            tv[i++] = (struct pw_lp_tag){{k, json_object_iter_key_len(it)},
                                         json_str(v)};
        }
    }
    struct point_ctx pc;
    if (begin_point(in, key, json_str(name), tv, i, ts, &pc) < 0)
        return stage_error(in, err);

    for (void *it = json_object_iter((json_t *)fields); it;
         it = json_object_iter_next((json_t *)fields, it)) {
        const json_t *v = json_object_iter_value(it);
        const char *k = json_object_iter_key(it);
        double x;
        if (json_is_string(v)) {
            in->pend_strings++;
            continue;
        }
        if (json_is_null(v)) { /* what a JSON writer makes of NaN */
            in->pend_nonfinite++;
            continue;
        }
        if (json_is_boolean(v))
            x = json_is_true(v) ? 1.0 : 0.0;
        else if (!json_num(v, &x))
            return tg_err(err, idx, "field \"%.64s\" is not a number, "
                              "boolean or string", k);
        if (stage(in, &pc, ref_ptr(k, json_object_iter_key_len(it)), x) < 0)
            return stage_error(in, err);
    }
    return 0;
}

static int stage_telegraf(struct pw_ingest *in, struct pw_str key,
                          const json_t *root, int64_t default_ts_ns,
                          struct pw_err *err)
{
    if (!json_is_object(root))
        return pw_err_set(err, "Telegraf JSON: not an object");
    const json_t *batch = json_object_get(root, "metrics");
    if (!batch)
        return stage_telegraf_metric(in, key, root, 0, default_ts_ns, err);
    if (!json_is_array(batch))
        return pw_err_set(err, "Telegraf JSON: \"metrics\" is not an array");
    for (size_t i = 0; i < json_array_size(batch); i++) {
        if (stage_telegraf_metric(in, key, json_array_get(batch, i), i + 1,
                                  default_ts_ns, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- public: metrics ---------------------------------------------------- */

static enum pw_ingest_format sniff(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        return c == '[' ? PW_INGEST_COLLECTD_JSON
             : c == '{' ? PW_INGEST_TELEGRAF_JSON
                        : PW_INGEST_LINEPROTO;
    }
    return PW_INGEST_LINEPROTO;
}

int pw_ingest_metrics(struct pw_ingest *in, const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      int64_t default_ts_ns, pw_sample_fn fn, void *arg,
                      struct pw_err *err)
{
    if (!in || (!value && value_len > 0))
        return pw_err_set(err, "pw_ingest_metrics: no ingest or no message");
    in->stats.messages++;
    const char *buf = value ? value : "";
    struct pw_str k = {key ? key : "", key ? key_len : 0};
    if (value_len > MAX_MESSAGE_BYTES) {
        in->stats.malformed++;
        return pw_err_set(err, "message of %zu bytes is larger than the "
                          "%u-byte limit", value_len, MAX_MESSAGE_BYTES);
    }
    enum pw_ingest_format f = in->format;
    if (f == PW_INGEST_AUTO)
        f = sniff(buf, value_len);

    reset_staging(in, value_len);
    int rc;
    json_t *root = NULL;
    if (f == PW_INGEST_LINEPROTO) {
        rc = stage_lineproto(in, k, buf, value_len, default_ts_ns, err);
    } else {
        bool collectd = f == PW_INGEST_COLLECTD_JSON;
        const char *what = collectd ? "collectd JSON" : "Telegraf JSON";
        root = load_json(buf, value_len, what, err);
        if (!root)
            rc = -1;
        else if (collectd)
            rc = stage_collectd(in, k, root, default_ts_ns, err);
        else
            rc = stage_telegraf(in, k, root, default_ts_ns, err);
    }
    if (rc < 0) {
        json_decref(root);
        in->stats.malformed++;
        return -1;
    }
    rc = hand_out(in, fn, arg);
    json_decref(root);
    return rc;
}

/* ---- public: logs ------------------------------------------------------- */

/* Seconds below 1e14, else nanoseconds (the contract's rule for logs). */
static bool log_ts(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t t = json_integer_value(v);
        if (t > -100000000000000LL && t < 100000000000000LL)
            return seconds_to_ns((double)t, out);
        *out = (int64_t)t;
        return true;
    }
    double t;
    if (!json_num(v, &t))
        return false;
    if (fabs(t) < 1e14)
        return seconds_to_ns(t, out);
    if (!(fabs(t) < 9.2e18))
        return false;
    *out = llround(t);
    return true;
}

static int log_string(const json_t *rec, const char *name, bool required,
                      struct pw_str *out, struct pw_err *err)
{
    const json_t *v = json_object_get(rec, name);
    if (!v || json_is_null(v)) {
        *out = (struct pw_str){"", 0};
        if (required)
            return pw_err_set(err, "no \"%s\"", name);
        return 0;
    }
    if (!json_is_string(v))
        return pw_err_set(err, "\"%s\" is not a string", name);
    *out = json_str(v);
    return 0;
}

/* Checks one record object and stages it (taking over root, even on
 * failure). */
static int stage_log(struct pw_ingest *in, json_t *root, struct pw_str key,
                     int64_t default_ts_ns, struct pw_err *err)
{
    struct pw_str line, entity, source;
    int64_t ts = default_ts_ns;
    const json_t *t = json_object_get(root, "ts");
    if (log_string(root, "line", true, &line, err) < 0 ||
        log_string(root, "entity", false, &entity, err) < 0 ||
        log_string(root, "source", false, &source, err) < 0)
        goto bad;
    if (t && !json_is_null(t) && !log_ts(t, &ts)) {
        pw_err_set(err, "\"ts\" is not seconds or nanoseconds since the epoch");
        goto bad;
    }
    if (!grow(&in->logs, &in->logs_cap, in->nlogs + 1, sizeof *in->logs)) {
        pw_err_set(err, "out of memory");
        goto bad;
    }
    in->logs[in->nlogs++] = (struct staged_log){
        .root = root,
        .rec = {.entity = key.len ? key
                          : entity.len ? entity
                                       : (struct pw_str){"unknown", 7},
                .source = source, .line = line, .ts_ns = ts},
    };
    return 0;
bad:
    json_decref(root);
    return -1;
}

/* Parses text as one JSON object: 1 if it is one, 0 if it is not JSON (je
 * says why), -1 if it is JSON but not an object (*root NULL unless 1). */
static int parse_object(const char *text, size_t len, json_t **root,
                        json_error_t *je)
{
    *root = loadb_wide(text, len, je);
    if (!*root)
        return 0;
    if (json_is_object(*root))
        return 1;
    json_decref(*root);
    *root = NULL;
    return -1;
}

/* Newline-delimited records: every non-blank line one JSON object. */
static int stage_log_lines(struct pw_ingest *in, const char *buf, size_t len,
                           struct pw_str key, int64_t default_ts_ns,
                           struct pw_err *err)
{
    size_t n = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *s = p, *e = eol;
        p = nl ? nl + 1 : end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s == e)
            continue;
        n++;
        json_t *root;
        json_error_t je;
        int got = parse_object(s, (size_t)(e - s), &root, &je);
        if (got != 1)
            return pw_err_set(err, "log record %zu: %s", n,
                              got < 0 ? "not a JSON object" : je.text);
        if (stage_log(in, root, key, default_ts_ns, err) < 0)
            return pw_err_prefix(err, "log record %zu", n);
    }
    return 0;
}

static void drop_staged_logs(struct pw_ingest *in)
{
    for (size_t i = 0; i < in->nlogs; i++)
        json_decref(in->logs[i].root);
    in->nlogs = 0;
}

int pw_ingest_log(struct pw_ingest *in, const void *key, size_t key_len,
                  const void *value, size_t value_len, int64_t default_ts_ns,
                  pw_log_fn fn, void *arg, struct pw_err *err)
{
    if (!in || !fn || (!value && value_len > 0))
        return pw_err_set(err, "pw_ingest_log: no ingest, callback or message");
    in->stats.messages++;
    const char *buf = value ? value : "";
    struct pw_str k = {key ? key : "", key ? key_len : 0};
    if (value_len > MAX_LOG_BYTES) {
        in->stats.malformed++;
        return pw_err_set(err, "log message of %zu bytes is larger than the "
                          "%u-byte limit", value_len, MAX_LOG_BYTES);
    }

    /* Structured only if it is a JSON object, or lines of JSON objects;
     * anything else (plain text, or a line that merely starts with '{') is
     * one raw line. */
    size_t i = 0;
    while (i < value_len && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    bool structured = false;
    int rc = 0;
    if (i < value_len && buf[i] == '{') {
        json_t *root;
        json_error_t je;
        const char *nl = memchr(buf + i, '\n', value_len - i);
        size_t first = nl ? (size_t)(nl - buf) : value_len;
        if (parse_object(buf, value_len, &root, &je) == 1) {
            structured = true;
            rc = stage_log(in, root, k, default_ts_ns, err);
            if (rc < 0)
                pw_err_prefix(err, "log record");
        } else if (nl && parse_object(buf, first, &root, &je) == 1) {
            json_decref(root);
            structured = true;
            rc = stage_log_lines(in, buf, value_len, k, default_ts_ns, err);
        }
    }
    if (rc < 0) {
        drop_staged_logs(in);
        in->stats.malformed++;
        return -1;
    }
    if (!structured) {
        size_t n = value_len;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n == 0) {
            in->stats.malformed++;
            return pw_err_set(err, "log message is empty");
        }
        struct pw_log_record r = {
            .entity = k.len ? k : (struct pw_str){"unknown", 7},
            .source = {"", 0},
            .line = {buf, n},
            .ts_ns = default_ts_ns,
        };
        in->stats.log_records++;
        fn(&r, arg);
        return 1;
    }
    size_t n = in->nlogs;
    in->stats.log_records += n;
    for (size_t j = 0; j < n; j++)
        fn(&in->logs[j].rec, arg);
    drop_staged_logs(in);
    return (int)n;
}
