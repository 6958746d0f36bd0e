/* px_query_http.c: the query.listen HTTP endpoint (libmicrohttpd) and the
 * small GET client pdnsx-query --cluster uses to ask it. */
#include "px_query.h"
#include "px_listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

/* ---- server ---------------------------------------------------------------- */

struct px_query_server {
    struct MHD_Daemon *daemon;
    px_store *store;
    uint16_t port;
};

static enum MHD_Result px_query_send(struct MHD_Connection *conn, unsigned status, char *body,
                                     size_t len, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result px_query_text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    char *body = NULL;
    if (asprintf(&body, "%u %s\n", status, msg) < 0)
        return MHD_NO;
    return px_query_send(conn, status, body, strlen(body), "text/plain; charset=utf-8");
}

/* The parameters of one request; anything but after/before (once each)
 * is a bad request rather than silently ignored. */
typedef struct px_query_args {
    const char *after, *before;
    bool bad;
} px_query_args;

static enum MHD_Result px_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    px_query_args *a = cls;
    const char **slot = strcmp(key, "after") == 0    ? &a->after
                        : strcmp(key, "before") == 0 ? &a->before
                                                     : NULL;
    if (!slot || !value || *slot)
        a->bad = true;
    else
        *slot = value;
    return MHD_YES;
}

static enum MHD_Result px_query_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **req_cls)
{
    (void)version, (void)upload_data, (void)upload_data_size, (void)req_cls;
    px_query_server *s = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return px_query_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET");
    px_query_args args = {0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, px_query_arg, &args);
    char why[256] = "";
    px_query_req req;
    px_err err = px_query_req_from_http(&req, url, args.after, args.before, why, sizeof(why));
    if (err == PX_ERR_NOTFOUND)
        return px_query_text(conn, MHD_HTTP_NOT_FOUND, why);
    if (err == PX_OK && args.bad)
        return px_query_text(conn, MHD_HTTP_BAD_REQUEST, "parameters: after=T and before=T only");
    if (err != PX_OK)
        return px_query_text(conn, MHD_HTTP_BAD_REQUEST, why[0] ? why : px_strerror(err));
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    err = px_query_run(s->store, &req, f, NULL);
    if (fclose(f) != 0 && err == PX_OK)
        err = PX_ERR_NOMEM;
    if (err != PX_OK) {
        free(body);
        return px_query_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, px_strerror(err));
    }
    return px_query_send(conn, MHD_HTTP_OK, body, len, "application/x-ndjson");
}

/* We decode path segments ourselves, after splitting on '/', so an
 * encoded slash stays inside its segment: MHD must not unescape first. */
static size_t px_query_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

/* "1.2.3.4:8080" or "[::1]:8080" into host and port; false if neither. */
static bool px_query_split_hostport(const char *hp, char *host, size_t hostlen, char *port,
                                    size_t portlen)
{
    const char *colon;
    const char *h = hp;
    size_t hl;
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':')
            return false;
        h = hp + 1, hl = (size_t)(end - h), colon = end + 1;
    } else {
        colon = strchr(hp, ':');
        if (!colon || strchr(colon + 1, ':'))
            return false;
        hl = (size_t)(colon - hp);
    }
    size_t pl = strlen(colon + 1);
    if (hl == 0 || hl >= hostlen || pl == 0 || pl >= portlen)
        return false;
    memcpy(host, h, hl), host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return true;
}

px_query_server *px_query_server_start(const char *listen, px_store *store, char *errbuf,
                                       size_t errlen)
{
    if (!listen || !store) {
        snprintf(errbuf, errlen, "query.listen: no address or no store");
        return NULL;
    }
    px_query_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    px_listen l;
    if (px_listen_tcp("query.listen", listen, 64, &l, errbuf, errlen) < 0) {
        free(s);
        return NULL;
    }
    int fd = l.fd, family = l.family;
    s->store = store;
    s->port = l.port;
    /* A small pool: each lookup holds one LMDB read transaction; slow
     * clients must not stall the others. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon =
        MHD_start_daemon(flags, 0, NULL, NULL, px_query_handle, s, MHD_OPTION_LISTEN_SOCKET, fd,
                         MHD_OPTION_THREAD_POOL_SIZE, 4u, MHD_OPTION_CONNECTION_LIMIT, 64u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_UNESCAPE_CALLBACK,
                         px_query_no_unescape, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(errbuf, errlen, "query.listen %s: cannot start the HTTP server", listen);
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

uint16_t px_query_server_port(const px_query_server *s)
{
    return s ? s->port : 0;
}

void px_query_server_stop(px_query_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon); /* also closes the listening socket */
    free(s);
}

