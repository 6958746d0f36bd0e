/* test_metrics: registry, exposition format and the /metrics HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics_read.h"
#include "core/px_metrics.h"

/* px_metrics_start with the default limits: the server, or NULL. */
static px_metrics_server *metrics_start(const char *listen, char *err, size_t errlen)
{
    px_metrics_server *s = NULL;
    px_metrics_conf conf = {.listen = listen};
    return px_metrics_start(&conf, &s, err, errlen) == PX_OK ? s : NULL;
}

/* Runs first, before any metric exists: an empty registry writes an
 * empty exposition (and copies nothing from the registry's NULL array,
 * which UBSan stops at). */
static void test_empty_registry(void **state)
{
    (void)state;
    char *text = pxt_metrics_text();
    assert_string_equal(text, "");
    free(text);
}

static void test_counter_and_gauge(void **state)
{
    (void)state;
    px_metric *c = px_metric_counter("t1_events_total", "Events seen.");
    assert_non_null(c);
    /* Same name, same metric. */
    assert_ptr_equal(px_metric_counter("t1_events_total", "ignored"), c);
    px_metric_inc(c);
    px_metric_add(c, 41);
    assert_int_equal(pxt_metric("t1_events_total"), 42);
    assert_int_equal(pxt_metric("t1_events_total"), 42);
    assert_int_equal(pxt_metric("t1_no_such_metric"), 0);

    px_metric *g = px_metric_gauge("t1_queue_depth", "Messages queued.");
    px_metric_set(g, 7);
    px_metric_set(g, 3);
    assert_int_equal(pxt_metric("t1_queue_depth"), 3);
    px_metric_set(g, -5);
    char *text = pxt_metrics_text();
    assert_non_null(strstr(text, "\nt1_queue_depth -5\n"));
    assert_non_null(strstr(text, "# TYPE t1_queue_depth gauge\n"));
    assert_non_null(strstr(text, "# TYPE t1_events_total counter\nt1_events_total 42\n"));
    free(text);
}

static void test_labels_grouped_once(void **state)
{
    (void)state;
    /* Registered out of order, with an unrelated name that sorts between
     * the base name and its labelled variants. */
    px_metric *r = px_metric_counter("t2_dropped_total{reason=\"rcode\"}", "Records dropped.");
    px_metric *o = px_metric_counter("t2_dropped_total_other", "Other family.");
    px_metric *p = px_metric_counter("t2_dropped_total{reason=\"private_addr\"}", "not used");
    px_metric_add(r, 2);
    px_metric_add(p, 5);
    px_metric_inc(o);
    assert_int_equal(pxt_metric("t2_dropped_total{reason=\"rcode\"}"), 2);
    char *text = pxt_metrics_text();
    const char *want = "# HELP t2_dropped_total Records dropped.\n"
                       "# TYPE t2_dropped_total counter\n"
                       "t2_dropped_total{reason=\"private_addr\"} 5\n"
                       "t2_dropped_total{reason=\"rcode\"} 2\n"
                       "# HELP t2_dropped_total_other Other family.\n"
                       "# TYPE t2_dropped_total_other counter\n"
                       "t2_dropped_total_other 1\n";
    assert_non_null(strstr(text, want));
    /* HELP and TYPE appear once per family. */
    const char *first = strstr(text, "# TYPE t2_dropped_total counter");
    assert_null(strstr(first + 1, "# TYPE t2_dropped_total counter"));
    free(text);
}

static void test_help_escaped(void **state)
{
    (void)state;
    px_metric_counter("t3_odd_total", "line one\nback\\slash");
    char *text = pxt_metrics_text();
    assert_non_null(strstr(text, "# HELP t3_odd_total line one\\nback\\\\slash\n"));
    free(text);
}

/* A declared family shows in the exposition before its first labelled
 * series exists (what a dashboard's check scrapes), and then only once. */
