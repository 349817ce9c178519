/*
 * The authentication stage: finding the credential a route takes in a
 * request, and turning it into a principal or a precise refusal.
 *
 * A token goes through the checks in the order that spends least on a
 * hostile one and tells a forger least: its shape and size, the issuer
 * it claims among the route's, the algorithm that issuer allows, the
 * signature against that issuer's keys, and only then its claims.
 *
 * Nothing here logs a credential, nor a part of one: refusals carry
 * fixed sentences, and the principal names the credential by the first
 * 12 hex digits of its SHA-256 only.
 */
#include <openssl/crypto.h>
#include <string.h>

#include "identity/identity.h"
#include "identity/identity_int.h"
#include "identity/jose_int.h"

/* The state of one token's authentication. */
struct authn_token {
    const struct config *cfg;
    const struct config_route_auth *ra;
    struct identity_cache *cache;
    int64_t now;
    bool final;
    struct arena *a;
    struct principal *p;
    struct auth_error *err;
    struct jose_token tok;
    const struct config_issuer *iss;
    struct identity_cache_key key;
};

/* A malformed request (RFC 6750 invalid_request). */
static int
authn_malformed(struct auth_error *err, const char *detail)
{
    return identity_fail(err, AW_INVALID, 401, "auth.malformed_request", detail,
                         "invalid_request");
}

/* The request arena is full: the request fails, not the process. */
static int
authn_nomem(struct auth_error *err)
{
    return identity_fail(err, AW_NOMEM, 503, "auth.no_memory",
                         "the request arena is full", NULL);
}

/*
 * The only field named name (Authorization, or the API key's) in *out,
 * SLICE_NULL when there is none. Two of them are refused: RFC 6750
 * forbids sending a token more than one way, and proxies disagree on
 * which of two fields counts.
 */
static int
authn_find_field(const struct http_header *h, unsigned nh, const char *name,
                 struct slice *out, struct auth_error *err)
{
    *out = SLICE_NULL;
    for (unsigned i = 0; i < nh; i++) {
        if (!slice_is(h[i].name, name))
            continue;
        if (out->ptr != NULL)
            return authn_malformed(err, "the credential's field is "
                                        "repeated");
        *out = h[i].value;
    }
    return AW_OK;
}

/* A token68 character (RFC 9110 section 11.2), '=' aside. */
static bool
authn_is_token68(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != '\0' && strchr("-._~+/", ch) != NULL);
}

/* True when s is a token68: its characters, then any '=' padding. */
static bool
authn_token68(struct slice s)
{
    size_t i = 0;

    while (i < s.len && authn_is_token68(s.ptr[i]))
        i++;
    if (i == 0)
        return false;
    while (i < s.len && s.ptr[i] == '=')
        i++;
    return i == s.len;
}

/*
 * The bearer token of an Authorization value: the scheme "Bearer" in
 * any case, one or more spaces, a token68 (RFC 6750 section 2.1).
 * Another scheme leaves *token unset; the route may take other
 * credentials, and a Basic field is simply not a token.
 */
static int
authn_bearer(struct slice v, struct slice *token, struct auth_error *err)
{
    size_t i = 0;

    *token = SLICE_NULL;
    while (i < v.len && v.ptr[i] != ' ' && v.ptr[i] != '\t')
        i++;
    if (!slice_is((struct slice){v.ptr, i}, "Bearer"))
        return i == 0 ? authn_malformed(err, "an empty Authorization field")
                      : AW_OK;
    while (i < v.len && v.ptr[i] == ' ')
        i++;
    if (i == v.len)
        return authn_malformed(err, "the bearer token is empty");
    *token = (struct slice){v.ptr + i, v.len - i};
    if (!authn_token68(*token))
        return authn_malformed(err, "the bearer token is not a token68");
    return AW_OK;
}

/*
 * The only query parameter named name, raw (still percent-encoded).
 * found tells a present but empty value from an absent one.
 */
static int
authn_find_param(struct slice query, const char *name, struct slice *out,
                 bool *found, struct auth_error *err)
{
    struct slice pname, pvalue;
    size_t pos = 0;

    *found = false;
    *out = SLICE_NULL;
    while (http_query_next(query, &pos, &pname, &pvalue)) {
        if (!slice_eq(pname, (struct slice){name, strlen(name)}))
            continue;
        if (*found)
            return authn_malformed(err, "the API key parameter is "
                                        "repeated");
        *found = true;
        *out = pvalue;
    }
    return AW_OK;
}

/* True when every byte of s is visible ASCII. */
static bool
authn_visible(struct slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if ((unsigned char)s.ptr[i] <= 0x20 || (unsigned char)s.ptr[i] >= 0x7f)
            return false;
    return true;
}

