/* px_store_compat.h: the store's merge as the consumer calls it until it
 * fills px_store_obs itself: the Avro struct, a registered domain as
 * text, and a GeoIP callback that takes the address as text. Removed once
 * nothing calls it. */
#ifndef PX_STORE_COMPAT_H
#define PX_STORE_COMPAT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/px_error.h"
#include "obs/px_avro.h"
#include "obs/px_geo.h"

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
/* px_store_known_obs() of obs, normalised as for px_store_merge(). */
px_err px_store_batch_known(px_store_batch *b, const px_avro_obs *obs, bool *known);
/* px_store_resume_log() with geo (as for the merge) for the records that
 * turn out new. */
px_err px_store_resume(px_store *s, px_store_geo_fn geo, void *geo_ctx, uint64_t *lost_chunks);

#endif
