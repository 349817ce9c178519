/*
 * policy: authorization. Rules over the principal and the request,
 * object-level rules that bind a request value to the principal, and
 * the evaluator that decides one request.
 *
 * The contract of this module.
 *
 * 1. Compiled once. The config loader (src/config/policy.c) parses
 *    `policies:` and `routes[].authz` into the structures below, in the
 *    snapshot's arena, one program per route. Every name is split,
 *    lowercased and resolved at load: header fields and query
 *    parameters become slots, path parameters become indexes into the
 *    route's captures, claim and body paths become segment lists,
 *    regular expressions are compiled with PCRE2 JIT, time zones are
 *    read from the tz database. policy_eval allocates nothing and parses
 *    no configuration text; the only text it reads is the request's
 *    (a header value compared as a number is read as one).
 *
 * 2. Order. An explicit deny rule that matches wins. Otherwise the first
 *    allow rule that matches allows. Otherwise the request is denied,
 *    with the reason and id of the first allow rule (the most specific
 *    the operator wrote first). A public program allows when no deny
 *    rule matches and has no allow rules. Once allowed, every object
 *    rule must hold, or the request is denied (authz.object_mismatch).
 *
 * 3. Unknown values fail closed. A condition that cannot be decided (a
 *    header or claim absent, a country the database does not know, a
 *    trusted header from a peer outside trusted_proxies) makes an allow
 *    rule fail and a deny rule match, negated or not. Only the
 *    `present` test is never unknown.
 *
 * 4. Reasons, each a stable code in the response, the log and the
 *    event:
 *      authz.allowed              an allow rule matched
 *      authz.public               a public route, no deny rule matched
 *      authz.denied               an explicit deny rule matched
 *      authz.unauthenticated      the rule needs a principal, none
 *      authz.method_not_allowed   the principal's authentication method
 *                                 is not one the rule names
 *      authz.consumer_not_allowed the principal's consumer is not listed
 *      authz.missing_role         roles required and not held
 *      authz.missing_scope        scopes required and not held (403 with
 *                                 RFC 6750 insufficient_scope)
 *      authz.condition_failed     a condition of the rule did not hold
 *      authz.object_mismatch      an object rule did not hold
 *      authz.eval_error           a regular expression hit its limits
 *      authz.no_rule              a program with neither allow rules
 *                                 nor public (the loader refuses it)
 *
 * 5. Threads. A compiled program is read-only and shared by every
 *    worker; policy_eval may run on any number of threads at once.
 */
#ifndef APIWARD_POLICY_H
#define APIWARD_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/base.h"
#include "json/json.h"

struct principal;
struct geo_db;
struct route_params;

/* Bounds; the config loader refuses anything larger. */
#define POLICY_MAX_RULES 256    /* rules of one program, policy included */
#define POLICY_MAX_CONDS 32     /* conditions of one rule */
#define POLICY_MAX_VALUES 256   /* entries of one list in a rule */
#define POLICY_MAX_OBJECTS 16   /* object rules of one program */
#define POLICY_MAX_SEGMENTS 8   /* segments of a claim or body path */
#define POLICY_MAX_SLOTS 32     /* distinct headers, and distinct query
                                   parameters, in one configuration */
#define POLICY_MAX_ZONES 16     /* distinct time zones */
#define POLICY_MATCH_LIMIT 10000 /* PCRE2 match limit of one test */
#define POLICY_DEPTH_LIMIT 1000  /* PCRE2 depth limit of one test */

/* A list of strings a principal must hold: all of them, or any one. */
struct policy_strings {
    struct slice *v;   /* in the snapshot's arena */
    unsigned n;        /* 0: no requirement */
    bool any;          /* true: one suffices; false: all are needed */
};

/*
 * A dotted path into a JSON object (claims or body), split at load. As
 * for identity's claim requirements, a member named by the whole path
 * ("https://example.com/tier") wins over the dotted walk.
 */
struct policy_path {
    struct slice whole;                       /* the path as written */
    struct slice seg[POLICY_MAX_SEGMENTS];    /* its segments */
    unsigned n;
};

/* An address range of an ip condition. */
struct policy_cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network byte order, masked */
    unsigned bits;
};

/* A time zone: UTC offsets from the tz database, read at load. */
struct policy_zone;

/* Which request value a condition reads. */
enum policy_cond_kind {
    POLICY_COND_IP,       /* the client's address in one of the ranges */
    POLICY_COND_COUNTRY,  /* geo country in the list */
    POLICY_COND_ASN,      /* geo ASN in the list */
    POLICY_COND_HEADER,   /* a request header field's value */
    POLICY_COND_CLAIM,    /* a claim of the principal */
    POLICY_COND_TIME,     /* the day and hour in a zone */
};

