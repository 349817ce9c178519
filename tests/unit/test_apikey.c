/*
 * Unit tests for API keys: the shape of a key, the peppered HMAC store,
 * the validity period and revocation, the errors a malformed keys file
 * gets (with its name and line), and `apiward key new`, whose printed
 * key must verify against the store line it prints beside it.
 *
 * The expected HMACs are computed here with OpenSSL's one-shot HMAC, not
 * through the code under test. Files live in a fresh temporary folder.
 * Constant time cannot be measured in a unit test; what is checked is
 * that an unknown id and a wrong secret are refused identically.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

#define PEPPER "test-pepper-with-32-bytes-000000"
#define SECRET "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
#define OTHER "_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-A"
#define KEY "aw_k1a2b3c4_" SECRET
#define T2030 1893456000        /* 2030-01-01T00:00:00Z */
#define T2031 1924992000        /* 2031-01-01T00:00:00Z */

static char dir[64];
static struct arena verify_arena;   /* holds the last principal's strings */

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Lowercase hex of HMAC-SHA-256(pepper, secret) into out[65]. */
static void
mac_hex(const char *pepper, const char *secret, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    assert_non_null(HMAC(EVP_sha256(), pepper, (int)strlen(pepper),
                         (const unsigned char *)secret, strlen(secret), mac,
                         &n));
    assert_int_equal(n, 32);
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* A store from text with PEPPER; fails the test when refused. */
static struct apikey_store *
store_of(const char *text, char **revoked, size_t nrevoked)
{
    struct apikey_store *s = NULL;
    char err[256] = "";
    int rc = apikey_store_parse("t.keys", text, strlen(text),
                                (const unsigned char *)PEPPER,
                                strlen(PEPPER), revoked, nrevoked, &s, err,
                                sizeof(err));

    if (rc != AW_OK)
        fail_msg("store refused (%d): %s", rc, err);
    assert_non_null(s);
    return s;
}

/* A line for id and consumer holding the HMAC of SECRET. */
static void
line_for(char *out, size_t cap, const char *id, const char *consumer,
         const char *nb, const char *exp)
{
    char hex[65];

    mac_hex(PEPPER, SECRET, hex);
    snprintf(out, cap, "%s %s %s %s %s\n", id, consumer, hex, nb, exp);
}

/* Verify key at now; returns the reason, or NULL when accepted. */
static const char *
verify(const struct apikey_store *s, const char *key, int64_t now,
       struct principal *p, struct auth_error *err)
{
    struct arena *a = &verify_arena;
    struct auth_error e;
    struct principal q;
    int rc;

    arena_fini(a);
    arena_init(a, 1024, 64 * 1024);
    rc = apikey_verify(s, (struct slice){key, strlen(key)}, now, a,
                       p != NULL ? p : &q, err != NULL ? err : &e);
    if (rc == AW_OK)
        return NULL;
    assert_int_equal(rc, AW_INVALID);
    assert_int_equal((err != NULL ? err : &e)->status, 401);
    assert_null((err != NULL ? err : &e)->bearer_error);
    return (err != NULL ? err : &e)->reason;
}

static void
want_reason(const struct apikey_store *s, const char *key, int64_t now,
            const char *reason)
{
    const char *got = verify(s, key, now, NULL, NULL);

    if (reason == NULL ? got != NULL
                       : got == NULL || strcmp(got, reason) != 0)
        fail_msg("%s at %lld: got %s, want %s", key, (long long)now,
                 got ? got : "accepted", reason ? reason : "accepted");
}

/* Write data to dir/name with mode; returns the path (static). */
static const char *
write_file(const char *name, const char *data, mode_t mode)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, strlen(data), f), strlen(data));
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static int
setup(void **state)
{
    (void)state;
    arena_init(&verify_arena, 1024, 64 * 1024);
    snprintf(dir, sizeof(dir), "/tmp/test_apikey.XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    static const char *const names[] = {
        "pepper", "short", "keys", "line", "out", "nl-pepper", "open",
    };
    char path[128];

    (void)state;
    arena_fini(&verify_arena);
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* Key shape                                                           */
/* ------------------------------------------------------------------ */

static void
test_key_shape(void **state)
{
    static const char *const bad[] = {
        "",
        "aw_",
        "aw_k1a2b3c4",
        "aw_k1a2b3c4_",
        "AW_k1a2b3c4_" SECRET,
        "aw-k1a2b3c4_" SECRET,
        "aw_k1a2b3c4-" SECRET,
        "xaw_k1a2b3c4_" SECRET,
        "aw_k1a2b3c_" SECRET,                         /* id of 7 */
        "aw_k1a2b3c4k1a2b3c4k_" SECRET,               /* id of 17 */
        "aw_K1a2b3c4_" SECRET,                        /* upper case id */
        "aw_k1a2.3c4_" SECRET,
        "aw_k1a2b3c4_" SECRET "A",                    /* 44 characters */
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+",
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh/",
        /* The last character's two low bits must be zero: 9 is 61. */
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHhB",
        "aw_k1a2b3c4_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 ",
        " aw_k1a2b3c4_" SECRET,
        "Bearer aw_k1a2b3c4_" SECRET,
    };
    char line[256];
    struct apikey_store *s;
    struct auth_error err;

    (void)state;
    line_for(line, sizeof(line), "k1a2b3c4", "orders", "-", "-");
    s = store_of(line, NULL, 0);
    want_reason(s, KEY, T2030, NULL);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        const char *why = verify(s, bad[i], T2030, NULL, &err);

        if (why == NULL || strcmp(why, "auth.bad_api_key") != 0 ||
            strstr(err.detail, "not an API key") == NULL)
            fail_msg("%s: %s (%s)", bad[i], why ? why : "accepted",
                     why ? err.detail : "");
    }
    /* A NUL inside the key is a malformed key, not its end. */
    {
        char nul[] = KEY;
        struct arena a;
        struct principal p;

        nul[20] = '\0';
        arena_init(&a, 1024, 4096);
        assert_int_equal(apikey_verify(s, (struct slice){nul, sizeof(nul) - 1},
                                       T2030, &a, &p, &err),
                         AW_INVALID);
        assert_string_equal(err.reason, "auth.bad_api_key");
        arena_fini(&a);
    }
    /* A malformed key is refused even with no store at all. */
    want_reason(NULL, "aw_x", T2030, "auth.bad_api_key");
    want_reason(NULL, KEY, T2030, "auth.bad_api_key");
    apikey_store_free(s);
}

