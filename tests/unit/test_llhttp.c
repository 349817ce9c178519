/*
 * The llhttp request vectors (the .md files in TESTDATA/llhttp/request)
 * run through our request parser and chunked decoder. The vectors' format is in
 * TESTDATA/README.md and TESTDATA/llhttp/SOURCE.md: a heading names the
 * case, a meta comment gives the parser mode, an http block holds the
 * bytes and a log block what llhttp reported.
 *
 * What each case must do here:
 * - llhttp refuses it (an error other than a pause or a close): we
 *   refuse it too, somewhere before the end of the input;
 * - it needs an llhttp leniency flag: we refuse it, or stop reading at a
 *   "Connection: close" before the bytes the leniency was about;
 * - llhttp accepts it: we accept it with the same method, target, field
 *   names and values, and body, message by message; or we refuse it on
 *   purpose, and then the case is listed in the divergence table below
 *   with the reason code we give. Nothing is skipped without a line.
 *
 * Field values are compared after removing trailing whitespace, which
 * llhttp reports and RFC 9110 section 5.5 excludes from the value.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "http/http.h"

#define MAX_MSGS 8
#define MAX_FIELDS 64

/*
 * Cases llhttp accepts and we refuse on purpose, with our reason code.
 * A case refused only for its missing Host is also run with one added,
 * and must then match llhttp in full (see check_with_host).
 */
struct divergence {
    const char *file;
    const char *name;
    const char *reason;
    const char *then; /* reason once a Host is added; NULL: must match */
    unsigned used;    /* cases met */
};

#define ROW(file, name, reason)                                                \
    {                                                                          \
        file, name, reason, NULL, 0                                            \
    }
#define ROW_THEN(file, name, reason, then)                                     \
    {                                                                          \
        file, name, reason, then, 0                                            \
    }
#define NO_HOST "http.missing_host"

