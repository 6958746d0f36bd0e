/* px_stores.c: the partitioned store (px_stores.h): a directory of one
 * px_store per input partition, attached and detached as the consumer
 * group assigns partitions, and the readers that fan out over them. */
#include "store/px_stores.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The one line of LAYOUT. A later layout writes another line: this
 * version then refuses the directory rather than misreading it. */
#define PXS_LAYOUT_FILE "LAYOUT"
#define PXS_LAYOUT_LINE "pdnsx partitioned store 1\n"

/* One partition's store. Held by the set while attached and by each
 * reader using it; closed when neither holds it any more. */
typedef struct pxs_part {
    int32_t partition;
    px_store *s;
    bool attached;
    unsigned readers;
} pxs_part;

struct px_stores {
    char *dir;
    px_store_opts opts;
    bool read_only;
    bool borrowed; /* px_stores_wrap: the store is not the set's to close */
    pthread_mutex_t lock;
    pxs_part **parts; /* by increasing partition: attached ones and detached ones still read */
    size_t n, cap;
};

/* ---- the set and its lock ---- */

/* Caller holds the lock. Index of partition, or where it would go. */
static size_t pxs_find(const px_stores *ps, int32_t partition, bool *found)
{
    size_t lo = 0, hi = ps->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ps->parts[mid]->partition < partition)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < ps->n && ps->parts[lo]->partition == partition;
    return lo;
}

/* Caller holds the lock. Closes and forgets p if nothing holds it. */
static void pxs_drop_if_unused(px_stores *ps, pxs_part *p)
{
    if (p->attached || p->readers)
        return;
    bool found;
    size_t i = pxs_find(ps, p->partition, &found);
    if (found) {
        memmove(ps->parts + i, ps->parts + i + 1, (ps->n - i - 1) * sizeof(*ps->parts));
        ps->n--;
    }
    if (!ps->borrowed)
        px_store_close(p->s);
    free(p);
}

static px_err pxs_insert(px_stores *ps, size_t at, pxs_part *p)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        pxs_part **v = realloc(ps->parts, cap * sizeof(*v));
        if (!v)
            return PX_ERR_NOMEM;
        ps->parts = v;
        ps->cap = cap;
    }
    memmove(ps->parts + at + 1, ps->parts + at, (ps->n - at) * sizeof(*ps->parts));
    ps->parts[at] = p;
    ps->n++;
    return PX_OK;
}

/* A reader's hold on the attached stores as of now. */
typedef struct pxs_hold {
    pxs_part **v;
    size_t n;
} pxs_hold;

/* Of the attached stores, those sel wants (NULL: all). */
static px_err pxs_hold_some(px_stores *ps, const px_stores_sel *sel, pxs_hold *h)
{
    pthread_mutex_lock(&ps->lock);
    h->n = 0;
    h->v = malloc((ps->n ? ps->n : 1) * sizeof(*h->v));
    if (!h->v) {
        pthread_mutex_unlock(&ps->lock);
        return PX_ERR_NOMEM;
    }
    for (size_t i = 0; i < ps->n; i++) {
        if (!ps->parts[i]->attached ||
            (sel && sel->want && !sel->want(sel->ctx, ps->parts[i]->partition)))
            continue;
        ps->parts[i]->readers++;
        h->v[h->n++] = ps->parts[i];
    }
    pthread_mutex_unlock(&ps->lock);
    return PX_OK;
}

static px_err pxs_hold_take(px_stores *ps, pxs_hold *h)
{
    return pxs_hold_some(ps, NULL, h);
}

static void pxs_hold_release(px_stores *ps, pxs_hold *h)
{
    pthread_mutex_lock(&ps->lock);
    for (size_t i = 0; i < h->n; i++) {
        h->v[i]->readers--;
        pxs_drop_if_unused(ps, h->v[i]);
    }
    pthread_mutex_unlock(&ps->lock);
    free(h->v);
    h->v = NULL;
    h->n = 0;
}

/* ---- the directory ---- */

static void pxs_part_dir(const char *dir, int32_t partition, char *out, size_t len)
{
    snprintf(out, len, "%s/partition-%d", dir, (int)partition);
}

