/*
 * MaxMind DB lookups for the country and ASN conditions of policies.
 *
 * libmaxminddb validates the metadata and the search tree's size when a
 * file is opened and bounds every read of the data section during a
 * lookup, so a corrupt file is either refused here or yields lookup
 * errors, which read as "unknown". Values are type-checked before use:
 * a country code must be two upper-case letters and an ASN an unsigned
 * integer that fits 32 bits, whatever the file claims.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <maxminddb.h>
#include <netinet/in.h>

#include "geo.h"

struct geo_db {
    atomic_uint refs;
    unsigned kinds;   /* GEO_KIND_* */
    MMDB_s mmdb;
};

/* True when the '-'-separated type name has the part word. */
static bool
geo_type_has(const char *type, const char *word)
{
    size_t n = strlen(word);

    for (const char *p = type; p != NULL; p = strchr(p, '-')) {
        if (*p == '-')
            p++;
        if (strncmp(p, word, n) == 0 && (p[n] == '\0' || p[n] == '-'))
            return true;
    }
    return false;
}

static unsigned
geo_kinds_of(const char *type)
{
    unsigned k = 0;

    if (type == NULL)
        return 0;
    if (geo_type_has(type, "Country") || geo_type_has(type, "City"))
        k |= GEO_KIND_COUNTRY;
    if (geo_type_has(type, "ASN"))
        k |= GEO_KIND_ASN;
    return k;
}

/*
 * Only a regular file is handed to libmaxminddb: opening a FIFO for
 * reading would wait for a writer and hang the configuration load.
 */
static int
geo_check_file(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return AW_INVALID;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        return AW_INVALID;
    }
    return AW_OK;
}

int
geo_open(const char *path, struct geo_db **out, char *err, size_t errlen)
{
    struct geo_db *db;
    int status;
    int rc = geo_check_file(path, err, errlen);

    if (rc != AW_OK)
        return rc;
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return AW_NOMEM;
    status = MMDB_open(path, MMDB_MODE_MMAP, &db->mmdb);
    if (status != MMDB_SUCCESS) {
        snprintf(err, errlen, "not a valid MaxMind DB file: %s",
                 status == MMDB_IO_ERROR ? strerror(errno)
                                         : MMDB_strerror(status));
        free(db);
        return status == MMDB_OUT_OF_MEMORY_ERROR ? AW_NOMEM : AW_INVALID;
    }
    atomic_init(&db->refs, 1);
    db->kinds = geo_kinds_of(db->mmdb.metadata.database_type);
    *out = db;
    return AW_OK;
}

/* Relaxed order suffices: a reference is taken from one already held. */
struct geo_db *
geo_ref(struct geo_db *db)
{
    atomic_fetch_add_explicit(&db->refs, 1, memory_order_relaxed);
    return db;
}

void
geo_unref(struct geo_db *db)
{
    if (db == NULL)
        return;
    if (atomic_fetch_sub_explicit(&db->refs, 1, memory_order_release) != 1)
        return;
    atomic_thread_fence(memory_order_acquire);
    MMDB_close(&db->mmdb);
    free(db);
}

unsigned
geo_kinds(const struct geo_db *db)
{
    return db->kinds;
}

const char *
geo_type(const struct geo_db *db)
{
    const char *t = db->mmdb.metadata.database_type;

    return t != NULL ? t : "";
}

/*
 * Find the record of sa in db. An IPv4-mapped address is rewritten as
 * the IPv4 address it carries, so that it lands in the IPv4 part of the
 * tree (and an IPv4-only database can answer it). False when the
 * address is not in the database or the lookup fails.
 */
static bool
geo_find(const struct geo_db *db, const struct sockaddr *sa,
         MMDB_entry_s *entry)
{
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
    struct sockaddr_in s4;
    MMDB_lookup_result_s res;
    int mmdb_error;

    if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
        memset(&s4, 0, sizeof(s4));
        s4.sin_family = AF_INET;
        memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
        sa = (const struct sockaddr *)&s4;
    } else if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
        return false;
    }
    res = MMDB_lookup_sockaddr(&db->mmdb, sa, &mmdb_error);
    if (mmdb_error != MMDB_SUCCESS || !res.found_entry)
        return false;
    *entry = res.entry;
    return true;
}

/* country.iso_code when it is exactly two letters A-Z. */
static void
geo_read_country(MMDB_entry_s *entry, char out[3])
{
    MMDB_entry_data_s d;
    const char *s;

    if (MMDB_get_value(entry, &d, "country", "iso_code", NULL) !=
            MMDB_SUCCESS ||
        !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING ||
        d.data_size != 2)
        return;
    s = d.utf8_string;
    if (s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
        return;
    out[0] = s[0];
    out[1] = s[1];
    out[2] = '\0';
}

/* autonomous_system_number when it is an unsigned value of 32 bits. */
static uint32_t
geo_read_asn(MMDB_entry_s *entry)
{
    MMDB_entry_data_s d;

    if (MMDB_get_value(entry, &d, "autonomous_system_number", NULL) !=
            MMDB_SUCCESS ||
        !d.has_data)
        return 0;
    switch (d.type) {
    case MMDB_DATA_TYPE_UINT16:
        return d.uint16;
    case MMDB_DATA_TYPE_UINT32:
        return d.uint32;
    case MMDB_DATA_TYPE_UINT64:
        return d.uint64 <= UINT32_MAX ? (uint32_t)d.uint64 : 0;
    default:
        return 0;
    }
}

void
geo_lookup(const struct geo_db *country_db, const struct geo_db *asn_db,
           const struct sockaddr *sa, struct geo_result *res)
{
    MMDB_entry_s entry;

    memset(res, 0, sizeof(*res));
    if (sa == NULL)
        return;
    if (country_db != NULL && geo_find(country_db, sa, &entry))
        geo_read_country(&entry, res->country);
    if (asn_db != NULL && geo_find(asn_db, sa, &entry))
        res->asn = geo_read_asn(&entry);
}
