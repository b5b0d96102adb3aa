/* train/bundle_cmds.c — see bundle_cmds.h. Output is for people first
 * (aligned "key: value" lines); `inspect --json` is for machines. */
#include "train/bundle_cmds.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "models/bundle.h"
#include "models/store.h"

static void iso_time(int64_t s, char out[32])
{
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)s);
}

static const char *hex_or_none(const uint8_t d[PW_SHA256_LEN], char buf[PW_SHA256_HEX_LEN + 1])
{
    for (int i = 0; i < PW_SHA256_LEN; i++)
        if (d[i]) {
            pw_sha256_hex(d, buf);
            return buf;
        }
    return "none";
}

static int load(const char *path, struct pw_bundle *b)
{
    struct pw_err err = {{0}};
    if (pw_bundle_read_file(path, b, &err) < 0) {
        fprintf(stderr, "pipewatch-train: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int inspect_json(const struct pw_bundle *b)
{
    char hex[PW_SHA256_HEX_LEN + 1], when[32];
    json_t *o = json_object();
    pw_sha256_hex(b->digest, hex);
    json_object_set_new(o, "digest", json_string(hex));
    json_object_set_new(o, "format_version", json_integer(b->version));
    iso_time(b->created_s, when);
    json_object_set_new(o, "created", json_string(when));
    const char *p = hex_or_none(b->parent, hex);
    json_object_set_new(o, "parent", strcmp(p, "none") ? json_string(p) : json_null());
    pw_sha256_hex(b->fingerprint, hex);
    json_object_set_new(o, "trained_on_fingerprint", json_string(hex));
    json_object_set_new(o, "trained_on", json_string(b->trained_on));
    json_t *secs = json_array();
    for (size_t i = 0; i < b->nsections; i++) {
        uint8_t d[PW_SHA256_LEN];
        pw_sha256(b->sections[i].data, b->sections[i].len, d);
        pw_sha256_hex(d, hex);
        json_array_append_new(secs, json_pack("{s:s, s:s, s:I, s:s}", "kind",
                                              b->sections[i].kind, "name", b->sections[i].name,
                                              "bytes", (json_int_t)b->sections[i].len,
                                              "sha256", hex));
    }
    json_object_set_new(o, "sections", secs);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return 1;
    puts(text);
    free(text);
    return 0;
}

int pw_cmd_inspect(int argc, char **argv)
{
    bool json = false;
    static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0, 0, 0, 0}};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c != 'j')
            return 2;
        json = true;
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: pipewatch-train inspect [--json] BUNDLE\n");
        return 2;
    }
    struct pw_bundle b;
    if (load(argv[optind], &b) < 0)
        return 1;
    int rc = 0;
    if (json) {
        rc = inspect_json(&b);
    } else {
        char hex[PW_SHA256_HEX_LEN + 1], when[32];
        pw_sha256_hex(b.digest, hex);
        iso_time(b.created_s, when);
        printf("bundle:      %s\n", argv[optind]);
        printf("digest:      %s\n", hex);
        printf("format:      version %u\n", b.version);
        printf("created:     %s\n", when);
        printf("parent:      %s\n", hex_or_none(b.parent, hex));
        pw_sha256_hex(b.fingerprint, hex);
        printf("trained on:  %s\n", b.trained_on[0] ? b.trained_on : "(not recorded)");
        printf("fingerprint: %s\n", hex);
        printf("sections:    %zu\n", b.nsections);
        for (size_t i = 0; i < b.nsections; i++)
            printf("  %s  %-32s %10zu bytes\n", b.sections[i].kind, b.sections[i].name,
                   b.sections[i].len);
    }
    pw_bundle_free(&b);
    return rc;
}

