/* test_consumer: the consumer's Kafka loop against librdkafka's mock
 * cluster (a Kafka-protocol broker in this process): trusted records are
 * merged, garbage and a spoofed organisation go to pdnsx.dlq unchanged with
 * headers saying why and whence, offsets land in the store and a second
 * run resumes from them; a dead-letter topic that refuses writes holds the
 * batch back without losing or double-counting anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <lmdb.h>
#include <librdkafka/rdkafka_mock.h>

#include "obs/px_avro.h"
#include "consumer/px_consumer.h"
#include "px_consumer_int.h" /* the group handle's properties */
#include "px_dlq.h"
#include "core/px_metrics.h"
#include "metrics_read.h"
#include "mock_cluster.h"
#include "test_parts.h"
#include "run_stats.h"
#include "detect/px_detect.h"
#include "obs/px_alert.h"
#include "query/px_query.h"
#include "store/px_store.h"
#include "store_ro.h"
#include "avro_encode.h"
#include "store_text.h"

#define TOPIC_A "pdnsx.obs.org-a"
#define TOPIC_B "pdnsx.obs.org-b"
#define NOW 1790000000

typedef struct cluster {
    pxt_cluster k;
    rd_kafka_mock_cluster_t *mc; /* k's */
    const char *brokers;         /* k's */
    rd_kafka_t *prod;
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
}

static void cluster_stop(cluster *c)
{
    rd_kafka_destroy(c->prod);
    pxt_cluster_stop(&c->k);
}

