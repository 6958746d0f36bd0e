/* test_net.c: host:port splitting, the listen-setting check, and the TCP
 * and unix listeners (stale sockets removed, live ones and other files
 * left alone). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/px_net.h"

typedef struct split_case {
    const char *text;
    unsigned flags;
    px_err want;
    const char *host;
    uint16_t port;
} split_case;

static void test_split_table(void **state)
{
    (void)state;
    const unsigned L = PX_HOSTPORT_LITERAL, N = PX_HOSTPORT_NAME;
    static const split_case cases[] = {
        {"127.0.0.1:6000", 0, PX_OK, "127.0.0.1", 6000},
        {"[::1]:53", 0, PX_OK, "::1", 53},
        {"0.0.0.0:0", 0, PX_OK, "0.0.0.0", 0},
        {"[2001:db8::1]:65535", 0, PX_OK, "2001:db8::1", 65535},
        {"::1:53", 0, PX_ERR_INVAL, NULL, 0}, /* IPv6 needs brackets */
        {"127.0.0.1", 0, PX_ERR_INVAL, NULL, 0},
        {"127.0.0.1:", 0, PX_ERR_INVAL, NULL, 0},
        {"127.0.0.1:65536", 0, PX_ERR_INVAL, NULL, 0},
        {"127.0.0.1:5x", 0, PX_ERR_INVAL, NULL, 0},
        {"127.0.0.1:-1", 0, PX_ERR_INVAL, NULL, 0},
        {"127.0.0.1: 53", 0, PX_ERR_INVAL, NULL, 0},
        {"[::1]53", 0, PX_ERR_INVAL, NULL, 0},
        {"[::1:53", 0, PX_ERR_INVAL, NULL, 0},
        {"[::1]:", 0, PX_ERR_INVAL, NULL, 0},
        {"[]:53", 0, PX_ERR_INVAL, NULL, 0},
        {":53", 0, PX_ERR_INVAL, NULL, 0},
        {"", 0, PX_ERR_INVAL, NULL, 0},
        {"[192.0.2.1]:53", 0, PX_ERR_INVAL, NULL, 0}, /* brackets are for IPv6 */
        {"1.2.3:53", 0, PX_ERR_INVAL, NULL, 0},
        {"localhost:53", 0, PX_ERR_INVAL, NULL, 0}, /* a listen address is numeric */
        {"localhost:8053", N, PX_OK, "localhost", 8053},
        {"pdns-1.example.org:8053", N, PX_OK, "pdns-1.example.org", 8053},
        {"192.0.2.7:80", N, PX_OK, "192.0.2.7", 80},
        {"[fe80::1]:80", N, PX_OK, "fe80::1", 80},
        {"-x:80", N, PX_ERR_INVAL, NULL, 0},
        {"a b:80", N, PX_ERR_INVAL, NULL, 0},
        {"a/b:80", N, PX_ERR_INVAL, NULL, 0},
        {"[name]:80", N, PX_ERR_INVAL, NULL, 0},
        {"::1:80", N, PX_ERR_INVAL, NULL, 0},
        {"127.0.0.1:80", L, PX_OK, "127.0.0.1", 80},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const split_case *c = &cases[i];
        char host[64];
        uint16_t port = 1;
        px_err e = px_hostport_split(c->text, host, sizeof(host), &port, c->flags);
        if (e != c->want)
            fail_msg("\"%s\" flags %u: %s", c->text, c->flags, px_strerror(e));
        if (c->want == PX_OK) {
            assert_string_equal(host, c->host);
            assert_int_equal(port, c->port);
        }
    }
    /* the host must fit the caller's buffer */
    char small[9];
    uint16_t port;
    assert_int_equal(px_hostport_split("127.0.0.1:1", small, sizeof(small), &port, 0),
                     PX_ERR_INVAL);
    assert_int_equal(px_hostport_split("10.0.0.1:1", small, sizeof(small), &port, 0), PX_OK);
    assert_int_equal(px_hostport_split(NULL, small, sizeof(small), &port, 0), PX_ERR_INVAL);
}

static void test_conf_check_hostport(void **state)
{
    (void)state;
    char why[80] = "";
    assert_true(px_conf_check_hostport("127.0.0.1:9100", why, sizeof(why)));
    assert_true(px_conf_check_hostport("[::]:9100", why, sizeof(why)));
    assert_false(px_conf_check_hostport("localhost:9100", why, sizeof(why)));
    assert_string_equal(why, "expected IPv4:port or [IPv6]:port");
    assert_false(px_conf_check_hostport("9100", NULL, 0));
}

