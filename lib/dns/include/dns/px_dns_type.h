/* px_dns_type.h: RR type mnemonics (IANA registry) and RFC 3597 "TYPEnnn".
 * Shared by the producer (writing rrtype) and the consumer (validating
 * it); dns/px_dns_msg.h includes this header. */
#ifndef PX_DNS_TYPE_H
#define PX_DNS_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The types the formatter and parser of dns/px_dns_rdata.h have a rule
 * for, and OPT (the parser frames it). */
enum {
    PX_DNS_TYPE_A = 1,
    PX_DNS_TYPE_NS = 2,
    PX_DNS_TYPE_CNAME = 5,
    PX_DNS_TYPE_SOA = 6,
    PX_DNS_TYPE_PTR = 12,
    PX_DNS_TYPE_MX = 15,
    PX_DNS_TYPE_TXT = 16,
    PX_DNS_TYPE_AAAA = 28,
    PX_DNS_TYPE_SRV = 33,
    PX_DNS_TYPE_DNAME = 39,
    PX_DNS_TYPE_OPT = 41,
    PX_DNS_TYPE_CAA = 257,
};

/* Mnemonic of a type ("A", "AAAA", ..., RFC 3597 "TYPE65280"); buf >= 16. */
const char *px_dns_type_name(uint16_t type, char *buf, size_t len);
/* Parses a mnemonic or "TYPEnnn"; returns -1 if unknown. Case-insensitive. */
int px_dns_type_parse(const char *name);

/* px_conf_item.check of a type setting (privacy.rrtypes, validator.rrtypes):
 * a value px_dns_type_parse() accepts. False with the reason in why. */
bool px_dns_conf_check_type(const char *value, char *why, size_t whylen);

#endif
