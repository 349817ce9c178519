/*
 * Unit tests of the HTTP/1.1 head parsers in src/http: every refusal
 * with its exact status and reason, the accepted forms, byte-by-byte
 * feeding against one-shot parsing, pipelining, response framing and
 * the public field helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http/head.h"
#include "http/http.h"

#define MAXH 64

static const struct http_limits limits = {
    .max_head_bytes = 8192,
    .max_headers = 32,
    .max_target_bytes = 2048,
    .max_body_bytes = 1 << 20,
};

/* One parse and everything it produced. */
struct parsed {
    char *buf; /* exact-size copy, so that ASan sees any over-read */
    size_t len;
    int rc;
    struct http_request req;
    struct http_response res;
    struct http_header headers[MAXH];
    struct http_error err;
};

static char *
copy_exact(const char *s, size_t len)
{
    char *b = malloc(len > 0 ? len : 1);

    assert_non_null(b);
    memcpy(b, s, len);
    return b;
}

static void
parsed_free(struct parsed *p)
{
    free(p->buf);
    p->buf = NULL;
}

/* Parse a request in one call, from an exact-size copy. */
static void
req_once(const char *s, size_t len, const struct http_limits *lim,
         struct parsed *out)
{
    struct http_parser p;

    memset(out, 0, sizeof(*out));
    out->buf = copy_exact(s, len);
    out->len = len;
    out->req.headers = out->headers;
    http_parser_init(&p);
    out->rc = http_parse_request(&p, out->buf, len, lim, &out->req, &out->err);
}

/*
 * Move a slice that points into prefix[0..n) to the same offset in
 * out->buf. A slice outside the prefix must be a static string (the
 * "/" of an absolute target without a path).
 */
static void
rebase(struct slice *s, const struct parsed *out, const char *prefix, size_t n)
{
    if (s->ptr == NULL)
        return;
    if (s->ptr >= prefix && s->ptr + s->len <= prefix + n) {
        s->ptr = out->buf + (s->ptr - prefix);
        return;
    }
    assert_int_equal(s->len, 1);
}

static void
rebase_request(struct parsed *out, const char *prefix, size_t n)
{
    rebase(&out->req.method_name, out, prefix, n);
    rebase(&out->req.target, out, prefix, n);
    rebase(&out->req.path, out, prefix, n);
    rebase(&out->req.query, out, prefix, n);
    rebase(&out->req.host, out, prefix, n);
    for (unsigned i = 0; i < out->req.nheaders; i++) {
        rebase(&out->headers[i].name, out, prefix, n);
        rebase(&out->headers[i].value, out, prefix, n);
    }
}

/*
 * Parse a request fed one more byte per call, each time from a fresh
 * exact-size copy of the prefix (the parser must not look past len),
 * until the answer is not AW_AGAIN. Slices are rebased onto the full
 * copy so that both ways can be compared.
 */
static void
req_bytewise(const char *s, size_t len, const struct http_limits *lim,
             struct parsed *out)
{
    struct http_parser p;

    memset(out, 0, sizeof(*out));
    out->buf = copy_exact(s, len);
    out->len = len;
    out->req.headers = out->headers;
    out->rc = AW_AGAIN;
    http_parser_init(&p);
    for (size_t n = 1; n <= len && out->rc == AW_AGAIN; n++) {
        char *prefix = copy_exact(s, n);

        out->rc = http_parse_request(&p, prefix, n, lim, &out->req, &out->err);
        if (out->rc == AW_OK)
            rebase_request(out, prefix, n);
        free(prefix);
    }
}

static void
assert_slice(struct slice s, const char *want)
{
    assert_non_null(s.ptr);
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0) {
        print_error("slice \"%.*s\" != \"%s\"\n", (int)s.len, s.ptr, want);
        fail();
    }
}

/* Slices of two parses agree: same bytes at the same offset. */
static void
assert_same_slice(const struct parsed *pa, struct slice a,
                  const struct parsed *pb, struct slice b)
{
    assert_int_equal(a.len, b.len);
    if (a.ptr == NULL || b.ptr == NULL) {
        assert_ptr_equal(a.ptr, b.ptr);
        return;
    }
    assert_memory_equal(a.ptr, b.ptr, a.len);
    if (a.ptr >= pa->buf && a.ptr < pa->buf + pa->len)
        assert_int_equal(a.ptr - pa->buf, b.ptr - pb->buf);
}

/* Both ways of feeding must give the same answer. */
static void
assert_same_request(const struct parsed *a, const struct parsed *b)
{
    assert_int_equal(a->rc, b->rc);
    if (a->rc == AW_INVALID) {
        assert_int_equal(a->err.status, b->err.status);
        assert_string_equal(a->err.reason, b->err.reason);
        return;
    }
    if (a->rc != AW_OK)
        return;
    assert_int_equal(a->req.head_len, b->req.head_len);
    assert_int_equal(a->req.method, b->req.method);
    assert_same_slice(a, a->req.method_name, b, b->req.method_name);
    assert_same_slice(a, a->req.target, b, b->req.target);
    assert_same_slice(a, a->req.path, b, b->req.path);
    assert_same_slice(a, a->req.query, b, b->req.query);
    assert_same_slice(a, a->req.host, b, b->req.host);
    assert_int_equal(a->req.nheaders, b->req.nheaders);
    assert_int_equal(a->req.framing, b->req.framing);
    assert_int_equal(a->req.content_length, b->req.content_length);
    assert_int_equal(a->req.keep_alive, b->req.keep_alive);
    for (unsigned i = 0; i < a->req.nheaders; i++) {
        assert_same_slice(a, a->headers[i].name, b, b->headers[i].name);
        assert_same_slice(a, a->headers[i].value, b, b->headers[i].value);
    }
}

