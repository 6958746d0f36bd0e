/* test_store_orgs.c: what the store tells the consumer's bound on new
 * records per organisation: how many records each organisation helped add
 * (counted at the flush, published at the commit), and whether an
 * observation's record is known (in the open batch or in the store; a
 * stored value that fails its checks is damage there as everywhere). */
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

typedef struct fix {
    char dir[64];
    px_store *s;
} fix;

static px_store *open_opts(const char *dir, uint32_t chunk)
{
    px_err err = PX_OK;
    char eb[256];
    px_store *s = px_store_open(dir, &(px_store_opts){.chunk_records = chunk}, &err, eb, sizeof eb);
    if (!s)
        fail_msg("open %s: %s", dir, eb);
    return s;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pxstoreorg.XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    f->s = open_opts(f->dir, 0);
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

/* The full walk of the store finds nothing: what these tests wrote is
 * sound, every page, key and value. */
static void assert_verified(px_store *s)
{
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    assert_int_equal(vr.findings, 0);
    assert_int_equal(vr.pages, vr.pages_in_file);
    assert_int_equal(vr.records, vr.records_expected);
}

static const uint8_t addr34[4] = {93, 184, 216, 34}, addr35[4] = {93, 184, 216, 35};

/* name A 93.184.216.34 of example.com, seen by org */
static px_store_obs obs(const char *name, const char *org)
{
    return (px_store_obs){.rrname = name,
                          .rrname_len = strlen(name),
                          .rrtype = 1, /* A */
                          .rdata_wire = addr34,
                          .rdata_wire_len = sizeof(addr34),
                          .regdom = "example.com",
                          .regdom_len = strlen("example.com"),
                          .org = org,
                          .count = 1,
                          .time_first = 1764000000,
                          .time_last = 1764000060};
}

static void merge(px_store_batch *b, const char *name, const char *org)
{
    px_store_obs o = obs(name, org);
    assert_int_equal(px_store_merge(b, &o), PX_OK);
}

static bool known(px_store_batch *b, const char *name)
{
    px_store_obs o = obs(name, "org-a");
    bool k = true;
    assert_int_equal(px_store_batch_known(b, &o, &k), PX_OK);
    return k;
}

/* A record new to the store counts once for each organisation that
 * observed it in its batch; a record the store holds counts for nobody;
 * nothing counts before the commit, and an abandoned batch never does. */
static void test_new_records_per_org(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    merge(b, "x1.example.com", "org-a");
    merge(b, "x2.example.com", "org-a");
    merge(b, "x2.example.com", "org-b");
    merge(b, "x3.example.com", "org-b");
    merge(b, "x3.example.com", "org-b"); /* twice: one record */
    assert_int_equal(px_store_org_new_records(f->s, "org-a"), 0);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(px_store_org_new_records(f->s, "org-a"), 2);
    assert_int_equal(px_store_org_new_records(f->s, "org-b"), 2);
    assert_int_equal(px_store_org_new_records(f->s, "org-c"), 0);

    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    merge(b, "x1.example.com", "org-b"); /* known: counts for nobody */
    merge(b, "x4.example.com", "org-a");
    merge(b, "x5.example.com", "org-c");
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(px_store_org_new_records(f->s, "org-a"), 3);
    assert_int_equal(px_store_org_new_records(f->s, "org-b"), 2);
    assert_int_equal(px_store_org_new_records(f->s, "org-c"), 1);

    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    merge(b, "x6.example.com", "org-a");
    px_store_batch_abort(b);
    assert_int_equal(px_store_org_new_records(f->s, "org-a"), 3);
    assert_verified(f->s);
}

/* A big batch goes through the batch log, applied a chunk per
 * transaction: its new records count as the chunks are applied. */
static void test_new_records_through_the_log(void **state)
{
    fix *f = *state;
    px_store_close(f->s);
    f->s = open_opts(f->dir, 2); /* more than 2 records: the log */
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    for (int i = 0; i < 7; i++) {
        char name[32];
        snprintf(name, sizeof name, "h%d.example.com", i);
        merge(b, name, i < 5 ? "org-a" : "org-b");
    }
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_false(px_store_log_pending(f->s));
    assert_int_equal(px_store_org_new_records(f->s, "org-a"), 5);
    assert_int_equal(px_store_org_new_records(f->s, "org-b"), 2);
    assert_verified(f->s);
}

/* Known: merged into the open batch (also the last merge, whose table work
 * waits for the next call) or held by the store; else not. */
static void test_batch_known(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    merge(b, "stored.example.com", "org-a");
    assert_int_equal(px_store_batch_commit(b), PX_OK);

    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    assert_true(known(b, "stored.example.com"));
    assert_false(known(b, "new.example.com"));
    merge(b, "other.example.com", "org-b");
    merge(b, "new.example.com", "org-b"); /* held back by the merge */
    assert_true(known(b, "new.example.com"));
    assert_true(known(b, "other.example.com"));
    assert_false(known(b, "never.example.com"));
    /* other types and rdata are other records */
    px_store_obs o = obs("stored.example.com", "org-a");
    o.rdata_wire = addr35;
    bool k = true;
    assert_int_equal(px_store_batch_known(b, &o, &k), PX_OK);
    assert_false(k);
    /* an observation the merge would refuse (an A record without its four
     * bytes): an error, nothing changes */
    o.rdata_wire_len = 3;
    assert_int_equal(px_store_batch_known(b, &o, &k), PX_ERR_MALFORMED);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    /* the lookups changed nothing: the batch committed as merged */
    assert_int_equal(px_store_org_new_records(f->s, "org-b"), 2);
    assert_int_equal(px_store_org_new_records(f->s, "org-a"), 1);
    assert_verified(f->s);
}

/* Flips a bit of the checksum of the store's first record, through LMDB
 * itself (the store closed). */
static void damage_first_record(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *c;
    MDB_val k, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "rec", 0, &dbi), 0);
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    uint8_t key[512], val[512];
    assert_true(k.mv_size <= sizeof key && v.mv_size <= sizeof val);
    memcpy(key, k.mv_data, k.mv_size);
    memcpy(val, v.mv_data, v.mv_size);
    val[v.mv_size - 1] ^= 0x01;
    MDB_val pk = {k.mv_size, key}, pv = {v.mv_size, val};
    assert_int_equal(mdb_cursor_put(c, &pk, &pv, MDB_CURRENT), 0);
    mdb_cursor_close(c);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

