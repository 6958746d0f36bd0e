/* px_store_keys.c: the keys of the store format (docs/STORE-FORMAT.md):
 * records, reverse-index entries, offsets. */
#include <arpa/inet.h>
#include <lmdb.h>
#include <string.h>

#include "px_store_batch.h"

/* ---- names and keys ---- */

/* Record key: fills key (maxkey bytes). long_rdata: rdata goes to the value. */
px_err pxs_rec_key(const px_store *s, const char *name, size_t name_len, uint16_t type,
                   const uint8_t *rd, size_t rd_len, uint8_t *key, size_t *klen, bool *long_rdata)
{
    char rev[PXS_NAME_MAX + 1];
    pxs_name_reverse(name, name_len, rev);
    size_t h = name_len + 3;
    memcpy(key, rev, name_len);
    key[name_len] = 0;
    key[name_len + 1] = (uint8_t)(type >> 8);
    key[name_len + 2] = (uint8_t)type;
    *long_rdata = h + rd_len >= s->maxkey;
    if (!*long_rdata) {
        memcpy(key + h, rd, rd_len);
        *klen = h + rd_len;
        return PX_OK;
    }
    size_t keep = s->maxkey - h - 8;
    memcpy(key + h, rd, keep);
    uint64_t fp = pxs_key_fnv1a64(rd, rd_len);
    for (int i = 0; i < 8; i++)
        key[h + keep + (size_t)i] = (uint8_t)(fp >> (56 - 8 * i));
    *klen = s->maxkey;
    return PX_OK;
}

/* Skips `fields` space-separated fields (MX preference, SRV numbers). */
static const char *skip_fields(const char *s, int fields)
{
    for (int i = 0; i < fields; i++) {
        s = strchr(s, ' ');
        if (!s)
            return NULL;
        while (*s == ' ')
            s++;
    }
    return s;
}

/* The target of a name entry as store format 2 keys it
 * (docs/STORE-FORMAT.md, "rdx"): the target's text from the rdata,
 * lowercased, one trailing dot dropped, 1..PXS_NAME_MAX bytes of
 * 0x21..0x7e. For canonical rdata, whose target is canonical, this is the
 * text itself: what a lookup by target asks for.
 * Into out (PXS_NAME_MAX + 1); PX_ERR_TOOLONG, _INVAL for a byte outside
 * 0x21..0x7e. */
static px_err rdx_target(const char *in, char *out, size_t *len)
{
    size_t n = strlen(in);
    if (n > 1 && in[n - 1] == '.')
        n--;
    if (n > PXS_NAME_MAX)
        return PX_ERR_TOOLONG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x21 || c > 0x7e)
            return PX_ERR_INVAL;
        out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[n] = 0;
    *len = n;
    return PX_OK;
}

/* Reverse-index prefix (at most PXS_NAME_MAX + 2 bytes) of a value:
 * 'a'/'b' + address bytes, or 'n' + name + NUL. Returns false if the
 * record type is not indexed. */
static bool rdx_prefix(uint16_t type, const uint8_t *rd, size_t rd_len, const char *text,
                       uint8_t *out, size_t *olen)
{
    if (type == 1 || type == 28) {
        out[0] = type == 1 ? 'a' : 'b';
        memcpy(out + 1, rd, rd_len);
        *olen = rd_len + 1;
        return true;
    }
    const char *target = NULL;
    if (type == 5 || type == 2 || type == 12 || type == 39)
        target = text;
    else if (type == 15)
        target = skip_fields(text, 1);
    else if (type == 33)
        target = skip_fields(text, 3);
    if (!target || !*target || strcmp(target, ".") == 0)
        return false;
    size_t n;
    if (rdx_target(target, (char *)out + 1, &n) != PX_OK)
        return false;
    out[0] = 'n';
    out[n + 1] = 0;
    *olen = n + 2;
    return true;
}

/* Ends a name entry's key (klen bytes so far, up to the rrtype) with the
 * rec key's rdata part, which tells apart the records of one owner and
 * type that name one target. Where it does not fit, the key is cut to the
 * limit as pxs_rec_key cuts an overlong rdata (its prefix, then as much of its
 * FNV-1a 64 as fits) and the rdata part goes into the value. Returns the
 * key's length. */
static size_t rdx_tail(const px_store *s, const uint8_t *rd, size_t rd_len, uint8_t *key,
                       size_t klen, MDB_val *v)
{
    size_t room = s->maxkey - klen;
    if (rd_len <= room) {
        memcpy(key + klen, rd, rd_len);
        return klen + rd_len;
    }
    size_t keep = room > 8 ? room - 8 : 0;
    memcpy(key + klen, rd, keep);
    uint64_t fp = pxs_key_fnv1a64(rd, rd_len);
    for (size_t i = 0; keep + i < room; i++)
        key[klen + keep + i] = (uint8_t)(fp >> (56 - 8 * i));
    *v = (MDB_val){rd_len, (void *)rd};
    return s->maxkey;
}

/* Reverse-index entry of a new record (layout at the top): prefix,
 * reversed name, NUL, then for names the rrtype and, where the record
 * key's rdata part is not the indexed name (MX, SRV, odd case), that part.
 * *v: the value's payload (empty, or the rdata part of a key cut to the
 * limit). Returns false (no entry) for unindexed types and where the key
 * up to the rrtype would pass the key limit. */
bool pxs_rdx_entry(const px_store *s, uint16_t type, const char *text, const uint8_t *rkey,
                   size_t rklen, size_t name_len, uint8_t *key, MDB_val *k, MDB_val *v)
{
    const uint8_t *rd = rkey + name_len + 3;
    size_t rd_len = rklen - name_len - 3, plen;
    if (!rdx_prefix(type, rd, rd_len, text, key, &plen))
        return false;
    bool addr = key[0] != 'n';
    size_t klen = plen + name_len + 1 + (addr ? 0 : 2);
    if (klen > s->maxkey)
        return false;
    memcpy(key + plen, rkey, name_len + 1);
    if (!addr)
        memcpy(key + plen + name_len + 1, rkey + name_len + 1, 2);
    *v = (MDB_val){0, (void *)""};
    const uint8_t *payload = key + 1; /* an address's bytes are its rdata part */
    size_t pay_len = addr ? plen - 1 : plen - 2;
    if (pay_len != rd_len || memcmp(payload, rd, rd_len) != 0)
        klen = rdx_tail(s, rd, rd_len, key, klen, v);
    *k = (MDB_val){klen, key};
    return true;
}

/* Offset key: topic, NUL, partition (4 bytes big endian); 0 if invalid. */
size_t pxs_off_key(const char *topic, int32_t partition, uint8_t *key)
{
    size_t tl = strlen(topic);
    if (tl == 0 || tl > 249)
        return 0;
    memcpy(key, topic, tl);
    key[tl] = 0;
    uint32_t p = htonl((uint32_t)partition);
    memcpy(key + tl + 1, &p, 4);
    return tl + 5;
}
