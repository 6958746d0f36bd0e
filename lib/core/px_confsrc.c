/* px_confsrc.c: libconfig text with @includes expanded, a line map back to
 * the files, and every integer literal with the value libconfig stores. */
#include "px_confsrc.h"
#include "core/px_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct px_cs_pos {
    unsigned file; /* index into files */
    unsigned line;
} px_cs_pos;

enum px_cs_state { PX_CS_NORMAL, PX_CS_STRING, PX_CS_COMMENT };

struct px_confsrc {
    char *text;
    size_t len, cap;
    px_cs_pos *lines; /* lines[i]: where line i + 1 of text came from */
    size_t n_lines, cap_lines;
    char **files;
    size_t n_files;
    char **problems;
    size_t n_problems, cap_problems;
    px_confsrc_int *ints;
    size_t n_ints, cap_ints;
    char *name; /* px_confsrc_from_text(): where everything is */
    /* scanning */
    enum px_cs_state state;
    px_cs_pos cur; /* the source line being copied */
    struct {
        dev_t dev;
        ino_t ino;
        unsigned file;
    } stack[PX_CONFSRC_MAX_DEPTH + 1];
    size_t depth;
    bool nomem;
};

/* ---- growing arrays ------------------------------------------------------- */

static bool px_cs_grow(px_confsrc *s, void **v, size_t *cap, size_t n, size_t size)
{
    if (px_array_reserve(v, cap, n + 1, size, 64) == PX_OK)
        return true;
    s->nomem = true;
    return false;
}

static void px_cs_problem(px_confsrc *s, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_cs_problem(px_confsrc *s, const char *where, const char *fmt, ...)
{
    char *msg = NULL, *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0 || asprintf(&line, "%s: %s", where, msg) < 0) {
        free(msg);
        s->nomem = true;
        return;
    }
    free(msg);
    if (!px_cs_grow(s, (void **)&s->problems, &s->cap_problems, s->n_problems,
                    sizeof(*s->problems))) {
        free(line);
        return;
    }
    s->problems[s->n_problems++] = line;
}

/* "FILE:LINE" of the source line being copied. */
static void px_cs_here(const px_confsrc *s, char *buf, size_t len)
{
    if (s->name)
        snprintf(buf, len, "%s", s->name);
    else
        snprintf(buf, len, "%s:%u", s->files[s->cur.file], s->cur.line);
}

/* ---- output ---------------------------------------------------------------- */

static void px_cs_newline_map(px_confsrc *s)
{
    if (!px_cs_grow(s, (void **)&s->lines, &s->cap_lines, s->n_lines, sizeof(*s->lines)))
        return;
    s->lines[s->n_lines++] = s->cur;
}

static void px_cs_emit(px_confsrc *s, const char *p, size_t n)
{
    if (PX_ARRAY_RESERVE(s->text, s->cap, s->len + n + 1, 4096) != PX_OK) {
        s->nomem = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        s->text[s->len++] = p[i];
        if (p[i] == '\n') {
            s->cur.line++;
            px_cs_newline_map(s);
        }
    }
    s->text[s->len] = '\0';
}

/* The output line being written now comes from s->cur. */
static void px_cs_remap(px_confsrc *s)
{
    if (s->n_lines)
        s->lines[s->n_lines - 1] = s->cur;
}

/* ---- integer literals ------------------------------------------------------ */

static bool px_cs_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool px_cs_xdigit(char c)
{
    return px_cs_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static size_t px_cs_digits(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && px_cs_digit(p[i]))
        i++;
    return i;
}

/* Length of an L or LL suffix at p. */
static size_t px_cs_suffix(const char *p, size_t n)
{
    if (n < 1 || p[0] != 'L')
        return 0;
    return n >= 2 && p[1] == 'L' ? 2 : 1;
}

/* Length of an exponent ([eE][-+]?[0-9]+) at p, 0 if none. */
static size_t px_cs_exponent(const char *p, size_t n)
{
    if (n < 2 || (p[0] != 'e' && p[0] != 'E'))
        return 0;
    size_t i = 1;
    if (p[i] == '+' || p[i] == '-')
        i++;
    size_t d = px_cs_digits(p + i, n - i);
    return d ? i + d : 0;
}

