/*
 * The request head parser and the scan for the end of a head, which the
 * response parser shares.
 *
 * A head is parsed in two passes. While it is incomplete, each call only
 * looks at the bytes that arrived since the last one, for line ends;
 * that pass also refuses bare LF and bare CR at once, and counts lines
 * against the limits. When the empty line arrives the whole head is
 * parsed in one go. The second pass can then rely on the head ending in
 * CR LF CR LF, which every scanning loop stops on.
 */
#include <string.h>

#include "http/head.h"

/* SLICE_LIT is a compound literal, which a static initializer may not use. */
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

void
http_parser_init(struct http_parser *p)
{
    p->scanned = 0;
    p->line_start = 0;
    p->lines = 0;
}

/*
 * True when the current line starts with a CR that is not followed by
 * LF. Only the empty line may start with CR; "CR junk" there is how a
 * second request gets hidden behind the end of the first head, so it is
 * refused without waiting for an LF that may never come.
 */
static bool
scan_bare_cr(const struct http_parser *p, const char *buf, size_t end)
{
    size_t i = p->line_start;

    return i + 1 < end && buf[i] == '\r' && buf[i + 1] != '\n';
}

/*
 * Account for the LF at buf[i]. Returns AW_OK with *head_len when it
 * ends the empty line, AW_AGAIN when it ends any other line, or
 * AW_INVALID.
 */
static int
scan_line_end(struct http_parser *p, const char *buf, size_t i,
              const struct http_limits *limits, size_t *head_len,
              struct http_error *err)
{
    if (i == 0 || buf[i - 1] != '\r')
        return http_fail(err, 400, "http.bare_lf",
                         "A line of the head ends in LF without CR.");
    p->scanned = i + 1;
    if (i - 1 == p->line_start) {
        /* RFC 9112 section 2.2 lets a server skip empty lines before
           the request line; refusing them keeps the reading of a
           pipelined stream unambiguous. */
        if (p->lines == 0)
            return http_fail(err, 400, "http.bad_request_line",
                             "The message starts with an empty line.");
        *head_len = i + 1;
        return AW_OK;
    }
    p->line_start = i + 1;
    p->lines++;
    if (p->lines - 1 > limits->max_headers)
        return http_fail(err, 431, "http.too_many_headers",
                         "The head has more field lines than allowed.");
    return AW_AGAIN;
}

int
http_head_scan(struct http_parser *p, const char *buf, size_t len,
               const struct http_limits *limits, size_t *head_len,
               struct http_error *err)
{
    size_t end = MIN(len, limits->max_head_bytes);
    int rc;

    while (p->scanned < end) {
        if (scan_bare_cr(p, buf, end))
            break;

        const char *lf = memchr(buf + p->scanned, '\n', end - p->scanned);

        if (lf == NULL) {
            p->scanned = end;
            break;
        }
        rc = scan_line_end(p, buf, (size_t)(lf - buf), limits, head_len,
                           err);
        if (rc != AW_AGAIN)
            return rc;
    }
    if (scan_bare_cr(p, buf, end))
        return http_fail(err, 400, "http.bare_cr",
                         "A line of the head starts with CR not followed "
                         "by LF.");
    if (len >= limits->max_head_bytes)
        return http_fail(err, 431, "http.head_too_large",
                         "The head is larger than allowed.");
    return AW_AGAIN;
}

/*
 * The head limit was hit before the request line ended. When the target
 * alone is already over its own limit, say 414 rather than 431: the
 * client then knows which of the two to shorten. err holds the 431.
 */
static int
scan_long_target(const char *buf, size_t len,
                 const struct http_limits *limits, struct http_error *err)
{
    size_t n = MIN(len, limits->max_head_bytes);
    const char *end = buf + n;
    const char *sp = memchr(buf, ' ', n);

    if (sp == NULL)
        return AW_INVALID;

    const char *t = sp + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));

    if ((size_t)((sp2 != NULL ? sp2 : end) - t) > limits->max_target_bytes)
        return http_fail(err, 414, "http.target_too_long",
                         "The request-target is longer than allowed.");
    return AW_INVALID;
}

/* Explain why the target that started at s stopped at p, not at SP. */
static int
target_fail(const char *s, const char *p, struct http_error *err)
{
    if (*p == '#')
        return http_fail(err, 400, "http.fragment",
                         "The request-target has a fragment.");
    if (*p == '\r' || *p == '\t' || p == s)
        return http_fail(err, 400, "http.bad_request_line",
                         "The request line is not METHOD SP target SP "
                         "version.");
    return http_fail(err, 400, "http.bad_target",
                     "The request-target has a byte that is not allowed.");
}

