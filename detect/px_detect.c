/* px_detect.c: the new-domain burst and geo-shift detectors over the change
 * feed (px_detect.h; thresholds and reasoning in docs/DETECTION.md).
 *
 * Cost: the consumer calls px_detect_change for every change of a merge,
 * so a change copies only what a decision needs and most copy nothing: a
 * record only when it is new (a new answer, or the names and answers a new
 * domain's alert shows), a domain only when it may be new. prepare reads
 * the state of the buffered subjects in key order (the store's pages in
 * order), once each. */
#include <stdlib.h>
#include <string.h>

#include "core/px_arena.h"
#include "core/px_hash.h"
#include "detect/px_detect.h"
#include "detect/px_lookalike.h"
#include "dns/px_dns_type.h"
#include "obs/px_psl.h"
#include "px_detect_int.h"
#include "px_detect_json.h"

/* A record change kept for prepare. */
typedef struct drec {
    const char *dom; /* registered domain of rrname (arena) */
    size_t dlen;
    const char *rrname, *rdata; /* arena, NUL-terminated */
    size_t nlen;
    uint16_t type;
    bool is_new;     /* PX_CHANGE_RECORD_NEW, else a confirmation (geo.min_orgs) */
    bool geo;        /* a geo subject */
    bool evidence;   /* evidence for a new domain */
    char country[3]; /* "" unknown */
    int64_t asn;
    int64_t first, last;
    const char *const *orgs; /* arena */
    size_t n_orgs;
    bool has_ttl;
    uint32_t ttl_min, ttl_max;
} drec;

/* A domain change kept for prepare. */
typedef struct ddom {
    const char *dom;
    size_t dlen;
    int64_t first_seen;
    px_change_sighting *seen; /* arena */
    size_t n_seen;
} ddom;

/* One subject prepare decides on: a burst domain or a geo rrname (a run
 * of records of one name). */
typedef struct work {
    const char *key; /* arena */
    size_t klen;
    bool burst;
    size_t i, n; /* ddom index; or drec range */
} work;

/* Direct-mapped: domains known to hold no burst state (512 KiB; a domain
 * evicted by another costs one more read of its state). */
#define NOSTATE_SLOTS 65536

struct px_detect {
    px_detect_opts o;
    px_lookalike *la;
    px_psl_cache *psl;
    px_arena *arena; /* this transaction's copies */
    drec *recs;
    size_t n_recs, cap_recs;
    ddom *doms;
    size_t n_doms, cap_doms;
    work *work;
    size_t cap_work;
    bool any_dom;
    int64_t txn_first, txn_last; /* least first_seen, greatest last_seen of the domains */
    bool meta_known;             /* meta below is as committed */
    bool prepared;               /* meta_txn is this transaction's */
    pxd_meta meta;
    pxd_meta meta_txn;
    px_buf key, val, old; /* old: the value read, to skip writing it unchanged */
    pxd_burst burst;
    pxd_geo geo, geo_before;
    uint64_t nostate[NOSTATE_SLOTS];
    uint64_t seed;
    uint64_t alerts[PX_DETECT_RULES], alerts_txn[PX_DETECT_RULES];
    uint64_t writes, writes_txn;
};

const char *px_detect_rule_name(px_detect_rule r)
{
    return r == PX_DETECT_GEO ? PX_DETECT_RULE_GEO : PX_DETECT_RULE_BURST;
}

px_detect_opts px_detect_opts_default(void)
{
    return (px_detect_opts){.rules = {true, true},
                            .burst_orgs = 3,
                            .burst_window = 3600,
                            .burst_new_for = 86400,
                            .burst_warmup = 604800,
                            .geo_min_history = 604800,
                            .geo_max_countries = 3,
                            .geo_max_asns = 4,
                            .geo_min_orgs = 1,
                            .cooldown = 86400};
}

static bool opts_ok(const px_detect_opts *o, char *why, size_t whylen)
{
    if (o->burst_orgs < 2 || o->burst_orgs > PXD_ORGS_MAX) {
        px_why(why, whylen, "detect.burst.orgs %u: must be 2 to %d", o->burst_orgs, PXD_ORGS_MAX);
        return false;
    }
    if (o->burst_window < 1 || o->burst_new_for < 1 || o->burst_warmup < 0 ||
        o->geo_min_history < 0 || o->cooldown < 0) {
        px_why(why, whylen, "detect.*: a window of less than a second or a negative time");
        return false;
    }
    if (o->geo_max_countries < 2 || o->geo_max_countries > PXD_COUNTRIES_MAX ||
        o->geo_max_asns < 2 || o->geo_max_asns > PXD_ASNS_MAX || o->geo_min_orgs < 1) {
        px_why(why, whylen, "detect.geo.*: max_countries and max_asns 2 to %d, min_orgs >= 1",
               PXD_COUNTRIES_MAX);
        return false;
    }
    return true;
}

