/*
 * Unit tests for the OpenAPI loader: the published examples in YAML and
 * JSON load to the same tree and the same operations, crAPI loads, the
 * OpenAPI 3.1 pass/fail fixtures against the meta-schema, YAML reading
 * (core schema, aliases and their bound, duplicate keys), references to
 * local files and their confinement, matching (base path, literal over
 * parameter, 404 and 405, parameters inside a segment), every parameter
 * style with good and bad values, media types and response selection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "contract/contract.h"

#define OAS TESTDATA "/openapi"
#define LEARN OAS "/learn.openapis.org/examples/"
#define M(m) (1u << (HTTP_##m))

/* Load a document from memory with default options, or fail the test. */
static struct openapi *
load_ok(const char *doc, const struct openapi_options *opt)
{
    struct openapi_options dflt;
    struct openapi *api = NULL;
    char err[512];
    int rc;

    openapi_options_default(&dflt);
    rc = openapi_load_mem(doc, strlen(doc), NULL, opt ? opt : &dflt, &api,
                          err, sizeof(err));
    if (rc != AW_OK)
        fail_msg("load failed (%d): %s", rc, err);
    return api;
}

/* Load expecting refusal; the message must contain want. */
static void
load_refused(const char *doc, const char *dir, const char *want)
{
    struct openapi_options o;
    struct openapi *api = (struct openapi *)1;
    char err[512];
    int rc;

    openapi_options_default(&o);
    o.max_alias_nodes = 1000;
    rc = openapi_load_mem(doc, strlen(doc), dir, &o, &api, err,
                          sizeof(err));
    if (rc == AW_OK)
        fail_msg("loaded, expected refusal with \"%s\"", want);
    assert_null(api);
    if (strstr(err, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, want);
}

/*
 * Deep equality of two trees (numbers by value and integer flag); with
 * subset, a's objects may lack members of b's.
 */
static bool
tree_cmp(const struct json_value *a, const struct json_value *b,
         bool subset)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JSON_STRING:
        return slice_eq(a->u.str, b->u.str);
    case JSON_NUMBER:
        return a->u.num.d == b->u.num.d &&
               a->u.num.is_int == b->u.num.is_int;
    case JSON_ARRAY:
        if (a->u.arr.n != b->u.arr.n)
            return false;
        for (size_t i = 0; i < a->u.arr.n; i++)
            if (!tree_cmp(a->u.arr.items[i], b->u.arr.items[i], subset))
                return false;
        return true;
    case JSON_OBJECT:
        if (subset ? a->u.obj.n > b->u.obj.n : a->u.obj.n != b->u.obj.n)
            return false;
        for (size_t i = 0; i < a->u.obj.n; i++) {
            const struct json_value *o = json_get(b,
                                                  a->u.obj.members[i].name.ptr);

            if (o == NULL || !tree_cmp(a->u.obj.members[i].value, o,
                                       subset))
                return false;
        }
        return true;
    default:
        return true;
    }
}

static struct openapi *
load_file(const char *path)
{
    struct openapi_options o;
    struct openapi *api = NULL;
    char err[512];

    openapi_options_default(&o);
    if (openapi_load(path, &o, &api, err, sizeof(err)) != AW_OK)
        fail_msg("%s: %s", path, err);
    return api;
}

/*
 * Every published example loads, and its YAML and JSON forms agree:
 * the same tree and the same operations. One pair differs upstream:
 * tictactoe.json lacks what tictactoe.yaml added later (links, a
 * progressUrl header, a 202 response, callbacks, webhooks), so there
 * the JSON tree must be contained in the YAML one.
 */
static void
test_learn_examples(void **state)
{
    static const char *const names[] = {
        "v3.0/api-with-examples", "v3.0/callback-example",
        "v3.0/link-example",      "v3.0/petstore-expanded",
        "v3.0/petstore",          "v3.0/uspto",
        "v3.1/non-oauth-scopes",  "v3.1/webhook-example",
        "v3.1/tictactoe",
    };
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char py[256], pj[256];
        struct openapi *y, *j;

        snprintf(py, sizeof(py), LEARN "%s.yaml", names[i]);
        snprintf(pj, sizeof(pj), LEARN "%s.json", names[i]);
        y = load_file(py);
        j = load_file(pj);
        if (!tree_cmp(openapi_document(j), openapi_document(y),
                      strstr(names[i], "tictactoe") != NULL))
            fail_msg("%s: YAML and JSON trees differ", names[i]);
        assert_int_equal(openapi_op_count(y), openapi_op_count(j));
        assert_int_equal(openapi_dialect(y), openapi_dialect(j));
        for (size_t k = 0; k < openapi_op_count(y); k++) {
            const struct openapi_op *a = openapi_op_at(y, k);
            const struct openapi_op *b = openapi_op_at(j, k);

            assert_string_equal(openapi_op_id(a), openapi_op_id(b));
            assert_string_equal(openapi_op_template(a),
                                openapi_op_template(b));
            assert_int_equal(openapi_op_method(a), openapi_op_method(b));
            assert_int_equal(openapi_op_deprecated(a),
                             openapi_op_deprecated(b));
        }
        openapi_free(y);
        openapi_free(j);
    }
}

/* The petstore's operations, as a reader of the file would list them. */
static void
test_petstore_model(void **state)
{
    struct openapi *api = load_file(LEARN "v3.0/petstore.yaml");
    struct openapi_match m;
    (void)state;

    assert_int_equal(openapi_op_count(api), 3);
    assert_int_equal(openapi_dialect(api), SCHEMA_OAS30);
    assert_string_equal(openapi_op_id(openapi_op_at(api, 0)), "listPets");
    assert_string_equal(openapi_op_id(openapi_op_at(api, 2)), "showPetById");
    /* servers[0] is http://petstore.swagger.io/v1 */
    assert_int_equal(openapi_match(api, HTTP_GET, SLICE_LIT("/v1/pets/7"),
                                   &m),
                     OPENAPI_FOUND);
    assert_string_equal(openapi_op_id(m.op), "showPetById");
    assert_int_equal(m.n, 1);
    assert_string_equal(m.name[0], "petId");
    assert_true(slice_eq(m.value[0], SLICE_LIT("7")));
    assert_int_equal(openapi_match(api, HTTP_GET, SLICE_LIT("/pets/7"), &m),
                     OPENAPI_NOT_FOUND);
    openapi_free(api);
}

/* crAPI: a large real-world document. */
static void
test_crapi(void **state)
{
    struct openapi *api = load_file(OAS "/crAPI/openapi-spec/"
                                        "crapi-openapi-spec.json");
    (void)state;

    assert_true(openapi_op_count(api) >= 40);
    openapi_free(api);
}

