/*
 * Unit tests of the authentication stage: credential extraction, the
 * claim rules under an injected clock, the verified-token cache, and
 * identity_authenticate end to end on tokens minted by PyJWT.
 *
 * The group setup runs tests/unit/identity_tokens.py with Debian's
 * python3, which writes fresh keys, two JWK Set files and the tokens
 * into a private temporary directory; a configuration naming those
 * files is then loaded through the config module, as the gateway does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "config/config.h"
#include "identity/identity.h"
#include "identity/identity_int.h"

#define TOKEN_SCRIPT SRCDIR "/tests/unit/identity_tokens.py"
#define PYTHON "/usr/bin/python3"
#define NOW INT64_C(1800000000)
#define MAX_TOKENS 64

struct named_token {
    char name[32];
    char *value;
};

static char test_dir[64];
static struct named_token tokens[MAX_TOKENS];
static size_t ntokens;
static struct config *cfg;

/*
 * The YAML of the test configuration: the first %s is more keys of the
 * identity section, every other one the temporary directory.
 */
static const char config_fmt[] =
    "identity:\n"
    "%s"
    "  issuers:\n"
    "    corp:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api]\n"
    "      algorithms: [ES256, RS256]\n"
    "      max_lifetime: 24h\n"
    "      keys: {file: %s/public.json}\n"
    "    corp_at:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api]\n"
    "      typ: at+jwt\n"
    "      roles_claim: realm_access.roles\n"
    "      keys: {file: %s/public.json}\n"
    "    es_only:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api]\n"
    "      algorithms: [ES256]\n"
    "      keys: {file: %s/public.json}\n"
    "    hs:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api]\n"
    "      algorithms: [HS256]\n"
    "      keys: {file: %s/secret.json}\n"
    "    remote:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api]\n"
    "      keys: {url: \"http://127.0.0.1:9/jwks\"}\n"
    "  api_keys:\n"
    "    file: %s/api-keys\n"
    "    pepper_file: %s/pepper\n"
    "    revoked: [revoked1]\n"
    "upstreams:\n"
    "  demo: {servers: [\"127.0.0.1:9000\"]}\n"
    "routes:\n"
    "  - {name: corp, path: /corp, upstream: demo,\n"
    "     auth: {issuers: [corp]}, authz: {public: true}}\n"
    "  - name: claims\n"
    "    path: /claims\n"
    "    upstream: demo\n"
    "    authz: {public: true}\n"
    "    auth:\n"
    "      issuers: [corp]\n"
    "      claims: {tenant: acme, realm_access.roles: viewer,\n"
    "               \"https://example.com/groups\": blue}\n"
    "  - {name: at, path: /at, upstream: demo, auth: {issuers: [corp_at]}, authz: {public: true}}\n"
    "  - {name: es, path: /es, upstream: demo, auth: {issuers: [es_only]}, authz: {public: true}}\n"
    "  - {name: hs, path: /hs, upstream: demo, auth: {issuers: [hs]}, authz: {public: true}}\n"
    "  - {name: remote, path: /remote, upstream: demo,\n"
    "     auth: {issuers: [remote]}, authz: {public: true}}\n"
    "  - {name: either, path: /either, upstream: demo,\n"
    "     auth: {methods: [jwt, api_key], issuers: [corp]}, authz: {public: true}}\n";

/* Load the test configuration, with extra keys in its identity section. */
static int
load_config(struct config **out, const char *extra)
{
    struct config_errors errs;
    char text[4096];
    int rc;

    snprintf(text, sizeof(text), config_fmt, extra, test_dir, test_dir,
             test_dir, test_dir, test_dir, test_dir);
    rc = config_load_string("identity.yaml", text, strlen(text),
                            CONFIG_LOAD_NO_RESOLVE, out, &errs);

    if (rc != AW_OK)
        config_errors_print(&errs, stderr);
    return rc;
}

/* Read tokens.txt: one "NAME TOKEN" line per token. */
static int
read_tokens(void)
{
    char path[128], line[8192];
    FILE *f;

    snprintf(path, sizeof(path), "%s/tokens.txt", test_dir);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (ntokens < MAX_TOKENS && fgets(line, sizeof(line), f) != NULL) {
        char *sp = strchr(line, ' ');
        struct named_token *t = &tokens[ntokens++];

        if (sp == NULL)
            break;
        sp[1 + strcspn(sp + 1, "\n")] = '\0';
        slice_copy_cstr(t->name, sizeof(t->name),
                        (struct slice){line, (size_t)(sp - line)});
        t->value = strdup(sp + 1);
    }
    fclose(f);
    return ntokens > 0 ? 0 : -1;
}

