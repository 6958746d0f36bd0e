/* test_config: px_config validation, overrides, defaults and the producer table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/px_config.h"
#include "producer/px_producer_conf.h"

/* Writes text to a fresh temporary file; returns its path (static buffer
 * per call slot, removed at teardown by the caller). */
static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/px_test_config_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void drop_tmp(char *path)
{
    unlink(path);
    free(path);
}

static bool has_problem(const px_config *c, const char *want)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        if (strcmp(px_config_problem(c, i), want) == 0)
            return true;
    return false;
}

/* Prints the problems when an expectation fails, to make the failure readable. */
static void expect_problem(const px_config *c, const char *fmt, ...)
{
    char want[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    if (!has_problem(c, want)) {
        fprintf(stderr, "wanted: %s\nhave:\n", want);
        for (size_t i = 0; i < px_config_problem_count(c); i++)
            fprintf(stderr, "  %s\n", px_config_problem(c, i));
        fail();
    }
}

static void dump_problems(const px_config *c)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        fprintf(stderr, "problem: %s\n", px_config_problem(c, i));
}

/* Loads text as a producer config file and validates it. */
static px_config *load_producer(const char *text, char **path)
{
    *path = write_tmp(text);
    px_config *c = px_config_create(px_producer_conf_table);
    assert_non_null(c);
    px_config_load_file(c, *path);
    px_config_validate(c);
    return c;
}

#define MIN_OK "org = \"acme\";\ninputs = ( { type = \"pcap-file\"; path = \"x.pcap\"; } );\n"

