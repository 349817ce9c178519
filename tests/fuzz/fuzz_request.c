/*
 * libFuzzer driver for http_parse_request.
 *
 * The input is a request head (and whatever follows it). It is parsed in
 * one call, in two calls cut where the first byte says, and (when short)
 * one byte per call, each from exact-size copies so that ASan sees any
 * read past len; all must agree. An accepted head must satisfy the
 * invariants below, and written back in canonical form it must parse to
 * the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define MAXH 16
#define BYTEWISE_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct http_limits limits = {
    .max_head_bytes = 4096,
    .max_headers = MAXH,
    .max_target_bytes = 1024,
    .max_body_bytes = 1 << 20,
};

struct result {
    int rc;
    struct http_request req;
    struct http_header headers[MAXH];
    struct http_error err;
    const char *base; /* the buffer the slices point into */
};

static void
check(bool cond)
{
    if (!cond)
        abort();
}

static char *
copy(const uint8_t *s, size_t n)
{
    char *b = malloc(n > 0 ? n : 1);

    check(b != NULL);
    if (n > 0)
        memcpy(b, s, n);
    return b;
}

/* Parse data in pieces ending at the given offsets (the last is size). */
static void
parse_pieces(const uint8_t *data, const size_t *ends, size_t n,
             struct result *r, char **keep)
{
    struct http_parser p;

    memset(r, 0, sizeof(*r));
    r->req.headers = r->headers;
    r->rc = AW_AGAIN;
    http_parser_init(&p);
    *keep = NULL;
    for (size_t i = 0; i < n && r->rc == AW_AGAIN; i++) {
        free(*keep);
        *keep = copy(data, ends[i]);
        r->rc =
            http_parse_request(&p, *keep, ends[i], &limits, &r->req, &r->err);
        r->base = *keep;
    }
}

static bool
inside(struct slice s, const char *base, size_t len)
{
    return s.ptr >= base && s.ptr + s.len <= base + len;
}

static bool
all_class(struct slice s, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < s.len; i++) {
        if (!ok((unsigned char)s.ptr[i]))
            return false;
    }
    return true;
}