static void produce(cluster *c, const char *topic, int32_t part, const char *key, const void *val,
                    size_t len, rd_kafka_headers_t *h)
{
    rd_kafka_resp_err_t err = rd_kafka_producev(
        c->prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
        RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE((void *)val, len),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
    assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void produce_obs_at(cluster *c, const char *topic, int32_t part, const char *org,
                           const char *rrname, const char *rdata, int64_t count, int64_t last);

static void produce_obs(cluster *c, const char *topic, int32_t part, const char *org,
                        const char *rrname, const char *rdata, int64_t count)
{
    produce_obs_at(c, topic, part, org, rrname, rdata, count, NOW - 540);
}

/* An observation of rrname A rdata seen from NOW - 600 to last. */
static void produce_obs_at(cluster *c, const char *topic, int32_t part, const char *org,
                           const char *rrname, const char *rdata, int64_t count, int64_t last)
{
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    assert_non_null(codec);
    px_avro_obs o = {
        .rrname = rrname,
        .rrtype = "A",
        .rdata = rdata,
        .count = count,
        .time_first = NOW - 600,
        .time_last = last,
        .ttl_min = 300,
        .ttl_max = 300,
        .clients = -1,
        .org = org,
        .sensor = "s1",
    };
    const uint8_t *msg;
    size_t len;
    assert_int_equal(pxt_avro_encode(codec, &o, &msg, &len), PX_OK);
    produce(c, topic, part, "example.com", msg, len, NULL);
    px_avro_codec_destroy(codec);
}

static void produce_flush(cluster *c)
{
    assert_int_equal(rd_kafka_flush(c->prod, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* The usual traffic: three trusted records (two of them the same RRset
 * from two organisations), one garbage message and one spoofed org. */
static void produce_traffic(cluster *c)
{
    produce_obs(c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 3);
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "x-trace", -1, "7", -1);
    produce(c, TOPIC_A, 0, "garbage.example", "hello", 5, h);
    produce_obs(c, TOPIC_A, 1, "org-b", "www.example.com", "203.0.113.66", 1000); /* spoofed */
    produce_obs(c, TOPIC_B, 0, "org-b", "www.example.com", "93.184.216.34", 4);
    produce_obs(c, TOPIC_B, 1, "org-b", "mail.example.net", "93.184.216.35", 2);
    produce_flush(c);
}

static int64_t test_clock(void *ctx)
{
    (void)ctx;
    return NOW;
}

typedef struct run_env {
    char dir[64];
    px_consumer_conf conf;
    px_consumer_opts opts;
} run_env;

static void env_init(run_env *e, const cluster *c, const char *group)
{
    snprintf(e->dir, sizeof(e->dir), "/tmp/pdnsx-test-consumer-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    e->conf = (px_consumer_conf){
        .kafka_brokers = c->brokers,
        .kafka_group = group,
        .kafka_topics = "^pdnsx\\.obs\\..+",
        .store_path = e->dir,
        .log_level = "info",
        .exit_idle = 1,
        .batch_records = 2,
        .batch_ms = 50,
    };
    e->opts = (px_consumer_opts){.clock = {test_clock, NULL}, .dlq_timeout_ms = 2000};
}

static void env_cleanup(run_env *e)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
}

static run_stats run_once(run_env *e, const char *group)
{
    e->conf.kafka_group = group;
    char err[512] = "";
    run_stats before = run_stats_now();
    px_consumer *pc = px_consumer_create(&e->conf, &e->opts, err, sizeof(err));
    if (!pc)
        fail_msg("create: %s", err);
    assert_int_equal(px_consumer_run(pc), 0);
    run_stats st = run_stats_since(&before);
    px_consumer_destroy(pc);
    return st;
}

/* ---- reading back ------------------------------------------------------------ */

typedef struct dlq_msg {
    char key[64], value[64];
    char error[256], topic[64], partition[16], offset[24], trace[16];
    char truncated[32], key_size[24], value_size[24];
    size_t value_len;
    bool big_prefix; /* the value is a prefix of big_value */
} dlq_msg;

/* The last large message a test produced, for read_dlq to compare with. */
static uint8_t *big_value;
static size_t big_len;

static void header(const rd_kafka_headers_t *h, const char *name, char *out, size_t len)
{
    const void *v;
    size_t n;
    out[0] = '\0';
    if (rd_kafka_header_get_last(h, name, &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
        snprintf(out, len, "%.*s", (int)n, (const char *)v);
}

/* Reads the whole dead-letter topic; returns the number of messages. */
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
        snprintf(d->value, sizeof(d->value), "%.*s", (int)m->len, (const char *)m->payload);
        d->value_len = m->len;
        d->big_prefix =
            big_value && m->len <= big_len && memcmp(m->payload, big_value, m->len) == 0;
        rd_kafka_headers_t *h = NULL;
        assert_int_equal(rd_kafka_message_headers(m, &h), 0);
        header(h, "pdnsx.error", d->error, sizeof(d->error));
        header(h, "pdnsx.topic", d->topic, sizeof(d->topic));
        header(h, "pdnsx.partition", d->partition, sizeof(d->partition));
        header(h, "pdnsx.offset", d->offset, sizeof(d->offset));
        header(h, "x-trace", d->trace, sizeof(d->trace));
        header(h, "pdnsx.truncated", d->truncated, sizeof(d->truncated));
        header(h, "pdnsx.key_size", d->key_size, sizeof(d->key_size));
        header(h, "pdnsx.value_size", d->value_size, sizeof(d->value_size));
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

typedef struct rrset_sum {
    uint64_t count;
    size_t n;
    size_t n_orgs;
    char orgs[4][16];
} rrset_sum;

static bool sum_rec(void *ctx, const px_store_rec *rec)
{
    rrset_sum *s = ctx;
    if (strcmp(rec->rdata, "93.184.216.34") != 0)
        return true;
    s->count += rec->count;
    s->n++;
    s->n_orgs = rec->n_orgs;
    for (size_t i = 0; i < rec->n_orgs && i < 4; i++)
        snprintf(s->orgs[i], sizeof(s->orgs[i]), "%s", rec->orgs[i]);
    return true;
}

/* The count of www.example.com A 93.184.216.34. */
static uint64_t www_count(px_stores *s)
{
    rrset_sum sum = {0};
    px_store_fence all = {INT64_MIN, INT64_MAX};
    assert_int_equal(ro_find_rrset(s, "www.example.com", "A", &all, sum_rec, &sum), PX_OK);
    return sum.count;
}

static bool count_any(void *ctx, const px_store_rec *rec)
{
    (void)rec;
    (*(size_t *)ctx)++;
    return true;
}

/* Store offsets and the merged RRset after a run. */
static void check_store(const char *dir, uint64_t want_count)
{
    px_stores *s = open_ro(dir);
    const struct {
        const char *topic;
        int32_t part;
        int64_t next;
    } want[] = {{TOPIC_A, 0, 2}, {TOPIC_A, 1, 1}, {TOPIC_B, 0, 1}, {TOPIC_B, 1, 1}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t next = -1;
        assert_int_equal(ro_offset(s, want[i].topic, want[i].part, &next), PX_OK);
        assert_int_equal(next, want[i].next);
    }
    rrset_sum sum = {0};
    px_store_fence all = {INT64_MIN, INT64_MAX};
    assert_int_equal(ro_find_rrset(s, "www.example.com", "A", &all, sum_rec, &sum), PX_OK);
    assert_int_equal(sum.n, 1);
    assert_int_equal(sum.count, want_count);
    assert_int_equal(sum.n_orgs, 2);
    assert_string_equal(sum.orgs[0], "org-a");
    assert_string_equal(sum.orgs[1], "org-b");
    /* each record in the store of its partition (both topics' partition
     * 0: www.example.com; partition 1: mail.example.net), offsets too */
    int64_t next;
    px_store *p0 = px_stores_get(s, 0), *p1 = px_stores_get(s, 1);
    assert_non_null(p0);
    assert_non_null(p1);
    assert_int_equal(px_store_get_offset(p0, TOPIC_A, 1, &next), PX_ERR_NOTFOUND);
    assert_int_equal(px_store_get_offset(p1, TOPIC_B, 0, &next), PX_ERR_NOTFOUND);
    size_t www1 = 0, mail0 = 0, mail1 = 0;
    assert_int_equal(pxt_store_find_rrset(p1, "www.example.com", "A", &all, count_any, &www1),
                     PX_OK);
    assert_int_equal(www1, 0);
    assert_int_equal(pxt_store_find_rrset(p0, "mail.example.net", "A", &all, count_any, &mail0),
                     PX_OK);
    assert_int_equal(pxt_store_find_rrset(p1, "mail.example.net", "A", &all, count_any, &mail1),
                     PX_OK);
    assert_int_equal(mail0, 0);
    assert_int_equal(mail1, 1);
    px_stores_close(s);
}

static void check_dlq(const cluster *c, int want)
{
    dlq_msg d[8];
    int n = read_dlq(c, d, 8);
    assert_int_equal(n, want);
    int garbage = 0, spoof = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(d[i].key, "garbage.example") == 0) {
            garbage++;
            assert_string_equal(d[i].value, "hello");
            assert_string_equal(d[i].trace, "7"); /* original headers kept */
            assert_true(strncmp(d[i].error, "decode: ", 8) == 0);
            assert_string_equal(d[i].topic, TOPIC_A);
            assert_string_equal(d[i].partition, "0");
            assert_string_equal(d[i].offset, "1");
        } else {
            spoof++;
            assert_string_equal(d[i].key, "example.com");
            assert_string_equal(d[i].error, "org mismatch: record says org-b, topic says org-a");
            assert_string_equal(d[i].topic, TOPIC_A);
            assert_string_equal(d[i].partition, "1");
            assert_string_equal(d[i].offset, "0");
        }
    }
    assert_true(garbage >= 1 && spoof >= 1);
}

/* ---- tests ----------------------------------------------------------------------- */

/* pdnsx_feed_changes_total by kind: what the change feed delivered and
 * the store committed. */
typedef struct feed_counts {
    uint64_t record_new, record_grew, domain_first, domain_grew;
} feed_counts;

static feed_counts feed_now(void)
{
    return (feed_counts){
        .record_new = pxt_metric("pdnsx_feed_changes_total{kind=\"record_new\"}"),
        .record_grew = pxt_metric("pdnsx_feed_changes_total{kind=\"record_grew\"}"),
        .domain_first = pxt_metric("pdnsx_feed_changes_total{kind=\"domain_first\"}"),
        .domain_grew = pxt_metric("pdnsx_feed_changes_total{kind=\"domain_grew\"}")};
}

static feed_counts feed_since(const feed_counts *before)
{
    feed_counts n = feed_now();
    n.record_new -= before->record_new;
    n.record_grew -= before->record_grew;
    n.domain_first -= before->domain_first;
    n.domain_grew -= before->domain_grew;
    return n;
}

/* The change feed counted on /metrics: two new records of one new domain,
 * then one of them grows (a later sighting moves the domain's last one);
 * a message dead-lettered changes nothing. */
static void test_feed_counts(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 3);
    produce_obs(&c, TOPIC_A, 0, "org-a", "mail.example.com", "93.184.216.35", 1);
    produce_obs(&c, TOPIC_A, 0, "org-b", "evil.example.com", "203.0.113.66", 9); /* spoofed */
    produce_flush(&c);
    run_env e;
    env_init(&e, &c, "g-feed1");
    e.conf.batch_records = 100;
    /* the first fetch of a fresh group from the mock cluster may take
     * over a second on a loaded machine: wait longer before exiting idle */
    e.conf.exit_idle = 4;
    feed_counts f0 = feed_now();
    run_stats st = run_once(&e, "g-feed1");
    assert_int_equal(st.merged, 2);
    assert_int_equal(st.dlq, 1);
    feed_counts f = feed_since(&f0);
    assert_int_equal(f.record_new, 2);
    assert_int_equal(f.record_grew, 0);
    assert_int_equal(f.domain_first, 1);
    assert_int_equal(f.domain_grew, 0);

    produce_obs_at(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 2, NOW - 60);
    produce_flush(&c);
    f0 = feed_now();
    st = run_once(&e, "g-feed2");
    assert_int_equal(st.merged, 1);
    f = feed_since(&f0);
    assert_int_equal(f.record_new, 0);
    assert_int_equal(f.record_grew, 1);
    assert_int_equal(f.domain_first, 0);
    assert_int_equal(f.domain_grew, 1);
    env_cleanup(&e);
    cluster_stop(&c);
}

static void test_merge_dlq_and_resume(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g1");

    run_stats st = run_once(&e, "g1");
    assert_int_equal(st.messages, 5);
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.dlq, 2);
    assert_true(st.batches >= 3); /* batch_records = 2 */
    assert_int_equal(st.aborted, 0);
    check_dlq(&c, 2);
    check_store(e.dir, 7);

    /* A new group has no Kafka offsets and would start at the beginning:
     * the store's offsets are what counts, so nothing is read twice. */
    st = run_once(&e, "g2");
    assert_int_equal(st.messages, 0);
    assert_int_equal(st.merged, 0);
    check_store(e.dir, 7);
    check_dlq(&c, 2);

    /* New messages after a restart: only they are read. (A fresh group
     * again: the mock cluster does not let a group rejoin at once.) */
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 10);
    produce_flush(&c);
    st = run_once(&e, "g3");
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.merged, 1);
    px_stores *s = open_ro(e.dir);
    int64_t next = 0;
    assert_int_equal(ro_offset(s, TOPIC_A, 0, &next), PX_OK);
    assert_int_equal(next, 3);
    assert_int_equal(www_count(s), 17);
    px_stores_close(s);

    env_cleanup(&e);
    cluster_stop(&c);
}

/* A big batch whose application a crash cut short (its offsets are
 * committed with the batch log): the consumer finishes it before it reads
 * anything, and counts nothing twice. */
