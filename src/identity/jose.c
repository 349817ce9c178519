/*
 * Compact JWS: the algorithm table, token parsing and signature
 * verification over OpenSSL 3 EVP.
 *
 * Parsing checks everything that needs no key, in the order that
 * spends the least on a hostile token: the length bound, then the shape
 * (two dots, base64url bytes only), then the header, and only then the
 * payload and the signature. Verification starts from the key: the
 * token's "alg" is accepted only if the key serves it (jwk_fits), so an
 * RSA public key can never be taken for an HMAC secret, whatever the
 * header says.
 *
 * Keys hold contexts prepared at import, one per algorithm they serve
 * (keyed HMAC contexts for secrets); each verification works on its own
 * copy, which saves fetching the algorithms and setting them up again
 * on every token (about a fifth of the cost of an RSA-2048 verification)
 * and leaves the shared key untouched.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "identity/jose_int.h"

/*
 * The algorithms verified, by registered name. The fully specified names
 * "Ed25519" and "Ed448" (RFC 9864) are not accepted: EdDSA tokens must
 * say "EdDSA", and the key's curve decides.
 */
static const struct jose_alg_info jose_algs[JOSE_ALG_COUNT] = {
    [JOSE_RS256] = {"RS256", JOSE_FAM_RSA_PKCS1, "SHA256", 32, 0, 0},
    [JOSE_RS384] = {"RS384", JOSE_FAM_RSA_PKCS1, "SHA384", 48, 0, 0},
    [JOSE_RS512] = {"RS512", JOSE_FAM_RSA_PKCS1, "SHA512", 64, 0, 0},
    [JOSE_PS256] = {"PS256", JOSE_FAM_RSA_PSS, "SHA256", 32, 0, 0},
    [JOSE_PS384] = {"PS384", JOSE_FAM_RSA_PSS, "SHA384", 48, 0, 0},
    [JOSE_PS512] = {"PS512", JOSE_FAM_RSA_PSS, "SHA512", 64, 0, 0},
    [JOSE_ES256] = {"ES256", JOSE_FAM_ECDSA, "SHA256", 32, JWK_CRV_P256, 0},
    [JOSE_ES384] = {"ES384", JOSE_FAM_ECDSA, "SHA384", 48, JWK_CRV_P384, 0},
    [JOSE_ES512] = {"ES512", JOSE_FAM_ECDSA, "SHA512", 64, JWK_CRV_P521, 0},
    [JOSE_EDDSA] = {"EdDSA", JOSE_FAM_EDDSA, NULL, 0, 0, 0},
    [JOSE_HS256] = {"HS256", JOSE_FAM_HMAC, "SHA256", 32, 0, 0},
    [JOSE_HS384] = {"HS384", JOSE_FAM_HMAC, "SHA384", 48, 0, 1},
    [JOSE_HS512] = {"HS512", JOSE_FAM_HMAC, "SHA512", 64, 0, 2},
};

const struct jose_alg_info *
jose_alg_info(enum jose_alg alg)
{
    return &jose_algs[alg];
}

enum jose_alg
jose_alg_from_name(struct slice s)
{
    for (int a = JOSE_ALG_UNKNOWN + 1; a < JOSE_ALG_COUNT; a++) {
        const char *name = jose_algs[a].name;

        if (s.len == strlen(name) && memcmp(s.ptr, name, s.len) == 0)
            return (enum jose_alg)a;
    }
    return JOSE_ALG_UNKNOWN;
}

