/*
 * Abuse defence in the pipeline: the guard stage's checks of the client
 * address, the limit stage after authorize, and the observation of every
 * request as it ends.
 *
 * - proxy_guard refuses a banned client address, then checks the
 *   route's limits whose key is known before authentication (address,
 *   route, header fields), so that a flood costs no signature check.
 * - proxy_limit refuses a banned principal, checks the route's other
 *   limits and quotas, then counts the request in flight on its route
 *   and upstream.
 * - proxy_observe feeds the ban detectors (authentication failures,
 *   bursts of 4xx, enumeration of path parameters) and gives back the
 *   in-flight counts; proxy_limit_release gives them back for a request
 *   that ends without being observed (the client went away).
 *
 * Every limit of a stage is checked before any counts the request
 * (ratelimit_check_all), so that a request refused by its daily quota
 * does not use up its per-second rate.
 *
 * The state lives in one process-wide struct ratelimit, made on first
 * use with the sizes of the snapshot of that moment (limits.rate_states
 * and abuse.max_bans are read then only).
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "json/json.h"
#include "proxy.h"
#include "proxy_int.h"
#include "ratelimit/ratelimit.h"
#include "telemetry/telemetry.h"

/* Domains of ratelimit_key, so that equal material never shares state. */
enum {
    DOMAIN_LIMIT = 1,
    DOMAIN_BAN,
    DOMAIN_AUTH_FAIL,
    DOMAIN_CLIENT_ERR,
    DOMAIN_ENUM_SEEN,
    DOMAIN_ENUM_NEW,
    DOMAIN_GAUGE,
};

#define LIMIT_GAUGES 4096          /* routes and upstreams with a
                                      maximum in flight */
#define LIMIT_MAX_PER_ROUTE 16     /* at least the loader's bound */
#define LIMIT_FIELDS_MAX 512       /* RateLimit-Policy and RateLimit lines */
#define LIMIT_CLAIM_PATH_MAX 256

/* Key material of a part the request lacks; no header or claim is it. */
static const struct slice absent = {"\xff\x00", 2};

static _Atomic(struct ratelimit *) limit_rl;
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;
static bool limit_failed;       /* under limit_lock */

/*
 * The process-wide state, made on first call; NULL when it could not
 * be (callers then refuse what needs it, and the tables are not tried
 * again, which would log on every request).
 */
static struct ratelimit *
limit_state(const struct config *cfg)
{
    struct ratelimit *rl = atomic_load_explicit(&limit_rl,
                                                memory_order_acquire);
    struct ratelimit_opts o = {cfg->rl_entries, cfg->rl_ban_entries,
                               LIMIT_GAUGES};

    if (likely(rl != NULL))
        return rl;
    pthread_mutex_lock(&limit_lock);
    rl = atomic_load(&limit_rl);
    if (rl == NULL && !limit_failed) {
        if (ratelimit_new(&o, &rl) == AW_OK) {
            atomic_store_explicit(&limit_rl, rl, memory_order_release);
        } else {
            limit_failed = true;
            log_error("ratelimit: no memory for the limit tables; "
                      "requests that need them are refused");
        }
    }
    pthread_mutex_unlock(&limit_lock);
    return rl;
}

static struct ratelimit_now
limit_now(void)
{
    return (struct ratelimit_now){clock_mono_us() * 1000 + 1,
                                  (int64_t)(clock_wall_ms() / 1000)};
}

static bool
abuse_on(const struct config *cfg)
{
    return cfg->abuse.auth_failures.threshold > 0 ||
           cfg->abuse.client_errors.threshold > 0 ||
           cfg->abuse.enumeration.threshold > 0;
}

/*
 * The client address cut to bits of prefix, into buf (16 bytes). An
 * IPv4-mapped IPv6 address counts as the IPv4 address it holds.
 */
static struct slice
peer_prefix(const struct conn *c, unsigned v4_bits, unsigned v6_bits,
            unsigned char *buf)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->peer;
    size_t len = 0;
    unsigned bits = 0;

    if (sa->sa_family == AF_INET) {
        memcpy(buf, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        len = 4;
        bits = v4_bits;
    } else if (sa->sa_family == AF_INET6) {
        const unsigned char *a =
            ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        bool mapped = IN6_IS_ADDR_V4MAPPED(
            &((const struct sockaddr_in6 *)sa)->sin6_addr);

        len = mapped ? 4 : 16;
        bits = mapped ? v4_bits : v6_bits;
        memcpy(buf, mapped ? a + 12 : a, len);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i
                                                                 : 0;

        buf[i] &= (unsigned char)(0xff00u >> keep);
    }
    return len > 0 ? (struct slice){(const char *)buf, len} : absent;
}

