/* px_detect_state.c: the state codec (px_detect_int.h). Every value
 * starts with PXD_VERSION; a decoder refuses anything it did not write
 * (the store checksums its pages, so a refusal means a bug or a value of
 * another version: the transaction fails rather than deciding on it). */
#include <string.h>

#include "core/px_wire.h"
#include "px_detect_int.h"

void pxd_copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n > cap - 1)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

px_err pxd_key(px_buf *b, const char *dom, size_t dlen, char rule, const char *subj, size_t slen)
{
    uint8_t sep[2] = {0, (uint8_t)rule};
    px_buf_clear(b);
    px_err err = px_buf_append(b, dom, dlen);
    if (!err)
        err = px_buf_append(b, sep, 2);
    if (!err)
        err = px_buf_append(b, subj, slen);
    return err;
}

/* ---- writing: errors are sticky in *err ---- */

static void put_u(px_buf *b, px_err *err, uint64_t v)
{
    if (!*err)
        *err = px_buf_put_varint(b, v);
}

static void put_i(px_buf *b, px_err *err, int64_t v)
{
    put_u(b, err, px_zigzag(v));
}

static void put_s(px_buf *b, px_err *err, const char *s)
{
    size_t n = strlen(s);
    put_u(b, err, n);
    if (!*err)
        *err = px_buf_append(b, s, n);
}

static void put_head(px_buf *b, px_err *err)
{
    uint8_t v = PXD_VERSION;
    px_buf_clear(b);
    *err = px_buf_append(b, &v, 1);
}

/* ---- reading: the cursor's error is sticky ---- */

static uint64_t get_u(px_wire *w)
{
    return px_wire_varint(w, 10);
}

static int64_t get_i(px_wire *w)
{
    return px_unzigzag(px_wire_varint(w, 10));
}

/* A count of at most max. */
static size_t get_n(px_wire *w, size_t max)
{
    uint64_t n = get_u(w);
    if (n > max)
        px_wire_fail(w, PX_ERR_MALFORMED);
    return w->err ? 0 : (size_t)n;
}

