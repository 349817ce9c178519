/*
 * Compiling a parsed OpenAPI document: its version and schema dialect,
 * its base path, and one operation per method of every path item.
 *
 * What is read is what the gateway enforces; the rest of the document
 * (info, tags, security schemes, examples, links, callbacks, webhooks)
 * is documentation to it and is not interpreted, but every schema under
 * components/schemas is compiled, so that a keyword the compiler does
 * not implement fails the load instead of going unnoticed.
 */
#include <stdlib.h>
#include <string.h>

#include "contract/openapi_int.h"

/* The dialect OpenAPI 3.1 uses when a document names none. */
#define OAS_DIALECT_BASE "https://spec.openapis.org/oas/3.1/dialect/base"
#define OAS_DIALECT_2020 "https://json-schema.org/draft/2020-12/schema"

static const struct {
    const char *key;
    enum http_method method;
} oas_methods[] = {
    {"get", HTTP_GET},     {"put", HTTP_PUT},         {"post", HTTP_POST},
    {"delete", HTTP_DELETE}, {"options", HTTP_OPTIONS}, {"head", HTTP_HEAD},
    {"patch", HTTP_PATCH}, {"trace", HTTP_TRACE},
};

/* True when s is prefix followed by '.' and digits only ("3.0.3"). */
static bool
oas_version_is(struct slice s, const char *prefix)
{
    size_t pl = strlen(prefix);

    if (s.len < pl + 2 || memcmp(s.ptr, prefix, pl) != 0 || s.ptr[pl] != '.')
        return false;
    for (size_t i = pl + 1; i < s.len; i++)
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
    return true;
}

/* "openapi" and "jsonSchemaDialect" decide the schema dialect. */
static int
oas_version(struct oas_build *b, const struct json_value *root)
{
    struct oas_loc at = {0, "/openapi"};
    struct slice v = json_str(json_get(root, "openapi"));
    const struct json_value *d = json_get(root, "jsonSchemaDialect");

    if (oas_version_is(v, "3.0")) {
        b->api->dialect = SCHEMA_OAS30;
        return AW_OK;
    }
    if (!oas_version_is(v, "3.1"))
        return oas_fail(b, &at, AW_INVALID, "not an OpenAPI 3.0.x or "
                        "3.1.x document");
    b->api->dialect = SCHEMA_2020_12;
    at.ptr = "/jsonSchemaDialect";
    if (d != NULL && !slice_eq(json_str(d), SLICE_LIT(OAS_DIALECT_BASE)) &&
        !slice_eq(json_str(d), SLICE_LIT(OAS_DIALECT_2020)))
        return oas_fail(b, &at, AW_INVALID, "only the default dialect "
                        "(%s) is supported", OAS_DIALECT_BASE);
    return AW_OK;
}

/*
 * Append to out (cap bytes, *n used) the url of a server with each
 * "{name}" replaced by the default of its variable.
 */
static int
oas_server_expand(struct oas_build *b, const struct json_value *srv,
                  struct slice url, char *out, size_t cap, size_t *n)
{
    struct oas_loc at = {0, "/servers/0/url"};
    const struct json_value *vars = json_get(srv, "variables");

    for (size_t i = 0; i < url.len; i++) {
        const char *end;
        struct slice val;
        char name[128];

        if (url.ptr[i] != '{') {
            if (*n + 1 >= cap)
                return oas_fail(b, &at, AW_TOOBIG, "too long");
            out[(*n)++] = url.ptr[i];
            continue;
        }
        end = memchr(url.ptr + i, '}', url.len - i);
        if (end == NULL || (size_t)(end - url.ptr - i - 1) >= sizeof(name))
            return oas_fail(b, &at, AW_INVALID, "a variable without '}'");
        slice_copy_cstr(name, sizeof(name),
                        (struct slice){url.ptr + i + 1,
                                       (size_t)(end - url.ptr) - i - 1});
        val = json_str(json_get(json_get(vars, name), "default"));
        if (val.ptr == NULL)
            return oas_fail(b, &at, AW_INVALID, "a variable without a "
                            "default");
        if (*n + val.len >= cap)
            return oas_fail(b, &at, AW_TOOBIG, "too long");
        memcpy(out + *n, val.ptr, val.len);
        *n += val.len;
        i = (size_t)(end - url.ptr);
    }
    out[*n] = '\0';
    return AW_OK;
}

