/*
 * routes[].auth: the credentials a route accepts, from which issuers,
 * the claim values it requires, where an API key is found, and the
 * header fields that carry the principal to the upstream.
 *
 * The identity section is parsed before the routes, so every reference
 * a route makes to an issuer or to the API key store is checked here,
 * at the line of the route that makes it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

#define AUTH_MAX_ISSUERS 64
#define AUTH_NAME_MAX 64
#define AUTH_MAX_CLAIMS 32
#define AUTH_CLAIM_MAX 256
#define AUTH_CLAIM_VALUE_MAX 1024
#define AUTH_HEADER_MAX 64
#define AUTH_CHOICE_MAX 16

/* The defaults of routes[].auth.forward, in the order of the struct. */
static const char *const auth_fwd_defaults[] = {
    "X-Auth-Subject",
    "X-Auth-Issuer",
    "X-Auth-Method",
    "X-Auth-Scopes",
    "X-Auth-Roles",
    "X-Auth-Consumer",
    NULL,
};

/* The forward header members, in the order of auth_fwd_defaults. */
static char **
auth_fwd_member(struct config_route_auth *ra, size_t i)
{
    char **members[] = {
        &ra->fwd_subject, &ra->fwd_issuer,   &ra->fwd_method, &ra->fwd_scopes,
        &ra->fwd_roles,   &ra->fwd_consumer, &ra->fwd_claims,
    };

    return members[i];
}

/* The bit of one entry of auth.methods. */
static int
auth_method_bit(struct config_loader *ld, const struct config_node *it,
                const char *where, uint32_t *bit)
{
    static const char *const names[] = {"jwt", "api_key", "introspection",
                                        "mtls"};
    static const uint32_t bits[] = {AUTH_METHOD_JWT, AUTH_METHOD_API_KEY,
                                    AUTH_METHOD_INTROSPECTION,
                                    AUTH_METHOD_MTLS};
    int i;
    int rc = config_parse_choice(ld, it, AUTH_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    if (rc == AW_OK)
        *bit = bits[i];
    return rc;
}

static const struct config_bits auth_method_bits = {
    .maxlen = AUTH_CHOICE_MAX,
    .bit_of = auth_method_bit,
    .empty = "an empty list accepts no caller; leave auth out for a route "
             "without authentication",
};

/* auth.methods: a non-empty list; any one method suffices. */
static int
auth_methods(struct config_loader *ld, const struct config_node *v, void *dst,
             const struct config_field *f, const char *where)
{
    (void)f;
    return config_parse_bits(ld, v, &auth_method_bits, where, dst);
}

/* The issuer named by a scalar, or NULL after recording a problem. */
static struct config_issuer *
auth_find_issuer(struct config_loader *ld, const struct config_node *it,
                 const char *where)
{
    const struct config *c = ld->c;
    char q[96];
    const char *s;

    if (config_expect_string(ld, it, AUTH_NAME_MAX, where, &s) != AW_OK)
        return NULL;
    for (size_t i = 0; i < c->nissuers; i++)
        if (strcmp(c->issuers[i].name, s) == 0)
            return &c->issuers[i];
    config_error(ld, it, "%s: no issuer is named '%s' under identity.issuers",
                 where, config_node_quote(it, q, sizeof(q)));
    return NULL;
}

/* auth.issuers: names from identity.issuers, no repeats. */
static int
auth_issuers(struct config_loader *ld, const struct config_node *v, void *dst,
             const struct config_field *f, const char *where)
{
    struct config_route_auth *ra = dst;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, AUTH_MAX_ISSUERS,
                                   "issuer names", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    ra->issuers = config_alloc(ld, v->n * sizeof(*ra->issuers));
    if (ra->issuers == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        struct config_issuer *iss = auth_find_issuer(ld, it, where);
        bool repeat = false;

        for (size_t i = 0; iss != NULL && i < ra->nissuers; i++)
            repeat = repeat || ra->issuers[i] == iss;
        if (repeat)
            config_error(ld, it, "%s: %s is listed twice", where, iss->name);
        if (iss == NULL || repeat)
            rc = AW_INVALID;
        else
            ra->issuers[ra->nissuers++] = iss;
    }
    return rc;
}

/* One entry of auth.claims: a claim path and the value it must hold. */
static int
auth_claim_one(struct config_loader *ld, const struct config_node *k,
               const char *where, struct config_claim_req *req)
{
    const struct config_node *v = k->value;
    const char *value;
    int rc = k->len > AUTH_CLAIM_MAX ? AW_INVALID : AW_OK;

    if (rc != AW_OK)
        config_error(ld, k, "%s: a claim path longer than %d bytes", where,
                     AUTH_CLAIM_MAX);
    else
        rc = config_check_claim_path(ld, k, where);
    if (config_expect_string(ld, v, AUTH_CLAIM_VALUE_MAX, where, &value) !=
        AW_OK)
        rc = AW_INVALID;
    if (rc != AW_OK)
        return rc;
    req->path = config_strdup(ld, k->text, k->len);
    req->value = config_strdup(ld, value, v->len);
    return req->path != NULL && req->value != NULL ? AW_OK : AW_NOMEM;
}

/* auth.claims: a mapping from claim path to required value. */
static int
auth_claims(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    struct config_route_auth *ra = dst;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_MAP, 1, AUTH_MAX_CLAIMS,
                                   "claims", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    ra->claims = config_alloc(ld, v->n * sizeof(*ra->claims));
    if (ra->claims == NULL)
        return AW_NOMEM;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        int one;

        if (k->dup)
            continue;
        one = auth_claim_one(ld, k, where, &ra->claims[ra->nclaims]);
        if (one == AW_NOMEM)
            return one;
        if (one == AW_OK)
            ra->nclaims++;
        else
            rc = AW_INVALID;
    }
    return rc;
}

