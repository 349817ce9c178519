/*
 * Messages the gateway writes itself: the request head sent upstream, the
 * response head sent to the client, problem+json answers, access-log
 * lines and request ids.
 *
 * The upstream never sees the client's bytes: its head is re-serialised
 * from the parsed and normalised request, with hop-by-hop fields removed
 * and the forwarding fields set by the gateway.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "proxy_int.h"
#include "telemetry/telemetry.h"

#define UPSTREAM_HEAD_SLACK 2048

/* A duration in microseconds as milliseconds with three decimals. */
static void
bld_ms(struct bld *o, uint64_t us)
{
    char frac[4] = {'.', (char)('0' + us / 100 % 10),
                    (char)('0' + us / 10 % 10), (char)('0' + us % 10)};

    bld_u64(o, us / 1000);
    bld_add(o, (struct slice){frac, sizeof(frac)});
}

static void
bld_field(struct bld *o, const char *name, struct slice value)
{
    bld_str(o, name);
    bld_add(o, SLICE_LIT(": "));
    bld_add(o, value);
    bld_add(o, SLICE_LIT("\r\n"));
}

/* True when name is listed in any Connection field of the message. */
static bool
named_by_connection(const struct http_header *h, unsigned n,
                    struct slice name)
{
    char token[64];

    if (name.len >= sizeof(token))
        return false;
    slice_copy_cstr(token, sizeof(token), name);
    for (unsigned i = 0; i < n; i++) {
        if (slice_is(h[i].name, "connection") &&
            http_list_has(h[i].value, token))
            return true;
    }
    return false;
}

/*
 * Fields the gateway sets itself and never copies from the client as
 * they are; the forwarding fields of a trusted proxy are extended by
 * put_forwarding instead.
 */
static bool
gateway_owned_request_field(struct slice name, bool trusted)
{
    static const char *const always[] = {
        "host", "content-length", "expect", "x-request-id",
        "traceparent", "tracestate", "x-forwarded-host",
        "x-forwarded-for", "x-forwarded-proto", "forwarded",
    };
    static const char *const untrusted[] = {
        "x-real-ip",
    };

    for (size_t i = 0; i < ARRAY_LEN(always); i++)
        if (slice_is(name, always[i]))
            return true;
    for (size_t i = 0; !trusted && i < ARRAY_LEN(untrusted); i++)
        if (slice_is(name, untrusted[i]))
            return true;
    return false;
}

/* Header names that carry the principal by default, on every route. */
static const char *const principal_fields[] = {
    "x-auth-subject", "x-auth-issuer", "x-auth-method", "x-auth-scopes",
    "x-auth-roles", "x-auth-consumer", "x-auth-claims",
};

static bool
name_is(struct slice name, const char *configured)
{
    return configured != NULL && configured[0] != '\0' &&
           slice_is(name, configured);
}

/*
 * Fields that could impersonate the principal: the default names, the
 * route's configured ones; and the credentials, the Authorization field
 * and the API key field, when the route authenticates and does not keep
 * them.
 */
static bool
principal_field(const struct config_route_auth *ra, struct slice name)
{
    for (size_t i = 0; i < ARRAY_LEN(principal_fields); i++)
        if (slice_is(name, principal_fields[i]))
            return true;
    if (ra == NULL)
        return false;
    if (!ra->keep_authorization &&
        (slice_is(name, "authorization") ||
         (!ra->api_key_in_query && name_is(name, ra->api_key_name))))
        return true;
    return name_is(name, ra->fwd_subject) || name_is(name, ra->fwd_issuer) ||
           name_is(name, ra->fwd_method) || name_is(name, ra->fwd_scopes) ||
           name_is(name, ra->fwd_roles) || name_is(name, ra->fwd_consumer) ||
           name_is(name, ra->fwd_claims);
}

static bool
is_lower_hex(struct slice s)
{
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.ptr[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    return true;
}

static bool
all_zero(struct slice s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] != '0')
            return false;
    return true;
}