/* The route's API key, from its header field or query parameter. */
static int
authn_api_key(const struct config_route_auth *ra, const struct http_header *h,
              unsigned nh, struct slice query, struct arena *a,
              struct slice *key, struct auth_error *err)
{
    bool found = false;
    int rc;

    if (ra->api_key_in_query) {
        struct slice raw;

        rc = authn_find_param(query, ra->api_key_name, &raw, &found, err);
        if (rc != AW_OK || !found)
            return rc;
        rc = http_form_decode(a, raw, key);
        if (rc == AW_NOMEM)
            return authn_nomem(err);
        if (rc != AW_OK)
            return authn_malformed(err, "a bad escape in the API key");
    } else {
        rc = authn_find_field(h, nh, ra->api_key_name, key, err);
        found = key->ptr != NULL;
        if (rc != AW_OK)
            return rc;
    }
    if (found && key->len == 0)
        return authn_malformed(err, "the API key is empty");
    if (found && !authn_visible(*key))
        return authn_malformed(err, "the API key holds spaces or control "
                                    "bytes");
    if (!found)
        *key = SLICE_NULL;
    return AW_OK;
}

int
identity_extract(const struct config_route_auth *ra,
                 const struct http_header *h, unsigned nh, struct slice query,
                 struct arena *a, struct credential *cred,
                 struct auth_error *err)
{
    struct slice field, token = SLICE_NULL, key = SLICE_NULL;
    int rc = AW_OK;

    memset(err, 0, sizeof(*err));
    cred->kind = AUTH_NONE;
    cred->value = SLICE_NULL;
    if (ra->methods & (AUTH_METHOD_JWT | AUTH_METHOD_INTROSPECTION)) {
        rc = authn_find_field(h, nh, "Authorization", &field, err);
        if (rc == AW_OK && field.ptr != NULL)
            rc = authn_bearer(field, &token, err);
    }
    if (rc == AW_OK && (ra->methods & AUTH_METHOD_API_KEY))
        rc = authn_api_key(ra, h, nh, query, a, &key, err);
    if (rc != AW_OK)
        return rc;
    if (token.ptr != NULL && key.ptr != NULL)
        return authn_malformed(err, "both a token and an API key");
    if (token.ptr == NULL && key.ptr == NULL) {
        /* Rule 7: without a token or key, the client certificate. */
        if ((ra->methods & AUTH_METHOD_MTLS) && cred->peer_sha256 != NULL &&
            cred->peer_identity.len > 0) {
            cred->kind = AUTH_MTLS;
            cred->value = cred->peer_identity;
        }
        return AW_OK;
    }
    cred->kind = token.ptr != NULL ? AUTH_JWT : AUTH_API_KEY;
    field = token.ptr != NULL ? token : key;
    cred->value.ptr = arena_dup(a, field.ptr, field.len);
    cred->value.len = field.len;
    return cred->value.ptr != NULL ? AW_OK : authn_nomem(err);
}

/* Map a refusal from the JOSE layer to the stage's answer. */
static int
authn_jose_fail(int rc, const struct jose_error *jerr, struct auth_error *err)
{
    if (rc == AW_NOMEM)
        return authn_nomem(err);
    if (rc == AW_TOOBIG)
        return identity_refuse(err, "auth.token_too_large",
                               "the token is longer than identity.max_token");
    if (rc == AW_ERROR)
        return identity_fail(err, AW_ERROR, 503, "auth.verify_error",
                             "the signature could not be checked", NULL);
    if (jerr->reason == NULL)
        return identity_refuse(err, "auth.malformed_token", "");
    return identity_refuse(err, jerr->reason,
                           jerr->detail != NULL ? jerr->detail : "");
}

/*
 * Choose the issuer among the route's by the payload's "iss", exactly.
 * The claim is not trusted yet: it only says which keys to try, and a
 * token that lies about it fails their signature check.
 */
static int
authn_pick_issuer(struct authn_token *t)
{
    const struct json_value *v = json_get(t->tok.payload, "iss");
    struct slice iss = json_str(v);

    if (v == NULL)
        return identity_refuse(t->err, "auth.missing_claim", "no iss claim");
    if (iss.ptr == NULL)
        return identity_refuse(t->err, "auth.bad_claim_type",
                               "iss must be a string");
    for (size_t i = 0; i < t->ra->nissuers; i++) {
        const struct config_issuer *c = t->ra->issuers[i];

        if (iss.len == strlen(c->issuer) &&
            memcmp(iss.ptr, c->issuer, iss.len) == 0) {
            t->iss = c;
            return AW_OK;
        }
    }
    return identity_refuse(t->err, "auth.wrong_issuer",
                           "iss names none of the route's issuers");
}

/*
 * The issuer has no key set: wait for a first fetch that is in flight,
 * unless the caller has waited already.
 */
