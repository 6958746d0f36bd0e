/* Name helpers shared by the parser, the filter and the pipeline. */
#include <string.h>

#include "dns/px_dns_msg.h"

bool px_dns_name_in_zone(const char *name, size_t name_len, const char *zone, size_t zone_len)
{
    if (zone_len == 0 || (zone_len == 1 && zone[0] == '.'))
        return true;
    if (name_len < zone_len)
        return false;
    if (memcmp(name + name_len - zone_len, zone, zone_len) != 0)
        return false;
    if (name_len == zone_len)
        return true;
    /* A label boundary must precede the zone, and that dot must not be an
     * escaped one ("a\.example" is one label). Count the backslashes. */
    size_t dot = name_len - zone_len - 1;
    if (name[dot] != '.')
        return false;
    size_t bs = 0;
    while (bs < dot && name[dot - 1 - bs] == '\\')
        bs++;
    return bs % 2 == 0;
}
