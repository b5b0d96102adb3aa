/* common/status.h — the daemons' local HTTP status port (libmicrohttpd).
 *
 * Serves GET /metrics (Prometheus text format 0.0.4, written by the
 * program's render callback) and GET /healthz ("ok"). It runs inside the
 * program's own loop (pw_status_run, never blocking) rather than on a thread
 * of its own, so the render callback reads the program's counters without
 * locks; the loop waits on pw_status_fd, so an idle daemon does not wake up
 * to look for requests. Binds to the address given; the default configurations use
 * loopback; a bearer token can be required (pw_status_set_token_file). */
#ifndef PW_STATUS_H
#define PW_STATUS_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct pw_status;

typedef void (*pw_status_render_fn)(struct pw_buf *out, void *arg);

/* listen: "HOST:PORT" (IPv4 literal, or "localhost"); port 0 picks a free
 * one (see pw_status_port). Keeps `arg` for the render calls. */
struct pw_status *pw_status_start(const char *listen, pw_status_render_fn render,
                                  void *arg, struct pw_err *err);

/* Answers whatever requests are pending; returns at once. */
void pw_status_run(struct pw_status *st);

/* A file descriptor that becomes readable when pw_status_run has work (an
 * epoll descriptor), for the program's poll(); and the longest the program
 * may wait before calling pw_status_run anyway (-1: no limit). */
int pw_status_fd(const struct pw_status *st);
int64_t pw_status_timeout_ms(const struct pw_status *st);

/* Further endpoints (the analyzer's API): requests whose path starts
 * with `prefix` go to fn, with the method, the path, and the request body
 * (POST, PUT; at most PW_STATUS_MAX_BODY bytes, else 413 without calling
 * fn). fn writes the response body to out, may set *content_type (default
 * application/json) and returns the HTTP status. At most
 * PW_STATUS_MAX_ROUTES; the first matching prefix wins. Keeps `arg`.
 * 0, or -1 with err when the table is full. */
#define PW_STATUS_MAX_ROUTES 8
#define PW_STATUS_MAX_BODY (64 * 1024)
typedef int (*pw_status_route_fn)(const char *method, const char *path,
                                  const char *body, size_t body_len,
                                  struct pw_buf *out, const char **content_type,
                                  void *arg);
int pw_status_route(struct pw_status *st, const char *prefix,
                    pw_status_route_fn fn, void *arg, struct pw_err *err);

/* Bearer-token access: from now on every request but GET /healthz must
 * carry "Authorization: Bearer TOKEN" (as Prometheus sends it from its
 * scrape config's authorization.credentials_file), else 401. The token is
 * the first line of the file at `path`, without surrounding white space;
 * it is kept in memory only and never logged. NULL or "" path: no check.
 * 0, or -1 with err (unreadable file, empty token). */
int pw_status_set_token_file(struct pw_status *st, const char *path, struct pw_err *err);

/* The port actually bound. */
uint16_t pw_status_port(const struct pw_status *st);

void pw_status_stop(struct pw_status *st);   /* NULL is fine */

#endif
