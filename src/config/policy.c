/*
 * Authorization in the file: named policies (`policies:`) and each
 * route's `authz`, compiled into one struct policy_program per route.
 *
 * Every route must say who may call it. A route without authz is
 * refused: an open route says `public: true`, a route that admits any
 * caller its auth accepts says `authenticated: true`, and anything
 * finer is written as rules. Compilation resolves every name a rule
 * uses (path parameters against the route's template, header fields
 * and query parameters to slots, geo conditions against the configured
 * databases), so that a typo is a load error, not a silent deny.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "identity/identity.h"
#include "policy/policy.h"

#define POL_NAME_MAX 64
#define POL_MAX_POLICIES 256
#define POL_VALUE_MAX 1024
#define POL_PATH_MAX 256
#define POL_WHERE_MAX 200

/* What one authz block or named policy holds while it is compiled. */
struct pol_block {
    bool public_route;
    bool authenticated;
    bool monitor;
    char *policy;                   /* routes only: a named policy */
    struct policy_rule *rules;
    unsigned nrules;
    struct policy_object *objects;
    unsigned nobjects;
    bool reads_body;
};

/* The configuration's policy set, made on first use. */
static struct policy_set *
pol_set(struct config_loader *ld)
{
    if (ld->c->policy == NULL)
        ld->c->policy = policy_set_new();
    if (ld->c->policy == NULL)
        ld->nomem = true;
    return ld->c->policy;
}

/* ------------------------------------------------------------------ */
/* Strings and paths                                                  */
/* ------------------------------------------------------------------ */

/* "where[i]" or "where.key" for messages, cut when it would not fit. */
static void
pol_where(char *dst, size_t cap, const char *where, const char *key, size_t i)
{
    int n = key != NULL ? snprintf(dst, cap, "%s.%s", where, key)
                        : snprintf(dst, cap, "%s[%zu]", where, i);

    if (n < 0 || (size_t)n >= cap)
        dst[cap - 1] = '\0';
}

/* A list of 1 to POLICY_MAX_VALUES strings into out->v. */
static int
pol_string_list(struct config_loader *ld, const struct config_node *v,
                const char *where, struct policy_strings *out)
{
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   POLICY_MAX_VALUES, "values", where);
    unsigned n = 0;

    if (rc != AW_OK)
        return rc;
    out->v = config_alloc(ld, v->n * sizeof(*out->v));
    if (out->v == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        const char *s;

        if (config_expect_string(ld, it, POL_VALUE_MAX, where, &s) != AW_OK) {
            rc = AW_INVALID;
            continue;
        }
        out->v[n].ptr = config_strdup(ld, it->text, it->len);
        if (out->v[n].ptr == NULL)
            return AW_NOMEM;
        out->v[n++].len = it->len;
    }
    out->n = n;
    return rc;
}

/*
 * Split text at dots into path. Empty segments and more than
 * POLICY_MAX_SEGMENTS are refused at node v.
 */
static int
pol_split(struct config_loader *ld, const struct config_node *v,
          const char *text, size_t len, const char *where,
          struct policy_path *path)
{
    char *copy = config_strdup(ld, text, len);
    size_t start = 0;

    if (copy == NULL)
        return AW_NOMEM;
    path->whole = (struct slice){copy, len};
    path->n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && copy[i] != '.')
            continue;
        if (i == start || path->n == POLICY_MAX_SEGMENTS) {
            config_error(ld, v,
                         "%s: a path has 1 to %d non-empty segments "
                         "joined by '.'",
                         where, POLICY_MAX_SEGMENTS);
            return AW_INVALID;
        }
        path->seg[path->n++] = (struct slice){copy + start, i - start};
        start = i + 1;
    }
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* Conditions                                                         */
/* ------------------------------------------------------------------ */

/* when[].ip: a list of address ranges. */
static int
pol_ip(struct config_loader *ld, const struct config_node *v, void *dst,
       const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   POLICY_MAX_VALUES, "ranges", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    c->kind = POLICY_COND_IP;
    c->cidrs = config_alloc(ld, v->n * sizeof(*c->cidrs));
    if (c->cidrs == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        struct config_cidr r;
        char err[160];
        const char *s;

        if (config_expect_string(ld, it, 64, where, &s) != AW_OK) {
            rc = AW_INVALID;
            continue;
        }
        if (config_cidr_parse(s, &r, err, sizeof(err)) != AW_OK) {
            config_error(ld, it, "%s: %s", where, err);
            rc = AW_INVALID;
            continue;
        }
        c->cidrs[c->ncidrs].family = r.family;
        memcpy(c->cidrs[c->ncidrs].addr, r.addr, 16);
        c->cidrs[c->ncidrs++].bits = r.bits;
    }
    return rc;
}

/* when[].country: ISO 3166-1 alpha-2 codes, in capitals. */
static int
pol_country(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    struct policy_strings s = {0};
    int rc = pol_string_list(ld, v, where, &s);

    (void)f;
    c->kind = POLICY_COND_COUNTRY;
    c->values = s.v;
    c->nvalues = s.n;
    for (unsigned i = 0; rc == AW_OK && i < s.n; i++) {
        const char *t = s.v[i].ptr;

        if (s.v[i].len != 2 || t[0] < 'A' || t[0] > 'Z' || t[1] < 'A' ||
            t[1] > 'Z') {
            config_error(ld, v,
                         "%s: '%.16s' is not a two-letter country code in "
                         "capitals (ISO 3166-1, e.g. DE)",
                         where, t);
            rc = AW_INVALID;
        }
    }
    return rc;
}