px_err px_detect_create(const px_detect_opts *opts, px_detect **out, char *why, size_t whylen)
{
    if (!opts || !out)
        return PX_ERR_INVAL;
    if (!opts_ok(opts, why, whylen))
        return PX_ERR_INVAL;
    px_detect *d = calloc(1, sizeof *d);
    if (!d)
        return PX_ERR_NOMEM;
    d->o = *opts;
    d->seed = px_hash_seed() ^ 0x6465746563746e73ULL;
    d->arena = px_arena_create(0);
    d->psl = px_psl_cache_create(4096);
    if (!d->arena || !d->psl) {
        px_detect_destroy(d);
        return PX_ERR_NOMEM;
    }
    px_lookalike_opts lo = px_lookalike_opts_default();
    lo.is_public_suffix = px_psl_is_public_suffix;
    px_err err = px_lookalike_create(opts->brands, opts->n_brands, &lo, &d->la, why, whylen);
    if (err) {
        px_detect_destroy(d);
        return err;
    }
    *out = d;
    return PX_OK;
}

void px_detect_destroy(px_detect *d)
{
    if (!d)
        return;
    px_lookalike_destroy(d->la);
    px_psl_cache_destroy(d->psl);
    px_arena_destroy(d->arena);
    free(d->recs);
    free(d->doms);
    free(d->work);
    px_buf_free(&d->key);
    px_buf_free(&d->val);
    px_buf_free(&d->old);
    free(d);
}

uint64_t px_detect_alerts(const px_detect *d, px_detect_rule r)
{
    return d && r < PX_DETECT_RULES ? d->alerts[r] : 0;
}

uint64_t px_detect_state_writes(const px_detect *d)
{
    return d ? d->writes : 0;
}

/* ---- px_detect_change: copy what a decision needs ---- */

/* Domains first seen before this cannot be new (docs/DETECTION.md,
 * warm-up); INT64_MAX while the detector knows no epoch. */
static int64_t warm_end(const px_detect *d, const pxd_meta *m)
{
    if (!m->has_epoch || m->epoch > INT64_MAX - d->o.burst_warmup)
        return INT64_MAX;
    return m->epoch + d->o.burst_warmup;
}

static char *copy_str(px_detect *d, const char *s, size_t n)
{
    return px_arena_strndup(d->arena, s, n);
}

static bool is_addr(uint16_t type)
{
    return type == PX_DNS_TYPE_A || type == PX_DNS_TYPE_AAAA;
}

/* A record change worth keeping: a geo subject or a new domain's evidence. */
static void rec_wanted(const px_detect *d, const px_change_record *r, bool *geo, bool *evidence)
{
    bool addr = is_addr(r->rrtype);
    bool is_new = r->count_before == 0;
    *geo = false;
    *evidence = false;
    if (d->o.rules[PX_DETECT_GEO] && addr) {
        unsigned k = d->o.geo_min_orgs;
        /* A new answer; or one that just reached geo.min_orgs. */
        *geo = is_new || (k > 1 && r->n_orgs >= k && r->n_orgs - r->n_new_orgs < k);
    }
    if (d->o.rules[PX_DETECT_BURST] && is_new) {
        /* A record older than the warm-up cannot belong to a new domain. */
        *evidence = !d->meta_known || r->first >= warm_end(d, &d->meta);
    }
}

