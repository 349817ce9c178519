/*
 * Unit tests of the sensitive-data detectors (src/inspect/sensitive.c):
 * for each kind, values that are findings and lookalikes that are not,
 * where a finding lies, masking, and long inputs of the shapes that
 * would make a careless validator quadratic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inspect/inspect.h"

#define FINDS_MAX 16

static struct inspect_sensitive_db *db;
static struct inspect_sensitive_scratch *scratch;

/* What one scan found. */
struct found {
    struct inspect_sensitive_find f[FINDS_MAX];
    size_t n;
};

static int
on_find(void *ctx, const struct inspect_sensitive_find *f)
{
    struct found *fd = ctx;

    if (fd->n < FINDS_MAX)
        fd->f[fd->n] = *f;
    fd->n++;
    return 0;
}

static struct found
scan_kinds(const char *text, size_t len, unsigned kinds)
{
    struct found fd = {0};
    int rc = inspect_sensitive_scan(db, scratch, (struct slice){text, len},
                                    kinds, on_find, &fd);

    assert_int_equal(rc, AW_OK);
    return fd;
}

static struct found
scan(const char *text)
{
    return scan_kinds(text, strlen(text), INSPECT_SENS_ALL);
}

/* text holds exactly one finding, of kind, spelled want in it. */
static void
expect_one(const char *text, unsigned kind, const char *want)
{
    struct found fd = scan(text);

    if (fd.n != 1 || fd.f[0].kind != kind)
        fail_msg("%s: %zu findings (want one %s)", text, fd.n,
                 inspect_sensitive_name(kind));
    assert_int_equal(fd.f[0].length, strlen(want));
    assert_memory_equal(text + fd.f[0].offset, want, strlen(want));
}

/* text holds no finding of kind. */
static void
expect_none(const char *text, unsigned kind)
{
    struct found fd = scan_kinds(text, strlen(text), kind);

    if (fd.n != 0)
        fail_msg("%s: found %s at %zu+%zu", text,
                 inspect_sensitive_name(fd.f[0].kind), fd.f[0].offset,
                 fd.f[0].length);
}

/* The value alone, in a JSON string, and in prose: one finding each. */
static void
expect_found(const char *value, unsigned kind)
{
    char buf[4096];

    expect_one(value, kind, value);
    snprintf(buf, sizeof(buf), "{\"v\":\"%s\",\"n\":1}", value);
    expect_one(buf, kind, value);
    snprintf(buf, sizeof(buf), "it is %s, as said", value);
    expect_one(buf, kind, value);
}

static int
setup(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(inspect_sensitive_db_compile(INSPECT_SENS_ALL, &db, err,
                                                  sizeof(err)), AW_OK);
    assert_int_equal(inspect_sensitive_scratch_reserve(&scratch, db), AW_OK);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    inspect_sensitive_scratch_free(scratch);
    inspect_sensitive_db_free(db);
    return 0;
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(inspect_sensitive_name(INSPECT_SENS_CARD), "card");
    assert_string_equal(inspect_sensitive_name(INSPECT_SENS_API_KEY),
                        "api_key");
    assert_null(inspect_sensitive_name(3));
    assert_int_equal(inspect_sensitive_parse(SLICE_LIT("national_id")),
                     INSPECT_SENS_NATIONAL_ID);
    assert_int_equal(inspect_sensitive_parse(SLICE_LIT("cards")), 0);
    assert_int_equal(inspect_sensitive_parse(SLICE_LIT("")), 0);
}

static void
test_cards(void **state)
{
    static const char *const cards[] = {
        "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111",
        "5555555555554444", "2223003122003222", "378282246310005",
        "3782 822463 10005", "6011111111111117", "3530111333300000",
        "30569309025904", "4222222222222", "6200000000000005",
        "4000056655665556", "6011 0009 9013 9424",
    };
    struct found fd;

    (void)state;
    for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++)
        expect_found(cards[i], INSPECT_SENS_CARD);
    fd = scan("{\"pan\":4111111111111111}");
    assert_int_equal(fd.n, 1);
    assert_string_equal(fd.f[0].rule, "visa");
    fd = scan("cards 4111111111111111 5555555555554444 12");
    assert_int_equal(fd.n, 2);
    assert_int_equal(fd.f[1].offset, 23);
    expect_one("call 42 378282246310005 now", INSPECT_SENS_CARD,
               "378282246310005");
    fd = scan("[378282246310005,5555555555554444]");
    assert_int_equal(fd.n, 2);
    assert_string_equal(fd.f[0].rule, "amex");
    assert_string_equal(fd.f[1].rule, "mastercard");
}

