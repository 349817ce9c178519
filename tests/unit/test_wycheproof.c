/*
 * Project Wycheproof vectors (read at run time from TESTDATA) through
 * the code that verifies tokens.
 *
 * Signature files: each group's key is imported with jwk_import, from
 * the group's JWK or, where a group has none, from a JWK written here
 * from its coordinates; each test's msg and sig go to jose_verify_bytes,
 * the primitive under jose_verify. HMAC keys become "oct" JWKs. JWS and
 * JWK files: each group's key or key set becomes a struct jwks, and
 * each token goes through jose_parse and jwks_verify, as at the gateway.
 *
 * Verdicts: "valid" must verify and "invalid" must not. "acceptable"
 * (RSA PKCS#1 DigestInfo without its NULL) is rejected: apiward is
 * strict. Some vectors cannot apply to JWS (truncated HMAC tags) and
 * are counted as skipped by rule; some conflict with a rule of
 * identity.h and are listed, each with the rule, in the tables below.
 * A disagreement that is not listed fails the test, and so does a
 * listed one that no longer happens. With WYCHEPROOF_VERBOSE set in the
 * environment, every JWS/JWK vector's outcome and every skipped key's
 * reason are printed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "identity/identity.h"

#define VECTORS TESTDATA "/wycheproof/testvectors_v1/"

/* What happened to the vectors of one file. */
struct tally {
    unsigned valid_pass, valid_fail, valid_by_rule;
    unsigned invalid_pass, invalid_fail;
    unsigned acc_accepted, acc_rejected;
    unsigned skipped_by_rule;
};

/* A file parsed into its own arena. */
struct vecfile {
    char *text;
    struct arena arena;
    const struct json_value *doc;
};

static void
vecfile_load(struct vecfile *f, const char *name)
{
    char path[512];
    struct json_limits lim = {
        .max_bytes = 8u << 20,
        .max_depth = 32,
        .max_string = 1u << 20,
        .max_members = 10000,
        .max_items = 200000,
        .max_number = 128,
    };
    struct json_error jerr;
    struct json_value *doc;
    FILE *fp;
    long size;

    snprintf(path, sizeof(path), VECTORS "%s", name);
    fp = fopen(path, "rb");
    if (fp == NULL)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    assert_true(size > 0);
    rewind(fp);
    f->text = malloc((size_t)size);
    assert_non_null(f->text);
    assert_int_equal(fread(f->text, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    arena_init(&f->arena, 1u << 20, 512u << 20);
    if (json_parse(f->text, (size_t)size, &lim, &f->arena, &doc, &jerr) !=
        AW_OK)
        fail_msg("%s: %s at %zu", name, jerr.reason, jerr.offset);
    f->doc = doc;
}

static void
vecfile_free(struct vecfile *f)
{
    arena_fini(&f->arena);
    free(f->text);
}

/* Hex string to bytes in a malloc'd buffer (at least one byte). */
static unsigned char *
unhex(struct slice hex, size_t *len)
{
    unsigned char *out = malloc(hex.len / 2 + 1);

    assert_non_null(out);
    assert_int_equal(hex.len % 2, 0);
    for (size_t i = 0; i < hex.len / 2; i++) {
        unsigned v;

        assert_int_equal(sscanf(hex.ptr + 2 * i, "%2x", &v), 1);
        out[i] = (unsigned char)v;
    }
    *len = hex.len / 2;
    return out;
}

static void
b64url(const unsigned char *in, size_t n, char *out, size_t cap)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        unsigned long v = (unsigned long)in[i] << 16;
        size_t k = n - i < 3 ? n - i : 3;

        if (k > 1)
            v |= (unsigned long)in[i + 1] << 8;
        if (k > 2)
            v |= in[i + 2];
        for (size_t j = 0; j < k + 1; j++) {
            assert_true(o + 1 < cap);
            out[o++] = abc[(v >> (18 - 6 * j)) & 63];
        }
    }
    out[o] = '\0';
}

/* Import a key from JWK text. Returns NULL and sets *why on refusal. */
static struct jwk *
import_text(const char *text, const char **why)
{
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *v;
    struct jose_error err;
    struct jwk *key = NULL;
    struct arena a;

    json_limits_default(&lim);
    arena_init(&a, 8192, 1 << 20);
    assert_int_equal(json_parse(text, strlen(text), &lim, &a, &v, &jerr),
                     AW_OK);
    if (jwk_import(v, &key, &err) != AW_OK)
        *why = err.reason;
    arena_fini(&a);
    return key;
}

