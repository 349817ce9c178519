/*
 * The contract stage: a route bound to an OpenAPI document lets through
 * only what the document describes.
 *
 * The request is judged as it arrives, while the head is still in the
 * input buffer: the operation (404 for a path the document lacks, 405
 * for a method), its parameters, and whether its body is acceptable
 * (415). A JSON body is then read whole (within
 * limits.max_buffered_body) and each chunk is pushed, as it arrives,
 * through json_stream into the schema validator, so that the verdict is
 * ready when the last byte is: malformed JSON is a 400 with the parser's
 * json.* reason, a schema failure a 422 naming the failing JSON
 * pointers and keywords. The verdict is kept, not applied: the stage
 * that applies it runs after authentication, authorization and rate
 * limits, so an unknown caller gets its 401 and learns nothing of the
 * contract. A problem names where and which keyword, never a value.
 *
 * In monitor mode a failing request is let through with a security
 * event. A deprecated operation raises an event, and is refused (410)
 * when the contract says deprecated: block.
 *
 * A route whose policy reads body fields parses the body a second time
 * into a tree (conn.c, body_complete): the validator consumes tokens
 * and builds no tree, and json_parse builds its tree from its own pass.
 */
#include <stdio.h>
#include <string.h>

#include "proxy_int.h"
#include "telemetry/telemetry.h"

#define ERRORS_MAX_BYTES 4096      /* the "errors" member of a problem */
#define ERROR_TEXT_MAX 128         /* one pointer or name in it */
#define HOLD_ARENA_EXTRA (1u << 20) /* parser and validator of a held
                                       response, past its two copies */
#define RESPONSE_MAX_DEPTH 64      /* nesting of a response checked */

/* Keep the first verdict; later failures of the same request add none. */
static void
verdict(struct contract_req *k, int status, const char *reason,
        const char *detail)
{
    if (k->failed)
        return;
    k->failed = true;
    k->status = status;
    k->reason = reason;
    k->detail = detail;
}

/*
 * The "errors" member of a problem: an array of {in, name, pointer,
 * keyword} objects, bounded by ERRORS_MAX_BYTES. An entry that does not
 * fit is left out whole; room for the closing bracket is kept.
 */
struct errlist {
    struct buf b;
    unsigned n;
};

static const char errors_head[] = ",\"errors\":[";

static void
errlist_begin(struct errlist *l, struct arena *a)
{
    l->b = (struct buf){arena_alloc(a, ERRORS_MAX_BYTES), 0, 0,
                        ERRORS_MAX_BYTES - 1};
    l->n = 0;
    if (l->b.data != NULL)
        buf_append(&l->b, errors_head, sizeof(errors_head) - 1);
}

/* Append "key":"text" (text escaped and cut); nothing for NULL. */
static int
put_member(struct buf *b, const char *key, const char *text, bool *first)
{
    int rc;

    if (text == NULL)
        return AW_OK;
    rc = buf_printf(b, "%s\"%s\":\"", *first ? "" : ",", key);
    *first = false;
    if (rc == AW_OK)
        rc = json_escape_append(b, (struct slice){text, strlen(text)},
                                ERROR_TEXT_MAX);
    return rc == AW_OK ? buf_append(b, "\"", 1) : rc;
}

static void
errlist_add(struct errlist *l, const char *in, const char *name,
            const char *pointer, const char *keyword)
{
    size_t mark = l->b.end;
    bool first = true;
    int rc;

    if (l->b.data == NULL)
        return;
    rc = buf_append(&l->b, l->n > 0 ? ",{" : "{", l->n > 0 ? 2 : 1);
    if (rc == AW_OK)
        rc = put_member(&l->b, "in", in, &first);
    if (rc == AW_OK)
        rc = put_member(&l->b, "name", name, &first);
    if (rc == AW_OK)
        rc = put_member(&l->b, "pointer", pointer, &first);
    if (rc == AW_OK)
        rc = put_member(&l->b, "keyword", keyword, &first);
    if (rc == AW_OK)
        rc = buf_append(&l->b, "}", 1);
    if (rc != AW_OK) {
        l->b.end = mark;
        return;
    }
    l->n++;
}