/*
 * A claim by name: a whole-name match first (claims named after URLs),
 * then a dotted walk through objects, as the identity module reads
 * them. A segment longer than the buffer finds nothing.
 */
static const struct json_value *
claim_lookup(const struct json_value *claims, const char *path)
{
    const struct json_value *v = json_get(claims, path);
    char seg[LIMIT_CLAIM_PATH_MAX];

    if (v != NULL || strchr(path, '.') == NULL)
        return v;
    v = claims;
    for (const char *s = path; v != NULL;) {
        const char *dot = strchr(s, '.');
        size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);

        slice_copy_cstr(seg, sizeof(seg), (struct slice){s, n});
        v = json_get(v, seg);
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    return v;
}

/* A string claim gives its text, a number the text as written. */
static struct slice
claim_text(const struct principal *p, const char *path)
{
    const struct json_value *v = claim_lookup(p->claims, path);

    if (json_is(v, JSON_STRING))
        return json_str(v);
    if (v != NULL && v->type == JSON_NUMBER)
        return v->u.num.text;
    return absent;
}

/* s itself, or absent when empty. */
static struct slice
or_absent(struct slice s)
{
    return s.len > 0 ? s : absent;
}

/* The material of one part of a limit's key. */
static struct slice
part_material(const struct conn *c, const struct request *r,
              const struct config_rate_limit *l, const struct config_rl_part *p,
              unsigned char *ip)
{
    const struct principal *pr = &r->principal;
    const struct http_header *h;

    switch (p->kind) {
    case RL_KEY_IP:
        return peer_prefix(c, l->ipv4_prefix, l->ipv6_prefix, ip);
    case RL_KEY_SUBJECT:
        return pr->kind != AUTH_NONE ? pr->subject : absent;
    case RL_KEY_CONSUMER:
        return or_absent(pr->consumer);
    case RL_KEY_API_KEY:
        return pr->kind == AUTH_API_KEY ? or_absent(pr->key_id) : absent;
    case RL_KEY_ROUTE:
        return (struct slice){r->route->name, strlen(r->route->name)};
    case RL_KEY_HEADER:
        h = http_header_find(r->h.headers, r->h.nheaders, p->arg);
        return h != NULL ? h->value : absent;
    case RL_KEY_CLAIM:
        return pr->kind != AUTH_NONE ? claim_text(pr, p->arg) : absent;
    }
    return absent;
}

/*
 * The key material of limit l for this request into parts (at most
 * RATELIMIT_MAX_PARTS), pointing into ip or the request; returns the
 * count. The subject is qualified by its issuer, so that two issuers'
 * "alice" are two callers.
 */
static size_t
limit_parts(const struct conn *c, const struct request *r,
            const struct config_rate_limit *l, struct slice *parts,
            unsigned char (*ip)[16])
{
    size_t n = 0;

    parts[n++] = (struct slice){l->name, strlen(l->name)};
    for (unsigned i = 0; i < l->nparts && n < RATELIMIT_MAX_PARTS; i++) {
        parts[n++] = part_material(c, r, l, &l->parts[i], ip[i]);
        if (l->parts[i].kind == RL_KEY_SUBJECT && n < RATELIMIT_MAX_PARTS)
            parts[n++] = r->principal.issuer;
    }
    return n;
}

static uint64_t
limit_key(struct ratelimit *rl, const struct conn *c, const struct request *r,
          const struct config_rate_limit *l)
{
    struct slice parts[RATELIMIT_MAX_PARTS];
    unsigned char ip[CONFIG_RL_MAX_PARTS][16];
    size_t n = limit_parts(c, r, l, parts, ip);

    return ratelimit_key(rl, DOMAIN_LIMIT, parts, n);
}

/* Whole seconds, rounded up, at least 1. */
static uint32_t
ceil_s(uint64_t ns)
{
    uint64_t s = (ns + RATELIMIT_NS_PER_S - 1) / RATELIMIT_NS_PER_S;

    return (uint32_t)MIN(MAX(s, 1), UINT32_MAX);
}

/*
 * The window of a limit for RateLimit-Policy: the time a full burst
 * takes to come back, or the calendar period (a month as 30 days).
 */
static uint64_t
policy_window_s(const struct ratelimit_rule *rule)
{
    if (!rule->quota)
        return ceil_s(rule->interval_ns * rule->burst);
    return rule->calendar == RATELIMIT_DAY ? 86400 : 30 * 86400;
}

/*
 * Refuse with 429, Retry-After and the RateLimit-Policy and RateLimit
 * fields of draft-ietf-httpapi-ratelimit-headers for the limit that
 * refused.
 */
