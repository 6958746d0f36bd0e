/* test_consumer_conf: the consumer's settings table, its defaults as
 * INTERFACE.md lists them, and the shipped example configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <regex.h>

#include "px_cli.h"
#include "px_consumer_conf.h"

#define EXAMPLE PX_SOURCE_DIR "/etc/pdnsx-consumer.conf"

static void dump_problems(const px_config *c)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        print_message("problem: %s\n", px_config_problem(c, i));
}

static px_config *load(const char *const *sets, size_t n)
{
    px_config *c = px_config_create(px_consumer_conf_table);
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
    assert_int_equal(cc.exit_idle, 0);
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
        "run.exit_idle=5",
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
    assert_int_equal(cc.exit_idle, 5);
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
    expect_rejected("run.exit_idle=-1", "run.exit_idle");
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

/* The shipped example passes --check, and says what INTERFACE.md says. */
static void test_example_config_is_clean(void **state)
{
    (void)state;
    static const px_cli_spec spec = {
        .prog = "pdnsx-consumer",
        .synopsis = "",
        .about = "",
        .table = px_consumer_conf_table,
    };
    char *argv[] = {"pdnsx-consumer", "--check", "-c", EXAMPLE, NULL};
    px_cli_result r;
    assert_int_equal(px_cli_parse(&spec, 4, argv, &r), 0);

    px_config *c = px_config_create(px_consumer_conf_table);
    assert_int_equal(px_config_load_file(c, EXAMPLE), PX_OK);
    px_err err = px_config_validate(c);
    dump_problems(c);
    assert_int_equal(err, PX_OK);
    px_consumer_conf cc;
    assert_int_equal(px_consumer_conf_load(c, &cc), PX_OK);
    assert_string_equal(cc.kafka_topics, "^pdnsx\\.obs\\..+");
    assert_string_equal(cc.kafka_group, "pdnsx-consumer");
    assert_string_equal(cc.store_path, "/var/lib/pdnsx");
    assert_int_equal(cc.batch_records, 250000);
    assert_int_equal(cc.batch_ms, 2000);
    px_consumer_conf_free(&cc);
    px_config_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_regex_selects_org_topics),
        cmocka_unit_test(test_overrides_and_properties),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_example_config_is_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