static px_err keep_rec(px_detect *d, const px_change_record *r, bool geo, bool evidence)
{
    const char *reg;
    size_t reg_len;
    px_err err = px_psl_cache_lookup(d->psl, r->rrname, r->rrname_len, &reg, &reg_len);
    if (err)
        return err == PX_ERR_NOMEM ? err : PX_OK; /* no registered domain: no subject */
    if (PX_ARRAY_RESERVE(d->recs, d->cap_recs, d->n_recs + 1, 64))
        return PX_ERR_NOMEM;
    drec *e = &d->recs[d->n_recs];
    *e = (drec){.dlen = reg_len,
                .nlen = r->rrname_len,
                .type = r->rrtype,
                .is_new = r->count_before == 0,
                .geo = geo,
                .evidence = evidence,
                .asn = -1,
                .first = r->first,
                .last = r->last,
                .n_orgs = r->n_orgs,
                .has_ttl = r->has_ttl,
                .ttl_min = r->ttl_min,
                .ttl_max = r->ttl_max};
    e->rrname = copy_str(d, r->rrname, r->rrname_len);
    e->rdata = copy_str(d, r->rdata, r->rdata_len < PXD_RDATA_MAX ? r->rdata_len : PXD_RDATA_MAX);
    e->dom = e->rrname ? e->rrname + (reg - r->rrname) : NULL;
    if (!e->rrname || !e->rdata)
        return PX_ERR_NOMEM;
    if (r->geo) {
        pxd_copy(e->country, sizeof e->country, r->geo->country, strnlen(r->geo->country, 2));
        e->asn = r->geo->asn;
    }
    if (geo) {
        const char **orgs = px_arena_alloc(d->arena, (r->n_orgs ? r->n_orgs : 1) * sizeof *orgs);
        if (!orgs)
            return PX_ERR_NOMEM;
        for (size_t i = 0; i < r->n_orgs; i++) {
            if (!(orgs[i] = copy_str(d, r->orgs[i], strlen(r->orgs[i]))))
                return PX_ERR_NOMEM;
        }
        e->orgs = orgs;
    }
    d->n_recs++;
    return PX_OK;
}

static uint64_t *nostate_slot(px_detect *d, const char *dom, size_t len, uint64_t *h)
{
    *h = px_hash64(dom, len, d->seed) | 1;
    return &d->nostate[*h % NOSTATE_SLOTS];
}

/* A domain change worth keeping: one that may be new, or whose burst
 * state may now be dropped. */
static bool dom_wanted(px_detect *d, const px_change_domain *c)
{
    if (!d->o.rules[PX_DETECT_BURST])
        return false;
    if (d->meta_known && c->first_seen < warm_end(d, &d->meta))
        return false;
    if (d->o.known && px_detect_known_has(d->o.known, c->domain, c->len))
        return false;
    if (c->last_seen - c->first_seen < d->o.burst_new_for)
        return true;
    /* No longer new: its state goes, once (a domain known to hold none
     * is skipped; a lost entry costs one more delete). */
    uint64_t h;
    return *nostate_slot(d, c->domain, c->len, &h) != h;
}

static px_err keep_dom(px_detect *d, const px_change_domain *c)
{
    if (PX_ARRAY_RESERVE(d->doms, d->cap_doms, d->n_doms + 1, 64))
        return PX_ERR_NOMEM;
    ddom *e = &d->doms[d->n_doms];
    *e = (ddom){.dlen = c->len, .first_seen = c->first_seen, .n_seen = c->n_seen};
    e->dom = copy_str(d, c->domain, c->len);
    e->seen = px_arena_alloc(d->arena, (c->n_seen ? c->n_seen : 1) * sizeof *e->seen);
    if (!e->dom || !e->seen)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < c->n_seen; i++) {
        e->seen[i] = c->seen[i];
        if (!(e->seen[i].org = copy_str(d, c->seen[i].org, strlen(c->seen[i].org))))
            return PX_ERR_NOMEM;
    }
    d->n_doms++;
    return PX_OK;
}

px_err px_detect_change(px_detect *d, const px_change *c)
{
    if (c->kind == PX_CHANGE_RECORD_NEW || c->kind == PX_CHANGE_RECORD_GREW) {
        bool geo, evidence;
        rec_wanted(d, &c->rec, &geo, &evidence);
        return geo || evidence ? keep_rec(d, &c->rec, geo, evidence) : PX_OK;
    }
    const px_change_domain *x = &c->dom;
    if (!d->any_dom || x->first_seen < d->txn_first)
        d->txn_first = x->first_seen;
    if (!d->any_dom || x->last_seen > d->txn_last)
        d->txn_last = x->last_seen;
    d->any_dom = true;
    return dom_wanted(d, x) ? keep_dom(d, x) : PX_OK;
}

/* ---- state through the transaction ---- */

static px_err st_get(px_detect *d, px_change_txn *t, const void **v, size_t *n)
{
    return t->get(t, px_buf_data(&d->key), px_buf_size(&d->key), v, n);
}