/* when[].asn: autonomous system numbers. */
static int
pol_asn(struct config_loader *ld, const struct config_node *v, void *dst,
        const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   POLICY_MAX_VALUES, "numbers", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    c->kind = POLICY_COND_ASN;
    c->asns = config_alloc(ld, v->n * sizeof(*c->asns));
    if (c->asns == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        uint64_t n;

        if (it->type != CONFIG_NODE_SCALAR ||
            slice_to_u64((struct slice){it->text, it->len}, UINT32_MAX, &n) !=
                AW_OK ||
            n == 0) {
            config_error(ld, it, "%s: an AS number is 1 to 4294967295", where);
            rc = AW_INVALID;
            continue;
        }
        c->asns[c->nasns++] = (uint32_t)n;
    }
    return rc;
}

/* when[].header: a field name, read through a slot. */
static int
pol_header(struct config_loader *ld, const struct config_node *v, void *dst,
           const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    struct policy_set *s = pol_set(ld);
    const char *name;
    int rc = config_expect_string(ld, v, POL_NAME_MAX, where, &name);

    (void)f;
    if (rc != AW_OK || s == NULL)
        return rc != AW_OK ? rc : AW_NOMEM;
    c->kind = POLICY_COND_HEADER;
    if (!config_is_token(v->text, v->len)) {
        config_error(ld, v, "%s: not a header field name", where);
        return AW_INVALID;
    }
    rc = policy_header_slot(s, &ld->c->strings,
                            (struct slice){v->text, v->len}, &c->slot);
    if (rc == AW_TOOBIG)
        config_error(ld, v, "%s: rules read more than %d header fields",
                     where, POLICY_MAX_SLOTS);
    return rc == AW_TOOBIG ? AW_INVALID : rc;
}

/* when[].claim: a dotted claim path. */
static int
pol_claim(struct config_loader *ld, const struct config_node *v, void *dst,
          const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    int rc = config_check_claim_path(ld, v, where);

    (void)f;
    c->kind = POLICY_COND_CLAIM;
    if (rc != AW_OK)
        return rc;
    return pol_split(ld, v, v->text, v->len, where, &c->claim);
}

/* when[].equals: one string. */
static int
pol_equals(struct config_loader *ld, const struct config_node *v, void *dst,
           const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    const char *s;
    int rc = config_expect_string(ld, v, POL_VALUE_MAX, where, &s);

    (void)f;
    if (rc != AW_OK)
        return rc;
    c->op = POLICY_OP_EQUALS;
    c->values = config_alloc(ld, sizeof(*c->values));
    if (c->values == NULL)
        return AW_NOMEM;
    c->values[0] = (struct slice){config_strdup(ld, v->text, v->len), v->len};
    c->nvalues = 1;
    return c->values[0].ptr != NULL ? AW_OK : AW_NOMEM;
}

/* when[].one_of: strings. */
static int
pol_one_of(struct config_loader *ld, const struct config_node *v, void *dst,
           const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    struct policy_strings s = {0};
    int rc = pol_string_list(ld, v, where, &s);

    (void)f;
    c->op = POLICY_OP_ONE_OF;
    c->values = s.v;
    c->nvalues = s.n;
    return rc;
}

/* when[].regex: a PCRE2 pattern, compiled now. */
static int
pol_regex(struct config_loader *ld, const struct config_node *v, void *dst,
          const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    struct policy_set *s = pol_set(ld);
    char err[200];
    const char *p;
    int rc = config_expect_string(ld, v, POL_VALUE_MAX, where, &p);

    (void)f;
    if (rc != AW_OK || s == NULL)
        return rc != AW_OK ? rc : AW_NOMEM;
    c->op = POLICY_OP_REGEX;
    rc = policy_regex_compile(s, v->text, v->len, &c->re, err, sizeof(err));
    if (rc == AW_INVALID)
        config_error(ld, v, "%s: %s", where, err);
    return rc;
}

/* when[].lt, le, gt, ge: a finite number; f->min holds the op. */
static int
pol_compare(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    char *end;
    double d;

    if (v->type != CONFIG_NODE_SCALAR || !v->plain || v->len == 0) {
        config_error(ld, v, "%s: expected a number", where);
        return AW_INVALID;
    }
    d = strtod(v->text, &end);
    if (*end != '\0' || !isfinite(d)) {
        config_error(ld, v, "%s: expected a number", where);
        return AW_INVALID;
    }
    c->op = (enum policy_op)f->min;
    c->number = d;
    return AW_OK;
}

/* when[].present: must be true. */
static int
pol_present(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    struct policy_cond *c = dst;
    bool b = false;
    int rc = config_parse_bool(ld, v, &b, f, where);

    if (rc == AW_OK && !b) {
        config_error(ld, v, "%s: write `present: true`, and `not: true` "
                     "for absence", where);
        rc = AW_INVALID;
    }
    c->op = POLICY_OP_PRESENT;
    return rc;
}

/* The day bit of a name: sun .. sat. */
static int
pol_day_bit(struct config_loader *ld, const struct config_node *it,
            const char *where, uint32_t *bit)
{
    static const char *const names[] = {"sun", "mon", "tue", "wed",
                                        "thu", "fri", "sat"};
    int i;
    int rc = config_parse_choice(ld, it, 8, names, ARRAY_LEN(names), where, &i);

    if (rc == AW_OK)
        *bit = 1u << i;
    return rc;
}

static const struct config_bits pol_days = {
    .maxlen = 8,
    .bit_of = pol_day_bit,
    .empty = "an empty list of days never matches",
};