static void
refuse_limit(struct conn *c, struct request *r,
             const struct config_rate_limit *l,
             const struct ratelimit_verdict *v)
{
    char *line = arena_alloc(&c->arena, LIMIT_FIELDS_MAX);
    struct buf b = {line, 0, 0, LIMIT_FIELDS_MAX};

    r->retry_after_s = ceil_s(v->retry_ns);
    if (line != NULL &&
        buf_printf(&b,
                   "RateLimit-Policy: \"%s\";q=%llu;w=%llu\r\n"
                   "RateLimit: \"%s\";r=0;t=%u\r\n",
                   l->name, (unsigned long long)v->limit,
                   (unsigned long long)policy_window_s(&l->rule), l->name,
                   r->retry_after_s) == AW_OK)
        r->problem_fields = (struct slice){line, b.end};
    if (l->rule.quota)
        conn_refuse(c, 429, "ratelimit.quota_exhausted",
                    "The quota of this route is used up for the period.");
    else
        conn_refuse(c, 429, "ratelimit.exceeded",
                    "Too many requests; retry after the time given.");
}

static void
refuse_unavailable(struct conn *c)
{
    conn_refuse(c, 503, "ratelimit.unavailable",
                "The limits of this route cannot be checked.");
}

/*
 * Check then count the route's limits of one kind (pre_auth or not),
 * or all of them with their fallback rules (the fleet's share) when
 * fallback is set. Returns AW_OK, or AW_DECLINED once the request is
 * refused.
 */
static int
check_limits(struct conn *c, struct request *r, bool pre_auth, bool fallback)
{
    const struct config_route *rt = r->route;
    const struct config_rate_limit *lims[LIMIT_MAX_PER_ROUTE];
    const struct ratelimit_rule *rules[LIMIT_MAX_PER_ROUTE];
    uint64_t keys[LIMIT_MAX_PER_ROUTE];
    struct ratelimit_now now = limit_now();
    struct ratelimit_verdict v;
    struct ratelimit *rl;
    size_t n = 0, refused;

    for (size_t i = 0; i < rt->nlimits && n < LIMIT_MAX_PER_ROUTE; i++) {
        if (fallback || rt->limits[i]->pre_auth == pre_auth)
            lims[n++] = rt->limits[i];
    }
    if (n == 0)
        return AW_OK;
    rl = limit_state(r->cfg);
    if (rl == NULL) {
        refuse_unavailable(c);
        return AW_DECLINED;
    }
    for (size_t i = 0; i < n; i++) {
        rules[i] = fallback ? &lims[i]->fallback : &lims[i]->rule;
        keys[i] = limit_key(rl, c, r, lims[i]);
    }
    if (ratelimit_check_all(rl, rules, keys, n, &now, &refused, &v))
        return AW_OK;
    refuse_limit(c, r, lims[refused], &v);
    return AW_DECLINED;
}

static int
run_limits(struct conn *c, struct request *r, bool pre_auth)
{
    return check_limits(c, r, pre_auth, false);
}

/* Fleet mode: limits and bans shared through Redis. */
static bool
fleet_on(const struct config *cfg)
{
    return cfg->redis.address != NULL;
}

/* The ban key of the client address (its whole address). */
static uint64_t
ban_key_ip(struct ratelimit *rl, const struct conn *c)
{
    unsigned char ip[16];
    struct slice parts[] = {SLICE_LIT("ip"), peer_prefix(c, 32, 128, ip)};

    return ratelimit_key(rl, DOMAIN_BAN, parts, ARRAY_LEN(parts));
}

/* The ban key of an authenticated principal: issuer and subject. */
static uint64_t
ban_key_principal(struct ratelimit *rl, const struct principal *p)
{
    struct slice parts[] = {SLICE_LIT("sub"), p->issuer, p->subject};

    return ratelimit_key(rl, DOMAIN_BAN, parts, ARRAY_LEN(parts));
}

/*
 * Refuse when key is banned; AW_DECLINED then, else AW_OK. In fleet
 * mode a ban this gateway shared is Redis's to enforce while the
 * worker's connection is ready (the decision of the limit stage checks
 * it), so that a lift on any gateway ends it on every one; with
 * local_only the local table decides regardless (the fallback).
 */
static int
check_ban(struct conn *c, struct request *r, struct ratelimit *rl,
          uint64_t key, bool local_only)
{
    struct ratelimit_now now = limit_now();
    bool shared = false;
    uint64_t left;

    if (!ratelimit_banned(rl, key, &now, &left, &shared))
        return AW_OK;
    if (shared && !local_only && fleet_on(r->cfg) &&
        ratelimit_fleet_ready(c->w->fleet)) {
        r->fleet_ban_deferred = true;
        return AW_OK;
    }
    r->retry_after_s = ceil_s(left);
    conn_refuse(c, 429, "abuse.banned",
                "This client is banned for a while after abusive requests.");
    return AW_DECLINED;
}

