/*
 * libFuzzer driver for the JSON token writer (the response filter's
 * output).
 *
 * A document json_stream accepts is written back from its tokens twice:
 * whole, and with every member whose name has an odd length dropped.
 * Both outputs must parse again; the whole one must give the same
 * tokens as the input, and the filtered one must hold no member with a
 * name of odd length. Nothing the writer emits can be read differently
 * from what the tokens said.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ARENA_MAX ((size_t)64 << 20)
#define FUZZ_OUT_MAX ((size_t)1 << 20)

/* A running hash of the token stream, kind, depth and text. */
struct trace {
    uint64_t h;
    size_t n;
    bool odd_name;             /* a member name of odd length was seen */
};

static int
on_trace(void *ctx, const struct json_token *t)
{
    struct trace *tr = ctx;
    uint64_t h = tr->h ^ ((uint64_t)t->kind << 8 | t->depth);

    for (size_t i = 0; i < t->text.len; i++)
        h = (h ^ (unsigned char)t->text.ptr[i]) * 0x100000001b3ULL;
    tr->h = (h ^ t->text.len) * 0x100000001b3ULL;
    tr->n++;
    if (t->kind == JSON_TOK_NAME && t->text.len % 2 == 1)
        tr->odd_name = true;
    return AW_OK;
}

/* The writer, dropping members of odd-length names when asked to. */
struct filter {
    struct json_writer w;
    bool drop_odd;
};

static int
on_filter(void *ctx, const struct json_token *t)
{
    struct filter *f = ctx;

    if (f->drop_odd && !f->w.dropping && t->kind == JSON_TOK_NAME &&
        t->text.len % 2 == 1) {
        json_writer_drop(&f->w, t);
        return AW_OK;
    }
    return json_writer_token(&f->w, t);
}

static int
stream(const char *buf, size_t len, json_token_fn fn, void *ctx)
{
    struct json_limits lim;
    struct json_error err;
    struct json_stream *s;
    struct arena a;
    int rc;

    json_limits_default(&lim);
    lim.max_bytes = FUZZ_OUT_MAX;
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    s = json_stream_new(&lim, fn, ctx, &a);
    rc = s != NULL ? json_stream_feed(s, buf, len, &err) : AW_NOMEM;
    if (rc == AW_OK)
        rc = json_stream_finish(s, &err);
    arena_fini(&a);
    return rc;
}

/* Write the input back (dropping or not) and check the result. */
static void
write_back(const char *in, size_t len, const struct trace *orig,
           bool drop_odd, char *mem)
{
    struct buf out = {mem, 0, 0, FUZZ_OUT_MAX};
    struct filter f = {.drop_odd = drop_odd};
    struct trace again = {0, 0, false};

    json_writer_init(&f.w, &out);
    if (stream(in, len, on_filter, &f) != AW_OK)
        return;                 /* the output bound, or nesting */
    if (stream(out.data, out.end, on_trace, &again) != AW_OK)
        abort();
    if (!drop_odd && (again.h != orig->h || again.n != orig->n))
        abort();
    if (drop_odd && again.odd_name)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace orig = {0, 0, false};
    char *mem;

    if (size > FUZZ_OUT_MAX ||
        stream((const char *)data, size, on_trace, &orig) != AW_OK)
        return 0;
    mem = malloc(FUZZ_OUT_MAX);
    if (mem == NULL)
        return 0;
    write_back((const char *)data, size, &orig, false, mem);
    write_back((const char *)data, size, &orig, true, mem);
    free(mem);
    return 0;
}
