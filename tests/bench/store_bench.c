/* store_bench.c: merge throughput of the consumer store.
 *
 *   pdnsx-bench-store [-n OBSERVATIONS] [-k KEYS] [-b BATCH] [-o ORGS] [-m MAP_MIB]
 *                     [-c CHUNK] [-s SEED] [-p I/N] [-l] [-r RESTORE_DIR] DIR
 *
 * Merges N observations drawn over K distinct (rrname, rrtype, rdata) keys
 * (mostly A, some AAAA and CNAME, 8 names per registered domain) from ORGS
 * organisations, committing every BATCH, into a fresh store in DIR (which
 * must not hold one), then prints merges/s, the time spent in commits and
 * bytes/record (pages in use, and the data file). -m sets the LMDB map
 * size (valgrind cannot reserve the default 64 GiB); -c the records per
 * transaction of a big batch (px_store_opts.chunk_records); -s another
 * draw of the same keys (tests build overlapping stores with it). -p I/N
 * merges only the observations whose registered domain the producers'
 * partitioner puts in partition I of N (the same draws: the stores of
 * I = 0 .. N-1 are the partition stores of the store without -p). -l
 * turns the store's changelog on (px_store_opts.changelog; its messages
 * counted, no Kafka) and prints its rows and bytes; -r (implies -l) keeps
 * the messages in memory and then restores them into a fresh store in RESTORE_DIR,
 * 10,000 rows a px_store_apply_rows call, and prints the restore's speed
 * (the store's side of a restore: no Kafka). */
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dns/px_addr.h"
#include "kafka/px_kafka_partition.h"
#include "store/px_store.h"

static uint64_t rng = 0x2545f4914f6cdd1dULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One key as the consumer hands it to the store (px_store_obs): canonical
 * names, A/AAAA as their address bytes, other rdata as canonical text. */
typedef struct key_text {
    char regdom[48], name[80], rdata[64];
    uint16_t type;
    uint8_t addr[16];
    size_t addr_len;
} key_text;

static void make_key(uint32_t k, key_text *t)
{
    static const char *tlds[] = {"com", "net", "org", "de", "co.uk", "nl", "io", "fr"};
    static const char *hosts[] = {"www", "mail", "api", "cdn", "static", "login", "img", "m"};
    uint32_t d = k / 8;
    snprintf(t->regdom, sizeof t->regdom, "site%u.%s", d, tlds[d % 8]);
    snprintf(t->name, sizeof t->name, "%s.%s", hosts[k % 8], t->regdom);
    uint32_t kind = (k * 2654435761u) % 100;
    t->addr_len = 0;
    if (kind < 75) { /* 1.2.3.4 for k = 0x020304 */
        t->type = 1;
        const uint8_t a[4] = {(uint8_t)(1 + (k >> 24)), (uint8_t)(k >> 16), (uint8_t)(k >> 8),
                              (uint8_t)k};
        memcpy(t->addr, a, t->addr_len = 4);
    } else if (kind < 90) { /* 2a02:K>>16::K&0xffff */
        t->type = 28;
        const uint8_t a[16] = {
            0x2a,      0x02, (uint8_t)(k >> 24), (uint8_t)(k >> 16), [14] = (uint8_t)(k >> 8),
            (uint8_t)k};
        memcpy(t->addr, a, t->addr_len = 16);
    } else {
        t->type = 5;
        snprintf(t->rdata, sizeof t->rdata, "edge%u.cdn.example.net", k % 1000);
    }
}

/* A made-up GeoIP answer from the address text (its first two
 * characters), as the consumer's would be per address. */
static bool geo(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    (void)ctx;
    char address[PX_ADDR_TEXT_MAX];
    px_addr_format_bytes(addr, len, address);
    snprintf(out->country, sizeof out->country, "%s", address[0] == '2' ? "DE" : "US");
    out->asn = 64500 + address[1] % 8;
    snprintf(out->as_org, sizeof out->as_org, "Example Networks %c", address[1]);
    return true;
}

/* The changelog's messages, as a topic would hold them (key: table byte +
 * row key; value NULL for a tombstone). */
typedef struct msg {
    uint8_t *key, *val;
    size_t key_len, val_len;
} msg;