static px_err st_put(px_detect *d, px_change_txn *t)
{
    d->writes_txn++;
    return t->put(t, px_buf_data(&d->key), px_buf_size(&d->key), px_buf_data(&d->val),
                  px_buf_size(&d->val));
}

/* Remembers the value read (v, n; NULL: none) before the transaction is
 * called again, which may move it. */
static px_err st_read(px_detect *d, const void *v, size_t n)
{
    px_buf_clear(&d->old);
    return v ? px_buf_append(&d->old, v, n) : PX_OK;
}

/* Reads the subject's value (d->key) into d->old; *held false when there
 * is none. */
static px_err st_load(px_detect *d, px_change_txn *t, bool *held)
{
    const void *v = NULL;
    size_t n = 0;
    px_err err = st_get(d, t, &v, &n);
    *held = err == PX_OK;
    if (err == PX_ERR_NOTFOUND)
        err = PX_OK;
    return err ? err : st_read(d, *held ? v : NULL, n);
}

/* The value st_load read. */
static const uint8_t *st_old(const px_detect *d)
{
    return px_buf_size(&d->old) ? px_buf_data(&d->old) : (const uint8_t *)"";
}

/* Writes d->val unless it equals what was read: most transactions leave
 * most subjects as they were. */
static px_err st_put_changed(px_detect *d, px_change_txn *t, bool held)
{
    if (held && px_buf_size(&d->old) == px_buf_size(&d->val) &&
        memcmp(px_buf_data(&d->old), px_buf_data(&d->val), px_buf_size(&d->val)) == 0)
        return PX_OK;
    return st_put(d, t);
}

static px_err st_del(px_detect *d, px_change_txn *t)
{
    d->writes_txn++;
    return t->del(t, px_buf_data(&d->key), px_buf_size(&d->key));
}

/* The meta key: the epoch (least first sighting) and the watermark. */
static px_err meta_update(px_detect *d, px_change_txn *t)
{
    px_err err = pxd_key(&d->key, "", 0, PXD_RULE_META, "", 0);
    const void *v;
    size_t n;
    pxd_meta m = {0};
    if (!err)
        err = st_get(d, t, &v, &n);
    if (err == PX_OK)
        err = pxd_meta_decode(v, n, &m);
    else if (err == PX_ERR_NOTFOUND)
        err = PX_OK;
    if (err || !d->any_dom) {
        d->meta_txn = m;
        return err;
    }
    pxd_meta was = m;
    if (!m.has_epoch || d->txn_first < m.epoch)
        m.epoch = d->txn_first;
    if (!m.has_epoch || d->txn_last > m.watermark)
        m.watermark = d->txn_last;
    m.has_epoch = true;
    d->meta_txn = m;
    if (memcmp(&was, &m, sizeof m) == 0)
        return PX_OK;
    err = pxd_meta_encode(&m, &d->val);
    return err ? err : st_put(d, t);
}

/* event.id: 32 hex digits of XXH3-128 of rule 0 subject 0 n (n in
 * decimal: the alerts of that rule and subject before this one). */