/* W3C trace context, version 00: "00-<32 hex>-<16 hex>-<2 hex>". */
static bool
traceparent_valid(struct slice v)
{
    struct slice trace = {v.ptr + 3, 32}, parent = {v.ptr + 36, 16};

    if (v.len != 55 || memcmp(v.ptr, "00-", 3) != 0 || v.ptr[35] != '-' ||
        v.ptr[52] != '-')
        return false;
    return is_lower_hex(trace) && is_lower_hex(parent) &&
           is_lower_hex((struct slice){v.ptr + 53, 2}) && !all_zero(trace) &&
           !all_zero(parent);
}

/*
 * Append the X-Forwarded-For, -Proto, -Host and Forwarded fields. The
 * chains a trusted proxy sent are extended with the peer address; from
 * anyone else they are replaced.
 */
static void
put_forwarding(struct bld *o, struct conn *c, struct request *r,
               bool trusted)
{
    const struct http_header *h = r->h.headers, *proto = NULL;
    bool v6 = c->peer.ss_family == AF_INET6;

    bld_lit(o, "X-Forwarded-For: ");
    for (unsigned i = 0; trusted && i < r->h.nheaders; i++) {
        if (slice_is(h[i].name, "x-forwarded-for")) {
            bld_add(o, h[i].value);
            bld_add(o, SLICE_LIT(", "));
        }
    }
    bld_str(o, c->peer_text);
    if (trusted)
        proto = http_header_find(h, r->h.nheaders, "x-forwarded-proto");
    if (proto != NULL && (slice_is(proto->value, "http") ||
                          slice_is(proto->value, "https")))
        bld_field(o, "\r\nX-Forwarded-Proto", proto->value);
    else
        bld_lit(o, "\r\nX-Forwarded-Proto: http\r\n");
    bld_field(o, "X-Forwarded-Host", r->host);
    bld_lit(o, "Forwarded: ");
    for (unsigned i = 0; trusted && i < r->h.nheaders; i++) {
        if (slice_is(h[i].name, "forwarded")) {
            bld_add(o, h[i].value);
            bld_add(o, SLICE_LIT(", "));
        }
    }
    bld_str(o, v6 ? "for=\"[" : "for=");
    bld_str(o, c->peer_text);
    bld_str(o, v6 ? "]\";proto=http\r\n" : ";proto=http\r\n");
}

/* Append traceparent (kept when valid, else created) and tracestate. */
static void
put_trace(struct bld *o, struct worker *w, struct request *r)
{
    const struct http_header *tp, *ts;
    char made[56];

    tp = http_header_find(r->h.headers, r->h.nheaders, "traceparent");
    if (tp != NULL && traceparent_valid(tp->value)) {
        bld_field(o, "traceparent", tp->value);
        ts = http_header_find(r->h.headers, r->h.nheaders, "tracestate");
        if (ts != NULL && ts->value.len <= 512)
            bld_field(o, "tracestate", ts->value);
        return;
    }
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    memcpy(made, "00-", 3);
    fmt_hex64(made + 3, w->rng);
    fmt_hex64(made + 19, w->rng * 0x9e3779b97f4a7c15ULL);
    made[35] = '-';
    fmt_hex64(made + 36, (w->rng ^ 0xa5a5a5a55a5a5a5aULL) | 1);
    memcpy(made + 52, "-00", 3);
    bld_field(o, "traceparent", (struct slice){made, 55});
}

/*
 * Append the query. A route that takes its API key from a query
 * parameter does not pass that parameter on (unless it keeps
 * credentials, auth.authorization: keep): the backend has no use for
 * the key and would otherwise write it to its own logs. The other
 * parameters keep their order and bytes; a query left empty loses its
 * '?'.
 */
static void
put_query(struct bld *o, const struct request *r)
{
    const struct config_route_auth *ra = r->route->auth;
    struct slice q = r->h.query, name, value;
    size_t pos = 0;
    bool first = true;

    if (q.ptr == NULL)
        return;
    if (ra == NULL || !ra->api_key_in_query || ra->api_key_name == NULL ||
        ra->keep_authorization) {
        bld_add(o, SLICE_LIT("?"));
        bld_add(o, q);
        return;
    }
    while (http_query_next(q, &pos, &name, &value)) {
        /* The parameter as written: name, then '=' and value if any. */
        struct slice pair = {name.ptr, (size_t)(value.ptr - name.ptr) +
                                           value.len};

        if (slice_eq(name, (struct slice){ra->api_key_name,
                                           strlen(ra->api_key_name)}))
            continue;
        bld_add(o, first ? SLICE_LIT("?") : SLICE_LIT("&"));
        bld_add(o, pair);
        first = false;
    }
    if (first && q.len == 0)
        bld_add(o, SLICE_LIT("?"));
}

