/* px_dns_msg.h: DNS message parsing that never trusts a length.
 *
 * Usage: px_dns_begin_wire() reads the header and the question, then
 * px_dns_next_wire() yields one resource record at a time in canonical wire
 * form (names uncompressed, letters folded), and px_dns_rr_text() gives a
 * record's text when the caller wants it: names as dns/px_dns_name.h
 * writes them, rdata as dns/px_dns_rdata.h writes it (docs/DATA-MODEL.md).
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
 * next call) or into the message buffer (rdata_wire). */
typedef struct px_dns_rr {
    px_dns_section section;
    const char *name; /* owner name, text (px_dns_rr_text()) */
    size_t name_len;
    uint16_t type, rclass;
    uint32_t ttl;
    const uint8_t *rdata_wire; /* raw rdata (compressed names unresolved) */
    uint16_t rdlen;
    const char *rdata; /* text (px_dns_rr_text()) */
    size_t rdata_len;
    /* Names inside the rdata that the privacy filter must check
     * (CNAME/DNAME/NS/PTR target, MX exchange, SRV target, SOA mname and
     * rname); NULL when none. */
    const char *target;
    const char *target2;
    /* The same names as px_dns_rdata_to_text() locates them: text_off and
     * text_len into rdata, off and len into rdata_canon (n 0 when none),
     * for the privacy rules on the parsed rdata (px_privacy_rdata()). */
    px_dns_targets targets;
    /* Set by px_dns_next_wire() for a wanted record: the canonical wire
     * form, see there. */
    const uint8_t *owner_wire;
    size_t owner_wire_len;
    const uint8_t *rdata_canon;
    size_t rdata_canon_len;
} px_dns_rr;

/* Called by px_dns_next_wire() with rr's section, type, rclass, ttl, rdlen and
 * rdata_wire set (name and rdata not yet read); false skips the record:
 * see px_dns_set_want(). */
typedef bool (*px_dns_want_fn)(void *ctx, const px_dns_rr *rr);

/* Iterator state; lives on the caller's stack. Fields are private. */
typedef struct px_dns_iter {
    px_wire w;
    px_dns_section section;
    uint16_t left[4]; /* records left per section, indexed by px_dns_section */
    bool broken;      /* framing lost: no further record can be read */
    /* name holds the owner text of the last px_dns_rr_text(); name_from is
     * the message offset of the name it holds (0: none), for readers that
     * reuse it (tests/support/dns_text_oracle.c). */
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

/* After an error of px_dns_next_wire() or px_dns_rr_text(), says whether
 * only that record's rdata was bad (framing intact: the next call reads the
 * next record) or the rest of the message is lost. */
bool px_dns_can_continue(const px_dns_iter *it);

/* Lets the caller skip records it will not use before they are decoded
 * (a resolver's answers carry glue and OPT records that are never kept).
 * For a record want() refuses, px_dns_next_wire() only frames it: it
 * returns PX_OK with owner_wire and rdata_canon NULL (lengths 0); the owner
 * name is stepped over, not decoded, and the rdata is not checked, so a
 * skipped record is never reported malformed unless its framing is lost.
 * Applies until the next px_dns_begin_wire(), which clears it: call it
 * after px_dns_begin_wire(). want NULL decodes every record. */
void px_dns_set_want(px_dns_iter *it, px_dns_want_fn want, void *ctx);

/* ---- Wire mode ----
 * Records are keyed before any text is formatted (the pipeline formats a
 * record's text only the first time it sees the record).
 *
 * px_dns_begin_wire() reads the header and the first question (further
 * questions are skipped) and leaves out->qname empty (qname_len 0): the
 * question name is checked, not formatted. Returns PX_OK, or an error if
 * the header or question is malformed.
 * px_dns_next_wire() returns the next record of the answer, authority and
 * additional sections, in order (OPT records like any other, type 41):
 * PX_OK (rr filled), PX_ERR_EOF (no more records), or an error. It sets,
 * besides section, type, rclass, ttl, rdlen and rdata_wire:
 *   owner_wire: the owner name uncompressed with ASCII letters lowercased;
 *   rdata_canon: for NS, CNAME, PTR, DNAME, MX, SRV and SOA, the rdata with
 *     its names uncompressed and lowercased (fixed fields as received); for
 *     every other type the rdata as received (rdata_canon == rdata_wire),
 *     whose contents are checked only by px_dns_rr_text().
 * Two records have the same (type, owner_wire, rdata_canon) exactly when
 * px_dns_rr_text() gives them the same name and rdata text (and targets).
 * tests/support/dns_text_oracle.c reads the same records to text on its
 * own, and fuzz_dns_wire compares the two.
 * Both point into the iterator or the message: valid until the next call. */
px_err px_dns_begin_wire(px_dns_iter *it, const uint8_t *msg, size_t len, px_dns_msg *out);
px_err px_dns_next_wire(px_dns_iter *it, px_dns_rr *rr);
/* Fills name, rdata and the targets of a record from px_dns_next_wire()
 * through px_dns_name_to_text() and px_dns_rdata_to_text() (texts in the
 * iterator, valid until its next call). Returns PX_OK or the rdata error
 * (the framing is intact either way). */
px_err px_dns_rr_text(px_dns_iter *it, px_dns_rr *rr);

/* px_dns_type_name() and px_dns_type_parse() live in dns/px_dns_type.h. */

/* Names (px_dns_name_to_text, px_dns_name_in_zone, ...) are in
 * dns/px_dns_name.h, rdata text in dns/px_dns_rdata.h; both included. */

#endif
