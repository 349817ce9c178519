/*
 * The request head parser: the request line, the request-target and its
 * forms, and the rules that need the whole head (Host, framing,
 * connection reuse).
 *
 * The request line is read strictly left to right and refused at its
 * first faulty byte, so that a line checked before it has all arrived
 * (see head.h) gets the verdict it will get once complete.
 */
#include <string.h>

#include "http/head.h"

/* SLICE_LIT is a compound literal, which a static initializer may not use. */
/* clang-format off */
#define METHOD(s) {(s), sizeof(s) - 1}

static const struct slice method_names[HTTP_METHOD_COUNT] = {
    [HTTP_GET] = METHOD("GET"),
    [HTTP_HEAD] = METHOD("HEAD"),
    [HTTP_POST] = METHOD("POST"),
    [HTTP_PUT] = METHOD("PUT"),
    [HTTP_DELETE] = METHOD("DELETE"),
    [HTTP_PATCH] = METHOD("PATCH"),
    [HTTP_OPTIONS] = METHOD("OPTIONS"),
    [HTTP_TRACE] = METHOD("TRACE"),
    [HTTP_CONNECT] = METHOD("CONNECT"),
    [HTTP_OTHER] = METHOD("OTHER"),
};
/* clang-format on */

const char *
http_method_name(enum http_method m)
{
    if ((unsigned)m >= HTTP_METHOD_COUNT)
        m = HTTP_OTHER;
    return method_names[m].ptr;
}

enum http_method
http_method_from(struct slice name)
{
    /* Method names are case-sensitive (RFC 9110 section 9.1). */
    for (int m = 0; m < HTTP_OTHER; m++) {
        if (slice_eq(name, method_names[m]))
            return (enum http_method)m;
    }
    return HTTP_OTHER;
}

/*
 * The request line stopped at p, before end, on a byte that is not the
 * one its grammar wants there. A CR decides only with the byte after it.
 */
static int
line_fail(const char *p, const char *end, struct http_error *err)
{
    if (*p == '\r') {
        int rc = http_at_cr(p, end, err);

        if (rc != AW_OK)
            return rc;
    }
    return http_fail(err, 400, "http.bad_request_line",
                     "The request line is not METHOD SP target SP "
                     "HTTP/x.y CRLF.");
}

/*
 * Read the method and the space after it. CONNECT is refused at once: a
 * tunnel cannot be inspected.
 */
static int
method_scan(const char **pp, const char *end, struct http_request *req,
            struct http_error *err)
{
    const char *s = *pp;
    const char *p = s;

    p = http_span(p, end, HTTP_CH_TOKEN);
    if (p == end)
        return AW_AGAIN;
    if (*p != ' ' || p == s)
        return line_fail(p, end, err);
    req->method_name = (struct slice){s, (size_t)(p - s)};
    req->method = http_method_from(req->method_name);
    if (req->method == HTTP_CONNECT)
        return http_fail(err, 501, "http.method_not_supported",
                         "CONNECT is not supported.");
    *pp = p + 1;
    return AW_OK;
}

/* Explain why the target that started at s stopped at p, not at SP. */
static int
target_fail(const char *s, const char *p, const char *end,
            struct http_error *err)
{
    if (*p == '#')
        return http_fail(err, 400, "http.fragment",
                         "The request-target has a fragment.");
    if (*p == '\r' || *p == '\t' || (*p == ' ' && p == s))
        return line_fail(p, end, err);
    return http_fail(err, 400, "http.bad_target",
                     "The request-target has a byte that is not allowed.");
}

/*
 * Check a "%" at p: two hex digits must follow. Returns AW_AGAIN while
 * they have not arrived.
 */
static int
target_percent(const char *p, const char *end, struct http_error *err)
{
    for (int i = 1; i <= 2; i++) {
        if (p + i == end)
            return AW_AGAIN;
        if (!http_ch_is((unsigned char)p[i], HTTP_CH_HEX))
            return http_fail(err, 400, "http.bad_target",
                             "A percent sign in the request-target is "
                             "not followed by two hex digits.");
    }
    return AW_OK;
}

