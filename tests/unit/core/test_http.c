/* test_http: the shared HTTP server (px_http) with real sockets on
 * loopback: pipelining and keep-alive, the request and answer deadlines,
 * the per-client bound and eviction at the connection limit, streamed
 * answers. Clients bind 127.0.0.x source addresses to be different
 * clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_read.h"
#include "core/px_http.h"
#include "core/px_metrics.h"

/* ---- a server with a few test endpoints -------------------------------------- */

static atomic_int streams_freed;

typedef struct big_stream {
    size_t left;
} big_stream;

static ssize_t big_read(void *state, const px_http_conn *conn, char *buf, size_t max)
{
    big_stream *b = state;
    if (px_http_conn_closing(conn))
        return -1;
    size_t n = b->left < max ? b->left : max;
    memset(buf, 'x', n);
    b->left -= n;
    return (ssize_t)n;
}

static void big_free(void *state)
{
    free(state);
    atomic_fetch_add(&streams_freed, 1);
}

/* /echo/TEXT answers "TEXT\n"; /big answers 16 MiB, streamed. */
static px_err handler(void *ctx, const px_http_request *r, px_http_answer *a)
{
    (void)ctx;
    const char *path = px_http_path(r);
    if (strncmp(path, "/echo/", 6) == 0) {
        char *body = NULL;
        int n = asprintf(&body, "%s\n", path + 6);
        if (n < 0)
            return PX_ERR_NOMEM;
        *a = (px_http_answer){
            .status = 200, .content_type = "text/plain", .body = body, .len = (size_t)n};
        return PX_OK;
    }
    if (strcmp(path, "/big") == 0) {
        big_stream *b = malloc(sizeof(*b));
        if (!b)
            return PX_ERR_NOMEM;
        b->left = 16u << 20;
        *a = (px_http_answer){.status = 200,
                              .content_type = "application/octet-stream",
                              .stream = big_read,
                              .stream_state = b,
                              .stream_free = big_free};
        return PX_OK;
    }
    return px_http_answer_text(a, 404, "no such thing");
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_lines;
static char last_log[512];
static bool address_logged; /* client addresses must never be */

static void on_log(const char *msg)
{
    pthread_mutex_lock(&log_lock);
    log_lines++;
    address_logged = address_logged || strstr(msg, "127.0.0.") != NULL;
    snprintf(last_log, sizeof(last_log), "%s", msg);
    pthread_mutex_unlock(&log_lock);
}

static int64_t now_ms(void);

/* Whether the last warning logged within 2 s says `what`. */
static bool logged(const char *what)
{
    for (int64_t end = now_ms() + 2000;;) {
        pthread_mutex_lock(&log_lock);
        bool yes = strstr(last_log, what) != NULL;
        pthread_mutex_unlock(&log_lock);
        if (yes || now_ms() > end)
            return yes;
        usleep(1000);
    }
}

static int lines_logged(void)
{
    pthread_mutex_lock(&log_lock);
    int n = log_lines;
    pthread_mutex_unlock(&log_lock);
    return n;
}

static px_http_server *start(const char *setting, const px_http_limits *l)
{
    px_http_opts o = {.setting = setting, .threads = 2, .log = on_log, .handler = handler};
    if (l)
        o.limits = *l;
    else
        px_http_limits_default(&o.limits);
    char err[256];
    px_http_server *s = NULL;
    if (px_http_server_start("127.0.0.1:0", &o, &s, err, sizeof(err)) != PX_OK)
        fail_msg("start: %s", err);
    return s;
}

static uint64_t rejected(const char *endpoint, const char *reason)
{
    char name[160];
    snprintf(name, sizeof(name), "pdnsx_http_rejected_total{endpoint=\"%s\",reason=\"%s\"}",
             endpoint, reason);
    return pxt_metric(name);
}

/* Connections the server has taken so far: open ones and those it closed
 * to make room. */
static uint64_t taken(const char *endpoint)
{
    char name[160];
    snprintf(name, sizeof(name), "pdnsx_http_connections{endpoint=\"%s\"}", endpoint);
    return pxt_metric(name) + rejected(endpoint, "per_client") + rejected(endpoint, "full");
}

/* ---- client helpers ---------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection from 127.0.0.<host>. */
static int dial(uint16_t port, int host)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)host);
    assert_int_equal(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(port)};
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0);
    return fd;
}

