/*
 * The store: a fixed-size, set-associative table of states shared by
 * every worker. A key lives in one bucket of STORE_WAYS slots; each
 * bucket has its own spin lock, so workers contend only when they touch
 * the same bucket at the same moment.
 *
 * Eviction is local to the bucket: a new key takes a free or expired
 * slot, else the slot whose state expires first, which is the one whose
 * loss admits the least (a rate state about to become full anyway, a
 * quota about to roll over). Because the hash is keyed per process, a
 * client cannot aim its keys at one bucket to push out another's state.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit/ratelimit_int.h"

int
store_init(struct store *s, size_t entries)
{
    size_t n = 1;

    while (n * STORE_WAYS < entries)
        n <<= 1;
    s->buckets = calloc(n, sizeof(*s->buckets));
    if (s->buckets == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < n; i++)
        atomic_flag_clear(&s->buckets[i].lock);
    s->mask = n - 1;
    atomic_init(&s->evictions, 0);
    return AW_OK;
}

void
store_fini(struct store *s)
{
    free(s->buckets);
    s->buckets = NULL;
}

/* The bucket of key: its low bits. */
static struct store_bucket *
store_bucket(struct store *s, uint64_t key)
{
    return &s->buckets[key & s->mask];
}

static void
bucket_lock(struct store_bucket *b)
{
    unsigned spins = 0;

    /* A holder preempted mid-section must get the core back. */
    while (atomic_flag_test_and_set_explicit(&b->lock, memory_order_acquire)) {
        if (++spins % 64 == 0)
            sched_yield();
    }
}

/*
 * The slot a new key takes: a free or expired one, else the live one
 * that expires first (evicted, and counted).
 */
static struct store_entry *
bucket_victim(struct store *s, struct store_bucket *b, uint64_t now_ns)
{
    struct store_entry *v = &b->e[0];

    for (int i = 0; i < STORE_WAYS; i++) {
        struct store_entry *e = &b->e[i];

        if (e->key == 0 || e->expires_ns <= now_ns)
            return e;
        if (e->expires_ns < v->expires_ns)
            v = e;
    }
    atomic_fetch_add_explicit(&s->evictions, 1, memory_order_relaxed);
    return v;
}

struct store_entry *
store_lock(struct store *s, uint64_t key, uint64_t now_ns, bool create)
{
    struct store_bucket *b = store_bucket(s, key);
    struct store_entry *e;

    /* Key 0 marks a free slot; a real key of 0 is folded onto 1. */
    key = key == 0 ? 1 : key;
    bucket_lock(b);
    for (int i = 0; i < STORE_WAYS; i++) {
        e = &b->e[i];
        if (e->key == key && e->expires_ns > now_ns)
            return e;
    }
    if (!create)
        return NULL;
    e = bucket_victim(s, b, now_ns);
    *e = (struct store_entry){.key = key, .expires_ns = now_ns + 1};
    return e;
}

void
store_unlock(struct store *s, uint64_t key)
{
    atomic_flag_clear_explicit(&store_bucket(s, key)->lock,
                               memory_order_release);
}

struct store_bucket *
store_lock_bucket(struct store *s, size_t i)
{
    bucket_lock(&s->buckets[i]);
    return &s->buckets[i];
}

void
store_unlock_bucket(struct store *s, size_t i)
{
    atomic_flag_clear_explicit(&s->buckets[i].lock, memory_order_release);
}

size_t
store_slot(const struct store *s, const struct store_entry *e)
{
    size_t b = (size_t)((const char *)e - (const char *)s->buckets) /
               sizeof(*s->buckets);

    return b * STORE_WAYS + (size_t)(e - s->buckets[b].e);
}
