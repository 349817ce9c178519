/*
 * Unit tests for http_normalize_path: every option both ways, the dot
 * segment examples of RFC 3986 sections 5.2.4 and 5.4 restated as
 * absolute paths, UTF-8 edge cases, idempotence, and the promise that a
 * path needing no change is returned without a copy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/http.h"

/* Normalise a NUL-terminated path; returns the status, fills out/err. */
static int
norm_with(const char *path, size_t len, const struct http_norm_opts *o,
          struct arena *a, struct slice *out, struct http_error *err)
{
    struct slice raw = {path, len};

    memset(err, 0, sizeof(*err));
    return http_normalize_path(raw, o, a, out, err);
}

/* Expect path to normalise to want under options o. */
static void
expect_ok_opts(const char *path, const char *want,
               const struct http_norm_opts *o)
{
    struct arena a;
    struct slice out;
    struct http_error err;
    int rc;

    arena_init(&a, 1024, 1 << 20);
    rc = norm_with(path, strlen(path), o, &a, &out, &err);
    if (rc != AW_OK)
        fail_msg("\"%s\": %s", path, err.reason ? err.reason : "?");
    if (out.len != strlen(want) || memcmp(out.ptr, want, out.len) != 0)
        fail_msg("\"%s\": got \"%.*s\", want \"%s\"", path, (int)out.len,
                 out.ptr, want);
    assert_true(out.len <= strlen(path));
    arena_fini(&a);
}

static void
expect_ok(const char *path, const char *want)
{
    struct http_norm_opts o;

    http_norm_defaults(&o);
    expect_ok_opts(path, want, &o);
}

/* Expect path to be refused with reason under options o. */
static void
expect_err_opts_len(const char *path, size_t len, const char *reason,
                    const struct http_norm_opts *o)
{
    struct arena a;
    struct slice out;
    struct http_error err;
    int rc;

    arena_init(&a, 1024, 1 << 20);
    rc = norm_with(path, len, o, &a, &out, &err);
    if (rc != AW_INVALID)
        fail_msg("\"%s\": accepted, want %s", path, reason);
    assert_int_equal(err.status, 400);
    assert_non_null(err.detail);
    if (strcmp(err.reason, reason) != 0)
        fail_msg("\"%s\": got %s, want %s", path, err.reason, reason);
    arena_fini(&a);
}

static void
expect_err_opts(const char *path, const char *reason,
                const struct http_norm_opts *o)
{
    expect_err_opts_len(path, strlen(path), reason, o);
}

static void
expect_err(const char *path, const char *reason)
{
    struct http_norm_opts o;

    http_norm_defaults(&o);
    expect_err_opts(path, reason, &o);
}

/* Options with every rejection off, so that only one can be tested. */
static void
lenient(struct http_norm_opts *o)
{
    http_norm_defaults(o);
    o->reject_encoded_slash = false;
    o->reject_encoded_dot = false;
    o->reject_backslash = false;
    o->reject_nul = false;
    o->reject_invalid_utf8 = false;
}

static void
test_defaults(void **state)
{
    struct http_norm_opts o;

    (void)state;
    memset(&o, 0xff, sizeof(o));
    http_norm_defaults(&o);
    assert_int_equal(o.slashes, HTTP_SLASHES_MERGE);
    assert_true(o.reject_encoded_slash);
    assert_true(o.reject_encoded_dot);
    assert_true(o.reject_backslash);
    assert_true(o.reject_nul);
    assert_true(o.reject_invalid_utf8);
    assert_false(o.reject_dot_segments);
}

