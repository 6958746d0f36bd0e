/* test_store_changelog.c: the store's changelog (docs/STORE.md, "The
 * changelog"). A source store publishes, through px_store_opts.changelog,
 * every replicated row its write transactions put or deleted: records of
 * several organisations (TXT, CNAME, MX, A and AAAA with GeoIP), domains,
 * a big batch (one transaction with a changelog, never the batch log),
 * the feed's state (rows put and deleted), its alerts, sink cursors and
 * offsets. Those rows, as Kafka messages and back, rebuild another store:
 * in one call, in many small ones, compacted (the last value of each key,
 * tombstones gone), and applied twice; each time px_store_verify passes
 * and every lookup, the outbox, the cursors, the offsets and every
 * replicated row equal the source's. A callback error rolls the
 * transaction back; a damaged row is refused with nothing written. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store/px_store.h"
#include "store_dump.h"
#include "store_text.h"
#include "px_store_batch.h"

/* ---- the changelog: rows kept as the messages a topic would hold ---- */

typedef struct msg {
    uint8_t key[PX_STORE_MSG_KEY_MAX];
    size_t key_len;
    uint8_t *val; /* NULL: tombstone */
    size_t val_len;
} msg;

typedef struct clog {
    msg *m;
    size_t n, cap;
    int calls;
    size_t last_call_rows;
    bool fail; /* the next call fails, as an unacknowledged send */
} clog;

static px_err on_rows(void *ctx, const px_store_row *rows, size_t n, int64_t *next)
{
    clog *c = ctx;
    c->calls++;
    assert_true(n > 0);
    if (c->fail) {
        c->fail = false;
        return PX_ERR_IO;
    }
    if (c->n + n > c->cap) {
        c->cap = (c->n + n) * 2;
        c->m = realloc(c->m, c->cap * sizeof *c->m);
        assert_non_null(c->m);
    }
    for (size_t i = 0; i < n; i++) {
        msg *m = &c->m[c->n++];
        assert_int_equal(px_store_row_to_msg(&rows[i], m->key, sizeof m->key, &m->key_len), PX_OK);
        m->val = NULL;
        m->val_len = rows[i].val_len;
        if (rows[i].val) {
            m->val = malloc(rows[i].val_len);
            assert_non_null(m->val);
            memcpy(m->val, rows[i].val, rows[i].val_len);
        }
    }
    c->last_call_rows = n;
    *next = (int64_t)c->n; /* the offset after these messages */
    return PX_OK;
}

static void clog_free(clog *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->m[i].val);
    free(c->m);
}

/* ---- the feed's reader: a counter, a row put and the previous one
 * deleted, one alert per transaction ---- */

static int spill_changes; /* changes of the record "spill.example" */

static px_err on_change(void *ctx, const px_change *c)
{
    (void)ctx;
    bool rec = c->kind == PX_CHANGE_RECORD_NEW || c->kind == PX_CHANGE_RECORD_GREW;
    if (rec && strcmp(c->rec.rrname, "spill.example") == 0)
        spill_changes++;
    return PX_OK;
}

static void on_end(void *ctx)
{
    (void)ctx;
}

static px_err on_prepare(void *ctx, px_change_txn *t)
{
    (void)ctx;
    const void *v;
    size_t vlen;
    uint64_t n = 0;
    if (t->get(t, "n", 1, &v, &vlen) == PX_OK)
        memcpy(&n, v, sizeof n);
    n++;
    char key[32], prev[32];
    snprintf(key, sizeof key, "w%" PRIu64, n);
    snprintf(prev, sizeof prev, "w%" PRIu64, n - 1);
    px_err err = t->put(t, "n", 1, &n, sizeof n);
    if (!err)
        err = t->put(t, key, strlen(key), "x", 1);
    if (!err)
        err = t->del(t, prev, strlen(prev)); /* a tombstone */
    char id[32], json[48];
    snprintf(id, sizeof id, "id-%" PRIu64, n);
    snprintf(json, sizeof json, "{\"n\":%" PRIu64 "}", n);
    px_alert a = {.time = 1764000000 + (int64_t)n,
                  .rule = "pdnsx.test",
                  .key = "example.com",
                  .id = id,
                  .json = json,
                  .json_len = strlen(json)};
    uint64_t seq;
    return err ? err : t->alert(t, &a, &seq);
}

