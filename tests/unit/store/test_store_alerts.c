/* test_store_alerts.c: what the change feed's reader keeps in the store
 * (store format 3): its state and its outbox written through
 * px_change_txn in the transaction that delivered the changes, rolled
 * back with it; `prepare` once per transaction that delivered changes
 * (ordinary batches, each chunk of a big batch, a resume); the outbox
 * listed by seq, fence and rule, also read-only while a writer runs; sink
 * cursors; a format-2 store read as it is and upgraded in place; damage
 * in the new tables found by verify and by the readers. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "store/px_store.h"
#include "px_store_int.h"

/* ---- a sink that counts, keeps a counter in its state and decides one
 * alert per transaction ---- */

typedef enum fail_mode {
    FAIL_NONE,
    FAIL_PREPARE, /* prepare returns an error after writing */
    FAIL_TXN,     /* a txn call fails (a key too long); prepare says OK */
} fail_mode;

typedef struct tsink {
    int changes, prepares, committed, aborted;
    int changes_in_txn;   /* since the last prepare */
    int changes_unprep;   /* delivered after a prepare of the same txn: must stay 0 */
    bool prepared_in_txn; /* prepare ran in the open transaction */
    fail_mode fail;
    bool no_alert;
    char first[300];                  /* the transaction's first changed name */
    int64_t time;                     /* its greatest last sighting */
    uint64_t last_seq, committed_seq; /* of the alerts it was given */
} tsink;

static px_err on_change(void *ctx, const px_change *c)
{
    tsink *k = ctx;
    k->changes++;
    if (k->prepared_in_txn)
        k->changes_unprep++;
    bool rec = c->kind == PX_CHANGE_RECORD_NEW || c->kind == PX_CHANGE_RECORD_GREW;
    const char *name = rec ? c->rec.rrname : c->dom.domain;
    int64_t last = rec ? c->rec.last : c->dom.last_seen;
    if (!k->changes_in_txn++) {
        snprintf(k->first, sizeof k->first, "%s", name);
        k->time = last;
    }
    k->time = last > k->time ? last : k->time;
    return PX_OK;
}

static void txn_end(tsink *k)
{
    k->changes_in_txn = 0;
    k->prepared_in_txn = false;
}

static void on_committed(void *ctx)
{
    tsink *k = ctx;
    k->committed++;
    k->committed_seq = k->last_seq;
    txn_end(k);
}

static void on_aborted(void *ctx)
{
    tsink *k = ctx;
    k->aborted++;
    k->last_seq = k->committed_seq; /* those seqs were never committed */
    txn_end(k);
}

static px_err on_prepare(void *ctx, px_change_txn *t)
{
    tsink *k = ctx;
    assert_true(k->changes_in_txn > 0);
    assert_false(k->prepared_in_txn);
    k->prepared_in_txn = true;
    k->prepares++;
    /* a counter of decisions in the state: read, bumped, written */
    const void *v;
    size_t vlen;
    uint64_t n = 0;
    px_err err = t->get(t, "n", 1, &v, &vlen);
    if (err == PX_OK) {
        assert_int_equal(vlen, sizeof n);
        memcpy(&n, v, sizeof n);
    } else if (err != PX_ERR_NOTFOUND) {
        return err; /* damage: the transaction fails */
    }
    n++;
    assert_int_equal(t->put(t, "n", 1, &n, sizeof n), PX_OK);
    /* the transaction's own writes are read back */
    assert_int_equal(t->get(t, "n", 1, &v, &vlen), PX_OK);
    assert_memory_equal(v, &n, sizeof n);
    assert_int_equal(t->put(t, "tmp", 3, "x", 1), PX_OK);
    assert_int_equal(t->del(t, "tmp", 3), PX_OK);
    assert_int_equal(t->del(t, "tmp", 3), PX_OK); /* absent: fine */
    assert_int_equal(t->get(t, "tmp", 3, &v, &vlen), PX_ERR_NOTFOUND);
    if (!k->no_alert) {
        char id[32], json[64];
        snprintf(id, sizeof id, "id-%" PRIu64, n);
        snprintf(json, sizeof json, "{\"n\":%" PRIu64 "}", n);
        px_alert a = {.seq = 999,
                      .time = k->time,
                      .rule = "pdnsx.test",
                      .key = k->first,
                      .id = id,
                      .json = json,
                      .json_len = strlen(json)};
        uint64_t seq = 0;
        assert_int_equal(t->alert(t, &a, &seq), PX_OK);
        assert_true(seq > k->last_seq);
        k->last_seq = seq;
    }
    if (k->fail == FAIL_TXN) {
        char big[PX_CHANGE_STATE_KEY_MAX + 1];
        memset(big, 'k', sizeof big);
        assert_int_equal(t->put(t, big, sizeof big, "v", 1), PX_ERR_INVAL);
    }
    return k->fail == FAIL_PREPARE ? PX_ERR_IO : PX_OK;
}