static void test_resumes_pending_log(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    env_init(&e, &c, "g-log");
    /* the first fetch of a fresh group from the mock cluster took over a
     * second once under a loaded ASan run */
    e.conf.exit_idle = 4;
    px_store *s;
    px_stores *set =
        open_part_rw(e.dir, 0, &(px_store_opts){.chunk_records = 2, .apply_limit = 1}, &s);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (int i = 0; i < 10; i++) { /* nine other records, then www.example.com */
        char name[32];
        snprintf(name, sizeof(name), "h%d.example.com", i);
        static const uint8_t other[4] = {192, 0, 2, 1}, www[4] = {93, 184, 216, 34};
        const char *rrname = i < 9 ? name : "www.example.com";
        px_store_obs o = {.rrname = rrname,
                          .rrname_len = strlen(rrname),
                          .rrtype = 1, /* A */
                          .rdata_wire = i < 9 ? other : www,
                          .rdata_wire_len = 4,
                          .regdom = "example.com",
                          .regdom_len = strlen("example.com"),
                          .org = "org-a",
                          .count = i < 9 ? 1 : 5,
                          .time_first = NOW - 60,
                          .time_last = NOW};
        assert_int_equal(px_store_merge(b, &o), PX_OK);
    }
    assert_int_equal(px_store_batch_commit(b), PX_ERR_AGAIN);
    px_stores_close(set);

    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 10);
    produce_flush(&c);
    feed_counts f0 = feed_now();
    run_stats st = run_once(&e, "g-log");
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.merged, 1);
    /* The run that was cut short (no feed attached) applied one chunk of
     * two records; the resume's change feed counts the other eight once,
     * then the message grows www.example.com. */
    feed_counts f = feed_since(&f0);
    assert_int_equal(f.record_new, 8);
    assert_int_equal(f.record_grew, 1);
    set = open_part_rw(e.dir, 0, NULL, &s);
    assert_false(px_store_log_pending(s));
    px_store_stats ss;
    assert_int_equal(px_stores_get_stats(set, &ss), PX_OK);
    assert_int_equal(ss.records, 10);
    /* the consumer shows the store's size on /metrics, as of the end of its run */
    assert_int_equal(pxt_metric("pdnsx_store_records"), ss.records);
    assert_int_equal(pxt_metric("pdnsx_store_domains"), ss.domains);
    assert_true(pxt_metric("pdnsx_store_bytes") > 0);
    assert_int_equal(www_count(set), 15);
    px_stores_close(set);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* The dead-letter topic refuses the first writes: the batch holding the
 * bad messages must not commit (their offsets would skip them), and the
 * retry must not count the good records of that batch twice. */
static void test_dlq_refused_then_retried(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g4");
    e.conf.batch_records = 100; /* everything in one batch */
    e.conf.batch_ms = 200;
    e.opts.dlq_timeout_ms = 300;
    /* ApiKey 0 is Produce; only the dead-letter producer produces now. */
    rd_kafka_mock_push_request_errors(c.mc, 0, 4, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

    run_stats st = run_once(&e, "g4");
    assert_true(st.aborted >= 1);
    assert_true(st.messages > 5); /* read again after the abort */
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.dlq, 2);
    check_store(e.dir, 7);
    check_dlq(&c, 2); /* a retried batch sends no copy twice */
    env_cleanup(&e);
    cluster_stop(&c);
}

/* The clock is asked once per record to validate: the first time, it
 * sends the daemon SIGTERM (blocked, so it waits for the run loop). */
static int64_t terminating_clock(void *ctx)
{
    bool *sent = ctx;
    if (!*sent) {
        *sent = true;
        pthread_kill(pthread_self(), SIGTERM);
    }
    return NOW;
}

/* SIGTERM with a batch open (neither bound reached): the batch is
 * committed, the run ends with 0, and the store says where to resume. */
static void test_sigterm_commits_open_batch(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    run_env e;
    env_init(&e, &c, "g5");
    bool sent = false;
    e.conf.exit_idle = 0;
    e.conf.batch_records = 1000;
    e.conf.batch_ms = 600000;
    e.opts.signals = &sigs;
    e.opts.clock = (px_clock){terminating_clock, &sent};

    run_stats st = run_once(&e, "g5");
    assert_true(sent);
    /* The message whose validation raised SIGTERM is in the batch open
     * when the signal is taken; messages before it may have been committed
     * already, by a caught-up commit if they came in an earlier fetch. */
    assert_true(st.batches >= 1);
    assert_true(st.messages >= 1);
    assert_int_equal(st.merged + st.dlq, st.messages);
    px_stores *s = open_ro(e.dir);
    const char *topics[] = {TOPIC_A, TOPIC_A, TOPIC_B, TOPIC_B};
    int64_t stored = 0;
    for (int i = 0; i < 4; i++) {
        int64_t next = 0;
        if (ro_offset(s, topics[i], i % 2, &next) == PX_OK)
            stored += next;
    }
    assert_int_equal(stored, (int64_t)st.messages);
    px_stores_close(s);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* Caught up with a batch open that neither bound would close for ten
 * minutes: it commits once Kafka has nothing more, so the records reach
 * queries at once and run.exit_idle can end the run. (Before, this run
 * waited out store.batch_ms; the alarm fails the test instead of hanging.) */
static void test_caught_up_commits(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g6");
    e.conf.batch_records = 1000;
    e.conf.batch_ms = 600000;
    alarm(120);
    run_stats st = run_once(&e, "g6");
    alarm(0);
    assert_int_equal(st.messages, 5);
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.dlq, 2);
    /* one batch, or more if a fetch came 50 ms after the one before */
    assert_true(st.batches >= 1);
    check_store(e.dir, 7);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* Overwrites the stored value of www.example.com A 93.184.216.34 with
 * bytes that fail its checksum. */
static void corrupt_record(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "rec", 0, &dbi), 0);
    static const uint8_t key[] = "com.example.www\0\0\1\x5d\xb8\xd8\x22";
    static const uint8_t bad[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    MDB_val k = {sizeof key - 1, (void *)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0); /* it is there */
    v = (MDB_val){sizeof bad, (void *)bad};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* Runs the consumer once with its log (stderr) in `log`: the exit status
 * of the run, or -1 if it could not start (create's error in log too). */
static int run_logged(run_env *e, const char *group, char *log, size_t len, run_stats *st)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), 2) >= 0);
    e->conf.kafka_group = group;
    char err[1024] = "";
    int rc = -1;
    memset(st, 0, sizeof(*st));
    run_stats before = run_stats_now();
    px_consumer *pc = px_consumer_create(&e->conf, &e->opts, err, sizeof(err));
    if (pc) {
        rc = px_consumer_run(pc);
        *st = run_stats_since(&before);
    } else {
        fprintf(stderr, "create: %s\n", err);
    }
    px_consumer_destroy(pc);
    fflush(stderr);
    assert_true(dup2(saved, 2) >= 0);
    close(saved);
    rewind(f);
    size_t n = fread(log, 1, len - 1, f);
    log[n] = '\0';
    fclose(f);
    return rc;
}

/* The process's /metrics text (caller frees). */
static char *metrics_text(void)
{
    char *mbuf = NULL;
    size_t mlen = 0;
    FILE *mf = open_memstream(&mbuf, &mlen);
    assert_non_null(mf);
    px_metrics_write(mf);
    fclose(mf);
    return mbuf;
}

/* The stored bytes of www.example.com A 93.184.216.34, still the damaged
 * ones. */