/*
 * True for header names the gateway manages itself, which neither an
 * API key nor the principal may travel in.
 */
static bool
auth_header_reserved(struct slice name)
{
    return http_is_hop_by_hop(name) || slice_is(name, "Host") ||
           slice_is(name, "Content-Length") || slice_is(name, "Authorization");
}

/* A header field name for an API key or a forwarded value. */
static int
auth_check_header(struct config_loader *ld, const struct config_node *v,
                  const char *where)
{
    char q[96];

    if (!config_is_token(v->text, v->len)) {
        config_error(ld, v, "%s: '%s' is not a valid header name", where,
                     config_node_quote(v, q, sizeof(q)));
        return AW_INVALID;
    }
    if (auth_header_reserved((struct slice){v->text, v->len})) {
        config_error(ld, v, "%s: the gateway does not let '%s' be used here",
                     where, v->text);
        return AW_INVALID;
    }
    return AW_OK;
}

/*
 * auth.api_key.header; dst is the route's auth (offset 0). The field
 * is compared without regard to case, as every field name is.
 */
static int
auth_key_header(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    struct config_route_auth *ra = dst;

    (void)f;
    ra->api_key_in_query = false;
    return config_store_string(ld, v, AUTH_HEADER_MAX, auth_check_header, where,
                               &ra->api_key_name);
}

/*
 * A query parameter name of unreserved characters, so that it is
 * compared as sent without any decoding.
 */