static void send_all(int fd, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Whether the server closed fd within ms: EOF or reset (data before it is
 * read and dropped). */
static bool closed_within(int fd, int ms)
{
    int64_t end = now_ms() + ms;
    char buf[4096];
    for (;;) {
        int left = (int)(end - now_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left < 0 || poll(&p, 1, left) == 0)
            return false;
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return true;
    }
}

/* Reads one response with a Content-Length body; returns the body
 * (caller frees) or NULL if the connection ends first. */
static char *read_response(int fd, char *pending, size_t *plen)
{
    for (;;) {
        char *hend = memmem(pending, *plen, "\r\n\r\n", 4);
        if (hend) {
            *hend = '\0';
            const char *cl = strcasestr(pending, "\r\nContent-Length:");
            assert_non_null(cl);
            size_t body = (size_t)strtoul(cl + 17, NULL, 10);
            size_t head = (size_t)(hend - pending) + 4;
            if (*plen >= head + body) {
                char *out = strndup(pending + head, body);
                memmove(pending, pending + head + body, *plen - head - body);
                *plen -= head + body;
                return out;
            }
            *hend = '\r';
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 5000) <= 0)
            return NULL;
        ssize_t n = recv(fd, pending + *plen, 65536 - *plen, 0);
        if (n <= 0)
            return NULL;
        *plen += (size_t)n;
    }
}

/* One whole GET from 127.0.0.<host> on a fresh connection: its body. */
static char *get(uint16_t port, int host, const char *path)
{
    int fd = dial(port, host);
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    send_all(fd, req);
    char *pending = malloc(65536);
    size_t plen = 0;
    char *body = read_response(fd, pending, &plen);
    free(pending);
    close(fd);
    return body;
}

/* ---- tests ------------------------------------------------------------------- */

/* Four requests in one write get four answers, in order, and the
 * connection stays open for a fifth. */
static void test_pipelining(void **state)
{
    (void)state;
    px_http_server *s = start("pipe.listen", NULL);
    int fd = dial(px_http_port(s), 1);
    send_all(fd, "GET /echo/one HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo/two HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo/three HTTP/1.1\r\nHost: t\r\n\r\n"
                 "GET /echo/four HTTP/1.1\r\nHost: t\r\n\r\n");
    char *pending = malloc(65536);
    size_t plen = 0;
    const char *want[] = {"one\n", "two\n", "three\n", "four\n"};
    for (int i = 0; i < 4; i++) {
        char *body = read_response(fd, pending, &plen);
        if (!body)
            fail_msg("answer %d of 4 missing", i + 1);
        assert_string_equal(body, want[i]);
        free(body);
    }
    send_all(fd, "GET /echo/five HTTP/1.1\r\nHost: t\r\n\r\n");
    char *body = read_response(fd, pending, &plen);
    assert_non_null(body);
    assert_string_equal(body, "five\n");
    free(body);
    free(pending);
    close(fd);
    px_http_stop(s);
}

/* A client dripping a byte every 100 ms never completes its request: it
 * is closed at request_timeout, although it is never idle. */
static void test_request_deadline(void **state)
{
    (void)state;
    px_http_limits l;
    px_http_limits_default(&l);
    l.request_timeout_ms = 1000;
    px_http_server *s = start("drip.listen", &l);
    int fd = dial(px_http_port(s), 2);
    int64_t t0 = now_ms();
    const char *req = "GET /echo/never HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    bool closed = false;
    for (size_t i = 0; !closed && now_ms() - t0 < 5000; i++) {
        char ch = req[i < strlen(req) ? i : strlen(req) - 1];
        if (send(fd, &ch, 1, MSG_NOSIGNAL) != 1)
            break;
        closed = closed_within(fd, 100);
    }
    int64_t took = now_ms() - t0;
    closed = closed || closed_within(fd, 1000);
    assert_true(closed);
    print_message("closed after %lld ms\n", (long long)took);
    assert_true(took >= 900 && took < 3000);
    assert_int_equal(rejected("drip", "request_timeout"), 1);
    assert_true(logged("drip.listen: closed a connection that sent no whole request within 1 s"));
    close(fd);

    /* a kept-alive connection left idle is closed quietly */
    int before = lines_logged();
    fd = dial(px_http_port(s), 2);
    send_all(fd, "GET /echo/once HTTP/1.1\r\nHost: t\r\n\r\n");
    char *pending = malloc(65536);
    size_t plen = 0;
    char *body = read_response(fd, pending, &plen);
    assert_non_null(body);
    free(body);
    free(pending);
    assert_true(closed_within(fd, 3000));
    assert_int_equal(pxt_metric("pdnsx_http_idle_closed_total{endpoint=\"drip\"}"), 1);
    assert_int_equal(rejected("drip", "request_timeout"), 1);
    assert_int_equal(lines_logged(), before);
    close(fd);
    px_http_stop(s);
}

