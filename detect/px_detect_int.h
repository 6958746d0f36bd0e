/* px_detect_int.h: the detector's state as it is kept through
 * px_change_txn (docs/DETECTION.md, "State"), and what the parts of
 * detect/ share. Private to detect/ (and its tests and fuzzers).
 *
 * Keys: the registered domain, a 0 octet, a rule octet, the subject
 *   meta   ""      0 'm'            (the event-time watermark and epoch)
 *   burst  domain  0 'b'            (a new domain's sightings)
 *   geo    domain  0 'g' rrname     (a name's A/AAAA history)
 * so that the state of a domain sits with it and moves with its Kafka
 * partition. Values: a version octet, then LEB128 varints (times
 * zigzag), strings as a length and their octets. */
#ifndef PX_DETECT_INT_H
#define PX_DETECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_buf.h"
#include "core/px_error.h"
#include "obs/px_obs.h"

#define PXD_VERSION 1

#define PXD_RULE_META 'm'
#define PXD_RULE_BURST 'b'
#define PXD_RULE_GEO 'g'

#define PXD_NAME_MAX 253  /* a name in presentation form */
#define PXD_RDATA_MAX 255 /* an answer as evidence (cut at a byte past it) */

/* Bounds of one value (each list keeps its first entries). */
#define PXD_ORGS_MAX 64      /* organisations of a new domain */
#define PXD_NAMES_MAX 8      /* names of a new domain (evidence) */
#define PXD_ANSWERS_MAX 8    /* answers of a new domain (evidence) */
#define PXD_COUNTRIES_MAX 32 /* countries of a name's history */
#define PXD_ASNS_MAX 32      /* ASNs of a name's history */
#define PXD_PENDING_MAX 4    /* new answers of a name waiting for more organisations */

typedef struct pxd_meta {
    bool has_epoch;
    int64_t epoch;     /* the least first sighting of any domain seen */
    int64_t watermark; /* the greatest last sighting seen */
} pxd_meta;

typedef struct pxd_org {
    char name[PX_OBS_ORG_MAX + 1];
    int64_t first, last; /* the hull of its sightings */
} pxd_org;

typedef struct pxd_answer {
    uint16_t type;
    char rdata[PXD_RDATA_MAX + 1];
    char country[3]; /* "" unknown */
    int64_t asn;     /* -1 unknown */
} pxd_answer;

typedef struct pxd_burst {
    bool fired;
    uint64_t n_alerts;
    int64_t last_alert;
    int64_t first_seen;
    size_t n_orgs;
    pxd_org orgs[PXD_ORGS_MAX];
    size_t n_names;
    char names[PXD_NAMES_MAX][PXD_NAME_MAX + 1];
    size_t n_answers;
    pxd_answer answers[PXD_ANSWERS_MAX];
    bool has_ttl;
    uint32_t ttl_min, ttl_max;
} pxd_burst;

typedef struct pxd_pending {
    char rdata[PXD_RDATA_MAX + 1];
    char country[3];
    int64_t asn;
    int64_t first;
} pxd_pending;

typedef struct pxd_geo {
    int64_t first; /* the name's history starts (its first answer) */
    uint64_t n_alerts;
    int64_t last_alert;
    size_t n_countries;
    char countries[PXD_COUNTRIES_MAX][3];
    size_t n_asns;
    int64_t asns[PXD_ASNS_MAX];
    size_t n_pending;
    pxd_pending pending[PXD_PENDING_MAX];
} pxd_geo;

/* Encoders append to b (cleared first). Decoders: PX_ERR_DAMAGED for a
 * value that is not one they wrote (other version, cut, trailing bytes,
 * a list or string past its bound). */
px_err pxd_meta_encode(const pxd_meta *m, px_buf *b);
px_err pxd_meta_decode(const uint8_t *v, size_t n, pxd_meta *m);
px_err pxd_burst_encode(const pxd_burst *s, px_buf *b);
px_err pxd_burst_decode(const uint8_t *v, size_t n, pxd_burst *s);
px_err pxd_geo_encode(const pxd_geo *s, px_buf *b);
px_err pxd_geo_decode(const uint8_t *v, size_t n, pxd_geo *s);

/* The key domain 0 rule subject into b (cleared first). */
px_err pxd_key(px_buf *b, const char *dom, size_t dlen, char rule, const char *subj, size_t slen);

/* Copies at most cap - 1 octets of s[0..n) and a NUL. */
void pxd_copy(char *dst, size_t cap, const char *s, size_t n);

#endif
