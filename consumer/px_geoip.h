/* px_geoip.h: GeoIP enrichment with libmaxminddb. A country database
 * (country.iso_code: GeoLite2-Country, DB-IP, ip-location-db) and an ASN
 * database (autonomous_system_number / autonomous_system_organization),
 * either optional. Answers are cached per address. Reload opens the files
 * again and keeps the old databases if a new one fails to open. Not
 * thread-safe: one owner thread. */
#ifndef PX_GEOIP_H
#define PX_GEOIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "obs/px_geo.h"

typedef struct px_geoip px_geoip;

/* The answer is the data model's (country "" / asn -1 / as_org "" when
 * unknown). */
typedef px_geo px_geoip_answer;

/* Either path may be NULL. A missing or corrupt file is an error (message
 * in errbuf naming the file). */
px_geoip *px_geoip_open(const char *country_path, const char *asn_path, char *errbuf,
                        size_t errlen);
void px_geoip_close(px_geoip *g); /* NULL is fine */

/* Reopens both files (SIGHUP). On failure keeps the databases it had,
 * returns an error and a message. Empties the cache on success. */
px_err px_geoip_reload(px_geoip *g, char *errbuf, size_t errlen);

/* Looks up an address given as its bytes (len 4: IPv4, 16: IPv6; an
 * IPv4-mapped IPv6 address answers as the IPv4 address it carries), as
 * the store hands them over (px_store_enrich_fn): no text in between.
 * Returns true if any database knew it; another len is an error (false). */
bool px_geoip_lookup_addr(px_geoip *g, const uint8_t *addr, size_t len, px_geoip_answer *out);

/* Every lookup is counted on /metrics: pdnsx_geoip_lookups_total (calls),
 * pdnsx_geoip_cache_hits_total (answered from the cache),
 * pdnsx_geoip_misses_total (nothing known, cached or not) and
 * pdnsx_geoip_errors_total (an address that does not parse, a database
 * record that cannot be read: a damaged file). */

#endif