/* Close the array (its room was kept) and keep it for the problem. */
static void
errlist_end(struct contract_req *k, struct errlist *l)
{
    if (l->b.data == NULL)
        return;
    l->b.data[l->b.end++] = ']';
    k->errors = (struct slice){l->b.data, l->b.end};
}

/* The verdict of a parameter, media type or body presence problem. */
static void
verdict_problem(struct conn *c, struct contract_req *k,
                const struct openapi_problem *p)
{
    struct errlist l;

    if (k->failed)
        return;
    verdict(k, p->status, p->reason, p->detail);
    if (p->name == NULL && p->pointer == NULL)
        return;
    errlist_begin(&l, &c->arena);
    errlist_add(&l, p->in, p->name, p->pointer, p->keyword);
    errlist_end(k, &l);
}

/* The parameters of the operation found. AW_OK or AW_NOMEM. */
static int
check_params(struct conn *c, struct request *r, struct contract_req *k)
{
    struct openapi_request q = {&k->match, r->h.query, r->h.headers,
                                r->h.nheaders};
    struct openapi_problem p = {0};
    int rc = openapi_check_params(&q, &c->arena, &p);

    if (rc == AW_NOMEM)
        return rc;
    if (rc != AW_OK)
        verdict_problem(c, k, &p);
    return AW_OK;
}

/*
 * Whether the body is acceptable, judged on the head. Two Content-Type
 * fields are refused as an unlisted media type: which one a backend
 * reads is anybody's guess.
 */
static void
check_body_head(struct conn *c, struct request *r, struct contract_req *k)
{
    static const struct openapi_problem two_types = {
        415, "contract.unsupported_media_type",
        "The request has more than one Content-Type field.", NULL, NULL,
        NULL, NULL,
    };
    struct openapi_problem p = {0};
    struct slice ctype = SLICE_NULL;
    unsigned nct = 0;
    bool has_body = r->h.framing == HTTP_BODY_CHUNKED ||
                    (r->h.framing == HTTP_BODY_LENGTH &&
                     r->h.content_length > 0);

    for (unsigned i = 0; i < r->h.nheaders; i++) {
        if (slice_is(r->h.headers[i].name, "content-type")) {
            ctype = r->h.headers[i].value;
            nct++;
        }
    }
    if (nct > 1) {
        verdict_problem(c, k, &two_types);
        return;
    }
    if (openapi_request_body(k->match.op, ctype, has_body, &k->body, &p) ==
        AW_INVALID)
        verdict_problem(c, k, &p);
}

int
proxy_contract_head(struct conn *c, struct request *r)
{
    const struct config_contract *ct = r->route->contract;
    struct contract_req *k;
    enum openapi_result found;

    if (ct == NULL)
        return AW_OK;
    k = arena_alloc(&c->arena, sizeof(*k));
    if (k == NULL)
        return AW_NOMEM;
    memset(k, 0, sizeof(*k));
    k->ct = ct;
    r->contract = k;
    found = openapi_match(ct->api, r->h.method, r->path, &k->match);
    if (found != OPENAPI_FOUND) {
        k->match.op = NULL;
        if (found == OPENAPI_BAD_METHOD)
            verdict(k, 405, "contract.method_not_allowed",
                    "The API does not describe this method on this path.");
        else
            verdict(k, 404, "contract.unknown_path",
                    "The API does not describe this path.");
        return AW_OK;
    }
    if (check_params(c, r, k) != AW_OK)
        return AW_NOMEM;
    check_body_head(c, r, k);
    return AW_OK;
}

bool
proxy_contract_wants_body(const struct request *r)
{
    const struct contract_req *k = r->contract;

    return k != NULL && k->match.op != NULL && k->body.json &&
           (!k->failed || k->ct->monitor);
}

/* Tokens of a body that has no schema are only parsed. */
static int
on_token_unchecked(void *ctx, const struct json_token *t)
{
    (void)ctx, (void)t;
    return AW_OK;
}

/*
 * Tokens of a body that the inspect stage reads too: the validator
 * first, then the inspection of the token with what the schemas said
 * of it, so that the body is parsed once.
 */