/*
 * The base path: the option when given, else the path of servers[0]'s
 * url (variables expanded; scheme and authority dropped; a relative url
 * taken from the root). Other servers are not consulted: a gateway
 * serves one base path per document.
 */
static int
oas_base_path(struct oas_build *b, const struct json_value *root)
{
    struct openapi *api = b->api;
    const struct json_value *srv = json_is(json_get(root, "servers"),
                                           JSON_ARRAY)
                                       ? json_get(root, "servers")
                                       : NULL;
    char url[1024];
    const char *p = url;
    size_t n = 0, len;
    int rc;

    if (api->opt.base_path != NULL) {
        p = api->opt.base_path;
    } else if (srv != NULL && srv->u.arr.n > 0) {
        srv = srv->u.arr.items[0];
        rc = oas_server_expand(b, srv, json_str(json_get(srv, "url")), url,
                               sizeof(url), &n);
        if (rc != AW_OK)
            return rc;
        if (strstr(url, "://") != NULL)
            p = strchr(strstr(url, "://") + 3, '/');
        if (p == NULL)
            p = "";
        p += p[0] == '.' && p[1] == '/';
    } else {
        p = "";
    }
    len = strcspn(p, "?#");
    while (len > 0 && p[len - 1] == '/')
        len--;
    if (len > 0 && p[0] != '/')
        p = arena_printf(&api->arena, "/%.*s", (int)len, p), len++;
    else
        p = arena_dup(&api->arena, p, len);
    if (p == NULL)
        return AW_NOMEM;
    api->base = (struct slice){p, len};
    return AW_OK;
}

/* The operationId, or "METHOD template". */
static const char *
oas_op_id(struct oas_build *b, const struct json_value *op,
          enum http_method m, const char *tpl)
{
    struct slice id = json_str(json_get(op, "operationId"));

    if (id.ptr != NULL && id.len > 0)
        return id.ptr;
    return arena_printf(&b->api->arena, "%s %s", http_method_name(m), tpl);
}

/* Compile one operation of a path item. */
static int
oas_op_build(struct oas_build *b, struct oas_path *p,
             const struct oas_loc *item, const struct oas_loc *at,
             enum http_method m)
{
    struct openapi *api = b->api;
    const struct json_value *v;
    struct openapi_op *op;
    struct oas_loc oper = *at;
    int rc = oas_deref(b, &oper, &v);

    if (rc != AW_OK)
        return rc;
    if (v->type != JSON_OBJECT)
        return oas_fail(b, at, AW_INVALID, "an operation must be an object");
    if (api->nops == api->opt.max_operations)
        return oas_fail(b, at, AW_TOOBIG, "more than %zu operations",
                        api->opt.max_operations);
    op = arena_alloc(&api->arena, sizeof(*op));
    if (op == NULL)
        return AW_NOMEM;
    *op = (struct openapi_op){.api = api, .method = m, .tpl = p->tpl};
    op->id = oas_op_id(b, v, m, p->tpl);
    op->deprecated = json_get(v, "deprecated") != NULL &&
                     json_get(v, "deprecated")->type == JSON_TRUE;
    if (op->id == NULL)
        return AW_NOMEM;
    rc = oas_params_build(b, op, p, item, &oper);
    if (rc == AW_OK)
        rc = oas_body_build(b, op, &oper);
    if (rc != AW_OK)
        return rc;
    p->ops[m] = op;
    api->ops[api->nops++] = op;
    return AW_OK;
}

