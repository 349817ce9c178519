/*
 * Internals of the ratelimit module, shared by its files only: the
 * fixed-size store of states and the process-wide object.
 */
#ifndef APIWARD_RATELIMIT_INT_H
#define APIWARD_RATELIMIT_INT_H

#include <stdatomic.h>

#include "ratelimit/ratelimit.h"

/* Entries per bucket: a key may live in any slot of its bucket. */
#define STORE_WAYS 4

/*
 * One state. value and aux are the owner's: a theoretical arrival time,
 * a count, a ban's end. An entry whose expires_ns has passed is free.
 */
struct store_entry {
    uint64_t key;
    uint64_t value;
    uint64_t aux;
    uint64_t expires_ns;
};

/*
 * A bucket is a cache-line-sized group of entries behind one spin lock;
 * critical sections are a handful of loads and stores, never a call
 * that can block.
 */
struct store_bucket {
    atomic_flag lock;
    struct store_entry e[STORE_WAYS];
};

/* A table of buckets; the bucket of a key is its low bits. */
struct store {
    struct store_bucket *buckets;
    size_t mask;                /* buckets - 1, a power of two less one */
    atomic_uint_fast64_t evictions;
};

/*
 * Allocate at least entries slots (rounded up to a power of two of
 * buckets). AW_OK or AW_NOMEM.
 */
int store_init(struct store *s, size_t entries);

/* Release the buckets; accepts a zeroed store. */
void store_fini(struct store *s);

/*
 * Lock key's bucket and return its live entry, or NULL when none.
 * With create, a missing key gets a slot (a free one, else the one
 * closest to expiring, counted as an eviction when still live), zeroed,
 * with expires_ns set to now_ns + 1 for the caller to move on. Always
 * pair with store_unlock(s, key), also after NULL.
 */
struct store_entry *store_lock(struct store *s, uint64_t key, uint64_t now_ns,
                               bool create);

/* Release the bucket locked by store_lock. */
void store_unlock(struct store *s, uint64_t key);

/* Buckets of the table. */
static inline size_t
store_nbuckets(const struct store *s)
{
    return s->mask + 1;
}

/*
 * Lock bucket i (< store_nbuckets) for a walk over its entries; pair
 * with store_unlock_bucket(s, i). A walk holds one bucket at a time.
 */
struct store_bucket *store_lock_bucket(struct store *s, size_t i);

/* Release the bucket locked by store_lock_bucket. */
void store_unlock_bucket(struct store *s, size_t i);

/*
 * The index of entry e of s among every slot of the table, for arrays
 * kept beside the table (bucket * STORE_WAYS + way).
 */
size_t store_slot(const struct store *s, const struct store_entry *e);

/* A gauge: requests in flight under one key. */
struct gauge {
    atomic_uint_fast64_t key;   /* 0: free */
    atomic_uint count;
};

/*
 * What an operator sees of a ban, beside its slot of the ban table: the
 * slot of index i has notes[i]. Written and read under the slot's
 * bucket lock; meaningful only while the slot holds a live ban (aux
 * BAN_MARK), so a slot reused for an offence count needs no clearing.
 */
struct ban_note {
    const char *reason;
    unsigned level;
    char id[RATELIMIT_BAN_ID_HEX + 1];
    char subject[RATELIMIT_BAN_SUBJECT_MAX];
};

/* aux of a ban entry (offence counts keep 0); BAN_SHARED is added when
   the ban was written to Redis too. */
#define BAN_MARK 1u
#define BAN_SHARED 2u

struct ratelimit {
    uint64_t k0, k1;            /* SipHash key */
    struct store limits;        /* rates, quotas, detectors, seen ids */
    struct store bans;          /* bans and offence counts */
    struct ban_note *notes;     /* one per slot of bans */
    struct gauge *gauges;       /* open addressing, never evicted */
    size_t gauge_mask;
    atomic_uint_fast64_t nbans;
    atomic_uint_fast64_t nlifts;
    atomic_uint_fast64_t fleet_outages;
    atomic_uint_fast64_t fleet_fallbacks;
    atomic_uint_fast64_t fleet_decisions;
    atomic_uint fleet_down;     /* worker connections down now */
};

/* Allocate the gauge table of at least n slots; AW_OK or AW_NOMEM. */
int ratelimit_gauges_init(struct ratelimit *rl, size_t n);

/* SipHash-2-4 of buf[0..len) under (k0, k1). */
uint64_t ratelimit_siphash(uint64_t k0, uint64_t k1, const void *buf,
                           size_t len);

/*
 * One decision's command for Redis: EVALSHA, the script's digest, the
 * key count, the keys (bans first), the ban count, then three values
 * per limit. Every argument points into buf.
 */
#define FLEET_ARGV_MAX (5 + 4 * RATELIMIT_FLEET_MAX_ITEMS)
#define FLEET_BUF_MAX 6144

struct fleet_cmd {
    size_t argc;
    const char *argv[FLEET_ARGV_MAX];
    size_t argvlen[FLEET_ARGV_MAX];
    size_t nbans;               /* ban items, first in the key list */
    char buf[FLEET_BUF_MAX];
};

/*
 * Split a Redis address, "host:port", "[v6]:port" or a unix socket path,
 * into host[0..cap) and *port (0 for a path). AW_OK or AW_INVALID.
 */
int fleet_address(const char *a, char *host, size_t cap, int *port);

/* The Lua text of the decision script (script.c). */
extern const char fleet_script[];

/*
 * Build the EVALSHA command for items[0..n) under prefix, the ban items
 * moved first (their order among themselves kept, and the limits'
 * too); map[k] is the index in items of the k-th key. sha is the
 * script's digest (40 hex digits). AW_OK, or AW_INVALID when n is 0 or
 * too large, or the prefix too long.
 */
int fleet_cmd_build(struct fleet_cmd *cmd, const char *sha,
                    const char *prefix,
                    const struct ratelimit_fleet_item *items, size_t n,
                    uint8_t *map);

/*
 * Read the script's answer {status, key, micros} into a: status 1
 * admitted, 0 refused by a limit, 2 refused by a ban; key is 1-based
 * in the command's key order (map turns it into an item index).
 * AW_OK, or AW_INVALID for any other shape (a is then an AW_IO answer).
 */
struct redisReply;
int fleet_reply_read(const struct redisReply *reply, const uint8_t *map,
                     size_t n, struct ratelimit_fleet_answer *a);

#endif
