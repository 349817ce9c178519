/*
 * JWK Sets: building an immutable, reference-counted set from a
 * document, finding the keys a token may be verified with, and the
 * verification policy over a set.
 *
 * A set is built once (a configuration load or a JWKS refresh) and then
 * only read, by every worker at once, until its last reference is
 * dropped. The count is atomic because the thread that replaces a set
 * and the workers still verifying with the old one release it in any
 * order.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "identity/jose_int.h"

/* Bounds on a JWK Set document and on the memory its tree may take. */
#define JWKS_MAX_BYTES ((size_t)1 << 20)
#define JWKS_ARENA_FIRST ((size_t)16 << 10)
#define JWKS_ARENA_MAX ((size_t)16 << 20)

struct jwks {
    atomic_size_t refs;
    size_t n;                 /* keys in use */
    struct jwk **keys;        /* n keys, owned, in document order */
    size_t n_notes;
    struct jwks_note *notes;  /* at most one per document entry */
};

/* Free a set and its keys. */
static void
jwks_free(struct jwks *set)
{
    for (size_t i = 0; i < set->n; i++)
        jwk_free(set->keys[i]);
    free(set->keys);
    free(set->notes);
    free(set);
}

struct jwks *
jwks_ref(struct jwks *set)
{
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void
jwks_unref(struct jwks *set)
{
    if (set == NULL)
        return;
    /* Release pairs with the acquire of the last holder, so that every
       use of the keys happens before they are freed. */
    if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1)
        jwks_free(set);
}

size_t
jwks_count(const struct jwks *set)
{
    return set->n;
}

const struct jwks_note *
jwks_notes(const struct jwks *set, size_t *n)
{
    *n = set->n_notes;
    return set->notes;
}

/* Record a note on entry index; kid is the entry's raw kid, if any. */
static void
jwks_note_add(struct jwks *set, size_t index, struct slice kid,
              const char *reason, const char *detail, bool skipped)
{
    struct jwks_note *note = &set->notes[set->n_notes++];

    note->index = index;
    note->kid[0] = '\0';
    if (kid.ptr != NULL)
        log_escape(note->kid, sizeof(note->kid), kid);
    note->reason = reason;
    note->detail = detail;
    note->skipped = skipped;
}

/* The kid of a document entry, whatever happened to its import. */
static struct slice
jwks_entry_kid(const struct json_value *entry)
{
    return json_str(json_get(entry, "kid"));
}

/*
 * Import every entry of keys into set->keys, noting the ones refused.
 * Only an allocation failure stops the loop; *index_of receives, for
 * each kept key, its position in the document.
 */
static int
jwks_import_all(struct jwks *set, const struct json_value *keys,
                unsigned flags, size_t *index_of, struct jose_error *err)
{
    for (size_t i = 0; i < keys->u.arr.n; i++) {
        const struct json_value *entry = keys->u.arr.items[i];
        struct jose_error kerr;
        struct jwk *key;
        int rc = jwk_import(entry, &key, &kerr);

        if (rc == AW_NOMEM)
            return jose_fail(err, rc, kerr.reason, kerr.detail);
        if (rc == AW_OK && (flags & JWKS_PUBLIC_ONLY) && jwk_is_secret(key)) {
            jwk_free(key);
            rc = jose_fail(&kerr, AW_INVALID, "jwk.mixed_symmetry",
                           "secret key in a published set");
        }
        if (rc != AW_OK) {
            jwks_note_add(set, i, jwks_entry_kid(entry), kerr.reason,
                          kerr.detail, true);
            continue;
        }
        index_of[set->n] = i;
        set->keys[set->n++] = key;
    }
    return AW_OK;
}

/*
 * One set serves one kind of issuer. A set that mixes secret and public
 * keys is a sign that a secret was published, or that tokens meant for
 * one verifier could be checked by the other kind of key, so the
 * secrets go and the public keys stay.
 */
static void
jwks_drop_mixed(struct jwks *set, size_t *index_of)
{
    bool secret = false, public = false;
    size_t kept = 0;

    for (size_t i = 0; i < set->n; i++) {
        if (jwk_is_secret(set->keys[i]))
            secret = true;
        else
            public = true;
    }
    if (!secret || !public)
        return;
    for (size_t i = 0; i < set->n; i++) {
        struct jwk *key = set->keys[i];

        if (jwk_is_secret(key)) {
            jwks_note_add(set, index_of[i], jwk_kid(key),
                          "jwk.mixed_symmetry",
                          "secret key beside public keys", true);
            jwk_free(key);
            continue;
        }
        index_of[kept] = index_of[i];
        set->keys[kept++] = key;
    }
    set->n = kept;
}

/* Note every key whose kid an earlier key of the set already has. */
static void
jwks_note_duplicates(struct jwks *set, const size_t *index_of)
{
    for (size_t i = 1; i < set->n; i++) {
        struct slice kid = jwk_kid(set->keys[i]);

        if (kid.ptr == NULL)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (slice_eq(kid, jwk_kid(set->keys[j])) &&
                jwk_kid(set->keys[j]).ptr != NULL) {
                jwks_note_add(set, index_of[i], kid, "jwk.duplicate_kid",
                              "kid already used in this set", false);
                break;
            }
        }
    }
}

