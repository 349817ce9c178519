/*
 * Internal to src/http: the pieces shared by the request parser, the
 * response parser and the chunked decoder. Other modules include only
 * http/http.h.
 */
#ifndef APIWARD_HTTP_HEAD_H
#define APIWARD_HTTP_HEAD_H

#include <stdint.h>

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

/* Fill err and return AW_INVALID; every refusal goes through here. */
int http_fail(struct http_error *err, int status, const char *reason,
              const char *detail);

/*
 * Look for the end of a head (an empty line) in buf[0..len), starting
 * where the previous call stopped. Every LF must follow a CR; a bare LF
 * is refused as soon as it is seen, and so is a line that starts with
 * CR not followed by LF, so that the two tricks that hide a second head
 * inside the first cannot wait for the head limit.
 *
 * Returns AW_OK with *head_len set (the bytes up to and including the
 * CRLF CRLF), AW_AGAIN, or AW_INVALID with err filled: 400
 * http.bare_lf, http.bare_cr or http.bad_request_line (an empty first
 * line); 431 http.too_many_headers or http.head_too_large.
 */
int http_head_scan(struct http_parser *p, const char *buf, size_t len,
                   const struct http_limits *limits, size_t *head_len,
                   struct http_error *err);

/*
 * What the framing and connection rules need from the field lines, as
 * collected by http_fields_parse. The value slices are those of the last
 * field of each name; the counts say how many there were.
 */
struct http_fields {
    struct http_header *headers; /* caller's array */
    unsigned max;                /* its capacity */
    unsigned n;                  /* entries filled */
    unsigned ncl;                /* Content-Length fields */
    unsigned nte;                /* Transfer-Encoding fields */
    unsigned nhost;              /* Host fields */
    struct slice cl;
    struct slice te;
    struct slice host;
    bool conn_close;      /* some Connection field lists "close" */
    bool conn_keep_alive; /* some Connection field lists "keep-alive" */
    bool expect_continue; /* an Expect field is "100-continue" */
    bool expect_other;    /* an Expect field says anything else */
};

/*
 * Parse the field lines at p up to and including the empty line that
 * ends the head at end (end[-4..-1] is CR LF CR LF, as http_head_scan
 * guarantees). f->headers and f->max must be set; the rest is filled.
 *
 * Returns AW_OK or AW_INVALID with err filled (400 http.obs_fold,
 * http.bad_field_name, http.bad_field_value, http.bare_cr; 431
 * http.too_many_headers).
 */
int http_fields_parse(const char *p, const char *end, struct http_fields *f,
                      struct http_error *err);

/*
 * Validate the Content-Length and Transfer-Encoding fields collected in
 * f for a message of the given version (10 or 11) and decide how its
 * body is delimited. *framing is HTTP_BODY_NONE when neither field is
 * present; the response parser turns that into HTTP_BODY_CLOSE.
 *
 * Returns AW_OK or AW_INVALID with err filled (400
 * http.ambiguous_length, http.bad_content_length,
 * http.bad_transfer_encoding; 413 http.body_too_large).
 */
int http_framing_eval(const struct http_fields *f, int version,
                      uint64_t max_body, enum http_framing *framing,
                      uint64_t *content_length, struct http_error *err);

#endif