static void test_minimal_valid_and_defaults(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer(MIN_OK, &path);
    dump_problems(c);
    assert_int_equal(px_config_problem_count(c), 0);
    assert_string_equal(px_config_string(c, "org"), "acme");
    /* Defaults from the table. */
    assert_false(px_config_is_set(c, "window.seconds"));
    assert_int_equal(px_config_int(c, "window.seconds"), 60);
    assert_int_equal(px_config_int(c, "window.max_entries"), 1000000);
    assert_int_equal(px_config_int(c, "spool.max_bytes"), 1073741824);
    assert_string_equal(px_config_string(c, "log.level"), "info");
    assert_string_equal(px_config_string(c, "kafka.brokers"), "127.0.0.1:9092");
    assert_false(px_config_bool(c, "privacy.errors"));
    assert_int_equal(px_config_array_len(c, "privacy.rrtypes"), 5);
    assert_string_equal(px_config_array_string(c, "privacy.rrtypes", 1), "AAAA");
    assert_int_equal(px_config_array_len(c, "privacy.local_zones"), 0);
    assert_int_equal(px_config_array_len(c, "dnstap.message_types"), 7);
    assert_null(px_config_string(c, "metrics.listen"));
    assert_null(px_config_string(c, "kafka.topic"));
    assert_int_equal(px_config_map_len(c, "kafka.properties"), 0);
    assert_int_equal(px_config_list_len(c, "inputs"), 1);
    assert_string_equal(px_config_list_string(c, "inputs", 0, "path"), "x.pcap");
    assert_null(px_config_list_string(c, "inputs", 0, "interface"));
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_unknown_settings(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer(MIN_OK "colour = \"blue\";\n"
                                        "window = {\n  seconds = 30;\n  second = 5;\n};\n",
                                 &path);
    /* Validating again reports the same problems once. */
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    expect_problem(c, "%s:3: unknown setting 'colour'", path);
    expect_problem(c, "%s:6: unknown setting 'window.second'", path);
    assert_int_equal(px_config_problem_count(c), 2);
    assert_int_equal(px_config_int(c, "window.seconds"), 30);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_wrong_types(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer(MIN_OK "window = { seconds = \"60\"; };\n"
                                        "privacy = { errors = 1;\n rrtypes = [1, 2];\n"
                                        "  min_clients = 2L; };\n"
                                        "log = \"info\";\n"
                                        "kafka = { brokers = 9092; };\n",
                                 &path);
    expect_problem(c, "%s:3: 'window.seconds' must be an integer", path);
    expect_problem(c, "%s:4: 'privacy.errors' must be a boolean (true or false)", path);
    expect_problem(c, "%s:5: 'privacy.rrtypes' must be an array of strings [\"...\", ...]", path);
    expect_problem(c, "%s:7: 'log' must be a group { ... }", path);
    expect_problem(c, "%s:8: 'kafka.brokers' must be a string", path);
    /* int64 literals are integers too. */
    assert_int_equal(px_config_problem_count(c), 5);
    assert_int_equal(px_config_int(c, "privacy.min_clients"), 2);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_ranges_choices_checks(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer("org = \"Acme_Corp\";\n"
                                 "inputs = ( { type = \"pcap-file\"; path = \"x\"; } );\n"
                                 "window = { seconds = 0; max_entries = 100000001; };\n"
                                 "log = { level = \"verbose\"; };\n"
                                 "privacy = { rrtypes = [\"A\", \"BOGUS\"];\n"
                                 "  wildcard_servers = [\"192.0.2.1\", \"2001:db8::1\", "
                                 "\"not-an-ip\"]; min_clients = 1001; };\n"
                                 "dnstap = { message_types = [\"CLIENT_QUERY\"]; };\n"
                                 "metrics = { listen = \"localhost\"; };\n",
                                 &path);
    expect_problem(c, "%s:1: invalid 'org' \"Acme_Corp\": must match [a-z0-9][a-z0-9-]{0,31}",
                   path);
    expect_problem(c, "%s:3: 'window.seconds' must be between 1 and 86400 (not 0)", path);
    expect_problem(c, "%s:3: 'window.max_entries' must be between 1 and 100000000 (not 100000001)",
                   path);
    expect_problem(
        c, "%s:4: 'log.level' must be one of error, warning, info, debug (not \"verbose\")", path);
    expect_problem(c,
                   "%s:5: invalid 'privacy.rrtypes' \"BOGUS\": not an RR type mnemonic (A, AAAA, "
                   "...) or TYPEnnn",
                   path);
    expect_problem(c,
                   "%s:6: invalid 'privacy.wildcard_servers' \"not-an-ip\": not an IPv4 or IPv6 "
                   "address",
                   path);
    expect_problem(c, "%s:6: 'privacy.min_clients' must be between 1 and 1000 (not 1001)", path);
    expect_problem(c,
                   "%s:7: 'dnstap.message_types' must be one of AUTH_RESPONSE, "
                   "RESOLVER_RESPONSE, CLIENT_RESPONSE, FORWARDER_RESPONSE, STUB_RESPONSE, "
                   "TOOL_RESPONSE, UPDATE_RESPONSE (not \"CLIENT_QUERY\")",
                   path);
    expect_problem(c,
                   "%s:8: invalid 'metrics.listen' \"localhost\": expected IPv4:port or "
                   "[IPv6]:port",
                   path);
    assert_int_equal(px_config_problem_count(c), 9);
    px_config_destroy(c);
    drop_tmp(path);
}

/* The producer's checks shared with the other programs: zones by the DNS
 * name rules (no empty label, not the root), brokers not empty. */
static void test_shared_checks(void **state)
{
    (void)state;
    char *path;
    px_config *c =
        load_producer("org = \"acme\";\n"
                      "inputs = ( { type = \"pcap-file\"; path = \"x\"; } );\n"
                      "privacy = { local_zones = [\"corp.example.\", \"a..b\", \".\"]; };\n"
                      "kafka = { brokers = \"\"; };\n",
                      &path);
    expect_problem(c,
                   "%s:3: invalid 'privacy.local_zones' \"a..b\": not a domain name (printable, "
                   "no empty label, not the root)",
                   path);
    expect_problem(c,
                   "%s:3: invalid 'privacy.local_zones' \".\": not a domain name (printable, no "
                   "empty label, not the root)",
                   path);
    expect_problem(c, "%s:4: invalid 'kafka.brokers' \"\": must not be empty", path);
    assert_int_equal(px_config_problem_count(c), 3);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_required(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer("# nothing\nwindow = { seconds = 10; };\n", &path);
    expect_problem(c, "%s:1: missing required setting 'org'", path);
    expect_problem(c, "%s:1: missing required setting 'inputs'", path);
    assert_int_equal(px_config_problem_count(c), 2);
    px_config_destroy(c);
    drop_tmp(path);

    /* Without a file the defaults are "where" the problem is. */
    c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    expect_problem(c, "<defaults>:0: missing required setting 'org'");
    px_config_destroy(c);
}

static void test_list_items(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer("org = \"acme\";\n"
                                 "inputs = (\n"
                                 "  { path = \"/tmp/a\"; },\n"
                                 "  { type = \"pcap-live\"; interface = \"eth0\";\n"
                                 "    port = 53; },\n"
                                 "  \"dnstap-unix\",\n"
                                 "  { type = \"carrier-pigeon\"; path = \"x\"; }\n"
                                 ");\n",
                                 &path);
    expect_problem(c, "%s:3: 'inputs[0]' lacks required member 'type'", path);
    expect_problem(c, "%s:5: unknown setting 'inputs[1].port'", path);
    expect_problem(c, "%s:6: 'inputs[2]' must be a group { ... }", path);
    expect_problem(c,
                   "%s:7: 'inputs[3].type' must be one of dnstap-unix, dnstap-tcp, dnstap-file, "
                   "pcap-file, pcap-live (not \"carrier-pigeon\")",
                   path);
    assert_int_equal(px_config_problem_count(c), 4);
    px_config_destroy(c);
    drop_tmp(path);

    /* A scalar where the list belongs. */
    c = load_producer("org = \"acme\";\ninputs = \"dnstap-unix\";\n", &path);
    expect_problem(c, "%s:2: 'inputs' must be a list of groups ( { ... }, ... )", path);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_map(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer(MIN_OK "kafka = { properties = {\n"
                                        "  linger = { ms = 5; };\n"
                                        "  acks = \"all\";\n"
                                        "  idempotence = true;\n"
                                        "  bad = [1, 2];\n"
                                        "}; };\n",
                                 &path);
    expect_problem(c, "%s:7: 'kafka.properties.bad' must be a string, number or boolean", path);
    assert_int_equal(px_config_problem_count(c), 1);
    assert_int_equal(px_config_map_len(c, "kafka.properties"), 3);
    assert_string_equal(px_config_map_key(c, "kafka.properties", 0), "linger.ms");
    assert_string_equal(px_config_map_value(c, "kafka.properties", 0), "5");
    assert_string_equal(px_config_map_key(c, "kafka.properties", 1), "acks");
    assert_string_equal(px_config_map_value(c, "kafka.properties", 1), "all");
    assert_string_equal(px_config_map_value(c, "kafka.properties", 2), "true");
    assert_null(px_config_map_key(c, "kafka.properties", 3));
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_set_creates_and_overrides(void **state)
{
    (void)state;
    px_config *c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_set(c, "org=\"acme\""), PX_OK);
    assert_int_equal(px_config_set(c, "inputs=({type=\"dnstap-tcp\"; listen=\"[::1]:6000\";})"),
                     PX_OK);
    assert_int_equal(px_config_set(c, "window.seconds=5"), PX_OK);
    assert_int_equal(px_config_set(c, "kafka.properties.linger.ms = 10"), PX_OK);
    assert_int_equal(px_config_set(c, "privacy.rrtypes=[\"A\",\"TXT\"]"), PX_OK);
    assert_int_equal(px_config_set(c, "window.seconds=7"), PX_OK); /* later wins */
    assert_int_equal(px_config_validate(c), PX_OK);
    assert_int_equal(px_config_int(c, "window.seconds"), 7);
    assert_string_equal(px_config_map_key(c, "kafka.properties", 0), "linger.ms");
    assert_string_equal(px_config_map_value(c, "kafka.properties", 0), "10");
    assert_int_equal(px_config_array_len(c, "privacy.rrtypes"), 2);
    assert_string_equal(px_config_list_string(c, "inputs", 0, "listen"), "[::1]:6000");
    /* Members of list items can be overridden too. */
    assert_int_equal(px_config_set(c, "inputs.[0].listen=\"127.0.0.1:7000\""), PX_OK);
    assert_string_equal(px_config_list_string(c, "inputs", 0, "listen"), "127.0.0.1:7000");
    px_config_destroy(c);

    /* Over a file: the override replaces the file's value, even its type,
     * and the problem then points at the override. */
    char *path;
    c = load_producer(MIN_OK "window = { seconds = 60; };\n", &path);
    assert_int_equal(px_config_problem_count(c), 0);
    px_config_destroy(c);
    c = px_config_create(px_producer_conf_table);
    px_config_load_file(c, path);
    assert_int_equal(px_config_set(c, "window.seconds=120"), PX_OK);
    assert_int_equal(px_config_set(c, "log.level=\"loud\""), PX_OK);
    assert_int_equal(px_config_set(c, "window.seconds=\"soon\""), PX_OK);
    assert_int_equal(px_config_set(c, "extra.deep.thing=1"), PX_OK);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    expect_problem(c, "--set:2: 'log.level' must be one of error, warning, info, debug "
                      "(not \"loud\")");
    expect_problem(c, "--set:3: 'window.seconds' must be an integer");
    expect_problem(c, "--set:4: unknown setting 'extra'");
    assert_int_equal(px_config_problem_count(c), 3);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_set_errors(void **state)
{
    (void)state;
    px_config *c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_set(c, "org=\"acme\""), PX_OK);
    assert_int_equal(px_config_set(c, "window.seconds=[1,"), PX_ERR_CONFIG);
    assert_int_equal(px_config_set(c, "window.seconds"), PX_ERR_CONFIG);
    assert_int_equal(px_config_set(c, "window..seconds=1"), PX_ERR_CONFIG);
    assert_int_equal(px_config_set(c, "org.name=\"x\""), PX_ERR_CONFIG);
    assert_int_equal(px_config_set(c, "window.seconds=1; org=\"evil\""), PX_ERR_CONFIG);
    assert_int_equal(px_config_problem_count(c), 5);
    expect_problem(c, "--set:2: cannot parse value '[1,' for 'window.seconds': syntax error");
    expect_problem(c, "--set:6: cannot parse value '1; org=\"evil\"' for 'window.seconds': "
                      "expected one libconfig value");
    expect_problem(c, "--set:3: expected PATH=VALUE, got 'window.seconds'");
    expect_problem(c, "--set:4: cannot set 'window..seconds': invalid setting path");
    expect_problem(c, "--set:5: cannot set 'org.name': a parent of the setting is not a group");
    assert_string_equal(px_config_string(c, "org"), "acme");
    assert_int_equal(px_config_int(c, "window.seconds"), 60);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    px_config_destroy(c);
}

static void test_file_errors(void **state)
{
    (void)state;
    char *path = write_tmp("org = \"acme\";\n\norg2 = ;\n");
    px_config *c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_load_file(c, path), PX_ERR_CONFIG);
    expect_problem(c, "%s:3: syntax error", path);
    px_config_destroy(c);
    drop_tmp(path);

    c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_load_file(c, "/nonexistent/pdnsx.conf"), PX_ERR_CONFIG);
    expect_problem(c, "/nonexistent/pdnsx.conf:0: cannot open: No such file or directory");
    px_config_destroy(c);
}

static const px_conf_item bad_default_table[] = {
    {.path = "a", .type = PX_CONF_INT, .def = "[1,"},
    {.path = NULL},
};

static void test_bad_default_is_reported(void **state)
{
    (void)state;
    px_config *c = px_config_create(bad_default_table);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    expect_problem(c, "<defaults>:0: bad default for 'a': cannot parse the default");
    px_config_destroy(c);
}

static void test_producer_loader(void **state)
{
    (void)state;
    char *path;
    px_config *c =
        load_producer("org = \"acme\";\n"
                      "inputs = (\n"
                      "  { type = \"dnstap-unix\"; path = \"/run/x.sock\"; },\n"
                      "  { type = \"pcap-file\"; filter = \"port 53\"; },\n"
                      "  { type = \"dnstap-tcp\"; path = \"/tmp/x\"; },\n"
                      "  { type = \"pcap-live\"; interface = \"eth0\"; }\n"
                      ");\n"
                      "privacy = { min_clients = 3; local_zones = [\"corp.example\"]; };\n"
                      "kafka = { properties = { acks = \"all\"; }; };\n",
                      &path);
    assert_int_equal(px_config_problem_count(c), 0);
    px_producer_conf pc;
    assert_int_equal(px_producer_conf_load(c, &pc, c), PX_ERR_CONFIG);
    expect_problem(c, "%s:4: 'inputs[1]' of type pcap-file needs 'path'", path);
    expect_problem(c, "%s:5: 'inputs[2]' of type dnstap-tcp needs 'listen'", path);
    assert_int_equal(px_config_problem_count(c), 2);
    /* The good inputs are kept, in order. */
    assert_int_equal(pc.n_inputs, 2);
    assert_int_equal(pc.inputs[0].type, PX_INPUT_DNSTAP_UNIX);
    assert_string_equal(pc.inputs[0].path, "/run/x.sock");
    assert_int_equal(pc.inputs[1].type, PX_INPUT_PCAP_LIVE);
    assert_string_equal(pc.inputs[1].interface, "eth0");
    assert_string_equal(pc.org, "acme");
    char host[256] = "";
    gethostname(host, sizeof(host));
    assert_string_equal(pc.sensor, host);
    assert_string_equal(pc.kafka_topic, "pdnsx.obs.acme");
    assert_string_equal(pc.kafka.brokers, "127.0.0.1:9092");
    assert_int_equal(pc.kafka.n_props, 1);
    assert_string_equal(pc.kafka.props[0].key, "acks");
    assert_string_equal(pc.kafka.props[0].value, "all");
    assert_int_equal(pc.window.seconds, 60);
    assert_int_equal(pc.window.max_entries, 1000000);
    assert_int_equal(pc.window.min_clients, 3);
    assert_int_equal(pc.n_rrtypes, 5);
    assert_string_equal(pc.rrtypes[4], "NS");
    assert_int_equal(pc.n_local_zones, 1);
    assert_string_equal(pc.local_zones[0], "corp.example");
    assert_int_equal(pc.n_dnstap_types, 7);
    assert_null(pc.spool_path);
    assert_int_equal(pc.spool_max_bytes, 1073741824);
    assert_string_equal(pc.log_level, "info");
    px_producer_conf_free(&pc);
    px_producer_conf_free(NULL);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_add_problem_locates(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer(MIN_OK "window = {\n  seconds = 10;\n};\n", &path);
    px_config_add_problem(c, "window.seconds", "too short for %s", "acme");
    px_config_add_problem(c, "window.nothing", "located at the group");
    px_config_add_problem(c, "nowhere", "located at the top");
    expect_problem(c, "%s:4: too short for acme", path);
    expect_problem(c, "%s:3: located at the group", path);
    expect_problem(c, "%s:1: located at the top", path);
    px_config_destroy(c);
    drop_tmp(path);
}

static void test_example_config_is_clean(void **state)
{
    (void)state;
    px_config *c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_load_file(c, PX_SOURCE_DIR "/etc/pdnsx-producer.conf"), PX_OK);
    px_err err = px_config_validate(c);
    dump_problems(c);
    assert_int_equal(err, PX_OK);
    px_producer_conf pc;
    assert_int_equal(px_producer_conf_load(c, &pc, c), PX_OK);
    assert_int_equal(px_config_problem_count(c), 0);
    assert_int_equal(pc.n_inputs, 1);
    assert_int_equal(pc.inputs[0].type, PX_INPUT_DNSTAP_UNIX);
    assert_string_equal(pc.inputs[0].path, "/run/pdnsx/dnstap.sock");
    assert_string_equal(pc.metrics_listen, "127.0.0.1:9153");
    /* spools to disk, in the directory the package and the unit provide */
    assert_non_null(pc.spool_path);
    assert_string_equal(pc.spool_path, "/var/spool/pdnsx/producer.spool");
    /* the HTTP endpoint's limits, shared with the consumer (px_http.h) */
    assert_int_equal(pc.http.max_connections, 64);
    assert_int_equal(pc.http.max_per_client, 16);
    assert_int_equal(pc.http.request_timeout_ms, 10000);
    assert_int_equal(pc.http.answer_timeout_ms, 60000);
    px_producer_conf_free(&pc);
    px_config_destroy(c);
}

/* ---- whole numbers libconfig would cut (issue 9, item 11) ---- */

/* Counts problems containing needle. */
static size_t problems_with(const px_config *c, const char *needle)
{
    size_t n = 0;
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        n += strstr(px_config_problem(c, i), needle) != NULL;
    return n;
}

#define NO_L "is out of range for an integer without L (-2147483648 to 2147483647)"

/* 4294967356 used to pass as 60, and 99999999999 was called "(not
 * 1215752191)": now the literal as written is out of range, at its line,
 * named by its setting, and the cut value is not reported as well. */
static void test_int_literal_out_of_range(void **state)
{
    (void)state;
    char *path;
    px_config *c = load_producer(MIN_OK "window = { seconds = 4294967356; };\n"
                                        "privacy = { min_clients = 99999999999; };\n"
                                        "spool = { max_bytes = 4294967296L; };\n",
                                 &path);
    expect_problem(
        c, "%s:3: window.seconds: 4294967356 " NO_L "; write 4294967356L for a 64-bit one", path);
    expect_problem(
        c, "%s:4: privacy.min_clients: 99999999999 " NO_L "; write 99999999999L for a 64-bit one",
        path);
    assert_int_equal(problems_with(c, "1215752191"), 0);
    assert_int_equal(problems_with(c, "must be between"), 0);
    assert_int_equal(px_config_problem_count(c), 2);
    assert_int_equal(px_config_int(c, "spool.max_bytes"), 4294967296LL); /* with L: fine */
    px_config_destroy(c);
    drop_tmp(path);

    /* every spelling libconfig reads differently from what is written,
     * wherever it is; literals in comments and strings are not numbers */
    c = load_producer(MIN_OK "# window = { seconds = 99999999999; };\n"
                             "a = [1, 99999999999, 3]; b = \"4294967296\"; c = 2147483647;\n"
                             "d = ( { e = -2147483649; }, { f = -2147483648; } );\n"
                             "g = 0xFFFFFFFF; h = 0x7fffffff; i = 9223372036854775808L;\n"
                             "j = 1e20; k = 99999999999999999999; /* 99999999999 */\n"
                             "kafka = { properties = { message = { max = { bytes = 5000000000; "
                             "}; }; }; };\n",
                      &path);
    expect_problem(c, "%s:4: a[1]: 99999999999 " NO_L "; write 99999999999L for a 64-bit one",
                   path);
    expect_problem(c, "%s:5: d[0].e: -2147483649 " NO_L "; write -2147483649L for a 64-bit one",
                   path);
    expect_problem(c, "%s:6: g: 0xFFFFFFFF " NO_L "; write 0xFFFFFFFFL for a 64-bit one", path);
    expect_problem(c, "%s:6: i: 9223372036854775808L is out of range for a 64-bit integer", path);
    expect_problem(c, "%s:7: k: 99999999999999999999 is out of range for a 64-bit integer", path);
    expect_problem(c,
                   "%s:8: kafka.properties.message.max.bytes: 5000000000 " NO_L
                   "; write 5000000000L for a 64-bit one",
                   path);
    assert_int_equal(problems_with(c, "out of range"), 6);
    px_config_destroy(c);
    drop_tmp(path);

    /* --set the same: its literals are checked too */
    c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_set(c, "org=\"acme\""), PX_OK);
    assert_int_equal(px_config_set(c, "window.seconds=4294967356"), PX_ERR_CONFIG);
    assert_int_equal(px_config_set(c, "window={ max_entries = 99999999999; }"), PX_ERR_CONFIG);
    assert_int_equal(px_config_set(c, "spool.max_bytes=4294967296L"), PX_OK);
    px_config_validate(c);
    expect_problem(c, "--set:2: window.seconds: 4294967356 " NO_L
                      "; write 4294967356L for a 64-bit one");
    expect_problem(c, "--set:3: window.max_entries: 99999999999 " NO_L
                      "; write 99999999999L for a 64-bit one");
    assert_int_equal(problems_with(c, "must be between"), 0);
    px_config_destroy(c);
}

static const px_conf_item wide_default_table[] = {
    {.path = "a", .type = PX_CONF_INT, .def = "4294967296"},
    {.path = NULL},
};

/* A default in a program's table is held to the same rule. */
static void test_int_default_out_of_range(void **state)
{
    (void)state;
    px_config *c = px_config_create(wide_default_table);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    expect_problem(c, "<defaults>:0: bad default for 'a': a whole number in it is out of "
                      "libconfig's range (add L?)");
    px_config_destroy(c);
}

/* ---- @include (issue 9, item 11) ---- */

static char incdir[64];

static char *inc_write(const char *name, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", incdir, name) > 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    return path;
}

static px_config *inc_load(const char *path)
{
    px_config *c = px_config_create(px_producer_conf_table);
    assert_non_null(c);
    px_config_load_file(c, path);
    px_config_validate(c);
    return c;
}

/* Removes dir and what is in it (files and one level of directories). */
static void inc_rmtree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) != 0)
            inc_rmtree(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Includes are resolved from the including file's directory (not the
 * working directory), nest, and every setting and problem points at its
 * own file and line. */
