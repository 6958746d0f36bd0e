/* test_store_feed.c: the store's own input record (px_store_obs), GeoIP
 * enrichment from the address bytes, and the change feed each merge emits
 * (obs/px_change.h): what changes are delivered, with which before and
 * after values, and when they count (committed, aborted, a big batch
 * applied chunk by chunk, a process killed between chunks). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/px_store.h"

/* ---- a sink that records the changes as lines ---- */

typedef struct rec_sink {
    char *pending; /* delivered in the open transaction */
    char *done;    /* of committed transactions */
    size_t n_pending, n_done;
    int committed, aborted;
    px_err fail; /* returned by change() once, when set */
    int kill_at; /* the change (1-based, counting all) that kills the process; 0: none */
    int seen;
    FILE *out; /* committed lines are appended here too (when set) */
} rec_sink;

static void append(char **buf, size_t *n, const char *line)
{
    size_t l = strlen(line);
    char *p = realloc(*buf, *n + l + 1);
    assert_non_null(p);
    memcpy(p + *n, line, l + 1);
    *buf = p;
    *n += l;
}

static void join(char *out, size_t len, size_t n, const char *const *v)
{
    size_t off = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "", v[i]);
}

/* Lines also show a record's TTL range and a domain's per-organisation
 * sightings (`seen`) when set. */
static bool detail;

/* " ttl MIN-MAX" (or " ttl -") and " seen ORG:FIRST-LAST,..." of a change. */
static void detail_text(const px_change *c, char *out, size_t len)
{
    out[0] = 0;
    if (!detail)
        return;
    if (c->kind == PX_CHANGE_RECORD_NEW || c->kind == PX_CHANGE_RECORD_GREW) {
        if (c->rec.has_ttl)
            snprintf(out, len, " ttl %u-%u", c->rec.ttl_min, c->rec.ttl_max);
        else
            snprintf(out, len, " ttl -");
        return;
    }
    size_t off = (size_t)snprintf(out, len, " seen ");
    for (size_t i = 0; i < c->dom.n_seen && off < len; i++) {
        const px_change_sighting *g = &c->dom.seen[i];
        if (i)
            assert_true(strcmp(c->dom.seen[i - 1].org, g->org) < 0);
        off += (size_t)snprintf(out + off, len - off, "%s%s:%" PRId64 "-%" PRId64, i ? "," : "",
                                g->org, g->first, g->last);
    }
}

/* One line per change: kind, key, before -> after, orgs, new orgs, geo. */
static void change_line(const px_change *c, char *line, size_t len)
{
    char more[512];
    detail_text(c, more, sizeof more);
    char orgs[256], fresh[256];
    if (c->kind == PX_CHANGE_RECORD_NEW || c->kind == PX_CHANGE_RECORD_GREW) {
        const px_change_record *r = &c->rec;
        join(orgs, sizeof orgs, r->n_orgs, r->orgs);
        join(fresh, sizeof fresh, r->n_new_orgs, r->new_orgs);
        char geo[200] = "-";
        if (r->geo)
            snprintf(geo, sizeof geo, "%s/%" PRId64 "/%s", r->geo->country, r->geo->asn,
                     r->geo->as_org);
        assert_int_equal(strlen(r->rrname), r->rrname_len);
        assert_int_equal(strlen(r->rdata), r->rdata_len);
        assert_true((r->rrtype == 1 || r->rrtype == 28) == (r->addr != NULL));
        snprintf(line, len,
                 "%s %s %u %s count %" PRIu64 "->%" PRIu64 " time %" PRId64 ",%" PRId64 "->%" PRId64
                 ",%" PRId64 " orgs %s new %s geo %s%s\n",
                 c->kind == PX_CHANGE_RECORD_NEW ? "rec-new" : "rec-grew", r->rrname, r->rrtype,
                 r->rdata, r->count_before, r->count, r->first_before, r->last_before, r->first,
                 r->last, orgs, fresh, geo, more);
        return;
    }
    const px_change_domain *d = &c->dom;
    join(orgs, sizeof orgs, d->n_orgs, d->orgs);
    join(fresh, sizeof fresh, d->n_new_orgs, d->new_orgs);
    char prev[32] = "none";
    if (d->prev_first_seen != INT64_MIN)
        snprintf(prev, sizeof prev, "%" PRId64, d->prev_first_seen);
    assert_int_equal(strlen(d->domain), d->len);
    snprintf(line, len, "%s %s first %s->%" PRId64 " last %" PRId64 " orgs %s new %s%s\n",
             c->kind == PX_CHANGE_DOMAIN_FIRST ? "dom-first" : "dom-grew", d->domain, prev,
             d->first_seen, d->last_seen, orgs, fresh, more);
}