/* ---- fixtures ---- */

typedef struct fix {
    char dir[64];
    px_store *s;
    tsink k;
} fix;

static px_store *open_opts(const char *dir, tsink *k, uint32_t chunk, uint32_t limit, bool ro)
{
    px_err err;
    char eb[512];
    px_store_opts o = {.chunk_records = chunk, .apply_limit = limit, .read_only = ro};
    if (k)
        o.feed = (px_change_sink){on_change, on_committed, on_aborted, k, on_prepare};
    px_store *s = px_store_open(dir, &o, &err, eb, sizeof eb);
    if (!s)
        fail_msg("open %s: %s", dir, eb);
    return s;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pxstorealerts.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->s = open_opts(f->dir, &f->k, 0, 0, false);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    char cmd[128];
    px_store_close(f->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static px_store_obs mk(const char *name, const char *rdata, const char *regdom, const char *org,
                       int64_t first, int64_t last)
{
    return (px_store_obs){.rrname = name,
                          .rrname_len = strlen(name),
                          .rrtype = 16,
                          .rdata = rdata,
                          .rdata_len = strlen(rdata),
                          .regdom = regdom,
                          .regdom_len = regdom ? strlen(regdom) : 0,
                          .org = org,
                          .count = 1,
                          .time_first = first,
                          .time_last = last};
}

static px_store_batch *begin(px_store *s)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    return b;
}

/* n records of n names under three domains, in one batch. */
static px_err big_batch(px_store *s, int n)
{
    px_store_batch *b = begin(s);
    for (int i = 0; i < n; i++) {
        char name[64], dom[32];
        snprintf(name, sizeof name, "h%02d.d%d.test", i, i % 3);
        snprintf(dom, sizeof dom, "d%d.test", i % 3);
        px_store_obs o = mk(name, "\"t\"", dom, "o1", 1000 + i, 2000 + i);
        assert_int_equal(px_store_merge(b, &o), PX_OK);
    }
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", 0, n), PX_OK);
    return px_store_batch_commit(b);
}

static void one_record(px_store *s, const char *name, int64_t t, px_err want)
{
    px_store_batch *b = begin(s);
    px_store_obs o = mk(name, "\"t\"", "example.com", "o1", t, t);
    assert_int_equal(px_store_merge(b, &o), PX_OK);
    assert_int_equal(px_store_batch_commit(b), want);
}

/* The outbox as lines "seq time rule key id json". */
typedef struct lines {
    char text[8192];
    int n, stop_after;
} lines;

static bool on_alert(void *ctx, const px_alert *a)
{
    lines *l = ctx;
    size_t off = strlen(l->text);
    assert_int_equal(strlen(a->json), a->json_len);
    snprintf(l->text + off, sizeof l->text - off, "%" PRIu64 " %" PRId64 " %s %s %s %s\n", a->seq,
             a->time, a->rule, a->key, a->id, a->json);
    return ++l->n != l->stop_after;
}

static const char *list(px_store *s, uint64_t from, const px_store_fence *fence, const char *rule,
                        lines *l, px_err want)
{
    memset(l, 0, sizeof *l);
    assert_int_equal(px_store_alerts(s, from, fence, rule, on_alert, l), want);
    return l->text;
}

static uint64_t last_seq(px_store *s)
{
    uint64_t last = 77;
    assert_int_equal(px_store_alert_last(s, &last), PX_OK);
    return last;
}

static void verify_clean(px_store *s)
{
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    assert_int_equal(vr.findings, 0);
}

/* ---- tests ---- */

/* prepare runs once per transaction that delivered changes, after the
 * last change; what it writes commits with the batch and is read back by
 * the next one. A batch that delivers nothing is not prepared. */
static void test_prepare_commits(void **state)
{
    fix *f = *state;
    lines l;
    one_record(f->s, "a.example.com", 100, PX_OK);
    assert_int_equal(f->k.prepares, 1);
    assert_int_equal(f->k.committed, 1);
    assert_int_equal(f->k.changes, 2); /* the record and its domain */
    one_record(f->s, "b.example.com", 200, PX_OK);
    px_store_batch *b = begin(f->s); /* nothing changes: no prepare */
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", 0, 5), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->k.prepares, 2);
    assert_int_equal(f->k.changes_unprep, 0);
    assert_string_equal(list(f->s, 0, NULL, NULL, &l, PX_OK),
                        "1 100 pdnsx.test a.example.com id-1 {\"n\":1}\n"
                        "2 200 pdnsx.test b.example.com id-2 {\"n\":2}\n");
    assert_int_equal(last_seq(f->s), 2);
    verify_clean(f->s);
    /* the counts of the format row stay right over batches that do not
     * touch the new tables (a feed without prepare) */
    f->k.no_alert = true;
    px_store_close(f->s);
    f->s = open_opts(f->dir, NULL, 0, 0, false);
    one_record(f->s, "c.example.com", 300, PX_OK);
    verify_clean(f->s);
    px_store_close(f->s);
    f->s = open_opts(f->dir, &f->k, 0, 0, false);
    one_record(f->s, "d.example.com", 400, PX_OK);
    assert_int_equal(f->k.prepares, 3);
    assert_int_equal(last_seq(f->s), 2);
    verify_clean(f->s);
}

/* A failing prepare, or a txn call that failed under a prepare that went
 * on, fails the transaction: aborted, and neither the data nor the state
 * nor the alerts are committed. A batch the caller aborts is never
 * prepared. */
static void test_prepare_rollback(void **state)
{
    fix *f = *state;
    lines l;
    one_record(f->s, "a.example.com", 100, PX_OK);
    for (int mode = FAIL_PREPARE; mode <= FAIL_TXN; mode++) {
        f->k.fail = (fail_mode)mode;
        one_record(f->s, "b.example.com", 200, mode == FAIL_PREPARE ? PX_ERR_IO : PX_ERR_INVAL);
        assert_int_equal(f->k.aborted, mode);
        assert_int_equal(last_seq(f->s), 1);
    }
    px_store_batch *b = begin(f->s);
    px_store_obs o = mk("c.example.com", "\"t\"", "example.com", "o1", 300, 300);
    assert_int_equal(px_store_merge(b, &o), PX_OK);
    px_store_batch_abort(b);
    assert_int_equal(f->k.prepares, 3);
    f->k.fail = FAIL_NONE;
    /* the counter in the state rolled back too: the next decision is the
     * 2nd, and b.example.com is new again */
    one_record(f->s, "b.example.com", 200, PX_OK);
    assert_string_equal(list(f->s, 0, NULL, NULL, &l, PX_OK),
                        "1 100 pdnsx.test a.example.com id-1 {\"n\":1}\n"
                        "2 200 pdnsx.test b.example.com id-2 {\"n\":2}\n");
    verify_clean(f->s);
}

/* A big batch: each chunk's transaction is prepared; 40 records in chunks
 * of 7 (in key order: d0's names, d1's, d2's) and one chunk of 3 domains:
 * 7 transactions with changes, each alert of its own chunk's changes. */
static void test_prepare_chunks(void **state)
{
    fix *f = *state;
    px_store_close(f->s);
    f->s = open_opts(f->dir, &f->k, 7, 0, false);
    assert_int_equal(big_batch(f->s, 40), PX_OK);
    assert_int_equal(f->k.prepares, 7);
    assert_int_equal(f->k.committed, 7);
    assert_int_equal(f->k.changes_unprep, 0);
    lines l;
    assert_string_equal(list(f->s, 0, NULL, NULL, &l, PX_OK),
                        "1 2018 pdnsx.test h00.d0.test id-1 {\"n\":1}\n"
                        "2 2039 pdnsx.test h21.d0.test id-2 {\"n\":2}\n"
                        "3 2019 pdnsx.test h01.d1.test id-3 {\"n\":3}\n"
                        "4 2037 pdnsx.test h22.d1.test id-4 {\"n\":4}\n"
                        "5 2023 pdnsx.test h05.d2.test id-5 {\"n\":5}\n"
                        "6 2038 pdnsx.test h26.d2.test id-6 {\"n\":6}\n"
                        "7 2039 pdnsx.test d0.test id-7 {\"n\":7}\n");
    verify_clean(f->s);
}

/* Applying a big batch stops after two chunks (as a crash would); the
 * resume, in a store opened again, prepares the rest: every chunk's
 * alert once, numbered on from the state the first two committed. */
static void test_prepare_resume(void **state)
{
    fix *f = *state;
    px_store_close(f->s);
    f->s = open_opts(f->dir, &f->k, 7, 2, false);
    assert_int_equal(big_batch(f->s, 40), PX_ERR_AGAIN);
    assert_int_equal(f->k.prepares, 2);
    assert_int_equal(last_seq(f->s), 2);
    px_store_close(f->s);
    tsink k = {0};
    f->s = open_opts(f->dir, &k, 7, 0, false);
    assert_true(px_store_log_pending(f->s));
    assert_int_equal(px_store_resume(f->s, NULL), PX_OK);
    assert_int_equal(k.prepares, 5);
    lines l;
    list(f->s, 0, NULL, NULL, &l, PX_OK);
    assert_int_equal(l.n, 7);
    for (int i = 1; i <= 7; i++) {
        char want[64];
        snprintf(want, sizeof want, "%d ", i);
        assert_non_null(strstr(l.text, want));
        snprintf(want, sizeof want, " id-%d {\"n\":%d}\n", i, i);
        assert_non_null(strstr(l.text, want)); /* each decision once */
    }
    verify_clean(f->s);
}

/* The outbox listed from a seq, within a time fence, of one rule; the
 * callback stops it. */
static void test_alerts_listed(void **state)
{
    fix *f = *state;
    lines l;
    for (int i = 1; i <= 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%d.example.com", i);
        one_record(f->s, name, 100 * i, PX_OK);
    }
    assert_int_equal(last_seq(f->s), 5);
    assert_string_equal(list(f->s, 4, NULL, NULL, &l, PX_OK),
                        "4 400 pdnsx.test h4.example.com id-4 {\"n\":4}\n"
                        "5 500 pdnsx.test h5.example.com id-5 {\"n\":5}\n");
    px_store_fence fence = {200, 300};
    assert_string_equal(list(f->s, 0, &fence, NULL, &l, PX_OK),
                        "2 200 pdnsx.test h2.example.com id-2 {\"n\":2}\n"
                        "3 300 pdnsx.test h3.example.com id-3 {\"n\":3}\n");
    assert_string_equal(list(f->s, 0, NULL, "pdnsx.other", &l, PX_OK), "");
    list(f->s, 0, NULL, "pdnsx.test", &l, PX_OK);
    assert_int_equal(l.n, 5);
    assert_string_equal(list(f->s, 6, NULL, NULL, &l, PX_OK), "");
    memset(&l, 0, sizeof l);
    l.stop_after = 2;
    assert_int_equal(px_store_alerts(f->s, 1, NULL, NULL, on_alert, &l), PX_OK);
    assert_int_equal(l.n, 2);
}

/* A read-only open (another process) lists the committed alerts while
 * the writer holds a batch open, then sees the batch once committed. */
static void test_alerts_read_only(void **state)
{
    fix *f = *state;
    one_record(f->s, "a.example.com", 100, PX_OK);
    px_store_batch *b = begin(f->s);
    px_store_obs o = mk("b.example.com", "\"t\"", "example.com", "o1", 200, 200);
    assert_int_equal(px_store_merge(b, &o), PX_OK);
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            px_err err;
            char eb[256];
            px_store *r =
                px_store_open(f->dir, &(px_store_opts){.read_only = true}, &err, eb, sizeof eb);
            lines l = {0};
            uint64_t last = 0;
            bool ok = r && px_store_alerts(r, 0, NULL, NULL, on_alert, &l) == PX_OK &&
                      px_store_alert_last(r, &last) == PX_OK && l.n == round + 1 &&
                      last == (uint64_t)round + 1;
            px_store_close(r);
            _exit(ok ? 0 : 1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (round == 0)
            assert_int_equal(px_store_batch_commit(b), PX_OK);
    }
}

/* Sink cursors: 1 when none, set in a batch (alone too), rolled back
 * with an aborted one; names checked. */
static void test_cursors(void **state)
{
    fix *f = *state;
    uint64_t next = 0;
    assert_int_equal(px_store_sink_get(f->s, "jsonl", &next), PX_OK);
    assert_int_equal(next, 1);
    px_store_batch *b = begin(f->s);
    assert_int_equal(px_store_sink_set(b, "jsonl", 5), PX_OK);
    assert_int_equal(px_store_sink_set(b, "kafka:pdnsx.alerts", 3), PX_OK);
    assert_int_equal(px_store_sink_set(b, "", 3), PX_ERR_INVAL);
    assert_int_equal(px_store_sink_set(b, "with space", 3), PX_ERR_INVAL);
    assert_int_equal(px_store_sink_set(b, "jsonl", 0), PX_ERR_INVAL);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->k.prepares, 0); /* no changes: no prepare */
    assert_int_equal(px_store_sink_get(f->s, "jsonl", &next), PX_OK);
    assert_int_equal(next, 5);
    assert_int_equal(px_store_sink_get(f->s, "kafka:pdnsx.alerts", &next), PX_OK);
    assert_int_equal(next, 3);
    b = begin(f->s);
    assert_int_equal(px_store_sink_set(b, "jsonl", 9), PX_OK);
    px_store_batch_abort(b);
    assert_int_equal(px_store_sink_get(f->s, "jsonl", &next), PX_OK);
    assert_int_equal(next, 5);
    assert_int_equal(px_store_sink_get(f->s, "x y", &next), PX_ERR_INVAL);
    verify_clean(f->s);
}

