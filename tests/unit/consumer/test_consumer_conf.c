/* test_consumer_conf: the consumer's settings table, its defaults as
 * docs/INTERFACE.md lists them ("pdnsx-consumer settings"), and the
 * shipped example configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <regex.h>

#include "core/px_cli.h"
#include "consumer/px_consumer_conf.h"

#define EXAMPLE PX_SOURCE_DIR "/etc/pdnsx-consumer.conf"

static void dump_problems(const px_config *c)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        print_message("problem: %s\n", px_config_problem(c, i));
}

static px_config *load(const char *const *sets, size_t n)
{
    px_config *c = px_config_create(px_query_conf_table);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        px_config_set(c, sets[i]);
    return c;
}

static bool has_problem(const px_config *c, const char *needle)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        if (strstr(px_config_problem(c, i), needle))
            return true;
    return false;
}

static void test_defaults(void **state)
{
    (void)state;
    px_config *c = load(NULL, 0);
    assert_int_equal(px_config_validate(c), PX_OK);
    px_consumer_conf cc;
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    assert_string_equal(cc.kafka_brokers, "127.0.0.1:9092");
    assert_string_equal(cc.kafka_group, "pdnsx-consumer");
    assert_string_equal(cc.kafka_topics, "^pdnsx\\.obs\\..+");
    assert_string_equal(cc.store_path, "/var/lib/pdnsx");
    assert_string_equal(cc.log_level, "info");
    assert_int_equal(cc.batch_records, 250000);
    assert_int_equal(cc.batch_ms, 2000);
    assert_int_equal(cc.store_check, PX_STORE_CHECK_FULL);
    assert_false(cc.drop_damaged_log);
    assert_int_equal(cc.exit_idle, 0);
    /* aligned in event time unless turned off (README, "Memory") */
    assert_int_equal(cc.align_seconds, 60);
    assert_int_equal(cc.dlq_max_bytes, PX_QUERY_CONF_DLQ_MAX_BYTES); /* the table says so too */
    assert_null(cc.geoip_country);
    assert_null(cc.geoip_asn);
    assert_null(cc.metrics_listen);
    assert_null(cc.query_listen);
    assert_int_equal(cc.n_kafka_properties, 0);
    assert_int_equal(cc.query_limits.def, 10000);
    assert_int_equal(cc.query_limits.max, 1000000);
    assert_int_equal(cc.http.max_connections, 64);
    assert_int_equal(cc.http.max_per_client, 16);
    assert_int_equal(cc.http.request_timeout_ms, 10000);
    assert_int_equal(cc.http.answer_timeout_ms, 60000);
    px_consumer_conf_free(&cc);
    px_config_destroy(c);
}

/* The default subscription takes every organisation's topic and nothing
 * else, in particular not the dead-letter topic it writes to. */
static void test_default_regex_selects_org_topics(void **state)
{
    (void)state;
    px_config *c = load(NULL, 0);
    const char *re_text = px_config_string(c, "kafka.topics");
    regex_t re;
    assert_int_equal(regcomp(&re, re_text, REG_EXTENDED | REG_NOSUB), 0);
    assert_int_equal(regexec(&re, "pdnsx.obs.org-a", 0, NULL, 0), 0);
    assert_int_equal(regexec(&re, "pdnsx.obs.x", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&re, "pdnsx.dlq", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&re, "pdnsx.alerts", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&re, "pdnsx.obs.", 0, NULL, 0), 0);
    assert_int_not_equal(regexec(&re, "pdnsxXobsXorg", 0, NULL, 0), 0);
    regfree(&re);
    px_config_destroy(c);
}

static void test_overrides_and_properties(void **state)
{
    (void)state;
    const char *sets[] = {
        "kafka.topics=\"pdnsx.obs.org-a\"",
        "store.path=\"/srv/pdnsx\"",
        "store.batch_records=100",
        "store.batch_ms=20",
        "store.check_on_open=\"meta\"",
        "store.drop_damaged_log=true",
        "run.exit_idle=5",
        "dlq.max_bytes=4096",
        "query.listen=\"127.0.0.1:9713\"",
        "geoip.country=\"/var/lib/pdnsx/c.mmdb\"",
        "kafka.properties={ fetch = { wait = { max = { ms = 50; }; }; }; }",
    };
    px_config *c = load(sets, sizeof(sets) / sizeof(sets[0]));
    px_err err = px_config_validate(c);
    dump_problems(c);
    assert_int_equal(err, PX_OK);
    px_consumer_conf cc;
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    assert_string_equal(cc.kafka_topics, "pdnsx.obs.org-a");
    assert_string_equal(cc.store_path, "/srv/pdnsx");
    assert_int_equal(cc.batch_records, 100);
    assert_int_equal(cc.batch_ms, 20);
    assert_int_equal(cc.store_check, PX_STORE_CHECK_META);
    assert_true(cc.drop_damaged_log);
    assert_int_equal(cc.exit_idle, 5);
    assert_int_equal(cc.dlq_max_bytes, 4096);
    assert_string_equal(cc.query_listen, "127.0.0.1:9713");
    assert_string_equal(cc.geoip_country, "/var/lib/pdnsx/c.mmdb");
    assert_null(cc.geoip_asn);
    assert_int_equal(cc.n_kafka_properties, 1);
    assert_string_equal(cc.kafka_properties[0].key, "fetch.wait.max.ms");
    assert_string_equal(cc.kafka_properties[0].value, "50");
    px_consumer_conf_free(&cc);
    px_config_destroy(c);
}