static int
group_setup(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/test_identity.XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(cmd, sizeof(cmd), "%s %s %s %lld", PYTHON, TOKEN_SCRIPT, test_dir,
             (long long)NOW);
    if (system(cmd) != 0 || read_tokens() != 0)
        return -1;
    return load_config(&cfg, "") == AW_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
    const char *files[] = {"public.json", "secret.json", "tokens.txt", "pepper",
                           "api-keys"};
    char path[128];

    (void)state;
    config_unref(cfg);
    for (size_t i = 0; i < ntokens; i++)
        free(tokens[i].value);
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", test_dir, files[i]);
        unlink(path);
    }
    rmdir(test_dir);
    return 0;
}

/* The token minted under name; fails the test when there is none. */
static const char *
token(const char *name)
{
    for (size_t i = 0; i < ntokens; i++)
        if (strcmp(tokens[i].name, name) == 0)
            return tokens[i].value;
    fail_msg("no token named %s", name);
    return NULL;
}

/* The auth settings of route name in c. */
static const struct config_route_auth *
route_auth(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nroutes; i++)
        if (strcmp(c->routes[i].name, name) == 0)
            return c->routes[i].auth;
    fail_msg("no route named %s", name);
    return NULL;
}

/* One authentication attempt and its outcome. */
struct attempt {
    struct arena arena;
    struct principal p;
    struct auth_error err;
    int rc;
};

/* Authenticate token name on route at time now; free with done(). */
static void
attempt_full(struct attempt *t, const struct config *c, const char *route,
             const char *name, int64_t now, struct identity_cache *cache,
             bool final)
{
    const char *tok = token(name);
    struct credential cred = {.kind = AUTH_JWT, .value = {tok, strlen(tok)}};

    arena_init(&t->arena, 16384, 1 << 20);
    t->rc = identity_authenticate(c, route_auth(c, route), &cred, cache, now,
                                  final, &t->arena, &t->p, &t->err);
}

static void
attempt(struct attempt *t, const char *route, const char *name, int64_t now)
{
    attempt_full(t, cfg, route, name, now, NULL, false);
}

static void
done(struct attempt *t)
{
    arena_fini(&t->arena);
}

/* Fail unless authenticating name on route at now is refused so. */
static void
expect_refusal(const char *route, const char *name, int64_t now,
               const char *reason)
{
    struct attempt t;

    attempt(&t, route, name, now);
    if (t.rc != AW_INVALID || strcmp(t.err.reason, reason) != 0)
        fail_msg("%s on %s: rc %d reason %s, expected %s", name, route, t.rc,
                 t.err.reason != NULL ? t.err.reason : "(none)", reason);
    assert_int_equal(t.err.status, 401);
    assert_string_equal(t.err.bearer_error, "invalid_token");
    assert_non_null(t.err.detail);
    done(&t);
}

/* Fail unless name is accepted on route at now. */
static void
expect_ok(const char *route, const char *name, int64_t now)
{
    struct attempt t;

    attempt(&t, route, name, now);
    if (t.rc != AW_OK)
        fail_msg("%s on %s: rc %d reason %s", name, route, t.rc, t.err.reason);
    done(&t);
}

