/* metrics_read.c: metric values read back from px_metrics_write()'s text. */
#include "metrics_read.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/px_metrics.h"

char *pxt_metrics_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    px_metrics_write(f);
    assert_int_equal(fclose(f), 0);
    /* A copy: gcc's dangling-pointer check cannot see through open_memstream. */
    char *copy = strdup(buf);
    free(buf);
    assert_non_null(copy);
    return copy;
}

/* Adds the values of the series that match: the exact name, or (base)
 * every series whose name is base or base{...}. */
static uint64_t pxt_metric_scan(const char *name, bool base)
{
    char *text = pxt_metrics_text();
    size_t n = strlen(name);
    uint64_t sum = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *space = strrchr(line, ' ');
        if (line[0] == '#' || !space)
            continue;
        size_t l = (size_t)(space - line);
        bool match = base ? l >= n && strncmp(line, name, n) == 0 && (l == n || line[n] == '{')
                          : l == n && strncmp(line, name, n) == 0;
        if (match)
            sum += strtoull(space + 1, NULL, 10);
    }
    free(text);
    return sum;
}

uint64_t pxt_metric(const char *name)
{
    return pxt_metric_scan(name, false);
}

uint64_t pxt_metric_sum(const char *base)
{
    return pxt_metric_scan(base, true);
}
