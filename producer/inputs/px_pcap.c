/* px_pcap.c: pcap-file and pcap-live inputs. libpcap reads (or, for a
 * classic pcap file, px_pcapf, with the BPF filter applied here), px_pkt
 * decodes and reassembles fragments, px_tcp reassembles DNS over TCP; DNS
 * responses (QR=1) go to the sink, pointing into the reader's buffer (UDP)
 * or the TCP reassembly buffer: no copy, no allocation per UDP packet.
 *
 * A damaged file is reported (file, offset, why) through the input's log
 * and counted; px_pcapf then looks for the next plausible record header
 * and reads on from there, counting the bytes skipped. libpcap (pcapng,
 * FIFOs, standard input) cannot read past a damaged record: the rest of
 * such a file is lost, and the report says so. */
#include <fcntl.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_input_impl.h"
#include "core/px_metrics.h"
#include "px_pcapf.h"
#include "px_pkt.h"
#include "px_tcp.h"

#define PX_PCAP_SNAPLEN 65535
#define PX_PCAP_TIMEOUT_MS 100 /* live: how long stop may wait at most */
#define PX_PCAP_BATCH 1024     /* file: packets between stop checks */
/* file: damages reported one by one; past this, only counted and summed up
 * at the end, so a file damaged all over cannot flood the log */
#define PX_PCAP_DAMAGE_LOGGED 10
/* The default live filter: port 53, plus IP fragments, because only the
 * first fragment of a large UDP response carries the port. */
#define PX_PCAP_LIVE_FILTER "port 53 or (ip and ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] = 44)"

typedef struct px_pcap {
    pcap_t *p;
    px_pcapf *pf;            /* pcap-file read without libpcap, NULL if libpcap reads */
    int pf_fd;               /* px_pcapf's file, -1 if none */
    struct bpf_program prog; /* the filter, for px_pcapf (libpcap has its copy) */
    bool have_prog;
    char *path; /* pcap-file */
    void (*log_fn)(void *ctx, int level, const char *msg);
    void *log_ctx;
    /* pcap-file damage: errors met, bytes skipped, resumptions */
    uint64_t damages, skipped, resumed;
    px_err last_damage; /* the last one's kind (px_pcapf_error()) */
    int dlt;
    bool file;
    bool nano;
    atomic_bool stop;
    px_event_fn sink;
    void *ctx;
    px_pkt_decoder *dec;
    px_tcp *tcp;
    /* current packet time, for messages px_tcp completes */
    int64_t sec;
    uint32_t nsec;
    uint64_t packets, responses; /* not yet added to the metrics */
    px_tcp_stats tcp_seen;       /* TCP stats already added */
    uint64_t frag_expired_seen;  /* fragments expired already added */
    /* What this input adds to the gauges (every pcap input adds its own) */
    size_t frag_pending_shown, tcp_flows_shown;
    px_metric *m_packets, *m_responses, *m_trunc_file, *m_short, *m_query, *m_not_dns, *m_tcp_len,
        *m_tcp_gaps, *m_tcp_evicted, *m_frag_expired, *m_frag_pending, *m_tcp_flows;
    px_metric *m_bad_record, *m_truncated, *m_read_error, *m_skipped, *m_resumed;
    px_metric *m_status[PX_PKT__COUNT];
} px_pcap;

#define PX_MAL "pdnsx_input_malformed_total{input=\"pcap\",reason=\""
#define PX_IGN "pdnsx_input_ignored_total{input=\"pcap\",reason=\""
static const char px_mal_help[] = "Packets or messages an input could not decode";
static const char px_ign_help[] = "Packets an input skipped as not DNS responses";

