/* px_filter.c: the privacy filter (docs/DATA-MODEL.md "Privacy rules"):
 * the rules on whole responses (response bit, rcode, wildcard servers) and
 * bailiwick here, the rules on types, names, zones and addresses in
 * lib/obs/px_privacy.c, which the consumer applies again to what the
 * centre accepts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_filter.h"
#include "obs/px_privacy.h"

struct px_filter {
    px_privacy *privacy; /* types, names, zones, addresses: the shared rules */
    bool errors;
    px_addr *wildcard;
    size_t n_wildcard;
};

static const char *const drop_names[PX_DROP__COUNT] = {
    [PX_PASS] = "pass",
    [PX_DROP_NOT_RESPONSE] = "not_response",
    [PX_DROP_RCODE] = "rcode",
    [PX_DROP_WILDCARD_SERVER] = "wildcard_server",
    [PX_DROP_SECTION] = "section",
    [PX_DROP_RRTYPE] = "rrtype",
    [PX_DROP_PRIVATE_ADDR] = "private_addr",
    [PX_DROP_LOCAL_NAME] = "local_name",
    [PX_DROP_LOCAL_RDATA] = "local_rdata",
    [PX_DROP_SINGLE_LABEL] = "single_label",
    [PX_DROP_OUT_OF_BAILIWICK] = "out_of_bailiwick",
    [PX_DROP_PUBLIC_SUFFIX] = "public_suffix",
};

const char *px_drop_name(px_drop reason)
{
    if ((unsigned)reason >= PX_DROP__COUNT)
        return "unknown";
    return drop_names[reason];
}

static px_err filter_init(px_filter *f, const px_filter_conf *conf)
{
    px_privacy_conf pc = {0};
    if (conf)
        pc = (px_privacy_conf){.rrtypes = conf->rrtypes,
                               .n_rrtypes = conf->n_rrtypes,
                               .private_answers = conf->private_answers,
                               .local_zones = conf->local_zones,
                               .n_local_zones = conf->n_local_zones};
    px_err e = PX_OK;
    f->privacy = px_privacy_create(&pc, &e);
    if (!f->privacy)
        return e;
    f->errors = conf && conf->errors;
    if (conf && conf->n_wildcard_servers) {
        f->wildcard = calloc(conf->n_wildcard_servers, sizeof(*f->wildcard));
        if (!f->wildcard)
            return PX_ERR_NOMEM;
        memcpy(f->wildcard, conf->wildcard_servers,
               conf->n_wildcard_servers * sizeof(*f->wildcard));
        f->n_wildcard = conf->n_wildcard_servers;
    }
    return PX_OK;
}

px_filter *px_filter_create(const px_filter_conf *conf, px_err *err)
{
    px_err e = PX_ERR_NOMEM;
    px_filter *f = calloc(1, sizeof(*f));
    if (f)
        e = filter_init(f, conf);
    if (e != PX_OK) {
        px_filter_destroy(f);
        f = NULL;
    }
    if (err)
        *err = e;
    return f;
}

void px_filter_destroy(px_filter *f)
{
    if (!f)
        return;
    px_privacy_destroy(f->privacy);
    free(f->wildcard);
    free(f);
}

/* ---- decisions ---- */

px_drop px_filter_message(const px_filter *f, const px_dns_msg *msg, const px_addr *server)
{
    if (!msg->qr || msg->opcode != 0)
        return PX_DROP_NOT_RESPONSE;
    if (msg->rcode != PX_DNS_RCODE_NOERROR && !f->errors)
        return PX_DROP_RCODE;
    if (server && server->family != 0) {
        for (size_t i = 0; i < f->n_wildcard; i++)
            if (px_addr_equal(server, &f->wildcard[i]))
                return PX_DROP_WILDCARD_SERVER;
    }
    return PX_PASS;
}

/* The verdicts of the shared rules, as the producer counts them. */
static px_drop from_rule(px_privacy_rule r)
{
    switch (r) {
    case PX_PRIVACY_PASS:
        return PX_PASS;
    case PX_PRIVACY_RRTYPE:
        return PX_DROP_RRTYPE;
    case PX_PRIVACY_PRIVATE_ADDR:
        return PX_DROP_PRIVATE_ADDR;
    case PX_PRIVACY_LOCAL_NAME:
        return PX_DROP_LOCAL_NAME;
    case PX_PRIVACY_LOCAL_RDATA:
        return PX_DROP_LOCAL_RDATA;
    case PX_PRIVACY_SINGLE_LABEL:
        return PX_DROP_SINGLE_LABEL;
    case PX_PRIVACY_PUBLIC_SUFFIX:
    default:
        return PX_DROP_PUBLIC_SUFFIX;
    }
}

/* Section, type and class: all a framed but undecoded record has. */
static px_drop check_header(const px_filter *f, const px_dns_rr *rr)
{
    if (rr->section == PX_DNS_ADDITIONAL || rr->type == PX_DNS_TYPE_OPT ||
        rr->rclass != PX_DNS_CLASS_IN)
        return PX_DROP_SECTION;
    if (!px_privacy_type_allowed(f->privacy, rr->type))
        return PX_DROP_RRTYPE;
    return PX_PASS;
}

bool px_filter_rr_wanted(void *filter, const px_dns_rr *rr)
{
    return check_header(filter, rr) == PX_PASS;
}

px_drop px_filter_rr(const px_filter *f, const px_dns_rr *rr, const char *bailiwick)
{
    px_drop d = check_header(f, rr);
    if (d != PX_PASS)
        return d;
    d = from_rule(px_privacy_owner(f->privacy, rr->name, rr->name_len));
    if (d != PX_PASS)
        return d;
    if (bailiwick && !px_dns_name_in_zone(rr->name, rr->name_len, bailiwick, strlen(bailiwick)))
        return PX_DROP_OUT_OF_BAILIWICK;
    /* The address bytes and the names inside the rdata, as px_dns_rr_text()
     * parsed them; an A/AAAA without its bytes fails closed. */
    return from_rule(px_privacy_rdata(f->privacy, rr->type, rr->rdata_canon, rr->rdata_canon_len,
                                      rr->rdata, &rr->targets));
}

bool px_filter_public_suffix(const px_dns_rr *rr)
{
    return px_privacy_public_suffix(rr->name, rr->name_len);
}
