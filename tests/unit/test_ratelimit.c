/*
 * Unit tests of src/ratelimit/ with the clock driven by the test: the
 * SipHash vectors, GCRA admission counts to the request, bursts,
 * several limits on one request, quota rollover at day and month
 * boundaries (UTC and an offset), eviction from a full table, escalating
 * bans, distinct-value detection, gauges, and threads sharing one key.
 * The fleet part checks the Redis command and reply ends on their own,
 * then the client on a loop against a real redis-server (skipped when
 * it is not installed): the script's counts, bans, NOSCRIPT, an outage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pthread.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "loop/loop.h"
#include "ratelimit/ratelimit.h"
#include "ratelimit/ratelimit_int.h"

#define NS RATELIMIT_NS_PER_S
#define MS (NS / 1000)
#define T0 ((uint64_t)1000 * NS)       /* any monotonic start */
#define JAN_31_2027 ((int64_t)1801353600) /* 2027-01-31T00:00:00Z */

static struct ratelimit *
make(size_t entries)
{
    struct ratelimit_opts o = {entries, 1024, 64};
    struct ratelimit *rl = NULL;

    assert_int_equal(ratelimit_new(&o, &rl), AW_OK);
    return rl;
}

static uint64_t
key_of(struct ratelimit *rl, const char *s)
{
    struct slice p = {s, strlen(s)};

    return ratelimit_key(rl, 1, &p, 1);
}

/* Requests admitted by rule r for key at now. */
static bool
take(struct ratelimit *rl, const struct ratelimit_rule *r, uint64_t key,
     uint64_t mono, int64_t wall)
{
    struct ratelimit_now now = {mono, wall};
    struct ratelimit_verdict v;

    assert_int_equal(ratelimit_check(rl, r, key, &now, true, &v), AW_OK);
    return v.allowed;
}

/* The reference vectors of the SipHash paper, key 00 01 .. 0f. */
static void
test_siphash_vectors(void **state)
{
    uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    unsigned char m[15];

    (void)state;
    for (unsigned i = 0; i < sizeof(m); i++)
        m[i] = (unsigned char)i;
    assert_true(ratelimit_siphash(k0, k1, m, 0) == 0x726fdb47dd0e0e31ULL);
    assert_true(ratelimit_siphash(k0, k1, m, 15) == 0xa129ca6149be45e5ULL);
    assert_true(ratelimit_siphash(k0, k1, m, 8) == 0x93f5f5799a932462ULL);
}

/* Parts are kept apart: ("ab","c") and ("a","bc") are two keys. */
static void
test_key_parts(void **state)
{
    struct ratelimit *rl = make(1024);
    struct slice a[] = {SLICE_LIT("ab"), SLICE_LIT("c")};
    struct slice b[] = {SLICE_LIT("a"), SLICE_LIT("bc")};

    (void)state;
    assert_true(ratelimit_key(rl, 1, a, 2) != ratelimit_key(rl, 1, b, 2));
    assert_true(ratelimit_key(rl, 1, a, 2) != ratelimit_key(rl, 2, a, 2));
    assert_true(ratelimit_key(rl, 1, a, 2) == ratelimit_key(rl, 1, a, 2));
    ratelimit_free(rl);
}

/* 10/s burst 20: 20 at once, then exactly one per 100 ms. */
static void
test_gcra_burst_then_rate(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule r;
    struct ratelimit_verdict v;
    struct ratelimit_now now = {T0, 0};
    uint64_t k = key_of(rl, "client");
    unsigned admitted = 0;

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&r, 10, 1, 20), AW_OK);
    assert_true(r.interval_ns == 100 * MS);
    for (int i = 0; i < 25; i++)
        admitted += take(rl, &r, k, T0, 0);
    assert_int_equal(admitted, 20);
    ratelimit_check(rl, &r, k, &now, false, &v);
    assert_false(v.allowed);
    assert_true(v.retry_ns == 100 * MS);
    assert_int_equal(v.remaining, 0);
    assert_false(take(rl, &r, k, T0 + 100 * MS - 1, 0));
    assert_true(take(rl, &r, k, T0 + 100 * MS, 0));
    assert_false(take(rl, &r, k, T0 + 100 * MS, 0));

    /* One request a millisecond for 10 s: one admitted per 100 ms. */
    admitted = 0;
    for (uint64_t t = 101; t <= 10100; t++)
        admitted += take(rl, &r, k, T0 + t * MS, 0);
    assert_int_equal(admitted, 100);
    ratelimit_free(rl);
}

/* A peek never counts; remaining counts down; the state empties. */
static void
test_gcra_peek_and_remaining(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule r;
    struct ratelimit_verdict v;
    struct ratelimit_now now = {T0, 0};
    uint64_t k = key_of(rl, "peek");

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&r, 5, 60, 5), AW_OK);
    for (int i = 0; i < 100; i++)
        ratelimit_check(rl, &r, k, &now, false, &v);
    assert_true(v.allowed);
    assert_int_equal(v.remaining, 4);
    assert_int_equal(v.limit, 5);
    for (unsigned i = 0; i < 5; i++) {
        ratelimit_check(rl, &r, k, &now, true, &v);
        assert_true(v.allowed);
        assert_int_equal(v.remaining, 4 - i);
    }
    assert_true(v.reset_ns == 60 * NS);
    assert_false(take(rl, &r, k, T0, 0));
    /* After a full period the whole burst is back. */
    for (int i = 0; i < 5; i++)
        assert_true(take(rl, &r, k, T0 + 60 * NS, 0));
    assert_false(take(rl, &r, k, T0 + 60 * NS, 0));
    ratelimit_free(rl);
}

