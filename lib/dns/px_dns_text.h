/* px_dns_text.h (private to lib/dns): the pieces of px_dns_name.c's name
 * writer that the message parser and the rdata formatter use. */
#ifndef PX_DNS_TEXT_H
#define PX_DNS_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "core/px_wire.h"

/* Writes "\DDD" for b; returns the end. */
static inline char *pxd_put_ddd(char *o, uint8_t b)
{
    o[0] = '\\';
    o[1] = (char)('0' + b / 100);
    o[2] = (char)('0' + (b / 10) % 10);
    o[3] = (char)('0' + b % 10);
    return o + 4;
}

/* Reads one uncompressed name at w's position (w moves past it) and writes
 * its text and a NUL to out (PX_DNS_NAME_TEXT_MAX bytes); *outlen gets the
 * length. A compression pointer or extended label is PX_ERR_MALFORMED, a
 * name over 255 octets PX_ERR_TOOLONG, a name past the end w's error. */
px_err pxd_name_text(px_wire *w, char *out, size_t *outlen);

#endif
