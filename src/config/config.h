/*
 * config: the YAML configuration, loaded with libfyaml, checked, and
 * compiled into an immutable, reference-counted snapshot.
 *
 * A snapshot is never modified after config_load returns. Workers take a
 * reference per request (config_ref), so a reload can swap the current
 * snapshot while requests finish on the one they started with; the last
 * config_unref frees it.
 */
#ifndef APIWARD_CONFIG_H
#define APIWARD_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/base.h"
#include "http/http.h"
#include "inspect/inspect.h"
#include "json/json.h"
#include "ratelimit/ratelimit.h"
#include "route/route.h"

/* A socket address with its printable form ("127.0.0.1:8080"). */
struct config_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    char text[64];
};

/* An address range, for the trusted-proxy list. */
struct config_cidr {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network byte order, masked */
    unsigned bits;       /* prefix length */
};

enum config_balance {
    BALANCE_ROUND_ROBIN,
    BALANCE_LEAST_CONN,
};

/* Defined by the tls module; held by reference. */
struct tls_server;

/* server.listen[].tls.client_certificate */
enum config_client_cert {
    CLIENT_CERT_OFF,      /* none asked for (default) */
    CLIENT_CERT_OPTIONAL, /* asked for; one that is sent must verify */
    CLIENT_CERT_REQUIRED, /* the handshake fails without a valid one */
};

/* One certificate chain and its private key (PEM files). */
struct config_tls_cert {
    char *cert;                      /* absolute path, leaf first */
    char *key;                       /* absolute path */
};

/*
 * server.listen[].tls: TLS on one listener. Strings live in the
 * snapshot's arena; server is the compiled form, owned.
 */
struct config_tls {
    struct config_tls_cert *certs;   /* 1 to TLS_MAX_CERTS; the first is
                                        served when no name matches */
    size_t ncerts;
    unsigned min_version;            /* 0x0303 (TLS 1.2, default) or
                                        0x0304 (TLS 1.3) */
    char *ciphers;                   /* TLS 1.2 cipher list (OpenSSL
                                        syntax), ECDHE with AEAD only by
                                        default */
    char *ciphersuites;              /* TLS 1.3 suites; OpenSSL's
                                        default when NULL */
    char *groups;                    /* key exchange groups, default
                                        "X25519:P-256:P-384" */
    bool strict_sni;                 /* refuse a server name no
                                        certificate covers; default
                                        false (the first is served) */
    enum config_client_cert client_cert;
    char *client_ca;                 /* PEM bundle trusted for client
                                        certificates; required unless
                                        client_cert is off */
    char *crl;                       /* PEM CRLs of those CAs, or NULL */
    unsigned verify_depth;           /* longest client chain, default 4 */
    uint64_t handshake_timeout_ms;   /* default 10 s */
    bool session_tickets;            /* resumption, default true */
    uint64_t ticket_rotation_ms;     /* ticket key life, default 1 h */
    uint64_t hsts_max_age_ms;        /* Strict-Transport-Security
                                        max-age, default 365 days; 0:
                                        no field */
    bool hsts_subdomains;            /* includeSubDomains, default false */
    struct tls_server *server;       /* compiled at load; owned */
};

/* Defined by the tls module; held by reference. */
struct tls_client;

/*
 * upstreams.NAME.tls: TLS to the servers of an upstream. Strings live
 * in the snapshot's arena; client is the compiled form, owned.
 */
struct config_upstream_tls {
    char *ca;                        /* PEM bundle that verifies the
                                        servers; required */
    char *server_name;               /* SNI, and the DNS name the server
                                        certificate must carry; required */
    char *cert;                      /* client certificate chain, or NULL */
    char *key;                       /* its key; with cert only */
    struct tls_client *client;       /* compiled at load; owned */
};

