/* test_dnstap_conns.c: the dnstap socket inputs under idle, slow and
 * broken senders: connections that never shake hands or stop half way are
 * closed at their deadline, idle ones make room for a real sender when
 * every slot is taken, and every such close and protocol error is counted
 * and logged. Real sockets (unix and TCP), real receivers, the project's
 * own sender and Debian's fstrm_replay. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_read.h"
#include "dnstap.pb-c.h"
#include "px_dnstap.h"
#include "px_fstrm.h"
#include "px_input_impl.h"
#include "pxt_producer.h"
#include "core/px_metrics.h"

extern char **environ;

#define CT PX_DNSTAP_CONTENT_TYPE
#define CLOSED(reason)                                                                             \
    "pdnsx_input_connections_closed_total{input=\"dnstap\",reason=\"" reason "\"}"
#define MALFORMED(reason) "pdnsx_input_malformed_total{input=\"dnstap\",reason=\"" reason "\"}"
#define ACCEPTED "pdnsx_input_connections_total{input=\"dnstap\"}"
#define REJECTED "pdnsx_input_connections_rejected_total{input=\"dnstap\"}"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Makes time pass between two events whose order the receiver judges by
 * time (which connection is idle longest); not a synchronisation. */
static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls a metric (or the sum of two) until it reaches want; the deadline
 * only keeps a broken receiver from hanging the run. */
static uint64_t metric_wait2(const char *name, const char *plus, uint64_t want)
{
    int64_t end = now_ms() + 20000;
    uint64_t v;
    while ((v = pxt_metric(name) + (plus ? pxt_metric(plus) : 0)) < want && now_ms() < end)
        pause_ms(2);
    return v;
}

static uint64_t metric_wait(const char *name, uint64_t want)
{
    return metric_wait2(name, NULL, want);
}

/* ---- events and log lines the input gives ----------------------------------- */

typedef struct sink {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t count;
    char logs[16384];
    size_t log_lines;
} sink;

static void sink_fn(void *ctx, const px_dns_event *ev)
{
    (void)ev;
    sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->count++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void log_fn(void *ctx, int level, const char *msg)
{
    sink *s = ctx;
    pthread_mutex_lock(&s->lock);
    size_t used = strlen(s->logs);
    snprintf(s->logs + used, sizeof(s->logs) - used, "%d %s\n", level, msg);
    s->log_lines++;
    pthread_mutex_unlock(&s->lock);
}

static size_t sink_wait(sink *s, size_t n)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 20;
    pthread_mutex_lock(&s->lock);
    while (s->count < n && pthread_cond_timedwait(&s->cond, &s->lock, &dl) == 0)
        ;
    size_t c = s->count;
    pthread_mutex_unlock(&s->lock);
    return c;
}

static size_t sink_count(sink *s)
{
    pthread_mutex_lock(&s->lock);
    size_t c = s->count;
    pthread_mutex_unlock(&s->lock);
    return c;
}

/* True when a log line so far contains text. */
static bool logged(sink *s, const char *text)
{
    pthread_mutex_lock(&s->lock);
    bool found = strstr(s->logs, text) != NULL;
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* ---- a receiver in a thread ---------------------------------------------------- */

typedef struct endpoint {
    bool unix_sock;
    char dir[64];
    char path[108];
    uint16_t port;
} endpoint;

typedef struct rig {
    endpoint ep;
    sink s;
    void *in;
    pthread_t thread;
    px_err result;
} rig;

static void *run_thread(void *arg)
{
    rig *r = arg;
    r->result = px_dnstap_input_ops.run(r->in);
    return NULL;
}

/* Starts a unix or TCP receiver with the given limits (0: default). */
static void rig_start(rig *r, bool unix_sock, unsigned max_conns, unsigned handshake_ms,
                      uint64_t idle_ms)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->s.lock, NULL);
    pthread_cond_init(&r->s.cond, NULL);
    r->ep.unix_sock = unix_sock;
    px_input_conf conf = {.max_connections = max_conns,
                          .handshake_ms = handshake_ms,
                          .idle_ms = idle_ms,
                          .log_fn = log_fn,
                          .log_ctx = &r->s};
    if (unix_sock) {
        snprintf(r->ep.dir, sizeof(r->ep.dir), "/tmp/px_dnstap_conns_XXXXXX");
        assert_non_null(mkdtemp(r->ep.dir));
        snprintf(r->ep.path, sizeof(r->ep.path), "%s/dnstap.sock", r->ep.dir);
        conf.type = PX_INPUT_DNSTAP_UNIX;
        conf.path = r->ep.path;
    } else {
        conf.type = PX_INPUT_DNSTAP_TCP;
        conf.listen = "127.0.0.1:0";
    }
    char err[256];
    r->in = px_dnstap_input_open(&conf, sink_fn, &r->s, err, sizeof(err));
    assert_non_null(r->in);
    if (!unix_sock) {
        pthread_mutex_lock(&r->s.lock);
        r->ep.port = pxt_logged_port(r->s.logs, "dnstap-tcp");
        pthread_mutex_unlock(&r->s.lock);
        assert_true(r->ep.port > 0);
    }
    assert_int_equal(pthread_create(&r->thread, NULL, run_thread, r), 0);
}