static void
test_card_lookalikes(void **state)
{
    static const char *const others[] = {
        "4111111111111112",              /* Luhn fails */
        "1700000000000",                 /* a timestamp in ms */
        "{\"ts\":1716212345678}",
        "41111111111111111111",          /* 20 digits */
        "order 4111111111111111234",     /* inside a longer run */
        "abc4111111111111111",           /* inside a word */
        "4111111111111111abc",
        "ORD-4111111111111111",          /* joined to a word */
        "4111111111111111-A",
        "123e4567-e89b-12d3-a456-426614174000",
        "12345678-1234-1234-1234-123456789012",
        "+14111111111111111",            /* a phone number's '+' */
        "+44 4111 1111 1111 1111",
        "4111111111111111.00",           /* a price */
        "0.4111111111111111",            /* a fraction */
        "4111-1111 1111-1111",           /* mixed separators */
        "4111 11111111 1111",            /* no usual grouping */
        "2024011512345678",              /* no issuer: 2024 */
        "9111111111111111",
        "411111111111",                  /* 12 digits */
        "4111  1111  1111  1111",        /* double spaces */
        "+1 (415) 555-0132, 415-555-0132",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        expect_none(others[i], INSPECT_SENS_CARD);
}

static void
test_iban(void **state)
{
    static const char *const ibans[] = {
        "GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000", "DE89 3704 0044 0532 0130 00",
        "FR1420041010050500013M02606", "NL91ABNA0417164300",
        "CH9300762011623852957", "NO9386011117947",
        "MT84MALT011000012345MTLCAST001S",
    };
    static const char *const others[] = {
        "GB82WEST12345698765433",        /* mod 97 fails */
        "XX82WEST12345698765432",        /* no such country */
        "GB82WEST1234569876543",         /* one short */
        "GB82WEST123456987654321",       /* one long */
        "xGB82WEST12345698765432",
        "GB82 WEST 1234 5698 765 432",   /* groups of four */
        "GB00WEST12345698765432",
        "SKU AB12 CDEF 34", "AB12CDEF", "US12345678",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ibans) / sizeof(ibans[0]); i++)
        expect_found(ibans[i], INSPECT_SENS_IBAN);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        expect_none(others[i], INSPECT_SENS_IBAN);
}

static void
test_ssn(void **state)
{
    static const char *const ssns[] = {
        "123-45-6789", "536-22-8726", "001-01-0001", "899-99-9999",
    };
    static const char *const others[] = {
        "000-12-3456", "666-12-3456", "900-12-3456", "999-45-6789",
        "123-00-4567", "123-45-0000", "078-05-1120", "219-09-9999",
        "2024-12-1234",                  /* four digits first */
        "1-123-45-6789", "123-45-6789-0", "x123-45-6789",
        "123-45-67890", "555-123-4567", "12-31-2024", "123456789",
        "2024-05-17", "123 45 6789",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ssns) / sizeof(ssns[0]); i++)
        expect_found(ssns[i], INSPECT_SENS_NATIONAL_ID);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        expect_none(others[i], INSPECT_SENS_NATIONAL_ID);
}

static void
test_email(void **state)
{
    static const char *const emails[] = {
        "alice@example.com", "j.doe+tag@mail.example.co.uk",
        "x_y-z@sub-domain.example.org", "A1@EXAMPLE.IO",
    };
    static const char *const others[] = {
        "logo@2x.png", "icon@3x.svg", "user@localhost", "@example.com",
        "a@b", "foo@bar.c", "name@123.456", "x@-bad.com", "x@bad-.com",
        "x@a..com", ".@example.com", "name.@example.com",
        "@@@@", "npm install pkg@1.2.3",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(emails) / sizeof(emails[0]); i++)
        expect_found(emails[i], INSPECT_SENS_EMAIL);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        expect_none(others[i], INSPECT_SENS_EMAIL);
    /* A JSON escape before it is no part of it; a sentence's full stop
       after it neither. */
    expect_one("{\"to\":\"line\\nbob@corp.example\"}", INSPECT_SENS_EMAIL,
               "bob@corp.example");
    expect_one("mail bob@corp.example.", INSPECT_SENS_EMAIL,
               "bob@corp.example");
}