/* A named group of backend servers. */
struct config_upstream {
    char *name;
    unsigned index;                  /* position in config.upstreams */
    struct config_addr *servers;
    size_t nservers;
    enum config_balance balance;     /* default round_robin */
    uint64_t connect_timeout_ms;     /* default 2s */
    uint64_t read_timeout_ms;        /* wait for response bytes, 30s */
    uint64_t write_timeout_ms;       /* wait to send request bytes, 30s */
    unsigned keepalive;              /* idle connections kept per worker
                                        and server, default 64; 0 = none */
    uint64_t keepalive_timeout_ms;   /* idle connection lifetime, 60s */
    unsigned max_fails;              /* consecutive failures that eject a
                                        server, default 3; 0 = never */
    uint64_t fail_timeout_ms;        /* how long an ejected server rests,
                                        default 10s */
    bool retry_idempotent;           /* retry once on a fresh connection,
                                        default true */
    unsigned max_in_flight;          /* requests forwarded to it at once,
                                        over all workers; 0: no bound */
    struct config_upstream_tls *tls; /* NULL: plain text */
};

/* Where an issuer's keys come from. */
enum config_keys_kind {
    KEYS_FILE,      /* a JWK Set file, read when the file is loaded */
    KEYS_URL,       /* a JWK Set fetched over HTTP(S) and refreshed */
    KEYS_DISCOVERY, /* an OpenID discovery document naming the JWK Set */
};

/* Defined by the identity module; the snapshot holds references. */
struct keysource;
struct apikey_store;

/* Defined by the policy module (policy/geo.h); held by reference. */
struct geo_db;

/*
 * A token issuer (identity.issuers.NAME). Every string lives in the
 * snapshot's arena; keys is the one member with an owner of its own.
 */
struct config_issuer {
    char *name;                  /* letters, digits, '_', '-', '.' */
    unsigned index;              /* position in config.issuers */
    char *issuer;                /* the exact "iss" value */
    char **audiences;            /* 1 or more; "aud" must hold one */
    size_t naudiences;
    uint32_t algorithms;         /* bit (1u << enum jose_alg) per
                                    allowed algorithm, never 0 */
    uint64_t leeway_ms;          /* clock skew for exp, nbf, iat */
    uint64_t max_lifetime_ms;    /* bound on exp - iat; 0 = none */
    char **required;             /* claims that must be present */
    size_t nrequired;
    char *typ;                   /* header "typ" to match; NULL: any */
    char *roles_claim;           /* dotted path, default "roles" */
    enum config_keys_kind keys_kind;
    char *keys_location;         /* file path or URL */
    uint64_t refresh_min_ms;     /* remote keys: floor on max-age */
    uint64_t refresh_max_ms;     /* ceiling, and the default period */
    uint64_t unknown_kid_ms;     /* at most one refetch per interval */
    uint64_t fetch_timeout_ms;   /* bound on one fetch */
    struct keysource *keys;      /* from keystore_source(); the snapshot
                                    holds one reference */
};

/* Bits of config_route_auth.methods. */
enum {
    AUTH_METHOD_JWT = 1u << 0,
    AUTH_METHOD_API_KEY = 1u << 1,
    AUTH_METHOD_INTROSPECTION = 1u << 2,
    AUTH_METHOD_MTLS = 1u << 3,      /* a verified client certificate */
};

/* How the gateway proves itself to an introspection endpoint. */
enum config_client_auth {
    CLIENT_AUTH_BASIC, /* HTTP Basic over the form-encoded id and secret
                          (RFC 6749 section 2.3.1) */
    CLIENT_AUTH_POST,  /* client_id and client_secret in the form body */
};

/*
 * identity.introspection: an OAuth 2.0 token introspection endpoint
 * (RFC 7662) for opaque bearer tokens. Strings live in the snapshot's
 * arena; the secret is read from client_secret_file at load and is
 * never logged.
 */
struct config_introspection {
    char *endpoint;               /* http(s) URL; http for loopback only */
    enum config_client_auth client_auth; /* default basic */
    char *client_id;
    char *client_secret_file;     /* absolute path, for messages */
    char *client_secret;          /* the file's bytes, one trailing
                                     newline removed; secret */
    size_t client_secret_len;
    uint64_t timeout_ms;          /* one request, default 2s */
    uint64_t cache_ttl_ms;        /* cap on a positive answer's life in
                                     the cache, default 5m; 0: not kept */
    uint64_t negative_ttl_ms;     /* life of a negative answer, 10s;
                                     0: not kept */
    unsigned cache_entries;       /* answers per worker, default 4096;
                                     read at start only */
    size_t max_response_bytes;    /* largest answer body, default 16k */
    unsigned max_in_flight;       /* requests per worker, default 64 */
    uint64_t leeway_ms;           /* clock skew for exp and nbf, 30s */
    char **audiences;             /* "aud" must hold one; none: any */
    size_t naudiences;
    char *issuer;                 /* "iss" must equal it; NULL: any */
    char *roles_claim;            /* dotted path, default "roles" */
};

