/*
 * Token introspection: how answers are classified and judged, and the
 * rules of the per-worker answer cache. The exchange with a real
 * endpoint is covered by tests/integration/test_introspection.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

#define NOW 1800000000LL
#define NOW_MS (NOW * 1000)

static char *aud_list[] = {"api://orders", "api://other"};

/* A configuration with every check on; tests switch some off. */
static struct config_introspection
base_config(void)
{
    struct config_introspection ci = {
        .max_response_bytes = 16384,
        .leeway_ms = 30000,
        .cache_ttl_ms = 300000,
        .negative_ttl_ms = 10000,
        .roles_claim = "roles",
    };

    return ci;
}

struct judged {
    struct arena a;
    struct principal p;
    struct auth_error err;
    int rc;
};

/* Classify and, when active, judge body as a request at NOW would. */
static void
judge(const struct config_introspection *ci,
      const struct config_route_auth *ra, const char *body, struct judged *j)
{
    const struct json_value *ans;
    const char *detail = NULL;

    memset(j, 0, sizeof(*j));
    arena_init(&j->a, 4096, 1 << 20);
    j->rc = introspect_answer_parse(body, strlen(body), ci->max_response_bytes,
                                    &j->a, &ans, &detail);
    if (j->rc == AW_OK)
        j->rc = introspect_answer_judge(ci, ra, ans,
                                        (struct slice){body, strlen(body)},
                                        NOW, &j->a, &j->p, &j->err);
}

static void
judged_fini(struct judged *j)
{
    arena_fini(&j->a);
}

/* The classification of one body by introspect_answer_parse. */
static int
classify(const char *body, size_t max)
{
    struct arena a;
    const struct json_value *ans;
    const char *detail = NULL;
    int rc;

    arena_init(&a, 4096, 1 << 20);
    rc = introspect_answer_parse(body, strlen(body), max, &a, &ans, &detail);
    if (rc != AW_OK && rc != AW_DECLINED)
        assert_non_null(detail);
    arena_fini(&a);
    return rc;
}

static void
test_classify(void **state)
{
    (void)state;
    assert_int_equal(classify("{\"active\":true}", 1024), AW_OK);
    assert_int_equal(classify("{\"active\":false}", 1024), AW_DECLINED);
    assert_int_equal(classify("{\"active\":false,\"exp\":\"x\"}", 1024),
                     AW_DECLINED);
    /* Anything but a JSON boolean is the server's fault, not a verdict. */
    assert_int_equal(classify("{\"active\":\"true\"}", 1024), AW_INVALID);
    assert_int_equal(classify("{\"active\":1}", 1024), AW_INVALID);
    assert_int_equal(classify("{}", 1024), AW_INVALID);
    assert_int_equal(classify("[{\"active\":true}]", 1024), AW_INVALID);
    assert_int_equal(classify("true", 1024), AW_INVALID);
    assert_int_equal(classify("<html>", 1024), AW_INVALID);
    assert_int_equal(classify("", 1024), AW_INVALID);
    assert_int_equal(classify("{\"active\":true,\"active\":false}", 1024),
                     AW_INVALID);
    assert_int_equal(classify("{\"active\":true} x", 1024), AW_INVALID);
    assert_int_equal(classify("{\"active\":true,\"pad\":\"aaaaaaaaaa\"}", 20),
                     AW_TOOBIG);
}

