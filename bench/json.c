/*
 * Parse-only throughput of JSON request bodies, in MB/s on one core.
 *
 *   apiward-bench-json [seconds-per-cell] [engine]
 *
 * With an engine name (or part of one), only the engines that match run,
 * which is handy under a profiler.
 * Four bodies are generated here, deterministically (a fixed-seed
 * generator, so every run and every machine parses the same bytes): a
 * JWT payload (about 300 bytes), a 1 KiB API request object, a 64 KiB
 * array of records and a 1 MiB nested document. Each engine of the
 * table parses each body in a loop; a cell is the best of three rounds
 * of at least the given time (default 0.3 s). memchr over the same bytes
 * is the ceiling no parser reaches.
 *
 * The engines are rows of a table of functions. An engine whose library
 * was not installed when this tool was built prints "not installed"; a
 * later one (a schema validator over the token stream, say) is one more
 * row: a name, an optional setup and a parse function.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json.h"
#include "json_peers.h"

#define BENCH_ARENA_FIRST ((size_t)1 << 20)
#define BENCH_ARENA_MAX ((size_t)256 << 20)

/* ------------------------------------------------------------------ */
/* The bodies                                                          */
/* ------------------------------------------------------------------ */

/* A growable text; the bench owns the process, so failure exits. */
struct text {
    char *p;
    size_t len, cap;
};

