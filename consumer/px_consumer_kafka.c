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
        px_err err = px_store_get_offset(c->store, tp->topic, tp->partition, &next);
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

/* After an abandoned batch, read its messages again from where the store
 * stands. */
void px_consumer_rewind(px_consumer *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
        return;
    if (parts->cnt > 0) {
        px_consumer_offsets_from_store(c, parts);
        rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, parts, 10000);
        if (e) {
            px_error("Kafka: cannot rewind after an abandoned batch: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            c->fatal = true;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ---- Kafka callbacks -------------------------------------------------------------- */

static void px_consumer_assign(px_consumer *c, rd_kafka_t *rk,
                               rd_kafka_topic_partition_list_t *parts, bool coop)
{
    px_consumer_offsets_from_store(c, parts);
    for (int i = 0; i < parts->cnt; i++)
        px_info("assigned %s [%" PRId32 "] from offset %" PRId64 "%s", parts->elems[i].topic,
                parts->elems[i].partition, parts->elems[i].offset,
                parts->elems[i].offset == RD_KAFKA_OFFSET_BEGINNING ? " (beginning)" : "");
    c->assigned_once = true;
    c->idle_since_ms = px_consumer_coarse_ms();
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
}

static void px_consumer_revoke(px_consumer *c, rd_kafka_t *rk,
                               rd_kafka_topic_partition_list_t *parts, bool coop)
{
    /* The next owner resumes from the store: commit what we hold first. */
    bool failed = px_consumer_commit(c, false) < 0;
    px_info("revoked %d partition(s)", parts->cnt);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, parts);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_assign(rk, NULL);
    }
    if (failed) /* partitions we keep go back to where the store stands */
        px_consumer_rewind(c);
}

static void px_consumer_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    px_consumer *c = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        px_consumer_assign(c, rk, parts, coop);
    else
        px_consumer_revoke(c, rk, parts, coop);
}

/* Failures are summed up per batch (px_consumer_dlq_settled): an outage
 * fails every copy, one line each would flood the log. */
static void px_consumer_dlq_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    px_consumer *c = opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        px_debug("dead-letter topic: delivery failed: %s", rd_kafka_err2str(m->err));
    px_dlq_delivered(c->dl, m);
}

static void px_consumer_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    px_log(level <= 3   ? PX_LOG_ERROR
           : level == 4 ? PX_LOG_WARNING
           : level <= 6 ? PX_LOG_INFO
                        : PX_LOG_DEBUG,
           "librdkafka %s: %s", fac, buf);
}