/* Where a detached partition's store is kept: out of readers' sight
 * (they attach partition-<i> only), its files whole for a later attach. */
static void pxs_aside_dir(const char *dir, int32_t partition, char *out, size_t len)
{
    snprintf(out, len, "%s/detached-%d", dir, (int)partition);
}

static px_err pxs_remove_dir(const char *dir);

/* Moves partition-<i> aside (detach) or back (attach). Open handles keep
 * working: LMDB holds its files open. */
static px_err pxs_move(const px_stores *ps, int32_t partition, bool aside)
{
    if (ps->read_only || ps->borrowed)
        return PX_OK;
    char live[4096], kept[4096];
    pxs_part_dir(ps->dir, partition, live, sizeof live);
    pxs_aside_dir(ps->dir, partition, kept, sizeof kept);
    const char *from = aside ? live : kept, *to = aside ? kept : live;
    if (access(from, F_OK) != 0)
        return PX_OK;
    /* a stale copy where it goes (a crash between two moves) gives way */
    if (access(to, F_OK) == 0 && pxs_remove_dir(to) != PX_OK)
        return PX_ERR_IO;
    return rename(from, to) == 0 ? PX_OK : PX_ERR_IO;
}

/* "partition-<i>" with i in range, no leading zero, no sign. */
static bool pxs_part_name(const char *name, int32_t *partition)
{
    static const char prefix[] = "partition-";
    if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *d = name + sizeof(prefix) - 1;
    size_t len = strlen(d);
    if (len == 0 || len > 5 || (d[0] == '0' && len > 1))
        return false;
    int32_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (d[i] < '0' || d[i] > '9')
            return false;
        v = v * 10 + (d[i] - '0');
    }
    *partition = v;
    return true;
}

static bool pxs_exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

px_stores_layout px_stores_layout_of(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, PXS_LAYOUT_FILE);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[128] = "";
        bool ok = fgets(line, sizeof line, f) && strcmp(line, PXS_LAYOUT_LINE) == 0;
        fclose(f);
        return ok ? PX_STORES_PARTITIONED : PX_STORES_OTHER;
    }
    if (pxs_exists(dir, "data.mdb"))
        return PX_STORES_SINGLE;
    DIR *d = opendir(dir);
    if (!d)
        return PX_STORES_NONE;
    bool any = false;
    for (struct dirent *e; !any && (e = readdir(d));)
        any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any ? PX_STORES_OTHER : PX_STORES_NONE;
}

/* LAYOUT, written whole (temporary file, fsync, rename) so that a crash
 * leaves either none or the whole line. */
static px_err pxs_write_layout(const char *dir, char *errbuf, size_t errlen)
{
    char tmp[4096], path[4096];
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, PXS_LAYOUT_FILE);
    snprintf(path, sizeof path, "%s/%s", dir, PXS_LAYOUT_FILE);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(PXS_LAYOUT_LINE);
    bool ok = fd >= 0 && write(fd, PXS_LAYOUT_LINE, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0)
        ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return PX_OK;
    snprintf(errbuf, errlen, "store: cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return PX_ERR_IO;
}

/* A writable open: the directory holds this layout, or nothing yet. */
static px_err pxs_prepare_dir(const char *dir, char *errbuf, size_t errlen)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "store: mkdir %s: %s", dir, strerror(errno));
        return PX_ERR_IO;
    }
    switch (px_stores_layout_of(dir)) {
    case PX_STORES_PARTITIONED:
        return PX_OK;
    case PX_STORES_NONE:
        return pxs_write_layout(dir, errbuf, errlen);
    case PX_STORES_SINGLE:
        snprintf(errbuf, errlen,
                 "store: %s holds a single store (data.mdb) of an earlier pdnsx; store.path is "
                 "now a directory of one store per partition. Move the old directory aside "
                 "(pdnsx-query still reads it) and start again: the consumer rebuilds the "
                 "stores from Kafka while the topics retain the data (README: upgrading)",
                 dir);
        return PX_ERR_UNSUPPORTED;
    default:
        snprintf(errbuf, errlen,
                 "store: %s holds files of another layout (no %s naming '%.*s'): not a "
                 "partitioned store of this pdnsx",
                 dir, PXS_LAYOUT_FILE, (int)strlen(PXS_LAYOUT_LINE) - 1, PXS_LAYOUT_LINE);
        return PX_ERR_UNSUPPORTED;
    }
}