static void rig_stop(rig *r)
{
    px_dnstap_input_ops.stop(r->in);
    pthread_join(r->thread, NULL);
    assert_int_equal(r->result, PX_OK);
    px_dnstap_input_ops.destroy(r->in);
    if (r->ep.unix_sock)
        rmdir(r->ep.dir);
    pthread_mutex_destroy(&r->s.lock);
    pthread_cond_destroy(&r->s.cond);
}

/* ---- senders --------------------------------------------------------------------- */

static int connect_to(const endpoint *ep)
{
    int fd;
    if (ep->unix_sock) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ep->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(ep->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    }
    /* Every read below ends within 10 s, whatever the receiver does. */
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
}

static void send_control(int fd, uint32_t type, const char *ct)
{
    uint8_t buf[512];
    send_all(fd, buf, px_fstrm_control_encode(buf, sizeof(buf), type, ct));
}

/* Reads one control frame; returns its type, 0 if the peer closed. */
static uint32_t read_control(int fd)
{
    uint8_t buf[PX_FSTRM_CONTROL_MAX + 8];
    size_t have = 0, need = 8;
    px_fstrm_frame f;
    for (;;) {
        if (px_fstrm_frame_next(buf, have, 0, &f, &need) == PX_OK)
            break;
        size_t want = need > have ? need - have : 1;
        ssize_t n = recv(fd, buf + have, want, 0);
        if (n <= 0)
            return 0;
        have += (size_t)n;
    }
    px_fstrm_control c;
    assert_true(f.control);
    assert_int_equal(px_fstrm_control_parse(f.data, f.len, CT, &c), PX_OK);
    return c.type;
}

/* Waits (up to the socket's 10 s) for the receiver to close; true if it
 * did, false if the connection is still open. */
static bool closed_by_peer(int fd)
{
    uint8_t b[64];
    for (;;) {
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false; /* EAGAIN: the timeout passed */
    }
}

/* True when the connection is open and nothing waits to be read. */
static bool still_open(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static int sender_open(const endpoint *ep)
{
    int fd = connect_to(ep);
    send_control(fd, PX_FSTRM_CONTROL_READY, CT);
    assert_int_equal(read_control(fd), PX_FSTRM_CONTROL_ACCEPT);
    send_control(fd, PX_FSTRM_CONTROL_START, CT);
    return fd;
}

static void sender_close(int fd)
{
    send_control(fd, PX_FSTRM_CONTROL_STOP, NULL);
    assert_int_equal(read_control(fd), PX_FSTRM_CONTROL_FINISH);
    assert_true(closed_by_peer(fd));
    close(fd);
}

/* A dnstap CLIENT_RESPONSE frame for an A question of `name`. */
static size_t make_response(uint8_t *out, size_t cap, const char *name)
{
    uint8_t dns[300] = {0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
    size_t o = 12;
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        dns[o++] = (uint8_t)l;
        memcpy(dns + o, p, l);
        o += l;
        p += l + (dot ? 1 : 0);
    }
    dns[o++] = 0;
    memcpy(dns + o, "\0\1\0\1", 4);
    o += 4;
    static uint8_t qaddr[4] = {198, 51, 100, 7};
    Dnstap__Message m = DNSTAP__MESSAGE__INIT;
    m.type = DNSTAP__MESSAGE__TYPE__CLIENT_RESPONSE;
    m.has_query_address = 1;
    m.query_address = (ProtobufCBinaryData){4, qaddr};
    m.has_response_time_sec = 1;
    m.response_time_sec = 1700000000;
    m.has_response_message = 1;
    m.response_message = (ProtobufCBinaryData){o, dns};
    Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
    d.type = DNSTAP__DNSTAP__TYPE__MESSAGE;
    d.message = &m;
    assert_true(dnstap__dnstap__get_packed_size(&d) <= cap);
    return dnstap__dnstap__pack(&d, out);
}

static void sender_data(int fd, const char *name)
{
    uint8_t f[512], out[520];
    size_t n = make_response(f, sizeof(f), name);
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, f, n);
    send_all(fd, out, n + 4);
}

