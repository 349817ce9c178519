/*
 * JWK import: one JSON Web Key (RFC 7517, with the key types of RFC 7518
 * and RFC 8037) to a verification key, prepared once so that verifying
 * costs no parsing or fetching.
 *
 * Public keys go through OSSL_PARAM_BLD and EVP_PKEY_fromdata, the
 * provider interface of OpenSSL 3; none of the deprecated RSA_* or
 * EC_KEY_* calls is used. Secrets (kty "oct") become keyed HMAC contexts
 * and the decoded bytes are wiped at once.
 *
 * The checks follow one idea: a key must say what it is for, and say it
 * once. So "use" must be "sig", "key_ops" must allow "verify", an "alg"
 * must be a signature algorithm that fits the key's type and curve, and
 * a JWK that carries private members is refused, because a verifier
 * never needs them and a published private key is already lost.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "identity/jose_int.h"

/* Bounds on decoded key material (see jwk_import in identity.h). */
#define JWK_RSA_MIN_BITS 2048
#define JWK_RSA_MAX_BITS 8192
#define JWK_RSA_E_MAX_BITS 256
#define JWK_OCT_MIN 32
#define JWK_OCT_MAX 1024

/* Room for n with a few leading zero bytes, which are tolerated. */
#define JWK_RSA_N_CAP (JWK_RSA_MAX_BITS / 8 + 16)
#define JWK_RSA_E_CAP (JWK_RSA_E_MAX_BITS / 8 + 16)

/* Longest EC coordinate (P-521) and OKP public key (Ed448). */
#define JWK_COORD_MAX 66
#define JWK_OKP_MAX 57

/* Shorthand for the refusals below. */
#define JWK_FAIL(err, reason, detail)                                      \
    jose_fail((err), AW_INVALID, (reason), (detail))

/* ------------------------------------------------------------------ */
/* Members                                                             */
/* ------------------------------------------------------------------ */

/*
 * The string member name of obj: AW_OK with *out set (SLICE_NULL when
 * absent and !required), or jwk.malformed when it is missing although
 * required, or not a string.
 */
static int
jwk_str(const struct json_value *obj, const char *name, bool required,
        struct slice *out, struct jose_error *err)
{
    const struct json_value *v = json_get(obj, name);

    *out = SLICE_NULL;
    if (v == NULL && !required)
        return AW_OK;
    if (!json_is(v, JSON_STRING))
        return JWK_FAIL(err, "jwk.malformed",
                        "member missing or not a string");
    *out = json_str(v);
    return AW_OK;
}

/*
 * Decode the required base64url member name into buf (cap bytes).
 * Too long for buf is jwk.bad_key; an empty value, bad base64url or a
 * non-string is jwk.malformed.
 */
static int
jwk_bytes(const struct json_value *obj, const char *name, unsigned char *buf,
          size_t cap, size_t *len, struct jose_error *err)
{
    struct slice s;
    int rc = jwk_str(obj, name, true, &s, err);

    if (rc != AW_OK)
        return rc;
    rc = jose_b64url_decode(s.ptr, s.len, buf, cap, len);
    if (rc == AW_TOOBIG)
        return JWK_FAIL(err, "jwk.bad_key", "key value too long");
    if (rc != AW_OK || *len == 0)
        return JWK_FAIL(err, "jwk.malformed", "bad base64url in key value");
    return AW_OK;
}