static bool same_payload(const struct pw_bundle_section *a, const struct pw_bundle_section *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int pw_cmd_diff(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pipewatch-train diff BUNDLE BUNDLE\n");
        return 2;
    }
    struct pw_bundle a, b;
    if (load(argv[1], &a) < 0)
        return 1;
    if (load(argv[2], &b) < 0) {
        pw_bundle_free(&a);
        return 1;
    }
    int differences = 0;
    char ha[PW_SHA256_HEX_LEN + 1], hb[PW_SHA256_HEX_LEN + 1];
    if (memcmp(a.parent, b.parent, PW_SHA256_LEN) != 0) {
        printf("parent:      %s -> %s\n", hex_or_none(a.parent, ha), hex_or_none(b.parent, hb));
        differences++;
    }
    if (memcmp(b.parent, a.digest, PW_SHA256_LEN) == 0)
        printf("lineage:     the second is a child of the first\n");
    else if (memcmp(a.parent, b.digest, PW_SHA256_LEN) == 0)
        printf("lineage:     the first is a child of the second\n");
    if (a.created_s != b.created_s) {
        char wa[32], wb[32];
        iso_time(a.created_s, wa);
        iso_time(b.created_s, wb);
        printf("created:     %s -> %s\n", wa, wb);
        differences++;
    }
    if (strcmp(a.trained_on, b.trained_on) != 0 ||
        memcmp(a.fingerprint, b.fingerprint, PW_SHA256_LEN) != 0) {
        printf("trained on:  \"%s\" -> \"%s\"%s\n", a.trained_on, b.trained_on,
               memcmp(a.fingerprint, b.fingerprint, PW_SHA256_LEN) ? " (other data)" : "");
        differences++;
    }
    for (size_t i = 0; i < a.nsections; i++) {
        const struct pw_bundle_section *s = &a.sections[i];
        const struct pw_bundle_section *t = pw_bundle_find(&b, s->kind, s->name);
        if (!t)
            printf("- %s %s (%zu bytes)\n", s->kind, s->name, s->len);
        else if (!same_payload(s, t))
            printf("~ %s %s (%zu -> %zu bytes)\n", s->kind, s->name, s->len, t->len);
        differences += !t || !same_payload(s, t);
    }
    for (size_t i = 0; i < b.nsections; i++) {
        const struct pw_bundle_section *t = &b.sections[i];
        if (!pw_bundle_find(&a, t->kind, t->name)) {
            printf("+ %s %s (%zu bytes)\n", t->kind, t->name, t->len);
            differences++;
        }
    }
    printf(differences ? "%d difference%s\n" : "identical content\n", differences,
           differences == 1 ? "" : "s");
    pw_bundle_free(&a);
    pw_bundle_free(&b);
    return differences ? 1 : 0;
}

int pw_cmd_verify(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pipewatch-train verify DIR\n");
        return 2;
    }
    struct pw_store_report r;
    struct pw_err err = {{0}};
    int rc = pw_store_verify(argv[1], &r, &err);
    printf("bundles: %zu, valid: %zu, in service: %s, chain: %zu link%s\n", r.bundles,
           r.valid, r.has_current ? "yes" : "none", r.chain, r.chain == 1 ? "" : "s");
    if (rc < 0) {
        fprintf(stderr, "pipewatch-train: verify %s: %s\n", argv[1], err.msg);
        return 1;
    }
    printf("ok\n");
    return 0;
}

int pw_cmd_promote(int argc, char **argv)
{
    const char *dir = NULL;
    int force = 0;
    static const struct option opts[] = {{"models-dir", required_argument, NULL, 'd'},
                                         {"force", no_argument, NULL, 'f'},
                                         {0, 0, 0, 0}};
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (c == 'd')
            dir = optarg;
        else if (c == 'f')
            force = 1;
        else
            return 2;
    }
    if (!dir || optind + 1 != argc) {
        fprintf(stderr, "usage: pipewatch-train promote --models-dir DIR [--force] BUNDLE\n");
        return 2;
    }
    char hex[PW_SHA256_HEX_LEN + 1];
    struct pw_err err = {{0}};
    if (pw_store_promote(dir, argv[optind], force, hex, &err) < 0) {
        fprintf(stderr, "pipewatch-train: promote: %s\n", err.msg);
        return 1;
    }
    printf("in service: %s (%s/bundles/%s.pwb)\n", hex, dir, hex);
    return 0;
}
