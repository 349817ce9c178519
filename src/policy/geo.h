/*
 * geo: the country and the autonomous system of a client address, read
 * from MaxMind DB files (GeoIP2/GeoLite2 Country, City and ASN, and
 * databases of the same layout) through libmaxminddb.
 *
 * A database is mapped read-only when the configuration is loaded and
 * shared by reference between the snapshot and the compiled policy, so
 * a reload opens the files again (picking up a newer database) while
 * requests still running keep the mapping they started with. Lookups
 * allocate nothing and take no lock.
 *
 * A database file must be replaced by renaming a new file over it, never
 * rewritten in place: the mapping of a file truncated under it faults.
 */
#ifndef APIWARD_GEO_H
#define APIWARD_GEO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/base.h"

/* An open database; reference-counted, immutable once open. */
struct geo_db;

/* Bits of geo_kinds: what a database can answer. */
enum {
    GEO_KIND_COUNTRY = 1u << 0, /* a Country or City database */
    GEO_KIND_ASN = 1u << 1,     /* an ASN database */
};

/*
 * Open the MaxMind DB file at path and check its metadata. Any valid
 * database opens, whatever it holds; geo_kinds says which slot it can
 * serve. Returns AW_OK with *out holding one reference, or AW_INVALID
 * with a sentence in err (the file is missing, not a regular file, or
 * not a valid database); AW_NOMEM. *out is untouched on failure.
 */
int geo_open(const char *path, struct geo_db **out, char *err,
             size_t errlen);

/* Take a reference; returns db. Any thread. */
struct geo_db *geo_ref(struct geo_db *db);

/* Drop a reference; unmaps with the last one. Accepts NULL. */
void geo_unref(struct geo_db *db);

/*
 * GEO_KIND_* bits read from the database type in the metadata: a type
 * with a "-Country" or "-City" part ("GeoIP2-City", "GeoLite2-Country",
 * "DBIP-Country-Lite") is a country database, one with an "-ASN" part
 * ("GeoLite2-ASN") an ASN database; 0 for anything else.
 */
unsigned geo_kinds(const struct geo_db *db);

/* The database type from the metadata, for messages; borrowed. */
const char *geo_type(const struct geo_db *db);

/* What a lookup found. */
struct geo_result {
    char country[3]; /* ISO 3166-1 alpha-2, "" when unknown */
    uint32_t asn;    /* 0 when unknown */
};

/*
 * Fill res from the country and/or ASN database (either may be NULL).
 * The country is the record's country.iso_code (where the address is,
 * not registered_country); the ASN is autonomous_system_number. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as the IPv4
 * address it carries. Never fails: an address not in a database, a
 * value of the wrong type or shape, a corrupt database, or a family
 * other than AF_INET/AF_INET6 leaves that field unknown. Thread-safe,
 * allocation-free.
 */
void geo_lookup(const struct geo_db *country_db, const struct geo_db *asn_db,
                const struct sockaddr *sa, struct geo_result *res);

#endif
