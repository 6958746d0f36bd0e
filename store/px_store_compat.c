/* px_store_compat.c: the store's merge on the Avro struct, with the GeoIP
 * callback that takes text, for the consumer until it fills px_store_obs
 * from its own checks (store/px_store_compat.h). It normalises the text
 * fields as the store did before it took canonical input; the store
 * itself parses no text. */
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_type.h"
#include "store/px_store.h"
#include "px_store_batch.h"
#include "px_store_int.h"

/* The normalised fields of one observation, and the px_store_obs on them. */
typedef struct compat_obs {
    char name[PXS_NAME_MAX + 1], bw[PXS_NAME_MAX + 1], dom[PXS_NAME_MAX + 1];
    px_addr addr;
    px_store_obs o;
} compat_obs;

static px_err compat_fill(const px_avro_obs *obs, const char *regdom, compat_obs *c)
{
    if (!obs->rrname || !obs->rrtype || !obs->rdata || !obs->org || obs->count < 0)
        return PX_ERR_INVAL;
    px_store_obs *o = &c->o;
    *o = (px_store_obs){.org = obs->org,
                        .count = (uint64_t)obs->count,
                        .time_first = obs->time_first,
                        .time_last = obs->time_last};
    px_err err = pxs_norm_name(obs->rrname, c->name, &o->rrname_len);
    if (err)
        return err;
    o->rrname = c->name;
    int t = px_dns_type_parse(obs->rrtype);
    if (t < 0)
        return PX_ERR_INVAL;
    o->rrtype = (uint16_t)t;
    /* a bailiwick that is no name is left out, as unknown */
    if (obs->bailiwick && pxs_norm_name(obs->bailiwick, c->bw, &o->bailiwick_len) == PX_OK)
        o->bailiwick = c->bw;
    if (t == 1 || t == 28) {
        if (px_addr_parse(obs->rdata, &c->addr) != PX_OK || c->addr.family != (t == 1 ? 4 : 6))
            return PX_ERR_MALFORMED;
        o->rdata_wire = c->addr.bytes;
        o->rdata_wire_len = t == 1 ? 4 : 16;
    } else {
        o->rdata = obs->rdata;
        o->rdata_len = strlen(obs->rdata);
    }
    if (regdom) {
        err = pxs_norm_name(regdom, c->dom, &o->regdom_len);
        if (err || o->regdom_len == 0)
            return err ? err : PX_ERR_INVAL;
        o->regdom = c->dom;
    }
    return PX_OK;
}

px_err px_store_merge(px_store_batch *b, const px_avro_obs *obs, const char *regdom,
                      px_store_geo_fn geo, void *geo_ctx)
{
    if (!b || !obs)
        return PX_ERR_INVAL;
    if (b->failed) /* as the merge says it, before looking at obs */
        return b->failed;
    if (geo)
        pxs_batch_set_text_geo(b, geo, geo_ctx);
    compat_obs c;
    px_err err = compat_fill(obs, regdom, &c);
    return err ? err : px_store_merge_obs(b, &c.o);
}

px_err px_store_batch_known(px_store_batch *b, const px_avro_obs *obs, bool *known)
{
    *known = false;
    if (!b || !obs)
        return PX_ERR_INVAL;
    if (b->failed)
        return b->failed;
    compat_obs c;
    px_err err = compat_fill(obs, NULL, &c);
    return err ? err : px_store_known_obs(b, &c.o, known);
}

px_err px_store_resume(px_store *s, px_store_geo_fn geo, void *geo_ctx, uint64_t *lost_chunks)
{
    pxs_store_set_text_geo(s, geo, geo_ctx);
    px_err err = px_store_resume_log(s, lost_chunks);
    pxs_store_set_text_geo(s, NULL, NULL);
    return err;
}

bool pxs_text_geo(px_store_geo_fn geo, void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    char text[64];
    px_addr a = {.family = len == 4 ? 4 : 6};
    memcpy(a.bytes, addr, len);
    px_addr_format(&a, text, sizeof text);
    return geo(ctx, text, out);
}
