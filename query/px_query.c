/* px_query.c: requests, running them against the store, and merging the
 * answers of several consumers. HTTP lives in px_query_http.c. */
#include "query/px_query.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "dns/px_addr.h"
#include "dns/px_dns_name.h"
#include "dns/px_dns_type.h"
#include "query/px_cof.h"

void px_query_req_init(px_query_req *req)
{
    memset(req, 0, sizeof(*req));
    req->fence.after = INT64_MIN;
    req->fence.before = INT64_MAX;
    req->type = PX_STORE_ANY_TYPE;
}

/* ---- request ------------------------------------------------------------- */

/* Any spelling of a name -> its canonical text at dst[0..dstlen). */
static bool px_query_canon(const char *src, char *dst, size_t dstlen, size_t *len)
{
    return px_dns_name_canon(src, strlen(src), dst, dstlen, len) == PX_OK;
}

/* rrset's NAME: "*.ZONE" asks for the names below ZONE ("*" or "*." alone
 * asks for nothing sensible), anything else for one owner name. A
 * wildcard owner ("\*.example.com", the record of that name) keeps its
 * escape in name, so that the path it is sent on asks for it again. */
static bool px_query_parse_owner(px_query_req *req, const char *src)
{
    bool below = src[0] == '*' && src[1] == '.' && src[2];
    if (!below && src[0] == '*' && (!src[1] || (src[1] == '.' && !src[2])))
        return false;
    char canon[PX_DNS_NAME_TEXT_MAX];
    size_t len;
    if (!px_query_canon(src + (below ? 2 : 0), canon, sizeof(canon), &len))
        return false;
    bool star = !below && canon[0] == '*' && (canon[1] == '.' || canon[1] == '\0');
    const char *prefix = below ? "*." : star ? "\\" : "";
    size_t off = strlen(prefix);
    if (off + len >= sizeof(req->name))
        return false;
    memcpy(req->name, prefix, off);
    memcpy(req->name + off, canon, len + 1);
    req->by = below ? PX_STORE_BY_ZONE : PX_STORE_BY_NAME;
    req->canon_off = off, req->canon_len = len;
    return true;
}

/* rdata's VALUE: an address in any spelling, else a name some record
 * names (NS, CNAME, PTR, DNAME, MX, SRV); a trailing dot makes a value
 * that reads as an address a name. */
static bool px_query_parse_value(px_query_req *req, const char *src)
{
    px_addr a;
    if (px_addr_parse(src, &a) == PX_OK && (a.family == 4 || a.family == 6)) {
        req->by = PX_STORE_BY_ADDR;
        req->addr_len = a.family == 4 ? 4 : 16;
        memcpy(req->addr, a.bytes, req->addr_len);
        return px_addr_format(&a, req->name, sizeof(req->name))[0] != '\0';
    }
    req->by = PX_STORE_BY_TARGET;
    req->canon_off = 0;
    size_t len;
    if (!px_query_canon(src, req->name, sizeof(req->name) - 1, &len))
        return false;
    req->canon_len = len;
    /* a name that reads as an address ("1.2.3.4.") keeps its trailing
     * dot in name, so that the path it is sent on asks for the name again */
    if (px_addr_parse(req->name, &a) == PX_OK)
        memcpy(req->name + len, ".", 2);
    return true;
}

/* domain's NAME: a registered domain, neither a wildcard nor the root. */
static bool px_query_parse_domain(px_query_req *req, const char *src)
{
    req->canon_off = 0;
    return px_query_canon(src, req->name, sizeof(req->name), &req->canon_len) &&
           req->name[0] != '*' && strcmp(req->name, ".") != 0;
}

static bool px_query_parse_type(px_query_req *req, const char *src)
{
    req->type = src ? px_dns_type_parse(src) : PX_STORE_ANY_TYPE;
    req->rrtype[0] = '\0';
    if (!src)
        return true;
    if (req->type < 0)
        return false;
    char buf[16];
    snprintf(req->rrtype, sizeof(req->rrtype), "%s",
             px_dns_type_name((uint16_t)req->type, buf, sizeof(buf)));
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
    else if (strcmp(kind, "domain") == 0)
        req->kind = PX_QUERY_DOMAIN;
    else
        return px_errf(errbuf, errlen, PX_ERR_INVAL,
                       "unknown lookup '%s': expected rrset, rdata or domain", kind);
    if (req->kind != PX_QUERY_RRSET && type)
        return px_errf(errbuf, errlen, PX_ERR_INVAL, "%s takes one %s and no type", kind,
                       req->kind == PX_QUERY_RDATA ? "value" : "name");
    bool ok = req->kind == PX_QUERY_RRSET   ? px_query_parse_owner(req, name)
              : req->kind == PX_QUERY_RDATA ? px_query_parse_value(req, name)
                                            : px_query_parse_domain(req, name);
    if (!ok)
        return px_errf(errbuf, errlen, PX_ERR_INVAL, "bad %s '%s'",
                       req->kind == PX_QUERY_RDATA ? "value" : "name", name);
    if (!px_query_parse_type(req, type))
        return px_errf(errbuf, errlen, PX_ERR_INVAL, "bad rrtype '%s'", type);
    return PX_OK;
}

