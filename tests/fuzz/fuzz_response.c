/*
 * libFuzzer driver for http_parse_response.
 *
 * The first input byte chooses the method of the request being answered,
 * the rest is the response. It is parsed in one call, in two calls cut
 * where the second byte says, and (when short) one byte per call, each
 * from exact-size copies; all must agree, and an accepted head must
 * follow the framing rules of RFC 9112 section 6.3.
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
    struct http_response res;
    struct http_header headers[MAXH];
    struct http_error err;
    const char *base;
};

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/* Parse data in pieces ending at the given offsets (the last is size). */
static void
parse_pieces(const uint8_t *data, const size_t *ends, size_t n,
             enum http_method m, struct result *r, char **keep)
{
    struct http_parser p;

    memset(r, 0, sizeof(*r));
    r->res.headers = r->headers;
    r->rc = AW_AGAIN;
    http_parser_init(&p);
    *keep = NULL;
    for (size_t i = 0; i < n && r->rc == AW_AGAIN; i++) {
        free(*keep);
        *keep = malloc(ends[i] > 0 ? ends[i] : 1);
        check(*keep != NULL);
        if (ends[i] > 0)
            memcpy(*keep, data, ends[i]);
        /* As the proxy does, the structure is cleared at every call. */
        memset(&r->res, 0, sizeof(r->res));
        r->res.headers = r->headers;
        r->rc = http_parse_response(&p, *keep, ends[i], &limits, m, &r->res,
                                    &r->err);
        r->base = *keep;
    }
}

static bool
inside(struct slice s, const char *base, size_t len)
{
    return s.ptr >= base && s.ptr + s.len <= base + len;
}

static void
check_accepted(const struct result *r, size_t size, enum http_method m)
{
    const struct http_response *s = &r->res;
    bool bodiless = s->status < 200 || s->status == 204 || s->status == 304 ||
                    m == HTTP_HEAD;

    check(s->head_len >= 17 && s->head_len <= size);
    check(memcmp(r->base + s->head_len - 4, "\r\n\r\n", 4) == 0);
    check(s->status >= 100 && s->status <= 599);
    check(s->version == 10 || s->version == 11);
    check(inside(s->reason, r->base, s->head_len));
    check(s->nheaders <= MAXH);
    for (unsigned i = 0; i < s->nheaders; i++) {
        check(inside(s->headers[i].name, r->base, s->head_len));
        check(inside(s->headers[i].value, r->base, s->head_len));
    }
    check(!bodiless || s->framing == HTTP_BODY_NONE);
    check(bodiless || s->framing != HTTP_BODY_NONE);
    check(s->framing != HTTP_BODY_CLOSE || !s->keep_alive);
    check(s->framing == HTTP_BODY_LENGTH || s->content_length == 0);
    check(s->content_length <= limits.max_body_bytes);
}

/*
 * As in fuzz_request.c: b, fed in more pieces, may still be pending
 * where a is refused, never the other way.
 */
static void
check_same(const struct result *a, const struct result *b)
{
    if (a->rc == AW_INVALID && b->rc == AW_AGAIN)
        return;
    check(a->rc == b->rc);
    if (a->rc == AW_INVALID) {
        check(a->err.status == 502 && b->err.status == 502);
        check(strcmp(a->err.reason, "http.bad_upstream_response") == 0);
        check(a->err.detail != NULL && b->err.detail != NULL);
        check(strcmp(a->err.detail, b->err.detail) == 0);
    }
    if (a->rc != AW_OK)
        return;
    check(a->res.head_len == b->res.head_len);
    check(a->res.status == b->res.status);
    check(a->res.nheaders == b->res.nheaders);
    check(a->res.framing == b->res.framing);
    check(a->res.content_length == b->res.content_length);
    check(a->res.keep_alive == b->res.keep_alive);
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

    if (size < 2)
        return 0;

    enum http_method m = (enum http_method)(data[0] % HTTP_METHOD_COUNT);
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    size_t ends[2] = {data[1] % n, n};

    parse_pieces(d, &n, 1, m, &once, &k1);
    parse_pieces(d, ends, 2, m, &cut, &k2);
    check_same(&once, &cut);
    if (n <= BYTEWISE_MAX) {
        size_t *all = malloc(n * sizeof(*all));

        check(all != NULL);
        for (size_t i = 0; i < n; i++)
            all[i] = i + 1;
        parse_pieces(d, all, n, m, &slow, &k3);
        check_same(&once, &slow);
        free(all);
    }
    if (once.rc == AW_OK)
        check_accepted(&once, n, m);
    else if (once.rc == AW_AGAIN)
        check(n < limits.max_head_bytes);
    free(k1);
    free(k2);
    free(k3);
    return 0;
}