/* GeoIP by the address's first byte. */
static bool geo_fn(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    (void)ctx;
    if (addr[0] == 198)
        return false;
    snprintf(out->country, sizeof out->country, "%s", len == 16 ? "DE" : "NL");
    out->asn = len == 16 ? 3320 : 1136;
    snprintf(out->as_org, sizeof out->as_org, "%s", len == 16 ? "Deutsche Telekom AG" : "KPN B.V.");
    return true;
}

/* ---- stores ---- */

typedef struct fix {
    char dir[64];
    px_store *src;
    clog c;
} fix;

static px_store *open_store(const char *dir, clog *c)
{
    px_err err;
    char eb[512];
    px_store_opts o = {.chunk_records = 64, .enrich = geo_fn};
    if (c) {
        o.changelog = on_rows;
        o.changelog_ctx = c;
        o.feed = (px_change_sink){on_change, on_end, on_end, NULL, on_prepare};
    }
    px_store *s = px_store_open(dir, &o, &err, eb, sizeof eb);
    if (!s)
        fail_msg("open %s: %s", dir, eb);
    return s;
}

static char *subdir(const fix *f, const char *name)
{
    static char p[4][128];
    static int i;
    char *out = p[i++ & 3];
    snprintf(out, sizeof p[0], "%s/%s", f->dir, name);
    return out;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pxstoreclog.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->src = open_store(subdir(f, "src"), &f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    char cmd[160];
    px_store_close(f->src);
    clog_free(&f->c);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static void merge(px_store_batch *b, const char *name, const char *type, const char *rdata,
                  const char *regdom, const char *org, int64_t t)
{
    px_avro_obs o = {.rrname = name,
                     .rrtype = type,
                     .rdata = rdata,
                     .bailiwick = regdom,
                     .count = 1,
                     .time_first = t,
                     .time_last = t + 60,
                     .org = org};
    assert_int_equal(pxt_store_merge(b, &o, regdom), PX_OK);
}

static const char *const orgs[] = {"org-a", "org-b", "org-c"};

/* Batch i: a few records of every kind, by one organisation, with the
 * topic's offset and a sink cursor. */
static px_err small_batch(px_store *s, int i)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    const char *org = orgs[i % 3];
    char name[64], dom[32], rdata[64];
    int64_t t = 1764000000 + i * 100;
    snprintf(dom, sizeof dom, "d%d.example", i % 4);
    snprintf(name, sizeof name, "www.%s", dom);
    snprintf(rdata, sizeof rdata, "\"v=%d\"", i % 5);
    merge(b, name, "TXT", rdata, dom, org, t);
    snprintf(rdata, sizeof rdata, "192.0.2.%d", i % 7);
    merge(b, name, "A", rdata, dom, org, t);
    snprintf(rdata, sizeof rdata, "2001:db8::%x", i % 3);
    merge(b, name, "AAAA", rdata, dom, org, t);
    merge(b, "old.d0.example", "A", "198.51.100.9", "d0.example", org, t);
    merge(b, dom, "MX", i % 2 ? "10 mx.shared.example" : "20 mx.shared.example", dom, org, t);
    merge(b, name, "CNAME", "target.shared.example", dom, org, t);
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", i % 2, 10 * i + 10), PX_OK);
    assert_int_equal(px_store_sink_set(b, i % 2 ? "syslog" : "kafka", (uint64_t)i + 1), PX_OK);
    return px_store_batch_commit(b);
}

/* More records than chunk_records: without a changelog this batch would
 * go through the batch log. */
static px_err big_batch(px_store *s, int n)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (int i = 0; i < n; i++) {
        char name[64], dom[32];
        snprintf(dom, sizeof dom, "big%d.example", i % 9);
        snprintf(name, sizeof name, "h%03d.%s", i, dom);
        merge(b, name, "TXT", "\"big\"", dom, orgs[i % 3], 1764100000 + i);
    }
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.u", 0, n), PX_OK);
    return px_store_batch_commit(b);
}