/* A string of 0 to cap - 1 octets with no NUL. */
static void get_s(px_wire *w, char *dst, size_t cap)
{
    size_t n = get_n(w, cap - 1);
    const uint8_t *p = px_wire_bytes(w, n);
    if (!p || memchr(p, 0, n)) {
        px_wire_fail(w, PX_ERR_MALFORMED);
        dst[0] = '\0';
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static void get_head(px_wire *w, const uint8_t *v, size_t n)
{
    px_wire_init(w, v, n);
    if (px_wire_u8(w) != PXD_VERSION)
        px_wire_fail(w, PX_ERR_MALFORMED);
}

static px_err get_end(const px_wire *w)
{
    return w->err || px_wire_avail(w) ? PX_ERR_DAMAGED : PX_OK;
}

/* ---- meta ---- */

px_err pxd_meta_encode(const pxd_meta *m, px_buf *b)
{
    px_err err;
    put_head(b, &err);
    put_u(b, &err, m->has_epoch);
    put_i(b, &err, m->epoch);
    put_i(b, &err, m->watermark);
    return err;
}

px_err pxd_meta_decode(const uint8_t *v, size_t n, pxd_meta *m)
{
    px_wire w;
    get_head(&w, v, n);
    m->has_epoch = get_n(&w, 1) == 1;
    m->epoch = get_i(&w);
    m->watermark = get_i(&w);
    return get_end(&w);
}

/* ---- burst ---- */

static void put_answer(px_buf *b, px_err *err, const pxd_answer *a)
{
    put_u(b, err, a->type);
    put_s(b, err, a->rdata);
    put_s(b, err, a->country);
    put_i(b, err, a->asn);
}

static void get_answer(px_wire *w, pxd_answer *a)
{
    uint64_t type = get_u(w);
    if (type > UINT16_MAX)
        px_wire_fail(w, PX_ERR_MALFORMED);
    a->type = (uint16_t)type;
    get_s(w, a->rdata, sizeof a->rdata);
    get_s(w, a->country, sizeof a->country);
    a->asn = get_i(w);
}

px_err pxd_burst_encode(const pxd_burst *s, px_buf *b)
{
    px_err err;
    put_head(b, &err);
    put_u(b, &err, s->fired);
    put_u(b, &err, s->n_alerts);
    put_i(b, &err, s->last_alert);
    put_i(b, &err, s->first_seen);
    put_u(b, &err, s->n_orgs);
    for (size_t i = 0; i < s->n_orgs; i++) {
        put_s(b, &err, s->orgs[i].name);
        put_i(b, &err, s->orgs[i].first);
        put_i(b, &err, s->orgs[i].last);
    }
    put_u(b, &err, s->n_names);
    for (size_t i = 0; i < s->n_names; i++)
        put_s(b, &err, s->names[i]);
    put_u(b, &err, s->n_answers);
    for (size_t i = 0; i < s->n_answers; i++)
        put_answer(b, &err, &s->answers[i]);
    put_u(b, &err, s->has_ttl);
    put_u(b, &err, s->ttl_min);
    put_u(b, &err, s->ttl_max);
    return err;
}

px_err pxd_burst_decode(const uint8_t *v, size_t n, pxd_burst *s)
{
    px_wire w;
    get_head(&w, v, n);
    s->fired = get_n(&w, 1) == 1;
    s->n_alerts = get_u(&w);
    s->last_alert = get_i(&w);
    s->first_seen = get_i(&w);
    s->n_orgs = get_n(&w, PXD_ORGS_MAX);
    for (size_t i = 0; i < s->n_orgs; i++) {
        get_s(&w, s->orgs[i].name, sizeof s->orgs[i].name);
        s->orgs[i].first = get_i(&w);
        s->orgs[i].last = get_i(&w);
    }
    s->n_names = get_n(&w, PXD_NAMES_MAX);
    for (size_t i = 0; i < s->n_names; i++)
        get_s(&w, s->names[i], sizeof s->names[i]);
    s->n_answers = get_n(&w, PXD_ANSWERS_MAX);
    for (size_t i = 0; i < s->n_answers; i++)
        get_answer(&w, &s->answers[i]);
    s->has_ttl = get_n(&w, 1) == 1;
    uint64_t lo = get_u(&w), hi = get_u(&w);
    if (lo > UINT32_MAX || hi > UINT32_MAX)
        px_wire_fail(&w, PX_ERR_MALFORMED);
    s->ttl_min = (uint32_t)lo;
    s->ttl_max = (uint32_t)hi;
    return get_end(&w);
}

/* ---- geo ---- */

px_err pxd_geo_encode(const pxd_geo *s, px_buf *b)
{
    px_err err;
    put_head(b, &err);
    put_i(b, &err, s->first);
    put_u(b, &err, s->n_alerts);
    put_i(b, &err, s->last_alert);
    put_u(b, &err, s->n_countries);
    for (size_t i = 0; i < s->n_countries; i++)
        put_s(b, &err, s->countries[i]);
    put_u(b, &err, s->n_asns);
    for (size_t i = 0; i < s->n_asns; i++)
        put_i(b, &err, s->asns[i]);
    put_u(b, &err, s->n_pending);
    for (size_t i = 0; i < s->n_pending; i++) {
        const pxd_pending *p = &s->pending[i];
        put_s(b, &err, p->rdata);
        put_s(b, &err, p->country);
        put_i(b, &err, p->asn);
        put_i(b, &err, p->first);
    }
    return err;
}

px_err pxd_geo_decode(const uint8_t *v, size_t n, pxd_geo *s)
{
    px_wire w;
    get_head(&w, v, n);
    s->first = get_i(&w);
    s->n_alerts = get_u(&w);
    s->last_alert = get_i(&w);
    s->n_countries = get_n(&w, PXD_COUNTRIES_MAX);
    for (size_t i = 0; i < s->n_countries; i++)
        get_s(&w, s->countries[i], sizeof s->countries[i]);
    s->n_asns = get_n(&w, PXD_ASNS_MAX);
    for (size_t i = 0; i < s->n_asns; i++)
        s->asns[i] = get_i(&w);
    s->n_pending = get_n(&w, PXD_PENDING_MAX);
    for (size_t i = 0; i < s->n_pending; i++) {
        pxd_pending *p = &s->pending[i];
        get_s(&w, p->rdata, sizeof p->rdata);
        get_s(&w, p->country, sizeof p->country);
        p->asn = get_i(&w);
        p->first = get_i(&w);
    }
    return get_end(&w);
}