/* Parse s both ways with lim; out gets the one-shot result. */
/*
 * Parse s in two calls, cut at every offset, and check each gives the
 * same answer as one call (out). Short inputs only: the cost is
 * quadratic.
 */
static void
req_every_cut(const char *s, size_t len, const struct http_limits *lim,
              const struct parsed *out)
{
    for (size_t cut = 1; cut < len && len <= 512; cut++) {
        struct parsed two;
        struct http_parser p;
        char *prefix = copy_exact(s, cut);

        memset(&two, 0, sizeof(two));
        two.buf = copy_exact(s, len);
        two.len = len;
        two.req.headers = two.headers;
        http_parser_init(&p);
        two.rc = http_parse_request(&p, prefix, cut, lim, &two.req, &two.err);
        if (two.rc == AW_AGAIN)
            two.rc =
                http_parse_request(&p, two.buf, len, lim, &two.req, &two.err);
        free(prefix);
        if (two.rc != AW_OK)
            assert_same_request(out, &two);
        else
            assert_int_equal(two.req.head_len, out->req.head_len);
        parsed_free(&two);
    }
}

static void
req_lim(const char *s, size_t len, const struct http_limits *lim,
        struct parsed *out)
{
    struct parsed slow;

    req_once(s, len, lim, out);
    req_bytewise(s, len, lim, &slow);
    assert_same_request(out, &slow);
    parsed_free(&slow);
    req_every_cut(s, len, lim, out);
}

static void
req(const char *s, struct parsed *out)
{
    req_lim(s, strlen(s), &limits, out);
}

static void
expect_reject_n(const char *s, size_t len, const struct http_limits *lim,
                int status, const char *reason)
{
    struct parsed r;

    req_lim(s, len, lim, &r);
    if (r.rc != AW_INVALID || r.err.status != status ||
        strcmp(r.err.reason, reason) != 0) {
        print_error("input %s\n  want %d %s, got rc %d %d %s\n", s, status,
                    reason, r.rc, r.err.status,
                    r.rc == AW_INVALID ? r.err.reason : "-");
        fail();
    }
    assert_non_null(r.err.detail);
    parsed_free(&r);
}

static void
expect_reject(const char *s, int status, const char *reason)
{
    expect_reject_n(s, strlen(s), &limits, status, reason);
}

struct reject_case {
    const char *input;
    int status;
    const char *reason;
};

static void
run_rejects(const struct reject_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_reject(c[i].input, c[i].status, c[i].reason);
}

#define H11 " HTTP/1.1\r\nHost: a\r\n"

static void
test_request_simple(void **state)
{
    struct parsed r;
    const char *s = "GET /a/b?x=1&y HTTP/1.1\r\n"
                    "Host: Example.com:8080\r\n"
                    "User-Agent:  t/1 \t\r\n"
                    "X-Empty:\r\n"
                    "\r\n";

    req(s, &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.method, HTTP_GET);
    assert_slice(r.req.method_name, "GET");
    assert_slice(r.req.target, "/a/b?x=1&y");
    assert_slice(r.req.path, "/a/b");
    assert_slice(r.req.query, "x=1&y");
    assert_slice(r.req.host, "Example.com:8080");
    assert_int_equal(r.req.version, 11);
    assert_int_equal(r.req.nheaders, 3);
    assert_slice(r.headers[1].name, "User-Agent");
    assert_slice(r.headers[1].value, "t/1");
    assert_int_equal(r.headers[2].value.len, 0);
    assert_int_equal(r.req.framing, HTTP_BODY_NONE);
    assert_true(r.req.keep_alive);
    assert_false(r.req.expect_continue);
    assert_int_equal(r.req.head_len, strlen(s));
    parsed_free(&r);
}

