/*
 * Checking the parameters of a request against its operation.
 *
 * Each parameter's text is taken from its location, split by its style
 * into a single value, the items of an array or the members of an
 * object, percent-decoded (path and query only: header and cookie
 * values are taken as sent), typed, and fed as JSON tokens to a
 * validator of its schema. Typing follows the schema: a value becomes a
 * NUMBER token when the schema admits numbers and the text is a JSON
 * number, TRUE or FALSE for "true" and "false" when it admits booleans,
 * NULL for "null" when it admits null but not strings; a STRING
 * otherwise. Parameters described by a JSON media type ("content") are
 * parsed as JSON and replayed.
 *
 * A problem names the parameter and its location, and the validator's
 * pointer and keyword; never the value.
 *
 * Not enforced: allowReserved (reserved characters are accepted whether
 * or not they are percent-encoded), and deepObject keys deeper than one
 * level, which are refused rather than read.
 */
#include <stddef.h>
#include <string.h>

#include "contract/openapi_int.h"

#define OAS_BIT(t) (1u << (t))

/* The pieces a parameter's text splits into, decoded. */
struct oas_values {
    enum oas_shape shape;
    unsigned n;
    struct slice name[OAS_MAX_VALUES];  /* objects: member names */
    struct slice value[OAS_MAX_VALUES];
};

/* The query, split once into decoded names and raw values. */
struct oas_query {
    unsigned n;
    struct slice name[OAS_MAX_VALUES];
    struct slice raw[OAS_MAX_VALUES];
    bool claimed[OAS_MAX_VALUES];       /* some parameter read it */
};

/* What one check needs. */
struct oas_check {
    const struct openapi_request *r;
    const struct openapi *api;
    struct arena *a;
    struct openapi_problem *p;
    struct oas_query *q;
};

static const char *const oas_in_names[] = {"path", "query", "header",
                                           "cookie"};

/*
 * Fill the problem for a parameter (NULL: the query as a whole, or no
 * location for a lack of memory); returns AW_INVALID, or AW_NOMEM.
 */
static int
oas_refuse(struct oas_check *c, const struct oas_param *prm,
           const char *reason, const char *detail)
{
    bool nomem = strcmp(reason, "contract.no_memory") == 0;

    *c->p = (struct openapi_problem){
        .status = nomem ? 500 : 400, .reason = reason, .detail = detail,
        .name = prm != NULL ? prm->name.ptr : NULL,
        .in = prm != NULL ? oas_in_names[prm->in] : nomem ? NULL : "query"};
    return nomem ? AW_NOMEM : AW_INVALID;
}

static int
oas_nomem(struct oas_check *c, const struct oas_param *prm)
{
    return oas_refuse(c, prm, "contract.no_memory",
                      "The request could not be checked.");
}

static int
oas_malformed(struct oas_check *c, const struct oas_param *prm)
{
    return oas_refuse(c, prm, "contract.invalid_parameter",
                      "A parameter is malformed for its style.");
}

