/*
 * The record stage's metrics and security events: what every request
 * leaves behind as it ends, besides its access-log line.
 *
 * proxy_record runs once per request, on the worker that served it,
 * from message_access_log. It counts the request into the worker's
 * metrics shard, samples the worker's backends and caches at most once
 * a second, and emits a security event for the refusals a security
 * team wants to see one by one: failed authentication, requests
 * refused as ambiguous (the request-smuggling class), and requests or
 * responses that break a route's contract. Authorization decisions
 * emit their own events in the authorize stage, and the contract stage
 * those it lets through (monitor mode, deprecated operations).
 */
#include <string.h>

#include <openssl/evp.h>

#include "proxy_int.h"
#include "telemetry/telemetry.h"

/* How often a worker publishes its backend and cache gauges. */
#define RECORD_SAMPLE_MS 1000

/* The stage names of the access log, which metrics label with. */
static const char *const record_stages[] = {
    "parse", "route", "guard", "authenticate", "body", "authorize",
    "limit", "contract", "inspect", "forward", "respond",
};

/*
 * Refusals of the parse stage that mean a peer on the path could have
 * read the message differently: framing, line endings, folding, Host.
 * Each is a security event; other malformed requests are only counted.
 */
static const char *const ambiguous_reasons[] = {
    "http.ambiguous_length", "http.bad_content_length",
    "http.bad_transfer_encoding", "http.bare_cr", "http.bare_lf",
    "http.obs_fold", "http.bad_field_name", "http.duplicate_host",
    "http.host_mismatch", "http.bad_chunk", "http.bad_chunk_extension",
    "http.bad_trailer",
};

static bool
is_ambiguous(const char *reason)
{
    for (size_t i = 0; i < ARRAY_LEN(ambiguous_reasons); i++)
        if (strcmp(reason, ambiguous_reasons[i]) == 0)
            return true;
    return false;
}

/*
 * Severity of an authentication failure: a forged or tampered token
 * ranks above an expired one, which ranks above a missing credential
 * (the everyday case of a client that has not logged in yet).
 */
static int
auth_severity(const char *reason)
{
    static const char *const forged[] = {
        "auth.bad_signature", "auth.alg_not_allowed", "auth.key_alg_mismatch",
        "auth.crit_unsupported", "auth.malformed_token", "auth.bad_typ",
        "auth.unknown_key", "auth.key_revoked", "auth.wrong_issuer",
        "auth.token_issued_in_future", "auth.bad_api_key",
    };

    if (strcmp(reason, "auth.missing_credentials") == 0)
        return 2;
    for (size_t i = 0; i < ARRAY_LEN(forged); i++)
        if (strcmp(reason, forged[i]) == 0)
            return 6;
    return 4;
}

/*
 * Publish the worker's backend and cache gauges (worker's thread). The
 * request ending now still holds its backend connection, which is
 * released right after: it is not counted as active.
 */
static void
record_sample(struct worker *w, const struct request *r)
{
    struct identity_cache_stats cs;
    struct introspect_stats is;
    struct metrics_caches mc;

    for (struct backend *be = w->backends; be != NULL; be = be->next) {
        struct metrics_backend mb = {
            .address = be->text,
            .active = be->active -
                      (r->up != NULL && r->up->be == be && be->active > 0),
            .idle = be->nidle,
            .ejected = be->ejected_until > w->loop.now,
        };

        metrics_backend(w->id, &mb);
    }
    identity_cache_stats(w->idcache, &cs);
    memset(&is, 0, sizeof(is));
    if (w->intro != NULL)
        introspect_stats(w->intro, &is);
    mc = (struct metrics_caches){
        cs.hits, cs.misses, cs.inserts, cs.evictions,
        is.requests, is.failures, is.hits, is.coalesced, is.busy,
    };
    metrics_caches(w->id, &mc);
}

/*
 * 12 hex digits of SHA-256 of the credential presented, as the identity
 * module names credentials: the only trace of a secret an event may
 * carry. Empty when there is none.
 */
static void
credential_hash(const struct request *r, char out[13])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    out[0] = '\0';
    if (r->principal.credential_id[0] != '\0') {
        memcpy(out, r->principal.credential_id, 13);
        return;
    }
    if (r->cred.kind == AUTH_NONE || r->cred.value.len == 0 ||
        EVP_Digest(r->cred.value.ptr, r->cred.value.len, d, &n, EVP_sha256(),
                   NULL) != 1 || n < 6)
        return;
    for (unsigned i = 0; i < 6; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[12] = '\0';
}

/* The event of a refused request; action and category say which kind. */
static void
record_event(struct conn *c, struct request *r, const char *action,
             const char *category, int severity)
{
    char method[16], path[513], cred[13];
    struct security_event e = {0};

    slice_copy_cstr(method, sizeof(method), r->method);
    slice_copy_cstr(path, sizeof(path), r->path);
    credential_hash(r, cred);
    e.action = action;
    e.category = category;
    e.reason = r->reason;
    e.outcome = "denied";
    e.severity = severity;
    e.request_id = r->id;
    e.method = method;
    e.path = path;
    e.route = r->route != NULL ? r->route->name : NULL;
    e.client_ip = c->peer_text;
    e.credential_id = cred[0] != '\0' ? cred : NULL;
    events_emit(c->w->id, &e);
}