/* How a header or claim value is tested. */
enum policy_op {
    POLICY_OP_PRESENT,    /* the value exists */
    POLICY_OP_EQUALS,     /* text equals values[0] */
    POLICY_OP_ONE_OF,     /* text equals one of values */
    POLICY_OP_REGEX,      /* text matches re (unanchored unless the
                             pattern anchors itself) */
    POLICY_OP_LT,         /* a number, compared with number */
    POLICY_OP_LE,
    POLICY_OP_GT,
    POLICY_OP_GE,
};

/* One condition of a rule. Unused members are zero. */
struct policy_cond {
    enum policy_cond_kind kind;
    enum policy_op op;               /* HEADER and CLAIM */
    bool negate;                     /* `not: true` */
    bool trusted;                    /* HEADER: read only from a peer in
                                        trusted_proxies */
    unsigned slot;                   /* HEADER: header slot */
    struct policy_path claim;        /* CLAIM */
    struct slice *values;            /* EQUALS, ONE_OF, COUNTRY (upper
                                        case two letters) */
    unsigned nvalues;
    double number;                   /* LT .. GE */
    void *re;                        /* REGEX: a pcre2_code, owned by the
                                        policy set */
    struct policy_cidr *cidrs;       /* IP */
    unsigned ncidrs;
    uint32_t *asns;                  /* ASN */
    unsigned nasns;
    uint8_t days;                    /* TIME: bit 0 Sunday .. bit 6 */
    uint16_t from_min;               /* TIME: [from, to) minutes of the
                                        local day; from > to wraps */
    uint16_t to_min;
    const struct policy_zone *zone;  /* TIME */
};

enum policy_effect { POLICY_ALLOW, POLICY_DENY };

/* Bits of policy_rule.methods: one per enum auth_kind but AUTH_NONE. */
#define POLICY_METHOD_BIT(kind) (1u << (unsigned)(kind))

/* One allow or deny rule: requirements and conditions, all must hold. */
struct policy_rule {
    const char *id;                  /* given, or "ROUTE/N", "POLICY/N" */
    enum policy_effect effect;
    bool authenticated;              /* a principal is needed (implied by
                                        any requirement below) */
    uint32_t methods;                /* POLICY_METHOD_BIT set; 0: any */
    struct policy_strings consumers; /* one of (any is always true) */
    struct policy_strings roles;
    struct policy_strings scopes;
    struct policy_cond *conds;
    unsigned nconds;
};

/* Where an object rule reads the request value. */
enum policy_source { POLICY_SRC_PATH, POLICY_SRC_QUERY, POLICY_SRC_BODY };

/* What the request value must equal. */
enum policy_ref { POLICY_REF_CLAIM, POLICY_REF_SUBJECT, POLICY_REF_CONSUMER };

/*
 * An object-level rule: the request value must equal the principal's,
 * unless the principal holds one of the unless roles or scopes. A
 * value missing on either side is a mismatch. JSON integers compare as
 * their decimal text, strings as their bytes; other JSON types never
 * match.
 */
struct policy_object {
    const char *id;
    const char *value_text;          /* "path.user_id", for messages */
    enum policy_source src;
    unsigned index;                  /* PATH: capture index in the route;
                                        QUERY: query slot */
    struct policy_path body;         /* BODY */
    const char *ref_text;            /* "claim.sub" */
    enum policy_ref ref;
    struct policy_path claim;        /* REF_CLAIM */
    struct policy_strings unless_roles;  /* any of */
    struct policy_strings unless_scopes; /* any of */
};

/* The compiled authorization of one route. */
struct policy_program {
    const char *route;               /* route name */
    const struct policy_set *set;    /* the configuration's set */
    const char *policy;              /* named policy used, or NULL */
    bool public_route;               /* allow when no deny rule matches */
    bool monitor;                    /* decide and record, never refuse */
    const struct policy_rule **rules;/* policy rules first, then inline */
    unsigned nrules;
    const struct policy_object *objects;
    unsigned nobjects;
    uint32_t header_slots;           /* bit per header slot read */
    uint32_t query_slots;            /* bit per query slot read */
    bool needs_geo;                  /* a country or asn condition */
    bool needs_principal;            /* some rule reads the principal */
};

/*
 * What a configuration's programs share: the names behind the header
 * and query slots, and the compiled regular expressions and zones that
 * must be released with the snapshot.
 */
struct policy_set {
    struct slice headers[POLICY_MAX_SLOTS];  /* lowercase field names */
    unsigned nheaders;
    struct slice query[POLICY_MAX_SLOTS];    /* parameter names */
    unsigned nquery;
    void **regexes;                           /* pcre2_code pointers */
    unsigned nregexes;
    unsigned cap_regexes;
    struct policy_zone *zones[POLICY_MAX_ZONES];
    unsigned nzones;
    void *gctx;                               /* pcre2_general_context */
    void *match_ctx;                          /* pcre2_match_context */
};

