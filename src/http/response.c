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
 * Read "HTTP/1.x SP 3DIGIT SP reason CR LF" at *pp; end bounds the head.
 * The space before the reason is required even when the reason is empty
 * (RFC 9112 section 4).
 */
static int
status_line(const char **pp, const char *end, struct http_response *res,
            struct http_error *err)
{
    const char *p = *pp;

    if (end - p < 15 || memcmp(p, "HTTP/1.", 7) != 0 ||
        (p[7] != '0' && p[7] != '1') || p[8] != ' ' || !is_digit(p[9]) ||
        !is_digit(p[10]) || !is_digit(p[11]) || p[12] != ' ')
        return http_fail(err, 502, "http.bad_upstream_response",
                         "The status line is not HTTP/1.x SP status SP "
                         "reason.");
    res->version = p[7] == '1' ? 11 : 10;
    res->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (res->status < 100 || res->status > 599)
        return http_fail(err, 502, "http.bad_upstream_response",
                         "The status code is outside 100-599.");
    p += 13;

    const char *s = p;

    while (http_ch_is((unsigned char)*p, HTTP_CH_VALUE))
        p++;
    if (*p != '\r' || p[1] != '\n')
        return http_fail(err, 502, "http.bad_upstream_response",
                         "The reason phrase has a control character.");
    res->reason = (struct slice){s, (size_t)(p - s)};
    *pp = p + 2;
    return AW_OK;
}

/* True when a response with this status to this method has no body. */
static bool
response_bodiless(int status, enum http_method req_method)
{
    return status < 200 || status == 204 || status == 304 ||
           req_method == HTTP_HEAD;
}

/*
 * Decide the framing (RFC 9112 section 6.3) and whether the upstream
 * connection may be reused. Content-Length and Transfer-Encoding are
 * validated even where the status means no body, so that an upstream
 * that sends both is noticed wherever it does.
 */
static int
response_framing(struct http_response *res, const struct http_fields *f,
                 enum http_method req_method,
                 const struct http_limits *limits, struct http_error *err)
{
    bool bodiless = response_bodiless(res->status, req_method);
    uint64_t max = bodiless ? UINT64_MAX : limits->max_body_bytes;
    int rc = http_framing_eval(f, res->version, max, &res->framing,
                               &res->content_length, err);

    if (rc != AW_OK)
        return rc;
    if (bodiless) {
        res->framing = HTTP_BODY_NONE;
        res->content_length = 0;
    } else if (res->framing == HTTP_BODY_NONE) {
        res->framing = HTTP_BODY_CLOSE;
    }
    if (res->version == 11)
        res->keep_alive = !f->conn_close;
    else
        res->keep_alive = f->conn_keep_alive && !f->conn_close;
    if (res->framing == HTTP_BODY_CLOSE)
        res->keep_alive = false;
    return AW_OK;
}

/* Parse a complete head of head_len bytes at buf. */
static int
response_head(const char *buf, size_t head_len,
              const struct http_limits *limits, enum http_method req_method,
              struct http_response *res, struct http_error *err)
{
    const char *p = buf;
    const char *end = buf + head_len;
    struct http_fields f = {.headers = res->headers,
                            .max = limits->max_headers};
    int rc = status_line(&p, end, res, err);

    if (rc != AW_OK)
        return rc;
    rc = http_fields_parse(p, end, &f, err);
    if (rc != AW_OK)
        return rc;
    rc = response_framing(res, &f, req_method, limits, err);
    if (rc != AW_OK)
        return rc;
    res->nheaders = f.n;
    res->head_len = head_len;
    return AW_OK;
}

int
http_parse_response(struct http_parser *p, const char *buf, size_t len,
                    const struct http_limits *limits,
                    enum http_method req_method,
                    struct http_response *res, struct http_error *err)
{
    size_t head_len = 0;
    int rc = http_head_scan(p, buf, len, limits, &head_len, err);

    if (rc == AW_OK)
        rc = response_head(buf, head_len, limits, req_method, res, err);
    if (rc == AW_INVALID)
        return upstream_fail(err);
    return rc;
}
