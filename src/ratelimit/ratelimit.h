/*
 * ratelimit: rate limits, quotas, bans and in-flight counts, shared by
 * every worker of the process.
 *
 * - Rate limits use GCRA (the generic cell rate algorithm): a limit of
 *   `count` requests per `period` with a burst of `burst` admits at most
 *   burst requests at once and then one every period / count, with no
 *   window edges to game (a fixed window admits two bursts back to back
 *   around its edge; GCRA never does).
 * - Quotas count requests per calendar day or month, at UTC or a fixed
 *   offset, and start again at the period's boundary.
 * - Bans shut out a client address or a principal for a while; a
 *   repeat offender is banned longer each time, up to a cap.
 * - Gauges count requests in flight against a maximum.
 *
 * Every state lives in fixed-size tables allocated once by
 * ratelimit_new: nothing is allocated per request, and a full table
 * evicts the entry closest to expiring in the place the new one lands.
 * Entries are found by a 64-bit key from ratelimit_key, a SipHash-2-4
 * keyed with random bytes drawn per process, so that a client cannot
 * choose key material that collides on purpose.
 *
 * Time is always passed in (struct ratelimit_now), so that tests drive
 * the clock. Every function here is safe from any thread, except those
 * of the fleet client (ratelimit_fleet_*), which belong to one loop.
 */
#ifndef APIWARD_RATELIMIT_H
#define APIWARD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define RATELIMIT_NS_PER_S ((uint64_t)1000000000)
#define RATELIMIT_MAX_PARTS 8   /* parts of one key */

/* The clock as the caller reads it. */
struct ratelimit_now {
    uint64_t mono_ns; /* monotonic nanoseconds, never 0 */
    int64_t wall_s;   /* unix seconds, for calendar quotas */
};

/* Calendar period of a quota. */
enum ratelimit_period {
    RATELIMIT_DAY,
    RATELIMIT_MONTH,
};

/*
 * One limit: a GCRA rate or a calendar quota. For a rate, interval_ns
 * is period / count rounded up (so that rounding never admits more)
 * and burst is at least 1; interval_ns * burst must stay below 2^62.
 * For a quota, count is the number of requests per period and
 * tz_offset_s shifts midnight from UTC (-14 h to +14 h).
 */
struct ratelimit_rule {
    bool quota;                 /* calendar quota, else a GCRA rate */
    uint64_t count;             /* requests per period, at least 1 */
    uint64_t period_s;          /* a rate's period in seconds, for the
                                   RateLimit-Policy window */
    uint64_t interval_ns;       /* a rate: emission interval */
    uint64_t burst;             /* a rate: requests admitted at once */
    enum ratelimit_period calendar; /* a quota: day or month */
    int32_t tz_offset_s;        /* a quota: offset of its calendar */
};

/*
 * Fill a rate rule of count requests per period_s seconds with the
 * given burst. AW_INVALID when a value is 0 or the product of the
 * interval and the burst would reach 2^62 ns (about 146 years).
 */
int ratelimit_rule_rate(struct ratelimit_rule *r, uint64_t count,
                        uint64_t period_s, uint64_t burst);

/* The answer to one check. Times are nanoseconds from now. */
struct ratelimit_verdict {
    bool allowed;
    uint64_t limit;     /* the rule's quota units: burst or count */
    uint64_t remaining; /* requests still admitted right now */
    uint64_t reset_ns;  /* until the state is back to full (a rate) or
                           the period ends (a quota) */
    uint64_t retry_ns;  /* denied: until a request would be admitted */
};

/*
 * The GCRA step on its own, for a stored theoretical arrival time tat
 * (0: none). Writes the verdict; when take is true and the request is
 * admitted, *tat is moved on. Pure: the store calls it under its lock.
 */
void ratelimit_gcra(const struct ratelimit_rule *r, uint64_t *tat,
                    uint64_t now_ns, bool take, struct ratelimit_verdict *v);

/*
 * The calendar period holding wall_s for a quota rule: its index
 * (days or months since 1970 at the rule's offset) and the seconds
 * left until it ends (at least 1).
 */
void ratelimit_calendar(const struct ratelimit_rule *r, int64_t wall_s,
                        uint64_t *index, uint64_t *left_s);

/* Sizes of the tables, fixed for the life of the process. */
struct ratelimit_opts {
    size_t entries;      /* limit and detector states, at least 64 */
    size_t ban_entries;  /* bans and offence counts, at least 64 */
    size_t gauges;       /* in-flight counters, at least 16 */
};

struct ratelimit;

/*
 * Allocate the tables and draw the hash key. Returns AW_OK with *out
 * set, AW_NOMEM, or AW_IO when no random bytes could be had.
 */
