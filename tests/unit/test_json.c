/*
 * Unit tests for the JSON parser.
 *
 * The JSONTestSuite files (TESTDATA/JSONTestSuite, format in its
 * SOURCE.md) are read as raw bytes into buffers of their exact size, so
 * that the sanitizer build catches any read past the end. The verdict is
 * the name's prefix: y_ must be accepted, n_ refused, i_ either, never a
 * crash. The parser refuses duplicate member names on purpose; the y_
 * files refused for that reason are listed in the divergence table, and
 * nothing else may diverge. The i_ files are pinned too, so that a change
 * of policy (a byte order mark, a huge exponent) shows up here.
 *
 * Then the bounds of json_limits, number forms, escapes and surrogates,
 * UTF-8 edge cases, error offsets, and the test_transform files, which
 * pin the policy on big numbers, duplicate keys and lone surrogates.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/json.h"

#define SUITE TESTDATA "/JSONTestSuite/"
#define ARENA_MAX ((size_t)64 << 20)
#define MAX_FILES 400

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* One parse in its own arena, with the results kept for the checks. */
struct run {
    struct arena a;
    struct json_value *v;
    struct json_error err;
    int rc;
};

static void
run_limits(struct run *r, const char *buf, size_t len,
           const struct json_limits *lim)
{
    arena_init(&r->a, 4096, ARENA_MAX);
    r->v = NULL;
    r->rc = json_parse(buf, len, lim, &r->a, &r->v, &r->err);
}

static void
run_bytes(struct run *r, const char *buf, size_t len)
{
    struct json_limits lim;

    json_limits_default(&lim);
    run_limits(r, buf, len, &lim);
}

static void
run_text(struct run *r, const char *text)
{
    run_bytes(r, text, strlen(text));
}

static void
run_done(struct run *r)
{
    arena_fini(&r->a);
}

/* text must be accepted; the caller ends the run. */
static const struct json_value *
accept_text(struct run *r, const char *text)
{
    run_text(r, text);
    if (r->rc != AW_OK)
        fail_msg("refused (%s at %zu): %.80s", r->err.reason, r->err.offset,
                 text);
    return r->v;
}

/* text must be refused with this status, reason and offset. */
static void
refuse_at(const char *text, int rc, const char *reason, size_t offset)
{
    struct run r;

    run_text(&r, text);
    if (r.rc != rc || r.err.reason == NULL ||
        strcmp(r.err.reason, reason) != 0 || r.err.offset != offset)
        fail_msg("%.60s: got rc %d %s at %zu, want %d %s at %zu", text,
                 r.rc, r.err.reason ? r.err.reason : "(none)", r.err.offset,
                 rc, reason, offset);
    run_done(&r);
}

/* text must be refused with this reason, wherever. */
static void
refuse(const char *text, const char *reason)
{
    struct run r;

    run_text(&r, text);
    if (r.rc == AW_OK || r.err.reason == NULL ||
        strcmp(r.err.reason, reason) != 0)
        fail_msg("%.60s: got rc %d %s, want %s", text, r.rc,
                 r.err.reason ? r.err.reason : "(none)", reason);
    run_done(&r);
}

/* The whole file at path into an exact-size heap buffer. */
static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    if (f == NULL)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size >= 0);
    rewind(f);
    buf = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sorted names of the .json files of dir; returns how many. */
static size_t
list_dir(const char *dir, char **names, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    if (d == NULL)
        fail_msg("cannot open %s", dir);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);

        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) {
            assert_true(n < cap);
            names[n] = strdup(e->d_name);
            assert_non_null(names[n]);
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    return n;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
}

/* True when reason is one of the codes json.h documents. */
static bool
known_reason(const char *reason)
{
    static const char *const codes[] = {
        "json.syntax",     "json.duplicate_key", "json.bad_utf8",
        "json.bad_escape", "json.bad_number",    "json.too_deep",
        "json.too_large",  "json.no_memory",
    };

    for (size_t i = 0; reason != NULL && i < ARRAY_LEN(codes); i++)
        if (strcmp(reason, codes[i]) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------ */
/* JSONTestSuite: test_parsing                                         */
/* ------------------------------------------------------------------ */

/*
 * y_ files refused on purpose. Readers disagree on which of two equal
 * names wins, so a document that has them could mean one thing to the
 * gateway and another to the backend: the parser refuses it.
 */
struct divergence {
    const char *file;
    const char *reason;
    unsigned used;
};

static struct divergence divergences[] = {
    {"y_object_duplicated_key.json", "json.duplicate_key", 0},
    {"y_object_duplicated_key_and_value.json", "json.duplicate_key", 0},
};

/*
 * The i_ files this parser accepts; every other i_ file is refused. They
 * are the numbers that strtod reads as a finite double: an underflow
 * gives zero, an integer past int64 keeps its text and an approximate
 * double. Everything else (invalid UTF-8, UTF-16, a byte order mark,
 * lone or inverted surrogates, an exponent that overflows, 500 levels of
 * nesting) is refused.
 */
static const char *const i_accepted[] = {
    "i_number_double_huge_neg_exp.json",
    "i_number_real_underflow.json",
    "i_number_too_big_neg_int.json",
    "i_number_too_big_pos_int.json",
    "i_number_very_big_negative_int.json",
};

struct totals {
    unsigned y, n, i_yes, i_no, diverging, mismatches;
};

static struct divergence *
divergence_of(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(divergences); i++)
        if (strcmp(divergences[i].file, name) == 0)
            return &divergences[i];
    return NULL;
}

static bool
i_is_accepted(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(i_accepted); i++)
        if (strcmp(i_accepted[i], name) == 0)
            return true;
    return false;
}