const char *
jose_alg_name(enum jose_alg alg)
{
    if (alg <= JOSE_ALG_UNKNOWN || alg >= JOSE_ALG_COUNT)
        return "unknown";
    return jose_algs[alg].name;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */
/* ------------------------------------------------------------------ */

/* The three segments of a compact token, as offsets into it. */
struct jose_shape {
    struct slice header;
    struct slice payload;
    struct slice sig;
};

/*
 * Split token[0..len) at its dots: exactly two dots, every other byte
 * in the base64url alphabet, and a non-empty header. An empty payload
 * is a legal JWS, and whether it is acceptable is decided when it is
 * parsed; an empty signature is refused after the header, so that an
 * "alg":"none" token is reported as such.
 */
static int
jose_split(const char *token, size_t len, struct jose_shape *sh,
           struct jose_error *err)
{
    const char *d1, *d2, *end;

    if (len == 0)
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "empty token");
    d1 = memchr(token, '.', len);
    end = token + len;
    if (d1 == NULL)
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "not three segments");
    d2 = memchr(d1 + 1, '.', (size_t)(end - d1 - 1));
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(end - d2 - 1)) != NULL)
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "not three segments");
    sh->header = (struct slice){token, (size_t)(d1 - token)};
    sh->payload = (struct slice){d1 + 1, (size_t)(d2 - d1 - 1)};
    sh->sig = (struct slice){d2 + 1, (size_t)(end - d2 - 1)};
    if (sh->header.len == 0)
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "empty header");
    if (!jose_b64url_alphabet(token, (size_t)(d1 - token)) ||
        !jose_b64url_alphabet(sh->payload.ptr, sh->payload.len) ||
        !jose_b64url_alphabet(sh->sig.ptr, sh->sig.len))
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "byte outside base64url");
    return AW_OK;
}

/* Decode one segment into the arena; *out points at the bytes. */
static int
jose_decode_segment(struct slice seg, struct arena *a, struct slice *out,
                    struct jose_error *err)
{
    size_t cap = jose_b64url_max_decoded(seg.len);
    unsigned char *buf = arena_alloc(a, cap);
    size_t n;

    if (buf == NULL)
        return jose_fail(err, AW_NOMEM, "auth.no_memory", "arena full");
    if (jose_b64url_decode(seg.ptr, seg.len, buf, cap, &n) != AW_OK)
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "bad base64url");
    *out = (struct slice){(const char *)buf, n};
    return AW_OK;
}

/*
 * Parse decoded JSON bytes that must form one object. detail names the
 * part for the error; the JSON parser's own reason is not kept, since
 * the refusal is the same whatever the flaw.
 */
static int
jose_parse_object(struct slice bytes, struct arena *a, const char *what,
                  const struct json_value **out, struct jose_error *err)
{
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *v = NULL;
    int rc;

    json_limits_default(&lim);
    lim.max_bytes = bytes.len;
    rc = json_parse(bytes.ptr, bytes.len, &lim, a, &v, &jerr);
    if (rc == AW_NOMEM)
        return jose_fail(err, AW_NOMEM, "auth.no_memory", "arena full");
    if (rc != AW_OK || !json_is(v, JSON_OBJECT))
        return jose_fail(err, AW_INVALID, "auth.malformed_token", what);
    *out = v;
    return AW_OK;
}

/*
 * Apply the header rules: "alg" a supported name, no "crit", "b64"
 * absent or true, "kid" a string when present. The members that point
 * at keys elsewhere ("jku", "x5u", "jwk", "x5c") are deliberately not
 * read at all: trusting them would let the token choose its own key.
 */
static int
jose_check_header(const struct json_value *h, struct jose_token *tok,
                  struct jose_error *err)
{
    const struct json_value *alg = json_get(h, "alg");
    const struct json_value *b64 = json_get(h, "b64");
    const struct json_value *kid = json_get(h, "kid");

    if (!json_is(alg, JSON_STRING))
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "alg missing or not a string");
    tok->alg = jose_alg_from_name(json_str(alg));
    if (tok->alg == JOSE_ALG_UNKNOWN)
        return jose_fail(err, AW_INVALID, "auth.alg_not_allowed",
                         "alg is none or not supported");
    if (json_get(h, "crit") != NULL)
        return jose_fail(err, AW_INVALID, "auth.crit_unsupported",
                         "crit lists an extension not understood");
    if (b64 != NULL && !json_is(b64, JSON_TRUE))
        return jose_fail(err, AW_INVALID, "auth.crit_unsupported",
                         "unencoded payload (b64) not supported");
    if (kid != NULL) {
        if (!json_is(kid, JSON_STRING))
            return jose_fail(err, AW_INVALID, "auth.malformed_token",
                             "kid not a string");
        tok->has_kid = true;
        tok->kid = json_str(kid);
    }
    return AW_OK;
}