static void
test_classify_member_types(void **state)
{
    static const char *const bad[] = {
        "{\"active\":true,\"exp\":\"1800000100\"}",
        "{\"active\":true,\"nbf\":null}",
        "{\"active\":true,\"iat\":[]}",
        "{\"active\":true,\"sub\":7}",
        "{\"active\":true,\"client_id\":{}}",
        "{\"active\":true,\"username\":false}",
        "{\"active\":true,\"iss\":1}",
        "{\"active\":true,\"scope\":[\"a\"]}",
        "{\"active\":true,\"aud\":5}",
        "{\"active\":true,\"aud\":[\"a\",5]}",
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(classify(bad[i], 1024), AW_INVALID);
    assert_int_equal(classify("{\"active\":true,\"aud\":[\"a\",\"b\"],"
                              "\"exp\":1.5,\"sub\":\"u\"}",
                              1024),
                     AW_OK);
}

static void
test_principal(void **state)
{
    struct config_introspection ci = base_config();
    struct config_route_auth ra = {0};
    struct judged j;
    const char *body = "{\"active\":true,\"sub\":\"alice\",\"client_id\":"
                       "\"app-1\",\"username\":\"Alice\",\"scope\":\"read  "
                       "write\",\"exp\":1800000100,\"roles\":[\"admin\"]}";
    unsigned char raw[512];
    char b64[700];
    size_t n;

    (void)state;
    judge(&ci, &ra, body, &j);
    assert_int_equal(j.rc, AW_OK);
    assert_int_equal(j.p.kind, AUTH_INTROSPECTION);
    assert_true(slice_is(j.p.subject, "alice"));
    assert_true(slice_is(j.p.consumer, "app-1"));
    assert_true(slice_is(j.p.username, "Alice"));
    assert_true(slice_is(j.p.issuer, "introspection"));
    assert_int_equal(j.p.nscopes, 2);
    assert_true(slice_is(j.p.scopes[0], "read"));
    assert_true(slice_is(j.p.scopes[1], "write"));
    assert_int_equal(j.p.nroles, 1);
    assert_true(slice_is(j.p.roles[0], "admin"));
    assert_int_equal(j.p.expires, 1800000100LL);
    assert_non_null(j.p.claims);
    /* The forward.claims value is the answer itself, in base64url. */
    slice_copy_cstr(b64, sizeof(b64), j.p.claims_b64);
    for (n = 0; b64[n] != '\0'; n++)
        b64[n] = b64[n] == '-' ? '+' : b64[n] == '_' ? '/' : b64[n];
    while (n % 4 != 0)
        b64[n++] = '=';
    b64[n] = '\0';
    n = (size_t)EVP_DecodeBlock(raw, (unsigned char *)b64, (int)n);
    assert_true(n >= strlen(body));
    assert_memory_equal(raw, body, strlen(body));
    judged_fini(&j);
}

/* The reason judge() gave for body, or "ok". */
static const char *
reason_of(const struct config_introspection *ci,
          const struct config_route_auth *ra, const char *body)
{
    struct judged j;
    const char *r;

    judge(ci, ra, body, &j);
    r = j.rc == AW_OK ? "ok" : j.err.reason != NULL ? j.err.reason : "?";
    if (j.rc != AW_OK && j.rc != AW_NOMEM)
        assert_int_equal(j.err.status, 401);
    judged_fini(&j);
    return r;
}

static void
test_times(void **state)
{
    struct config_introspection ci = base_config();
    struct config_route_auth ra = {0};

    (void)state;
    assert_string_equal(reason_of(&ci, &ra, "{\"active\":true}"), "ok");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"exp\":1799999000}"),
        "auth.token_expired");
    /* Within the leeway of 30 s an exp just past still passes. */
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"exp\":1799999980}"), "ok");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"exp\":1799999970}"),
        "auth.token_expired");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"nbf\":1800000100}"),
        "auth.token_not_yet_valid");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"nbf\":1800000020}"), "ok");
    ci.leeway_ms = 0;
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"exp\":1800000000}"),
        "auth.token_expired");
}

static void
test_audience_and_issuer(void **state)
{
    struct config_introspection ci = base_config();
    struct config_route_auth ra = {0};

    (void)state;
    ci.audiences = aud_list;
    ci.naudiences = 2;
    assert_string_equal(reason_of(&ci, &ra, "{\"active\":true}"),
                        "auth.missing_claim");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"aud\":\"api://x\"}"),
        "auth.wrong_audience");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"aud\":\"api://other\"}"),
        "ok");
    assert_string_equal(
        reason_of(&ci, &ra,
                  "{\"active\":true,\"aud\":[\"x\",\"api://orders\"]}"),
        "ok");
    assert_string_equal(reason_of(&ci, &ra, "{\"active\":true,\"aud\":[]}"),
                        "auth.wrong_audience");
    ci.naudiences = 0;
    ci.issuer = "https://idp.example";
    assert_string_equal(reason_of(&ci, &ra, "{\"active\":true}"),
                        "auth.missing_claim");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"iss\":\"https://idp\"}"),
        "auth.wrong_issuer");
    assert_string_equal(
        reason_of(&ci, &ra,
                  "{\"active\":true,\"iss\":\"https://idp.example\"}"),
        "ok");
    /* Issuer and audiences are compared byte for byte, case included. */
    assert_string_equal(
        reason_of(&ci, &ra,
                  "{\"active\":true,\"iss\":\"https://IDP.example\"}"),
        "auth.wrong_issuer");
    ci.issuer = NULL;
    ci.naudiences = 2;
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"aud\":\"API://orders\"}"),
        "auth.wrong_audience");
}