/* "HH:MM" into minutes of the day; 24:00 only as an end. */
static bool
pol_clock(const char *s, size_t len, bool end, unsigned *min)
{
    unsigned h, m;

    if (len != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' || s[1] < '0' ||
        s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
        return false;
    h = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    m = (unsigned)(s[3] - '0') * 10 + (unsigned)(s[4] - '0');
    *min = h * 60 + m;
    return h < 24 || (end && h == 24 && m == 0);
}

/* time.hours: "HH:MM-HH:MM", the end excluded; may wrap midnight. */
static int
pol_hours(struct config_loader *ld, const struct config_node *v,
          const char *where, struct policy_cond *c)
{
    const char *s;
    unsigned from, to;
    int rc = config_expect_string(ld, v, 16, where, &s);

    if (rc != AW_OK)
        return rc;
    if (v->len != 11 || s[5] != '-' || !pol_clock(s, 5, false, &from) ||
        !pol_clock(s + 6, 5, true, &to) || from == to) {
        config_error(ld, v,
                     "%s: expected \"HH:MM-HH:MM\" (24-hour clock, end "
                     "excluded, e.g. \"08:00-18:00\")",
                     where);
        return AW_INVALID;
    }
    c->from_min = (uint16_t)from;
    c->to_min = (uint16_t)to;
    return AW_OK;
}

/* when[].time: {days, hours, zone}; zone defaults to UTC. */
static int
pol_time(struct config_loader *ld, const struct config_node *v, void *dst,
         const struct config_field *f, const char *where)
{
    static const char *const keys[] = {"days", "hours", "zone"};
    struct policy_cond *c = dst;
    const struct config_node *days, *hours, *zone;
    struct policy_set *s = pol_set(ld);
    char path[POL_WHERE_MAX], err[200];
    uint32_t bits = 0x7f;
    int rc = config_expect_map(ld, v, where);

    (void)f;
    if (rc != AW_OK || s == NULL)
        return rc != AW_OK ? rc : AW_NOMEM;
    c->kind = POLICY_COND_TIME;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        bool known = false;

        for (size_t i = 0; i < ARRAY_LEN(keys); i++)
            known = known || strcmp(k->text, keys[i]) == 0;
        if (!known) {
            config_error(ld, k, "%s: unknown key (days, hours, zone)", where);
            rc = AW_INVALID;
        }
    }
    days = config_map_get(v, "days");
    hours = config_map_get(v, "hours");
    zone = config_map_get(v, "zone");
    pol_where(path, sizeof(path), where, "days", 0);
    if (days != NULL && config_parse_bits(ld, days, &pol_days, path, &bits))
        rc = AW_INVALID;
    c->days = (uint8_t)bits;
    c->to_min = 24 * 60;
    pol_where(path, sizeof(path), where, "hours", 0);
    if (hours != NULL && pol_hours(ld, hours, path, c) != AW_OK)
        rc = AW_INVALID;
    pol_where(path, sizeof(path), where, "zone", 0);
    if (zone == NULL)
        return policy_zone_load(s, "UTC", &c->zone, err, sizeof(err)) == AW_OK
                   ? rc : (config_error(ld, v, "%s: %s", where, err),
                           AW_INVALID);
    if (config_expect_string(ld, zone, 64, path, &(const char *){0}) != AW_OK)
        return AW_INVALID;
    if (policy_zone_load(s, zone->text, &c->zone, err, sizeof(err)) != AW_OK) {
        config_error(ld, zone, "%s: %s", path, err);
        return AW_INVALID;
    }
    return rc;
}

#define COND_FIELD(k, fn)                                                      \
    {                                                                          \
        .key = (k), .parse = (fn)                                              \
    }
#define COND_CMP(k, op)                                                        \
    {                                                                          \
        .key = (k), .parse = pol_compare, .min = (op)                          \
    }

static const struct config_field pol_cond_schema[] = {
    COND_FIELD("ip", pol_ip),
    COND_FIELD("country", pol_country),
    COND_FIELD("asn", pol_asn),
    COND_FIELD("header", pol_header),
    COND_FIELD("claim", pol_claim),
    COND_FIELD("time", pol_time),
    COND_FIELD("equals", pol_equals),
    COND_FIELD("one_of", pol_one_of),
    COND_FIELD("regex", pol_regex),
    COND_CMP("lt", POLICY_OP_LT),
    COND_CMP("le", POLICY_OP_LE),
    COND_CMP("gt", POLICY_OP_GT),
    COND_CMP("ge", POLICY_OP_GE),
    COND_FIELD("present", pol_present),
    {.key = "not",
     .parse = config_parse_bool,
     .offset = offsetof(struct policy_cond, negate)},
    {.key = "trusted",
     .parse = config_parse_bool,
     .offset = offsetof(struct policy_cond, trusted)},
    {.key = NULL},
};

/* How many of keys[0..n) mapping m has. */
static unsigned
pol_count_keys(const struct config_node *m, const char *const *keys, size_t n)
{
    unsigned count = 0;

    for (size_t i = 0; i < n; i++)
        count += config_map_get(m, keys[i]) != NULL;
    return count;
}

/*
 * The shape of a condition: one value to read, and for a header or a
 * claim one test; `trusted` for headers only.
 */