px_err px_query_req_parse_args(px_query_req *req, int argc, char *const *argv, char *errbuf,
                               size_t errlen)
{
    if (argc < 1)
        return px_errf(errbuf, errlen, PX_ERR_INVAL,
                       "expected 'rrset NAME [TYPE]', 'rdata VALUE' or 'domain NAME'");
    bool rrset = strcmp(argv[0], "rrset") == 0;
    if (argc < 2 || argc > (rrset ? 3 : 2))
        return px_errf(errbuf, errlen, PX_ERR_INVAL, "%s",
                       rrset                            ? "usage: rrset NAME [TYPE]"
                       : strcmp(argv[0], "domain") == 0 ? "usage: domain NAME"
                                                        : "usage: rdata VALUE");
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
 * (timegm would silently roll Feb 30 into March), no earlier than the epoch:
 * times are epoch seconds, and a negative one would not survive the trip
 * through a path (where "-" marks a date). */
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
        back.tm_mday != d || back.tm_hour != h || back.tm_min != mi || back.tm_sec != s || v < 0)
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
        return px_errf(errbuf, errlen, PX_ERR_INVAL,
                       "bad time for %s: '%s' (expected epoch seconds or "
                       "2026-11-26T18:00:00Z)",
                       which, text);
    *slot = v;
    if (req->fence.after > req->fence.before)
        return px_errf(errbuf, errlen, PX_ERR_INVAL, "after is later than before");
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

