/* avro_encode.c: see avro_encode.h. */
#include "avro_encode.h"

#include <stdlib.h>
#include <string.h>

px_err pxt_avro_encode(px_avro_codec *c, const px_avro_obs *obs, const uint8_t **out, size_t *len)
{
    /* room for any head, also one past what DNS texts allow (tests
     * encode oversized observations to see them refused downstream) */
    const char *str[] = {obs->rrname, obs->rrtype, obs->rdata, obs->bailiwick};
    size_t cap = PX_AVRO_HEAD_MAX;
    for (size_t i = 0; i < sizeof(str) / sizeof(str[0]); i++)
        cap += str[i] ? strlen(str[i]) : 0;
    uint8_t *head = malloc(cap);
    if (!head)
        return PX_ERR_NOMEM;
    size_t head_len;
    px_err err = px_avro_encode_head(c, obs, head, cap, &head_len);
    if (err == PX_OK)
        err = px_avro_encode_tail(c, head, head_len, obs, out, len);
    free(head);
    return err;
}

uint64_t pxt_avro_fingerprint(const char *schema_json)
{
    char *canon = NULL;
    if (px_avro_canonical_form(schema_json, &canon) != PX_OK)
        return 0;
    uint64_t fp = px_avro_crc64(canon, strlen(canon));
    free(canon);
    return fp;
}