static void px_pcap_metrics_init(px_pcap *pc)
{
    pc->m_packets = px_metric_counter("pdnsx_input_packets_total{input=\"pcap\"}",
                                      "Packets or frames read by an input");
    pc->m_responses = px_metric_counter("pdnsx_input_responses_total{input=\"pcap\"}",
                                        "DNS responses an input passed on");
    pc->m_trunc_file = px_metric_counter(PX_MAL "truncated_file\"}", px_mal_help);
    pc->m_short = px_metric_counter(PX_MAL "dns_short\"}", px_mal_help);
    pc->m_tcp_len = px_metric_counter(PX_MAL "tcp_length\"}", px_mal_help);
    pc->m_query = px_metric_counter(PX_IGN "query\"}", px_ign_help);
    pc->m_not_dns = px_metric_counter(PX_IGN "not_dns\"}", px_ign_help);
    pc->m_tcp_gaps = px_metric_counter("pdnsx_input_tcp_gaps_total{input=\"pcap\"}",
                                       "TCP holes given up on (data lost)");
    pc->m_tcp_evicted = px_metric_counter("pdnsx_input_tcp_flows_evicted_total{input=\"pcap\"}",
                                          "TCP flows dropped because the flow table was full");
    pc->m_frag_expired =
        px_metric_counter("pdnsx_input_fragments_expired_total{input=\"pcap\"}",
                          "IP datagrams given up on incomplete (fragments lost or table full)");
    pc->m_frag_pending = px_metric_gauge("pdnsx_input_fragments_pending{input=\"pcap\"}",
                                         "IP datagrams held for reassembly");
    pc->m_tcp_flows = px_metric_gauge("pdnsx_input_tcp_flows{input=\"pcap\"}",
                                      "TCP flows followed for DNS messages");
    static const char file_help[] = "Damage met in input files";
    pc->m_bad_record = px_metric_counter(
        "pdnsx_input_file_errors_total{input=\"pcap\",reason=\"bad_record\"}", file_help);
    pc->m_truncated = px_metric_counter(
        "pdnsx_input_file_errors_total{input=\"pcap\",reason=\"truncated\"}", file_help);
    pc->m_read_error = px_metric_counter(
        "pdnsx_input_file_errors_total{input=\"pcap\",reason=\"read_error\"}", file_help);
    pc->m_skipped = px_metric_counter("pdnsx_input_skipped_bytes_total{input=\"pcap\"}",
                                      "Bytes of damaged input files passed over unread");
    pc->m_resumed = px_metric_counter("pdnsx_input_resumed_total{input=\"pcap\"}",
                                      "Times a file input read on past damage");
    for (int s = PX_PKT_NOT_IP; s < PX_PKT__COUNT; s++) {
        bool ignored = s == PX_PKT_NOT_IP || s == PX_PKT_OTHER_PROTO;
        char name[160];
        snprintf(name, sizeof(name), "%s%s\"}", ignored ? PX_IGN : PX_MAL,
                 px_pkt_status_name((px_pkt_status)s));
        pc->m_status[s] = px_metric_counter(name, ignored ? px_ign_help : px_mal_help);
    }
}

/* Moves this input's share of gauge m from *shown to now. */
static void px_pcap_gauge(px_metric *m, size_t *shown, size_t now)
{
    px_metric_add(m, (uint64_t)now - (uint64_t)*shown); /* modulo 2^64: may go down */
    *shown = now;
}

static void px_pcap_metrics_flush(px_pcap *pc)
{
    px_metric_add(pc->m_packets, pc->packets);
    px_metric_add(pc->m_responses, pc->responses);
    pc->packets = pc->responses = 0;
    const px_tcp_stats *s = px_tcp_get_stats(pc->tcp);
    px_metric_add(pc->m_tcp_len, s->bad_length - pc->tcp_seen.bad_length);
    px_metric_add(pc->m_tcp_gaps, s->gaps - pc->tcp_seen.gaps);
    px_metric_add(pc->m_tcp_evicted, s->flows_evicted - pc->tcp_seen.flows_evicted);
    pc->tcp_seen = *s;
    uint64_t expired = px_pkt_frag_expired(pc->dec);
    px_metric_add(pc->m_frag_expired, expired - pc->frag_expired_seen);
    pc->frag_expired_seen = expired;
    px_pcap_gauge(pc->m_frag_pending, &pc->frag_pending_shown, px_pkt_frag_pending(pc->dec));
    px_pcap_gauge(pc->m_tcp_flows, &pc->tcp_flows_shown, px_tcp_flow_count(pc->tcp));
}

