/* test_consumer_trust: what the centre accepts, through the consumer's real
 * Kafka loop against librdkafka's mock cluster, with the settings loaded
 * from the consumer's own table (so the defaults are the shipped ones):
 *  - records the producer's privacy rules forbid (the root, bare public
 *    suffixes, local zones, single labels, special-purpose addresses,
 *    unlisted types) and implausible times go to pdnsx.dlq with their
 *    reason, none reaches a query, and a stored record's times stay put;
 *  - one organisation flooding new names is held to trust.org_new_records
 *    a minute (the rest dead-lettered as org_rate and counted per
 *    organisation) while another organisation's records all merge, and
 *    the flooding one's observations of known records still merge;
 *  - the same record in several batches merges by the rules (the earliest
 *    time_first, the latest time_last, counts summed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "obs/px_avro.h"
#include "consumer/px_consumer.h"
#include "core/px_metrics.h"
#include "metrics_read.h"
#include "mock_cluster.h"
#include "run_stats.h"
#include "store/px_store.h"
#include "store_ro.h"
#include "avro_encode.h"
#include "store_text.h"
#include "test_parts.h"

#define TOPIC_A "pdnsx.obs.org-a"
#define TOPIC_B "pdnsx.obs.org-b"
#define NOW INT64_C(1790000000)

/* ---- the cluster -------------------------------------------------------------- */

typedef struct cluster {
    pxt_cluster k;
    rd_kafka_mock_cluster_t *mc; /* k's */
    const char *brokers;         /* k's */
    rd_kafka_t *prod;
    px_avro_codec *codec;
} cluster;

static void cluster_start(cluster *c)
{
    char err[256];
    pxt_cluster_start(&c->k, 1, TOPIC_A, 2);
    c->mc = c->k.mc;
    c->brokers = c->k.brokers;
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, TOPIC_B, 2, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, PX_CONSUMER_DLQ_TOPIC, 1, 1), 0);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    c->prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(c->prod);
    assert_int_equal(px_avro_codec_create(&c->codec, NULL, 0), PX_OK);
    assert_non_null(c->codec);
}

static void cluster_stop(cluster *c)
{
    px_avro_codec_destroy(c->codec);
    rd_kafka_destroy(c->prod);
    pxt_cluster_stop(&c->k);
}

/* An observation as a producer of `org` would write it, one minute long
 * and ten minutes old at NOW. */
static px_avro_obs obs(const char *org, const char *rrname, const char *rrtype, const char *rdata)
{
    return (px_avro_obs){.rrname = rrname,
                         .rrtype = rrtype,
                         .rdata = rdata,
                         .count = 1,
                         .time_first = NOW - 600,
                         .time_last = NOW - 540,
                         .ttl_min = 300,
                         .ttl_max = 300,
                         .clients = -1,
                         .org = org,
                         .sensor = "s1"};
}

/* Publishes o on topic/part under key (NULL: its name), the message
 * stamped NOW (its CreateTime: the trust check fences time_last by it). */