static int
on_token_inspected(void *ctx, const struct json_token *t)
{
    struct request *r = ctx;
    struct contract_req *k = r->contract;
    int rc = AW_OK;

    if (k->validator != NULL)
        rc = schema_validator_token(k->validator, t);
    proxy_inspect_json_token(r, t, k->validator != NULL,
                             k->validator != NULL
                                 ? schema_validator_string(k->validator)
                                 : 0);
    return rc;
}

int
proxy_contract_body_begin(struct conn *c, struct request *r)
{
    struct contract_req *k = r->contract;
    struct json_limits lim = *k->body.json_limits;

    lim.max_bytes = (size_t)r->body_max;
    if (k->body.schema != NULL) {
        k->validator = schema_validator_new(k->body.schema, k->body.flags,
                                            k->body.max_errors, &c->arena);
        if (k->validator == NULL)
            return AW_NOMEM;
        schema_validator_set_max_evals(k->validator,
                                       k->ct->max_evaluations);
    }
    if (proxy_inspect_wants_json(r))
        k->stream = json_stream_new(&lim, on_token_inspected, r, &c->arena);
    else
        k->stream = json_stream_new(&lim,
                                    k->validator != NULL
                                        ? schema_validator_token
                                        : on_token_unchecked,
                                    k->validator, &c->arena);
    return k->stream != NULL ? AW_OK : AW_NOMEM;
}

void
proxy_contract_feed(struct request *r, const char *p, size_t n)
{
    struct contract_req *k = r->contract;
    struct json_error err;

    /* A failure is sticky in the parser; json_stream_finish reports it. */
    if (k != NULL && k->stream != NULL && n > 0)
        (void)json_stream_feed(k->stream, p, n, &err);
}

/* The 422 of a body that fails its schema, naming every failure kept. */
static void
verdict_schema(struct conn *c, struct contract_req *k,
               const struct schema_error *e, size_t n)
{
    struct errlist l;

    if (k->failed)
        return;
    verdict(k, 422, "contract.invalid_body",
            "The body does not match the schema of the operation.");
    errlist_begin(&l, &c->arena);
    for (size_t i = 0; i < n; i++)
        errlist_add(&l, NULL, NULL, e[i].pointer, e[i].keyword);
    errlist_end(k, &l);
}

void
proxy_contract_body_end(struct conn *c, struct request *r)
{
    struct contract_req *k = r->contract;
    const struct schema_error *e = NULL;
    struct json_error err = {0};
    size_t n = 0;
    char *detail;
    int rc;

    if (k == NULL || k->stream == NULL)
        return;
    rc = json_stream_finish(k->stream, &err);
    if (rc == AW_NOMEM || (rc != AW_OK && err.reason != NULL &&
                           strcmp(err.reason, "json.stopped") == 0)) {
        verdict(k, 413, "body.too_complex",
                "The JSON body needs more memory than a request is given.");
        return;
    }
    if (rc != AW_OK) {
        detail = arena_alloc(&c->arena, 96);
        if (detail != NULL)
            snprintf(detail, 96, "The body is not valid JSON (error at "
                     "byte %zu).", err.offset);
        verdict(k, 400, err.reason != NULL ? err.reason : "json.syntax",
                detail != NULL ? detail : "The body is not valid JSON.");
        return;
    }
    if (k->validator != NULL && !schema_validator_done(k->validator, &e, &n))
        verdict_schema(c, k, e, n);
}

/* An event about the contract that does not end the request. */
static void
contract_event(struct conn *c, struct request *r, const char *action,
               const char *reason, const char *outcome, int severity)
{
    proxy_record_event(c, r, action, reason, outcome, severity);
}

int
proxy_contract(struct conn *c, struct request *r)
{
    struct contract_req *k = r->contract;
    const struct openapi_op *op;

    if (k == NULL)
        return AW_OK;
    if (k->failed && !k->ct->monitor) {
        r->problem_members = k->errors;
        if (k->status == 405)
            r->allowed = k->match.allowed;
        conn_refuse(c, k->status, k->reason, k->detail);
        return AW_DECLINED;
    }
    if (k->failed) {
        k->monitored = true;
        contract_event(c, r, "contract.violation", k->reason, "monitored",
                       4);
    }
    op = k->match.op;
    if (op == NULL || !openapi_op_deprecated(op))
        return AW_OK;
    if (k->ct->block_deprecated && !k->ct->monitor) {
        conn_refuse(c, 410, "contract.deprecated",
                    "This operation is deprecated and no longer served.");
        return AW_DECLINED;
    }
    contract_event(c, r, "contract.deprecated", "contract.deprecated",
                   "success", 3);
    return AW_OK;
}

