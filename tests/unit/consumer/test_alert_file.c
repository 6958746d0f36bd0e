/* test_alert_file: the JSON-lines sink and what every sink shares (the
 * cursor, the queue bound, alerts passed over): lines whole and in seq
 * order, delivered only once written, a full disk leaving no torn line,
 * the file reopened after a rotation, an unopenable path retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert_fixture.h"
#include "core/px_clock.h"
#include "metrics_read.h"
#include "px_alert_sink.h"

typedef struct fx {
    char dir[64];
    char path[128];
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/pxt-alert-file-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/alerts.jsonl", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* The file's lines; *n their number. The caller frees text. */
static char **read_lines(const char *path, size_t *n, char **text)
{
    FILE *fp = fopen(path, "r");
    *n = 0;
    *text = NULL;
    if (!fp)
        return NULL;
    size_t cap = 0;
    ssize_t len = getdelim(text, &cap, '\0', fp);
    fclose(fp);
    if (len <= 0)
        return NULL;
    assert_int_equal((*text)[len - 1], '\n'); /* whole lines only */
    size_t newlines = 0;
    for (ssize_t i = 0; i < len; i++)
        newlines += (*text)[i] == '\n';
    char **lines = calloc((size_t)len + 1, sizeof(*lines));
    for (char *save = NULL, *l = strtok_r(*text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        lines[(*n)++] = l;
    assert_int_equal(*n, newlines); /* no empty line */
    return lines;
}

static void expect_lines(const char *path, uint64_t first, size_t count)
{
    size_t n;
    char *text;
    char **lines = read_lines(path, &n, &text);
    assert_int_equal(n, count);
    for (size_t i = 0; i < n; i++) {
        pxt_alert x;
        pxt_alert_make(&x, first + i, 5, 0);
        assert_string_equal(lines[i], x.json);
    }
    free(lines);
    free(text);
}

static px_alert_sink *make(const fx *f, uint64_t next)
{
    px_alert_sink *s = NULL;
    char why[256] = "";
    assert_int_equal(px_alert_file_create(f->path, next, &s, why, sizeof(why)), PX_OK);
    assert_string_equal(px_alert_sink_name(s), "jsonl");
    return s;
}

static void offer(px_alert_sink *s, uint64_t from, uint64_t to)
{
    assert_int_equal(pxt_alert_offer(s, from, to, 0), PX_OK);
}

static void test_lines_in_order_and_cursor(void **state)
{
    fx *f = *state;
    uint64_t before = pxt_metric("pdnsx_alerts_delivered_total{sink=\"jsonl\"}");
    px_alert_sink *s = make(f, 4); /* the store's cursor: 1..3 delivered before */
    assert_int_equal(px_alert_sink_next(s), 4);
    assert_int_equal(px_alert_sink_want(s), 4);
    offer(s, 1, 6); /* 1..3 are below the cursor: ignored */
    assert_int_equal(px_alert_sink_want(s), 7);
    assert_int_equal(px_alert_sink_pending(s), 3);
    /* nothing is delivered before it is written */
    assert_int_equal(px_alert_sink_next(s), 4);
    expect_lines(f->path, 0, 0);
    px_alert_sink_poll(s, px_clock_mono_ms());
    assert_int_equal(px_alert_sink_next(s), 7);
    assert_int_equal(px_alert_sink_pending(s), 0);
    expect_lines(f->path, 4, 3);
    assert_int_equal(pxt_metric("pdnsx_alerts_delivered_total{sink=\"jsonl\"}"), before + 3);
    px_alert_sink_destroy(s);
    px_alert_sink_destroy(NULL);
}

static void test_queue_bound(void **state)
{
    fx *f = *state;
    px_alert_sink *s = make(f, 1);
    offer(s, 1, PX_ALERT_SINK_QUEUE);
    pxt_alert x;
    assert_int_equal(px_alert_sink_offer(s, pxt_alert_make(&x, PX_ALERT_SINK_QUEUE + 1, 5, 0)),
                     PX_ERR_FULL);
    assert_int_equal(px_alert_sink_want(s), PX_ALERT_SINK_QUEUE + 1);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_offer(s, &x.a), PX_OK);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_next(s), PX_ALERT_SINK_QUEUE + 2);
    expect_lines(f->path, 1, PX_ALERT_SINK_QUEUE + 1);
    px_alert_sink_destroy(s);
}

/* An alert whose JSON would tear the file (a newline) is passed over and
 * counted; the cursor moves past it. */
