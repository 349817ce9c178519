/*
 * libFuzzer driver for API keys: the keys-file parser and the check of
 * a presented key.
 *
 * The whole input is a keys file, read by apikey_store_parse with a
 * fixed pepper and two revoked ids. Whatever the bytes, it either builds
 * a store of no more keys than the file has lines, or refuses the file
 * with a message that names it (and the line, which must exist).
 *
 * The first line of the input, without one leading '#' (so that it can
 * be a comment of the file at the same time), is also presented as a
 * key: to the store just built, and to a fixed store whose three ids
 * share one known secret (a valid key, an expired one and a revoked
 * one). Against the fixed store, only those three exact keys may get
 * anything but auth.bad_api_key, each its own outcome: with one
 * spelling per secret, no other string can verify. Against any store,
 * an accepted key yields a principal whose id is the key's, and a
 * refusal carries status 401 and a reason of the API KEYS section.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 32 bytes, the shortest pepper allowed. */
#define FUZZ_PEPPER "fuzz-pepper-0123456789abcdef0123"
/* The known secret: base64url of the bytes 0 to 31. */
#define FUZZ_SECRET "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define FUZZ_NOW 1900000000         /* 2030-03-17 */

static const char *const fuzz_valid = "aw_k1a2b3c4_" FUZZ_SECRET;
static const char *const fuzz_expired = "aw_exp1a2b3_" FUZZ_SECRET;
static const char *const fuzz_revoked = "aw_rev1a2b3_" FUZZ_SECRET;
static char *fuzz_revoked_ids[] = {"rev1a2b3", "fuzzkey01"};

/* The fixed store, built on the first call and kept for the run. */
static struct apikey_store *
fuzz_fixed_store(void)
{
    static struct apikey_store *store;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[65], text[512], err[256];

    if (store != NULL)
        return store;
    if (HMAC(EVP_sha256(), FUZZ_PEPPER, (int)strlen(FUZZ_PEPPER),
             (const unsigned char *)FUZZ_SECRET, strlen(FUZZ_SECRET), mac,
             &n) == NULL || n != 32)
        abort();
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    snprintf(text, sizeof(text),
             "k1a2b3c4 orders-app %s - -\n"
             "exp1a2b3 old-app %s - 2001-01-01T00:00:00Z\n"
             "rev1a2b3 gone-app %s - -\n",
             hex, hex, hex);
    if (apikey_store_parse("fixed.keys", text, strlen(text),
                           (const unsigned char *)FUZZ_PEPPER,
                           strlen(FUZZ_PEPPER), fuzz_revoked_ids,
                           ARRAY_LEN(fuzz_revoked_ids), &store, err,
                           sizeof(err)) != AW_OK ||
        apikey_store_count(store) != 3)
        abort();
    return store;
}

static bool
fuzz_is(struct slice key, const char *want)
{
    return key.len == strlen(want) && memcmp(key.ptr, want, key.len) == 0;
}

/* What an accepted key must have produced. */
static void
fuzz_check_principal(struct slice key, const struct principal *p,
                     int64_t now)
{
    size_t plen = strlen(APIKEY_PREFIX "_");

    if (p->kind != AUTH_API_KEY || p->key_id.len < APIKEY_ID_MIN ||
        p->key_id.len > APIKEY_ID_MAX || key.len <= plen + p->key_id.len ||
        memcmp(key.ptr + plen, p->key_id.ptr, p->key_id.len) != 0 ||
        key.ptr[plen + p->key_id.len] != '_')
        abort();
    if (p->consumer.len == 0 || p->consumer.len > APIKEY_CONSUMER_MAX ||
        !slice_eq(p->consumer, p->subject) || p->issuer.len != 0 ||
        (p->expires != 0 && p->expires <= now))
        abort();
    if (strlen(p->credential_id) != 12 ||
        strspn(p->credential_id, "0123456789abcdef") != 12)
        abort();
}

/* Verify key at now against s; returns the reason, NULL when accepted. */
static const char *
fuzz_verify(const struct apikey_store *s, struct slice key, int64_t now)
{
    static const char *const reasons[] = {
        "auth.bad_api_key", "auth.key_revoked", "auth.key_expired",
        "auth.key_not_yet_valid",
    };
    struct auth_error err = {0};
    struct principal p;
    struct arena a;
    int rc;

    arena_init(&a, 1024, 64 * 1024);
    rc = apikey_verify(s, key, now, &a, &p, &err);
    if (rc == AW_OK)
        fuzz_check_principal(key, &p, now);
    arena_fini(&a);
    if (rc == AW_OK)
        return NULL;
    if (rc != AW_INVALID || err.status != 401 || err.detail == NULL)
        abort();
    for (size_t i = 0; i < ARRAY_LEN(reasons); i++)
        if (err.reason != NULL && strcmp(err.reason, reasons[i]) == 0)
            return err.reason;
    abort();
}

/* Only the three known keys get past auth.bad_api_key, each its way. */
static void
fuzz_against_fixed(struct slice key)
{
    const char *why = fuzz_verify(fuzz_fixed_store(), key, FUZZ_NOW);
    const char *want = "auth.bad_api_key";

    if (fuzz_is(key, fuzz_revoked))
        want = "auth.key_revoked";
    else if (fuzz_is(key, fuzz_expired))
        want = "auth.key_expired";
    else if (fuzz_is(key, fuzz_valid))
        want = NULL;
    if (want == NULL ? why != NULL : why == NULL || strcmp(why, want) != 0)
        abort();
}

/* Lines of text, counting a last one without '\n'. */
static size_t
fuzz_lines(const char *text, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    return n + (len > 0 && text[len - 1] != '\n');
}

/* A refusal names the file, and the line it gives exists. */
static void
fuzz_check_refusal(int rc, const char *err, size_t lines)
{
    const char *name = "fuzz.keys:";
    unsigned long line;
    char *end;

    if (rc != AW_INVALID && rc != AW_TOOBIG && rc != AW_NOMEM)
        abort();
    if (strncmp(err, name, strlen(name)) != 0)
        abort();
    line = strtoul(err + strlen(name), &end, 10);
    if (end == err + strlen(name) || *end != ':' || line == 0 ||
        line > lines)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    struct slice key = {text, nl != NULL ? (size_t)(nl - text) : size};
    struct apikey_store *s = NULL;
    char err[512] = "";
    int rc;

    rc = apikey_store_parse("fuzz.keys", text, size,
                            (const unsigned char *)FUZZ_PEPPER,
                            strlen(FUZZ_PEPPER), fuzz_revoked_ids,
                            ARRAY_LEN(fuzz_revoked_ids), &s, err,
                            sizeof(err));
    if (rc != AW_OK) {
        if (s != NULL)
            abort();
        fuzz_check_refusal(rc, err, fuzz_lines(text, size));
    } else if (apikey_store_count(s) > fuzz_lines(text, size)) {
        abort();
    }
    if (key.len > 0 && key.ptr[0] == '#') {
        key.ptr++;
        key.len--;
    }
    fuzz_against_fixed(key);
    if (s != NULL) {
        fuzz_verify(s, key, FUZZ_NOW);
        fuzz_verify(s, key, 0);
        fuzz_verify(s, key, INT64_MAX);
    }
    apikey_store_free(s);
    return 0;
}
