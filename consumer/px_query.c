/* px_query.c: requests, running them against the store, and merging the
 * answers of several consumers. HTTP lives in px_query_http.c. */
#include "px_query.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "px_cof.h"

static px_err px_query_fail(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static px_err px_query_fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (errbuf && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return PX_ERR_INVAL;
}

void px_query_req_init(px_query_req *req)
{
    memset(req, 0, sizeof(*req));
    req->fence.after = INT64_MIN;
    req->fence.before = INT64_MAX;
}

/* ---- request ------------------------------------------------------------- */

/* Lowercases into dst and drops one trailing dot (not the root's): the
 * store keeps names in that form. Printable ASCII without blanks only. */
static bool px_query_norm_name(const char *src, char *dst, size_t dstlen)
{
    size_t n = strlen(src);
    if (n == 0 || n >= dstlen)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)src[i];
        if (ch <= ' ' || ch >= 0x7f)
            return false;
        dst[i] = (char)tolower(ch);
    }
    if (n > 1 && dst[n - 1] == '.' && dst[n - 2] != '\\')
        n--;
    dst[n] = '\0';
    /* "*." alone or "*" asks for nothing sensible */
    return strcmp(dst, "*") != 0 && strcmp(dst, "*.") != 0;
}

static bool px_query_norm_type(const char *src, char *dst, size_t dstlen)
{
    size_t n = strlen(src);
    if (n == 0 || n >= dstlen)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)src[i]))
            return false;
        dst[i] = (char)toupper((unsigned char)src[i]);
    }
    dst[n] = '\0';
    return true;
}

/* Shared by the command line and HTTP: kind, name and optional type. */
static px_err px_query_req_fill(px_query_req *req, const char *kind, const char *name,
                                const char *type, char *errbuf, size_t errlen)
{
    if (strcmp(kind, "rrset") == 0)
        req->kind = PX_QUERY_RRSET;
    else if (strcmp(kind, "rdata") == 0)
        req->kind = PX_QUERY_RDATA;
    else
        return px_query_fail(errbuf, errlen, "unknown lookup '%s': expected rrset or rdata", kind);
    if (req->kind == PX_QUERY_RDATA && type)
        return px_query_fail(errbuf, errlen, "rdata takes one value and no type");
    if (!px_query_norm_name(name, req->name, sizeof(req->name)))
        return px_query_fail(errbuf, errlen, "bad %s '%s'",
                             req->kind == PX_QUERY_RRSET ? "name" : "value", name);
    req->rrtype[0] = '\0';
    if (type && !px_query_norm_type(type, req->rrtype, sizeof(req->rrtype)))
        return px_query_fail(errbuf, errlen, "bad rrtype '%s'", type);
    return PX_OK;
}

px_err px_query_req_parse_args(px_query_req *req, int argc, char *const *argv, char *errbuf,
                               size_t errlen)
{
    if (argc < 1)
        return px_query_fail(errbuf, errlen, "expected 'rrset NAME [TYPE]' or 'rdata VALUE'");
    bool rrset = strcmp(argv[0], "rrset") == 0;
    if (argc < 2 || argc > (rrset ? 3 : 2))
        return px_query_fail(errbuf, errlen, "%s",
                             rrset ? "usage: rrset NAME [TYPE]" : "usage: rdata VALUE");
    return px_query_req_fill(req, argv[0], argv[1], argc == 3 ? argv[2] : NULL, errbuf, errlen);
}

static bool px_query_digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DD" with optional "THH:MM[:SS]Z"; fields must be a real date
 * (timegm would silently roll Feb 30 into March). */
