/*
 * The policy set (slots, regular expressions, zones) and the evaluator.
 *
 * The evaluator walks arrays built at load. Its only memory is the
 * caller's stack and, for a regular expression, one PCRE2 match block
 * that lives in thread-local storage: PCRE2 asks for it through the
 * general context's allocator, which hands out that block while a test
 * is in progress and defers to malloc otherwise (at load).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity.h"
#include "policy/geo.h"
#include "policy/policy.h"
#include "policy/policy_int.h"
#include "route/route.h"

struct policy_stats policy_stats;

/* ------------------------------------------------------------------ */
/* The set                                                            */
/* ------------------------------------------------------------------ */

/* The match block of the thread's regex test in progress. */
static _Thread_local _Alignas(max_align_t) unsigned char md_block[512];
static _Thread_local bool md_armed;

static void *
on_pcre2_alloc(size_t n, void *arg)
{
    (void)arg;
    if (!md_armed)
        return malloc(n);
    md_armed = false;
    return n <= sizeof(md_block) ? md_block : NULL;
}

static void
on_pcre2_free(void *p, void *arg)
{
    (void)arg;
    if (p != md_block)
        free(p);
}

struct policy_set *
policy_set_new(void)
{
    struct policy_set *s = calloc(1, sizeof(*s));
    pcre2_general_context *g;
    pcre2_match_context *m;

    if (s == NULL)
        return NULL;
    g = pcre2_general_context_create(on_pcre2_alloc, on_pcre2_free, NULL);
    m = pcre2_match_context_create(g);
    s->gctx = g;
    s->match_ctx = m;
    if (g == NULL || m == NULL) {
        policy_set_free(s);
        return NULL;
    }
    pcre2_set_match_limit(m, POLICY_MATCH_LIMIT);
    pcre2_set_depth_limit(m, POLICY_DEPTH_LIMIT);
    return s;
}

void
policy_set_free(struct policy_set *s)
{
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->nregexes; i++)
        pcre2_code_free(s->regexes[i]);
    free(s->regexes);
    for (unsigned i = 0; i < s->nzones; i++)
        policy_zone_free(s->zones[i]);
    pcre2_match_context_free(s->match_ctx);
    pcre2_general_context_free(s->gctx);
    free(s);
}

/* Find name in names[0..n) or add it; lower folds it first. */
static int
slot_of(struct slice *names, unsigned *n, struct arena *a, struct slice name,
        bool lower, unsigned *slot)
{
    char *copy;

    for (unsigned i = 0; i < *n; i++) {
        if (lower ? slice_eq_nocase(names[i], name) : slice_eq(names[i], name)) {
            *slot = i;
            return AW_OK;
        }
    }
    if (*n == POLICY_MAX_SLOTS)
        return AW_TOOBIG;
    copy = arena_dup(a, name.ptr, name.len);
    if (copy == NULL)
        return AW_NOMEM;
    for (size_t i = 0; lower && i < name.len; i++)
        if (copy[i] >= 'A' && copy[i] <= 'Z')
            copy[i] = (char)(copy[i] - 'A' + 'a');
    names[*n] = (struct slice){copy, name.len};
    *slot = (*n)++;
    return AW_OK;
}

int
policy_header_slot(struct policy_set *s, struct arena *a, struct slice name,
                   unsigned *slot)
{
    return slot_of(s->headers, &s->nheaders, a, name, true, slot);
}

int
policy_query_slot(struct policy_set *s, struct arena *a, struct slice name,
                  unsigned *slot)
{
    return slot_of(s->query, &s->nquery, a, name, false, slot);
}

int
policy_regex_compile(struct policy_set *s, const char *pattern, size_t len,
                     void **re, char *err, size_t errlen)
{
    PCRE2_UCHAR msg[128];
    PCRE2_SIZE off;
    int code;
    pcre2_code *c;

    if (s->nregexes == s->cap_regexes) {
        unsigned cap = s->cap_regexes ? s->cap_regexes * 2 : 8;
        void **grown = realloc(s->regexes, cap * sizeof(*grown));

        if (grown == NULL)
            return AW_NOMEM;
        s->regexes = grown;
        s->cap_regexes = cap;
    }
    c = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_NO_UTF_CHECK,
                      &code, &off, NULL);
    if (c == NULL) {
        pcre2_get_error_message(code, msg, sizeof(msg));
        snprintf(err, errlen, "bad regular expression at offset %zu: %s",
                 (size_t)off, (const char *)msg);
        return AW_INVALID;
    }
    /* Without JIT the interpreter runs, slower but within the limits. */
    (void)pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
    s->regexes[s->nregexes++] = c;
    *re = c;
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* Values                                                             */
/* ------------------------------------------------------------------ */