static void test_include_resolves_and_locates(void **state)
{
    (void)state;
    strcpy(incdir, "/tmp/px_test_inc_XXXXXX");
    assert_non_null(mkdtemp(incdir));
    char sub[96];
    snprintf(sub, sizeof(sub), "%s/sub", incdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    char *more = inc_write("sub/more.conf", "# more\n\nwindow = { seconds = 0; };\n");
    char *inc =
        inc_write("sub/inc.conf", "inputs = ( { type = \"pcap-file\"; path = \"x.pcap\"; } );\n"
                                  "  @include \"more.conf\"\n"
                                  "privacy = { min_clients = 4294967297; };\n");
    char *mainp = inc_write("main.conf", "org = \"acme\";\n"
                                         "@include \"sub/inc.conf\"\n"
                                         "log = { level = \"loud\"; };\n"
                                         "x = \"@include \\\"nothing.conf\\\"\";\n");
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir("/"), 0); /* not where the files are */
    px_config *c = inc_load(mainp);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    expect_problem(c, "%s:3: 'window.seconds' must be between 1 and 86400 (not 0)", more);
    expect_problem(
        c, "%s:3: privacy.min_clients: 4294967297 " NO_L "; write 4294967297L for a 64-bit one",
        inc);
    expect_problem(c, "%s:3: 'log.level' must be one of error, warning, info, debug (not \"loud\")",
                   mainp);
    expect_problem(c, "%s:4: unknown setting 'x'", mainp);
    assert_int_equal(px_config_problem_count(c), 4);
    assert_string_equal(px_config_list_string(c, "inputs", 0, "path"), "x.pcap");
    px_config_destroy(c);

    /* a syntax error inside an included file is located there */
    free(inc_write("sub/more.conf", "window = {\n  seconds = ;\n};\n"));
    c = inc_load(mainp);
    expect_problem(c, "%s:2: syntax error", more);
    px_config_destroy(c);
    free(more);
    free(inc);
    free(mainp);
}

