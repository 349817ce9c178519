/*
 * The process-wide object: two stores (limit states, and bans with
 * offence counts, apart so that a flood of new limit keys cannot push
 * bans out) and the hash key. Each operation locks one bucket, reads
 * and updates one entry, and unlocks.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ratelimit/ratelimit_int.h"

#define MIN_ENTRIES 64
#define MIN_GAUGES 16

/* Domain of the offence count kept beside a ban. */
#define OFFENCE_DOMAIN 0x6f66u

int
ratelimit_new(const struct ratelimit_opts *o, struct ratelimit **out)
{
    struct ratelimit *rl = calloc(1, sizeof(*rl));
    uint64_t k[2];
    int rc = AW_NOMEM;

    if (rl == NULL)
        return AW_NOMEM;
    if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
        rc = AW_IO;
        goto fail;
    }
    rl->k0 = k[0];
    rl->k1 = k[1];
    if (store_init(&rl->limits, MAX(o->entries, MIN_ENTRIES)) != AW_OK ||
        store_init(&rl->bans, MAX(o->ban_entries, MIN_ENTRIES)) != AW_OK)
        goto fail;
    /* Pages of notes never written are never touched: calloc maps them. */
    rl->notes = calloc(store_nbuckets(&rl->bans) * STORE_WAYS,
                       sizeof(*rl->notes));
    if (rl->notes == NULL)
        goto fail;
    rc = ratelimit_gauges_init(rl, MAX(o->gauges, MIN_GAUGES));
    if (rc != AW_OK)
        goto fail;
    *out = rl;
    return AW_OK;
fail:
    ratelimit_free(rl);
    return rc;
}

void
ratelimit_free(struct ratelimit *rl)
{
    if (rl == NULL)
        return;
    free(rl->gauges);
    free(rl->notes);
    store_fini(&rl->bans);
    store_fini(&rl->limits);
    free(rl);
}

/*
 * Each part is hashed on its own and the part hashes are hashed
 * together with the domain, so that ("ab", "c") and ("a", "bc") differ
 * and no part needs copying into one buffer.
 */
uint64_t
ratelimit_key(const struct ratelimit *rl, uint32_t domain,
              const struct slice *parts, size_t n)
{
    uint64_t h[1 + RATELIMIT_MAX_PARTS];
    size_t k = 0;

    h[k++] = domain;
    for (size_t i = 0; i < n && i < RATELIMIT_MAX_PARTS; i++) {
        h[k++] = ratelimit_siphash(rl->k0, rl->k1, parts[i].ptr,
                                   parts[i].len);
    }
    return ratelimit_siphash(rl->k0, rl->k1, h, k * sizeof(h[0]));
}

/* A rate: one GCRA step on the key's TAT; the entry lives until TAT. */
static void
check_rate(struct ratelimit *rl, const struct ratelimit_rule *r,
           uint64_t key, uint64_t now, bool take, struct ratelimit_verdict *v)
{
    struct store_entry *e = store_lock(&rl->limits, key, now, take);
    uint64_t tat = e != NULL ? e->value : 0;

    ratelimit_gcra(r, &tat, now, take, v);
    if (e != NULL && take && v->allowed) {
        e->value = tat;
        e->expires_ns = tat;
    }
    store_unlock(&rl->limits, key);
}

/*
 * A quota: a count under a key that includes the period's index, so
 * that a new period starts from zero by itself; the entry lives to the
 * period's end.
 */
static void
check_quota(struct ratelimit *rl, const struct ratelimit_rule *r,
            uint64_t key, const struct ratelimit_now *now, bool take,
            struct ratelimit_verdict *v)
{
    uint64_t index, left_s, pk, used;
    struct store_entry *e;

    ratelimit_calendar(r, now->wall_s, &index, &left_s);
    pk = key ^ ratelimit_siphash(rl->k0, rl->k1, &index, sizeof(index));
    e = store_lock(&rl->limits, pk, now->mono_ns, take);
    used = e != NULL ? e->value : 0;
    v->limit = r->count;
    v->allowed = used < r->count;
    v->reset_ns = left_s * RATELIMIT_NS_PER_S;
    v->retry_ns = v->allowed ? 0 : v->reset_ns;
    if (v->allowed && take) {
        used++;
        e->value = used;
        e->expires_ns = now->mono_ns + v->reset_ns;
    }
    v->remaining = r->count - MIN(used, r->count);
    store_unlock(&rl->limits, pk);
}

int
ratelimit_check(struct ratelimit *rl, const struct ratelimit_rule *r,
                uint64_t key, const struct ratelimit_now *now, bool take,
                struct ratelimit_verdict *v)
{
    if (r->quota)
        check_quota(rl, r, key, now, take, v);
    else
        check_rate(rl, r, key, now->mono_ns, take, v);
    return AW_OK;
}

