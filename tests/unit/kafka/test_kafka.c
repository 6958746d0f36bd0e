/* test_kafka.c: the librdkafka handle every Kafka client of pdnsx makes,
 * against librdkafka's mock cluster (a Kafka-protocol broker in this
 * process): property order, refused properties with librdkafka's text,
 * log levels, delivery accounting, the fatal error. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "metrics_read.h"
#include "core/px_metrics.h"
#include "kafka/px_kafka.h"
#include "mock_cluster.h"

#define TOPIC "pdnsx.kafka.test"

/* What the callbacks saw (librdkafka calls them from its threads). */
typedef struct seen {
    pthread_mutex_t lock;
    int lines[PX_LOG_DEBUG + 1];
    char last[PX_LOG_DEBUG + 1][512];
    int fatal;
    char fatal_why[512];
    int reports, failed_reports;
    bool keep_failed;
} seen;

static void seen_init(seen *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

static void on_log(void *ctx, px_log_level level, const char *msg)
{
    seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->lines[level]++;
    snprintf(s->last[level], sizeof(s->last[level]), "%s", msg);
    pthread_mutex_unlock(&s->lock);
}

static void on_fatal(void *ctx, const char *why)
{
    seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->fatal++;
    snprintf(s->fatal_why, sizeof(s->fatal_why), "%s", why);
    pthread_mutex_unlock(&s->lock);
}

static bool on_delivery(void *ctx, const rd_kafka_message_t *m)
{
    seen *s = ctx;
    pthread_mutex_lock(&s->lock);
    s->reports++;
    if (m->err)
        s->failed_reports++;
    bool keep = s->keep_failed && m->err && s->failed_reports % 2 == 0;
    pthread_mutex_unlock(&s->lock);
    return keep;
}

/* The two tests against a cluster share it and a fresh seen. */
typedef struct fixture {
    pxt_cluster cl;
    seen s;
} fixture;

static int cluster_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    pxt_cluster_start(&f->cl, 1, TOPIC, 1);
    seen_init(&f->s);
    *state = f;
    return 0;
}

static int cluster_teardown(void **state)
{
    fixture *f = *state;
    pxt_cluster_stop(&f->cl);
    free(f);
    return 0;
}

static int seen_count(seen *s, px_log_level level)
{
    pthread_mutex_lock(&s->lock);
    int n = s->lines[level];
    pthread_mutex_unlock(&s->lock);
    return n;
}

static void conf_value(px_kafka *k, const char *name, char *buf, size_t len)
{
    assert_int_equal(rd_kafka_conf_get(rd_kafka_conf(px_kafka_handle(k)), name, buf, &len),
                     RD_KAFKA_CONF_OK);
}

static void test_ours_then_operator(void **state)
{
    (void)state;
    const px_kafka_prop ours[] = {{"linger.ms", "100"}, {"client.id", "pdnsx-test"}};
    px_kafka_prop ops[] = {{"linger.ms", "7"}, {"bootstrap.servers", "127.0.0.2:9093"}};
    px_kafka_settings s = {.brokers = "127.0.0.1:9092", .props = ops, .n_props = 2};
    px_kafka_conf c = {.type = RD_KAFKA_PRODUCER, .ours = ours, .n_ours = 2, .settings = &s};
    px_kafka *k = NULL;
    char why[256] = "";
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_OK);
    char v[128];
    conf_value(k, "linger.ms", v, sizeof(v));
    assert_string_equal(v, "7"); /* the operator wins over ours */
    conf_value(k, "client.id", v, sizeof(v));
    assert_string_equal(v, "pdnsx-test"); /* ours where the operator is silent */
    conf_value(k, "bootstrap.servers", v, sizeof(v));
    assert_string_equal(v, "127.0.0.2:9093"); /* kafka.properties after kafka.brokers */
    px_kafka_destroy(k);

    s.n_props = 0;
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_OK);
    conf_value(k, "bootstrap.servers", v, sizeof(v));
    assert_string_equal(v, "127.0.0.1:9092");
    conf_value(k, "linger.ms", v, sizeof(v));
    assert_string_equal(v, "100");
    px_kafka_destroy(k);
    px_kafka_destroy(NULL);
}