/* A loop, a missing file, a directory, a binary file, too deep a nest:
 * each a precise problem at the @include (they were all "FILE:1: syntax
 * error", and a directory ended the process from inside libconfig). */
static void test_include_errors(void **state)
{
    (void)state;
    char *a = inc_write("a.conf", "org = \"acme\";\n@include \"b.conf\"\n");
    char *b = inc_write("b.conf", "\n\n@include \"a.conf\"\n");
    px_config *c = inc_load(a);
    expect_problem(c, "%s:3: @include loop: %s -> %s -> %s", b, a, b, a);
    px_config_destroy(c);

    char *m = inc_write("main.conf", "org = \"acme\";\n@include \"missing.conf\"\n");
    c = inc_load(m);
    expect_problem(c,
                   "%s:2: cannot include \"missing.conf\" (%s/missing.conf): No such file or "
                   "directory",
                   m, incdir);
    px_config_destroy(c);
    free(m);

    m = inc_write("main.conf", "@include \"sub\"\n");
    c = inc_load(m);
    expect_problem(c, "%s:1: cannot include \"sub\" (%s/sub): it is a directory", m, incdir);
    px_config_destroy(c);
    free(m);

    char *bin = inc_write("bin.dat", "\x7f"
                                     "ELF\x02\x01\x01");
    m = inc_write("main.conf", "\n@include \"bin.dat\"\n");
    c = inc_load(m);
    expect_problem(c,
                   "%s:2: cannot include \"bin.dat\" (%s): not a configuration file (byte 0x02 "
                   "on its line 1)",
                   m, bin);
    px_config_destroy(c);
    free(m);
    free(bin);

    /* the file itself: a directory, binary data */
    c = inc_load(incdir);
    expect_problem(c, "%s:0: cannot read: it is a directory", incdir);
    px_config_destroy(c);
    char *nul = inc_write("nul.conf", "org = \"acme\";\n\norg2 = \"a");
    FILE *f = fopen(nul, "ab");
    assert_non_null(f);
    fputc(0, f);
    fputs("b\";\n", f);
    fclose(f);
    c = inc_load(nul);
    expect_problem(c, "%s:3: not a configuration file (byte 0x00)", nul);
    px_config_destroy(c);
    free(nul);

    /* d0 includes d1 ... d12: more than libconfig's 10 nested includes */
    for (int i = 0; i <= 12; i++) {
        char name[16], text[64];
        snprintf(name, sizeof(name), "d%d.conf", i);
        snprintf(text, sizeof(text), i < 12 ? "@include \"d%d.conf\"\n" : "org = \"acme\";\n",
                 i + 1);
        free(inc_write(name, text));
    }
    char d0[96], d10[96];
    snprintf(d0, sizeof(d0), "%s/d0.conf", incdir);
    snprintf(d10, sizeof(d10), "%s/d10.conf", incdir);
    c = inc_load(d0);
    expect_problem(c,
                   "%s:1: cannot include \"d11.conf\" (%s/d11.conf): includes nested deeper "
                   "than 10",
                   d10, incdir);
    px_config_destroy(c);
    free(a);
    free(b);
    inc_rmtree(incdir);
}

