/* px_net.h: host:port text and listening sockets, once for every daemon.
 *
 * Listen settings (metrics.listen, query.listen, dnstap-tcp) take numeric
 * addresses only, so that we bind exactly where the operator said; we bind
 * ourselves rather than let libmicrohttpd do it, so that a failure says why
 * ("Address already in use"). Client settings (--cluster) may name hosts. */
#ifndef PX_NET_H
#define PX_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/px_error.h"

/* px_hostport_split flags. */
enum {
    PX_HOSTPORT_LITERAL = 0, /* "IPv4:port" or "[IPv6]:port" */
    PX_HOSTPORT_NAME = 1,    /* also "name:port", name in DNS letters, digits, '-', '.' */
};

/* Splits text into host (without brackets, NUL-terminated, at most
 * hostlen - 1 bytes) and a decimal port 0..65535. A bare IPv6 address is
 * refused (its last group would read as the port), so are brackets around
 * anything but IPv6. PX_ERR_INVAL; host and port are then unspecified. */
px_err px_hostport_split(const char *text, char *host, size_t hostlen, uint16_t *port,
                         unsigned flags);

/* px_conf_item.check of listen settings: PX_HOSTPORT_LITERAL. */
bool px_conf_check_hostport(const char *value, char *why, size_t whylen);

typedef struct px_listen {
    int fd;        /* listening socket, close-on-exec; the caller owns it */
    int family;    /* AF_INET, AF_INET6 or AF_UNIX */
    uint16_t port; /* the bound port (useful with port 0); 0 for AF_UNIX */
} px_listen;

/* px_listen_tcp/px_listen_unix flags. */
enum { PX_LISTEN_NONBLOCK = 1 };

/* Binds and listens on a PX_HOSTPORT_LITERAL address (port 0: any free
 * port; IPv6 sockets are IPv6 only). `setting` names the setting in the
 * message left in why (may be NULL). PX_ERR_CONFIG for the text, PX_ERR_IO
 * for the system. */
px_err px_listen_tcp(const char *setting, const char *hostport, int backlog, unsigned flags,
                     px_listen *out, char *why, size_t whylen);

/* Binds and listens on a unix socket at path with the given mode. A socket
 * file left there by an earlier run is removed; a socket someone listens
 * on, or a file that is not a socket, is refused (PX_ERR_CONFIG). */
px_err px_listen_unix(const char *setting, const char *path, mode_t mode, int backlog,
                      unsigned flags, px_listen *out, char *why, size_t whylen);

#endif