/*
 * Read the request-target at *pp up to the SP after it. Accepted bytes
 * are the printable ASCII of RFC 3986 less those it never allows
 * unencoded (" < > \ ^ ` { | }), and "%" only before two hex digits. The
 * brackets, which RFC 3986 keeps for IP literals, are accepted anywhere:
 * clients send them raw in query strings and they cannot change where a
 * target ends. A "#" is refused: fragments are never sent on the wire.
 */
static int
target_scan(const char **pp, size_t max, struct slice *target,
            struct http_error *err)
{
    const char *s = *pp;
    const char *p = s;

    for (;;) {
        while (http_ch_is((unsigned char)*p, HTTP_CH_TARGET))
            p++;
        if (*p != '%')
            break;
        if (!http_ch_is((unsigned char)p[1], HTTP_CH_HEX) ||
            !http_ch_is((unsigned char)p[2], HTTP_CH_HEX))
            return http_fail(err, 400, "http.bad_target",
                             "A percent sign in the request-target is "
                             "not followed by two hex digits.");
        p += 3;
    }
    if (*p != ' ' || p == s)
        return target_fail(s, p, err);
    if ((size_t)(p - s) > max)
        return http_fail(err, 414, "http.target_too_long",
                         "The request-target is longer than allowed.");
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
 * Read "HTTP/" DIGIT "." DIGIT CR LF at *pp (end bounds the head).
 * HTTP/1.0 and HTTP/1.1 are served; any other well-formed version is
 * 505, and anything else (lower case, extra bytes) is 400.
 */
static int
request_version(const char **pp, const char *end, int *version,
                struct http_error *err)
{
    const char *p = *pp;

    if (end - p < 10 || memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) ||
        p[6] != '.' || !is_digit(p[7]) || p[8] != '\r' || p[9] != '\n')
        return http_fail(err, 400, "http.bad_request_line",
                         "The request line does not end in HTTP/x.y "
                         "CRLF.");
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
        return http_fail(err, 505, "http.version_not_supported",
                         "Only HTTP/1.0 and HTTP/1.1 are served.");
    *version = p[7] == '1' ? 11 : 10;
    *pp = p + 10;
    return AW_OK;
}

/*
 * Read the request line "METHOD SP target SP HTTP/1.x CRLF" at *pp,
 * exactly: one space each, no tabs, no trailing bytes. On AW_OK *pp is
 * at the first field line.
 */
static int
request_line(const char **pp, const char *end,
             const struct http_limits *limits, struct http_request *req,
             struct http_error *err)
{
    const char *s = *pp;
    const char *p = s;
    int rc;

