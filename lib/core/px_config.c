/* px_config.c: the settings table on top of libconfig.
 *
 * Three libconfig trees: `main` holds what the file and --set gave,
 * `defs` holds the table defaults (parsed once at creation), and a
 * temporary one parses each --set value. Settings copied from --set carry
 * their override number in libconfig's per-setting hook so that problems
 * can point at "--set:N" instead of a file line.
 *
 * libconfig reads text px_confsrc has prepared: the file with its
 * @includes expanded (libconfig's lines map back to the files through
 * it), and every integer literal with the value libconfig stores, so that
 * one written out of libconfig's range is a problem at its setting
 * instead of a value cut to its low 32 bits. */
#include "core/px_config.h"
#include "core/px_buf.h"
#include "core/px_net.h"
#include "px_confsrc.h"

#include <errno.h>
#include <inttypes.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PX_DEFAULTS_WHERE "<defaults>:0"

typedef struct px_strv {
    char **v;
    size_t n, cap;
} px_strv;

static void px_strv_clear(px_strv *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

typedef struct px_map_cache {
    struct px_map_cache *next;
    char *path;
    unsigned gen;
    size_t n, cap;
    char **keys;
    char **values;
} px_map_cache;

/* An integer literal libconfig does not store as written: where, and the
 * value it stores (validation does not call that value out of range). */
typedef struct px_badint {
    char *where;
    long long stored;
} px_badint;

struct px_config {
    const px_conf_item *table;
    config_t main;
    config_t defs;
    char *file;      /* loaded file, NULL if none */
    px_confsrc *src; /* its text as libconfig read it, NULL if none */
    px_badint *badints;
    size_t n_badints, cap_badints;
    /* Problems in three lists so that validating again replaces only
     * what validation found: reading (file, --set), validation, and
     * those the program added. px_config_problem() indexes them in order. */
    px_strv read_problems, valid_problems, added_problems;
    px_strv *sink;      /* where px_problem_add() goes */
    px_map_cache *maps; /* kept until destroy: returned strings stay valid */
    unsigned gen;       /* bumped whenever `main` changes */
    unsigned n_sets;
};

/* ---- problems ---------------------------------------------------------- */

static void px_problem_addv(px_config *c, const char *where, const char *fmt, va_list ap)
{
    char *msg = NULL, *line = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    if (asprintf(&line, "%s: %s", where, msg) < 0) {
        free(msg);
        return;
    }
    free(msg);
    px_strv *l = c->sink;
    if (PX_ARRAY_RESERVE(l->v, l->cap, l->n + 1, 8) != PX_OK) {
        free(line);
        return;
    }
    l->v[l->n++] = line;
}

static void px_problem_add(px_config *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_problem_add(px_config *c, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    px_problem_addv(c, where, fmt, ap);
    va_end(ap);
}

/* Where the whole configuration "is": line 1 of the file, or the defaults. */
static void px_where_top(const px_config *c, char *buf, size_t len)
{
    if (c->file)
        px_why(buf, len, "%s:1", c->file);
    else
        px_why(buf, len, "%s", PX_DEFAULTS_WHERE);
}

static void px_where(const px_config *c, const config_setting_t *s, char *buf, size_t len)
{
    void *hook = s ? config_setting_get_hook(s) : NULL;
    if (hook)
        px_why(buf, len, "--set:%u", (unsigned)(uintptr_t)hook);
    else if (s && c->src && config_setting_source_line(s))
        px_confsrc_where(c->src, config_setting_source_line(s), buf, len);
    else
        px_where_top(c, buf, len);
}

/* Copies px_confsrc's problems ("WHERE: message") as they are. */
static void px_problems_from(px_config *c, const px_confsrc *src)
{
    for (size_t i = 0; i < px_confsrc_problem_count(src); i++) {
        const char *p = px_confsrc_problem(src, i);
        const char *sep = strstr(p, ": ");
        char where[512];
        px_why(where, sizeof(where), "%.*s", sep ? (int)(sep - p) : 0, p);
        px_problem_add(c, where, "%s", sep ? sep + 2 : p);
    }
}

static void px_problem_at(px_config *c, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void px_problem_at(px_config *c, const config_setting_t *s, const char *fmt, ...)
{
    char where[512];
    px_where(c, s, where, sizeof(where));
    va_list ap;
    va_start(ap, fmt);
    px_problem_addv(c, where, fmt, ap);
    va_end(ap);
}

/* ---- paths --------------------------------------------------------------- */

static bool px_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') || s[0] == '*'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '*';
        if (!ok)
            return false;
    }
    return true;
}

/* One path step: a member name or a list index. Accepts "a.b", "a.[0].b"
 * and "a[0].b". Returns false on a malformed path. */
typedef struct px_step {
    const char *name; /* NULL for an index */
    size_t len;
    unsigned long index;
} px_step;

static bool px_next_step(const char **pp, px_step *st)
{
    const char *p = *pp;
    if (*p == '.')
        p++;
    if (*p == '[') {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p + 1, &end, 10);
        if (end == p + 1 || *end != ']' || errno)
            return false;
        st->name = NULL;
        st->index = v;
        *pp = end + 1;
        return **pp == '\0' || **pp == '.' || **pp == '[';
    }
    size_t n = strcspn(p, ".[");
    if (!px_name_ok(p, n))
        return false;
    st->name = p;
    st->len = n;
    *pp = p + n;
    return true;
}

