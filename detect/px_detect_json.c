/* px_detect_json.c: the alert JSON. Evidence lists are built up to a cap;
 * when the text is longer than PX_ALERT_JSON_MAX the caps are halved and
 * the text built again, down to no evidence but the head (which is short
 * by construction: names are at most 253 octets), so the result is always
 * whole, valid JSON. "pdnsx.truncated" says evidence was dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "px_detect_json.h"

/* "2026-11-26T18:00:00Z" into buf (>= 21 octets). */
static void time_text(int64_t t, char *buf, size_t cap)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (!gmtime_r(&tt, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "1970-01-01T00:00:00Z");
}

/* A JSON string of s; bytes that are not UTF-8 become '?' (names and
 * rdata are canonical ASCII text, so this is a guard, not a path). */
static json_t *str(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        c[i] = (unsigned char)s[i] >= 0x80 ? '?' : s[i];
    j = json_string(c);
    free(c);
    return j;
}

static json_t *time_str(int64_t t)
{
    char buf[32];
    time_text(t, buf, sizeof buf);
    return json_string(buf);
}

/* Sets key to v (stolen); a NULL v leaves a mark the caller checks with
 * json_object_size. Returns false on no memory. */
static bool set(json_t *o, const char *key, json_t *v)
{
    return v && json_object_set_new(o, key, v) == 0;
}

static bool push(json_t *a, json_t *v)
{
    return v && json_array_append_new(a, v) == 0;
}

static json_t *head_json(const pxd_alert_head *h)
{
    json_t *root = json_object(), *ev = json_object(), *cat = json_array(), *type = json_array();
    json_t *rule = json_object(), *q = json_object(), *dns = json_object();
    json_t *ind = json_object(), *threat = json_object();
    bool ok = root && ev && cat && type && rule && q && dns && ind && threat;
    ok = ok && push(cat, json_string("network")) && push(cat, json_string("threat"));
    ok = ok && push(type, json_string("indicator"));
    ok = ok && set(ev, "kind", json_string("alert")) && set(ev, "category", json_incref(cat));
    ok = ok && set(ev, "type", json_incref(type)) && set(ev, "severity", json_integer(h->severity));
    ok = ok && set(ev, "id", json_string(h->id));
    ok = ok && set(rule, "name", json_string(h->rule));
    ok = ok && set(q, "name", str(h->name)) && set(q, "registered_domain", str(h->domain));
    ok = ok && set(dns, "question", json_incref(q));
    ok = ok && set(ind, "type", json_string("domain-name"));
    ok = ok && set(ind, "first_seen", time_str(h->first_seen));
    ok = ok && set(ind, "sightings", json_integer((json_int_t)h->sightings));
    ok = ok && set(threat, "indicator", json_incref(ind));
    ok = ok && set(root, "@timestamp", time_str(h->time)) && set(root, "event", json_incref(ev));
    ok = ok && set(root, "rule", json_incref(rule)) && set(root, "dns", json_incref(dns));
    ok = ok && set(root, "threat", json_incref(threat));
    json_decref(ev);
    json_decref(cat);
    json_decref(type);
    json_decref(rule);
    json_decref(q);
    json_decref(dns);
    json_decref(ind);
    json_decref(threat);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

static size_t cap_of(size_t n, size_t cap)
{
    return n < cap ? n : cap;
}

static bool has_str(json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static bool has_int(json_t *a, json_int_t x)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_integer_value(v) == x)
            return true;
    }
    return false;
}

static json_t *burst_evidence(const pxd_burst_ev *ev, size_t cap)
{
    const pxd_burst *s = ev->s;
    json_t *p = json_object(), *orgs = json_array(), *names = json_array();
    json_t *answers = json_array(), *countries = json_array(), *asns = json_array();
    bool ok = p && orgs && names && answers && countries && asns;
    for (size_t i = 0; ok && i < cap_of(ev->n_in_window, cap); i++)
        ok = push(orgs, str(s->orgs[ev->in_window[i]].name));
    for (size_t i = 0; ok && i < cap_of(s->n_names, cap); i++)
        ok = push(names, str(s->names[i]));
    for (size_t i = 0; ok && i < cap_of(s->n_answers, cap); i++) {
        const pxd_answer *a = &s->answers[i];
        json_t *o = json_object();
        ok = o && set(o, "type", json_integer(a->type)) && set(o, "rdata", str(a->rdata));
        if (ok && a->country[0])
            ok = set(o, "country", json_string(a->country));
        if (ok && a->asn >= 0)
            ok = set(o, "asn", json_integer(a->asn));
        ok = ok ? push(answers, o) : (json_decref(o), false);
    }
    for (size_t i = 0; ok && i < s->n_answers; i++) {
        const pxd_answer *a = &s->answers[i];
        if (a->country[0] && !has_str(countries, a->country))
            ok = push(countries, json_string(a->country));
        if (ok && a->asn >= 0 && !has_int(asns, a->asn))
            ok = push(asns, json_integer(a->asn));
    }
    ok = ok && set(p, "orgs", json_incref(orgs)) && set(p, "first_seen", time_str(s->first_seen));
    ok = ok && set(p, "names", json_incref(names)) && set(p, "answers", json_incref(answers));
    ok = ok && set(p, "countries", json_incref(countries)) && set(p, "asns", json_incref(asns));
    if (ok && s->has_ttl) {
        json_t *ttl = json_object();
        ok = ttl && set(ttl, "min", json_integer(s->ttl_min)) &&
             set(ttl, "max", json_integer(s->ttl_max));
        ok = ok ? set(p, "ttl", ttl) : (json_decref(ttl), false);
    }
    if (ok && ev->hit) {
        json_t *l = json_object();
        ok = l && set(l, "brand", str(ev->hit->brand)) &&
             set(l, "method", json_string(px_lookalike_method_name(ev->hit->method))) &&
             set(l, "distance", json_integer(ev->hit->distance)) &&
             set(l, "skeleton", str(ev->hit->skeleton));
        ok = ok ? set(p, "lookalike", l) : (json_decref(l), false);
    }
    json_decref(orgs);
    json_decref(names);
    json_decref(answers);
    json_decref(countries);
    json_decref(asns);
    if (!ok) {
        json_decref(p);
        return NULL;
    }
    return p;
}

