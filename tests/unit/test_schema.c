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

static struct json_value *
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
    return strstr(msg, "unsupported keyword") != NULL;
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
            if (getenv("SCHEMA_SUITE_VERBOSE") != NULL)
                printf("  unsupported %s | %s: %s\n", file, gdesc, err);
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
    if (formats && strcmp(fmt, "unknown") != 0 &&
        !schema_format_asserted(fmt)) {
        snprintf(path, sizeof(path), "%stests/%s/%s", SUITE, dir, name);
        doc = read_json(path);
        assert_non_null(doc);
        for (size_t i = 0; i < doc->u.arr.n; i++) {
            const struct json_value *c = doc->u.arr.items[i];

            t.total += (unsigned)json_get(c, "tests")->u.arr.n;
        }
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
/* Helpers for the cases below                                         */
/* ------------------------------------------------------------------ */

/* A compiled schema and an arena for validators, torn down together. */
struct fixture {
    struct schema_set *set;
    const struct schema *s;
    struct arena a;
};

static void
fixture_dialect(struct fixture *f, const char *schema, enum schema_dialect d)
{
    struct schema_options o;
    char err[256];

    schema_options_default(&o);
    o.dialect = d;
    assert_int_equal(schema_compile(parse_text(schema), &o, &f->set, err,
                                     sizeof(err)),
                     AW_OK);
    f->s = schema_at(f->set, "", err, sizeof(err));
    assert_non_null(f->s);
    arena_init(&f->a, 4096, ARENA_MAX);
}

static void
fixture(struct fixture *f, const char *schema)
{
    fixture_dialect(f, schema, SCHEMA_2020_12);
}

static void
fixture_fini(struct fixture *f)
{
    arena_fini(&f->a);
    schema_set_free(f->set);
}

static struct outcome
check(struct fixture *f, const char *instance, unsigned flags)
{
    return validate(f->s, parse_text(instance), flags, &f->a);
}

/* True when the outcome holds an error at pointer with keyword. */
static bool
has_error(const struct outcome *o, const char *pointer, const char *kw)
{
    for (size_t i = 0; i < o->nerr; i++)
        if (strcmp(o->errs[i].pointer, pointer) == 0 &&
            strcmp(o->errs[i].keyword, kw) == 0)
            return true;
    return false;
}

/* Compile schema and expect a refusal whose message names where. */
static void
refused(const char *schema, enum schema_dialect d, int want,
        const char *where)
{
    struct schema_options o;
    struct schema_set *set = NULL;
    char err[256];
    int rc;

    schema_options_default(&o);
    o.dialect = d;
    rc = schema_compile(parse_text(schema), &o, &set, err, sizeof(err));
    if (rc != want || strstr(err, where) == NULL)
        fail_msg("%s: rc %d, message \"%s\", want %d naming %s", schema, rc,
                 err, want, where);
    assert_null(set);
}

/* ------------------------------------------------------------------ */
/* Flags                                                               */
/* ------------------------------------------------------------------ */

static const char *const user_schema =
    "{\"type\": \"object\", \"properties\": {"
    "\"id\": {\"type\": \"integer\", \"readOnly\": true},"
    "\"password\": {\"type\": \"string\", \"writeOnly\": true},"
    "\"name\": {\"type\": \"string\"}}}";

static void
test_read_only(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, user_schema);
    o = check(&f, "{\"id\": 1, \"name\": \"a\"}", SCHEMA_REQUEST);
    assert_false(o.valid);
    assert_true(has_error(&o, "/id", "readOnly"));
    assert_true(check(&f, "{\"id\": 1}", SCHEMA_RESPONSE).valid);
    assert_true(check(&f, "{\"id\": 1}", 0).valid);
    assert_true(check(&f, "{\"name\": \"a\"}", SCHEMA_REQUEST).valid);
    fixture_fini(&f);
}

static void
test_write_only(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, user_schema);
    o = check(&f, "{\"password\": \"x\"}", SCHEMA_RESPONSE);
    assert_false(o.valid);
    assert_true(has_error(&o, "/password", "writeOnly"));
    assert_true(check(&f, "{\"password\": \"x\"}", SCHEMA_REQUEST).valid);
    fixture_fini(&f);
}