/* Ids of 8 and 16 characters, secrets with '-' and '_' in them. */
static void
test_key_edges(void **state)
{
    char hex[65], text[512];
    struct apikey_store *s;

    (void)state;
    mac_hex(PEPPER, OTHER, hex);
    snprintf(text, sizeof(text),
             "abcdefgh a %s - -\n0123456789abcdef b %s - -\n", hex, hex);
    s = store_of(text, NULL, 0);
    assert_int_equal(apikey_store_count(s), 2);
    want_reason(s, "aw_abcdefgh_" OTHER, T2030, NULL);
    want_reason(s, "aw_0123456789abcdef_" OTHER, T2030, NULL);
    want_reason(s, "aw_abcdefgh_" SECRET, T2030, "auth.bad_api_key");
    apikey_store_free(s);
}

/* ------------------------------------------------------------------ */
/* The store                                                           */
/* ------------------------------------------------------------------ */

static void
test_principal(void **state)
{
    unsigned char md[32];
    unsigned int n = 0;
    char line[256], hex[13];
    struct apikey_store *s;
    struct principal p;

    (void)state;
    line_for(line, sizeof(line), "k1a2b3c4", "orders.app_v-2", "-",
             "2031-01-01T00:00:00Z");
    s = store_of(line, NULL, 0);
    assert_null(verify(s, KEY, T2030, &p, NULL));
    assert_int_equal(p.kind, AUTH_API_KEY);
    assert_int_equal(p.consumer.len, 14);
    assert_memory_equal(p.consumer.ptr, "orders.app_v-2", 14);
    assert_true(slice_eq(p.subject, p.consumer));
    assert_int_equal(p.issuer.len, 0);
    assert_int_equal(p.key_id.len, 8);
    assert_memory_equal(p.key_id.ptr, "k1a2b3c4", 8);
    assert_int_equal(p.expires, T2031);
    assert_null(p.claims);
    assert_int_equal(p.nscopes, 0);
    assert_int_equal(EVP_Digest(KEY, strlen(KEY), md, &n, EVP_sha256(),
                                NULL),
                     1);
    for (int i = 0; i < 6; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(p.credential_id, hex);
    apikey_store_free(s);
}

/*
 * The HMAC is keyed with the pepper: the same line under another pepper
 * verifies nothing. An unknown id and a wrong secret get the very same
 * refusal (reason and detail).
 */
static void
test_pepper_and_secret(void **state)
{
    static const char pepper2[] = "another-pepper-of-32-bytes-00000";
    char line[256];
    struct apikey_store *s = NULL, *s2 = NULL;
    struct auth_error e1, e2;
    char err[256];

    (void)state;
    line_for(line, sizeof(line), "k1a2b3c4", "orders", "-", "-");
    s = store_of(line, NULL, 0);
    assert_int_equal(apikey_store_parse("t.keys", line, strlen(line),
                                        (const unsigned char *)pepper2,
                                        strlen(pepper2), NULL, 0, &s2, err,
                                        sizeof(err)),
                     AW_OK);
    want_reason(s, KEY, T2030, NULL);
    want_reason(s2, KEY, T2030, "auth.bad_api_key");

    assert_string_equal(verify(s, "aw_k1a2b3c4_" OTHER, T2030, NULL, &e1),
                        "auth.bad_api_key");
    assert_string_equal(verify(s, "aw_zzzzzzzz_" SECRET, T2030, NULL, &e2),
                        "auth.bad_api_key");
    assert_ptr_equal(e1.detail, e2.detail);
    assert_int_equal(e1.status, e2.status);
    assert_null(strstr(e1.detail, "not an API key"));
    apikey_store_free(s2);
    apikey_store_free(s);

    /* The pepper must be 32 to 4096 bytes. */
    assert_int_equal(apikey_store_parse("t.keys", "", 0,
                                        (const unsigned char *)PEPPER, 31,
                                        NULL, 0, &s, err, sizeof(err)),
                     AW_INVALID);
    assert_null(s);
    assert_non_null(strstr(err, "pepper"));
}

/* Valid from not_before included to expires excluded. */
static void
test_validity(void **state)
{
    char line[256];
    struct apikey_store *s;

    (void)state;
    line_for(line, sizeof(line), "k1a2b3c4", "orders",
             "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z");
    s = store_of(line, NULL, 0);
    want_reason(s, KEY, T2030 - 1, "auth.key_not_yet_valid");
    want_reason(s, KEY, T2030, NULL);
    want_reason(s, KEY, T2031 - 1, NULL);
    want_reason(s, KEY, T2031, "auth.key_expired");
    want_reason(s, KEY, INT64_MAX, "auth.key_expired");
    want_reason(s, KEY, INT64_MIN, "auth.key_not_yet_valid");
    /* Period rules are told only to a caller who proved the secret. */
    want_reason(s, "aw_k1a2b3c4_" OTHER, T2031, "auth.bad_api_key");
    want_reason(s, "aw_k1a2b3c4_" OTHER, 0, "auth.bad_api_key");
    apikey_store_free(s);

    /* Unbounded sides; a leap day; the last second of a year. */
    line_for(line, sizeof(line), "k1a2b3c4", "orders", "-",
             "2028-02-29T23:59:59Z");
    s = store_of(line, NULL, 0);
    want_reason(s, KEY, INT64_MIN, NULL);
    want_reason(s, KEY, 1835481598, NULL);
    want_reason(s, KEY, 1835481599, "auth.key_expired");
    apikey_store_free(s);
    line_for(line, sizeof(line), "k1a2b3c4", "orders",
             "1970-01-01T00:00:00Z", "-");
    s = store_of(line, NULL, 0);
    want_reason(s, KEY, -1, "auth.key_not_yet_valid");
    want_reason(s, KEY, 0, NULL);
    want_reason(s, KEY, INT64_MAX, NULL);
    apikey_store_free(s);
}

static void
test_revoked(void **state)
{
    char *revoked[] = {"k1a2b3c4", "notinfile"};
    char *bad_id[] = {"k1a2b3c4", "Short"};
    char line[256], err[256];
    struct apikey_store *s;

    (void)state;
    line_for(line, sizeof(line), "k1a2b3c4", "orders", "-",
             "2001-01-01T00:00:00Z");
    s = store_of(line, revoked, ARRAY_LEN(revoked));
    /* Revocation comes before the period, and only with the secret. */
    want_reason(s, KEY, T2030, "auth.key_revoked");
    want_reason(s, "aw_k1a2b3c4_" OTHER, T2030, "auth.bad_api_key");
    want_reason(s, "aw_notinfile_" SECRET, T2030, "auth.bad_api_key");
    assert_int_equal(apikey_store_count(s), 1);
    apikey_store_free(s);

    assert_int_equal(apikey_store_parse("t.keys", line, strlen(line),
                                        (const unsigned char *)PEPPER,
                                        strlen(PEPPER), bad_id, 2, &s, err,
                                        sizeof(err)),
                     AW_INVALID);
    assert_null(s);
    assert_non_null(strstr(err, "revoked key id #2"));
}

/* ------------------------------------------------------------------ */
/* Malformed keys files                                                */
/* ------------------------------------------------------------------ */

#define H64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

struct bad_file {
    const char *text;
    const char *error;      /* the whole message */
};

static const struct bad_file bad_files[] = {
    {"k1a2b3c4 orders " H64 " -\n",
     "t.keys:1: expected 5 fields: id consumer hmac not_before expires"},
    {"# c\n\nk1a2b3c4 orders " H64 " - - x\n",
     "t.keys:3: expected 5 fields: id consumer hmac not_before expires"},
    {"k1a2b3c4 orders " H64 " - -\r\n",
     "t.keys:1: carriage return (the file must have LF line ends)"},
    {"k1a2b3c4 \xc3\xa9 " H64 " - -\n",
     "t.keys:1: control byte or non-ASCII byte"},
    {"k1a2b3c4 orders " H64 " - -\x0b\n",
     "t.keys:1: control byte or non-ASCII byte"},
    {"k1a2b3 orders " H64 " - -\n",
     "t.keys:1: key id must be 8 to 16 characters of a-z 0-9"},
    {"K1A2B3C4 orders " H64 " - -\n",
     "t.keys:1: key id must be 8 to 16 characters of a-z 0-9"},
    {"aw_k1a2b3c4_" SECRET " orders " H64 " - -\n",
     "t.keys:1: a whole API key; the file takes its id and HMAC only "
     "(treat that key as leaked and replace it)"},
    {"k1a2b3c4 a/b " H64 " - -\n",
     "t.keys:1: consumer must be 1 to 64 characters of A-Z a-z 0-9 _ . -"},
    {"k1a2b3c4 "
     "a1234567890123456789012345678901234567890123456789012345678901234 " H64
     " - -\n",
     "t.keys:1: consumer must be 1 to 64 characters of A-Z a-z 0-9 _ . -"},
    {"k1a2b3c4 orders " H64 "0 - -\n",
     "t.keys:1: HMAC must be 64 lowercase hex digits"},
    {"k1a2b3c4 orders "
     "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF - -\n",
     "t.keys:1: HMAC must be 64 lowercase hex digits"},
    {"k1a2b3c4 orders " H64 " 2030-02-29T00:00:00Z -\n",
     "t.keys:1: not_before must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " 2030-01-01 -\n",
     "t.keys:1: not_before must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " 2030-01-01t00:00:00z -\n",
     "t.keys:1: not_before must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " 1969-12-31T23:59:59Z -\n",
     "t.keys:1: not_before must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " - 2030-12-31T23:59:60Z\n",
     "t.keys:1: expires must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " - 2030-13-01T00:00:00Z\n",
     "t.keys:1: expires must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " - 2030-01-01T24:00:00Z\n",
     "t.keys:1: expires must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " - 2030-01-01T00:00:00+00:00\n",
     "t.keys:1: expires must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " - --\n",
     "t.keys:1: expires must be - or a time like 2026-12-31T00:00:00Z"},
    {"k1a2b3c4 orders " H64 " 2030-01-01T00:00:00Z 2030-01-01T00:00:00Z\n",
     "t.keys:1: not_before must be earlier than expires"},
    {"k1a2b3c4 a " H64 " - -\nabcdefgh b " H64 " - -\nk1a2b3c4 c " H64
     " - -\n",
     "t.keys:3: duplicate key id (first on line 1)"},
};

static void
test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_files); i++) {
        const struct bad_file *b = &bad_files[i];
        struct apikey_store *s = (struct apikey_store *)&s;
        char err[256] = "";
        int rc = apikey_store_parse("t.keys", b->text, strlen(b->text),
                                    (const unsigned char *)PEPPER,
                                    strlen(PEPPER), NULL, 0, &s, err,
                                    sizeof(err));

        if (rc != AW_INVALID || s != NULL || strcmp(err, b->error) != 0)
            fail_msg("case %zu: rc %d, \"%s\", want \"%s\"", i, rc, err,
                     b->error);
    }
}

