/* mock_cluster.c: see mock_cluster.h. */
#include "mock_cluster.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

void pxt_cluster_start(pxt_cluster *c, int n_brokers, const char *topic, int partitions)
{
    char err[256];
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof(err));
    assert_non_null(c->rk);
    c->mc = rd_kafka_mock_cluster_new(c->rk, n_brokers);
    assert_non_null(c->mc);
    snprintf(c->brokers, sizeof(c->brokers), "%s", rd_kafka_mock_cluster_bootstraps(c->mc));
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, topic, partitions, 1), 0);
}

void pxt_cluster_stop(pxt_cluster *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->rk);
}
