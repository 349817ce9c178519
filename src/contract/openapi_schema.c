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
 *
 * The compiler leaves the root of an OpenAPI document alone, but takes
 * the root of any other document for a schema, and a file of
 * parameters or responses reached by "$ref" is not one. When it refuses
 * a whole file, the file's schemas are compiled one by one instead,
 * each as a set of its own whose document is the single reference
 * {"$ref": "<file URI>#<the schema's pointer>"}, resolved through the
 * fetch callback. Schemas shared by several of them are then compiled
 * more than once.
 */
#include <stdio.h>
#include <string.h>

#include "contract/openapi_int.h"

/*
 * The compiler asks for another file by URI. A refusal is kept in
 * fetch_why: the compiler then fails naming the reference only, and
 * oas_schema_fail adds why ("leaves the document's folder").
 */
static const struct json_value *
oas_on_fetch(void *ctx, const char *uri)
{
    struct oas_build *b = ctx;
    const char *why;
    unsigned index;

    if (oas_file_by_uri(b, uri, &index) == AW_OK)
        return b->api->files[index].root;
    why = strstr(b->err, ": ");
    snprintf(b->fetch_why, sizeof(b->fetch_why), "%s",
             why != NULL ? why + 2 : b->err);
    return NULL;
}

/* Record the compiler's message, with the reason of a refused fetch. */
static int
oas_schema_fail(struct oas_build *b, const struct oas_loc *at, int rc,
                const char *msg)
{
    if (b->fetch_why[0] != '\0')
        return oas_fail(b, at, rc, "%s (%s)", msg, b->fetch_why);
    return oas_fail(b, at, rc, "%s", msg);
}

static void
oas_schema_options(struct oas_build *b, struct schema_options *so,
                   const char *base)
{
    schema_options_default(so);
    so->dialect = b->api->dialect;
    so->base_uri = base;
    so->fetch = oas_on_fetch;
    so->fetch_ctx = b;
    so->max_nodes = b->api->opt.max_schema_nodes;
}

/*
 * Compile one schema through a document that only refers to it, as a
 * set of its own (kept in api->sets for openapi_free).
 */
static int
oas_schema_by_ref(struct oas_build *b, const struct oas_loc *at,
                  const struct schema **s)
{
    struct openapi *api = b->api;
    struct json_value *doc = arena_alloc(&api->arena, sizeof(*doc));
    struct json_member *m = arena_alloc(&api->arena, sizeof(*m));
    struct json_value *ref = arena_alloc(&api->arena, sizeof(*ref));
    struct oas_set *node = arena_alloc(&api->arena, sizeof(*node));
    char *uri = arena_printf(&api->arena, "%s#%s", api->files[at->file].uri,
                             at->ptr);
    struct schema_options so;
    char msg[256];
    int rc;

    if (doc == NULL || m == NULL || ref == NULL || node == NULL ||
        uri == NULL)
        return AW_NOMEM;
    *ref = (struct json_value){.type = JSON_STRING,
                               .u.str = {uri, strlen(uri)}};
    *m = (struct json_member){.name = SLICE_LIT("$ref"), .value = ref};
    *doc = (struct json_value){.type = JSON_OBJECT,
                               .u.obj = {.members = m, .n = 1}};
    oas_schema_options(b, &so, "urn:apiward:openapi:ref");
    b->fetch_why[0] = '\0';
    rc = schema_compile(doc, &so, &node->set, msg, sizeof(msg));
    if (rc != AW_OK)
        return oas_schema_fail(b, at, rc, msg);
    node->next = api->sets;
    api->sets = node;
    *s = schema_at(node->set, "", msg, sizeof(msg));
    if (*s == NULL)
        return oas_schema_fail(b, at, AW_INVALID, msg);
    return AW_OK;
}

int
oas_schema(struct oas_build *b, const struct oas_loc *at,
           const struct schema **s)
{
    struct oas_file *f = &b->api->files[at->file];
    struct schema_options so;
    char msg[256];

    if (f->set == NULL && !f->by_ref) {
        oas_schema_options(b, &so, f->uri);
        if (schema_compile(f->root, &so, &f->set, msg, sizeof(msg)) != AW_OK)
            f->by_ref = true;
    }
    if (f->by_ref)
        return oas_schema_by_ref(b, at, s);
    b->fetch_why[0] = '\0';
    *s = schema_at(f->set, at->ptr, msg, sizeof(msg));
    if (*s == NULL)
        return oas_schema_fail(b, at, AW_INVALID, msg);
    return AW_OK;
}