bool
oas_is_json_number(struct slice s)
{
    size_t i = 0, d;

    i += i < s.len && s.ptr[i] == '-';
    for (d = i; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
        ;
    if (i == d || (s.ptr[d] == '0' && i - d > 1))
        return false;
    if (i < s.len && s.ptr[i] == '.') {
        for (d = ++i; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
            ;
        if (i == d)
            return false;
    }
    if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
        i++;
        i += i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-');
        for (d = i; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++)
            ;
        if (i == d)
            return false;
    }
    return i == s.len && s.len <= 64;
}

/*
 * Decode %XX escapes of a path value (a '+' stays a '+') into the
 * arena, NUL-terminated. AW_INVALID for a bad escape.
 */
static int
oas_pct_decode(struct arena *a, struct slice s, struct slice *out)
{
    char *d = arena_alloc(a, s.len + 1);
    size_t o = 0;

    if (d == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < s.len; i++) {
        int hi = 0, lo = 0;

        if (s.ptr[i] == '%') {
            hi = i + 2 < s.len ? hex_digit_value((unsigned char)s.ptr[i + 1])
                               : -1;
            lo = hi >= 0 ? hex_digit_value((unsigned char)s.ptr[i + 2]) : -1;
            if (lo < 0)
                return AW_INVALID;
            d[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            d[o++] = s.ptr[i];
        }
    }
    d[o] = '\0';
    *out = (struct slice){d, o};
    return AW_OK;
}

/* How the pieces of a location are decoded. */
enum oas_decode { OAS_RAW, OAS_PCT, OAS_FORM };

static int
oas_decode(struct oas_check *c, enum oas_decode how, struct slice s,
           struct slice *out)
{
    char *copy;

    if (how == OAS_PCT)
        return oas_pct_decode(c->a, s, out);
    if (how == OAS_FORM)
        return http_form_decode(c->a, s, out);
    copy = arena_dup(c->a, s.len > 0 ? s.ptr : "", s.len);
    if (copy == NULL)
        return AW_NOMEM;
    *out = (struct slice){copy, s.len};
    return AW_OK;
}

/* Add one piece to vs, decoded; trims blanks for header lists. */
static int
oas_push(struct oas_check *c, struct oas_values *vs, enum oas_decode how,
         struct slice s, bool trim)
{
    while (trim && s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
        s.ptr++, s.len--;
    while (trim && s.len > 0 &&
           (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    if (vs->n == OAS_MAX_VALUES)
        return AW_TOOBIG;
    return oas_decode(c, how, s, &vs->value[vs->n++]);
}

/* Split s on sep into vs (each piece decoded afterwards). */
static int
oas_split(struct oas_check *c, struct oas_values *vs, struct slice s,
          char sep, enum oas_decode how, bool trim)
{
    size_t start = 0;

    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.ptr[i] != sep)
            continue;
        int rc = oas_push(c, vs, how, (struct slice){s.ptr + start,
                                                     i - start}, trim);
        if (rc != AW_OK)
            return rc;
        start = i + 1;
    }
    return AW_OK;
}

/*
 * Turn the split pieces into object members: "k,v,k,v" when pairs is
 * true, else each piece is "k=v". AW_INVALID when they do not pair up.
 */
static int
oas_to_members(struct oas_values *vs, bool pairs)
{
    unsigned n = 0;

    if (pairs) {
        if (vs->n % 2 != 0)
            return AW_INVALID;
        for (unsigned i = 0; i < vs->n; i += 2, n++) {
            vs->name[n] = vs->value[i];
            vs->value[n] = vs->value[i + 1];
        }
        vs->n = n;
        return AW_OK;
    }
    for (unsigned i = 0; i < vs->n; i++) {
        struct slice s = vs->value[i];
        const char *eq = memchr(s.ptr, '=', s.len);

        if (eq == NULL || eq == s.ptr)
            return AW_INVALID;
        vs->name[i] = (struct slice){s.ptr, (size_t)(eq - s.ptr)};
        vs->value[i] = (struct slice){eq + 1, s.len - (size_t)(eq - s.ptr)
                                                  - 1};
    }
    return AW_OK;
}

/*
 * Split a text whose style separates pieces by sep (',' unexploded),
 * into the shape of the parameter: one value, items, or members.
 * Exploded objects carry "k=v" pieces separated by esep.
 */
static int
oas_split_shape(struct oas_check *c, const struct oas_param *prm,
                struct oas_values *vs, struct slice s, char esep,
                enum oas_decode how, bool trim)
{
    int rc;

    vs->shape = prm->shape;
    if (prm->shape == OAS_SHAPE_SCALAR)
        return oas_push(c, vs, how, s, trim);
    if (prm->shape == OAS_SHAPE_OBJECT && prm->explode) {
        rc = oas_split(c, vs, s, esep, OAS_RAW, trim);
        if (rc == AW_OK)
            rc = oas_to_members(vs, false);
        for (unsigned i = 0; rc == AW_OK && i < vs->n; i++)
            rc = oas_decode(c, how, vs->value[i], &vs->value[i]);
        return rc;
    }
    rc = oas_split(c, vs, s, prm->shape == OAS_SHAPE_ARRAY && prm->explode
                                 ? esep : ',', how, trim);
    if (rc == AW_OK && prm->shape == OAS_SHAPE_OBJECT)
        rc = oas_to_members(vs, true);
    return rc;
}

/*
 * Drop "name=" from the start of s (matrix pieces, cookies); false when
 * s does not start so.
 */
static bool
oas_strip_name(struct slice *s, struct slice name)
{
    if (s->len < name.len + 1 || memcmp(s->ptr, name.ptr, name.len) != 0 ||
        s->ptr[name.len] != '=')
        return false;
    s->ptr += name.len + 1;
    s->len -= name.len + 1;
    return true;
}

/* Matrix style: ";id=5", ";id=3,4", ";id=3;id=4", ";a=1;b=2". */
static int
oas_split_matrix(struct oas_check *c, const struct oas_param *prm,
                 struct oas_values *vs, struct slice s)
{
    struct oas_values tmp;
    int rc;

    s.ptr++, s.len--;
    vs->shape = prm->shape;
    if (prm->shape == OAS_SHAPE_OBJECT && prm->explode)
        return oas_split_shape(c, prm, vs, s, ';', OAS_PCT, false);
    if (prm->shape != OAS_SHAPE_ARRAY || !prm->explode) {
        if (!oas_strip_name(&s, prm->name))
            return AW_INVALID;
        return oas_split_shape(c, prm, vs, s, ',', OAS_PCT, false);
    }
    tmp.n = 0;
    rc = oas_split(c, &tmp, s, ';', OAS_RAW, false);
    for (unsigned i = 0; rc == AW_OK && i < tmp.n; i++) {
        if (!oas_strip_name(&tmp.value[i], prm->name))
            return AW_INVALID;
        rc = oas_push(c, vs, OAS_PCT, tmp.value[i], false);
    }
    return rc;
}

/* A path parameter: simple, label (".") or matrix (";") style. */
static int
oas_path_values(struct oas_check *c, const struct oas_param *prm,
                struct oas_values *vs)
{
    struct slice s = c->r->match->value[prm->path_index];

    if (prm->style == OAS_STYLE_SIMPLE)
        return oas_split_shape(c, prm, vs, s, ',', OAS_PCT, false);
    if (s.len == 0 || s.ptr[0] != (prm->style == OAS_STYLE_LABEL ? '.'
                                                                 : ';'))
        return AW_INVALID;
    if (prm->style == OAS_STYLE_MATRIX)
        return oas_split_matrix(c, prm, vs, s);
    s.ptr++, s.len--;
    return oas_split_shape(c, prm, vs, s, '.', OAS_PCT, false);
}

/* Split the query once; AW_TOOBIG past OAS_MAX_VALUES parameters. */
static int
oas_query_split(struct oas_check *c)
{
    struct oas_query *q = arena_alloc(c->a, sizeof(*q));
    struct slice name, value;
    size_t pos = 0;

    if (q == NULL)
        return AW_NOMEM;
    q->n = 0;
    while (c->r->query.ptr != NULL &&
           http_query_next(c->r->query, &pos, &name, &value)) {
        int rc;

        if (name.len == 0 && value.len == 0)
            continue;
        if (q->n == OAS_MAX_VALUES)
            return AW_TOOBIG;
        rc = http_form_decode(c->a, name, &q->name[q->n]);
        if (rc != AW_OK)
            return rc;
        q->raw[q->n] = value;
        q->claimed[q->n++] = false;
    }
    c->q = q;
    return AW_OK;
}

/* The property of an exploded form object that a query name is. */
static bool
oas_is_prop(const struct oas_param *prm, struct slice name)
{
    for (unsigned i = 0; i < prm->nprops; i++)
        if (slice_eq(prm->props[i].name, name))
            return true;
    return false;
}

/* deepObject: "name[key]" gives the key; false for other names. */
static bool
oas_deep_key(const struct oas_param *prm, struct slice n, struct slice *key)
{
    if (n.len < prm->name.len + 3 ||
        memcmp(n.ptr, prm->name.ptr, prm->name.len) != 0 ||
        n.ptr[prm->name.len] != '[' || n.ptr[n.len - 1] != ']')
        return false;
    *key = (struct slice){n.ptr + prm->name.len + 1,
                          n.len - prm->name.len - 2};
    return true;
}

/*
 * Exploded form and deepObject: one query parameter per piece.
 * AW_DECLINED when there is none.
 */
static int
oas_query_pieces(struct oas_check *c, const struct oas_param *prm,
                 struct oas_values *vs)
{
    struct oas_query *q = c->q;
    int rc;

    for (unsigned i = 0; i < q->n; i++) {
        struct slice key = q->name[i];
        bool mine = prm->style == OAS_STYLE_DEEP
                        ? oas_deep_key(prm, q->name[i], &key)
                    : prm->shape == OAS_SHAPE_OBJECT
                        ? oas_is_prop(prm, q->name[i])
                        : slice_eq(q->name[i], prm->name);

        if (!mine)
            continue;
        if (memchr(key.ptr, '[', key.len) || memchr(key.ptr, ']', key.len))
            return AW_INVALID; /* nested deepObject keys */
        q->claimed[i] = true;
        vs->name[vs->n] = key;
        rc = oas_push(c, vs, OAS_FORM, q->raw[i], false);
        if (rc != AW_OK)
            return rc;
    }
    return vs->n > 0 ? AW_OK : AW_DECLINED;
}

/* The one query parameter with this name; AW_DECLINED when absent. */
static int
oas_query_one(struct oas_check *c, const struct oas_param *prm,
              struct slice *raw)
{
    struct oas_query *q = c->q;
    unsigned found = 0;

    for (unsigned i = 0; i < q->n; i++) {
        if (!slice_eq(q->name[i], prm->name))
            continue;
        q->claimed[i] = true;
        *raw = q->raw[i];
        found++;
    }
    return found == 0 ? AW_DECLINED : found == 1 ? AW_OK : AW_DONE;
}

/* A query parameter in any of its styles. AW_DONE: repeated. */
static int
oas_query_values(struct oas_check *c, const struct oas_param *prm,
                 struct oas_values *vs)
{
    struct slice raw, dec;
    int rc;

    vs->shape = prm->shape;
    if (prm->style == OAS_STYLE_DEEP ||
        (prm->style == OAS_STYLE_FORM && prm->explode &&
         prm->shape != OAS_SHAPE_SCALAR))
        return oas_query_pieces(c, prm, vs);
    rc = oas_query_one(c, prm, &raw);
    if (rc != AW_OK)
        return rc;
    if (raw.len == 0 && !prm->allow_empty)
        return AW_INVALID;
    if (prm->style == OAS_STYLE_FORM)
        return oas_split_shape(c, prm, vs, raw, ',', OAS_FORM, false);
    rc = http_form_decode(c->a, raw, &dec);
    if (rc != AW_OK)
        return rc;
    rc = oas_split(c, vs, dec, prm->style == OAS_STYLE_SPACE ? ' ' : '|',
                   OAS_RAW, false);
    if (rc == AW_OK && prm->shape == OAS_SHAPE_OBJECT)
        rc = oas_to_members(vs, true);
    return rc;
}

/* A header parameter (simple style); lines of an array are joined. */
static int
oas_header_values(struct oas_check *c, const struct oas_param *prm,
                  struct oas_values *vs)
{
    const struct openapi_request *r = c->r;
    unsigned found = 0;
    int rc = AW_OK;

    for (unsigned i = 0; rc == AW_OK && i < r->nheaders; i++) {
        if (!slice_eq_nocase(r->headers[i].name, prm->name))
            continue;
        if (found++ > 0 && prm->shape != OAS_SHAPE_ARRAY)
            return AW_DONE;
        rc = oas_split_shape(c, prm, vs, r->headers[i].value, ',', OAS_RAW,
                             true);
    }
    return rc == AW_OK && found == 0 ? AW_DECLINED : rc;
}

/* The value of a cookie by name, over every Cookie field. */
static int
oas_cookie_find(const struct openapi_request *r, struct slice name,
                struct slice *value)
{
    unsigned found = 0;

    for (unsigned i = 0; i < r->nheaders; i++) {
        struct slice v = r->headers[i].value;
        size_t pos = 0;

        if (!slice_is(r->headers[i].name, "cookie"))
            continue;
        while (pos < v.len) {
            const char *semi = memchr(v.ptr + pos, ';', v.len - pos);
            size_t end = semi != NULL ? (size_t)(semi - v.ptr) : v.len;
            struct slice pair = {v.ptr + pos, end - pos};

            while (pair.len > 0 && pair.ptr[0] == ' ')
                pair.ptr++, pair.len--;
            if (oas_strip_name(&pair, name)) {
                *value = pair;
                found++;
            }
            pos = end + 1;
        }
    }
    return found == 0 ? AW_DECLINED : found == 1 ? AW_OK : AW_DONE;
}

/* A cookie parameter (form style); arrays and objects by commas. */
static int
oas_cookie_values(struct oas_check *c, const struct oas_param *prm,
                  struct oas_values *vs)
{
    struct oas_param flat = *prm;
    struct slice v;
    int rc = oas_cookie_find(c->r, prm->name, &v);

    if (rc != AW_OK)
        return rc;
    flat.explode = false;
    return oas_split_shape(c, &flat, vs, v, ',', OAS_RAW, false);
}

/* Feed one made-up token to the validator. */
static int
oas_feed(struct schema_validator *v, enum json_token_kind k,
         struct slice text, unsigned depth)
{
    struct json_token t = {.kind = k, .text = text, .depth = depth};

    return schema_validator_token(v, &t);
}

/* One decoded piece as the token its text and the types admit. */
static int
oas_feed_typed(struct schema_validator *v, struct slice s, unsigned types,
               unsigned depth)
{
    enum json_token_kind k = JSON_TOK_STRING;

    if ((types & OAS_BIT(JSON_NUMBER)) && oas_is_json_number(s))
        k = JSON_TOK_NUMBER;
    else if ((types & OAS_BIT(JSON_TRUE)) && slice_eq(s, SLICE_LIT("true")))
        k = JSON_TOK_TRUE;
    else if ((types & OAS_BIT(JSON_FALSE)) &&
             slice_eq(s, SLICE_LIT("false")))
        k = JSON_TOK_FALSE;
    else if ((types & OAS_BIT(JSON_NULL)) &&
             !(types & OAS_BIT(JSON_STRING)) &&
             slice_eq(s, SLICE_LIT("null")))
        k = JSON_TOK_NULL;
    if (k != JSON_TOK_STRING && k != JSON_TOK_NUMBER)
        s = SLICE_LIT("");
    return oas_feed(v, k, s, depth);
}

/* The types an object parameter's member admits. */
static unsigned
oas_member_types(const struct oas_param *prm, struct slice name)
{
    for (unsigned i = 0; i < prm->nprops; i++)
        if (slice_eq(prm->props[i].name, name))
            return prm->props[i].types;
    return prm->types;
}

/* Replay the values as the tokens of one JSON value. */
static int
oas_feed_values(struct schema_validator *v, const struct oas_param *prm,
                const struct oas_values *vs)
{
    int rc = AW_OK;

    if (vs->shape == OAS_SHAPE_SCALAR)
        return oas_feed_typed(v, vs->value[0], prm->types, 0);
    if (vs->shape == OAS_SHAPE_ARRAY) {
        rc = oas_feed(v, JSON_TOK_ARRAY_BEGIN, SLICE_LIT(""), 0);
        for (unsigned i = 0; rc == AW_OK && i < vs->n; i++)
            rc = oas_feed_typed(v, vs->value[i], prm->types, 1);
        return rc == AW_OK ? oas_feed(v, JSON_TOK_ARRAY_END, SLICE_LIT(""),
                                      0)
                           : rc;
    }
    rc = oas_feed(v, JSON_TOK_OBJECT_BEGIN, SLICE_LIT(""), 0);
    for (unsigned i = 0; rc == AW_OK && i < vs->n; i++) {
        rc = oas_feed(v, JSON_TOK_NAME, vs->name[i], 1);
        if (rc == AW_OK)
            rc = oas_feed_typed(v, vs->value[i],
                                oas_member_types(prm, vs->name[i]), 1);
    }
    return rc == AW_OK ? oas_feed(v, JSON_TOK_OBJECT_END, SLICE_LIT(""), 0)
                       : rc;
}

/* Names must be NUL-terminated for the validator; so must be values. */
static int
oas_terminate(struct oas_check *c, struct oas_values *vs)
{
    for (unsigned i = 0; vs->shape == OAS_SHAPE_OBJECT && i < vs->n; i++) {
        char *copy = arena_dup(c->a, vs->name[i].len > 0 ? vs->name[i].ptr
                                                         : "",
                               vs->name[i].len);

        if (copy == NULL)
            return AW_NOMEM;
        for (unsigned k = 0; k < i; k++)
            if (slice_eq(vs->name[k], vs->name[i]))
                return AW_DONE;
        vs->name[i].ptr = copy;
    }
    for (unsigned i = 0; i < vs->n; i++) {
        char *copy = arena_dup(c->a, vs->value[i].len > 0
                                         ? vs->value[i].ptr
                                         : "",
                               vs->value[i].len);

        if (copy == NULL)
            return AW_NOMEM;
        vs->value[i].ptr = copy;
    }
    return AW_OK;
}

/* A "content" parameter with a JSON media type: parse and replay. */
static int
oas_feed_json(struct oas_check *c, struct schema_validator *v,
              const struct oas_param *prm, struct slice text)
{
    struct json_value *tree;
    struct json_error je;
    int rc = json_parse(text.ptr, text.len, &c->api->opt.json, c->a, &tree,
                        &je);

    if (rc == AW_NOMEM)
        return oas_nomem(c, prm);
    if (rc != AW_OK)
        return oas_refuse(c, prm, "contract.invalid_parameter",
                          "A parameter is not valid JSON.");
    rc = json_walk(tree, schema_validator_token, v);
    return rc == AW_OK ? AW_OK : oas_nomem(c, prm);
}

/* Run the parameter's schema over its values. */
static int
oas_validate(struct oas_check *c, const struct oas_param *prm,
             struct oas_values *vs)
{
    const struct schema_error *errs;
    struct schema_validator *v;
    size_t n;
    int rc = oas_terminate(c, vs);

    if (rc == AW_DONE)
        return oas_refuse(c, prm, "contract.duplicate_parameter",
                          "A member of a parameter is given twice.");
    if (rc != AW_OK)
        return oas_nomem(c, prm);
    if (prm->schema == NULL)
        return AW_OK;
    v = schema_validator_new(prm->schema, SCHEMA_REQUEST,
                             c->api->opt.max_errors, c->a);
    if (v == NULL)
        return oas_nomem(c, prm);
    rc = prm->json ? oas_feed_json(c, v, prm, vs->value[0])
                   : oas_feed_values(v, prm, vs);
    if (rc == AW_INVALID)
        return rc;
    if (rc != AW_OK)
        return oas_nomem(c, prm);
    if (schema_validator_done(v, &errs, &n))
        return AW_OK;
    oas_refuse(c, prm, "contract.invalid_parameter",
               "A parameter does not match its schema.");
    if (n > 0) {
        c->p->pointer = errs[0].pointer;
        c->p->keyword = errs[0].keyword;
    }
    return AW_INVALID;
}

/* Gather one parameter's values from its location. */
static int
oas_param_values(struct oas_check *c, const struct oas_param *prm,
                 struct oas_values *vs)
{
    struct oas_param whole = *prm;

    if (prm->json || prm->opaque) {
        whole.shape = OAS_SHAPE_SCALAR;
        whole.style = prm->in == OAS_IN_PATH || prm->in == OAS_IN_HEADER
                          ? OAS_STYLE_SIMPLE
                          : OAS_STYLE_FORM;
        prm = &whole;
    }
    switch (prm->in) {
    case OAS_IN_PATH:
        return oas_path_values(c, prm, vs);
    case OAS_IN_QUERY:
        return oas_query_values(c, prm, vs);
    case OAS_IN_HEADER:
        return oas_header_values(c, prm, vs);
    default:
        return oas_cookie_values(c, prm, vs);
    }
}

/* Check one parameter: presence, syntax, schema. */
static int
oas_check_one(struct oas_check *c, const struct oas_param *prm,
              struct oas_values *vs)
{
    int rc;

    memset(vs, 0, offsetof(struct oas_values, name));
    rc = oas_param_values(c, prm, vs);
    if (rc == AW_DECLINED) {
        if (!prm->required)
            return AW_OK;
        return oas_refuse(c, prm, "contract.missing_parameter",
                          "A required parameter is missing.");
    }
    if (rc == AW_DONE)
        return oas_refuse(c, prm, "contract.duplicate_parameter",
                          "A parameter is given more than once.");
    if (rc == AW_NOMEM)
        return oas_nomem(c, prm);
    if (rc == AW_TOOBIG)
        return oas_refuse(c, prm, "contract.too_many_parameters",
                          "A parameter has too many pieces.");
    if (rc != AW_OK)
        return oas_malformed(c, prm);
    return oas_validate(c, prm, vs);
}

/*
 * Refuse the first query parameter that no parameter read. Every
 * parameter has been read by now, so a name is known exactly when some
 * style took it ("pt=1" is unknown when pt is an exploded object).
 */
static int
oas_check_unknown(struct oas_check *c)
{
    for (unsigned i = 0; i < c->q->n; i++) {
        if (!c->q->claimed[i])
            return oas_refuse(c, NULL, "contract.unknown_parameter",
                              "The operation does not take this query "
                              "parameter.");
    }
    return AW_OK;
}

int
openapi_check_params(const struct openapi_request *r, struct arena *a,
                     struct openapi_problem *p)
{
    const struct openapi_op *op = r->match->op;
    struct oas_check c = {.r = r, .api = op->api, .a = a, .p = p};
    struct oas_values *vs = arena_alloc(a, sizeof(*vs));
    int rc = vs != NULL ? oas_query_split(&c) : AW_NOMEM;

    if (rc == AW_TOOBIG)
        return oas_refuse(&c, NULL, "contract.too_many_parameters",
                          "The query has too many parameters.");
    if (rc == AW_INVALID)
        return oas_refuse(&c, NULL, "contract.invalid_parameter",
                          "The query has a malformed escape.");
    if (rc != AW_OK)
        return oas_nomem(&c, NULL);
    for (unsigned i = 0; i < op->nparams; i++) {
        rc = oas_check_one(&c, &op->params[i], vs);
        if (rc != AW_OK)
            return rc;
    }
    if (!op->api->opt.allow_unknown_query)
        return oas_check_unknown(&c);
    return AW_OK;
}
