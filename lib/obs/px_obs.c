/* px_obs.c: validation of decoded observations. The text rules are the
 * producer's own (lib/dns: the one name and rdata formatter), so anything
 * else came from a broken or hostile sensor. */
#include "obs/px_obs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dns/px_dns_name.h"
#include "dns/px_dns_rdata.h"
#include "dns/px_dns_type.h"

#define TTL_MAX INT64_C(2147483647)

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

bool px_obs_org_valid(const char *org)
{
    if (!org)
        return false;
    size_t n = strlen(org);
    if (n < 1 || n > PX_OBS_ORG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = org[i];
        bool alnum = (ch >= 'a' && ch <= 'z') || is_digit(ch);
        if (!alnum && (i == 0 || ch != '-'))
            return false;
    }
    return true;
}

bool px_obs_org_from_topic(const char *topic, char *org, size_t len)
{
    static const char prefix[] = "pdnsx.obs.";
    if (!topic || !org || strncmp(topic, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *o = topic + sizeof(prefix) - 1;
    size_t n = strlen(o);
    if (!px_obs_org_valid(o) || n >= len)
        return false;
    memcpy(org, o, n + 1);
    return true;
}

bool px_obs_sensor_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > PX_OBS_SENSOR_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] >= 0x7f)
            return false;
    return true;
}

bool px_obs_conf_check_org(const char *value, char *why, size_t whylen)
{
    if (px_obs_org_valid(value))
        return true;
    if (why && whylen)
        snprintf(why, whylen, "must match [a-z0-9][a-z0-9-]{0,31}");
    return false;
}

bool px_obs_conf_check_sensor(const char *value, char *why, size_t whylen)
{
    if (px_obs_sensor_valid(value))
        return true;
    if (why && whylen)
        snprintf(why, whylen, "must be 1 to 64 printable characters without spaces");
    return false;
}

/* The type's value if t is a mnemonic spelt exactly as px_dns_type_name()
 * spells it, or "TYPEnnn" (no leading zero) for any type: an older
 * producer's table may lack a newer mnemonic, so the consumer keys records
 * by px_dns_type_name(value) rather than by the text. -1 if neither. */
static int rrtype_value(const char *t)
{
    int v = t ? px_dns_type_parse(t) : -1;
    if (v < 0)
        return -1;
    if (strncmp(t, "TYPE", 4) == 0 && is_digit(t[4]))
        return (t[4] != '0' || t[5] == '\0') ? v : -1;
    char buf[16];
    return strcmp(px_dns_type_name((uint16_t)v, buf, sizeof(buf)), t) == 0 ? v : -1;
}

static px_err check_numbers(const px_avro_obs *o, int64_t now, char *why, size_t whylen)
{
    if (o->count < 1)
        return px_errf(why, whylen, PX_ERR_INVAL, "count %lld below 1", (long long)o->count);
    if (o->time_first <= 0 || o->time_first > o->time_last)
        return px_errf(why, whylen, PX_ERR_INVAL, "time_first %lld not in 1..time_last %lld",
                       (long long)o->time_first, (long long)o->time_last);
    if (o->time_last > now && o->time_last - now > PX_OBS_MAX_FUTURE)
        return px_errf(why, whylen, PX_ERR_INVAL, "time_last %lld more than a day in the future",
                       (long long)o->time_last);
    if (o->ttl_min < 0 || o->ttl_min > o->ttl_max || o->ttl_max > TTL_MAX)
        return px_errf(why, whylen, PX_ERR_INVAL,
                       "ttl_min %lld, ttl_max %lld not 0 <= min <= max <= 2^31-1",
                       (long long)o->ttl_min, (long long)o->ttl_max);
    if (o->clients < -1)
        return px_errf(why, whylen, PX_ERR_INVAL, "clients %lld negative", (long long)o->clients);
    return PX_OK;
}

/* Why a name field is refused: its canonical spelling where it has one
 * (the reason goes to logs: the canonical text is printable, the sensor's
 * need not be). */
static px_err name_refused(const char *field, const char *name, char *why, size_t whylen)
{
    char canon[PX_DNS_NAME_TEXT_MAX];
    px_err e = PX_ERR_INVAL;
    if (name)
        e = px_dns_name_canon(name, strlen(name), canon, sizeof(canon), NULL);
    if (e == PX_OK)
        return px_errf(why, whylen, PX_ERR_INVAL, "%s not canonical (canonical: %.80s)", field,
                       canon);
    return px_errf(why, whylen, PX_ERR_INVAL, "%s not a domain name (%s)", field, px_strerror(e));
}

