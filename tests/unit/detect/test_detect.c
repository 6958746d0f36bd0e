/* test_detect.c: the detectors (detect/px_detect.h) against an in-memory
 * px_change_txn and a small store (detect_sim.h): issue 11's "What must
 * show it" list (a single-organisation flood, an old domain seen by many,
 * a slow spread, a CDN gaining a country, too little history, warm-up,
 * known domains, a restart in the middle of a burst, cooldown, every
 * look-alike class and unrelated names), replay determinism across
 * transaction cuts, the state codec, the alert JSON and its cut, the
 * settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/px_hash.h"
#include "detect/px_detect.h"
#include "detect_sim.h"
#include "px_detect_int.h"
#include "px_detect_json.h"

#define DAY 86400
#define T0 1764547200 /* 2025-12-01T00:00:00Z */
#define AFTER_WARMUP (T0 + 8 * DAY)

static px_detect *mk(const px_detect_opts *o)
{
    px_detect *d = NULL;
    char why[256] = "";
    px_err rc = px_detect_create(o, &d, why, sizeof why);
    if (rc != PX_OK)
        fail_msg("px_detect_create: %s (%s)", px_strerror(rc), why);
    return d;
}

static px_detect *mk_default(void)
{
    px_detect_opts o = px_detect_opts_default();
    return mk(&o);
}

/* Each test's store and detector (default options unless it sets its own). */
typedef struct fx {
    sim *s;
    px_detect *d;
} fx;

static int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->s = sim_create();
    f->d = mk_default();
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fx *f = *state;
    px_detect_destroy(f->d);
    sim_destroy(f->s);
    free(f);
    return 0;
}

/* The fixture's detector, made anew with o. */
static px_detect *fx_opts(fx *f, const px_detect_opts *o)
{
    px_detect_destroy(f->d);
    f->d = mk(o);
    return f->d;
}

static void commit(sim *s, px_detect *d)
{
    px_err rc = sim_commit(s, d);
    if (rc != PX_OK)
        fail_msg("transaction: %s", px_strerror(rc));
}

/* A store that has held a week of history: one domain seen at T0 and
 * again past the warm-up. */
static void warm(sim *s, px_detect *d)
{
    sim_obs(s, "org-a", "www.baseline.org", "A", "198.51.100.7", T0, T0 + 60, "DE", 3320);
    commit(s, d);
    sim_obs(s, "org-a", "www.baseline.org", "A", "198.51.100.7", AFTER_WARMUP - DAY,
            AFTER_WARMUP - DAY + 60, "DE", 3320);
    commit(s, d);
}

/* org seeing www.<dom> answered at t (one transaction). */
static void see(sim *s, px_detect *d, const char *org, const char *dom, int64_t t)
{
    char name[300];
    snprintf(name, sizeof name, "www.%s", dom);
    sim_obs(s, org, name, "A", "203.0.113.10", t, t + 30, "NL", 64500);
    commit(s, d);
}

/* Three organisations within 20 minutes from t. */
static void burst3(sim *s, px_detect *d, const char *dom, int64_t t)
{
    see(s, d, "org-a", dom, t);
    see(s, d, "org-b", dom, t + 600);
    see(s, d, "org-c", dom, t + 1200);
}

static json_t *parse(const sim_alert *a)
{
    json_error_t e;
    json_t *j = json_loadb(a->json, a->json_len, 0, &e);
    if (!j)
        fail_msg("alert JSON does not parse: %s (%s)", e.text, a->json);
    return j;
}

/* The value at a dotted path ("pdnsx.lookalike.method"); NULL if none. */
static json_t *at(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = json_object_get(j, k);
    return j;
}

static const char *at_str(json_t *j, const char *path)
{
    const char *s = json_string_value(at(j, path));
    if (!s)
        fail_msg("no string at %s", path);
    return s;
}

static void expect_id(const char *rule, const char *subj, unsigned n, const char *id)
{
    char buf[512], want[33];
    int len = snprintf(buf, sizeof buf, "%s%c%s%c%u", rule, 0, subj, 0, n);
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits(buf, (size_t)len));
    for (int i = 0; i < 16; i++)
        snprintf(want + 2 * i, 3, "%02x", c.digest[i]);
    assert_string_equal(id, want);
}

/* ---- the burst ---- */