static config_setting_t *px_step_into(config_setting_t *cur, const px_step *st)
{
    if (st->name) {
        if (config_setting_type(cur) != CONFIG_TYPE_GROUP)
            return NULL;
        char name[256];
        if (st->len >= sizeof(name))
            return NULL;
        memcpy(name, st->name, st->len);
        name[st->len] = '\0';
        return config_setting_get_member(cur, name);
    }
    if (!config_setting_is_aggregate(cur) || config_setting_type(cur) == CONFIG_TYPE_GROUP)
        return NULL;
    if (st->index >= (unsigned long)config_setting_length(cur))
        return NULL;
    return config_setting_get_elem(cur, (unsigned)st->index);
}

/* Finds path under root; *deepest (if given) gets the last setting found
 * on the way, for locating problems about missing members. */
static config_setting_t *px_find(config_setting_t *root, const char *path,
                                 config_setting_t **deepest)
{
    config_setting_t *cur = root;
    const char *p = path;
    if (deepest)
        *deepest = NULL;
    while (cur && *p) {
        px_step st;
        if (!px_next_step(&p, &st))
            return NULL;
        cur = px_step_into(cur, &st);
        if (cur && deepest)
            *deepest = cur;
    }
    return cur;
}

/* The rows of a table in order, with each `include` row replaced by the
 * rows of the table it names. */
typedef struct px_rows {
    const px_conf_item *at[PX_CONF_INCLUDE_DEPTH];
    int depth;
} px_rows;

static px_rows px_rows_of(const px_conf_item *t)
{
    return (px_rows){.at = {t}, .depth = t ? 1 : 0};
}

static const px_conf_item *px_rows_next(px_rows *r)
{
    while (r->depth > 0) {
        const px_conf_item *it = r->at[r->depth - 1];
        if (!it->path && !it->include) {
            r->depth--;
            continue;
        }
        r->at[r->depth - 1] = it + 1;
        if (it->path)
            return it;
        if (r->depth < PX_CONF_INCLUDE_DEPTH)
            r->at[r->depth++] = it->include;
    }
    return NULL;
}

static const px_conf_item *px_table_find(const px_conf_item *t, const char *path)
{
    px_rows r = px_rows_of(t);
    for (const px_conf_item *it; (it = px_rows_next(&r));)
        if (strcmp(it->path, path) == 0)
            return it;
    return NULL;
}

/* True if some table path lies below `path` (so `path` is a group). */
static bool px_table_has_below(const px_conf_item *t, const char *path)
{
    size_t n = strlen(path);
    px_rows r = px_rows_of(t);
    for (const px_conf_item *it; (it = px_rows_next(&r));)
        if (strncmp(it->path, path, n) == 0 && it->path[n] == '.')
            return true;
    return false;
}

/* ---- copying settings -------------------------------------------------- */

static config_setting_t *px_copy(config_setting_t *parent, const char *name,
                                 const config_setting_t *src, unsigned set_no)
{
    int type = config_setting_type(src);
    config_setting_t *dst = config_setting_add(parent, name, type);
    if (!dst)
        return NULL;
    if (set_no)
        config_setting_set_hook(dst, (void *)(uintptr_t)set_no);
    config_setting_set_format(dst, config_setting_get_format(src));
    switch (type) {
    case CONFIG_TYPE_INT:
        config_setting_set_int(dst, config_setting_get_int(src));
        break;
    case CONFIG_TYPE_INT64:
        config_setting_set_int64(dst, config_setting_get_int64(src));
        break;
    case CONFIG_TYPE_FLOAT:
        config_setting_set_float(dst, config_setting_get_float(src));
        break;
    case CONFIG_TYPE_BOOL:
        config_setting_set_bool(dst, config_setting_get_bool(src));
        break;
    case CONFIG_TYPE_STRING:
        config_setting_set_string(dst, config_setting_get_string(src));
        break;
    default: {
        bool group = type == CONFIG_TYPE_GROUP;
        for (int i = 0; i < config_setting_length(src); i++) {
            const config_setting_t *e = config_setting_get_elem(src, (unsigned)i);
            if (!px_copy(dst, group ? config_setting_name(e) : NULL, e, set_no))
                return NULL;
        }
    }
    }
    return dst;
}

/* Parses one libconfig value into tmp; returns the setting or NULL with
 * libconfig's message in tmp, or problems in *src (which the caller
 * destroys; it also holds the value's integer literals). */
