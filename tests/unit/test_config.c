/*
 * Unit tests of src/config: defaults, every key, each kind of problem
 * with its exact file:line:column, problems collected together, the
 * snapshot reference count and swap, trusted proxy ranges, and the
 * configuration of "apiward proxy".
 *
 * Each case writes its YAML to a file in a private temporary directory
 * and loads it with config_load, so messages start with that path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/un.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "identity/identity.h"

static char test_dir[64];
static char test_path[96];

/* A valid file; cases add a section in front of it. Lines 1 to 8. */
#define MINIMAL                                                                \
    "upstreams:\n"                                                             \
    "  demo:\n"                                                                \
    "    servers: [\"127.0.0.1:9000\"]\n"                                      \
    "routes:\n"                                                                \
    "  - name: all\n"                                                          \
    "    path: /\n"                                                            \
    "    prefix: true\n"                                                       \
    "    upstream: demo\n"                                                    \
    "    authz: {public: true}\n"

static int
group_setup(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/test_config.XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(test_path, sizeof(test_path), "%s/t.yaml", test_dir);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    unlink(test_path);
    rmdir(test_dir);
    return 0;
}

static void
write_file(const char *text)
{
    FILE *f = fopen(test_path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static int
load(const char *text, struct config **out, struct config_errors *errs)
{
    write_file(text);
    return config_load(test_path, out, errs);
}

static struct config *
load_ok(const char *text)
{
    struct config_errors errs;
    struct config *c = NULL;
    int rc = load(text, &c, &errs);

    if (rc != AW_OK)
        config_errors_print(&errs, stderr);
    assert_int_equal(rc, AW_OK);
    assert_int_equal(errs.n, 0);
    assert_non_null(c);
    return c;
}

static void
load_bad(const char *text, struct config_errors *errs)
{
    struct config *c = NULL;

    assert_int_equal(load(text, &c, errs), AW_INVALID);
    assert_null(c);
    assert_true(errs->n > 0);
}

/* Fail unless errs holds exactly "<test file>:" followed by want. */
static void
expect_error(const struct config_errors *errs, const char *want)
{
    char full[400];

    snprintf(full, sizeof(full), "%s:%s", test_path, want);
    for (size_t i = 0; i < errs->n; i++)
        if (strcmp(errs->msg[i], full) == 0)
            return;
    config_errors_print(errs, stderr);
    fail_msg("missing problem: %s", full);
}

/* Fail unless a message starts at position pos and contains part. */
static void
expect_error_part(const struct config_errors *errs, const char *pos,
                  const char *part)
{
    char start[160];

    snprintf(start, sizeof(start), "%s:%s", test_path, pos);
    for (size_t i = 0; i < errs->n; i++)
        if (strncmp(errs->msg[i], start, strlen(start)) == 0 &&
            strstr(errs->msg[i], part) != NULL)
            return;
    config_errors_print(errs, stderr);
    fail_msg("missing problem at %s with '%s'", start, part);
}

static void
test_defaults(void **state)
{
    struct config *c = load_ok(MINIMAL);

    (void)state;
    assert_int_equal(c->refs, 1);
    assert_string_equal(c->path, test_path);
    assert_string_equal(c->hash, "9a7b8426e5661296");
    assert_true(c->generation > 0);
    assert_int_equal(c->workers, 0);
    assert_int_equal(c->nlisteners, 1);
    assert_string_equal(c->listeners[0].text, "127.0.0.1:8080");
    assert_int_equal(c->listeners[0].ss.ss_family, AF_INET);
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->drain_timeout_ms, 10000);
    assert_int_equal(c->keepalive_requests, 10000);
    assert_int_equal(c->limits.max_head_bytes, 16384);
    assert_int_equal(c->limits.max_headers, 100);
    assert_int_equal(c->limits.max_target_bytes, 8192);
    assert_int_equal(c->limits.max_body_bytes, 1 << 20);
    assert_int_equal(c->header_timeout_ms, 10000);
    assert_int_equal(c->body_timeout_ms, 30000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_int_equal(c->send_timeout_ms, 30000);
    assert_int_equal(c->norm.slashes, HTTP_SLASHES_MERGE);
    assert_true(c->norm.reject_encoded_slash);
    assert_true(c->norm.reject_encoded_dot);
    assert_true(c->norm.reject_backslash);
    assert_true(c->norm.reject_nul);
    assert_true(c->norm.reject_invalid_utf8);
    assert_false(c->norm.reject_dot_segments);
    assert_int_equal(c->ntrusted_proxies, 0);
    assert_int_equal(c->nsecurity_headers, 3);
    assert_string_equal(c->security_headers[0].name, "X-Content-Type-Options");
    assert_string_equal(c->security_headers[0].value, "nosniff");
    assert_string_equal(c->security_headers[1].name, "X-Frame-Options");
    assert_string_equal(c->security_headers[1].value, "DENY");
    assert_string_equal(c->security_headers[2].name, "Referrer-Policy");
    assert_string_equal(c->security_headers[2].value, "no-referrer");
    assert_null(c->listener_tls);
    assert_string_equal(c->access_log, "stdout");
    assert_int_equal(c->access_log_buffer, 256 << 10);
    assert_int_equal(c->log_level, LOG_INFO);
    config_unref(c);
}

static void
test_default_upstream_and_route(void **state)
{
    struct config *c = load_ok(MINIMAL);
    const struct config_upstream *u = &c->upstreams[0];
    const struct config_route *r = &c->routes[0];

    (void)state;
    assert_int_equal(c->nupstreams, 1);
    assert_string_equal(u->name, "demo");
    assert_int_equal(u->index, 0);
    assert_int_equal(u->nservers, 1);
    assert_string_equal(u->servers[0].text, "127.0.0.1:9000");
    assert_int_equal(u->balance, BALANCE_ROUND_ROBIN);
    assert_int_equal(u->connect_timeout_ms, 2000);
    assert_int_equal(u->read_timeout_ms, 30000);
    assert_int_equal(u->write_timeout_ms, 30000);
    assert_int_equal(u->keepalive, 64);
    assert_int_equal(u->keepalive_timeout_ms, 60000);
    assert_int_equal(u->max_fails, 3);
    assert_int_equal(u->fail_timeout_ms, 10000);
    assert_true(u->retry_idempotent);
    assert_int_equal(c->nroutes, 1);
    assert_string_equal(r->name, "all");
    assert_null(r->host);
    assert_int_equal(r->methods, 0);
    assert_string_equal(r->path, "/");
    assert_true(r->prefix);
    assert_ptr_equal(r->upstream, u);
    assert_int_equal(r->max_body_bytes, 1 << 20);
    assert_int_equal(r->read_timeout_ms, 30000);
    assert_non_null(c->route_table);
    config_unref(c);
}

static const char every_key[] =
    "server:\n"
    "  listen: [\"127.0.0.1:18080\", \"[::1]:18081\"]\n"
    "  workers: 4\n"
    "  max_connections: 500\n"
    "  drain_timeout: 3s\n"
    "  keepalive_requests: 50\n"
    "limits:\n"
    "  max_head: 32k\n"
    "  max_headers: 50\n"
    "  max_target: 4k\n"
    "  max_body: 2m\n"
    "timeouts:\n"
    "  header: 5s\n"
    "  body: 6s\n"
    "  idle: 2m\n"
    "  send: 250ms\n"
    "normalization:\n"
    "  slashes: reject\n"
    "  reject_encoded_slash: false\n"
    "  reject_encoded_dot: false\n"
    "  reject_backslash: false\n"
    "  reject_nul: false\n"
    "  reject_invalid_utf8: false\n"
    "  reject_dot_segments: true\n"
    "trusted_proxies: [\"10.0.0.0/8\", \"2001:db8::/32\"]\n"
    "security_headers:\n"
    "  X-Frame-Options: SAMEORIGIN\n"
    "  Cache-Control: no-store\n"
    "access_log:\n"
    "  path: /var/log/apiward/access.log\n"
    "  buffer: 1m\n"
    "log:\n"
    "  level: debug\n"
    "upstreams:\n"
    "  demo:\n"
    "    servers: [\"127.0.0.1:9000\", \"127.0.0.1:9001\"]\n"
    "    balance: least_conn\n"
    "    connect_timeout: 250ms\n"
    "    read_timeout: 11s\n"
    "    write_timeout: 12s\n"
    "    keepalive: 8\n"
    "    keepalive_timeout: 13s\n"
    "    max_fails: 5\n"
    "    fail_timeout: 14s\n"
    "    retry_idempotent: false\n"
    "  other:\n"
    "    servers: [\"[::1]:9100\"]\n"
    "routes:\n"
    "  - name: users\n"
    "    host: api.example.com\n"
    "    methods: [GET, POST]\n"
    "    path: /users/{id}\n"
    "    prefix: false\n"
    "    upstream: demo\n"
    "    authz: {public: true}\n"
    "    max_body: 64k\n"
    "    read_timeout: 5s\n"
    "  - name: rest\n"
    "    path: /\n"
    "    prefix: true\n"
    "    upstream: other\n"
    "    authz: {public: true}\n";

static void
test_every_key(void **state)
{
    struct config *c = load_ok(every_key);

    (void)state;
    assert_int_equal(c->nlisteners, 2);
    assert_string_equal(c->listeners[0].text, "127.0.0.1:18080");
    assert_string_equal(c->listeners[1].text, "[::1]:18081");
    assert_int_equal(c->listeners[1].ss.ss_family, AF_INET6);
    assert_int_equal(c->listeners[1].len, sizeof(struct sockaddr_in6));
    assert_int_equal(c->workers, 4);
    assert_int_equal(c->max_connections, 500);
    assert_int_equal(c->drain_timeout_ms, 3000);
    assert_int_equal(c->keepalive_requests, 50);
    assert_int_equal(c->limits.max_head_bytes, 32 << 10);
    assert_int_equal(c->limits.max_headers, 50);
    assert_int_equal(c->limits.max_target_bytes, 4 << 10);
    assert_int_equal(c->limits.max_body_bytes, 2 << 20);
    assert_int_equal(c->header_timeout_ms, 5000);
    assert_int_equal(c->body_timeout_ms, 6000);
    assert_int_equal(c->idle_timeout_ms, 120000);
    assert_int_equal(c->send_timeout_ms, 250);
    assert_int_equal(c->norm.slashes, HTTP_SLASHES_REJECT);
    assert_false(c->norm.reject_encoded_slash);
    assert_false(c->norm.reject_encoded_dot);
    assert_false(c->norm.reject_backslash);
    assert_false(c->norm.reject_nul);
    assert_false(c->norm.reject_invalid_utf8);
    assert_true(c->norm.reject_dot_segments);
    assert_int_equal(c->ntrusted_proxies, 2);
    assert_int_equal(c->trusted_proxies[0].family, AF_INET);
    assert_int_equal(c->trusted_proxies[0].bits, 8);
    assert_int_equal(c->trusted_proxies[1].family, AF_INET6);
    assert_int_equal(c->trusted_proxies[1].bits, 32);
    assert_int_equal(c->nsecurity_headers, 2);
    assert_string_equal(c->security_headers[0].name, "X-Frame-Options");
    assert_string_equal(c->security_headers[0].value, "SAMEORIGIN");
    assert_string_equal(c->security_headers[1].name, "Cache-Control");
    assert_string_equal(c->security_headers[1].value, "no-store");
    assert_string_equal(c->access_log, "/var/log/apiward/access.log");
    assert_int_equal(c->access_log_buffer, 1 << 20);
    assert_int_equal(c->log_level, LOG_DEBUG);
    config_unref(c);
}

static void
test_every_key_upstreams_routes(void **state)
{
    struct config *c = load_ok(every_key);
    const struct config_upstream *u = &c->upstreams[0];
    const struct config_route *r = &c->routes[0];

    (void)state;
    assert_int_equal(c->nupstreams, 2);
    assert_int_equal(u->nservers, 2);
    assert_string_equal(u->servers[1].text, "127.0.0.1:9001");
    assert_int_equal(u->balance, BALANCE_LEAST_CONN);
    assert_int_equal(u->connect_timeout_ms, 250);
    assert_int_equal(u->read_timeout_ms, 11000);
    assert_int_equal(u->write_timeout_ms, 12000);
    assert_int_equal(u->keepalive, 8);
    assert_int_equal(u->keepalive_timeout_ms, 13000);
    assert_int_equal(u->max_fails, 5);
    assert_int_equal(u->fail_timeout_ms, 14000);
    assert_false(u->retry_idempotent);
    assert_string_equal(c->upstreams[1].name, "other");
    assert_int_equal(c->upstreams[1].index, 1);
    assert_string_equal(c->upstreams[1].servers[0].text, "[::1]:9100");

    assert_int_equal(c->nroutes, 2);
    assert_string_equal(r->host, "api.example.com");
    assert_int_equal(r->methods, (1u << HTTP_GET) | (1u << HTTP_POST));
    assert_string_equal(r->path, "/users/{id}");
    assert_false(r->prefix);
    assert_ptr_equal(r->upstream, u);
    assert_int_equal(r->max_body_bytes, 64 << 10);
    assert_int_equal(r->read_timeout_ms, 5000);
    /* Defaults of the second route follow limits and its upstream. */
    assert_int_equal(c->routes[1].index, 1);
    assert_ptr_equal(c->routes[1].upstream, &c->upstreams[1]);
    assert_int_equal(c->routes[1].max_body_bytes, 2 << 20);
    assert_int_equal(c->routes[1].read_timeout_ms, 30000);
    config_unref(c);
}

/* The compiled table hands back the struct config_route as data. */
static void
test_route_table_data(void **state)
{
    struct config *c = load_ok(every_key);
    const struct route_def *def = NULL;
    struct route_params params;
    uint32_t allowed = 0;
    enum route_result res;

    (void)state;
    res = route_match(c->route_table, SLICE_LIT("api.example.com"), HTTP_GET,
                      SLICE_LIT("/users/42"), &def, &params, &allowed);
    assert_int_equal(res, ROUTE_FOUND);
    assert_ptr_equal(def->data, &c->routes[0]);
    res = route_match(c->route_table, SLICE_LIT("other.example"), HTTP_GET,
                      SLICE_LIT("/users/42"), &def, &params, &allowed);
    assert_int_equal(res, ROUTE_FOUND);
    assert_ptr_equal(def->data, &c->routes[1]);
    config_unref(c);
}

/* Explicit empty security headers mean none; quoted numbers are text. */
static void
test_security_headers_empty(void **state)
{
    struct config *c = load_ok("security_headers: {}\n" MINIMAL);

    (void)state;
    assert_int_equal(c->nsecurity_headers, 0);
    config_unref(c);
    c = load_ok("security_headers:\n  X-Max: 10\n" MINIMAL);
    assert_int_equal(c->nsecurity_headers, 1);
    assert_string_equal(c->security_headers[0].value, "10");
    config_unref(c);
}

/*
 * Single-quoted values are decoded by the loader itself: escaped quotes
 * and folded lines, as a policy header is likely to be written.
 */
static void
test_single_quoted(void **state)
{
    struct config *c =
        load_ok("security_headers:\n"
                "  Content-Security-Policy: 'default-src ''self''; script-src\n"
                "    ''self'' ''unsafe-inline'';   \n"
                "    img-src ''none'''\n" MINIMAL);

    (void)state;
    assert_int_equal(c->nsecurity_headers, 1);
    assert_string_equal(c->security_headers[0].value,
                        "default-src 'self'; script-src 'self' "
                        "'unsafe-inline'; img-src 'none'");
    config_unref(c);
}

/* Huge values are refused before libfyaml spends time folding them. */
static void
test_value_bounds(void **state)
{
    struct config_errors errs;
    char *text = malloc(20000);
    size_t len;

    (void)state;
    assert_non_null(text);
    len = (size_t)snprintf(text, 20000, "access_log:\n  path: \"/");
    for (int i = 0; i < 100; i++)
        text[len++] = '\n';
    snprintf(text + len, 20000 - len, "    x\"\n%s", MINIMAL);
    load_bad(text, &errs);
    expect_error(&errs, "2:9: a value longer than 8192 bytes or 64 lines");
    len = (size_t)snprintf(text, 20000, "access_log:\n  path: /");
    memset(text + len, 'a', 9000);
    snprintf(text + len + 9000, 20000 - len - 9000, "\n%s", MINIMAL);
    load_bad(text, &errs);
    expect_error(&errs, "2:9: a value longer than 8192 bytes or 64 lines");
    free(text);
}

/* A lowered max_head pulls the default max_target down with it. */
static void
test_target_follows_head(void **state)
{
    struct config *c = load_ok("limits:\n  max_head: 4k\n" MINIMAL);

    (void)state;
    assert_int_equal(c->limits.max_target_bytes, 4096);
    config_unref(c);
}

/* A case: a section placed in front of MINIMAL and the problem it makes. */
struct bad_case {
    const char *head;
    const char *want;
};

static const struct bad_case bad_values[] = {
    {"server:\n  workers: 300\n",
     "2:12: server.workers: 300 is out of range (0 to 256)"},
    {"server:\n  wrkers: 2\n",
     "2:3: server: unknown key 'wrkers' (expected one of: listen, "
     "workers, max_connections, drain_timeout, keepalive_requests)"},
    {"bogus: 1\n",
     "1:1: unknown key 'bogus' (expected one of: server, limits, "
     "timeouts, normalization, trusted_proxies, security_headers, "
     "access_log, log, identity, geo, events, admin, rate_limits, abuse, "
     "redis, upstreams, policies, contracts, inspect, routes)"},
    {"server: [1]\n", "1:9: server: expected a mapping, got a list"},
    {"server:\n  workers: \"4\"\n",
     "2:12: server.workers: expected a whole number, got a quoted string"},
    {"server:\n  workers: -1\n",
     "2:12: server.workers: expected a whole number, got '-1'"},
    {"server:\n  max_connections: 0\n",
     "2:20: server.max_connections: 0 is out of range (1 to 1000000)"},
    {"server:\n  drain_timeout:\n",
     "2:3: server.drain_timeout: expected a duration, got nothing"},
    {"limits:\n  max_head: 16g\n",
     "2:13: limits.max_head: '16g' is out of range (1k to 1m)"},
    {"limits:\n  max_head: 512\n",
     "2:13: limits.max_head: '512' is out of range (1k to 1m)"},
    {"limits:\n  max_headers: 1001\n",
     "2:16: limits.max_headers: 1001 is out of range (1 to 1000)"},
    {"limits:\n  max_body: lots\n",
     "2:13: limits.max_body: 'lots' is not a size (write e.g. 512, 16k, "
     "1m)"},
    {"limits:\n  max_head: 4k\n  max_target: 8k\n",
     "3:15: limits.max_target: larger than limits.max_head, so it could "
     "never be reached"},
    {"timeouts:\n  header: 10x\n",
     "2:11: timeouts.header: '10x' is not a duration (write e.g. 250ms, "
     "10s, 5m)"},
    {"timeouts:\n  idle: 0s\n",
     "2:9: timeouts.idle: '0s' is out of range (1ms to 1h)"},
    {"timeouts:\n  send: 2h\n",
     "2:9: timeouts.send: '2h' is out of range (1ms to 1h)"},
    {"normalization:\n  reject_nul: yes\n",
     "2:15: normalization.reject_nul: expected true or false, got 'yes'"},
    {"normalization:\n  reject_nul: \"true\"\n",
     "2:15: normalization.reject_nul: expected true or false, got 'true' "
     "(quoted)"},
    {"normalization:\n  slashes: merge2\n",
     "2:12: normalization.slashes: 'merge2' is not one of: merge, keep, "
     "reject"},
    {"server:\n  listen: [\"127.0.0.1\"]\n",
     "2:12: server.listen: '127.0.0.1': expected host:port"},
    {"server:\n  listen: [\"::1:80\"]\n",
     "2:12: server.listen: '::1:80': an IPv6 address must be written in "
     "brackets, e.g. [::1]:8080"},
    {"server:\n  listen: [\"127.1:80\"]\n",
     "2:12: server.listen: '127.1:80': neither an IP address nor a host "
     "name"},
    {"server:\n  listen: [\"1.2.3.4:99999\"]\n",
     "2:12: server.listen: '1.2.3.4:99999': the port must be a number "
     "from 1 to 65535"},
    {"server:\n  listen: [\"[127.0.0.1]:80\"]\n",
     "2:12: server.listen: '[127.0.0.1]:80': not an IPv6 address"},
    {"server:\n  listen: [\"127.0.0.1:80\", \"127.0.0.1:80\"]\n",
     "2:28: server.listen: 127.0.0.1:80 is listed twice"},
    {"server:\n  listen: []\n",
     "2:11: server.listen: expected 1 to 16 addresses"},
    {"server:\n  listen: \"127.0.0.1:80\"\n",
     "2:11: server.listen: expected a list, got a quoted string"},
    {"log:\n  level: verbose\n",
     "2:10: log.level: 'verbose' is not one of: error, warn, info, debug"},
    {"access_log:\n  path: rel.log\n",
     "2:9: access_log.path: expected stdout, off or an absolute file path"},
    {"access_log:\n  buffer: 1k\n",
     "2:11: access_log.buffer: '1k' is out of range (4k to 64m)"},
    {"trusted_proxies: [\"10.0.0.1/8\"]\n",
     "1:19: trusted_proxies: '10.0.0.1/8': bits are set past the /8 "
     "prefix; did you mean 10.0.0.0/8?"},
    {"trusted_proxies: [\"10.0.0.0/33\"]\n",
     "1:19: trusted_proxies: '10.0.0.0/33': the prefix length must be 0 "
     "to 32"},
    {"trusted_proxies: [\"ten\"]\n",
     "1:19: trusted_proxies: 'ten': expected an address or a range such "
     "as 10.0.0.0/8 or 2001:db8::/32"},
    {"security_headers:\n  Connection: close\n",
     "2:3: security_headers: the gateway does not let 'Connection' be set"},
    {"security_headers:\n  X-A: 1\n  x-a: 2\n",
     "3:3: security_headers: 'x-a' is listed twice (first at line 2)"},
    {"security_headers:\n  \"Bad Name\": 1\n",
     "2:3: security_headers: 'Bad Name' is not a valid header name"},
    {"security_headers:\n  X-A: \"a\\nb\"\n",
     "2:8: security_headers: the value must be printable ASCII without "
     "leading or trailing spaces"},
    {"server:\n  workers: 1\nserver:\n  workers: 2\n",
     "3:1: duplicate key 'server' (first at line 1)"},
    {"server:\n  workers: \"\\q\"\n",
     "2:13: YAML syntax error: invalid escape 'q' in double-quoted string"},
    {"server: !!map {workers: 1}\n", "1:15: YAML tags are not supported"},
    {"server:\n  w\xc3\xa9: 1\n  \xc3\xa9\xff: 2\n",
     "3:4: the file is not valid UTF-8 (byte 0xff)"},
    {"%\xff\n", "1:2: the file is not valid UTF-8 (byte 0xff)"},
    {"# \xed\xa0\x80\n", "1:3: the file is not valid UTF-8 (byte 0xed)"},
};

static void
test_bad_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        struct config_errors errs;
        char text[1024];

        snprintf(text, sizeof(text), "%s%s", bad_values[i].head, MINIMAL);
        load_bad(text, &errs);
        expect_error(&errs, bad_values[i].want);
    }
}