static void assert_still_damaged(const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "rec", 0, &dbi), 0);
    static const uint8_t key[] = "com.example.www\0\0\1\x5d\xb8\xd8\x22";
    MDB_val k = {sizeof key - 1, (void *)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    assert_int_equal(v.mv_size, 10);
    assert_int_equal(((const uint8_t *)v.mv_data)[0], 0xff);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* A stored record that fails its checksum: the consumer does not merge
 * into the store. With its open check (the default) it does not start,
 * naming the damaged record; told to check only the meta pages, it stops
 * with exit status 1 at the batch that meets the record, nothing of the
 * batch committed, nothing dead-lettered, the damaged value left as it
 * is. Both times the log says where and /metrics counts it. (Before, the
 * value was replaced by the batch's data and the run went on.) */
static void test_damaged_record_stops(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 3);
    produce_flush(&c);
    run_env e;
    env_init(&e, &c, "g7");
    e.conf.exit_idle = 3; /* a slow first fetch must not end the run */
    run_stats st = run_once(&e, "g7");
    assert_int_equal(st.merged, 1);

    char part0[128]; /* partition 0 of both topics: its store */
    snprintf(part0, sizeof(part0), "%s/partition-0", e.dir);
    corrupt_record(part0);
    produce_obs(&c, TOPIC_B, 0, "org-b", "www.example.com", "93.184.216.34", 10);
    produce_flush(&c);
    char log[8192];
    static const char where[] =
        "table rec, record www.example.com A 93.184.216.34: the value fails its checksum";
    assert_int_equal(run_logged(&e, "g8", log, sizeof log, &st), -1);
    if (!strstr(log, "is damaged") || !strstr(log, where))
        fail_msg("no error naming the record:\n%s", log);
    /* no other test of this process damages a store */
    char *m = metrics_text();
    if (!strstr(m, "\npdnsx_store_damage_total 1\n"))
        fail_msg("no count in the metrics:\n%s", m);
    free(m);

    e.conf.store_check = PX_STORE_CHECK_META;
    assert_int_equal(run_logged(&e, "g8", log, sizeof log, &st), 1);
    assert_int_equal(st.merged, 0);
    assert_int_equal(st.batches, 0);
    assert_int_equal(st.dlq, 0);
    if (!strstr(log, where) || !strstr(log, "the batch was not committed"))
        fail_msg("no error naming the record:\n%s", log);
    m = metrics_text();
    if (!strstr(m, "\npdnsx_store_damage_total 2\n"))
        fail_msg("no count in the metrics:\n%s", m);
    free(m);
    dlq_msg d[4];
    assert_int_equal(read_dlq(&c, d, 4), 0);
    assert_still_damaged(part0);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* A committed big batch whose log is damaged: the consumer neither applies
 * part of it nor reads on past it; it stops with exit status 1 saying so,
 * the batch still pending. With store.drop_damaged_log it drops what
 * cannot be applied, says so, and goes on. */
static void test_damaged_log_stops(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    env_init(&e, &c, "g-dlog");
    e.conf.exit_idle = 4;
    px_store *s;
    px_stores *set =
        open_part_rw(e.dir, 0, &(px_store_opts){.chunk_records = 2, .apply_limit = 1}, &s);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "h%d.example.com", i);
        static const uint8_t addr[4] = {192, 0, 2, 1};
        px_store_obs o = {.rrname = name,
                          .rrname_len = strlen(name),
                          .rrtype = 1, /* A */
                          .rdata_wire = addr,
                          .rdata_wire_len = 4,
                          .regdom = "example.com",
                          .regdom_len = strlen("example.com"),
                          .org = "org-a",
                          .count = 1,
                          .time_first = NOW - 60,
                          .time_last = NOW};
        assert_int_equal(px_store_merge(b, &o), PX_OK);
    }
    assert_int_equal(px_store_batch_commit(b), PX_ERR_AGAIN);
    px_stores_close(set);
    char p[128];
    snprintf(p, sizeof(p), "%s/partition-0/batch.log", e.dir);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, -3, SEEK_END), 0);
    fputc(0x5a, fp);
    fclose(fp);

    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 10);
    produce_flush(&c);
    char log[8192];
    run_stats st;
    assert_int_equal(run_logged(&e, "g-dlog", log, sizeof log, &st), 1);
    assert_int_equal(st.merged, 0);
    if (!strstr(log, "batch.log: chunks fail their checksums") || !strstr(log, "cannot be applied"))
        fail_msg("no error about the batch log:\n%s", log);
    set = open_part_rw(e.dir, 0, NULL, &s);
    assert_true(px_store_log_pending(s));
    px_stores_close(set);

    e.conf.drop_damaged_log = true;
    assert_int_equal(run_logged(&e, "g-dlog", log, sizeof log, &st), 0);
    assert_int_equal(st.merged, 1);
    if (!strstr(log, "are dropped (store.drop_damaged_log)"))
        fail_msg("no error about the dropped chunks:\n%s", log);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* ---- dead-letter copies that do not fit, or that Kafka refuses ------------------- */

static uint64_t metric(const char *name)
{
    return pxt_metric(name);
}

/* A CNAME observation whose rdata (too long: invalid) makes the message
 * exactly len bytes; kept in big_value for read_dlq. */
static void produce_big_invalid(cluster *c, const char *topic, int32_t part, size_t len)
{
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    assert_non_null(codec);
    size_t n = len;
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    for (int tries = 0; tries < 4; tries++) {
        char *rdata = malloc(n + 1);
        assert_non_null(rdata);
        memset(rdata, 'x', n);
        memcpy(rdata + n - 12, ".example.com", 12);
        rdata[n] = '\0';
        px_avro_obs o = {.rrname = "big.example.com",
                         .rrtype = "CNAME",
                         .rdata = rdata,
                         .count = 1,
                         .time_first = NOW - 600,
                         .time_last = NOW - 540,
                         .ttl_min = 300,
                         .ttl_max = 300,
                         .clients = -1,
                         .org = "org-a",
                         .sensor = "s1"};
        assert_int_equal(pxt_avro_encode(codec, &o, &msg, &mlen), PX_OK);
        free(rdata);
        if (mlen == len)
            break;
        n = n + len - mlen;
    }
    assert_int_equal(mlen, len);
    free(big_value);
    big_value = malloc(len);
    assert_non_null(big_value);
    memcpy(big_value, msg, len);
    big_len = len;
    /* librdkafka's default message.max.bytes (1,000,000) takes it */
    produce(c, topic, part, "example.com", msg, len, NULL);
    px_avro_codec_destroy(codec);
}

/* Issue 9, item 1: a 999,900-byte invalid observation, whose copy with
 * our headers exceeds the dead-letter producer's message.max.bytes. It
 * used to be refused by librdkafka on every retry of its batch: nothing
 * after it was merged and run.exit_idle never fired (the alarm ends such
 * a run). Now its copy is cut, says so, and the run goes on. */
static void test_oversized_copy_cut(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_big_invalid(&c, TOPIC_A, 0, 999900);
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 3);
    produce_obs(&c, TOPIC_B, 0, "org-b", "www.example.com", "93.184.216.34", 4);
    produce_flush(&c);
    run_env e;
    env_init(&e, &c, "g-big");
    e.conf.exit_idle = 2;
    uint64_t cut0 = metric("pdnsx_consumer_dlq_truncated_total");
    alarm(120);
    run_stats st = run_once(&e, "g-big");
    alarm(0);
    assert_int_equal(st.messages, 3);
    assert_int_equal(st.merged, 2);
    assert_int_equal(st.dlq, 1);
    assert_int_equal(st.dlq_truncated, 1);
    assert_int_equal(st.dlq_skipped, 0);
    assert_int_equal(st.aborted, 0);
    assert_int_equal(metric("pdnsx_consumer_dlq_truncated_total") - cut0, 1);

    dlq_msg d[4];
    assert_int_equal(read_dlq(&c, d, 4), 1); /* exactly one copy */
    assert_string_equal(d[0].topic, TOPIC_A);
    assert_string_equal(d[0].partition, "0");
    assert_string_equal(d[0].offset, "0");
    assert_string_equal(d[0].key, "example.com");
    assert_true(strncmp(d[0].error, "invalid: ", 9) == 0);
    assert_string_equal(d[0].truncated, "value");
    assert_string_equal(d[0].value_size, "999900");
    assert_string_equal(d[0].key_size, "11");
    assert_true(d[0].big_prefix);
    /* cut to fit 1,000,000 bytes with our headers, not to nothing */
    assert_true(d[0].value_len < 999900);
    assert_true(d[0].value_len > 999000);

    px_stores *s = open_ro(e.dir);
    int64_t next = 0;
    assert_int_equal(ro_offset(s, TOPIC_A, 0, &next), PX_OK);
    assert_int_equal(next, 2);
    assert_int_equal(www_count(s), 7);
    px_stores_close(s);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* Copies the broker refuses as too large (its max.message.bytes below
 * dlq.max_bytes) are sent again cut small, within the same batch: no
 * retry of the batch, one copy, the original headers kept. */
