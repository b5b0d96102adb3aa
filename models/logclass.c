/* models/logclass.c — see logclass.h for the model and its format.
 *
 * Why it is built this way: features are streamed, never collected — a
 * word iterator walks the masked text, and each word (and the pair it
 * forms with the previous one) is hashed and looked up at once, so
 * prediction allocates nothing and costs a few table probes per word.
 * Counts are kept exactly (integers) and saved as such; the log
 * probabilities are derived from them after training and after reading,
 * so a saved and reloaded model predicts bit for bit as the original. */
#include "models/logclass.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET 1469598103934665603ull
#define FNV_PRIME 1099511628211ull
#define MAX_FEATURES (1u << 26)
#define FORMAT "pw-logclass 1"

struct pw_logclass {
    struct pw_logclass_config cfg;
    size_t k;                                   /* categories */
    char names[PW_LOGCLASS_MAX_CATEGORIES][PW_LOGCLASS_MAX_NAME + 1];
    uint64_t docs[PW_LOGCLASS_MAX_CATEGORIES];  /* training lines */
    uint64_t total[PW_LOGCLASS_MAX_CATEGORIES]; /* feature occurrences */
    uint64_t *hash;        /* feature hashes, v */
    uint32_t *count;       /* v * k counts */
    size_t v, capv;
    uint32_t *tab;         /* open addressing: feature index + 1, 0 empty */
    size_t tmask;
    /* derived by finish() */
    float *logp;           /* v * k: log P(feature | category) */
    double logprior[PW_LOGCLASS_MAX_CATEGORIES];
};

void pw_logclass_config_default(struct pw_logclass_config *c)
{
    c->alpha = 0.1;
    c->bigrams = true;
}

/* ---- features ---------------------------------------------------------- */

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Next word of s[*i..n): a run of word chars, or a placeholder "<NUM>".
 * Sets *start and *len and returns true; false at the end. */
static bool next_word(const char *s, size_t n, size_t *i, size_t *start,
                      size_t *len)
{
    size_t j = *i;
    for (; j < n; j++) {
        if (s[j] == '<' && j + 2 < n && s[j + 1] >= 'A' && s[j + 1] <= 'Z') {
            size_t e = j + 1;
            while (e < n && s[e] >= 'A' && s[e] <= 'Z')
                e++;
            if (e < n && s[e] == '>') {
                *start = j;
                *len = e + 1 - j;
                *i = e + 1;
                return true;
            }
        }
        if (word_char(s[j]))
            break;
    }
    if (j >= n)
        return false;
    size_t e = j;
    while (e < n && word_char(s[e]))
        e++;
    *start = j;
    *len = e - j;
    *i = e;
    return true;
}

static uint64_t fnv(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)lower(s[i])) * FNV_PRIME;
    return h;
}

/* The features of a masked line, one by one: each word, then the pair
 * it forms with the previous word. */
struct features {
    const struct pw_logtok_line *line;
    bool bigrams;
    size_t i;              /* scan position in line->text */
    size_t start, len;     /* the current word */
    size_t pstart, plen;   /* the previous word */
    bool have_prev;
    bool pair_due;         /* the current word's pair is still to come */
};

static void features_init(struct features *it, const struct pw_logtok_line *l,
                          bool bigrams)
{
    memset(it, 0, sizeof *it);
    it->line = l;
    it->bigrams = bigrams;
}

static bool next_feature(struct features *it, uint64_t *h)
{
    const char *t = it->line->text;
    if (it->pair_due) {
        it->pair_due = false;
        uint64_t b = fnv(FNV_OFFSET, t + it->pstart, it->plen);
        b = fnv(b, " ", 1);
        *h = fnv(b, t + it->start, it->len);
        return true;
    }
    if (it->have_prev || it->len) {
        it->pstart = it->start;
        it->plen = it->len;
        it->have_prev = true;
    }
    if (!next_word(t, it->line->text_len, &it->i, &it->start, &it->len))
        return false;
    *h = fnv(FNV_OFFSET, t + it->start, it->len);
    it->pair_due = it->bigrams && it->have_prev;
    return true;
}

/* ---- the feature table ------------------------------------------------- */

static size_t slot_of(uint64_t h, size_t mask)
{
    return (size_t)((h ^ (h >> 31)) & mask);
}

