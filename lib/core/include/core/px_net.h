/* px_net.h: the TCP listening sockets of pdnsx's HTTP endpoints
 * (metrics.listen, query.listen). We bind ourselves rather than let
 * libmicrohttpd do it, so that a failure says why ("Address already in
 * use"), and only to numeric addresses, so that we bind exactly where the
 * operator said. */
#ifndef PX_LISTEN_H
#define PX_LISTEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct px_listen {
    int fd;        /* listening socket, close-on-exec */
    int family;    /* AF_INET or AF_INET6 */
    uint16_t port; /* the bound port (useful with port 0) */
} px_listen;

/* Binds and listens on "IPv4:port" or "[IPv6]:port" (port 0: any free
 * port). `setting` names the setting in messages ("metrics.listen").
 * Returns 0, or -1 with a message in errbuf. The caller owns out->fd. */
int px_listen_tcp(const char *setting, const char *hostport, int backlog, px_listen *out,
                  char *errbuf, size_t errlen);

#endif