static struct divergence divergences[] = {
    /* HTTP/1.1 without Host (RFC 9112 section 3.2 makes it a 400). */
    ROW("connection.md", "Setting flag", NO_HOST),
    ROW("connection.md", "Restarting when keep-alive is explicitly", NO_HOST),
    ROW("connection.md", "Setting flag on `close`", NO_HOST),
    ROW("connection.md", "Setting flag on `close` followed by tab", NO_HOST),
    ROW("connection.md", "Sample", NO_HOST),
    ROW("connection.md", "Multiple tokens with folding and LWS", NO_HOST),
    ROW("connection.md", "Setting a flag and pausing", NO_HOST),
    ROW("connection.md", "Emitting part of body and pausing", NO_HOST),
    ROW("content-length.md", "`Content-Length` with zeroes", NO_HOST),
    ROW("content-length.md", "`Content-Length` with follow-up headers",
        NO_HOST),
    ROW("content-length.md", "Spaces in `Content-Length` (surrounding)",
        NO_HOST),
    ROW("content-length.md", "Tabs in `Content-Length` (surrounding)", NO_HOST),
    ROW("content-length.md", "Content-Length reset when no body is received",
        NO_HOST),
    ROW("finish.md", "It should be safe to finish after GET request", NO_HOST),
    ROW("method.md", "REPORT request", NO_HOST),
    ROW("pausing.md", "on_message_begin", NO_HOST),
    ROW("pausing.md", "on_message_complete", NO_HOST),
    ROW("pausing.md", "on_protocol_complete", NO_HOST),
    ROW("pausing.md", "on_method_complete", NO_HOST),
    ROW("pausing.md", "on_url_complete", NO_HOST),
    ROW("pausing.md", "on_version_complete", NO_HOST),
    ROW("pausing.md", "on_header_field_complete", NO_HOST),
    ROW("pausing.md", "on_header_value_complete", NO_HOST),
    ROW("pausing.md", "on_headers_complete", NO_HOST),
    ROW("pausing.md", "on_chunk_header", NO_HOST),
    ROW("pausing.md", "on_chunk_extension_name", NO_HOST),
    ROW("pausing.md", "on_chunk_extension_value", NO_HOST),
    ROW("pausing.md", "on_chunk_complete", NO_HOST),
    /* After the body of each request comes a CRLF that llhttp skips;
       we refuse it as an empty line before the next request line. */
    ROW_THEN("pipelining.md", "Should parse multiple events", NO_HOST,
             "http.bad_request_line"),
    ROW("sample.md", "Simple request", NO_HOST),
    ROW("sample.md", "Request with method starting with `H`", NO_HOST),
    ROW("sample.md", "DUMBPACK", NO_HOST),
    ROW("sample.md", "No headers and no body", NO_HOST),
    ROW("sample.md", "One header and no body", NO_HOST),
    ROW("sample.md", "Extended Characters", NO_HOST),
    ROW("sample.md", "255 ASCII in header value", NO_HOST),
    ROW("transfer-encoding.md", "Parsing and setting flag", NO_HOST),
    ROW("transfer-encoding.md", "Parse chunks with lowercase size", NO_HOST),
    ROW("transfer-encoding.md", "Parse chunks with uppercase size", NO_HOST),
    ROW("transfer-encoding.md", "POST with `Transfer-Encoding: chunked`",
        NO_HOST),
    ROW("transfer-encoding.md", "Two chunks and triple zero prefixed end chunk",
        NO_HOST),
    ROW("transfer-encoding.md", "Trailing headers", NO_HOST),
    ROW("transfer-encoding.md", "Chunk extensions", NO_HOST),
    ROW("transfer-encoding.md", "Chunk extensions quoting", NO_HOST),
    ROW("uri.md", "Query URL with question mark", NO_HOST),
    /* An extra CRLF after the head, which llhttp skips, is for us an
       empty line before a next request. */
    ROW_THEN("uri.md", "Host terminated by a query string", NO_HOST,
             "http.bad_request_line"),
    ROW("uri.md", "`host:port` terminated by a query string", NO_HOST),
    ROW("uri.md", "`host:port` terminated by a space", NO_HOST),
    /* Empty lines before a request line (RFC 9112 section 2.2 allows
       skipping them; we refuse, so a pipelined stream reads one way). */
    ROW("connection.md", "CRLF between requests, implicit `keep-alive`",
        "http.bad_request_line"),
    ROW("sample.md", "Prefix newline", "http.bad_request_line"),
    ROW("sample.md", "Request starting with CRLF", "http.bad_request_line"),
    /* HTTP/0.9, and the RTSP and ICE protocols: not HTTP/1.x. */
    ROW("sample.md", "No HTTP version", "http.bad_request_line"),
    ROW("method.md", "SOURCE request with ICE", "http.bad_request_line"),
    ROW("method.md", "OPTIONS request with RTSP", "http.bad_request_line"),
    ROW("method.md", "ANNOUNCE request with RTSP", "http.bad_request_line"),
    /* CONNECT: tunnels are refused. */
    ROW("method.md", "CONNECT request", "http.method_not_supported"),
    ROW("method.md", "CONNECT request with CAPS", "http.method_not_supported"),
    ROW("method.md", "CONNECT with body", "http.method_not_supported"),
    ROW("uri.md", "Underscore in hostname", "http.method_not_supported"),
    /* The asterisk form with a method other than OPTIONS (SSDP's
       M-SEARCH, the HTTP/2 preface PRI). */
    ROW("method.md", "M-SEARCH request", "http.bad_target"),
    ROW("method.md", "PRI request HTTP2", "http.bad_target"),
    /* A fragment in the target. The two Transfer-Encoding cases would
       also be refused for "deflate, chunked". */
    ROW("uri.md", "Fragment in URI", "http.fragment"),
    ROW("transfer-encoding.md", "POST with `chunked` as last transfer-encoding",
        "http.fragment"),
    ROW("transfer-encoding.md",
        "POST with `chunked` as last transfer-encoding (multiple headers)",
        "http.fragment"),
    /* Bytes RFC 3986 never allows raw in a target (" and |), and user
       information in an absolute-form authority. */
    ROW("uri.md", "Quotes in URI", "http.bad_target"),
    ROW("uri.md", "Query URL with vertical bar character", "http.bad_target"),
    ROW("uri.md", "`host:port` and basic auth", "http.bad_target"),
    /* A Host with a sub-delimiter ("0.0.0.0=5000"). */
    ROW("sample.md", "curl GET", "http.bad_host"),
    ROW("sample.md", "Firefox GET", "http.bad_host"),
};

/*
 * Cases llhttp refuses and we accept on purpose. llhttp knows a fixed
 * list of methods and ties some to RTSP or ICE; we accept any token as a
 * method (RFC 9110 section 9.1) and leave it to routes which they serve.
 */
static struct divergence accepted_on_purpose[] = {
    ROW("invalid.md", "HTTP protocol and ANNOUNCE method", NULL),
};