/* The --help text of a table (caller frees). */
static char *help_of(const px_conf_item *table)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    px_config_print_table(table, f);
    fclose(f);
    return buf;
}

static void test_print_table(void **state)
{
    (void)state;
    char *buf = help_of(px_producer_conf_table);
    assert_non_null(strstr(buf, "window.seconds"));
    assert_non_null(strstr(buf, "inputs[].type"));
    assert_non_null(strstr(buf, "(required)"));
    assert_non_null(strstr(buf, "one of: error warning info debug"));
    free(buf);
}

/* Fragments spliced in by `include` rows, nested, in lists too. */
static const px_conf_item inner_items[] = {
    {.path = "frag.deep", .type = PX_CONF_BOOL, .def = "true", .help = "from a nested fragment"},
    {.path = NULL},
};

static const px_conf_item frag_items[] = {
    {.path = "frag.n",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 9,
     .def = "5",
     .help = "from a fragment"},
    {.include = inner_items},
    {.path = "frag.req", .type = PX_CONF_STRING, .flags = PX_CONF_REQUIRED},
    {.path = NULL},
};

static const px_conf_item child_items[] = {
    {.include = inner_items},
    {.path = "name", .type = PX_CONF_STRING, .flags = PX_CONF_REQUIRED},
    {.path = NULL},
};

