/*
 * Unit tests of the chunked transfer coding decoder: sizes, extensions,
 * trailers, bounds, strict line ends, and the same answer however the
 * input is split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

#define MAX_BODY ((uint64_t)1 << 20)

/* The outcome of decoding one input, however it was fed. */
struct decoded {
    int rc;
    size_t consumed;
    char out[16384];
    size_t out_len;
    struct http_error err;
};

/*
 * Feed s to a fresh decoder in pieces of at most step bytes (0: all at
 * once), each from its own exact-size copy, stopping at the first answer
 * that is not AW_AGAIN.
 */
static void
decode_steps(const char *s, size_t len, size_t step, uint64_t max,
             struct decoded *d)
{
    struct http_chunked c;
    size_t off = 0;

    memset(d, 0, sizeof(*d));
    http_chunked_init(&c);
    d->rc = AW_AGAIN;
    while (off < len && d->rc == AW_AGAIN) {
        size_t n = step == 0 ? len - off : MIN(step, len - off);
        char *piece = malloc(n);
        size_t used = 0;
        size_t out = 0;

        assert_non_null(piece);
        memcpy(piece, s + off, n);
        d->rc = http_chunked_decode(&c, piece, n, &used, &out, max, &d->err);
        assert_true(used <= n);
        assert_true(out <= used);
        assert_true(d->out_len + out <= sizeof(d->out));
        memcpy(d->out + d->out_len, piece, out);
        d->out_len += out;
        off += used;
        free(piece);
        if (d->rc == AW_AGAIN)
            assert_int_equal(used, n);
    }
    d->consumed = off;
}

/* Decode s whole, byte by byte and split in two everywhere: all agree. */
static void
decode_n(const char *s, size_t len, uint64_t max, struct decoded *d)
{
    struct decoded *other = malloc(sizeof(*other));

    assert_non_null(other);
    decode_steps(s, len, 0, max, d);
    decode_steps(s, len, 1, max, other);
    assert_int_equal(d->rc, other->rc);
    if (d->rc == AW_INVALID) {
        assert_int_equal(d->err.status, other->err.status);
        assert_string_equal(d->err.reason, other->err.reason);
    } else {
        assert_int_equal(d->consumed, other->consumed);
        assert_int_equal(d->out_len, other->out_len);
        assert_memory_equal(d->out, other->out, d->out_len);
    }
    free(other);
}

static void
decode(const char *s, struct decoded *d)
{
    decode_n(s, strlen(s), MAX_BODY, d);
}

/* The whole input is the body: consumed is its length. */
#define ALL SIZE_MAX

static void
expect_body(const char *s, const char *body, size_t consumed)
{
    struct decoded d;

    if (consumed == ALL)
        consumed = strlen(s);

    decode_n(s, strlen(s), MAX_BODY, &d);
    if (d.rc != AW_DONE) {
        print_error("input %s: rc %d %s\n", s, d.rc,
                    d.rc == AW_INVALID ? d.err.detail : "");
        fail();
    }
    assert_int_equal(d.out_len, strlen(body));
    assert_memory_equal(d.out, body, d.out_len);
    assert_int_equal(d.consumed, consumed);
}

static void
expect_reject_max(const char *s, size_t len, uint64_t max, int status,
                  const char *reason)
{
    struct decoded d;

    decode_n(s, len, max, &d);
    if (d.rc != AW_INVALID || d.err.status != status ||
        strcmp(d.err.reason, reason) != 0) {
        print_error("input %s\n  want %d %s, got rc %d %s\n", s, status, reason,
                    d.rc, d.rc == AW_INVALID ? d.err.reason : "-");
        fail();
    }
}

static void
expect_reject(const char *s, const char *reason)
{
    expect_reject_max(s, strlen(s), MAX_BODY, 400, reason);
}