/* The source's history: small batches, a big one, more small ones. */
static void fill(fix *f)
{
    for (int i = 0; i < 12; i++)
        assert_int_equal(small_batch(f->src, i), PX_OK);
    int calls = f->c.calls;
    assert_int_equal(big_batch(f->src, 500), PX_OK);
    assert_int_equal(f->c.calls, calls + 1); /* one transaction */
    assert_true(f->c.last_call_rows > 500);  /* its records, domains, offset, state */
    assert_false(px_store_log_pending(f->src));
    for (int i = 12; i < 20; i++)
        assert_int_equal(small_batch(f->src, i), PX_OK);
}

/* ---- what a store answers, as text ---- */

static bool on_alert(void *ctx, const px_alert *a)
{
    pxt_dump_add(ctx, "alert %" PRIu64 " %" PRId64 " %s %s %s %s\n", a->seq, a->time, a->rule,
                 a->key, a->id, a->json);
    return true;
}

/* Every replicated row, raw: table, key and value bytes (control rows
 * are local). */
static void raw_rows(px_store *s, pxt_dump *t)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    for (int i = 0; i < DBI__N; i++) {
        MDB_cursor *c;
        MDB_val k, v;
        assert_int_equal(mdb_cursor_open(txn, s->dbi[i], &c), 0);
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            if (i == DBI_OFF && ((const uint8_t *)k.mv_data)[0] == 0)
                continue;
            pxt_dump_add(t, "%s ", pxs_dbi_names[i]);
            for (size_t j = 0; j < k.mv_size; j++)
                pxt_dump_add(t, "%02x", ((const uint8_t *)k.mv_data)[j]);
            pxt_dump_add(t, " ");
            for (size_t j = 0; j < v.mv_size; j++)
                pxt_dump_add(t, "%02x", ((const uint8_t *)v.mv_data)[j]);
            pxt_dump_add(t, "\n");
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
}

/* All a user can ask the store, and its raw rows. */
static char *answers(px_store *s)
{
    pxt_dump t = {0};
    pxt_dump_add(&t, "zone:\n");
    assert_int_equal(pxt_store_find_rrset(s, "*", NULL, NULL, pxt_dump_rec, &t), PX_OK);
    pxt_dump_add(&t, "name:\n");
    assert_int_equal(pxt_store_find_rrset(s, "www.d1.example", NULL, NULL, pxt_dump_rec, &t),
                     PX_OK);
    pxt_dump_add(&t, "zone d2:\n");
    assert_int_equal(pxt_store_find_rrset(s, "*.d2.example", "A", NULL, pxt_dump_rec, &t), PX_OK);
    static const char *const rdata[] = {"192.0.2.3", "2001:db8::1", "198.51.100.9",
                                        "target.shared.example", "mx.shared.example"};
    for (size_t i = 0; i < sizeof rdata / sizeof *rdata; i++) {
        pxt_dump_add(&t, "rdata %s:\n", rdata[i]);
        assert_int_equal(pxt_store_find_rdata(s, rdata[i], NULL, pxt_dump_rec, &t), PX_OK);
    }
    static const char *const doms[] = {"d0.example", "d1.example", "d3.example", "big4.example"};
    for (size_t i = 0; i < sizeof doms / sizeof *doms; i++)
        assert_int_equal(pxt_store_find_domain(s, doms[i], pxt_dump_dom, &t), PX_OK);
    assert_int_equal(px_store_alerts(s, 1, NULL, NULL, on_alert, &t), PX_OK);
    static const char *const sinks[] = {"kafka", "syslog", "none"};
    for (size_t i = 0; i < 3; i++) {
        uint64_t next = 0;
        assert_int_equal(px_store_sink_get(s, sinks[i], &next), PX_OK);
        pxt_dump_add(&t, "sink %s %" PRIu64 "\n", sinks[i], next);
    }
    static const struct {
        const char *topic;
        int32_t part;
    } offs[] = {{"pdnsx.obs.t", 0}, {"pdnsx.obs.t", 1}, {"pdnsx.obs.u", 0}};
    for (size_t i = 0; i < 3; i++) {
        int64_t next = -1;
        px_err err = px_store_get_offset(s, offs[i].topic, offs[i].part, &next);
        assert_true(err == PX_OK || err == PX_ERR_NOTFOUND);
        pxt_dump_add(&t, "offset %s %d %" PRId64 "\n", offs[i].topic, offs[i].part,
                     err ? -1 : next);
    }
    px_store_stats st;
    assert_int_equal(px_store_get_stats(s, &st), PX_OK);
    pxt_dump_add(&t, "stats %" PRIu64 " records %" PRIu64 " domains\n", st.records, st.domains);
    raw_rows(s, &t);
    return t.p;
}

