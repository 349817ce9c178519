/*
 * Where "$ref" leads: the registry of schema resources ("$id", "id"),
 * anchors ("$anchor", "$dynamicAnchor", draft 4 "id": "#name"), JSON
 * pointers inside them, and remote documents through the fetch callback.
 *
 * Identifiers are only collected from schema positions: a "$id" inside
 * an enum value or under an unknown keyword names nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_set.h"

#define MAX_RESOURCES 10000   /* identifiers and anchors in one set */
#define MAX_REF_DEPTH 64      /* remote documents opened while resolving */

int
set_fail(struct schema_set *set, int rc, const char *fmt, ...)
{
    va_list ap;

    if (set->rc != AW_OK)
        return set->rc;
    set->rc = rc;
    if (set->err != NULL && set->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(set->err, set->errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

char *
set_strdup(struct schema_set *set, const char *s, size_t n)
{
    char *p = arena_alloc(&set->a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static size_t
ptr_hash(const void *p, size_t cap)
{
    uintptr_t x = (uintptr_t)p;

    x ^= x >> 17;
    x *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 20) & (cap - 1);
}

struct vinfo *
set_find(struct schema_set *set, const struct json_value *v)
{
    if (set->map_cap == 0)
        return NULL;
    for (size_t i = ptr_hash(v, set->map_cap);; i = (i + 1) &
                                                (set->map_cap - 1)) {
        if (set->map[i].v == v)
            return &set->map[i];
        if (set->map[i].v == NULL)
            return NULL;
    }
}

/* Double the table; false on no memory. */
static bool
map_grow(struct schema_set *set)
{
    size_t cap = set->map_cap ? set->map_cap * 2 : 256;
    struct vinfo *old = set->map, *m = calloc(cap, sizeof(*m));

    if (m == NULL)
        return false;
    for (size_t i = 0; i < set->map_cap; i++) {
        size_t j;

        if (old[i].v == NULL)
            continue;
        for (j = ptr_hash(old[i].v, cap); m[j].v != NULL; j = (j + 1) &
                                                               (cap - 1))
            ;
        m[j] = old[i];
    }
    free(old);
    set->map = m;
    set->map_cap = cap;
    return true;
}

struct vinfo *
set_info(struct schema_set *set, const struct json_value *v, const char *base)
{
    struct vinfo *e = set_find(set, v);
    size_t i;

    if (e != NULL)
        return e;
    if ((set->map_n + 1) * 2 > set->map_cap && !map_grow(set))
        return NULL;
    for (i = ptr_hash(v, set->map_cap); set->map[i].v != NULL;
         i = (i + 1) & (set->map_cap - 1))
        ;
    set->map[i] = (struct vinfo){v, base, NULL};
    set->map_n++;
    return &set->map[i];
}

static struct resource *
res_find(struct schema_set *set, const char *uri)
{
    for (size_t i = 0; i < set->nres; i++)
        if (strcmp(set->res[i].uri, uri) == 0)
            return &set->res[i];
    return NULL;
}

/* Register uri as naming v; the first registration of a name wins. */
static int
res_add(struct schema_set *set, const char *uri, const struct json_value *v,
        const char *base, bool dynamic)
{
    struct resource *r;

    if (res_find(set, uri) != NULL)
        return AW_OK;
    if (set->nres == MAX_RESOURCES)
        return set_fail(set, AW_TOOBIG, "more than %d schema identifiers",
                        MAX_RESOURCES);
    if (set->nres == set->res_cap) {
        size_t cap = set->res_cap ? set->res_cap * 2 : 32;

        r = realloc(set->res, cap * sizeof(*r));
        if (r == NULL)
            return set_fail(set, AW_NOMEM, "out of memory");
        set->res = r;
        set->res_cap = cap;
    }
    set->res[set->nres++] = (struct resource){uri, v, base, dynamic};
    return AW_OK;
}

/* Register base#name. */
static int
anchor_add(struct schema_set *set, const char *base, struct slice name,
           const struct json_value *v, bool dynamic)
{
    size_t bl = uri_fragment_at(base);
    char *uri = arena_printf(&set->a, "%.*s#%.*s", (int)bl, base,
                             (int)name.len, name.ptr);

    if (uri == NULL)
        return set_fail(set, AW_NOMEM, "out of memory");
    return res_add(set, uri, v, base, dynamic);
}

/* The base inside v when its identifier changes it (draft 4 "id" or
 * "$id"); anchors it declares are registered. */
static int
scan_ids(struct schema_set *set, const struct json_value *v,
         const char **base)
{
    bool d4 = set->opt.dialect != SCHEMA_2020_12;
    const struct json_value *id = json_get(v, d4 ? "id" : "$id");
    const struct json_value *anchor;
    char buf[URI_MAX];
    int rc = AW_OK;

    if (d4 && json_get(v, "$ref") != NULL)
        return AW_OK;           /* draft 4: $ref hides its siblings */
    if (json_is(id, JSON_STRING)) {
        if (id->u.str.ptr[0] == '#' && d4)
            return anchor_add(set, *base,
                              (struct slice){id->u.str.ptr + 1,
                                             id->u.str.len - 1}, v, false);
        if (uri_resolve(*base, id->u.str.ptr, buf, sizeof(buf)) != AW_OK)
            return set_fail(set, AW_INVALID, "identifier too long");
        char *full = set_strdup(set, buf, strlen(buf));
        char *nofrag = set_strdup(set, buf, uri_fragment_at(buf));

        if (full == NULL || nofrag == NULL)
            return set_fail(set, AW_NOMEM, "out of memory");
        rc = res_add(set, nofrag, v, nofrag, false);
        if (rc == AW_OK && d4 && strcmp(full, nofrag) != 0)
            rc = res_add(set, full, v, nofrag, false);
        *base = nofrag;
    }
    for (int k = 0; rc == AW_OK && !d4 && k < 2; k++) {
        anchor = json_get(v, k == 0 ? "$anchor" : "$dynamicAnchor");
        if (json_is(anchor, JSON_STRING))
            rc = anchor_add(set, *base, anchor->u.str, v, k == 1);
    }
    return rc;
}

/* Keywords whose value is one schema, an array of schemas, or an object
 * of schemas. */
static const char *const kw_one[] = {
    "additionalProperties", "additionalItems", "items", "contains",
    "propertyNames", "not", "if", "then", "else", "unevaluatedItems",
    "unevaluatedProperties",
};
static const char *const kw_array[] = {
    "allOf", "anyOf", "oneOf", "prefixItems", "items",
};
static const char *const kw_object[] = {
    "properties", "patternProperties", "$defs", "definitions",
    "dependentSchemas", "dependencies",
};

static bool
kw_in(struct slice name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (name.len == strlen(list[i]) &&
            memcmp(name.ptr, list[i], name.len) == 0)
            return true;
    return false;
}

static int scan_value(struct schema_set *set, const struct json_value *v,
                      const char *base, unsigned depth);

/* Scan the subschemas under the keyword m of a schema. */
static int
scan_member(struct schema_set *set, const struct json_member *m,
            const char *base, unsigned depth)
{
    const struct json_value *x = m->value;
    int rc = AW_OK;

    if (kw_in(m->name, kw_one, ARRAY_LEN(kw_one)) && x->type != JSON_ARRAY)
        return scan_value(set, x, base, depth + 1);
    if (kw_in(m->name, kw_array, ARRAY_LEN(kw_array)) &&
        x->type == JSON_ARRAY) {
        for (size_t i = 0; rc == AW_OK && i < x->u.arr.n; i++)
            rc = scan_value(set, x->u.arr.items[i], base, depth + 1);
        return rc;
    }
    if (kw_in(m->name, kw_object, ARRAY_LEN(kw_object)) &&
        x->type == JSON_OBJECT) {
        for (size_t i = 0; rc == AW_OK && i < x->u.obj.n; i++)
            if (x->u.obj.members[i].value->type != JSON_ARRAY)
                rc = scan_value(set, x->u.obj.members[i].value, base,
                                depth + 1);
    }
    return rc;
}

static int
scan_value(struct schema_set *set, const struct json_value *v,
           const char *base, unsigned depth)
{
    struct vinfo *e;
    int rc;

    if (v->type != JSON_OBJECT && v->type != JSON_TRUE &&
        v->type != JSON_FALSE)
        return AW_OK;
    if (depth > 200)
        return set_fail(set, AW_TOOBIG, "schema nested too deeply");
    if (set_find(set, v) != NULL)
        return AW_OK;
    if (v->type == JSON_OBJECT && (rc = scan_ids(set, v, &base)) != AW_OK)
        return rc;
    e = set_info(set, v, base);
    if (e == NULL)
        return set_fail(set, AW_NOMEM, "out of memory");
    if (v->type != JSON_OBJECT)
        return AW_OK;
    if (set->opt.dialect != SCHEMA_2020_12 && json_get(v, "$ref") != NULL)
        return AW_OK;
    for (size_t i = 0; i < v->u.obj.n; i++) {
        rc = scan_member(set, &v->u.obj.members[i], base, depth);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

int
set_scan(struct schema_set *set, const struct json_value *v,
         const char *base)
{
    return scan_value(set, v, base, 0);
}

/* Decode %XX escapes of s[0..n) into out (cap bytes); length or -1. */
static long
pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c == '%' && i + 2 < n + 0 &&
            hex_digit_value((unsigned char)s[i + 1]) >= 0 &&
            hex_digit_value((unsigned char)s[i + 2]) >= 0) {
            c = (char)(hex_digit_value((unsigned char)s[i + 1]) * 16 +
                       hex_digit_value((unsigned char)s[i + 2]));
            i += 2;
        }
        if (w + 1 >= cap)
            return -1;
        out[w++] = c;
    }
    out[w] = '\0';
    return (long)w;
}

/* One reference token, ~1 and ~0 unescaped, into tok; its length. */
static size_t
ptr_token(struct slice *p, char *tok, size_t cap)
{
    size_t w = 0, i = 0;

    while (i < p->len && p->ptr[i] != '/' && w + 1 < cap) {
        char c = p->ptr[i++];

        if (c == '~' && i < p->len && (p->ptr[i] == '0' || p->ptr[i] == '1'))
            c = p->ptr[i++] == '0' ? '~' : '/';
        tok[w++] = c;
    }
    tok[w] = '\0';
    p->ptr += i;
    p->len -= i;
    return w;
}

const struct json_value *
set_pointer(const struct json_value *v, struct slice p)
{
    char tok[1024];

    while (v != NULL && p.len > 0) {
        size_t n;
        uint64_t idx;

        if (p.ptr[0] != '/')
            return NULL;
        p.ptr++;
        p.len--;
        n = ptr_token(&p, tok, sizeof(tok));
        if (v->type == JSON_OBJECT) {
            const struct json_value *next = NULL;

            for (size_t i = 0; i < v->u.obj.n; i++)
                if (slice_eq(v->u.obj.members[i].name,
                             (struct slice){tok, n}))
                    next = v->u.obj.members[i].value;
            v = next;
        } else if (v->type == JSON_ARRAY &&
                   slice_to_u64((struct slice){tok, n}, SIZE_MAX, &idx) ==
                       AW_OK &&
                   (n == 1 || tok[0] != '0') && idx < v->u.arr.n) {
            v = v->u.arr.items[idx];
        } else {
            return NULL;
        }
    }
    return v;
}

/* The document a resource URI names: one already known, else fetched. */
static const struct resource *
resource_get(struct schema_set *set, const char *uri)
{
    const struct json_value *doc;
    const struct resource *r = res_find(set, uri);
    char *u;

    if (r != NULL || set->opt.fetch == NULL)
        return r;
    doc = set->opt.fetch(set->opt.fetch_ctx, uri);
    if (doc == NULL)
        return NULL;
    u = set_strdup(set, uri, strlen(uri));
    if (u == NULL || res_add(set, u, doc, u, false) != AW_OK)
        return NULL;
    if (set_scan(set, doc, u) != AW_OK)
        return NULL;
    return res_find(set, u);
}

int
set_resolve(struct schema_set *set, const char *base, const char *ref,
            const struct json_value **out, const char **out_base)
{
    char full[URI_MAX], frag[URI_MAX];
    const struct resource *r;
    size_t at;
    long flen;

    if (uri_resolve(base, ref, full, sizeof(full)) != AW_OK)
        return set_fail(set, AW_INVALID, "reference too long: %.200s", ref);
    at = uri_fragment_at(full);
    if (full[at] == '#' && full[at + 1] != '/' && full[at + 1] != '\0') {
        r = res_find(set, full);
        if (r == NULL) {
            full[at] = '\0';
            if (resource_get(set, full) != NULL)
                full[at] = '#';
            r = res_find(set, (full[at] = '#', full));
        }
        if (r == NULL)
            return set_fail(set, AW_INVALID, "%s: unresolved reference %.200s",
                            set->where, ref);
        *out = r->v;
        *out_base = r->base;
        return AW_OK;
    }
    flen = full[at] == '#' ? pct_decode(full + at + 1, strlen(full + at + 1),
                                        frag, sizeof(frag))
                           : 0;
    full[at] = '\0';
    r = resource_get(set, full);
    if (r == NULL || flen < 0)
        return set_fail(set, set->rc != AW_OK ? set->rc : AW_INVALID,
                        "%s: unresolved reference %.200s", set->where, ref);
    *out = set_pointer(r->v, (struct slice){frag, (size_t)flen});
    if (*out == NULL)
        return set_fail(set, AW_INVALID, "%s: unresolved reference %.200s",
                        set->where, ref);
    struct vinfo *e = set_find(set, *out);

    if (e == NULL) {
        if (set_scan(set, *out, r->base) != AW_OK)
            return set->rc;
        e = set_find(set, *out);
    }
    /* A target outside any schema scanned so far (an OpenAPI
     * component) takes the resource's base, not that of a $id the
     * pointer crossed. */
    *out_base = e != NULL ? e->base : r->base;
    return AW_OK;
}

int
set_add_doc(struct schema_set *set)
{
    int rc = res_add(set, set->doc_base, set->doc, set->doc_base, false);

    if (rc == AW_OK && set->doc_is_schema)
        rc = set_scan(set, set->doc, set->doc_base);
    return rc;
}