/* Paths already in normal form come back as the same pointer. */
static void
test_zero_copy(void **state)
{
    static const char *const same[] = {
        "/", "/a", "/a/b/c", "/users/42", "/a/%C3%A9", "/%2B%3D%20",
        "/a.b/.c/..d/e..", "/~user/x-y_z", "/a;p=1/b", "/a/b/",
        "/%E2%82%AC/%F0%9F%98%80", "/a:b@c!$&'()*+,=",
    };
    struct http_norm_opts o;

    (void)state;
    http_norm_defaults(&o);
    for (size_t k = 0; k < ARRAY_LEN(same); k++) {
        struct arena a;
        struct slice out;
        struct http_error err;

        arena_init(&a, 1024, 1 << 20);
        assert_int_equal(norm_with(same[k], strlen(same[k]), &o, &a, &out,
                                   &err), AW_OK);
        assert_ptr_equal(out.ptr, same[k]);
        assert_int_equal(out.len, strlen(same[k]));
        assert_int_equal(a.total, 0); /* nothing allocated */
        arena_fini(&a);
    }
}

/* A change at the very end only shortens: still no copy. */
static void
test_zero_copy_trailing_dots(void **state)
{
    static const char path[] = "/a/b/..";
    struct http_norm_opts o;
    struct arena a;
    struct slice out;
    struct http_error err;

    (void)state;
    http_norm_defaults(&o);
    arena_init(&a, 1024, 1 << 20);
    assert_int_equal(norm_with(path, 7, &o, &a, &out, &err), AW_OK);
    assert_ptr_equal(out.ptr, path);
    assert_int_equal(out.len, 3); /* "/a/" */
    assert_int_equal(a.total, 0);
    arena_fini(&a);
}

static void
test_unreserved_decoded(void **state)
{
    (void)state;
    expect_ok("/%41%62%7e%2d%5F", "/Ab~-_");
    expect_ok("/%30%39/x%7Ey", "/09/x~y");
    expect_ok("/%7A%5a", "/zZ");
    /* Reserved and other bytes stay encoded. */
    expect_ok("/a%3fb%23c", "/a%3Fb%23c");
    expect_ok("/%2b%3d%25", "/%2B%3D%25");
    expect_ok("/%c3%a9", "/%C3%A9");
    expect_ok("/%20", "/%20");
}

static void
test_bad_escape(void **state)
{
    (void)state;
    expect_err("/%", "http.path_bad_escape");
    expect_err("/a%", "http.path_bad_escape");
    expect_err("/%4", "http.path_bad_escape");
    expect_err("/%zz", "http.path_bad_escape");
    expect_err("/%4g/", "http.path_bad_escape");
    expect_err("/%g4", "http.path_bad_escape");
    expect_err("/%%41", "http.path_bad_escape");
    expect_err("/ok/%-1", "http.path_bad_escape");
}

static void
test_not_absolute(void **state)
{
    (void)state;
    expect_err("", "http.path_not_absolute");
    expect_err("a/b", "http.path_not_absolute");
    expect_err("%2F", "http.path_not_absolute");
    expect_err("*", "http.path_not_absolute");
}

static void
test_encoded_slash(void **state)
{
    struct http_norm_opts o;

    (void)state;
    expect_err("/a%2Fb", "http.path_encoded_slash");
    expect_err("/a%2fb", "http.path_encoded_slash");
    expect_err("/a%5Cb", "http.path_encoded_slash");
    expect_err("/a%5c..", "http.path_encoded_slash");
    lenient(&o);
    /* Allowed, it stays encoded and is never a separator. */
    expect_ok_opts("/a%2fb", "/a%2Fb", &o);
    expect_ok_opts("/a%5cb", "/a%5Cb", &o);
    expect_ok_opts("/a/..%2F..%2Fb", "/a/..%2F..%2Fb", &o);
    expect_ok_opts("/a%2F../b", "/a%2F../b", &o);
}