static bool
slice_equals(struct slice s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

static void
test_good_token_principal(void **state)
{
    const char *tok = token("good_es");
    const char *dot = strchr(tok, '.');
    unsigned char d[SHA256_DIGEST_LENGTH];
    char hex[13];
    struct attempt t;

    (void)state;
    attempt(&t, "corp", "good_es", NOW);
    assert_int_equal(t.rc, AW_OK);
    assert_int_equal(t.p.kind, AUTH_JWT);
    assert_true(slice_equals(t.p.subject, "alice"));
    assert_true(slice_equals(t.p.issuer, "corp"));
    assert_true(slice_equals(t.p.consumer, ""));
    assert_true(slice_equals(t.p.key_id, "k1"));
    assert_int_equal(t.p.nscopes, 2);
    assert_true(slice_equals(t.p.scopes[0], "orders:read"));
    assert_true(slice_equals(t.p.scopes[1], "orders:write"));
    assert_int_equal(t.p.nroles, 2);
    assert_true(slice_equals(t.p.roles[0], "admin"));
    assert_true(slice_equals(t.p.roles[1], "ops"));
    assert_int_equal(t.p.expires, NOW + 3600);
    assert_non_null(t.p.claims);
    assert_int_equal(t.p.claims_b64.len,
                     (size_t)(strchr(dot + 1, '.') - dot - 1));
    assert_memory_equal(t.p.claims_b64.ptr, dot + 1, t.p.claims_b64.len);
    SHA256((const unsigned char *)tok, strlen(tok), d);
    for (int i = 0; i < 6; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(t.p.credential_id, hex);
    done(&t);
}

static void
test_good_tokens(void **state)
{
    struct attempt t;

    (void)state;
    expect_ok("corp", "good_rs", NOW);
    expect_ok("corp", "aud_array", NOW);
    expect_ok("hs", "good_hs", NOW);
    attempt(&t, "corp", "good_nokid", NOW);
    assert_int_equal(t.rc, AW_OK);
    assert_true(slice_equals(t.p.key_id, ""));
    done(&t);
    attempt(&t, "corp", "scp_array", NOW);
    assert_int_equal(t.rc, AW_OK);
    assert_int_equal(t.p.nscopes, 2);
    assert_true(slice_equals(t.p.scopes[1], "b"));
    done(&t);
    attempt(&t, "corp", "roles_one", NOW);
    assert_int_equal(t.rc, AW_OK);
    assert_int_equal(t.p.nroles, 1);
    assert_true(slice_equals(t.p.roles[0], "solo"));
    done(&t);
}

/* exp is exclusive, and the 30 s default leeway applies to each time. */
static void
test_time_rules(void **state)
{
    (void)state;
    expect_ok("corp", "good_es", NOW + 3600 + 29);
    expect_refusal("corp", "good_es", NOW + 3600 + 30, "auth.token_expired");
    expect_refusal("corp", "expired", NOW, "auth.token_expired");
    expect_ok("corp", "expired_frac", NOW);
    expect_refusal("corp", "expired_frac", NOW + 1, "auth.token_expired");
    expect_ok("corp", "good_es", NOW - 30);
    expect_refusal("corp", "good_es", NOW - 31, "auth.token_not_yet_valid");
    expect_refusal("corp", "not_yet", NOW, "auth.token_not_yet_valid");
    expect_refusal("corp", "iat_future", NOW, "auth.token_issued_in_future");
}

/* max_lifetime 24h: exp - iat, or exp - now without iat. */
static void
test_lifetime(void **state)
{
    (void)state;
    expect_refusal("corp", "long_life", NOW, "auth.lifetime_too_long");
    expect_refusal("corp", "long_life", NOW + 25 * 3600,
                   "auth.lifetime_too_long");
    expect_refusal("corp", "long_no_iat", NOW, "auth.lifetime_too_long");
    expect_ok("corp", "long_no_iat", NOW + 25 * 3600);
    /* Without max_lifetime the same token is fine. */
    expect_ok("es", "long_life", NOW);
}

static void
test_claim_rules(void **state)
{
    (void)state;
    expect_refusal("corp", "wrong_iss", NOW, "auth.wrong_issuer");
    expect_refusal("corp", "no_iss", NOW, "auth.missing_claim");
    expect_refusal("corp", "wrong_aud", NOW, "auth.wrong_audience");
    expect_refusal("corp", "no_aud", NOW, "auth.missing_claim");
    expect_refusal("corp", "aud_bad_type", NOW, "auth.bad_claim_type");
    expect_refusal("corp", "no_exp", NOW, "auth.missing_claim");
    expect_refusal("corp", "exp_string", NOW, "auth.bad_claim_type");
    expect_refusal("corp", "sub_number", NOW, "auth.bad_claim_type");
    expect_refusal("corp", "scope_array", NOW, "auth.bad_claim_type");
    expect_refusal("corp", "roles_bad", NOW, "auth.bad_claim_type");
}

static void
test_signature_rules(void **state)
{
    (void)state;
    expect_refusal("corp", "bad_sig", NOW, "auth.bad_signature");
    expect_refusal("corp", "unknown_kid", NOW, "auth.unknown_key");
    expect_refusal("corp", "alg_none", NOW, "auth.alg_not_allowed");
    expect_refusal("es", "good_rs", NOW, "auth.alg_not_allowed");
    expect_refusal("hs", "good_es", NOW, "auth.alg_not_allowed");
    expect_refusal("corp", "good_hs", NOW, "auth.alg_not_allowed");
}

static void
test_typ_and_roles_claim(void **state)
{
    struct attempt t;

    (void)state;
    expect_refusal("at", "good_es", NOW, "auth.bad_typ");
    attempt(&t, "at", "typ_at", NOW);
    assert_int_equal(t.rc, AW_OK);
    assert_int_equal(t.p.nroles, 1);
    assert_true(slice_equals(t.p.roles[0], "viewer"));
    done(&t);
    /* The corp issuer does not check typ at all. */
    expect_ok("corp", "typ_at", NOW);
}

static void
test_route_claims(void **state)
{
    (void)state;
    expect_ok("claims", "good_es", NOW);
    expect_ok("claims", "tenant_array", NOW);
    expect_refusal("claims", "tenant_other", NOW, "auth.claim_mismatch");
    expect_refusal("claims", "tenant_absent", NOW, "auth.missing_claim");
}

static void
test_missing_credentials(void **state)
{
    struct credential cred = {.kind = AUTH_NONE};
    struct attempt t;

    (void)state;
    arena_init(&t.arena, 4096, 1 << 20);
    t.rc = identity_authenticate(cfg, route_auth(cfg, "corp"), &cred, NULL, NOW,
                                 false, &t.arena, &t.p, &t.err);
    assert_int_equal(t.rc, AW_INVALID);
    assert_int_equal(t.err.status, 401);
    assert_string_equal(t.err.reason, "auth.missing_credentials");
    assert_null(t.err.bearer_error);
    done(&t);
}

/* Authenticate the API key minted under name on route. */
static void
attempt_key(struct attempt *t, const char *route, const char *name)
{
    const char *key = token(name);
    struct credential cred = {.kind = AUTH_API_KEY, .value = {key, strlen(key)}};

    arena_init(&t->arena, 4096, 1 << 20);
    t->rc = identity_authenticate(cfg, route_auth(cfg, route), &cred, NULL, NOW,
                                  false, &t->arena, &t->p, &t->err);
}

/* The API key path ends in the key store, with the same principal. */
static void
test_api_keys(void **state)
{
    const char *key = token("key_good");
    unsigned char d[SHA256_DIGEST_LENGTH];
    char hex[13];
    struct attempt t;

    (void)state;
    attempt_key(&t, "either", "key_good");
    assert_int_equal(t.rc, AW_OK);
    assert_int_equal(t.p.kind, AUTH_API_KEY);
    assert_true(slice_equals(t.p.consumer, "billing"));
    assert_true(slice_equals(t.p.subject, "billing"));
    assert_true(slice_equals(t.p.key_id, "goodkey1"));
    assert_null(t.p.claims);
    SHA256((const unsigned char *)key, strlen(key), d);
    for (int i = 0; i < 6; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(t.p.credential_id, hex);
    done(&t);
    attempt_key(&t, "either", "key_wrong");
    assert_int_equal(t.rc, AW_INVALID);
    assert_string_equal(t.err.reason, "auth.bad_api_key");
    done(&t);
    attempt_key(&t, "either", "key_revoked");
    assert_int_equal(t.rc, AW_INVALID);
    assert_string_equal(t.err.reason, "auth.key_revoked");
    done(&t);
    /* The same route takes tokens too; a token-only route takes no key. */
    expect_ok("either", "good_es", NOW);
    attempt_key(&t, "corp", "key_good");
    assert_int_equal(t.rc, AW_INVALID);
    assert_string_equal(t.err.reason, "auth.missing_credentials");
    done(&t);
}

/* A remote issuer whose first fetch has not ended: wait, then 503. */
static void
test_keys_pending(void **state)
{
    struct attempt t;

    (void)state;
    attempt_full(&t, cfg, "remote", "good_es", NOW, NULL, false);
    assert_int_equal(t.rc, AW_AGAIN);
    done(&t);
    attempt_full(&t, cfg, "remote", "good_es", NOW, NULL, true);
    assert_int_equal(t.rc, AW_ERROR);
    assert_int_equal(t.err.status, 503);
    assert_string_equal(t.err.reason, "auth.keys_unavailable");
    assert_null(t.err.bearer_error);
    done(&t);
}

static void
test_max_token(void **state)
{
    struct config *small = NULL;
    struct attempt t;

    (void)state;
    assert_int_equal(load_config(&small, "  max_token: 600\n"), AW_OK);
    assert_int_equal(small->max_token_bytes, 600);
    attempt_full(&t, small, "corp", "good_rs", NOW, NULL, false);
    assert_int_equal(t.rc, AW_INVALID);
    assert_string_equal(t.err.reason, "auth.token_too_large");
    done(&t);
    attempt_full(&t, small, "corp", "good_es", NOW, NULL, false);
    assert_int_equal(t.rc, AW_OK);
    done(&t);
    config_unref(small);
}

/* A cache hit skips the signature only; every claim rule still runs. */
static void
test_cache_end_to_end(void **state)
{
    struct identity_cache *cache = identity_cache_new(16);
    struct identity_cache_stats st;
    struct config *again = NULL;
    struct attempt t;

    (void)state;
    assert_non_null(cache);
    attempt_full(&t, cfg, "corp", "tenant_other", NOW, cache, false);
    assert_int_equal(t.rc, AW_OK);
    done(&t);
    attempt_full(&t, cfg, "corp", "tenant_other", NOW, cache, false);
    assert_int_equal(t.rc, AW_OK);
    assert_true(slice_equals(t.p.subject, "alice"));
    done(&t);
    identity_cache_stats(cache, &st);
    assert_int_equal(st.hits, 1);
    assert_int_equal(st.inserts, 1);

    /* Same issuer on another route: a hit, and the route's claims fail. */
    attempt_full(&t, cfg, "claims", "tenant_other", NOW, cache, false);
    assert_int_equal(t.rc, AW_INVALID);
    assert_string_equal(t.err.reason, "auth.claim_mismatch");
    done(&t);
    identity_cache_stats(cache, &st);
    assert_int_equal(st.hits, 2);

    /* Past exp the entry is useless and the token expired. */
    attempt_full(&t, cfg, "corp", "tenant_other", NOW + 4000, cache, false);
    assert_string_equal(t.err.reason, "auth.token_expired");
    done(&t);
    identity_cache_stats(cache, &st);
    assert_int_equal(st.hits, 2);

    /* A reload makes every entry of the old generation useless. */
    assert_int_equal(load_config(&again, ""), AW_OK);
    attempt_full(&t, again, "corp", "tenant_other", NOW, cache, false);
    assert_int_equal(t.rc, AW_OK);
    done(&t);
    identity_cache_stats(cache, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.inserts, 2);
    config_unref(again);

    /* A forged token never enters the cache. */
    for (int i = 0; i < 2; i++) {
        attempt_full(&t, cfg, "corp", "bad_sig", NOW, cache, false);
        assert_string_equal(t.err.reason, "auth.bad_signature");
        done(&t);
    }
    identity_cache_stats(cache, &st);
    assert_int_equal(st.inserts, 2);
    identity_cache_free(cache);
}

/* A cache key for token number i. */
static struct identity_cache_key
cache_key(unsigned i, unsigned issuer, uint64_t cfg_gen, uint64_t keys_gen)
{
    struct identity_cache_key k = {
        .issuer = issuer, .cfg_gen = cfg_gen, .keys_gen = keys_gen};
    char text[32];

    snprintf(text, sizeof(text), "token-%u", i);
    identity_digest((struct slice){text, strlen(text)}, k.digest);
    return k;
}

static void
test_cache_rules(void **state)
{
    struct identity_cache *c = identity_cache_new(64);
    struct identity_cache_key k = cache_key(1, 0, 5, 7);
    struct identity_cache_key other;

    (void)state;
    assert_false(identity_cache_lookup(c, &k, NOW));
    identity_cache_insert(c, &k, NOW + 10, NOW);
    assert_true(identity_cache_lookup(c, &k, NOW));
    assert_true(identity_cache_lookup(c, &k, NOW + 9));
    assert_false(identity_cache_lookup(c, &k, NOW + 10));
    other = cache_key(1, 1, 5, 7);
    assert_false(identity_cache_lookup(c, &other, NOW));
    other = cache_key(1, 0, 6, 7);
    assert_false(identity_cache_lookup(c, &other, NOW));
    other = cache_key(1, 0, 5, 8);
    assert_false(identity_cache_lookup(c, &other, NOW));
    other = cache_key(2, 0, 5, 7);
    assert_false(identity_cache_lookup(c, &other, NOW));
    /* An expired token is not even stored. */
    identity_cache_insert(c, &other, NOW, NOW);
    assert_false(identity_cache_lookup(c, &other, NOW - 1));
    identity_cache_free(c);

    c = identity_cache_new(0);
    assert_non_null(c);
    identity_cache_insert(c, &k, NOW + 10, NOW);
    assert_false(identity_cache_lookup(c, &k, NOW));
    identity_cache_free(c);
    identity_cache_free(NULL);
    assert_false(identity_cache_lookup(NULL, &k, NOW));
}

/* Many more tokens than slots: bounded, recent and used ones stay. */
static void
test_cache_eviction(void **state)
{
    struct identity_cache *c = identity_cache_new(8);
    struct identity_cache_key hot = cache_key(0, 0, 1, 1);
    struct identity_cache_stats st;

    (void)state;
    identity_cache_insert(c, &hot, NOW + 100, NOW);
    for (unsigned i = 1; i < 200; i++) {
        struct identity_cache_key k = cache_key(i, 0, 1, 1);

        assert_true(identity_cache_lookup(c, &hot, NOW));
        identity_cache_insert(c, &k, NOW + 100, NOW);
        assert_true(identity_cache_lookup(c, &k, NOW));
    }
    assert_true(identity_cache_lookup(c, &hot, NOW));
    identity_cache_stats(c, &st);
    assert_true(st.evictions >= 190);
    /* Entries of an older generation give way first. */
    for (unsigned i = 0; i < 8; i++) {
        struct identity_cache_key k = cache_key(1000 + i, 0, 2, 1);

        identity_cache_insert(c, &k, NOW + 100, NOW);
    }
    for (unsigned i = 0; i < 8; i++) {
        struct identity_cache_key k = cache_key(1000 + i, 0, 2, 1);

        assert_true(identity_cache_lookup(c, &k, NOW));
    }
    identity_cache_free(c);
}

/* Extraction against a route taking methods, the key in a header. */
struct extract_case {
    struct config_route_auth ra;
    struct http_header h[4];
    unsigned nh;
    struct slice query;
    struct arena arena;
    struct credential cred;
    struct auth_error err;
    int rc;
};

static void
extract_init(struct extract_case *x, uint32_t methods, bool query)
{
    memset(x, 0, sizeof(*x));
    x->ra.methods = methods;
    x->ra.api_key_in_query = query;
    x->ra.api_key_name = query ? "api_key" : "X-API-Key";
    x->query = (struct slice){"", 0};
    arena_init(&x->arena, 4096, 1 << 16);
}

static void
extract_add(struct extract_case *x, const char *name, const char *value)
{
    x->h[x->nh].name = (struct slice){name, strlen(name)};
    x->h[x->nh].value = (struct slice){value, strlen(value)};
    x->nh++;
}

static void
extract_run(struct extract_case *x)
{
    x->rc = identity_extract(&x->ra, x->h, x->nh, x->query, &x->arena, &x->cred,
                             &x->err);
}

/* Run and expect a credential of kind holding value. */
static void
extract_expect(struct extract_case *x, enum auth_kind kind, const char *value)
{
    extract_run(x);
    assert_int_equal(x->rc, AW_OK);
    assert_int_equal(x->cred.kind, kind);
    if (value == NULL)
        return;
    assert_true(slice_equals(x->cred.value, value));
    for (unsigned i = 0; i < x->nh; i++)
        assert_true(x->cred.value.ptr < x->h[i].value.ptr ||
                    x->cred.value.ptr >= x->h[i].value.ptr + x->h[i].value.len);
    arena_fini(&x->arena);
}

/* Run and expect a malformed request. */
static void
extract_expect_bad(struct extract_case *x)
{
    extract_run(x);
    assert_int_equal(x->rc, AW_INVALID);
    assert_int_equal(x->err.status, 401);
    assert_string_equal(x->err.reason, "auth.malformed_request");
    assert_string_equal(x->err.bearer_error, "invalid_request");
    arena_fini(&x->arena);
}

static void
test_extract_bearer(void **state)
{
    static const char *const bad[] = {
        "Bearer",      "Bearer ", "Bearer a b", "Bearer a,b", "Bearer a\tb",
        "Bearer\tabc", "",        "Bearer ==",  "Bearer a=b",
    };
    struct extract_case x;

    (void)state;
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "Authorization", "Bearer abc.def.ghi");
    extract_expect(&x, AUTH_JWT, "abc.def.ghi");
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "authorization", "bEaReR   a-b_c.d+e/f==");
    extract_expect(&x, AUTH_JWT, "a-b_c.d+e/f==");
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "Authorization", "Basic dXNlcjpwYXNz");
    extract_expect(&x, AUTH_NONE, NULL);
    arena_fini(&x.arena);
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "X-Other", "Bearer abc");
    extract_expect(&x, AUTH_NONE, NULL);
    arena_fini(&x.arena);
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "Authorization", "Bearer abc");
    extract_add(&x, "AUTHORIZATION", "Bearer abc");
    extract_expect_bad(&x);
    /* A NUL byte is not a token68 character either. */
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "Authorization", "");
    x.h[0].value = (struct slice){"Bearer ab\0c", 11};
    extract_expect_bad(&x);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        extract_init(&x, AUTH_METHOD_JWT, false);
        extract_add(&x, "Authorization", bad[i]);
        extract_run(&x);
        if (x.rc != AW_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
        arena_fini(&x.arena);
    }
}