static config_setting_t *px_parse_value(config_t *tmp, const char *value, const char *where,
                                        px_confsrc **src)
{
    *src = NULL;
    char *text = NULL;
    if (asprintf(&text, "v = %s;", value) < 0)
        return NULL;
    /* scanned first: libconfig must not act on an @include in it */
    *src = px_confsrc_from_text(text, where);
    int ok = *src && px_confsrc_problem_count(*src) == 0 && config_read_string(tmp, text);
    free(text);
    if (!ok)
        return NULL;
    config_setting_t *root = config_root_setting(tmp);
    if (config_setting_length(root) != 1)
        return NULL;
    return config_setting_get_member(root, "v");
}

/* Puts a copy of value at path under root, creating groups on the way and
 * replacing what was there. Returns NULL or the reason it could not. */
static const char *px_put(config_setting_t *root, const char *path, const config_setting_t *value,
                          unsigned set_no)
{
    config_setting_t *cur = root;
    const char *p = path;
    for (;;) {
        px_step st;
        if (!px_next_step(&p, &st))
            return "invalid setting path";
        bool last = *p == '\0';
        if (!st.name) {
            if (last)
                return "a list element cannot be replaced; set its members";
            cur = px_step_into(cur, &st);
            if (!cur)
                return "no such list element";
            continue;
        }
        if (config_setting_type(cur) != CONFIG_TYPE_GROUP)
            return "a parent of the setting is not a group";
        char name[256];
        if (st.len >= sizeof(name))
            return "setting name too long";
        memcpy(name, st.name, st.len);
        name[st.len] = '\0';
        config_setting_t *next = config_setting_get_member(cur, name);
        if (last) {
            if (next)
                config_setting_remove(cur, name);
            return px_copy(cur, name, value, set_no) ? NULL : "out of memory";
        }
        if (!next) {
            next = config_setting_add(cur, name, CONFIG_TYPE_GROUP);
            if (!next)
                return "out of memory";
            if (set_no)
                config_setting_set_hook(next, (void *)(uintptr_t)set_no);
        }
        cur = next;
    }
}

/* ---- integer literals ---------------------------------------------------- */

typedef struct px_intref {
    const config_setting_t *s;
    char path[256];
} px_intref;

typedef struct px_intv {
    px_intref *v;
    size_t n, cap;
    bool nomem;
} px_intv;

/* The integer settings under s, in the order of the text. */
static void px_collect_ints(const config_setting_t *s, const char *path, px_intv *out)
{
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        if (PX_ARRAY_RESERVE(out->v, out->cap, out->n + 1, 16) != PX_OK) {
            out->nomem = true;
            return;
        }
        out->v[out->n].s = s;
        px_why(out->v[out->n++].path, sizeof(out->v->path), "%s", path);
        return;
    }
    if (!config_setting_is_aggregate(s))
        return;
    bool group = t == CONFIG_TYPE_GROUP;
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char sub[512];
        if (group)
            px_why(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", config_setting_name(e));
        else
            px_why(sub, sizeof(sub), "%s[%d]", path, i);
        px_collect_ints(e, sub, out);
    }
}

/* True if the literals are the integer settings, one for one. */
static bool px_ints_paired(const px_confsrc *src, const px_intv *iv)
{
    if (iv->nomem || iv->n != px_confsrc_int_count(src))
        return false;
    for (size_t i = 0; i < iv->n; i++) {
        const px_confsrc_int *lit = px_confsrc_int_at(src, i);
        int t = config_setting_type(iv->v[i].s);
        if ((t == CONFIG_TYPE_INT64) != lit->wide ||
            config_setting_get_int64(iv->v[i].s) != lit->stored)
            return false;
    }
    return true;
}

static void px_badint_add(px_config *c, const char *where, long long stored)
{
    if (PX_ARRAY_RESERVE(c->badints, c->cap_badints, c->n_badints + 1, 4) != PX_OK)
        return;
    px_badint *b = &c->badints[c->n_badints];
    if ((b->where = strdup(where))) {
        b->stored = stored;
        c->n_badints++;
    }
}

/* Whether s holds a value libconfig did not read as written. */
static bool px_badint_at(const px_config *c, const config_setting_t *s)
{
    char where[512];
    px_where(c, s, where, sizeof(where));
    long long v = config_setting_get_int64(s);
    for (size_t i = 0; i < c->n_badints; i++)
        if (c->badints[i].stored == v && strcmp(c->badints[i].where, where) == 0)
            return true;
    return false;
}

/* Every integer literal under top (parsed from src) that libconfig did not
 * store as written is a problem, named by its setting's path (prefix:
 * top's path). */
