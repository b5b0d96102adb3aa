/* models/store.h — the models directory the analyzer loads from, and the
 * one place that changes which bundle is in service.
 *
 * Layout:
 *   DIR/bundles/<digest>.pwb   every bundle ever promoted, named by its
 *                              SHA-256 (models/bundle.h), never rewritten
 *   DIR/current                a symbolic link to bundles/<digest>.pwb: the
 *                              bundle in service
 *
 * Why a symlink: promotion must be atomic for a reader that may look at
 * any moment (the analyzer reloads on a signal or a timer). The bundle is
 * first written whole under its final name, then a new link is made under
 * a temporary name and renamed over `current`; rename(2) replaces a link in
 * one step, so a reader sees the old bundle or the new one, never neither.
 * Keeping every promoted bundle keeps the parent chain verifiable and makes
 * a rollback one more promotion. */
#ifndef PW_MODELS_STORE_H
#define PW_MODELS_STORE_H

#include <stddef.h>

#include "common/err.h"
#include "common/sha256.h"
#include "models/bundle.h"

/* Verifies the bundle at bundle_path (pw_bundle_read_file), copies it to
 * DIR/bundles/<digest>.pwb (atomically; creating DIR and DIR/bundles when
 * missing) and points DIR/current at it. Unless `force`, it refuses a
 * bundle that is not the one in service, its child (parent = the one in
 * service) or its parent (a one-step rollback); and, when nothing is in
 * service, a bundle whose parent is not in DIR/bundles. Writes the
 * digest's hex to digest_hex. 0 or -1. */
int pw_store_promote(const char *dir, const char *bundle_path, int force,
                     char digest_hex[PW_SHA256_HEX_LEN + 1], struct pw_err *err);

/* Loads the bundle in service. Returns 0; 1 when nothing is in service
 * (no `current`), with b zeroed; -1 with err on any failure (a dangling
 * link, a corrupted bundle). */
int pw_store_load_current(const char *dir, struct pw_bundle *b, struct pw_err *err);

/* What pw_store_verify found. */
struct pw_store_report {
    size_t bundles;          /* files in DIR/bundles */
    size_t valid;            /* of those, loaded with a matching digest and name */
    size_t chain;            /* links followed from current to the root */
    int has_current;
};

/* Checks every bundle in DIR/bundles (digest, and name = digest) and the
 * parent chain from `current` to the root (each parent present and
 * valid). Returns 0 when everything holds; -1 with err naming the first
 * broken thing (the chain is walked from current, so "the first broken
 * link" is the newest). The report is filled either way. */
int pw_store_verify(const char *dir, struct pw_store_report *r, struct pw_err *err);

#endif
