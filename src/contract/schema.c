/*
 * The schema compiler: JSON Schema (draft 4 with the OpenAPI 3.0
 * additions, or 2020-12) into the nodes of schema_int.h.
 *
 * A schema object is read in two passes: the first sorts its members
 * into the keywords we know (any other member refuses the whole set,
 * naming its JSON pointer), the second builds the node. A node is
 * registered before its subschemas are compiled, so a "$ref" that leads
 * back to a schema being compiled finds it and recursion needs nothing
 * special.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_set.h"

/* Every keyword a schema object may hold; the value of each, or NULL. */
struct kw {
    const struct json_value *type, *enum_, *const_, *properties, *required,
        *additional, *patprops, *propnames, *items, *prefix, *addl_items,
        *contains, *min_contains, *max_contains, *min_items, *max_items,
        *unique, *min_props, *max_props, *min_len, *max_len, *minimum,
        *maximum, *ex_min, *ex_max, *mult, *pattern, *format, *all_of,
        *any_of, *one_of, *not_, *if_, *then_, *else_, *dep_req,
        *dep_schemas, *dependencies, *ref, *nullable, *read_only,
        *write_only, *disc, *dynamic_ref, *uneval_props, *uneval_items;
};

/*
 * Which dialects know a keyword. A keyword missing here is refused at
 * load: among them $recursiveRef (2019-09), so a schema that needs it
 * cannot be used.
 * $schema and $vocabulary are accepted and not read: a set has the one
 * dialect its options name.
 */
enum { D4 = 1, OAS = 2, D2020 = 4, ALL = 7 };

#define KW(name, field, dialects) \
    {name, offsetof(struct kw, field), dialects}
#define IGNORED(name, dialects) {name, (size_t)-1, dialects}

static const struct kwdef {
    const char *name;
    size_t off;                 /* in struct kw, or -1: an annotation */
    unsigned dialects;
} kwdefs[] = {
    KW("type", type, ALL),
    KW("enum", enum_, ALL),
    KW("const", const_, D2020),
    KW("properties", properties, ALL),
    KW("required", required, ALL),
    KW("additionalProperties", additional, ALL),
    KW("patternProperties", patprops, ALL),
    KW("propertyNames", propnames, D2020),
    KW("items", items, ALL),
    KW("prefixItems", prefix, D2020),
    KW("additionalItems", addl_items, D4 | OAS),
    KW("contains", contains, D2020),
    KW("minContains", min_contains, D2020),
    KW("maxContains", max_contains, D2020),
    KW("minItems", min_items, ALL),
    KW("maxItems", max_items, ALL),
    KW("uniqueItems", unique, ALL),
    KW("minProperties", min_props, ALL),
    KW("maxProperties", max_props, ALL),
    KW("minLength", min_len, ALL),
    KW("maxLength", max_len, ALL),
    KW("minimum", minimum, ALL),
    KW("maximum", maximum, ALL),
    KW("exclusiveMinimum", ex_min, ALL),
    KW("exclusiveMaximum", ex_max, ALL),
    KW("multipleOf", mult, ALL),
    KW("pattern", pattern, ALL),
    KW("format", format, ALL),
    KW("allOf", all_of, ALL),
    KW("anyOf", any_of, ALL),
    KW("oneOf", one_of, ALL),
    KW("not", not_, ALL),
    KW("if", if_, D2020),
    KW("then", then_, D2020),
    KW("else", else_, D2020),
    KW("dependentRequired", dep_req, D2020),
    KW("dependentSchemas", dep_schemas, D2020),
    KW("dependencies", dependencies, ALL),
    KW("$ref", ref, ALL),
    KW("$dynamicRef", dynamic_ref, D2020),
    KW("unevaluatedProperties", uneval_props, D2020),
    KW("unevaluatedItems", uneval_items, D2020),
    KW("nullable", nullable, OAS),
    KW("readOnly", read_only, OAS | D2020),
    KW("writeOnly", write_only, OAS | D2020),
    KW("discriminator", disc, OAS | D2020),
    IGNORED("title", ALL),
    IGNORED("description", ALL),
    IGNORED("default", ALL),
    IGNORED("$schema", ALL),
    IGNORED("id", D4 | OAS),
    IGNORED("definitions", ALL),
    IGNORED("$id", D2020),
    IGNORED("$anchor", D2020),
    IGNORED("$dynamicAnchor", D2020),
    IGNORED("$defs", D2020),
    IGNORED("$comment", ALL),
    IGNORED("$vocabulary", D2020),
    IGNORED("examples", D2020),
    IGNORED("deprecated", OAS | D2020),
    IGNORED("contentMediaType", D2020),
    IGNORED("contentEncoding", D2020),
    IGNORED("contentSchema", D2020),
    IGNORED("example", OAS | D2020),
    IGNORED("externalDocs", OAS | D2020),
    IGNORED("xml", OAS | D2020),
};

static unsigned
dialect_bit(enum schema_dialect d)
{
    return d == SCHEMA_DRAFT4 ? D4 : d == SCHEMA_OAS30 ? OAS : D2020;
}

/* ------------------------------------------------------------------ */
/* Where we are, for messages                                          */
/* ------------------------------------------------------------------ */

/* Append "/name" (escaped as a JSON pointer) to the location; returns
 * the length to restore. */
static size_t
where_push(struct schema_set *set, struct slice name)
{
    size_t old = set->where_len, cap = sizeof(set->where) - 1;

    if (set->where_len < cap)
        set->where[set->where_len++] = '/';
    for (size_t i = 0; i < name.len && set->where_len + 2 < cap; i++) {
        char c = name.ptr[i];

        if (c == '~' || c == '/') {
            set->where[set->where_len++] = '~';
            c = c == '~' ? '0' : '1';
        }
        set->where[set->where_len++] = c;
    }
    set->where[set->where_len] = '\0';
    return old;
}

static size_t
where_push_index(struct schema_set *set, size_t i)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%zu", i);

    return where_push(set, (struct slice){num, (size_t)n});
}