/* Allocate an empty set with room for n keys and n notes. */
static struct jwks *
jwks_alloc(size_t n)
{
    struct jwks *set = calloc(1, sizeof(*set));

    if (set == NULL)
        return NULL;
    atomic_init(&set->refs, 1);
    set->keys = calloc(MAX(n, 1), sizeof(*set->keys));
    set->notes = calloc(MAX(n, 1), sizeof(*set->notes));
    if (set->keys == NULL || set->notes == NULL) {
        jwks_free(set);
        return NULL;
    }
    return set;
}

int
jwks_from_json(const struct json_value *doc, unsigned flags,
               struct jwks **out, struct jose_error *err)
{
    const struct json_value *keys = json_get(doc, "keys");
    size_t index_of[JWKS_MAX_KEYS];
    struct jwks *set;
    int rc;

    *out = NULL;
    jose_fail(err, AW_OK, NULL, "");
    if (!json_is(doc, JSON_OBJECT) || !json_is(keys, JSON_ARRAY))
        return jose_fail(err, AW_INVALID, "jwks.malformed",
                         "not an object with a keys array");
    if (keys->u.arr.n > JWKS_MAX_KEYS)
        return jose_fail(err, AW_TOOBIG, "jwks.too_many_keys",
                         "more keys than a set may hold");
    set = jwks_alloc(keys->u.arr.n);
    if (set == NULL)
        return jose_fail(err, AW_NOMEM, "jwk.no_memory", "key set");
    rc = jwks_import_all(set, keys, flags, index_of, err);
    if (rc != AW_OK) {
        jwks_free(set);
        return rc;
    }
    jwks_drop_mixed(set, index_of);
    jwks_note_duplicates(set, index_of);
    *out = set;
    return AW_OK;
}

int
jwks_parse(const char *buf, size_t len, unsigned flags, struct jwks **out,
           struct jose_error *err)
{
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *doc = NULL;
    struct arena a;
    int rc;

    *out = NULL;
    json_limits_default(&lim);
    lim.max_bytes = JWKS_MAX_BYTES;
    arena_init(&a, JWKS_ARENA_FIRST, JWKS_ARENA_MAX);
    rc = json_parse(buf, len, &lim, &a, &doc, &jerr);
    if (rc == AW_NOMEM)
        rc = jose_fail(err, rc, "jwk.no_memory", "key set document");
    else if (rc != AW_OK)
        rc = jose_fail(err, rc, "jwks.malformed", jerr.reason);
    else
        rc = jwks_from_json(doc, flags, out, err);
    arena_fini(&a);
    return rc;
}

size_t
jwks_find(const struct jwks *set, const struct slice *kid,
          enum jose_alg alg, const struct jwk **out, size_t max)
{
    size_t total = 0;

    for (size_t i = 0; i < set->n; i++) {
        const struct jwk *key = set->keys[i];
        struct slice k = jwk_kid(key);

        if (kid != NULL && (k.ptr == NULL || !slice_eq(k, *kid)))
            continue;
        if (!jwk_fits(key, alg))
            continue;
        if (total < max)
            out[total] = key;
        total++;
    }
    return total;
}

/* True when some key of the set has this kid, whatever its type. */
static bool
jwks_has_kid(const struct jwks *set, struct slice kid)
{
    for (size_t i = 0; i < set->n; i++) {
        struct slice k = jwk_kid(set->keys[i]);

        if (k.ptr != NULL && slice_eq(k, kid))
            return true;
    }
    return false;
}

/* The kid rule of jwks_verify: exactly one key for the kid. */
static int
jwks_verify_kid(const struct jwks *set, const struct jose_token *tok,
                const struct jwk **used, struct jose_error *err)
{
    const struct jwk *key = NULL;
    size_t n = jwks_find(set, &tok->kid, tok->alg, &key, 1);
    int rc;

    if (n == 0 && jwks_has_kid(set, tok->kid))
        return jose_fail(err, AW_INVALID, "auth.key_alg_mismatch",
                         "the key with this kid does not serve this alg");
    if (n == 0)
        return jose_fail(err, AW_INVALID, "auth.unknown_key",
                         "no key with this kid");
    if (n > 1)
        return jose_fail(err, AW_INVALID, "auth.ambiguous_key",
                         "several keys have this kid and fit this alg");
    rc = jose_verify(tok, key, err);
    if (rc == AW_OK && used != NULL)
        *used = key;
    return rc;
}

int
jwks_verify(const struct jwks *set, const struct jose_token *tok,
            const struct jwk **used, struct jose_error *err)
{
    const struct jwk *cand[JWKS_MAX_TRIES];
    size_t n;

    if (used != NULL)
        *used = NULL;
    if (tok->has_kid)
        return jwks_verify_kid(set, tok, used, err);
    n = jwks_find(set, NULL, tok->alg, cand, JWKS_MAX_TRIES);
    if (n == 0)
        return jose_fail(err, AW_INVALID, "auth.unknown_key",
                         "no key serves this alg");
    for (size_t i = 0; i < MIN(n, JWKS_MAX_TRIES); i++) {
        int rc = jose_verify(tok, cand[i], err);

        /* Only a wrong signature moves on to the next key; an error of
           the library or of memory fails the token at once. */
        if (rc == AW_OK && used != NULL)
            *used = cand[i];
        if (rc == AW_OK || rc != AW_INVALID)
            return rc;
    }
    return jose_fail(err, AW_INVALID, "auth.bad_signature",
                     "no candidate key verifies the signature");
}