/* readOnly reached through $ref and allOf counts too. */
static void
test_read_only_through_ref(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, "{\"$defs\": {\"ro\": {\"readOnly\": true}},"
                "\"properties\": {\"a\": {\"allOf\": [{\"$ref\": "
                "\"#/$defs/ro\"}]}}}");
    o = check(&f, "{\"a\": 1}", SCHEMA_REQUEST);
    assert_false(o.valid);
    assert_true(has_error(&o, "/a", "readOnly"));
    fixture_fini(&f);
}

static void
test_strict(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, user_schema);
    assert_true(check(&f, "{\"name\": \"a\", \"admin\": true}", 0).valid);
    o = check(&f, "{\"name\": \"a\", \"admin\": true}", SCHEMA_STRICT);
    assert_false(o.valid);
    assert_true(has_error(&o, "/admin", "additionalProperties"));
    fixture_fini(&f);
    /* A schema with patternProperties or additionalProperties says what
     * else it accepts; strict leaves it alone. */
    fixture(&f, "{\"properties\": {\"a\": {}}, \"additionalProperties\": "
                "{\"type\": \"string\"}}");
    assert_true(check(&f, "{\"a\": 1, \"b\": \"x\"}", SCHEMA_STRICT).valid);
    fixture_fini(&f);
}

/* Composition: a member any allOf branch lists is known to all. */
static void
test_strict_all_of(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, "{\"$defs\": {\"base\": {\"properties\": {\"id\": "
                "{\"type\": \"integer\"}}}},"
                "\"allOf\": [{\"$ref\": \"#/$defs/base\"},"
                "{\"properties\": {\"name\": {\"type\": \"string\"}}}]}");
    assert_true(check(&f, "{\"id\": 1, \"name\": \"a\"}", SCHEMA_STRICT)
                    .valid);
    o = check(&f, "{\"id\": 1, \"role\": \"admin\"}", SCHEMA_STRICT);
    assert_false(o.valid);
    assert_true(has_error(&o, "/role", "additionalProperties"));
    /* Nested objects are closed too. */
    fixture_fini(&f);
    fixture(&f, "{\"properties\": {\"a\": {\"properties\": {\"b\": {}}}}}");
    o = check(&f, "{\"a\": {\"b\": 1, \"c\": 2}}", SCHEMA_STRICT);
    assert_true(has_error(&o, "/a/c", "additionalProperties"));
    fixture_fini(&f);
}

/* Records schema_validator_keep after every NAME token. */
struct keep_log {
    struct schema_validator *v;
    char names[16][16];
    bool keep[16];
    size_t n;
};

static int
on_token_keep(void *ctx, const struct json_token *t)
{
    struct keep_log *k = ctx;
    int rc = schema_validator_token(k->v, t);

    if (t->kind == JSON_TOK_NAME && k->n < 16) {
        snprintf(k->names[k->n], sizeof(k->names[0]), "%s", t->text.ptr);
        k->keep[k->n++] = schema_validator_keep(k->v);
    }
    return rc;
}

static bool
kept(const struct keep_log *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->names[i], name) == 0)
            return k->keep[i];
    fail_msg("no member %s", name);
    return false;
}

static void
test_filter_keep(void **state)
{
    struct fixture f;
    struct keep_log k = {0};
    const struct schema_error *errs;
    size_t n;

    (void)state;
    fixture(&f, user_schema);
    k.v = schema_validator_new(f.s, SCHEMA_RESPONSE | SCHEMA_FILTER, 8, &f.a);
    assert_non_null(k.v);
    assert_int_equal(json_walk(parse_text("{\"id\": 1, \"password\": \"p\","
                                          "\"secret\": {\"x\": [1]},"
                                          "\"name\": \"n\"}"),
                               on_token_keep, &k),
                     AW_OK);
    assert_true(kept(&k, "id"));
    assert_false(kept(&k, "password"));
    assert_false(kept(&k, "secret"));
    assert_true(kept(&k, "name"));
    /* Dropped members are not errors; what stays is still checked. */
    assert_true(schema_validator_done(k.v, &errs, &n));
    k = (struct keep_log){0};
    k.v = schema_validator_new(f.s, SCHEMA_RESPONSE | SCHEMA_FILTER, 8, &f.a);
    json_walk(parse_text("{\"x\": 1, \"name\": 5}"), on_token_keep, &k);
    assert_false(kept(&k, "x"));
    assert_false(schema_validator_done(k.v, &errs, &n));
    assert_int_equal(n, 1);
    assert_string_equal(errs[0].pointer, "/name");
    assert_string_equal(errs[0].keyword, "type");
    /* Without FILTER every member is kept. */
    k = (struct keep_log){0};
    k.v = schema_validator_new(f.s, SCHEMA_RESPONSE, 8, &f.a);
    json_walk(parse_text("{\"x\": 1}"), on_token_keep, &k);
    assert_true(kept(&k, "x"));
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static void
test_error_pointers(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, "{\"properties\": {\"a/b\": {\"items\": {\"properties\": "
                "{\"m~n\": {\"type\": \"string\"}}}},"
                "\"c\": {\"minimum\": 3}}, \"required\": [\"c\", \"d\"]}");
    o = check(&f, "{\"a/b\": [{}, {\"m~n\": \"ok\"}, {\"m~n\": 1}],"
                  "\"c\": 2}", 0);
    assert_false(o.valid);
    assert_int_equal(o.nerr, 3);
    assert_true(has_error(&o, "/a~1b/2/m~0n", "type"));
    assert_true(has_error(&o, "/c", "minimum"));
    assert_true(has_error(&o, "", "required"));
    fixture_fini(&f);
}