/* n connections that connect and never send a byte, once the receiver
 * has taken (or refused) them all. */
static void open_silent(const endpoint *ep, int *fds, size_t n)
{
    uint64_t base = pxt_metric(ACCEPTED) + pxt_metric(REJECTED);
    for (size_t i = 0; i < n; i++)
        fds[i] = connect_to(ep);
    assert_int_equal(metric_wait2(ACCEPTED, REJECTED, base + n), base + n);
}

/* A Frame Streams file of n responses, as fstrm_capture writes it. */
static void write_fstrm_file(const char *path, int n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t buf[600];
    fwrite(buf, 1, px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_START, CT), f);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "r%d.replay.example", i);
        size_t len = make_response(buf + 4, sizeof(buf) - 4, name);
        buf[0] = (uint8_t)(len >> 24);
        buf[1] = (uint8_t)(len >> 16);
        buf[2] = (uint8_t)(len >> 8);
        buf[3] = (uint8_t)len;
        fwrite(buf, 1, len + 4, f);
    }
    fwrite(buf, 1, px_fstrm_control_encode(buf, sizeof(buf), PX_FSTRM_CONTROL_STOP, NULL), f);
    assert_int_equal(fclose(f), 0);
}

/* Debian's fstrm_replay sends the file to the endpoint; returns its exit
 * status, or -1 when it is not installed (fstrm-bin). */
