/*
 * Time zones for time-window conditions, read from the tz database at
 * load so that a decision never touches TZ, localtime_r or a file.
 *
 * A TZif file lists the instants at which a zone's UTC offset changes;
 * the offset at any instant is the one of the last change before it.
 * The 64-bit block of a version 2+ file is used when present. The
 * POSIX rule in the footer, which extends the list past its last entry,
 * is not applied: Debian installs "fat" files whose lists run to 2037,
 * and after the last listed change the last offset simply continues.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "policy/policy_int.h"

#define ZONE_MAX_FILE (256 * 1024)
#define ZONE_MAX_NAME 64
#define ZONE_MAX_TRANSITIONS 4096

/* The counts of a TZif header, in file order. */
struct tzif_head {
    uint32_t isut, isstd, leap, time, type, chars;
};

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static int64_t
be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Read a 44-byte header at p; false when it is not one. */
static bool
tzif_head(const unsigned char *p, size_t len, struct tzif_head *h)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return false;
    h->isut = be32(p + 20);
    h->isstd = be32(p + 24);
    h->leap = be32(p + 28);
    h->time = be32(p + 32);
    h->type = be32(p + 36);
    h->chars = be32(p + 40);
    return h->type > 0 && h->type <= 256 && h->time <= ZONE_MAX_TRANSITIONS &&
           h->chars <= 4096 && h->leap <= 4096 && h->isut <= 256 &&
           h->isstd <= 256;
}

/* Bytes of the data block after a header, with tsize-byte times. */
static size_t
tzif_block(const struct tzif_head *h, size_t tsize)
{
    return h->time * (tsize + 1) + h->type * 6 + h->chars +
           h->leap * (tsize + 4) + h->isstd + h->isut;
}

/*
 * Fill z from the data block at p (times of tsize bytes), already known
 * to be long enough. A transition index past the type table makes the
 * file invalid.
 */
static int
tzif_fill(struct policy_zone *z, const struct tzif_head *h,
          const unsigned char *p, size_t tsize)
{
    const unsigned char *idx = p + h->time * tsize;
    const unsigned char *types = idx + h->time;

    z->n = h->time;
    z->at = calloc(h->time + 1, sizeof(*z->at));
    z->off = calloc(h->time + 1, sizeof(*z->off));
    if (z->at == NULL || z->off == NULL)
        return AW_NOMEM;
    z->before = (int32_t)be32(types);
    for (uint32_t i = 0; i < h->time; i++) {
        if (idx[i] >= h->type)
            return AW_INVALID;
        z->at[i] = tsize == 8 ? be64(p + i * 8)
                              : (int64_t)(int32_t)be32(p + i * 4);
        z->off[i] = (int32_t)be32(types + idx[i] * 6);
    }
    return AW_OK;
}

/* Parse a whole TZif file into z. */
static int
tzif_parse(struct policy_zone *z, const unsigned char *buf, size_t len)
{
    struct tzif_head h1, h2;
    size_t skip;

    if (!tzif_head(buf, len, &h1))
        return AW_INVALID;
    skip = 44 + tzif_block(&h1, 4);
    if (buf[4] >= '2' && skip < len && tzif_head(buf + skip, len - skip, &h2)) {
        if (skip + 44 + tzif_block(&h2, 8) > len)
            return AW_INVALID;
        return tzif_fill(z, &h2, buf + skip + 44, 8);
    }
    if (skip > len)
        return AW_INVALID;
    return tzif_fill(z, &h1, buf + 44, 4);
}

/* Zone names as the tz database spells them; nothing that climbs out. */
static bool
zone_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len >= ZONE_MAX_NAME || name[0] == '/' ||
        strstr(name, "..") != NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '/' || ch == '_' ||
              ch == '-' || ch == '+'))
            return false;
    }
    return true;
}

/* Read the zone file of name into a fresh buffer of *len bytes. */
static unsigned char *
zone_read(const char *name, size_t *len, char *err, size_t errlen)
{
    const char *dir = getenv("TZDIR");
    char path[512];
    unsigned char *buf;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s",
             dir != NULL && dir[0] == '/' ? dir : "/usr/share/zoneinfo", name);
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "no time zone '%s' in the tz database (%s)",
                 name, strerror(errno));
        return NULL;
    }
    buf = malloc(ZONE_MAX_FILE);
    *len = buf != NULL ? fread(buf, 1, ZONE_MAX_FILE, f) : 0;
    fclose(f);
    if (buf == NULL)
        snprintf(err, errlen, "out of memory");
    return buf;
}

/* Find a zone the set already holds. */
static const struct policy_zone *
zone_find(const struct policy_set *s, const char *name)
{
    for (unsigned i = 0; i < s->nzones; i++)
        if (strcmp(s->zones[i]->name, name) == 0)
            return s->zones[i];
    return NULL;
}

int
policy_zone_load(struct policy_set *s, const char *name,
                 const struct policy_zone **zone, char *err, size_t errlen)
{
    struct policy_zone *z;
    unsigned char *buf;
    size_t len = 0;
    int rc;

    if (!zone_name_valid(name)) {
        snprintf(err, errlen, "'%s' is not a time zone name", name);
        return AW_INVALID;
    }
    *zone = zone_find(s, name);
    if (*zone != NULL)
        return AW_OK;
    if (s->nzones == POLICY_MAX_ZONES) {
        snprintf(err, errlen, "more than %d time zones", POLICY_MAX_ZONES);
        return AW_INVALID;
    }
    buf = zone_read(name, &len, err, errlen);
    if (buf == NULL)
        return AW_INVALID;
    z = calloc(1, sizeof(*z));
    rc = z != NULL ? tzif_parse(z, buf, len) : AW_NOMEM;
    free(buf);
    if (rc == AW_INVALID)
        snprintf(err, errlen, "'%s' is not a TZif file", name);
    if (rc != AW_OK) {
        policy_zone_free(z);
        return rc;
    }
    snprintf(z->name, sizeof(z->name), "%s", name);
    s->zones[s->nzones++] = z;
    *zone = z;
    return AW_OK;
}

void
policy_zone_free(struct policy_zone *z)
{
    if (z == NULL)
        return;
    free(z->at);
    free(z->off);
    free(z);
}

int32_t
policy_zone_offset(const struct policy_zone *z, int64_t t)
{
    unsigned lo = 0, hi = z->n;

    if (z->n == 0 || t < z->at[0])
        return z->before;
    /* The last transition at or before t. */
    while (hi - lo > 1) {
        unsigned mid = lo + (hi - lo) / 2;

        if (z->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}
