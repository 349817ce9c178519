/*
 * The compiler's state: a set under construction and its registry of
 * resources. Shared by schema.c (keywords) and schema_ref.c (where
 * "$ref" and "$id" lead).
 */
#ifndef APIWARD_CONTRACT_SCHEMA_SET_H
#define APIWARD_CONTRACT_SCHEMA_SET_H

#include "schema_int.h"
#include "schema_uri.h"

/* What the compiler knows of one JSON value that is a schema. */
struct vinfo {
    const struct json_value *v;
    const char *base;         /* base URI in effect inside it */
    struct schema *node;      /* compiled node, NULL until compiled */
};

/* A schema resource or anchor: "uri" or "uri#anchor" names v. */
struct resource {
    const char *uri;
    const struct json_value *v;
    const char *base;
    bool dynamic;             /* "$dynamicAnchor" */
};

struct schema_set {
    struct arena a;               /* nodes, strings, tables */
    struct schema_options opt;
    const struct json_value *doc;
    const char *doc_base;
    bool doc_is_schema;           /* false for an OpenAPI document */

    struct vinfo *map;            /* open addressing on the pointer */
    size_t map_cap, map_n;
    struct resource *res;
    size_t nres, res_cap;
    pcre2_code **codes;           /* freed with the set */
    size_t ncodes, codes_cap;
    size_t nodes;
    struct sres *sres;            /* resources with their dynamic
                                     anchors */

    /* While compiling: the first failure. */
    char *err;
    size_t errlen;
    int rc;
    char where[512];              /* JSON pointer being compiled */
    size_t where_len;
    unsigned ref_depth;           /* nested resolutions in progress */
};

/* Record the first failure with a message; returns rc. */
int set_fail(struct schema_set *set, int rc, const char *fmt, ...)
    AW_PRINTF(3, 4);

/* The entry of v, created with base when absent; NULL on no memory. */
struct vinfo *set_info(struct schema_set *set, const struct json_value *v,
                       const char *base);

/* The entry of v if present. */
struct vinfo *set_find(struct schema_set *set, const struct json_value *v);

/*
 * Register v (a schema, whose enclosing base is base) and every
 * subschema in it: identifiers, anchors and the base of each. AW_OK or
 * a failure recorded in the set.
 */
int set_scan(struct schema_set *set, const struct json_value *v,
             const char *base);

/*
 * The schema a reference names, resolved against base: the JSON value
 * and its base. Fetches remote documents through the options. AW_OK or
 * a recorded failure.
 */
int set_resolve(struct schema_set *set, const char *base, const char *ref,
                const struct json_value **out, const char **out_base);

/* The value at JSON pointer ptr (unescaped, as in a URI fragment after
 * percent-decoding) inside v, or NULL. */
const struct json_value *set_pointer(const struct json_value *v,
                                     struct slice ptr);

/* Compile v (base in effect: base) into a node of the set. */
struct schema *set_compile(struct schema_set *set,
                           const struct json_value *v, const char *base);

/* Register the document being compiled under its base URI. */
int set_add_doc(struct schema_set *set);

/* Copy into the set's arena, NUL-terminated; NULL on no memory. */
char *set_strdup(struct schema_set *set, const char *s, size_t n);

#endif
