/* px_alert.h: an alert as the outbox keeps it and the sinks deliver it
 * (docs/DETECTION.md; the JSON is docs/INTERFACE.md, "Alerts"). Detection
 * decides it, the store keeps it in its outbox in the transaction that
 * decided it, the consumer's sinks deliver it, pdnsx-query lists it. */
#ifndef PX_ALERT_H
#define PX_ALERT_H

#include <stddef.h>
#include <stdint.h>

/* Longest alert JSON kept (bytes); detection cuts its evidence to fit. */
#define PX_ALERT_JSON_MAX 32768

typedef struct px_alert {
    uint64_t seq;     /* the outbox's number: from 1, increasing, never reused */
    int64_t time;     /* event time (epoch seconds) of the observation that decided it */
    const char *rule; /* "pdnsx.new_domain_burst", "pdnsx.geo_shift" (NUL-terminated) */
    const char *key;  /* registered domain, canonical: the Kafka key, the subject's partition */
    const char *id;   /* event.id: the same for a re-delivery and for a replay */
    const char *json; /* the alert JSON, one line, no newline; json_len bytes */
    size_t json_len;
} px_alert;

#endif
