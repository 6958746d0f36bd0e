/* changelog_bench: rows per second through the changelog topic's Kafka
 * side (consumer/px_consumer_changelog.h), as the consumer will use it:
 * each store transaction's rows published and waited for, one transaction
 * after another, then each partition restored from its start with an apply
 * that only counts (the store's own cost of applying is the store's
 * benchmark). Creates a fresh log-compacted topic on the broker.
 *
 *   pdnsx-bench-changelog -b BROKERS [-n ROWS] [-x ROWS_PER_TX] [-p PARTITIONS]
 *                         [-k KEY_BYTES] [-v VALUE_BYTES] [-K DISTINCT_KEYS]
 *                         [-T] [-a APPLY_ROWS_PER_S] [-P librdkafka.prop=value]...
 *
 * -T: each publish a Kafka transaction (px_changelog_opts.transactional_id).
 * -a: the restore's apply takes (sleeps) as long as applying that many rows
 *     a second would: a store slower than the topic's reading, whose queue
 *     then fills up to its bound (the fetcher's stop, px_changelog_wake).
 *
 * Prints one line of figures (key=value). */
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "px_consumer_changelog.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "pdnsx-bench-changelog: %s: %s\n", what, why);
    exit(1);
}

static void topic_create(const char *brokers, const char *topic, int partitions)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die("bootstrap.servers", err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        die("rd_kafka_new", err);
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof(err));
    if (!nt)
        die("NewTopic", err);
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    size_t cnt = 0;
    const rd_kafka_topic_result_t **tr =
        res ? rd_kafka_CreateTopics_result_topics(res, &cnt) : NULL;
    if (!tr || cnt != 1 || rd_kafka_topic_result_error(tr[0]))
        die("create topic", tr && cnt ? rd_kafka_topic_result_error_string(tr[0]) : "no answer");
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
}

typedef struct counted {
    uint64_t rows, bytes, calls;
    long apply_rate; /* rows/s the apply takes at most (sleeping); 0: no limit */
    double t0;
} counted;

