#include "px_input.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_input_impl.h"

struct px_input {
    const px_input_ops *ops;
    void *impl;
};

static const struct {
    const char *name;
    uint32_t bit;
} px_dnstap_types[] = {
    {"AUTH_RESPONSE", PX_DT_AUTH_RESPONSE},     {"RESOLVER_RESPONSE", PX_DT_RESOLVER_RESPONSE},
    {"CLIENT_RESPONSE", PX_DT_CLIENT_RESPONSE}, {"FORWARDER_RESPONSE", PX_DT_FORWARDER_RESPONSE},
    {"STUB_RESPONSE", PX_DT_STUB_RESPONSE},     {"TOOL_RESPONSE", PX_DT_TOOL_RESPONSE},
    {"UPDATE_RESPONSE", PX_DT_UPDATE_RESPONSE},
};

uint32_t px_dnstap_type_bit(const char *name)
{
    for (size_t i = 0; i < sizeof(px_dnstap_types) / sizeof(px_dnstap_types[0]); i++)
        if (name && strcmp(name, px_dnstap_types[i].name) == 0)
            return px_dnstap_types[i].bit;
    return 0;
}

void px_input_logf(void (*fn)(void *ctx, int level, const char *msg), void *ctx, int level,
                   const char *fmt, ...)
{
    if (!fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fn(ctx, level, msg);
}

px_input *px_input_create(const px_input_conf *conf, px_event_fn sink, void *ctx, char *errbuf,
                          size_t errlen)
{
    px_input *in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    switch (conf->type) {
    case PX_INPUT_PCAP_FILE:
    case PX_INPUT_PCAP_LIVE:
        in->ops = &px_pcap_input_ops;
        in->impl = px_pcap_input_open(conf, sink, ctx, errbuf, errlen);
        break;
    case PX_INPUT_DNSTAP_UNIX:
    case PX_INPUT_DNSTAP_TCP:
    case PX_INPUT_DNSTAP_FILE:
        in->ops = &px_dnstap_input_ops;
        in->impl = px_dnstap_input_open(conf, sink, ctx, errbuf, errlen);
        break;
    }
    if (!in->impl) {
        free(in);
        return NULL;
    }
    return in;
}

px_err px_input_run(px_input *in)
{
    return in->ops->run(in->impl);
}

void px_input_stop(px_input *in)
{
    in->ops->stop(in->impl);
}

void px_input_destroy(px_input *in)
{
    if (!in)
        return;
    in->ops->destroy(in->impl);
    free(in);
}
