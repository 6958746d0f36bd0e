/* store_ro.h: the consumer's store opened for reading, as pdnsx-query
 * opens it, for the tests to look at what a run left behind. */
#ifndef STORE_RO_H
#define STORE_RO_H

#include "store/px_store.h"

static inline px_store *open_ro(const char *dir)
{
    px_err err;
    char why[256];
    px_store *s = px_store_open(dir, &(px_store_opts){.read_only = true}, &err, why, sizeof(why));
    if (!s)
        fail_msg("store: %s", why);
    return s;
}

#endif
