/* test_cli: the shared command line, driven with crafted argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/px_cli.h"
#include "producer/px_producer_conf.h"

typedef struct run {
    int status;
    px_cli_result res;
    char out[16384]; /* what went to stdout */
    char err[16384]; /* and to stderr */
} run;

static void slurp(FILE *f, char *buf, size_t len)
{
    rewind(f);
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

typedef struct extra_ctx {
    const char *after;
} extra_ctx;

static int on_option(void *ctx, int opt, const char *arg)
{
    extra_ctx *x = ctx;
    if (opt != 'a' || strcmp(arg, "never") == 0)
        return 2;
    x->after = arg;
    return 0;
}

static const struct option extra_opts[] = {
    {"after", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

static extra_ctx the_ctx;

static const px_cli_spec spec = {
    .prog = "pdnsx-test",
    .synopsis = "[OPTIONS] COMMAND",
    .about = "Tests the shared command line.",
    .table = px_producer_conf_table,
    .extra = extra_opts,
    .extra_short = "a:",
    .extra_help = "  -a, --after T            only records seen after T\n",
    .on_option = on_option,
    .ctx = &the_ctx,
    .check_config = px_producer_conf_check,
};

/* Runs px_cli_parse with stdout and stderr captured. argv is NULL-terminated. */
static void run_cli(run *r, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    the_ctx.after = NULL;
    r->status = px_cli_parse(&spec, argc, argv, &r->res);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(save_out);
    close(save_err);
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/px_test_cli_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* The input file must exist: --check opens it (issue 9, item 11). */
#define DEMO_PCAP PX_SOURCE_DIR "/etc/demo/org-a.pcap"
#define GOOD_CONF                                                                                  \
    "org = \"acme\";\ninputs = ( { type = \"pcap-file\"; path = \"" DEMO_PCAP "\"; } );\n"

static void test_version_and_help(void **state)
{
    (void)state;
    run r;
    run_cli(&r, (char *[]){"pdnsx-test", "--version", NULL});
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "pdnsx-test " PX_VERSION "\n");

    run_cli(&r, (char *[]){"pdnsx-test", "-h", NULL});
    assert_int_equal(r.status, 0);
    assert_true(strncmp(r.out, "Usage: pdnsx-test [OPTIONS] COMMAND\n", 36) == 0);
    assert_non_null(strstr(r.out, "Tests the shared command line."));
    assert_non_null(strstr(r.out, "--set PATH=VALUE"));
    assert_non_null(strstr(r.out, "-a, --after T"));
    assert_non_null(strstr(r.out, "window.seconds"));
    assert_string_equal(r.err, "");
}

static void test_bad_usage(void **state)
{
    (void)state;
    run r;
    run_cli(&r, (char *[]){"pdnsx-test", "--frobnicate", NULL});
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "Usage: pdnsx-test"));
    run_cli(&r, (char *[]){"pdnsx-test", "-c", NULL});
    assert_int_equal(r.status, 2);
    run_cli(&r, (char *[]){"pdnsx-test", "--after", "never", NULL});
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "Usage: pdnsx-test"));
}

static void test_check(void **state)
{
    (void)state;
    char *good = write_tmp(GOOD_CONF);
    char *bad = write_tmp(GOOD_CONF "x = 1;\n");
    char *lacking = write_tmp("org = \"acme\";\ninputs = (\n { type = \"pcap-live\"; }\n);\n");
    run r;
    run_cli(&r, (char *[]){"pdnsx-test", "--check", "-c", good, NULL});
    assert_int_equal(r.status, 0);
    char want[512];
    snprintf(want, sizeof(want), "%s: OK\n", good);
    assert_string_equal(r.out, want);

    run_cli(&r, (char *[]){"pdnsx-test", "-n", "--config", bad, NULL});
    assert_int_equal(r.status, 2);
    snprintf(want, sizeof(want), "%s:3: unknown setting 'x'\n", bad);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");

    /* The program's own cross checks count for --check too. */
    run_cli(&r, (char *[]){"pdnsx-test", "-n", "-c", lacking, NULL});
    assert_int_equal(r.status, 2);
    snprintf(want, sizeof(want), "%s:3: 'inputs[0]' of type pcap-live needs 'interface'\n",
             lacking);
    assert_string_equal(r.err, want);

    /* Without a file, overrides alone can make a valid configuration. */
    run_cli(&r, (char *[]){"pdnsx-test", "-n", "-s", "org=\"acme\"", "--set",
                           "inputs=({type=\"dnstap-tcp\"; listen=\"127.0.0.1:6000\";})", NULL});
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "configuration OK\n");

    run_cli(&r, (char *[]){"pdnsx-test", "-n", "-c", good, "-s", "window.seconds=0", NULL});
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, "--set:1: 'window.seconds' must be between 1 and 86400 (not 0)\n");
    unlink(good);
    unlink(bad);
    unlink(lacking);
    free(good);
    free(bad);
    free(lacking);
}