static void test_burst_fires_once(void **state)
{
    fx *f = *state;
    static const char *const brands[] = {"paypal.com"};
    px_detect_opts o = px_detect_opts_default();
    o.brands = brands;
    o.n_brands = 1;
    sim *s = f->s;
    px_detect *d = fx_opts(f, &o);
    warm(s, d);
    see(s, d, "org-a", "paypa1.net", AFTER_WARMUP);
    see(s, d, "org-b", "paypa1.net", AFTER_WARMUP + 600);
    assert_int_equal(sim_alerts(s), 0);
    see(s, d, "org-c", "paypa1.net", AFTER_WARMUP + 1200);
    assert_int_equal(sim_alerts(s), 1);
    see(s, d, "org-d", "paypa1.net", AFTER_WARMUP + 1800);
    assert_int_equal(sim_alerts(s), 1); /* once per domain */
    assert_int_equal(px_detect_alerts(d, PX_DETECT_BURST), 1);
    assert_int_equal(px_detect_alerts(d, PX_DETECT_GEO), 0);

    const sim_alert *a = sim_alert_at(s, 0);
    assert_string_equal(a->rule, PX_DETECT_RULE_BURST);
    assert_string_equal(a->key, "paypa1.net");
    assert_int_equal(a->time, AFTER_WARMUP + 1200);
    assert_true(a->json_len <= PX_ALERT_JSON_MAX);
    expect_id(PX_DETECT_RULE_BURST, "paypa1.net", 0, a->id);
    json_t *j = parse(a);
    assert_string_equal(at_str(j, "@timestamp"), "2025-12-09T00:20:00Z");
    assert_string_equal(at_str(j, "event.kind"), "alert");
    assert_string_equal(at_str(j, "event.id"), a->id);
    assert_string_equal(at_str(j, "rule.name"), PX_DETECT_RULE_BURST);
    assert_string_equal(at_str(j, "dns.question.registered_domain"), "paypa1.net");
    assert_string_equal(at_str(j, "dns.question.name"), "www.paypa1.net");
    assert_string_equal(at_str(j, "threat.indicator.first_seen"), "2025-12-09T00:00:00Z");
    assert_int_equal(json_integer_value(at(j, "threat.indicator.sightings")), 3);
    json_t *orgs = at(j, "pdnsx.orgs");
    assert_int_equal(json_array_size(orgs), 3);
    assert_string_equal(json_string_value(json_array_get(orgs, 0)), "org-a");
    assert_string_equal(json_string_value(json_array_get(orgs, 2)), "org-c");
    assert_string_equal(json_string_value(json_array_get(at(j, "pdnsx.names"), 0)),
                        "www.paypa1.net");
    json_t *ans = json_array_get(at(j, "pdnsx.answers"), 0);
    assert_string_equal(at_str(ans, "rdata"), "203.0.113.10");
    assert_string_equal(json_string_value(json_array_get(at(j, "pdnsx.countries"), 0)), "NL");
    assert_int_equal(json_integer_value(json_array_get(at(j, "pdnsx.asns"), 0)), 64500);
    assert_int_equal(json_integer_value(at(j, "pdnsx.ttl.min")), 300);
    assert_string_equal(at_str(j, "pdnsx.lookalike.brand"), "paypal.com");
    assert_string_equal(at_str(j, "pdnsx.lookalike.method"), "homoglyph");
    assert_string_equal(at_str(j, "pdnsx.lookalike.skeleton"), "paypal");
    assert_int_equal(json_integer_value(at(j, "event.severity")), 5);
    assert_null(at(j, "pdnsx.truncated"));
    json_decref(j);
}

static void test_single_org_flood(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    warm(s, d);
    for (int txn = 0; txn < 5; txn++) {
        for (int i = 0; i < 40; i++) {
            char name[64];
            snprintf(name, sizeof name, "host%d.flood-new.net", i);
            int64_t t = AFTER_WARMUP + txn * 60 + i;
            sim_obs(s, "org-a", name, "A", "203.0.113.5", t, t, "NL", 64500);
        }
        commit(s, d);
    }
    see(s, d, "org-b", "flood-new.net", AFTER_WARMUP + 400);
    assert_int_equal(sim_alerts(s), 0); /* two organisations, however many queries */
    see(s, d, "org-c", "flood-new.net", AFTER_WARMUP + 500);
    assert_int_equal(sim_alerts(s), 1); /* the control: a third one makes it */
}

static void test_old_domain_many_orgs(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    warm(s, d);
    see(s, d, "org-a", "old-site.com", AFTER_WARMUP);
    size_t klen;
    char key[64];
    klen = (size_t)snprintf(key, sizeof key, "old-site.com%cb", 0);
    size_t vlen;
    assert_non_null(sim_state(s, key, klen, &vlen));
    int64_t later = AFTER_WARMUP + 2 * DAY;
    see(s, d, "org-b", "old-site.com", later);
    see(s, d, "org-c", "old-site.com", later + 60);
    see(s, d, "org-d", "old-site.com", later + 120);
    assert_int_equal(sim_alerts(s), 0);
    /* No longer new: its state is gone. */
    assert_null(sim_state(s, key, klen, &vlen));
}

/* A domain first seen in the warm-up is old for ever. */
static void test_warmup_domain_stays_old(void **state)
{
    fx *f = *state;
    sim_obs(f->s, "org-a", "www.baseline.org", "A", "198.51.100.7", T0, T0, NULL, -1);
    sim_obs(f->s, "org-a", "www.early.org", "A", "198.51.100.8", T0 + DAY, T0 + DAY, NULL, -1);
    commit(f->s, f->d);
    burst3(f->s, f->d, "early.org", AFTER_WARMUP);
    assert_int_equal(sim_alerts(f->s), 0);
}