static void px_check_ints(px_config *c, const px_confsrc *src, const config_setting_t *top,
                          const char *prefix)
{
    bool any = false;
    for (size_t i = 0; i < px_confsrc_int_count(src); i++)
        any = any || !px_confsrc_int_at(src, i)->fits;
    if (!any)
        return;
    px_intv iv = {0};
    px_collect_ints(top, prefix, &iv);
    bool paired = px_ints_paired(src, &iv);
    for (size_t i = 0; i < px_confsrc_int_count(src); i++) {
        const px_confsrc_int *lit = px_confsrc_int_at(src, i);
        if (lit->fits)
            continue;
        char where[512], hint[160];
        px_confsrc_where(src, lit->line, where, sizeof(where));
        px_badint_add(c, where, lit->stored);
        if (lit->wide || !lit->fits_wide)
            px_why(hint, sizeof(hint), "%s", "a 64-bit integer");
        else
            px_why(hint, sizeof(hint),
                   "an integer without L (-2147483648 to 2147483647); write %sL for a 64-bit one",
                   lit->text);
        if (paired)
            px_problem_add(c, where, "%s: %s is out of range for %s", iv.v[i].path, lit->text,
                           hint);
        else
            px_problem_add(c, where, "%s is out of range for %s", lit->text, hint);
    }
    free(iv.v);
}

/* ---- life cycle ---------------------------------------------------------- */

static void px_load_defaults(px_config *c)
{
    px_rows r = px_rows_of(c->table);
    for (const px_conf_item *it; (it = px_rows_next(&r));) {
        if (!it->def)
            continue;
        config_t tmp;
        config_init(&tmp);
        px_confsrc *src;
        config_setting_t *v = px_parse_value(&tmp, it->def, PX_DEFAULTS_WHERE, &src);
        const char *why = v ? NULL : "cannot parse the default";
        for (size_t i = 0; !why && src && i < px_confsrc_int_count(src); i++)
            if (!px_confsrc_int_at(src, i)->fits)
                why = "a whole number in it is out of libconfig's range (add L?)";
        px_confsrc_destroy(src);
        if (!why)
            why = px_put(config_root_setting(&c->defs), it->path, v, 0);
        if (why)
            px_problem_add(c, PX_DEFAULTS_WHERE, "bad default for '%s': %s", it->path, why);
        config_destroy(&tmp);
    }
}

px_config *px_config_create(const px_conf_item *table)
{
    px_config *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->table = table;
    c->sink = &c->read_problems;
    config_init(&c->main);
    config_init(&c->defs);
    px_load_defaults(c);
    return c;
}

void px_config_destroy(px_config *c)
{
    if (!c)
        return;
    config_destroy(&c->main);
    config_destroy(&c->defs);
    px_confsrc_destroy(c->src);
    for (size_t i = 0; i < c->n_badints; i++)
        free(c->badints[i].where);
    free(c->badints);
    px_strv_clear(&c->read_problems);
    px_strv_clear(&c->valid_problems);
    px_strv_clear(&c->added_problems);
    while (c->maps) {
        px_map_cache *m = c->maps;
        c->maps = m->next;
        for (size_t i = 0; i < m->n; i++) {
            free(m->keys[i]);
            free(m->values[i]);
        }
        free(m->keys);
        free(m->values);
        free(m->path);
        free(m);
    }
    free(c->file);
    free(c);
}

px_err px_config_load_file(px_config *c, const char *path)
{
    free(c->file);
    c->file = strdup(path);
    if (!c->file)
        return PX_ERR_NOMEM;
    c->gen++;
    config_destroy(&c->main);
    config_init(&c->main);
    /* px_confsrc reads the file and its includes; libconfig parses the
     * text, and includes nothing itself (there are none left). */
    px_confsrc_destroy(c->src);
    c->src = px_confsrc_read_file(path);
    if (!c->src)
        return PX_ERR_NOMEM;
    if (px_confsrc_problem_count(c->src)) {
        px_problems_from(c, c->src);
        return PX_ERR_CONFIG;
    }
    if (!config_read_string(&c->main, px_confsrc_text(c->src))) {
        char where[512];
        px_confsrc_where(c->src, (unsigned)config_error_line(&c->main), where, sizeof(where));
        px_problem_add(c, where, "%s", config_error_text(&c->main));
        config_destroy(&c->main);
        config_init(&c->main);
        return PX_ERR_CONFIG;
    }
    size_t before = px_config_problem_count(c);
    px_check_ints(c, c->src, config_root_setting(&c->main), "");
    return px_config_problem_count(c) > before ? PX_ERR_CONFIG : PX_OK;
}