static void
test_encoded_dot(void **state)
{
    struct http_norm_opts o;

    (void)state;
    expect_err("/a/%2e%2e/b", "http.path_encoded_dot");
    expect_err("/a%2Eb", "http.path_encoded_dot");
    lenient(&o);
    /* Decoded dots take part in dot-segment removal. */
    expect_ok_opts("/a/%2e%2e/b", "/b", &o);
    expect_ok_opts("/a/%2E%2E/b", "/b", &o);
    expect_ok_opts("/a/.%2e/b", "/b", &o);
    expect_ok_opts("/a/%2e./b", "/b", &o);
    expect_ok_opts("/a/%2e/b", "/a/b", &o);
    expect_ok_opts("/a/b/%2e%2e", "/a/", &o);
    expect_ok_opts("/a%2eb", "/a.b", &o);
    expect_ok_opts("/a/%2e%2e%2e/b", "/a/.../b", &o);
    expect_err_opts("/%2e%2e/etc", "http.path_traversal", &o);
    expect_err_opts("/a/%2e%2e/%2e%2e/b", "http.path_traversal", &o);
    o.reject_dot_segments = true;
    expect_err_opts("/a/%2e%2e/b", "http.path_dot_segment", &o);
    expect_err_opts("/a/%2e/b", "http.path_dot_segment", &o);
}

static void
test_backslash(void **state)
{
    struct http_norm_opts o;

    (void)state;
    expect_err("/a\\b", "http.path_backslash");
    expect_err("/..\\..\\x", "http.path_backslash");
    lenient(&o);
    expect_ok_opts("/a\\b", "/a\\b", &o);
    /* Not a separator here: "..\x" is an ordinary segment. */
    expect_ok_opts("/a/..\\x", "/a/..\\x", &o);
}

static void
test_nul(void **state)
{
    struct http_norm_opts o;

    (void)state;
    expect_err("/a%00b", "http.path_nul");
    expect_err_opts_len("/a\0b", 4, "http.path_nul", &(struct http_norm_opts){
        .slashes = HTTP_SLASHES_MERGE, .reject_nul = true});
    lenient(&o);
    expect_ok_opts("/a%00b", "/a%00b", &o);
    o.reject_nul = true;
    expect_err_opts("/%00", "http.path_nul", &o);
}

static void
test_utf8_valid(void **state)
{
    (void)state;
    expect_ok("/%c2%80", "/%C2%80");             /* U+0080 */
    expect_ok("/%DF%BF", "/%DF%BF");             /* U+07FF */
    expect_ok("/%E0%A0%80", "/%E0%A0%80");       /* U+0800 */
    expect_ok("/%ED%9F%BF", "/%ED%9F%BF");       /* U+D7FF */
    expect_ok("/%EE%80%80", "/%EE%80%80");       /* U+E000 */
    expect_ok("/%EF%BF%BF", "/%EF%BF%BF");       /* U+FFFF */
    expect_ok("/%F0%90%80%80", "/%F0%90%80%80"); /* U+10000 */
    expect_ok("/%F4%8F%BF%BF", "/%F4%8F%BF%BF"); /* U+10FFFF */
    expect_ok("/caf\xC3\xA9", "/caf\xC3\xA9");   /* literal bytes */
    expect_ok("/\xC3%a9", "/\xC3%A9");           /* literal then escape */
    expect_ok("/%E2\x82%AC", "/%E2\x82%AC");
}

static void
test_utf8_invalid(void **state)
{
    static const char *const bad[] = {
        "/%80",             /* stray continuation */
        "/%BF",             /* stray continuation */
        "/%C0%AF",          /* overlong '/' */
        "/%C1%BF",          /* overlong */
        "/%E0%80%AF",       /* overlong '/' in three bytes */
        "/%E0%9F%BF",       /* overlong U+07FF */
        "/%F0%80%80%AF",    /* overlong in four bytes */
        "/%F0%8F%BF%BF",    /* overlong U+FFFF */
        "/%ED%A0%80",       /* surrogate U+D800 */
        "/%ED%BF%BF",       /* surrogate U+DFFF */
        "/%F4%90%80%80",    /* U+110000 */
        "/%F5%80%80%80",    /* lead past U+10FFFF */
        "/%FE", "/%FF",
        "/%C3",             /* truncated at the end */
        "/%C3/",            /* truncated by a slash */
        "/%C3a",            /* truncated by a letter */
        "/%C3%41",          /* truncated by a decoded letter */
        "/%E2%82",          /* truncated three-byte */
        "/%F0%9F%98",       /* truncated four-byte */
        "/%E2%82%AC%AC",    /* one continuation too many */
        "/\xC0\xAF",        /* literal overlong */
        "/\xED\xA0\x80",    /* literal surrogate */
        "/\xC3",            /* literal truncated */
        "/\xC3\\",          /* truncated by a backslash */
    };
    struct http_norm_opts o;

    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(bad); k++)
        expect_err(bad[k], "http.path_bad_utf8");
    lenient(&o);
    expect_ok_opts("/%c0%af", "/%C0%AF", &o);
    expect_ok_opts("/%ED%A0%80", "/%ED%A0%80", &o);
    expect_ok_opts("/\xC3/x", "/\xC3/x", &o);
}