/* A client past max_per_client loses its oldest connection, and only its
 * own: another client's stays. */
static void test_per_client(void **state)
{
    (void)state;
    px_http_limits l;
    px_http_limits_default(&l);
    l.max_per_client = 3;
    px_http_server *s = start("perc.listen", &l);
    uint16_t port = px_http_port(s);
    int other = dial(port, 8);
    send_all(other, "GET /echo/x HTTP/1.1\r\n");
    int fds[5];
    for (int i = 0; i < 5; i++) {
        fds[i] = dial(port, 7);
        send_all(fds[i], "G");
        /* one at a time, so that the order of age is the order here */
        for (int64_t end = now_ms() + 2000; taken("perc") < (uint64_t)i + 2 && now_ms() < end;)
            usleep(1000);
    }
    assert_true(closed_within(fds[0], 2000));
    assert_true(closed_within(fds[1], 2000));
    assert_int_equal(rejected("perc", "per_client"), 2);
    /* the three newest and the other client's still work */
    for (int i = 2; i < 5; i++) {
        send_all(fds[i], "ET /echo/y HTTP/1.1\r\nHost: t\r\n\r\n");
        char *pending = malloc(65536);
        size_t plen = 0;
        char *body = read_response(fds[i], pending, &plen);
        assert_non_null(body);
        assert_string_equal(body, "y\n");
        free(body);
        free(pending);
    }
    send_all(other, "Host: t\r\n\r\n");
    char *pending = malloc(65536);
    size_t plen = 0;
    char *body = read_response(other, pending, &plen);
    assert_non_null(body);
    free(body);
    free(pending);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    close(other);
    assert_int_equal(rejected("perc", "full"), 0);
    assert_true(logged("perc.listen: closed an older connection of a client that opened more "
                       "than 3 (http.max_per_client)"));
    px_http_stop(s);
}

/* At max_connections, a new client is answered at once: the oldest
 * connection that is not being answered makes room. */
static void test_full(void **state)
{
    (void)state;
    px_http_limits l;
    px_http_limits_default(&l);
    l.max_connections = 4;
    px_http_server *s = start("full.listen", &l);
    uint16_t port = px_http_port(s);
    int slow[4];
    for (int i = 0; i < 4; i++) {
        slow[i] = dial(port, 20 + i);
        send_all(slow[i], "GE");
        for (int64_t end = now_ms() + 2000; taken("full") < (uint64_t)i + 1 && now_ms() < end;)
            usleep(1000);
    }
    int64_t t0 = now_ms();
    char *body = get(port, 1, "/echo/in");
    assert_non_null(body);
    assert_string_equal(body, "in\n");
    free(body);
    assert_true(now_ms() - t0 < 1000);
    assert_int_equal(rejected("full", "full"), 1);
    /* the oldest went; the others are still open */
    assert_true(closed_within(slow[0], 2000));
    for (int i = 1; i < 4; i++)
        assert_false(closed_within(slow[i], 0));
    for (int i = 0; i < 4; i++)
        close(slow[i]);
    assert_true(logged("full.listen: closed an older connection to let a new one in: 4 open "
                       "(http.max_connections)"));
    px_http_stop(s);
}

/* A streamed answer its client does not take is cut at answer_timeout:
 * the client sees it end without the last chunk, and the stream's state
 * is freed. */
