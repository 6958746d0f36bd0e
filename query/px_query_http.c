/* px_query_http.c: the query.listen HTTP endpoint (px_http, answers
 * streamed) and the small GET client pdnsx-query --cluster uses to ask
 * it. */
#include "query/px_query.h"

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

/* ---- server ---------------------------------------------------------------- */

struct px_query_server {
    px_http_server *http;
    px_store *store;
    px_query_limits limits;
};

/* The parameters of one request; anything but after/before/limit (once
 * each) is a bad request rather than silently ignored. */
typedef struct px_query_args {
    const char *after, *before, *limit;
    bool bad;
} px_query_args;

static void px_query_arg(void *cls, const char *key, const char *value)
{
    px_query_args *a = cls;
    const char **slot = strcmp(key, "after") == 0    ? &a->after
                        : strcmp(key, "before") == 0 ? &a->before
                        : strcmp(key, "limit") == 0  ? &a->limit
                                                     : NULL;
    if (!slot || !value || *slot)
        a->bad = true;
    else
        *slot = value;
}

/* A streamed answer: the lookup's pieces, then a condition line when it
 * was cut at the limit or failed once started. */
typedef struct px_query_answer {
    px_query_stream *qs;
    const char *data;
    size_t len, off;
    bool finished;
    uint64_t limit;
    char tail[320];
} px_query_answer;

static void px_query_answer_free(void *state)
{
    px_query_answer *qa = state;
    px_query_stream_free(qa->qs);
    free(qa);
}

static bool px_query_go_on(void *ctx)
{
    return !px_http_conn_closing(ctx);
}

/* Ends the answer: the condition line if it was cut or failed. */
static void px_query_finish(px_query_answer *qa, px_err err)
{
    px_query_result r;
    px_query_stream_result(qa->qs, &r);
    qa->finished = true;
    qa->data = qa->tail;
    qa->off = 0;
    if (err != PX_OK)
        qa->len = px_query_cond_failed(qa->tail, sizeof(qa->tail), px_strerror(err));
    else
        qa->len = r.cut ? px_query_cond_limited(qa->tail, sizeof(qa->tail), qa->limit) : 0;
}

/* Gets the next piece into qa; false when the answer is to be cut off
 * (its connection is closing). */
static bool px_query_refill(px_query_answer *qa, const px_http_conn *conn)
{
    qa->off = 0;
    px_err err = px_query_stream_next(qa->qs, px_query_go_on, (void *)conn, &qa->data, &qa->len);
    if (err == PX_ERR_AGAIN)
        return false;
    if (err != PX_OK || qa->len == 0)
        px_query_finish(qa, err);
    return true;
}

static ssize_t px_query_body(void *state, const px_http_conn *conn, char *buf, size_t max)
{
    px_query_answer *qa = state;
    while (qa->off == qa->len) {
        if (qa->finished)
            return 0;
        if (!px_query_refill(qa, conn))
            return -1;
    }
    size_t n = qa->len - qa->off < max ? qa->len - qa->off : max;
    memcpy(buf, qa->data + qa->off, n);
    qa->off += n;
    return (ssize_t)n;
}

/* Opens the lookup and reads its first piece here, so that a store that
 * fails at once still gets a 500 rather than a broken 200. */
static px_err px_query_answer_lookup(px_query_server *s, const px_query_req *req,
                                     const px_http_conn *conn, px_http_answer *a)
{
    px_query_answer *qa = calloc(1, sizeof(*qa));
    if (!qa)
        return PX_ERR_NOMEM;
    qa->limit = req->limit;
    px_err err = px_query_stream_open(s->store, req, &qa->qs);
    if (err == PX_OK)
        err = px_query_stream_next(qa->qs, px_query_go_on, (void *)conn, &qa->data, &qa->len);
    if (err != PX_OK) {
        px_query_answer_free(qa);
        return err == PX_ERR_INVAL ? px_http_answer_text(a, 400, "bad name or type")
                                   : px_http_answer_text(a, 500, px_strerror(err));
    }
    if (qa->len == 0)
        px_query_finish(qa, PX_OK); /* empty, or cut at once */
    *a = (px_http_answer){.status = 200,
                          .content_type = "application/x-ndjson",
                          .stream = px_query_body,
                          .stream_state = qa,
                          .stream_free = px_query_answer_free};
    return PX_OK;
}

