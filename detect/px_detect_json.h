/* px_detect_json.h: the alert JSON (docs/INTERFACE.md "Alert JSON", ECS names,
 * evidence under "pdnsx"), built with jansson and cut to
 * PX_ALERT_JSON_MAX by dropping evidence. Private to detect/. */
#ifndef PX_DETECT_JSON_H
#define PX_DETECT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "obs/px_alert.h"
#include "detect/px_lookalike.h"
#include "px_detect_int.h"

/* What both alerts carry. */
typedef struct pxd_alert_head {
    const char *rule;
    const char *id; /* event.id */
    int64_t time;   /* @timestamp */
    unsigned severity;
    const char *name;   /* dns.question.name */
    const char *domain; /* dns.question.registered_domain */
    int64_t first_seen; /* threat.indicator.first_seen */
    uint64_t sightings;
} pxd_alert_head;

/* Evidence of a burst: the organisations in the window (idx into
 * s->orgs), the names, answers, countries, ASNs and TTLs of s; hit may be
 * NULL (no likeness). */
typedef struct pxd_burst_ev {
    const pxd_burst *s;
    const size_t *in_window;
    size_t n_in_window;
    const px_lookalike_hit *hit;
} pxd_burst_ev;

/* Evidence of a geo shift: the history before (s, before it took the
 * new answer), the new answer, its organisations, when first seen. */
typedef struct pxd_geo_ev {
    const pxd_geo *before;
    const char *rdata;
    const char *rrtype;
    const char *country;
    int64_t asn;
    int64_t first;
    const char *const *orgs;
    size_t n_orgs;
} pxd_geo_ev;

/* The JSON, NUL-terminated, in *out (malloc'd, the caller frees), of at
 * most PX_ALERT_JSON_MAX octets. PX_ERR_NOMEM. */
px_err pxd_json_burst(const pxd_alert_head *h, const pxd_burst_ev *ev, char **out, size_t *len);
px_err pxd_json_geo(const pxd_alert_head *h, const pxd_geo_ev *ev, char **out, size_t *len);

#endif