static px_stores *pxs_new(const char *dir, const px_store_opts *opts)
{
    px_stores *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    ps->dir = strdup(dir);
    if (!ps->dir) {
        free(ps);
        return NULL;
    }
    ps->opts = opts ? *opts : (px_store_opts){0};
    ps->read_only = ps->opts.read_only;
    pthread_mutex_init(&ps->lock, NULL);
    return ps;
}

/* Caller holds no lock; the set is not shared yet or the caller is the
 * writer. */
static px_err pxs_add(px_stores *ps, int32_t partition, px_store *s)
{
    pxs_part *p = calloc(1, sizeof(*p));
    if (!p)
        return PX_ERR_NOMEM;
    *p = (pxs_part){.partition = partition, .s = s, .attached = true};
    pthread_mutex_lock(&ps->lock);
    bool found;
    size_t at = pxs_find(ps, partition, &found);
    px_err err = found ? PX_ERR_INVAL : pxs_insert(ps, at, p);
    pthread_mutex_unlock(&ps->lock);
    if (err)
        free(p);
    return err;
}

/* Read-only: every partition-<i> present, in any order (kept sorted). */
static px_err pxs_open_present(px_stores *ps, px_err *err, char *errbuf, size_t errlen)
{
    DIR *d = opendir(ps->dir);
    if (!d) {
        snprintf(errbuf, errlen, "store: %s: %s", ps->dir, strerror(errno));
        return *err = PX_ERR_IO;
    }
    *err = PX_OK;
    for (struct dirent *e; *err == PX_OK && (e = readdir(d));) {
        int32_t partition;
        if (!pxs_part_name(e->d_name, &partition))
            continue;
        px_stores_attach(ps, partition, err, errbuf, errlen); /* sets *err */
        /* detached (moved aside) by the consumer since the listing: not ours to read */
        if (*err && faccessat(dirfd(d), e->d_name, F_OK, 0) != 0 && errno == ENOENT)
            *err = PX_OK;
    }
    closedir(d);
    return *err;
}

static px_err pxs_open_single(px_stores *ps, char *errbuf, size_t errlen)
{
    px_err err = PX_OK;
    px_store *s = px_store_open(ps->dir, &ps->opts, &err, errbuf, errlen);
    if (!s)
        return err;
    err = pxs_add(ps, PX_STORES_ALL, s);
    if (err)
        px_store_close(s);
    return err;
}

static px_err pxs_open_read_only(px_stores *ps, px_err *err, char *errbuf, size_t errlen)
{
    switch (px_stores_layout_of(ps->dir)) {
    case PX_STORES_SINGLE:
        return *err = pxs_open_single(ps, errbuf, errlen);
    case PX_STORES_PARTITIONED:
        return pxs_open_present(ps, err, errbuf, errlen);
    case PX_STORES_NONE:
        snprintf(errbuf, errlen, "store: %s holds no store", ps->dir);
        return *err = PX_ERR_NOTFOUND;
    default:
        snprintf(errbuf, errlen, "store: %s holds files of another layout", ps->dir);
        return *err = PX_ERR_UNSUPPORTED;
    }
}

px_stores *px_stores_open(const char *dir, const px_store_opts *opts, px_err *err, char *errbuf,
                          size_t errlen)
{
    px_stores *ps = pxs_new(dir, opts);
    if (!ps) {
        *err = PX_ERR_NOMEM;
        snprintf(errbuf, errlen, "store: out of memory");
        return NULL;
    }
    if (ps->read_only)
        pxs_open_read_only(ps, err, errbuf, errlen);
    else
        *err = pxs_prepare_dir(dir, errbuf, errlen);
    if (*err) {
        px_stores_close(ps);
        return NULL;
    }
    return ps;
}