/* ---- raw access to plant what the store would not write ---- */

static MDB_dbi raw_begin(const char *dir, const char *name, MDB_env **env, MDB_txn **txn)
{
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(env), 0);
    assert_int_equal(mdb_env_set_maxdbs(*env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(*env, 1ULL << 30), 0);
    assert_int_equal(mdb_env_open(*env, dir, MDB_NOTLS, 0644), 0);
    assert_int_equal(mdb_txn_begin(*env, NULL, 0, txn), 0);
    assert_int_equal(mdb_dbi_open(*txn, name, 0, &dbi), 0);
    return dbi;
}

static void raw_end(MDB_env *env, MDB_txn *txn)
{
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Turns the store into what a format-2 pdnsx wrote: without the new
 * tables, its format row saying 2 with eight tables. */
static void make_format2(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi off = raw_begin(dir, "off", &env, &txn);
    static const char *const gone[] = {"state", "alerts", "sinks"};
    for (size_t i = 0; i < 3; i++) {
        MDB_dbi d;
        assert_int_equal(mdb_dbi_open(txn, gone[i], 0, &d), 0);
        assert_int_equal(mdb_drop(txn, d, 1), 0);
    }
    pxs_meta_row m = {.format = 2, .n_tables = PXS_TABLES_V2};
    for (int i = 0; i < PXS_TABLES_V2; i++) {
        MDB_dbi d;
        MDB_stat st;
        assert_int_equal(mdb_dbi_open(txn, pxs_dbi_names[i], 0, &d), 0);
        assert_int_equal(mdb_stat(txn, d, &st), 0);
        m.entries[i] = st.ms_entries;
    }
    px_buf b = {0};
    assert_int_equal(pxs_meta_encode(&m, &b), PX_OK);
    MDB_val k = {sizeof pxs_meta_key, (void *)pxs_meta_key}, v = {b.len, b.p};
    assert_int_equal(mdb_put(txn, off, &k, &v, 0), 0);
    free(b.p);
    raw_end(env, txn);
}

static uint64_t stored_format(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi off = raw_begin(dir, "off", &env, &txn);
    MDB_val k = {sizeof pxs_meta_key, (void *)pxs_meta_key}, v;
    assert_int_equal(mdb_get(txn, off, &k, &v), 0);
    pxs_meta_row m;
    assert_int_equal(pxs_meta_decode(v.mv_data, v.mv_size, &m), PX_OK);
    raw_end(env, txn);
    return m.format * 100 + m.n_tables;
}

/* A format-2 store: read-only, it reads (no alerts, cursors 1, verify
 * clean, its records there) and stays format 2; a writable open upgrades
 * it in place, and it takes alerts. */
static void test_upgrade_format2(void **state)
{
    fix *f = *state;
    one_record(f->s, "a.example.com", 100, PX_OK);
    px_store_close(f->s);
    f->s = NULL;
    make_format2(f->dir);
    assert_int_equal(stored_format(f->dir), 208);

    px_store *r = open_opts(f->dir, NULL, 0, 0, true);
    lines l;
    assert_string_equal(list(r, 0, NULL, NULL, &l, PX_OK), "");
    assert_int_equal(last_seq(r), 0);
    uint64_t next = 0;
    assert_int_equal(px_store_sink_get(r, "jsonl", &next), PX_OK);
    assert_int_equal(next, 1);
    verify_clean(r);
    px_store_stats st;
    assert_int_equal(px_store_get_stats(r, &st), PX_OK);
    assert_int_equal(st.records, 1);
    px_store_close(r);
    assert_int_equal(stored_format(f->dir), 208);

    f->k = (tsink){0}; /* the outbox went with format 2 */
    f->s = open_opts(f->dir, &f->k, 0, 0, false);
    assert_int_equal(stored_format(f->dir), 311);
    verify_clean(f->s);
    one_record(f->s, "b.example.com", 200, PX_OK);
    assert_string_equal(list(f->s, 0, NULL, NULL, &l, PX_OK),
                        "1 200 pdnsx.test b.example.com id-1 {\"n\":1}\n");
    verify_clean(f->s);
}

typedef struct reports {
    int n;
    char all[4096];
} reports;

static void on_report(void *ctx, const char *where, const char *what)
{
    reports *r = ctx;
    size_t off = strlen(r->all);
    r->n++;
    snprintf(r->all + off, sizeof r->all - off, "%s: %s\n", where, what);
}

static px_store *open_rep(const char *dir, bool ro, reports *r, px_err *err)
{
    char eb[512];
    px_store_opts o = {.read_only = ro, .on_damage = on_report, .damage_ctx = r};
    return px_store_open(dir, &o, err, eb, sizeof eb);
}

/* Flips the last byte of the value under key in table name (its
 * checksum then fails); NULL key: puts key2 with a sealed payload. */
static void damage(const char *dir, const char *name, const void *key, size_t klen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi d = raw_begin(dir, name, &env, &txn);
    MDB_val k = {klen, (void *)key}, v;
    assert_int_equal(mdb_get(txn, d, &k, &v), 0);
    uint8_t buf[512];
    assert_true(v.mv_size <= sizeof buf);
    memcpy(buf, v.mv_data, v.mv_size);
    buf[v.mv_size - 1] ^= 0x40;
    v.mv_data = buf;
    assert_int_equal(mdb_put(txn, d, &k, &v, 0), 0);
    raw_end(env, txn);
}

/* Damage in each new table: verify finds it and names it; the outbox
 * gives the sound alerts and says DAMAGED; a cursor read fails; a
 * prepare that reads damaged state fails its transaction; a checking
 * writable open refuses the store. */
static void test_damage_new_tables(void **state)
{
    fix *f = *state;
    for (int i = 1; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%d.example.com", i);
        one_record(f->s, name, 100 * i, PX_OK);
    }
    px_store_batch *b = begin(f->s);
    assert_int_equal(px_store_sink_set(b, "jsonl", 2), PX_OK);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    px_store_close(f->s);
    f->s = NULL;
    const uint8_t seq2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    damage(f->dir, "alerts", seq2, sizeof seq2);
    damage(f->dir, "sinks", "jsonl", 5);
    damage(f->dir, "state", "n", 1);
    /* and a key the store never writes: seq 0, sealed */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi d = raw_begin(f->dir, "alerts", &env, &txn);
    const uint8_t seq0[8] = {0};
    uint8_t val[16];
    px_buf vb = PXS_FIXED_BUF(val, 0);
    pxs_val_seal(DBI_ALERT, seq0, sizeof seq0, &vb);
    MDB_val k = {sizeof seq0, (void *)seq0}, v = {vb.len, val};
    assert_int_equal(mdb_put(txn, d, &k, &v, 0), 0);
    /* the store's count of alerts follows, so only the key is wrong */
    MDB_dbi off;
    assert_int_equal(mdb_dbi_open(txn, "off", 0, &off), 0);
    MDB_val mk_ = {sizeof pxs_meta_key, (void *)pxs_meta_key}, mv;
    assert_int_equal(mdb_get(txn, off, &mk_, &mv), 0);
    pxs_meta_row m;
    assert_int_equal(pxs_meta_decode(mv.mv_data, mv.mv_size, &m), PX_OK);
    m.entries[DBI_ALERT]++;
    px_buf mb = {0};
    assert_int_equal(pxs_meta_encode(&m, &mb), PX_OK);
    mv = (MDB_val){mb.len, mb.p};
    assert_int_equal(mdb_put(txn, off, &mk_, &mv, 0), 0);
    free(mb.p);
    raw_end(env, txn);

    reports r = {0};
    px_err err;
    px_store *s = open_rep(f->dir, false, &r, &err);
    assert_null(s);
    assert_int_equal(err, PX_ERR_DAMAGED);

    memset(&r, 0, sizeof r);
    s = open_rep(f->dir, true, &r, &err);
    assert_non_null(s);
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_ERR_DAMAGED);
    assert_int_equal(vr.findings, 4);
    assert_non_null(strstr(r.all, "table alerts, alert 2: the value fails its checksum"));
    assert_non_null(strstr(r.all, "table alerts, alert 0: an alert key that is no seq"));
    assert_non_null(strstr(r.all, "table sinks, sink jsonl: the value fails its checksum"));
    assert_non_null(strstr(r.all, "table state, state key n: the value fails its checksum"));
    lines l;
    assert_string_equal(list(s, 0, NULL, NULL, &l, PX_ERR_DAMAGED),
                        "1 100 pdnsx.test h1.example.com id-1 {\"n\":1}\n"
                        "3 300 pdnsx.test h3.example.com id-3 {\"n\":3}\n");
    uint64_t next;
    assert_int_equal(px_store_sink_get(s, "jsonl", &next), PX_ERR_DAMAGED);
    px_store_close(s);

    /* a writer told not to look meets the damaged state in prepare */
    memset(&r, 0, sizeof r);
    px_store_opts o = {.check = PX_STORE_CHECK_META,
                       .on_damage = on_report,
                       .damage_ctx = &r,
                       .feed = {on_change, on_committed, on_aborted, &f->k, on_prepare}};
    char eb[256];
    f->s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    assert_non_null(f->s);
    px_store_batch *b2 = begin(f->s);
    px_store_obs ob = mk("new.example.com", "\"t\"", "example.com", "o1", 9, 9);
    assert_int_equal(px_store_merge(b2, &ob), PX_OK);
    assert_int_equal(px_store_batch_commit(b2), PX_ERR_DAMAGED);
    assert_non_null(strstr(r.all, "table state, state key n"));
    assert_int_equal(f->k.aborted, 1);
}

