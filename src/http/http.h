/*
 * http: a strict HTTP/1.1 message parser (RFC 9110, RFC 9112) and the
 * normalisation of request targets.
 *
 * The parsers allocate nothing: every slice they produce points into the
 * caller's buffer, which must stay in place while the slices are used.
 * Each returns one of three outcomes: AW_OK (a complete head), AW_AGAIN
 * (need more bytes; call again with the same buffer grown), or an error
 * with a filled struct http_error. Anything RFC 9112 lets a recipient
 * accept "leniently" is refused here: a gateway that reads a message one
 * way while the backend reads it another is the root of request
 * smuggling.
 */
#ifndef APIWARD_HTTP_H
#define APIWARD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct arena;

/*
 * Why a message was refused. reason is a stable code such as
 * "http.ambiguous_length": the same string goes to the problem+json body,
 * the access log, security events and metrics. detail is a fixed English
 * sentence; it never contains bytes of the message.
 */
struct http_error {
    int status;         /* 400, 413, 414, 417, 431, 501, 502 or 505 */
    const char *reason; /* stable code, static storage */
    const char *detail; /* fixed sentence, static storage */
};

/*
 * Reason codes used by the parsers in this module. Every refusal also
 * means the connection is closed after the error response.
 *
 *   code                          status  meaning
 *   http.bad_request_line         400     request line not exactly
 *                                         "METHOD SP target SP HTTP/x.y
 *                                         CRLF", method not a token, an
 *                                         empty line before it
 *   http.method_not_supported     501     CONNECT (tunnels are refused)
 *   http.bad_target               400     target byte not allowed, bad
 *                                         percent-encoding, wrong form
 *                                         for the method, bad authority
 *                                         (user information included)
 *   http.fragment                 400     "#" in the target
 *   http.target_too_long          414     target over max_target_bytes
 *   http.version_not_supported    505     well-formed version other than
 *                                         HTTP/1.0 or HTTP/1.1
 *   http.bare_lf                  400     a head line ends in LF alone
 *   http.bare_cr                  400     CR not followed by LF in a head
 *   http.obs_fold                 400     a field line starts with SP or
 *                                         HTAB (also right after the
 *                                         start line)
 *   http.bad_field_name           400     empty or non-token name,
 *                                         whitespace before the colon,
 *                                         no colon
 *   http.bad_field_value          400     NUL, DEL or a control other
 *                                         than HTAB in a value
 *   http.head_too_large           431     no end of head within
 *                                         max_head_bytes
 *   http.too_many_headers         431     more than max_headers fields
 *   http.missing_host             400     HTTP/1.1 request without Host
 *   http.duplicate_host           400     more than one Host field
 *   http.bad_host                 400     Host not host[:port], the host
 *                                         of ALPHA DIGIT - . _ ~ or an
 *                                         IP literal in brackets
 *   http.host_mismatch            400     Host differs from the authority
 *                                         of an absolute-form target
 *   http.ambiguous_length         400     Content-Length together with
 *                                         Transfer-Encoding, or repeated
 *   http.bad_content_length       400     Content-Length not 1*DIGIT or
 *                                         over 2^64-1
 *   http.bad_transfer_encoding    400     Transfer-Encoding other than
 *                                         one field "chunked", or in
 *                                         HTTP/1.0
 *   http.body_too_large           413     declared or decoded body over
 *                                         max_body_bytes
 *   http.expectation_failed       417     Expect other than 100-continue
 *   http.bad_chunk                400     chunk size not hex, over 16
 *                                         digits, or a chunk not ending
 *                                         in CRLF
 *   http.bad_chunk_extension      400     malformed chunk extension, or
 *                                         a size line over 4 KiB
 *   http.bad_trailer              400     malformed trailer field, or a
 *                                         trailer section over 8 KiB
 *   http.bad_upstream_response    502     any of the above in a response
 *                                         head (detail says which), or a
 *                                         malformed status line
 *
 * http_normalize_path adds its own "http.path_*" codes, listed there.
 */