static void
test_request_query_forms(void **state)
{
    struct parsed r;

    req("GET /p HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    assert_null(r.req.query.ptr);
    parsed_free(&r);
    req("GET /p? HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    assert_non_null(r.req.query.ptr);
    assert_int_equal(r.req.query.len, 0);
    parsed_free(&r);
    /* Brackets and percent-encodings are allowed; "?" in a query too. */
    req("GET /%2Fa?a[]=1&b=%7e?c HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.req.path, "/%2Fa");
    assert_slice(r.req.query, "a[]=1&b=%7e?c");
    parsed_free(&r);
}

static void
test_request_methods(void **state)
{
    struct parsed r;

    req("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.method, HTTP_OTHER);
    assert_slice(r.req.method_name, "PURGE");
    parsed_free(&r);
    req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.req.path, "*");
    assert_null(r.req.query.ptr);
    parsed_free(&r);
    /* Methods are case-sensitive: "get" is some other method. */
    req("get / HTTP/1.1\r\nHost: a\r\n\r\n", &r);
    assert_int_equal(r.req.method, HTTP_OTHER);
    parsed_free(&r);
}

static void
test_request_absolute_form(void **state)
{
    struct parsed r;

    req("GET HTTP://Example.com/x?y HTTP/1.1\r\nHost: example.COM\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.req.path, "/x");
    assert_slice(r.req.query, "y");
    assert_slice(r.req.host, "example.COM");
    parsed_free(&r);
    req("GET https://h:8443 HTTP/1.1\r\nHost: h:8443\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.req.path, "/");
    assert_null(r.req.query.ptr);
    parsed_free(&r);
    req("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.req.path, "/");
    assert_slice(r.req.query, "q");
    parsed_free(&r);
    /* HTTP/1.0 without Host takes the host from the target. */
    req("GET http://[::1]:81/ HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.req.host, "[::1]:81");
    parsed_free(&r);
}

static void
test_request_versions(void **state)
{
    struct parsed r;

    req("GET / HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.version, 10);
    assert_null(r.req.host.ptr);
    assert_false(r.req.keep_alive);
    parsed_free(&r);
    req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r);
    assert_true(r.req.keep_alive);
    parsed_free(&r);
    req("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", &r);
    assert_false(r.req.keep_alive);
    parsed_free(&r);
    req("GET /" H11 "Connection: foo, Close\r\n\r\n", &r);
    assert_false(r.req.keep_alive);
    parsed_free(&r);
    req("GET /" H11 "Connection: closed\r\n\r\n", &r);
    assert_true(r.req.keep_alive);
    parsed_free(&r);
}

static void
test_request_framing(void **state)
{
    struct parsed r;

    req("POST /" H11 "Content-Length: 003\r\n\r\nabc", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.framing, HTTP_BODY_LENGTH);
    assert_int_equal(r.req.content_length, 3);
    assert_int_equal(r.req.head_len, strlen("POST /" H11) + 23);
    parsed_free(&r);
    req("POST /" H11 "Content-Length: \t42 \r\n\r\n", &r);
    assert_int_equal(r.req.content_length, 42);
    parsed_free(&r);
    req("POST /" H11 "Content-Length: 1048576\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    parsed_free(&r);
    req("POST /" H11 "transfer-encoding: Chunked\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.framing, HTTP_BODY_CHUNKED);
    parsed_free(&r);
    req("POST /" H11 "Expect: 100-Continue\r\n\r\n", &r);
    assert_true(r.req.expect_continue);
    parsed_free(&r);
    req("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_false(r.req.expect_continue);
    parsed_free(&r);
}

static void
test_request_field_values(void **state)
{
    struct parsed r;

    /* obs-text and HTAB inside a value are allowed. */
    req("GET /" H11 "X-A: D\xc3\xbcsseldorf\t\xff end\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.headers[1].value, "D\xc3\xbcsseldorf\t\xff end");
    parsed_free(&r);
    req("GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    parsed_free(&r);
    req("GET / HTTP/1.1\r\nHost: my_host.example~1\r\n\r\n", &r);
    assert_int_equal(r.rc, AW_OK);
    parsed_free(&r);
}

static void
test_request_pipelined(void **state)
{
    const char *s = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /2 HTTP/1.1\r\nHost: b\r\n\r\n";
    struct parsed r;
    struct parsed r2;

    req(s, &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.head_len, strlen(s) / 2);
    req(s + r.req.head_len, &r2);
    assert_int_equal(r2.rc, AW_OK);
    assert_slice(r2.req.path, "/2");
    assert_slice(r2.req.host, "b");
    assert_int_equal(r2.req.head_len, strlen(s) / 2);
    parsed_free(&r);
    parsed_free(&r2);
}

static void
test_request_incomplete(void **state)
{
    struct parsed r;

    req("GET / HTTP/1.1\r\nHost: a\r\n", &r);
    assert_int_equal(r.rc, AW_AGAIN);
    parsed_free(&r);
    req("GET / HTTP/1.1\r\nHost: a\r\n\r", &r);
    assert_int_equal(r.rc, AW_AGAIN);
    parsed_free(&r);
    req("G", &r);
    assert_int_equal(r.rc, AW_AGAIN);
    parsed_free(&r);
}

/* A bare LF is refused as soon as it arrives, before the head ends. */
static void
test_request_bare_lf_early(void **state)
{
    struct parsed r;

    req("GET / HTTP/1.1\nX: a\nX: b\n", &r);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "http.bare_lf");
    parsed_free(&r);
    req("GET / HTTP/1.1\r\nHost: a\r\nX: b\n", &r);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "http.bare_lf");
    parsed_free(&r);
    /* A CR that starts a line must be followed by LF, also early. */
    req("GET / HTTP/1.1\r\nHost: a\r\n\rGET /x", &r);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "http.bare_cr");
    parsed_free(&r);
}

/*
 * A malformed line is refused before the head ends, with the reason a
 * complete head would get.
 */
static const struct reject_case early_rejects[] = {
    {"GET / HTTP/5.6", 505, "http.version_not_supported"},
    {"GET / HTTP/1.1\r\n Host", 400, "http.obs_fold"},
    {"G@T", 400, "http.bad_request_line"},
    {"GET /a#", 400, "http.fragment"},
    {"GET /%zz", 400, "http.bad_target"},
    {"CONNECT ", 501, "http.method_not_supported"},
    {"OPTIONS *x ", 400, "http.bad_target"},
    {"GET * ", 400, "http.bad_target"},
    {"GET http://a@b/ ", 400, "http.bad_target"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX y", 400, "http.bad_field_name"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: \x7f", 400, "http.bad_field_value"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb", 400, "http.bare_cr"},
    {"GET / HTTP/1.1\rX", 400, "http.bare_cr"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n", 400, "http.duplicate_host"},
    {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n", 400,
     "http.ambiguous_length"},
    {"POST / HTTP/1.1\r\nContent-Length: 1000000000000000000000\r\n", 400,
     "http.bad_content_length"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST / HTTP/1.1\r\nExpect: x\r\n", 417, "http.expectation_failed"},
};

static void
test_reject_early(void **state)
{
    run_rejects(early_rejects, ARRAY_LEN(early_rejects));
}

/*
 * With several faults, the first in byte order is reported, and (as
 * every test here checks) however the input is split.
 */
static const struct reject_case first_fault[] = {
    {"GET / HTTP/1.1\r\nX@: a\rb\r\n\r\n", 400, "http.bad_field_name"},
    {"GET / HTTP/1.1\r\nX: a\rb@\r\n\r\n", 400, "http.bare_cr"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\nY\n\r\n", 400,
     "http.bad_field_value"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX\x01 \n\r\n", 400, "http.bad_field_name"},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\n", 400, "http.bare_lf"},
    {"POST / HTTP/1.1\r\nContent-Length: x\r\nY\n", 400,
     "http.bad_content_length"},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: "
     "x\r\n\r\n",
     400, "http.ambiguous_length"},
    {"POST / HTTP/1.1\r\nContent-Length: x\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     400, "http.bad_content_length"},
    {"GET /#\x01 HTTP/9.9\r\n\r\n", 400, "http.fragment"},
    {"GET / HTTP/9.9\r\nX@: y\r\n\r\n", 505, "http.version_not_supported"},
    {"GET / HTTP/1.1\r\nX: y\r\n\r\n", 400, "http.missing_host"},
    {"GET / HTTP/1.1\r\nExpect: no\r\n\r\n", 417, "http.expectation_failed"},
};

static void
test_first_fault(void **state)
{
    run_rejects(first_fault, ARRAY_LEN(first_fault));
}

static const struct reject_case request_line_rejects[] = {
    {"GET  /" H11 "\r\n", 400, "http.bad_request_line"},
    {"GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET\t/" H11 "\r\n", 400, "http.bad_request_line"},
    {"GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / http/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / HTTP/1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / HTTP/x.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET /\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET\r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"GET / \r\nHost: a\r\n\r\n", 400, "http.bad_request_line"},
    {"\r\nGET /" H11 "\r\n", 400, "http.bad_request_line"},
    {" GET /" H11 "\r\n", 400, "http.bad_request_line"},
    {"G@T /" H11 "\r\n", 400, "http.bad_request_line"},
    {"GET /a b" H11 "\r\n", 400, "http.bad_request_line"},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "http.version_not_supported"},
    {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "http.version_not_supported"},
    {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505, "http.version_not_supported"},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "http.version_not_supported"},
    {"CONNECT a.com:443 HTTP/1.1\r\nHost: a.com:443\r\n\r\n", 501,
     "http.method_not_supported"},
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "http.bare_lf"},
    {"GET / HTTP/1.1\rHost: a\r\n\r\n", 400, "http.bare_cr"},
};

static void
test_reject_request_line(void **state)
{
    run_rejects(request_line_rejects, ARRAY_LEN(request_line_rejects));
}

static const struct reject_case target_rejects[] = {
    {"GET /a#b" H11 "\r\n", 400, "http.fragment"},
    {"GET /#" H11 "\r\n", 400, "http.fragment"},
    {"GET /%G1" H11 "\r\n", 400, "http.bad_target"},
    {"GET /%4" H11 "\r\n", 400, "http.bad_target"},
    {"GET /%4g" H11 "\r\n", 400, "http.bad_target"},
    {"GET /%" H11 "\r\n", 400, "http.bad_target"},
    {"GET /\x01" H11 "\r\n", 400, "http.bad_target"},
    {"GET /\x7f" H11 "\r\n", 400, "http.bad_target"},
    {"GET /\xce\xb4" H11 "\r\n", 400, "http.bad_target"},
    {"GET *" H11 "\r\n", 400, "http.bad_target"},
    {"OPTIONS *x" H11 "\r\n", 400, "http.bad_target"},
    {"GET a.com:80" H11 "\r\n", 400, "http.bad_target"},
    {"GET ftp://a/b" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://" H11 "\r\n", 400, "http.bad_target"},
    {"GET http:///x" H11 "\r\n", 400, "http.bad_target"},
    {"GET http:/a/x" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://u@a/x" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://u:p@a/x" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://h%41/" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://a:99999/" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://a:/" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://[::1/" H11 "\r\n", 400, "http.bad_target"},
    {"GET http://b/x" H11 "\r\n", 400, "http.host_mismatch"},
    {"GET http://a:80/x" H11 "\r\n", 400, "http.host_mismatch"},
    {"GET http://a/x HTTP/1.1\r\n\r\n", 400, "http.missing_host"},
};

static void
test_reject_target(void **state)
{
    static const char bad[] = "\"<>\\^`{|}";
    char line[64];

    run_rejects(target_rejects, ARRAY_LEN(target_rejects));
    for (size_t i = 0; i < sizeof(bad) - 1; i++) {
        snprintf(line, sizeof(line), "GET /a%cb" H11 "\r\n", bad[i]);
        expect_reject(line, 400, "http.bad_target");
    }
}

static const struct reject_case field_rejects[] = {
    {"GET /" H11 "X: 1\r\n  2\r\n\r\n", 400, "http.obs_fold"},
    {"GET /" H11 "X: 1\r\n\t2\r\n\r\n", 400, "http.obs_fold"},
    {"GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "http.obs_fold"},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 "X\t: a\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 "Ho st: a\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 ": v\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 "X@: v\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 "X\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 "X\xc3\xa9: v\r\n\r\n", 400, "http.bad_field_name"},
    {"GET /" H11 "X: a\x01b\r\n\r\n", 400, "http.bad_field_value"},
    {"GET /" H11 "X: a\x7f\r\n\r\n", 400, "http.bad_field_value"},
    {"GET /" H11 "X: \x0c\r\n\r\n", 400, "http.bad_field_value"},
    {"GET /" H11 "X: \x0b\r\n\r\n", 400, "http.bad_field_value"},
    {"GET /" H11 "X: \x1b[0m\r\n\r\n", 400, "http.bad_field_value"},
    {"GET /" H11 "X: a\rb\r\n\r\n", 400, "http.bare_cr"},
    {"GET /" H11 "X\rY: b\r\n\r\n", 400, "http.bare_cr"},
    {"GET /" H11 "\rX: b\r\n\r\n", 400, "http.bare_cr"},
    {"GET /" H11 "X: a\nY: b\r\n\r\n", 400, "http.bare_lf"},
    {"GET /" H11 "\n", 400, "http.bare_lf"},
    {"GET /" H11 "\r\r\n", 400, "http.bare_cr"},
};

static void
test_reject_fields(void **state)
{
    run_rejects(field_rejects, ARRAY_LEN(field_rejects));
    /* NUL needs an explicit length. */
    static const char nul[] = "GET /" H11 "X: a\0b\r\n\r\n";

    expect_reject_n(nul, sizeof(nul) - 1, &limits, 400, "http.bad_field_value");
}

static const struct reject_case host_rejects[] = {
    {"GET / HTTP/1.1\r\n\r\n", 400, "http.missing_host"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400,
     "http.duplicate_host"},
    {"GET / HTTP/1.0\r\nhost: a\r\nHOST: b\r\n\r\n", 400,
     "http.duplicate_host"},
    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a=b\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a%2e\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: []\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a:080808\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: :80\r\n\r\n", 400, "http.bad_host"},
    {"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "http.bad_host"},
};

static void
test_reject_host(void **state)
{
    run_rejects(host_rejects, ARRAY_LEN(host_rejects));
}

static const struct reject_case framing_rejects[] = {
    {"POST /" H11 "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
     400, "http.ambiguous_length"},
    {"POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
     400, "http.ambiguous_length"},
    {"POST /" H11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400,
     "http.ambiguous_length"},
    {"POST /" H11 "Content-Length: 5, 5\r\n\r\n", 400,
     "http.bad_content_length"},
    {"POST /" H11 "Content-Length: -1\r\n\r\n", 400, "http.bad_content_length"},
    {"POST /" H11 "Content-Length: +1\r\n\r\n", 400, "http.bad_content_length"},
    {"POST /" H11 "Content-Length: 1 2\r\n\r\n", 400,
     "http.bad_content_length"},
    {"POST /" H11 "Content-Length:\r\n\r\n", 400, "http.bad_content_length"},
    {"POST /" H11 "Content-Length: 0x10\r\n\r\n", 400,
     "http.bad_content_length"},
    {"POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n", 400,
     "http.bad_content_length"},
    {"POST /" H11 "Content-Length: 1048577\r\n\r\n", 413,
     "http.body_too_large"},
    {"POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Transfer-Encoding: identity\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Transfer-Encoding: chunkedchunked\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Transfer-Encoding:\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Transfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     400, "http.bad_transfer_encoding"},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     "http.bad_transfer_encoding"},
    {"POST /" H11 "Expect: 200-ok\r\n\r\n", 417, "http.expectation_failed"},
    {"POST /" H11 "Expect: 100-continue, x\r\n\r\n", 417,
     "http.expectation_failed"},
};

static void
test_reject_framing(void **state)
{
    run_rejects(framing_rejects, ARRAY_LEN(framing_rejects));
}

/* Build "GET /<target> HTTP/1.1" plus n fields "Xi: v" into buf. */
static size_t
build_head(char *buf, size_t cap, size_t target_len, unsigned nfields,
           bool finish)
{
    size_t n = (size_t)snprintf(buf, cap, "GET /");

    for (size_t i = 1; i < target_len; i++)
        buf[n++] = 'a';
    n += (size_t)snprintf(buf + n, cap - n, " HTTP/1.1\r\nHost: a\r\n");
    for (unsigned i = 1; i < nfields; i++)
        n += (size_t)snprintf(buf + n, cap - n, "X%u: v\r\n", i);
    if (finish)
        n += (size_t)snprintf(buf + n, cap - n, "\r\n");
    return n;
}

static void
test_limits(void **state)
{
    static char buf[16384];
    struct http_limits small = {256, 4, 100, 10};
    struct parsed r;
    size_t n;

    /* Exactly at each limit is accepted. */
    n = build_head(buf, sizeof(buf), 2048, 32, true);
    req_lim(buf, n, &limits, &r);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.req.nheaders, 32);
    parsed_free(&r);
    n = build_head(buf, sizeof(buf), 2049, 1, true);
    expect_reject_n(buf, n, &limits, 414, "http.target_too_long");
    n = build_head(buf, sizeof(buf), 10, 33, true);
    expect_reject_n(buf, n, &limits, 431, "http.too_many_headers");
    /* Too many fields is seen before the head ends. */
    n = build_head(buf, sizeof(buf), 10, 6, false);
    expect_reject_n(buf, n, &small, 431, "http.too_many_headers");
    /* A head that does not end within max_head_bytes. */
    n = (size_t)snprintf(buf, sizeof(buf),
                         "GET / HTTP/1.1\r\nHost: a\r\n"
                         "X: %0240d\r\n\r\n",
                         0);
    expect_reject_n(buf, n, &small, 431, "http.head_too_large");
    expect_reject_n(buf, 256, &small, 431, "http.head_too_large");
    /* A request line that reaches the head limit with a long target. */
    n = build_head(buf, sizeof(buf), 300, 1, true);
    expect_reject_n(buf, n, &small, 414, "http.target_too_long");
    expect_reject_n(buf, 256, &small, 414, "http.target_too_long");
    n = (size_t)snprintf(buf, sizeof(buf), "GET /%0300d", 0);
    expect_reject_n(buf, n, &small, 414, "http.target_too_long");
    n = (size_t)snprintf(buf, sizeof(buf), "%0300d", 0);
    expect_reject_n(buf, n, &small, 431, "http.head_too_large");
    /* The head limit counts the final CRLF. */
    n = build_head(buf, sizeof(buf), 10, 1, true);
    small.max_head_bytes = n;
    req_lim(buf, n, &small, &r);
    assert_int_equal(r.rc, AW_OK);
    parsed_free(&r);
    small.max_head_bytes = n - 1;
    expect_reject_n(buf, n, &small, 431, "http.head_too_large");
}

/* A response parsed both ways; returns the one-shot result. */
static void
res_parse(const char *s, enum http_method m, struct parsed *out)
{
    size_t len = strlen(s);
    struct http_parser p;
    struct parsed slow;

    memset(out, 0, sizeof(*out));
    out->buf = copy_exact(s, len);
    out->res.headers = out->headers;
    http_parser_init(&p);
    out->rc = http_parse_response(&p, out->buf, len, &limits, m, &out->res,
                                  &out->err);
    memset(&slow, 0, sizeof(slow));
    slow.res.headers = slow.headers;
    slow.rc = AW_AGAIN;
    http_parser_init(&p);
    for (size_t n = 1; n <= len && slow.rc == AW_AGAIN; n++) {
        char *prefix = copy_exact(s, n);

        slow.rc = http_parse_response(&p, prefix, n, &limits, m, &slow.res,
                                      &slow.err);
        free(prefix);
    }
    assert_int_equal(out->rc, slow.rc);
    if (out->rc == AW_OK) {
        assert_int_equal(out->res.framing, slow.res.framing);
        assert_int_equal(out->res.head_len, slow.res.head_len);
    }
}

struct framing_case {
    const char *input;
    enum http_method method;
    int status;
    enum http_framing framing;
    uint64_t content_length;
    bool keep_alive;
};

static const struct framing_case response_framings[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", HTTP_GET, 200,
     HTTP_BODY_LENGTH, 5, true},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_POST, 200,
     HTTP_BODY_CHUNKED, 0, true},
    {"HTTP/1.1 200 OK\r\n\r\n", HTTP_GET, 200, HTTP_BODY_CLOSE, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HTTP_HEAD, 200,
     HTTP_BODY_NONE, 0, true},
    {"HTTP/1.1 200 OK\r\n\r\n", HTTP_HEAD, 200, HTTP_BODY_NONE, 0, true},
    {"HTTP/1.1 204 No Content\r\n\r\n", HTTP_DELETE, 204, HTTP_BODY_NONE, 0,
     true},
    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 99999999\r\n\r\n", HTTP_GET,
     304, HTTP_BODY_NONE, 0, true},
    {"HTTP/1.1 100 Continue\r\n\r\n", HTTP_POST, 100, HTTP_BODY_NONE, 0, true},
    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", HTTP_GET, 101,
     HTTP_BODY_NONE, 0, true},
    {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n", HTTP_GET, 200,
     HTTP_BODY_LENGTH, 2, false},
    {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
     HTTP_GET, 200, HTTP_BODY_LENGTH, 2, true},
    {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n",
     HTTP_GET, 200, HTTP_BODY_LENGTH, 2, false},
    {"HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n", HTTP_GET, 404,
     HTTP_BODY_LENGTH, 0, true},
    {"HTTP/1.1 599 x\r\nContent-Length: 0\r\n\r\n", HTTP_GET, 599,
     HTTP_BODY_LENGTH, 0, true},
};

static void
test_response_framing(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(response_framings); i++) {
        const struct framing_case *c = &response_framings[i];
        struct parsed r;

        res_parse(c->input, c->method, &r);
        if (r.rc != AW_OK) {
            print_error("response %zu: rc %d %s\n", i, r.rc, r.err.detail);
            fail();
        }
        assert_int_equal(r.res.status, c->status);
        assert_int_equal(r.res.framing, c->framing);
        assert_int_equal(r.res.content_length, c->content_length);
        assert_int_equal(r.res.keep_alive, c->keep_alive);
        assert_int_equal(r.res.head_len,
                         strstr(c->input, "\r\n\r\n") + 4 - c->input);
        parsed_free(&r);
    }
}

static void
test_response_fields(void **state)
{
    struct parsed r;

    res_parse("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
              "Content-Length: 0\r\n\r\n",
              HTTP_GET, &r);
    assert_int_equal(r.rc, AW_OK);
    assert_slice(r.res.reason, "Service Unavailable");
    assert_int_equal(r.res.version, 11);
    assert_int_equal(r.res.nheaders, 2);
    assert_slice(r.headers[0].name, "Retry-After");
    parsed_free(&r);
}

static const char *const response_rejects[] = {
    "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 20 OK\r\n\r\n",
    "HTTP/1.1 2000 OK\r\n\r\n",
    "HTTP/1.1  200 OK\r\n\r\n",
    "HTTP/2 200 OK\r\n\r\n",
    "HTTP/2.0 200 OK\r\n\r\n",
    "HTTP/1.2 200 OK\r\n\r\n",
    "http/1.1 200 OK\r\n\r\n",
    "HTTP/1.1 099 X\r\n\r\n",
    "HTTP/1.1 600 X\r\n\r\n",
    "HTTP/1.1 200 O\x01K\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
    "\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n",
    "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "HTTP/1.1 204 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
    "\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: 1\r\n 2\r\n\r\n",
    "HTTP/1.1 200 OK\nX: 1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX : 1\r\n\r\n",
    "\r\nHTTP/1.1 200 OK\r\n\r\n",
};

static void
test_response_rejects(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(response_rejects); i++) {
        struct parsed r;

        res_parse(response_rejects[i], HTTP_GET, &r);
        if (r.rc != AW_INVALID) {
            print_error("response %zu accepted: %s\n", i, response_rejects[i]);
            fail();
        }
        assert_int_equal(r.err.status, 502);
        assert_string_equal(r.err.reason, "http.bad_upstream_response");
        assert_non_null(r.err.detail);
        parsed_free(&r);
    }
}

/* The class table must agree with the RFC definitions it encodes. */
static void
test_char_classes(void **state)
{
    static const char tchar_extra[] = "!#$%&'*+-.^_`|~";
    static const char target_bad[] = "\"<>\\^`{|}#%";

    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                     (c >= 'A' && c <= 'Z');
        bool vchar = c >= 0x21 && c <= 0x7e;
        unsigned want = 0;

        if (alnum || (c != 0 && strchr(tchar_extra, c) != NULL))
            want |= HTTP_CH_TOKEN;
        if (c == ' ' || c == '\t' || vchar || c >= 0x80)
            want |= HTTP_CH_VALUE;
        if (vchar && strchr(target_bad, c) == NULL)
            want |= HTTP_CH_TARGET;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
            (c >= 'A' && c <= 'F'))
            want |= HTTP_CH_HEX;
        if (alnum || c == '-' || c == '.' || c == '_' || c == '~')
            want |= HTTP_CH_HOST;
        if (c == ' ' || c == '\t' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
            (c >= 0x5d && c <= 0x7e) || c >= 0x80)
            want |= HTTP_CH_QDTEXT;
        if (http_chars[c] != want) {
            print_error("byte 0x%02x: table %u, want %u\n", c, http_chars[c],
                        want);
            fail();
        }
    }
}

/*
 * The 16-byte path of http_span_value must stop exactly where the table
 * says, for every byte value at every position of a block and its tail.
 */
static void
test_span_value(void **state)
{
    char buf[40];

    for (int c = 0; c < 256; c++) {
        bool ok = http_ch_is((unsigned char)c, HTTP_CH_VALUE);

        for (size_t at = 0; at < sizeof(buf); at++) {
            memset(buf, 'a', sizeof(buf));
            buf[at] = (char)c;

            const char *stop = http_span_value(buf, buf + sizeof(buf));

            assert_ptr_equal(stop, ok ? buf + sizeof(buf) : buf + at);
        }
    }
}

/* Query parameters as forms write them, and their decoding. */
static void
test_query(void **state)
{
    static const struct {
        const char *q;
        const char *want; /* name=value|name=value|... as given, raw */
    } cases[] = {
        {"", ""},
        {"a=1", "a=1|"},
        {"a=1&b=2", "a=1|b=2|"},
        {"a&b=", "a=|b=|"},
        {"a=1&&b", "a=1|=|b=|"},
        {"&", "=|=|"},
        {"a=b=c", "a=b=c|"},
        {"=x", "=x|"},
    };
    struct arena a;
    struct slice name, value, out;

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char got[128] = "";
        size_t pos = 0, used = 0;
        struct slice q = {cases[i].q, strlen(cases[i].q)};

        while (http_query_next(q, &pos, &name, &value))
            used += (size_t)snprintf(got + used, sizeof(got) - used,
                                     "%.*s=%.*s|", (int)name.len, name.ptr,
                                     (int)value.len, value.ptr);
        assert_string_equal(got, cases[i].want);
    }
    assert_false(http_query_next(SLICE_NULL, &(size_t){0}, &name, &value));

    arena_init(&a, 256, 4096);
    assert_int_equal(http_form_decode(&a, SLICE_LIT("a+b%20c%2b%2F"), &out),
                     AW_OK);
    assert_string_equal(out.ptr, "a b c+/");
    assert_int_equal(http_form_decode(&a, SLICE_LIT("%4"), &out),
                     AW_INVALID);
    assert_int_equal(http_form_decode(&a, SLICE_LIT("%zz"), &out),
                     AW_INVALID);
    assert_int_equal(http_form_decode(&a, SLICE_LIT("%"), &out), AW_INVALID);
    assert_int_equal(http_form_decode(&a, SLICE_LIT(""), &out), AW_OK);
    assert_int_equal(out.len, 0);
    arena_fini(&a);
    assert_int_equal(hex_digit_value('f'), 15);
    assert_int_equal(hex_digit_value('F'), 15);
    assert_int_equal(hex_digit_value('g'), -1);
}

static void
test_helpers(void **state)
{
    struct http_header h[2] = {{SLICE_LIT("Host"), SLICE_LIT("a")},
                               {SLICE_LIT("X-Y"), SLICE_LIT("b")}};

    assert_ptr_equal(http_header_find(h, 2, "x-y"), &h[1]);
    assert_null(http_header_find(h, 2, "x"));
    assert_null(http_header_find(h, 0, "host"));
    assert_true(http_list_has(SLICE_LIT("close"), "close"));
    assert_true(http_list_has(SLICE_LIT(" a ,\tClose "), "close"));
    assert_true(http_list_has(SLICE_LIT("a, ,b"), "b"));
    assert_false(http_list_has(SLICE_LIT("closed, xclose"), "close"));
    assert_false(http_list_has(SLICE_LIT(""), "close"));
    assert_false(http_list_has(SLICE_LIT(","), "close"));
    assert_true(http_is_hop_by_hop(SLICE_LIT("te")));
    assert_true(http_is_hop_by_hop(SLICE_LIT("PROXY-AUTHORIZATION")));
    assert_true(http_is_hop_by_hop(SLICE_LIT("Keep-Alive")));
    assert_false(http_is_hop_by_hop(SLICE_LIT("Trailers")));
    assert_false(http_is_hop_by_hop(SLICE_LIT("TE ")));
    assert_false(http_is_hop_by_hop(SLICE_LIT("Host")));
    assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");
    assert_string_equal(http_method_name(HTTP_METHOD_COUNT), "OTHER");
    assert_int_equal(http_method_from(SLICE_LIT("DELETE")), HTTP_DELETE);
    assert_int_equal(http_method_from(SLICE_LIT("delete")), HTTP_OTHER);
    assert_int_equal(http_method_from(SLICE_LIT("GETX")), HTTP_OTHER);
    assert_int_equal(http_method_from(SLICE_LIT("")), HTTP_OTHER);
}

/*
 * A long line fed one byte per call costs linear time: the partial line
 * is checked again only when it has doubled. Checking a 200000-byte
 * request line in full at every byte would take tens of seconds; the
 * bound leaves room for a slow, busy machine and sanitizers.
 */
static void
test_bytewise_linear(void **state)
{
    const size_t n = 200000;
    const struct http_limits big = {n + 64, 8, n, 0};
    static const char tail[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t total = n + sizeof(tail) - 1;
    char *buf = malloc(total);
    struct http_header hs[8];
    struct http_request r = {.headers = hs};
    struct http_parser p;
    struct http_error err;
    struct timespec t0;
    struct timespec t1;
    int rc = AW_AGAIN;

    assert_non_null(buf);
    memcpy(buf, "GET /", 5);
    memset(buf + 5, 'a', n - 5);
    memcpy(buf + n, tail, sizeof(tail) - 1);
    http_parser_init(&p);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t len = 1; len <= total && rc == AW_AGAIN; len++)
        rc = http_parse_request(&p, buf, len, &big, &r, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(rc, AW_OK);
    assert_int_equal(r.head_len, total);
    assert_true(t1.tv_sec - t0.tv_sec < 3);
    free(buf);
}

/* Nanoseconds per parse of head, the best of five rounds. */
static double
time_parse(const char *head, size_t len, int rounds)
{
    struct http_header hs[MAXH];
    struct http_request r = {.headers = hs};
    struct http_parser p;
    struct http_error err;
    double best = 1e12;

    for (int k = 0; k < 5; k++) {
        struct timespec t0;
        struct timespec t1;
        int ok = 0;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < rounds; i++) {
            http_parser_init(&p);
            ok += http_parse_request(&p, head, len, &limits, &r, &err) == AW_OK;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_int_equal(ok, rounds);

        double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
                    (double)(t1.tv_nsec - t0.tv_nsec);

        best = MIN(best, ns / rounds);
    }
    return best;
}

/*
 * Not an assertion: prints how long a typical browser-like head takes,
 * so that a slowdown shows in the test log.
 */
static void
test_speed_report(void **state)
{
    static const char head[] =
        "GET /api/v1/users/12345/orders?limit=20&offset=40 HTTP/1.1\r\n"
        "Host: api.example.com\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101\r\n"
        "Accept: application/json, text/plain, */*\r\n"
        "Accept-Language: en-US,en;q=0.5\r\n"
        "Accept-Encoding: gzip, deflate, br\r\n"
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc\r\n"
        "Connection: keep-alive\r\n"
        "\r\n";

    printf("speed: %zu-byte head, %.0f ns per parse (best of 5)\n",
           sizeof(head) - 1, time_parse(head, sizeof(head) - 1, 100000));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_simple),
        cmocka_unit_test(test_request_query_forms),
        cmocka_unit_test(test_request_methods),
        cmocka_unit_test(test_request_absolute_form),
        cmocka_unit_test(test_request_versions),
        cmocka_unit_test(test_request_framing),
        cmocka_unit_test(test_request_field_values),
        cmocka_unit_test(test_request_pipelined),
        cmocka_unit_test(test_request_incomplete),
        cmocka_unit_test(test_request_bare_lf_early),
        cmocka_unit_test(test_reject_early),
        cmocka_unit_test(test_first_fault),
        cmocka_unit_test(test_reject_request_line),
        cmocka_unit_test(test_reject_target),
        cmocka_unit_test(test_reject_fields),
        cmocka_unit_test(test_reject_host),
        cmocka_unit_test(test_reject_framing),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_response_framing),
        cmocka_unit_test(test_response_fields),
        cmocka_unit_test(test_response_rejects),
        cmocka_unit_test(test_char_classes),
        cmocka_unit_test(test_span_value),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_bytewise_linear),
        cmocka_unit_test(test_speed_report),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
