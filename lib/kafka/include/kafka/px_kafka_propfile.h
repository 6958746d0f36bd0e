/* px_kafka_propfile.h: a file of librdkafka properties (the setting
 * kafka.properties_file), one "key=value" a line: the format of kcat's -F
 * and of Kafka's client.properties, so that one file can serve kcat, the
 * Java tools and pdnsx. It holds what must not be in a world-readable
 * configuration (sasl.password, key paths), so the main file can be.
 *
 * The format, strictly (docs/INTERFACE.md, "Kafka properties file"):
 * blank lines and lines whose first non-blank character is '#' or '!' are
 * comments; every other line is KEY=VALUE, KEY of [A-Za-z0-9._-] and
 * blanks around KEY and VALUE dropped; VALUE is taken literally, except that
 * a line ending in '\' (a continuation in Java's format) is refused rather
 * than read differently from Java; a key set twice is refused. Problems
 * name "NAME:LINE" and never the value (it may be a password). */
#ifndef PX_KAFKA_PROPFILE_H
#define PX_KAFKA_PROPFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/px_error.h"
#include "kafka/px_kafka.h"

enum { PX_KAFKA_PROPFILE_MAX_BYTES = 1024 * 1024 };

typedef struct px_kafka_propfile px_kafka_propfile;

/* Parses len bytes of text (no NUL needed; a NUL byte is a problem) read
 * from a file called name (for the problems). NULL only when out of
 * memory; check px_kafka_propfile_problem_count(). */
px_kafka_propfile *px_kafka_propfile_parse(const char *text, size_t len, const char *name);
/* Reads path, a regular file of at most PX_KAFKA_PROPFILE_MAX_BYTES, and
 * parses it. PX_ERR_IO (errno's text in why), PX_ERR_CONFIG (not a regular
 * file, too large), PX_ERR_NOMEM; on PX_OK *out is the caller's. */
px_err px_kafka_propfile_read(const char *path, px_kafka_propfile **out, char *why, size_t whylen);
void px_kafka_propfile_destroy(px_kafka_propfile *f); /* NULL is fine */

/* True when path (may be NULL: false) is a file that its group or others
 * may read or write: the file holds secrets, and the group pdnsx also
 * holds resolvers' users (for the dnstap socket). why gets the sentence a
 * daemon logs as a warning. Not a configuration problem: --check passes. */
bool px_kafka_propfile_exposed(const char *path, char *why, size_t whylen);

/* The properties in file order: n entries whose strings belong to f. */
const px_kafka_prop *px_kafka_propfile_props(const px_kafka_propfile *f, size_t *n);
/* The line of property i. */
unsigned px_kafka_propfile_line(const px_kafka_propfile *f, size_t i);
/* Problems, "NAME:LINE: message", in order; the line and the message
 * alone of problem i. */
size_t px_kafka_propfile_problem_count(const px_kafka_propfile *f);
const char *px_kafka_propfile_problem(const px_kafka_propfile *f, size_t i);
unsigned px_kafka_propfile_problem_line(const px_kafka_propfile *f, size_t i);
const char *px_kafka_propfile_problem_message(const px_kafka_propfile *f, size_t i);

#endif