static void
where_pop(struct schema_set *set, size_t len)
{
    set->where_len = len;
    set->where[len] = '\0';
}

/* Fail naming the keyword kw at the current location. */
static struct schema *
fail_kw(struct schema_set *set, const char *kw, const char *why)
{
    set_fail(set, AW_INVALID, "%s/%s: %s", set->where, kw, why);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Small values                                                        */
/* ------------------------------------------------------------------ */

/* A non-negative integer keyword into *out; false (failure recorded)
 * otherwise. Absent: *out unchanged. */
static bool
get_count(struct schema_set *set, const struct json_value *v,
          const char *kw, uint32_t *out)
{
    struct dec d;
    char buf[64];

    if (v == NULL)
        return true;
    if (v->type != JSON_NUMBER ||
        dec_parse(v->u.num.text, buf, sizeof(buf), &d) != AW_OK ||
        d.neg || !dec_is_int(&d)) {
        fail_kw(set, kw, "must be a non-negative integer");
        return false;
    }
    *out = v->u.num.d >= (double)UINT32_MAX - 1 ? UINT32_MAX - 1
                                                : (uint32_t)v->u.num.d;
    return true;
}

/* A number keyword as an exact decimal kept in the set. */
static bool
get_dec(struct schema_set *set, const struct json_value *v, const char *kw,
        struct dec *out)
{
    char buf[DEC_MAX_DIGITS];

    if (v->type != JSON_NUMBER ||
        dec_parse(v->u.num.text, buf, sizeof(buf), out) != AW_OK) {
        fail_kw(set, kw, "must be a number");
        return false;
    }
    out->dig = set_strdup(set, buf, out->n);
    if (out->dig == NULL) {
        set_fail(set, AW_NOMEM, "out of memory");
        return false;
    }
    return true;
}

static bool
get_bool(struct schema_set *set, const struct json_value *v, const char *kw,
         bool *out)
{
    if (v == NULL)
        return true;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE) {
        fail_kw(set, kw, "must be a boolean");
        return false;
    }
    *out = v->type == JSON_TRUE;
    return true;
}

static uint8_t
type_bit(struct slice n)
{
    static const struct {
        const char *name;
        uint8_t bit;
    } types[] = {
        {"null", T_NULL},    {"boolean", T_BOOL}, {"integer", T_INT},
        {"number", T_NUM},   {"string", T_STR},   {"array", T_ARR},
        {"object", T_OBJ},
    };

    for (size_t i = 0; i < ARRAY_LEN(types); i++)
        if (n.len == strlen(types[i].name) &&
            memcmp(n.ptr, types[i].name, n.len) == 0)
            return types[i].bit;
    return 0;
}

static bool
compile_type(struct schema_set *set, struct schema *s,
             const struct json_value *v)
{
    s->types = 0;
    if (v->type == JSON_STRING) {
        s->types = type_bit(v->u.str);
    } else if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++) {
            const struct json_value *t = v->u.arr.items[i];
            uint8_t b = t->type == JSON_STRING ? type_bit(t->u.str) : 0;

            if (b == 0)
                break;
            s->types |= b;
            if (i + 1 == v->u.arr.n)
                return true;
        }
        if (v->u.arr.n > 0)
            s->types = 0;
    }
    if (s->types == 0) {
        fail_kw(set, "type", "must name JSON types");
        return false;
    }
    return true;
}

static bool
compile_enum(struct schema_set *set, struct schema *s,
             const struct json_value *en, const struct json_value *cst)
{
    size_t n = cst != NULL ? 1 : 0;

    if (en != NULL) {
        if (en->type != JSON_ARRAY) {
            fail_kw(set, "enum", "must be an array");
            return false;
        }
        n += en->u.arr.n;
    }
    s->enums = arena_alloc(&set->a, MAX(n, 1) * sizeof(uint64_t));
    if (s->enums == NULL) {
        set_fail(set, AW_NOMEM, "out of memory");
        return false;
    }
    /* Both present: the instance must equal the const and be in the
     * enum; the const alone decides when it is in the enum, and nothing
     * is valid otherwise. */
    if (cst != NULL) {
        uint64_t h = hash_value(cst);
        bool in = en == NULL;

        for (size_t i = 0; en != NULL && i < en->u.arr.n; i++)
            in = in || hash_value(en->u.arr.items[i]) == h;
        s->enums[0] = h;
        s->nenums = in ? 1 : 0;
    } else {
        for (size_t i = 0; i < en->u.arr.n; i++)
            s->enums[i] = hash_value(en->u.arr.items[i]);
        s->nenums = (uint32_t)en->u.arr.n;
    }
    s->flags |= S_HAS_ENUM;
    return true;
}

static pcre2_code *
compile_regex(struct schema_set *set, const struct json_value *v,
              const char *kw)
{
    int code;
    PCRE2_SIZE off;
    pcre2_code *re;
    PCRE2_UCHAR msg[128];

    if (v->type != JSON_STRING) {
        fail_kw(set, kw, "must be a string");
        return NULL;
    }
    size_t pcap = v->u.str.len * REGEX_GROWTH + 16;
    char *pat = malloc(pcap);
    size_t plen;

    if (pat == NULL || regex_translate(v->u.str, pat, pcap, &plen) != AW_OK) {
        free(pat);
        set_fail(set, AW_NOMEM, "out of memory");
        return NULL;
    }
    re = pcre2_compile((PCRE2_SPTR)pat, plen,
                       PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &code, &off, NULL);
    free(pat);
    if (re == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        set_fail(set, AW_INVALID, "%s/%s: regular expression refused at "
                 "offset %zu: %s", set->where, kw, (size_t)off,
                 (const char *)msg);
        return NULL;
    }
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    if (set->ncodes == set->codes_cap) {
        size_t cap = set->codes_cap ? set->codes_cap * 2 : 16;
        pcre2_code **c = realloc(set->codes, cap * sizeof(*c));

        if (c == NULL) {
            pcre2_code_free(re);
            set_fail(set, AW_NOMEM, "out of memory");
            return NULL;
        }
        set->codes = c;
        set->codes_cap = cap;
    }
    set->codes[set->ncodes++] = re;
    return re;
}