px_err px_config_set(px_config *c, const char *assignment)
{
    unsigned n = ++c->n_sets;
    char where[32];
    px_why(where, sizeof(where), "--set:%u", n);
    const char *eq = strchr(assignment, '=');
    if (!eq) {
        px_problem_add(c, where, "expected PATH=VALUE, got '%s'", assignment);
        return PX_ERR_CONFIG;
    }
    /* Trim blanks around the path so "a.b = 1" works from a shell too. */
    const char *b = assignment, *e = eq;
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    char *path = strndup(b, (size_t)(e - b));
    if (!path)
        return PX_ERR_NOMEM;
    config_t tmp;
    config_init(&tmp);
    px_err err = PX_OK;
    px_confsrc *src;
    config_setting_t *v = px_parse_value(&tmp, eq + 1, where, &src);
    if (!src) {
        err = PX_ERR_NOMEM;
    } else if (px_confsrc_problem_count(src)) {
        px_problems_from(c, src);
        err = PX_ERR_CONFIG;
    } else if (!v) {
        px_problem_add(c, where, "cannot parse value '%s' for '%s': %s", eq + 1, path,
                       config_error_text(&tmp) ? config_error_text(&tmp)
                                               : "expected one libconfig value");
        err = PX_ERR_CONFIG;
    } else {
        size_t before = px_config_problem_count(c);
        px_check_ints(c, src, v, path);
        if (px_config_problem_count(c) > before)
            err = PX_ERR_CONFIG;
        const char *why = px_put(config_root_setting(&c->main), path, v, n);
        if (why) {
            px_problem_add(c, where, "cannot set '%s': %s", path, why);
            err = PX_ERR_CONFIG;
        }
    }
    px_confsrc_destroy(src);
    c->gen++;
    config_destroy(&tmp);
    free(path);
    return err;
}

/* ---- validation ---------------------------------------------------------- */

static const char *px_type_word(px_conf_type t)
{
    switch (t) {
    case PX_CONF_STRING:
        return "a string";
    case PX_CONF_INT:
        return "an integer";
    case PX_CONF_BOOL:
        return "a boolean (true or false)";
    case PX_CONF_STRING_ARRAY:
        return "an array of strings [\"...\", ...]";
    case PX_CONF_LIST:
        return "a list of groups ( { ... }, ... )";
    case PX_CONF_MAP:
        return "a group { name = value; ... }";
    }
    return "?";
}

static void px_check_string(px_config *c, const config_setting_t *s, const px_conf_item *it,
                            const char *disp)
{
    const char *v = config_setting_get_string(s);
    if (it->choices) {
        bool found = false;
        char list[512] = "";
        size_t used = 0;
        for (const char *const *ch = it->choices; *ch; ch++) {
            found = found || strcmp(*ch, v) == 0;
            int k = snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", *ch);
            if (k > 0 && (size_t)k < sizeof(list) - used)
                used += (size_t)k;
        }
        if (!found) {
            px_problem_at(c, s, "'%s' must be one of %s (not \"%s\")", disp, list, v);
            return;
        }
    }
    char why[256] = "";
    if (it->check && !it->check(v, why, sizeof(why)))
        px_problem_at(c, s, "invalid '%s' \"%s\": %s", disp, v, why[0] ? why : "rejected");
}

static void px_walk(px_config *c, const config_setting_t *g, const px_conf_item *table,
                    const char *rel, const char *disp);

static void px_check_list(px_config *c, const config_setting_t *s, const px_conf_item *it,
                          const char *disp)
{
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char edisp[512];
        px_why(edisp, sizeof(edisp), "%s[%d]", disp, i);
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            px_problem_at(c, e, "'%s' must be a group { ... }", edisp);
            continue;
        }
        px_walk(c, e, it->children, NULL, edisp);
        px_rows r = px_rows_of(it->children);
        for (const px_conf_item *ch; (ch = px_rows_next(&r));)
            if ((ch->flags & PX_CONF_REQUIRED) && !px_find((config_setting_t *)e, ch->path, NULL))
                px_problem_at(c, e, "'%s' lacks required member '%s'", edisp, ch->path);
    }
}

static void px_check_map(px_config *c, const config_setting_t *s, const char *disp)
{
    for (int i = 0; i < config_setting_length(s); i++) {
        const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
        char edisp[512];
        px_why(edisp, sizeof(edisp), "%s.%s", disp, config_setting_name(e));
        int t = config_setting_type(e);
        if (t == CONFIG_TYPE_GROUP)
            px_check_map(c, e, edisp);
        else if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST)
            px_problem_at(c, e, "'%s' must be a string, number or boolean", edisp);
    }
}

