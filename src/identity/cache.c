/*
 * The per-worker cache of tokens whose signature verified.
 *
 * A signature check costs tens of microseconds (RSA) to a few hundred
 * (ES512); clients send the same token on every request, so a worker
 * remembers which tokens it has verified. What is remembered is only
 * that the signature held: the caller parses the token again and
 * applies every claim rule on every request, so the cache can never
 * let through a token that a fresh check would refuse for its claims.
 *
 * The table is one array allocated at creation. A token's digest picks
 * a window of CACHE_WINDOW slots; lookups and inserts look at that
 * window only, so their cost is bounded whatever the load. A full
 * window evicts with the clock rule: a slot used since the hand last
 * passed gets a second chance.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

/* Slots looked at per lookup or insert. */
#define CACHE_WINDOW 8

struct cache_entry {
    struct identity_cache_key key;
    int64_t exp;     /* the token's exp; INT64_MAX when it has none */
    bool used;       /* the slot holds an entry */
    bool referenced; /* hit since the clock hand last passed */
};

struct identity_cache {
    struct cache_entry *slots;
    unsigned n;
    unsigned hand; /* where the next eviction scan starts */
    struct identity_cache_stats stats;
    struct introspector *intro; /* the worker's introspection client */
};

void
identity_cache_set_introspector(struct identity_cache *c,
                                struct introspector *in)
{
    if (c != NULL)
        c->intro = in;
}

struct introspector *
identity_cache_introspector(const struct identity_cache *c)
{
    return c != NULL ? c->intro : NULL;
}

void
identity_digest(struct slice cred, unsigned char out[IDENTITY_DIGEST_LEN])
{
    SHA256((const unsigned char *)cred.ptr, cred.len, out);
}

void
identity_credential_id(const unsigned char d[IDENTITY_DIGEST_LEN], char out[13])
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < 6; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 0xf];
    }
    out[12] = '\0';
}

struct identity_cache *
identity_cache_new(unsigned entries)
{
    struct identity_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (entries > 0) {
        c->slots = calloc(entries, sizeof(*c->slots));
        if (c->slots == NULL) {
            free(c);
            return NULL;
        }
    }
    c->n = entries;
    return c;
}

void
identity_cache_free(struct identity_cache *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c);
}

/* The first slot of k's window; the digest is uniform already. */
static unsigned
cache_start(const struct identity_cache *c, const struct identity_cache_key *k)
{
    uint32_t h;

    memcpy(&h, k->digest, sizeof(h));
    return h % c->n;
}

/* True when e holds exactly k (same token, issuer and generations). */
static bool
cache_same(const struct cache_entry *e, const struct identity_cache_key *k)
{
    return e->used && e->key.issuer == k->issuer &&
           e->key.cfg_gen == k->cfg_gen && e->key.keys_gen == k->keys_gen &&
           memcmp(e->key.digest, k->digest, sizeof(k->digest)) == 0;
}

/* Slot i of the window starting at start. */
static struct cache_entry *
cache_slot(struct identity_cache *c, unsigned start, unsigned i)
{
    return &c->slots[(start + i) % c->n];
}

bool
identity_cache_lookup(struct identity_cache *c,
                      const struct identity_cache_key *k, int64_t now)
{
    unsigned start, window;

    if (c == NULL || c->n == 0)
        return false;
    start = cache_start(c, k);
    window = MIN(c->n, CACHE_WINDOW);
    for (unsigned i = 0; i < window; i++) {
        struct cache_entry *e = cache_slot(c, start, i);

        if (!cache_same(e, k))
            continue;
        if (now >= e->exp)
            break;
        e->referenced = true;
        c->stats.hits++;
        return true;
    }
    c->stats.misses++;
    return false;
}

void
identity_cache_stats(const struct identity_cache *c,
                     struct identity_cache_stats *st)
{
    if (c == NULL)
        memset(st, 0, sizeof(*st));
    else
        *st = c->stats;
}

/*
 * True when e can go without loss: free, expired, or made under an
 * older configuration or key set than k, which no new request uses.
 */
static bool
cache_spare(const struct cache_entry *e, const struct identity_cache_key *k,
            int64_t now)
{
    return !e->used || now >= e->exp || e->key.cfg_gen < k->cfg_gen ||
           e->key.keys_gen < k->keys_gen;
}

/*
 * The slot of k's window to overwrite: one already holding k's token
 * for k's issuer, else a spare one, else the clock's choice. The clock
 * scan clears the bits it passes, so it ends within two turns of the
 * window; its starting offset rotates from one eviction to the next.
 */
static struct cache_entry *
cache_victim(struct identity_cache *c, const struct identity_cache_key *k,
             int64_t now)
{
    unsigned start = cache_start(c, k);
    unsigned window = MIN(c->n, CACHE_WINDOW);
    struct cache_entry *spare = NULL;

    for (unsigned i = 0; i < window; i++) {
        struct cache_entry *e = cache_slot(c, start, i);

        if (e->used &&
            memcmp(e->key.digest, k->digest, sizeof(k->digest)) == 0 &&
            e->key.issuer == k->issuer)
            return e;
        if (spare == NULL && cache_spare(e, k, now))
            spare = e;
    }
    if (spare != NULL)
        return spare;
    for (unsigned i = 0;; i++) {
        struct cache_entry *e = cache_slot(c, start, (c->hand + i) % window);

        if (!e->referenced) {
            c->hand = (c->hand + i + 1) % window;
            return e;
        }
        e->referenced = false;
    }
}

void
identity_cache_insert(struct identity_cache *c,
                      const struct identity_cache_key *k, int64_t exp,
                      int64_t now)
{
    struct cache_entry *e;

    if (c == NULL || c->n == 0 || exp <= now)
        return;
    e = cache_victim(c, k, now);
    if (!cache_spare(e, k, now) &&
        memcmp(e->key.digest, k->digest, sizeof(k->digest)) != 0)
        c->stats.evictions++;
    c->stats.inserts++;
    e->key = *k;
    e->exp = exp;
    e->used = true;
    e->referenced = false;
}