/* Index of feature h, or SIZE_MAX. */
static size_t find(const struct pw_logclass *m, uint64_t h)
{
    for (size_t i = slot_of(h, m->tmask);; i = (i + 1) & m->tmask) {
        uint32_t e = m->tab[i];
        if (e == 0)
            return SIZE_MAX;
        if (m->hash[e - 1] == h)
            return e - 1;
    }
}

static int rehash(struct pw_logclass *m, size_t size)
{
    uint32_t *tab = calloc(size, sizeof *tab);
    if (!tab)
        return -1;
    for (size_t f = 0; f < m->v; f++) {
        size_t i = slot_of(m->hash[f], size - 1);
        while (tab[i])
            i = (i + 1) & (size - 1);
        tab[i] = (uint32_t)(f + 1);
    }
    free(m->tab);
    m->tab = tab;
    m->tmask = size - 1;
    return 0;
}

/* Index of feature h, added with zero counts if new; SIZE_MAX when out of
 * memory or the table is full. */
static size_t intern(struct pw_logclass *m, uint64_t h)
{
    size_t f = find(m, h);
    if (f != SIZE_MAX)
        return f;
    if (m->v >= MAX_FEATURES)
        return SIZE_MAX;
    if ((m->v + 1) * 2 > m->tmask + 1 && rehash(m, (m->tmask + 1) * 2) < 0)
        return SIZE_MAX;
    if (m->v == m->capv) {
        size_t nc = m->capv ? m->capv * 2 : 1024;
        uint64_t *nh = realloc(m->hash, nc * sizeof *nh);
        if (!nh)
            return SIZE_MAX;
        m->hash = nh;
        uint32_t *ncnt = realloc(m->count, nc * m->k * sizeof *ncnt);
        if (!ncnt)
            return SIZE_MAX;
        m->count = ncnt;
        m->capv = nc;
    }
    f = m->v++;
    m->hash[f] = h;
    memset(m->count + f * m->k, 0, m->k * sizeof *m->count);
    size_t i = slot_of(h, m->tmask);
    while (m->tab[i])
        i = (i + 1) & m->tmask;
    m->tab[i] = (uint32_t)(f + 1);
    return f;
}

static struct pw_logclass *model_new(const struct pw_logclass_config *cfg,
                                     size_t k)
{
    struct pw_logclass *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    m->k = k;
    m->tmask = 1023;
    m->tab = calloc(m->tmask + 1, sizeof *m->tab);
    if (!m->tab) {
        free(m);
        return NULL;
    }
    return m;
}

void pw_logclass_free(struct pw_logclass *m)
{
    if (!m)
        return;
    free(m->hash);
    free(m->count);
    free(m->tab);
    free(m->logp);
    free(m);
}

/* Log probabilities from the counts. */
static int finish(struct pw_logclass *m)
{
    free(m->logp);
    m->logp = malloc((m->v ? m->v : 1) * m->k * sizeof *m->logp);
    if (!m->logp)
        return -1;
    uint64_t docs = 0;
    for (size_t c = 0; c < m->k; c++)
        docs += m->docs[c];
    double a = m->cfg.alpha;
    for (size_t c = 0; c < m->k; c++) {
        /* Laplace on the prior too: a category with no lines still has
         * a finite score. */
        m->logprior[c] = log((m->docs[c] + 1.0) / ((double)docs + m->k));
        double denom = log((double)m->total[c] + a * (double)m->v);
        for (size_t f = 0; f < m->v; f++)
            m->logp[f * m->k + c] =
                (float)(log(m->count[f * m->k + c] + a) - denom);
    }
    return 0;
}

/* ---- training ---------------------------------------------------------- */

static int check_config(const struct pw_logclass_config *cfg,
                        struct pw_err *err)
{
    if (!(cfg->alpha > 0) || !isfinite(cfg->alpha))
        return pw_err_set(err, "logclass: alpha %g must be finite and > 0",
                          cfg->alpha);
    return 0;
}

static int check_name(const char *name, struct pw_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > PW_LOGCLASS_MAX_NAME || strpbrk(name, "\t\n\r"))
        return pw_err_set(err, "logclass: category name \"%.80s\" must be 1 "
                          "to %d bytes without tabs or newlines", name,
                          PW_LOGCLASS_MAX_NAME);
    return 0;
}