px_err px_query_req_set_limit(px_query_req *req, const char *text, char *errbuf, size_t errlen)
{
    uint64_t v = 0;
    bool ok = text && *text && strlen(text) <= 10;
    for (const char *p = text; ok && *p; p++) {
        ok = isdigit((unsigned char)*p);
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (!ok || v < 1 || v > PX_QUERY_LIMIT_MAX)
        return px_errf(errbuf, errlen, PX_ERR_INVAL,
                       "bad limit '%s': a whole number from 1 to %llu", text ? text : "",
                       (unsigned long long)PX_QUERY_LIMIT_MAX);
    req->limit = v;
    return PX_OK;
}

void px_query_req_apply_limits(px_query_req *req, const px_query_limits *limits)
{
    if (req->limit == 0)
        req->limit = limits->def;
    if (req->limit > limits->max)
        req->limit = limits->max;
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
    static const char *const paths[] = {
        [PX_QUERY_RRSET] = "/rrset/", [PX_QUERY_RDATA] = "/rdata/", [PX_QUERY_DOMAIN] = "/domain/"};
    fputs(paths[req->kind], f);
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
    if (req->fence.before != INT64_MAX) {
        fprintf(f, "%cbefore=%lld", sep, (long long)req->fence.before);
        sep = '&';
    }
    if (req->limit)
        fprintf(f, "%climit=%llu", sep, (unsigned long long)req->limit);
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

/* One after/before/limit parameter: percent-decoded, then set. */
static px_err px_query_http_param(px_query_req *req, const char *which, const char *raw,
                                  char *errbuf, size_t errlen)
{
    char text[64];
    if (!px_query_pct_decode(raw, strlen(raw), text, sizeof(text)))
        return px_errf(errbuf, errlen, PX_ERR_INVAL, "bad %s parameter", which);
    if (strcmp(which, "limit") == 0)
        return px_query_req_set_limit(req, text, errbuf, errlen);
    return strcmp(which, "after") == 0 ? px_query_req_set_after(req, text, errbuf, errlen)
                                       : px_query_req_set_before(req, text, errbuf, errlen);
}

px_err px_query_req_from_http(px_query_req *req, const char *path, const char *after,
                              const char *before, const char *limit, char *errbuf, size_t errlen)
{
    /* on the heap: 3 KiB of segments is a lot for an HTTP worker stack */
    char(*s)[PX_QUERY_MAX_TEXT] = malloc(3 * sizeof(*s));
    if (!s)
        return PX_ERR_NOMEM;
    px_query_req_init(req);
    px_err err = PX_OK;
    int n = px_query_segments(path, s, 3);
    bool rrset = n >= 2 && strcmp(s[0], "rrset") == 0;
    bool one = n == 2 && (strcmp(s[0], "rdata") == 0 || strcmp(s[0], "domain") == 0);
    if (n == -2) {
        err = px_errf(errbuf, errlen, PX_ERR_INVAL, "bad percent-encoding in the path");
    } else if (n < 0 || !(rrset || one)) {
        snprintf(errbuf, errlen,
                 "no such endpoint: try /rrset/NAME[/TYPE], /rdata/VALUE or /domain/NAME");
        err = PX_ERR_NOTFOUND;
    } else {
        err = px_query_req_fill(req, s[0], s[1], n == 3 ? s[2] : NULL, errbuf, errlen);
    }
    if (!err && after)
        err = px_query_http_param(req, "after", after, errbuf, errlen);
    if (!err && before)
        err = px_query_http_param(req, "before", before, errbuf, errlen);
    if (!err && limit)
        err = px_query_http_param(req, "limit", limit, errbuf, errlen);
    free(s);
    return err;
}

/* ---- running ---------------------------------------------------------------- */

/* A piece is about this many bytes of COF lines; a step of the store
 * walk visits at most this many keys, so a fence that leaves most records
 * out still lets the caller look up between steps. */
enum { PX_QUERY_PIECE = 16384, PX_QUERY_STEP_KEYS = 512 };

struct px_query_stream {
    px_stores_iter *it; /* rrset, rdata */
    px_stores *stores;  /* domain: one lookup, on the first call */
    px_stores_sel sel;  /* the stores read (want NULL: all) */
    px_query_req req;
    uint64_t limit, n;
    bool cut, done;
    px_query_keep_fn keep; /* NULL: every record */
    void *keep_ctx;
    px_err err;  /* of the record callback */
    px_err fail; /* of a step that gave records first: the next call's */
    char *buf;   /* the current piece */
    size_t len, cap;
};

px_err px_query_stream_open(px_stores *stores, const px_stores_sel *sel, const px_query_req *req,
                            px_query_stream **out)
{
    *out = NULL;
    if (!stores || req->limit == 0)
        return PX_ERR_INVAL;
    px_query_stream *qs = calloc(1, sizeof(*qs));
    if (!qs)
        return PX_ERR_NOMEM;
    qs->limit = req->limit;
    qs->stores = stores;
    if (sel)
        qs->sel = *sel;
    qs->req = *req;
    px_err err = PX_OK;
    if (req->kind != PX_QUERY_DOMAIN) {
        px_store_lookup l = {.by = req->by,
                             .name = req->name + req->canon_off,
                             .name_len = req->canon_len,
                             .addr = req->addr,
                             .addr_len = req->addr_len,
                             .rrtype = req->type};
        err = px_stores_iter_find(stores, &qs->sel, &l, &req->fence, &qs->it);
    }
    if (err) {
        free(qs);
        return err;
    }
    *out = qs;
    return PX_OK;
}

void px_query_stream_keep(px_query_stream *qs, px_query_keep_fn keep, void *ctx)
{
    qs->keep = keep;
    qs->keep_ctx = ctx;
}

static bool px_query_kept(const px_query_stream *qs, const char *name)
{
    return !qs->keep || qs->keep(qs->keep_ctx, name);
}

static px_err px_query_append(px_query_stream *qs, const char *line, size_t n)
{
    if (qs->cap - qs->len < n + 1) {
        size_t cap = qs->cap ? qs->cap : PX_QUERY_PIECE + 4096;
        while (cap - qs->len < n + 1)
            cap *= 2;
        char *b = realloc(qs->buf, cap);
        if (!b)
            return PX_ERR_NOMEM;
        qs->buf = b, qs->cap = cap;
    }
    memcpy(qs->buf + qs->len, line, n);
    qs->buf[qs->len + n] = '\n';
    qs->len += n + 1;
    return PX_OK;
}

/* One record of the walk: a line of the piece, until the piece is full.
 * A record past the limit is not written: it says the answer is cut. */
static bool px_query_on_rec(void *ctx, const px_store_rec *rec)
{
    px_query_stream *qs = ctx;
    if (!px_query_kept(qs, rec->rrname))
        return true;
    if (qs->n == qs->limit) {
        qs->cut = true;
        return false;
    }
    char *line = px_cof_dumps(rec);
    qs->err = line ? px_query_append(qs, line, strlen(line)) : PX_ERR_NOMEM;
    free(line);
    if (qs->err)
        return false;
    qs->n++;
    return qs->len < PX_QUERY_PIECE;
}

/* The domain's line, when its [first, last] seen overlaps the fence. */
static bool px_query_on_domain(void *ctx, const px_store_domain *d)
{
    px_query_stream *qs = ctx;
    const px_store_fence *f = &qs->req.fence;
    if (d->last_seen < f->after || d->first_seen > f->before || !px_query_kept(qs, d->domain))
        return false;
    char *line = px_cof_domain_dumps(d);
    qs->err = line ? px_query_append(qs, line, strlen(line)) : PX_ERR_NOMEM;
    free(line);
    qs->n += qs->err == PX_OK;
    return false;
}

static px_err px_query_domain_next(px_query_stream *qs)
{
    qs->done = true;
    px_err err = px_stores_find_domain(qs->stores, &qs->sel, qs->req.name, qs->req.canon_len,
                                       px_query_on_domain, qs);
    return err ? err : qs->err;
}

px_err px_query_stream_next(px_query_stream *qs, px_query_go_fn go, void *go_ctx, const char **data,
                            size_t *len)
{
    qs->len = 0;
    if (qs->fail)
        return qs->fail;
    if (qs->req.kind == PX_QUERY_DOMAIN && !qs->done) {
        px_err err = px_query_domain_next(qs);
        if (err)
            return err;
    }
    while (!qs->done && qs->len < PX_QUERY_PIECE) {
        if (go && !go(go_ctx))
            return PX_ERR_AGAIN;
        bool end = false;
        px_err err = px_stores_iter_step(qs->it, PX_QUERY_STEP_KEYS, px_query_on_rec, qs, &end);
        if (!err)
            err = qs->err;
        if (err && qs->len) { /* whole lines of records that passed every check: first */
            qs->fail = err;
            break;
        }
        if (err)
            return err;
        qs->done = end || qs->cut;
    }
    *data = qs->buf;
    *len = qs->len;
    return PX_OK;
}

void px_query_stream_result(const px_query_stream *qs, px_query_result *out)
{
    memset(out, 0, sizeof(*out));
    out->records = (size_t)qs->n;
    out->cut = qs->cut;
}

void px_query_stream_free(px_query_stream *qs)
{
    if (!qs)
        return;
    px_stores_iter_free(qs->it);
    free(qs->buf);
    free(qs);
}

size_t px_query_cond_limited(char *buf, size_t len, uint64_t limit)
{
    int n = snprintf(buf, len,
                     "{\"cond\":\"limited\",\"limit\":%llu,\"msg\":\"answer cut at the limit "
                     "of %llu records\"}\n",
                     (unsigned long long)limit, (unsigned long long)limit);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

size_t px_query_cond_failed(char *buf, size_t len, const char *why)
{
    json_t *o = json_pack("{s:s, s:s}", "cond", "failed", "msg", why);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    int n = snprintf(buf, len, "%s\n", text ? text : "{\"cond\":\"failed\"}");
    free(text);
    json_decref(o);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

px_err px_query_run(px_stores *stores, const px_query_req *req, FILE *out, px_query_result *res)
{
    if (res)
        memset(res, 0, sizeof(*res));
    px_query_stream *qs = NULL;
    px_err err = px_query_stream_open(stores, NULL, req, &qs);
    const char *data;
    size_t len = 1;
    while (err == PX_OK && len) {
        err = px_query_stream_next(qs, NULL, NULL, &data, &len);
        if (err == PX_OK && len && fwrite(data, 1, len, out) != len)
            err = PX_ERR_IO;
    }
    if (qs && res)
        px_query_stream_result(qs, res);
    px_query_stream_free(qs);
    return err;
}

/* ---- order ------------------------------------------------------------------- */

int px_query_rec_cmp(const px_store_rec *a, const px_store_rec *b)
{
    int c = px_dns_name_cmp(a->rrname, strlen(a->rrname), b->rrname, strlen(b->rrname));
    if (c == 0)
        c = strcmp(a->rrtype, b->rrtype);
    if (c == 0)
        c = strcmp(a->rdata, b->rdata);
    return c;
}

/* ---- alerts ---------------------------------------------------------------------- */

typedef struct px_query_alert_out {
    FILE *out;
    uint64_t n;
    bool failed;
} px_query_alert_out;

static bool px_query_alert_line(void *ctx, int32_t partition, const px_alert *a)
{
    (void)partition; /* the alert names its subject; its partition follows from it */
    px_query_alert_out *o = ctx;
    if (fwrite(a->json, 1, a->json_len, o->out) != a->json_len || putc('\n', o->out) == EOF) {
        o->failed = true;
        return false;
    }
    o->n++;
    return true;
}

px_err px_query_alerts(px_stores *stores, const px_store_fence *fence, const char *rule, FILE *out,
                       uint64_t *n)
{
    px_query_alert_out o = {.out = out};
    px_err err = px_stores_alerts(stores, fence, rule, px_query_alert_line, &o);
    if (n)
        *n = o.n;
    return o.failed ? PX_ERR_IO : err;
}