static void verify_clean(px_store *s)
{
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    assert_int_equal(vr.findings, 0);
}

/* The restored store answers as the source, and holds its position. */
static void same_as_source(fix *f, px_store *r)
{
    verify_clean(r);
    char *want = answers(f->src), *got = answers(r);
    assert_string_equal(got, want);
    assert_non_null(strstr(want, "geo=NL/1136/KPN B.V."));
    assert_non_null(strstr(want, "geo=DE/3320/Deutsche Telekom AG"));
    assert_non_null(strstr(want, "alert 21 "));
    assert_non_null(strstr(want, "org-a:"));
    free(want);
    free(got);
    int64_t a = -1, b = -2;
    assert_int_equal(px_store_changelog_next(f->src, &a), PX_OK);
    assert_int_equal(px_store_changelog_next(r, &b), PX_OK);
    assert_int_equal(a, (int64_t)f->c.n);
    assert_int_equal(b, a);
}

/* Messages m[0..n) applied in calls of `per`, each with the position
 * after its last message (pos[i]: the offset of message i). In small
 * steps the store verifies clean after every call: a restore half done
 * holds only sound rows. */
static void apply_msgs(px_store *r, const msg *m, const int64_t *pos, size_t n, size_t per)
{
    px_store_row *rows = calloc(per ? per : 1, sizeof *rows);
    assert_non_null(rows);
    for (size_t i = 0; i < n; i += per) {
        size_t k = n - i < per ? n - i : per;
        for (size_t j = 0; j < k; j++) {
            const msg *x = &m[i + j];
            assert_int_equal(
                px_store_row_from_msg(x->key, x->key_len, x->val, x->val_len, &rows[j]), PX_OK);
        }
        assert_int_equal(px_store_apply_rows(r, rows, k, pos[i + k - 1] + 1), PX_OK);
        if (per < 10)
            verify_clean(r);
    }
    free(rows);
}

static int64_t *positions(size_t n)
{
    int64_t *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (int64_t)i;
    return p;
}

/* ---- tests ---- */

/* The whole changelog in one call, then in calls of 7 rows. */
static void test_restore_whole_and_in_steps(void **state)
{
    fix *f = *state;
    fill(f);
    int64_t *pos = positions(f->c.n);
    static const size_t per[] = {0, 7};
    for (size_t i = 0; i < 2; i++) {
        px_store *r = open_store(subdir(f, i ? "steps" : "whole"), NULL);
        int64_t next;
        assert_int_equal(px_store_changelog_next(r, &next), PX_ERR_NOTFOUND);
        apply_msgs(r, f->c.m, pos, f->c.n, per[i] ? per[i] : f->c.n);
        same_as_source(f, r);
        px_store_close(r);
    }
    free(pos);
}

/* What log compaction leaves: the last message of each key, in the order
 * of those last messages, tombstones removed. */
