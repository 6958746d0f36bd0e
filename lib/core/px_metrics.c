/* px_metrics.c: a process-wide registry of counters and gauges.
 *
 * Registration takes a mutex and happens at start-up; counting is one
 * relaxed atomic add on a metric the caller already holds, so the packet
 * path never locks. Metrics are never freed: pointers stay valid for the
 * life of the process. */
#include "core/px_metrics.h"
#include "core/px_buf.h"
#include "core/px_http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PX_COUNTER, PX_GAUGE } px_metric_kind;

struct px_metric {
    char *name;       /* full name, labels included */
    size_t base_len;  /* length of the name before '{' */
    const char *help; /* of the first metric with this base name */
    px_metric_kind kind;
    _Atomic bool family;    /* a declared base name: HELP and TYPE only */
    _Atomic bool unset;     /* a gauge whose sample is left out */
    _Atomic uint64_t value; /* gauges store the int64 bit pattern */
};

static pthread_mutex_t px_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static px_metric **px_reg;
static size_t px_reg_n, px_reg_cap;

/* Write hooks: their own lock, held while they run, so that a removal
 * waits for a running call. */
typedef struct px_metrics_hook {
    void (*fn)(void *ctx);
    void *ctx;
} px_metrics_hook;
static pthread_mutex_t px_hook_lock = PTHREAD_MUTEX_INITIALIZER;
static px_metrics_hook px_hooks[PX_METRICS_HOOKS];

static px_metric *px_find_locked(const char *name)
{
    for (size_t i = 0; i < px_reg_n; i++)
        if (strcmp(px_reg[i]->name, name) == 0)
            return px_reg[i];
    return NULL;
}

static const char *px_base_help_locked(const char *name, size_t base_len)
{
    for (size_t i = 0; i < px_reg_n; i++)
        if (px_reg[i]->base_len == base_len && strncmp(px_reg[i]->name, name, base_len) == 0)
            return px_reg[i]->help;
    return NULL;
}

static void *px_xalloc(void *p)
{
    if (!p)
        abort(); /* registration happens at start-up; no memory there is fatal */
    return p;
}

static px_metric *px_register(const char *name, const char *help, px_metric_kind kind, bool family)
{
    pthread_mutex_lock(&px_reg_lock);
    px_metric *m = px_find_locked(name);
    if (!m) {
        m = px_xalloc(calloc(1, sizeof(*m)));
        m->name = px_xalloc(strdup(name));
        m->base_len = strcspn(name, "{");
        m->kind = kind;
        atomic_init(&m->family, family);
        atomic_init(&m->unset, false);
        const char *h = px_base_help_locked(name, m->base_len);
        m->help = h ? h : px_xalloc(strdup(help ? help : ""));
        atomic_init(&m->value, 0);
        if (PX_ARRAY_RESERVE(px_reg, px_reg_cap, px_reg_n + 1, 32) != PX_OK)
            px_xalloc(NULL);
        px_reg[px_reg_n++] = m;
    } else if (!family) {
        /* the base name of a family used as a series of its own */
        atomic_store(&m->family, false);
    }
    pthread_mutex_unlock(&px_reg_lock);
    return m;
}

px_metric *px_metric_counter(const char *name, const char *help)
{
    return px_register(name, help, PX_COUNTER, false);
}

px_metric *px_metric_gauge(const char *name, const char *help)
{
    return px_register(name, help, PX_GAUGE, false);
}

/* The family's entry has the base name and no labels: it sorts first in
 * its block, so its HELP is the block's. */
void px_metric_counter_family(const char *base, const char *help)
{
    px_register(base, help, PX_COUNTER, true);
}

void px_metric_gauge_family(const char *base, const char *help)
{
    px_register(base, help, PX_GAUGE, true);
}

const char *px_metric_name(const px_metric *m)
{
    return m->name;
}