/* ---- client -------------------------------------------------------------------- */

enum { PX_QUERY_MAX_ANSWER = 512 << 20 }; /* refuse answers beyond 512 MiB */

static int64_t px_query_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline: 1 ready, 0 timeout, -1 error. */
static int px_query_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - px_query_now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

static int px_query_connect_one(const struct addrinfo *ai, int64_t deadline)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int err = 0;
    socklen_t el = sizeof(err);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno == EINPROGRESS && px_query_wait(fd, POLLOUT, deadline) == 1 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
        return fd;
    if (err)
        errno = err;
    close(fd);
    return -1;
}

static int px_query_connect(const char *hostport, int64_t deadline, char *errbuf, size_t errlen)
{
    char host[256], port[16];
    if (!px_query_split_hostport(hostport, host, sizeof(host), port, sizeof(port))) {
        snprintf(errbuf, errlen, "%s: expected HOST:PORT or [IPv6]:PORT", hostport);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(errbuf, errlen, "%s: %s", hostport, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next)
        fd = px_query_connect_one(p, deadline);
    if (fd < 0)
        snprintf(errbuf, errlen, "%s: connect: %s", hostport,
                 errno ? strerror(errno) : "timed out");
    freeaddrinfo(ai);
    return fd;
}

static px_err px_query_send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n, len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return PX_ERR_IO;
        int w = px_query_wait(fd, POLLOUT, deadline);
        if (w <= 0)
            return w == 0 ? PX_ERR_AGAIN : PX_ERR_IO;
    }
    return PX_OK;
}

/* Reads until the peer closes (we sent Connection: close). */
static px_err px_query_recv_all(int fd, char **buf, size_t *len, int64_t deadline)
{
    size_t cap = 0;
    *buf = NULL, *len = 0;
    for (;;) {
        if (cap - *len < 4096) {
            if (cap >= PX_QUERY_MAX_ANSWER)
                return PX_ERR_FULL;
            cap = cap ? cap * 2 : 16384;
            char *nb = realloc(*buf, cap + 1);
            if (!nb)
                return PX_ERR_NOMEM;
            *buf = nb;
        }
        ssize_t n = recv(fd, *buf + *len, cap - *len, 0);
        if (n > 0) {
            *len += (size_t)n;
        } else if (n == 0) {
            (*buf)[*len] = '\0';
            return PX_OK;
        } else if (errno != EAGAIN && errno != EINTR) {
            return PX_ERR_IO;
        } else {
            int w = px_query_wait(fd, POLLIN, deadline);
            if (w <= 0)
                return w == 0 ? PX_ERR_AGAIN : PX_ERR_IO;
        }
    }
}

/* Decodes a chunked body in place; false if malformed or cut short. */
static bool px_query_dechunk(char *body, size_t len, size_t *out_len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *eol = memmem(body + in, len - in, "\r\n", 2);
        if (!eol)
            return false;
        char *end = NULL;
        errno = 0;
        unsigned long long size = strtoull(body + in, &end, 16);
        if (errno || end == body + in || (*end != '\r' && *end != ';'))
            return false;
        in = (size_t)(eol - body) + 2;
        if (size == 0) {
            *out_len = out;
            body[out] = '\0';
            return true;
        }
        if (size > len - in || len - in - size < 2 || memcmp(body + in + size, "\r\n", 2) != 0)
            return false;
        memmove(body + out, body + in, size);
        out += size, in += size + 2;
    }
}

