/*
 * Arena allocator: chunks chained newest first, bump allocation inside
 * the newest chunk, a hard bound on the bytes held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

struct arena_chunk {
    struct arena_chunk *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(16) char mem[];
};

#define ALIGN16(n) (((n) + 15) & ~(size_t)15)

void
arena_init(struct arena *a, size_t first_size, size_t max)
{
    a->head = NULL;
    a->lent = NULL;
    a->first_size = first_size;
    a->total = 0;
    a->max = max;
}

void
arena_init_lent(struct arena *a, void *mem, size_t size, size_t max)
{
    struct arena_chunk *c = mem;

    c->next = NULL;
    c->size = size - sizeof(*c);
    c->used = 0;
    a->head = a->lent = c;
    a->first_size = c->size;
    a->total = size;
    a->max = max;
}

static void
chunk_free(struct arena *a, struct arena_chunk *c)
{
    if (c != a->lent)
        free(c);
}

void
arena_fini(struct arena *a)
{
    struct arena_chunk *c = a->head;

    while (c != NULL) {
        struct arena_chunk *next = c->next;

        chunk_free(a, c);
        c = next;
    }
    a->head = a->lent = NULL;
    a->total = 0;
}

void
arena_reset(struct arena *a)
{
    struct arena_chunk *c = a->head;

    if (c == NULL)
        return;
    /* The oldest chunk is the last in the chain; keep it alone. */
    while (c->next != NULL) {
        struct arena_chunk *next = c->next;

        a->total -= sizeof(*c) + c->size;
        chunk_free(a, c);
        c = next;
    }
    c->used = 0;
    a->head = c;
}

/* Add a chunk able to hold n bytes; NULL when the bound forbids it. */
static struct arena_chunk *
arena_grow(struct arena *a, size_t n)
{
    size_t size = a->head == NULL ? a->first_size : a->head->size * 2;
    struct arena_chunk *c;

    if (size < n)
        size = ALIGN16(n);
    if (a->total + sizeof(*c) + size > a->max) {
        size = ALIGN16(n);
        if (a->total + sizeof(*c) + size > a->max)
            return NULL;
    }
    c = malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->used = 0;
    c->next = a->head;
    a->head = c;
    a->total += sizeof(*c) + size;
    return c;
}

void *
arena_alloc(struct arena *a, size_t n)
{
    struct arena_chunk *c = a->head;
    void *p;

    n = ALIGN16(n == 0 ? 1 : n);
    if (c == NULL || c->size - c->used < n) {
        c = arena_grow(a, n);
        if (c == NULL)
            return NULL;
    }
    p = c->mem + c->used;
    c->used += n;
    return p;
}

char *
arena_dup(struct arena *a, const char *src, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, src, n);
    p[n] = '\0';
    return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    p = arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
