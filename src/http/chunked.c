/*
 * Chunked transfer coding decoder (RFC 9112 section 7.1).
 *
 * The decoder is a byte-at-a-time state machine for the framing (size
 * lines, extensions, the CRLF after each chunk, the trailer section) and
 * a block copy for chunk data, which is where nearly all bytes go. Its
 * state lives in struct http_chunked, so input may arrive split at any
 * byte. Payload is moved towards the front of the caller's buffer; the
 * write position never passes the read position, so memmove is enough.
 *
 * Everything RFC 9112 lets a recipient tolerate is refused: whitespace
 * after a size without an extension, a bare LF or CR, data that does not
 * end in CRLF, a malformed extension. These are the differences between
 * decoders that request smuggling through chunked bodies relies on.
 */
#include <string.h>

#include "http/head.h"

/* A size line with its extensions, CR LF included. */
#define CHUNK_LINE_MAX 4096
/* All trailer field lines and the final CR LF together. */
#define CHUNK_TRAILER_MAX 8192
/* 16 hex digits hold any 64-bit size, so the value cannot overflow. */
#define CHUNK_DIGITS_MAX 16

enum chunked_state {
    CH_SIZE,          /* hex digits of the size */
    CH_SIZE_WS,       /* whitespace after the size; ";" must follow */
    CH_EXT_START,     /* after ";": whitespace, then a name */
    CH_EXT_NAME,      /* in an extension name */
    CH_EXT_NAME_WS,   /* whitespace after a name: "=" or ";" next */
    CH_EXT_EQ,        /* after "=": whitespace, then a value */
    CH_EXT_TOKEN,     /* in a token value */
    CH_EXT_QUOTED,    /* in a quoted-string value */
    CH_EXT_ESCAPE,    /* after a backslash in a quoted-string */
    CH_EXT_AFTER,     /* after the closing quote */
    CH_EXT_AFTER_WS,  /* whitespace after a value: ";" next */
    CH_SIZE_LF,       /* the CR of the size line was read */
    CH_DATA,          /* chunk_left payload bytes to copy */
    CH_DATA_CR,       /* the CR after the data */
    CH_DATA_LF,       /* the LF after the data */
    CH_TRAILER_START, /* start of a trailer line or of the final CRLF */
    CH_TRAILER_NAME,  /* in a trailer field name */
    CH_TRAILER_VALUE, /* in a trailer field value */
    CH_TRAILER_LF,    /* the CR of a trailer line was read */
    CH_END_LF,        /* the CR of the final empty line was read */
    CH_DONE,
};

void
http_chunked_init(struct http_chunked *c)
{
    c->state = CH_SIZE;
    c->chunk_left = 0;
    c->total = 0;
    c->digits = 0;
    c->line_len = 0;
}

static int
bad_chunk(struct http_error *err, const char *detail)
{
    return http_fail(err, 400, "http.bad_chunk", detail);
}

static int
bad_ext(struct http_error *err)
{
    return http_fail(err, 400, "http.bad_chunk_extension",
                     "A chunk extension is malformed.");
}

static int
bad_trailer(struct http_error *err, const char *detail)
{
    return http_fail(err, 400, "http.bad_trailer", detail);
}

static inline bool
is_ws(unsigned char b)
{
    return b == ' ' || b == '\t';
}

static inline bool
is_token(unsigned char b)
{
    return http_ch_is(b, HTTP_CH_TOKEN);
}

static unsigned
hex_value(unsigned char b)
{
    if (b <= '9')
        return b - '0';
    return (b | 0x20) - 'a' + 10;
}

/*
 * One byte of the size itself. The running size is checked against
 * what is left of max_body at every digit, so a huge size is refused
 * before any of its data is read.
 */
