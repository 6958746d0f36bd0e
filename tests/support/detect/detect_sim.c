/* detect_sim.c: see detect_sim.h. Linear tables: the tests are small. */
#include <stdlib.h>
#include <string.h>

#include "detect_sim.h"
#include "obs/px_psl.h"

typedef struct kv {
    uint8_t *k, *v;
    size_t kn, vn;
} kv;

typedef struct strs {
    char **v;
    size_t n;
} strs;

typedef struct rec {
    char *rrname, *rdata;
    uint16_t type;
    uint64_t count;
    int64_t first, last;
    strs orgs;
    bool has_geo;
    px_geo geo;
} rec;

typedef struct dom {
    char *name;
    int64_t first, last;
    strs orgs;
} dom;

typedef struct obs {
    char *org, *rrname, *rdata;
    uint16_t type;
    int64_t first, last;
    bool has_geo;
    px_geo geo;
} obs;

/* Everything a transaction may change, copied at its start. */
typedef struct world {
    kv *kv;
    size_t n_kv;
    rec *recs;
    size_t n_recs;
    dom *doms;
    size_t n_doms;
    sim_alert *alerts;
    size_t n_alerts;
    uint64_t seq;
} world;

struct sim {
    px_change_txn txn;
    world w;
    obs *q;
    size_t n_q;
    px_psl_cache *psl;
    px_err fail;
};

static void *xrealloc(void *p, size_t n)
{
    void *r = realloc(p, n ? n : 1);
    if (!r)
        abort();
    return r;
}

static char *xstrdup(const char *s)
{
    char *r = strdup(s ? s : "");
    if (!r)
        abort();
    return r;
}

static void *xmemdup(const void *p, size_t n)
{
    void *r = xrealloc(NULL, n);
    if (n)
        memcpy(r, p, n);
    return r;
}

/* ---- strs: a sorted set of strings ---- */

static bool strs_has(const strs *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], x) == 0)
            return true;
    }
    return false;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool strs_add(strs *s, const char *x)
{
    if (strs_has(s, x))
        return false;
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = xstrdup(x);
    qsort(s->v, s->n, sizeof *s->v, str_cmp);
    return true;
}

static strs strs_copy(const strs *s)
{
    strs r = {xrealloc(NULL, s->n * sizeof *s->v), s->n};
    for (size_t i = 0; i < s->n; i++)
        r.v[i] = xstrdup(s->v[i]);
    return r;
}

static void strs_free(strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* ---- the world ---- */

static world world_copy(const world *w)
{
    world c = *w;
    c.kv = xrealloc(NULL, w->n_kv * sizeof *c.kv);
    for (size_t i = 0; i < w->n_kv; i++)
        c.kv[i] = (kv){xmemdup(w->kv[i].k, w->kv[i].kn), xmemdup(w->kv[i].v, w->kv[i].vn),
                       w->kv[i].kn, w->kv[i].vn};
    c.recs = xrealloc(NULL, w->n_recs * sizeof *c.recs);
    for (size_t i = 0; i < w->n_recs; i++) {
        c.recs[i] = w->recs[i];
        c.recs[i].rrname = xstrdup(w->recs[i].rrname);
        c.recs[i].rdata = xstrdup(w->recs[i].rdata);
        c.recs[i].orgs = strs_copy(&w->recs[i].orgs);
    }
    c.doms = xrealloc(NULL, w->n_doms * sizeof *c.doms);
    for (size_t i = 0; i < w->n_doms; i++) {
        c.doms[i] = w->doms[i];
        c.doms[i].name = xstrdup(w->doms[i].name);
        c.doms[i].orgs = strs_copy(&w->doms[i].orgs);
    }
    c.alerts = xrealloc(NULL, w->n_alerts * sizeof *c.alerts);
    for (size_t i = 0; i < w->n_alerts; i++) {
        const sim_alert *a = &w->alerts[i];
        c.alerts[i] =
            (sim_alert){a->seq,          a->time,        xstrdup(a->rule),
                        xstrdup(a->key), xstrdup(a->id), xmemdup(a->json, a->json_len + 1),
                        a->json_len};
    }
    return c;
}

static void world_free(world *w)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].k);
        free(w->kv[i].v);
    }
    for (size_t i = 0; i < w->n_recs; i++) {
        free(w->recs[i].rrname);
        free(w->recs[i].rdata);
        strs_free(&w->recs[i].orgs);
    }
    for (size_t i = 0; i < w->n_doms; i++) {
        free(w->doms[i].name);
        strs_free(&w->doms[i].orgs);
    }
    for (size_t i = 0; i < w->n_alerts; i++) {
        free(w->alerts[i].rule);
        free(w->alerts[i].key);
        free(w->alerts[i].id);
        free(w->alerts[i].json);
    }
    free(w->kv);
    free(w->recs);
    free(w->doms);
    free(w->alerts);
    memset(w, 0, sizeof *w);
}