/* A string that grows; tests may allocate freely. */
struct str {
    char *p;
    size_t n;
    size_t cap;
};

static void
str_add(struct str *s, const char *p, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        s->cap = (s->n + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
        assert_non_null(s->p);
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
}

static void
str_free(struct str *s)
{
    free(s->p);
    memset(s, 0, sizeof(*s));
}

/* One message as llhttp's log describes it. */
struct exp_msg {
    struct str method;
    struct str url;
    size_t url_end; /* offset just past the target on the wire */
    struct str body;
    struct str names[MAX_FIELDS];
    struct str values[MAX_FIELDS];
    unsigned nfields;
    bool head_done;
    bool complete;
};

struct llcase {
    const char *file;
    char name[256];
    char type[64];
    bool skip_body;  /* llhttp was told to skip the body (no equivalent) */
    struct str raw;  /* the http block as written */
    struct str wire; /* the bytes it stands for */
    struct exp_msg msgs[MAX_MSGS];
    unsigned nmsgs;
    int error_code; /* 0 when the log has no error */
    int finish;     /* -1 when the log has no finish line */
};

/* What our parsers made of a case. */
enum outcome {
    OUT_ALL,        /* every message accepted, input used up */
    OUT_REJECTED,   /* a head or body refused */
    OUT_INCOMPLETE, /* the input ended inside a message */
    OUT_CLOSED,     /* bytes after a message that closes the connection */
    OUT_UPGRADE,    /* stopped where llhttp hands over to a tunnel */
};

struct our_msg {
    struct http_request req;
    struct http_header headers[MAX_FIELDS];
    char *buf; /* copy of the message's bytes the slices point into */
    struct str body;
    bool complete;
};

struct run {
    enum outcome out;
    const char *reason;
    struct our_msg msgs[MAX_MSGS];
    unsigned nmsgs;
};

static const struct http_limits limits = {
    .max_head_bytes = 65536,
    .max_headers = MAX_FIELDS,
    .max_target_bytes = 8192,
    .max_body_bytes = 1 << 20,
};

struct totals {
    unsigned cases;
    unsigned accepted;  /* accepted by both, same fields */
    unsigned rejected;  /* refused by both */
    unsigned lenient;   /* lenient-only input, refused by us */
    unsigned diverging; /* listed in a divergence table */
    unsigned with_host; /* diverging for a missing Host, then run
                           again with one added, as expected */
};

/*
 * Cases that broke a rule. Each is reported as it is met and the test
 * fails at the end, so that one run lists them all.
 */
static unsigned mismatches;

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/*
 * Expand one escape at s (s[0] is a backslash) into *code; returns the
 * length of the escape, or 0 when it is not one of \r \n \t \f \xHH
 * \NNN and the backslash stands for itself.
 */
static size_t
unescape_one(const char *s, const char *end, unsigned *code)
{
    static const char from[] = "rntf";
    static const char to[] = "\r\n\t\f";
    size_t i = 1;
    unsigned v = 0;

    if (end - s < 2)
        return 0;
    for (size_t k = 0; k < 4; k++) {
        if (s[1] == from[k]) {
            *code = (unsigned char)to[k];
            return 2;
        }
    }
    if (s[1] == 'x') {
        for (i = 2; s + i < end && hex_digit(s[i]) >= 0; i++)
            v = v * 16 + (unsigned)hex_digit(s[i]);
        *code = v;
        return i > 2 ? i : 0;
    }
    for (i = 1; i < 4 && s + i < end && s[i] >= '0' && s[i] <= '7'; i++)
        v = v * 8 + (unsigned)(s[i] - '0');
    *code = v;
    return i > 1 ? i : 0;
}

/*
 * Append the character an escape stands for. The upstream harness
 * builds a JavaScript string and sends it as UTF-8, so "\xff" is the
 * two bytes C3 BF on the wire; the offsets in the logs count them so.
 */
static void
add_code(struct str *wire, unsigned code)
{
    char b[2];

    assert_true(code < 0x800);
    if (code < 0x80) {
        b[0] = (char)code;
        str_add(wire, b, 1);
        return;
    }
    b[0] = (char)(0xc0 | code >> 6);
    b[1] = (char)(0x80 | (code & 0x3f));
    str_add(wire, b, 2);
}

/*
 * Turn the http block into wire bytes as the vectors' README says: drop
 * the last newline, join lines that end in a backslash, make newlines
 * CRLF, then expand escapes (as UTF-8, see add_code).
 */
static void
wire_from_raw(const struct str *raw, struct str *wire)
{
    struct str joined = {0};
    size_t n = raw->n;

    if (n > 0 && raw->p[n - 1] == '\n')
        n--;
    for (size_t i = 0; i < n; i++) {
        if (raw->p[i] == '\\' && i + 1 < n && raw->p[i + 1] == '\n') {
            i++;
            continue;
        }
        if (raw->p[i] == '\n')
            str_add(&joined, "\r\n", 2);
        else
            str_add(&joined, raw->p + i, 1);
    }
    for (size_t i = 0; i < joined.n;) {
        unsigned code;
        size_t k = joined.p[i] == '\\'
                       ? unescape_one(joined.p + i, joined.p + joined.n, &code)
                       : 0;

        if (k == 0) {
            str_add(wire, joined.p + i, 1);
            i++;
        } else {
            add_code(wire, code);
            i += k;
        }
    }
    if (wire->p == NULL)
        str_add(wire, "", 0);
    str_free(&joined);
}

/* Append the bytes of a span line to the value it belongs to. */
static void
log_span(struct llcase *c, const char *line)
{
    struct exp_msg *m = &c->msgs[c->nmsgs - 1];
    size_t off;
    size_t len;
    char kind[64];

    if (sscanf(line, "off=%zu len=%zu span[%63[^]]]", &off, &len, kind) != 3)
        return;
    assert_true(off + len <= c->wire.n);

    const char *bytes = c->wire.p + off;

    if (strcmp(kind, "method") == 0)
        str_add(&m->method, bytes, len);
    else if (strcmp(kind, "url") == 0) {
        str_add(&m->url, bytes, len);
        m->url_end = off + len;
    } else if (strcmp(kind, "body") == 0)
        str_add(&m->body, bytes, len);
    else if (strcmp(kind, "header_field") == 0 && !m->head_done)
        str_add(&m->names[m->nfields], bytes, len);
    else if (strcmp(kind, "header_value") == 0 && !m->head_done)
        str_add(&m->values[m->nfields], bytes, len);
}

/* Read one line of the log block into the expectations. */
static void
log_line(struct llcase *c, const char *line)
{
    const char *ev = strchr(line, ' ');
    int code;

    ev = ev != NULL ? ev + 1 : line;
    if (strcmp(ev, "message begin") == 0) {
        assert_true(c->nmsgs < MAX_MSGS);
        c->nmsgs++;
        return;
    }
    if (sscanf(ev, "error code=%d", &code) == 1) {
        c->error_code = code;
        return;
    }
    if (sscanf(ev, "finish=%d", &code) == 1) {
        c->finish = code;
        return;
    }
    if (c->nmsgs == 0)
        return;

    struct exp_msg *m = &c->msgs[c->nmsgs - 1];

    if (strncmp(ev, "len=", 4) == 0)
        log_span(c, line);
    else if (strcmp(ev, "header_value complete") == 0 && !m->head_done) {
        assert_true(m->nfields + 1 < MAX_FIELDS);
        m->nfields++;
    } else if (strncmp(ev, "headers complete", 16) == 0)
        m->head_done = true;
    else if (strcmp(ev, "message complete") == 0)
        m->complete = true;
}

static void
llcase_free(struct llcase *c)
{
    str_free(&c->raw);
    str_free(&c->wire);
    for (unsigned i = 0; i < MAX_MSGS; i++) {
        str_free(&c->msgs[i].method);
        str_free(&c->msgs[i].url);
        str_free(&c->msgs[i].body);
        for (unsigned k = 0; k < MAX_FIELDS; k++) {
            str_free(&c->msgs[i].names[k]);
            str_free(&c->msgs[i].values[k]);
        }
    }
}

static void
llcase_reset(struct llcase *c, const char *file)
{
    llcase_free(c);
    memset(c, 0, sizeof(*c));
    c->file = file;
    c->finish = -1;
}

/* Copy n bytes into a buffer of exactly that size, for ASan's sake. */
static char *
copy_exact(const char *s, size_t n)
{
    char *b = malloc(n > 0 ? n : 1);

    assert_non_null(b);
    memcpy(b, s, n);
    return b;
}

/*
 * Parse the head at s[0..n) into m, in one call or growing one byte per
 * call. The bytes are kept in m->buf, which the slices point into.
 */
static int
run_head(const char *s, size_t n, bool bytewise, struct our_msg *m,
         struct http_error *err)
{
    struct http_parser p;
    int rc = AW_AGAIN;

    m->req.headers = m->headers;
    http_parser_init(&p);
    if (!bytewise) {
        m->buf = copy_exact(s, n);
        return http_parse_request(&p, m->buf, n, &limits, &m->req, err);
    }
    for (size_t k = 1; k <= n && rc == AW_AGAIN; k++) {
        free(m->buf);
        m->buf = copy_exact(s, k);
        rc = http_parse_request(&p, m->buf, k, &limits, &m->req, err);
    }
    return rc;
}

/*
 * Decode a chunked body from s[0..n) into m->body; *used gets the bytes
 * of input it took. Fed whole or one byte at a time.
 */
static int
run_chunked(const char *s, size_t n, bool bytewise, struct our_msg *m,
            size_t *used, struct http_error *err)
{
    struct http_chunked c;
    char *buf = copy_exact(s, n);
    size_t off = 0;
    int rc = AW_AGAIN;

    http_chunked_init(&c);
    while (off < n && rc == AW_AGAIN) {
        size_t step = bytewise ? 1 : n - off;
        size_t consumed;
        size_t out;

        rc = http_chunked_decode(&c, buf + off, step, &consumed, &out,
                                 limits.max_body_bytes, err);
        str_add(&m->body, buf + off, out);
        off += consumed;
    }
    free(buf);
    *used = off;
    return rc;
}

/* Read the body of m at s[0..n); *used gets its length on the wire. */
static int
run_body(const char *s, size_t n, bool bytewise, struct our_msg *m,
         size_t *used, struct http_error *err)
{
    *used = 0;
    if (m->req.framing == HTTP_BODY_CHUNKED) {
        int rc = run_chunked(s, n, bytewise, m, used, err);

        return rc == AW_DONE ? AW_OK : rc;
    }
    if (m->req.framing != HTTP_BODY_LENGTH)
        return AW_OK;
    if (n < m->req.content_length) {
        str_add(&m->body, s, n);
        return AW_AGAIN;
    }
    str_add(&m->body, s, m->req.content_length);
    *used = m->req.content_length;
    return AW_OK;
}

/* Did llhttp stop after message i to hand the connection to a tunnel? */
static bool
llhttp_upgrades_after(const struct llcase *c, unsigned i)
{
    return (c->error_code == 22 || c->error_code == 23) && i + 1 == c->nmsgs;
}

/*
 * Run the input s[0..len) of case c (its own bytes, or those bytes with
 * a Host field added) through our parsers as a connection would.
 */
static void
run_case(const struct llcase *c, const char *s, size_t len, bool bytewise,
         struct run *r)
{
    size_t off = 0;
    struct http_error err;

    r->out = OUT_ALL;
    while (off < len && r->nmsgs < MAX_MSGS) {
        struct our_msg *m = &r->msgs[r->nmsgs];
        size_t used;
        int rc = run_head(s + off, len - off, bytewise, m, &err);

        if (rc == AW_OK) {
            r->nmsgs++;
            off += m->req.head_len;
            rc = run_body(s + off, len - off, bytewise, m, &used, &err);
            off += used;
        }
        if (rc == AW_AGAIN) {
            r->out = OUT_INCOMPLETE;
            return;
        }
        if (rc != AW_OK) {
            r->out = OUT_REJECTED;
            r->reason = err.reason;
            return;
        }
        m->complete = true;
        if (llhttp_upgrades_after(c, r->nmsgs - 1)) {
            r->out = OUT_UPGRADE;
            return;
        }
        if (!m->req.keep_alive) {
            r->out = off < len ? OUT_CLOSED : OUT_ALL;
            return;
        }
    }
}

static void
run_free(struct run *r)
{
    for (unsigned i = 0; i < MAX_MSGS; i++) {
        free(r->msgs[i].buf);
        str_free(&r->msgs[i].body);
    }
}

static bool
slice_is_str(struct slice s, const struct str *want)
{
    return s.len == want->n &&
           (s.len == 0 || memcmp(s.ptr, want->p, s.len) == 0);
}

/* Value as llhttp reported it, less trailing whitespace. */
static struct slice
trimmed(const struct str *v)
{
    size_t n = v->n;

    while (n > 0 && (v->p[n - 1] == ' ' || v->p[n - 1] == '\t'))
        n--;
    return (struct slice){v->p, n};
}

/*
 * Report a mismatch when our message i differs from llhttp's. With
 * added, our first field is a Host the harness put there, skipped.
 */
static void
compare_msg(const struct llcase *c, unsigned i, const struct our_msg *m,
            bool added)
{
    const struct exp_msg *e = &c->msgs[i];
    const struct http_header *h = m->headers + (added ? 1 : 0);
    bool same = slice_is_str(m->req.method_name, &e->method) &&
                slice_is_str(m->req.target, &e->url) &&
                m->req.nheaders == e->nfields + (added ? 1 : 0);

    for (unsigned k = 0; same && k < e->nfields; k++) {
        struct slice v = trimmed(&e->values[k]);

        same = slice_is_str(h[k].name, &e->names[k]) && slice_eq(h[k].value, v);
    }
    if (same && e->complete)
        same = m->body.n == e->body.n &&
               (m->body.n == 0 || memcmp(m->body.p, e->body.p, m->body.n) == 0);
    if (!same) {
        print_error("%s / %s: message %u differs from llhttp%s\n", c->file,
                    c->name, i, added ? " (Host added)" : "");
        mismatches++;
    }
}

static struct divergence *
divergence_find(struct divergence *table, size_t n, const struct llcase *c)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(table[i].file, c->file) == 0 &&
            strcmp(table[i].name, c->name) == 0)
            return &table[i];
    }
    return NULL;
}