typedef struct topic {
    msg *m;
    size_t n, cap;
    uint64_t rows, bytes;
    bool keep; /* -r: keep the messages to restore them */
} topic;

static px_err publish(void *ctx, const px_store_row *rows, size_t n, int64_t *next)
{
    topic *t = ctx;
    for (size_t i = 0; i < n; i++)
        t->bytes += 1 + rows[i].key_len + rows[i].val_len;
    t->rows += n;
    *next = (int64_t)t->rows;
    if (!t->keep)
        return PX_OK;
    if (t->n + n > t->cap) {
        size_t cap = (t->n + n) * 2;
        msg *m = realloc(t->m, cap * sizeof *m);
        if (!m)
            return PX_ERR_NOMEM;
        t->m = m;
        t->cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        msg *m = &t->m[t->n];
        m->key = malloc(rows[i].key_len + 1 + rows[i].val_len);
        if (!m->key)
            return PX_ERR_NOMEM;
        px_err err = px_store_row_to_msg(&rows[i], m->key, rows[i].key_len + 1, &m->key_len);
        if (err)
            return err;
        m->val = rows[i].val ? memcpy(m->key + m->key_len, rows[i].val, rows[i].val_len) : NULL;
        m->val_len = rows[i].val_len;
        t->n++;
    }
    return PX_OK;
}

