/* px_store_compat.h: the store's merge as the consumer calls it until it
 * fills px_store_obs itself: the Avro struct, a registered domain as
 * text, and a GeoIP callback that takes the address as text; and the
 * lookups as query/ calls them until it parses what the user typed. Removed
 * once nothing calls it. */
#ifndef PX_STORE_COMPAT_H
#define PX_STORE_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/px_error.h"
#include "obs/px_avro.h"
#include "obs/px_geo.h"
#include "store/px_store.h" /* its lookups' types (px_store.h includes this at its end) */

typedef struct px_store px_store;
typedef struct px_store_batch px_store_batch;

typedef px_geo px_store_geo;

/* The GeoIP answer of an address in text. Used only when the store was
 * opened without px_store_opts.enrich. */
typedef bool (*px_store_geo_fn)(void *ctx, const char *address, px_store_geo *out);

/* px_store_merge_obs() of obs, whose text fields are normalised as the
 * store did before it took canonical input (lowercase, one trailing dot
 * dropped; A/AAAA rdata parsed: PX_ERR_MALFORMED if it is no address of
 * its family; a bailiwick that is no name ignored). regdom: NULL for
 * none. geo: the GeoIP lookup for the batch's new A/AAAA records (NULL:
 * none; the latest non-NULL one a batch was given serves all of them),
 * called at the commit; with geo_ctx it must stay valid until then. */
px_err px_store_merge(px_store_batch *b, const px_avro_obs *obs, const char *regdom,
                      px_store_geo_fn geo, void *geo_ctx);
/* px_store_resume_log() with geo (as for the merge) for the records that
 * turn out new. */
px_err px_store_resume(px_store *s, px_store_geo_fn geo, void *geo_ctx, uint64_t *lost_chunks);

/* The lookups on what the user typed, parsed once through lib/dns into a
 * px_store_lookup (removed once query/ does that itself). A name in any
 * spelling px_dns_name_canon() accepts ("WWW.Example.COM.",
 * "\119ww.example.com"); "*.zone" (or "*", "*.": every name) asks for the names
 * strictly below zone (PX_STORE_BY_ZONE); rrtype a type name or "TYPEn"
 * (NULL: every type). An rdata value is an address in any spelling
 * px_addr_parse() accepts ("::FFFF:1.2.3.4", "0:0:0:0:0:ffff:102:304",
 * "64:ff9b::1.2.3.4") or else a target name. A name or type the parser
 * refuses: PX_ERR_INVAL (_TOOLONG for a name past 255 octets); the
 * store's own errors otherwise. */
px_err px_store_query_rrset(px_store *s, const char *name, const char *rrtype,
                            const px_store_fence *fence, px_store_rec_fn fn, void *ctx);
px_err px_store_query_rdata(px_store *s, const char *value, const px_store_fence *fence,
                            px_store_rec_fn fn, void *ctx);
px_err px_store_iter_rrset(px_store *s, const char *name, const char *rrtype,
                           const px_store_fence *fence, px_store_iter **out);
px_err px_store_iter_rdata(px_store *s, const char *value, const px_store_fence *fence,
                           px_store_iter **out);
px_err px_store_query_domain(px_store *s, const char *regdom, px_store_domain_fn fn, void *ctx);

#endif
