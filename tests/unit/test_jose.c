/*
 * Unit tests for compact JWS parsing and verification.
 *
 * The tokens and keys come from an independent implementation: the
 * group setup runs tests/unit/jose_fixtures.py with Debian's python3
 * (PyJWT and cryptography), which generates fresh keys, mints tokens
 * for every algorithm and builds the broken ones (algorithm confusion,
 * "none", crit, padding, DER ECDSA, wrong curve, duplicate members...)
 * by hand, each with the reason apiward must give. The rest checks the
 * codec, the length bound, the token fields and parallel verification.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/identity.h"

#define FIXTURE_SCRIPT SRCDIR "/tests/unit/jose_fixtures.py"
#define PYTHON "/usr/bin/python3"
#define MAX_TOKEN 8192
#define VERIFY_THREADS 4
#define VERIFY_ROUNDS 200

/* The fixture document and the sets built from it. */
struct fixture {
    char *text;
    struct arena arena;
    const struct json_value *doc;
    struct jwks *pub;
    struct jwks *hs;
};

static struct fixture fx;

/* Read everything a command prints; fails the test on a nonzero exit. */
static char *
run_capture(const char *cmd, size_t *len)
{
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);

    assert_non_null(p);
    assert_non_null(buf);
    for (;;) {
        size_t got;

        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + n, 1, cap - n, p);
        if (got == 0)
            break;
        n += got;
    }
    if (pclose(p) != 0)
        fail_msg("%s failed", cmd);
    *len = n;
    return buf;
}

static int
fixture_setup(void **state)
{
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *doc;
    struct jose_error err;
    size_t len;

    (void)state;
    fx.text = run_capture("cd /tmp && " PYTHON " " FIXTURE_SCRIPT, &len);
    json_limits_default(&lim);
    lim.max_bytes = 4u << 20;
    arena_init(&fx.arena, 1 << 16, 64u << 20);
    if (json_parse(fx.text, len, &lim, &fx.arena, &doc, &jerr) != AW_OK)
        fail_msg("fixture JSON: %s at %zu", jerr.reason, jerr.offset);
    fx.doc = doc;
    assert_int_equal(jwks_from_json(json_get(json_get(doc, "sets"), "pub"), 0,
                                    &fx.pub, &err),
                     AW_OK);
    assert_int_equal(jwks_from_json(json_get(json_get(doc, "sets"), "hs"), 0,
                                    &fx.hs, &err),
                     AW_OK);
    return 0;
}

static int
fixture_teardown(void **state)
{
    (void)state;
    jwks_unref(fx.pub);
    jwks_unref(fx.hs);
    arena_fini(&fx.arena);
    free(fx.text);
    return 0;
}

/* The set a fixture token is checked against. */
static const struct jwks *
fixture_set(const struct json_value *t)
{
    return slice_is(json_str(json_get(t, "set")), "hs") ? fx.hs : fx.pub;
}

/*
 * Parse and verify one token against a set, as the authentication stage
 * does. Returns "ok" or the reason code.
 */
static const char *
outcome(const char *token, size_t len, const struct jwks *set,
        struct arena *a)
{
    struct jose_token tok;
    struct jose_error err;
    const struct jwk *used = NULL;
    int rc = jose_parse(token, len, MAX_TOKEN, 0, a, &tok, &err);

    if (rc == AW_OK)
        rc = jwks_verify(set, &tok, &used, &err);
    if (rc != AW_OK) {
        assert_non_null(err.reason);
        assert_null(used);
        return err.reason;
    }
    assert_non_null(used);
    assert_true(jwk_fits(used, tok.alg));
    return "ok";
}

/* Every fixture token gets exactly the outcome the script expects. */
static void
test_fixture_tokens(void **state)
{
    const struct json_value *tokens = json_get(fx.doc, "tokens");
    unsigned failures = 0, ok = 0;
    struct arena a;

    (void)state;
    assert_true(json_is(tokens, JSON_ARRAY));
    assert_true(tokens->u.arr.n > 60);
    arena_init(&a, 1 << 14, 1 << 20);
    for (size_t i = 0; i < tokens->u.arr.n; i++) {
        const struct json_value *t = tokens->u.arr.items[i];
        struct slice tok = json_str(json_get(t, "token"));
        struct slice want = json_str(json_get(t, "expect"));
        const char *got = outcome(tok.ptr, tok.len, fixture_set(t), &a);

        arena_reset(&a);
        if (slice_is(want, "ok") && strcmp(got, "ok") == 0)
            ok++;
        if (strlen(got) == want.len && memcmp(got, want.ptr, want.len) == 0)
            continue;
        printf("  token \"%s\": want %.*s, got %s\n",
               json_str(json_get(t, "name")).ptr, (int)want.len, want.ptr,
               got);
        failures++;
    }
    printf("  %zu fixture tokens, %u verified, %u mismatches\n",
           tokens->u.arr.n, ok, failures);
    arena_fini(&a);
    assert_int_equal(failures, 0);
    assert_true(ok >= 18);
}

