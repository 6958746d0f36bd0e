/* test_parts.c: the part of a cmocka program that ctest asked for. */
#include "test_parts.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The parts' names joined by commas, as px_unit_parts writes PXT_PARTS. */
static void pxt_part_names(const pxt_part *parts, size_t n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "," : "", parts[i].name);
}

int pxt_run_parts(const pxt_part *parts, size_t n)
{
    const char *want = getenv("PXT_PART");
    const char *declared = getenv("PXT_PARTS");
    char names[512];
    pxt_part_names(parts, n, names, sizeof(names));
    if (declared && strcmp(declared, names) != 0) {
        fprintf(stderr,
                "the build declares the parts %s, the program has %s: keep "
                "px_unit_parts() in step with main()\n",
                declared, names);
        return 1;
    }
    int failed = 0;
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (want && strcmp(want, parts[i].name) != 0)
            continue;
        found = true;
        failed += _cmocka_run_group_tests(parts[i].name, parts[i].tests, parts[i].n, NULL, NULL);
    }
    if (want && !found) {
        fprintf(stderr, "PXT_PART=%s: no such part (the parts: %s)\n", want, names);
        return 1;
    }
    return failed;
}
