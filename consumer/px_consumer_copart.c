/* px_consumer_copart.c: co-partitioning of the subscribed topics. The
 * range assignor gives partition i of every organisation topic to one
 * member only when all topics have the same number of partitions; with
 * unequal counts a registered domain's observations split over members,
 * each merging part of them (docs/ARCHITECTURE.md, "Partitioning"). The
 * consumer checks the counts when it starts and at every assignment (a new
 * organisation's topic, or partitions added, makes the group rebalance)
 * and stops rather than merge with co-partitioning broken. */
#include "px_consumer_int.h"

#include <regex.h>

/* A subscribed topic and its partition count. */
typedef struct px_copart_topic {
    const char *name; /* the metadata's */
    int parts;
} px_copart_topic;

/* A run of topics with the same count in the sorted array. */
typedef struct px_copart_group {
    size_t first, n;
} px_copart_group;

static int px_copart_cmp(const void *a, const void *b)
{
    const px_copart_topic *x = a, *y = b;
    if (x->parts != y->parts)
        return x->parts < y->parts ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Fewer topics first: the odd ones out lead the line. */
static int px_copart_group_cmp(const void *a, const void *b)
{
    const px_copart_group *x = a, *y = b;
    return x->n < y->n ? -1 : x->n > y->n ? 1 : x->first < y->first ? -1 : 1;
}

/* "N partitions: t1, t2; M partitions: t3" for topics sorted by count;
 * cut with "..." at whylen. -1: no memory. */
static int px_copart_describe(px_copart_topic *t, size_t n, char *why, size_t whylen)
{
    px_copart_group *g = calloc(n, sizeof(*g));
    if (!g)
        return -1;
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || t[i].parts != t[i - 1].parts)
            g[ng++].first = i;
        g[ng - 1].n++;
    }
    qsort(g, ng, sizeof(*g), px_copart_group_cmp);
    size_t at = strlen(why);
    for (size_t k = 0; k < ng && at < whylen; k++) {
        const px_copart_topic *first = &t[g[k].first];
        at += (size_t)snprintf(why + at, whylen - at, "%s%d partition%s: ", k ? "; " : "",
                               first->parts, first->parts == 1 ? "" : "s");
        for (size_t i = 0; i < g[k].n && at < whylen; i++)
            at += (size_t)snprintf(why + at, whylen - at, "%s%s", i ? ", " : "", first[i].name);
    }
    if (at >= whylen && whylen > 4)
        memcpy(why + whylen - 4, "...", 4);
    free(g);
    return 0;
}

/* The topics of md that kafka.topics subscribes to (a regex when it
 * starts with '^'; POSIX syntax stands for librdkafka's, as in the
 * settings' check), sorted by count then name. -1: no memory or a regex
 * that does not compile (the settings' check refused it). */
static int px_copart_topics(const char *topics, const struct rd_kafka_metadata *md,
                            px_copart_topic **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    regex_t re;
    bool regex = topics[0] == '^';
    if (regex && regcomp(&re, topics, REG_EXTENDED | REG_NOSUB) != 0)
        return -1;
    px_copart_topic *t = calloc(md->topic_cnt > 0 ? (size_t)md->topic_cnt : 1, sizeof(*t));
    for (int i = 0; t && i < md->topic_cnt; i++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[i];
        /* a topic Kafka cannot describe now has no count to compare yet */
        if (mt->err != RD_KAFKA_RESP_ERR_NO_ERROR || mt->partition_cnt <= 0)
            continue;
        if (regex ? regexec(&re, mt->topic, 0, NULL, 0) == 0 : strcmp(mt->topic, topics) == 0)
            t[(*n)++] = (px_copart_topic){mt->topic, mt->partition_cnt};
    }
    if (regex)
        regfree(&re);
    if (!t)
        return -1;
    qsort(t, *n, sizeof(*t), px_copart_cmp);
    *out = t;
    return 0;
}

/* Leaves out of parts each partition number i that parts does not hold
 * of every topic t (n of them): returns how many numbers it left out. */
static int px_copart_whole(const px_copart_topic *t, size_t n,
                           rd_kafka_topic_partition_list_t *parts)
{
    int left = 0;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t partition = parts->elems[i].partition;
        const char *missing = NULL;
        for (size_t k = 0; k < n && !missing; k++)
            if (partition < t[k].parts &&
                !rd_kafka_topic_partition_list_find(parts, t[k].name, partition))
                missing = t[k].name;
        if (!missing)
            continue;
        px_warning("partition %" PRId32 " assigned without %s [%" PRId32 "]: the members "
                   "saw different topics (a new one?); not read until the group rebalances, "
                   "so that its store stays at one member",
                   partition, missing, partition);
        for (int j = parts->cnt; j-- > 0;)
            if (parts->elems[j].partition == partition)
                rd_kafka_topic_partition_list_del_by_idx(parts, j);
        left++;
        i = -1; /* the list moved: from the start again */
    }
    return left;
}

int px_consumer_copartition_whole(px_consumer *c, rd_kafka_topic_partition_list_t *parts, char *why,
                                  size_t whylen)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(c->dlq, 1, NULL, &md, PX_CONSUMER_PARTITIONS_WAIT_MS) !=
        RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    px_copart_topic *t = NULL;
    size_t n = 0;
    int total = 0;
    if (px_copart_topics(c->conf->kafka_topics, md, &t, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            total += t[i].parts;
        if (n > 0 && t[0].parts == t[n - 1].parts)
            c->topic_partitions = t[0].parts; /* what query routing hashes over */
        if (n > 1 && t[0].parts != t[n - 1].parts) {
            snprintf(why, whylen,
                     "co-partitioning broken: the topics of kafka.topics must all have the same "
                     "number of partitions, so that one member owns all of a registered domain "
                     "(docs/ARCHITECTURE.md, \"Partitioning\"); stopping rather than merge: ");
            px_copart_describe(t, n, why, whylen);
            px_metric_inc(c->m_copartition);
            total = -1;
        } else if (parts) {
            px_copart_whole(t, n, parts);
        }
    }
    free(t);
    rd_kafka_metadata_destroy(md);
    return total;
}

int px_consumer_copartition(px_consumer *c, char *why, size_t whylen)
{
    return px_consumer_copartition_whole(c, NULL, why, whylen);
}