/* ------------------------------------------------------------------ */
/* Signature and MAC files                                             */
/* ------------------------------------------------------------------ */

enum sig_kind { SIG_ECDSA, SIG_RSA, SIG_PSS, SIG_EDDSA, SIG_HMAC };

struct sigfile {
    const char *name;
    enum jose_alg alg;
    enum sig_kind kind;
    size_t hash_bits; /* HMAC: the tag size that applies to JWS */
};

static const struct sigfile sigfiles[] = {
    {"ecdsa_secp256r1_sha256_p1363_test.json", JOSE_ES256, SIG_ECDSA, 0},
    {"ecdsa_secp384r1_sha384_p1363_test.json", JOSE_ES384, SIG_ECDSA, 0},
    {"ecdsa_secp521r1_sha512_p1363_test.json", JOSE_ES512, SIG_ECDSA, 0},
    {"ed25519_test.json", JOSE_EDDSA, SIG_EDDSA, 0},
    {"ed448_test.json", JOSE_EDDSA, SIG_EDDSA, 0},
    {"hmac_sha256_test.json", JOSE_HS256, SIG_HMAC, 256},
    {"hmac_sha384_test.json", JOSE_HS384, SIG_HMAC, 384},
    {"hmac_sha512_test.json", JOSE_HS512, SIG_HMAC, 512},
    {"rsa_pss_2048_sha256_mgf1_32_test.json", JOSE_PS256, SIG_PSS, 0},
    {"rsa_pss_2048_sha384_mgf1_48_test.json", JOSE_PS384, SIG_PSS, 0},
    {"rsa_pss_4096_sha512_mgf1_64_test.json", JOSE_PS512, SIG_PSS, 0},
    {"rsa_signature_2048_sha256_test.json", JOSE_RS256, SIG_RSA, 0},
    {"rsa_signature_2048_sha384_test.json", JOSE_RS384, SIG_RSA, 0},
    {"rsa_signature_2048_sha512_test.json", JOSE_RS512, SIG_RSA, 0},
    {"rsa_signature_3072_sha256_test.json", JOSE_RS256, SIG_RSA, 0},
    {"rsa_signature_4096_sha256_test.json", JOSE_RS256, SIG_RSA, 0},
};

/*
 * The JWK of an ECDSA group without one: written from the uncompressed
 * point, so that the key still goes through jwk_import.
 */
static struct jwk *
ecdsa_group_key(const struct json_value *g, enum jose_alg alg,
                const char **why)
{
    static const char *const crv[] = {"P-256", "P-384", "P-521"};
    static const size_t width[] = {32, 48, 66};
    size_t i = (size_t)(alg - JOSE_ES256), len;
    struct slice hex = json_str(json_get(json_get(g, "publicKey"),
                                         "uncompressed"));
    unsigned char *pt = unhex(hex, &len);
    char x[128], y[128], text[400];
    struct jwk *key;

    assert_int_equal(len, 1 + 2 * width[i]);
    assert_int_equal(pt[0], 4);
    b64url(pt + 1, width[i], x, sizeof(x));
    b64url(pt + 1 + width[i], width[i], y, sizeof(y));
    snprintf(text, sizeof(text),
             "{\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}",
             crv[i], x, y);
    key = import_text(text, why);
    free(pt);
    return key;
}

/* The group's key for the signature files other than HMAC. */
static struct jwk *
group_key(const struct sigfile *sf, const struct json_value *g,
          const char **why)
{
    const struct json_value *jwk = json_get(g, "publicKeyJwk");
    struct jose_error err;
    struct jwk *key = NULL;

    if (sf->kind == SIG_RSA)
        jwk = json_get(g, "keyJwk");
    if (jwk == NULL && sf->kind == SIG_ECDSA)
        return ecdsa_group_key(g, sf->alg, why);
    assert_non_null(jwk);
    if (jwk_import(jwk, &key, &err) != AW_OK)
        *why = err.reason;
    return key;
}

/* An HMAC test's key, as an oct JWK without "alg". */
static struct jwk *
hmac_key(const struct json_value *t, const char **why)
{
    size_t len;
    unsigned char *k = unhex(json_str(json_get(t, "key")), &len);
    char b64[400], text[512];
    struct jwk *key;

    b64url(k, len, b64, sizeof(b64));
    snprintf(text, sizeof(text), "{\"kty\":\"oct\",\"k\":\"%s\"}", b64);
    key = import_text(text, why);
    free(k);
    return key;
}