/*
 * Every strict prefix of an accepted document that opens with a bracket
 * is incomplete and must be refused, without reading past its end (each
 * prefix gets a buffer of its own size).
 */
static void
check_prefixes(const char *name, const char *buf, size_t len)
{
    size_t start = 0, end = len;

    while (start < len && memchr(" \t\r\n", buf[start], 4) != NULL)
        start++;
    while (end > start && memchr(" \t\r\n", buf[end - 1], 4) != NULL)
        end--;
    if (start == len || (buf[start] != '[' && buf[start] != '{'))
        return;
    for (size_t k = start + 1; k < end; k++) {
        char *copy = malloc(k);
        struct run r;

        assert_non_null(copy);
        memcpy(copy, buf, k);
        run_bytes(&r, copy, k);
        if (r.rc == AW_OK)
            fail_msg("%s: prefix of %zu bytes accepted", name, k);
        run_done(&r);
        free(copy);
    }
}

/* Whether the outcome of one file matches its verdict; counts it. */
static void
judge(const char *name, const struct run *r, struct totals *t)
{
    struct divergence *d = divergence_of(name);
    bool ok = r->rc == AW_OK;

    if (!ok && !known_reason(r->err.reason)) {
        printf("%s: refused without a known reason\n", name);
        t->mismatches++;
    } else if (d != NULL) {
        d->used++;
        t->diverging++;
        if (ok || strcmp(r->err.reason, d->reason) != 0) {
            printf("%s: expected the divergence %s\n", name, d->reason);
            t->mismatches++;
        }
    } else if (name[0] == 'y') {
        t->y++;
        if (!ok) {
            printf("%s: refused (%s at %zu)\n", name, r->err.reason,
                   r->err.offset);
            t->mismatches++;
        }
    } else if (name[0] == 'n') {
        t->n++;
        if (ok) {
            printf("%s: accepted\n", name);
            t->mismatches++;
        }
    } else {
        ok ? t->i_yes++ : t->i_no++;
        if (ok != i_is_accepted(name)) {
            printf("%s: %s, which the i_ table does not say\n", name,
                   ok ? "accepted" : "refused");
            t->mismatches++;
        }
    }
}

static void
test_suite_parsing(void **state)
{
    char *names[MAX_FILES];
    size_t n = list_dir(SUITE "test_parsing", names, ARRAY_LEN(names));
    struct totals t = {0};

    (void)state;
    for (size_t i = 0; i < n; i++) {
        char path[512];
        size_t len;
        char *buf;
        struct run r;

        snprintf(path, sizeof(path), "%s/%s", SUITE "test_parsing",
                 names[i]);
        buf = read_file(path, &len);
        run_bytes(&r, buf, len);
        judge(names[i], &r, &t);
        if (r.rc == AW_OK && names[i][0] == 'y')
            check_prefixes(names[i], buf, len);
        run_done(&r);
        free(buf);
    }
    for (size_t i = 0; i < ARRAY_LEN(divergences); i++)
        if (divergences[i].used != 1)
            fail_msg("divergence %s met %u times", divergences[i].file,
                     divergences[i].used);
    printf("JSONTestSuite: %zu files: %u y_ accepted, %u n_ refused, "
           "%u deliberate divergences, i_ %u accepted and %u refused\n",
           n, t.y, t.n, t.diverging, t.i_yes, t.i_no);
    assert_int_equal(t.mismatches, 0);
    assert_int_equal(n, 318);
    free_names(names, n);
}

/* ------------------------------------------------------------------ */
/* JSONTestSuite: test_transform                                       */
/* ------------------------------------------------------------------ */

/* What the parser makes of one test_transform file. */
struct transform {
    const char *file;
    const char *reason;       /* NULL: accepted */
    const char *number;       /* for "[n]": its text as written */
    bool is_int;
    int64_t i;
    double d;
};

