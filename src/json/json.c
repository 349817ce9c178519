/*
 * Strict JSON parser: recursive descent bounded by max_depth, a tree in
 * the caller's arena, nothing else allocated.
 *
 * Strings are scanned twice: once to find the closing quote (so that the
 * decoded copy can be allocated at its final size, which is never larger
 * than the escaped text), then to validate and decode. Array items and
 * object members are first chained in the arena and then copied into an
 * array, so no growable buffer is needed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define SMALL_OBJECT 8      /* duplicate check by pairs up to this size */

struct parser {
    const char *buf;
    size_t len;
    size_t pos;
    const struct json_limits *lim;
    struct arena *a;
    struct json_error *err;
    int rc;                 /* status of the first failure */
};

/* A chain link used while an array or object is being read. */
struct link {
    struct link *next;
    struct json_member m;   /* arrays use m.value only */
};

void
json_limits_default(struct json_limits *l)
{
    l->max_bytes = 1024 * 1024;
    l->max_depth = 32;
    l->max_string = 64 * 1024;
    l->max_members = 10000;
    l->max_items = 10000;
    l->max_number = 64;
}

/* Record the first failure; returns NULL so callers can return it. */
static struct json_value *
fail(struct parser *p, int rc, const char *reason)
{
    if (p->rc == AW_OK) {
        p->rc = rc;
        p->err->reason = reason;
        p->err->offset = p->pos;
    }
    return NULL;
}

static void
skip_ws(struct parser *p)
{
    while (p->pos < p->len) {
        char c = p->buf[p->pos];

        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        p->pos++;
    }
}

static struct json_value *
new_value(struct parser *p, enum json_type t)
{
    struct json_value *v = arena_alloc(p->a, sizeof(*v));

    if (v == NULL)
        return fail(p, AW_NOMEM, "json.no_memory");
    memset(v, 0, sizeof(*v));
    v->type = t;
    return v;
}

