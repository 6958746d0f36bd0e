/* px_store_dlq.c: the consumer's dead-letter marks (px_store.h).
 *
 * The marks live beside the store, in <dir>/dlq.marks, not in data.mdb:
 * they are few (the settled copies of abandoned batches), short-lived,
 * and no business of the store's own format and checks. The file is text:
 *
 *   pdnsx-dlq-marks 2
 *   TOPIC PARTITION OFFSET a|s SUM    (one mark a line; a: acknowledged,
 *                                      s: skipped, refused for good)
 *
 * and is rewritten whole (temporary file, fsync, rename, fsync of the
 * directory), so a crash leaves the old or the new one. Each line ends
 * with a checksum of the rest (" " and 8 hex digits: the low 32 bits of
 * XXH3-64, pxs_sum, the file's name as key): a mark whose digit flipped
 * would stop a copy for another message from being sent. A line that
 * does not parse or fails its checksum is no mark: the worst a damaged
 * file costs is a copy sent twice. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_store_int.h"

#define PXS_DLQ_FILE "dlq.marks"
#define PXS_DLQ_HEADER "pdnsx-dlq-marks 2" /* 1: lines without checksums */
/* A batch's worth of marks (250,000 of some 60 bytes) with room to spare;
 * a larger file is not ours to read. */
#define PXS_DLQ_FILE_MAX (64u << 20)
#define PXS_DLQ_LINE_MAX 330 /* topic (249), three numbers and the checksum */
#define PXS_DLQ_SUM_HEX 8

static char *dlq_path(const px_store *s, const char *suffix)
{
    size_t n = strlen(s->dir) + sizeof("/" PXS_DLQ_FILE) + strlen(suffix);
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s%s", s->dir, PXS_DLQ_FILE, suffix);
    return p;
}