static const struct transform transforms[] = {
    {"number_-9223372036854775808.json", NULL, "-9223372036854775808",
     true, INT64_MIN, -9223372036854775808.0},
    {"number_-9223372036854775809.json", NULL, "-9223372036854775809",
     false, 0, -9223372036854775808.0},
    {"number_1.0.json", NULL, "1.0", false, 0, 1.0},
    {"number_1.000000000000000005.json", NULL, "1.000000000000000005",
     false, 0, 1.0},
    {"number_1000000000000000.json", NULL, "1000000000000000", true,
     1000000000000000, 1e15},
    {"number_10000000000000000999.json", NULL, "10000000000000000999",
     false, 0, 1e19},
    {"number_1e-999.json", NULL, "1E-999", false, 0, 0.0},
    {"number_1e6.json", NULL, "1E6", false, 0, 1e6},
    {"number_9223372036854775807.json", NULL, "9223372036854775807", true,
     INT64_MAX, 9223372036854775807.0},
    {"number_9223372036854775808.json", NULL, "9223372036854775808", false,
     0, 9223372036854775808.0},
    {"object_key_nfc_nfd.json", NULL, NULL, false, 0, 0},
    {"object_key_nfd_nfc.json", NULL, NULL, false, 0, 0},
    {"object_same_key_different_values.json", "json.duplicate_key", NULL,
     false, 0, 0},
    {"object_same_key_same_value.json", "json.duplicate_key", NULL, false,
     0, 0},
    {"object_same_key_unclear_values.json", "json.duplicate_key", NULL,
     false, 0, 0},
    {"string_1_escaped_invalid_codepoint.json", "json.bad_escape", NULL,
     false, 0, 0},
    {"string_1_invalid_codepoint.json", "json.bad_utf8", NULL, false, 0, 0},
    {"string_2_escaped_invalid_codepoints.json", "json.bad_escape", NULL,
     false, 0, 0},
    {"string_2_invalid_codepoints.json", "json.bad_utf8", NULL, false, 0,
     0},
    {"string_3_escaped_invalid_codepoints.json", "json.bad_escape", NULL,
     false, 0, 0},
    {"string_3_invalid_codepoints.json", "json.bad_utf8", NULL, false, 0,
     0},
    {"string_with_escaped_NULL.json", NULL, NULL, false, 0, 0},
};

static const struct transform *
transform_of(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(transforms); i++)
        if (strcmp(transforms[i].file, name) == 0)
            return &transforms[i];
    fail_msg("%s: not in the transform table", name);
    return NULL;
}

/* The single number of "[n]" as the table says. */
static void
check_transform_number(const struct transform *x, const struct json_value *v)
{
    const struct json_value *num;
    int64_t i = 0;

    assert_true(json_is(v, JSON_ARRAY));
    assert_int_equal(v->u.arr.n, 1);
    num = v->u.arr.items[0];
    assert_int_equal(num->type, JSON_NUMBER);
    assert_int_equal(num->u.num.text.len, strlen(x->number));
    assert_memory_equal(num->u.num.text.ptr, x->number, strlen(x->number));
    assert_int_equal(num->u.num.is_int, x->is_int);
    assert_int_equal(json_int(num, &i), x->is_int);
    if (x->is_int)
        assert_true(i == x->i);
    assert_true(num->u.num.d == x->d);
}

/* The accepted files that are not numbers: keys and an escaped NUL. */
static void
check_transform_other(const char *name, const struct json_value *v)
{
    if (strncmp(name, "object_key_", 11) == 0) {
        /* Names are bytes: NFC and NFD spellings are two members. */
        assert_true(json_is(v, JSON_OBJECT));
        assert_int_equal(v->u.obj.n, 2);
        assert_non_null(json_get(v, "\xc3\xa9"));
        assert_non_null(json_get(v, "e\xcc\x81"));
        return;
    }
    assert_true(json_is(v, JSON_ARRAY));
    assert_int_equal(v->u.arr.n, 1);
    assert_int_equal(json_str(v->u.arr.items[0]).len, 3);
    assert_memory_equal(json_str(v->u.arr.items[0]).ptr, "A\0B", 4);
}