/* YAML core schema scalars, as JSON would have them. */
static void
test_core_schema(void **state)
{
    static const char doc[] =
        "a: yes\nb: 0x1F\nc: 0o17\nd: +12\ne: 012\nf: 1.5e3\ng: ~\n"
        "h: True\ni: 'it''s'\nj: \"x\\ty\"\n200: k\nl: .5\nm: 3.\n"
        "n: \"42\"\no: null\n";
    struct openapi_options o;
    struct json_value *v;
    struct arena a;
    char err[256];
    int64_t i;
    (void)state;

    openapi_options_default(&o);
    arena_init(&a, 4096, 1 << 20);
    assert_int_equal(openapi_parse(doc, strlen(doc), &o, &a, &v, err,
                                   sizeof(err)),
                     AW_OK);
    assert_true(slice_eq(json_str(json_get(v, "a")), SLICE_LIT("yes")));
    assert_true(json_int(json_get(v, "b"), &i) && i == 31);
    assert_true(json_int(json_get(v, "c"), &i) && i == 15);
    assert_true(json_int(json_get(v, "d"), &i) && i == 12);
    assert_true(json_int(json_get(v, "e"), &i) && i == 12);
    assert_true(json_get(v, "f")->u.num.d == 1500.0);
    assert_int_equal(json_get(v, "g")->type, JSON_NULL);
    assert_int_equal(json_get(v, "h")->type, JSON_TRUE);
    assert_true(slice_eq(json_str(json_get(v, "i")), SLICE_LIT("it's")));
    assert_true(slice_eq(json_str(json_get(v, "j")), SLICE_LIT("x\ty")));
    assert_true(slice_eq(json_str(json_get(v, "200")), SLICE_LIT("k")));
    assert_true(json_get(v, "l")->u.num.d == 0.5);
    assert_true(json_get(v, "m")->u.num.d == 3.0);
    assert_int_equal(json_get(v, "n")->type, JSON_STRING);
    assert_int_equal(json_get(v, "o")->type, JSON_NULL);
    arena_fini(&a);
}

/*
 * CR, LF and CRLF are the same line break; a double-quoted scalar with
 * a mix of them (which libfyaml 0.7 leaked on) folds as YAML says.
 */
static void
test_line_breaks(void **state)
{
    static const char doc[] = "a: 1\r\nb: \"x\r\r\n y\"\r";
    static const char mixed[] = "\"e\r\r\n\n\n\r\n\n\r\"";
    struct openapi_options o;
    struct json_value *v;
    struct arena a;
    char err[256];
    int64_t i;
    (void)state;

    openapi_options_default(&o);
    arena_init(&a, 4096, 1 << 20);
    if (openapi_parse(doc, strlen(doc), &o, &a, &v, err, sizeof(err)) !=
        AW_OK)
        fail_msg("%s", err);
    assert_true(json_int(json_get(v, "a"), &i) && i == 1);
    assert_true(slice_eq(json_str(json_get(v, "b")), SLICE_LIT("x\ny")));
    assert_int_equal(openapi_parse(mixed, strlen(mixed), &o, &a, &v, err,
                                   sizeof(err)),
                     AW_OK);
    assert_int_equal(v->type, JSON_STRING);
    arena_fini(&a);
}

