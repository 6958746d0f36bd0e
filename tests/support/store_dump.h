/* store_dump.h: what the store answers, as text, for tests that compare
 * two stores (or one before and after) answer for answer: a growing
 * buffer and the record and domain callbacks that print into it, one line
 * each with every field a query gives. Header only, for the tests that
 * link pdnsx_store. */
#ifndef PXT_STORE_DUMP_H
#define PXT_STORE_DUMP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/px_store.h"

typedef struct pxt_dump {
    char *p; /* NUL-terminated once anything was added; free() it */
    size_t len, cap;
} pxt_dump;

static inline void pxt_dump_add(pxt_dump *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void pxt_dump_add(pxt_dump *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    if (d->len + (size_t)n + 1 > d->cap) {
        d->cap = (d->len + (size_t)n + 1) * 2;
        d->p = realloc(d->p, d->cap);
        if (!d->p)
            abort();
    }
    va_start(ap, fmt);
    vsnprintf(d->p + d->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    d->len += (size_t)n;
}

/* px_store_rec_fn: one line a record (ctx: a pxt_dump). */
static inline bool pxt_dump_rec(void *ctx, const px_store_rec *r)
{
    pxt_dump *d = ctx;
    pxt_dump_add(d, "%s %s %s bw=%s n=%llu %lld-%lld", r->rrname, r->rrtype, r->rdata,
                 r->bailiwick ? r->bailiwick : "-", (unsigned long long)r->count,
                 (long long)r->time_first, (long long)r->time_last);
    if (r->has_geo)
        pxt_dump_add(d, " geo=%s/%lld/%s", r->geo.country, (long long)r->geo.asn, r->geo.as_org);
    for (size_t i = 0; i < r->n_orgs; i++)
        pxt_dump_add(d, " %s:%lld-%lld", r->orgs[i], (long long)r->org_first[i],
                     (long long)r->org_last[i]);
    pxt_dump_add(d, "\n");
    return true;
}

/* px_store_domain_fn: one line a registered domain. */
static inline bool pxt_dump_dom(void *ctx, const px_store_domain *dm)
{
    pxt_dump *d = ctx;
    pxt_dump_add(d, "domain %s %lld-%lld", dm->domain, (long long)dm->first_seen,
                 (long long)dm->last_seen);
    for (size_t i = 0; i < dm->n_orgs; i++)
        pxt_dump_add(d, " %s", dm->orgs[i]);
    pxt_dump_add(d, "\n");
    return true;
}

#endif