static void
test_suite_transform(void **state)
{
    char *names[64];
    size_t n = list_dir(SUITE "test_transform", names, ARRAY_LEN(names));

    (void)state;
    assert_int_equal(n, ARRAY_LEN(transforms));
    for (size_t i = 0; i < n; i++) {
        const struct transform *x = transform_of(names[i]);
        char path[512];
        size_t len;
        char *buf;
        struct run r;

        snprintf(path, sizeof(path), "%s/%s", SUITE "test_transform",
                 names[i]);
        buf = read_file(path, &len);
        run_bytes(&r, buf, len);
        if (x->reason != NULL) {
            if (r.rc != AW_INVALID || strcmp(r.err.reason, x->reason) != 0)
                fail_msg("%s: rc %d %s, want %s", names[i], r.rc,
                         r.err.reason ? r.err.reason : "(none)", x->reason);
        } else if (r.rc != AW_OK) {
            fail_msg("%s: refused (%s)", names[i], r.err.reason);
        } else if (x->number != NULL) {
            check_transform_number(x, r.v);
        } else {
            check_transform_other(names[i], r.v);
        }
        run_done(&r);
        free(buf);
    }
    free_names(names, n);
}

/* ------------------------------------------------------------------ */
/* Bounds                                                              */
/* ------------------------------------------------------------------ */