/* Parse expecting refusal with rc and a message containing want. */
static void
parse_refused(const char *doc, int want_rc, const char *want)
{
    struct openapi_options o;
    struct json_value *v = NULL;
    struct arena a;
    char err[256];

    openapi_options_default(&o);
    o.max_alias_nodes = 10000;
    arena_init(&a, 4096, 64 << 20);
    assert_int_equal(openapi_parse(doc, strlen(doc), &o, &a, &v, err,
                                   sizeof(err)),
                     want_rc);
    assert_null(v);
    if (strstr(err, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err, want);
    arena_fini(&a);
}

/* What the reader refuses, each with a message that says why. */
static void
test_yaml_refusals(void **state)
{
    static const char laughs[] =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    (void)state;

    parse_refused(laughs, AW_TOOBIG, "aliases expand to more than");
    parse_refused("a: 1\nb: 2\na: 3\n", AW_INVALID, "duplicate key \"a\"");
    parse_refused("{\"a\": 1, \"a\": 2}", AW_INVALID, "json.duplicate_key");
    parse_refused("a: &x [1, *x]\n", AW_INVALID, "contains it");
    parse_refused("a: *nope\n", AW_INVALID, "unknown anchor");
    parse_refused("a: !!str 1\n", AW_INVALID, "tags");
    parse_refused("a: .inf\n", AW_INVALID, "NaN");
    parse_refused("? [a]\n: 1\n", AW_INVALID, "key must be a string");
    parse_refused("a: 1\n---\nb: 2\n", AW_INVALID, "more than one");
    parse_refused("a: \xff\n", AW_INVALID, "UTF-8");
    parse_refused("a: [1\n", AW_INVALID, "syntax");
    parse_refused("", AW_INVALID, "empty");
}

/* Aliases within the bound are expanded (shared) and read normally. */
static void
test_yaml_aliases(void **state)
{
    static const char doc[] =
        "openapi: 3.0.3\n"
        "info: {title: t, version: '1'}\n"
        "paths:\n"
        "  /a:\n"
        "    get: &op\n"
        "      parameters:\n"
        "        - {name: n, in: query, schema: {type: integer}}\n"
        "      responses: {'200': {description: ok}}\n"
        "  /b:\n"
        "    get: *op\n";
    struct openapi *api = load_ok(doc, NULL);
    (void)state;

    assert_int_equal(openapi_op_count(api), 2);
    openapi_free(api);
}

/*
 * The document of the matching and style tests, in two pieces: ISO C
 * promises string literals of 4095 bytes only.
 */
static const char style_doc_paths[] =
    "openapi: 3.0.3\n"
    "info: {title: styles, version: '1'}\n"
    "servers:\n"
    "  - url: https://api.example.com/v1/\n"
    "  - url: https://other.example.com/v2\n"
    "components:\n"
    "  parameters:\n"
    "    Limit: {name: limit, in: query, schema: {type: integer}}\n"
    "  schemas:\n"
    "    Ids: {type: array, items: {type: integer}}\n"
    "paths:\n"
    "  /users/me:\n"
    "    get: {operationId: me, responses: {'200': {description: ok}}}\n"
    "  /users/{id}:\n"
    "    parameters:\n"
    "      - {name: id, in: path, required: true, schema: {type: integer}}\n"
    "    get: {operationId: getUser, responses: {'200': {description: ok}}}\n"
    "    delete:\n"
    "      operationId: delUser\n"
    "      deprecated: true\n"
    "      responses: {'204': {description: gone}}\n"
    "  /files/{name}.{ext}:\n"
    "    get:\n"
    "      operationId: getFile\n"
    "      parameters:\n"
    "        - {name: name, in: path, required: true, schema: {type: string}}\n"
    "        - {name: ext, in: path, required: true, schema: {type: string}}\n"
    "      responses: {default: {description: any}}\n"
    ;

static const char style_doc_more[] =
    "  /search:\n"
    "    get:\n"
    "      operationId: search\n"
    "      parameters:\n"
    "        - {name: q, in: query, required: true, schema: {type: string}}\n"
    "        - $ref: '#/components/parameters/Limit'\n"
    "        - {name: ids, in: query, schema: {$ref: "
    "'#/components/schemas/Ids'}}\n"
    "        - name: tags\n"
    "          in: query\n"
    "          explode: false\n"
    "          schema: {type: array, items: {type: integer}}\n"
    "        - name: sp\n"
    "          in: query\n"
    "          style: spaceDelimited\n"
    "          explode: false\n"
    "          schema: {type: array, items: {type: integer}}\n"
    "        - name: pp\n"
    "          in: query\n"
    "          style: pipeDelimited\n"
    "          explode: false\n"
    "          schema: {type: array, items: {type: integer}}\n"
    "        - name: color\n"
    "          in: query\n"
    "          style: deepObject\n"
    "          schema:\n"
    "            type: object\n"
    "            properties: {R: {type: integer}, G: {type: integer}}\n"
    "        - name: pt\n"
    "          in: query\n"
    "          schema:\n"
    "            type: object\n"
    "            properties: {x: {type: integer}, y: {type: integer}}\n"
    "        - {name: flag, in: query, schema: {type: boolean}}\n"
    "        - {name: e, in: query, allowEmptyValue: true, "
    "schema: {type: string}}\n"
    "        - name: filter\n"
    "          in: query\n"
    "          content: {application/json: {schema: {type: object}}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /label/{v}:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: v, in: path, required: true, style: label,\n"
    "           schema: {type: array, items: {type: integer}}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /labelx/{v}:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: v, in: path, required: true, style: label,\n"
    "           explode: true,\n"
    "           schema: {type: array, items: {type: integer}}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /matrix/{v}:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: v, in: path, required: true, style: matrix,\n"
    "           schema: {type: integer}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /matrixa/{v}:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: v, in: path, required: true, style: matrix,\n"
    "           explode: true,\n"
    "           schema: {type: array, items: {type: integer}}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /matrixo/{v}:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: v, in: path, required: true, style: matrix,\n"
    "           explode: true, schema: {type: object}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /simpleo/{v}:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: v, in: path, required: true, schema: {type: object}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /headers:\n"
    "    get:\n"
    "      parameters:\n"
    "        - {name: X-Rate, in: header, required: true,\n"
    "           schema: {type: integer}}\n"
    "        - {name: X-List, in: header,\n"
    "           schema: {type: array, items: {type: integer}}}\n"
    "        - {name: Authorization, in: header, required: true}\n"
    "        - {name: session, in: cookie, required: true,\n"
    "           schema: {type: string}}\n"
    "        - {name: ids, in: cookie,\n"
    "           schema: {type: array, items: {type: integer}}}\n"
    "      responses: {'200': {description: ok}}\n"
    "  /body:\n"
    "    post:\n"
    "      requestBody:\n"
    "        required: true\n"
    "        content:\n"
    "          application/json: {schema: {type: object}}\n"
    "          Text/*: {}\n"
    "      responses:\n"
    "        '200':\n"
    "          description: ok\n"
    "          content: {application/json: {schema: {type: object}}}\n"
    "        2XX:\n"
    "          description: other success\n"
    "          content: {'*/*': {schema: {type: string}}}\n"
    "        default:\n"
    "          description: problem\n"
    "          content: {application/problem+json: {schema: {}}}\n"
    "    put:\n"
    "      requestBody:\n"
    "        content: {'*/*': {schema: {type: string}}}\n"
    "      responses: {'400': {description: bad}}\n";

/* The whole style document. */
static const char *
style_doc(void)
{
    static char doc[16384];

    snprintf(doc, sizeof(doc), "%s%s", style_doc_paths, style_doc_more);
    return doc;
}

/* Match a method and path; the result, and *m. */
static enum openapi_result
match(const struct openapi *api, enum http_method method, const char *path,
      struct openapi_match *m)
{
    return openapi_match(api, method, (struct slice){path, strlen(path)}, m);
}

static void
test_match(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    struct openapi_match m;
    (void)state;

    assert_int_equal(match(api, HTTP_GET, "/v1/users/me", &m),
                     OPENAPI_FOUND);
    assert_string_equal(openapi_op_id(m.op), "me");
    assert_int_equal(m.n, 0);
    assert_int_equal(match(api, HTTP_GET, "/v1/users/42", &m),
                     OPENAPI_FOUND);
    assert_string_equal(openapi_op_id(m.op), "getUser");
    assert_true(slice_eq(m.value[0], SLICE_LIT("42")));
    assert_int_equal(match(api, HTTP_POST, "/v1/users/42", &m),
                     OPENAPI_BAD_METHOD);
    assert_int_equal(m.allowed, M(GET) | M(DELETE));
    assert_null(m.op);
    assert_int_equal(match(api, HTTP_DELETE, "/v1/users/42", &m),
                     OPENAPI_FOUND);
    assert_true(openapi_op_deprecated(m.op));
    assert_string_equal(openapi_op_template(m.op), "/users/{id}");
    assert_int_equal(match(api, HTTP_GET, "/v1/users", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v1/users/42/", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/users/42", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v2/users/42", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v1x/users/42", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v1", &m), OPENAPI_NOT_FOUND);
    /* Parameters inside one segment: earlier ones take what they can. */
    assert_int_equal(match(api, HTTP_GET, "/v1/files/a.b.c", &m),
                     OPENAPI_FOUND);
    assert_string_equal(m.name[0], "name");
    assert_true(slice_eq(m.value[0], SLICE_LIT("a.b")));
    assert_true(slice_eq(m.value[1], SLICE_LIT("c")));
    assert_int_equal(match(api, HTTP_GET, "/v1/files/abc", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v1/files/abc.", &m),
                     OPENAPI_NOT_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v1/files/.abc", &m),
                     OPENAPI_NOT_FOUND);
    openapi_free(api);
}

/* The base path option overrides servers[0]. */
static void
test_base_path_option(void **state)
{
    struct openapi_options o;
    struct openapi *api;
    struct openapi_match m;
    (void)state;

    openapi_options_default(&o);
    o.base_path = "/api/";
    api = load_ok(style_doc(), &o);
    assert_int_equal(match(api, HTTP_GET, "/api/users/me", &m),
                     OPENAPI_FOUND);
    assert_int_equal(match(api, HTTP_GET, "/v1/users/me", &m),
                     OPENAPI_NOT_FOUND);
    openapi_free(api);
    o.base_path = "";
    api = load_ok(style_doc(), &o);
    assert_int_equal(match(api, HTTP_GET, "/users/me", &m), OPENAPI_FOUND);
    openapi_free(api);
}

/*
 * Check a request's parameters: the reason code of the refusal, or
 * "ok". headers is "Name: value\n" lines.
 */
static const char *
check_with(const struct openapi *api, const char *path, const char *query,
           const char *headers, struct openapi_problem *p)
{
    static char copy[1024];
    struct http_header h[8];
    struct openapi_request r = {0};
    struct openapi_match m;
    struct arena a;
    unsigned nh = 0;
    const char *result;
    char *line;

    snprintf(copy, sizeof(copy), "%s", headers != NULL ? headers : "");
    for (line = copy; *line != '\0' && nh < 8;) {
        char *colon = strchr(line, ':'), *nl = strchr(line, '\n');

        h[nh].name = (struct slice){line, (size_t)(colon - line)};
        h[nh++].value = (struct slice){colon + 2, (size_t)(nl - colon - 2)};
        line = nl + 1;
    }
    if (match(api, HTTP_GET, path, &m) != OPENAPI_FOUND)
        fail_msg("%s not found", path);
    r.match = &m;
    r.query = query != NULL ? (struct slice){query, strlen(query)}
                            : SLICE_NULL;
    r.headers = h;
    r.nheaders = nh;
    arena_init(&a, 4096, 1 << 20);
    memset(p, 0, sizeof(*p));
    result = openapi_check_params(&r, &a, p) == AW_OK ? "ok" : p->reason;
    if (p->pointer != NULL) { /* it lives in the arena */
        static char pointer[256];

        snprintf(pointer, sizeof(pointer), "%s", p->pointer);
        p->pointer = pointer;
    }
    arena_fini(&a);
    return result;
}

static const char *
check(const struct openapi *api, const char *path, const char *query,
      const char *headers)
{
    struct openapi_problem p;

    return check_with(api, path, query, headers, &p);
}

static void
test_query_styles(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    struct openapi_problem p;
    const char *s = "/v1/search";
    (void)state;

    assert_string_equal(check(api, s, "q=x", NULL), "ok");
    assert_string_equal(check(api, s, NULL, NULL),
                        "contract.missing_parameter");
    assert_string_equal(check_with(api, s, "q=x&limit=abc", NULL, &p),
                        "contract.invalid_parameter");
    assert_string_equal(p.name, "limit");
    assert_string_equal(p.in, "query");
    assert_string_equal(p.keyword, "type");
    assert_int_equal(p.status, 400);
    assert_string_equal(check(api, s, "q=x&limit=10", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&q=y", NULL),
                        "contract.duplicate_parameter");
    assert_string_equal(check(api, s, "q=", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&e=", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&zzz=1", NULL),
                        "contract.unknown_parameter");
    assert_string_equal(check(api, s, "q=x&q%zz=1", NULL),
                        "contract.invalid_parameter");
    /* form, exploded (the default) and not */
    assert_string_equal(check(api, s, "q=x&ids=1&ids=2", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&ids=1&ids=a", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&tags=1,2,3", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&tags=1,b", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&pt=1&x=1&y=2", NULL),
                        "contract.unknown_parameter");
    assert_string_equal(check(api, s, "q=x&x=1&y=2", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&x=a", NULL),
                        "contract.invalid_parameter");
    /* spaceDelimited, pipeDelimited */
    assert_string_equal(check(api, s, "q=x&sp=1%202+3", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&sp=1%20b", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&pp=1%7C2", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&pp=1%7Cb", NULL),
                        "contract.invalid_parameter");
    /* deepObject */
    assert_string_equal(check(api, s, "q=x&color[R]=1&color%5BG%5D=2",
                              NULL),
                        "ok");
    assert_string_equal(check(api, s, "q=x&color[R]=red", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&color[R][x]=1", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&color[R]=1&color[R]=2", NULL),
                        "contract.duplicate_parameter");
    /* booleans are typed; "yes" is not one */
    assert_string_equal(check(api, s, "q=x&flag=true", NULL), "ok");
    assert_string_equal(check(api, s, "q=x&flag=yes", NULL),
                        "contract.invalid_parameter");
    /* a JSON-encoded parameter */
    assert_string_equal(check(api, s, "q=x&filter=%7B%22a%22%3A1%7D", NULL),
                        "ok");
    assert_string_equal(check(api, s, "q=x&filter=%7B", NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, s, "q=x&filter=1", NULL),
                        "contract.invalid_parameter");
    openapi_free(api);
}

static void
test_unknown_query_allowed(void **state)
{
    struct openapi_options o;
    struct openapi *api;
    (void)state;

    openapi_options_default(&o);
    o.allow_unknown_query = true;
    api = load_ok(style_doc(), &o);
    assert_string_equal(check(api, "/v1/search", "q=x&zzz=1", NULL), "ok");
    openapi_free(api);
}

static void
test_path_styles(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    struct openapi_problem p;
    (void)state;

    assert_string_equal(check(api, "/v1/users/42", NULL, NULL), "ok");
    assert_string_equal(check_with(api, "/v1/users/abc", NULL, NULL, &p),
                        "contract.invalid_parameter");
    assert_string_equal(p.name, "id");
    assert_string_equal(p.in, "path");
    assert_string_equal(check(api, "/v1/label/.1,2", NULL, NULL), "ok");
    assert_string_equal(check(api, "/v1/label/1,2", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/label/.1,x", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/labelx/.1.2", NULL, NULL), "ok");
    assert_string_equal(check(api, "/v1/labelx/.1.x", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/matrix/;v=5", NULL, NULL), "ok");
    assert_string_equal(check(api, "/v1/matrix/;v=x", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/matrix/;w=5", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/matrixa/;v=1;v=2", NULL, NULL),
                        "ok");
    assert_string_equal(check(api, "/v1/matrixa/;v=1;v=b", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/matrixo/;R=1;G=2", NULL, NULL),
                        "ok");
    assert_string_equal(check(api, "/v1/matrixo/;R=1;G", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/simpleo/R,1,G,2", NULL, NULL),
                        "ok");
    assert_string_equal(check(api, "/v1/simpleo/R,1,G", NULL, NULL),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, "/v1/simpleo/R,1,R,2", NULL, NULL),
                        "contract.duplicate_parameter");
    assert_string_equal(check(api, "/v1/users/4%zz", NULL, NULL),
                        "contract.invalid_parameter");
    openapi_free(api);
}

static void
test_header_cookie_styles(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    const char *h = "/v1/headers";
    (void)state;

    /* Authorization is the protocol's: listed or not, never required. */
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\n"
                                             "Cookie: session=s1\n"),
                        "ok");
    assert_string_equal(check(api, h, NULL, "Cookie: session=s1\n"),
                        "contract.missing_parameter");
    assert_string_equal(check(api, h, NULL, "x-rate: five\n"
                                             "Cookie: session=s1\n"),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\nX-Rate: 6\n"
                                             "Cookie: session=s1\n"),
                        "contract.duplicate_parameter");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\nX-List: 1, 2\n"
                                             "X-List: 3\n"
                                             "Cookie: session=s1\n"),
                        "ok");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\nX-List: 1, b\n"
                                             "Cookie: session=s1\n"),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\n"),
                        "contract.missing_parameter");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\n"
                                             "Cookie: a=1; session=s; "
                                             "ids=1,2\n"),
                        "ok");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\n"
                                             "Cookie: session=s; ids=1,x\n"),
                        "contract.invalid_parameter");
    assert_string_equal(check(api, h, NULL, "X-Rate: 5\n"
                                             "Cookie: session=s\n"
                                             "Cookie: session=t\n"),
                        "contract.duplicate_parameter");
    openapi_free(api);
}