void
proxy_record_event(struct conn *c, struct request *r, const char *action,
                   const char *reason, const char *outcome, int severity)
{
    proxy_record_event_with(c, r, action, reason, outcome, severity, NULL,
                            NULL);
}

void
proxy_record_event_with(struct conn *c, struct request *r,
                        const char *action, const char *reason,
                        const char *outcome, int severity, const char *rule,
                        const char *findings)
{
    char method[16], path[513], cred[13];
    struct security_event e = {0};

    if (!events_enabled())
        return;
    slice_copy_cstr(method, sizeof(method), r->method);
    slice_copy_cstr(path, sizeof(path), r->path);
    credential_hash(r, cred);
    e.action = action;
    e.category = "intrusion_detection";
    e.reason = reason;
    e.outcome = outcome;
    e.severity = severity;
    e.request_id = r->id;
    e.method = method;
    e.path = path;
    e.route = r->route != NULL ? r->route->name : NULL;
    e.client_ip = c->peer_text;
    e.credential_id = cred[0] != '\0' ? cred : NULL;
    e.rule_id = rule;
    e.findings = findings;
    events_emit(c->w->id, &e);
}

/* The 48-bit number of a 12-hex-digit credential id; 0 for none. */
static uint64_t
credential_number(const char *id)
{
    uint64_t v = 0;

    for (int i = 0; i < 12; i++) {
        char ch = id[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;

        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    return v;
}

/* FNV-1a of the client's address text, folded to 32 bits. */
static uint32_t
address_hash(const char *text)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *text != '\0'; text++)
        h = (h ^ (unsigned char)*text) * 0x100000001b3ULL;
    return (uint32_t)(h ^ (h >> 32));
}

/* The alert of a detector, about the request that crossed its bar. */
static void
record_suspicion(struct conn *c, struct request *r, const char *action,
                 const char *cred, int severity)
{
    char method[16], path[513], subject[129], issuer[65];
    struct security_event e = {0};

    slice_copy_cstr(method, sizeof(method), r->method);
    slice_copy_cstr(path, sizeof(path), r->path);
    slice_copy_cstr(subject, sizeof(subject), r->principal.subject);
    slice_copy_cstr(issuer, sizeof(issuer), r->principal.issuer);
    e.action = action;
    e.reason = action;
    e.category = "authentication";
    e.severity = severity;
    e.request_id = r->id;
    e.method = method;
    e.path = path;
    e.route = r->route != NULL ? r->route->name : NULL;
    e.client_ip = c->peer_text;
    e.subject = r->principal.kind != AUTH_NONE ? subject : NULL;
    e.issuer = issuer[0] != '\0' ? issuer : NULL;
    e.credential_id = cred;
    events_emit(c->w->id, &e);
}

/*
 * Feed the detectors of suspicious token use: every request with a
 * verified principal, let through or refused later (one credential from
 * many addresses), and every refusal of an expired token (replays).
 * The address is the connection's peer: behind a proxy every client
 * shares it, and the sharing detector sees one address (the client
 * address of X-Forwarded-For is not used yet).
 */
static void
record_detect(struct conn *c, struct request *r)
{
    char cred[13];
    uint64_t n;
    unsigned count;

    if (r->principal.kind != AUTH_NONE) {
        n = credential_number(r->principal.credential_id);
        if (n != 0 && detect_token_address(n, address_hash(c->peer_text),
                                           c->w->loop.now, &count))
            record_suspicion(c, r, "token.many_addresses",
                             r->principal.credential_id, 7);
        return;
    }
    if (r->reason == NULL || strcmp(r->reason, "auth.token_expired") != 0)
        return;
    credential_hash(r, cred);
    n = credential_number(cred);
    if (n != 0 && detect_expired_replay(n, c->w->loop.now, &count))
        record_suspicion(c, r, "token.expired_replay", cred, 5);
}

/* Emit the event a refusal calls for, if any. */
static void
record_refusal(struct conn *c, struct request *r)
{
    if (r->stage == STAGE_AUTH && strncmp(r->reason, "auth.", 5) == 0)
        record_event(c, r, "authentication.failed", "authentication",
                     auth_severity(r->reason));
    else if (r->stage == STAGE_PARSE && is_ambiguous(r->reason))
        record_event(c, r, "http.ambiguous_request", "intrusion_detection",
                     7);
    else if (r->stage == STAGE_CONTRACT)
        record_event(c, r, strcmp(r->reason, "contract.deprecated") == 0
                               ? "contract.deprecated" : "contract.violation",
                     "intrusion_detection", 5);
    else if (strncmp(r->reason, "contract.", 9) == 0)
        record_event(c, r, "contract.response_violation",
                     "intrusion_detection", 6);
}

void
proxy_record(struct conn *c, struct request *r)
{
    static _Thread_local uint64_t last_sample;
    struct metrics_request m = {
        .route = r->route != NULL ? r->route->name : NULL,
        .status = r->status,
        .latency_us = clock_mono_us() - r->t_start,
        .stage = (size_t)r->stage < ARRAY_LEN(record_stages)
                     ? record_stages[r->stage] : NULL,
        .reason = r->reason,
    };

    metrics_observe(c->w->id, &m);
    if (c->w->loop.now - last_sample >= RECORD_SAMPLE_MS ||
        last_sample == 0) {
        last_sample = c->w->loop.now;
        record_sample(c->w, r);
    }
    if (!events_enabled())
        return;
    if (r->reason != NULL)
        record_refusal(c, r);
    record_detect(c, r);
}
