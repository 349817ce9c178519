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
 * Every file is also streamed through json_stream: whole (the same
 * outcome as json_parse), one byte at a time and, for files under 200
 * bytes, split in two at every offset, each giving the same tokens and
 * the same outcome (reason and offset included) as whole; the tree of an
 * accepted one, replayed by json_walk, gives the same tokens again.
 *
 * Then the bounds of json_limits, number forms, escapes and surrogates,
 * UTF-8 edge cases, error offsets, the token stream itself, and the
 * test_transform files, which pin the policy on big numbers, duplicate
 * keys and lone surrogates.
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
 * What becomes of each i_ file, pinned so that a change of policy shows
 * up here (docs/json.md says why). Accepted (NULL): the numbers that read
 * as a finite double; an underflow gives zero, an integer past int64
 * keeps its text and an approximate double. Refused: an exponent that
 * overflows or a number over max_number characters, lone or inverted
 * surrogate escapes, invalid UTF-8 (overlong, encoded surrogates, past
 * U+10FFFF, Latin-1), UTF-16 and a byte order mark, 500 levels of
 * nesting.
 */
struct i_file {
    const char *file;
    const char *reason;        /* NULL: accepted */
};

static const struct i_file i_files[] = {
    {"i_number_double_huge_neg_exp.json", NULL},
    {"i_number_huge_exp.json", "json.number_too_long"},
    {"i_number_neg_int_huge_exp.json", "json.bad_number"},
    {"i_number_pos_double_huge_exp.json", "json.bad_number"},
    {"i_number_real_neg_overflow.json", "json.bad_number"},
    {"i_number_real_pos_overflow.json", "json.bad_number"},
    {"i_number_real_underflow.json", NULL},
    {"i_number_too_big_neg_int.json", NULL},
    {"i_number_too_big_pos_int.json", NULL},
    {"i_number_very_big_negative_int.json", NULL},
    {"i_object_key_lone_2nd_surrogate.json", "json.bad_escape"},
    {"i_string_1st_surrogate_but_2nd_missing.json", "json.bad_escape"},
    {"i_string_1st_valid_surrogate_2nd_invalid.json", "json.bad_escape"},
    {"i_string_UTF-16LE_with_BOM.json", "json.syntax"},
    {"i_string_UTF-8_invalid_sequence.json", "json.bad_utf8"},
    {"i_string_UTF8_surrogate_U+D800.json", "json.bad_utf8"},
    {"i_string_incomplete_surrogate_and_escape_valid.json", "json.bad_escape"},
    {"i_string_incomplete_surrogate_pair.json", "json.bad_escape"},
    {"i_string_incomplete_surrogates_escape_valid.json", "json.bad_escape"},
    {"i_string_invalid_lonely_surrogate.json", "json.bad_escape"},
    {"i_string_invalid_surrogate.json", "json.bad_escape"},
    {"i_string_invalid_utf-8.json", "json.bad_utf8"},
    {"i_string_inverted_surrogates_U+1D11E.json", "json.bad_escape"},
    {"i_string_iso_latin_1.json", "json.bad_utf8"},
    {"i_string_lone_second_surrogate.json", "json.bad_escape"},
    {"i_string_lone_utf8_continuation_byte.json", "json.bad_utf8"},
    {"i_string_not_in_unicode_range.json", "json.bad_utf8"},
    {"i_string_overlong_sequence_2_bytes.json", "json.bad_utf8"},
    {"i_string_overlong_sequence_6_bytes.json", "json.bad_utf8"},
    {"i_string_overlong_sequence_6_bytes_null.json", "json.bad_utf8"},
    {"i_string_truncated-utf-8.json", "json.bad_utf8"},
    {"i_string_utf16BE_no_BOM.json", "json.syntax"},
    {"i_string_utf16LE_no_BOM.json", "json.syntax"},
    {"i_structure_500_nested_arrays.json", "json.too_deep"},
    {"i_structure_UTF-8_BOM_empty_object.json", "json.syntax"},
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

/* The pinned outcome of an i_ file; "?" when the table lacks it. */
static const char *
i_reason(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(i_files); i++)
        if (strcmp(i_files[i].file, name) == 0)
            return i_files[i].reason;
    return "?";
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
        const char *want = i_reason(name);

        ok ? t->i_yes++ : t->i_no++;
        if (ok ? want != NULL
               : want == NULL || strcmp(want, r->err.reason) != 0) {
            printf("%s: %s, which the i_ table does not say\n", name,
                   ok ? "accepted" : r->err.reason);
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
/* Streaming: the same document whole, byte by byte and split          */
/* ------------------------------------------------------------------ */

static char *many(size_t n, bool object);

/* The tokens of one streamed parse, as text, and its outcome. */
struct tlog {
    char *p;
    size_t len, cap;
    unsigned tokens;
    unsigned stop_at;          /* stop (AW_DECLINED) at this token; 0 never */
    bool no_offsets;           /* log every offset as 0, as json_walk's */
};

struct verdict {
    int rc;
    const char *reason;
    size_t offset;
};

static void
tlog_put(struct tlog *l, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (l->cap - l->len < n) {
        l->cap = (l->cap + n) * 2;
        l->p = realloc(l->p, l->cap);
        assert_non_null(l->p);
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* Record a token; check what json.h promises of its text. */
static int
on_token_log(void *ctx, const struct json_token *t)
{
    struct tlog *l = ctx;
    char head[96];
    int n;

    if (t->kind == JSON_TOK_NAME || t->kind == JSON_TOK_STRING)
        assert_int_equal(t->text.ptr[t->text.len], '\0');
    if (t->kind == JSON_TOK_NUMBER)
        assert_true(t->text.len > 0);
    n = snprintf(head, sizeof(head), "%d %u %zu %zu:", (int)t->kind,
                 t->depth, l->no_offsets ? 0 : t->offset, t->text.len);
    tlog_put(l, head, (size_t)n);
    tlog_put(l, t->text.ptr, t->text.len);
    tlog_put(l, "\n", 1);
    if (++l->tokens == l->stop_at)
        return AW_DECLINED;
    return AW_OK;
}

/*
 * Stream buf[0..len) under lim, cut at the sorted offsets cuts[0..ncuts)
 * (each piece fed from a heap copy of its exact size, so that a read past
 * a chunk shows under the sanitizers), or byte by byte when bytewise.
 */
static void
stream_run(const char *buf, size_t len, const struct json_limits *lim,
           const size_t *cuts, size_t ncuts, bool bytewise,
           struct tlog *log, struct verdict *v)
{
    struct arena a;
    struct json_stream *s;
    struct json_error err = {NULL, 0};
    size_t from = 0;
    int rc = AW_OK;

    arena_init(&a, 4096, ARENA_MAX);
    s = json_stream_new(lim, on_token_log, log, &a);
    assert_non_null(s);
    for (size_t i = 0; rc == AW_OK && from < len; i++) {
        size_t to = bytewise ? from + 1 : i < ncuts ? cuts[i] : len;
        char *piece = malloc(to - from + 1);

        assert_non_null(piece);
        memcpy(piece, buf + from, to - from);
        rc = json_stream_feed(s, piece, to - from, &err);
        free(piece);
        from = to;
        assert_int_equal(json_stream_offset(s), MIN(from, lim->max_bytes));
    }
    if (rc == AW_OK)
        rc = json_stream_finish(s, &err);
    *v = (struct verdict){rc, rc == AW_OK ? NULL : err.reason,
                          rc == AW_OK ? 0 : err.offset};
    arena_fini(&a);
}

/* The second run must have the first's tokens and outcome. */
static void
same_run(const char *what, const char *name, const struct tlog *a,
         const struct verdict *va, const struct tlog *b,
         const struct verdict *vb)
{
    bool same_reason = va->reason == vb->reason ||
                       (va->reason != NULL && vb->reason != NULL &&
                        strcmp(va->reason, vb->reason) == 0);

    if (va->rc != vb->rc || !same_reason || va->offset != vb->offset)
        fail_msg("%s %s: rc %d %s at %zu, whole gave %d %s at %zu", name,
                 what, vb->rc, vb->reason ? vb->reason : "-", vb->offset,
                 va->rc, va->reason ? va->reason : "-", va->offset);
    if (a->len != b->len ||
        (a->len > 0 && memcmp(a->p, b->p, a->len) != 0))
        fail_msg("%s %s: other tokens than whole", name, what);
}

/* The tree json_parse built, replayed by json_walk, is the stream again. */
static void
check_walk(const char *name, const char *buf, size_t len)
{
    struct json_limits lim;
    struct tlog streamed = {.no_offsets = true}, walked = {0};
    struct verdict v;
    struct run r;

    json_limits_default(&lim);
    stream_run(buf, len, &lim, NULL, 0, false, &streamed, &v);
    run_bytes(&r, buf, len);
    assert_int_equal(r.rc, AW_OK);
    assert_int_equal(json_walk(r.v, on_token_log, &walked), AW_OK);
    if (streamed.len != walked.len ||
        memcmp(streamed.p, walked.p, streamed.len) != 0)
        fail_msg("%s: the walked tree gives other tokens", name);
    run_done(&r);
    free(streamed.p);
    free(walked.p);
}

/*
 * One document: streamed whole it must give json_parse's outcome (so
 * the verdicts judged above); byte by byte and, when short, split in two
 * at every offset, the same tokens and outcome as whole. An accepted one
 * must give the same tokens again from its tree through json_walk.
 */
static void
check_stream(const char *name, const char *buf, size_t len, bool all_cuts)
{
    struct json_limits lim;
    struct tlog whole = {0}, other = {0};
    struct verdict vw, vo;
    struct run r;

    json_limits_default(&lim);
    run_bytes(&r, buf, len);
    stream_run(buf, len, &lim, NULL, 0, false, &whole, &vw);
    if (vw.rc != r.rc || (r.rc != AW_OK &&
                          (strcmp(vw.reason, r.err.reason) != 0 ||
                           vw.offset != r.err.offset)))
        fail_msg("%s: stream %d %s, json_parse %d %s", name, vw.rc,
                 vw.reason ? vw.reason : "-", r.rc,
                 r.err.reason ? r.err.reason : "-");
    run_done(&r);
    if (vw.rc == AW_OK)
        check_walk(name, buf, len);
    stream_run(buf, len, &lim, NULL, 0, true, &other, &vo);
    same_run("byte by byte", name, &whole, &vw, &other, &vo);
    for (size_t cut = 1; all_cuts && cut < len; cut++) {
        other.len = 0;
        stream_run(buf, len, &lim, &cut, 1, false, &other, &vo);
        same_run("split", name, &whole, &vw, &other, &vo);
    }
    free(whole.p);
    free(other.p);
}

static void
test_suite_stream(void **state)
{
    char *names[MAX_FILES];
    size_t n = list_dir(SUITE "test_parsing", names, ARRAY_LEN(names));
    unsigned split = 0;

    (void)state;
    for (size_t i = 0; i < n; i++) {
        char path[512];
        size_t len;
        char *buf;

        snprintf(path, sizeof(path), "%s/%s", SUITE "test_parsing",
                 names[i]);
        buf = read_file(path, &len);
        check_stream(names[i], buf, len, len < 200);
        split += len < 200;
        free(buf);
    }
    printf("JSONTestSuite streamed: %zu files whole and byte by byte, %u "
           "split at every offset\n", n, split);
    free_names(names, n);
}

/* Every token of a document, with its depth and offset. */
static void
test_stream_tokens(void **state)
{
    static const char doc[] =
        " {\"a\": [1, -2.5e3, \"x\\u00e9\"], \"b\": {\"c\": null},"
        " \"d\": true, \"e\": false, \"f\": [] } ";
    static const char want[] =
        "0 0 1 0:\n" "4 1 2 1:a\n" "2 1 7 0:\n" "6 2 8 1:1\n"
        "6 2 11 6:-2.5e3\n" "5 2 19 3:x\xc3\xa9\n" "3 1 28 0:\n"
        "4 1 31 1:b\n" "0 1 36 0:\n" "4 2 37 1:c\n" "9 2 42 0:\n"
        "1 1 46 0:\n" "4 1 49 1:d\n" "7 1 54 0:\n" "4 1 60 1:e\n"
        "8 1 65 0:\n" "4 1 72 1:f\n" "2 1 77 0:\n" "3 1 78 0:\n"
        "1 0 80 0:\n";
    struct json_limits lim;
    struct tlog log = {0};
    struct verdict v;

    (void)state;
    json_limits_default(&lim);
    stream_run(doc, sizeof(doc) - 1, &lim, NULL, 0, false, &log, &v);
    assert_int_equal(v.rc, AW_OK);
    tlog_put(&log, "", 1);
    assert_string_equal(log.p, want);
    free(log.p);
}

/* A number is complete only once the byte after it, or the end, comes. */
static void
test_stream_number_end(void **state)
{
    struct json_limits lim;
    struct json_error err;
    struct tlog log = {0};
    struct json_stream *s;
    struct arena a;

    (void)state;
    json_limits_default(&lim);
    arena_init(&a, 4096, ARENA_MAX);
    s = json_stream_new(&lim, on_token_log, &log, &a);
    assert_int_equal(json_stream_feed(s, NULL, 0, &err), AW_OK);
    assert_int_equal(json_stream_feed(s, " 12", 3, &err), AW_OK);
    assert_int_equal(json_stream_feed(s, "", 0, &err), AW_OK);
    assert_int_equal(json_stream_feed(s, "3", 1, &err), AW_OK);
    assert_int_equal(log.tokens, 0);
    assert_int_equal(json_stream_finish(s, &err), AW_OK);
    assert_int_equal(log.tokens, 1);
    tlog_put(&log, "", 1);
    assert_string_equal(log.p, "6 0 1 3:123\n");
    arena_fini(&a);
    free(log.p);

    /* Cut after the minus, the dot or the exponent: malformed at the end. */
    refuse_at("-", AW_INVALID, "json.bad_number", 1);
    refuse_at("1.", AW_INVALID, "json.bad_number", 2);
    refuse_at("1e+", AW_INVALID, "json.bad_number", 3);
    refuse_at("[1", AW_INVALID, "json.syntax", 2);
    refuse_at("[tr", AW_INVALID, "json.syntax", 1);
    refuse_at("\"ab", AW_INVALID, "json.syntax", 3);
}

/* Where the last number's text was. */
static int
on_token_ptr(void *ctx, const struct json_token *t)
{
    const char **where = ctx;

    if (t->kind == JSON_TOK_NUMBER)
        *where = t->text.ptr;
    return AW_OK;
}

/* An unsplit number's text points into the chunk it came in. */
static void
test_stream_zero_copy(void **state)
{
    static const char doc[] = "[12345,678]";
    const char *where = NULL;
    struct json_limits lim;
    struct json_error err;
    struct json_stream *s;
    struct arena a;

    (void)state;
    json_limits_default(&lim);
    arena_init(&a, 4096, ARENA_MAX);
    s = json_stream_new(&lim, on_token_ptr, &where, &a);
    assert_int_equal(json_stream_feed(s, doc, 4, &err), AW_OK);
    assert_null(where);
    assert_int_equal(json_stream_feed(s, doc + 4, 7, &err), AW_OK);
    /* 12345 was split: a copy; 678 was whole in the second chunk. */
    assert_ptr_equal(where, doc + 7);
    assert_int_equal(json_stream_finish(s, &err), AW_OK);
    arena_fini(&a);
}

/* A callback that says stop ends the parse, for good. */
static void
test_stream_stop(void **state)
{
    static const char doc[] = "{\"a\":[1,2,3]}";
    struct json_limits lim;
    struct json_error err;
    struct tlog log = {.stop_at = 4};
    struct json_stream *s;
    struct arena a;

    (void)state;
    json_limits_default(&lim);
    arena_init(&a, 4096, ARENA_MAX);
    s = json_stream_new(&lim, on_token_log, &log, &a);
    assert_int_equal(json_stream_feed(s, doc, sizeof(doc) - 1, &err),
                     AW_DECLINED);
    assert_string_equal(err.reason, "json.stopped");
    assert_int_equal(err.offset, 6);          /* the token "1" */
    assert_int_equal(log.tokens, 4);
    err.reason = NULL;
    assert_int_equal(json_stream_feed(s, "x", 1, &err), AW_DECLINED);
    assert_string_equal(err.reason, "json.stopped");
    assert_int_equal(json_stream_finish(s, &err), AW_DECLINED);
    assert_int_equal(log.tokens, 4);
    arena_fini(&a);
    free(log.p);
}

/*
 * Each bound through the stream, at the bound and one past, with its
 * reason and offset, whole and byte by byte.
 */
static void
want_stream(const char *doc, const struct json_limits *lim, int rc,
            const char *reason, size_t offset)
{
    struct tlog log = {0};
    struct verdict v;

    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        log.len = 0;
        stream_run(doc, strlen(doc), lim, NULL, 0, bytewise, &log, &v);
        if (v.rc != rc || (rc != AW_OK && (strcmp(v.reason, reason) != 0 ||
                                           v.offset != offset)))
            fail_msg("%s: rc %d %s at %zu, want %d %s at %zu", doc, v.rc,
                     v.reason ? v.reason : "-", v.offset, rc,
                     reason ? reason : "-", offset);
    }
    free(log.p);
}

static void
test_stream_limits(void **state)
{
    struct json_limits lim, def;

    (void)state;
    json_limits_default(&def);
    lim = def;
    lim.max_bytes = 7;
    want_stream("[1,2,3]", &lim, AW_OK, NULL, 0);
    want_stream("[1,2,3] ", &lim, AW_TOOBIG, "json.too_large", 7);
    want_stream("[1,2,]  ", &lim, AW_INVALID, "json.syntax", 5);
    lim = def;
    lim.max_depth = 2;
    want_stream("[{\"a\":1}]", &lim, AW_OK, NULL, 0);
    want_stream("[{\"a\":[]}]", &lim, AW_TOOBIG, "json.too_deep", 6);
    lim = def;
    lim.max_string = 3;
    want_stream("[\"abc\",\"\\u00e9x\"]", &lim, AW_OK, NULL, 0);
    want_stream("[\"abc\",\"\\u00e9xy\"]", &lim, AW_TOOBIG,
                "json.string_too_long", 7);
    want_stream("{\"abcd\":1}", &lim, AW_TOOBIG, "json.string_too_long", 1);
    want_stream("[\"ab\xc3\xa9\"]", &lim, AW_TOOBIG,
                "json.string_too_long", 1);
    lim = def;
    lim.max_members = 2;
    want_stream("{\"a\":1,\"b\":{\"c\":1,\"d\":2}}", &lim, AW_OK, NULL, 0);
    want_stream("{\"a\":1,\"b\":2,\"c\":3}", &lim, AW_TOOBIG,
                "json.too_many_members", 13);
    lim = def;
    lim.max_items = 2;
    want_stream("[[1,2],[3,4]]", &lim, AW_OK, NULL, 0);
    want_stream("[1, 2, 3]", &lim, AW_TOOBIG, "json.array_too_long", 7);
    lim = def;
    lim.max_number = 4;
    want_stream("[-1.5,1e10]", &lim, AW_OK, NULL, 0);
    want_stream("[1, 1.25e1]", &lim, AW_TOOBIG, "json.number_too_long", 4);
    want_stream("12345", &lim, AW_TOOBIG, "json.number_too_long", 0);
}

/*
 * Many members take the hash set of names; a repeat is found wherever it
 * is, and a later object at the same depth starts afresh.
 */
static void
test_stream_many_names(void **state)
{
    char *s = many(10000, true);
    size_t n = strlen(s) * 2 + 4;
    char *t = malloc(n), *k;
    struct json_limits lim;
    struct tlog log = {0};
    struct verdict v;

    (void)state;
    assert_non_null(t);
    json_limits_default(&lim);
    lim.max_bytes = 4 << 20;
    snprintf(t, n, "[%s,%s]", s, s);
    stream_run(t, strlen(t), &lim, NULL, 0, false, &log, &v);
    assert_int_equal(v.rc, AW_OK);
    assert_int_equal(log.tokens, 2 + 2 * (2 + 2 * 10000));
    /* The last name of the second object repeats the one before it. */
    k = strstr(t + strlen(s) + 2, "\"k9999\"");
    assert_non_null(k);
    memcpy(k, "\"k9998\"", 7);
    log.len = 0;
    stream_run(t, strlen(t), &lim, NULL, 0, false, &log, &v);
    assert_int_equal(v.rc, AW_INVALID);
    assert_string_equal(v.reason, "json.duplicate_key");
    assert_int_equal(v.offset, (size_t)(k - t));
    free(log.p);
    free(t);
    free(s);

    /* Long names outgrow the names buffer, also in the middle of one. */
    t = malloc(300 * 64 + 3);
    assert_non_null(t);
    n = 0;
    t[n++] = '{';
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(t + n, 64, "%s\"%040d-\\u00e9\":%d",
                              i > 0 ? "," : "", i, i);
    t[n++] = '}';
    check_stream("300 long names", t, n, false);
    free(t);
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
    assert_int_equal(lim.max_members, 10000);
    assert_int_equal(lim.max_items, 10000);
    assert_int_equal(lim.max_number, 128);
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
    assert_int_equal(r.err.offset, 8);    /* the first byte past */
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
    assert_string_equal(r.err.reason, "json.string_too_long");
    assert_int_equal(r.err.offset, 0);
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
    assert_string_equal(r.err.reason, "json.string_too_long");
    assert_int_equal(r.err.offset, 1);
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
        assert_string_equal(r.err.reason, object ? "json.too_many_members"
                                                 : "json.array_too_long");
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
    assert_int_equal(r.err.offset, (size_t)(k - s));  /* the repeat */
    run_done(&r);
    free(s);

    refuse_at("[1,{\"a\":1,\"b\":2,\"a\":3}]", AW_INVALID,
              "json.duplicate_key", 16);
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

/*
 * The number text points into the caller's buffer. max_number bounds its
 * characters; one of more than 308 digits is read to see that it is a
 * finite double.
 */
static void
test_number_text(void **state)
{
    char buf[402];
    struct json_limits lim;
    struct run r;

    (void)state;
    json_limits_default(&lim);
    memset(buf, '9', sizeof(buf));
    buf[0] = '[';
    buf[199] = ']';
    lim.max_number = 198;
    run_limits(&r, buf, 200, &lim);
    assert_int_equal(r.rc, AW_OK);
    assert_ptr_equal(r.v->u.arr.items[0]->u.num.text.ptr, buf + 1);
    assert_int_equal(r.v->u.arr.items[0]->u.num.text.len, 198);
    assert_false(r.v->u.arr.items[0]->u.num.is_int);
    assert_true(r.v->u.arr.items[0]->u.num.d > 9.9e197);
    run_done(&r);
    lim.max_number = 197;
    run_limits(&r, buf, 200, &lim);
    assert_int_equal(r.rc, AW_TOOBIG);
    assert_string_equal(r.err.reason, "json.number_too_long");
    assert_int_equal(r.err.offset, 1);
    run_done(&r);
    /* 308 nines are below DBL_MAX, 309 round past it. */
    lim.max_number = 400;
    buf[199] = '9';
    buf[309] = ']';
    run_limits(&r, buf, 310, &lim);
    assert_int_equal(r.rc, AW_OK);
    run_done(&r);
    buf[309] = '9';
    buf[310] = ']';
    run_limits(&r, buf, 311, &lim);
    assert_int_equal(r.rc, AW_INVALID);
    assert_string_equal(r.err.reason, "json.bad_number");
    run_done(&r);
    /* The default bound. */
    buf[310] = '9';
    buf[128 + 1] = ']';
    run_bytes(&r, buf, 130);
    assert_int_equal(r.rc, AW_OK);
    run_done(&r);
    buf[128 + 1] = '9';
    buf[128 + 2] = ']';
    run_bytes(&r, buf, 131);
    assert_int_equal(r.rc, AW_TOOBIG);
    run_done(&r);
}

/*
 * The double of every number is the one strtod gives for its text, bit
 * for bit, whichever way it was computed: 20000 numbers from a fixed-seed
 * generator, with up to 18 digits, a dot anywhere or none, and an
 * exponent or none.
 */
static void
test_number_values(void **state)
{
    uint64_t seed = 0x2545f4914f6cdd1du;
    char text[48];

    (void)state;
    for (int k = 0; k < 20000; k++) {
        size_t n = 0, ndig, dot;
        struct run r;
        double want;

        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ndig = 1 + seed % 18;
        dot = (seed >> 12) % (ndig + 1);    /* ndig: no dot */
        if (seed & 0x100)
            text[n++] = '-';
        if (dot == 0) {
            text[n++] = '0';
            text[n++] = '.';
        }
        for (size_t i = 0; i < ndig; i++) {
            unsigned d = (unsigned)((seed >> (20 + 2 * i)) % 10);

            if (i == dot && dot > 0)
                text[n++] = '.';
            text[n++] = (char)('0' + (i == 0 && dot > 0 && d == 0 ? 1 : d));
        }
        if (seed & 0x200)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "e%d",
                                  (int)((seed >> 40) % 61) - 30);
        text[n] = '\0';
        want = strtod(text, NULL);
        run_text(&r, text);
        if (r.rc != AW_OK)
            fail_msg("%s refused (%s)", text, r.err.reason);
        if (memcmp(&r.v->u.num.d, &want, sizeof(want)) != 0)
            fail_msg("%s: %.17g, strtod %.17g", text, r.v->u.num.d, want);
        run_done(&r);
    }
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
    /* The first problem in reading order: no low surrogate follows. */
    refuse("\"\\ud800\\\"", "json.bad_escape");
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
        cmocka_unit_test(test_suite_stream),
        cmocka_unit_test(test_suite_transform),
        cmocka_unit_test(test_stream_tokens),
        cmocka_unit_test(test_stream_number_end),
        cmocka_unit_test(test_stream_zero_copy),
        cmocka_unit_test(test_stream_stop),
        cmocka_unit_test(test_stream_limits),
        cmocka_unit_test(test_stream_many_names),
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_bytes),
        cmocka_unit_test(test_limit_string),
        cmocka_unit_test(test_limit_items),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_arena_bound),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_number_text),
        cmocka_unit_test(test_number_values),
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
