/* px_dns_type.h: RR type mnemonics (IANA registry) and RFC 3597 "TYPEnnn".
 * Shared by the producer (writing rrtype) and the consumer (validating
 * it); dns/px_dns_msg.h includes this header. */
#ifndef PX_DNS_TYPE_H
#define PX_DNS_TYPE_H

#include <stddef.h>
#include <stdint.h>

/* Mnemonic of a type ("A", "AAAA", ..., RFC 3597 "TYPE65280"); buf >= 16. */
const char *px_dns_type_name(uint16_t type, char *buf, size_t len);
/* Parses a mnemonic or "TYPEnnn"; returns -1 if unknown. Case-insensitive. */
int px_dns_type_parse(const char *name);

#endif
