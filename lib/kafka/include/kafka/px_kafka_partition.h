/* px_kafka_partition.h: where a keyed message goes, as the Java client
 * puts it. Producers key every observation by its registered domain and
 * partition with librdkafka's murmur2_random, the Java client's default
 * partitioner (murmur2 of the key, sign bit cleared, mod the partition
 * count); query routing (pdnsx-query --cluster, the query endpoint's
 * ownership) asks the same function which partition, and so which
 * consumer, holds a domain (docs/ARCHITECTURE.md, "Partitioning"). */
#ifndef PX_KAFKA_PARTITION_H
#define PX_KAFKA_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* The partition of key[0..len) among partitions (> 0): what
 * murmur2_random gives for a non-empty key. -1 when partitions < 1. */
int32_t px_kafka_partition_of(const void *key, size_t len, int32_t partitions);

#endif
