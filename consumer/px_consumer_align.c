/* px_consumer_align.c: event-time alignment of the assigned partitions
 * (kafka.align_seconds), as Kafka Streams synchronises its inputs.
 *
 * The detectors judge the change feed in merge order, so a replay of the
 * same topics must merge in the same order whatever the batch cuts and
 * fetch timing: otherwise one organisation's old history read after the
 * others' newest data makes old domains look new. Kafka delivers each
 * partition in order, but partitions unevenly. So:
 *  - a partition's event time is the newest time_last it delivered, or
 *    that of the message it holds back;
 *  - a message more than kafka.align_seconds ahead of the slowest other
 *    partition that still has messages is held back (not merged, its
 *    offset not stored), and so are the later ones of its partition, up
 *    to PX_CONSUMER_ALIGN_HOLD: then the partition is paused (pausing
 *    drops what librdkafka prefetched of it; fetching resumes after the
 *    last held message). Held messages merge, oldest first, as soon as
 *    the others catch up;
 *  - a partition that reached its end (partition EOF, or its cached high
 *    watermark) holds nobody back; one not yet heard of holds every other
 *    back until its first message.
 * The slowest partition is never held, so reading never stops. At most
 * PX_CONSUMER_ALIGN_HOLD messages per assigned partition are held (with
 * the fetch responses they point into). Messages that do not decode carry
 * no event time: they pass, unless their partition holds messages. */
#include "core/px_buf.h"
#include "px_consumer_int.h"

static bool px_align_on(const px_consumer *c)
{
    return c->conf->align_seconds > 0;
}

static px_consumer_part *px_align_find(px_consumer *c, const char *topic, int32_t partition)
{
    if (c->last_part < c->n_parts) {
        px_consumer_part *p = &c->parts[c->last_part];
        if (p->partition == partition && strcmp(p->topic, topic) == 0)
            return p;
    }
    for (size_t i = 0; i < c->n_parts; i++) {
        px_consumer_part *p = &c->parts[i];
        if (p->partition == partition && strcmp(p->topic, topic) == 0) {
            c->last_part = i;
            return p;
        }
    }
    return NULL;
}

/* A partition's event time: its oldest held message's, else its newest
 * merged one's. */
static int64_t px_align_time(const px_consumer_part *p)
{
    return p->n ? p->held_time[p->head] : p->time;
}

/* The two earliest event times of the partitions still to be read, and
 * the partition of the first: the earliest of the others than any p is
 * then one of the two. INT64_MIN: not delivered yet; INT64_MAX: none. */
typedef struct px_align_low {
    int64_t t1, t2;
    const px_consumer_part *p1;
} px_align_low;

static px_align_low px_align_lows(const px_consumer *c)
{
    px_align_low l = {INT64_MAX, INT64_MAX, NULL};
    for (size_t i = 0; i < c->n_parts; i++) {
        const px_consumer_part *p = &c->parts[i];
        if (p->caught_up && !p->n)
            continue;
        int64_t t = p->known || p->n ? px_align_time(p) : INT64_MIN;
        if (t < l.t1) {
            l.t2 = l.t1;
            l.t1 = t;
            l.p1 = p;
        } else if (t < l.t2) {
            l.t2 = t;
        }
    }
    return l;
}

static bool px_align_ahead(const px_consumer *c, const px_align_low *l, const px_consumer_part *p,
                           int64_t t)
{
    int64_t min = l->p1 == p ? l->t2 : l->t1;
    return min == INT64_MIN || (min != INT64_MAX && t - min > c->conf->align_seconds);
}