/* The steps of jose_parse after the shape is known; see there. */
static int
jose_parse_parts(const struct jose_shape *sh, unsigned flags,
                 struct arena *a, struct jose_token *tok,
                 struct jose_error *err)
{
    struct slice hbytes;
    int rc;

    rc = jose_decode_segment(sh->header, a, &hbytes, err);
    if (rc != AW_OK)
        return rc;
    rc = jose_parse_object(hbytes, a, "header not a JSON object",
                           &tok->header, err);
    if (rc != AW_OK)
        return rc;
    rc = jose_check_header(tok->header, tok, err);
    if (rc != AW_OK)
        return rc;
    if (sh->sig.len == 0)
        return jose_fail(err, AW_INVALID, "auth.malformed_token",
                         "empty signature");
    rc = jose_decode_segment(sh->payload, a, &tok->payload_bytes, err);
    if (rc != AW_OK)
        return rc;
    if (!(flags & JOSE_OPAQUE_PAYLOAD)) {
        rc = jose_parse_object(tok->payload_bytes, a,
                               "payload not a JSON object", &tok->payload,
                               err);
        if (rc != AW_OK)
            return rc;
    }
    return jose_decode_segment(sh->sig, a, &tok->sig, err);
}

int
jose_parse(const char *token, size_t len, size_t max_len, unsigned flags,
           struct arena *a, struct jose_token *tok, struct jose_error *err)
{
    struct jose_shape sh;
    int rc;