static void
test_extract_api_key(void **state)
{
    struct extract_case x;

    (void)state;
    extract_init(&x, AUTH_METHOD_API_KEY, false);
    extract_add(&x, "x-api-key", "aw_abcdefgh_secret");
    extract_expect(&x, AUTH_API_KEY, "aw_abcdefgh_secret");
    /* A token is ignored on a route that takes keys only. */
    extract_init(&x, AUTH_METHOD_API_KEY, false);
    extract_add(&x, "Authorization", "Bearer a b");
    extract_expect(&x, AUTH_NONE, NULL);
    arena_fini(&x.arena);
    extract_init(&x, AUTH_METHOD_API_KEY, false);
    extract_add(&x, "X-API-Key", "k1");
    extract_add(&x, "X-API-Key", "k2");
    extract_expect_bad(&x);
    extract_init(&x, AUTH_METHOD_API_KEY, false);
    extract_add(&x, "X-API-Key", "");
    extract_expect_bad(&x);
    extract_init(&x, AUTH_METHOD_API_KEY, false);
    extract_add(&x, "X-API-Key", "a b");
    extract_expect_bad(&x);
}

static void
test_extract_either(void **state)
{
    uint32_t both = AUTH_METHOD_JWT | AUTH_METHOD_API_KEY;
    struct extract_case x;

    (void)state;
    extract_init(&x, both, false);
    extract_add(&x, "X-API-Key", "aw_key");
    extract_expect(&x, AUTH_API_KEY, "aw_key");
    extract_init(&x, both, false);
    extract_add(&x, "Authorization", "Bearer tok");
    extract_expect(&x, AUTH_JWT, "tok");
    extract_init(&x, both, false);
    extract_add(&x, "Authorization", "Bearer tok");
    extract_add(&x, "X-API-Key", "aw_key");
    extract_expect_bad(&x);
    extract_init(&x, both, false);
    extract_expect(&x, AUTH_NONE, NULL);
    arena_fini(&x.arena);
    /* A token route ignores a key header. */
    extract_init(&x, AUTH_METHOD_JWT, false);
    extract_add(&x, "Authorization", "Bearer tok");
    extract_add(&x, "X-API-Key", "aw_key");
    extract_expect(&x, AUTH_JWT, "tok");
}