/* The alert's texts are checked before they are written: a txn call
 * with a bad one fails (and the transaction with it). */
static void test_alert_checked(void **state)
{
    (void)state;
    static const uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    px_alert a;
    /* time 1, "r", "k.test", "i", "{}" with their NULs */
    static const uint8_t good[] = {2,   1, 'r', 0,   6, 'k', '.', 't', 'e', 's',
                                   't', 0, 1,   'i', 0, 2,   '{', '}', 0};
    assert_int_equal(pxs_alert_decode(key, good, sizeof good, &a), PX_OK);
    assert_int_equal(a.seq, 1);
    assert_int_equal(a.time, 1);
    assert_string_equal(a.rule, "r");
    assert_string_equal(a.key, "k.test");
    assert_string_equal(a.id, "i");
    assert_string_equal(a.json, "{}");
    assert_int_equal(a.json_len, 2);
    for (size_t n = 0; n < sizeof good; n++)
        assert_int_equal(pxs_alert_decode(key, good, n, &a), PX_ERR_MALFORMED);
    uint8_t bad[sizeof good];
    memcpy(bad, good, sizeof good);
    bad[3] = 'x'; /* the rule's NUL */
    assert_int_equal(pxs_alert_decode(key, bad, sizeof bad, &a), PX_ERR_MALFORMED);
    memcpy(bad, good, sizeof good);
    bad[1] = 0; /* an empty rule */
    assert_int_equal(pxs_alert_decode(key, bad, sizeof bad, &a), PX_ERR_MALFORMED);
}