static void test_slow_spread(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    warm(s, d);
    see(s, d, "org-a", "slow-new.net", AFTER_WARMUP);
    see(s, d, "org-b", "slow-new.net", AFTER_WARMUP + 7200);
    see(s, d, "org-c", "slow-new.net", AFTER_WARMUP + 14400);
    assert_int_equal(sim_alerts(s), 0);
    /* org-b again: now org-b and org-c are within the hour, with org-d a burst. */
    see(s, d, "org-d", "slow-new.net", AFTER_WARMUP + 14400 + 600);
    assert_int_equal(sim_alerts(s), 0);
    see(s, d, "org-b", "slow-new.net", AFTER_WARMUP + 14400 + 900);
    assert_int_equal(sim_alerts(s), 1);
    json_t *j = parse(sim_alert_at(s, 0));
    json_t *orgs = at(j, "pdnsx.orgs");
    assert_int_equal(json_array_size(orgs), 3);
    assert_string_equal(json_string_value(json_array_get(orgs, 0)), "org-b");
    json_decref(j);
}

static void test_warmup(void **state)
{
    (void)state;
    px_detect_opts o = px_detect_opts_default();
    for (int warmup = 0; warmup < 2; warmup++) {
        o.burst_warmup = warmup ? 604800 : 0;
        px_detect *d = mk(&o);
        sim *s = sim_create();
        sim_obs(s, "org-a", "www.baseline.org", "A", "198.51.100.7", T0, T0, NULL, -1);
        commit(s, d);
        burst3(s, d, "fresh-start.net", T0 + 3600);
        assert_int_equal(sim_alerts(s), warmup ? 0 : 1);
        sim_destroy(s);
        px_detect_destroy(d);
    }
}

static void test_known_domains(void **state)
{
    (void)state;
    static const char list[] = "# top sites\r\n1,known-new.net\r\n\n2,www.other-new.org.\n";
    px_detect_known *k = px_detect_known_create();
    char why[128] = "";
    assert_int_equal(px_detect_known_parse(k, list, sizeof list - 1, why, sizeof why), PX_OK);
    assert_int_equal(px_detect_known_count(k), 2);
    px_detect_opts o = px_detect_opts_default();
    o.known = k;
    px_detect *d = mk(&o);
    sim *s = sim_create();
    warm(s, d);
    burst3(s, d, "known-new.net", AFTER_WARMUP);
    burst3(s, d, "other-new.org", AFTER_WARMUP);
    assert_int_equal(sim_alerts(s), 0);
    burst3(s, d, "unknown-new.net", AFTER_WARMUP);
    assert_int_equal(sim_alerts(s), 1);
    sim_destroy(s);
    px_detect_destroy(d);
    px_detect_known_destroy(k);
}

static void bad_known(const char *text, const char *want)
{
    px_detect_known *k = px_detect_known_create();
    char why[128] = "";
    assert_int_equal(px_detect_known_parse(k, text, strlen(text), why, sizeof why),
                     PX_ERR_MALFORMED);
    if (!strstr(why, want))
        fail_msg("\"%s\": why \"%s\", want \"%s\"", text, why, want);
    px_detect_known_destroy(k);
}

static void test_known_parse(void **state)
{
    (void)state;
    px_detect_known *k = px_detect_known_create();
    static const char text[] = "Example.COM\n  # comment\n\t\n3, www.shop.example.co.uk \nlast.org";
    char why[128] = "";
    assert_int_equal(px_detect_known_parse(k, text, sizeof text - 1, why, sizeof why), PX_OK);
    assert_int_equal(px_detect_known_count(k), 3);
    assert_true(px_detect_known_has(k, "example.com", 11));
    assert_true(px_detect_known_has(k, "example.co.uk", 13));
    assert_true(px_detect_known_has(k, "last.org", 8));
    assert_false(px_detect_known_has(k, "shop.example.co.uk", 18));
    assert_false(px_detect_known_has(k, "example.org", 11));
    px_detect_known_destroy(k);
    bad_known("ok.com\nbad domain.com\n", "line 2: ");
    bad_known("ok.com\n\n# x\nx1,a.com", "line 4: rank");
    bad_known("-a.com", "line 1: label starting");
    bad_known("a..com", "line 1: empty label");
    bad_known("1,", "line 1: empty domain");
}

static void test_restart_mid_burst(void **state)
{
    fx *f = *state;
    px_detect_opts o = px_detect_opts_default();
    sim *s = f->s;
    warm(s, f->d);
    see(s, f->d, "org-a", "restart-new.net", AFTER_WARMUP);
    see(s, f->d, "org-b", "restart-new.net", AFTER_WARMUP + 60);
    /* A new process: all it knows is in the state. */
    see(s, fx_opts(f, &o), "org-c", "restart-new.net", AFTER_WARMUP + 120);
    assert_int_equal(sim_alerts(s), 1);
    see(s, fx_opts(f, &o), "org-d", "restart-new.net", AFTER_WARMUP + 180);
    see(s, f->d, "org-e", "restart-new.net", AFTER_WARMUP + 240);
    assert_int_equal(sim_alerts(s), 1);
}