/* Verify one vector; true when the signature is accepted. */
static bool
sig_accepted(const struct jwk *key, enum jose_alg alg,
             const struct json_value *t, const char *sig_member)
{
    size_t mlen, slen;
    unsigned char *msg = unhex(json_str(json_get(t, "msg")), &mlen);
    unsigned char *sig = unhex(json_str(json_get(t, sig_member)), &slen);
    struct jose_error err;
    bool ok = key != NULL &&
              jose_verify_bytes(key, alg, msg, mlen, sig, slen, &err) ==
                  AW_OK;

    free(msg);
    free(sig);
    return ok;
}

/* Count one verdict; reports and counts an unexpected one. */
static void
count(struct tally *ty, const char *file, const struct json_value *t,
      bool accepted, const char *rule)
{
    struct slice result = json_str(json_get(t, "result"));
    int64_t id = 0;

    json_int(json_get(t, "tcId"), &id);
    if (slice_is(result, "acceptable")) {
        if (accepted)
            ty->acc_accepted++;
        else
            ty->acc_rejected++;
    } else if (slice_is(result, "valid")) {
        if (accepted)
            ty->valid_pass++;
        else if (rule != NULL)
            ty->valid_by_rule++;
        else
            ty->valid_fail++;
    } else {
        if (!accepted)
            ty->invalid_pass++;
        else
            ty->invalid_fail++;
    }
    if ((slice_is(result, "valid") && !accepted && rule == NULL) ||
        (slice_is(result, "invalid") && accepted))
        printf("  %s tcId %lld (%s): expected %.*s, %s\n", file,
               (long long)id, json_str(json_get(t, "comment")).ptr,
               (int)result.len, result.ptr,
               accepted ? "accepted" : "rejected");
}

static void
print_tally(const char *file, const struct tally *ty)
{
    printf("  %-40s valid %u/%u", file, ty->valid_pass,
           ty->valid_pass + ty->valid_fail + ty->valid_by_rule);
    if (ty->valid_by_rule)
        printf(" (%u refused by rule)", ty->valid_by_rule);
    printf(", invalid %u/%u", ty->invalid_pass,
           ty->invalid_pass + ty->invalid_fail);
    if (ty->acc_accepted + ty->acc_rejected)
        printf(", acceptable %u rejected %u accepted", ty->acc_rejected,
               ty->acc_accepted);
    if (ty->skipped_by_rule)
        printf(", %u skipped by rule", ty->skipped_by_rule);
    printf("\n");
}

/* One HMAC group: only full-length tags are JWS MACs. */
static void
run_hmac_group(const struct sigfile *sf, const struct json_value *g,
               struct tally *ty)
{
    const struct json_value *tests = json_get(g, "tests");
    int64_t tag_bits = 0;

    assert_true(json_int(json_get(g, "tagSize"), &tag_bits));
    int64_t key_bits = 0;

    assert_true(json_int(json_get(g, "keySize"), &key_bits));
    for (size_t i = 0; i < tests->u.arr.n; i++) {
        const struct json_value *t = tests->u.arr.items[i];
        const char *why = NULL;
        struct jwk *key;

        if ((size_t)tag_bits != sf->hash_bits) {
            ty->skipped_by_rule++;
            continue;
        }
        key = hmac_key(t, &why);
        /* RFC 7518 3.2: a secret shorter than the hash output is refused,
           at import or, for an alg-free key, when the alg is checked. */
        count(ty, sf->name, t, sig_accepted(key, sf->alg, t, "tag"),
              (size_t)key_bits < sf->hash_bits ? "short HMAC secret" : NULL);
        jwk_free(key);
    }
}

static void
run_sig_group(const struct sigfile *sf, const struct json_value *g,
              struct tally *ty)
{
    const struct json_value *tests = json_get(g, "tests");
    const char *why = NULL;
    struct jwk *key;

    if (sf->kind == SIG_PSS) {
        int64_t slen;

        /* The file name promises these; JWS demands them. */
        assert_true(json_int(json_get(g, "sLen"), &slen));
        assert_true(slice_eq(json_str(json_get(g, "sha")),
                             json_str(json_get(g, "mgfSha"))));
    }
    key = group_key(sf, g, &why);
    if (key == NULL)
        printf("  %s: group key refused (%s)\n", sf->name, why);
    for (size_t i = 0; i < tests->u.arr.n; i++) {
        const struct json_value *t = tests->u.arr.items[i];

        count(ty, sf->name, t, sig_accepted(key, sf->alg, t, "sig"), NULL);
    }
    jwk_free(key);
}