/* Rounding the interval up never admits more than the rate. */
static void
test_gcra_rounding(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule r;
    uint64_t k = key_of(rl, "thirds");
    unsigned admitted = 0;

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&r, 3, 1, 1), AW_OK);
    assert_true(r.interval_ns == 333333334);
    for (uint64_t t = 0; t < 3000; t++)
        admitted += take(rl, &r, k, T0 + t * MS, 0);
    assert_int_equal(admitted, 9);
    assert_int_equal(ratelimit_rule_rate(&r, 0, 1, 1), AW_INVALID);
    assert_int_equal(ratelimit_rule_rate(&r, 1, 1, 0), AW_INVALID);
    assert_int_equal(ratelimit_rule_rate(&r, 1, (uint64_t)1 << 40, 1 << 20),
                     AW_INVALID);
    ratelimit_free(rl);
}

/*
 * 10/s burst 20 and 30/day together: the day's quota stops the
 * request that the rate would admit, and a refused request uses up
 * neither.
 */
static void
test_multi_limit(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule rate, day = {.quota = true, .count = 30,
                                       .calendar = RATELIMIT_DAY};
    const struct ratelimit_rule *rules[] = {&rate, &day};
    uint64_t keys[] = {key_of(rl, "rate"), key_of(rl, "day")};
    struct ratelimit_verdict v;
    size_t refused = 99;
    unsigned admitted = 0;

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&rate, 10, 1, 20), AW_OK);
    for (int i = 0; i < 25; i++) {
        struct ratelimit_now now = {T0, JAN_31_2027};

        admitted += ratelimit_check_all(rl, rules, keys, 2, &now, &refused,
                                        &v);
    }
    assert_int_equal(admitted, 20);
    assert_int_equal(refused, 0);
    /* Ten more seconds: the rate would admit 100, the quota has 10. */
    for (uint64_t t = 1; t <= 100; t++) {
        struct ratelimit_now now = {T0 + t * 100 * MS, JAN_31_2027 + 10};

        admitted += ratelimit_check_all(rl, rules, keys, 2, &now, &refused,
                                        &v);
    }
    assert_int_equal(admitted, 30);
    assert_int_equal(refused, 1);
    assert_false(v.allowed);
    assert_true(v.retry_ns == (uint64_t)(86400 - 10) * NS);
    /* The refusals did not count against the rate: its burst is back. */
    for (int i = 0; i < 20; i++)
        assert_true(take(rl, &rate, keys[0], T0 + 100 * NS, 0));
    ratelimit_free(rl);
}

/* A day quota starts again at midnight, UTC or at an offset. */
static void
test_quota_day_rollover(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule q = {.quota = true, .count = 3,
                               .calendar = RATELIMIT_DAY};
    uint64_t k = key_of(rl, "consumer");
    int64_t late = JAN_31_2027 + 86400 - 1;   /* 23:59:59 UTC */
    struct ratelimit_verdict v;
    struct ratelimit_now now = {T0, late};

    (void)state;
    for (int i = 0; i < 3; i++)
        assert_true(take(rl, &q, k, T0, late));
    ratelimit_check(rl, &q, k, &now, true, &v);
    assert_false(v.allowed);
    assert_true(v.retry_ns == 1 * NS);
    assert_int_equal(v.remaining, 0);
    assert_true(take(rl, &q, k, T0 + NS, late + 1));

    /* At +02:00 the day ended two hours earlier, at 22:00 UTC. */
    q.tz_offset_s = 2 * 3600;
    k = key_of(rl, "east");
    for (int i = 0; i < 3; i++)
        assert_true(take(rl, &q, k, T0, JAN_31_2027 + 22 * 3600 - 1));
    assert_false(take(rl, &q, k, T0, JAN_31_2027 + 22 * 3600 - 1));
    assert_true(take(rl, &q, k, T0 + NS, JAN_31_2027 + 22 * 3600));
    ratelimit_free(rl);
}

/* Month boundaries: January 31 to February 1, and leap February. */
static void
test_quota_month_rollover(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule q = {.quota = true, .count = 2,
                               .calendar = RATELIMIT_MONTH};
    uint64_t k = key_of(rl, "monthly"), index, left;
    int64_t feb1 = JAN_31_2027 + 86400;

    (void)state;
    ratelimit_calendar(&q, JAN_31_2027, &index, &left);
    assert_int_equal(index, 2027 * 12);
    assert_int_equal(left, 86400);
    ratelimit_calendar(&q, feb1, &index, &left);
    assert_int_equal(index, 2027 * 12 + 1);
    assert_int_equal(left, 28 * 86400);
    /* 2028-02-01T00:00:00Z: a leap February has 29 days. */
    ratelimit_calendar(&q, (int64_t)1832976000, &index, &left);
    assert_int_equal(left, 29 * 86400);
    /* December rolls into January of the next year. */
    ratelimit_calendar(&q, (int64_t)1830297600 - 1, &index, &left);
    assert_int_equal(index, 2027 * 12 + 11);
    assert_int_equal(left, 1);

    assert_true(take(rl, &q, k, T0, JAN_31_2027));
    assert_true(take(rl, &q, k, T0, JAN_31_2027 + 3600));
    assert_false(take(rl, &q, k, T0, feb1 - 1));
    assert_true(take(rl, &q, k, T0 + NS, feb1));
    ratelimit_free(rl);
}

/*
 * A full table evicts the entry closest to expiring, counts it, and
 * never grows: the evicted key starts again from a full burst.
 */