static void test_family_without_samples(void **state)
{
    (void)state;
    px_metric_counter_family("t5_lost_total", "Messages lost, by cause.");
    px_metric_gauge_family("t5_lag", "Lag by partition.");
    char *text = pxt_metrics_text();
    assert_non_null(strstr(text, "# HELP t5_lost_total Messages lost, by cause.\n"
                                 "# TYPE t5_lost_total counter\n"));
    assert_non_null(strstr(text, "# TYPE t5_lag gauge\n"));
    /* no series of the bare base name */
    assert_null(strstr(text, "\nt5_lost_total "));
    assert_null(strstr(text, "\nt5_lag "));
    free(text);

    px_metric_add(px_metric_counter("t5_lost_total{cause=\"acl\"}", "ignored"), 3);
    text = pxt_metrics_text();
    assert_non_null(strstr(text, "# HELP t5_lost_total Messages lost, by cause.\n"
                                 "# TYPE t5_lost_total counter\n"
                                 "t5_lost_total{cause=\"acl\"} 3\n"));
    const char *first = strstr(text, "# TYPE t5_lost_total counter");
    assert_null(strstr(first + 1, "# TYPE t5_lost_total counter"));
    free(text);

    /* the base name used as a series after all: it is one */
    px_metric_inc(px_metric_counter("t5_lost_total", "ignored"));
    text = pxt_metrics_text();
    assert_non_null(strstr(text, "\nt5_lost_total 1\n"));
    free(text);
}

/* An unset gauge has no sample until it is set again. */
static void test_gauge_unset(void **state)
{
    (void)state;
    px_metric *g = px_metric_gauge("t6_lag{partition=\"0\"}", "Lag.");
    px_metric_set(g, 12);
    assert_int_equal(pxt_metric("t6_lag{partition=\"0\"}"), 12);
    px_metric_unset(g);
    char *text = pxt_metrics_text();
    assert_non_null(strstr(text, "# TYPE t6_lag gauge\n"));
    assert_null(strstr(text, "t6_lag{partition=\"0\"}"));
    free(text);
    px_metric_set(g, 0);
    text = pxt_metrics_text();
    assert_non_null(strstr(text, "\nt6_lag{partition=\"0\"} 0\n"));
    free(text);
}

static void hook_sets(void *ctx)
{
    px_metric *g = ctx;
    px_metric_set(g, 99);
}

/* A hook computes its gauge at every write; once removed, it no longer does. */
static void test_write_hook(void **state)
{
    (void)state;
    px_metric *g = px_metric_gauge("t7_on_demand", "Computed when written.");
    assert_int_equal(px_metrics_hook_add(hook_sets, g), PX_OK);
    assert_int_equal(pxt_metric("t7_on_demand"), 99);
    px_metrics_hook_remove(hook_sets, g);
    px_metric_set(g, 1);
    assert_int_equal(pxt_metric("t7_on_demand"), 1);
    for (int i = 0; i < PX_METRICS_HOOKS; i++)
        assert_int_equal(px_metrics_hook_add(hook_sets, g), PX_OK);
    assert_int_equal(px_metrics_hook_add(hook_sets, g), PX_ERR_FULL);
    px_metrics_hook_remove(hook_sets, g); /* removes every one of (fn, ctx) */
    px_metric_set(g, 2);
    assert_int_equal(pxt_metric("t7_on_demand"), 2);
}

static void *adder(void *arg)
{
    px_metric *m = arg;
    for (int i = 0; i < 100000; i++)
        px_metric_inc(m);
    return NULL;
}

static void test_concurrent_adds(void **state)
{
    (void)state;
    px_metric *m = px_metric_counter("t4_concurrent_total", "Adds from threads.");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, adder, m), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(pxt_metric("t4_concurrent_total"), 400000);
}

/* Plain HTTP/1.0 client: returns the whole response (status line and body). */
static char *http_get(uint16_t port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char req[256];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: localhost\r\n\r\n", method, path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
    return buf;
}