static int
size_byte(struct http_chunked *c, unsigned char b, uint64_t max_body,
          struct http_error *err)
{
    if (http_ch_is(b, HTTP_CH_HEX)) {
        if (++c->digits > CHUNK_DIGITS_MAX)
            return bad_chunk(err, "A chunk size has more than 16 digits.");
        c->chunk_left = c->chunk_left << 4 | hex_value(b);
        if (c->chunk_left > max_body - c->total)
            return http_fail(err, 413, "http.body_too_large",
                             "The chunked body is over the body limit.");
        return AW_OK;
    }
    if (c->digits == 0)
        return bad_chunk(err, "A chunk size is not a hex number.");
    if (b == ';')
        c->state = CH_EXT_START;
    else if (is_ws(b))
        c->state = CH_SIZE_WS;
    else if (b == '\r')
        c->state = CH_SIZE_LF;
    else
        return bad_chunk(err, "A chunk size is not a hex number.");
    return AW_OK;
}

/*
 * One byte of an extension value or what follows it. Values are a token
 * or a quoted-string; both are checked, then dropped.
 */
static int
ext_value_byte(struct http_chunked *c, unsigned char b, struct http_error *err)
{
    switch (c->state) {
    case CH_EXT_EQ:
        if (b == '"')
            c->state = CH_EXT_QUOTED;
        else if (is_token(b))
            c->state = CH_EXT_TOKEN;
        else if (!is_ws(b))
            return bad_ext(err);
        return AW_OK;
    case CH_EXT_QUOTED:
        if (b == '"')
            c->state = CH_EXT_AFTER;
        else if (b == '\\')
            c->state = CH_EXT_ESCAPE;
        else if (!http_ch_is(b, HTTP_CH_QDTEXT))
            return bad_ext(err);
        return AW_OK;
    case CH_EXT_ESCAPE:
        if (!http_ch_is(b, HTTP_CH_VALUE))
            return bad_ext(err);
        c->state = CH_EXT_QUOTED;
        return AW_OK;
    default:
        /* CH_EXT_TOKEN and CH_EXT_AFTER: the value has ended or goes on
           as a token. */
        if (c->state == CH_EXT_TOKEN && is_token(b))
            return AW_OK;
        if (b == ';')
            c->state = CH_EXT_START;
        else if (is_ws(b))
            c->state = CH_EXT_AFTER_WS;
        else if (b == '\r')
            c->state = CH_SIZE_LF;
        else
            return bad_ext(err);
        return AW_OK;
    }
}

/*
 * One byte of the extension grammar before a value:
 *   *( BWS ";" BWS name [ BWS "=" BWS value ] )
 * BWS is SP or HTAB only. A line may not end in whitespace.
 */
static int
ext_byte(struct http_chunked *c, unsigned char b, struct http_error *err)
{
    switch (c->state) {
    case CH_SIZE_WS:
        if (b == ';')
            c->state = CH_EXT_START;
        else if (!is_ws(b))
            return bad_chunk(err, "Whitespace after a chunk size is not "
                                  "followed by an extension.");
        return AW_OK;
    case CH_EXT_AFTER_WS:
        if (b == ';')
            c->state = CH_EXT_START;
        else if (!is_ws(b))
            return bad_ext(err);
        return AW_OK;
    case CH_EXT_START:
        if (is_token(b))
            c->state = CH_EXT_NAME;
        else if (!is_ws(b))
            return bad_ext(err);
        return AW_OK;
    case CH_EXT_NAME:
        if (is_token(b))
            return AW_OK;
        if (b == '\r') {
            c->state = CH_SIZE_LF;
            return AW_OK;
        }
        /* Any other byte ends the name; it is read as after one. */
        __attribute__((fallthrough));
    case CH_EXT_NAME_WS:
        if (b == '=')
            c->state = CH_EXT_EQ;
        else if (b == ';')
            c->state = CH_EXT_START;
        else if (is_ws(b))
            c->state = CH_EXT_NAME_WS;
        else
            return bad_ext(err);
        return AW_OK;
    default:
        return ext_value_byte(c, b, err);
    }
}

/*
 * One byte of a size line, counted against CHUNK_LINE_MAX. The LF ends
 * the line: a zero size starts the trailer section, any other the data.
 */
