/*
 * json_parse: the tree, built from json_stream's tokens, so that there is
 * one grammar in the project. The whole document is fed as one chunk.
 *
 * Each depth keeps a scratch array of the members (or items) of the
 * container open at that depth; when the container closes they are
 * copied into an array of the exact size, and the scratch array is
 * reused by the next container at that depth. Strings and names are
 * copied into the arena (a token's text lives only during the callback);
 * number texts point into the caller's buffer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FIRST_BUILD_FRAMES 4
#define FIRST_SCRATCH 8

/* One open container and the members or items read so far. */
struct build_frame {
    struct json_value *v;
    struct json_member *m;     /* scratch; arrays use m[i].value only */
    size_t n, cap;
};

struct builder {
    const char *doc;           /* the document; number texts point in */
    struct arena *a;
    struct build_frame *frames;
    unsigned nframes;
    unsigned depth;            /* open containers */
    struct json_value *root;
    struct slice name;         /* the member name whose value comes next */
    bool nomem;
};

void
json_limits_default(struct json_limits *l)
{
    l->max_bytes = 1024 * 1024;
    l->max_depth = 32;
    l->max_string = 64 * 1024;
    l->max_members = 10000;
    l->max_items = 10000;
    l->max_number = 128;
}

/*
 * Exact int64 value of a number, when it is an integer literal (no
 * fraction, no exponent) that fits.
 */