static void event_id(const char *rule, const char *subj, uint64_t n, char out[33])
{
    char buf[PX_CHANGE_STATE_KEY_MAX + 64];
    int len = snprintf(buf, sizeof buf, "%s%c%s%c%llu", rule, 0, subj, 0, (unsigned long long)n);
    XXH128_hash_t h = XXH3_128bits(buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, h);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

static px_err emit(px_detect *d, px_change_txn *t, px_detect_rule rule, const char *key,
                   const char *id, int64_t time, char *json, size_t len)
{
    px_alert a = {.time = time,
                  .rule = px_detect_rule_name(rule),
                  .key = key,
                  .id = id,
                  .json = json,
                  .json_len = len};
    px_err err = t->alert(t, &a, NULL);
    free(json);
    if (!err)
        d->alerts_txn[rule]++;
    return err;
}

static bool cooled(const px_detect *d, uint64_t n_alerts, int64_t last_alert, int64_t t)
{
    return n_alerts == 0 || t - last_alert >= d->o.cooldown;
}

/* ---- the burst ---- */

static int org_cmp(const void *a, const void *b)
{
    return strcmp(((const pxd_org *)a)->name, ((const pxd_org *)b)->name);
}

static void merge_sightings(pxd_burst *s, const ddom *e)
{
    for (size_t i = 0; i < e->n_seen; i++) {
        const px_change_sighting *x = &e->seen[i];
        pxd_org *o = NULL;
        for (size_t j = 0; j < s->n_orgs && !o; j++)
            o = strcmp(s->orgs[j].name, x->org) == 0 ? &s->orgs[j] : NULL;
        if (o) {
            o->first = x->first < o->first ? x->first : o->first;
            o->last = x->last > o->last ? x->last : o->last;
        } else if (s->n_orgs < PXD_ORGS_MAX) {
            o = &s->orgs[s->n_orgs++];
            pxd_copy(o->name, sizeof o->name, x->org, strlen(x->org));
            o->first = x->first;
            o->last = x->last;
        }
    }
    qsort(s->orgs, s->n_orgs, sizeof *s->orgs, org_cmp);
}

/* The names and answers kept are the least ones in text order, so that
 * the evidence is the same whichever transactions brought them. */
static void add_name(pxd_burst *s, const char *name)
{
    size_t i = 0;
    int c = 1;
    while (i < s->n_names && (c = strcmp(s->names[i], name)) < 0)
        i++;
    if (c == 0 || i == PXD_NAMES_MAX)
        return;
    size_t move = s->n_names - i - (s->n_names == PXD_NAMES_MAX);
    memmove(s->names[i + 1], s->names[i], move * sizeof s->names[0]);
    pxd_copy(s->names[i], sizeof s->names[0], name, strlen(name));
    s->n_names += s->n_names < PXD_NAMES_MAX;
}

static int answer_cmp(const pxd_answer *a, const drec *r)
{
    int c = (a->type > r->type) - (a->type < r->type);
    return c ? c : strcmp(a->rdata, r->rdata);
}

static void add_answer(pxd_burst *s, const drec *r)
{
    size_t i = 0;
    int c = 1;
    while (i < s->n_answers && (c = answer_cmp(&s->answers[i], r)) < 0)
        i++;
    if (c == 0 || i == PXD_ANSWERS_MAX)
        return;
    size_t move = s->n_answers - i - (s->n_answers == PXD_ANSWERS_MAX);
    memmove(&s->answers[i + 1], &s->answers[i], move * sizeof s->answers[0]);
    pxd_answer *a = &s->answers[i];
    a->type = r->type;
    pxd_copy(a->rdata, sizeof a->rdata, r->rdata, strlen(r->rdata));
    memcpy(a->country, r->country, sizeof a->country);
    a->asn = r->asn;
    s->n_answers += s->n_answers < PXD_ANSWERS_MAX;
}

static int rec_dom_cmp(const drec *r, const char *dom, size_t dlen)
{
    size_t n = r->dlen < dlen ? r->dlen : dlen;
    int c = memcmp(r->dom, dom, n);
    return c ? c : (r->dlen > dlen) - (r->dlen < dlen);
}

/* The new records of domain dom (recs sorted by domain) first seen by
 * `until` as evidence. */
static void merge_records(px_detect *d, pxd_burst *s, const char *dom, size_t dlen, int64_t until)
{
    size_t lo = 0, hi = d->n_recs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (rec_dom_cmp(&d->recs[mid], dom, dlen) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < d->n_recs && rec_dom_cmp(&d->recs[i], dom, dlen) == 0; i++) {
        const drec *r = &d->recs[i];
        if (!r->evidence || r->first > until)
            continue;
        add_name(s, r->rrname);
        add_answer(s, r);
        if (r->has_ttl) {
            s->ttl_min = !s->has_ttl || r->ttl_min < s->ttl_min ? r->ttl_min : s->ttl_min;
            s->ttl_max = !s->has_ttl || r->ttl_max > s->ttl_max ? r->ttl_max : s->ttl_max;
            s->has_ttl = true;
        }
    }
}

static int i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The organisations whose sightings touch the window ending at t. */
static size_t in_window(const px_detect *d, const pxd_burst *s, int64_t t, size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_orgs; i++) {
        if (s->orgs[i].first <= t && s->orgs[i].last >= t - d->o.burst_window)
            idx[n++] = i;
    }
    return n;
}

