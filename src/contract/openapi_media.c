/*
 * Media types: the content maps of request bodies, responses and
 * parameters, and the choice of an entry for a Content-Type.
 *
 * Entries are kept lower case without parameters ("application/json;
 * charset=utf-8" is "application/json"). A request's media type matches
 * an entry that is the same type, else a listed range of its type
 * ("text/" and a star), else the range of every type. A media type is
 * JSON when it is application/json or its subtype ends in "+json"; only
 * JSON bodies are checked against their schema. A key of a content map
 * that is not a media type (real documents have "") is kept but can
 * match no request.
 */
#include <string.h>

#include "contract/openapi_int.h"

/*
 * The bare media type of a Content-Type value: parameters and blanks
 * dropped. False when it is not "type/subtype" of token characters.
 */
static bool
oas_media_bare(struct slice v, struct slice *out)
{
    static const char tspecial[] = "()<>@,;:\\\"/[]?={} \t";
    size_t end = 0, slash = 0;

    while (end < v.len && v.ptr[end] != ';')
        end++;
    while (end > 0 && (v.ptr[end - 1] == ' ' || v.ptr[end - 1] == '\t'))
        end--;
    for (size_t i = 0; i < end; i++) {
        unsigned char c = (unsigned char)v.ptr[i];

        if (c == '/' && slash == 0 && i > 0) {
            slash = i;
            continue;
        }
        if (c <= 0x20 || c >= 0x7f || strchr(tspecial, c) != NULL)
            return false;
    }
    if (slash == 0 || slash + 1 >= end)
        return false;
    *out = (struct slice){v.ptr, end};
    return true;
}

static bool
oas_media_is_json(struct slice t)
{
    return slice_is(t, "application/json") ||
           (t.len > 5 && slice_eq_nocase((struct slice){t.ptr + t.len - 5,
                                                        5},
                                         SLICE_LIT("+json")));
}

/*
 * The entry of c for media type t (bare): exact, then "type/" and a
 * star, then the range of all types. NULL when none matches.
 */
static const struct oas_media *
oas_media_find(const struct oas_content *c, struct slice t)
{
    const char *slash = memchr(t.ptr, '/', t.len);
    size_t tl = (size_t)(slash - t.ptr);
    const struct oas_media *range = NULL, *any = NULL;

    for (unsigned i = 0; i < c->n; i++) {
        struct slice e = c->media[i].type;

        if (slice_eq_nocase(e, t))
            return &c->media[i];
        if (e.len == tl + 2 && slice_eq_nocase((struct slice){e.ptr, tl},
                                               (struct slice){t.ptr, tl}) &&
            e.ptr[tl] == '/' && e.ptr[tl + 1] == '*')
            range = &c->media[i];
        if (slice_eq(e, SLICE_LIT("*/*")))
            any = &c->media[i];
    }
    return range != NULL ? range : any;
}

/* Read one entry of a content map: its type and its schema. */
static int
oas_media_read(struct oas_build *b, const struct oas_loc *at,
               const struct json_member *m, struct oas_media *out)
{
    struct oas_loc sat = {at->file, oas_ptr_add(b, at->ptr, m->name.ptr)};
    struct slice bare;
    char *lower;

    if (sat.ptr == NULL)
        return AW_NOMEM;
    if (slice_eq(m->name, SLICE_LIT("*/*")))
        bare = m->name;
    else if (!oas_media_bare(m->name, &bare))
        bare = SLICE_LIT(""); /* matches no request: harmless */
    lower = arena_dup(&b->api->arena, bare.ptr, bare.len);
    if (lower == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < bare.len; i++)
        if (lower[i] >= 'A' && lower[i] <= 'Z')
            lower[i] = (char)(lower[i] - 'A' + 'a');
    *out = (struct oas_media){.type = {lower, bare.len}};
    if (json_get(m->value, "schema") == NULL)
        return AW_OK;
    sat.ptr = oas_ptr_add(b, sat.ptr, "schema");
    if (sat.ptr == NULL)
        return AW_NOMEM;
    return oas_schema(b, &sat, &out->schema);
}

