/* px_fixture.h: what a unit test does when a fixture it needs (the shared
 * corpus in ../shared/corpus, a tool scripts/setup.sh installs, a fetched
 * GeoIP file) is missing. On a developer's machine the test is skipped,
 * with the reason printed; in CI (CI=true in the environment, as .ci/run
 * is started) a missing fixture fails the test: a skip would let ctest
 * report "passed" for a suite that checked nothing.
 *
 * Include after <cmocka.h>. */
#ifndef PX_FIXTURE_H
#define PX_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* True in CI: CI set to anything but "", "0" or "false". */
static inline bool px_fixture_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && ci[0] && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0;
}

/* Skips the test (outside CI) or fails it (in CI), saying what is missing. */
#define PX_FIXTURE_MISSING(what)                                                                   \
    do {                                                                                           \
        if (px_fixture_in_ci())                                                                    \
            fail_msg("fixture missing in CI (CI=%s): %s", getenv("CI"), (what));                   \
        print_message("SKIP: fixture missing: %s\n", (what));                                      \
        skip();                                                                                    \
    } while (0)

/* Goes on if `path` is readable, else PX_FIXTURE_MISSING. */
#define PX_NEED_FILE(path)                                                                         \
    do {                                                                                           \
        if (access((path), R_OK) != 0)                                                             \
            PX_FIXTURE_MISSING(path);                                                              \
    } while (0)

/* True if `path` is readable. If not: false outside CI (the caller leaves
 * out what needs it, the reason printed), a failed test in CI. */
static inline bool px_fixture_present(const char *path)
{
    if (access(path, R_OK) == 0)
        return true;
    if (px_fixture_in_ci())
        fail_msg("fixture missing in CI (CI=%s): %s", getenv("CI"), path);
    print_message("fixture missing, part of the test left out: %s\n", path);
    return false;
}

#endif