/* Bounds applied while parsing. */
struct http_limits {
    size_t max_head_bytes;   /* request line plus fields; 431 past it */
    unsigned max_headers;    /* field lines; 431 past it */
    size_t max_target_bytes; /* request-target; 414 past it */
    uint64_t max_body_bytes; /* declared or decoded body; 413 past it */
};

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_PATCH,
    HTTP_OPTIONS,
    HTTP_TRACE,
    HTTP_CONNECT,
    HTTP_OTHER, /* a valid token we do not know; routes may still name it */
    HTTP_METHOD_COUNT
};

/* Name of a known method ("GET"), or "OTHER". */
const char *http_method_name(enum http_method m);

/* Method from its exact (case-sensitive) name; HTTP_OTHER if unknown. */
enum http_method http_method_from(struct slice name);

/* One field line. Both slices point into the parsed buffer. */
struct http_header {
    struct slice name;  /* a token, case preserved */
    struct slice value; /* leading and trailing whitespace removed */
};

/* How the body of a message is delimited. */
enum http_framing {
    HTTP_BODY_NONE,    /* no body */
    HTTP_BODY_LENGTH,  /* exactly content_length bytes */
    HTTP_BODY_CHUNKED, /* chunked transfer coding */
    HTTP_BODY_CLOSE,   /* responses only: until the connection closes */
};

/*
 * A parsed request head. The caller provides the headers array with room
 * for limits->max_headers entries. The structure need not be kept
 * between AW_AGAIN calls: it is filled only on AW_OK, and its slices
 * point into the buffer of that call (path may point at a static "/").
 */
struct http_request {
    struct slice method_name; /* a token, exactly as sent */
    enum http_method method;
    struct slice target; /* request-target exactly as received */
    struct slice path;   /* path part of the target, still encoded: "/..."
                            (a static "/" for "http://host" with no path),
                            or "*" for OPTIONS * */
    struct slice query;  /* after '?', without it; ptr NULL when absent */
    struct slice host;   /* the Host value; for HTTP/1.0 without Host, the
                            authority of an absolute target or ptr NULL */
    int version;         /* 10 for HTTP/1.0, 11 for HTTP/1.1 */
    struct http_header *headers;
    unsigned nheaders;
    enum http_framing framing; /* NONE, LENGTH or CHUNKED */
    uint64_t content_length;   /* when framing is HTTP_BODY_LENGTH (which
                                  "Content-Length: 0" also gives) */
    bool keep_alive;           /* from the version and Connection */
    bool expect_continue;      /* "Expect: 100-continue" in HTTP/1.1 */
    size_t head_len;           /* bytes up to and including CRLF CRLF */
};

/* A parsed response head; headers and lifetime as for requests. */
struct http_response {
    int status;          /* 100..599 */
    struct slice reason; /* reason phrase, may be empty */
    int version;         /* 10 or 11 */
    struct http_header *headers;
    unsigned nheaders;
    enum http_framing framing; /* NONE for 1xx, 204, 304 and answers to
                                  HEAD; else CHUNKED, LENGTH or CLOSE */
    uint64_t content_length;   /* when framing is HTTP_BODY_LENGTH */
    bool keep_alive; /* the server allows reuse; false with CLOSE */
    size_t head_len;
};

/*
 * What the checks of one line of a head carry to the next. Private to
 * the parser; offsets count from the start of the message.
 */
struct http_head_state {
    int version;             /* 10 or 11, from the start line */
    int status;              /* responses: the status code */
    unsigned ncl;            /* Content-Length fields seen */
    unsigned nte;            /* Transfer-Encoding fields seen */
    unsigned nhost;          /* Host fields seen */
    uint64_t content_length; /* value of the Content-Length field */
    size_t host_off;         /* the Host value */
    size_t host_len;
    size_t auth_off;         /* authority of an absolute-form target */
    size_t auth_len;         /* 0 when the target has none */
    bool conn_close;         /* a Connection field lists "close" */
    bool conn_keep_alive;    /* a Connection field lists "keep-alive" */
    bool expect_continue;    /* Expect is "100-continue" */
};

