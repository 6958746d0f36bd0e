/* px_cli.h: the command line every pdnsx program shares (docs/INTERFACE.md "Common command line"):
 * -c/--config FILE, -s/--set PATH=VALUE (repeatable), -n/--check,
 * -h/--help, -V/--version. Exit status: 0 success, 1 runtime failure,
 * 2 bad usage or configuration. */
#ifndef PX_CLI_H
#define PX_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>

#include "core/px_config.h"

typedef struct px_cli_spec {
    const char *prog;     /* "pdnsx-producer" */
    const char *synopsis; /* usage line after the program name */
    const char *about;    /* one paragraph for --help */
    const px_conf_item *table;
    /* Program-specific long options (NULL-terminated, may be NULL) and
     * their handler: returns 0, or 2 for bad usage. */
    const struct option *extra;
    const char *extra_short; /* getopt short letters for the extras */
    const char *extra_help;  /* help lines for the extras */
    int (*on_option)(void *ctx, int opt, const char *arg);
    void *ctx;
    /* Optional: called after table validation (also with --check) so the
     * program can add cross-setting problems with px_config_add_problem
     * (e.g. an input lacking the member its type needs). May be NULL. */
    void (*check_config)(void *ctx, px_config *config);
} px_cli_spec;

typedef struct px_cli_result {
    px_config *config; /* loaded, overridden, validated; caller destroys */
    int argc;          /* positional arguments left */
    char **argv;
    bool check_only;
} px_cli_result;

/* Parses the command line, loads the config file, applies --set, validates.
 * Returns -1 to go on (result filled), or an exit status to exit with now
 * (after --help, --version, --check or an error, which it has printed). */
int px_cli_parse(const px_cli_spec *spec, int argc, char **argv, px_cli_result *out);

/* The daemons' signal set-up, before any thread starts: SIGTERM, SIGINT,
 * SIGHUP and SIGUSR1 are blocked in every thread (so librdkafka's and the
 * HTTP servers' threads never take them) and put in *set for the run loop's
 * sigtimedwait(); SIGPIPE is ignored, so a closed peer is an error return,
 * not death. */
void px_cli_daemon_signals(sigset_t *set);

#endif