/* Whole files whose upstreams or routes are wrong. */
static const struct bad_case bad_files[] = {
    {"", "1:1: the file is empty; upstreams and routes are required"},
    {"42\n", "1:1: file: expected a mapping, got a plain scalar"},
    {"server:\n  workers: 1\n", "1:1: missing required key 'upstreams'"},
    {"server:\n  workers: 1\n", "1:1: missing required key 'routes'"},
    {"upstreams: {}\nroutes: []\n",
     "1:12: upstreams: expected 1 to 1024 upstreams"},
    {"upstreams: {}\nroutes: []\n", "2:9: routes: expected 1 to 10000 routes"},
    {"upstreams:\n  demo: {}\nroutes:\n  - {name: a, path: /, upstream: "
     "demo, authz: {public: true}}\n",
     "2:9: upstreams.demo: missing required key 'servers'"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"], balance: random}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, authz: {public: true}}\n",
     "2:45: upstreams.demo.balance: 'random' is not one of: round_robin, "
     "least_conn"},
    {"upstreams:\n  de/mo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: de/mo, authz: {public: true}}\n",
     "2:3: upstreams: 'de/mo' may hold only letters, digits, '_', '-' "
     "and '.'"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, upstream: demo, authz: {public: true}}\n",
     "4:5: routes[0]: missing required key 'path'"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: nope, authz: {public: true}}\n",
     "4:34: routes[0].upstream: no upstream is named 'nope'"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: x, upstream: demo, authz: {public: true}}\n",
     "4:21: routes[0].path: a path starts with '/'"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, methods: [GET, "
     "get], authz: {public: true}}\n",
     "4:55: routes[0].methods: unknown method 'get' (methods are written "
     "in capitals: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, "
     "CONNECT)"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, methods: [GET, "
     "GET], authz: {public: true}}\n",
     "4:55: routes[0].methods: GET is listed twice"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, methods: [], authz: {public: true}}\n",
     "4:49: routes[0].methods: an empty list allows nothing; leave the key "
     "out to allow every method"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, max_body: 2m, authz: {public: true}}\n",
     "4:50: routes[0].max_body: larger than limits.max_body, which is "
     "checked first"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, host: "
     "\"a.com:80\", authz: {public: true}}\n",
     "4:46: routes[0].host: 'a.com:80' is not a host name, '*.' and a host "
     "name, or a bracketed IPv6 address (no port)"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: \"a b\", path: /, upstream: demo, authz: {public: true}}\n",
     "4:12: routes[0].name: 'a b' may hold only letters, digits, '_', '-' "
     "and '.'"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: \"a\\0b\", path: /, upstream: demo, authz: {public: true}}\n",
     "4:12: routes[0].name: must not contain a NUL byte"},
    {"upstreams:\n  demo: {servers: [\"127.0.0.1:1\"]}\n"
     "routes:\n  - {name: a, path: /, upstream: demo, authz: {public: true}}\n"
     "  - {name: a, path: /b, upstream: demo, authz: {public: true}}\n",
     "5:12: duplicate route name 'a' (first at line 4)"},
    {"---\na: 1\n---\nb: 2\n", "3:1: only one YAML document is allowed"},
    {"server: &x {workers: 1}\nlimits: *x\n" MINIMAL,
     "1:12: YAML anchors are not supported"},
    {"server: &x {workers: 1}\nlimits: *x\n" MINIMAL,
     "2:9: YAML aliases are not supported"},
    {"server:\n  ? [a]\n  : 1\n" MINIMAL,
     "2:5: mapping keys must be strings, not a list"},
};

