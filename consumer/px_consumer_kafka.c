/* px_consumer_kafka.c: the consumer's Kafka side: the group consumer
 * and the dead-letter producer, their callbacks, and the offsets it
 * resumes from (the store's). */
#include "px_consumer_int.h"

/* Sets each partition's offset to where the store says it resumes. */
static void px_consumer_offsets_from_store(px_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t next;
        if (px_consumer_restoring_of(c, tp->partition)) {
            /* Paused until restored, then sought to the restored offsets.
             * An absolute offset (the log's start), not a logical one:
             * librdkafka resolves a logical offset only once the partition
             * is resumed, and refuses a seek until then (the seek after
             * the restore failed for that partition, which then read
             * nothing). What is fetched before the seek is dropped. */
            int64_t lo = 0, hi = 0;
            tp->offset = rd_kafka_query_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi,
                                                          10000) == RD_KAFKA_RESP_ERR_NO_ERROR
                             ? lo
                             : RD_KAFKA_OFFSET_END;
            continue;
        }
        px_consumer_pstore *p = px_consumer_pstore_of(c, tp->partition);
        px_err err = p ? px_store_get_offset(p->store, tp->topic, tp->partition, &next)
                       : PX_ERR_INVAL; /* px_consumer_stores_assign failed: c->fatal */
        if (err == PX_OK) {
            tp->offset = next;
        } else if (err == PX_ERR_NOTFOUND) {
            tp->offset = RD_KAFKA_OFFSET_BEGINNING;
        } else {
            /* Guessing would count twice or skip: stop instead. */
            px_error("store: offset of %s [%" PRId32 "]: %s", tp->topic, tp->partition,
                     px_strerror(err));
            c->fatal = true;
            tp->offset = RD_KAFKA_OFFSET_END;
        }
    }
}

/* The assigned topic partitions: partition's (every org topic's) if it is
 * >= 0, all of them if -2, else (-1) those whose store is not restoring.
 * NULL: none (or no memory). */
static rd_kafka_topic_partition_list_t *px_consumer_assigned(px_consumer *c, int32_t partition)
{
    rd_kafka_topic_partition_list_t *all = NULL, *out = NULL;
    if (rd_kafka_assignment(c->rk, &all) != RD_KAFKA_RESP_ERR_NO_ERROR || !all)
        return NULL;
    for (int i = 0; i < all->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &all->elems[i];
        bool mine = partition >= 0    ? tp->partition == partition
                    : partition == -2 ? true
                                      : !px_consumer_restoring_of(c, tp->partition);
        if (!mine)
            continue;
        if (!out)
            out = rd_kafka_topic_partition_list_new(all->cnt);
        rd_kafka_topic_partition_list_add(out, tp->topic, tp->partition);
    }
    rd_kafka_topic_partition_list_destroy(all);
    return out;
}

/* Seeks parts to where the store says they resume. */
static void px_consumer_seek(px_consumer *c, rd_kafka_topic_partition_list_t *parts,
                             const char *what)
{
    px_consumer_offsets_from_store(c, parts);
    rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, parts, 10000);
    if (e) {
        px_error("Kafka: cannot %s: %s", what, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        c->fatal = true;
    }
    /* A partition not sought would read from elsewhere: count twice or skip. */
    for (int i = 0; !e && i < parts->cnt; i++)
        if (parts->elems[i].err) {
            px_error("Kafka: cannot %s (%s [%" PRId32 "] to offset %" PRId64 "): %s", what,
                     parts->elems[i].topic, parts->elems[i].partition, parts->elems[i].offset,
                     rd_kafka_err2str(parts->elems[i].err));
            c->fatal = true;
        }
}

/* After an abandoned batch, read its messages again from where the store
 * stands (the partitions restoring stay paused where they are). */
void px_consumer_rewind(px_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = px_consumer_assigned(c, -1);
    if (!parts)
        return;
    px_consumer_align_reset(c);
    px_consumer_seek(c, parts, "rewind after an abandoned batch");
    rd_kafka_topic_partition_list_destroy(parts);
}