typedef struct reports {
    int n;
    char all[2048];
} reports;

static void on_report(void *ctx, const char *where, const char *what)
{
    reports *r = ctx;
    size_t used = strlen(r->all);
    snprintf(r->all + used, sizeof r->all - used, "%s: %s\n", where, what);
    r->n++;
}

/* A stored record whose value fails its checksum: looking it up is
 * damage, as merging into it is: reported where it is, never taken as
 * known, and the batch fails (its commit too), nothing counted. */
static void test_batch_known_damaged(void **state)
{
    fix *f = *state;
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    merge(b, "stored.example.com", "org-a");
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    px_store_close(f->s);
    f->s = NULL;
    damage_first_record(f->dir);

    reports r = {0};
    px_err err = PX_OK;
    char eb[512];
    px_store_opts o = {.check = PX_STORE_CHECK_META, .on_damage = on_report, .damage_ctx = &r};
    f->s = px_store_open(f->dir, &o, &err, eb, sizeof eb);
    if (!f->s)
        fail_msg("open: %s", eb);
    assert_int_equal(px_store_batch_begin(f->s, &b), PX_OK);
    merge(b, "new.example.com", "org-b");
    px_store_obs ob = obs("stored.example.com", "org-b");
    bool k = true;
    assert_int_equal(px_store_batch_known(b, &ob, &k), PX_ERR_DAMAGED);
    assert_false(k);
    assert_int_equal(r.n, 1);
    if (!strstr(r.all, "table rec, record stored.example.com A 93.184.216.34: the value fails "
                       "its checksum"))
        fail_msg("reports: %s", r.all);
    assert_int_equal(px_store_merge(b, &ob), PX_ERR_DAMAGED);
    assert_int_equal(px_store_batch_commit(b), PX_ERR_DAMAGED);
    assert_int_equal(px_store_org_new_records(f->s, "org-b"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_records_per_org, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_records_through_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_known, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_known_damaged, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
