/* test_alert_syslog: the syslog sink against receivers on loopback: RFC
 * 5424 checked field by field, CEF's escaping, UDP datagrams (one cut
 * with its marker), TCP octet-counted frames, a TCP receiver down then up
 * (reconnect, nothing lost) and one that closes mid-stream, the URL's
 * checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alert_fixture.h"
#include "core/px_clock.h"
#include "metrics_read.h"
#include "px_alert_sink.h"

/* ---- one RFC 5424 message, field by field ----------------------------------------- */

typedef struct msg5424 {
    int pri, version;
    char ts[64], host[256], app[64], procid[32], msgid[64], sd[64];
    const char *msg;
} msg5424;

static void parse_5424(const char *m, msg5424 *out)
{
    int used = 0;
    assert_int_equal(sscanf(m, "<%d>%d %63s %255s %63s %31s %63s %63s %n", &out->pri, &out->version,
                            out->ts, out->host, out->app, out->procid, out->msgid, out->sd, &used),
                     8);
    assert_true(used > 0);
    assert_int_equal(m[used - 1], ' ');
    out->msg = m + used;
}

static void test_rfc5424_fields(void **state)
{
    (void)state;
    pxt_alert x;
    char out[PX_ALERT_JSON_MAX + 1024];
    const px_alert *a = pxt_alert_make(&x, 7, 5, 0);
    size_t len =
        px_alert_syslog_format(a, PX_ALERT_SYSLOG_JSON, "centre.example", 4242, out, sizeof(out));
    assert_int_equal(len, strlen(out));
    msg5424 m;
    parse_5424(out, &m);
    assert_int_equal(m.pri, 4 * 8 + 4); /* security/authorization, warning */
    assert_int_equal(m.version, 1);
    assert_string_equal(m.ts, "2026-11-26T18:00:07Z"); /* the alert's event time */
    assert_string_equal(m.host, "centre.example");
    assert_string_equal(m.app, "pdnsx-consumer");
    assert_string_equal(m.procid, "4242");
    assert_string_equal(m.msgid, "pdnsx.new_domain_burst");
    assert_string_equal(m.sd, "-");
    assert_string_equal(m.msg, x.json);
    /* severity bands: 0-3 notice, 4-6 warning, 7-8 error, 9-10 critical */
    static const int sev[][2] = {{0, 5}, {3, 5}, {4, 4}, {6, 4}, {7, 3}, {8, 3}, {9, 2}, {42, 2}};
    for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++) {
        px_alert_syslog_format(pxt_alert_make(&x, 7, sev[i][0], 0), PX_ALERT_SYSLOG_JSON, "h", 1,
                               out, sizeof(out));
        parse_5424(out, &m);
        assert_int_equal(m.pri, 4 * 8 + sev[i][1]);
    }
    /* HOSTNAME and MSGID: printable US-ASCII, NILVALUE when empty, MSGID
     * at most 32 */
    pxt_alert_make(&x, 7, 5, 0);
    x.a.rule = "pdnsx.a rule with spaces and far more than thirty-two characters";
    px_alert_syslog_format(&x.a, PX_ALERT_SYSLOG_JSON, "", 1, out, sizeof(out));
    parse_5424(out, &m);
    assert_string_equal(m.host, "-");
    assert_string_equal(m.msgid, "pdnsx.a_rule_with_spaces_and_far");
    assert_int_equal(strlen(m.msgid), 32);
    /* cut output still says the whole length */
    char small[16];
    assert_int_equal(px_alert_syslog_format(pxt_alert_make(&x, 7, 5, 0), PX_ALERT_SYSLOG_JSON,
                                            "centre.example", 4242, small, sizeof(small)),
                     len);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