static void test_unknown_property_fails_with_librdkafkas_text(void **state)
{
    (void)state;
    char text[512] = "";
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    assert_int_not_equal(rd_kafka_conf_set(scratch, "no.such.property", "1", text, sizeof(text)),
                         RD_KAFKA_CONF_OK);
    rd_kafka_conf_destroy(scratch);
    assert_true(text[0] != '\0');

    px_kafka_prop ops[] = {{"linger.ms", "5"}, {"no.such.property", "1"}};
    px_kafka_settings s = {.brokers = "127.0.0.1:9092", .props = ops, .n_props = 2};
    px_kafka_conf c = {.type = RD_KAFKA_CONSUMER, .settings = &s};
    px_kafka *k = (px_kafka *)&s; /* must be reset */
    char why[512] = "";
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_ERR_CONFIG);
    assert_null(k);
    assert_non_null(strstr(why, text));
    assert_non_null(strstr(why, "kafka.properties"));

    /* A value librdkafka refuses, also with its text. */
    ops[1] = (px_kafka_prop){"linger.ms", "not-a-number"};
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "linger.ms"));

    /* A property one of our settings owns names the setting. */
    ops[1] = (px_kafka_prop){"fetch.max.bytes", "1000"};
    const px_kafka_prop reserved[] = {{"fetch.max.bytes", "kafka.fetch_max_kbytes"}};
    c.reserved = reserved;
    c.n_reserved = 1;
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "fetch.max.bytes"));
    assert_non_null(strstr(why, "kafka.fetch_max_kbytes"));
    assert_int_equal(px_kafka_create(&c, &k, NULL, 0), PX_ERR_CONFIG);
}

static void test_log_levels_mapped(void **state)
{
    (void)state;
    assert_int_equal(px_kafka_log_level(0), PX_LOG_ERROR);
    assert_int_equal(px_kafka_log_level(3), PX_LOG_ERROR);
    assert_int_equal(px_kafka_log_level(4), PX_LOG_WARNING);
    assert_int_equal(px_kafka_log_level(5), PX_LOG_INFO);
    assert_int_equal(px_kafka_log_level(6), PX_LOG_INFO);
    assert_int_equal(px_kafka_log_level(7), PX_LOG_DEBUG);

    /* librdkafka's own lines reach the logger: its debug output at debug,
     * an unreachable broker as a warning from the error callback. */
    seen s;
    seen_init(&s);
    const px_kafka_prop ours[] = {{"debug", "generic"}, {"bootstrap.servers", "127.0.0.1:1"}};
    px_kafka_conf c = {
        .type = RD_KAFKA_PRODUCER, .ours = ours, .n_ours = 2, .log = on_log, .ctx = &s};
    px_kafka *k = NULL;
    assert_int_equal(px_kafka_create(&c, &k, NULL, 0), PX_OK);
    for (int i = 0;
         i < 300 && (seen_count(&s, PX_LOG_DEBUG) == 0 || seen_count(&s, PX_LOG_WARNING) == 0); i++)
        rd_kafka_poll(px_kafka_handle(k), 50);
    px_kafka_destroy(k);
    assert_true(s.lines[PX_LOG_DEBUG] > 0);
    assert_true(strncmp(s.last[PX_LOG_DEBUG], "librdkafka ", 11) == 0);
    assert_true(s.lines[PX_LOG_WARNING] > 0);
    assert_true(strncmp(s.last[PX_LOG_WARNING], "Kafka: ", 7) == 0);
    assert_int_equal(s.fatal, 0);
}