static void test_abort_rolls_back(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    warm(s, d);
    see(s, d, "org-a", "abort-new.net", AFTER_WARMUP);
    see(s, d, "org-b", "abort-new.net", AFTER_WARMUP + 60);
    sim_obs(s, "org-c", "www.abort-new.net", "A", "203.0.113.10", AFTER_WARMUP + 120,
            AFTER_WARMUP + 120, NULL, -1);
    assert_int_equal(sim_abort(s, d), PX_OK);
    assert_int_equal(sim_alerts(s), 0);
    assert_int_equal(px_detect_alerts(d, PX_DETECT_BURST), 0);
    /* A failing state write fails the transaction. */
    sim_obs(s, "org-c", "www.abort-new.net", "A", "203.0.113.10", AFTER_WARMUP + 120,
            AFTER_WARMUP + 120, NULL, -1);
    sim_fail_next(s, PX_ERR_FULL);
    assert_int_equal(sim_commit(s, d), PX_ERR_FULL);
    assert_int_equal(sim_alerts(s), 0);
    see(s, d, "org-c", "abort-new.net", AFTER_WARMUP + 120);
    assert_int_equal(sim_alerts(s), 1);
    assert_int_equal(px_detect_alerts(d, PX_DETECT_BURST), 1);
    assert_true(px_detect_state_writes(d) > 0);
}

/* ---- the geo shift ---- */

/* www.bank-de.com answered in DE (AS 3320) since T0, seen again a week later. */
static void bank_history(sim *s, px_detect *d)
{
    sim_obs(s, "org-a", "www.bank-de.com", "A", "198.51.100.20", T0, T0 + 60, "DE", 3320);
    commit(s, d);
    sim_obs(s, "org-a", "www.bank-de.com", "A", "198.51.100.20", AFTER_WARMUP, AFTER_WARMUP, "DE",
            3320);
    commit(s, d);
}

static void new_answer(sim *s, px_detect *d, const char *org, const char *rdata, int64_t t,
                       const char *country, int64_t asn)
{
    sim_obs(s, org, "www.bank-de.com", "A", rdata, t, t + 10, country, asn);
    commit(s, d);
}

static void test_geo_shift(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    bank_history(s, d);
    new_answer(s, d, "org-b", "203.0.113.66", AFTER_WARMUP + 3600, "RU", 64666);
    assert_int_equal(sim_alerts(s), 1);
    const sim_alert *a = sim_alert_at(s, 0);
    assert_string_equal(a->rule, PX_DETECT_RULE_GEO);
    assert_string_equal(a->key, "bank-de.com");
    assert_int_equal(a->time, AFTER_WARMUP + 3600);
    expect_id(PX_DETECT_RULE_GEO, "www.bank-de.com", 0, a->id);
    json_t *j = parse(a);
    assert_string_equal(at_str(j, "dns.question.name"), "www.bank-de.com");
    assert_string_equal(at_str(j, "dns.question.registered_domain"), "bank-de.com");
    assert_int_equal(json_integer_value(at(j, "event.severity")), 4);
    assert_int_equal(json_array_size(at(j, "pdnsx.before.countries")), 1);
    assert_int_equal(json_array_size(at(j, "pdnsx.after.countries")), 2);
    assert_string_equal(json_string_value(json_array_get(at(j, "pdnsx.after.countries"), 1)), "RU");
    assert_int_equal(json_integer_value(json_array_get(at(j, "pdnsx.before.asns"), 0)), 3320);
    json_t *na = json_array_get(at(j, "pdnsx.new_answers"), 0);
    assert_string_equal(at_str(na, "rdata"), "203.0.113.66");
    assert_string_equal(at_str(na, "first_seen"), "2025-12-09T01:00:00Z");
    assert_string_equal(json_string_value(json_array_get(at(j, "pdnsx.orgs"), 0)), "org-b");
    assert_null(at(j, "pdnsx.lookalike")); /* only bursts carry it */
    json_decref(j);
    /* Known now: the same country again is no shift. */
    new_answer(s, d, "org-b", "203.0.113.67", AFTER_WARMUP + 7200, "RU", 64666);
    assert_int_equal(sim_alerts(s), 1);
    assert_int_equal(px_detect_alerts(d, PX_DETECT_GEO), 1);
}

static void test_geo_negatives(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    /* Another country, the same network: no shift. */
    bank_history(s, d);
    new_answer(s, d, "org-b", "198.51.100.21", AFTER_WARMUP + 60, "NL", 3320);
    /* No GeoIP answer: nothing to judge. */
    new_answer(s, d, "org-b", "198.51.100.22", AFTER_WARMUP + 120, NULL, -1);
    assert_int_equal(sim_alerts(s), 0);
}

/* Too little history: a day old; the same a week on alerts. */
static void test_geo_little_history(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    new_answer(s, d, "org-a", "198.51.100.20", AFTER_WARMUP, "DE", 3320);
    new_answer(s, d, "org-b", "203.0.113.66", AFTER_WARMUP + DAY, "RU", 64666);
    assert_int_equal(sim_alerts(s), 0);
    new_answer(s, d, "org-b", "203.0.113.99", AFTER_WARMUP + 8 * DAY, "CN", 64777);
    assert_int_equal(sim_alerts(s), 1);
}

/* State is written only when it changes, and not at all for names with no
 * GeoIP answer (the cost of detection in the merge). */
