/* test_publish.c: the Kafka publisher against librdkafka's mock cluster
 * (a Kafka-protocol broker in this process): delivery, murmur2 partitioning
 * as the Java client does it, a broker outage with and without the spool. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "metrics_read.h"
#include "core/px_metrics.h"
#include "kafka/px_kafka_partition.h"
#include "mock_cluster.h"
#include "px_publish.h"
#include "px_spool.h"

#define TOPIC "pdnsx.obs.test"
#define PARTS 4

/* A queue of 20 messages: a broker outage fills it at once. */
static px_kafka_prop small_queue[] = {{"queue.buffering.max.messages", "20"}};

/* Reads the whole topic; checks every key sits where Java would put it
 * (px_kafka_partition_of: Kafka's own vectors in test_kafka_partition).
 * Returns the number of messages; ids[i] counts value "msg-i". */
static int consume_all(const pxt_cluster *c, int *ids, int max_id)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int p = 0; p < PARTS; p++)
        rd_kafka_topic_partition_list_add(l, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int eof = 0, n = 0;
    while (eof < PARTS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        } else {
            assert_int_equal(m->err, 0);
            char key[64];
            snprintf(key, sizeof(key), "%.*s", (int)m->key_len, (const char *)m->key);
            assert_int_equal(m->partition, px_kafka_partition_of(key, strlen(key), PARTS));
            int id;
            assert_int_equal(sscanf((const char *)m->payload, "msg-%d", &id), 1);
            assert_true(id >= 0 && id < max_id);
            ids[id]++;
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

static void send_range(px_publish *p, int from, int to)
{
    for (int i = from; i < to; i++) {
        char key[64], val[64];
        snprintf(key, sizeof(key), "domain%d.example", i % 37);
        int vl = snprintf(val, sizeof(val), "msg-%d", i);
        assert_int_equal(px_publish_send(p, key, strlen(key), val, (size_t)vl + 1), PX_OK);
        px_publish_poll(p, 0);
    }
}

static void check_exactly_once(const pxt_cluster *c, int n)
{
    int *ids = calloc((size_t)n, sizeof(int));
    assert_int_equal(consume_all(c, ids, n), n);
    for (int i = 0; i < n; i++)
        assert_int_equal(ids[i], 1);
    free(ids);
}

static void test_delivers_and_partitions_like_java(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    char err[256];
    px_kafka_settings ks = {.brokers = c.brokers};
    px_publish_conf pc = {.kafka = &ks, .topic = TOPIC};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    send_range(p, 0, 500);
    assert_int_equal(px_publish_close(p, 30000), PX_OK);
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.produced, 500);
    assert_int_equal(st.delivered, 500);
    assert_int_equal(st.failed, 0);
    assert_int_equal(px_publish_outstanding(p), 0);
    px_publish_destroy(p);
    check_exactly_once(&c, 500);
    pxt_cluster_stop(&c);
}

static void test_outage_then_recovery(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    char err[256];
    px_kafka_settings ks = {.brokers = c.brokers};
    px_publish_conf pc = {.kafka = &ks, .topic = TOPIC, .infinite_timeout = true};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    send_range(p, 0, 200);
    assert_int_equal(px_publish_close(p, 30000), PX_OK);
    rd_kafka_mock_broker_set_down(c.mc, 1);
    send_range(p, 200, 400);
    /* nothing can be acknowledged while the broker is down */
    for (int i = 0; i < 10; i++)
        px_publish_poll(p, 50);
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 200);
    assert_true(px_publish_outstanding(p) > 0);
    rd_kafka_mock_broker_set_up(c.mc, 1);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 400);
    assert_int_equal(st.failed, 0);
    px_publish_destroy(p);
    check_exactly_once(&c, 400); /* idempotence: no duplicates from retries */
    pxt_cluster_stop(&c);
}