/* ---- the px_change_txn double ---- */

static kv *kv_find(const world *w, const void *k, size_t kn)
{
    for (size_t i = 0; i < w->n_kv; i++) {
        if (w->kv[i].kn == kn && memcmp(w->kv[i].k, k, kn) == 0)
            return &w->kv[i];
    }
    return NULL;
}

static px_err failing(sim *s)
{
    px_err e = s->fail;
    s->fail = PX_OK;
    return e;
}

static px_err t_get(px_change_txn *t, const void *key, size_t klen, const void **val, size_t *vlen)
{
    sim *s = t->impl;
    if (s->fail)
        return failing(s);
    kv *e = kv_find(&s->w, key, klen);
    if (!e)
        return PX_ERR_NOTFOUND;
    *val = e->v;
    *vlen = e->vn;
    return PX_OK;
}

static px_err t_put(px_change_txn *t, const void *key, size_t klen, const void *val, size_t vlen)
{
    sim *s = t->impl;
    if (s->fail)
        return failing(s);
    if (klen < 1 || klen > PX_CHANGE_STATE_KEY_MAX || vlen > PX_CHANGE_STATE_VAL_MAX)
        return PX_ERR_INVAL;
    kv *e = kv_find(&s->w, key, klen);
    if (!e) {
        s->w.kv = xrealloc(s->w.kv, (s->w.n_kv + 1) * sizeof *s->w.kv);
        e = &s->w.kv[s->w.n_kv++];
        *e = (kv){xmemdup(key, klen), NULL, klen, 0};
    }
    free(e->v);
    e->v = xmemdup(val, vlen);
    e->vn = vlen;
    return PX_OK;
}

static px_err t_del(px_change_txn *t, const void *key, size_t klen)
{
    sim *s = t->impl;
    if (s->fail)
        return failing(s);
    kv *e = kv_find(&s->w, key, klen);
    if (e) {
        free(e->k);
        free(e->v);
        *e = s->w.kv[--s->w.n_kv];
    }
    return PX_OK;
}

static px_err t_alert(px_change_txn *t, const px_alert *a, uint64_t *seq)
{
    sim *s = t->impl;
    if (s->fail)
        return failing(s);
    s->w.alerts = xrealloc(s->w.alerts, (s->w.n_alerts + 1) * sizeof *s->w.alerts);
    sim_alert *e = &s->w.alerts[s->w.n_alerts++];
    *e = (sim_alert){++s->w.seq,      a->time,        xstrdup(a->rule),
                     xstrdup(a->key), xstrdup(a->id), xmemdup(a->json, a->json_len + 1),
                     a->json_len};
    e->json[a->json_len] = '\0';
    if (seq)
        *seq = e->seq;
    return PX_OK;
}

sim *sim_create(void)
{
    sim *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->txn = (px_change_txn){t_get, t_put, t_del, t_alert, s};
    s->psl = px_psl_cache_create(0);
    return s;
}

static void queue_free(sim *s)
{
    for (size_t i = 0; i < s->n_q; i++) {
        free(s->q[i].org);
        free(s->q[i].rrname);
        free(s->q[i].rdata);
    }
    s->n_q = 0;
}

void sim_destroy(sim *s)
{
    if (!s)
        return;
    queue_free(s);
    free(s->q);
    world_free(&s->w);
    px_psl_cache_destroy(s->psl);
    free(s);
}

static uint16_t type_of(const char *t)
{
    static const struct {
        const char *name;
        uint16_t v;
    } m[] = {{"A", 1}, {"NS", 2}, {"CNAME", 5}, {"MX", 15}, {"TXT", 16}, {"AAAA", 28}};
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        if (strcmp(m[i].name, t) == 0)
            return m[i].v;
    }
    abort();
}

