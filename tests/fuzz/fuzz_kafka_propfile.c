/* fuzz_kafka_propfile: the kafka.properties_file parser on any bytes. Every
 * property it keeps has a non-empty key of [A-Za-z0-9._-] and no blank at
 * either end of its value, and every problem names the file and a line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/px_kafka_propfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_kafka_propfile *f = px_kafka_propfile_parse((const char *)data, size, "f");
    if (!f)
        return 0;
    size_t n;
    const px_kafka_prop *p = px_kafka_propfile_props(f, &n);
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(p[i].key), vl = strlen(p[i].value);
        if (kl == 0 || strspn(p[i].key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789._-") != kl)
            abort();
        if (vl && (p[i].value[0] == ' ' || p[i].value[vl - 1] == ' '))
            abort();
        if (px_kafka_propfile_line(f, i) == 0)
            abort();
    }
    for (size_t i = 0; i < px_kafka_propfile_problem_count(f); i++)
        if (strncmp(px_kafka_propfile_problem(f, i), "f:", 2) != 0)
            abort();
    px_kafka_propfile_destroy(f);
    return 0;
}
