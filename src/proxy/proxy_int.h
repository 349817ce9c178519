/*
 * Internal structures of the proxy module, shared by its files only.
 *
 * Ownership: a worker owns its client connections (struct conn), its
 * upstream connections (struct upconn) and its per-backend state (struct
 * backend). A connection is owned by exactly one worker for its whole
 * life; nothing here is touched by another thread.
 */
#ifndef APIWARD_PROXY_INT_H
#define APIWARD_PROXY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "config/config.h"
#include "contract/contract.h"
#include "http/http.h"
#include "identity/identity.h"
#include "loop/loop.h"
#include "route/route.h"
#include "tls/tls.h"

#define PROXY_IO_BUF (16 * 1024)   /* least size of an I/O buffer */
#define PROXY_HEAD_EXTRA 4096      /* I/O buffer room past limits.max_head */
#define PROXY_SMALL_BLOCK 4096     /* first arena chunk of a request */
#define PROXY_POOL_KEEP 256        /* free blocks a worker keeps */
#define PROXY_REQUEST_ID_LEN 64
#define PROXY_TLS_WATCH_MS 5000    /* certificate files checked */
#define PROXY_TLS_AUDIT_MS (24 * 3600 * 1000) /* expiry re-audited */
#define PROXY_FITTED_DBS 8         /* databases a worker remembers its
                                      inspect scratch fits */

struct worker;
struct conn;
struct inspect_req;

/* What a worker knows of one backend address: pool and health. */
struct backend {
    struct backend *next;
    struct sockaddr_storage ss;
    socklen_t len;
    char text[64];
    struct upconn *idle;      /* idle keep-alive connections, newest first */
    unsigned nidle;
    unsigned active;          /* connections carrying a request */
    unsigned fails;           /* consecutive failures */
    uint64_t ejected_until;   /* monotonic ms; 0 when healthy */
    struct tls_session_slot tls_session; /* last TLS session, resumed
                                            by the next connection */
};

/* A connection to a backend, idle in a pool or serving one request. */
struct upconn {
    struct loop_io io;
    struct loop_timer timer;
    struct worker *w;
    struct backend *be;
    struct conn *client;      /* NULL while idle in the pool */
    struct upconn *next_idle;
    struct buf in;            /* response bytes not yet handled */
    struct buf out;           /* request bytes not yet sent */
    bool connecting;          /* non-blocking connect in progress */
    bool readable;
    bool writable;
    bool hup;                 /* the peer's FIN or an error was signalled */
    bool eof;                 /* the backend closed its side */
    bool closed;              /* waiting in the graveyard */
    bool reused;              /* served a request before this one */
    bool got_bytes;           /* some response byte arrived */
    struct tls_conn *tls;     /* NULL to a plain-text upstream */
    const struct tls_client *tls_owner; /* context tls was made with */
};

/* Phase of a client connection. */
enum conn_phase {
    PHASE_IDLE,      /* waiting for the first byte of a request */
    PHASE_HEAD,      /* reading a request head */
    PHASE_AUTH_WAIT, /* parked until the keys it needs are fetched */
    PHASE_LIMIT_WAIT,/* parked until the shared limits decide */
    PHASE_BODY,      /* reading a body whole before authorize */
    PHASE_FORWARD,   /* request being forwarded, response awaited */
    PHASE_FLUSH,     /* gateway-made answer being written, then close */
};

/* Stage of the pipeline in which a request ended, for the access log. */
enum stage {
    STAGE_PARSE,
    STAGE_ROUTE,
    STAGE_GUARD,
    STAGE_AUTH,
    STAGE_BODY,
    STAGE_AUTHZ,
    STAGE_LIMIT,
    STAGE_CONTRACT,  /* the route's OpenAPI contract */
    STAGE_INSPECT,   /* injection, SSRF and path tricks in values */
    STAGE_FORWARD,
    STAGE_RESPOND,
    STAGE_TLS,       /* the handshake failed; no request was read */
};

/*
 * What the contract stage knows of a request on a route with a
 * contract (in the request arena). The head is judged as it arrives and
 * the body as it streams in; the verdict is only applied at the
 * contract stage, after authentication, authorization and limits, so
 * that a caller learns nothing of the contract before it is let in.
 */