static void expect_rejected(const char *set, const char *needle)
{
    px_config *c = load(&set, 1);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    if (!has_problem(c, needle)) {
        dump_problems(c);
        fail_msg("'%s': no problem mentioning '%s'", set, needle);
    }
    px_config_destroy(c);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_rejected("kafka.topics=\"^pdnsx\\\\.obs[\"", "kafka.topics");
    expect_rejected("kafka.topics=\"no spaces allowed\"", "kafka.topics");
    expect_rejected("store.batch_records=0", "store.batch_records");
    expect_rejected("store.batch_ms=0", "store.batch_ms");
    expect_rejected("store.check_on_open=\"none\"", "store.check_on_open");
    expect_rejected("store.drop_damaged_log=1", "store.drop_damaged_log");
    expect_rejected("run.exit_idle=-1", "run.exit_idle");
    expect_rejected("dlq.max_bytes=4095", "dlq.max_bytes"); /* our headers must fit */
    expect_rejected("dlq.max_bytes=100000001", "dlq.max_bytes");
    expect_rejected("metrics.listen=\"localhost\"", "metrics.listen");
    expect_rejected("query.listen=\"127.0.0.1\"", "query.listen");
    expect_rejected("store.path=\"\"", "store.path");
    expect_rejected("log.level=\"loud\"", "log.level");
    expect_rejected("kafka.topic=\"pdnsx.obs.a\"", "kafka.topic");   /* the producer's name */
    expect_rejected("stor.path=\"/tmp\"", "unknown setting 'stor'"); /* typo */
    expect_rejected("query.limit=0", "query.limit");
    expect_rejected("query.max_limit=1000000001", "query.max_limit");
    expect_rejected("http.max_connections=0", "http.max_connections");
    expect_rejected("http.max_per_client=0", "http.max_per_client");
    expect_rejected("http.request_timeout=0", "http.request_timeout");
    expect_rejected("http.answer_timeout=86401", "http.answer_timeout");
    expect_rejected("http.timeout=5", "unknown setting 'http.timeout'");
}

/* trust.*: the shipped defaults, and values the table refuses. */
static void test_trust_settings(void **state)
{
    (void)state;
    px_config *c = load(NULL, 0);
    assert_int_equal(px_config_validate(c), PX_OK);
    px_consumer_conf cc;
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    static const char *const types[] = {"A",     "AAAA", "CNAME", "MX",  "NS", "PTR",
                                        "DNAME", "SRV",  "SOA",   "TXT", "CAA"};
    assert_int_equal(cc.n_trust_rrtypes, sizeof(types) / sizeof(types[0]));
    for (size_t i = 0; i < cc.n_trust_rrtypes; i++)
        assert_string_equal(cc.trust_rrtypes[i], types[i]);
    assert_int_equal(cc.n_trust_local_zones, 0);
    assert_false(cc.trust_private_answers);
    assert_int_equal(cc.trust_time_floor, 1072915200); /* 2004-01-01T00:00:00Z */
    assert_int_equal(cc.trust_future_skew, 300);
    assert_int_equal(cc.trust_org_new_records, 20000);
    px_consumer_conf_free(&cc);
    px_config_destroy(c);

    const char *sets[] = {"trust.rrtypes=[\"A\", \"TYPE65280\"]",
                          "trust.local_zones=[\"Corp.Example.COM.\"]", "trust.org_new_records=0"};
    c = load(sets, 3);
    assert_int_equal(px_config_validate(c), PX_OK);
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    assert_int_equal(cc.n_trust_rrtypes, 2);
    assert_string_equal(cc.trust_rrtypes[1], "TYPE65280");
    assert_int_equal(cc.n_trust_local_zones, 1);
    assert_string_equal(cc.trust_local_zones[0], "Corp.Example.COM.");
    assert_int_equal(cc.trust_org_new_records, 0);
    px_consumer_conf_free(&cc);
    px_config_destroy(c);

    expect_rejected("trust.rrtypes=[\"A\", \"NOPE\"]", "trust.rrtypes");
    expect_rejected("trust.local_zones=[\"a..b\"]", "trust.local_zones");
    expect_rejected("trust.local_zones=[\".\"]", "trust.local_zones");
    expect_rejected("trust.future_skew=-1", "trust.future_skew");
    expect_rejected("trust.future_skew=86401", "trust.future_skew");
    expect_rejected("trust.time_floor=-1", "trust.time_floor");
    expect_rejected("trust.org_new_records=-1", "trust.org_new_records");
    expect_rejected("trust.private_answers=1", "trust.private_answers");
}