/* Compile a path item: its template and each of its operations. */
static int
oas_path_build(struct oas_build *b, const struct json_member *mem,
               const struct oas_loc *at, const char **route)
{
    struct oas_path *p = &b->api->paths[b->api->npaths];
    struct oas_loc item = *at;
    const struct json_value *v;
    int rc;

    *p = (struct oas_path){.tpl = mem->name.ptr};
    rc = oas_template_parse(b, p, at, route);
    if (rc == AW_OK)
        rc = oas_deref(b, &item, &v);
    if (rc != AW_OK)
        return rc;
    if (v->type != JSON_OBJECT)
        return oas_fail(b, at, AW_INVALID, "a path item must be an object");
    for (size_t i = 0; i < ARRAY_LEN(oas_methods); i++) {
        struct oas_loc op_at = {item.file, NULL};

        if (json_get(v, oas_methods[i].key) == NULL)
            continue;
        op_at.ptr = oas_ptr_add(b, item.ptr, oas_methods[i].key);
        if (op_at.ptr == NULL)
            return AW_NOMEM;
        rc = oas_op_build(b, p, &item, &op_at, oas_methods[i].method);
        if (rc != AW_OK)
            return rc;
    }
    b->api->npaths++;
    return AW_OK;
}

/* Compile every path of the "paths" object. */
static int
oas_paths_build(struct oas_build *b, const struct json_value *root)
{
    struct openapi *api = b->api;
    const struct json_value *paths = json_get(root, "paths");
    size_t n;

    if (paths == NULL)
        return AW_OK; /* 3.1 allows webhooks or components alone */
    if (paths->type != JSON_OBJECT)
        return oas_fail(b, &(struct oas_loc){0, "/paths"}, AW_INVALID,
                        "must be an object");
    n = paths->u.obj.n;
    api->paths = arena_alloc(&api->arena, (n + 1) * sizeof(*api->paths));
    api->ops = arena_alloc(&api->arena, (MIN(n * ARRAY_LEN(oas_methods),
                                             api->opt.max_operations) +
                                         1) * sizeof(*api->ops));
    api->routes_tpl = arena_alloc(&api->arena, (n + 1) * sizeof(char *));
    if (api->paths == NULL || api->ops == NULL || api->routes_tpl == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct json_member *m = &paths->u.obj.members[i];
        struct oas_loc at = {0, oas_ptr_add(b, "/paths", m->name.ptr)};
        int rc;

        if (at.ptr == NULL)
            return AW_NOMEM;
        if (m->name.len >= 2 && memcmp(m->name.ptr, "x-", 2) == 0)
            continue;
        if (m->name.len == 0 || m->name.ptr[0] != '/' ||
            strlen(m->name.ptr) != m->name.len)
            return oas_fail(b, &at, AW_INVALID, "a path must start with "
                            "'/' and hold no NUL");
        rc = oas_path_build(b, m, &at, &api->routes_tpl[api->npaths]);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

/* Compile every schema of components/schemas, used or not. */
static int
oas_components_build(struct oas_build *b, const struct json_value *root)
{
    const struct json_value *s = json_get(json_get(root, "components"),
                                          "schemas");

    if (!json_is(s, JSON_OBJECT))
        return AW_OK;
    for (size_t i = 0; i < s->u.obj.n; i++) {
        struct oas_loc at = {0, oas_ptr_add(b, "/components/schemas",
                                            s->u.obj.members[i].name.ptr)};
        const struct schema *sc;
        int rc;

        if (at.ptr == NULL)
            return AW_NOMEM;
        rc = oas_schema(b, &at, &sc);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

static int
oas_cmp_op(const void *x, const void *y)
{
    const struct openapi_op *a = *(const struct openapi_op *const *)x;
    const struct openapi_op *c = *(const struct openapi_op *const *)y;
    int d = strcmp(a->tpl, c->tpl);

    return d != 0 ? d : (int)a->method - (int)c->method;
}

int
oas_compile(struct oas_build *b)
{
    struct openapi *api = b->api;
    const struct json_value *root = api->files[0].root;
    int rc;

    if (root->type != JSON_OBJECT)
        return oas_fail(b, &(struct oas_loc){0, ""}, AW_INVALID,
                        "the document is not an object");
    rc = oas_version(b, root);
    if (rc == AW_OK)
        rc = oas_base_path(b, root);
    if (rc == AW_OK)
        rc = oas_components_build(b, root);
    if (rc == AW_OK)
        rc = oas_paths_build(b, root);
    if (rc == AW_OK)
        rc = oas_routes_build(b);
    if (rc == AW_OK && api->nops > 1)
        qsort(api->ops, api->nops, sizeof(*api->ops), oas_cmp_op);
    return rc;
}
