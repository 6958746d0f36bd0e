/* test_kafka_partition.c: px_kafka_partition_of puts a key where the Java
 * client puts it: Kafka's own test vectors of Utils.murmur2
 * (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java),
 * and toPositive(murmur2(key)) % partitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/px_kafka_partition.h"

/* Kafka's UtilsTest.testMurmur2: key -> Utils.murmur2(key) (a Java int). */
static const struct {
    const char *key;
    int32_t murmur2;
} java_vectors[] = {
    {"21", -973932308},
    {"foobar", -790332482},
    {"a-little-bit-long-string", -985981536},
    {"a-little-bit-longer-string", -1486304829},
    {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
    {"abc", 479470107},
};

/* With INT32_MAX partitions the partition is toPositive(murmur2) itself
 * (none of the vectors is INT32_MAX): the whole hash is compared. */
static void test_java_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(java_vectors) / sizeof(java_vectors[0]); i++) {
        const char *k = java_vectors[i].key;
        int32_t want = (int32_t)((uint32_t)java_vectors[i].murmur2 & 0x7fffffffu);
        assert_int_equal(px_kafka_partition_of(k, strlen(k), INT32_MAX), want);
    }
}

/* Registered domains as producers key them, by toPositive(murmur2) % n
 * worked out with the Java algorithm (tests/integration/pxtest.py). */
static void test_domains_mod_partitions(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int32_t p3, p4, p12;
    } v[] = {
        {"example.com", 0, 1, 9},
        {"shop1.com", 0, 2, 6},
        {"a", 1, 0, 4},
        {"xn--mnchen-3ya.de", 0, 3, 3},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = strlen(v[i].key);
        assert_int_equal(px_kafka_partition_of(v[i].key, len, 1), 0);
        assert_int_equal(px_kafka_partition_of(v[i].key, len, 3), v[i].p3);
        assert_int_equal(px_kafka_partition_of(v[i].key, len, 4), v[i].p4);
        assert_int_equal(px_kafka_partition_of(v[i].key, len, 12), v[i].p12);
    }
}

static void test_no_partitions(void **state)
{
    (void)state;
    assert_int_equal(px_kafka_partition_of("example.com", 11, 0), -1);
    assert_int_equal(px_kafka_partition_of("example.com", 11, -4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_vectors),
        cmocka_unit_test(test_domains_mod_partitions),
        cmocka_unit_test(test_no_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