static void produce(cluster *c, const char *topic, int32_t part, const char *key,
                    const px_avro_obs *o)
{
    const uint8_t *msg;
    size_t len;
    assert_int_equal(pxt_avro_encode(c->codec, o, &msg, &len), PX_OK);
    if (!key)
        key = o->rrname;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        c->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)msg, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(NOW * 1000), RD_KAFKA_V_END);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void produce_flush(cluster *c)
{
    assert_int_equal(rd_kafka_flush(c->prod, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* ---- the consumer -------------------------------------------------------------- */

typedef struct run_env {
    char dir[64];
    px_config *cfg;
    px_consumer_conf conf;
    int64_t now; /* the consumer's clock */
} run_env;

/* The test may move the clock while the consumer runs in another thread. */
static int64_t env_clock(void *ctx)
{
    return __atomic_load_n(&((run_env *)ctx)->now, __ATOMIC_SEQ_CST);
}

/* Settings through the consumer's table (defaults as shipped), plus sets. */
static void env_init(run_env *e, const cluster *c, const char *const *sets, size_t n)
{
    snprintf(e->dir, sizeof(e->dir), "/tmp/pdnsx-test-trust-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    e->now = NOW;
    e->cfg = px_config_create(px_query_conf_table);
    assert_non_null(e->cfg);
    char set[512];
    snprintf(set, sizeof(set), "kafka.brokers=\"%s\"", c->brokers);
    assert_int_equal(px_config_set(e->cfg, set), PX_OK);
    snprintf(set, sizeof(set), "store.path=\"%s\"", e->dir);
    assert_int_equal(px_config_set(e->cfg, set), PX_OK);
    /* a slow first fetch of a fresh group must not end the run */
    assert_int_equal(px_config_set(e->cfg, "run.exit_idle=3"), PX_OK);
    assert_int_equal(px_config_set(e->cfg, "store.batch_ms=50"), PX_OK);
    /* one member: no changelog topic (the mock cluster writes no
     * transaction markers; test_partition_stores runs it on a broker) */
    assert_int_equal(px_config_set(e->cfg, "kafka.changelog_topic=\"\""), PX_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(px_config_set(e->cfg, sets[i]), PX_OK);
    if (px_config_validate(e->cfg) != PX_OK)
        fail_msg("settings: %s", px_config_problem(e->cfg, 0));
    assert_int_equal(px_consumer_conf_load(e->cfg, &e->conf), PX_OK);
}

static void env_cleanup(run_env *e)
{
    char cmd[128];
    px_consumer_conf_free(&e->conf);
    px_config_destroy(e->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
}

static run_stats run_once(run_env *e, const char *group)
{
    e->conf.kafka_group = group;
    px_consumer_opts opts = {.clock = {env_clock, e}, .dlq_timeout_ms = 2000};
    char err[512] = "";
    run_stats before = run_stats_now();
    px_consumer *pc = px_consumer_create(&e->conf, &opts, err, sizeof(err));
    if (!pc)
        fail_msg("create: %s", err);
    assert_int_equal(px_consumer_run(pc), 0);
    run_stats st = run_stats_since(&before);
    px_consumer_destroy(pc);
    return st;
}

typedef struct bg_run {
    run_env *e;
    const char *group;
    run_stats st;
    pthread_t thread;
} bg_run;

static void *bg_main(void *arg)
{
    bg_run *r = arg;
    r->st = run_once(r->e, r->group);
    return NULL;
}

/* Waits (up to 60 s) until the metric reaches want. */
static void wait_metric(const char *name, uint64_t want)
{
    for (int i = 0; i < 6000 && pxt_metric(name) < want; i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    assert_int_equal(pxt_metric(name), want);
}

/* ---- reading back ---------------------------------------------------------------- */

typedef struct dlq_msg {
    char key[300];
    char error[300];
    char topic[64];
} dlq_msg;

static void header(const rd_kafka_headers_t *h, const char *name, char *out, size_t len)
{
    const void *v;
    size_t n;
    out[0] = '\0';
    if (rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(out, len, "%.*s", (int)n, (const char *)v);
}

/* The whole dead-letter topic into out (at most max); returns how many. */
static int read_dlq(const cluster *c, dlq_msg *out, int max)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "dlq-reader", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, PX_CONSUMER_DLQ_TOPIC, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int n = 0;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        assert_int_equal(m->err, 0);
        assert_true(n < max);
        dlq_msg *d = &out[n++];
        snprintf(d->key, sizeof(d->key), "%.*s", (int)m->key_len, (const char *)m->key);
        rd_kafka_headers_t *h = NULL;
        assert_int_equal(rd_kafka_message_headers(m, &h), 0);
        header(h, "pdnsx.error", d->error, sizeof(d->error));
        header(h, "pdnsx.topic", d->topic, sizeof(d->topic));
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* The dead-letter reason of the message keyed `key`; fails if not one. */
static const char *dlq_reason(const dlq_msg *d, int n, const char *key)
{
    const char *found = NULL;
    for (int i = 0; i < n; i++) {
        if (strcmp(d[i].key, key) != 0)
            continue;
        if (found)
            fail_msg("%s dead-lettered twice", key);
        found = d[i].error;
    }
    if (!found)
        fail_msg("%s not dead-lettered", key);
    return found;
}

/* What pdnsx-query rrset NAME prints, summed. */
typedef struct rrset_sum {
    size_t n;
    uint64_t count;
    int64_t first, last;
    size_t n_orgs;
} rrset_sum;

static bool sum_rec(void *ctx, const px_store_rec *rec)
{
    rrset_sum *s = ctx;
    s->n++;
    s->count += rec->count;
    s->first = rec->time_first;
    s->last = rec->time_last;
    s->n_orgs = rec->n_orgs;
    return true;
}

static rrset_sum rrset(px_stores *s, const char *name)
{
    rrset_sum sum = {0};
    px_store_fence all = {INT64_MIN, INT64_MAX};
    assert_int_equal(ro_find_rrset(s, name, NULL, &all, sum_rec, &sum), PX_OK);
    return sum;
}

static uint64_t metric(const char *name)
{
    return pxt_metric(name);
}

/* ---- tests ------------------------------------------------------------------------- */

/* Issue 9, item 3: each record a producer's privacy rules forbid, and each
 * implausible time, is dead-lettered with its reason; none is merged; the
 * record whose history a bad time_first would have rewritten keeps it. */
static void test_untrusted_records_dead_lettered(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    env_init(&e, &c, NULL, 0);
    px_avro_obs good = obs("org-a", "www.example.com", "A", "93.184.216.34");
    good.count = 3;
    produce(&c, TOPIC_A, 0, NULL, &good);
    produce_flush(&c);
    run_stats st = run_once(&e, "t1");
    assert_int_equal(st.merged, 1);

    static const struct {
        const char *key, *name, *type, *rdata, *why;
    } bad[] = {
        {"root", ".", "NS", "a.root-servers.net", "invalid: name is the root"},
        {"com", "com", "NS", "a.gtld-servers.net", "invalid: single-label name"},
        {"co.uk", "co.uk", "NS", "nsa.nic.uk", "invalid: name is a public suffix"},
        {"host.corp", "host.corp", "A", "93.184.216.34", "invalid: name under a local zone"},
        {"printer", "printer", "A", "93.184.216.34", "invalid: single-label name"},
        {"rfc1918", "nas.example.com", "A", "10.0.0.1", "invalid: private address 10.0.0.1"},
        {"cname", "intra.example.com", "CNAME", "wiki.internal",
         "invalid: rdata names a host under a local zone"},
        {"type", "www.example.com", "TYPE65280", "\\# 0", "invalid: rrtype TYPE65280 not accepted"},
        /* a bailiwick naming a local zone: queries would return it */
        {"bailiwick", "www2.example.com", "A", "93.184.216.34",
         "invalid: name outside its bailiwick"},
        /* the stored record again, from 1970, and from an hour after its
         * message was written (a day is all the form allows) */
        {"old", "www.example.com", "A", "93.184.216.34",
         "invalid: time_first 1 before the floor 1072915200"},
        {"future", "www.example.com", "A", "93.184.216.34",
         "invalid: time_last 1790003600 more than 300 s after the message was written "
         "(1790000000)"},
    };
    size_t n_bad = sizeof(bad) / sizeof(bad[0]);
    for (size_t i = 0; i < n_bad; i++) {
        px_avro_obs o = obs("org-a", bad[i].name, bad[i].type, bad[i].rdata);
        if (strcmp(bad[i].key, "old") == 0)
            o.time_first = 1;
        if (strcmp(bad[i].key, "future") == 0)
            o.time_last = NOW + 3600;
        if (strcmp(bad[i].key, "bailiwick") == 0)
            o.bailiwick = "dc1.secret.corp";
        produce(&c, TOPIC_A, (int32_t)(i % 2), bad[i].key, &o);
    }
    produce_flush(&c);
    st = run_once(&e, "t2");
    assert_int_equal(st.messages, n_bad);
    assert_int_equal(st.merged, 0);
    assert_int_equal(st.dlq, n_bad);

    dlq_msg d[32];
    int n = read_dlq(&c, d, 32);
    assert_int_equal(n, (int)n_bad);
    for (size_t i = 0; i < n_bad; i++)
        assert_string_equal(dlq_reason(d, n, bad[i].key), bad[i].why);

    /* nothing of them in what pdnsx-query reads */
    px_stores *s = open_ro(e.dir);
    static const char *const gone[] = {".",
                                       "com",
                                       "co.uk",
                                       "host.corp",
                                       "printer",
                                       "nas.example.com",
                                       "intra.example.com",
                                       "www2.example.com"};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        if (rrset(s, gone[i]).n)
            fail_msg("%s was merged", gone[i]);
    rrset_sum w = rrset(s, "www.example.com");
    assert_int_equal(w.n, 1); /* no TYPE65280 record beside the A */
    assert_int_equal(w.count, 3);
    assert_int_equal(w.first, NOW - 600);
    assert_int_equal(w.last, NOW - 540);
    px_stores_close(s);

    /* counted by rule (no other test of this process refuses records) */
    assert_int_equal(metric("pdnsx_consumer_dlq_total{reason=\"invalid\"}"), n_bad);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"public_suffix\"}"), 2);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"single_label\"}"), 2);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"local_name\"}"), 1);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"local_rdata\"}"), 1);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"private_addr\"}"), 1);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"rrtype\"}"), 1);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"time_floor\"}"), 1);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"time_future\"}"), 1);
    assert_int_equal(metric("pdnsx_consumer_invalid_total{rule=\"bailiwick\"}"), 1);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* How many of the names prefix0.suffix .. prefix(n-1).suffix the store
 * holds. */
