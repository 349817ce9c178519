/*
 * The rate limit sections: rate_limits (named limits and quotas) and
 * abuse (detectors and bans), and the key of a route that names
 * limits, routes[].limits. The size of the limit table is
 * limits.rate_states, in schema.c with the other bounds.
 *
 *     rate_limits:
 *       per_client: {key: [ip], ipv4_prefix: 24, rate: 10/s, burst: 20}
 *       daily:      {key: [consumer], quota: 10000/day}
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

#define MIN_MS ((uint64_t)60 * 1000)
#define HOUR_MS (60 * MIN_MS)
#define DAY_MS (24 * HOUR_MS)

#define RL_MAX_LIMITS 256          /* named limits in a file */
#define RL_MAX_PER_ROUTE 8         /* limits on one route */
#define RL_NAME_MAX 64
#define RL_ARG_MAX 200             /* a header name or claim path */
#define RL_WHERE_MAX 160
#define RL_MAX_COUNT ((uint64_t)1 << 40)
#define RL_MAX_TZ_S (14 * 3600)
#define RL_UNIX_PATH_MAX 108       /* sun_path, with its NUL */

void
config_ratelimit_defaults(struct config *c)
{
    c->abuse.ban_ms = MIN_MS;
    c->abuse.ban_max_ms = HOUR_MS;
    c->abuse.ban_factor = 4;
    c->abuse.memory_ms = DAY_MS;
    c->rl_entries = 262144;
    c->rl_ban_entries = 65536;
    c->redis.connect_timeout_ms = 1000;
    c->redis.command_timeout_ms = 100;
    c->redis.backoff_max_ms = 5000;
    c->redis.fleet_size = 1;
    c->redis.max_pending = 256;
}

/* The unit of "N/unit" in seconds; 0 for an unknown unit. */
static uint64_t
rl_unit_seconds(const char *u)
{
    static const struct {
        const char *name;
        uint64_t s;
    } units[] = {
        {"s", 1},        {"second", 1},  {"m", 60},     {"minute", 60},
        {"h", 3600},     {"hour", 3600}, {"d", 86400},  {"day", 86400},
    };

    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (strcmp(u, units[i].name) == 0)
            return units[i].s;
    }
    return 0;
}

/*
 * Split "N/unit" into the count and the unit text. AW_INVALID (problem
 * recorded, naming what was expected) for anything else.
 */
static int
rl_split_rate(struct config_loader *ld, const struct config_node *v,
              const char *expect, const char *where, uint64_t *count,
              const char **unit)
{
    const char *s, *slash;
    char q[64];
    int rc = config_expect_string(ld, v, 32, where, &s);

    if (rc != AW_OK)
        return rc;
    slash = strchr(s, '/');
    if (slash == NULL ||
        slice_to_u64((struct slice){s, (size_t)(slash - s)}, RL_MAX_COUNT,
                     count) != AW_OK ||
        *count == 0) {
        config_error(ld, v, "%s: '%s' is not %s", where,
                     config_node_quote(v, q, sizeof(q)), expect);
        return AW_INVALID;
    }
    *unit = slash + 1;
    return AW_OK;
}

/* rate: "10/s", "100/minute", ... into rule.count and rule.period_s. */
static int
rl_rate(struct config_loader *ld, const struct config_node *v, void *dst,
        const struct config_field *f, const char *where)
{
    struct config_rate_limit *l = dst;
    const char *expect = "a rate such as 10/s, 100/m, 1000/h or 10000/d";
    const char *unit;
    char q[64];
    int rc = rl_split_rate(ld, v, expect, where, &l->rule.count, &unit);

    (void)f;
    if (rc != AW_OK)
        return rc;
    l->rule.period_s = rl_unit_seconds(unit);
    if (l->rule.period_s == 0) {
        config_error(ld, v, "%s: '%s' is not %s", where,
                     config_node_quote(v, q, sizeof(q)), expect);
        return AW_INVALID;
    }
    return AW_OK;
}