static void
test_signature_files(void **state)
{
    unsigned failures = 0;

    (void)state;
    for (size_t f = 0; f < ARRAY_LEN(sigfiles); f++) {
        const struct sigfile *sf = &sigfiles[f];
        struct tally ty = {0};
        const struct json_value *groups;
        struct vecfile vf;

        vecfile_load(&vf, sf->name);
        groups = json_get(vf.doc, "testGroups");
        for (size_t g = 0; g < groups->u.arr.n; g++) {
            if (sf->kind == SIG_HMAC)
                run_hmac_group(sf, groups->u.arr.items[g], &ty);
            else
                run_sig_group(sf, groups->u.arr.items[g], &ty);
        }
        print_tally(sf->name, &ty);
        failures += ty.valid_fail + ty.invalid_fail + ty.acc_accepted;
        assert_true(ty.valid_pass > 0 && ty.invalid_pass > 0);
        vecfile_free(&vf);
    }
    assert_int_equal(failures, 0);
}

/* ------------------------------------------------------------------ */
/* JWS and JWK files                                                   */
/* ------------------------------------------------------------------ */

/*
 * Vectors whose verdict conflicts with a rule of identity.h. Each entry
 * says what apiward does and which rule decides it.
 */
struct disagreement {
    const char *file;
    int64_t tc;
    bool accepted; /* what apiward does */
    const char *rule;
};

static const struct disagreement disagreements[] = {
    {"json_web_signature_test.json", 346, false,
     "the key says alg PS256, the token PS384 (RFC 7520 figure 20); a key "
     "with alg serves that alg only"},
    {"json_web_signature_test.json", 350, false,
     "same as 346, with key_ops"},
    {"json_web_signature_test.json", 347, false,
     "the key says alg \"ES521\", which is no JWS algorithm, so the key is "
     "not loaded (json_web_key_test.json tc 19 wants that refusal)"},
    {"json_web_signature_test.json", 351, false,
     "same as 347, with key_ops"},
    {"json_web_signature_test.json", 367, true,
     "byte-identical to tc 357, which is valid; both verdicts cannot hold"},
    {"json_web_signature_test.json", 370, true,
     "byte-identical to tc 357, which is valid; both verdicts cannot hold"},
    {"json_web_signature_test.json", 372, false,
     "'?' inside the header is outside base64url; tokens have one "
     "spelling, and a decoder that skips the byte is not strict"},
    {"json_web_signature_test.json", 373, false,
     "'?' inside the payload; same rule as 372"},
    {"json_web_key_test.json", 4, true,
     "the second key's k has nonzero unused bits, is not canonical "
     "base64url and is skipped, leaving one key with the kid; two loadable "
     "keys with one kid are refused as ambiguous (test_jwk)"},
};

/* The listed disagreement for this vector, or NULL. */
static const struct disagreement *
find_disagreement(const char *file, int64_t tc)
{
    for (size_t i = 0; i < ARRAY_LEN(disagreements); i++) {
        if (strcmp(disagreements[i].file, file) == 0 &&
            disagreements[i].tc == tc)
            return &disagreements[i];
    }
    return NULL;
}

/*
 * The set a group's tokens are verified with: its "public" JWK or JWK
 * Set, else its "private" one (the secret keys). A lone JWK is wrapped
 * in a one-key set built in the file's arena.
 */
static struct jwks *
group_set(const struct json_value *g, struct arena *a)
{
    const struct json_value *ks = json_get(g, "public");
    struct jose_error err;
    struct jwks *set = NULL;

    if (ks == NULL)
        ks = json_get(g, "private");
    if (json_get(ks, "keys") == NULL) {
        struct json_value *arr = arena_alloc(a, sizeof(*arr));
        struct json_value *doc = arena_alloc(a, sizeof(*doc));
        struct json_value **items = arena_alloc(a, sizeof(*items));
        struct json_member *m = arena_alloc(a, sizeof(*m));

        assert_true(arr && doc && items && m);
        items[0] = (struct json_value *)ks;
        *arr = (struct json_value){.type = JSON_ARRAY,
                                   .u.arr = {.items = items, .n = 1}};
        *m = (struct json_member){.name = SLICE_LIT("keys"), .value = arr};
        *doc = (struct json_value){.type = JSON_OBJECT,
                                   .u.obj = {.members = m, .n = 1}};
        ks = doc;
    }
    if (jwks_from_json(ks, 0, &set, &err) != AW_OK)
        return NULL;
    return set;
}

