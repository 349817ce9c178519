/*
 * telemetry: the access log (one JSON line per request) and the security
 * events (one JSON line per event, shaped after the Elastic Common
 * Schema).
 *
 * Workers never block on either stream: each writes complete lines into
 * its own ring, and one telemetry thread drains every ring into its
 * destination. A line that does not fit in a full ring is dropped and
 * counted.
 */
#ifndef APIWARD_TELEMETRY_H
#define APIWARD_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/*
 * Start the access log with one ring of ring_bytes (rounded up to a power
 * of two) per worker. dest is "stdout", "off" or a file path opened for
 * appending. Returns AW_OK, AW_IO when the file cannot be opened (errno
 * set), or AW_NOMEM.
 */
int accesslog_start(const char *dest, size_t ring_bytes, unsigned nworkers);

/* True when lines are being written somewhere (dest is not "off"). */
bool accesslog_enabled(void);

/*
 * Queue one line (which should end in '\n') from worker w. Lock-free,
 * safe to call from that worker's thread only. A line that does not fit
 * is dropped and counted.
 */
void accesslog_write(unsigned w, const char *line, size_t len);

/* Reopen the file (after rotation); takes effect within one drain. */
void accesslog_reopen(void);

/* Drain every ring, stop the thread and close the file. */
void accesslog_stop(void);

/* Lines dropped because a ring was full, since start. */
uint64_t accesslog_dropped(void);

/*
 * Write out what every stream (access log, events) holds now, without
 * stopping anything: for a process about to exit while workers may
 * still be writing, where freeing the rings would not be safe.
 */
void telemetry_flush(void);

/*
 * SECURITY EVENTS
 *
 * An event records a decision a security team wants to see on its own:
 * a privilege-escalation attempt, a possible object-level authorization
 * bypass, and the like. It names the principal by subject, issuer and
 * credential id (a short hash), never by token or key.
 */
struct security_event {
    const char *action;     /* stable code, e.g. "authz.object_mismatch" */
    const char *reason;     /* the reason code of the decision */
    const char *outcome;    /* "denied", "monitored", ... */
    int severity;           /* 1 (low) .. 10 (critical); clamped */
    const char *request_id; /* the request's id, as in the access log */
    const char *method;
    const char *path;       /* the normalised path */
    const char *route;      /* the route's name */
    const char *client_ip;  /* text */
    const char *subject;    /* the principal's subject */
    const char *issuer;     /* the issuer's name in the configuration */
    const char *auth_method;   /* "jwt", "api_key", "introspection" */
    const char *credential_id; /* short hash of the credential */
    const char *rule_id;    /* policy rule that decided, or NULL */
    const char *object_id;  /* the request value compared, or NULL */
    const char *category;   /* ECS event.category: "authentication",
                               "configuration", ...; NULL:
                               "intrusion_detection" */
    const char *kind;       /* ECS event.kind; NULL: "alert" */
    const char *detector;   /* inspection: the detector that found it */
    const char *location;   /* where in the request: "query:q", ... */
    const char *excerpt;    /* a short escaped window of the value, never
                               more (inspect_excerpt) */
    unsigned score;         /* the finding's score; 0: none */
    const char *findings;   /* sensitive data in a response: each
                               finding's kind, offset, length and masked
                               form, never a value */
};                          /* any pointer may be NULL: the field is left
                               out; strings are borrowed for the call */

/*
 * Start the event stream with one ring of ring_bytes (rounded up to a
 * power of two) per worker. dest is "stdout", "off" or a file path
 * opened for appending. Returns AW_OK, AW_IO when the file cannot be
 * opened (errno set), or AW_NOMEM.
 */
int events_start(const char *dest, size_t ring_bytes, unsigned nworkers);

/* True when events are being written somewhere (dest is not "off"). */
bool events_enabled(void);

/*
 * Queue one event as a JSON line. worker: the calling worker's index
 * (0 for the main thread, which then shares worker 0's ring under a
 * short spin lock). Never waits on I/O; drops and counts when the ring
 * is full or the line would pass EVENTS_LINE_MAX. Text is cut (path at
 * 512 bytes, object_id at 256, every other string at 128) and escaped.
 * Does nothing while the stream is off.
 */
void events_emit(unsigned worker, const struct security_event *e);

/* The longest event line; longer ones are dropped and counted. */
#define EVENTS_LINE_MAX 16384

struct sockaddr;

/* Where and how events also go to syslog (events.syslog). */
struct events_syslog {
    const struct sockaddr *peer;  /* the receiver; copied */
    unsigned peer_len;
    const char *peer_text;        /* "127.0.0.1:514", for diagnostics */
    bool tcp;                     /* TCP with octet counting; else UDP */
    const char *tls_ca;           /* with tcp: TLS (RFC 5425), the
                                     receiver verified against this CA
                                     file; NULL: plain TCP */
    const char *tls_name;         /* the DNS name (sent as SNI) or IP
                                     its certificate must hold */
    bool cef;                     /* CEF messages; else the JSON line */
    unsigned facility;            /* 0 (kern) .. 23 (local7) */
};

/*
 * Send every event, besides the file, to syslog as RFC 5424 messages
 * (APP-NAME apiward, MSGID the event's action, no structured data),
 * through rings of ring_bytes per worker drained by the telemetry
 * thread, which connects (and reconnects with backoff) on its own.
 * Call after events_start, before any emit. AW_OK, AW_INVALID (a CA
 * file that cannot be loaded, logged) or AW_NOMEM.
 */
int events_syslog_start(const struct events_syslog *o, size_t ring_bytes,
                        unsigned nworkers);

/* Events delivered to the syslog receiver since start. */
uint64_t events_syslog_sent(void);

