/* test_kafka_statistics: librdkafka's statistics JSON as gauges on
 * /metrics: a document's fields in their series, series of brokers and
 * partitions gone left out, a bad document changing nothing, and a real
 * handle against librdkafka's mock cluster exporting its broker's state
 * and round-trip time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "metrics_read.h"
#include "core/px_metrics.h"
#include "kafka/px_kafka.h"
#include "kafka/px_kafka_statistics.h"
#include "mock_cluster.h"

#define TOPIC "pdnsx.kafka.stats"

static px_err apply(px_kafka_statistics *s, const char *json)
{
    return px_kafka_statistics_apply(s, json, strlen(json));
}

/* Trimmed from a document librdkafka 2.0 wrote for a consumer: one
 * learned broker, its bootstrap twin (no node id), a fetched partition,
 * a known one not fetched and the unassigned-partition entry (-1). */
static const char doc1[] =
    "{\"name\":\"c#consumer-1\",\"client_id\":\"c\",\"type\":\"consumer\",\"replyq\":3,"
    "\"msg_cnt\":17,\"msg_size\":4096,"
    "\"brokers\":{"
    " \"127.0.0.1:9092/bootstrap\":{\"name\":\"127.0.0.1:9092/bootstrap\",\"nodeid\":-1,"
    "  \"state\":\"UP\",\"outbuf_cnt\":9,\"waitresp_cnt\":9,\"rtt\":{\"cnt\":1,\"avg\":9}},"
    " \"127.0.0.1:9092/1\":{\"name\":\"127.0.0.1:9092/1\",\"nodeid\":1,\"state\":\"UP\","
    "  \"outbuf_cnt\":2,\"waitresp_cnt\":1,"
    "  \"rtt\":{\"min\":100,\"max\":900,\"avg\":350,\"p99\":880,\"cnt\":12}}},"
    "\"topics\":{\"pdnsx.obs.a\":{\"topic\":\"pdnsx.obs.a\",\"partitions\":{"
    " \"0\":{\"partition\":0,\"fetch_state\":\"active\",\"fetchq_cnt\":250,\"fetchq_size\":80000},"
    " \"1\":{\"partition\":1,\"fetch_state\":\"none\",\"fetchq_cnt\":0,\"fetchq_size\":0},"
    " \"-1\":{\"partition\":-1,\"fetch_state\":\"none\",\"fetchq_cnt\":0,\"fetchq_size\":0}}}}}";

#define B "client=\"c#consumer-1\",broker=\"127.0.0.1:9092/1\""
#define P0 "client=\"c#consumer-1\",topic=\"pdnsx.obs.a\",partition=\"0\""

static void test_document_to_gauges(void **state)
{
    (void)state;
    px_kafka_statistics *s = px_kafka_statistics_create();
    assert_non_null(s);
    /* the families are on /metrics before any document */
    char *text = pxt_metrics_text();
    assert_non_null(strstr(text, "# TYPE pdnsx_kafka_broker_rtt_avg_microseconds gauge\n"));
    assert_non_null(strstr(text, "# TYPE pdnsx_kafka_partition_fetchq_messages gauge\n"));
    assert_null(strstr(text, "pdnsx_kafka_broker_up{"));
    free(text);

    assert_int_equal(apply(s, doc1), PX_OK);
    assert_int_equal(pxt_metric("pdnsx_kafka_queue_messages{client=\"c#consumer-1\"}"), 17);
    assert_int_equal(pxt_metric("pdnsx_kafka_queue_bytes{client=\"c#consumer-1\"}"), 4096);
    assert_int_equal(pxt_metric("pdnsx_kafka_reply_queue{client=\"c#consumer-1\"}"), 3);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_up{" B "}"), 1);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_outbuf_requests{" B "}"), 2);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_waitresp_requests{" B "}"), 1);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_rtt_avg_microseconds{" B "}"), 350);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_rtt_p99_microseconds{" B "}"), 880);
    assert_int_equal(pxt_metric("pdnsx_kafka_partition_fetchq_messages{" P0 "}"), 250);
    assert_int_equal(pxt_metric("pdnsx_kafka_partition_fetchq_bytes{" P0 "}"), 80000);
    text = pxt_metrics_text();
    /* the bootstrap twin, a partition not fetched and the -1 entry: none */
    assert_null(strstr(text, "bootstrap"));
    assert_null(strstr(text, "partition=\"1\""));
    assert_null(strstr(text, "partition=\"-1\""));
    free(text);

    /* The broker goes down and answers nothing in the interval; the
     * partition is no longer fetched (revoked). */
    const char doc2[] =
        "{\"name\":\"c#consumer-1\",\"msg_cnt\":0,\"brokers\":{\"127.0.0.1:9092/1\":{"
        "\"name\":\"127.0.0.1:9092/1\",\"nodeid\":1,\"state\":\"DOWN\",\"outbuf_cnt\":5,"
        "\"waitresp_cnt\":0,\"rtt\":{\"avg\":0,\"p99\":0,\"cnt\":0}}},"
        "\"topics\":{\"pdnsx.obs.a\":{\"partitions\":{\"0\":{\"partition\":0,"
        "\"fetch_state\":\"none\",\"fetchq_cnt\":0}}}}}";
    assert_int_equal(apply(s, doc2), PX_OK);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_up{" B "}"), 0);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_outbuf_requests{" B "}"), 5);
    text = pxt_metrics_text();
    assert_non_null(strstr(text, "\npdnsx_kafka_broker_up{" B "} 0\n"));
    assert_non_null(strstr(text, "\npdnsx_kafka_queue_messages{client=\"c#consumer-1\"} 0\n"));
    /* no round trip in the interval: no figure, not a 0 us one */
    assert_null(strstr(text, "pdnsx_kafka_broker_rtt_avg_microseconds{"));
    assert_null(strstr(text, "pdnsx_kafka_partition_fetchq_messages{"));
    /* not in doc2 at all */
    assert_null(strstr(text, "pdnsx_kafka_queue_bytes{"));
    free(text);

    /* back again */
    assert_int_equal(apply(s, doc1), PX_OK);
    assert_int_equal(pxt_metric("pdnsx_kafka_partition_fetchq_messages{" P0 "}"), 250);
    px_kafka_statistics_destroy(s);
    px_kafka_statistics_destroy(NULL);
}

