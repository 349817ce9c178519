/*
 * Reading one file of an OpenAPI document into a struct json_value
 * tree: JSON through the strict parser of src/json, YAML through
 * libfyaml's event parser.
 *
 * YAML is read with the 1.2 core schema, so that the same document
 * written in YAML and in JSON gives the same tree: plain scalars are
 * null, booleans, integers (decimal, 0o octal, 0x hex) or floats when
 * they look like one, strings otherwise ("yes" and "on" are strings).
 * Numbers are rewritten in JSON's syntax and parsed by json_parse, so
 * that their text, value and integer flag agree with a JSON document's.
 * Infinities and NaN have no JSON form and are refused; so are tags,
 * keys that are not scalars, repeated keys and a second document.
 *
 * Anchors and aliases are honoured: an alias shares the tree of its
 * anchor, so nothing is copied, but every later walk of the tree (the
 * reference resolver, the schema compiler, a dump) visits the shared
 * tree once per use. The budget therefore counts an alias as the
 * number of values under its anchor, which stops "billion laughs"
 * documents at load, whatever their size on disk.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libfyaml.h>

#include "contract/openapi_int.h"

/* A mapping or sequence being built. */
struct doc_frame {
    struct json_value *v;
    void *slots;               /* json_member[] or json_value *[] */
    size_t n;
    size_t cap;
    bool has_key;              /* mapping: key read, value awaited */
    struct slice key;
    size_t nodes;              /* values under it, aliases expanded */
    int anchor;                /* index in doc_builder.anchors, or -1 */
};

struct doc_anchor {
    struct slice name;
    struct json_value *v;
    size_t nodes;
    bool open;                 /* its collection has not ended */
};

struct doc_builder {
    struct arena *a;
    struct oas_budget *budget;
    const char *buf;
    size_t len;
    struct doc_frame *stack;   /* budget->max_depth frames */
    unsigned depth;
    struct doc_anchor anchors[OAS_MAX_ANCHORS];
    unsigned nanchors;
    struct json_value *root;
    unsigned documents;
    int line;                  /* 1-based place of the current event */
    int col;
    char *err;
    size_t errlen;
};

