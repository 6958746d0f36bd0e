/* logged_port.c: the port a listener reported in its start-up line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pxt_producer.h"

uint16_t pxt_logged_port(const char *logs, const char *what)
{
    char head[128];
    snprintf(head, sizeof(head), "%s: listening on ", what);
    uint16_t port = 0;
    for (const char *p = strstr(logs, head); p; p = strstr(p + 1, head)) {
        const char *end = p + strcspn(p, "\n");
        const char *colon = end;
        while (colon > p && *colon != ':')
            colon--;
        if (*colon == ':' && colon > p + strlen(head))
            port = (uint16_t)strtoul(colon + 1, NULL, 10);
    }
    return port;
}