static json_t *str_list(const char (*v)[3], size_t n, const char *extra)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = push(a, json_string(v[i]));
    if (ok && extra && extra[0] && !has_str(a, extra))
        ok = push(a, json_string(extra));
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *int_list(const int64_t *v, size_t n, int64_t extra)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = push(a, json_integer(v[i]));
    if (ok && extra >= 0 && !has_int(a, extra))
        ok = push(a, json_integer(extra));
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *geo_evidence(const pxd_geo_ev *ev, size_t cap)
{
    const pxd_geo *b = ev->before;
    json_t *p = json_object(), *before = json_object(), *after = json_object();
    json_t *answer = json_object(), *orgs = json_array();
    bool ok = p && before && after && answer && orgs;
    for (size_t i = 0; ok && i < cap_of(ev->n_orgs, cap); i++)
        ok = push(orgs, str(ev->orgs[i]));
    ok = ok && set(before, "countries", str_list(b->countries, b->n_countries, NULL));
    ok = ok && set(before, "asns", int_list(b->asns, b->n_asns, -1));
    ok = ok && set(after, "countries", str_list(b->countries, b->n_countries, ev->country));
    ok = ok && set(after, "asns", int_list(b->asns, b->n_asns, ev->asn));
    ok = ok && set(answer, "type", json_string(ev->rrtype)) && set(answer, "rdata", str(ev->rdata));
    ok = ok && set(answer, "country", json_string(ev->country));
    if (ok && ev->asn >= 0)
        ok = set(answer, "asn", json_integer(ev->asn));
    ok = ok && set(answer, "first_seen", time_str(ev->first));
    ok =
        ok && set(p, "orgs", json_incref(orgs)) && set(p, "history_first_seen", time_str(b->first));
    ok = ok && set(p, "before", json_incref(before)) && set(p, "after", json_incref(after));
    ok = ok && set(p, "new_answers", json_pack("[O]", answer));
    json_decref(before);
    json_decref(after);
    json_decref(answer);
    json_decref(orgs);
    if (!ok) {
        json_decref(p);
        return NULL;
    }
    return p;
}

typedef json_t *(*evidence_fn)(const void *ev, size_t cap);

static json_t *burst_fn(const void *ev, size_t cap)
{
    return burst_evidence(ev, cap);
}

static json_t *geo_fn(const void *ev, size_t cap)
{
    return geo_evidence(ev, cap);
}

/* The head with evidence of lists cut at cap; cap 0 and still too long:
 * the head alone. */
static px_err build(const pxd_alert_head *h, evidence_fn fn, const void *ev, char **out,
                    size_t *len)
{
    for (size_t cap = SIZE_MAX;; cap = cap > 64 ? 64 : cap / 2) {
        json_t *root = head_json(h);
        json_t *p = cap ? fn(ev, cap) : json_object();
        bool ok = root && p;
        if (ok && cap != SIZE_MAX)
            ok = json_object_set_new(p, "truncated", json_true()) == 0;
        if (!ok) {
            json_decref(root);
            json_decref(p);
            return PX_ERR_NOMEM;
        }
        ok = json_object_set_new(root, "pdnsx", p) == 0; /* takes p either way */
        char *text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (!text)
            return PX_ERR_NOMEM;
        size_t n = strlen(text);
        if (n <= PX_ALERT_JSON_MAX || cap == 0) {
            *out = text;
            *len = n;
            return PX_OK;
        }
        free(text);
    }
}

px_err pxd_json_burst(const pxd_alert_head *h, const pxd_burst_ev *ev, char **out, size_t *len)
{
    return build(h, burst_fn, ev, out, len);
}

px_err pxd_json_geo(const pxd_alert_head *h, const pxd_geo_ev *ev, char **out, size_t *len)
{
    return build(h, geo_fn, ev, out, len);
}