static void px_consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    px_consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        px_error("Kafka: fatal: %s", why);
        c->fatal = true;
        return;
    }
    /* Broker outages are transient: librdkafka retries. */
    px_warning("Kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* ---- set-up ----------------------------------------------------------------------- */

static rd_kafka_conf_t *px_consumer_kafka_conf(px_consumer *c, const char *const (*ours)[2],
                                               size_t n, char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Our choices first; kafka.properties last so an operator wins, except
     * over the memory bound, which has settings of its own. */
    for (size_t i = 0; i < n; i++)
        if (rd_kafka_conf_set(conf, ours[i][0], ours[i][1], errbuf, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    for (size_t i = 0; i < c->conf->n_kafka_properties; i++) {
        const px_consumer_kv *kv = &c->conf->kafka_properties[i];
        const char *setting = px_consumer_conf_memory_setting(kv->key);
        if (setting) {
            snprintf(errbuf, errlen, "kafka.properties: %s bounds the consumer's memory: set %s",
                     kv->key, setting);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, kv->key, kv->value, errbuf, errlen) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_log_cb(conf, px_consumer_log_cb);
    rd_kafka_conf_set_error_cb(conf, px_consumer_error_cb);
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
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

int px_consumer_kafka(px_consumer *c, char *errbuf, size_t errlen)
{
    char timeout[24], max_bytes[24], queue_msgs[24], queue_kb[24], fetch_max[24];
    snprintf(timeout, sizeof(timeout), "%d", c->opts.dlq_timeout_ms);
    snprintf(max_bytes, sizeof(max_bytes), "%zu", c->dlq_max);
    const px_consumer_conf *cf = c->conf;
    snprintf(queue_msgs, sizeof(queue_msgs), "%" PRId64,
             cf->fetch_queue_messages ? cf->fetch_queue_messages
                                      : PX_QUERY_CONF_FETCH_QUEUE_MESSAGES);
    snprintf(queue_kb, sizeof(queue_kb), "%" PRId64,
             cf->fetch_queue_kbytes ? cf->fetch_queue_kbytes : PX_QUERY_CONF_FETCH_QUEUE_KBYTES);
    snprintf(fetch_max, sizeof(fetch_max), "%" PRId64,
             (cf->fetch_max_kbytes ? cf->fetch_max_kbytes : PX_QUERY_CONF_FETCH_MAX_KBYTES) * 1024);
    const char *const consumer[][2] = {
        {"bootstrap.servers", c->conf->kafka_brokers},
        {"group.id", c->conf->kafka_group},
        {"client.id", "pdnsx-consumer"},
        /* Equal partition counts and range assignment: partition i of
         * every org topic goes to the same member (co-partitioning). */
        {"partition.assignment.strategy", "range"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"topic.metadata.refresh.interval.ms", PX_CONSUMER_METADATA_MS},
        /* The prefetch, the bulk of the consumer's memory (README,
         * "Memory"). The high-level consumer counts both over its one
         * queue, all partitions together: past either, librdkafka stops
         * fetching and looks again only about a second later, so the
         * queue must hold over a second of merging or the consumer sits
         * idle for part of every second (librdkafka's 100000 messages:
         * 7.0 s instead of 4.9 s for a million observations). */
        {"queued.min.messages", queue_msgs},
        {"queued.max.messages.kbytes", queue_kb},
        {"fetch.max.bytes", fetch_max},
    };
    const char *const producer[][2] = {
        {"bootstrap.servers", c->conf->kafka_brokers},
        {"client.id", "pdnsx-consumer-dlq"},
        {"enable.idempotence", "true"},
        {"linger.ms", "5"},
        {"message.timeout.ms", timeout},
        /* Also caps the batches librdkafka packs copies into, so that a
         * topic whose max.message.bytes is dlq.max_bytes takes them. */
        {"message.max.bytes", max_bytes},
    };
    char kerr[512] = "";
    rd_kafka_conf_t *conf = px_consumer_kafka_conf(
        c, consumer, sizeof(consumer) / sizeof(consumer[0]), kerr, sizeof(kerr));
    if (conf) {
        rd_kafka_conf_set_rebalance_cb(conf, px_consumer_rebalance_cb);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, kerr, sizeof(kerr));
        if (!c->rk)
            rd_kafka_conf_destroy(conf);
    }
    if (!c->rk) {
        snprintf(errbuf, errlen, "Kafka consumer: %s", kerr);
        return -1;
    }
    /* Errors, logs and rebalances are served by rd_kafka_consumer_poll(). */
    rd_kafka_poll_set_consumer(c->rk);
    conf = px_consumer_kafka_conf(c, producer, sizeof(producer) / sizeof(producer[0]), kerr,
                                  sizeof(kerr));
    if (conf) {
        px_consumer_dlq_limit(c, conf);
        rd_kafka_conf_set_dr_msg_cb(conf, px_consumer_dlq_dr_cb);
        c->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof(kerr));
        if (!c->dlq)
            rd_kafka_conf_destroy(conf);
    }
    if (!c->dlq) {
        snprintf(errbuf, errlen, "Kafka dead-letter producer: %s", kerr);
        return -1;
    }
    c->dl = px_dlq_create(c->dlq, PX_CONSUMER_DLQ_TOPIC, c->dlq_max, c->opts.dlq_timeout_ms);
    if (!c->dl) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    px_consumer_preload_marks(c);
    return 0;
}