/* Parses rdata once (px_dns_rdata_check) into c; the reason names the
 * type and, for a spelling that parses, the canonical text. */
static px_err check_rdata(const px_avro_obs *o, int type, px_obs_checked *c, uint8_t *scratch,
                          size_t cap, char *why, size_t whylen)
{
    size_t n = o->rdata ? strlen(o->rdata) : 0;
    if (n < 1 || n > PX_OBS_RDATA_MAX)
        return px_errf(why, whylen, PX_ERR_INVAL, "rdata empty or longer than %d bytes",
                       PX_OBS_RDATA_MAX);
    px_err e = px_dns_rdata_check((uint16_t)type, o->rdata, n, scratch, cap, &c->rdata_wire_len,
                                  &c->targets);
    if (e == PX_ERR_INVAL) {
        char canon[80];
        if (px_dns_rdata_canon((uint16_t)type, o->rdata, n, canon, sizeof(canon), NULL) == PX_OK)
            return px_errf(why, whylen, PX_ERR_INVAL, "rdata not canonical for %s (canonical: %s)",
                           o->rrtype, canon);
        return px_errf(why, whylen, PX_ERR_INVAL, "rdata not canonical for %s", o->rrtype);
    }
    if (e != PX_OK)
        return px_errf(why, whylen, PX_ERR_INVAL, "rdata not a valid %s (%s)", o->rrtype,
                       px_strerror(e));
    c->rrtype = (uint16_t)type;
    c->rdata = o->rdata;
    c->rdata_len = n;
    c->rdata_wire = scratch;
    return PX_OK;
}

/* The reverse-index name: the one target of the types that name a host
 * (SOA's two are not indexed), not the root (a null MX names nothing). */
static void set_target(px_obs_checked *c)
{
    uint16_t t = c->rrtype;
    bool named = t == PX_DNS_TYPE_NS || t == PX_DNS_TYPE_CNAME || t == PX_DNS_TYPE_PTR ||
                 t == PX_DNS_TYPE_DNAME || t == PX_DNS_TYPE_MX || t == PX_DNS_TYPE_SRV;
    c->target = NULL;
    c->target_len = 0;
    if (!named || c->targets.n != 1)
        return;
    const char *name = c->rdata + c->targets.text_off[0];
    size_t len = c->targets.text_len[0];
    if (len == 1 && name[0] == '.')
        return;
    c->target = name;
    c->target_len = len;
}

/* The text fields up to rdata, parsed into c. */
static px_err check_text(const px_avro_obs *o, px_obs_checked *c, uint8_t *scratch, size_t cap,
                         char *why, size_t whylen)
{
    size_t n = o->rrname ? strlen(o->rrname) : 0;
    if (!o->rrname || !px_dns_name_is_canonical(o->rrname, n))
        return name_refused("rrname", o->rrname, why, whylen);
    c->obs = o;
    c->rrname = o->rrname;
    c->rrname_len = n;
    int type = rrtype_value(o->rrtype);
    if (type < 0)
        return px_errf(why, whylen, PX_ERR_INVAL, "rrtype not a known mnemonic or TYPEnnn");
    px_err e = check_rdata(o, type, c, scratch, cap, why, whylen);
    if (e != PX_OK)
        return e;
    set_target(c);
    c->bailiwick = o->bailiwick;
    c->bailiwick_len = o->bailiwick ? strlen(o->bailiwick) : 0;
    if (o->bailiwick && !px_dns_name_is_canonical(o->bailiwick, c->bailiwick_len))
        return name_refused("bailiwick", o->bailiwick, why, whylen);
    return PX_OK;
}

px_err px_obs_check(const px_avro_obs *o, int64_t now, px_obs_checked *out, uint8_t *scratch,
                    size_t cap, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!o)
        return px_errf(why, whylen, PX_ERR_INVAL, "no observation");
    if (!out || !scratch || cap < PX_OBS_WIRE_MAX)
        return px_errf(why, whylen, PX_ERR_INVAL, "no room for the parse");
    px_obs_checked c = {0};
    px_err e = check_text(o, &c, scratch, cap, why, whylen);
    if (e != PX_OK)
        return e;
    if (!px_obs_org_valid(o->org))
        return px_errf(why, whylen, PX_ERR_INVAL, "org does not match [a-z0-9][a-z0-9-]{0,31}");
    if (!px_obs_sensor_valid(o->sensor))
        return px_errf(why, whylen, PX_ERR_INVAL, "sensor not 1 to 64 printable characters");
    e = check_numbers(o, now, why, whylen);
    if (e == PX_OK)
        *out = c;
    return e;
}