/* The value libconfig 1.5's scanner stores for an integer token (its
 * rules: atoi, strtoul, atoll, strtoull), and whether that is the value
 * written. digits: the token without its suffix, NUL-terminated. */
static void px_cs_value(const char *digits, bool hex, bool wide, px_confsrc_int *v)
{
    errno = 0;
    if (!hex) {
        long long x = strtoll(digits, NULL, 10);
        v->fits_wide = errno == 0;
        /* atoi() is (int)strtol(); long is 64 bits here, like long long */
        v->fits = v->fits_wide && (wide || (x >= INT32_MIN && x <= INT32_MAX));
        v->stored = wide ? x : (int32_t)(uint32_t)(unsigned long long)x;
    } else {
        unsigned long long x = strtoull(digits, NULL, 16);
        v->fits_wide = errno == 0 && x <= LLONG_MAX;
        v->fits = v->fits_wide && (wide || x <= INT32_MAX);
        v->stored = wide ? (long long)x : (int32_t)(uint32_t)x;
    }
}

static void px_cs_int(px_confsrc *s, const char *p, size_t len, size_t suffix, bool hex)
{
    if (!px_cs_grow(s, (void **)&s->ints, &s->cap_ints, s->n_ints, sizeof(*s->ints)))
        return;
    char *digits = strndup(p, len - suffix);
    if (!digits) {
        s->nomem = true;
        return;
    }
    px_confsrc_int *v = &s->ints[s->n_ints++];
    memset(v, 0, sizeof(*v));
    v->line = (unsigned)s->n_lines;
    v->wide = suffix > 0;
    px_cs_value(digits, hex, v->wide, v);
    free(digits);
    if (len < sizeof(v->text))
        memcpy(v->text, p, len);
    else
        snprintf(v->text, sizeof(v->text), "%.*s...", (int)sizeof(v->text) - 4, p);
}

/* A number token at p, as flex's longest match among libconfig's integer,
 * integer64, hex, hex64 and float rules picks it. Returns its length (0:
 * no number here) and records integers. */
static size_t px_cs_number(px_confsrc *s, const char *p, size_t n)
{
    if (n >= 3 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && px_cs_xdigit(p[2])) {
        size_t i = 2;
        while (i < n && px_cs_xdigit(p[i]))
            i++;
        size_t suf = px_cs_suffix(p + i, n - i);
        px_cs_int(s, p, i + suf, suf, true);
        return i + suf;
    }
    size_t sign = (p[0] == '+' || p[0] == '-') ? 1 : 0;
    size_t d1 = px_cs_digits(p + sign, n - sign);
    size_t i = sign + d1;
    size_t flt = 0;
    if (i < n && p[i] == '.') {
        size_t j = i + 1 + px_cs_digits(p + i + 1, n - i - 1);
        flt = j + px_cs_exponent(p + j, n - j);
    } else if (d1) {
        size_t e = px_cs_exponent(p + i, n - i);
        flt = e ? i + e : 0;
    }
    size_t suf = d1 ? px_cs_suffix(p + i, n - i) : 0;
    size_t integer = d1 ? i + suf : 0;
    if (flt > integer)
        return flt;
    if (integer)
        px_cs_int(s, p, integer, suf, false);
    return integer;
}

/* ---- reading files --------------------------------------------------------- */

static void px_cs_scan(px_confsrc *s, const char *buf, size_t n);

/* The first byte no text file holds (NUL, other control characters than
 * tab, line and page breaks), or -1; *line gets its line. */
static long px_cs_binary_at(const char *buf, size_t n, unsigned *line)
{
    *line = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n')
            (*line)++;
        else if (c < 0x20 && c != '\t' && c != '\r' && c != '\v' && c != '\f')
            return (long)i;
    }
    return -1;
}

/* Reads a whole regular file (fd open) of at most max bytes. NULL with
 * errno on failure (EFBIG: too large). */
