/*
 * The token writer: JSON text from the tokens of json_stream.
 *
 * The response filter re-serialises a backend's JSON through it, minus
 * the members a schema does not list, so its output must mean exactly
 * what the tokens mean. Strings are escaped the one way RFC 8259
 * requires (quote, backslash, the 32 control characters) and nothing
 * else, numbers are written as they were read, and the separators are
 * derived from the depth of each token, never from the input's bytes.
 */
#include <string.h>

#include "json/json.h"

void
json_writer_init(struct json_writer *w, struct buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

static bool
has_item(const struct json_writer *w, unsigned depth)
{
    return (w->has_item[depth / 64] >> (depth % 64)) & 1u;
}

static void
set_item(struct json_writer *w, unsigned depth, bool on)
{
    uint64_t bit = (uint64_t)1 << (depth % 64);

    if (on)
        w->has_item[depth / 64] |= bit;
    else
        w->has_item[depth / 64] &= ~bit;
}

/*
 * Append s as a JSON string, quotes included. Runs of bytes that need
 * no escape are copied at once.
 */
static int
put_string(struct buf *b, struct slice s)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    int rc = buf_append(b, "\"", 1);

    for (size_t i = 0; rc == AW_OK && i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;

        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        rc = buf_append(b, s.ptr + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        if (rc == AW_OK)
            rc = buf_append(b, esc, n);
    }
    if (rc == AW_OK)
        rc = buf_append(b, s.ptr + run, s.len - run);
    return rc == AW_OK ? buf_append(b, "\"", 1) : rc;
}

/* The separator before a member or item at depth d, if one is due. */
static int
put_separator(struct json_writer *w, unsigned depth, bool name)
{
    bool first;

    if (w->after_name && !name) {
        w->after_name = false;
        return AW_OK;
    }
    if (depth == 0)
        return AW_OK;
    first = !has_item(w, depth);
    set_item(w, depth, true);
    return first ? AW_OK : buf_append(w->out, ",", 1);
}

/* The text of a token that is not a name and opens nothing. */
static int
put_scalar(struct buf *b, const struct json_token *t)
{
    switch (t->kind) {
    case JSON_TOK_STRING: return put_string(b, t->text);
    case JSON_TOK_NUMBER: return buf_append(b, t->text.ptr, t->text.len);
    case JSON_TOK_TRUE: return buf_append(b, "true", 4);
    case JSON_TOK_FALSE: return buf_append(b, "false", 5);
    case JSON_TOK_NULL: return buf_append(b, "null", 4);
    case JSON_TOK_OBJECT_END: return buf_append(b, "}", 1);
    case JSON_TOK_ARRAY_END: return buf_append(b, "]", 1);
    default: return AW_INVALID;
    }
}

/*
 * Swallow the tokens of a dropped member's value: it ends with a
 * scalar or a closing token at the member's own depth.
 */
static void
swallow(struct json_writer *w, const struct json_token *t)
{
    bool opens = t->kind == JSON_TOK_OBJECT_BEGIN ||
                 t->kind == JSON_TOK_ARRAY_BEGIN;

    if (t->depth == w->drop_depth && !opens)
        w->dropping = false;
}

int
json_writer_token(void *ctx, const struct json_token *t)
{
    struct json_writer *w = ctx;
    int rc;

    if (w->dropping) {
        swallow(w, t);
        return AW_OK;
    }
    if (t->depth + 1 >= JSON_WRITER_MAX_DEPTH)
        return AW_TOOBIG;
    if (t->kind == JSON_TOK_OBJECT_END || t->kind == JSON_TOK_ARRAY_END)
        return put_scalar(w->out, t) == AW_OK ? AW_OK : AW_TOOBIG;
    rc = put_separator(w, t->depth, t->kind == JSON_TOK_NAME);
    if (rc != AW_OK)
        return AW_TOOBIG;
    switch (t->kind) {
    case JSON_TOK_NAME:
        w->after_name = true;
        rc = put_string(w->out, t->text);
        if (rc == AW_OK)
            rc = buf_append(w->out, ":", 1);
        break;
    case JSON_TOK_OBJECT_BEGIN:
    case JSON_TOK_ARRAY_BEGIN:
        set_item(w, t->depth + 1, false);
        rc = buf_append(w->out, t->kind == JSON_TOK_OBJECT_BEGIN ? "{" : "[",
                        1);
        break;
    default:
        rc = put_scalar(w->out, t);
    }
    return rc == AW_OK ? AW_OK : AW_TOOBIG;
}

void
json_writer_drop(struct json_writer *w, const struct json_token *t)
{
    w->dropping = true;
    w->drop_depth = t->depth;
}