static void test_geo_writes_only_changes(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    bank_history(s, d);
    uint64_t w0 = px_detect_state_writes(d);
    size_t k0 = sim_state_keys(s);
    new_answer(s, d, "org-b", "198.51.100.21", AFTER_WARMUP - 100, "DE", 3320);
    assert_int_equal(px_detect_state_writes(d), w0);
    sim_obs(s, "org-b", "www.nogeo-shop.com", "A", "198.51.100.30", T0 + 60, T0 + 60, NULL, -1);
    sim_obs(s, "org-b", "www.nogeo-shop.com", "AAAA", "2001:db8::30", T0 + 60, T0 + 60, NULL, -1);
    commit(s, d);
    assert_int_equal(sim_state_keys(s), k0);
    assert_int_equal(px_detect_state_writes(d), w0);
    /* A new country is a change (and here a shift). */
    new_answer(s, d, "org-b", "203.0.113.66", AFTER_WARMUP - 50, "RU", 64666);
    assert_int_equal(px_detect_state_writes(d), w0 + 1);
    assert_int_equal(sim_alerts(s), 1);
}

static void test_geo_cdn(void **state)
{
    fx *f = *state;
    sim *s = f->s;
    px_detect *d = f->d;
    static const struct {
        const char *ip, *cc;
        int64_t asn;
    } spread[] = {{"198.51.100.1", "US", 13335},
                  {"198.51.100.2", "DE", 13335},
                  {"198.51.100.3", "NL", 13335}};
    for (size_t i = 0; i < 3; i++) {
        sim_obs(s, "org-a", "cdn.shop-assets.net", "A", spread[i].ip, T0 + (int64_t)i * DAY,
                T0 + (int64_t)i * DAY, spread[i].cc, spread[i].asn);
        commit(s, d);
    }
    sim_obs(s, "org-b", "cdn.shop-assets.net", "A", "203.0.113.1", AFTER_WARMUP, AFTER_WARMUP, "BR",
            20940);
    commit(s, d);
    assert_int_equal(sim_alerts(s), 0);
}

static void test_geo_cooldown(void **state)
{
    fx *f = *state;
    px_detect_opts o = px_detect_opts_default();
    o.geo_max_countries = 8;
    o.geo_max_asns = 8;
    sim *s = f->s;
    px_detect *d = fx_opts(f, &o);
    bank_history(s, d);
    new_answer(s, d, "org-b", "203.0.113.66", AFTER_WARMUP + 60, "RU", 64666);
    new_answer(s, d, "org-b", "203.0.113.77", AFTER_WARMUP + 3600, "CN", 64777);
    assert_int_equal(sim_alerts(s), 1);
    new_answer(s, d, "org-b", "203.0.113.88", AFTER_WARMUP + 60 + DAY, "BR", 64888);
    assert_int_equal(sim_alerts(s), 2);
    const sim_alert *a = sim_alert_at(s, 0), *b = sim_alert_at(s, 1);
    assert_string_not_equal(a->id, b->id);
    expect_id(PX_DETECT_RULE_GEO, "www.bank-de.com", 1, b->id);
}

static void test_geo_min_orgs(void **state)
{
    fx *f = *state;
    px_detect_opts o = px_detect_opts_default();
    o.geo_min_orgs = 2;
    sim *s = f->s;
    px_detect *d = fx_opts(f, &o);
    bank_history(s, d);
    new_answer(s, d, "org-b", "203.0.113.66", AFTER_WARMUP + 60, "RU", 64666);
    assert_int_equal(sim_alerts(s), 0);
    new_answer(s, d, "org-b", "203.0.113.66", AFTER_WARMUP + 120, "RU", 64666);
    assert_int_equal(sim_alerts(s), 0);
    new_answer(s, d, "org-c", "203.0.113.66", AFTER_WARMUP + 600, "RU", 64666);
    assert_int_equal(sim_alerts(s), 1);
    assert_int_equal(sim_alert_at(s, 0)->time, AFTER_WARMUP + 610);
}

/* ---- look-alikes ---- */