static void
test_eviction(void **state)
{
    struct ratelimit *rl = make(64);
    struct ratelimit_rule r;
    struct ratelimit_stats st;
    char name[32];

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&r, 1, 3600, 1), AW_OK);
    for (int i = 0; i < 64 * 8; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        assert_true(take(rl, &r, key_of(rl, name), T0 + (uint64_t)i, 0));
    }
    ratelimit_stats(rl, &st);
    assert_true(st.evictions >= 64 * 7);
    /* The first keys were evicted: they are admitted once more. */
    assert_true(take(rl, &r, key_of(rl, "k0"), T0 + NS, 0));
    /* The newest key is still there and refused. */
    snprintf(name, sizeof(name), "k%d", 64 * 8 - 1);
    assert_false(take(rl, &r, key_of(rl, name), T0 + NS, 0));

    /*
     * Expired entries are reused without counting an eviction. Four new
     * keys cannot fill any bucket, wherever they land.
     */
    ratelimit_stats(rl, &st);
    uint64_t before = st.evictions;

    for (int i = 0; i < STORE_WAYS; i++) {
        snprintf(name, sizeof(name), "late%d", i);
        take(rl, &r, key_of(rl, name), T0 + 7200 * NS, 0);
    }
    ratelimit_stats(rl, &st);
    assert_true(st.evictions == before);
    ratelimit_free(rl);
}

/* Bans: 60 s, then 4 times longer each time, capped at an hour. */
static void
test_ban_escalation(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_ban_policy p = {60 * NS, 3600 * NS, 4, 86400 * NS};
    uint64_t want[] = {60, 240, 960, 3600, 3600};
    uint64_t k = key_of(rl, "10.0.0.1"), d, left, t = T0;
    struct ratelimit_now now = {t, 0};
    unsigned level;

    (void)state;
    assert_false(ratelimit_banned(rl, k, &now, &left, NULL));
    for (unsigned i = 0; i < ARRAY_LEN(want); i++) {
        now.mono_ns = t;
        ratelimit_ban(rl, k, &now, &p, NULL, &d, &level);
        assert_int_equal(level, i);
        assert_true(d == want[i] * NS);
        assert_true(ratelimit_banned(rl, k, &now, &left, NULL));
        assert_true(left == want[i] * NS);
        now.mono_ns = t + d - 1;
        assert_true(ratelimit_banned(rl, k, &now, &left, NULL));
        now.mono_ns = t + d;
        assert_false(ratelimit_banned(rl, k, &now, &left, NULL));
        t += d;
    }
    /* Past the memory, an offender starts again from the first ban. */
    now.mono_ns = t + 86400 * NS + 1;
    ratelimit_ban(rl, k, &now, &p, NULL, &d, &level);
    assert_int_equal(level, 0);
    assert_true(d == 60 * NS);
    ratelimit_free(rl);
}

/* Ban k at now with a note of id and subject; returns the length. */
static uint64_t
ban_noted(struct ratelimit *rl, uint64_t k, const struct ratelimit_now *now,
          const char *id, const char *subject, bool shared)
{
    struct ratelimit_ban_policy p = {60 * NS, 3600 * NS, 4, 86400 * NS};
    struct ratelimit_ban_note note = {id, subject, "abuse.auth_failures",
                                      shared};
    uint64_t d;
    unsigned level;

    assert_int_equal(ratelimit_ban(rl, k, now, &p, &note, &d, &level),
                     AW_OK);
    return d;
}

/* The listed ban whose subject is subject, or NULL. */
static const struct ratelimit_ban_info *
find_listed(const struct ratelimit_ban_info *b, size_t n, const char *subject)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(b[i].subject, subject) == 0)
            return &b[i];
    return NULL;
}

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"
#define ID_C "00000000000000000000000000000001"

/*
 * The list shows live bans only, with their notes, never the offence
 * counts kept beside them; max bounds the copy, not the count.
 */
static void
test_ban_list(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_now now = {T0, 0};
    struct ratelimit_ban_info b[8];
    const struct ratelimit_ban_info *a;
    size_t total = 99;
    bool shared = false;
    uint64_t left;
    char longname[200];

    (void)state;
    assert_int_equal(ratelimit_bans(rl, &now, b, 8, &total), 0);
    assert_int_equal(total, 0);
    ban_noted(rl, key_of(rl, "a"), &now, ID_A, "ip:192.0.2.1", false);
    ban_noted(rl, key_of(rl, "a"), &now, ID_A, "ip:192.0.2.1", false);
    ban_noted(rl, key_of(rl, "b"), &now, ID_B, "sub:main:alice", true);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    now.mono_ns = T0 + 30 * NS;
    ban_noted(rl, key_of(rl, "c"), &now, ID_C, longname, false);
    assert_int_equal(ratelimit_bans(rl, &now, b, 8, &total), 3);
    assert_int_equal(total, 3);
    a = find_listed(b, 3, "ip:192.0.2.1");
    assert_non_null(a);
    assert_string_equal(a->id, ID_A);
    assert_string_equal(a->reason, "abuse.auth_failures");
    assert_int_equal(a->level, 1);              /* the second offence */
    assert_true(a->left_ns == 4 * 60 * NS - 30 * NS);
    assert_false(a->shared);
    a = find_listed(b, 3, "sub:main:alice");
    assert_non_null(a);
    assert_true(a->shared && a->level == 0);
    assert_true(ratelimit_banned(rl, key_of(rl, "b"), &now, &left, &shared));
    assert_true(shared);
    /* A subject too long is cut, and still a string. */
    assert_int_equal(strlen(b[0].subject) < RATELIMIT_BAN_SUBJECT_MAX, 1);
    for (int i = 0; i < 3; i++)
        assert_true(strlen(b[i].subject) < RATELIMIT_BAN_SUBJECT_MAX);
    /* max bounds the copy; the count is of all. */
    assert_int_equal(ratelimit_bans(rl, &now, b, 2, &total), 2);
    assert_int_equal(total, 3);
    /* Expired bans are not listed: b's first ban (60 s) ended. */
    now.mono_ns = T0 + 61 * NS;
    assert_int_equal(ratelimit_bans(rl, &now, b, 8, &total), 2);
    assert_null(find_listed(b, 2, "sub:main:alice"));
    ratelimit_free(rl);
}

