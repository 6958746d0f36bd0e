/* px_dns_msg.h: DNS message parsing that never trusts a length.
 *
 * Usage: px_dns_begin() reads the header and the question, then
 * px_dns_next() yields one resource record at a time in presentation form
 * (DESIGN.md section 3): names lowercase, no trailing dot ("." for the
 * root), "\." and "\\" inside labels, \DDD for bytes outside printable ASCII
 * and for space " ( ) ; @ $ (RFC 1035/4343);
 * rdata in presentation form (AAAA per RFC 5952, "10 mail.example.com" for
 * MX, RFC 3597 "\# 4 0a000001" for types without a presentation rule).
 *
 * All parsing goes through px_wire. Name decompression follows pointers
 * only backwards, at most 127 hops, total name length <= 255 octets. */
#ifndef PX_DNS_H
#define PX_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/px_dns_name.h"
#include "dns/px_dns_rdata.h"
#include "dns/px_dns_type.h"
#include "core/px_error.h"
#include "core/px_wire.h"

enum { PX_DNS_CLASS_IN = 1 };

enum { PX_DNS_RCODE_NOERROR = 0, PX_DNS_RCODE_SERVFAIL = 2, PX_DNS_RCODE_NXDOMAIN = 3 };

typedef enum px_dns_section {
    PX_DNS_ANSWER = 1,
    PX_DNS_AUTHORITY = 2,
    PX_DNS_ADDITIONAL = 3,
} px_dns_section;

/* Header and question. */
typedef struct px_dns_msg {
    uint16_t id;
    bool qr, aa, tc, rd, ra;
    uint8_t opcode;
    uint8_t rcode; /* header rcode (4 bits); extended rcode is not merged */
    uint16_t qdcount, ancount, nscount, arcount;
    bool has_question; /* qdcount >= 1 and the first question parsed */
    char qname[PX_DNS_NAME_TEXT_MAX];
    size_t qname_len;
    uint16_t qtype, qclass;
} px_dns_msg;

/* One resource record. Pointers point into the iterator (valid until the
 * next px_dns_next()) or into the message buffer (rdata_wire). */
typedef struct px_dns_rr {
    px_dns_section section;
    const char *name; /* owner name, presentation form */
    size_t name_len;
    uint16_t type, rclass;
    uint32_t ttl;
    const uint8_t *rdata_wire; /* raw rdata (compressed names unresolved) */
    uint16_t rdlen;
    const char *rdata; /* presentation form */
    size_t rdata_len;
    /* Names inside the rdata that the privacy filter must check
     * (CNAME/DNAME/NS/PTR target, MX exchange, SRV target, SOA mname and
     * rname); NULL when none. */
    const char *target;
    const char *target2;
    /* Set by px_dns_next_wire() only (NULL and 0 otherwise): the canonical
     * wire form, see there. */
    const uint8_t *owner_wire;
    size_t owner_wire_len;
    const uint8_t *rdata_canon;
    size_t rdata_canon_len;
} px_dns_rr;

/* Called by px_dns_next() with rr's section, type, rclass, ttl, rdlen and
 * rdata_wire set (name and rdata not yet read); false skips the record:
 * see px_dns_set_want(). */
typedef bool (*px_dns_want_fn)(void *ctx, const px_dns_rr *rr);

/* Iterator state; lives on the caller's stack. Fields are private. */
typedef struct px_dns_iter {
    px_wire w;
    px_dns_section section;
    uint16_t left[4]; /* records left per section, indexed by px_dns_section */
    bool broken;      /* framing lost: no further record can be read */
    /* name holds the text of the name at this message offset (0: none):
     * owners compressed to it (nearly every answer points at the
     * question) are not decoded again. */
    uint16_t name_from;
    size_t name_len;
    char name[PX_DNS_NAME_TEXT_MAX];
    char target[PX_DNS_NAME_TEXT_MAX];
    char target2[PX_DNS_NAME_TEXT_MAX];
    char rdata[PX_DNS_RDATA_TEXT_MAX];
    /* Wire mode: the canonical owner name at message offset owner_from
     * (0: none), and the canonical rdata of a record with names in it. */
    uint16_t owner_from;
    size_t owner_len;
    uint8_t owner[255 + 8];          /* 8: see name_canon() */
    uint8_t canon[2 * 255 + 20 + 8]; /* SOA: two names, five numbers */
    px_dns_want_fn want;             /* NULL: every record is decoded */
    void *want_ctx;
} px_dns_iter;

/* Reads the header and the first question (further questions are skipped).
 * Returns PX_OK, or an error if the header or question is malformed. */
px_err px_dns_begin(px_dns_iter *it, const uint8_t *msg, size_t len, px_dns_msg *out);

/* Next record of the answer, authority and additional sections, in order.
 * OPT records are returned like any other (type 41).
 * Returns PX_OK (rr filled), PX_ERR_EOF (no more records), or an error.
 * After an error, px_dns_can_continue() says whether only that record's
 * rdata was bad (framing intact: the next call reads the next record) or
 * the rest of the message is lost. */
px_err px_dns_next(px_dns_iter *it, px_dns_rr *rr);
bool px_dns_can_continue(const px_dns_iter *it);

/* Lets the caller skip records it will not use before they are decoded
 * (a resolver's answers carry glue and OPT records that are never kept).
 * For a record want() refuses, px_dns_next() only frames it: it returns
 * PX_OK with name and rdata NULL (lengths 0) and target(s) NULL; the owner
 * name is stepped over, not decoded, and the rdata is not checked, so a
 * skipped record is never reported malformed unless its framing is lost.
 * Applies until the next px_dns_begin(), which clears it: call it after
 * px_dns_begin(). want NULL decodes every record. */
void px_dns_set_want(px_dns_iter *it, px_dns_want_fn want, void *ctx);

/* ---- Wire mode ----
 * For callers that key records before formatting any text (the pipeline
 * formats a record's text only the first time it sees the record).
 *
 * px_dns_begin_wire() is px_dns_begin() but leaves out->qname empty
 * (qname_len 0): the question name is checked, not formatted.
 * px_dns_next_wire() is px_dns_next() (same records, same errors, the same
 * want function) but sets, instead of name and rdata text:
 *   owner_wire: the owner name uncompressed with ASCII letters lowercased;
 *   rdata_canon: for NS, CNAME, PTR, DNAME, MX, SRV and SOA, the rdata with
 *     its names uncompressed and lowercased (fixed fields as received); for
 *     every other type the rdata as received (rdata_canon == rdata_wire),
 *     whose contents are checked only by px_dns_rr_text().
 * Two records have the same (type, owner_wire, rdata_canon) exactly when
 * px_dns_next() gives them the same name and rdata text (and targets).
 * Both point into the iterator or the message: valid until the next call. */
px_err px_dns_begin_wire(px_dns_iter *it, const uint8_t *msg, size_t len, px_dns_msg *out);
px_err px_dns_next_wire(px_dns_iter *it, px_dns_rr *rr);
/* Fills name, rdata and the targets of a record from px_dns_next_wire(),
 * exactly as px_dns_next() would have (texts in the iterator, valid until
 * its next call). Returns what px_dns_next() would have returned for the
 * record: PX_OK or the rdata error (the framing is intact either way). */
px_err px_dns_rr_text(px_dns_iter *it, px_dns_rr *rr);

/* px_dns_type_name() and px_dns_type_parse() live in dns/px_dns_type.h. */

/* Names (px_dns_name_to_text, px_dns_name_in_zone, ...) are in
 * dns/px_dns_name.h, rdata text in dns/px_dns_rdata.h; both included. */

#endif
