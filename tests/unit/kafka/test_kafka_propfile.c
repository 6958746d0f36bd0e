/* test_kafka_propfile.c: kafka.properties_file, the file of librdkafka
 * properties (key=value lines) that keeps secrets out of the main
 * configuration: its format, its problems (FILE:LINE, never the value),
 * reading it safely, and that its properties reach librdkafka after
 * kafka.properties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "core/px_config.h"
#include "kafka/px_kafka.h"
#include "kafka/px_kafka_conf.h"
#include "kafka/px_kafka_propfile.h"

static char dir[64];

static int dir_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_kafka_propfile_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static px_kafka_propfile *parse(const char *text)
{
    px_kafka_propfile *f = px_kafka_propfile_parse(text, strlen(text), "k.properties");
    assert_non_null(f);
    return f;
}

static void test_format(void **state)
{
    (void)state;
    px_kafka_propfile *f = parse("# Kafka client properties\n"
                                 "\n"
                                 "  ! also a comment\n"
                                 "security.protocol=SASL_SSL\r\n"
                                 "  sasl.mechanism = SCRAM-SHA-512  \n"
                                 "sasl.password=a=b#c d\n"
                                 "client.id=\n"
                                 "\tssl.ca.location=/etc/pdnsx/ca.pem");
    assert_int_equal(px_kafka_propfile_problem_count(f), 0);
    size_t n;
    const px_kafka_prop *p = px_kafka_propfile_props(f, &n);
    assert_int_equal(n, 5);
    assert_string_equal(p[0].key, "security.protocol");
    assert_string_equal(p[0].value, "SASL_SSL");
    assert_int_equal(px_kafka_propfile_line(f, 0), 4);
    assert_string_equal(p[1].key, "sasl.mechanism");
    assert_string_equal(p[1].value, "SCRAM-SHA-512");
    /* the first '=' splits; '#' inside a value is the value's */
    assert_string_equal(p[2].key, "sasl.password");
    assert_string_equal(p[2].value, "a=b#c d");
    assert_string_equal(p[3].value, "");
    assert_string_equal(p[4].key, "ssl.ca.location");
    assert_int_equal(px_kafka_propfile_line(f, 4), 8);
    px_kafka_propfile_destroy(f);
    px_kafka_propfile_destroy(NULL);

    f = parse("");
    assert_int_equal(px_kafka_propfile_problem_count(f), 0);
    px_kafka_propfile_props(f, &n);
    assert_int_equal(n, 0);
    px_kafka_propfile_destroy(f);
}

/* Each bad line is one problem at its line, and no problem shows the
 * value written on it (a password). */
static void test_problems_name_the_line_never_the_value(void **state)
{
    (void)state;
    static const char text[] = "sasl.password TOPSECRET1\n"     /* 1: no '=' */
                               " = TOPSECRET2\n"                /* 2: no key */
                               "sasl password=TOPSECRET3\n"     /* 3: a blank in the key */
                               "sasl.password=TOPSECRET4\\\n"   /* 4: a continuation */
                               "sasl.password=TOPSECRET5\n"     /* 5: good */
                               "sasl.password=TOPSECRET6\n"     /* 6: again */
                               "sasl.username=x\0TOPSECRET7\n"; /* 7: a NUL */
    px_kafka_propfile *f = px_kafka_propfile_parse(text, sizeof(text) - 1, "/etc/k.properties");
    assert_non_null(f);
    static const char *const want[] = {
        "/etc/k.properties:1: expected key=value",
        "/etc/k.properties:2: expected key=value: the key is empty",
        "/etc/k.properties:3: 'sasl password' is no property name",
        "/etc/k.properties:4: sasl.password: a value ending in '\\' continues",
        "/etc/k.properties:6: sasl.password is set again (first at line 5)",
        "/etc/k.properties:7: a NUL byte",
    };
    assert_int_equal(px_kafka_propfile_problem_count(f), 6);
    for (size_t i = 0; i < 6; i++) {
        const char *p = px_kafka_propfile_problem(f, i);
        assert_non_null(p);
        assert_true(strncmp(p, want[i], strlen(want[i])) == 0);
        assert_null(strstr(p, "TOPSECRET"));
    }
    size_t n;
    const px_kafka_prop *props = px_kafka_propfile_props(f, &n);
    assert_int_equal(n, 1);
    assert_string_equal(props[0].value, "TOPSECRET5");
    px_kafka_propfile_destroy(f);
}

