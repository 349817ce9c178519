/*
 * libFuzzer driver for JWK Set parsing and JWK import.
 *
 * The input is a JWK Set document, with both flag values. Whatever the
 * bytes, jwks_parse either refuses the document with a jwks.* or jwk.*
 * reason, or returns a set whose size, notes and lookups hold together:
 * at most JWKS_MAX_KEYS keys, each note naming an entry of the document
 * with a jwk.* reason, every key found for an algorithm serving it, and
 * no secret key in a set built with JWKS_PUBLIC_ONLY. When the input is
 * a lone JWK object, jwk_import is run on it too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check_set(const struct jwks *set, unsigned flags)
{
    const struct jwk *found[JWKS_MAX_KEYS];
    const struct jwks_note *notes;
    size_t n, total = 0;

    if (jwks_count(set) > JWKS_MAX_KEYS)
        abort();
    notes = jwks_notes(set, &n);
    if (n > JWKS_MAX_KEYS)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (notes[i].index >= JWKS_MAX_KEYS ||
            strncmp(notes[i].reason, "jwk.", 4) != 0 ||
            memchr(notes[i].kid, '\0', sizeof(notes[i].kid)) == NULL)
            abort();
    }
    for (int alg = 0; alg < JOSE_ALG_COUNT; alg++) {
        size_t k = jwks_find(set, NULL, (enum jose_alg)alg, found,
                             JWKS_MAX_KEYS);

        if (k > jwks_count(set) || (alg == JOSE_ALG_UNKNOWN && k != 0))
            abort();
        for (size_t i = 0; i < k; i++) {
            struct slice kid = jwk_kid(found[i]);

            if (!jwk_fits(found[i], (enum jose_alg)alg) ||
                ((flags & JWKS_PUBLIC_ONLY) && jwk_is_secret(found[i])))
                abort();
            if (kid.ptr != NULL &&
                jwks_find(set, &kid, (enum jose_alg)alg, NULL, 0) == 0)
                abort();
        }
        total += k;
    }
    if (jwks_count(set) > 0 && total == 0)
        abort();
}

static void
fuzz_one(const uint8_t *data, size_t size, unsigned flags)
{
    struct jose_error err;
    struct jwks *set = NULL;
    int rc = jwks_parse((const char *)data, size, flags, &set, &err);

    if (rc != AW_OK) {
        if (set != NULL || err.reason == NULL ||
            (strncmp(err.reason, "jwks.", 5) != 0 &&
             strncmp(err.reason, "jwk.", 4) != 0))
            abort();
        return;
    }
    fuzz_check_set(set, flags);
    jwks_unref(jwks_ref(set));
    jwks_unref(set);
}

/* The input as one JWK, when it parses as JSON at all. */
static void
fuzz_lone_key(const uint8_t *data, size_t size)
{
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *v;
    struct jose_error err;
    struct jwk *key = NULL;
    struct arena a;

    json_limits_default(&lim);
    arena_init(&a, 4096, 8u << 20);
    if (json_parse((const char *)data, size, &lim, &a, &v, &jerr) == AW_OK &&
        json_is(v, JSON_OBJECT)) {
        if (jwk_import(v, &key, &err) == AW_OK) {
            if (jwk_kid(key).len > JWK_MAX_KID)
                abort();
        } else if (key != NULL || strncmp(err.reason, "jwk.", 4) != 0) {
            abort();
        }
        jwk_free(key);
    }
    arena_fini(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(data, size, 0);
    fuzz_one(data, size, JWKS_PUBLIC_ONLY);
    fuzz_lone_key(data, size);
    return 0;
}
