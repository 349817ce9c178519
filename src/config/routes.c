/*
 * Upstreams and routes: the two required sections, the references
 * between them, and the compilation of the route table.
 *
 * route_table_new reports a problem as one sentence without a position.
 * To point at the offending route anyway, a failed compilation is
 * repeated on growing prefixes of the route list: the shortest prefix
 * that fails ends with the culprit, because adding routes never makes a
 * bad table good. The culprit is set aside and the search runs again,
 * so every conflict in the file is reported, not only the first.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "config/internal.h"

#define ROUTES_MAX_UPSTREAMS 1024
#define ROUTES_MAX_ROUTES 10000
#define ROUTES_MAX_SERVERS 64
#define ROUTES_NAME_MAX 64
#define ROUTES_PATH_MAX 1024
#define ROUTES_HOST_MAX 253
#define ROUTES_METHOD_MAX 32
#define ROUTES_WHERE_MAX 160
#define HOUR_MS ((uint64_t)3600 * 1000)

void
config_upstream_defaults(struct config_upstream *u)
{
    u->balance = BALANCE_ROUND_ROBIN;
    u->connect_timeout_ms = 2000;
    u->read_timeout_ms = 30000;
    u->write_timeout_ms = 30000;
    u->keepalive = 64;
    u->keepalive_timeout_ms = 60000;
    u->max_fails = 3;
    u->fail_timeout_ms = 10000;
    u->retry_idempotent = true;
}

/*
 * Names of upstreams, routes and issuers appear in logs and metric
 * labels, so they are kept to letters, digits, '_', '-' and '.'.
 */