static void px_align_pause(px_consumer *c, px_consumer_part *p, bool pause)
{
    if (p->paused == pause)
        return;
    p->paused = pause;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    rd_kafka_resp_err_t err =
        pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        err = l->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        px_warning("Kafka: cannot %s %s [%" PRId32 "]: %s", pause ? "pause" : "resume", p->topic,
                   p->partition, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

/* Queues m behind p's held messages; false: no memory. */
static bool px_align_push(px_consumer *c, px_consumer_part *p, rd_kafka_message_t *m, int64_t t)
{
    if (!p->held) {
        p->held = malloc(PX_CONSUMER_ALIGN_HOLD * sizeof(*p->held));
        p->held_time = malloc(PX_CONSUMER_ALIGN_HOLD * sizeof(*p->held_time));
        if (!p->held || !p->held_time) {
            free(p->held);
            free(p->held_time);
            p->held = NULL;
            p->held_time = NULL;
            return false;
        }
    }
    size_t i = (p->head + p->n++) % PX_CONSUMER_ALIGN_HOLD;
    p->held[i] = m;
    p->held_time[i] = t;
    c->n_held++;
    if (p->n == PX_CONSUMER_ALIGN_HOLD)
        px_align_pause(c, p, true);
    return true;
}

static rd_kafka_message_t *px_align_pop(px_consumer *c, px_consumer_part *p)
{
    rd_kafka_message_t *m = p->held[p->head];
    int64_t t = p->held_time[p->head];
    if (t != INT64_MIN && (!p->known || t > p->time))
        p->time = t;
    p->known = true;
    p->head = (p->head + 1) % PX_CONSUMER_ALIGN_HOLD;
    p->n--;
    c->n_held--;
    px_align_pause(c, p, false);
    return m;
}

px_align_verdict px_consumer_align_hold(px_consumer *c, rd_kafka_message_t *m,
                                        const px_avro_obs *obs)
{
    if (!px_align_on(c))
        return PX_ALIGN_MERGE;
    px_consumer_part *p = px_align_find(c, rd_kafka_topic_name(m->rkt), m->partition);
    if (!p)
        return PX_ALIGN_MERGE; /* not (or no longer) assigned: nothing to align it with */
    p->caught_up = false;
    p->next = m->offset + 1;
    /* the order within the partition comes first: behind its held ones */
    int64_t t = obs ? obs->time_last : INT64_MIN;
    if (p->n == 0 && obs) {
        px_align_low l = px_align_lows(c);
        if (!px_align_ahead(c, &l, p, t)) {
            if (!p->known || t > p->time)
                p->time = t;
            p->known = true;
            return PX_ALIGN_MERGE;
        }
    } else if (p->n == 0) {
        return PX_ALIGN_MERGE;
    }
    if (p->n == PX_CONSUMER_ALIGN_HOLD || !px_align_push(c, p, m, t == INT64_MIN ? p->time : t)) {
        /* queued by librdkafka before the pause took effect, or no memory:
         * in order, unaligned */
        while (p->n && !c->fatal && !c->retry_at_ms) {
            rd_kafka_message_t *h = px_align_pop(c, p);
            px_consumer_message(c, h, NULL);
            rd_kafka_message_destroy(h);
            px_consumer_commit_due(c);
        }
        return c->fatal || c->retry_at_ms ? PX_ALIGN_DROP : PX_ALIGN_MERGE;
    }
    return PX_ALIGN_HELD;
}

void px_consumer_align_eof(px_consumer *c, const rd_kafka_message_t *m)
{
    if (!px_align_on(c) || !m->rkt)
        return;
    px_consumer_part *p = px_align_find(c, rd_kafka_topic_name(m->rkt), m->partition);
    if (p && !p->paused)
        p->caught_up = true;
}

/* A partition whose next offset reached its cached high watermark has
 * nothing more to read now, EOF or not (an EOF dropped by a pause is not
 * sent again for the same offset). */
static void px_align_watermarks(px_consumer *c)
{
    for (size_t i = 0; i < c->n_parts; i++) {
        px_consumer_part *p = &c->parts[i];
        int64_t lo, hi;
        if (p->paused || p->caught_up ||
            rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            continue;
        /* next < 0: it starts at the beginning (nothing stored) */
        if (p->next >= 0 ? p->next >= hi : lo >= 0 && lo == hi)
            p->caught_up = true;
    }
}

void px_consumer_align_release(px_consumer *c, bool watermarks)
{
    if (!c->n_held)
        return;
    if (watermarks)
        px_align_watermarks(c);
    bool moved = true;
    while (moved && c->n_held && !c->fatal && !c->retry_at_ms) {
        moved = false;
        px_align_low l = px_align_lows(c);
        for (size_t i = 0; i < c->n_parts && !c->fatal && !c->retry_at_ms; i++) {
            px_consumer_part *p = &c->parts[i];
            if (!p->n || px_align_ahead(c, &l, p, p->held_time[p->head]))
                continue;
            /* the merge may reset every partition (a rewind): look again */
            rd_kafka_message_t *m = px_align_pop(c, p);
            px_consumer_message(c, m, NULL);
            rd_kafka_message_destroy(m);
            px_consumer_commit_due(c);
            moved = true;
            break;
        }
    }
}

/* Drops p's held messages (read again: their offsets are not stored). */
static void px_align_clear(px_consumer *c, px_consumer_part *p)
{
    while (p->n) {
        rd_kafka_message_destroy(p->held[p->head]);
        p->head = (p->head + 1) % PX_CONSUMER_ALIGN_HOLD;
        p->n--;
        c->n_held--;
    }
    p->head = 0;
}

/* resume: let its partition fetch again (a pause outlives a rebalance) */
static void px_align_drop(px_consumer *c, size_t i, bool resume)
{
    px_consumer_part *p = &c->parts[i];
    px_align_clear(c, p);
    if (resume)
        px_align_pause(c, p, false);
    free(p->held);
    free(p->held_time);
    free(p->topic);
    c->parts[i] = c->parts[--c->n_parts];
}

int px_consumer_align_assign(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    if (!px_align_on(c))
        return 0;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (px_align_find(c, tp->topic, tp->partition))
            continue;
        if (PX_ARRAY_RESERVE(c->parts, c->cap_parts, c->n_parts + 1, 16) != PX_OK)
            return -1;
        char *t = strdup(tp->topic);
        if (!t)
            return -1;
        c->parts[c->n_parts++] =
            (px_consumer_part){.topic = t, .partition = tp->partition, .next = tp->offset};
    }
    return 0;
}

void px_consumer_align_revoke(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    for (size_t i = 0; i < c->n_parts;) {
        bool gone = !parts;
        for (int j = 0; parts && j < parts->cnt && !gone; j++)
            gone = parts->elems[j].partition == c->parts[i].partition &&
                   strcmp(parts->elems[j].topic, c->parts[i].topic) == 0;
        if (gone)
            px_align_drop(c, i, parts != NULL);
        else
            i++;
    }
}

void px_consumer_align_reset(px_consumer *c, const rd_kafka_topic_partition_list_t *parts)
{
    for (size_t i = 0; i < c->n_parts; i++) {
        px_consumer_part *p = &c->parts[i];
        px_align_clear(c, p);
        px_align_pause(c, p, false);
        p->known = p->caught_up = false;
        p->time = 0;
    }
    for (int i = 0; i < parts->cnt; i++) {
        px_consumer_part *p = px_align_find(c, parts->elems[i].topic, parts->elems[i].partition);
        if (p)
            p->next = parts->elems[i].offset;
    }
}