static void
test_route_claims(void **state)
{
    struct config_introspection ci = base_config();
    struct config_claim_req req[] = {{"tenant", "acme"}};
    struct config_route_auth ra = {.claims = req, .nclaims = 1};

    (void)state;
    assert_string_equal(reason_of(&ci, &ra, "{\"active\":true}"),
                        "auth.missing_claim");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"tenant\":\"evil\"}"),
        "auth.claim_mismatch");
    assert_string_equal(
        reason_of(&ci, &ra, "{\"active\":true,\"tenant\":\"acme\"}"), "ok");
}

static void
test_cache_until(void **state)
{
    (void)state;
    /* Positive: min(exp, now + cap). */
    assert_true(introspect_cache_until(300000, 10000, true, 0, NOW_MS) ==
                NOW_MS + 300000);
    assert_true(introspect_cache_until(300000, 10000, true, NOW + 60,
                                       NOW_MS) == NOW_MS + 60000);
    assert_true(introspect_cache_until(300000, 10000, true, NOW + 6000,
                                       NOW_MS) == NOW_MS + 300000);
    /* An exp already past, or no cap at all: not kept. */
    assert_true(introspect_cache_until(300000, 10000, true, NOW - 1,
                                       NOW_MS) <= NOW_MS);
    assert_true(introspect_cache_until(0, 10000, true, 0, NOW_MS) <= NOW_MS);
    /* Negative: the negative TTL, whatever exp says. */
    assert_true(introspect_cache_until(300000, 10000, false, NOW + 6000,
                                       NOW_MS) == NOW_MS + 10000);
    assert_true(introspect_cache_until(300000, 0, false, 0, NOW_MS) <=
                NOW_MS);
}

/* The SHA-256 of a token, as the cache is keyed. */
static void
digest_of(const char *token, unsigned char d[IDENTITY_DIGEST_LEN])
{
    identity_digest((struct slice){token, strlen(token)}, d);
}

static void
test_cache_rules(void **state)
{
    struct introspect_cache *c = introspect_cache_new(64);
    unsigned char d1[32], d2[32];
    struct slice body;
    bool active;
    const char *ans = "{\"active\":true,\"sub\":\"a\"}";

    (void)state;
    assert_non_null(c);
    digest_of("token-one", d1);
    digest_of("token-two", d2);
    introspect_cache_put(c, d1, 7, true, (struct slice){ans, strlen(ans)},
                         NOW_MS + 1000, NOW_MS);
    introspect_cache_put(c, d2, 7, false, SLICE_NULL, NOW_MS + 500, NOW_MS);
    assert_int_equal(introspect_cache_count(c), 2);
    assert_int_equal(introspect_cache_get(c, d1, 7, NOW_MS, &active, &body),
                     AW_OK);
    assert_true(active);
    assert_int_equal(body.len, strlen(ans));
    assert_memory_equal(body.ptr, ans, body.len);
    assert_int_equal(introspect_cache_get(c, d2, 7, NOW_MS + 499, &active,
                                          &body),
                     AW_OK);
    assert_false(active);
    /* The negative TTL passes; then the positive entry's life. */
    assert_int_equal(introspect_cache_get(c, d2, 7, NOW_MS + 500, &active,
                                          &body),
                     AW_DECLINED);
    assert_int_equal(introspect_cache_get(c, d1, 7, NOW_MS + 1000, &active,
                                          &body),
                     AW_DECLINED);
    assert_int_equal(introspect_cache_count(c), 0);
    /* Another configuration generation never sees the entry. */
    introspect_cache_put(c, d1, 7, true, (struct slice){ans, strlen(ans)},
                         NOW_MS + 1000, NOW_MS);
    assert_int_equal(introspect_cache_get(c, d1, 8, NOW_MS, &active, &body),
                     AW_DECLINED);
    /* Already void when put: nothing is kept. */
    introspect_cache_put(c, d2, 7, false, SLICE_NULL, NOW_MS, NOW_MS);
    assert_int_equal(introspect_cache_get(c, d2, 7, NOW_MS, &active, &body),
                     AW_DECLINED);
    introspect_cache_free(c);
}