void sim_obs(sim *s, const char *org, const char *rrname, const char *type, const char *rdata,
             int64_t first, int64_t last, const char *country, int64_t asn)
{
    s->q = xrealloc(s->q, (s->n_q + 1) * sizeof *s->q);
    obs *o = &s->q[s->n_q++];
    *o = (obs){xstrdup(org), xstrdup(rrname), xstrdup(rdata), type_of(type), first,
               last,         country != NULL, {.asn = -1}};
    if (country) {
        strncpy(o->geo.country, country, sizeof o->geo.country - 1);
        o->geo.asn = asn;
    }
}

/* ---- the merge and its changes ---- */

static int obs_rec_cmp(const void *a, const void *b)
{
    const obs *x = a, *y = b;
    int c = strcmp(x->rrname, y->rrname);
    if (!c)
        c = (x->type > y->type) - (x->type < y->type);
    return c ? c : strcmp(x->rdata, y->rdata);
}

static rec *rec_find(world *w, const obs *o)
{
    for (size_t i = 0; i < w->n_recs; i++) {
        rec *r = &w->recs[i];
        if (r->type == o->type && !strcmp(r->rrname, o->rrname) && !strcmp(r->rdata, o->rdata))
            return r;
    }
    return NULL;
}

/* The record change of the observations q[0..n) of one record. */
static px_err merge_rec(sim *s, px_detect *d, const obs *q, size_t n)
{
    rec *r = rec_find(&s->w, q);
    bool is_new = r == NULL;
    if (is_new) {
        s->w.recs = xrealloc(s->w.recs, (s->w.n_recs + 1) * sizeof *s->w.recs);
        r = &s->w.recs[s->w.n_recs++];
        *r = (rec){xstrdup(q->rrname), xstrdup(q->rdata), q->type, 0, q->first, q->last,
                   {NULL, 0},          q->has_geo,        q->geo};
    }
    px_change c = {.kind = is_new ? PX_CHANGE_RECORD_NEW : PX_CHANGE_RECORD_GREW};
    px_change_record *x = &c.rec;
    x->count_before = r->count;
    x->first_before = is_new ? 0 : r->first;
    x->last_before = is_new ? 0 : r->last;
    strs added = {NULL, 0};
    x->has_ttl = true;
    x->ttl_min = x->ttl_max = 300;
    for (size_t i = 0; i < n; i++) {
        r->count++;
        r->first = q[i].first < r->first ? q[i].first : r->first;
        r->last = q[i].last > r->last ? q[i].last : r->last;
        if (strs_add(&r->orgs, q[i].org))
            strs_add(&added, q[i].org);
    }
    x->rrname = r->rrname;
    x->rrname_len = strlen(r->rrname);
    x->rrtype = r->type;
    x->rdata = r->rdata;
    x->rdata_len = strlen(r->rdata);
    x->count = r->count;
    x->first = r->first;
    x->last = r->last;
    x->n_orgs = r->orgs.n;
    x->orgs = (const char *const *)r->orgs.v;
    x->n_new_orgs = added.n;
    x->new_orgs = (const char *const *)added.v;
    x->geo = r->has_geo ? &r->geo : NULL;
    px_err err = px_detect_change(d, &c);
    strs_free(&added);
    return err;
}

typedef struct dseen {
    char *dom;
    const char *org;
    int64_t first, last;
} dseen;

static int dseen_cmp(const void *a, const void *b)
{
    const dseen *x = a, *y = b;
    int c = strcmp(x->dom, y->dom);
    return c ? c : strcmp(x->org, y->org);
}

static dom *dom_find(world *w, const char *name)
{
    for (size_t i = 0; i < w->n_doms; i++) {
        if (!strcmp(w->doms[i].name, name))
            return &w->doms[i];
    }
    return NULL;
}