/*
 * A lift by id or by subject ends the ban at once, forgets the
 * offences (the next ban is a first one again) and leaves other bans
 * alone; an unknown or empty name lifts nothing.
 */
static void
test_ban_lift(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_now now = {T0, 0};
    struct ratelimit_ban_info first, b[4];
    struct ratelimit_stats st;
    uint64_t ka = key_of(rl, "a"), kb = key_of(rl, "b"), left;
    size_t total;

    (void)state;
    ban_noted(rl, ka, &now, ID_A, "ip:192.0.2.1", false);
    ban_noted(rl, ka, &now, ID_A, "ip:192.0.2.1", false);
    ban_noted(rl, kb, &now, ID_B, "ip:192.0.2.2", false);
    assert_int_equal(ratelimit_unban(rl, "", &now, &first), 0);
    assert_int_equal(ratelimit_unban(rl, ID_C, &now, &first), 0);
    assert_int_equal(ratelimit_unban(rl, "ip:192.0.2.3", &now, NULL), 0);

    assert_int_equal(ratelimit_unban(rl, ID_A, &now, &first), 1);
    assert_string_equal(first.subject, "ip:192.0.2.1");
    assert_int_equal(first.level, 1);
    assert_false(ratelimit_banned(rl, ka, &now, &left, NULL));
    assert_true(ratelimit_banned(rl, kb, &now, &left, NULL));
    assert_int_equal(ratelimit_bans(rl, &now, b, 4, &total), 1);
    assert_string_equal(b[0].id, ID_B);
    /* Forgiven: banned again, a is a first offender. */
    assert_true(ban_noted(rl, ka, &now, ID_A, "ip:192.0.2.1", false) ==
                60 * NS);
    assert_int_equal(ratelimit_unban(rl, ID_A, &now, NULL), 1);
    assert_int_equal(ratelimit_unban(rl, ID_A, &now, NULL), 0);

    /* A shared ban's local copy is forgotten on Redis's word; a local
       one is not. */
    ban_noted(rl, key_of(rl, "s"), &now, ID_C, "ip:192.0.2.9", true);
    assert_false(ratelimit_unban_shared(rl, kb, &now));
    assert_true(ratelimit_banned(rl, kb, &now, &left, NULL));
    assert_true(ratelimit_unban_shared(rl, key_of(rl, "s"), &now));
    assert_false(ratelimit_banned(rl, key_of(rl, "s"), &now, &left, NULL));
    assert_false(ratelimit_unban_shared(rl, key_of(rl, "s"), &now));

    assert_int_equal(ratelimit_unban(rl, "ip:192.0.2.2", &now, &first), 1);
    assert_string_equal(first.id, ID_B);
    assert_false(ratelimit_banned(rl, kb, &now, &left, NULL));
    assert_int_equal(ratelimit_bans(rl, &now, b, 4, &total), 0);
    ratelimit_stats(rl, &st);
    assert_true(st.bans == 5 && st.lifts == 3);
    ratelimit_free(rl);
}

/* A full ban table: the list stays bounded by the table's size. */
static void
test_ban_list_full_table(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_now now = {T0, 0};
    static struct ratelimit_ban_info b[4096];
    size_t total, n;
    char name[32];

    (void)state;
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "k%d", i);
        ban_noted(rl, key_of(rl, name), &now, ID_A, name, false);
    }
    n = ratelimit_bans(rl, &now, b, ARRAY_LEN(b), &total);
    assert_int_equal(n, total);
    assert_true(total > 0 && total <= 1024);
    /* Every ban listed is one of those given, and banned. */
    for (size_t i = 0; i < n; i++) {
        uint64_t left;

        assert_int_equal(b[i].subject[0], 'k');
        assert_true(ratelimit_banned(rl, key_of(rl, b[i].subject), &now,
                                     &left, NULL));
    }
    /* Lifting by the shared id clears them all. */
    assert_int_equal(ratelimit_unban(rl, ID_A, &now, NULL), total);
    assert_int_equal(ratelimit_bans(rl, &now, b, ARRAY_LEN(b), &total), 0);
    ratelimit_free(rl);
}

/* Bans given, checked, listed and lifted from several threads at once. */
struct ban_race {
    struct ratelimit *rl;
    int id;
};

static void *
ban_racer(void *arg)
{
    struct ban_race *br = arg;
    struct ratelimit_now now = {T0, 0};
    struct ratelimit_ban_info b[64];
    char name[32];
    size_t total;
    uint64_t left;

    for (int i = 0; i < 2000; i++) {
        uint64_t k;

        snprintf(name, sizeof(name), "ip:%d.%d", br->id == 0 ? 1 : br->id,
                 i % 50);
        k = key_of(br->rl, name);
        if (br->id == 0) {
            /* Lists and lifts thread 1's bans while they are given. */
            ratelimit_bans(br->rl, &now, b, ARRAY_LEN(b), &total);
            ratelimit_unban(br->rl, name, &now, NULL);
        } else {
            ban_noted(br->rl, k, &now, ID_A, name, false);
            ratelimit_banned(br->rl, k, &now, &left, NULL);
        }
    }
    return NULL;
}

