/* alert_fixture.h: alerts as the outbox hands them to the sinks, for the
 * sinks' tests (test_alert_*). */
#ifndef PXT_ALERT_FIXTURE_H
#define PXT_ALERT_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "obs/px_alert.h"
#include "px_alert_sink.h"

/* Event time of alert 1 (2026-11-26T18:00:00Z); alert n is n seconds later. */
#define PXT_ALERT_T0 1795716000

typedef struct pxt_alert {
    px_alert a;
    char id[33];
    char json[PX_ALERT_JSON_MAX + 64];
} pxt_alert;

/* Alert seq with its seq in the JSON (pdnsx.seq), padded with pad bytes of
 * evidence. */
static inline const px_alert *pxt_alert_make(pxt_alert *x, uint64_t seq, int severity, size_t pad)
{
    snprintf(x->id, sizeof(x->id), "%032llx", (unsigned long long)seq * 0x9e3779b97f4a7c15ull);
    int n = snprintf(x->json, sizeof(x->json),
                     "{\"@timestamp\":\"...\",\"event\":{\"kind\":\"alert\",\"id\":\"%s\","
                     "\"severity\":%d},\"rule\":{\"name\":\"pdnsx.new_domain_burst\"},"
                     "\"dns\":{\"question\":{\"name\":\"login.paypa1-secure.net\","
                     "\"registered_domain\":\"paypa1-secure.net\"}},\"pdnsx\":{\"seq\":%llu,"
                     "\"pad\":\"",
                     x->id, severity, (unsigned long long)seq);
    for (size_t i = 0; i < pad && (size_t)n + 3 < sizeof(x->json); i++)
        x->json[n++] = 'x';
    memcpy(x->json + n, "\"}}", 4);
    x->a = (px_alert){.seq = seq,
                      .time = PXT_ALERT_T0 + (int64_t)seq,
                      .rule = "pdnsx.new_domain_burst",
                      .key = "paypa1-secure.net",
                      .id = x->id,
                      .json = x->json,
                      .json_len = strlen(x->json)};
    return &x->a;
}

/* Offers alerts from..to (pad bytes of evidence each) to s; the first
 * error, or PX_OK. */
static inline px_err pxt_alert_offer(px_alert_sink *s, uint64_t from, uint64_t to, size_t pad)
{
    pxt_alert x;
    for (uint64_t seq = from; seq <= to; seq++) {
        px_err err = px_alert_sink_offer(s, pxt_alert_make(&x, seq, 5, pad));
        if (err != PX_OK)
            return err;
    }
    return PX_OK;
}

#endif
