#include "core/px_net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Splits "1.2.3.4:9100" or "[::1]:9100"; a bare IPv6 address without
 * brackets is refused (its last group would read as the port). */
static bool px_listen_split(const char *hp, char *host, size_t hostlen, const char **port)
{
    if (hp[0] == '[') {
        const char *end = strchr(hp, ']');
        if (!end || end[1] != ':' || (size_t)(end - hp - 1) >= hostlen)
            return false;
        memcpy(host, hp + 1, (size_t)(end - hp - 1));
        host[end - hp - 1] = '\0';
        *port = end + 2;
        return **port != '\0';
    }
    const char *colon = strchr(hp, ':');
    if (!colon || strchr(colon + 1, ':') || (size_t)(colon - hp) >= hostlen || colon == hp)
        return false;
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    *port = colon + 1;
    return **port != '\0';
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

int px_listen_tcp(const char *setting, const char *hostport, int backlog, px_listen *out,
                  char *errbuf, size_t errlen)
{
    char host[256];
    const char *port = NULL;
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (!hostport || !px_listen_split(hostport, host, sizeof(host), &port) ||
        getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        snprintf(errbuf, errlen, "%s \"%s\": expected IPv4:port or [IPv6]:port", setting,
                 hostport ? hostport : "");
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        snprintf(errbuf, errlen, "%s %s: %s", setting, hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    out->fd = fd;
    out->family = ai->ai_family;
    out->port = px_listen_bound_port(fd);
    freeaddrinfo(ai);
    return 0;
}