static void
test_ban_threads(void **state)
{
    struct ratelimit_opts o = {1024, 65536, 64};
    struct ratelimit *rl = NULL;
    struct ban_race br[3];
    pthread_t t[3];
    struct ratelimit_now now = {T0, 0};
    struct ratelimit_ban_info b[256];
    char name[32];
    size_t total;

    (void)state;
    assert_int_equal(ratelimit_new(&o, &rl), AW_OK);
    for (int i = 0; i < 3; i++) {
        br[i] = (struct ban_race){rl, i};
        assert_int_equal(pthread_create(&t[i], NULL, ban_racer, &br[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    /* Whatever the race left of thread 1's, thread 2's 50 are all there. */
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "ip:1.%d", i);
        ratelimit_unban(rl, name, &now, NULL);
    }
    assert_int_equal(ratelimit_bans(rl, &now, b, ARRAY_LEN(b), &total), 50);
    for (size_t i = 0; i < 50; i++)
        assert_memory_equal(b[i].subject, "ip:2.", 5);
    ratelimit_free(rl);
}

/* Detectors: the event past the threshold is the offence. */
static void
test_event_threshold(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule r;
    struct ratelimit_now now = {T0, 0};
    uint64_t k = key_of(rl, "failures");

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&r, 5, 60, 5), AW_OK);
    for (int i = 0; i < 5; i++)
        assert_false(ratelimit_event(rl, &r, k, &now));
    assert_true(ratelimit_event(rl, &r, k, &now));
    /* Slow failures, one per 12 s, never cross it. */
    k = key_of(rl, "slow");
    for (uint64_t i = 0; i < 100; i++) {
        now.mono_ns = T0 + i * 12 * NS;
        assert_false(ratelimit_event(rl, &r, k, &now));
    }
    ratelimit_free(rl);
}

static void
test_first_seen(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_now now = {T0, 0};
    uint64_t k = key_of(rl, "users/7");

    (void)state;
    assert_true(ratelimit_first_seen(rl, k, &now, 60 * NS));
    assert_false(ratelimit_first_seen(rl, k, &now, 60 * NS));
    now.mono_ns = T0 + 59 * NS;
    assert_false(ratelimit_first_seen(rl, k, &now, 60 * NS));
    now.mono_ns = T0 + 60 * NS;
    assert_true(ratelimit_first_seen(rl, k, &now, 60 * NS));
    ratelimit_free(rl);
}

static void
test_gauges(void **state)
{
    struct ratelimit *rl = make(1024);
    uint64_t k = key_of(rl, "route/orders");

    (void)state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_gauge_enter(rl, k, 3), AW_OK);
    assert_int_equal(ratelimit_gauge_enter(rl, k, 3), AW_DECLINED);
    assert_int_equal(ratelimit_gauge_value(rl, k), 3);
    ratelimit_gauge_leave(rl, k);
    assert_int_equal(ratelimit_gauge_enter(rl, k, 3), AW_OK);
    for (int i = 0; i < 3; i++)
        ratelimit_gauge_leave(rl, k);
    assert_int_equal(ratelimit_gauge_value(rl, k), 0);
    /* A full table refuses a new name rather than not counting it. */
    {
        char name[16];
        int full = 0;

        for (int i = 0; i < 200; i++) {
            snprintf(name, sizeof(name), "g%d", i);
            full += ratelimit_gauge_enter(rl, key_of(rl, name), 1) ==
                    AW_NOMEM;
        }
        assert_true(full > 0);
    }
    ratelimit_free(rl);
}

struct racer {
    struct ratelimit *rl;
    const struct ratelimit_rule *r;
    uint64_t key;
    unsigned admitted;
};

static void *
race(void *arg)
{
    struct racer *x = arg;

    for (int i = 0; i < 20000; i++)
        x->admitted += take(x->rl, x->r, x->key, T0, 0);
    return NULL;
}