int ratelimit_new(const struct ratelimit_opts *o, struct ratelimit **out);

/* Release everything; accepts NULL. */
void ratelimit_free(struct ratelimit *rl);

/*
 * The key of a state: SipHash-2-4 over each of parts[0..n) with its
 * length, under the process's key; parts past RATELIMIT_MAX_PARTS are
 * not read. domain keeps apart keys of
 * different kinds (limit, ban, detector) that share material.
 */
uint64_t ratelimit_key(const struct ratelimit *rl, uint32_t domain,
                       const struct slice *parts, size_t n);

/*
 * Check rule for key at now. With take, an admitted request is counted;
 * without, nothing changes (a peek, used to check every limit of a
 * request before counting it against any). Returns AW_OK with v filled.
 */
int ratelimit_check(struct ratelimit *rl, const struct ratelimit_rule *r,
                    uint64_t key, const struct ratelimit_now *now, bool take,
                    struct ratelimit_verdict *v);

/*
 * Check rules[i] for keys[i], i < n, together: every rule is checked
 * first, and the request is counted against all of them only when all
 * admit it, so that a request refused by one limit does not use up
 * another. Returns true when admitted; otherwise *refused is the index
 * of the first rule that refused and v its verdict. Two threads may both
 * see the last place free; the counting step checks again and the
 * second is refused then, after the rules before the refusing one
 * counted it (an error of at most one request per race, towards
 * refusing).
 */
bool ratelimit_check_all(struct ratelimit *rl,
                         const struct ratelimit_rule *const *rules,
                         const uint64_t *keys, size_t n,
                         const struct ratelimit_now *now, size_t *refused,
                         struct ratelimit_verdict *v);

/*
 * Count one event of a detector and say whether it crossed the
 * threshold: count events per period_s is the rate a detector
 * tolerates (a GCRA rule whose burst is count). True when this event is
 * beyond it. The state is kept in the limit table.
 */
bool ratelimit_event(struct ratelimit *rl, const struct ratelimit_rule *r,
                     uint64_t key, const struct ratelimit_now *now);

/*
 * True the first time key is seen within ttl_ns; false while it is
 * remembered. Used to count distinct values (enumeration). A value
 * evicted from the full table is counted again when it comes back,
 * which errs towards detecting.
 */
bool ratelimit_first_seen(struct ratelimit *rl, uint64_t key,
                          const struct ratelimit_now *now, uint64_t ttl_ns);

/* How bans grow for a repeat offender. */
struct ratelimit_ban_policy {
    uint64_t base_ns;     /* the first ban */
    uint64_t max_ns;      /* cap on any ban */
    unsigned factor;      /* each further ban is this many times longer,
                             at least 1 */
    uint64_t memory_ns;   /* how long past offences count */
};

/* Hex digits of a ban's id: its fleet key (ratelimit_fleet_key). */
#define RATELIMIT_BAN_ID_HEX 32

/* A ban's printable subject, NUL included; longer ones are cut. */
#define RATELIMIT_BAN_SUBJECT_MAX 80

/*
 * What a ban is known by, for an operator who lists and lifts bans.
 * Every string is borrowed for the call, except reason, which must
 * live as long as the table (a string literal).
 */
struct ratelimit_ban_note {
    const char *id;         /* RATELIMIT_BAN_ID_HEX hex digits, the same
                               on every gateway; NULL: none */
    const char *subject;    /* who is banned, printable: "ip:192.0.2.7",
                               "sub:issuer:alice"; never a token or a
                               key; NULL: none */
    const char *reason;     /* the detector's reason code, or NULL */
    bool shared;            /* the ban was also written to Redis */
};

/*
 * True when key is banned at now; *left_ns is then the time left and,
 * when shared is not NULL, *shared says whether the ban was written to
 * Redis too (ratelimit_ban_note.shared).
 */
bool ratelimit_banned(struct ratelimit *rl, uint64_t key,
                      const struct ratelimit_now *now, uint64_t *left_ns,
                      bool *shared);

/*
 * Ban key: base_ns for a first offence, factor times longer for each
 * offence remembered, up to max_ns. *duration_ns is the ban given and
 * *level the number of earlier offences. A key banned already keeps the
 * longer of its current ban and the new one; its note is replaced by
 * note (NULL: an empty note). Returns AW_OK.
 */
int ratelimit_ban(struct ratelimit *rl, uint64_t key,
                  const struct ratelimit_now *now,
                  const struct ratelimit_ban_policy *p,
                  const struct ratelimit_ban_note *note,
                  uint64_t *duration_ns, unsigned *level);

/*
 * Forget the local copy of key's ban when it was shared (written to
 * Redis), for a gateway that Redis told the ban is over: lifted on
 * another gateway, or gone. Offence counts stay. True when one was
 * there.
 */