static void produce_n(px_kafka *k, int n)
{
    rd_kafka_t *rk = px_kafka_handle(k);
    for (int i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), "msg-%d", i);
        assert_int_equal(
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_VALUE(v, (size_t)len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}

static void test_delivery_counted(void **state)
{
    fixture *f = *state;
    seen *s = &f->s;
    px_kafka_settings set = {.brokers = f->cl.brokers};
    /* The timeout bounds the broker-down phase below; long enough that the
     * first 20 are delivered on a loaded machine (500 ms failed once). */
    const px_kafka_prop ours[] = {{"linger.ms", "5"}, {"message.timeout.ms", "3000"}};
    px_kafka_conf c = {.type = RD_KAFKA_PRODUCER,
                       .ours = ours,
                       .n_ours = 2,
                       .settings = &set,
                       .delivery = on_delivery,
                       .ctx = s,
                       .delivered_metric = "pdnsx_test_kafka_delivered_total",
                       .delivered_help = "test",
                       .failed_metric = "pdnsx_test_kafka_failed_total",
                       .failed_help = "test"};
    px_kafka *k = NULL;
    char why[256] = "";
    assert_int_equal(px_kafka_create(&c, &k, why, sizeof(why)), PX_OK);
    produce_n(k, 20);
    assert_int_equal(rd_kafka_flush(px_kafka_handle(k), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    px_kafka_stats st;
    px_kafka_get_stats(k, &st);
    assert_int_equal(st.delivered, 20);
    assert_int_equal(st.failed, 0);
    assert_int_equal(s->reports, 20);
    assert_int_equal(pxt_metric("pdnsx_test_kafka_delivered_total"), 20);

    /* Broker down: every message times out; the ones the callback keeps
     * (every second one) are not lost. */
    s->keep_failed = true;
    rd_kafka_mock_broker_set_down(f->cl.mc, 1);
    produce_n(k, 10);
    rd_kafka_flush(px_kafka_handle(k), 15000);
    px_kafka_get_stats(k, &st);
    assert_int_equal(s->failed_reports, 10);
    assert_int_equal(st.delivered, 20);
    assert_int_equal(st.failed, 5);
    px_kafka_lost(k, 2);
    px_kafka_get_stats(k, &st);
    assert_int_equal(st.failed, 7);
    assert_int_equal(pxt_metric("pdnsx_test_kafka_failed_total"), 7);
    assert_int_equal(s->fatal, 0);
    px_kafka_destroy(k);
}

static void test_fatal_error_reported(void **state)
{
    fixture *f = *state;
    seen *s = &f->s;
    px_kafka_settings set = {.brokers = f->cl.brokers};
    const px_kafka_prop ours[] = {{"enable.idempotence", "true"}};
    px_kafka_conf c = {.type = RD_KAFKA_PRODUCER,
                       .ours = ours,
                       .n_ours = 1,
                       .settings = &set,
                       .log = on_log,
                       .fatal = on_fatal,
                       .ctx = s};
    px_kafka *k = NULL;
    assert_int_equal(px_kafka_create(&c, &k, NULL, 0), PX_OK);
    assert_int_equal(s->fatal, 0);
    assert_int_equal(rd_kafka_test_fatal_error(px_kafka_handle(k),
                                               RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                               "sequence broken by the test"),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < 200 && !s->fatal; i++)
        rd_kafka_poll(px_kafka_handle(k), 50);
    assert_true(s->fatal > 0);
    rd_kafka_poll(px_kafka_handle(k), 0);
    assert_int_equal(s->fatal, 1);
    assert_non_null(strstr(s->fatal_why, "sequence broken by the test"));
    assert_true(s->lines[PX_LOG_ERROR] >= 1);
    assert_non_null(strstr(s->last[PX_LOG_ERROR], "Kafka: fatal: "));
    px_kafka_destroy(k);
}

static void test_settings_from_config(void **state)
{
    (void)state;
    /* the rows every Kafka program's table includes */
    static const px_conf_item table[] = {
        {.include = px_conf_kafka_items},
        {.path = NULL},
    };
    px_config *cfg = px_config_create(table);
    assert_non_null(cfg);
    assert_int_equal(px_config_set(cfg, "kafka.properties.linger.ms=9"), PX_OK);
    assert_int_equal(px_config_set(cfg, "kafka.properties.client.id=\"x\""), PX_OK);
    px_kafka_settings s;
    assert_int_equal(px_kafka_settings_load(cfg, &s), PX_OK);
    assert_string_equal(s.brokers, "127.0.0.1:9092");
    assert_int_equal(s.n_props, 2);
    assert_string_equal(s.props[0].key, "linger.ms");
    assert_string_equal(s.props[0].value, "9");
    assert_string_equal(s.props[1].key, "client.id");
    assert_string_equal(s.props[1].value, "x");
    px_kafka_settings_free(&s);
    px_kafka_settings_free(&s);
    px_kafka_settings_free(NULL);
    px_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ours_then_operator),
        cmocka_unit_test(test_unknown_property_fails_with_librdkafkas_text),
        cmocka_unit_test(test_log_levels_mapped),
        cmocka_unit_test_setup_teardown(test_delivery_counted, cluster_setup, cluster_teardown),
        cmocka_unit_test_setup_teardown(test_fatal_error_reported, cluster_setup, cluster_teardown),
        cmocka_unit_test(test_settings_from_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
