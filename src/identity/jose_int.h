/*
 * JOSE internals shared by jose.c, jwk.c, jwks.c and b64.c and by
 * nothing else: the algorithm table, the key structure and the strict
 * base64url codec.
 */
#ifndef APIWARD_JOSE_INT_H
#define APIWARD_JOSE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "identity/identity.h"

/* How an algorithm signs; decides the key type it needs. */
enum jose_family {
    JOSE_FAM_NONE,
    JOSE_FAM_RSA_PKCS1,
    JOSE_FAM_RSA_PSS,
    JOSE_FAM_ECDSA,
    JOSE_FAM_EDDSA,
    JOSE_FAM_HMAC,
};

enum jwk_kty {
    JWK_KTY_RSA,
    JWK_KTY_EC,
    JWK_KTY_OKP,
    JWK_KTY_OCT,
};

enum jwk_crv {
    JWK_CRV_NONE,
    JWK_CRV_P256,
    JWK_CRV_P384,
    JWK_CRV_P521,
    JWK_CRV_ED25519,
    JWK_CRV_ED448,
};

/* One row of the algorithm table. */
struct jose_alg_info {
    const char *name;        /* registered name, "RS256" */
    enum jose_family family;
    const char *md;          /* OpenSSL digest name; NULL for EdDSA */
    size_t hash_len;         /* digest output bytes; 0 for EdDSA */
    enum jwk_crv crv;        /* the only curve an ES* alg accepts */
    unsigned hmac_slot;      /* index into jwk.mac for HS* */
};

/* The row of alg; alg must not be UNKNOWN. */
const struct jose_alg_info *jose_alg_info(enum jose_alg alg);

/*
 * Prepare key->vctx for every algorithm an asymmetric key serves (the
 * rest of the key must be complete). Called once by jwk_import, so that
 * a verification copies a context instead of fetching the algorithm and
 * setting it up again. Returns AW_OK, AW_NOMEM, or AW_INVALID
 * (jwk.bad_key) when OpenSSL refuses to verify with the key.
 */
int jose_prepare_key(struct jwk *key, struct jose_error *err);

/* HMAC contexts kept per oct key: one per HS* algorithm. */
#define JWK_HMAC_SLOTS 3

/*
 * An imported key. Immutable after jwk_import returns, so it is shared
 * read-only between threads. The prepared contexts are only ever passed
 * to EVP_MD_CTX_copy_ex and EVP_MAC_CTX_dup, which take their source as
 * const: OpenSSL's threading rules (openssl-threads(7)) make such uses
 * safe from any number of threads at once.
 */
struct jwk {
    enum jwk_kty kty;
    enum jwk_crv crv;        /* EC and OKP keys; NONE otherwise */
    enum jose_alg alg;       /* the JWK's "alg"; UNKNOWN when absent */
    unsigned bits;           /* RSA modulus size, for the length check */
    EVP_PKEY *pkey;          /* RSA, EC and OKP keys */
    EVP_MD_CTX *vctx[JOSE_ALG_COUNT]; /* RSA, EC and OKP keys: a context
                                         initialised to verify with each
                                         alg the key serves, else NULL */
    EVP_MAC_CTX *mac[JWK_HMAC_SLOTS]; /* oct keys: keyed HMAC for the
                                         HS* the key may serve, NULL for
                                         the others */
    struct slice kid;        /* into kid_buf; SLICE_NULL when absent */
    char *kid_buf;
};

/* Bytes needed to decode n base64url characters (an upper bound). */
static inline size_t
jose_b64url_max_decoded(size_t n)
{
    return n / 4 * 3 + 2;
}

/* True when every byte of s[0..n) is in the base64url alphabet. */
bool jose_b64url_alphabet(const char *s, size_t n);

/*
 * Decode s[0..n), unpadded base64url, into out (room for cap bytes).
 * Refuses bytes outside the alphabet, a length of 1 modulo 4 and
 * nonzero unused bits in a final partial group, so that every byte
 * string has exactly one accepted encoding. Returns AW_OK with *out_len
 * set, AW_INVALID, or AW_TOOBIG when cap is too small.
 */
int jose_b64url_decode(const char *s, size_t n, unsigned char *out,
                       size_t cap, size_t *out_len);

/* Set err and return rc; a helper for the one-line refusals. */
static inline int
jose_fail(struct jose_error *err, int rc, const char *reason,
          const char *detail)
{
    if (err != NULL) {
        err->reason = reason;
        err->detail = detail;
    }
    return rc;
}

#endif
