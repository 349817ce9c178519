/*
 * Internal to src/http: the pieces shared by the request parser, the
 * response parser and the chunked decoder. Other modules include only
 * http/http.h.
 *
 * A head is read line by line by three kinds of function: the start
 * line of a request or a response, and field lines. Each reads one line
 * from *pp up to end, checks it, updates the struct http_head_state that
 * carries what later lines and the end of the head need, and returns
 * AW_OK with *pp at the next line, AW_INVALID at the first faulty byte,
 * or AW_AGAIN when the bytes up to end hold no fault but do not finish
 * the line. Faults are found in the order of the bytes, and a rule that
 * needs a whole line (a field's value, the form of a target) is applied
 * when its last byte is read; so whatever a function says of a prefix,
 * it says of every longer input.
 *
 * The scanner runs them on the lines of a head that is not complete yet,
 * including the last, partial one; the head parsers run them again on
 * the whole head, with a fresh state, to fill the caller's structures.
 * A head thus fails on its first faulty byte however it was split.
 */
#ifndef APIWARD_HTTP_HEAD_H
#define APIWARD_HTTP_HEAD_H

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "http/http.h"

/*
 * Character classes, one bit each, looked up in http_chars by byte
 * value. The table is written out by hand in fields.c and checked
 * against the RFC definitions by tests/unit/test_http.c.
 */
enum {
    HTTP_CH_TOKEN = 0x01,  /* tchar (RFC 9110 section 5.6.2) */
    HTTP_CH_VALUE = 0x02,  /* field-vchar, SP or HTAB */
    HTTP_CH_TARGET = 0x04, /* plain request-target byte, see parse.c */
    HTTP_CH_HEX = 0x08,    /* HEXDIG, either case */
    HTTP_CH_HOST = 0x10,   /* host name byte we accept: unreserved */
    HTTP_CH_QDTEXT = 0x20, /* qdtext of a quoted-string */
};

extern const uint8_t http_chars[256];

static inline bool
http_ch_is(unsigned char c, unsigned cls)
{
    return (http_chars[c] & cls) != 0;
}

/*
 * The first byte in [p, end) outside class cls, or end. This is the
 * inner loop of the parsers; testing four bytes per bound check roughly
 * halves its cost.
 */
static inline const char *
http_span(const char *p, const char *end, unsigned cls)
{
    while (end - p >= 4 && http_ch_is((unsigned char)p[0], cls) &&
           http_ch_is((unsigned char)p[1], cls) &&
           http_ch_is((unsigned char)p[2], cls) &&
           http_ch_is((unsigned char)p[3], cls))
        p += 4;
    while (p < end && http_ch_is((unsigned char)*p, cls))
        p++;
    return p;
}

/*
 * http_span for HTTP_CH_VALUE, where most bytes of a head are. The
 * class is every byte but the controls other than HTAB, and DEL, which
 * SSE2 can test 16 bytes at a time; tests/unit/test_http.c checks that
 * both ways agree on every byte at every position.
 */
static inline const char *
http_span_value(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i c1f = _mm_set1_epi8(0x1f);
    const __m128i tab = _mm_set1_epi8('\t');
    const __m128i del = _mm_set1_epi8(0x7f);

    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* x <= 0x1f, unsigned: max(x, 0x1f) is then 0x1f. */
        __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f);
        __m128i bad =
            _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(x, tab), ctl),
                         _mm_cmpeq_epi8(x, del));
        unsigned mask = (unsigned)_mm_movemask_epi8(bad);

        if (mask != 0)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    return http_span(p, end, HTTP_CH_VALUE);
}

/* What kind of head is read, and against which limits. */
struct http_head_kind {
    const struct http_limits *limits;
    bool response;
    enum http_method req_method; /* responses: method of the request */
};

/* True when a response with this status to this method has no body. */
static inline bool
http_bodiless(int status, enum http_method req_method)
{
    return status < 200 || status == 204 || status == 304 ||
           req_method == HTTP_HEAD;
}

/* Fill err and return AW_INVALID; every refusal goes through here. */
int http_fail(struct http_error *err, int status, const char *reason,
              const char *detail);

/*
 * A scan stopped at a CR at p, before end. Returns AW_AGAIN when the
 * byte after it has not arrived yet, AW_INVALID (400 http.bare_cr) when
 * that byte is not LF, and AW_OK when p starts a CR LF.
 */
int http_at_cr(const char *p, const char *end, struct http_error *err);

/* True for host [":" port] as we accept it; see fields.c. */
bool http_host_valid(struct slice h);

/*
 * Check the request line at *pp and fill the method, target, path and
 * query of req, st->version and the authority of an absolute-form target
 * (as offsets from buf).
 */
int http_request_start(struct http_head_state *st, const char *buf,
                       const char **pp, const char *end,
                       const struct http_limits *limits,
                       struct http_request *req, struct http_error *err);

/*
 * Check the status line at *pp and fill res->version, res->status,
 * res->reason, st->version and st->status. AW_INVALID errors carry
 * status 502.
 */
int http_response_start(struct http_head_state *st, const char **pp,
                        const char *end, struct http_response *res,
                        struct http_error *err);

/*
 * Check one field line at *pp, store its name and trimmed value in h,
 * apply the rules of the fields that frame and route a message (Host,
 * Content-Length, Transfer-Encoding, Expect, Connection) to st, and
 * leave *pp at the next line.
 */
int http_field_line(struct http_head_state *st, const struct http_head_kind *k,
                    const char *buf, const char **pp, const char *end,
                    struct http_header *h, struct http_error *err);

/*
 * Look for the end of a head in buf[0..len), starting where the previous
 * call stopped, and check the lines of a head that is not complete yet.
 * A bare LF, and a CR not followed by LF, are refused as soon as they
 * are seen.
 *
 * Returns AW_OK with *head_len set (the bytes up to and including the
 * CRLF CRLF; the lines are then not all checked yet); AW_AGAIN; or
 * AW_INVALID with err filled by a line check, or 400 http.bare_lf,
 * http.bare_cr, http.bad_request_line (an empty first line), 431
 * http.too_many_headers or http.head_too_large.
 */
int http_head_scan(struct http_parser *p, const char *buf, size_t len,
                   const struct http_head_kind *k, size_t *head_len,
                   struct http_error *err);

#endif
