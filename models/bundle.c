/* models/bundle.c — see bundle.h for the layout and the checks.
 *
 * Decoding walks the structure before it checks the digest, so that a
 * short file is reported as truncated (with the field that ran out) rather
 * than as a checksum mismatch; every length is checked against the bytes
 * left before anything is allocated, so a hostile length cannot make us
 * allocate more than the file holds. */
#include "models/bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/bytes.h"

static const char magic[8] = {'P', 'W', 'B', 'U', 'N', 'D', 'L', '\n'};

/* magic, version, count, created, parent, fingerprint, trained_on length */
#define HEADER_MIN (8 + 4 + 4 + 8 + 32 + 32 + 4)

int pw_bundle_init(struct pw_bundle *b, struct pw_err *err)
{
    memset(b, 0, sizeof *b);
    b->version = PW_BUNDLE_VERSION;
    b->created_s = (int64_t)time(NULL);
    b->trained_on = strdup("");
    if (!b->trained_on)
        return pw_err_set(err, "bundle: out of memory");
    return 0;
}

void pw_bundle_free(struct pw_bundle *b)
{
    for (size_t i = 0; i < b->nsections; i++) {
        free(b->sections[i].name);
        free(b->sections[i].data);
    }
    free(b->sections);
    free(b->trained_on);
    memset(b, 0, sizeof *b);
}

int pw_bundle_set_trained_on(struct pw_bundle *b, const char *text, struct pw_err *err)
{
    if (strlen(text) > PW_BUNDLE_MAX_NAME)
        return pw_err_set(err, "bundle: trained_on is longer than %d bytes",
                          PW_BUNDLE_MAX_NAME);
    char *copy = strdup(text);
    if (!copy)
        return pw_err_set(err, "bundle: out of memory");
    free(b->trained_on);
    b->trained_on = copy;
    return 0;
}

static bool valid_kind(const char *kind)
{
    if (strlen(kind) != 4)
        return false;
    for (int i = 0; i < 4; i++)
        if (kind[i] < 0x21 || kind[i] > 0x7e)
            return false;
    return true;
}

const struct pw_bundle_section *pw_bundle_find(const struct pw_bundle *b,
                                               const char *kind, const char *name)
{
    for (size_t i = 0; i < b->nsections; i++)
        if (strcmp(b->sections[i].kind, kind) == 0 && strcmp(b->sections[i].name, name) == 0)
            return &b->sections[i];
    return NULL;
}

/* Takes ownership of name and data, even on failure. */
static int push_section(struct pw_bundle *b, const char *kind, char *name, uint8_t *data,
                        size_t len, struct pw_err *err)
{
    if (b->nsections >= PW_BUNDLE_MAX_SECTIONS) {
        free(name);
        free(data);
        return pw_err_set(err, "bundle: more than %d sections", PW_BUNDLE_MAX_SECTIONS);
    }
    struct pw_bundle_section *s = realloc(b->sections, (b->nsections + 1) * sizeof *s);
    if (!s) {
        free(name);
        free(data);
        return pw_err_set(err, "bundle: out of memory");
    }
    b->sections = s;
    struct pw_bundle_section *sec = &s[b->nsections++];
    memcpy(sec->kind, kind, 4);
    sec->kind[4] = '\0';
    sec->name = name;
    sec->data = data;
    sec->len = len;
    return 0;
}

int pw_bundle_add(struct pw_bundle *b, const char *kind, const char *name,
                  const void *data, size_t len, struct pw_err *err)
{
    if (!valid_kind(kind))
        return pw_err_set(err, "bundle: section kind \"%s\" is not four printable "
                               "characters", kind);
    if (strlen(name) > PW_BUNDLE_MAX_NAME)
        return pw_err_set(err, "bundle: section name is longer than %d bytes",
                          PW_BUNDLE_MAX_NAME);
    if (pw_bundle_find(b, kind, name))
        return pw_err_set(err, "bundle: a %s section named \"%s\" is already there",
                          kind, name);
    char *n = strdup(name);
    uint8_t *d = malloc(len ? len : 1);
    if (!n || !d) {
        free(n);
        free(d);
        return pw_err_set(err, "bundle: out of memory");
    }
    if (len)
        memcpy(d, data, len);
    return push_section(b, kind, n, d, len, err);
}