/* quota: "10000/day" or "300000/month". */
static int
rl_quota(struct config_loader *ld, const struct config_node *v, void *dst,
         const struct config_field *f, const char *where)
{
    struct config_rate_limit *l = dst;
    const char *expect = "a quota such as 10000/day or 300000/month";
    const char *unit;
    char q[64];
    int rc = rl_split_rate(ld, v, expect, where, &l->rule.count, &unit);

    (void)f;
    if (rc != AW_OK)
        return rc;
    l->rule.quota = true;
    if (strcmp(unit, "day") == 0) {
        l->rule.calendar = RATELIMIT_DAY;
    } else if (strcmp(unit, "month") == 0) {
        l->rule.calendar = RATELIMIT_MONTH;
    } else {
        config_error(ld, v, "%s: '%s' is not %s", where,
                     config_node_quote(v, q, sizeof(q)), expect);
        return AW_INVALID;
    }
    return AW_OK;
}

/* timezone: "UTC", "+02:00" or "-05:30", a fixed offset. */
static int
rl_timezone(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    struct config_rate_limit *l = dst;
    const char *s;
    char q[64];
    uint64_t hh, mm;
    int rc = config_expect_string(ld, v, 16, where, &s);

    (void)f;
    if (rc != AW_OK)
        return rc;
    if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0) {
        l->rule.tz_offset_s = 0;
        return AW_OK;
    }
    if (v->len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
        slice_to_u64((struct slice){s + 1, 2}, 14, &hh) != AW_OK ||
        slice_to_u64((struct slice){s + 4, 2}, 59, &mm) != AW_OK ||
        hh * 3600 + mm * 60 > RL_MAX_TZ_S) {
        config_error(ld, v,
                     "%s: '%s' is not UTC or an offset from -14:00 to "
                     "+14:00 such as +02:00",
                     where, config_node_quote(v, q, sizeof(q)));
        return AW_INVALID;
    }
    l->rule.tz_offset_s = (int32_t)(hh * 3600 + mm * 60);
    if (s[0] == '-')
        l->rule.tz_offset_s = -l->rule.tz_offset_s;
    return AW_OK;
}

/* One key part: a plain name, or "header:NAME" or "claim:PATH". */
static int
rl_key_part(struct config_loader *ld, const struct config_node *it,
            const char *where, struct config_rl_part *p)
{
    static const char *const plain[] = {"ip", "subject", "consumer",
                                        "api_key", "route"};
    const char *s, *arg = NULL;
    char q[96];
    int rc = config_expect_string(ld, it, RL_ARG_MAX + 8, where, &s);

    if (rc != AW_OK)
        return rc;
    for (size_t i = 0; i < ARRAY_LEN(plain); i++) {
        if (strcmp(s, plain[i]) == 0) {
            p->kind = (enum config_rl_key)i;
            return AW_OK;
        }
    }
    if (strncmp(s, "header:", 7) == 0 && config_is_token(s + 7, strlen(s + 7))) {
        p->kind = RL_KEY_HEADER;
        arg = s + 7;
    } else if (strncmp(s, "claim:", 6) == 0 && s[6] != '\0' && s[6] != '.' &&
               strstr(s, "..") == NULL && s[strlen(s) - 1] != '.') {
        p->kind = RL_KEY_CLAIM;
        arg = s + 6;
    }
    if (arg == NULL) {
        config_error(ld, it,
                     "%s: '%s' is not one of: ip, subject, consumer, "
                     "api_key, route, header:NAME, claim:PATH",
                     where, config_node_quote(it, q, sizeof(q)));
        return AW_INVALID;
    }
    p->arg = config_strdup(ld, arg, strlen(arg));
    return p->arg != NULL ? AW_OK : AW_NOMEM;
}

/* key: a list of 1 to CONFIG_RL_MAX_PARTS distinct parts. */
static int
rl_key(struct config_loader *ld, const struct config_node *v, void *dst,
       const struct config_field *f, const char *where)
{
    struct config_rate_limit *l = dst;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   CONFIG_RL_MAX_PARTS, "key parts", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    l->nparts = 0;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        int one = rl_key_part(ld, it, where, &l->parts[l->nparts]);

        if (one == AW_NOMEM)
            return one;
        if (one == AW_OK)
            l->nparts++;
        else
            rc = AW_INVALID;
    }
    return rc;
}