/* A failing branch of anyOf is not an error; the anyOf is. */
static void
test_error_combinators(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, "{\"properties\": {\"v\": {\"anyOf\": [{\"type\": "
                "\"string\"}, {\"minimum\": 10}]}, \"w\": {\"not\": "
                "{\"const\": 1}}, \"x\": {\"oneOf\": [{}, {}]}}}");
    assert_true(check(&f, "{\"v\": \"s\"}", 0).valid);
    assert_true(check(&f, "{\"v\": 11}", 0).valid);
    o = check(&f, "{\"v\": 5, \"w\": 1, \"x\": 0}", 0);
    assert_int_equal(o.nerr, 3);
    assert_true(has_error(&o, "/v", "anyOf"));
    assert_true(has_error(&o, "/w", "not"));
    assert_true(has_error(&o, "/x", "oneOf"));
    fixture_fini(&f);
}

/* unevaluated*: the verdict comes at the container's end. */
static void
test_error_unevaluated(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, "{\"anyOf\": [{\"properties\": {\"b\": {\"type\": "
                "\"string\"}}}, {\"required\": [\"z\"]}],"
                "\"unevaluatedProperties\": false, \"properties\": {"
                "\"z\": {}, \"l\": {\"prefixItems\": [{}], "
                "\"unevaluatedItems\": {\"type\": \"integer\"}}}}");
    assert_true(check(&f, "{\"b\": \"x\"}", 0).valid);
    /* b fails its branch, so that branch evaluated nothing. */
    o = check(&f, "{\"b\": 1, \"z\": 0}", 0);
    assert_true(has_error(&o, "", "unevaluatedProperties"));
    assert_true(check(&f, "{\"l\": [\"s\", 1, 2], \"z\": 0}", 0).valid);
    o = check(&f, "{\"l\": [\"s\", 1, \"t\"], \"z\": 0}", 0);
    assert_int_equal(o.nerr, 1);
    assert_true(has_error(&o, "/l", "unevaluatedItems"));
    fixture_fini(&f);
}

