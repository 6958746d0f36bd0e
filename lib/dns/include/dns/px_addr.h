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

/* Longest text px_addr_format_bytes() writes ("ffff:...:ffff" is 39) with
 * the NUL, rounded to INET6_ADDRSTRLEN so old callers' buffers still fit. */
#define PX_ADDR_TEXT_MAX 46

/* Parses any spelling a user may paste: "192.0.2.1", "2001:DB8::1",
 * uncompressed groups, and a dotted IPv4 tail after any prefix
 * ("::ffff:1.2.3.4", "::1.2.3.4", "64:ff9b::1.2.3.4"). No port, no zone. */
px_err px_addr_parse(const char *text, px_addr *out);
/* Same on text[0..len) (not NUL-terminated); blanks are not trimmed. */
px_err px_addr_parse_n(const char *text, size_t len, px_addr *out);
/* The one address text of the system (docs/DATA-MODEL.md): a dotted quad
 * for 4 bytes; for 16, RFC 5952 section 4 and nothing else, hexadecimal
 * groups only (lower case, no leading zeros, the first longest run of two
 * or more zero groups as "::"), with no dotted tail for any prefix:
 * "::ffff:102:304", "64:ff9b::102:304". Writes the text and a NUL to out
 * (PX_ADDR_TEXT_MAX bytes) and returns its length; 0 (and "") when len is
 * neither 4 nor 16. */
size_t px_addr_format_bytes(const uint8_t *b, size_t len, char *out);
/* px_addr_format_bytes() of a parsed address into buf; "" when the family
 * is unknown or buf is shorter than the text. Returns buf (NULL if buf is
 * NULL or len 0). */
const char *px_addr_format(const px_addr *a, char *buf, size_t len);
bool px_addr_equal(const px_addr *a, const px_addr *b); /* family and bytes; not port */
/* px_conf_item.check of an address setting: px_addr_parse() accepts it. */
bool px_addr_conf_check(const char *value, char *why, size_t whylen);

/* True for special-purpose addresses whose appearance in an answer is private
 * or meaningless: RFC 1918, CGNAT 100.64/10, loopback, link local, this
 * network 0/8, IETF protocol assignments 192.0.0/24, documentation
 * (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20),
 * benchmarking 198.18/15, multicast, reserved 240/4, broadcast, ::, ::1,
 * ULA fc00::/7, link local fe80::/10, site local fec0::/10, discard
 * 100::/64, IPv4-mapped ::ffff:0:0/96 (and the IPv4 rules inside NAT64
 * 64:ff9b::/96), ORCHID, 6to4 of special IPv4. False for any other
 * length. */
bool px_addr_special(const uint8_t *bytes, size_t len); /* A (4) or AAAA (16) bytes */

#endif
