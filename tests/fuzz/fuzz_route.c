/*
 * libFuzzer driver for route_match over a fixed table.
 *
 * Input: one byte for the method, then the Host value up to the first
 * newline, then the path. The table's answer is compared with a brute
 * force over every route: each route is matched on its own by a simple
 * segment-by-segment comparison, ranked by the specificity rules of
 * route.h (host first, then per-position literal > parameter > tail,
 * and an exact end before a prefix end), and the best one that takes
 * the method must be the one the trie found, with the same parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route/route.h"

#define M(m) (1u << (HTTP_##m))
#define FUZZ_SEGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct route_def fuzz_defs[] = {
    {.name = "root", .path = "/"},
    {.name = "users", .path = "/users", .methods = M(GET) | M(HEAD)},
    {.name = "users_post", .path = "/users", .methods = M(POST)},
    {.name = "user", .path = "/users/{id}"},
    {.name = "me", .path = "/users/me", .methods = M(GET)},
    {.name = "posts", .path = "/users/{id}/posts/{pid}", .methods = M(GET)},
    {.name = "files", .path = "/files/{path*}", .methods = M(GET) | M(PUT)},
    {.name = "api", .path = "/api", .prefix = true},
    {.name = "api_exact", .path = "/api", .methods = M(GET)},
    {.name = "api_v1", .path = "/api/v1/", .prefix = true},
    {.name = "tenant", .path = "/t/{tenant}/x", .prefix = true},
    {.name = "a_x_c", .path = "/a/{x}/c"},
    {.name = "a_b_y", .path = "/a/b/{y}"},
    {.name = "trail", .path = "/trail/"},
    {.name = "enc", .path = "/caf%C3%A9/{x}"},
    {.name = "ex_all", .path = "/{rest*}", .host = "api.example.com"},
    {.name = "ex_users", .path = "/users/{id}", .host = "API.example.com",
     .methods = M(DELETE)},
    {.name = "wild", .path = "/users/{id}", .host = "*.example.com",
     .methods = M(GET)},
    {.name = "wild_eu", .path = "/users/{id}", .host = "*.eu.example.com",
     .methods = M(GET)},
    {.name = "wild_pre", .path = "/", .host = "*.example.com",
     .prefix = true, .methods = M(POST)},
    {.name = "v6", .path = "/users", .host = "[::1]"},
    {.name = "v6b", .path = "/", .host = "::2", .prefix = true,
     .methods = M(GET)},
};

static struct route_table *fuzz_table;

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/* A path cut into segments: "/a/b/" gives "a", "b", "". */
struct segs {
    size_t n;
    struct slice s[FUZZ_SEGS];
};

static bool
split(struct slice p, struct segs *out)
{
    size_t i = 1;

    out->n = 0;
    for (;;) {
        const char *slash = memchr(p.ptr + i, '/', p.len - i);
        size_t end = slash != NULL ? (size_t)(slash - p.ptr) : p.len;

        if (out->n == FUZZ_SEGS)
            return false;
        out->s[out->n++] = (struct slice){p.ptr + i, end - i};
        if (slash == NULL)
            return true;
        i = end + 1;
    }
}

/* How one route matched: its rank key and captured values. */
struct ref_match {
    int host_rank;          /* 3 exact, 2 wildcard, 1 any */
    size_t host_len;        /* wildcard suffix length, longer wins */
    int key[FUZZ_SEGS + 1]; /* 3 literal, 2 param, 1 tail, 4 exact end */
    size_t nkey;
    unsigned nval;
    struct slice val[ROUTE_MAX_PARAMS];
};

/* The Host value without port and trailing dot, lower-cased. */
static size_t
ref_host(struct slice h, char *out)
{
    size_t len = h.len;
    const char *cut;

    if (len > 0 && h.ptr[0] == '[') {
        cut = memchr(h.ptr, ']', len);
        len = cut != NULL ? (size_t)(cut - h.ptr) + 1 : len;
    } else {
        cut = len > 0 ? memchr(h.ptr, ':', len) : NULL;
        len = cut != NULL ? (size_t)(cut - h.ptr) : len;
        if (len > 1 && h.ptr[len - 1] == '.')
            len--;
    }
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(h.ptr[i] >= 'A' && h.ptr[i] <= 'Z' ? h.ptr[i] + 32
                                                           : h.ptr[i]);
    return len;
}

static bool
ref_host_match(const struct route_def *d, const char *host, size_t len,
               struct ref_match *m)
{
    char want[64];
    size_t wl = 0;