static void test_bad_documents_change_nothing(void **state)
{
    (void)state;
    px_kafka_statistics *s = px_kafka_statistics_create();
    assert_non_null(s);
    assert_int_equal(apply(s, doc1), PX_OK);
    const char *bad[] = {"",
                         "{",
                         "[1,2]",
                         "42",
                         "{\"name\":7}",
                         "{\"msg_cnt\":1}",
                         "{\"name\":\"c#consumer-1\",\"msg_cnt\":1,\"msg_cnt\":2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(apply(s, bad[i]), PX_ERR_MALFORMED);
    assert_int_equal(px_kafka_statistics_apply(s, doc1, PX_KAFKA_STATISTICS_MAX + 1),
                     PX_ERR_TOOLONG);
    assert_int_equal(pxt_metric("pdnsx_kafka_queue_messages{client=\"c#consumer-1\"}"), 17);
    assert_int_equal(pxt_metric("pdnsx_kafka_broker_rtt_avg_microseconds{" B "}"), 350);

    /* odd types leave their series out; quotes in a name are escaped */
    assert_int_equal(apply(s, "{\"name\":\"a\\\"b\",\"msg_cnt\":\"many\",\"replyq\":1,"
                              "\"brokers\":[1],\"topics\":{\"t\":{\"partitions\":7}}}"),
                     PX_OK);
    assert_int_equal(pxt_metric("pdnsx_kafka_reply_queue{client=\"a\\\"b\"}"), 1);
    char *text = pxt_metrics_text();
    assert_null(strstr(text, "pdnsx_kafka_queue_messages{client=\"a"));
    free(text);
    px_kafka_statistics_destroy(s);
}

/* A real handle: kafka.statistics_interval_ms turns librdkafka's
 * statistics on, and its broker shows up with a round-trip time. */
static void test_handle_exports_statistics(void **state)
{
    (void)state;
    pxt_cluster cl;
    pxt_cluster_start(&cl, 1, TOPIC, 2);
    px_kafka_settings set = {.brokers = cl.brokers, .statistics_interval_ms = 100};
    const px_kafka_prop ours[] = {{"client.id", "stats-test"}, {"linger.ms", "5"}};
    px_kafka_conf c = {.type = RD_KAFKA_PRODUCER, .ours = ours, .n_ours = 2, .settings = &set};
    px_kafka *k = NULL;
    char why[256] = "";
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_OK);
    char v[32];
    size_t vlen = sizeof(v);
    assert_int_equal(
        rd_kafka_conf_get(rd_kafka_conf(px_kafka_handle(k)), "statistics.interval.ms", v, &vlen),
        RD_KAFKA_CONF_OK);
    assert_string_equal(v, "100");
    rd_kafka_t *rk = px_kafka_handle(k);
    for (int i = 0; i < 10; i++)
        assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_VALUE("x", 1),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    char up[256];
    snprintf(up, sizeof(up), "pdnsx_kafka_broker_up{client=\"%s\",broker=\"", rd_kafka_name(rk));
    /* up to 10 s for a document that saw a round trip */
    bool seen = false;
    for (int i = 0; i < 200 && !seen; i++) {
        rd_kafka_poll(rk, 50);
        char *text = pxt_metrics_text();
        seen = strstr(text, up) && strstr(text, "pdnsx_kafka_broker_rtt_avg_microseconds{client");
        free(text);
    }
    assert_true(seen);
    assert_true(pxt_metric_sum("pdnsx_kafka_broker_up") >= 1);
    px_kafka_destroy(k);

    /* the operator's kafka.properties may not set the property itself */
    px_kafka_prop ops[] = {{"statistics.interval.ms", "5"}};
    set.props = ops;
    set.n_props = 1;
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "kafka.statistics_interval_ms"));
    pxt_cluster_stop(&cl);
}

static void test_setting_default(void **state)
{
    (void)state;
    static const px_conf_item table[] = {{.include = px_conf_kafka_items}, {.path = NULL}};
    px_config *cfg = px_config_create(table);
    assert_non_null(cfg);
    px_kafka_settings s;
    assert_int_equal(px_kafka_settings_load(cfg, &s), PX_OK);
    assert_int_equal(s.statistics_interval_ms, 10000);
    px_kafka_settings_free(&s);
    assert_int_equal(px_config_set(cfg, "kafka.statistics_interval_ms=0"), PX_OK);
    assert_int_equal(px_kafka_settings_load(cfg, &s), PX_OK);
    assert_int_equal(s.statistics_interval_ms, 0);
    px_kafka_settings_free(&s);
    px_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_to_gauges),
        cmocka_unit_test(test_bad_documents_change_nothing),
        cmocka_unit_test(test_handle_exports_statistics),
        cmocka_unit_test(test_setting_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
