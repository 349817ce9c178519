/*
 * Claim checks on a token whose signature has verified (or whose
 * verification the cache remembers): the issuer's rules first, then
 * the route's required values.
 *
 * Times are compared as doubles. JSON numbers are finite here, every
 * integer up to 2^53 is exact, and a time written with a fraction
 * ("exp": 1700000000.5) is compared as written rather than rounded in
 * the token's favour.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

int
identity_fail(struct auth_error *err, int rc, int status, const char *reason,
              const char *detail, const char *bearer_error)
{
    err->status = status;
    err->reason = reason;
    err->detail = detail;
    err->bearer_error = bearer_error;
    return rc;
}

int
identity_refuse(struct auth_error *err, const char *reason, const char *detail)
{
    return identity_fail(err, AW_INVALID, 401, reason, detail, "invalid_token");
}

/* The member of obj named name[0..len), or NULL. */
static const struct json_value *
claims_member(const struct json_value *obj, const char *name, size_t len)
{
    if (!json_is(obj, JSON_OBJECT))
        return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const struct json_member *m = &obj->u.obj.members[i];

        if (m->name.len == len && memcmp(m->name.ptr, name, len) == 0)
            return m->value;
    }
    return NULL;
}

/*
 * A whole-name match wins over a dotted walk, so that claims named
 * after URLs ("https://example.com/roles") work as written. Both
 * readings are the issuer's own data, signed, so the choice cannot be
 * steered by the caller.
 */
const struct json_value *
claims_lookup(const struct json_value *payload, const char *path)
{
    const struct json_value *v = json_get(payload, path);
    const char *seg = path;

    if (v != NULL || strchr(path, '.') == NULL)
        return v;
    v = payload;
    while (v != NULL) {
        const char *dot = strchr(seg, '.');
        size_t len = dot != NULL ? (size_t)(dot - seg) : strlen(seg);

        v = claims_member(v, seg, len);
        if (dot == NULL)
            break;
        seg = dot + 1;
    }
    return v;
}

/* True when v is present and not JSON null. */
static bool
claims_present(const struct json_value *v)
{
    return v != NULL && v->type != JSON_NULL;
}

/*
 * Registered claims of the wrong JSON type are refused outright rather
 * than read as absent: a verifier that skips an "exp" written as a
 * string would accept a token its issuer meant to expire.
 */
static int
claims_check_types(const struct json_value *payload, struct auth_error *err)
{
    static const char *const numbers[] = {"exp", "nbf", "iat"};
    static const char *const strings[] = {"iss", "sub", "jti"};
    const struct json_value *aud = json_get(payload, "aud");

    for (size_t i = 0; i < ARRAY_LEN(numbers); i++) {
        const struct json_value *v = json_get(payload, numbers[i]);

        if (v != NULL && v->type != JSON_NUMBER)
            return identity_refuse(err, "auth.bad_claim_type",
                                   "exp, nbf and iat must be numbers");
    }
    for (size_t i = 0; i < ARRAY_LEN(strings); i++) {
        const struct json_value *v = json_get(payload, strings[i]);

        if (v != NULL && v->type != JSON_STRING)
            return identity_refuse(err, "auth.bad_claim_type",
                                   "iss, sub and jti must be strings");
    }
    if (aud != NULL && !json_is(aud, JSON_STRING) &&
        !json_is_string_array(aud))
        return identity_refuse(err, "auth.bad_claim_type",
                               "aud must be a string or an array of "
                               "strings");
    return AW_OK;
}

/* True when s equals one of the issuer's audiences. */
static bool
claims_audience_ok(const struct config_issuer *iss, struct slice s)
{
    for (size_t i = 0; i < iss->naudiences; i++) {
        const char *want = iss->audiences[i];

        if (s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0)
            return true;
    }
    return false;
}

/* "iss" exactly, and "aud" holding one of the audiences. */
static int
claims_check_parties(const struct config_issuer *iss,
                     const struct json_value *payload, struct auth_error *err)
{
    struct slice got = json_str(json_get(payload, "iss"));
    const struct json_value *aud = json_get(payload, "aud");
    bool ok = false;

    if (got.ptr == NULL)
        return identity_refuse(err, "auth.missing_claim", "no iss claim");
    if (got.len != strlen(iss->issuer) ||
        memcmp(got.ptr, iss->issuer, got.len) != 0)
        return identity_refuse(err, "auth.wrong_issuer",
                               "iss is not the issuer's");
    if (aud == NULL)
        return identity_refuse(err, "auth.missing_claim", "no aud claim");
    if (json_is(aud, JSON_STRING))
        ok = claims_audience_ok(iss, json_str(aud));
    for (size_t i = 0; !ok && json_is(aud, JSON_ARRAY) && i < aud->u.arr.n; i++)
        ok = claims_audience_ok(iss, json_str(aud->u.arr.items[i]));
    if (!ok)
        return identity_refuse(err, "auth.wrong_audience",
                               "aud names none of the audiences");
    return AW_OK;
}

/* The number of a time claim, or false when it is absent. */
static bool
claims_time(const struct json_value *payload, const char *name, double *out)
{
    const struct json_value *v = json_get(payload, name);

    if (!json_is(v, JSON_NUMBER))
        return false;
    *out = v->u.num.d;
    return true;
}

