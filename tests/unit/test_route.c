/*
 * Unit tests for the route table: templates and parameters, rest and
 * prefix routes, hosts (exact, wildcard, any; ports and IPv6), the
 * specificity order whatever the order of definition, conflicts, the
 * 405 method mask, and the templates that must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route/route.h"

#define M(m) (1u << (HTTP_##m))

/* Build a table from defs, in the given order or reversed. */
static struct route_table *
build(const struct route_def *defs, size_t n, bool reversed)
{
    struct route_def copy[64];
    struct route_table *t = NULL;
    char err[256];

    assert_true(n <= ARRAY_LEN(copy));
    for (size_t i = 0; i < n; i++)
        copy[i] = defs[reversed ? n - 1 - i : i];
    if (route_table_new(copy, n, &t, err, sizeof(err)) != AW_OK)
        fail_msg("compile failed: %s", err);
    return t;
}

/* Compile defs expecting failure; the message must mention want. */
static void
expect_refused(const struct route_def *defs, size_t n, const char *want)
{
    struct route_table *t = (struct route_table *)1;
    char err[256];

    assert_int_equal(route_table_new(defs, n, &t, err, sizeof(err)),
                     AW_INVALID);
    assert_null(t);
    if (strstr(err, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, want);
}

/* Name of the route found, "404" or "405". */
static const char *
match_p(const struct route_table *t, const char *host, enum http_method m,
        const char *path, struct route_params *p)
{
    const struct route_def *def;
    uint32_t allowed = 0xdead;
    struct slice h = {host, strlen(host)};
    struct slice s = {path, strlen(path)};

    switch (route_match(t, h, m, s, &def, p, &allowed)) {
    case ROUTE_FOUND:
        assert_int_equal(allowed, 0);
        return def->name;
    case ROUTE_BAD_METHOD:
        assert_null(def);
        assert_int_not_equal(allowed, 0);
        return "405";
    default:
        assert_null(def);
        assert_int_equal(allowed, 0);
        assert_int_equal(p->n, 0);
        return "404";
    }
}

static const char *
match(const struct route_table *t, const char *host, enum http_method m,
      const char *path)
{
    struct route_params p;

    return match_p(t, host, m, path, &p);
}

/* Assert that parameter k is called name and holds value. */
static void
expect_param(const struct route_params *p, unsigned k, const char *name,
             const char *value)
{
    assert_true(k < p->n);
    assert_int_equal(p->name[k].len, strlen(name));
    assert_memory_equal(p->name[k].ptr, name, strlen(name));
    if (p->value[k].len != strlen(value) ||
        memcmp(p->value[k].ptr, value, strlen(value)) != 0)
        fail_msg("param %s: got \"%.*s\", want \"%s\"", name,
                 (int)p->value[k].len, p->value[k].ptr, value);
}

static void
test_literals(void **state)
{
    static const struct route_def defs[] = {
        {.name = "root", .path = "/"},
        {.name = "users", .path = "/users"},
        {.name = "users_slash", .path = "/users/"},
        {.name = "list", .path = "/users/list"},
        {.name = "enc", .path = "/caf%C3%A9/a:b@c"},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);

    (void)state;
    assert_string_equal(match(t, "h", HTTP_GET, "/"), "root");
    assert_string_equal(match(t, "h", HTTP_GET, "/users"), "users");
    assert_string_equal(match(t, "h", HTTP_GET, "/users/"), "users_slash");
    assert_string_equal(match(t, "h", HTTP_GET, "/users/list"), "list");
    assert_string_equal(match(t, "h", HTTP_GET, "/caf%C3%A9/a:b@c"), "enc");
    assert_string_equal(match(t, "h", HTTP_GET, "/user"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/Users"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/users/list/"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "//"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, ""), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "users"), "404");
    route_table_free(t);
}

