/* test_alert_kafka: the Kafka sink against librdkafka's mock cluster:
 * alerts keyed by registered domain, the JSON as value, in seq order,
 * delivered when acknowledged; an idempotent producer; one the producer
 * refuses for good passed over and counted; a broker down then up loses
 * nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_fixture.h"
#include "core/px_clock.h"
#include "kafka/mock_cluster.h"
#include "metrics_read.h"
#include "px_alert_sink_int.h"

#define TOPIC "pdnsx.alerts"

static px_alert_sink *make(const pxt_cluster *c, const char *max_bytes)
{
    px_kafka_prop props[] = {{"message.max.bytes", max_bytes}};
    px_kafka_settings ks = {.brokers = c->brokers, .props = props, .n_props = max_bytes ? 1 : 0};
    px_alert_sink *s = NULL;
    char why[512] = "";
    assert_int_equal(px_alert_kafka_create(&ks, TOPIC, 1, &s, why, sizeof(why)), PX_OK);
    assert_string_equal(px_alert_sink_name(s), "kafka");
    return s;
}

static void offer(px_alert_sink *s, uint64_t from, uint64_t to, size_t pad)
{
    assert_int_equal(pxt_alert_offer(s, from, to, pad), PX_OK);
}

/* Reads n messages of the topic's partition 0 from the start; checks key
 * and value and returns the seqs in order. */
static void read_back(const pxt_cluster *c, uint64_t *seqs, size_t n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, TOPIC, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    int64_t deadline = px_clock_mono_ms() + 20000;
    size_t got = 0;
    while (got < n) {
        assert_true(px_clock_mono_ms() < deadline);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            assert_int_equal(m->key_len, strlen("paypa1-secure.net"));
            assert_memory_equal(m->key, "paypa1-secure.net", m->key_len);
            char *v = strndup(m->payload, m->len);
            const char *p = strstr(v, "\"seq\":");
            assert_non_null(p);
            seqs[got] = strtoull(p + 6, NULL, 10);
            pxt_alert x;
            pxt_alert_make(&x, seqs[got], 5, 0);
            assert_string_equal(v, x.json);
            free(v);
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void test_keyed_in_order_idempotent(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, 1);
    uint64_t before = pxt_metric("pdnsx_alerts_delivered_total{sink=\"kafka\"}");
    px_alert_sink *s = make(&c, NULL);
    char v[16];
    size_t vlen = sizeof(v);
    assert_int_equal(
        rd_kafka_conf_get(rd_kafka_conf(px_alert_kafka_rk(s)), "enable.idempotence", v, &vlen),
        RD_KAFKA_CONF_OK);
    assert_string_equal(v, "true");
    offer(s, 1, 5, 0);
    assert_int_equal(px_alert_sink_next(s), 1);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 20000));
    assert_int_equal(px_alert_sink_next(s), 6);
    assert_int_equal(pxt_metric("pdnsx_alerts_delivered_total{sink=\"kafka\"}"), before + 5);
    uint64_t seqs[5];
    read_back(&c, seqs, 5);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(seqs[i], i + 1);
    px_alert_sink_destroy(s);
    pxt_cluster_stop(&c);
}

/* An alert larger than message.max.bytes is refused for good: counted,
 * passed over; the ones around it go. */
static void test_refused_passed_over(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, 1);
    uint64_t refused = pxt_metric("pdnsx_alerts_refused_total{sink=\"kafka\"}");
    px_alert_sink *s = make(&c, "2000");
    offer(s, 1, 1, 0);
    offer(s, 2, 2, 5000);
    offer(s, 3, 3, 0);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 20000));
    assert_int_equal(px_alert_sink_next(s), 4);
    assert_int_equal(pxt_metric("pdnsx_alerts_refused_total{sink=\"kafka\"}"), refused + 1);
    uint64_t seqs[2];
    read_back(&c, seqs, 2);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 3);
    px_alert_sink_destroy(s);
    pxt_cluster_stop(&c);
}

/* The broker down: nothing is delivered, the cursor stays; up again:
 * everything arrives, once, in order. */
static void test_broker_down_then_up(void **state)
{
    (void)state;
    pxt_cluster c;
    pxt_cluster_start(&c, 1, TOPIC, 1);
    px_alert_sink *s = make(&c, NULL);
    offer(s, 1, 1, 0);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 20000));
    assert_int_equal(rd_kafka_mock_broker_set_down(c.mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    offer(s, 2, 4, 0);
    assert_false(px_alert_sink_drain(s, px_clock_mono_ms() + 1000));
    assert_int_equal(px_alert_sink_next(s), 2);
    assert_int_equal(rd_kafka_mock_broker_set_up(c.mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 25000));
    assert_int_equal(px_alert_sink_next(s), 5);
    uint64_t seqs[4];
    read_back(&c, seqs, 4);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(seqs[i], i + 1);
    px_alert_sink_destroy(s);
    pxt_cluster_stop(&c);
}

static void test_create_refused_property(void **state)
{
    (void)state;
    px_kafka_prop props[] = {{"no.such.property", "1"}};
    px_kafka_settings ks = {.brokers = "127.0.0.1:9", .props = props, .n_props = 1};
    px_alert_sink *s = (px_alert_sink *)1;
    char why[512] = "";
    assert_int_equal(px_alert_kafka_create(&ks, TOPIC, 1, &s, why, sizeof(why)), PX_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(why, "no.such.property"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyed_in_order_idempotent),
        cmocka_unit_test(test_refused_passed_over),
        cmocka_unit_test(test_broker_down_then_up),
        cmocka_unit_test(test_create_refused_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
