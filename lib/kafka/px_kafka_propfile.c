/* px_kafka_propfile.c: the kafka.properties_file reader, a careful line
 * reader over a copy of the text (the properties point into it). */
#include "kafka/px_kafka_propfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PX_PROPFILE_MAX_PROBLEMS = 100 }; /* a binary file is one problem a line */

typedef struct px_pf_problem_t {
    char *text; /* "NAME:LINE: message" */
    unsigned line;
    size_t msg_off; /* where the message starts in text */
} px_pf_problem_t;

struct px_kafka_propfile {
    char *text; /* NUL-terminated copy; keys and values are cut out of it */
    char *name;
    px_kafka_prop *props;
    unsigned *lines;
    size_t n, cap;
    px_pf_problem_t *problems;
    size_t n_problems;
    bool nomem;
};

static void px_pf_problem(px_kafka_propfile *f, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_pf_problem(px_kafka_propfile *f, unsigned line, const char *fmt, ...)
{
    if (f->n_problems >= PX_PROPFILE_MAX_PROBLEMS)
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    px_pf_problem_t *grown = realloc(f->problems, (f->n_problems + 1) * sizeof(*grown));
    if (grown)
        f->problems = grown;
    char *p = NULL;
    int off = snprintf(NULL, 0, "%s:%u: ", f->name, line);
    if (!grown || off < 0 || asprintf(&p, "%s:%u: %s", f->name, line, msg) < 0) {
        f->nomem = true;
        return;
    }
    f->problems[f->n_problems++] =
        (px_pf_problem_t){.text = p, .line = line, .msg_off = (size_t)off};
}

static bool px_pf_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\r';
}

static bool px_pf_key_ok(const char *k)
{
    for (; *k; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* s..end without blanks at either end, NUL-terminated in place. */
static char *px_pf_trim(char *s, char *end)
{
    while (s < end && px_pf_blank(*s))
        s++;
    while (end > s && px_pf_blank(end[-1]))
        end--;
    *end = '\0';
    return s;
}

static void px_pf_add(px_kafka_propfile *f, const char *key, const char *value, unsigned line)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->props[i].key, key) == 0) {
            px_pf_problem(f, line, "%s is set again (first at line %u)", key, f->lines[i]);
            return;
        }
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        px_kafka_prop *p = realloc(f->props, cap * sizeof(*p));
        if (p)
            f->props = p;
        unsigned *l = realloc(f->lines, cap * sizeof(*l));
        if (l)
            f->lines = l;
        if (!p || !l) {
            f->nomem = true;
            return;
        }
        f->cap = cap;
    }
    f->props[f->n] = (px_kafka_prop){.key = key, .value = value};
    f->lines[f->n++] = line;
}

/* One line, s..end (its newline already cut off). */
static void px_pf_line(px_kafka_propfile *f, char *s, char *end, unsigned line)
{
    while (s < end && px_pf_blank(*s))
        s++;
    if (s == end || *s == '#' || *s == '!')
        return;
    if (memchr(s, '\0', (size_t)(end - s))) {
        px_pf_problem(f, line, "a NUL byte: not a text file");
        return;
    }
    char *eq = memchr(s, '=', (size_t)(end - s));
    if (!eq) {
        px_pf_problem(f, line, "expected key=value");
        return;
    }
    char *key = px_pf_trim(s, eq);
    char *value = px_pf_trim(eq + 1, end);
    size_t vlen = strlen(value);
    if (!*key)
        px_pf_problem(f, line, "expected key=value: the key is empty");
    else if (!px_pf_key_ok(key))
        px_pf_problem(f, line, "'%.64s' is no property name (letters, digits, '.', '_', '-')", key);
    else if (vlen && value[vlen - 1] == '\\')
        px_pf_problem(f, line,
                      "%s: a value ending in '\\' continues on the next line in Java's "
                      ".properties, not here: write it on one line",
                      key);
    else
        px_pf_add(f, key, value, line);
}