/* Kafka's rule for topic names. */
static bool dlq_topic_ok(const char *t, size_t len)
{
    if (len == 0 || len > 249)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = t[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* A decimal number in [0, max] ending at *end == stop. */
static bool dlq_number(const char *p, char stop, int64_t max, int64_t *out, const char **end)
{
    if (*p < '0' || *p > '9')
        return false;
    int64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (max - (*p - '0')) / 10)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (*p != stop)
        return false;
    *out = v;
    *end = p;
    return true;
}

/* The checksum of a line's mark text. */
static uint32_t dlq_sum(const char *text, size_t len)
{
    return (uint32_t)pxs_sum(-1, PXS_DLQ_FILE, sizeof PXS_DLQ_FILE - 1, text, len);
}

/* Cuts the checksum off a line, NUL-terminated: true if it holds. The
 * mark is parsed too, whatever the sum says (so that a fuzzer reaches
 * it); only both make a mark. */
static bool dlq_sum_ok(char *line)
{
    size_t len = strlen(line);
    if (len < PXS_DLQ_SUM_HEX + 1 || line[len - PXS_DLQ_SUM_HEX - 1] != ' ')
        return false;
    char *hex = line + len - PXS_DLQ_SUM_HEX;
    uint32_t want = 0;
    for (int i = 0; i < PXS_DLQ_SUM_HEX; i++) {
        char ch = hex[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return false;
        want = want << 4 | (uint32_t)d;
    }
    hex[-1] = '\0';
    return dlq_sum(line, len - PXS_DLQ_SUM_HEX - 1) == want;
}

/* Parses one line (without its newline, NUL-terminated; the topic is cut
 * out of it in place). */
static bool dlq_parse_line(char *line, px_store_dlq_ent *m)
{
    bool sum_ok = dlq_sum_ok(line);
    char *sp = strchr(line, ' ');
    if (!sp || !dlq_topic_ok(line, (size_t)(sp - line)))
        return false;
    *sp = '\0';
    int64_t part, off;
    const char *p;
    if (!dlq_number(sp + 1, ' ', INT32_MAX, &part, &p) ||
        !dlq_number(p + 1, ' ', INT64_MAX, &off, &p))
        return false;
    if ((p[1] != 'a' && p[1] != 's') || p[2] != '\0')
        return false;
    *m = (px_store_dlq_ent){line, (int32_t)part, off, p[1] == 's'};
    return sum_ok;
}

/* Calls fn for every mark of the file; PX_OK if there is none. */
static px_err dlq_read(const px_store *s, px_store_dlq_fn fn, void *ctx)
{
    char *path = dlq_path(s, "");
    if (!path)
        return PX_ERR_NOMEM;
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return errno == ENOENT ? PX_OK : PX_ERR_IO;
    struct stat st;
    px_err err = PX_OK;
    char line[PXS_DLQ_LINE_MAX + 2];
    if (fstat(fileno(f), &st) != 0)
        err = PX_ERR_IO;
    else if (st.st_size > (off_t)PXS_DLQ_FILE_MAX)
        err = PX_ERR_TOOLONG;
    else if (!fgets(line, sizeof(line), f) || strcmp(line, PXS_DLQ_HEADER "\n") != 0)
        err = PX_ERR_MALFORMED;
    bool whole = true; /* the last line read ended with its newline */
    while (!err && fgets(line, sizeof(line), f)) {
        size_t len = strlen(line);
        bool ends = len > 0 && line[len - 1] == '\n';
        bool part_of_long = !whole; /* the tail of an overlong line */
        whole = ends;
        if (!ends || part_of_long)
            continue; /* overlong or unterminated: no mark */
        line[len - 1] = '\0';
        px_store_dlq_ent m;
        if (dlq_parse_line(line, &m) && !fn(ctx, &m))
            break;
    }
    if (!err && ferror(f))
        err = PX_ERR_IO;
    fclose(f);
    return err;
}

px_err px_store_dlq_acked(px_store *s, px_store_dlq_fn fn, void *ctx)
{
    return dlq_read(s, fn, ctx);
}

/* ---- writing ---- */

typedef struct dlq_writer {
    const px_store *s;
    FILE *f;
    size_t n;
    bool prune;   /* keep only marks the stored offsets have not passed */
    bool damaged; /* the file there was not a marks file */
    px_err err;
} dlq_writer;

static bool dlq_keep(void *ctx, const px_store_dlq_ent *m)
{
    dlq_writer *w = ctx;
    if (w->prune) {
        int64_t next;
        px_err err = px_store_get_offset((px_store *)w->s, m->topic, m->partition, &next);
        if (err != PX_OK && err != PX_ERR_NOTFOUND) {
            w->err = err;
            return false;
        }
        if (err == PX_OK && next > m->offset)
            return true; /* committed: the mark is done */
    }
    char text[PXS_DLQ_LINE_MAX];
    int n = snprintf(text, sizeof(text), "%s %" PRId32 " %" PRId64 " %c", m->topic, m->partition,
                     m->offset, m->skipped ? 's' : 'a');
    if (n < 0 || (size_t)n + PXS_DLQ_SUM_HEX + 1 >= sizeof(text) ||
        fprintf(w->f, "%s %08" PRIx32 "\n", text, dlq_sum(text, (size_t)n)) < 0) {
        w->err = PX_ERR_IO;
        return false;
    }
    w->n++;
    return true;
}

static px_err dlq_sync_dir(const px_store *s)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return PX_ERR_IO;
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? PX_OK : PX_ERR_IO;
}

/* Rewrites the file: the marks there (all, or those not passed: prune)
 * and add[0..n). A file left with no mark is removed. */
static px_err dlq_rewrite(px_store *s, const px_store_dlq_ent *add, size_t n, bool prune,
                          size_t *left)
{
    if (s->read_only)
        return PX_ERR_INVAL;
    char *path = dlq_path(s, ""), *tmp = dlq_path(s, ".tmp");
    px_err err = path && tmp ? PX_OK : PX_ERR_NOMEM;
    dlq_writer w = {.s = s, .prune = prune};
    if (!err && !(w.f = fopen(tmp, "w")))
        err = PX_ERR_IO;
    if (!err && fputs(PXS_DLQ_HEADER "\n", w.f) < 0)
        err = PX_ERR_IO;
    if (!err) {
        err = dlq_read(s, dlq_keep, &w);
        if (err == PX_ERR_MALFORMED || err == PX_ERR_TOOLONG) {
            w.damaged = true; /* start over */
            err = PX_OK;
        }
        if (!err)
            err = w.err;
    }
    for (size_t i = 0; !err && i < n; i++) {
        if (!dlq_topic_ok(add[i].topic, strlen(add[i].topic)) || add[i].partition < 0 ||
            add[i].offset < 0)
            err = PX_ERR_INVAL;
        else if (!dlq_keep(&(dlq_writer){.s = s, .f = w.f}, &add[i]))
            err = PX_ERR_IO;
        else
            w.n++;
    }
    if (w.f) {
        if (!err && (fflush(w.f) != 0 || fsync(fileno(w.f)) != 0))
            err = PX_ERR_IO;
        if (fclose(w.f) != 0 && !err)
            err = PX_ERR_IO;
    }
    if (!err && w.n > 0 && rename(tmp, path) != 0)
        err = PX_ERR_IO;
    if (!err && w.n == 0 && unlink(path) != 0 && errno != ENOENT)
        err = PX_ERR_IO;
    if (tmp && (err || w.n == 0))
        unlink(tmp);
    if (!err)
        err = dlq_sync_dir(s);
    free(path);
    free(tmp);
    if (left)
        *left = w.n;
    return !err && w.damaged && prune ? PX_ERR_MALFORMED : err;
}

px_err px_store_dlq_mark(px_store *s, const px_store_dlq_ent *marks, size_t n)
{
    return dlq_rewrite(s, marks, n, false, NULL);
}

px_err px_store_dlq_prune(px_store *s, size_t *left)
{
    if (left)
        *left = 0;
    char *path = dlq_path(s, "");
    if (!path)
        return PX_ERR_NOMEM;
    bool none = access(path, F_OK) != 0 && errno == ENOENT;
    free(path);
    if (none) /* the usual case: nothing was ever abandoned */
        return PX_OK;
    return dlq_rewrite(s, NULL, 0, true, left);
}