static void test_restore_compacted(void **state)
{
    fix *f = *state;
    fill(f);
    msg *m = calloc(f->c.n, sizeof *m);
    int64_t *pos = calloc(f->c.n, sizeof *pos);
    assert_non_null(m);
    assert_non_null(pos);
    size_t n = 0, tombstones = 0;
    for (size_t i = 0; i < f->c.n; i++) {
        const msg *x = &f->c.m[i];
        bool later = false;
        for (size_t j = i + 1; j < f->c.n && !later; j++)
            later = f->c.m[j].key_len == x->key_len && !memcmp(f->c.m[j].key, x->key, x->key_len);
        tombstones += !x->val;
        if (later || !x->val)
            continue;
        m[n] = *x;
        pos[n++] = (int64_t)i;
    }
    assert_true(tombstones > 0); /* the feed deleted state rows */
    assert_true(n < f->c.n);
    px_store *r = open_store(subdir(f, "compacted"), NULL);
    apply_msgs(r, m, pos, n, 5);
    /* the position is that of the last message read: the topic's end */
    same_as_source(f, r);
    px_store_close(r);
    free(m);
    free(pos);
}

/* Applying the changelog again, whole, changes nothing; so does applying
 * it to a store reopened from disk. */
static void test_restore_twice(void **state)
{
    fix *f = *state;
    fill(f);
    int64_t *pos = positions(f->c.n);
    const char *dir = subdir(f, "twice");
    px_store *r = open_store(dir, NULL);
    apply_msgs(r, f->c.m, pos, f->c.n, 11);
    apply_msgs(r, f->c.m, pos, f->c.n, f->c.n);
    same_as_source(f, r);
    px_store_close(r);
    r = open_store(dir, NULL); /* the open's full check passes too */
    apply_msgs(r, f->c.m, pos, f->c.n, 50);
    same_as_source(f, r);
    px_store_close(r);
    free(pos);
}

/* The restored store goes on as the source would: the same batches
 * merged into both give the same answers (the dictionaries' ids, the
 * feed's state and the outbox's seqs carry on), and the restored store
 * publishes its own changelog from there. */
static void test_restored_store_goes_on(void **state)
{
    fix *f = *state;
    fill(f);
    int64_t *pos = positions(f->c.n);
    clog c2 = {0};
    px_store *r = open_store(subdir(f, "next-owner"), &c2);
    apply_msgs(r, f->c.m, pos, f->c.n, 100);
    assert_int_equal(c2.calls, 0); /* restored rows are not published again */
    for (int i = 20; i < 24; i++) {
        assert_int_equal(small_batch(f->src, i), PX_OK);
        assert_int_equal(small_batch(r, i), PX_OK);
    }
    assert_int_equal(big_batch(r, 100), PX_OK);
    assert_int_equal(big_batch(f->src, 100), PX_OK);
    verify_clean(r);
    char *want = answers(f->src), *got = answers(r);
    assert_string_equal(got, want);
    assert_non_null(strstr(want, "alert 26 "));
    free(want);
    free(got);
    assert_int_equal(c2.calls, 5);
    int64_t next;
    assert_int_equal(px_store_changelog_next(r, &next), PX_OK);
    assert_int_equal(next, (int64_t)c2.n);
    px_store_close(r);
    clog_free(&c2);
    free(pos);
}

/* A failed callback (the rows not acknowledged) rolls the transaction
 * back: data, offsets, state, alerts, cursors and position as before. */
static void test_callback_error_rolls_back(void **state)
{
    fix *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(small_batch(f->src, i), PX_OK);
    char *before = answers(f->src);
    int64_t next_before;
    assert_int_equal(px_store_changelog_next(f->src, &next_before), PX_OK);
    size_t msgs = f->c.n;
    f->c.fail = true;
    assert_int_equal(small_batch(f->src, 7), PX_ERR_IO);
    char *after = answers(f->src);
    assert_string_equal(after, before);
    int64_t next;
    assert_int_equal(px_store_changelog_next(f->src, &next), PX_OK);
    assert_int_equal(next, next_before);
    assert_int_equal(f->c.n, msgs);
    /* the big batch (one transaction) too */
    f->c.fail = true;
    assert_int_equal(big_batch(f->src, 200), PX_ERR_IO);
    free(after);
    after = answers(f->src);
    assert_string_equal(after, before);
    assert_false(px_store_log_pending(f->src));
    /* and the next batch goes through */
    assert_int_equal(small_batch(f->src, 7), PX_OK);
    assert_true(f->c.n > msgs);
    verify_clean(f->src);
    free(before);
    free(after);
}