static px_err on_change(void *ctx, const px_change *c)
{
    rec_sink *k = ctx;
    if (k->fail) {
        px_err err = k->fail;
        k->fail = PX_OK;
        return err;
    }
    if (k->kill_at && ++k->seen == k->kill_at)
        raise(SIGKILL);
    char line[1024];
    change_line(c, line, sizeof line);
    append(&k->pending, &k->n_pending, line);
    return PX_OK;
}

static void on_committed(void *ctx)
{
    rec_sink *k = ctx;
    k->committed++;
    if (k->n_pending) {
        append(&k->done, &k->n_done, k->pending);
        if (k->out) {
            fputs(k->pending, k->out);
            fflush(k->out);
        }
    }
    k->n_pending = 0;
    if (k->pending)
        k->pending[0] = 0;
}

static void on_aborted(void *ctx)
{
    rec_sink *k = ctx;
    k->aborted++;
    k->n_pending = 0;
    if (k->pending)
        k->pending[0] = 0;
}

static void sink_free(rec_sink *k)
{
    free(k->pending);
    free(k->done);
    *k = (rec_sink){0};
}

static const char *done(const rec_sink *k)
{
    return k->done ? k->done : "";
}

/* ---- GeoIP from the address bytes ---- */

typedef struct geo_calls {
    int n;
    size_t last_len;
    uint8_t last[16];
} geo_calls;

static bool enrich(void *ctx, const uint8_t *addr, size_t len, px_geo *out)
{
    geo_calls *g = ctx;
    g->n++;
    g->last_len = len;
    memcpy(g->last, addr, len);
    if (len == 4 && addr[0] == 192) {
        snprintf(out->country, sizeof out->country, "NL");
        out->asn = 1136;
        snprintf(out->as_org, sizeof out->as_org, "KPN B.V.");
        return true;
    }
    return false;
}

/* ---- fixtures ---- */

typedef struct fix {
    char dir[64];
    px_store *s;
    rec_sink sink;
    geo_calls geo;
} fix;

static px_store *open_feed(const char *dir, rec_sink *k, geo_calls *g, uint32_t chunk,
                           uint32_t limit)
{
    px_err err = PX_OK;
    char eb[256];
    px_store_opts o = {
        .chunk_records = chunk,
        .apply_limit = limit,
        .enrich = enrich,
        .enrich_ctx = g,
        .feed = {.change = on_change, .committed = on_committed, .aborted = on_aborted, .ctx = k}};
    px_store *s = px_store_open(dir, &o, &err, eb, sizeof eb);
    if (!s)
        fail_msg("open %s: %s", dir, eb);
    return s;
}

static int setup(void **state)
{
    fix *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/pxstorefeed.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    f->s = open_feed(f->dir, &f->sink, &f->geo, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix *f = *state;
    char cmd[128];
    px_store_close(f->s);
    sink_free(&f->sink);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

/* An observation: canonical text, and the address bytes of A/AAAA. */
typedef struct tobs {
    uint8_t addr[16];
    px_store_obs o;
} tobs;

static const px_store_obs *mk(tobs *t, const char *name, uint16_t type, const char *rdata,
                              const char *regdom, const char *org, uint64_t count, int64_t first,
                              int64_t last)
{
    t->o = (px_store_obs){.rrname = name,
                          .rrname_len = strlen(name),
                          .rrtype = type,
                          .rdata = rdata,
                          .rdata_len = strlen(rdata),
                          .regdom = regdom,
                          .regdom_len = regdom ? strlen(regdom) : 0,
                          .org = org,
                          .count = count,
                          .time_first = first,
                          .time_last = last};
    if (type == 1 || type == 28) {
        assert_int_equal(inet_pton(type == 1 ? AF_INET : AF_INET6, rdata, t->addr), 1);
        t->o.rdata_wire = t->addr;
        t->o.rdata_wire_len = type == 1 ? 4 : 16;
    }
    return &t->o;
}

static void merge(px_store_batch *b, const px_store_obs *o)
{
    assert_int_equal(px_store_merge(b, o), PX_OK);
}

static px_store_batch *begin(px_store *s)
{
    px_store_batch *b;
    assert_int_equal(px_store_batch_begin(s, &b), PX_OK);
    return b;
}

/* ---- tests ---- */

/* A new record: its whole value, every organisation new, its GeoIP as the
 * hook gave it from the 4 address bytes; its registered domain seen for
 * the first time. Delivered once the transaction commits. */
static void test_new_record(void **state)
{
    fix *f = *state;
    tobs t;
    px_store_batch *b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o2", 2, 100, 200));
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 1, 50, 150));
    merge(b, mk(&t, "mail.example.com", 15, "10 mx.example.com", "example.com", "o1", 1, 300, 300));
    assert_int_equal(f->sink.committed, 0);
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->sink.committed, 1);
    assert_int_equal(f->sink.aborted, 0);
    assert_string_equal(
        done(&f->sink),
        "rec-new mail.example.com 15 10 mx.example.com count 0->1 time 0,0->300,300 orgs o1 "
        "new o1 geo -\n"
        "rec-new www.example.com 1 192.0.2.1 count 0->3 time 0,0->50,200 orgs o1,o2 new o1,o2 "
        "geo NL/1136/KPN B.V.\n"
        "dom-first example.com first none->50 last 300 orgs o1,o2 new o1,o2\n");
    /* the hook got the address in binary, once */
    assert_int_equal(f->geo.n, 1);
    assert_int_equal(f->geo.last_len, 4);
    assert_memory_equal(f->geo.last, "\xc0\x00\x02\x01", 4);
}