/* Outcome of one condition (rule 3 of policy.h). */
enum tri { T_FALSE, T_TRUE, T_UNKNOWN, T_ERROR };

/* State of one evaluation. */
struct eval {
    const struct policy_set *set;
    const struct policy_input *in;
    const struct principal *p;     /* NULL when there is none */
    struct geo_result geo;
    bool geo_done;
};

/* The member of obj named name, or NULL. */
static const struct json_value *
member(const struct json_value *obj, struct slice name)
{
    if (obj == NULL || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++)
        if (slice_eq(obj->u.obj.members[i].name, name))
            return obj->u.obj.members[i].value;
    return NULL;
}

/* The value at a pre-split path; the whole name wins (policy_path). */
static const struct json_value *
path_get(const struct json_value *root, const struct policy_path *path)
{
    const struct json_value *v = member(root, path->whole);

    if (v != NULL || path->n < 2)
        return v;
    v = root;
    for (unsigned i = 0; i < path->n && v != NULL; i++)
        v = member(v, path->seg[i]);
    return v;
}

/*
 * The text of a scalar for comparison: a string's bytes, an integer's
 * decimal digits (written into num), true or false. Other values have
 * none (SLICE_NULL).
 */
static struct slice
scalar_text(const struct json_value *v, char num[24])
{
    if (v == NULL)
        return SLICE_NULL;
    switch (v->type) {
    case JSON_STRING:
        return v->u.str;
    case JSON_NUMBER:
        if (!v->u.num.is_int)
            return SLICE_NULL;
        snprintf(num, 24, "%lld", (long long)v->u.num.i);
        return (struct slice){num, strlen(num)};
    case JSON_TRUE:
        return SLICE_LIT("true");
    case JSON_FALSE:
        return SLICE_LIT("false");
    default:
        return SLICE_NULL;
    }
}

/*
 * A decimal number in a header value ("3", "-2.5"); false for anything
 * else. Posture headers are short; a longer value is not a number.
 */
static bool
text_number(struct slice s, double *out)
{
    char tmp[32], *end;
    size_t i = s.len > 0 && s.ptr[0] == '-' ? 1 : 0;
    bool digit = false;

    if (s.len == 0 || s.len >= sizeof(tmp))
        return false;
    for (; i < s.len; i++) {
        if (s.ptr[i] >= '0' && s.ptr[i] <= '9')
            digit = true;
        else if (s.ptr[i] != '.')
            return false;
    }
    memcpy(tmp, s.ptr, s.len);
    tmp[s.len] = '\0';
    *out = strtod(tmp, &end);
    return digit && *end == '\0';
}

static enum tri
regex_test(const struct eval *ev, const void *re, struct slice text)
{
    const pcre2_code *c = re;
    pcre2_match_data *md;
    int n;

    md_armed = true;
    md = pcre2_match_data_create(1, ev->set->gctx);
    md_armed = false;
    if (md == NULL)
        return T_ERROR;
    n = pcre2_match(c, (PCRE2_SPTR)text.ptr, text.len, 0, PCRE2_NO_UTF_CHECK,
                    md, ev->set->match_ctx);
    pcre2_match_data_free(md);
    if (n >= 0)
        return T_TRUE;
    /* Text that is not UTF-8 cannot match a UTF pattern's intent. */
    if (n == PCRE2_ERROR_NOMATCH || (n <= PCRE2_ERROR_UTF8_ERR1 &&
                                     n >= PCRE2_ERROR_UTF8_ERR21))
        return T_FALSE;
    return T_ERROR;
}

/* A number against the condition's comparison. */
static bool
number_holds(const struct policy_cond *c, double d)
{
    switch (c->op) {
    case POLICY_OP_LT: return d < c->number;
    case POLICY_OP_LE: return d <= c->number;
    case POLICY_OP_GT: return d > c->number;
    case POLICY_OP_GE: return d >= c->number;
    default: return false;
    }
}

/* Test a text against a string operation. */
static enum tri
text_test(const struct eval *ev, const struct policy_cond *c, struct slice t)
{
    double d;

    switch (c->op) {
    case POLICY_OP_PRESENT:
        return T_TRUE;
    case POLICY_OP_EQUALS:
    case POLICY_OP_ONE_OF:
        for (unsigned i = 0; i < c->nvalues; i++)
            if (slice_eq(c->values[i], t))
                return T_TRUE;
        return T_FALSE;
    case POLICY_OP_REGEX:
        return regex_test(ev, c->re, t);
    default:
        if (!text_number(t, &d))
            return T_UNKNOWN;
        return number_holds(c, d) ? T_TRUE : T_FALSE;
    }
}