/* The problem never holds the value that was refused. */
static void
test_problem_holds_no_value(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    struct openapi_problem p;
    (void)state;

    check_with(api, "/v1/search", "q=x&limit=SECRETVALUE", NULL, &p);
    assert_string_equal(p.reason, "contract.invalid_parameter");
    assert_null(strstr(p.detail, "SECRETVALUE"));
    assert_null(strstr(p.name, "SECRETVALUE"));
    assert_true(p.pointer == NULL || strstr(p.pointer, "SECRET") == NULL);
    openapi_free(api);
}

/* The body decision: required, unexpected, media types. */
static void
test_request_body(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    struct openapi_problem p;
    struct openapi_match m;
    struct openapi_body b;
    (void)state;

    assert_int_equal(match(api, HTTP_POST, "/v1/body", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("application/json;"
                                                          " charset=utf-8"),
                                          true, &b, &p),
                     AW_OK);
    assert_true(b.json);
    assert_non_null(b.schema);
    assert_int_equal(b.flags, SCHEMA_REQUEST);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("APPLICATION/JSON"),
                                          true, &b, &p),
                     AW_OK);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("text/plain"),
                                          true, &b, &p),
                     AW_OK);
    assert_false(b.json);
    assert_null(b.schema);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("image/png"), true,
                                          &b, &p),
                     AW_INVALID);
    assert_string_equal(p.reason, "contract.unsupported_media_type");
    assert_int_equal(p.status, 415);
    assert_int_equal(openapi_request_body(m.op, SLICE_NULL, true, &b, &p),
                     AW_INVALID);
    assert_int_equal(p.status, 415);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("json"), true, &b,
                                          &p),
                     AW_INVALID);
    assert_int_equal(openapi_request_body(m.op, SLICE_NULL, false, &b, &p),
                     AW_INVALID);
    assert_string_equal(p.reason, "contract.missing_body");
    /* any media type, a +json one validated as JSON */
    assert_int_equal(match(api, HTTP_PUT, "/v1/body", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_request_body(m.op,
                                          SLICE_LIT("application/merge-patch"
                                                    "+json"),
                                          true, &b, &p),
                     AW_OK);
    assert_true(b.json);
    assert_non_null(b.schema);
    assert_int_equal(openapi_request_body(m.op, SLICE_NULL, false, &b, &p),
                     AW_DONE);
    /* an operation without a body */
    assert_int_equal(match(api, HTTP_GET, "/v1/users/1", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("text/plain"),
                                          true, &b, &p),
                     AW_INVALID);
    assert_string_equal(p.reason, "contract.unexpected_body");
    openapi_free(api);
}

