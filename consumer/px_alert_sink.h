/* px_alert_sink.h: the consumer's alert sinks (the Kafka topic, syslog,
 * the JSON-lines file), each delivering the outbox's alerts in seq order
 * and saying how far it got.
 *
 * The consumer offers each sink the outbox's alerts from
 * px_alert_sink_want() on (the sink copies them), calls px_alert_sink_poll()
 * on every pass of its loop, and records px_alert_sink_next() as the sink's
 * cursor in the store (px_store_sink_set): every alert below it is
 * delivered. A sink that cannot deliver (its receiver down, a full disk)
 * keeps what it was offered and tries again at later polls; the outbox
 * keeps the rest, so nothing is lost and the cursor only moves forward.
 * After a crash between delivery and bookkeeping an alert is delivered
 * again, with the same event.id.
 *
 * Never blocking the loop for long: sockets are non-blocking, a connect
 * has a deadline (PX_ALERT_CONNECT_MS), so has a TCP receiver's
 * acknowledgement (PX_ALERT_ACK_MS), a sink that failed is retried
 * after a back-off doubling from PX_ALERT_BACKOFF_MIN_MS to
 * PX_ALERT_BACKOFF_MAX_MS, and a Kafka produce never waits for room in
 * librdkafka's queue. Only the file sink's write and fdatasync are
 * blocking (a local disk's latency).
 *
 * Delivered means: Kafka acknowledged it (idempotent producer, acks=all);
 * syslog over TCP: the receiver's TCP acknowledged its last byte (the
 * socket's SIOCOUTQ); syslog over UDP: the datagram was sent (UDP says no
 * more); the file: its line was written whole and fdatasync'ed. An alert
 * refused for good (the broker refuses the message as invalid or too
 * large) is counted, logged and passed over, so that one alert cannot stop
 * a sink for ever: it stays in the outbox and the other sinks.
 *
 * Metrics, per sink (label sink="kafka" | "syslog" | "jsonl"):
 * pdnsx_alerts_delivered_total, pdnsx_alerts_errors_total (failed attempts:
 * a connect, a send, a write, a failed delivery report),
 * pdnsx_alerts_refused_total (passed over) and the gauge
 * pdnsx_alerts_outbox_depth (alerts of the outbox not yet delivered, as of
 * px_alert_sink_depth()).
 *
 * One thread: the consumer's (librdkafka's delivery reports are served by
 * the sink's poll). Logs through core/px_log.h, rate-limited. */
#ifndef PX_ALERT_SINK_H
#define PX_ALERT_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "kafka/px_kafka.h"
#include "obs/px_alert.h"
#include "query/px_alert_conf.h"

/* Longest a TCP connect may take before it is given up (and backed off). */
#define PX_ALERT_CONNECT_MS 5000
/* A TCP receiver that acknowledges nothing for this long while data
 * waits is given up: the connection is dropped, and what it had not
 * acknowledged goes again on the next. */
#define PX_ALERT_ACK_MS 30000
/* Back-off after a failure: doubles from min to max. */
#define PX_ALERT_BACKOFF_MIN_MS 250
#define PX_ALERT_BACKOFF_MAX_MS 30000
/* Alerts a sink holds at most (offered, not yet delivered): the rest wait
 * in the outbox. */
#define PX_ALERT_SINK_QUEUE 1024
/* How long a Kafka alert may wait for its acknowledgement before its
 * delivery counts as failed and it is produced again
 * (message.timeout.ms). */
#define PX_ALERT_KAFKA_TIMEOUT_MS 30000

typedef struct px_alert_sink px_alert_sink;

/* ---- every sink ----------------------------------------------------------------- */

/* The sink's name: "kafka", "syslog" or "jsonl" (its cursor's name, its
 * metrics' label). */
const char *px_alert_sink_name(const px_alert_sink *s);

/* Takes a copy of a. Alerts must come in increasing seq order; one below
 * px_alert_sink_want() is ignored (PX_OK: already offered or delivered).
 * PX_ERR_FULL: the sink holds PX_ALERT_SINK_QUEUE alerts, offer it again
 * after a poll; PX_ERR_INVAL: json_len over PX_ALERT_JSON_MAX or strings
 * missing; PX_ERR_NOMEM. */