static int fstrm_replay(const endpoint *ep, const char *file)
{
    if (access("/usr/bin/fstrm_replay", X_OK) != 0)
        return -1;
    char port[8];
    snprintf(port, sizeof(port), "%u", ep->port);
    char *unix_argv[] = {"fstrm_replay",   "-t", CT,           "-u",
                         (char *)ep->path, "-r", (char *)file, NULL};
    char *tcp_argv[] = {"fstrm_replay", "-t", CT,   "-a",         "127.0.0.1",
                        "-p",           port, "-r", (char *)file, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, "/usr/bin/fstrm_replay", &fa, NULL,
                                 ep->unix_sock ? unix_argv : tcp_argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- tests ------------------------------------------------------------------------- */

enum { SILENT = 80, SLOTS = 64 };

/* 80 connections that never send READY, held open with every slot taken
 * (their handshake deadline is a minute away): a real sender connects,
 * shakes hands and has its frames decoded within a second, twice (our
 * sender, then fstrm_replay); each new connection closed the oldest silent
 * one, and the newest silent ones still wait. */
static void idle_flood(bool unix_sock)
{
    rig r;
    rig_start(&r, unix_sock, 0 /* 64 */, 60000, 0);
    uint64_t evicted = pxt_metric(CLOSED("evicted"));
    int silent[SILENT];
    uint64_t rejected = pxt_metric(REJECTED);
    open_silent(&r.ep, silent, SILENT);

    int64_t t0 = now_ms();
    int fd = sender_open(&r.ep);
    for (int i = 0; i < 3; i++)
        sender_data(fd, "served.example");
    assert_int_equal(sink_wait(&r.s, 3), 3);
    int64_t took = now_ms() - t0;
    sender_close(fd);
    assert_true(took < 1000);
    /* every new connection past the 64th made room; none was refused */
    assert_int_equal(pxt_metric(CLOSED("evicted")), evicted + (SILENT - SLOTS) + 1);
    assert_int_equal(pxt_metric(REJECTED), rejected);
    assert_true(logged(&r.s, "all 64 connection slots in use (dnstap.max_connections): closed "
                             "one still in its handshake"));

    /* the oldest silent connections made room; the newest still wait */
    assert_true(closed_by_peer(silent[0]));
    assert_true(still_open(silent[SILENT - 1]));

    char file[] = "/tmp/px_dnstap_conns_replay_XXXXXX";
    int tf = mkstemp(file);
    assert_true(tf >= 0);
    close(tf);
    write_fstrm_file(file, 5);
    t0 = now_ms();
    int rc = fstrm_replay(&r.ep, file);
    if (rc >= 0) {
        assert_int_equal(rc, 0);
        assert_int_equal(sink_wait(&r.s, 8), 8);
        assert_true(now_ms() - t0 < 1000);
    }
    unlink(file);
    assert_true(still_open(silent[SILENT - 1]));
    for (int i = 0; i < SILENT; i++)
        close(silent[i]);
    rig_stop(&r);
}

static void test_idle_flood_unix(void **state)
{
    (void)state;
    idle_flood(true);
}

static void test_idle_flood_tcp(void **state)
{
    (void)state;
    idle_flood(false);
}

/* A connection that never sends READY, and one that stops after ACCEPT,
 * are closed at the handshake deadline (counted, logged); a sender that
 * finished its handshake in time is not. */
static void handshake_deadline(bool unix_sock)
{
    rig r;
    rig_start(&r, unix_sock, 0, 300, 0);
    uint64_t base = pxt_metric(CLOSED("handshake_timeout"));
    int good = sender_open(&r.ep);
    int64_t t0 = now_ms();
    int mute = connect_to(&r.ep);
    int half = connect_to(&r.ep);
    send_control(half, PX_FSTRM_CONTROL_READY, CT);
    assert_int_equal(read_control(half), PX_FSTRM_CONTROL_ACCEPT);
    assert_true(closed_by_peer(mute));
    assert_true(closed_by_peer(half));
    int64_t took = now_ms() - t0;
    assert_true(took >= 250 && took < 5000);
    assert_int_equal(metric_wait(CLOSED("handshake_timeout"), base + 2), base + 2);
    assert_true(logged(&r.s, "did not complete the Frame Streams handshake within 300 ms"));
    sender_data(good, "after.example");
    assert_int_equal(sink_wait(&r.s, 1), 1);
    sender_close(good);
    close(mute);
    close(half);
    rig_stop(&r);
}

static void test_handshake_deadline_unix(void **state)
{
    (void)state;
    handshake_deadline(true);
}

static void test_handshake_deadline_tcp(void **state)
{
    (void)state;
    handshake_deadline(false);
}

/* A started sender that goes quiet is closed at the idle deadline; one
 * that keeps sending (each gap shorter than the deadline, the whole longer)
 * is served throughout. */
static void test_idle_deadline(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, true, 0, 0, 500);
    uint64_t base = pxt_metric(CLOSED("idle_timeout"));
    int quiet = sender_open(&r.ep);
    int busy = sender_open(&r.ep);
    int64_t t0 = now_ms();
    for (int i = 0; i < 10; i++) {
        sender_data(busy, "busy.example");
        pause_ms(150);
    }
    assert_int_equal(sink_wait(&r.s, 10), 10);
    assert_true(now_ms() - t0 > 1000);
    sender_close(busy);
    assert_true(closed_by_peer(quiet));
    close(quiet);
    assert_int_equal(metric_wait(CLOSED("idle_timeout"), base + 1), base + 1);
    assert_true(
        logged(&r.s, "sent nothing for 500 ms (dnstap.idle_seconds); a resolver reconnects"));
    rig_stop(&r);
}

/* Every slot holds a started sender: a new one closes the one idle the
 * longest, never one that just sent; with a connection still in its
 * handshake, that one goes first. No address appears in the log. */
static void test_evicts_idle_longest(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, false, 4, 60000, 0);
    uint64_t base = pxt_metric(CLOSED("evicted"));
    int s[4];
    for (int i = 0; i < 4; i++)
        s[i] = sender_open(&r.ep);
    /* s[2] has been idle the longest */
    for (int i = 0; i < 4; i++) {
        if (i == 2)
            continue;
        pause_ms(30);
        sender_data(s[i], "recent.example");
    }
    assert_int_equal(sink_wait(&r.s, 3), 3);
    int fresh = sender_open(&r.ep);
    assert_true(closed_by_peer(s[2]));
    for (int i = 0; i < 4; i++)
        if (i != 2)
            assert_true(still_open(s[i]));
    assert_int_equal(pxt_metric(CLOSED("evicted")), base + 1);
    assert_true(logged(&r.s, "closed the one idle longest"));

    /* a silent connection takes a slot (closing the next idlest, s[0]);
     * the next sender then closes the silent one, not a started one */
    int mute = connect_to(&r.ep);
    assert_true(closed_by_peer(s[0]));
    int another = sender_open(&r.ep);
    assert_true(closed_by_peer(mute));
    assert_true(still_open(s[1]) && still_open(s[3]) && still_open(fresh));
    assert_int_equal(pxt_metric(CLOSED("evicted")), base + 3);

    struct sockaddr_in me;
    socklen_t len = sizeof(me);
    assert_int_equal(getsockname(another, (struct sockaddr *)&me, &len), 0);
    char port[16];
    snprintf(port, sizeof(port), ":%u", ntohs(me.sin_port));
    assert_false(logged(&r.s, port));

    sender_data(another, "last.example");
    assert_int_equal(sink_wait(&r.s, 4), 4);
    sender_close(another);
    sender_close(fresh);
    close(s[0]);
    close(s[1]);
    close(s[2]);
    close(s[3]);
    close(mute);
    rig_stop(&r);
}