/*
 * Test a JSON value (a claim). Strings, integers and booleans are
 * tested as text; an array passes a text test when one item does, as
 * route claim requirements read arrays. Comparisons need a number.
 */
static enum tri
json_test(const struct eval *ev, const struct policy_cond *c,
          const struct json_value *v)
{
    char num[24];
    struct slice t;

    if (v == NULL || v->type == JSON_NULL)
        return c->op == POLICY_OP_PRESENT ? T_FALSE : T_UNKNOWN;
    if (c->op == POLICY_OP_PRESENT)
        return T_TRUE;
    if (c->op >= POLICY_OP_LT)
        return v->type == JSON_NUMBER
                   ? (number_holds(c, v->u.num.d) ? T_TRUE : T_FALSE)
                   : T_UNKNOWN;
    if (v->type == JSON_ARRAY) {
        enum tri out = T_FALSE;

        for (size_t i = 0; i < v->u.arr.n && out == T_FALSE; i++) {
            t = scalar_text(v->u.arr.items[i], num);
            if (t.ptr != NULL)
                out = text_test(ev, c, t);
        }
        return out;
    }
    t = scalar_text(v, num);
    return t.ptr != NULL ? text_test(ev, c, t) : T_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* Conditions                                                         */
/* ------------------------------------------------------------------ */

/* The client's address as 4 or 16 bytes; an IPv4-mapped one as IPv4. */
static int
client_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
                                       0xff};

    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    if (memcmp(out, mapped, 12) != 0)
        return AF_INET6;
    memmove(out, out + 12, 4);
    return AF_INET;
}