/* ------------------------------------------------------------------ */
/* Subschemas                                                          */
/* ------------------------------------------------------------------ */

/* Compile the subschema v found at keyword kw (and index or name). */
static const struct schema *
sub(struct schema_set *set, const struct json_value *v, const char *base,
    const char *kw)
{
    size_t old = kw[0] != '\0' ? where_push(set, (struct slice){kw,
                                                                  strlen(kw)})
                                : set->where_len;
    const struct schema *s;

    if (v->type != JSON_OBJECT && v->type != JSON_TRUE &&
        v->type != JSON_FALSE) {
        where_pop(set, old);
        set_fail(set, AW_INVALID, "%s/%s: must be a schema", set->where, kw);
        return NULL;
    }
    s = set_compile(set, v, base);
    where_pop(set, old);
    return s;
}

/* An array of subschemas (allOf, anyOf, oneOf, prefixItems). */
static bool
sub_list(struct schema_set *set, const struct json_value *v,
         const char *base, const char *kw, const struct schema ***out,
         uint32_t *n)
{
    size_t old;

    if (v == NULL)
        return true;
    if (v->type != JSON_ARRAY || v->u.arr.n == 0) {
        fail_kw(set, kw, "must be a non-empty array of schemas");
        return false;
    }
    *out = arena_alloc(&set->a, v->u.arr.n * sizeof(**out));
    if (*out == NULL) {
        set_fail(set, AW_NOMEM, "out of memory");
        return false;
    }
    old = where_push(set, (struct slice){kw, strlen(kw)});
    for (size_t i = 0; i < v->u.arr.n; i++) {
        size_t at = where_push_index(set, i);

        (*out)[i] = sub(set, v->u.arr.items[i], base, "");
        set->where_len = at;
        if ((*out)[i] == NULL)
            break;
    }
    where_pop(set, old);
    *n = (uint32_t)v->u.arr.n;
    return set->rc == AW_OK;
}

static const struct schema *
opt_sub(struct schema_set *set, const struct json_value *v, const char *base,
        const char *kw, bool *ok)
{
    const struct schema *s;

    if (v == NULL)
        return NULL;
    s = sub(set, v, base, kw);
    if (s == NULL)
        *ok = false;
    return s;
}


/* ------------------------------------------------------------------ */
/* Numbers and objects                                                 */
/* ------------------------------------------------------------------ */

/*
 * 2020-12 exclusiveMinimum/exclusiveMaximum: a number. Both bounds must
 * hold, so only the stricter of minimum and exclusiveMinimum is kept.
 */
static bool
compile_exclusive(struct schema_set *set, struct schema *s,
                  const struct json_value *v, bool lower)
{
    struct dec d, *cur = lower ? &s->min : &s->max;
    uint32_t has = lower ? S_HAS_MIN : S_HAS_MAX;
    int c;

    if (v == NULL)
        return true;
    if (!get_dec(set, v, lower ? "exclusiveMinimum" : "exclusiveMaximum",
                 &d))
        return false;
    c = (s->flags & has) ? dec_cmp(&d, cur) : 0;
    if (!(s->flags & has) || (lower ? c >= 0 : c <= 0)) {
        *cur = d;
        s->flags |= has | (lower ? S_MIN_EXCL : S_MAX_EXCL);
    }
    return true;
}

/* The names an object schema knows, built before they are sorted. */
struct names {
    struct sprop *e;
    uint32_t n, cap;
    int bits;
};

static struct sprop *
names_find(struct names *nm, struct slice name)
{
    for (uint32_t i = 0; i < nm->n; i++)
        if (slice_eq(nm->e[i].name, name))
            return &nm->e[i];
    return NULL;
}

static struct sprop *
names_add(struct schema_set *set, struct names *nm, struct slice name)
{
    struct sprop *p = names_find(nm, name);

    if (p != NULL)
        return p;
    if (nm->n == nm->cap) {
        uint32_t cap = nm->cap ? nm->cap * 2 : 16;
        struct sprop *e = arena_alloc(&set->a, cap * sizeof(*e));

        if (e == NULL) {
            set_fail(set, AW_NOMEM, "out of memory");
            return NULL;
        }
        if (nm->n > 0)
            memcpy(e, nm->e, nm->n * sizeof(*e));
        nm->e = e;
        nm->cap = cap;
    }
    p = &nm->e[nm->n++];
    *p = (struct sprop){name, NULL, -1};
    return p;
}

/* The tracked bit of name, assigned on first use; -1 past the limit. */
static int
track(struct schema_set *set, struct names *nm, struct slice name,
      const char *kw)
{
    struct sprop *p = names_add(set, nm, name);

    if (p == NULL)
        return -1;
    if (p->bit < 0) {
        if (nm->bits == SCHEMA_MAX_TRACKED) {
            fail_kw(set, kw, "more than 64 names required or dependent");
            return -1;
        }
        p->bit = nm->bits++;
    }
    return p->bit;
}

/* Bits of an array of names (required, dependentRequired values). */
static bool
track_list(struct schema_set *set, struct names *nm,
           const struct json_value *v, const char *kw, uint64_t *bits)
{
    if (v->type != JSON_ARRAY) {
        fail_kw(set, kw, "must be an array of strings");
        return false;
    }
    for (size_t i = 0; i < v->u.arr.n; i++) {
        int b;

        if (v->u.arr.items[i]->type != JSON_STRING) {
            fail_kw(set, kw, "must be an array of strings");
            return false;
        }
        b = track(set, nm, v->u.arr.items[i]->u.str, kw);
        if (b < 0)
            return false;
        *bits |= 1ULL << b;
    }
    return true;
}