bool ratelimit_unban_shared(struct ratelimit *rl, uint64_t key,
                            const struct ratelimit_now *now);

/* One live ban as ratelimit_bans and ratelimit_unban report it. */
struct ratelimit_ban_info {
    char id[RATELIMIT_BAN_ID_HEX + 1];       /* "" when none was noted */
    char subject[RATELIMIT_BAN_SUBJECT_MAX]; /* "" when none was noted */
    const char *reason;     /* as noted; NULL when none */
    unsigned level;         /* earlier offences when it was given */
    bool shared;            /* written to Redis too */
    uint64_t left_ns;       /* until it ends */
};

/*
 * Copy up to max live bans into out, in table order, and return how
 * many were copied; *total (when not NULL) is the number of live bans.
 * One bucket is locked at a time, so a ban given or lifted during the
 * walk may or may not be seen; the walk costs one lock per four slots
 * of abuse.max_bans and never touches the limit table.
 */
size_t ratelimit_bans(struct ratelimit *rl, const struct ratelimit_now *now,
                      struct ratelimit_ban_info *out, size_t max,
                      size_t *total);

/*
 * Lift every live ban whose id or subject is name (a non-empty string
 * compared whole), and forget the offences counted against it, so that
 * a next ban starts again from the first length. Returns the number
 * lifted; *first (when not NULL) is then the first of them.
 */
size_t ratelimit_unban(struct ratelimit *rl, const char *name,
                       const struct ratelimit_now *now,
                       struct ratelimit_ban_info *first);

/*
 * Enter a gauge: count one more request in flight under key unless max
 * are in flight already. AW_OK when entered (pair it with exactly one
 * ratelimit_gauge_leave), AW_DECLINED at the maximum, AW_NOMEM when the
 * gauge table has no room for a new key (the caller refuses: fail
 * closed).
 */
int ratelimit_gauge_enter(struct ratelimit *rl, uint64_t key, unsigned max);

/* Leave a gauge entered with ratelimit_gauge_enter. */
void ratelimit_gauge_leave(struct ratelimit *rl, uint64_t key);

/* Requests in flight under key now (0 for an unknown key). */
unsigned ratelimit_gauge_value(struct ratelimit *rl, uint64_t key);

/* Counters since ratelimit_new, for metrics and tests. */
struct ratelimit_stats {
    uint64_t evictions;     /* live limit states pushed out */
    uint64_t ban_evictions; /* live bans or offence counts pushed out */
    uint64_t bans;          /* bans given */
    uint64_t lifts;         /* bans lifted by ratelimit_unban */
    uint64_t fleet_outages; /* times the fleet lost Redis (every worker
                               connection down or failing) */
    uint64_t fleet_fallbacks; /* fleet decisions made locally instead:
                               Redis down, slow or refusing */
    uint64_t fleet_decisions; /* decisions Redis answered */
};

void ratelimit_stats(const struct ratelimit *rl, struct ratelimit_stats *s);

/*
 * Fleet mode: limits and bans shared by several gateways through one
 * Redis server. Each worker has its own struct ratelimit_fleet, one
 * hiredis connection driven by the worker's loop (not thread-safe: use
 * it from that loop's thread only).
 *
 * A decision is one call of a Lua script (EVALSHA): it reads the
 * server's clock (TIME), checks the request's bans, then every rate
 * and quota, and counts the request against all of them only when all
 * admit it, atomically. The clock is the server's so that gateways
 * whose clocks disagree still share one timeline: a gateway running
 * ahead would otherwise see every shared state as older than it is
 * and admit more.
 *
 * Keys in Redis are the prefix, a kind and the hex of the first 16
 * bytes of a SHA-256 of the key material (ratelimit_fleet_key): the
 * same on every gateway, fixed in length, and with no client text in
 * Redis.
 */
#define RATELIMIT_FLEET_KEY_HEX RATELIMIT_BAN_ID_HEX
#define RATELIMIT_FLEET_MAX_ITEMS 24   /* limits and bans of one call */

struct loop;
struct ratelimit_fleet;

struct ratelimit_fleet_opts {
    const char *address;      /* "host:port" or a unix path; borrowed */
    const char *password;     /* NULL: no AUTH; copied */
    const char *prefix;       /* key prefix; copied, at most 64 bytes */
    uint64_t connect_timeout_ms;
    uint64_t backoff_max_ms;  /* reconnection waits grow to this */
    unsigned max_pending;     /* decisions in flight, at least 1 */
};

/*
 * The fleet key of key material: hex digits of SHA-256 over each part
 * with its length, after kind. out has RATELIMIT_FLEET_KEY_HEX + 1
 * bytes; it is NUL-terminated.
 */