/* RFC 3986 section 5.4, references resolved against /b/c/d;p. */
static void
test_rfc3986_examples(void **state)
{
    (void)state;
    expect_ok("/b/c/./g", "/b/c/g");
    expect_ok("/b/c/g/", "/b/c/g/");
    expect_ok("/b/c/.", "/b/c/");
    expect_ok("/b/c/./", "/b/c/");
    expect_ok("/b/c/..", "/b/");
    expect_ok("/b/c/../", "/b/");
    expect_ok("/b/c/../g", "/b/g");
    expect_ok("/b/c/../..", "/");
    expect_ok("/b/c/../../", "/");
    expect_ok("/b/c/../../g", "/g");
    expect_ok("/./g", "/g");
    expect_ok("/b/c/g.", "/b/c/g.");
    expect_ok("/b/c/.g", "/b/c/.g");
    expect_ok("/b/c/g..", "/b/c/g..");
    expect_ok("/b/c/..g", "/b/c/..g");
    expect_ok("/b/c/./../g", "/b/g");
    expect_ok("/b/c/./g/.", "/b/c/g/");
    expect_ok("/b/c/g/./h", "/b/c/g/h");
    expect_ok("/b/c/g/../h", "/b/c/h");
    expect_ok("/b/c/g;x=1/./y", "/b/c/g;x=1/y");
    expect_ok("/b/c/g;x=1/../y", "/b/c/y");
    /* Section 5.2.4's own examples. */
    expect_ok("/a/b/c/./../../g", "/a/g");
    expect_ok("/mid/content=5/../6", "/mid/6");
    /* Where the RFC silently stops at the root, a gateway refuses. */
    expect_err("/b/c/../../../g", "http.path_traversal");
    expect_err("/b/c/../../../../g", "http.path_traversal");
    expect_err("/../g", "http.path_traversal");
    expect_err("/..", "http.path_traversal");
    expect_err("/./..", "http.path_traversal");
    expect_ok("/.", "/");
    expect_ok("/./", "/");
}

static void
test_reject_dot_segments(void **state)
{
    struct http_norm_opts o;

    (void)state;
    http_norm_defaults(&o);
    o.reject_dot_segments = true;
    expect_err_opts("/a/./b", "http.path_dot_segment", &o);
    expect_err_opts("/a/../b", "http.path_dot_segment", &o);
    expect_err_opts("/a/..", "http.path_dot_segment", &o);
    expect_err_opts("/.", "http.path_dot_segment", &o);
    expect_err_opts("/..", "http.path_dot_segment", &o);
    expect_ok_opts("/a/.b/..c/d.", "/a/.b/..c/d.", &o);
}