static struct json_value *
parse_literal(struct parser *p, const char *word, enum json_type t)
{
    size_t n = strlen(word);

    if (p->len - p->pos < n || memcmp(p->buf + p->pos, word, n) != 0)
        return fail(p, AW_INVALID, "json.syntax");
    p->pos += n;
    return new_value(p, t);
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Skip 1*DIGIT; false when there is none. */
static bool
skip_digits(struct parser *p)
{
    size_t start = p->pos;

    while (p->pos < p->len && is_digit(p->buf[p->pos]))
        p->pos++;
    return p->pos > start;
}

/* Exact int64 value of an integer literal, when it has one. */
static bool
integer_value(struct slice t, int64_t *out)
{
    bool neg = t.ptr[0] == '-';
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;

    for (size_t i = neg ? 1 : 0; i < t.len; i++) {
        unsigned d = (unsigned)(t.ptr[i] - '0');

        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/*
 * number = [ "-" ] int [ frac ] [ exp ]. The value comes from strtod,
 * which reads the "C" locale's decimal point: the process never calls
 * setlocale, so that is what applies.
 */
static struct json_value *
parse_number(struct parser *p)
{
    size_t start = p->pos;
    bool integral = true;
    struct json_value *v;
    char small[64], *copy = small;
    struct slice t;

    if (p->buf[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->buf[p->pos] == '0')
        p->pos++;
    else if (!skip_digits(p))
        return fail(p, AW_INVALID, "json.bad_number");
    if (p->pos < p->len && p->buf[p->pos] == '.') {
        p->pos++;
        integral = false;
        if (!skip_digits(p))
            return fail(p, AW_INVALID, "json.bad_number");
    }
    if (p->pos < p->len && (p->buf[p->pos] == 'e' || p->buf[p->pos] == 'E')) {
        p->pos++;
        integral = false;
        if (p->pos < p->len && (p->buf[p->pos] == '+' ||
                                p->buf[p->pos] == '-'))
            p->pos++;
        if (!skip_digits(p))
            return fail(p, AW_INVALID, "json.bad_number");
    }
    if (p->pos < p->len && is_digit(p->buf[p->pos]))
        return fail(p, AW_INVALID, "json.bad_number");   /* "01" */
    t = (struct slice){p->buf + start, p->pos - start};
    if (t.len >= sizeof(small)) {
        copy = arena_alloc(p->a, t.len + 1);
        if (copy == NULL)
            return fail(p, AW_NOMEM, "json.no_memory");
    }
    memcpy(copy, t.ptr, t.len);
    copy[t.len] = '\0';
    v = new_value(p, JSON_NUMBER);
    if (v == NULL)
        return NULL;
    v->u.num.text = t;
    v->u.num.d = strtod(copy, NULL);
    if (!isfinite(v->u.num.d)) {
        p->pos = start;
        return fail(p, AW_INVALID, "json.bad_number");
    }
    v->u.num.is_int = integral && integer_value(t, &v->u.num.i);
    return v;
}

/* Four hex digits at s; -1 when they are not. */
static long
hex4(const char *s)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int h = hex_digit_value((unsigned char)s[i]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t
put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/*
 * Length of the valid UTF-8 sequence starting at s (at most n bytes
 * available), or 0 (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need;

    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (n < need + 1 || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need + 1;
}

/* Decode one escape at p->pos (after the backslash) into out. */
static size_t
decode_escape(struct parser *p, char *out)
{
    static const char plain_from[] = "\"\\/bfnrt";
    static const char plain_to[] = "\"\\/\b\f\n\r\t";
    const char *hit;
    long hi, lo;

    hit = memchr(plain_from, p->buf[p->pos], sizeof(plain_from) - 1);
    if (hit != NULL) {
        p->pos++;
        out[0] = plain_to[hit - plain_from];
        return 1;
    }
    if (p->buf[p->pos] != 'u' || p->len - p->pos < 5 ||
        (hi = hex4(p->buf + p->pos + 1)) < 0) {
        fail(p, AW_INVALID, "json.bad_escape");
        return 0;
    }
    p->pos += 5;
    if (hi < 0xd800 || hi > 0xdfff)
        return put_utf8(out, (unsigned long)hi);
    /* A high surrogate must be followed at once by a low one. */
    if (hi > 0xdbff || p->len - p->pos < 6 || p->buf[p->pos] != '\\' ||
        p->buf[p->pos + 1] != 'u' ||
        (lo = hex4(p->buf + p->pos + 2)) < 0xdc00 || lo > 0xdfff) {
        fail(p, AW_INVALID, "json.bad_escape");
        return 0;
    }
    p->pos += 6;
    return put_utf8(out, 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
                             ((unsigned long)lo - 0xdc00));
}

/*
 * Find the closing quote of the string whose body starts at p->pos.
 * Returns its offset, or 0 (which can never be one) when missing.
 */
static size_t
string_end(const struct parser *p)
{
    size_t i = p->pos;

    while (i < p->len) {
        const char *q = memchr(p->buf + i, '"', p->len - i);
        size_t bs = 0;

        if (q == NULL)
            return 0;
        i = (size_t)(q - p->buf);
        /* The quote ends the string unless an odd run of backslashes
         * escapes it. */
        while (i - bs > p->pos && p->buf[i - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0)
            return i;
        i++;
    }
    return 0;
}

/* Parse a string (p->pos at the opening quote) into *out. */
static bool
parse_string(struct parser *p, struct slice *out)
{
    size_t end, n = 0;
    char *dst;

    p->pos++;
    end = string_end(p);
    if (end == 0)
        return fail(p, AW_INVALID, "json.syntax"), false;
    dst = arena_alloc(p->a, end - p->pos + 1);
    if (dst == NULL)
        return fail(p, AW_NOMEM, "json.no_memory"), false;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->buf[p->pos];
        size_t k;

        if (c >= 0x20 && c < 0x80 && c != '\\') {
            dst[n++] = (char)c;
            p->pos++;
        } else if (c == '\\') {
            p->pos++;
            k = decode_escape(p, dst + n);
            if (k == 0)
                return false;
            n += k;
        } else if (c < 0x20) {
            return fail(p, AW_INVALID, "json.syntax"), false;
        } else {
            k = utf8_seq((const unsigned char *)p->buf + p->pos,
                         end - p->pos);
            if (k == 0)
                return fail(p, AW_INVALID, "json.bad_utf8"), false;
            memcpy(dst + n, p->buf + p->pos, k);
            n += k;
            p->pos += k;
        }
        if (n > p->lim->max_string)
            return fail(p, AW_TOOBIG, "json.too_large"), false;
    }
    p->pos++;               /* the closing quote */
    dst[n] = '\0';
    *out = (struct slice){dst, n};
    return true;
}

static struct json_value *parse_value(struct parser *p, unsigned depth);

/* Copy a chain of n links into an array of item pointers. */
static struct json_value **
chain_to_items(struct parser *p, struct link *head, size_t n)
{
    struct json_value **items = arena_alloc(p->a, sizeof(*items) * n);

    if (items == NULL)
        return fail(p, AW_NOMEM, "json.no_memory"), NULL;
    for (size_t i = 0; i < n; i++, head = head->next)
        items[i] = head->m.value;
    return items;
}

static struct json_value *
parse_array(struct parser *p, unsigned depth)
{
    struct link *head = NULL, **tail = &head;
    struct json_value *v;
    size_t n = 0;

    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->buf[p->pos] == ']') {
        p->pos++;
        return new_value(p, JSON_ARRAY);
    }
    for (;;) {
        struct link *l = arena_alloc(p->a, sizeof(*l));

        if (l == NULL)
            return fail(p, AW_NOMEM, "json.no_memory");
        if (++n > p->lim->max_items)
            return fail(p, AW_TOOBIG, "json.too_large");
        l->next = NULL;
        l->m.value = parse_value(p, depth + 1);
        if (l->m.value == NULL)
            return NULL;
        *tail = l;
        tail = &l->next;
        skip_ws(p);
        if (p->pos < p->len && p->buf[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->buf[p->pos] == ']')
            break;
        return fail(p, AW_INVALID, "json.syntax");
    }
    p->pos++;
    v = new_value(p, JSON_ARRAY);
    if (v == NULL)
        return NULL;
    v->u.arr.items = chain_to_items(p, head, n);
    v->u.arr.n = n;
    return v->u.arr.items == NULL ? NULL : v;
}

static int
member_cmp(const void *a, const void *b)
{
    const struct json_member *x = *(const struct json_member *const *)a;
    const struct json_member *y = *(const struct json_member *const *)b;
    size_t n = MIN(x->name.len, y->name.len);
    int c = n == 0 ? 0 : memcmp(x->name.ptr, y->name.ptr, n);

    if (c != 0)
        return c;
    return x->name.len < y->name.len ? -1 : x->name.len > y->name.len;
}

/*
 * True when two members share a name: pairwise for small objects, by
 * sorting a scratch array of pointers for larger ones, so a large object
 * costs O(n log n).
 */
static bool
has_duplicate(struct parser *p, struct json_member *m, size_t n, bool *dup)
{
    const struct json_member **sorted;

    *dup = false;
    if (n <= SMALL_OBJECT) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (slice_eq(m[i].name, m[j].name))
                    *dup = true;
        return true;
    }
    sorted = arena_alloc(p->a, sizeof(*sorted) * n);
    if (sorted == NULL)
        return false;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &m[i];
    qsort(sorted, n, sizeof(*sorted), member_cmp);
    for (size_t i = 1; i < n; i++)
        if (slice_eq(sorted[i - 1]->name, sorted[i]->name))
            *dup = true;
    return true;
}

/* One "name": value member; appended to the chain. */
static bool
parse_member(struct parser *p, unsigned depth, struct link *l)
{
    skip_ws(p);
    if (p->pos >= p->len || p->buf[p->pos] != '"')
        return fail(p, AW_INVALID, "json.syntax"), false;
    if (!parse_string(p, &l->m.name))
        return false;
    skip_ws(p);
    if (p->pos >= p->len || p->buf[p->pos] != ':')
        return fail(p, AW_INVALID, "json.syntax"), false;
    p->pos++;
    l->m.value = parse_value(p, depth + 1);
    return l->m.value != NULL;
}

static struct json_value *
finish_object(struct parser *p, struct link *head, size_t n, size_t start)
{
    struct json_value *v = new_value(p, JSON_OBJECT);
    struct json_member *m;
    bool dup;

    if (v == NULL)
        return NULL;
    m = arena_alloc(p->a, sizeof(*m) * n);
    if (m == NULL)
        return fail(p, AW_NOMEM, "json.no_memory");
    for (size_t i = 0; i < n; i++, head = head->next)
        m[i] = head->m;
    if (!has_duplicate(p, m, n, &dup))
        return fail(p, AW_NOMEM, "json.no_memory");
    if (dup) {
        p->pos = start;
        return fail(p, AW_INVALID, "json.duplicate_key");
    }
    v->u.obj.members = m;
    v->u.obj.n = n;
    return v;
}

static struct json_value *
parse_object(struct parser *p, unsigned depth)
{
    struct link *head = NULL, **tail = &head;
    size_t n = 0, start = p->pos;

    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->buf[p->pos] == '}') {
        p->pos++;
        return new_value(p, JSON_OBJECT);
    }
    for (;;) {
        struct link *l = arena_alloc(p->a, sizeof(*l));

        if (l == NULL)
            return fail(p, AW_NOMEM, "json.no_memory");
        if (++n > p->lim->max_members)
            return fail(p, AW_TOOBIG, "json.too_large");
        l->next = NULL;
        if (!parse_member(p, depth, l))
            return NULL;
        *tail = l;
        tail = &l->next;
        skip_ws(p);
        if (p->pos < p->len && p->buf[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->buf[p->pos] == '}')
            break;
        return fail(p, AW_INVALID, "json.syntax");
    }
    p->pos++;
    return finish_object(p, head, n, start);
}

/*
 * One value, p->pos before it. depth is the number of arrays and objects
 * that would hold it if it is one, so only those count against
 * max_depth: a scalar adds no recursion, and "max_depth 1" must still
 * allow {"a": 1}. The bound is checked at the opening bracket, before
 * recursing.
 */
static struct json_value *
parse_value(struct parser *p, unsigned depth)
{
    struct json_value *v;

    skip_ws(p);
    if (p->pos >= p->len)
        return fail(p, AW_INVALID, "json.syntax");
    switch (p->buf[p->pos]) {
    case '{':
        if (depth > p->lim->max_depth)
            return fail(p, AW_TOOBIG, "json.too_deep");
        return parse_object(p, depth);
    case '[':
        if (depth > p->lim->max_depth)
            return fail(p, AW_TOOBIG, "json.too_deep");
        return parse_array(p, depth);
    case '"':
        v = new_value(p, JSON_STRING);
        if (v == NULL || !parse_string(p, &v->u.str))
            return NULL;
        return v;
    case 'n':
        return parse_literal(p, "null", JSON_NULL);
    case 't':
        return parse_literal(p, "true", JSON_TRUE);
    case 'f':
        return parse_literal(p, "false", JSON_FALSE);
    default:
        if (p->buf[p->pos] == '-' || is_digit(p->buf[p->pos]))
            return parse_number(p);
        return fail(p, AW_INVALID, "json.syntax");
    }
}

int
json_parse(const char *buf, size_t len, const struct json_limits *l,
           struct arena *a, struct json_value **out, struct json_error *err)
{
    struct parser p = {buf, len, 0, l, a, err, AW_OK};
    struct json_value *v;

    err->reason = NULL;
    err->offset = 0;
    if (len > l->max_bytes) {
        fail(&p, AW_TOOBIG, "json.too_large");
        return p.rc;
    }
    v = parse_value(&p, 1);
    if (v == NULL)
        return p.rc;
    skip_ws(&p);
    if (p.pos != len) {
        fail(&p, AW_INVALID, "json.syntax");
        return p.rc;
    }
    *out = v;
    return AW_OK;
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