#define JWT_HS256 \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5" \
    "MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

static void
test_jwt(void **state)
{
    /* {"typ":"JWT"}: no "alg". */
    static const char *const others[] = {
        "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.a.b.c",
        "xeyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2ln",
        "eyeballing-the-landscape.eyes.open",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..c2ln",
    };
    struct found fd;

    (void)state;
    expect_found(JWT_HS256, INSPECT_SENS_JWT);
    /* alg none: an empty signature. */
    expect_found("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", INSPECT_SENS_JWT);
    fd = scan("Bearer " JWT_HS256);
    assert_int_equal(fd.n, 1);
    assert_string_equal(fd.f[0].rule, "jws");
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        expect_none(others[i], INSPECT_SENS_JWT);
}

#define PEM_BODY "MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgH\n" \
                 "cCLQeT4lsrRvB0/5mbAnUSwmPKu7GyQgAc0=\n"

static void
test_private_keys(void **state)
{
    static const char *const labels[] = {
        "RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY",
        "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "DSA PRIVATE KEY",
    };
    char pem[512], json[512];
    struct found fd;

    (void)state;
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        snprintf(pem, sizeof(pem), "-----BEGIN %s-----\n" PEM_BODY
                 "-----END %s-----", labels[i], labels[i]);
        expect_found(pem, INSPECT_SENS_PRIVATE_KEY);
    }
    /* In a JSON string, with its escapes. */
    snprintf(json, sizeof(json), "{\"key\":\"%s\"}",
             "-----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIL\\n"
             "-----END EC PRIVATE KEY-----\\n");
    fd = scan(json);
    assert_int_equal(fd.n, 1);
    assert_string_equal(fd.f[0].rule, "ec");
    assert_int_equal(fd.f[0].offset, 8);
    assert_int_equal(fd.f[0].length, strlen("-----BEGIN EC PRIVATE KEY-----"
                                            "\\nMHcCAQEEIL\\n-----END EC "
                                            "PRIVATE KEY-----"));
    /* Cut off before its END line: up to where its body stops. */
    fd = scan("{\"k\":\"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\"}");
    assert_int_equal(fd.n, 1);
    assert_int_equal(fd.f[0].length,
                     strlen("-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN"));
    expect_none("-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC "
                "KEY-----", INSPECT_SENS_PRIVATE_KEY);
    expect_none("-----BEGIN CERTIFICATE-----\nMIIB\n-----END "
                "CERTIFICATE-----", INSPECT_SENS_PRIVATE_KEY);
    expect_none("BEGIN RSA PRIVATE KEY", INSPECT_SENS_PRIVATE_KEY);
}

/* prefix, then n characters cycling through set, into buf. */
static const char *
token(char *buf, const char *prefix, const char *set, size_t n)
{
    size_t k = strlen(prefix), m = strlen(set);

    memcpy(buf, prefix, k);
    for (size_t i = 0; i < n; i++)
        buf[k + i] = set[(i * 7 + 3) % m];
    buf[k + n] = '\0';
    return buf;
}

