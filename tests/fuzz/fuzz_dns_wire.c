/* libFuzzer harness for px_dns wire mode: the same message read by the
 * test oracle (tests/support/dns_text_oracle.c, which decodes compressed
 * names and formats rdata with names on its own) and in wire mode must
 * give the same records, the same errors and the same texts (the pipeline
 * keys records by their wire form and formats text once per key, so any
 * difference would change its output). Also
 * checks that equal canonical forms within one message have equal texts. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns/px_dns_msg.h"
#include "dns_text_oracle.h"

static px_dns_iter text_it, wire_it;

static void same_str(const char *a, const char *b)
{
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
        __builtin_trap();
}

/* The previous good record, to compare keys with texts. */
static struct {
    int have;
    uint16_t type;
    size_t owner_len, rdata_len;
    uint8_t owner[255], rdata[600];
    char name[PX_DNS_NAME_TEXT_MAX], text[2048];
} prev;

static void compare_with_prev(const px_dns_rr *w)
{
    int long_rdata = w->rdata_canon_len > sizeof(prev.rdata) || w->rdata_len >= sizeof(prev.text);
    if (prev.have && prev.type == w->type && prev.owner_len == w->owner_wire_len &&
        prev.rdata_len == w->rdata_canon_len &&
        memcmp(prev.owner, w->owner_wire, prev.owner_len) == 0 &&
        memcmp(prev.rdata, w->rdata_canon, prev.rdata_len) == 0) {
        same_str(prev.name, w->name);
        same_str(prev.text, w->rdata);
    }
    prev.have = !long_rdata;
    if (long_rdata)
        return;
    prev.type = w->type;
    prev.owner_len = w->owner_wire_len;
    prev.rdata_len = w->rdata_canon_len;
    memcpy(prev.owner, w->owner_wire, w->owner_wire_len);
    memcpy(prev.rdata, w->rdata_canon, w->rdata_canon_len);
    memcpy(prev.name, w->name, w->name_len + 1);
    memcpy(prev.text, w->rdata, w->rdata_len + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_dns_msg m1, m2;
    px_err b1 = pxt_dns_begin(&text_it, data, size, &m1);
    px_err b2 = px_dns_begin_wire(&wire_it, data, size, &m2);
    if (b1 != b2)
        __builtin_trap();
    if (b1 != PX_OK)
        return 0;
    prev.have = 0;
    for (;;) {
        px_dns_rr t, w;
        px_err e1 = pxt_dns_next(&text_it, &t);
        px_err e2 = px_dns_next_wire(&wire_it, &w);
        if ((e1 == PX_ERR_EOF) != (e2 == PX_ERR_EOF))
            __builtin_trap();
        if (e1 == PX_ERR_EOF)
            break;
        if (px_dns_can_continue(&text_it) != px_dns_can_continue(&wire_it))
            __builtin_trap();
        if (!px_dns_can_continue(&text_it))
            break;
        if (e2 == PX_OK)
            e2 = px_dns_rr_text(&wire_it, &w);
        if ((e1 == PX_OK) != (e2 == PX_OK))
            __builtin_trap();
        if (e1 != PX_OK)
            continue;
        if (t.type != w.type || t.ttl != w.ttl || t.rdata_len != w.rdata_len ||
            t.name_len != w.name_len)
            __builtin_trap();
        same_str(t.name, w.name);
        same_str(t.rdata, w.rdata);
        same_str(t.target, w.target);
        same_str(t.target2, w.target2);
        compare_with_prev(&w);
    }
    return 0;
}