px_stores *px_stores_wrap(px_store *s, int32_t partition)
{
    px_stores *ps = pxs_new("", &(px_store_opts){.read_only = true});
    if (!ps)
        return NULL;
    ps->borrowed = true;
    if (pxs_add(ps, partition, s) != PX_OK) {
        px_stores_close(ps);
        return NULL;
    }
    return ps;
}

void px_stores_close(px_stores *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        if (!ps->borrowed)
            px_store_close(ps->parts[i]->s);
        free(ps->parts[i]);
    }
    free(ps->parts);
    pthread_mutex_destroy(&ps->lock);
    free(ps->dir);
    free(ps);
}

/* ---- the writer: attach, detach, remove ---- */

/* A partition detached while a reader held it is still open: attaching
 * it again takes that handle back (LMDB allows one per process). */
static px_store *pxs_reattach(px_stores *ps, int32_t partition)
{
    pthread_mutex_lock(&ps->lock);
    bool found;
    size_t i = pxs_find(ps, partition, &found);
    px_store *s = NULL;
    if (found) {
        if (!ps->parts[i]->attached)
            pxs_move(ps, partition, false);
        ps->parts[i]->attached = true;
        s = ps->parts[i]->s;
    }
    pthread_mutex_unlock(&ps->lock);
    return s;
}

px_store *px_stores_attach(px_stores *ps, int32_t partition, px_err *err, char *errbuf,
                           size_t errlen)
{
    if (partition < 0 || partition > PX_STORES_MAX_PARTITION || ps->borrowed) {
        snprintf(errbuf, errlen, "store: partition %d out of range", (int)partition);
        *err = PX_ERR_INVAL;
        return NULL;
    }
    px_store *s = pxs_reattach(ps, partition);
    if (s) {
        *err = PX_OK;
        return s;
    }
    char dir[4096];
    pxs_part_dir(ps->dir, partition, dir, sizeof dir);
    if (pxs_move(ps, partition, false) != PX_OK) {
        snprintf(errbuf, errlen, "store: cannot move %s/detached-%d back: %s", ps->dir,
                 (int)partition, strerror(errno));
        *err = PX_ERR_IO;
        return NULL;
    }
    s = px_store_open(dir, &ps->opts, err, errbuf, errlen);
    if (!s)
        return NULL;
    *err = pxs_add(ps, partition, s);
    if (*err) {
        snprintf(errbuf, errlen, "store: %s", px_strerror(*err));
        px_store_close(s);
        return NULL;
    }
    return s;
}

/* Caller holds the lock. True if the partition is still held by a
 * reader after the detach. */
static bool pxs_detach_locked(px_stores *ps, int32_t partition)
{
    bool found;
    size_t i = pxs_find(ps, partition, &found);
    if (!found)
        return false;
    pxs_part *p = ps->parts[i];
    p->attached = false;
    pxs_move(ps, partition, true); /* failing, it stays in sight: a reader still sees it */
    bool held = p->readers > 0;
    pxs_drop_if_unused(ps, p);
    return held;
}

void px_stores_detach(px_stores *ps, int32_t partition)
{
    pthread_mutex_lock(&ps->lock);
    pxs_detach_locked(ps, partition);
    pthread_mutex_unlock(&ps->lock);
}

px_err px_stores_set_aside(px_stores *ps, int32_t partition, char *where, size_t wlen)
{
    if (ps->read_only || ps->borrowed)
        return PX_ERR_INVAL;
    char live[4096], to[4200];
    pxs_part_dir(ps->dir, partition, live, sizeof live);
    pthread_mutex_lock(&ps->lock);
    bool found;
    size_t i = pxs_find(ps, partition, &found);
    px_err err = PX_OK;
    /* the first free name: an earlier one may be there still */
    for (unsigned k = 1; k < 1000; k++) {
        snprintf(to, sizeof to, "%s/set-aside-%d.%u", ps->dir, (int)partition, k);
        if (access(to, F_OK) != 0)
            break;
    }
    if (access(live, F_OK) == 0 && rename(live, to) != 0)
        err = PX_ERR_IO;
    if (err == PX_OK && found) {
        /* out of the set: a reader still holding it closes it when done,
         * and the next attach opens a new store rather than take it back */
        pxs_part *p = ps->parts[i];
        memmove(ps->parts + i, ps->parts + i + 1, (ps->n - i - 1) * sizeof(*ps->parts));
        ps->n--;
        p->attached = false;
        p->partition = -1;
        if (!p->readers) {
            px_store_close(p->s);
            free(p);
        }
    }
    pthread_mutex_unlock(&ps->lock);
    if (err == PX_OK && where)
        snprintf(where, wlen, "%s", to);
    return err;
}