static void test_cef_escaping(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(px_alert_cef_header("a|b\\c=d", out, sizeof(out)), 9);
    assert_string_equal(out, "a\\|b\\\\c=d"); /* = is plain in the header */
    px_alert_cef_header("two\r\nlines", out, sizeof(out));
    assert_string_equal(out, "two  lines");
    assert_int_equal(px_alert_cef_value("a=b\\c|d\ne\rf", out, sizeof(out)), 15);
    assert_string_equal(out, "a\\=b\\\\c|d\\ne\\rf"); /* | is plain in an extension */
    px_alert_cef_value("", out, sizeof(out));
    assert_string_equal(out, "");
    /* cut to the buffer, length still whole */
    char small[4];
    assert_int_equal(px_alert_cef_value("====", small, sizeof(small)), 8);
    assert_string_equal(small, "\\=\\");
}

static void test_cef_body(void **state)
{
    (void)state;
    pxt_alert x;
    pxt_alert_make(&x, 3, 8, 0);
    /* a brand whose text needs escaping, in the look-alike evidence */
    snprintf(x.json, sizeof(x.json),
             "{\"event\":{\"severity\":8},\"dns\":{\"question\":{\"name\":\"a=b.example\"}},"
             "\"pdnsx\":{\"lookalike\":{\"brand\":\"pay\\\\pal\"}}}");
    x.a.json_len = strlen(x.json);
    x.a.key = "b.example";
    x.a.rule = "pdnsx.geo|shift";
    char out[4096];
    px_alert_syslog_format(&x.a, PX_ALERT_SYSLOG_CEF, "h", 1, out, sizeof(out));
    msg5424 m;
    parse_5424(out, &m);
    assert_int_equal(m.pri, 4 * 8 + 3);
    char want[1024];
    snprintf(want, sizeof(want),
             "CEF:0|pdnsx|pdnsx-consumer|%s|pdnsx.geo\\|shift|pdnsx.geo\\|shift|8|rt=%lld000 "
             "externalId=%s dhost=a\\=b.example cs1Label=registeredDomain cs1=b.example "
             "cs2Label=lookalikeBrand cs2=pay\\\\pal",
             PX_VERSION, (long long)PXT_ALERT_T0 + 3, x.id);
    assert_string_equal(m.msg, want);
    /* a known rule gets its name; no look-alike, no cs2 */
    px_alert_syslog_format(pxt_alert_make(&x, 3, 5, 0), PX_ALERT_SYSLOG_CEF, "h", 1, out,
                           sizeof(out));
    parse_5424(out, &m);
    assert_non_null(strstr(m.msg, "|pdnsx.new_domain_burst|new domain seen by many "
                                  "organisations|5|"));
    assert_non_null(strstr(m.msg, " dhost=login.paypa1-secure.net "));
    assert_null(strstr(m.msg, "cs2"));
}

static void test_url(void **state)
{
    (void)state;
    px_alert_syslog_url u;
    char why[256];
    assert_int_equal(px_alert_syslog_url_parse("udp://127.0.0.1:514", &u, why, sizeof(why)), PX_OK);
    assert_false(u.tcp);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 514);
    assert_int_equal(px_alert_syslog_url_parse("tcp://[::1]:6514", &u, why, sizeof(why)), PX_OK);
    assert_true(u.tcp);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6514);
    assert_int_equal(px_alert_syslog_url_parse("tcp://siem.example.org:601", &u, why, sizeof(why)),
                     PX_OK);
    assert_string_equal(u.host, "siem.example.org");
    static const char *const bad[] = {
        "syslog://h:514", "udp://h",       "udp://h:0",
        "udp://h:65536",  "tcp://::1:514", "tcp://[h]:514",
        "udp://:514",     "127.0.0.1:514", "",
        "udp://h:514/x",  "UDP://h:514",   "tcp://a b:514",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(px_alert_syslog_url_parse(bad[i], &u, why, sizeof(why)), PX_ERR_INVAL);
        assert_non_null(strstr(why, "://host:port"));
    }
    px_alert_sink *s = NULL;
    assert_int_equal(
        px_alert_syslog_create("http://x:1", PX_ALERT_SYSLOG_JSON, 1, &s, why, sizeof(why)),
        PX_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(why, "alerts.syslog"));
}

