/*
 * Reading the parameters of an operation at load.
 *
 * The parameters of the path item and of the operation are merged (the
 * operation's win on the same name and location), and each is checked
 * against what the request checks can enforce: a location they read, a
 * style allowed there, a path parameter for every template expression
 * and no other. How a value is split depends on the shape of its
 * schema: an array or an object when the schema admits only that (and
 * null), a single value otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "contract/openapi_int.h"

#define OAS_ALL_TYPES 0x7fu
#define OAS_BIT(t) (1u << (t))

static const struct {
    const char *name;
    enum oas_style style;
    unsigned where; /* bits (1u << enum oas_in) */
} oas_styles[] = {
    {"form", OAS_STYLE_FORM, 1u << OAS_IN_QUERY | 1u << OAS_IN_COOKIE},
    {"simple", OAS_STYLE_SIMPLE, 1u << OAS_IN_PATH | 1u << OAS_IN_HEADER},
    {"label", OAS_STYLE_LABEL, 1u << OAS_IN_PATH},
    {"matrix", OAS_STYLE_MATRIX, 1u << OAS_IN_PATH},
    {"spaceDelimited", OAS_STYLE_SPACE, 1u << OAS_IN_QUERY},
    {"pipeDelimited", OAS_STYLE_PIPE, 1u << OAS_IN_QUERY},
    {"deepObject", OAS_STYLE_DEEP, 1u << OAS_IN_QUERY},
};

static bool
oas_bool(const struct json_value *v, bool dflt)
{
    if (v == NULL)
        return dflt;
    return v->type == JSON_TRUE;
}

/* "in" of a parameter; -1 when it is not one the checks read. */
static int
oas_in_parse(struct slice in)
{
    static const char *const names[] = {"path", "query", "header",
                                        "cookie"};

    for (int i = 0; i < 4; i++)
        if (slice_eq(in, (struct slice){names[i], strlen(names[i])}))
            return i;
    return -1;
}

/* The style, its default for the location, and whether it fits there. */
static int
oas_style_parse(struct oas_build *b, const struct oas_loc *at,
                const struct json_value *v, struct oas_param *p)
{
    struct slice s = json_str(json_get(v, "style"));

    p->style = p->in == OAS_IN_PATH || p->in == OAS_IN_HEADER
                   ? OAS_STYLE_SIMPLE
                   : OAS_STYLE_FORM;
    if (s.ptr != NULL) {
        size_t i = 0;

        while (i < ARRAY_LEN(oas_styles) &&
               !slice_eq(s, (struct slice){oas_styles[i].name,
                                           strlen(oas_styles[i].name)}))
            i++;
        if (i == ARRAY_LEN(oas_styles) ||
            !(oas_styles[i].where & (1u << p->in)))
            return oas_fail(b, at, AW_INVALID, "style \"%s\" is not one "
                            "of those allowed in %s", s.ptr,
                            json_str(json_get(v, "in")).ptr);
        p->style = oas_styles[i].style;
    }
    p->explode = oas_bool(json_get(v, "explode"),
                          p->style == OAS_STYLE_FORM);
    return AW_OK;
}

/* Follow "$ref"s of a schema's JSON to see what it lists. */
static const struct json_value *
oas_schema_json(struct oas_build *b, struct oas_loc *at)
{
    const struct json_value *v;

    if (oas_deref(b, at, &v) != AW_OK)
        return NULL;
    return v;
}

/* The bits of one JSON Schema type name; 0 for an unknown one. */
static unsigned
oas_type_bits(struct slice t)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {
        {"null", OAS_BIT(JSON_NULL)},
        {"boolean", OAS_BIT(JSON_TRUE) | OAS_BIT(JSON_FALSE)},
        {"integer", OAS_BIT(JSON_NUMBER)},
        {"number", OAS_BIT(JSON_NUMBER)},
        {"string", OAS_BIT(JSON_STRING)},
        {"array", OAS_BIT(JSON_ARRAY)},
        {"object", OAS_BIT(JSON_OBJECT)},
    };

    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (slice_eq(t, (struct slice){names[i].name, strlen(names[i].name)}))
            return names[i].bits;
    return 0;
}

/*
 * The types a schema admits, read from its own "type" after following
 * its references (which the compiled schema may not look through), with
 * OpenAPI 3.0's nullable; else what the compiler says.
 */
static unsigned
oas_types_of(struct oas_build *b, const struct oas_loc *at,
             const struct schema *s)
{
    struct oas_loc l = *at;
    const struct json_value *v, *t;
    unsigned bits = 0;

    if (oas_deref(b, &l, &v) != AW_OK)
        return schema_types(s);
    t = json_get(v, "type");
    if (t != NULL && t->type == JSON_STRING)
        bits = oas_type_bits(t->u.str);
    for (size_t i = 0; json_is(t, JSON_ARRAY) && i < t->u.arr.n; i++)
        bits |= oas_type_bits(json_str(t->u.arr.items[i]));
    if (bits == 0)
        return schema_types(s);
    if (json_get(v, "nullable") != NULL &&
        json_get(v, "nullable")->type == JSON_TRUE)
        bits |= OAS_BIT(JSON_NULL);
    return bits;
}

