/*
 * Unit tests for the JSON token writer: separators by depth, exact
 * string escaping, dropped members at every position and depth, a full
 * buffer, and the round trip of documents through json_stream (the
 * output must parse back to the same tokens).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json/json.h"

#define OUT_CAP 4096

/* A writer over its own buffer, and a way to feed it by hand. */
struct fixture {
    char mem[OUT_CAP];
    struct buf out;
    struct json_writer w;
};

static void
fixture_init(struct fixture *f, size_t cap)
{
    f->out = (struct buf){f->mem, 0, 0, cap};
    json_writer_init(&f->w, &f->out);
}

static int
tok(struct fixture *f, enum json_token_kind k, unsigned depth,
    const char *text)
{
    struct json_token t = {k, SLICE_NULL, depth, 0};

    if (text != NULL)
        t.text = (struct slice){text, strlen(text)};
    return json_writer_token(&f->w, &t);
}

static void
assert_out(const struct fixture *f, const char *want)
{
    assert_int_equal(buf_len(&f->out), strlen(want));
    assert_memory_equal(f->out.data, want, strlen(want));
}

/* {"a":1,"b":[true,null,{}],"c":"x"} written from its tokens. */
static void
test_separators(void **state)
{
    struct fixture f;

    (void)state;
    fixture_init(&f, OUT_CAP);
    assert_int_equal(tok(&f, JSON_TOK_OBJECT_BEGIN, 0, NULL), AW_OK);
    tok(&f, JSON_TOK_NAME, 1, "a");
    tok(&f, JSON_TOK_NUMBER, 1, "1");
    tok(&f, JSON_TOK_NAME, 1, "b");
    tok(&f, JSON_TOK_ARRAY_BEGIN, 1, NULL);
    tok(&f, JSON_TOK_TRUE, 2, NULL);
    tok(&f, JSON_TOK_NULL, 2, NULL);
    tok(&f, JSON_TOK_OBJECT_BEGIN, 2, NULL);
    tok(&f, JSON_TOK_OBJECT_END, 2, NULL);
    tok(&f, JSON_TOK_ARRAY_END, 1, NULL);
    tok(&f, JSON_TOK_NAME, 1, "c");
    tok(&f, JSON_TOK_STRING, 1, "x");
    assert_int_equal(tok(&f, JSON_TOK_OBJECT_END, 0, NULL), AW_OK);
    assert_out(&f, "{\"a\":1,\"b\":[true,null,{}],\"c\":\"x\"}");
}