static void
test_extract_query(void **state)
{
    static const char *const bad[] = {
        "api_key=a&api_key=b", "api_key",    "api_key=",
        "api_key=%zz",         "api_key=%4", "api_key=a%20b",
    };
    struct extract_case x;

    (void)state;
    extract_init(&x, AUTH_METHOD_API_KEY, true);
    x.query = (struct slice){"a=1&api_key=aw%5Fx&b=2", 22};
    extract_expect(&x, AUTH_API_KEY, "aw_x");
    extract_init(&x, AUTH_METHOD_API_KEY, true);
    x.query = (struct slice){"xapi_key=1&api_keyx=2&&", 24};
    extract_expect(&x, AUTH_NONE, NULL);
    arena_fini(&x.arena);
    extract_init(&x, AUTH_METHOD_API_KEY, true);
    extract_add(&x, "X-API-Key", "aw_key");
    extract_expect(&x, AUTH_NONE, NULL);
    arena_fini(&x.arena);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        extract_init(&x, AUTH_METHOD_API_KEY, true);
        x.query = (struct slice){bad[i], strlen(bad[i])};
        extract_run(&x);
        if (x.rc != AW_INVALID)
            fail_msg("'%s' was accepted", bad[i]);
        assert_string_equal(x.err.bearer_error, "invalid_request");
        arena_fini(&x.arena);
    }
}