/* The sink's clock in the tests that follow: the monotonic one, moved
 * forward by skew to reach a deadline without waiting for it. */
static int64_t skew;

static int64_t now(void)
{
    return px_clock_mono_ms() + skew;
}

/* ---- receivers on loopback --------------------------------------------------------- */

static int bound_buf(int type, uint16_t *port, int rcvbuf)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (rcvbuf) /* before listen(): accepted sockets inherit it */
        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(*port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 16), 0);
    return fd;
}

static int bound(int type, uint16_t *port)
{
    return bound_buf(type, port, 0);
}

static px_alert_sink *make(bool tcp, uint16_t port, px_alert_syslog_body body)
{
    char url[64], why[256] = "";
    snprintf(url, sizeof(url), "%s://127.0.0.1:%u", tcp ? "tcp" : "udp", port);
    px_alert_sink *s = NULL;
    assert_int_equal(px_alert_syslog_create(url, body, 1, &s, why, sizeof(why)), PX_OK);
    assert_string_equal(px_alert_sink_name(s), "syslog");
    return s;
}

static void offer(px_alert_sink *s, uint64_t from, uint64_t to, size_t pad)
{
    assert_int_equal(pxt_alert_offer(s, from, to, pad), PX_OK);
}

/* The seq an alert JSON carries (pdnsx.seq). */
static uint64_t seq_of(const char *msg)
{
    const char *p = strstr(msg, "\"seq\":");
    assert_non_null(p);
    return strtoull(p + 6, NULL, 10);
}

static void test_udp(void **state)
{
    (void)state;
    uint16_t port = 0;
    int rx = bound(SOCK_DGRAM, &port);
    uint64_t before = pxt_metric("pdnsx_alerts_delivered_total{sink=\"syslog\"}");
    px_alert_sink *s = make(false, port, PX_ALERT_SYSLOG_JSON);
    offer(s, 1, 3, 0);
    offer(s, 4, 4, 20000); /* over the UDP limit: cut */
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 5000));
    assert_int_equal(px_alert_sink_next(s), 5);
    assert_int_equal(pxt_metric("pdnsx_alerts_delivered_total{sink=\"syslog\"}"), before + 4);
    static char buf[65536];
    for (uint64_t seq = 1; seq <= 4; seq++) {
        ssize_t n = recv(rx, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        msg5424 m;
        parse_5424(buf, &m);
        assert_int_equal(seq_of(m.msg), seq);
        pxt_alert x;
        pxt_alert_make(&x, seq, 5, seq == 4 ? 20000 : 0);
        if (seq < 4) {
            assert_string_equal(m.msg, x.json);
            continue;
        }
        assert_int_equal(n, 8192);
        assert_string_equal(buf + n - 5, "[cut]");
        assert_memory_equal(m.msg, x.json, (size_t)(buf + n - 5 - m.msg));
    }
    px_alert_sink_destroy(s);
    close(rx);
}

/* Reads octet-counted frames from fd until it has `want` of them or the
 * peer closes, polling the sink s (may be NULL) meanwhile; returns the
 * seqs in order. */
static size_t read_frames(px_alert_sink *s, int fd, uint64_t *seqs, size_t want,
                          const char *first_body)
{
    static char buf[1 << 20];
    size_t len = 0, n = 0;
    int64_t deadline = px_clock_mono_ms() + 10000;
    while (n < want) {
        assert_true(px_clock_mono_ms() < deadline);
        if (s)
            px_alert_sink_poll(s, now());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) == 0)
            continue;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        for (;;) { /* whole frames at the front */
            char *sp = memchr(buf, ' ', len);
            if (!sp)
                break;
            size_t flen = strtoull(buf, NULL, 10);
            size_t hdr = (size_t)(sp - buf) + 1;
            if (len < hdr + flen)
                break;
            char save = buf[hdr + flen];
            buf[hdr + flen] = '\0';
            msg5424 m;
            parse_5424(buf + hdr, &m);
            if (n == 0 && first_body)
                assert_string_equal(m.msg, first_body);
            seqs[n++] = seq_of(m.msg);
            buf[hdr + flen] = save;
            memmove(buf, buf + hdr + flen, len - hdr - flen);
            len -= hdr + flen;
        }
    }
    return n;
}