static int
pol_cond_shape(struct config_loader *ld, const struct config_node *m,
               const struct policy_cond *c, const char *where)
{
    static const char *const kinds[] = {"ip",    "country", "asn",
                                        "header", "claim",  "time"};
    static const char *const ops[] = {"equals", "one_of", "regex", "lt",
                                      "le",     "gt",     "ge",    "present"};
    unsigned nk = pol_count_keys(m, kinds, ARRAY_LEN(kinds));
    unsigned no = pol_count_keys(m, ops, ARRAY_LEN(ops));
    bool tested = c->kind == POLICY_COND_HEADER || c->kind == POLICY_COND_CLAIM;

    if (nk != 1) {
        config_error(ld, m,
                     "%s: a condition names one of ip, country, asn, "
                     "header, claim or time",
                     where);
        return AW_INVALID;
    }
    if (tested && no != 1) {
        config_error(ld, m,
                     "%s: a header or claim condition has one test: "
                     "equals, one_of, regex, lt, le, gt, ge or present",
                     where);
        return AW_INVALID;
    }
    if ((!tested && no != 0) ||
        (c->trusted && c->kind != POLICY_COND_HEADER)) {
        config_error(ld, m, "%s: %s applies to header and claim "
                     "conditions only", where,
                     no != 0 ? "a test" : "trusted");
        return AW_INVALID;
    }
    return AW_OK;
}

/* rules[].when: a list of conditions, all of which must hold. */
static int
pol_when(struct config_loader *ld, const struct config_node *v, void *dst,
         const struct config_field *f, const char *where)
{
    struct policy_rule *r = dst;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   POLICY_MAX_CONDS, "conditions", where);
    size_t i = 0;

    (void)f;
    if (rc != AW_OK)
        return rc;
    r->conds = config_alloc(ld, v->n * sizeof(*r->conds));
    if (r->conds == NULL)
        return AW_NOMEM;
    for (const struct config_node *m = v->first; m != NULL; m = m->next) {
        struct policy_cond *c = &r->conds[r->nconds];
        char path[POL_WHERE_MAX];
        int one;

        pol_where(path, sizeof(path), where, NULL, i++);
        one = config_walk_map(ld, m, pol_cond_schema, c, path);
        if (one == AW_OK)
            one = pol_cond_shape(ld, m, c, path);
        if (one == AW_NOMEM)
            return one;
        if (one != AW_OK)
            rc = AW_INVALID;
        else
            r->nconds++;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Rules                                                              */
/* ------------------------------------------------------------------ */

static int
pol_id(struct config_loader *ld, const struct config_node *v, void *dst,
       const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, POL_NAME_MAX, config_check_name, where,
                               dst);
}

static int
pol_effect(struct config_loader *ld, const struct config_node *v, void *dst,
           const struct config_field *f, const char *where)
{
    static const char *const names[] = {"allow", "deny"};
    int i;
    int rc = config_parse_choice(ld, v, 8, names, 2, where, &i);

    (void)f;
    if (rc == AW_OK)
        *(enum policy_effect *)dst = i == 0 ? POLICY_ALLOW : POLICY_DENY;
    return rc;
}

static int
pol_method_bit(struct config_loader *ld, const struct config_node *it,
               const char *where, uint32_t *bit)
{
    static const char *const names[] = {"jwt", "api_key", "introspection",
                                        "mtls"};
    static const enum auth_kind kinds[] = {AUTH_JWT, AUTH_API_KEY,
                                           AUTH_INTROSPECTION, AUTH_MTLS};
    int i;
    int rc = config_parse_choice(ld, it, 16, names, ARRAY_LEN(names), where,
                                 &i);

    if (rc == AW_OK)
        *bit = POLICY_METHOD_BIT(kinds[i]);
    return rc;
}

static const struct config_bits pol_methods_bits = {
    .maxlen = 16,
    .bit_of = pol_method_bit,
    .empty = "an empty list admits nobody; leave the key out for any",
};

static int
pol_methods(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    (void)f;
    return config_parse_bits(ld, v, &pol_methods_bits, where, dst);
}

/* rules[].consumers: the principal's consumer must be one of them. */
static int
pol_consumers(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    struct policy_strings *s = dst;

    (void)f;
    s->any = true;
    return pol_string_list(ld, v, where, s);
}

/*
 * rules[].roles and scopes: a list, all of which are needed, or
 * {any: [...]} / {all: [...]}.
 */
static int
pol_need(struct config_loader *ld, const struct config_node *v, void *dst,
         const struct config_field *f, const char *where)
{
    struct policy_strings *s = dst;
    const struct config_node *any, *all;
    char path[POL_WHERE_MAX];

    (void)f;
    if (v->type == CONFIG_NODE_SEQ)
        return pol_string_list(ld, v, where, s);
    any = v->type == CONFIG_NODE_MAP ? config_map_get(v, "any") : NULL;
    all = v->type == CONFIG_NODE_MAP ? config_map_get(v, "all") : NULL;
    if (v->type != CONFIG_NODE_MAP || v->n != 1 || (any == NULL) == (all == NULL)) {
        config_error(ld, v,
                     "%s: expected a list (all needed), {any: [...]} or "
                     "{all: [...]}",
                     where);
        return AW_INVALID;
    }
    s->any = any != NULL;
    pol_where(path, sizeof(path), where, s->any ? "any" : "all", 0);
    return pol_string_list(ld, s->any ? any : all, path, s);
}

#define RULE_FIELD(k, fn, member)                                              \
    {                                                                          \
        .key = (k), .parse = (fn),                                             \
        .offset = offsetof(struct policy_rule, member)                         \
    }

static const struct config_field pol_rule_schema[] = {
    RULE_FIELD("id", pol_id, id),
    RULE_FIELD("effect", pol_effect, effect),
    RULE_FIELD("authenticated", config_parse_bool, authenticated),
    RULE_FIELD("methods", pol_methods, methods),
    RULE_FIELD("consumers", pol_consumers, consumers),
    RULE_FIELD("roles", pol_need, roles),
    RULE_FIELD("scopes", pol_need, scopes),
    {.key = "when", .parse = pol_when},
    {.key = NULL},
};