static px_err burst_alert(px_detect *d, px_change_txn *t, const ddom *e, pxd_burst *s, int64_t at,
                          const size_t *idx, size_t n)
{
    char id[33];
    event_id(PX_DETECT_RULE_BURST, e->dom, s->n_alerts, id);
    px_lookalike_hit hit;
    px_err err = px_lookalike_match(d->la, e->dom, &hit);
    if (err && err != PX_ERR_NOTFOUND)
        return err;
    /* 2: a new domain seen widely is worth a look; a likeness of a
     * protected brand adds its own 1 to 3. */
    pxd_alert_head h = {.rule = PX_DETECT_RULE_BURST,
                        .id = id,
                        .time = at,
                        .severity = 2 + (err ? 0 : hit.severity),
                        .name = s->n_names ? s->names[0] : e->dom,
                        .domain = e->dom,
                        .first_seen = s->first_seen,
                        .sightings = n};
    pxd_burst_ev ev = {.s = s, .in_window = idx, .n_in_window = n, .hit = err ? NULL : &hit};
    char *json;
    size_t len;
    err = pxd_json_burst(&h, &ev, &json, &len);
    if (err)
        return err;
    s->fired = true;
    s->n_alerts++;
    s->last_alert = at;
    return emit(d, t, PX_DETECT_BURST, e->dom, id, at, json, len);
}

/* The earliest sighting of this transaction at which the domain, still
 * new, has burst_orgs organisations in the window: *at, and those
 * organisations in idx[0..*n). */
static bool burst_cross(const px_detect *d, const ddom *e, const pxd_burst *s, int64_t *at,
                        size_t *idx, size_t *n)
{
    /* Both ends of each sighting: an organisation joins the window at
     * its first sighting of the transaction. */
    int64_t times[2 * PXD_ORGS_MAX];
    size_t nt = 0;
    for (size_t i = 0; i < e->n_seen && nt < 2 * PXD_ORGS_MAX; i++) {
        const px_change_sighting *x = &e->seen[i];
        if (x->first - e->first_seen < d->o.burst_new_for)
            times[nt++] = x->first;
        if (x->last - e->first_seen < d->o.burst_new_for)
            times[nt++] = x->last;
    }
    qsort(times, nt, sizeof *times, i64_cmp);
    for (size_t i = 0; i < nt; i++) {
        *n = in_window(d, s, times[i], idx);
        if (*n >= d->o.burst_orgs && cooled(d, s->n_alerts, s->last_alert, times[i])) {
            *at = times[i];
            return true;
        }
    }
    return false;
}

static bool still_new(const px_detect *d, const ddom *e)
{
    for (size_t i = 0; i < e->n_seen; i++) {
        if (e->seen[i].last - e->first_seen < d->o.burst_new_for)
            return true;
    }
    return false;
}

static px_err burst_one(px_detect *d, px_change_txn *t, const ddom *e)
{
    pxd_burst *s = &d->burst;
    bool held;
    px_err err = st_load(d, t, &held);
    if (!err && held)
        err = pxd_burst_decode(st_old(d), px_buf_size(&d->old), s);
    if (err)
        return err;
    if (e->first_seen < warm_end(d, &d->meta_txn) || !still_new(d, e)) {
        uint64_t h, *slot = nostate_slot(d, e->dom, e->dlen, &h);
        *slot = h;
        return held ? st_del(d, t) : PX_OK;
    }
    if (!held) {
        memset(s, 0, sizeof *s);
        s->first_seen = e->first_seen;
    }
    if (s->fired)
        return PX_OK; /* fires once per domain: nothing more to keep */
    s->first_seen = e->first_seen < s->first_seen ? e->first_seen : s->first_seen;
    merge_sightings(s, e);
    int64_t at = 0;
    size_t idx[PXD_ORGS_MAX], n_idx = 0;
    bool fire = burst_cross(d, e, s, &at, idx, &n_idx);
    merge_records(d, s, e->dom, e->dlen, fire ? at : INT64_MAX);
    if (fire)
        err = burst_alert(d, t, e, s, at, idx, n_idx);
    if (s->fired) {
        /* What is left to know is that it fired. */
        s->n_orgs = s->n_names = s->n_answers = 0;
        s->has_ttl = false;
    }
    if (!err)
        err = pxd_burst_encode(s, &d->val);
    return err ? err : st_put_changed(d, t, held);
}

/* ---- the geo shift ---- */

static bool has_country(const pxd_geo *g, const char *c)
{
    for (size_t i = 0; i < g->n_countries; i++) {
        if (strcmp(g->countries[i], c) == 0)
            return true;
    }
    return false;
}

static bool has_asn(const pxd_geo *g, int64_t asn)
{
    for (size_t i = 0; i < g->n_asns; i++) {
        if (g->asns[i] == asn)
            return true;
    }
    return false;
}