static const px_conf_item include_table[] = {
    {.path = "top", .type = PX_CONF_STRING, .def = "\"t\""},
    {.include = frag_items},
    {.include = px_conf_log_items},
    {.include = px_conf_metrics_items},
    {.include = px_conf_kafka_items},
    {.path = "props", .type = PX_CONF_MAP},
    {.path = "items", .type = PX_CONF_LIST, .children = child_items},
    {.path = "last", .type = PX_CONF_INT, .def = "7"},
    {.path = NULL},
};

static void test_included_rows(void **state)
{
    (void)state;
    /* defaults of included rows, and the row after the includes */
    px_config *c = px_config_create(include_table);
    assert_non_null(c);
    assert_int_equal(px_config_set(c, "frag.req=\"x\""), PX_OK);
    assert_int_equal(px_config_validate(c), PX_OK);
    assert_int_equal(px_config_int(c, "frag.n"), 5);
    assert_true(px_config_bool(c, "frag.deep"));
    assert_string_equal(px_config_string(c, "log.level"), "info");
    assert_null(px_config_string(c, "metrics.listen"));
    assert_string_equal(px_config_string(c, "kafka.brokers"), "127.0.0.1:9092");
    assert_int_equal(px_config_map_len(c, "kafka.properties"), 0);
    assert_int_equal(px_config_int(c, "last"), 7);
    px_config_destroy(c);

    /* validation of included rows, located FILE:LINE */
    char *path = write_tmp(
        "top = \"a\";\n"
        "frag = { n = 12; deep = 3; other = 1; };\n"
        "log = { level = \"loud\"; };\n"
        "metrics = { listen = \"localhost:9100\"; };\n"
        "items = ( { frag = { deep = false; }; name = \"i\"; }, { frag = { deep = 1; }; } );\n"
        "last = \"7\";\n"
        "kafka = { brokers = \"\"; properties = { acks = \"all\"; }; };\n");
    c = px_config_create(include_table);
    px_config_load_file(c, path);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    expect_problem(c, "%s:2: 'frag.n' must be between 1 and 9 (not 12)", path);
    expect_problem(c, "%s:2: 'frag.deep' must be a boolean (true or false)", path);
    expect_problem(c, "%s:2: unknown setting 'frag.other'", path);
    expect_problem(c, "%s:1: missing required setting 'frag.req'", path);
    expect_problem(c, "%s:3: 'log.level' must be one of error, warning, info, debug (not \"loud\")",
                   path);
    expect_problem(c,
                   "%s:4: invalid 'metrics.listen' \"localhost:9100\": expected IPv4:port or "
                   "[IPv6]:port",
                   path);
    expect_problem(c, "%s:5: 'items[1].frag.deep' must be a boolean (true or false)", path);
    expect_problem(c, "%s:5: 'items[1]' lacks required member 'name'", path);
    expect_problem(c, "%s:6: 'last' must be an integer", path);
    expect_problem(c, "%s:7: invalid 'kafka.brokers' \"\": must not be empty", path);
    assert_int_equal(px_config_problem_count(c), 10);
    assert_string_equal(px_config_map_value(c, "kafka.properties", 0), "all");
    px_config_destroy(c);
    drop_tmp(path);

    /* --help lists included rows where they stand */
    char *buf = help_of(include_table);
    const char *order[] = {"  top ",
                           "  frag.n ",
                           "from a fragment",
                           "  frag.deep ",
                           "  frag.req ",
                           "(required)",
                           "  log.level ",
                           "one of: error warning info debug",
                           "  metrics.listen ",
                           "  kafka.brokers ",
                           "  kafka.properties ",
                           "  props ",
                           "  items[].frag.deep ",
                           "  items[].name ",
                           "  last "};
    const char *at = buf;
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const char *p = strstr(at, order[i]);
        if (!p)
            fail_msg("--help lacks \"%s\" after offset %zu:\n%s", order[i], (size_t)(at - buf),
                     buf);
        at = p + strlen(order[i]);
    }
    free(buf);
}

