/* test_log.c: syslog severities to our levels, the report hook that
 * turns a library's message into a log line, and the journald format. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* What to log while stderr is a file: fd is that file. */
typedef struct logged_call {
    bool journal;     /* JOURNAL_STREAM set: naming fd's file, or another */
    bool same_stream; /* with journal: it names fd's file */
    bool via_report;  /* through px_report_to_log rather than px_log */
    px_log_level level;
    const char *msg;
} logged_call;

static void log_call(int fd, const logged_call *call)
{
    if (call->journal) {
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        char env[64];
        snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino + (call->same_stream ? 0 : 1));
        assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
        px_log_set_ident("test_log");
    }
    if (call->via_report) {
        px_report_fn fn = px_report_to_log;
        fn(NULL, call->level, call->msg);
    } else {
        px_log(call->level, "%s", call->msg);
    }
    if (call->journal) {
        unsetenv("JOURNAL_STREAM");
        px_log_set_ident("test_log");
    }
}

/* Makes the call with stderr sent to a new file; returns what it wrote. */
static char *logged(logged_call call)
{
    char path[] = "/tmp/test_log.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    log_call(fd, &call);
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

/* px_report_to_log's line for msg at level. */
static char *reported(px_log_level level, const char *msg)
{
    return logged((logged_call){.via_report = true, .level = level, .msg = msg});
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

/* px_log's line with JOURNAL_STREAM naming stderr's file (same_stream),
 * as systemd sets it, or another file. */
static char *journal_logged(bool same_stream, px_log_level level, const char *msg)
{
    return logged(
        (logged_call){.journal = true, .same_stream = same_stream, .level = level, .msg = msg});
}

static void test_journal_stream(void **state)
{
    (void)state;
    px_log_set_level(PX_LOG_DEBUG);
    /* stderr is the journal's stream: syslog priority, no time of our own */
    assert_string_equal(journal_logged(true, PX_LOG_ERROR, "store damaged"),
                        "<3>test_log: store damaged\n");
    assert_string_equal(journal_logged(true, PX_LOG_WARNING, "slow"), "<4>test_log: slow\n");
    assert_string_equal(journal_logged(true, PX_LOG_INFO, "started"), "<6>test_log: started\n");
    assert_string_equal(journal_logged(true, PX_LOG_DEBUG, "detail"), "<7>test_log: detail\n");
    /* inherited JOURNAL_STREAM but stderr redirected elsewhere: as without
     * systemd, the time first */
    const char *line = journal_logged(false, PX_LOG_WARNING, "slow");
    assert_int_equal(line[0] >= '2' && line[0] <= '9', 1);
    assert_non_null(strstr(line, "Z test_log warning: slow\n"));
    px_log_set_level(PX_LOG_INFO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_syslog),
        cmocka_unit_test(test_report_to_log),
        cmocka_unit_test(test_journal_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
