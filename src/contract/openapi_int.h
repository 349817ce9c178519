/*
 * Internal to the OpenAPI part of src/contract: the compiled document
 * and what the loader, the matcher and the request checks share. Other
 * modules include only contract/contract.h.
 *
 * Everything here lives in the arena of struct openapi and is written
 * only while the document is loaded; after openapi_load returns, it is
 * read-only and shared by every thread.
 */
#ifndef APIWARD_OPENAPI_INT_H
#define APIWARD_OPENAPI_INT_H

#include "contract/contract.h"
#include "route/route.h"

/* Fixed bounds that need no setting: no sane document comes close. */
#define OAS_MAX_ANCHORS 256     /* distinct YAML anchors in one file */
#define OAS_MAX_REF_HOPS 32     /* "$ref" to "$ref" chain of non-schemas */
#define OAS_MAX_PARAMS 64       /* parameters of one operation */
#define OAS_MAX_PROPS 64        /* listed properties of an object
                                   parameter */
#define OAS_MAX_MEDIA 64        /* media types of one content map */
#define OAS_MAX_RESPONSES 128   /* responses of one operation */
#define OAS_MAX_SCALAR_BYTES (1u << 20)
#define OAS_MAX_SCALAR_LINES 8192
#define OAS_MAX_VALUES 256      /* items or members of one parameter */

/* What the files of one document may add up to; see openapi_options. */
struct oas_budget {
    size_t max_bytes;          /* one file */
    unsigned max_depth;
    size_t nodes;              /* values so far, every file together */
    size_t max_nodes;
    size_t alias_nodes;        /* of those, added by aliases */
    size_t max_alias_nodes;
};

/* A file the document is made of: the document itself first. */
struct oas_file {
    const char *path;          /* real path, or "" for a document read
                                  from memory */
    const char *dir;           /* its folder, where its references
                                  start; NULL for a document read from
                                  memory without a folder */
    const char *uri;           /* "file://" + path, the schemas' base */
    struct json_value *root;
    struct schema_set *set;    /* compiled on first use */
    bool by_ref;               /* the compiler refused the whole file:
                                  its schemas are compiled one by one,
                                  each through a reference */
};

/* A set compiled for one schema of a file (see openapi_schema.c). */
struct oas_set {
    struct schema_set *set;
    struct oas_set *next;
};

/* A place in the document: a file and a JSON pointer into it. */
struct oas_loc {
    unsigned file;
    const char *ptr;           /* "" for the root; in the arena */
};

enum oas_in { OAS_IN_PATH, OAS_IN_QUERY, OAS_IN_HEADER, OAS_IN_COOKIE };

enum oas_style {
    OAS_STYLE_FORM,
    OAS_STYLE_SIMPLE,
    OAS_STYLE_LABEL,
    OAS_STYLE_MATRIX,
    OAS_STYLE_SPACE,           /* spaceDelimited */
    OAS_STYLE_PIPE,            /* pipeDelimited */
    OAS_STYLE_DEEP,            /* deepObject */
};

/* What the schema says the value is; it decides how the text splits. */
enum oas_shape { OAS_SHAPE_SCALAR, OAS_SHAPE_ARRAY, OAS_SHAPE_OBJECT };

/* A listed property of an object parameter and the types it admits. */
struct oas_prop {
    struct slice name;
    unsigned types;
};

struct oas_param {
    struct slice name;         /* NUL-terminated */
    enum oas_in in;
    enum oas_style style;
    enum oas_shape shape;
    bool explode;
    bool required;
    bool allow_empty;          /* allowEmptyValue (query) */
    bool json;                 /* "content" with a JSON media type: the
                                  value is a JSON document */
    bool opaque;               /* "content" with another media type: any
                                  value is accepted */
    const struct schema *schema; /* NULL: any value */
    unsigned types;            /* scalar: what the schema admits; array:
                                  what its items admit; object: what
                                  members not listed admit */
    const struct oas_prop *props; /* object: listed properties */
    unsigned nprops;
    unsigned path_index;       /* OAS_IN_PATH: its place in the match */
};

/* One entry of a content map. */
struct oas_media {
    struct slice type;         /* lower case, no parameters */
    const struct schema *schema; /* NULL when none */
};

struct oas_content {
    const struct oas_media *media;
    unsigned n;
};

struct oas_response {
    int code;                  /* 100..599; 1..5 for "1XX".."5XX"; 0 for
                                  "default" */
    struct oas_content content;
};

struct openapi_op {
    const struct openapi *api;
    enum http_method method;
    const char *id;
    const char *tpl;
    bool deprecated;
    const struct oas_param *params;
    unsigned nparams;
    bool has_body;             /* a requestBody is described */
    bool body_required;
    struct oas_content body;
    const struct oas_response *responses;
    unsigned nresponses;
};

/* One part of a template segment: a literal, or a parameter. */
struct oas_part {
    struct slice lit;          /* the literal; empty for a parameter */
    int param;                 /* index in the template's parameters, or
                                  -1 for a literal */
};