static void test_copy_refused_too_large_sent_small(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    size_t len = 20000;
    free(big_value);
    big_value = malloc(len);
    assert_non_null(big_value);
    for (size_t i = 0; i < len; i++)
        big_value[i] = (uint8_t)(i * 7 + 1);
    big_len = len;
    rd_kafka_headers_t *h = rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "x-trace", -1, "9", -1);
    produce(&c, TOPIC_A, 0, "garbage.example", big_value, len, h);
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 3);
    produce_flush(&c);
    run_env e;
    env_init(&e, &c, "g-small");
    e.conf.exit_idle = 2;
    rd_kafka_mock_push_request_errors(c.mc, 0, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    run_stats st = run_once(&e, "g-small");
    assert_int_equal(st.merged, 1);
    assert_int_equal(st.dlq, 1);
    assert_int_equal(st.dlq_truncated, 1);
    assert_int_equal(st.aborted, 0);
    dlq_msg d[4];
    assert_int_equal(read_dlq(&c, d, 4), 1);
    assert_true(strncmp(d[0].error, "decode: ", 8) == 0);
    assert_string_equal(d[0].offset, "0");
    assert_string_equal(d[0].truncated, "value");
    assert_string_equal(d[0].value_size, "20000");
    assert_string_equal(d[0].trace, "9");
    assert_true(d[0].big_prefix);
    assert_true(d[0].value_len > 1000 && d[0].value_len < PX_DLQ_SMALL_BYTES);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* A copy refused for good (an invalid record) does not hold the pipeline
 * back: the message is skipped without a copy, counted and logged, and
 * what follows is merged. */
static void test_copy_refused_for_good_skipped(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g-skip");
    e.conf.exit_idle = 2;
    e.conf.batch_records = 100; /* both copies in one batch */
    e.conf.batch_ms = 200;
    uint64_t skipped0 = metric("pdnsx_consumer_dlq_skipped_total");
    /* one request with both copies, or one each (read in two fetches):
     * either way both are refused, never retried */
    rd_kafka_mock_push_request_errors(c.mc, 0, 2, RD_KAFKA_RESP_ERR_INVALID_RECORD,
                                      RD_KAFKA_RESP_ERR_INVALID_RECORD);
    char log[16384];
    run_stats st;
    assert_int_equal(run_logged(&e, "g-skip", log, sizeof log, &st), 0);
    assert_int_equal(st.messages, 5);
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.dlq, 0);
    assert_int_equal(st.dlq_skipped, 2);
    assert_int_equal(st.aborted, 0);
    assert_int_equal(metric("pdnsx_consumer_dlq_skipped_total") - skipped0, 2);
    /* one line per batch: both in one, or one each when a slow second
     * fetch came after store.batch_ms (seen under a loaded parallel run) */
    unsigned long said = 0;
    for (const char *p = log; (p = strstr(p, " messages skipped WITHOUT a dead-letter copy"));
         p++) {
        const char *d = p;
        while (d > log && d[-1] >= '0' && d[-1] <= '9')
            d--;
        said += strtoul(d, NULL, 10);
    }
    if (said != 2)
        fail_msg("no error in the log for both:\n%s", log);
    check_store(e.dir, 7);
    dlq_msg d[4];
    assert_int_equal(read_dlq(&c, d, 4), 0);
    env_cleanup(&e);
    cluster_stop(&c);
}

static const px_kafka_prop one_copy_per_request[] = {{"batch.num.messages", "1"}};

static bool count_mark(void *ctx, const px_store_dlq_ent *mark)
{
    (void)mark;
    (*(size_t *)ctx)++;
    return true;
}

static bool count_rec(void *ctx, const px_store_rec *rec)
{
    (void)rec;
    (*(size_t *)ctx)++;
    return true;
}

/* Marks of acknowledged dead-letter copies left in the partition stores. */
static size_t count_marks(const char *dir)
{
    px_stores *s = open_ro(dir);
    size_t n = 0;
    int32_t parts[16];
    size_t np = px_stores_list(s, parts, 16);
    for (size_t i = 0; i < np; i++)
        assert_int_equal(px_store_dlq_acked(px_stores_get(s, parts[i]), count_mark, &n), PX_OK);
    px_stores_close(s);
    return n;
}

/* Issue 9, item 1: a batch abandoned after some of its copies were
 * acknowledged is read again; the acknowledged copies must not be sent
 * again (they used to be, at every retry). One copy per request, the
 * first acknowledged and the next ones refused for a while. */
static void test_retry_sends_each_copy_once(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g-once");
    e.conf.batch_records = 100; /* everything in one batch */
    e.conf.batch_ms = 200;
    e.conf.kafka_properties = (px_kafka_prop *)one_copy_per_request;
    e.conf.n_kafka_properties = 1;
    e.opts.dlq_timeout_ms = 3000; /* time to connect: the first copy is acknowledged */
    uint64_t aborted0 = metric("pdnsx_consumer_batches_aborted_total");
    rd_kafka_mock_push_request_errors(
        c.mc, 0, 4, RD_KAFKA_RESP_ERR_NO_ERROR, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    run_stats st = run_once(&e, "g-once");
    assert_true(st.aborted >= 1);
    assert_int_equal(metric("pdnsx_consumer_batches_aborted_total") - aborted0, st.aborted);
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.dlq, 2);
    check_store(e.dir, 7);
    check_dlq(&c, 2);                        /* one copy per source message */
    assert_int_equal(count_marks(e.dir), 0); /* the record is pruned once committed */
    env_cleanup(&e);
    cluster_stop(&c);
}

typedef struct killer {
    pthread_t target;
    uint64_t aborted0;
} killer;

/* Sends the run SIGTERM once a batch was abandoned. */
static void *kill_after_abort(void *arg)
{
    killer *k = arg;
    for (int i = 0; i < 6000 && metric("pdnsx_consumer_batches_aborted_total") == k->aborted0; i++)
        usleep(10000);
    pthread_kill(k->target, SIGTERM);
    return NULL;
}

/* The same across a restart: the first run ends (SIGTERM) with its batch
 * abandoned, one copy acknowledged; the next run, reading the batch
 * again, sends only the other one (the store recorded the first). Both
 * bad messages lead one partition, so that they share a batch. */
static void test_restart_sends_each_copy_once(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce(&c, TOPIC_A, 0, "garbage.example", "hello", 5, NULL);
    produce_obs(&c, TOPIC_A, 0, "org-b", "www.example.com", "203.0.113.66", 1000); /* spoofed */
    produce_obs(&c, TOPIC_A, 1, "org-a", "www.example.com", "93.184.216.34", 3);
    produce_obs(&c, TOPIC_B, 0, "org-b", "www.example.com", "93.184.216.34", 4);
    produce_flush(&c);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    run_env e;
    env_init(&e, &c, "g-r1");
    e.conf.batch_records = 100;
    e.conf.batch_ms = 200;
    e.conf.exit_idle = 0;
    e.conf.kafka_properties = (px_kafka_prop *)one_copy_per_request;
    e.conf.n_kafka_properties = 1;
    e.opts.dlq_timeout_ms = 3000;
    e.opts.signals = &sigs;
    rd_kafka_mock_push_request_errors(c.mc, 0, 1, RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 20; i++)
        rd_kafka_mock_push_request_errors(c.mc, 0, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    killer k = {pthread_self(), metric("pdnsx_consumer_batches_aborted_total")};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kill_after_abort, &k), 0);
    char err[512] = "";
    run_stats before = run_stats_now();
    px_consumer *pc = px_consumer_create(&e.conf, &e.opts, err, sizeof(err));
    if (!pc)
        fail_msg("create: %s", err);
    px_consumer_run(pc); /* 0 or 1: whether the last attempt was open at the signal */
    run_stats st1 = run_stats_since(&before);
    px_consumer_destroy(pc);
    pthread_join(t, NULL);
    assert_true(st1.aborted >= 1);
    assert_int_equal(st1.dlq, 0);
    assert_int_equal(count_marks(e.dir), 1);
    dlq_msg d[8];
    assert_int_equal(read_dlq(&c, d, 8), 1);

    rd_kafka_mock_clear_request_errors(c.mc, 0);
    e.conf.exit_idle = 2;
    e.opts.signals = NULL;
    run_stats st2 = run_once(&e, "g-r2");
    assert_int_equal(st2.dlq, 2); /* the one acknowledged before counts now */
    assert_int_equal(st1.merged + st2.merged, 2);
    assert_int_equal(read_dlq(&c, d, 8), 2); /* one copy per source message */
    assert_true(strncmp(d[0].error, "decode: ", 8) == 0 || strncmp(d[1].error, "decode: ", 8) == 0);
    assert_string_equal(d[0].topic, TOPIC_A);
    assert_string_equal(d[1].topic, TOPIC_A);
    assert_string_equal(d[0].partition, "0");
    assert_string_equal(d[1].partition, "0");
    assert_string_not_equal(d[0].offset, d[1].offset);
    assert_int_equal(count_marks(e.dir), 0);
    px_stores *s = open_ro(e.dir);
    assert_int_equal(www_count(s), 7);
    int64_t next = 0;
    assert_int_equal(ro_offset(s, TOPIC_A, 0, &next), PX_OK);
    assert_int_equal(next, 2);
    px_stores_close(s);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* The org check compares whole ids: a record of org-ab on org-a's topic
 * is not org-a's (a prefix comparison would take it). */
