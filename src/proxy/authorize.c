/*
 * The authorize stage of the pipeline, between authenticate and forward.
 *
 * Every route has a compiled policy program (config guarantees it).
 * proxy_authorize_take runs while the head is still in the input
 * buffer and copies the header values and query parameters the program
 * reads into the arena; proxy_authorize evaluates the program and
 * refuses with 403, records the decision in the access log, counts it
 * and sends a security event for a denial worth a security team's eye.
 * In monitor mode a denial is recorded the same way and the request
 * goes on.
 */
#include <string.h>

#include "policy/policy.h"
#include "proxy_int.h"
#include "telemetry/telemetry.h"

/* Most bytes of one WWW-Authenticate line of a 403. */
#define AUTHZ_CHALLENGE_MAX 1024

/*
 * Copy the query parameters of the program's slots. A parameter given
 * twice is refused: the gateway and the backend might pick different
 * copies, and the object rule would check the wrong one.
 */
static int
take_query(struct conn *c, struct request *r, const struct policy_program *p)
{
    const struct policy_set *s = p->set;
    struct slice name, raw;
    size_t pos = 0;

    r->authz_query = arena_alloc(&c->arena, s->nquery * sizeof(struct slice));
    if (r->authz_query == NULL)
        return AW_NOMEM;
    memset(r->authz_query, 0, s->nquery * sizeof(struct slice));
    while (http_query_next(r->h.query, &pos, &name, &raw)) {
        for (unsigned k = 0; k < s->nquery; k++) {
            int rc;

            if (!(p->query_slots & (1u << k)) || !slice_eq(s->query[k], name))
                continue;
            if (r->authz_query[k].ptr != NULL)
                return AW_INVALID;
            rc = http_form_decode(&c->arena, raw, &r->authz_query[k]);
            if (rc != AW_OK)
                return rc;
        }
    }
    return AW_OK;
}

/* Copy the header values of the program's slots; a repeat is refused. */
static int
take_headers(struct conn *c, struct request *r,
             const struct policy_program *p)
{
    const struct policy_set *s = p->set;

    r->authz_headers =
        arena_alloc(&c->arena, s->nheaders * sizeof(struct slice));
    if (r->authz_headers == NULL)
        return AW_NOMEM;
    memset(r->authz_headers, 0, s->nheaders * sizeof(struct slice));
    for (unsigned i = 0; i < r->h.nheaders; i++) {
        const struct http_header *h = &r->h.headers[i];

        for (unsigned k = 0; k < s->nheaders; k++) {
            if (!(p->header_slots & (1u << k)) ||
                !slice_eq_nocase(s->headers[k], h->name))
                continue;
            if (r->authz_headers[k].ptr != NULL)
                return AW_INVALID;
            r->authz_headers[k].ptr =
                arena_dup(&c->arena, h->value.ptr, h->value.len);
            r->authz_headers[k].len = h->value.len;
            if (r->authz_headers[k].ptr == NULL)
                return AW_NOMEM;
        }
    }
    return AW_OK;
}

int
proxy_authorize_take(struct conn *c, struct request *r)
{
    const struct policy_program *p = r->route->authz;
    int rc = AW_OK;

    if (p->header_slots != 0)
        rc = take_headers(c, r, p);
    if (rc == AW_OK && p->query_slots != 0)
        rc = take_query(c, r, p);
    if (rc == AW_OK)
        return AW_OK;
    r->stage = STAGE_AUTHZ;
    if (rc == AW_NOMEM)
        conn_refuse(c, 500, "gateway.no_memory", "Out of request memory.");
    else
        conn_refuse(c, 400, "authz.ambiguous_value",
                    "A header field or query parameter the route's policy "
                    "reads is repeated or badly encoded.");
    return AW_ERROR;
}

/* The principal's authentication method, for events. */
static const char *
method_name(enum auth_kind k)
{
    switch (k) {
    case AUTH_JWT: return "jwt";
    case AUTH_API_KEY: return "api_key";
    case AUTH_INTROSPECTION: return "introspection";
    case AUTH_MTLS: return "mtls";
    default: return NULL;
    }
}

/*
 * The event of a denial: an object mismatch (possible BOLA), or an
 * authenticated caller missing a role or scope (privilege escalation).
 * Other denials are in the access log only.
 */
