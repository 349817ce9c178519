/*
 * libFuzzer driver for the JSON parser.
 *
 * The input is parsed twice: with the default limits and with tight ones
 * (depth 3, 4 items, strings of 8 bytes). Whatever the bytes, json_parse
 * either refuses them with a documented json.* reason and an offset
 * inside the input, or returns a tree that keeps every promise of json.h:
 * within the limits it was given, strings NUL-terminated and valid
 * UTF-8, numbers finite with their text pointing into the input, and no
 * object with two members of the same name. A document the tight limits
 * accept is accepted by the default ones too.
 *
 * An accepted tree is then written back as JSON (every string escaped
 * afresh) and that text must parse again and write back to the same
 * bytes: the parser and its tree agree on what the document meant.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ARENA_MAX ((size_t)64 << 20)
#define FUZZ_PAIRS_MAX 256

/* Which limits a tree was parsed under, and the input it points into. */
struct fuzz_ctx {
    const struct json_limits *lim;
    const char *buf;
    size_t len;
};

static bool
fuzz_known_reason(const char *reason)
{
    static const char *const codes[] = {
        "json.syntax",          "json.duplicate_key",
        "json.bad_utf8",        "json.bad_escape",
        "json.bad_number",      "json.too_deep",
        "json.too_large",       "json.string_too_long",
        "json.too_many_members", "json.array_too_long",
        "json.number_too_long", "json.no_memory",
    };

    for (size_t i = 0; reason != NULL && i < ARRAY_LEN(codes); i++)
        if (strcmp(reason, codes[i]) == 0)
            return true;
    return false;
}

/*
 * True when s[0..n) is valid UTF-8 (RFC 3629), U+0000 included. Written
 * apart from the parser's own check, from the table of well-formed byte
 * sequences, so that both would have to be wrong the same way.
 */
static bool
fuzz_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xbf;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            k = 2;
        else if (c >= 0xe0 && c <= 0xef)
            k = 3;
        else if (c >= 0xf0 && c <= 0xf4)
            k = 4;
        else
            return false;
        lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (n - i < k || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t j = 2; j < k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xbf)
                return false;
        i += k;
    }
    return true;
}

static void
fuzz_check_string(const struct fuzz_ctx *c, struct slice s)
{
    if (s.ptr == NULL || s.len > c->lim->max_string || s.ptr[s.len] != '\0' ||
        !fuzz_utf8((const unsigned char *)s.ptr, s.len))
        abort();
}

static void
fuzz_check_number(const struct fuzz_ctx *c, const struct json_value *v)
{
    struct slice t = v->u.num.text;
    int64_t i;

    if (t.len == 0 || t.ptr < c->buf || t.ptr + t.len > c->buf + c->len ||
        !isfinite(v->u.num.d))
        abort();
    if (json_int(v, &i) != v->u.num.is_int)
        abort();
    /* An exact integer has no fraction or exponent. */
    if (v->u.num.is_int && (memchr(t.ptr, '.', t.len) != NULL ||
                            memchr(t.ptr, 'e', t.len) != NULL ||
                            memchr(t.ptr, 'E', t.len) != NULL))
        abort();
}

static void fuzz_check_value(const struct fuzz_ctx *c,
                             const struct json_value *v, unsigned depth);

