/* px_psl.c: registered domain through libpsl.
 *
 * psl_latest(NULL) picks the newer of libpsl's built-in list and the
 * system's (Debian's publicsuffix package); it includes the private
 * section (blogspot.com, github.io, ...). Loaded once per process. */
#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "px_psl.h"

#define PX_PSL_NAME_MAX 1025 /* presentation name, 255 octets as \DDD, + NUL */

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl_ctx;

static void psl_init(void)
{
    /* psl_latest() returns a context the caller owns; it lives as long as
     * the process. The built-in list is the fallback if no file loads. */
    psl_ctx = psl_latest(NULL);
    if (!psl_ctx)
        psl_ctx = psl_builtin();
}

static px_err put(const char *s, size_t n, char *out, size_t outlen)
{
    if (n >= outlen)
        return PX_ERR_TOOLONG;
    memcpy(out, s, n);
    out[n] = '\0';
    return PX_OK;
}

/* True if the dot at name[i] is escaped ("a\.b" is one label). */
static bool dot_escaped(const char *name, size_t i)
{
    size_t bs = 0;
    while (bs < i && name[i - 1 - bs] == '\\')
        bs++;
    return bs % 2 == 1;
}

px_err px_registered_domain(const char *name, char *out, size_t outlen)
{
    char buf[PX_PSL_NAME_MAX];
    size_t n;
    if (!name || !out)
        return PX_ERR_INVAL;
    n = strlen(name);
    /* Strip one trailing dot unless it is escaped; the root stays ".". */
    if (n > 1 && name[n - 1] == '.' && !dot_escaped(name, n - 1))
        n--;
    if (n == 0 || (n == 1 && name[0] == '.'))
        return put(".", 1, out, outlen);
    if (n >= sizeof(buf))
        return PX_ERR_TOOLONG;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[n] = '\0';

    pthread_once(&psl_once, psl_init);
    const char *reg = psl_ctx ? psl_registrable_domain(psl_ctx, buf) : NULL;
    if (!reg)
        return put(buf, n, out, outlen); /* a public suffix, or no list */
    /* libpsl knows nothing of presentation escapes: if it cut at an escaped
     * dot, move back to the start of that whole label. */
    size_t start = (size_t)(reg - buf);
    while (start > 0 && buf[start - 1] == '.' && dot_escaped(buf, start - 1)) {
        start--;
        while (start > 0 && !(buf[start - 1] == '.' && !dot_escaped(buf, start - 1)))
            start--;
    }
    return put(buf + start, n - start, out, outlen);
}
