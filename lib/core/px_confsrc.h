/* px_confsrc.h: the text of a libconfig file as px_config hands it to
 * libconfig, and what libconfig does not say about it.
 *
 * libconfig 1.5 (Debian 12) has two blind spots this covers:
 *  - @include: a missing file, a directory, a binary file or a loop all
 *    came out as "FILE:1: syntax error" (a directory even ended the
 *    process from inside flex). Here the includes are resolved before
 *    libconfig sees the text, each failure a precise "FILE:LINE: message",
 *    and relative paths are taken from the including file's directory
 *    (libconfig took them from the working directory, which for a daemon
 *    is rarely where its configuration lives).
 *  - whole numbers: a literal that does not fit libconfig's type (32 bits
 *    without an L suffix, 64 with one) is cut or clamped without a word
 *    (4294967356 reads as 60). The scanner finds every integer literal
 *    with the value libconfig will store, so that px_config can say which
 *    setting was written out of range.
 *
 * The scanner follows libconfig 1.5's lexer (scanner.l) for what matters
 * here: strings with escapes, the three kinds of comments, names, and the
 * integer, 64-bit integer, hex and float literals. Pure text processing:
 * no libconfig, no logging. */
#ifndef PX_CONFSRC_H
#define PX_CONFSRC_H

#include <stdbool.h>
#include <stddef.h>

enum {
    PX_CONFSRC_MAX_BYTES = 16 * 1024 * 1024, /* the whole text, includes expanded */
    PX_CONFSRC_MAX_DEPTH = 10,               /* nested includes (libconfig's own limit) */
};

/* An integer literal as written and as libconfig will read it. */
typedef struct px_confsrc_int {
    unsigned line;    /* in the expanded text (px_confsrc_where() maps it) */
    bool wide;        /* L or LL suffix: CONFIG_TYPE_INT64, else CONFIG_TYPE_INT */
    bool fits;        /* libconfig stores the value written */
    bool fits_wide;   /* it would with an L suffix */
    long long stored; /* what libconfig stores */
    char text[48];    /* the literal as written (longer ones cut, "...") */
} px_confsrc_int;

typedef struct px_confsrc px_confsrc;

/* Reads path and every file it includes into one text. Never NULL unless
 * out of memory; check px_confsrc_problem_count() before using the text. */
px_confsrc *px_confsrc_read_file(const char *path);
/* Scans text given whole (a --set value): name is where problems point
 * ("--set:3"); an @include in it is a problem. */
px_confsrc *px_confsrc_from_text(const char *text, const char *name);
void px_confsrc_destroy(px_confsrc *s); /* NULL is fine */

/* The expanded text, NUL-terminated. */
const char *px_confsrc_text(const px_confsrc *s);
/* Where line `line` of the expanded text came from: "FILE:LINE" (or the
 * name given to px_confsrc_from_text()) into buf. */
void px_confsrc_where(const px_confsrc *s, unsigned line, char *buf, size_t len);

/* Problems found reading ("FILE:LINE: message"), in order. */
size_t px_confsrc_problem_count(const px_confsrc *s);
const char *px_confsrc_problem(const px_confsrc *s, size_t i);

/* Integer literals, in the order of the text. */
size_t px_confsrc_int_count(const px_confsrc *s);
const px_confsrc_int *px_confsrc_int_at(const px_confsrc *s, size_t i);

#endif