/* A held record grows by count, by time (either end) or by organisation;
 * one the merge leaves as it was is no change. A grown A record carries
 * its GeoIP as stored (the hook is not asked again). A held domain grows
 * by its last sighting or an organisation; its first sighting moved
 * earlier is a first sighting again, with the previous one. */
static void test_grown(void **state)
{
    fix *f = *state;
    tobs t;
    px_store_batch *b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 1, 100, 200));
    merge(b, mk(&t, "ns.example.net", 2, "ns1.example.net", "example.net", "o1", 1, 100, 200));
    merge(b, mk(&t, "a.example.org", 16, "\"x\"", "example.org", "o1", 1, 100, 200));
    merge(b, mk(&t, "b.example.org", 16, "\"y\"", "example.org", "o1", 1, 100, 200));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->geo.n, 1);
    sink_free(&f->sink);

    b = begin(f->s);
    /* count only */
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 3, 150, 150));
    /* time only (count 0), and a new organisation */
    merge(b, mk(&t, "ns.example.net", 2, "ns1.example.net", "example.net", "o1", 0, 90, 150));
    merge(b, mk(&t, "ns.example.net", 2, "ns1.example.net", "example.net", "o2", 0, 120, 130));
    /* nothing new for a.example.org, first moved earlier for its domain */
    merge(b, mk(&t, "a.example.org", 16, "\"x\"", "example.org", "o1", 0, 150, 160));
    merge(b, mk(&t, "c.example.org", 16, "\"z\"", "example.org", "o1", 0, 10, 20));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->geo.n, 1);
    assert_string_equal(
        done(&f->sink),
        "rec-grew www.example.com 1 192.0.2.1 count 1->4 time 100,200->100,200 orgs o1 new  "
        "geo NL/1136/KPN B.V.\n"
        "rec-grew ns.example.net 2 ns1.example.net count 1->1 time 100,200->90,200 orgs o1,o2 "
        "new o2 geo -\n"
        "rec-new c.example.org 16 \"z\" count 0->0 time 0,0->10,20 orgs o1 new o1 geo -\n"
        "dom-grew example.com first none->100 last 200 orgs o1 new \n"
        "dom-first example.net first 100->90 last 200 orgs o1,o2 new o2\n"
        "dom-first example.org first 100->10 last 200 orgs o1 new \n");

    /* the domain's last sighting only; a domain seen again unchanged
     * still says so (its organisation's sighting, for a window) */
    sink_free(&f->sink);
    b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 0, 100, 300));
    merge(b, mk(&t, "a.example.org", 16, "\"x\"", "example.org", "o1", 0, 150, 160));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_string_equal(done(&f->sink),
                        "rec-grew www.example.com 1 192.0.2.1 count 4->4 time 100,200->100,300 "
                        "orgs o1 new  geo NL/1136/KPN B.V.\n"
                        "dom-grew example.com first none->100 last 300 orgs o1 new \n"
                        "dom-grew example.org first none->10 last 200 orgs o1 new \n");
    assert_int_equal(f->sink.committed, 1);
}

