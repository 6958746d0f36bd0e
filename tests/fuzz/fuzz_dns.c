/* libFuzzer harness for DNS message text (the test oracle on the library's
 * name and rdata formatters): parse the input as one DNS message, read
 * every record until EOF or a non-continuable error, and touch every output
 * string so the sanitizers see any read past what was written. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns/px_dns_msg.h"
#include "dns_text_oracle.h"

static px_dns_iter it;

static size_t touch(const char *s, size_t len)
{
    if (!s)
        return 0;
    /* The length must match the NUL-terminated text. */
    if (strlen(s) != len)
        __builtin_trap();
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_dns_msg m;
    px_dns_rr rr;
    char buf[PX_DNS_NAME_TEXT_MAX];
    size_t used;

    (void)px_dns_name_to_text(data, size, buf, sizeof buf, &used);
    if (pxt_dns_begin(&it, data, size, &m) != PX_OK)
        return 0;
    touch(m.qname, m.qname_len);
    for (;;) {
        px_err err = pxt_dns_next(&it, &rr);
        if (err == PX_ERR_EOF)
            break;
        if (err != PX_OK) {
            if (!px_dns_can_continue(&it))
                break;
            continue;
        }
        touch(rr.name, rr.name_len);
        touch(rr.rdata, rr.rdata_len);
        if (rr.target)
            touch(rr.target, strlen(rr.target));
        if (rr.target2)
            touch(rr.target2, strlen(rr.target2));
        char tbuf[16];
        const char *tn = px_dns_type_name(rr.type, tbuf, sizeof tbuf);
        if (px_dns_type_parse(tn) != rr.type)
            __builtin_trap();
    }
    return 0;
}
