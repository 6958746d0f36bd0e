/* px_metrics.c: a process-wide registry of counters and gauges.
 *
 * Registration takes a mutex and happens at start-up; counting is one
 * relaxed atomic add on a metric the caller already holds, so the packet
 * path never locks. Metrics are never freed: pointers stay valid for the
 * life of the process. */
#include "px_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef enum { PX_COUNTER, PX_GAUGE } px_metric_kind;

struct px_metric {
    char *name;       /* full name, labels included */
    size_t base_len;  /* length of the name before '{' */
    const char *help; /* of the first metric with this base name */
    px_metric_kind kind;
    _Atomic uint64_t value; /* gauges store the int64 bit pattern */
};

static pthread_mutex_t px_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static px_metric **px_reg;
static size_t px_reg_n, px_reg_cap;

static px_metric *px_find_locked(const char *name)
{
    for (size_t i = 0; i < px_reg_n; i++)
        if (strcmp(px_reg[i]->name, name) == 0)
            return px_reg[i];
    return NULL;
}

static const char *px_base_help_locked(const char *name, size_t base_len)
{
    for (size_t i = 0; i < px_reg_n; i++)
        if (px_reg[i]->base_len == base_len && strncmp(px_reg[i]->name, name, base_len) == 0)
            return px_reg[i]->help;
    return NULL;
}

static void *px_xalloc(void *p)
{
    if (!p)
        abort(); /* registration happens at start-up; no memory there is fatal */
    return p;
}

static px_metric *px_register(const char *name, const char *help, px_metric_kind kind)
{
    pthread_mutex_lock(&px_reg_lock);
    px_metric *m = px_find_locked(name);
    if (!m) {
        m = px_xalloc(calloc(1, sizeof(*m)));
        m->name = px_xalloc(strdup(name));
        m->base_len = strcspn(name, "{");
        m->kind = kind;
        const char *h = px_base_help_locked(name, m->base_len);
        m->help = h ? h : px_xalloc(strdup(help ? help : ""));
        atomic_init(&m->value, 0);
        if (px_reg_n == px_reg_cap) {
            px_reg_cap = px_reg_cap ? 2 * px_reg_cap : 32;
            px_reg = px_xalloc(realloc(px_reg, px_reg_cap * sizeof(*px_reg)));
        }
        px_reg[px_reg_n++] = m;
    }
    pthread_mutex_unlock(&px_reg_lock);
    return m;
}

px_metric *px_metric_counter(const char *name, const char *help)
{
    return px_register(name, help, PX_COUNTER);
}

px_metric *px_metric_gauge(const char *name, const char *help)
{
    return px_register(name, help, PX_GAUGE);
}