static void
test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        struct config_errors errs;

        load_bad(bad_files[i].head, &errs);
        expect_error(&errs, bad_files[i].want);
    }
}

/* Nesting is bounded before the parser's own, larger, limit. */
static void
test_depth_bound(void **state)
{
    struct config_errors errs;
    char text[128] = "x: ";
    size_t len = strlen(text);

    (void)state;
    for (int i = 0; i < 20; i++)
        text[len++] = '[';
    for (int i = 0; i < 20; i++)
        text[len++] = ']';
    text[len] = '\0';
    load_bad(text, &errs);
    assert_int_equal(errs.n, 1);
    expect_error_part(&errs, "1:", "nesting deeper than 16 levels");
}

static void
test_syntax_error_position(void **state)
{
    struct config_errors errs;

    (void)state;
    load_bad("server:\n  listen: [\"127.0.0.1:80\"\n" MINIMAL, &errs);
    assert_int_equal(errs.n, 1);
    expect_error_part(&errs, "", "YAML syntax error: ");
    assert_non_null(strstr(errs.msg[0], test_path));
}

/* Two routes with the same host, methods and template cannot coexist. */
static void
test_route_conflicts(void **state)
{
    static const char text[] =
        "upstreams:\n"
        "  demo: {servers: [\"127.0.0.1:1\"]}\n"
        "routes:\n"
        "  - {name: a, path: /x, upstream: demo, authz: {public: true}}\n"
        "  - {name: b, path: /y, upstream: demo, authz: {public: true}}\n"
        "  - {name: c, path: /x, upstream: demo, authz: {public: true}}\n"
        "  - {name: d, path: \"/y/{id}\", upstream: demo, authz: {public: true}}\n"
        "  - {name: e, path: /y, upstream: demo, authz: {public: true}}\n";
    struct config_errors errs;

    (void)state;
    load_bad(text, &errs);
    assert_int_equal(errs.n, 2);
    expect_error_part(&errs, "6:21: ", "c");
    expect_error_part(&errs, "8:21: ", "e");
}

/* A template the route table refuses is reported at that route's path. */
static void
test_route_bad_template(void **state)
{
    static const char text[] =
        "upstreams:\n"
        "  demo: {servers: [\"127.0.0.1:1\"]}\n"
        "routes:\n"
        "  - {name: a, path: /x, upstream: demo, authz: {public: true}}\n"
        "  - {name: broken, path: \"/y/{rest*}/z\", upstream: demo, authz: {public: true}}\n";
    struct config_errors errs;

    (void)state;
    load_bad(text, &errs);
    assert_int_equal(errs.n, 1);
    expect_error_part(&errs, "5:26: ", "broken");
}

/* Every problem in the file is reported, in the order of the file. */
static void
test_collects_all(void **state)
{
    static const char text[] = "routes:\n"
                               "  - name: a\n"
                               "    path: /\n"
                               "    upstream: nope\n"
                               "upstreams:\n"
                               "  demo:\n"
                               "    servers: [\"127.0.0.1:9000\"]\n"
                               "    keepalive: many\n"
                               "server:\n"
                               "  workers: 999\n"
                               "log: {level: loud}\n";
    struct config_errors errs;
    char want[200];

    (void)state;
    load_bad(text, &errs);
    assert_int_equal(errs.n, 4);
    assert_int_equal(errs.dropped, 0);
    snprintf(want, sizeof(want),
             "%s:4:15: routes[0].upstream: no upstream "
             "is named 'nope'",
             test_path);
    assert_string_equal(errs.msg[0], want);
    assert_non_null(strstr(errs.msg[1], ":8:16: upstreams.demo.keepalive"));
    assert_non_null(strstr(errs.msg[2], ":10:12: server.workers"));
    assert_non_null(strstr(errs.msg[3], ":11:14: log.level"));
}

/* Past CONFIG_MAX_ERRORS problems are counted, and printed as a count. */
static void
test_errors_dropped(void **state)
{
    struct config_errors errs;
    char text[2048] = "server:\n";
    size_t len = strlen(text);
    char *out = NULL;
    size_t outlen = 0;
    FILE *f;

    (void)state;
    for (int i = 0; i < 40; i++)
        len +=
            (size_t)snprintf(text + len, sizeof(text) - len, "  k%d: 1\n", i);
    snprintf(text + len, sizeof(text) - len, "%s", MINIMAL);
    load_bad(text, &errs);
    assert_int_equal(errs.n, CONFIG_MAX_ERRORS);
    assert_int_equal(errs.dropped, 40 - CONFIG_MAX_ERRORS);
    f = open_memstream(&out, &outlen);
    assert_non_null(f);
    config_errors_print(&errs, f);
    fclose(f);
    assert_non_null(strstr(out, "... and 8 more problems\n"));
    assert_non_null(strstr(out, ":2:3: server: unknown key 'k0'"));
    free(out);
}

static void
test_unreadable_file(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;
    char want[200];

    (void)state;
    snprintf(want, sizeof(want), "%s/missing.yaml", test_dir);
    assert_int_equal(config_load(want, &c, &errs), AW_INVALID);
    assert_null(c);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.msg[0], "missing.yaml: cannot open: "));
    assert_int_equal(config_load(test_dir, &c, &errs), AW_INVALID);
    assert_non_null(strstr(errs.msg[0], "not a regular file"));
}

static void
test_load_string(void **state)
{
    static const char text[] = MINIMAL "server: {listen: [\"localhost:1\"]}\n";
    struct config_errors errs;
    struct config *c = NULL;

    (void)state;
    assert_int_equal(config_load_string("mem", MINIMAL, strlen(MINIMAL),
                                        CONFIG_LOAD_NO_RESOLVE, &c, &errs),
                     AW_OK);
    assert_null(c->path);
    assert_string_equal(c->hash, "9a7b8426e5661296");
    config_unref(c);
    c = NULL;
    assert_int_equal(config_load_string("mem", text, strlen(text),
                                        CONFIG_LOAD_NO_RESOLVE, &c, &errs),
                     AW_INVALID);
    assert_string_equal(errs.msg[0],
                        "mem:10:19: server.listen: 'localhost:1': host names "
                        "are not resolved here; write an IP address");
}

/* admin: absent means no listener; present, loopback and a token file. */
static void
test_admin_section(void **state)
{
    struct config_errors errs;
    struct config *c = load_ok(MINIMAL);

    (void)state;
    assert_null(c->admin_listen);
    assert_int_equal(c->admin_timeout_ms, 5000);
    assert_int_equal(c->metrics_max_routes, 256);
    config_unref(c);
    c = load_ok(MINIMAL "admin: {token_file: /etc/apiward/admin.token}\n");
    assert_non_null(c->admin_listen);
    assert_string_equal(c->admin_listen->text, "127.0.0.1:9901");
    assert_string_equal(c->admin_token_file, "/etc/apiward/admin.token");
    config_unref(c);
    c = load_ok(MINIMAL "admin:\n  listen: \"[::1]:9000\"\n"
                "  token_file: t\n  timeout: 2s\n  metrics_routes: 9\n");
    assert_string_equal(c->admin_listen->text, "[::1]:9000");
    assert_int_equal(c->admin_timeout_ms, 2000);
    assert_int_equal(c->metrics_max_routes, 9);
    assert_non_null(strstr(c->admin_token_file, test_dir));
    config_unref(c);
    load_bad(MINIMAL "admin: {listen: \"127.0.0.1:1\"}\n", &errs);
    expect_error_part(&errs, "10:", "missing required key 'token_file'");
    load_bad(MINIMAL "admin: {listen: \"localhost:1\", token_file: /t}\n",
             &errs);
    expect_error_part(&errs, "10:", "admin.listen");
    load_bad(MINIMAL "admin: {token_file: /t, metrics_routes: 0}\n", &errs);
    expect_error_part(&errs, "10:", "admin.metrics_routes");
}

/* events.syslog: an address, and choices of transport, format, facility. */
static void
test_events_syslog(void **state)
{
    struct config_errors errs;
    struct config *c = load_ok(MINIMAL);

    (void)state;
    assert_null(c->events_syslog);
    assert_int_equal(c->events_syslog_facility, 16);
    config_unref(c);
    c = load_ok(MINIMAL "events:\n  syslog: {address: \"127.0.0.1:514\", "
                "transport: tcp, format: cef, facility: authpriv}\n");
    assert_string_equal(c->events_syslog->text, "127.0.0.1:514");
    assert_true(c->events_syslog_tcp);
    assert_true(c->events_syslog_cef);
    assert_int_equal(c->events_syslog_facility, 10);
    config_unref(c);
    load_bad(MINIMAL "events:\n  syslog: {transport: tcp}\n", &errs);
    expect_error_part(&errs, "11:", "missing required key 'address'");
    load_bad(MINIMAL "events:\n  syslog: {address: \"127.0.0.1:514\", "
             "transport: ssl}\n", &errs);
    expect_error_part(&errs, "11:", "events.syslog.transport");
    load_bad(MINIMAL "events:\n  syslog: {address: \"127.0.0.1:514\", "
             "transport: tls}\n", &errs);
    expect_error_part(&errs, "11:", "transport tls needs ca");
    c = load_ok(MINIMAL "events:\n  syslog: {address: \"127.0.0.1:6514\", "
                "transport: tls, ca: /etc/ssl/ca.pem, server_name: "
                "logs.example}\n");
    assert_true(c->events_syslog_tcp && c->events_syslog_tls);
    assert_string_equal(c->events_syslog_ca, "/etc/ssl/ca.pem");
    assert_string_equal(c->events_syslog_name, "logs.example");
    config_unref(c);
    load_bad(MINIMAL "events:\n  syslog: {address: \"127.0.0.1:514\", "
             "facility: local9}\n", &errs);
    expect_error_part(&errs, "11:", "events.syslog.facility");
}