static void px_pcap_addr(px_addr *a, uint8_t version, const uint8_t *bytes, uint16_t port)
{
    a->family = version;
    memcpy(a->bytes, bytes, version == 4 ? 4 : 16);
    if (version == 4)
        memset(a->bytes + 4, 0, 12);
    a->port = port;
}

/* Responses only, from the server (source) to the client (destination). */
static void px_pcap_emit(px_pcap *pc, const px_pkt *pkt, const uint8_t *msg, size_t len)
{
    if (len < 12) {
        px_metric_inc(pc->m_short);
        return;
    }
    if (!(msg[2] & 0x80)) {
        px_metric_inc(pc->m_query);
        return;
    }
    px_dns_event ev;
    ev.msg = msg;
    ev.len = len;
    ev.time_sec = pc->sec;
    ev.time_nsec = pc->nsec;
    px_pcap_addr(&ev.client, pkt->ip_version, pkt->dst, pkt->dport);
    px_pcap_addr(&ev.server, pkt->ip_version, pkt->src, pkt->sport);
    ev.query_zone = NULL;
    ev.query_zone_len = 0;
    pc->responses++;
    pc->sink(pc->ctx, &ev);
}

static void px_pcap_tcp_msg(void *ctx, const px_pkt *seg, const uint8_t *msg, size_t len)
{
    px_pcap_emit(ctx, seg, msg, len);
}

/* TCP: port 53 only. Reassembling every stream of an unfiltered capture
 * would cost memory and find DNS-looking data in TLS.
 * UDP: any port, but off port 53 the header must look like DNS, so that
 * other UDP traffic in a capture without a filter is not taken for DNS.
 * Multicast DNS, LLMNR and NetBIOS names are LAN chatter in DNS format,
 * not resolver answers. */
static void px_pcap_udp(px_pcap *pc, const px_pkt *pkt)
{
    if (pkt->sport != 53) {
        if (pkt->sport == 5353 || pkt->sport == 5355 || pkt->sport == 137 ||
            !px_pkt_dns_plausible(pkt->payload, pkt->len)) {
            px_metric_inc(pc->m_not_dns);
            return;
        }
    }
    px_pcap_emit(pc, pkt, pkt->payload, pkt->len);
}

static void px_pcap_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    px_pcap *pc = (px_pcap *)user;
    pc->packets++;
    uint64_t frac = (uint64_t)h->ts.tv_usec * (pc->nano ? 1 : 1000);
    pc->sec = (int64_t)h->ts.tv_sec + (int64_t)(frac / 1000000000u);
    pc->nsec = (uint32_t)(frac % 1000000000u);
    px_pkt pkt;
    px_pkt_status st = px_pkt_decode(pc->dec, pc->dlt, bytes, h->caplen, pc->sec, &pkt);
    if (st != PX_PKT_OK) {
        if (st != PX_PKT_FRAG_HELD)
            px_metric_inc(pc->m_status[st]);
        return;
    }
    if (pkt.proto == PX_PKT_UDP)
        px_pcap_udp(pc, &pkt);
    else if (pkt.sport == 53 || pkt.dport == 53)
        px_tcp_segment(pc->tcp, &pkt, pc->sec);
    else
        px_metric_inc(pc->m_not_dns); /* TLS and the like: not worth a flow */
}

