/* obsgen.c: publishes synthetic observations for the consumer benchmark.
 *
 *   pdnsx-bench-obsgen -b BROKERS [-n N] [-k KEYS] [-D DOMAINS] [-s SEED]
 *                      [-p PREFIX] [-o ORGS] [-P PARTITIONS]
 *   pdnsx-bench-obsgen -b BROKERS -C TOPIC -P PARTITIONS
 *
 * N observations (default 1,000,000) over KEYS distinct (rrname, rrtype,
 * rdata) keys (default 200,000) under DOMAINS registered domains (default
 * 20,000), spread over ORGS organisations (default 3) PREFIX-a, PREFIX-b, ...
 * (default bench) on the topics pdnsx.obs.PREFIX-a, ... With -P the topics
 * are first created with that many partitions (for a real broker; an
 * existing topic is fine). Every key is observed at
 * least once; the rest follow a Zipf popularity. Event times increase over
 * one day from 2025-11-27T00:00:00Z. Messages are Avro single-object
 * encoded (px_avro_encode_head and _tail, as the producer does) and keyed by the registered domain
 * (px_psl_cache_lookup), sent like the producer does (lz4, linger, murmur2_random); the program
 * waits until Kafka has acknowledged every one. Deterministic from the seed. Prints "observations
 * N", "distinct_keys K", "domains D", "org_keys ORG KEYS" (distinct keys each organisation saw) and
 * "stored M" (messages the topics hold now, by their watermarks).
 *
 * -C: creates TOPIC, log-compacted, with PARTITIONS partitions, as a
 * changelog topic (kafka.changelog_topic) is, and publishes nothing. */
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/px_avro.h"
#include "obs/px_psl.h"
#include "kafka/px_kafka.h"

#define OBS_MAX_ORGS 26
#define OBS_T0 1764201600 /* 2025-11-27T00:00:00Z */

static uint64_t rng_state;

/* splitmix64: small, fast, good enough for test data. */
static uint64_t rnd64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n)
{
    return (uint32_t)(((rnd64() >> 32) * (uint64_t)n) >> 32);
}

static double rnd_unit(void)
{
    return (double)(rnd64() >> 11) / 9007199254740992.0;
}

/* A stable per-key hash, independent of the draw order. */
static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

typedef struct obs_key {
    char name[96];
    char rdata[96];
    const char *type;
    uint32_t domain;
} obs_key;

static const char *const words[] = {
    "acme",  "blue",   "cloud",  "delta", "eagle", "forest", "globe",  "harbor", "iron",  "jade",
    "kite",  "lumen",  "maple",  "nova",  "orbit", "pixel",  "quartz", "river",  "solar", "terra",
    "ultra", "vertex", "willow", "xenon", "yield", "zephyr", "amber",  "birch",  "coral", "dune"};
#define NWORDS (sizeof(words) / sizeof(words[0]))
static const char *const suffixes[] = {"com", "com", "com", "net",    "org", "de",        "co.uk",
                                       "nl",  "fr",  "io",  "com.au", "it",  "github.io", "jp"};
#define NSUFFIXES (sizeof(suffixes) / sizeof(suffixes[0]))
static const char *const hosts[] = {"www", "mail", "api",  "cdn",  "static", "login", "img",
                                    "m",   "app",  "shop", "blog", "auth",   "vpn",   "news"};
#define NHOSTS (sizeof(hosts) / sizeof(hosts[0]))
/* First octets of ordinary unicast space (no special-purpose ranges). */
static const unsigned octets[] = {23, 31, 34, 45, 52, 62, 77, 81, 93, 104, 151, 176, 185, 195, 212};
#define NOCTETS (sizeof(octets) / sizeof(octets[0]))

static void domain_text(uint32_t d, char *out, size_t len)
{
    snprintf(out, len, "%s%s%u.%s", words[d % NWORDS], words[(d / NWORDS) % NWORDS], d,
             suffixes[mix32(d) % NSUFFIXES]);
}

/* Key k lives in domain k % D, slot j = k / D within it. Two slots share a
 * name (a name has several records), and each slot's rdata differs from
 * its partner's, so every key is distinct. */