int pw_bundle_encode(struct pw_bundle *b, struct pw_buf *out, struct pw_err *err)
{
    size_t start = out->len;
    pw_put_bytes(out, magic, sizeof magic);
    pw_put_u32(out, PW_BUNDLE_VERSION);
    pw_put_u32(out, (uint32_t)b->nsections);
    pw_put_i64(out, b->created_s);
    pw_put_bytes(out, b->parent, PW_SHA256_LEN);
    pw_put_bytes(out, b->fingerprint, PW_SHA256_LEN);
    pw_put_str(out, b->trained_on);
    for (size_t i = 0; i < b->nsections; i++) {
        const struct pw_bundle_section *s = &b->sections[i];
        pw_put_bytes(out, s->kind, 4);
        pw_put_str(out, s->name);
        pw_put_u64(out, s->len);
        pw_put_bytes(out, s->data, s->len);
    }
    if (out->oom)
        return pw_err_set(err, "bundle: out of memory while encoding");
    if (pw_sha256(out->data + start, out->len - start, b->digest) < 0)
        return pw_err_set(err, "bundle: out of memory while hashing");
    pw_put_bytes(out, b->digest, PW_SHA256_LEN);
    b->version = PW_BUNDLE_VERSION;
    return out->oom ? pw_err_set(err, "bundle: out of memory while encoding") : 0;
}

static int truncated(struct pw_bundle *b, const char *source, const char *what,
                     struct pw_err *err)
{
    pw_bundle_free(b);
    return pw_err_set(err, "%s: truncated bundle: the file ends inside %s", source, what);
}