static void test_run(void **state)
{
    (void)state;
    char *good = write_tmp(GOOD_CONF);
    run r;
    run_cli(&r, (char *[]){"pdnsx-test", "-c", good, "rrset", "-s", "window.seconds=300", "--after",
                           "2026-01-01", "example.com", NULL});
    assert_int_equal(r.status, -1);
    assert_non_null(r.res.config);
    assert_false(r.res.check_only);
    assert_int_equal(px_config_int(r.res.config, "window.seconds"), 300);
    assert_string_equal(the_ctx.after, "2026-01-01");
    assert_int_equal(r.res.argc, 2);
    assert_string_equal(r.res.argv[0], "rrset");
    assert_string_equal(r.res.argv[1], "example.com");
    assert_string_equal(r.err, "");
    px_config_destroy(r.res.config);

    /* Problems stop the program with status 2 even without --check. */
    run_cli(&r, (char *[]){"pdnsx-test", "-c", good, "-s", "log.level=\"chatty\"", NULL});
    assert_int_equal(r.status, 2);
    assert_null(r.res.config);
    assert_non_null(strstr(r.err, "--set:1: 'log.level' must be one of"));
    unlink(good);
    free(good);
}

/* What used to pass --check and then fail at run time with exit 1 (issue
 * 9, item 11): each is a problem at its line, exit 2, with --check and at
 * a normal start alike. */
static void test_check_finds_runtime_failures(void **state)
{
    (void)state;
    char *conf = write_tmp("org = \"acme\";\n"
                           "inputs = (\n"
                           "  { type = \"pcap-file\"; path = \"/nonexistent/day.pcap\"; },\n"
                           "  { type = \"pcap-file\"; path = \"" DEMO_PCAP "\";\n"
                           "    filter = \"udp and nonsense\"; },\n"
                           "  { type = \"dnstap-file\"; path = \"/tmp\"; }\n"
                           ");\n"
                           "window = { seconds = 4294967356; };\n"
                           "kafka = { properties = { no = { such = { thing = 1; }; }; }; };\n");
    char want[4096];
    snprintf(want, sizeof(want),
             "%s:8: window.seconds: 4294967356 is out of range for an integer without L "
             "(-2147483648 to 2147483647); write 4294967356L for a 64-bit one\n"
             "--set:1: store.batch_ms: 4294967297 is out of range for an integer without L "
             "(-2147483648 to 2147483647); write 4294967297L for a 64-bit one\n"
             "--set:1: unknown setting 'store'\n"
             "%s:3: 'inputs[0].path' \"/nonexistent/day.pcap\": No such file or directory\n"
             "%s:5: 'inputs[1].filter' \"udp and nonsense\" does not compile: syntax error in "
             "filter expression\n"
             "%s:6: 'inputs[2].path' \"/tmp\": it is a directory\n"
             "%s:9: kafka.properties.no.such.thing: librdkafka refuses \"1\": No such "
             "configuration property: \"no.such.thing\"\n",
             conf, conf, conf, conf, conf);
    run r;
    run_cli(&r, (char *[]){"pdnsx-test", "--check", "-c", conf, "-s", "store.batch_ms=4294967297",
                           NULL});
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    run_cli(&r, (char *[]){"pdnsx-test", "-c", conf, "-s", "store.batch_ms=4294967297", NULL});
    assert_int_equal(r.status, 2);
    assert_null(r.res.config);
    assert_string_equal(r.err, want);
    unlink(conf);
    free(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_help),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_check_finds_runtime_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