/* True when a condition reads the principal. */
static bool
rule_reads_principal(const struct policy_rule *r)
{
    for (unsigned i = 0; i < r->nconds; i++)
        if (r->conds[i].kind == POLICY_COND_CLAIM)
            return true;
    return r->authenticated;
}

/* Give rule r the generated id "OWNER/N" when it has none. */
static int
pol_rule_settle(struct config_loader *ld, struct policy_rule *r,
                const char *owner, size_t n)
{
    char id[POL_NAME_MAX + 16];

    if (r->methods != 0 || r->consumers.n > 0 || r->roles.n > 0 ||
        r->scopes.n > 0)
        r->authenticated = true;
    if (r->id != NULL)
        return AW_OK;
    snprintf(id, sizeof(id), "%s/%zu", owner, n);
    r->id = config_strdup(ld, id, strlen(id));
    return r->id != NULL ? AW_OK : AW_NOMEM;
}

/* authz.rules: a list of allow and deny rules. */
static int
pol_rules(struct config_loader *ld, const struct config_node *v,
          const char *owner, const char *where, struct pol_block *b)
{
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   POLICY_MAX_RULES, "rules", where);
    size_t i = 0;

    if (rc != AW_OK)
        return rc;
    b->rules = config_alloc(ld, v->n * sizeof(*b->rules));
    if (b->rules == NULL)
        return AW_NOMEM;
    for (const struct config_node *m = v->first; m != NULL; m = m->next) {
        struct policy_rule *r = &b->rules[b->nrules];
        char path[POL_WHERE_MAX];
        int one;

        pol_where(path, sizeof(path), where, NULL, i++);
        one = config_walk_map(ld, m, pol_rule_schema, r, path);
        if (one == AW_OK)
            one = pol_rule_settle(ld, r, owner, i);
        if (one == AW_NOMEM)
            return one;
        if (one != AW_OK)
            rc = AW_INVALID;
        else
            b->nrules++;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Object rules                                                       */
/* ------------------------------------------------------------------ */

/* objects[].value: path.NAME, query.NAME or body.a.b. */
static int
pol_obj_value(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    struct policy_object *o = dst;
    struct policy_set *s = pol_set(ld);
    const char *t;
    int rc = config_expect_string(ld, v, POL_PATH_MAX, where, &t);

    (void)f;
    if (rc != AW_OK || s == NULL)
        return rc != AW_OK ? rc : AW_NOMEM;
    o->value_text = config_strdup(ld, t, v->len);
    if (o->value_text == NULL)
        return AW_NOMEM;
    if (strncmp(t, "path.", 5) == 0 && v->len > 5) {
        o->src = POLICY_SRC_PATH;
        return AW_OK; /* resolved against each route's template */
    }
    if (strncmp(t, "query.", 6) == 0 && v->len > 6) {
        o->src = POLICY_SRC_QUERY;
        rc = policy_query_slot(s, &ld->c->strings,
                               (struct slice){t + 6, v->len - 6}, &o->index);
        if (rc == AW_TOOBIG)
            config_error(ld, v, "%s: rules read more than %d query "
                         "parameters", where, POLICY_MAX_SLOTS);
        return rc == AW_TOOBIG ? AW_INVALID : rc;
    }
    if (strncmp(t, "body.", 5) == 0 && v->len > 5) {
        o->src = POLICY_SRC_BODY;
        return pol_split(ld, v, t + 5, v->len - 5, where, &o->body);
    }
    config_error(ld, v, "%s: expected path.NAME, query.NAME or body.FIELD "
                 "(dotted)", where);
    return AW_INVALID;
}

/* objects[].equals: claim.PATH, principal.subject or .consumer. */
static int
pol_obj_ref(struct config_loader *ld, const struct config_node *v, void *dst,
            const struct config_field *f, const char *where)
{
    struct policy_object *o = dst;
    const char *t;
    int rc = config_expect_string(ld, v, POL_PATH_MAX, where, &t);

    (void)f;
    if (rc != AW_OK)
        return rc;
    o->ref_text = config_strdup(ld, t, v->len);
    if (o->ref_text == NULL)
        return AW_NOMEM;
    if (strcmp(t, "principal.subject") == 0) {
        o->ref = POLICY_REF_SUBJECT;
        return AW_OK;
    }
    if (strcmp(t, "principal.consumer") == 0) {
        o->ref = POLICY_REF_CONSUMER;
        return AW_OK;
    }
    if (strncmp(t, "claim.", 6) == 0 && v->len > 6) {
        o->ref = POLICY_REF_CLAIM;
        return pol_split(ld, v, t + 6, v->len - 6, where, &o->claim);
    }
    config_error(ld, v, "%s: expected claim.PATH, principal.subject or "
                 "principal.consumer", where);
    return AW_INVALID;
}

/* objects[].unless: {roles: [...], scopes: [...]}, any one suffices. */
static int
pol_obj_unless(struct config_loader *ld, const struct config_node *v,
               void *dst, const struct config_field *f, const char *where)
{
    struct policy_object *o = dst;
    const struct config_node *roles, *scopes;
    char path[POL_WHERE_MAX];
    int rc = config_expect_map(ld, v, where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    roles = config_map_get(v, "roles");
    scopes = config_map_get(v, "scopes");
    if (roles == NULL && scopes == NULL) {
        config_error(ld, v, "%s: expected roles and/or scopes", where);
        return AW_INVALID;
    }
    o->unless_roles.any = o->unless_scopes.any = true;
    pol_where(path, sizeof(path), where, "roles", 0);
    if (roles != NULL)
        rc = pol_string_list(ld, roles, path, &o->unless_roles);
    pol_where(path, sizeof(path), where, "scopes", 0);
    if (rc == AW_OK && scopes != NULL)
        rc = pol_string_list(ld, scopes, path, &o->unless_scopes);
    return rc;
}

#define OBJ_FIELD(k, fn, req)                                                  \
    {                                                                          \
        .key = (k), .parse = (fn), .required = (req)                           \
    }

static const struct config_field pol_object_schema[] = {
    {.key = "id",
     .parse = pol_id,
     .offset = offsetof(struct policy_object, id)},
    OBJ_FIELD("value", pol_obj_value, true),
    OBJ_FIELD("equals", pol_obj_ref, true),
    OBJ_FIELD("unless", pol_obj_unless, false),
    {.key = NULL},
};

/* authz.objects: a list of object rules. */
static int
pol_objects(struct config_loader *ld, const struct config_node *v,
            const char *owner, const char *where, struct pol_block *b)
{
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1,
                                   POLICY_MAX_OBJECTS, "object rules", where);
    size_t i = 0;

    if (rc != AW_OK)
        return rc;
    b->objects = config_alloc(ld, v->n * sizeof(*b->objects));
    if (b->objects == NULL)
        return AW_NOMEM;
    for (const struct config_node *m = v->first; m != NULL; m = m->next) {
        struct policy_object *o = &b->objects[b->nobjects];
        char path[POL_WHERE_MAX], id[POL_NAME_MAX + 24];
        int one;

        pol_where(path, sizeof(path), where, NULL, i++);
        one = config_walk_map(ld, m, pol_object_schema, o, path);
        if (one == AW_OK && o->id == NULL) {
            snprintf(id, sizeof(id), "%s/object/%zu", owner, i);
            o->id = config_strdup(ld, id, strlen(id));
            one = o->id != NULL ? AW_OK : AW_NOMEM;
        }
        if (one == AW_NOMEM)
            return one;
        if (one != AW_OK) {
            rc = AW_INVALID;
            continue;
        }
        b->reads_body = b->reads_body || o->src == POLICY_SRC_BODY;
        b->nobjects++;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Blocks: routes[].authz and policies.NAME                           */
/* ------------------------------------------------------------------ */

static int
pol_policy_name(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, POL_NAME_MAX, config_check_name, where,
                               dst);
}

#define BLOCK_BOOL(k, member)                                                  \
    {                                                                          \
        .key = (k), .parse = config_parse_bool,                                \
        .offset = offsetof(struct pol_block, member)                           \
    }

/* Parsed by pol_block_parse itself, after the walk. */
static int
pol_later(struct config_loader *ld, const struct config_node *v, void *dst,
          const struct config_field *f, const char *where)
{
    (void)ld, (void)v, (void)dst, (void)f, (void)where;
    return AW_OK;
}

static const struct config_field pol_route_schema[] = {
    BLOCK_BOOL("public", public_route),
    BLOCK_BOOL("authenticated", authenticated),
    BLOCK_BOOL("monitor", monitor),
    {.key = "policy",
     .parse = pol_policy_name,
     .offset = offsetof(struct pol_block, policy)},
    {.key = "rules", .parse = pol_later},
    {.key = "objects", .parse = pol_later},
    {.key = NULL},
};

/* The same keys but `policy`: a named policy does not nest another. */
static const struct config_field pol_named_schema[] = {
    BLOCK_BOOL("public", public_route),
    BLOCK_BOOL("authenticated", authenticated),
    BLOCK_BOOL("monitor", monitor),
    {.key = "rules", .parse = pol_later},
    {.key = "objects", .parse = pol_later},
    {.key = NULL},
};

/* Parse an authz mapping or a named policy into b. */
static int
pol_block_parse(struct config_loader *ld, const struct config_node *m,
                const struct config_field *schema, const char *owner,
                const char *where, struct pol_block *b)
{
    const struct config_node *rules, *objects;
    char path[POL_WHERE_MAX];
    int rc = config_walk_map(ld, m, schema, b, where);

    if (m->type != CONFIG_NODE_MAP)
        return rc;
    rules = config_map_get(m, "rules");
    objects = config_map_get(m, "objects");
    pol_where(path, sizeof(path), where, "rules", 0);
    if (rules != NULL) {
        int one = pol_rules(ld, rules, owner, path, b);

        rc = one == AW_NOMEM || rc == AW_OK ? one : rc;
    }
    pol_where(path, sizeof(path), where, "objects", 0);
    if (objects != NULL && rc != AW_NOMEM) {
        int one = pol_objects(ld, objects, owner, path, b);

        rc = one == AW_NOMEM || rc == AW_OK ? one : rc;
    }
    return rc;
}

/* Store a parsed named policy in the snapshot. */
static int
pol_named_keep(struct config_loader *ld, const char *name,
               const struct pol_block *b, struct config_policy *p)
{
    p->name = (char *)name;
    p->public_route = b->public_route;
    p->authenticated = b->authenticated;
    p->monitor = b->monitor;
    p->rules = b->rules;
    p->nrules = b->nrules;
    p->objects = b->objects;
    p->nobjects = b->nobjects;
    p->reads_body = b->reads_body;
    (void)ld;
    return AW_OK;
}

int
config_parse_policies(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where)
{
    struct config *c = ld->c;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_MAP, 1,
                                   POL_MAX_POLICIES, "policies", where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    c->policies = config_alloc(ld, v->n * sizeof(*c->policies));
    if (c->policies == NULL)
        return AW_NOMEM;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        struct pol_block b = {0};
        char path[POL_WHERE_MAX], q[96];
        char *name;
        int one;

        if (k->dup)
            continue;
        one = config_entry_name(ld, k, POL_NAME_MAX, "a policy", where, &name);
        if (one == AW_NOMEM)
            return one;
        pol_where(path, sizeof(path), where,
                  config_node_quote(k, q, sizeof(q)), 0);
        if (one == AW_OK)
            one = pol_block_parse(ld, k->value, pol_named_schema, name, path,
                                  &b);
        if (one == AW_NOMEM)
            return one;
        if (one != AW_OK)
            rc = AW_INVALID;
        pol_named_keep(ld, name, &b, &c->policies[c->npolicies++]);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Compiling a route's program                                        */
/* ------------------------------------------------------------------ */

/* The named policy called name, or NULL. */
static const struct config_policy *
pol_find(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->npolicies; i++)
        if (strcmp(c->policies[i].name, name) == 0)
            return &c->policies[i];
    return NULL;
}

/*
 * The capture index of path parameter name in a route template
 * ("/users/{id}", "/files/{rest*}"): parameters are numbered in the
 * order they appear. -1 when the template has no such parameter.
 */
static int
pol_param_index(const char *tmpl, const char *name)
{
    size_t want = strlen(name);
    int index = 0;

    for (const char *p = strchr(tmpl, '{'); p != NULL;
         p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        size_t len;

        if (end == NULL)
            return -1;
        len = (size_t)(end - p - 1);
        if (len > 0 && p[len] == '*')
            len--;
        if (len == want && memcmp(p + 1, name, want) == 0)
            return index;
        index++;
    }
    return -1;
}

/* An implicit allow rule admitting any principal. */
static struct policy_rule *
pol_authenticated_rule(struct config_loader *ld, const char *owner)
{
    struct policy_rule *r = config_alloc(ld, sizeof(*r));
    char id[POL_NAME_MAX + 16];

    if (r == NULL)
        return NULL;
    snprintf(id, sizeof(id), "%s/authenticated", owner);
    r->id = config_strdup(ld, id, strlen(id));
    r->effect = POLICY_ALLOW;
    r->authenticated = true;
    return r->id != NULL ? r : NULL;
}

/* Append the rules of one block (policy or inline) to the program. */
static int
pol_add_rules(struct config_loader *ld, struct policy_program *p,
              const struct policy_rule *rules, unsigned n, bool authenticated,
              const char *owner)
{
    if (p->nrules + n + 1 > POLICY_MAX_RULES)
        return AW_TOOBIG;
    for (unsigned i = 0; i < n; i++)
        p->rules[p->nrules++] = &rules[i];
    if (authenticated) {
        const struct policy_rule *r = pol_authenticated_rule(ld, owner);

        if (r == NULL)
            return AW_NOMEM;
        p->rules[p->nrules++] = r;
    }
    return AW_OK;
}

/* Copy object rules into the program, resolving path parameters. */
static int
pol_add_objects(struct config_loader *ld, const struct config_node *at,
                struct policy_program *p, const struct config_route *route,
                const struct policy_object *objs, unsigned n,
                const char *where)
{
    struct policy_object *dst = (struct policy_object *)p->objects;
    int rc = AW_OK;

    for (unsigned i = 0; i < n; i++) {
        struct policy_object o = objs[i];

        if (o.src == POLICY_SRC_PATH) {
            int index = pol_param_index(route->path, o.value_text + 5);

            if (index < 0) {
                config_error(ld, at,
                             "%s: object rule '%s' reads %s, but the path "
                             "'%s' has no parameter {%s}",
                             where, o.id, o.value_text, route->path,
                             o.value_text + 5);
                rc = AW_INVALID;
                continue;
            }
            o.index = (unsigned)index;
        }
        dst[p->nobjects++] = o;
    }
    return rc;
}

/* Slots, geo and principal needs of a finished program. */
static void
pol_program_needs(struct policy_program *p)
{
    for (unsigned i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = p->rules[i];

        p->needs_principal = p->needs_principal || rule_reads_principal(r);
        for (unsigned j = 0; j < r->nconds; j++) {
            const struct policy_cond *c = &r->conds[j];

            if (c->kind == POLICY_COND_HEADER)
                p->header_slots |= 1u << c->slot;
            if (c->kind == POLICY_COND_COUNTRY || c->kind == POLICY_COND_ASN)
                p->needs_geo = true;
        }
    }
    for (unsigned i = 0; i < p->nobjects; i++) {
        if (p->objects[i].src == POLICY_SRC_QUERY)
            p->query_slots |= 1u << p->objects[i].index;
        p->needs_principal = true;
    }
}

/* A country or ASN condition without its database configured. */
static int
pol_check_geo(struct config_loader *ld, const struct config_node *at,
              const struct policy_program *p, const char *where)
{
    for (unsigned i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = p->rules[i];

        for (unsigned j = 0; j < r->nconds; j++) {
            enum policy_cond_kind k = r->conds[j].kind;

            if ((k == POLICY_COND_COUNTRY && ld->c->geo_country == NULL) ||
                (k == POLICY_COND_ASN && ld->c->geo_asn == NULL)) {
                config_error(ld, at,
                             "%s: rule '%s' has a %s condition but "
                             "geo.%s is not configured",
                             where, r->id,
                             k == POLICY_COND_ASN ? "asn" : "country",
                             k == POLICY_COND_ASN ? "asn_db" : "country_db");
                return AW_INVALID;
            }
        }
    }
    return AW_OK;
}

/* True when the program has at least one allow rule. */
static bool
pol_has_allow(const struct policy_program *p)
{
    for (unsigned i = 0; i < p->nrules; i++)
        if (p->rules[i]->effect == POLICY_ALLOW)
            return true;
    return false;
}

/* The checks of a whole program, at the route's authz node. */
static int
pol_program_check(struct config_loader *ld, const struct config_node *at,
                  const struct config_route *route,
                  const struct policy_program *p, const char *where)
{
    if (p->public_route && (pol_has_allow(p) || p->nobjects > 0)) {
        config_error(ld, at,
                     "%s: a public route takes deny rules only (no allow "
                     "rules, no object rules, not authenticated)",
                     where);
        return AW_INVALID;
    }
    if (!p->public_route && !pol_has_allow(p)) {
        config_error(ld, at,
                     "%s: no allow rule, so nothing could pass; add "
                     "rules, `authenticated: true`, or `public: true`",
                     where);
        return AW_INVALID;
    }
    if (p->needs_principal && route->auth == NULL) {
        config_error(ld, at,
                     "%s: the rules read the caller, but the route has "
                     "no auth section, so they could never hold",
                     where);
        return AW_INVALID;
    }
    return pol_check_geo(ld, at, p, where);
}

/* Room for the program and its rule and object arrays. */
static struct policy_program *
pol_program_new(struct config_loader *ld, const struct config_route *route,
                unsigned nrules, unsigned nobjects)
{
    struct policy_program *p = config_alloc(ld, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->route = route->name;
    p->set = pol_set(ld);
    p->rules = config_alloc(ld, (nrules + 2) * sizeof(*p->rules));
    p->objects = config_alloc(ld, (nobjects + 1) * sizeof(*p->objects));
    if (p->set == NULL || p->rules == NULL || p->objects == NULL)
        return NULL;
    return p;
}

/* Build the program of a route from its block and its named policy. */
static int
pol_compile(struct config_loader *ld, const struct config_node *at,
            struct config_route *route, const struct pol_block *b,
            const struct config_policy *np, const char *where)
{
    unsigned nr = b->nrules + (np != NULL ? np->nrules : 0);
    unsigned no = b->nobjects + (np != NULL ? np->nobjects : 0);
    struct policy_program *p = pol_program_new(ld, route, nr, no);
    int rc = AW_OK;

    if (p == NULL)
        return AW_NOMEM;
    if (no > POLICY_MAX_OBJECTS || nr + 2 > POLICY_MAX_RULES) {
        config_error(ld, at, "%s: more than %d rules or %d object rules "
                     "with the policy's", where, POLICY_MAX_RULES,
                     POLICY_MAX_OBJECTS);
        return AW_INVALID;
    }
    if (np != NULL) {
        p->policy = np->name;
        p->public_route = np->public_route;
        p->monitor = np->monitor;
        rc = pol_add_rules(ld, p, np->rules, np->nrules, np->authenticated,
                           np->name);
        if (rc == AW_OK)
            rc = pol_add_objects(ld, at, p, route, np->objects, np->nobjects,
                                 where);
        route->buffer_body = route->buffer_body || np->reads_body;
    }
    p->public_route = p->public_route || b->public_route;
    p->monitor = p->monitor || b->monitor;
    if (rc == AW_OK)
        rc = pol_add_rules(ld, p, b->rules, b->nrules, b->authenticated,
                           route->name);
    if (rc == AW_OK)
        rc = pol_add_objects(ld, at, p, route, b->objects, b->nobjects, where);
    if (rc != AW_OK)
        return rc;
    route->buffer_body = route->buffer_body || b->reads_body;
    pol_program_needs(p);
    rc = pol_program_check(ld, at, route, p, where);
    if (rc == AW_OK)
        route->authz = p;
    return rc;
}

int
config_policy_route(struct config_loader *ld, const struct config_node *m,
                    struct config_route *route, const char *where)
{
    const struct config_node *v = config_map_get(m, "authz");
    const struct config_policy *np = NULL;
    struct pol_block b = {0};
    char path[POL_WHERE_MAX];
    int rc;

    if (v == NULL) {
        config_error(ld, m,
                     "%s: the route does not say who may call it; add "
                     "`authz: {public: true}` for anyone, `authz: "
                     "{authenticated: true}` for any caller its auth "
                     "accepts, or authz rules",
                     where);
        return AW_INVALID;
    }
    if (route->name == NULL || route->path == NULL)
        return AW_INVALID;
    pol_where(path, sizeof(path), where, "authz", 0);
    rc = pol_block_parse(ld, v, pol_route_schema, route->name, path, &b);
    if (rc != AW_OK)
        return rc;
    if (b.policy != NULL) {
        np = pol_find(ld->c, b.policy);
        if (np == NULL) {
            config_error(ld, config_map_get(v, "policy"),
                         "%s.policy: no policy is named '%s' under "
                         "policies",
                         path, b.policy);
            return AW_INVALID;
        }
    }
    return pol_compile(ld, v, route, &b, np, path);
}

int
config_policy_builtin(struct config_loader *ld, struct config_route *route,
                      bool authenticated)
{
    static const struct config_node nowhere = {.line = 0};
    struct pol_block b = {.public_route = !authenticated,
                          .authenticated = authenticated};

    return pol_compile(ld, &nowhere, route, &b, NULL, "routes[0].authz");
}