    m->host_rank = 1;
    m->host_len = 0;
    if (d->host == NULL)
        return true;
    if (strchr(d->host, ':') != NULL && d->host[0] != '[')
        want[wl++] = '[';
    for (const char *p = d->host; *p != '\0'; p++)
        want[wl++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (want[0] == '[' && want[wl - 1] != ']')
        want[wl++] = ']';
    if (want[0] == '*') {
        m->host_rank = 2;
        m->host_len = wl - 1;
        /* An IPv6 literal, even a malformed one, has no labels. */
        return len > wl - 1 && host[0] != '[' &&
               memcmp(host + len - (wl - 1), want + 1, wl - 1) == 0;
    }
    m->host_rank = 3;
    return len == wl && memcmp(host, want, wl) == 0;
}

/* Match one route's template against the path segments by brute force. */
static bool
ref_path_match(const struct route_def *d, const struct segs *ps,
               struct slice path, struct ref_match *m)
{
    struct segs ts;
    size_t nt;
    bool rest;

    check(split((struct slice){d->path, strlen(d->path)}, &ts));
    nt = ts.n;
    if (d->prefix && ts.s[nt - 1].len == 0)
        nt--;
    rest = nt > 0 && ts.s[nt - 1].len > 2 &&
           ts.s[nt - 1].ptr[ts.s[nt - 1].len - 2] == '*';
    nt -= rest;
    m->nkey = m->nval = 0;
    for (size_t k = 0; k < nt; k++) {
        bool param = ts.s[k].ptr[0] == '{';

        if (k >= ps->n || (param && ps->s[k].len == 0) ||
            (!param && !slice_eq(ts.s[k], ps->s[k])))
            return false;
        if (param)
            m->val[m->nval++] = ps->s[k];
        m->key[m->nkey++] = param ? 2 : 3;
    }
    if (rest && ps->n > nt)
        m->val[m->nval++] = (struct slice){ps->s[nt].ptr,
            (size_t)(path.ptr + path.len - ps->s[nt].ptr)};
    else if (rest || (!d->prefix && ps->n != nt))
        return false;
    m->key[m->nkey++] = ps->n == nt && !rest ? (d->prefix ? 1 : 4) : 1;
    return true;
}

/* Positive when a is more specific than b. */
static int
ref_cmp(const struct ref_match *a, const struct ref_match *b)
{
    if (a->host_rank != b->host_rank)
        return a->host_rank - b->host_rank;
    if (a->host_len != b->host_len)
        return a->host_len > b->host_len ? 1 : -1;
    for (size_t k = 0; k < a->nkey && k < b->nkey; k++)
        if (a->key[k] != b->key[k])
            return a->key[k] - b->key[k];
    return 0;
}

/* Compare the table's answer with the brute force. */
static void
compare(struct slice host, enum http_method method, struct slice path)
{
    static char h[1 << 16];
    struct segs ps;
    struct ref_match best, cur;
    const struct route_def *bestdef = NULL, *def;
    struct route_params params;
    uint32_t allowed, ref_allowed = 0, bit = 1u << method;
    size_t hl = ref_host(host, h);
    enum route_result r;

    r = route_match(fuzz_table, host, method, path, &def, &params, &allowed);
    if (path.len == 0 || path.ptr[0] != '/') {
        check(r == ROUTE_NOT_FOUND);
        return;
    }
    if (!split(path, &ps))
        return; /* more segments than the reference keeps */
    for (size_t i = 0; i < ARRAY_LEN(fuzz_defs); i++) {
        const struct route_def *d = &fuzz_defs[i];
        uint32_t methods = d->methods != 0 ? d->methods : 0x3ff;

        if (!ref_host_match(d, h, hl, &cur) ||
            !ref_path_match(d, &ps, path, &cur))
            continue;
        if ((methods & bit) == 0) {
            ref_allowed |= methods;
            continue;
        }
        check(bestdef == NULL || ref_cmp(&cur, &best) != 0);
        if (bestdef == NULL || ref_cmp(&cur, &best) > 0) {
            best = cur;
            bestdef = d;
        }
    }
    if (bestdef == NULL) {
        check(r == (ref_allowed != 0 ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND));
        check(allowed == ref_allowed && params.n == 0 && def == NULL);
        return;
    }
    check(r == ROUTE_FOUND && strcmp(def->name, bestdef->name) == 0);
    check(params.n == best.nval && allowed == 0);
    for (unsigned k = 0; k < params.n; k++)
        check(params.value[k].ptr == best.val[k].ptr &&
              params.value[k].len == best.val[k].len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl;
    struct slice host, path;
    enum http_method method;

    if (fuzz_table == NULL) {
        char err[256];

        check(route_table_new(fuzz_defs, ARRAY_LEN(fuzz_defs), &fuzz_table,
                              err, sizeof(err)) == AW_OK);
    }
    if (size < 1 || size > 4096)
        return 0;
    method = (enum http_method)(data[0] % HTTP_METHOD_COUNT);
    nl = memchr(data + 1, '\n', size - 1);
    host = (struct slice){(const char *)data + 1,
                          nl != NULL ? (size_t)(nl - (const char *)data) - 1
                                     : 0};
    path = nl != NULL ? (struct slice){nl + 1, size - 2 - host.len}
                      : (struct slice){(const char *)data + 1, size - 1};
    compare(host, method, path);
    return 0;
}