/* Threads on one key at one instant admit exactly the burst. */
static void
test_threads_share(void **state)
{
    struct ratelimit *rl = make(1024);
    struct ratelimit_rule r;
    struct racer x[4];
    pthread_t th[4];
    unsigned total = 0;

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&r, 1, 1, 5000), AW_OK);
    for (int i = 0; i < 4; i++) {
        x[i] = (struct racer){rl, &r, key_of(rl, "shared"), 0};
        assert_int_equal(pthread_create(&th[i], NULL, race, &x[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += x[i].admitted;
    }
    assert_int_equal(total, 5000);
    ratelimit_free(rl);
}

/* The fleet key: fixed length, hex, stable, and part boundaries count. */
static void
test_fleet_key(void **state)
{
    struct slice ab[] = {SLICE_LIT("ab"), SLICE_LIT("c")};
    struct slice a_bc[] = {SLICE_LIT("a"), SLICE_LIT("bc")};
    char k1[RATELIMIT_FLEET_KEY_HEX + 1], k2[RATELIMIT_FLEET_KEY_HEX + 1];
    char k3[RATELIMIT_FLEET_KEY_HEX + 1];

    (void)state;
    ratelimit_fleet_key("limit", ab, 2, k1);
    ratelimit_fleet_key("limit", ab, 2, k2);
    ratelimit_fleet_key("limit", a_bc, 2, k3);
    assert_int_equal(strlen(k1), RATELIMIT_FLEET_KEY_HEX);
    assert_int_equal(strspn(k1, "0123456789abcdef"), RATELIMIT_FLEET_KEY_HEX);
    assert_string_equal(k1, k2);
    assert_string_not_equal(k1, k3);
    ratelimit_fleet_key("ip", ab, 2, k3);
    assert_string_not_equal(k1, k3);
}

/* Bans go first in the key list; a limit's values follow its kind. */
static void
test_fleet_cmd(void **state)
{
    static struct fleet_cmd cmd;
    struct ratelimit_rule rate, quota = {.quota = true, .count = 7};
    struct ratelimit_fleet_item it[3] = {0};
    uint8_t map[RATELIMIT_FLEET_MAX_ITEMS];

    (void)state;
    assert_int_equal(ratelimit_rule_rate(&rate, 3, 1, 2), AW_OK);
    it[0].rule = &rate;
    memcpy(it[0].key, "aa", 3);
    it[1].rule = NULL;
    memcpy(it[1].key, "bb", 3);
    it[2].rule = &quota;
    memcpy(it[2].key, "cc", 3);
    it[2].quota_index = 20000;
    it[2].quota_left_s = 60;
    assert_int_equal(fleet_cmd_build(&cmd, "SHA", "p:", it, 3, map), AW_OK);
    assert_int_equal(cmd.argc, 3 + 3 + 1 + 6);
    assert_string_equal(cmd.argv[0], "EVALSHA");
    assert_string_equal(cmd.argv[2], "3");
    assert_string_equal(cmd.argv[3], "p:ban:bb");
    assert_string_equal(cmd.argv[4], "p:rate:aa");
    assert_string_equal(cmd.argv[5], "p:quota:cc:20000");
    assert_string_equal(cmd.argv[6], "1");
    /* 1/3 s rounded up to the microsecond, burst 2. */
    assert_string_equal(cmd.argv[7], "r");
    assert_string_equal(cmd.argv[8], "333334");
    assert_string_equal(cmd.argv[9], "2");
    assert_string_equal(cmd.argv[10], "q");
    assert_string_equal(cmd.argv[11], "7");
    assert_string_equal(cmd.argv[12], "60000");
    assert_int_equal(map[0], 1);
    assert_int_equal(map[1], 0);
    assert_int_equal(map[2], 2);
    assert_int_equal(fleet_cmd_build(&cmd, "SHA", "p:", it, 0, map),
                     AW_INVALID);
    assert_int_equal(fleet_cmd_build(&cmd, "SHA", "p:", it,
                                     RATELIMIT_FLEET_MAX_ITEMS + 1, map),
                     AW_INVALID);
}

/* A reply {status, key, micros} of three integers; anything else. */
static void
test_fleet_reply(void **state)
{
    redisReply e[3] = {{.type = REDIS_REPLY_INTEGER},
                       {.type = REDIS_REPLY_INTEGER},
                       {.type = REDIS_REPLY_INTEGER}};
    redisReply *ep[3] = {&e[0], &e[1], &e[2]};
    redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 3,
                      .element = ep};
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = "NOSCRIPT", .len = 8};
    uint8_t map[3] = {1, 0, 2};
    struct ratelimit_fleet_answer a;

    (void)state;
    e[0].integer = 1;
    assert_int_equal(fleet_reply_read(&arr, map, 3, &a), AW_OK);
    assert_true(a.allowed);
    e[0].integer = 0;
    e[1].integer = 2;
    e[2].integer = 1500;
    assert_int_equal(fleet_reply_read(&arr, map, 3, &a), AW_OK);
    assert_false(a.allowed);
    assert_false(a.banned);
    assert_int_equal(a.index, 0);
    assert_int_equal(a.retry_ns, 1500000);
    e[0].integer = 2;
    e[1].integer = 1;
    assert_int_equal(fleet_reply_read(&arr, map, 3, &a), AW_OK);
    assert_true(a.banned);
    assert_int_equal(a.index, 1);
    e[1].integer = 4;           /* no such key */
    assert_int_equal(fleet_reply_read(&arr, map, 3, &a), AW_INVALID);
    assert_int_equal(a.rc, AW_IO);
    e[1].integer = 1;
    e[0].integer = 5;           /* no such status */
    assert_int_equal(fleet_reply_read(&arr, map, 3, &a), AW_INVALID);
    assert_int_equal(fleet_reply_read(&err, map, 3, &a), AW_INVALID);
    assert_int_equal(fleet_reply_read(NULL, map, 3, &a), AW_INVALID);
    arr.elements = 2;
    assert_int_equal(fleet_reply_read(&arr, map, 3, &a), AW_INVALID);
}

/*
 * The fleet client against a real redis-server on a free loopback port:
 * the adapter on a loop, the script's arithmetic (the same counts as
 * the local GCRA), bans, NOSCRIPT and an outage.
 */
struct redis_proc {
    pid_t pid;
    int port;
};

static int
free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Start redis-server; false when it is not installed or did not start. */
static bool
redis_start(struct redis_proc *r)
{
    char port[16];

    r->port = free_port();
    snprintf(port, sizeof(port), "%d", r->port);
    r->pid = fork();
    if (r->pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind",
               "127.0.0.1", "--save", "", "--appendonly", "no",
               "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 250; i++) {
        redisContext *c = redisConnect("127.0.0.1", r->port);
        bool up = c != NULL && c->err == 0;

        redisFree(c);
        if (up)
            return true;
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid)
            return false;
        usleep(20000);
    }
    return false;
}

static void
redis_stop(struct redis_proc *r)
{
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
}