static int stored_of(px_stores *s, const char *prefix, int n, const char *suffix)
{
    int got = 0;
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%d.%s", prefix, i, suffix);
        got += rrset(s, name).n == 1;
    }
    return got;
}

/* Publishes n observations of org, prefix0.suffix ..., on topic/part. */
static void produce_names(cluster *c, const char *topic, int32_t part, const char *org,
                          const char *prefix, int n, const char *suffix)
{
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%d.%s", prefix, i, suffix);
        px_avro_obs o = obs(org, name, "A", "93.184.216.34");
        produce(c, topic, part, NULL, &o);
    }
}

/* Issue 9, item 6: org-a floods new names past trust.org_new_records (20 a
 * minute here) while org-b adds 15: org-a adds exactly 20 a minute, the
 * rest go to pdnsx.dlq as org_rate and are counted for org-a; all of org-b
 * merges, and org-a's observations of records the store holds merge even
 * while it is bounded. The next minute it may add 20 more. */
static void test_org_new_records_bounded(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    static const char *const sets[] = {"trust.org_new_records=20", "store.batch_records=8"};
    env_init(&e, &c, sets, 2);
    produce_names(&c, TOPIC_A, 1, "org-a", "k", 5, "example.com"); /* known records */
    produce_flush(&c);
    run_stats st = run_once(&e, "r1");
    assert_int_equal(st.merged, 5);

    produce_names(&c, TOPIC_A, 0, "org-a", "f", 60, "example.net"); /* the flood */
    produce_names(&c, TOPIC_A, 1, "org-a", "k", 5, "example.com");
    produce_names(&c, TOPIC_B, 0, "org-b", "b", 8, "example.org");
    produce_names(&c, TOPIC_B, 1, "org-b", "c", 7, "example.org");
    produce_flush(&c);
    st = run_once(&e, "r2");
    assert_int_equal(st.messages, 60 + 5 + 15);
    assert_int_equal(st.merged, 20 + 5 + 15);
    assert_int_equal(st.dlq, 40);

    px_stores *s = open_ro(e.dir);
    assert_int_equal(stored_of(s, "f", 60, "example.net"), 20);
    assert_int_equal(stored_of(s, "b", 8, "example.org"), 8);
    assert_int_equal(stored_of(s, "c", 7, "example.org"), 7);
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof(name), "k%d.example.com", i);
        assert_int_equal(rrset(s, name).count, 2); /* merged while bounded */
    }
    px_stores_close(s);
    dlq_msg d[64];
    int n = read_dlq(&c, d, 64);
    assert_int_equal(n, 40);
    for (int i = 0; i < n; i++) {
        assert_string_equal(d[i].topic, TOPIC_A);
        assert_string_equal(d[i].error, "org_rate: org-a added 20 new records this minute, its "
                                        "bound");
    }
    assert_int_equal(metric("pdnsx_consumer_dlq_total{reason=\"org_rate\"}"), 40);
    assert_int_equal(metric("pdnsx_consumer_org_new_records_rejected_total{org=\"org-a\"}"), 40);
    assert_int_equal(metric("pdnsx_consumer_org_new_records_rejected_total{org=\"org-b\"}"), 0);
    /* and on /metrics as Prometheus text */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    px_metrics_write(f);
    fclose(f);
    if (!strstr(text, "\npdnsx_consumer_org_new_records_rejected_total{org=\"org-a\"} 40\n"))
        fail_msg("no per-organisation count on /metrics:\n%s", text);
    free(text);

    /* one run over two minutes: 20 in each, however many it sends; the
     * clock moves once the first minute's messages are committed */
    static const char merged[] = "pdnsx_consumer_merged_total";
    static const char rated[] = "pdnsx_consumer_dlq_total{reason=\"org_rate\"}";
    uint64_t merged0 = metric(merged);
    produce_names(&c, TOPIC_A, 0, "org-a", "g", 25, "example.net");
    produce_flush(&c);
    e.conf.exit_idle = 6; /* the run waits for the second minute's messages */
    bg_run bg = {.e = &e, .group = "r3"};
    assert_int_equal(pthread_create(&bg.thread, NULL, bg_main, &bg), 0);
    wait_metric(merged, merged0 + 20);
    wait_metric(rated, 40 + 5);
    __atomic_store_n(&e.now, NOW + 60, __ATOMIC_SEQ_CST);
    produce_names(&c, TOPIC_A, 0, "org-a", "h", 25, "example.net");
    produce_flush(&c);
    assert_int_equal(pthread_join(bg.thread, NULL), 0);
    assert_int_equal(bg.st.merged, 40);
    assert_int_equal(bg.st.dlq, 10);
    s = open_ro(e.dir);
    assert_int_equal(stored_of(s, "g", 25, "example.net"), 20);
    assert_int_equal(stored_of(s, "h", 25, "example.net"), 20);
    px_stores_close(s);
    assert_int_equal(metric("pdnsx_consumer_org_new_records_rejected_total{org=\"org-a\"}"), 50);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* The same record in three batches (store.batch_records = 1), the earliest
 * time_first second and the latest time_last third: the store holds the
 * minimum and the maximum and the sum of the counts, whichever batch
 * brought them. */
