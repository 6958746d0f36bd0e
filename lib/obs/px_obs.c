/* px_obs.c: validation of decoded observations. The rules mirror what the
 * producer writes (lib/dns/px_dns_msg.c), so anything else came from a broken
 * or hostile sensor. */
#include "obs/px_obs.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dns/px_addr.h"
#include "dns/px_dns_type.h"

#define NAME_WIRE_MAX 255
#define LABEL_MAX 63
#define TTL_MAX INT64_C(2147483647)

/* How the producer writes one name octet (mirrors its name_map): 'p' as
 * itself, 'x' as backslash + itself, 'd' as \DDD, 'u' never (uppercase is
 * folded before it is written). */
static char octet_form(unsigned b)
{
    /* nearly every octet: no table walk (this runs for each name byte) */
    if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '_')
        return 'p';
    if (b == '.' || b == '\\')
        return 'x';
    if (b >= 'A' && b <= 'Z')
        return 'u';
    if (b <= 0x20 || b >= 0x7f)
        return 'd';
    switch (b) {
    case '"':
    case '$':
    case '(':
    case ')':
    case ';':
    case '@':
        return 'd';
    default:
        return 'p';
    }
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Reads one octet of a label at *s; returns 0 if it is not written the way
 * the producer writes it. */
static int name_octet(const char **s)
{
    const char *p = *s;
    if (*p != '\\') {
        *s = p + 1;
        return octet_form((unsigned char)*p) == 'p';
    }
    if (is_digit(p[1])) {
        if (!is_digit(p[2]) || !is_digit(p[3]))
            return 0;
        unsigned v = (unsigned)((p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0'));
        *s = p + 4;
        return v <= 255 && octet_form(v) == 'd';
    }
    *s = p + 2;
    return p[1] != '\0' && octet_form((unsigned char)p[1]) == 'x';
}

bool px_obs_name_valid(const char *name)
{
    if (!name || *name == '\0')
        return false;
    if (strcmp(name, ".") == 0)
        return true;
    size_t wire = 1; /* the root label */
    const char *s = name;
    for (;;) {
        size_t label = 0;
        while (*s != '\0' && *s != '.') {
            if (!name_octet(&s))
                return false;
            label++;
        }
        if (label == 0 || label > LABEL_MAX)
            return false; /* empty label: leading, trailing or double dot */
        wire += label + 1;
        if (wire > NAME_WIRE_MAX)
            return false;
        if (*s == '\0')
            return true;
        s++; /* the dot */
    }
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

/* Appends v in lowercase hexadecimal without leading zeros. */
static char *put_hex(char *out, unsigned v)
{
    static const char digits[] = "0123456789abcdef";
    int shift = 12;
    while (shift > 0 && (v >> shift) == 0)
        shift -= 4;
    for (; shift >= 0; shift -= 4)
        *out++ = digits[(v >> shift) & 15];
    return out;
}

/* Appends v in decimal without leading zeros. */
static char *put_dec(char *out, unsigned v)
{
    if (v >= 100)
        *out++ = (char)('0' + v / 100);
    if (v >= 10)
        *out++ = (char)('0' + v / 10 % 10);
    *out++ = (char)('0' + v % 10);
    return out;
}

/* RFC 5952 text with hexadecimal groups only, as the producer writes it
 * (no dotted-quad tail for mapped addresses, unlike inet_ntop). Written by
 * hand: this runs for every AAAA observation. */
static void format_ipv6(const uint8_t *a, char *out)
{
    unsigned g[8];
    int best = -1, best_len = 1;
    for (int i = 0; i < 8; i++)
        g[i] = (unsigned)(a[2 * i] << 8 | a[2 * i + 1]);
    for (int i = 0, run = 0; i < 8; i++) {
        run = g[i] ? 0 : run + 1;
        if (run > best_len) {
            best_len = run;
            best = i - run + 1;
        }
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *out++ = ':';
            *out++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i && i != best + best_len)
            *out++ = ':';
        out = put_hex(out, g[i]);
    }
    *out = '\0';
}

/* Canonical dotted quad, as the producer writes it. */
static void format_ipv4(const uint8_t *a, char *out)
{
    for (int i = 0; i < 4; i++) {
        if (i)
            *out++ = '.';
        out = put_dec(out, a[i]);
    }
    *out = '\0';
}

static bool addr_valid(const char *rdata, int family)
{
    px_addr a;
    char text[48];
    if (px_addr_parse(rdata, &a) != PX_OK || a.family != family)
        return false;
    if (family == 4)
        format_ipv4(a.bytes, text);
    else
        format_ipv6(a.bytes, text);
    return strcmp(text, rdata) == 0;
}

static bool rdata_valid(int type, const char *rdata)
{
    size_t n = rdata ? strlen(rdata) : 0;
    if (n < 1 || n > PX_OBS_RDATA_MAX)
        return false;
    if (type == 1) /* A */
        return addr_valid(rdata, 4);
    if (type == 28) /* AAAA */
        return addr_valid(rdata, 6);
    return true;
}

static px_err invalid(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return PX_ERR_INVAL;
}

static px_err check_numbers(const px_avro_obs *o, int64_t now, char *why, size_t whylen)
{
    if (o->count < 1)
        return invalid(why, whylen, "count %lld below 1", (long long)o->count);
    if (o->time_first <= 0 || o->time_first > o->time_last)
        return invalid(why, whylen, "time_first %lld not in 1..time_last %lld",
                       (long long)o->time_first, (long long)o->time_last);
    if (o->time_last > now && o->time_last - now > PX_OBS_MAX_FUTURE)
        return invalid(why, whylen, "time_last %lld more than a day in the future",
                       (long long)o->time_last);
    if (o->ttl_min < 0 || o->ttl_min > o->ttl_max || o->ttl_max > TTL_MAX)
        return invalid(why, whylen, "ttl_min %lld, ttl_max %lld not 0 <= min <= max <= 2^31-1",
                       (long long)o->ttl_min, (long long)o->ttl_max);
    if (o->clients < -1)
        return invalid(why, whylen, "clients %lld negative", (long long)o->clients);
    return PX_OK;
}

px_err px_obs_validate(const px_avro_obs *o, int64_t now, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!o)
        return invalid(why, whylen, "no observation");
    if (!px_obs_name_valid(o->rrname))
        return invalid(why, whylen, "rrname not a lowercase presentation name");
    int type = rrtype_value(o->rrtype);
    if (type < 0)
        return invalid(why, whylen, "rrtype not a known mnemonic or TYPEnnn");
    if (!rdata_valid(type, o->rdata))
        return invalid(why, whylen, "rdata empty, too long or not a canonical %s address",
                       o->rrtype);
    if (o->bailiwick && !px_obs_name_valid(o->bailiwick))
        return invalid(why, whylen, "bailiwick not a lowercase presentation name");
    if (!px_obs_org_valid(o->org))
        return invalid(why, whylen, "org does not match [a-z0-9][a-z0-9-]{0,31}");
    if (!px_obs_sensor_valid(o->sensor))
        return invalid(why, whylen, "sensor not 1 to 64 printable characters");
    return check_numbers(o, now, why, whylen);
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
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
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

/* The privacy rules on the name and the rdata. */
static px_obs_rule check_privacy(const px_obs_trust *t, const px_avro_obs *o, int type, char *why,
                                 size_t whylen)
{
    const px_privacy *p = t->privacy;
    if (!px_privacy_type_allowed(p, (uint16_t)type))
        return refuse(PX_OBS_RRTYPE, why, whylen, "rrtype %s not accepted", o->rrtype);
    size_t len = strlen(o->rrname);
    px_privacy_rule r = px_privacy_owner(p, o->rrname, len);
    if (r == PX_PRIVACY_SINGLE_LABEL)
        return refuse(PX_OBS_SINGLE_LABEL, why, whylen, "single-label name");
    if (r != PX_PRIVACY_PASS)
        return refuse(PX_OBS_LOCAL_NAME, why, whylen, "name under a local zone");
    if (public_suffix(t, o->rrname, len))
        return refuse(PX_OBS_PUBLIC_SUFFIX, why, whylen,
                      len == 1 ? "name is the root" : "name is a public suffix");
    if (o->bailiwick && !px_privacy_in_zone(o->rrname, len, o->bailiwick, strlen(o->bailiwick)))
        return refuse(PX_OBS_BAILIWICK, why, whylen, "name outside its bailiwick");
    r = px_privacy_rdata(p, (uint16_t)type, o->rdata);
    if (r == PX_PRIVACY_PRIVATE_ADDR)
        return refuse(PX_OBS_PRIVATE_ADDR, why, whylen, "private address %s", o->rdata);
    if (r == PX_PRIVACY_LOCAL_RDATA)
        return refuse(PX_OBS_LOCAL_RDATA, why, whylen, "rdata names a host under a local zone");
    if (r != PX_PRIVACY_PASS)
        return refuse(PX_OBS_SINGLE_LABEL, why, whylen, "rdata names a single label");
    return PX_OBS_TRUSTED;
}

px_obs_rule px_obs_trust_check(const px_obs_trust *t, const px_avro_obs *o, int64_t written,
                               char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    int type = rrtype_value(o->rrtype);
    if (type < 0 || !o->rrname || !o->rdata)
        return refuse(PX_OBS_FORM, why, whylen, "not a valid observation");
    px_obs_rule r = check_privacy(t, o, type, why, whylen);
    if (r != PX_OBS_TRUSTED)
        return r;
    if (o->time_first < t->time_floor)
        return refuse(PX_OBS_TIME_FLOOR, why, whylen, "time_first %lld before the floor %lld",
                      (long long)o->time_first, (long long)t->time_floor);
    if (o->time_last > written && o->time_last - written > t->future_skew)
        return refuse(PX_OBS_TIME_FUTURE, why, whylen,
                      "time_last %lld more than %lld s after the message was written (%lld)",
                      (long long)o->time_last, (long long)t->future_skew, (long long)written);
    return PX_OBS_TRUSTED;
}
