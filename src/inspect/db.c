/*
 * Pattern databases: which detectors are worth running on a value.
 *
 * This version compiles no patterns: every detector of the mask is a
 * candidate for every value, so the detectors run on everything they
 * are given. It keeps the interface that the gateway calls while the
 * Vectorscan databases are built behind it.
 */
#include <stdlib.h>

#include "internal.h"

struct inspect_db {
    unsigned mask;
};

struct inspect_scratch {
    int unused;
};

int
inspect_db_compile(unsigned mask, struct inspect_db **out, char *err,
                   size_t errlen)
{
    struct inspect_db *db;

    (void)err;
    (void)errlen;
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return AW_NOMEM;
    db->mask = mask;
    *out = db;
    return AW_OK;
}

void
inspect_db_free(struct inspect_db *db)
{
    free(db);
}

int
inspect_scratch_reserve(struct inspect_scratch **s,
                        const struct inspect_db *db)
{
    (void)db;
    if (*s != NULL)
        return AW_OK;
    *s = calloc(1, sizeof(**s));
    return *s == NULL ? AW_NOMEM : AW_OK;
}

void
inspect_scratch_free(struct inspect_scratch *s)
{
    free(s);
}

unsigned
inspect_db_candidates(const struct inspect_db *db, struct inspect_scratch *s,
                      struct slice text, unsigned mask)
{
    (void)db;
    (void)s;
    (void)text;
    return mask;
}
