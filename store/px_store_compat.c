/* px_store_compat.c: the store's merge on the Avro struct, with the GeoIP
 * callback that takes text, for the consumer until it fills px_store_obs
 * from its own checks (store/px_store_compat.h). It normalises the text
 * fields as the store did before it took canonical input; the store
 * itself parses no text. */
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_name.h"
#include "dns/px_dns_type.h"
#include "store/px_store.h"
#include "px_store_batch.h"
#include "px_store_int.h"

/* The consumer's names as the merge took them before the consumer
 * checked them itself: folded as store format 2 folds a target name
 * (lowercase, one trailing dot dropped, bytes 0x21..0x7e). */
static px_err compat_name(const char *in, char *out, size_t *len)
{
    return pxs_rdx_target(in, out, len);
}

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
    px_err err = compat_name(obs->rrname, c->name, &o->rrname_len);
    if (err)
        return err;
    o->rrname = c->name;
    int t = px_dns_type_parse(obs->rrtype);
    if (t < 0)
        return PX_ERR_INVAL;
    o->rrtype = (uint16_t)t;
    /* a bailiwick that is no name is left out, as unknown */
    if (obs->bailiwick && compat_name(obs->bailiwick, c->bw, &o->bailiwick_len) == PX_OK)
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
        err = compat_name(regdom, c->dom, &o->regdom_len);
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

/* ---- lookups on what the user typed ---- */

/* A name in any spelling -> its canonical text in out
 * (PX_DNS_NAME_TEXT_MAX). PX_ERR_INVAL for a name the parser refuses;
 * _TOOLONG for one past 255 octets or whose text the store could not
 * hold. */
static px_err text_name(const char *in, char *out, size_t *len)
{
    px_err err = px_dns_name_canon(in, strlen(in), out, PX_DNS_NAME_TEXT_MAX, len);
    if (err == PX_ERR_TOOLONG || (!err && *len > PXS_NAME_MAX))
        return PX_ERR_TOOLONG;
    return err ? PX_ERR_INVAL : PX_OK;
}

/* "*", "*." and "*.zone" ask for the names below zone, anything else for
 * one name; rrtype NULL for every type. */
static px_err text_rrset(const char *name, const char *rrtype, char *buf, px_store_lookup *l)
{
    if (!name)
        return PX_ERR_INVAL;
    int type = rrtype ? px_dns_type_parse(rrtype) : PX_STORE_ANY_TYPE;
    if (rrtype && type < 0)
        return PX_ERR_INVAL;
    bool below = name[0] == '*' && (name[1] == '.' || name[1] == 0);
    const char *rest = below ? name + (name[1] ? 2 : 1) : name;
    *l = (px_store_lookup){.by = below ? PX_STORE_BY_ZONE : PX_STORE_BY_NAME, .rrtype = type};
    if (below && !*rest)
        rest = ".";
    px_err err = text_name(rest, buf, &l->name_len);
    l->name = buf;
    return err;
}

/* An address in any spelling, else a target name. */
static px_err text_rdata(const char *value, char *buf, px_addr *a, px_store_lookup *l)
{
    if (!value || !*value)
        return PX_ERR_INVAL;
    if (px_addr_parse(value, a) == PX_OK && (a->family == 4 || a->family == 6)) {
        *l = (px_store_lookup){
            .by = PX_STORE_BY_ADDR, .addr = a->bytes, .addr_len = a->family == 4 ? 4 : 16};
        return PX_OK;
    }
    *l = (px_store_lookup){.by = PX_STORE_BY_TARGET, .name = buf};
    return text_name(value, buf, &l->name_len);
}

px_err px_store_query_rrset(px_store *s, const char *name, const char *rrtype,
                            const px_store_fence *fence, px_store_rec_fn fn, void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_store_lookup l;
    px_err err = text_rrset(name, rrtype, buf, &l);
    return err ? err : px_store_find(s, &l, fence, fn, ctx);
}

px_err px_store_query_rdata(px_store *s, const char *value, const px_store_fence *fence,
                            px_store_rec_fn fn, void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_addr a;
    px_store_lookup l;
    px_err err = text_rdata(value, buf, &a, &l);
    return err ? err : px_store_find(s, &l, fence, fn, ctx);
}

px_err px_store_iter_rrset(px_store *s, const char *name, const char *rrtype,
                           const px_store_fence *fence, px_store_iter **out)
{
    if (out)
        *out = NULL;
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_store_lookup l;
    px_err err = text_rrset(name, rrtype, buf, &l);
    return err ? err : px_store_iter_find(s, &l, fence, out);
}

px_err px_store_iter_rdata(px_store *s, const char *value, const px_store_fence *fence,
                           px_store_iter **out)
{
    if (out)
        *out = NULL;
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_addr a;
    px_store_lookup l;
    px_err err = text_rdata(value, buf, &a, &l);
    return err ? err : px_store_iter_find(s, &l, fence, out);
}

px_err px_store_query_domain(px_store *s, const char *regdom, px_store_domain_fn fn, void *ctx)
{
    if (!regdom)
        return PX_ERR_INVAL;
    char buf[PX_DNS_NAME_TEXT_MAX];
    size_t n;
    px_err err = text_name(regdom, buf, &n);
    return err ? err : px_store_find_domain(s, buf, n, fn, ctx);
}