static void px_check_item(px_config *c, const config_setting_t *s, const px_conf_item *it,
                          const char *disp)
{
    int t = config_setting_type(s);
    bool ok = false;
    switch (it->type) {
    case PX_CONF_STRING:
        ok = t == CONFIG_TYPE_STRING;
        break;
    case PX_CONF_INT:
        ok = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
        break;
    case PX_CONF_BOOL:
        ok = t == CONFIG_TYPE_BOOL;
        break;
    case PX_CONF_STRING_ARRAY:
        ok = t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
        for (int i = 0; ok && i < config_setting_length(s); i++)
            ok = config_setting_type(config_setting_get_elem(s, (unsigned)i)) == CONFIG_TYPE_STRING;
        break;
    case PX_CONF_LIST:
        /* `[]` is how people write an empty list too. */
        ok = t == CONFIG_TYPE_LIST || (t == CONFIG_TYPE_ARRAY && config_setting_length(s) == 0);
        break;
    case PX_CONF_MAP:
        ok = t == CONFIG_TYPE_GROUP;
        break;
    }
    if (!ok) {
        px_problem_at(c, s, "'%s' must be %s", disp, px_type_word(it->type));
        return;
    }
    switch (it->type) {
    case PX_CONF_STRING:
        px_check_string(c, s, it, disp);
        break;
    case PX_CONF_INT: {
        long long v = config_setting_get_int64(s);
        /* a value libconfig cut is reported as written, not as cut */
        if ((it->min || it->max) && (v < it->min || v > it->max) && !px_badint_at(c, s))
            px_problem_at(c, s, "'%s' must be between %" PRId64 " and %" PRId64 " (not %lld)", disp,
                          it->min, it->max, v);
        break;
    }
    case PX_CONF_STRING_ARRAY:
        for (int i = 0; i < config_setting_length(s); i++)
            px_check_string(c, config_setting_get_elem(s, (unsigned)i), it, disp);
        break;
    case PX_CONF_LIST:
        px_check_list(c, s, it, disp);
        break;
    case PX_CONF_MAP:
        px_check_map(c, s, disp);
        break;
    case PX_CONF_BOOL:
        break;
    }
}

/* Checks each member of group g. rel: g's path relative to `table` (NULL
 * at the table's top); disp: g's path as shown to the user. */
static void px_walk(px_config *c, const config_setting_t *g, const px_conf_item *table,
                    const char *rel, const char *disp)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
        const char *name = config_setting_name(s);
        char path[512], spath[512];
        px_why(path, sizeof(path), "%s%s%s", rel ? rel : "", rel ? "." : "", name);
        px_why(spath, sizeof(spath), "%s%s%s", disp ? disp : "", disp ? "." : "", name);
        const px_conf_item *it = px_table_find(table, path);
        if (it)
            px_check_item(c, s, it, spath);
        else if (!px_table_has_below(table, path))
            px_problem_at(c, s, "unknown setting '%s'", spath);
        else if (config_setting_type(s) != CONFIG_TYPE_GROUP)
            px_problem_at(c, s, "'%s' must be a group { ... }", spath);
        else
            px_walk(c, s, table, path, spath);
    }
}

px_err px_config_validate(px_config *c)
{
    px_strv_clear(&c->valid_problems);
    c->sink = &c->valid_problems;
    px_walk(c, config_root_setting(&c->main), c->table, NULL, NULL);
    char where[512];
    px_where_top(c, where, sizeof(where));
    px_rows r = px_rows_of(c->table);
    for (const px_conf_item *it; (it = px_rows_next(&r));)
        if ((it->flags & PX_CONF_REQUIRED) &&
            !px_find(config_root_setting(&c->main), it->path, NULL))
            px_problem_add(c, where, "missing required setting '%s'", it->path);
    c->sink = &c->read_problems;
    return px_config_problem_count(c) ? PX_ERR_CONFIG : PX_OK;
}

size_t px_config_problem_count(const px_config *c)
{
    return c->read_problems.n + c->valid_problems.n + c->added_problems.n;
}

const char *px_config_problem(const px_config *c, size_t i)
{
    const px_strv *lists[] = {&c->read_problems, &c->valid_problems, &c->added_problems};
    for (size_t k = 0; k < 3; k++) {
        if (i < lists[k]->n)
            return lists[k]->v[i];
        i -= lists[k]->n;
    }
    return NULL;
}

/* The program's own problems go to their own list (listed after the
 * ones found reading and validating). */
static void px_added_problemv(px_config *c, const char *where, const char *fmt, va_list ap)
{
    c->sink = &c->added_problems;
    px_problem_addv(c, where, fmt, ap);
    c->sink = &c->read_problems;
}

void px_config_add_problem(px_config *c, const char *path, const char *fmt, ...)
{
    config_setting_t *deepest = NULL;
    config_setting_t *s = px_find(config_root_setting(&c->main), path, &deepest);
    char where[512];
    px_where(c, s ? s : deepest, where, sizeof(where));
    va_list ap;
    va_start(ap, fmt);
    px_added_problemv(c, where, fmt, ap);
    va_end(ap);
}

void px_config_add_problem_where(px_config *c, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    px_added_problemv(c, where, fmt, ap);
    va_end(ap);
}

/* ---- accessors ----------------------------------------------------------- */

static config_setting_t *px_get(const px_config *c, const char *path)
{
    config_setting_t *s = px_find(config_root_setting(&c->main), path, NULL);
    return s ? s : px_find(config_root_setting(&c->defs), path, NULL);
}

bool px_config_is_set(const px_config *c, const char *path)
{
    return px_find(config_root_setting(&c->main), path, NULL) != NULL;
}

const char *px_config_string(const px_config *c, const char *path)
{
    const config_setting_t *s = px_get(c, path);
    return s && config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
}

int64_t px_config_int(const px_config *c, const char *path)
{
    const config_setting_t *s = px_get(c, path);
    if (!s ||
        (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64))
        return 0;
    return config_setting_get_int64(s);
}