static void
fuzz_check_object(const struct fuzz_ctx *c, const struct json_value *v,
                  unsigned depth)
{
    const struct json_member *m = v->u.obj.members;
    size_t n = v->u.obj.n;

    if (n > c->lim->max_members || (n > 0 && m == NULL))
        abort();
    for (size_t i = 0; i < n; i++) {
        fuzz_check_string(c, m[i].name);
        fuzz_check_value(c, m[i].value, depth + 1);
    }
    /* Names are unique. The check is by pairs, so only objects of up
     * to FUZZ_PAIRS_MAX members get it, to keep each run fast. */
    for (size_t i = 0; n <= FUZZ_PAIRS_MAX && i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (slice_eq(m[i].name, m[j].name))
                abort();
}

/* Walk v, which sits at container depth depth, against c's limits. */
static void
fuzz_check_value(const struct fuzz_ctx *c, const struct json_value *v,
                 unsigned depth)
{
    if (v == NULL)
        abort();
    switch (v->type) {
    case JSON_NULL:
    case JSON_FALSE:
    case JSON_TRUE:
        return;
    case JSON_NUMBER:
        fuzz_check_number(c, v);
        return;
    case JSON_STRING:
        fuzz_check_string(c, v->u.str);
        return;
    case JSON_ARRAY:
        if (depth > c->lim->max_depth || v->u.arr.n > c->lim->max_items ||
            (v->u.arr.n > 0 && v->u.arr.items == NULL))
            abort();
        for (size_t i = 0; i < v->u.arr.n; i++)
            fuzz_check_value(c, v->u.arr.items[i], depth + 1);
        return;
    case JSON_OBJECT:
        if (depth > c->lim->max_depth)
            abort();
        fuzz_check_object(c, v, depth);
        return;
    }
    abort();
}

/* ------------------------------------------------------------------ */
/* Writing a tree back                                                 */
/* ------------------------------------------------------------------ */

/* A bounded output buffer; the bound is sized to what a tree can need. */
struct fuzz_out {
    char *p;
    size_t len, cap;
};

static void
fuzz_put(struct fuzz_out *o, const char *s, size_t n)
{
    if (o->cap - o->len < n)
        abort();
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void
fuzz_put_string(struct fuzz_out *o, struct slice s)
{
    static const char hex[] = "0123456789abcdef";

    fuzz_put(o, "\"", 1);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

        if (ch == '"' || ch == '\\') {
            esc[1] = (char)ch;
            fuzz_put(o, esc, 2);
        } else if (ch < 0x20) {
            fuzz_put(o, esc, 6);
        } else {
            fuzz_put(o, s.ptr + i, 1);
        }
    }
    fuzz_put(o, "\"", 1);
}

static void
fuzz_write(struct fuzz_out *o, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL:
        fuzz_put(o, "null", 4);
        return;
    case JSON_FALSE:
        fuzz_put(o, "false", 5);
        return;
    case JSON_TRUE:
        fuzz_put(o, "true", 4);
        return;
    case JSON_NUMBER:
        fuzz_put(o, v->u.num.text.ptr, v->u.num.text.len);
        return;
    case JSON_STRING:
        fuzz_put_string(o, v->u.str);
        return;
    case JSON_ARRAY:
        fuzz_put(o, "[", 1);
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (i > 0)
                fuzz_put(o, ",", 1);
            fuzz_write(o, v->u.arr.items[i]);
        }
        fuzz_put(o, "]", 1);
        return;
    case JSON_OBJECT:
        fuzz_put(o, "{", 1);
        for (size_t i = 0; i < v->u.obj.n; i++) {
            if (i > 0)
                fuzz_put(o, ",", 1);
            fuzz_put_string(o, v->u.obj.members[i].name);
            fuzz_put(o, ":", 1);
            fuzz_write(o, v->u.obj.members[i].value);
        }
        fuzz_put(o, "}", 1);
        return;
    }
}

/*
 * Write v out, parse that, write it out again: both texts must be the
 * same. Escapes become at most 6 bytes from at least 2 and everything
 * else keeps or loses bytes, so 3 times the input is always enough.
 */
static void
fuzz_round_trip(const struct json_value *v, size_t size)
{
    struct json_limits lim;
    struct fuzz_out a = {malloc(3 * size + 16), 0, 3 * size + 16};
    struct fuzz_out b = {malloc(3 * size + 16), 0, 3 * size + 16};
    struct json_value *again = NULL;
    struct json_error err;
    struct arena ar;

    if (a.p == NULL || b.p == NULL)
        abort();
    fuzz_write(&a, v);
    json_limits_default(&lim);
    lim.max_bytes = a.cap;
    arena_init(&ar, 4096, FUZZ_ARENA_MAX);
    if (json_parse(a.p, a.len, &lim, &ar, &again, &err) != AW_OK)
        abort();
    fuzz_write(&b, again);
    if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0)
        abort();
    arena_fini(&ar);
    free(b.p);
    free(a.p);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

/* Parse under lim and check the outcome; true when accepted. */
static bool
fuzz_parse(const char *buf, size_t size, const struct json_limits *lim,
           bool round_trip)
{
    struct fuzz_ctx c = {lim, buf, size};
    struct json_value *v = NULL;
    struct json_error err;
    struct arena a;
    int rc;

    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    rc = json_parse(buf, size, lim, &a, &v, &err);
    if (rc != AW_OK) {
        if (v != NULL || !fuzz_known_reason(err.reason) ||
            err.offset > size ||
            (rc != AW_INVALID && rc != AW_TOOBIG && rc != AW_NOMEM))
            abort();
    } else {
        fuzz_check_value(&c, v, 1);
        if (round_trip)
            fuzz_round_trip(v, size);
    }
    arena_fini(&a);
    return rc == AW_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct json_limits def, tight;
    bool tight_ok, def_ok;

    json_limits_default(&def);
    tight = (struct json_limits){.max_bytes = def.max_bytes,
                                 .max_depth = 3,
                                 .max_string = 8,
                                 .max_members = 4,
                                 .max_items = 4,
                                 .max_number = def.max_number};
    tight_ok = fuzz_parse(buf, size, &tight, false);
    def_ok = fuzz_parse(buf, size, &def, true);
    if (tight_ok && !def_ok)
        abort();
    return 0;
}