/* The detectors of suspicious token use: defaults and bounds. */
static void
test_events_detectors(void **state)
{
    struct config_errors errs;
    struct config *c = load_ok(MINIMAL);

    (void)state;
    assert_int_equal(c->detect_addresses, 5);
    assert_int_equal(c->detect_expired, 10);
    assert_int_equal(c->detect_window_ms, 600000);
    assert_int_equal(c->detect_entries, 16384);
    config_unref(c);
    c = load_ok(MINIMAL "events: {token_addresses: 0, expired_replays: 3, "
                "token_window: 30s, token_entries: 2048}\n");
    assert_int_equal(c->detect_addresses, 0);
    assert_int_equal(c->detect_expired, 3);
    assert_int_equal(c->detect_window_ms, 30000);
    assert_int_equal(c->detect_entries, 2048);
    config_unref(c);
    load_bad(MINIMAL "events: {token_addresses: 17}\n", &errs);
    expect_error_part(&errs, "10:", "events.token_addresses");
}

static void
test_generation_increases(void **state)
{
    struct config *a = load_ok(MINIMAL);
    struct config *b = load_ok(MINIMAL);

    (void)state;
    assert_true(b->generation > a->generation);
    config_unref(a);
    config_unref(b);
}

static void
test_ref_and_swap(void **state)
{
    struct config *a = load_ok(MINIMAL);
    struct config *b = load_ok(MINIMAL);
    struct config *cur, *in_flight;

    (void)state;
    config_swap(NULL);
    assert_null(config_current());
    config_swap(a); /* the table now holds our reference to a */
    cur = config_current();
    assert_ptr_equal(cur, a);
    assert_int_equal(a->refs, 2);
    in_flight = cur; /* a request still running on a */
    config_swap(b);
    assert_int_equal(a->refs, 1);
    assert_string_equal(in_flight->routes[0].name, "all");
    config_unref(in_flight); /* frees a; ASan checks nobody uses it */
    cur = config_current();
    assert_ptr_equal(cur, b);
    assert_ptr_equal(config_ref(cur), b);
    assert_int_equal(b->refs, 3);
    config_unref(cur);
    config_unref(cur);
    config_swap(NULL); /* drops the last reference to b */
    assert_null(config_current());
    config_unref(NULL);
}

/* Readers on other threads while the snapshot is swapped many times. */
static void *
swap_reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        struct config *c = config_current();

        if (c != NULL && c->nroutes != 1)
            return (void *)1;
        config_unref(c);
    }
    return NULL;
}

static void
test_swap_threads(void **state)
{
    pthread_t t[2];
    void *res;

    (void)state;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, swap_reader, NULL), 0);
    for (int i = 0; i < 40; i++)
        config_swap(load_ok(MINIMAL));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], &res), 0);
        assert_null(res);
    }
    config_swap(NULL);
}

static struct sockaddr_in
v4(const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET};

    assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
    return a;
}

static struct sockaddr_in6
v6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};

    assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    return a;
}

static bool
trusted4(const struct config *c, const char *text)
{
    struct sockaddr_in a = v4(text);

    return config_is_trusted_proxy(c, (const struct sockaddr *)&a);
}

static bool
trusted6(const struct config *c, const char *text)
{
    struct sockaddr_in6 a = v6(text);

    return config_is_trusted_proxy(c, (const struct sockaddr *)&a);
}

static void
test_trusted_proxies(void **state)
{
    struct config *c = load_ok(
        "trusted_proxies: [\"10.0.0.0/8\", \"192.168.1.7\", "
        "\"2001:db8::/32\", \"::ffff:172.16.0.0/108\", \"fd00::1\"]\n" MINIMAL);
    struct sockaddr_un un = {.sun_family = AF_UNIX};

    (void)state;
    assert_int_equal(c->ntrusted_proxies, 5);
    assert_true(trusted4(c, "10.1.2.3"));
    assert_true(trusted4(c, "10.255.255.255"));
    assert_false(trusted4(c, "11.0.0.1"));
    assert_false(trusted4(c, "9.255.255.255"));
    assert_true(trusted4(c, "192.168.1.7"));
    assert_false(trusted4(c, "192.168.1.8"));
    assert_true(trusted6(c, "2001:db8::1"));
    assert_true(trusted6(c, "2001:db8:ffff::1"));
    assert_false(trusted6(c, "2001:db9::1"));
    assert_true(trusted6(c, "fd00::1"));
    assert_false(trusted6(c, "fd00::2"));
    /* Mapped addresses compare as IPv4, in both directions. */
    assert_true(trusted6(c, "::ffff:10.9.9.9"));
    assert_false(trusted6(c, "::ffff:11.0.0.1"));
    assert_int_equal(c->trusted_proxies[3].family, AF_INET);
    assert_int_equal(c->trusted_proxies[3].bits, 12);
    assert_true(trusted4(c, "172.31.255.255"));
    assert_false(trusted4(c, "172.32.0.0"));
    assert_true(trusted6(c, "::ffff:172.16.0.1"));
    assert_false(config_is_trusted_proxy(c, (const struct sockaddr *)&un));
    config_unref(c);
}

static void
test_trusted_proxies_wide(void **state)
{
    struct config *c = load_ok("trusted_proxies: [\"::/0\"]\n" MINIMAL);

    (void)state;
    assert_true(trusted6(c, "::1"));
    assert_true(trusted6(c, "2001:db8::1"));
    assert_false(trusted6(c, "::ffff:1.2.3.4"));
    assert_false(trusted4(c, "1.2.3.4"));
    config_unref(c);
    c = load_ok("trusted_proxies: [\"0.0.0.0/0\"]\n" MINIMAL);
    assert_true(trusted4(c, "1.2.3.4"));
    assert_true(trusted6(c, "::ffff:1.2.3.4"));
    assert_false(trusted6(c, "::1"));
    config_unref(c);
    c = load_ok(MINIMAL);
    assert_false(trusted4(c, "127.0.0.1"));
    config_unref(c);
}

static void
test_for_proxy(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;
    const struct route_def *def = NULL;
    struct route_params params;
    uint32_t allowed;

    (void)state;
    assert_int_equal(
        config_for_proxy("127.0.0.1:8080", "http://127.0.0.1:9000", &c, &errs),
        AW_OK);
    assert_int_equal(errs.n, 0);
    assert_null(c->path);
    assert_int_equal(strlen(c->hash), 16);
    assert_true(c->generation > 0);
    assert_int_equal(c->nlisteners, 1);
    assert_string_equal(c->listeners[0].text, "127.0.0.1:8080");
    assert_int_equal(c->nupstreams, 1);
    assert_string_equal(c->upstreams[0].name, "backend");
    assert_string_equal(c->upstreams[0].servers[0].text, "127.0.0.1:9000");
    assert_int_equal(c->upstreams[0].keepalive, 64);
    assert_int_equal(c->nroutes, 1);
    assert_string_equal(c->routes[0].name, "default");
    assert_string_equal(c->routes[0].path, "/");
    assert_true(c->routes[0].prefix);
    assert_ptr_equal(c->routes[0].upstream, &c->upstreams[0]);
    assert_int_equal(c->nsecurity_headers, 3);
    assert_int_equal(route_match(c->route_table, SLICE_LIT("x"), HTTP_PUT,
                                 SLICE_LIT("/any/thing"), &def, &params,
                                 &allowed),
                     ROUTE_FOUND);
    assert_ptr_equal(def->data, &c->routes[0]);
    config_unref(c);
}

static void
test_for_proxy_urls(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;

    (void)state;
    assert_int_equal(
        config_for_proxy("[::1]:8080", "http://127.0.0.1", &c, &errs), AW_OK);
    assert_string_equal(c->listeners[0].text, "[::1]:8080");
    assert_string_equal(c->upstreams[0].servers[0].text, "127.0.0.1:80");
    config_unref(c);
    assert_int_equal(
        config_for_proxy("127.0.0.1:8080", "HTTP://[::1]:9000/", &c, &errs),
        AW_OK);
    assert_string_equal(c->upstreams[0].servers[0].text, "[::1]:9000");
    config_unref(c);
    assert_int_equal(
        config_for_proxy("127.0.0.1:8080", "http://localhost:9000", &c, &errs),
        AW_OK);
    config_unref(c);
}

static void
test_for_proxy_errors(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;

    (void)state;
    assert_int_equal(
        config_for_proxy("127.0.0.1:8080", "https://127.0.0.1:9443", &c, &errs),
        AW_INVALID);
    assert_null(c);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.msg[0],
                        "--to 'https://127.0.0.1:9443': upstream TLS is not "
                        "supported yet; use an http:// URL");
    assert_int_equal(config_for_proxy("127.0.0.1", "ftp://h", &c, &errs),
                     AW_INVALID);
    assert_int_equal(errs.n, 2);
    assert_string_equal(errs.msg[0],
                        "--listen '127.0.0.1': expected host:port");
    assert_string_equal(errs.msg[1], "--to 'ftp://h': expected a URL such "
                                     "as http://127.0.0.1:9000");
    assert_int_equal(
        config_for_proxy("127.0.0.1:1", "http://h:1/api", &c, &errs),
        AW_INVALID);
    assert_string_equal(errs.msg[0], "--to 'http://h:1/api': a path, query "
                                     "or fragment in the upstream URL is "
                                     "not supported");
    assert_int_equal(config_for_proxy("127.0.0.1:1", "http://u@h:1", &c, &errs),
                     AW_INVALID);
    assert_non_null(strstr(errs.msg[0], "user information"));
    assert_int_equal(config_for_proxy("127.0.0.1:1", "http://h:0", &c, &errs),
                     AW_INVALID);
    assert_string_equal(errs.msg[0], "--to 'h:0': the port must be a number "
                                     "from 1 to 65535");
    assert_int_equal(config_for_proxy("127.0.0.1:1", "http://", &c, &errs),
                     AW_INVALID);
    assert_non_null(strstr(errs.msg[0], "missing"));
}

/* ------------------------------------------------------------------ */
/* identity and routes[].auth                                          */
/* ------------------------------------------------------------------ */

/* A public JWK Set (one EC P-256 key) and a secret one (HS256). */
static const char jwks_public[] =
    "{\"keys\": [{\"kty\": \"EC\", \"kid\": \"c1\", \"crv\": \"P-256\", "
    "\"x\": \"1I3kCIAbzKMTyUPGWSZ6ECejb6YAUx845fCvcl3ZvEQ\", "
    "\"y\": \"-foKB5CxIOs6xIfYm59IlpW7aAYFFbKgAHTjGI2ke_s\"}]}";
static const char jwks_secret[] =
    "{\"keys\": [{\"kty\": \"oct\", \"kid\": \"s1\", "
    "\"k\": \"TgFrbmbfxA9_7ovGsYYIRHJmItEPer9oDPQB_CvD-xU\"}]}";
/* A keys file of one key, and its pepper. */
static const char api_keys_file[] =
    "# id consumer hmac not_before expires\n"
    "abcdefgh12 billing "
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff - -\n";
static const char pepper_file[] = "0123456789abcdef0123456789abcdef!\n";

/* Write text to DIR/name. */
static void
write_named(const char *name, const char *text)
{
    char path[160];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    /* The API key store warns about a pepper others may read. */
    assert_int_equal(chmod(path, 0600), 0);
}

