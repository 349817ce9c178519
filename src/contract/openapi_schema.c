/*
 * The schemas of an OpenAPI document, compiled by the schema compiler
 * of this module.
 *
 * Each file of the document is one compiled set, made on first use:
 * its base URI is the file's "file://" URI, so relative references in
 * its schemas resolve against its folder, and the fetch callback hands
 * the compiler the other files, read under the same confinement as the
 * references between non-schema objects (openapi_ref.c). A schema is
 * then found in its file's set by its JSON pointer.
 */
#include <stdio.h>
#include <string.h>

#include "contract/openapi_int.h"

/*
 * The compiler asks for another file by URI. A refusal leaves its
 * reason in the load's message; the compiler then fails naming the
 * reference, and that message is reported instead.
 */
static const struct json_value *
oas_on_fetch(void *ctx, const char *uri)
{
    struct oas_build *b = ctx;
    unsigned index;

    if (oas_file_by_uri(b, uri, &index) != AW_OK)
        return NULL;
    return b->api->files[index].root;
}

/* Compile the set of a file. */
static int
oas_set_build(struct oas_build *b, unsigned file)
{
    struct openapi *api = b->api;
    struct oas_file *f = &api->files[file];
    struct schema_options so;
    char msg[256];
    int rc;

    schema_options_default(&so);
    so.dialect = api->dialect;
    so.base_uri = f->uri;
    so.fetch = oas_on_fetch;
    so.fetch_ctx = b;
    so.max_nodes = api->opt.max_schema_nodes;
    rc = schema_compile(f->root, &so, &f->set, msg, sizeof(msg));
    if (rc != AW_OK)
        return oas_fail(b, &(struct oas_loc){file, ""}, rc, "%s", msg);
    return AW_OK;
}

int
oas_schema(struct oas_build *b, const struct oas_loc *at,
           const struct schema **s)
{
    struct oas_file *f = &b->api->files[at->file];
    char msg[256];
    int rc;

    if (f->set == NULL) {
        rc = oas_set_build(b, at->file);
        if (rc != AW_OK)
            return rc;
    }
    *s = schema_at(f->set, at->ptr, msg, sizeof(msg));
    if (*s == NULL)
        return oas_fail(b, at, AW_INVALID, "%s", msg);
    return AW_OK;
}