static void
test_cache_bounds(void **state)
{
    struct introspect_cache *c = introspect_cache_new(16);
    struct introspect_cache *none = introspect_cache_new(0);
    static char big[INTROSPECT_CACHE_BODY + 2];
    unsigned char d[32];
    char token[32];
    struct slice body;
    bool active;

    (void)state;
    assert_non_null(c);
    assert_non_null(none);
    for (int i = 0; i < 1000; i++) {
        snprintf(token, sizeof(token), "t%d", i);
        digest_of(token, d);
        introspect_cache_put(c, d, 1, false, SLICE_NULL, NOW_MS + 1000 + i,
                             NOW_MS);
        assert_true(introspect_cache_count(c) <= 16);
    }
    assert_int_equal(introspect_cache_count(c), 16);
    /* An answer too large to keep is not kept. */
    memset(big, 'x', sizeof(big) - 1);
    digest_of("big", d);
    introspect_cache_put(c, d, 1, true, (struct slice){big, sizeof(big) - 1},
                         NOW_MS + 1000, NOW_MS);
    assert_int_equal(introspect_cache_get(c, d, 1, NOW_MS, &active, &body),
                     AW_DECLINED);
    introspect_cache_put(none, d, 1, false, SLICE_NULL, NOW_MS + 1000,
                         NOW_MS);
    assert_int_equal(introspect_cache_get(none, d, 1, NOW_MS, &active, &body),
                     AW_DECLINED);
    introspect_cache_clear(c);
    assert_int_equal(introspect_cache_count(c), 0);
    introspect_cache_free(c);
    introspect_cache_free(none);
}

static void
test_evict(void **state)
{
    struct introspect_cache *c = introspect_cache_new(64);
    unsigned char d1[32], d2[32];
    uint64_t seen = 0;
    struct slice body;
    bool active;

    (void)state;
    introspect_cache_sync(c, &seen);
    digest_of("keep-me", d1);
    digest_of("drop-me", d2);
    introspect_cache_put(c, d1, 1, false, SLICE_NULL, NOW_MS + 1000, NOW_MS);
    introspect_cache_put(c, d2, 1, false, SLICE_NULL, NOW_MS + 1000, NOW_MS);
    identity_introspect_evict("drop-me", 7);
    introspect_cache_sync(c, &seen);
    assert_int_equal(introspect_cache_get(c, d2, 1, NOW_MS, &active, &body),
                     AW_DECLINED);
    assert_int_equal(introspect_cache_get(c, d1, 1, NOW_MS, &active, &body),
                     AW_OK);
    /* A cache that missed more evictions than are remembered drops all. */
    for (int i = 0; i < 300; i++)
        identity_introspect_evict_digest(d2);
    introspect_cache_sync(c, &seen);
    assert_int_equal(introspect_cache_count(c), 0);
    introspect_cache_free(c);
}

static void
test_no_client(void **state)
{
    struct config cfg = {0};
    struct config_introspection ci = base_config();
    struct config_route_auth ra = {.methods = AUTH_METHOD_INTROSPECTION};
    unsigned char d[32] = {0};
    struct principal p;
    struct auth_error err = {0};
    struct arena a;

    (void)state;
    cfg.introspection = &ci;
    arena_init(&a, 1024, 1 << 16);
    assert_int_equal(introspect_authenticate(&cfg, &ra, SLICE_LIT("tok"), d,
                                             NULL, NOW, false, &a, &p, &err),
                     AW_ERROR);
    assert_int_equal(err.status, 503);
    assert_string_equal(err.reason, "auth.introspection_unavailable");
    arena_fini(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_classify_member_types),
        cmocka_unit_test(test_principal),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_audience_and_issuer),
        cmocka_unit_test(test_route_claims),
        cmocka_unit_test(test_cache_until),
        cmocka_unit_test(test_cache_rules),
        cmocka_unit_test(test_cache_bounds),
        cmocka_unit_test(test_evict),
        cmocka_unit_test(test_no_client),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