static bool
cidr_holds(const struct policy_cidr *r, int family, const uint8_t *a)
{
    unsigned full = r->bits / 8, rest = r->bits % 8;

    if (r->family != family || memcmp(r->addr, a, full) != 0)
        return false;
    return rest == 0 ||
           ((a[full] ^ r->addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static enum tri
cond_ip(const struct eval *ev, const struct policy_cond *c)
{
    uint8_t a[16];
    int family = client_bytes(ev->in->client, a);

    if (family == 0)
        return T_UNKNOWN;
    for (unsigned i = 0; i < c->ncidrs; i++)
        if (cidr_holds(&c->cidrs[i], family, a))
            return T_TRUE;
    return T_FALSE;
}

/* Country and ASN, looked up once per evaluation and only when asked. */
static enum tri
cond_geo(struct eval *ev, const struct policy_cond *c)
{
    if (!ev->geo_done) {
        memset(&ev->geo, 0, sizeof(ev->geo));
        if (ev->in->client != NULL)
            geo_lookup(ev->in->country_db, ev->in->asn_db, ev->in->client,
                       &ev->geo);
        ev->geo_done = true;
    }
    if (c->kind == POLICY_COND_ASN) {
        if (ev->geo.asn == 0)
            return T_UNKNOWN;
        for (unsigned i = 0; i < c->nasns; i++)
            if (c->asns[i] == ev->geo.asn)
                return T_TRUE;
        return T_FALSE;
    }
    if (ev->geo.country[0] == '\0')
        return T_UNKNOWN;
    for (unsigned i = 0; i < c->nvalues; i++)
        if (slice_eq(c->values[i], (struct slice){ev->geo.country, 2}))
            return T_TRUE;
    return T_FALSE;
}

static enum tri
cond_header(const struct eval *ev, const struct policy_cond *c)
{
    const struct slice *h = ev->in->headers;
    struct slice v = h != NULL ? h[c->slot] : SLICE_NULL;

    if (c->trusted && !ev->in->client_trusted)
        return c->op == POLICY_OP_PRESENT ? T_FALSE : T_UNKNOWN;
    if (v.ptr == NULL)
        return c->op == POLICY_OP_PRESENT ? T_FALSE : T_UNKNOWN;
    return text_test(ev, c, v);
}

/*
 * Day and minute in the zone. Day 0 of the epoch (1970-01-01) was a
 * Thursday, bit 4.
 */
static enum tri
cond_time(const struct eval *ev, const struct policy_cond *c)
{
    int64_t local = ev->in->now + policy_zone_offset(c->zone, ev->in->now);
    int64_t day = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    unsigned wday = (unsigned)(((day % 7) + 11) % 7);
    unsigned min = (unsigned)((local - day * 86400) / 60);
    bool in_hours = c->from_min <= c->to_min
                        ? min >= c->from_min && min < c->to_min
                        : min >= c->from_min || min < c->to_min;

    return (c->days & (1u << wday)) && in_hours ? T_TRUE : T_FALSE;
}

static enum tri
cond_eval(struct eval *ev, const struct policy_cond *c)
{
    switch (c->kind) {
    case POLICY_COND_IP:
        return cond_ip(ev, c);
    case POLICY_COND_COUNTRY:
    case POLICY_COND_ASN:
        return cond_geo(ev, c);
    case POLICY_COND_HEADER:
        return cond_header(ev, c);
    case POLICY_COND_CLAIM:
        if (ev->p == NULL)
            return c->op == POLICY_OP_PRESENT ? T_FALSE : T_UNKNOWN;
        return json_test(ev, c, path_get(ev->p->claims, &c->claim));
    case POLICY_COND_TIME:
        return cond_time(ev, c);
    }
    return T_ERROR;
}

/*
 * Apply negation and rule 3: an unknown value fails an allow rule and
 * matches a deny rule, whatever the negation says.
 */
static enum tri
cond_settle(enum tri t, const struct policy_cond *c, enum policy_effect eff)
{
    if (t == T_UNKNOWN)
        return eff == POLICY_DENY ? T_TRUE : T_FALSE;
    if (t == T_ERROR)
        return T_ERROR;
    return (t == T_TRUE) != c->negate ? T_TRUE : T_FALSE;
}

/* ------------------------------------------------------------------ */
/* Rules                                                              */
/* ------------------------------------------------------------------ */

static bool
holds(const struct slice *have, unsigned n, struct slice want)
{
    for (unsigned i = 0; i < n; i++)
        if (slice_eq(have[i], want))
            return true;
    return false;
}

/* Whether have[0..n) meets the requirement; an empty one always does. */
static bool
strings_met(const struct policy_strings *req, const struct slice *have,
            unsigned n)
{
    for (unsigned i = 0; i < req->n; i++) {
        bool h = holds(have, n, req->v[i]);

        if (req->any && h)
            return true;
        if (!req->any && !h)
            return false;
    }
    return req->n == 0 || !req->any;
}

/* The principal-side requirements; NULL when met, else the reason. */
static const char *
rule_requirements(const struct eval *ev, const struct policy_rule *r)
{
    const struct principal *p = ev->p;

    if (!r->authenticated)
        return NULL;
    if (p == NULL)
        return "authz.unauthenticated";
    if (r->methods != 0 && !(r->methods & POLICY_METHOD_BIT(p->kind)))
        return "authz.method_not_allowed";
    if (r->consumers.n > 0 && !holds(r->consumers.v, r->consumers.n,
                                     p->consumer))
        return "authz.consumer_not_allowed";
    if (!strings_met(&r->roles, p->roles, p->nroles))
        return "authz.missing_role";
    if (!strings_met(&r->scopes, p->scopes, p->nscopes))
        return "authz.missing_scope";
    return NULL;
}

/* Whether rule r matches; NULL when it does, else the reason. */
static const char *
rule_check(struct eval *ev, const struct policy_rule *r)
{
    const char *why = rule_requirements(ev, r);

    if (why != NULL)
        return why;
    for (unsigned i = 0; i < r->nconds; i++) {
        enum tri t = cond_settle(cond_eval(ev, &r->conds[i]), &r->conds[i],
                                 r->effect);

        if (t == T_ERROR)
            return "authz.eval_error";
        if (t == T_FALSE)
            return "authz.condition_failed";
    }
    return NULL;
}

static void
step(const struct policy_input *in, const char *id, const char *kind,
     bool matched, const char *reason)
{
    if (in->on_step != NULL)
        in->on_step(in->step_arg, id, kind, matched, reason);
}

/* The request side of an object rule; SLICE_NULL when absent. */
static struct slice
object_value(const struct policy_input *in, const struct policy_object *o,
             char num[24])
{
    switch (o->src) {
    case POLICY_SRC_PATH:
        if (in->params == NULL || o->index >= in->params->n)
            return SLICE_NULL;
        return in->params->value[o->index];
    case POLICY_SRC_QUERY:
        return in->query != NULL ? in->query[o->index] : SLICE_NULL;
    case POLICY_SRC_BODY:
        return scalar_text(path_get(in->body, &o->body), num);
    }
    return SLICE_NULL;
}

/* The principal side of an object rule; SLICE_NULL when absent. */
static struct slice
object_ref(const struct principal *p, const struct policy_object *o,
           char num[24])
{
    if (p == NULL)
        return SLICE_NULL;
    switch (o->ref) {
    case POLICY_REF_SUBJECT:
        return p->subject;
    case POLICY_REF_CONSUMER:
        return p->consumer;
    case POLICY_REF_CLAIM:
        return scalar_text(path_get(p->claims, &o->claim), num);
    }
    return SLICE_NULL;
}

/* Whether object rule o holds; *value receives the request value. */
static bool
object_holds(const struct eval *ev, const struct policy_object *o,
             struct slice *value, char vnum[24])
{
    const struct principal *p = ev->p;
    char rnum[24];
    struct slice ref;

    *value = object_value(ev->in, o, vnum);
    if (p != NULL &&
        ((o->unless_roles.n > 0 &&
          strings_met(&o->unless_roles, p->roles, p->nroles)) ||
         (o->unless_scopes.n > 0 &&
          strings_met(&o->unless_scopes, p->scopes, p->nscopes))))
        return true;
    ref = object_ref(p, o, rnum);
    return value->ptr != NULL && value->len > 0 && ref.ptr != NULL &&
           ref.len > 0 && slice_eq(*value, ref);
}

/* Deny with rule r's id and reason why. */
static void
decide(struct policy_decision *d, bool allow, const char *id,
       const char *why)
{
    d->allow = allow;
    d->rule_id = id;
    d->reason = why;
}

/* Rule 2 of policy.h, deny and allow rules. */
static void
eval_rules(struct eval *ev, const struct policy_program *p,
           struct policy_decision *d)
{
    const struct policy_rule *first_fail = NULL;
    const char *first_why = NULL;

    for (unsigned i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = p->rules[i];
        const char *why;

        if (r->effect != POLICY_DENY)
            continue;
        why = rule_check(ev, r);
        step(ev->in, r->id, "deny", why == NULL, why);
        if (why == NULL || strcmp(why, "authz.eval_error") == 0) {
            decide(d, false, r->id, why == NULL ? "authz.denied" : why);
            return;
        }
    }
    if (p->public_route) {
        decide(d, true, NULL, "authz.public");
        return;
    }
    for (unsigned i = 0; i < p->nrules; i++) {
        const struct policy_rule *r = p->rules[i];
        const char *why;

        if (r->effect != POLICY_ALLOW)
            continue;
        why = rule_check(ev, r);
        step(ev->in, r->id, "allow", why == NULL, why);
        if (why == NULL) {
            decide(d, true, r->id, "authz.allowed");
            return;
        }
        if (first_fail == NULL) {
            first_fail = r;
            first_why = why;
        }
    }
    decide(d, false, first_fail != NULL ? first_fail->id : NULL,
           first_why != NULL ? first_why : "authz.no_rule");
    if (first_why != NULL && strcmp(first_why, "authz.missing_scope") == 0)
        d->scopes = &first_fail->scopes;
}

/* Rule 2 of policy.h, object rules, once the request is allowed. */
static void
eval_objects(struct eval *ev, const struct policy_program *p,
             struct policy_decision *d)
{
    for (unsigned i = 0; i < p->nobjects; i++) {
        const struct policy_object *o = &p->objects[i];
        struct slice v;
        bool ok = object_holds(ev, o, &v, d->object_buf);

        step(ev->in, o->id, "object", ok, ok ? NULL : "authz.object_mismatch");
        if (ok)
            continue;
        decide(d, false, o->id, "authz.object_mismatch");
        d->object = o;
        d->object_value = v.ptr != NULL ? v : SLICE_LIT("");
        return;
    }
}

void
policy_eval(const struct policy_program *p, const struct policy_input *in,
            struct policy_decision *d)
{
    struct eval ev = {.set = p->set, .in = in};

    memset(d, 0, sizeof(*d));
    if (in->principal != NULL && in->principal->kind != AUTH_NONE)
        ev.p = in->principal;
    eval_rules(&ev, p, d);
    if (d->allow)
        eval_objects(&ev, p, d);
    d->enforce = !p->monitor;
}

void
policy_count(const struct policy_decision *d)
{
    if (d->allow)
        atomic_fetch_add(&policy_stats.allowed, 1);
    else if (d->enforce)
        atomic_fetch_add(&policy_stats.denied, 1);
    else
        atomic_fetch_add(&policy_stats.monitored, 1);
}
