/*
 * Field lines: the character classes, the parsing of one field line, the
 * fields that decide framing and connection reuse, and the public
 * helpers that look fields up.
 *
 * Field lines are read with table lookups, up to a bound: a line may be
 * checked before it is complete, and then the functions return AW_AGAIN
 * when they run out of bytes without having found a fault.
 */
#include <string.h>

#include "http/head.h"

/*
 * One byte of class bits per byte value, see the HTTP_CH_* values in
 * head.h. Rows are 16 bytes; the comment gives the first byte of a row.
 * NUL, CR, LF, the other controls except HTAB, and DEL are in no class.
 */
/* clang-format off */
const uint8_t http_chars[256] = {
    /* 00 */ 0,  0,  0,  0,  0,  0,  0,  0,  0,  34, 0,  0,  0,  0,  0,  0,
    /* 10 */ 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
    /* 20 */ 34, 39, 2,  35, 39, 35, 39, 39, 38, 38, 39, 39, 38, 55, 55, 38,
    /* 30 */ 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 38, 38, 34, 38, 34, 38,
    /* 40 */ 38, 63, 63, 63, 63, 63, 63, 55, 55, 55, 55, 55, 55, 55, 55, 55,
    /* 50 */ 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 38, 2,  38, 35, 55,
    /* 60 */ 35, 63, 63, 63, 63, 63, 63, 55, 55, 55, 55, 55, 55, 55, 55, 55,
    /* 70 */ 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 55, 34, 35, 34, 55, 0,
    /* 80 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* 90 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* a0 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* b0 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* c0 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* d0 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* e0 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
    /* f0 */ 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34,
};
/* clang-format on */

int
http_fail(struct http_error *err, int status, const char *reason,
          const char *detail)
{
    err->status = status;
    err->reason = reason;
    err->detail = detail;
    return AW_INVALID;
}

static inline bool
is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int
http_at_cr(const char *p, const char *end, struct http_error *err)
{
    if (p + 1 == end)
        return AW_AGAIN;
    if (p[1] != '\n')
        return http_fail(err, 400, "http.bare_cr",
                         "A CR not followed by LF was found in the head.");
    return AW_OK;
}

/*
 * Explain why a field name that started at s stopped at p, before end:
 * the byte there is not the colon that should end a non-empty token.
 */
static int
field_name_fail(const char *s, const char *p, const char *end,
                struct http_error *err)
{
    int rc;

    if (*p == '\r') {
        rc = http_at_cr(p, end, err);
        if (rc != AW_OK)
            return rc;
        return http_fail(err, 400, "http.bad_field_name",
                         "A field line has no colon.");
    }
    if (p == s && *p == ':')
        return http_fail(err, 400, "http.bad_field_name",
                         "A field line has an empty name.");
    if (is_ows(*p))
        return http_fail(err, 400, "http.bad_field_name",
                         "Whitespace between a field name and its colon.");
    return http_fail(err, 400, "http.bad_field_name",
                     "A field name contains a byte outside token.");
}

/*
 * Read "name:" at *pp into name and leave *pp past the colon. A line
 * that starts with whitespace is obsolete line folding (RFC 9112 section
 * 5.2), which a recipient may unfold; we refuse it because a backend
 * that does not unfold reads a different field.
 */
static int
field_name(const char **pp, const char *end, struct slice *name,
           struct http_error *err)
{
    const char *s = *pp;
    const char *p = s;

    if (p < end && is_ows(*p))
        return http_fail(err, 400, "http.obs_fold",
                         "A field line starts with whitespace "
                         "(obsolete line folding).");
    p = http_span(p, end, HTTP_CH_TOKEN);
    if (p == end)
        return AW_AGAIN;
    if (*p != ':' || p == s)
        return field_name_fail(s, p, end, err);
    *name = (struct slice){s, (size_t)(p - s)};
    *pp = p + 1;
    return AW_OK;
}

/*
 * Read the value after the colon at *pp up to CR LF, trim the optional
 * whitespace around it and leave *pp past the LF. obs-text (bytes
 * 0x80-0xff) is accepted as RFC 9110 section 5.5 allows; NUL, DEL and
 * controls other than HTAB are not.
 */
static int
field_value(const char **pp, const char *end, struct slice *value,
            struct http_error *err)
{
    const char *p = *pp;
    int rc;

