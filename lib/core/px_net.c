#include "core/px_net.h"
#include "core/px_error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static bool px_net_port(const char *s, uint16_t *port)
{
    unsigned long v = 0;
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return false;
    }
    *port = (uint16_t)v;
    return true;
}

/* Letters, digits, '-' and '.', not starting with '.' or '-' (a name, not
 * an option or a relative path). */
static bool px_net_name(const char *h)
{
    if (h[0] == '.' || h[0] == '-')
        return false;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '-' || *h == '.'))
            return false;
    return true;
}

px_err px_hostport_split(const char *text, char *host, size_t hostlen, uint16_t *port,
                         unsigned flags)
{
    if (!text || !host || !hostlen)
        return PX_ERR_INVAL;
    const char *h = text, *colon;
    bool bracketed = text[0] == '[';
    if (bracketed) {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return PX_ERR_INVAL;
        h = text + 1;
        colon = close + 1;
    } else {
        colon = strchr(text, ':');
        if (!colon || strchr(colon + 1, ':'))
            return PX_ERR_INVAL;
    }
    size_t hlen = (size_t)(colon - h) - (bracketed ? 1 : 0);
    if (hlen == 0 || hlen >= hostlen)
        return PX_ERR_INVAL;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (!px_net_port(colon + 1, port))
        return PX_ERR_INVAL;
    struct in6_addr a;
    if (bracketed)
        return inet_pton(AF_INET6, host, &a) == 1 ? PX_OK : PX_ERR_INVAL;
    if (inet_pton(AF_INET, host, &a) == 1)
        return PX_OK;
    return (flags & PX_HOSTPORT_NAME) && px_net_name(host) ? PX_OK : PX_ERR_INVAL;
}

bool px_conf_check_hostport(const char *v, char *why, size_t len)
{
    char host[64];
    uint16_t port;
    if (px_hostport_split(v, host, sizeof(host), &port, PX_HOSTPORT_LITERAL) == PX_OK)
        return true;
    if (why && len)
        snprintf(why, len, "expected IPv4:port or [IPv6]:port");
    return false;
}

static uint16_t px_listen_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

static int px_listen_socket(int family, unsigned flags)
{
    return socket(family,
                  SOCK_STREAM | SOCK_CLOEXEC | (flags & PX_LISTEN_NONBLOCK ? SOCK_NONBLOCK : 0), 0);
}

/* Closes fd keeping errno, writes "SETTING TARGET: strerror" into why. */
static px_err px_listen_fail(int fd, const char *setting, const char *target, char *why,
                             size_t whylen)
{
    int e = errno;
    if (fd >= 0)
        close(fd);
    px_why(why, whylen, "%s %s: %s", setting, target, strerror(e));
    errno = e;
    return PX_ERR_IO;
}

px_err px_listen_tcp(const char *setting, const char *hostport, int backlog, unsigned flags,
                     px_listen *out, char *why, size_t whylen)
{
    char host[64], portbuf[8];
    uint16_t port;
    setting = setting ? setting : "listen";
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (px_hostport_split(hostport, host, sizeof(host), &port, PX_HOSTPORT_LITERAL) != PX_OK ||
        snprintf(portbuf, sizeof(portbuf), "%u", port) < 0 ||
        getaddrinfo(host, portbuf, &hints, &ai) != 0 || !ai) {
        px_why(why, whylen, "%s \"%s\": expected IPv4:port or [IPv6]:port", setting,
               hostport ? hostport : "");
        return PX_ERR_CONFIG;
    }
    int fd = px_listen_socket(ai->ai_family, flags);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    int family = ai->ai_family;
    bool ok = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0;
    freeaddrinfo(ai);
    if (!ok)
        return px_listen_fail(fd, setting, hostport, why, whylen);
    *out = (px_listen){.fd = fd, .family = family, .port = px_listen_bound_port(fd)};
    return PX_OK;
}

px_err px_listen_unix(const char *setting, const char *path, mode_t mode, int backlog,
                      unsigned flags, px_listen *out, char *why, size_t whylen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    setting = setting ? setting : "listen";
    if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
        return px_errf(why, whylen, PX_ERR_CONFIG, "%s: bad socket path \"%s\"", setting,
                       path ? path : "");
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        /* Remove a socket left by an earlier run, never another file, and
         * not one a live receiver still listens on. */
        if (!S_ISSOCK(st.st_mode))
            return px_errf(why, whylen, PX_ERR_CONFIG, "%s %s: exists and is not a socket", setting,
                           path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        if (probe >= 0)
            close(probe);
        if (live)
            return px_errf(why, whylen, PX_ERR_CONFIG, "%s %s: another process listens there",
                           setting, path);
        unlink(path);
    }
    int fd = px_listen_socket(AF_UNIX, flags);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        return px_listen_fail(fd, setting, path, why, whylen);
    if (chmod(path, mode) != 0 || listen(fd, backlog) != 0) {
        px_err e = px_listen_fail(fd, setting, path, why, whylen);
        unlink(path);
        return e;
    }
    *out = (px_listen){.fd = fd, .family = AF_UNIX};
    return PX_OK;
}
