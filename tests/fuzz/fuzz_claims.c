/*
 * libFuzzer driver for the claim rules and the principal built from a
 * token's payload (claims_check, claims_check_route,
 * principal_from_claims).
 *
 * The input is a JSON payload, parsed as a token's would be, and
 * checked at a fixed time against one issuer with every rule switched
 * on. An accepted payload must really hold what the rules demand: an
 * exp ahead of the clock, the issuer, one of the audiences, the route's
 * tenant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW INT64_C(1800000000)

static char *fuzz_audiences[] = {"orders-api", "billing"};
static char *fuzz_required[] = {"exp", "sub"};
static struct config_claim_req fuzz_reqs[] = {{"tenant", "acme"},
                                              {"realm.level", "3"}};

static const struct config_issuer fuzz_issuer = {
    .name = "corp",
    .issuer = "https://idp.example.com/",
    .audiences = fuzz_audiences,
    .naudiences = 2,
    .algorithms = 1u << JOSE_ES256,
    .leeway_ms = 30000,
    .max_lifetime_ms = 3600000,
    .required = fuzz_required,
    .nrequired = 2,
    .typ = "JWT",
    .roles_claim = "realm_access.roles",
};

static const struct config_route_auth fuzz_route = {
    .methods = AUTH_METHOD_JWT,
    .claims = fuzz_reqs,
    .nclaims = 2,
};

/* An accepted payload must hold what the rules demand; abort if not. */
static void
fuzz_check_accepted(const struct json_value *payload)
{
    const struct json_value *exp = json_get(payload, "exp");
    struct slice iss = json_str(json_get(payload, "iss"));
    const char *want = fuzz_issuer.issuer;

    if (!json_is(exp, JSON_NUMBER) || exp->u.num.d <= FUZZ_NOW - 30)
        abort();
    if (iss.len != strlen(want) || memcmp(iss.ptr, want, iss.len) != 0)
        abort();
    if (json_get(payload, "aud") == NULL || json_get(payload, "sub") == NULL)
        abort();
    if (claims_lookup(payload, "tenant") == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char header_text[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
    struct json_value *header = NULL, *payload = NULL;
    struct json_limits lim;
    struct json_error jerr;
    struct auth_error err = {0};
    struct principal p = {0};
    struct arena a;
    int rc;

    arena_init(&a, 4096, 4 << 20);
    json_limits_default(&lim);
    if (json_parse(header_text, sizeof(header_text) - 1, &lim, &a, &header,
                   &jerr) != AW_OK)
        abort();
    if (json_parse((const char *)data, size, &lim, &a, &payload, &jerr) !=
            AW_OK ||
        !json_is(payload, JSON_OBJECT))
        goto out;
    rc = claims_check(&fuzz_issuer, header, payload, FUZZ_NOW, &err);
    if (rc == AW_OK)
        rc = claims_check_route(&fuzz_route, payload, &err);
    if (rc == AW_OK)
        rc = principal_from_claims(&fuzz_issuer, payload, &a, &p, &err);
    if (rc == AW_OK)
        fuzz_check_accepted(payload);
    else if (err.reason == NULL || strncmp(err.reason, "auth.", 5) != 0 ||
             (rc == AW_INVALID && err.status != 401))
        abort();
out:
    arena_fini(&a);
    return 0;
}