static void
test_response_schema(void **state)
{
    struct openapi *api = load_ok(style_doc(), NULL);
    const struct schema *ok, *s;
    struct openapi_match m;
    (void)state;

    assert_int_equal(match(api, HTTP_POST, "/v1/body", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_response_schema(m.op, 200,
                                             SLICE_LIT("application/json"),
                                             &ok),
                     AW_OK);
    assert_non_null(ok);
    assert_int_equal(openapi_response_schema(m.op, 201,
                                             SLICE_LIT("application/json"),
                                             &s),
                     AW_OK);
    assert_non_null(s);
    assert_ptr_not_equal(s, ok);
    assert_int_equal(openapi_response_schema(m.op, 201,
                                             SLICE_LIT("text/plain"), &s),
                     AW_OK);
    assert_null(s); /* not JSON: nothing to check */
    assert_int_equal(openapi_response_schema(m.op, 500,
                                             SLICE_LIT("application/"
                                                       "problem+json"),
                                             &s),
                     AW_OK);
    assert_non_null(s);
    assert_int_equal(openapi_response_schema(m.op, 500,
                                             SLICE_LIT("text/html"), &s),
                     AW_INVALID);
    assert_int_equal(openapi_response_schema(m.op, 200,
                                             SLICE_LIT("text/html"), &s),
                     AW_INVALID);
    assert_int_equal(match(api, HTTP_PUT, "/v1/body", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_response_schema(m.op, 200,
                                             SLICE_LIT("application/json"),
                                             &s),
                     AW_DECLINED);
    assert_int_equal(openapi_response_schema(m.op, 400, SLICE_NULL, &s),
                     AW_OK);
    assert_int_equal(openapi_response_schema(m.op, 400,
                                             SLICE_LIT("text/plain"), &s),
                     AW_INVALID);
    openapi_free(api);
}

static const char strict_doc[] =
    "openapi: 3.1.0\n"
    "info: {title: strict, version: '1'}\n"
    "paths:\n"
    "  /users:\n"
    "    post:\n"
    "      parameters:\n"
    "        - {name: n, in: query, schema: {type: [integer, 'null']}}\n"
    "      requestBody:\n"
    "        required: true\n"
    "        content:\n"
    "          application/json:\n"
    "            schema: {$ref: '#/components/schemas/User'}\n"
    "      responses: {'201': {description: made}}\n"
    "components:\n"
    "  schemas:\n"
    "    User:\n"
    "      type: object\n"
    "      properties:\n"
    "        id: {type: integer, readOnly: true}\n"
    "        name: {type: string}\n";

/* Validate a JSON body as the gateway would, with what b says. */
static bool
body_valid(const struct openapi_body *b, const char *json,
           const char **keyword)
{
    const struct schema_error *errs;
    struct schema_validator *v;
    struct json_value *tree;
    struct json_error je;
    struct arena a;
    size_t n;
    bool ok;

    arena_init(&a, 4096, 1 << 20);
    assert_int_equal(json_parse(json, strlen(json), b->json_limits, &a,
                                &tree, &je),
                     AW_OK);
    v = schema_validator_new(b->schema, b->flags, b->max_errors, &a);
    assert_non_null(v);
    assert_int_equal(json_walk(tree, schema_validator_token, v), AW_OK);
    ok = schema_validator_done(v, &errs, &n);
    *keyword = ok ? NULL : n > 0 ? errs[0].keyword : "?";
    arena_fini(&a);
    return ok;
}

/*
 * A 3.1 document: type arrays in parameters; bodies with readOnly
 * members refused, and undeclared ones too when strict.
 */
static void
test_strict_body(void **state)
{
    struct openapi_options o;
    struct openapi *api;
    struct openapi_problem p;
    struct openapi_match m;
    struct openapi_body b;
    const char *kw;
    (void)state;

    openapi_options_default(&o);
    o.strict = true;
    api = load_ok(strict_doc, &o);
    assert_int_equal(openapi_dialect(api), SCHEMA_2020_12);
    assert_int_equal(match(api, HTTP_POST, "/users", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("application/json"),
                                          true, &b, &p),
                     AW_OK);
    assert_int_equal(b.flags, SCHEMA_REQUEST | SCHEMA_STRICT);
    assert_true(body_valid(&b, "{\"name\": \"x\"}", &kw));
    assert_false(body_valid(&b, "{\"name\": \"x\", \"role\": \"admin\"}",
                            &kw));
    assert_false(body_valid(&b, "{\"id\": 1, \"name\": \"x\"}", &kw));
    assert_string_equal(kw, "readOnly");
    assert_false(body_valid(&b, "{\"name\": 5}", &kw));
    assert_string_equal(kw, "type");
    openapi_body_problem(&(struct schema_error){"/name", "type"}, 1, &p);
    assert_string_equal(p.reason, "contract.invalid_body");
    assert_int_equal(p.status, 422);
    assert_string_equal(p.pointer, "/name");
    openapi_free(api);
}

static void
test_type_arrays(void **state)
{
    struct openapi *api = load_ok(strict_doc, NULL);
    struct openapi_match m;
    struct openapi_request r = {.match = &m};
    struct openapi_problem p;
    struct arena a;
    (void)state;

    arena_init(&a, 4096, 1 << 20);
    assert_int_equal(match(api, HTTP_POST, "/users", &m), OPENAPI_FOUND);
    r.query = SLICE_LIT("n=null");
    assert_int_equal(openapi_check_params(&r, &a, &p), AW_OK);
    r.query = SLICE_LIT("n=12");
    assert_int_equal(openapi_check_params(&r, &a, &p), AW_OK);
    r.query = SLICE_LIT("n=twelve");
    assert_int_equal(openapi_check_params(&r, &a, &p), AW_INVALID);
    arena_fini(&a);
    openapi_free(api);
}

#define HEAD "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
#define OK200 "responses: {'200': {description: ok}}"

/* Documents refused at load, each with the reason in the message. */
static void
test_load_refusals(void **state)
{
    (void)state;
    load_refused("swagger: '2.0'\n", NULL, "not an OpenAPI 3.0.x");
    load_refused("openapi: 3.2.0\n", NULL, "not an OpenAPI 3.0.x");
    load_refused("openapi: 3.1.0\njsonSchemaDialect: https://x.example/d\n",
                 NULL, "#/jsonSchemaDialect: only the default dialect");
    load_refused("[1]", NULL, "not an object");
    load_refused(HEAD "paths:\n  /a/{id}:\n    get: {" OK200 "}\n", NULL,
                 "template parameter \"id\" is not described");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - {name: id, in: path, required: true}\n"
                      "      " OK200 "\n",
                 NULL, "path parameter \"id\" is not in the template");
    load_refused(HEAD "paths:\n  /a/{x}{y}:\n    get: {" OK200 "}\n", NULL,
                 "side by side");
    load_refused(HEAD "paths:\n  /a/{x:\n    get: {" OK200 "}\n", NULL,
                 "without '}'");
    load_refused(HEAD "paths:\n"
                      "  /f/{n}.json:\n    get:\n      parameters:\n"
                      "        - {name: n, in: path, required: true}\n"
                      "      " OK200 "\n"
                      "  /f/{id}:\n    get:\n      parameters:\n"
                      "        - {name: id, in: path, required: true}\n"
                      "      " OK200 "\n",
                 NULL, "templates that cannot be matched");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - {name: q, in: query, style: matrix}\n"
                      "      " OK200 "\n",
                 NULL, "style \"matrix\" is not one of those allowed");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - {name: q, in: body}\n"
                      "      " OK200 "\n",
                 NULL, "\"in\" must be");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: '#/components/parameters/P'\n"
                      "      " OK200 "\n"
                      "components:\n  parameters:\n"
                      "    P: {$ref: '#/components/parameters/Q'}\n"
                      "    Q: {$ref: '#/components/parameters/P'}\n",
                 NULL, "cycle");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: '#/components/parameters/None'\n"
                      "      " OK200 "\n",
                 NULL, "does not resolve");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: 'other.yaml#/P'\n"
                      "      " OK200 "\n",
                 NULL, "read from memory");
    load_refused(HEAD "paths:\n  /a:\n    get: {responses: {'999': {}}}\n",
                 NULL, "not a status code");
    load_refused(HEAD "paths:\n  a:\n    get: {" OK200 "}\n", NULL,
                 "must start with '/'");
    /* A schema keyword the compiler refuses fails the load. */
    load_refused(HEAD "paths: {}\ncomponents:\n  schemas:\n"
                      "    Bad: {type: string, notAKeyword: 1}\n",
                 NULL, "notAKeyword");
}

