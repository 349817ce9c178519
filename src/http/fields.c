/*
 * Field lines: the character classes, the parsing of one field line, the
 * fields that decide framing and connection reuse, and the public
 * helpers that look fields up.
 *
 * Field lines are read with table lookups only. A head handed to these
 * functions always ends in CR LF CR LF (http_head_scan checked it), and
 * CR belongs to no class, so every scanning loop stops on that final CR
 * at the latest and none of them needs a bounds check.
 */
#include <string.h>

#include "http/head.h"

/*
 * One byte of class bits per byte value, see the HTTP_CH_* values in
 * head.h. Rows are 16 bytes; the comment gives the first byte of a row.
 * NUL, CR, LF, the other controls except HTAB, and DEL are in no class.
 */
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

/*
 * Explain why a field name stopped at p (s is where it started): the
 * byte there is not the colon that should end a non-empty token.
 */
static int
field_name_fail(const char *s, const char *p, struct http_error *err)
{
    if (*p == '\r' && p[1] != '\n')
        return http_fail(err, 400, "http.bare_cr",
                         "A CR not followed by LF was found in the head.");
    if (p == s && *p == ':')
        return http_fail(err, 400, "http.bad_field_name",
                         "A field line has an empty name.");
    if (is_ows(*p))
        return http_fail(err, 400, "http.bad_field_name",
                         "Whitespace between a field name and its colon.");
    if (*p == '\r')
        return http_fail(err, 400, "http.bad_field_name",
                         "A field line has no colon.");
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
field_name(const char **pp, struct slice *name, struct http_error *err)
{
    const char *s = *pp;
    const char *p = s;

    if (is_ows(*p))
        return http_fail(err, 400, "http.obs_fold",
                         "A field line starts with whitespace "
                         "(obsolete line folding).");
    while (http_ch_is((unsigned char)*p, HTTP_CH_TOKEN))
        p++;
    if (*p != ':' || p == s)
        return field_name_fail(s, p, err);
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
field_value(const char **pp, struct slice *value, struct http_error *err)
{
    const char *p = *pp;

    while (is_ows(*p))
        p++;

    const char *s = p;

    while (http_ch_is((unsigned char)*p, HTTP_CH_VALUE))
        p++;
    if (*p == '\r' && p[1] != '\n')
        return http_fail(err, 400, "http.bare_cr",
                         "A CR not followed by LF was found in the head.");
    if (*p != '\r')
        return http_fail(err, 400, "http.bad_field_value",
                         "A field value contains NUL, DEL or a control "
                         "character.");

    const char *e = p;

    while (e > s && is_ows(e[-1]))
        e--;
    *value = (struct slice){s, (size_t)(e - s)};
    *pp = p + 2;
    return AW_OK;
}

/* Record the fields that framing, routing and reuse decisions read. */
static void
field_note(struct http_fields *f, const struct http_header *h)
{
    struct slice n = h->name;

    switch (n.len) {
    case 4:
        if (slice_eq_nocase(n, SLICE_LIT("Host"))) {
            f->nhost++;
            f->host = h->value;
        }
        break;
    case 6:
        if (!slice_eq_nocase(n, SLICE_LIT("Expect")))
            break;
        if (slice_eq_nocase(h->value, SLICE_LIT("100-continue")))
            f->expect_continue = true;
        else
            f->expect_other = true;
        break;
    case 10:
        if (!slice_eq_nocase(n, SLICE_LIT("Connection")))
            break;
        f->conn_close |= http_list_has(h->value, "close");
        f->conn_keep_alive |= http_list_has(h->value, "keep-alive");
        break;
    case 14:
        if (slice_eq_nocase(n, SLICE_LIT("Content-Length"))) {
            f->ncl++;
            f->cl = h->value;
        }
        break;
    case 17:
        if (slice_eq_nocase(n, SLICE_LIT("Transfer-Encoding"))) {
            f->nte++;
            f->te = h->value;
        }
        break;
    default:
        break;
    }
}

int
http_fields_parse(const char *p, const char *end, struct http_fields *f,
                  struct http_error *err)
{
    f->n = 0;
    f->ncl = f->nte = f->nhost = 0;
    f->cl = f->te = f->host = SLICE_NULL;
    f->conn_close = f->conn_keep_alive = false;
    f->expect_continue = f->expect_other = false;

    /* The empty line that ends the head is the last two bytes. */
    while (p < end - 2) {
        struct http_header *h = &f->headers[f->n];
        int rc;

        if (f->n == f->max)
            return http_fail(err, 431, "http.too_many_headers",
                             "The head has more field lines than allowed.");
        rc = field_name(&p, &h->name, err);
        if (rc != AW_OK)
            return rc;
        rc = field_value(&p, &h->value, err);
        if (rc != AW_OK)
            return rc;
        field_note(f, h);
        f->n++;
    }
    return AW_OK;
}

/*
 * Check a Transfer-Encoding field for a message of this version. Only a
 * lone "chunked" is accepted: any other coding would have to be undone
 * before the body can be inspected, and a list such as "gzip, chunked"
 * or a repeated field is where gateways and backends have disagreed.
 */
static int
framing_te(const struct http_fields *f, int version,
           struct http_error *err)
{
    if (version == 10)
        return http_fail(err, 400, "http.bad_transfer_encoding",
                         "Transfer-Encoding in an HTTP/1.0 message.");
    if (f->nte > 1)
        return http_fail(err, 400, "http.bad_transfer_encoding",
                         "Transfer-Encoding is repeated.");
    if (!slice_eq_nocase(f->te, SLICE_LIT("chunked")))
        return http_fail(err, 400, "http.bad_transfer_encoding",
                         "Transfer-Encoding is not exactly \"chunked\".");
    return AW_OK;
}

/* Check the one Content-Length field: digits only, within max_body. */
static int
framing_cl(const struct http_fields *f, uint64_t max_body, uint64_t *out,
           struct http_error *err)
{
    int rc = slice_to_u64(f->cl, UINT64_MAX, out);

    if (rc != AW_OK)
        return http_fail(err, 400, "http.bad_content_length",
                         "Content-Length is not a decimal number.");
    if (*out > max_body)
        return http_fail(err, 413, "http.body_too_large",
                         "Content-Length is over the body limit.");
    return AW_OK;
}

int
http_framing_eval(const struct http_fields *f, int version,
                  uint64_t max_body, enum http_framing *framing,
                  uint64_t *content_length, struct http_error *err)
{
    int rc;

    *framing = HTTP_BODY_NONE;
    *content_length = 0;
    if (f->ncl > 0 && f->nte > 0)
        return http_fail(err, 400, "http.ambiguous_length",
                         "Content-Length and Transfer-Encoding are both "
                         "present.");
    if (f->ncl > 1)
        return http_fail(err, 400, "http.ambiguous_length",
                         "Content-Length is repeated.");
    if (f->nte > 0) {
        rc = framing_te(f, version, err);
        if (rc == AW_OK)
            *framing = HTTP_BODY_CHUNKED;
        return rc;
    }
    if (f->ncl > 0) {
        rc = framing_cl(f, max_body, content_length, err);
        if (rc == AW_OK)
            *framing = HTTP_BODY_LENGTH;
        return rc;
    }
    return AW_OK;
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
#define HOP(s) {(s), sizeof(s) - 1}
    static const struct slice hop[] = {
        HOP("Connection"),         HOP("Keep-Alive"),
        HOP("Proxy-Connection"),   HOP("TE"),
        HOP("Trailer"),            HOP("Transfer-Encoding"),
        HOP("Upgrade"),            HOP("Proxy-Authenticate"),
        HOP("Proxy-Authorization"),
    };
#undef HOP

    for (size_t i = 0; i < ARRAY_LEN(hop); i++) {
        if (hop[i].len == name.len && slice_eq_nocase(name, hop[i]))
            return true;
    }
    return false;
}