static char *px_cs_slurp(int fd, size_t max, size_t *len)
{
    /* room for one byte past max tells a file that is too large */
    px_buf b = {.max = max < SIZE_MAX ? max + 1 : max};
    for (;;) {
        size_t want = b.max - b.len < 4096 ? b.max - b.len : 4096;
        if (!want || px_buf_reserve(&b, want) != PX_OK) {
            px_buf_free(&b);
            errno = want ? ENOMEM : EFBIG;
            return NULL;
        }
        ssize_t r = read(fd, b.p + b.len, b.cap - b.len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            px_buf_free(&b);
            errno = e;
            return NULL;
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
    }
    if (b.len > max) {
        px_buf_free(&b);
        errno = EFBIG;
        return NULL;
    }
    *len = b.len;
    return (char *)b.p;
}

/* path as the including file's directory makes it. */
static char *px_cs_resolve(const char *including, const char *path)
{
    const char *slash = strrchr(including, '/');
    char *out = NULL;
    if (path[0] == '/' || !slash)
        return strdup(path);
    if (asprintf(&out, "%.*s/%s", (int)(slash - including), including, path) < 0)
        return NULL;
    return out;
}

/* "a.conf -> b.conf -> a.conf" for a loop back to stack entry k. */
static void px_cs_loop(const px_confsrc *s, size_t k, const char *again, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = k; i < s->depth; i++) {
        int r = snprintf(buf + used, len - used, "%s -> ", s->files[s->stack[i].file]);
        if (r < 0 || (size_t)r >= len - used)
            return;
        used += (size_t)r;
    }
    snprintf(buf + used, len - used, "%s", again);
}

/* Checks that path can be read as a configuration and reads it; NULL
 * after a problem at `at`, which begins with `what` ("cannot include
 * \"x.conf\"" or "cannot read"). */