/* An empty spool file of a fresh name into path (64 bytes). */
static void spool_file(char *path)
{
    snprintf(path, 64, "/tmp/px_test_publish_spool_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

static void test_full_queue_spills_to_spool_and_drains(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    char spool[64];
    spool_file(spool);
    px_kafka_settings ks = {.brokers = c.brokers, .props = small_queue, .n_props = 1};
    char err[256];
    px_publish_conf pc = {.kafka = &ks,
                          .topic = TOPIC,
                          .infinite_timeout = true,
                          .spool_path = spool,
                          .queue_wait_ms = 20};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    rd_kafka_mock_broker_set_down(c.mc, 1);
    send_range(p, 0, 300); /* 20 fit in memory, the rest must spill */
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_true(st.spooled >= 250);
    assert_int_equal(st.delivered, 0);
    rd_kafka_mock_broker_set_up(c.mc, 1);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 300);
    assert_int_equal(st.unspooled, st.spooled);
    assert_int_equal(px_publish_outstanding(p), 0);
    px_publish_destroy(p);
    check_exactly_once(&c, 300);
    unlink(spool);
    pxt_cluster_stop(&c);
}

static void test_undelivered_at_close_goes_to_spool(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    char spool[64];
    spool_file(spool);
    char err[256];
    px_kafka_settings ks = {.brokers = c.brokers};
    px_publish_conf pc = {
        .kafka = &ks, .topic = TOPIC, .infinite_timeout = true, .spool_path = spool};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    rd_kafka_mock_broker_set_down(c.mc, 1);
    send_range(p, 0, 50);
    /* shutdown while Kafka is away: nothing lost, all kept on disk */
    assert_int_equal(px_publish_close(p, 500), PX_OK);
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.spooled, 50);
    px_publish_destroy(p);

    /* the next run delivers them */
    rd_kafka_mock_broker_set_up(c.mc, 1);
    p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(px_publish_outstanding(p), 50);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 50);
    px_publish_destroy(p);
    check_exactly_once(&c, 50);
    unlink(spool);
    pxt_cluster_stop(&c);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log lines the publisher gives its daemon. */
typedef struct logbook {
    pthread_mutex_t lock;
    char text[16384];
} logbook;

static void log_fn(void *ctx, px_log_level level, const char *msg)
{
    (void)level;
    logbook *b = ctx;
    pthread_mutex_lock(&b->lock);
    size_t used = strlen(b->text);
    snprintf(b->text + used, sizeof(b->text) - used, "%s\n", msg);
    pthread_mutex_unlock(&b->lock);
}

/* Messages from..to-1 sent from a thread, so that a publisher that blocks
 * for ever fails the test instead of hanging it. */
typedef struct sender {
    px_publish *p;
    int from, to;
    int ok, full; /* results of px_publish_send() */
    _Atomic bool done;
    pthread_t thread;
} sender;

static void *sender_run(void *arg)
{
    sender *s = arg;
    for (int i = s->from; i < s->to; i++) {
        char key[64], val[64];
        snprintf(key, sizeof(key), "domain%d.example", i % 37);
        int vl = snprintf(val, sizeof(val), "msg-%d", i);
        px_err e = px_publish_send(s->p, key, strlen(key), val, (size_t)vl + 1);
        s->ok += e == PX_OK;
        s->full += e == PX_ERR_FULL;
    }
    atomic_store(&s->done, true);
    return NULL;
}

static void sender_start(sender *s, px_publish *p, int from, int to)
{
    *s = (sender){.p = p, .from = from, .to = to};
    assert_int_equal(pthread_create(&s->thread, NULL, sender_run, s), 0);
}

/* True when the sender finished within ms. */
static bool sender_done_within(sender *s, int64_t ms)
{
    int64_t end = now_ms() + ms;
    while (!atomic_load(&s->done) && now_ms() < end) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!atomic_load(&s->done))
        return false;
    pthread_join(s->thread, NULL);
    return true;
}

#define DROPPED "pdnsx_observations_dropped_total{reason=\"kafka_backlog\"}"

/* A live input's publisher, broker down, no spool: once the local queue
 * stays full for the bound, the newest messages are dropped (counted,
 * logged a bounded number of times) and the sender goes on; the queue's
 * messages are delivered when the broker returns, and sending works again. */