/* The domain change of the sightings v[0..n) of one domain (by org). */
static px_err merge_dom(sim *s, px_detect *d, const dseen *v, size_t n)
{
    dom *m = dom_find(&s->w, v->dom);
    bool is_new = m == NULL;
    if (is_new) {
        s->w.doms = xrealloc(s->w.doms, (s->w.n_doms + 1) * sizeof *s->w.doms);
        m = &s->w.doms[s->w.n_doms++];
        *m = (dom){xstrdup(v->dom), v->first, v->last, {NULL, 0}};
    }
    int64_t first_before = m->first, last_before = m->last;
    strs added = {NULL, 0};
    px_change_sighting *seen = xrealloc(NULL, n * sizeof *seen);
    size_t n_seen = 0;
    for (size_t i = 0; i < n; i++) {
        m->first = v[i].first < m->first ? v[i].first : m->first;
        m->last = v[i].last > m->last ? v[i].last : m->last;
        if (strs_add(&m->orgs, v[i].org))
            strs_add(&added, v[i].org);
        if (n_seen && !strcmp(seen[n_seen - 1].org, v[i].org)) {
            px_change_sighting *e = &seen[n_seen - 1];
            e->first = v[i].first < e->first ? v[i].first : e->first;
            e->last = v[i].last > e->last ? v[i].last : e->last;
        } else {
            seen[n_seen++] = (px_change_sighting){v[i].org, v[i].first, v[i].last};
        }
    }
    px_change c = {.kind = PX_CHANGE_DOMAIN_FIRST};
    px_change_domain *x = &c.dom;
    x->prev_first_seen = INT64_MIN;
    px_err err = PX_OK;
    if (!is_new) {
        if (m->first < first_before)
            x->prev_first_seen = first_before;
        else if (m->last > last_before || added.n)
            c.kind = PX_CHANGE_DOMAIN_GREW;
        else
            goto done; /* the store emits nothing */
    }
    x->domain = m->name;
    x->len = strlen(m->name);
    x->first_seen = m->first;
    x->last_seen = m->last;
    x->n_orgs = m->orgs.n;
    x->orgs = (const char *const *)m->orgs.v;
    x->n_new_orgs = added.n;
    x->new_orgs = (const char *const *)added.v;
    x->n_seen = n_seen;
    x->seen = seen;
    err = px_detect_change(d, &c);
done:
    free(seen);
    strs_free(&added);
    return err;
}

static px_err feed(sim *s, px_detect *d)
{
    qsort(s->q, s->n_q, sizeof *s->q, obs_rec_cmp);
    px_err err = PX_OK;
    for (size_t i = 0; !err && i < s->n_q;) {
        size_t j = i + 1;
        while (j < s->n_q && obs_rec_cmp(&s->q[i], &s->q[j]) == 0)
            j++;
        err = merge_rec(s, d, &s->q[i], j - i);
        i = j;
    }
    dseen *v = xrealloc(NULL, s->n_q * sizeof *v);
    size_t nv = 0;
    for (size_t i = 0; i < s->n_q; i++) {
        const char *reg;
        size_t len;
        if (px_psl_cache_lookup(s->psl, s->q[i].rrname, strlen(s->q[i].rrname), &reg, &len))
            abort();
        v[nv++] = (dseen){strndup(reg, len), s->q[i].org, s->q[i].first, s->q[i].last};
    }
    qsort(v, nv, sizeof *v, dseen_cmp);
    for (size_t i = 0; !err && i < nv;) {
        size_t j = i + 1;
        while (j < nv && strcmp(v[i].dom, v[j].dom) == 0)
            j++;
        err = merge_dom(s, d, &v[i], j - i);
        i = j;
    }
    for (size_t i = 0; i < nv; i++)
        free(v[i].dom);
    free(v);
    return err;
}

static px_err run(sim *s, px_detect *d, bool commit)
{
    world before = world_copy(&s->w);
    px_err err = feed(s, d);
    if (!err)
        err = px_detect_prepare(d, &s->txn);
    if (err || !commit) {
        world_free(&s->w);
        s->w = before;
        px_detect_end(d, false);
    } else {
        world_free(&before);
        px_detect_end(d, true);
    }
    queue_free(s);
    return err;
}

px_err sim_commit(sim *s, px_detect *d)
{
    return run(s, d, true);
}

px_err sim_abort(sim *s, px_detect *d)
{
    return run(s, d, false);
}

size_t sim_alerts(const sim *s)
{
    return s->w.n_alerts;
}

const sim_alert *sim_alert_at(const sim *s, size_t i)
{
    return i < s->w.n_alerts ? &s->w.alerts[i] : NULL;
}

size_t sim_state_keys(const sim *s)
{
    return s->w.n_kv;
}

const void *sim_state(const sim *s, const void *key, size_t klen, size_t *vlen)
{
    kv *e = kv_find(&s->w, key, klen);
    if (!e)
        return NULL;
    *vlen = e->vn;
    return e->v;
}

void sim_fail_next(sim *s, px_err err)
{
    s->fail = err;
}
