/* models/store.c — see store.h for the layout and why promotion is a
 * rename of a symlink. */
#include "models/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_BYTES 4096

static bool is_zero(const uint8_t d[PW_SHA256_LEN])
{
    for (int i = 0; i < PW_SHA256_LEN; i++)
        if (d[i])
            return false;
    return true;
}

static int make_dir(const char *path, struct pw_err *err)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return pw_err_set(err, "%s: cannot create the directory: %s", path, strerror(errno));
}

static int bundle_path(char *out, const char *dir, const uint8_t d[PW_SHA256_LEN],
                       struct pw_err *err)
{
    char hex[PW_SHA256_HEX_LEN + 1];
    pw_sha256_hex(d, hex);
    if ((size_t)snprintf(out, PATH_BYTES, "%s/bundles/%s.pwb", dir, hex) >= PATH_BYTES)
        return pw_err_set(err, "%s: path too long", dir);
    return 0;
}

int pw_store_load_current(const char *dir, struct pw_bundle *b, struct pw_err *err)
{
    memset(b, 0, sizeof *b);
    char link[PATH_BYTES];
    if ((size_t)snprintf(link, sizeof link, "%s/current", dir) >= sizeof link)
        return pw_err_set(err, "%s: path too long", dir);
    struct stat st;
    if (lstat(link, &st) < 0) {
        if (errno == ENOENT)
            return 1;
        return pw_err_set(err, "%s: %s", link, strerror(errno));
    }
    if (stat(link, &st) < 0)
        return pw_err_set(err, "%s: the bundle in service is missing (dangling link): %s",
                          link, strerror(errno));
    return pw_bundle_read_file(link, b, err);
}

