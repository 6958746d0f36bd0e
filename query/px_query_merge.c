/* px_query_merge.c: combines the COF answers of several consumers
 * (pdnsx-query --cluster) with the store's merge rules. */
#include "query/px_query.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "query/px_cof.h"

/* One record of one answer; views into its JSON object, which `objs`
 * keeps alive until the end of the merge. */
typedef struct px_qm_rec {
    px_store_rec rec;
    const char **orgs;
} px_qm_rec;

typedef struct px_qm {
    px_qm_rec *recs;
    size_t n, cap;
    json_t *objs; /* array owning every parsed object */
    px_query_result *res;
    size_t first_cut; /* answer index of the first "limited" line, if any */
    /* domain answers: one line each, combined into dom; its orgs point
     * into objs */
    px_store_domain dom;
    const char **dom_orgs;
    size_t dom_cap;
} px_qm;

static int px_qm_cmp(const void *a, const void *b)
{
    const px_qm_rec *x = a, *y = b;
    int c = px_query_rec_cmp(&x->rec, &y->rec);
    if (c == 0) /* earliest first: bailiwick and geo come from it */
        c = (x->rec.time_first > y->rec.time_first) - (x->rec.time_first < y->rec.time_first);
    return c;
}

static int px_qm_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A condition line of an answer ({"cond":...}): "limited" may end it (the
 * consumer cut it at its limit); "failed" says the consumer's store failed
 * mid-answer. *is_cond false for a record. */
static px_err px_qm_cond(const json_t *obj, bool last, bool *cut, char *why, size_t whylen,
                         bool *is_cond)
{
    const json_t *cond = json_object_get(obj, "cond");
    *is_cond = cond != NULL;
    if (!cond)
        return PX_OK;
    const char *c = json_string_value(cond);
    if (c && strcmp(c, "limited") == 0) {
        *cut = last;
        if (last)
            return PX_OK;
        snprintf(why, whylen, "a \"limited\" line before the end of the answer");
        return PX_ERR_MALFORMED;
    }
    if (c && strcmp(c, "failed") == 0) {
        const char *msg = json_string_value(json_object_get(obj, "msg"));
        snprintf(why, whylen, "the consumer failed mid-answer: %.200s", msg ? msg : "no reason");
        return PX_ERR_IO;
    }
    snprintf(why, whylen, "unexpected condition line");
    return PX_ERR_MALFORMED;
}

/* A domain line ({"domain":...}) combined with the others: earliest
 * first seen, latest last seen, every organisation. */
static px_err px_qm_add_domain(px_qm *m, const json_t *obj, char *why, size_t whylen)
{
    const char *name = json_string_value(json_object_get(obj, "domain"));
    const json_t *tf = json_object_get(obj, "time_first"), *tl = json_object_get(obj, "time_last");
    const json_t *orgs = json_object_get(obj, "orgs");
    if (!name || !json_is_integer(tf) || !json_is_integer(tl) || !json_is_array(orgs))
        return PX_ERR_MALFORMED;
    if (m->dom.domain && strcmp(m->dom.domain, name) != 0) {
        snprintf(why, whylen, "another domain than %.200s", m->dom.domain);
        return PX_ERR_MALFORMED;
    }
    int64_t first = json_integer_value(tf), last = json_integer_value(tl);
    if (!m->dom.domain || first < m->dom.first_seen)
        m->dom.first_seen = first;
    if (!m->dom.domain || last > m->dom.last_seen)
        m->dom.last_seen = last;
    m->dom.domain = name;
    size_t k;
    const json_t *org;
    json_array_foreach(orgs, k, org)
    {
        if (!json_string_value(org))
            return PX_ERR_MALFORMED;
        if (m->dom.n_orgs == m->dom_cap) {
            size_t cap = m->dom_cap ? m->dom_cap * 2 : 16;
            const char **o = realloc(m->dom_orgs, cap * sizeof(*o));
            if (!o)
                return PX_ERR_NOMEM;
            m->dom_orgs = o, m->dom_cap = cap;
        }
        m->dom_orgs[m->dom.n_orgs++] = json_string_value(org);
    }
    return PX_OK;
}

static px_err px_qm_add_line(px_qm *m, const char *line, size_t len, bool last, bool *cut,
                             char *why, size_t whylen)
{
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (!obj)
        return PX_ERR_MALFORMED;
    if (json_array_append_new(m->objs, obj) != 0)
        return PX_ERR_NOMEM;
    bool is_cond = false;
    px_err cerr = px_qm_cond(obj, last, cut, why, whylen, &is_cond);
    if (is_cond || cerr)
        return cerr;
    if (json_object_get(obj, "domain"))
        return px_qm_add_domain(m, obj, why, whylen);
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        px_qm_rec *r = realloc(m->recs, cap * sizeof(*r));
        if (!r)
            return PX_ERR_NOMEM;
        m->recs = r, m->cap = cap;
    }
    px_qm_rec *r = &m->recs[m->n];
    r->orgs = calloc(px_cof_orgs_len(obj) + 1, sizeof(*r->orgs));
    if (!r->orgs)
        return PX_ERR_NOMEM;
    px_err err = px_cof_to_rec(obj, &r->rec, r->orgs);
    if (err != PX_OK) {
        free(r->orgs);
        return err;
    }
    m->n++;
    return PX_OK;
}

