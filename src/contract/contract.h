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
};

void schema_options_default(struct schema_options *o);

/* A compiled set of schemas: one document and whatever it references. */
struct schema_set;
/* One compiled schema in a set; valid as long as its set. */
struct schema;

/*
 * Compile the document doc (which must outlive the set). Returns AW_OK
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
 * Feed the next token of the instance (the tokens of json_stream, or
 * made up by the caller for a parameter: a NUMBER token for "42", a
 * STRING for text). Usable as a json_token_fn with the validator as
 * ctx: returns AW_OK, or AW_NOMEM when the arena is exhausted.
 */
int schema_validator_token(void *v, const struct json_token *t);

/*
 * With SCHEMA_FILTER, after a NAME token: false when that member (the
 * name and its whole value) is to be dropped from the output. Always
 * true otherwise.
 */
bool schema_validator_keep(const struct schema_validator *v);

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

#endif
