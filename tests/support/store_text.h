/* store_text.h: observations and lookups that tests write as text, put
 * into the store's canonical input through lib/dns, as the consumer
 * (px_obs_check) and pdnsx-query do before they call the store: names
 * through px_dns_name_canon (any spelling: case, one trailing dot,
 * \DDD escapes), types through px_dns_type_parse, A/AAAA rdata and
 * looked-up addresses through px_addr_parse. Header only, for the tests
 * that link pdnsx_store (pdnsx_test_support does not). */
#ifndef PXT_STORE_TEXT_H
#define PXT_STORE_TEXT_H

#include <stdbool.h>
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_name.h"
#include "dns/px_dns_type.h"
#include "obs/px_avro.h"
#include "store/px_store.h"

/* A name in any spelling -> its canonical text in out
 * (PX_DNS_NAME_TEXT_MAX). PX_ERR_INVAL for a name the parser refuses,
 * _TOOLONG for one past 255 octets. */
static inline px_err pxt_store_name(const char *in, char *out, size_t *len)
{
    px_err err = px_dns_name_canon(in, strlen(in), out, PX_DNS_NAME_TEXT_MAX, len);
    if (err == PX_ERR_TOOLONG)
        return err;
    return err ? PX_ERR_INVAL : PX_OK;
}

/* An observation and the canonical text it points into. */
typedef struct pxt_store_obs {
    char name[PX_DNS_NAME_TEXT_MAX], bw[PX_DNS_NAME_TEXT_MAX], dom[PX_DNS_NAME_TEXT_MAX];
    px_addr addr;
    px_store_obs o;
} pxt_store_obs;

/* obs with regdom (NULL: none) as the store takes it. A/AAAA rdata that
 * is no address of its family: PX_ERR_MALFORMED; a bailiwick that is no
 * name is left out (unknown); other rdata is passed as written. */
static inline px_err pxt_store_obs_fill(const px_avro_obs *obs, const char *regdom,
                                        pxt_store_obs *t)
{
    if (!obs->rrname || !obs->rrtype || !obs->rdata || !obs->org || obs->count < 0)
        return PX_ERR_INVAL;
    px_store_obs *o = &t->o;
    *o = (px_store_obs){.org = obs->org,
                        .count = (uint64_t)obs->count,
                        .time_first = obs->time_first,
                        .time_last = obs->time_last,
                        .rrname = t->name};
    px_err err = pxt_store_name(obs->rrname, t->name, &o->rrname_len);
    int type = px_dns_type_parse(obs->rrtype);
    if (err || type < 0)
        return err ? err : PX_ERR_INVAL;
    o->rrtype = (uint16_t)type;
    if (obs->bailiwick && pxt_store_name(obs->bailiwick, t->bw, &o->bailiwick_len) == PX_OK)
        o->bailiwick = t->bw;
    if (type == 1 || type == 28) {
        if (px_addr_parse(obs->rdata, &t->addr) != PX_OK || t->addr.family != (type == 1 ? 4 : 6))
            return PX_ERR_MALFORMED;
        o->rdata_wire = t->addr.bytes;
        o->rdata_wire_len = type == 1 ? 4 : 16;
    } else {
        o->rdata = obs->rdata;
        o->rdata_len = strlen(obs->rdata);
    }
    if (regdom) {
        err = pxt_store_name(regdom, t->dom, &o->regdom_len);
        if (err)
            return err;
        o->regdom = t->dom;
    }
    return PX_OK;
}

/* px_store_merge() of obs in its canonical form. */
static inline px_err pxt_store_merge(px_store_batch *b, const px_avro_obs *obs, const char *regdom)
{
    pxt_store_obs t;
    px_err err = pxt_store_obs_fill(obs, regdom, &t);
    return err ? err : px_store_merge(b, &t.o);
}

/* The lookup of a name as pdnsx-query takes it: "*", "*." and "*.zone"
 * ask for the names below zone, anything else for one name; rrtype a
 * type name or "TYPEn", NULL for every type. buf: PX_DNS_NAME_TEXT_MAX. */
static inline px_err pxt_store_rrset(const char *name, const char *rrtype, char *buf,
                                     px_store_lookup *l)
{
    int type = rrtype ? px_dns_type_parse(rrtype) : PX_STORE_ANY_TYPE;
    if (!name || (rrtype && type < 0))
        return PX_ERR_INVAL;
    bool below = name[0] == '*' && (name[1] == '.' || name[1] == 0);
    const char *rest = below ? name + (name[1] ? 2 : 1) : name;
    *l = (px_store_lookup){
        .by = below ? PX_STORE_BY_ZONE : PX_STORE_BY_NAME, .rrtype = type, .name = buf};
    return pxt_store_name(below && !*rest ? "." : rest, buf, &l->name_len);
}

/* The lookup of an rdata value: an address in any spelling, else a
 * target name. */
static inline px_err pxt_store_rdata(const char *value, char *buf, px_addr *a, px_store_lookup *l)
{
    if (!value || !*value)
        return PX_ERR_INVAL;
    if (px_addr_parse(value, a) == PX_OK && (a->family == 4 || a->family == 6)) {
        *l = (px_store_lookup){
            .by = PX_STORE_BY_ADDR, .addr = a->bytes, .addr_len = a->family == 4 ? 4 : 16};
        return PX_OK;
    }
    *l = (px_store_lookup){.by = PX_STORE_BY_TARGET, .name = buf};
    return pxt_store_name(value, buf, &l->name_len);
}

/* px_store_find() of pxt_store_rrset() / pxt_store_rdata(). */
static inline px_err pxt_store_find_rrset(px_store *s, const char *name, const char *rrtype,
                                          const px_store_fence *fence, px_store_rec_fn fn,
                                          void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_store_lookup l;
    px_err err = pxt_store_rrset(name, rrtype, buf, &l);
    return err ? err : px_store_find(s, &l, fence, fn, ctx);
}

static inline px_err pxt_store_find_rdata(px_store *s, const char *value,
                                          const px_store_fence *fence, px_store_rec_fn fn,
                                          void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    px_addr a;
    px_store_lookup l;
    px_err err = pxt_store_rdata(value, buf, &a, &l);
    return err ? err : px_store_find(s, &l, fence, fn, ctx);
}

/* px_store_find_domain() of a registered domain in any spelling. */
static inline px_err pxt_store_find_domain(px_store *s, const char *regdom, px_store_domain_fn fn,
                                           void *ctx)
{
    char buf[PX_DNS_NAME_TEXT_MAX];
    size_t n;
    px_err err = regdom ? pxt_store_name(regdom, buf, &n) : PX_ERR_INVAL;
    return err ? err : px_store_find_domain(s, buf, n, fn, ctx);
}

#endif
