/* px_alert_syslog.c: the syslog sink (alerts.syslog): RFC 5424 messages
 * over UDP (RFC 5426) or over TCP with octet-counting framing (RFC 6587,
 * "LEN SP MSG").
 *
 *   <PRI>1 TIMESTAMP HOSTNAME pdnsx-consumer PROCID MSGID - MSG
 *
 * PRI: facility 4 (security/authorization, where a SOC's forwarding rules
 * look), severity by the alert's event.severity in ArcSight's bands: 0-3
 * notice (5), 4-6 warning (4), 7-8 error (3), 9-10 critical (2).
 * TIMESTAMP: the alert's event time (UTC, "Z"), so a re-delivery is the
 * same message. MSGID: the rule name. No structured data. MSG: the alert
 * JSON, or a CEF record (alerts.syslog_format = "cef").
 *
 * UDP: a message over PX_ALERT_SYSLOG_UDP_MAX bytes is cut there (at a
 * UTF-8 boundary) and ends with PX_ALERT_SYSLOG_CUT; TCP, the file and
 * Kafka carry it whole. TCP: a message counts as delivered once the
 * receiver's TCP acknowledged its last byte; a connection that breaks
 * sends the unacknowledged ones again on the next (a receiver may see one
 * twice: same event.id). The connect has a deadline; failures back off. */
#include "px_alert_sink_int.h"

#include <errno.h>
#include <jansson.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/px_clock.h"

/* RFC 5426 wants receivers to take 2048 bytes and allows more; rsyslog's
 * default maxMessageSize is 8 KiB, and loopback or a LAN carries it. */
#define PX_ALERT_SYSLOG_UDP_MAX 8192
#define PX_ALERT_SYSLOG_CUT "[cut]"
#define PX_ALERT_SYSLOG_FACILITY 4
/* A message: the alert JSON and the header (HOSTNAME at most 255). */
#define PX_ALERT_SYSLOG_MSG_MAX (PX_ALERT_JSON_MAX + 1024)

/* ---- text --------------------------------------------------------------------------- */

typedef struct px_text {
    char *p;
    size_t cap, len; /* len may pass cap: the length it would have */
} px_text;

static void px_text_put(px_text *t, const char *s, size_t n)
{
    if (t->len < t->cap) {
        size_t room = t->cap - 1 - t->len;
        memcpy(t->p + t->len, s, n < room ? n : room);
    }
    t->len += n;
    if (t->cap)
        t->p[t->len < t->cap ? t->len : t->cap - 1] = '\0';
}

