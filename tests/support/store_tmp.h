/* store_tmp.h: a store in a directory of its own under /tmp, for the
 * harnesses that keep one open across their inputs (tests/fuzz/): made
 * with mkdtemp, its directory and every file in it removed when it is
 * dropped, and at exit if it is still there. Header only, for the targets
 * that link pdnsx_store; a failure aborts (a harness has no framework to
 * report to). */
#ifndef PXT_STORE_TMP_H
#define PXT_STORE_TMP_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/px_store.h"

typedef struct pxt_tmp_store {
    char dir[96]; /* "" once dropped */
    px_store *s;  /* NULL once dropped */
} pxt_tmp_store;

/* Closes the store and removes its directory with what is in it. */
static inline void pxt_tmp_store_drop(pxt_tmp_store *t)
{
    px_store_close(t->s);
    t->s = NULL;
    if (!t->dir[0])
        return;
    DIR *d = opendir(t->dir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        char p[sizeof t->dir + 256];
        snprintf(p, sizeof p, "%s/%s", t->dir, e->d_name);
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(t->dir);
    t->dir[0] = '\0';
}

/* The store dropped at exit: the last one opened. */
static inline pxt_tmp_store **pxt_tmp_store_last(void)
{
    static pxt_tmp_store *last;
    return &last;
}

static inline void pxt_tmp_store_at_exit(void)
{
    if (*pxt_tmp_store_last())
        pxt_tmp_store_drop(*pxt_tmp_store_last());
}

/* A new store with opts (NULL: the defaults) in a fresh directory
 * /tmp/<name>.XXXXXX, into t; t is dropped at exit. */
static inline px_store *pxt_tmp_store_open(pxt_tmp_store *t, const char *name,
                                           const px_store_opts *opts)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(t->dir))
        abort();
    if (!*pxt_tmp_store_last() && atexit(pxt_tmp_store_at_exit) != 0)
        abort();
    *pxt_tmp_store_last() = t;
    px_err err;
    char why[256];
    t->s = px_store_open(t->dir, opts, &err, why, sizeof why);
    if (!t->s)
        abort();
    return t->s;
}

#endif