static void test_tcp_frames(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = bound(SOCK_STREAM, &port);
    px_alert_sink *s = make(true, port, PX_ALERT_SYSLOG_JSON);
    offer(s, 1, 50, 2000);
    offer(s, 51, 51, PX_ALERT_JSON_MAX - 400); /* whole over TCP */
    px_alert_sink_poll(s, px_clock_mono_ms()); /* connects */
    int c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    uint64_t seqs[64];
    pxt_alert x;
    pxt_alert_make(&x, 1, 5, 2000);
    assert_int_equal(read_frames(s, c, seqs, 51, x.json), 51);
    /* delivered once the receiver's TCP has acknowledged it */
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_next(s), 52);
    for (uint64_t i = 0; i < 51; i++)
        assert_int_equal(seqs[i], i + 1);
    px_alert_sink_destroy(s);
    close(c);
    close(lfd);
}

/* The receiver down: connects fail, back off, nothing is delivered; up
 * again: everything arrives once, in order. */
static void test_tcp_down_then_up(void **state)
{
    (void)state;
    uint16_t port = 0;
    close(bound(SOCK_STREAM, &port)); /* a port nobody listens on */
    uint64_t errors = pxt_metric("pdnsx_alerts_errors_total{sink=\"syslog\"}");
    px_alert_sink *s = make(true, port, PX_ALERT_SYSLOG_CEF);
    offer(s, 1, 5, 0);
    int64_t now = px_clock_mono_ms();
    px_alert_sink_poll(s, now);
    px_alert_sink_poll(s, now + 1); /* backing off: no second attempt yet */
    assert_int_equal(px_alert_sink_next(s), 1);
    assert_int_equal(pxt_metric("pdnsx_alerts_errors_total{sink=\"syslog\"}"), errors + 1);
    assert_false(px_alert_sink_drain(s, px_clock_mono_ms() + 300));
    assert_true(pxt_metric("pdnsx_alerts_errors_total{sink=\"syslog\"}") >= errors + 2);
    assert_int_equal(px_alert_sink_next(s), 1);
    int lfd = bound(SOCK_STREAM, &port);
    offer(s, 6, 8, 0);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_next(s), 9);
    int c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    static char buf[65536];
    struct pollfd p = {.fd = c, .events = POLLIN};
    size_t len = 0;
    while (len < 8 * 100 && poll(&p, 1, 2000) == 1) {
        ssize_t r = recv(c, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    /* eight CEF records, each once, in order */
    const char *at = buf;
    for (uint64_t seq = 1; seq <= 8; seq++) {
        pxt_alert x;
        pxt_alert_make(&x, seq, 5, 0);
        const char *hit = strstr(at, x.id);
        assert_non_null(hit);
        at = hit + 1;
        assert_null(strstr(hit + 1, x.id));
    }
    px_alert_sink_destroy(s);
    close(c);
    close(lfd);
}

/* The receiver closes the connection: the sink notices, reconnects and
 * sends what follows (nothing lost; what the closed connection had not
 * acknowledged is sent again). */
static void test_tcp_receiver_closes(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = bound(SOCK_STREAM, &port);
    px_alert_sink *s = make(true, port, PX_ALERT_SYSLOG_JSON);
    offer(s, 1, 3, 0);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    int c = accept(lfd, NULL, NULL);
    uint64_t seqs[16];
    assert_int_equal(read_frames(NULL, c, seqs, 3, NULL), 3);
    close(c);
    offer(s, 4, 6, 0);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_next(s), 7);
    c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    size_t n = read_frames(NULL, c, seqs, 3, NULL);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seqs[i], 4 + i);
    px_alert_sink_destroy(s);
    close(c);
    close(lfd);
}