/* depth brackets of open, then inner, then the matching closes. */
static char *
nested(unsigned depth, const char *open, const char *inner,
       const char *close)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc(depth * (lo + lc) + li + 1);
    char *p = s;

    assert_non_null(s);
    for (unsigned i = 0; i < depth; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (unsigned i = 0; i < depth; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

/* nested(...) under lim: AW_OK, or rc with reason. */
static void
want_nested(const struct json_limits *lim, unsigned depth,
              const char *open, const char *inner, const char *close,
              int rc, const char *reason)
{
    char *s = nested(depth, open, inner, close);
    struct run r;

    run_limits(&r, s, strlen(s), lim);
    if (r.rc != rc ||
        (rc != AW_OK && strcmp(r.err.reason, reason) != 0))
        fail_msg("depth %u of %s%s: rc %d %s, want %d %s", depth, open,
                 inner, r.rc, r.err.reason ? r.err.reason : "(none)", rc,
                 reason ? reason : "");
    run_done(&r);
    free(s);
}

static void
test_limits_default(void **state)
{
    struct json_limits lim;

    (void)state;
    json_limits_default(&lim);
    assert_int_equal(lim.max_bytes, 1024 * 1024);
    assert_int_equal(lim.max_depth, 32);
    assert_int_equal(lim.max_string, 64 * 1024);
    assert_int_equal(lim.max_items, 10000);
}

/*
 * max_depth counts arrays and objects: that many may nest, whatever the
 * innermost one holds, and one more is refused at its opening bracket.
 */
static void
test_limit_depth(void **state)
{
    struct json_limits lim;
    char *s;
    struct run r;

    (void)state;
    json_limits_default(&lim);
    want_nested(&lim, 32, "[", "", "]", AW_OK, NULL);
    want_nested(&lim, 32, "[", "1", "]", AW_OK, NULL);
    want_nested(&lim, 32, "{\"a\":", "\"x\"", "}", AW_OK, NULL);
    want_nested(&lim, 32, "[{\"k\":", "{}", "}]", AW_TOOBIG,
                  "json.too_deep");
    want_nested(&lim, 16, "[{\"k\":", "null", "}]", AW_OK, NULL);
    want_nested(&lim, 33, "[", "", "]", AW_TOOBIG, "json.too_deep");
    want_nested(&lim, 33, "{\"a\":", "0", "}", AW_TOOBIG,
                  "json.too_deep");
    lim.max_depth = 1;
    want_nested(&lim, 1, "[", "1,2,\"x\"", "]", AW_OK, NULL);
    want_nested(&lim, 1, "{\"a\":", "true", "}", AW_OK, NULL);
    want_nested(&lim, 2, "[", "", "]", AW_TOOBIG, "json.too_deep");
    lim.max_depth = 0;
    want_nested(&lim, 0, "", "12", "", AW_OK, NULL);
    want_nested(&lim, 1, "[", "", "]", AW_TOOBIG, "json.too_deep");

    /* 100000 levels: refused at the bound, no deep recursion. */
    json_limits_default(&lim);
    s = nested(100000, "[", "", "]");
    run_limits(&r, s, strlen(s), &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    assert_string_equal(r.err.reason, "json.too_deep");
    assert_int_equal(r.err.offset, 32);
    run_done(&r);
    free(s);
}

static void
test_limit_bytes(void **state)
{
    struct json_limits lim;
    struct run r;

    (void)state;
    json_limits_default(&lim);
    lim.max_bytes = 8;
    run_limits(&r, "\"123456\"", 8, &lim);
    assert_int_equal(r.rc, AW_OK);
    run_done(&r);
    run_limits(&r, "\"1234567\"", 9, &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    assert_string_equal(r.err.reason, "json.too_large");
    assert_int_equal(r.err.offset, 0);
    assert_null(r.v);
    run_done(&r);
    /* Whitespace counts: the bound is on the document as received. */
    run_limits(&r, "   1     ", 9, &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    run_done(&r);
}

/* The decoded length is what max_string bounds, not the escaped one. */
static void
test_limit_string(void **state)
{
    struct json_limits lim;
    struct run r;

    (void)state;
    json_limits_default(&lim);
    lim.max_string = 4;
    run_limits(&r, "\"abcd\"", 6, &lim);
    assert_int_equal(r.rc, AW_OK);
    run_done(&r);
    run_limits(&r, "\"abcde\"", 7, &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    assert_string_equal(r.err.reason, "json.too_large");
    run_done(&r);
    /* Two escapes of two bytes each: 4 decoded bytes out of 12. */
    run_limits(&r, "\"\\u00e9\\u00e9\"", 14, &lim);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(json_str(r.v).len, 4);
    run_done(&r);
    /* One four-byte character from a surrogate pair: at the bound. */
    run_limits(&r, "\"\\ud83d\\ude00\"", 14, &lim);
    assert_int_equal(r.rc, AW_OK);
    run_done(&r);
    run_limits(&r, "\"a\\ud83d\\ude00\"", 15, &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    run_done(&r);
    /* Member names are strings too. */
    run_limits(&r, "{\"abcde\":1}", 11, &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    assert_string_equal(r.err.reason, "json.too_large");
    run_done(&r);
}

/* "[0,0,...]" or {"k0":0,...} with n entries. */
static char *
many(size_t n, bool object)
{
    char *s = malloc(n * 16 + 3);
    size_t o = 0;

    assert_non_null(s);
    s[o++] = object ? '{' : '[';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            s[o++] = ',';
        if (object)
            o += (size_t)snprintf(s + o, 16, "\"k%zu\":0", i);
        else
            s[o++] = '0';
    }
    s[o++] = object ? '}' : ']';
    s[o] = '\0';
    return s;
}

static void
want_many(const struct json_limits *lim, size_t n, bool object, int rc)
{
    char *s = many(n, object);
    struct run r;

    run_limits(&r, s, strlen(s), lim);
    assert_int_equal(r.rc, rc);
    if (rc == AW_OK)
        assert_int_equal(object ? r.v->u.obj.n : r.v->u.arr.n, n);
    else
        assert_string_equal(r.err.reason, "json.too_large");
    run_done(&r);
    free(s);
}

static void
test_limit_items(void **state)
{
    struct json_limits lim;

    (void)state;
    json_limits_default(&lim);
    want_many(&lim, 10000, false, AW_OK);
    want_many(&lim, 10001, false, AW_TOOBIG);
    want_many(&lim, 10000, true, AW_OK);
    want_many(&lim, 10001, true, AW_TOOBIG);
    lim.max_items = 3;
    lim.max_members = 3;
    want_many(&lim, 3, false, AW_OK);
    want_many(&lim, 4, false, AW_TOOBIG);
    want_many(&lim, 3, true, AW_OK);
    want_many(&lim, 4, true, AW_TOOBIG);
}

/* A large object takes the sorted duplicate check, and still finds one. */
static void
test_duplicates(void **state)
{
    char *s = many(500, true);
    char *k;
    struct run r;

    (void)state;
    run_text(&r, s);
    assert_int_equal(r.rc, AW_OK);
    assert_non_null(json_get(r.v, "k499"));
    run_done(&r);
    k = strstr(s, "\"k250\"");
    memcpy(k, "\"k017\"", 6);     /* same length, a name not yet used */
    run_text(&r, s);
    assert_int_equal(r.rc, AW_OK);
    run_done(&r);
    memcpy(k, "\"k17\":", 6);     /* now the name of member 17 */
    memmove(k + 6, k + 7, strlen(k + 7) + 1);
    run_text(&r, s);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "json.duplicate_key");
    assert_int_equal(r.err.offset, 0);
    run_done(&r);
    free(s);

    refuse_at("[1,{\"a\":1,\"b\":2,\"a\":3}]", AW_INVALID,
              "json.duplicate_key", 3);
    refuse("{\"\":1,\"\":2}", "json.duplicate_key");
    /* Equal after decoding is equal. */
    refuse("{\"a\":1,\"\\u0061\":2}", "json.duplicate_key");
    refuse("{\"a\\u0000\":1,\"a\\u0000\":2}", "json.duplicate_key");
    /* A prefix, a NUL inside or another level is not a duplicate. */
    run_text(&r, "{\"a\":1,\"ab\":2,\"a\\u0000\":3,\"x\":{\"a\":4}}");
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(r.v->u.obj.n, 4);
    run_done(&r);
}

/* A full arena fails the parse with AW_NOMEM, never the process. */
static void
test_arena_bound(void **state)
{
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;
    char *s = many(1000, true);
    struct arena a;
    int rc;

    (void)state;
    json_limits_default(&lim);
    for (size_t max = 0; max <= 64 * 1024; max += 4096) {
        arena_init(&a, 1024, max);
        rc = json_parse(s, strlen(s), &lim, &a, &v, &err);
        assert_int_equal(rc, AW_NOMEM);
        assert_string_equal(err.reason, "json.no_memory");
        arena_fini(&a);
    }
    arena_init(&a, 1024, ARENA_MAX);
    assert_int_equal(json_parse(s, strlen(s), &lim, &a, &v, &err), AW_OK);
    arena_fini(&a);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */
/* ------------------------------------------------------------------ */

static const struct json_value *
number_of(struct run *r, const char *text)
{
    const struct json_value *v = accept_text(r, text);

    assert_int_equal(v->type, JSON_NUMBER);
    assert_int_equal(v->u.num.text.len, strlen(text));
    return v;
}

static void
want_int(const char *text, int64_t want)
{
    struct run r;
    const struct json_value *v = number_of(&r, text);
    int64_t got = 0;

    assert_true(json_int(v, &got));
    assert_true(got == want);
    assert_true(v->u.num.d == (double)want);
    run_done(&r);
}

static void
want_double(const char *text, double want)
{
    struct run r;
    const struct json_value *v = number_of(&r, text);
    int64_t got = 0;

    assert_false(json_int(v, &got));
    assert_false(v->u.num.is_int);
    assert_true(v->u.num.d == want);
    run_done(&r);
}

static void
test_numbers(void **state)
{
    static const char *const bad[] = {
        "-",     "01",     "-01",   "00",         "1.",   "1e",
        "1e+",   "1E-",    "-.5",   "0.e1",       "1.e5", "--1",
        "-a",    "-1e999", "1e999", "123e100000", "1e400",
    };

    (void)state;
    want_int("0", 0);
    want_int("-0", 0);
    want_int("7", 7);
    want_int("-42", -42);
    want_int("9223372036854775807", INT64_MAX);
    want_int("-9223372036854775808", INT64_MIN);
    want_double("9223372036854775808", 9223372036854775808.0);
    want_double("-9223372036854775809", -9223372036854775808.0);
    want_double("1.0", 1.0);
    want_double("-0.0", 0.0);
    want_double("1e2", 100.0);
    want_double("1E+2", 100.0);
    want_double("25e-1", 2.5);
    want_double("0.5", 0.5);
    want_double("-1.5e3", -1500.0);
    want_double("1e-400", 0.0);
    want_double("1.7976931348623157e308", 1.7976931348623157e308);
    want_double("123456789012345678901234567890", 1.2345678901234568e29);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        refuse(bad[i], "json.bad_number");
    /* A number that overflows is reported where it starts. */
    refuse_at("[1, 2e999]", AW_INVALID, "json.bad_number", 4);
    refuse_at("[1, 012]", AW_INVALID, "json.bad_number", 5);
    refuse_at("0x10", AW_INVALID, "json.syntax", 1);
    refuse(".1", "json.syntax");
    refuse("+1", "json.syntax");
    refuse("1e1.5", "json.syntax");
    refuse("NaN", "json.syntax");
    refuse("Infinity", "json.syntax");
    refuse("-Infinity", "json.bad_number");
}

/* The number text points into the caller's buffer; long ones work. */
static void
test_number_text(void **state)
{
    char buf[200];
    struct run r;

    (void)state;
    memset(buf, '9', sizeof(buf));
    buf[0] = '[';
    buf[sizeof(buf) - 1] = ']';
    run_bytes(&r, buf, sizeof(buf));
    assert_int_equal(r.rc, AW_OK);
    assert_ptr_equal(r.v->u.arr.items[0]->u.num.text.ptr, buf + 1);
    assert_int_equal(r.v->u.arr.items[0]->u.num.text.len, 198);
    assert_false(r.v->u.arr.items[0]->u.num.is_int);
    assert_true(r.v->u.arr.items[0]->u.num.d > 9.9e197);
    run_done(&r);
}

/* ------------------------------------------------------------------ */
/* Strings: escapes, surrogates, UTF-8                                 */
/* ------------------------------------------------------------------ */

/* text is one string whose decoded bytes are want[0..n). */
static void
want_string(const char *text, const char *want, size_t n)
{
    struct run r;
    const struct json_value *v = accept_text(&r, text);
    struct slice s = json_str(v);

    assert_int_equal(s.len, n);
    assert_memory_equal(s.ptr, want, n);
    assert_int_equal(s.ptr[n], '\0');
    run_done(&r);
}

static void
test_escapes(void **state)
{
    (void)state;
    want_string("\"\"", "", 0);
    want_string("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    want_string("\"\\u0041\\u00e9\\u20AC\"", "A\xc3\xa9\xe2\x82\xac", 6);
    want_string("\"\\u0000\"", "\0", 1);
    want_string("\"\\uFFFF\"", "\xef\xbf\xbf", 3);
    want_string("\"a\\\\\"", "a\\", 2);
    want_string("\"\\\\\\\\\"", "\\\\", 2);
    refuse("\"\\x41\"", "json.bad_escape");
    refuse("\"\\a\"", "json.bad_escape");
    refuse("\"\\U0041\"", "json.bad_escape");
    refuse("\"\\u004\"", "json.bad_escape");
    refuse("\"\\u00g1\"", "json.bad_escape");
    refuse("\"\\'\"", "json.bad_escape");
    /* An escaped closing quote leaves the string open. */
    refuse("\"abc\\\"", "json.syntax");
    refuse("[\"\\", "json.syntax");
    refuse("\"\\u", "json.syntax");
    refuse_at("[\"ok\", \"a\\qb\"]", AW_INVALID, "json.bad_escape", 10);
}

static void
test_surrogates(void **state)
{
    (void)state;
    want_string("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
    want_string("\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80", 4);
    want_string("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
    want_string("\"\\ud7ff\\ue000\"", "\xed\x9f\xbf\xee\x80\x80", 6);
    refuse("\"\\ud800\"", "json.bad_escape");
    refuse("\"\\udc00\"", "json.bad_escape");
    refuse("\"\\udfff\\ud800\"", "json.bad_escape");
    refuse("\"\\ud800\\ud800\"", "json.bad_escape");
    refuse("\"\\ud800\\u0041\"", "json.bad_escape");
    refuse("\"\\ud800x\"", "json.bad_escape");
    refuse("\"\\ud800\\n\"", "json.bad_escape");
    refuse("\"\\ud800\\udc0\"", "json.bad_escape");
    refuse("\"\\ud800\\\"", "json.syntax");
    refuse("{\"\\ud800\":1}", "json.bad_escape");
}

static void
test_utf8(void **state)
{
    static const char *const bad[] = {
        "\"\x80\"",                 /* lone continuation byte */
        "\"\xbf\"",
        "\"\xc0\x80\"",             /* overlong NUL */
        "\"\xc1\xbf\"",             /* overlong, two bytes */
        "\"\xe0\x80\x80\"",         /* overlong, three bytes */
        "\"\xe0\x9f\xbf\"",
        "\"\xf0\x80\x80\x80\"",     /* overlong, four bytes */
        "\"\xf0\x8f\xbf\xbf\"",
        "\"\xed\xa0\x80\"",         /* U+D800 */
        "\"\xed\xbf\xbf\"",         /* U+DFFF */
        "\"\xf4\x90\x80\x80\"",     /* past U+10FFFF */
        "\"\xf5\x80\x80\x80\"",
        "\"\xfe\"",
        "\"\xff\"",
        "\"\xc3\"",                 /* cut before the quote */
        "\"\xe2\x82\"",
        "\"\xf0\x9f\x98\"",
        "\"\xc3\x41\"",             /* continuation missing */
        "\"\xe2\x28\xa1\"",
    };

    (void)state;
    want_string("\"\xc2\x80\"", "\xc2\x80", 2);
    want_string("\"\xdf\xbf\"", "\xdf\xbf", 2);
    want_string("\"\xe0\xa0\x80\"", "\xe0\xa0\x80", 3);
    want_string("\"\xed\x9f\xbf\"", "\xed\x9f\xbf", 3);
    want_string("\"\xee\x80\x80\"", "\xee\x80\x80", 3);
    want_string("\"\xf0\x90\x80\x80\"", "\xf0\x90\x80\x80", 4);
    want_string("\"\xf4\x8f\xbf\xbf\"", "\xf4\x8f\xbf\xbf", 4);
    want_string("\"\x7f\"", "\x7f", 1);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        refuse(bad[i], "json.bad_utf8");
    /* Control bytes must be escaped; bytes above ASCII outside strings
     * and a byte order mark are syntax errors. */
    refuse("\"a\nb\"", "json.syntax");
    refuse("\"\t\"", "json.syntax");
    refuse("\"\x1f\"", "json.syntax");
    refuse_at("\xef\xbb\xbf{}", AW_INVALID, "json.syntax", 0);
    refuse("[1]\xc2\xa0", "json.syntax");
    refuse_at("[\"ok\",\"\xc3\xa9\xc3\"]", AW_INVALID, "json.bad_utf8", 9);
}

/* Strings with NUL bytes, parsed from an exact-size buffer. */
static void
test_nul_bytes(void **state)
{
    struct run r;

    (void)state;
    run_bytes(&r, "\"a\0\"", 4);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "json.syntax");
    run_done(&r);
    run_bytes(&r, "1\0", 2);
    assert_int_equal(r.rc, AW_INVALID);
    assert_int_equal(r.err.offset, 1);
    run_done(&r);
    run_bytes(&r, "", 0);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "json.syntax");
    run_done(&r);
}

/* ------------------------------------------------------------------ */
/* Structure and accessors                                             */
/* ------------------------------------------------------------------ */

static void
test_structure(void **state)
{
    static const char *const bad[] = {
        "",        " ",        "[",       "]",        "[1,]",   "[,1]",
        "[1 2]",   "{",        "{\"a\"}", "{\"a\":}", "{a:1}",  "{'a':1}",
        "{\"a\":1,}", "{,}",   "[1]]",    "{}}",      "tru",    "nul",
        "truex",   "1 2",      "[1]x",    "\"a",      "/*c*/1", "[1]//",
        "\v1",     "\f1",      "{\"a\" 1}", "[1;2]",
    };
    struct run r;
    const struct json_value *v;

    (void)state;
    v = accept_text(&r, " \t\r\n{ \"a\" : [ true , false , null ] ,"
                         "\"b\":{}, \"c\":[] } \n");
    assert_int_equal(v->type, JSON_OBJECT);
    assert_int_equal(v->u.obj.n, 3);
    assert_string_equal(v->u.obj.members[0].name.ptr, "a");
    assert_string_equal(v->u.obj.members[2].name.ptr, "c");
    assert_int_equal(json_get(v, "a")->u.arr.n, 3);
    assert_int_equal(json_get(v, "a")->u.arr.items[0]->type, JSON_TRUE);
    assert_int_equal(json_get(v, "a")->u.arr.items[1]->type, JSON_FALSE);
    assert_int_equal(json_get(v, "a")->u.arr.items[2]->type, JSON_NULL);
    assert_true(json_is(json_get(v, "b"), JSON_OBJECT));
    assert_int_equal(json_get(v, "b")->u.obj.n, 0);
    assert_int_equal(json_get(v, "c")->u.arr.n, 0);
    run_done(&r);
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        struct run b;

        run_text(&b, bad[i]);
        if (b.rc != AW_INVALID || !known_reason(b.err.reason))
            fail_msg("%s: rc %d", bad[i], b.rc);
        run_done(&b);
    }
    refuse_at("[1,]", AW_INVALID, "json.syntax", 3);
    refuse_at("{\"a\":1 \"b\":2}", AW_INVALID, "json.syntax", 7);
    refuse_at("[1] x", AW_INVALID, "json.syntax", 4);
    refuse_at("[true, tru]", AW_INVALID, "json.syntax", 7);
}

static void
test_accessors(void **state)
{
    struct run r;
    const struct json_value *v;
    int64_t i = 5;

    (void)state;
    v = accept_text(&r, "{\"s\":\"x\",\"n\":3,\"f\":1.5,\"o\":{},\"ab\":1}");
    assert_int_equal(json_str(json_get(v, "s")).len, 1);
    assert_null(json_str(json_get(v, "n")).ptr);
    assert_null(json_str(NULL).ptr);
    assert_true(json_int(json_get(v, "n"), &i));
    assert_int_equal(i, 3);
    assert_false(json_int(json_get(v, "f"), &i));
    assert_false(json_int(json_get(v, "s"), &i));
    assert_false(json_int(NULL, &i));
    assert_int_equal(i, 3);
    assert_null(json_get(v, "a"));
    assert_null(json_get(v, "abc"));
    assert_null(json_get(v, ""));
    assert_null(json_get(json_get(v, "s"), "s"));
    assert_null(json_get(NULL, "s"));
    assert_true(json_is(json_get(v, "o"), JSON_OBJECT));
    assert_false(json_is(json_get(v, "o"), JSON_ARRAY));
    assert_false(json_is(NULL, JSON_NULL));
    run_done(&r);
}

/* A refused document leaves *out as it was. */
static void
test_out_untouched(void **state)
{
    struct json_limits lim;
    struct json_value sentinel, *v = &sentinel;
    struct json_error err;
    struct arena a;

    (void)state;
    json_limits_default(&lim);
    arena_init(&a, 1024, ARENA_MAX);
    assert_int_equal(json_parse("[1,", 3, &lim, &a, &v, &err), AW_INVALID);
    assert_ptr_equal(v, &sentinel);
    arena_fini(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_parsing),
        cmocka_unit_test(test_suite_transform),
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_bytes),
        cmocka_unit_test(test_limit_string),
        cmocka_unit_test(test_limit_items),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_arena_bound),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_text),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_out_untouched),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