    while (p < end && is_ows(*p))
        p++;

    const char *s = p;

    p = http_span_value(p, end);
    if (p == end)
        return AW_AGAIN;
    if (*p != '\r')
        return http_fail(err, 400, "http.bad_field_value",
                         "A field value contains NUL, DEL or a control "
                         "character.");
    rc = http_at_cr(p, end, err);
    if (rc != AW_OK)
        return rc;

    const char *e = p;

    while (e > s && is_ows(e[-1]))
        e--;
    *value = (struct slice){s, (size_t)(e - s)};
    *pp = p + 2;
    return AW_OK;
}

/* A port: one to five digits, at most 65535. */
static bool
port_valid(const char *p, const char *end)
{
    uint64_t port;

    if (end - p > 5)
        return false;
    return slice_to_u64((struct slice){p, (size_t)(end - p)}, 65535, &port) ==
           AW_OK;
}

/*
 * Host [":" port] as we accept it: an IP literal in brackets (hex
 * digits, colons and dots) or a name of ALPHA, DIGIT, "-", ".", "_" and
 * "~". RFC 3986 also allows sub-delimiters and percent-encoding in a
 * reg-name; no DNS name needs them and a backend may read them
 * differently, so they are refused, and user information with them.
 */
bool
http_host_valid(struct slice h)
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
        p = http_span(p, end, HTTP_CH_HOST);
        if (p == s)
            return false;
    }
    if (p == end)
        return true;
    return *p == ':' && port_valid(p + 1, end);
}

/*
 * Host (RFC 9112 section 3.2): one field, a valid value, and the same
 * name as the authority of an absolute-form target, or the gateway and
 * the backend could route on different names.
 */
static int
note_host(struct http_head_state *st, const char *buf, struct slice v,
          struct http_error *err)
{
    struct slice auth = {buf + st->auth_off, st->auth_len};

    if (st->nhost++ > 0)
        return http_fail(err, 400, "http.duplicate_host", "Host is repeated.");
    if (!http_host_valid(v))
        return http_fail(err, 400, "http.bad_host",
                         "Host is not a valid host and port.");
    if (st->auth_len > 0 && !slice_eq_nocase(auth, v))
        return http_fail(err, 400, "http.host_mismatch",
                         "Host differs from the authority of the "
                         "request-target.");
    st->host_off = (size_t)(v.ptr - buf);
    st->host_len = v.len;
    return AW_OK;
}

/*
 * Content-Length (RFC 9112 section 6.3): one field of digits only. A
 * second field is refused even when it repeats the value, and so is a
 * list: recipients differ on which member they believe.
 */
static int
note_cl(struct http_head_state *st, const struct http_head_kind *k,
        struct slice v, struct http_error *err)
{
    bool bodiless = k->response && http_bodiless(st->status, k->req_method);
    uint64_t max = bodiless ? UINT64_MAX : k->limits->max_body_bytes;

    if (st->nte > 0)
        return http_fail(err, 400, "http.ambiguous_length",
                         "Content-Length and Transfer-Encoding are both "
                         "present.");
    if (st->ncl++ > 0)
        return http_fail(err, 400, "http.ambiguous_length",
                         "Content-Length is repeated.");
    if (slice_to_u64(v, UINT64_MAX, &st->content_length) != AW_OK)
        return http_fail(err, 400, "http.bad_content_length",
                         "Content-Length is not a decimal number.");
    if (st->content_length > max)
        return http_fail(err, 413, "http.body_too_large",
                         "Content-Length is over the body limit.");
    return AW_OK;
}

/*
 * Transfer-Encoding: only a lone "chunked" is accepted. Any other coding
 * would have to be undone before the body can be inspected, and lists
 * such as "gzip, chunked", repeated fields and codings in HTTP/1.0 are
 * where gateways and backends have disagreed.
 */
static int
note_te(struct http_head_state *st, struct slice v, struct http_error *err)
{
    if (st->ncl > 0)
        return http_fail(err, 400, "http.ambiguous_length",
                         "Content-Length and Transfer-Encoding are both "
                         "present.");
    if (st->nte++ > 0)
        return http_fail(err, 400, "http.bad_transfer_encoding",
                         "Transfer-Encoding is repeated.");
    if (st->version == 10)
        return http_fail(err, 400, "http.bad_transfer_encoding",
                         "Transfer-Encoding in an HTTP/1.0 message.");
    if (!slice_eq_nocase(v, SLICE_LIT("chunked")))
        return http_fail(err, 400, "http.bad_transfer_encoding",
                         "Transfer-Encoding is not exactly \"chunked\".");
    return AW_OK;
}