/* The claim path rule: a whole name first, then a dotted walk. */
static void
test_claims_lookup(void **state)
{
    static const char doc[] =
        "{\"a.b\": 1, \"a\": {\"b\": 2, \"c\": {\"d\": 3}}, \"e\": 4}";
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *v = NULL;
    struct arena a;
    int64_t n;

    (void)state;
    arena_init(&a, 4096, 1 << 16);
    json_limits_default(&lim);
    assert_int_equal(json_parse(doc, sizeof(doc) - 1, &lim, &a, &v, &jerr),
                     AW_OK);
    assert_true(json_int(claims_lookup(v, "a.b"), &n) && n == 1);
    assert_true(json_int(claims_lookup(v, "a.c.d"), &n) && n == 3);
    assert_true(json_int(claims_lookup(v, "e"), &n) && n == 4);
    assert_null(claims_lookup(v, "e.f"));
    assert_null(claims_lookup(v, "a.x"));
    assert_null(claims_lookup(v, "x"));
    arena_fini(&a);
}

/* ------------------------------------------------------------------ */
/* A remote key source, fetched by the key store from a local server   */
/* ------------------------------------------------------------------ */

static pid_t server_pid = -1;
static int server_port;

/* Start identity_tokens.py --serve and read the "PORT n" line. */
static void
server_start(void)
{
    char line[64] = {0};
    size_t got = 0;
    ssize_t n;
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(PYTHON, PYTHON, TOKEN_SCRIPT, "--serve", test_dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (got < sizeof(line) - 1 && strchr(line, '\n') == NULL &&
           (n = read(fds[0], line + got, sizeof(line) - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    assert_int_equal(sscanf(line, "PORT %d", &server_port), 1);
}

static void
server_stop(void)
{
    if (server_pid <= 0)
        return;
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    server_pid = -1;
}

/* POST /rotate: the server publishes "k1" from now on. */
static void
server_rotate(void)
{
    static const char req[] = "POST /rotate HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n";
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char buf[512];
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    sa.sin_port = htons((uint16_t)server_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(write(fd, req, sizeof(req) - 1), sizeof(req) - 1);
    while (read(fd, buf, sizeof(buf)) > 0)
        continue;
    close(fd);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Wait, at most 5 s, for keystore_generation() to move past from. */
static void
wait_generation(uint64_t from)
{
    for (int i = 0; i < 500 && keystore_generation() == from; i++)
        sleep_ms(10);
    assert_true(keystore_generation() != from);
}

/* Wait, at most 5 s, until the source has a key set. */
static void
wait_keys(struct keysource *src)
{
    struct jwks *set = NULL;

    for (int i = 0; i < 500 && (set = keysource_get(src)) == NULL; i++)
        sleep_ms(10);
    assert_non_null(set);
    jwks_unref(set);
}

static const char live_fmt[] =
    "identity:\n"
    "  issuers:\n"
    "    live:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api]\n"
    "      keys: {url: \"http://127.0.0.1:%d/jwks\"}\n"
    "      refresh: {min: 1s, unknown_kid: 1s}\n"
    "upstreams:\n"
    "  demo: {servers: [\"127.0.0.1:9000\"]}\n"
    "routes:\n"
    "  - {name: live, path: /, upstream: demo, auth: {}, authz: {public: true}}\n";

/*
 * An unknown kid makes the caller wait for a refetch; after the wait
 * it is refused, until the issuer publishes the key.
 */
static void
test_remote_unknown_kid(void **state)
{
    struct config_errors errs;
    struct config *live = NULL;
    struct attempt t;
    char text[1024];
    uint64_t gen;

    (void)state;
    server_start();
    snprintf(text, sizeof(text), live_fmt, server_port);
    assert_int_equal(config_load_string("live.yaml", text, strlen(text),
                                        CONFIG_LOAD_NO_RESOLVE, &live, &errs),
                     AW_OK);
    assert_int_not_equal(keystore_start(100, NULL, NULL), AW_ERROR);
    wait_keys(live->issuers[0].keys);

    attempt_full(&t, live, "live", "good_rs", NOW, NULL, false);
    assert_int_equal(t.rc, AW_OK);
    done(&t);
    gen = keystore_generation();
    attempt_full(&t, live, "live", "good_es", NOW, NULL, false);
    assert_int_equal(t.rc, AW_AGAIN);
    done(&t);
    wait_generation(gen);
    attempt_full(&t, live, "live", "good_es", NOW, NULL, true);
    assert_int_equal(t.rc, AW_INVALID);
    assert_string_equal(t.err.reason, "auth.unknown_key");
    done(&t);

    server_rotate();
    sleep_ms(1100);
    gen = keystore_generation();
    attempt_full(&t, live, "live", "good_es", NOW, NULL, false);
    assert_int_equal(t.rc, AW_AGAIN);
    done(&t);
    wait_generation(gen);
    attempt_full(&t, live, "live", "good_es", NOW, NULL, false);
    assert_int_equal(t.rc, AW_OK);
    done(&t);

    keystore_stop();
    config_unref(live);
    server_stop();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_token_principal),
        cmocka_unit_test(test_good_tokens),
        cmocka_unit_test(test_time_rules),
        cmocka_unit_test(test_lifetime),
        cmocka_unit_test(test_claim_rules),
        cmocka_unit_test(test_signature_rules),
        cmocka_unit_test(test_typ_and_roles_claim),
        cmocka_unit_test(test_route_claims),
        cmocka_unit_test(test_missing_credentials),
        cmocka_unit_test(test_keys_pending),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_max_token),
        cmocka_unit_test(test_cache_end_to_end),
        cmocka_unit_test(test_cache_rules),
        cmocka_unit_test(test_cache_eviction),
        cmocka_unit_test(test_extract_bearer),
        cmocka_unit_test(test_extract_api_key),
        cmocka_unit_test(test_extract_either),
        cmocka_unit_test(test_extract_query),
        cmocka_unit_test(test_claims_lookup),
        /* Last: the key store's thread also ends the pending fetches. */
        cmocka_unit_test(test_remote_unknown_kid),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