/* Splits the raw answer into status and body (moved to the start of raw). */
static px_err px_query_parse_answer(char *raw, size_t len, int *status, size_t *body_len)
{
    char *hend = memmem(raw, len, "\r\n\r\n", 4);
    if (!hend || len < 12 || strncmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ')
        return PX_ERR_PROTO;
    *hend = '\0';
    char *end = NULL;
    long code = strtol(raw + 9, &end, 10);
    if (end != raw + 12 || code < 100 || code > 599)
        return PX_ERR_PROTO;
    *status = (int)code;
    bool chunked = false;
    long long clen = -1;
    for (char *line = strstr(raw, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        const char *h = line + 2;
        if (strncasecmp(h, "transfer-encoding:", 18) == 0 && strcasestr(h, "chunked"))
            chunked = true;
        else if (strncasecmp(h, "content-length:", 15) == 0)
            clen = strtoll(h + 15, NULL, 10);
    }
    size_t off = (size_t)(hend - raw) + 4, blen = len - off;
    memmove(raw, raw + off, blen);
    raw[blen] = '\0';
    if (chunked && !px_query_dechunk(raw, blen, &blen))
        return PX_ERR_PROTO;
    if (!chunked && clen >= 0) {
        if ((size_t)clen > blen)
            return PX_ERR_PROTO; /* cut short */
        blen = (size_t)clen;
        raw[blen] = '\0';
    }
    *body_len = blen;
    return PX_OK;
}

px_err px_query_http_get(const char *hostport, const char *path, int timeout_ms, int *status,
                         char **body, size_t *len, char *errbuf, size_t errlen)
{
    *body = NULL, *len = 0;
    int64_t deadline = px_query_now_ms() + timeout_ms;
    int fd = px_query_connect(hostport, deadline, errbuf, errlen);
    if (fd < 0)
        return PX_ERR_IO;
    char *req = NULL;
    if (asprintf(&req,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/x-ndjson\r\n"
                 "Connection: close\r\n\r\n",
                 path, hostport) < 0) {
        close(fd);
        return PX_ERR_NOMEM;
    }
    char *raw = NULL;
    size_t raw_len = 0;
    px_err err = px_query_send_all(fd, req, strlen(req), deadline);
    free(req);
    if (err == PX_OK)
        err = px_query_recv_all(fd, &raw, &raw_len, deadline);
    close(fd);
    if (err == PX_OK)
        err = px_query_parse_answer(raw, raw_len, status, len);
    if (err != PX_OK) {
        snprintf(errbuf, errlen, "%s: %s", hostport,
                 err == PX_ERR_AGAIN   ? "timed out"
                 : err == PX_ERR_PROTO ? "not an HTTP answer"
                 : err == PX_ERR_FULL  ? "answer too large"
                                       : px_strerror(err));
        free(raw);
        *len = 0;
        return err;
    }
    *body = raw;
    return PX_OK;
}

/* ---- cluster ----------------------------------------------------------------- */

typedef struct px_query_answers {
    char **text;
    size_t *lens;
    size_t n;
} px_query_answers;

static px_err px_query_ask(const char *endpoint, const char *path, int timeout_ms,
                           px_query_answers *a, char *errbuf, size_t errlen)
{
    int status = 0;
    char *body = NULL;
    size_t len = 0;
    px_err err =
        px_query_http_get(endpoint, path, timeout_ms, &status, &body, &len, errbuf, errlen);
    if (err != PX_OK)
        return PX_ERR_IO;
    if (status != 200) {
        /* the first line of the body says why */
        body[strcspn(body, "\r\n")] = '\0';
        snprintf(errbuf, errlen, "%s answered %d: %.200s", endpoint, status, body);
        free(body);
        return PX_ERR_IO;
    }
    a->text[a->n] = body;
    a->lens[a->n++] = len;
    return PX_OK;
}

px_err px_query_cluster(const char *endpoints, const px_query_req *req, int timeout_ms, FILE *out,
                        size_t *n_out, char *errbuf, size_t errlen)
{
    char *list = strdup(endpoints);
    char *path = px_query_req_to_path(req);
    size_t max = 1;
    for (const char *p = endpoints; *p; p++)
        max += *p == ',';
    px_query_answers a = {.text = calloc(max, sizeof(char *)), .lens = calloc(max, sizeof(size_t))};
    px_err err = list && path && a.text && a.lens ? PX_OK : PX_ERR_NOMEM;
    char *save = NULL;
    for (char *ep = list ? strtok_r(list, ",", &save) : NULL; ep && err == PX_OK;
         ep = strtok_r(NULL, ",", &save))
        err = px_query_ask(ep, path, timeout_ms, &a, errbuf, errlen);
    if (err == PX_OK && a.n == 0) {
        snprintf(errbuf, errlen, "--cluster: no endpoint given");
        err = PX_ERR_INVAL;
    }
    if (err == PX_OK)
        err = px_query_merge((const char *const *)a.text, a.lens, a.n, out, n_out, errbuf, errlen);
    for (size_t i = 0; i < a.n; i++)
        free(a.text[i]);
    free(a.text);
    free(a.lens);
    free(path);
    free(list);
    return err;
}