struct contract_req {
    const struct config_contract *ct;
    struct openapi_match match;    /* op NULL when none was found */
    bool failed;                   /* a verdict is kept below */
    int status;                    /* of the refusal */
    const char *reason;            /* reason code: contract.*, json.* */
    const char *detail;            /* a fixed sentence, or in the arena */
    struct slice errors;           /* ',"errors":[...]' for the problem
                                      body (arena); may be empty */
    bool monitored;                /* failed, let through (monitor) */

    /* The request body, when it is JSON and read whole. */
    struct openapi_body body;
    struct json_stream *stream;    /* NULL: the body is not checked */
    struct schema_validator *validator; /* NULL: no schema */

    /* The response, when responses is not off. */
    enum config_responses res_mode; /* responses, or log in monitor mode */
    struct json_stream *res_stream;
    struct schema_validator *res_validator;
    struct json_writer *writer;    /* filter mode: the body re-written */
    struct buf res_out;            /* the filtered body (arena) */
    bool res_hold;                 /* the body is held (struct hold)
                                      until read whole (block, filter) */
    size_t res_max;                /* the most the contract checks of a
                                      held body */
    bool res_failed;               /* invalid (reason in res_reason) */
    const char *res_reason;
};

/*
 * A response held whole before it is sent (hold.c): for the contract's
 * block and filter modes, and for sensitive-data scanning. The head is
 * copied out of the upstream buffer, the body read into body (decoded
 * from chunks) up to max bytes; then each holder decides in turn (the
 * contract first, on the body as the backend sent it, then the scan,
 * on what the contract lets through) and the result is queued for the
 * client as the spill, with its own Content-Length.
 */
struct hold {
    bool active;                   /* still reading the body */
    bool contract;                 /* the contract holds it */
    bool scan;                     /* it is scanned for sensitive data */
    bool scan_json;                /* ... and is JSON */
    size_t max;                    /* most bytes held; past it the body
                                      passes as it came */
    char *body;                    /* the body read so far (arena) */
    size_t len;
    size_t cap;                    /* max and one read more */
    struct http_header *headers;   /* copies of the head, kept while */
    char *head;                    /* the body is held */
    bool complete;                 /* the backend's body is read whole */
    struct buf spill;              /* a held body still to queue for
                                      the client; data NULL: none */
    bool spill_ends;               /* the response ends with the spill */
};

/* The request in progress on a connection. */
struct request {
    struct config *cfg;            /* snapshot reference, or NULL */
    struct http_request h;         /* slices into conn.in; void after
                                      the head is consumed */
    struct slice method;           /* arena copies, valid to the end */
    struct slice path;             /* normalised */
    struct slice host;
    const struct config_route *route;
    struct route_params params;
    uint32_t allowed;              /* methods of the path, for a 405 */
    char id[PROXY_REQUEST_ID_LEN + 1];

    struct credential cred;        /* copied out of the head */
    struct principal principal;    /* set by the authenticate stage */
    const struct json_value *body_json; /* the request body parsed, on
                                      routes with buffer_body; NULL
                                      otherwise */
    const char *bearer_error;      /* RFC 6750 error of a 401, or NULL */
    struct slice *authz_headers;   /* values of the header fields the
                                      route's policy reads, by slot
                                      (arena copies); NULL: none read */
    struct slice *authz_query;     /* the query parameters it reads, by
                                      slot, percent-decoded; NULL: none */
    const char *authz_rule;        /* rule that decided, for the log */
    const char *authz_reason;      /* reason of the decision, for the
                                      log; NULL before authorize */
    bool authz_monitored;          /* denied in monitor mode, let through */
    uint32_t retry_after_s;        /* Retry-After of a gateway-made 429
                                      or 503; 0: none for a 429, 5 s for
                                      a 503 */
    uint64_t rl_gauges[2];         /* in-flight gauges entered by the
                                      limit stage (route, upstream);
                                      0: none. proxy_limit_release
                                      leaves them */
    void *fleet_ticket;            /* the shared-limit decision awaited
                                      in PHASE_LIMIT_WAIT, or NULL */
    bool fleet_ban_deferred;       /* a shared ban of the local table was
                                      left to Redis's decision */
    struct slice problem_fields;   /* more "Name: value\r\n" lines for a
                                      gateway-made answer (in the arena),
                                      e.g. RateLimit fields; may be
                                      empty */
    struct slice problem_members;  /* more members for the body of a
                                      gateway-made problem, each after
                                      a ',' (in the arena; e.g. the
                                      "errors" of a contract failure);
                                      may be empty */