static void test_map_load(void **state)
{
    (void)state;
    px_config *c = px_config_create(include_table);
    assert_int_equal(px_config_set(c, "frag.req=\"x\""), PX_OK);
    px_conf_kv *kv = NULL;
    size_t n = 99;
    assert_int_equal(px_config_map_load(c, "props", &kv, &n), PX_OK);
    assert_non_null(kv);
    assert_int_equal(n, 0);
    free(kv);
    assert_int_equal(px_config_set(c, "props.linger.ms=5"), PX_OK);
    assert_int_equal(px_config_set(c, "props.acks=\"all\""), PX_OK);
    assert_int_equal(px_config_validate(c), PX_OK);
    assert_int_equal(px_config_map_load(c, "props", &kv, &n), PX_OK);
    assert_int_equal(n, 2);
    assert_string_equal(kv[0].key, "linger.ms");
    assert_string_equal(kv[0].value, "5");
    assert_string_equal(kv[1].key, "acks");
    assert_string_equal(kv[1].value, "all");
    free(kv);
    px_config_destroy(c);
}

/* A file of `size` bytes: a setting, then a comment filling the rest. */
static char *write_sized(size_t size)
{
    const char *head = "org = \"acme\";\n#";
    char *text = malloc(size + 1);
    assert_non_null(text);
    memset(text, 'x', size);
    memcpy(text, head, strlen(head));
    text[size - 1] = '\n';
    text[size] = '\0';
    char *path = write_tmp(text);
    free(text);
    return path;
}