/*
 * Resumable head parser state. Scanning restarts where the previous call
 * stopped, so feeding a head byte by byte costs linear time. The lines
 * of a head that is still incomplete are checked as they arrive, so a
 * malformed head is refused without waiting for its end, and a refusal
 * (status and reason) is the same however the bytes were split: always
 * the one for the first faulty byte. A bare LF is refused at once; a
 * fault inside a long incomplete line may be found up to a few hundred
 * bytes later when the line comes in small pieces (see scan.c).
 */
struct http_parser {
    size_t scanned;    /* bytes already checked for line endings */
    size_t line_start; /* offset of the line being scanned */
    size_t checked;    /* the lines before this offset passed checks */
    size_t partial_end; /* how far the partial line was last checked */
    unsigned lines;    /* complete lines seen so far */
    struct http_head_state st; /* carried by the checks of early lines */
};

/*
 * Prepare p for a new message. Call it before the first byte of every
 * head: the offsets it keeps are relative to the start of the message,
 * which must stay at buf[0] across AW_AGAIN calls.
 */
void http_parser_init(struct http_parser *p);

/*
 * Parse a request head at buf[0..len). Bytes after the head (a body, a
 * pipelined request) are left alone; head_len says where they start.
 *
 * Returns AW_OK with req filled; AW_AGAIN when the head is not complete
 * yet (and still within limits); AW_INVALID with err filled when the
 * head is malformed or over a limit. On AW_INVALID the connection must be
 * closed after the error response: the framing can no longer be trusted.
 * Malformed lines are refused as they arrive, before the head ends, with
 * the reason of the first faulty byte (see struct http_parser).
 *
 * Refused, with the codes of the table above: a request line that is not
 * exactly "METHOD SP target SP HTTP/1.x CRLF" (400), including empty
 * lines before it; versions other than 1.0 and 1.1 (505); CONNECT (501);
 * a target that is not origin-form, absolute-form with http or https, or
 * "*" with OPTIONS, or that has a fragment, a byte RFC 3986 never allows
 * raw, or a bad percent-encoding (400); Content-Length with
 * Transfer-Encoding; repeated or malformed Content-Length;
 * Transfer-Encoding other than one field "chunked", or in HTTP/1.0;
 * obs-fold; whitespace before a colon; non-token field names; NUL, CTL
 * or DEL in values; bare CR; bare LF; missing (HTTP/1.1), repeated or
 * malformed Host, or a Host other than the authority of an absolute
 * target; Expect other than 100-continue (417); a head over
 * max_head_bytes or max_headers (431); a target over max_target_bytes
 * (414); a Content-Length over max_body_bytes (413).
 */
int http_parse_request(struct http_parser *p, const char *buf, size_t len,
                       const struct http_limits *limits,
                       struct http_request *req, struct http_error *err);

/*
 * Parse a response head at buf[0..len), the answer to a request made with
 * method req_method (a HEAD answer, 1xx, 204 and 304 have no body).
 * Returns as http_parse_request, with the same rules for fields (Host and
 * Expect aside); every refusal is 502 http.bad_upstream_response, its
 * detail naming the fault. The status line must be "HTTP/1.x SP 3DIGIT
 * SP reason CRLF", status 100 to 599, the space present even before an
 * empty reason. Interim 1xx responses are returned like any other; the
 * caller skips them.
 */
int http_parse_response(struct http_parser *p, const char *buf, size_t len,
                        const struct http_limits *limits,
                        enum http_method req_method,
                        struct http_response *res, struct http_error *err);

/* First field with this name (case-insensitive); NULL when absent. */
const struct http_header *http_header_find(const struct http_header *h,
                                           unsigned n, const char *name);

/* True when a comma-separated field value lists token (nocase). */
bool http_list_has(struct slice value, const char *token);

/*
 * True for fields that describe one hop and must not be forwarded:
 * Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization.
 */
bool http_is_hop_by_hop(struct slice name);

/*
 * Chunked transfer coding decoder (RFC 9112 section 7.1). Chunk
 * extensions are checked for syntax and dropped; trailer fields are
 * checked like header fields and dropped.
 */
struct http_chunked {
    int state;
    uint64_t chunk_left; /* payload bytes left in the current chunk */
    uint64_t total;      /* payload bytes decoded so far */
    unsigned digits;     /* hex digits in the current size */
    unsigned line_len;   /* bytes of the current size line, then of the
                            whole trailer section */
};