static void test_org_prefix_is_mismatch(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_obs(&c, TOPIC_A, 0, "org-ab", "www.example.com", "203.0.113.66", 1000);
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 3);
    produce_flush(&c);
    run_env e;
    env_init(&e, &c, "g-org");
    e.conf.exit_idle = 2;
    run_stats st = run_once(&e, "g-org");
    assert_int_equal(st.messages, 2);
    assert_int_equal(st.merged, 1);
    assert_int_equal(st.dlq, 1);
    dlq_msg d[4];
    assert_int_equal(read_dlq(&c, d, 4), 1);
    assert_string_equal(d[0].error, "org mismatch: record says org-ab, topic says org-a");
    assert_string_equal(d[0].offset, "0");
    px_stores *s = open_ro(e.dir);
    rrset_sum sum = {0};
    px_store_fence all = {INT64_MIN, INT64_MAX};
    assert_int_equal(ro_find_rrset(s, "www.example.com", "A", &all, sum_rec, &sum), PX_OK);
    assert_int_equal(sum.n, 1);
    assert_int_equal(sum.count, 3);
    assert_int_equal(sum.n_orgs, 1);
    assert_string_equal(sum.orgs[0], "org-a");
    size_t n = 0; /* nothing of org-ab's record */
    assert_int_equal(ro_find_rdata(s, "203.0.113.66", &all, count_rec, &n), PX_OK);
    assert_int_equal(n, 0);
    px_stores_close(s);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* A librdkafka property that bounds the consumer's memory is its
 * setting's to set: kafka.properties setting it fails the start, naming
 * the setting (pdnsx-consumer exits 2 on it at --check already). */
static void test_memory_property_refused(void **state)
{
    (void)state;
    static const px_kafka_prop fetch[] = {{"fetch.max.bytes", "999999999"}};
    run_env e;
    cluster c;
    cluster_start(&c);
    env_init(&e, &c, "g-mem");
    e.conf.kafka_properties = (px_kafka_prop *)fetch;
    e.conf.n_kafka_properties = 1;
    char err[512] = "";
    px_consumer *pc = px_consumer_create(&e.conf, &e.opts, err, sizeof(err));
    assert_null(pc);
    assert_non_null(strstr(err, "fetch.max.bytes"));
    assert_non_null(strstr(err, "kafka.fetch_max_kbytes"));
    env_cleanup(&e);
    cluster_stop(&c);
}

/* An assignment strategy other than range would give partition i of two
 * organisation topics to two members: the start fails, saying why
 * (pdnsx-consumer exits 2 on it at --check already). */
static void test_assignor_pinned(void **state)
{
    (void)state;
    static const px_kafka_prop assignor[] = {{"partition.assignment.strategy", "roundrobin"}};
    run_env e;
    cluster c;
    cluster_start(&c);
    env_init(&e, &c, "g-assignor");
    e.conf.kafka_properties = (px_kafka_prop *)assignor;
    e.conf.n_kafka_properties = 1;
    char err[512] = "";
    px_consumer *pc = px_consumer_create(&e.conf, &e.opts, err, sizeof(err));
    assert_null(pc);
    assert_non_null(strstr(err, "Kafka consumer: partition.assignment.strategy: \"roundrobin\" "
                                "refused: pdnsx-consumer assigns partitions with \"range\" only"));
    env_cleanup(&e);
    cluster_stop(&c);
}

/* ---- detection and the alert sinks ------------------------------------------------- */

#define TOPIC_C "pdnsx.obs.org-c"

/* The lines of a file (0 when it does not exist); the first into first. */
static int file_lines(const char *path, char *first, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int n = 0;
    char line[PX_ALERT_JSON_MAX + 2];
    while (fgets(line, sizeof(line), f)) {
        if (n++ == 0 && first)
            snprintf(first, len, "%s", line);
    }
    fclose(f);
    return n;
}

/* pdnsx-query alerts with a fence and a rule: how many lines, the first
 * into line. */
static uint64_t query_alerts(const char *dir, int64_t after, int64_t before, const char *rule,
                             char *line, size_t len)
{
    px_stores *s = open_ro(dir);
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    uint64_t n = 0;
    px_store_fence fence = {after, before};
    assert_int_equal(px_query_alerts(s, &fence, rule, f, &n), PX_OK);
    fclose(f);
    if (line)
        snprintf(line, len, "%s", buf);
    free(buf);
    px_stores_close(s);
    return n;
}

/* A sink's cursors, one per partition store (each numbers its own
 * alerts), as one: 1 + the alerts it delivered from all of them. */
static uint64_t sink_cursor(const char *dir, const char *sink)
{
    px_stores *s = open_ro(dir);
    uint64_t delivered = 0;
    int32_t parts[16];
    size_t np = px_stores_list(s, parts, 16);
    for (size_t i = 0; i < np; i++) {
        uint64_t next = 0;
        assert_int_equal(px_store_sink_get(px_stores_get(s, parts[i]), sink, &next), PX_OK);
        delivered += next - 1;
    }
    px_stores_close(s);
    return 1 + delivered;
}

/* Three organisations see a new domain answered: one burst, decided into
 * the outbox while the file sink cannot write (/dev/full), delivered once
 * by the next run to the file, its cursor recorded so that a third run
 * delivers nothing again. One organisation's flood of names never bursts,
 * nor does the same burst again. */