bool
ratelimit_check_all(struct ratelimit *rl,
                    const struct ratelimit_rule *const *rules,
                    const uint64_t *keys, size_t n,
                    const struct ratelimit_now *now, size_t *refused,
                    struct ratelimit_verdict *v)
{
    for (int take = 0; take <= 1; take++) {
        for (size_t i = 0; i < n; i++) {
            ratelimit_check(rl, rules[i], keys[i], now, take, v);
            if (!v->allowed) {
                *refused = i;
                return false;
            }
        }
    }
    return true;
}

bool
ratelimit_event(struct ratelimit *rl, const struct ratelimit_rule *r,
                uint64_t key, const struct ratelimit_now *now)
{
    struct ratelimit_verdict v;

    check_rate(rl, r, key, now->mono_ns, true, &v);
    return !v.allowed;
}

bool
ratelimit_first_seen(struct ratelimit *rl, uint64_t key,
                     const struct ratelimit_now *now, uint64_t ttl_ns)
{
    struct store_entry *e = store_lock(&rl->limits, key, now->mono_ns, true);
    bool first = e->value == 0;

    e->value = 1;
    if (first)
        e->expires_ns = now->mono_ns + ttl_ns;
    store_unlock(&rl->limits, key);
    return first;
}

bool
ratelimit_banned(struct ratelimit *rl, uint64_t key,
                 const struct ratelimit_now *now, uint64_t *left_ns,
                 bool *shared)
{
    struct store_entry *e = store_lock(&rl->bans, key, now->mono_ns, false);
    bool banned = e != NULL && (e->aux & BAN_MARK) != 0;

    if (banned) {
        *left_ns = e->expires_ns - now->mono_ns;
        if (shared != NULL)
            *shared = (e->aux & BAN_SHARED) != 0;
    }
    store_unlock(&rl->bans, key);
    return banned;
}

/* Offences remembered for key, counting this one. */
static unsigned
ban_offences(struct ratelimit *rl, uint64_t key,
             const struct ratelimit_now *now, uint64_t memory_ns)
{
    uint64_t ok = key ^ ((uint64_t)OFFENCE_DOMAIN << 48);
    struct store_entry *e = store_lock(&rl->bans, ok, now->mono_ns, true);
    unsigned earlier = (unsigned)MIN(e->value, 64);

    e->value++;
    e->expires_ns = now->mono_ns + memory_ns;
    store_unlock(&rl->bans, ok);
    return earlier;
}

/* base * factor^level, saturating at max. */
static uint64_t
ban_length(const struct ratelimit_ban_policy *p, unsigned level)
{
    uint64_t d = p->base_ns;

    for (unsigned i = 0; i < level && d < p->max_ns; i++) {
        if (p->factor > 1 && d > p->max_ns / p->factor)
            d = p->max_ns;
        else
            d *= p->factor;
    }
    return MIN(d, p->max_ns);
}

/* A copy of src into dst[cap], cut; "" for NULL. */
static void
note_copy(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

    memcpy(dst, src != NULL ? src : "", n);
    dst[n] = '\0';
}

/* Remember note beside ban entry e; under e's bucket lock. */
static void
note_write(struct ratelimit *rl, const struct store_entry *e,
           const struct ratelimit_ban_note *note, unsigned level)
{
    struct ban_note *n = &rl->notes[store_slot(&rl->bans, e)];

    n->reason = note != NULL ? note->reason : NULL;
    n->level = level;
    note_copy(n->id, sizeof(n->id), note != NULL ? note->id : NULL);
    note_copy(n->subject, sizeof(n->subject),
              note != NULL ? note->subject : NULL);
}

int
ratelimit_ban(struct ratelimit *rl, uint64_t key,
              const struct ratelimit_now *now,
              const struct ratelimit_ban_policy *p,
              const struct ratelimit_ban_note *note, uint64_t *duration_ns,
              unsigned *level)
{
    unsigned earlier = ban_offences(rl, key, now, p->memory_ns);
    uint64_t d = ban_length(p, earlier);
    struct store_entry *e = store_lock(&rl->bans, key, now->mono_ns, true);

    if (e->expires_ns < now->mono_ns + d)
        e->expires_ns = now->mono_ns + d;
    e->value = 1;
    e->aux = BAN_MARK | (note != NULL && note->shared ? BAN_SHARED : 0);
    note_write(rl, e, note, earlier);
    store_unlock(&rl->bans, key);
    atomic_fetch_add_explicit(&rl->nbans, 1, memory_order_relaxed);
    *duration_ns = d;
    *level = earlier;
    return AW_OK;
}

bool
ratelimit_unban_shared(struct ratelimit *rl, uint64_t key,
                       const struct ratelimit_now *now)
{
    struct store_entry *e = store_lock(&rl->bans, key, now->mono_ns, false);
    bool shared = e != NULL && (e->aux & BAN_SHARED) != 0;

    if (shared)
        *e = (struct store_entry){0};
    store_unlock(&rl->bans, key);
    return shared;
}

