/*
 * libFuzzer driver for the schema compiler and the streaming validator.
 *
 * The input is a schema document and an instance, split at the first
 * NUL byte (no NUL: the whole input is the schema and also the
 * instance). The schema is compiled in one of the three dialects, chosen
 * by how many white space bytes the schema starts with (0: draft 4,
 * 1: OpenAPI 3.0, 2: 2020-12, and so on), so that every seed stays JSON;
 * a refusal is fine, a crash or a leak is not. A compiled schema then
 * validates the instance twice, once replayed from json_parse's tree by
 * json_walk and once through json_stream fed in small pieces, under the
 * flags numbered by the white space bytes the instance starts with. Both
 * runs must agree, and an outcome must keep the promises of contract.h:
 * valid exactly when no error is reported, every error a NUL-terminated
 * JSON pointer and a keyword.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ARENA_MAX ((size_t)64 << 20)

struct fuzz_result {
    bool valid;
    size_t nerr;
};

static void
fuzz_check_errors(bool valid, const struct schema_error *errs, size_t n)
{
    if (valid != (n == 0) || n > 8)
        abort();
    for (size_t i = 0; i < n; i++)
        if (errs[i].pointer == NULL || errs[i].keyword == NULL ||
            (errs[i].pointer[0] != '\0' && errs[i].pointer[0] != '/'))
            abort();
}

/* Validate through json_walk; false when the instance does not parse. */
static bool
fuzz_walk(const struct schema *s, const char *buf, size_t len,
          unsigned flags, struct fuzz_result *r)
{
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;
    struct schema_validator *val;
    const struct schema_error *errs;
    struct arena a;
    bool parsed;

    json_limits_default(&lim);
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    parsed = json_parse(buf, len, &lim, &a, &v, &err) == AW_OK;
    if (parsed) {
        val = schema_validator_new(s, flags, 8, &a);
        if (val == NULL)
            abort();
        (void)json_walk(v, schema_validator_token, val);
        r->valid = schema_validator_done(val, &errs, &r->nerr);
        fuzz_check_errors(r->valid, errs, r->nerr);
    }
    arena_fini(&a);
    return parsed;
}

/* Validate through json_stream, fed 7 bytes at a time. */
static void
fuzz_stream(const struct schema *s, const char *buf, size_t len,
            unsigned flags, struct fuzz_result *r)
{
    struct json_limits lim;
    struct json_error err;
    struct schema_validator *val;
    struct json_stream *js;
    const struct schema_error *errs;
    struct arena a;
    int rc = AW_OK;

    json_limits_default(&lim);
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    val = schema_validator_new(s, flags, 8, &a);
    js = val ? json_stream_new(&lim, schema_validator_token, val, &a) : NULL;
    if (js == NULL)
        abort();
    for (size_t i = 0; rc == AW_OK && i < len; i += 7)
        rc = json_stream_feed(js, buf + i, MIN(7, len - i), &err);
    if (rc == AW_OK)
        rc = json_stream_finish(js, &err);
    r->valid = schema_validator_done(val, &errs, &r->nerr);
    fuzz_check_errors(r->valid, errs, r->nerr);
    /* A document the stream refused is never valid. */
    if (rc != AW_OK)
        r->valid = false;
    arena_fini(&a);
}

static size_t
fuzz_leading_ws(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\t' ||
                     p[i] == '\r'))
        i++;
    return i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum schema_dialect dialects[] = {
        SCHEMA_DRAFT4, SCHEMA_OAS30, SCHEMA_2020_12};
    const char *buf = (const char *)data;
    const char *nul = memchr(buf, '\0', size);
    size_t slen = nul ? (size_t)(nul - buf) : size;
    const char *inst = nul ? nul + 1 : buf;
    size_t ilen = nul ? size - slen - 1 : size;
    struct json_limits lim;
    struct json_value *doc = NULL;
    struct json_error jerr;
    struct schema_options o;
    struct schema_set *set = NULL;
    const struct schema *s;
    struct fuzz_result w, st;
    char err[256];
    struct arena a;
    unsigned flags = (unsigned)fuzz_leading_ws(inst, ilen) & 15;

    json_limits_default(&lim);
    lim.max_depth = 16;
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    if (json_parse(buf, slen, &lim, &a, &doc, &jerr) != AW_OK)
        goto out;
    schema_options_default(&o);
    o.dialect = dialects[fuzz_leading_ws(buf, slen) % 3];
    o.max_nodes = 2000;
    if (schema_compile(doc, &o, &set, err, sizeof(err)) != AW_OK) {
        if (set != NULL || memchr(err, '\0', sizeof(err)) == NULL)
            abort();
        goto out;
    }
    s = schema_at(set, "", err, sizeof(err));
    if (s != NULL) {
        (void)schema_types(s);
        if (fuzz_walk(s, inst, ilen, flags, &w)) {
            fuzz_stream(s, inst, ilen, flags, &st);
            if (w.valid != st.valid || w.nerr != st.nerr)
                abort();
        }
    }
out:
    schema_set_free(set);
    arena_fini(&a);
    return 0;
}
