/* px_log.h: the daemons' one logger. Libraries never log; they return
 * px_err codes and the daemon decides what to say. Lines go to stderr as
 * "TIME IDENT LEVEL: message"; when stderr is the journal stream systemd
 * gave the service (JOURNAL_STREAM), as "<N>IDENT: message" with N the
 * syslog priority and no time, which journald adds. */
#ifndef PX_LOG_H
#define PX_LOG_H

typedef enum px_log_level {
    PX_LOG_ERROR = 0,
    PX_LOG_WARNING,
    PX_LOG_INFO,
    PX_LOG_DEBUG,
} px_log_level;

/* Parses "error", "warning", "info", "debug"; returns -1 if unknown. */
int px_log_level_parse(const char *name);
void px_log_set_level(px_log_level level);
/* Program name put in front of each line, e.g. "pdnsx-producer". Not copied.
 * Also chooses the line format from stderr as it is now (JOURNAL_STREAM):
 * call it once stderr is where the lines should go. */
void px_log_set_ident(const char *ident);

void px_log(px_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The level of a syslog severity (librdkafka's log callback, for one):
 * 0-3 error, 4 warning, 5-6 info, 7 and above debug. */
px_log_level px_log_level_from_syslog(int level);

/* How a library says something without logging itself: the caller gives
 * a px_report_fn and its ctx, and decides what becomes of the message.
 * msg is valid during the call only. */
typedef void (*px_report_fn)(void *ctx, px_log_level level, const char *msg);

/* A px_report_fn for daemons: px_log(level, "%s", msg); ctx is unused. */
void px_report_to_log(void *ctx, px_log_level level, const char *msg);

#define px_error(...) px_log(PX_LOG_ERROR, __VA_ARGS__)
#define px_warning(...) px_log(PX_LOG_WARNING, __VA_ARGS__)
#define px_info(...) px_log(PX_LOG_INFO, __VA_ARGS__)
#define px_debug(...) px_log(PX_LOG_DEBUG, __VA_ARGS__)

#endif