struct pw_logclass *pw_logclass_train(const struct pw_logclass_example *ex,
                                      size_t n,
                                      const struct pw_logclass_config *cfg,
                                      struct pw_err *err)
{
    if (check_config(cfg, err) < 0)
        return NULL;
    if (n == 0) {
        pw_err_set(err, "logclass: no training examples");
        return NULL;
    }
    /* Categories first: their count fixes the width of the count rows. */
    char names[PW_LOGCLASS_MAX_CATEGORIES][PW_LOGCLASS_MAX_NAME + 1];
    size_t k = 0;
    uint8_t *cat = malloc(n);
    if (!cat) {
        pw_err_set(err, "logclass: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (check_name(ex[i].category, err) < 0) {
            free(cat);
            return NULL;
        }
        size_t c = 0;
        while (c < k && strcmp(names[c], ex[i].category) != 0)
            c++;
        if (c == k) {
            if (k == PW_LOGCLASS_MAX_CATEGORIES) {
                free(cat);
                pw_err_set(err, "logclass: more than %d categories",
                           PW_LOGCLASS_MAX_CATEGORIES);
                return NULL;
            }
            snprintf(names[k++], sizeof names[0], "%s", ex[i].category);
        }
        cat[i] = (uint8_t)c;
    }
    if (k < 2) {
        free(cat);
        pw_err_set(err, "logclass: the examples name only one category "
                   "(\"%s\"); a classifier needs at least 2", names[0]);
        return NULL;
    }
    struct pw_logclass *m = model_new(cfg, k);
    struct pw_logtok_line *tl = malloc(sizeof *tl);
    if (!m || !tl)
        goto oom;
    memcpy(m->names, names, sizeof names);
    for (size_t i = 0; i < n; i++) {
        size_t c = cat[i];
        pw_logtok_mask(ex[i].line, strlen(ex[i].line), tl);
        m->docs[c]++;
        struct features it;
        uint64_t h;
        features_init(&it, tl, cfg->bigrams);
        while (next_feature(&it, &h)) {
            size_t f = intern(m, h);
            if (f == SIZE_MAX || m->count[f * k + c] == UINT32_MAX)
                goto oom;
            m->count[f * k + c]++;
            m->total[c]++;
        }
    }
    if (finish(m) < 0)
        goto oom;
    free(tl);
    free(cat);
    return m;
oom:
    free(tl);
    free(cat);
    pw_logclass_free(m);
    pw_err_set(err, "logclass: out of memory (or over %u features) while "
               "training", MAX_FEATURES);
    return NULL;
}

struct pw_logclass *pw_logclass_train_tsv(const char *path,
                                          const struct pw_logclass_config *cfg,
                                          struct pw_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        pw_err_set(err, "logclass: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct pw_logclass_example *ex = NULL;
    size_t n = 0, cap = 0, row = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    struct pw_logclass *m = NULL;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        row++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *tab = strchr(line, '\t');
        if (!tab || tab == line) {
            pw_err_set(err, "logclass: %s:%zu: expected category<TAB>line",
                       path, row);
            goto out;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            struct pw_logclass_example *ne = realloc(ex, cap * sizeof *ne);
            if (!ne)
                goto oom;
            ex = ne;
        }
        *tab = '\0';
        char *cat = strdup(line), *text = strdup(tab + 1);
        ex[n].category = cat;
        ex[n].line = text;
        n++;
        if (!cat || !text)
            goto oom;
    }
    if (ferror(f)) {
        pw_err_set(err, "logclass: cannot read %s", path);
        goto out;
    }
    m = pw_logclass_train(ex, n, cfg, err);
    if (!m)
        pw_err_prefix(err, "%s", path);
    goto out;
oom:
    pw_err_set(err, "logclass: out of memory reading %s", path);
out:
    for (size_t i = 0; i < n; i++) {
        free((char *)ex[i].category);
        free((char *)ex[i].line);
    }
    free(ex);
    free(line);
    fclose(f);
    return m;
}

/* ---- prediction -------------------------------------------------------- */

size_t pw_logclass_ncategories(const struct pw_logclass *m)
{
    return m->k;
}

const char *pw_logclass_category(const struct pw_logclass *m, size_t i)
{
    return i < m->k ? m->names[i] : NULL;
}

int pw_logclass_find(const struct pw_logclass *m, const char *name)
{
    for (size_t c = 0; c < m->k; c++)
        if (strcmp(m->names[c], name) == 0)
            return (int)c;
    return -1;
}