static void test_lookalike_classes(void **state)
{
    fx *f = *state;
    static const char *const brands[] = {"paypal.com"};
    static const struct {
        const char *dom, *method; /* NULL: no likeness */
    } cases[] = {
        {"paypa1.net", "homoglyph"},    {"xn--pypal-4ve.com", "homoglyph"},
        {"paypalx.com", "edit"},        {"pypal.com", "edit"},
        {"payppal.com", "edit"},        {"paypak.com", "edit"},
        {"papyal.com", "edit"},         {"paypall.com", "edit"},
        {"paypel.com", "edit"},         {"pay-pal.com", "edit"},
        {"qaypal.com", "edit"},         {"paypal-secure.net", "token"},
        {"gardening-tips.net", NULL},   {"weatherstation.org", NULL},
        {"kitchen-recipes.info", NULL},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    px_detect_opts o = px_detect_opts_default();
    o.brands = brands;
    o.n_brands = 1;
    sim *s = f->s;
    px_detect *d = fx_opts(f, &o);
    warm(s, d);
    const char *orgs[] = {"org-a", "org-b", "org-c"};
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < N; i++) {
            char name[128];
            snprintf(name, sizeof name, "login.%s", cases[i].dom);
            int64_t t = AFTER_WARMUP + k * 600;
            sim_obs(s, orgs[k], name, "A", "203.0.113.50", t, t, "NL", 64500);
        }
        commit(s, d);
    }
    assert_int_equal(sim_alerts(s), N);
    for (size_t n = 0; n < N; n++) {
        const sim_alert *a = sim_alert_at(s, n);
        size_t i = 0;
        while (i < N && strcmp(cases[i].dom, a->key) != 0)
            i++;
        assert_true(i < N);
        json_t *j = parse(a);
        json_t *l = at(j, "pdnsx.lookalike");
        if (!cases[i].method) {
            if (l)
                fail_msg("%s carries a likeness", a->key);
            assert_int_equal(json_integer_value(at(j, "event.severity")), 2);
        } else {
            if (!l)
                fail_msg("%s: no likeness, want %s", a->key, cases[i].method);
            assert_string_equal(at_str(l, "method"), cases[i].method);
            assert_string_equal(at_str(l, "brand"), "paypal.com");
            assert_true(json_integer_value(at(j, "event.severity")) > 2);
        }
        json_decref(j);
    }
}

/* ---- replay determinism ---- */

typedef struct robs {
    const char *org;
    char name[64], rdata[32], cc[3];
    int64_t t, asn;
} robs;

/* A deterministic federation: 24 new domains seen by 1 to 5 orgs, each
 * org once, at times spread over two days; 6 names with a history and a
 * new answer a week later. Sorted by time. */
static size_t scenario(robs *v)
{
    static const char *const orgs[] = {"org-a", "org-b", "org-c", "org-d", "org-e"};
    uint64_t x = 42;
    size_t n = 0;
    for (int dm = 0; dm < 24; dm++) {
        int64_t t = AFTER_WARMUP + dm * 3000;
        int k = 1 + dm % 5;
        for (int o = 0; o < k; o++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            robs *r = &v[n++];
            *r = (robs){.org = orgs[o], .t = t + (int64_t)(x >> 33) % 5400, .asn = 64500 + dm};
            snprintf(r->name, sizeof r->name, "%s.new%02d-%s.net", o % 2 ? "www" : "mail", dm,
                     dm % 3 ? "shop" : "paypa1");
            snprintf(r->rdata, sizeof r->rdata, "203.0.113.%d", dm);
            memcpy(r->cc, "NL", 3);
        }
    }
    for (int nm = 0; nm < 6; nm++) {
        for (int step = 0; step < 2; step++) {
            robs *r = &v[n++];
            *r = (robs){.org = orgs[nm % 5],
                        .t = step ? AFTER_WARMUP + 3 * DAY + nm : T0 + DAY + nm,
                        .asn = step && nm % 2 ? 64999 : 3320};
            snprintf(r->name, sizeof r->name, "www.bank%d.com", nm);
            snprintf(r->rdata, sizeof r->rdata, "198.51.100.%d", 100 + nm + 10 * step);
            memcpy(r->cc, step && nm % 2 ? "RU" : "DE", 3);
        }
    }
    for (size_t i = 1; i < n; i++) { /* insertion sort by time: stable */
        robs r = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1].t > r.t; j--)
            v[j] = v[j - 1];
        v[j] = r;
    }
    return n;
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The alerts of the scenario with transactions cut every `every`-th
 * observation (0: by a seeded random cut), as "time rule key id json"
 * lines sorted. */
static char *replay(int every, uint64_t seed)
{
    static const char *const brands[] = {"paypal.com"};
    px_detect_opts o = px_detect_opts_default();
    o.brands = brands;
    o.n_brands = 1;
    px_detect *d = mk(&o);
    sim *s = sim_create();
    warm(s, d);
    static robs v[256];
    size_t n = scenario(v);
    size_t in_txn = 0;
    for (size_t i = 0; i < n; i++) {
        sim_obs(s, v[i].org, v[i].name, "A", v[i].rdata, v[i].t, v[i].t, v[i].cc, v[i].asn);
        in_txn++;
        seed = seed * 6364136223846793005ULL + 1;
        bool cut = every ? in_txn == (size_t)every : (seed >> 60) == 0;
        if (cut || i + 1 == n) {
            commit(s, d);
            in_txn = 0;
        }
    }
    size_t na = sim_alerts(s);
    char **lines = calloc(na + 1, sizeof *lines);
    size_t total = 1;
    for (size_t i = 0; i < na; i++) {
        const sim_alert *a = sim_alert_at(s, i);
        if (asprintf(&lines[i], "%lld %s %s %s %s\n", (long long)a->time, a->rule, a->key, a->id,
                     a->json) < 0)
            fail();
        total += strlen(lines[i]);
    }
    qsort(lines, na, sizeof *lines, cmp_str_ptr);
    char *out = calloc(1, total);
    for (size_t i = 0; i < na; i++) {
        strcat(out, lines[i]);
        free(lines[i]);
    }
    free(lines);
    sim_destroy(s);
    px_detect_destroy(d);
    return out;
}