/*
 * exp, nbf and iat against now with the leeway, then the lifetime.
 * RFC 7519 makes exp exclusive: at now == exp the token has expired.
 */
static int
claims_check_times(const struct config_issuer *iss,
                   const struct json_value *payload, int64_t now,
                   struct auth_error *err)
{
    double leeway = (double)iss->leeway_ms / 1000.0;
    double t = (double)now;
    double exp = 0, nbf, iat;
    bool has_exp = claims_time(payload, "exp", &exp);
    bool has_iat = claims_time(payload, "iat", &iat);

    if (has_exp && exp <= t - leeway)
        return identity_refuse(err, "auth.token_expired",
                               "the token has expired");
    if (claims_time(payload, "nbf", &nbf) && nbf > t + leeway)
        return identity_refuse(err, "auth.token_not_yet_valid",
                               "the token is not valid yet (nbf)");
    if (has_iat && iat > t + leeway)
        return identity_refuse(err, "auth.token_issued_in_future",
                               "iat lies in the future");
    if (iss->max_lifetime_ms == 0)
        return AW_OK;
    if (!has_exp)
        return identity_refuse(err, "auth.missing_claim",
                               "no exp claim to bound the lifetime");
    if (exp - (has_iat ? iat : t) > (double)iss->max_lifetime_ms / 1000.0)
        return identity_refuse(err, "auth.lifetime_too_long",
                               "exp lies too far after iat");
    return AW_OK;
}

/* s without a leading "application/", compared without case. */
static struct slice
claims_typ_core(struct slice s)
{
    static const char prefix[] = "application/";
    size_t n = sizeof(prefix) - 1;

    if (s.len > n && strncasecmp(s.ptr, prefix, n) == 0)
        return (struct slice){s.ptr + n, s.len - n};
    return s;
}

/*
 * The header "typ" against the issuer's: media types ignore case, and
 * RFC 7515 lets "application/" be left out.
 */
static int
claims_check_typ(const struct config_issuer *iss,
                 const struct json_value *header, struct auth_error *err)
{
    struct slice got, want;

    if (iss->typ == NULL)
        return AW_OK;
    got = json_str(json_get(header, "typ"));
    if (got.ptr == NULL)
        return identity_refuse(err, "auth.bad_typ",
                               "typ missing or not a string");
    want = claims_typ_core((struct slice){iss->typ, strlen(iss->typ)});
    if (!slice_eq_nocase(claims_typ_core(got), want))
        return identity_refuse(err, "auth.bad_typ", "typ is not the issuer's");
    return AW_OK;
}

int
claims_check(const struct config_issuer *iss, const struct json_value *header,
             const struct json_value *payload, int64_t now,
             struct auth_error *err)
{
    int rc = claims_check_typ(iss, header, err);

    if (rc == AW_OK)
        rc = claims_check_types(payload, err);
    if (rc == AW_OK)
        rc = claims_check_parties(iss, payload, err);
    if (rc == AW_OK)
        rc = claims_check_times(iss, payload, now, err);
    for (size_t i = 0; rc == AW_OK && i < iss->nrequired; i++)
        if (!claims_present(claims_lookup(payload, iss->required[i])))
            rc = identity_refuse(err, "auth.missing_claim",
                                 "a claim the issuer requires is absent");
    return rc;
}

/*
 * True when one scalar claim v holds want: a string equal byte for
 * byte, an integer whose decimal form is want, or true or false
 * written as such. A fraction or an object never matches, whatever
 * the required value: a number with a fraction has many spellings, and
 * no route needs one (docs/known-limitations.md).
 */
static bool
claims_scalar_matches(const struct json_value *v, const char *want)
{
    char num[24];

    switch (v->type) {
    case JSON_STRING:
        return v->u.str.len == strlen(want) &&
               memcmp(v->u.str.ptr, want, v->u.str.len) == 0;
    case JSON_NUMBER:
        if (!v->u.num.is_int)
            return false;
        snprintf(num, sizeof(num), "%" PRId64, v->u.num.i);
        return strcmp(num, want) == 0;
    case JSON_TRUE:
        return strcmp(want, "true") == 0;
    case JSON_FALSE:
        return strcmp(want, "false") == 0;
    default:
        return false;
    }
}

/* A scalar claim equal to want, or an array with such an item. */
static bool
claims_value_matches(const struct json_value *v, const char *want)
{
    if (!json_is(v, JSON_ARRAY))
        return claims_scalar_matches(v, want);
    for (size_t i = 0; i < v->u.arr.n; i++)
        if (claims_scalar_matches(v->u.arr.items[i], want))
            return true;
    return false;
}

int
claims_check_route(const struct config_route_auth *ra,
                   const struct json_value *payload, struct auth_error *err)
{
    for (size_t i = 0; i < ra->nclaims; i++) {
        const struct config_claim_req *req = &ra->claims[i];
        const struct json_value *v = claims_lookup(payload, req->path);

        if (!claims_present(v))
            return identity_refuse(err, "auth.missing_claim",
                                   "a claim the route requires is absent");
        if (!claims_value_matches(v, req->value))
            return identity_refuse(err, "auth.claim_mismatch",
                                   "a claim does not hold the value the "
                                   "route requires");
    }
    return AW_OK;
}