static const char *const outcome_names[] = {
    "accepted", "rejected", "incomplete", "closed", "upgrade",
};

static void
report(const struct llcase *c, const struct run *r, const char *want)
{
    print_error("%s / %s: we say %s%s%s, expected %s\n", c->file, c->name,
                outcome_names[r->out], r->reason != NULL ? " " : "",
                r->reason != NULL ? r->reason : "", want);
}

/* llhttp refused the input: so must we, unless listed. */
static void
check_refused(const struct llcase *c, const struct run *r, struct totals *t)
{
    struct divergence *d =
        divergence_find(accepted_on_purpose, ARRAY_LEN(accepted_on_purpose), c);

    if (d != NULL) {
        if (r->out != OUT_ALL) {
            report(c, r, "acceptance (listed)");
            mismatches++;
        }
        d->used++;
        t->diverging++;
        return;
    }
    if (r->out != OUT_REJECTED) {
        report(c, r, "a refusal");
        mismatches++;
    }
    t->rejected++;
}

/*
 * llhttp_finish() failed: the input stops inside a message. We must not
 * have accepted it whole.
 */
static void
check_unfinished(const struct llcase *c, const struct run *r, struct totals *t)
{
    if (r->out != OUT_REJECTED && r->out != OUT_INCOMPLETE) {
        report(c, r, "a refusal or an incomplete message");
        mismatches++;
    }
    t->rejected++;
}