static void test_answer_deadline(void **state)
{
    (void)state;
    px_http_limits l;
    px_http_limits_default(&l);
    l.answer_timeout_ms = 1000;
    px_http_server *s = start("slowread.listen", &l);
    int before = atomic_load(&streams_freed);
    int fd = dial(px_http_port(s), 3);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    send_all(fd, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    int64_t t0 = now_ms();
    for (int64_t end = t0 + 5000; rejected("slowread", "answer_timeout") == 0 && now_ms() < end;)
        usleep(10000);
    int64_t took = now_ms() - t0;
    print_message("cut after %lld ms\n", (long long)took);
    assert_int_equal(rejected("slowread", "answer_timeout"), 1);
    assert_true(took >= 900 && took < 3000);
    assert_true(logged("slowread.listen: cut off an answer its client did not take within 1 s"));
    size_t total = 0;
    char buf[65536], tail[5] = "";
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
        total += (size_t)n;
        memcpy(tail, buf + (n >= 5 ? n - 5 : 0), (size_t)(n >= 5 ? 5 : n));
    }
    /* it ends at once: the server does not keep feeding it what it had
     * queued (a client reading 4 KiB at a time would take minutes) */
    assert_true(now_ms() - t0 < 4000);
    assert_true(total < (16u << 20));
    assert_false(memcmp(tail, "0\r\n\r\n", 5) == 0);
    close(fd);
    for (int64_t end = now_ms() + 2000; atomic_load(&streams_freed) == before && now_ms() < end;)
        usleep(1000);
    assert_int_equal(atomic_load(&streams_freed), before + 1);

    /* a client that reads gets the whole answer */
    fd = dial(px_http_port(s), 4);
    send_all(fd, "GET /big HTTP/1.0\r\nHost: t\r\n\r\n");
    total = 0;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
        total += (size_t)n;
    close(fd);
    assert_true(total > (16u << 20));
    px_http_stop(s);
}

static void test_bad_listen(void **state)
{
    (void)state;
    assert_true(lines_logged() > 0);
    assert_false(address_logged);
    px_http_opts o = {.setting = "x.listen", .handler = handler};
    char err[256];
    px_http_server *s = (px_http_server *)&o; /* set to NULL on failure */
    assert_int_equal(px_http_server_start("localhost:1", &o, &s, err, sizeof(err)), PX_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(err, "x.listen"));
    px_http_stop(NULL);
}

typedef struct reports {
    pthread_mutex_t lock;
    int n;
    px_log_level level;
    char last[512];
} reports;

static void on_report(void *ctx, px_log_level level, const char *msg)
{
    reports *r = ctx;
    pthread_mutex_lock(&r->lock);
    r->n++;
    r->level = level;
    snprintf(r->last, sizeof(r->last), "%s", msg);
    pthread_mutex_unlock(&r->lock);
}

static int reports_seen(reports *r)
{
    pthread_mutex_lock(&r->lock);
    int n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* px_http_server_start: warnings go to the report hook (with its ctx, at
 * WARNING, instead of the older log hook), failures come back as codes. */
static void test_server_start_reports(void **state)
{
    (void)state;
    reports r = {.lock = PTHREAD_MUTEX_INITIALIZER};
    px_http_opts o = {.setting = "rep.listen",
                      .report = on_report,
                      .report_ctx = &r,
                      .log = on_log,
                      .handler = handler};
    px_http_limits_default(&o.limits);
    o.limits.max_per_client = 1;
    int logged_before = lines_logged();
    px_http_server *s = NULL;
    char why[256] = "";
    assert_int_equal(px_http_server_start("127.0.0.1:0", &o, &s, why, sizeof(why)), PX_OK);
    assert_non_null(s);
    uint16_t port = px_http_port(s);
    int a = dial(port, 9);
    send_all(a, "G");
    for (int64_t end = now_ms() + 2000; taken("rep") < 1 && now_ms() < end;)
        usleep(1000);
    int b = dial(port, 9);
    send_all(b, "G");
    assert_true(closed_within(a, 2000));
    for (int64_t end = now_ms() + 2000; reports_seen(&r) < 1 && now_ms() < end;)
        usleep(1000);
    assert_int_equal(reports_seen(&r), 1);
    assert_int_equal(r.level, PX_LOG_WARNING);
    assert_non_null(strstr(r.last, "rep.listen: closed an older connection of a client that "
                                   "opened more than 1 (http.max_per_client)"));
    assert_int_equal(lines_logged(), logged_before);
    close(a);
    close(b);

    /* the port in use, a name for an address, no handler */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    px_http_server *t = s;
    assert_int_equal(px_http_server_start(listen, &o, &t, why, sizeof(why)), PX_ERR_IO);
    assert_null(t);
    assert_non_null(strstr(why, "rep.listen 127.0.0.1:"));
    px_http_stop(s);
    assert_int_equal(px_http_server_start("localhost:1", &o, &t, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "rep.listen"));
    o.handler = NULL;
    assert_int_equal(px_http_server_start("127.0.0.1:0", &o, &t, NULL, 0), PX_ERR_CONFIG);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelining),           cmocka_unit_test(test_request_deadline),
        cmocka_unit_test(test_per_client),           cmocka_unit_test(test_full),
        cmocka_unit_test(test_answer_deadline),      cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_server_start_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