/* Expect: only 100-continue is met (RFC 9110 section 10.1.1). */
static int
note_expect(struct http_head_state *st, struct slice v, struct http_error *err)
{
    if (!slice_eq_nocase(v, SLICE_LIT("100-continue")))
        return http_fail(err, 417, "http.expectation_failed",
                         "Expect has a value other than 100-continue.");
    st->expect_continue = true;
    return AW_OK;
}

/*
 * True when the field name n is lit, a lower-case literal of letters and
 * "-" of n.len bytes (the caller has switched on the length), in any
 * case. OR-ing 0x20 turns an upper-case letter into its lower case and
 * turns no other token byte into a letter or "-".
 */
static inline bool
name_is(struct slice n, const char *lit)
{
    for (size_t i = 0; i < n.len; i++) {
        if ((n.ptr[i] | 0x20) != lit[i])
            return false;
    }
    return true;
}

/*
 * Apply the rules of the fields that frame, route or keep a connection.
 * Names are matched by length first, which rules out nearly every other
 * field with one comparison.
 */
static int
field_note(struct http_head_state *st, const struct http_head_kind *k,
           const char *buf, const struct http_header *h, struct http_error *err)
{
    struct slice n = h->name;

    switch (n.len) {
    case 4:
        if (!k->response && name_is(n, "host"))
            return note_host(st, buf, h->value, err);
        break;
    case 6:
        if (!k->response && name_is(n, "expect"))
            return note_expect(st, h->value, err);
        break;
    case 10:
        if (name_is(n, "connection")) {
            st->conn_close |= http_list_has(h->value, "close");
            st->conn_keep_alive |= http_list_has(h->value, "keep-alive");
        }
        break;
    case 14:
        if (name_is(n, "content-length"))
            return note_cl(st, k, h->value, err);
        break;
    case 17:
        if (name_is(n, "transfer-encoding"))
            return note_te(st, h->value, err);
        break;
    default:
        break;
    }
    return AW_OK;
}

int
http_field_line(struct http_head_state *st, const struct http_head_kind *k,
                const char *buf, const char **pp, const char *end,
                struct http_header *h, struct http_error *err)
{
    const char *p = *pp;
    int rc = field_name(&p, end, &h->name, err);

    if (rc == AW_OK)
        rc = field_value(&p, end, &h->value, err);
    if (rc != AW_OK)
        return rc;
    *pp = p;
    return field_note(st, k, buf, h, err);
}

const struct http_header *
http_header_find(const struct http_header *h, unsigned n, const char *name)
{
    struct slice want = {name, strlen(name)};

    for (unsigned i = 0; i < n; i++) {
        if (slice_eq_nocase(h[i].name, want))
            return &h[i];
    }
    return NULL;
}

bool
http_list_has(struct slice value, const char *token)
{
    struct slice want = {token, strlen(token)};
    const char *p = value.ptr;
    const char *end = value.ptr + value.len;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma != NULL ? comma : end;
        const char *s = p;

        while (s < e && is_ows(*s))
            s++;
        while (e > s && is_ows(e[-1]))
            e--;
        if (slice_eq_nocase((struct slice){s, (size_t)(e - s)}, want))
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return false;
}

bool
http_is_hop_by_hop(struct slice name)
{
/* clang-format off */
#define HOP(s) {(s), sizeof(s) - 1}
    static const struct slice hop[] = {
        HOP("Connection"),         HOP("Keep-Alive"),
        HOP("Proxy-Connection"),   HOP("TE"),
        HOP("Trailer"),            HOP("Transfer-Encoding"),
        HOP("Upgrade"),            HOP("Proxy-Authenticate"),
        HOP("Proxy-Authorization"),
    };
#undef HOP
    /* clang-format on */

    for (size_t i = 0; i < ARRAY_LEN(hop); i++) {
        if (hop[i].len == name.len && slice_eq_nocase(name, hop[i]))
            return true;
    }
    return false;
}
