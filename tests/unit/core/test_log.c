/* test_log.c: syslog severities to our levels, and the report hook that
 * turns a library's message into a log line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/px_log.h"

static void test_from_syslog(void **state)
{
    (void)state;
    static const px_log_level want[] = {PX_LOG_ERROR,   PX_LOG_ERROR, PX_LOG_ERROR, PX_LOG_ERROR,
                                        PX_LOG_WARNING, PX_LOG_INFO,  PX_LOG_INFO,  PX_LOG_DEBUG};
    for (int level = 0; level < 8; level++)
        assert_int_equal(px_log_level_from_syslog(level), want[level]);
    assert_int_equal(px_log_level_from_syslog(-1), PX_LOG_ERROR);
    assert_int_equal(px_log_level_from_syslog(99), PX_LOG_DEBUG);
}

/* Runs px_report_to_log with stderr sent to a file; returns what it wrote. */
static char *reported(px_log_level level, const char *msg)
{
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    px_report_fn fn = px_report_to_log;
    fn(NULL, level, msg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    static char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_report_to_log(void **state)
{
    (void)state;
    px_log_set_ident("test_log");
    px_log_set_level(PX_LOG_INFO);
    const char *line = reported(PX_LOG_WARNING, "100% of 5 dropped");
    assert_non_null(strstr(line, " test_log warning: 100% of 5 dropped\n"));
    /* below the level: nothing */
    assert_string_equal(reported(PX_LOG_DEBUG, "quiet"), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_syslog),
        cmocka_unit_test(test_report_to_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
