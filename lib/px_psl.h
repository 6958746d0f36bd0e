/* px_psl.h: registered domain (eTLD+1 by the Public Suffix List, private
 * section included) through libpsl. The Kafka message key. */
#ifndef PX_PSL_H
#define PX_PSL_H

#include <stddef.h>

#include "px_error.h"

/* Writes the registered domain of `name` (lowercase presentation form,
 * no trailing dot) into out. A name that is itself a public suffix, or has
 * no registrable part, yields the name itself (so every name has a key).
 * Returns PX_ERR_TOOLONG if out is too small. Thread-safe. */
px_err px_registered_domain(const char *name, char *out, size_t outlen);

#endif