static int link_current(const char *dir, const char *hex, struct pw_err *err)
{
    char target[PATH_BYTES], tmp[PATH_BYTES], link[PATH_BYTES];
    snprintf(target, sizeof target, "bundles/%s.pwb", hex);
    if ((size_t)snprintf(link, sizeof link, "%s/current", dir) >= sizeof link ||
        (size_t)snprintf(tmp, sizeof tmp, "%s/.current.%ld", dir, (long)getpid()) >= sizeof tmp)
        return pw_err_set(err, "%s: path too long", dir);
    unlink(tmp);
    if (symlink(target, tmp) < 0)
        return pw_err_set(err, "%s: cannot create a link: %s", tmp, strerror(errno));
    if (rename(tmp, link) < 0) {
        int e = errno;
        unlink(tmp);
        return pw_err_set(err, "%s: cannot replace it: %s", link, strerror(e));
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

int pw_store_promote(const char *dir, const char *path, int force,
                     char digest_hex[PW_SHA256_HEX_LEN + 1], struct pw_err *err)
{
    struct pw_bundle b, cur;
    if (pw_bundle_read_file(path, &b, err) < 0)
        return -1;
    char bundles[PATH_BYTES], dest[PATH_BYTES];
    int rc = 0;
    if ((size_t)snprintf(bundles, sizeof bundles, "%s/bundles", dir) >= sizeof bundles)
        rc = pw_err_set(err, "%s: path too long", dir);
    if (rc == 0)
        rc = make_dir(dir, err);
    if (rc == 0)
        rc = make_dir(bundles, err);
    int in_service = rc == 0 ? pw_store_load_current(dir, &cur, err) : -1;
    if (in_service < 0 && rc == 0)
        rc = force ? 0 : pw_err_prefix(err, "cannot check %s's parent against the bundle "
                                            "in service (--force to promote anyway)", path);
    if (rc == 0 && !force) {
        char want[PW_SHA256_HEX_LEN + 1], have[PW_SHA256_HEX_LEN + 1];
        pw_sha256_hex(b.parent, have);
        if (in_service == 0 && memcmp(cur.digest, b.digest, PW_SHA256_LEN) != 0 &&
            memcmp(cur.parent, b.digest, PW_SHA256_LEN) != 0 &&
            memcmp(b.parent, cur.digest, PW_SHA256_LEN) != 0) {
            pw_sha256_hex(cur.digest, want);
            rc = pw_err_set(err, "%s: its parent is %s, but the bundle in service is %s "
                                 "(--force to promote it anyway)", path, have, want);
        } else if (in_service == 1 && !is_zero(b.parent)) {
            char parent_path[PATH_BYTES];
            if (bundle_path(parent_path, dir, b.parent, err) < 0 ||
                access(parent_path, F_OK) < 0)
                rc = pw_err_set(err, "%s: its parent %s is not in %s (--force to promote "
                                     "it anyway)", path, have, bundles);
        }
    }
    if (in_service == 0)
        pw_bundle_free(&cur);
    if (rc == 0)
        rc = bundle_path(dest, dir, b.digest, err);
    if (rc == 0 && access(dest, F_OK) < 0)
        rc = pw_bundle_write_file(&b, dest, err);
    pw_sha256_hex(b.digest, digest_hex);
    if (rc == 0)
        rc = link_current(dir, digest_hex, err);
    pw_bundle_free(&b);
    return rc;
}

static bool bundle_name(const char *name, uint8_t d[PW_SHA256_LEN])
{
    size_t n = strlen(name);
    if (n != PW_SHA256_HEX_LEN + 4 || strcmp(name + PW_SHA256_HEX_LEN, ".pwb") != 0)
        return false;
    char hex[PW_SHA256_HEX_LEN + 1];
    memcpy(hex, name, PW_SHA256_HEX_LEN);
    hex[PW_SHA256_HEX_LEN] = '\0';
    return pw_sha256_from_hex(hex, d) == 0;
}

int pw_store_verify(const char *dir, struct pw_store_report *r, struct pw_err *err)
{
    memset(r, 0, sizeof *r);
    char bundles[PATH_BYTES];
    if ((size_t)snprintf(bundles, sizeof bundles, "%s/bundles", dir) >= sizeof bundles)
        return pw_err_set(err, "%s: path too long", dir);
    DIR *d = opendir(bundles);
    if (!d)
        return pw_err_set(err, "%s: cannot read: %s", bundles, strerror(errno));
    int rc = 0;
    struct pw_err first = {{0}};
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        r->bundles++;
        char path[PATH_BYTES + 256];
        snprintf(path, sizeof path, "%s/%s", bundles, e->d_name);
        uint8_t named[PW_SHA256_LEN];
        struct pw_bundle b;
        struct pw_err e2 = {{0}};
        if (!bundle_name(e->d_name, named)) {
            pw_err_set(&e2, "%s: not named <sha256>.pwb", path);
        } else if (pw_bundle_read_file(path, &b, &e2) == 0) {
            bool same = memcmp(named, b.digest, PW_SHA256_LEN) == 0;
            pw_bundle_free(&b);
            if (same) {
                r->valid++;
                continue;
            }
            pw_err_set(&e2, "%s: its content's SHA-256 is not its name", path);
        }
        if (rc == 0)
            first = e2;
        rc = -1;
    }
    closedir(d);

    /* The chain, newest first: its first broken link wins over the scan's. */
    struct pw_bundle b;
    struct pw_err chain_err = {{0}};
    int in_service = pw_store_load_current(dir, &b, &chain_err);
    r->has_current = in_service == 0;
    if (in_service < 0) {
        *err = chain_err;
        return pw_err_prefix(err, "the bundle in service");
    }
    for (size_t guard = 0; in_service == 0 && guard <= r->bundles; guard++) {
        r->chain++;
        if (is_zero(b.parent)) {
            pw_bundle_free(&b);
            break;
        }
        char path[PATH_BYTES], child[PW_SHA256_HEX_LEN + 1];
        pw_sha256_hex(b.digest, child);
        int prc = bundle_path(path, dir, b.parent, &chain_err);
        pw_bundle_free(&b);
        if (prc < 0 || pw_bundle_read_file(path, &b, &chain_err) < 0) {
            *err = chain_err;
            return pw_err_prefix(err, "broken link: the parent of %s", child);
        }
        if (guard == r->bundles) {
            pw_bundle_free(&b);
            return pw_err_set(err, "broken chain: a cycle through %s", child);
        }
    }
    if (rc < 0)
        *err = first;
    return rc;
}