/* Record a message with the current line and column; returns rc. */
static int AW_PRINTF(3, 4)
doc_fail(struct doc_builder *b, int rc, const char *fmt, ...)
{
    int n = 0;
    va_list ap;

    if (b->line > 0)
        n = snprintf(b->err, b->errlen, "line %d, column %d: ", b->line,
                     b->col);

    if (n >= 0 && (size_t)n < b->errlen) {
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Count values against the budget: n in all, of which alias_n by alias. */
static int
doc_count(struct doc_builder *b, size_t n, size_t alias_n)
{
    struct oas_budget *g = b->budget;

    if (n > g->max_nodes - g->nodes)
        return doc_fail(b, AW_TOOBIG, "more than %zu values (aliases "
                        "counted as often as they are used)",
                        g->max_nodes);
    if (alias_n > g->max_alias_nodes - g->alias_nodes)
        return doc_fail(b, AW_TOOBIG, "YAML aliases expand to more than "
                        "%zu values", g->max_alias_nodes);
    g->nodes += n;
    g->alias_nodes += alias_n;
    return AW_OK;
}

static struct json_value *
doc_value(struct doc_builder *b, enum json_type t)
{
    struct json_value *v = arena_alloc(b->a, sizeof(*v));

    if (v != NULL) {
        memset(v, 0, sizeof(*v));
        v->type = t;
    }
    return v;
}

/* Make room for one more slot of size sz in frame f (doubling). */
static int
doc_grow(struct doc_builder *b, struct doc_frame *f, size_t sz)
{
    size_t cap = f->cap == 0 ? 8 : f->cap * 2;
    void *p;

    if (f->n < f->cap)
        return AW_OK;
    p = arena_alloc(b->a, cap * sz);
    if (p == NULL)
        return AW_NOMEM;
    if (f->n > 0)
        memcpy(p, f->slots, f->n * sz);
    f->slots = p;
    f->cap = cap;
    return AW_OK;
}

/*
 * Hang v (which stands for nodes values) under the innermost open
 * collection, or make it the root.
 */
static int
doc_attach(struct doc_builder *b, struct json_value *v, size_t nodes)
{
    struct doc_frame *f;
    int rc;

    if (b->depth == 0) {
        b->root = v;
        return AW_OK;
    }
    f = &b->stack[b->depth - 1];
    f->nodes += nodes;
    if (f->v->type == JSON_ARRAY) {
        rc = doc_grow(b, f, sizeof(struct json_value *));
        if (rc == AW_OK)
            ((struct json_value **)f->slots)[f->n++] = v;
        return rc;
    }
    rc = doc_grow(b, f, sizeof(struct json_member));
    if (rc != AW_OK)
        return rc;
    ((struct json_member *)f->slots)[f->n++] =
        (struct json_member){.name = f->key, .value = v};
    f->has_key = false;
    return AW_OK;
}

/* True when the innermost collection is a mapping waiting for a key. */
static bool
doc_wants_key(const struct doc_builder *b)
{
    const struct doc_frame *f;

    if (b->depth == 0)
        return false;
    f = &b->stack[b->depth - 1];
    return f->v->type == JSON_OBJECT && !f->has_key;
}

static struct slice
doc_token_text(struct fy_token *t)
{
    size_t len = 0;
    const char *s = t != NULL ? fy_token_get_text(t, &len) : NULL;

    return s != NULL ? (struct slice){s, len} : SLICE_NULL;
}

/* Register an anchor for v; a later anchor of the same name wins. */
static int
doc_anchor_add(struct doc_builder *b, struct fy_token *t,
               struct json_value *v, bool open, int *index)
{
    struct slice name = doc_token_text(t);
    char *copy;

    *index = -1;
    if (t == NULL)
        return AW_OK;
    if (b->nanchors == OAS_MAX_ANCHORS)
        return doc_fail(b, AW_TOOBIG, "more than %d YAML anchors",
                        OAS_MAX_ANCHORS);
    copy = arena_dup(b->a, name.ptr != NULL ? name.ptr : "", name.len);
    if (copy == NULL)
        return AW_NOMEM;
    *index = (int)b->nanchors;
    b->anchors[b->nanchors++] = (struct doc_anchor){
        .name = {copy, name.len}, .v = v, .nodes = 1, .open = open};
    return AW_OK;
}

/* The latest anchor of this name, or NULL. */
static struct doc_anchor *
doc_anchor_find(struct doc_builder *b, struct slice name)
{
    for (unsigned i = b->nanchors; i-- > 0;)
        if (slice_eq(b->anchors[i].name, name))
            return &b->anchors[i];
    return NULL;
}

/* A mapping or sequence starts. */
static int
doc_on_open(struct doc_builder *b, enum json_type t, struct fy_token *anchor,
            struct fy_token *tag)
{
    struct json_value *v;
    struct doc_frame *f;
    int rc, index;

    if (tag != NULL)
        return doc_fail(b, AW_INVALID, "YAML tags are not supported");
    if (doc_wants_key(b))
        return doc_fail(b, AW_INVALID, "a mapping key must be a string");
    if (b->depth == b->budget->max_depth)
        return doc_fail(b, AW_TOOBIG, "nesting deeper than %u levels",
                        b->budget->max_depth);
    rc = doc_count(b, 1, 0);
    if (rc != AW_OK)
        return rc;
    v = doc_value(b, t);
    if (v == NULL)
        return AW_NOMEM;
    rc = doc_anchor_add(b, anchor, v, true, &index);
    if (rc != AW_OK)
        return rc;
    f = &b->stack[b->depth++];
    *f = (struct doc_frame){.v = v, .nodes = 1, .anchor = index};
    return AW_OK;
}

static int
doc_cmp_member(const void *x, const void *y)
{
    const struct json_member *a = *(const struct json_member *const *)x;
    const struct json_member *c = *(const struct json_member *const *)y;
    int d = memcmp(a->name.ptr, c->name.ptr, MIN(a->name.len, c->name.len));

    if (d != 0)
        return d;
    return a->name.len < c->name.len ? -1 : a->name.len > c->name.len;
}

/* Refuse a mapping that repeats a key: sort pointers, compare neighbours. */
static int
doc_check_dups(struct doc_builder *b, const struct json_member *m, size_t n)
{
    const struct json_member **sorted;
    char q[80];

    if (n < 2)
        return AW_OK;
    sorted = arena_alloc(b->a, n * sizeof(*sorted));
    if (sorted == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < n; i++)
        sorted[i] = &m[i];
    qsort(sorted, n, sizeof(*sorted), doc_cmp_member);
    for (size_t i = 1; i < n; i++)
        if (slice_eq(sorted[i - 1]->name, sorted[i]->name))
            return doc_fail(b, AW_INVALID, "duplicate key \"%s\" in the "
                            "mapping that ends here",
                            log_escape(q, sizeof(q), sorted[i]->name));
    return AW_OK;
}

/* The innermost collection ends: fix its contents and attach it. */
static int
doc_on_close(struct doc_builder *b)
{
    struct doc_frame f;
    int rc;

    if (b->depth == 0)
        return AW_OK;
    f = b->stack[--b->depth];
    if (f.v->type == JSON_ARRAY) {
        f.v->u.arr.items = f.slots;
        f.v->u.arr.n = f.n;
    } else {
        rc = doc_check_dups(b, f.slots, f.n);
        if (rc != AW_OK)
            return rc;
        f.v->u.obj.members = f.slots;
        f.v->u.obj.n = f.n;
    }
    if (f.anchor >= 0) {
        b->anchors[f.anchor].open = false;
        b->anchors[f.anchor].nodes = f.nodes;
    }
    return doc_attach(b, f.v, f.nodes);
}

/*
 * Decode the body of a single-quoted scalar (YAML 1.2 section 7.3.2):
 * "''" is one quote; a line break with the blanks around it folds to a
 * space, and each further empty line gives one newline. libfyaml 0.7
 * leaks and drops characters on scalars with many "''" escapes (the
 * configuration reader works around it the same way), so these are
 * decoded from the input itself. out has room for len bytes.
 */
static size_t
doc_unquote_single(const char *s, size_t len, char *out)
{
    size_t o = 0, i = 0;

    while (i < len) {
        unsigned breaks = 0;

        if (s[i] == '\'' && i + 1 < len && s[i + 1] == '\'') {
            out[o++] = '\'';
            i += 2;
            continue;
        }
        if (s[i] != '\n' && s[i] != '\r') {
            out[o++] = s[i++];
            continue;
        }
        while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
            o--;
        for (; i < len && strchr(" \t\r\n", s[i]) != NULL; i++) {
            bool crlf = s[i] == '\r' && i + 1 < len && s[i + 1] == '\n';

            if ((s[i] == '\n' || s[i] == '\r') && !crlf)
                breaks++;
        }
        if (breaks == 1)
            out[o++] = ' ';
        while (breaks-- > 1)
            out[o++] = '\n';
    }
    return o;
}

/*
 * The scalar's text. Its raw span is bounded first: libfyaml folds
 * lines in time quadratic in their number.
 */
static int
doc_scalar_text(struct doc_builder *b, struct fy_event *e,
                enum fy_scalar_style style, struct slice *out)
{
    const struct fy_mark *m0 = fy_event_start_mark(e);
    const struct fy_mark *m1 = fy_event_end_mark(e);
    size_t start = 0, raw = 0, lines = 0;
    struct slice t;
    char *copy;

    if (m0 != NULL && m1 != NULL && m1->input_pos >= m0->input_pos &&
        m1->input_pos <= b->len) {
        start = m0->input_pos;
        raw = m1->input_pos - m0->input_pos;
    }
    for (size_t i = 0; i < raw; i++)
        lines += b->buf[start + i] == '\n';
    if (raw > OAS_MAX_SCALAR_BYTES || lines > OAS_MAX_SCALAR_LINES)
        return doc_fail(b, AW_TOOBIG, "a scalar longer than %u bytes or "
                        "%u lines", OAS_MAX_SCALAR_BYTES,
                        OAS_MAX_SCALAR_LINES);
    if (style == FYSS_SINGLE_QUOTED && raw > 0) {
        copy = arena_alloc(b->a, raw + 1);
        if (copy == NULL)
            return AW_NOMEM;
        t.len = doc_unquote_single(b->buf + start, raw, copy);
        copy[t.len] = '\0';
        t.ptr = copy;
        *out = t;
        return AW_OK;
    }
    t = doc_token_text(e->scalar.value);
    copy = arena_dup(b->a, t.ptr != NULL ? t.ptr : "", t.len);
    if (copy == NULL)
        return AW_NOMEM;
    *out = (struct slice){copy, t.len};
    return AW_OK;
}

static bool
doc_is_one_of(struct slice s, const char *const *words)
{
    for (; *words != NULL; words++)
        if (s.len == strlen(*words) && memcmp(s.ptr, *words, s.len) == 0)
            return true;
    return false;
}

static size_t
doc_digits(struct slice s, size_t i, const char *set)
{
    size_t j = i;

    while (j < s.len && s.ptr[j] != '\0' && strchr(set, s.ptr[j]) != NULL)
        j++;
    return j - i;
}

/*
 * Rewrite a YAML 1.2 core float or decimal integer in JSON's syntax
 * into out (cap bytes): no '+' sign, no leading zeros, no bare dot.
 * Returns false when s is not such a number.
 */
static bool
doc_core_decimal(struct slice s, char *out, size_t cap)
{
    size_t i = 0, o = 0, ni, nf = 0, ne;

    if (s.len + 3 > cap)
        return false;
    if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+'))
        if (s.ptr[i++] == '-')
            out[o++] = '-';
    ni = doc_digits(s, i, "0123456789");
    while (ni > 1 && s.ptr[i] == '0')
        i++, ni--;
    if (ni == 0)
        out[o++] = '0';
    memcpy(out + o, s.ptr + i, ni);
    o += ni;
    i += ni;
    if (i < s.len && s.ptr[i] == '.') {
        nf = doc_digits(s, ++i, "0123456789");
        if (nf > 0)
            out[o++] = '.';
        memcpy(out + o, s.ptr + i, nf);
        o += nf;
        i += nf;
    }
    if (ni == 0 && nf == 0)
        return false;
    if (i < s.len && (s.ptr[i] == 'e' || s.ptr[i] == 'E')) {
        out[o++] = s.ptr[i++];
        if (i < s.len && (s.ptr[i] == '-' || s.ptr[i] == '+'))
            out[o++] = s.ptr[i++];
        ne = doc_digits(s, i, "0123456789");
        if (ne == 0)
            return false;
        memcpy(out + o, s.ptr + i, ne);
        o += ne;
        i += ne;
    }
    out[o] = '\0';
    return i == s.len;
}

/* A core "0o17" or "0x1F" integer in decimal; false when not one. */
static bool
doc_core_radix(struct slice s, char *out, size_t cap)
{
    unsigned base;
    uint64_t v = 0;

    if (s.len < 3 || s.ptr[0] != '0' || (s.ptr[1] != 'o' && s.ptr[1] != 'x'))
        return false;
    base = s.ptr[1] == 'o' ? 8 : 16;
    for (size_t i = 2; i < s.len; i++) {
        int d = hex_digit_value((unsigned char)s.ptr[i]);

        if (d < 0 || (unsigned)d >= base || v > (UINT64_MAX - (unsigned)d) /
                                                    base)
            return false;
        v = v * base + (unsigned)d;
    }
    snprintf(out, cap, "%llu", (unsigned long long)v);
    return true;
}

/*
 * Resolve a plain scalar by the core schema into *v. Returns AW_OK,
 * AW_DECLINED when it is a string, or an error.
 */
static int
doc_resolve_plain(struct doc_builder *b, struct slice s, struct json_value *v)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL",
                                        NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    static const char *const odd[] = {
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};
    struct json_limits l;
    struct json_error je;
    struct json_value *n;
    size_t cap = s.len + 24;
    char *text;
    int rc;

    if (doc_is_one_of(s, nulls) || doc_is_one_of(s, trues) ||
        doc_is_one_of(s, falses)) {
        v->type = doc_is_one_of(s, nulls)   ? JSON_NULL
                  : doc_is_one_of(s, trues) ? JSON_TRUE
                                            : JSON_FALSE;
        return AW_OK;
    }
    if (doc_is_one_of(s, odd))
        return doc_fail(b, AW_INVALID, "infinities and NaN have no JSON "
                        "form");
    /* The number's text must outlive the tree: it goes in the arena. */
    text = arena_alloc(b->a, cap);
    if (text == NULL)
        return AW_NOMEM;
    if (!doc_core_radix(s, text, cap) && !doc_core_decimal(s, text, cap))
        return AW_DECLINED;
    json_limits_default(&l);
    rc = json_parse(text, strlen(text), &l, b->a, &n, &je);
    if (rc == AW_NOMEM)
        return rc;
    if (rc != AW_OK)
        return doc_fail(b, AW_INVALID, "a number JSON cannot hold (%s)",
                        je.reason);
    *v = *n;
    return AW_OK;
}

/* A scalar: a key, or a value typed by its style and the core schema. */
static int
doc_on_scalar(struct doc_builder *b, struct fy_event *e)
{
    enum fy_scalar_style style = fy_token_scalar_style(e->scalar.value);
    struct json_value *v;
    struct slice text;
    int rc, index;

    if (e->scalar.tag != NULL)
        return doc_fail(b, AW_INVALID, "YAML tags are not supported");
    rc = doc_scalar_text(b, e, style, &text);
    if (rc != AW_OK)
        return rc;
    if (doc_wants_key(b)) {
        if (e->scalar.anchor != NULL)
            return doc_fail(b, AW_INVALID, "anchors on keys are not "
                            "supported");
        b->stack[b->depth - 1].has_key = true;
        b->stack[b->depth - 1].key = text;
        return AW_OK;
    }
    rc = doc_count(b, 1, 0);
    if (rc != AW_OK)
        return rc;
    v = doc_value(b, JSON_STRING);
    if (v == NULL)
        return AW_NOMEM;
    v->u.str = text;
    if (style == FYSS_PLAIN) {
        rc = doc_resolve_plain(b, text, v);
        if (rc != AW_OK && rc != AW_DECLINED)
            return rc;
    }
    rc = doc_anchor_add(b, e->scalar.anchor, v, false, &index);
    if (rc != AW_OK)
        return rc;
    return doc_attach(b, v, 1);
}

/* An alias: the anchored tree is shared and counted once more. */
static int
doc_on_alias(struct doc_builder *b, struct fy_event *e)
{
    struct slice name = doc_token_text(e->alias.anchor);
    struct doc_anchor *an = doc_anchor_find(b, name);
    int rc;

    if (doc_wants_key(b))
        return doc_fail(b, AW_INVALID, "a mapping key must be a string, "
                        "not an alias");
    if (an == NULL)
        return doc_fail(b, AW_INVALID, "alias to an unknown anchor");
    if (an->open)
        return doc_fail(b, AW_INVALID, "alias to a collection that "
                        "contains it");
    rc = doc_count(b, an->nodes, an->nodes);
    if (rc != AW_OK)
        return rc;
    return doc_attach(b, an->v, an->nodes);
}

/* Dispatch one parser event. */
static int
doc_on_event(struct doc_builder *b, struct fy_event *e)
{
    const struct fy_mark *m = fy_event_start_mark(e);

    if (m != NULL) {
        b->line = m->line + 1;
        b->col = m->column + 1;
    }
    switch (e->type) {
    case FYET_DOCUMENT_START:
        if (++b->documents > 1)
            return doc_fail(b, AW_INVALID, "more than one YAML document");
        return AW_OK;
    case FYET_MAPPING_START:
        return doc_on_open(b, JSON_OBJECT, e->mapping_start.anchor,
                           e->mapping_start.tag);
    case FYET_SEQUENCE_START:
        return doc_on_open(b, JSON_ARRAY, e->sequence_start.anchor,
                           e->sequence_start.tag);
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        return doc_on_close(b);
    case FYET_SCALAR:
        return doc_on_scalar(b, e);
    case FYET_ALIAS:
        return doc_on_alias(b, e);
    default:
        return AW_OK;
    }
}

/* libfyaml's own output is discarded: its first error is kept. */
static void
doc_on_diag_output(struct fy_diag *diag, void *user, const char *buf,
                   size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

static int
doc_syntax_error(struct doc_builder *b, struct fy_diag *diag)
{
    void *iter = NULL;
    struct fy_diag_error *de;

    while ((de = fy_diag_errors_iterate(diag, &iter)) != NULL) {
        if (de->type < FYET_ERROR)
            continue;
        if (de->line > 0) {
            b->line = de->line;
            b->col = de->column;
        }
        return doc_fail(b, AW_INVALID, "YAML syntax error: %s", de->msg);
    }
    return doc_fail(b, AW_INVALID, "YAML syntax error");
}

/* Length of the UTF-8 sequence at s[0..n), 0 when malformed. */
static size_t
doc_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/*
 * Refuse input that is not UTF-8, or holds NUL, before libfyaml sees
 * it: YAML requires UTF-8, and libfyaml 0.7 loops on some malformed
 * bytes.
 */
static int
doc_check_text(struct doc_builder *b)
{
    const unsigned char *s = (const unsigned char *)b->buf;
    size_t i = 0;

    while (i < b->len) {
        size_t n = s[i] == 0 ? 0 : doc_utf8_len(s + i, b->len - i);

        if (n == 0)
            return doc_fail(b, AW_INVALID, "not UTF-8 text (byte 0x%02x)",
                            s[i]);
        b->col = s[i] == '\n' ? 1 : b->col + 1;
        b->line += s[i] == '\n';
        i += n;
    }
    b->line = b->col = 1;
    return AW_OK;
}

static int
doc_run(struct doc_builder *b, struct fy_parser *p, struct fy_diag *diag)
{
    struct fy_event *e;
    int rc = AW_OK;

    while (rc == AW_OK && (e = fy_parser_parse(p)) != NULL) {
        rc = doc_on_event(b, e);
        fy_parser_event_free(p, e);
    }
    if (rc == AW_OK && fy_parser_get_stream_error(p))
        rc = doc_syntax_error(b, diag);
    if (rc == AW_OK && b->root == NULL)
        rc = doc_fail(b, AW_INVALID, "the document is empty");
    return rc;
}

/*
 * Give every line break as one LF. YAML reads CR, LF and CRLF alike
 * (a raw CR is always a line break, never content), so the meaning is
 * unchanged; libfyaml 0.7 leaks memory folding some double-quoted
 * scalars whose breaks mix CR and LF, and never sees such a mix now.
 */
static int
doc_unify_breaks(struct doc_builder *b)
{
    char *out;
    size_t o = 0;

    if (memchr(b->buf, '\r', b->len) == NULL)
        return AW_OK;
    out = arena_alloc(b->a, b->len + 1);
    if (out == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < b->len; i++) {
        if (b->buf[i] == '\r' && i + 1 < b->len && b->buf[i + 1] == '\n')
            continue;
        out[o++] = b->buf[i] == '\r' ? '\n' : b->buf[i];
    }
    out[o] = '\0';
    b->buf = out;
    b->len = o;
    return AW_OK;
}

static int
doc_parse_yaml(struct doc_builder *b)
{
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_diag *diag;
    struct fy_parser *p = NULL;
    int rc = doc_check_text(b);

    if (rc == AW_OK)
        rc = doc_unify_breaks(b);
    if (rc != AW_OK)
        return rc;
    rc = AW_NOMEM;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = doc_on_diag_output;
    diag = fy_diag_create(&dcfg);
    if (diag == NULL)
        goto out;
    fy_diag_set_collect_errors(diag, true);
    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE;
    pcfg.diag = diag;
    p = fy_parser_create(&pcfg);
    if (p == NULL || fy_parser_set_string(p, b->buf, b->len) != 0)
        goto out;
    rc = doc_run(b, p, diag);
out:
    if (p != NULL)
        fy_parser_destroy(p);
    if (diag != NULL)
        fy_diag_destroy(diag);
    if (rc == AW_NOMEM && b->err[0] == '\0')
        snprintf(b->err, b->errlen, "out of memory reading the document");
    return rc;
}

/* Values in a parsed JSON tree (at most the budget's depth deep). */
static size_t
doc_tree_size(const struct json_value *v)
{
    size_t n = 1;

    if (v->type == JSON_ARRAY)
        for (size_t i = 0; i < v->u.arr.n; i++)
            n += doc_tree_size(v->u.arr.items[i]);
    if (v->type == JSON_OBJECT)
        for (size_t i = 0; i < v->u.obj.n; i++)
            n += doc_tree_size(v->u.obj.members[i].value);
    return n;
}

/* A JSON document, read by the strict parser with the budget's bounds. */
static int
doc_parse_json(struct doc_builder *b, struct json_value **out)
{
    struct json_limits l;
    struct json_error je;
    int rc;

    json_limits_default(&l);
    l.max_bytes = b->budget->max_bytes;
    l.max_depth = b->budget->max_depth;
    l.max_string = OAS_MAX_SCALAR_BYTES;
    l.max_members = b->budget->max_nodes;
    l.max_items = b->budget->max_nodes;
    rc = json_parse(b->buf, b->len, &l, b->a, out, &je);
    if (rc != AW_OK) {
        snprintf(b->err, b->errlen, "byte %zu: %s", je.offset, je.reason);
        return rc;
    }
    b->line = b->col = 0;
    return doc_count(b, doc_tree_size(*out), 0) == AW_OK ? AW_OK
                                                         : AW_TOOBIG;
}

int
oas_parse(const char *buf, size_t len, struct oas_budget *g,
          struct arena *a, struct json_value **out, char *err,
          size_t errlen)
{
    struct doc_builder *b;
    size_t i = 0;
    int rc;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    if (len > g->max_bytes) {
        snprintf(err, errlen, "larger than %zu bytes", g->max_bytes);
        return AW_TOOBIG;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return AW_NOMEM;
    *b = (struct doc_builder){.a = a, .budget = g, .buf = buf, .len = len,
                              .line = 1, .col = 1, .err = err,
                              .errlen = errlen};
    b->stack = arena_alloc(a, g->max_depth * sizeof(*b->stack) + 1);
    while (i < len && strchr(" \t\r\n", buf[i]) != NULL && buf[i] != '\0')
        i++;
    if (b->stack == NULL)
        rc = AW_NOMEM;
    else if (i < len && (buf[i] == '{' || buf[i] == '['))
        rc = doc_parse_json(b, out);
    else
        rc = doc_parse_yaml(b);
    if (rc == AW_OK && *out == NULL)
        *out = b->root;
    if (rc != AW_OK)
        *out = NULL;
    free(b);
    return rc;
}

int
openapi_parse(const char *buf, size_t len, const struct openapi_options *o,
              struct arena *a, struct json_value **out, char *err,
              size_t errlen)
{
    struct oas_budget g = {
        .max_bytes = o->max_document_bytes,
        .max_depth = o->max_depth,
        .max_nodes = o->max_nodes,
        .max_alias_nodes = o->max_alias_nodes,
    };

    return oas_parse(buf, len, &g, a, out, err, errlen);
}