int
config_check_name(struct config_loader *ld, const struct config_node *v,
                  const char *where)
{
    char q[96];

    for (size_t i = 0; i < v->len; i++) {
        char ch = v->text[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              ch == '.')) {
            config_error(ld, v,
                         "%s: '%s' may hold only letters, digits, "
                         "'_', '-' and '.'",
                         where, config_node_quote(v, q, sizeof(q)));
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/*
 * The name is copied even when it is refused: a name that stays
 * registered keeps every reference to it from adding a second,
 * misleading problem.
 */
int
config_entry_name(struct config_loader *ld, const struct config_node *k,
                  size_t max, const char *what, const char *where, char **name)
{
    int rc;

    if (k->len == 0 || k->len > max) {
        config_error(ld, k, "%s: %s name has 1 to %zu characters", where, what,
                     max);
        rc = AW_INVALID;
    } else {
        rc = config_check_name(ld, k, where);
    }
    *name = config_strdup(ld, k->text, k->len);
    return *name != NULL ? rc : AW_NOMEM;
}

/* upstreams.NAME.servers: dst is the upstream itself (offset 0). */
static int
routes_servers(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    struct config_upstream *u = dst;

    (void)f;
    return config_parse_addr_list(ld, v, ROUTES_MAX_SERVERS, where, &u->servers,
                                  &u->nservers);
}

/* As in schema.c, with offsets into struct config_upstream or route. */
#define FIELD(k, fn, type, member, lo, hi)                                     \
    {                                                                          \
        .key = (k), .parse = (fn), .offset = offsetof(type, member),           \
        .size = sizeof(((type *)0)->member), .min = (lo), .max = (hi)          \
    }
#define UPSTREAM_MS(k, member)                                                 \
    FIELD(k, config_parse_duration, struct config_upstream, member, 1, HOUR_MS)

static const struct config_field routes_upstream_schema[] = {
    {.key = "servers", .parse = routes_servers, .required = true},
    FIELD("balance", config_parse_balance, struct config_upstream, balance, 0,
          0),
    UPSTREAM_MS("connect_timeout", connect_timeout_ms),
    UPSTREAM_MS("read_timeout", read_timeout_ms),
    UPSTREAM_MS("write_timeout", write_timeout_ms),
    FIELD("keepalive", config_parse_uint, struct config_upstream, keepalive, 0,
          10000),
    UPSTREAM_MS("keepalive_timeout", keepalive_timeout_ms),
    FIELD("max_fails", config_parse_uint, struct config_upstream, max_fails, 0,
          1000),
    UPSTREAM_MS("fail_timeout", fail_timeout_ms),
    FIELD("retry_idempotent", config_parse_bool, struct config_upstream,
          retry_idempotent, 0, 1),
    FIELD("max_in_flight", config_parse_uint, struct config_upstream,
          max_in_flight, 0, 1000000),
    {.key = "tls", .parse = config_parse_upstream_tls,
     .offset = offsetof(struct config_upstream, tls)},
    {.key = NULL},
};

/*
 * Parse one upstream. Its name is registered even when its settings are
 * wrong, so that routes naming it do not add a second, misleading
 * "unknown upstream" problem.
 */
static int
routes_upstream_one(struct config_loader *ld, const struct config_node *k,
                    struct config_upstream *u, const char *where)
{
    char path[ROUTES_WHERE_MAX], q[96];
    int rc = config_entry_name(ld, k, ROUTES_NAME_MAX, "an upstream", where,
                               &u->name);

    if (rc == AW_NOMEM)
        return rc;
    config_upstream_defaults(u);
    snprintf(path, sizeof(path), "%s.%s", where,
             config_node_quote(k, q, sizeof(q)));
    if (config_walk_map(ld, k->value, routes_upstream_schema, u, path) != AW_OK)
        rc = ld->nomem ? AW_NOMEM : AW_INVALID;
    return rc;
}

int
config_parse_upstreams(struct config_loader *ld, const struct config_node *v,
                       void *dst, const struct config_field *f,
                       const char *where)
{
    struct config *c = ld->c;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_MAP, 1,
                                   ROUTES_MAX_UPSTREAMS, "upstreams", where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    c->upstreams = config_alloc(ld, v->n * sizeof(*c->upstreams));
    if (c->upstreams == NULL)
        return AW_NOMEM;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        struct config_upstream *u = &c->upstreams[c->nupstreams];
        int one;

        if (k->dup)
            continue;
        u->index = (unsigned)c->nupstreams;
        one = routes_upstream_one(ld, k, u, where);
        if (one == AW_NOMEM)
            return AW_NOMEM;
        if (one != AW_OK)
            rc = AW_INVALID;
        c->nupstreams++;
    }
    return rc;
}

/* routes[i].name: a string of at most 64 name characters. */
static int
routes_name(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, ROUTES_NAME_MAX, config_check_name, where,
                               dst);
}