static void
remove_named(const char *name)
{
    char path[160];

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    unlink(path);
}

/* Copy fmt into out with every "$D" replaced by the test directory. */
static void
expand_dir(const char *fmt, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = fmt; *p != '\0' && n + 1 < cap; p++) {
        if (p[0] == '$' && p[1] == 'D') {
            n += (size_t)snprintf(out + n, cap - n, "%s", test_dir);
            p++;
            continue;
        }
        out[n++] = *p;
    }
    assert_true(n + 1 < cap);
    out[n] = '\0';
}

static int
identity_setup(void **state)
{
    (void)state;
    write_named("jwks.json", jwks_public);
    write_named("secret.json", jwks_secret);
    write_named("keys", api_keys_file);
    write_named("pepper", pepper_file);
    return 0;
}

static int
identity_teardown(void **state)
{
    (void)state;
    remove_named("jwks.json");
    remove_named("secret.json");
    remove_named("keys");
    remove_named("pepper");
    return 0;
}

/* Lines 1 to 7: one good issuer. */
#define ID_HEAD                                                                \
    "identity:\n"                                                              \
    "  issuers:\n"                                                             \
    "    corp:\n"                                                              \
    "      issuer: \"https://idp.example.com/\"\n"                             \
    "      audiences: [orders-api]\n"                                          \
    "      keys:\n"                                                            \
    "        file: $D/jwks.json\n"

/* Lines 1 and 2 after the identity section: an upstream. */
#define ID_UPSTREAM                                                            \
    "upstreams:\n"                                                             \
    "  demo: {servers: [\"127.0.0.1:9000\"]}\n"

static struct config *
load_id_ok(const char *fmt)
{
    char text[4096];

    expand_dir(fmt, text, sizeof(text));
    return load_ok(text);
}

static void
load_id_bad(const char *fmt, struct config_errors *errs)
{
    char text[4096];

    expand_dir(fmt, text, sizeof(text));
    load_bad(text, errs);
}

static void
test_identity_defaults(void **state)
{
    struct config *c = load_ok(MINIMAL);

    (void)state;
    assert_int_equal(c->max_token_bytes, 8192);
    assert_int_equal(c->token_cache_entries, 10000);
    assert_int_equal(c->keys_startup_wait_ms, 10000);
    assert_int_equal(c->keys_wait_ms, 5000);
    assert_int_equal(c->nissuers, 0);
    assert_null(c->issuers);
    assert_null(c->api_keys);
    assert_null(c->routes[0].auth);
    config_unref(c);
}

static const char id_every_key[] =
    "identity:\n"
    "  max_token: 4k\n"
    "  token_cache: 0\n"
    "  startup_wait: 0s\n"
    "  key_wait: 2s\n"
    "  issuers:\n"
    "    corp:\n"
    "      issuer: \"https://idp.example.com/\"\n"
    "      audiences: [orders-api, billing]\n"
    "      algorithms: [ES256, RS256]\n"
    "      leeway: 5s\n"
    "      max_lifetime: 24h\n"
    "      require: [exp, sub, realm.tenant]\n"
    "      typ: application/at+jwt\n"
    "      roles_claim: realm_access.roles\n"
    "      keys: {file: $D/jwks.json}\n"
    "    remote:\n"
    "      issuer: \"https://login.example.net\"\n"
    "      audiences: [x]\n"
    "      keys: {discovery: \"https://login.example.net/.well-known/"
    "openid-configuration\"}\n"
    "      refresh: {min: 1m, max: 1h, unknown_kid: 10s, timeout: 2s}\n"
    "    local:\n"
    "      issuer: \"http://127.0.0.1:8000\"\n"
    "      audiences: [y]\n"
    "      keys: {url: \"http://127.0.0.1:8000/jwks\"}\n"
    "    hs:\n"
    "      issuer: hs-issuer\n"
    "      audiences: [z]\n"
    "      algorithms: [HS256]\n"
    "      keys: {file: $D/secret.json}\n"
    "  api_keys:\n"
    "    file: $D/keys\n"
    "    pepper_file: $D/pepper\n"
    "    revoked: [k1a2b3c4]\n"
    ID_UPSTREAM
    "routes:\n"
    "  - name: orders\n"
    "    path: /orders/{id}\n"
    "    upstream: demo\n"
    "    authz: {public: true}\n"
    "    auth:\n"
    "      methods: [jwt]\n"
    "      issuers: [corp, remote]\n"
    "      claims: {tenant: acme, realm.level: \"3\"}\n"
    "      authorization: keep\n"
    "      forward:\n"
    "        subject: X-Sub\n"
    "        issuer: \"\"\n"
    "        method: X-Method\n"
    "        scopes: X-Scopes\n"
    "        roles: X-Roles\n"
    "        consumer: X-Consumer\n"
    "        claims: X-Claims\n"
    "  - name: keys\n"
    "    path: /keys\n"
    "    upstream: demo\n"
    "    authz: {public: true}\n"
    "    auth: {methods: [api_key, jwt], api_key: {query: key}}\n"
    "  - name: default\n"
    "    path: /default\n"
    "    upstream: demo\n"
    "    authz: {public: true}\n"
    "    auth: {issuers: [corp]}\n";

static void
test_identity_every_key(void **state)
{
    struct config *c = load_id_ok(id_every_key);
    const struct config_issuer *iss = &c->issuers[0];
    const struct config_route_auth *ra = c->routes[0].auth;

    (void)state;
    assert_int_equal(c->max_token_bytes, 4096);
    assert_int_equal(c->token_cache_entries, 0);
    assert_int_equal(c->nissuers, 4);
    assert_string_equal(iss->name, "corp");
    assert_int_equal(iss->index, 0);
    assert_string_equal(iss->issuer, "https://idp.example.com/");
    assert_int_equal(iss->naudiences, 2);
    assert_string_equal(iss->audiences[1], "billing");
    assert_int_equal(iss->algorithms, (1u << JOSE_ES256) | (1u << JOSE_RS256));
    assert_int_equal(iss->leeway_ms, 5000);
    assert_int_equal(iss->max_lifetime_ms, 24 * 3600 * 1000);
    assert_int_equal(iss->nrequired, 3);
    assert_string_equal(iss->required[2], "realm.tenant");
    assert_string_equal(iss->typ, "application/at+jwt");
    assert_string_equal(iss->roles_claim, "realm_access.roles");
    assert_int_equal(iss->keys_kind, KEYS_FILE);
    assert_non_null(strstr(iss->keys_location, "/jwks.json"));
    assert_non_null(iss->keys);
    assert_int_equal(c->keys_startup_wait_ms, 0);
    assert_int_equal(c->keys_wait_ms, 2000);

    iss = &c->issuers[1];
    assert_int_equal(iss->index, 1);
    assert_int_equal(iss->keys_kind, KEYS_DISCOVERY);
    assert_int_equal(iss->refresh_min_ms, 60000);
    assert_int_equal(iss->refresh_max_ms, 3600000);
    assert_int_equal(iss->unknown_kid_ms, 10000);
    assert_int_equal(iss->fetch_timeout_ms, 2000);
    assert_non_null(iss->keys);
    assert_int_equal(c->issuers[2].keys_kind, KEYS_URL);
    assert_int_equal(c->issuers[3].algorithms, 1u << JOSE_HS256);
    assert_non_null(c->api_keys);

    assert_int_equal(ra->methods, AUTH_METHOD_JWT);
    assert_int_equal(ra->nissuers, 2);
    assert_ptr_equal(ra->issuers[1], &c->issuers[1]);
    assert_int_equal(ra->nclaims, 2);
    assert_string_equal(ra->claims[1].path, "realm.level");
    assert_string_equal(ra->claims[1].value, "3");
    assert_true(ra->keep_authorization);
    assert_string_equal(ra->fwd_subject, "X-Sub");
    assert_null(ra->fwd_issuer);
    assert_string_equal(ra->fwd_claims, "X-Claims");

    ra = c->routes[1].auth;
    assert_int_equal(ra->methods, AUTH_METHOD_JWT | AUTH_METHOD_API_KEY);
    assert_true(ra->api_key_in_query);
    assert_string_equal(ra->api_key_name, "key");
    config_unref(c);
}

/* An issuer and a route auth with nothing but what is required. */
static void
test_identity_issuer_defaults(void **state)
{
    struct config *c = load_id_ok(ID_HEAD ID_UPSTREAM
                                  "routes:\n"
                                  "  - {name: a, path: /, upstream: demo,\n"
                                  "     auth: {}, authz: {public: true}}\n");
    const struct config_issuer *iss = &c->issuers[0];
    const struct config_route_auth *ra = c->routes[0].auth;
    uint32_t hs = (1u << JOSE_HS256) | (1u << JOSE_HS384) |
                  (1u << JOSE_HS512);

    (void)state;
    assert_int_equal(iss->algorithms & hs, 0);
    for (int a = JOSE_ALG_UNKNOWN + 1; a < JOSE_ALG_COUNT; a++)
        assert_true((iss->algorithms & (1u << a)) || (hs & (1u << a)));
    assert_int_equal(iss->leeway_ms, 30000);
    assert_int_equal(iss->max_lifetime_ms, 0);
    assert_int_equal(iss->nrequired, 1);
    assert_string_equal(iss->required[0], "exp");
    assert_null(iss->typ);
    assert_string_equal(iss->roles_claim, "roles");
    assert_int_equal(iss->refresh_min_ms, 300000);
    assert_int_equal(iss->refresh_max_ms, 24 * 3600000);
    assert_int_equal(iss->unknown_kid_ms, 30000);
    assert_int_equal(iss->fetch_timeout_ms, 5000);

    assert_int_equal(ra->methods, AUTH_METHOD_JWT);
    assert_int_equal(ra->nissuers, 1);
    assert_ptr_equal(ra->issuers[0], iss);
    assert_int_equal(ra->nclaims, 0);
    assert_false(ra->api_key_in_query);
    assert_string_equal(ra->api_key_name, "X-API-Key");
    assert_false(ra->keep_authorization);
    assert_string_equal(ra->fwd_subject, "X-Auth-Subject");
    assert_string_equal(ra->fwd_issuer, "X-Auth-Issuer");
    assert_string_equal(ra->fwd_method, "X-Auth-Method");
    assert_string_equal(ra->fwd_scopes, "X-Auth-Scopes");
    assert_string_equal(ra->fwd_roles, "X-Auth-Roles");
    assert_string_equal(ra->fwd_consumer, "X-Auth-Consumer");
    assert_null(ra->fwd_claims);
    config_unref(c);
}

/*
 * The snapshot holds one reference on each key source: a file source
 * is read again whenever a configuration names it, and made anew once
 * the last snapshot naming it is gone.
 */
static void
test_identity_releases_sources(void **state)
{
    const char *text = ID_HEAD MINIMAL;
    struct keysource_stats st;
    struct config *a = load_id_ok(text);
    struct config *b = load_id_ok(text);

    (void)state;
    assert_ptr_equal(a->issuers[0].keys, b->issuers[0].keys);
    keysource_stats(b->issuers[0].keys, &st);
    assert_int_equal(st.fetches, 2);
    config_unref(a);
    config_unref(b);
    a = load_id_ok(text);
    keysource_stats(a->issuers[0].keys, &st);
    assert_int_equal(st.fetches, 1);
    config_unref(a);
}