/* ---- the centre's rules ---- */

static const char *const rule_names[PX_OBS__RULES] = {
    [PX_OBS_TRUSTED] = "trusted",
    [PX_OBS_FORM] = "form",
    [PX_OBS_RRTYPE] = "rrtype",
    [PX_OBS_PRIVATE_ADDR] = "private_addr",
    [PX_OBS_LOCAL_NAME] = "local_name",
    [PX_OBS_LOCAL_RDATA] = "local_rdata",
    [PX_OBS_SINGLE_LABEL] = "single_label",
    [PX_OBS_PUBLIC_SUFFIX] = "public_suffix",
    [PX_OBS_BAILIWICK] = "bailiwick",
    [PX_OBS_TIME_FLOOR] = "time_floor",
    [PX_OBS_TIME_FUTURE] = "time_future",
};

const char *px_obs_rule_name(px_obs_rule rule)
{
    if ((unsigned)rule >= PX_OBS__RULES)
        return "unknown";
    return rule_names[rule];
}

static px_obs_rule refuse(px_obs_rule rule, char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    px_whyv(why, whylen, fmt, ap);
    va_end(ap);
    return rule;
}

/* The root or a bare public suffix: through the cache where there is one
 * (a name whose registered domain is shorter is neither). */
static bool public_suffix(const px_obs_trust *t, const char *name, size_t len)
{
    const char *reg;
    size_t reg_len;
    if (t->psl && px_psl_cache_lookup(t->psl, name, len, &reg, &reg_len) == PX_OK && reg_len < len)
        return false;
    return px_privacy_public_suffix(name, len);
}

/* The privacy rules on the name and the rdata (parsed: no text read twice). */
static px_obs_rule check_privacy(const px_obs_trust *t, const px_obs_checked *c, char *why,
                                 size_t whylen)
{
    const px_privacy *p = t->privacy;
    if (!px_privacy_type_allowed(p, c->rrtype))
        return refuse(PX_OBS_RRTYPE, why, whylen, "rrtype %s not accepted", c->obs->rrtype);
    px_privacy_rule r = px_privacy_owner(p, c->rrname, c->rrname_len);
    if (r == PX_PRIVACY_SINGLE_LABEL)
        return refuse(PX_OBS_SINGLE_LABEL, why, whylen, "single-label name");
    if (r != PX_PRIVACY_PASS)
        return refuse(PX_OBS_LOCAL_NAME, why, whylen, "name under a local zone");
    if (public_suffix(t, c->rrname, c->rrname_len))
        return refuse(PX_OBS_PUBLIC_SUFFIX, why, whylen,
                      c->rrname_len == 1 ? "name is the root" : "name is a public suffix");
    if (c->bailiwick &&
        !px_dns_name_in_zone(c->rrname, c->rrname_len, c->bailiwick, c->bailiwick_len))
        return refuse(PX_OBS_BAILIWICK, why, whylen, "name outside its bailiwick");
    r = px_privacy_rdata(p, c->rrtype, c->rdata_wire, c->rdata_wire_len, c->rdata, &c->targets);
    if (r == PX_PRIVACY_PRIVATE_ADDR)
        return refuse(PX_OBS_PRIVATE_ADDR, why, whylen, "private address %s", c->rdata);
    if (r == PX_PRIVACY_LOCAL_RDATA)
        return refuse(PX_OBS_LOCAL_RDATA, why, whylen, "rdata names a host under a local zone");
    if (r != PX_PRIVACY_PASS)
        return refuse(PX_OBS_SINGLE_LABEL, why, whylen, "rdata names a single label");
    return PX_OBS_TRUSTED;
}

px_obs_rule px_obs_trust_check(const px_obs_trust *t, const px_obs_checked *c, int64_t written,
                               char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    px_obs_rule r = check_privacy(t, c, why, whylen);
    if (r != PX_OBS_TRUSTED)
        return r;
    const px_avro_obs *o = c->obs;
    if (o->time_first < t->time_floor)
        return refuse(PX_OBS_TIME_FLOOR, why, whylen, "time_first %lld before the floor %lld",
                      (long long)o->time_first, (long long)t->time_floor);
    if (o->time_last > written && o->time_last - written > t->future_skew)
        return refuse(PX_OBS_TIME_FUTURE, why, whylen,
                      "time_last %lld more than %lld s after the message was written (%lld)",
                      (long long)o->time_last, (long long)t->future_skew, (long long)written);
    return PX_OBS_TRUSTED;
}
