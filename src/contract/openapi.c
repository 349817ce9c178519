/*
 * Loading and freeing a compiled OpenAPI document, and the accessors of
 * its operations. The compilation itself is in openapi_build.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract/openapi_int.h"

void
openapi_options_default(struct openapi_options *o)
{
    struct schema_options so;

    memset(o, 0, sizeof(*o));
    schema_options_default(&so);
    o->max_document_bytes = (size_t)8 << 20;
    o->max_files = 64;
    o->max_operations = 10000;
    o->max_nodes = 1000000;
    o->max_alias_nodes = 100000;
    o->max_depth = 64;
    o->max_schema_nodes = so.max_nodes;
    o->max_errors = 8;
    json_limits_default(&o->json);
}

/*
 * The arena's bound: room for every file's bytes, several times over
 * (strings are copied out of YAML, pointers and names are built from
 * them), and for every value of the tree. Saturates rather than wraps.
 */
static size_t
oas_arena_max(const struct openapi_options *o)
{
    size_t cap = (size_t)4 << 30, files = (size_t)o->max_files + 1;
    size_t bytes = o->max_document_bytes;

    if (bytes > cap / 4 / files || o->max_nodes > cap / 256)
        return cap;
    return MIN(cap, bytes * files * 4 + o->max_nodes * 128);
}

/* A new, empty document with its arena and file table. */
static struct openapi *
oas_new(const struct openapi_options *o)
{
    struct openapi *api = calloc(1, sizeof(*api));

    if (api == NULL)
        return NULL;
    api->opt = *o;
    api->opt.base_path = NULL; /* the caller's string is not kept */
    api->opt.max_depth = MAX(2u, MIN(o->max_depth, 1024u));
    arena_init(&api->arena, 64 * 1024, oas_arena_max(o));
    api->budget = (struct oas_budget){
        .max_bytes = o->max_document_bytes,
        .max_depth = api->opt.max_depth,
        .max_nodes = o->max_nodes,
        .max_alias_nodes = o->max_alias_nodes,
    };
    api->files = arena_alloc(&api->arena, ((size_t)o->max_files + 1) *
                                              sizeof(*api->files));
    if (api->files == NULL) {
        openapi_free(api);
        return NULL;
    }
    return api;
}

/*
 * Parse the main document (whose bytes are in the arena already) and
 * compile it.
 */
static int
oas_load_root(struct openapi *api, const char *buf, size_t len,
              const char *path, const struct openapi_options *o, char *err,
              size_t errlen)
{
    struct oas_build b = {.api = api, .err = err, .errlen = errlen};
    struct oas_file *f = &api->files[0];
    int rc;

    *f = (struct oas_file){.path = path, .dir = api->dir};
    /* A document from memory is named as if it were in its folder. */
    if (path[0] != '\0')
        f->uri = arena_printf(&api->arena, "file://%s", path);
    else
        f->uri = arena_printf(&api->arena, "file://%s/openapi",
                              api->dir != NULL && strcmp(api->dir, "/") != 0
                                  ? api->dir
                                  : "");
    if (f->uri == NULL)
        return AW_NOMEM;
    if (o->base_path != NULL) {
        size_t bl = strlen(o->base_path);

        while (bl > 0 && o->base_path[bl - 1] == '/')
            bl--;
        api->opt.base_path = arena_dup(&api->arena, o->base_path, bl);
        if (api->opt.base_path == NULL)
            return AW_NOMEM;
    }
    api->nfiles = 1;
    rc = oas_parse(buf, len, &api->budget, &api->arena, &f->root, err,
                   errlen);
    if (rc != AW_OK)
        return rc;
    return oas_compile(&b);
}

/* Fill err with a fixed message unless a more precise one is there. */
static int
oas_finish(struct openapi *api, int rc, struct openapi **out, char *err,
           size_t errlen)
{
    if (rc == AW_OK) {
        *out = api;
        return AW_OK;
    }
    if (errlen > 0 && err[0] == '\0')
        snprintf(err, errlen, "%s", rc == AW_NOMEM ? "out of memory"
                                                   : "cannot be loaded");
    openapi_free(api);
    return rc;
}