/* Identity files with problems; "$D" stands for the test directory. */
static const struct bad_case bad_identity[] = {
    {"identity:\n  issuer: {}\n" MINIMAL,
     "2:3: identity: unknown key 'issuer' (expected one of: max_token, "
     "token_cache, startup_wait, key_wait, issuers, api_keys, "
     "introspection)"},
    {"identity:\n  key_wait: 10ms\n" MINIMAL,
     "2:13: identity.key_wait: '10ms' is out of range (100ms to 1m)"},
    {"identity:\n  max_token: 100\n" MINIMAL,
     "2:14: identity.max_token: '100' is out of range (256 to 1m)"},
    {"identity:\n  token_cache: -1\n" MINIMAL,
     "2:16: identity.token_cache: expected a whole number, got '-1'"},
    {"identity:\n  issuers: {}\n" MINIMAL,
     "2:12: identity.issuers: expected 1 to 64 issuers"},
    {ID_HEAD "      audience: [x]\n" MINIMAL,
     "8:7: identity.issuers.corp: unknown key 'audience' (expected one of: "
     "issuer, audiences, algorithms, leeway, max_lifetime, require, typ, "
     "roles_claim, keys, refresh)"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      keys: {file: $D/jwks.json}\n" MINIMAL,
     "4:7: identity.issuers.corp: missing required key 'audiences'"},
    {"identity:\n  issuers:\n    corp:\n      audiences: [a]\n"
     "      keys: {file: $D/jwks.json}\n" MINIMAL,
     "4:7: identity.issuers.corp: missing required key 'issuer'"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n" MINIMAL,
     "4:7: identity.issuers.corp: missing required key 'keys'"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: orders\n      keys: {file: $D/jwks.json}\n" MINIMAL,
     "5:18: identity.issuers.corp.audiences: expected a list, got a plain "
     "scalar"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: []\n      keys: {file: $D/jwks.json}\n" MINIMAL,
     "5:18: identity.issuers.corp.audiences: expected 1 to 32 entries"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a, a]\n      keys: {file: $D/jwks.json}\n" MINIMAL,
     "5:22: identity.issuers.corp.audiences: 'a' is listed twice"},
    {"identity:\n  issuers:\n    corp:\n      issuer: [x]\n"
     "      audiences: [a]\n      keys: {file: $D/jwks.json}\n" MINIMAL,
     "4:15: identity.issuers.corp.issuer: expected a string, got a list"},
    {"identity:\n  issuers:\n    co/rp:\n      issuer: x\n"
     "      audiences: [a]\n      keys: {file: $D/jwks.json}\n" MINIMAL,
     "3:5: identity.issuers: 'co/rp' may hold only letters, digits, '_', "
     "'-' and '.'"},
    {ID_HEAD "        url: \"https://idp.example.com/jwks\"\n" MINIMAL,
     "8:9: identity.issuers.corp.keys: give exactly one of file, url and "
     "discovery"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n      keys: {}\n" MINIMAL,
     "6:13: identity.issuers.corp.keys: expected one of file, url and "
     "discovery"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n      keys: {url: \"ftp://x/jwks\"}\n" MINIMAL,
     "6:19: identity.issuers.corp.keys.url: expected an https:// URL"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n"
     "      keys: {url: \"http://idp.example.com/jwks\"}\n" MINIMAL,
     "6:19: identity.issuers.corp.keys.url: plain http:// is accepted only "
     "for a loopback host; keys fetched in clear text could be replaced "
     "on the way"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n"
     "      keys: {discovery: \"https://u:p@idp.example.com/\"}\n" MINIMAL,
     "6:25: identity.issuers.corp.keys.discovery: a URL with user "
     "information is refused (it would be logged)"},
    {ID_HEAD "      algorithms: [RS256, none]\n" MINIMAL,
     "8:27: identity.issuers.corp.algorithms: 'none' is not an algorithm "
     "apiward verifies (RS256, RS384, RS512, PS256, PS384, PS512, ES256, "
     "ES384, ES512, EdDSA, HS256, HS384, HS512)"},
    {ID_HEAD "      algorithms: [RS256, RS256]\n" MINIMAL,
     "8:27: identity.issuers.corp.algorithms: RS256 is listed twice"},
    {ID_HEAD "      algorithms: [HS256, RS256]\n" MINIMAL,
     "8:19: identity.issuers.corp.algorithms: secret (HS*) and public-key "
     "algorithms cannot share an issuer; a public key could then be taken "
     "for an HMAC secret"},
    {ID_HEAD "      algorithms: []\n" MINIMAL,
     "8:19: identity.issuers.corp.algorithms: an empty list allows no "
     "token"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n      algorithms: [HS256]\n"
     "      keys: {url: \"https://x/jwks\"}\n" MINIMAL,
     "6:19: identity.issuers.corp.algorithms: HS* keys are secrets and can "
     "only come from keys.file"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n      keys:\n        file: $D/secret.json\n"
     MINIMAL,
     "7:15: identity.issuers.corp.keys.file: no key in the file serves the "
     "issuer's algorithms (secret keys need HS256, HS384 or HS512 listed "
     "under algorithms)"},
    {ID_HEAD "      algorithms: [PS256]\n" MINIMAL,
     "7:15: identity.issuers.corp.keys.file: no key in the file serves the "
     "issuer's algorithms (secret keys need HS256, HS384 or HS512 listed "
     "under algorithms)"},
    {ID_HEAD "      refresh: {min: 1m}\n" MINIMAL,
     "8:16: identity.issuers.corp.refresh: applies to url and discovery "
     "keys only"},
    {"identity:\n  issuers:\n    corp:\n      issuer: x\n"
     "      audiences: [a]\n      keys: {url: \"https://x/jwks\"}\n"
     "      refresh: {min: 1h, max: 1m}\n" MINIMAL,
     "7:16: identity.issuers.corp.refresh: min is larger than max"},
    {ID_HEAD "      refresh: {often: 1m}\n" MINIMAL,
     "8:17: identity.issuers.corp.refresh: unknown key 'often' (expected "
     "one of: min, max, unknown_kid, timeout)"},
    {ID_HEAD "      max_lifetime: 1h\n      require: []\n" MINIMAL,
     "8:21: identity.issuers.corp.max_lifetime: needs exp in require, or a "
     "token without exp would have no bound"},
    {ID_HEAD "      leeway: 1h\n" MINIMAL,
     "8:15: identity.issuers.corp.leeway: '1h' is out of range (0ms to "
     "10m)"},
    {ID_HEAD "      typ: \"a b\"\n" MINIMAL,
     "8:12: identity.issuers.corp.typ: expected a media type such as JWT"},
    {ID_HEAD "      roles_claim: a..b\n" MINIMAL,
     "8:20: identity.issuers.corp.roles_claim: 'a..b' is not a claim name "
     "or a dotted path of claim names"},
    {ID_HEAD "      require: [exp, .x]\n" MINIMAL,
     "8:22: identity.issuers.corp.require: '.x' is not a claim name or a "
     "dotted path of claim names"},
    {"identity:\n  api_keys:\n    file: $D/keys\n" MINIMAL,
     "3:5: identity.api_keys: missing required key 'pepper_file'"},
    {"identity:\n  api_keys:\n    file: $D/keys\n    pepper_file: $D/pepper\n"
     "    revoked: [\"a b\"]\n" MINIMAL,
     "5:15: identity.api_keys.revoked: 'a b' is not a key id"},
};

/* The same problems in routes[].auth, after an identity and upstream. */
#define AUTH_ROUTE(auth)                                                       \
    ID_HEAD ID_UPSTREAM "routes:\n  - {name: a, path: /, upstream: demo,\n"    \
                        "     auth: " auth ", authz: {public: true}}\n"

static const struct bad_case bad_auth[] = {
    {AUTH_ROUTE("{issuers: [nope]}"),
     "12:23: routes[0].auth.issuers: no issuer is named 'nope' under "
     "identity.issuers"},
    {AUTH_ROUTE("{issuers: [corp, corp]}"),
     "12:29: routes[0].auth.issuers: corp is listed twice"},
    {AUTH_ROUTE("{methods: []}"),
     "12:22: routes[0].auth.methods: an empty list accepts no caller; leave "
     "auth out for a route without authentication"},
    {AUTH_ROUTE("{methods: [jwt, oauth]}"),
     "12:28: routes[0].auth.methods: 'oauth' is not one of: jwt, api_key, "
     "introspection, mtls"},
    {AUTH_ROUTE("{methods: [api_key]}"),
     "12:22: routes[0].auth.methods: api_key needs identity.api_keys"},
    {AUTH_ROUTE("{methods: [api_key], issuers: [corp]}"),
     "12:42: routes[0].auth.issuers: the route does not take jwt"},
    {AUTH_ROUTE("{methods: [jwt, api_key], claims: {a: b}}"),
     "12:46: routes[0].auth.claims: claims are checked on tokens only; on a "
     "route that takes API keys a key would bypass them"},
    {AUTH_ROUTE("{api_key: {header: X-K}}"),
     "12:22: routes[0].auth.api_key: the route does not take api_key"},
    {AUTH_ROUTE("{methods: [api_key], api_key: {header: X-K, query: k}}"),
     "12:42: routes[0].auth.api_key: give exactly one of header and query"},
    {AUTH_ROUTE("{methods: [api_key], api_key: {query: \"k&x\"}}"),
     "12:50: routes[0].auth.api_key.query: 'k&x' may hold only letters, "
     "digits, '-', '.', '_' and '~'"},
    {AUTH_ROUTE("{forward: {subject: Authorization}}"),
     "12:32: routes[0].auth.forward.subject: the gateway does not let "
     "'Authorization' be used here"},
    {AUTH_ROUTE("{forward: {subject: X-A, roles: x-a}}"),
     "12:22: routes[0].auth.forward: header 'x-a' is used twice"},
    {AUTH_ROUTE("{forward: {subject: \"X A\"}}"),
     "12:32: routes[0].auth.forward.subject: 'X A' is not a valid header "
     "name"},
    {AUTH_ROUTE("{forward: {claims: [a]}}"),
     "12:31: routes[0].auth.forward.claims: expected a string, got a list"},
    {AUTH_ROUTE("{authorization: drop}"),
     "12:28: routes[0].auth.authorization: 'drop' is not one of: strip, "
     "keep"},
    {AUTH_ROUTE("{claims: {tenant: [a]}}"),
     "12:30: routes[0].auth.claims: expected a string, got a list"},
    {AUTH_ROUTE("{claims: {a..b: c}}"),
     "12:22: routes[0].auth.claims: 'a..b' is not a claim name or a dotted "
     "path of claim names"},
    {AUTH_ROUTE("{claim: {a: b}}"),
     "12:13: routes[0].auth: unknown key 'claim' (expected one of: methods, "
     "issuers, claims, api_key, authorization, require_cert_binding, "
     "forward)"},
    {AUTH_ROUTE("jwt"),
     "12:12: routes[0].auth: expected a mapping, got a plain scalar"},
    {ID_UPSTREAM "routes:\n  - {name: a, path: /, upstream: demo, auth: {}, authz: {public: true}}\n",
     "4:46: routes[0].auth: jwt needs an issuer under identity.issuers"},
    {ID_HEAD "    again:\n      issuer: \"https://idp.example.com/\"\n"
     "      audiences: [other]\n      keys: {file: $D/jwks.json}\n"
     ID_UPSTREAM "routes:\n  - {name: a, path: /, upstream: demo, auth: {}, authz: {public: true}}\n",
     "15:46: routes[0].auth: issuers corp and again have the same issuer, "
     "so a token could not tell them apart; list one"},
};

static void
test_identity_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad_identity); i++) {
        struct config_errors errs;

        load_id_bad(bad_identity[i].head, &errs);
        expect_error(&errs, bad_identity[i].want);
    }
    for (size_t i = 0; i < ARRAY_LEN(bad_auth); i++) {
        struct config_errors errs;

        load_id_bad(bad_auth[i].head, &errs);
        expect_error(&errs, bad_auth[i].want);
    }
}

