/*
 * libFuzzer driver for the response filter of a contract: a backend's
 * body, pushed through json_stream into the schema validator (response
 * and filter flags) and the token writer that drops what the validator
 * says to drop, as src/proxy/contract.c does.
 *
 * The schema lists some members, marks one writeOnly, nests objects and
 * arrays and refuses extra members nowhere, so that every path of
 * schema_validator_keep is taken. Whatever the bytes, the output of a
 * body that parsed must parse again; and when the body was valid (but
 * for what the filter drops), the output holds neither a member named
 * "secret" (writeOnly) nor one named "extra" (listed nowhere).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ARENA_MAX ((size_t)64 << 20)
#define FUZZ_OUT_MAX ((size_t)1 << 20)

static const char doc[] =
    "{\"openapi\": \"3.0.3\", \"info\": {\"title\": \"f\", \"version\": "
    "\"1\"}, \"paths\": {\"/items\": {\"get\": {\"responses\": {\"200\": {"
    "\"description\": \"ok\", \"content\": {\"application/json\": {"
    "\"schema\": {\"type\": \"array\", \"items\": {\"$ref\": "
    "\"#/components/schemas/Item\"}}}}}}}}}, \"components\": {\"schemas\": "
    "{\"Item\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": "
    "\"integer\"}, \"secret\": {\"type\": \"string\", \"writeOnly\": true},"
    " \"tags\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}, "
    "\"child\": {\"$ref\": \"#/components/schemas/Item\"}}}}}}";

static const struct schema *schema;

/* The compiled document, loaded once for the whole run. */
static const struct schema *
load_schema(void)
{
    static struct openapi *api;
    struct openapi_options o;
    struct openapi_match m;
    char err[256];

    if (api != NULL)
        return schema;
    openapi_options_default(&o);
    if (openapi_load_mem(doc, sizeof(doc) - 1, NULL, &o, &api, err,
                         sizeof(err)) != AW_OK ||
        openapi_match(api, HTTP_GET, SLICE_LIT("/items"), &m) !=
            OPENAPI_FOUND ||
        openapi_response_schema(m.op, 200, SLICE_LIT("application/json"),
                                &schema) != AW_OK || schema == NULL)
        abort();
    return schema;
}

struct filter {
    struct schema_validator *v;
    struct json_writer w;
};

static int
on_filter(void *ctx, const struct json_token *t)
{
    struct filter *f = ctx;
    int rc = schema_validator_token(f->v, t);

    if (rc != AW_OK)
        return rc;
    if (t->kind == JSON_TOK_NAME && !f->w.dropping &&
        !schema_validator_keep(f->v)) {
        json_writer_drop(&f->w, t);
        return AW_OK;
    }
    return json_writer_token(&f->w, t);
}

/* No member named "secret" or "extra" survives the filter (ctx set). */
static int
on_check(void *ctx, const struct json_token *t)
{
    if (ctx != NULL && t->kind == JSON_TOK_NAME &&
        (slice_eq(t->text, SLICE_LIT("secret")) ||
         slice_eq(t->text, SLICE_LIT("extra"))))
        abort();
    return AW_OK;
}

static int
stream(const char *buf, size_t len, json_token_fn fn, void *ctx,
       struct arena *a)
{
    struct json_limits lim;
    struct json_error err;
    struct json_stream *s;
    int rc;

    json_limits_default(&lim);
    lim.max_bytes = FUZZ_OUT_MAX;
    s = json_stream_new(&lim, fn, ctx, a);
    rc = s != NULL ? json_stream_feed(s, buf, len, &err) : AW_NOMEM;
    return rc == AW_OK ? json_stream_finish(s, &err) : rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct schema *s = load_schema();
    const struct schema_error *e;
    struct filter f;
    size_t n;
    struct buf out;
    struct arena a;
    char *mem;

    if (size > FUZZ_OUT_MAX)
        return 0;
    mem = malloc(FUZZ_OUT_MAX);
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    f.v = schema_validator_new(s, SCHEMA_RESPONSE | SCHEMA_FILTER, 8, &a);
    if (mem == NULL || f.v == NULL)
        goto done;
    out = (struct buf){mem, 0, 0, FUZZ_OUT_MAX};
    json_writer_init(&f.w, &out);
    if (stream((const char *)data, size, on_filter, &f, &a) != AW_OK)
        goto done;
    if (stream(out.data, out.end, on_check,
               schema_validator_done(f.v, &e, &n) ? &f : NULL, &a) != AW_OK)
        abort();

done:
    arena_fini(&a);
    free(mem);
    return 0;
}