    memset(tok, 0, sizeof(*tok));
    jose_fail(err, AW_OK, NULL, "");
    if (len > max_len || len > JOSE_MAX_TOKEN)
        return jose_fail(err, AW_TOOBIG, "auth.token_too_large",
                         "token longer than the configured bound");
    rc = jose_split(token, len, &sh, err);
    if (rc == AW_OK)
        rc = jose_parse_parts(&sh, flags, a, tok, err);
    if (rc != AW_OK) {
        memset(tok, 0, sizeof(*tok));
        return rc;
    }
    tok->signing_input = (struct slice){token,
                                        sh.sig.ptr - 1 - token};
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* Verification                                                        */
/* ------------------------------------------------------------------ */

/* The order n of each NIST curve, big-endian, as long as a coordinate. */
static const unsigned char jose_p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
    0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

static const unsigned char jose_p384_n[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2,
    0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
};

static const unsigned char jose_p521_n[66] = {
    0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc,
    0x01, 0x48, 0xf7, 0x09, 0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89,
    0x9c, 0x47, 0xae, 0xbb, 0x6f, 0xb7, 0x1e, 0x91, 0x38, 0x64, 0x09,
};

/* Longest DER ECDSA signature we build: two 67-byte INTEGERs. */
#define JOSE_DER_MAX 160

/* True when the big-endian v[0..len) is in [1, n-1]. */
static bool
jose_ec_scalar_ok(const unsigned char *v, const unsigned char *n,
                  size_t len)
{
    bool zero = true;

    for (size_t i = 0; i < len; i++) {
        if (v[i] != 0)
            zero = false;
    }
    return !zero && memcmp(v, n, len) < 0;
}

/* Append the DER INTEGER for the unsigned big-endian v[0..len). */
static size_t
jose_der_int(unsigned char *out, const unsigned char *v, size_t len)
{
    size_t o = 0;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    out[o++] = 0x02;
    out[o++] = (unsigned char)(len + (v[0] & 0x80 ? 1 : 0));
    if (v[0] & 0x80)
        out[o++] = 0;
    memcpy(out + o, v, len);
    return o + len;
}

/*
 * Turn the JWS form of an ECDSA signature (r||s, each exactly as long
 * as the curve order) into the DER that OpenSSL verifies. Any other
 * length is refused, DER input included, and so are r or s outside
 * [1, n-1]: OpenSSL checks the range too, but the JWS rule is ours to
 * enforce. Returns the DER length, or 0 when the signature is refused.
 *
 * ECDSA signatures are malleable and JWS does not forbid it: whoever
 * holds a valid token can replace s by n - s and get a second token,
 * with the same header and claims, that verifies too. A replay list or
 * cache must therefore be keyed on the signing input or the claims
 * (jti), never on the signature bytes or the whole token text alone.
 */
static size_t
jose_ecdsa_der(enum jwk_crv crv, const unsigned char *sig, size_t sig_len,
               unsigned char der[JOSE_DER_MAX])
{
    const unsigned char *n = crv == JWK_CRV_P256   ? jose_p256_n
                             : crv == JWK_CRV_P384 ? jose_p384_n
                                                   : jose_p521_n;
    size_t half = crv == JWK_CRV_P256 ? 32 : crv == JWK_CRV_P384 ? 48 : 66;
    unsigned char body[JOSE_DER_MAX];
    size_t blen, o = 0;

    if (sig_len != 2 * half || !jose_ec_scalar_ok(sig, n, half) ||
        !jose_ec_scalar_ok(sig + half, n, half))
        return 0;
    blen = jose_der_int(body, sig, half);
    blen += jose_der_int(body + blen, sig + half, half);
    der[o++] = 0x30;
    if (blen > 127)
        der[o++] = 0x81;
    der[o++] = (unsigned char)blen;
    memcpy(der + o, body, blen);
    return o + blen;
}

/* Set RSASSA-PSS with MGF1 over the same hash and hash-long salt. */
static bool
jose_set_pss(EVP_PKEY_CTX *pctx, const struct jose_alg_info *info)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) >
               0 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, info->md, NULL) > 0;
}

/* A context set up to verify with pkey for alg (PSS parameters too). */
static EVP_MD_CTX *
jose_verify_ctx(EVP_PKEY *pkey, const struct jose_alg_info *info)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;

    if (ctx == NULL)
        return NULL;
    if (EVP_DigestVerifyInit_ex(ctx, &pctx, info->md, NULL, NULL, pkey,
                                NULL) != 1 ||
        (info->family == JOSE_FAM_RSA_PSS && !jose_set_pss(pctx, info))) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int
jose_prepare_key(struct jwk *key, struct jose_error *err)
{
    for (int a = JOSE_ALG_UNKNOWN + 1; a < JOSE_ALG_COUNT; a++) {
        if (!jwk_fits(key, (enum jose_alg)a))
            continue;
        key->vctx[a] = jose_verify_ctx(key->pkey, &jose_algs[a]);
        if (key->vctx[a] == NULL) {
            ERR_clear_error();
            return jose_fail(err, AW_INVALID, "jwk.bad_key",
                             "OpenSSL cannot verify with this key");
        }
    }
    return AW_OK;
}

/*
 * Verify with an asymmetric key through EVP_DigestVerify, on a copy of
 * the context prepared at import. OpenSSL's error queue is per thread
 * and shared with the TLS code of the same worker, so whatever a failed
 * verification left there is cleared before returning.
 */