int pw_bundle_decode(const void *data, size_t len, const char *source,
                     struct pw_bundle *b, struct pw_err *err)
{
    memset(b, 0, sizeof *b);
    if (len < sizeof magic || memcmp(data, magic, sizeof magic) != 0)
        return pw_err_set(err, "%s: not a pipewatch model bundle (bad magic)", source);
    if (len < HEADER_MIN + PW_SHA256_LEN)
        return truncated(b, source, "the header", err);
    /* The digest is the last 32 bytes; everything before is the body. */
    size_t body = len - PW_SHA256_LEN;
    struct pw_reader r;
    pw_reader_init(&r, data, body);
    pw_get_span(&r, sizeof magic);
    b->version = pw_get_u32(&r);
    if (b->version == 0 || b->version > PW_BUNDLE_VERSION) {
        uint32_t v = b->version;
        pw_bundle_free(b);
        return pw_err_set(err, "%s: bundle format version %u; this build reads "
                               "version %d and older (upgrade pipewatch)",
                          source, v, PW_BUNDLE_VERSION);
    }
    uint32_t count = pw_get_u32(&r);
    b->created_s = pw_get_i64(&r);
    pw_get_bytes(&r, b->parent, PW_SHA256_LEN);
    pw_get_bytes(&r, b->fingerprint, PW_SHA256_LEN);
    b->trained_on = pw_get_str(&r, PW_BUNDLE_MAX_NAME);
    if (!b->trained_on)
        return truncated(b, source, "the trained_on text (or it is malformed)", err);
    if (count > PW_BUNDLE_MAX_SECTIONS) {
        pw_bundle_free(b);
        return pw_err_set(err, "%s: bundle claims %u sections (at most %d)", source,
                          count, PW_BUNDLE_MAX_SECTIONS);
    }
    for (uint32_t i = 0; i < count; i++) {
        char kind[5] = {0};
        pw_get_bytes(&r, kind, 4);
        char *name = pw_get_str(&r, PW_BUNDLE_MAX_NAME);
        uint64_t n = pw_get_u64(&r);
        if (r.bad || !name) {
            free(name);
            char what[64];
            snprintf(what, sizeof what, "section %u's header", i + 1);
            return truncated(b, source, what, err);
        }
        const uint8_t *payload = n <= pw_reader_left(&r) ? pw_get_span(&r, (size_t)n) : NULL;
        if (!payload) {
            char what[64 + PW_BUNDLE_MAX_NAME];
            snprintf(what, sizeof what, "section %u (%s \"%s\", %llu bytes)", i + 1, kind,
                     name, (unsigned long long)n);
            free(name);
            return truncated(b, source, what, err);
        }
        if (!valid_kind(kind)) {
            free(name);
            pw_bundle_free(b);
            return pw_err_set(err, "%s: section %u has an invalid kind", source, i + 1);
        }
        uint8_t *copy = malloc(n ? (size_t)n : 1);
        if (!copy) {
            free(name);
            pw_bundle_free(b);
            return pw_err_set(err, "%s: out of memory for section %u", source, i + 1);
        }
        if (n)
            memcpy(copy, payload, (size_t)n);
        if (push_section(b, kind, name, copy, (size_t)n, err) < 0) {
            pw_bundle_free(b);
            return pw_err_prefix(err, "%s", source);
        }
    }
    if (pw_reader_left(&r) != 0) {
        pw_bundle_free(b);
        return pw_err_set(err, "%s: corrupted bundle: %zu unexpected bytes after the "
                               "last section", source, body - r.off);
    }
    uint8_t digest[PW_SHA256_LEN];
    if (pw_sha256(data, body, digest) < 0) {
        pw_bundle_free(b);
        return pw_err_set(err, "%s: out of memory while hashing", source);
    }
    if (memcmp(digest, (const uint8_t *)data + body, PW_SHA256_LEN) != 0) {
        pw_bundle_free(b);
        return pw_err_set(err, "%s: corrupted bundle: the SHA-256 does not match the "
                               "content", source);
    }
    memcpy(b->digest, digest, PW_SHA256_LEN);
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int pw_bundle_write_file(struct pw_bundle *b, const char *path, struct pw_err *err)
{
    struct pw_buf buf;
    pw_buf_init(&buf);
    if (pw_bundle_encode(b, &buf, err) < 0) {
        pw_buf_release(&buf);
        return -1;
    }
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= sizeof tmp) {
        pw_buf_release(&buf);
        return pw_err_set(err, "%s: path too long", path);
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        pw_buf_release(&buf);
        return pw_err_set(err, "%s: cannot create a temporary file next to it: %s", path,
                          strerror(errno));
    }
    int rc = 0;
    if (write_all(fd, buf.data, buf.len) < 0 || fsync(fd) < 0)
        rc = pw_err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    if (close(fd) < 0 && rc == 0)
        rc = pw_err_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    if (rc == 0 && fchmodat(AT_FDCWD, tmp, 0644, 0) < 0)
        rc = pw_err_set(err, "%s: cannot set its mode: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) < 0)
        rc = pw_err_set(err, "%s: cannot rename %s into place: %s", path, tmp,
                        strerror(errno));
    if (rc < 0)
        unlink(tmp);
    else
        fsync_dir_of(path);
    pw_buf_release(&buf);
    return rc;
}

int pw_bundle_read_file(const char *path, struct pw_bundle *b, struct pw_err *err)
{
    memset(b, 0, sizeof *b);
    struct pw_buf file;
    pw_buf_init(&file);
    int rc = pw_buf_read_file(&file, path, PW_BUNDLE_MAX_BYTES, err);
    if (rc == 0)
        rc = pw_bundle_decode(file.data, file.len, path, b, err);
    pw_buf_release(&file);
    return rc;
}