static px_err px_query_parse_iso(const char *t, int64_t *out)
{
    size_t n = strlen(t);
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (n < 10 || t[4] != '-' || t[7] != '-' || !px_query_digits(t, 4, &y) ||
        !px_query_digits(t + 5, 2, &mo) || !px_query_digits(t + 8, 2, &d))
        return PX_ERR_INVAL;
    if (n > 10) {
        bool hm = (n == 17 || n == 20) && t[10] == 'T' && t[13] == ':' && t[n - 1] == 'Z' &&
                  px_query_digits(t + 11, 2, &h) && px_query_digits(t + 14, 2, &mi);
        bool sec = n == 17 || (t[16] == ':' && px_query_digits(t + 17, 2, &s));
        if (!hm || !sec)
            return PX_ERR_INVAL;
    }
    tm.tm_year = y - 1900, tm.tm_mon = mo - 1, tm.tm_mday = d;
    tm.tm_hour = h, tm.tm_min = mi, tm.tm_sec = s;
    time_t v = timegm(&tm);
    struct tm back;
    if (!gmtime_r(&v, &back) || back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
        back.tm_mday != d || back.tm_hour != h || back.tm_min != mi || back.tm_sec != s)
        return PX_ERR_INVAL;
    *out = (int64_t)v;
    return PX_OK;
}

px_err px_query_parse_time(const char *text, int64_t *out)
{
    if (!text || !*text)
        return PX_ERR_INVAL;
    if (strchr(text, '-'))
        return px_query_parse_iso(text, out);
    for (const char *p = text; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return PX_ERR_INVAL;
    }
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return PX_ERR_INVAL;
    *out = v;
    return PX_OK;
}

static px_err px_query_set_time(px_query_req *req, const char *which, int64_t *slot,
                                const char *text, char *errbuf, size_t errlen)
{
    int64_t v;
    if (px_query_parse_time(text, &v) != PX_OK)
        return px_query_fail(errbuf, errlen,
                             "bad time for %s: '%s' (expected epoch seconds or "
                             "2026-11-26T18:00:00Z)",
                             which, text);
    *slot = v;
    if (req->fence.after > req->fence.before)
        return px_query_fail(errbuf, errlen, "after is later than before");
    return PX_OK;
}

px_err px_query_req_set_after(px_query_req *req, const char *text, char *errbuf, size_t errlen)
{
    return px_query_set_time(req, "after", &req->fence.after, text, errbuf, errlen);
}

px_err px_query_req_set_before(px_query_req *req, const char *text, char *errbuf, size_t errlen)
{
    return px_query_set_time(req, "before", &req->fence.before, text, errbuf, errlen);
}

/* ---- HTTP form -------------------------------------------------------------- */

static int px_query_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

bool px_query_pct_decode(const char *src, size_t len, char *dst, size_t dstlen)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = src[i];
        if (ch == '%') {
            int hi = i + 2 < len ? px_query_hex(src[i + 1]) : -1;
            int lo = hi >= 0 ? px_query_hex(src[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0))
                return false;
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= dstlen)
            return false;
        dst[o++] = ch;
    }
    if (o >= dstlen)
        return false;
    dst[o] = '\0';
    return true;
}

/* RFC 3986 pchar minus the sub-delims we do not need; ':' and '*' stay
 * readable (IPv6 addresses, wildcards). */
static bool px_query_plain(unsigned char ch)
{
    return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~' || ch == ':' ||
           ch == '*' || ch == '@';
}

static void px_query_encode(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (px_query_plain(ch))
            fputc(ch, f);
        else
            fprintf(f, "%%%02X", ch);
    }
}

char *px_query_req_to_path(const px_query_req *req)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputs(req->kind == PX_QUERY_RRSET ? "/rrset/" : "/rdata/", f);
    px_query_encode(f, req->name);
    if (req->kind == PX_QUERY_RRSET && req->rrtype[0]) {
        fputc('/', f);
        px_query_encode(f, req->rrtype);
    }
    char sep = '?';
    if (req->fence.after != INT64_MIN) {
        fprintf(f, "%cafter=%lld", sep, (long long)req->fence.after);
        sep = '&';
    }
    if (req->fence.before != INT64_MAX)
        fprintf(f, "%cbefore=%lld", sep, (long long)req->fence.before);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Splits "/a/b/c" into at most `max` decoded segments. Returns the count,
 * -1 for too many segments (no such endpoint), -2 for a bad escape. */
static int px_query_segments(const char *path, char seg[][PX_QUERY_MAX_TEXT], int max)
{
    if (path[0] != '/')
        return -1;
    int n = 0;
    const char *p = path + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == max)
            return -1;
        if (!px_query_pct_decode(p, len, seg[n], PX_QUERY_MAX_TEXT))
            return -2;
        n++;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static px_err px_query_http_time(px_query_req *req, const char *which, const char *raw,
                                 char *errbuf, size_t errlen)
{
    char text[64];
    if (!px_query_pct_decode(raw, strlen(raw), text, sizeof(text)))
        return px_query_fail(errbuf, errlen, "bad %s parameter", which);
    return strcmp(which, "after") == 0 ? px_query_req_set_after(req, text, errbuf, errlen)
                                       : px_query_req_set_before(req, text, errbuf, errlen);
}