/* Comments, blank lines, tabs, a last line without '\n', long lines. */
static void
test_good_files(void **state)
{
    char text[1024], longline[600];
    struct apikey_store *s;
    char err[256];

    (void)state;
    snprintf(text, sizeof(text),
             "# keys\n\n   \n\t# indented comment\n"
             "k1a2b3c4\t orders " H64 "\t-\t-\t\n"
             "  abcdefgh b " H64 " - 2090-01-01T00:00:00Z");
    s = store_of(text, NULL, 0);
    assert_int_equal(apikey_store_count(s), 2);
    apikey_store_free(s);
    s = store_of("", NULL, 0);
    assert_int_equal(apikey_store_count(s), 0);
    want_reason(s, KEY, T2030, "auth.bad_api_key");
    apikey_store_free(s);

    /* 512 bytes is the longest line, comments included. */
    memset(longline, ' ', sizeof(longline));
    longline[0] = '#';
    longline[512] = '\n';
    longline[513] = '\0';
    s = store_of(longline, NULL, 0);
    apikey_store_free(s);
    longline[512] = ' ';
    longline[513] = '\n';
    longline[514] = '\0';
    assert_int_equal(apikey_store_parse("t.keys", longline,
                                        strlen(longline),
                                        (const unsigned char *)PEPPER,
                                        strlen(PEPPER), NULL, 0, &s, err,
                                        sizeof(err)),
                     AW_INVALID);
    assert_string_equal(err, "t.keys:1: line longer than 512 bytes");
}