static bool
jwk_slice_is(struct slice s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/*
 * "key_ops": an array of distinct strings that must include "verify"
 * (RFC 7517 4.3 forbids repeated values).
 */
static int
jwk_check_key_ops(const struct json_value *ops, struct jose_error *err)
{
    bool verify = false;

    if (!json_is(ops, JSON_ARRAY))
        return JWK_FAIL(err, "jwk.malformed", "key_ops not an array");
    for (size_t i = 0; i < ops->u.arr.n; i++) {
        const struct json_value *op = ops->u.arr.items[i];

        if (!json_is(op, JSON_STRING))
            return JWK_FAIL(err, "jwk.malformed", "key_ops item not a string");
        for (size_t j = 0; j < i; j++) {
            if (slice_eq(json_str(op), json_str(ops->u.arr.items[j])))
                return JWK_FAIL(err, "jwk.malformed", "key_ops repeats");
        }
        if (jwk_slice_is(json_str(op), "verify"))
            verify = true;
    }
    if (!verify)
        return JWK_FAIL(err, "jwk.not_for_signing", "key_ops lacks verify");
    return AW_OK;
}

/* "kty", mapped; anything but the four types is unsupported. */
static int
jwk_read_kty(const struct json_value *v, struct jwk *key,
             struct jose_error *err)
{
    static const char *const names[] = {
        [JWK_KTY_RSA] = "RSA",
        [JWK_KTY_EC] = "EC",
        [JWK_KTY_OKP] = "OKP",
        [JWK_KTY_OCT] = "oct",
    };
    struct slice kty;
    int rc = jwk_str(v, "kty", true, &kty, err);

    if (rc != AW_OK)
        return rc;
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (jwk_slice_is(kty, names[i])) {
            key->kty = (enum jwk_kty)i;
            return AW_OK;
        }
    }
    return JWK_FAIL(err, "jwk.unsupported_kty", "kty not RSA, EC, OKP, oct");
}

/* "kid": a string of at most JWK_MAX_KID bytes, copied into the key. */
static int
jwk_read_kid(const struct json_value *v, struct jwk *key,
             struct jose_error *err)
{
    struct slice kid;
    int rc = jwk_str(v, "kid", false, &kid, err);

    if (rc != AW_OK || kid.ptr == NULL)
        return rc;
    if (kid.len > JWK_MAX_KID)
        return JWK_FAIL(err, "jwk.malformed", "kid too long");
    key->kid_buf = malloc(kid.len + 1);
    if (key->kid_buf == NULL)
        return jose_fail(err, AW_NOMEM, "jwk.no_memory", "kid");
    memcpy(key->kid_buf, kid.ptr, kid.len);
    key->kid_buf[kid.len] = '\0';
    key->kid = (struct slice){key->kid_buf, kid.len};
    return AW_OK;
}

/*
 * Refuse a key that carries private members ("d" for every asymmetric
 * type, and the CRT values of RSA). This comes before the other checks,
 * because a published private key is the first thing an operator must
 * hear about.
 */
static int
jwk_refuse_private(const struct json_value *v, enum jwk_kty kty,
                   struct jose_error *err)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi",
                                       "oth"};
    size_t n = kty == JWK_KTY_RSA ? ARRAY_LEN(priv) : 1;

    if (kty == JWK_KTY_OCT)
        return AW_OK;
    for (size_t i = 0; i < n; i++) {
        if (json_get(v, priv[i]) != NULL)
            return JWK_FAIL(err, "jwk.private_key",
                            "private key members present");
    }
    return AW_OK;
}

/* The members every key type shares: kty, use, key_ops, alg, kid. */
static int
jwk_read_common(const struct json_value *v, struct jwk *key,
                struct jose_error *err)
{
    const struct json_value *ops = json_get(v, "key_ops");
    struct slice use, alg;
    int rc;

    rc = jwk_read_kty(v, key, err);
    if (rc == AW_OK)
        rc = jwk_refuse_private(v, key->kty, err);
    if (rc == AW_OK)
        rc = jwk_str(v, "use", false, &use, err);
    if (rc == AW_OK && use.ptr != NULL && !jwk_slice_is(use, "sig"))
        rc = JWK_FAIL(err, "jwk.not_for_signing", "use is not sig");
    if (rc == AW_OK && ops != NULL)
        rc = jwk_check_key_ops(ops, err);
    if (rc == AW_OK)
        rc = jwk_str(v, "alg", false, &alg, err);
    if (rc == AW_OK && alg.ptr != NULL) {
        key->alg = jose_alg_from_name(alg);
        if (key->alg == JOSE_ALG_UNKNOWN)
            rc = JWK_FAIL(err, "jwk.unsupported_alg",
                          "alg is not a supported JWS algorithm");
    }
    if (rc == AW_OK)
        rc = jwk_read_kid(v, key, err);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Public keys                                                         */
/* ------------------------------------------------------------------ */

/*
 * Build a public EVP_PKEY of the given OpenSSL type from the params in
 * bld. Returns AW_OK, or jwk.bad_key when OpenSSL refuses the values.
 */
static int
jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out,
             struct jose_error *err)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    int rc = AW_OK;

    if (params == NULL || ctx == NULL) {
        rc = jose_fail(err, AW_NOMEM, "jwk.no_memory", "key parameters");
    } else if (EVP_PKEY_fromdata_init(ctx) != 1 ||
               EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) !=
                   1) {
        rc = JWK_FAIL(err, "jwk.bad_key", "OpenSSL refused the key");
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return rc;
}