/* The merges of test_big_batch, in one batch. */
static void big_merges(px_store *s, int n)
{
    tobs t;
    char name[64], dom[64], rd[32];
    px_store_batch *b = begin(s);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "h%02d.d%d.test", i, i % 3);
        snprintf(dom, sizeof dom, "d%d.test", i % 3);
        snprintf(rd, sizeof rd, "192.0.2.%d", i);
        mk(&t, name, 1, rd, dom, i % 2 ? "o1" : "o2", 1, 1000 + i, 2000 + i);
        t.o.has_ttl = true;
        t.o.ttl_min = 300 - (uint32_t)i;
        t.o.ttl_max = 300 + (uint32_t)i;
        merge(b, &t.o);
        mk(&t, name, 1, rd, dom, "o3", 1, 900, 900);
        t.o.has_ttl = i % 4 == 0; /* a second TTL range for some */
        t.o.ttl_min = t.o.ttl_max = 7;
        merge(b, &t.o);
    }
    assert_int_equal(px_store_set_offset(b, "pdnsx.obs.t", 0, n), PX_OK);
    px_err err = px_store_batch_commit(b);
    if (err != PX_OK && err != PX_ERR_AGAIN)
        fail_msg("commit: %s", px_strerror(err));
}

/* big_merges in a fresh store applying big batches in chunks of 7: the
 * same changes as f's store gave from one transaction, each chunk's in its
 * own (40 records in 6 chunks, 3 domains in 1). */
static void chunked_same(fix *f)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/pxstorefeed.XXXXXX");
    assert_non_null(mkdtemp(dir));
    rec_sink k = {0};
    geo_calls g = {0};
    px_store *s = open_feed(dir, &k, &g, 7, 0);
    big_merges(s, 40);
    assert_false(px_store_log_pending(s));
    assert_string_equal(done(&k), done(&f->sink));
    assert_int_equal(k.committed, 7);
    assert_int_equal(k.aborted, 0);
    assert_int_equal(g.n, 40);
    px_store_close(s);
    sink_free(&k);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A big batch applied through the batch log delivers the same changes as
 * one transaction would, in the same order, each chunk's in that chunk's
 * transaction. */
static void test_big_batch(void **state)
{
    fix *f = *state;
    big_merges(f->s, 40);
    assert_int_equal(f->sink.committed, 1);
    assert_non_null(strstr(done(&f->sink),
                           "rec-new h00.d0.test 1 192.0.2.0 count 0->2 time 0,0->900,2000 "
                           "orgs o2,o3 new o2,o3 geo NL/1136/KPN B.V.\n"));
    chunked_same(f);
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted, as one string. */
static char *sorted_lines(const char *text)
{
    char *copy = strdup(text), *save = NULL;
    char *v[256];
    size_t n = 0, len = strlen(text);
    for (char *l = strtok_r(copy, "\n", &save); l && n < 256; l = strtok_r(NULL, "\n", &save))
        v[n++] = l;
    qsort(v, n, sizeof *v, line_cmp);
    char *out = calloc(1, len + 2);
    for (size_t i = 0; i < n; i++) {
        strcat(out, v[i]);
        strcat(out, "\n");
    }
    free(copy);
    return out;
}

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = 0;
    return strdup(buf);
}

/* A process killed (SIGKILL) while it delivers the changes of a chunk:
 * the chunks before it committed (their changes count), the one it was in
 * did not; the resume in another process delivers the rest. A sink that
 * acts on `committed` sees each change exactly once. */
