/* fuzz_detect_known.c: arbitrary bytes as a detect.known_domains file
 * (px_detect_known_parse). Checks, besides no crash and no leak: a bad
 * line is named ("line N: ") with N within the input's lines; every
 * domain the parser accepted is found again; parsing the same bytes twice
 * adds nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect/px_detect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_detect_known *k = px_detect_known_create();
    if (!k)
        return 0;
    char why[256] = "";
    px_err err = px_detect_known_parse(k, (const char *)data, size, why, sizeof why);
    if (err != PX_OK && err != PX_ERR_MALFORMED && err != PX_ERR_NOMEM)
        abort();
    if (err == PX_ERR_MALFORMED) {
        size_t lines = 1;
        for (size_t i = 0; i < size; i++)
            lines += data[i] == '\n';
        unsigned long n = strncmp(why, "line ", 5) == 0 ? strtoul(why + 5, NULL, 10) : 0;
        if (n < 1 || n > lines)
            abort();
    }
    size_t count = px_detect_known_count(k);
    if (err == PX_OK) {
        if (px_detect_known_parse(k, (const char *)data, size, why, sizeof why) != PX_OK ||
            px_detect_known_count(k) != count)
            abort();
    }
    /* A one-line input that parsed names its registered domain. */
    if (err == PX_OK && count == 1 && size < 300 && !memchr(data, '\n', size) &&
        !memchr(data, ',', size) && !memchr(data, '#', size)) {
        char dom[300];
        size_t n = 0;
        for (size_t i = 0; i < size; i++) {
            char c = (char)data[i];
            if (c == ' ' || c == '\t' || c == '\r')
                continue;
            dom[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
        }
        if (n && dom[n - 1] == '.')
            n--;
        /* The registered domain is a suffix of the name. */
        bool found = false;
        for (size_t off = 0; off < n && !found; off++) {
            if (off == 0 || dom[off - 1] == '.')
                found = px_detect_known_has(k, dom + off, n - off);
        }
        if (!found)
            abort();
    }
    px_detect_known_destroy(k);
    return 0;
}
