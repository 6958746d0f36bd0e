/* px_privacy.h: the privacy rules on types, names, zones and addresses
 * (docs/DATA-MODEL.md, "Privacy rules"), one copy for both ends of the federation. The
 * producer's filter applies them to what may leave an organisation; the
 * consumer applies them again to what the centre accepts, so that a member
 * whose producer is misconfigured or hostile cannot put a private name or
 * address into the federation. The rules about whole responses (rcode,
 * wildcard servers, bailiwick) stay with the producer: only it sees
 * responses.
 *
 * Names are presentation form as pdnsx writes them (lowercase, no trailing
 * dot, "." for the root, "\." and "\DDD" escapes inside labels). */
#ifndef PX_PRIVACY_H
#define PX_PRIVACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "dns/px_dns_rdata.h"

/* Which rule refused a record; PX_PRIVACY_PASS if none did. */
typedef enum px_privacy_rule {
    PX_PRIVACY_PASS = 0,
    PX_PRIVACY_RRTYPE,        /* type not in the set */
    PX_PRIVACY_PRIVATE_ADDR,  /* special-purpose address in A/AAAA */
    PX_PRIVACY_LOCAL_NAME,    /* owner name under a local zone */
    PX_PRIVACY_LOCAL_RDATA,   /* rdata names something under a local zone */
    PX_PRIVACY_SINGLE_LABEL,  /* single-label owner name or rdata name */
    PX_PRIVACY_PUBLIC_SUFFIX, /* owner name is the root or a public suffix */
    PX_PRIVACY__COUNT
} px_privacy_rule;

typedef struct px_privacy_conf {
    const uint16_t *rrtypes; /* the types allowed; NULL: A, AAAA, CNAME, MX, NS */
    size_t n_rrtypes;
    bool private_answers;           /* allow special-purpose addresses */
    const char *const *local_zones; /* extra local zones (any spelling dns accepts) */
    size_t n_local_zones;
} px_privacy_conf;

typedef struct px_privacy px_privacy;

/* Copies what it needs from conf (NULL: the defaults). NULL on no memory
 * or a zone px_privacy_check_zone() refuses (*err says which; err may be
 * NULL). Read-only afterwards: any number of threads may use it. */
px_privacy *px_privacy_create(const px_privacy_conf *conf, px_err *err);
void px_privacy_destroy(px_privacy *p); /* NULL is fine */

/* A zone as privacy.local_zones / trust.local_zones take it: a name dns
 * accepts in any spelling, not the root (px_dns_conf_check_name(), whose
 * reason goes to why). px_privacy_create() keeps each zone in its
 * canonical spelling (px_dns_name_canon()), the one names are compared in.
 * For config tables. */
bool px_privacy_check_zone(const char *zone, char *why, size_t whylen);

bool px_privacy_type_allowed(const px_privacy *p, uint16_t type);

/* The owner name rules, in the producer's order: PX_PRIVACY_SINGLE_LABEL
 * (no unescaped dot; not the root), then PX_PRIVACY_LOCAL_NAME: under (or
 * at) a built-in or configured local zone. Built-in: local, localhost,
 * internal, home.arpa, lan, intranet, corp, private, localdomain, test,
 * invalid, example, onion, alt, and the RFC 6303 locally served reverse
 * zones (10.in-addr.arpa, ..., d.f.ip6.arpa). */
px_privacy_rule px_privacy_owner(const px_privacy *p, const char *name, size_t len);

/* The root, or a bare public suffix of the Public Suffix List's ICANN
 * section ("com", "co.uk", "in-addr.arpa"): names no one registers, whose
 * records are the DNS's own infrastructure, not anything seen of the
 * federation's users. The private section (github.io, blogspot.com) is
 * not refused: those names are hosts with records of their own. */
bool px_privacy_public_suffix(const char *name, size_t len);

/* The rdata rules on a parsed rdata (px_dns_rdata_check() or
 * px_dns_rdata_to_text() gave wire, text and targets): for A/AAAA the
 * address bytes wire[0..wire_len), for NS, CNAME, PTR, DNAME the name, for
 * MX the exchange, for SRV the target, for SOA the primary server and the
 * mailbox: the canonical names text + targets->text_off[i] of
 * targets->text_len[i] octets. An A/AAAA wire of another length is refused
 * as PX_PRIVACY_PRIVATE_ADDR (fail closed). Other types pass. */
px_privacy_rule px_privacy_rdata(const px_privacy *p, uint16_t type, const uint8_t *wire,
                                 size_t wire_len, const char *text, const px_dns_targets *targets);

#endif