static void test_kill_resume(void **state)
{
    fix *f = *state;
    big_merges(f->s, 40);
    char *ref = sorted_lines(done(&f->sink));

    char dir[64], path[128];
    snprintf(dir, sizeof dir, "/tmp/pxstorefeed.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/changes", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rec_sink k = {.kill_at = 17}; /* the 3rd of chunk 3 (7 a chunk) */
        geo_calls g = {0};
        k.out = fopen(path, "w");
        px_store *s = k.out ? open_feed(dir, &k, &g, 7, 0) : NULL;
        if (s)
            big_merges(s, 40);
        _exit(1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    char *before = read_file(path);
    /* two chunks of 7 records committed */
    size_t lines = 0;
    for (const char *p = before; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 14);

    rec_sink k = {0};
    geo_calls g = {0};
    k.out = fopen(path, "a");
    assert_non_null(k.out);
    px_store *s = open_feed(dir, &k, &g, 7, 0);
    assert_true(px_store_log_pending(s));
    uint64_t lost = 9;
    assert_int_equal(px_store_resume(s, &lost), PX_OK);
    assert_int_equal(lost, 0);
    assert_false(px_store_log_pending(s));
    fclose(k.out);
    char *all = read_file(path);
    char *got = sorted_lines(all);
    assert_string_equal(got, ref);
    px_store_close(s);
    sink_free(&k);
    free(ref);
    free(before);
    free(all);
    free(got);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The TTL range of a record's observations in the transaction, and each
 * organisation's own first and last sighting of a domain (`seen`), in
 * an ordinary batch: exact. */
static void test_seen_ttl(void **state)
{
    fix *f = *state;
    tobs t;
    detail = true;
    px_store_batch *b = begin(f->s);
    mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o2", 1, 100, 200);
    t.o.has_ttl = true;
    t.o.ttl_min = 600;
    t.o.ttl_max = 60; /* either order */
    merge(b, &t.o);
    mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 1, 50, 70);
    t.o.has_ttl = true;
    t.o.ttl_min = t.o.ttl_max = 3600;
    merge(b, &t.o);
    merge(b, mk(&t, "mail.example.com", 15, "10 mx.example.com", "example.com", "o1", 1, 300, 310));
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o2", 1, 90, 95));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_string_equal(
        done(&f->sink),
        "rec-new mail.example.com 15 10 mx.example.com count 0->1 time 0,0->300,310 orgs o1 "
        "new o1 geo - ttl -\n"
        "rec-new www.example.com 1 192.0.2.1 count 0->3 time 0,0->50,200 orgs o1,o2 new o1,o2 "
        "geo NL/1136/KPN B.V. ttl 60-3600\n"
        "dom-first example.com first none->50 last 310 orgs o1,o2 new o1,o2 seen "
        "o1:50-310,o2:90-200\n");
    /* a later transaction: its own observations only */
    sink_free(&f->sink);
    b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o3", 1, 400, 401));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_string_equal(done(&f->sink),
                        "rec-grew www.example.com 1 192.0.2.1 count 3->4 time 50,200->50,401 "
                        "orgs o1,o2,o3 new o3 geo NL/1136/KPN B.V. ttl -\n"
                        "dom-grew example.com first none->50 last 401 orgs o1,o2,o3 new o3 seen "
                        "o3:400-401\n");
    detail = false;
}

/* The same of a big batch applied from its batch log, chunk by chunk, as
 * one transaction gives them; and after a kill between chunks and the
 * resume. */
static void test_seen_ttl_log(void **state)
{
    detail = true;
    fix *f = *state;
    big_merges(f->s, 40);
    chunked_same(f);
    /* d0.test: o2 at even i, o1 at odd i (multiples of 3 below 40), o3 at 900 */
    assert_non_null(strstr(done(&f->sink), "dom-first d0.test first none->900 last 2039 orgs "
                                           "o1,o2,o3 new o1,o2,o3 seen "
                                           "o1:1003-2039,o2:1000-2036,o3:900-900\n"));
    assert_non_null(strstr(done(&f->sink), "rec-new h04.d1.test 1 192.0.2.4 count 0->2 time "
                                           "0,0->900,2004 orgs o2,o3 new o2,o3 geo NL/1136/KPN "
                                           "B.V. ttl 7-304\n"));
    assert_non_null(strstr(done(&f->sink), "rec-new h05.d2.test 1 192.0.2.5 count 0->2 time "
                                           "0,0->900,2005 orgs o1,o3 new o1,o3 geo NL/1136/KPN "
                                           "B.V. ttl 295-305\n"));
    assert_int_equal(teardown(state), 0);
    assert_int_equal(setup(state), 0);
    test_kill_resume(state);
    detail = false;
}

/* A batch log written by a store without a feed (no per-organisation
 * times in it), resumed by one with a feed: each organisation's times
 * are the delta's own, the record's TTL unknown. */