/* A batch log whose record names an organisation the dictionary does not
 * hold (never written so: the batch commits its dictionary entries before
 * its mark) cannot be applied: damage, or dropped when told to; the feed
 * never resolves the unknown id. */
static void test_log_unknown_org(void **state)
{
    fix *f = *state;
    one_record(f->s, "a.example.com", 100, PX_OK); /* organisation 1 */
    px_store_close(f->s);
    f->s = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/batch.log", f->dir);
    pxs_logw w;
    assert_int_equal(pxs_logw_open(&w, path, 7), PX_OK);
    pxs_rec r = {.count = 1, .first = 1, .last = 2};
    px_err err = PX_OK;
    pxs_rec_add_org(&r, 2, 1, 2, &err);
    px_buf val = {0}, chunk = {0};
    assert_int_equal(pxs_rec_encode(&r, &val), PX_OK);
    static const uint8_t key[] = {'t', 'e', 's', 't', '.', 'x', 0, 0, 16, 'x'};
    assert_int_equal(px_buf_reserve(&chunk, 64 + val.len), PX_OK);
    px_buf_put_varint(&chunk, sizeof key);
    memcpy(chunk.p + chunk.len, key, sizeof key);
    chunk.len += sizeof key;
    px_buf_put_varint(&chunk, val.len);
    memcpy(chunk.p + chunk.len, val.p, val.len);
    chunk.len += val.len;
    assert_int_equal(pxs_logw_chunk(&w, PXS_LOG_REC, 1, chunk.p, chunk.len), PX_OK);
    pxs_logw_close(&w);
    free(val.p);
    free(chunk.p);
    pxs_rec_release(&r);
    /* the mark naming it: batch 7, next chunk 0 of 1 */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi off = raw_begin(f->dir, "off", &env, &txn);
    static const uint8_t mkey[] = {0, 'l', 'o', 'g'};
    uint8_t mval[3 + PXS_SUM_LEN] = {7, 0, 1};
    px_buf mb = PXS_FIXED_BUF(mval, 3);
    pxs_val_seal(DBI_OFF, mkey, sizeof mkey, &mb);
    MDB_val k = {sizeof mkey, (void *)mkey}, v = {mb.len, mval};
    assert_int_equal(mdb_put(txn, off, &k, &v, 0), 0);
    raw_end(env, txn);

    reports rep = {0};
    px_store_opts o = {.check = PX_STORE_CHECK_META,
                       .on_damage = on_report,
                       .damage_ctx = &rep,
                       .feed = {on_change, on_committed, on_aborted, &f->k, on_prepare}};
    char eb[256];
    f->s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    assert_non_null(f->s);
    assert_true(px_store_log_pending(f->s));
    assert_int_equal(px_store_resume(f->s, NULL), PX_ERR_DAMAGED);
    assert_non_null(strstr(rep.all, "batch.log: chunk 1 does not decode"));
    assert_null(strstr(rep.all, "org_i"));
    px_store_close(f->s);
    o.drop_damaged_log = true;
    f->s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    uint64_t lost = 0;
    assert_int_equal(px_store_resume(f->s, &lost), PX_ERR_MALFORMED);
    assert_int_equal(lost, 1);
    assert_false(px_store_log_pending(f->s));
    verify_clean(f->s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepare_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_format2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damage_new_tables, setup, teardown),
        cmocka_unit_test(test_alert_checked),
        cmocka_unit_test_setup_teardown(test_log_unknown_org, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