static void test_listen_tcp(void **state)
{
    (void)state;
    px_listen l, l2;
    char why[200] = "";
    assert_int_equal(px_listen_tcp("metrics.listen", "127.0.0.1:0", 8, 0, &l, why, sizeof(why)),
                     PX_OK);
    assert_int_equal(l.family, AF_INET);
    assert_int_not_equal(l.port, 0);
    assert_int_equal(fcntl(l.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    assert_int_equal(fcntl(l.fd, F_GETFL) & O_NONBLOCK, 0);
    /* it listens: a client connects */
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(l.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(c);
    /* the same port again: the system's reason, with the setting */
    char hp[32];
    snprintf(hp, sizeof(hp), "127.0.0.1:%u", l.port);
    assert_int_equal(px_listen_tcp("metrics.listen", hp, 8, 0, &l2, why, sizeof(why)), PX_ERR_IO);
    assert_non_null(strstr(why, "metrics.listen 127.0.0.1:"));
    assert_non_null(strstr(why, strerror(EADDRINUSE)));
    close(l.fd);
    /* text that is not a listen address */
    assert_int_equal(px_listen_tcp("query.listen", "localhost:80", 8, 0, &l2, why, sizeof(why)),
                     PX_ERR_CONFIG);
    assert_string_equal(why, "query.listen \"localhost:80\": expected IPv4:port or [IPv6]:port");
    assert_int_equal(px_listen_tcp(NULL, NULL, 8, 0, &l2, NULL, 0), PX_ERR_CONFIG);
    /* non-blocking on request */
    assert_int_equal(px_listen_tcp("x", "127.0.0.1:0", 8, PX_LISTEN_NONBLOCK, &l, why, sizeof(why)),
                     PX_OK);
    assert_int_equal(fcntl(l.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    close(l.fd);
}

/* IPv6 sockets take IPv6 only; skipped where the host has no IPv6. */
static void test_listen_tcp_v6_only(void **state)
{
    (void)state;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    if (probe < 0)
        skip();
    close(probe);
    px_listen l;
    char why[200] = "";
    px_err e = px_listen_tcp("x", "[::1]:0", 8, 0, &l, why, sizeof(why));
    if (e == PX_ERR_IO && errno == EADDRNOTAVAIL)
        skip();
    assert_int_equal(e, PX_OK);
    assert_int_equal(l.family, AF_INET6);
    int v6only = 0;
    socklen_t len = sizeof(v6only);
    assert_int_equal(getsockopt(l.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
    assert_int_equal(v6only, 1);
    close(l.fd);
}

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_net.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_listen_unix(void **state)
{
    (void)state;
    char path[128], why[256] = "";
    snprintf(path, sizeof(path), "%s/dnstap.sock", dir);
    px_listen l, l2;
    assert_int_equal(px_listen_unix("dnstap-unix", path, 0660, 4, 0, &l, why, sizeof(why)), PX_OK);
    assert_int_equal(l.family, AF_UNIX);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);
    /* a live listener is refused, and stays */
    assert_int_equal(px_listen_unix("dnstap-unix", path, 0660, 4, 0, &l2, why, sizeof(why)),
                     PX_ERR_CONFIG);
    assert_non_null(strstr(why, "another process listens"));
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(c);
    /* closed without unlinking: a stale socket, removed and bound again */
    close(l.fd);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(
        px_listen_unix("dnstap-unix", path, 0600, 4, PX_LISTEN_NONBLOCK, &l, why, sizeof(why)),
        PX_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(fcntl(l.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
    close(l.fd);
    unlink(path);
}

static void test_listen_unix_refuses_other_files(void **state)
{
    (void)state;
    char path[128], why[256] = "";
    snprintf(path, sizeof(path), "%s/not-a-socket", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    px_listen l;
    assert_int_equal(px_listen_unix("dnstap-unix", path, 0660, 4, 0, &l, why, sizeof(why)),
                     PX_ERR_CONFIG);
    assert_non_null(strstr(why, "exists and is not a socket"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 8);
    /* a path too long for sockaddr_un, and none */
    char longp[200];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(px_listen_unix("s", longp, 0660, 4, 0, &l, why, sizeof(why)), PX_ERR_CONFIG);
    assert_int_equal(px_listen_unix("s", "", 0660, 4, 0, &l, why, sizeof(why)), PX_ERR_CONFIG);
    assert_int_equal(px_listen_unix("s", NULL, 0660, 4, 0, &l, NULL, 0), PX_ERR_CONFIG);
    /* a directory that does not exist: the system's reason */
    snprintf(path, sizeof(path), "%s/no/such.sock", dir);
    assert_int_equal(px_listen_unix("s", path, 0660, 4, 0, &l, why, sizeof(why)), PX_ERR_IO);
    assert_non_null(strstr(why, strerror(ENOENT)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_table), cmocka_unit_test(test_conf_check_hostport),
        cmocka_unit_test(test_listen_tcp),  cmocka_unit_test(test_listen_tcp_v6_only),
        cmocka_unit_test(test_listen_unix), cmocka_unit_test(test_listen_unix_refuses_other_files),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