static bool
integer_value(struct slice t, int64_t *out)
{
    bool neg = t.ptr[0] == '-';
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;

    for (size_t i = neg ? 1 : 0; i < t.len; i++) {
        unsigned d = (unsigned)(t.ptr[i] - '0');

        if (d > 9 || v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* Read digits at t[*i..) into *v, counting them; false past max. */
static bool
digits_value(struct slice t, size_t *i, uint64_t *v, int *n, int max)
{
    for (; *i < t.len && t.ptr[*i] >= '0' && t.ptr[*i] <= '9'; (*i)++) {
        *v = *v * 10 + (uint64_t)(t.ptr[*i] - '0');
        if (*v != 0 && ++*n > max)
            return false;
    }
    return true;
}

/*
 * The double of a decimal of at most 15 significant digits whose power
 * of ten lies within 10^-22..10^22, in one IEEE operation: both operands
 * are exact doubles, so the result is the correctly rounded one, as
 * strtod's (Clinger's fast path). False for any other number. t is a
 * number the tokenizer accepted, so its grammar is not checked again.
 */
static bool
decimal_fast(struct slice t, double *out)
{
    static const double pow10[] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    };
    size_t i = t.ptr[0] == '-';
    uint64_t m = 0, e = 0;
    int sig = 0, exp_digits = 0;
    long e10 = 0;

    if (!digits_value(t, &i, &m, &sig, 15))
        return false;
    if (i < t.len && t.ptr[i] == '.') {
        size_t start = ++i;

        if (!digits_value(t, &i, &m, &sig, 15))
            return false;
        e10 = -(long)(i - start);
    }
    if (i < t.len) {            /* 'e' or 'E', then maybe a sign */
        bool eneg = t.ptr[++i] == '-';

        i += t.ptr[i] == '-' || t.ptr[i] == '+';
        if (!digits_value(t, &i, &e, &exp_digits, 3))
            return false;
        e10 += eneg ? -(long)e : (long)e;
    }
    if (e10 < -22 || e10 > 22)
        return false;
    *out = e10 < 0 ? (double)m / pow10[-e10] : (double)m * pow10[e10];
    if (t.ptr[0] == '-')
        *out = -*out;
    return true;
}

/*
 * The value of a number the tokenizer accepted (so finite). Integers
 * that fit an int64 and short decimals are converted here; the rest by
 * strtod, which reads the "C" locale's decimal point: the process never
 * calls setlocale, so that is what applies. A double is all there is for
 * the others, so an integer past int64 or a decimal of more than 17
 * digits has an approximate value (a known limitation; the text as
 * written is kept beside it).
 */
static bool
number_value(struct builder *b, struct json_value *v)
{
    struct slice t = v->u.num.text;
    char small[64], *copy = small;

    v->u.num.is_int = integer_value(t, &v->u.num.i);
    if (v->u.num.is_int) {
        /* An int64 converts exactly or correctly rounded, as strtod. */
        v->u.num.d = v->u.num.i == 0 && t.ptr[0] == '-'
                         ? -0.0 : (double)v->u.num.i;
        return true;
    }
    if (decimal_fast(t, &v->u.num.d))
        return true;
    if (t.len >= sizeof(small)) {
        copy = arena_alloc(b->a, t.len + 1);
        if (copy == NULL)
            return false;
    }
    memcpy(copy, t.ptr, t.len);
    copy[t.len] = '\0';
    v->u.num.d = strtod(copy, NULL);
    return true;
}

/* Add v to the open container, or make it the root. */
static bool
attach(struct builder *b, struct json_value *v)
{
    struct build_frame *f;

    if (b->depth == 0) {
        b->root = v;
        return true;
    }
    f = &b->frames[b->depth - 1];
    if (f->n == f->cap) {
        size_t cap = f->cap == 0 ? FIRST_SCRATCH : f->cap * 2;
        struct json_member *m = arena_alloc(b->a, cap * sizeof(*m));

        if (m == NULL)
            return false;
        if (f->n > 0)
            memcpy(m, f->m, f->n * sizeof(*m));
        f->m = m;
        f->cap = cap;
    }
    f->m[f->n].name = f->v->type == JSON_OBJECT ? b->name : SLICE_NULL;
    f->m[f->n].value = v;
    f->n++;
    return true;
}

/* A container begins: v takes the frame of the next depth. */
static bool
push(struct builder *b, struct json_value *v)
{
    if (b->depth == b->nframes) {
        unsigned n = b->nframes == 0 ? FIRST_BUILD_FRAMES : b->nframes * 2;
        struct build_frame *f = arena_alloc(b->a, n * sizeof(*f));

        if (f == NULL)
            return false;
        if (b->nframes > 0)
            memcpy(f, b->frames, b->nframes * sizeof(*f));
        memset(f + b->nframes, 0, (n - b->nframes) * sizeof(*f));
        b->frames = f;
        b->nframes = n;
    }
    b->frames[b->depth].v = v;
    b->frames[b->depth].n = 0;
    b->depth++;
    return true;
}

/* The innermost container closes: its members or items, exactly sized. */
static bool
pop(struct builder *b)
{
    struct build_frame *f = &b->frames[--b->depth];
    struct json_value *v = f->v;

    if (f->n == 0)
        return true;
    if (v->type == JSON_OBJECT) {
        v->u.obj.members = arena_alloc(b->a, f->n * sizeof(*f->m));
        if (v->u.obj.members == NULL)
            return false;
        memcpy(v->u.obj.members, f->m, f->n * sizeof(*f->m));
        v->u.obj.n = f->n;
        return true;
    }
    v->u.arr.items = arena_alloc(b->a, f->n * sizeof(*v->u.arr.items));
    if (v->u.arr.items == NULL)
        return false;
    for (size_t i = 0; i < f->n; i++)
        v->u.arr.items[i] = f->m[i].value;
    v->u.arr.n = f->n;
    return true;
}

/*
 * A value of type t, zeroed, with extra bytes after it (a string's copy
 * goes there: one allocation instead of two).
 */
static struct json_value *
new_value(struct builder *b, enum json_type t, size_t extra)
{
    struct json_value *v = arena_alloc(b->a, sizeof(*v) + extra);

    if (v != NULL) {
        memset(v, 0, sizeof(*v));
        v->type = t;
    }
    return v;
}

/* The value a scalar or opening token stands for, attached. */
static struct json_value *
on_value(struct builder *b, const struct json_token *t)
{
    static const enum json_type types[] = {
        [JSON_TOK_OBJECT_BEGIN] = JSON_OBJECT,
        [JSON_TOK_ARRAY_BEGIN] = JSON_ARRAY,
        [JSON_TOK_STRING] = JSON_STRING,
        [JSON_TOK_NUMBER] = JSON_NUMBER,
        [JSON_TOK_TRUE] = JSON_TRUE,
        [JSON_TOK_FALSE] = JSON_FALSE,
        [JSON_TOK_NULL] = JSON_NULL,
    };
    bool str = t->kind == JSON_TOK_STRING;
    struct json_value *v = new_value(b, types[t->kind],
                                     str ? t->text.len + 1 : 0);

    if (v == NULL || !attach(b, v))
        return NULL;
    if (str) {
        char *s = (char *)(v + 1);

        memcpy(s, t->text.ptr, t->text.len + 1);    /* with the NUL */
        v->u.str = (struct slice){s, t->text.len};
    } else if (t->kind == JSON_TOK_NUMBER) {
        v->u.num.text = (struct slice){b->doc + t->offset, t->text.len};
        if (!number_value(b, v))
            return NULL;
    }
    return v;
}

/* json_token_fn of the builder: AW_NOMEM when the arena is full. */
static int
on_token(void *ctx, const struct json_token *t)
{
    struct builder *b = ctx;
    struct json_value *v;
    char *name;
    bool ok = true;

    switch (t->kind) {
    case JSON_TOK_NAME:
        name = arena_dup(b->a, t->text.ptr, t->text.len);
        ok = name != NULL;
        b->name = (struct slice){name, t->text.len};
        break;
    case JSON_TOK_OBJECT_END:
    case JSON_TOK_ARRAY_END:
        ok = pop(b);
        break;
    default:
        v = on_value(b, t);
        ok = v != NULL;
        if (ok && (v->type == JSON_OBJECT || v->type == JSON_ARRAY))
            ok = push(b, v);
    }
    if (!ok)
        b->nomem = true;
    return ok ? AW_OK : AW_NOMEM;
}

int
json_parse(const char *buf, size_t len, const struct json_limits *l,
           struct arena *a, struct json_value **out, struct json_error *err)
{
    struct builder b = {.doc = buf, .a = a};
    struct json_stream *s;
    int rc;

    err->reason = NULL;
    err->offset = 0;
    if (len > l->max_bytes) {
        err->reason = "json.too_large";
        err->offset = l->max_bytes;
        return AW_TOOBIG;
    }
    s = json_stream_new(l, on_token, &b, a);
    if (s == NULL) {
        err->reason = "json.no_memory";
        return AW_NOMEM;
    }
    rc = json_stream_feed(s, buf, len, err);
    if (rc == AW_OK)
        rc = json_stream_finish(s, err);
    if (b.nomem)
        err->reason = "json.no_memory";
    if (rc == AW_OK)
        *out = b.root;
    return rc;
}

const struct json_value *
json_get(const struct json_value *obj, const char *name)
{
    size_t n;

    if (obj == NULL || obj->type != JSON_OBJECT)
        return NULL;
    n = strlen(name);
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const struct json_member *m = &obj->u.obj.members[i];

        if (m->name.len == n && memcmp(m->name.ptr, name, n) == 0)
            return m->value;
    }
    return NULL;
}

struct slice
json_str(const struct json_value *v)
{
    if (v == NULL || v->type != JSON_STRING)
        return SLICE_NULL;
    return v->u.str;
}

bool
json_int(const struct json_value *v, int64_t *out)
{
    if (v == NULL || v->type != JSON_NUMBER || !v->u.num.is_int)
        return false;
    *out = v->u.num.i;
    return true;
}

bool
json_is(const struct json_value *v, enum json_type t)
{
    return v != NULL && v->type == t;
}

bool
json_is_string_array(const struct json_value *v)
{
    if (!json_is(v, JSON_ARRAY))
        return false;
    for (size_t i = 0; i < v->u.arr.n; i++)
        if (!json_is(v->u.arr.items[i], JSON_STRING))
            return false;
    return true;
}