/* Every fixture key that must be refused is, for the stated reason. */
static void
test_fixture_keys(void **state)
{
    const struct json_value *keys = json_get(fx.doc, "keys");
    unsigned failures = 0;

    (void)state;
    assert_true(json_is(keys, JSON_ARRAY));
    for (size_t i = 0; i < keys->u.arr.n; i++) {
        const struct json_value *k = keys->u.arr.items[i];
        struct slice want = json_str(json_get(k, "expect"));
        struct jose_error err;
        struct jwk *key = NULL;
        int rc = jwk_import(json_get(k, "jwk"), &key, &err);

        if (rc != AW_OK && strlen(err.reason) == want.len &&
            memcmp(err.reason, want.ptr, want.len) == 0) {
            assert_null(key);
            continue;
        }
        printf("  key \"%s\": want %.*s, got %s\n",
               json_str(json_get(k, "name")).ptr, (int)want.len, want.ptr,
               rc == AW_OK ? "ok" : err.reason);
        jwk_free(key);
        failures++;
    }
    printf("  %zu fixture keys refused as expected\n",
           keys->u.arr.n - failures);
    assert_int_equal(failures, 0);
}

/* The fixture sets load what they should and say why they skip. */
static void
test_fixture_sets(void **state)
{
    const struct jwks_note *notes;
    size_t n;

    (void)state;
    assert_int_equal(jwks_count(fx.pub), 7);
    notes = jwks_notes(fx.pub, &n);
    assert_int_equal(n, 1);
    assert_string_equal(notes[0].kid, "rsa-short");
    assert_string_equal(notes[0].reason, "jwk.weak_key");
    assert_true(notes[0].skipped);
    assert_int_equal(notes[0].index, 2);
    assert_int_equal(jwks_count(fx.hs), 2);
    notes = jwks_notes(fx.hs, &n);
    assert_int_equal(n, 1);
    assert_string_equal(notes[0].kid, "hs-short");
    assert_string_equal(notes[0].reason, "jwk.weak_key");
}

/* The first valid fixture token of the given name. */
static struct slice
fixture_token(const char *name)
{
    const struct json_value *tokens = json_get(fx.doc, "tokens");

    for (size_t i = 0; i < tokens->u.arr.n; i++) {
        const struct json_value *t = tokens->u.arr.items[i];

        if (slice_is(json_str(json_get(t, "name")), name))
            return json_str(json_get(t, "token"));
    }
    fail_msg("no fixture token \"%s\"", name);
    return SLICE_NULL;
}

/* A token over the bound is refused before anything else is looked at. */
static void
test_too_large(void **state)
{
    struct slice good = fixture_token("valid ES256");
    char *junk = malloc(MAX_TOKEN + 1);
    struct jose_token tok;
    struct jose_error err;
    struct arena a;

    (void)state;
    assert_non_null(junk);
    arena_init(&a, 4096, 1 << 20);
    memset(junk, '!', MAX_TOKEN + 1);
    assert_int_equal(jose_parse(junk, MAX_TOKEN + 1, MAX_TOKEN, 0, &a, &tok,
                                &err),
                     AW_TOOBIG);
    assert_string_equal(err.reason, "auth.token_too_large");
    assert_int_equal(a.total, 0);
    /* At the bound, the same junk is judged on its content. */
    assert_int_equal(jose_parse(junk, MAX_TOKEN, MAX_TOKEN, 0, &a, &tok,
                                &err),
                     AW_INVALID);
    assert_string_equal(err.reason, "auth.malformed_token");
    assert_int_equal(jose_parse(good.ptr, good.len, good.len - 1, 0, &a,
                                &tok, &err),
                     AW_TOOBIG);
    assert_int_equal(jose_parse(good.ptr, good.len, good.len, 0, &a, &tok,
                                &err),
                     AW_OK);
    arena_fini(&a);
    free(junk);
}