/*
 * Primes whose residues reveal the ROCA fingerprint (CVE-2017-15361).
 * The flawed generator built every prime, hence n, as a power of 65537
 * modulo a primorial that includes at least all of these, so n mod p
 * always falls in the subgroup 65537 generates mod p. For a sound
 * random modulus the chance of that holding for all of them is too
 * small to matter.
 */
static const unsigned jwk_roca_primes[] = {
    3,  5,  7,  11, 13, 17, 19, 23,  29,  31,  37,  41,  43,
    47, 53, 59, 61, 67, 71, 73, 79,  83,  89,  97,  101, 103,
    107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
};

/* True when r lies in the subgroup of (Z/pZ)* generated by 65537. */
static bool
jwk_in_65537_subgroup(unsigned r, unsigned p)
{
    unsigned g = 65537 % p;
    unsigned x = 1;

    do {
        if (x == r)
            return true;
        x = x * g % p;
    } while (x != 1);
    return false;
}

/* True when n has the ROCA fingerprint. */
static bool
jwk_roca(const BIGNUM *n)
{
    for (size_t i = 0; i < ARRAY_LEN(jwk_roca_primes); i++) {
        unsigned p = jwk_roca_primes[i];
        BN_ULONG r = BN_mod_word(n, p);

        if (r == (BN_ULONG)-1 || !jwk_in_65537_subgroup((unsigned)r, p))
            return false;
    }
    return true;
}

/* The strength rules for an RSA public key; see jwk_import. */
static int
jwk_check_rsa(const BIGNUM *n, const BIGNUM *e, struct jose_error *err)
{
    int bits = BN_num_bits(n);

    if (bits < JWK_RSA_MIN_BITS)
        return JWK_FAIL(err, "jwk.weak_key", "RSA modulus under 2048 bits");
    if (bits > JWK_RSA_MAX_BITS)
        return JWK_FAIL(err, "jwk.bad_key", "RSA modulus over 8192 bits");
    if (!BN_is_odd(n))
        return JWK_FAIL(err, "jwk.bad_key", "RSA modulus is even");
    if (!BN_is_odd(e) || BN_is_one(e) ||
        BN_num_bits(e) > JWK_RSA_E_MAX_BITS)
        return JWK_FAIL(err, "jwk.weak_key", "RSA exponent not allowed");
    if (jwk_roca(n))
        return JWK_FAIL(err, "jwk.weak_key", "RSA modulus has the ROCA "
                                             "fingerprint");
    return AW_OK;
}

/* Build the EVP_PKEY of an RSA key from n and e. */
static int
jwk_rsa_pkey(struct jwk *key, const BIGNUM *n, const BIGNUM *e,
             struct jose_error *err)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    int rc;

    if (bld == NULL)
        return jose_fail(err, AW_NOMEM, "jwk.no_memory", "param builder");
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
        rc = jose_fail(err, AW_NOMEM, "jwk.no_memory", "param builder");
    else
        rc = jwk_fromdata("RSA", bld, &key->pkey, err);
    OSSL_PARAM_BLD_free(bld);
    if (rc == AW_OK)
        key->bits = (unsigned)BN_num_bits(n);
    return rc;
}

/* RSA {n, e}. */
static int
jwk_read_rsa(const struct json_value *v, struct jwk *key,
             struct jose_error *err)
{
    unsigned char nb[JWK_RSA_N_CAP], eb[JWK_RSA_E_CAP];
    size_t nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    int rc;