size_t pw_logclass_predict_masked(const struct pw_logclass *m,
                                  const struct pw_logtok_line *line,
                                  double *prob, double *post)
{
    double s[PW_LOGCLASS_MAX_CATEGORIES];
    size_t k = m->k;
    for (size_t c = 0; c < k; c++)
        s[c] = m->logprior[c];
    struct features it;
    uint64_t h;
    features_init(&it, line, m->cfg.bigrams);
    while (next_feature(&it, &h)) {
        size_t f = find(m, h);
        if (f == SIZE_MAX)
            continue;
        const float *lp = m->logp + f * k;
        for (size_t c = 0; c < k; c++)
            s[c] += lp[c];
    }
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        if (s[c] > s[best])
            best = c;
    double z = 0;
    for (size_t c = 0; c < k; c++)
        z += exp(s[c] - s[best]);
    if (prob)
        *prob = 1.0 / z;
    if (post)
        for (size_t c = 0; c < k; c++)
            post[c] = exp(s[c] - s[best]) / z;
    return best;
}

size_t pw_logclass_predict(const struct pw_logclass *m, const char *line,
                           size_t len, double *prob, double *post)
{
    struct pw_logtok_line tl;
    pw_logtok_mask(line, len, &tl);
    return pw_logclass_predict_masked(m, &tl, prob, post);
}

/* ---- serialisation ----------------------------------------------------- */

struct out {
    FILE *f;
    uint64_t h;
    bool bad;
};

static void emit(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) {
        o->bad = true;
        return;
    }
    for (int i = 0; i < n; i++)
        o->h = (o->h ^ (unsigned char)buf[i]) * FNV_PRIME;
    if (fwrite(buf, 1, (size_t)n, o->f) != (size_t)n)
        o->bad = true;
}

int pw_logclass_write(const struct pw_logclass *m, FILE *f,
                      struct pw_err *err)
{
    struct out o = {f, FNV_OFFSET, false};
    emit(&o, "%s\nalpha %.17g\nbigrams %d\ncategories %zu\n", FORMAT,
         m->cfg.alpha, m->cfg.bigrams ? 1 : 0, m->k);
    for (size_t c = 0; c < m->k; c++)
        emit(&o, "%s\t%" PRIu64 "\t%" PRIu64 "\n", m->names[c], m->docs[c],
             m->total[c]);
    emit(&o, "features %zu\n", m->v);
    for (size_t fi = 0; fi < m->v && !o.bad; fi++) {
        char row[1024];
        size_t pos = (size_t)snprintf(row, sizeof row, "%016" PRIx64,
                                      m->hash[fi]);
        for (size_t c = 0; c < m->k; c++)
            pos += (size_t)snprintf(row + pos, sizeof row - pos, " %" PRIu32,
                                    m->count[fi * m->k + c]);
        emit(&o, "%s\n", row);
    }
    uint64_t h = o.h;
    emit(&o, "end %016" PRIx64 "\n", h);
    if (o.bad || fflush(f) != 0 || ferror(f))
        return pw_err_set(err, "logclass: writing the model failed: %s",
                          strerror(errno));
    return 0;
}

struct in {
    FILE *f;
    uint64_t h;
    size_t row;
    char buf[2048];
};

/* Reads one '\n'-terminated row into in->buf (without the '\n'), folding
 * it into the checksum if sum. -1 at EOF, on a row too long, or on a NUL. */
static int row_in(struct in *in, bool sum)
{
    if (!fgets(in->buf, sizeof in->buf, in->f))
        return -1;
    size_t n = strlen(in->buf);
    if (n == 0 || in->buf[n - 1] != '\n')
        return -1;
    in->row++;
    if (sum)
        for (size_t i = 0; i < n; i++)
            in->h = (in->h ^ (unsigned char)in->buf[i]) * FNV_PRIME;
    in->buf[n - 1] = '\0';
    return 0;
}

/* Parses an unsigned decimal at *p (no sign, no blanks), up to max; moves
 * *p past it. */
static int parse_u64(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || v > max)
        return -1;
    *out = v;
    *p = end;
    return 0;
}

static int parse_hex64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return 0;
}