static bool
compile_properties(struct schema_set *set, struct names *nm,
                   const struct json_value *v, const char *base)
{
    size_t old;

    if (v->type != JSON_OBJECT) {
        fail_kw(set, "properties", "must be an object of schemas");
        return false;
    }
    old = where_push(set, SLICE_LIT("properties"));
    for (size_t i = 0; i < v->u.obj.n && set->rc == AW_OK; i++) {
        const struct json_member *m = &v->u.obj.members[i];
        struct sprop *p = names_add(set, nm, m->name);

        if (p != NULL)
            p->s = sub(set, m->value, base, m->name.ptr);
    }
    where_pop(set, old);
    return set->rc == AW_OK;
}

static bool
compile_patterns(struct schema_set *set, struct schema *s,
                 const struct json_value *v, const char *base)
{
    size_t old;

    if (v->type != JSON_OBJECT) {
        fail_kw(set, "patternProperties", "must be an object of schemas");
        return false;
    }
    s->pats = arena_alloc(&set->a, MAX(v->u.obj.n, 1) * sizeof(*s->pats));
    if (s->pats == NULL)
        return set_fail(set, AW_NOMEM, "out of memory") == AW_OK;
    old = where_push(set, SLICE_LIT("patternProperties"));
    for (size_t i = 0; i < v->u.obj.n && set->rc == AW_OK; i++) {
        const struct json_member *m = &v->u.obj.members[i];
        struct json_value re = {.type = JSON_STRING, .u.str = m->name};

        s->pats[i].re = compile_regex(set, &re, "");
        if (s->pats[i].re != NULL)
            s->pats[i].s = sub(set, m->value, base, m->name.ptr);
    }
    where_pop(set, old);
    s->npats = (uint32_t)v->u.obj.n;
    return set->rc == AW_OK;
}

/* dependentRequired, dependentSchemas, and draft 4 dependencies (whose
 * values are either). */
static bool
compile_dependencies(struct schema_set *set, struct schema *s,
                     struct names *nm, const struct json_value *v,
                     const char *kw, const char *base)
{
    size_t old;

    if (v->type != JSON_OBJECT) {
        fail_kw(set, kw, "must be an object");
        return false;
    }
    s->deps = arena_alloc(&set->a, (s->ndeps + v->u.obj.n + 1) *
                                       sizeof(*s->deps));
    s->depschemas = arena_alloc(&set->a, (s->ndepschemas + v->u.obj.n + 1) *
                                             sizeof(*s->depschemas));
    if (s->deps == NULL || s->depschemas == NULL)
        return set_fail(set, AW_NOMEM, "out of memory") == AW_OK;
    old = where_push(set, (struct slice){kw, strlen(kw)});
    for (size_t i = 0; i < v->u.obj.n && set->rc == AW_OK; i++) {
        const struct json_member *m = &v->u.obj.members[i];
        int key = track(set, nm, m->name, kw);
        uint64_t need = 0;

        if (key < 0)
            break;
        if (m->value->type == JSON_ARRAY && strcmp(kw, "dependentSchemas")) {
            if (track_list(set, nm, m->value, m->name.ptr, &need))
                s->deps[s->ndeps++] = (struct sdep){key, need};
        } else if (strcmp(kw, "dependentRequired") != 0) {
            const struct schema *d = sub(set, m->value, base, m->name.ptr);

            if (d != NULL)
                s->depschemas[s->ndepschemas++] =
                    (struct sdepschema){key, d};
        } else {
            fail_kw(set, m->name.ptr, "must be an array of strings");
        }
    }
    where_pop(set, old);
    return set->rc == AW_OK;
}

/* The $ref text of a branch schema, or an empty slice. */
static struct slice
branch_ref(const struct json_value *b)
{
    const struct json_value *r = json_get(b, "$ref");

    return r != NULL && r->type == JSON_STRING ? r->u.str : SLICE_NULL;
}

/* True when the reference r names the schema name or the mapping value
 * m: equal, or its last segment is m. */
static bool
ref_names(struct slice r, struct slice m)
{
    if (slice_eq(r, m))
        return true;
    return r.len > m.len && r.ptr[r.len - m.len - 1] == '/' &&
           memcmp(r.ptr + r.len - m.len, m.ptr, m.len) == 0;
}

static bool
disc_add(struct schema_set *set, struct schema *s, struct slice value,
         unsigned branch)
{
    for (uint32_t i = 0; i < s->ndisc; i++)
        if (slice_eq(s->disc[i].value, value))
            return true;        /* the mapping, read first, wins */
    s->disc[s->ndisc++] = (struct sdisc){value, branch};
    return true;
}

/*
 * OpenAPI discriminator: the value of propertyName selects the oneOf
 * (or anyOf) branch that must hold, by the mapping or by the last
 * segment of a branch's $ref. Without oneOf/anyOf (a discriminator on a
 * base schema that others extend with allOf) it selects nothing here
 * and is an annotation.
 */
static bool
compile_discriminator(struct schema_set *set, struct schema *s,
                      struct names *nm, const struct kw *k)
{
    const struct json_value *prop = json_get(k->disc, "propertyName");
    const struct json_value *map = json_get(k->disc, "mapping");
    const struct json_value *br = k->one_of ? k->one_of : k->any_of;
    size_t n;

