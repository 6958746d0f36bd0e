/* px_filter.h: the privacy filter (docs/DATA-MODEL.md "Privacy rules").
 * Decides per message and per record what may leave the organisation;
 * every drop has a reason that the producer counts. */
#ifndef PX_FILTER_H
#define PX_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/px_addr.h"
#include "dns/px_dns_msg.h"
#include "core/px_error.h"

typedef enum px_drop {
    PX_PASS = 0,
    PX_DROP_NOT_RESPONSE,     /* QR bit clear, or opcode not QUERY */
    PX_DROP_RCODE,            /* rcode != NOERROR and errors not asked for */
    PX_DROP_WILDCARD_SERVER,  /* answered by a listed wildcard server */
    PX_DROP_SECTION,          /* additional section (glue), OPT, non-IN class */
    PX_DROP_RRTYPE,           /* type not in privacy.rrtypes */
    PX_DROP_PRIVATE_ADDR,     /* special-purpose address in A/AAAA */
    PX_DROP_LOCAL_NAME,       /* owner name under a local zone */
    PX_DROP_LOCAL_RDATA,      /* rdata names something under a local zone */
    PX_DROP_SINGLE_LABEL,     /* single-label owner name or rdata name */
    PX_DROP_OUT_OF_BAILIWICK, /* owner not under the dnstap query_zone */
    PX_DROP_PUBLIC_SUFFIX,    /* owner is the root or a bare public suffix (the pipeline) */
    PX_DROP__COUNT
} px_drop;

/* Short snake_case name for metrics labels ("private_addr"). */
const char *px_drop_name(px_drop reason);

typedef struct px_filter_conf {
    const uint16_t *rrtypes; /* recorded types; NULL: A, AAAA, CNAME, MX, NS */
    size_t n_rrtypes;
    bool errors;                    /* privacy.errors */
    bool private_answers;           /* privacy.private_answers */
    const char *const *local_zones; /* extra local zones (any case, trailing dot ok) */
    size_t n_local_zones;
    const px_addr *wildcard_servers;
    size_t n_wildcard_servers;
} px_filter_conf;

typedef struct px_filter px_filter;

/* Copies what it needs from conf. NULL on no memory or a bad zone
 * (*err says which). */
px_filter *px_filter_create(const px_filter_conf *conf, px_err *err);
void px_filter_destroy(px_filter *f); /* NULL is fine */

/* Whole-message checks: response bit, opcode, rcode, wildcard server.
 * server may be NULL or family 0 (unknown). */
px_drop px_filter_message(const px_filter *f, const px_dns_msg *msg, const px_addr *server);

/* Per-record checks. bailiwick: presentation zone name or NULL. A record
 * that px_filter_rr_wanted() refuses may come without name and rdata (see
 * px_dns_set_want()): it is dropped for its section or type as usual. */
px_drop px_filter_rr(const px_filter *f, const px_dns_rr *rr, const char *bailiwick);

/* The checks of px_filter_rr() that need only section, type and class
 * (px_dns_want_fn, ctx: the filter): false if px_filter_rr() would drop
 * the record for one of those whatever its name and rdata. */
bool px_filter_rr_wanted(void *filter, const px_dns_rr *rr);

/* The rule px_filter_rr() leaves to its caller: the owner is the root or
 * a bare public suffix (px_privacy_public_suffix(): "co.uk"; "com" is a
 * single label already). The pipeline asks it where it looks up the
 * record's registered domain, once per record key. */
bool px_filter_public_suffix(const px_dns_rr *rr);

#endif