/*
 * A segment of a template that holds parameters. The route table sees
 * it as one whole-segment parameter; the parts are matched afterwards.
 */
struct oas_seg {
    const struct oas_part *parts;
    unsigned nparts;
};

struct oas_path {
    const char *tpl;           /* as written in the document */
    unsigned nparams;          /* template parameters, in order */
    const char *pname[OPENAPI_MAX_PATH_PARAMS];
    const struct oas_seg *segs; /* one per route parameter */
    unsigned nsegs;
    struct openapi_op *ops[HTTP_METHOD_COUNT];
};

struct openapi {
    struct arena arena;
    struct openapi_options opt;
    enum schema_dialect dialect;
    const char *dir;           /* real path of the document's folder, or
                                  NULL: no other files */
    struct oas_file *files;    /* 1 + opt.max_files slots */
    unsigned nfiles;
    struct oas_budget budget;
    struct slice base;         /* base path without a trailing '/' */
    struct oas_path *paths;
    const char **routes_tpl;   /* the route table's template of each
                                  path, while loading */
    size_t npaths;
    struct openapi_op **ops;   /* sorted by template, then method */
    size_t nops;
    struct route_table *routes;
    struct oas_set *sets;      /* per-schema sets, to free */
};

/* The state of one load; errors name the file and the pointer. */
struct oas_build {
    struct openapi *api;
    char *err;
    size_t errlen;
    char fetch_why[160];       /* why the compiler's last fetch failed */
};

/*
 * Record a message "<file>: <pointer>: <text>" (the file only when the
 * document has several) and return rc.
 */
int oas_fail(struct oas_build *b, const struct oas_loc *at, int rc,
             const char *fmt, ...) AW_PRINTF(4, 5);

/* The pointer of member or item name under ptr, escaped; NULL: no memory. */
const char *oas_ptr_add(struct oas_build *b, const char *ptr,
                        const char *name);

/* The value at an escaped JSON pointer under root, or NULL. */
const struct json_value *oas_ptr_get(const struct json_value *root,
                                     const char *ptr);

/* The value at a place; NULL when nothing is there. */
const struct json_value *oas_at(const struct oas_build *b,
                                const struct oas_loc *at);

/*
 * Follow "$ref"s from the value at *at (an object of a kind that is not
 * a schema) until a value that is not a reference: *at and *v then name
 * it. Refuses references that do not resolve, leave the document's
 * folder, or run in a cycle (more than OAS_MAX_REF_HOPS).
 */
int oas_deref(struct oas_build *b, struct oas_loc *at,
              const struct json_value **v);

/*
 * The place a reference written at "from" points to (loading its file
 * when it is another one). Returns AW_OK or an error with the message
 * recorded.
 */
int oas_ref_target(struct oas_build *b, const struct oas_loc *from,
                   struct slice ref, struct oas_loc *to);

/*
 * The file of a "file://" URI, loaded when new, under the same
 * confinement as references. Returns AW_OK or an error with the
 * message recorded.
 */
int oas_file_by_uri(struct oas_build *b, const char *uri, unsigned *index);

/*
 * The compiled schema at a place (its file's set is compiled on first
 * use). Returns AW_OK with *s set, or an error with the message
 * recorded.
 */
int oas_schema(struct oas_build *b, const struct oas_loc *at,
               const struct schema **s);

/*
 * Read the regular file at path (at most budget.max_bytes) into the
 * arena, NUL-terminated. AW_OK, AW_IO (errno says why; a file that is
 * not regular gives EINVAL), AW_TOOBIG or AW_NOMEM.
 */
int oas_read_file(struct openapi *api, const char *path, char **buf,
                  size_t *len);

/* Compile the document loaded as files[0] into api. */
int oas_compile(struct oas_build *b);

/* Read the parameters of one operation into op (see openapi_param.c). */
int oas_params_build(struct oas_build *b, struct openapi_op *op,
                     struct oas_path *path, const struct oas_loc *item,
                     const struct oas_loc *oper);

/* Read a content map at a place (may be absent: nothing is listed). */
int oas_content_build(struct oas_build *b, const struct oas_loc *at,
                      struct oas_content *c);

/* Read the requestBody and responses of one operation. */
int oas_body_build(struct oas_build *b, struct openapi_op *op,
                   const struct oas_loc *oper);

/* Build api->routes from api->paths (see openapi_match.c). */
int oas_routes_build(struct oas_build *b);

/*
 * Split a template into its parameters and route segments, and give
 * the route table template for it in *route (in the arena).
 */
int oas_template_parse(struct oas_build *b, struct oas_path *p,
                       const struct oas_loc *at, const char **route);

/*
 * Parse buf[0..len) into a tree in arena a, counting its values against
 * the budget, which several files may share. err receives a message
 * without the file name.
 */
int oas_parse(const char *buf, size_t len, struct oas_budget *b,
              struct arena *a, struct json_value **out, char *err,
              size_t errlen);

/* Check a decimal number's syntax against RFC 8259. */
bool oas_is_json_number(struct slice s);

#endif