/*
 * Input that only a lenient llhttp accepts: we must refuse it, or close
 * the connection before the bytes after "Connection: close".
 */
static void
check_lenient(const struct llcase *c, const struct run *r, struct totals *t)
{
    if (r->out != OUT_REJECTED && r->out != OUT_CLOSED) {
        report(c, r, "a refusal (lenient-only input)");
        mismatches++;
    }
    t->lenient++;
}

/* The outcome that matches what llhttp's log says it did at the end. */
static enum outcome
llhttp_outcome(const struct llcase *c)
{
    if (c->error_code == 5)
        return OUT_CLOSED;
    if (c->error_code == 22 || c->error_code == 23)
        return OUT_UPGRADE;
    if (c->nmsgs > 0 && !c->msgs[c->nmsgs - 1].complete)
        return OUT_INCOMPLETE;
    return OUT_ALL;
}

/*
 * Our messages in r match llhttp's, and we stopped where it did; added[i]
 * says the harness put a Host field first in message i.
 */
static bool
compare_run(const struct llcase *c, const struct run *r, const bool *added)
{
    if (r->out != llhttp_outcome(c) || r->nmsgs > c->nmsgs) {
        report(c, r, outcome_names[llhttp_outcome(c)]);
        mismatches++;
        return false;
    }
    for (unsigned i = 0; i < r->nmsgs; i++)
        compare_msg(c, i, &r->msgs[i], added[i]);
    return true;
}