/* Files the loader reads are reported at the key that names them. */
static void
test_identity_bad_files(void **state)
{
    struct config_errors errs;

    (void)state;
    load_id_bad("identity:\n  issuers:\n    corp:\n      issuer: x\n"
                "      audiences: [a]\n      keys:\n"
                "        file: $D/absent.json\n" MINIMAL,
                &errs);
    expect_error_part(&errs, "7:15: ", "identity.issuers.corp.keys.file: ");
    assert_int_equal(errs.n, 1);
    /* A relative path is taken from the directory of the file. */
    load_id_bad("identity:\n  issuers:\n    corp:\n      issuer: x\n"
                "      audiences: [a]\n      keys:\n"
                "        file: absent.json\n" MINIMAL,
                &errs);
    expect_error_part(&errs, "7:15: ", "identity.issuers.corp.keys.file: ");
    assert_int_equal(errs.n, 1);
    load_id_bad("identity:\n  api_keys:\n    file: $D/absent\n"
                "    pepper_file: $D/pepper\n" MINIMAL,
                &errs);
    expect_error_part(&errs, "3:11: ", "identity.api_keys.file: ");
    load_id_bad("identity:\n  api_keys:\n    file: $D/keys\n"
                "    pepper_file: $D/absent\n" MINIMAL,
                &errs);
    expect_error_part(&errs, "3:11: ", "identity.api_keys.file: ");
    /* A broken issuer does not add a misleading problem on its route. */
    load_id_bad("identity:\n  issuers:\n    corp:\n      issuer: x\n"
                "      audiences: a\n      keys: {file: $D/jwks.json}\n"
                ID_UPSTREAM
                "routes:\n  - {name: a, path: /, upstream: demo, auth: "
                "{issuers: [corp]}, authz: {public: true}}\n",
                &errs);
    assert_int_equal(errs.n, 1);
}

/* Relative key and API key paths name files beside the configuration. */
static void
test_identity_relative_paths(void **state)
{
    char text[4096], want[4096 + 16];
    char *dir = realpath(test_dir, NULL);
    struct config *c;

    (void)state;
    assert_non_null(dir);
    snprintf(want, sizeof(want), "%s/jwks.json", dir);
    free(dir);
    expand_dir("identity:\n  issuers:\n    corp:\n      issuer: x\n"
               "      audiences: [a]\n      keys: {file: jwks.json}\n"
               "  api_keys: {file: keys, pepper_file: ./pepper}\n" MINIMAL,
               text, sizeof(text));
    c = load_ok(text);
    assert_string_equal(c->issuers[0].keys_location, want);
    assert_non_null(c->api_keys);
    config_unref(c);
}

/* ------------------------------------------------------------------ */
/* contracts                                                           */
/* ------------------------------------------------------------------ */

/* A small OpenAPI document next to the configuration file. */
static char contract_doc[128];

static int
contract_setup(void **state)
{
    static const char doc[] =
        "{\"openapi\": \"3.0.3\", \"info\": {\"title\": \"t\", "
        "\"version\": \"1\"}, \"paths\": {\"/pets\": {\"get\": "
        "{\"responses\": {\"200\": {\"description\": \"ok\"}}}}}}";
    FILE *f;

    (void)state;
    snprintf(contract_doc, sizeof(contract_doc), "%s/api.json", test_dir);
    f = fopen(contract_doc, "w");
    if (f == NULL)
        return -1;
    fputs(doc, f);
    return fclose(f);
}

static int
contract_teardown(void **state)
{
    (void)state;
    unlink(contract_doc);
    return 0;
}

#define CONTRACT_ROUTES                                                        \
    "upstreams:\n"                                                             \
    "  demo:\n"                                                                \
    "    servers: [\"127.0.0.1:9000\"]\n"                                      \
    "routes:\n"                                                                \
    "  - name: all\n"                                                          \
    "    path: /\n"                                                            \
    "    prefix: true\n"                                                       \
    "    upstream: demo\n"                                                     \
    "    authz: {public: true}\n"                                              \
    "    contract: api\n"

/* Every key, a relative document path, and the route's reference. */
static void
test_contract_every_key(void **state)
{
    static const char text[] =
        "contracts:\n"
        "  - name: api\n"
        "    openapi: api.json\n"
        "    base_path: /v1\n"
        "    strict: false\n"
        "    unknown_query: allow\n"
        "    deprecated: block\n"
        "    responses: filter\n"
        "    max_response_buffer: 64k\n"
        "    mode: monitor\n"
        "    max_errors: 3\n"
        "    json: {max_depth: 5, max_string: 1k, max_members: 7,\n"
        "           max_items: 9, max_number: 11}\n" CONTRACT_ROUTES;
    struct config_errors errs;
    struct config *c = NULL;
    const struct config_contract *ct;

    (void)state;
    if (load(text, &c, &errs) != AW_OK)
        config_errors_print(&errs, stderr);
    assert_non_null(c);
    assert_int_equal(c->ncontracts, 1);
    ct = &c->contracts[0];
    assert_string_equal(ct->name, "api");
    assert_string_equal(ct->openapi, contract_doc);
    assert_string_equal(ct->base_path, "/v1");
    assert_false(ct->strict);
    assert_false(ct->refuse_unknown_query);
    assert_true(ct->block_deprecated);
    assert_int_equal(ct->responses, RESPONSES_FILTER);
    assert_int_equal(ct->max_response_buffer, 64 * 1024);
    assert_true(ct->monitor);
    assert_int_equal(ct->max_errors, 3);
    assert_int_equal(ct->json.max_depth, 5);
    assert_int_equal(ct->json.max_string, 1024);
    assert_int_equal(ct->json.max_members, 7);
    assert_int_equal(ct->json.max_items, 9);
    assert_int_equal(ct->json.max_number, 11);
    assert_non_null(ct->api);
    assert_ptr_equal(c->routes[0].contract, ct);
    config_unref(c);
}

/* The defaults: a positive model that blocks, responses not read. */
static void
test_contract_defaults(void **state)
{
    static const char text[] =
        "contracts:\n"
        "  - {name: api, openapi: api.json}\n" CONTRACT_ROUTES;
    struct config_errors errs;
    struct config *c = NULL;
    const struct config_contract *ct;

    (void)state;
    assert_int_equal(load(text, &c, &errs), AW_OK);
    ct = &c->contracts[0];
    assert_null(ct->base_path);
    assert_true(ct->strict);
    assert_true(ct->refuse_unknown_query);
    assert_false(ct->block_deprecated);
    assert_int_equal(ct->responses, RESPONSES_OFF);
    assert_int_equal(ct->max_response_buffer, 1024 * 1024);
    assert_false(ct->monitor);
    assert_int_equal(ct->json.max_depth, 32);
    config_unref(c);
}

/* Each mistake is reported at its position, naming the key. */
static void
test_contract_bad(void **state)
{
    static const struct {
        const char *text;
        const char *pos;
        const char *part;
    } bad[] = {
        {"contracts:\n  - {name: api, openapi: api.json, "
         "responses: drop}\n" CONTRACT_ROUTES, "2:", "not one of: off, log"},
        {"contracts:\n  - {name: api, openapi: api.json, "
         "base_path: v1/}\n" CONTRACT_ROUTES, "2:", "base path starts"},
        {"contracts:\n  - {name: api, openapi: none.json}\n" CONTRACT_ROUTES,
         "2:", "none.json"},
        {"contracts:\n  - {name: api, openapi: api.json}\n"
         "  - {name: api, openapi: api.json}\n" CONTRACT_ROUTES, "3:",
         "is the name of contracts[0]"},
        {"contracts:\n  - {name: other, openapi: api.json}\n"
         CONTRACT_ROUTES, "12:", "no contract is named 'api'"},
        {"contracts:\n  - {name: api, openapi: api.json, "
         "json: {max_depth: 0}}\n" CONTRACT_ROUTES, "2:", "max_depth"},
        {"contracts:\n  - {name: api}\n" CONTRACT_ROUTES, "2:", "openapi"},
    };
    struct config_errors errs;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        load_bad(bad[i].text, &errs);
        expect_error_part(&errs, bad[i].pos, bad[i].part);
    }
}

#define INSPECT_ROUTES                                                        \
    "upstreams: {demo: {servers: [\"127.0.0.1:9000\"]}}\n"                    \
    "routes:\n"                                                               \
    "  - {name: a, path: /a, upstream: demo, authz: {public: true}}\n"        \
    "  - {name: b, path: /b, upstream: demo, authz: {public: true},\n"        \
    "     inspect: {mode: log, detectors: [sqli], headers: [X-Api],\n"        \
    "               allow: [{location: \"query:q\", detectors: [xss]}]}}\n"   \
    "  - {name: c, path: /c, upstream: demo, authz: {public: true},\n"        \
    "     inspect: off}\n"                                                    \
    "  - {name: d, path: /d, upstream: demo, authz: {public: true},\n"        \
    "     inspect: {threshold: 120}}\n"

/* Without any block no route is inspected. */
static void
test_inspect_absent(void **state)
{
    struct config *c = load_ok(
        "upstreams: {demo: {servers: [\"127.0.0.1:9000\"]}}\n"
        "routes: [{name: a, path: /a, upstream: demo, "
        "authz: {public: true}}]\n");

    (void)state;
    assert_null(c->inspect);
    assert_null(c->routes[0].inspect);
    config_unref(c);
}

/* The top block's defaults; routes override key by key or turn it off. */
static void
test_inspect_override(void **state)
{
    struct config *c = load_ok("inspect: {cookies: false}\n" INSPECT_ROUTES);
    const struct config_inspect *a, *b, *d;

    (void)state;
    a = c->routes[0].inspect;
    b = c->routes[1].inspect;
    d = c->routes[3].inspect;
    assert_ptr_equal(a, c->inspect);
    assert_false(a->monitor);
    assert_int_equal(a->threshold, 50);
    assert_int_equal(a->decode_rounds, 3);
    assert_int_equal(a->max_values, 1000);
    assert_false(a->cookies);
    assert_int_equal(a->nheaders, 2);
    assert_string_equal(a->headers[0], "user-agent");
    assert_int_equal(a->ssrf.nschemes, 2);
    assert_non_null(a->db);
    assert_true(b->monitor);
    assert_int_equal(b->detectors, INSPECT_SQLI);
    assert_false(b->cookies);
    assert_int_equal(b->nheaders, 1);
    assert_string_equal(b->headers[0], "x-api");
    assert_int_equal(b->nallow, 1);
    assert_int_equal(b->allow[0].at, INSPECT_AT_QUERY);
    assert_int_equal(b->allow[0].name_len, 1);
    assert_int_equal(b->allow[0].detectors, INSPECT_XSS);
    assert_null(c->routes[2].inspect);
    assert_int_equal(d->threshold, 120);
    assert_ptr_equal(d->db, a->db);
    assert_int_equal(c->ninspect_dbs, 2);
    config_unref(c);
}

/* SSRF lists: internal names follow the defaults. */
static void
test_inspect_ssrf(void **state)
{
    struct config *c = load_ok(
        "inspect:\n"
        "  ssrf: {schemes: [https], internal_names: [\"*.corp.example\"],\n"
        "         parameters: [callback], pointers: [/webhook/url]}\n"
        INSPECT_ROUTES);
    const struct config_inspect *a = c->inspect;
    struct inspect_ssrf_opts def;

    (void)state;
    inspect_ssrf_opts_default(&def);
    assert_int_equal(a->ssrf.nschemes, 1);
    assert_string_equal(a->ssrf.schemes[0], "https");
    assert_int_equal(a->ssrf.ninternal, def.ninternal + 1);
    assert_string_equal(a->ssrf.internal[def.ninternal], "*.corp.example");
    assert_string_equal(a->ssrf_params[0], "callback");
    assert_string_equal(a->ssrf_pointers[0], "/webhook/url");
    config_unref(c);
}