static void
put(struct text *t, const char *s, size_t n)
{
    if (t->cap - t->len < n + 1) {
        t->cap = (t->cap + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (t->p == NULL) {
            perror("apiward-bench-json");
            exit(1);
        }
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void
putf(struct text *t, const char *fmt, ...) AW_PRINTF(2, 3);

static void
putf(struct text *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(t, tmp, (size_t)MIN((size_t)n, sizeof(tmp) - 1));
}

/* A fixed-seed generator (xorshift64), the same on every machine. */
static uint64_t seed = 0x9e3779b97f4a7c15u;

static unsigned
rnd(unsigned n)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (unsigned)(seed % n);
}

static const char *const words[] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    "hotel", "india", "juliett", "kilo", "lima", "mike", "november",
};

static const char *
word(void)
{
    return words[rnd(ARRAY_LEN(words))];
}

/* One user record as an API would list it. */
static void
record(struct text *t, unsigned id)
{
    putf(t, "{\"id\":%u,\"name\":\"%s %s\",\"email\":\"%s.%u@example.com\","
         "\"active\":%s,\"score\":%u.%02u,\"roles\":[\"%s\",\"%s\"],"
         "\"created\":\"2026-%02u-%02uT%02u:%02u:00Z\",\"manager\":null,"
         "\"bio\":\"Works on \\\"%s\\\" in Z\\u00fcrich\\n\"}",
         id, word(), word(), word(), id, rnd(2) ? "true" : "false",
         rnd(1000), rnd(100), word(), word(), 1 + rnd(12), 1 + rnd(28),
         rnd(24), rnd(60), word());
}

static struct text
body_jwt(void)
{
    struct text t = {0};

    putf(&t, "{\"iss\":\"https://issuer.example.com/\",\"sub\":\"user-%u\","
         "\"aud\":[\"api://default\",\"https://api.example.com\"],"
         "\"exp\":1767225600,\"iat\":1767222000,\"nbf\":1767222000,"
         "\"jti\":\"5f0c2a9e8b7d4c3a2f1e0d9c8b7a6f5e\","
         "\"scope\":\"orders:read orders:write profile\","
         "\"email\":\"jane.doe@example.com\",\"email_verified\":true,"
         "\"tenant\":\"acme\",\"roles\":[\"reader\",\"buyer\"],"
         "\"azp\":\"web-frontend\"}", rnd(1000000));
    return t;
}

/* An order as a client would POST it: about 1 KiB. */
static struct text
body_1k(void)
{
    struct text t = {0};

    putf(&t, "{\"order_id\":\"ord-%u\",\"customer\":{\"id\":%u,"
         "\"email\":\"%s@example.com\",\"name\":\"%s %s\"},\"items\":[",
         rnd(1000000), rnd(100000), word(), word(), word());
    for (unsigned i = 0; i < 11; i++)
        putf(&t, "%s{\"sku\":\"SKU-%05u\",\"qty\":%u,\"price\":%u.%02u,"
             "\"gift\":%s}", i ? "," : "", rnd(100000), 1 + rnd(9),
             rnd(500), rnd(100), rnd(2) ? "true" : "false");
    putf(&t, "],\"shipping\":{\"street\":\"%u %s Street\",\"city\":"
         "\"%s\",\"zip\":\"%05u\",\"country\":\"CH\"},\"coupon\":null,"
         "\"notes\":\"Leave at the door, \\\"ring twice\\\"\","
         "\"tags\":[\"%s\",\"%s\",\"%s\"],\"total\":%u.%02u}",
         rnd(200), word(), word(), rnd(100000), word(), word(), word(),
         rnd(5000), rnd(100));
    return t;
}

static struct text
body_64k(void)
{
    struct text t = {0};

    put(&t, "[", 1);
    for (unsigned id = 1; t.len < 64 * 1024 - 300; id++) {
        if (id > 1)
            put(&t, ",", 1);
        record(&t, id);
    }
    put(&t, "]", 1);
    return t;
}

/* Departments of teams of people, each with a small nested profile. */
static struct text
body_1m(void)
{
    struct text t = {0};

    put(&t, "{\"departments\":[", 16);
    for (unsigned d = 0; t.len < 1024 * 1024 - 8192; d++) {
        putf(&t, "%s{\"name\":\"dept-%u\",\"teams\":[", d ? "," : "", d);
        for (unsigned k = 0; k < 8; k++) {
            putf(&t, "%s{\"team\":\"%s\",\"meta\":{\"cost\":{\"center\":"
                 "%u,\"budget\":{\"q1\":%u,\"q2\":%u}}},\"people\":[",
                 k ? "," : "", word(), rnd(9999), rnd(100000),
                 rnd(100000));
            for (unsigned p = 0; p < 6; p++) {
                if (p > 0)
                    put(&t, ",", 1);
                record(&t, d * 100 + k * 10 + p);
            }
            put(&t, "]}", 2);
        }
        put(&t, "]}", 2);
    }
    put(&t, "]}", 2);
    return t;
}

/* ------------------------------------------------------------------ */
/* The engines                                                         */
/* ------------------------------------------------------------------ */

static struct arena bench_arena;
static struct json_limits bench_limits;

/* Each parse function returns 0 when the body was accepted. */
static int
parse_tree(const char *p, size_t n)
{
    struct json_value *v;
    struct json_error err;
    int rc;

    arena_reset(&bench_arena);
    rc = json_parse(p, n, &bench_limits, &bench_arena, &v, &err);
    return rc == AW_OK ? 0 : -1;
}

/* The token callback of the stream engine: nothing to do. */
static int
on_token_none(void *ctx, const struct json_token *t)
{
    (void)ctx;
    (void)t;
    return AW_OK;
}

/* json_stream over the whole body as one chunk, tokens to a no-op. */
static int
parse_stream(const char *p, size_t n)
{
    struct json_stream *s;
    struct json_error err;

    arena_reset(&bench_arena);
    s = json_stream_new(&bench_limits, on_token_none, NULL, &bench_arena);
    if (s == NULL || json_stream_feed(s, p, n, &err) != AW_OK ||
        json_stream_finish(s, &err) != AW_OK)
        return -1;
    return 0;
}

/* The same in chunks of 1460 bytes, as a body arrives from the network. */
static int
parse_stream_chunks(const char *p, size_t n)
{
    struct json_stream *s;
    struct json_error err;

    arena_reset(&bench_arena);
    s = json_stream_new(&bench_limits, on_token_none, NULL, &bench_arena);
    if (s == NULL)
        return -1;
    for (size_t off = 0; off < n; off += 1460)
        if (json_stream_feed(s, p + off, MIN(1460, n - off), &err) != AW_OK)
            return -1;
    return json_stream_finish(s, &err) == AW_OK ? 0 : -1;
}

static int
parse_memchr(const char *p, size_t n)
{
    /* A byte no body holds, so the whole body is scanned. */
    return memchr(p, 0x01, n) == NULL ? 0 : -1;
}

#ifndef HAVE_JANSSON
#define peer_jansson_parse NULL
#endif
#ifndef HAVE_JSONC
#define peer_jsonc_parse NULL
#endif
#ifndef HAVE_CJSON
#define peer_cjson_parse NULL
#endif

/*
 * The engines, one row each. To add one (the schema validator reading
 * the stream's tokens, say), write its parse function and add a row;
 * setup, when it needs one, goes in engines_init.
 */
struct engine {
    const char *name;
    int (*parse)(const char *p, size_t n);   /* NULL: not installed */
};

static const struct engine engines[] = {
    {"memchr (ceiling)", parse_memchr},
    {"apiward json_stream", parse_stream},
    {"apiward json_stream, 1460 B chunks", parse_stream_chunks},
    {"apiward json_parse (tree)", parse_tree},
    {"jansson (tree)", peer_jansson_parse},
    {"json-c (tree)", peer_jsonc_parse},
    {"cJSON (tree)", peer_cjson_parse},
};

static void
engines_init(void)
{
    json_limits_default(&bench_limits);
    bench_limits.max_bytes = 4 << 20;
    arena_init(&bench_arena, BENCH_ARENA_FIRST, BENCH_ARENA_MAX);
#ifdef HAVE_JSONC
    peer_jsonc_init();
#endif
}

static void
engines_fini(void)
{
    arena_fini(&bench_arena);
#ifdef HAVE_JSONC
    peer_jsonc_fini();
#endif
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

/*
 * The thread's CPU time, not the wall clock: on a shared machine the
 * time the thread spent waiting for a core does not count against the
 * parser.
 */
static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * MB/s of e on body b: best of three rounds of at least secs each. The
 * clock is read once per batch, and batches grow until one takes a
 * millisecond, so that reading the clock costs nothing next to parsing.
 */
static double
measure(const struct engine *e, const struct text *b, double secs)
{
    double best = 0;
    unsigned long batch = 1;

    for (int round = 0; round < 3; round++) {
        double start = now_s(), el, last = start;
        unsigned long iters = 0;

        do {
            double now;

            for (unsigned long i = 0; i < batch; i++)
                if (e->parse(b->p, b->len) != 0)
                    return -1;
            iters += batch;
            now = now_s();
            if (now - last < 1e-3)
                batch *= 2;
            last = now;
            el = now - start;
        } while (el < secs);
        best = MAX(best, (double)b->len * (double)iters / el / 1e6);
    }
    return best;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    const char *only = argc > 2 ? argv[2] : "";
    struct text bodies[] = {body_jwt(), body_1k(), body_64k(), body_1m()};
    static const char *const names[] = {"JWT payload", "1 KiB request",
                                        "64 KiB records", "1 MiB nested"};

    engines_init();
    printf("| engine |");
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++)
        printf(" %s (%zu B) |", names[i], bodies[i].len);
    printf("\n| --- |");
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++)
        printf(" ---: |");
    printf("\n");
    for (size_t e = 0; e < ARRAY_LEN(engines); e++) {
        if (strstr(engines[e].name, only) == NULL)
            continue;
        printf("| %s |", engines[e].name);
        for (size_t i = 0; i < ARRAY_LEN(bodies); i++) {
            double mbs = engines[e].parse == NULL
                             ? 0 : measure(&engines[e], &bodies[i], secs);

            if (engines[e].parse == NULL)
                printf(" not installed |");
            else if (mbs < 0)
                printf(" refused |");
            else
                printf(" %.0f |", mbs);
            fflush(stdout);
        }
        printf("\n");
    }
    engines_fini();
    for (size_t i = 0; i < ARRAY_LEN(bodies); i++)
        free(bodies[i].p);
    return 0;
}