#define FIELD(k, fn, type, member, lo, hi)                                     \
    {                                                                          \
        .key = (k), .parse = (fn), .offset = offsetof(type, member),           \
        .size = sizeof(((type *)0)->member), .min = (lo), .max = (hi)          \
    }
#define SPECIAL(k, fn)                                                         \
    {                                                                          \
        .key = (k), .parse = (fn)                                              \
    }

static const struct config_field rl_limit_schema[] = {
    {.key = "key", .parse = rl_key, .required = true},
    SPECIAL("rate", rl_rate),
    FIELD("burst", config_parse_uint, struct config_rate_limit, rule.burst, 1,
          RL_MAX_COUNT),
    SPECIAL("quota", rl_quota),
    SPECIAL("timezone", rl_timezone),
    FIELD("ipv4_prefix", config_parse_uint, struct config_rate_limit,
          ipv4_prefix, 1, 32),
    FIELD("ipv6_prefix", config_parse_uint, struct config_rate_limit,
          ipv6_prefix, 1, 128),
    {.key = NULL},
};

/* True when every part is known before authentication. */
static bool
rl_is_pre_auth(const struct config_rate_limit *l)
{
    for (unsigned i = 0; i < l->nparts; i++) {
        enum config_rl_key k = l->parts[i].kind;

        if (k != RL_KEY_IP && k != RL_KEY_ROUTE && k != RL_KEY_HEADER)
            return false;
    }
    return true;
}

/* Checks across the keys of one limit, and the rule they make. */
static int
rl_limit_cross(struct config_loader *ld, const struct config_node *m,
               struct config_rate_limit *l, const char *where)
{
    bool rate = config_map_get(m, "rate") != NULL;
    bool quota = config_map_get(m, "quota") != NULL;

    if (rate == quota) {
        config_error(ld, m, "%s: set exactly one of rate and quota", where);
        return AW_INVALID;
    }
    if (rate && config_map_get(m, "timezone") != NULL) {
        config_error(ld, m, "%s: timezone applies to a quota only", where);
        return AW_INVALID;
    }
    if (quota && config_map_get(m, "burst") != NULL) {
        config_error(ld, m, "%s: burst applies to a rate only", where);
        return AW_INVALID;
    }
    l->pre_auth = rl_is_pre_auth(l);
    if (quota)
        return AW_OK;
    if (ratelimit_rule_rate(&l->rule, l->rule.count, l->rule.period_s,
                            l->rule.burst != 0 ? l->rule.burst
                                               : l->rule.count) != AW_OK) {
        config_error(ld, m, "%s: rate and burst are too large together",
                     where);
        return AW_INVALID;
    }
    return AW_OK;
}

static int
rl_limit_one(struct config_loader *ld, const struct config_node *k,
             struct config_rate_limit *l, const char *where)
{
    char path[RL_WHERE_MAX], q[96];
    int rc = config_entry_name(ld, k, RL_NAME_MAX, "a rate limit", where,
                               &l->name);

    if (rc == AW_NOMEM)
        return rc;
    l->ipv4_prefix = 32;
    l->ipv6_prefix = 128;
    snprintf(path, sizeof(path), "%s.%s", where,
             config_node_quote(k, q, sizeof(q)));
    if (config_walk_map(ld, k->value, rl_limit_schema, l, path) != AW_OK)
        rc = AW_INVALID;
    if (ld->nomem)
        return AW_NOMEM;
    if (rc == AW_OK)
        rc = rl_limit_cross(ld, k->value, l, path);
    return rc;
}

int
config_parse_rate_limits(struct config_loader *ld, const struct config_node *v,
                         void *dst, const struct config_field *f,
                         const char *where)
{
    struct config *c = ld->c;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_MAP, 1, RL_MAX_LIMITS,
                                   "rate limits", where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    c->rate_limits = config_alloc(ld, v->n * sizeof(*c->rate_limits));
    if (c->rate_limits == NULL)
        return AW_NOMEM;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        struct config_rate_limit *l = &c->rate_limits[c->nrate_limits];
        int one;

        if (k->dup)
            continue;
        one = rl_limit_one(ld, k, l, where);
        if (one == AW_NOMEM)
            return one;
        l->index = (unsigned)c->nrate_limits++;
        if (one != AW_OK)
            rc = AW_INVALID;
    }
    return rc;
}

