/* detect_sim.h: a test double of the store's side of the change feed for
 * detect/'s tests: an in-memory px_change_txn (state and outbox, rolled
 * back with an aborted transaction) and a small store that turns
 * observations into the changes the real one emits (records in key order
 * with their before and after, then registered domains with their
 * per-organisation sightings). The real px_change_txn is the store's,
 * tested in tests/unit/store. */
#ifndef DETECT_SIM_H
#define DETECT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detect/px_detect.h"

typedef struct sim sim;

typedef struct sim_alert {
    uint64_t seq;
    int64_t time;
    char *rule, *key, *id, *json;
    size_t json_len;
} sim_alert;

sim *sim_create(void);
void sim_destroy(sim *s);

/* Queues an observation for the next transaction. type "A", "AAAA",
 * "CNAME", ...; country NULL: no GeoIP answer; asn -1: unknown. */
void sim_obs(sim *s, const char *org, const char *rrname, const char *type, const char *rdata,
             int64_t first, int64_t last, const char *country, int64_t asn);

/* One write transaction of the queued observations through d: changes,
 * prepare, commit (end). abort: rolled back instead (state and alerts as
 * before, d told so). Returns prepare's result. */
px_err sim_commit(sim *s, px_detect *d);
px_err sim_abort(sim *s, px_detect *d);

size_t sim_alerts(const sim *s);
const sim_alert *sim_alert_at(const sim *s, size_t i);
size_t sim_state_keys(const sim *s);
/* The state's value for key (NULL if none). */
const void *sim_state(const sim *s, const void *key, size_t klen, size_t *vlen);
/* Makes the next txn call fail with err (PX_OK: none). */
void sim_fail_next(sim *s, px_err err);

#endif
