/* test_alert_conf: the alerts.* settings fragment: defaults, what it
 * loads, and a bad setting (an unparsable syslog URL, a topic Kafka
 * refuses, an unknown body format) is a problem naming the file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/px_alert_conf.h"

static const px_conf_item table[] = {
    {.include = px_alert_conf_items},
    {.path = NULL},
};

static bool has_problem(const px_config *c, const char *needle)
{
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        if (strstr(px_config_problem(c, i), needle))
            return true;
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        print_message("problem: %s\n", px_config_problem(c, i));
    return false;
}

static void test_defaults(void **state)
{
    (void)state;
    px_config *c = px_config_create(table);
    assert_int_equal(px_config_validate(c), PX_OK);
    px_alert_conf ac;
    px_alert_conf_load(c, &ac);
    assert_null(ac.jsonl);
    assert_string_equal(ac.kafka_topic, "pdnsx.alerts");
    assert_null(ac.syslog);
    assert_int_equal(ac.syslog_body, PX_ALERT_SYSLOG_JSON);
    px_config_destroy(c);
}

static void test_loaded(void **state)
{
    (void)state;
    px_config *c = px_config_create(table);
    px_config_set(c, "alerts.jsonl=\"/var/log/pdnsx/alerts.jsonl\"");
    px_config_set(c, "alerts.kafka_topic=\"\""); /* off */
    px_config_set(c, "alerts.syslog=\"tcp://[2001:db8::1]:6514\"");
    px_config_set(c, "alerts.syslog_format=\"cef\"");
    assert_int_equal(px_config_validate(c), PX_OK);
    px_alert_conf ac;
    px_alert_conf_load(c, &ac);
    assert_string_equal(ac.jsonl, "/var/log/pdnsx/alerts.jsonl");
    assert_null(ac.kafka_topic);
    assert_string_equal(ac.syslog, "tcp://[2001:db8::1]:6514");
    assert_int_equal(ac.syslog_body, PX_ALERT_SYSLOG_CEF);
    px_config_destroy(c);
}

/* Each bad value at its own line of a file: the problem says FILE:LINE. */
static void test_bad_settings_name_file_and_line(void **state)
{
    (void)state;
    char path[] = "/tmp/pxt-alert-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "# alerts\n"
                "alerts:\n"
                "{\n"
                "  syslog = \"udp://siem.example:99999\";\n"
                "  kafka_topic = \"bad topic\";\n"
                "  syslog_format = \"xml\";\n"
                "  jsonl = \"\";\n"
                "};\n");
    fclose(fp);
    px_config *c = px_config_create(table);
    assert_int_equal(px_config_load_file(c, path), PX_OK);
    assert_int_equal(px_config_validate(c), PX_ERR_CONFIG);
    char want[128];
    snprintf(want, sizeof(want), "%s:4: invalid 'alerts.syslog' \"udp://siem.example:99999\"",
             path);
    assert_true(has_problem(c, want));
    snprintf(want, sizeof(want), "%s:5: invalid 'alerts.kafka_topic'", path);
    assert_true(has_problem(c, want));
    snprintf(want, sizeof(want), "%s:6: 'alerts.syslog_format' must be one of json, cef", path);
    assert_true(has_problem(c, want));
    snprintf(want, sizeof(want), "%s:7: invalid 'alerts.jsonl'", path);
    assert_true(has_problem(c, want));
    assert_int_equal(px_config_problem_count(c), 4);
    px_config_destroy(c);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_loaded),
        cmocka_unit_test(test_bad_settings_name_file_and_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
