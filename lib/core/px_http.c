/* px_http.c: libmicrohttpd with deadlines, per-client bounds and eviction
 * (see px_http.h for the policy).
 *
 * Every connection libmicrohttpd (MHD) accepts gets a px_http_conn, its
 * "socket context", from MHD_OPTION_NOTIFY_CONNECTION: the socket, the
 * client's address, the state of its current request and a deadline. The
 * list of them is guarded by one mutex; a reaper thread sleeps until the
 * earliest deadline and shuts down (never closes) the sockets past it, as
 * does a new connection that finds its client or the endpoint full. MHD
 * then sees the connection end and closes it. A socket is only ever shut
 * down under the mutex, and its px_http_conn leaves the list (under the
 * mutex) at NOTIFY_CLOSED, which MHD calls before it closes the socket: so
 * a descriptor we shut down is never one the process has reused. */
#include "core/px_http.h"
#include "core/px_clock.h"
#include "core/px_net.h"
#include "core/px_metrics.h"
#include "core/px_ratelimit.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- settings --------------------------------------------------------------- */

const px_conf_item px_http_conf_items[] = {
    {.path = "http.max_connections",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 10000,
     .def = "64",
     .help = "open connections per HTTP endpoint; a new one past it closes an older one"},
    {.path = "http.max_per_client",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 10000,
     .def = "16",
     .help = "connections per client address (IPv6: per /64) and HTTP endpoint; a new one "
             "past it closes an older one of that client"},
    {.path = "http.request_timeout",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 3600,
     .def = "10",
     .help = "seconds a client has to send a whole request, from connecting or from the end "
             "of its previous answer"},
    {.path = "http.answer_timeout",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 86400,
     .def = "60",
     .help = "seconds a client has to take a whole answer; a slower one is cut off"},
    {.path = NULL},
};

void px_http_limits_default(px_http_limits *out)
{
    /* 64 connections hold any sane number of scrapers and analysts; 16 per
     * address leaves room for a busy client behind one NAT without letting
     * one address take the endpoint; 10 s is long for a request of a few
     * hundred bytes; 60 s carries an answer at the default limit (a few
     * MB) over a slow link. */
    *out = (px_http_limits){.max_connections = 64,
                            .max_per_client = 16,
                            .request_timeout_ms = 10000,
                            .answer_timeout_ms = 60000};
}

void px_http_limits_from_config(const px_config *cfg, px_http_limits *out)
{
    out->max_connections = (unsigned)px_config_int(cfg, "http.max_connections");
    out->max_per_client = (unsigned)px_config_int(cfg, "http.max_per_client");
    out->request_timeout_ms = (unsigned)px_config_int(cfg, "http.request_timeout") * 1000u;
    out->answer_timeout_ms = (unsigned)px_config_int(cfg, "http.answer_timeout") * 1000u;
}

/* ---- state ------------------------------------------------------------------- */

typedef enum pxh_state {
    PXH_NEW,       /* accepted, no request line yet */
    PXH_REQUEST,   /* request line read, the rest of the request not yet */
    PXH_ANSWERING, /* read whole; the answer is being produced or sent */
    PXH_IDLE,      /* kept alive after an answer, no request line yet */
} pxh_state;

typedef enum pxh_reason {
    PXH_R_REQUEST_TIMEOUT,
    PXH_R_ANSWER_TIMEOUT,
    PXH_R_PER_CLIENT,
    PXH_R_FULL,
    PXH_R__N,
} pxh_reason;

static const char *const pxh_reason_names[PXH_R__N] = {"request_timeout", "answer_timeout",
                                                       "per_client", "full"};

/* A client's key: its family, then its IPv4 address or IPv6 /64. */
enum { PXH_KEY = 17 };

struct px_http_conn {
    struct px_http_conn *prev, *next;
    int fd;
    uint8_t client[PXH_KEY];
    pxh_state state;
    atomic_bool closing; /* shut down by us; streams read it without the lock */
    int64_t since;       /* ms: when the state began (eviction order) */
    int64_t deadline;    /* ms */
    unsigned answered;
};

