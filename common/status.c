/* common/status.c — /metrics and /healthz on libmicrohttpd in "external
 * select" mode: no thread of its own, driven by pw_status_run from the
 * daemon's loop (see status.h for why). */
#include "common/status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <openssl/crypto.h>

#include "common/buf.h"

struct route {
    const char *prefix;
    pw_status_route_fn fn;
    void *arg;
};

struct pw_status {
    struct MHD_Daemon *d;
    pw_status_render_fn render;
    void *arg;
    uint16_t port;
    struct pw_buf body;
    struct route routes[PW_STATUS_MAX_ROUTES];
    size_t nroutes;
    char *token;           /* NULL: no check */
};

/* A request's body as it arrives in pieces; NULL until the first call. */
struct upload {
    struct pw_buf body;
    bool too_large;
};

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    struct upload *u = *req_cls;
    if (u) {
        pw_buf_release(&u->body);
        free(u);
        *req_cls = NULL;
    }
}

static enum MHD_Result serve_route(struct pw_status *st, const struct route *rt,
                                   struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *upload,
                                   size_t *upload_size, void **req_cls);

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
                             const char *type, const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static bool authorized(const struct pw_status *st, struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    size_t n = strlen(st->token);
    /* Constant time in the token's bytes: no timing hint of a prefix. */
    return strlen(h) == n && CRYPTO_memcmp(h, st->token, n) == 0;
}

static enum MHD_Result unauthorized(struct MHD_Connection *conn)
{
    static const char body[] = "unauthorized: send Authorization: Bearer <token>\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(
        sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain");
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(conn, 401, r);
    MHD_destroy_response(r);
    return ret;
}

int pw_status_set_token_file(struct pw_status *st, const char *path, struct pw_err *err)
{
    if (!path || !*path)
        return 0;
    struct pw_buf b;
    pw_buf_init(&b);
    if (pw_buf_read_file(&b, path, 4096, err) < 0) {
        pw_buf_release(&b);
        return pw_err_prefix(err, "status token_file");
    }
    char *t = b.data ? b.data : "";
    t[strcspn(t, "\r\n")] = '\0';
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        t[--n] = '\0';
    if (!n) {
        pw_buf_release(&b);
        return pw_err_set(err, "status token_file %s: the first line is empty", path);
    }
    char *copy = strdup(t);
    OPENSSL_cleanse(b.data, b.len);
    pw_buf_release(&b);
    if (!copy)
        return pw_err_set(err, "out of memory");
    if (st->token) {
        OPENSSL_cleanse(st->token, strlen(st->token));
        free(st->token);
    }
    st->token = copy;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    (void)version;
    struct pw_status *st = cls;
    if (st->token && strcmp(url, "/healthz") != 0 && !authorized(st, conn))
        return unauthorized(conn);
    for (size_t i = 0; i < st->nroutes; i++)
        if (strncmp(url, st->routes[i].prefix, strlen(st->routes[i].prefix)) == 0)
            return serve_route(st, &st->routes[i], conn, url, method, upload,
                               upload_size, req_cls);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", "method not allowed\n", 19);
    if (strcmp(url, "/healthz") == 0)
        return reply(conn, 200, "text/plain", "ok\n", 3);
    if (strcmp(url, "/metrics") == 0) {
        pw_buf_reset(&st->body);
        st->render(&st->body, st->arg);
        if (st->body.oom)
            return reply(conn, 500, "text/plain", "out of memory\n", 14);
        return reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
                     st->body.data ? st->body.data : "", st->body.len);
    }
    return reply(conn, 404, "text/plain", "not found: try /metrics\n", 24);
}

static enum MHD_Result serve_route(struct pw_status *st, const struct route *rt,
                                   struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *upload,
                                   size_t *upload_size, void **req_cls)
{
    struct upload *u = *req_cls;
    if (!u) {   /* the headers: the body, if any, comes in the next calls */
        if (!(u = calloc(1, sizeof *u)))
            return MHD_NO;
        *req_cls = u;
        return MHD_YES;
    }
    if (*upload_size) {
        if (u->body.len + *upload_size > PW_STATUS_MAX_BODY)
            u->too_large = true;
        else
            pw_buf_append(&u->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (u->too_large)
        return reply(conn, 413, "text/plain", "request body too large\n", 23);
    const char *type = "application/json";
    pw_buf_reset(&st->body);
    int code = rt->fn(method, url, u->body.data ? u->body.data : "", u->body.len,
                      &st->body, &type, rt->arg);
    if (st->body.oom)
        return reply(conn, 500, "text/plain", "out of memory\n", 14);
    return reply(conn, (unsigned)code, type, st->body.data ? st->body.data : "",
                 st->body.len);
}

int pw_status_route(struct pw_status *st, const char *prefix,
                    pw_status_route_fn fn, void *arg, struct pw_err *err)
{
    if (st->nroutes == PW_STATUS_MAX_ROUTES)
        return pw_err_set(err, "too many status routes");
    st->routes[st->nroutes++] = (struct route){prefix, fn, arg};
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_in *sin,
                        struct pw_err *err)
{
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return pw_err_set(err, "status listen address \"%s\": expected HOST:PORT",
                          listen);
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl == 0 || hl >= sizeof host)
        return pw_err_set(err, "status listen address \"%s\": bad host", listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return pw_err_set(err, "status listen address \"%s\": bad port", listen);
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
        return pw_err_set(err, "status listen address \"%s\": \"%s\" is not an "
                          "IPv4 address", listen, host);
    return 0;
}

struct pw_status *pw_status_start(const char *listen, pw_status_render_fn render,
                                  void *arg, struct pw_err *err)
{
    struct sockaddr_in sin;
    if (parse_listen(listen, &sin, err) < 0)
        return NULL;
    struct pw_status *st = calloc(1, sizeof *st);
    if (!st) {
        pw_err_set(err, "out of memory");
        return NULL;
    }
    st->render = render;
    st->arg = arg;
    st->d = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, st,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_END);
    if (!st->d) {
        free(st);
        pw_err_set(err, "cannot listen on %s for the status port (in use?)", listen);
        return NULL;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_BIND_PORT);
    st->port = info ? info->port : ntohs(sin.sin_port);
    return st;
}

void pw_status_run(struct pw_status *st)
{
    if (st)
        MHD_run(st->d);
}

uint16_t pw_status_port(const struct pw_status *st) { return st->port; }

int pw_status_fd(const struct pw_status *st)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(st->d, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

int64_t pw_status_timeout_ms(const struct pw_status *st)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(st->d, &ms) != MHD_YES)
        return -1;
    return ms > INT64_MAX ? INT64_MAX : (int64_t)ms;
}

void pw_status_stop(struct pw_status *st)
{
    if (!st)
        return;
    MHD_stop_daemon(st->d);
    pw_buf_release(&st->body);
    if (st->token) {
        OPENSSL_cleanse(st->token, strlen(st->token));
        free(st->token);
    }
    free(st);
}