static void test_alerts_delivered_once(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, TOPIC_C, 2, 1), 0);
    const char *flood[] = {"a.flood-one.net", "b.flood-one.net", "c.flood-one.net",
                           "d.flood-one.net"};
    for (size_t i = 0; i < 4; i++)
        produce_obs(&c, TOPIC_A, 0, "org-a", flood[i], "93.184.216.50", 50);
    produce_obs(&c, TOPIC_A, 0, "org-a", "login.paypa1-secure.net", "93.184.216.47", 1);
    produce_obs(&c, TOPIC_B, 0, "org-b", "login.paypa1-secure.net", "93.184.216.47", 1);
    produce_obs(&c, TOPIC_C, 0, "org-c", "www.paypa1-secure.net", "93.184.216.48", 1);
    produce_flush(&c);

    run_env e;
    env_init(&e, &c, "g-alert1");
    e.conf.batch_records = 100;
    e.conf.exit_idle = 4;
    e.conf.detect = px_detect_opts_default();
    e.conf.detect.burst_warmup = 0;
    e.conf.alerts.jsonl = "/dev/full"; /* opens, never takes a line */
    uint64_t decided0 = pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}");
    uint64_t delivered0 = pxt_metric("pdnsx_alerts_delivered_total{sink=\"jsonl\"}");
    run_stats st = run_once(&e, "g-alert1");
    assert_int_equal(st.merged, 7);
    assert_int_equal(pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}") - decided0,
                     1);
    assert_int_equal(pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.geo_shift\"}"), 0);
    assert_true(pxt_metric("pdnsx_alerts_errors_total{sink=\"jsonl\"}") > 0);
    assert_int_equal(pxt_metric("pdnsx_alerts_delivered_total{sink=\"jsonl\"}"), delivered0);
    assert_int_equal(sink_cursor(e.dir, "jsonl"), 1);
    /* the depth gauge counts the undelivered alert over every partition's outbox */
    assert_int_equal(pxt_metric("pdnsx_alerts_outbox_depth{sink=\"jsonl\"}"), 1);

    /* the next run, the file writable: the decided alert, once */
    char path[128], line[PX_ALERT_JSON_MAX + 2] = "";
    snprintf(path, sizeof(path), "%s/alerts.jsonl", e.dir);
    e.conf.alerts.jsonl = path;
    st = run_once(&e, "g-alert2"); /* a new group: no wait for the last one's session */
    assert_int_equal(st.merged, 0);
    assert_int_equal(file_lines(path, line, sizeof(line)), 1);
    assert_non_null(strstr(line, "\"pdnsx.new_domain_burst\""));
    assert_non_null(strstr(line, "\"paypa1-secure.net\""));
    assert_null(strstr(line, "flood-one"));
    assert_int_equal(sink_cursor(e.dir, "jsonl"), 2);
    assert_int_equal(pxt_metric("pdnsx_alerts_outbox_depth{sink=\"jsonl\"}"), 0);

    /* pdnsx-query alerts: the same line, and its filters: the rule, and
     * the alert's time (event time: here the sightings' first) */
    char q[PX_ALERT_JSON_MAX + 2] = "";
    assert_int_equal(query_alerts(e.dir, INT64_MIN, INT64_MAX, NULL, q, sizeof(q)), 1);
    assert_string_equal(q, line);
    assert_int_equal(query_alerts(e.dir, INT64_MIN, INT64_MAX, PX_DETECT_RULE_BURST, NULL, 0), 1);
    assert_int_equal(query_alerts(e.dir, INT64_MIN, INT64_MAX, PX_DETECT_RULE_GEO, NULL, 0), 0);
    assert_int_equal(query_alerts(e.dir, NOW - 600, NOW - 600, NULL, NULL, 0), 1);
    assert_int_equal(query_alerts(e.dir, NOW - 599, INT64_MAX, NULL, NULL, 0), 0);
    assert_int_equal(query_alerts(e.dir, INT64_MIN, NOW - 601, NULL, NULL, 0), 0);

    /* the cursor survives: another run, with a later sighting of the
     * domain that fired, delivers nothing again and decides nothing */
    produce_obs_at(&c, TOPIC_B, 0, "org-b", "mail.paypa1-secure.net", "93.184.216.49", 1,
                   NOW - 500);
    produce_flush(&c);
    st = run_once(&e, "g-alert3");
    assert_int_equal(st.merged, 1);
    assert_int_equal(file_lines(path, NULL, 0), 1);
    assert_int_equal(sink_cursor(e.dir, "jsonl"), 2);
    assert_int_equal(pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}") - decided0,
                     1);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* detect.rules = []: no detector, no alert, no detection state written;
 * a known domain never bursts. */
static void test_detection_off_and_known(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, TOPIC_C, 2, 1), 0);
    produce_obs(&c, TOPIC_A, 0, "org-a", "www.paypa1-secure.net", "93.184.216.47", 1);
    produce_obs(&c, TOPIC_B, 0, "org-b", "www.paypa1-secure.net", "93.184.216.47", 1);
    produce_obs(&c, TOPIC_C, 0, "org-c", "www.paypa1-secure.net", "93.184.216.47", 1);
    produce_flush(&c);
    run_env e;
    env_init(&e, &c, "g-off");
    e.conf.batch_records = 100;
    e.conf.exit_idle = 4;
    char path[128];
    snprintf(path, sizeof(path), "%s/alerts.jsonl", e.dir);
    e.conf.alerts.jsonl = path;
    uint64_t writes0 = pxt_metric("pdnsx_detect_state_writes_total");
    run_stats st = run_once(&e, "g-off"); /* e.conf.detect zeroed: no rule */
    assert_int_equal(st.merged, 3);
    assert_int_equal(pxt_metric("pdnsx_detect_state_writes_total"), writes0);
    assert_int_equal(file_lines(path, NULL, 0), 0);
    env_cleanup(&e);

    /* detection on, the domain known: state, but no alert */
    char known[160];
    env_init(&e, &c, "g-known");
    snprintf(known, sizeof(known), "%s.known", e.dir);
    FILE *f = fopen(known, "w");
    assert_non_null(f);
    fputs("1,paypa1-secure.net\n", f);
    fclose(f);
    e.conf.batch_records = 100;
    e.conf.exit_idle = 4;
    e.conf.detect = px_detect_opts_default();
    e.conf.detect.burst_warmup = 0;
    e.conf.known_domains = known;
    snprintf(path, sizeof(path), "%s/alerts.jsonl", e.dir);
    e.conf.alerts.jsonl = path;
    uint64_t decided0 = pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}");
    st = run_once(&e, "g-known");
    assert_int_equal(st.merged, 3);
    assert_int_equal(pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}"), decided0);
    assert_int_equal(file_lines(path, NULL, 0), 0);
    unlink(known);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* An observation of rrname A rdata seen from first to last, as its own
 * record batch (the producer sends it before the next one). */
static void produce_span(cluster *c, const char *topic, const char *org, const char *rrname,
                         int64_t first, int64_t last)
{
    px_avro_codec *codec = NULL;
    assert_int_equal(px_avro_codec_create(&codec, NULL, 0), PX_OK);
    px_avro_obs o = {.rrname = rrname,
                     .rrtype = "A",
                     .rdata = "93.184.216.60",
                     .count = 1,
                     .time_first = first,
                     .time_last = last,
                     .ttl_min = 300,
                     .ttl_max = 300,
                     .clients = -1,
                     .org = org,
                     .sensor = "s1"};
    const uint8_t *msg;
    size_t len;
    assert_int_equal(pxt_avro_encode(codec, &o, &msg, &len), PX_OK);
    produce(c, topic, 0, rrname, msg, len, NULL);
    px_avro_codec_destroy(codec);
    produce_flush(c);
}

/* kafka.align_seconds: org-a's partition holds a month-old history, the
 * old sighting of kettle-radio.org at its end; org-b's and org-c's hold
 * today's sightings of it. Read unevenly (each fetch brings one record
 * batch of a partition: org-a's end comes some 150 fetches after the
 * others' today), today's sightings would merge first and the domain burst
 * as new; aligned in event time, org-a's history merges before anything a
 * month later, and the domain is old. */
static void test_partitions_aligned_in_event_time(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, TOPIC_C, 2, 1), 0);
    const int64_t old = NOW - 30 * 86400;
    for (int i = 0; i < 150; i++) {
        char name[64];
        snprintf(name, sizeof(name), "h%d.history-%d.net", i, i);
        produce_span(&c, TOPIC_A, "org-a", name, old + i, old + i);
    }
    produce_span(&c, TOPIC_A, "org-a", "www.kettle-radio.org", old + 150, old + 150);
    produce_span(&c, TOPIC_B, "org-b", "www.kettle-radio.org", NOW - 120, NOW - 60);
    produce_span(&c, TOPIC_C, "org-c", "live.kettle-radio.org", NOW - 120, NOW - 60);

    static const px_kafka_prop one_batch_per_fetch[] = {{"max.partition.fetch.bytes", "1"}};
    run_env e;
    env_init(&e, &c, "g-align");
    e.conf.batch_records = 1; /* each message its own transaction: the order shows */
    e.conf.exit_idle = 4;
    e.conf.align_seconds = 60;
    e.conf.kafka_properties = (px_kafka_prop *)one_batch_per_fetch;
    e.conf.n_kafka_properties = 1;
    e.conf.detect = px_detect_opts_default();
    e.conf.detect.burst_warmup = 0;
    e.conf.detect.burst_orgs = 2;
    uint64_t decided0 = pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}");
    run_stats st = run_once(&e, "g-align");
    assert_int_equal(st.merged, 153);
    assert_int_equal(pxt_metric("pdnsx_alerts_total{rule=\"pdnsx.new_domain_burst\"}"), decided0);
    assert_int_equal(query_alerts(e.dir, INT64_MIN, INT64_MAX, NULL, NULL, 0), 0);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* ---- co-partitioning ------------------------------------------------------------- */

#define TOPIC_D "pdnsx.obs.org-d"
#define COPART_METRIC "pdnsx_consumer_copartition_broken_total"

