/*
 * contract: the API's own description as a positive security model.
 *
 * Two layers. Schemas (JSON Schema draft 4 as OpenAPI 3.0 extends it, and
 * 2020-12 as OpenAPI 3.1 uses it) are compiled once per configuration
 * snapshot into an immutable program that any number of threads share;
 * a validator then runs that program over the token stream of
 * json_stream, so a body is validated when its last byte arrives, with
 * no tree built. On top, an OpenAPI document becomes a table of
 * operations whose parameters, content types and bodies are checked
 * against it.
 *
 * A keyword the compiler does not implement is refused when the schema
 * is loaded, never ignored.
 */
#ifndef APIWARD_CONTRACT_H
#define APIWARD_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "http/http.h"
#include "json/json.h"

/* ------------------------------------------------------------------ */
/* Schemas                                                             */
/* ------------------------------------------------------------------ */

enum schema_dialect {
    SCHEMA_DRAFT4,     /* JSON Schema draft 4 */
    SCHEMA_OAS30,      /* OpenAPI 3.0: draft 4 subset plus nullable,
                          readOnly, writeOnly, discriminator */
    SCHEMA_2020_12,    /* JSON Schema 2020-12, as OpenAPI 3.1 uses it */
};

/*
 * Where a "$ref" outside the document being compiled is looked up: given
 * the absolute URI of a resource (no fragment), return its parsed
 * document, or NULL when it is unknown (the compile then fails naming
 * the reference). The documents must outlive the compiled set.
 */
typedef const struct json_value *(*schema_fetch_fn)(void *ctx,
                                                    const char *uri);

struct schema_options {
    enum schema_dialect dialect;
    const char *base_uri;      /* URI of the document, for relative
                                  references; NULL: none */
    schema_fetch_fn fetch;     /* NULL: only references inside the
                                  document resolve */
    void *fetch_ctx;
    size_t max_nodes;          /* compiled schema nodes in the set,
                                  default 100000 */
    bool assert_format;        /* "format" is asserted for the formats
                                  listed in docs/schema.md (default
                                  true); false: an annotation only */
};

void schema_options_default(struct schema_options *o);

/*
 * True when "format": name is asserted (date-time, date, time, email,
 * uuid, uri, uri-reference, ipv4, ipv6, hostname). Any other format is
 * accepted and ignored, as an annotation; a loader may warn about it.
 */
bool schema_format_asserted(const char *name);

/* A compiled set of schemas: one document and whatever it references. */
struct schema_set;
/* One compiled schema in a set; valid as long as its set. */
struct schema;

/*
 * Compile the document doc (which must outlive the set). An OpenAPI
 * document (a root object with an "openapi" or "swagger" member) is not
 * a schema itself: its root is only registered, and schema_at compiles
 * the schemas inside it. Returns AW_OK
 * with *out set; AW_INVALID with a message in err naming the JSON
 * pointer of the offending keyword (an unsupported keyword, a bad value,
 * a reference that does not resolve, a pattern PCRE2 refuses); AW_TOOBIG
 * past max_nodes; AW_NOMEM.
 */
int schema_compile(const struct json_value *doc,
                   const struct schema_options *o,
                   struct schema_set **out, char *err, size_t errlen);

void schema_set_free(struct schema_set *set);

/*
 * The schema at a JSON pointer inside the compiled document ("" for the
 * root, "/components/schemas/User"), compiling it on first use if it was
 * not reached from the root. NULL, with a message in err, when there is
 * no schema there. Call only while the set is being built (before it is
 * shared between threads).
 */
