/* px_obs.h: trust checks on a decoded observation (consumer side).
 *
 * A record that decodes is not yet a record to merge: an organisation's
 * sensor may be buggy or hostile. px_obs_check() checks every field
 * against the form the producer writes (docs/DATA-MODEL.md, "Validation"), so that
 * equal records have equal keys and nothing absurd reaches the store;
 * px_obs_trust_check() then applies the centre's own rules: the privacy
 * rules every producer applies (px_privacy.h) and a plausible range of
 * times. */
#ifndef PX_OBS_H
#define PX_OBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "obs/px_avro.h"
#include "core/px_error.h"
#include "dns/px_dns_rdata.h"
#include "obs/px_privacy.h"
#include "obs/px_psl.h"

/* Seconds time_last may lie in the future of the caller's clock. */
#define PX_OBS_MAX_FUTURE 86400
#define PX_OBS_ORG_MAX 32    /* org id: [a-z0-9][a-z0-9-]{0,31} */
#define PX_OBS_SENSOR_MAX 64 /* sensor id: 1..64 printable, no space */
#define PX_OBS_RDATA_MAX 16383

/* Bytes of wire px_obs_check() may write into its scratch: the wire of a
 * canonical rdata text of at most PX_OBS_RDATA_MAX characters is never
 * longer than the text, except for the types with fixed-size fields (A,
 * AAAA, MX, SRV, SOA), whose wire is at most 530 octets. */
#define PX_OBS_WIRE_MAX PX_OBS_RDATA_MAX

/* An observation px_obs_check() accepted, parsed once for the centre: the
 * consumer's trust check and the store take it without parsing again.
 * Every pointer points into the observation or into the caller's scratch
 * and lives as long as they do. */
typedef struct px_obs_checked {
    const px_avro_obs *obs; /* the observation (counts, times, org, sensor) */
    const char *rrname;     /* canonical name text (obs->rrname) */
    size_t rrname_len;
    uint16_t rrtype;   /* the type's number (TYPE1 and A alike) */
    const char *rdata; /* canonical rdata text of rrtype (obs->rdata) */
    size_t rdata_len;
    const uint8_t *rdata_wire; /* its canonical wire (A/AAAA: the 4/16 address bytes) */
    size_t rdata_wire_len;     /* in the caller's scratch */
    px_dns_targets targets;    /* names inside: off/len in rdata_wire, text_off/text_len in rdata */
    const char *target;        /* the reverse-index name: NS CNAME PTR DNAME name, MX
                                * exchange, SRV target; NULL for none (other types,
                                * the null MX's root) */
    size_t target_len;
    const char *bailiwick; /* canonical name text, or NULL (unknown) */
    size_t bailiwick_len;
} px_obs_checked;

/* Checks one observation and parses it once; `now` is the caller's clock
 * (UTC epoch seconds). The text fields must be exactly what the producer
 * writes, the canonical text of docs/DATA-MODEL.md: an answer the system
 * prints is an answer it accepts, and one record has one spelling (and so
 * one key).
 * - rrname: a canonical name (px_dns_name_is_canonical(): lower case, no
 *   trailing dot, "." the root, the producer's escapes and no others).
 * - bailiwick: NULL or a canonical name.
 * - rrtype: a mnemonic px_dns_type_parse() knows, spelt in uppercase, or
 *   "TYPEnnn" (0..65535, no leading zero) for any type, known ones too: a
 *   producer with an older type table writes TYPEnnn for a type this one
 *   knows, so key records by rrtype (the number).
 * - rdata: 1..PX_OBS_RDATA_MAX bytes, the canonical text of its type
 *   (px_dns_rdata_check(), for every type: "::ffff:102:304" but not
 *   "::ffff:1.2.3.4", "10 mail.example.com" but not "10 Mail.example.com.";
 *   a type without a presentation rule only as RFC 3597 "\# LEN HEX").
 * - count >= 1; 0 < time_first <= time_last <= now + PX_OBS_MAX_FUTURE;
 *   0 <= ttl_min <= ttl_max <= 2^31-1; clients -1 (null) or >= 0.
 * - org: [a-z0-9][a-z0-9-]{0,31}; sensor: 1..64 characters 0x21..0x7e
 *   (the producer's own rule).
 * scratch[0..cap) receives the wire rdata; cap must be at least
 * PX_OBS_WIRE_MAX (else PX_ERR_INVAL at once). Returns PX_OK with *out
 * filled, or PX_ERR_INVAL with a short reason in why naming the field
 * ("rdata not canonical for AAAA (canonical: ::ffff:102:304)"); why may be
 * NULL. */