bool px_config_bool(const px_config *c, const char *path)
{
    const config_setting_t *s = px_get(c, path);
    return s && config_setting_type(s) == CONFIG_TYPE_BOOL && config_setting_get_bool(s);
}

static const config_setting_t *px_get_seq(const px_config *c, const char *path)
{
    const config_setting_t *s = px_get(c, path);
    if (!s ||
        (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST))
        return NULL;
    return s;
}

size_t px_config_array_len(const px_config *c, const char *path)
{
    const config_setting_t *s = px_get_seq(c, path);
    return s ? (size_t)config_setting_length(s) : 0;
}

const char *px_config_array_string(const px_config *c, const char *path, size_t i)
{
    const config_setting_t *s = px_get_seq(c, path);
    if (!s || i >= (size_t)config_setting_length(s))
        return NULL;
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    return config_setting_type(e) == CONFIG_TYPE_STRING ? config_setting_get_string(e) : NULL;
}

size_t px_config_list_len(const px_config *c, const char *path)
{
    return px_config_array_len(c, path);
}

const char *px_config_list_string(const px_config *c, const char *path, size_t i,
                                  const char *member)
{
    const config_setting_t *s = px_get_seq(c, path);
    if (!s || i >= (size_t)config_setting_length(s))
        return NULL;
    const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
    if (config_setting_type(e) != CONFIG_TYPE_GROUP)
        return NULL;
    const config_setting_t *m = config_setting_get_member(e, member);
    return m && config_setting_type(m) == CONFIG_TYPE_STRING ? config_setting_get_string(m) : NULL;
}

/* ---- maps ---------------------------------------------------------------- */

static bool px_map_push(px_map_cache *m, char *key, char *value)
{
    if (!key || !value)
        goto fail;
    /* two parallel arrays that grow alike: one capacity for both */
    size_t kcap = m->cap, vcap = m->cap;
    if (PX_ARRAY_RESERVE(m->keys, kcap, m->n + 1, 8) != PX_OK ||
        PX_ARRAY_RESERVE(m->values, vcap, m->n + 1, 8) != PX_OK)
        goto fail;
    m->cap = kcap;
    m->keys[m->n] = key;
    m->values[m->n++] = value;
    return true;
fail:
    free(key);
    free(value);
    return false;
}

static char *px_render(const config_setting_t *s)
{
    char *out = NULL;
    int r = -1;
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_STRING:
        return strdup(config_setting_get_string(s));
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        r = asprintf(&out, "%lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        r = asprintf(&out, "%.17g", config_setting_get_float(s));
        break;
    case CONFIG_TYPE_BOOL:
        return strdup(config_setting_get_bool(s) ? "true" : "false");
    default:
        return NULL;
    }
    return r < 0 ? NULL : out;
}

static void px_map_flatten(px_map_cache *m, const config_setting_t *g, const char *prefix)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *e = config_setting_get_elem(g, (unsigned)i);
        char *key = NULL;
        if (asprintf(&key, "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
                     config_setting_name(e)) < 0)
            continue;
        if (config_setting_type(e) == CONFIG_TYPE_GROUP) {
            px_map_flatten(m, e, key);
            free(key);
        } else if (config_setting_is_scalar(e)) {
            px_map_push(m, key, px_render(e));
        } else {
            free(key); /* validation reports it */
        }
    }
}

/* Flattened map, built on first use. The cache lives in the config (the
 * accessors are const for callers but not thread-safe). */
static const px_map_cache *px_map(const px_config *cc, const char *path)
{
    px_config *c = (px_config *)cc;
    for (px_map_cache *m = c->maps; m; m = m->next)
        if (m->gen == c->gen && strcmp(m->path, path) == 0)
            return m;
    px_map_cache *m = calloc(1, sizeof(*m));
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return NULL;
    }
    m->gen = c->gen;
    const config_setting_t *g = px_get(c, path);
    if (g && config_setting_type(g) == CONFIG_TYPE_GROUP)
        px_map_flatten(m, g, NULL);
    m->next = c->maps;
    c->maps = m;
    return m;
}

size_t px_config_map_len(const px_config *c, const char *path)
{
    const px_map_cache *m = px_map(c, path);
    return m ? m->n : 0;
}

const char *px_config_map_key(const px_config *c, const char *path, size_t i)
{
    const px_map_cache *m = px_map(c, path);
    return m && i < m->n ? m->keys[i] : NULL;
}

const char *px_config_map_value(const px_config *c, const char *path, size_t i)
{
    const px_map_cache *m = px_map(c, path);
    return m && i < m->n ? m->values[i] : NULL;
}