/*
 * Serialise the head to send upstream into the request arena
 * (r->up_head). Must run while r->h still points into the client buffer.
 * Returns AW_OK, AW_NOMEM, or AW_TOOBIG when the head outgrew its room.
 */
int
message_upstream_head(struct conn *c, struct request *r)
{
    const struct config *cfg = r->cfg;
    bool trusted = config_is_trusted_proxy(cfg,
                                           (struct sockaddr *)&c->peer);
    size_t cap = r->h.head_len + UPSTREAM_HEAD_SLACK;
    struct bld o = {{arena_alloc(&c->arena, cap), 0, 0, cap}, false};

    if (o.b.data == NULL)
        return AW_NOMEM;
    bld_add(&o, r->method);
    bld_add(&o, SLICE_LIT(" "));
    bld_add(&o, r->path);
    put_query(&o, r);
    bld_lit(&o, " HTTP/1.1\r\n");
    bld_field(&o, "Host", r->host);
    for (unsigned i = 0; i < r->h.nheaders; i++) {
        const struct http_header *h = &r->h.headers[i];

        if (http_is_hop_by_hop(h->name) ||
            gateway_owned_request_field(h->name, trusted) ||
            principal_field(r->route->auth, h->name) ||
            named_by_connection(r->h.headers, r->h.nheaders, h->name))
            continue;
        bld_add(&o, h->name);
        bld_add(&o, SLICE_LIT(": "));
        bld_add(&o, h->value);
        bld_add(&o, SLICE_LIT("\r\n"));
    }
    put_forwarding(&o, c, r, trusted);
    bld_field(&o, "X-Request-Id", (struct slice){r->id, strlen(r->id)});
    put_trace(&o, c->w, r);
    if (r->req_framing == HTTP_BODY_LENGTH) {
        bld_lit(&o, "Content-Length: ");
        bld_u64(&o, r->h.content_length);
        bld_lit(&o, "\r\n");
    } else if (r->req_framing == HTTP_BODY_CHUNKED) {
        bld_lit(&o, "Transfer-Encoding: chunked\r\n");
    }
    if (o.overflow)
        return AW_TOOBIG;
    r->up_head = o.b.data;
    r->up_head_len = o.b.end;
    r->up_head_cap = cap;
    return AW_OK;
}

