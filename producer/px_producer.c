#include "producer/px_producer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns/px_dns_msg.h"
#include "core/px_log.h"
#include "core/px_metrics.h"
#include "px_input.h"
#include "px_pipeline.h"
#include "px_publish.h"

typedef struct px_producer_input_run {
    px_input *input;
    pthread_t waker; /* the run loop's thread */
    int wake_signal;
    pthread_t thread;
    bool started;
    _Atomic bool done;
    px_err result;
    const char *name;
    bool file; /* a file input: it ends by itself */
} px_producer_input_run;

struct px_producer {
    const px_producer_conf *conf;
    px_producer_opts opts;
    px_pipeline *pipeline;
    px_publish *publish;
    px_metrics_server *metrics;
    px_producer_input_run *inputs;
    size_t n_inputs;
    bool all_files;
    uint16_t *rrtypes;
    px_addr *wildcards;
    /* idle flush of live inputs */
    int64_t seen_event_time, seen_at_wall;
};

/* The logger the inputs report through (they do not log themselves);
 * level is syslog-style. */
static void px_producer_lib_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    px_log(px_log_level_from_syslog(level), "%s", msg);
}

static px_err px_producer_out(void *ctx, const char *key, size_t klen, const uint8_t *val,
                              size_t vlen)
{
    return px_publish_send(ctx, key, klen, val, vlen);
}

static int px_producer_publisher(px_producer *p, char *errbuf, size_t errlen)
{
    const px_producer_conf *c = p->conf;
    px_publish_conf pc = {
        .kafka = &c->kafka,
        .topic = c->kafka_topic,
        .infinite_timeout = !p->all_files,
        .spool_path = c->spool_path,
        .spool_max_bytes = (uint64_t)c->spool_max_bytes,
        .null_sink = !c->kafka_enabled,
        .queue_wait_ms = c->kafka_max_block_ms,
        /* A live input must not wait on Kafka beyond the bound; files may. */
        .drop_when_blocked = !p->all_files,
        .log_fn = px_kafka_to_px_log,
    };
    p->publish = px_publish_create(&pc, errbuf, errlen);
    return p->publish ? 0 : -1;
}

/* Turns the textual privacy settings into what the filter takes. */
static int px_producer_filter_conf(px_producer *p, px_filter_conf *fc, char *errbuf, size_t errlen)
{
    const px_producer_conf *c = p->conf;
    p->rrtypes = calloc(c->n_rrtypes + 1, sizeof(*p->rrtypes));
    p->wildcards = calloc(c->n_wildcard_servers + 1, sizeof(*p->wildcards));
    if (!p->rrtypes || !p->wildcards) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->n_rrtypes; i++) {
        int t = px_dns_type_parse(c->rrtypes[i]);
        if (t < 0) {
            snprintf(errbuf, errlen, "privacy.rrtypes: unknown type '%s'", c->rrtypes[i]);
            return -1;
        }
        p->rrtypes[i] = (uint16_t)t;
    }
    for (size_t i = 0; i < c->n_wildcard_servers; i++) {
        if (px_addr_parse(c->wildcard_servers[i], &p->wildcards[i]) != PX_OK) {
            snprintf(errbuf, errlen, "privacy.wildcard_servers: bad address '%s'",
                     c->wildcard_servers[i]);
            return -1;
        }
    }
    *fc = (px_filter_conf){
        .rrtypes = p->rrtypes,
        .n_rrtypes = c->n_rrtypes,
        .errors = c->errors,
        .private_answers = c->private_answers,
        .local_zones = c->local_zones,
        .n_local_zones = c->n_local_zones,
        .wildcard_servers = p->wildcards,
        .n_wildcard_servers = c->n_wildcard_servers,
    };
    return 0;
}

static int px_producer_pipeline(px_producer *p, char *errbuf, size_t errlen)
{
    px_pipeline_conf pc = {
        .org = p->conf->org,
        .sensor = p->conf->sensor,
        .window = p->conf->window,
        .out = px_producer_out,
        .out_ctx = p->publish,
    };
    if (px_producer_filter_conf(p, &pc.filter, errbuf, errlen) < 0)
        return -1;
    px_err err;
    p->pipeline = px_pipeline_create(&pc, &err);
    if (!p->pipeline) {
        snprintf(errbuf, errlen, "pipeline: %s", px_strerror(err));
        return -1;
    }
    return 0;
}

static uint32_t px_producer_dnstap_mask(const px_producer_conf *c)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < c->n_dnstap_types; i++)
        mask |= px_dnstap_type_bit(c->dnstap_types[i]);
    return mask ? mask : PX_DT_ALL_RESPONSES;
}

