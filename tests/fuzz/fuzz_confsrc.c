/* fuzz_confsrc: px_confsrc against libconfig's own lexer. The input is a
 * configuration file (written to a directory that also holds inc.conf and
 * a subdirectory, so that @include lines find something); px_confsrc
 * expands its includes, and whenever libconfig then parses the text, the
 * integer literals px_confsrc found must be libconfig's integer settings
 * one for one: the same number, type (L or not) and stored value. A
 * disagreement would put an out-of-range report on the wrong setting.
 * Run with LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp: libconfig 1.5
 * leaks lexer buffers on some syntax errors. */
#include <libconfig.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "px_confsrc.h"

static char dir[64], main_path[96];

static void px_fuzz_cleanup(void)
{
    char path[128];
    static const char *const names[] = {"main.conf", "inc.conf"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

static void px_fuzz_setup(void)
{
    if (dir[0])
        return;
    snprintf(dir, sizeof(dir), "/tmp/fuzz_confsrc_XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char path[128];
    snprintf(path, sizeof(path), "%s/inc.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs("inc = { a = 1; b = 0x10L; c = [1, 2, 3]; };\n", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/sub", dir);
    mkdir(path, 0700);
    snprintf(main_path, sizeof(main_path), "%s/main.conf", dir);
    atexit(px_fuzz_cleanup);
}

/* libconfig's integer settings in text order, compared with the literals. */
static void px_fuzz_walk(const config_setting_t *s, const px_confsrc *src, size_t *i)
{
    int t = config_setting_type(s);
    if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
        const px_confsrc_int *lit = px_confsrc_int_at(src, (*i)++);
        if (!lit || lit->wide != (t == CONFIG_TYPE_INT64) ||
            lit->stored != config_setting_get_int64(s))
            abort();
        return;
    }
    if (!config_setting_is_aggregate(s))
        return;
    for (int k = 0; k < config_setting_length(s); k++)
        px_fuzz_walk(config_setting_get_elem(s, (unsigned)k), src, i);
}

static void px_fuzz_compare(const px_confsrc *src)
{
    if (px_confsrc_problem_count(src))
        return;
    config_t c;
    config_init(&c);
    if (config_read_string(&c, px_confsrc_text(src))) {
        size_t i = 0;
        px_fuzz_walk(config_root_setting(&c), src, &i);
        if (i != px_confsrc_int_count(src))
            abort();
    }
    config_destroy(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_fuzz_setup();
    /* libconfig reads a string: a NUL would end it early */
    if (memchr(data, 0, size))
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    px_confsrc *src = px_confsrc_from_text(text, "--set:1");
    if (src)
        px_fuzz_compare(src);
    px_confsrc_destroy(src);
    free(text);

    FILE *f = fopen(main_path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    src = px_confsrc_read_file(main_path);
    if (src) {
        px_fuzz_compare(src);
        char where[256];
        for (size_t i = 0; i < px_confsrc_int_count(src); i++)
            px_confsrc_where(src, px_confsrc_int_at(src, i)->line, where, sizeof(where));
    }
    px_confsrc_destroy(src);
    return 0;
}
