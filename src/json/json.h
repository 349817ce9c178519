/*
 * json: a strict RFC 8259 parser producing a read-only tree in an arena.
 *
 * It is meant for documents that come from outside (token headers and
 * payloads, key sets, discovery documents, introspection answers, admin
 * API bodies) and refuses what other parsers let through and readers may
 * then disagree on: duplicate member names, invalid UTF-8, unpaired
 * surrogate escapes, a byte order mark, leading or trailing garbage,
 * numbers with leading zeros or a bare dot. Every size is bounded.
 */
#ifndef APIWARD_JSON_H
#define APIWARD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value;

/* One member of an object, in document order. */
struct json_member {
    struct slice name;          /* decoded UTF-8, NUL-terminated in arena */
    struct json_value *value;
};

struct json_value {
    enum json_type type;
    union {
        struct slice str;       /* JSON_STRING: decoded UTF-8, may hold
                                   U+0000; NUL-terminated in the arena */
        struct {
            struct slice text;  /* the number as written */
            double d;           /* its value (finite) */
            bool is_int;        /* no fraction or exponent, fits int64 */
            int64_t i;          /* the value when is_int */
        } num;
        struct {
            struct json_value **items;
            size_t n;
        } arr;
        struct {
            struct json_member *members;
            size_t n;
        } obj;
    } u;
};

/* Bounds; json_limits_default gives the defaults noted. */
struct json_limits {
    size_t max_bytes;    /* document size, default 1 MiB */
    unsigned max_depth;  /* nesting of arrays and objects, default 32 */
    size_t max_string;   /* decoded bytes of one string, default 64 KiB */
    size_t max_items;    /* members of one object or items of one array,
                            default 10000 */
};

void json_limits_default(struct json_limits *l);

/* Why a document was refused: a stable code and the byte offset. */
struct json_error {
    const char *reason;  /* "json.syntax", "json.duplicate_key",
                            "json.bad_utf8", "json.bad_escape",
                            "json.bad_number", "json.too_deep",
                            "json.too_large", "json.no_memory" */
    size_t offset;       /* where in the input the problem was found */
};

/*
 * Parse buf[0..len) as exactly one JSON value (whitespace around it
 * allowed). The tree lives in arena a. Returns AW_OK with *out set,
 * AW_INVALID with err filled, AW_TOOBIG (a bound, err filled) or AW_NOMEM
 * (the arena's bound; err filled).
 */
int json_parse(const char *buf, size_t len, const struct json_limits *l,
               struct arena *a, struct json_value **out,
               struct json_error *err);

/* Member of an object by exact name; NULL when absent or not an object. */
const struct json_value *json_get(const struct json_value *obj,
                                  const char *name);

/* The string of a JSON_STRING, or SLICE_NULL for any other type. */
struct slice json_str(const struct json_value *v);

/* True and *out set when v is a number with an exact int64 value. */
bool json_int(const struct json_value *v, int64_t *out);

/* True when v is an object / array / string (NULL-safe). */
bool json_is(const struct json_value *v, enum json_type t);

/* True when v is an array whose every item is a string (NULL-safe). */
bool json_is_string_array(const struct json_value *v);

#endif