    /* The body read whole before authorize, on routes with buffer_body. */
    char *body;                    /* arena; NULL until reading starts */
    size_t body_len;               /* bytes read (decoded from chunks) */
    size_t body_cap;
    uint64_t body_max;             /* limits.max_buffered_body, at most
                                      the route's max_body */
    bool body_is_json;             /* Content-Type, judged from the head */
    bool body_whole;               /* the body is read whole before the
                                      authorize stage (buffer_body, or
                                      a JSON body a contract checks) */
    struct contract_req *contract; /* the route's contract at work, or
                                      NULL */
    struct inspect_req *inspect;   /* the route's inspection at work
                                      (inspect.c), or NULL */
    struct hold *hold;             /* the response held whole, or NULL */
    bool body_buffered;            /* read whole: forwarded from body
                                      with Content-Length */

    char *up_head;                 /* serialised upstream head (arena) */
    size_t up_head_len;
    size_t up_head_cap;
    enum http_framing req_framing; /* NONE, LENGTH or CHUNKED */
    uint64_t body_left;            /* LENGTH: bytes still to forward */
    struct http_chunked req_chunks;
    size_t req_pending;            /* decoded payload at front of in */
    bool req_chunks_done;          /* last chunk and trailers seen */
    bool req_body_done;

    struct upconn *up;
    unsigned attempts;
    struct http_response res;
    struct http_parser res_parser;
    bool res_head_done;
    enum http_framing res_framing; /* as received */
    bool res_chunked_out;          /* re-encoded as chunked to client */
    uint64_t res_left;             /* LENGTH: bytes still to copy */
    struct http_chunked res_chunks;
    bool res_done;

    int status;
    const char *reason;            /* NULL on success */
    enum stage stage;
    uint64_t bytes_out;
    uint64_t t_start;              /* monotonic microseconds */
    uint64_t t_up_start;
    uint64_t t_up_end;
};

/* A client connection. */
struct conn {
    struct loop_io io;
    struct loop_timer timer;
    struct worker *w;
    struct conn *prev;
    struct conn *next;
    struct conn *park_prev;        /* worker's parked list, while */
    struct conn *park_next;        /* phase is PHASE_AUTH_WAIT */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char peer_text[48];            /* address without port */
    struct buf in;                 /* allocated on first use */
    struct buf out;
    struct arena arena;            /* per request, reset between them */
    enum conn_phase phase;
    struct http_parser parser;
    unsigned nrequests;
    bool readable;
    bool writable;
    bool hup;                      /* FIN or error signalled by epoll */
    bool eof;
    bool closed;
    bool close_after;              /* close once out is flushed */
    bool tls_ready;                /* the TLS handshake has completed */
    struct tls_conn *tls;          /* NULL on a plain-text listener */
    struct request req;
};

/* A listening socket of one worker. */
struct listener {
    struct loop_io io;
    struct worker *w;
    size_t index;                  /* position in config.listeners */
};