int
proxy_guard(struct conn *c, struct request *r)
{
    struct ratelimit *rl;

    /* In fleet mode every limit is decided at once in the limit stage. */
    if (!abuse_on(r->cfg))
        return fleet_on(r->cfg) || run_limits(c, r, true) == AW_OK
                   ? AW_OK
                   : AW_DECLINED;
    rl = limit_state(r->cfg);
    if (rl == NULL) {
        refuse_unavailable(c);
        return AW_DECLINED;
    }
    if (check_ban(c, r, rl, ban_key_ip(rl, c), false) != AW_OK)
        return AW_DECLINED;
    if (fleet_on(r->cfg))
        return AW_OK;
    return run_limits(c, r, true) == AW_OK ? AW_OK : AW_DECLINED;
}

/*
 * Count the request in flight on the gauge named (kind, name), at most
 * max; slot is where the key is kept for proxy_limit_release. AW_OK or
 * AW_DECLINED (refused with 503).
 */
static int
enter_gauge(struct conn *c, struct request *r, struct ratelimit *rl,
            const char *kind, const char *name, unsigned max, int slot)
{
    struct slice parts[] = {{kind, strlen(kind)}, {name, strlen(name)}};
    uint64_t key = ratelimit_key(rl, DOMAIN_GAUGE, parts, ARRAY_LEN(parts));
    int rc = ratelimit_gauge_enter(rl, key, max);

    if (rc == AW_OK) {
        r->rl_gauges[slot] = key;
        return AW_OK;
    }
    r->retry_after_s = 1;
    conn_refuse(c, 503, "ratelimit.concurrency",
                rc == AW_DECLINED
                    ? "Too many requests of this route are in progress."
                    : "The in-flight counts of this route cannot be kept.");
    return AW_DECLINED;
}

/* The route's and the upstream's maximum in flight. */
static int
enter_gauges(struct conn *c, struct request *r, struct ratelimit *rl)
{
    const struct config_route *rt = r->route;
    const struct config_upstream *us = rt->upstream;

    if (rt->max_in_flight > 0 &&
        enter_gauge(c, r, rl, "route", rt->name, rt->max_in_flight, 0) !=
            AW_OK)
        return AW_DECLINED;
    if (us->max_in_flight > 0 &&
        enter_gauge(c, r, rl, "upstream", us->name, us->max_in_flight, 1) !=
            AW_OK)
        return AW_DECLINED;
    return AW_OK;
}

/*
 * Fleet mode. The route's limits (those known before authentication
 * too: the guard stage leaves them to this one call) and the bans of
 * the client address and the principal go to Redis as one decision,
 * while the request waits in PHASE_LIMIT_WAIT. When Redis is down, slow
 * or has too many decisions pending, the limits are checked here with
 * their fallback rules: this gateway's share, the rule divided by
 * redis.fleet_size.
 *
 * Known shortcomings: limits keyed before authentication are decided
 * here, after it, so that a request costs one round trip; a flood of
 * them pays for its authentication before it is refused. Offence
 * counts (the escalation of bans) stay per gateway; only bans are
 * shared. The fallback starts from this gateway's own local state, so
 * entering it may admit one more burst per gateway.
 */

#define FLEET_PASSWORD_MAX 512

/* The first line of redis.password_file into buf; false on failure. */
static bool
fleet_password(const char *path, char *buf, size_t cap)
{
    FILE *fp = fopen(path, "re");
    bool ok = fp != NULL && fgets(buf, (int)cap, fp) != NULL;

    if (fp != NULL)
        fclose(fp);
    if (ok)
        buf[strcspn(buf, "\r\n")] = '\0';
    return ok;
}

/*
 * The worker's fleet client, made on first use; NULL when it cannot be
 * (logged once: requests then take the fallback).
 */
static struct ratelimit_fleet *
fleet_client(struct worker *w, const struct config *cfg, struct ratelimit *rl)
{
    const struct config_redis *rc = &cfg->redis;
    char password[FLEET_PASSWORD_MAX] = "";
    struct ratelimit_fleet_opts o = {
        rc->address, NULL, rc->key_prefix, rc->connect_timeout_ms,
        rc->backoff_max_ms, rc->max_pending};

    if (w->fleet_tried)
        return w->fleet;
    w->fleet_tried = true;
    if (rc->password_file != NULL) {
        if (!fleet_password(rc->password_file, password, sizeof(password))) {
            log_error("ratelimit: cannot read redis.password_file %s; "
                      "limits stay local", rc->password_file);
            return NULL;
        }
        o.password = password;
    }
    if (ratelimit_fleet_new(rl, &w->loop, &o, &w->fleet) != AW_OK) {
        log_error("ratelimit: cannot make the Redis client for %s; "
                  "limits stay local", rc->address);
        w->fleet = NULL;
    }
    explicit_bzero(password, sizeof(password));
    return w->fleet;
}

