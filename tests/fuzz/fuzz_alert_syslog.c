/* fuzz_alert_syslog: the syslog sink's text: alerts.syslog URLs, the RFC
 * 5424 message of any alert JSON (read with jansson for the CEF fields),
 * and CEF escaping, which must undo exactly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_alert_sink.h"

/* Undoes px_alert_cef_value / px_alert_cef_header. */
static size_t unescape(const char *in, char *out, bool header)
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p != '\\') {
            if (*p == (header ? '|' : '='))
                abort(); /* left unescaped */
            out[n++] = *p;
            continue;
        }
        p++;
        if (!*p)
            abort(); /* a lone backslash at the end */
        out[n++] = !header && *p == 'n' ? '\n' : !header && *p == 'r' ? '\r' : *p;
    }
    out[n] = '\0';
    return n;
}

static void cef(const char *s, size_t len)
{
    size_t cap = 2 * len + 1;
    char *esc = malloc(cap), *back = malloc(len + 1);
    for (int header = 0; header < 2; header++) {
        size_t n = header ? px_alert_cef_header(s, esc, cap) : px_alert_cef_value(s, esc, cap);
        if (n != strlen(esc))
            abort();
        unescape(esc, back, header);
        for (size_t i = 0; s[i]; i++) { /* a header is one line */
            char want = header && (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
            if (back[i] != want)
                abort();
        }
    }
    free(esc);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > PX_ALERT_JSON_MAX)
        return 0;
    char *s = malloc(size);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: {
        px_alert_syslog_url u;
        char why[256];
        if (px_alert_syslog_url_parse(s, &u, why, sizeof(why)) == PX_OK &&
            (u.port == 0 || !u.host[0]))
            abort();
        break;
    }
    case 1: {
        px_alert a = {.seq = 1,
                      .time = (int64_t)size * 86400 * 365,
                      .rule = s,
                      .key = s,
                      .id = s,
                      .json = s,
                      .json_len = size - 1};
        static char out[PX_ALERT_JSON_MAX + 2048];
        for (int body = 0; body < 2; body++) {
            size_t n =
                px_alert_syslog_format(&a, (px_alert_syslog_body)body, s, 42, out, sizeof(out));
            if (n < sizeof(out) && n != strlen(out) && !memchr(s, '\0', size - 1))
                abort();
        }
        break;
    }
    default:
        cef(s, strlen(s));
    }
    free(s);
    return 0;
}