/* An oversized frame and a wrong content type: the connection is closed,
 * counted as malformed input and by close reason, and logged. */
static void test_protocol_errors_logged(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, true, 0, 0, 0);
    uint64_t over = pxt_metric(CLOSED("oversize"));
    uint64_t over_m = pxt_metric(MALFORMED("oversize"));
    uint64_t ct = pxt_metric(CLOSED("content_type"));
    uint64_t ct_m = pxt_metric(MALFORMED("content_type"));

    int a = sender_open(&r.ep);
    send_all(a, "\x00\x20\x00\x00", 4); /* a 2 MiB data frame announced */
    assert_true(closed_by_peer(a));
    close(a);
    assert_int_equal(metric_wait(CLOSED("oversize"), over + 1), over + 1);
    assert_int_equal(pxt_metric(MALFORMED("oversize")), over_m + 1);
    assert_true(logged(&r.s, "closed a connection that sent a frame over 1048576 bytes"));

    int b = connect_to(&r.ep);
    send_control(b, PX_FSTRM_CONTROL_READY, "protobuf:other");
    assert_int_equal(read_control(b), 0);
    close(b);
    assert_int_equal(metric_wait(CLOSED("content_type"), ct + 1), ct + 1);
    assert_int_equal(pxt_metric(MALFORMED("content_type")), ct_m + 1);
    assert_true(logged(&r.s, "does not offer content type \"protobuf:dnstap.Dnstap\""));

    /* the receiver still serves */
    int c = sender_open(&r.ep);
    sender_data(c, "fine.example");
    sender_close(c);
    assert_int_equal(sink_count(&r.s), 1);
    rig_stop(&r);
}

/* The process runs out of file descriptors before the slots are taken: a
 * new sender still gets one, from the connection that would be evicted,
 * and the log says so. */
static void test_out_of_descriptors(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, true, 0, 60000, 0);
    uint64_t evicted = pxt_metric(CLOSED("evicted"));
    int silent[3];
    open_silent(&r.ep, silent, 3);
    /* Fill every hole below the highest descriptor in use, then allow
     * exactly one more: the sender's own socket takes it, and the
     * receiver's accept() fails with EMFILE. */
    int top = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            top = fd;
    int fillers[4096], nfill = 0;
    for (int fd = 0; fd < top; fd++)
        if (fcntl(fd, F_GETFD) < 0)
            fillers[nfill++] = dup2(silent[0], fd);
    struct rlimit old, tight;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    tight = old;
    tight.rlim_cur = (rlim_t)top + 2;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    int fd = sender_open(&r.ep);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    sender_data(fd, "no-fd.example");
    assert_int_equal(sink_wait(&r.s, 1), 1);
    sender_close(fd);
    assert_int_equal(pxt_metric(CLOSED("evicted")), evicted + 1);
    assert_true(closed_by_peer(silent[0]));
    assert_true(still_open(silent[2]));
    assert_true(logged(&r.s, "out of file descriptors (Too many open files): closed the "
                             "connection that would be evicted to serve a new sender"));
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    for (int i = 0; i < 3; i++)
        close(silent[i]);
    rig_stop(&r);
}

/* A flood of bad connections is counted in full but logged a bounded
 * number of times. */
static void test_log_is_rate_limited(void **state)
{
    (void)state;
    rig r;
    rig_start(&r, true, 0, 0, 0);
    uint64_t base = pxt_metric(CLOSED("content_type"));
    for (int i = 0; i < 40; i++) {
        int b = connect_to(&r.ep);
        send_control(b, PX_FSTRM_CONTROL_READY, "protobuf:other");
        assert_int_equal(read_control(b), 0);
        close(b);
    }
    assert_int_equal(metric_wait(CLOSED("content_type"), base + 40), base + 40);
    pthread_mutex_lock(&r.s.lock);
    size_t lines = r.s.log_lines;
    pthread_mutex_unlock(&r.s.lock);
    assert_true(lines >= 1 && lines <= 10);
    rig_stop(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_flood_unix),
        cmocka_unit_test(test_idle_flood_tcp),
        cmocka_unit_test(test_handshake_deadline_unix),
        cmocka_unit_test(test_handshake_deadline_tcp),
        cmocka_unit_test(test_idle_deadline),
        cmocka_unit_test(test_evicts_idle_longest),
        cmocka_unit_test(test_protocol_errors_logged),
        cmocka_unit_test(test_log_is_rate_limited),
        cmocka_unit_test(test_out_of_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