int
openapi_load_mem(const char *buf, size_t len, const char *dir,
                 const struct openapi_options *o, struct openapi **out,
                 char *err, size_t errlen)
{
    struct openapi *api;
    char *copy, *rd = NULL;
    int rc = AW_NOMEM;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    if (len > o->max_document_bytes) {
        snprintf(err, errlen, "larger than %zu bytes", o->max_document_bytes);
        return AW_TOOBIG;
    }
    api = oas_new(o);
    if (api == NULL)
        return AW_NOMEM;
    if (dir != NULL) {
        rd = realpath(dir, NULL);
        if (rd == NULL) {
            snprintf(err, errlen, "folder %s: %s", dir, strerror(errno));
            return oas_finish(api, AW_IO, out, err, errlen);
        }
        api->dir = arena_dup(&api->arena, rd, strlen(rd));
        free(rd);
        if (api->dir == NULL)
            return oas_finish(api, AW_NOMEM, out, err, errlen);
    }
    /* The tree may point into the text, so the text lives as long. */
    copy = arena_dup(&api->arena, len > 0 ? buf : "", len);
    if (copy != NULL)
        rc = oas_load_root(api, copy, len, "", o, err, errlen);
    return oas_finish(api, rc, out, err, errlen);
}

int
openapi_load(const char *path, const struct openapi_options *o,
             struct openapi **out, char *err, size_t errlen)
{
    struct openapi *api;
    char *rp, *buf = NULL, *slash;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    rp = realpath(path, NULL);
    if (rp == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return AW_IO;
    }
    api = oas_new(o);
    if (api == NULL) {
        free(rp);
        return AW_NOMEM;
    }
    slash = strrchr(rp, '/');
    api->dir = arena_dup(&api->arena, rp, slash > rp ? (size_t)(slash - rp)
                                                     : 1);
    rc = api->dir == NULL ? AW_NOMEM : oas_read_file(api, rp, &buf, &len);
    if (rc == AW_IO)
        snprintf(err, errlen, "%s", strerror(errno));
    else if (rc == AW_TOOBIG)
        snprintf(err, errlen, "larger than %zu bytes",
                 o->max_document_bytes);
    if (rc == AW_OK) {
        char *keep = arena_dup(&api->arena, rp, strlen(rp));

        rc = keep == NULL ? AW_NOMEM
                          : oas_load_root(api, buf, len, keep, o, err,
                                          errlen);
    }
    free(rp);
    return oas_finish(api, rc, out, err, errlen);
}

void
openapi_free(struct openapi *api)
{
    if (api == NULL)
        return;
    route_table_free(api->routes);
    for (unsigned i = 0; i < api->nfiles; i++)
        schema_set_free(api->files[i].set);
    for (struct oas_set *s = api->sets; s != NULL; s = s->next)
        schema_set_free(s->set);
    arena_fini(&api->arena);
    free(api);
}

enum schema_dialect
openapi_dialect(const struct openapi *api)
{
    return api->dialect;
}

const struct json_value *
openapi_document(const struct openapi *api)
{
    return api->files[0].root;
}

size_t
openapi_op_count(const struct openapi *api)
{
    return api->nops;
}

const struct openapi_op *
openapi_op_at(const struct openapi *api, size_t i)
{
    return i < api->nops ? api->ops[i] : NULL;
}

const char *
openapi_op_id(const struct openapi_op *op)
{
    return op->id;
}

const char *
openapi_op_template(const struct openapi_op *op)
{
    return op->tpl;
}

enum http_method
openapi_op_method(const struct openapi_op *op)
{
    return op->method;
}

bool
openapi_op_deprecated(const struct openapi_op *op)
{
    return op->deprecated;
}