static void test_live_full_queue_drops_newest_past_bound(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    px_kafka_settings ks = {.brokers = c.brokers, .props = small_queue, .n_props = 1};
    logbook lb = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    px_publish_conf pc = {.kafka = &ks,
                          .topic = TOPIC,
                          .infinite_timeout = true,
                          .queue_wait_ms = 200,
                          .drop_when_blocked = true,
                          .log_fn = log_fn,
                          .log_ctx = &lb};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    uint64_t dropped0 = pxt_metric(DROPPED);
    rd_kafka_mock_broker_set_down(c.mc, 1);

    /* one wait of the bound, not one per message */
    int64_t t0 = now_ms();
    sender s;
    sender_start(&s, p, 0, 300);
    if (!sender_done_within(&s, 10000))
        fail_msg("a full queue blocked the sender for more than 10 s");
    int64_t took = now_ms() - t0;
    assert_true(took >= 200 && took < 3000);
    assert_int_equal(s.ok, 20);
    assert_int_equal(s.full, 280);
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.produced, 20);
    assert_int_equal(st.dropped, 280);
    assert_int_equal(st.failed, 0);
    assert_int_equal(pxt_metric(DROPPED), dropped0 + 280);
    pthread_mutex_lock(&lb.lock);
    assert_non_null(strstr(lb.text, "dropping the newest observations"));
    /* 280 drops, a bounded number of lines about them */
    int lines = 0;
    for (const char *q = lb.text; (q = strstr(q, "Kafka's local queue")) != NULL; q++)
        lines++;
    assert_true(lines >= 1 && lines <= 3);
    pthread_mutex_unlock(&lb.lock);

    /* the broker returns: the queue drains, new messages fit again */
    rd_kafka_mock_broker_set_up(c.mc, 1);
    int64_t end = now_ms() + 60000;
    while (px_publish_outstanding(p) > 0 && now_ms() < end)
        px_publish_poll(p, 50);
    sender_start(&s, p, 300, 310);
    assert_true(sender_done_within(&s, 10000));
    assert_int_equal(s.ok, 10);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 30);
    assert_int_equal(st.dropped, 280);
    pthread_mutex_lock(&lb.lock);
    assert_non_null(strstr(lb.text, "takes messages again: 280 observations were dropped"));
    pthread_mutex_unlock(&lb.lock);
    px_publish_destroy(p);

    /* exactly the 20 queued before the outage and the 10 after */
    int ids[310] = {0};
    assert_int_equal(consume_all(&c, ids, 310), 30);
    for (int i = 0; i < 310; i++)
        assert_int_equal(ids[i], i < 20 || i >= 300 ? 1 : 0);
    pxt_cluster_stop(&c);
}

/* File inputs (drop_when_blocked false) and no spool: a full queue makes
 * the sender wait past the bound, nothing is dropped, and everything is
 * delivered once the broker returns. */
static void test_file_full_queue_waits(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    px_kafka_settings ks = {.brokers = c.brokers, .props = small_queue, .n_props = 1};
    char err[256];
    px_publish_conf pc = {
        .kafka = &ks, .topic = TOPIC, .infinite_timeout = true, .queue_wait_ms = 50};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    rd_kafka_mock_broker_set_down(c.mc, 1);
    sender s;
    sender_start(&s, p, 0, 30);
    /* well past the bound, the sender still waits for room */
    assert_false(sender_done_within(&s, 500));
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.dropped, 0);
    rd_kafka_mock_broker_set_up(c.mc, 1);
    assert_true(sender_done_within(&s, 60000));
    assert_int_equal(s.ok, 30);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 30);
    assert_int_equal(st.dropped, 0);
    px_publish_destroy(p);
    check_exactly_once(&c, 30);
    pxt_cluster_stop(&c);
}

/* Damaged spool records (here a record torn by a crash) are lost: counted
 * in pdnsx_spool_corrupt_total and said; the whole ones are delivered. */
static void test_damaged_spool_counted_and_said(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    char spool[64];
    spool_file(spool);
    px_spool *s;
    assert_int_equal(px_spool_open(spool, 0, &s), PX_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(px_spool_append(s, "k", 1, "value", 5), PX_OK);
    px_spool_close(s);
    FILE *f = fopen(spool, "ab");
    assert_non_null(f);
    fwrite("\x31\x53\x58\x50\x04\x00\x00\x00", 1, 8, f); /* a record's start, no more */
    fclose(f);

    logbook book = {.lock = PTHREAD_MUTEX_INITIALIZER};
    uint64_t corrupt0 = pxt_metric("pdnsx_spool_corrupt_total");
    char err[256];
    px_kafka_settings ks = {.brokers = c.brokers};
    px_publish_conf pc = {.kafka = &ks,
                          .topic = TOPIC,
                          .infinite_timeout = true,
                          .spool_path = spool,
                          .log_fn = log_fn,
                          .log_ctx = &book};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    assert_int_equal(pxt_metric("pdnsx_spool_corrupt_total"), corrupt0 + 1);
    assert_non_null(strstr(book.text, "spool: 1 damaged record(s) skipped"));
    assert_int_equal(px_publish_outstanding(p), 3);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 3);
    px_publish_destroy(p);
    unlink(spool);
    pxt_cluster_stop(&c);
}

/* An ACL refusing the topic (the mock cluster answers every Produce
 * request with TOPIC_AUTHORIZATION_FAILED, as a broker does; its answer to
 * metadata requests is no broker's): every message is kept in the spool, counted
 * as refused and not as failed, the refusal said once with the topic and
 * the principal; once the topic is allowed again, the spool is delivered
 * whole, each message once. */