/* Accepts the sink's next connection, polling the sink meanwhile. */
static int accept_polling(px_alert_sink *s, int lfd)
{
    int64_t deadline = px_clock_mono_ms() + 10000;
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    while (poll(&p, 1, 10) == 0) {
        assert_true(px_clock_mono_ms() < deadline);
        px_alert_sink_poll(s, now());
    }
    return accept(lfd, NULL, NULL);
}

/* Delivered means acknowledged by the receiver's TCP: a receiver that
 * reads nothing (a small receive buffer, full) and then dies loses
 * nothing: the next connection carries everything from the first alert
 * not acknowledged whole. */
static void test_tcp_unacknowledged_sent_again(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = bound_buf(SOCK_STREAM, &port, 2048);
    px_alert_sink *s = make(true, port, PX_ALERT_SYSLOG_JSON);
    offer(s, 1, 20, 20000); /* each alert larger than the receiver's window */
    px_alert_sink_poll(s, px_clock_mono_ms());
    int c = accept(lfd, NULL, NULL);
    assert_true(c >= 0);
    assert_false(px_alert_sink_drain(s, px_clock_mono_ms() + 300));
    assert_int_equal(px_alert_sink_next(s), 1);
    close(c); /* unread data: a reset */
    c = accept_polling(s, lfd);
    assert_true(c >= 0);
    uint64_t seqs[32];
    assert_int_equal(read_frames(s, c, seqs, 20, NULL), 20);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(seqs[i], i + 1);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_next(s), 21);
    px_alert_sink_destroy(s);
    close(c);
    close(lfd);
}

/* A receiver that stops acknowledging (it reads nothing) is given up
 * after PX_ALERT_ACK_MS: the sink counts a failure, connects again and
 * sends everything not acknowledged on the new connection. */
static void test_tcp_stalled_receiver_given_up(void **state)
{
    (void)state;
    uint16_t port = 0;
    int lfd = bound_buf(SOCK_STREAM, &port, 2048);
    px_alert_sink *s = make(true, port, PX_ALERT_SYSLOG_JSON);
    offer(s, 1, 20, 20000);
    px_alert_sink_poll(s, now());
    int stalled = accept(lfd, NULL, NULL);
    assert_true(stalled >= 0);
    assert_false(px_alert_sink_drain(s, px_clock_mono_ms() + 300));
    assert_int_equal(px_alert_sink_next(s), 1);
    uint64_t errors = pxt_metric("pdnsx_alerts_errors_total{sink=\"syslog\"}");
    px_alert_sink_poll(s, now() + PX_ALERT_ACK_MS - 500); /* not yet */
    assert_int_equal(pxt_metric("pdnsx_alerts_errors_total{sink=\"syslog\"}"), errors);
    skew = PX_ALERT_ACK_MS + 1000;
    px_alert_sink_poll(s, now());
    assert_int_equal(pxt_metric("pdnsx_alerts_errors_total{sink=\"syslog\"}"), errors + 1);
    int c = accept_polling(s, lfd);
    assert_true(c >= 0);
    uint64_t seqs[32];
    assert_int_equal(read_frames(s, c, seqs, 20, NULL), 20);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(seqs[i], i + 1);
    int64_t deadline = px_clock_mono_ms() + 10000;
    while (px_alert_sink_next(s) != 21 && px_clock_mono_ms() < deadline)
        px_alert_sink_poll(s, now());
    assert_int_equal(px_alert_sink_next(s), 21);
    skew = 0;
    px_alert_sink_destroy(s);
    close(c);
    close(stalled);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5424_fields),
        cmocka_unit_test(test_cef_escaping),
        cmocka_unit_test(test_cef_body),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_tcp_frames),
        cmocka_unit_test(test_tcp_down_then_up),
        cmocka_unit_test(test_tcp_receiver_closes),
        cmocka_unit_test(test_tcp_unacknowledged_sent_again),
        cmocka_unit_test(test_tcp_stalled_receiver_given_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