void ratelimit_fleet_key(const char *kind, const struct slice *parts,
                         size_t n, char *out);

/* One thing a decision checks. */
struct ratelimit_fleet_item {
    const struct ratelimit_rule *rule; /* NULL: a ban key */
    char key[RATELIMIT_FLEET_KEY_HEX + 1]; /* from ratelimit_fleet_key */
    uint64_t quota_index;     /* a quota: its period, from
                                 ratelimit_calendar */
    uint64_t quota_left_s;    /* a quota: seconds to the period's end */
};

/* What Redis decided, or that it did not. */
struct ratelimit_fleet_answer {
    int rc;                   /* AW_OK: decided; AW_IO: no answer (down,
                                 timed out, error): decide locally */
    bool allowed;
    bool banned;              /* refused by a ban item */
    size_t index;             /* refused: the item that refused */
    uint64_t retry_ns;        /* refused: until the next admission or the
                                 ban's end */
};

/*
 * Called once per decision that ratelimit_fleet_check accepted, never
 * from inside that call, unless it was cancelled first.
 */
typedef void (*ratelimit_fleet_cb)(void *arg,
                                   const struct ratelimit_fleet_answer *a);

/*
 * Make the fleet client of one worker and start connecting. rl receives
 * the fleet counters. AW_OK with *out set, AW_INVALID for a bad address,
 * AW_NOMEM.
 */
int ratelimit_fleet_new(struct ratelimit *rl, struct loop *l,
                        const struct ratelimit_fleet_opts *o,
                        struct ratelimit_fleet **out);

/*
 * Close the connection and free; callbacks of pending decisions run
 * first with rc AW_IO. Accepts NULL.
 */
void ratelimit_fleet_free(struct ratelimit_fleet *f);

/*
 * Ask Redis to decide on items[0..n), n <= RATELIMIT_FLEET_MAX_ITEMS.
 * AW_AGAIN: sent; cb(arg, answer) follows, and *ticket names the
 * decision for ratelimit_fleet_cancel. AW_DECLINED: Redis is not usable
 * now or too many decisions are pending (decide locally; counted as a
 * fallback).
 */
int ratelimit_fleet_check(struct ratelimit_fleet *f,
                          const struct ratelimit_fleet_item *items, size_t n,
                          ratelimit_fleet_cb cb, void *arg, void **ticket);

/*
 * Forget the decision of ticket: its callback will not run. When
 * timed_out, the caller gave up waiting: the connection is taken as
 * failing, closed and opened again, and the outage is counted.
 */
void ratelimit_fleet_cancel(struct ratelimit_fleet *f, void *ticket,
                            bool timed_out);

/*
 * Write a ban of key (a fleet key) lasting ttl_ns for every gateway;
 * fire and forget (a ban that cannot be written stays local). A longer
 * ban already there is kept.
 */
void ratelimit_fleet_ban(struct ratelimit_fleet *f, const char *key,
                         uint64_t ttl_ns);

/* True while the connection is up and the script loaded. */
bool ratelimit_fleet_ready(const struct ratelimit_fleet *f);

/*
 * The fleet's bans for an operator, from the admin thread: each call
 * below opens a blocking connection of its own (o->connect_timeout_ms
 * bounds the connection and each command; max_pending and
 * backoff_max_ms are not read), and closes it before returning.
 */
#define RATELIMIT_FLEET_SCAN_CALLS 64   /* SCAN calls of one listing */

struct ratelimit_fleet_ban {
    char id[RATELIMIT_FLEET_KEY_HEX + 1]; /* the ban's fleet key */
    uint64_t left_ns;                     /* until it ends */
};

/*
 * Up to max bans in Redis under o->prefix into out (SCAN MATCH, at most
 * RATELIMIT_FLEET_SCAN_CALLS calls, then PTTL of each); *n is the
 * number copied and *more is true when a bound ended the scan before
 * Redis did. AW_OK, AW_INVALID (an address that does not parse) or
 * AW_IO (no connection, an error or a timeout; *n may then hold the
 * bans read before it).
 */
int ratelimit_fleet_bans(const struct ratelimit_fleet_opts *o,
                         struct ratelimit_fleet_ban *out, size_t max,
                         size_t *n, bool *more);

/*
 * Delete the ban whose fleet key is id (RATELIMIT_FLEET_KEY_HEX hex
 * digits) from Redis, for every gateway. AW_OK when there was one,
 * AW_DECLINED when there was none, AW_INVALID or AW_IO as above.
 */
int ratelimit_fleet_unban(const struct ratelimit_fleet_opts *o,
                          const char *id);

#endif