static void px_pcap_free(px_pcap *pc)
{
    if (!pc)
        return;
    if (pc->p)
        pcap_close(pc->p);
    if (pc->have_prog)
        pcap_freecode(&pc->prog);
    free(pc->path);
    px_pcapf_destroy(pc->pf);
    if (pc->pf_fd >= 0)
        close(pc->pf_fd);
    if (pc->m_tcp_flows) { /* what it held goes with it */
        px_pcap_gauge(pc->m_frag_pending, &pc->frag_pending_shown, 0);
        px_pcap_gauge(pc->m_tcp_flows, &pc->tcp_flows_shown, 0);
    }
    px_pkt_decoder_destroy(pc->dec);
    px_tcp_destroy(pc->tcp);
    free(pc);
}

static pcap_t *px_pcap_open_live(const px_input_conf *conf, char *errbuf, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    if (!conf->interface || !*conf->interface) {
        snprintf(errbuf, errlen, "pcap-live: no interface set");
        return NULL;
    }
    pcap_t *p = pcap_create(conf->interface, perr);
    if (!p) {
        snprintf(errbuf, errlen, "pcap-live %s: %s", conf->interface, perr);
        return NULL;
    }
    pcap_set_snaplen(p, PX_PCAP_SNAPLEN);
    pcap_set_immediate_mode(p, 1);
    pcap_set_timeout(p, PX_PCAP_TIMEOUT_MS);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); /* micro if not offered */
    int rc = pcap_activate(p);
    if (rc < 0) {
        snprintf(errbuf, errlen, "pcap-live %s: %s%s%s", conf->interface, pcap_statustostr(rc),
                 *pcap_geterr(p) ? ": " : "", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    return p;
}

/* The filter goes to libpcap, and stays compiled in pc->prog for
 * px_pcapf's records. */
static bool px_pcap_set_filter(px_pcap *pc, const char *filter, const char *what, char *errbuf,
                               size_t errlen)
{
    if (pcap_compile(pc->p, &pc->prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(errbuf, errlen, "%s: filter \"%s\": %s", what, filter, pcap_geterr(pc->p));
        return false;
    }
    pc->have_prog = true;
    int rc = pcap_setfilter(pc->p, &pc->prog);
    if (rc < 0) {
        snprintf(errbuf, errlen, "%s: filter \"%s\": %s", what, filter, pcap_geterr(pc->p));
        return false;
    }
    return true;
}

/* libpcap has opened the file and checked its header and link type; for
 * a regular file in classic pcap format, px_pcapf takes over the reading
 * (libpcap's handle stays, unused), and the filter is applied here as
 * libpcap applies it to a file (pcap_offline_filter() is its bpf_filter()
 * on the same lengths). Any other file (pcapng, a FIFO, "-" for standard
 * input) stays with libpcap. */
static void px_pcap_take_over(px_pcap *pc, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return;
    pc->pf_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (pc->pf_fd < 0)
        return;
    if (fstat(pc->pf_fd, &st) == 0 && S_ISREG(st.st_mode))
        pc->pf = px_pcapf_open(pc->pf_fd, (uint32_t)pcap_snapshot(pc->p));
    if (!pc->pf) {
        close(pc->pf_fd);
        pc->pf_fd = -1;
    }
}

void *px_pcap_input_open(const px_input_conf *conf, px_event_fn sink, void *ctx, char *errbuf,
                         size_t errlen)
{
    px_pcap *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        snprintf(errbuf, errlen, "pcap: out of memory");
        return NULL;
    }
    pc->sink = sink;
    pc->ctx = ctx;
    pc->log_fn = conf->log_fn;
    pc->log_ctx = conf->log_ctx;
    pc->pf_fd = -1;
    pc->file = conf->type == PX_INPUT_PCAP_FILE;
    atomic_init(&pc->stop, false);
    const char *what = pc->file ? conf->path : conf->interface;
    const char *filter = conf->filter;
    if (pc->file) {
        char perr[PCAP_ERRBUF_SIZE] = "";
        if (!conf->path || !*conf->path) {
            snprintf(errbuf, errlen, "pcap-file: no path set");
            goto fail;
        }
        if (!(pc->path = strdup(conf->path))) {
            snprintf(errbuf, errlen, "pcap-file: out of memory");
            goto fail;
        }
        pc->p =
            pcap_open_offline_with_tstamp_precision(conf->path, PCAP_TSTAMP_PRECISION_NANO, perr);
        if (!pc->p) {
            snprintf(errbuf, errlen, "pcap-file %s: %s", conf->path, perr);
            goto fail;
        }
    } else {
        if (!(pc->p = px_pcap_open_live(conf, errbuf, errlen)))
            goto fail;
        if (!filter)
            filter = PX_PCAP_LIVE_FILTER;
    }
    pc->nano = pcap_get_tstamp_precision(pc->p) == PCAP_TSTAMP_PRECISION_NANO;
    pc->dlt = pcap_datalink(pc->p);
    if (!px_pkt_linktype_supported(pc->dlt)) {
        const char *name = pcap_datalink_val_to_name(pc->dlt);
        snprintf(errbuf, errlen, "pcap %s: link type %s (%d) not supported", what,
                 name ? name : "unknown", pc->dlt);
        goto fail;
    }
    if (filter && *filter && !px_pcap_set_filter(pc, filter, what, errbuf, errlen))
        goto fail;
    pc->dec = px_pkt_decoder_create(NULL);
    pc->tcp = px_tcp_create(NULL, px_pcap_tcp_msg, pc);
    if (!pc->dec || !pc->tcp) {
        snprintf(errbuf, errlen, "pcap %s: out of memory", what);
        goto fail;
    }
    if (pc->file)
        px_pcap_take_over(pc, conf->path);
    px_pcap_metrics_init(pc);
    return pc;
fail:
    px_pcap_free(pc);
    return NULL;
}

/* One damage met by px_pcapf: report it, look for a way on. Returns true
 * when reading goes on. */
static bool px_pcap_damaged(px_pcap *pc)
{
    uint64_t off = 0, skipped = 0;
    px_err kind = PX_ERR_MALFORMED;
    const char *why = px_pcapf_error(pc->pf, &off, &kind);
    pc->last_damage = kind;
    px_metric_inc(pc->m_trunc_file); /* as before damage was told apart */
    px_metric_inc(kind == PX_ERR_TRUNC ? pc->m_truncated
                  : kind == PX_ERR_IO  ? pc->m_read_error
                                       : pc->m_bad_record);
    bool loud = pc->damages++ < PX_PCAP_DAMAGE_LOGGED;
    if (loud)
        px_input_logf(pc->log_fn, pc->log_ctx, 3, "%s: offset %" PRIu64 ": %s", pc->path, off,
                      why ? why : "damaged record");
    int rc = px_pcapf_resync(pc->pf, &skipped);
    pc->skipped += skipped;
    px_metric_add(pc->m_skipped, skipped);
    if (rc == 1) {
        pc->resumed++;
        px_metric_inc(pc->m_resumed);
        if (loud)
            px_input_logf(pc->log_fn, pc->log_ctx, 4,
                          "%s: reading resumes at offset %" PRIu64 ", %" PRIu64 " bytes skipped",
                          pc->path, off + skipped, skipped);
        if (pc->damages == PX_PCAP_DAMAGE_LOGGED)
            px_input_logf(pc->log_fn, pc->log_ctx, 4,
                          "%s: further damage is counted, not logged one by one", pc->path);
        return true;
    }
    if (rc == 0)
        px_input_logf(pc->log_fn, pc->log_ctx, 3,
                      "%s: no readable record after offset %" PRIu64 ": the last %" PRIu64
                      " bytes of the file are lost",
                      pc->path, off, skipped);
    else
        px_input_logf(pc->log_fn, pc->log_ctx, 3, "%s: cannot read on after offset %" PRIu64 ": %s",
                      pc->path, off + skipped, px_pcapf_error(pc->pf, NULL, NULL));
    return false;
}

/* px_pcapf's records through the same per-packet code, in batches like
 * pcap_dispatch() on a file. */
static px_err px_pcap_run_pcapf(px_pcap *pc)
{
    bool ended_early = false;
    while (!atomic_load(&pc->stop)) {
        struct pcap_pkthdr h;
        const uint8_t *data;
        int rc = 1;
        for (int n = 0; n < PX_PCAP_BATCH && (rc = px_pcapf_next(pc->pf, &h, &data)) == 1; n++)
            if (!pc->have_prog || pcap_offline_filter(&pc->prog, &h, data))
                px_pcap_packet((u_char *)pc, &h, data);
        px_pcap_metrics_flush(pc);
        if (rc < 0 && !px_pcap_damaged(pc)) {
            ended_early = true;
            break;
        }
        if (rc == 0)
            break;
    }
    if (pc->damages == 0)
        return PX_OK;
    if (pc->damages > 1)
        px_input_logf(pc->log_fn, pc->log_ctx, 3,
                      "%s: damaged file: %" PRIu64 " errors, %" PRIu64 " bytes skipped in all, %s",
                      pc->path, pc->damages, pc->skipped,
                      ended_early ? "the rest of the file is lost" : "read to its end");
    /* cut short: the one damage is the file's end inside a record */
    return ended_early && pc->damages == 1 && pc->last_damage == PX_ERR_TRUNC ? PX_ERR_TRUNC
                                                                              : PX_ERR_MALFORMED;
}

/* libpcap stopped at a damaged or cut record: where (as far as libpcap
 * read) and why. It cannot read past it: the rest of the file is lost. */
static void px_pcap_libpcap_damaged(px_pcap *pc)
{
    px_metric_inc(pc->m_trunc_file);
    const char *why = pcap_geterr(pc->p);
    px_metric_inc(strstr(why, "truncated") ? pc->m_truncated : pc->m_bad_record);
    FILE *fp = pcap_file(pc->p);
    long pos = fp ? ftell(fp) : -1;
    struct stat st;
    if (pos < 0) {
        px_input_logf(pc->log_fn, pc->log_ctx, 3,
                      "%s: %s (offset unknown: not a regular file); libpcap cannot read past a "
                      "damaged record: the rest of the input is lost",
                      pc->path, why);
        return;
    }
    uint64_t rest = 0;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > pos)
        rest = (uint64_t)(st.st_size - pos);
    pc->skipped += rest;
    px_metric_add(pc->m_skipped, rest);
    px_input_logf(pc->log_fn, pc->log_ctx, 3,
                  "%s: offset %ld (where libpcap stopped): %s; libpcap cannot read past a damaged "
                  "record: the last %" PRIu64 " bytes of the file are lost",
                  pc->path, pos, why, rest);
}