/* apikey_store_load: the same through files, and the files' errors. */
static void
test_load_files(void **state)
{
    char line[256], keys[128], pepper[128], err[256], *msg;
    struct apikey_store *s = NULL;

    (void)state;
    line_for(line, sizeof(line), "k1a2b3c4", "orders", "-", "-");
    snprintf(keys, sizeof(keys), "%s", write_file("keys", line, 0644));
    snprintf(pepper, sizeof(pepper), "%s",
             write_file("pepper", PEPPER "\n", 0600));
    assert_int_equal(apikey_store_load(keys, pepper, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_OK);
    want_reason(s, KEY, T2030, NULL);
    apikey_store_free(s);

    /* A pepper open to others is used, with a warning. */
    write_file("open", PEPPER, 0644);
    snprintf(pepper, sizeof(pepper), "%s/open", dir);
    assert_int_equal(apikey_store_load(keys, pepper, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_OK);
    apikey_store_free(s);

    /* Only one trailing newline is removed: two make another pepper. */
    write_file("nl-pepper", PEPPER "\n\n", 0600);
    snprintf(pepper, sizeof(pepper), "%s/nl-pepper", dir);
    assert_int_equal(apikey_store_load(keys, pepper, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_OK);
    want_reason(s, KEY, T2030, "auth.bad_api_key");
    apikey_store_free(s);

    write_file("short", "31 bytes of pepper, one too few", 0600);
    snprintf(pepper, sizeof(pepper), "%s/short", dir);
    assert_int_equal(apikey_store_load(keys, pepper, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_INVALID);
    assert_null(s);
    assert_non_null(strstr(err, "the pepper must be 32 to 4096 bytes"));
    assert_null(strstr(err, "31 bytes of pepper"));

    snprintf(pepper, sizeof(pepper), "%s/pepper", dir);
    assert_int_equal(apikey_store_load("/nonexistent/keys", pepper, NULL, 0,
                                       &s, err, sizeof(err)),
                     AW_IO);
    assert_non_null(strstr(err, "/nonexistent/keys: cannot open"));
    assert_int_equal(apikey_store_load(keys, dir, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_IO);
    assert_non_null(strstr(err, "not a regular file"));

    /* A bad line is reported as path:line. */
    write_file("keys", "# one\nk1a2b3c4 orders nothex - -\n", 0644);
    assert_int_equal(apikey_store_load(keys, pepper, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_INVALID);
    msg = strstr(err, "/keys:2: HMAC must be");
    assert_non_null(msg);
    assert_int_equal(strncmp(err, dir, strlen(dir)), 0);
}

/* ------------------------------------------------------------------ */
/* apiward key new                                                     */
/* ------------------------------------------------------------------ */

/* Run apikey_cmd with stdout in a file; out receives what it printed. */
static int
run_cmd(char **argv, int argc, char *out, size_t cap)
{
    char path[128];
    int fd, saved, status;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/out", dir);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(1);
    assert_true(saved >= 0);
    assert_true(dup2(fd, 1) >= 0);
    status = apikey_cmd(argc, argv);
    fflush(stdout);
    assert_true(dup2(saved, 1) >= 0);
    close(saved);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    n = read(fd, out, cap - 1);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    return status;
}

/* The line after the first line that starts with prefix, into out. */
static void
line_after(const char *text, const char *prefix, char *out, size_t cap)
{
    const char *p = strstr(text, prefix);
    const char *start, *end;

    assert_non_null(p);
    start = strchr(p, '\n');
    assert_non_null(start);
    start++;
    end = strchr(start, '\n');
    assert_non_null(end);
    assert_true((size_t)(end - start) < cap);
    memcpy(out, start, (size_t)(end - start));
    out[end - start] = '\0';
}

/* `key new` prints a key and a line; the line verifies the key. */
static void
new_key_round_trip(char **argv, int argc, const char *want_tail,
                   int64_t now_ok)
{
    char out[1024], key[128], line[256], text[260], keys[128];
    char pepper[128], err[256];
    struct apikey_store *s = NULL;
    struct principal p;

    assert_int_equal(run_cmd(argv, argc, out, sizeof(out)), 0);
    line_after(out, "API key for ", key, sizeof(key));
    line_after(out, "Line to append", line, sizeof(line));
    assert_int_equal(strncmp(key, "aw_", 3), 0);
    assert_int_equal(strlen(key), 3 + APIKEY_ID_NEW + 1 + 43);
    /* The line starts with the key's id and never holds the secret. */
    assert_int_equal(strncmp(line, key + 3, APIKEY_ID_NEW), 0);
    assert_null(strstr(line, key + 3 + APIKEY_ID_NEW + 1));
    assert_non_null(strstr(line, want_tail));
    snprintf(text, sizeof(text), "%s\n", line);
    snprintf(keys, sizeof(keys), "%s", write_file("keys", text, 0644));
    snprintf(pepper, sizeof(pepper), "%s/pepper", dir);
    assert_int_equal(apikey_store_load(keys, pepper, NULL, 0, &s, err,
                                       sizeof(err)),
                     AW_OK);
    assert_null(verify(s, key, now_ok, &p, NULL));
    assert_int_equal(p.consumer.len, strlen("billing-v2"));
    apikey_store_free(s);
}

static void
test_key_new(void **state)
{
    char pepper[128];
    char *plain[] = {"key", "new", "--consumer", "billing-v2",
                     "--pepper-file", pepper};
    char *dated[] = {"key", "new", "--consumer=billing-v2",
                     "--not-before", "2030-01-01", "--expires",
                     "2090-06-30T12:00:00Z", "--pepper-file", pepper};
    char out[1024], first[128];

    (void)state;
    snprintf(pepper, sizeof(pepper), "%s",
             write_file("pepper", PEPPER "\n", 0600));
    new_key_round_trip(plain, ARRAY_LEN(plain), " billing-v2 ", T2030);
    new_key_round_trip(plain, ARRAY_LEN(plain), " - -", T2030);
    new_key_round_trip(dated, ARRAY_LEN(dated),
                       " 2030-01-01T00:00:00Z 2090-06-30T12:00:00Z",
                       T2030);

    /* Two runs make two different keys. */
    assert_int_equal(run_cmd(plain, ARRAY_LEN(plain), out, sizeof(out)), 0);
    line_after(out, "API key for ", first, sizeof(first));
    assert_int_equal(run_cmd(plain, ARRAY_LEN(plain), out, sizeof(out)), 0);
    assert_null(strstr(out, first));
}

static void
test_key_new_errors(void **state)
{
    char pepper[128], shortp[128], out[1024];
    char *no_args[] = {"key"};
    char *other[] = {"key", "old"};
    char *help[] = {"key", "--help"};
    char *no_pepper[] = {"key", "new", "--consumer", "a"};
    char *bad_consumer[] = {"key", "new", "--consumer", "a b",
                            "--pepper-file", pepper};
    char *bad_date[] = {"key", "new", "--consumer", "a", "--expires",
                        "2090-02-30", "--pepper-file", pepper};
    char *past[] = {"key", "new", "--consumer", "a", "--expires",
                    "2001-01-01", "--pepper-file", pepper};
    char *order[] = {"key", "new", "--consumer", "a", "--not-before",
                     "2091-01-01", "--expires", "2090-01-01",
                     "--pepper-file", pepper};
    char *unknown[] = {"key", "new", "--consumer", "a", "--colour", "red",
                       "--pepper-file", pepper};
    char *dangling[] = {"key", "new", "--pepper-file", pepper,
                        "--consumer"};
    char *short_pepper[] = {"key", "new", "--consumer", "a",
                            "--pepper-file", shortp};
    char *missing[] = {"key", "new", "--consumer", "a", "--pepper-file",
                       "/nonexistent/pepper"};

    (void)state;
    snprintf(pepper, sizeof(pepper), "%s",
             write_file("pepper", PEPPER, 0600));
    snprintf(shortp, sizeof(shortp), "%s",
             write_file("short", "too short", 0600));
    assert_int_equal(run_cmd(help, 2, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "usage: apiward key new"));
    assert_int_equal(run_cmd(no_args, 1, out, sizeof(out)), 2);
    assert_string_equal(out, "");
    assert_int_equal(run_cmd(other, 2, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(no_pepper, 4, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(bad_consumer, 6, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(bad_date, 8, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(past, 8, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(order, 10, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(unknown, 8, out, sizeof(out)), 2);
    assert_int_equal(run_cmd(dangling, 5, out, sizeof(out)), 2);
    assert_string_equal(out, "");
    assert_int_equal(run_cmd(short_pepper, 6, out, sizeof(out)), 1);
    assert_string_equal(out, "");
    assert_int_equal(run_cmd(missing, 6, out, sizeof(out)), 1);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_shape),
        cmocka_unit_test(test_key_edges),
        cmocka_unit_test(test_principal),
        cmocka_unit_test(test_pepper_and_secret),
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_revoked),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_load_files),
        cmocka_unit_test(test_key_new),
        cmocka_unit_test(test_key_new_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
