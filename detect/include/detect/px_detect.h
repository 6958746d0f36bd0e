/* px_detect.h: the detectors of issue 11 (docs/DETECTION.md), fed the
 * store's change feed (obs/px_change.h) and deciding alerts into the
 * transaction that delivered the changes (px_change_txn). No I/O, no wall
 * clock: "now" is event time, kept in the detector's own state.
 *
 * Use, per write transaction of the store:
 *   px_detect_change() for each change (copies what a decision needs),
 *   px_detect_prepare() once before the commit (reads and writes state,
 *   appends alerts), px_detect_end() after the commit or rollback.
 * One detector is used by one thread. */
#ifndef PX_DETECT_H
#define PX_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_config.h"
#include "core/px_error.h"
#include "obs/px_change.h"

#define PX_DETECT_RULE_BURST "pdnsx.new_domain_burst"
#define PX_DETECT_RULE_GEO "pdnsx.geo_shift"

typedef enum px_detect_rule { PX_DETECT_BURST = 0, PX_DETECT_GEO, PX_DETECT_RULES } px_detect_rule;

/* "pdnsx.new_domain_burst", "pdnsx.geo_shift". */
const char *px_detect_rule_name(px_detect_rule r);

/* ---- known domains (detect.known_domains): never counted as new ---- */

typedef struct px_detect_known px_detect_known;

/* An empty set; NULL on no memory. */
px_detect_known *px_detect_known_create(void);
void px_detect_known_destroy(px_detect_known *k); /* NULL is fine */

/* Adds the domains of a buffer (the file's bytes, len octets, need not
 * end in NUL): one a line, "domain" or "rank,domain" (a top-sites list
 * such as Tranco's); blank lines and lines starting with '#' are
 * skipped, CR LF line ends are fine. A domain is a name of LDH labels
 * (any case, one trailing dot allowed, A-labels for IDNs); it is kept as
 * its registered domain (the public suffix list, private section
 * included), so "www.example.com" marks "example.com". PX_ERR_MALFORMED
 * with why = "line N: ..." on the first bad line (the domains before it
 * stay added), PX_ERR_NOMEM. */
px_err px_detect_known_parse(px_detect_known *k, const char *buf, size_t len, char *why,
                             size_t whylen);

/* True if the registered domain dom (canonical, len octets) is in the set. */
bool px_detect_known_has(const px_detect_known *k, const char *dom, size_t len);
size_t px_detect_known_count(const px_detect_known *k);

/* ---- the detector ---- */

typedef struct px_detect_opts {
    bool rules[PX_DETECT_RULES]; /* which detectors run (detect.rules) */
    /* New-domain burst: seconds and counts (detect.burst.*). */
    unsigned burst_orgs;   /* distinct organisations that make a burst (>= 2) */
    int64_t burst_window;  /* sliding window over which they are counted */
    int64_t burst_new_for; /* a domain first seen less than this long ago is new */
    int64_t burst_warmup;  /* history the store needs before anything is new */
    /* Geo shift (detect.geo.*). */
    int64_t geo_min_history;    /* seconds of history a name needs */
    unsigned geo_max_countries; /* a history of this many countries or more never alerts */
    unsigned geo_max_asns;      /* ... or of this many ASNs or more */
    unsigned geo_min_orgs;      /* organisations that must have seen the new answer */
    int64_t cooldown;           /* the same rule and subject alert once per this long */
    /* Borrowed, must outlive the detector; NULL/0: none. */
    const char *const *brands; /* detect.brands */
    size_t n_brands;
    const px_detect_known *known;
} px_detect_opts;

/* The defaults of docs/DETECTION.md (docs/INTERFACE.md), no brands, no
 * known domains. */
px_detect_opts px_detect_opts_default(void);

/* The detect.* settings, {NULL}-terminated: put {.include =
 * px_detect_conf_items} in a program's table. detect.known_domains is a
 * path the program reads (px_detect_known_parse). */
extern const px_conf_item px_detect_conf_items[];

/* The detect.* settings of a validated config into *out (brands point
 * into the config: it must outlive the detector). *brands_out: an array
 * the caller frees (free()), also when the call fails. PX_ERR_NOMEM. */
px_err px_detect_opts_from_config(const px_config *cfg, px_detect_opts *out,
                                  const char ***brands_out);

typedef struct px_detect px_detect;

/* PX_OK and *out; PX_ERR_INVAL with why for a bad option or brand,
 * PX_ERR_NOMEM. opts is copied (what it borrows stays borrowed). */
px_err px_detect_create(const px_detect_opts *opts, px_detect **out, char *why, size_t whylen);
void px_detect_destroy(px_detect *d); /* NULL is fine */

/* One change of the current transaction: copies what a decision needs
 * (the change's strings die after the call). PX_ERR_NOMEM. */
px_err px_detect_change(px_detect *d, const px_change *c);

/* Decides on the changes of the current transaction: reads and writes
 * the state through t, appends alerts through t->alert. An error from t
 * (or PX_ERR_NOMEM) is returned: the transaction fails. */
px_err px_detect_prepare(px_detect *d, px_change_txn *t);

/* The transaction ended: drops the buffered changes; committed: the
 * alerts prepare decided count in the stats. */
void px_detect_end(px_detect *d, bool committed);

/* Stats (committed transactions only). */
uint64_t px_detect_alerts(const px_detect *d, px_detect_rule r);
uint64_t px_detect_state_writes(const px_detect *d); /* puts and deletes */

#endif