struct worker {
    unsigned id;
    pthread_t thread;
    struct loop loop;
    struct config *cfg;            /* newest snapshot seen */
    struct listener *listeners;
    size_t nlisteners;
    struct conn *conns;            /* every open client connection */
    struct conn *parked;           /* requests waiting for keys */
    struct ratelimit_fleet *fleet; /* shared limits' client, made on
                                      first use in fleet mode; NULL */
    bool fleet_tried;              /* fleet was made or failed once */
    struct identity_cache *idcache;/* verified tokens of this worker */
    struct introspector *intro;    /* introspection requests and answers */
    struct inspect_scratch *inspect_scratch; /* fits the pattern
                                      databases of the snapshots this
                                      worker has requests on */
    struct {
        uint64_t generation;       /* of the snapshot holding db */
        const struct inspect_db *db;
    } inspect_fitted[PROXY_FITTED_DBS]; /* what inspect_scratch was last
                                      reserved for, newest first */
    struct inspect_sensitive_scratch *sensitive_scratch; /* Vectorscan
                                      scratch of the sensitive-data scan,
                                      grown to fit every database it
                                      meets; NULL until the first scan */
    unsigned nconns;
    struct backend *backends;
    unsigned rr;                   /* round-robin cursor */
    uint64_t rng;                  /* request-id generator state */
    bool draining;
    struct loop_timer tls_timer;   /* worker 0: certificate files and
                                      expiry, every PROXY_TLS_WATCH_MS */
    uint64_t tls_audited_ms;       /* last expiry audit, monotonic */
    uint64_t tls_signalled;        /* file signature last reloaded for */
    struct pool io_pool;           /* connection I/O buffers */
    struct pool small_pool;        /* first arena chunks */
    struct http_header *scratch;   /* header array for the head being
                                      parsed; heads are parsed whole, one
                                      at a time per worker */
    unsigned scratch_cap;
    struct conn *dead_conns;       /* freed after the event batch */
    struct upconn *dead_ups;
};

/* Process-wide state read by workers. */
extern atomic_bool proxy_draining;
extern atomic_uint_fast64_t proxy_generation;

/* Why an upstream exchange failed; decides retry and status. */
enum upstream_failure {
    UPSTREAM_CONNECT,  /* connect refused, unreachable or timed out */
    UPSTREAM_RESET,    /* closed or errored before a response */
    UPSTREAM_TIMEOUT,  /* no response bytes within the read timeout */
    UPSTREAM_BAD,      /* malformed response head */
    UPSTREAM_TRUNCATED /* closed in the middle of a response body */
};

/* worker.c */
struct backend *worker_backend(struct worker *w, const struct config_addr *a);
void worker_refresh_config(struct worker *w);
int worker_buf_get(struct worker *w, struct buf *b);
void worker_buf_put(struct worker *w, struct buf *b);
struct http_header *worker_scratch_headers(struct worker *w, unsigned n);
void worker_park(struct worker *w, struct conn *c);
void worker_unpark(struct worker *w, struct conn *c);

/* conn.c */
/* Take over accepted socket fd; tls is the listener's TLS server in
   the worker's snapshot, NULL for plain text (borrowed). */
void conn_accept(struct worker *w, int fd, const struct sockaddr *sa,
                 socklen_t len, struct tls_server *tls);
void conn_pump(struct conn *c);
void conn_close(struct conn *c);
void conn_free(struct conn *c);
void conn_drain(struct conn *c);
void conn_upstream_failed(struct conn *c, enum upstream_failure why);
void conn_resume_auth(struct conn *c, bool final);
void conn_resume_limit(struct conn *c, bool ok);
/* Answer the request with a problem document and record it. */
void conn_refuse(struct conn *c, int status, const char *reason,
                 const char *detail);

/*
 * authorize.c: the authorize stage. proxy_authorize_take runs while the
 * request head is still in the input buffer and copies into the arena
 * what the route's policy will read (the head is gone by the time a
 * request that waited for keys is authorized). proxy_authorize decides.
 * Both return AW_OK when the request goes on; otherwise they have
 * answered it already (conn_refuse).
 */
int proxy_authorize_take(struct conn *c, struct request *r);
int proxy_authorize(struct conn *c, struct request *r);

/*
 * limit.c: abuse defence. proxy_guard runs in the guard stage, before
 * authentication (bans of client addresses, limits on them);
 * proxy_limit after authorize (limits and quotas keyed on the caller,
 * the route, ...). Both return AW_OK when the request goes on, or have
 * answered it (conn_refuse). proxy_observe sees every request as it
 * ends, answered by the upstream or refused, before it is logged (what
 * bans count: authentication failures, bursts of 4xx, enumeration).
 */
int proxy_guard(struct conn *c, struct request *r);
int proxy_limit(struct conn *c, struct request *r);
void proxy_observe(struct conn *c, struct request *r);

/*
 * Fleet mode (redis section): proxy_limit may also return AW_AGAIN,
 * the decision sent to Redis; the caller parks the request in
 * PHASE_LIMIT_WAIT with its timer set to redis.command_timeout, and
 * proxy_limit calls conn_resume_limit once decided. When the timer
 * fires first, proxy_limit_timeout decides locally (the fallback share)
 * and resumes; proxy_limit_cancel forgets the decision of a connection
 * that closes. proxy_limit_worker_fini closes the worker's Redis client
 * (after its connections are closed).
 */