struct px_http_server {
    struct MHD_Daemon *daemon;
    px_http_opts opts;
    char setting[64];
    uint16_t port;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t reaper;
    bool reaper_started, stopping;
    int64_t next_wake; /* ms; the reaper's planned wake-up */
    px_http_conn *head;
    unsigned live;              /* connections in the list not shut down by us */
    px_ratelimit log[PXH_R__N]; /* one line per reason per 10 s */
    px_metric *m_rejected[PXH_R__N], *m_idle, *m_conns;
};

struct px_http_request {
    struct MHD_Connection *mhd;
    const px_http_conn *conn;
    const char *method, *path;
};

/* ---- log lines, rate-limited ---------------------------------------------------- */

enum { PXH_LOG_EVERY_MS = 10000, PXH_MSG = 256 };

static const char *pxh_reason_text(const px_http_server *s, pxh_reason r, char *buf, size_t len)
{
    const px_http_limits *l = &s->opts.limits;
    switch (r) {
    case PXH_R_REQUEST_TIMEOUT:
        snprintf(buf, len, "closed a connection that sent no whole request within %u s",
                 l->request_timeout_ms / 1000);
        break;
    case PXH_R_ANSWER_TIMEOUT:
        snprintf(buf, len, "cut off an answer its client did not take within %u s",
                 l->answer_timeout_ms / 1000);
        break;
    case PXH_R_PER_CLIENT:
        snprintf(buf, len,
                 "closed an older connection of a client that opened more than %u "
                 "(http.max_per_client)",
                 l->max_per_client);
        break;
    default:
        snprintf(buf, len,
                 "closed an older connection to let a new one in: %u open "
                 "(http.max_connections)",
                 l->max_connections);
        break;
    }
    return buf;
}

/* Counts a rejection; writes the line to log into msg (or "" when the
 * reason was reported less than 10 s ago). Under the lock. */
static void pxh_reject_locked(px_http_server *s, pxh_reason r, int64_t now, char *msg)
{
    px_metric_inc(s->m_rejected[r]);
    msg[0] = '\0';
    uint64_t held = 0;
    if ((!s->opts.report && !s->opts.log) || !px_ratelimit_allow(&s->log[r], now, &held))
        return;
    char what[160], more[64] = "";
    if (held)
        snprintf(more, sizeof(more), " (and %llu more since the last such message)",
                 (unsigned long long)held);
    snprintf(msg, PXH_MSG, "%s: %s%s", s->setting, pxh_reason_text(s, r, what, sizeof(what)), more);
}

static void pxh_log(const px_http_server *s, const char *msg)
{
    if (!msg[0])
        return;
    if (s->opts.report)
        s->opts.report(s->opts.report_ctx, PX_LOG_WARNING, msg);
    else if (s->opts.log)
        s->opts.log(msg);
}

/* ---- the connection list -------------------------------------------------------- */

static void pxh_set_deadline_locked(px_http_server *s, px_http_conn *c, int64_t deadline)
{
    c->deadline = deadline;
    if (deadline < s->next_wake)
        pthread_cond_signal(&s->wake); /* the reaper sleeps too long */
}

/* Shuts the connection down: MHD sees it end and closes it; its entry
 * stays in the list until then. A zero linger makes that close a reset,
 * which drops what the kernel still holds for the client: a client too
 * slow for its answer would otherwise keep up to a send buffer of it
 * queued for as long as it likes. Under the lock. */
static void pxh_doom_locked(px_http_server *s, px_http_conn *c)
{
    atomic_store(&c->closing, true);
    struct linger now = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &now, sizeof(now));
    shutdown(c->fd, SHUT_RDWR);
    s->live--;
    px_metric_set(s->m_conns, s->live);
}

/* The connection to close to make room: one that is not being answered
 * before one that is, and the oldest first (its client has had the most
 * time). client: only that client's (NULL: any). */