static void px_text_printf(px_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void px_text_printf(px_text *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > 0)
        px_text_put(t, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Printable US-ASCII (RFC 5424 PRINTUSASCII), others as '_', at most max. */
static void px_text_printable(px_text *t, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && s[n] && n < max; n++) {
        char c = (unsigned char)s[n] >= 33 && (unsigned char)s[n] <= 126 ? s[n] : '_';
        px_text_put(t, &c, 1);
    }
    if (n == 0)
        px_text_put(t, "-", 1);
}

/* ---- CEF ---------------------------------------------------------------------------- */

static size_t px_alert_cef_escape(const char *in, char *out, size_t cap, bool header)
{
    px_text t = {out, cap, 0};
    for (const char *p = in; p && *p; p++) {
        if (*p == '\\' || (header ? *p == '|' : *p == '=')) {
            char e[2] = {'\\', *p};
            px_text_put(&t, e, 2);
        } else if (*p == '\n' || *p == '\r') {
            px_text_put(&t, header ? " " : *p == '\n' ? "\\n" : "\\r", header ? 1 : 2);
        } else {
            px_text_put(&t, p, 1);
        }
    }
    if (cap && t.len == 0)
        out[0] = '\0';
    return t.len;
}

size_t px_alert_cef_header(const char *in, char *out, size_t cap)
{
    return px_alert_cef_escape(in, out, cap, true);
}

size_t px_alert_cef_value(const char *in, char *out, size_t cap)
{
    return px_alert_cef_escape(in, out, cap, false);
}

static void px_text_cef(px_text *t, const char *s, bool header)
{
    size_t n = px_alert_cef_escape(s, NULL, 0, header);
    char *buf = malloc(n + 1);
    if (!buf)
        return;
    px_alert_cef_escape(s, buf, n + 1, header);
    px_text_put(t, buf, n);
    free(buf);
}

/* One extension "key=value" (value escaped), space-separated. */
static void px_text_ext(px_text *t, const char *key, const char *value)
{
    if (!value)
        return;
    px_text_printf(t, " %s=", key);
    px_text_cef(t, value, false);
}

/* What the alert JSON says that the header and CEF use. */
typedef struct px_alert_facts {
    int severity; /* 0..10, CEF's scale; 5 when the JSON has none */
    const char *qname, *brand;
    json_t *root;
} px_alert_facts;

static void px_alert_facts_read(const px_alert *a, px_alert_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->severity = 5;
    f->root = json_loadb(a->json, a->json_len, 0, NULL);
    json_t *sev = json_object_get(json_object_get(f->root, "event"), "severity");
    if (json_is_integer(sev)) {
        json_int_t v = json_integer_value(sev);
        f->severity = v < 0 ? 0 : v > 10 ? 10 : (int)v;
    }
    f->qname = json_string_value(
        json_object_get(json_object_get(json_object_get(f->root, "dns"), "question"), "name"));
    f->brand = json_string_value(
        json_object_get(json_object_get(json_object_get(f->root, "pdnsx"), "lookalike"), "brand"));
}

static const char *px_alert_cef_name(const char *rule)
{
    if (strcmp(rule, "pdnsx.new_domain_burst") == 0)
        return "new domain seen by many organisations";
    if (strcmp(rule, "pdnsx.geo_shift") == 0)
        return "answers moved to another country or network";
    return rule;
}

static void px_text_cef_body(px_text *t, const px_alert *a, const px_alert_facts *f)
{
    px_text_put(t, "CEF:0|pdnsx|pdnsx-consumer|", 27);
    px_text_cef(t, PX_VERSION, true);
    px_text_put(t, "|", 1);
    px_text_cef(t, a->rule, true);
    px_text_put(t, "|", 1);
    px_text_cef(t, px_alert_cef_name(a->rule), true);
    px_text_printf(t, "|%d|rt=%lld", f->severity, (long long)a->time * 1000);
    px_text_ext(t, "externalId", a->id);
    px_text_ext(t, "dhost", f->qname);
    px_text_ext(t, "cs1Label", "registeredDomain");
    px_text_ext(t, "cs1", a->key);
    if (f->brand) {
        px_text_ext(t, "cs2Label", "lookalikeBrand");
        px_text_ext(t, "cs2", f->brand);
    }
}

/* ---- RFC 5424 ------------------------------------------------------------------------ */

static int px_alert_syslog_severity(int cef)
{
    return cef >= 9 ? 2 : cef >= 7 ? 3 : cef >= 4 ? 4 : 5;
}

size_t px_alert_syslog_format(const px_alert *a, px_alert_syslog_body body, const char *host,
                              long pid, char *out, size_t cap)
{
    px_text t = {out, cap, 0};
    px_alert_facts f;
    px_alert_facts_read(a, &f);
    time_t tt = (time_t)a->time;
    struct tm tm;
    char ts[32] = "-";
    if (gmtime_r(&tt, &tm))
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    px_text_printf(&t, "<%d>1 %s ",
                   PX_ALERT_SYSLOG_FACILITY * 8 + px_alert_syslog_severity(f.severity), ts);
    px_text_printable(&t, host, 255);
    px_text_printf(&t, " pdnsx-consumer %ld ", pid);
    px_text_printable(&t, a->rule, 32);
    px_text_put(&t, " - ", 3);
    if (body == PX_ALERT_SYSLOG_CEF)
        px_text_cef_body(&t, a, &f);
    else
        px_text_put(&t, a->json, a->json_len);
    json_decref(f.root);
    return t.len;
}

/* ---- the sink ------------------------------------------------------------------------ */

typedef struct px_alert_syslog {
    px_alert_syslog_url url;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    px_alert_syslog_body body;
    char host[256];
    long pid;
    int fd; /* -1: none */
    bool connecting;
    int64_t connect_deadline_ms;
    px_alert_backoff backoff;
    uint64_t written; /* bytes sent over this connection */
    uint64_t acked;   /* of them, acknowledged by the receiver's TCP */
    int64_t ack_ms;   /* when acked last moved (or nothing waited) */
    char *msg;        /* PX_ALERT_SYSLOG_MSG_MAX + framing */
    size_t frame_len, frame_off;
    bool framed; /* msg holds the frame of the first waiting item */
} px_alert_syslog;

/* The first item not yet sent whole; NULL if none. */
static px_alert_item *px_alert_syslog_next(px_alert_sink *s)
{
    for (size_t i = 0; i < s->n; i++) {
        px_alert_item *it = px_alert_sink_at(s, i);
        if (it->state == PX_ALERT_WAITING)
            return it;
    }
    return NULL;
}

/* Formats it into y->msg as it goes on the wire. */
static void px_alert_syslog_frame(px_alert_syslog *y, const px_alert_item *it)
{
    size_t room = PX_ALERT_SYSLOG_MSG_MAX;
    char *m = y->msg + 16; /* room for "LEN " */
    size_t len = px_alert_syslog_format(&it->a, y->body, y->host, y->pid, m, room);
    if (len >= room)
        len = room - 1;
    if (!y->url.tcp && len > PX_ALERT_SYSLOG_UDP_MAX) {
        size_t keep = PX_ALERT_SYSLOG_UDP_MAX - strlen(PX_ALERT_SYSLOG_CUT);
        while (keep > 0 && ((unsigned char)m[keep] & 0xC0) == 0x80)
            keep--; /* not inside a UTF-8 sequence */
        memcpy(m + keep, PX_ALERT_SYSLOG_CUT, strlen(PX_ALERT_SYSLOG_CUT));
        len = keep + strlen(PX_ALERT_SYSLOG_CUT);
    }
    size_t off = 16;
    if (y->url.tcp) {
        char pre[16];
        int n = snprintf(pre, sizeof(pre), "%zu ", len);
        off -= (size_t)n;
        memcpy(y->msg + off, pre, (size_t)n);
    }
    memmove(y->msg, y->msg + off, len + 16 - off);
    y->frame_len = len + 16 - off;
    y->frame_off = 0;
    y->framed = true;
}

/* The connection is gone: what was not acknowledged goes again. */
static void px_alert_syslog_drop(px_alert_sink *s, int64_t now_ms, const char *what, int err)
{
    px_alert_syslog *y = s->impl;
    px_alert_sink_fail(s, now_ms, "%s %s:%u: %s", what, y->url.host, y->url.port, strerror(err));
    if (y->fd >= 0)
        close(y->fd);
    y->fd = -1;
    y->connecting = false;
    y->written = y->acked = 0;
    y->framed = false;
    for (size_t i = 0; i < s->n; i++) {
        px_alert_item *it = px_alert_sink_at(s, i);
        if (it->state == PX_ALERT_SENT)
            it->state = PX_ALERT_WAITING;
    }
    px_alert_backoff_failed(&y->backoff, now_ms);
}

static void px_alert_syslog_connect(px_alert_sink *s, int64_t now_ms)
{
    px_alert_syslog *y = s->impl;
    int type = (y->url.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    y->ack_ms = now_ms;
    y->fd = socket(y->addr.ss_family, type, 0);
    if (y->fd < 0) {
        px_alert_syslog_drop(s, now_ms, "socket for", errno);
        return;
    }
    if (connect(y->fd, (struct sockaddr *)&y->addr, y->addrlen) == 0) {
        px_alert_backoff_ok(&y->backoff);
        return;
    }
    if (errno != EINPROGRESS) {
        px_alert_syslog_drop(s, now_ms, "cannot connect to", errno);
        return;
    }
    y->connecting = true;
    y->connect_deadline_ms = now_ms + PX_ALERT_CONNECT_MS;
}

/* False while the connect is still under way (or failed). */
static bool px_alert_syslog_connected(px_alert_sink *s, int64_t now_ms)
{
    px_alert_syslog *y = s->impl;
    if (!y->connecting)
        return true;
    struct pollfd p = {.fd = y->fd, .events = POLLOUT};
    if (poll(&p, 1, 0) <= 0) {
        if (now_ms >= y->connect_deadline_ms)
            px_alert_syslog_drop(s, now_ms, "connect timed out:", ETIMEDOUT);
        return false;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(y->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        px_alert_syslog_drop(s, now_ms, "cannot connect to", err);
        return false;
    }
    y->connecting = false;
    px_alert_backoff_ok(&y->backoff);
    return true;
}

/* A receiver sends nothing; a read of 0 bytes is its close. */
static bool px_alert_syslog_alive(px_alert_sink *s, int64_t now_ms)
{
    px_alert_syslog *y = s->impl;
    char buf[256];
    ssize_t r;
    while ((r = recv(y->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        ;
    if (r == 0 && s->n == 0) { /* an idle close (a receiver's restart): no failure */
        close(y->fd);
        y->fd = -1;
        y->written = y->acked = 0;
        return false;
    }
    if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        px_alert_syslog_drop(s, now_ms, "connection closed by", r == 0 ? ECONNRESET : errno);
        return false;
    }
    return true;
}

/* Sends waiting items until the socket would block. False: dropped. */
static bool px_alert_syslog_send(px_alert_sink *s, int64_t now_ms)
{
    px_alert_syslog *y = s->impl;
    for (;;) {
        px_alert_item *it = px_alert_syslog_next(s);
        if (!it)
            return true;
        if (!y->framed)
            px_alert_syslog_frame(y, it);
        ssize_t w = send(y->fd, y->msg + y->frame_off, y->frame_len - y->frame_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return true;
            px_alert_syslog_drop(s, now_ms, "cannot send to", errno);
            return false;
        }
        y->frame_off += (size_t)w;
        y->written += (uint64_t)w;
        if (y->frame_off < y->frame_len)
            continue; /* a stream took part of it */
        y->framed = false;
        if (!y->url.tcp) {
            px_alert_sink_done(s, it, false);
            continue;
        }
        it->state = PX_ALERT_SENT;
        it->mark = y->written;
    }
}

/* TCP: the items whose last byte the receiver acknowledged; a receiver
 * that stopped acknowledging is given up after PX_ALERT_ACK_MS. */
static void px_alert_syslog_acked(px_alert_sink *s, int64_t now_ms)
{
    px_alert_syslog *y = s->impl;
    int unacked = 0;
    if (ioctl(y->fd, SIOCOUTQ, &unacked) != 0)
        return;
    uint64_t acked = y->written - (uint64_t)unacked;
    if (acked > y->acked || unacked == 0) {
        y->acked = acked;
        y->ack_ms = now_ms;
    } else if (now_ms - y->ack_ms >= PX_ALERT_ACK_MS) {
        char what[64];
        snprintf(what, sizeof(what), "nothing acknowledged for %d s by", PX_ALERT_ACK_MS / 1000);
        px_alert_syslog_drop(s, now_ms, what, ETIMEDOUT);
        return;
    }
    while (s->n) {
        px_alert_item *it = px_alert_sink_at(s, 0);
        if (it->state != PX_ALERT_SENT || it->mark > acked)
            return;
        px_alert_sink_done(s, it, false);
    }
}

static void px_alert_syslog_poll(px_alert_sink *s, int64_t now_ms)
{
    px_alert_syslog *y = s->impl;
    if (y->fd < 0) {
        if (s->n == 0 || !px_alert_backoff_ready(&y->backoff, now_ms))
            return;
        px_alert_syslog_connect(s, now_ms);
        if (y->fd < 0)
            return;
    }
    if (!px_alert_syslog_connected(s, now_ms))
        return;
    if (y->url.tcp && !px_alert_syslog_alive(s, now_ms))
        return;
    if (!px_alert_syslog_send(s, now_ms))
        return;
    if (y->url.tcp)
        px_alert_syslog_acked(s, now_ms);
}

static void px_alert_syslog_wait(px_alert_sink *s, int ms)
{
    px_alert_syslog *y = s->impl;
    int64_t now = px_clock_mono_ms();
    if (y->fd < 0) {
        int64_t w = y->backoff.until_ms > now ? y->backoff.until_ms - now : 1;
        usleep((useconds_t)(w < ms ? w : ms) * 1000);
        return;
    }
    if (!y->connecting && !px_alert_syslog_next(s)) {
        usleep((useconds_t)(ms < 2 ? ms : 2) * 1000); /* acknowledgements come unannounced */
        return;
    }
    struct pollfd p = {.fd = y->fd, .events = POLLOUT | POLLIN};
    poll(&p, 1, ms);
}

static void px_alert_syslog_reopen(px_alert_sink *s)
{
    px_alert_syslog *y = s->impl;
    if (y->fd >= 0) {
        px_alert_syslog_drop(s, px_clock_mono_ms(), "reconnecting (SIGHUP) to", ECONNABORTED);
        px_alert_backoff_ok(&y->backoff);
    }
}

static void px_alert_syslog_destroy(px_alert_sink *s)
{
    px_alert_syslog *y = s->impl;
    if (y->fd >= 0)
        close(y->fd);
    free(y->msg);
    free(y);
}

static const px_alert_sink_ops px_alert_syslog_ops = {
    .poll = px_alert_syslog_poll,
    .wait = px_alert_syslog_wait,
    .reopen = px_alert_syslog_reopen,
    .destroy = px_alert_syslog_destroy,
};

/* Resolves the URL's host once (at start-up: getaddrinfo blocks). */
static px_err px_alert_syslog_resolve(px_alert_syslog *y, char *why, size_t whylen)
{
    struct addrinfo hints = {.ai_socktype = y->url.tcp ? SOCK_STREAM : SOCK_DGRAM,
                             .ai_flags = AI_NUMERICSERV};
    char port[8];
    snprintf(port, sizeof(port), "%u", y->url.port);
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(y->url.host, port, &hints, &res);
    if (rc != 0 || !res) {
        px_why(why, whylen, "alerts.syslog: cannot resolve %s: %s", y->url.host,
               rc ? gai_strerror(rc) : "no address");
        return PX_ERR_CONFIG;
    }
    memcpy(&y->addr, res->ai_addr, res->ai_addrlen);
    y->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return PX_OK;
}

px_err px_alert_syslog_create(const char *url, px_alert_syslog_body body, uint64_t next_seq,
                              px_alert_sink **out, char *why, size_t whylen)
{
    *out = NULL;
    px_alert_syslog *y = calloc(1, sizeof(*y));
    if (!y || !(y->msg = malloc(PX_ALERT_SYSLOG_MSG_MAX + 16))) {
        free(y);
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    y->fd = -1;
    y->body = body;
    y->pid = (long)getpid();
    char msg[256];
    px_err err = px_alert_syslog_url_parse(url, &y->url, msg, sizeof(msg));
    if (err != PX_OK) {
        px_why(why, whylen, "alerts.syslog: \"%s\": %s", url, msg);
        err = PX_ERR_CONFIG;
    } else {
        err = px_alert_syslog_resolve(y, why, whylen);
    }
    if (err == PX_OK && gethostname(y->host, sizeof(y->host) - 1) != 0)
        y->host[0] = '\0';
    if (err == PX_OK && !(*out = px_alert_sink_new("syslog", &px_alert_syslog_ops, y, next_seq))) {
        px_why(why, whylen, "out of memory");
        err = PX_ERR_NOMEM;
    }
    if (err != PX_OK) {
        free(y->msg);
        free(y);
    }
    return err;
}