static void
test_cloud_keys(void **state)
{
    static const char alnum[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char b[256], pat[256];

    (void)state;
    expect_found("AKIAIOSFODNN7EXAMPLE", INSPECT_SENS_CLOUD_KEY);
    expect_found("ASIAY34FZKBOKMUTVV7A", INSPECT_SENS_CLOUD_KEY);
    expect_found(token(b, "AIza", "Sy-_09azAZ", 35), INSPECT_SENS_CLOUD_KEY);
    expect_found(token(b, "ghp_", alnum, 36), INSPECT_SENS_CLOUD_KEY);
    expect_found(token(b, "gho_", alnum, 36), INSPECT_SENS_CLOUD_KEY);
    expect_found(token(b, "ghs_", alnum, 36), INSPECT_SENS_CLOUD_KEY);
    token(pat, "github_pat_", alnum, 22);
    memcpy(pat + strlen(pat), "_", 2);
    expect_found(token(b, pat, alnum, 59), INSPECT_SENS_CLOUD_KEY);
    expect_found("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
                 INSPECT_SENS_CLOUD_KEY);
    expect_found(token(b, "sk_live_", alnum, 24), INSPECT_SENS_CLOUD_KEY);
    expect_found(token(b, "sk_live_", alnum, 99), INSPECT_SENS_CLOUD_KEY);

    expect_none("AKIAIOSFODNN7EXAMPLEX", INSPECT_SENS_CLOUD_KEY);
    expect_none("xAKIAIOSFODNN7EXAMPLE", INSPECT_SENS_CLOUD_KEY);
    expect_none("AKIAIOSFODNN7EXAMPL", INSPECT_SENS_CLOUD_KEY);
    expect_none(token(b, "ghp_", alnum, 35), INSPECT_SENS_CLOUD_KEY);
    expect_none(token(b, "ghp_", alnum, 37), INSPECT_SENS_CLOUD_KEY);
    expect_none(token(b, "sk_test_", alnum, 24), INSPECT_SENS_CLOUD_KEY);
    expect_none(token(b, "sk_live_", alnum, 100), INSPECT_SENS_CLOUD_KEY);
    expect_none(token(b, "AIza", alnum, 36), INSPECT_SENS_CLOUD_KEY);
    expect_none("xoxb-123", INSPECT_SENS_CLOUD_KEY);
    expect_none("xoxb-1234567890abcdefghijklmn", INSPECT_SENS_CLOUD_KEY);
}

static void
test_api_keys(void **state)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char key[128], bad[256];
    struct found fd;

    (void)state;
    token(key, "aw_k3y1d0ab2c_", b64, 42);
    /* "E" is index 4: its two low bits are zero. */
    memcpy(key + strlen(key), "E", 2);
    expect_found(key, INSPECT_SENS_API_KEY);
    fd = scan(key);
    assert_string_equal(fd.f[0].rule, "apiward");
    token(bad, "aw_k3y1d0ab2c_", b64, 42);
    /* "F" is index 5: no encoder writes it last. */
    memcpy(bad + strlen(bad), "F", 2);
    expect_none(bad, INSPECT_SENS_API_KEY);
    expect_none(token(bad, "aw_k3y1d0a_", b64, 43), INSPECT_SENS_API_KEY);
    expect_none(token(bad, "aw_abcdefgh12345678_", b64, 43),
                INSPECT_SENS_API_KEY);
    token(bad, "aw_k3y1d0ab2c_", b64, 44);
    expect_none(bad, INSPECT_SENS_API_KEY);
    snprintf(bad, sizeof(bad), "x%s", key);
    expect_none(bad, INSPECT_SENS_API_KEY);
}

/* Only the kinds asked for are reported, and a db finds only its own. */
static void
test_kind_selection(void **state)
{
    static const char text[] = "alice@example.com 4111111111111111 "
                               "123-45-6789";
    struct inspect_sensitive_db *cards;
    struct found fd = {0};
    char err[128];

    (void)state;
    assert_int_equal(scan(text).n, 3);
    assert_int_equal(scan_kinds(text, strlen(text), INSPECT_SENS_EMAIL).n, 1);
    assert_int_equal(inspect_sensitive_db_compile(INSPECT_SENS_CARD, &cards,
                                                  err, sizeof(err)), AW_OK);
    assert_int_equal(inspect_sensitive_scratch_reserve(&scratch, cards),
                     AW_OK);
    assert_int_equal(inspect_sensitive_scan(cards, scratch, SLICE_LIT(text),
                                            INSPECT_SENS_ALL, on_find, &fd),
                     AW_OK);
    assert_int_equal(fd.n, 1);
    assert_int_equal(fd.f[0].kind, INSPECT_SENS_CARD);
    inspect_sensitive_db_free(cards);
    /* A db of no kind finds nothing, and needs no scratch of its own. */
    assert_int_equal(inspect_sensitive_db_compile(0, &cards, err,
                                                  sizeof(err)), AW_OK);
    assert_int_equal(inspect_sensitive_scratch_reserve(&scratch, cards),
                     AW_OK);
    fd.n = 0;
    assert_int_equal(inspect_sensitive_scan(cards, scratch, SLICE_LIT(text),
                                            INSPECT_SENS_ALL, on_find, &fd),
                     AW_OK);
    assert_int_equal(fd.n, 0);
    inspect_sensitive_db_free(cards);
}

static int
stop_at_first(void *ctx, const struct inspect_sensitive_find *f)
{
    (void)f;
    ++*(int *)ctx;
    return 1;
}