/* A batch past its memory bound (PXS_SPILL_ENTRIES records) writes what
 * it holds into its own transaction, not into the batch log: one
 * callback, no log, a record merged before and after the spill seen by
 * the feed as new then grown (the spill flushed it), and the changelog
 * restores it. */
static void test_spill_one_transaction(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->src, &b), PX_OK);
    spill_changes = 0;
    merge(b, "spill.example", "TXT", "\"s\"", NULL, "org-a", 1764200000);
    for (int i = 0; i < (int)PXS_SPILL_ENTRIES; i++) {
        char name[64];
        snprintf(name, sizeof name, "n%d.spill%d.example", i, i % 97);
        merge(b, name, "TXT", "\"x\"", NULL, orgs[i % 3], 1764200000 + i % 1000);
    }
    merge(b, "spill.example", "TXT", "\"s\"", NULL, "org-b", 1764300000);
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", 0, 5), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->c.calls, 1);
    assert_int_equal(spill_changes, 2);
    assert_false(px_store_log_pending(f->src));
    char log[160];
    snprintf(log, sizeof log, "%s/batch.log", subdir(f, "src"));
    assert_int_equal(access(log, F_OK), -1);
    px_store_stats st;
    assert_int_equal(px_store_get_stats(f->src, &st), PX_OK);
    assert_int_equal(st.records, PXS_SPILL_ENTRIES + 1);
    int64_t *pos = positions(f->c.n);
    px_store *r = open_store(subdir(f, "spilled"), NULL);
    apply_msgs(r, f->c.m, pos, f->c.n, 100000);
    verify_clean(r);
    pxt_dump want = {0}, got = {0};
    raw_rows(f->src, &want);
    raw_rows(r, &got);
    assert_int_equal(got.len, want.len);
    assert_true(memcmp(got.p, want.p, want.len) == 0);
    free(want.p);
    free(got.p);
    px_store_close(r);
    free(pos);
}

/* Rows that fail their checks are refused, nothing of the call written. */
static void test_bad_rows_refused(void **state)
{
    fix *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(small_batch(f->src, i), PX_OK);
    px_store *r = open_store(subdir(f, "bad"), NULL);
    size_t n = f->c.n;
    px_store_row *rows = calloc(n, sizeof *rows);
    assert_non_null(rows);
    size_t rec = n;
    for (size_t i = 0; i < n; i++) {
        const msg *x = &f->c.m[i];
        assert_int_equal(px_store_row_from_msg(x->key, x->key_len, x->val, x->val_len, &rows[i]),
                         PX_OK);
        if (rows[i].table == PX_STORE_TABLE_REC && rows[i].val && rec == n)
            rec = i;
    }
    assert_true(rec < n);
    uint8_t val[1024], key[PX_STORE_MSG_KEY_MAX];
    px_store_row good = rows[rec];
    memcpy(val, good.val, good.val_len);
    val[0] ^= 0x40; /* the checksum fails */
    rows[rec].val = val;
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_ERR_MALFORMED);
    memcpy(key, good.key, good.key_len);
    key[0] = 'A'; /* a name with an uppercase letter */
    rows[rec] = (px_store_row){good.table, key, good.key_len, good.val, good.val_len};
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_ERR_MALFORMED);
    rows[rec] = good;
    rows[rec].val_len--; /* a value cut short */
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_ERR_MALFORMED);
    rows[rec] = good;
    rows[rec].table = 'Z'; /* no table */
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_ERR_MALFORMED);
    /* a local row: the format row of the source */
    rows[rec] = (px_store_row){PX_STORE_TABLE_OFF, pxs_meta_key, sizeof pxs_meta_key, good.val,
                               good.val_len};
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_ERR_MALFORMED);
    rows[rec].val = NULL; /* not even deleted */
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_ERR_MALFORMED);
    /* nothing written */
    int64_t next;
    assert_int_equal(px_store_changelog_next(r, &next), PX_ERR_NOTFOUND);
    px_store_stats st;
    assert_int_equal(px_store_get_stats(r, &st), PX_OK);
    assert_int_equal(st.records, 0);
    verify_clean(r);
    rows[rec] = good;
    assert_int_equal(px_store_apply_rows(r, rows, n, 99), PX_OK);
    assert_int_equal(px_store_changelog_next(r, &next), PX_OK);
    assert_int_equal(next, 99);
    verify_clean(r);
    free(rows);
    px_store_close(r);
}