static bool px_producer_is_file(px_input_type type)
{
    return type == PX_INPUT_DNSTAP_FILE || type == PX_INPUT_PCAP_FILE;
}

static int px_producer_open_inputs(px_producer *p, char *errbuf, size_t errlen)
{
    const px_producer_conf *c = p->conf;
    p->inputs = calloc(c->n_inputs ? c->n_inputs : 1, sizeof(*p->inputs));
    if (!p->inputs) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->n_inputs; i++) {
        const px_producer_input *ci = &c->inputs[i];
        px_input_conf ic = {
            .type = ci->type,
            .path = ci->path,
            .listen = ci->listen,
            .interface = ci->interface,
            .filter = ci->filter,
            .dnstap_types = px_producer_dnstap_mask(c),
            .max_connections = c->dnstap_max_connections,
            .handshake_ms = c->dnstap_handshake_ms,
            .idle_ms = (uint64_t)c->dnstap_idle_seconds * 1000,
            .log_fn = px_producer_lib_log,
        };
        char why[512] = "";
        px_input *in = px_input_create(&ic, px_pipeline_event, p->pipeline, why, sizeof(why));
        if (!in) {
            snprintf(errbuf, errlen, "input %zu (%s): %s", i + 1, ci->type_name, why);
            return -1;
        }
        p->inputs[p->n_inputs].input = in;
        p->inputs[p->n_inputs].name = ci->type_name;
        p->inputs[p->n_inputs].file = px_producer_is_file(ci->type);
        p->n_inputs++;
    }
    return 0;
}

static bool px_producer_conf_all_files(const px_producer_conf *c)
{
    for (size_t i = 0; i < c->n_inputs; i++)
        if (!px_producer_is_file(c->inputs[i].type))
            return false;
    return true;
}

/* "WHAT: listening on HOST:PORT" with the port actually bound, so that a
 * setting of port 0 can be used (tests do) and an operator sees where. */
static void px_producer_log_listen(const char *what, const char *hostport, uint16_t port)
{
    const char *colon = strrchr(hostport, ':');
    int host_len = colon ? (int)(colon - hostport) : (int)strlen(hostport);
    px_info("%s: listening on %.*s:%u", what, host_len, hostport, (unsigned)port);
}

px_producer *px_producer_create(const px_producer_conf *conf, const px_producer_opts *opts,
                                char *errbuf, size_t errlen)
{
    px_producer *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    p->conf = conf;
    p->opts = *opts;
    p->all_files = px_producer_conf_all_files(conf);
    if (conf->metrics_listen) {
        /* the endpoint's warnings about rejected clients (rate-limited) */
        px_metrics_conf mc = {
            .listen = conf->metrics_listen, .limits = conf->http, .report = px_report_to_log};
        if (px_metrics_start(&mc, &p->metrics, errbuf, errlen) != PX_OK)
            goto fail;
        px_producer_log_listen("metrics", conf->metrics_listen, px_metrics_server_port(p->metrics));
    }
    if (px_producer_publisher(p, errbuf, errlen) < 0 ||
        px_producer_pipeline(p, errbuf, errlen) < 0 ||
        px_producer_open_inputs(p, errbuf, errlen) < 0)
        goto fail;
    return p;
fail:
    px_producer_destroy(p);
    return NULL;
}

void px_producer_destroy(px_producer *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_inputs; i++)
        px_input_destroy(p->inputs[i].input);
    free(p->inputs);
    px_pipeline_destroy(p->pipeline);
    px_publish_destroy(p->publish);
    px_metrics_server_stop(p->metrics);
    free(p->rrtypes);
    free(p->wildcards);
    free(p);
}

static void *px_producer_input_thread(void *arg)
{
    px_producer_input_run *r = arg;
    r->result = px_input_run(r->input);
    atomic_store(&r->done, true);
    if (r->wake_signal)
        pthread_kill(r->waker, r->wake_signal);
    return NULL;
}

static int px_producer_start_inputs(px_producer *p)
{
    /* Input threads must not take the daemon's signals: the run loop
     * waits for them with sigtimedwait(). The caller blocked them. */
    for (size_t i = 0; i < p->n_inputs; i++) {
        px_producer_input_run *r = &p->inputs[i];
        r->waker = pthread_self();
        r->wake_signal = p->opts.wake_signal;
        int e = pthread_create(&r->thread, NULL, px_producer_input_thread, r);
        if (e != 0) {
            px_error("input %zu: cannot start thread: %s", i + 1, strerror(e));
            return -1;
        }
        r->started = true;
    }
    return 0;
}