/* Make an empty set; NULL when out of memory. */
struct policy_set *policy_set_new(void);

/* Release a set, its regexes and zones; accepts NULL. */
void policy_set_free(struct policy_set *s);

/*
 * The slot of a header field name (lowercased here) or query parameter
 * name, added when new. Names are copied into a. Returns AW_OK with
 * *slot set, AW_TOOBIG past POLICY_MAX_SLOTS, AW_NOMEM.
 */
int policy_header_slot(struct policy_set *s, struct arena *a,
                       struct slice name, unsigned *slot);
int policy_query_slot(struct policy_set *s, struct arena *a,
                      struct slice name, unsigned *slot);

/*
 * Compile pattern[0..len) with PCRE2 (UTF, JIT when available) into the
 * set. Returns AW_OK with *re set, AW_INVALID with a sentence in err
 * naming the offset, AW_NOMEM.
 */
int policy_regex_compile(struct policy_set *s, const char *pattern,
                         size_t len, void **re, char *err, size_t errlen);

/*
 * Read an IANA time zone ("Europe/Berlin", "UTC") from the tz database
 * under /usr/share/zoneinfo (or $TZDIR), once per set. Returns AW_OK
 * with *zone set; AW_INVALID with a sentence in err for a name that is
 * not a zone or a file that is not TZif; AW_NOMEM.
 */
int policy_zone_load(struct policy_set *s, const char *name,
                     const struct policy_zone **zone, char *err,
                     size_t errlen);

/* The UTC offset in seconds of zone at unix time t. */
int32_t policy_zone_offset(const struct policy_zone *zone, int64_t t);

/* The request as the evaluator sees it. Everything is borrowed. */
struct policy_input {
    const struct principal *principal;  /* NULL or kind AUTH_NONE: none */
    const struct sockaddr *client;      /* the peer's address, or NULL */
    bool client_trusted;                /* the peer is a trusted proxy */
    const struct geo_db *country_db;    /* NULL when not configured */
    const struct geo_db *asn_db;
    const struct slice *headers;        /* by header slot; .ptr NULL when
                                           the field is absent; may be
                                           NULL when no slot is read */
    const struct slice *query;          /* by query slot, likewise,
                                           percent-decoded */
    const struct route_params *params;  /* the route's captures */
    const struct json_value *body;      /* the parsed body, or NULL */
    int64_t now;                        /* unix seconds */

    /*
     * For `policy explain`: called after each rule and object rule with
     * its id, its effect ("allow", "deny", "object"), whether it matched
     * (for an object rule: held) and the reason when it did not. NULL
     * on the request path.
     */
    void (*on_step)(void *arg, const char *id, const char *kind,
                    bool matched, const char *reason);
    void *step_arg;
};

/* The outcome of one evaluation. */
struct policy_decision {
    bool allow;                     /* the program's verdict */
    bool enforce;                   /* false in monitor mode: the request
                                       goes on even when !allow */
    const char *rule_id;            /* rule that decided, or NULL */
    const char *reason;             /* an authz.* code (rule 4) */
    const struct policy_strings *scopes; /* with authz.missing_scope: the
                                       rule's scopes, for the challenge */
    const struct policy_object *object;  /* with authz.object_mismatch */
    struct slice object_value;      /* the request value compared:
                                       borrowed from the input, or in
                                       object_buf; empty when absent */
    char object_buf[24];            /* a JSON integer's decimal text */
};

/*
 * Decide one request. Never fails: an error inside (a regex over its
 * limits) is a denial with authz.eval_error. Allocates nothing.
 */
void policy_eval(const struct policy_program *p, const struct policy_input *in,
                 struct policy_decision *d);

/* Counters of decisions since start, for metrics. */
struct policy_stats {
    atomic_uint_fast64_t allowed;
    atomic_uint_fast64_t denied;
    atomic_uint_fast64_t monitored; /* denials let through */
};

/* The process-wide counters. */
extern struct policy_stats policy_stats;

/*
 * Record d in policy_stats. Separate from policy_eval so that `policy
 * explain` and tests do not count.
 */
void policy_count(const struct policy_decision *d);

/*
 * `apiward policy explain ...` with argv[1] "explain" (argv[0] is
 * "policy"): load the file, match the request given by the options,
 * evaluate its route's program and print the route, each rule with its
 * result, and the decision. Returns the exit code: 0 allow (or a denial
 * monitor mode lets through), 1 deny or no route, 2 usage or
 * configuration error.
 */
int policy_explain_cmd(int argc, char **argv);

#endif