/*
 * Where a Host field can go in message i: after its request line, when
 * that line ends in HTTP/1.1 and the message has no Host. Returns the
 * offset, or 0.
 */
static size_t
host_slot(const struct llcase *c, unsigned i)
{
    static const char tail[] = " HTTP/1.1\r\n";
    const struct exp_msg *e = &c->msgs[i];
    size_t at = e->url_end;

    for (unsigned k = 0; k < e->nfields; k++) {
        if (strcasecmp(e->names[k].p != NULL ? e->names[k].p : "", "host") == 0)
            return 0;
    }
    if (at == 0 || c->wire.n - at < sizeof(tail) - 1 ||
        memcmp(c->wire.p + at, tail, sizeof(tail) - 1) != 0)
        return 0;
    return at + sizeof(tail) - 1;
}

static void run_both(const struct llcase *c, const char *s, size_t len,
                     struct run *once, struct run *slow);

/* Append "Host: x" CRLF, x the authority of url or else "h". */
static void
add_host(struct str *wire, const struct str *url)
{
    const char *a = url->p;
    size_t n = 0;

    str_add(wire, "Host: ", 6);
    if (url->n > 7 && strncmp(url->p, "http://", 7) == 0) {
        a = url->p + 7;
        n = strcspn(a, "/?");
    }
    if (n == 0)
        str_add(wire, "h", 1);
    else
        str_add(wire, a, n);
    str_add(wire, "\r\n", 2);
}