px_err px_alert_sink_offer(px_alert_sink *s, const px_alert *a);

/* The seq of the next alert to offer: after the last one offered, or the
 * cursor when none is held. */
uint64_t px_alert_sink_want(const px_alert_sink *s);

/* Does what can be done now without waiting: connects, sends, writes,
 * serves delivery reports. now_ms: px_clock_mono_ms(). */
void px_alert_sink_poll(px_alert_sink *s, int64_t now_ms);

/* Every alert with a lower seq is delivered (or passed over): the cursor
 * to record. Starts at the next_seq given at creation. */
uint64_t px_alert_sink_next(const px_alert_sink *s);

/* Alerts offered and not yet delivered. */
size_t px_alert_sink_pending(const px_alert_sink *s);

/* Polls until everything offered is delivered or deadline_ms
 * (px_clock_mono_ms()) passes, waiting on the sink's I/O in between.
 * True when everything was delivered. For shutdown and tests: the
 * consumer's loop calls px_alert_sink_poll(). */
bool px_alert_sink_drain(px_alert_sink *s, int64_t deadline_ms);

/* SIGHUP: the file sink reopens its file (after log rotation); the syslog
 * sink reconnects; the Kafka sink does nothing. */
void px_alert_sink_reopen(px_alert_sink *s);

/* Sets the outbox depth gauge: alerts of the outboxes (one per partition
 * store) not yet delivered by this sink, counted by the caller
 * (px_consumer_alerts.c). */
void px_alert_sink_depth(px_alert_sink *s, uint64_t depth);
/* Points the sink at another outbox (each partition store numbers its own
 * alerts): its cursor becomes next_seq. Only while it holds nothing
 * (px_alert_sink_pending() 0), else PX_ERR_AGAIN. */
px_err px_alert_sink_restart(px_alert_sink *s, uint64_t next_seq);

/* Destroys the sink without waiting (px_alert_sink_drain first to
 * deliver what it holds). NULL is fine. */
void px_alert_sink_destroy(px_alert_sink *s);

/* ---- the sinks ------------------------------------------------------------------- */

/* Every constructor: next_seq is the cursor recorded in the store
 * (px_store_sink_get; 1 when none). PX_ERR_CONFIG with why saying what
 * (a bad URL, a file that cannot be opened, a property librdkafka
 * refuses), PX_ERR_NOMEM. */

/* The JSON-lines file at path, opened for appending (created 0640). */
px_err px_alert_file_create(const char *path, uint64_t next_seq, px_alert_sink **out, char *why,
                            size_t whylen);

/* Syslog to url (alerts.syslog: "udp://host:port" or "tcp://host:port",
 * an IPv6 host in brackets; a name is resolved here, once). */
px_err px_alert_syslog_create(const char *url, px_alert_syslog_body body, uint64_t next_seq,
                              px_alert_sink **out, char *why, size_t whylen);

/* Kafka topic `topic`, through the cluster of settings (kafka.brokers and
 * kafka.properties, the operator's winning over ours except
 * enable.idempotence, which exactly-once needs). Keyed by px_alert.key. */
px_err px_alert_kafka_create(const px_kafka_settings *settings, const char *topic,
                             uint64_t next_seq, px_alert_sink **out, char *why, size_t whylen);

/* ---- the syslog sink's parts, for its tests ---------------------------------------- */

/* Writes the RFC 5424 message of a (no framing, no newline) into out
 * (cap bytes); returns its length, which may exceed cap - 1 (then out holds
 * a NUL-terminated prefix). host: HOSTNAME ("-" when empty); pid: PROCID. */
size_t px_alert_syslog_format(const px_alert *a, px_alert_syslog_body body, const char *host,
                              long pid, char *out, size_t cap);

/* CEF escaping into out (cap bytes, NUL-terminated, cut at cap); returns
 * the escaped length. Header fields: \ and | escaped with \ (a newline
 * becomes a space: a header is one line). Extension values: \ and =
 * escaped with \, newline as \n, carriage return as \r. */
size_t px_alert_cef_header(const char *in, char *out, size_t cap);
size_t px_alert_cef_value(const char *in, char *out, size_t cap);

#endif
