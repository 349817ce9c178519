/*
 * Detectors of suspicious token use, fed by the record stage of every
 * worker: one credential presented from many client addresses within a
 * window (a shared or stolen token), and one expired token presented
 * again and again (a replay, or a client stuck on an old token).
 *
 * Credentials are known here only by their short hash, addresses only
 * by a 32-bit hash. The table is shared by the workers, since the
 * kernel spreads one client's connections over all of them; it is cut
 * into DETECT_SHARDS shards with a lock each, held for one probe of at
 * most DETECT_PROBE slots. A full neighbourhood forgets its oldest
 * entry, so an attacker who floods the table with fresh tokens can make
 * it forget a real one: the detectors then start counting that one
 * again, late rather than never.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_int.h"

#define DETECT_SHARDS 64
#define DETECT_PROBE 8
#define DET_USED ((uint64_t)1 << 63)

/* One credential under watch, for one detector. */
struct det_entry {
    uint64_t key;             /* DET_USED | credential << 1 | detector;
                                 0: empty */
    uint64_t window_start;    /* monotonic ms */
    uint32_t addrs[DETECT_MAX_ADDRESSES]; /* distinct address hashes */
    unsigned count;           /* addresses or replays in the window */
    bool alerted;             /* the alert of this window was given */
};

struct det_shard {
    pthread_mutex_t lock;
    struct det_entry *slots;
    size_t nslots;
};

static struct {
    struct det_shard *shards;   /* NULL while off */
    struct detect_opts o;
} det;

int
detect_start(const struct detect_opts *o)
{
    size_t per = MAX(o->entries / DETECT_SHARDS, (size_t)DETECT_PROBE);

    det.o = *o;
    det.o.share_addresses = MIN(o->share_addresses,
                                (unsigned)DETECT_MAX_ADDRESSES);
    det.shards = calloc(DETECT_SHARDS, sizeof(*det.shards));
    if (det.shards == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < DETECT_SHARDS; i++) {
        pthread_mutex_init(&det.shards[i].lock, NULL);
        det.shards[i].slots = calloc(per, sizeof(struct det_entry));
        det.shards[i].nslots = per;
        if (det.shards[i].slots == NULL) {
            detect_stop();
            return AW_NOMEM;
        }
    }
    return AW_OK;
}

void
detect_stop(void)
{
    for (size_t i = 0; det.shards != NULL && i < DETECT_SHARDS; i++) {
        free(det.shards[i].slots);
        pthread_mutex_destroy(&det.shards[i].lock);
    }
    free(det.shards);
    det.shards = NULL;
}

/* Mix the bits of a key, so that shard and slot do not correlate. */
static uint64_t
mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

/*
 * The entry of key in shard s (lock held): found, or made in an empty
 * slot or over the oldest of the neighbourhood. A new or stale entry
 * starts a fresh window.
 */
static struct det_entry *
det_find(struct det_shard *s, uint64_t key, uint64_t h, uint64_t now)
{
    struct det_entry *oldest = NULL, *e = NULL;

    for (size_t i = 0; i < DETECT_PROBE && e == NULL; i++) {
        struct det_entry *c = &s->slots[(h + i) % s->nslots];

        if (c->key == key || c->key == 0)
            e = c;
        else if (oldest == NULL || c->window_start < oldest->window_start)
            oldest = c;
    }
    if (e == NULL)
        e = oldest;
    if (e->key != key || now - e->window_start >= det.o.window_ms) {
        memset(e, 0, sizeof(*e));
        e->key = key;
        e->window_start = now;
    }
    return e;
}

/* Count one observation; true the first time the window passes max. */
static bool
det_count(uint64_t key, uint32_t addr, bool by_address, unsigned max,
          uint64_t now, unsigned *count)
{
    uint64_t h = mix(key);
    struct det_shard *s = &det.shards[h % DETECT_SHARDS];
    struct det_entry *e;
    bool alert = false, seen = false;

    pthread_mutex_lock(&s->lock);
    e = det_find(s, key, h / DETECT_SHARDS, now);
    for (unsigned i = 0; by_address && i < e->count; i++)
        seen |= e->addrs[i] == addr;
    if (!seen && (!by_address || e->count < DETECT_MAX_ADDRESSES)) {
        if (by_address)
            e->addrs[e->count] = addr;
        e->count++;
    }
    if (e->count >= max && !e->alerted) {
        e->alerted = true;
        alert = true;
    }
    *count = e->count;
    pthread_mutex_unlock(&s->lock);
    return alert;
}

bool
detect_token_address(uint64_t cred, uint32_t addr, uint64_t now,
                     unsigned *count)
{
    if (det.shards == NULL || det.o.share_addresses == 0)
        return false;
    return det_count(DET_USED | cred << 1, addr, true, det.o.share_addresses, now,
                     count);
}

bool
detect_expired_replay(uint64_t cred, uint64_t now, unsigned *count)
{
    if (det.shards == NULL || det.o.expired_replays == 0)
        return false;
    return det_count(DET_USED | cred << 1 | 1, 0, false, det.o.expired_replays, now,
                     count);
}