/*
 * A case we refuse for its missing Host is run again with one added to
 * each HTTP/1.1 message (naming the authority of an absolute-form
 * target), and must then match llhttp in full, or be refused for the
 * reason then: this checks our framing and chunked decoding on those
 * vectors too.
 */
static void
check_with_host(const struct llcase *c, const char *then, struct totals *t)
{
    struct str wire = {0};
    bool added[MAX_MSGS] = {0};
    size_t from = 0;
    struct run *once = calloc(1, sizeof(*once));
    struct run *slow = calloc(1, sizeof(*slow));

    assert_non_null(once);
    assert_non_null(slow);
    for (unsigned i = 0; i < c->nmsgs; i++) {
        size_t at = host_slot(c, i);

        if (at == 0)
            continue;
        str_add(&wire, c->wire.p + from, at - from);
        add_host(&wire, &c->msgs[i].url);
        from = at;
        added[i] = true;
    }
    str_add(&wire, c->wire.p + from, c->wire.n - from);
    run_both(c, wire.p, wire.n, once, slow);
    if (then != NULL && once->out == OUT_REJECTED &&
        strcmp(once->reason, then) == 0)
        t->with_host++;
    else if (then != NULL)
        report(c, once, then);
    else if (compare_run(c, once, added))
        t->with_host++;
    str_free(&wire);
    run_free(once);
    run_free(slow);
    free(once);
    free(slow);
}

/* llhttp accepted the input: we match it or the case is listed. */
static void
check_accepted(const struct llcase *c, const struct run *r, struct totals *t)
{
    static const bool none[MAX_MSGS];
    struct divergence *d =
        divergence_find(divergences, ARRAY_LEN(divergences), c);

    if (d == NULL) {
        if (compare_run(c, r, none))
            t->accepted++;
        return;
    }
    if (r->out != OUT_REJECTED || strcmp(r->reason, d->reason) != 0) {
        report(c, r, d->reason);
        mismatches++;
    }
    d->used++;
    t->diverging++;
    if (strcmp(d->reason, NO_HOST) == 0 && !c->skip_body)
        check_with_host(c, d->then, t);
}

/* Both ways of feeding must reach the same end. */
static void
check_same_runs(const struct llcase *c, const struct run *a,
                const struct run *b)
{
    bool same = a->out == b->out && a->nmsgs == b->nmsgs &&
                (a->reason == NULL) == (b->reason == NULL) &&
                (a->reason == NULL || strcmp(a->reason, b->reason) == 0);

    for (unsigned i = 0; same && i < a->nmsgs; i++)
        same = a->msgs[i].req.head_len == b->msgs[i].req.head_len &&
               a->msgs[i].body.n == b->msgs[i].body.n;
    if (!same) {
        print_error("%s / %s: byte-by-byte differs from one-shot\n", c->file,
                    c->name);
        mismatches++;
    }
}

/* Run s[0..len) in one piece and one byte at a time; both must agree. */
static void
run_both(const struct llcase *c, const char *s, size_t len, struct run *once,
         struct run *slow)
{
    run_case(c, s, len, false, once);
    run_case(c, s, len, true, slow);
    check_same_runs(c, once, slow);
}