static char *px_cs_load(px_confsrc *s, const char *path, const char *at, const char *what,
                        struct stat *st, size_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        px_cs_problem(s, at, "%s: %s", s->depth ? what : "cannot open", strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    if (fstat(fd, st) != 0) {
        px_cs_problem(s, at, "%s: %s", what, strerror(errno));
    } else if (S_ISDIR(st->st_mode)) {
        px_cs_problem(s, at, "%s: it is a directory", what);
    } else if (!S_ISREG(st->st_mode)) {
        px_cs_problem(s, at, "%s: not a regular file", what);
    } else {
        for (size_t k = 0; k < s->depth; k++) {
            if (s->stack[k].dev == st->st_dev && s->stack[k].ino == st->st_ino) {
                char chain[1024];
                px_cs_loop(s, k, path, chain, sizeof(chain));
                px_cs_problem(s, at, "@include loop: %s", chain);
                close(fd);
                return NULL;
            }
        }
        buf = px_cs_slurp(fd, PX_CONFSRC_MAX_BYTES - s->len, n);
        if (!buf && errno == EFBIG)
            px_cs_problem(s, at, "%s: the configuration is over %d MiB", what,
                          PX_CONFSRC_MAX_BYTES >> 20);
        else if (!buf)
            px_cs_problem(s, at, "%s: %s", what, strerror(errno));
    }
    close(fd);
    return buf;
}

/* Opens, checks and scans one file. where: the @include's location (NULL
 * for the top file, whose problems point at FILE:0 as before). */
static void px_cs_file(px_confsrc *s, const char *path, const char *written, const char *where)
{
    char at[512], what[512];
    if (where) {
        snprintf(at, sizeof(at), "%s", where);
        if (strcmp(path, written) == 0)
            snprintf(what, sizeof(what), "cannot include \"%s\"", written);
        else
            snprintf(what, sizeof(what), "cannot include \"%s\" (%s)", written, path);
    } else {
        snprintf(at, sizeof(at), "%s:0", path);
        snprintf(what, sizeof(what), "cannot read");
    }
    if (s->depth > PX_CONFSRC_MAX_DEPTH) { /* the top file and 10 includes */
        px_cs_problem(s, at, "%s: includes nested deeper than %d", what, PX_CONFSRC_MAX_DEPTH);
        return;
    }
    struct stat st;
    size_t n = 0;
    char *buf = px_cs_load(s, path, at, what, &st, &n);
    if (!buf)
        return;
    unsigned bad_line;
    long bad = px_cs_binary_at(buf, n, &bad_line);
    if (bad >= 0) {
        if (where)
            px_cs_problem(s, at, "%s: not a configuration file (byte 0x%02x on its line %u)", what,
                          (unsigned char)buf[bad], bad_line);
        else {
            snprintf(at, sizeof(at), "%s:%u", path, bad_line);
            px_cs_problem(s, at, "not a configuration file (byte 0x%02x)", (unsigned char)buf[bad]);
        }
        free(buf);
        return;
    }
    char *name = strdup(path);
    char **files = name ? realloc(s->files, (s->n_files + 1) * sizeof(*files)) : NULL;
    if (!files) {
        free(name);
        free(buf);
        s->nomem = true;
        return;
    }
    s->files = files;
    s->files[s->n_files] = name;
    s->stack[s->depth].dev = st.st_dev;
    s->stack[s->depth].ino = st.st_ino;
    s->stack[s->depth].file = (unsigned)s->n_files;
    s->depth++;
    s->cur = (px_cs_pos){(unsigned)s->n_files++, 1};
    px_cs_remap(s);
    px_cs_scan(s, buf, n);
    s->depth--;
    free(buf);
}

/* An @include directive at buf[0] (a line start outside strings and
 * comments): libconfig's ^[ \t]*@include[ \t]+"FILE". Returns its length,
 * 0 if this is not one; FILE in *name, *name_len. */
static size_t px_cs_directive(const char *buf, size_t n, const char **name, size_t *name_len)
{
    size_t i = 0;
    while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    static const char kw[] = "@include";
    if (n - i < sizeof(kw) - 1 || memcmp(buf + i, kw, sizeof(kw) - 1) != 0)
        return 0;
    i += sizeof(kw) - 1;
    size_t ws = i;
    while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    if (i == ws || i >= n || buf[i] != '"')
        return 0;
    size_t start = ++i;
    while (i < n && buf[i] != '"' && buf[i] != '\n')
        i++;
    if (i >= n || buf[i] != '"')
        return 0;
    *name = buf + start;
    *name_len = i - start;
    return i + 1;
}

static void px_cs_include(px_confsrc *s, const char *written, size_t wlen)
{
    char where[512];
    px_cs_here(s, where, sizeof(where));
    char *name = strndup(written, wlen);
    if (!name) {
        s->nomem = true;
        return;
    }
    if (s->name) {
        px_cs_problem(s, where, "@include \"%s\": not allowed here", name);
        free(name);
        return;
    }
    px_cs_pos back = s->cur;
    char *path = px_cs_resolve(s->files[back.file], name);
    if (!path) {
        s->nomem = true;
        free(name);
        return;
    }
    px_cs_file(s, path, name, where);
    /* The including line goes on after the included text, on a line of
     * its own. */
    if (s->len && s->text[s->len - 1] != '\n')
        px_cs_emit(s, "\n", 1);
    s->cur = back;
    px_cs_remap(s);
    free(path);
    free(name);
}

static bool px_cs_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || px_cs_digit(c) || c == '-' ||
           c == '_' || c == '*';
}

