/* fuzz_store_obs.c: libFuzzer harness over the store's own input record
 * (px_store_obs) and the change feed. The store takes canonical names and
 * rdata from its caller and checks only what it must to keep its file
 * sound; whatever it accepts must give a store its own full walk
 * (px_store_verify) finds sound, and a feed whose strings are what they
 * say.
 *
 * Input: lines (`\n`), one observation each, fields split by `\t`:
 * rrtype (decimal), rrname, rdata (for A/AAAA its raw bytes are the
 * address bytes), bailiwick, registered domain, org, count; a missing
 * field is NULL. Byte 0 of the input chooses the chunk size of big
 * batches (so that some batches go through the batch log) and whether to
 * abort instead of commit. The store is made afresh every 64 runs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/px_store.h"
#include "store_tmp.h"

static pxt_tmp_store tmp;
static px_store *store;
static unsigned runs;
static uint8_t chunk;

static bool enrich(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    (void)ctx;
    if (len != 4 && len != 16)
        abort();
    snprintf(out->country, sizeof out->country, "NL");
    out->asn = addr[0];
    snprintf(out->as_org, sizeof out->as_org, "AS %u", addr[len - 1] % 5);
    return addr[0] & 1;
}

static void check_names(const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!v[i] || !v[i][0])
            abort();
    }
}

static px_err on_change(void *ctx, const px_change *c)
{
    (void)ctx;
    if (c->kind == PX_CHANGE_RECORD_NEW || c->kind == PX_CHANGE_RECORD_GREW) {
        const px_change_record *r = &c->rec;
        if (strlen(r->rrname) != r->rrname_len || strlen(r->rdata) != r->rdata_len ||
            r->n_new_orgs > r->n_orgs || r->first > r->last ||
            ((r->rrtype == 1 || r->rrtype == 28) != (r->addr != NULL)))
            abort();
        check_names(r->orgs, r->n_orgs);
        check_names(r->new_orgs, r->n_new_orgs);
    } else {
        const px_change_domain *d = &c->dom;
        if (strlen(d->domain) != d->len || d->first_seen > d->last_seen ||
            d->n_new_orgs > d->n_orgs)
            abort();
        check_names(d->orgs, d->n_orgs);
        check_names(d->new_orgs, d->n_new_orgs);
    }
    return PX_OK;
}

static void open_store(void)
{
    px_store_opts o = {.map_bytes = 1ULL << 28,
                       .chunk_records = chunk,
                       .enrich = enrich,
                       .feed = {.change = on_change}};
    store = pxt_tmp_store_open(&tmp, "fuzz-store-obs", &o);
}

/* The next field of line[0..n) from *at, split by '\t'; NULL if none. */
static const char *field(const char *line, size_t n, size_t *at, size_t *len)
{
    if (*at > n)
        return NULL;
    const char *p = line + *at;
    const char *tab = memchr(p, '\t', n - *at);
    *len = tab ? (size_t)(tab - p) : n - *at;
    *at += *len + 1;
    return p;
}

static void merge_line(px_store_batch *b, const char *line, size_t n)
{
    size_t at = 0, len[7] = {0};
    const char *f[7];
    for (int i = 0; i < 7; i++)
        f[i] = field(line, n, &at, &len[i]);
    px_store_obs o = {.rrtype = f[0] ? (uint16_t)strtoul(f[0], NULL, 10) : 1,
                      .rrname = f[1],
                      .rrname_len = len[1],
                      .rdata = f[2],
                      .rdata_len = len[2],
                      .rdata_wire = (const uint8_t *)f[2],
                      .rdata_wire_len = len[2],
                      .bailiwick = f[3],
                      .bailiwick_len = len[3],
                      .regdom = f[4],
                      .regdom_len = len[4],
                      .count = len[6],
                      .time_first = (int64_t)n * 1000,
                      .time_last = (int64_t)(at * 7)};
    char org[64] = "";
    if (f[5]) {
        size_t l = len[5] < sizeof org - 1 ? len[5] : sizeof org - 1;
        memcpy(org, f[5], l);
        org[l] = 0;
        o.org = org;
    }
    bool known;
    px_store_batch_known(b, &o, &known);
    px_store_merge(b, &o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    if (!store || runs++ % 64 == 0) {
        pxt_tmp_store_drop(&tmp);
        chunk = (uint8_t)(data[0] % 8 + 1);
        open_store();
    }
    px_store_batch *b;
    if (px_store_batch_begin(store, &b) != PX_OK)
        abort();
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        merge_line(b, p, n);
        p += n + 1;
    }
    px_err err = PX_OK;
    if (data[0] & 0x80)
        px_store_batch_abort(b);
    else
        err = px_store_batch_commit(b);
    if (err != PX_OK)
        abort(); /* nothing the merges accepted may fail the commit */
    px_store_verify_result vr;
    if (px_store_verify(store, PX_STORE_CHECK_FULL, &vr) != PX_OK || vr.findings)
        abort();
    return 0;
}
