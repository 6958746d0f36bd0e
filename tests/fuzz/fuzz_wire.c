/* fuzz_wire: the varint readers of core/px_wire.h on any bytes. Every
 * value read must come back from its own encoding (px_buf_put_varint),
 * and a strict read never yields more than a lenient one accepts. */
#include <stdint.h>
#include <stdlib.h>

#include "core/px_buf.h"
#include "core/px_wire.h"

static void roundtrip(uint64_t v)
{
    px_buf b = {0};
    if (px_buf_put_varint(&b, v) != PX_OK)
        abort();
    px_wire w;
    px_wire_init(&w, px_buf_data(&b), px_buf_size(&b));
    if (px_wire_varint_strict(&w, 64) != v || px_wire_err(&w) || px_wire_avail(&w))
        abort();
    if (px_unzigzag(px_zigzag((int64_t)v)) != (int64_t)v)
        abort();
    px_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    px_wire w, s;
    px_wire_init(&w, data, size);
    while (px_wire_avail(&w)) {
        s = w;
        uint64_t strict = px_wire_varint_strict(&s, 64);
        uint64_t v = px_wire_varint(&w, 10);
        if (!px_wire_err(&s) && (px_wire_err(&w) || strict != v))
            abort();
        if (px_wire_err(&w))
            break;
        roundtrip(v);
    }
    px_wire_init(&w, data, size);
    while (px_wire_avail(&w)) {
        uint64_t v = px_wire_varint_strict(&w, 32);
        if (!px_wire_err(&w) && v > UINT32_MAX)
            abort();
    }
    return 0;
}
