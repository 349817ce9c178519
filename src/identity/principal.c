/*
 * The principal of a verified token: subject, scopes, roles and expiry,
 * read from the payload tree, which already lives in the request arena,
 * so that only the arrays of slices are allocated here.
 */
#include <math.h>
#include <string.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

/* A slice over a JSON string; "" for anything else. */
static struct slice
principal_str(const struct json_value *v)
{
    struct slice s = json_str(v);

    return s.ptr != NULL ? s : (struct slice){"", 0};
}

/* Number of space-separated words in s. */
static unsigned
principal_count_words(struct slice s)
{
    unsigned n = 0;

    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] != ' ' && (i == 0 || s.ptr[i - 1] == ' '))
            n++;
    return n;
}

/*
 * Split s at spaces into a new array of slices in a (RFC 6749 section
 * 3.3 scopes). Repeated spaces give no empty words.
 */
static int
principal_split(struct slice s, struct arena *a, struct slice **out,
                unsigned *n)
{
    unsigned count = principal_count_words(s);
    struct slice *list;
    size_t i = 0;

    *n = 0;
    if (count == 0)
        return AW_OK;
    list = arena_alloc(a, count * sizeof(*list));
    if (list == NULL)
        return AW_NOMEM;
    while (i < s.len) {
        size_t start;

        while (i < s.len && s.ptr[i] == ' ')
            i++;
        start = i;
        while (i < s.len && s.ptr[i] != ' ')
            i++;
        if (i > start)
            list[(*n)++] = (struct slice){s.ptr + start, i - start};
    }
    *out = list;
    return AW_OK;
}

/*
 * The strings of an array into a new array of slices in a. An item
 * that is not a string makes the whole claim AW_INVALID.
 */
static int
principal_strings(const struct json_value *arr, struct arena *a,
                  struct slice **out, unsigned *n)
{
    struct slice *list;
    size_t count = arr->u.arr.n;

    *n = 0;
    if (count == 0)
        return AW_OK;
    list = arena_alloc(a, count * sizeof(*list));
    if (list == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < count; i++) {
        if (!json_is(arr->u.arr.items[i], JSON_STRING))
            return AW_INVALID;
        list[i] = json_str(arr->u.arr.items[i]);
    }
    *out = list;
    *n = (unsigned)count;
    return AW_OK;
}

/*
 * A claim that holds words: a space-separated string (split when
 * split_string, else taken whole) or an array of strings. Absent or
 * null gives none; any other type is AW_INVALID.
 */
static int
principal_words(const struct json_value *v, bool split_string, struct arena *a,
                struct slice **out, unsigned *n)
{
    struct slice *one;

    *n = 0;
    if (v == NULL || v->type == JSON_NULL)
        return AW_OK;
    if (json_is(v, JSON_ARRAY))
        return principal_strings(v, a, out, n);
    if (!json_is(v, JSON_STRING))
        return AW_INVALID;
    if (split_string)
        return principal_split(json_str(v), a, out, n);
    one = arena_alloc(a, sizeof(*one));
    if (one == NULL)
        return AW_NOMEM;
    *one = json_str(v);
    *out = one;
    *n = 1;
    return AW_OK;
}

/*
 * Scopes: "scope" is a string by RFC 8693 and must be one here; "scp",
 * read only when "scope" is absent, is an array for most issuers and a
 * string for some, and both are taken.
 */
static int
principal_scopes(const struct json_value *payload, struct arena *a,
                 struct principal *p)
{
    const struct json_value *scope = json_get(payload, "scope");

    if (scope != NULL && !json_is(scope, JSON_STRING))
        return AW_INVALID;
    if (scope != NULL)
        return principal_split(json_str(scope), a, &p->scopes, &p->nscopes);
    return principal_words(json_get(payload, "scp"), true, a, &p->scopes,
                           &p->nscopes);
}

/* exp as whole seconds, rounded down and kept within int64_t. */
static int64_t
principal_expires(const struct json_value *payload)
{
    const struct json_value *v = json_get(payload, "exp");
    double d;

    if (!json_is(v, JSON_NUMBER))
        return 0;
    if (v->u.num.is_int)
        return v->u.num.i;
    d = floor(v->u.num.d);
    if (d >= 9.2e18)
        return INT64_MAX;
    if (d <= -9.2e18)
        return INT64_MIN;
    return (int64_t)d;
}

int
principal_from_claims(const struct config_issuer *iss,
                      const struct json_value *payload, struct arena *a,
                      struct principal *p, struct auth_error *err)
{
    const struct json_value *roles = claims_lookup(payload, iss->roles_claim);
    int rc;

    p->subject = principal_str(json_get(payload, "sub"));
    p->expires = principal_expires(payload);
    rc = principal_scopes(payload, a, p);
    if (rc == AW_INVALID)
        return identity_refuse(err, "auth.bad_claim_type",
                               "scope must be a string, scp a string or "
                               "an array of strings");
    if (rc == AW_OK)
        rc = principal_words(roles, false, a, &p->roles, &p->nroles);
    if (rc == AW_INVALID)
        return identity_refuse(err, "auth.bad_claim_type",
                               "the roles claim must be a string or an "
                               "array of strings");
    if (rc == AW_NOMEM)
        return identity_fail(err, AW_NOMEM, 503, "auth.no_memory",
                             "the request arena is full", NULL);
    return AW_OK;
}
