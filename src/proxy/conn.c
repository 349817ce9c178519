/*
 * Client connections and the request pipeline.
 *
 * A connection is driven by conn_pump, which moves every byte that can
 * move (client to gateway, gateway to backend, backend to gateway,
 * gateway to client) until nothing progresses. Events on either socket
 * only set readiness flags and call conn_pump, so there is one place that
 * decides what happens next. Requests on a connection are served one at
 * a time, in order; pipelined requests wait in the input buffer.
 *
 * Stages run in the order of the design: parse, route, guard,
 * authenticate, body, authorize, limit, contract, forward, respond,
 * record. A stage that refuses the request answers with a problem
 * document and the request is recorded with that stage's name.
 *
 * Bodies stream to the backend as they arrive, except on routes with
 * buffer_body and JSON bodies a contract checks: there the body stage
 * reads the body whole into the request arena once the caller is
 * authenticated (pushing each piece through the contract's validator
 * as it arrives), parses it as JSON for the authorize stage when the
 * policy reads it, and the backend gets it with a Content-Length.
 * Responses stream to the client, except those held whole (hold.c) for
 * a contract that blocks or filters them (contract.c) or for a scan for
 * sensitive data (sensitive.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "json/json.h"
#include "proxy_int.h"

#define CHUNK_OVERHEAD 24           /* hex size, CRLF, CRLF, margin */
#define ARENA_MAX (4u * 1024 * 1024)
#define BODY_FIRST_CAP (16u * 1024) /* first buffer of a chunked body */
/*
 * Arena room a buffered body may take, in multiples of its bound: the
 * buffer of a chunked body grows by doubling (up to twice the bound in
 * all), and the parsed tree takes the rest. A tree that needs more is
 * refused (413 body.too_complex) rather than grown without end. The
 * bound is per request: there is no budget across connections, so every
 * connection may hold this much at once.
 */
#define BODY_ARENA_RATIO 8u

static void conn_on_event(struct loop_io *io, uint32_t events);
static void conn_on_timer(struct loop_timer *t);

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void
peer_to_text(struct conn *c)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->peer;

    if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr,
                  c->peer_text, sizeof(c->peer_text));
    else if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
                  c->peer_text, sizeof(c->peer_text));
    else
        slice_copy_cstr(c->peer_text, sizeof(c->peer_text),
                        SLICE_LIT("unix"));
}

/*
 * Take over an accepted socket. When the worker is at its connection
 * bound, the socket is closed at once: refusing early is cheaper than
 * serving every client slowly.
 */