/* One routes[].auth.claims entry: the claim at path must match value. */
struct config_claim_req {
    char *path;  /* a claim name, or a dotted path into objects */
    char *value; /* compared as text; see docs/configuration.md */
};

/*
 * routes[].auth: how callers of a route authenticate. Header names that
 * are NULL are not sent upstream.
 */
struct config_route_auth {
    uint32_t methods;                /* AUTH_METHOD_* bits, never 0 */
    struct config_issuer **issuers;  /* issuers accepted; all by default;
                                        empty without AUTH_METHOD_JWT */
    size_t nissuers;
    struct config_claim_req *claims; /* required claim values (tokens) */
    size_t nclaims;
    bool api_key_in_query;           /* key in a query parameter, else
                                        in a header field */
    char *api_key_name;              /* that header or parameter name */
    bool keep_authorization;         /* forward Authorization upstream */
    bool require_cert_binding;       /* auth.require_cert_binding: a
                                        token must carry cnf.x5t#S256
                                        (RFC 8705); default false */
    /* Upstream header names for the principal; NULL: not sent. */
    char *fwd_subject;               /* "sub", or the key's consumer */
    char *fwd_issuer;                /* the issuer's name in this file */
    char *fwd_method;                /* "jwt", "api_key",
                                        "introspection" or "mtls" */
    char *fwd_scopes;                /* scopes, space separated */
    char *fwd_roles;                 /* roles, comma separated */
    char *fwd_consumer;              /* the API key's consumer */
    char *fwd_claims;                /* the verified payload, base64url */
};

/* Defined by the policy module (policy/policy.h). */
struct policy_rule;
struct policy_object;
struct policy_program;
struct policy_set;

/*
 * A named policy (policies.NAME), parsed once and compiled into the
 * program of every route that names it. Arrays live in the snapshot's
 * arena.
 */
struct config_policy {
    char *name;
    bool public_route;                    /* public: true */
    bool authenticated;                   /* authenticated: true */
    bool monitor;                         /* monitor: true */
    bool reads_body;                      /* an object rule reads body.* */
    const struct policy_rule *rules;      /* in file order */
    unsigned nrules;
    const struct policy_object *objects;  /* path parameters unresolved */
    unsigned nobjects;
};

/* What a rate limit's key is made of (rate_limits.NAME.key). */
enum config_rl_key {
    RL_KEY_IP,        /* the client address, cut to a prefix */
    RL_KEY_SUBJECT,   /* the principal's issuer and subject */
    RL_KEY_CONSUMER,  /* the principal's consumer */
    RL_KEY_API_KEY,   /* the principal's key id */
    RL_KEY_ROUTE,     /* the route's name */
    RL_KEY_HEADER,    /* a request header field's value */
    RL_KEY_CLAIM,     /* a claim of the verified token, as text */
};

#define CONFIG_RL_MAX_PARTS 4

/* One part of a key; arg names the header field or the claim path. */
struct config_rl_part {
    enum config_rl_key kind;
    char *arg;                  /* NULL but for HEADER and CLAIM */
};

/*
 * A named rate limit or quota (rate_limits.NAME). A part the request
 * lacks (no principal, no such header) is hashed as "absent": such
 * requests share one state rather than escape the limit.
 */