static void
test_slashes(void **state)
{
    struct http_norm_opts o;

    (void)state;
    http_norm_defaults(&o);
    expect_ok_opts("//a///b//", "/a/b/", &o);
    expect_ok_opts("/a//./b", "/a/b", &o);
    expect_ok_opts("/a/.//b", "/a/b", &o);
    expect_ok_opts("/a//../b", "/b", &o);
    expect_ok_opts("//", "/", &o);
    o.slashes = HTTP_SLASHES_KEEP;
    expect_ok_opts("//a///b//", "//a///b//", &o);
    expect_ok_opts("/a//../b", "/a/b", &o); /* ".." removes the empty one */
    expect_ok_opts("/a/.//b", "/a//b", &o);
    expect_ok_opts("//..", "/", &o);
    expect_err_opts("/a//../../..", "http.path_traversal", &o);
    o.slashes = HTTP_SLASHES_REJECT;
    expect_err_opts("//a", "http.path_slashes", &o);
    expect_err_opts("/a//b", "http.path_slashes", &o);
    expect_err_opts("/a/b//", "http.path_slashes", &o);
    expect_err_opts("/a/.//b", "http.path_slashes", &o);
    expect_ok_opts("/a/./b/", "/a/b/", &o);
}

/* One path with several changes at once. */
static void
test_combined(void **state)
{
    struct http_norm_opts o;

    (void)state;
    lenient(&o);
    expect_ok_opts("//%41/./b%2fc/%2E%2e//d%7e/%c3%a9/",
                   "/A/d~/%C3%A9/", &o);
    expect_ok("/x/%61%62%63/../y/./%7a", "/x/y/z");
}

static void
test_nomem(void **state)
{
    struct http_norm_opts o;
    struct arena a;
    struct slice out;
    struct http_error err;

    (void)state;
    http_norm_defaults(&o);
    arena_init(&a, 16, 8); /* no chunk fits */
    assert_int_equal(norm_with("/a/./b", 6, &o, &a, &out, &err), AW_NOMEM);
    /* Unchanged paths need no memory at all. */
    assert_int_equal(norm_with("/a/b", 4, &o, &a, &out, &err), AW_OK);
    arena_fini(&a);
}

/* Normalising the output again must give the same bytes, without copy. */
static void
check_idempotent(const char *path, const struct http_norm_opts *o)
{
    struct arena a;
    struct slice one, two;
    struct http_error err;

    arena_init(&a, 1024, 1 << 20);
    if (norm_with(path, strlen(path), o, &a, &one, &err) == AW_OK) {
        assert_int_equal(norm_with(one.ptr, one.len, o, &a, &two, &err),
                         AW_OK);
        assert_ptr_equal(two.ptr, one.ptr);
        assert_int_equal(two.len, one.len);
    }
    arena_fini(&a);
}

static void
test_idempotent(void **state)
{
    static const char *const paths[] = {
        "/a/%2e%2e/b", "/.%2e/x", "//a//./..//b/", "/a/b/c/../..",
        "/%41%2f%5c%00/.", "/a\\..\\b", "/%c3%a9%2E%2E/..", "/x/.%2E.",
        "/a//..//b", "/./././", "/a/b/.././../c", "/%7e%7E/%2D",
    };

    (void)state;
    for (unsigned bits = 0; bits < 64 * 3; bits++) {
        struct http_norm_opts o = {
            .slashes = (enum http_slashes)(bits / 64),
            .reject_encoded_slash = bits & 1,
            .reject_encoded_dot = bits & 2,
            .reject_backslash = bits & 4,
            .reject_nul = bits & 8,
            .reject_invalid_utf8 = bits & 16,
            .reject_dot_segments = bits & 32,
        };

        for (size_t k = 0; k < ARRAY_LEN(paths); k++)
            check_idempotent(paths[k], &o);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_zero_copy_trailing_dots),
        cmocka_unit_test(test_unreserved_decoded),
        cmocka_unit_test(test_bad_escape),
        cmocka_unit_test(test_not_absolute),
        cmocka_unit_test(test_encoded_slash),
        cmocka_unit_test(test_encoded_dot),
        cmocka_unit_test(test_backslash),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_rfc3986_examples),
        cmocka_unit_test(test_reject_dot_segments),
        cmocka_unit_test(test_slashes),
        cmocka_unit_test(test_combined),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_idempotent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