/*
 * RESPONSES
 *
 * With responses: log, the body is validated as it streams to the
 * client, and a violation is an event. With block and filter the body
 * is held, head and all, until it has been read whole: block then
 * replaces an invalid response by a 502 problem, filter re-writes the
 * JSON without the members the schema does not list (and writeOnly
 * ones) and sends it with its new Content-Length. A response larger
 * than max_response_buffer is sent on unchanged, with an event: holding
 * it would make every response cost its whole size in memory.
 */

/* The first Content-Type of the response; ptr NULL when it has none. */
static struct slice
response_type(const struct http_response *res)
{
    for (unsigned i = 0; i < res->nheaders; i++)
        if (slice_is(res->headers[i].name, "content-type"))
            return res->headers[i].value;
    return SLICE_NULL;
}

/*
 * The parser's bounds for a response of at most max bytes: the backend
 * is trusted more than a client, so only the byte count and the depth
 * bound it, not the counts of members and items.
 */
static void
response_limits(struct json_limits *lim, size_t max)
{
    json_limits_default(lim);
    lim->max_bytes = max;
    lim->max_depth = RESPONSE_MAX_DEPTH;
    lim->max_string = max;
    lim->max_members = max;
    lim->max_items = max;
}

/* Filter mode: the validator decides which members the writer keeps. */
static int
on_filter_token(void *ctx, const struct json_token *t)
{
    struct contract_req *k = ctx;
    int rc = schema_validator_token(k->res_validator, t);

    if (rc != AW_OK)
        return rc;
    if (t->kind == JSON_TOK_NAME && !k->writer->dropping &&
        !schema_validator_keep(k->res_validator)) {
        json_writer_drop(k->writer, t);
        return AW_OK;
    }
    return json_writer_token(k->writer, t);
}

/*
 * Prepare the holding of a body of at most max bytes (its length, when
 * the backend said it, else max_response_buffer): the hold, the parser,
 * and in filter mode the writer and its output (re-written JSON is
 * never longer than what it was read from).
 */
static int
hold_begin(struct conn *c, struct request *r, struct contract_req *k,
           size_t max)
{
    struct json_limits lim;
    bool filter = k->res_mode == RESPONSES_FILTER;
    struct hold *h = proxy_hold_want(c, r, max);

    if (h == NULL)
        return AW_NOMEM;
    h->contract = true;
    k->res_max = max;
    c->arena.max += max + HOLD_ARENA_EXTRA;
    response_limits(&lim, max);
    if (filter) {
        k->writer = arena_alloc(&c->arena, sizeof(*k->writer));
        k->res_out = (struct buf){arena_alloc(&c->arena, max), 0, 0, max};
        if (k->writer == NULL || k->res_out.data == NULL)
            return AW_NOMEM;
        json_writer_init(k->writer, &k->res_out);
    }
    k->res_stream = json_stream_new(&lim, filter ? on_filter_token
                                                 : schema_validator_token,
                                    filter ? (void *)k
                                           : (void *)k->res_validator,
                                    &c->arena);
    k->res_hold = true;
    return k->res_stream != NULL ? AW_OK : AW_NOMEM;
}

/* A response the contract has something to say about, passed on. */
static void
response_event(struct conn *c, struct request *r, const char *reason,
               const char *outcome)
{
    r->contract->res_reason = reason;
    proxy_record_event(c, r, "contract.response_violation", reason, outcome,
                       5);
}