static void test_replay_cuts(void **state)
{
    (void)state;
    char *one = replay(1, 0);
    /* bursts: domains of 3, 4 and 5 orgs (whose spread fits the window);
     * shifts: three of the six banks. */
    assert_non_null(strstr(one, PX_DETECT_RULE_BURST));
    assert_non_null(strstr(one, PX_DETECT_RULE_GEO));
    assert_non_null(strstr(one, "\"lookalike\""));
    int cuts[] = {2, 7, 1000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char *other = replay(cuts[i], 0);
        assert_string_equal(other, one);
        free(other);
    }
    for (uint64_t seed = 1; seed < 4; seed++) {
        char *other = replay(0, seed);
        assert_string_equal(other, one);
        free(other);
    }
    free(one);
}

/* ---- state, JSON, settings ---- */

static void test_state_codec(void **state)
{
    (void)state;
    px_buf b = {0};
    pxd_burst *s = calloc(1, sizeof *s), *r = calloc(1, sizeof *r);
    s->fired = false;
    s->n_alerts = 3;
    s->last_alert = -5;
    s->first_seen = T0;
    s->n_orgs = 2;
    strcpy(s->orgs[0].name, "org-a");
    s->orgs[0].first = T0;
    s->orgs[0].last = T0 + 1;
    strcpy(s->orgs[1].name, "org-b");
    s->n_names = 1;
    strcpy(s->names[0], "www.x.net");
    s->n_answers = 1;
    s->answers[0] = (pxd_answer){.type = 28, .rdata = "2001:db8::1", .country = "NL", .asn = 7};
    s->has_ttl = true;
    s->ttl_min = 30;
    s->ttl_max = 86400;
    assert_int_equal(pxd_burst_encode(s, &b), PX_OK);
    assert_int_equal(pxd_burst_decode(px_buf_data(&b), px_buf_size(&b), r), PX_OK);
    assert_int_equal(memcmp(&r->orgs[0], &s->orgs[0], sizeof s->orgs[0]), 0);
    assert_string_equal(r->answers[0].rdata, "2001:db8::1");
    assert_int_equal(r->ttl_max, 86400);
    assert_int_equal(r->last_alert, -5);
    /* Cut anywhere, a byte more, another version: refused. */
    for (size_t n = 0; n < px_buf_size(&b); n++)
        assert_int_equal(pxd_burst_decode(px_buf_data(&b), n, r), PX_ERR_DAMAGED);
    uint8_t more[1024];
    memcpy(more, px_buf_data(&b), px_buf_size(&b));
    more[px_buf_size(&b)] = 0;
    assert_int_equal(pxd_burst_decode(more, px_buf_size(&b) + 1, r), PX_ERR_DAMAGED);
    more[0] = PXD_VERSION + 1;
    assert_int_equal(pxd_burst_decode(more, px_buf_size(&b), r), PX_ERR_DAMAGED);

    pxd_geo *g = calloc(1, sizeof *g), *g2 = calloc(1, sizeof *g2);
    g->first = T0;
    g->n_countries = 2;
    strcpy(g->countries[0], "DE");
    strcpy(g->countries[1], "AT");
    g->n_asns = 1;
    g->asns[0] = 3320;
    g->n_pending = 1;
    g->pending[0] = (pxd_pending){.rdata = "203.0.113.1", .country = "RU", .asn = -1, .first = 9};
    assert_int_equal(pxd_geo_encode(g, &b), PX_OK);
    assert_int_equal(pxd_geo_decode(px_buf_data(&b), px_buf_size(&b), g2), PX_OK);
    assert_string_equal(g2->countries[1], "AT");
    assert_int_equal(g2->pending[0].asn, -1);
    assert_string_equal(g2->pending[0].rdata, "203.0.113.1");
    pxd_meta m = {true, T0, T0 + 5}, m2;
    assert_int_equal(pxd_meta_encode(&m, &b), PX_OK);
    assert_int_equal(pxd_meta_decode(px_buf_data(&b), px_buf_size(&b), &m2), PX_OK);
    assert_int_equal(m2.watermark, T0 + 5);
    px_buf_free(&b);
    free(s);
    free(r);
    free(g);
    free(g2);
}