/* librdkafka's group.instance.id of the consumer's group handle. */
static void instance_id(run_env *e, char *out, size_t len)
{
    char err[512] = "";
    px_consumer *pc = px_consumer_create(&e->conf, &e->opts, err, sizeof(err));
    if (!pc)
        fail_msg("create: %s", err);
    out[0] = '\0';
    size_t n = len;
    rd_kafka_conf_get(rd_kafka_conf(pc->rk), "group.instance.id", out, &n);
    px_consumer_destroy(pc);
}

/* kafka.group_instance_id makes the member a static one (a restart within
 * the session gets its partitions back); empty, a dynamic one. */
static void test_static_membership(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    env_init(&e, &c, "g-static");
    char id[64];
    e.conf.kafka_group_instance_id = "centre-1";
    instance_id(&e, id, sizeof(id));
    assert_string_equal(id, "centre-1");
    e.conf.kafka_group_instance_id = "";
    instance_id(&e, id, sizeof(id));
    assert_string_equal(id, "");
    env_cleanup(&e);
    cluster_stop(&c);
}

/* An organisation topic with another partition count than the others:
 * the consumer does not start, and says which topics have how many. */
static void test_copartition_refused_at_start(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, TOPIC_D, 1, 1), 0);
    run_env e;
    env_init(&e, &c, "g-copart1");
    uint64_t broken0 = pxt_metric(COPART_METRIC);
    char err[2048] = "";
    px_consumer *pc = px_consumer_create(&e.conf, &e.opts, err, sizeof(err));
    assert_null(pc);
    assert_non_null(strstr(err, "co-partitioning broken"));
    assert_non_null(strstr(err, "1 partition: " TOPIC_D "; 2 partitions: " TOPIC_A ", " TOPIC_B));
    assert_int_equal(pxt_metric(COPART_METRIC), broken0 + 1);
    env_cleanup(&e);
    cluster_stop(&c);
}

/* An assignment holding partition i of some subscribed topics only (the
 * members saw different topics when the group assigned them: one just
 * created, as another member may hold the other topics' i) keeps its
 * whole partition numbers only: the others are not read, nor their
 * stores opened, until a rebalance assigns them whole. */
static void test_copartition_partial_assignment_left_out(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    run_env e;
    env_init(&e, &c, "g-copart3");
    char err[2048] = "";
    px_consumer *pc = px_consumer_create(&e.conf, &e.opts, err, sizeof(err));
    if (!pc)
        fail_msg("create: %s", err);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    rd_kafka_topic_partition_list_add(parts, TOPIC_A, 0);
    rd_kafka_topic_partition_list_add(parts, TOPIC_A, 1);
    rd_kafka_topic_partition_list_add(parts, TOPIC_B, 1);
    assert_int_equal(px_consumer_copartition_whole(pc, parts, err, sizeof(err)), 4);
    assert_int_equal(parts->cnt, 2);
    assert_non_null(rd_kafka_topic_partition_list_find(parts, TOPIC_A, 1));
    assert_non_null(rd_kafka_topic_partition_list_find(parts, TOPIC_B, 1));
    rd_kafka_topic_partition_list_add(parts, TOPIC_B, 0);
    rd_kafka_topic_partition_list_add(parts, TOPIC_A, 0);
    assert_int_equal(px_consumer_copartition_whole(pc, parts, err, sizeof(err)), 4);
    assert_int_equal(parts->cnt, 4); /* whole: kept */
    rd_kafka_topic_partition_list_destroy(parts);
    px_consumer_destroy(pc);
    env_cleanup(&e);
    cluster_stop(&c);
}

typedef struct run_thread {
    run_env *e;
    int rc;
} run_thread;

static void *run_in_thread(void *arg)
{
    run_thread *t = arg;
    char err[512] = "";
    px_consumer *pc = px_consumer_create(&t->e->conf, &t->e->opts, err, sizeof(err));
    if (!pc) {
        fprintf(stderr, "create: %s\n", err);
        t->rc = -1;
        return NULL;
    }
    t->rc = px_consumer_run(pc);
    px_consumer_destroy(pc);
    return NULL;
}

/* A new organisation's topic with 3 partitions appears while the
 * consumer reads two topics of 2: at the rebalance it brings, the
 * consumer stops with exit status 1, what it merged committed and
 * nothing of the new topic merged. */
static void test_copartition_broken_later(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g-copart2");
    e.conf.exit_idle = 30; /* a consumer that does not stop ends idle, with 0 */
    /* the mock cluster's rebalance waits for the members up to their
     * max.poll.interval.ms */
    static const px_kafka_prop short_rebalance[] = {{"max.poll.interval.ms", "6000"},
                                                    {"session.timeout.ms", "6000"}};
    e.conf.kafka_properties = (px_kafka_prop *)short_rebalance;
    e.conf.n_kafka_properties = 2;
    uint64_t broken0 = pxt_metric(COPART_METRIC);
    uint64_t merged0 = pxt_metric("pdnsx_consumer_merged_total");
    run_thread t = {.e = &e};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_in_thread, &t), 0);
    for (int i = 0; i < 300 && pxt_metric("pdnsx_consumer_merged_total") < merged0 + 3; i++)
        usleep(100 * 1000);
    assert_int_equal(pxt_metric("pdnsx_consumer_merged_total"), merged0 + 3);
    assert_int_equal(rd_kafka_mock_topic_create(c.mc, TOPIC_D, 3, 1), 0);
    produce_obs(&c, TOPIC_D, 0, "org-d", "www.example.com", "93.184.216.34", 5);
    produce_flush(&c);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(t.rc, 1);
    assert_int_equal(pxt_metric(COPART_METRIC), broken0 + 1);
    check_store(e.dir, 7); /* org-a's 3 and org-b's 4, their offsets */
    px_stores *s = open_ro(e.dir);
    int64_t next = -1;
    assert_int_equal(ro_offset(s, TOPIC_D, 0, &next), PX_ERR_NOTFOUND);
    px_stores_close(s);
    env_cleanup(&e);
    cluster_stop(&c);
}

int main(void)
{
    /* parts of about 50 s each, run as separate ctest tests */
    const struct CMUnitTest merge[] = {
        cmocka_unit_test(test_merge_dlq_and_resume),
        cmocka_unit_test(test_feed_counts),
        cmocka_unit_test(test_resumes_pending_log),
        cmocka_unit_test(test_sigterm_commits_open_batch),
        cmocka_unit_test(test_caught_up_commits),
        cmocka_unit_test(test_memory_property_refused),
    };
    const struct CMUnitTest dlq[] = {
        cmocka_unit_test(test_dlq_refused_then_retried),
        cmocka_unit_test(test_oversized_copy_cut),
        cmocka_unit_test(test_copy_refused_too_large_sent_small),
        cmocka_unit_test(test_copy_refused_for_good_skipped),
        cmocka_unit_test(test_org_prefix_is_mismatch),
    };
    const struct CMUnitTest retry[] = {
        cmocka_unit_test(test_damaged_record_stops),
        cmocka_unit_test(test_damaged_log_stops),
        cmocka_unit_test(test_retry_sends_each_copy_once),
        cmocka_unit_test(test_restart_sends_each_copy_once),
    };
    const struct CMUnitTest alerts[] = {
        cmocka_unit_test(test_alerts_delivered_once),
        cmocka_unit_test(test_detection_off_and_known),
        cmocka_unit_test(test_partitions_aligned_in_event_time),
    };
    const struct CMUnitTest copart[] = {
        cmocka_unit_test(test_copartition_refused_at_start),
        cmocka_unit_test(test_copartition_broken_later),
        cmocka_unit_test(test_copartition_partial_assignment_left_out),
        cmocka_unit_test(test_static_membership),
        cmocka_unit_test(test_assignor_pinned),
    };
    const pxt_part parts[] = {PXT_PART("merge", merge), PXT_PART("dlq", dlq),
                              PXT_PART("retry", retry), PXT_PART("alerts", alerts),
                              PXT_PART("copart", copart)};
    /* PX_TEST_FILTER="test_org*" runs some tests only (cmocka's pattern) */
    if (getenv("PX_TEST_FILTER"))
        cmocka_set_test_filter(getenv("PX_TEST_FILTER"));
    int rc = pxt_run_parts(parts, sizeof(parts) / sizeof(parts[0]));
    free(big_value);
    return rc;
}
