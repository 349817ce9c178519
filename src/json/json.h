/*
 * json: a strict RFC 8259 parser, as a streaming tokenizer (json_stream,
 * fed chunks as they arrive) and as a read-only tree in an arena
 * (json_parse, built from the same tokens). Choices where the RFC leaves
 * room are listed at the top of stream.c and in docs/json.md.
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

/*
 * Bounds; json_limits_default gives the defaults noted. Each has its own
 * reason code when passed, named after the colon.
 */
struct json_limits {
    size_t max_bytes;    /* document size, default 1 MiB: too_large */
    unsigned max_depth;  /* arrays and objects open at once, default 32:
                            too_deep */
    size_t max_string;   /* decoded bytes of one string or member name,
                            default 64 KiB: string_too_long */
    size_t max_members;  /* members of one object, default 10000:
                            too_many_members */
    size_t max_items;    /* items of one array, default 10000:
                            array_too_long */
    size_t max_number;   /* characters of one number, default 128:
                            number_too_long */
};

void json_limits_default(struct json_limits *l);

/* Why a document was refused: a stable code and the byte offset. */
struct json_error {
    const char *reason;  /* malformed (AW_INVALID): "json.syntax",
                            "json.duplicate_key", "json.bad_utf8",
                            "json.bad_escape", "json.bad_number";
                            over a bound (AW_TOOBIG): "json.too_large",
                            "json.too_deep", "json.string_too_long",
                            "json.too_many_members",
                            "json.array_too_long",
                            "json.number_too_long"; "json.no_memory"
                            (AW_NOMEM); "json.stopped" (a token
                            callback's value) */
    size_t offset;       /* where in the input the problem was found */
};

/*
 * Parse buf[0..len) as exactly one JSON value (whitespace around it
 * allowed). The tree lives in arena a; number texts point into buf,
 * which must outlive it. Returns AW_OK with *out set, AW_INVALID with err
 * filled, AW_TOOBIG (a bound, err filled) or AW_NOMEM (the arena's bound;
 * err filled). *out is untouched on failure.
 */
int json_parse(const char *buf, size_t len, const struct json_limits *l,
               struct arena *a, struct json_value **out,
               struct json_error *err);

/*
 * Streaming (push) parsing.
 *
 * The same grammar and the same refusals as json_parse, fed in pieces as
 * they arrive (a body chunk at a time, split anywhere, even inside a
 * string escape or a UTF-8 sequence), with no tree: each complete token
 * is handed to a callback as soon as its last byte is read. A string or
 * member name is delivered whole and decoded, so the parser holds at most
 * one string (max_string) plus, per open object, the member names seen so
 * far (for the duplicate check). json_parse builds its tree from these
 * tokens.
 */
enum json_token_kind {
    JSON_TOK_OBJECT_BEGIN,
    JSON_TOK_OBJECT_END,
    JSON_TOK_ARRAY_BEGIN,
    JSON_TOK_ARRAY_END,
    JSON_TOK_NAME,       /* a member name; the value's tokens follow */
    JSON_TOK_STRING,
    JSON_TOK_NUMBER,
    JSON_TOK_TRUE,
    JSON_TOK_FALSE,
    JSON_TOK_NULL,
};

struct json_token {
    enum json_token_kind kind;
    struct slice text;   /* NAME, STRING: decoded UTF-8, may hold U+0000,
                            NUL-terminated, in the parser's buffer;
                            NUMBER: as written, not NUL-terminated, in
                            the chunk or (split by a chunk boundary) in
                            the parser's buffer. Valid only during the
                            callback. Empty for other kinds. */
    unsigned depth;      /* 0 for the top-level value and its BEGIN/END;
                            a member or item of a depth-d container is at
                            depth d + 1 (its NAME token too) */
    size_t offset;       /* byte offset of the token's first byte in the
                            whole document */
};

/*
 * Called for every token, in document order. Return AW_OK to go on; any
 * other value stops the parse: json_stream_feed and json_stream_finish
 * then return that value, with err->reason "json.stopped" and the
 * token's offset. A NAME is delivered only once it is known not to
 * repeat a name of its object. A NUMBER is delivered when the byte after
 * it is read, so one that ends the document comes from
 * json_stream_finish.
 */
typedef int (*json_token_fn)(void *ctx, const struct json_token *t);

struct json_stream;

/*
 * A parser whose state lives in arena a (which must outlive it); fn may
 * be NULL to check a document without looking at it. The limits are
 * copied. Returns NULL when the arena is exhausted. There is nothing to
 * free: the memory goes with the arena.
 */
struct json_stream *json_stream_new(const struct json_limits *l,
                                    json_token_fn fn, void *ctx,
                                    struct arena *a);

/*
 * Feed the next n bytes (p is only read during the call; it may be NULL
 * when n is 0). Returns AW_OK
 * when they were consumed (tokens may have been delivered), or the first
 * failure, as for json_parse (AW_INVALID, AW_TOOBIG, AW_NOMEM, or the
 * callback's value) with err filled, offset counted from the start of
 * the document. Bytes past max_bytes fail with "json.too_large" at
 * offset max_bytes, once those before it were read. After a failure
 * every later call returns the same failure.
 */
int json_stream_feed(struct json_stream *s, const char *p, size_t n,
                     struct json_error *err);

/*
 * The document has ended: AW_OK when exactly one complete value was read
 * (whitespace around it allowed), else the failure ("json.syntax" for a
 * document cut short).
 */
int json_stream_finish(struct json_stream *s, struct json_error *err);

/* Bytes fed so far. */
size_t json_stream_offset(const struct json_stream *s);

/*
 * Deliver the tokens of a parsed tree to fn, in document order, as
 * json_stream would have for its text (offsets are 0). Returns AW_OK or
 * the first other value fn returned.
 */
int json_walk(const struct json_value *v, json_token_fn fn, void *ctx);

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

/*
 * Writing tokens back as JSON text.
 *
 * A writer appends each token it is given to a fixed buffer, with the
 * separators the grammar needs and strings escaped exactly (quote,
 * backslash and control characters; other bytes, already valid UTF-8,
 * as they are). Fed the tokens of json_stream, it writes the document
 * without its insignificant whitespace. It can drop a member: the name
 * and every token of its value.
 */
#define JSON_WRITER_MAX_DEPTH 1024

struct json_writer {
    struct buf *out;          /* borrowed; appended to */
    bool after_name;          /* the last token written was a NAME */
    bool dropping;            /* swallowing the value of a member */
    unsigned drop_depth;      /* depth of the member being dropped */
    uint64_t has_item[JSON_WRITER_MAX_DEPTH / 64]; /* by depth: the open
                                 container there has a member or item */
};

/* Start writing to out (which must outlive the writer). */
void json_writer_init(struct json_writer *w, struct buf *out);

/*
 * Append token t. Usable as a json_token_fn with the writer as ctx.
 * Returns AW_OK, or AW_TOOBIG when out is full or the nesting passes
 * JSON_WRITER_MAX_DEPTH (out then holds a cut document).
 */
int json_writer_token(void *w, const struct json_token *t);

/*
 * Instead of giving it NAME token t: drop that member. The tokens of
 * its value, given next, are swallowed.
 */
void json_writer_drop(struct json_writer *w, const struct json_token *t);

#endif
