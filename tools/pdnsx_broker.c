/* pdnsx-broker: librdkafka's mock Kafka cluster on loopback, for development
 * and tests only (docs/INTERFACE.md "pdnsx-broker and pdnsx-tail"). Prints
 * the bootstrap list as the first line of stdout, then waits for
 * SIGTERM/SIGINT and exits 0.
 *
 * librdkafka 2.0.2's mock API binds every broker to 127.0.0.1 on a port the
 * kernel picks; it has no way to choose the port, so there is no --port. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/px_log.h"
#include "kafka/px_kafka.h"

#define BRK_MAX_BROKERS 16
#define BRK_MAX_PARTITIONS 10000
#define BRK_MAX_TOPICS 64
#define BRK_TOPIC_NAME_MAX 249 /* Kafka's own limit */

typedef struct brk_topic {
    char name[BRK_TOPIC_NAME_MAX + 1];
    int partitions;
} brk_topic;

typedef struct brk_opts {
    int brokers;
    int ntopics;
    brk_topic topics[BRK_MAX_TOPICS];
} brk_opts;

static const char brk_usage[] = "Usage: pdnsx-broker [--brokers N] [--topic NAME:PARTITIONS]...\n";

static void brk_help(void)
{
    fputs(brk_usage, stdout);
    fputs("\nStarts librdkafka's mock Kafka cluster on loopback (development and tests\n"
          "only), prints its bootstrap list as the first line of standard output and\n"
          "runs until SIGTERM or SIGINT.\n\n"
          "Options:\n"
          "  -b, --brokers N              number of mock brokers (1-16, default 1)\n"
          "  -t, --topic NAME:PARTITIONS  create a topic (repeatable)\n"
          "  -l, --log-level LEVEL        error, warning, info (default), debug\n"
          "  -h, --help                   show this help\n"
          "  -V, --version                show the version\n",
          stdout);
}

/* Parses a decimal int in [lo, hi]; the whole string must be the number. */
static int brk_parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Kafka topic names: 1-249 of [A-Za-z0-9._-], and not "." or "..". */
static int brk_topic_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > BRK_TOPIC_NAME_MAX)
        return 0;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return 1;
}

static int brk_add_topic(brk_opts *o, const char *arg)
{
    const char *colon = strrchr(arg, ':');
    if (!colon) {
        fprintf(stderr, "pdnsx-broker: --topic wants NAME:PARTITIONS, got '%s'\n", arg);
        return -1;
    }
    size_t len = (size_t)(colon - arg);
    if (!brk_topic_name_ok(arg, len)) {
        fprintf(stderr, "pdnsx-broker: bad topic name in '%s'\n", arg);
        return -1;
    }
    int parts;
    if (brk_parse_int(colon + 1, 1, BRK_MAX_PARTITIONS, &parts) < 0) {
        fprintf(stderr, "pdnsx-broker: partitions must be 1-%d in '%s'\n", BRK_MAX_PARTITIONS, arg);
        return -1;
    }
    if (o->ntopics == BRK_MAX_TOPICS) {
        fprintf(stderr, "pdnsx-broker: at most %d topics\n", BRK_MAX_TOPICS);
        return -1;
    }
    brk_topic *t = &o->topics[o->ntopics++];
    memcpy(t->name, arg, len);
    t->name[len] = '\0';
    t->partitions = parts;
    return 0;
}

/* Returns -1 to go on, or the exit status to exit with now. */
static int brk_parse(int argc, char **argv, brk_opts *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},   {"topic", required_argument, NULL, 't'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    o->brokers = 1;
    o->ntopics = 0;
    int c;
    while ((c = getopt_long(argc, argv, "b:t:l:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (brk_parse_int(optarg, 1, BRK_MAX_BROKERS, &o->brokers) < 0) {
                fprintf(stderr, "pdnsx-broker: --brokers must be 1-%d\n", BRK_MAX_BROKERS);
                return 2;
            }
            break;
        case 't':
            if (brk_add_topic(o, optarg) < 0)
                return 2;
            break;
        case 'l': {
            int level = px_log_level_parse(optarg);
            if (level < 0) {
                fprintf(stderr, "pdnsx-broker: unknown log level '%s'\n", optarg);
                return 2;
            }
            px_log_set_level((px_log_level)level);
            break;
        }
        case 'h':
            brk_help();
            return 0;
        case 'V':
            printf("pdnsx-broker %s (librdkafka %s)\n", PX_VERSION, rd_kafka_version_str());
            return 0;
        default:
            fputs(brk_usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pdnsx-broker: unexpected argument '%s'\n", argv[optind]);
        fputs(brk_usage, stderr);
        return 2;
    }
    return -1;
}

/* The mock cluster needs a client handle to live in; it never connects.
 * Its own log lines go to our log. */
static px_kafka *brk_handle_create(void)
{
    char why[512];
    px_kafka_conf conf = {.type = RD_KAFKA_PRODUCER, .log = px_kafka_to_px_log};
    px_kafka *k = NULL;
    if (px_kafka_create(&conf, &k, why, sizeof(why)) != PX_OK)
        px_error("cannot create the librdkafka handle: %s", why);
    return k;
}

static int brk_run(const brk_opts *o, const sigset_t *stop)
{
    px_kafka *k = brk_handle_create();
    if (!k)
        return 1;
    int status = 1;
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(px_kafka_handle(k), o->brokers);
    if (!mc) {
        px_error("cannot start the mock cluster");
        goto out;
    }
    int rf = o->brokers < 3 ? o->brokers : 3;
    for (int i = 0; i < o->ntopics; i++) {
        const brk_topic *t = &o->topics[i];
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, t->name, t->partitions, rf);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            px_error("cannot create topic %s: %s", t->name, rd_kafka_err2str(e));
            goto out;
        }
        px_info("topic %s: %d partitions, replication factor %d", t->name, t->partitions, rf);
    }
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    /* The first line of stdout is the contract scripts read; flush it now. */
    if (printf("%s\n", boot) < 0 || fflush(stdout) != 0) {
        px_error("cannot write the bootstrap list: %s", strerror(errno));
        goto out;
    }
    px_info("mock cluster of %d broker(s) at %s", o->brokers, boot);

    int sig = 0;
    if (sigwait(stop, &sig) != 0) {
        px_error("sigwait failed");
        goto out;
    }
    px_info("signal %d, shutting down", sig);
    status = 0;
out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    px_kafka_destroy(k);
    return status;
}

int main(int argc, char **argv)
{
    px_log_set_ident("pdnsx-broker");
    brk_opts opts;
    int rc = brk_parse(argc, argv, &opts);
    if (rc >= 0)
        return rc;

    /* Block the stop signals before librdkafka starts its threads, so they
     * inherit the mask and only sigwait() in this thread sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop, NULL) != 0) {
        px_error("cannot block signals");
        return 1;
    }
    /* A reader that went away must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return brk_run(&opts, &stop);
}
