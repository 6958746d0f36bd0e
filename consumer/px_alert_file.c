/* px_alert_file.c: the JSON-lines file sink (alerts.jsonl): one alert a
 * line, appended.
 *
 * No torn lines: the lines of a poll go out in one write() to a file
 * opened O_APPEND, and whatever a failed write or fdatasync left behind
 * (a part of a line on a full disk) is cut off again (ftruncate to the
 * size before), so the file only ever grows by whole lines. Alerts are
 * delivered once fdatasync said their lines are on disk. SIGHUP reopens
 * the path: after a rotation (rename, then SIGHUP) new lines go to a new
 * file. */
#include "px_alert_sink_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/px_clock.h"

/* Bytes written per poll at most (at least one line): the loop is not held
 * up by a long write after an outage. */
#define PX_ALERT_FILE_CHUNK (1024 * 1024)

typedef struct px_alert_file {
    char *path;
    int fd; /* -1: to open again */
    char *buf;
    size_t cap;
    px_alert_backoff backoff;
} px_alert_file;

static int px_alert_file_open(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* The lines of the items at the head (those passed over left out), up to PX_ALERT_FILE_CHUNK bytes
 * (one at least), into f->buf; *n_items: how many. -1 on no memory. */
static ssize_t px_alert_file_lines(px_alert_sink *s, px_alert_file *f, size_t *n_items)
{
    size_t len = 0, i = 0;
    for (; i < s->n; i++) {
        px_alert_item *it = px_alert_sink_at(s, i);
        if (it->state == PX_ALERT_DONE) /* passed over */
            continue;
        if (len && len + it->a.json_len + 1 > PX_ALERT_FILE_CHUNK)
            break;
        if (len + it->a.json_len + 1 > f->cap) {
            size_t cap = len + it->a.json_len + 1 > PX_ALERT_FILE_CHUNK ? len + it->a.json_len + 1
                                                                        : PX_ALERT_FILE_CHUNK;
            char *nb = realloc(f->buf, cap);
            if (!nb)
                return -1;
            f->buf = nb;
            f->cap = cap;
        }
        memcpy(f->buf + len, it->a.json, it->a.json_len);
        len += it->a.json_len;
        f->buf[len++] = '\n';
    }
    *n_items = i;
    return (ssize_t)len;
}

/* Appends len bytes of f->buf and syncs them; on failure cuts the file
 * back to its size before. Returns 0 or an errno. */
static int px_alert_file_append(px_alert_file *f, size_t len)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return errno;
    size_t done = 0;
    int err = 0;
    while (done < len && !err) {
        ssize_t w = write(f->fd, f->buf + done, len - done);
        if (w > 0)
            done += (size_t)w;
        else if (w < 0 && errno != EINTR)
            err = errno;
        else if (w == 0)
            err = EIO;
    }
    if (!err && fdatasync(f->fd) != 0)
        err = errno;
    if (err && ftruncate(f->fd, st.st_size) != 0) {
        /* Cannot cut it back: a reopen at least starts on a fresh line
         * position; the torn bytes stay (said in the log). */
        close(f->fd);
        f->fd = -1;
    }
    return err;
}

static void px_alert_file_poll(px_alert_sink *s, int64_t now_ms)
{
    px_alert_file *f = s->impl;
    if (s->n == 0 || !px_alert_backoff_ready(&f->backoff, now_ms))
        return;
    if (f->fd < 0 && (f->fd = px_alert_file_open(f->path)) < 0) {
        px_alert_sink_fail(s, now_ms, "cannot open %s: %s", f->path, strerror(errno));
        px_alert_backoff_failed(&f->backoff, now_ms);
        return;
    }
    size_t n_items;
    ssize_t len = px_alert_file_lines(s, f, &n_items);
    if (len < 0) {
        px_alert_sink_fail(s, now_ms, "out of memory");
        px_alert_backoff_failed(&f->backoff, now_ms);
        return;
    }
    int err = px_alert_file_append(f, (size_t)len);
    if (err) {
        px_alert_sink_fail(s, now_ms, "cannot append to %s: %s%s", f->path, strerror(err),
                           f->fd < 0 ? " (and cannot cut off what was written)" : "");
        px_alert_backoff_failed(&f->backoff, now_ms);
        return;
    }
    px_alert_backoff_ok(&f->backoff);
    /* last first: done() drops items only once the head is done */
    for (size_t i = n_items; i-- > 0;)
        px_alert_sink_done(s, px_alert_sink_at(s, i), false);
}

static void px_alert_file_wait(px_alert_sink *s, int ms)
{
    px_alert_file *f = s->impl;
    int64_t now = px_clock_mono_ms();
    if (f->backoff.until_ms > now) {
        int64_t w = f->backoff.until_ms - now;
        usleep((useconds_t)(w < ms ? w : ms) * 1000);
    }
}

static void px_alert_file_reopen(px_alert_sink *s)
{
    px_alert_file *f = s->impl;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = px_alert_file_open(f->path);
    px_alert_backoff_ok(&f->backoff); /* opened or not, try at the next poll */
}

static void px_alert_file_destroy(px_alert_sink *s)
{
    px_alert_file *f = s->impl;
    if (f->fd >= 0)
        close(f->fd);
    free(f->buf);
    free(f->path);
    free(f);
}

static const px_alert_sink_ops px_alert_file_ops = {
    .poll = px_alert_file_poll,
    .wait = px_alert_file_wait,
    .reopen = px_alert_file_reopen,
    .destroy = px_alert_file_destroy,
};

px_err px_alert_file_create(const char *path, uint64_t next_seq, px_alert_sink **out, char *why,
                            size_t whylen)
{
    *out = NULL;
    px_alert_file *f = calloc(1, sizeof(*f));
    if (!f || !(f->path = strdup(path))) {
        free(f);
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    f->fd = px_alert_file_open(path);
    if (f->fd < 0) {
        px_why(why, whylen, "alerts.jsonl: cannot open %s: %s", path, strerror(errno));
        free(f->path);
        free(f);
        return PX_ERR_CONFIG;
    }
    *out = px_alert_sink_new("jsonl", &px_alert_file_ops, f, next_seq);
    if (!*out) {
        px_alert_file_destroy(&(px_alert_sink){.impl = f});
        px_why(why, whylen, "out of memory");
        return PX_ERR_NOMEM;
    }
    return PX_OK;
}