/* The types admitted by the schema at "under"/name, or all when absent. */
static int
oas_sub_types(struct oas_build *b, const struct oas_loc *under,
              const char *name, unsigned *types)
{
    struct oas_loc at = {under->file, oas_ptr_add(b, under->ptr, name)};
    const struct schema *s;
    int rc;

    *types = OAS_ALL_TYPES;
    if (at.ptr == NULL)
        return AW_NOMEM;
    if (oas_at(b, &at) == NULL)
        return AW_OK;
    rc = oas_schema(b, &at, &s);
    if (rc == AW_OK)
        *types = oas_types_of(b, &at, s);
    return rc;
}

/* An object parameter: the types of its listed properties. */
static int
oas_props_build(struct oas_build *b, struct oas_param *p,
                const struct oas_loc *sch, const struct json_value *sv)
{
    const struct json_value *props = json_get(sv, "properties");
    struct oas_loc pat = {sch->file, oas_ptr_add(b, sch->ptr, "properties")};
    struct oas_prop *out;

    if (!json_is(props, JSON_OBJECT))
        return AW_OK;
    if (props->u.obj.n > OAS_MAX_PROPS)
        return oas_fail(b, sch, AW_INVALID, "an object parameter with "
                        "more than %d properties", OAS_MAX_PROPS);
    out = arena_alloc(&b->api->arena, props->u.obj.n * sizeof(*out) + 1);
    if (out == NULL || pat.ptr == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < props->u.obj.n; i++) {
        int rc;

        out[i].name = props->u.obj.members[i].name;
        rc = oas_sub_types(b, &pat, out[i].name.ptr, &out[i].types);
        if (rc != AW_OK)
            return rc;
    }
    p->props = out;
    p->nprops = (unsigned)props->u.obj.n;
    return AW_OK;
}

/*
 * The schema of a parameter, its shape, and the types of what its
 * parts hold.
 */
static int
oas_param_schema(struct oas_build *b, struct oas_param *p,
                 const struct oas_loc *sch)
{
    struct oas_loc sat = *sch;
    const struct json_value *sv;
    unsigned t;
    int rc = oas_schema(b, sch, &p->schema);

    if (rc != AW_OK)
        return rc;
    p->types = oas_types_of(b, sch, p->schema);
    t = p->types & ~OAS_BIT(JSON_NULL);
    p->shape = t == OAS_BIT(JSON_ARRAY)    ? OAS_SHAPE_ARRAY
               : t == OAS_BIT(JSON_OBJECT) ? OAS_SHAPE_OBJECT
                                           : OAS_SHAPE_SCALAR;
    if (p->shape == OAS_SHAPE_SCALAR)
        return AW_OK;
    sv = oas_schema_json(b, &sat);
    if (sv == NULL)
        return AW_INVALID;
    if (p->shape == OAS_SHAPE_ARRAY)
        return oas_sub_types(b, &sat, "items", &p->types);
    p->types = OAS_ALL_TYPES;
    return oas_props_build(b, p, &sat, sv);
}

/* A parameter described by "content": one media type, JSON or not. */
static int
oas_param_content(struct oas_build *b, struct oas_param *p,
                  const struct oas_loc *at)
{
    struct oas_loc cat = {at->file, oas_ptr_add(b, at->ptr, "content")};
    struct oas_content c;
    int rc;

    if (cat.ptr == NULL)
        return AW_NOMEM;
    rc = oas_content_build(b, &cat, &c);
    if (rc != AW_OK)
        return rc;
    if (c.n != 1)
        return oas_fail(b, &cat, AW_INVALID, "must list exactly one media "
                        "type");
    p->schema = c.media[0].schema;
    p->json = c.media[0].schema != NULL;
    p->opaque = !p->json;
    return AW_OK;
}

/* Where the template has this name, or -1. */
static int
oas_path_index(const struct oas_path *path, struct slice name)
{
    for (unsigned i = 0; i < path->nparams; i++)
        if (strlen(path->pname[i]) == name.len &&
            memcmp(path->pname[i], name.ptr, name.len) == 0)
            return (int)i;
    return -1;
}

/* The checks of a parameter's own fields. */
static int
oas_param_fields(struct oas_build *b, struct oas_param *p,
                 const struct oas_path *path, const struct oas_loc *at,
                 const struct json_value *v)
{
    int in = oas_in_parse(json_str(json_get(v, "in")));
    int index;

    p->name = json_str(json_get(v, "name"));
    if (p->name.ptr == NULL || p->name.len == 0)
        return oas_fail(b, at, AW_INVALID, "a parameter without a name");
    if (in < 0)
        return oas_fail(b, at, AW_INVALID, "\"in\" must be path, query, "
                        "header or cookie");
    p->in = (enum oas_in)in;
    p->required = oas_bool(json_get(v, "required"), false);
    p->allow_empty = oas_bool(json_get(v, "allowEmptyValue"), false);
    if (p->in != OAS_IN_PATH)
        return oas_style_parse(b, at, v, p);
    index = oas_path_index(path, p->name);
    if (index < 0)
        return oas_fail(b, at, AW_INVALID, "path parameter \"%s\" is not "
                        "in the template", p->name.ptr);
    p->path_index = (unsigned)index;
    p->required = true;
    return oas_style_parse(b, at, v, p);
}