/* True when e is a live ban at now_ns. */
static bool
live_ban(const struct store_entry *e, uint64_t now_ns)
{
    return e->key != 0 && e->expires_ns > now_ns && (e->aux & BAN_MARK);
}

/* The report of live ban e; under its bucket lock. */
static void
ban_info(const struct ratelimit *rl, const struct store_entry *e,
         uint64_t now_ns, struct ratelimit_ban_info *out)
{
    const struct ban_note *n = &rl->notes[store_slot(&rl->bans, e)];

    memcpy(out->id, n->id, sizeof(out->id));
    memcpy(out->subject, n->subject, sizeof(out->subject));
    out->reason = n->reason;
    out->level = n->level;
    out->shared = (e->aux & BAN_SHARED) != 0;
    out->left_ns = e->expires_ns - now_ns;
}

size_t
ratelimit_bans(struct ratelimit *rl, const struct ratelimit_now *now,
               struct ratelimit_ban_info *out, size_t max, size_t *total)
{
    size_t copied = 0, live = 0;

    for (size_t i = 0; i < store_nbuckets(&rl->bans); i++) {
        struct store_bucket *b = store_lock_bucket(&rl->bans, i);

        for (int w = 0; w < STORE_WAYS; w++) {
            if (!live_ban(&b->e[w], now->mono_ns))
                continue;
            live++;
            if (copied < max)
                ban_info(rl, &b->e[w], now->mono_ns, &out[copied++]);
        }
        store_unlock_bucket(&rl->bans, i);
    }
    if (total != NULL)
        *total = live;
    return copied;
}

/* True when the note of live ban e names it by name. */
static bool
ban_named(const struct ratelimit *rl, const struct store_entry *e,
          const char *name)
{
    const struct ban_note *n = &rl->notes[store_slot(&rl->bans, e)];

    return strcmp(n->id, name) == 0 || strcmp(n->subject, name) == 0;
}

/* Forget the offences counted against ban key key. */
static void
forget_offences(struct ratelimit *rl, uint64_t key, uint64_t now_ns)
{
    uint64_t ok = key ^ ((uint64_t)OFFENCE_DOMAIN << 48);
    struct store_entry *e = store_lock(&rl->bans, ok, now_ns, false);

    if (e != NULL)
        *e = (struct store_entry){0};
    store_unlock(&rl->bans, ok);
}

/*
 * Lift the bans of bucket i named by name; their keys go to keys (room
 * for STORE_WAYS) for their offences to be forgotten once the bucket is
 * unlocked (an offence count may live in another bucket, and a walk
 * never holds two). Returns the number lifted.
 */
static size_t
unban_bucket(struct ratelimit *rl, size_t i, const char *name,
             uint64_t now_ns, uint64_t *keys, size_t lifted_before,
             struct ratelimit_ban_info *first)
{
    struct store_bucket *b = store_lock_bucket(&rl->bans, i);
    size_t n = 0;

    for (int w = 0; w < STORE_WAYS; w++) {
        struct store_entry *e = &b->e[w];

        if (!live_ban(e, now_ns) || !ban_named(rl, e, name))
            continue;
        if (lifted_before + n == 0 && first != NULL)
            ban_info(rl, e, now_ns, first);
        keys[n++] = e->key;
        *e = (struct store_entry){0};
    }
    store_unlock_bucket(&rl->bans, i);
    return n;
}

size_t
ratelimit_unban(struct ratelimit *rl, const char *name,
                const struct ratelimit_now *now,
                struct ratelimit_ban_info *first)
{
    size_t lifted = 0;

    if (name == NULL || name[0] == '\0')
        return 0;
    for (size_t i = 0; i < store_nbuckets(&rl->bans); i++) {
        uint64_t keys[STORE_WAYS];
        size_t n = unban_bucket(rl, i, name, now->mono_ns, keys, lifted,
                                first);

        for (size_t k = 0; k < n; k++)
            forget_offences(rl, keys[k], now->mono_ns);
        lifted += n;
    }
    atomic_fetch_add_explicit(&rl->nlifts, lifted, memory_order_relaxed);
    return lifted;
}

void
ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *s)
{
    s->evictions = atomic_load(&rl->limits.evictions);
    s->ban_evictions = atomic_load(&rl->bans.evictions);
    s->bans = atomic_load(&rl->nbans);
    s->lifts = atomic_load(&rl->nlifts);
    s->fleet_outages = atomic_load(&rl->fleet_outages);
    s->fleet_fallbacks = atomic_load(&rl->fleet_fallbacks);
    s->fleet_decisions = atomic_load(&rl->fleet_decisions);
}