px_err px_config_map_load(const px_config *c, const char *path, px_conf_kv **out, size_t *n)
{
    size_t len = px_config_map_len(c, path);
    px_conf_kv *kv = calloc(len ? len : 1, sizeof(*kv));
    if (!kv)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < len; i++) {
        kv[i].key = px_config_map_key(c, path, i);
        kv[i].value = px_config_map_value(c, path, i);
        if (!kv[i].key || !kv[i].value) {
            free(kv);
            return PX_ERR_NOMEM;
        }
    }
    *out = kv;
    *n = len;
    return PX_OK;
}

/* ---- shared fragments -------------------------------------------------------- */

static const char *const px_conf_log_levels[] = {"error", "warning", "info", "debug", NULL};

const px_conf_item px_conf_log_items[] = {
    {.path = "log.level",
     .type = PX_CONF_STRING,
     .def = "\"info\"",
     .choices = px_conf_log_levels,
     .help = "least severe level logged"},
    {.path = NULL},
};

static bool px_conf_check_abspath(const char *value, char *why, size_t whylen);

const px_conf_item px_conf_kafka_items[] = {
    {.path = "kafka.brokers",
     .type = PX_CONF_STRING,
     .def = "\"127.0.0.1:9092\"",
     .check = px_conf_check_nonempty,
     .help = "bootstrap servers"},
    {.path = "kafka.properties",
     .type = PX_CONF_MAP,
     .help = "raw librdkafka properties; nest groups for dotted names: "
             "{ compression = { codec = \"zstd\"; }; }"},
    {.path = "kafka.properties_file",
     .type = PX_CONF_STRING,
     .check = px_conf_check_abspath,
     .help = "absolute path of a file of librdkafka properties, key=value lines (kcat -F's "
             "format), applied after kafka.properties: the place for sasl.password and key "
             "files, so that this file may be world-readable"},
    {.path = "kafka.statistics_interval_ms",
     .type = PX_CONF_INT,
     .min = 0,
     .max = 3600000,
     .def = "10000",
     .help = "how often librdkafka's statistics (queues, broker round-trip times, prefetch) "
             "refresh their metrics, ms (librdkafka's statistics.interval.ms); 0: off"},
    {.path = NULL},
};

const px_conf_item px_conf_metrics_items[] = {
    {.path = "metrics.listen",
     .type = PX_CONF_STRING,
     .check = px_conf_check_hostport,
     .help = "IPv4:port or [IPv6]:port serving Prometheus text on /metrics"},
    {.path = NULL},
};

/* ---- help ------------------------------------------------------------------ */

static const char *px_type_name(px_conf_type t)
{
    static const char *const names[] = {
        [PX_CONF_STRING] = "string",       [PX_CONF_INT] = "integer",
        [PX_CONF_BOOL] = "boolean",        [PX_CONF_STRING_ARRAY] = "string array",
        [PX_CONF_LIST] = "list of groups", [PX_CONF_MAP] = "group",
    };
    return (size_t)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void px_print_items(const px_conf_item *table, const char *prefix, FILE *out)
{
    px_rows r = px_rows_of(table);
    for (const px_conf_item *it; (it = px_rows_next(&r));) {
        char path[256];
        px_why(path, sizeof(path), "%s%s", prefix ? prefix : "", it->path);
        const char *def = it->def                          ? it->def
                          : (it->flags & PX_CONF_REQUIRED) ? "(required)"
                                                           : "(none)";
        fprintf(out, "  %-30s %-15s %s\n", path, px_type_name(it->type), def);
        if (it->help)
            fprintf(out, "      %s\n", it->help);
        if (it->type == PX_CONF_INT && (it->min || it->max))
            fprintf(out, "      range %" PRId64 "..%" PRId64 "\n", it->min, it->max);
        if (it->choices) {
            fputs("      one of:", out);
            for (const char *const *ch = it->choices; *ch; ch++)
                fprintf(out, " %s", *ch);
            fputc('\n', out);
        }
        if (it->type == PX_CONF_LIST && it->children) {
            char sub[300];
            px_why(sub, sizeof(sub), "%s[].", path);
            px_print_items(it->children, sub, out);
        }
    }
}

void px_config_print_table(const px_conf_item *table, FILE *out)
{
    fprintf(out, "Settings (PATH, type, default):\n");
    px_print_items(table, NULL, out);
}

/* An absolute path: a file a daemon opens whatever its working directory,
 * and that --check on a copy of the configuration elsewhere finds too. */
static bool px_conf_check_abspath(const char *value, char *why, size_t whylen)
{
    if (value[0] == '/')
        return true;
    px_why(why, whylen, "'%s' is not an absolute path", value);
    return false;
}

bool px_conf_check_nonempty(const char *v, char *why, size_t len)
{
    if (v[0])
        return true;
    px_why(why, len, "must not be empty");
    return false;
}

bool px_conf_check_topic(const char *v, char *why, size_t len)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 249 && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
             (v[i] >= '0' && v[i] <= '9') || v[i] == '.' || v[i] == '_' || v[i] == '-';
    if (!ok)
        snprintf(why, len, "Kafka topics are 1 to 249 of [A-Za-z0-9._-]");
    return ok;
}
