/* fuzz_store_dlq.c: libFuzzer harness over the dead-letter marks' reader
 * (px_store_dlq.c): what a damaged <store>/dlq.marks feeds the consumer at
 * start-up. The input is the file (after the header line when byte 0 is
 * even, so mutations reach the mark lines; each line then given its
 * checksum too when bit 1 of byte 0 is clear, so they reach the marks'
 * parser and the pruning). px_store_dlq_acked() must
 * report only well-formed marks; px_store_dlq_prune() must keep exactly
 * the marks that the stored offset (pdnsx.obs.a [0] committed up to 10)
 * has not passed, or remove a damaged file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_store_int.h"
#include "store/px_store.h"
#include "store_tmp.h"

static pxt_tmp_store tmp;
static px_store *store;
static char marks[sizeof tmp.dir + 16];

typedef struct tally {
    size_t n, passed;
} tally;

static bool check_mark(void *ctx, const px_store_dlq_ent *m)
{
    tally *t = ctx;
    size_t tl = strlen(m->topic);
    if (tl == 0 || tl > 249 || m->partition < 0 || m->offset < 0)
        abort(); /* not well-formed, yet reported */
    t->n++;
    t->passed += strcmp(m->topic, "pdnsx.obs.a") == 0 && m->partition == 0 && m->offset < 10;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store) {
        store = pxt_tmp_store_open(&tmp, "fuzz-store-dlq", NULL);
        snprintf(marks, sizeof marks, "%s/dlq.marks", tmp.dir);
        px_store_batch *b;
        if (px_store_batch_begin(store, &b) != PX_OK ||
            px_store_set_offset(b, "pdnsx.obs.a", 0, 10) != PX_OK ||
            px_store_batch_commit(b) != PX_OK)
            abort();
    }
    FILE *f = fopen(marks, "w");
    if (!f)
        abort();
    if (size > 0 && data[0] % 2 == 0) {
        fputs("pdnsx-dlq-marks 2\n", f);
        bool seal = (data[0] & 2) == 0;
        data++;
        size--;
        while (seal && size > 0) { /* each line with its checksum */
            const uint8_t *nl = memchr(data, '\n', size);
            size_t n = nl ? (size_t)(nl - data) : size;
            fwrite(data, 1, n, f);
            fprintf(f, " %08x\n", (unsigned)(uint32_t)pxs_sum(-1, "dlq.marks", 9, data, n));
            data += nl ? n + 1 : n;
            size -= nl ? n + 1 : n;
        }
    }
    fwrite(data, 1, size, f);
    fclose(f);
    tally before = {0}, after = {0};
    px_err err = px_store_dlq_acked(store, check_mark, &before);
    size_t left = 99;
    px_err perr = px_store_dlq_prune(store, &left);
    if (perr != PX_OK && perr != PX_ERR_MALFORMED)
        abort();
    if (px_store_dlq_acked(store, check_mark, &after) != PX_OK)
        abort(); /* what prune leaves is well-formed */
    if (after.n != left || after.passed != 0)
        abort();
    if (err == PX_OK && perr == PX_OK && left != before.n - before.passed)
        abort();
    unlink(marks);
    return 0;
}
