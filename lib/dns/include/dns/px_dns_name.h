/* px_dns_name.h: the one writer and the one reader of domain name text.
 *
 * The canonical text (docs/DATA-MODEL.md, "Names"): labels joined by '.',
 * no trailing dot, the root is "."; ASCII letters in lower case (RFC 4343),
 * every other octet unchanged (IDNs stay A-labels). An octet is written as
 * itself when it is 0x21-0x7e, except: '.' inside a label is "\.", '\' is
 * "\\", and 0x00-0x20, 0x7f-0xff and '"' '$' '(' ')' ';' '@' are "\DDD"
 * (three decimal digits).
 *
 * The parser accepts the canonical text and any case, one trailing '.',
 * "\X" for a character X 0x20-0x7e that is not a digit, "\DDD" for any
 * octet 000-255, and the six special characters unescaped. It refuses an
 * empty label (but the root "."), a label over 63 octets or a name over
 * 255 wire octets (PX_ERR_TOOLONG), "\DDD" over 255, a dangling '\', and
 * unescaped octets outside 0x21-0x7e (PX_ERR_MALFORMED).
 *
 * "Wire" below is an uncompressed name: labels, then the root label. */
#ifndef PX_DNS_NAME_H
#define PX_DNS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

#define PX_DNS_NAME_WIRE_MAX 255  /* octets of a wire name, root label included */
#define PX_DNS_NAME_TEXT_MAX 1025 /* 255 octets, each as \DDD, + NUL */

/* Uncompressed wire[0..len) -> canonical text and a NUL into out[0..cap).
 * *used (may be NULL) gets the text length. PX_ERR_MALFORMED for a
 * compression pointer, an extended label or bytes after the root label;
 * PX_ERR_TRUNC when the name runs past len; PX_ERR_TOOLONG for a name over
 * 255 octets or text that does not fit cap. */
px_err px_dns_name_to_text(const uint8_t *wire, size_t len, char *out, size_t cap, size_t *used);

/* Any accepted spelling text[0..len) -> canonical wire (ASCII letters
 * folded) into wire[0..PX_DNS_NAME_WIRE_MAX); *wire_len gets its length. */
px_err px_dns_name_from_text(const char *text, size_t len, uint8_t *wire, size_t *wire_len);

/* from_text then to_text: the canonical spelling of any accepted spelling
 * ("MAIL.Example.COM." -> "mail.example.com"). */
px_err px_dns_name_canon(const char *text, size_t len, char *out, size_t cap, size_t *used);

/* True when text is exactly the canonical spelling of a name, i.e. when
 * px_dns_name_canon() accepts it and gives it back unchanged. One pass, no
 * output (the validator runs it per record); fuzz_dns_text checks it
 * against that definition. */
bool px_dns_name_is_canonical(const char *text, size_t len);

/* Folds the ASCII letters of wire[0..len) to lower case: what to_text does
 * to letters, for keys built from wire (length octets are <= 63, below
 * 'A', so the whole buffer can be folded). */
void px_dns_name_fold(uint8_t *wire, size_t len);

/* Escape-aware label operations on canonical text (no trailing dot).
 * last_label: where the last label starts (after the last unescaped dot);
 * *has_dot says whether there is an unescaped dot at all. */
size_t px_dns_name_last_label(const char *name, size_t len, bool *has_dot);
/* True if name equals zone or lies below it (both canonical text; zone "."
 * or "" contains everything; "a\.b" is one label, not below "b"). */
bool px_dns_name_in_zone(const char *name, size_t name_len, const char *zone, size_t zone_len);

/* RFC 4034 section 6.1 canonical order: labels compared from the right, as
 * unescaped octets with letters folded; a name that is a suffix of the
 * other sorts first. <0, 0, >0 as memcmp. Texts the parser refuses sort
 * after every name, between themselves by their bytes. */
int px_dns_name_cmp(const char *a, size_t alen, const char *b, size_t blen);

/* px_conf_item.check of a zone setting: a name the parser accepts, not the
 * root. */
bool px_dns_conf_check_name(const char *value, char *why, size_t whylen);

#endif