/* partition's input paused: its store restores. */
static void px_consumer_input_pause(px_consumer *c, int32_t partition)
{
    rd_kafka_topic_partition_list_t *parts = px_consumer_assigned(c, partition);
    if (!parts)
        return;
    /* what was fetched before is dropped unread (px_consumer_message,
     * the alignment's hold) and read again once resumed */
    rd_kafka_pause_partitions(c->rk, parts);
    px_consumer_align_hold(c, partition, true);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Resumed first, then sought: the seek is the last word on where it
 * reads (what a fetch brought between the two is outdated, dropped by
 * librdkafka). */
void px_consumer_input_resume(px_consumer *c, int32_t partition)
{
    rd_kafka_topic_partition_list_t *parts = px_consumer_assigned(c, partition);
    if (!parts)
        return;
    rd_kafka_resume_partitions(c->rk, parts);
    px_consumer_seek(c, parts, "seek a restored partition to its store's offsets");
    px_consumer_align_hold(c, partition, false);
    px_consumer_lag_assigned(c->lag, parts);
    for (int i = 0; i < parts->cnt && !c->fatal; i++)
        px_info("restored %s [%" PRId32 "]: reading from offset %" PRId64, parts->elems[i].topic,
                parts->elems[i].partition, parts->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- Kafka callbacks -------------------------------------------------------------- */

/* The partition numbers of the assignment in force, for query.listen
 * (partition i of every topic: co-partitioning). Numbers past the count
 * last checked (unknown at the start, or partitions added since) are not
 * taken: the endpoint answers 503 until px_consumer_owner_retry has the
 * count, rather than answer short. */
static void px_consumer_owner_set(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    int32_t *owned = calloc((size_t)parts->cnt + 1, sizeof(*owned));
    size_t n = 0;
    for (int i = 0; owned && i < parts->cnt; i++)
        owned[n++] = parts->elems[i].partition;
    px_err err =
        owned ? px_query_owner_assign(c->owner, c->topic_partitions, owned, n) : PX_ERR_NOMEM;
    for (size_t i = 0; err == PX_OK && i < n; i++)
        px_query_owner_restoring(c->owner, owned[i], px_consumer_restoring_of(c, owned[i]) != NULL);
    if (err != PX_OK && !c->owner_pending)
        px_warning("query endpoint: the assignment of %d partition(s) is not taken (%d per "
                   "topic known; %s): lookups answer 503 until the count is read again",
                   parts->cnt, (int)c->topic_partitions, px_strerror(err));
    if (err != PX_OK)
        px_query_owner_assign(c->owner, c->topic_partitions, NULL, 0);
    else if (c->owner_pending)
        px_info("query endpoint: answering for the %d partition(s) assigned", parts->cnt);
    c->owner_pending = err != PX_OK;
    free(owned);
}

static void px_consumer_owner_update(px_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (!c->owner || rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    px_consumer_owner_set(c, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

void px_consumer_owner_retry(px_consumer *c, uint64_t now)
{
    if (!c->owner_pending || now < c->owner_retry_ms)
        return;
    c->owner_retry_ms = now + PX_CONSUMER_OWNER_RETRY_MS;
    char why[2048] = "";
    if (px_consumer_copartition(c, why, sizeof(why)) < 0) {
        px_error("%s", why);
        c->copartition_broken = true; /* the run ends, as at an assignment */
        return;
    }
    px_consumer_owner_update(c);
}

static void px_consumer_assign(px_consumer *c, rd_kafka_t *rk,
                               rd_kafka_topic_partition_list_t *parts, bool coop)
{
    /* Every member gets here when the subscription's topics change: none
     * reads a partition of a group whose topics no longer co-partition. */
    char why[2048] = "";
    if (c->copartition_broken || px_consumer_copartition_whole(c, parts, why, sizeof(why)) < 0) {
        if (!c->copartition_broken)
            px_error("%s", why);
        c->copartition_broken = true;
        return; /* nothing assigned: the run ends (px_consumer_run) */
    }
    px_consumer_stores_assign(c, parts);
    px_consumer_offsets_from_store(c, parts);
    px_consumer_lag_assigned(c->lag, parts);
    for (int i = 0; i < parts->cnt; i++)
        px_info("assigned %s [%" PRId32 "] from offset %" PRId64 "%s", parts->elems[i].topic,
                parts->elems[i].partition, parts->elems[i].offset,
                px_consumer_restoring_of(c, parts->elems[i].partition)
                    ? " (paused: its store restores first)"
                : parts->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING ? " (beginning)"
                                                                      : "");
    c->assigned_once = true;
    c->idle_since_ms = px_consumer_coarse_ms();
    if (px_consumer_align_assign(c, parts) < 0) {
        px_error("out of memory");
        c->fatal = true;
    }
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, parts);
        if (e) {
            px_error("Kafka: assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            c->fatal = true;
        }
    } else if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        px_error("Kafka: assign failed");
        c->fatal = true;
    }
    for (size_t i = 0; i < c->n_restoring; i++)
        px_consumer_input_pause(c, c->restoring[i]->partition);
    px_consumer_owner_update(c);
}

static void px_consumer_revoke(px_consumer *c, rd_kafka_t *rk,
                               rd_kafka_topic_partition_list_t *parts, bool coop)
{
    /* The next owner resumes from the store: commit what we hold first. */
    bool failed = px_consumer_commit(c, false) < 0;
    px_info("revoked %d partition(s)", parts->cnt);
    /* the sinks' cursors recorded; the stores detached at the next
     * assignment unless it gives them back */
    px_consumer_stores_revoke(c, parts);
    /* taken messages are not merged: the next owner reads them */
    px_consumer_align_revoke(c, parts);
    px_consumer_lag_revoked(c->lag, parts);
    /* What stays is read before the unassign: rd_kafka_assignment() after
     * it, in the revocation of rd_kafka_consumer_close(), may wait forever
     * (seen with librdkafka 2.0.2: its reply never comes). Eager: none. */
    rd_kafka_topic_partition_list_t *left = coop ? px_consumer_assigned(c, -2) : NULL;
    if (left)
        for (int i = 0; i < parts->cnt; i++)
            rd_kafka_topic_partition_list_del(left, parts->elems[i].topic,
                                              parts->elems[i].partition);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
    rd_kafka_topic_partition_list_t none = {0};
    if (c->owner)
        px_consumer_owner_set(c, left ? left : &none);
    if (failed && left && left->cnt) /* partitions we keep go back to where the store stands */
        px_consumer_rewind(c);
    if (left)
        rd_kafka_topic_partition_list_destroy(left);
}

static void px_consumer_rebalance_cb(void *ctx, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                     rd_kafka_topic_partition_list_t *parts)
{
    px_consumer *c = ctx;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        px_consumer_assign(c, rk, parts, coop);
    else
        px_consumer_revoke(c, rk, parts, coop);
}

/* Failures are summed up per batch (px_consumer_dlq_settled): an outage
 * fails every copy, one line each would flood the log. px_dlq accounts
 * for every copy (a failed one holds its batch back, or is skipped and
 * counted): none is lost to px_kafka's count. */
static bool px_consumer_dlq_delivered(void *ctx, const rd_kafka_message_t *m)
{
    px_consumer *c = ctx;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        px_debug("dead-letter topic: delivery failed: %s", rd_kafka_err2str(m->err));
    px_dlq_delivered(c->dl, m);
    return true;
}

/* A fatal error of either handle (reported by px_kafka, from a poll of
 * this thread): the consumer stops. */
static void px_consumer_kafka_fatal(void *ctx, const char *why)
{
    (void)why;
    px_consumer *c = ctx;
    c->fatal = true;
}

/* ---- set-up ----------------------------------------------------------------------- */

px_kafka_settings px_consumer_kafka_settings(const px_consumer *c)
{
    const px_consumer_conf *cf = c->conf;
    return (px_kafka_settings){.brokers = cf->kafka_brokers,
                               .props = cf->kafka_properties,
                               .n_props = cf->n_kafka_properties,
                               .n_file_props = cf->n_kafka_file_properties,
                               .statistics_interval_ms = cf->kafka_statistics_ms};
}

/* One handle of ours (ours first, then kafka.properties: px_kafka). */
static px_kafka *px_consumer_handle(px_consumer *c, rd_kafka_type_t type, const px_kafka_prop *ours,
                                    size_t n, const char *what, char *errbuf, size_t errlen)
{
    const px_consumer_conf *cf = c->conf;
    for (size_t i = 0; type == RD_KAFKA_CONSUMER && i < cf->n_kafka_properties; i++) {
        const px_kafka_prop *p = &cf->kafka_properties[i];
        const char *pinned = px_consumer_conf_pinned(p->key, p->value);
        if (pinned) { /* --check says so first: a struct filled by hand */
            snprintf(errbuf, errlen, "Kafka %s: %s: \"%s\" refused: %s", what, p->key, p->value,
                     pinned);
            return NULL;
        }
    }
    px_kafka_settings settings = px_consumer_kafka_settings(c);
    size_t n_reserved;
    const px_kafka_prop *reserved = px_consumer_conf_reserved(&n_reserved);
    px_kafka_conf kc = {
        .type = type,
        .ours = ours,
        .n_ours = n,
        .settings = &settings,
        /* the memory bound's properties: set by settings of ours only */
        .reserved = reserved,
        .n_reserved = n_reserved,
        .log = px_kafka_to_px_log,
        .fatal = px_consumer_kafka_fatal,
        .delivery = type == RD_KAFKA_PRODUCER ? px_consumer_dlq_delivered : NULL,
        .rebalance = type == RD_KAFKA_CONSUMER ? px_consumer_rebalance_cb : NULL,
        .ctx = c,
    };
    px_kafka *k = NULL;
    char why[512] = "";
    if (px_kafka_create(&kc, &k, why, sizeof(why)) != PX_OK)
        snprintf(errbuf, errlen, "Kafka %s: %s", what, why);
    return k;
}

/* kafka.properties may set a lower message.max.bytes than dlq.max_bytes:
 * copies must fit the one in force. */
static void px_consumer_dlq_limit(px_consumer *c, const rd_kafka_conf_t *conf)
{
    char buf[32];
    size_t len = sizeof(buf);
    if (rd_kafka_conf_get(conf, "message.max.bytes", buf, &len) != RD_KAFKA_CONF_OK)
        return;
    unsigned long long v = strtoull(buf, NULL, 10);
    if (v > 0 && v < c->dlq_max) {
        px_info("dead-letter copies: kafka.properties sets message.max.bytes %llu, below "
                "dlq.max_bytes %zu: copies are cut to fit it",
                v, c->dlq_max);
        c->dlq_max = (size_t)v;
    }
}

static int64_t px_consumer_max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* librdkafka's prefetch bounds, as text: kafka.fetch_queue_* and
 * kafka.fetch_max_kbytes. Read from one queue, librdkafka counts its
 * bounds over all partitions together; read from one queue per partition
 * (the alignment in event time), per partition: each partition then gets
 * its share of the partitions counted at the start (or of
 * PX_CONSUMER_ALIGN_PARTITIONS if Kafka cannot tell), so that the
 * README's memory bound holds. librdkafka fetches a partition while its
 * queue is under its share, so each queue may hold one fetch more: the
 * bound's term per partition (at least PX_CONSUMER_ALIGN_MIN_KB, never
 * less than a whole record batch: PX_KAFKA_BATCH_MESSAGES). */
typedef struct px_consumer_fetch {
    char queue_msgs[24], queue_kb[24], fetch_max[24], part_max[24];
} px_consumer_fetch;

/* n: the partitions of the subscribed topics counted at the start (0:
 * none yet, or Kafka could not tell). */
static void px_consumer_fetch_bounds(px_consumer *c, int n, px_consumer_fetch *f)
{
    const px_consumer_conf *cf = c->conf;
    int64_t msgs =
        cf->fetch_queue_messages ? cf->fetch_queue_messages : PX_QUERY_CONF_FETCH_QUEUE_MESSAGES;
    int64_t kb = cf->fetch_queue_kbytes ? cf->fetch_queue_kbytes : PX_QUERY_CONF_FETCH_QUEUE_KBYTES;
    int64_t max_kb = cf->fetch_max_kbytes ? cf->fetch_max_kbytes : PX_QUERY_CONF_FETCH_MAX_KBYTES;
    int64_t part_kb = 1024; /* librdkafka's max.partition.fetch.bytes */
    if (cf->align_seconds > 0) {
        if (n <= 0)
            px_info("Kafka: cannot count the partitions of %s now: the prefetch is shared out "
                    "as over %d",
                    cf->kafka_topics, PX_CONSUMER_ALIGN_PARTITIONS);
        n = n > 0 ? n : PX_CONSUMER_ALIGN_PARTITIONS;
        msgs = px_consumer_max64(msgs / n, PX_CONSUMER_ALIGN_MIN_MSGS);
        kb = px_consumer_max64(kb / n, PX_CONSUMER_ALIGN_MIN_KB);
        /* a fetch response may overshoot each partition's bound by one
         * partition's share of it */
        part_kb = px_consumer_max64(max_kb / n < part_kb ? max_kb / n : part_kb,
                                    PX_CONSUMER_ALIGN_MIN_KB);
        px_info("aligning in event time over %d partition(s): each prefetches up to %" PRId64
                " messages, %" PRId64 " KiB",
                n, msgs, kb);
    }
    snprintf(f->queue_msgs, sizeof(f->queue_msgs), "%" PRId64, msgs);
    snprintf(f->queue_kb, sizeof(f->queue_kb), "%" PRId64, kb);
    snprintf(f->fetch_max, sizeof(f->fetch_max), "%" PRId64, max_kb * 1024);
    snprintf(f->part_max, sizeof(f->part_max), "%" PRId64, part_kb * 1024);
}

/* The dead-letter producer first: it tells how many partitions the
 * consumer shares its prefetch out over. */
int px_consumer_kafka(px_consumer *c, char *errbuf, size_t errlen)
{
    char timeout[24], max_bytes[24];
    snprintf(timeout, sizeof(timeout), "%d", c->opts.dlq_timeout_ms);
    snprintf(max_bytes, sizeof(max_bytes), "%zu", c->dlq_max);
    const px_consumer_conf *cf = c->conf;
    const px_kafka_prop producer[] = {
        {"client.id", "pdnsx-consumer-dlq"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"message.timeout.ms", timeout},
        /* Also caps the batches librdkafka packs copies into, so that a
         * topic whose max.message.bytes is dlq.max_bytes takes them. */
        {"message.max.bytes", max_bytes},
    };
    c->k_dlq =
        px_consumer_handle(c, RD_KAFKA_PRODUCER, producer, sizeof(producer) / sizeof(producer[0]),
                           "dead-letter producer", errbuf, errlen);
    if (!c->k_dlq)
        return -1;
    c->dlq = px_kafka_handle(c->k_dlq);
    px_consumer_dlq_limit(c, rd_kafka_conf(c->dlq));
    c->dl = px_dlq_create(c->dlq, PX_CONSUMER_DLQ_TOPIC, c->dlq_max, c->opts.dlq_timeout_ms);
    if (!c->dl) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    /* checked before joining: a member that would stop anyway does not
     * make the group rebalance */
    int n_parts = px_consumer_copartition(c, errbuf, errlen);
    if (n_parts < 0 ||
        px_consumer_clog_check(c, n_parts ? c->topic_partitions : 0, errbuf, errlen) < 0)
        return -1;
    px_consumer_fetch f;
    px_consumer_fetch_bounds(c, n_parts, &f);
    const px_kafka_prop consumer[] = {
        {"group.id", cf->kafka_group},
        {"client.id", "pdnsx-consumer"},
        /* Equal partition counts and range assignment: partition i of
         * every org topic goes to the same member (co-partitioning). */
        {PX_CONSUMER_ASSIGNOR_PROP, PX_CONSUMER_ASSIGNOR},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"topic.metadata.refresh.interval.ms", PX_CONSUMER_METADATA_MS},
        /* The prefetch, the bulk of the consumer's memory (README,
         * "Memory"). Past either queue bound librdkafka stops fetching
         * and looks again only about a second later (unless other
         * partitions' fetches wake it), so the queue must hold over a
         * second of merging or the consumer sits idle for part of every
         * second (librdkafka's 100000 messages: 7.0 s instead of 4.9 s
         * for a million observations). */
        {"queued.min.messages", f.queue_msgs},
        {"queued.max.messages.kbytes", f.queue_kb},
        {"fetch.max.bytes", f.fetch_max},
        {"max.partition.fetch.bytes", f.part_max},
        /* a partition read to its end holds no other back (px_consumer_align.c) */
        {"enable.partition.eof", cf->align_seconds > 0 ? "true" : "false"},
    };
    px_kafka_prop props[sizeof(consumer) / sizeof(consumer[0]) + 1];
    size_t n = sizeof(consumer) / sizeof(consumer[0]);
    memcpy(props, consumer, sizeof(consumer));
    if (cf->kafka_group_instance_id && cf->kafka_group_instance_id[0])
        props[n++] = (px_kafka_prop){"group.instance.id", cf->kafka_group_instance_id};
    c->k_rk = px_consumer_handle(c, RD_KAFKA_CONSUMER, props, n, "consumer", errbuf, errlen);
    if (!c->k_rk)
        return -1;
    c->rk = px_kafka_handle(c->k_rk);
    /* Errors, logs and rebalances are served by rd_kafka_consumer_poll();
     * with the alignment, each assigned partition's messages by its own
     * queue (px_consumer_align.c). */
    rd_kafka_poll_set_consumer(c->rk);
    c->lag = px_consumer_lag_create(c->rk);
    if (!c->lag) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    px_consumer_stores_preload(c);
    return 0;
}