/* partition-<i>/ holds the store's files only (data.mdb, lock.mdb, the
 * batch log, dlq.marks and their temporary files): all of them go. */
static px_err pxs_remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? PX_OK : PX_ERR_IO;
    px_err err = PX_OK;
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT)
            err = PX_ERR_IO;
    }
    closedir(d);
    if (!err && rmdir(dir) != 0 && errno != ENOENT)
        err = PX_ERR_IO;
    return err;
}

px_err px_stores_remove(px_stores *ps, int32_t partition)
{
    if (ps->read_only || partition < 0)
        return PX_ERR_INVAL;
    pthread_mutex_lock(&ps->lock);
    bool held = pxs_detach_locked(ps, partition);
    pthread_mutex_unlock(&ps->lock);
    if (held)
        return PX_ERR_AGAIN;
    char dir[4096];
    pxs_aside_dir(ps->dir, partition, dir, sizeof dir);
    px_err err = pxs_remove_dir(dir);
    pxs_part_dir(ps->dir, partition, dir, sizeof dir);
    return err ? err : pxs_remove_dir(dir);
}

px_store *px_stores_get(px_stores *ps, int32_t partition)
{
    pthread_mutex_lock(&ps->lock);
    bool found;
    size_t i = pxs_find(ps, partition, &found);
    px_store *s = found && ps->parts[i]->attached ? ps->parts[i]->s : NULL;
    pthread_mutex_unlock(&ps->lock);
    return s;
}

static int pxs_cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

size_t px_stores_present(px_stores *ps, int32_t *parts, size_t max)
{
    DIR *d = opendir(ps->dir);
    if (!d)
        return 0;
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int32_t partition;
        if (!pxs_part_name(e->d_name, &partition))
            continue;
        if (n < max)
            parts[n] = partition;
        n++;
    }
    closedir(d);
    if (parts && max)
        qsort(parts, n < max ? n : max, sizeof(*parts), pxs_cmp_i32);
    return n;
}

size_t px_stores_list(px_stores *ps, int32_t *parts, size_t max)
{
    pthread_mutex_lock(&ps->lock);
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        if (!ps->parts[i]->attached)
            continue;
        if (n < max)
            parts[n] = ps->parts[i]->partition;
        n++;
    }
    pthread_mutex_unlock(&ps->lock);
    return n;
}

/* ---- readers ---- */

/* A store's error is kept, the walk goes on: damage in one partition
 * does not hide the others' records. The first error other than damage
 * wins over damage. */
static px_err pxs_worse(px_err have, px_err got)
{
    if (have == PX_OK || (have == PX_ERR_DAMAGED && got != PX_OK))
        return got;
    return have;
}

/* Stops the fan-out once fn returned false. */
typedef struct pxs_rec_relay {
    px_store_rec_fn fn;
    void *ctx;
    bool stopped;
} pxs_rec_relay;

static bool pxs_relay_rec(void *ctx, const px_store_rec *rec)
{
    pxs_rec_relay *r = ctx;
    r->stopped = !r->fn(r->ctx, rec);
    return !r->stopped;
}

px_err px_stores_find(px_stores *ps, const px_store_lookup *l, const px_store_fence *fence,
                      px_store_rec_fn fn, void *ctx)
{
    pxs_hold h;
    px_err err = pxs_hold_take(ps, &h);
    pxs_rec_relay r = {fn, ctx, false};
    for (size_t i = 0; err != PX_ERR_INVAL && !r.stopped && i < h.n; i++)
        err = pxs_worse(err, px_store_find(h.v[i]->s, l, fence, pxs_relay_rec, &r));
    if (h.v)
        pxs_hold_release(ps, &h);
    return err;
}