static int
size_line_byte(struct http_chunked *c, unsigned char b, uint64_t max_body,
               struct http_error *err)
{
    if (++c->line_len > CHUNK_LINE_MAX)
        return http_fail(err, 400, "http.bad_chunk_extension",
                         "A chunk size line is longer than 4 KiB.");
    if (c->state == CH_SIZE)
        return size_byte(c, b, max_body, err);
    if (c->state != CH_SIZE_LF)
        return ext_byte(c, b, err);
    if (b != '\n')
        return bad_chunk(err, "A chunk size line does not end in CRLF.");
    c->line_len = 0;
    c->state = c->chunk_left == 0 ? CH_TRAILER_START : CH_DATA;
    return AW_OK;
}

/*
 * One byte of the trailer section, which is checked like header fields
 * and then dropped: no obs-fold, no whitespace before the colon, no
 * controls in values, CRLF line ends. line_len now counts the whole
 * section.
 */
static int
trailer_byte(struct http_chunked *c, unsigned char b, struct http_error *err)
{
    if (++c->line_len > CHUNK_TRAILER_MAX)
        return bad_trailer(err, "The trailer section is larger than 8 KiB.");
    switch (c->state) {
    case CH_TRAILER_START:
        if (b == '\r')
            c->state = CH_END_LF;
        else if (is_token(b))
            c->state = CH_TRAILER_NAME;
        else
            return bad_trailer(err, "A trailer line does not start with "
                                    "a field name.");
        return AW_OK;
    case CH_TRAILER_NAME:
        if (b == ':')
            c->state = CH_TRAILER_VALUE;
        else if (!is_token(b))
            return bad_trailer(err, "A trailer field name is malformed.");
        return AW_OK;
    case CH_TRAILER_VALUE:
        if (b == '\r')
            c->state = CH_TRAILER_LF;
        else if (!http_ch_is(b, HTTP_CH_VALUE))
            return bad_trailer(err, "A trailer field value has a control "
                                    "character.");
        return AW_OK;
    case CH_TRAILER_LF:
        if (b != '\n')
            return bad_trailer(err, "A trailer line does not end in CRLF.");
        c->state = CH_TRAILER_START;
        return AW_OK;
    default:
        if (b != '\n')
            return bad_trailer(err, "The chunked body does not end in "
                                    "CRLF.");
        c->state = CH_DONE;
        return AW_OK;
    }
}

/* One byte of framing, in any state but CH_DATA and CH_DONE. */
static int
chunked_byte(struct http_chunked *c, unsigned char b, uint64_t max_body,
             struct http_error *err)
{
    if (c->state <= CH_SIZE_LF)
        return size_line_byte(c, b, max_body, err);
    if (c->state >= CH_TRAILER_START)
        return trailer_byte(c, b, err);
    if (c->state == CH_DATA_CR && b == '\r') {
        c->state = CH_DATA_LF;
        return AW_OK;
    }
    if (c->state == CH_DATA_LF && b == '\n') {
        c->state = CH_SIZE;
        c->chunk_left = 0;
        c->digits = 0;
        return AW_OK;
    }
    return bad_chunk(err, "Chunk data is not followed by CRLF.");
}

int
http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
                    size_t *consumed, size_t *out, uint64_t max_body,
                    struct http_error *err)
{
    size_t i = 0;
    size_t o = 0;
    int rc = AW_OK;

    while (i < len && c->state != CH_DONE && rc == AW_OK) {
        if (c->state == CH_DATA) {
            size_t n = (size_t)MIN(c->chunk_left, (uint64_t)(len - i));

            if (o != i)
                memmove(buf + o, buf + i, n);
            o += n;
            i += n;
            c->total += n;
            c->chunk_left -= n;
            if (c->chunk_left == 0)
                c->state = CH_DATA_CR;
            continue;
        }
        rc = chunked_byte(c, (unsigned char)buf[i], max_body, err);
        i++;
    }
    *consumed = i;
    *out = o;
    if (rc != AW_OK)
        return rc;
    return c->state == CH_DONE ? AW_DONE : AW_AGAIN;
}
