#include "core/px_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static px_log_level px_log_current = PX_LOG_INFO;
static const char *px_log_ident = "pdnsx";
static pthread_mutex_t px_log_lock = PTHREAD_MUTEX_INITIALIZER;
static bool px_log_journal;

static const char *const px_log_names[] = {"error", "warning", "info", "debug"};

int px_log_level_parse(const char *name)
{
    for (int i = 0; i <= PX_LOG_DEBUG; i++)
        if (name && strcmp(name, px_log_names[i]) == 0)
            return i;
    return -1;
}

void px_log_set_level(px_log_level level)
{
    px_log_current = level;
}

/* systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it gave the
 * service; a child whose stderr was redirected inherits the variable but
 * not the stream, hence the comparison. */
static bool px_log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char end;
    if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2)
        return false;
    struct stat st;
    if (fstat(STDERR_FILENO, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void px_log_set_ident(const char *ident)
{
    px_log_ident = ident;
    px_log_journal = px_log_stderr_is_journal();
}

/* journald reads a leading "<N>" as the syslog priority and stamps the
 * time itself. */
static const int px_log_syslog_levels[] = {3, 4, 6, 7};

void px_log(px_log_level level, const char *fmt, ...)
{
    if (level > px_log_current)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (px_log_journal) {
        pthread_mutex_lock(&px_log_lock);
        fprintf(stderr, "<%d>%s: %s\n", px_log_syslog_levels[level], px_log_ident, msg);
        fflush(stderr);
        pthread_mutex_unlock(&px_log_lock);
        return;
    }
    /* Wall-clock time only for the log line; data times are event time. */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    pthread_mutex_lock(&px_log_lock);
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", when, ts.tv_nsec / 1000000, px_log_ident,
            px_log_names[level], msg);
    fflush(stderr);
    pthread_mutex_unlock(&px_log_lock);
}

px_log_level px_log_level_from_syslog(int level)
{
    if (level <= 3)
        return PX_LOG_ERROR;
    if (level == 4)
        return PX_LOG_WARNING;
    if (level <= 6)
        return PX_LOG_INFO;
    return PX_LOG_DEBUG;
}

void px_report_to_log(void *ctx, px_log_level level, const char *msg)
{
    (void)ctx;
    px_log(level, "%s", msg);
}
