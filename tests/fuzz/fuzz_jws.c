/*
 * libFuzzer driver for compact JWS parsing and verification against a
 * fixed small key set (P-256, Ed25519 and RSA-2048 keys generated at
 * start, and one HS256 secret known to the driver).
 *
 * The first input byte picks the mode:
 *   0  the rest is the token, as is;
 *   1  the rest is "header NL payload NL signature" in clear; the driver
 *      base64url-encodes each part, so the fuzzer reaches the JSON and
 *      header rules without having to learn base64;
 *   2  as 1, but the driver signs "header.payload" with the HS256
 *      secret and ignores the given signature.
 * Checks: a parsed token is consistent with its text; nothing verifies
 * except a token the driver signed itself, and such a token, once
 * parsed as HS256 without a foreign kid, always verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "identity/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_TOKEN 8192
#define FUZZ_BUF (3 * FUZZ_MAX_TOKEN)

static const unsigned char fuzz_secret[32] = "fuzz-secret-of-thirty-two-bytes";

static struct jwks *fuzz_pub;
static struct jwks *fuzz_hs;

static size_t
fuzz_b64url(const unsigned char *in, size_t n, char *out)
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
        for (size_t j = 0; j < k + 1; j++)
            out[o++] = abc[(v >> (18 - 6 * j)) & 63];
    }
    return o;
}

/* Append the base64url of a BIGNUM parameter (padded to width). */
static size_t
fuzz_param(EVP_PKEY *pk, const char *name, int width, char *out)
{
    unsigned char buf[512];
    BIGNUM *bn = NULL;
    int n;

    if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
        abort();
    n = width ? width : BN_num_bytes(bn);
    if (n > (int)sizeof(buf) || BN_bn2binpad(bn, buf, n) != n)
        abort();
    BN_free(bn);
    return fuzz_b64url(buf, (size_t)n, out);
}

/* Build the public set from freshly generated keys. */
static void
fuzz_make_pub(void)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char doc[2048];
    unsigned char raw[32];
    size_t o = 0, rawlen = sizeof(raw);
    struct jose_error err;

    if (ec == NULL || ed == NULL || rsa == NULL ||
        EVP_PKEY_get_raw_public_key(ed, raw, &rawlen) != 1)
        abort();
#define PUT(s) (memcpy(doc + o, (s), strlen(s)), o += strlen(s))
    PUT("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"x\":\"");
    o += fuzz_param(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, doc + o);
    PUT("\",\"y\":\"");
    o += fuzz_param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, doc + o);
    PUT("\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"x\":\"");
    o += fuzz_b64url(raw, rawlen, doc + o);
    PUT("\"},{\"kty\":\"RSA\",\"kid\":\"rsa\",\"n\":\"");
    o += fuzz_param(rsa, OSSL_PKEY_PARAM_RSA_N, 0, doc + o);
    PUT("\",\"e\":\"AQAB\"}]}");
#undef PUT
    if (jwks_parse(doc, o, 0, &fuzz_pub, &err) != AW_OK ||
        jwks_count(fuzz_pub) != 3)
        abort();
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
}

static void
fuzz_init(void)
{
    char doc[256] = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"";
    size_t o = strlen(doc);
    struct jose_error err;

    o += fuzz_b64url(fuzz_secret, sizeof(fuzz_secret), doc + o);
    memcpy(doc + o, "\"}]}", 4);
    if (jwks_parse(doc, o + 4, 0, &fuzz_hs, &err) != AW_OK)
        abort();
    fuzz_make_pub();
}

/* Build "b64(h).b64(p).b64(s)" from clear parts separated by '\n'. */
static size_t
fuzz_assemble(const uint8_t *d, size_t n, bool sign, char *out)
{
    const uint8_t *nl1 = memchr(d, '\n', n);
    const uint8_t *nl2 = nl1 ? memchr(nl1 + 1, '\n', n - (size_t)(nl1 + 1 - d))
                             : NULL;
    unsigned char mac[32];
    size_t o, maclen = 0;

    if (nl2 == NULL || n > FUZZ_MAX_TOKEN)
        return 0;
    o = fuzz_b64url(d, (size_t)(nl1 - d), out);
    out[o++] = '.';
    o += fuzz_b64url(nl1 + 1, (size_t)(nl2 - nl1 - 1), out + o);
    out[o++] = '.';
    if (!sign)
        return o + fuzz_b64url(nl2 + 1, n - (size_t)(nl2 + 1 - d), out + o);
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, fuzz_secret,
                  sizeof(fuzz_secret), (const unsigned char *)out, o - 1,
                  mac, sizeof(mac), &maclen) == NULL)
        abort();
    return o + fuzz_b64url(mac, maclen, out + o);
}

/* A parsed token must describe its own text. */
static void
fuzz_check_token(const char *t, size_t len, const struct jose_token *tok,
                 unsigned flags)
{
    if (tok->alg <= JOSE_ALG_UNKNOWN || tok->alg >= JOSE_ALG_COUNT ||
        tok->signing_input.ptr != t || tok->signing_input.len >= len ||
        t[tok->signing_input.len] != '.' || tok->sig.len == 0 ||
        !json_is(tok->header, JSON_OBJECT) ||
        (!(flags & JOSE_OPAQUE_PAYLOAD) &&
         !json_is(tok->payload, JSON_OBJECT)) ||
        (tok->has_kid != (tok->kid.ptr != NULL)))
        abort();
}

/* Parse and verify t against both sets; returns true when verified. */
static bool
fuzz_run(const char *t, size_t len, unsigned flags, struct arena *a,
         struct jose_token *tok)
{
    struct jose_error err;
    bool ok = false;

    if (jose_parse(t, len, FUZZ_MAX_TOKEN, flags, a, tok, &err) != AW_OK) {
        if (err.reason == NULL || strncmp(err.reason, "auth.", 5) != 0)
            abort();
        return false;
    }
    fuzz_check_token(t, len, tok, flags);
    if (jwks_verify(fuzz_pub, tok, NULL, &err) == AW_OK)
        abort();
    ok = jwks_verify(fuzz_hs, tok, NULL, &err) == AW_OK;
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char token[FUZZ_BUF];
    struct jose_token tok;
    struct arena a;
    size_t len;
    bool ok;

    if (fuzz_hs == NULL)
        fuzz_init();
    if (size == 0)
        return 0;
    if (data[0] % 3 == 0) {
        len = MIN(size - 1, sizeof(token));
        memcpy(token, data + 1, len);
    } else {
        len = fuzz_assemble(data + 1, size - 1, data[0] % 3 == 2, token);
        if (len == 0)
            return 0;
    }
    arena_init(&a, 4096, 1 << 20);
    ok = fuzz_run(token, len, 0, &a, &tok);
    /* A token the driver signed, parsed as HS256 without a foreign kid,
       must verify; nothing else may. */
    if (data[0] % 3 == 2 && tok.alg == JOSE_HS256 &&
        (!tok.has_kid || slice_eq(tok.kid, SLICE_LIT("hs"))) && !ok)
        abort();
    if (ok && data[0] % 3 != 2)
        abort();
    arena_reset(&a);
    fuzz_run(token, len, JOSE_OPAQUE_PAYLOAD, &a, &tok);
    arena_fini(&a);
    return 0;
}