static void
test_chunked_basic(void **state)
{
    static const char s[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

    expect_body(s, "hello world", sizeof(s) - 1);
    expect_body("0\r\n\r\n", "", ALL);
    expect_body("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", ALL);
    expect_body("a\r\n0123456789\r\n000\r\n\r\n", "0123456789", ALL);
    expect_body("0000000000000001\r\nx\r\n0\r\n\r\n", "x", ALL);
}

/* Bytes after the end of the body belong to the next message. */
static void
test_chunked_leaves_rest(void **state)
{
    static const char s[] = "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n";
    struct decoded d;

    expect_body(s, "a", 11);
    decode(s, &d);
    assert_int_equal(d.consumed, 11);
}

static void
test_chunked_incomplete(void **state)
{
    struct decoded d;

    decode("5\r\nhel", &d);
    assert_int_equal(d.rc, AW_AGAIN);
    assert_int_equal(d.out_len, 3);
    decode("5\r\nhello\r\n0\r\n\r", &d);
    assert_int_equal(d.rc, AW_AGAIN);
    decode("", &d);
    assert_int_equal(d.rc, AW_AGAIN);
    assert_int_equal(d.consumed, 0);
}

static void
test_chunked_done_is_sticky(void **state)
{
    struct http_chunked c;
    struct http_error err;
    char buf[] = "0\r\n\r\n1\r\n";
    size_t used;
    size_t out;

    http_chunked_init(&c);
    assert_int_equal(http_chunked_decode(&c, buf, sizeof(buf) - 1, &used, &out,
                                         MAX_BODY, &err),
                     AW_DONE);
    assert_int_equal(used, 5);
    assert_int_equal(
        http_chunked_decode(&c, buf + used, 3, &used, &out, MAX_BODY, &err),
        AW_DONE);
    assert_int_equal(used, 0);
    assert_int_equal(out, 0);
}

static void
test_chunked_extensions(void **state)
{
    expect_body("5;a\r\nhello\r\n0\r\n\r\n", "hello", ALL);
    expect_body("5;a=b\r\nhello\r\n0;x\r\n\r\n", "hello", ALL);
    expect_body("5;a=\"q \\\" ;x\"\r\nhello\r\n0\r\n\r\n", "hello", ALL);
    expect_body("5 ;a\r\nhello\r\n0\r\n\r\n", "hello", ALL);
    expect_body("5\t; a = b ;c\r\nhello\r\n0\r\n\r\n", "hello", ALL);
    expect_body("5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello", ALL);
    expect_body("5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", "hello", ALL);
    expect_body("5;a;b;c=d\r\nhello\r\n0\r\n\r\n", "hello", ALL);
}

static void
test_chunked_bad_extensions(void **state)
{
    static const char *const bad[] = {
        "5;\r\nhello\r\n0\r\n\r\n",
        "5;a=\r\nhello\r\n0\r\n\r\n",
        "5;=b\r\nhello\r\n0\r\n\r\n",
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",
        "5;a \r\nhello\r\n0\r\n\r\n",
        "5;a=b \r\nhello\r\n0\r\n\r\n",
        "5;a=b c\r\nhello\r\n0\r\n\r\n",
        "5;a=\"x\x01\"\r\nhello\r\n",
        "5;a=\"x\"y\r\nhello\r\n",
        "5;a@\r\nhello\r\n",
        "5;a=b@\r\nhello\r\n",
        "5;a=\"\\\x01\"\r\nhello\r\n",
        "5;a=\"x\" \r\nhello\r\n",
        "5;a\n\r\nhello\r\n",
        "5; ;a\r\nhello\r\n",
    };

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_reject(bad[i], "http.bad_chunk_extension");
}

static void
test_chunked_bad_sizes(void **state)
{
    static const char *const bad[] = {
        "\r\n",
        "x\r\n",
        "0x5\r\nhello\r\n",
        "-5\r\n",
        "+5\r\n",
        " 5\r\nhello\r\n",
        "5 \r\nhello\r\n",
        "5 x\r\nhello\r\n",
        "5\nhello\r\n",
        "5\r\rhello\r\n",
        "5\r\nhelloX\r\n",
        "5\r\nhello\n0\r\n\r\n",
        "5\r\nhello\r\r",
        "5\r\nhello0\r\n\r\n",
        /* Seventeen digits, even when they are zeros. */
        "00000000000000005\r\nhello\r\n",
        /* The last chunk is missing: an empty line is not a size. */
        "3\r\nfoo\r\n\r\n",
    };

    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        expect_reject(bad[i], "http.bad_chunk");
}

static void
test_chunked_body_limit(void **state)
{
    static const char ten[] = "a\r\n0123456789\r\n0\r\n\r\n";
    static const char two[] = "5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n";
    struct decoded d;

    decode_n(ten, sizeof(ten) - 1, 10, &d);
    assert_int_equal(d.rc, AW_DONE);
    expect_reject_max(ten, sizeof(ten) - 1, 9, 413, "http.body_too_large");
    expect_reject_max(two, sizeof(two) - 1, 10, 413, "http.body_too_large");
    expect_reject_max("ffffffffffffffff\r\n", 18, MAX_BODY, 413,
                      "http.body_too_large");
    expect_reject_max("1\r\n", 3, 0, 413, "http.body_too_large");
}

static void
test_chunked_trailers(void **state)
{
    expect_body("0\r\nX: y\r\nZ:w \t\r\n\r\n", "", ALL);
    expect_body("1\r\na\r\n0\r\nX-Empty:\r\n\r\n", "a", ALL);
    expect_reject("0\r\n X: y\r\n\r\n", "http.bad_trailer");
    expect_reject("0\r\nX : y\r\n\r\n", "http.bad_trailer");
    expect_reject("0\r\n: y\r\n\r\n", "http.bad_trailer");
    expect_reject("0\r\nX: a\x01\r\n\r\n", "http.bad_trailer");
    expect_reject("0\r\nX: a\x7f\r\n\r\n", "http.bad_trailer");
    expect_reject("0\r\nX: y\n\r\n", "http.bad_trailer");
    expect_reject("0\r\nX\r\n\r\n", "http.bad_trailer");
    expect_reject("0\r\n\rX", "http.bad_trailer");
    expect_reject("0\r\n\n", "http.bad_trailer");
}

static void
test_chunked_line_bounds(void **state)
{
    static char buf[12000];
    size_t n;

    /* A size line of exactly 4096 bytes is accepted, 4097 is not. */
    n = (size_t)snprintf(buf, sizeof(buf), "1;%04092d\r\nx\r\n0\r\n\r\n", 0);
    expect_body(buf, "x", n);
    n = (size_t)snprintf(buf, sizeof(buf), "1;%04093d\r\nx\r\n0\r\n\r\n", 0);
    expect_reject_max(buf, n, MAX_BODY, 400, "http.bad_chunk_extension");
    /* The trailer section as a whole is bounded. */
    n = (size_t)snprintf(buf, sizeof(buf), "0\r\nX: %08185d\r\n\r\n", 0);
    expect_body(buf, "", n);
    n = (size_t)snprintf(buf, sizeof(buf), "0\r\nX: %08186d\r\n\r\n", 0);
    expect_reject_max(buf, n, MAX_BODY, 400, "http.bad_trailer");
}

/* Every way of cutting a busy body in two pieces gives the same result. */
static void
test_chunked_every_split(void **state)
{
    static const char s[] = "3;a=\"b\"\r\nabc\r\n10\r\n0123456789abcdef\r\n"
                            "0;z\r\nT: v\r\n\r\nnext";
    const size_t len = sizeof(s) - 1;

    for (size_t cut = 0; cut <= len; cut++) {
        struct http_chunked c;
        struct http_error err;
        char buf[sizeof(s)];
        char body[64];
        size_t body_len = 0;
        size_t used;
        size_t out;
        int rc;

        memcpy(buf, s, len);
        http_chunked_init(&c);
        rc = http_chunked_decode(&c, buf, cut, &used, &out, MAX_BODY, &err);
        memcpy(body, buf, out);
        body_len = out;
        if (rc == AW_AGAIN) {
            assert_int_equal(used, cut);
            rc = http_chunked_decode(&c, buf + cut, len - cut, &used, &out,
                                     MAX_BODY, &err);
            memcpy(body + body_len, buf + cut, out);
            body_len += out;
            used += cut;
        }
        assert_int_equal(rc, AW_DONE);
        assert_int_equal(used, len - 4);
        assert_int_equal(body_len, 19);
        assert_memory_equal(body, "abc0123456789abcdef", 19);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_basic),
        cmocka_unit_test(test_chunked_leaves_rest),
        cmocka_unit_test(test_chunked_incomplete),
        cmocka_unit_test(test_chunked_done_is_sticky),
        cmocka_unit_test(test_chunked_extensions),
        cmocka_unit_test(test_chunked_bad_extensions),
        cmocka_unit_test(test_chunked_bad_sizes),
        cmocka_unit_test(test_chunked_body_limit),
        cmocka_unit_test(test_chunked_trailers),
        cmocka_unit_test(test_chunked_line_bounds),
        cmocka_unit_test(test_chunked_every_split),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
