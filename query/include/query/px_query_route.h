/* px_query_route.h: which member of a consumer group answers a lookup
 * (docs/INTERFACE.md, "Queries across members").
 *
 * Producers key every observation by the registered domain of its name
 * (obs/px_psl.h) and Kafka puts it on partition murmur2(key) mod N
 * (kafka/px_kafka_partition.h); the range assignor gives partition i of
 * every organisation topic to one member. So all records of a name sit at
 * the member owning its key's partition, and pdnsx-query --cluster sends an
 * rrset lookup of a name (and a domain lookup) there alone, fanning out
 * only what may match records of any partition: rdata lookups, and
 * wildcards (the names below a zone need not share the zone's registered
 * domain: the Public Suffix List has suffixes below registrable domains,
 * such as elb.amazonaws.com below amazonaws.com).
 *
 * A member answers for the partitions it owns only (px_query_owner, set by
 * the consumer from its assignment): it reads their stores alone
 * (px_stores_sel), so that a member still holding the store of a
 * partition revoked from it answers disjointly from the new owner (a
 * store standing for every partition has its records filtered by their
 * key's hash instead); a lookup that needs a partition it is restoring is
 * refused (503) rather than answered short. */
#ifndef PX_QUERY_ROUTE_H
#define PX_QUERY_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"
#include "query/px_query.h"

/* Partition counts past this are refused (a topic has far fewer). */
#define PX_QUERY_PARTITIONS_MAX 100000

/* The partition of a name's records among partitions: murmur2 of its
 * registered domain (canonical text, no NUL needed; a name that is a public
 * suffix is its own key, as for the producers). -1: partitions < 1 or a
 * name that is not canonical. */
int32_t px_query_partition_of(const char *name, size_t len, int32_t partitions);

/* The one partition whose member holds every record req can match, or -1
 * when any member may hold some (rdata, a wildcard, or partitions < 1). */
int32_t px_query_route(const px_query_req *req, int32_t partitions);

/* A member's partitions, as /partitions tells them. */
enum { PX_QUERY_PART_OWNED = 1, PX_QUERY_PART_RESTORING = 2 };
typedef struct px_query_parts {
    int32_t partitions; /* N, each organisation topic's; 0: not known */
    uint8_t *state;     /* N flags PX_QUERY_PART_*, owned (NULL when N is 0) */
} px_query_parts;
void px_query_parts_free(px_query_parts *p); /* frees state; NULL is fine */
/* The assignment's fingerprint (N and every partition's flags): a lookup
 * sent with ?assignment=X (16 hex digits) is answered only while the
 * member's partitions are still those /partitions gave with X, so that a
 * rebalance between the two cannot make a routed answer short. */
uint64_t px_query_parts_assignment(const px_query_parts *p);
/* Owned partitions; of them, restoring ones (a restoring one is owned). */
size_t px_query_parts_owned(const px_query_parts *p);
bool px_query_parts_is(const px_query_parts *p, int32_t partition, uint8_t flag);

/* {"partitions":N,"owned":[...],"restoring":[...],"assignment":"X"} and a
 * '\n', partitions ascending, X px_query_parts_assignment in hex.
 * Caller free()s; NULL when out of memory. */
char *px_query_parts_json(const px_query_parts *p);
/* A refusal (a 503's body): {"error":error,"partitions":[...],"msg":msg}
 * and a '\n', the partitions p restores, all (only -1) or the one only
 * (none when only is no partition). NULL when out of memory. */
char *px_query_parts_refusal(const px_query_parts *p, const char *error, int32_t only,
                             const char *msg);
/* Reads what px_query_parts_json writes (another member's answer: checked,
 * never trusted): N from 1 to PX_QUERY_PARTITIONS_MAX, each listed
 * partition below N, restoring ones owned; *assignment its "assignment".
 * PX_ERR_MALFORMED with why. */
px_err px_query_parts_parse(const char *text, size_t len, px_query_parts *out, uint64_t *assignment,
                            char *why, size_t whylen);

/* 16 lowercase hex digits (an assignment's fingerprint) -> *out. */
bool px_query_parse_assignment(const char *text, uint64_t *out);

/* The partitions a member owns: set by the consumer's thread, read by the
 * query endpoint's (a lock inside). */
typedef struct px_query_owner px_query_owner;
px_query_owner *px_query_owner_create(void);    /* NULL: no memory */
void px_query_owner_destroy(px_query_owner *o); /* NULL is fine */
/* The assignment: N partitions per topic, these owned (numbers below N);
 * a partition still owned stays restoring if it was. PX_ERR_INVAL for a
 * bad number, PX_ERR_NOMEM. */
px_err px_query_owner_assign(px_query_owner *o, int32_t partitions, const int32_t *owned, size_t n);
/* Marks an owned partition restoring (the changelog restore) or ready
 * again. PX_ERR_NOTFOUND when it is not owned. */
px_err px_query_owner_restoring(px_query_owner *o, int32_t partition, bool restoring);
/* A copy of the current partitions into *out (px_query_parts_free). */
px_err px_query_owner_get(px_query_owner *o, px_query_parts *out);

#endif
