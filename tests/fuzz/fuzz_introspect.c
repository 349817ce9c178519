/*
 * libFuzzer driver for introspection answers (introspect_answer_parse
 * and introspect_answer_judge), the bytes an identity provider sends
 * back about an opaque token.
 *
 * The input is an answer body, classified with a 4 KiB bound and, when
 * active, judged at a fixed time with every check switched on. An
 * accepted answer must really hold what the checks demand: "active"
 * true, an exp (when present) ahead of the clock, the issuer, one of
 * the audiences and the route's tenant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW INT64_C(1800000000)

static char *fuzz_audiences[] = {"orders-api", "billing"};
static struct config_claim_req fuzz_reqs[] = {{"tenant", "acme"}};

static const struct config_introspection fuzz_ci = {
    .max_response_bytes = 4096,
    .leeway_ms = 30000,
    .audiences = fuzz_audiences,
    .naudiences = 2,
    .issuer = "https://idp.example.com/",
    .roles_claim = "realm_access.roles",
};

static const struct config_route_auth fuzz_route = {
    .methods = AUTH_METHOD_INTROSPECTION,
    .claims = fuzz_reqs,
    .nclaims = 1,
};

/* An accepted answer must hold what the checks demand; abort if not. */
static void
fuzz_check_accepted(const struct json_value *ans, const struct principal *p)
{
    const struct json_value *active = json_get(ans, "active");
    const struct json_value *exp = json_get(ans, "exp");
    struct slice iss = json_str(json_get(ans, "iss"));
    const char *want = fuzz_ci.issuer;

    if (active == NULL || active->type != JSON_TRUE)
        abort();
    if (exp != NULL && (!json_is(exp, JSON_NUMBER) ||
                        exp->u.num.d <= FUZZ_NOW - 30))
        abort();
    if (iss.len != strlen(want) || memcmp(iss.ptr, want, iss.len) != 0)
        abort();
    if (json_get(ans, "aud") == NULL || json_get(ans, "tenant") == NULL)
        abort();
    if (p->kind != AUTH_INTROSPECTION || p->claims != ans)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    const struct json_value *ans = NULL;
    const char *detail = NULL;
    struct principal p;
    struct auth_error err;
    int rc;

    arena_init(&a, 4096, 1 << 20);
    rc = introspect_answer_parse((const char *)data, size,
                                 fuzz_ci.max_response_bytes, &a, &ans,
                                 &detail);
    if (rc != AW_OK && rc != AW_DECLINED && detail == NULL)
        abort();
    if (rc == AW_OK) {
        memset(&p, 0, sizeof(p));
        memset(&err, 0, sizeof(err));
        rc = introspect_answer_judge(&fuzz_ci, &fuzz_route, ans,
                                     (struct slice){(const char *)data, size},
                                     FUZZ_NOW, &a, &p, &err);
        if (rc == AW_OK)
            fuzz_check_accepted(ans, &p);
        else if (rc == AW_INVALID && (err.reason == NULL || err.status != 401))
            abort();
    }
    arena_fini(&a);
    return 0;
}