int
oas_content_build(struct oas_build *b, const struct oas_loc *at,
                  struct oas_content *c)
{
    const struct json_value *v = oas_at(b, at);
    struct oas_media *media;

    *c = (struct oas_content){NULL, 0};
    if (v == NULL)
        return AW_OK;
    if (v->type != JSON_OBJECT)
        return oas_fail(b, at, AW_INVALID, "must be an object");
    if (v->u.obj.n > OAS_MAX_MEDIA)
        return oas_fail(b, at, AW_INVALID, "more than %d media types",
                        OAS_MAX_MEDIA);
    media = arena_alloc(&b->api->arena, (v->u.obj.n + 1) * sizeof(*media));
    if (media == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < v->u.obj.n; i++) {
        int rc = oas_media_read(b, at, &v->u.obj.members[i], &media[i]);

        if (rc != AW_OK)
            return rc;
    }
    *c = (struct oas_content){media, (unsigned)v->u.obj.n};
    return AW_OK;
}

/* The status code or range a response key stands for; -1 if none. */
static int
oas_response_code(struct slice k)
{
    uint64_t code;

    if (slice_eq(k, SLICE_LIT("default")))
        return 0;
    if (k.len == 3 && k.ptr[0] >= '1' && k.ptr[0] <= '5' &&
        (k.ptr[1] == 'X' || k.ptr[1] == 'x') &&
        (k.ptr[2] == 'X' || k.ptr[2] == 'x'))
        return k.ptr[0] - '0';
    if (k.len != 3 || slice_to_u64(k, 599, &code) != AW_OK || code < 100)
        return -1;
    return (int)code;
}

/* Read one response (after its references). */
static int
oas_response_read(struct oas_build *b, const struct oas_loc *at,
                  const struct json_member *m, struct oas_response *out)
{
    struct oas_loc rat = {at->file, oas_ptr_add(b, at->ptr, m->name.ptr)};
    const struct json_value *v;
    int rc;

    if (rat.ptr == NULL)
        return AW_NOMEM;
    out->code = oas_response_code(m->name);
    if (out->code < 0)
        return oas_fail(b, &rat, AW_INVALID, "not a status code, a range "
                        "such as 2XX, or default");
    rc = oas_deref(b, &rat, &v);
    if (rc != AW_OK)
        return rc;
    rat.ptr = oas_ptr_add(b, rat.ptr, "content");
    if (rat.ptr == NULL)
        return AW_NOMEM;
    return oas_content_build(b, &rat, &out->content);
}

static int
oas_responses_build(struct oas_build *b, struct openapi_op *op,
                    const struct oas_loc *oper)
{
    struct oas_loc at = {oper->file, oas_ptr_add(b, oper->ptr,
                                                 "responses")};
    const struct json_value *v;
    struct oas_response *rs;
    unsigned n = 0;

    if (at.ptr == NULL)
        return AW_NOMEM;
    v = oas_at(b, &at);
    if (!json_is(v, JSON_OBJECT))
        return AW_OK; /* 3.1 makes responses optional */
    if (v->u.obj.n > OAS_MAX_RESPONSES)
        return oas_fail(b, &at, AW_INVALID, "more than %d responses",
                        OAS_MAX_RESPONSES);
    rs = arena_alloc(&b->api->arena, (v->u.obj.n + 1) * sizeof(*rs));
    if (rs == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < v->u.obj.n; i++) {
        const struct json_member *m = &v->u.obj.members[i];
        int rc;

        if (m->name.len >= 2 && memcmp(m->name.ptr, "x-", 2) == 0)
            continue;
        rc = oas_response_read(b, &at, m, &rs[n]);
        if (rc != AW_OK)
            return rc;
        n++;
    }
    op->responses = rs;
    op->nresponses = n;
    return AW_OK;
}