static void
test_params(void **state)
{
    static const struct route_def defs[] = {
        {.name = "user", .path = "/users/{id}"},
        {.name = "post", .path = "/users/{uid}/posts/{post_id}"},
        {.name = "slash", .path = "/things/{id}/"},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);
    struct route_params p;

    (void)state;
    assert_string_equal(match_p(t, "h", HTTP_GET, "/users/42", &p), "user");
    assert_int_equal(p.n, 1);
    expect_param(&p, 0, "id", "42");
    assert_string_equal(match_p(t, "h", HTTP_GET, "/users/7/posts/x%2Fy",
                                &p), "post");
    assert_int_equal(p.n, 2);
    expect_param(&p, 0, "uid", "7");
    expect_param(&p, 1, "post_id", "x%2Fy");
    /* Values are slices of the path given. */
    {
        static const char path[] = "/users/abc";
        const struct route_def *def;
        uint32_t allowed;

        assert_int_equal(route_match(t, SLICE_LIT("h"), HTTP_GET,
                                     SLICE_LIT(path), &def, &p, &allowed),
                         ROUTE_FOUND);
        assert_ptr_equal(p.value[0].ptr, path + 7);
    }
    /* Trailing slashes and empty segments do not match a parameter. */
    assert_string_equal(match(t, "h", HTTP_GET, "/users/42/"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/users/"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/users//posts/1"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/things/1/"), "slash");
    assert_string_equal(match(t, "h", HTTP_GET, "/things/1"), "404");
    route_table_free(t);
}

static void
test_rest(void **state)
{
    static const struct route_def defs[] = {
        {.name = "files", .path = "/files/{path*}"},
        {.name = "user_files", .path = "/u/{user}/{rest*}"},
        {.name = "all", .path = "/{everything*}", .host = "catch.all"},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);
    struct route_params p;

    (void)state;
    assert_string_equal(match_p(t, "h", HTTP_GET, "/files/a/b/c", &p),
                        "files");
    expect_param(&p, 0, "path", "a/b/c");
    assert_string_equal(match_p(t, "h", HTTP_GET, "/files/", &p), "files");
    expect_param(&p, 0, "path", "");
    assert_string_equal(match_p(t, "h", HTTP_GET, "/files//x/", &p),
                        "files");
    expect_param(&p, 0, "path", "/x/");
    assert_string_equal(match(t, "h", HTTP_GET, "/files"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/filesx/a"), "404");
    assert_string_equal(match_p(t, "h", HTTP_GET, "/u/bob/x/y", &p),
                        "user_files");
    assert_int_equal(p.n, 2);
    expect_param(&p, 0, "user", "bob");
    expect_param(&p, 1, "rest", "x/y");
    assert_string_equal(match_p(t, "catch.all", HTTP_GET, "/", &p), "all");
    expect_param(&p, 0, "everything", "");
    assert_string_equal(match_p(t, "catch.all", HTTP_GET, "/a/b", &p),
                        "all");
    expect_param(&p, 0, "everything", "a/b");
    route_table_free(t);
}

static void
test_prefix(void **state)
{
    static const struct route_def defs[] = {
        {.name = "api", .path = "/api", .prefix = true},
        {.name = "v2", .path = "/api/v2/", .prefix = true},
        {.name = "tenant", .path = "/t/{tenant}", .prefix = true},
        {.name = "everything", .path = "/", .prefix = true,
         .host = "all.example"},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);
    struct route_params p;

    (void)state;
    assert_string_equal(match(t, "h", HTTP_GET, "/api"), "api");
    assert_string_equal(match(t, "h", HTTP_GET, "/api/"), "api");
    assert_string_equal(match(t, "h", HTTP_GET, "/api/x/y"), "api");
    assert_string_equal(match(t, "h", HTTP_GET, "/apix"), "404");
    assert_string_equal(match(t, "h", HTTP_GET, "/ap"), "404");
    /* A prefix's trailing slash is dropped: "/api/v2/" covers "/api/v2". */
    assert_string_equal(match(t, "h", HTTP_GET, "/api/v2"), "v2");
    assert_string_equal(match(t, "h", HTTP_GET, "/api/v2/z"), "v2");
    assert_string_equal(match(t, "h", HTTP_GET, "/api/v2x"), "api");
    assert_string_equal(match_p(t, "h", HTTP_GET, "/t/acme/a/b", &p),
                        "tenant");
    expect_param(&p, 0, "tenant", "acme");
    assert_string_equal(match(t, "h", HTTP_GET, "/t/"), "404");
    assert_string_equal(match(t, "all.example", HTTP_GET, "/"),
                        "everything");
    assert_string_equal(match(t, "all.example", HTTP_GET, "/q/r"),
                        "everything");
    route_table_free(t);
}

static void
test_host_exact(void **state)
{
    static const struct route_def defs[] = {
        {.name = "ex", .path = "/", .host = "API.Example.com"},
        {.name = "v6", .path = "/", .host = "[::1]"},
        {.name = "v6bare", .path = "/", .host = "fe80::AB"},
        {.name = "dot", .path = "/", .host = "dotted.example."},
        {.name = "v4", .path = "/", .host = "127.0.0.1"},
        {.name = "any", .path = "/"},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);

    (void)state;
    assert_string_equal(match(t, "api.example.com", HTTP_GET, "/"), "ex");
    assert_string_equal(match(t, "API.EXAMPLE.COM:8443", HTTP_GET, "/"),
                        "ex");
    assert_string_equal(match(t, "api.example.com.", HTTP_GET, "/"), "ex");
    assert_string_equal(match(t, "api.example.com.:80", HTTP_GET, "/"),
                        "ex");
    assert_string_equal(match(t, "api.example.co", HTTP_GET, "/"), "any");
    assert_string_equal(match(t, "xapi.example.com", HTTP_GET, "/"), "any");
    assert_string_equal(match(t, "[::1]", HTTP_GET, "/"), "v6");
    assert_string_equal(match(t, "[::1]:8080", HTTP_GET, "/"), "v6");
    assert_string_equal(match(t, "[FE80::ab]:1", HTTP_GET, "/"), "v6bare");
    assert_string_equal(match(t, "[::2]:8080", HTTP_GET, "/"), "any");
    assert_string_equal(match(t, "[::1", HTTP_GET, "/"), "any");
    assert_string_equal(match(t, "dotted.example", HTTP_GET, "/"), "dot");
    assert_string_equal(match(t, "127.0.0.1:80", HTTP_GET, "/"), "v4");
    assert_string_equal(match(t, "", HTTP_GET, "/"), "any");
    route_table_free(t);
}

static void
test_host_wildcard(void **state)
{
    static const struct route_def defs[] = {
        {.name = "wild", .path = "/x", .host = "*.example.com"},
        {.name = "deeper", .path = "/x", .host = "*.eu.example.com"},
        {.name = "exact", .path = "/x", .host = "api.example.com"},
        {.name = "wild_only", .path = "/w", .host = "*.Example.COM"},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);

    (void)state;
    assert_string_equal(match(t, "a.example.com", HTTP_GET, "/x"), "wild");
    assert_string_equal(match(t, "A.B.EXAMPLE.COM:1", HTTP_GET, "/x"),
                        "wild");
    assert_string_equal(match(t, "api.example.com", HTTP_GET, "/x"),
                        "exact");
    assert_string_equal(match(t, "a.eu.example.com", HTTP_GET, "/x"),
                        "deeper");
    assert_string_equal(match(t, "eu.example.com", HTTP_GET, "/x"), "wild");
    assert_string_equal(match(t, "example.com", HTTP_GET, "/x"), "404");
    assert_string_equal(match(t, ".example.com", HTTP_GET, "/x"), "404");
    assert_string_equal(match(t, "badexample.com", HTTP_GET, "/x"), "404");
    assert_string_equal(match(t, "a.example.com.", HTTP_GET, "/x"), "wild");
    /* Groups without the path fall through to less specific ones. */
    assert_string_equal(match(t, "api.example.com", HTTP_GET, "/w"),
                        "wild_only");
    assert_string_equal(match(t, "a.eu.example.com", HTTP_GET, "/w"),
                        "wild_only");
    /* A very long Host still finds its suffix (only its end is read). */
    {
        static char longhost[8192];
        size_t k = 0;

        while (k < sizeof(longhost) - 64)
            k += (size_t)snprintf(longhost + k, sizeof(longhost) - k, "a.");
        snprintf(longhost + k, sizeof(longhost) - k, "eu.example.com:443");
        assert_string_equal(match(t, longhost, HTTP_GET, "/x"), "deeper");
        longhost[k - 1] = 'x'; /* "a.a...ax" + "eu.example.com" */
        assert_string_equal(match(t, longhost, HTTP_GET, "/x"), "wild");
    }
    route_table_free(t);
}

/* Each case: the routes, and the winner for a path, in both orders. */
static void
check_winner(const struct route_def *defs, size_t n, const char *host,
             const char *path, const char *want)
{
    for (int rev = 0; rev < 2; rev++) {
        struct route_table *t = build(defs, n, rev);
        const char *got = match(t, host, HTTP_GET, path);

        if (strcmp(got, want) != 0)
            fail_msg("%s (order %d): got %s, want %s", path, rev, got,
                     want);
        route_table_free(t);
    }
}

static void
test_specificity(void **state)
{
    static const struct route_def defs[] = {
        {.name = "me", .path = "/users/me"},
        {.name = "user", .path = "/users/{id}"},
        {.name = "users_prefix", .path = "/users", .prefix = true},
        {.name = "a_x_c", .path = "/a/{x}/c"},
        {.name = "a_b_y", .path = "/a/b/{y}"},
        {.name = "api", .path = "/api"},
        {.name = "api_prefix", .path = "/api", .prefix = true},
        {.name = "api_v1", .path = "/api/v1", .prefix = true},
        {.name = "f_rest", .path = "/f/{r*}"},
        {.name = "f_x", .path = "/f/{x}"},
        {.name = "f_x_y", .path = "/f/{x}/{y}"},
        {.name = "h_exact", .path = "/{any*}", .host = "h.example"},
        {.name = "h_wild", .path = "/users/me", .host = "*.example"},
        {.name = "root_rest", .path = "/{all*}"},
    };
    size_t n = ARRAY_LEN(defs);

    (void)state;
    check_winner(defs, n, "x", "/users/me", "me");
    check_winner(defs, n, "x", "/users/7", "user");
    check_winner(defs, n, "x", "/users/7/x", "users_prefix");
    check_winner(defs, n, "x", "/users", "users_prefix");
    check_winner(defs, n, "x", "/users/", "users_prefix");
    check_winner(defs, n, "x", "/a/b/c", "a_b_y");
    check_winner(defs, n, "x", "/a/z/c", "a_x_c");
    check_winner(defs, n, "x", "/api", "api");
    check_winner(defs, n, "x", "/api/x", "api_prefix");
    check_winner(defs, n, "x", "/api/v1/x", "api_v1");
    check_winner(defs, n, "x", "/f/a", "f_x");
    check_winner(defs, n, "x", "/f/a/b", "f_x_y");
    check_winner(defs, n, "x", "/f/a/b/c", "f_rest");
    check_winner(defs, n, "x", "/f/", "f_rest");
    check_winner(defs, n, "x", "/zzz", "root_rest");
    /* The host comes first: an exact host's catch-all beats a literal. */
    check_winner(defs, n, "h.example", "/users/me", "h_exact");
    check_winner(defs, n, "w.example", "/users/me", "h_wild");
    check_winner(defs, n, "w.example", "/users/9", "user");
}

static void
test_methods(void **state)
{
    static const struct route_def defs[] = {
        {.name = "list", .path = "/users", .methods = M(GET) | M(HEAD)},
        {.name = "create", .path = "/users", .methods = M(POST)},
        {.name = "me", .path = "/users/me", .methods = M(GET)},
        {.name = "user", .path = "/users/{id}"},
        {.name = "ro", .path = "/ro/{x}", .methods = M(GET)},
        {.name = "ro_any_host", .path = "/ro/{x}", .host = "h",
         .methods = M(PUT)},
        {.name = "other", .path = "/custom", .methods = M(OTHER)},
    };
    struct route_table *t = build(defs, ARRAY_LEN(defs), false);
    const struct route_def *def;
    struct route_params p;
    uint32_t allowed;

    (void)state;
    assert_string_equal(match(t, "h", HTTP_GET, "/users"), "list");
    assert_string_equal(match(t, "h", HTTP_POST, "/users"), "create");
    assert_int_equal(route_match(t, SLICE_LIT("h"), HTTP_DELETE,
                                 SLICE_LIT("/users"), &def, &p, &allowed),
                     ROUTE_BAD_METHOD);
    assert_int_equal(allowed, M(GET) | M(HEAD) | M(POST));
    /* A less specific route that takes the method is still found. */
    assert_string_equal(match(t, "h", HTTP_GET, "/users/me"), "me");
    assert_string_equal(match(t, "h", HTTP_DELETE, "/users/me"), "user");
    /* The mask gathers every host group and route that had the path. */
    assert_int_equal(route_match(t, SLICE_LIT("h"), HTTP_POST,
                                 SLICE_LIT("/ro/1"), &def, &p, &allowed),
                     ROUTE_BAD_METHOD);
    assert_int_equal(allowed, M(GET) | M(PUT));
    assert_string_equal(match(t, "h", HTTP_PUT, "/ro/1"), "ro_any_host");
    assert_string_equal(match(t, "x", HTTP_PUT, "/ro/1"), "405");
    assert_string_equal(match(t, "h", HTTP_OTHER, "/custom"), "other");
    assert_string_equal(match(t, "h", HTTP_GET, "/custom"), "405");
    assert_string_equal(match(t, "h", HTTP_OTHER, "/users/1"), "user");
    assert_string_equal(match(t, "h", HTTP_GET, "/nothing"), "404");
    assert_int_equal(route_match(t, SLICE_LIT("h"), HTTP_METHOD_COUNT,
                                 SLICE_LIT("/users/1"), &def, &p, &allowed),
                     ROUTE_NOT_FOUND);
    route_table_free(t);
}

static void
test_data_and_copies(void **state)
{
    int tag = 0;
    char name[] = "mutable";
    char path[] = "/m/{id}";
    char host[] = "m.example";
    struct route_def defs[] = {
        {.name = name, .path = path, .host = host, .data = &tag},
    };
    struct route_table *t = build(defs, 1, false);
    const struct route_def *def;
    struct route_params p;
    uint32_t allowed;

    (void)state;
    /* The table keeps its own copies of the strings. */
    memset(name, 'x', sizeof(name) - 1);
    memset(path, 'x', sizeof(path) - 1);
    memset(host, 'x', sizeof(host) - 1);
    assert_int_equal(route_match(t, SLICE_LIT("m.example"), HTTP_GET,
                                 SLICE_LIT("/m/1"), &def, &p, &allowed),
                     ROUTE_FOUND);
    assert_ptr_equal(def->data, &tag);
    assert_string_equal(def->name, "mutable");
    assert_string_equal(def->path, "/m/{id}");
    assert_string_equal(def->host, "m.example");
    expect_param(&p, 0, "id", "1");
    route_table_free(t);
    route_table_free(NULL);
}

static void
test_empty_table(void **state)
{
    struct route_table *t = NULL;
    char err[8];

    (void)state;
    assert_int_equal(route_table_new(NULL, 0, &t, err, sizeof(err)), AW_OK);
    assert_string_equal(match(t, "h", HTTP_GET, "/"), "404");
    route_table_free(t);
    assert_string_equal(match(NULL, "h", HTTP_GET, "/"), "404");
}

static void
test_conflicts(void **state)
{
    static const struct route_def same_param[] = {
        {.name = "one", .path = "/users/{id}"},
        {.name = "two", .path = "/users/{uid}", .methods = M(GET)},
    };
    static const struct route_def prefix_rest[] = {
        {.name = "pre", .path = "/api", .prefix = true},
        {.name = "rest", .path = "/api/{r*}", .methods = M(GET)},
    };
    static const struct route_def prefix_slash[] = {
        {.name = "a", .path = "/api", .prefix = true},
        {.name = "b", .path = "/api/", .prefix = true},
    };
    static const struct route_def host_case[] = {
        {.name = "a", .path = "/x", .host = "H.example"},
        {.name = "b", .path = "/x", .host = "h.EXAMPLE."},
    };
    static const struct route_def wild[] = {
        {.name = "a", .path = "/x", .host = "*.example"},
        {.name = "b", .path = "/x", .host = "*.EXAMPLE"},
    };
    static const struct route_def catch_alls[] = {
        {.name = "a", .path = "/", .prefix = true},
        {.name = "b", .path = "/{all*}"},
    };
    static const struct route_def fine[] = {
        {.name = "get", .path = "/users/{id}", .methods = M(GET)},
        {.name = "put", .path = "/users/{uid}", .methods = M(PUT)},
        {.name = "host", .path = "/users/{id}", .host = "h"},
        {.name = "wild", .path = "/users/{id}", .host = "*.h"},
        {.name = "exact", .path = "/api"},
        {.name = "pre", .path = "/api", .prefix = true},
    };
    struct route_table *t;

    (void)state;
    expect_refused(same_param, 2, "\"one\" and \"two\"");
    expect_refused(prefix_rest, 2, "\"pre\" and \"rest\"");
    expect_refused(prefix_slash, 2, "\"a\" and \"b\"");
    expect_refused(host_case, 2, "\"a\" and \"b\"");
    expect_refused(wild, 2, "\"a\" and \"b\"");
    expect_refused(catch_alls, 2, "\"a\" and \"b\"");
    t = build(fine, ARRAY_LEN(fine), false);
    route_table_free(t);
}

static void
test_bad_templates(void **state)
{
    static const struct {
        const char *path;
        bool prefix;
        const char *want;
    } bad[] = {
        {"users", false, "does not start with '/'"},
        {"", false, "does not start with '/'"},
        {"/{", false, "whole {name}"},
        {"/{}", false, "not a valid name"},
        {"/{*}", false, "not a valid name"},
        {"/{1a}", false, "not a valid name"},
        {"/{a-b}", false, "not a valid name"},
        {"/{a}x", false, "whole {name}"},
        {"/x{a}", false, "normalised form"},
        {"/a/{r*}/b", false, "not the last segment"},
        {"/{a}/{a}", false, "appears twice"},
        {"/{a}/{r*}", true, "prefix route"},
        {"/a//b", false, "empty segment"},
        {"//", false, "empty segment"},
        {"/./a", false, "normalised form"},
        {"/a/..", false, "normalised form"},
        {"/%7e", false, "normalised form"},
        {"/%2f", false, "normalised form"},
        {"/%41", false, "normalised form"},
        {"/%2", false, "normalised form"},
        {"/a b", false, "normalised form"},
        {"/a?b", false, "normalised form"},
        {"/a\\b", false, "normalised form"},
        {"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", false, "more than 8"},
    };

    (void)state;
    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        struct route_def d = {.name = "bad", .path = bad[k].path,
                              .prefix = bad[k].prefix};

        expect_refused(&d, 1, bad[k].want);
        expect_refused(&d, 1, "route \"bad\"");
    }
}

static void
test_limits(void **state)
{
    char path[256];
    size_t len = 0;
    struct route_def d = {.name = "deep", .path = path};
    struct route_table *t;

    (void)state;
    for (int k = 0; k < ROUTE_MAX_SEGMENTS; k++)
        len += (size_t)snprintf(path + len, sizeof(path) - len, "/s");
    t = build(&d, 1, false);
    assert_string_equal(match(t, "h", HTTP_GET, path), "deep");
    route_table_free(t);
    snprintf(path + len, sizeof(path) - len, "/s");
    expect_refused(&d, 1, "more than 32 segments");

    d.path = "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{rest*}";
    t = build(&d, 1, false);
    {
        struct route_params p;

        assert_string_equal(match_p(t, "h", HTTP_GET,
                                    "/1/2/3/4/5/6/7/8/9", &p), "deep");
        assert_int_equal(p.n, ROUTE_MAX_PARAMS);
        expect_param(&p, 6, "g", "7");
        expect_param(&p, 7, "rest", "8/9");
    }
    route_table_free(t);
}

static void
test_bad_defs(void **state)
{
    static const struct route_def dup[] = {
        {.name = "same", .path = "/a"},
        {.name = "same", .path = "/b"},
    };
    static const char *const hosts[] = {
        "exa mple.com", "example.com:8080", "*.", "a.*.com", "*example.com",
        "", ".", "a..b", "[::1", "[zz::1]", "[::1]:80", "fe80::1%eth0",
        "*.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    struct route_def d = {.name = "r", .path = "/"};
    struct route_table *t = NULL;
    char small[12];

    (void)state;
    expect_refused(dup, 2, "two routes are named \"same\"");
    d.name = NULL;
    expect_refused(&d, 1, "no name");
    d.name = "r";
    d.path = NULL;
    expect_refused(&d, 1, "no path");
    d.path = "/";
    d.methods = 1u << HTTP_METHOD_COUNT;
    expect_refused(&d, 1, "unknown method");
    d.methods = 0;
    for (size_t k = 0; k < ARRAY_LEN(hosts); k++) {
        d.host = hosts[k];
        expect_refused(&d, 1, "host");
    }
    /* A short buffer gets a truncated, terminated message. */
    d.host = "bad host";
    assert_int_equal(route_table_new(&d, 1, &t, small, sizeof(small)),
                     AW_INVALID);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(route_table_new(&d, 1, &t, small, 0), AW_INVALID);
}

/* Hundreds of routes compile within their bound and all match. */
static void
test_many_routes(void **state)
{
    enum { N = 600 };
    static struct route_def defs[N];
    static char names[N][16], paths[N][48];
    struct route_table *t = NULL;
    char err[128];

    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "r%d", i);
        if (i % 3 == 0)
            snprintf(paths[i], sizeof(paths[i]), "/svc%d/items/{id}", i);
        else if (i % 3 == 1)
            snprintf(paths[i], sizeof(paths[i]), "/svc%d/{a}/x/{b*}", i);
        else
            snprintf(paths[i], sizeof(paths[i]), "/svc%d/static/%d", i, i);
        defs[i] = (struct route_def){.name = names[i], .path = paths[i],
                                     .prefix = i % 3 == 2 && i % 7 == 2,
                                     .host = i % 5 == 0 ? "h.example" : NULL};
    }
    assert_int_equal(route_table_new(defs, N, &t, err, sizeof(err)), AW_OK);
    for (int i = 0; i < N; i++) {
        char path[64];
        const char *host = i % 5 == 0 ? "h.example" : "other";

        if (i % 3 == 0)
            snprintf(path, sizeof(path), "/svc%d/items/9", i);
        else if (i % 3 == 1)
            snprintf(path, sizeof(path), "/svc%d/q/x/r/s", i);
        else
            snprintf(path, sizeof(path), "/svc%d/static/%d", i, i);
        assert_string_equal(match(t, host, HTTP_GET, path), names[i]);
    }
    route_table_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_rest),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_host_exact),
        cmocka_unit_test(test_host_wildcard),
        cmocka_unit_test(test_specificity),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_data_and_copies),
        cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_bad_templates),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_defs),
        cmocka_unit_test(test_many_routes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