int
proxy_contract_response(struct conn *c, struct request *r, struct upconn *u)
{
    struct contract_req *k = r->contract;
    const struct schema *s = NULL;
    struct json_limits lim;
    enum config_responses mode;
    unsigned flags = SCHEMA_RESPONSE;
    size_t max;
    int rc;

    if (k == NULL || k->match.op == NULL ||
        k->ct->responses == RESPONSES_OFF || r->res.framing == HTTP_BODY_NONE ||
        (r->res.framing == HTTP_BODY_LENGTH && r->res.content_length == 0))
        return AW_OK;
    /* Monitor mode changes no response either: it only logs. */
    mode = k->ct->monitor ? RESPONSES_LOG : k->ct->responses;
    k->res_mode = mode;
    rc = openapi_response_schema(k->match.op, r->res.status,
                                 response_type(&r->res), &s);
    /* A status or media type the operation does not describe passes,
     * with an event, in every mode: it is not blocked. */
    if (rc != AW_OK) {
        response_event(c, r, "contract.undocumented_response", "success");
        return AW_OK;
    }
    if (s == NULL)
        return AW_OK;
    max = k->ct->max_response_buffer;
    if (mode != RESPONSES_LOG && r->res.framing == HTTP_BODY_LENGTH &&
        r->res.content_length > max) {
        response_event(c, r, "contract.response_too_large", "success");
        return AW_OK;
    }
    if (mode == RESPONSES_FILTER)
        flags |= SCHEMA_FILTER;
    k->res_validator = schema_validator_new(s, flags, k->ct->max_errors,
                                            &c->arena);
    if (k->res_validator == NULL)
        return AW_NOMEM;
    schema_validator_set_max_evals(k->res_validator, k->ct->max_evaluations);
    /* A body of known length is held in as much memory as it needs. */
    if (r->res.framing == HTTP_BODY_LENGTH)
        max = (size_t)r->res.content_length;
    if (mode != RESPONSES_LOG)
        return hold_begin(c, r, k, max) == AW_OK ? AW_AGAIN : AW_NOMEM;
    response_limits(&lim, SIZE_MAX);
    lim.max_string = max;       /* the one string the parser holds */
    k->res_stream = json_stream_new(&lim, schema_validator_token,
                                    k->res_validator, &c->arena);
    return k->res_stream != NULL ? AW_OK : AW_NOMEM;
}

void
proxy_contract_response_data(struct request *r, const char *p, size_t n)
{
    struct contract_req *k = r->contract;
    struct json_error err;

    if (k != NULL && k->res_stream != NULL && n > 0)
        (void)json_stream_feed(k->res_stream, p, n, &err);
}

/*
 * True when the response stream validated whole; *json says whether it
 * parsed at all.
 */
static bool
response_valid(struct contract_req *k, bool *json)
{
    const struct schema_error *e;
    struct json_error err;
    size_t n;

    *json = json_stream_finish(k->res_stream, &err) == AW_OK;
    return *json && schema_validator_done(k->res_validator, &e, &n);
}

void
proxy_contract_response_end(struct conn *c, struct request *r)
{
    struct contract_req *k = r->contract;

    bool json;

    if (k == NULL || k->res_stream == NULL || k->res_hold)
        return;
    if (!response_valid(k, &json))
        response_event(c, r, "contract.invalid_response", "success");
    k->res_stream = NULL;
}

void
proxy_contract_unheld(struct conn *c, struct request *r)
{
    struct contract_req *k = r->contract;

    k->res_hold = false;
    k->res_stream = NULL;       /* the rest passes unchecked */
    response_event(c, r, "contract.response_too_large", "success");
}

int
proxy_contract_decide(struct conn *c, struct request *r, struct slice *body)
{
    struct contract_req *k = r->contract;
    bool json, valid;

    /* Held longer for another holder than the contract checks. */
    if (body->len > k->res_max) {
        proxy_contract_unheld(c, r);
        return AW_OK;
    }
    k->res_hold = false;
    valid = response_valid(k, &json);
    k->res_stream = NULL;
    if (k->res_mode == RESPONSES_FILTER && json) {
        if (!valid)
            response_event(c, r, "contract.invalid_response", "success");
        *body = (struct slice){k->res_out.data, buf_len(&k->res_out)};
        return AW_OK;
    }
    if (!valid) {
        k->res_reason = "contract.invalid_response";
        r->stage = STAGE_RESPOND;
        conn_refuse(c, 502, "contract.invalid_response",
                    "The upstream server's response does not match the "
                    "API's contract.");
        return AW_DECLINED;
    }
    return AW_OK;
}
