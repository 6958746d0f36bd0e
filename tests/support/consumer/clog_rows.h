/* clog_rows.h: the changelog topic's rows as tests write them and read
 * them back (consumer/px_consumer_changelog.h): rows made from a
 * partition, a key number and a version, published in one call, and what
 * a restore gives, collected and compared row for row. For the tests of
 * the changelog and of what restores from it. Test support: failures are
 * cmocka assertions. */
#ifndef PXT_CLOG_ROWS_H
#define PXT_CLOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "px_consumer_changelog.h"

/* A row: key "K<p>.<i>" after a table tag byte, value "V<p>.<i>.<version>"
 * padded to a size that varies with both, or none (a tombstone). */
typedef struct pxt_row {
    uint8_t key[64];
    size_t key_len;
    uint8_t *val; /* NULL: a tombstone; malloc'd */
    size_t val_len;
} pxt_row;

void pxt_row_make(pxt_row *r, int p, unsigned key, unsigned version, bool tomb);
px_changelog_msg pxt_row_msg(const pxt_row *r);
/* n rows of partition p, keys 0 .. n-1 at version, row `tomb` a tombstone
 * (-1: none); m (may be NULL) gets their messages. */
void pxt_rows_make(pxt_row *rows, px_changelog_msg *m, size_t n, int p, unsigned version, int tomb);
void pxt_rows_free(pxt_row *rows, size_t n);

/* Publishes the rows to partition p in one call (fails the test if it
 * fails); returns the position after them. */
int64_t pxt_publish(px_changelog *cl, int32_t p, const pxt_row *rows, size_t n);

/* `rounds` publishes of keys 0 .. keys-1 of partition 0, each at the
 * version of its round, key `tomb` deleted in the last one (-1: none); the
 * last round's rows stay in last (keys of them, freed by the caller).
 * Returns the rows published. */
size_t pxt_publish_rounds(px_changelog *cl, unsigned keys, unsigned rounds, int tomb,
                          pxt_row *last);

/* What a restore gave: every message copied, and the calls. */
typedef struct pxt_got {
    pxt_row *rows;
    size_t n, cap;
    size_t calls;
    int64_t next;     /* the last call's */
    px_err fail_with; /* returned by the first call instead of taking it */
} pxt_got;

/* The apply callback of a restore into a pxt_got (ctx): checks each
 * call's chunk size and that positions grow. */
px_err pxt_collect(void *ctx, const px_changelog_msg *m, size_t n, int64_t next);
void pxt_got_free(pxt_got *g);
/* Restores partition p from `from` into a pxt_got (fails the test if the
 * restore fails). */
pxt_got pxt_restore(px_changelog *cl, int32_t p, int64_t from);

/* The same rows in the same order: keys, values, tombstones. */
void pxt_assert_rows(const pxt_row *want, size_t n_want, const pxt_row *have, size_t n_have);
/* A restore applied as a store would (each row overwrites its key): for
 * each of the n keys of last, the last row of have with its key into
 * table[k] (NULL when none); then each key of last, except `tomb`, has
 * last's value. table[tomb] is returned for the caller to judge. */
const pxt_row *pxt_assert_last_values(const pxt_got *have, const pxt_row *last, size_t n, int tomb);

#endif