struct px_stores_iter {
    px_stores *ps;
    pxs_hold h;
    size_t at; /* the store being read */
    px_store_iter *it;
    px_store_lookup l;
    px_store_fence fence;
    char name[256];
};

px_err px_stores_iter_find(px_stores *ps, const px_stores_sel *sel, const px_store_lookup *l,
                           const px_store_fence *fence, px_stores_iter **out)
{
    *out = NULL;
    if (l->name_len > sizeof(((px_stores_iter *)0)->name))
        return PX_ERR_INVAL;
    px_stores_iter *it = calloc(1, sizeof(*it));
    if (!it)
        return PX_ERR_NOMEM;
    it->ps = ps;
    it->l = *l;
    it->fence = *fence;
    if (l->name) { /* the caller's name need not outlive the call */
        memcpy(it->name, l->name, l->name_len);
        it->l.name = it->name;
    }
    px_err err = pxs_hold_some(ps, sel, &it->h);
    /* every store checks the lookup alike: the first one says if it is bad */
    if (!err && it->h.n)
        err = px_store_iter_find(it->h.v[0]->s, &it->l, &it->fence, &it->it);
    if (err) {
        px_stores_iter_free(it);
        return err;
    }
    *out = it;
    return PX_OK;
}

px_err px_stores_iter_step(px_stores_iter *it, size_t max_keys, px_store_rec_fn fn, void *ctx,
                           bool *done)
{
    *done = false;
    while (it->at < it->h.n) {
        if (!it->it) {
            px_err err = px_store_iter_find(it->h.v[it->at]->s, &it->l, &it->fence, &it->it);
            if (err)
                return err;
        }
        bool end = false;
        px_err err = px_store_iter_step(it->it, max_keys, fn, ctx, &end);
        if (err) {
            *done = true;
            return err;
        }
        if (!end)
            return PX_OK;
        px_store_iter_free(it->it);
        it->it = NULL;
        it->at++;
        /* a step reads one store: the caller looks up between stores too */
        if (it->at < it->h.n)
            return PX_OK;
    }
    *done = true;
    return PX_OK;
}

void px_stores_iter_free(px_stores_iter *it)
{
    if (!it)
        return;
    px_store_iter_free(it->it);
    if (it->h.v)
        pxs_hold_release(it->ps, &it->h);
    free(it);
}

/* The domain rows of every store, combined. Strings are copied: each
 * store's are valid during its callback only. */
typedef struct pxs_dom {
    bool found;
    int64_t first, last;
    char **orgs;
    size_t n_orgs;
    bool nomem;
} pxs_dom;

static bool pxs_dom_has(const pxs_dom *d, const char *org)
{
    for (size_t i = 0; i < d->n_orgs; i++)
        if (strcmp(d->orgs[i], org) == 0)
            return true;
    return false;
}

static bool pxs_dom_row(void *ctx, const px_store_domain *row)
{
    pxs_dom *d = ctx;
    if (!d->found || row->first_seen < d->first)
        d->first = row->first_seen;
    if (!d->found || row->last_seen > d->last)
        d->last = row->last_seen;
    d->found = true;
    for (size_t i = 0; i < row->n_orgs && !d->nomem; i++) {
        if (pxs_dom_has(d, row->orgs[i]))
            continue;
        char **v = realloc(d->orgs, (d->n_orgs + 1) * sizeof(*v));
        char *org = v ? strdup(row->orgs[i]) : NULL;
        if (v)
            d->orgs = v;
        if (!org)
            d->nomem = true;
        else
            d->orgs[d->n_orgs++] = org;
    }
    return true;
}

static int pxs_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

