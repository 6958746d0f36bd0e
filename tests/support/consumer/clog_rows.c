#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "clog_rows.h"

void pxt_row_make(pxt_row *r, int p, unsigned key, unsigned version, bool tomb)
{
    r->key[0] = (uint8_t)(1 + key % 11); /* a table tag */
    r->key_len = 1 + (size_t)snprintf((char *)r->key + 1, sizeof(r->key) - 1, "K%d.%u", p, key);
    r->val = NULL;
    r->val_len = 0;
    if (tomb)
        return;
    r->val_len = 16 + (key * 37 + version) % 300;
    r->val = malloc(r->val_len);
    assert_non_null(r->val);
    memset(r->val, 'a' + (int)(version % 26), r->val_len);
    snprintf((char *)r->val, r->val_len, "V%d.%u.%u", p, key, version);
}

px_changelog_msg pxt_row_msg(const pxt_row *r)
{
    return (px_changelog_msg){r->key, r->key_len, r->val, r->val_len};
}

void pxt_rows_make(pxt_row *rows, px_changelog_msg *m, size_t n, int p, unsigned version, int tomb)
{
    for (size_t i = 0; i < n; i++) {
        pxt_row_make(&rows[i], p, (unsigned)i, version, (int)i == tomb);
        if (m)
            m[i] = pxt_row_msg(&rows[i]);
    }
}

void pxt_rows_free(pxt_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rows[i].val);
}

int64_t pxt_publish(px_changelog *cl, int32_t p, const pxt_row *rows, size_t n)
{
    px_changelog_msg *m = calloc(n, sizeof(*m));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++)
        m[i] = pxt_row_msg(&rows[i]);
    int64_t next = -7;
    char why[512] = "";
    px_err err = px_changelog_publish(cl, p, m, n, NULL, &next, why, sizeof(why));
    if (err != PX_OK)
        fail_msg("publish: %s: %s", px_strerror(err), why);
    free(m);
    return next;
}

size_t pxt_publish_rounds(px_changelog *cl, unsigned keys, unsigned rounds, int tomb, pxt_row *last)
{
    pxt_row *tx = calloc(keys, sizeof(*tx));
    assert_non_null(tx);
    for (unsigned v = 0; v < rounds; v++) {
        pxt_rows_make(tx, NULL, keys, 0, v, v == rounds - 1 ? tomb : -1);
        pxt_publish(cl, 0, tx, keys);
        if (v < rounds - 1)
            pxt_rows_free(tx, keys);
    }
    memcpy(last, tx, keys * sizeof(*tx));
    free(tx);
    return (size_t)keys * rounds;
}

px_err pxt_collect(void *ctx, const px_changelog_msg *m, size_t n, int64_t next)
{
    pxt_got *g = ctx;
    if (g->fail_with != PX_OK)
        return g->fail_with;
    assert_true(n <= PX_CHANGELOG_CHUNK);
    assert_true(next > g->next);
    if (g->n + n > g->cap) {
        g->cap = (g->n + n) * 2;
        g->rows = realloc(g->rows, g->cap * sizeof(*g->rows));
        assert_non_null(g->rows);
    }
    for (size_t i = 0; i < n; i++) {
        pxt_row *r = &g->rows[g->n++];
        assert_true(m[i].key_len <= sizeof(r->key));
        memcpy(r->key, m[i].key, m[i].key_len);
        r->key_len = m[i].key_len;
        r->val = NULL;
        r->val_len = m[i].val_len;
        if (m[i].val) {
            r->val = malloc(m[i].val_len ? m[i].val_len : 1);
            assert_non_null(r->val);
            memcpy(r->val, m[i].val, m[i].val_len);
        }
    }
    g->calls++;
    g->next = next;
    return PX_OK;
}

void pxt_got_free(pxt_got *g)
{
    pxt_rows_free(g->rows, g->n);
    free(g->rows);
}

pxt_got pxt_restore(px_changelog *cl, int32_t p, int64_t from)
{
    pxt_got have = {.next = -1};
    char why[512] = "";
    px_err err = px_changelog_restore(cl, p, from, pxt_collect, &have, why, sizeof(why));
    if (err != PX_OK)
        fail_msg("restore: %s: %s", px_strerror(err), why);
    return have;
}

void pxt_assert_rows(const pxt_row *want, size_t n_want, const pxt_row *have, size_t n_have)
{
    assert_int_equal(n_have, n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_int_equal(have[i].key_len, want[i].key_len);
        assert_memory_equal(have[i].key, want[i].key, want[i].key_len);
        if (!want[i].val) {
            assert_null(have[i].val);
            continue;
        }
        assert_non_null(have[i].val);
        assert_int_equal(have[i].val_len, want[i].val_len);
        assert_memory_equal(have[i].val, want[i].val, want[i].val_len);
    }
}

const pxt_row *pxt_assert_last_values(const pxt_got *have, const pxt_row *last, size_t n, int tomb)
{
    const pxt_row *tombstone = NULL;
    for (size_t k = 0; k < n; k++) {
        const pxt_row *at = NULL;
        for (size_t i = 0; i < have->n; i++)
            if (have->rows[i].key_len == last[k].key_len &&
                memcmp(have->rows[i].key, last[k].key, last[k].key_len) == 0)
                at = &have->rows[i];
        if ((int)k == tomb) {
            tombstone = at;
            continue;
        }
        assert_non_null(at);
        pxt_assert_rows(&last[k], 1, at, 1);
    }
    return tombstone;
}
