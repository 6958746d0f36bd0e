/* fuzz_store_file.c: libFuzzer harness over the checked reader of the
 * store's data file (px_store_file.c) and all that reads through it: the
 * checks of an open, queries, and the full walk of px_store_verify().
 *
 * Byte 0 chooses: odd, the rest is the whole data.mdb; even, the rest is a
 * list of patches (4-byte offset, 1-byte XOR) applied to a small valid
 * store made once at start-up (records of several types, an overlong TXT
 * on overflow pages, dictionaries, two batches so that the free list is
 * not empty, state, alerts (one on overflow pages) and a sink cursor
 * written by a change feed's prepare), so that mutations reach the pages,
 * nodes, keys and values behind the meta pages. Each run opens the result
 * read-only, runs a query of every record, the same in steps of 7 keys
 * (px_store_iter: a snapshot and a seek past the last key each step), one
 * by rdata, the outbox's list and the full walk; none may crash, a query that met damage must say
 * so (the walk then finds it too; so must the outbox's list), the steps must give what the one
 * query gave where that met no damage, and a store the walk calls sound must take a batch through
 * LMDB. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/px_addr.h"
#include "store/px_store.h"

static char tmpl_dir[] = "/tmp/fuzz-store-file-t.XXXXXX";
static char dir[] = "/tmp/fuzz-store-file.XXXXXX";
static uint8_t *tmpl;
static size_t tmpl_len;

static void remove_dir(const char *d)
{
    static const char *files[] = {"data.mdb", "lock.mdb", "batch.log"};
    char p[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", d, files[i]);
        unlink(p);
    }
    rmdir(d);
}

static void cleanup(void)
{
    remove_dir(tmpl_dir);
    remove_dir(dir);
    free(tmpl);
}

static bool geo(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    (void)ctx;
    char address[PX_ADDR_TEXT_MAX];
    px_addr_format_bytes(addr, len, address);
    snprintf(out->country, sizeof out->country, "NL");
    out->asn = 1136;
    snprintf(out->as_org, sizeof out->as_org, "AS of %c", address[0]);
    return true;
}

static px_err tmpl_change(void *ctx, const px_change *c)
{
    (void)ctx;
    (void)c;
    return PX_OK;
}

/* State and an alert per transaction; the second alert's JSON takes
 * overflow pages. */
static px_err tmpl_prepare(void *ctx, px_change_txn *t)
{
    static char json[6000];
    int *n = ctx;
    char key[16];
    snprintf(key, sizeof key, "d%d.test\x01", *n);
    memset(json, 'j', sizeof json - 1);
    px_alert a = {.time = 2000 + *n,
                  .rule = "pdnsx.new_domain_burst",
                  .key = "d1.test",
                  .id = "0123456789abcdef0123456789abcdef",
                  .json = json,
                  .json_len = *n % 2 ? sizeof json - 1 : 40};
    ++*n;
    px_err err = t->put(t, key, strlen(key), json, 30);
    return err ? err : t->alert(t, &a, NULL);
}

static void merge_some(px_store *s, int round)
{
    static char txt[3000];
    memset(txt, 't', sizeof txt - 1);
    px_store_batch *b;
    if (px_store_batch_begin(s, &b) != PX_OK)
        abort();
    for (int i = 0; i < 120; i++) {
        char name[64], rd[64];
        static const uint16_t types[] = {1, 28, 5, 15, 16}; /* A AAAA CNAME MX TXT */
        uint16_t type = types[i % 5];
        const uint8_t v4[4] = {192, 0, 2, (uint8_t)i};                      /* 192.0.2.I */
        const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = (uint8_t)i}; /* 2001:db8::I */
        snprintf(name, sizeof name, "h%d.d%d.test", i, i % 7);
        if (i % 5 == 3)
            snprintf(rd, sizeof rd, "10 mx%d.d%d.test", i % 3, i % 7);
        else
            snprintf(rd, sizeof rd, "t%d.d%d.test", i, i % 7);
        char dom[32];
        snprintf(dom, sizeof dom, "d%d.test", i % 7);
        const char *rdata = i == 4 ? txt : rd;
        px_store_obs o = {.rrname = name,
                          .rrname_len = strlen(name),
                          .rrtype = type,
                          .rdata = rdata,
                          .rdata_len = strlen(rdata),
                          .rdata_wire = type == 1 ? v4 : v6,
                          .rdata_wire_len = type == 1 ? 4 : 16,
                          .bailiwick = i % 2 ? dom : NULL,
                          .bailiwick_len = strlen(dom),
                          .regdom = dom,
                          .regdom_len = strlen(dom),
                          .count = 1 + (uint64_t)i,
                          .time_first = 1000 + round,
                          .time_last = 2000 + i,
                          .org = i % 3 ? "org-a" : "org-b"};
        if (px_store_merge(b, &o) != PX_OK)
            abort();
    }
    if (px_store_sink_set(b, "jsonl", 1 + (uint64_t)round) != PX_OK ||
        px_store_batch_commit(b) != PX_OK)
        abort();
}

