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

#include "px_avro.h"
#include "px_consumer.h"
#include "px_metrics.h"
#include "px_store.h"

#define TOPIC_A "pdnsx.obs.org-a"
#define TOPIC_B "pdnsx.obs.org-b"
#define NOW 1790000000

typedef struct cluster {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    char brokers[256];
    rd_kafka_t *prod;
} cluster;

static void cluster_start(cluster *c)
{
    char err[256];
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
    assert_non_null(c->rk);
    c->mc = rd_kafka_mock_cluster_new(c->rk, 1);
    assert_non_null(c->mc);
    snprintf(c->brokers, sizeof(c->brokers), "%s", rd_kafka_mock_cluster_bootstraps(c->mc));
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, TOPIC_A, 2, 1), 0);
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
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->rk);
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

static void produce_obs(cluster *c, const char *topic, int32_t part, const char *org,
                        const char *rrname, const char *rdata, int64_t count)
{
    px_err err;
    px_avro_codec *codec = px_avro_codec_create(&err);
    assert_non_null(codec);
    px_avro_obs o = {
        .rrname = rrname,
        .rrtype = "A",
        .rdata = rdata,
        .count = count,
        .time_first = NOW - 600,
        .time_last = NOW - 540,
        .ttl_min = 300,
        .ttl_max = 300,
        .clients = -1,
        .org = org,
        .sensor = "s1",
    };
    const uint8_t *msg;
    size_t len;
    assert_int_equal(px_avro_encode(codec, &o, &msg, &len), PX_OK);
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
    e->opts = (px_consumer_opts){.clock = test_clock, .dlq_timeout_ms = 2000};
}

static void env_cleanup(run_env *e)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    assert_int_equal(system(cmd), 0);
}

static px_consumer_stats run_once(run_env *e, const char *group)
{
    e->conf.kafka_group = group;
    char err[512] = "";
    px_consumer *pc = px_consumer_create(&e->conf, &e->opts, err, sizeof(err));
    if (!pc)
        fail_msg("create: %s", err);
    assert_int_equal(px_consumer_run(pc), 0);
    px_consumer_stats st;
    px_consumer_get_stats(pc, &st);
    px_consumer_destroy(pc);
    return st;
}

/* ---- reading back ------------------------------------------------------------ */

typedef struct dlq_msg {
    char key[64], value[64];
    char error[256], topic[64], partition[16], offset[24], trace[16];
} dlq_msg;

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
        rd_kafka_headers_t *h = NULL;
        assert_int_equal(rd_kafka_message_headers(m, &h), 0);
        header(h, "pdnsx.error", d->error, sizeof(d->error));
        header(h, "pdnsx.topic", d->topic, sizeof(d->topic));
        header(h, "pdnsx.partition", d->partition, sizeof(d->partition));
        header(h, "pdnsx.offset", d->offset, sizeof(d->offset));
        header(h, "x-trace", d->trace, sizeof(d->trace));
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
static uint64_t www_count(px_store *s)
{
    rrset_sum sum = {0};
    px_store_fence all = {INT64_MIN, INT64_MAX};
    assert_int_equal(px_store_query_rrset(s, "www.example.com", "A", &all, sum_rec, &sum), PX_OK);
    return sum.count;
}

/* Store offsets and the merged RRset after a run. */
static void check_store(const char *dir, uint64_t want_count)
{
    px_err err;
    char why[256];
    px_store *s = px_store_open(dir, &(px_store_opts){.read_only = true}, &err, why, sizeof(why));
    if (!s)
        fail_msg("store: %s", why);
    const struct {
        const char *topic;
        int32_t part;
        int64_t next;
    } want[] = {{TOPIC_A, 0, 2}, {TOPIC_A, 1, 1}, {TOPIC_B, 0, 1}, {TOPIC_B, 1, 1}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int64_t next = -1;
        assert_int_equal(px_store_get_offset(s, want[i].topic, want[i].part, &next), PX_OK);
        assert_int_equal(next, want[i].next);
    }
    rrset_sum sum = {0};
    px_store_fence all = {INT64_MIN, INT64_MAX};
    assert_int_equal(px_store_query_rrset(s, "www.example.com", "A", &all, sum_rec, &sum), PX_OK);
    assert_int_equal(sum.n, 1);
    assert_int_equal(sum.count, want_count);
    assert_int_equal(sum.n_orgs, 2);
    assert_string_equal(sum.orgs[0], "org-a");
    assert_string_equal(sum.orgs[1], "org-b");
    px_store_close(s);
}