static void make_key(uint32_t k, uint32_t ndomains, obs_key *t)
{
    char dom[64];
    uint32_t d = k % ndomains, j = k / ndomains, pair = j / 2;
    domain_text(d, dom, sizeof dom);
    t->domain = d;
    if (pair == 0)
        snprintf(t->name, sizeof t->name, "www.%s", dom);
    else if (pair < NHOSTS)
        snprintf(t->name, sizeof t->name, "%s.%s", hosts[pair], dom);
    else
        snprintf(t->name, sizeof t->name, "%s%u.%s", hosts[pair % NHOSTS],
                 (unsigned)(pair / NHOSTS), dom);
    uint32_t h = mix32(k) % 100;
    if (h < 55) {
        t->type = "A";
        snprintf(t->rdata, sizeof t->rdata, "%u.%u.%u.%u", octets[k % NOCTETS], (k >> 16) & 255,
                 (k >> 8) & 255, k & 255);
    } else if (h < 75) {
        t->type = "AAAA";
        snprintf(t->rdata, sizeof t->rdata, "2a0%x:%x:%x::%x", 1 + (k & 7),
                 (mix32(d) & 0xffff) | 0x100, 1 + (k >> 16), (k & 0xffff) | 1);
    } else if (h < 87) {
        t->type = "CNAME";
        snprintf(t->rdata, sizeof t->rdata, "e%u.%s.cdn-edge%u.net", j & 1, dom, d % 40);
    } else if (h < 94) {
        t->type = "NS";
        snprintf(t->rdata, sizeof t->rdata, "ns%u.dnshost%u.net", 1 + (j & 1), d % 200);
    } else {
        t->type = "MX";
        snprintf(t->rdata, sizeof t->rdata, "%u mx%u.%s", 10 * (1 + (j & 1)), j & 1, dom);
    }
}

typedef struct obs_gen {
    unsigned long n, keys, domains, seed, norgs;
    const char *brokers, *prefix;
    const char *compacted; /* -C */
    int partitions;
} obs_gen;

/* librdkafka's warnings and errors, as it would print them itself. */
static void obsgen_log(void *ctx, px_log_level level, const char *msg)
{
    (void)ctx;
    if (level <= PX_LOG_WARNING)
        fprintf(stderr, "obsgen: %s\n", msg);
}

static px_kafka *make_producer(const obs_gen *g)
{
    const px_kafka_prop ours[] = {
        {"bootstrap.servers", g->brokers},
        {"client.id", "pdnsx-bench-obsgen"},
        {"enable.idempotence", "true"},
        {"compression.codec", "lz4"},
        {"linger.ms", "100"},
        {"batch.num.messages", PX_KAFKA_BATCH_MESSAGES},
        {"partitioner", "murmur2_random"},
        {"queue.buffering.max.messages", "500000"},
    };
    px_kafka_conf conf = {.type = RD_KAFKA_PRODUCER,
                          .ours = ours,
                          .n_ours = sizeof ours / sizeof ours[0],
                          .log = obsgen_log};
    char why[512];
    px_kafka *k = NULL;
    if (px_kafka_create(&conf, &k, why, sizeof why) != PX_OK)
        fprintf(stderr, "obsgen: %s\n", why);
    return k;
}

/* Zipf (s = 0.9) cumulative weights over popularity ranks. */
static double *zipf_cdf(unsigned long k)
{
    double *c = malloc(k * sizeof *c), sum = 0;
    if (!c)
        return NULL;
    for (unsigned long r = 0; r < k; r++)
        c[r] = (sum += pow((double)(r + 1), -0.9));
    for (unsigned long r = 0; r < k; r++)
        c[r] /= sum;
    return c;
}