/* Documents a meta-schema may reference, by their "$id". */
struct registry {
    const char *uri[16];
    const struct json_value *doc[16];
    unsigned n;
};

static const struct json_value *
on_fetch(void *ctx, const char *uri)
{
    struct registry *r = ctx;

    for (unsigned i = 0; i < r->n; i++)
        if (strcmp(r->uri[i], uri) == 0)
            return r->doc[i];
    return NULL;
}

/* Read and parse a file into arena a; NULL when it cannot be. */
static struct json_value *
parse_file(const char *path, struct arena *a)
{
    struct openapi_options o;
    struct json_value *v = NULL;
    char err[256], *buf;
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        fail_msg("%s: cannot open", path);
    buf = arena_alloc(a, 1 << 20);
    assert_non_null(buf);
    n = fread(buf, 1, 1 << 20, f);
    fclose(f);
    openapi_options_default(&o);
    if (openapi_parse(buf, n, &o, a, &v, err, sizeof(err)) != AW_OK)
        fail_msg("%s: %s", path, err);
    return v;
}

static void
registry_add(struct registry *r, const char *path, struct arena *a)
{
    struct json_value *v = parse_file(path, a);

    assert_true(r->n < 16);
    r->uri[r->n] = json_str(json_get(v, "$id")).ptr;
    assert_non_null(r->uri[r->n]);
    r->doc[r->n++] = v;
}