/* Locations of allow entries. */
static void
test_inspect_locations(void **state)
{
    static const struct {
        const char *text;
        int ok;
        enum config_inspect_where at;
        const char *name;
    } cases[] = {
        {"path", 1, INSPECT_AT_PATH, NULL},
        {"path:2", 1, INSPECT_AT_PATH, "2"},
        {"path:0", 0, INSPECT_AT_PATH, NULL},
        {"path:x", 0, INSPECT_AT_PATH, NULL},
        {"query:q", 1, INSPECT_AT_QUERY, "q"},
        {"query:a:b", 1, INSPECT_AT_QUERY, "a:b"},
        {"query:", 0, INSPECT_AT_QUERY, NULL},
        {"header:User-Agent", 1, INSPECT_AT_HEADER, "User-Agent"},
        {"cookie:prefs", 1, INSPECT_AT_COOKIE, "prefs"},
        {"form:comment", 1, INSPECT_AT_FORM, "comment"},
        {"json:/a/b", 1, INSPECT_AT_JSON, "/a/b"},
        {"json:a", 0, INSPECT_AT_JSON, NULL},
        {"json", 1, INSPECT_AT_JSON, NULL},
        {"xml", 1, INSPECT_AT_XML, NULL},
        {"xml:x", 0, INSPECT_AT_XML, NULL},
        {"body:x", 0, INSPECT_AT_JSON, NULL},
        {"queryx:q", 0, INSPECT_AT_QUERY, NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_inspect_allow a;
        const char *why = NULL;
        const char *t = cases[i].text;
        int rc = config_inspect_location(t, strlen(t), &a, &why);

        assert_int_equal(rc == AW_OK, cases[i].ok);
        if (!cases[i].ok) {
            assert_non_null(why);
            continue;
        }
        assert_int_equal(a.at, cases[i].at);
        if (cases[i].name == NULL) {
            assert_null(a.name);
            continue;
        }
        assert_int_equal(a.name_len, strlen(cases[i].name));
        assert_memory_equal(a.name, cases[i].name, a.name_len);
    }
}

/* Which detectors allow entries turn off where. */
static void
test_inspect_allowed(void **state)
{
    struct config *c = load_ok(
        "inspect:\n"
        "  allow:\n"
        "    - {location: \"query:q\", detectors: [xss]}\n"
        "    - {location: \"query:q\", detectors: [sqli]}\n"
        "    - {location: \"json:/bio\"}\n"
        "    - {location: \"header:Referer\", detectors: [sqli]}\n"
        "    - {location: \"path:2\", detectors: [traversal]}\n"
        "    - {location: cookie, detectors: [cmdi]}\n"
        "    - {location: xml, detectors: [xxe]}\n"
        INSPECT_ROUTES);
    const struct config_inspect *in = c->inspect;
    const unsigned all = INSPECT_ALL;

    (void)state;
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_QUERY,
                                            SLICE_LIT("q"), 0),
                     INSPECT_XSS | INSPECT_SQLI);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_QUERY,
                                            SLICE_LIT("Q"), 0), 0);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_FORM,
                                            SLICE_LIT("q"), 0), 0);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_JSON,
                                            SLICE_LIT("/bio"), 0), all);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_JSON,
                                            SLICE_LIT("/bio/0/x"), 0), all);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_JSON,
                                            SLICE_LIT("/biography"), 0), 0);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_JSON,
                                            SLICE_LIT("/bi"), 0), 0);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_HEADER,
                                            SLICE_LIT("referer"), 0),
                     INSPECT_SQLI);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_PATH,
                                            SLICE_NULL, 2),
                     INSPECT_TRAVERSAL);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_PATH,
                                            SLICE_NULL, 0), 0);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_XML, SLICE_NULL,
                                            0),
                     INSPECT_XXE);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_PATH,
                                            SLICE_NULL, 12), 0);
    assert_int_equal(config_inspect_allowed(in, INSPECT_AT_COOKIE,
                                            SLICE_LIT("any"), 0),
                     INSPECT_CMDI);
    config_unref(c);
}

/* Each mistake is reported at its position, naming the key. */
static void
test_inspect_bad(void **state)
{
    static const struct {
        const char *text;
        const char *pos;
        const char *part;
    } bad[] = {
        {"inspect: {mode: maybe}\n" INSPECT_ROUTES, "1:17",
         "inspect.mode"},
        {"inspect: {detectors: [sqli, rce]}\n" INSPECT_ROUTES, "1:29",
         "unknown detector 'rce'"},
        {"inspect: {detectors: []}\n" INSPECT_ROUTES, "1:", "mode: off"},
        {"inspect: {decode_rounds: 9}\n" INSPECT_ROUTES, "1:",
         "inspect.decode_rounds: 9 is out of range (1 to 8)"},
        {"inspect: {threshold: 0}\n" INSPECT_ROUTES, "1:",
         "inspect.threshold"},
        {"inspect: {max_values: 0}\n" INSPECT_ROUTES, "1:",
         "inspect.max_values"},
        {"inspect: {headers: [\"a b\"]}\n" INSPECT_ROUTES, "1:",
         "not a header field name"},
        {"inspect: {allow: [{location: \"body:x\"}]}\n" INSPECT_ROUTES, "1:",
         "inspect.allow[0].location"},
        {"inspect: {allow: [{detectors: [xss]}]}\n" INSPECT_ROUTES, "1:",
         "missing required key 'location'"},
        {"inspect: {ssrf: {pointers: [webhook]}}\n" INSPECT_ROUTES, "1:",
         "not a JSON pointer"},
        {"inspect: {ssrf: {schemes: [HTTP]}}\n" INSPECT_ROUTES, "1:",
         "not a lower-case URL scheme"},
        {"inspect: {ssrf: {internal_names: [\"*.\"]}}\n" INSPECT_ROUTES, "1:",
         "inspect.ssrf.internal_names"},
        {"inspect: {bogus: 1}\n" INSPECT_ROUTES, "1:",
         "inspect: unknown key 'bogus'"},
        {"inspect: {responses: 3}\n" INSPECT_ROUTES, "1:",
         "inspect.responses"},
        {"inspect: on\n" INSPECT_ROUTES, "1:", "inspect"},
    };
    struct config_errors errs;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        load_bad(bad[i].text, &errs);
        expect_error_part(&errs, bad[i].pos, bad[i].part);
    }
}

/*
 * inspect.responses: the top-level block is every route's, a route's
 * overrides it key by key, "mode: off" leaves it on and "inspect: off"
 * turns it off; each set of kinds is compiled once.
 */
static void
test_inspect_responses(void **state)
{
    struct config *c = load_ok(
        "inspect: {mode: off, responses: {sensitive: log}}\n"
        "upstreams: {demo: {servers: [\"127.0.0.1:9000\"]}}\n"
        "routes:\n"
        "  - {name: a, path: /a, upstream: demo, authz: {public: true}}\n"
        "  - {name: b, path: /b, upstream: demo, authz: {public: true},\n"
        "     inspect: {responses: {sensitive: mask, kinds: [card, iban],\n"
        "                           max_body: 64k}}}\n"
        "  - {name: c, path: /c, upstream: demo, authz: {public: true},\n"
        "     inspect: off}\n"
        "  - {name: d, path: /d, upstream: demo, authz: {public: true},\n"
        "     inspect: {responses: {sensitive: block}}}\n"
        "  - {name: e, path: /e, upstream: demo, authz: {public: true},\n"
        "     inspect: {responses: {sensitive: 'off'}}}\n");
    const struct config_sensitive *a = c->routes[0].sensitive;
    const struct config_sensitive *b = c->routes[1].sensitive;
    const struct config_sensitive *d = c->routes[3].sensitive;

    (void)state;
    assert_null(c->routes[0].inspect);
    assert_non_null(a);
    assert_int_equal(a->mode, SENSITIVE_LOG);
    assert_int_equal(a->kinds, INSPECT_SENS_ALL);
    assert_int_equal(a->max_body, 1024 * 1024);
    assert_non_null(b);
    assert_int_equal(b->mode, SENSITIVE_MASK);
    assert_int_equal(b->kinds, INSPECT_SENS_CARD | INSPECT_SENS_IBAN);
    assert_int_equal(b->max_body, 64 * 1024);
    assert_int_equal(inspect_sensitive_db_kinds(b->db), b->kinds);
    assert_null(c->routes[2].sensitive);
    assert_int_equal(d->mode, SENSITIVE_BLOCK);
    assert_ptr_equal(d->db, a->db);
    assert_null(c->routes[4].sensitive);
    assert_int_equal(c->nsensitive_dbs, 2);
    config_unref(c);
}

static void
test_inspect_responses_bad(void **state)
{
    static const struct {
        const char *text;
        const char *part;
    } bad[] = {
        {"inspect: {responses: {sensitive: shout}}\n" INSPECT_ROUTES,
         "inspect.responses.sensitive"},
        {"inspect: {responses: {kinds: [card, passport]}}\n" INSPECT_ROUTES,
         "passport"},
        {"inspect: {responses: {kinds: []}}\n" INSPECT_ROUTES,
         "sensitive: off"},
        {"inspect: {responses: {max_body: 65m}}\n" INSPECT_ROUTES,
         "inspect.responses.max_body"},
        {"inspect: {responses: {mask: true}}\n" INSPECT_ROUTES,
         "unknown key 'mask'"},
    };
    struct config_errors errs;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        load_bad(bad[i].text, &errs);
        expect_error_part(&errs, "1:", bad[i].part);
    }
}

/* "apiward proxy --inspect": every detector in block mode. */
static void
test_inspect_for_proxy(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;
    const struct config_inspect *in;

    (void)state;
    assert_int_equal(config_for_proxy_inspect("127.0.0.1:8080",
                                              "http://127.0.0.1:9000", NULL,
                                              NULL, true, &c, &errs),
                     AW_OK);
    in = c->routes[0].inspect;
    assert_non_null(in);
    assert_false(in->monitor);
    assert_int_equal(in->detectors, INSPECT_ALL);
    assert_non_null(in->db);
    assert_non_null(c->routes[0].sensitive);
    assert_int_equal(c->routes[0].sensitive->mode, SENSITIVE_LOG);
    assert_non_null(c->routes[0].sensitive->db);
    config_unref(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_upstream_and_route),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_every_key_upstreams_routes),
        cmocka_unit_test(test_route_table_data),
        cmocka_unit_test(test_security_headers_empty),
        cmocka_unit_test(test_target_follows_head),
        cmocka_unit_test(test_single_quoted),
        cmocka_unit_test(test_value_bounds),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_syntax_error_position),
        cmocka_unit_test(test_route_conflicts),
        cmocka_unit_test(test_route_bad_template),
        cmocka_unit_test(test_collects_all),
        cmocka_unit_test(test_errors_dropped),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_load_string),
        cmocka_unit_test(test_admin_section),
        cmocka_unit_test(test_events_syslog),
        cmocka_unit_test(test_events_detectors),
        cmocka_unit_test(test_generation_increases),
        cmocka_unit_test(test_ref_and_swap),
        cmocka_unit_test(test_swap_threads),
        cmocka_unit_test(test_trusted_proxies),
        cmocka_unit_test(test_trusted_proxies_wide),
        cmocka_unit_test(test_for_proxy),
        cmocka_unit_test(test_for_proxy_urls),
        cmocka_unit_test(test_for_proxy_errors),
        cmocka_unit_test(test_identity_defaults),
        cmocka_unit_test_setup_teardown(test_identity_every_key,
                                        identity_setup, identity_teardown),
        cmocka_unit_test_setup_teardown(test_identity_issuer_defaults,
                                        identity_setup, identity_teardown),
        cmocka_unit_test_setup_teardown(test_identity_releases_sources,
                                        identity_setup, identity_teardown),
        cmocka_unit_test_setup_teardown(test_identity_bad, identity_setup,
                                        identity_teardown),
        cmocka_unit_test_setup_teardown(test_identity_bad_files,
                                        identity_setup, identity_teardown),
        cmocka_unit_test_setup_teardown(test_identity_relative_paths,
                                        identity_setup, identity_teardown),
        cmocka_unit_test_setup_teardown(test_contract_every_key,
                                        contract_setup, contract_teardown),
        cmocka_unit_test_setup_teardown(test_contract_defaults,
                                        contract_setup, contract_teardown),
        cmocka_unit_test_setup_teardown(test_contract_bad, contract_setup,
                                        contract_teardown),
        cmocka_unit_test(test_inspect_absent),
        cmocka_unit_test(test_inspect_override),
        cmocka_unit_test(test_inspect_ssrf),
        cmocka_unit_test(test_inspect_locations),
        cmocka_unit_test(test_inspect_allowed),
        cmocka_unit_test(test_inspect_bad),
        cmocka_unit_test(test_inspect_responses),
        cmocka_unit_test(test_inspect_responses_bad),
        cmocka_unit_test(test_inspect_for_proxy),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