static uint64_t stored_format(px_store *s)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn), 0);
    MDB_val k = {sizeof pxs_meta_key, (void *)pxs_meta_key}, v;
    assert_int_equal(mdb_get(txn, s->dbi[DBI_OFF], &k, &v), 0);
    pxs_meta_row m;
    assert_int_equal(pxs_meta_decode(v.mv_data, v.mv_size, &m), PX_OK);
    mdb_txn_abort(txn);
    return m.format;
}

/* The position: none in a new store (which stays format 3), the
 * callback's after each transaction (format 4 from then on), kept across
 * a reopen, read-only too; a callback that gives no position fails the
 * transaction. */
static void test_position(void **state)
{
    fix *f = *state;
    int64_t next;
    assert_int_equal(px_store_changelog_next(f->src, &next), PX_ERR_NOTFOUND);
    assert_int_equal(stored_format(f->src), 3);
    assert_int_equal(small_batch(f->src, 0), PX_OK);
    assert_int_equal(px_store_changelog_next(f->src, &next), PX_OK);
    assert_int_equal(next, (int64_t)f->c.n);
    assert_int_equal(stored_format(f->src), 4);
    /* a batch of offsets alone is replicated too */
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->src, &b), PX_OK);
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", 0, 1000), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->c.last_call_rows, 1);
    assert_int_equal(f->c.m[f->c.n - 1].key[0], PX_STORE_TABLE_OFF);
    /* a batch that writes nothing calls nothing */
    int calls = f->c.calls;
    assert_int_equal(px_store_batch_begin(f->src, &b), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->c.calls, calls);
    px_store_close(f->src);
    f->src = NULL;
    px_err err;
    char eb[256];
    px_store_opts ro = {.read_only = true};
    px_store *s = px_store_open(subdir(f, "src"), &ro, &err, eb, sizeof eb);
    assert_non_null(s);
    assert_int_equal(px_store_changelog_next(s, &next), PX_OK);
    assert_int_equal(next, (int64_t)f->c.n);
    verify_clean(s);
    assert_int_equal(px_store_apply_rows(s, NULL, 0, 1), PX_ERR_INVAL);
    px_store_close(s);
    f->src = open_store(subdir(f, "src"), &f->c);
    assert_int_equal(px_store_changelog_next(f->src, &next), PX_OK);
    assert_int_equal(next, (int64_t)f->c.n);
    /* an empty apply moves the position alone */
    assert_int_equal(px_store_apply_rows(f->src, NULL, 0, 5000), PX_OK);
    assert_int_equal(px_store_changelog_next(f->src, &next), PX_OK);
    assert_int_equal(next, 5000);
    assert_int_equal(px_store_apply_rows(f->src, NULL, 0, -1), PX_ERR_INVAL);
}

/* The callback set on an open store (each partition store of the
 * consumer gets its own context): rows published while it is set only,
 * and a restore of them gives the same store. */
