/*
 * libFuzzer driver for the OpenAPI loader.
 *
 * The input is a document (YAML or JSON) loaded from memory with no
 * folder, so no reference can reach a file. Small bounds keep alias
 * bombs and huge documents quick to refuse. A document that loads must
 * then hold together: every operation matches its own template with
 * each parameter replaced by a value, and a few fixed requests go
 * through the parameter and body checks without a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "contract/contract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The template with every "{...}" replaced by "1" into out. */
static struct slice
fuzz_fill(const char *tpl, char *out, size_t cap)
{
    size_t o = 0;

    for (const char *p = tpl; *p != '\0' && o + 2 < cap; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');

            if (end == NULL)
                break;
            out[o++] = '1';
            p = end;
            continue;
        }
        out[o++] = *p;
    }
    return (struct slice){out, o};
}

/* Run the request checks of one matched operation. */
static void
fuzz_checks(const struct openapi_match *m)
{
    static const char *const queries[] = {
        "", "a=1", "a=1&a=2", "x[y]=1&x[z]=2", "q=%7B%22a%22%3A1%7D",
        "p=1%202%7C3,4"};
    static const struct http_header headers[] = {
        {SLICE_LIT("X-Id"), SLICE_LIT("1, 2")},
        {SLICE_LIT("Cookie"), SLICE_LIT("a=1; b=x,y")},
    };
    struct openapi_problem p;
    struct openapi_body b;
    struct arena a;

    arena_init(&a, 4096, 1 << 20);
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        struct openapi_request r = {
            .match = m,
            .query = {queries[i], strlen(queries[i])},
            .headers = headers,
            .nheaders = 2,
        };

        if (openapi_check_params(&r, &a, &p) != AW_OK &&
            (p.reason == NULL || p.status < 400))
            abort();
        arena_reset(&a);
    }
    arena_fini(&a);
    if (openapi_request_body(m->op, SLICE_LIT("application/json"), true, &b,
                             &p) == AW_INVALID &&
        p.reason == NULL)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct openapi_options o;
    struct openapi *api = NULL;
    char err[256];

    openapi_options_default(&o);
    o.max_document_bytes = 64 * 1024;
    o.max_nodes = 20000;
    o.max_alias_nodes = 2000;
    o.max_schema_nodes = 2000;
    o.base_path = "";
    if (openapi_load_mem((const char *)data, size, NULL, &o, &api, err,
                         sizeof(err)) != AW_OK) {
        if (api != NULL || err[0] == '\0')
            abort();
        return 0;
    }
    for (size_t i = 0; i < openapi_op_count(api); i++) {
        const struct openapi_op *op = openapi_op_at(api, i);
        struct openapi_match m;
        char path[512];
        struct slice s = fuzz_fill(openapi_op_template(op), path,
                                   sizeof(path));

        if (openapi_match(api, openapi_op_method(op), s, &m) ==
            OPENAPI_FOUND)
            fuzz_checks(&m);
    }
    openapi_free(api);
    return 0;
}