/* Validate a parsed document against a compiled schema. */
static bool
valid_against(const struct schema *s, const struct json_value *doc)
{
    const struct schema_error *errs;
    struct schema_validator *v;
    struct arena a;
    size_t n;
    bool ok;

    arena_init(&a, 4096, 64 << 20);
    v = schema_validator_new(s, 0, 4, &a);
    assert_non_null(v);
    assert_int_equal(json_walk(doc, schema_validator_token, v), AW_OK);
    ok = schema_validator_done(v, &errs, &n);
    arena_fini(&a);
    return ok;
}

/* Validate every file of a fixture folder; each must give want. */
static void
validate_folder(const struct schema *s, const char *folder, bool want)
{
    static const char *const pass[] = {
        "callback-object-examples", "comp_pathitems",
        "components-object-example", "example-object-examples",
        "header-object-examples", "info-object-example", "info_summary",
        "json_schema_dialect", "license_identifier", "link-object-examples",
        "media-type-examples", "mega", "minimal_comp", "minimal_hooks",
        "minimal_paths", "non-oauth-scopes", "operation-object-example",
        "parameter-object-examples",
        "parameter-object-query-allowReserved",
        "path-item-object-example", "path_item_servers_parameters",
        "path_no_response", "path_var_empty_pathitem",
        "paths-object-example", "request-body-examples",
        "response-object-examples",
        "schema-object-deprecated-example-keyword", "schema",
        "security-scheme-object-examples", "servers",
        "specification-extensions", "style-defaults",
        "tag-object-example", "valid_schema_types", "webhook-example",
    };
    static const char *const fail[] = {
        "example-examples", "header-object-allowReserved",
        "invalid_schema_types", "link-object-no-body", "no_containers",
        "parameter-object-cookie-form-allowReserved",
        "parameter-object-header-allowReserved",
        "parameter-object-path-allowReserved", "server_enum_empty",
        "servers", "unknown_container",
    };
    const char *const *names = want ? pass : fail;
    size_t count = want ? ARRAY_LEN(pass) : ARRAY_LEN(fail);

    for (size_t i = 0; i < count; i++) {
        char path[512];
        struct arena a;

        snprintf(path, sizeof(path), "%s/%s.yaml", folder, names[i]);
        arena_init(&a, 4096, 64 << 20);
        if (valid_against(s, parse_file(path, &a)) != want)
            fail_msg("%s: expected %s", path, want ? "valid" : "invalid");
        arena_fini(&a);
    }
}

/*
 * The OpenAPI 3.1 fixtures: pass/ documents validate against
 * schema-base.yaml, fail/ documents do not. The meta-schema needs
 * $dynamicRef; a compiler without it is reported and the test skipped.
 */
static void
test_oas31_fixtures(void **state)
{
    static const char *const files[] = {
        OAS "/OpenAPI-Specification/v3.1/schemas/schema.yaml",
        OAS "/OpenAPI-Specification/v3.1/schemas/dialect.yaml",
        OAS "/OpenAPI-Specification/v3.1/schemas/meta.yaml",
        TESTDATA "/json-schema-metaschemas/draft/2020-12/schema.json",
    };
    static const char *const meta[] = {
        "applicator", "content", "core", "format-annotation",
        "meta-data", "unevaluated", "validation",
    };
    struct registry reg = {.n = 0};
    struct schema_options so;
    struct schema_set *set = NULL;
    const struct schema *s;
    struct json_value *base;
    struct arena a;
    char err[512];
    (void)state;

    arena_init(&a, 1 << 16, 256 << 20);
    for (size_t i = 0; i < ARRAY_LEN(files); i++)
        registry_add(&reg, files[i], &a);
    for (size_t i = 0; i < ARRAY_LEN(meta); i++) {
        char path[1024];
        int n = snprintf(path, sizeof(path),
                         TESTDATA "/json-schema-metaschemas/draft/2020-12/"
                                  "meta/%s.json",
                         meta[i]);

        assert_true(n > 0 && (size_t)n < sizeof(path));
        registry_add(&reg, path, &a);
    }
    base = parse_file(OAS "/OpenAPI-Specification/v3.1/schemas/"
                          "schema-base.yaml",
                      &a);
    schema_options_default(&so);
    so.dialect = SCHEMA_2020_12;
    so.base_uri = json_str(json_get(base, "$id")).ptr;
    so.fetch = on_fetch;
    so.fetch_ctx = &reg;
    if (schema_compile(base, &so, &set, err, sizeof(err)) != AW_OK) {
        print_message("skipped: the 3.1 meta-schema does not compile "
                      "(%s)\n", err);
        arena_fini(&a);
        skip();
    }
    s = schema_at(set, "", err, sizeof(err));
    assert_non_null(s);
    validate_folder(s, OAS "/OpenAPI-Specification/v3.1/pass", true);
    validate_folder(s, OAS "/OpenAPI-Specification/v3.1/fail", false);
    schema_set_free(set);
    arena_fini(&a);
}

/*
 * The 3.0 documents (the examples in YAML and JSON, crAPI) as read here
 * validate against the OpenAPI 3.0 meta-schema, and a document with
 * "servers" as an object does not: YAML typing agrees with JSON's.
 */
static void
test_oas30_metaschema(void **state)
{
    static const char *const docs[] = {
        LEARN "v3.0/api-with-examples.yaml", LEARN "v3.0/callback-example.yaml",
        LEARN "v3.0/link-example.yaml",     LEARN "v3.0/petstore-expanded.yaml",
        LEARN "v3.0/petstore.yaml",         LEARN "v3.0/uspto.yaml",
        LEARN "v3.0/uspto.json",
        OAS "/crAPI/openapi-spec/crapi-openapi-spec.json",
    };
    static const char bad[] = HEAD "servers: {url: /v1}\npaths: {}\n";
    struct openapi_options o;
    struct schema_options so;
    struct schema_set *set = NULL;
    const struct schema *s;
    struct json_value *v;
    struct arena a;
    char err[512];
    (void)state;

    arena_init(&a, 1 << 16, 256 << 20);
    schema_options_default(&so);
    so.dialect = SCHEMA_DRAFT4;
    v = parse_file(OAS "/OpenAPI-Specification/v3.0/schema.yaml", &a);
    if (schema_compile(v, &so, &set, err, sizeof(err)) != AW_OK)
        fail_msg("the 3.0 meta-schema: %s", err);
    s = schema_at(set, "", err, sizeof(err));
    assert_non_null(s);
    for (size_t i = 0; i < ARRAY_LEN(docs); i++)
        if (!valid_against(s, parse_file(docs[i], &a)))
            fail_msg("%s: not valid against the 3.0 meta-schema", docs[i]);
    openapi_options_default(&o);
    assert_int_equal(openapi_parse(bad, strlen(bad), &o, &a, &v, err,
                                   sizeof(err)),
                     AW_OK);
    assert_false(valid_against(s, v));
    schema_set_free(set);
    arena_fini(&a);
}