static px_err count(void *ctx, const px_changelog_msg *m, size_t n, int64_t next)
{
    (void)next;
    counted *c = ctx;
    for (size_t i = 0; i < n; i++)
        c->bytes += m[i].key_len + m[i].val_len;
    c->rows += n;
    c->calls++;
    if (c->apply_rate > 0) { /* as a store that applies apply_rate rows/s would */
        double due = c->t0 + (double)c->rows / (double)c->apply_rate - now_s();
        if (due > 0)
            nanosleep(&(struct timespec){(time_t)due, (long)((due - (double)(time_t)due) * 1e9)},
                      NULL);
    }
    return PX_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench {
    const char *brokers;
    long rows, per_tx, key_bytes, val_bytes, keys, apply_rate;
    int partitions;
    bool txn;
    px_kafka_prop props[32];
    size_t n_props;
} bench;

/* Rows of transaction t: keys cycle over b->keys distinct ones. */
static void fill_tx(const bench *b, long t, uint8_t *keys, uint8_t *vals, px_changelog_msg *m)
{
    for (long i = 0; i < b->per_tx; i++) {
        uint8_t *k = keys + i * b->key_bytes, *v = vals + i * b->val_bytes;
        long id = (t * b->per_tx + i) % b->keys;
        memset(k, 'k', (size_t)b->key_bytes);
        k[0] = (uint8_t)(1 + id % 11);
        snprintf((char *)k + 1, (size_t)b->key_bytes - 1, "%ld.example.com", id);
        /* values as checksummed binary rows are: no compressor gains on them */
        uint64_t x = (uint64_t)(t * b->per_tx + i) * 0x9E3779B97F4A7C15u + 1;
        for (long j = 0; j < b->val_bytes; j++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v[j] = (uint8_t)x;
        }
        m[i] = (px_changelog_msg){k, (size_t)b->key_bytes, v, (size_t)b->val_bytes};
    }
}

static void publish_all(const bench *b, px_changelog *cl)
{
    long n_tx = b->rows / b->per_tx;
    uint8_t *keys = malloc((size_t)(b->per_tx * b->key_bytes));
    uint8_t *vals = malloc((size_t)(b->per_tx * b->val_bytes));
    px_changelog_msg *m = calloc((size_t)b->per_tx, sizeof(*m));
    double *lat = calloc((size_t)n_tx, sizeof(*lat));
    if (!keys || !vals || !m || !lat)
        die("publish", "out of memory");
    double t0 = now_s(), fill = 0;
    for (long t = 0; t < n_tx; t++) {
        double f0 = now_s();
        fill_tx(b, t, keys, vals, m);
        double s = now_s();
        fill += s - f0;
        int64_t next;
        char why[512] = "";
        if (px_changelog_publish(cl, (int32_t)(t % b->partitions), m, (size_t)b->per_tx, NULL,
                                 &next, why, sizeof(why)) != PX_OK)
            die("publish", why);
        lat[t] = now_s() - s;
    }
    double span = now_s() - t0 - fill;
    qsort(lat, (size_t)n_tx, sizeof(*lat), cmp_double);
    printf("publish%s rows=%ld tx=%ld rows_per_tx=%ld seconds=%.3f rows_per_s=%.0f "
           "MB_per_s=%.1f tx_ms_p50=%.2f tx_ms_p99=%.2f\n",
           b->txn ? "_txn" : "", n_tx * b->per_tx, n_tx, b->per_tx, span,
           (double)(n_tx * b->per_tx) / span,
           (double)(n_tx * b->per_tx * (b->key_bytes + b->val_bytes)) / span / 1e6,
           lat[n_tx / 2] * 1e3, lat[(n_tx * 99) / 100] * 1e3);
    free(keys);
    free(vals);
    free(m);
    free(lat);
}

static void restore_all(const bench *b, px_changelog *cl)
{
    for (int p = 0; p < b->partitions; p++) {
        counted c = {.apply_rate = b->apply_rate};
        char why[512] = "";
        double t0 = c.t0 = now_s();
        if (px_changelog_restore(cl, p, 0, count, &c, why, sizeof(why)) != PX_OK)
            die("restore", why);
        double span = now_s() - t0;
        printf("restore partition=%d rows=%" PRIu64 " chunks=%" PRIu64
               " seconds=%.3f rows_per_s=%.0f MB_per_s=%.1f\n",
               p, c.rows, c.calls, span, (double)c.rows / span, (double)c.bytes / span / 1e6);
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: pdnsx-bench-changelog -b BROKERS [-n ROWS] [-x ROWS_PER_TX] "
            "[-p PARTITIONS] [-k KEY_BYTES] [-v VALUE_BYTES] [-K KEYS] [-T] [-a APPLY_ROWS_PER_S] "
            "[-P prop=value]\n");
    exit(2);
}

static void parse(int argc, char **argv, bench *b)
{
    *b = (bench){.rows = 1000000,
                 .per_tx = 5000,
                 .key_bytes = 48,
                 .val_bytes = 96,
                 .keys = 200000,
                 .partitions = 2};
    int o;
    while ((o = getopt(argc, argv, "b:n:x:p:k:v:K:P:Ta:")) != -1) {
        switch (o) {
        case 'b':
            b->brokers = optarg;
            break;
        case 'n':
            b->rows = atol(optarg);
            break;
        case 'x':
            b->per_tx = atol(optarg);
            break;
        case 'p':
            b->partitions = atoi(optarg);
            break;
        case 'k':
            b->key_bytes = atol(optarg);
            break;
        case 'v':
            b->val_bytes = atol(optarg);
            break;
        case 'K':
            b->keys = atol(optarg);
            break;
        case 'T':
            b->txn = true;
            break;
        case 'a':
            b->apply_rate = atol(optarg);
            break;
        case 'P': {
            char *eq = strchr(optarg, '=');
            if (!eq || b->n_props == 32)
                usage();
            *eq = '\0';
            b->props[b->n_props++] = (px_kafka_prop){optarg, eq + 1};
            break;
        }
        default:
            usage();
        }
    }
    if (!b->brokers || b->rows < 1 || b->per_tx < 1 || b->partitions < 1 || b->key_bytes < 24 ||
        b->key_bytes > PX_CHANGELOG_KEY_MAX || b->val_bytes < 1 || b->keys < 1)
        usage();
}

int main(int argc, char **argv)
{
    bench b;
    parse(argc, argv, &b);
    char topic[128];
    snprintf(topic, sizeof(topic), "pdnsx-bench-changelog-%ld-%ld", (long)getpid(),
             (long)time(NULL));
    topic_create(b.brokers, topic, b.partitions);
    px_kafka_settings ks = {.brokers = b.brokers, .props = b.props, .n_props = b.n_props};
    char txn_id[160];
    snprintf(txn_id, sizeof(txn_id), "%s-txn", topic);
    px_changelog_opts o = {
        .settings = &ks, .topic = topic, .transactional_id = b.txn ? txn_id : NULL};
    px_changelog *cl = NULL;
    char why[512] = "";
    if (px_changelog_create(&o, &cl, why, sizeof(why)) != PX_OK)
        die("create", why);
    /* the topic's leaders known before the clock starts */
    int parts = 0;
    for (int i = 0; i < 100 && px_changelog_partitions(cl, &parts, NULL, 0) != PX_OK; i++)
        ;
    if (parts != b.partitions)
        die(topic, "not ready");
    if (px_changelog_fence(cl, why, sizeof(why)) != PX_OK)
        die("fence", why);
    publish_all(&b, cl);
    restore_all(&b, cl);
    px_changelog_destroy(cl);
    return 0;
}