static void test_unfit_passed_over(void **state)
{
    fx *f = *state;
    uint64_t refused = pxt_metric("pdnsx_alerts_refused_total{sink=\"jsonl\"}");
    px_alert_sink *s = make(f, 1);
    offer(s, 1, 1);
    pxt_alert x;
    pxt_alert_make(&x, 2, 5, 0);
    x.json[10] = '\n';
    assert_int_equal(px_alert_sink_offer(s, &x.a), PX_OK);
    pxt_alert_make(&x, 3, 5, 0);
    x.a.json_len = PX_ALERT_JSON_MAX + 1;
    assert_int_equal(px_alert_sink_offer(s, &x.a), PX_OK);
    offer(s, 4, 4);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    assert_int_equal(px_alert_sink_next(s), 5);
    assert_int_equal(pxt_metric("pdnsx_alerts_refused_total{sink=\"jsonl\"}"), refused + 2);
    /* the file byte for byte: no empty line where the others were */
    char want[2 * sizeof(x.json)];
    pxt_alert y;
    size_t len = (size_t)snprintf(want, sizeof(want), "%s\n", pxt_alert_make(&y, 1, 5, 0)->json);
    snprintf(want + len, sizeof(want) - len, "%s\n", pxt_alert_make(&y, 4, 5, 0)->json);
    FILE *fp = fopen(f->path, "r");
    assert_non_null(fp);
    char got[sizeof(want)] = "";
    got[fread(got, 1, sizeof(got) - 1, fp)] = '\0';
    fclose(fp);
    assert_string_equal(got, want);
    px_alert_sink_destroy(s);
}

/* A full disk (the file size limit) mid-line: the part written is cut
 * off again, nothing is delivered, and the lines come whole once there
 * is room. */
static void test_full_disk_no_torn_line(void **state)
{
    fx *f = *state;
    px_alert_sink *s = make(f, 1);
    offer(s, 1, 1);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    uint64_t errors = pxt_metric("pdnsx_alerts_errors_total{sink=\"jsonl\"}");
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + (rlim_t)st.st_size / 2; /* half of the next line */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    offer(s, 2, 3);
    int64_t now = px_clock_mono_ms();
    px_alert_sink_poll(s, now);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(pxt_metric("pdnsx_alerts_errors_total{sink=\"jsonl\"}"), errors + 1);
    assert_int_equal(px_alert_sink_next(s), 2);
    expect_lines(f->path, 1, 1); /* and its size is the old one: no torn tail */
    struct stat st2;
    assert_int_equal(stat(f->path, &st2), 0);
    assert_int_equal(st2.st_size, st.st_size);
    /* backing off: no attempt before its time, then the lines */
    px_alert_sink_poll(s, now + 1);
    assert_int_equal(px_alert_sink_next(s), 2);
    px_alert_sink_poll(s, now + PX_ALERT_BACKOFF_MIN_MS);
    assert_int_equal(px_alert_sink_next(s), 4);
    expect_lines(f->path, 1, 3);
    px_alert_sink_destroy(s);
}

/* Log rotation: rename, then SIGHUP (reopen): new lines in a new file. */
static void test_reopen_after_rename(void **state)
{
    fx *f = *state;
    px_alert_sink *s = make(f, 1);
    offer(s, 1, 2);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    char old[160];
    snprintf(old, sizeof(old), "%s.1", f->path);
    assert_int_equal(rename(f->path, old), 0);
    offer(s, 3, 3); /* before the reopen: still the renamed file */
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    px_alert_sink_reopen(s);
    offer(s, 4, 5);
    assert_true(px_alert_sink_drain(s, px_clock_mono_ms() + 10000));
    expect_lines(old, 1, 3);
    expect_lines(f->path, 4, 2);
    px_alert_sink_destroy(s);
}

/* A path that cannot be opened at a reopen (its directory gone) fails,
 * holds the alerts, and is tried again with back-off until it opens. */
static void test_unopenable_retried(void **state)
{
    fx *f = *state;
    px_alert_sink *s = make(f, 1);
    char moved[96];
    snprintf(moved, sizeof(moved), "%s.gone", f->dir);
    assert_int_equal(rename(f->dir, moved), 0);
    px_alert_sink_reopen(s);
    offer(s, 1, 2);
    int64_t now = px_clock_mono_ms();
    px_alert_sink_poll(s, now);
    assert_int_equal(px_alert_sink_next(s), 1);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    px_alert_sink_poll(s, now + PX_ALERT_BACKOFF_MIN_MS);
    assert_int_equal(px_alert_sink_next(s), 3);
    expect_lines(f->path, 1, 2);
    px_alert_sink_destroy(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", moved);
    assert_int_equal(system(cmd), 0);
}

static void test_create_fails_with_why(void **state)
{
    (void)state;
    px_alert_sink *s = (px_alert_sink *)1;
    char why[256] = "";
    assert_int_equal(px_alert_file_create("/nonexistent-dir/x.jsonl", 1, &s, why, sizeof(why)),
                     PX_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(why, "alerts.jsonl"));
    assert_non_null(strstr(why, "/nonexistent-dir/x.jsonl"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines_in_order_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unfit_passed_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_no_torn_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_after_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unopenable_retried, setup, teardown),
        cmocka_unit_test(test_create_fails_with_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