static px_http_conn *pxh_victim_locked(px_http_server *s, const uint8_t *client)
{
    px_http_conn *best = NULL;
    for (px_http_conn *c = s->head; c; c = c->next) {
        if (atomic_load(&c->closing) || (client && memcmp(c->client, client, PXH_KEY) != 0))
            continue;
        bool c_busy = c->state == PXH_ANSWERING;
        bool b_busy = best && best->state == PXH_ANSWERING;
        /* the list runs newest first: on a tie, the later entry is older */
        if (!best || (b_busy && !c_busy) || (b_busy == c_busy && c->since <= best->since))
            best = c;
    }
    return best;
}

static unsigned pxh_count_client_locked(const px_http_server *s, const uint8_t *client)
{
    unsigned n = 0;
    for (const px_http_conn *c = s->head; c; c = c->next)
        n += !atomic_load(&c->closing) && memcmp(c->client, client, PXH_KEY) == 0;
    return n;
}

/* The key a client is counted by: IPv4 address, or IPv6 /64 (one host
 * holds a whole /64, so counting single addresses would bound nothing). */
static void pxh_client_key(const struct sockaddr *sa, uint8_t key[PXH_KEY])
{
    memset(key, 0, PXH_KEY);
    if (!sa)
        return;
    key[0] = (uint8_t)sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 8);
}

/* Makes room for one more connection of `client`: closes an older one of
 * the same client at max_per_client, and one of anybody's at
 * max_connections. */
static void pxh_make_room_locked(px_http_server *s, const uint8_t *client, int64_t now,
                                 char msgs[2][PXH_MSG])
{
    const px_http_limits *l = &s->opts.limits;
    px_http_conn *v;
    if (pxh_count_client_locked(s, client) >= l->max_per_client &&
        (v = pxh_victim_locked(s, client))) {
        pxh_reject_locked(s, PXH_R_PER_CLIENT, now, msgs[0]);
        pxh_doom_locked(s, v);
    }
    if (s->live >= l->max_connections && (v = pxh_victim_locked(s, NULL))) {
        pxh_reject_locked(s, PXH_R_FULL, now, msgs[1]);
        pxh_doom_locked(s, v);
    }
}

static void pxh_started(px_http_server *s, struct MHD_Connection *mc, void **socket_context)
{
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    px_http_conn *c = calloc(1, sizeof(*c));
    if (!c || !fd) {
        free(c);
        if (fd)
            shutdown(fd->connect_fd, SHUT_RDWR); /* cannot track it: refuse it */
        return;
    }
    c->fd = fd->connect_fd;
    pxh_client_key(ad ? ad->client_addr : NULL, c->client);
    atomic_init(&c->closing, false);
    char msgs[2][PXH_MSG] = {"", ""};
    pthread_mutex_lock(&s->lock);
    int64_t now = px_clock_mono_ms();
    pxh_make_room_locked(s, c->client, now, msgs);
    c->state = PXH_NEW;
    c->since = now;
    c->next = s->head;
    if (s->head)
        s->head->prev = c;
    s->head = c;
    s->live++;
    px_metric_set(s->m_conns, s->live);
    pxh_set_deadline_locked(s, c, now + s->opts.limits.request_timeout_ms);
    pthread_mutex_unlock(&s->lock);
    *socket_context = c;
    pxh_log(s, msgs[0]);
    pxh_log(s, msgs[1]);
}

static void pxh_closed(px_http_server *s, void **socket_context)
{
    px_http_conn *c = *socket_context;
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&c->closing)) {
        s->live--;
        px_metric_set(s->m_conns, s->live);
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->lock);
    free(c);
    *socket_context = NULL;
}

static void pxh_notify_conn(void *cls, struct MHD_Connection *mc, void **socket_context,
                            enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        pxh_started(cls, mc, socket_context);
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
        pxh_closed(cls, socket_context);
}

