/* px_addr.h: IP addresses as inputs see them, and the special-purpose
 * address registry (RFC 6890 and successors) the privacy filter uses. */
#ifndef PX_ADDR_H
#define PX_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

typedef struct px_addr {
    uint8_t family;    /* 0: unknown/none, 4: IPv4, 6: IPv6 */
    uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
    uint16_t port;     /* host order; 0 if unknown */
} px_addr;

/* Parses "192.0.2.1" or "2001:db8::1" (no port). */
px_err px_addr_parse(const char *text, px_addr *out);
/* Parses "host:port" or "[v6]:port"; host may be a literal address only. */
px_err px_addr_parse_hostport(const char *text, px_addr *out);
/* Presentation form (RFC 5952 for IPv6) into buf (at least 46 bytes). */
const char *px_addr_format(const px_addr *a, char *buf, size_t len);
bool px_addr_equal(const px_addr *a, const px_addr *b); /* family and bytes; not port */
/* px_conf_item.check of listen settings: "IPv4:port" or "[IPv6]:port",
 * numeric (px_addr_parse_hostport()). */
bool px_conf_check_hostport(const char *value, char *why, size_t whylen);

/* True for special-purpose addresses whose appearance in an answer is private
 * or meaningless: RFC 1918, CGNAT 100.64/10, loopback, link local, this
 * network 0/8, IETF protocol assignments 192.0.0/24, documentation
 * (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20),
 * benchmarking 198.18/15, multicast, reserved 240/4, broadcast, ::, ::1,
 * ULA fc00::/7, link local fe80::/10, site local fec0::/10, discard
 * 100::/64, IPv4-mapped ::ffff:0:0/96 (and the IPv4 rules inside NAT64
 * 64:ff9b::/96), ORCHID, 6to4 of special IPv4. */
bool px_addr_is_special(const px_addr *a);
/* Same for raw A (4 bytes) / AAAA (16 bytes) rdata. */
bool px_addr_is_special_raw(const uint8_t *bytes, size_t len);

#endif
