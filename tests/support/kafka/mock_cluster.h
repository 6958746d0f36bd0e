/* mock_cluster.h: librdkafka's mock cluster (a Kafka-protocol broker in
 * this process) for the tests of Kafka clients. Test support: failures
 * are cmocka assertions. */
#ifndef PXT_MOCK_CLUSTER_H
#define PXT_MOCK_CLUSTER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

typedef struct pxt_cluster {
    rd_kafka_t *rk; /* the handle the cluster lives in */
    rd_kafka_mock_cluster_t *mc;
    char brokers[256]; /* its bootstrap list */
} pxt_cluster;

/* Starts a cluster of n_brokers with `topic` of `partitions` partitions
 * (replication factor 1). */
void pxt_cluster_start(pxt_cluster *c, int n_brokers, const char *topic, int partitions);
void pxt_cluster_stop(pxt_cluster *c);

#endif