/* The fleet key of the client address's ban. */
static void
fleet_ban_key_ip(const struct conn *c, char *out)
{
    unsigned char ip[16];
    struct slice part = peer_prefix(c, 32, 128, ip);

    ratelimit_fleet_key("ip", &part, 1, out);
}

/* The fleet key of a principal's ban: issuer and subject. */
static void
fleet_ban_key_principal(const struct principal *p, char *out)
{
    struct slice parts[] = {p->issuer, p->subject};

    ratelimit_fleet_key("sub", parts, ARRAY_LEN(parts), out);
}

/*
 * The items of one decision: every limit of the route in order, then
 * the bans (address, principal) when bans are on. Returns the count.
 */
static size_t
fleet_items(const struct conn *c, const struct request *r,
            struct ratelimit_fleet_item *items)
{
    const struct config_route *rt = r->route;
    int64_t wall_s = (int64_t)(clock_wall_ms() / 1000);
    size_t n = 0;

    for (size_t i = 0; i < rt->nlimits && n < LIMIT_MAX_PER_ROUTE; i++) {
        const struct config_rate_limit *l = rt->limits[i];
        struct ratelimit_fleet_item *it = &items[n++];
        struct slice parts[RATELIMIT_MAX_PARTS];
        unsigned char ip[CONFIG_RL_MAX_PARTS][16];
        size_t np = limit_parts(c, r, l, parts, ip);

        it->rule = &l->rule;
        ratelimit_fleet_key("limit", parts, np, it->key);
        if (l->rule.quota)
            ratelimit_calendar(&l->rule, wall_s, &it->quota_index,
                               &it->quota_left_s);
    }
    if (!abuse_on(r->cfg))
        return n;
    items[n].rule = NULL;
    fleet_ban_key_ip(c, items[n++].key);
    if (r->principal.kind != AUTH_NONE) {
        items[n].rule = NULL;
        fleet_ban_key_principal(&r->principal, items[n++].key);
    }
    return n;
}

/*
 * Decide locally: the bans of the local table (those left to Redis by
 * check_ban too), the fallback rules, then the in-flight counts.
 */
static int
fleet_fallback(struct conn *c, struct request *r, struct ratelimit *rl)
{
    if (abuse_on(r->cfg) &&
        (check_ban(c, r, rl, ban_key_ip(rl, c), true) != AW_OK ||
         (r->principal.kind != AUTH_NONE &&
          check_ban(c, r, rl, ban_key_principal(rl, &r->principal), true) !=
              AW_OK)))
        return AW_DECLINED;
    if (check_limits(c, r, false, true) != AW_OK)
        return AW_DECLINED;
    return enter_gauges(c, r, rl);
}

/*
 * Redis admitted a request whose address or principal this gateway
 * holds a shared ban of: the ban was lifted on another gateway (or
 * ended there first). Forget the local copies, which would otherwise
 * come back into force while Redis is away. A decision that raced
 * ahead of this gateway's own write of the ban costs only the local
 * copy: the ban in Redis holds once the write lands.
 */
static void
forget_stale_bans(const struct conn *c, const struct request *r,
                  struct ratelimit *rl)
{
    struct ratelimit_now now = limit_now();

    ratelimit_unban_shared(rl, ban_key_ip(rl, c), &now);
    if (r->principal.kind != AUTH_NONE)
        ratelimit_unban_shared(rl, ban_key_principal(rl, &r->principal),
                               &now);
}

/* Apply Redis's answer; AW_OK when the request goes on. */
static int
fleet_apply(struct conn *c, struct request *r, struct ratelimit *rl,
            const struct ratelimit_fleet_answer *a)
{
    const struct config_rate_limit *l;
    struct ratelimit_verdict v = {0};

    if (a->rc != AW_OK)
        return fleet_fallback(c, r, rl);
    if (a->allowed && r->fleet_ban_deferred)
        forget_stale_bans(c, r, rl);
    if (a->allowed)
        return enter_gauges(c, r, rl);
    if (a->banned) {
        r->retry_after_s = ceil_s(a->retry_ns);
        conn_refuse(c, 429, "abuse.banned",
                    "This client is banned for a while after abusive "
                    "requests.");
        return AW_DECLINED;
    }
    l = r->route->limits[a->index];
    v.limit = l->rule.quota ? l->rule.count : l->rule.burst;
    v.retry_ns = a->retry_ns;
    refuse_limit(c, r, l, &v);
    return AW_DECLINED;
}