/* The shipped example passes --check, and says what docs/INTERFACE.md says. */
static void test_example_config_is_clean(void **state)
{
    (void)state;
    static const px_cli_spec spec = {
        .prog = "pdnsx-consumer",
        .synopsis = "",
        .about = "",
        .table = px_query_conf_table,
        .check_config = px_consumer_conf_check, /* as pdnsx-consumer checks it */
    };
    char *argv[] = {"pdnsx-consumer", "--check", "-c", EXAMPLE, NULL};
    px_cli_result r;
    assert_int_equal(px_cli_parse(&spec, 4, argv, &r), 0);

    px_config *c = px_config_create(px_query_conf_table);
    assert_int_equal(px_config_load_file(c, EXAMPLE), PX_OK);
    px_err err = px_config_validate(c);
    dump_problems(c);
    assert_int_equal(err, PX_OK);
    px_consumer_conf cc;
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    assert_string_equal(cc.kafka_topics, "^pdnsx\\.obs\\..+");
    assert_string_equal(cc.kafka_group, "pdnsx-consumer");
    assert_string_equal(cc.kafka_changelog_topic, "pdnsx.state");
    assert_string_equal(cc.store_path, "/var/lib/pdnsx");
    assert_int_equal(cc.batch_records, 250000);
    assert_int_equal(cc.batch_ms, 2000);
    assert_int_equal(cc.align_seconds, 60);
    px_consumer_conf_free(&cc);
    px_config_destroy(c);
}

/* Validated and checked as pdnsx-consumer does at --check and start. */
static px_config *checked(const char *const *sets, size_t n)
{
    px_config *c = load(sets, n);
    px_config_validate(c);
    px_consumer_conf_check(NULL, c);
    return c;
}

static void expect_exact(const px_config *c, const char *want)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        if (strcmp(px_config_problem(c, i), want) == 0)
            return;
    dump_problems(c);
    fail_msg("no problem \"%s\"", want);
}

/* What passed --check and then stopped the consumer with exit 1 (issue 9,
 * item 11): a store directory that cannot be made, GeoIP files that are
 * missing or not MaxMind DBs, properties librdkafka does not take, and a
 * whole number libconfig would cut. */
static void test_check_finds_runtime_failures(void **state)
{
    (void)state;
    char dir[] = "/tmp/px_test_cconf_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[64], store[96], text[96], missing[96];
    snprintf(file, sizeof(file), "%s/file", dir);
    snprintf(text, sizeof(text), "%s/text.mmdb", dir);
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("this is not a MaxMind database\n", f);
    fclose(f);
    assert_int_equal(link(text, file), 0);

    /* a store directory that exists, or whose parent does: fine */
    char set[256];
    snprintf(set, sizeof(set), "store.path=\"%s\"", dir);
    const char *ok[] = {set};
    px_config *c = checked(ok, 1);
    dump_problems(c);
    assert_int_equal(px_config_problem_count(c), 0);
    px_config_destroy(c);
    snprintf(store, sizeof(store), "store.path=\"%s/new\"", dir);
    ok[0] = store;
    c = checked(ok, 1);
    assert_int_equal(px_config_problem_count(c), 0);
    px_config_destroy(c);

    char s1[160], s2[160], s3[160];
    snprintf(missing, sizeof(missing), "%s/no/such", dir);
    snprintf(s1, sizeof(s1), "store.path=\"%s\"", missing);
    snprintf(s2, sizeof(s2), "geoip.country=\"%s/none.mmdb\"", dir);
    snprintf(s3, sizeof(s3), "geoip.asn=\"%s\"", text);
    const char *bad[] = {
        s1,
        s2,
        s3,
        "kafka.properties={ fetch = { wait = { max = { ms = 50; }; }; }; no = { such = 1; }; }",
        "kafka.properties.auto={ offset = { reset = \"sometime\"; }; }",
        "store.batch_ms=4294967297",
    };
    c = checked(bad, sizeof(bad) / sizeof(bad[0]));
    char want[512];
    snprintf(want, sizeof(want),
             "--set:1: 'store.path' \"%s\" does not exist and cannot be created: %s/no: No such "
             "file or directory",
             missing, dir);
    expect_exact(c, want);
    snprintf(want, sizeof(want),
             "--set:2: geoip.country: %s/none.mmdb: cannot open: No such file or directory", dir);
    expect_exact(c, want);
    snprintf(want, sizeof(want), "--set:3: geoip.asn: %s: not a MaxMind DB", text);
    assert_true(has_problem(c, want));
    expect_exact(c, "--set:4: kafka.properties.no.such: librdkafka refuses \"1\": No such "
                    "configuration property: \"no.such\"");
    expect_exact(c, "--set:5: kafka.properties.auto.offset.reset: librdkafka refuses "
                    "\"sometime\": Invalid value \"sometime\" for configuration property "
                    "\"auto.offset.reset\"");
    expect_exact(c, "--set:6: store.batch_ms: 4294967297 is out of range for an integer without "
                    "L (-2147483648 to 2147483647); write 4294967297L for a 64-bit one");
    assert_int_equal(px_config_problem_count(c), 6);
    px_config_destroy(c);

    /* store.path naming a file */
    snprintf(s1, sizeof(s1), "store.path=\"%s\"", file);
    const char *notdir[] = {s1};
    c = checked(notdir, 1);
    snprintf(want, sizeof(want), "--set:1: 'store.path' \"%s\": not a directory", file);
    expect_exact(c, want);
    px_config_destroy(c);
    unlink(file);
    unlink(text);
    rmdir(dir);
}

