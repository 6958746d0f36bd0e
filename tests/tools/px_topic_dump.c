/* px-topic-dump BROKERS TOPIC: prints every message of TOPIC, from the
 * beginning to the end of each partition, as one JSON object per line,
 * bytes in hex so that nothing is lost in the way (kcat's formats cannot
 * show binary values and headers unambiguously):
 *
 *   {"partition":0,"offset":3,"key":"6a756e6b","value":"c301...",
 *    "headers":[["706478...","..."],...]}
 *
 * key, value and a header value are null when they are. For the
 * integration tests (the dead-letter topic, read back byte for byte).
 * Exit 0, or 1 if the topic cannot be read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static void hex(const void *p, size_t n)
{
    if (!p) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (size_t i = 0; i < n; i++)
        printf("%02x", ((const unsigned char *)p)[i]);
    putchar('"');
}

static void print(const rd_kafka_message_t *m)
{
    printf("{\"partition\":%d,\"offset\":%lld,\"key\":", (int)m->partition, (long long)m->offset);
    hex(m->key, m->key_len);
    fputs(",\"value\":", stdout);
    hex(m->payload, m->len);
    fputs(",\"headers\":[", stdout);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers((rd_kafka_message_t *)m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const char *name;
        const void *val;
        size_t len;
        for (size_t i = 0; rd_kafka_header_get_all(h, i, &name, &val, &len) == 0; i++) {
            fputs(i ? ",[" : "[", stdout);
            hex(name, strlen(name));
            putchar(',');
            hex(val, len);
            putchar(']');
        }
    }
    puts("]}");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: px-topic-dump BROKERS TOPIC\n", stderr);
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "group.id", "px-topic-dump", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "receive.message.max.bytes", "200000000", err, sizeof(err))) {
        fprintf(stderr, "px-topic-dump: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "px-topic-dump: %s\n", err);
        return 1;
    }
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, argv[2], NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    int n = 0, status = 1;
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
        for (int i = 0; i < n; i++)
            rd_kafka_topic_partition_list_add(l, argv[2], md->topics[0].partitions[i].id)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        if (n > 0)
            rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
    if (n == 0)
        fprintf(stderr, "px-topic-dump: topic %s: no partitions (%s)\n", argv[2],
                rd_kafka_err2str(e));
    else
        status = 0;
    /* Every partition reports its end once; 120 s bound the whole read. */
    time_t deadline = time(NULL) + 120;
    int at_end = 0;
    while (n > 0 && at_end < n) {
        if (time(NULL) > deadline) {
            fprintf(stderr, "px-topic-dump: %d of %d partitions not read to the end\n", n - at_end,
                    n);
            status = 1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end++;
        } else if (m->err) {
            fprintf(stderr, "px-topic-dump: %s\n", rd_kafka_message_errstr(m));
            status = 1;
        } else {
            print(m);
        }
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return status;
}
