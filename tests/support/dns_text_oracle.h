/* dns_text_oracle.h: a DNS message reader in presentation form for tests,
 * independent of the library's wire mode (px_dns_begin_wire/_next_wire):
 * it follows compression pointers itself and writes the text of names and
 * of the rdata that holds names itself; name-free rdata goes through
 * px_dns_rdata_to_text(). fuzz_dns_wire compares the two readers.
 *
 * pxt_dns_begin() reads the header and the first question (qname as
 * text); pxt_dns_next() yields each record with name, rdata and targets as
 * text (in the iterator, valid until the next call), the same records and
 * errors as px_dns_next_wire() + px_dns_rr_text(). px_dns_can_continue()
 * and px_dns_set_want() apply as to the wire mode. */
#ifndef DNS_TEXT_ORACLE_H
#define DNS_TEXT_ORACLE_H

#include "dns/px_dns_msg.h"

px_err pxt_dns_begin(px_dns_iter *it, const uint8_t *msg, size_t len, px_dns_msg *out);
px_err pxt_dns_next(px_dns_iter *it, px_dns_rr *rr);

#endif