/* The topic's messages into a fresh store at dir, 10,000 a call. */
static int restore(const topic *t, const char *dir)
{
    px_err err;
    char eb[256];
    px_store *s = px_store_open(dir, &(px_store_opts){0}, &err, eb, sizeof eb);
    if (!s) {
        fprintf(stderr, "%s\n", eb);
        return 1;
    }
    static px_store_row rows[10000];
    double t0 = now();
    for (size_t i = 0; i < t->n && !err; i += 10000) {
        size_t k = t->n - i < 10000 ? t->n - i : 10000;
        for (size_t j = 0; j < k && !err; j++) {
            const msg *m = &t->m[i + j];
            err = px_store_row_from_msg(m->key, m->key_len, m->val, m->val_len, &rows[j]);
        }
        if (!err)
            err = px_store_apply_rows(s, rows, k, (int64_t)(i + k));
    }
    double secs = now() - t0;
    px_store_stats st = {0};
    if (!err)
        err = px_store_get_stats(s, &st);
    px_store_close(s);
    if (err) {
        fprintf(stderr, "restore: %s\n", px_strerror(err));
        return 1;
    }
    printf("restore: %zu rows in %.2f s: %.0f rows/s, %.0f records/s (%llu records)\n", t->n, secs,
           (double)t->n / secs, (double)st.records / secs, (unsigned long long)st.records);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long n = 1000000, keys = 100000, batch = 5000, norgs = 3, map_mib = 0, chunk = 0;
    const char *restore_dir = NULL;
    topic clog = {0};
    bool with_clog = false;
    int32_t part_i = 0, part_n = 0;
    int opt;
    while ((opt = getopt(argc, argv, "n:k:b:o:m:c:s:p:lr:")) != -1) {
        if (opt == 'l' || opt == 'r') {
            with_clog = true;
            restore_dir = opt == 'r' ? optarg : restore_dir;
            clog.keep = restore_dir != NULL;
            continue;
        }
        if (!optarg) /* an unknown option */
            return 2;
        if (opt == 'p') {
            if (sscanf(optarg, "%" SCNd32 "/%" SCNd32, &part_i, &part_n) != 2 || part_n < 1 ||
                part_i < 0 || part_i >= part_n)
                return 2;
            continue;
        }
        unsigned long v = strtoul(optarg, NULL, 10);
        if (opt == 'n')
            n = v;
        else if (opt == 'k')
            keys = v ? v : 1;
        else if (opt == 'b')
            batch = v ? v : 1;
        else if (opt == 'o')
            norgs = v ? v : 1;
        else if (opt == 'm')
            map_mib = v;
        else if (opt == 'c')
            chunk = v;
        else if (opt == 's')
            rng ^= (uint64_t)v * 0x9e3779b97f4a7c15ULL; /* odd factor: never 0 */
        else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr,
                "usage: %s [-n N] [-k KEYS] [-b BATCH] [-o ORGS] [-m MAP_MIB] [-c CHUNK] [-s SEED] "
                "[-p I/N] [-l] [-r RESTORE_DIR] DIR\n",
                argv[0]);
        return 2;
    }
    px_err err;
    char eb[256];
    px_store_opts opts = {
        .map_bytes = (uint64_t)map_mib << 20, .chunk_records = (uint32_t)chunk, .enrich = geo};
    if (with_clog) {
        opts.changelog = publish;
        opts.changelog_ctx = &clog;
    }
    px_store *s = px_store_open(argv[optind], &opts, &err, eb, sizeof eb);
    if (!s) {
        fprintf(stderr, "%s\n", eb);
        return 1;
    }
    char orgs[16][16];
    for (unsigned i = 0; i < 16; i++)
        snprintf(orgs[i], sizeof orgs[i], "org-%u", i);
    px_store_batch *b = NULL;
    double t0 = now(), commit_s = 0;
    for (unsigned long i = 0; i < n; i++) {
        if (!b && (err = px_store_batch_begin(s, &b)) != PX_OK)
            break;
        key_text t;
        make_key(rnd() % (uint32_t)keys, &t);
        int64_t tf = 1700000000 + (int64_t)(i / 100);
        size_t dl = strlen(t.regdom);
        uint64_t count = 1 + rnd() % 5; /* in this order: the draws make the data */
        const char *org = orgs[rnd() % (norgs > 16 ? 16 : norgs)];
        px_store_obs o = {.rrname = t.name,
                          .rrname_len = strlen(t.name),
                          .rrtype = t.type,
                          .rdata = t.addr_len ? NULL : t.rdata,
                          .rdata_len = t.addr_len ? 0 : strlen(t.rdata),
                          .rdata_wire = t.addr_len ? t.addr : NULL,
                          .rdata_wire_len = t.addr_len,
                          .bailiwick = t.regdom,
                          .bailiwick_len = dl,
                          .regdom = t.regdom,
                          .regdom_len = dl,
                          .count = count,
                          .time_first = tf,
                          .time_last = tf + 60,
                          .org = org};
        bool mine = !part_n || px_kafka_partition_of(t.regdom, dl, part_n) == part_i;
        if (mine && (err = px_store_merge(b, &o)) != PX_OK)
            break;
        if ((i + 1) % batch == 0 || i + 1 == n) {
            err = px_store_set_offset(b, "bench", 0, (int64_t)i + 1);
            double c0 = now();
            if (!err)
                err = px_store_batch_commit(b);
            commit_s += now() - c0;
            b = NULL;
            if (err)
                break;
        }
    }
    double secs = now() - t0;
    px_store_batch_abort(b);
    px_store_stats st = {0};
    if (!err)
        err = px_store_get_stats(s, &st);
    px_store_close(s);
    if (err) {
        fprintf(stderr, "store: %s\n", px_strerror(err));
        return 1;
    }
    printf("observations %lu  keys %lu  batch %lu  orgs %lu\n", n, keys, batch, norgs);
    char path[4096];
    struct stat fs = {0};
    snprintf(path, sizeof path, "%s/data.mdb", argv[optind]);
    stat(path, &fs);
    double per = st.records ? 1.0 / (double)st.records : 0.0;
    printf("merges/s %.0f  (%.2f s, %.2f s in commits)\n", (double)n / secs, secs, commit_s);
    printf("records %llu  domains %llu  bytes %llu  bytes/record %.1f  data file bytes/record "
           "%.1f\n",
           (unsigned long long)st.records, (unsigned long long)st.domains,
           (unsigned long long)st.bytes, (double)st.bytes * per, (double)fs.st_size * per);
    if (with_clog)
        printf("changelog: %llu rows, %llu bytes\n", (unsigned long long)clog.rows,
               (unsigned long long)clog.bytes);
    int rc = restore_dir ? restore(&clog, restore_dir) : 0;
    for (size_t i = 0; i < clog.n; i++)
        free(clog.m[i].key); /* the value shares its allocation */
    free(clog.m);
    return rc;
}