static int
authn_no_keys(struct authn_token *t)
{
    if (!t->final && keysource_pending(t->iss->keys))
        return AW_AGAIN;
    return identity_fail(t->err, AW_ERROR, 503, "auth.keys_unavailable",
                         "the issuer's keys are not available", NULL);
}

/*
 * Check the signature against the issuer's current key set. A kid the
 * set lacks may be a key the issuer has just rotated in: ask the key
 * store for a refetch and have the caller wait for it, once.
 */
static int
authn_verify(struct authn_token *t)
{
    struct jose_error jerr = {0};
    struct jwks *set =
        t->iss->keys != NULL ? keysource_get(t->iss->keys) : NULL;
    int rc;

    if (set == NULL)
        return authn_no_keys(t);
    rc = jwks_verify(set, &t->tok, NULL, &jerr);
    jwks_unref(set);
    if (rc == AW_OK)
        return AW_OK;
    if (rc == AW_INVALID && jerr.reason != NULL &&
        strcmp(jerr.reason, "auth.unknown_key") == 0 && !t->final &&
        keysource_refetch(t->iss->keys) == AW_AGAIN)
        return AW_AGAIN;
    return authn_jose_fail(rc, &jerr, t->err);
}

/* The payload segment as received, for the forward.claims header. */
static struct slice
authn_payload_b64(const struct jose_token *tok)
{
    struct slice in = tok->signing_input;
    const char *dot = memchr(in.ptr, '.', in.len);

    if (dot == NULL)
        return (struct slice){"", 0};
    return (struct slice){dot + 1, in.len - (size_t)(dot + 1 - in.ptr)};
}

/* Fill the principal of an accepted token. */
static int
authn_principal(struct authn_token *t)
{
    struct principal *p = t->p;
    const char *name = t->iss->name;
    int rc = principal_from_claims(t->iss, t->tok.payload, t->a, p, t->err);

    if (rc != AW_OK)
        return rc;
    p->kind = AUTH_JWT;
    p->issuer.ptr = arena_dup(t->a, name, strlen(name));
    p->issuer.len = strlen(name);
    p->consumer = (struct slice){"", 0};
    p->key_id = t->tok.has_kid ? t->tok.kid : (struct slice){"", 0};
    p->claims = t->tok.payload;
    p->claims_b64 = authn_payload_b64(&t->tok);
    return p->issuer.ptr != NULL ? AW_OK : authn_nomem(t->err);
}

/* The token's exp for the cache: INT64_MAX without one. */
static int64_t
authn_cache_exp(const struct principal *p, const struct jose_token *tok)
{
    return json_get(tok->payload, "exp") != NULL ? p->expires : INT64_MAX;
}

/*
 * The token path, in the order given at the top of the file. The cache
 * is asked after the issuer and algorithm checks, so that a hit is
 * always for the issuer and algorithms in force, and it is filled only
 * with tokens that passed everything.
 */
static int
authn_token(struct authn_token *t, struct slice token)
{
    struct jose_error jerr = {0};
    bool hit;
    int rc = jose_parse(token.ptr, token.len, t->cfg->max_token_bytes, 0, t->a,
                        &t->tok, &jerr);

    if (rc != AW_OK)
        return authn_jose_fail(rc, &jerr, t->err);
    rc = authn_pick_issuer(t);
    if (rc != AW_OK)
        return rc;
    if (!(t->iss->algorithms & (1u << t->tok.alg)))
        return identity_refuse(t->err, "auth.alg_not_allowed",
                               "the issuer does not use this algorithm");
    t->key.issuer = t->iss->index;
    t->key.cfg_gen = t->cfg->generation;
    t->key.keys_gen = keystore_generation();
    hit = identity_cache_lookup(t->cache, &t->key, t->now);
    rc = hit ? AW_OK : authn_verify(t);
    if (rc == AW_OK)
        rc =
            claims_check(t->iss, t->tok.header, t->tok.payload, t->now, t->err);
    if (rc == AW_OK)
        rc = claims_check_route(t->ra, t->tok.payload, t->err);
    if (rc == AW_OK)
        rc = authn_principal(t);
    if (rc == AW_OK && !hit)
        identity_cache_insert(t->cache, &t->key, authn_cache_exp(t->p, &t->tok),
                              t->now);
    return rc;
}

/*
 * True when a bearer token has the shape of a compact JWS: three
 * non-empty segments of base64url characters joined by two dots.
 */
static bool
authn_jws_shaped(struct slice token)
{
    size_t dots = 0, seg = 0;

    for (size_t i = 0; i < token.len; i++) {
        char ch = token.ptr[i];

        if (ch == '.') {
            if (seg == 0 || ++dots > 2)
                return false;
            seg = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
            seg++;
        } else {
            return false;
        }
    }
    return dots == 2 && seg > 0;
}

