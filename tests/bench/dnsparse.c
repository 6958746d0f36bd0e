/* dnsparse.c: the DNS wire parser and its text (lib/dns) against ldns and
 * libknot, on the responses of a dnstap file held in memory
 * (docs/BENCHMARKS.md, "Why this is ours"). Built only where libldns-dev
 * or libknot-dev is installed; pdnsx depends on neither.
 *
 * Every side does the same work per response: parse the whole message
 * (every section; names decompressed), then write the owner name and the
 * rdata of each answer record as text:
 *   ours: px_dns_begin_wire, px_dns_next_wire, px_dns_rr_text (answers);
 *   ldns: ldns_wire2pkt, ldns_rdf2buffer_str of the owner and each rdata
 *         field into one reused buffer, ldns_pkt_free;
 *   knot: knot_pkt_new on the message in place, knot_pkt_parse,
 *         knot_dname_to_str and knot_rrset_txt_dump_data, knot_pkt_free.
 * Each side must accept the same responses and find the same answers.
 *
 *   pdnsx-bench-dnsparse [-r ROUNDS] FILE.dnstap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_dnstap.h"
#include "bench_pair.h"
#include "dns/px_dns_msg.h"
#include "px_dnstap.h"

#ifdef PXB_LDNS
#include <ldns/ldns.h>
#endif
#ifdef PXB_KNOT
#include <libknot/libknot.h>
#endif

typedef struct msgs {
    size_t n;
    const uint8_t **data;
    size_t *len;
    uint64_t answers; /* answer records in the responses ours accepts */
} msgs;

static uint64_t run_ours(void *ctx, uint64_t *sink)
{
    const msgs *m = ctx;
    static px_dns_iter it; /* ~20 KiB: off the stack */
    uint64_t answers = 0;
    for (size_t i = 0; i < m->n; i++) {
        px_dns_msg hdr;
        if (px_dns_begin_wire(&it, m->data[i], m->len[i], &hdr) != PX_OK)
            continue;
        px_dns_rr rr;
        px_err err;
        while ((err = px_dns_next_wire(&it, &rr)) != PX_ERR_EOF) {
            if (err != PX_OK && !px_dns_can_continue(&it))
                break;
            if (err != PX_OK || rr.section != PX_DNS_ANSWER)
                continue;
            answers++;
            if (px_dns_rr_text(&it, &rr) == PX_OK)
                *sink += rr.name_len + rr.rdata_len;
        }
    }
    return answers;
}

#ifdef PXB_LDNS
static uint64_t run_ldns(void *ctx, uint64_t *sink)
{
    const msgs *m = ctx;
    ldns_buffer *buf = ldns_buffer_new(65536);
    uint64_t answers = 0;
    for (size_t i = 0; buf && i < m->n; i++) {
        ldns_pkt *pkt = NULL;
        if (ldns_wire2pkt(&pkt, m->data[i], m->len[i]) != LDNS_STATUS_OK)
            continue;
        ldns_rr_list *an = ldns_pkt_answer(pkt);
        for (size_t r = 0; r < ldns_rr_list_rr_count(an); r++) {
            ldns_rr *rr = ldns_rr_list_rr(an, r);
            answers++;
            ldns_buffer_clear(buf);
            ldns_rdf2buffer_str(buf, ldns_rr_owner(rr));
            for (size_t f = 0; f < ldns_rr_rd_count(rr); f++) {
                ldns_buffer_write_u8(buf, ' ');
                ldns_rdf2buffer_str(buf, ldns_rr_rdf(rr, f));
            }
            *sink += ldns_buffer_position(buf);
        }
        ldns_pkt_free(pkt);
    }
    ldns_buffer_free(buf);
    return answers;
}
#endif

#ifdef PXB_KNOT
static uint64_t run_knot(void *ctx, uint64_t *sink)
{
    const msgs *m = ctx;
    static char owner[KNOT_DNAME_TXT_MAXLEN + 1], rdata[65536];
    uint64_t answers = 0;
    for (size_t i = 0; i < m->n; i++) {
        /* knot_pkt_parse reads the wire it is given and does not write it */
        knot_pkt_t *pkt = knot_pkt_new((void *)m->data[i], (uint16_t)m->len[i], NULL);
        if (!pkt)
            return 0;
        if (knot_pkt_parse(pkt, 0) == KNOT_EOK) {
            const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
            for (uint16_t r = 0; r < an->count; r++) {
                const knot_rrset_t *rr = knot_pkt_rr(an, r);
                answers++;
                if (knot_dname_to_str(owner, rr->owner, sizeof(owner)) &&
                    knot_rrset_txt_dump_data(rr, 0, rdata, sizeof(rdata),
                                             &KNOT_DUMP_STYLE_DEFAULT) >= 0)
                    *sink += strlen(owner) + strlen(rdata);
            }
        }
        knot_pkt_free(pkt);
    }
    return answers;
}
#endif

int main(int argc, char **argv)
{
    int rounds;
    pxb_frames fr = {0};
    msgs m = {0};
    int rc = pxb_frames_args(argc, argv, "pdnsx-bench-dnsparse", &rounds, &fr);
    if (rc)
        return rc;
    if (!(m.data = calloc(fr.n, sizeof(*m.data))) || !(m.len = calloc(fr.n, sizeof(*m.len)))) {
        fprintf(stderr, "pdnsx-bench-dnsparse: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < fr.n; i++) {
        px_dnstap_msg d;
        if (px_dnstap_parse(fr.data[i], fr.len[i], &d) == PX_OK && d.response_message.has) {
            m.data[m.n] = d.response_message.data;
            m.len[m.n++] = d.response_message.len;
        }
    }
    printf("%zu responses\n", m.n);
    pxb_side ours = {"px_dns", run_ours};
#ifdef PXB_LDNS
    pxb_side ldns = {"ldns", run_ldns};
    rc |= pxb_pair("dns parse+text", "answer", &ours, &ldns, &m, rounds);
#endif
#ifdef PXB_KNOT
    pxb_side knot = {"libknot", run_knot};
    rc |= pxb_pair("dns parse+text", "answer", &ours, &knot, &m, rounds);
#endif
    free(m.data);
    free(m.len);
    pxb_frames_free(&fr);
    return rc;
}