static void test_set_changelog(void **state)
{
    fix *f = *state;
    px_store *s = open_store(subdir(f, "late"), NULL);
    clog c = {0};
    assert_int_equal(small_batch(s, 0), PX_OK); /* before: nothing published */
    assert_int_equal(px_store_set_changelog(s, on_rows, &c), PX_OK);
    assert_int_equal(small_batch(s, 1), PX_OK);
    assert_int_equal(c.calls, 1);
    assert_true(c.n > 0);
    int64_t next;
    assert_int_equal(px_store_changelog_next(s, &next), PX_OK);
    assert_int_equal(next, (int64_t)c.n);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    assert_int_equal(px_store_set_changelog(s, NULL, NULL), PX_ERR_INVAL); /* a batch open */
    px_store_batch_abort(b);
    assert_int_equal(px_store_set_changelog(s, NULL, NULL), PX_OK);
    size_t had = c.n;
    assert_int_equal(small_batch(s, 2), PX_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.n, had);
    px_store_close(s);
    px_err err;
    char eb[256];
    px_store_opts ro = {.read_only = true};
    s = px_store_open(subdir(f, "late"), &ro, &err, eb, sizeof eb);
    assert_non_null(s);
    assert_int_equal(px_store_set_changelog(s, on_rows, &c), PX_ERR_INVAL);
    px_store_close(s);
    clog_free(&c);
}

/* A damaged position is damage: reported by the reader and by verify,
 * never taken for a position. */
static void test_position_damaged(void **state)
{
    fix *f = *state;
    assert_int_equal(small_batch(f->src, 0), PX_OK);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->src->env, NULL, 0, &txn), 0);
    MDB_val k = {sizeof pxs_clog_key, (void *)pxs_clog_key}, v;
    assert_int_equal(mdb_get(txn, f->src->dbi[DBI_OFF], &k, &v), 0);
    uint8_t bad[16];
    assert_true(v.mv_size <= sizeof bad);
    memcpy(bad, v.mv_data, v.mv_size);
    bad[0] ^= 0x01; /* the checksum fails */
    MDB_val nv = {v.mv_size, bad};
    assert_int_equal(mdb_put(txn, f->src->dbi[DBI_OFF], &k, &nv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    int64_t next = 77;
    uint64_t damaged = f->src->damaged;
    assert_int_equal(px_store_changelog_next(f->src, &next), PX_ERR_DAMAGED);
    assert_int_equal(next, 77);
    assert_int_equal(f->src->damaged, damaged + 1);
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(f->src, PX_STORE_CHECK_FULL, &vr), PX_ERR_DAMAGED);
    assert_int_equal(vr.findings, 1);
}

/* Messages: key = table byte + row key, value = the row's value; a
 * tombstone has none; what is no changelog message is refused. */
static void test_messages(void **state)
{
    (void)state;
    uint8_t key[PX_STORE_MSG_KEY_MAX], v[] = {1, 2, 3, 4, 5};
    size_t kl;
    px_store_row r = {PX_STORE_TABLE_DOM, (const uint8_t *)"example.com", 11, v, sizeof v}, back;
    assert_int_equal(px_store_row_to_msg(&r, key, sizeof key, &kl), PX_OK);
    assert_int_equal(kl, 12);
    assert_memory_equal(key, "dexample.com", 12);
    assert_int_equal(px_store_row_from_msg(key, kl, v, sizeof v, &back), PX_OK);
    assert_int_equal(back.table, PX_STORE_TABLE_DOM);
    assert_int_equal(back.key_len, 11);
    assert_memory_equal(back.key, "example.com", 11);
    assert_ptr_equal(back.val, v);
    assert_int_equal(px_store_row_from_msg(key, kl, NULL, 0, &back), PX_OK);
    assert_null(back.val);
    assert_int_equal(px_store_row_to_msg(&r, key, 11, &kl), PX_ERR_TOOLONG);
    r.table = 'Z';
    assert_int_equal(px_store_row_to_msg(&r, key, sizeof key, &kl), PX_ERR_INVAL);
    assert_int_equal(px_store_row_from_msg((const uint8_t *)"Zx", 2, v, 1, &back),
                     PX_ERR_MALFORMED);
    assert_int_equal(px_store_row_from_msg((const uint8_t *)"d", 1, v, 1, &back), PX_ERR_MALFORMED);
    assert_int_equal(px_store_row_from_msg(key, kl, v, 0, &back), PX_ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_restore_whole_and_in_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_compacted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restored_store_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_callback_error_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spill_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_rows_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_position, setup, teardown),
        cmocka_unit_test_setup_teardown(test_position_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_changelog, setup, teardown),
        cmocka_unit_test(test_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