/* Parse and verify one vector's token; true when it is accepted. */
static bool
jws_accepted(const struct jwks *set, struct slice jws, const char **why)
{
    struct jose_token tok;
    struct jose_error err;
    struct arena a;
    int rc;

    arena_init(&a, 1 << 14, 1 << 22);
    rc = jose_parse(jws.ptr, jws.len, JOSE_MAX_TOKEN, JOSE_OPAQUE_PAYLOAD,
                    &a, &tok, &err);
    if (rc == AW_OK)
        rc = set != NULL ? jwks_verify(set, &tok, NULL, &err) : AW_INVALID;
    arena_fini(&a);
    *why = rc == AW_OK ? "ok" : set == NULL ? "no key set" : err.reason;
    return rc == AW_OK;
}

/* Run one JWS/JWK vector; returns the number of unexpected verdicts. */
static unsigned
run_jws_vector(const char *file, const struct jwks *set,
               const struct json_value *t, struct tally *ty,
               unsigned *listed_seen)
{
    const char *why;
    bool accepted = jws_accepted(set, json_str(json_get(t, "jws")), &why);
    bool want = slice_is(json_str(json_get(t, "result")), "valid");
    const struct disagreement *d;
    int64_t tc = 0;

    json_int(json_get(t, "tcId"), &tc);
    d = find_disagreement(file, tc);
    if (d != NULL && accepted == d->accepted && accepted != want) {
        (*listed_seen)++;
        ty->valid_by_rule += want ? 1 : 0;
        ty->invalid_fail += want ? 0 : 1;
        printf("  %s tcId %lld: %s by rule: %s\n", file, (long long)tc,
               accepted ? "accepted" : "rejected", d->rule);
        return 0;
    }
    count(ty, file, t, accepted, NULL);
    if (getenv("WYCHEPROOF_VERBOSE") != NULL)
        printf("    %s tcId %lld (%s): %s\n", file, (long long)tc,
               json_str(json_get(t, "comment")).ptr, why);
    if (accepted == want)
        return 0;
    printf("    (reason: %s)\n", why);
    return 1;
}

/* With WYCHEPROOF_VERBOSE set: why keys of a group's set were skipped. */
static void
print_notes(const struct jwks *set)
{
    size_t n;
    const struct jwks_note *notes = jwks_notes(set, &n);

    for (size_t i = 0; i < n; i++)
        printf("    key %zu \"%s\": %s (%s)\n", notes[i].index, notes[i].kid,
               notes[i].reason, notes[i].detail);
}

static void
run_jws_file(const char *file, unsigned *unexpected, unsigned *listed_seen)
{
    struct tally ty = {0};
    const struct json_value *groups;
    struct vecfile vf;
    unsigned bad = 0;

    vecfile_load(&vf, file);
    groups = json_get(vf.doc, "testGroups");
    for (size_t g = 0; g < groups->u.arr.n; g++) {
        const struct json_value *grp = groups->u.arr.items[g];
        const struct json_value *tests = json_get(grp, "tests");
        struct jwks *set = group_set(grp, &vf.arena);

        if (getenv("WYCHEPROOF_VERBOSE") != NULL && set != NULL)
            print_notes(set);

        for (size_t i = 0; i < tests->u.arr.n; i++)
            bad += run_jws_vector(file, set, tests->u.arr.items[i], &ty,
                                  listed_seen);
        jwks_unref(set);
    }
    print_tally(file, &ty);
    if (ty.invalid_fail > 0)
        printf("  %-40s (%u invalid accepted by rule, listed above)\n", "",
               ty.invalid_fail);
    *unexpected += bad;
    vecfile_free(&vf);
}

static void
test_jose_files(void **state)
{
    unsigned unexpected = 0, listed_seen = 0;

    (void)state;
    run_jws_file("json_web_signature_test.json", &unexpected, &listed_seen);
    run_jws_file("json_web_key_test.json", &unexpected, &listed_seen);
    assert_int_equal(unexpected, 0);
    assert_int_equal(listed_seen, ARRAY_LEN(disagreements));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_files),
        cmocka_unit_test(test_jose_files),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