void proxy_limit_timeout(struct conn *c);
void proxy_limit_cancel(struct conn *c);
void proxy_limit_worker_fini(struct worker *w);

/*
 * Leave the in-flight gauges r entered; safe to call more than once.
 * Called by proxy_observe, and for every request as it is reset, so
 * that one whose client went away gives its place back too.
 */
void proxy_limit_release(struct request *r);

/* upstream.c */
int upstream_attach(struct conn *c, struct request *r,
                    struct backend *avoid);
void upstream_release(struct conn *c, struct upconn *u, bool reusable);
void upconn_close(struct upconn *u);
void upconn_free(struct upconn *u);
int upconn_read(struct upconn *u);
int upconn_write(struct upconn *u);
void upstream_mark(struct worker *w, struct backend *be, bool ok,
                   const struct config_upstream *us);
void upconn_arm(struct upconn *u, struct request *r);

/* True when a Content-Type value names JSON (conn.c). */
bool proxy_media_is_json(struct slice v);

/* message.c */
int message_upstream_head(struct conn *c, struct request *r);
int message_upstream_principal(struct conn *c, struct request *r);
int message_response_head(struct conn *c, struct request *r);
void message_problem(struct conn *c, struct request *r, int status,
                     const char *reason, const char *detail);
void message_access_log(struct conn *c, struct request *r);
void message_request_id(struct worker *w, struct request *r);

/* record.c: metrics and security events of a request as it ends. */
void proxy_record(struct conn *c, struct request *r);

/*
 * A security event about r that is not its refusal (those are emitted
 * as it ends): a violation let through in monitor mode, a deprecated
 * operation, an invalid response. Strings are borrowed for the call.
 */
void proxy_record_event(struct conn *c, struct request *r,
                        const char *action, const char *reason,
                        const char *outcome, int severity);

/* proxy_record_event with the rule (rule.id) and the findings of an
   inspection (apiward.findings); either may be NULL. */
void proxy_record_event_with(struct conn *c, struct request *r,
                             const char *action, const char *reason,
                             const char *outcome, int severity,
                             const char *rule, const char *findings);

/*
 * contract.c: the contract stage (see the comment there).
 *
 * proxy_contract_head judges the head of a request on a route with a
 * contract, while the head is in the input buffer, and keeps the
 * verdict in r->contract: AW_OK, or AW_NOMEM (the caller answers).
 * proxy_contract_wants_body: the body is JSON to be checked, so it is
 * read whole; proxy_contract_body_begin prepares the parser and the
 * validator as reading starts (AW_OK or AW_NOMEM), proxy_contract_feed
 * pushes each piece of the body as it arrives, and
 * proxy_contract_body_end completes the verdict. proxy_contract, the
 * stage, applies it: AW_OK when the request goes on, AW_DECLINED once
 * it has been answered (conn_refuse).
 */
int proxy_contract_head(struct conn *c, struct request *r);
bool proxy_contract_wants_body(const struct request *r);
int proxy_contract_body_begin(struct conn *c, struct request *r);
void proxy_contract_feed(struct request *r, const char *p, size_t n);
void proxy_contract_body_end(struct conn *c, struct request *r);
int proxy_contract(struct conn *c, struct request *r);

/*
 * The response side. proxy_contract_response runs once the response
 * head is parsed, while it is in the upstream buffer: AW_OK (the body
 * streams, each piece fed to proxy_contract_response_data, and
 * proxy_contract_response_end is called when it ended), AW_AGAIN (the
 * contract wants the body held: proxy_hold_want was called), or
 * AW_NOMEM. Once a held body is read whole, proxy_contract_decide
 * judges it: AW_OK with *body the body to send (as held, or filtered),
 * or AW_DECLINED once a 502 has answered. proxy_contract_unheld: a
 * held body passed its bound and goes on unchecked.
 */
int proxy_contract_response(struct conn *c, struct request *r,
                            struct upconn *u);
void proxy_contract_response_data(struct request *r, const char *p,
                                  size_t n);
