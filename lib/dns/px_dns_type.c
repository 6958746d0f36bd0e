/* RR type mnemonics (IANA registry) and RFC 3597 "TYPEnnn". */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/px_hash.h"
#include "dns/px_dns_type.h"

/* clang-format off */
#define PX_DNS_TYPES(X)                                                                            \
    X("A", 1) X("NS", 2) X("MD", 3) X("MF", 4) X("CNAME", 5) X("SOA", 6) X("MB", 7) X("MG", 8)     \
    X("MR", 9) X("NULL", 10) X("WKS", 11) X("PTR", 12) X("HINFO", 13) X("MINFO", 14) X("MX", 15)   \
    X("TXT", 16) X("RP", 17) X("AFSDB", 18) X("X25", 19) X("ISDN", 20) X("RT", 21) X("NSAP", 22)   \
    X("NSAP-PTR", 23) X("SIG", 24) X("KEY", 25) X("PX", 26) X("GPOS", 27) X("AAAA", 28)            \
    X("LOC", 29) X("NXT", 30) X("EID", 31) X("NIMLOC", 32) X("SRV", 33) X("ATMA", 34)              \
    X("NAPTR", 35) X("KX", 36) X("CERT", 37) X("A6", 38) X("DNAME", 39) X("SINK", 40)              \
    X("OPT", 41) X("APL", 42) X("DS", 43) X("SSHFP", 44) X("IPSECKEY", 45) X("RRSIG", 46)          \
    X("NSEC", 47) X("DNSKEY", 48) X("DHCID", 49) X("NSEC3", 50) X("NSEC3PARAM", 51) X("TLSA", 52)  \
    X("SMIMEA", 53) X("HIP", 55) X("NINFO", 56) X("RKEY", 57) X("TALINK", 58) X("CDS", 59)         \
    X("CDNSKEY", 60) X("OPENPGPKEY", 61) X("CSYNC", 62) X("ZONEMD", 63) X("SVCB", 64)             \
    X("HTTPS", 65) X("SPF", 99) X("NID", 104) X("L32", 105) X("L64", 106) X("LP", 107)             \
    X("EUI48", 108) X("EUI64", 109) X("TKEY", 249) X("TSIG", 250) X("IXFR", 251) X("AXFR", 252)    \
    X("MAILB", 253) X("MAILA", 254) X("ANY", 255) X("URI", 256) X("CAA", 257) X("AVC", 258)        \
    X("DOA", 259) X("AMTRELAY", 260) X("TA", 32768) X("DLV", 32769)
/* clang-format on */

static const char *known_name(uint16_t type)
{
    switch (type) {
#define X(name, value)                                                                             \
    case value:                                                                                    \
        return name;
        PX_DNS_TYPES(X)
#undef X
    default:
        return NULL;
    }
}

const char *px_dns_type_name(uint16_t type, char *buf, size_t len)
{
    const char *name = known_name(type);
    if (name)
        return name;
    /* "TYPE" + up to 5 digits + NUL */
    char digits[5];
    size_t n = 0;
    unsigned v = type;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (!buf || len < 4 + n + 1)
        return "";
    char *o = buf;
    *o++ = 'T';
    *o++ = 'Y';
    *o++ = 'P';
    *o++ = 'E';
    while (n)
        *o++ = digits[--n];
    *o = '\0';
    return buf;
}

static int parse_generic(const char *s)
{
    if (strncasecmp(s, "TYPE", 4) != 0)
        return -1;
    s += 4;
    if (*s == '\0')
        return -1;
    long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
        if (v > 65535)
            return -1;
    }
    return (int)v;
}

/* Mnemonics by a hash of their uppercase spelling: the consumer parses
 * the rrtype of every message twice, and a linear strcasecmp scan of the
 * registry showed in its profile. Built once; 256 slots for ~90 names keep
 * the probes short. */
#define TYPE_SLOTS 256
#define TYPE_NAME_MAX 16 /* longest mnemonic is 10 letters */

static struct type_slot {
    const char *name; /* NULL: empty */
    int value;
} type_table[TYPE_SLOTS];
static pthread_once_t type_once = PTHREAD_ONCE_INIT;

/* The table's keys are the registry's fixed names, not traffic, so a
 * fixed seed is enough: a looked-up text only decides where the probe
 * starts, and the probe ends at the next empty slot. */
static unsigned type_hash(const char *s, size_t n)
{
    return (unsigned)px_hash64(s, n, 0);
}

static void type_table_init(void)
{
    static const struct type_slot types[] = {
#define X(n, v) {n, v},
        PX_DNS_TYPES(X)
#undef X
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        unsigned h = type_hash(types[i].name, strlen(types[i].name));
        while (type_table[h % TYPE_SLOTS].name)
            h++;
        type_table[h % TYPE_SLOTS] = types[i];
    }
}

int px_dns_type_parse(const char *name)
{
    if (!name)
        return -1;
    char up[TYPE_NAME_MAX];
    size_t n = 0;
    for (; name[n] && n < sizeof up; n++) {
        char ch = name[n];
        up[n] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    }
    if (n < sizeof up) { /* longer: no mnemonic, maybe TYPEnnnnn... */
        pthread_once(&type_once, type_table_init);
        for (unsigned h = type_hash(up, n);; h++) {
            const struct type_slot *e = &type_table[h % TYPE_SLOTS];
            if (!e->name)
                break;
            if (strncmp(e->name, up, n) == 0 && e->name[n] == '\0')
                return e->value;
        }
    }
    return parse_generic(name);
}

bool px_dns_conf_check_type(const char *value, char *why, size_t whylen)
{
    if (px_dns_type_parse(value) >= 0)
        return true;
    snprintf(why, whylen, "not an RR type mnemonic (A, AAAA, ...) or TYPEnnn");
    return false;
}
