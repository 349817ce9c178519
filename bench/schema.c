/*
 * Cost of schema validation beside parsing alone: 1 KiB JSON bodies fed
 * to json_stream with a callback that does nothing, then with the
 * schema validator as the callback, in a loop.
 *
 *   build/bench/apiward-bench-schema [iterations] [body]
 *
 * Two bodies: "order", the 1024-byte array of line items that
 * bench/post_echo.lua posts, against a tight schema (types, bounds,
 * required members, no unlisted ones, a pattern on each SKU); and
 * "user", a flat 1 KiB object with the keywords an API schema usually
 * has (formats, an enum, a pattern, a nested object, a string array).
 * Prints nanoseconds per body for both and their ratio, best of seven
 * interleaved rounds. With a body name, only that body runs, which is
 * handy under a profiler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contract/contract.h"
#include "json/json.h"

static const char order_schema[] =
    "{\"type\": \"object\", \"required\": [\"tenant\", \"items\"],"
    "\"additionalProperties\": false, \"properties\": {"
    "\"tenant\": {\"type\": \"string\", \"maxLength\": 32},"
    "\"pad\": {\"type\": \"string\"},"
    "\"items\": {\"type\": \"array\", \"maxItems\": 100, \"items\": {"
    "\"type\": \"object\", \"required\": [\"id\", \"sku\", \"qty\"],"
    "\"additionalProperties\": false, \"properties\": {"
    "\"id\": {\"type\": \"integer\", \"minimum\": 1},"
    "\"sku\": {\"type\": \"string\", \"pattern\": \"^SKU-[0-9]{5}$\"},"
    "\"qty\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 99},"
    "\"price\": {\"type\": \"number\", \"minimum\": 0, "
    "\"multipleOf\": 0.01}}}}}}";

static const char user_schema[] =
    "{\"type\": \"object\", \"required\": [\"id\", \"email\", \"name\"],"
    "\"properties\": {"
    "\"id\": {\"type\": \"string\", \"format\": \"uuid\"},"
    "\"email\": {\"type\": \"string\", \"format\": \"email\","
    "\"maxLength\": 254},"
    "\"name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 100},"
    "\"role\": {\"enum\": [\"reader\", \"writer\", \"admin\"]},"
    "\"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 150},"
    "\"created\": {\"type\": \"string\", \"format\": \"date-time\"},"
    "\"phone\": {\"type\": \"string\", \"pattern\": \"^\\\\+[0-9 ]{6,20}$\"},"
    "\"active\": {\"type\": \"boolean\"},"
    "\"tags\": {\"type\": \"array\", \"maxItems\": 20, \"uniqueItems\": true,"
    "\"items\": {\"type\": \"string\", \"maxLength\": 32}},"
    "\"address\": {\"type\": \"object\", \"properties\": {"
    "\"street\": {\"type\": \"string\"}, \"city\": {\"type\": \"string\"},"
    "\"zip\": {\"type\": \"string\", \"pattern\": \"^[0-9]{5}$\"},"
    "\"country\": {\"type\": \"string\", \"minLength\": 2, "
    "\"maxLength\": 2}}, \"required\": [\"city\"]},"
    "\"bio\": {\"type\": \"string\", \"maxLength\": 2000}}}";

/* The body of bench/post_echo.lua, built the same way: 1024 bytes. */
static size_t
order_body(char *buf, size_t cap)
{
    const char *head = "{\"tenant\":\"bench\",\"items\":[";
    const char *tail = "],\"pad\":\"";
    size_t budget = 1024 - strlen(head) - strlen(tail) - 2, used = 0;
    size_t n = (size_t)snprintf(buf, cap, "%s", head);
    char item[96];

    for (int i = 1;; i++) {
        int len = snprintf(item, sizeof(item),
                           "%s{\"id\":%d,\"sku\":\"SKU-%05d\",\"qty\":%d,"
                           "\"price\":%d.%02d}", i > 1 ? "," : "", i, i * 7,
                           i % 9 + 1, i * 3, i % 100);

        if (used + (size_t)len > budget)
            break;
        n += (size_t)snprintf(buf + n, cap - n, "%s", item);
        used += (size_t)len;
    }
    n += (size_t)snprintf(buf + n, cap - n, "%s", tail);
    while (used++ < budget)
        buf[n++] = 'x';
    n += (size_t)snprintf(buf + n, cap - n, "\"}");
    return n;
}

