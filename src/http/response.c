/*
 * The response head parser. Upstream responses are held to the same
 * rules as requests: the gateway answers the client for the upstream,
 * so a response it cannot frame without guessing is replaced by a 502
 * and the upstream connection is closed.
 */
#include <string.h>

#include "http/head.h"

/*
 * Turn any refusal into the one the client sees: 502
 * http.bad_upstream_response. The detail keeps the specific sentence so
 * that the log still says what was wrong.
 */
static int
upstream_fail(struct http_error *err)
{
    err->status = 502;
    err->reason = "http.bad_upstream_response";
    return AW_INVALID;
}

static inline bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * The status line stopped at p, before end, on a byte its grammar does
 * not want there. A CR decides only with the byte after it.
 */
static int
status_fail(const char *p, const char *end, struct http_error *err,
            const char *detail)
{
    if (*p == '\r') {
        int rc = http_at_cr(p, end, err);

        if (rc != AW_OK)
            return rc;
    }
    return http_fail(err, 502, "http.bad_upstream_response", detail);
}

/*
 * Read "HTTP/1.x SP 3DIGIT SP" at *pp, byte by byte, into res. The space
 * before the reason is required even when the reason is empty (RFC 9112
 * section 4).
 */
static int
status_prefix(const char **pp, const char *end, struct http_response *res,
              struct http_error *err)
{
    static const char form[] = "HTTP/1.v 999 ";
    const char *p = *pp;

    for (size_t i = 0; i < sizeof(form) - 1; i++) {
        bool ok;

        if (p + i == end)
            return AW_AGAIN;
        if (form[i] == '9')
            ok = is_digit(p[i]);
        else if (form[i] == 'v')
            ok = p[i] == '0' || p[i] == '1';
        else
            ok = p[i] == form[i];
        if (!ok)
            return status_fail(p + i, end, err,
                               "The status line is not HTTP/1.x SP status "
                               "SP reason.");
    }
    res->version = p[7] == '1' ? 11 : 10;
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (res->status < 100 || res->status > 599)
        return http_fail(err, 502, "http.bad_upstream_response",
                         "The status code is outside 100-599.");
    *pp = p + sizeof(form) - 1;
    return AW_OK;
}

int
http_response_start(struct http_head_state *st, const char **pp,
                    const char *end, struct http_response *res,
                    struct http_error *err)
{
    const char *p = *pp;
    int rc = status_prefix(&p, end, res, err);

    if (rc != AW_OK)
        return rc;

    const char *s = p;

    p = http_span_value(p, end);
    if (p == end)
        return AW_AGAIN;
    if (*p != '\r')
        return http_fail(err, 502, "http.bad_upstream_response",
                         "The reason phrase has a control character.");
    rc = http_at_cr(p, end, err);
    if (rc != AW_OK)
        return rc;
    res->reason = (struct slice){s, (size_t)(p - s)};
    st->version = res->version;
    st->status = res->status;
    *pp = p + 2;
    return AW_OK;
}

/*
 * Decide the framing (RFC 9112 section 6.3) and whether the upstream
 * connection may be reused. Content-Length and Transfer-Encoding were
 * validated even where the status means no body, so that an upstream
 * that sends both is noticed wherever it does.
 */
static void
response_finish(const struct http_head_state *st, enum http_method req_method,
                struct http_response *res)
{
    if (http_bodiless(res->status, req_method))
        res->framing = HTTP_BODY_NONE;
    else if (st->nte > 0)
        res->framing = HTTP_BODY_CHUNKED;
    else if (st->ncl > 0)
        res->framing = HTTP_BODY_LENGTH;
    else
        res->framing = HTTP_BODY_CLOSE;
    res->content_length =
        res->framing == HTTP_BODY_LENGTH ? st->content_length : 0;
    if (res->version == 11)
        res->keep_alive = !st->conn_close;
    else
        res->keep_alive = st->conn_keep_alive && !st->conn_close;
    if (res->framing == HTTP_BODY_CLOSE)
        res->keep_alive = false;
}

/* Parse a complete head of head_len bytes at buf. */
static int
response_head(const char *buf, size_t head_len, const struct http_head_kind *k,
              struct http_response *res, struct http_error *err)
{
    const char *p = buf;
    const char *end = buf + head_len;
    struct http_head_state st = {0};
    unsigned n = 0;
    int rc = http_response_start(&st, &p, end, res, err);

    /* The empty line that ends the head is its last two bytes. */
    while (rc == AW_OK && p < end - 2) {
        if (n == k->limits->max_headers)
            return http_fail(err, 431, "http.too_many_headers",
                             "The head has more field lines than allowed.");
        rc = http_field_line(&st, k, buf, &p, end, &res->headers[n++], err);
    }
    if (rc != AW_OK)
        return rc;
    response_finish(&st, k->req_method, res);
    res->nheaders = n;
    res->head_len = head_len;
    return AW_OK;
}

int
http_parse_response(struct http_parser *p, const char *buf, size_t len,
                    const struct http_limits *limits,
                    enum http_method req_method, struct http_response *res,
                    struct http_error *err)
{
    const struct http_head_kind k = {
        .limits = limits, .response = true, .req_method = req_method};
    size_t head_len = 0;
    int rc = http_head_scan(p, buf, len, &k, &head_len, err);

    if (rc == AW_OK)
        rc = response_head(buf, head_len, &k, res, err);
    if (rc == AW_INVALID)
        return upstream_fail(err);
    return rc;
}