const struct schema *schema_at(struct schema_set *set, const char *pointer,
                               char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Validation                                                          */
/* ------------------------------------------------------------------ */

/* How a validator treats the instance; flags may be combined. */
enum {
    SCHEMA_REQUEST = 1u << 0,  /* readOnly properties are refused */
    SCHEMA_RESPONSE = 1u << 1, /* writeOnly properties are refused */
    SCHEMA_STRICT = 1u << 2,   /* an object schema with "properties" and
                                  no additionalProperties (nor
                                  patternProperties) refuses members it
                                  does not list */
    SCHEMA_FILTER = 1u << 3,   /* with SCHEMA_RESPONSE: members that no
                                  schema lists, and writeOnly ones, are
                                  not errors but dropped; see
                                  schema_validator_keep */
};

/* One failure: where in the instance, and which keyword refused it. */
struct schema_error {
    const char *pointer;       /* JSON pointer into the instance,
                                  NUL-terminated, in the validator's
                                  arena */
    const char *keyword;       /* "type", "required", "additionalProperties",
                                  "readOnly", "format", ... */
};

struct schema_validator;

/*
 * A validator of one instance against s, its state in arena a. At most
 * max_errors failures are kept (at least one); validation goes on to
 * the end either way. NULL when the arena is exhausted.
 */
struct schema_validator *schema_validator_new(const struct schema *s,
                                              unsigned flags,
                                              unsigned max_errors,
                                              struct arena *a);

/*
 * Bound the evaluations active at once (a schema applied to a value,
 * including every allOf/anyOf/oneOf branch and $ref on the way), default
 * SCHEMA_MAX_EVALS_DEFAULT. Past it the validator stops: the instance
 * is invalid with the error keyword "limit", and schema_validator_token
 * returns AW_TOOBIG.
 */
#define SCHEMA_MAX_EVALS_DEFAULT 10000
void schema_validator_set_max_evals(struct schema_validator *v,
                                    unsigned max);

/*
 * Feed the next token of the instance (the tokens of json_stream, or
 * made up by the caller for a parameter: a NUMBER token for "42", a
 * STRING for text). Usable as a json_token_fn with the validator as
 * ctx: returns AW_OK, AW_NOMEM when the arena is exhausted, or
 * AW_TOOBIG past a bound of the validator (evaluations, depth); after
 * a failure every call returns it again and the instance is invalid.
 */
int schema_validator_token(void *v, const struct json_token *t);

/*
 * With SCHEMA_FILTER, after a NAME token: false when that member (the
 * name and its whole value) is to be dropped from the output. Always
 * true otherwise.
 */
bool schema_validator_keep(const struct schema_validator *v);

/*
 * After a STRING token: what the schemas applied to it say of it, as
 * bits. SCHEMA_STRING_CLOSED: it passed an enum or const, or a format
 * whose values hold no markup, quotes or blanks (date, date-time, time,
 * uuid, ipv4, ipv6, hostname); SCHEMA_STRING_URI: a schema gives it
 * format uri or uri-reference. 0 when neither.
 */
enum {
    SCHEMA_STRING_CLOSED = 1u << 0,
    SCHEMA_STRING_URI = 1u << 1,
};
unsigned schema_validator_string(const struct schema_validator *v);

/*
 * After the last token: true when the instance is valid. *errors and *n
 * receive the failures kept (none when valid).
 */
bool schema_validator_done(struct schema_validator *v,
                           const struct schema_error **errors, size_t *n);

/*
 * The types a schema admits, as bits (1u << enum json_type, with
 * JSON_NUMBER for both "number" and "integer"); all bits when it says
 * nothing. For reading parameters whose text must be typed first.
 */
unsigned schema_types(const struct schema *s);

/* ------------------------------------------------------------------ */
/* OpenAPI documents                                                   */
/* ------------------------------------------------------------------ */

/*
 * An OpenAPI 3.0.x or 3.1.x document, YAML or JSON, compiled into an
 * immutable table of operations that any number of threads share. The
 * rules (what is supported, what is refused at load, how base paths and
 * parameter styles work) are in docs/contract.md.
 *
 * Schemas: each file of the document is handed to schema_compile whole
 * (base_uri its "file://" URI, fetch giving the other files), and each
 * schema is then taken with schema_at at its pointer
 * ("/paths/~1pets/get/responses/200/content/application~1json/schema",
 * "/components/schemas/Pet"). The root of an OpenAPI document is not a
 * schema, and schema_compile leaves it alone; a file whose root it
 * refuses (one holding parameters, say) has its schemas compiled one by
 * one, each through a document {"$ref": "<file URI>#<pointer>"}. Of the
 * documents fetch returns, only the pointed-to schemas are compiled.
 *
 * Reason codes of the checks, with the status each problem carries:
 *
 *   contract.unknown_path            404  no path of the document matches
 *   contract.method_not_allowed      405  the path exists for other
 *                                         methods (Allow: match.allowed)
 *   contract.missing_parameter       400  a required parameter is absent
 *   contract.invalid_parameter       400  a value is malformed for its
 *                                         style or fails its schema
 *   contract.unknown_parameter       400  a query parameter the operation
 *                                         does not describe (unless
 *                                         allow_unknown_query)
 *   contract.duplicate_parameter     400  a parameter that is not an
 *                                         array given more than once
 *   contract.too_many_parameters     400  more than 256 query parameters
 *                                         or pieces of one value
 *   contract.missing_body            400  a required body is absent
 *   contract.unexpected_body         400  a body for an operation that
 *                                         describes none
 *   contract.unsupported_media_type  415  Content-Type absent, malformed
 *                                         or not listed
 *   contract.invalid_body            422  the body fails its schema (the
 *                                         caller runs the validator)
 *   contract.no_memory               500  the request's arena ran out
 */

/* Bounds and choices of a load; openapi_options_default gives these. */
struct openapi_options {
    size_t max_document_bytes; /* one file, default 8 MiB */
    unsigned max_files;        /* other files reached by "$ref",
                                  default 64 */
    size_t max_operations;     /* default 10000 */
    size_t max_nodes;          /* values of every file together, YAML
                                  aliases counted once per use, default
                                  1000000 */
    size_t max_alias_nodes;    /* of those, values that alias uses
                                  add, default 100000 */
    unsigned max_depth;        /* nesting of a file, default 64 */
    size_t max_schema_nodes;   /* schema_options.max_nodes of each
                                  file, default the compiler's */
    const char *base_path;     /* prefix of every path, overriding the
                                  path of servers[0].url; NULL: from
                                  the document ("" or "/" for none) */
    bool allow_unknown_query;  /* undescribed query parameters pass;
                                  default false (refused) */
    bool strict;               /* request bodies are checked with
                                  SCHEMA_STRICT (mass assignment);
                                  default false */
    unsigned max_errors;       /* failures a validator keeps, default 8 */
    struct json_limits json;   /* request bodies and JSON-encoded
                                  parameters (json_limits_default) */
};

void openapi_options_default(struct openapi_options *o);

/* A compiled document. */
struct openapi;
/* One operation (a method on a path) of a compiled document. */
struct openapi_op;

/*
 * Load the document at path: read it (at most max_document_bytes),
 * parse it (JSON when its first non-blank byte is '{' or '[', else YAML
 * 1.2),
 * follow "$ref"s into it and into files under its directory, and
 * compile operations and schemas. The options are copied.
 *
 * Returns AW_OK with *out set; AW_INVALID with a message in err naming
 * the JSON pointer (or line) of the fault, and the file when it is not
 * the document itself (the caller names that one): a syntax error,
 * a duplicate key, an unsupported version or dialect, a reference that
 * does not resolve or leaves the directory, a cycle of non-schema
 * references, a schema the compiler refuses, a path template that
 * cannot be matched; AW_TOOBIG past a bound (err says which); AW_IO
 * when the file cannot be read (errno set); AW_NOMEM. err is always
 * NUL-terminated when errlen > 0; *out is NULL on failure.
 */
int openapi_load(const char *path, const struct openapi_options *o,
                 struct openapi **out, char *err, size_t errlen);

/*
 * As openapi_load, for a document already in memory (buf[0..len),
 * borrowed for the call only). Relative "$ref"s to other files resolve
 * under directory dir; with dir NULL they are refused.
 */
int openapi_load_mem(const char *buf, size_t len, const char *dir,
                     const struct openapi_options *o, struct openapi **out,
                     char *err, size_t errlen);

/*
 * Parse buf[0..len) as one document by the rules of openapi_load (JSON
 * when the first non-blank byte is '{' or '[', else YAML 1.2 with its
 * core schema: "yes" is a string; keys are strings, repeated keys
 * refused; aliases expanded within max_nodes and max_alias_nodes),
 * with no OpenAPI meaning attached: for meta-schemas, fixtures and
 * other files. The tree lives in arena a; the texts of numbers may
 * point into buf, which must then outlive it. Returns AW_OK with *out set,
 * AW_INVALID (err names the line and column, or the byte offset),
 * AW_TOOBIG or AW_NOMEM.
 */
int openapi_parse(const char *buf, size_t len,
                  const struct openapi_options *o, struct arena *a,
                  struct json_value **out, char *err, size_t errlen);

/* Free a compiled document and everything it owns; accepts NULL. */
void openapi_free(struct openapi *api);

/* The dialect of the document's schemas (SCHEMA_OAS30 or 2020_12). */
enum schema_dialect openapi_dialect(const struct openapi *api);

/* The whole document as parsed, every alias expanded; owned by api. */
const struct json_value *openapi_document(const struct openapi *api);

/* Operations in a stable order (path template, then method). */
size_t openapi_op_count(const struct openapi *api);
const struct openapi_op *openapi_op_at(const struct openapi *api, size_t i);

/* The operationId, or "METHOD template" when there is none. */
const char *openapi_op_id(const struct openapi_op *op);

/* The path template as written in the document ("/pets/{petId}"). */
const char *openapi_op_template(const struct openapi_op *op);

enum http_method openapi_op_method(const struct openapi_op *op);

/* True when the operation is marked deprecated. */
bool openapi_op_deprecated(const struct openapi_op *op);

/*
 * Why a request was refused. Strings are static or owned by the
 * compiled document, except pointer (the request's arena). A problem
 * never holds a value of the request.
 */
struct openapi_problem {
    int status;             /* 400, 404, 405 or 415 */
    const char *reason;     /* "contract.*", see the table above */
    const char *detail;     /* a fixed sentence */
    const char *name;       /* the parameter's name, or NULL */
    const char *in;         /* "path", "query", "header", "cookie",
                               "body", or NULL */
    const char *pointer;    /* JSON pointer into the value, or NULL */
    const char *keyword;    /* the schema keyword that refused, or NULL */
};

#define OPENAPI_MAX_PATH_PARAMS 16

enum openapi_result {
    OPENAPI_FOUND,        /* m->op and the path values are set */
    OPENAPI_NOT_FOUND,    /* no template matches the path */
    OPENAPI_BAD_METHOD,   /* the path exists for other methods only */
};

/* What openapi_match found. */
struct openapi_match {
    const struct openapi_op *op;
    uint32_t allowed;      /* OPENAPI_BAD_METHOD: the methods the path
                              has, bits (1u << enum http_method) */
    unsigned n;            /* path parameters captured */
    const char *name[OPENAPI_MAX_PATH_PARAMS];  /* owned by the api */
    struct slice value[OPENAPI_MAX_PATH_PARAMS]; /* raw (still
                              percent-encoded), pointing into path */
};

/*
 * The operation for a method and a normalised path (the output of
 * http_normalize_path, query excluded). The base path is removed first;
 * a path outside it is not found. Among templates, a literal segment
 * beats a parameter. Fills *m: m->op and the values when found,
 * m->allowed on OPENAPI_BAD_METHOD (the caller builds the 404 or 405
 * from the result). Allocates nothing; api may be shared by threads.
 */
enum openapi_result openapi_match(const struct openapi *api,
                                  enum http_method method, struct slice path,
                                  struct openapi_match *m);

/* The parts of a request that parameters are read from. */
struct openapi_request {
    const struct openapi_match *match; /* OPENAPI_FOUND */
    struct slice query;                /* after '?', raw; ptr NULL when
                                          there is none */
    const struct http_header *headers;
    unsigned nheaders;
};

/*
 * Check every parameter of the operation (those of its path item and
 * its own, an operation's winning on the same name and location):
 * presence when required, the style's syntax, percent-decoding, and the
 * parameter's schema over the typed value; and, unless the options
 * allow them, query parameters the operation does not describe. Scratch
 * memory comes from arena a.
 *
 * Returns AW_OK; AW_INVALID with *p filled (status 400); AW_NOMEM when
 * the arena is exhausted (*p filled with status 500 and reason
 * "contract.no_memory").
 */
int openapi_check_params(const struct openapi_request *r, struct arena *a,
                         struct openapi_problem *p);

/* How a request body is to be checked; filled by openapi_request_body. */
struct openapi_body {
    const struct schema *schema; /* NULL: none to check (no schema, or
                                    a media type that is not JSON) */
    bool json;                   /* the media type is JSON
                                    (application/json, any +json) */
    unsigned flags;              /* for schema_validator_new:
                                    SCHEMA_REQUEST, with SCHEMA_STRICT
                                    when the options ask */
    unsigned max_errors;         /* for schema_validator_new */
    const struct json_limits *json_limits; /* for json_stream_new */
};

/*
 * Decide on a request body before reading it. content_type is the
 * Content-Type value (ptr NULL when absent); has_body says whether the
 * request carries a body (a Content-Length above 0, or chunked).
 * A media type matches one the operation lists exactly, else a listed
 * range of its type (subtype "*"), else the range of every type;
 * parameters such as charset are ignored, case is not significant.
 *
 * Returns AW_OK with *b filled when a body is present and acceptable
 * (validate it with b->schema when not NULL); AW_DONE when there is no
 * body and none is required; AW_INVALID with *p filled for a missing
 * required body, a body the operation does not describe, or a media
 * type it does not list (415).
 */
int openapi_request_body(const struct openapi_op *op,
                         struct slice content_type, bool has_body,
                         struct openapi_body *b, struct openapi_problem *p);

/*
 * Fill *p for a body that failed validation (contract.invalid_body,
 * 422) with the first of the validator's failures.
 */
void openapi_body_problem(const struct schema_error *errors, size_t n,
                          struct openapi_problem *p);

/*
 * The schema of a response: the response for the exact status, else
 * for its range ("2XX"), else "default"; then its media type matched as
 * for requests. Returns AW_OK with *s set (NULL when the response has
 * no schema for that type, or the type is not JSON); AW_DECLINED when
 * the operation describes no response for this status; AW_INVALID when
 * it does but not with this media type (or with no content while
 * content_type is given).
 */
int openapi_response_schema(const struct openapi_op *op, int status,
                            struct slice content_type,
                            const struct schema **s);

#endif
