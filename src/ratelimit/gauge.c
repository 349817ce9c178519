/*
 * Gauges: requests in flight per route or upstream. The table is open
 * addressing over keys that are never removed, since a route or an
 * upstream that had traffic once will likely have it again; its size
 * bounds how many distinct names can be limited at once (the caller
 * refuses a request whose gauge finds no room).
 */
#include <stdlib.h>

#include "ratelimit/ratelimit_int.h"

/* Probes before a key is declared to have no room. */
#define GAUGE_PROBES 64

int
ratelimit_gauges_init(struct ratelimit *rl, size_t n)
{
    size_t cap = 1;

    while (cap < n)
        cap <<= 1;
    rl->gauges = calloc(cap, sizeof(*rl->gauges));
    if (rl->gauges == NULL)
        return AW_NOMEM;
    rl->gauge_mask = cap - 1;
    return AW_OK;
}

/* The gauge of key, claimed when absent and create; NULL if full. */
static struct gauge *
gauge_find(struct ratelimit *rl, uint64_t key, bool create)
{
    key = key == 0 ? 1 : key;
    for (size_t i = 0; i < GAUGE_PROBES && i <= rl->gauge_mask; i++) {
        struct gauge *g = &rl->gauges[(key + i) & rl->gauge_mask];
        uint_fast64_t seen = atomic_load(&g->key);

        if (seen == key)
            return g;
        if (seen != 0 || !create)
            continue;
        if (atomic_compare_exchange_strong(&g->key, &seen, key) ||
            seen == key)
            return g;
    }
    return NULL;
}

int
ratelimit_gauge_enter(struct ratelimit *rl, uint64_t key, unsigned max)
{
    struct gauge *g = gauge_find(rl, key, true);
    unsigned cur;

    if (g == NULL)
        return AW_NOMEM;
    cur = atomic_load(&g->count);
    do {
        if (cur >= max)
            return AW_DECLINED;
    } while (!atomic_compare_exchange_weak(&g->count, &cur, cur + 1));
    return AW_OK;
}

void
ratelimit_gauge_leave(struct ratelimit *rl, uint64_t key)
{
    struct gauge *g = gauge_find(rl, key, false);

    if (g != NULL)
        atomic_fetch_sub(&g->count, 1);
}

unsigned
ratelimit_gauge_value(struct ratelimit *rl, uint64_t key)
{
    struct gauge *g = gauge_find(rl, key, false);

    return g != NULL ? atomic_load(&g->count) : 0;
}