int
oas_body_build(struct oas_build *b, struct openapi_op *op,
               const struct oas_loc *oper)
{
    struct oas_loc at = {oper->file, oas_ptr_add(b, oper->ptr,
                                                 "requestBody")};
    const struct json_value *v;
    int rc;

    if (at.ptr == NULL)
        return AW_NOMEM;
    if (oas_at(b, &at) != NULL) {
        rc = oas_deref(b, &at, &v);
        if (rc != AW_OK)
            return rc;
        op->has_body = true;
        op->body_required = json_get(v, "required") != NULL &&
                            json_get(v, "required")->type == JSON_TRUE;
        at.ptr = oas_ptr_add(b, at.ptr, "content");
        if (at.ptr == NULL)
            return AW_NOMEM;
        rc = oas_content_build(b, &at, &op->body);
        if (rc != AW_OK)
            return rc;
    }
    return oas_responses_build(b, op, oper);
}

/* Fill a problem of a body or its media type. */
static int
oas_body_refuse(struct openapi_problem *p, int status, const char *reason,
                const char *detail)
{
    *p = (struct openapi_problem){.status = status, .reason = reason,
                                  .detail = detail, .in = "body"};
    return AW_INVALID;
}

int
openapi_request_body(const struct openapi_op *op, struct slice content_type,
                     bool has_body, struct openapi_body *b,
                     struct openapi_problem *p)
{
    const struct oas_media *m;
    struct slice bare;

    memset(b, 0, sizeof(*b));
    if (!has_body && op->body_required)
        return oas_body_refuse(p, 400, "contract.missing_body",
                               "The operation requires a request body.");
    if (!has_body)
        return AW_DONE;
    if (!op->has_body)
        return oas_body_refuse(p, 400, "contract.unexpected_body",
                               "The operation takes no request body.");
    if (content_type.ptr == NULL || !oas_media_bare(content_type, &bare))
        return oas_body_refuse(p, 415, "contract.unsupported_media_type",
                               "The body has no valid Content-Type.");
    m = oas_media_find(&op->body, bare);
    if (m == NULL)
        return oas_body_refuse(p, 415, "contract.unsupported_media_type",
                               "The operation does not accept this media "
                               "type.");
    b->json = oas_media_is_json(bare);
    b->schema = b->json ? m->schema : NULL;
    b->flags = SCHEMA_REQUEST | (op->api->opt.strict ? SCHEMA_STRICT : 0);
    b->max_errors = op->api->opt.max_errors;
    b->json_limits = &op->api->opt.json;
    return AW_OK;
}

void
openapi_body_problem(const struct schema_error *errors, size_t n,
                     struct openapi_problem *p)
{
    oas_body_refuse(p, 422, "contract.invalid_body",
                    "The body does not match the operation's schema.");
    if (n > 0) {
        p->pointer = errors[0].pointer;
        p->keyword = errors[0].keyword;
    }
}

/* The response for a status: exact, then its range, then default. */
static const struct oas_response *
oas_response_find(const struct openapi_op *op, int status)
{
    const struct oas_response *range = NULL, *dflt = NULL;

    for (unsigned i = 0; i < op->nresponses; i++) {
        const struct oas_response *r = &op->responses[i];

        if (r->code == status)
            return r;
        if (r->code == status / 100)
            range = r;
        if (r->code == 0)
            dflt = r;
    }
    return range != NULL ? range : dflt;
}

int
openapi_response_schema(const struct openapi_op *op, int status,
                        struct slice content_type, const struct schema **s)
{
    const struct oas_response *r = oas_response_find(op, status);
    const struct oas_media *m;
    struct slice bare;

    *s = NULL;
    if (r == NULL)
        return AW_DECLINED;
    if (content_type.ptr == NULL)
        return AW_OK;
    if (!oas_media_bare(content_type, &bare))
        return AW_INVALID;
    m = oas_media_find(&r->content, bare);
    if (m == NULL)
        return AW_INVALID;
    *s = oas_media_is_json(bare) ? m->schema : NULL;
    return AW_OK;
}
