/* px_error.h: the one error enum of pdnsx. Libraries return these; only
 * daemons turn them into log lines. */
#ifndef PX_ERROR_H
#define PX_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum px_err {
    PX_OK = 0,
    PX_ERR_NOMEM,       /* allocation failed */
    PX_ERR_INVAL,       /* invalid argument or value */
    PX_ERR_TRUNC,       /* input ends before a length says it should */
    PX_ERR_MALFORMED,   /* input violates its format */
    PX_ERR_LOOP,        /* DNS name compression loop or forward pointer */
    PX_ERR_TOOLONG,     /* name, label or text longer than allowed */
    PX_ERR_UNSUPPORTED, /* well-formed but not something we handle */
    PX_ERR_IO,          /* system call failed (see errno) */
    PX_ERR_CONFIG,      /* configuration problem */
    PX_ERR_KAFKA,       /* librdkafka reported an error */
    PX_ERR_AVRO,        /* avro-c reported an error */
    PX_ERR_FULL,        /* a bounded table or queue is full */
    PX_ERR_NOTFOUND,    /* no such item */
    PX_ERR_EOF,         /* normal end of input */
    PX_ERR_PROTO,       /* peer violated a protocol (e.g. Frame Streams) */
    PX_ERR_AGAIN,       /* try again later (would block, queue busy) */
    PX_ERR_DAMAGED,     /* stored data fails its checks (a damaged file) */
    PX_ERR__COUNT
} px_err;

/* Static string for an error code; never NULL. */
const char *px_strerror(px_err err);

/* Writes a message into the caller's "why" buffer (the why, whylen pair of
 * constructors and checks), cut to fit. why NULL or whylen 0: nothing. */
void px_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* px_why with a va_list, for a helper that returns something else than a
 * px_err (a rule, a status). */
void px_whyv(char *why, size_t whylen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* px_why, then returns err: a failure and its message in one statement,
 *     return px_errf(why, whylen, PX_ERR_INVAL, "bad limit '%s'", text); */
px_err px_errf(char *why, size_t whylen, px_err err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
