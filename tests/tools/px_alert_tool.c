/* px-alert-tool: drives the consumer's alert sinks as the consumer will
 * (offer, poll, cursor), for the integration test against a real rsyslog
 * (tests/integration/test_alert_rsyslog.py).
 *
 *   px-alert-tool [--syslog URL] [--cef] [--jsonl PATH] --first N --count N
 *                 [--pad BYTES] [--deadline-ms MS]
 *
 * Offers alerts first..first+count-1 (tests/unit/consumer/alert_fixture.h)
 * to every sink named, polls until each has delivered them all or the
 * deadline passes, and prints "SINK next=N" per sink. Exit 0 when every
 * sink delivered everything, 1 otherwise, 2 on usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/consumer/alert_fixture.h"
#include "core/px_clock.h"
#include "core/px_log.h"
#include "px_alert_sink.h"

int main(int argc, char **argv)
{
    const char *syslog_url = NULL, *jsonl = NULL;
    px_alert_syslog_body body = PX_ALERT_SYSLOG_JSON;
    uint64_t first = 1, count = 0;
    size_t pad = 0;
    int64_t deadline_ms = 30000;
    static const struct option opts[] = {
        {"syslog", required_argument, NULL, 's'},      {"cef", no_argument, NULL, 'c'},
        {"jsonl", required_argument, NULL, 'j'},       {"first", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'n'},       {"pad", required_argument, NULL, 'p'},
        {"deadline-ms", required_argument, NULL, 'd'}, {NULL, 0, NULL, 0},
    };
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 's':
            syslog_url = optarg;
            break;
        case 'c':
            body = PX_ALERT_SYSLOG_CEF;
            break;
        case 'j':
            jsonl = optarg;
            break;
        case 'f':
            first = strtoull(optarg, NULL, 10);
            break;
        case 'n':
            count = strtoull(optarg, NULL, 10);
            break;
        case 'p':
            pad = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            deadline_ms = strtoll(optarg, NULL, 10);
            break;
        default:
            return 2;
        }
    }
    if (count == 0 || first == 0 || (!syslog_url && !jsonl)) {
        fprintf(stderr, "usage: px-alert-tool [--syslog URL] [--cef] [--jsonl PATH] "
                        "--first N --count N [--pad BYTES] [--deadline-ms MS]\n");
        return 2;
    }
    px_log_set_ident("px-alert-tool");
    px_alert_sink *sinks[2] = {NULL, NULL};
    char why[512] = "";
    if (syslog_url &&
        px_alert_syslog_create(syslog_url, body, first, &sinks[0], why, sizeof(why)) != PX_OK) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    if (jsonl && px_alert_file_create(jsonl, first, &sinks[1], why, sizeof(why)) != PX_OK) {
        fprintf(stderr, "%s\n", why);
        px_alert_sink_destroy(sinks[0]);
        return 1;
    }
    static pxt_alert x;
    int64_t deadline = px_clock_mono_ms() + deadline_ms;
    bool ok = true;
    for (int i = 0; i < 2; i++) {
        if (!sinks[i])
            continue;
        for (uint64_t seq = first; seq < first + count;) {
            px_err err = px_alert_sink_offer(sinks[i], pxt_alert_make(&x, seq, 5, pad));
            if (err == PX_OK)
                seq++;
            else if (err != PX_ERR_FULL || !px_alert_sink_drain(sinks[i], deadline))
                break;
        }
        bool done = px_alert_sink_drain(sinks[i], deadline) &&
                    px_alert_sink_next(sinks[i]) == first + count;
        printf("%s next=%llu\n", px_alert_sink_name(sinks[i]),
               (unsigned long long)px_alert_sink_next(sinks[i]));
        ok = ok && done;
        px_alert_sink_destroy(sinks[i]);
    }
    return ok ? 0 : 1;
}