/* One command on a blocking connection of the test's own. */
static void
redis_command(const struct redis_proc *r, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", r->port);
    redisReply *reply;

    assert_non_null(c);
    reply = redisCommand(c, cmd);
    assert_non_null(reply);
    freeReplyObject(reply);
    redisFree(c);
}

struct fleet_run {
    struct loop loop;
    struct loop_timer poll;
    struct ratelimit *rl;
    struct ratelimit_fleet *f;
    uint64_t deadline;
    bool answered;
    struct ratelimit_fleet_answer a;
};

/* Every tick: stop once ready (when waiting for that) or past the end. */
static void
on_poll(struct loop_timer *t)
{
    struct fleet_run *fr =
        (struct fleet_run *)((char *)t - offsetof(struct fleet_run, poll));

    if (fr->loop.now >= fr->deadline || ratelimit_fleet_ready(fr->f)) {
        loop_stop(&fr->loop);
        return;
    }
    loop_timer_set(&fr->loop, t, LOOP_TICK_MS);
}

static void
run_loop(struct fleet_run *fr, uint64_t ms)
{
    fr->loop.stop = false;
    fr->loop.now = clock_mono_ms();
    fr->deadline = fr->loop.now + ms;
    loop_timer_set(&fr->loop, &fr->poll, LOOP_TICK_MS);
    assert_int_equal(loop_run(&fr->loop), AW_OK);
    loop_timer_cancel(&fr->loop, &fr->poll);
}

static void
on_answer(void *arg, const struct ratelimit_fleet_answer *a)
{
    struct fleet_run *fr = arg;

    fr->answered = true;
    fr->a = *a;
    loop_stop(&fr->loop);
}

/* One decision, waited for; AW_DECLINED when the client refused it. */
static int
decide(struct fleet_run *fr, const struct ratelimit_fleet_item *items,
       size_t n)
{
    void *ticket = NULL;
    int rc = ratelimit_fleet_check(fr->f, items, n, on_answer, fr, &ticket);

    if (rc != AW_AGAIN)
        return rc;
    fr->answered = false;
    fr->loop.stop = false;
    while (!fr->answered) {
        fr->loop.stop = false;
        assert_int_equal(loop_run(&fr->loop), AW_OK);
    }
    return AW_OK;
}

static void
fleet_setup(struct fleet_run *fr, const struct redis_proc *r)
{
    char addr[32];
    struct ratelimit_fleet_opts o = {addr, NULL, "t:", 2000, 200, 8};

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", r->port);
    memset(fr, 0, sizeof(*fr));
    assert_int_equal(loop_init(&fr->loop, NULL, NULL), AW_OK);
    fr->poll.on_expire = on_poll;
    fr->rl = make(1024);
    assert_int_equal(ratelimit_fleet_new(fr->rl, &fr->loop, &o, &fr->f),
                     AW_OK);
    run_loop(fr, 5000);
    assert_true(ratelimit_fleet_ready(fr->f));
}

static void
fleet_teardown(struct fleet_run *fr)
{
    ratelimit_fleet_free(fr->f);
    loop_fini(&fr->loop);
    ratelimit_free(fr->rl);
}

static void
item(struct ratelimit_fleet_item *it, const struct ratelimit_rule *r,
     const char *name)
{
    struct slice p = {name, strlen(name)};

    memset(it, 0, sizeof(*it));
    it->rule = r;
    ratelimit_fleet_key(r != NULL ? "limit" : "ip", &p, 1, it->key);
    it->quota_index = 7;
    it->quota_left_s = 3600;
}

/* 1/min with a burst of 3: three admitted, then one in 20 s. */
static void
fleet_rate(struct fleet_run *fr)
{
    struct ratelimit_rule rate;
    struct ratelimit_fleet_item it;

    assert_int_equal(ratelimit_rule_rate(&rate, 3, 60, 3), AW_OK);
    item(&it, &rate, "rate");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(decide(fr, &it, 1), AW_OK);
        assert_int_equal(fr->a.rc, AW_OK);
        assert_true(fr->a.allowed);
    }
    assert_int_equal(decide(fr, &it, 1), AW_OK);
    assert_int_equal(fr->a.rc, AW_OK);
    assert_false(fr->a.allowed);
    assert_int_equal(fr->a.index, 0);
    assert_true(fr->a.retry_ns > 19 * NS && fr->a.retry_ns <= 20 * NS);
}

/*
 * A rate and a quota together: the quota refuses the third request,
 * which the rate then did not count (three more fit in its burst of 5).
 */
static void
fleet_all_or_nothing(struct fleet_run *fr)
{
    struct ratelimit_rule rate, quota = {.quota = true, .count = 2};
    struct ratelimit_fleet_item it[2];

    assert_int_equal(ratelimit_rule_rate(&rate, 5, 3600, 5), AW_OK);
    item(&it[0], &rate, "both-rate");
    item(&it[1], &quota, "both-quota");
    for (int i = 0; i < 2; i++) {
        assert_int_equal(decide(fr, it, 2), AW_OK);
        assert_true(fr->a.allowed);
    }
    assert_int_equal(decide(fr, it, 2), AW_OK);
    assert_false(fr->a.allowed);
    assert_int_equal(fr->a.index, 1);
    assert_true(fr->a.retry_ns > 3500 * NS && fr->a.retry_ns <= 3600 * NS);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(decide(fr, it, 1), AW_OK);
        assert_true(fr->a.allowed);
    }
    assert_int_equal(decide(fr, it, 1), AW_OK);
    assert_false(fr->a.allowed);
}

