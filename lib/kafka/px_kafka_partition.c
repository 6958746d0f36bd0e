/* px_kafka_partition.c: librdkafka's own murmur2 partitioner, the one the
 * producer's murmur2_random uses for a non-empty key, so that routing and
 * producing cannot disagree. It reads neither the topic handle nor the
 * opaques (librdkafka 2.0, rdkafka_msg.c): NULL is passed for them. */
#include "kafka/px_kafka_partition.h"

#include <librdkafka/rdkafka.h>

int32_t px_kafka_partition_of(const void *key, size_t len, int32_t partitions)
{
    if (partitions < 1)
        return -1;
    return rd_kafka_msg_partitioner_murmur2(NULL, key, len, partitions, NULL, NULL);
}
