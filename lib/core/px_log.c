#include "core/px_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static px_log_level px_log_current = PX_LOG_INFO;
static const char *px_log_ident = "pdnsx";
static pthread_mutex_t px_log_lock = PTHREAD_MUTEX_INITIALIZER;

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

void px_log_set_ident(const char *ident)
{
    px_log_ident = ident;
}

void px_log(px_log_level level, const char *fmt, ...)
{
    if (level > px_log_current)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
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