    if (prop == NULL || prop->type != JSON_STRING ||
        (map != NULL && map->type != JSON_OBJECT))
        return fail_kw(set, "discriminator", "needs a propertyName string "
                       "and a mapping object") != NULL;
    if (br == NULL || br->type != JSON_ARRAY)
        return true;
    if (br->u.arr.n > SCHEMA_MAX_BRANCHES)
        return fail_kw(set, "discriminator", "more than 64 branches") != NULL;
    n = br->u.arr.n + (map ? map->u.obj.n : 0);
    s->disc = arena_alloc(&set->a, MAX(n, 1) * sizeof(*s->disc));
    if (s->disc == NULL)
        return set_fail(set, AW_NOMEM, "out of memory") == AW_OK;
    s->disc_name = prop->u.str;
    s->disc_bit = track(set, nm, prop->u.str, "discriminator");
    for (size_t i = 0; map != NULL && i < map->u.obj.n; i++) {
        const struct json_member *m = &map->u.obj.members[i];
        size_t b = 0;

        while (b < br->u.arr.n &&
               (m->value->type != JSON_STRING ||
                !ref_names(branch_ref(br->u.arr.items[b]), m->value->u.str)))
            b++;
        if (b == br->u.arr.n)
            return fail_kw(set, "discriminator", "mapping names a schema "
                           "that is not one of the branches") != NULL;
        disc_add(set, s, m->name, (unsigned)b);
    }
    for (size_t b = 0; b < br->u.arr.n; b++) {
        struct slice r = branch_ref(br->u.arr.items[b]);
        size_t at = r.len;

        while (at > 0 && r.ptr[at - 1] != '/')
            at--;
        if (r.len > at)
            disc_add(set, s, (struct slice){r.ptr + at, r.len - at},
                     (unsigned)b);
    }
    return s->disc_bit >= 0;
}

static int
prop_cmp(const void *a, const void *b)
{
    const struct sprop *x = a, *y = b;

    if (x->name.len != y->name.len)
        return x->name.len < y->name.len ? -1 : 1;
    return memcmp(x->name.ptr, y->name.ptr, x->name.len);
}