static bool
is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_value(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool
is_target(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("\"<>\\^`{|}#", c) == NULL;
}

/* What any accepted head must satisfy. */
static void
check_accepted(const struct result *r, size_t size)
{
    const struct http_request *q = &r->req;
    size_t n = q->head_len;

    check(n >= 16 && n <= size && n <= limits.max_head_bytes);
    check(memcmp(r->base + n - 4, "\r\n\r\n", 4) == 0);
    check(inside(q->method_name, r->base, n) && q->method_name.len > 0);
    check(all_class(q->method_name, is_tchar));
    check(inside(q->target, r->base, n) && q->target.len > 0);
    check(q->target.len <= limits.max_target_bytes);
    check(all_class(q->target, is_target));
    check(inside(q->path, r->base, n) ||
          (q->path.len == 1 && q->path.ptr[0] == '/'));
    check(q->query.ptr == NULL || inside(q->query, r->base, n));
    check(q->host.ptr == NULL || inside(q->host, r->base, n));
    check(q->host.ptr != NULL || q->version == 10);
    check(q->version == 10 || q->version == 11);
    check(q->method != HTTP_CONNECT);
    check(q->nheaders <= MAXH);
    for (unsigned i = 0; i < q->nheaders; i++) {
        check(inside(q->headers[i].name, r->base, n));
        check(q->headers[i].name.len > 0);
        check(all_class(q->headers[i].name, is_tchar));
        check(inside(q->headers[i].value, r->base, n));
        check(all_class(q->headers[i].value, is_value));
    }
    check(q->framing != HTTP_BODY_CLOSE);
    check(q->framing == HTTP_BODY_LENGTH || q->content_length == 0);
    check(q->content_length <= limits.max_body_bytes);
    check(q->framing != HTTP_BODY_CHUNKED || q->version == 11);
}

static void
check_refused(const struct result *r)
{
    static const int statuses[] = {400, 413, 414, 417, 431, 501, 505};
    bool known = false;

    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        known |= r->err.status == statuses[i];
    check(known);
    check(strncmp(r->err.reason, "http.", 5) == 0);
    check(r->err.detail != NULL);
}

static size_t
offset(const struct result *r, struct slice s)
{
    return (size_t)(s.ptr - r->base);
}

/*
 * Two ways of feeding the same bytes must give the same answer; but a
 * long partial line fed in pieces is checked only every so often (see
 * scan.c), so b, fed in more pieces than a, may still be pending where
 * a is refused.
 */
static void
check_same(const struct result *a, const struct result *b)
{
    if (a->rc == AW_INVALID && b->rc == AW_AGAIN)
        return;
    check(a->rc == b->rc);
    if (a->rc == AW_INVALID) {
        check(a->err.status == b->err.status);
        check(strcmp(a->err.reason, b->err.reason) == 0);
    }
    if (a->rc != AW_OK)
        return;
    check(a->req.head_len == b->req.head_len);
    check(a->req.nheaders == b->req.nheaders);
    check(offset(a, a->req.target) == offset(b, b->req.target));
    check(a->req.framing == b->req.framing);
    check(a->req.content_length == b->req.content_length);
    check(a->req.keep_alive == b->req.keep_alive);
    check(a->req.expect_continue == b->req.expect_continue);
    for (unsigned i = 0; i < a->req.nheaders; i++)
        check(offset(a, a->headers[i].value) == offset(b, b->headers[i].value));
}

static size_t
put(char *dst, size_t at, struct slice s)
{
    memcpy(dst + at, s.ptr, s.len);
    return at + s.len;
}

/*
 * Write an accepted head back in canonical form (single spaces, no
 * optional whitespace) and parse it again: the fields must be the same.
 */
static void
check_rewrite(const struct result *r)
{
    const struct http_request *q = &r->req;
    char *out = malloc(q->head_len + 8);
    size_t n = 0;
    struct result again;
    char *keep;

    check(out != NULL);
    n = put(out, n, q->method_name);
    out[n++] = ' ';
    n = put(out, n, q->target);
    memcpy(out + n, q->version == 11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
    n += 11;
    for (unsigned i = 0; i < q->nheaders; i++) {
        n = put(out, n, q->headers[i].name);
        out[n++] = ':';
        n = put(out, n, q->headers[i].value);
        out[n++] = '\r';
        out[n++] = '\n';
    }
    out[n++] = '\r';
    out[n++] = '\n';
    check(n <= q->head_len);
    parse_pieces((const uint8_t *)out, &n, 1, &again, &keep);
    check(again.rc == AW_OK);
    check(again.req.head_len == n);
    check(again.req.nheaders == q->nheaders);
    check(again.req.framing == q->framing);
    check(again.req.content_length == q->content_length);
    check(again.req.keep_alive == q->keep_alive);
    for (unsigned i = 0; i < q->nheaders; i++)
        check(slice_eq(again.headers[i].value, q->headers[i].value));
    free(keep);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result once;
    struct result cut;
    struct result slow;
    char *k1;
    char *k2;
    char *k3 = NULL;
    size_t mid = size > 0 ? data[0] % size : 0;
    size_t ends[2] = {mid, size};

    parse_pieces(data, &size, 1, &once, &k1);
    parse_pieces(data, ends, 2, &cut, &k2);
    check_same(&once, &cut);
    if (size <= BYTEWISE_MAX) {
        size_t *all = malloc((size + 1) * sizeof(*all));

        check(all != NULL);
        for (size_t i = 0; i < size; i++)
            all[i] = i + 1;
        parse_pieces(data, all, size, &slow, &k3);
        check_same(&once, &slow);
        free(all);
    }
    if (once.rc == AW_OK) {
        check_accepted(&once, size);
        check_rewrite(&once);
    } else if (once.rc == AW_INVALID) {
        check_refused(&once);
    } else {
        check(size < limits.max_head_bytes);
    }
    free(k1);
    free(k2);
    free(k3);
    return 0;
}