void px_metric_add(px_metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void px_metric_set(px_metric *m, int64_t v)
{
    atomic_store_explicit(&m->value, (uint64_t)v, memory_order_relaxed);
}

uint64_t px_metric_value(const px_metric *m)
{
    return atomic_load_explicit(&((px_metric *)m)->value, memory_order_relaxed);
}

uint64_t px_metric_value_of(const char *name)
{
    pthread_mutex_lock(&px_reg_lock);
    px_metric *m = px_find_locked(name);
    pthread_mutex_unlock(&px_reg_lock);
    return m ? px_metric_value(m) : 0;
}

/* Sort by base name first so each family is one block, then by full name. */
static int px_metric_cmp(const void *a, const void *b)
{
    const px_metric *x = *(px_metric *const *)a, *y = *(px_metric *const *)b;
    size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
    int r = memcmp(x->name, y->name, n);
    if (r)
        return r;
    if (x->base_len != y->base_len)
        return x->base_len < y->base_len ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void px_write_help(FILE *out, const px_metric *m)
{
    fprintf(out, "# HELP %.*s ", (int)m->base_len, m->name);
    /* Exposition format: backslash and newline are escaped in HELP. */
    for (const char *p = m->help; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fprintf(out, "\n# TYPE %.*s %s\n", (int)m->base_len, m->name,
            m->kind == PX_COUNTER ? "counter" : "gauge");
}

void px_metrics_write(FILE *out)
{
    pthread_mutex_lock(&px_reg_lock);
    px_metric **sorted = malloc((px_reg_n ? px_reg_n : 1) * sizeof(*sorted));
    if (!sorted) {
        pthread_mutex_unlock(&px_reg_lock);
        return;
    }
    size_t n = px_reg_n;
    memcpy(sorted, px_reg, n * sizeof(*sorted));
    pthread_mutex_unlock(&px_reg_lock);
    qsort(sorted, n, sizeof(*sorted), px_metric_cmp);
    for (size_t i = 0; i < n; i++) {
        const px_metric *m = sorted[i];
        if (i == 0 || sorted[i - 1]->base_len != m->base_len ||
            memcmp(sorted[i - 1]->name, m->name, m->base_len) != 0)
            px_write_help(out, m);
        uint64_t v = px_metric_value(m);
        if (m->kind == PX_GAUGE)
            fprintf(out, "%s %lld\n", m->name, (long long)(int64_t)v);
        else
            fprintf(out, "%s %llu\n", m->name, (unsigned long long)v);
    }
    free(sorted);
}

/* ---- HTTP ------------------------------------------------------------------ */

struct px_metrics_server {
    struct MHD_Daemon *daemon;
    uint16_t port;
};

static enum MHD_Result px_send(struct MHD_Connection *conn, unsigned status, char *body, size_t len,
                               const char *type)
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

static enum MHD_Result px_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)cls, (void)version, (void)upload_data, (void)upload_data_size, (void)req_cls;
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!get || strcmp(url, "/metrics") != 0) {
        char *body = strdup("404 not found: try GET /metrics\n");
        if (!body)
            return MHD_NO;
        return px_send(conn, MHD_HTTP_NOT_FOUND, body, strlen(body), "text/plain");
    }
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    px_metrics_write(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return px_send(conn, MHD_HTTP_OK, body, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* "1.2.3.4:9100" or "[::1]:9100" into a socket address; numeric only, so
 * that we bind exactly where the operator said. */
static bool px_parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
                            char *errbuf, size_t errlen)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen - 1) >= sizeof(host))
            goto bad;
        memcpy(host, listen + 1, (size_t)(end - listen - 1));
        host[end - listen - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || (size_t)(colon - listen) >= sizeof(host) || strchr(listen, ':') != colon)
            goto bad;
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (!*port || getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
        goto bad;
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *sl = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
bad:
    snprintf(errbuf, errlen, "metrics.listen \"%s\": expected IPv4:port or [IPv6]:port", listen);
    return false;
}

/* We bind the socket ourselves: libmicrohttpd would not say why it failed. */
static int px_listen_socket(const struct sockaddr_storage *ss, socklen_t sl, const char *where,
                            char *errbuf, size_t errlen)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(errbuf, errlen, "metrics.listen %s: socket: %s", where, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)ss, sl) != 0 || listen(fd, 16) != 0) {
        snprintf(errbuf, errlen, "metrics.listen %s: %s", where, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

px_metrics_server *px_metrics_server_start(const char *listen, char *errbuf, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = 0;
    if (!listen || !px_parse_listen(listen, &ss, &sl, errbuf, errlen))
        return NULL;
    px_metrics_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    int fd = px_listen_socket(&ss, sl, listen, errbuf, errlen);
    if (fd < 0) {
        free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, px_handle, NULL, MHD_OPTION_LISTEN_SOCKET,
                                 fd, MHD_OPTION_CONNECTION_LIMIT, 32u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(errbuf, errlen, "metrics.listen %s: cannot start the HTTP server", listen);
        close(fd);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    if (!s->port) {
        struct sockaddr_storage bound;
        socklen_t bl = sizeof(bound);
        if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0)
            s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)&bound)->sin_port);
    }
    return s;
}

uint16_t px_metrics_server_port(const px_metrics_server *s)
{
    return s ? s->port : 0;
}

void px_metrics_server_stop(px_metrics_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon); /* also closes the listening socket */
    free(s);
}