static px_http_conn *pxh_conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *i =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* Moves a connection to a new state with the deadline that goes with it. */
static void pxh_enter(px_http_server *s, px_http_conn *c, pxh_state state)
{
    if (!c)
        return;
    pthread_mutex_lock(&s->lock);
    int64_t now = px_clock_mono_ms();
    if (state == PXH_REQUEST) {
        /* the deadline of a request runs from the connection's opening or
         * the previous answer's end: it stays */
        c->state = PXH_REQUEST;
    } else {
        if (state == PXH_IDLE)
            c->answered++;
        c->state = state;
        c->since = now;
        unsigned ms = state == PXH_ANSWERING ? s->opts.limits.answer_timeout_ms
                                             : s->opts.limits.request_timeout_ms;
        pxh_set_deadline_locked(s, c, now + ms);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Called by MHD when a request line has been read. */
static void *pxh_uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    (void)uri;
    pxh_enter(cls, pxh_conn_of(mc), PXH_REQUEST);
    return NULL; /* the access handler's first call sees *req_cls == NULL */
}

static void pxh_completed(void *cls, struct MHD_Connection *mc, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    (void)req_cls, (void)toe;
    pxh_enter(cls, pxh_conn_of(mc), PXH_IDLE);
}

/* ---- the reaper -------------------------------------------------------------------- */

/* Shuts down the connections past their deadline; returns the earliest
 * deadline left (ms), at most a second away. Under the lock. */
static int64_t pxh_reap_locked(px_http_server *s, int64_t now, char msgs[PXH_R__N][PXH_MSG])
{
    int64_t next = now + 1000;
    for (px_http_conn *c = s->head; c; c = c->next) {
        if (atomic_load(&c->closing))
            continue;
        if (c->deadline > now) {
            next = c->deadline < next ? c->deadline : next;
            continue;
        }
        /* counted before the shutdown: whoever sees the close sees the count */
        if (c->state == PXH_IDLE && c->answered > 0) {
            px_metric_inc(s->m_idle); /* a kept-alive connection left unused: normal */
        } else {
            pxh_reason r = c->state == PXH_ANSWERING ? PXH_R_ANSWER_TIMEOUT : PXH_R_REQUEST_TIMEOUT;
            char msg[PXH_MSG];
            pxh_reject_locked(s, r, now, msg);
            if (msg[0])
                memcpy(msgs[r], msg, sizeof(msg));
        }
        pxh_doom_locked(s, c);
    }
    return next;
}

static void *pxh_reaper(void *arg)
{
    px_http_server *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stopping) {
        char msgs[PXH_R__N][PXH_MSG] = {{0}};
        int64_t now = px_clock_mono_ms();
        s->next_wake = pxh_reap_locked(s, now, msgs);
        pthread_mutex_unlock(&s->lock);
        for (int r = 0; r < PXH_R__N; r++)
            pxh_log(s, msgs[r]);
        pthread_mutex_lock(&s->lock);
        if (s->stopping)
            break;
        struct timespec ts = {.tv_sec = s->next_wake / 1000,
                              .tv_nsec = (long)(s->next_wake % 1000) * 1000000};
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- requests and answers ------------------------------------------------------- */

const char *px_http_method(const px_http_request *r)
{
    return r->method;
}

const char *px_http_path(const px_http_request *r)
{
    return r->path;
}

const px_http_conn *px_http_request_conn(const px_http_request *r)
{
    return r->conn;
}

typedef struct pxh_args {
    px_http_arg_fn fn;
    void *ctx;
} pxh_args;

static enum MHD_Result pxh_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    pxh_args *a = cls;
    a->fn(a->ctx, key, value);
    return MHD_YES;
}

void px_http_args(const px_http_request *r, px_http_arg_fn fn, void *ctx)
{
    pxh_args a = {fn, ctx};
    MHD_get_connection_values(r->mhd, MHD_GET_ARGUMENT_KIND, pxh_arg, &a);
}

bool px_http_conn_closing(const px_http_conn *c)
{
    return c && atomic_load(&((px_http_conn *)c)->closing);
}

px_err px_http_answer_text(px_http_answer *a, unsigned status, const char *message)
{
    char *body = NULL;
    int n = asprintf(&body, "%u %s\n", status, message);
    if (n < 0)
        return PX_ERR_NOMEM;
    free(a->body);
    a->status = status;
    a->content_type = "text/plain; charset=utf-8";
    a->body = body;
    a->len = (size_t)n;
    return PX_OK;
}

/* A streamed answer as MHD sees it. */
typedef struct pxh_stream {
    px_http_stream_fn fn;
    void *state;
    void (*free_state)(void *state);
    const px_http_conn *conn;
} pxh_stream;

static ssize_t pxh_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    pxh_stream *st = cls;
    ssize_t n = st->fn(st->state, st->conn, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : n;
}

static void pxh_stream_free(void *cls)
{
    pxh_stream *st = cls;
    if (st->free_state)
        st->free_state(st->state);
    free(st);
}

/* The MHD response for an answer; takes what the answer owns. */
static struct MHD_Response *pxh_response(px_http_answer *a, const px_http_conn *conn)
{
    struct MHD_Response *r = NULL;
    if (a->stream) {
        pxh_stream *st = malloc(sizeof(*st));
        if (st) {
            *st = (pxh_stream){a->stream, a->stream_state, a->stream_free, conn};
            a->stream = NULL; /* st owns the state now */
            r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, pxh_stream_read, st,
                                                  pxh_stream_free);
            if (!r)
                pxh_stream_free(st);
        }
    } else if (a->len) {
        r = MHD_create_response_from_buffer(a->len, a->body, MHD_RESPMEM_MUST_FREE);
        if (r)
            a->body = NULL;
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (r && a->content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
    return r;
}

static void pxh_answer_release(px_http_answer *a)
{
    free(a->body);
    if (a->stream && a->stream_free)
        a->stream_free(a->stream_state);
}

static enum MHD_Result pxh_queue(struct MHD_Connection *mc, px_http_answer *a,
                                 const px_http_conn *conn)
{
    struct MHD_Response *r = pxh_response(a, conn);
    pxh_answer_release(a);
    if (!r)
        return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(mc, a->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void pxh_run_handler(px_http_server *s, const px_http_request *req, px_http_answer *a)
{
    px_err err = s->opts.handler(s->opts.ctx, req, a);
    if (err == PX_OK && a->status)
        return;
    pxh_answer_release(a);
    *a = (px_http_answer){0};
    if (px_http_answer_text(a, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            err ? px_strerror(err) : "no answer") != PX_OK)
        a->status = MHD_HTTP_INTERNAL_SERVER_ERROR; /* an empty body then */
}

static int pxh_first_call; /* its address marks a request whose headers were seen */

/* MHD calls this when the headers are in, again for each piece of a body,
 * and once more when the request is whole. Answering before the last
 * call would make MHD close the connection after the answer (the rest of
 * a pipelined stream lost), so the answer waits for it. */
static enum MHD_Result pxh_access(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version, (void)upload_data;
    px_http_server *s = cls;
    if (!*req_cls) {
        *req_cls = &pxh_first_call;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0; /* no endpoint takes a body: drop it */
        return MHD_YES;
    }
    px_http_conn *conn = pxh_conn_of(mc);
    pxh_enter(s, conn, PXH_ANSWERING);
    px_http_request req = {.mhd = mc, .conn = conn, .method = method, .path = url};
    px_http_answer a = {0};
    pxh_run_handler(s, &req, &a);
    return pxh_queue(mc, &a, conn);
}

/* Paths and parameters reach the handlers as sent: they decode them
 * after splitting, so an encoded '/' or '&' stays data. */
static size_t pxh_no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

/* ---- start and stop ------------------------------------------------------------ */

static void pxh_metrics(px_http_server *s)
{
    char endpoint[64], name[192];
    size_t n = strcspn(s->setting, ".");
    snprintf(endpoint, sizeof(endpoint), "%.*s", (int)n, s->setting);
    for (int r = 0; r < PXH_R__N; r++) {
        snprintf(name, sizeof(name), "pdnsx_http_rejected_total{endpoint=\"%s\",reason=\"%s\"}",
                 endpoint, pxh_reason_names[r]);
        s->m_rejected[r] = px_metric_counter(
            name, "HTTP connections closed by a deadline or to make room for a new one");
    }
    snprintf(name, sizeof(name), "pdnsx_http_idle_closed_total{endpoint=\"%s\"}", endpoint);
    s->m_idle = px_metric_counter(
        name, "Kept-alive HTTP connections closed after http.request_timeout unused");
    snprintf(name, sizeof(name), "pdnsx_http_connections{endpoint=\"%s\"}", endpoint);
    s->m_conns = px_metric_gauge(name, "Open HTTP connections");
}

static struct MHD_Daemon *pxh_daemon(px_http_server *s, const px_listen *l)
{
    const px_http_limits *lim = &s->opts.limits;
    unsigned threads = s->opts.threads ? s->opts.threads : 1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (l->family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* MHD's own limit is only a backstop: ours evicts instead of refusing,
     * and connections we shut down count in MHD's until it closes them.
     * MHD splits its limit between the threads, hence the product. */
    unsigned mhd_limit = (lim->max_connections + lim->max_connections / 2 + 8) * threads;
    /* MHD's timeout restarts on every byte; ours come first. */
    unsigned idle_s = (lim->request_timeout_ms > lim->answer_timeout_ms ? lim->request_timeout_ms
                                                                        : lim->answer_timeout_ms) /
                          1000 +
                      5;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, pxh_access, s, MHD_OPTION_LISTEN_SOCKET, l->fd,
        MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0u, MHD_OPTION_CONNECTION_LIMIT,
        mhd_limit, MHD_OPTION_CONNECTION_TIMEOUT, idle_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32768, MHD_OPTION_NOTIFY_CONNECTION, pxh_notify_conn, s,
        MHD_OPTION_NOTIFY_COMPLETED, pxh_completed, s, MHD_OPTION_URI_LOG_CALLBACK, pxh_uri_log, s,
        MHD_OPTION_UNESCAPE_CALLBACK, pxh_no_unescape, NULL, MHD_OPTION_END);
}

static bool pxh_init(px_http_server *s, const px_http_opts *opts)
{
    s->opts = *opts;
    if (!s->opts.limits.max_connections)
        px_http_limits_default(&s->opts.limits);
    snprintf(s->setting, sizeof(s->setting), "%s", opts->setting ? opts->setting : "http.listen");
    s->next_wake = INT64_MAX;
    for (int r = 0; r < PXH_R__N; r++)
        px_ratelimit_init(&s->log[r], 1, PXH_LOG_EVERY_MS);
    pxh_metrics(s);
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return false;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&s->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return false;
    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        pthread_cond_destroy(&s->wake);
        return false;
    }
    return true;
}

px_err px_http_server_start(const char *listen, const px_http_opts *opts, px_http_server **out,
                            char *why, size_t whylen)
{
    const char *setting = opts->setting ? opts->setting : "http.listen";
    *out = NULL;
    if (!opts->handler)
        return px_errf(why, whylen, PX_ERR_CONFIG, "%s: no request handler", setting);
    px_http_server *s = calloc(1, sizeof(*s));
    if (!s)
        return px_errf(why, whylen, PX_ERR_NOMEM, "%s: out of memory", setting);
    if (!pxh_init(s, opts)) {
        px_why(why, whylen, "%s: cannot start", setting);
        free(s);
        return PX_ERR_IO;
    }
    px_listen l;
    px_err e = px_listen_tcp(setting, listen, 128, 0, &l, why, whylen);
    if (e != PX_OK) {
        px_http_stop(s);
        return e;
    }
    s->port = l.port;
    s->reaper_started = pthread_create(&s->reaper, NULL, pxh_reaper, s) == 0;
    s->daemon = s->reaper_started ? pxh_daemon(s, &l) : NULL;
    if (!s->daemon) {
        px_why(why, whylen, "%s %s: cannot start the HTTP server", setting, listen);
        close(l.fd);
        px_http_stop(s);
        return PX_ERR_IO;
    }
    *out = s;
    return PX_OK;
}

uint16_t px_http_port(const px_http_server *s)
{
    return s ? s->port : 0;
}

void px_http_stop(px_http_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon); /* closes every connection, and the listening socket */
    if (s->reaper_started) {
        pthread_mutex_lock(&s->lock);
        s->stopping = true;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->reaper, NULL);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    free(s);
}