static int
jose_verify_evp(const struct jwk *key, enum jose_alg alg, const void *msg,
                size_t msg_len, const unsigned char *sig, size_t sig_len,
                struct jose_error *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = AW_OK;

    if (ctx == NULL)
        return jose_fail(err, AW_NOMEM, "auth.no_memory", "EVP_MD_CTX");
    if (key->vctx[alg] == NULL ||
        EVP_MD_CTX_copy_ex(ctx, key->vctx[alg]) != 1) {
        rc = jose_fail(err, AW_ERROR, "auth.verify_error",
                       "verification could not start");
        goto out;
    }
    /* The copy is used once: without this flag, OpenSSL 3.0 copies it
       again in EVP_DigestVerifyFinal so that it could be reused. */
    EVP_MD_CTX_set_flags(ctx, EVP_MD_CTX_FLAG_FINALISE);
    if (EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) != 1)
        rc = jose_fail(err, AW_INVALID, "auth.bad_signature",
                       "signature does not verify");
out:
    if (rc != AW_OK)
        ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* HMAC from the key's template for this alg, compared in constant time. */
static int
jose_verify_hmac(const struct jwk *key, const struct jose_alg_info *info,
                 const void *msg, size_t msg_len, const unsigned char *sig,
                 size_t sig_len, struct jose_error *err)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    EVP_MAC_CTX *ctx;
    int rc = AW_OK;

    if (sig_len != info->hash_len)
        return jose_fail(err, AW_INVALID, "auth.bad_signature",
                         "MAC length differs from the hash output");
    ctx = EVP_MAC_CTX_dup(key->mac[info->hmac_slot]);
    if (ctx == NULL)
        return jose_fail(err, AW_NOMEM, "auth.no_memory", "EVP_MAC_CTX");
    if (EVP_MAC_update(ctx, msg, msg_len) != 1 ||
        EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) != 1 ||
        mac_len != info->hash_len) {
        ERR_clear_error();
        rc = jose_fail(err, AW_ERROR, "auth.verify_error", "HMAC failed");
    } else if (CRYPTO_memcmp(mac, sig, mac_len) != 0) {
        rc = jose_fail(err, AW_INVALID, "auth.bad_signature",
                       "MAC does not match");
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    EVP_MAC_CTX_free(ctx);
    return rc;
}

int
jose_verify_bytes(const struct jwk *key, enum jose_alg alg, const void *msg,
                  size_t msg_len, const void *sig, size_t sig_len,
                  struct jose_error *err)
{
    const struct jose_alg_info *info;
    unsigned char der[JOSE_DER_MAX];
    size_t der_len;

    jose_fail(err, AW_OK, NULL, "");
    if (!jwk_fits(key, alg))
        return jose_fail(err, AW_INVALID, "auth.key_alg_mismatch",
                         "the key does not serve this alg");
    info = jose_alg_info(alg);
    switch (info->family) {
    case JOSE_FAM_HMAC:
        return jose_verify_hmac(key, info, msg, msg_len, sig, sig_len, err);
    case JOSE_FAM_ECDSA:
        der_len = jose_ecdsa_der(key->crv, sig, sig_len, der);
        if (der_len == 0)
            return jose_fail(err, AW_INVALID, "auth.bad_signature",
                             "not r||s of the curve's size in range");
        return jose_verify_evp(key, alg, msg, msg_len, der, der_len, err);
    case JOSE_FAM_RSA_PKCS1:
    case JOSE_FAM_RSA_PSS:
        /* RFC 7518 3.3 and 3.5: exactly as long as the modulus. */
        if (sig_len != (key->bits + 7) / 8)
            return jose_fail(err, AW_INVALID, "auth.bad_signature",
                             "signature length differs from the modulus");
        return jose_verify_evp(key, alg, msg, msg_len, sig, sig_len, err);
    case JOSE_FAM_EDDSA:
        return jose_verify_evp(key, alg, msg, msg_len, sig, sig_len, err);
    default:
        return jose_fail(err, AW_INVALID, "auth.alg_not_allowed",
                         "alg not supported");
    }
}

int
jose_verify(const struct jose_token *tok, const struct jwk *key,
            struct jose_error *err)
{
    return jose_verify_bytes(key, tok->alg, tok->signing_input.ptr,
                             tok->signing_input.len, tok->sig.ptr,
                             tok->sig.len, err);
}