static void check_dlq(const cluster *c, int want)
{
    dlq_msg d[8];
    int n = read_dlq(c, d, 8);
    assert_int_equal(n, want);
    /* A retried batch may write a copy twice; every copy must be right. */
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

static void test_merge_dlq_and_resume(void **state)
{
    (void)state;
    cluster c;
    cluster_start(&c);
    produce_traffic(&c);
    run_env e;
    env_init(&e, &c, "g1");

    px_consumer_stats st = run_once(&e, "g1");
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
    px_err err;
    char why[256];
    px_store *s = px_store_open(e.dir, &(px_store_opts){.read_only = true}, &err, why, sizeof(why));
    assert_non_null(s);
    int64_t next = 0;
    assert_int_equal(px_store_get_offset(s, TOPIC_A, 0, &next), PX_OK);
    assert_int_equal(next, 3);
    assert_int_equal(www_count(s), 17);
    px_store_close(s);

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
    px_err err;
    char why[256];
    px_store *s = px_store_open(e.dir, &(px_store_opts){.chunk_records = 2, .apply_limit = 1}, &err,
                                why, sizeof(why));
    assert_non_null(s);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (int i = 0; i < 10; i++) { /* nine other records, then www.example.com */
        char name[32];
        snprintf(name, sizeof(name), "h%d.example.com", i);
        px_avro_obs o = {.rrname = i < 9 ? name : "www.example.com",
                         .rrtype = "A",
                         .rdata = i < 9 ? "192.0.2.1" : "93.184.216.34",
                         .count = i < 9 ? 1 : 5,
                         .time_first = NOW - 60,
                         .time_last = NOW,
                         .clients = -1,
                         .org = "org-a",
                         .sensor = "s1"};
        assert_int_equal(px_store_merge(b, &o, "example.com", NULL, NULL), PX_OK);
    }
    assert_int_equal(px_store_batch_commit(b), PX_ERR_AGAIN);
    px_store_close(s);

    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 10);
    produce_flush(&c);
    px_consumer_stats st = run_once(&e, "g-log");
    assert_int_equal(st.messages, 1);
    assert_int_equal(st.merged, 1);
    s = px_store_open(e.dir, NULL, &err, why, sizeof(why));
    assert_non_null(s);
    assert_false(px_store_log_pending(s));
    px_store_stats ss;
    assert_int_equal(px_store_get_stats(s, &ss), PX_OK);
    assert_int_equal(ss.records, 10);
    assert_int_equal(www_count(s), 15);
    px_store_close(s);
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

    px_consumer_stats st = run_once(&e, "g4");
    assert_true(st.aborted >= 1);
    assert_true(st.messages > 5); /* read again after the abort */
    assert_int_equal(st.merged, 3);
    assert_int_equal(st.dlq, 2);
    check_store(e.dir, 7);
    dlq_msg d[16];
    int n = read_dlq(&c, d, 16);
    assert_true(n >= 2);
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
    e.opts.clock = terminating_clock;
    e.opts.clock_ctx = &sent;

    px_consumer_stats st = run_once(&e, "g5");
    assert_true(sent);
    /* The message whose validation raised SIGTERM is in the batch open
     * when the signal is taken; messages before it may have been committed
     * already, by a caught-up commit if they came in an earlier fetch. */
    assert_true(st.batches >= 1);
    assert_true(st.messages >= 1);
    assert_int_equal(st.merged + st.dlq, st.messages);
    px_err err;
    char why[256];
    px_store *s = px_store_open(e.dir, &(px_store_opts){.read_only = true}, &err, why, sizeof(why));
    assert_non_null(s);
    const char *topics[] = {TOPIC_A, TOPIC_A, TOPIC_B, TOPIC_B};
    int64_t stored = 0;
    for (int i = 0; i < 4; i++) {
        int64_t next = 0;
        if (px_store_get_offset(s, topics[i], i % 2, &next) == PX_OK)
            stored += next;
    }
    assert_int_equal(stored, (int64_t)st.messages);
    px_store_close(s);
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
    px_consumer_stats st = run_once(&e, "g6");
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
static int run_logged(run_env *e, const char *group, char *log, size_t len, px_consumer_stats *st)
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
    px_consumer *pc = px_consumer_create(&e->conf, &e->opts, err, sizeof(err));
    if (pc) {
        rc = px_consumer_run(pc);
        px_consumer_get_stats(pc, st);
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
    px_consumer_stats st = run_once(&e, "g7");
    assert_int_equal(st.merged, 1);

    corrupt_record(e.dir);
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
    assert_still_damaged(e.dir);
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
    px_err err;
    char why[256];
    px_store *s = px_store_open(e.dir, &(px_store_opts){.chunk_records = 2, .apply_limit = 1}, &err,
                                why, sizeof(why));
    assert_non_null(s);
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "h%d.example.com", i);
        px_avro_obs o = {.rrname = name,
                         .rrtype = "A",
                         .rdata = "192.0.2.1",
                         .count = 1,
                         .time_first = NOW - 60,
                         .time_last = NOW,
                         .clients = -1,
                         .org = "org-a",
                         .sensor = "s1"};
        assert_int_equal(px_store_merge(b, &o, "example.com", NULL, NULL), PX_OK);
    }
    assert_int_equal(px_store_batch_commit(b), PX_ERR_AGAIN);
    px_store_close(s);
    char p[128];
    snprintf(p, sizeof(p), "%s/batch.log", e.dir);
    FILE *fp = fopen(p, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, -3, SEEK_END), 0);
    fputc(0x5a, fp);
    fclose(fp);

    produce_obs(&c, TOPIC_A, 0, "org-a", "www.example.com", "93.184.216.34", 10);
    produce_flush(&c);
    char log[8192];
    px_consumer_stats st;
    assert_int_equal(run_logged(&e, "g-dlog", log, sizeof log, &st), 1);
    assert_int_equal(st.merged, 0);
    if (!strstr(log, "batch.log: chunks fail their checksums") || !strstr(log, "cannot be applied"))
        fail_msg("no error about the batch log:\n%s", log);
    s = px_store_open(e.dir, NULL, &err, why, sizeof(why));
    assert_non_null(s);
    assert_true(px_store_log_pending(s));
    px_store_close(s);

    e.conf.drop_damaged_log = true;
    assert_int_equal(run_logged(&e, "g-dlog", log, sizeof log, &st), 0);
    assert_int_equal(st.merged, 1);
    if (!strstr(log, "are dropped (store.drop_damaged_log)"))
        fail_msg("no error about the dropped chunks:\n%s", log);
    env_cleanup(&e);
    cluster_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_dlq_and_resume),
        cmocka_unit_test(test_resumes_pending_log),
        cmocka_unit_test(test_dlq_refused_then_retried),
        cmocka_unit_test(test_sigterm_commits_open_batch),
        cmocka_unit_test(test_caught_up_commits),
        cmocka_unit_test(test_damaged_record_stops),
        cmocka_unit_test(test_damaged_log_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