/* Redis decided (or could not): apply it and wake the request. */
static void
on_fleet_answer(void *arg, const struct ratelimit_fleet_answer *a)
{
    struct conn *c = arg;
    struct request *r = &c->req;
    struct ratelimit *rl = atomic_load(&limit_rl);

    r->fleet_ticket = NULL;
    conn_resume_limit(c, fleet_apply(c, r, rl, a) == AW_OK);
}

/*
 * The limit stage in fleet mode: AW_AGAIN when the decision went to
 * Redis (on_fleet_answer follows), else decided here.
 */
static int
fleet_limit(struct conn *c, struct request *r, struct ratelimit *rl)
{
    struct ratelimit_fleet_item items[RATELIMIT_FLEET_MAX_ITEMS];
    struct ratelimit_fleet *f = fleet_client(c->w, r->cfg, rl);
    size_t n = fleet_items(c, r, items);

    if (n == 0)
        return enter_gauges(c, r, rl);
    if (f != NULL && ratelimit_fleet_check(f, items, n, on_fleet_answer, c,
                                           &r->fleet_ticket) == AW_AGAIN)
        return AW_AGAIN;
    return fleet_fallback(c, r, rl);
}

void
proxy_limit_timeout(struct conn *c)
{
    struct request *r = &c->req;
    struct ratelimit *rl = atomic_load(&limit_rl);
    bool ok;

    ratelimit_fleet_cancel(c->w->fleet, r->fleet_ticket, true);
    r->fleet_ticket = NULL;
    ok = fleet_fallback(c, r, rl) == AW_OK;
    conn_resume_limit(c, ok);
}

void
proxy_limit_cancel(struct conn *c)
{
    ratelimit_fleet_cancel(c->w->fleet, c->req.fleet_ticket, false);
    c->req.fleet_ticket = NULL;
}

void
proxy_limit_worker_fini(struct worker *w)
{
    ratelimit_fleet_free(w->fleet);
    w->fleet = NULL;
}

int
proxy_limit(struct conn *c, struct request *r)
{
    const struct config_route *rt = r->route;
    struct ratelimit *rl;

    if (!abuse_on(r->cfg) && rt->nlimits == 0 && rt->max_in_flight == 0 &&
        rt->upstream->max_in_flight == 0)
        return AW_OK;
    rl = limit_state(r->cfg);
    if (rl == NULL) {
        refuse_unavailable(c);
        return AW_DECLINED;
    }
    if (abuse_on(r->cfg) && r->principal.kind != AUTH_NONE &&
        check_ban(c, r, rl, ban_key_principal(rl, &r->principal), false) !=
            AW_OK)
        return AW_DECLINED;
    if (fleet_on(r->cfg))
        return fleet_limit(c, r, rl);
    if (run_limits(c, r, false) != AW_OK)
        return AW_DECLINED;
    return enter_gauges(c, r, rl);
}

void
proxy_ratelimit_stats(struct ratelimit_stats *s)
{
    struct ratelimit *rl = atomic_load(&limit_rl);

    if (rl == NULL) {
        memset(s, 0, sizeof(*s));
        return;
    }
    ratelimit_stats(rl, s);
}

void
proxy_limit_release(struct request *r)
{
    struct ratelimit *rl = atomic_load(&limit_rl);

    for (size_t i = 0; i < ARRAY_LEN(r->rl_gauges); i++) {
        if (r->rl_gauges[i] != 0 && rl != NULL)
            ratelimit_gauge_leave(rl, r->rl_gauges[i]);
        r->rl_gauges[i] = 0;
    }
}

/* A detector's threshold and window as the rule ratelimit_event takes. */
static bool
detector_rule(const struct config_abuse_rule *d, struct ratelimit_rule *rule)
{
    return d->threshold > 0 &&
           ratelimit_rule_rate(rule, d->threshold,
                               MAX(d->window_ms / 1000, 1),
                               d->threshold) == AW_OK;
}

/*
 * What an operator will know the ban by: its fleet key as id (the same
 * on every gateway, in fleet mode or not) into id, and a printable
 * subject into subject[RATELIMIT_BAN_SUBJECT_MAX]: "ip:ADDRESS", or
 * "sub:ISSUER:SUBJECT" ("sub:SUBJECT" without an issuer: an API key's
 * consumer). Raw bytes, cut; whoever shows them escapes them.
 */
static void
ban_note(const struct conn *c, const struct request *r, bool by_principal,
         char *id, char *subject, struct ratelimit_ban_note *note)
{
    const struct principal *p = &r->principal;

    if (by_principal) {
        fleet_ban_key_principal(p, id);
        snprintf(subject, RATELIMIT_BAN_SUBJECT_MAX, "sub:%.*s%s%.*s",
                 (int)MIN(p->issuer.len, 64),
                 p->issuer.len > 0 ? p->issuer.ptr : "",
                 p->issuer.len > 0 ? ":" : "",
                 (int)MIN(p->subject.len, RATELIMIT_BAN_SUBJECT_MAX),
                 p->subject.len > 0 ? p->subject.ptr : "");
    } else {
        fleet_ban_key_ip(c, id);
        snprintf(subject, RATELIMIT_BAN_SUBJECT_MAX, "ip:%s", c->peer_text);
    }
    note->id = id;
    note->subject = subject;
    note->shared = fleet_on(r->cfg) && ratelimit_fleet_ready(c->w->fleet);
}

