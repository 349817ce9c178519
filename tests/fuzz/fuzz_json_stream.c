/*
 * libFuzzer driver for the streaming JSON tokenizer: a document split
 * into chunks must give what it gives whole.
 *
 * The first byte of the input says how many cuts to make (0 to 7), the
 * next two bytes per cut say where (modulo the document's length); the
 * rest is the document. It is streamed whole, then in the chunks those
 * cuts make (each chunk fed from a heap copy of its exact size, so a
 * read past a chunk shows under AddressSanitizer), then, when short, one
 * byte at a time. Every run must deliver the same tokens (kind, depth,
 * offset and text) and end with the same status, reason and offset; the
 * whole run must end as json_parse does. Each token must keep json.h's
 * promises: strings NUL-terminated, depths that nest, offsets inside the
 * document and increasing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ARENA_MAX ((size_t)64 << 20)
#define FUZZ_MAX_CUTS 7
#define FUZZ_BYTEWISE_MAX 4096

/* The tokens of one run, serialized, and what the run checked so far. */
struct fuzz_log {
    char *p;
    size_t len, cap;
    size_t doc_len;
    size_t last_offset;
    unsigned open;             /* containers open, from the tokens */
};

struct fuzz_outcome {
    int rc;
    const char *reason;
    size_t offset;
};

static void
fuzz_put(struct fuzz_log *l, const void *s, size_t n)
{
    if (n == 0)
        return;
    if (l->cap - l->len < n) {
        l->cap = (l->cap + n) * 2;
        l->p = realloc(l->p, l->cap);
        if (l->p == NULL)
            abort();
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

/* Depths must follow the brackets: BEGIN at the depth of its END. */
static void
fuzz_check_depth(struct fuzz_log *l, const struct json_token *t)
{
    switch (t->kind) {
    case JSON_TOK_OBJECT_BEGIN:
    case JSON_TOK_ARRAY_BEGIN:
        if (t->depth != l->open)
            abort();
        l->open++;
        return;
    case JSON_TOK_OBJECT_END:
    case JSON_TOK_ARRAY_END:
        if (l->open == 0 || t->depth != l->open - 1)
            abort();
        l->open--;
        return;
    default:
        if (t->depth != l->open)
            abort();
    }
}

static int
fuzz_on_token(void *ctx, const struct json_token *t)
{
    struct fuzz_log *l = ctx;
    size_t head[4] = {(size_t)t->kind, t->depth, t->offset, t->text.len};

    fuzz_check_depth(l, t);
    if (t->offset >= l->doc_len ||
        (l->len > 0 && t->offset <= l->last_offset))
        abort();
    if ((t->kind == JSON_TOK_NAME || t->kind == JSON_TOK_STRING) &&
        t->text.ptr[t->text.len] != '\0')
        abort();
    if (t->kind == JSON_TOK_NUMBER &&
        (t->text.len == 0 || t->offset + t->text.len > l->doc_len))
        abort();
    l->last_offset = t->offset;
    fuzz_put(l, head, sizeof(head));
    fuzz_put(l, t->text.ptr, t->text.len);
    return AW_OK;
}

/*
 * Stream doc[0..len) cut at cuts[0..ncuts) (sorted), or byte by byte
 * when ncuts is SIZE_MAX.
 */
static void
fuzz_stream(const char *doc, size_t len, const size_t *cuts, size_t ncuts,
            struct fuzz_log *log, struct fuzz_outcome *out)
{
    struct json_limits lim;
    struct json_error err = {NULL, 0};
    struct json_stream *s;
    struct arena a;
    size_t from = 0;
    int rc = AW_OK;

    json_limits_default(&lim);
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    s = json_stream_new(&lim, fuzz_on_token, log, &a);
    if (s == NULL)
        abort();
    for (size_t i = 0; rc == AW_OK && from < len; i++) {
        size_t to = ncuts == SIZE_MAX ? from + 1 : i < ncuts ? cuts[i] : len;
        char *piece = malloc(to - from + 1);

        if (piece == NULL)
            abort();
        memcpy(piece, doc + from, to - from);
        rc = json_stream_feed(s, piece, to - from, &err);
        free(piece);
        from = to;
    }
    if (rc == AW_OK)
        rc = json_stream_finish(s, &err);
    *out = (struct fuzz_outcome){rc, rc == AW_OK ? NULL : err.reason,
                                 rc == AW_OK ? 0 : err.offset};
    arena_fini(&a);
}

static void
fuzz_same(const struct fuzz_log *a, const struct fuzz_outcome *oa,
          const struct fuzz_log *b, const struct fuzz_outcome *ob)
{
    if (oa->rc != ob->rc || oa->offset != ob->offset ||
        (oa->reason == NULL) != (ob->reason == NULL) ||
        (oa->reason != NULL && strcmp(oa->reason, ob->reason) != 0))
        abort();
    if (a->len != b->len || (a->len > 0 && memcmp(a->p, b->p, a->len) != 0))
        abort();
}

/* The whole run ends as json_parse does. */
static void
fuzz_check_parse(const char *doc, size_t len, const struct fuzz_outcome *o)
{
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;
    struct arena a;
    int rc;

    json_limits_default(&lim);
    arena_init(&a, 4096, FUZZ_ARENA_MAX);
    rc = json_parse(doc, len, &lim, &a, &v, &err);
    if (rc != o->rc || (rc != AW_OK && (strcmp(err.reason, o->reason) != 0 ||
                                        err.offset != o->offset)))
        abort();
    arena_fini(&a);
}

static int
fuzz_cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

/* The cuts the input's first bytes ask for; returns how many. */
static size_t
fuzz_cuts(const uint8_t *data, size_t size, size_t *cuts, size_t *skip)
{
    size_t n = size > 0 ? data[0] % (FUZZ_MAX_CUTS + 1) : 0;
    size_t len;

    if (size < 1 + 2 * n)
        n = 0;
    *skip = size > 0 ? 1 + 2 * n : 0;
    len = size - *skip;
    for (size_t i = 0; i < n; i++)
        cuts[i] = len == 0 ? 0 : ((size_t)data[1 + 2 * i] << 8 |
                                  data[2 + 2 * i]) % len;
    qsort(cuts, n, sizeof(*cuts), fuzz_cmp_size);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cuts[FUZZ_MAX_CUTS], skip;
    size_t ncuts = fuzz_cuts(data, size, cuts, &skip);
    const char *doc = (const char *)data + skip;
    size_t len = size - skip;
    struct fuzz_log whole = {.doc_len = len}, other = {.doc_len = len};
    struct fuzz_outcome ow, oo;

    fuzz_stream(doc, len, NULL, 0, &whole, &ow);
    fuzz_check_parse(doc, len, &ow);
    if (ow.rc == AW_OK && whole.open != 0)
        abort();
    fuzz_stream(doc, len, cuts, ncuts, &other, &oo);
    fuzz_same(&whole, &ow, &other, &oo);
    if (len <= FUZZ_BYTEWISE_MAX) {
        other = (struct fuzz_log){.p = other.p, .cap = other.cap,
                                  .doc_len = len};
        fuzz_stream(doc, len, NULL, SIZE_MAX, &other, &oo);
        fuzz_same(&whole, &ow, &other, &oo);
    }
    free(whole.p);
    free(other.p);
    return 0;
}