static void test_seen_old_log(void **state)
{
    fix *f = *state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/pxstorefeed.XXXXXX");
    assert_non_null(mkdtemp(dir));
    px_err err;
    char eb[256];
    px_store *s = px_store_open(dir, &(px_store_opts){.chunk_records = 7, .apply_limit = 1}, &err,
                                eb, sizeof eb);
    assert_non_null(s);
    big_merges(s, 40);
    assert_true(px_store_log_pending(s));
    px_store_close(s);
    detail = true;
    rec_sink k = {0};
    geo_calls g = {0};
    s = open_feed(dir, &k, &g, 7, 0);
    assert_int_equal(px_store_resume(s, NULL), PX_OK);
    assert_non_null(strstr(done(&k), "dom-first d0.test first none->900 last 2039 orgs "
                                     "o1,o2,o3 new o1,o2,o3 seen "
                                     "o1:900-2039,o2:900-2039,o3:900-2039\n"));
    assert_non_null(strstr(done(&k), "h39.d0.test 1 192.0.2.39 count 0->2 time "));
    assert_null(strstr(done(&k), "ttl 2"));
    detail = false;
    px_store_close(s);
    sink_free(&k);
    (void)f;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A batch the caller aborts, or whose commit fails (here: the sink
 * refuses a change), calls `aborted`; nothing of it is stored, so the
 * next batch delivers its record as new again. */
static void test_aborted(void **state)
{
    fix *f = *state;
    tobs t;
    px_store_batch *b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 1, 100, 200));
    px_store_batch_abort(b);
    assert_int_equal(f->sink.aborted, 1);
    assert_int_equal(f->sink.committed, 0);

    b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 1, 100, 200));
    f->sink.fail = PX_ERR_IO;
    assert_int_equal(px_store_batch_commit(b), PX_ERR_IO);
    assert_int_equal(f->sink.aborted, 2);
    assert_int_equal(f->sink.committed, 0);
    assert_string_equal(done(&f->sink), "");

    b = begin(f->s);
    merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "example.com", "o1", 1, 100, 200));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_int_equal(f->sink.committed, 1);
    assert_string_equal(done(&f->sink),
                        "rec-new www.example.com 1 192.0.2.1 count 0->1 time 0,0->100,200 orgs "
                        "o1 new o1 geo NL/1136/KPN B.V.\n"
                        "dom-first example.com first none->100 last 200 orgs o1 new o1\n");
}

/* px_store_obs carries canonical names: the store refuses others rather
 * than store a key its own checks would call damage; an address record
 * needs its 4 or 16 bytes. */
static void test_obs_canonical(void **state)
{
    fix *f = *state;
    tobs t;
    px_store_batch *b = begin(f->s);
    assert_int_equal(
        px_store_merge(b, mk(&t, "WWW.example.com", 1, "192.0.2.1", NULL, "o1", 1, 1, 2)),
        PX_ERR_INVAL);
    assert_int_equal(
        px_store_merge(b, mk(&t, "www.example.com.", 1, "192.0.2.1", NULL, "o1", 1, 1, 2)),
        PX_ERR_INVAL);
    assert_int_equal(
        px_store_merge(b, mk(&t, "www.example.com", 1, "192.0.2.1", "Example.com", "o1", 1, 1, 2)),
        PX_ERR_INVAL);
    mk(&t, "www.example.com", 1, "192.0.2.1", NULL, "o1", 1, 1, 2);
    t.o.rdata_wire_len = 16;
    assert_int_equal(px_store_merge(b, &t.o), PX_ERR_MALFORMED);
    mk(&t, "www.example.com", 16, "\"a\"", NULL, "o1", 1, 1, 2);
    t.o.rdata = "\"a\"\0b";
    t.o.rdata_len = 5;
    assert_int_equal(px_store_merge(b, &t.o), PX_ERR_INVAL);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(px_store_merge(b, mk(&t, longname, 16, "\"a\"", NULL, "o1", 1, 1, 2)),
                     PX_ERR_TOOLONG);
    /* the root, and a name in the batch that no check refused */
    merge(b, mk(&t, ".", 2, "a.root-servers.net", NULL, "o1", 1, 1, 2));
    merge(b, mk(&t, "www.example.com", 28, "2001:db8::1", NULL, "o1", 1, 1, 2));
    assert_int_equal(px_store_batch_commit(b), PX_OK);
    assert_string_equal(done(&f->sink),
                        "rec-new . 2 a.root-servers.net count 0->1 time 0,0->1,2 orgs o1 new o1 "
                        "geo -\n"
                        "rec-new www.example.com 28 2001:db8::1 count 0->1 time 0,0->1,2 orgs o1 "
                        "new o1 geo -\n");
    assert_int_equal(f->geo.last_len, 16);
    px_store_verify_result vr;
    assert_int_equal(px_store_verify(f->s, PX_STORE_CHECK_FULL, &vr), PX_OK);
    assert_int_equal(vr.findings, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aborted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obs_canonical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_ttl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_ttl_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seen_old_log, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