/* The detection and alert settings are the consumer's: a bad known-domains
 * line is named as FILE:LINE, an unreadable file, an unknown rule, a bad
 * brand and a bad syslog URL are problems at their setting; good ones load. */
static void test_check_detection_settings(void **state)
{
    (void)state;
    char known[] = "/tmp/px_test_known_XXXXXX";
    int fd = mkstemp(known);
    assert_true(fd >= 0);
    const char text[] = "# top sites\n1,example.com\n2,www.example.org\n3,bad..name\n";
    assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
    close(fd);
    char s1[160];
    snprintf(s1, sizeof(s1), "detect.known_domains=\"%s\"", known);
    const char *bad[] = {
        s1,
        "detect.rules=[\"pdnsx.no_such_rule\"]",
        "detect.brands=[\"not a brand\"]",
        "alerts.syslog=\"ftp://127.0.0.1:514\"",
        "detect.known_domains=\"/nonexistent/known.txt\"",
    };
    px_config *c = checked(bad, 4);
    char want[512];
    snprintf(want, sizeof(want), "--set:1: 'detect.known_domains' %s:4: ", known);
    assert_true(has_problem(c, want));
    assert_true(has_problem(c, "--set:2: 'detect.rules' must be one of"));
    assert_true(has_problem(c, "--set:3: invalid 'detect.brands'"));
    assert_true(has_problem(c, "--set:4: invalid 'alerts.syslog'"));
    assert_int_equal(px_config_problem_count(c), 4);
    px_config_destroy(c);
    c = checked(bad + 4, 1);
    expect_exact(c, "--set:1: 'detect.known_domains' /nonexistent/known.txt: No such file or "
                    "directory");
    px_config_destroy(c);

    /* a good file loads, and the settings reach the struct */
    FILE *f = fopen(known, "w");
    assert_non_null(f);
    fputs("1,example.com\n2,www.example.co.uk\n", f);
    fclose(f);
    const char *good[] = {s1, "detect.rules=[\"pdnsx.geo_shift\"]",
                          "detect.brands=[\"paypal.com\"]", "alerts.jsonl=\"/tmp/a.jsonl\"",
                          "alerts.kafka_topic=\"\""};
    c = checked(good, 5);
    dump_problems(c);
    assert_int_equal(px_config_problem_count(c), 0);
    px_consumer_conf cc;
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    assert_false(cc.detect.rules[PX_DETECT_BURST]);
    assert_true(cc.detect.rules[PX_DETECT_GEO]);
    assert_int_equal(cc.detect.n_brands, 1);
    assert_string_equal(cc.detect.brands[0], "paypal.com");
    assert_string_equal(cc.alerts.jsonl, "/tmp/a.jsonl");
    assert_null(cc.alerts.kafka_topic);
    px_detect_known *k = NULL;
    char why[256] = "";
    assert_int_equal(px_consumer_known_read(cc.known_domains, &k, why, sizeof(why)), PX_OK);
    assert_int_equal(px_detect_known_count(k), 2);
    assert_true(px_detect_known_has(k, "example.co.uk", 13));
    px_detect_known_destroy(k);
    px_consumer_conf_free(&cc);
    px_config_destroy(c);
    unlink(known);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_regex_selects_org_topics),
        cmocka_unit_test(test_overrides_and_properties),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_trust_settings),
        cmocka_unit_test(test_example_config_is_clean),
        cmocka_unit_test(test_check_finds_runtime_failures),
        cmocka_unit_test(test_check_detection_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