static void px_cs_scan(px_confsrc *s, const char *buf, size_t n)
{
    size_t i = 0;
    bool bol = true;
    while (i < n && !s->nomem) {
        if (s->state == PX_CS_NORMAL && bol) {
            const char *name;
            size_t name_len;
            size_t d = px_cs_directive(buf + i, n - i, &name, &name_len);
            if (d) {
                px_cs_include(s, name, name_len);
                i += d;
                /* What follows on the line is not at a line start for
                 * libconfig (no second @include there): keep it so. */
                size_t j = i;
                while (j < n && (buf[j] == ' ' || buf[j] == '\t'))
                    j++;
                if (j < n && buf[j] != '\n' && buf[j] != '\r')
                    px_cs_emit(s, "/**/", 4);
                bol = false;
                continue;
            }
        }
        char c = buf[i];
        char next = i + 1 < n ? buf[i + 1] : '\0';
        size_t len = 1;
        switch (s->state) {
        case PX_CS_NORMAL:
            if (c == '"') {
                s->state = PX_CS_STRING;
            } else if (c == '#' || (c == '/' && next == '/')) {
                while (i + len < n && buf[i + len] != '\n')
                    len++;
            } else if (c == '/' && next == '*') {
                s->state = PX_CS_COMMENT;
                len = 2;
            } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '*') {
                while (i + len < n && px_cs_name_char(buf[i + len]))
                    len++;
            } else if (px_cs_digit(c) || c == '+' || c == '-' || c == '.') {
                size_t num = px_cs_number(s, buf + i, n - i);
                len = num ? num : 1;
            }
            break;
        case PX_CS_STRING:
            if (c == '\\' && i + 1 < n)
                len = 2;
            else if (c == '"')
                s->state = PX_CS_NORMAL;
            break;
        case PX_CS_COMMENT:
            if (c == '*' && next == '/') {
                s->state = PX_CS_NORMAL;
                len = 2;
            }
            break;
        }
        px_cs_emit(s, buf + i, len);
        i += len;
        bol = buf[i - 1] == '\n';
    }
}

/* ---- the interface ---------------------------------------------------------- */

static px_confsrc *px_cs_new(void)
{
    px_confsrc *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    px_cs_newline_map(s); /* line 1 */
    px_cs_emit(s, "", 0);
    if (s->nomem) {
        px_confsrc_destroy(s);
        return NULL;
    }
    return s;
}

static px_confsrc *px_cs_done(px_confsrc *s)
{
    if (s->nomem) {
        px_confsrc_destroy(s);
        return NULL;
    }
    return s;
}

px_confsrc *px_confsrc_read_file(const char *path)
{
    px_confsrc *s = px_cs_new();
    if (!s)
        return NULL;
    px_cs_file(s, path, path, NULL);
    return px_cs_done(s);
}

px_confsrc *px_confsrc_from_text(const char *text, const char *name)
{
    px_confsrc *s = px_cs_new();
    if (!s)
        return NULL;
    s->name = strdup(name);
    if (!s->name) {
        px_confsrc_destroy(s);
        return NULL;
    }
    px_cs_scan(s, text, strlen(text));
    return px_cs_done(s);
}

void px_confsrc_destroy(px_confsrc *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        free(s->files[i]);
    for (size_t i = 0; i < s->n_problems; i++)
        free(s->problems[i]);
    free(s->files);
    free(s->problems);
    free(s->text);
    free(s->lines);
    free(s->ints);
    free(s->name);
    free(s);
}

const char *px_confsrc_text(const px_confsrc *s)
{
    return s->text;
}

void px_confsrc_where(const px_confsrc *s, unsigned line, char *buf, size_t len)
{
    if (s->name) {
        snprintf(buf, len, "%s", s->name);
        return;
    }
    if (s->n_files == 0) {
        snprintf(buf, len, "?:%u", line);
        return;
    }
    if (line == 0)
        line = 1;
    if (line > s->n_lines)
        line = (unsigned)s->n_lines;
    const px_cs_pos *p = &s->lines[line - 1];
    snprintf(buf, len, "%s:%u", s->files[p->file], p->line);
}

size_t px_confsrc_problem_count(const px_confsrc *s)
{
    return s->n_problems;
}

const char *px_confsrc_problem(const px_confsrc *s, size_t i)
{
    return i < s->n_problems ? s->problems[i] : NULL;
}

size_t px_confsrc_int_count(const px_confsrc *s)
{
    return s->n_ints;
}

const px_confsrc_int *px_confsrc_int_at(const px_confsrc *s, size_t i)
{
    return i < s->n_ints ? &s->ints[i] : NULL;
}