/*
 * Read the request-target at *pp up to the SP after it. Accepted bytes
 * are the printable ASCII of RFC 3986 less those it never allows
 * unencoded (" < > \ ^ ` { | }), and "%" only before two hex digits. The
 * brackets, which RFC 3986 keeps for IP literals, are accepted anywhere:
 * clients send them raw in query strings and they cannot change where a
 * target ends. A "#" is refused: fragments are never sent on the wire.
 * The length is checked each time the scan stops, so 414 comes as soon
 * as the target is too long, whatever follows.
 */
static int
target_scan(const char **pp, const char *end, size_t max, struct slice *target,
            struct http_error *err)
{
    const char *s = *pp;
    const char *p = s;
    int rc;

    for (;;) {
        p = http_span(p, end, HTTP_CH_TARGET);
        if ((size_t)(p - s) > max)
            return http_fail(err, 414, "http.target_too_long",
                             "The request-target is longer than allowed.");
        if (p == end)
            return AW_AGAIN;
        if (*p != '%')
            break;
        rc = target_percent(p, end, err);
        if (rc != AW_OK)
            return rc;
        p += 3;
    }
    if (*p != ' ' || p == s)
        return target_fail(s, p, end, err);
    *target = (struct slice){s, (size_t)(p - s)};
    *pp = p + 1;
    return AW_OK;
}

static inline bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Read "HTTP/" DIGIT "." DIGIT CR LF at *pp, byte by byte. HTTP/1.0 and
 * HTTP/1.1 are served; any other version number is 505 as soon as its
 * digits are read, and anything else (lower case, extra bytes) is 400.
 */
static int
request_version(const char **pp, const char *end, int *version,
                struct http_error *err)
{
    static const char form[] = "HTTP/9.9";
    const char *p = *pp;
    int rc;

    for (size_t i = 0; i < sizeof(form) - 1; i++) {
        if (p + i == end)
            return AW_AGAIN;
        if (form[i] == '9' ? !is_digit(p[i]) : p[i] != form[i])
            return line_fail(p + i, end, err);
    }
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return http_fail(err, 505, "http.version_not_supported",
                         "Only HTTP/1.0 and HTTP/1.1 are served.");
    if (p + 8 == end)
        return AW_AGAIN;
    if (p[8] != '\r')
        return line_fail(p + 8, end, err);
    rc = http_at_cr(p + 8, end, err);
    if (rc != AW_OK)
        return rc;
    *version = p[7] == '1' ? 11 : 10;
    *pp = p + 10;
    return AW_OK;
}

/* Split an encoded "path?query" into req->path and req->query. */
static void
target_split(struct http_request *req, struct slice t)
{
    const char *q = memchr(t.ptr, '?', t.len);

    if (q == NULL) {
        req->path = t;
        req->query = SLICE_NULL;
        return;
    }
    req->path = (struct slice){t.ptr, (size_t)(q - t.ptr)};
    req->query = (struct slice){q + 1, t.len - req->path.len - 1};
}

/*
 * Absolute form, "http://authority/path?query" (RFC 9112 section
 * 3.2.2); the scheme is http or https in any case. An absent path is
 * the root, and req->path then points at a static "/".
 */
static int
target_absolute(struct http_request *req, struct slice *authority,
                struct http_error *err)
{
    struct slice t = req->target;
    size_t skip = 0;

    if (t.len > 7 &&
        slice_eq_nocase((struct slice){t.ptr, 7}, SLICE_LIT("http://")))
        skip = 7;
    else if (t.len > 8 &&
             slice_eq_nocase((struct slice){t.ptr, 8}, SLICE_LIT("https://")))
        skip = 8;
    if (skip == 0)
        return http_fail(err, 400, "http.bad_target",
                         "The request-target is not in origin, absolute "
                         "or asterisk form.");

    const char *s = t.ptr + skip;
    const char *end = t.ptr + t.len;
    const char *p = s;

    while (p < end && *p != '/' && *p != '?')
        p++;
    *authority = (struct slice){s, (size_t)(p - s)};
    if (!http_host_valid(*authority))
        return http_fail(err, 400, "http.bad_target",
                         "The authority of the request-target is not a "
                         "host and port.");
    target_split(req, (struct slice){p, (size_t)(end - p)});
    if (req->path.len == 0)
        req->path = SLICE_LIT("/");
    return AW_OK;
}

/*
 * Check the form of the target against the method and fill req->path
 * and req->query. *authority is set for the absolute form only.
 */
