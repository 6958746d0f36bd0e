/* fuzz_net: px_hostport_split on any text, both flags. What it accepts
 * must split again to the same host and port once written back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[300];
    if (size >= sizeof(text))
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (unsigned flags = PX_HOSTPORT_LITERAL; flags <= PX_HOSTPORT_NAME; flags++) {
        char host[256], again[256], back[300];
        uint16_t port, port2;
        if (px_hostport_split(text, host, sizeof(host), &port, flags) != PX_OK)
            continue;
        bool v6 = strchr(host, ':') != NULL;
        snprintf(back, sizeof(back), v6 ? "[%s]:%u" : "%s:%u", host, port);
        if (px_hostport_split(back, again, sizeof(again), &port2, flags) != PX_OK ||
            strcmp(host, again) != 0 || port != port2)
            abort();
    }
    char why[80];
    (void)px_conf_check_hostport(text, why, sizeof(why));
    return 0;
}
