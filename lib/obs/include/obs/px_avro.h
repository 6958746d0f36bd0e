/* px_avro.h: Avro for pdnsx observations, with avro-c.
 *
 * Messages use Avro single-object encoding: 0xC3 0x01, the 8-byte
 * little-endian CRC-64-AVRO fingerprint of the writer schema's Parsing
 * Canonical Form, then the binary datum. The schema is
 * schemas/observation.avsc, compiled into the binary at build time. */
#ifndef PX_AVRO_H
#define PX_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "core/px_error.h"

/* CRC-64-AVRO (the Rabin fingerprint of the Avro specification). */
uint64_t px_avro_crc64(const void *data, size_t len);

/* Parsing Canonical Form of a JSON schema text. *out is malloc'd: caller
 * frees. Errors: PX_ERR_MALFORMED (not JSON), PX_ERR_INVAL (not a valid
 * schema: unknown or redefined name, missing attribute), PX_ERR_TOOLONG
 * (nested deeper than 64). */
px_err px_avro_canonical_form(const char *schema_json, char **out);

/* One observation, field for field as in schemas/observation.avsc. */
typedef struct px_avro_obs {
    const char *rrname;
    const char *rrtype;
    const char *rdata;
    const char *bailiwick; /* NULL: Avro null */
    int64_t count;
    int64_t time_first, time_last;
    int64_t ttl_min, ttl_max;
    int64_t clients; /* < 0: Avro null */
    const char *org;
    const char *sensor;
} px_avro_obs;

typedef struct px_avro_codec px_avro_codec;

/* Parses the embedded schema (schemas/observation.avsc) and computes its
 * fingerprint, then registers every embedded earlier version
 * (schemas/history/) as a writer (px_avro_codec_add_writer), so a version
 * that no longer resolves fails here. On error *out is NULL and why (may be
 * NULL) says what failed, with avro-c's text when avro-c refused. One codec
 * per thread; the caller owns *out (px_avro_codec_destroy). */
px_err px_avro_codec_create(px_avro_codec **out, char *why, size_t whylen);
void px_avro_codec_destroy(px_avro_codec *c); /* NULL is fine */

/* Registers another writer schema (JSON text), found on decode by the
 * fingerprint of its Parsing Canonical Form and resolved to the embedded
 * (reader) schema with avro-c's schema resolution: writer fields the reader
 * lacks are skipped, reader fields the writer lacks take the reader's
 * default (avro-c does not apply defaults itself, so the codec does), int
 * is promoted to long and a value to a union holding its type (avro-c
 * 1.11 does not promote bytes to string: such a writer is refused). Registering
 * the current schema or one already known does nothing. Encoding always
 * uses the embedded schema. Errors: PX_ERR_MALFORMED/PX_ERR_INVAL (not a
 * schema, see px_avro_canonical_form), PX_ERR_UNSUPPORTED (does not
 * resolve: not a record, a reader field missing with no default, a type
 * that cannot be promoted), PX_ERR_NOMEM; why (may be NULL) says which,
 * with avro-c's text when it refused ("writer schema: ...: ... ttl_min"). */
px_err px_avro_codec_add_writer(px_avro_codec *c, const char *schema_json, char *why,
                                size_t whylen);

/* Encoding one observation as a single-object message, split for a
 * producer that encodes the same record again at every window: the fields
 * that name the record (rrname, rrtype, rdata, bailiwick: the first four
 * of the schema) are encoded once with px_avro_encode_head(), and each
 * message is then that head plus the other fields (px_avro_encode_tail()).
 * The strings must be UTF-8 and, but for bailiwick, not NULL (else
 * PX_ERR_INVAL). A decoded observation may be passed straight back on the
 * same codec.
 *
 * px_avro_encode_head() writes the encoded head fields of obs to out[0..cap)
 * and their length to *len; the other fields of obs are not read.
 * PX_ERR_TOOLONG if cap is too small (PX_AVRO_HEAD_MAX always does for
 * DNS presentation texts: names <= 1024, rdata < 16384 characters),
 * PX_ERR_INVAL for a field as above. */
#define PX_AVRO_HEAD_MAX (3 * 1025 + 16384 + 64)
px_err px_avro_encode_head(px_avro_codec *c, const px_avro_obs *obs, uint8_t *out, size_t cap,
                           size_t *len);
/* A whole message: header, head[0..head_len) from px_avro_encode_head()
 * on this codec, then count .. sensor of obs (the head fields of obs are
 * not read). *out is in the codec's buffer and stays valid until the
 * next call on this codec. */
px_err px_avro_encode_tail(px_avro_codec *c, const uint8_t *head, size_t head_len,
                           const px_avro_obs *obs, const uint8_t **out, size_t *len);

/* Decodes a single-object message written with the embedded schema or any
 * registered writer schema; the datum is checked against the writer schema
 * (bounds, lengths, UTF-8) before avro-c sees it.
 * Strings in *obs point into the codec and stay valid until the next call.
 * Errors: PX_ERR_MALFORMED (bad magic, bad datum, trailing bytes, string
 * not UTF-8 or holding a NUL, negative clients), PX_ERR_NOTFOUND (unknown
 * fingerprint: neither the embedded schema nor a registered one), PX_ERR_TRUNC (message ends
 * early). */
px_err px_avro_decode(px_avro_codec *c, const uint8_t *msg, size_t len, px_avro_obs *obs);

#endif
