/*
 * json_walk: a parsed tree replayed as the tokens json_stream would have
 * delivered for its text, so that code written for the stream (the
 * schema validator) also runs over documents already in memory.
 *
 * The recursion is bounded by the tree's depth, which json_parse bounded
 * by max_depth when it built the tree.
 */
#include "json.h"

static int walk_value(const struct json_value *v, unsigned depth,
                      json_token_fn fn, void *ctx);

static int
walk_emit(enum json_token_kind kind, struct slice text, unsigned depth,
          json_token_fn fn, void *ctx)
{
    struct json_token t = {kind, text, depth, 0};

    return fn(ctx, &t);
}

static int
walk_array(const struct json_value *v, unsigned depth, json_token_fn fn,
           void *ctx)
{
    int rc = walk_emit(JSON_TOK_ARRAY_BEGIN, SLICE_NULL, depth, fn, ctx);

    for (size_t i = 0; rc == AW_OK && i < v->u.arr.n; i++)
        rc = walk_value(v->u.arr.items[i], depth + 1, fn, ctx);
    if (rc != AW_OK)
        return rc;
    return walk_emit(JSON_TOK_ARRAY_END, SLICE_NULL, depth, fn, ctx);
}

static int
walk_object(const struct json_value *v, unsigned depth, json_token_fn fn,
            void *ctx)
{
    int rc = walk_emit(JSON_TOK_OBJECT_BEGIN, SLICE_NULL, depth, fn, ctx);

    for (size_t i = 0; rc == AW_OK && i < v->u.obj.n; i++) {
        const struct json_member *m = &v->u.obj.members[i];

        rc = walk_emit(JSON_TOK_NAME, m->name, depth + 1, fn, ctx);
        if (rc == AW_OK)
            rc = walk_value(m->value, depth + 1, fn, ctx);
    }
    if (rc != AW_OK)
        return rc;
    return walk_emit(JSON_TOK_OBJECT_END, SLICE_NULL, depth, fn, ctx);
}

/* Emit v, a value at container depth depth, and everything inside it. */
static int
walk_value(const struct json_value *v, unsigned depth, json_token_fn fn,
           void *ctx)
{
    switch (v->type) {
    case JSON_NULL:
        return walk_emit(JSON_TOK_NULL, SLICE_NULL, depth, fn, ctx);
    case JSON_FALSE:
        return walk_emit(JSON_TOK_FALSE, SLICE_NULL, depth, fn, ctx);
    case JSON_TRUE:
        return walk_emit(JSON_TOK_TRUE, SLICE_NULL, depth, fn, ctx);
    case JSON_NUMBER:
        return walk_emit(JSON_TOK_NUMBER, v->u.num.text, depth, fn, ctx);
    case JSON_STRING:
        return walk_emit(JSON_TOK_STRING, v->u.str, depth, fn, ctx);
    case JSON_ARRAY:
        return walk_array(v, depth, fn, ctx);
    case JSON_OBJECT:
        return walk_object(v, depth, fn, ctx);
    }
    return AW_INVALID;
}

int
json_walk(const struct json_value *v, json_token_fn fn, void *ctx)
{
    return walk_value(v, 0, fn, ctx);
}