/* Stops and joins the inputs; returns how many ended with an error (a
 * damaged file among them: it has said where and why). */
static size_t px_producer_stop_inputs(px_producer *p)
{
    size_t failed = 0;
    for (size_t i = 0; i < p->n_inputs; i++)
        if (p->inputs[i].started)
            px_input_stop(p->inputs[i].input);
    for (size_t i = 0; i < p->n_inputs; i++) {
        px_producer_input_run *r = &p->inputs[i];
        if (!r->started)
            continue;
        pthread_join(r->thread, NULL);
        r->started = false;
        if (r->result == PX_OK || r->result == PX_ERR_EOF)
            continue;
        failed++;
        if (r->result == PX_ERR_MALFORMED && r->file)
            px_error("input %zu (%s): the file is damaged (where, and what was lost, is logged "
                     "above)",
                     i + 1, r->name);
        else if (r->result == PX_ERR_TRUNC && r->file)
            px_error("input %zu (%s): the file is cut short: it ends inside a record", i + 1,
                     r->name);
        else
            px_error("input %zu (%s) failed: %s", i + 1, r->name, px_strerror(r->result));
    }
    return failed;
}

static bool px_producer_inputs_done(px_producer *p)
{
    for (size_t i = 0; i < p->n_inputs; i++)
        if (!atomic_load(&p->inputs[i].done))
            return false;
    return true;
}

/* The window's figures: its memory bound (window.max_entries) at work. */
static void px_producer_window_metrics(const px_pipeline_stats *st)
{
    static px_metric *m_keys, *m_entries, *m_bytes, *m_flushes, *m_early, *m_withheld;
    if (!m_keys) {
        m_keys = px_metric_gauge("pdnsx_window_keys",
                                 "Keys the window holds, counted in the open window or not");
        m_entries = px_metric_gauge("pdnsx_window_entries", "Keys counted in the open window");
        m_bytes = px_metric_gauge("pdnsx_window_bytes", "Bytes of memory the window holds");
        m_flushes = px_metric_counter("pdnsx_window_flushes_total", "Windows flushed");
        m_early = px_metric_counter("pdnsx_window_early_flushes_total",
                                    "Windows flushed early: window.max_entries keys reached");
        m_withheld =
            px_metric_counter("pdnsx_observations_withheld_total",
                              "Observations not published: fewer clients than privacy.min_clients");
    }
    px_metric_set(m_keys, (int64_t)st->window_keys);
    px_metric_set(m_entries, (int64_t)st->window_entries);
    px_metric_set(m_bytes, (int64_t)st->window_bytes);
    px_metric_set(m_flushes, (int64_t)st->window.flushes);
    px_metric_set(m_early, (int64_t)st->window.early_flushes);
    px_metric_set(m_withheld, (int64_t)st->window.withheld);
}

/* Metrics mirror the pipeline's statistics (kept under its lock, cheap to
 * copy) rather than counting atomically per packet. */
static void px_producer_metrics(px_producer *p, const px_pipeline_stats *st)
{
    static px_metric *m_resp, *m_malf, *m_malf_rr, *m_rec, *m_pub, *m_outerr;
    static px_metric *m_msg[PX_DROP__COUNT], *m_rr[PX_DROP__COUNT];
    if (!m_resp) {
        m_resp = px_metric_counter("pdnsx_responses_total", "DNS responses received");
        m_malf = px_metric_counter("pdnsx_responses_malformed_total",
                                   "Responses whose header or question did not parse");
        m_malf_rr = px_metric_counter("pdnsx_records_malformed_total",
                                      "Records skipped for malformed rdata or lost framing");
        m_rec = px_metric_counter("pdnsx_records_total", "Records that entered the window");
        m_pub = px_metric_counter("pdnsx_observations_published_total",
                                  "Aggregated observations handed to Kafka");
        m_outerr = px_metric_counter("pdnsx_observations_failed_total",
                                     "Observations that could not be encoded or queued");
        for (int i = 1; i < PX_DROP__COUNT; i++) {
            char name[128];
            snprintf(name, sizeof(name), "pdnsx_responses_dropped_total{reason=\"%s\"}",
                     px_drop_name((px_drop)i));
            m_msg[i] = px_metric_counter(name, "Whole responses dropped by the privacy filter");
            snprintf(name, sizeof(name), "pdnsx_records_dropped_total{reason=\"%s\"}",
                     px_drop_name((px_drop)i));
            m_rr[i] = px_metric_counter(name, "Records dropped by the privacy filter");
        }
    }
    (void)p;
    px_producer_window_metrics(st);
    px_metric_set(m_resp, (int64_t)st->events);
    px_metric_set(m_malf, (int64_t)st->malformed);
    px_metric_set(m_malf_rr, (int64_t)st->malformed_rrs);
    px_metric_set(m_rec, (int64_t)st->recorded);
    px_metric_set(m_pub, (int64_t)st->published);
    px_metric_set(m_outerr, (int64_t)st->output_errors);
    for (int i = 1; i < PX_DROP__COUNT; i++) {
        px_metric_set(m_msg[i], (int64_t)st->dropped_msgs[i]);
        px_metric_set(m_rr[i], (int64_t)st->dropped_rrs[i]);
    }
}