static void
test_stop(void **state)
{
    static const char text[] = "a@example.com b@example.com";
    int calls = 0;

    (void)state;
    assert_int_equal(inspect_sensitive_scan(db, scratch, SLICE_LIT(text),
                                            INSPECT_SENS_ALL, stop_at_first,
                                            &calls), AW_DONE);
    assert_int_equal(calls, 1);
}

/* Mask every finding of text in place; returns how many. */
static size_t
mask_all(char *text, unsigned flags)
{
    struct slice t = {text, strlen(text)};
    struct found fd = scan(text);

    assert_true(fd.n <= FINDS_MAX);
    for (size_t i = 0; i < fd.n; i++)
        inspect_sensitive_mask(t, &fd.f[i], flags, text + fd.f[i].offset,
                               fd.f[i].length);
    return fd.n;
}

static void
test_mask(void **state)
{
    char a[] = "{\"pan\":\"4111 1111 1111 1111\",\"n\":378282246310005}";
    char b[] = "{\"mail\":\"alice@example.com\",\"ssn\":\"123-45-6789\"}";
    char c[] = "{\"k\":\"-----BEGIN EC PRIVATE KEY-----\\nMHc\\u0041\\n"
               "-----END EC PRIVATE KEY-----\"}";
    char d[] = "key aw_k3y1d0ab2c_EEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEEE"
               " end";
    char e[] = "text 378282246310005 end";
    char g[] = " 378282246310005\n";
    /* The local part read back from "@" starts inside an escape. */
    char h[] = "{\"t\":\"\\u0041bob@example.com\"}";
    char shown[8];
    struct inspect_sensitive_find f = {INSPECT_SENS_CARD, "visa", 0, 16};

    (void)state;
    assert_int_equal(mask_all(a, INSPECT_SENS_MASK_JSON), 2);
    assert_string_equal(a, "{\"pan\":\"**** **** **** 1111\","
                           "\"n\":999999999990005}");
    assert_int_equal(mask_all(b, INSPECT_SENS_MASK_JSON), 2);
    assert_string_equal(b, "{\"mail\":\"*****************\","
                           "\"ssn\":\"***********\"}");
    assert_int_equal(mask_all(c, INSPECT_SENS_MASK_JSON), 1);
    assert_string_equal(c, "{\"k\":\"******************************\\n***"
                           "\\u0041\\n****************************\"}");
    assert_int_equal(mask_all(d, 0), 1);
    assert_string_equal(d, "key aw_k3y1d0ab2c_*******************************"
                           "************ end");
    assert_int_equal(mask_all(h, INSPECT_SENS_MASK_JSON), 1);
    assert_string_equal(h, "{\"t\":\"\\u0041***************\"}");
    /* A body that is one number stays one. */
    assert_int_equal(mask_all(g, INSPECT_SENS_MASK_JSON), 1);
    assert_string_equal(g, " 999999999990005\n");
    /* Text is not JSON: no number to keep. */
    assert_int_equal(mask_all(e, 0), 1);
    assert_string_equal(e, "text ***********0005 end");
    /* A short output gets the first bytes of the masked form. */
    assert_int_equal(inspect_sensitive_mask(SLICE_LIT("4111111111111111"),
                                            &f, 0, shown, sizeof(shown)), 8);
    assert_memory_equal(shown, "********", 8);
}

/* Inputs that repeat what makes a validator walk: each must be read in
   one pass (the bench measures it; here they must finish and find what
   they hold). */
static void
test_adversarial(void **state)
{
    static const char *const units[] = {
        "1", "1 ", "1-", "a@", "@a", "a.", "ey", "eyJhbGciOiJub25lIn0.",
        "-----BEGIN PRIVATE KEY-----", "AKIA", "aw_abcdefgh", "GB82",
        "xoxb-1", "\\", "123-45-", "4111111111111111 ",
    };
    size_t len = 1 << 20;
    char *big = malloc(len);

    (void)state;
    assert_non_null(big);
    for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
        size_t k = strlen(units[u]);

        for (size_t i = 0; i < len; i++)
            big[i] = units[u][i % k];
        (void)scan_kinds(big, len, INSPECT_SENS_ALL);
    }
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_card_lookalikes),
        cmocka_unit_test(test_iban),
        cmocka_unit_test(test_ssn),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_jwt),
        cmocka_unit_test(test_private_keys),
        cmocka_unit_test(test_cloud_keys),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_kind_selection),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_adversarial),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