/* Read one parameter object (after its references). */
static int
oas_param_read(struct oas_build *b, struct oas_param *p,
               const struct oas_path *path, const struct oas_loc *ref_at)
{
    struct oas_loc at = *ref_at;
    const struct json_value *v;
    int rc = oas_deref(b, &at, &v);

    if (rc != AW_OK)
        return rc;
    memset(p, 0, sizeof(*p));
    p->types = OAS_ALL_TYPES;
    rc = oas_param_fields(b, p, path, &at, v);
    if (rc != AW_OK)
        return rc;
    if (json_get(v, "content") != NULL)
        return oas_param_content(b, p, &at);
    if (json_get(v, "schema") == NULL)
        return AW_OK;
    at.ptr = oas_ptr_add(b, at.ptr, "schema");
    if (at.ptr == NULL)
        return AW_NOMEM;
    rc = oas_param_schema(b, p, &at);
    if (rc == AW_OK && p->style == OAS_STYLE_DEEP &&
        p->shape != OAS_SHAPE_OBJECT)
        return oas_fail(b, &at, AW_INVALID, "deepObject needs an object "
                        "schema");
    if (rc == AW_OK && (p->style == OAS_STYLE_SPACE ||
                        p->style == OAS_STYLE_PIPE) &&
        p->shape == OAS_SHAPE_SCALAR)
        return oas_fail(b, &at, AW_INVALID, "spaceDelimited and "
                        "pipeDelimited need an array or object schema");
    return rc;
}

/* True when a and c are the same parameter (header names fold case). */
static bool
oas_param_same(const struct oas_param *a, const struct oas_param *c)
{
    if (a->in != c->in)
        return false;
    if (a->in == OAS_IN_HEADER)
        return slice_eq_nocase(a->name, c->name);
    return slice_eq(a->name, c->name);
}

/*
 * Headers the specification says to ignore as parameters: their
 * meaning is the protocol's (media types, credentials).
 */
static bool
oas_param_ignored(const struct oas_param *p)
{
    return p->in == OAS_IN_HEADER &&
           (slice_is(p->name, "accept") || slice_is(p->name, "content-type") ||
            slice_is(p->name, "authorization"));
}

/* Read the "parameters" list at a place into ps (an override replaces). */
static int
oas_params_list(struct oas_build *b, struct oas_param *ps, unsigned *n,
                const struct oas_path *path, const struct oas_loc *owner)
{
    struct oas_loc at = {owner->file, oas_ptr_add(b, owner->ptr,
                                                  "parameters")};
    const struct json_value *list;
    char index[24];

    if (at.ptr == NULL)
        return AW_NOMEM;
    list = oas_at(b, &at);
    if (list == NULL)
        return AW_OK;
    if (list->type != JSON_ARRAY)
        return oas_fail(b, &at, AW_INVALID, "must be an array");
    for (size_t i = 0; i < list->u.arr.n; i++) {
        struct oas_param p;
        struct oas_loc pat = {at.file, NULL};
        unsigned k = 0;
        int rc;

        snprintf(index, sizeof(index), "%zu", i);
        pat.ptr = oas_ptr_add(b, at.ptr, index);
        if (pat.ptr == NULL)
            return AW_NOMEM;
        rc = oas_param_read(b, &p, path, &pat);
        if (rc != AW_OK)
            return rc;
        if (oas_param_ignored(&p))
            continue;
        while (k < *n && !oas_param_same(&ps[k], &p))
            k++;
        if (k == OAS_MAX_PARAMS)
            return oas_fail(b, &at, AW_INVALID, "more than %d parameters",
                            OAS_MAX_PARAMS);
        ps[k] = p;
        *n += k == *n;
    }
    return AW_OK;
}

int
oas_params_build(struct oas_build *b, struct openapi_op *op,
                 struct oas_path *path, const struct oas_loc *item,
                 const struct oas_loc *oper)
{
    struct oas_param *ps = arena_alloc(&b->api->arena,
                                       OAS_MAX_PARAMS * sizeof(*ps));
    unsigned n = 0;
    int rc;

    if (ps == NULL)
        return AW_NOMEM;
    rc = oas_params_list(b, ps, &n, path, item);
    if (rc == AW_OK)
        rc = oas_params_list(b, ps, &n, path, oper);
    if (rc != AW_OK)
        return rc;
    for (unsigned i = 0; i < path->nparams; i++) {
        unsigned k = 0;

        while (k < n && !(ps[k].in == OAS_IN_PATH && ps[k].path_index == i))
            k++;
        if (k == n)
            return oas_fail(b, oper, AW_INVALID, "template parameter "
                            "\"%s\" is not described", path->pname[i]);
    }
    op->params = ps;
    op->nparams = n;
    return AW_OK;
}