static int
target_form(struct http_request *req, struct slice *authority,
            struct http_error *err)
{
    struct slice t = req->target;

    *authority = SLICE_NULL;
    if (t.ptr[0] == '/') {
        target_split(req, t);
        return AW_OK;
    }
    if (t.len == 1 && t.ptr[0] == '*') {
        if (req->method != HTTP_OPTIONS)
            return http_fail(err, 400, "http.bad_target",
                             "The asterisk form is only for OPTIONS.");
        req->path = t;
        req->query = SLICE_NULL;
        return AW_OK;
    }
    return target_absolute(req, authority, err);
}

/*
 * Read the request line "METHOD SP target SP HTTP/1.x CRLF", exactly:
 * one space each, no tabs, no trailing bytes. The form of the target is
 * checked as soon as the space after it is read.
 */
int
http_request_start(struct http_head_state *st, const char *buf, const char **pp,
                   const char *end, const struct http_limits *limits,
                   struct http_request *req, struct http_error *err)
{
    const char *p = *pp;
    struct slice authority = SLICE_NULL;
    int rc = method_scan(&p, end, req, err);

    if (rc == AW_OK)
        rc = target_scan(&p, end, limits->max_target_bytes, &req->target, err);
    if (rc == AW_OK)
        rc = target_form(req, &authority, err);
    if (rc == AW_OK)
        rc = request_version(&p, end, &req->version, err);
    if (rc != AW_OK)
        return rc;
    st->version = req->version;
    if (authority.ptr != NULL) {
        st->auth_off = (size_t)(authority.ptr - buf);
        st->auth_len = authority.len;
    }
    *pp = p;
    return AW_OK;
}

/*
 * What needs the whole head: a Host in HTTP/1.1, the framing, the
 * expectation and connection reuse, all from what the lines left in st.
 */
static void
request_finish(const struct http_head_state *st, const char *buf,
               struct http_request *req)
{
    if (st->nhost > 0)
        req->host = (struct slice){buf + st->host_off, st->host_len};
    else if (st->auth_len > 0)
        req->host = (struct slice){buf + st->auth_off, st->auth_len};
    else
        req->host = SLICE_NULL;
    req->framing = st->nte > 0   ? HTTP_BODY_CHUNKED
                   : st->ncl > 0 ? HTTP_BODY_LENGTH
                                 : HTTP_BODY_NONE;
    req->content_length = st->ncl > 0 ? st->content_length : 0;
    /* An HTTP/1.0 client cannot read a 100 response (RFC 9110 section
       10.1.1), so its expectation is ignored. */
    req->expect_continue = st->expect_continue && req->version == 11;
    if (req->version == 11)
        req->keep_alive = !st->conn_close;
    else
        req->keep_alive = st->conn_keep_alive && !st->conn_close;
}

/* Parse a complete head of head_len bytes at buf. */
static int
request_head(const char *buf, size_t head_len, const struct http_head_kind *k,
             struct http_request *req, struct http_error *err)
{
    const char *p = buf;
    const char *end = buf + head_len;
    struct http_head_state st = {0};
    unsigned n = 0;
    int rc = http_request_start(&st, buf, &p, end, k->limits, req, err);

    /* The empty line that ends the head is its last two bytes. */
    while (rc == AW_OK && p < end - 2) {
        if (n == k->limits->max_headers)
            return http_fail(err, 431, "http.too_many_headers",
                             "The head has more field lines than allowed.");
        rc = http_field_line(&st, k, buf, &p, end, &req->headers[n++], err);
    }
    if (rc != AW_OK)
        return rc;
    if (st.nhost == 0 && req->version == 11)
        return http_fail(err, 400, "http.missing_host",
                         "An HTTP/1.1 request has no Host.");
    request_finish(&st, buf, req);
    req->nheaders = n;
    req->head_len = head_len;
    return AW_OK;
}

int
http_parse_request(struct http_parser *p, const char *buf, size_t len,
                   const struct http_limits *limits, struct http_request *req,
                   struct http_error *err)
{
    const struct http_head_kind k = {.limits = limits};
    size_t head_len = 0;
    int rc = http_head_scan(p, buf, len, &k, &head_len, err);

    if (rc != AW_OK)
        return rc;
    return request_head(buf, head_len, &k, req, err);
}