void
conn_accept(struct worker *w, int fd, const struct sockaddr *sa,
            socklen_t len, struct tls_server *tls)
{
    struct conn *c;
    int one = 1;
    uint64_t first_ms = w->cfg->idle_timeout_ms;

    if (w->nconns >= w->cfg->max_connections || w->draining) {
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->io.fd = fd;
    c->io.on_event = conn_on_event;
    c->timer.on_expire = conn_on_timer;
    c->w = w;
    memcpy(&c->peer, sa, MIN(len, sizeof(c->peer)));
    c->peer_len = len;
    peer_to_text(c);
    c->writable = true;
    c->phase = PHASE_IDLE;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (tls != NULL) {
        first_ms = tls_server_handshake_timeout(tls);
        if (tls_conn_new(tls, fd, &c->tls) != AW_OK) {
            close(fd);
            free(c);
            return;
        }
    }
    if (loop_add(&w->loop, &c->io) != AW_OK) {
        tls_conn_free(c->tls);
        close(fd);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    loop_timer_set(&w->loop, &c->timer, first_ms);
}

/*
 * The buffers and the request arena exist only while a request is in
 * progress; they come from the worker's pools.
 */
static int
ensure_bufs(struct conn *c)
{
    struct worker *w = c->w;
    void *mem;

    if (c->in.data == NULL && worker_buf_get(w, &c->in) != AW_OK)
        return AW_NOMEM;
    if (c->out.data == NULL && worker_buf_get(w, &c->out) != AW_OK)
        return AW_NOMEM;
    if (c->arena.head == NULL) {
        mem = pool_get(&w->small_pool);
        if (mem == NULL)
            return AW_NOMEM;
        arena_init_lent(&c->arena, mem, w->small_pool.size, ARENA_MAX);
    }
    return AW_OK;
}

/*
 * Give memory back while the connection is idle with nothing buffered:
 * an idle keep-alive connection then costs only its struct conn.
 */
static void
release_bufs(struct conn *c)
{
    void *lent = c->arena.lent;

    worker_buf_put(c->w, &c->in);
    worker_buf_put(c->w, &c->out);
    arena_fini(&c->arena);
    pool_put(&c->w->small_pool, lent);
}

static void
request_reset(struct request *r)
{
    proxy_limit_release(r);
    config_unref(r->cfg);
    memset(r, 0, sizeof(*r));
}

/*
 * Close the socket now; the memory is freed after the current batch of
 * events, because another event of the batch may still name it.
 */
void
conn_close(struct conn *c)
{
    struct worker *w = c->w;

    if (c->closed)
        return;
    c->closed = true;
    if (c->phase == PHASE_AUTH_WAIT)
        worker_unpark(w, c);
    if (c->phase == PHASE_LIMIT_WAIT)
        proxy_limit_cancel(c);
    if (c->req.up != NULL) {
        upstream_release(c, c->req.up, false);
        c->req.up = NULL;
    }
    loop_timer_cancel(&w->loop, &c->timer);
    loop_del(&w->loop, &c->io);
    tls_conn_free(c->tls);      /* close_notify goes before the FIN */
    c->tls = NULL;
    close(c->io.fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->nconns--;
    c->next = w->dead_conns;
    w->dead_conns = c;
}

void
conn_free(struct conn *c)
{
    request_reset(&c->req);
    release_bufs(c);
    free(c);
}

/* Record the request and make the connection ready for the next one. */
static void
finish_request(struct conn *c)
{
    struct request *r = &c->req;

    proxy_observe(c, r);
    message_access_log(c, r);
    if (r->up != NULL) {
        bool reusable = r->res_done && r->req_body_done &&
                        r->res.keep_alive && !r->up->eof &&
                        buf_len(&r->up->in) == 0;

        upstream_release(c, r->up, reusable);
        r->up = NULL;
    }
    /* A body that was not read to its end cannot be skipped safely. */
    if (!r->req_body_done && !r->body_buffered &&
        r->h.framing != HTTP_BODY_NONE)
        c->close_after = true;
    request_reset(r);
    arena_reset(&c->arena);
    c->arena.max = ARENA_MAX;   /* raised while a body was buffered */
    http_parser_init(&c->parser);
    c->phase = c->close_after ? PHASE_FLUSH : PHASE_IDLE;
    if (c->phase == PHASE_FLUSH) {
        loop_timer_set(&c->w->loop, &c->timer, c->w->cfg->send_timeout_ms);
        return;
    }
    loop_timer_set(&c->w->loop, &c->timer, c->w->cfg->idle_timeout_ms);
}

/* Answer with a problem document and record the request. */
static void
refuse(struct conn *c, int status, const char *reason, const char *detail)
{
    struct request *r = &c->req;

    if (r->up != NULL) {
        upstream_release(c, r->up, false);
        r->up = NULL;
    }
    /* A body that was not read to its end cannot be skipped safely. */
    if (!r->req_body_done && !r->body_buffered &&
        r->h.framing != HTTP_BODY_NONE)
        c->close_after = true;
    message_problem(c, r, status, reason, detail);
    r->res_done = true;
    finish_request(c);
}

void
conn_refuse(struct conn *c, int status, const char *reason,
            const char *detail)
{
    refuse(c, status, reason, detail);
}

static void
refuse_http(struct conn *c, const struct http_error *err)
{
    refuse(c, err->status, err->reason, err->detail);
}

/* Begin a request: take a snapshot reference and an id. */
static void
request_begin(struct conn *c)
{
    struct request *r = &c->req;

    worker_refresh_config(c->w);
    r->cfg = config_ref(c->w->cfg);
    c->nrequests++;
    r->t_start = clock_mono_us();
    r->stage = STAGE_PARSE;
    r->method = SLICE_LIT("-");
    r->path = SLICE_LIT("-");
    r->host = SLICE_LIT("-");
}

/* Copy what the rest of the request needs out of the input buffer. */
static int
keep_request_text(struct conn *c, struct request *r, struct slice path)
{
    char *m = arena_dup(&c->arena, r->h.method_name.ptr,
                        r->h.method_name.len);
    char *h = arena_dup(&c->arena, r->h.host.ptr, r->h.host.len);
    char *p = arena_dup(&c->arena, path.ptr, path.len);

    if (m == NULL || h == NULL || p == NULL)
        return AW_NOMEM;
    r->method = (struct slice){m, r->h.method_name.len};
    r->host = (struct slice){h, r->h.host.len};
    r->path = (struct slice){p, path.len};
    return AW_OK;
}

/* Stage route: find the route or refuse with 404 or 405. */
static bool
stage_route(struct conn *c, struct request *r)
{
    const struct route_def *def;
    enum route_result rr;

    r->stage = STAGE_ROUTE;
    rr = route_match(r->cfg->route_table, r->host, r->h.method, r->path,
                     &def, &r->params, &r->allowed);
    if (rr == ROUTE_NOT_FOUND) {
        refuse(c, 404, "route.not_found",
               "No route serves this host and path.");
        return false;
    }
    if (rr == ROUTE_BAD_METHOD) {
        refuse(c, 405, "route.method_not_allowed",
               "The route does not accept this method.");
        return false;
    }
    r->route = def->data;
    return true;
}

/* Bound of a body read whole on r's route. */
static uint64_t
buffered_body_max(const struct request *r)
{
    return MIN(r->cfg->max_buffered_body, r->route->max_body_bytes);
}

/* Stage guard: limits that depend on the route. */
static bool
stage_guard(struct conn *c, struct request *r)
{
    r->stage = STAGE_GUARD;
    if (r->h.framing == HTTP_BODY_LENGTH &&
        r->h.content_length > r->route->max_body_bytes) {
        refuse(c, 413, "http.body_too_large",
               "The request body is larger than this route accepts.");
        return false;
    }
    if (r->route->buffer_body && r->h.framing == HTTP_BODY_LENGTH &&
        r->h.content_length > buffered_body_max(r)) {
        refuse(c, 413, "http.body_too_large",
               "The request body is larger than this route reads whole.");
        return false;
    }
    return proxy_guard(c, r) == AW_OK;
}

/* Stage forward: finish the upstream head and hand it to a backend. */
static void
stage_forward(struct conn *c, struct request *r)
{
    if (message_upstream_principal(c, r) != AW_OK) {
        refuse(c, 431, "http.head_too_large",
               "The request head is too large to forward.");
        return;
    }
    /* A buffered body was read already, after its own 100 Continue. */
    if (r->h.expect_continue && r->req_framing != HTTP_BODY_NONE &&
        !r->body_buffered)
        buf_append(&c->out, continue_line, sizeof(continue_line) - 1);
    r->stage = STAGE_FORWARD;
    c->phase = PHASE_FORWARD;
    http_parser_init(&r->res_parser);
    if (upstream_attach(c, r, NULL) != AW_OK)
        refuse(c, 503, "upstream.no_healthy_server",
               "No healthy server is available for this route.");
    else if (!r->req_body_done && !r->body_buffered)
        loop_timer_set(&c->w->loop, &c->timer, r->cfg->body_timeout_ms);
    else
        loop_timer_cancel(&c->w->loop, &c->timer);
}

/*
 * Stage contract: the verdict on the request kept since its head and
 * body arrived is applied now (proxy_contract refuses when it fails).
 * Stage inspect, after it, does the same with the findings in the
 * request's values (proxy_inspect).
 */
static void
stage_inspect(struct conn *c, struct request *r)
{
    r->stage = STAGE_INSPECT;
    if (proxy_inspect(c, r) == AW_OK)
        stage_forward(c, r);
}

static void
stage_contract(struct conn *c, struct request *r)
{
    r->stage = STAGE_CONTRACT;
    if (proxy_contract(c, r) == AW_OK)
        stage_inspect(c, r);
}

/*
 * Stage authorize: the route's policy decides on the principal and on
 * what was kept of the request (proxy_authorize refuses when it does
 * not allow).
 */
static void
stage_authorize(struct conn *c, struct request *r)
{
    r->stage = STAGE_AUTHZ;
    if (proxy_authorize(c, r) != AW_OK)
        return;
    r->stage = STAGE_LIMIT;
    switch (proxy_limit(c, r)) {
    case AW_OK:
        stage_contract(c, r);
        break;
    case AW_AGAIN:
        /* Waiting for the shared limits; the timer bounds the wait. */
        c->phase = PHASE_LIMIT_WAIT;
        loop_timer_set(&c->w->loop, &c->timer,
                       r->cfg->redis.command_timeout_ms);
        break;
    default:
        break;
    }
}

/*
 * The limit stage decided on a request it parked (proxy_limit answered
 * AW_AGAIN): go on to forward when it admitted the request (ok); else
 * the refusal is written already (and the phase moved on), and only
 * the output is left to send.
 */
void
conn_resume_limit(struct conn *c, bool ok)
{
    if (c->closed)
        return;
    if (c->phase == PHASE_LIMIT_WAIT)
        c->phase = PHASE_HEAD;
    if (ok)
        stage_contract(c, &c->req);
    if (!c->closed)
        conn_pump(c);
}

/*
 * Stage body, on routes that read the body whole. It runs after
 * authentication, so that only a known caller can make the gateway hold
 * a body in memory. A body of another media type is refused before a
 * byte of it is read, and an Expect: 100-continue is answered only now
 * that the body is wanted (a declared length over the bound was refused
 * by the guard, without a 100). The reading itself is pump_body's.
 */
static void
stage_body(struct conn *c, struct request *r)
{
    bool chunked = r->h.framing == HTTP_BODY_CHUNKED;

    if (!r->body_whole || r->req_body_done) {
        stage_authorize(c, r);
        return;
    }
    r->stage = STAGE_BODY;
    if (r->route->buffer_body && !r->body_is_json) {
        refuse(c, 415, "body.unsupported_media_type",
               "This route reads the body as JSON: send it as "
               "application/json or another +json media type.");
        return;
    }
    c->arena.max = ARENA_MAX + (size_t)(BODY_ARENA_RATIO * r->body_max);
    r->body_cap = chunked ? (size_t)MIN(BODY_FIRST_CAP, r->body_max)
                          : (size_t)r->h.content_length;
    r->body = arena_alloc(&c->arena, r->body_cap);
    if (r->body == NULL ||
        (proxy_contract_wants_body(r) &&
         proxy_contract_body_begin(c, r) != AW_OK) ||
        (proxy_inspect_wants_body(r) &&
         proxy_inspect_body_begin(c, r) != AW_OK)) {
        refuse(c, 500, "gateway.no_memory", "Out of request memory.");
        return;
    }
    if (r->h.expect_continue)
        buf_append(&c->out, continue_line, sizeof(continue_line) - 1);
    c->phase = PHASE_BODY;
    loop_timer_set(&c->w->loop, &c->timer, r->cfg->body_timeout_ms);
}

/*
 * Stage authenticate. The credential was copied out of the head, so this
 * can run again after the request waited for keys (final is then true
 * once the wait is over). Returns true when the request goes on.
 */
static void
stage_authenticate(struct conn *c, struct request *r, bool final)
{
    const struct config_route_auth *ra = r->route->auth;
    struct auth_error err = {0};
    int rc;

    r->stage = STAGE_AUTH;
    if (ra == NULL) {
        stage_body(c, r);
        return;
    }
    rc = identity_authenticate(r->cfg, ra, &r->cred, c->w->idcache,
                               (int64_t)(clock_wall_ms() / 1000), final,
                               &c->arena, &r->principal, &err);
    if (rc == AW_AGAIN) {
        worker_park(c->w, c);
        return;
    }
    if (rc != AW_OK) {
        r->bearer_error = err.bearer_error;
        refuse(c, err.status, err.reason, err.detail);
        return;
    }
    stage_body(c, r);
}

/*
 * A parked request, already taken off the worker's list, is woken: keys
 * changed, or (final) its wait is over.
 */
void
conn_resume_auth(struct conn *c, bool final)
{
    if (c->closed || c->phase != PHASE_AUTH_WAIT)
        return;
    c->phase = PHASE_HEAD;
    stage_authenticate(c, &c->req, final);
    if (!c->closed)
        conn_pump(c);
}

/*
 * The verified client certificate of a TLS connection, for an mtls
 * route and for tokens bound to it (borrowed from the session, which
 * outlives the request).
 */
static void
take_peer(struct conn *c, struct request *r)
{
    const struct tls_peer *peer;

    if (tls_conn_peer(c->tls, &peer) != AW_OK)
        return;
    r->cred.peer_identity = (struct slice){peer->identity,
                                           strlen(peer->identity)};
    r->cred.peer_sha256 = peer->sha256;
}

/* Copy the route's credential out of the head, which is about to go. */
static bool
take_credential(struct conn *c, struct request *r)
{
    const struct config_route_auth *ra = r->route->auth;
    struct auth_error err = {0};

    if (ra == NULL)
        return true;
    if (c->tls != NULL)
        take_peer(c, r);
    if (identity_extract(ra, r->h.headers, r->h.nheaders, r->h.query,
                         &c->arena, &r->cred, &err) == AW_OK)
        return true;
    r->stage = STAGE_AUTH;
    r->bearer_error = err.bearer_error;
    refuse(c, err.status ? err.status : 401,
           err.reason ? err.reason : "auth.malformed_credentials",
           err.detail ? err.detail : "The credentials are malformed.");
    return false;
}

/* Restricted-name characters of a media type (RFC 6838 section 4.2). */
static bool
media_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || memchr("!#$&-^_.+", ch, 9) != NULL;
}

/*
 * True when a Content-Type value names JSON: application/json, or any
 * type whose subtype ends in +json (application/merge-patch+json, ...),
 * in any case; parameters such as charset are not looked at.
 */
bool
proxy_media_is_json(struct slice v)
{
    size_t len = 0, slash = 0;

    while (len < v.len && v.ptr[len] != ';')
        len++;
    while (len > 0 && (v.ptr[len - 1] == ' ' || v.ptr[len - 1] == '\t'))
        len--;
    for (size_t i = 0; i < len; i++) {
        if (v.ptr[i] == '/' && slash == 0 && i > 0)
            slash = i;
        else if (!media_name_char(v.ptr[i]))
            return false;
    }
    if (slash == 0 || len - slash - 1 == 0)
        return false;
    if (slice_is((struct slice){v.ptr, len}, "application/json"))
        return true;
    return len - slash - 1 > 5 &&
           slice_is((struct slice){v.ptr + len - 5, 5}, "+json");
}

/*
 * While the head is still there, prepare the reading of a body that the
 * route reads whole: judge its media type (exactly one Content-Type
 * field naming JSON; JSON is the only body such a route takes) and leave
 * its framing out of the upstream head, which gets a Content-Length once
 * the body is read.
 */
static void
body_expect(struct request *r)
{
    const struct http_header *ct = NULL;
    unsigned nct = 0;

    for (unsigned i = 0; i < r->h.nheaders; i++) {
        if (slice_is(r->h.headers[i].name, "content-type")) {
            ct = &r->h.headers[i];
            nct++;
        }
    }
    r->body_is_json = nct == 1 && proxy_media_is_json(ct->value);
    r->body_max = buffered_body_max(r);
    r->req_framing = HTTP_BODY_NONE;
}

/*
 * A body a contract checks is read whole, so its declared length is
 * held to the same bound as on routes with buffer_body (the guard
 * checked those). False once the request is refused.
 */
static bool
body_fits(struct conn *c, struct request *r)
{
    if (r->h.framing != HTTP_BODY_LENGTH ||
        r->h.content_length <= buffered_body_max(r))
        return true;
    refuse(c, 413, "http.body_too_large",
           "The request body is larger than this route reads whole.");
    return false;
}

/*
 * A complete head is in the input buffer: run the stages up to forward.
 * Everything the later stages need is copied out of the head here. On
 * refusal the request is already answered and recorded.
 */
static void
start_request(struct conn *c)
{
    struct request *r = &c->req;
    struct http_error err;
    struct slice path;
    int rc;

    message_request_id(c->w, r);
    rc = http_normalize_path(r->h.path, &r->cfg->norm, &c->arena, &path,
                             &err);
    if (rc == AW_OK)
        rc = keep_request_text(c, r, path);
    if (rc != AW_OK) {
        if (rc == AW_INVALID)
            refuse_http(c, &err);
        else
            refuse(c, 500, "gateway.no_memory", "Out of request memory.");
        return;
    }
    if (!stage_route(c, r) || !stage_guard(c, r))
        return;
    if (proxy_contract_head(c, r) != AW_OK ||
        proxy_inspect_head(c, r) != AW_OK) {
        refuse(c, 500, "gateway.no_memory", "Out of request memory.");
        return;
    }
    r->req_framing = r->h.framing;
    r->body_left = r->h.content_length;
    r->req_body_done = r->req_framing == HTTP_BODY_NONE ||
                       (r->req_framing == HTTP_BODY_LENGTH &&
                        r->body_left == 0);
    http_chunked_init(&r->req_chunks);
    r->body_whole = !r->req_body_done && (r->route->buffer_body ||
                                          proxy_contract_wants_body(r) ||
                                          proxy_inspect_wants_body(r));
    if (r->body_whole && !body_fits(c, r))
        return;
    if (r->body_whole)
        body_expect(r);
    if (message_upstream_head(c, r) != AW_OK) {
        refuse(c, 431, "http.head_too_large",
               "The request head is too large to forward.");
        return;
    }
    if (!take_credential(c, r) || proxy_authorize_take(c, r) != AW_OK)
        return;
    stage_authenticate(c, r, false);
}

/*
 * The TLS handshake failed or timed out before a request was read:
 * one access log record with the tls.* reason, and the connection
 * closes. The failure was counted by the tls module.
 */
static void
tls_failed(struct conn *c, const char *reason)
{
    struct request *r = &c->req;

    if (r->cfg == NULL)
        request_begin(c);
    message_request_id(c->w, r);
    r->stage = STAGE_TLS;
    r->reason = reason;
    message_access_log(c, r);
    conn_close(c);
}

/*
 * client_read over TLS. The handshake completes inside the reads; its
 * own writes may need the socket writable first (conn_on_event turns
 * that readiness into a read). readable is cleared only when OpenSSL
 * found the socket empty: it may hold decrypted bytes of its own.
 */
static ssize_t
client_read_tls(struct conn *c)
{
    size_t n = 0;
    int rc;

    if (buf_room(&c->in) == 0)
        buf_compact(&c->in);
    if (buf_room(&c->in) == 0)
        return 0;
    rc = tls_conn_read(c->tls, c->in.data + c->in.end, buf_room(&c->in), &n);
    if (!c->tls_ready && tls_conn_established(c->tls)) {
        c->tls_ready = true;
        if (c->phase == PHASE_IDLE)
            loop_timer_set(&c->w->loop, &c->timer,
                           c->w->cfg->idle_timeout_ms);
    }
    if (rc == AW_OK) {
        c->in.end += n;
        return (ssize_t)n;
    }
    if (rc == AW_AGAIN) {
        c->readable = false;
        return 0;
    }
    if (rc == AW_ERROR && !c->tls_ready) {
        tls_failed(c, tls_conn_reason(c->tls));
        return -1;
    }
    c->eof = true;
    return 0;
}

/*
 * Read from the client into c->in. Returns the bytes read, 0 when
 * nothing could be read now, -1 when the connection was closed here.
 */
static ssize_t
client_read(struct conn *c)
{
    size_t room;
    ssize_t n;

    if (!c->readable || c->eof)
        return 0;
    if (c->tls != NULL)
        return client_read_tls(c);
    if (buf_room(&c->in) == 0)
        buf_compact(&c->in);
    if (buf_room(&c->in) == 0)
        return 0;
    room = buf_room(&c->in);
    n = read(c->io.fd, c->in.data + c->in.end, room);
    if (n > 0) {
        c->in.end += (size_t)n;
        /* A short read drained the socket; the edge-triggered loop
         * reports new bytes, so the EAGAIN read can be skipped. */
        if ((size_t)n < room && !c->hup)
            c->readable = false;
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->readable = false;
        return 0;
    }
    c->eof = true;
    return 0;
}

/* Phases IDLE and HEAD: read and parse the next request head. */
static bool
pump_head(struct conn *c)
{
    struct request *r = &c->req;
    struct http_error err;
    int rc;

    if (buf_len(&c->out) > 0)
        return false;           /* answer in order: flush first */
    if (c->in.data == NULL && !c->readable)
        return false;           /* idle: hold no buffer until bytes come */
    if (ensure_bufs(c) != AW_OK) {
        conn_close(c);
        return false;
    }
    if (buf_len(&c->in) > 0) {
        if (c->phase == PHASE_IDLE) {
            c->phase = PHASE_HEAD;
            request_begin(c);
            loop_timer_set(&c->w->loop, &c->timer,
                           r->cfg->header_timeout_ms);
        }
        r->h.headers = worker_scratch_headers(c->w,
                                              r->cfg->limits.max_headers);
        if (r->h.headers == NULL) {
            conn_close(c);
            return false;
        }
        rc = http_parse_request(&c->parser, c->in.data + c->in.start,
                                buf_len(&c->in), &r->cfg->limits, &r->h,
                                &err);
        if (rc == AW_OK) {
            /* The head stays in place until the next read, so its
             * slices remain valid while the request starts. */
            c->in.start += r->h.head_len;
            start_request(c);
            return true;
        }
        if (rc != AW_AGAIN) {
            c->close_after = true;
            refuse_http(c, &err);
            return true;
        }
    }
    if (client_read(c) > 0)
        return true;
    if (c->eof)
        conn_close(c);
    return false;
}

/* Move n bytes from the front of src to the end of dst. */
static void
move_bytes(struct buf *src, struct buf *dst, size_t n)
{
    memcpy(dst->data + dst->end, src->data + src->start, n);
    dst->end += n;
    src->start += n;
}

/*
 * Decode chunked bytes of b in place, reading at most max_in input bytes.
 * The first *pending bytes of b are payload decoded earlier and not yet
 * moved on; decoded payload is added after them and the input that
 * follows is shifted to close the gap.
 */
static int
dechunk(struct http_chunked *ch, struct buf *b, size_t *pending,
        size_t max_in, uint64_t max, struct http_error *err)
{
    char *p = b->data + b->start + *pending;
    size_t len = buf_len(b) - *pending, consumed = 0, out = 0;
    size_t take = MIN(len, max_in);
    int rc;

    if (take == 0)
        return AW_AGAIN;
    rc = http_chunked_decode(ch, p, take, &consumed, &out, max, err);
    if (rc != AW_AGAIN && rc != AW_DONE)
        return rc;
    memmove(p + out, p + consumed, len - consumed);
    b->end -= consumed - out;
    *pending += out;
    return rc;
}

/*
 * Move pending payload from the front of src into dst, as one chunk when
 * chunked is set. Returns the payload bytes moved.
 */
static size_t
emit_payload(struct buf *src, size_t *pending, struct buf *dst,
             bool chunked)
{
    size_t n;
    char head[24];
    int hl;

    if (*pending == 0)
        return 0;
    if (buf_room(dst) < CHUNK_OVERHEAD + 1)
        buf_compact(dst);
    if (buf_room(dst) < CHUNK_OVERHEAD + 1)
        return 0;
    n = MIN(*pending, buf_room(dst) - (chunked ? CHUNK_OVERHEAD : 0));
    if (chunked) {
        hl = snprintf(head, sizeof(head), "%zx\r\n", n);
        buf_append(dst, head, (size_t)hl);
    }
    move_bytes(src, dst, n);
    if (chunked)
        buf_append(dst, "\r\n", 2);
    *pending -= n;
    return n;
}

/*
 * Make room for n more body bytes, doubling the buffer. The callers
 * never pass r->body_max in all, so neither does the buffer.
 */
static int
body_reserve(struct conn *c, struct request *r, size_t n)
{
    size_t need = r->body_len + n, cap = MAX(r->body_cap, 1);
    char *grown;

    if (need <= r->body_cap)
        return AW_OK;
    while (cap < need)
        cap *= 2;
    cap = (size_t)MIN(cap, MAX(r->body_max, need));
    grown = arena_alloc(&c->arena, cap);
    if (grown == NULL)
        return AW_NOMEM;
    memcpy(grown, r->body, r->body_len);
    r->body = grown;
    r->body_cap = cap;
    return AW_OK;
}

/* Take Content-Length body bytes from the input buffer. */
static int
body_take_length(struct conn *c, struct request *r)
{
    size_t n = (size_t)MIN(buf_len(&c->in), r->body_left);

    memcpy(r->body + r->body_len, c->in.data + c->in.start, n);
    proxy_contract_feed(r, r->body + r->body_len, n);
    proxy_inspect_feed(r, r->body + r->body_len, n);
    c->in.start += n;
    r->body_len += n;
    r->body_left -= n;
    return r->body_left == 0 ? AW_DONE : AW_AGAIN;
}

/*
 * Decode chunked body bytes of the input buffer into r->body. A body
 * that outgrows r->body_max, or malformed chunks, are answered here
 * (413 or 400, and the connection closes). Returns AW_DONE, AW_AGAIN,
 * or another status once answered.
 */
static int
body_take_chunked(struct conn *c, struct request *r)
{
    struct http_error err;
    size_t pending = 0;
    int rc = dechunk(&r->req_chunks, &c->in, &pending, SIZE_MAX,
                     r->body_max, &err);

    if (rc != AW_AGAIN && rc != AW_DONE) {
        c->close_after = true;
        refuse_http(c, &err);
        return rc;
    }
    if (body_reserve(c, r, pending) != AW_OK) {
        c->close_after = true;
        refuse(c, 500, "gateway.no_memory", "Out of request memory.");
        return AW_NOMEM;
    }
    memcpy(r->body + r->body_len, c->in.data + c->in.start, pending);
    proxy_contract_feed(r, r->body + r->body_len, pending);
    proxy_inspect_feed(r, r->body + r->body_len, pending);
    c->in.start += pending;
    r->body_len += pending;
    return rc;
}

/*
 * The whole body is in r->body: complete the contract's verdict on it,
 * parse it for the authorize stage when the policy reads it, and make
 * it the body sent upstream, framed by Content-Length. An empty body
 * leaves body_json NULL. A body both checked and read by the policy is
 * parsed twice: the validator consumes tokens and builds no tree.
 */
static void
body_complete(struct conn *c, struct request *r)
{
    struct json_value *v = NULL;
    struct json_limits lim;
    struct json_error jerr = {0};
    char detail[160];
    int rc = AW_OK;

    loop_timer_cancel(&c->w->loop, &c->timer);
    r->body_buffered = true;
    r->req_framing = HTTP_BODY_LENGTH;
    r->body_left = r->body_len;
    r->req_body_done = r->body_len == 0;
    proxy_contract_body_end(c, r);
    proxy_inspect_body_end(c, r);
    if (r->body_len > 0 && r->route->buffer_body) {
        json_limits_default(&lim);
        lim.max_bytes = r->body_len;
        rc = json_parse(r->body, r->body_len, &lim, &c->arena, &v, &jerr);
    }
    if (rc == AW_NOMEM) {
        refuse(c, 413, "body.too_complex",
               "The JSON body needs more memory than a request is given.");
        return;
    }
    if (rc != AW_OK) {
        snprintf(detail, sizeof(detail),
                 "The body is not valid JSON: %s at byte %zu.",
                 jerr.reason != NULL ? jerr.reason : "json.syntax",
                 jerr.offset);
        refuse(c, 400, "body.malformed_json", detail);
        return;
    }
    r->body_json = v;
    stage_authorize(c, r);
}

/*
 * Phase BODY: move the body from the input buffer into r->body, reading
 * more once the input is used up. Bytes past the body stay in the input
 * buffer for the next request. The body timeout bounds the wait between
 * reads, not the whole body, so a client that trickles bytes keeps the
 * buffer for as long as the bound allows. Returns true on progress.
 */
static bool
pump_body(struct conn *c)
{
    struct request *r = &c->req;
    int rc = r->h.framing == HTTP_BODY_CHUNKED ? body_take_chunked(c, r)
                                                : body_take_length(c, r);

    if (rc == AW_DONE) {
        body_complete(c, r);
        return true;
    }
    if (rc != AW_AGAIN)
        return true;            /* answered */
    if (client_read(c) > 0) {
        loop_timer_set(&c->w->loop, &c->timer, r->cfg->body_timeout_ms);
        return true;
    }
    if (c->eof)
        conn_close(c);
    return false;
}

/* Copy up to limit bytes of src into dst, as much as fits. */
static size_t
copy_some(struct buf *src, struct buf *dst, uint64_t limit)
{
    size_t n;

    if (buf_room(dst) == 0)
        buf_compact(dst);
    n = MIN(buf_len(src), buf_room(dst));
    if ((uint64_t)n > limit)
        n = (size_t)limit;
    if (n > 0)
        move_bytes(src, dst, n);
    return n;
}

/* Send a body read whole: queue what fits of its rest for the backend. */
static bool
pump_buffered_body(struct request *r, struct upconn *u)
{
    size_t off = r->body_len - (size_t)r->body_left;
    size_t n;

    if (buf_room(&u->out) == 0)
        buf_compact(&u->out);
    n = (size_t)MIN(buf_room(&u->out), r->body_left);
    memcpy(u->out.data + u->out.end, r->body + off, n);
    u->out.end += n;
    r->body_left -= n;
    r->req_body_done = r->body_left == 0;
    return n > 0;
}

/* Forward request body bytes from the client to the backend. */
static bool
pump_request_body(struct conn *c, struct request *r, struct upconn *u)
{
    struct http_error err;
    bool progress = false;
    size_t n;
    int rc;

    if (u->connecting)
        return false;   /* keep the body replayable until connected */
    if (r->body_buffered)
        return pump_buffered_body(r, u);
    if (buf_len(&c->in) == r->req_pending && client_read(c) > 0) {
        progress = true;
        loop_timer_set(&c->w->loop, &c->timer, r->cfg->body_timeout_ms);
    }
    if (r->req_framing == HTTP_BODY_LENGTH) {
        n = copy_some(&c->in, &u->out, r->body_left);
        r->body_left -= n;
        r->req_body_done = r->body_left == 0;
        return progress || n > 0;
    }
    if (!r->req_chunks_done) {
        rc = dechunk(&r->req_chunks, &c->in, &r->req_pending, SIZE_MAX,
                     r->route->max_body_bytes, &err);
        if (rc == AW_DONE)
            r->req_chunks_done = true;
        else if (rc != AW_AGAIN) {
            c->close_after = true;
            refuse_http(c, &err);
            return false;
        }
    }
    if (emit_payload(&c->in, &r->req_pending, &u->out, true) > 0)
        progress = true;
    if (r->req_chunks_done && r->req_pending == 0 &&
        buf_append(&u->out, "0\r\n\r\n", 5) == AW_OK)
        r->req_body_done = true;
    return progress;
}

/* Parse the response head from the backend and queue ours. */
static bool
pump_response_head(struct conn *c, struct request *r, struct upconn *u)
{
    struct http_error err;
    struct http_header *hdrs;
    struct http_limits limits = r->cfg->limits;
    int rc;

    if (buf_len(&u->in) == 0)
        return false;
    limits.max_body_bytes = UINT64_MAX;  /* the body limit is for requests */
    hdrs = worker_scratch_headers(c->w, limits.max_headers);
    if (hdrs == NULL) {
        conn_upstream_failed(c, UPSTREAM_BAD);
        return false;
    }
    memset(&r->res, 0, sizeof(r->res));
    r->res.headers = hdrs;
    rc = http_parse_response(&r->res_parser, u->in.data + u->in.start,
                             buf_len(&u->in), &limits, r->h.method, &r->res,
                             &err);
    if (rc == AW_AGAIN && buf_room(&u->in) == 0 && u->in.start == 0) {
        err.reason = "http.head_too_large";
        rc = AW_TOOBIG;
    }
    if (rc == AW_AGAIN)
        return false;
    if (rc != AW_OK) {
        log_warn("upstream %s: malformed response head: %s",
                 u->be->text, err.reason);
        conn_upstream_failed(c, UPSTREAM_BAD);
        return false;
    }
    if (r->res.status < 200) {
        /* Interim answers are the gateway's business, not the client's. */
        u->in.start += r->res.head_len;
        http_parser_init(&r->res_parser);
        if (r->res.status == 101)
            conn_upstream_failed(c, UPSTREAM_BAD);
        return true;
    }
    rc = proxy_contract_response(c, r, u);
    if (rc == AW_OK || rc == AW_AGAIN)
        rc = proxy_sensitive_response(c, r, rc);
    if (rc == AW_AGAIN && proxy_hold_start(c, r, u) != AW_OK)
        rc = AW_NOMEM;
    if (rc == AW_NOMEM) {
        refuse(c, 500, "gateway.no_memory", "Out of request memory.");
        return false;
    }
    if (rc != AW_AGAIN && message_response_head(c, r) != AW_OK) {
        conn_upstream_failed(c, UPSTREAM_BAD);
        return false;
    }
    u->in.start += r->res.head_len;
    r->status = r->res.status;
    r->stage = STAGE_RESPOND;
    r->res_head_done = true;
    r->res_framing = r->res.framing;
    r->res_left = r->res.content_length;
    r->res_done = r->res_framing == HTTP_BODY_NONE;
    http_chunked_init(&r->res_chunks);
    upstream_mark(c->w, u->be, true, r->route->upstream);
    return true;
}

/* Copy response body bytes from the backend to the client. */
static bool
pump_response_body(struct conn *c, struct request *r, struct upconn *u)
{
    struct http_error err;
    size_t before = r->bytes_out, start = c->out.end;
    size_t pending = 0;
    int rc;

    if (r->res_framing == HTTP_BODY_LENGTH) {
        size_t n = copy_some(&u->in, &c->out, r->res_left);

        proxy_contract_response_data(r, c->out.data + c->out.end - n, n);
        r->res_left -= n;
        r->res_done = r->res_left == 0;
        r->bytes_out += n;
        return n > 0;
    }
    if (r->res_framing == HTTP_BODY_CHUNKED) {
        /*
         * Decoded payload must leave u->in before the next decode, so no
         * more input is decoded than the client buffer can take now.
         */
        size_t room = buf_room(&c->out) + c->out.start;

        if (room <= CHUNK_OVERHEAD + 5)
            return false;
        rc = dechunk(&r->res_chunks, &u->in, &pending,
                     room - CHUNK_OVERHEAD - 5, UINT64_MAX, &err);
        if (rc != AW_AGAIN && rc != AW_DONE) {
            conn_upstream_failed(c, UPSTREAM_BAD);
            return false;
        }
        proxy_contract_response_data(r, u->in.data + u->in.start, pending);
        emit_payload(&u->in, &pending, &c->out, r->res_chunked_out);
        r->res_done = rc == AW_DONE;
    } else {
        size_t from = u->in.start;

        pending = buf_len(&u->in);
        while (pending > 0 &&
               emit_payload(&u->in, &pending, &c->out, r->res_chunked_out))
            ;
        u->in.start = u->in.end - pending;
        proxy_contract_response_data(r, u->in.data + from,
                                     u->in.start - from);
        r->res_done = u->eof && buf_len(&u->in) == 0;
    }
    if (r->res_done && r->res_chunked_out &&
        buf_append(&c->out, "0\r\n\r\n", 5) != AW_OK)
        r->res_done = false;
    r->bytes_out = before + (c->out.end >= start ? c->out.end - start : 0);
    return c->out.end != start;
}

/*
 * Take the next piece of a held response body out of the upstream
 * buffer (decoded, when chunked) into the hold. Returns
 * AW_DONE when the body has been read whole, AW_AGAIN for more,
 * AW_TOOBIG once it passed the bound (the piece is held too), or
 * AW_INVALID for malformed chunks.
 */
static int
hold_some(struct request *r, struct upconn *u)
{
    struct http_error err;
    size_t n = buf_len(&u->in);
    int rc = AW_AGAIN, held;

    if (r->res_framing == HTTP_BODY_LENGTH) {
        n = (size_t)MIN(n, r->res_left);
        r->res_left -= n;
        rc = r->res_left == 0 ? AW_DONE : AW_AGAIN;
    } else if (r->res_framing == HTTP_BODY_CHUNKED) {
        n = 0;
        rc = dechunk(&r->res_chunks, &u->in, &n, SIZE_MAX, UINT64_MAX, &err);
        if (rc != AW_AGAIN && rc != AW_DONE)
            return AW_INVALID;
    } else if (u->eof) {
        rc = AW_DONE;
    }
    r->hold->complete = rc == AW_DONE;
    held = proxy_hold_put(r, u->in.data + u->in.start, n);
    u->in.start += n;
    return held == AW_OK ? rc : held;
}

/*
 * Queue what fits of a released body for the client, as chunks when
 * the client is sent chunks. Once it is all queued, the response is
 * done if the backend's body was read whole; else the rest passes as
 * usual. Returns true on progress.
 */
static bool
pump_spill(struct conn *c, struct request *r)
{
    struct hold *k = r->hold;
    size_t pending = buf_len(&k->spill), before = pending;

    while (pending > 0 &&
           emit_payload(&k->spill, &pending, &c->out, r->res_chunked_out))
        ;
    r->bytes_out += before - pending;
    if (pending > 0)
        return before != pending;
    k->spill.data = NULL;
    if (k->spill_ends) {
        r->res_done = !r->res_chunked_out ||
                      buf_append(&c->out, "0\r\n\r\n", 5) == AW_OK;
        k->complete = r->res_done;
    }
    return true;
}

/*
 * A response body held whole (hold.c): read it, then release it (as it
 * came, filtered, masked, or a 502 instead), or release what was held
 * as it is once it passes the bound.
 */
static bool
pump_response_held(struct conn *c, struct request *r, struct upconn *u)
{
    size_t before = buf_len(&u->in);
    int rc;

    if (!r->hold->active)
        return pump_spill(c, r);
    if (before == 0 && !u->eof)
        return false;
    rc = hold_some(r, u);
    if (rc == AW_INVALID) {
        conn_upstream_failed(c, UPSTREAM_BAD);
        return false;
    }
    if (rc == AW_AGAIN)
        return buf_len(&u->in) != before;
    rc = proxy_hold_release(c, r, rc == AW_DONE);
    if (rc == AW_TOOBIG)
        conn_upstream_failed(c, UPSTREAM_BAD);
    if (rc != AW_OK)
        return false;
    pump_spill(c, r);
    return true;
}

/* Reading the backend waits while the client buffer is nearly full. */
static bool
client_has_room(const struct conn *c)
{
    return buf_room(&c->out) + c->out.start > 2 * CHUNK_OVERHEAD + 5;
}

/* Phase FORWARD: one round of every transfer of the exchange. */
static bool
pump_forward(struct conn *c)
{
    struct request *r = &c->req;
    struct upconn *u = r->up;
    bool progress = false;
    int rc;

    if (!r->req_body_done) {
        progress |= pump_request_body(c, r, u);
        if (c->closed || r->up != u)
            return true;
        if (c->eof && !r->req_body_done && !r->body_buffered) {
            conn_close(c);
            return false;
        }
    }
    if (buf_len(&u->out) > 0 && u->writable && !u->connecting) {
        rc = upconn_write(u);
        if (rc == AW_OK)
            progress = true;
        else if (rc != AW_AGAIN) {
            /* A failed TLS handshake is a failed connect: retried on
             * another server, and counted against this one. */
            conn_upstream_failed(c, rc == AW_INVALID ? UPSTREAM_CONNECT
                                                     : UPSTREAM_RESET);
            return true;
        }
        upconn_arm(u, r);
    }
    if (u->readable && !u->eof && client_has_room(c)) {
        rc = upconn_read(u);
        if (rc == AW_OK) {
            progress = true;
            upconn_arm(u, r);
        } else if (rc != AW_AGAIN && rc != AW_DONE) {
            u->eof = true;
        }
    }
    if (!r->res_head_done)
        progress |= pump_response_head(c, r, u);
    if (c->closed || r->up != u)
        return true;
    if (r->res_head_done && !r->res_done)
        progress |= proxy_holding(r) ? pump_response_held(c, r, u)
                                     : pump_response_body(c, r, u);
    if (c->closed || r->up != u)
        return true;
    if (u->eof && !r->res_done && buf_len(&u->in) == 0 &&
        !(r->hold != NULL && r->hold->complete)) {
        conn_upstream_failed(c, r->res_head_done ? UPSTREAM_TRUNCATED
                                                  : UPSTREAM_RESET);
        return true;
    }
    if (r->res_done) {
        r->t_up_end = clock_mono_us();
        proxy_contract_response_end(c, r);
        finish_request(c);
        return true;
    }
    return progress;
}

/*
 * While the client is sent a response (and no request body is awaited),
 * its timer bounds the time between successful writes.
 */
static void
arm_send_timer(struct conn *c)
{
    bool sending = c->phase == PHASE_FLUSH ||
                   (c->phase == PHASE_FORWARD && c->req.req_body_done);

    if (!sending)
        return;
    if (buf_len(&c->out) == 0 && c->phase == PHASE_FORWARD)
        loop_timer_cancel(&c->w->loop, &c->timer);
    else
        loop_timer_set(&c->w->loop, &c->timer, c->w->cfg->send_timeout_ms);
}

/*
 * Write c->out over TLS, as write(2) would: bytes written, or -1 with
 * errno EAGAIN (wait for readiness) or EPIPE (the session failed).
 */
static ssize_t
write_tls(struct conn *c)
{
    size_t n = 0;
    int rc = tls_conn_write(c->tls, c->out.data + c->out.start,
                            buf_len(&c->out), &n);

    if (rc == AW_OK)
        return (ssize_t)n;
    errno = rc == AW_AGAIN ? EAGAIN : EPIPE;
    return -1;
}

/* Write queued bytes to the client. Returns true on progress. */
static bool
flush_out(struct conn *c)
{
    ssize_t n;

    if (buf_len(&c->out) == 0 || !c->writable)
        return false;
    if (c->tls != NULL)
        n = write_tls(c);
    else
        n = write(c->io.fd, c->out.data + c->out.start, buf_len(&c->out));
    if (n > 0) {
        if ((size_t)n < buf_len(&c->out))
            c->writable = false;    /* socket full: wait for the edge */
        c->out.start += (size_t)n;
        if (buf_len(&c->out) == 0)
            c->out.start = c->out.end = 0;
        arm_send_timer(c);
        return true;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->writable = false;
        arm_send_timer(c);
        return false;
    }
    conn_close(c);
    return false;
}

void
conn_pump(struct conn *c)
{
    for (;;) {
        bool progress = false;

        switch (c->phase) {
        case PHASE_IDLE:
        case PHASE_HEAD:
            progress = pump_head(c);
            break;
        case PHASE_BODY:
            progress = pump_body(c);
            break;
        case PHASE_FORWARD:
            progress = pump_forward(c);
            break;
        case PHASE_AUTH_WAIT:
        case PHASE_LIMIT_WAIT:
        case PHASE_FLUSH:
            break;
        }
        if (c->closed)
            return;
        progress |= flush_out(c);
        if (c->closed)
            return;
        if (c->phase == PHASE_FLUSH && buf_len(&c->out) == 0) {
            tls_conn_free(c->tls);  /* close_notify before the FIN */
            c->tls = NULL;
            shutdown(c->io.fd, SHUT_WR);
            conn_close(c);
            return;
        }
        if (!progress)
            break;
    }
    if (c->phase == PHASE_IDLE && buf_len(&c->in) == 0 &&
        buf_len(&c->out) == 0 && c->in.data != NULL)
        release_bufs(c);
}

static void
conn_on_event(struct loop_io *io, uint32_t events)
{
    struct conn *c = (struct conn *)io;

    if (c->closed)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hup = true;
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        c->writable = true;
    /* A TLS read may wait for the socket to drain, a write for bytes
     * to arrive (the handshake's own records). */
    if (c->tls != NULL) {
        if ((events & EPOLLOUT) && tls_conn_wants_write(c->tls))
            c->readable = true;
        if ((events & EPOLLIN) && tls_conn_wants_read(c->tls))
            c->writable = true;
    }
    conn_pump(c);
}

/*
 * The connection's timer: idle, head, body or send timeout depending on
 * the phase (see where it is armed).
 */
static void
conn_on_timer(struct loop_timer *t)
{
    struct conn *c = (struct conn *)((char *)t - offsetof(struct conn,
                                                           timer));

    if (c->closed)
        return;
    if (c->tls != NULL && !c->tls_ready) {
        tls_failed(c, tls_conn_timed_out(c->tls));
        return;
    }
    if (c->phase == PHASE_AUTH_WAIT) {
        worker_unpark(c->w, c);
        conn_resume_auth(c, true);
        return;
    }
    if (c->phase == PHASE_LIMIT_WAIT) {
        proxy_limit_timeout(c);
        return;
    }
    if (c->phase == PHASE_HEAD && buf_len(&c->out) == 0) {
        c->close_after = true;
        refuse(c, 408, "http.head_timeout",
               "The request head did not arrive in time.");
        conn_pump(c);
        return;
    }
    if (c->phase == PHASE_BODY ||
        (c->phase == PHASE_FORWARD && !c->req.req_body_done &&
         !c->req.body_buffered && !c->req.res_head_done)) {
        c->close_after = true;
        refuse(c, 408, "http.body_timeout",
               "The request body did not arrive in time.");
        conn_pump(c);
        return;
    }
    conn_close(c);
}

/*
 * The exchange with the backend failed. Retry once on another connection
 * when nothing of the request can have been acted on (connect failures)
 * or when the request is idempotent, has no body and the backend closed
 * before answering; else answer 502 or 504, or, once the response has
 * started, close the client connection.
 */
void
conn_upstream_failed(struct conn *c, enum upstream_failure why)
{
    struct request *r = &c->req;
    struct upconn *u = r->up;
    struct backend *be = u->be;
    bool idempotent = r->h.method == HTTP_GET || r->h.method == HTTP_HEAD ||
                      r->h.method == HTTP_PUT || r->h.method == HTTP_DELETE ||
                      r->h.method == HTTP_OPTIONS;
    bool reused = u->reused;
    bool bodiless = r->body_buffered
                        ? r->body_len == 0
                        : r->req_framing == HTTP_BODY_NONE ||
                              (r->req_framing == HTTP_BODY_LENGTH &&
                               r->h.content_length == 0);
    bool retry;

    if (why != UPSTREAM_RESET || !reused)
        upstream_mark(c->w, be, false, r->route->upstream);
    upstream_release(c, u, false);
    r->up = NULL;
    if (r->res_head_done) {
        r->reason = "upstream.truncated";
        message_access_log(c, r);
        conn_close(c);
        return;
    }
    retry = r->attempts < 2 &&
            (why == UPSTREAM_CONNECT ||
             (why == UPSTREAM_RESET && bodiless && (idempotent || reused)));
    if (why == UPSTREAM_RESET && !r->route->upstream->retry_idempotent)
        retry = false;
    if (retry && r->body_buffered) {
        /* A body read whole is sent again from its start. */
        r->body_left = r->body_len;
        r->req_body_done = r->body_len == 0;
    }
    if (retry && upstream_attach(c, r, reused ? NULL : be) == AW_OK)
        return;
    if (!r->req_body_done && !r->body_buffered)
        c->close_after = true;
    if (why == UPSTREAM_TIMEOUT)
        refuse(c, 504, "upstream.timeout",
               "The upstream server did not answer in time.");
    else if (why == UPSTREAM_BAD)
        refuse(c, 502, "upstream.bad_response",
               "The upstream server sent a malformed response.");
    else if (why == UPSTREAM_CONNECT)
        refuse(c, 502, "upstream.unavailable",
               "The upstream server could not be reached.");
    else
        refuse(c, 502, "upstream.reset",
               "The upstream server closed the connection early.");
}

/* Drain: close an idle connection now; others close after their answer. */
void
conn_drain(struct conn *c)
{
    c->close_after = true;
    if (c->phase == PHASE_IDLE && buf_len(&c->out) == 0)
        conn_close(c);
}