static void test_refused_topic_kept_in_spool_until_allowed(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, PARTS);
    char spool[64];
    spool_file(spool);
    static px_kafka_prop props[] = {{"sasl.username", "org-x"}};
    px_kafka_settings ks = {.brokers = c.brokers, .props = props, .n_props = 1};
    logbook book = {.lock = PTHREAD_MUTEX_INITIALIZER};
    const char *refused = "pdnsx_kafka_refused_total{reason=\"topic_authorization\"}";
    uint64_t refused0 = pxt_metric(refused);
    char err[256];
    px_publish_conf pc = {.kafka = &ks,
                          .topic = TOPIC,
                          .infinite_timeout = true,
                          .spool_path = spool,
                          .refused_retry_ms = 200,
                          .log_fn = log_fn,
                          .log_ctx = &book};
    rd_kafka_resp_err_t no[1000];
    for (size_t i = 0; i < 1000; i++)
        no[i] = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
    rd_kafka_mock_push_request_errors_array(c.mc, 0 /* ApiKey Produce */, 1000, no);
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    send_range(p, 0, 50);
    px_publish_stats st;
    for (int i = 0; i < 3000; i++) { /* 30 s at most */
        px_publish_poll(p, 10);
        px_publish_get_stats(p, &st);
        if (st.spooled >= 50)
            break;
    }
    assert_int_equal(st.spooled, 50);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.failed, 0);
    assert_true(pxt_metric(refused) >= refused0 + 50);
    pthread_mutex_lock(&book.lock);
    const char *line = "Kafka refused topic " TOPIC " to principal User:org-x: topic_authorization";
    const char *at = strstr(book.text, line);
    assert_non_null(at);
    assert_null(strstr(at + 1, "Kafka refused"));
    assert_null(strstr(book.text, "produce failed"));
    pthread_mutex_unlock(&book.lock);

    rd_kafka_mock_clear_request_errors(c.mc, 0 /* ApiKey Produce */);
    assert_int_equal(px_publish_close(p, 60000), PX_OK);
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 50);
    assert_int_equal(st.failed, 0);
    px_publish_destroy(p);
    check_exactly_once(&c, 50);
    unlink(spool);
    pxt_cluster_stop(&c);
}

static void test_bad_property_is_an_error(void **state)
{
    (void)state;
    px_kafka_prop bad[] = {{"no.such.property", "1"}};
    px_kafka_settings ks = {.brokers = "127.0.0.1:1", .props = bad, .n_props = 1};
    char err[256] = "";
    px_publish_conf pc = {.kafka = &ks, .topic = TOPIC};
    assert_null(px_publish_create(&pc, err, sizeof(err)));
    assert_non_null(strstr(err, "no.such.property"));
    /* the message names the setting it came from */
    assert_non_null(strstr(err, "kafka.properties: no.such.property"));
    px_publish_destroy(NULL);
}

/* librdkafka's own lines reach the publisher's logger with its context
 * (debug=generic makes librdkafka say at once that it started). */
static void test_librdkafka_lines_reach_log_fn(void **state)
{
    (void)state;
    px_kafka_prop debug[] = {{"debug", "generic"}};
    px_kafka_settings ks = {.brokers = "127.0.0.1:1", .props = debug, .n_props = 1};
    logbook book = {.lock = PTHREAD_MUTEX_INITIALIZER};
    char err[256];
    px_publish_conf pc = {.kafka = &ks, .topic = TOPIC, .log_fn = log_fn, .log_ctx = &book};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    px_publish_destroy(p);
    const char *line = strstr(book.text, "librdkafka INIT: ");
    assert_non_null(line);
    assert_non_null(strstr(line, " initialized"));
}

static void test_null_sink(void **state)
{
    (void)state;
    char err[256];
    px_kafka_settings ks = {.brokers = "127.0.0.1:1"};
    px_publish_conf pc = {.kafka = &ks, .topic = TOPIC, .null_sink = true};
    px_publish *p = px_publish_create(&pc, err, sizeof(err));
    assert_non_null(p);
    send_range(p, 0, 10);
    assert_int_equal(px_publish_close(p, 0), PX_OK);
    px_publish_stats st;
    px_publish_get_stats(p, &st);
    assert_int_equal(st.delivered, 10);
    px_publish_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delivers_and_partitions_like_java),
        cmocka_unit_test(test_outage_then_recovery),
        cmocka_unit_test(test_full_queue_spills_to_spool_and_drains),
        cmocka_unit_test(test_undelivered_at_close_goes_to_spool),
        cmocka_unit_test(test_damaged_spool_counted_and_said),
        cmocka_unit_test(test_refused_topic_kept_in_spool_until_allowed),
        cmocka_unit_test(test_live_full_queue_drops_newest_past_bound),
        cmocka_unit_test(test_file_full_queue_waits),
        cmocka_unit_test(test_bad_property_is_an_error),
        cmocka_unit_test(test_null_sink),
        cmocka_unit_test(test_librdkafka_lines_reach_log_fn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