struct config_rate_limit {
    char *name;
    unsigned index;                     /* position in config.rate_limits */
    struct config_rl_part parts[CONFIG_RL_MAX_PARTS];
    unsigned nparts;                    /* 1 or more */
    unsigned ipv4_prefix;               /* bits of an IPv4 address kept,
                                           default 32 */
    unsigned ipv6_prefix;               /* bits of an IPv6 address, 128 */
    struct ratelimit_rule rule;         /* rate and burst, or quota */
    bool pre_auth;                      /* only ip, route and header parts:
                                           checked in the guard stage,
                                           before authentication */
    struct ratelimit_rule fallback;     /* rule divided by redis.fleet_size:
                                           what one gateway admits while
                                           Redis cannot be reached */
};

/*
 * redis: fleet-wide limits and bans. A worker reads the connection's
 * settings once, when it first needs Redis; fleet_size (through the
 * fallback rules) and command_timeout follow each snapshot.
 */
struct config_redis {
    char *address;                /* "host:port" (an IP literal) or an
                                     absolute unix socket path; NULL:
                                     fleet mode off */
    char *password_file;          /* AUTH password, first line; NULL:
                                     none */
    char *key_prefix;             /* before every key, "apiward:" */
    uint64_t connect_timeout_ms;  /* one connection attempt, 1 s */
    uint64_t command_timeout_ms;  /* one decision, 100 ms; past it the
                                     local fallback decides */
    uint64_t backoff_max_ms;      /* longest wait between reconnection
                                     attempts, 5 s (from 100 ms, doubled
                                     each failure) */
    unsigned fleet_size;          /* gateways sharing the limits, 1 */
    unsigned max_pending;         /* decisions awaited per worker, 256;
                                     past it the fallback decides */
};

/* A detector: more than threshold events within window is an offence. */
struct config_abuse_rule {
    unsigned threshold;                 /* 0: the detector is off */
    uint64_t window_ms;
};

/* abuse: automatic bans. */
struct config_abuse {
    struct config_abuse_rule auth_failures; /* 401s of one address */
    struct config_abuse_rule client_errors; /* 4xx of one address or
                                               principal */
    struct config_abuse_rule enumeration;   /* distinct path parameter
                                               values on one templated
                                               route by one caller */
    uint64_t ban_ms;                    /* first ban, default 1 min */
    uint64_t ban_max_ms;                /* cap, default 1 h */
    unsigned ban_factor;                /* growth per repeat, default 4 */
    uint64_t memory_ms;                 /* how long offences are
                                           remembered, default 24 h */
};

/* Defined by the contract module (contract/contract.h); owned. */
struct openapi;

/* contracts[].responses: what is done with the responses of a route. */
enum config_responses {
    RESPONSES_OFF,    /* not looked at (default) */
    RESPONSES_LOG,    /* validated as they stream through; a violation
                         is an event, the response passes */
    RESPONSES_BLOCK,  /* read whole (max_response_buffer); an invalid
                         one is replaced by a 502 problem */
    RESPONSES_FILTER, /* read whole; members the schema does not list,
                         and writeOnly ones, are dropped */
};

/*
 * One contracts[] entry: an OpenAPI document that the routes naming it
 * enforce as a positive security model. Strings live in the snapshot's
 * arena; api is the compiled document, owned by the snapshot.
 */
struct config_contract {
    char *name;                   /* letters, digits, '_', '-', '.' */
    char *openapi;                /* absolute path of the document */
    char *base_path;              /* prefix of every path of the
                                     document; NULL: the path of its
                                     servers[0].url */
    bool strict;                  /* strict: true (default): an object
                                     schema of a request body without
                                     additionalProperties refuses members
                                     it does not list */
    bool refuse_unknown_query;    /* unknown_query: refuse (default) or
                                     allow */
    bool block_deprecated;        /* deprecated: block, or log (default) */
    enum config_responses responses;
    size_t max_response_buffer;   /* bytes of a response read whole in
                                     block and filter modes, 1m */
    bool monitor;                 /* mode: monitor: violations are
                                     logged and let through; block is
                                     the default */
    unsigned max_errors;          /* failures named in one problem, 10 */
    unsigned max_evaluations;     /* schema evaluations active at once
                                     in one body's validation, 10000 */
    struct json_limits json;      /* json.*: bounds of a request body */
    struct openapi *api;          /* compiled at load; owned */
};