/* At most max_errors are kept, and validation still ends. */
static void
test_error_bound(void **state)
{
    struct fixture f;
    struct schema_validator *v;
    const struct schema_error *errs;
    size_t n;

    (void)state;
    fixture(&f, "{\"items\": {\"type\": \"string\"}}");
    v = schema_validator_new(f.s, 0, 2, &f.a);
    assert_int_equal(json_walk(parse_text("[1, 2, 3, 4, \"a\"]"),
                               schema_validator_token, v),
                     AW_OK);
    assert_false(schema_validator_done(v, &errs, &n));
    assert_int_equal(n, 2);
    assert_string_equal(errs[1].pointer, "/1");
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ */
/* Numbers, enums, formats                                             */
/* ------------------------------------------------------------------ */

static void
test_numbers_exact(void **state)
{
    struct fixture f;

    (void)state;
    fixture(&f, "{\"multipleOf\": 0.1}");
    assert_true(check(&f, "0.3", 0).valid);
    assert_true(check(&f, "12345678901234567890.1", 0).valid);
    assert_false(check(&f, "0.31", 0).valid);
    fixture_fini(&f);
    fixture(&f, "{\"multipleOf\": 0.0001}");
    assert_true(check(&f, "7", 0).valid);
    assert_true(check(&f, "0.0075", 0).valid);
    assert_false(check(&f, "0.00751", 0).valid);
    fixture_fini(&f);
    fixture(&f, "{\"maximum\": 9007199254740992}");
    assert_true(check(&f, "9007199254740992", 0).valid);
    assert_false(check(&f, "9007199254740993", 0).valid);
    assert_false(check(&f, "9007199254740992.5", 0).valid);
    fixture_fini(&f);
    fixture(&f, "{\"type\": \"integer\", \"multipleOf\": 3}");
    assert_true(check(&f, "-3e2", 0).valid);
    assert_true(check(&f, "1.5e1", 0).valid);
    assert_false(check(&f, "1.5", 0).valid);
    fixture_fini(&f);
}

static void
test_enum_structured(void **state)
{
    struct fixture f;

    (void)state;
    fixture(&f, "{\"enum\": [{\"a\": [1, 2.0], \"b\": null}, \"x\"]}");
    assert_true(check(&f, "{\"b\": null, \"a\": [1.0, 2]}", 0).valid);
    assert_true(check(&f, "\"x\"", 0).valid);
    assert_false(check(&f, "{\"a\": [2, 1], \"b\": null}", 0).valid);
    assert_false(check(&f, "{\"a\": [1, 2]}", 0).valid);
    fixture_fini(&f);
    fixture(&f, "{\"uniqueItems\": true}");
    assert_false(check(&f, "[{\"a\": 1, \"b\": 2}, {\"b\": 2, \"a\": 1.0}]",
                       0).valid);
    assert_true(check(&f, "[[1, 2], [2, 1]]", 0).valid);
    fixture_fini(&f);
}

static void
test_formats(void **state)
{
    struct fixture f;
    struct outcome o;

    (void)state;
    fixture(&f, "{\"properties\": {\"d\": {\"format\": \"date-time\"},"
                "\"u\": {\"format\": \"uuid\"}, \"e\": {\"format\": "
                "\"email\"}, \"z\": {\"format\": \"no-such-format\"}}}");
    assert_true(check(&f, "{\"d\": \"2024-02-29T23:59:60Z\"}", 0).valid);
    o = check(&f, "{\"d\": \"2023-02-29T10:00:00Z\", \"u\": \"1234\","
                  "\"e\": \"a@@b\", \"z\": \"anything\"}", 0);
    assert_int_equal(o.nerr, 3);
    assert_true(has_error(&o, "/d", "format"));
    assert_true(has_error(&o, "/u", "format"));
    assert_true(has_error(&o, "/e", "format"));
    assert_true(schema_format_asserted("ipv6"));
    assert_false(schema_format_asserted("duration"));
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ */
/* OpenAPI 3.0                                                         */
/* ------------------------------------------------------------------ */

static const char *const pets =
    "{\"openapi\": \"3.0.3\", \"components\": {\"schemas\": {"
    "\"Pet\": {\"oneOf\": [{\"$ref\": \"#/components/schemas/Cat\"},"
    "{\"$ref\": \"#/components/schemas/Dog\"}],"
    "\"discriminator\": {\"propertyName\": \"petType\","
    "\"mapping\": {\"kitty\": \"#/components/schemas/Cat\"}}},"
    "\"Cat\": {\"type\": \"object\", \"required\": [\"petType\"],"
    "\"properties\": {\"petType\": {\"type\": \"string\"},"
    "\"lives\": {\"type\": \"integer\"}}},"
    "\"Dog\": {\"type\": \"object\", \"required\": [\"petType\"],"
    "\"properties\": {\"petType\": {\"type\": \"string\"},"
    "\"bark\": {\"type\": \"boolean\"}}},"
    "\"Name\": {\"type\": \"string\", \"nullable\": true,"
    "\"example\": \"x\", \"x-internal\": true}}}}";

static void
test_discriminator(void **state)
{
    struct schema_options o;
    struct fixture f;
    struct outcome out;
    char err[256];

    (void)state;
    schema_options_default(&o);
    o.dialect = SCHEMA_OAS30;
    assert_int_equal(schema_compile(parse_text(pets), &o, &f.set, err,
                                    sizeof(err)),
                     AW_OK);
    /* The document root is not a schema. */
    f.s = schema_at(f.set, "/components/schemas/Pet", err, sizeof(err));
    assert_non_null(f.s);
    arena_init(&f.a, 4096, ARENA_MAX);
    /* Cat and Dog both match: oneOf alone would refuse, the
     * discriminator picks one. */
    assert_true(check(&f, "{\"petType\": \"Dog\", \"bark\": true}", 0).valid);
    assert_true(check(&f, "{\"petType\": \"kitty\", \"lives\": 9}", 0).valid);
    assert_true(check(&f, "{\"lives\": 9, \"petType\": \"Cat\"}", 0).valid);
    out = check(&f, "{\"petType\": \"Dog\", \"bark\": 3}", 0);
    assert_true(has_error(&out, "", "oneOf"));
    out = check(&f, "{\"petType\": \"bird\"}", 0);
    assert_true(has_error(&out, "", "discriminator"));
    out = check(&f, "{\"bark\": true}", 0);
    assert_true(has_error(&out, "", "discriminator"));
    f.s = schema_at(f.set, "/components/schemas/Name", err, sizeof(err));
    assert_non_null(f.s);
    assert_true(check(&f, "null", 0).valid);
    assert_false(check(&f, "1", 0).valid);
    assert_null(schema_at(f.set, "/components/schemas/None", err,
                          sizeof(err)));
    assert_non_null(strstr(err, "/components/schemas/None"));
    fixture_fini(&f);
}

static void
test_types(void **state)
{
    struct fixture f;

    (void)state;
    fixture(&f, "{\"type\": \"integer\"}");
    assert_int_equal(schema_types(f.s), 1u << JSON_NUMBER);
    fixture_fini(&f);
    fixture(&f, "{\"allOf\": [{\"type\": [\"string\", \"null\"]}]}");
    assert_int_equal(schema_types(f.s), 1u << JSON_STRING | 1u << JSON_NULL);
    fixture_fini(&f);
    fixture(&f, "{}");
    assert_int_equal(schema_types(f.s), 0x7fu);
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ */
/* Streams and limits                                                  */
/* ------------------------------------------------------------------ */

/* The validator on json_stream, the body cut into 3-byte pieces. */
static void
test_stream(void **state)
{
    static const char body[] =
        "{\"name\": \"caf\\u00e9\", \"tags\": [\"a\", \"b\"], \"n\": 4}";
    struct fixture f;
    struct json_limits lim;
    struct json_error err;
    struct schema_validator *v;
    struct json_stream *js;
    const struct schema_error *errs;
    size_t n;

    (void)state;
    fixture(&f, "{\"type\": \"object\", \"properties\": {\"name\": "
                "{\"maxLength\": 4}, \"tags\": {\"uniqueItems\": true, "
                "\"items\": {\"enum\": [\"a\", \"b\"]}}, \"n\": "
                "{\"multipleOf\": 2}}, \"required\": [\"name\"]}");
    json_limits_default(&lim);
    v = schema_validator_new(f.s, 0, 4, &f.a);
    js = json_stream_new(&lim, schema_validator_token, v, &f.a);
    assert_non_null(js);
    for (size_t i = 0; i < sizeof(body) - 1; i += 3)
        assert_int_equal(json_stream_feed(js, body + i,
                                          MIN(3, sizeof(body) - 1 - i),
                                          &err),
                         AW_OK);
    assert_int_equal(json_stream_finish(js, &err), AW_OK);
    assert_true(schema_validator_done(v, &errs, &n));
    fixture_fini(&f);
}

/* A truncated instance is never valid. */
static void
test_unfinished(void **state)
{
    struct fixture f;
    struct schema_validator *v;
    struct json_token t = {JSON_TOK_OBJECT_BEGIN, SLICE_NULL, 0, 0};
    const struct schema_error *errs;
    size_t n;

    (void)state;
    fixture(&f, "{}");
    v = schema_validator_new(f.s, 0, 4, &f.a);
    assert_int_equal(schema_validator_token(v, &t), AW_OK);
    assert_false(schema_validator_done(v, &errs, &n));
    fixture_fini(&f);
}

static void
test_limit_evals(void **state)
{
    struct fixture f;
    struct schema_validator *v;
    const struct schema_error *errs;
    size_t n;
    int rc;

    (void)state;
    /* Branches fanned out on one value count before any token. */
    fixture(&f, "{\"$defs\": {\"i\": {\"type\": \"integer\"}, \"w\": "
                "{\"allOf\": [{\"$ref\": \"#/$defs/i\"}, {\"$ref\": "
                "\"#/$defs/i\"}, {\"$ref\": \"#/$defs/i\"}]}, \"x\": "
                "{\"allOf\": [{\"$ref\": \"#/$defs/w\"}, {\"$ref\": "
                "\"#/$defs/w\"}, {\"$ref\": \"#/$defs/w\"}]}},"
                "\"anyOf\": [{\"$ref\": \"#/$defs/x\"}, {\"$ref\": "
                "\"#/$defs/x\"}, {\"$ref\": \"#/$defs/x\"}]}");
    v = schema_validator_new(f.s, 0, 4, &f.a);
    assert_int_equal(json_walk(parse_text("1"), schema_validator_token, v),
                     AW_OK);
    assert_true(schema_validator_done(v, &errs, &n));
    v = schema_validator_new(f.s, 0, 4, &f.a);
    schema_validator_set_max_evals(v, 30);
    assert_int_equal(json_walk(parse_text("1"), schema_validator_token, v),
                     AW_TOOBIG);
    assert_false(schema_validator_done(v, &errs, &n));
    assert_int_equal(n, 1);
    assert_string_equal(errs[0].keyword, "limit");
    fixture_fini(&f);
    /* Many items under contains stay within any bound: each item's
     * evaluations are gone when it ends. */
    fixture(&f, "{\"items\": {\"anyOf\": [{\"type\": \"integer\"}, "
                "{\"type\": \"string\"}]}, \"contains\": {\"const\": 7}}");
    v = schema_validator_new(f.s, 0, 4, &f.a);
    schema_validator_set_max_evals(v, 40);
    assert_int_equal(json_walk(parse_text("[1,2,3,4,5,6,7,8,9,10,\"a\"]"),
                               schema_validator_token, v),
                     AW_OK);
    assert_true(schema_validator_done(v, &errs, &n));
    /* A deep instance past the bound is refused, not crashed on. */
    fixture_fini(&f);
    fixture(&f, "{\"items\": {\"$ref\": \"#\"}}");
    v = schema_validator_new(f.s, 0, 4, &f.a);
    schema_validator_set_max_evals(v, 40);
    rc = AW_OK;
    for (unsigned d = 0; d < 60 && rc == AW_OK; d++) {
        struct json_token t = {JSON_TOK_ARRAY_BEGIN, SLICE_NULL, d, 0};

        rc = schema_validator_token(v, &t);
    }
    assert_int_equal(rc, AW_TOOBIG);
    assert_false(schema_validator_done(v, &errs, &n));
    assert_string_equal(errs[n - 1].keyword, "limit");
    fixture_fini(&f);
}

static void
test_limit_nodes(void **state)
{
    struct schema_options o;
    struct schema_set *set = NULL;
    char err[256];

    (void)state;
    schema_options_default(&o);
    o.max_nodes = 3;
    assert_int_equal(schema_compile(parse_text("{\"properties\": {\"a\": {},"
                                               "\"b\": {}, \"c\": {}}}"),
                                    &o, &set, err, sizeof(err)),
                     AW_TOOBIG);
    assert_null(set);
    assert_non_null(strstr(err, "nodes"));
}

/* ------------------------------------------------------------------ */
/* Refusals                                                            */
/* ------------------------------------------------------------------ */

static void
test_refusals(void **state)
{
    static const struct {
        const char *schema;
        enum schema_dialect d;
        const char *where;
    } cases[] = {
        {"{\"properties\": {\"a\": {\"frobnicate\": 1}}}", SCHEMA_2020_12,
         "/properties/a/frobnicate"},
        {"{\"allOf\": [{}, {\"$recursiveRef\": \"#\"}]}", SCHEMA_2020_12,
         "/allOf/1/$recursiveRef"},
        {"{\"const\": 1}", SCHEMA_DRAFT4, "/const"},
        {"{\"nullable\": true}", SCHEMA_2020_12, "/nullable"},
        {"{\"nullable\": true}", SCHEMA_DRAFT4, "/nullable"},
        {"{\"prefixItems\": [{}]}", SCHEMA_OAS30, "/prefixItems"},
        {"{\"type\": \"strin\"}", SCHEMA_2020_12, "/type"},
        {"{\"type\": []}", SCHEMA_2020_12, "/type"},
        {"{\"minLength\": -1}", SCHEMA_2020_12, "/minLength"},
        {"{\"maxItems\": 1.5}", SCHEMA_2020_12, "/maxItems"},
        {"{\"multipleOf\": 0}", SCHEMA_2020_12, "/multipleOf"},
        {"{\"minimum\": \"1\"}", SCHEMA_2020_12, "/minimum"},
        {"{\"pattern\": \"(\"}", SCHEMA_2020_12, "/pattern"},
        {"{\"patternProperties\": {\"[\": {}}}", SCHEMA_2020_12,
         "/patternProperties"},
        {"{\"required\": \"a\"}", SCHEMA_2020_12, "/required"},
        {"{\"required\": [1]}", SCHEMA_2020_12, "/required"},
        {"{\"items\": [{}]}", SCHEMA_2020_12, "/items"},
        {"{\"properties\": {\"a\": 1}}", SCHEMA_2020_12, "/properties/a"},
        {"{\"uniqueItems\": 1}", SCHEMA_2020_12, "/uniqueItems"},
        {"{\"exclusiveMinimum\": true}", SCHEMA_2020_12,
         "/exclusiveMinimum"},
        {"{\"exclusiveMinimum\": 3}", SCHEMA_DRAFT4, "/exclusiveMinimum"},
        {"{\"allOf\": []}", SCHEMA_2020_12, "/allOf"},
        {"{\"$ref\": \"#/$defs/missing\"}", SCHEMA_2020_12, "missing"},
        {"{\"$ref\": \"http://example.com/x.json\"}", SCHEMA_2020_12,
         "http://example.com/x.json"},
        {"{\"properties\": {\"a\": {\"$dynamicRef\": \"#node\"}}}",
         SCHEMA_2020_12, "/properties/a: unresolved reference #node"},
        {"{\"oneOf\": [{\"$ref\": \"#/$defs/a\"}], \"$defs\": {\"a\": {}},"
         "\"discriminator\": {\"propertyName\": \"t\", \"mapping\": "
         "{\"b\": \"#/$defs/b\"}}}", SCHEMA_2020_12, "/discriminator"},
        {"{\"discriminator\": {\"mapping\": {}}}", SCHEMA_OAS30,
         "/discriminator"},
        {"{\"$defs\": {\"a\": {\"anyOf\": [{\"type\": \"null\"},"
         "{\"$ref\": \"#/$defs/a\"}]}}, \"$ref\": \"#/$defs/a\"}",
         SCHEMA_2020_12, "endlessly"},
        {"{\"$ref\": \"#\"}", SCHEMA_DRAFT4, "endlessly"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        refused(cases[i].schema, cases[i].d, AW_INVALID, cases[i].where);
}

/* Draft 4 keeps its own forms: boolean exclusive bounds, items arrays,
 * and $ref hiding its siblings. */
static void
test_draft4_forms(void **state)
{
    struct fixture f;

    (void)state;
    fixture_dialect(&f, "{\"minimum\": 1, \"exclusiveMinimum\": true,"
                        "\"items\": [{\"type\": \"integer\"}],"
                        "\"additionalItems\": false}", SCHEMA_DRAFT4);
    assert_true(check(&f, "2", 0).valid);
    assert_false(check(&f, "1", 0).valid);
    assert_true(check(&f, "[3]", 0).valid);
    assert_false(check(&f, "[3, 4]", 0).valid);
    fixture_fini(&f);
    fixture_dialect(&f, "{\"definitions\": {\"s\": {\"type\": \"string\"}},"
                        "\"properties\": {\"a\": {\"$ref\": "
                        "\"#/definitions/s\", \"type\": \"integer\"}}}",
                    SCHEMA_DRAFT4);
    assert_true(check(&f, "{\"a\": \"x\"}", 0).valid);
    fixture_fini(&f);
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_write_only),
        cmocka_unit_test(test_read_only_through_ref),
        cmocka_unit_test(test_strict),
        cmocka_unit_test(test_strict_all_of),
        cmocka_unit_test(test_filter_keep),
        cmocka_unit_test(test_error_pointers),
        cmocka_unit_test(test_error_combinators),
        cmocka_unit_test(test_error_unevaluated),
        cmocka_unit_test(test_error_bound),
        cmocka_unit_test(test_numbers_exact),
        cmocka_unit_test(test_enum_structured),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_discriminator),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_unfinished),
        cmocka_unit_test(test_limit_evals),
        cmocka_unit_test(test_limit_nodes),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_draft4_forms),
    };
    int rc;

    arena_init(&docs, 1 << 20, ARENA_MAX);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    arena_fini(&docs);
    return rc;
}