px_err px_query_req_from_http(px_query_req *req, const char *path, const char *after,
                              const char *before, char *errbuf, size_t errlen)
{
    /* on the heap: 3 KiB of segments is a lot for an HTTP worker stack */
    char(*s)[PX_QUERY_MAX_TEXT] = malloc(3 * sizeof(*s));
    if (!s)
        return PX_ERR_NOMEM;
    px_query_req_init(req);
    px_err err = PX_OK;
    int n = px_query_segments(path, s, 3);
    bool rrset = n >= 2 && strcmp(s[0], "rrset") == 0;
    bool rdata = n == 2 && strcmp(s[0], "rdata") == 0;
    if (n == -2) {
        err = px_query_fail(errbuf, errlen, "bad percent-encoding in the path");
    } else if (n < 0 || !(rrset || rdata)) {
        snprintf(errbuf, errlen, "no such endpoint: try /rrset/NAME[/TYPE] or /rdata/VALUE");
        err = PX_ERR_NOTFOUND;
    } else {
        err = px_query_req_fill(req, s[0], s[1], n == 3 ? s[2] : NULL, errbuf, errlen);
    }
    if (!err && after)
        err = px_query_http_time(req, "after", after, errbuf, errlen);
    if (!err && before)
        err = px_query_http_time(req, "before", before, errbuf, errlen);
    free(s);
    return err;
}

/* ---- running ---------------------------------------------------------------- */

typedef struct px_query_out {
    FILE *out;
    size_t n;
    px_err err;
} px_query_out;

static bool px_query_emit(void *ctx, const px_store_rec *rec)
{
    px_query_out *o = ctx;
    o->err = px_cof_write(o->out, rec);
    if (o->err == PX_OK)
        o->n++;
    return o->err == PX_OK;
}

px_err px_query_run(px_store *store, const px_query_req *req, FILE *out, size_t *n_out)
{
    px_query_out o = {.out = out};
    px_err err;
    if (req->kind == PX_QUERY_RRSET)
        err = px_store_query_rrset(store, req->name, req->rrtype[0] ? req->rrtype : NULL,
                                   &req->fence, px_query_emit, &o);
    else
        err = px_store_query_rdata(store, req->name, &req->fence, px_query_emit, &o);
    if (n_out)
        *n_out = o.n;
    return o.err != PX_OK ? o.err : err;
}

/* ---- order ------------------------------------------------------------------- */

/* The label of s ending at *end (exclusive), moving *end before it. */
static const char *px_query_prev_label(const char *s, const char **end, size_t *len)
{
    const char *e = *end, *p = e;
    while (p > s && p[-1] != '.')
        p--;
    *len = (size_t)(e - p);
    *end = p > s ? p - 1 : s;
    return p;
}

int px_query_name_cmp(const char *a, const char *b)
{
    const char *ea = a + strlen(a), *eb = b + strlen(b);
    /* the root "." has no labels */
    if (strcmp(a, ".") == 0)
        ea = a;
    if (strcmp(b, ".") == 0)
        eb = b;
    for (;;) {
        bool more_a = ea > a, more_b = eb > b;
        if (!more_a || !more_b)
            return (int)more_a - (int)more_b;
        size_t la, lb;
        const char *pa = px_query_prev_label(a, &ea, &la);
        const char *pb = px_query_prev_label(b, &eb, &lb);
        int c = memcmp(pa, pb, la < lb ? la : lb);
        if (c != 0)
            return c;
        if (la != lb)
            return la < lb ? -1 : 1;
    }
}

int px_query_rec_cmp(const px_store_rec *a, const px_store_rec *b)
{
    int c = px_query_name_cmp(a->rrname, b->rrname);
    if (c == 0)
        c = strcmp(a->rrtype, b->rrtype);
    if (c == 0)
        c = strcmp(a->rdata, b->rdata);
    return c;
}