/* The named limit of a route's list; records a problem when unknown. */
static struct config_rate_limit *
rl_find(struct config_loader *ld, const struct config_node *it,
        const char *where)
{
    struct config *c = ld->c;
    char q[96];

    for (size_t i = 0; i < c->nrate_limits; i++) {
        if (c->rate_limits[i].name != NULL &&
            strlen(c->rate_limits[i].name) == it->len &&
            memcmp(c->rate_limits[i].name, it->text, it->len) == 0)
            return &c->rate_limits[i];
    }
    config_error(ld, it, "%s: no rate limit named '%s' in rate_limits", where,
                 config_node_quote(it, q, sizeof(q)));
    return NULL;
}

int
config_parse_route_limits(struct config_loader *ld,
                          const struct config_node *v, void *dst,
                          const struct config_field *f, const char *where)
{
    struct config_route *r = dst;
    const char *s;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, RL_MAX_PER_ROUTE,
                                   "limit names", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    r->limits = config_alloc(ld, v->n * sizeof(*r->limits));
    if (r->limits == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        struct config_rate_limit *l = NULL;

        if (config_expect_string(ld, it, RL_NAME_MAX, where, &s) == AW_OK)
            l = rl_find(ld, it, where);
        for (size_t i = 0; l != NULL && i < r->nlimits; i++) {
            if (r->limits[i] == l) {
                config_error(ld, it, "%s: %s is listed twice", where,
                             l->name);
                l = NULL;
            }
        }
        if (l == NULL)
            rc = AW_INVALID;
        else
            r->limits[r->nlimits++] = l;
    }
    return rc;
}

#define ABUSE_RULE(name, member)                                               \
    static const struct config_field name[] = {                                \
        FIELD("threshold", config_parse_uint, struct config,                   \
              abuse.member.threshold, 1, 1000000),                             \
        FIELD("window", config_parse_duration, struct config,                  \
              abuse.member.window_ms, 1000, DAY_MS),                           \
        {.key = NULL},                                                         \
    }

ABUSE_RULE(abuse_auth_failures, auth_failures);
ABUSE_RULE(abuse_client_errors, client_errors);
ABUSE_RULE(abuse_enumeration, enumeration);

static const struct config_field abuse_ban[] = {
    FIELD("duration", config_parse_duration, struct config, abuse.ban_ms, 1000,
          DAY_MS),
    FIELD("max", config_parse_duration, struct config, abuse.ban_max_ms, 1000,
          30 * DAY_MS),
    FIELD("factor", config_parse_uint, struct config, abuse.ban_factor, 1, 100),
    FIELD("memory", config_parse_duration, struct config, abuse.memory_ms,
          1000, 30 * DAY_MS),
    {.key = NULL},
};

const struct config_field config_abuse_fields[] = {
    FIELD("max_bans", config_parse_uint, struct config, rl_ban_entries, 1024,
          (uint64_t)1 << 24),
    {.key = "auth_failures", .parse = config_parse_section,
     .sub = abuse_auth_failures},
    {.key = "client_errors", .parse = config_parse_section,
     .sub = abuse_client_errors},
    {.key = "enumeration", .parse = config_parse_section,
     .sub = abuse_enumeration},
    {.key = "ban", .parse = config_parse_section, .sub = abuse_ban},
    {.key = NULL},
};

/*
 * redis.address: "host:port" with an IP literal (no name lookup on a
 * worker's loop), or an absolute unix socket path.
 */
static int
redis_address(struct config_loader *ld, const struct config_node *v,
              void *dst, const struct config_field *f, const char *where)
{
    struct config_addr a;
    char err[160];
    const char *s;
    int rc = config_expect_string(ld, v, 200, where, &s);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    if (s[0] == '/' && strlen(s) >= RL_UNIX_PATH_MAX) {
        config_error(ld, v, "%s: a unix socket path is at most %d bytes",
                     where, RL_UNIX_PATH_MAX - 1);
        return AW_INVALID;
    }
    if (s[0] != '/' && config_addr_parse(s, false, &a, err, sizeof(err)) !=
                           AW_OK) {
        config_error(ld, v, "%s: %s", where, err);
        return AW_INVALID;
    }
    ld->c->redis.address = config_strdup(ld, s, strlen(s));
    return ld->c->redis.address != NULL ? AW_OK : AW_NOMEM;
}

