#include "core/px_error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const px_err_text[PX_ERR__COUNT] = {
    [PX_OK] = "success",
    [PX_ERR_NOMEM] = "out of memory",
    [PX_ERR_INVAL] = "invalid argument",
    [PX_ERR_TRUNC] = "truncated input",
    [PX_ERR_MALFORMED] = "malformed input",
    [PX_ERR_LOOP] = "name compression loop",
    [PX_ERR_TOOLONG] = "name or value too long",
    [PX_ERR_UNSUPPORTED] = "unsupported",
    [PX_ERR_IO] = "input/output error",
    [PX_ERR_CONFIG] = "configuration error",
    [PX_ERR_KAFKA] = "Kafka error",
    [PX_ERR_AVRO] = "Avro error",
    [PX_ERR_FULL] = "table full",
    [PX_ERR_NOTFOUND] = "not found",
    [PX_ERR_EOF] = "end of input",
    [PX_ERR_PROTO] = "protocol violation",
    [PX_ERR_AGAIN] = "try again",
    [PX_ERR_DAMAGED] = "stored data is damaged",
};

const char *px_strerror(px_err err)
{
    if ((unsigned)err >= PX_ERR__COUNT || px_err_text[err] == 0)
        return "unknown error";
    return px_err_text[err];
}

void px_whyv(char *why, size_t whylen, const char *fmt, va_list ap)
{
    if (why && whylen)
        vsnprintf(why, whylen, fmt, ap);
}

void px_why(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    px_whyv(why, whylen, fmt, ap);
    va_end(ap);
}

px_err px_errf(char *why, size_t whylen, px_err err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    px_whyv(why, whylen, fmt, ap);
    va_end(ap);
    return err;
}