px_err px_obs_check(const px_avro_obs *o, int64_t now, px_obs_checked *out, uint8_t *scratch,
                    size_t cap, char *why, size_t whylen);

/* What the centre accepts of a valid observation (the consumer's trust.*
 * settings). */
typedef struct px_obs_trust {
    const px_privacy *privacy; /* types, names, zones, addresses */
    /* NULL, or the caller's registered-domain cache: only a name that is
     * its own registered domain can be a public suffix, and the cache
     * answers that for a fraction of libpsl's cost. Not thread-safe. */
    px_psl_cache *psl;
    int64_t time_floor;  /* no time_first before this (UTC epoch seconds) */
    int64_t future_skew; /* seconds time_last may lie after the message was written */
} px_obs_trust;

/* Which check refused an observation (metric labels: px_obs_rule_name). */
typedef enum px_obs_rule {
    PX_OBS_TRUSTED = 0,
    PX_OBS_FORM,          /* px_obs_check() refused it */
    PX_OBS_RRTYPE,        /* type not accepted */
    PX_OBS_PRIVATE_ADDR,  /* special-purpose address */
    PX_OBS_LOCAL_NAME,    /* name under a local zone */
    PX_OBS_LOCAL_RDATA,   /* rdata names something under a local zone */
    PX_OBS_SINGLE_LABEL,  /* single-label name, or rdata naming one */
    PX_OBS_PUBLIC_SUFFIX, /* the root or a bare public suffix */
    PX_OBS_BAILIWICK,     /* the name is not inside its bailiwick */
    PX_OBS_TIME_FLOOR,    /* time_first before trust.time_floor */
    PX_OBS_TIME_FUTURE,   /* time_last too far after the message was written */
    PX_OBS__RULES
} px_obs_rule;

/* "form", "rrtype", "private_addr", ... ("trusted" for PX_OBS_TRUSTED). */
const char *px_obs_rule_name(px_obs_rule rule);

/* Checks an observation px_obs_check() accepted against the centre's
 * rules, in this order: the type is in the privacy set; the owner name is
 * no single label and not under a local zone; it is not the root or a
 * bare public suffix; it lies inside its bailiwick (where there is one:
 * the producer drops the rest, and a bailiwick is returned by queries, so
 * it could carry a local name); an A/AAAA address is not special-purpose
 * (unless allowed); no name in the rdata (NS, CNAME, PTR, DNAME, MX, SRV,
 * SOA: c->targets) is under a local zone or a single label;
 * time_first >= time_floor; time_last <= written + future_skew. `written`:
 * when the message was written to Kafka (its timestamp; the caller bounds
 * it by its own clock, so that a producer's clock cannot move the fence).
 * A producer publishes a window after it closes, so its records'
 * time_last lies before that; the skew absorbs clock differences between
 * resolver, producer and broker. Returns PX_OBS_TRUSTED, or the rule with
 * a short reason in why ("private address 10.0.0.1"; why may be NULL). */
px_obs_rule px_obs_trust_check(const px_obs_trust *t, const px_obs_checked *c, int64_t written,
                               char *why, size_t whylen);

/* True if `org` matches [a-z0-9][a-z0-9-]{0,31}. */
bool px_obs_org_valid(const char *org);
/* True if `sensor` is 1..PX_OBS_SENSOR_MAX characters 0x21..0x7e. */
bool px_obs_sensor_valid(const char *sensor);
/* The same two rules as settings checks (px_conf_item.check): false with
 * the rule in why, so that a producer refuses at --check the org or sensor
 * the centre would refuse in every message. */
bool px_obs_conf_check_org(const char *value, char *why, size_t whylen);
bool px_obs_conf_check_sensor(const char *value, char *why, size_t whylen);

/* The org of a topic "pdnsx.obs.<org>" into org (len >= PX_OBS_ORG_MAX + 1
 * suffices). False if the topic has another form, the org is not valid, or
 * it does not fit. */
bool px_obs_org_from_topic(const char *topic, char *org, size_t len);

#endif