/* The whole text is bounded (16 MiB): a file of exactly that loads, one
 * byte more is refused with the reason. */
static void test_size_bound(void **state)
{
    (void)state;
    const size_t max = 16u << 20;
    char *path = write_sized(max);
    px_config *c = px_config_create(px_producer_conf_table);
    px_config_load_file(c, path);
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        assert_null(strstr(px_config_problem(c, i), "MiB"));
    assert_string_equal(px_config_string(c, "org"), "acme");
    px_config_destroy(c);
    drop_tmp(path);

    path = write_sized(max + 1);
    c = px_config_create(px_producer_conf_table);
    assert_int_equal(px_config_load_file(c, path), PX_ERR_CONFIG);
    bool said = false;
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        said = said || strstr(px_config_problem(c, i), "the configuration is over 16 MiB");
    if (!said)
        dump_problems(c);
    assert_true(said);
    px_config_destroy(c);
    drop_tmp(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_valid_and_defaults),
        cmocka_unit_test(test_unknown_settings),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_ranges_choices_checks),
        cmocka_unit_test(test_shared_checks),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_list_items),
        cmocka_unit_test(test_map),
        cmocka_unit_test(test_set_creates_and_overrides),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_bad_default_is_reported),
        cmocka_unit_test(test_producer_loader),
        cmocka_unit_test(test_add_problem_locates),
        cmocka_unit_test(test_example_config_is_clean),
        cmocka_unit_test(test_print_table),
        cmocka_unit_test(test_int_literal_out_of_range),
        cmocka_unit_test(test_int_default_out_of_range),
        cmocka_unit_test(test_include_resolves_and_locates),
        cmocka_unit_test(test_include_errors),
        cmocka_unit_test(test_included_rows),
        cmocka_unit_test(test_map_load),
        cmocka_unit_test(test_size_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