static void make_template(void)
{
    if (!mkdtemp(tmpl_dir) || !mkdtemp(dir))
        abort();
    atexit(cleanup);
    px_err err;
    char eb[256];
    static int decisions;
    px_store_opts o = {.map_bytes = 1ULL << 26,
                       .enrich = geo,
                       .feed = {.change = tmpl_change, .ctx = &decisions, .prepare = tmpl_prepare}};
    px_store *s = px_store_open(tmpl_dir, &o, &err, eb, sizeof eb);
    if (!s)
        abort();
    merge_some(s, 0);
    merge_some(s, 1);
    px_store_close(s);
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", tmpl_dir);
    FILE *f = fopen(p, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        abort();
    tmpl_len = (size_t)ftell(f);
    rewind(f);
    tmpl = malloc(tmpl_len);
    if (!tmpl || fread(tmpl, 1, tmpl_len, f) != tmpl_len)
        abort();
    fclose(f);
}

static bool count(void *ctx, const px_store_rec *rec)
{
    (void)rec;
    ++*(size_t *)ctx;
    return true;
}

static bool count_alert(void *ctx, const px_alert *a)
{
    if (strlen(a->json) != a->json_len)
        abort();
    ++*(size_t *)ctx;
    return true;
}

static void write_store(const uint8_t *data, size_t size)
{
    uint8_t *img = NULL;
    size_t len = size;
    if (data[0] & 1) {
        img = malloc(size ? size : 1);
        if (!img)
            abort();
        memcpy(img, data + 1, size - 1);
        len = size - 1;
    } else {
        img = malloc(tmpl_len);
        if (!img)
            abort();
        memcpy(img, tmpl, tmpl_len);
        len = tmpl_len;
        for (size_t i = 1; i + 5 <= size; i += 5) {
            uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
                           (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;
            img[off % tmpl_len] ^= data[i + 4];
        }
    }
    remove_dir(dir);
    if (mkdir(dir, 0755) != 0)
        abort();
    char p[128];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(img, 1, len, f) != len || fclose(f) != 0)
        abort();
    free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tmpl)
        make_template();
    if (size < 1)
        return 0;
    write_store(data, size);
    px_err err;
    char eb[512];
    px_store_opts ro = {.read_only = true, .map_bytes = 1ULL << 26};
    px_store *s = px_store_open(dir, &ro, &err, eb, sizeof eb);
    if (!s)
        return 0;
    px_store_fence all = {INT64_MIN, INT64_MAX};
    size_t n = 0;
    const px_store_lookup below = {
        .by = PX_STORE_BY_ZONE, .name = "test", .name_len = 4, .rrtype = PX_STORE_ANY_TYPE};
    const px_store_lookup target = {
        .by = PX_STORE_BY_TARGET, .name = "mx1.d3.test", .name_len = 11};
    px_err qerr = px_store_find(s, &below, &all, count, &n);
    size_t n_first = n, n_steps = 0;
    px_store_iter *it = NULL;
    px_err ierr = px_store_iter_find(s, &below, &all, &it);
    for (bool done = false; ierr == PX_OK && !done;)
        ierr = px_store_iter_step(it, 7, count, &n_steps, &done);
    px_store_iter_free(it);
    px_store_find(s, &target, &all, count, &n);
    size_t n_alerts = 0;
    px_err aerr = px_store_alerts(s, 0, &all, NULL, count_alert, &n_alerts);
    px_store_verify_result vr;
    px_err verr = px_store_verify(s, PX_STORE_CHECK_FULL, &vr);
    px_store_close(s);
    if (qerr != PX_OK && qerr != PX_ERR_DAMAGED)
        abort();
    if (qerr == PX_ERR_DAMAGED && verr != PX_ERR_DAMAGED)
        abort(); /* the walk misses what a query met */
    if (ierr != PX_OK && ierr != PX_ERR_DAMAGED)
        abort();
    if ((aerr != PX_OK && aerr != PX_ERR_DAMAGED) ||
        (aerr == PX_ERR_DAMAGED && verr != PX_ERR_DAMAGED))
        abort(); /* the walk misses what the outbox's list met */
    if (ierr == PX_ERR_DAMAGED && verr != PX_ERR_DAMAGED)
        abort(); /* the walk misses what a step met */
    if (qerr == PX_OK && (ierr != PX_OK || n_steps != n_first))
        abort(); /* the steps read the same snapshot otherwise */
    if (verr != PX_OK)
        return 0;
    /* what the walk calls sound, LMDB can write into */
    px_store_opts rw = {.map_bytes = 1ULL << 26, .enrich = geo};
    s = px_store_open(dir, &rw, &err, eb, sizeof eb);
    if (!s)
        abort();
    merge_some(s, 2);
    px_store_close(s);
    return 0;
}