static px_err px_query_handle(void *cls, const px_http_request *r, px_http_answer *a)
{
    px_query_server *s = cls;
    const char *method = px_http_method(r);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return px_http_answer_text(a, 405, "only GET");
    px_query_args args = {0};
    px_http_args(r, px_query_arg, &args);
    char why[256] = "";
    px_query_req req;
    px_err err = px_query_req_from_http(&req, px_http_path(r), args.after, args.before, args.limit,
                                        why, sizeof(why));
    if (err == PX_ERR_NOTFOUND)
        return px_http_answer_text(a, 404, why);
    if (err == PX_OK && args.bad)
        return px_http_answer_text(a, 400, "parameters: after=T, before=T and limit=N only");
    if (err != PX_OK)
        return px_http_answer_text(a, 400, why[0] ? why : px_strerror(err));
    px_query_req_apply_limits(&req, &s->limits);
    return px_query_answer_lookup(s, &req, px_http_request_conn(r), a);
}

px_query_server *px_query_server_start(const char *listen, px_store *store,
                                       const px_query_server_opts *opts, char *errbuf,
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
    s->store = store;
    s->limits = (px_query_limits){.def = 10000, .max = 1000000};
    /* A few threads: a piece of an answer is quick, but one client's
     * store reads should not hold up another's. */
    px_http_opts o = {
        .setting = "query.listen", .threads = 4, .handler = px_query_handle, .ctx = s};
    if (opts) {
        o.limits = opts->http;
        o.log = opts->log;
        if (opts->limits.def)
            s->limits = opts->limits;
    }
    s->http = px_http_start(listen, &o, errbuf, errlen);
    if (!s->http) {
        free(s);
        return NULL;
    }
    return s;
}

uint16_t px_query_server_port(const px_query_server *s)
{
    return s ? px_http_port(s->http) : 0;
}

void px_query_server_stop(px_query_server *s)
{
    if (!s)
        return;
    px_http_stop(s->http);
    free(s);
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
    const char **names; /* endpoints, in the same order */
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
    a->names[a->n] = endpoint;
    a->lens[a->n++] = len;
    return PX_OK;
}

/* Merges what the endpoints answered; names the endpoint of the first
 * answer cut at its limit, and of an answer that does not merge. */
static px_err px_query_merge_answers(const px_query_answers *a, uint64_t limit, FILE *out,
                                     px_query_result *res, char *errbuf, size_t errlen)
{
    char why[512] = "";
    px_err err = px_query_merge((const char *const *)a->text, a->lens, a->n, limit, out, res, why,
                                sizeof(why));
    size_t which = 0;
    if (err != PX_OK && sscanf(why, "answer %zu", &which) == 1 && which >= 1 && which <= a->n)
        snprintf(errbuf, errlen, "%s: %s", a->names[which - 1], why);
    else if (err != PX_OK)
        snprintf(errbuf, errlen, "%s", why);
    if (err == PX_OK && res->answers_cut && sscanf(res->cut_by, "answer %zu", &which) == 1 &&
        which >= 1 && which <= a->n)
        snprintf(res->cut_by, sizeof(res->cut_by), "%s", a->names[which - 1]);
    return err;
}

px_err px_query_cluster(const char *endpoints, const px_query_req *req, int timeout_ms, FILE *out,
                        px_query_result *res, char *errbuf, size_t errlen)
{
    px_query_result local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    char *list = strdup(endpoints);
    char *path = px_query_req_to_path(req);
    size_t max = 1;
    for (const char *p = endpoints; *p; p++)
        max += *p == ',';
    px_query_answers a = {.text = calloc(max, sizeof(char *)),
                          .lens = calloc(max, sizeof(size_t)),
                          .names = calloc(max, sizeof(char *))};
    px_err err = list && path && a.text && a.lens && a.names ? PX_OK : PX_ERR_NOMEM;
    char *save = NULL;
    for (char *ep = list ? strtok_r(list, ",", &save) : NULL; ep && err == PX_OK;
         ep = strtok_r(NULL, ",", &save))
        err = px_query_ask(ep, path, timeout_ms, &a, errbuf, errlen);
    if (err == PX_OK && a.n == 0) {
        snprintf(errbuf, errlen, "--cluster: no endpoint given");
        err = PX_ERR_INVAL;
    }
    if (err == PX_OK)
        err = px_query_merge_answers(&a, req->limit, out, res, errbuf, errlen);
    for (size_t i = 0; i < a.n; i++)
        free(a.text[i]);
    free(a.text);
    free(a.lens);
    free(a.names);
    free(path);
    free(list);
    return err;
}
