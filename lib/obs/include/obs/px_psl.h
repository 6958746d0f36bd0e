/* px_psl.h: registered domain (eTLD+1 by the Public Suffix List, private
 * section included) through libpsl. The Kafka message key. */
#ifndef PX_PSL_H
#define PX_PSL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/px_error.h"

/* True if `name` (lowercase presentation form, no trailing dot; len
 * octets) is itself a public suffix of the list's ICANN section ("com",
 * "co.uk", "in-addr.arpa"; the implicit "*" rule does not count, so an
 * unknown top-level label is not one). Thread-safe. */
bool px_psl_is_public_suffix(const char *name, size_t len);

/* A cache of name -> registered domain for one thread. libpsl walks its
 * DAFSA label by label for every lookup, and the producer looks up the
 * same names at every window flush; the cache makes a repeat a hash probe
 * and a compare. Two-way sets of 64-byte slots: a third name of a set
 * replaces the one used less recently. */
typedef struct px_psl_cache px_psl_cache;

/* slots (64 bytes each) is rounded up to a power of two (0: 65536). NULL
 * on no memory. */
px_psl_cache *px_psl_cache_create(size_t slots);
void px_psl_cache_destroy(px_psl_cache *c); /* NULL is fine */

/* Asks the CPU for the cache lines of name's set, so that a lookup of it
 * some work later does not wait for memory. */
void px_psl_cache_prefetch(const px_psl_cache *c, const char *name, size_t len);

/* The registered domain of a name already in canonical form (lowercase,
 * no trailing dot, as the DNS parser writes it), through the cache. A
 * name that is itself a public suffix, or has no registrable part, is its
 * own registered domain (so every name has a key). The result is a suffix
 * of the name: *reg points into `name`, valid as long as `name` is. */
px_err px_psl_cache_lookup(px_psl_cache *c, const char *name, size_t len, const char **reg,
                           size_t *reg_len);

/* The same answer without a cache (a few libpsl walks per name; any
 * thread): for code that looks up a name now and then, e.g. a query's
 * ownership (query/px_query_route.c). */
px_err px_psl_key(const char *name, size_t len, const char **reg, size_t *reg_len);

#endif