static bool px_qm_blank(const char *text, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (text[i] != ' ' && text[i] != '\r' && text[i] != '\t' && text[i] != '\n')
            return false;
    return true;
}

static px_err px_qm_add_answer(px_qm *m, const char *text, size_t len, size_t which, char *errbuf,
                               size_t errlen)
{
    size_t line_no = 0;
    bool cut = false;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        line_no++;
        char why[256] = "not a COF record";
        px_err err = PX_OK;
        if (!px_qm_blank(text, pos, end))
            err = px_qm_add_line(m, text + pos, end - pos, px_qm_blank(text, end, len), &cut, why,
                                 sizeof(why));
        if (err != PX_OK) {
            snprintf(errbuf, errlen, "answer %zu, line %zu: %s", which + 1, line_no,
                     err == PX_ERR_NOMEM ? "out of memory" : why);
            return err;
        }
        pos = end + 1;
    }
    if (cut && m->res->answers_cut++ == 0)
        m->first_cut = which;
    return PX_OK;
}

static uint64_t px_qm_add_count(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Sorts orgs and drops repeats; returns how many are left. */
static size_t px_qm_orgs_union(const char **orgs, size_t n)
{
    if (n)
        qsort(orgs, n, sizeof(*orgs), px_qm_strcmp);
    size_t u = 0;
    for (size_t k = 0; k < n; k++) {
        if (u == 0 || strcmp(orgs[u - 1], orgs[k]) != 0)
            orgs[u++] = orgs[k];
    }
    return u;
}

/* Combines recs[from, to) (same key, earliest first) and writes it. */
static px_err px_qm_emit(px_qm_rec *recs, size_t from, size_t to, FILE *out)
{
    px_store_rec m = recs[from].rec;
    size_t n_orgs = 0;
    for (size_t i = from; i < to; i++)
        n_orgs += recs[i].rec.n_orgs;
    const char **orgs = calloc(n_orgs + 1, sizeof(*orgs));
    if (!orgs)
        return PX_ERR_NOMEM;
    n_orgs = 0;
    for (size_t i = from; i < to; i++) {
        const px_store_rec *r = &recs[i].rec;
        if (i > from) {
            m.count = px_qm_add_count(m.count, r->count);
            m.time_first = r->time_first < m.time_first ? r->time_first : m.time_first;
            m.time_last = r->time_last > m.time_last ? r->time_last : m.time_last;
            if (!m.bailiwick)
                m.bailiwick = r->bailiwick;
            if (!m.has_geo && r->has_geo)
                m.has_geo = true, m.geo = r->geo;
        }
        for (size_t k = 0; k < r->n_orgs; k++)
            orgs[n_orgs++] = r->orgs[k];
    }
    m.orgs = orgs, m.n_orgs = px_qm_orgs_union(orgs, n_orgs);
    px_err err = px_cof_write(out, &m);
    free(orgs);
    return err;
}

static px_err px_qm_write(px_qm *m, uint64_t limit, FILE *out)
{
    if (m->dom.domain) {
        m->dom.n_orgs = px_qm_orgs_union(m->dom_orgs, m->dom.n_orgs);
        m->dom.orgs = m->dom_orgs;
        m->res->records = 1;
        return px_cof_domain_write(out, &m->dom);
    }
    if (m->n)
        qsort(m->recs, m->n, sizeof(*m->recs), px_qm_cmp);
    size_t written = 0;
    for (size_t i = 0; i < m->n;) {
        if (limit && written == limit) {
            m->res->cut = true;
            break;
        }
        size_t j = i + 1;
        while (j < m->n && px_query_rec_cmp(&m->recs[i].rec, &m->recs[j].rec) == 0)
            j++;
        px_err err = px_qm_emit(m->recs, i, j, out);
        if (err != PX_OK)
            return err;
        written++;
        i = j;
    }
    m->res->records = written;
    return PX_OK;
}

px_err px_query_merge(const char *const *answers, const size_t *lens, size_t n, uint64_t limit,
                      FILE *out, px_query_result *res, char *errbuf, size_t errlen)
{
    px_query_result local;
    px_qm m = {.objs = json_array(), .res = res ? res : &local};
    memset(m.res, 0, sizeof(*m.res));
    if (!m.objs)
        return PX_ERR_NOMEM;
    px_err err = PX_OK;
    for (size_t i = 0; i < n && err == PX_OK; i++)
        err = px_qm_add_answer(&m, answers[i], lens[i], i, errbuf, errlen);
    if (err == PX_OK)
        err = px_qm_write(&m, limit, out);
    if (err == PX_OK && m.res->answers_cut)
        snprintf(m.res->cut_by, sizeof(m.res->cut_by), "answer %zu", m.first_cut + 1);
    for (size_t i = 0; i < m.n; i++)
        free(m.recs[i].orgs);
    free(m.recs);
    free(m.dom_orgs);
    json_decref(m.objs);
    return err;
}