static int count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static void test_http_server(void **state)
{
    (void)state;
    int fds_before = count_fds();
    px_metric_add(px_metric_counter("t5_served_total", "For the HTTP test."), 9);
    char err[256] = "";
    px_metrics_server *s = metrics_start("127.0.0.1:0", err, sizeof(err));
    assert_non_null(s);
    uint16_t port = px_metrics_server_port(s);
    assert_true(port > 0);

    char *resp = http_get(port, "GET", "/metrics");
    assert_true(strncmp(resp, "HTTP/1.", 7) == 0);
    assert_non_null(strstr(resp, " 200 "));
    assert_non_null(strstr(resp, "text/plain; version=0.0.4"));
    assert_non_null(strstr(resp, "\r\n\r\n# HELP "));
    assert_non_null(strstr(resp, "\nt5_served_total 9\n"));
    free(resp);

    resp = http_get(port, "GET", "/");
    assert_non_null(strstr(resp, " 404 "));
    assert_null(strstr(resp, "t5_served_total"));
    free(resp);
    resp = http_get(port, "DELETE", "/metrics");
    assert_non_null(strstr(resp, " 404 "));
    free(resp);

    /* The port is taken while the server runs. */
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    assert_null(metrics_start(listen, err, sizeof(err)));
    assert_non_null(strstr(err, "in use"));
    px_metrics_server_stop(s);
    px_metrics_server_stop(NULL);
    /* Stopping releases the listening socket and every connection. */
    assert_int_equal(count_fds(), fds_before);
}

static void test_http_server_bad_listen(void **state)
{
    (void)state;
    const char *bad[] = {"localhost:9100", "127.0.0.1", "::1:9100", "[::1]9100", "1.2.3.4:x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        assert_null(metrics_start(bad[i], err, sizeof(err)));
        assert_non_null(strstr(err, "expected IPv4:port or [IPv6]:port"));
    }
    /* IPv6 loopback works where the kernel has it; a refusal must say why. */
    char err[256] = "";
    px_metrics_server *s = metrics_start("[::1]:0", err, sizeof(err));
    if (s)
        assert_true(px_metrics_server_port(s) > 0);
    else
        assert_true(err[0] != '\0');
    px_metrics_server_stop(s);
}

static void test_metrics_start(void **state)
{
    (void)state;
    int fds_before = count_fds();
    px_metric_add(px_metric_counter("t6_served_total", "For px_metrics_start."), 4);
    px_metrics_conf conf = {.listen = "127.0.0.1:0"};
    px_metrics_server *s = NULL;
    char why[256] = "";
    assert_int_equal(px_metrics_start(&conf, &s, why, sizeof(why)), PX_OK);
    uint16_t port = px_metrics_server_port(s);
    assert_true(port > 0);
    char *resp = http_get(port, "GET", "/metrics");
    assert_non_null(strstr(resp, " 200 "));
    assert_non_null(strstr(resp, "\nt6_served_total 4\n"));
    free(resp);
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    px_metrics_server *t = s;
    conf.listen = listen;
    assert_int_equal(px_metrics_start(&conf, &t, why, sizeof(why)), PX_ERR_IO);
    assert_null(t);
    assert_non_null(strstr(why, "in use"));
    conf.listen = "localhost:9100";
    assert_int_equal(px_metrics_start(&conf, &t, why, sizeof(why)), PX_ERR_CONFIG);
    assert_non_null(strstr(why, "metrics.listen \"localhost:9100\""));
    px_metrics_server_stop(s);
    assert_int_equal(count_fds(), fds_before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry),
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_labels_grouped_once),
        cmocka_unit_test(test_help_escaped),
        cmocka_unit_test(test_concurrent_adds),
        cmocka_unit_test(test_http_server),
        cmocka_unit_test(test_http_server_bad_listen),
        cmocka_unit_test(test_metrics_start),
        cmocka_unit_test(test_family_without_samples),
        cmocka_unit_test(test_gauge_unset),
        cmocka_unit_test(test_write_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