    while (http_ch_is((unsigned char)*p, HTTP_CH_TOKEN))
        p++;
    if (p == s || *p != ' ')
        return http_fail(err, 400, "http.bad_request_line",
                         "The request line does not start with a method "
                         "token and one space.");
    req->method_name = (struct slice){s, (size_t)(p - s)};
    req->method = http_method_from(req->method_name);
    p++;
    rc = target_scan(&p, limits->max_target_bytes, &req->target, err);
    if (rc != AW_OK)
        return rc;
    rc = request_version(&p, end, &req->version, err);
    if (rc != AW_OK)
        return rc;
    *pp = p;
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

/* A port: one to five digits, at most 65535. */
static bool
port_valid(const char *p, const char *end)
{
    uint64_t port;

    if (end - p > 5)
        return false;
    return slice_to_u64((struct slice){p, (size_t)(end - p)}, 65535,
                        &port) == AW_OK;
}

/*
 * True for host [":" port] as we accept it: an IP literal in brackets
 * (hex digits, colons and dots) or a name of ALPHA, DIGIT, "-", ".",
 * "_" and "~". RFC 3986 also allows sub-delimiters and percent-encoding
 * in a reg-name; no DNS name needs them and a backend may read them
 * differently, so they are refused. User information is refused with
 * them.
 */
static bool
host_valid(struct slice h)
{
    const char *p = h.ptr;
    const char *end = p + h.len;
    const char *s;

    if (p == end)
        return false;
    if (*p == '[') {
        s = ++p;
        while (p < end && (http_ch_is((unsigned char)*p, HTTP_CH_HEX) ||
                           *p == ':' || *p == '.'))
            p++;
        if (p == s || p == end || *p != ']')
            return false;
        p++;
    } else {
        s = p;
        while (p < end && http_ch_is((unsigned char)*p, HTTP_CH_HOST))
            p++;
        if (p == s)
            return false;
    }
    if (p == end)
        return true;
    return *p == ':' && port_valid(p + 1, end);
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

    if (t.len > 7 && slice_eq_nocase((struct slice){t.ptr, 7},
                                     SLICE_LIT("http://")))
        skip = 7;
    else if (t.len > 8 && slice_eq_nocase((struct slice){t.ptr, 8},
                                          SLICE_LIT("https://")))
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
    if (!host_valid(*authority))
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
 * Apply the Host rules of RFC 9112 section 3.2: exactly one Host field in
 * HTTP/1.1, with a valid value. With an absolute target the authority
 * must name the same host, or the gateway and the backend could route on
 * different names.
 */
static int
request_host(struct http_request *req, const struct http_fields *f,
             struct slice authority, struct http_error *err)
{
    if (f->nhost > 1)
        return http_fail(err, 400, "http.duplicate_host",
                         "Host is repeated.");
    if (f->nhost == 0) {
        if (req->version == 11)
            return http_fail(err, 400, "http.missing_host",
                             "An HTTP/1.1 request has no Host.");
        req->host = authority;
        return AW_OK;
    }
    if (!host_valid(f->host))
        return http_fail(err, 400, "http.bad_host",
                         "Host is not a valid host and port.");
    if (authority.ptr != NULL && !slice_eq_nocase(authority, f->host))
        return http_fail(err, 400, "http.host_mismatch",
                         "Host differs from the authority of the "
                         "request-target.");
    req->host = f->host;
    return AW_OK;
}

/*
 * Everything after the fields are read: host, framing, expectations and
 * connection reuse.
 */
static int
request_finish(struct http_request *req, const struct http_fields *f,
               struct slice authority, const struct http_limits *limits,
               struct http_error *err)
{
    int rc = request_host(req, f, authority, err);

    if (rc != AW_OK)
        return rc;
    rc = http_framing_eval(f, req->version, limits->max_body_bytes,
                           &req->framing, &req->content_length, err);
    if (rc != AW_OK)
        return rc;
    if (f->expect_other)
        return http_fail(err, 417, "http.expectation_failed",
                         "Expect has a value other than 100-continue.");
    /* An HTTP/1.0 client cannot read a 100 response (RFC 9110 section
       10.1.1), so its expectation is ignored. */
    req->expect_continue = f->expect_continue && req->version == 11;
    if (req->version == 11)
        req->keep_alive = !f->conn_close;
    else
        req->keep_alive = f->conn_keep_alive && !f->conn_close;
    req->nheaders = f->n;
    return AW_OK;
}

/* Parse a complete head of head_len bytes at buf. */
static int
request_head(const char *buf, size_t head_len,
             const struct http_limits *limits, struct http_request *req,
             struct http_error *err)
{
    const char *p = buf;
    const char *end = buf + head_len;
    struct http_fields f = {.headers = req->headers,
                            .max = limits->max_headers};
    struct slice authority;
    int rc = request_line(&p, end, limits, req, err);

    if (rc != AW_OK)
        return rc;
    /* A tunnel cannot be inspected; the method is refused outright. */
    if (req->method == HTTP_CONNECT)
        return http_fail(err, 501, "http.method_not_supported",
                         "CONNECT is not supported.");
    rc = target_form(req, &authority, err);
    if (rc != AW_OK)
        return rc;
    rc = http_fields_parse(p, end, &f, err);
    if (rc != AW_OK)
        return rc;
    rc = request_finish(req, &f, authority, limits, err);
    if (rc != AW_OK)
        return rc;
    req->head_len = head_len;
    return AW_OK;
}

int
http_parse_request(struct http_parser *p, const char *buf, size_t len,
                   const struct http_limits *limits,
                   struct http_request *req, struct http_error *err)
{
    size_t head_len = 0;
    int rc = http_head_scan(p, buf, len, limits, &head_len, err);

    if (rc == AW_INVALID && err->status == 431 && p->lines == 0)
        return scan_long_target(buf, len, limits, err);
    if (rc != AW_OK)
        return rc;
    return request_head(buf, head_len, limits, req, err);
}