/* True when a principal value can go in a field value as it is. */
static bool
field_value_safe(struct slice v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char ch = (unsigned char)v.ptr[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

static void
put_principal_field(struct bld *o, const char *name, struct slice value)
{
    if (name == NULL || name[0] == '\0' || value.len == 0)
        return;
    if (!field_value_safe(value)) {
        log_warn("principal value for %s has control characters; "
                 "not forwarded", name);
        return;
    }
    bld_field(o, name, value);
}

static void
put_principal_list(struct bld *o, const char *name, const struct slice *v,
                   unsigned n, const char *sep)
{
    size_t start;

    if (name == NULL || name[0] == '\0' || n == 0)
        return;
    bld_str(o, name);
    bld_lit(o, ": ");
    start = o->b.end;
    for (unsigned i = 0; i < n; i++) {
        if (!field_value_safe(v[i]) || memchr(v[i].ptr, sep[0], v[i].len))
            continue;
        if (o->b.end != start)
            bld_str(o, sep);
        bld_add(o, v[i]);
    }
    bld_lit(o, "\r\n");
}

static const char *
auth_kind_name(enum auth_kind k)
{
    if (k == AUTH_INTROSPECTION)
        return "introspection";
    if (k == AUTH_MTLS)
        return "mtls";
    return k == AUTH_JWT ? "jwt" : k == AUTH_API_KEY ? "api_key" : "none";
}

/*
 * Finish the upstream head: the principal's fields (when the route
 * authenticates), the Content-Length of a body read whole (its framing
 * was left out of the head, whose length was not known then) and the
 * empty line. The head may move to a larger arena block. Returns AW_OK,
 * AW_NOMEM or AW_TOOBIG.
 */
int
message_upstream_principal(struct conn *c, struct request *r)
{
    const struct config_route_auth *ra = r->route->auth;
    const struct principal *p = &r->principal;
    size_t need = r->up_head_len + 2 + 40 + (ra == NULL ? 0 : 1024 +
                  p->subject.len + p->issuer.len + p->consumer.len +
                  p->claims_b64.len + 64 * (p->nscopes + p->nroles));
    struct bld o;

    if (need > r->up_head_cap) {
        char *grown = arena_alloc(&c->arena, need);

        if (grown == NULL)
            return AW_NOMEM;
        memcpy(grown, r->up_head, r->up_head_len);
        r->up_head = grown;
        r->up_head_cap = need;
    }
    o = (struct bld){{r->up_head, 0, r->up_head_len, r->up_head_cap}, false};
    if (ra != NULL && p->kind != AUTH_NONE) {
        const char *m = auth_kind_name(p->kind);

        put_principal_field(&o, ra->fwd_subject, p->subject);
        put_principal_field(&o, ra->fwd_issuer, p->issuer);
        put_principal_field(&o, ra->fwd_method, (struct slice){m, strlen(m)});
        put_principal_list(&o, ra->fwd_scopes, p->scopes, p->nscopes, " ");
        put_principal_list(&o, ra->fwd_roles, p->roles, p->nroles, ",");
        put_principal_field(&o, ra->fwd_consumer, p->consumer);
        put_principal_field(&o, ra->fwd_claims, p->claims_b64);
    }
    if (r->body_buffered) {
        bld_lit(&o, "Content-Length: ");
        bld_u64(&o, r->body_len);
        bld_lit(&o, "\r\n");
    }
    bld_lit(&o, "\r\n");
    if (o.overflow)
        return AW_TOOBIG;
    r->up_head_len = o.b.end;
    return AW_OK;
}

/* Response fields the gateway drops or sets itself. */
static bool
gateway_owned_response_field(const struct config *cfg, struct slice name)
{
    static const char *const owned[] = {
        "content-length", "server", "x-powered-by", "x-request-id",
    };

    for (size_t i = 0; i < ARRAY_LEN(owned); i++)
        if (slice_is(name, owned[i]))
            return true;
    for (size_t i = 0; i < cfg->nsecurity_headers; i++)
        if (slice_is(name, cfg->security_headers[i].name))
            return true;
    return false;
}

static void
put_common_response_fields(struct bld *o, const struct conn *c,
                           const struct config *cfg, struct request *r)
{
    bld_lit(o, "Server: apiward\r\n");
    if (c->tls != NULL)
        bld_str(o, tls_conn_hsts(c->tls));
    bld_field(o, "X-Request-Id", (struct slice){r->id, strlen(r->id)});
    for (size_t i = 0; i < cfg->nsecurity_headers; i++) {
        const char *v = cfg->security_headers[i].value;

        bld_field(o, cfg->security_headers[i].name,
                  (struct slice){v, strlen(v)});
    }
}

/* Whether the client connection stays open after this response. */
static bool
client_keeps_alive(struct conn *c, struct request *r)
{
    return r->h.keep_alive && !c->close_after && !c->w->draining &&
           c->nrequests < r->cfg->keepalive_requests;
}

/*
 * Write the response head for the client into c->out from the parsed
 * upstream response r->res (slices into the upstream buffer). Decides
 * the framing towards the client. Returns AW_OK or AW_TOOBIG.
 */
int
message_response_head(struct conn *c, struct request *r)
{
    struct http_response *res = &r->res;
    struct bld o = {c->out, false};
    bool head_or_304 = r->h.method == HTTP_HEAD || res->status == 304;
    bool keep;

    r->res_chunked_out = false;
    if (res->framing == HTTP_BODY_CLOSE || res->framing == HTTP_BODY_CHUNKED)
        r->res_chunked_out = r->h.version == 11;
    if (res->framing == HTTP_BODY_CLOSE && !r->res_chunked_out)
        c->close_after = true;
    keep = client_keeps_alive(c, r);
    if (!keep)
        c->close_after = true;
    bld_lit(&o, "HTTP/1.1 ");
    bld_u64(&o, (uint64_t)res->status);
    bld_lit(&o, " ");
    bld_add(&o, res->reason);
    bld_lit(&o, "\r\n");
    for (unsigned i = 0; i < res->nheaders; i++) {
        const struct http_header *h = &res->headers[i];

        if (http_is_hop_by_hop(h->name) ||
            named_by_connection(res->headers, res->nheaders, h->name))
            continue;
        if (gateway_owned_response_field(r->cfg, h->name) &&
            !(head_or_304 && slice_is(h->name, "content-length")))
            continue;
        /* Over TLS the listener's HSTS policy is the only one sent. */
        if (c->tls != NULL && tls_conn_hsts(c->tls)[0] != '\0' &&
            slice_is(h->name, "strict-transport-security"))
            continue;
        bld_add(&o, h->name);
        bld_add(&o, SLICE_LIT(": "));
        bld_add(&o, h->value);
        bld_add(&o, SLICE_LIT("\r\n"));
    }
    if (res->framing == HTTP_BODY_LENGTH) {
        bld_lit(&o, "Content-Length: ");
        bld_u64(&o, res->content_length);
        bld_lit(&o, "\r\n");
    } else if (r->res_chunked_out) {
        bld_lit(&o, "Transfer-Encoding: chunked\r\n");
    }
    put_common_response_fields(&o, c, r->cfg, r);
    if (!keep)
        bld_lit(&o, "Connection: close\r\n");
    else if (r->h.version == 10)
        bld_lit(&o, "Connection: keep-alive\r\n");
    bld_lit(&o, "\r\n");
    if (o.overflow)
        return AW_TOOBIG;
    r->bytes_out += o.b.end - c->out.end;
    c->out = o.b;
    return AW_OK;
}

static const char *
status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

/* Methods allowed on the route, for the Allow field of a 405. */
static void
put_allow(struct bld *o, uint32_t allowed)
{
    bool first = true;

    bld_lit(o, "Allow: ");
    for (int m = 0; m < HTTP_OTHER; m++) {
        if (!(allowed & (1u << m)))
            continue;
        if (!first)
            bld_lit(o, ", ");
        bld_str(o, http_method_name((enum http_method)m));
        first = false;
    }
    bld_lit(o, "\r\n");
}

/* RFC 6750 section 3: the challenge of a 401. */
static void
put_www_authenticate(struct bld *o, const char *bearer_error)
{
    bld_lit(o, "WWW-Authenticate: Bearer realm=\"apiward\"");
    if (bearer_error != NULL) {
        bld_lit(o, ", error=\"");
        bld_str(o, bearer_error);
        bld_lit(o, "\"");
    }
    bld_lit(o, "\r\n");
}

/*
 * Answer the client with an RFC 9457 problem document whose type ends in
 * the stable reason code. Everything already queued for the client is
 * kept; when the answer does not fit, the connection is just closed. For
 * a 405, r->allowed holds the methods for the Allow field.
 */
void
message_problem(struct conn *c, struct request *r, int status,
                const char *reason, const char *detail)
{
    const struct config *cfg = r->cfg != NULL ? r->cfg : c->w->cfg;
    struct bld o = {c->out, false};
    char body[768], line[128], esc[384];
    struct buf eb = {esc, 0, 0, sizeof(esc) - 1};
    struct slice more = r->problem_members;
    int n;

    r->status = status;
    r->reason = reason;
    if (r->id[0] == '\0')
        message_request_id(c->w, r);
    json_escape_append(&eb, (struct slice){detail, strlen(detail)}, 256);
    esc[eb.end] = '\0';
    n = snprintf(body, sizeof(body),
                 "{\"type\":\"urn:apiward:problem:%s\",\"title\":\"%s\","
                 "\"status\":%d,\"detail\":\"%s\",\"reason\":\"%s\","
                 "\"request_id\":\"%s\"",
                 reason, status_title(status), status, esc, reason, r->id);
    if (n < 0 || (size_t)n >= sizeof(body))
        n = 0;
    snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
             status_title(status));
    bld_str(&o, line);
    bld_lit(&o, "Content-Type: application/problem+json\r\n"
                "Cache-Control: no-store\r\n");
    snprintf(line, sizeof(line), "Content-Length: %zu\r\n",
             n > 0 ? (size_t)n + more.len + 2 : 0);
    bld_str(&o, line);
    if (status == 405)
        put_allow(&o, r->allowed);
    if (status == 401)
        put_www_authenticate(&o, r->bearer_error);
    if (status == 503 || (status == 429 && r->retry_after_s > 0)) {
        snprintf(line, sizeof(line), "Retry-After: %u\r\n",
                 r->retry_after_s > 0 ? r->retry_after_s : 5);
        bld_str(&o, line);
    }
    if (r->problem_fields.len > 0)
        bld_add(&o, r->problem_fields);
    if (status == 408 || status == 413 || status == 431 || status == 400 ||
        status == 414 || status == 505 || status == 501)
        c->close_after = true;
    if (r->cfg == NULL || !client_keeps_alive(c, r))
        c->close_after = true;
    if (cfg != NULL)
        put_common_response_fields(&o, c, cfg, r);
    if (c->close_after)
        bld_lit(&o, "Connection: close\r\n");
    bld_lit(&o, "\r\n");
    if (n > 0) {
        bld_add(&o, (struct slice){body, (size_t)n});
        if (more.len > 0)
            bld_add(&o, more);
        bld_lit(&o, "}\n");
    }
    if (o.overflow) {
        c->close_after = true;
        return;
    }
    r->bytes_out += o.b.end - c->out.end;
    c->out = o.b;
}

/* Request ids a client may set: 1..64 of [A-Za-z0-9._-]. */
static bool
request_id_valid(struct slice v)
{
    if (v.len == 0 || v.len > PROXY_REQUEST_ID_LEN)
        return false;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.ptr[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

/*
 * Give r an id: the client's X-Request-Id when it is well formed (the
 * head must still be parsed), else 32 fresh hex digits.
 */
void
message_request_id(struct worker *w, struct request *r)
{
    const struct http_header *h = NULL;

    if (r->h.headers != NULL)
        h = http_header_find(r->h.headers, r->h.nheaders, "x-request-id");
    if (h != NULL && request_id_valid(h->value)) {
        slice_copy_cstr(r->id, sizeof(r->id), h->value);
        return;
    }
    if (w->rng == 0 && getrandom(&w->rng, sizeof(w->rng), 0) < 0)
        w->rng = clock_mono_us() | 1;
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    fmt_hex64(r->id, w->rng);
    fmt_hex64(r->id + 16, w->rng * 0x2545f4914f6cdd1dULL);
    r->id[32] = '\0';
}

static const char *const stage_names[] = {
    "parse", "route", "guard", "authenticate", "body", "authorize",
    "limit", "contract", "inspect", "forward", "respond", "tls",
};

static void
put_json_member(struct bld *o, struct slice head, struct slice v)
{
    bld_add(o, head);
    bld_json_string(o, v, 512);
}

/* ,"key":"v" with the slice v escaped; key is a string literal. */
#define put_json_string(o, key, ...) \
    put_json_member((o), SLICE_LIT(",\"" key "\":"), (__VA_ARGS__))

/*
 * The operation of the route's contract the request was matched to
 * (its operationId and path template, both from the document), and
 * whether a failure was let through in monitor mode or a response
 * broke the contract.
 */
static void
put_contract(struct bld *o, const struct request *r)
{
    const struct contract_req *k = r->contract;
    const char *s;

    if (k == NULL)
        return;
    if (k->match.op != NULL) {
        s = openapi_op_id(k->match.op);
        put_json_string(o, "operation", (struct slice){s, strlen(s)});
        s = openapi_op_template(k->match.op);
        put_json_string(o, "template", (struct slice){s, strlen(s)});
    }
    if (k->monitored) {
        bld_lit(o, ",\"contract_monitored\":true");
        put_json_string(o, "contract", (struct slice){k->reason,
                                                      strlen(k->reason)});
    }
    if (k->res_reason != NULL)
        put_json_string(o, "response_contract",
                        (struct slice){k->res_reason,
                                       strlen(k->res_reason)});
}

/*
 * The strongest finding of a request the inspect stage let through (log
 * mode, or a score under the threshold): its reason and location.
 */
static void
put_inspect(struct bld *o, const struct request *r)
{
    const char *where = NULL;
    const char *reason = proxy_inspect_logged(r, &where);

    if (reason == NULL)
        return;
    put_json_string(o, "inspect", (struct slice){reason, strlen(reason)});
    if (where != NULL)
        put_json_string(o, "inspect_location",
                        (struct slice){where, strlen(where)});
}

/* Queue the access-log line of a finished request. */
void
message_access_log(struct conn *c, struct request *r)
{
    char line[4096], when[CLOCK_UTC_LEN + 1];
    struct bld o = {{line, 0, 0, sizeof(line)}, false};
    uint64_t now = clock_mono_us();
    uint64_t total_us = now - r->t_start;
    uint64_t up_us = r->t_up_start == 0 ? 0
                   : (r->t_up_end ? r->t_up_end : now) - r->t_up_start;

    proxy_record(c, r);
    if (!accesslog_enabled())
        return;
    clock_utc_text(when);
    bld_lit(&o, "{\"time\":\"");
    bld_add(&o, (struct slice){when, CLOCK_UTC_LEN});
    bld_lit(&o, "\"");
    put_json_string(&o, "request_id", (struct slice){r->id, strlen(r->id)});
    put_json_string(&o, "client", (struct slice){c->peer_text,
                                                 strlen(c->peer_text)});
    put_json_string(&o, "method", r->method);
    put_json_string(&o, "host", r->host);
    if (r->route != NULL)
        put_json_string(&o, "route", (struct slice){r->route->name,
                                                    strlen(r->route->name)});
    put_json_string(&o, "path", r->path);
    if (r->principal.kind != AUTH_NONE) {
        const char *m = auth_kind_name(r->principal.kind);

        put_json_string(&o, "user", r->principal.subject);
        put_json_string(&o, "auth", (struct slice){m, strlen(m)});
    }
    if (r->principal.credential_id[0] != '\0')
        put_json_string(&o, "credential",
                        (struct slice){r->principal.credential_id,
                                       strlen(r->principal.credential_id)});
    if (r->up != NULL || r->t_up_start != 0)
        put_json_string(&o, "upstream", r->up != NULL
                        ? (struct slice){r->up->be->text,
                                         strlen(r->up->be->text)}
                        : SLICE_LIT(""));
    bld_lit(&o, ",\"status\":");
    bld_u64(&o, (uint64_t)r->status);
    bld_lit(&o, ",\"bytes\":");
    bld_u64(&o, r->bytes_out);
    bld_lit(&o, ",\"duration_ms\":");
    bld_ms(&o, total_us);
    bld_lit(&o, ",\"upstream_ms\":");
    bld_ms(&o, up_us);
    bld_lit(&o, ",\"stage\":\"");
    bld_str(&o, stage_names[r->stage]);
    bld_lit(&o, "\"");
    if (r->reason != NULL)
        put_json_string(&o, "reason", (struct slice){r->reason,
                                                     strlen(r->reason)});
    if (r->authz_reason != NULL)
        put_json_string(&o, "authz", (struct slice){r->authz_reason,
                                                    strlen(r->authz_reason)});
    if (r->authz_rule != NULL)
        put_json_string(&o, "authz_rule",
                        (struct slice){r->authz_rule, strlen(r->authz_rule)});
    if (r->authz_monitored)
        bld_lit(&o, ",\"authz_monitored\":true");
    put_contract(&o, r);
    put_inspect(&o, r);
    bld_lit(&o, "}\n");
    if (!o.overflow)
        accesslog_write(c->w->id, line, o.b.end);
}