/*
 * inspect.responses: sensitive data in response bodies (the kinds of
 * inspect.h's "Sensitive data"). A route's block starts from the
 * top-level one and overrides it key by key.
 */
enum config_sensitive_mode {
    SENSITIVE_OFF,                /* not scanned (the default) */
    SENSITIVE_LOG,                /* an event per response with findings */
    SENSITIVE_MASK,               /* the body is forwarded masked */
    SENSITIVE_BLOCK,              /* 502 inspect.sensitive_data */
};

struct config_sensitive {
    enum config_sensitive_mode mode; /* responses.sensitive */
    unsigned kinds;               /* responses.kinds: INSPECT_SENS_*
                                     bits, all by default */
    uint64_t max_body;            /* responses.max_body: larger bodies
                                     pass unscanned with an event; 1m */
    const struct inspect_sensitive_db *db; /* patterns of the kinds,
                                     shared by the settings with the
                                     same kinds; owned by the snapshot
                                     (config.sensitive_dbs) */
};

/* Where an inspect.allow entry applies: the kinds of request values. */
enum config_inspect_where {
    INSPECT_AT_PATH,    /* "path" or "path:N", N from 1 */
    INSPECT_AT_QUERY,   /* "query:NAME" */
    INSPECT_AT_HEADER,  /* "header:NAME", any case */
    INSPECT_AT_COOKIE,  /* "cookie:NAME" */
    INSPECT_AT_FORM,    /* "form:NAME" */
    INSPECT_AT_JSON,    /* "json:/pointer": the value there and below */
    INSPECT_AT_XML,     /* "xml": an XML body, whole */
};

/* One inspect.allow entry: findings at a location that are ignored. */
struct config_inspect_allow {
    enum config_inspect_where at;
    char *name;                   /* NULL: every value of that kind */
    size_t name_len;
    unsigned detectors;           /* INSPECT_* bits; all when omitted */
};

/*
 * inspect (top level) and routes[].inspect: injection, SSRF and path
 * tricks looked for in request values. A route's block starts from the
 * top-level one and overrides it key by key. Strings and arrays live in
 * the snapshot's arena; db is shared by the settings with the same
 * detectors and owned by the snapshot (config.inspect_dbs).
 */
struct config_inspect {
    bool off;                     /* mode: off (or "inspect: off") */
    bool monitor;                 /* mode: log; block is the default */
    unsigned detectors;           /* INSPECT_* bits, all by default */
    unsigned threshold;           /* score sum that refuses, 50 */
    char **headers;               /* header fields inspected, lower case;
                                     user-agent and referer by default */
    size_t nheaders;
    bool cookies;                 /* cookies: true (default) */
    unsigned decode_rounds;       /* rounds past the first decoding, 3 */
    unsigned max_values;          /* values per request, 1000 */
    char **ssrf_params;           /* ssrf.parameters: query and form
                                     names whose values are URLs */
    size_t nssrf_params;
    char **ssrf_pointers;         /* ssrf.pointers: JSON pointers of
                                     URL values */
    size_t nssrf_pointers;
    struct inspect_ssrf_opts ssrf;/* schemes (http, https by default)
                                     and internal names, the defaults
                                     followed by ssrf.internal_names */
    struct config_inspect_allow *allow; /* findings ignored */
    size_t nallow;
    struct config_sensitive responses; /* inspect.responses */
    struct inspect_db *db;        /* patterns of detectors; shared */
};

/*
 * The detectors (INSPECT_* bits) that in's allow entries turn off for a
 * value of kind at named name (a parameter, header, cookie or field
 * name, or a JSON pointer; borrowed) or, for a path segment, at
 * position pos from 1 (0: the whole path, which only "path" covers).
 * Header names match without case; "json:/a" covers /a and what is
 * below it (/a/b, /a/0), not /ab.
 */
unsigned config_inspect_allowed(const struct config_inspect *in,
                                enum config_inspect_where at,
                                struct slice name, unsigned pos);

/* One compiled pattern database of a snapshot, by detector set. */
struct config_inspect_db {
    unsigned mask;
    struct inspect_db *db;        /* owned */
};

