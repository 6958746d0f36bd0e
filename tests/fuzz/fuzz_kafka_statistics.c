/* fuzz_kafka_statistics: librdkafka's statistics JSON into gauges. */
#include <stddef.h>
#include <stdint.h>

#include "kafka/px_kafka_statistics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static px_kafka_statistics *s;
    if (!s)
        s = px_kafka_statistics_create();
    if (s)
        px_kafka_statistics_apply(s, (const char *)data, size);
    return 0;
}
