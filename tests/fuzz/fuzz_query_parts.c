/* fuzz_query_parts: a member's GET /partitions answer as pdnsx-query
 * --cluster reads it (px_query_parts_parse): never a crash; what parses
 * keeps its promises (N in range, restoring ones owned) and writes back to
 * the same partitions (px_query_parts_json). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/px_query_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_query_parts p;
    uint64_t fp = 0;
    char why[256];
    if (px_query_parts_parse((const char *)data, size, &p, &fp, why, sizeof(why)) != PX_OK)
        return 0;
    if (p.partitions < 1 || p.partitions > PX_QUERY_PARTITIONS_MAX)
        abort();
    for (int32_t i = 0; i < p.partitions; i++)
        if (px_query_parts_is(&p, i, PX_QUERY_PART_RESTORING) &&
            !px_query_parts_is(&p, i, PX_QUERY_PART_OWNED))
            abort();
    char *text = px_query_parts_json(&p);
    px_query_parts back;
    uint64_t back_fp;
    if (!text ||
        px_query_parts_parse(text, strlen(text), &back, &back_fp, why, sizeof(why)) != PX_OK)
        abort();
    if (back.partitions != p.partitions || memcmp(back.state, p.state, (size_t)p.partitions) != 0 ||
        back_fp != px_query_parts_assignment(&p))
        abort();
    px_query_parts_free(&back);
    free(text);
    px_query_parts_free(&p);
    return 0;
}
