/* px_producer.h: the pdnsx-producer daemon as a library (main.c is thin):
 * inputs in threads -> pipeline -> publisher, the run loop, signals and
 * the exit status docs/INTERFACE.md "Exit status and signals" promises. */
#ifndef PX_PRODUCER_H
#define PX_PRODUCER_H

#include <signal.h>
#include <stdint.h>

#include "core/px_clock.h"
#include "producer/px_producer_conf.h"

typedef struct px_producer px_producer;

typedef struct px_producer_opts {
    /* Wall clock, used only to flush windows of live inputs that went
     * quiet; clock.wall_s NULL: CLOCK_REALTIME. Data times are event time. */
    px_clock clock;
    /* Signals the run loop waits for; the caller has blocked them in every
     * thread. SIGTERM/SIGINT end the run, SIGHUP is logged. */
    const sigset_t *signals;
    /* A signal in `signals` (e.g. SIGUSR1) that input threads send to the
     * run loop when they end, so that a file run ends at once; 0: none
     * (the loop notices within 100 ms). */
    int wake_signal;
    /* How long shutdown waits for Kafka to acknowledge (ms). */
    int flush_timeout_ms;
} px_producer_opts;

/* Opens every input and connects the publisher, so that errors show at
 * start-up. conf must outlive the producer. NULL on failure (message in
 * errbuf). */
px_producer *px_producer_create(const px_producer_conf *conf, const px_producer_opts *opts,
                                char *errbuf, size_t errlen);
/* Runs until every file input ended (and no live input exists) or a
 * terminating signal arrives; then flushes, delivers and returns the exit
 * status: 0 when everything was acknowledged (or, after a signal, kept in
 * the spool) and every input ended without error, 1 otherwise (a damaged
 * file is an input error, whether reading went on past it or not). */
int px_producer_run(px_producer *p);
void px_producer_destroy(px_producer *p); /* NULL is fine */

#endif