static int
auth_check_query(struct config_loader *ld, const struct config_node *v,
                 const char *where)
{
    char q[96];

    for (size_t i = 0; i < v->len; i++) {
        char ch = v->text[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') ||
              (ch != '\0' && strchr("-._~", ch) != NULL))) {
            config_error(ld, v,
                         "%s: '%s' may hold only letters, digits, '-', "
                         "'.', '_' and '~'",
                         where, config_node_quote(v, q, sizeof(q)));
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/* auth.api_key.query; dst is the route's auth (offset 0). */
static int
auth_key_query(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    struct config_route_auth *ra = dst;
    int rc = config_store_string(ld, v, AUTH_HEADER_MAX, auth_check_query,
                                 where, &ra->api_key_name);

    (void)f;
    if (rc == AW_OK)
        ra->api_key_in_query = true;
    return rc;
}

/* The keys of auth.api_key; both parse functions take the route auth. */
static const struct config_field auth_api_key_schema[] = {
    {.key = "header", .parse = auth_key_header},
    {.key = "query", .parse = auth_key_query},
    {.key = NULL},
};

/* auth.api_key: exactly one of header and query. */
static int
auth_api_key(struct config_loader *ld, const struct config_node *v, void *dst,
             const struct config_field *f, const char *where)
{
    int rc;

    (void)f;
    rc = config_walk_map(ld, v, auth_api_key_schema, dst, where);
    if (rc != AW_OK || v->n == 1)
        return rc;
    config_error(ld, v, "%s: give exactly one of header and query", where);
    return AW_INVALID;
}

/* auth.authorization: strip (the default) or keep. */
static int
auth_authorization(struct config_loader *ld, const struct config_node *v,
                   void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"strip", "keep"};
    int i;
    int rc = config_parse_choice(ld, v, AUTH_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(bool *)dst = i == 1;
    return rc;
}

/*
 * One auth.forward entry: a header name, or a quoted empty string for
 * a value that is not sent.
 */
static int
auth_fwd_header(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    if (v->type == CONFIG_NODE_SCALAR && !v->plain && v->len == 0) {
        *(char **)dst = NULL;
        return AW_OK;
    }
    return config_store_string(ld, v, AUTH_HEADER_MAX, auth_check_header, where,
                               dst);
}

#define FWD(k, member)                                                         \
    {                                                                          \
        .key = (k), .parse = auth_fwd_header,                                  \
        .offset = offsetof(struct config_route_auth, member)                   \
    }

/* The keys of auth.forward, each a header name or "". */
static const struct config_field auth_forward_schema[] = {
    FWD("subject", fwd_subject), FWD("issuer", fwd_issuer),
    FWD("method", fwd_method),   FWD("scopes", fwd_scopes),
    FWD("roles", fwd_roles),     FWD("consumer", fwd_consumer),
    FWD("claims", fwd_claims),   {.key = NULL},
};

/*
 * The keys of routes[].auth. Offsets are into struct config_route_auth;
 * entries without one receive the whole struct.
 */
static const struct config_field auth_schema[] = {
    {.key = "methods",
     .parse = auth_methods,
     .offset = offsetof(struct config_route_auth, methods)},
    {.key = "issuers", .parse = auth_issuers},
    {.key = "claims", .parse = auth_claims},
    {.key = "api_key", .parse = auth_api_key},
    {.key = "authorization",
     .parse = auth_authorization,
     .offset = offsetof(struct config_route_auth, keep_authorization)},
    {.key = "require_cert_binding",
     .parse = config_parse_bool,
     .offset = offsetof(struct config_route_auth, require_cert_binding),
     .size = sizeof(bool), .max = 1},
    {.key = "forward",
     .parse = config_parse_section,
     .sub = auth_forward_schema},
    {.key = NULL},
};

/* A new auth setting with every default but the issuers filled in. */
static struct config_route_auth *
auth_new(struct config_loader *ld)
{
    struct config_route_auth *ra = config_alloc(ld, sizeof(*ra));

    if (ra == NULL)
        return NULL;
    ra->methods = AUTH_METHOD_JWT;
    ra->api_key_name = config_strdup(ld, "X-API-Key", 9);
    for (size_t i = 0; i < ARRAY_LEN(auth_fwd_defaults); i++) {
        const char *name = auth_fwd_defaults[i];

        if (name == NULL)
            continue;
        *auth_fwd_member(ra, i) = config_strdup(ld, name, strlen(name));
        if (*auth_fwd_member(ra, i) == NULL)
            return NULL;
    }
    return ra->api_key_name != NULL ? ra : NULL;
}

/* True when the identity section of the file has the key name. */
static bool
auth_identity_has(const struct config_loader *ld, const char *name)
{
    const struct config_node *id = config_map_get(ld->root, "identity");

    return id != NULL && id->type == CONFIG_NODE_MAP &&
           config_map_get(id, name) != NULL;
}

/*
 * Without an issuers list a route accepts every issuer. Two issuers
 * with the same "iss" on one route could not be told apart by a token,
 * so that is refused, listed or not.
 */
static int
auth_issuers_settle(struct config_loader *ld, const struct config_node *m,
                    struct config_route_auth *ra, const char *where)
{
    struct config *c = ld->c;
    const struct config_node *at = config_map_get(m, "issuers");

    if (at == NULL) {
        at = m;
        ra->issuers = config_alloc(ld, (c->nissuers + 1) * sizeof(void *));
        if (ra->issuers == NULL)
            return AW_NOMEM;
        for (size_t i = 0; i < c->nissuers; i++)
            ra->issuers[ra->nissuers++] = &c->issuers[i];
    }
    if (ra->nissuers == 0 && !auth_identity_has(ld, "issuers")) {
        config_error(ld, at,
                     "%s: jwt needs an issuer under "
                     "identity.issuers",
                     where);
        return AW_INVALID;
    }
    for (size_t i = 0; i < ra->nissuers; i++) {
        for (size_t j = 0; j < i; j++) {
            if (ra->issuers[i]->issuer == NULL ||
                ra->issuers[j]->issuer == NULL ||
                strcmp(ra->issuers[i]->issuer, ra->issuers[j]->issuer) != 0)
                continue;
            config_error(ld, at,
                         "%s: issuers %s and %s have the same "
                         "issuer, so a token could not tell them apart; "
                         "list one",
                         where, ra->issuers[j]->name, ra->issuers[i]->name);
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/* Keys given for a method the route does not accept are mistakes. */
static int
auth_methods_settle(struct config_loader *ld, const struct config_node *m,
                    const struct config_route_auth *ra, const char *where)
{
    const struct config_node *claims = config_map_get(m, "claims");
    const struct config_node *iss = config_map_get(m, "issuers");
    const struct config_node *key = config_map_get(m, "api_key");
    bool jwt = ra->methods & AUTH_METHOD_JWT;
    bool apikey = ra->methods & AUTH_METHOD_API_KEY;
    bool intro = ra->methods & AUTH_METHOD_INTROSPECTION;
    int rc = AW_OK;

    if (iss != NULL && !jwt) {
        config_error(ld, iss, "%s.issuers: the route does not take jwt", where);
        rc = AW_INVALID;
    }
    if (claims != NULL && ((!jwt && !intro) || apikey)) {
        config_error(ld, claims,
                     "%s.claims: claims are checked on tokens only; on a "
                     "route that takes API keys a key would bypass them",
                     where);
        rc = AW_INVALID;
    }
    if (key != NULL && !apikey) {
        config_error(ld, key, "%s.api_key: the route does not take api_key",
                     where);
        rc = AW_INVALID;
    }
    if (apikey && !auth_identity_has(ld, "api_keys")) {
        config_error(ld, config_map_get(m, "methods"),
                     "%s.methods: api_key needs identity.api_keys", where);
        rc = AW_INVALID;
    }
    if (ra->require_cert_binding && !jwt && !intro) {
        config_error(ld, config_map_get(m, "require_cert_binding"),
                     "%s.require_cert_binding: binds tokens only; the "
                     "route takes neither jwt nor introspection", where);
        rc = AW_INVALID;
    }
    if (intro && !auth_identity_has(ld, "introspection")) {
        config_error(ld, config_map_get(m, "methods"),
                     "%s.methods: introspection needs "
                     "identity.introspection",
                     where);
        rc = AW_INVALID;
    }
    return rc;
}

/*
 * Every header the route adds upstream must be distinct, and none may
 * be the API key's own field: the client's copies of the forward fields
 * are stripped, which would take the key with them.
 */
static int
auth_headers_settle(struct config_loader *ld, const struct config_node *m,
                    struct config_route_auth *ra, const char *where)
{
    const struct config_node *at = config_map_get(m, "forward");
    size_t n = ARRAY_LEN(auth_fwd_defaults);

    for (size_t i = 0; i < n; i++) {
        const char *a = *auth_fwd_member(ra, i);
        struct slice sa = {a, a != NULL ? strlen(a) : 0};
        bool clash = a != NULL && !ra->api_key_in_query &&
                     (ra->methods & AUTH_METHOD_API_KEY) &&
                     slice_is(sa, ra->api_key_name);

        for (size_t j = 0; a != NULL && j < i && !clash; j++) {
            const char *b = *auth_fwd_member(ra, j);

            clash = b != NULL && slice_is(sa, b);
        }
        if (clash) {
            config_error(ld, at != NULL ? at : m,
                         "%s.forward: header '%s' is used twice", where, a);
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/*
 * The checks between keys run only on an auth mapping whose every key
 * parsed, so that one mistake is reported once, where it is written.
 * The route keeps no auth at all unless everything is right; the load
 * fails anyway, and nothing downstream sees half a setting.
 */
int
config_parse_route_auth(struct config_loader *ld, const struct config_node *v,
                        void *dst, const struct config_field *f,
                        const char *where)
{
    struct config_route_auth *ra = auth_new(ld);
    int rc;

    (void)f;
    if (ra == NULL)
        return AW_NOMEM;
    rc = config_walk_map(ld, v, auth_schema, ra, where);
    if (rc != AW_OK)
        return rc;
    rc = auth_methods_settle(ld, v, ra, where);
    if (rc == AW_OK && (ra->methods & AUTH_METHOD_JWT))
        rc = auth_issuers_settle(ld, v, ra, where);
    if (rc == AW_OK)
        rc = auth_headers_settle(ld, v, ra, where);
    if (rc == AW_OK)
        *(struct config_route_auth **)dst = ra;
    return rc;
}