void proxy_contract_response_end(struct conn *c, struct request *r);
int proxy_contract_decide(struct conn *c, struct request *r,
                          struct slice *body);
void proxy_contract_unheld(struct conn *c, struct request *r);

/*
 * hold.c: holding a response whole (struct hold).
 *
 * proxy_hold_want, while the response head is judged: a holder wants
 * the body held, up to max bytes; returns the hold (allocated on first
 * call) or NULL when the arena is full. proxy_hold_start, once every
 * holder has spoken, copies the head out of u's buffer and allocates
 * the body: AW_OK or AW_NOMEM. proxy_holding: a hold is reading or
 * still has a spill to queue. proxy_hold_put appends a piece of the
 * body (feeding the contract's parser): AW_OK, or AW_TOOBIG once past
 * max (the piece is held too). proxy_hold_release, when the body is
 * read whole (complete) or passed max, lets each holder decide, writes
 * the head and queues the body as the spill: AW_OK, AW_DECLINED (a 502
 * has answered), or AW_TOOBIG when the head does not fit.
 */
struct hold *proxy_hold_want(struct conn *c, struct request *r, size_t max);
int proxy_hold_start(struct conn *c, struct request *r, struct upconn *u);
bool proxy_holding(const struct request *r);
int proxy_hold_put(struct request *r, const char *p, size_t n);
int proxy_hold_release(struct conn *c, struct request *r, bool complete);

/*
 * sensitive.c: sensitive data in response bodies (inspect.responses).
 *
 * proxy_sensitive_response runs after proxy_contract_response, with
 * its result rc: a body the route scans (identity encoding, a JSON or
 * text type, within max_body) is held. Returns AW_AGAIN when a holder
 * wants the body held, rc's AW_OK otherwise, or AW_NOMEM.
 * proxy_sensitive_decide scans a held body read whole: AW_OK with *body
 * the body to send (masked in a copy, in mask mode), or AW_DECLINED
 * once a 502 has answered (block). proxy_sensitive_unscanned: a body
 * that could not be scanned, with why ("too_large", "compressed"), is
 * passed with an event.
 */
int proxy_sensitive_response(struct conn *c, struct request *r, int rc);
int proxy_sensitive_decide(struct conn *c, struct request *r,
                           struct slice *body);
void proxy_sensitive_unscanned(struct conn *c, struct request *r,
                               const char *why);

/*
 * inspect.c: the inspect stage (see the comment there).
 *
 * proxy_inspect_head inspects the values of the head of a request on a
 * route with inspection, while the head is in the input buffer, and
 * keeps the findings in r->inspect: AW_OK, or AW_NOMEM (the caller
 * answers). proxy_inspect_wants_body: the body is JSON, a form or XML
 * to inspect, so it is read whole; proxy_inspect_body_begin prepares the
 * JSON parser (AW_OK or AW_NOMEM), proxy_inspect_feed pushes each piece
 * of the body as it arrives, proxy_inspect_body_end completes the
 * findings. proxy_inspect, the stage, decides: AW_OK when the request
 * goes on, AW_DECLINED once it has been answered (conn_refuse).
 * When the contract's parser reads a JSON body (proxy_contract_body_begin
 * runs first), it hands each token to proxy_inspect_json_token with
 * what the validator said of it (schema: the body has a schema;
 * string_kind: SCHEMA_STRING_* bits of a string), and
 * proxy_inspect_body_begin makes no parser of its own.
 * proxy_inspect_logged: for the access log of a request let through
 * with findings, the reason of the strongest and its location (which
 * may be NULL); NULL when there were none.
 */
int proxy_inspect_head(struct conn *c, struct request *r);
bool proxy_inspect_wants_body(const struct request *r);
bool proxy_inspect_wants_json(const struct request *r);
int proxy_inspect_body_begin(struct conn *c, struct request *r);
void proxy_inspect_feed(struct request *r, const char *p, size_t n);
void proxy_inspect_body_end(struct conn *c, struct request *r);
int proxy_inspect(struct conn *c, struct request *r);
const char *proxy_inspect_logged(const struct request *r,
                                 const char **location);
void proxy_inspect_json_token(struct request *r, const struct json_token *t,
                              bool schema, unsigned string_kind);

#endif