static void learn(pxd_geo *g, const char *country, int64_t asn)
{
    if (country[0] && !has_country(g, country) && g->n_countries < PXD_COUNTRIES_MAX)
        pxd_copy(g->countries[g->n_countries++], 3, country, strlen(country));
    if (asn >= 0 && !has_asn(g, asn) && g->n_asns < PXD_ASNS_MAX)
        g->asns[g->n_asns++] = asn;
}

/* An answer in country/asn at time at is a shift from the history g. */
static bool is_shift(const px_detect *d, const pxd_geo *g, const char *country, int64_t asn,
                     int64_t at)
{
    if (!country[0] || g->n_countries == 0 || has_country(g, country))
        return false;
    if (asn >= 0 && g->n_asns && has_asn(g, asn))
        return false;
    /* A name spread over many countries or networks (a CDN, anycast). */
    if (g->n_countries >= d->o.geo_max_countries || g->n_asns >= d->o.geo_max_asns)
        return false;
    return at - g->first >= d->o.geo_min_history;
}

static px_err geo_alert(px_detect *d, px_change_txn *t, const drec *r, const char *country,
                        int64_t asn, int64_t first, int64_t at)
{
    pxd_geo *g = &d->geo;
    if (!cooled(d, g->n_alerts, g->last_alert, at))
        return PX_OK;
    char id[33];
    event_id(PX_DETECT_RULE_GEO, r->rrname, g->n_alerts, id);
    d->geo_before = *g;
    /* 4: an address of a known name in a country and network it never
     * used is what a hijack looks like. */
    pxd_alert_head h = {.rule = PX_DETECT_RULE_GEO,
                        .id = id,
                        .time = at,
                        .severity = 4,
                        .name = r->rrname,
                        .domain = r->dom,
                        .first_seen = first,
                        .sightings = r->n_orgs};
    pxd_geo_ev ev = {.before = &d->geo_before,
                     .rdata = r->rdata,
                     .rrtype = r->type == PX_DNS_TYPE_A ? "A" : "AAAA",
                     .country = country,
                     .asn = asn,
                     .first = first,
                     .orgs = r->orgs,
                     .n_orgs = r->n_orgs};
    char *json;
    size_t len;
    px_err err = pxd_json_geo(&h, &ev, &json, &len);
    if (err)
        return err;
    g->n_alerts++;
    g->last_alert = at;
    return emit(d, t, PX_DETECT_GEO, r->dom, id, at, json, len);
}

static px_err geo_new(px_detect *d, px_change_txn *t, const drec *r, bool fresh)
{
    pxd_geo *g = &d->geo;
    if (fresh || r->first < g->first)
        g->first = r->first;
    if (!fresh && is_shift(d, g, r->country, r->asn, r->first)) {
        if (r->n_orgs >= d->o.geo_min_orgs) {
            px_err err = geo_alert(d, t, r, r->country, r->asn, r->first, r->first);
            if (err)
                return err;
        } else if (g->n_pending < PXD_PENDING_MAX) {
            pxd_pending *p = &g->pending[g->n_pending++];
            pxd_copy(p->rdata, sizeof p->rdata, r->rdata, strlen(r->rdata));
            memcpy(p->country, r->country, sizeof p->country);
            p->asn = r->asn;
            p->first = r->first;
            return PX_OK; /* learnt when confirmed */
        }
    }
    learn(g, r->country, r->asn);
    return PX_OK;
}

/* A pending answer that reached geo.min_orgs. */
static px_err geo_confirm(px_detect *d, px_change_txn *t, const drec *r)
{
    pxd_geo *g = &d->geo;
    for (size_t i = 0; i < g->n_pending; i++) {
        pxd_pending p = g->pending[i];
        if (strcmp(p.rdata, r->rdata) != 0)
            continue;
        g->pending[i] = g->pending[--g->n_pending];
        px_err err = PX_OK;
        if (is_shift(d, g, p.country, p.asn, p.first))
            err = geo_alert(d, t, r, p.country, p.asn, p.first, r->last);
        learn(g, p.country, p.asn);
        return err;
    }
    return PX_OK;
}