static void test_merge_across_batches(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    static const char *const sets[] = {"store.batch_records=1"};
    env_init(&e, &c, sets, 1);
    static const struct {
        int64_t count, first, last;
    } seen[] = {{3, NOW - 600, NOW - 540}, {4, NOW - 1200, NOW - 1100}, {1, NOW - 500, NOW - 100}};
    for (int i = 0; i < 3; i++) {
        px_avro_obs o = obs("org-a", "www.example.com", "A", "93.184.216.34");
        o.count = seen[i].count;
        o.time_first = seen[i].first;
        o.time_last = seen[i].last;
        produce(&c, TOPIC_A, 0, NULL, &o); /* one partition: in this order */
    }
    produce_flush(&c);
    run_stats st = run_once(&e, "m1");
    assert_int_equal(st.merged, 3);
    assert_true(st.batches >= 3);
    px_stores *s = open_ro(e.dir);
    rrset_sum w = rrset(s, "www.example.com");
    assert_int_equal(w.n, 1);
    assert_int_equal(w.count, 8);
    assert_int_equal(w.first, NOW - 1200);
    assert_int_equal(w.last, NOW - 100);
    px_stores_close(s);
    env_cleanup(&e);
    cluster_stop(&c);
}

int main(void)
{
    /* two parts of about 27 s, run as separate ctest tests */
    const struct CMUnitTest trust[] = {
        cmocka_unit_test(test_untrusted_records_dead_lettered),
        cmocka_unit_test(test_merge_across_batches),
    };
    const struct CMUnitTest rate[] = {
        cmocka_unit_test(test_org_new_records_bounded),
    };
    const pxt_part parts[] = {PXT_PART("trust", trust), PXT_PART("rate", rate)};
    return pxt_run_parts(parts, sizeof(parts) / sizeof(parts[0]));
}