static px_err px_pcap_run(void *impl)
{
    px_pcap *pc = impl;
    px_err err = PX_OK;
    if (pc->pf)
        return px_pcap_run_pcapf(pc);
    while (!atomic_load(&pc->stop)) {
        int n = pcap_dispatch(pc->p, pc->file ? PX_PCAP_BATCH : -1, px_pcap_packet, (u_char *)pc);
        px_pcap_metrics_flush(pc);
        if (n == PCAP_ERROR_BREAK)
            break;
        if (n == PCAP_ERROR) {
            /* A file cut short or damaged: what was whole has been read. */
            if (pc->file) {
                px_pcap_libpcap_damaged(pc);
                err = PX_ERR_TRUNC;
            } else {
                px_input_logf(pc->log_fn, pc->log_ctx, 3, "pcap-live: %s", pcap_geterr(pc->p));
                err = PX_ERR_IO;
            }
            break;
        }
        if (n == 0 && pc->file)
            break; /* end of file */
    }
    return err;
}

static void px_pcap_stop(void *impl)
{
    px_pcap *pc = impl;
    atomic_store(&pc->stop, true);
    pcap_breakloop(pc->p);
}

static void px_pcap_destroy(void *impl)
{
    px_pcap_free(impl);
}

const px_input_ops px_pcap_input_ops = {
    .run = px_pcap_run,
    .stop = px_pcap_stop,
    .destroy = px_pcap_destroy,
};