/*
 * Which way a bearer token goes (rule 1 of INTROSPECTION): a route with
 * jwt only verifies it, a route with introspection only introspects
 * it, and a route with both verifies JWS-shaped tokens and introspects
 * the others. No token ever takes both ways.
 */
static bool
authn_bearer_is_jwt(const struct config_route_auth *ra, struct slice token)
{
    if (!(ra->methods & AUTH_METHOD_JWT))
        return false;
    if (!(ra->methods & AUTH_METHOD_INTROSPECTION))
        return true;
    return authn_jws_shaped(token);
}

/*
 * Rule 7: the principal of a verified client certificate. Its subject
 * is an arena copy; the credential id names the certificate.
 */
static int
authn_mtls(const struct credential *cred, struct arena *a,
           struct principal *p, struct auth_error *err)
{
    char *s = arena_dup(a, cred->peer_identity.ptr, cred->peer_identity.len);

    if (s == NULL)
        return authn_nomem(err);
    p->kind = AUTH_MTLS;
    p->subject = (struct slice){s, cred->peer_identity.len};
    p->issuer = (struct slice){"", 0};
    p->consumer = (struct slice){"", 0};
    p->username = (struct slice){"", 0};
    p->key_id = (struct slice){"", 0};
    identity_credential_id(cred->peer_sha256, p->credential_id);
    return AW_OK;
}

/*
 * Rule 8: a token (or introspection answer) bound to a certificate by
 * cnf.x5t#S256 is good only with that certificate; with the route's
 * require_cert_binding, an unbound token is refused.
 */
static int
authn_cert_binding(const struct config_route_auth *ra,
                   const struct credential *cred, const struct principal *p,
                   struct auth_error *err)
{
    const struct json_value *cnf = json_get(p->claims, "cnf");
    const struct json_value *x5t = cnf != NULL && json_is(cnf, JSON_OBJECT)
                                       ? json_get(cnf, "x5t#S256")
                                       : NULL;
    unsigned char want[32];
    size_t n = 0;
    struct slice s;

    if (x5t == NULL)
        return ra->require_cert_binding
                   ? identity_refuse(err, "auth.cert_binding_required",
                                     "the token is not bound to a client "
                                     "certificate")
                   : AW_OK;
    s = json_str(x5t);
    if (!json_is(x5t, JSON_STRING) || cred->peer_sha256 == NULL ||
        jose_b64url_decode(s.ptr, s.len, want, sizeof(want), &n) != AW_OK ||
        n != sizeof(want) ||
        CRYPTO_memcmp(want, cred->peer_sha256, sizeof(want)) != 0)
        return identity_refuse(err, "auth.cert_binding_mismatch",
                               "the token is bound to another client "
                               "certificate");
    return AW_OK;
}

int
identity_authenticate(const struct config *cfg,
                      const struct config_route_auth *ra,
                      const struct credential *cred,
                      struct identity_cache *cache, int64_t now, bool final,
                      struct arena *a, struct principal *p,
                      struct auth_error *err)
{
    struct authn_token t = {.cfg = cfg,
                            .ra = ra,
                            .cache = cache,
                            .now = now,
                            .final = final,
                            .a = a,
                            .p = p,
                            .err = err};
    int rc;

    memset(p, 0, sizeof(*p));
    memset(err, 0, sizeof(*err));
    if (cred->kind == AUTH_NONE)
        return identity_fail(err, AW_INVALID, 401, "auth.missing_credentials",
                             "the route requires authentication", NULL);
    if (cred->kind == AUTH_MTLS)
        return (ra->methods & AUTH_METHOD_MTLS)
                   ? authn_mtls(cred, a, p, err)
                   : identity_fail(err, AW_INVALID, 401,
                                   "auth.missing_credentials",
                                   "the route takes no client certificate",
                                   NULL);
    identity_digest(cred->value, t.key.digest);
    if (cred->kind == AUTH_API_KEY) {
        if (cfg->api_keys == NULL || !(ra->methods & AUTH_METHOD_API_KEY))
            return identity_fail(err, AW_INVALID, 401,
                                 "auth.missing_credentials",
                                 "the route takes no API key", NULL);
        rc = apikey_verify(cfg->api_keys, cred->value, now, a, p, err);
    } else if (authn_bearer_is_jwt(ra, cred->value)) {
        rc = authn_token(&t, cred->value);
    } else if (ra->methods & AUTH_METHOD_INTROSPECTION) {
        rc = introspect_authenticate(cfg, ra, cred->value, t.key.digest,
                                     identity_cache_introspector(cache), now,
                                     final, a, p, err);
    } else {
        return identity_fail(err, AW_INVALID, 401, "auth.missing_credentials",
                             "the route takes no token", NULL);
    }
    identity_credential_id(t.key.digest, p->credential_id);
    if (rc == AW_OK && p->claims != NULL)
        rc = authn_cert_binding(ra, cred, p, err);
    return rc;
}