px_kafka_propfile *px_kafka_propfile_parse(const char *text, size_t len, const char *name)
{
    px_kafka_propfile *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->text = malloc(len + 1);
    f->name = strdup(name ? name : "-");
    if (!f->text || !f->name) {
        px_kafka_propfile_destroy(f);
        return NULL;
    }
    if (len)
        memcpy(f->text, text, len);
    f->text[len] = '\0';
    char *s = f->text, *end = f->text + len;
    for (unsigned line = 1; s < end; line++) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *eol = nl ? nl : end;
        px_pf_line(f, s, eol, line);
        s = nl ? nl + 1 : end;
    }
    if (f->nomem) {
        px_kafka_propfile_destroy(f);
        return NULL;
    }
    return f;
}

static px_err px_pf_slurp(int fd, const char *path, char **out, size_t *len, char *why,
                          size_t whylen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        px_why(why, whylen, "%s: %s", path, strerror(errno));
        return PX_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        px_why(why, whylen, "%s: not a regular file", path);
        return PX_ERR_CONFIG;
    }
    if (st.st_size > PX_KAFKA_PROPFILE_MAX_BYTES) {
        px_why(why, whylen, "%s: larger than %d bytes", path, PX_KAFKA_PROPFILE_MAX_BYTES);
        return PX_ERR_CONFIG;
    }
    /* One byte more than allowed: a file that grew since fstat is caught. */
    char *buf = malloc(PX_KAFKA_PROPFILE_MAX_BYTES + 1);
    if (!buf)
        return PX_ERR_NOMEM;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, PX_KAFKA_PROPFILE_MAX_BYTES + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            px_why(why, whylen, "%s: %s", path, strerror(errno));
            free(buf);
            return PX_ERR_IO;
        }
        if (r == 0 || (got += (size_t)r) > PX_KAFKA_PROPFILE_MAX_BYTES)
            break;
    }
    if (got > PX_KAFKA_PROPFILE_MAX_BYTES) {
        px_why(why, whylen, "%s: larger than %d bytes", path, PX_KAFKA_PROPFILE_MAX_BYTES);
        free(buf);
        return PX_ERR_CONFIG;
    }
    *out = buf;
    *len = got;
    return PX_OK;
}

px_err px_kafka_propfile_read(const char *path, px_kafka_propfile **out, char *why, size_t whylen)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO put in its place must not hang --check. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        px_why(why, whylen, "%s: %s", path, strerror(errno));
        return PX_ERR_IO;
    }
    char *text = NULL;
    size_t len = 0;
    px_err err = px_pf_slurp(fd, path, &text, &len, why, whylen);
    close(fd);
    if (err != PX_OK)
        return err;
    *out = px_kafka_propfile_parse(text, len, path);
    free(text);
    return *out ? PX_OK : PX_ERR_NOMEM;
}

bool px_kafka_propfile_exposed(const char *path, char *why, size_t whylen)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || (st.st_mode & 077) == 0)
        return false;
    px_why(why, whylen,
           "kafka.properties_file %s is open to %s (mode %04o): it holds Kafka credentials; "
           "make it the owner's alone (chmod 600)",
           path, (st.st_mode & 007) ? "every user" : "its group", (unsigned)(st.st_mode & 07777));
    return true;
}

void px_kafka_propfile_destroy(px_kafka_propfile *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_problems; i++)
        free(f->problems[i].text);
    free(f->problems);
    free(f->props);
    free(f->lines);
    free(f->name);
    free(f->text);
    free(f);
}

const px_kafka_prop *px_kafka_propfile_props(const px_kafka_propfile *f, size_t *n)
{
    *n = f->n;
    return f->props;
}

unsigned px_kafka_propfile_line(const px_kafka_propfile *f, size_t i)
{
    return i < f->n ? f->lines[i] : 0;
}

size_t px_kafka_propfile_problem_count(const px_kafka_propfile *f)
{
    return f->n_problems;
}

const char *px_kafka_propfile_problem(const px_kafka_propfile *f, size_t i)
{
    return i < f->n_problems ? f->problems[i].text : NULL;
}

unsigned px_kafka_propfile_problem_line(const px_kafka_propfile *f, size_t i)
{
    return i < f->n_problems ? f->problems[i].line : 0;
}

const char *px_kafka_propfile_problem_message(const px_kafka_propfile *f, size_t i)
{
    return i < f->n_problems ? f->problems[i].text + f->problems[i].msg_off : NULL;
}