/* redis.key_prefix: 1 to 64 name characters and ':'. */
static int
redis_prefix(struct config_loader *ld, const struct config_node *v,
             void *dst, const struct config_field *f, const char *where)
{
    const char *s;
    int rc = config_expect_string(ld, v, 64, where, &s);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    for (const char *p = s; *p != '\0'; p++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789_-.:", *p) == NULL) {
            config_error(ld, v, "%s: only letters, digits and _-.: please",
                         where);
            return AW_INVALID;
        }
    }
    ld->c->redis.key_prefix = config_strdup(ld, s, strlen(s));
    return ld->c->redis.key_prefix != NULL ? AW_OK : AW_NOMEM;
}

const struct config_field config_redis_fields[] = {
    {.key = "address", .parse = redis_address, .required = true},
    {.key = "password_file", .parse = config_parse_path,
     .offset = offsetof(struct config, redis.password_file),
     .size = sizeof(((struct config *)0)->redis.password_file)},
    {.key = "key_prefix", .parse = redis_prefix},
    FIELD("connect_timeout", config_parse_duration, struct config,
          redis.connect_timeout_ms, 10, 60000),
    FIELD("command_timeout", config_parse_duration, struct config,
          redis.command_timeout_ms, 1, 10000),
    FIELD("backoff_max", config_parse_duration, struct config,
          redis.backoff_max_ms, 100, 300000),
    FIELD("fleet_size", config_parse_uint, struct config, redis.fleet_size, 1,
          10000),
    FIELD("max_pending", config_parse_uint, struct config, redis.max_pending,
          1, 65536),
    {.key = NULL},
};

/*
 * The rule each limit falls back to while Redis is away: its count
 * divided by the fleet size (at least 1), so that the fleet together
 * stays near the shared limit. A quota is divided the same way.
 */
static void
rl_fallback_rules(struct config *c)
{
    unsigned n = c->redis.fleet_size;

    if (c->redis.key_prefix == NULL)
        c->redis.key_prefix = "apiward:";
    for (size_t i = 0; i < c->nrate_limits; i++) {
        struct ratelimit_rule *f = &c->rate_limits[i].fallback;
        const struct ratelimit_rule *r = &c->rate_limits[i].rule;

        *f = *r;
        if (n <= 1 || r->count == 0)
            continue;
        if (r->quota) {
            f->count = MAX(r->count / n, 1);
            continue;
        }
        /* The same period with a smaller count and burst. */
        if (ratelimit_rule_rate(f, MAX(r->count / n, 1), r->period_s,
                                MAX(r->burst / n, 1)) != AW_OK)
            *f = *r;
    }
}

/*
 * A detector needs both its threshold and its window; a ban's cap
 * cannot be below its first length.
 */
int
config_ratelimit_cross(struct config_loader *ld)
{
    const struct config *c = ld->c;
    const struct config_abuse_rule *rules[] = {
        &c->abuse.auth_failures, &c->abuse.client_errors,
        &c->abuse.enumeration};
    const char *names[] = {"auth_failures", "client_errors", "enumeration"};
    const struct config_node *ab = config_map_get(ld->root, "abuse");
    int rc = AW_OK;

    rl_fallback_rules(ld->c);
    /* Both checks fail only when the section was written. */
    if (ab == NULL || ab->type != CONFIG_NODE_MAP)
        return AW_OK;
    for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
        if ((rules[i]->threshold == 0) != (rules[i]->window_ms == 0)) {
            config_error(ld, config_map_get(ab, names[i]),
                         "abuse.%s: set both threshold and window", names[i]);
            rc = AW_INVALID;
        }
    }
    if (c->abuse.ban_max_ms < c->abuse.ban_ms) {
        config_error(ld, ab, "abuse.ban.max: shorter than abuse.ban.duration");
        rc = AW_INVALID;
    }
    return rc;
}