/* A schema that refers to itself is fine (a cycle of non-schemas is not). */
static void
test_recursive_schema(void **state)
{
    static const char doc[] =
        HEAD "paths:\n  /t:\n    post:\n      requestBody:\n"
             "        content:\n          application/json:\n"
             "            schema: {$ref: '#/components/schemas/Tree'}\n"
             "      " OK200 "\n"
             "components:\n  schemas:\n    Tree:\n      type: object\n"
             "      properties:\n        kids:\n          type: array\n"
             "          items: {$ref: '#/components/schemas/Tree'}\n";
    struct openapi *api = load_ok(doc, NULL);
    struct openapi_problem p;
    struct openapi_match m;
    struct openapi_body b;
    const char *kw;
    (void)state;

    assert_int_equal(match(api, HTTP_POST, "/t", &m), OPENAPI_FOUND);
    assert_int_equal(openapi_request_body(m.op, SLICE_LIT("application/json"),
                                          true, &b, &p),
                     AW_OK);
    assert_true(body_valid(&b, "{\"kids\": [{\"kids\": [{}]}]}", &kw));
    assert_false(body_valid(&b, "{\"kids\": [{\"kids\": [1]}]}", &kw));
    assert_string_equal(kw, "type");
    openapi_free(api);
}

/* Write a file under dir. */
static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    FILE *f;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < sizeof(path));
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* References to files of the document's folder, and escapes from it. */
static void
test_file_refs(void **state)
{
    char root[] = "/tmp/test_openapi_XXXXXX", dir[600], outside[600];
    char path[700], err[512];
    struct openapi_options o;
    struct openapi *api = NULL;
    struct openapi_match m;
    (void)state;

    assert_non_null(mkdtemp(root));
    snprintf(dir, sizeof(dir), "%s/spec", root);
    snprintf(outside, sizeof(outside), "%s/secret.yaml", root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/common", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    write_file(root, "secret.yaml", "P: {name: s, in: query}\n");
    write_file(dir, "common/params.yaml",
               "Limit: {name: limit, in: query, schema: {type: integer}}\n"
               "Chain: {$ref: 'params.yaml#/Limit'}\n");
    write_file(dir, "common/schemas.yaml",
               "Id: {type: integer, minimum: 1}\n"
               "Ids: {type: array, items: {$ref: '#/Id'}}\n");
    write_file(dir, "main.yaml",
               HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                    "        - $ref: 'common/params.yaml#/Chain'\n"
                    "        - name: id\n          in: query\n"
                    "          schema: {$ref: 'common/schemas.yaml#/Ids'}\n"
                    "      " OK200 "\n");
    snprintf(path, sizeof(path), "%s/main.yaml", dir);
    openapi_options_default(&o);
    assert_int_equal(openapi_load(path, &o, &api, err, sizeof(err)), AW_OK);
    assert_int_equal(match(api, HTTP_GET, "/a", &m), OPENAPI_FOUND);
    assert_string_equal(check(api, "/a", "limit=5", NULL), "ok");
    assert_string_equal(check(api, "/a", "limit=x", NULL),
                        "contract.invalid_parameter");
    /* a schema in another file, referring to its neighbour there */
    assert_string_equal(check(api, "/a", "id=1&id=2", NULL), "ok");
    assert_string_equal(check(api, "/a", "id=1&id=0", NULL),
                        "contract.invalid_parameter");
    openapi_free(api);

    /* The same text, read from memory with the folder given. */
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: '../secret.yaml#/P'\n"
                      "      " OK200 "\n",
                 dir, "leaves the document's folder");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: '../../../../../../etc/passwd'\n"
                      "      " OK200 "\n",
                 dir, "leaves the document's folder");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: '/etc/passwd'\n      " OK200 "\n",
                 dir, "only relative references");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: 'https://evil.example/p.yaml#/P'\n"
                      "      " OK200 "\n",
                 dir, "only relative references");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - {name: x, in: query,\n"
                      "           schema: {$ref: '../secret.yaml#/P'}}\n"
                      "      " OK200 "\n",
                 dir, "leaves the document's folder");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - {name: x, in: query,\n"
                      "           schema: {$ref: 'https://evil.example/s'}}\n"
                      "      " OK200 "\n",
                 dir, "outside the document's folder");
    snprintf(path, sizeof(path), "%s/link.yaml", dir);
    assert_int_equal(symlink(outside, path), 0);
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: 'link.yaml#/P'\n      " OK200 "\n",
                 dir, "leaves the document's folder");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: 'common/none.yaml#/P'\n"
                      "      " OK200 "\n",
                 dir, "does not exist");
    load_refused(HEAD "paths:\n  /a:\n    get:\n      parameters:\n"
                      "        - $ref: 'common#/P'\n      " OK200 "\n",
                 dir, "cannot be read");

    snprintf(path, sizeof(path), "rm -rf '%s'", root);
    assert_int_equal(system(path), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learn_examples),
        cmocka_unit_test(test_petstore_model),
        cmocka_unit_test(test_crapi),
        cmocka_unit_test(test_core_schema),
        cmocka_unit_test(test_line_breaks),
        cmocka_unit_test(test_yaml_refusals),
        cmocka_unit_test(test_yaml_aliases),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_base_path_option),
        cmocka_unit_test(test_query_styles),
        cmocka_unit_test(test_unknown_query_allowed),
        cmocka_unit_test(test_path_styles),
        cmocka_unit_test(test_header_cookie_styles),
        cmocka_unit_test(test_problem_holds_no_value),
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_response_schema),
        cmocka_unit_test(test_strict_body),
        cmocka_unit_test(test_type_arrays),
        cmocka_unit_test(test_load_refusals),
        cmocka_unit_test(test_recursive_schema),
        cmocka_unit_test(test_file_refs),
        cmocka_unit_test(test_oas30_metaschema),
        cmocka_unit_test(test_oas31_fixtures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