static void test_json_cut(void **state)
{
    (void)state;
    enum { N_ORGS = 2000 };
    char(*names)[40] = calloc(N_ORGS, 40);
    const char **orgs = calloc(N_ORGS, sizeof *orgs);
    for (int i = 0; i < N_ORGS; i++) {
        snprintf(names[i], 40, "organisation-with-a-long-id-%04d", i);
        orgs[i] = names[i];
    }
    pxd_geo before = {.first = T0, .n_countries = 1, .countries = {"DE"}};
    pxd_alert_head h = {.rule = PX_DETECT_RULE_GEO,
                        .id = "00112233445566778899aabbccddeeff",
                        .time = T0,
                        .severity = 4,
                        .name = "www.bank-de.com",
                        .domain = "bank-de.com",
                        .first_seen = T0,
                        .sightings = N_ORGS};
    pxd_geo_ev ev = {.before = &before,
                     .rdata = "203.0.113.1",
                     .rrtype = "A",
                     .country = "RU",
                     .asn = 1,
                     .first = T0,
                     .orgs = orgs,
                     .n_orgs = N_ORGS};
    char *json;
    size_t len;
    assert_int_equal(pxd_json_geo(&h, &ev, &json, &len), PX_OK);
    assert_true(len <= PX_ALERT_JSON_MAX);
    json_error_t e;
    json_t *j = json_loadb(json, len, 0, &e);
    assert_non_null(j);
    assert_true(json_is_true(at(j, "pdnsx.truncated")));
    assert_true(json_array_size(at(j, "pdnsx.orgs")) < N_ORGS);
    assert_string_equal(at_str(j, "event.id"), h.id);
    json_decref(j);
    free(json);
    ev.n_orgs = 3; /* small: whole */
    assert_int_equal(pxd_json_geo(&h, &ev, &json, &len), PX_OK);
    j = json_loadb(json, len, 0, &e);
    assert_null(at(j, "pdnsx.truncated"));
    assert_int_equal(json_array_size(at(j, "pdnsx.orgs")), 3);
    json_decref(j);
    free(json);
    free(orgs);
    free(names);
}

static const px_conf_item table[] = {{.include = px_detect_conf_items}, {.path = NULL}};

/* The problems of a config file with text, joined by '|'. */
static void conf_problems(const char *text, char *out, size_t cap, px_detect_opts *o)
{
    char path[] = "/tmp/test_detect_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    px_config *c = px_config_create(table);
    px_config_load_file(c, path);
    px_config_validate(c);
    out[0] = '\0';
    for (size_t i = 0; i < px_config_problem_count(c); i++) {
        strncat(out, px_config_problem(c, i), cap - strlen(out) - 2);
        strcat(out, "|");
    }
    if (o && !out[0]) {
        const char **brands = NULL;
        assert_int_equal(px_detect_opts_from_config(c, o, &brands), PX_OK);
        /* Only what the config holds is read afterwards. */
        assert_int_equal(o->n_brands, 1);
        assert_string_equal(o->brands[0], "paypal.com");
        free(brands);
    }
    px_config_destroy(c);
    unlink(path);
}

static void test_settings(void **state)
{
    (void)state;
    char p[2048];
    px_detect_opts o;
    conf_problems("detect = { burst = { orgs = 4; window = 600; }; rules = [\"pdnsx.geo_shift\"];\n"
                  "  brands = [\"paypal.com\"]; cooldown = 60; };\n",
                  p, sizeof p, &o);
    assert_string_equal(p, "");
    assert_int_equal(o.burst_orgs, 4);
    assert_int_equal(o.burst_window, 600);
    assert_int_equal(o.cooldown, 60);
    assert_false(o.rules[PX_DETECT_BURST]);
    assert_true(o.rules[PX_DETECT_GEO]);
    assert_int_equal(o.burst_new_for, 86400);
    assert_int_equal(o.geo_min_orgs, 1);
    conf_problems("\ndetect = { brands = [\"pay pal\"]; };\n", p, sizeof p, NULL);
    assert_non_null(strstr(p, ":2:"));
    assert_non_null(strstr(p, "pay pal"));
    conf_problems("detect = { brands = [\"www.paypal.com\"]; };\n", p, sizeof p, NULL);
    assert_non_null(strstr(p, "www.paypal.com"));
    conf_problems("detect = { burst = { orgs = 1; }; };\n", p, sizeof p, NULL);
    assert_non_null(strstr(p, "detect.burst.orgs"));
    conf_problems("detect = { rules = [\"pdnsx.nope\"]; };\n", p, sizeof p, NULL);
    assert_non_null(strstr(p, "pdnsx.nope"));
    conf_problems("detect = { known_domains = \"\"; };\n", p, sizeof p, NULL);
    assert_non_null(strstr(p, "detect.known_domains"));
    /* The defaults make a detector. */
    px_detect_opts def = px_detect_opts_default();
    px_detect *d = mk(&def);
    px_detect_destroy(d);
    def.burst_orgs = 1;
    char why[128] = "";
    assert_int_equal(px_detect_create(&def, &d, why, sizeof why), PX_ERR_INVAL);
    assert_non_null(strstr(why, "detect.burst.orgs"));
}

/* Every test gets a fresh store and detector (some make their own too). */
#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX(test_burst_fires_once),
        FX(test_single_org_flood),
        FX(test_old_domain_many_orgs),
        FX(test_warmup_domain_stays_old),
        FX(test_slow_spread),
        FX(test_warmup),
        FX(test_known_domains),
        FX(test_known_parse),
        FX(test_restart_mid_burst),
        FX(test_abort_rolls_back),
        FX(test_geo_shift),
        FX(test_geo_negatives),
        FX(test_geo_little_history),
        FX(test_geo_writes_only_changes),
        FX(test_geo_cdn),
        FX(test_geo_cooldown),
        FX(test_geo_min_orgs),
        FX(test_lookalike_classes),
        FX(test_replay_cuts),
        FX(test_state_codec),
        FX(test_json_cut),
        FX(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