/* A route; route_def.data points back to this. */
struct config_route {
    char *name;
    char *host;                       /* NULL: any host */
    uint32_t methods;                 /* 0: any method */
    char *path;
    bool prefix;
    struct config_upstream *upstream; /* never NULL */
    uint64_t max_body_bytes;          /* defaults to limits.max_body */
    uint64_t read_timeout_ms;         /* defaults to the upstream's */
    unsigned index;                   /* position in config.routes */
    struct config_route_auth *auth;   /* NULL: no authentication */
    const struct policy_program *authz; /* the compiled routes[].authz,
                                         never NULL in a loaded snapshot */
    struct config_rate_limit **limits;/* routes[].limits, all enforced */
    size_t nlimits;
    unsigned max_in_flight;           /* requests of this route in flight
                                         at once over all workers; 0: no
                                         bound */
    bool buffer_body;                 /* a later stage reads the request
                                         body (a policy rule on a body
                                         field): it is read whole, within
                                         limits.max_buffered_body, and
                                         parsed as JSON before authorize */
    const struct config_contract *contract; /* routes[].contract: the
                                         document the route enforces;
                                         NULL: none */
    const struct config_inspect *inspect; /* routes[].inspect, or the
                                         top-level block; NULL: the
                                         route is not inspected */
    const struct config_sensitive *sensitive; /* inspect.responses of
                                         the route, or the top-level
                                         one; NULL: responses are not
                                         scanned */
};

/* A response header added to every answer. */
struct config_header {
    char *name;
    char *value;
};

struct config {
    atomic_uint refs;
    uint64_t generation;       /* increases with every successful load */
    char *path;                /* file it came from, NULL for built-in */
    char hash[17];             /* hex FNV-1a of the file, for /config */

    unsigned workers;          /* server.workers, 0 = one per core */
    struct config_addr *listeners;
    size_t nlisteners;
    struct config_tls **listener_tls; /* nlisteners entries, NULL for a
                                        plain-text listener; the array
                                        is NULL when none has TLS */
    unsigned max_connections;  /* per worker, default 10000 */
    uint64_t drain_timeout_ms; /* SIGTERM deadline, default 10s */

    struct http_limits limits; /* limits.*: head 16k, 100 headers,
                                  target 8k, body 1m */
    uint64_t max_buffered_body;    /* limits.max_buffered_body: most
                                      bytes of a body read whole before
                                      forwarding (routes with
                                      buffer_body), 1m */
    uint64_t header_timeout_ms;    /* whole head must arrive, 10s */
    uint64_t body_timeout_ms;      /* between body reads, 30s */
    uint64_t idle_timeout_ms;      /* idle keep-alive client, 60s */
    uint64_t send_timeout_ms;      /* between writes to client, 30s */
    unsigned keepalive_requests;   /* per client connection, 10000 */

    struct http_norm_opts norm;    /* normalization.* */

    struct config_cidr *trusted_proxies;
    size_t ntrusted_proxies;

    struct config_header *security_headers; /* default: nosniff, DENY,
                                               no-referrer */
    size_t nsecurity_headers;

    char *access_log;              /* "stdout", "off" or a file path */
    size_t access_log_buffer;      /* bytes per worker ring, 256k */

    struct config_upstream *upstreams;
    size_t nupstreams;
    struct config_route *routes;
    size_t nroutes;
    struct route_table *route_table; /* compiled routes; each
                                        route_def.data is the
                                        struct config_route */

    enum log_level log_level;      /* log.level, default info */

    size_t max_token_bytes;        /* identity.max_token, default 8k */
    unsigned token_cache_entries;  /* identity.token_cache, verified
                                      tokens per worker, default 10000 */
    uint64_t keys_startup_wait_ms; /* identity.startup_wait: listeners
                                      open after the first fetch of every
                                      remote key set, or this long;
                                      default 10 s */
    uint64_t keys_wait_ms;         /* identity.key_wait: longest wait of
                                      a request for keys being fetched;
                                      default 5 s */
    struct config_issuer *issuers; /* identity.issuers, file order */
    size_t nissuers;
    struct apikey_store *api_keys; /* identity.api_keys; NULL when the
                                      section is absent. Owned. */
    struct config_introspection *introspection; /* identity.introspection;
                                      NULL when the section is absent */