void http_chunked_init(struct http_chunked *c);

/*
 * Decode buf[0..len) in place: payload bytes are moved to the front of
 * buf. On return *consumed is the number of input bytes used and *out the
 * number of payload bytes now at buf[0..*out); *out <= *consumed.
 *
 * Returns AW_AGAIN when all input was used and the body goes on; AW_DONE
 * when the last chunk and the trailer section ended (bytes after
 * *consumed belong to the next message; later calls return AW_DONE and
 * use nothing); AW_INVALID with err filled for a malformed chunk size,
 * extension, line end or trailer (400), or as soon as a chunk size would
 * take the total past max_body (413).
 *
 * Sizes are 1 to 16 hex digits. Extensions are ";name[=token or
 * quoted-string]" with optional SP or HTAB around ";" and "=" only. A
 * size line with its extensions is at most 4 KiB, the trailer section at
 * most 8 KiB. Input may be split anywhere, down to one byte per call.
 */
int http_chunked_decode(struct http_chunked *c, char *buf, size_t len,
                        size_t *consumed, size_t *out, uint64_t max_body,
                        struct http_error *err);

/* What to do with repeated slashes in a path. */
enum http_slashes {
    HTTP_SLASHES_MERGE,  /* "//" becomes "/" (default) */
    HTTP_SLASHES_KEEP,   /* left as sent */
    HTTP_SLASHES_REJECT, /* 400 http.path_slashes */
};

/* Normalisation choices; http_norm_defaults gives the safe defaults. */
struct http_norm_opts {
    enum http_slashes slashes;
    bool reject_encoded_slash;  /* %2F and %5C: 400 (default true) */
    bool reject_encoded_dot;    /* %2E: 400 (default true); else decoded */
    bool reject_backslash;      /* a literal '\': 400 (default true) */
    bool reject_nul;            /* %00: 400 (default true) */
    bool reject_invalid_utf8;   /* decoded bytes not UTF-8: 400 (true) */
    bool reject_dot_segments;   /* "." or "..": 400 instead of removing
                                   them (default false) */
};

void http_norm_defaults(struct http_norm_opts *o);

/*
 * Normalise an encoded origin-form path once (RFC 3986 sections 2.3,
 * 6.2.2): percent-encodings of unreserved characters are decoded, other
 * percent-encodings get upper-case hex, dot segments are removed (a ".."
 * that would climb above the root is refused), repeated slashes are
 * handled as o->slashes says. The result is what routing, policy, logs
 * and the upstream see.
 *
 * raw must start with '/'. On AW_OK *out points into memory from arena a
 * (or into raw when nothing changed). AW_INVALID with err filled (400,
 * reason "http.path_*"); AW_NOMEM when the arena is exhausted.
 */
int http_normalize_path(struct slice raw, const struct http_norm_opts *o,
                        struct arena *a, struct slice *out,
                        struct http_error *err);

/*
 * Query strings (the part of the target after '?'), read the way HTML
 * forms write them: parameters separated by '&', name and value by the
 * first '=', percent-encodings and '+' for a space.
 *
 * http_query_next gives the parameters one by one, raw (still encoded),
 * in order: start with *pos = 0; it returns false when none is left. A
 * parameter without '=' has an empty value; empty parameters ("a&&b")
 * are given too, with an empty name.
 */
bool http_query_next(struct slice q, size_t *pos, struct slice *name,
                     struct slice *value);

/*
 * The cookies of a Cookie field value (RFC 6265 section 4.2.1, read as
 * browsers and frameworks do): pairs separated by ';', name and value
 * by the first '=', blanks around each trimmed. Start with *pos = 0;
 * returns false when none is left. A pair without '=' is skipped; the
 * slices point into v and are not decoded.
 */
bool http_cookie_next(struct slice v, size_t *pos, struct slice *name,
                      struct slice *value);

/*
 * Decode a raw query name or value into arena a ('+' is a space, %XX a
 * byte); the result is NUL-terminated. Returns AW_OK, AW_INVALID for a
 * '%' not followed by two hex digits, AW_NOMEM.
 */
int http_form_decode(struct arena *a, struct slice s, struct slice *out);

#endif