/* A ban written is seen by the next decision, before any limit. */
static void
fleet_ban(struct fleet_run *fr)
{
    struct ratelimit_rule rate;
    struct ratelimit_fleet_item it[2];

    assert_int_equal(ratelimit_rule_rate(&rate, 100, 1, 100), AW_OK);
    item(&it[0], &rate, "ban-rate");
    item(&it[1], NULL, "10.0.0.1");
    assert_int_equal(decide(fr, it, 2), AW_OK);
    assert_true(fr->a.allowed);
    ratelimit_fleet_ban(fr->f, it[1].key, 60 * NS);
    ratelimit_fleet_ban(fr->f, it[1].key, 5 * NS);  /* shorter: kept 60 */
    assert_int_equal(decide(fr, it, 2), AW_OK);
    assert_false(fr->a.allowed);
    assert_true(fr->a.banned);
    assert_int_equal(fr->a.index, 1);
    assert_true(fr->a.retry_ns > 55 * NS && fr->a.retry_ns <= 60 * NS);
}

/*
 * The admin thread's view of the fleet's bans: the ban just written is
 * listed with its time left, deleted once, then gone; keys of other
 * shapes under the prefix are not bans; an unreachable Redis is AW_IO.
 */
static void
fleet_ctl(struct fleet_run *fr, const struct redis_proc *r)
{
    char addr[32];
    struct ratelimit_fleet_opts o = {addr, NULL, "t:", 2000, 200, 8};
    struct ratelimit_fleet_ban b[8];
    struct ratelimit_fleet_item it;
    size_t n;
    bool more;

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", r->port);
    item(&it, NULL, "10.0.0.1");                /* banned by fleet_ban */
    redis_command(r, "SET t:ban:not-a-ban 1");
    assert_int_equal(ratelimit_fleet_bans(&o, b, 8, &n, &more), AW_OK);
    assert_int_equal(n, 1);
    assert_false(more);
    assert_string_equal(b[0].id, it.key);
    assert_true(b[0].left_ns > 50 * NS && b[0].left_ns <= 60 * NS);
    assert_int_equal(ratelimit_fleet_unban(&o, it.key), AW_OK);
    assert_int_equal(ratelimit_fleet_unban(&o, it.key), AW_DECLINED);
    assert_int_equal(ratelimit_fleet_bans(&o, b, 8, &n, &more), AW_OK);
    assert_int_equal(n, 0);
    /* The next decision no longer sees the ban. */
    assert_int_equal(decide(fr, &it, 1), AW_OK);
    assert_true(fr->a.allowed);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", 1);
    assert_int_equal(ratelimit_fleet_unban(&o, it.key), AW_IO);
    o.address = "no port";
    assert_int_equal(ratelimit_fleet_bans(&o, b, 8, &n, &more), AW_INVALID);
}

static void
test_fleet_redis(void **state)
{
    struct redis_proc r;
    struct fleet_run fr;
    struct ratelimit_stats st;
    struct ratelimit_rule rate;
    struct ratelimit_fleet_item it;

    (void)state;
    if (!redis_start(&r))
        skip();
    fleet_setup(&fr, &r);
    fleet_rate(&fr);
    fleet_all_or_nothing(&fr);
    fleet_ban(&fr);
    fleet_ctl(&fr, &r);

    /* A flushed script is sent again as EVAL, and decides. */
    redis_command(&r, "SCRIPT FLUSH");
    assert_int_equal(ratelimit_rule_rate(&rate, 10, 1, 10), AW_OK);
    item(&it, &rate, "flushed");
    assert_int_equal(decide(&fr, &it, 1), AW_OK);
    assert_int_equal(fr.a.rc, AW_OK);
    assert_true(fr.a.allowed);

    /* A key of another type under the prefix: an error, decided here. */
    {
        char cmd[128];

        item(&it, &rate, "wrongtype");
        snprintf(cmd, sizeof(cmd), "LPUSH t:rate:%s x", it.key);
        redis_command(&r, cmd);
        assert_int_equal(decide(&fr, &it, 1), AW_OK);
        assert_int_equal(fr.a.rc, AW_IO);
    }

    /* Redis gone: no answer, one outage, then refused at once. */
    redis_stop(&r);
    assert_int_equal(decide(&fr, &it, 1), AW_OK);
    assert_int_equal(fr.a.rc, AW_IO);
    assert_int_equal(decide(&fr, &it, 1), AW_DECLINED);
    ratelimit_stats(fr.rl, &st);
    assert_int_equal(st.fleet_outages, 1);
    assert_int_equal(st.fleet_fallbacks, 3);
    assert_int_equal(st.fleet_decisions, 15);
    fleet_teardown(&fr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_key_parts),
        cmocka_unit_test(test_gcra_burst_then_rate),
        cmocka_unit_test(test_gcra_peek_and_remaining),
        cmocka_unit_test(test_gcra_rounding),
        cmocka_unit_test(test_multi_limit),
        cmocka_unit_test(test_quota_day_rollover),
        cmocka_unit_test(test_quota_month_rollover),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_ban_escalation),
        cmocka_unit_test(test_ban_list),
        cmocka_unit_test(test_ban_lift),
        cmocka_unit_test(test_ban_list_full_table),
        cmocka_unit_test(test_ban_threads),
        cmocka_unit_test(test_event_threshold),
        cmocka_unit_test(test_first_seen),
        cmocka_unit_test(test_gauges),
        cmocka_unit_test(test_threads_share),
        cmocka_unit_test(test_fleet_key),
        cmocka_unit_test(test_fleet_cmd),
        cmocka_unit_test(test_fleet_reply),
        cmocka_unit_test(test_fleet_redis),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