    rc = jwk_bytes(v, "n", nb, sizeof(nb), &nlen, err);
    if (rc == AW_OK)
        rc = jwk_bytes(v, "e", eb, sizeof(eb), &elen, err);
    if (rc != AW_OK)
        return rc;
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    if (n == NULL || e == NULL)
        rc = jose_fail(err, AW_NOMEM, "jwk.no_memory", "BIGNUM");
    if (rc == AW_OK)
        rc = jwk_check_rsa(n, e, err);
    if (rc == AW_OK)
        rc = jwk_rsa_pkey(key, n, e, err);
    BN_free(e);
    BN_free(n);
    return rc;
}

/* A curve of the JWK registry, with what OpenSSL calls it. */
struct jwk_curve {
    const char *jwk;     /* "crv" value */
    const char *ossl;    /* OpenSSL group or key type name */
    enum jwk_crv crv;
    size_t len;          /* coordinate or public key bytes */
};

static const struct jwk_curve jwk_ec_curves[] = {
    {"P-256", "prime256v1", JWK_CRV_P256, 32},
    {"P-384", "secp384r1", JWK_CRV_P384, 48},
    {"P-521", "secp521r1", JWK_CRV_P521, 66},
};

static const struct jwk_curve jwk_okp_curves[] = {
    {"Ed25519", "ED25519", JWK_CRV_ED25519, 32},
    {"Ed448", "ED448", JWK_CRV_ED448, 57},
};

/* The curve named by "crv" among the n in table, or NULL (err set). */
static const struct jwk_curve *
jwk_find_curve(const struct json_value *v, const struct jwk_curve *table,
               size_t n, struct jose_error *err)
{
    struct slice crv;

    if (jwk_str(v, "crv", true, &crv, err) != AW_OK)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (jwk_slice_is(crv, table[i].jwk))
            return &table[i];
    }
    JWK_FAIL(err, "jwk.unsupported_crv", "curve not supported");
    return NULL;
}

/* Decode a member that must be exactly len bytes long. */
static int
jwk_fixed(const struct json_value *v, const char *name, unsigned char *buf,
          size_t len, struct jose_error *err)
{
    size_t got;
    int rc = jwk_bytes(v, name, buf, len, &got, err);

    if (rc == AW_OK && got != len)
        rc = JWK_FAIL(err, "jwk.bad_key", "coordinate of the wrong length");
    return rc;
}

/*
 * EVP_PKEY_fromdata does not promise a full check of an EC point, so
 * the public key check runs explicitly: on the curve, not at infinity,
 * of the group's order.
 */
static int
jwk_check_ec_point(EVP_PKEY *pkey, struct jose_error *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok;

    if (ctx == NULL)
        return jose_fail(err, AW_NOMEM, "jwk.no_memory", "EVP_PKEY_CTX");
    ok = EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    if (ok != 1)
        return JWK_FAIL(err, "jwk.bad_key", "EC point not on the curve");
    return AW_OK;
}

/* EC {crv, x, y}, as an uncompressed point. */
static int
jwk_read_ec(const struct json_value *v, struct jwk *key,
            struct jose_error *err)
{
    const struct jwk_curve *c = jwk_find_curve(v, jwk_ec_curves,
                                               ARRAY_LEN(jwk_ec_curves), err);
    unsigned char pt[1 + 2 * JWK_COORD_MAX];
    OSSL_PARAM_BLD *bld;
    int rc;

    if (c == NULL)
        return AW_INVALID;
    pt[0] = 0x04;
    rc = jwk_fixed(v, "x", pt + 1, c->len, err);
    if (rc == AW_OK)
        rc = jwk_fixed(v, "y", pt + 1 + c->len, c->len, err);
    if (rc != AW_OK)
        return rc;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        c->ossl, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                         1 + 2 * c->len) != 1)
        rc = jose_fail(err, AW_NOMEM, "jwk.no_memory", "param builder");
    else
        rc = jwk_fromdata("EC", bld, &key->pkey, err);
    OSSL_PARAM_BLD_free(bld);
    if (rc == AW_OK)
        rc = jwk_check_ec_point(key->pkey, err);
    key->crv = c->crv;
    return rc;
}