/* The parsed token exposes the header, claims, kid and signing input. */
static void
test_token_fields(void **state)
{
    struct slice good = fixture_token("valid ES256");
    const char *dot1 = memchr(good.ptr, '.', good.len);
    const char *dot2 = memchr(dot1 + 1, '.', good.len - 1 -
                                                 (size_t)(dot1 - good.ptr));
    struct jose_token tok;
    struct jose_error err;
    struct arena a;
    int64_t n;

    (void)state;
    arena_init(&a, 4096, 1 << 20);
    assert_int_equal(jose_parse(good.ptr, good.len, MAX_TOKEN, 0, &a, &tok,
                                &err),
                     AW_OK);
    assert_null(err.reason);
    assert_int_equal(tok.alg, JOSE_ES256);
    assert_true(tok.has_kid);
    assert_true(slice_is(tok.kid, "ec256"));
    assert_true(slice_is(json_str(json_get(tok.payload, "sub")), "alice"));
    assert_true(json_int(json_get(tok.payload, "n"), &n) && n == 1);
    assert_true(slice_is(json_str(json_get(tok.header, "typ")), "JWT"));
    assert_ptr_equal(tok.signing_input.ptr, good.ptr);
    assert_int_equal(tok.signing_input.len, (size_t)(dot2 - good.ptr));
    assert_int_equal(tok.sig.len, 64);
    arena_fini(&a);
}

/* With JOSE_OPAQUE_PAYLOAD, any payload bytes are fine (general JWS). */
static void
test_opaque_payload(void **state)
{
    /* {"alg":"none"}.foo.AA: refused for its alg, not its payload. */
    static const char none[] = "eyJhbGciOiJub25lIn0.Zm9v.AA";
    static const char es[] = "eyJhbGciOiJFUzI1NiJ9.Zm9v.AA";
    struct jose_token tok;
    struct jose_error err;
    struct arena a;

    (void)state;
    arena_init(&a, 4096, 1 << 20);
    assert_int_equal(jose_parse(none, sizeof(none) - 1, MAX_TOKEN,
                                JOSE_OPAQUE_PAYLOAD, &a, &tok, &err),
                     AW_INVALID);
    assert_string_equal(err.reason, "auth.alg_not_allowed");
    assert_int_equal(jose_parse(es, sizeof(es) - 1, MAX_TOKEN,
                                JOSE_OPAQUE_PAYLOAD, &a, &tok, &err),
                     AW_OK);
    assert_null(tok.payload);
    assert_true(slice_is(tok.payload_bytes, "foo"));
    assert_int_equal(tok.sig.len, 1);
    assert_int_equal(jose_parse(es, sizeof(es) - 1, MAX_TOKEN, 0, &a, &tok,
                                &err),
                     AW_INVALID);
    assert_string_equal(err.reason, "auth.malformed_token");
    assert_int_equal(tok.alg, JOSE_ALG_UNKNOWN);
    arena_fini(&a);
}

/* An arena too small for the token is a memory failure, not a verdict. */
static void
test_arena_bound(void **state)
{
    struct slice good = fixture_token("valid RS256");
    struct jose_token tok;
    struct jose_error err;
    struct arena a;

    (void)state;
    arena_init(&a, 64, 256);
    assert_int_equal(jose_parse(good.ptr, good.len, MAX_TOKEN, 0, &a, &tok,
                                &err),
                     AW_NOMEM);
    assert_string_equal(err.reason, "auth.no_memory");
    arena_fini(&a);
}

/* Names map both ways, exactly and case-sensitively. */
static void
test_alg_names(void **state)
{
    (void)state;
    for (int alg = JOSE_ALG_UNKNOWN + 1; alg < JOSE_ALG_COUNT; alg++) {
        const char *name = jose_alg_name((enum jose_alg)alg);

        assert_int_equal(
            jose_alg_from_name((struct slice){name, strlen(name)}), alg);
    }
    assert_int_equal(jose_alg_from_name(SLICE_LIT("none")), JOSE_ALG_UNKNOWN);
    assert_int_equal(jose_alg_from_name(SLICE_LIT("eddsa")),
                     JOSE_ALG_UNKNOWN);
    assert_int_equal(jose_alg_from_name(SLICE_LIT("RS2560")),
                     JOSE_ALG_UNKNOWN);
    assert_int_equal(jose_alg_from_name(SLICE_LIT("RS25")), JOSE_ALG_UNKNOWN);
    assert_int_equal(jose_alg_from_name(SLICE_NULL), JOSE_ALG_UNKNOWN);
    assert_string_equal(jose_alg_name(JOSE_ALG_UNKNOWN), "unknown");
    assert_string_equal(jose_alg_name(JOSE_EDDSA), "EdDSA");
}

