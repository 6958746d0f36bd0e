/* fuzz_store.c: libFuzzer harness over the store's value decoders and key
 * checks (what a corrupt or hostile data file feeds them). The first byte
 * picks: a record or domain value (whatever decodes must encode again to
 * the same bytes), the format row (likewise, checksum included), or a key
 * of the table byte 1 names (checked, then printed for a report; for the
 * change feed reader's tables, the rest checked as its value too, and an
 * alert that decodes must hold what it says). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_store_int.h"

static void check_rec(const uint8_t *data, size_t len)
{
    pxs_rec r = {0};
    px_buf out = {0};
    if (pxs_rec_decode(data, len, &r) == PX_OK) {
        if (pxs_rec_encode(&r, &out) != PX_OK)
            abort();
        /* canonical varints only are re-encoded identically; decode again */
        pxs_rec r2 = {0};
        if (pxs_rec_decode(out.p, out.len, &r2) != PX_OK || r2.count != r.count ||
            r2.first != r.first || r2.last != r.last || r2.n_orgs != r.n_orgs ||
            r2.flags != r.flags)
            abort();
        for (size_t i = 0; i < r.n_orgs; i++)
            if (r2.orgs[i].id != r.orgs[i].id || r2.orgs[i].first != r.orgs[i].first ||
                r2.orgs[i].last != r.orgs[i].last)
                abort();
        pxs_rec_release(&r2);
    }
    pxs_rec_release(&r);
    free(out.p);
}

static void check_dom(const uint8_t *data, size_t len)
{
    pxs_dom d = {0};
    px_buf out = {0};
    if (pxs_dom_decode(data, len, &d) == PX_OK) {
        if (pxs_dom_encode(&d, &out) != PX_OK)
            abort();
        pxs_dom d2 = {0};
        if (pxs_dom_decode(out.p, out.len, &d2) != PX_OK || d2.first != d.first ||
            d2.last != d.last || d2.n_orgs != d.n_orgs ||
            (d.n_orgs && memcmp(d.orgs, d2.orgs, d.n_orgs * sizeof *d.orgs)))
            abort();
        pxs_dom_release(&d2);
    }
    pxs_dom_release(&d);
    free(out.p);
}

static void check_meta(const uint8_t *data, size_t len)
{
    pxs_meta_row m;
    px_buf out = {0};
    if (pxs_meta_decode(data, len, &m) == PX_OK) {
        if (pxs_meta_encode(&m, &out) != PX_OK)
            abort();
        pxs_meta_row m2;
        if (pxs_meta_decode(out.p, out.len, &m2) != PX_OK || m2.format != m.format ||
            m2.n_tables != m.n_tables ||
            memcmp(m2.entries, m.entries, m.n_tables * sizeof m.entries[0]))
            abort();
    }
    free(out.p);
}

static void check_key(const uint8_t *data, size_t len)
{
    if (len < 1)
        return;
    int dbi = data[0] % DBI__N;
    const char *why = pxs_key_check(dbi, data + 1, len - 1, 511);
    char text[400];
    pxs_key_text(dbi, data + 1, len - 1, 511, text, sizeof text);
    if (strlen(text) >= sizeof text)
        abort();
    if (!why && dbi == DBI_REC) { /* a record value against a key that passed */
        pxs_rec r = {0};
        if (pxs_rec_decode(data + 1, len - 1, &r) == PX_OK)
            pxs_rec_key_fit(&r, data + 1, len - 1, 511);
        pxs_rec_release(&r);
    }
    if (dbi >= DBI_STATE) { /* the same bytes as a value of that table */
        const char *vwhy = pxs_feed_value_check(dbi, data + 1, len - 1);
        px_alert a;
        static const uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 1};
        px_err aerr = pxs_alert_decode(seq, data + 1, len - 1, &a);
        if (dbi == DBI_ALERT && (aerr == PX_OK) != (vwhy == NULL))
            abort();
        if (aerr == PX_OK && (strlen(a.json) != a.json_len || !a.rule[0] || !a.key[0] || !a.id[0] ||
                              a.json_len > PX_ALERT_JSON_MAX))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        check_dom(data + 1, size - 1);
        break;
    case 1:
        check_rec(data + 1, size - 1);
        break;
    case 2:
        check_meta(data + 1, size - 1);
        break;
    default:
        check_key(data + 1, size - 1);
    }
    return 0;
}