/* OKP {crv Ed25519 or Ed448, x}; the X25519/X448 curves do not sign. */
static int
jwk_read_okp(const struct json_value *v, struct jwk *key,
             struct jose_error *err)
{
    const struct jwk_curve *c = jwk_find_curve(
        v, jwk_okp_curves, ARRAY_LEN(jwk_okp_curves), err);
    unsigned char x[JWK_OKP_MAX];
    OSSL_PARAM_BLD *bld;
    int rc;

    if (c == NULL)
        return AW_INVALID;
    rc = jwk_fixed(v, "x", x, c->len, err);
    if (rc != AW_OK)
        return rc;
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x,
                                         c->len) != 1)
        rc = jose_fail(err, AW_NOMEM, "jwk.no_memory", "param builder");
    else
        rc = jwk_fromdata(c->ossl, bld, &key->pkey, err);
    OSSL_PARAM_BLD_free(bld);
    key->crv = c->crv;
    return rc;
}

/* ------------------------------------------------------------------ */
/* Secrets                                                             */
/* ------------------------------------------------------------------ */

/* A keyed HMAC context for one digest, ready to be duplicated. */
static EVP_MAC_CTX *
jwk_hmac_ctx(EVP_MAC *mac, const char *md, const unsigned char *k,
             size_t klen)
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[2];

    if (ctx == NULL)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)md, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(ctx, k, klen, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/*
 * Prepare the HMAC contexts of an oct key: one per HS* algorithm that
 * its "alg" allows (all three when absent) and whose hash output is not
 * longer than the secret (RFC 7518 3.2). A secret too short for every
 * allowed algorithm is jwk.weak_key.
 */
static int
jwk_prepare_hmac(struct jwk *key, const unsigned char *k, size_t klen,
                 struct jose_error *err)
{
    static const enum jose_alg hs[] = {JOSE_HS256, JOSE_HS384, JOSE_HS512};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    bool any = false;
    int rc = AW_OK;

    if (mac == NULL)
        return jose_fail(err, AW_NOMEM, "jwk.no_memory", "HMAC");
    for (size_t i = 0; i < ARRAY_LEN(hs) && rc == AW_OK; i++) {
        const struct jose_alg_info *info = jose_alg_info(hs[i]);

        if ((key->alg != JOSE_ALG_UNKNOWN && key->alg != hs[i]) ||
            klen < info->hash_len)
            continue;
        key->mac[info->hmac_slot] = jwk_hmac_ctx(mac, info->md, k, klen);
        if (key->mac[info->hmac_slot] == NULL)
            rc = jose_fail(err, AW_NOMEM, "jwk.no_memory", "HMAC context");
        any = true;
    }
    EVP_MAC_free(mac);
    if (rc == AW_OK && !any)
        rc = JWK_FAIL(err, "jwk.weak_key",
                      "secret shorter than the hash output");
    return rc;
}

/* oct {k}; the secret lives only inside the HMAC contexts. */
static int
jwk_read_oct(const struct json_value *v, struct jwk *key,
             struct jose_error *err)
{
    unsigned char k[JWK_OCT_MAX];
    size_t klen = 0;
    struct slice s;
    int rc = jwk_str(v, "k", true, &s, err);

    /* An empty "k" is a weak key, not a malformed one. */
    if (rc == AW_OK && s.len == 0)
        return JWK_FAIL(err, "jwk.weak_key", "empty secret");
    if (rc == AW_OK)
        rc = jwk_bytes(v, "k", k, sizeof(k), &klen, err);
    if (rc == AW_OK && klen < JWK_OCT_MIN)
        rc = JWK_FAIL(err, "jwk.weak_key", "secret under 32 bytes");
    if (rc == AW_OK)
        rc = jwk_prepare_hmac(key, k, klen, err);
    OPENSSL_cleanse(k, sizeof(k));
    return rc;
}

/* ------------------------------------------------------------------ */
/* The key                                                             */
/* ------------------------------------------------------------------ */

/* Whether the key's type and curve allow the family of info. */
static bool
jwk_type_fits(const struct jwk *key, const struct jose_alg_info *info)
{
    switch (key->kty) {
    case JWK_KTY_RSA:
        return info->family == JOSE_FAM_RSA_PKCS1 ||
               info->family == JOSE_FAM_RSA_PSS;
    case JWK_KTY_EC:
        return info->family == JOSE_FAM_ECDSA && info->crv == key->crv;
    case JWK_KTY_OKP:
        return info->family == JOSE_FAM_EDDSA;
    case JWK_KTY_OCT:
        return info->family == JOSE_FAM_HMAC;
    }
    return false;
}

bool
jwk_fits(const struct jwk *key, enum jose_alg alg)
{
    const struct jose_alg_info *info;

    if (key == NULL || alg <= JOSE_ALG_UNKNOWN || alg >= JOSE_ALG_COUNT)
        return false;
    if (key->alg != JOSE_ALG_UNKNOWN && key->alg != alg)
        return false;
    info = jose_alg_info(alg);
    if (!jwk_type_fits(key, info))
        return false;
    return key->kty != JWK_KTY_OCT || key->mac[info->hmac_slot] != NULL;
}

/* The material of the key's type. */
static int
jwk_read_material(const struct json_value *v, struct jwk *key,
                  struct jose_error *err)
{
    switch (key->kty) {
    case JWK_KTY_RSA:
        return jwk_read_rsa(v, key, err);
    case JWK_KTY_EC:
        return jwk_read_ec(v, key, err);
    case JWK_KTY_OKP:
        return jwk_read_okp(v, key, err);
    case JWK_KTY_OCT:
        return jwk_read_oct(v, key, err);
    }
    return JWK_FAIL(err, "jwk.unsupported_kty", "kty");
}

int
jwk_import(const struct json_value *v, struct jwk **out,
           struct jose_error *err)
{
    struct jwk *key;
    int rc;

    *out = NULL;
    jose_fail(err, AW_OK, NULL, "");
    if (!json_is(v, JSON_OBJECT))
        return JWK_FAIL(err, "jwk.malformed", "key is not an object");
    key = calloc(1, sizeof(*key));
    if (key == NULL)
        return jose_fail(err, AW_NOMEM, "jwk.no_memory", "key");
    rc = jwk_read_common(v, key, err);
    /*
     * The type is known now; an "alg" of another family is refused
     * before any material is decoded. The curve is checked after, when
     * it is known.
     */
    if (rc == AW_OK && key->alg != JOSE_ALG_UNKNOWN &&
        key->kty != JWK_KTY_EC &&
        !jwk_type_fits(key, jose_alg_info(key->alg)))
        rc = JWK_FAIL(err, "jwk.alg_mismatch", "alg does not fit kty");
    if (rc == AW_OK)
        rc = jwk_read_material(v, key, err);
    if (rc == AW_OK && key->alg != JOSE_ALG_UNKNOWN &&
        !jwk_type_fits(key, jose_alg_info(key->alg)))
        rc = JWK_FAIL(err, "jwk.alg_mismatch", "alg does not fit the key");
    if (rc == AW_OK && key->kty != JWK_KTY_OCT)
        rc = jose_prepare_key(key, err);
    if (rc != AW_OK) {
        ERR_clear_error();
        jwk_free(key);
        return rc;
    }
    *out = key;
    return AW_OK;
}

void
jwk_free(struct jwk *key)
{
    if (key == NULL)
        return;
    for (size_t i = 0; i < JOSE_ALG_COUNT; i++)
        EVP_MD_CTX_free(key->vctx[i]);
    EVP_PKEY_free(key->pkey);
    for (size_t i = 0; i < JWK_HMAC_SLOTS; i++)
        EVP_MAC_CTX_free(key->mac[i]);
    free(key->kid_buf);
    free(key);
}

struct slice
jwk_kid(const struct jwk *key)
{
    return key->kid;
}

bool
jwk_is_secret(const struct jwk *key)
{
    return key->kty == JWK_KTY_OCT;
}