    struct geo_db *geo_country;    /* geo.country_db, a Country or City
                                      database; NULL when unset. The
                                      snapshot holds one reference */
    struct geo_db *geo_asn;        /* geo.asn_db, an ASN database; NULL
                                      when unset. One reference */

    char *events_file;             /* events.file: "stdout", "off" or a
                                      file path; default "off" */
    size_t events_buffer;          /* events.buffer, bytes per worker
                                      ring, default 64k */
    struct config_addr *events_syslog; /* events.syslog.address: a
                                      syslog receiver; NULL: none. Read
                                      at start only, as are the three
                                      below */
    bool events_syslog_tcp;        /* events.syslog.transport: tcp (octet
                                      counting), tls, or udp (default) */
    bool events_syslog_tls;        /* transport tls: TCP inside TLS */
    char *events_syslog_ca;        /* events.syslog.ca: CA file that
                                      vouches for a tls receiver */
    char *events_syslog_name;      /* events.syslog.server_name: what
                                      its certificate must name; NULL:
                                      the address's IP */
    bool events_syslog_cef;        /* events.syslog.format: cef or json,
                                      the default */
    unsigned events_syslog_facility; /* events.syslog.facility, 0 (kern)
                                      .. 23 (local7); default local0 */
    unsigned detect_addresses;     /* events.token_addresses: distinct
                                      client addresses of one token
                                      within token_window that raise a
                                      token.many_addresses event; 5;
                                      0: off. Read at start, as are the
                                      three below */
    unsigned detect_expired;       /* events.expired_replays: refusals
                                      of one expired token within the
                                      window that raise an event; 10 */
    uint64_t detect_window_ms;     /* events.token_window, 10 min */
    size_t detect_entries;         /* events.token_entries: tokens
                                      followed at once, 16384 */

    struct config_addr *admin_listen; /* admin.listen; NULL: no admin
                                      section, no admin listener. Read
                                      at start only */
    char *admin_token_file;        /* admin.token_file: the bearer token
                                      of the admin API; required with
                                      the section */
    uint64_t admin_timeout_ms;     /* admin.timeout: one admin exchange,
                                      default 5 s */
    unsigned metrics_max_routes;   /* admin.metrics_routes: route names
                                      the metrics tell apart, 256; read
                                      at start */

    struct config_policy *policies;/* policies.NAME, file order */
    size_t npolicies;
    struct policy_set *policy;     /* what the routes' programs share
                                      (slots, regexes, zones). Owned */

    struct config_rate_limit *rate_limits; /* rate_limits.NAME, file
                                      order */
    size_t nrate_limits;
    struct config_abuse abuse;     /* abuse.*: every detector off by
                                      default */
    size_t rl_entries;             /* limits.rate_states: states of
                                      limits, quotas and detectors,
                                      default 262144; read at start */
    size_t rl_ban_entries;         /* abuse.max_bans: bans and offence
                                      counts, 65536; read at start */
    struct config_redis redis;     /* redis.*: fleet mode */

    struct config_contract *contracts; /* contracts[], file order */
    size_t ncontracts;

    struct config_inspect *inspect;/* the top-level inspect block; NULL
                                      when absent */
    struct config_inspect_db *inspect_dbs; /* one per distinct detector
                                      set of the routes */
    size_t ninspect_dbs;
    struct inspect_sensitive_db **sensitive_dbs; /* one per distinct
                                      set of kinds; owned */
    size_t nsensitive_dbs;

    struct arena strings;          /* owns every string above */
};

/*
 * Problems found while loading, each "file:line:column: message". The
 * list is bounded; later problems are counted but not kept.
 */
#define CONFIG_MAX_ERRORS 32

struct config_errors {
    size_t n;           /* kept messages */
    size_t dropped;     /* problems beyond the kept ones */
    char msg[CONFIG_MAX_ERRORS][384];
};