/* Reopen the file (after rotation); takes effect within one drain. */
void events_reopen(void);

/* Drain every ring, stop and close the stream. No emit may run. */
void events_stop(void);

/* Events dropped (full ring, line too long) since start. */
uint64_t events_dropped(void);

/*
 * Append s to dst as the inside of a JSON string: quote, backslash and
 * control characters escaped, bytes outside ASCII as \u00XX, cut at max
 * input bytes. Returns AW_TOOBIG (dst unchanged past its old end) when
 * the buffer is too small.
 */
int json_escape_append(struct buf *dst, struct slice s, size_t max);

/* s as a quoted JSON string, escaped and cut as above, onto o. */
static inline void
bld_json_string(struct bld *o, struct slice s, size_t max)
{
    bld_lit(o, "\"");
    if (!o->overflow && json_escape_append(&o->b, s, max) != AW_OK)
        o->overflow = true;
    bld_lit(o, "\"");
}

/*
 * SUSPICIOUS TOKEN USE
 *
 * Detectors over the requests of every worker (detect.c). A credential
 * is given as a number made from its short hash (48 bits), an address
 * as a 32-bit hash. Each detector raises one alert per credential and
 * window, when the window's count reaches its threshold. Safe from any
 * worker at once; a few short locks, no allocation.
 */

/* Most distinct addresses a credential is followed on. */
#define DETECT_MAX_ADDRESSES 16

struct detect_opts {
    unsigned share_addresses; /* distinct client addresses of one
                                 credential within a window that raise
                                 an alert (at most DETECT_MAX_ADDRESSES);
                                 0: off */
    unsigned expired_replays; /* refusals of one expired token within a
                                 window that raise an alert; 0: off */
    uint64_t window_ms;       /* the window, from a credential's first
                                 sight */
    size_t entries;           /* credentials followed at once */
};

/* Start the detectors (o is copied). AW_OK or AW_NOMEM. */
int detect_start(const struct detect_opts *o);

/* Stop them; no worker may call in. Harmless when not started. */
void detect_stop(void);

/*
 * An authenticated request of credential cred from address addr at
 * monotonic ms now. True when it makes the alert of this window;
 * *count is then the distinct addresses seen.
 */
bool detect_token_address(uint64_t cred, uint32_t addr, uint64_t now,
                          unsigned *count);

/* A refusal of cred as expired; true when it makes the alert. */
bool detect_expired_replay(uint64_t cred, uint64_t now, unsigned *count);

/*
 * METRICS
 *
 * Counters for the Prometheus text exposition of the admin listener.
 * Each worker counts into a shard of its own with plain relaxed stores
 * (it is the shard's only writer); a scrape sums the shards. Nothing on
 * the request path takes a lock or allocates, except the first request
 * of a route or backend name never seen before, which enters the name
 * in a bounded table under a lock.
 */

/* Route names and backend addresses the tables hold; more share one
   "_other" series. */
#define METRICS_MAX_ROUTES_DEFAULT 256
#define METRICS_MAX_BACKENDS 256

/* What a request ended with, as handed to metrics_observe. */
struct metrics_request {
    const char *route;      /* the route's name; NULL: none matched */
    int status;             /* status sent; 0: none (client went away) */
    uint64_t latency_us;    /* from the first byte to the end */
    const char *stage;      /* stage in which it ended ("authenticate") */
    const char *reason;     /* reason code of a refusal; NULL otherwise */
};

/* A worker's view of one backend address, as sampled by the worker. */
struct metrics_backend {
    const char *address;    /* "127.0.0.1:9000"; borrowed */
    unsigned active;        /* connections carrying a request */
    unsigned idle;          /* idle connections in the pool */
    bool ejected;           /* taken out by passive health checks */
};

/* A worker's token cache and introspection client, sampled. */
struct metrics_caches {
    uint64_t token_hits, token_misses, token_inserts, token_evictions;
    uint64_t intro_requests, intro_failures, intro_hits, intro_coalesced,
        intro_busy;
};

/*
 * Make nworkers shards, each with room for max_routes route names (at
 * least 1). Returns AW_OK or AW_NOMEM. Before start and after stop,
 * every metrics_* call below is a no-op.
 */
int metrics_start(unsigned nworkers, unsigned max_routes);

/* Free the shards; no worker may observe any more. */
void metrics_stop(void);

/* Count one finished request on worker w's shard. */
void metrics_observe(unsigned w, const struct metrics_request *m);

/* Publish worker w's current view of a backend (a gauge, replaced). */
void metrics_backend(unsigned w, const struct metrics_backend *b);

/* Publish worker w's cache counters (totals since the worker began). */
void metrics_caches(unsigned w, const struct metrics_caches *c);

/*
 * Append the counters and gauges above, and the drop counts of the
 * access log and the event stream, to out in the Prometheus text
 * format 0.0.4. Returns AW_OK or AW_TOOBIG (out holds a cut text).
 */
int metrics_render(struct buf *out);

/*
 * Write the "# HELP" and "# TYPE" lines of a family; type is "counter",
 * "gauge" or "histogram". Returns AW_OK or AW_TOOBIG.
 */
int metrics_family(struct buf *out, const char *name, const char *type,
                   const char *help);

/*
 * Append s to out as a label value: backslash, double quote and
 * newline escaped as the text format wants. AW_TOOBIG when it does
 * not fit (out unchanged past its old end).
 */
int metrics_label_append(struct buf *out, const char *s);

/* Index of reason in the table of known reason codes, or the count of
   known codes when it is unknown (counted as "other"). For tests. */
unsigned metrics_reason_index(const char *reason);

#endif