static void test_read(void **state)
{
    (void)state;
    char path[128], why[256];
    px_kafka_propfile *f = NULL;
    snprintf(path, sizeof(path), "%s/missing", dir);
    assert_int_equal(px_kafka_propfile_read(path, &f, why, sizeof(why)), PX_ERR_IO);
    assert_null(f);
    assert_non_null(strstr(why, "No such file"));
    /* a directory, and a file over the bound, are refused unread */
    assert_int_equal(px_kafka_propfile_read(dir, &f, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "not a regular file"));
    size_t big = PX_KAFKA_PROPFILE_MAX_BYTES + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    snprintf(path, sizeof(path), "%s/big", dir);
    write_file(path, text, big);
    assert_int_equal(px_kafka_propfile_read(path, &f, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "larger than"));
    /* the bound itself is fine */
    write_file(path, text, big - 1);
    free(text);
    assert_int_equal(px_kafka_propfile_read(path, &f, why, sizeof(why)), PX_OK);
    assert_int_equal(px_kafka_propfile_problem_count(f), 0);
    px_kafka_propfile_destroy(f);
}

static px_config *kafka_config(const char *file)
{
    static const px_conf_item table[] = {
        {.include = px_conf_kafka_items},
        {.path = NULL},
    };
    px_config *cfg = px_config_create(table);
    assert_non_null(cfg);
    char set[256];
    snprintf(set, sizeof(set), "kafka.properties_file=\"%s\"", file);
    assert_int_equal(px_config_set(cfg, set), PX_OK);
    return cfg;
}

/* The file's properties come after kafka.properties: a property both set
 * takes the file's value on the librdkafka handle. */