static px_err geo_run(px_detect *d, px_change_txn *t, const work *w)
{
    pxd_geo *g = &d->geo;
    bool held;
    px_err err = st_load(d, t, &held);
    bool fresh = !err && !held;
    if (!err && held)
        err = pxd_geo_decode(st_old(d), px_buf_size(&d->old), g);
    if (fresh)
        memset(g, 0, sizeof *g);
    for (size_t i = w->i; !err && i < w->i + w->n; i++) {
        const drec *r = &d->recs[i];
        if (!r->geo)
            continue; /* a name's other records, kept as a new domain's evidence */
        if (r->is_new) {
            err = geo_new(d, t, r, fresh);
            fresh = false;
        } else if (!fresh) {
            err = geo_confirm(d, t, r);
        }
    }
    /* A name with no GeoIP answer has nothing to judge: no state (the
     * consumer without GeoIP databases writes none). */
    if (err || fresh || (!held && !g->n_countries && !g->n_asns))
        return err;
    err = pxd_geo_encode(g, &d->val);
    return err ? err : st_put_changed(d, t, held);
}

/* ---- prepare ---- */

static int rec_cmp(const void *a, const void *b)
{
    const drec *x = a, *y = b;
    int c = rec_dom_cmp(x, y->dom, y->dlen);
    if (c)
        return c;
    c = strcmp(x->rrname, y->rrname);
    if (c)
        return c;
    /* A name's answers in event time: its history grows in the order the
     * answers were first seen, whichever transactions brought them. */
    c = (x->first > y->first) - (x->first < y->first);
    return c ? c : strcmp(x->rdata, y->rdata);
}

static int work_cmp(const void *a, const void *b)
{
    const work *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

static px_err add_work(px_detect *d, size_t *nw, bool burst, size_t i, size_t n)
{
    px_err err;
    if (burst)
        err = pxd_key(&d->key, d->doms[i].dom, d->doms[i].dlen, PXD_RULE_BURST, "", 0);
    else
        err = pxd_key(&d->key, d->recs[i].dom, d->recs[i].dlen, PXD_RULE_GEO, d->recs[i].rrname,
                      d->recs[i].nlen);
    if (err)
        return err;
    if (PX_ARRAY_RESERVE(d->work, d->cap_work, *nw + 1, 64))
        return PX_ERR_NOMEM;
    char *k = px_arena_alloc(d->arena, px_buf_size(&d->key));
    if (!k)
        return PX_ERR_NOMEM;
    memcpy(k, px_buf_data(&d->key), px_buf_size(&d->key));
    d->work[(*nw)++] = (work){k, px_buf_size(&d->key), burst, i, n};
    return PX_OK;
}

/* The subjects of this transaction, sorted by state key. */
static px_err plan(px_detect *d, size_t *nw)
{
    *nw = 0;
    if (d->n_recs > 1)
        qsort(d->recs, d->n_recs, sizeof *d->recs, rec_cmp);
    px_err err = PX_OK;
    for (size_t i = 0; !err && i < d->n_doms; i++)
        err = add_work(d, nw, true, i, 1);
    for (size_t i = 0; !err && i < d->n_recs;) {
        size_t j = i;
        bool geo = false;
        for (; j < d->n_recs && strcmp(d->recs[j].rrname, d->recs[i].rrname) == 0; j++)
            geo = geo || d->recs[j].geo;
        if (geo)
            err = add_work(d, nw, false, i, j - i);
        i = j;
    }
    if (!err && *nw > 1)
        qsort(d->work, *nw, sizeof *d->work, work_cmp);
    return err;
}

px_err px_detect_prepare(px_detect *d, px_change_txn *t)
{
    size_t nw;
    px_err err = meta_update(d, t);
    d->prepared = err == PX_OK;
    if (!err)
        err = plan(d, &nw);
    for (size_t i = 0; !err && i < nw; i++) {
        const work *w = &d->work[i];
        px_buf_clear(&d->key);
        err = px_buf_append(&d->key, w->key, w->klen);
        if (!err)
            err = w->burst ? burst_one(d, t, &d->doms[w->i]) : geo_run(d, t, w);
    }
    return err;
}

void px_detect_end(px_detect *d, bool committed)
{
    if (committed && d->prepared) {
        for (int r = 0; r < PX_DETECT_RULES; r++)
            d->alerts[r] += d->alerts_txn[r];
        d->writes += d->writes_txn;
        d->meta = d->meta_txn;
        d->meta_known = true;
    } else if (!committed) {
        /* The state may be older than the cached epoch says: read again. */
        d->meta_known = false;
    }
    memset(d->alerts_txn, 0, sizeof d->alerts_txn);
    d->writes_txn = 0;
    d->prepared = false;
    d->n_recs = d->n_doms = 0;
    d->any_dom = false;
    px_arena_reset(d->arena);
}
