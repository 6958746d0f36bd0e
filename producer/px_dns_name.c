/* Name helpers shared by the parser, the filter and the pipeline. */
#include <string.h>

#include "px_dns.h"
#include "px_privacy.h"

bool px_dns_name_in_zone(const char *name, size_t name_len, const char *zone, size_t zone_len)
{
    return px_privacy_in_zone(name, name_len, zone, zone_len); /* one copy, shared */
}