/*
 * Ban key (the address, or the principal when by_principal), share it
 * with the fleet, and write the security event and a diagnostic line,
 * once per ban.
 */
static void
ban(struct conn *c, struct request *r, struct ratelimit *rl, uint64_t key,
    bool by_principal, const char *why)
{
    const struct config_abuse *a = &r->cfg->abuse;
    struct ratelimit_ban_policy p = {
        a->ban_ms * 1000000, a->ban_max_ms * 1000000, a->ban_factor,
        a->memory_ms * 1000000};
    struct ratelimit_now now = limit_now();
    char subject[129], issuer[65], path[513], method[16], quoted[96];
    char id[RATELIMIT_BAN_ID_HEX + 1], who[RATELIMIT_BAN_SUBJECT_MAX];
    struct ratelimit_ban_note note = {.reason = why};
    struct security_event e = {0};
    uint64_t d;
    unsigned level;

    ban_note(c, r, by_principal, id, who, &note);
    ratelimit_ban(rl, key, &now, &p, &note, &d, &level);
    if (note.shared)
        ratelimit_fleet_ban(c->w->fleet, id, d);
    slice_copy_cstr(subject, sizeof(subject), r->principal.subject);
    slice_copy_cstr(issuer, sizeof(issuer), r->principal.issuer);
    slice_copy_cstr(method, sizeof(method), r->method);
    slice_copy_cstr(path, sizeof(path), r->path);
    log_escape(quoted, sizeof(quoted), r->principal.subject);
    log_warn("abuse: %s %s banned for %u s after %s (offence %u, "
             "client %s)",
             by_principal ? "principal" : "address",
             by_principal ? quoted : c->peer_text, ceil_s(d), why, level + 1,
             c->peer_text);
    e.action = by_principal ? "abuse.ban_principal" : "abuse.ban_address";
    e.reason = why;
    e.outcome = "banned";
    e.severity = MIN(6 + (int)level, 9);
    e.request_id = r->id;
    e.method = method;
    e.path = path;
    e.route = r->route != NULL ? r->route->name : NULL;
    e.client_ip = c->peer_text;
    e.subject = r->principal.kind != AUTH_NONE ? subject : NULL;
    e.issuer = r->principal.issuer.len > 0 ? issuer : NULL;
    e.credential_id = r->principal.credential_id[0] != '\0'
                          ? r->principal.credential_id
                          : NULL;
    events_emit(c->w->id, &e);
}

/*
 * The caller a detector counts: the principal when there is one, else
 * the client address. *by_principal says which.
 */
static struct slice
caller_material(const struct conn *c, const struct request *r,
                unsigned char *ip, bool *by_principal)
{
    *by_principal = r->principal.kind != AUTH_NONE;
    if (*by_principal)
        return r->principal.subject;
    return peer_prefix(c, 32, 128, ip);
}

/* An event of detector d for the caller; ban it past the threshold. */
static void
detect(struct conn *c, struct request *r, struct ratelimit *rl,
       const struct config_abuse_rule *d, uint32_t domain, bool by_principal,
       const char *why)
{
    struct ratelimit_rule rule;
    struct ratelimit_now now = limit_now();
    unsigned char ip[16];
    struct slice who = by_principal ? r->principal.subject
                                    : peer_prefix(c, 32, 128, ip);
    struct slice parts[] = {r->principal.issuer, who};
    uint64_t key = ratelimit_key(rl, domain, parts, ARRAY_LEN(parts));

    if (!detector_rule(d, &rule) || !ratelimit_event(rl, &rule, key, &now))
        return;
    key = by_principal ? ban_key_principal(rl, &r->principal)
                       : ban_key_ip(rl, c);
    ban(c, r, rl, key, by_principal, why);
}

/*
 * Enumeration: a value of the route's path parameters not seen from
 * this caller within the window counts as one event.
 */
