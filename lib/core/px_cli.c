/* px_cli.c: the shared command line. It prints (to stdout for --help,
 * --version and "OK", to stderr for problems) because every caller is a
 * program's main() and would print the same thing anyway. */
#include "core/px_cli.h"

#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PX_VERSION
#define PX_VERSION "unknown"
#endif

static const struct option px_cli_base[] = {
    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
    {"check", no_argument, NULL, 'n'},        {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
};
#define PX_CLI_NBASE (sizeof(px_cli_base) / sizeof(px_cli_base[0]))

static void px_cli_usage(const px_cli_spec *spec, FILE *out)
{
    fprintf(out, "Usage: %s %s\n", spec->prog, spec->synopsis ? spec->synopsis : "[OPTIONS]");
}

static void px_cli_help(const px_cli_spec *spec)
{
    px_cli_usage(spec, stdout);
    if (spec->about)
        printf("\n%s\n", spec->about);
    printf("\nOptions:\n"
           "  -c, --config FILE        libconfig file (without it: built-in defaults)\n"
           "  -s, --set PATH=VALUE     override one setting, VALUE in libconfig syntax\n"
           "                           (\"text\", 42, true, [\"A\",\"AAAA\"]); repeatable\n"
           "  -n, --check              validate the configuration and exit (0 ok, 2 problems)\n"
           "  -h, --help               show this help and exit\n"
           "  -V, --version            show the version and exit\n");
    if (spec->extra_help)
        printf("%s%s", spec->extra_help,
               spec->extra_help[strlen(spec->extra_help) - 1] == '\n' ? "" : "\n");
    printf("\n");
    px_config_print_table(spec->table, stdout);
    printf("\nExit status: 0 success, 1 runtime failure, 2 bad usage or configuration.\n");
}

static int px_cli_bad_usage(const px_cli_spec *spec)
{
    px_cli_usage(spec, stderr);
    fprintf(stderr, "Try '%s --help' for more information.\n", spec->prog);
    return 2;
}

/* Builds the long option table: ours first, then the program's. */
static struct option *px_cli_longopts(const px_cli_spec *spec)
{
    size_t n_extra = 0;
    while (spec->extra && spec->extra[n_extra].name)
        n_extra++;
    struct option *o = calloc(PX_CLI_NBASE + n_extra + 1, sizeof(*o));
    if (!o)
        return NULL;
    memcpy(o, px_cli_base, sizeof(px_cli_base));
    if (n_extra)
        memcpy(o + PX_CLI_NBASE, spec->extra, n_extra * sizeof(*o));
    return o;
}

/* Loads, overrides and validates; prints problems. Returns the config or
 * NULL (problems printed, or out of memory). */
static px_config *px_cli_config(const px_cli_spec *spec, const char *file, char **sets,
                                size_t n_sets)
{
    px_config *cfg = px_config_create(spec->table);
    if (!cfg) {
        fprintf(stderr, "%s: out of memory\n", spec->prog);
        return NULL;
    }
    if (file)
        px_config_load_file(cfg, file);
    for (size_t i = 0; i < n_sets; i++)
        px_config_set(cfg, sets[i]);
    px_config_validate(cfg);
    if (spec->check_config)
        spec->check_config(spec->ctx, cfg);
    size_t n = px_config_problem_count(cfg);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s\n", px_config_problem(cfg, i));
    if (n) {
        px_config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

int px_cli_parse(const px_cli_spec *spec, int argc, char **argv, px_cli_result *out)
{
    memset(out, 0, sizeof(*out));
    struct option *longopts = px_cli_longopts(spec);
    char *shortopts = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof(*sets));
    if (!longopts || !sets ||
        asprintf(&shortopts, "c:s:nhV%s", spec->extra_short ? spec->extra_short : "") < 0) {
        free(longopts);
        free(sets);
        fprintf(stderr, "%s: out of memory\n", spec->prog);
        return 1;
    }
    const char *file = NULL;
    size_t n_sets = 0;
    bool help = false, version = false, check = false;
    int status = -1;
    optind = 0; /* GNU: start over, so the parser can run more than once */
    int opt;
    while (status < 0 && (opt = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            file = optarg;
            break;
        case 's':
            sets[n_sets++] = optarg;
            break;
        case 'n':
            check = true;
            break;
        case 'h':
            help = true;
            break;
        case 'V':
            version = true;
            break;
        case '?':
        case ':':
            status = px_cli_bad_usage(spec);
            break;
        default:
            if (!spec->on_option || spec->on_option(spec->ctx, opt, optarg) != 0)
                status = px_cli_bad_usage(spec);
        }
    }
    free(longopts);
    free(shortopts);
    if (status < 0 && help) {
        px_cli_help(spec);
        status = 0;
    } else if (status < 0 && version) {
        printf("%s %s\n", spec->prog, PX_VERSION);
        status = 0;
    }
    if (status >= 0) {
        free(sets);
        return status;
    }
    px_config *cfg = px_cli_config(spec, file, sets, n_sets);
    free(sets);
    if (!cfg)
        return 2;
    if (check) {
        if (file)
            printf("%s: OK\n", file);
        else
            printf("configuration OK\n");
        px_config_destroy(cfg);
        return 0;
    }
    out->config = cfg;
    out->argc = argc - optind;
    out->argv = argv + optind;
    out->check_only = false;
    return -1;
}

void px_cli_daemon_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}