/* Live inputs that go quiet must still flush their window: advance event
 * time by the wall time that passed since the last event. */
static void px_producer_idle_tick(px_producer *p, const px_pipeline_stats *st)
{
    int64_t wall = px_clock_now_s(&p->opts.clock);
    if (st->last_event_time != p->seen_event_time) {
        p->seen_event_time = st->last_event_time;
        p->seen_at_wall = wall;
        return;
    }
    if (p->seen_event_time > 0 && wall > p->seen_at_wall)
        px_pipeline_tick(p->pipeline, p->seen_event_time + (wall - p->seen_at_wall));
}

/* Waits up to 100 ms for a signal; returns the signal or 0. */
static int px_producer_wait_signal(px_producer *p)
{
    if (!p->opts.signals) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        return 0;
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    int sig = sigtimedwait(p->opts.signals, NULL, &ts);
    return sig > 0 ? sig : 0;
}

static void px_producer_summary(px_producer *p)
{
    px_pipeline_stats st;
    px_publish_stats ps;
    px_pipeline_get_stats(p->pipeline, &st);
    px_publish_get_stats(p->publish, &ps);
    px_producer_metrics(p, &st);
    px_info("responses %llu (malformed %llu), records %llu, observations %llu; Kafka: "
            "delivered %llu, failed %llu, spooled %llu, dropped (queue full) %llu",
            (unsigned long long)st.events, (unsigned long long)st.malformed,
            (unsigned long long)st.recorded, (unsigned long long)st.published,
            (unsigned long long)ps.delivered, (unsigned long long)ps.failed,
            (unsigned long long)ps.spooled, (unsigned long long)ps.dropped);
}

/* Ends the run: flush windows, deliver, decide the exit status. What the
 * inputs read is delivered even when one of them failed; the status is 1
 * then, as when Kafka did not acknowledge everything. */
static int px_producer_finish(px_producer *p, bool by_signal)
{
    size_t failed = px_producer_stop_inputs(p);
    px_pipeline_flush(p->pipeline);
    px_err err = px_publish_close(p->publish, p->opts.flush_timeout_ms);
    px_producer_summary(p);
    px_publish_stats ps;
    px_publish_get_stats(p->publish, &ps);
    uint64_t left = px_publish_outstanding(p->publish);
    if (ps.failed > 0) {
        px_error("%llu messages were never acknowledged by Kafka", (unsigned long long)ps.failed);
        return 1;
    }
    if (!by_signal && left > 0) {
        px_error("%llu messages not acknowledged by Kafka at the end of the input",
                 (unsigned long long)left);
        return 1;
    }
    if (err != PX_OK) {
        px_error("%llu messages not acknowledged by Kafka at exit", (unsigned long long)left);
        return 1;
    }
    if (left > 0)
        px_warning("%llu messages kept in the spool for the next run", (unsigned long long)left);
    if (failed > 0) {
        px_error("%zu input(s) ended with an error (see above); what was read was delivered",
                 failed);
        return 1;
    }
    return 0;
}

int px_producer_run(px_producer *p)
{
    if (px_producer_start_inputs(p) < 0) {
        px_producer_stop_inputs(p);
        return 1;
    }
    px_info("running: %zu input(s), topic %s, org %s, sensor %s", p->n_inputs, p->conf->kafka_topic,
            p->conf->org, p->conf->sensor);
    bool by_signal = false;
    for (;;) {
        px_publish_poll(p->publish, 0);
        px_pipeline_stats st;
        px_pipeline_get_stats(p->pipeline, &st);
        px_producer_metrics(p, &st);
        if (!p->all_files)
            px_producer_idle_tick(p, &st);
        if (p->all_files && px_producer_inputs_done(p))
            break;
        int sig = px_producer_wait_signal(p);
        if (sig == SIGTERM || sig == SIGINT) {
            px_info("signal %d: flushing and delivering", sig);
            by_signal = true;
            break;
        }
        if (sig == SIGHUP)
            px_info("SIGHUP: logs go to stderr; nothing to reopen");
    }
    return px_producer_finish(p, by_signal);
}
