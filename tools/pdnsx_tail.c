/* pdnsx-tail: prints what producers published, for people and tests.
 *
 *   pdnsx-tail -b BROKERS -t TOPIC [-e] [--raw]
 *
 * Reads every partition of TOPIC from the beginning. Default output: one
 * JSON object per message with the key, partition and decoded observation.
 * --raw: "KEY<TAB>PARTITION<TAB>HEX" lines, for decoding with another Avro
 * implementation. -e: exit at the end of every partition. */
#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/px_avro.h"
#include "core/px_log.h"
#include "kafka/px_kafka.h"

static volatile sig_atomic_t px_tail_stop;

static void px_tail_on_signal(int sig)
{
    (void)sig;
    px_tail_stop = 1;
}

typedef struct px_tail_opts {
    const char *brokers, *topic;
    bool exit_at_end, raw;
} px_tail_opts;

static void px_tail_usage(FILE *out)
{
    fputs("Usage: pdnsx-tail -b BROKERS -t TOPIC [-e] [--raw]\n\n"
          "Prints a topic's pdnsx observations from the beginning, one JSON object a line.\n\n"
          "Options:\n"
          "  -b, --brokers LIST  bootstrap servers (default 127.0.0.1:9092)\n"
          "  -t, --topic NAME    topic to read from the beginning\n"
          "  -e, --exit          exit at the end of every partition\n"
          "      --raw           print KEY<TAB>PARTITION<TAB>HEX instead of decoding\n"
          "  -h, --help          show this help and exit\n"
          "  -V, --version       show the version and exit\n",
          out);
}

static int px_tail_args(int argc, char **argv, px_tail_opts *o)
{
    static const struct option longopts[] = {{"brokers", required_argument, 0, 'b'},
                                             {"topic", required_argument, 0, 't'},
                                             {"exit", no_argument, 0, 'e'},
                                             {"raw", no_argument, 0, 'r'},
                                             {"help", no_argument, 0, 'h'},
                                             {"version", no_argument, 0, 'V'},
                                             {0, 0, 0, 0}};
    o->brokers = "127.0.0.1:9092";
    int c;
    while ((c = getopt_long(argc, argv, "b:t:ehV", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->brokers = optarg;
            break;
        case 't':
            o->topic = optarg;
            break;
        case 'e':
            o->exit_at_end = true;
            break;
        case 'r':
            o->raw = true;
            break;
        case 'h':
            px_tail_usage(stdout);
            exit(0);
        case 'V':
            puts("pdnsx-tail " PX_VERSION);
            exit(0);
        default:
            px_tail_usage(stderr);
            return 2;
        }
    }
    if (!o->topic || optind != argc) {
        px_tail_usage(stderr);
        return 2;
    }
    return 0;
}

static px_kafka *px_tail_connect(const px_tail_opts *o)
{
    const px_kafka_prop ours[] = {
        {"bootstrap.servers", o->brokers},
        {"group.id", "pdnsx-tail"},
        {"enable.partition.eof", "true"},
        {"enable.auto.commit", "false"},
    };
    px_kafka_conf conf = {.type = RD_KAFKA_CONSUMER,
                          .ours = ours,
                          .n_ours = sizeof(ours) / sizeof(ours[0]),
                          .log = px_kafka_to_px_log};
    char why[512];
    px_kafka *k = NULL;
    if (px_kafka_create(&conf, &k, why, sizeof(why)) != PX_OK)
        px_error("%s", why);
    return k;
}

/* Assigns every partition of the topic from the beginning; returns how many. */
static int px_tail_assign(rd_kafka_t *rk, const char *topic)
{
    const rd_kafka_metadata_t *md;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e) {
        px_error("metadata for %s: %s", topic, rd_kafka_err2str(e));
        return -1;
    }
    int n = md->topic_cnt == 1 && !md->topics[0].err ? md->topics[0].partition_cnt : 0;
    if (n == 0)
        px_error("topic %s: %s", topic,
                 md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "not found");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    if (n > 0)
        rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    return n > 0 ? n : -1;
}

static void px_tail_print_raw(const rd_kafka_message_t *m)
{
    printf("%.*s\t%d\t", (int)m->key_len, m->key ? (const char *)m->key : "", m->partition);
    const uint8_t *v = m->payload;
    for (size_t i = 0; i < m->len; i++)
        printf("%02x", v[i]);
    putchar('\n');
}

static int px_tail_print_json(px_avro_codec *codec, const rd_kafka_message_t *m)
{
    px_avro_obs o;
    px_err e = px_avro_decode(codec, m->payload, m->len, &o);
    if (e != PX_OK) {
        px_warning("partition %d offset %lld: %s", m->partition, (long long)m->offset,
                   px_strerror(e));
        return -1;
    }
    json_t *j = json_pack("{s:s%, s:i, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:s}", "key",
                          m->key ? (const char *)m->key : "", m->key_len, "partition", m->partition,
                          "rrname", o.rrname, "rrtype", o.rrtype, "rdata", o.rdata, "count",
                          (json_int_t)o.count, "time_first", (json_int_t)o.time_first, "time_last",
                          (json_int_t)o.time_last, "ttl_min", (json_int_t)o.ttl_min, "ttl_max",
                          (json_int_t)o.ttl_max, "org", o.org, "sensor", o.sensor);
    json_object_set_new(j, "bailiwick", o.bailiwick ? json_string(o.bailiwick) : json_null());
    json_object_set_new(j, "clients", o.clients >= 0 ? json_integer(o.clients) : json_null());
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    puts(s);
    free(s);
    json_decref(j);
    return 0;
}

int main(int argc, char **argv)
{
    px_log_set_ident("pdnsx-tail");
    px_tail_opts o = {0};
    if (px_tail_args(argc, argv, &o))
        return 2;
    signal(SIGINT, px_tail_on_signal);
    signal(SIGTERM, px_tail_on_signal);
    px_avro_codec *codec = NULL;
    char why[512];
    if (px_avro_codec_create(&codec, why, sizeof(why)) != PX_OK)
        px_error("%s", why);
    px_kafka *k = codec ? px_tail_connect(&o) : NULL;
    rd_kafka_t *rk = k ? px_kafka_handle(k) : NULL;
    int parts = rk ? px_tail_assign(rk, o.topic) : -1;
    int status = parts > 0 ? 0 : 1, at_end = 0;
    while (parts > 0 && !px_tail_stop && !(o.exit_at_end && at_end >= parts)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            at_end++;
        else if (m->err) {
            px_error("%s", rd_kafka_message_errstr(m));
            status = 1;
        } else if (o.raw)
            px_tail_print_raw(m);
        else if (px_tail_print_json(codec, m) < 0)
            status = 1;
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    if (rk)
        rd_kafka_consumer_close(rk);
    px_kafka_destroy(k);
    px_avro_codec_destroy(codec);
    return status;
}