/* The parse outcome of a NUL-terminated token with an opaque payload. */
static const char *
shape_outcome(const char *token)
{
    struct jose_token tok;
    struct jose_error err;
    struct arena a;
    const char *reason;

    arena_init(&a, 4096, 1 << 20);
    reason = jose_parse(token, strlen(token), MAX_TOKEN, JOSE_OPAQUE_PAYLOAD,
                        &a, &tok, &err) == AW_OK
                 ? "ok"
                 : err.reason;
    arena_fini(&a);
    return reason;
}

/* The base64url rules, through the parser: one spelling per value. */
static void
test_base64url(void **state)
{
    /* Header {"alg":"HS256"}; payloads of 1, 2 and 3 bytes. */
    static const struct {
        const char *token;
        const char *want;
    } cases[] = {
        {"eyJhbGciOiJIUzI1NiJ9.QQ.AA", "ok"},
        {"eyJhbGciOiJIUzI1NiJ9.QUI.AA", "ok"},
        {"eyJhbGciOiJIUzI1NiJ9.QUJD.AA", "ok"},
        {"eyJhbGciOiJIUzI1NiJ9..AA", "ok"},
        {"eyJhbGciOiJIUzI1NiJ9.QR.AA", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.QUJ.AA", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.Q.AA", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.QQ==.AA", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.Q+.AA", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.Q/.AA", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.QQ.A", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.QQ.AB", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.QQ.-_", "auth.malformed_token"},
        {"eyJhbGciOiJIUzI1NiJ9.QQ.-w", "ok"},
        {"eyJhbGciOiJIUzI1NiJ9", "auth.malformed_token"},
        {"", "auth.malformed_token"},
        {"..", "auth.malformed_token"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const char *got = shape_outcome(cases[i].token);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("\"%s\": want %s, got %s", cases[i].token,
                     cases[i].want, got);
    }
}

/* Arguments of one verifying thread. */
struct verify_job {
    struct slice tokens[3];
    const struct jwks *sets[3];
    unsigned failures;
};

static void *
verify_thread(void *arg)
{
    struct verify_job *job = arg;
    struct arena a;

    arena_init(&a, 1 << 14, 1 << 20);
    for (int r = 0; r < VERIFY_ROUNDS; r++) {
        for (int i = 0; i < 3; i++) {
            struct jose_token tok;
            struct jose_error err;

            if (jose_parse(job->tokens[i].ptr, job->tokens[i].len, MAX_TOKEN,
                           0, &a, &tok, &err) != AW_OK ||
                jwks_verify(job->sets[i], &tok, NULL, &err) != AW_OK)
                job->failures++;
            arena_reset(&a);
        }
    }
    arena_fini(&a);
    return NULL;
}

/*
 * Workers share keys and sets read-only; parallel verification must
 * give the same answers (and stay clean under the sanitizers).
 */
static void
test_parallel_verify(void **state)
{
    pthread_t th[VERIFY_THREADS];
    struct verify_job jobs[VERIFY_THREADS];
    struct jwks *extra = jwks_ref(fx.pub);

    (void)state;
    for (int t = 0; t < VERIFY_THREADS; t++) {
        jobs[t] = (struct verify_job){
            .tokens = {fixture_token("valid ES256"),
                       fixture_token("valid RS256"),
                       fixture_token("valid HS256")},
            .sets = {extra, extra, fx.hs},
        };
        assert_int_equal(pthread_create(&th[t], NULL, verify_thread,
                                        &jobs[t]),
                         0);
    }
    for (int t = 0; t < VERIFY_THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(jobs[t].failures, 0);
    }
    jwks_unref(extra);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_sets),
        cmocka_unit_test(test_fixture_tokens),
        cmocka_unit_test(test_fixture_keys),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_token_fields),
        cmocka_unit_test(test_opaque_payload),
        cmocka_unit_test(test_arena_bound),
        cmocka_unit_test(test_alg_names),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_parallel_verify),
    };

    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