static void test_file_applied_after_the_map(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/client.properties", dir);
    static const char text[] = "client.id=from-file\nsocket.timeout.ms=12345\n";
    write_file(path, text, sizeof(text) - 1);
    px_config *cfg = kafka_config(path);
    assert_int_equal(px_config_set(cfg, "kafka.properties.client.id=\"from-map\""), PX_OK);
    assert_int_equal(px_config_validate(cfg), PX_OK);
    px_kafka_settings s;
    assert_int_equal(px_kafka_settings_load(cfg, &s), PX_OK);
    assert_int_equal(s.n_props, 3);
    assert_int_equal(s.n_file_props, 2);
    px_kafka_conf kc = {.type = RD_KAFKA_PRODUCER, .settings = &s};
    px_kafka *k = NULL;
    char why[512] = "";
    assert_int_equal(px_kafka_create(&kc, &k, why, sizeof(why)), PX_OK);
    char value[64];
    size_t vlen = sizeof(value);
    const rd_kafka_conf_t *rc = rd_kafka_conf(px_kafka_handle(k));
    assert_int_equal(rd_kafka_conf_get(rc, "client.id", value, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "from-file");
    vlen = sizeof(value);
    assert_int_equal(rd_kafka_conf_get(rc, "socket.timeout.ms", value, &vlen), RD_KAFKA_CONF_OK);
    assert_string_equal(value, "12345");
    px_kafka_destroy(k);

    /* a reserved property is refused naming the setting it came from */
    static const px_kafka_prop reserved[] = {{"socket.timeout.ms", "a.setting"}};
    kc.reserved = reserved;
    kc.n_reserved = 1;
    assert_int_equal(px_kafka_create(&kc, &k, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "kafka.properties_file: socket.timeout.ms is set by a.setting"));
    px_kafka_settings_free(&s);
    px_config_destroy(cfg);
}

/* What --check says: the file's problems at the file's lines, librdkafka's
 * refusals there too (without the value), and a file it cannot read at
 * the setting's line. A file with problems is not loaded. */
static void test_check(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/bad.properties", dir);
    static const char text[] = "# ok\nsasl.pasword=TOPSECRET\nsecurity.protocol=carrier-pigeon\n"
                               "no equals sign\n";
    write_file(path, text, sizeof(text) - 1);
    px_config *cfg = kafka_config(path);
    px_kafka_propfile_check(cfg, "kafka.properties_file");
    assert_int_equal(px_config_problem_count(cfg), 3);
    char want[256];
    snprintf(want, sizeof(want), "%s:4: expected key=value", path);
    assert_string_equal(px_config_problem(cfg, 0), want);
    snprintf(want, sizeof(want), "%s:2: librdkafka refuses sasl.pasword: ", path);
    assert_true(strncmp(px_config_problem(cfg, 1), want, strlen(want)) == 0);
    snprintf(want, sizeof(want), "%s:3: librdkafka refuses security.protocol: ", path);
    assert_true(strncmp(px_config_problem(cfg, 2), want, strlen(want)) == 0);
    for (size_t i = 0; i < 3; i++)
        assert_null(strstr(px_config_problem(cfg, i), "TOPSECRET"));
    px_kafka_settings s;
    assert_int_equal(px_kafka_settings_load(cfg, &s), PX_ERR_CONFIG);
    px_kafka_settings_free(&s);
    px_config_destroy(cfg);

    snprintf(path, sizeof(path), "%s/absent.properties", dir);
    cfg = kafka_config(path);
    px_kafka_propfile_check(cfg, "kafka.properties_file");
    assert_int_equal(px_config_problem_count(cfg), 1);
    assert_non_null(
        strstr(px_config_problem(cfg, 0), "--set:1: kafka.properties_file: cannot read"));
    assert_int_equal(px_kafka_settings_load(cfg, &s), PX_ERR_IO);
    px_kafka_settings_free(&s);
    px_config_destroy(cfg);

    /* a property a setting owns is refused in the file as in kafka.properties */
    snprintf(path, sizeof(path), "%s/stats.properties", dir);
    write_file(path, "statistics.interval.ms=5\n", 25);
    cfg = kafka_config(path);
    px_kafka_propfile_check(cfg, "kafka.properties_file");
    assert_int_equal(px_config_problem_count(cfg), 1);
    snprintf(want, sizeof(want),
             "%s:1: statistics.interval.ms: set by kafka.statistics_interval_ms", path);
    assert_true(strncmp(px_config_problem(cfg, 0), want, strlen(want)) == 0);
    px_config_destroy(cfg);

    /* a relative path: the table refuses it (a daemon's working directory is /) */
    cfg = kafka_config("client.properties");
    assert_int_equal(px_config_validate(cfg), PX_ERR_CONFIG);
    assert_non_null(strstr(px_config_problem(cfg, 0), "not an absolute path"));
    px_config_destroy(cfg);
}

/* A file its group or others may read is said to be exposed (a warning at
 * start); the owner's alone is not. */
static void test_exposed(void **state)
{
    (void)state;
    char path[128], why[512] = "";
    snprintf(path, sizeof(path), "%s/secret.properties", dir);
    write_file(path, "sasl.password=x\n", 16);
    assert_int_equal(chmod(path, 0600), 0);
    assert_false(px_kafka_propfile_exposed(path, why, sizeof(why)));
    assert_false(px_kafka_propfile_exposed(NULL, why, sizeof(why)));
    assert_int_equal(chmod(path, 0640), 0);
    assert_true(px_kafka_propfile_exposed(path, why, sizeof(why)));
    assert_non_null(strstr(why, "is open to its group (mode 0640)"));
    assert_int_equal(chmod(path, 0644), 0);
    assert_true(px_kafka_propfile_exposed(path, why, sizeof(why)));
    assert_non_null(strstr(why, "is open to every user (mode 0644)"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_problems_name_the_line_never_the_value),
        cmocka_unit_test(test_read),
        cmocka_unit_test(test_file_applied_after_the_map),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_exposed),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