px_err px_stores_find_domain(px_stores *ps, const px_stores_sel *sel, const char *regdom,
                             size_t len, px_store_domain_fn fn, void *ctx)
{
    pxs_hold h;
    px_err err = pxs_hold_some(ps, sel, &h);
    pxs_dom d = {0};
    for (size_t i = 0; err != PX_ERR_INVAL && i < h.n; i++)
        err = pxs_worse(err, px_store_find_domain(h.v[i]->s, regdom, len, pxs_dom_row, &d));
    if (h.v)
        pxs_hold_release(ps, &h);
    if (d.nomem)
        err = PX_ERR_NOMEM;
    char name[256];
    if (d.found && (err == PX_OK || err == PX_ERR_DAMAGED) && len < sizeof name) {
        memcpy(name, regdom, len);
        name[len] = 0;
        qsort(d.orgs, d.n_orgs, sizeof(*d.orgs), pxs_strcmp); /* as the store gives them */
        px_store_domain row = {name, d.first, d.last, d.n_orgs, (const char *const *)d.orgs};
        fn(ctx, &row);
    }
    for (size_t i = 0; i < d.n_orgs; i++)
        free(d.orgs[i]);
    free(d.orgs);
    return err;
}

typedef struct pxs_alert_relay {
    px_stores_alert_fn fn;
    void *ctx;
    int32_t partition;
    bool stopped;
} pxs_alert_relay;

static bool pxs_relay_alert(void *ctx, const px_alert *a)
{
    pxs_alert_relay *r = ctx;
    r->stopped = !r->fn(r->ctx, r->partition, a);
    return !r->stopped;
}

px_err px_stores_alerts(px_stores *ps, const px_store_fence *fence, const char *rule,
                        px_stores_alert_fn fn, void *ctx)
{
    pxs_hold h;
    px_err err = pxs_hold_take(ps, &h);
    pxs_alert_relay r = {fn, ctx, 0, false};
    for (size_t i = 0; err != PX_ERR_INVAL && !r.stopped && i < h.n; i++) {
        r.partition = h.v[i]->partition;
        err = pxs_worse(err, px_store_alerts(h.v[i]->s, 1, fence, rule, pxs_relay_alert, &r));
    }
    if (h.v)
        pxs_hold_release(ps, &h);
    return err;
}

px_err px_stores_get_stats(px_stores *ps, px_store_stats *out)
{
    memset(out, 0, sizeof(*out));
    pxs_hold h;
    px_err err = pxs_hold_take(ps, &h);
    for (size_t i = 0; i < h.n; i++) {
        px_store_stats st;
        px_err e = px_store_get_stats(h.v[i]->s, &st);
        err = pxs_worse(err, e);
        if (e)
            continue;
        out->records += st.records;
        out->domains += st.domains;
        out->bytes += st.bytes;
        out->damaged += st.damaged;
        out->collisions += st.collisions;
    }
    if (h.v)
        pxs_hold_release(ps, &h);
    return err;
}

uint64_t px_stores_org_new_records(px_stores *ps, const char *org)
{
    pxs_hold h;
    uint64_t n = 0;
    if (pxs_hold_take(ps, &h) != PX_OK)
        return 0;
    for (size_t i = 0; i < h.n; i++)
        n += px_store_org_new_records(h.v[i]->s, org);
    pxs_hold_release(ps, &h);
    return n;
}

static void pxs_verify_add(px_store_verify_result *sum, const px_store_verify_result *r)
{
    sum->findings += r->findings;
    sum->pages += r->pages;
    sum->pages_in_file += r->pages_in_file;
    sum->records += r->records;
    sum->domains += r->domains;
    sum->records_expected += r->records_expected;
    sum->log_pending |= r->log_pending;
}

px_err px_stores_verify(px_stores *ps, px_store_check level, px_stores_verify_fn fn, void *ctx,
                        px_store_verify_result *out)
{
    memset(out, 0, sizeof(*out));
    pxs_hold h;
    px_err err = pxs_hold_take(ps, &h);
    for (size_t i = 0; (err == PX_OK || err == PX_ERR_DAMAGED) && i < h.n; i++) {
        px_store_verify_result r = {0};
        px_err e = px_store_verify(h.v[i]->s, level, &r);
        if (fn)
            fn(ctx, h.v[i]->partition, &r, e);
        pxs_verify_add(out, &r);
        err = pxs_worse(err, e);
    }
    if (h.v)
        pxs_hold_release(ps, &h);
    return err;
}