static void
check_case(const struct llcase *c, struct totals *t)
{
    struct run *once = calloc(1, sizeof(*once));
    struct run *slow = calloc(1, sizeof(*slow));
    bool lenient = strncmp(c->type, "request-lenient", 15) == 0 ||
                   strncmp(c->file, "lenient-", 8) == 0;
    bool refused = c->error_code != 0 && c->error_code != 5 &&
                   c->error_code != 21 && c->error_code != 22 &&
                   c->error_code != 23;

    assert_non_null(once);
    assert_non_null(slow);
    run_both(c, c->wire.p, c->wire.n, once, slow);
    t->cases++;
    if (lenient)
        check_lenient(c, once, t);
    else if (refused)
        check_refused(c, once, t);
    else if (c->finish > 0)
        check_unfinished(c, once, t);
    else
        check_accepted(c, once, t);
    run_free(once);
    run_free(slow);
    free(once);
    free(slow);
}

/* Pull the parser mode out of a meta comment: "type" : "..." */
static void
meta_parse(struct llcase *c, const char *line)
{
    const char *t = strstr(line, "\"type\"");
    size_t n = 0;

    c->skip_body = strstr(line, "\"skipBody\"") != NULL;
    if (t == NULL)
        return;
    t += strlen("\"type\"");
    t += strspn(t, " :");
    if (*t++ != '"')
        return;
    while (t[n] != '"' && t[n] != '\0' && n + 1 < sizeof(c->type))
        n++;
    memcpy(c->type, t, n);
    c->type[n] = '\0';
}

enum md_state { MD_TEXT, MD_HTTP, MD_LOG };

/*
 * Walk one markdown file line by line and check every case in it. A
 * case is complete when its log block closes.
 */
static void
run_file(const char *dir, const char *file, struct totals *t)
{
    char path[1024];
    char line[8192];
    char heading[256] = "";
    enum md_state st = MD_TEXT;
    struct llcase *c = calloc(1, sizeof(*c));
    FILE *f;

    assert_non_null(c);
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "r");
    assert_non_null(f);
    llcase_reset(c, file);
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);

        assert_true(n < sizeof(line) - 1);
        if (st == MD_HTTP && strncmp(line, "```", 3) != 0) {
            str_add(&c->raw, line, n);
            continue;
        }
        if (n > 0 && line[n - 1] == '\n')
            line[--n] = '\0';
        if (st == MD_LOG && strcmp(line, "```") != 0) {
            log_line(c, line);
            continue;
        }
        if (st != MD_TEXT) {
            if (st == MD_LOG) {
                snprintf(c->name, sizeof(c->name), "%s", heading);
                check_case(c, t);
                llcase_reset(c, file);
            }
            st = MD_TEXT;
        } else if (line[0] == '#') {
            snprintf(heading, sizeof(heading), "%s", line + strspn(line, "# "));
        } else if (strncmp(line, "<!-- meta=", 10) == 0) {
            meta_parse(c, line);
        } else if (strcmp(line, "```http") == 0) {
            st = MD_HTTP;
        } else if (strcmp(line, "```log") == 0) {
            wire_from_raw(&c->raw, &c->wire);
            st = MD_LOG;
        }
    }
    fclose(f);
    llcase_free(c);
    free(c);
}

/* A table row that no case met is stale: fail, so that it is fixed. */
static void
divergences_all_met(const struct divergence *table, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].used == 0) {
            print_error("divergence never met: %s / %s\n", table[i].file,
                        table[i].name);
            mismatches++;
        }
    }
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
test_llhttp_requests(void **state)
{
    const char *dir = TESTDATA "/llhttp/request";
    struct totals t = {0};
    char *names[64];
    size_t n = 0;
    struct dirent *e;
    DIR *d = opendir(dir);

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len > 3 && strcmp(e->d_name + len - 3, ".md") == 0) {
            assert_true(n < ARRAY_LEN(names));
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), name_cmp);
    for (size_t i = 0; i < n; i++)
        run_file(dir, names[i], &t);
    divergences_all_met(divergences, ARRAY_LEN(divergences));
    divergences_all_met(accepted_on_purpose, ARRAY_LEN(accepted_on_purpose));
    printf("llhttp: %u cases in %zu files: %u accepted with the same "
           "fields, %u refused as llhttp does, %u lenient-only refused, "
           "%u deliberate divergences (%u of them run again with a Host "
           "added, as expected); every case also fed byte by byte\n",
           t.cases, n, t.accepted, t.rejected, t.lenient, t.diverging,
           t.with_host);
    assert_int_equal(mismatches, 0);
    assert_true(t.cases >= 166);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llhttp_requests),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
