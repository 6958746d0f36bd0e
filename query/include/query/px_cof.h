/* px_cof.h: one stored record as a Common Output Format (COF) JSON object,
 * the output of pdnsx-query and of the consumer's query.listen endpoint.
 *
 * Keys, always in this order: rrname, rrtype, rdata, time_first,
 * time_last, count, then bailiwick (only when known), orgs (array of
 * organisation ids, as the record lists them), then for records with a
 * GeoIP answer: country (ISO code), asn (number), as_org, each only when
 * known. Per-organisation first/last sightings are not part of COF. */
#ifndef PX_COF_H
#define PX_COF_H

#include <stdio.h>

#include <jansson.h>

#include "core/px_error.h"
#include "store/px_store.h"

/* A new JSON object (caller json_decref()s it); NULL when out of memory.
 * count above INT64_MAX is written as INT64_MAX (JSON integers are
 * signed). */
json_t *px_cof_from_rec(const px_store_rec *rec);

/* The object as one compact line without the newline; caller free()s it.
 * NULL when out of memory. */
char *px_cof_dumps(const px_store_rec *rec);

/* Writes the compact object and '\n' to out. PX_ERR_IO if the stream
 * reports an error, PX_ERR_NOMEM. */
px_err px_cof_write(FILE *out, const px_store_rec *rec);

/* A registered domain (pdnsx-query domain, GET /domain/NAME): one
 * object with, in this order, domain, time_first and time_last (when any
 * record of it was first and last seen, over every organisation) and
 * orgs (the organisations that saw it). px_cof_domain_dumps: one compact
 * line without the newline, caller free()s, NULL when out of memory;
 * px_cof_domain_write: the line and '\n' to out (PX_ERR_IO, PX_ERR_NOMEM). */
char *px_cof_domain_dumps(const px_store_domain *d);
px_err px_cof_domain_write(FILE *out, const px_store_domain *d);

/* The inverse, for merging answers of several consumers (pdnsx-query
 * --cluster): reads one COF object. Unknown keys are ignored; rrname,
 * rrtype, rdata, time_first, time_last and count are required.
 * On success *out points into `obj` and into `orgs_buf` (an array of
 * at least json_array_size(orgs) pointers the caller provides via
 * px_cof_orgs_len()); org_first/org_last are NULL. PX_ERR_MALFORMED when
 * a field is missing or has the wrong type. */
size_t px_cof_orgs_len(const json_t *obj);
px_err px_cof_to_rec(const json_t *obj, px_store_rec *out, const char **orgs_buf);

#endif