/* A flat user object padded by its bio to 1024 bytes. */
static size_t
user_body(char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap,
        "{\"id\":\"3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b\","
        "\"email\":\"ada.lovelace@example.com\",\"name\":\"Ada Lovelace\","
        "\"role\":\"writer\",\"age\":36,"
        "\"created\":\"2024-03-01T12:30:00Z\",\"phone\":\"+44 20 7946 0958\","
        "\"active\":true,\"tags\":[\"math\",\"engines\",\"poetry\"],"
        "\"address\":{\"street\":\"12 St James's Square\","
        "\"city\":\"London\",\"zip\":\"12345\",\"country\":\"GB\"},"
        "\"bio\":\"");

    while (n < 1022)
        buf[n++] = 'b';
    n += (size_t)snprintf(buf + n, cap - n, "\"}");
    return n;
}

static int
on_token_nothing(void *ctx, const struct json_token *t)
{
    (void)ctx;
    (void)t;
    return AW_OK;
}

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One body through json_stream, validated against s when s is set. */
static bool
run_one(const struct schema *s, const char *body, size_t len,
        struct arena *a)
{
    struct json_limits lim;
    struct json_error err;
    struct schema_validator *v = NULL;
    struct json_stream *js;
    const struct schema_error *errs;
    size_t n;
    bool ok;

    json_limits_default(&lim);
    arena_reset(a);
    if (s != NULL)
        v = schema_validator_new(s, SCHEMA_REQUEST | SCHEMA_STRICT, 8, a);
    js = json_stream_new(&lim, v ? schema_validator_token : on_token_nothing,
                         v, a);
    ok = js != NULL && json_stream_feed(js, body, len, &err) == AW_OK &&
         json_stream_finish(js, &err) == AW_OK;
    if (v != NULL)
        ok = ok && schema_validator_done(v, &errs, &n);
    return ok;
}

/* One round of iters bodies, in ns per body. */
static double
round_ns(const struct schema *s, const char *body, size_t len, long iters,
         struct arena *a)
{
    double t0 = now_ns();

    for (long i = 0; i < iters; i++)
        if (!run_one(s, body, len, a)) {
            fprintf(stderr, "bench body refused\n");
            exit(1);
        }
    return (now_ns() - t0) / (double)iters;
}

/*
 * Best of seven rounds each of parsing alone and of validating, the
 * rounds interleaved so that both see the same load on a shared
 * machine.
 */
static void
measure(const struct schema *s, const char *body, size_t len, long iters,
        double *parse, double *both)
{
    struct arena a;

    arena_init(&a, 64 * 1024, 1 << 20);
    *parse = *both = 1e30;
    for (int r = 0; r < 7; r++) {
        *parse = MIN(*parse, round_ns(NULL, body, len, iters, &a));
        *both = MIN(*both, round_ns(s, body, len, iters, &a));
    }
    arena_fini(&a);
}

static const struct schema *
compile(const char *text, struct arena *a, struct schema_set **set)
{
    struct json_limits lim;
    struct json_value *doc;
    struct json_error jerr;
    struct schema_options o;
    char err[256];

    json_limits_default(&lim);
    schema_options_default(&o);
    if (json_parse(text, strlen(text), &lim, a, &doc, &jerr) != AW_OK ||
        schema_compile(doc, &o, set, err, sizeof(err)) != AW_OK) {
        fprintf(stderr, "bench schema refused: %s\n", err);
        exit(1);
    }
    return schema_at(*set, "", err, sizeof(err));
}

int
main(int argc, char **argv)
{
    long iters = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    static const struct {
        const char *name, *schema;
        size_t (*body)(char *, size_t);
    } cases[] = {
        {"order", order_schema, order_body},
        {"user", user_schema, user_body},
    };
    struct arena docs;

    arena_init(&docs, 64 * 1024, 16 << 20);
    printf("%-6s %6s %12s %14s %6s\n", "body", "bytes", "parse ns",
           "validate ns", "ratio");
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct schema_set *set = NULL;
        const struct schema *s;
        char body[2048];
        size_t len;
        double parse, both;

        if (argc > 2 && strcmp(argv[2], cases[i].name) != 0)
            continue;
        s = compile(cases[i].schema, &docs, &set);
        len = cases[i].body(body, sizeof(body));
        measure(s, body, len, iters, &parse, &both);

        printf("%-6s %6zu %12.0f %14.0f %6.2f\n", cases[i].name, len, parse,
               both, both / parse);
        schema_set_free(set);
    }
    arena_fini(&docs);
    return 0;
}
