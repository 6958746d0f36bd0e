/* px_geo.h: the GeoIP answer for an address, in binary, as the data model
 * has it (docs/DATA-MODEL.md): the country, the autonomous system and its
 * organisation. The store keeps it with A/AAAA records (as of when the
 * record was first stored); the GeoIP reader fills it from an address's
 * bytes, with no text in between. */
#ifndef PX_GEO_H
#define PX_GEO_H

#include <stdint.h>

typedef struct px_geo {
    char country[4];  /* ISO 3166 alpha-2, NUL-terminated; "" if unknown */
    int64_t asn;      /* -1 if unknown */
    char as_org[128]; /* NUL-terminated; "" if unknown */
} px_geo;

#endif