const struct sprop *
schema_prop(const struct schema *s, struct slice name)
{
    uint32_t lo = 0, hi = s->nprops;

    /* Sorted by length first, so most probes compare one word. */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const struct sprop *p = &s->props[mid];
        int c = p->name.len != name.len
                    ? (p->name.len < name.len ? -1 : 1)
                : name.len == 0 ? 0
                : p->name.ptr[0] != name.ptr[0]
                    ? ((unsigned char)p->name.ptr[0] <
                       (unsigned char)name.ptr[0] ? -1 : 1)
                    : memcmp(p->name.ptr, name.ptr, name.len);

        if (c == 0)
            return p;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool
compile_objects(struct schema_set *set, struct schema *s, const struct kw *k,
                const char *base)
{
    struct names nm = {0};
    bool ok = true;

    if (!get_count(set, k->min_props, "minProperties", &s->min_props) ||
        !get_count(set, k->max_props, "maxProperties", &s->max_props))
        return false;
    if ((k->properties && !compile_properties(set, &nm, k->properties,
                                              base)) ||
        (k->patprops && !compile_patterns(set, s, k->patprops, base)) ||
        (k->required &&
         !track_list(set, &nm, k->required, "required", &s->required)) ||
        (k->dep_req && !compile_dependencies(set, s, &nm, k->dep_req,
                                             "dependentRequired", base)) ||
        (k->dep_schemas && !compile_dependencies(set, s, &nm, k->dep_schemas,
                                                 "dependentSchemas", base)) ||
        (k->dependencies && !compile_dependencies(set, s, &nm,
                                                  k->dependencies,
                                                  "dependencies", base)) ||
        (k->disc && !compile_discriminator(set, s, &nm, k)))
        return false;
    s->additional = opt_sub(set, k->additional, base, "additionalProperties",
                            &ok);
    s->names = opt_sub(set, k->propnames, base, "propertyNames", &ok);
    s->uneval_props = opt_sub(set, k->uneval_props, base,
                              "unevaluatedProperties", &ok);
    if (!ok)
        return false;
    if (s->uneval_props != NULL)
        s->flags |= S_UNEVAL;
    if (nm.n > 1)
        qsort(nm.e, nm.n, sizeof(*nm.e), prop_cmp);
    s->props = nm.e;
    s->nprops = nm.n;
    if (k->properties && !k->additional && !k->patprops && !k->uneval_props)
        s->flags |= S_CLOSED;
    if (nm.bits > 0)
        s->flags |= S_NEED_NAMES;
    if (s->nprops || s->npats || s->additional || s->names ||
        s->min_props || k->max_props || s->ndeps || s->ndepschemas ||
        s->disc_bit >= 0 || s->uneval_props)
        s->flags |= S_OBJECT_KW;
    return true;
}

/* ------------------------------------------------------------------ */
/* One schema object                                                   */
/* ------------------------------------------------------------------ */

/* Sort the members of v into k; refuse any keyword we do not know. */
static bool
sort_keywords(struct schema_set *set, const struct json_value *v,
              struct kw *k)
{
    unsigned d = dialect_bit(set->opt.dialect);

    memset(k, 0, sizeof(*k));
    for (size_t i = 0; i < v->u.obj.n; i++) {
        const struct json_member *m = &v->u.obj.members[i];
        const struct kwdef *def = NULL;

        for (size_t j = 0; j < ARRAY_LEN(kwdefs) && def == NULL; j++)
            if (m->name.len == strlen(kwdefs[j].name) &&
                memcmp(m->name.ptr, kwdefs[j].name, m->name.len) == 0 &&
                (kwdefs[j].dialects & d))
                def = &kwdefs[j];
        if (def == NULL && m->name.len > 2 &&
            memcmp(m->name.ptr, "x-", 2) == 0 && (d & (OAS | D2020)))
            continue;           /* OpenAPI extensions are annotations */
        if (def == NULL) {
            size_t old = where_push(set, m->name);

            set_fail(set, AW_INVALID, "%s: unsupported keyword", set->where);
            where_pop(set, old);
            return false;
        }
        if (def->off != (size_t)-1)
            *(const struct json_value **)((char *)k + def->off) = m->value;
    }
    return true;
}

static bool
compile_numbers(struct schema_set *set, struct schema *s, const struct kw *k)
{
    bool d4 = set->opt.dialect != SCHEMA_2020_12, exmin = false,
         exmax = false;

    if (k->minimum && !get_dec(set, k->minimum, "minimum", &s->min))
        return false;
    if (k->maximum && !get_dec(set, k->maximum, "maximum", &s->max))
        return false;
    s->flags |= (k->minimum ? S_HAS_MIN : 0) | (k->maximum ? S_HAS_MAX : 0);
    if (d4) {
        if (!get_bool(set, k->ex_min, "exclusiveMinimum", &exmin) ||
            !get_bool(set, k->ex_max, "exclusiveMaximum", &exmax))
            return false;
        s->flags |= (exmin && k->minimum ? S_MIN_EXCL : 0) |
                    (exmax && k->maximum ? S_MAX_EXCL : 0);
    } else {
        if (!compile_exclusive(set, s, k->ex_min, true) ||
            !compile_exclusive(set, s, k->ex_max, false))
            return false;
    }
    if (k->mult != NULL) {
        if (!get_dec(set, k->mult, "multipleOf", &s->mult))
            return false;
        if (s->mult.n == 0 || s->mult.neg) {
            fail_kw(set, "multipleOf", "must be above zero");
            return false;
        }
        s->flags |= S_HAS_MULT;
    }
    if (s->flags & (S_HAS_MIN | S_HAS_MAX | S_HAS_MULT))
        s->flags |= S_NUMBER_KW;
    return true;
}

static bool
compile_strings(struct schema_set *set, struct schema *s, const struct kw *k)
{
    if (!get_count(set, k->min_len, "minLength", &s->min_len) ||
        !get_count(set, k->max_len, "maxLength", &s->max_len))
        return false;
    if (k->pattern != NULL &&
        (s->pattern = compile_regex(set, k->pattern, "pattern")) == NULL)
        return false;
    if (k->format != NULL) {
        if (k->format->type != JSON_STRING) {
            fail_kw(set, "format", "must be a string");
            return false;
        }
        if (set->opt.assert_format)
            s->format = (uint8_t)format_by_name(k->format->u.str);
    }
    if (k->min_len || k->max_len || s->pattern || s->format)
        s->flags |= S_STRING_KW;
    return true;
}

static bool
compile_arrays(struct schema_set *set, struct schema *s, const struct kw *k,
               const char *base)
{
    bool ok = true, uniq = false;

    if (!get_count(set, k->min_items, "minItems", &s->min_items) ||
        !get_count(set, k->max_items, "maxItems", &s->max_items) ||
        !get_count(set, k->min_contains, "minContains", &s->min_contains) ||
        !get_count(set, k->max_contains, "maxContains", &s->max_contains) ||
        !get_bool(set, k->unique, "uniqueItems", &uniq))
        return false;
    s->flags |= uniq ? S_UNIQUE : 0;
    if (set->opt.dialect == SCHEMA_2020_12) {
        if (k->items != NULL && k->items->type == JSON_ARRAY)
            return fail_kw(set, "items", "must be a schema") != NULL;
        ok = sub_list(set, k->prefix, base, "prefixItems", &s->prefix,
                      &s->nprefix);
        s->items = opt_sub(set, k->items, base, "items", &ok);
    } else if (k->items != NULL && k->items->type == JSON_ARRAY) {
        if (k->items->u.arr.n > 0)
            ok = sub_list(set, k->items, base, "items", &s->prefix,
                          &s->nprefix);
        s->items = opt_sub(set, k->addl_items, base, "additionalItems", &ok);
    } else {
        s->items = opt_sub(set, k->items, base, "items", &ok);
    }
    s->contains = opt_sub(set, k->contains, base, "contains", &ok);
    s->uneval_items = opt_sub(set, k->uneval_items, base, "unevaluatedItems",
                              &ok);
    if (s->uneval_items != NULL)
        s->flags |= S_UNEVAL_ITEMS;
    if (s->contains == NULL)
        s->min_contains = 1, s->max_contains = SCHEMA_NO_MAX;
    if (ok && (s->min_items || k->max_items || uniq || s->nprefix ||
               s->items || s->contains || s->uneval_items))
        s->flags |= S_ARRAY_KW;
    return ok;
}

static bool
compile_combinators(struct schema_set *set, struct schema *s,
                    const struct kw *k, const char *base)
{
    bool ok = sub_list(set, k->all_of, base, "allOf", &s->all_of,
                       &s->nall) &&
              sub_list(set, k->any_of, base, "anyOf", &s->any_of,
                       &s->nany) &&
              sub_list(set, k->one_of, base, "oneOf", &s->one_of, &s->none);

    if (!ok)
        return false;
    s->not_ = opt_sub(set, k->not_, base, "not", &ok);
    s->if_ = opt_sub(set, k->if_, base, "if", &ok);
    if (s->if_ != NULL) {
        s->then_ = opt_sub(set, k->then_, base, "then", &ok);
        s->else_ = opt_sub(set, k->else_, base, "else", &ok);
    }
    return ok;
}

/* "$ref": the node of its target, found through the registry. */
static bool
compile_ref(struct schema_set *set, struct schema *s,
            const struct json_value *ref, const char *base)
{
    const struct json_value *target;
    const char *tbase;
    size_t old;

    if (ref->type != JSON_STRING)
        return fail_kw(set, "$ref", "must be a string") != NULL;
    if (set_resolve(set, base, ref->u.str.ptr, &target, &tbase) != AW_OK)
        return false;
    if (++set->ref_depth > 200)
        return set_fail(set, AW_TOOBIG, "references nested too deeply") ==
               AW_OK;
    old = where_push(set, SLICE_LIT("$ref"));
    s->ref = set_compile(set, target, tbase);
    where_pop(set, old);
    set->ref_depth--;
    return s->ref != NULL;
}

/*
 * "$dynamicRef": resolved as "$ref" is; when its target declares the
 * same name as a "$dynamicAnchor", the validator looks the name up in
 * the resources of the evaluation path and takes the outermost.
 */
static bool
compile_dynamic_ref(struct schema_set *set, struct schema *s,
                    const struct json_value *ref, const char *base)
{
    const struct json_value *target, *anchor;
    const char *tbase, *hash;
    size_t old;

    if (ref->type != JSON_STRING)
        return fail_kw(set, "$dynamicRef", "must be a string") != NULL;
    if (set_resolve(set, base, ref->u.str.ptr, &target, &tbase) != AW_OK)
        return false;
    old = where_push(set, SLICE_LIT("$dynamicRef"));
    s->dyn_ref = set_compile(set, target, tbase);
    where_pop(set, old);
    if (s->dyn_ref == NULL)
        return false;
    hash = strchr(ref->u.str.ptr, '#');
    anchor = json_get(target, "$dynamicAnchor");
    if (hash != NULL && hash[1] != '/' && json_is(anchor, JSON_STRING) &&
        strcmp(anchor->u.str.ptr, hash + 1) == 0)
        s->dyn_name = anchor->u.str;
    return true;
}

/*
 * The resource whose base is base, with its dynamic anchors compiled.
 * It is linked before the anchors are compiled, so an anchor that leads
 * back here finds it.
 */
static const struct sres *
set_sres(struct schema_set *set, const char *base)
{
    struct sres *r;
    size_t n = 0;

    for (r = set->sres; r != NULL; r = r->next)
        if (strcmp(r->base, base) == 0)
            return r;
    for (size_t i = 0; i < set->nres; i++)
        n += set->res[i].dynamic && strcmp(set->res[i].base, base) == 0;
    r = arena_alloc(&set->a, sizeof(*r));
    if (r == NULL || (r->anchors = arena_alloc(&set->a, MAX(n, 1) *
                                               sizeof(*r->anchors))) == NULL)
        return NULL;
    r->base = base;
    r->n = 0;
    r->next = set->sres;
    set->sres = r;
    for (size_t i = 0; i < set->nres && r->n < n; i++) {
        const struct resource e = set->res[i];
        const char *name;
        const struct schema *s;

        if (!e.dynamic || strcmp(e.base, base) != 0)
            continue;
        name = strchr(e.uri, '#');
        s = set_compile(set, e.v, base);
        if (name == NULL || s == NULL)
            return NULL;
        r->anchors[r->n++] = (struct sdyn){{name + 1, strlen(name + 1)}, s};
    }
    return r;
}

static bool
compile_flags(struct schema_set *set, struct schema *s, const struct kw *k)
{
    bool ro = false, wo = false, nullable = false;

    if (!get_bool(set, k->read_only, "readOnly", &ro) ||
        !get_bool(set, k->write_only, "writeOnly", &wo) ||
        !get_bool(set, k->nullable, "nullable", &nullable))
        return false;
    s->flags |= (ro ? S_READONLY : 0) | (wo ? S_WRITEONLY : 0);
    if (nullable && k->type != NULL)
        s->types |= T_NULL;
    return true;
}

/* Fill node s from the schema object v. */
static bool
compile_object(struct schema_set *set, struct schema *s,
               const struct json_value *v, const char *base)
{
    struct kw k;

    if (!sort_keywords(set, v, &k))
        return false;
    if (k.ref != NULL && set->opt.dialect != SCHEMA_2020_12)
        return compile_ref(set, s, k.ref, base);
    if (k.dynamic_ref != NULL &&
        !compile_dynamic_ref(set, s, k.dynamic_ref, base))
        return false;
    if (k.type != NULL && !compile_type(set, s, k.type))
        return false;
    if ((k.enum_ != NULL || k.const_ != NULL) &&
        !compile_enum(set, s, k.enum_, k.const_))
        return false;
    return compile_flags(set, s, &k) && compile_numbers(set, s, &k) &&
           compile_strings(set, s, &k) && compile_arrays(set, s, &k, base) &&
           compile_combinators(set, s, &k, base) &&
           compile_objects(set, s, &k, base) &&
           (k.ref == NULL || compile_ref(set, s, k.ref, base));
}

struct schema *
set_compile(struct schema_set *set, const struct json_value *v,
            const char *base)
{
    struct vinfo *e = set_find(set, v);
    struct schema *s;

    if (e == NULL) {
        if (set_scan(set, v, base) != AW_OK)
            return NULL;
        e = set_find(set, v);
    }
    if (e == NULL) {
        set_fail(set, AW_INVALID, "%s: must be a schema", set->where);
        return NULL;
    }
    if (e->node != NULL)
        return e->node;
    if (++set->nodes > set->opt.max_nodes) {
        set_fail(set, AW_TOOBIG, "more than %zu schema nodes",
                 set->opt.max_nodes);
        return NULL;
    }
    s = arena_alloc(&set->a, sizeof(*s));
    if (s == NULL) {
        set_fail(set, AW_NOMEM, "out of memory");
        return NULL;
    }
    memset(s, 0, sizeof(*s));
    s->types = T_ALL;
    s->max_len = s->max_items = s->max_props = SCHEMA_NO_MAX;
    s->max_contains = SCHEMA_NO_MAX;
    s->min_contains = 1;
    s->disc_bit = -1;
    e->node = s;
    /* Compiling more may move the table e points into. */
    base = e->base;
    e = NULL;
    if (set->opt.dialect == SCHEMA_2020_12 &&
        (s->res = set_sres(set, base)) == NULL) {
        set_fail(set, set->rc != AW_OK ? set->rc : AW_NOMEM,
                 "out of memory");
        return NULL;
    }
    if (v->type == JSON_FALSE)
        s->flags |= S_FALSE;
    else if (v->type == JSON_OBJECT && !compile_object(set, s, v, base))
        return NULL;
    if (s->ref || s->dyn_ref || s->nall || s->nany || s->none || s->not_ ||
        s->if_ || s->ndepschemas)
        s->flags |= S_INPLACE;
    if (s->flags == 0 && s->types == T_ALL)
        s->flags |= S_TRIVIAL;
    return s;
}

/* ------------------------------------------------------------------ */
/* Cycles                                                              */
/* ------------------------------------------------------------------ */

#define CYCLE_MAX_DEPTH 4096  /* in-place applicators checked in a row */

static bool check_cycles(struct schema_set *set, struct schema *s,
                         unsigned depth);

static bool
check_list(struct schema_set *set, const struct schema *const *l,
           uint32_t n, unsigned depth)
{
    for (uint32_t i = 0; i < n; i++)
        if (!check_cycles(set, (struct schema *)l[i], depth + 1))
            return false;
    return true;
}

/*
 * Refuse a schema that applies itself to the same value through its
 * in-place applicators ($ref, allOf, anyOf, oneOf, not, if/then/else,
 * dependentSchemas) without descending into the instance: validating
 * it would never end. The nodes are the set's own, still private, so
 * marking them is allowed.
 */
static bool
check_cycles(struct schema_set *set, struct schema *s, unsigned depth)
{
    if (s->mark == 2)
        return true;
    if (s->mark == 1 || depth > CYCLE_MAX_DEPTH) {
        set_fail(set, AW_INVALID, "%s: the schema applies itself to the "
                 "same value through $ref or a combinator, endlessly",
                 set->where);
        return false;
    }
    s->mark = 1;
    if ((s->ref && !check_cycles(set, (struct schema *)s->ref, depth + 1)) ||
        (s->dyn_ref &&
         !check_cycles(set, (struct schema *)s->dyn_ref, depth + 1)) ||
        !check_list(set, s->all_of, s->nall, depth) ||
        !check_list(set, s->any_of, s->nany, depth) ||
        !check_list(set, s->one_of, s->none, depth) ||
        !check_list(set, &s->not_, s->not_ != NULL, depth) ||
        !check_list(set, &s->if_, s->if_ != NULL, depth) ||
        !check_list(set, &s->then_, s->then_ != NULL, depth) ||
        !check_list(set, &s->else_, s->else_ != NULL, depth))
        return false;
    for (uint32_t i = 0; i < s->ndepschemas; i++)
        if (!check_cycles(set, (struct schema *)s->depschemas[i].s,
                          depth + 1))
            return false;
    s->mark = 2;
    return true;
}

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

void
schema_options_default(struct schema_options *o)
{
    memset(o, 0, sizeof(*o));
    o->dialect = SCHEMA_2020_12;
    o->max_nodes = 100000;
    o->assert_format = true;
}

/* An OpenAPI document is not a schema itself; only what schema_at
 * names inside it is. */
static bool
is_openapi(const struct json_value *doc)
{
    return json_get(doc, "openapi") != NULL ||
           json_get(doc, "swagger") != NULL;
}

int
schema_compile(const struct json_value *doc, const struct schema_options *o,
               struct schema_set **out, char *err, size_t errlen)
{
    struct schema_set *set = calloc(1, sizeof(*set));
    struct schema *root = NULL;
    const char *base;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (set == NULL)
        return AW_NOMEM;
    arena_init(&set->a, 64 * 1024, (size_t)1 << 32);
    set->opt = *o;
    set->doc = doc;
    set->err = err;
    set->errlen = errlen;
    set->doc_is_schema = !is_openapi(doc);
    base = set_strdup(set, o->base_uri ? o->base_uri : "",
                      o->base_uri ? strlen(o->base_uri) : 0);
    set->doc_base = base;
    if (base == NULL || set_add_doc(set) != AW_OK ||
        (set->doc_is_schema &&
         ((root = set_compile(set, doc, base)) == NULL ||
          !check_cycles(set, root, 0)))) {
        int rc = set->rc != AW_OK ? set->rc : AW_NOMEM;

        schema_set_free(set);
        return rc;
    }
    set->err = NULL;
    *out = set;
    return AW_OK;
}

void
schema_set_free(struct schema_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->ncodes; i++)
        pcre2_code_free(set->codes[i]);
    free(set->codes);
    free(set->map);
    free(set->res);
    arena_fini(&set->a);
    free(set);
}