static uint32_t zipf_draw(const double *c, unsigned long k)
{
    double u = rnd_unit();
    unsigned long lo = 0, hi = k - 1;
    while (lo < hi) {
        unsigned long mid = (lo + hi) / 2;
        if (c[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

/* The key of every observation: each key once, the rest by popularity
 * (rank r is key r * 7919 mod K, so popular keys are spread over domains),
 * shuffled. */
static uint32_t *draw_sequence(const obs_gen *g)
{
    uint32_t *seq = malloc(g->n * sizeof *seq);
    double *cdf = zipf_cdf(g->keys);
    if (!seq || !cdf) {
        free(seq);
        free(cdf);
        return NULL;
    }
    for (unsigned long i = 0; i < g->n; i++)
        seq[i] = i < g->keys ? (uint32_t)i
                             : (uint32_t)(((uint64_t)zipf_draw(cdf, g->keys) * 7919) % g->keys);
    for (unsigned long i = g->n - 1; i > 0; i--) {
        uint32_t j = rnd_below((uint32_t)i + 1), t = seq[i];
        seq[i] = seq[j];
        seq[j] = t;
    }
    free(cdf);
    return seq;
}

static int produce(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *key, const uint8_t *v,
                   size_t len)
{
    for (;;) {
        if (rd_kafka_produce(t, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)v, len, key,
                             strlen(key), NULL) == 0)
            return 0;
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "obsgen: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
            return -1;
        }
        rd_kafka_poll(rk, 50);
    }
}

/* Messages the topics hold (high minus low watermark over every
 * partition): less than N if the broker dropped old ones (librdkafka's mock
 * cluster keeps only a few MB per partition); -1 if unknown. */
static long long stored_messages(rd_kafka_t *rk, rd_kafka_topic_t **topics, unsigned long n)
{
    long long sum = 0;
    for (unsigned long o = 0; o < n; o++) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(rk, 0, topics[o], &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return -1;
        for (int i = 0; md->topic_cnt == 1 && i < md->topics[0].partition_cnt; i++) {
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(rk, md->topics[0].topic,
                                                 md->topics[0].partitions[i].id, &lo, &hi,
                                                 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_metadata_destroy(md);
                return -1;
            }
            sum += hi - lo;
        }
        rd_kafka_metadata_destroy(md);
    }
    return sum;
}

static int run(const obs_gen *g, px_kafka *kafka, rd_kafka_topic_t **topics, const uint32_t *seq)
{
    rd_kafka_t *rk = px_kafka_handle(kafka);
    px_avro_codec *codec = NULL;
    char why[512];
    if (px_avro_codec_create(&codec, why, sizeof why) != PX_OK)
        fprintf(stderr, "obsgen: %s\n", why);
    uint8_t *seen = calloc(g->keys, 1); /* bit o: org o saw the key */
    uint8_t *head = malloc(PX_AVRO_HEAD_MAX);
    px_psl_cache *psl = px_psl_cache_create(0);
    int rc = -1;
    if (!codec || !seen || !head || !psl)
        goto out;
    char orgs[OBS_MAX_ORGS][40], sensors[OBS_MAX_ORGS][24];
    for (unsigned long o = 0; o < g->norgs; o++) {
        snprintf(orgs[o], sizeof orgs[o], "%s-%c", g->prefix, (int)('a' + o));
        snprintf(sensors[o], sizeof sensors[o], "sensor-%c1", (int)('a' + o));
    }
    for (unsigned long i = 0; i < g->n; i++) {
        obs_key k;
        char regdom[256];
        make_key(seq[i], (uint32_t)g->domains, &k);
        const char *reg;
        size_t reg_len;
        /* make_key writes canonical names (lowercase, no trailing dot) */
        if (px_psl_cache_lookup(psl, k.name, strlen(k.name), &reg, &reg_len) != PX_OK ||
            reg_len >= sizeof regdom)
            goto out;
        memcpy(regdom, reg, reg_len);
        regdom[reg_len] = '\0';
        /* Organisations see different shares: a key's org is skewed by
         * both the key and the draw, so orgs overlap on popular keys. */
        uint32_t w = rnd_below(100);
        unsigned long o = g->norgs == 1 ? 0 : (w < 50 ? 0 : w < 80 ? 1 : 2) % g->norgs;
        if (g->norgs > 3 && w % 2)
            o = rnd_below((uint32_t)g->norgs);
        seen[seq[i]] |= (uint8_t)(1u << (o & 7));
        int64_t t = OBS_T0 + (int64_t)((double)i * 86400.0 / (double)g->n);
        int64_t ttl = 60 + (int64_t)(mix32(seq[i]) % 3540);
        px_avro_obs obs = {
            .rrname = k.name,
            .rrtype = k.type,
            .rdata = k.rdata,
            .bailiwick = rnd_below(10) ? regdom : NULL,
            .count = 1 + rnd_below(40),
            .time_first = t,
            .time_last = t + rnd_below(60),
            .ttl_min = ttl - rnd_below((uint32_t)ttl),
            .ttl_max = ttl,
            .clients = 1 + rnd_below(20),
            .org = orgs[o],
            .sensor = sensors[o],
        };
        const uint8_t *msg;
        size_t head_len, len;
        px_err err = px_avro_encode_head(codec, &obs, head, PX_AVRO_HEAD_MAX, &head_len);
        if (err == PX_OK)
            err = px_avro_encode_tail(codec, head, head_len, &obs, &msg, &len);
        if (err != PX_OK) {
            fprintf(stderr, "obsgen: encode %s: %s\n", k.name, px_strerror(err));
            goto out;
        }
        if (produce(rk, topics[o], regdom, msg, len) < 0)
            goto out;
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    while (rd_kafka_outq_len(rk) > 0)
        rd_kafka_flush(rk, 1000);
    printf("observations %lu\ndistinct_keys %lu\ndomains %lu\n", g->n, g->keys, g->domains);
    for (unsigned long o = 0; o < g->norgs; o++) {
        unsigned long c = 0;
        for (unsigned long k = 0; k < g->keys; k++)
            c += (seen[k] >> (o & 7)) & 1;
        printf("org_keys %s %lu\n", orgs[o], c);
    }
    printf("stored %lld\n", stored_messages(rk, topics, g->norgs));
    px_kafka_stats st;
    px_kafka_get_stats(kafka, &st);
    rc = st.failed ? -1 : 0;
    if (st.failed)
        fprintf(stderr, "obsgen: %llu messages not acknowledged\n", (unsigned long long)st.failed);
out:
    px_psl_cache_destroy(psl);
    free(head);
    free(seen);
    px_avro_codec_destroy(codec);
    return rc;
}

/* CreateTopics through the admin API; TOPIC_ALREADY_EXISTS is success. */
static int create_topics(rd_kafka_t *rk, char names[][64], size_t n, int partitions, bool compact)
{
    char err[256];
    rd_kafka_NewTopic_t *nt[8];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        nt[i] = rd_kafka_NewTopic_new(names[i], partitions, -1, err, sizeof err);
    for (size_t i = 0; compact && i < n; i++)
        rd_kafka_NewTopic_set_config(nt[i], "cleanup.policy", "compact");
    rd_kafka_CreateTopics(rk, nt, n, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!res) {
        fprintf(stderr, "obsgen: CreateTopics: %s\n",
                ev ? rd_kafka_event_error_string(ev) : "timeout");
        rc = -1;
    } else {
        size_t cnt;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
            if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                fprintf(stderr, "obsgen: create %s: %s\n", rd_kafka_topic_result_name(tr[i]),
                        rd_kafka_err2str(e));
                rc = -1;
            }
        }
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    for (size_t i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    rd_kafka_queue_destroy(q);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: pdnsx-bench-obsgen -b BROKERS [-n N] [-k KEYS] [-D DOMAINS] "
                    "[-s SEED] [-p ORG_PREFIX] [-o ORGS(1-8)] [-P PARTITIONS]\n"
                    "       pdnsx-bench-obsgen -b BROKERS -C TOPIC -P PARTITIONS\n");
    exit(2);
}

int main(int argc, char **argv)
{
    obs_gen g = {
        .n = 1000000, .keys = 200000, .domains = 20000, .seed = 1, .norgs = 3, .prefix = "bench"};
    int opt;
    while ((opt = getopt(argc, argv, "b:n:k:D:s:p:o:P:C:")) != -1) {
        switch (opt) {
        case 'b':
            g.brokers = optarg;
            break;
        case 'p':
            g.prefix = optarg;
            break;
        case 'n':
            g.n = strtoul(optarg, NULL, 10);
            break;
        case 'k':
            g.keys = strtoul(optarg, NULL, 10);
            break;
        case 'D':
            g.domains = strtoul(optarg, NULL, 10);
            break;
        case 's':
            g.seed = strtoul(optarg, NULL, 10);
            break;
        case 'P':
            g.partitions = atoi(optarg);
            break;
        case 'o':
            g.norgs = strtoul(optarg, NULL, 10);
            break;
        case 'C':
            g.compacted = optarg;
            break;
        default:
            usage();
        }
    }
    if (!g.brokers || g.keys == 0 || g.domains == 0 || g.n < g.keys || g.keys > (1u << 24) ||
        g.norgs < 1 || g.norgs > 8 || strlen(g.prefix) > 30 ||
        (g.compacted && (g.partitions < 1 || strlen(g.compacted) >= 64)))
        usage();
    if (g.compacted) {
        px_kafka *k = make_producer(&g);
        char name[1][64];
        snprintf(name[0], sizeof name[0], "%s", g.compacted);
        int rc = !k || create_topics(px_kafka_handle(k), name, 1, g.partitions, true) < 0;
        px_kafka_destroy(k);
        return rc;
    }
    rng_state = g.seed * 0x2545f4914f6cdd1dULL + 1;
    uint32_t *seq = draw_sequence(&g);
    px_kafka *kafka = seq ? make_producer(&g) : NULL;
    rd_kafka_t *rk = kafka ? px_kafka_handle(kafka) : NULL;
    if (!rk) {
        free(seq);
        return 1;
    }
    rd_kafka_topic_t *topics[8] = {0};
    char names[8][64];
    int rc = 0;
    for (unsigned long o = 0; o < g.norgs; o++)
        snprintf(names[o], sizeof names[o], "pdnsx.obs.%s-%c", g.prefix, (int)('a' + o));
    if (g.partitions > 0 && create_topics(rk, names, g.norgs, g.partitions, false) < 0)
        rc = 1;
    for (unsigned long o = 0; o < g.norgs && rc == 0; o++)
        if (!(topics[o] = rd_kafka_topic_new(rk, names[o], NULL)))
            rc = 1;
    if (rc == 0 && run(&g, kafka, topics, seq) < 0)
        rc = 1;
    for (unsigned long o = 0; o < g.norgs; o++)
        if (topics[o])
            rd_kafka_topic_destroy(topics[o]);
    px_kafka_destroy(kafka);
    free(seq);
    return rc;
}