/* "key <unsigned>" */
static int keyed_u64(struct in *in, const char *key, uint64_t max,
                     uint64_t *out)
{
    size_t kl = strlen(key);
    if (row_in(in, true) < 0 || strncmp(in->buf, key, kl) != 0 ||
        in->buf[kl] != ' ')
        return -1;
    const char *p = in->buf + kl + 1;
    return parse_u64(&p, max, out) < 0 || *p ? -1 : 0;
}

struct pw_logclass *pw_logclass_read(FILE *f, struct pw_err *err)
{
    struct in *in = calloc(1, sizeof *in);
    struct pw_logclass *m = NULL;
    if (!in) {
        pw_err_set(err, "logclass: out of memory");
        return NULL;
    }
    in->f = f;
    in->h = FNV_OFFSET;
    struct pw_logclass_config cfg;
    uint64_t k, v, bigrams;
    if (row_in(in, true) < 0 || strcmp(in->buf, FORMAT) != 0) {
        pw_err_set(err, "logclass: not a model in format \"%s\" (first row "
                   "\"%.40s\")", FORMAT, in->row ? in->buf : "");
        goto fail;
    }
    char *end;
    if (row_in(in, true) < 0 || strncmp(in->buf, "alpha ", 6) != 0 ||
        (cfg.alpha = strtod(in->buf + 6, &end), *end) || !(cfg.alpha > 0) ||
        !isfinite(cfg.alpha) ||
        keyed_u64(in, "bigrams", 1, &bigrams) < 0 ||
        keyed_u64(in, "categories", PW_LOGCLASS_MAX_CATEGORIES, &k) < 0 ||
        k < 2)
        goto corrupt;
    cfg.bigrams = bigrams == 1;
    m = model_new(&cfg, (size_t)k);
    if (!m)
        goto oom;
    for (size_t c = 0; c < k; c++) {
        if (row_in(in, true) < 0)
            goto corrupt;
        char *tab = strchr(in->buf, '\t');
        if (!tab || tab == in->buf || tab - in->buf > PW_LOGCLASS_MAX_NAME)
            goto corrupt;
        memcpy(m->names[c], in->buf, (size_t)(tab - in->buf));
        m->names[c][tab - in->buf] = '\0';
        for (size_t d = 0; d < c; d++)
            if (strcmp(m->names[d], m->names[c]) == 0)
                goto corrupt;
        const char *p = tab + 1;
        if (parse_u64(&p, UINT64_MAX / 2, &m->docs[c]) < 0 || *p++ != '\t' ||
            parse_u64(&p, UINT64_MAX / 2, &m->total[c]) < 0 || *p)
            goto corrupt;
    }
    if (keyed_u64(in, "features", MAX_FEATURES, &v) < 0)
        goto corrupt;
    uint64_t sum[PW_LOGCLASS_MAX_CATEGORIES] = {0};
    for (size_t fi = 0; fi < v; fi++) {
        uint64_t h;
        if (row_in(in, true) < 0 || parse_hex64(in->buf, &h) < 0)
            goto corrupt;
        if (find(m, h) != SIZE_MAX)
            goto corrupt;                          /* a feature twice */
        size_t idx = intern(m, h);
        if (idx == SIZE_MAX)
            goto oom;
        const char *p = in->buf + 16;
        for (size_t c = 0; c < k; c++) {
            uint64_t cnt;
            if (*p++ != ' ' || parse_u64(&p, UINT32_MAX, &cnt) < 0)
                goto corrupt;
            m->count[idx * k + c] = (uint32_t)cnt;
            sum[c] += cnt;
        }
        if (*p)
            goto corrupt;
    }
    for (size_t c = 0; c < k; c++)
        if (sum[c] != m->total[c])
            goto corrupt;
    uint64_t want = in->h, got;
    if (row_in(in, false) < 0 || strncmp(in->buf, "end ", 4) != 0 ||
        parse_hex64(in->buf + 4, &got) < 0 || in->buf[20] != '\0')
        goto corrupt;
    if (got != want) {
        pw_err_set(err, "logclass: model checksum mismatch (stored %016"
                   PRIx64 ", computed %016" PRIx64 "): the model is corrupt",
                   got, want);
        goto fail;
    }
    if (finish(m) < 0)
        goto oom;
    free(in);
    return m;
corrupt:
    pw_err_set(err, "logclass: model is truncated or corrupt at row %zu",
               in->row);
    goto fail;
oom:
    pw_err_set(err, "logclass: out of memory reading a model");
fail:
    free(in);
    pw_logclass_free(m);
    return NULL;
}