const struct schema *
schema_at(struct schema_set *set, const char *pointer, char *err,
          size_t errlen)
{
    const struct json_value *v;
    struct schema *s;
    char buf[URI_MAX];
    long n;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    set->err = err;
    set->errlen = errlen;
    set->rc = AW_OK;
    n = (long)strlen(pointer);
    if ((size_t)n >= sizeof(buf))
        return NULL;
    memcpy(buf, pointer, (size_t)n + 1);
    v = set_pointer(set->doc, (struct slice){buf, (size_t)n});
    if (v == NULL) {
        set_fail(set, AW_INVALID, "%s: no such location", pointer);
        set->err = NULL;
        return NULL;
    }
    slice_copy_cstr(set->where, sizeof(set->where),
                    (struct slice){pointer, (size_t)n});
    set->where_len = strlen(set->where);
    s = set_compile(set, v, set->doc_base);
    if (s != NULL && !check_cycles(set, s, 0))
        s = NULL;
    set->err = NULL;
    return s;
}

/* The T_* bits s admits through its own type, $ref and allOf. */
static unsigned
types_bits(const struct schema *s, unsigned depth)
{
    unsigned t = s->flags & S_FALSE ? 0 : s->types;

    if (depth > 16)
        return t;
    if (s->ref != NULL)
        t &= types_bits(s->ref, depth + 1);
    for (uint32_t i = 0; i < s->nall; i++)
        t &= types_bits(s->all_of[i], depth + 1);
    if (t & T_INT)
        t |= T_NUM;
    return t;
}

unsigned
schema_types(const struct schema *s)
{
    unsigned t = types_bits(s, 0), out = 0;

    if (t & T_NULL)
        out |= 1u << JSON_NULL;
    if (t & T_BOOL)
        out |= 1u << JSON_FALSE | 1u << JSON_TRUE;
    if (t & (T_INT | T_NUM))
        out |= 1u << JSON_NUMBER;
    if (t & T_STR)
        out |= 1u << JSON_STRING;
    if (t & T_ARR)
        out |= 1u << JSON_ARRAY;
    if (t & T_OBJ)
        out |= 1u << JSON_OBJECT;
    return out;
}
