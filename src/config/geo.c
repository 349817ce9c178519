/*
 * The geo section: the MaxMind DB files behind the country and ASN
 * conditions of policies.
 *
 * Each file is opened and checked while the configuration is loaded, so
 * that a missing, corrupt or wrong database is reported at the line that
 * names it, and a reload that fails to open one keeps the running
 * snapshot. A database must suit its slot: a City database answers
 * country questions, an ASN database does not, and a policy that asked
 * a wrong database would see "unknown" for every client and deny them
 * all (or, with a negated condition, allow them all).
 */
#include <stddef.h>
#include <stdio.h>

#include "config/internal.h"
#include "policy/geo.h"

/*
 * Open the database named by v into the slot *dst (a struct geo_db *
 * of the snapshot, which then holds the reference), refusing one whose
 * type lacks the kind bit. AW_OK, AW_INVALID (problem recorded) or
 * AW_NOMEM.
 */
static int
geo_parse_db(struct config_loader *ld, const struct config_node *v, void *dst,
             const struct config_field *f, const char *where, unsigned kind)
{
    struct geo_db *db;
    char *path = NULL, err[256];
    int rc = config_parse_path(ld, v, &path, f, where);

    if (rc != AW_OK)
        return rc;
    rc = geo_open(path, &db, err, sizeof(err));
    if (rc == AW_NOMEM)
        return rc;
    if (rc != AW_OK) {
        config_error(ld, v, "%s: %s: %s", where, path, err);
        return AW_INVALID;
    }
    if (!(geo_kinds(db) & kind)) {
        config_error(ld, v, "%s: %s is a '%s' database, not %s", where, path,
                     geo_type(db),
                     kind == GEO_KIND_ASN ? "an ASN database"
                                          : "a Country or City database");
        geo_unref(db);
        return AW_INVALID;
    }
    *(struct geo_db **)dst = db;
    return AW_OK;
}

static int
geo_parse_country(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    return geo_parse_db(ld, v, dst, f, where, GEO_KIND_COUNTRY);
}

static int
geo_parse_asn(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    return geo_parse_db(ld, v, dst, f, where, GEO_KIND_ASN);
}

const struct config_field config_geo_fields[] = {
    {.key = "country_db", .parse = geo_parse_country,
     .offset = offsetof(struct config, geo_country)},
    {.key = "asn_db", .parse = geo_parse_asn,
     .offset = offsetof(struct config, geo_asn)},
    {.key = NULL},
};