/*
 * Load and compile a configuration file. Every problem is recorded in
 * errs (which is cleared first); the load stops only when the file cannot
 * be parsed at all. Returns AW_OK with *out holding one reference, or
 * AW_INVALID (errs filled, *out untouched), or AW_NOMEM. A file that
 * cannot be read is AW_INVALID too, with one "FILE: cannot open: ..."
 * message. Host names are resolved here, once.
 */
int config_load(const char *path, struct config **out,
                struct config_errors *errs);

/* config_load_string flags. */
#define CONFIG_LOAD_NO_RESOLVE 1u /* refuse host names instead of
                                     resolving them (fuzzing, tests) */

/*
 * Load a configuration from memory. name stands for the file in
 * messages and is not kept; the snapshot's path is NULL. buf need not
 * be NUL-terminated. Returns as config_load.
 */
int config_load_string(const char *name, const char *buf, size_t len,
                       unsigned flags, struct config **out,
                       struct config_errors *errs);

/*
 * Write each message of errs on its own line to out, then a count of
 * the problems that were not kept, if any.
 */
void config_errors_print(const struct config_errors *errs, FILE *out);

/*
 * Build the configuration of "apiward proxy": one listener, one route
 * "/" as a prefix to one upstream given as "http://host:port", and every
 * other setting at its default. Returns as config_load; messages name
 * the option ("--to 'https://x': upstream TLS is not supported yet...")
 * instead of a file position. The upstream is named "backend" and the
 * route "default"; a URL without a port means port 80.
 */
int config_for_proxy(const char *listen, const char *to_url,
                     struct config **out, struct config_errors *errs);

/* The token check "apiward proxy" adds with --jwks. */
struct config_proxy_jwt {
    const char *jwks;              /* a JWK Set file (relative to the
                                      working directory), or an http(s)
                                      URL; borrowed */
    const char *issuer;            /* the exact "iss"; borrowed */
    const char *const *audiences;  /* 1 to 32; borrowed */
    size_t naudiences;
};

/*
 * config_for_proxy, and when jwt is not NULL: one issuer named "proxy"
 * (identity.issuers.proxy with keys.file or keys.url and every other
 * setting at its default), and routes[0].auth with every default, so
 * that each request needs a valid token. Problems in those settings
 * are reported as the file keys they stand for
 * ("identity.issuers.proxy.keys.url: ..."). The strings of jwt must
 * stay valid until this returns; the snapshot keeps copies.
 */
int config_for_proxy_jwt(const char *listen, const char *to_url,
                         const struct config_proxy_jwt *jwt,
                         struct config **out, struct config_errors *errs);

/*
 * config_for_proxy_jwt, and when openapi is not NULL (a document path,
 * relative to the working directory; borrowed): one contract named
 * "proxy" (contracts[0] with every other setting at its default)
 * enforced by routes[0]. Problems in the document are reported as
 * "contracts[0].openapi: ...".
 */
int config_for_proxy_contract(const char *listen, const char *to_url,
                              const struct config_proxy_jwt *jwt,
                              const char *openapi, struct config **out,
                              struct config_errors *errs);

/*
 * config_for_proxy_contract, and with inspect: every request detector
 * on routes[0] in block mode with the defaults of the inspect section.
 */
int config_for_proxy_inspect(const char *listen, const char *to_url,
                             const struct config_proxy_jwt *jwt,
                             const char *openapi, bool inspect,
                             struct config **out,
                             struct config_errors *errs);

/* Take a reference; returns c. */
struct config *config_ref(struct config *c);

/* Drop a reference; frees the snapshot with the last one. Accepts NULL. */
void config_unref(struct config *c);

/*
 * The process-wide current snapshot. config_current returns it with a
 * reference taken (NULL before the first swap); config_swap installs a
 * new one (taking over the caller's reference; NULL uninstalls) and
 * drops the reference the old one held. Both are safe from any thread.
 */
struct config *config_current(void);
void config_swap(struct config *c);

/*
 * True when addr (AF_INET or AF_INET6 sockaddr) lies in a trusted range.
 * An IPv4-mapped IPv6 address is judged as the IPv4 address it holds:
 * it matches IPv4 ranges only. Other families are never trusted.
 */
bool config_is_trusted_proxy(const struct config *c,
                             const struct sockaddr *addr);

#endif