static void
emit_event(struct conn *c, struct request *r, const struct policy_decision *d)
{
    const struct principal *pr = &r->principal;
    bool bola = strcmp(d->reason, "authz.object_mismatch") == 0;
    bool escalation = pr->kind != AUTH_NONE &&
                      (strcmp(d->reason, "authz.missing_role") == 0 ||
                       strcmp(d->reason, "authz.missing_scope") == 0);
    char subject[129], issuer[65], method[16], path[513], object[257];
    struct security_event e = {0};

    if (!bola && !escalation)
        return;
    slice_copy_cstr(subject, sizeof(subject), pr->subject);
    slice_copy_cstr(issuer, sizeof(issuer), pr->issuer);
    slice_copy_cstr(method, sizeof(method), r->method);
    slice_copy_cstr(path, sizeof(path), r->path);
    slice_copy_cstr(object, sizeof(object), d->object_value);
    e.action = bola ? "authz.object_mismatch" : "authz.privilege_escalation";
    e.reason = d->reason;
    e.outcome = d->enforce ? "denied" : "monitored";
    e.severity = bola ? 7 : 6;
    e.request_id = r->id;
    e.method = method;
    e.path = path;
    e.route = r->route->name;
    e.client_ip = c->peer_text;
    e.subject = pr->kind != AUTH_NONE ? subject : NULL;
    e.issuer = pr->issuer.len > 0 ? issuer : NULL;
    e.auth_method = method_name(pr->kind);
    e.credential_id = pr->credential_id[0] != '\0' ? pr->credential_id : NULL;
    e.rule_id = d->rule_id;
    e.object_id = bola ? object : NULL;
    events_emit(c->w->id, &e);
}

/*
 * RFC 6750 section 3.1: a 403 for missing scopes carries the challenge
 * with insufficient_scope and the scopes the rule wanted. Scope tokens
 * hold no quote or backslash (RFC 6749 section 3.3), which the loader
 * does not check, so such bytes are left out here.
 */
static void
set_scope_challenge(struct conn *c, struct request *r,
                    const struct policy_strings *scopes)
{
    char *line = arena_alloc(&c->arena, AUTHZ_CHALLENGE_MAX);
    struct buf b = {line, 0, 0, AUTHZ_CHALLENGE_MAX};

    if (line == NULL)
        return;
    buf_printf(&b, "WWW-Authenticate: Bearer realm=\"apiward\", "
                   "error=\"insufficient_scope\", scope=\"");
    for (unsigned i = 0; i < scopes->n; i++) {
        struct slice s = scopes->v[i];

        if (memchr(s.ptr, '"', s.len) != NULL ||
            memchr(s.ptr, '\\', s.len) != NULL)
            continue;
        if (buf_append(&b, i > 0 ? " " : "", i > 0) != AW_OK ||
            buf_append(&b, s.ptr, s.len) != AW_OK)
            return;
    }
    if (buf_append(&b, "\"\r\n", 3) != AW_OK)
        return;
    r->problem_fields = (struct slice){line, b.end};
}

/* Fill the evaluator's view of the request. */
static void
input_init(struct conn *c, struct request *r, struct policy_input *in)
{
    const struct config *cfg = r->cfg;
    const struct sockaddr *peer = (const struct sockaddr *)&c->peer;

    memset(in, 0, sizeof(*in));
    in->principal = &r->principal;
    in->client = peer;
    in->client_trusted = config_is_trusted_proxy(cfg, peer);
    in->country_db = cfg->geo_country;
    in->asn_db = cfg->geo_asn;
    in->headers = r->authz_headers;
    in->query = r->authz_query;
    in->params = &r->params;
    in->body = r->body_json;
    in->now = (int64_t)(clock_wall_ms() / 1000);
}

int
proxy_authorize(struct conn *c, struct request *r)
{
    const struct policy_program *p = r->route->authz;
    struct policy_input in;
    struct policy_decision d;

    input_init(c, r, &in);
    policy_eval(p, &in, &d);
    policy_count(&d);
    r->authz_rule = d.rule_id;
    r->authz_reason = d.reason;
    if (d.allow)
        return AW_OK;
    emit_event(c, r, &d);
    if (!d.enforce) {
        r->authz_monitored = true;
        return AW_OK;
    }
    if (d.scopes != NULL && d.scopes->n > 0)
        set_scope_challenge(c, r, d.scopes);
    conn_refuse(c, 403, d.reason,
                d.object != NULL
                    ? "The object named in the request does not belong to "
                      "the caller."
                    : "The route's policy does not allow this request.");
    return AW_ERROR;
}
