/* fuzz_store_rows.c: libFuzzer harness over the changelog's restore: what
 * a hostile or damaged changelog topic feeds px_store_apply_rows. The
 * input is a list of messages: a key length byte, the key (the table's
 * byte, then the row's key), a flags byte (bit 0: a tombstone; bit 1: the
 * harness seals the value with its checksum, so that mutations reach the
 * value decoders behind it), a value length byte and the value. Each
 * message goes through px_store_row_from_msg (what it refuses is skipped,
 * as a consumer would skip it); the rows are applied in one call, which
 * must write all or nothing. Never a crash; after every input the store
 * verifies clean (no row the call accepts makes it damaged) and answers
 * lookups. The store is replaced every 2,000 inputs to stay small. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_store_int.h"
#include "store/px_store.h"
#include "store_tmp.h"

#define MAX_ROWS 64

static pxt_tmp_store tmp;
static px_store *store;
static unsigned runs;

/* The table of a changelog byte (px_store.h), for sealing. */
static int table_of(uint8_t t)
{
    static const uint8_t bytes[DBI__N] = {
        PX_STORE_TABLE_REC,   PX_STORE_TABLE_RDX,   PX_STORE_TABLE_DOM,   PX_STORE_TABLE_OFF,
        PX_STORE_TABLE_ORG_N, PX_STORE_TABLE_ORG_I, PX_STORE_TABLE_ASO_N, PX_STORE_TABLE_ASO_I,
        PX_STORE_TABLE_STATE, PX_STORE_TABLE_ALERT, PX_STORE_TABLE_SINK};
    for (int i = 0; i < DBI__N; i++) {
        if (bytes[i] == t)
            return i;
    }
    return -1;
}

typedef struct input {
    px_store_row rows[MAX_ROWS];
    uint8_t vals[MAX_ROWS][256 + PXS_SUM_LEN];
    size_t n;
} input;

/* One message from the cursor; false at the end of the input. */
static bool next_msg(const uint8_t **p, const uint8_t *end, input *in)
{
    if (end - *p < 1 || (size_t)(end - *p) < 1u + (*p)[0] + 2)
        return false;
    size_t kl = (*p)[0];
    const uint8_t *key = *p + 1;
    uint8_t flags = key[kl], vl = key[kl + 1];
    const uint8_t *val = key + kl + 2;
    if ((size_t)(end - val) < vl)
        return false;
    *p = val + vl;
    uint8_t *v = in->vals[in->n];
    memcpy(v, val, vl);
    px_buf b = {.p = v, .len = vl, .cap = sizeof in->vals[0], .max = sizeof in->vals[0]};
    int dbi = kl ? table_of(key[0]) : -1;
    if ((flags & 2) && dbi >= 0)
        pxs_val_seal(dbi, key + 1, kl - 1, &b);
    px_store_row *r = &in->rows[in->n];
    if (px_store_row_from_msg(key, kl, flags & 1 ? NULL : v, b.len, r) == PX_OK)
        in->n++;
    return in->n < MAX_ROWS;
}

static bool on_rec(void *ctx, const px_store_rec *r)
{
    (void)ctx;
    return r->rrname[0] != 0;
}

static bool on_alert(void *ctx, const px_alert *a)
{
    (void)ctx;
    return a->seq != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (tmp.s && ++runs % 2000 == 0)
        pxt_tmp_store_drop(&tmp);
    if (!tmp.s)
        store =
            pxt_tmp_store_open(&tmp, "fuzz-store-rows", &(px_store_opts){.map_bytes = 1ULL << 30});
    static input in;
    in.n = 0;
    const uint8_t *p = data, *end = data + size;
    while (next_msg(&p, end, &in))
        ;
    int64_t before = -1, after = -1;
    px_err had = px_store_changelog_next(store, &before);
    px_err err = px_store_apply_rows(store, in.rows, in.n, (int64_t)size);
    if (err != PX_OK && err != PX_ERR_MALFORMED)
        abort();
    if (px_store_changelog_next(store, &after) != PX_OK && (err == PX_OK || had == PX_OK))
        abort();
    if (err == PX_ERR_MALFORMED && had == PX_OK && after != before)
        abort(); /* a refused call wrote its position */
    px_store_verify_result vr;
    if (px_store_verify(store, PX_STORE_CHECK_FULL, &vr) != PX_OK || vr.findings)
        abort();
    px_store_lookup l = {
        .by = PX_STORE_BY_ZONE, .name = ".", .name_len = 1, .rrtype = PX_STORE_ANY_TYPE};
    px_store_find(store, &l, NULL, on_rec, NULL); /* a dictionary id may be missing */
    px_store_alerts(store, 1, NULL, NULL, on_alert, NULL);
    return 0;
}
