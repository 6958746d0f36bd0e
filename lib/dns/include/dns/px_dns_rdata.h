/* px_dns_rdata.h: the one formatter and the one parser of rdata text, used
 * by the producer (what it publishes), the validator (what it accepts),
 * the store and the queries (what they print and look up). An answer the
 * system prints is an answer it accepts: the canonical text of a record is
 * px_dns_rdata_to_text() of its wire form, and px_dns_rdata_check()
 * accepts exactly those texts.
 *
 * Canonical text per type (docs/DATA-MODEL.md, "Rdata"); numbers are
 * decimal without leading zeros, fields separated by one space:
 *   A      dotted quad
 *   AAAA   RFC 5952 section 4, hexadecimal groups only (px_addr_format_bytes)
 *   NS CNAME PTR DNAME   the name (dns/px_dns_name.h)
 *   MX     PREFERENCE EXCHANGE ("0 ." is the null MX)
 *   SRV    PRIORITY WEIGHT PORT TARGET
 *   SOA    MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM
 *   TXT    each character-string in double quotes, one space between;
 *          inside, '"' and '\' are escaped with '\', octets outside
 *          0x20-0x7e are \DDD
 *   CAA    FLAGS TAG "VALUE" (tag as received, value quoted as TXT)
 *   other  RFC 3597 "\# LEN HEX" (lower case, no inner blank; "\# 0")
 *
 * The parser accepts the canonical text and: for A and AAAA every spelling
 * px_addr_parse() takes ("::ffff:1.2.3.4", "0:0:0:0:0:FFFF:102:304");
 * names as px_dns_name_from_text(); numbers with leading zeros; runs of
 * blanks (space, tab) around and between fields; TXT and CAA strings quoted
 * or bare, with \X and \DDD; RFC 3597 "\# LEN HEX" (hex may contain blanks)
 * for every type, known ones included ("\# 4 c0000201" is an A). Anything
 * else is PX_ERR_MALFORMED (a TXT string over 255 octets, wire over cap:
 * PX_ERR_TOOLONG).
 *
 * "Wire" here is canonical rdata: names uncompressed with ASCII letters
 * folded (what px_dns_next_wire() gives as rdata_canon). */
#ifndef PX_DNS_RDATA_H
#define PX_DNS_RDATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "dns/px_dns_name.h"
#include "dns/px_dns_type.h"

#define PX_DNS_RDATA_TEXT_MAX 16384 /* text longer than 16383: PX_ERR_TOOLONG */
#define PX_DNS_RDATA_WIRE_MAX 65535 /* rdlength is 16 bits */

/* The names inside an rdata: 0 targets, 1 (NS CNAME PTR DNAME: the name;
 * MX: the exchange; SRV: the target) or 2 (SOA: MNAME and RNAME). off/len
 * locate each name's wire form in the rdata; text_off/text_len its text in
 * the text px_dns_rdata_to_text() wrote or px_dns_rdata_check() accepted
 * (both 0 after from_text). */
typedef struct px_dns_targets {
    uint8_t n;
    uint16_t off[2], len[2];
    uint16_t text_off[2], text_len[2];
} px_dns_targets;

/* rd[0..len) -> canonical text and a NUL into out[0..cap); *used gets the
 * text length. A name in rd that is compressed, runs past its field or
 * past len, or bytes left over after the last field: PX_ERR_MALFORMED.
 * Text longer than min(cap, PX_DNS_RDATA_TEXT_MAX) - 1: PX_ERR_TOOLONG.
 * targets (may be NULL) gets the names. */
px_err px_dns_rdata_to_text(uint16_t type, const uint8_t *rd, size_t len, char *out, size_t cap,
                            size_t *used, px_dns_targets *targets);

/* Any accepted text[0..len) -> canonical wire into out[0..cap) (cap up to
 * PX_DNS_RDATA_WIRE_MAX is enough); *used gets its length; targets (may be
 * NULL) gets the names inside it. */
px_err px_dns_rdata_from_text(uint16_t type, const char *text, size_t len, uint8_t *out, size_t cap,
                              size_t *used, px_dns_targets *targets);

/* from_text then to_text: the canonical spelling of any accepted one
 * ("::FFFF:1.2.3.4" -> "::ffff:102:304", "10  MAIL.Example.COM." ->
 * "10 mail.example.com"). */
px_err px_dns_rdata_canon(uint16_t type, const char *text, size_t len, char *out, size_t cap,
                          size_t *used);

/* The validator's check: PX_OK when text[0..len) is exactly the canonical
 * text of its type (format(parse(text)) == text), with the parse in wire
 * (cap octets), *wire_len and targets (may be NULL; text_off/text_len
 * point into text) so that a caller parses a record once. PX_ERR_INVAL when the text parses but is
 * not the canonical spelling; the parser's error when it does not parse. */
px_err px_dns_rdata_check(uint16_t type, const char *text, size_t len, uint8_t *wire, size_t cap,
                          size_t *wire_len, px_dns_targets *targets);

#endif