void px_metric_add(px_metric *m, uint64_t n)
{
    atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void px_metric_set(px_metric *m, int64_t v)
{
    atomic_store_explicit(&m->value, (uint64_t)v, memory_order_relaxed);
    atomic_store_explicit(&m->unset, false, memory_order_relaxed);
}

void px_metric_unset(px_metric *m)
{
    atomic_store_explicit(&m->unset, true, memory_order_relaxed);
}

px_err px_metrics_hook_add(void (*fn)(void *ctx), void *ctx)
{
    px_err err = PX_ERR_FULL;
    pthread_mutex_lock(&px_hook_lock);
    for (size_t i = 0; i < PX_METRICS_HOOKS && err != PX_OK; i++)
        if (!px_hooks[i].fn) {
            px_hooks[i] = (px_metrics_hook){fn, ctx};
            err = PX_OK;
        }
    pthread_mutex_unlock(&px_hook_lock);
    return err;
}

void px_metrics_hook_remove(void (*fn)(void *ctx), void *ctx)
{
    pthread_mutex_lock(&px_hook_lock);
    for (size_t i = 0; i < PX_METRICS_HOOKS; i++)
        if (px_hooks[i].fn == fn && px_hooks[i].ctx == ctx)
            px_hooks[i] = (px_metrics_hook){0};
    pthread_mutex_unlock(&px_hook_lock);
}

static void px_metrics_run_hooks(void)
{
    pthread_mutex_lock(&px_hook_lock);
    for (size_t i = 0; i < PX_METRICS_HOOKS; i++)
        if (px_hooks[i].fn)
            px_hooks[i].fn(px_hooks[i].ctx);
    pthread_mutex_unlock(&px_hook_lock);
}

static uint64_t px_metric_value(const px_metric *m)
{
    return atomic_load_explicit(&((px_metric *)m)->value, memory_order_relaxed);
}

/* Sort by base name first so each family is one block, then by full name. */
static int px_metric_cmp(const void *a, const void *b)
{
    const px_metric *x = *(px_metric *const *)a, *y = *(px_metric *const *)b;
    size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
    int r = memcmp(x->name, y->name, n);
    if (r)
        return r;
    if (x->base_len != y->base_len)
        return x->base_len < y->base_len ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void px_write_help(FILE *out, const px_metric *m)
{
    fprintf(out, "# HELP %.*s ", (int)m->base_len, m->name);
    /* Exposition format: backslash and newline are escaped in HELP. */
    for (const char *p = m->help; *p; p++) {
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fprintf(out, "\n# TYPE %.*s %s\n", (int)m->base_len, m->name,
            m->kind == PX_COUNTER ? "counter" : "gauge");
}

void px_metrics_write(FILE *out)
{
    px_metrics_run_hooks();
    pthread_mutex_lock(&px_reg_lock);
    px_metric **sorted = malloc((px_reg_n ? px_reg_n : 1) * sizeof(*sorted));
    if (!sorted) {
        pthread_mutex_unlock(&px_reg_lock);
        return;
    }
    size_t n = px_reg_n;
    if (n) /* px_reg is NULL until the first metric */
        memcpy(sorted, px_reg, n * sizeof(*sorted));
    pthread_mutex_unlock(&px_reg_lock);
    qsort(sorted, n, sizeof(*sorted), px_metric_cmp);
    for (size_t i = 0; i < n; i++) {
        const px_metric *m = sorted[i];
        if (i == 0 || sorted[i - 1]->base_len != m->base_len ||
            memcmp(sorted[i - 1]->name, m->name, m->base_len) != 0)
            px_write_help(out, m);
        px_metric *w = (px_metric *)m;
        if (atomic_load(&w->family) || atomic_load_explicit(&w->unset, memory_order_relaxed))
            continue;
        uint64_t v = px_metric_value(m);
        if (m->kind == PX_GAUGE)
            fprintf(out, "%s %lld\n", m->name, (long long)(int64_t)v);
        else
            fprintf(out, "%s %llu\n", m->name, (unsigned long long)v);
    }
    free(sorted);
}

/* ---- HTTP ------------------------------------------------------------------ */

struct px_metrics_server {
    px_http_server *http;
};

static px_err px_metrics_handle(void *ctx, const px_http_request *r, px_http_answer *a)
{
    (void)ctx;
    const char *method = px_http_method(r);
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!get || strcmp(px_http_path(r), "/metrics") != 0)
        return px_http_answer_text(a, 404, "not found: try GET /metrics");
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return PX_ERR_NOMEM;
    px_metrics_write(f);
    if (fclose(f) != 0) {
        free(body);
        return PX_ERR_NOMEM;
    }
    *a = (px_http_answer){.status = 200,
                          .content_type = "text/plain; version=0.0.4; charset=utf-8",
                          .body = body,
                          .len = len};
    return PX_OK;
}

/* Starts the server on o (its handler and setting filled in here). */
static px_err px_metrics_serve(const char *listen, px_http_opts *o, px_metrics_server **out,
                               char *why, size_t whylen)
{
    *out = NULL;
    px_metrics_server *s = calloc(1, sizeof(*s));
    if (!s)
        return px_errf(why, whylen, PX_ERR_NOMEM, "out of memory");
    o->setting = "metrics.listen";
    o->threads = 1;
    o->handler = px_metrics_handle;
    px_err e = px_http_server_start(listen, o, &s->http, why, whylen);
    if (e != PX_OK) {
        free(s);
        return e;
    }
    *out = s;
    return PX_OK;
}

px_err px_metrics_start(const px_metrics_conf *conf, px_metrics_server **out, char *why,
                        size_t whylen)
{
    px_http_opts o = {
        .limits = conf->limits, .report = conf->report, .report_ctx = conf->report_ctx};
    return px_metrics_serve(conf->listen, &o, out, why, whylen);
}

uint16_t px_metrics_server_port(const px_metrics_server *s)
{
    return s ? px_http_port(s->http) : 0;
}

void px_metrics_server_stop(px_metrics_server *s)
{
    if (!s)
        return;
    px_http_stop(s->http);
    free(s);
}