/* A host name, "*." and a host name, or a bracketed IPv6 literal. */
static bool
routes_host_valid(const char *s, size_t len)
{
    unsigned char v6[16];
    char lit[64];

    if (s[0] == '[') {
        if (len < 3 || len - 2 >= sizeof(lit) || s[len - 1] != ']')
            return false;
        slice_copy_cstr(lit, sizeof(lit), (struct slice){s + 1, len - 2});
        return inet_pton(AF_INET6, lit, v6) == 1;
    }
    if (len > 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        len -= 2;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool dot = ch == '.';

        if (dot && (i == 0 || i + 1 == len || s[i - 1] == '.'))
            return false;
        if (!dot && !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    return len > 0;
}

/* The check of routes[i].host, for config_store_string. */
static int
routes_check_host(struct config_loader *ld, const struct config_node *v,
                  const char *where)
{
    char q[96];

    if (routes_host_valid(v->text, v->len))
        return AW_OK;
    config_error(ld, v,
                 "%s: '%s' is not a host name, '*.' and a host "
                 "name, or a bracketed IPv6 address (no port)",
                 where, config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

/*
 * routes[i].host. Only the shape is checked here; the route table
 * decides how hosts compare.
 */
static int
routes_host(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, ROUTES_HOST_MAX, routes_check_host, where,
                               dst);
}

/*
 * The bit of one entry of routes[i].methods. Method names are
 * case-sensitive (RFC 9110), so "get" is refused rather than folded:
 * a backend might treat it as a different method.
 */
static int
routes_method_bit(struct config_loader *ld, const struct config_node *it,
                  const char *where, uint32_t *bit)
{
    char q[64];
    enum http_method m = http_method_from((struct slice){it->text, it->len});

    if (m == HTTP_OTHER) {
        config_error(ld, it,
                     "%s: unknown method '%s' (methods are written "
                     "in capitals: GET, HEAD, POST, PUT, DELETE, PATCH, "
                     "OPTIONS, TRACE, CONNECT)",
                     where, config_node_quote(it, q, sizeof(q)));
        return AW_INVALID;
    }
    *bit = 1u << m;
    return AW_OK;
}

static const struct config_bits routes_method_bits = {
    .maxlen = ROUTES_METHOD_MAX,
    .bit_of = routes_method_bit,
    .empty = "an empty list allows nothing; leave the key out to allow "
             "every method",
};

/* routes[i].methods: a non-empty list of distinct known methods. */
static int
routes_methods(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    (void)f;
    return config_parse_bits(ld, v, &routes_method_bits, where, dst);
}

/* The check of routes[i].path, for config_store_string. */
static int
routes_check_path(struct config_loader *ld, const struct config_node *v,
                  const char *where)
{
    if (v->text[0] == '/')
        return AW_OK;
    config_error(ld, v, "%s: a path starts with '/'", where);
    return AW_INVALID;
}

/*
 * routes[i].path: only the leading '/' is checked here; the template
 * syntax belongs to the route table, whose verdict comes later.
 */
static int
routes_path(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, ROUTES_PATH_MAX, routes_check_path, where,
                               dst);
}

/*
 * routes[i].upstream: the name of an upstream parsed before, stored as
 * a pointer into c->upstreams.
 */
static int
routes_upstream_ref(struct config_loader *ld, const struct config_node *v,
                    void *dst, const struct config_field *f, const char *where)
{
    const struct config *c = ld->c;
    char q[96];
    const char *s;
    int rc = config_expect_string(ld, v, ROUTES_NAME_MAX, where, &s);

    (void)f;
    if (rc != AW_OK)
        return rc;
    for (size_t i = 0; i < c->nupstreams; i++) {
        if (strcmp(c->upstreams[i].name, s) == 0) {
            *(struct config_upstream **)dst = &c->upstreams[i];
            return AW_OK;
        }
    }
    config_error(ld, v, "%s: no upstream is named '%s'", where,
                 config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

/* routes[i].authz is compiled once the rest of the route is known. */
static int
routes_authz_later(struct config_loader *ld, const struct config_node *v,
                   void *dst, const struct config_field *f, const char *where)
{
    (void)ld, (void)v, (void)dst, (void)f, (void)where;
    return AW_OK;
}

static const struct config_field routes_route_schema[] = {
    {.key = "name",
     .parse = routes_name,
     .required = true,
     .offset = offsetof(struct config_route, name)},
    {.key = "host",
     .parse = routes_host,
     .offset = offsetof(struct config_route, host)},
    {.key = "methods",
     .parse = routes_methods,
     .offset = offsetof(struct config_route, methods)},
    {.key = "path",
     .parse = routes_path,
     .required = true,
     .offset = offsetof(struct config_route, path)},
    FIELD("prefix", config_parse_bool, struct config_route, prefix, 0, 1),
    {.key = "upstream",
     .parse = routes_upstream_ref,
     .required = true,
     .offset = offsetof(struct config_route, upstream)},
    FIELD("max_body", config_parse_size, struct config_route, max_body_bytes, 0,
          CONFIG_MAX_BODY),
    FIELD("read_timeout", config_parse_duration, struct config_route,
          read_timeout_ms, 1, HOUR_MS),
    FIELD("buffer_body", config_parse_bool, struct config_route, buffer_body,
          0, 1),
    {.key = "auth",
     .parse = config_parse_route_auth,
     .offset = offsetof(struct config_route, auth)},
    {.key = "limits", .parse = config_parse_route_limits},
    FIELD("max_in_flight", config_parse_uint, struct config_route,
          max_in_flight, 0, 1000000),
    {.key = "authz", .parse = routes_authz_later},
    {.key = "contract",
     .parse = config_parse_route_contract,
     .offset = offsetof(struct config_route, contract)},
    {.key = "inspect", .parse = config_parse_route_inspect},
    {.key = NULL},
};

/*
 * Parse one route. A route's body limit cannot exceed limits.max_body:
 * the request head is checked against the global limit before the
 * route is known, so a larger per-route value would never apply.
 */
static int
routes_route_one(struct config_loader *ld, const struct config_node *m,
                 struct config_route *r, const char *where)
{
    const struct config *c = ld->c;
    const struct config_node *mb;
    int rc;

    r->max_body_bytes = c->limits.max_body_bytes;
    rc = config_walk_map(ld, m, routes_route_schema, r, where);
    if (m->type != CONFIG_NODE_MAP)
        return rc;
    if (rc == AW_OK)
        rc = config_policy_route(ld, m, r, where);
    if (config_map_get(m, "inspect") == NULL)
        config_inspect_route_default(c, r);
    if (config_map_get(m, "read_timeout") == NULL && r->upstream != NULL)
        r->read_timeout_ms = r->upstream->read_timeout_ms;
    mb = config_map_get(m, "max_body");
    if (mb != NULL && r->max_body_bytes > c->limits.max_body_bytes) {
        config_error(ld, mb,
                     "%s.max_body: larger than limits.max_body, "
                     "which is checked first",
                     where);
        rc = rc == AW_NOMEM ? rc : AW_INVALID;
    }
    return rc;
}

/* qsort order for routes: by name, then by position in the file. */
static int
routes_cmp_name(const void *a, const void *b)
{
    const struct config_route *ra = *(const struct config_route *const *)a;
    const struct config_route *rb = *(const struct config_route *const *)b;
    int d = strcmp(ra->name, rb->name);

    if (d != 0)
        return d;
    return ra->index < rb->index ? -1 : ra->index > rb->index;
}

/*
 * Refuse two routes with one name: logs and metrics would merge them.
 * Every repeat is left out of the route table (ok[i] cleared), so that
 * the table does not report the same mistake again.
 */
static int
routes_unique_names(struct config_loader *ld,
                    const struct config_node *const *nodes, bool *ok)
{
    const struct config *c = ld->c;
    const struct config_route **by =
        arena_alloc(&ld->tree, c->nroutes * sizeof(*by));
    size_t n = 0;
    int rc = AW_OK;

    if (by == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < c->nroutes; i++)
        if (c->routes[i].name != NULL)
            by[n++] = &c->routes[i];
    qsort(by, n, sizeof(*by), routes_cmp_name);
    for (size_t i = 1; i < n; i++) {
        const struct config_route *first = by[i - 1];

        if (strcmp(first->name, by[i]->name) != 0)
            continue;
        while (i < n && strcmp(first->name, by[i]->name) == 0) {
            config_error(ld, config_map_get(nodes[by[i]->index], "name"),
                         "duplicate route name '%s' (first at line %d)",
                         by[i]->name,
                         config_map_get(nodes[first->index], "name")->line);
            ok[by[i]->index] = false;
            i++;
        }
        rc = AW_INVALID;
    }
    return rc;
}

/* Build and discard a table from defs[0..n); AW_INVALID fills err. */
static int
routes_try(const struct route_def *defs, size_t n, char *err, size_t len)
{
    struct route_table *t = NULL;
    int rc = route_table_new(defs, n, &t, err, len);

    route_table_free(t);
    return rc;
}

/*
 * Find the first route of defs[0..n) that makes the table fail (see the
 * comment at the top of the file). On AW_INVALID *culprit is its index
 * and err the table's sentence about it.
 */
static int
routes_find_culprit(const struct route_def *defs, size_t n, size_t *culprit,
                    char *err, size_t len)
{
    size_t lo = 1, hi = n;
    int rc;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        rc = routes_try(defs, mid, err, len);
        if (rc == AW_NOMEM)
            return rc;
        if (rc == AW_OK)
            lo = mid + 1;
        else
            hi = mid;
    }
    *culprit = lo - 1;
    return routes_try(defs, lo, err, len);
}

/*
 * Report every route that keeps the table from compiling, at its path.
 * defs[i].data is the route, whose index leads back to its node.
 */
static int
routes_report_conflicts(struct config_loader *ld, struct route_def *defs,
                        size_t n, const struct config_node *const *nodes)
{
    char err[200];
    size_t culprit;
    int rc = AW_INVALID;

    for (unsigned round = 0; round < CONFIG_MAX_ERRORS && n > 0; round++) {
        const struct config_route *r;

        rc = routes_find_culprit(defs, n, &culprit, err, sizeof(err));
        if (rc != AW_INVALID)
            break;
        r = defs[culprit].data;
        config_error(ld, config_map_get(nodes[r->index], "path"), "%s", err);
        memmove(&defs[culprit], &defs[culprit + 1],
                (n - culprit - 1) * sizeof(*defs));
        n--;
        rc = routes_try(defs, n, err, sizeof(err));
        if (rc != AW_INVALID)
            break;
    }
    return rc == AW_NOMEM ? rc : AW_INVALID;
}

/*
 * Compile the routes that parsed cleanly (ok[i]) into c->route_table.
 * Problems among them are still found when other routes are broken.
 */
static int
routes_compile(struct config_loader *ld, const bool *ok,
               const struct config_node *const *nodes)
{
    struct config *c = ld->c;
    struct route_def *defs = arena_alloc(&ld->tree, c->nroutes * sizeof(*defs));
    char err[200];
    size_t n = 0;
    int rc;

    if (defs == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct config_route *r = &c->routes[i];

        if (!ok[i])
            continue;
        defs[n++] = (struct route_def){r->name, r->host,   r->methods,
                                       r->path, r->prefix, (void *)r};
    }
    rc = route_table_new(defs, n, &c->route_table, err, sizeof(err));
    if (rc == AW_INVALID)
        rc = routes_report_conflicts(ld, defs, n, nodes);
    return rc;
}

int
config_parse_routes(struct config_loader *ld, const struct config_node *v,
                    void *dst, const struct config_field *f, const char *where)
{
    struct config *c = ld->c;
    const struct config_node **nodes;
    bool *ok;
    size_t i = 0;
    int one;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, ROUTES_MAX_ROUTES,
                                   "routes", where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    c->routes = config_alloc(ld, v->n * sizeof(*c->routes));
    nodes = arena_alloc(&ld->tree, v->n * sizeof(*nodes));
    ok = arena_alloc(&ld->tree, v->n * sizeof(*ok));
    if (c->routes == NULL || nodes == NULL || ok == NULL)
        return AW_NOMEM;
    for (const struct config_node *m = v->first; m != NULL; m = m->next) {
        char path[ROUTES_WHERE_MAX];

        snprintf(path, sizeof(path), "%s[%zu]", where, i);
        c->routes[i].index = (unsigned)i;
        nodes[i] = m;
        one = routes_route_one(ld, m, &c->routes[i], path);
        if (one == AW_NOMEM)
            return AW_NOMEM;
        ok[i++] = one == AW_OK;
        rc = one != AW_OK ? AW_INVALID : rc;
    }
    c->nroutes = i;
    one = routes_unique_names(ld, nodes, ok);
    if (one == AW_OK)
        one = routes_compile(ld, ok, nodes);
    else if (one != AW_NOMEM)
        (void)routes_compile(ld, ok, nodes);
    if (one == AW_NOMEM || rc == AW_OK)
        rc = one;
    return rc;
}