/* Only quote, backslash and controls are escaped; UTF-8 stays as is. */
static void
test_escaping(void **state)
{
    static const char in[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f" "\xc3\xa9";
    struct json_token t = {JSON_TOK_STRING, {in, sizeof(in) - 1}, 0, 0};
    struct fixture f;

    (void)state;
    fixture_init(&f, OUT_CAP);
    assert_int_equal(json_writer_token(&f.w, &t), AW_OK);
    assert_out(&f, "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f"
                   "\xc3\xa9\"");
}

/* A NUL inside a decoded string is written as \u0000, not cut. */
static void
test_nul_in_string(void **state)
{
    struct json_token t = {JSON_TOK_NAME, {"a\0b", 3}, 1, 0};
    struct fixture f;

    (void)state;
    fixture_init(&f, OUT_CAP);
    tok(&f, JSON_TOK_OBJECT_BEGIN, 0, NULL);
    json_writer_token(&f.w, &t);
    tok(&f, JSON_TOK_FALSE, 1, NULL);
    tok(&f, JSON_TOK_OBJECT_END, 0, NULL);
    assert_out(&f, "{\"a\\u0000b\":false}");
}

/*
 * Members dropped first, in the middle, last, with scalar and nested
 * values: the commas stay right.
 */
static void
test_drop(void **state)
{
    struct json_token name = {JSON_TOK_NAME, SLICE_LIT("x"), 1, 0};
    struct fixture f;

    (void)state;
    fixture_init(&f, OUT_CAP);
    tok(&f, JSON_TOK_OBJECT_BEGIN, 0, NULL);
    json_writer_drop(&f.w, &name);               /* first, scalar */
    tok(&f, JSON_TOK_NUMBER, 1, "1");
    tok(&f, JSON_TOK_NAME, 1, "a");
    tok(&f, JSON_TOK_NUMBER, 1, "2");
    json_writer_drop(&f.w, &name);               /* middle, nested */
    tok(&f, JSON_TOK_OBJECT_BEGIN, 1, NULL);
    tok(&f, JSON_TOK_NAME, 2, "deep");
    tok(&f, JSON_TOK_ARRAY_BEGIN, 2, NULL);
    tok(&f, JSON_TOK_STRING, 3, "s");
    tok(&f, JSON_TOK_ARRAY_END, 2, NULL);
    tok(&f, JSON_TOK_OBJECT_END, 1, NULL);
    tok(&f, JSON_TOK_NAME, 1, "b");
    tok(&f, JSON_TOK_OBJECT_BEGIN, 1, NULL);
    name.depth = 2;
    json_writer_drop(&f.w, &name);               /* only member, inner */
    tok(&f, JSON_TOK_STRING, 2, "gone");
    tok(&f, JSON_TOK_OBJECT_END, 1, NULL);
    name.depth = 1;
    json_writer_drop(&f.w, &name);               /* last, array */
    tok(&f, JSON_TOK_ARRAY_BEGIN, 1, NULL);
    tok(&f, JSON_TOK_ARRAY_END, 1, NULL);
    tok(&f, JSON_TOK_OBJECT_END, 0, NULL);
    assert_out(&f, "{\"a\":2,\"b\":{}}");
}

/* A full buffer is AW_TOOBIG, never a write past its end. */
static void
test_full(void **state)
{
    struct fixture f;
    int rc = AW_OK;

    (void)state;
    fixture_init(&f, 16);
    f.mem[16] = 'Z';
    rc = tok(&f, JSON_TOK_ARRAY_BEGIN, 0, NULL);
    for (int i = 0; i < 20 && rc == AW_OK; i++)
        rc = tok(&f, JSON_TOK_STRING, 1, "abc");
    assert_int_equal(rc, AW_TOOBIG);
    assert_true(f.out.end <= 16);
    assert_int_equal(f.mem[16], 'Z');
}

/* Nesting past the writer's bound is refused. */
static void
test_too_deep(void **state)
{
    struct fixture f;

    (void)state;
    fixture_init(&f, OUT_CAP);
    assert_int_equal(tok(&f, JSON_TOK_ARRAY_BEGIN, JSON_WRITER_MAX_DEPTH - 2,
                         NULL), AW_OK);
    assert_int_equal(tok(&f, JSON_TOK_ARRAY_BEGIN, JSON_WRITER_MAX_DEPTH - 1,
                         NULL), AW_TOOBIG);
}

/* What a stream of tokens was, as text, for comparing two streams. */
struct trace {
    char text[OUT_CAP];
    size_t len;
};

static int
on_trace(void *ctx, const struct json_token *t)
{
    struct trace *tr = ctx;
    int n = snprintf(tr->text + tr->len, sizeof(tr->text) - tr->len,
                     "%d:%u:%zu:", (int)t->kind, t->depth, t->text.len);

    if (n < 0 || (size_t)n >= sizeof(tr->text) - tr->len - t->text.len)
        return AW_TOOBIG;
    tr->len += (size_t)n;
    memcpy(tr->text + tr->len, t->text.ptr, t->text.len);
    tr->len += t->text.len;
    return AW_OK;
}

/* Stream doc (whole) to fn; AW_OK when it parsed. */
static int
stream(const char *doc, size_t len, json_token_fn fn, void *ctx)
{
    struct json_limits lim;
    struct json_error err;
    struct arena a;
    struct json_stream *s;
    int rc;

    json_limits_default(&lim);
    arena_init(&a, 4096, 1 << 20);
    s = json_stream_new(&lim, fn, ctx, &a);
    rc = s != NULL ? json_stream_feed(s, doc, len, &err) : AW_NOMEM;
    if (rc == AW_OK)
        rc = json_stream_finish(s, &err);
    arena_fini(&a);
    return rc;
}

/*
 * Documents written back from their tokens parse to the same tokens:
 * escapes, unicode, numbers as written, empty containers, nesting.
 */
static void
test_round_trip(void **state)
{
    static const char *const docs[] = {
        "{\"a\": [1, -2.5e3, 0], \"b\": {\"c\": null, \"d\": [[], {}]}}",
        "\"\\u00e9\\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\u0000 \\t\"",
        "[true, false, null, \"\", 1E300, -0]",
        "  {\"\\u0001\": \"\\u001f\", \"k\\n\": \"\xe2\x82\xac\"}  ",
        "12345678901234567890123",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        struct trace a = {{0}, 0}, b = {{0}, 0};
        struct fixture f;

        fixture_init(&f, OUT_CAP);
        assert_int_equal(stream(docs[i], strlen(docs[i]), json_writer_token,
                                &f.w), AW_OK);
        assert_int_equal(stream(docs[i], strlen(docs[i]), on_trace, &a),
                         AW_OK);
        assert_int_equal(stream(f.out.data, buf_len(&f.out), on_trace, &b),
                         AW_OK);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.text, b.text, a.len);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
