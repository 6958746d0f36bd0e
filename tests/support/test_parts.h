/* test_parts.h: a long cmocka program cut into parts that ctest runs as
 * separate tests (px_unit_parts in tests/CMakeLists.txt), so that a
 * parallel ctest run spreads them over its slots instead of waiting for
 * one program at its end. Run by hand, the program runs every part. */
#ifndef PXT_TEST_PARTS_H
#define PXT_TEST_PARTS_H

#include <stddef.h>

struct CMUnitTest;

typedef struct pxt_part {
    const char *name;
    const struct CMUnitTest *tests; /* borrowed */
    size_t n;
} pxt_part;

#define PXT_PART(name, tests)                                                                      \
    {                                                                                              \
        (name), (tests), sizeof(tests) / sizeof((tests)[0])                                        \
    }

/* Runs the part PXT_PART names (the environment ctest sets), or every part
 * without it; returns the number of failed tests, like cmocka. Fails when
 * PXT_PART is no part of the program, or when PXT_PARTS (every part the
 * build declared, comma-separated) is not the program's list: a part the
 * build does not know would never run. */
int pxt_run_parts(const pxt_part *parts, size_t n);

#endif