static void
detect_enumeration(struct conn *c, struct request *r, struct ratelimit *rl)
{
    const struct config_abuse_rule *d = &r->cfg->abuse.enumeration;
    struct slice parts[2 + ROUTE_MAX_PARAMS];
    struct ratelimit_now now = limit_now();
    unsigned char ip[16];
    bool by_principal;
    size_t n = 0;

    if (d->threshold == 0 || r->route == NULL || r->params.n == 0)
        return;
    parts[n++] = (struct slice){r->route->name, strlen(r->route->name)};
    parts[n++] = caller_material(c, r, ip, &by_principal);
    for (unsigned i = 0; i < r->params.n && n < RATELIMIT_MAX_PARTS; i++)
        parts[n++] = r->params.value[i];
    if (!ratelimit_first_seen(rl, ratelimit_key(rl, DOMAIN_ENUM_SEEN, parts, n),
                              &now, d->window_ms * 1000000))
        return;
    detect(c, r, rl, d, DOMAIN_ENUM_NEW, by_principal,
           "abuse.enumeration");
}

/* True for refusals of this file, which the detectors do not count. */
static bool
own_refusal(const struct request *r)
{
    return r->reason != NULL && (strncmp(r->reason, "abuse.", 6) == 0 ||
                                 strncmp(r->reason, "ratelimit.", 10) == 0);
}

void
proxy_observe(struct conn *c, struct request *r)
{
    const struct config_abuse *a;
    struct ratelimit *rl;

    proxy_limit_release(r);
    if (r->cfg == NULL || !abuse_on(r->cfg) || own_refusal(r))
        return;
    rl = limit_state(r->cfg);
    if (rl == NULL)
        return;
    a = &r->cfg->abuse;
    if (r->status == 401 && a->auth_failures.threshold > 0)
        detect(c, r, rl, &a->auth_failures, DOMAIN_AUTH_FAIL, false,
               "abuse.auth_failures");
    if (r->status >= 400 && r->status < 500 &&
        a->client_errors.threshold > 0)
        detect(c, r, rl, &a->client_errors, DOMAIN_CLIENT_ERR,
               r->principal.kind != AUTH_NONE, "abuse.client_errors");
    detect_enumeration(c, r, rl);
}

/*
 * The bans as the admin API shows and lifts them. These run on the
 * admin thread: the ban table is process-wide and locked per bucket,
 * so they need nothing from the workers; Redis is reached through a
 * connection of the admin thread's own.
 */

size_t
proxy_bans(struct ratelimit_ban_info *out, size_t max, size_t *total)
{
    struct ratelimit *rl = atomic_load(&limit_rl);
    struct ratelimit_now now = limit_now();

    *total = 0;
    return rl != NULL ? ratelimit_bans(rl, &now, out, max, total) : 0;
}

size_t
proxy_unban(const char *name, struct ratelimit_ban_info *first)
{
    struct ratelimit *rl = atomic_load(&limit_rl);
    struct ratelimit_now now = limit_now();

    return rl != NULL ? ratelimit_unban(rl, name, &now, first) : 0;
}

/*
 * The Redis options of cfg for the admin thread, the password read into
 * password[FLEET_PASSWORD_MAX]. AW_DECLINED when cfg has no redis
 * section, AW_IO when the password file cannot be read.
 */
static int
fleet_ctl_opts(const struct config *cfg, struct ratelimit_fleet_opts *o,
               char *password)
{
    const struct config_redis *rc = &cfg->redis;

    if (!fleet_on(cfg))
        return AW_DECLINED;
    *o = (struct ratelimit_fleet_opts){
        rc->address, NULL, rc->key_prefix, rc->connect_timeout_ms,
        rc->backoff_max_ms, rc->max_pending};
    if (rc->password_file == NULL)
        return AW_OK;
    if (!fleet_password(rc->password_file, password, FLEET_PASSWORD_MAX))
        return AW_IO;
    o->password = password;
    return AW_OK;
}

int
proxy_fleet_bans(struct ratelimit_fleet_ban *out, size_t max, size_t *n,
                 bool *more)
{
    struct config *cfg = config_current();
    char password[FLEET_PASSWORD_MAX] = "";
    struct ratelimit_fleet_opts o;
    int rc = cfg != NULL ? fleet_ctl_opts(cfg, &o, password) : AW_DECLINED;

    *n = 0;
    *more = false;
    if (rc == AW_OK)
        rc = ratelimit_fleet_bans(&o, out, max, n, more);
    explicit_bzero(password, sizeof(password));
    config_unref(cfg);
    return rc;
}

int
proxy_fleet_unban(const char *id)
{
    struct config *cfg = config_current();
    char password[FLEET_PASSWORD_MAX] = "";
    struct ratelimit_fleet_opts o;
    int rc = cfg != NULL ? fleet_ctl_opts(cfg, &o, password) : AW_DECLINED;

    if (rc == AW_OK)
        rc = ratelimit_fleet_unban(&o, id);
    else if (rc == AW_DECLINED)
        rc = AW_DONE;
    explicit_bzero(password, sizeof(password));
    config_unref(cfg);
    return rc;
}
