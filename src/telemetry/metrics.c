/*
 * Metrics: per-worker counters summed at scrape time, written out in the
 * Prometheus text exposition format 0.0.4.
 *
 * A worker is the only writer of its shard, so a count is a relaxed load
 * and a relaxed store of the same word: no locked instruction, no shared
 * cache line with another worker, and a scrape from the admin thread
 * reads whole values (the words are atomic). A scrape sees each counter
 * at some recent value; counters never go backwards.
 *
 * Route names and backend addresses are entered once in a bounded table
 * of names (a lock-free lookup, a lock to insert) that gives each a
 * dense index into the shards' arrays. Label values come only from the
 * configuration (route names, backend addresses) and from the fixed
 * tables below (stages, reason codes), never from a request, so no
 * label can carry a token, a key or other client text.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_int.h"

/* Status classes: index 0 is "no status sent", then 1xx to 5xx. */
#define NCLASS 6

/* Upper bounds of the latency buckets, microseconds, and as labels. */
static const uint64_t bucket_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000,
};
static const char *const bucket_le[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10",
};
#define NBUCKETS ARRAY_LEN(bucket_us)

/* The stages of the pipeline, as the access log names them. */
static const char *const stage_names[] = {
    "parse", "route", "guard", "authenticate", "body", "authorize",
    "limit", "contract", "inspect", "forward", "respond",
};
#define NSTAGES (ARRAY_LEN(stage_names) + 1)   /* the last: "other" */

/*
 * Every reason code the gateway gives, sorted for bsearch. A code not
 * listed is counted as "other": a metric label set stays bounded even if
 * a module invents a code this table does not know yet.
 */
static const char *const reasons[] = {
    "abuse.banned",
    "auth.alg_not_allowed",
    "auth.ambiguous_key",
    "auth.bad_api_key",
    "auth.bad_claim_type",
    "auth.bad_signature",
    "auth.bad_typ",
    "auth.claim_mismatch",
    "auth.crit_unsupported",
    "auth.introspection_busy",
    "auth.introspection_unavailable",
    "auth.key_alg_mismatch",
    "auth.key_expired",
    "auth.key_not_yet_valid",
    "auth.key_revoked",
    "auth.keys_unavailable",
    "auth.lifetime_too_long",
    "auth.malformed_credentials",
    "auth.malformed_request",
    "auth.malformed_token",
    "auth.missing_claim",
    "auth.missing_credentials",
    "auth.no_memory",
    "auth.token_expired",
    "auth.token_inactive",
    "auth.token_issued_in_future",
    "auth.token_not_yet_valid",
    "auth.token_too_large",
    "auth.unknown_key",
    "auth.verify_error",
    "auth.wrong_audience",
    "auth.wrong_issuer",
    "authz.ambiguous_value",
    "authz.condition_failed",
    "authz.consumer_not_allowed",
    "authz.denied",
    "authz.eval_error",
    "authz.method_not_allowed",
    "authz.missing_role",
    "authz.missing_scope",
    "authz.no_rule",
    "authz.object_mismatch",
    "authz.privilege_escalation",
    "authz.unauthenticated",
    "body.malformed_json",
    "body.too_complex",
    "body.unsupported_media_type",
    "contract.deprecated",
    "contract.duplicate_parameter",
    "contract.invalid_body",
    "contract.invalid_parameter",
    "contract.invalid_response",
    "contract.method_not_allowed",
    "contract.missing_body",
    "contract.missing_parameter",
    "contract.no_memory",
    "contract.response_too_large",
    "contract.too_many_parameters",
    "contract.undocumented_response",
    "contract.unexpected_body",
    "contract.unknown_parameter",
    "contract.unknown_path",
    "contract.unsupported_media_type",
    "gateway.no_memory",
    "http.ambiguous_length",
    "http.bad_chunk",
    "http.bad_chunk_extension",
    "http.bad_content_length",
    "http.bad_field_name",
    "http.bad_field_value",
    "http.bad_host",
    "http.bad_request_line",
    "http.bad_target",
    "http.bad_trailer",
    "http.bad_transfer_encoding",
    "http.bad_upstream_response",
    "http.bare_cr",
    "http.bare_lf",
    "http.body_timeout",
    "http.body_too_large",
    "http.duplicate_host",
    "http.expectation_failed",
    "http.fragment",
    "http.head_timeout",
    "http.head_too_large",
    "http.host_mismatch",
    "http.method_not_supported",
    "http.missing_host",
    "http.obs_fold",
    "http.path_backslash",
    "http.path_bad_escape",
    "http.path_dot_segment",
    "http.path_encoded_dot",
    "http.path_encoded_slash",
    "http.path_not_absolute",
    "http.path_nul",
    "http.path_slashes",
    "http.path_traversal",
    "http.target_too_long",
    "http.too_many_headers",
    "http.version_not_supported",
    "inspect.cmdi",
    "inspect.crlf",
    "inspect.ldap",
    "inspect.nosql",
    "inspect.sensitive_data",
    "inspect.sqli",
    "inspect.ssrf",
    "inspect.template",
    "inspect.too_many_values",
    "inspect.traversal",
    "inspect.xss",
    "inspect.xxe",
    "json.array_too_long",
    "json.bad_escape",
    "json.bad_number",
    "json.bad_utf8",
    "json.duplicate_key",
    "json.no_memory",
    "json.number_too_long",
    "json.stopped",
    "json.string_too_long",
    "json.syntax",
    "json.too_deep",
    "json.too_large",
    "json.too_many_members",
    "ratelimit.concurrency",
    "ratelimit.exceeded",
    "ratelimit.quota_exhausted",
    "ratelimit.unavailable",
    "route.method_not_allowed",
    "route.not_found",
    "upstream.bad_response",
    "upstream.no_healthy_server",
    "upstream.reset",
    "upstream.timeout",
    "upstream.truncated",
    "upstream.unavailable",
};
#define NREASONS ARRAY_LEN(reasons)

/* The cache counters of struct metrics_caches, in its order. */
static const char *const cache_names[][2] = {
    {"apiward_token_cache_hits_total", "Verified tokens found in a cache"},
    {"apiward_token_cache_misses_total", "Token lookups that missed"},
    {"apiward_token_cache_inserts_total", "Verified tokens remembered"},
    {"apiward_token_cache_evictions_total",
     "Usable cache entries pushed out by others"},
    {"apiward_introspection_requests_total",
     "Requests sent to the introspection endpoint"},
    {"apiward_introspection_failures_total",
     "Introspection requests without a usable answer"},
    {"apiward_introspection_cache_hits_total",
     "Introspection answers taken from a cache"},
    {"apiward_introspection_coalesced_total",
     "Introspection lookups that joined a request in flight"},
    {"apiward_introspection_busy_total",
     "Introspection lookups refused over max_in_flight"},
};
#define NCACHE ARRAY_LEN(cache_names)

/* One name of a table and its dense index. */
struct name_entry {
    char *name;          /* owned */
    unsigned index;
};

/*
 * Names entered on first sight, never removed. Lookups read the open
 * addressing table without a lock (an entry is complete before its
 * pointer is published); inserts take the lock.
 */
struct names {
    _Atomic(struct name_entry *) *slots;
    size_t mask;                 /* slots - 1, a power of two */
    struct name_entry *entries;  /* max of them */
    _Atomic unsigned n;
    unsigned max;                /* index max is the "_other" series */
    pthread_mutex_t lock;
};

/* One worker's counters; every word has that worker as its only writer. */
struct shard {
    _Atomic uint64_t *requests;  /* [route][NCLASS] */
    _Atomic uint64_t *buckets;   /* [route][NBUCKETS + 1], the last +Inf */
    _Atomic uint64_t *sum_us;    /* [route] */
    _Atomic uint64_t decisions[NSTAGES][NREASONS + 1];
    _Atomic uint64_t be_active[METRICS_MAX_BACKENDS];
    _Atomic uint64_t be_idle[METRICS_MAX_BACKENDS];
    _Atomic uint64_t be_ejected[METRICS_MAX_BACKENDS];
    _Atomic uint64_t caches[NCACHE];
};

static struct {
    struct shard *shards;        /* NULL while metrics are off */
    unsigned nshards;
    struct names routes;
    struct names backends;
} metrics = {
    .routes = {.lock = PTHREAD_MUTEX_INITIALIZER},
    .backends = {.lock = PTHREAD_MUTEX_INITIALIZER},
};

/* Add n to a counter whose only writer is the calling thread. */
static inline void
count_add(_Atomic uint64_t *c, uint64_t n)
{
    uint64_t v = atomic_load_explicit(c, memory_order_relaxed);

    atomic_store_explicit(c, v + n, memory_order_relaxed);
}

static inline void
gauge_set(_Atomic uint64_t *g, uint64_t v)
{
    atomic_store_explicit(g, v, memory_order_relaxed);
}

static inline uint64_t
word(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* FNV-1a of a NUL-terminated name. */
static uint64_t
name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int
names_init(struct names *t, unsigned max)
{
    size_t slots = 16;

    while (slots < 2 * (size_t)max)
        slots <<= 1;
    t->slots = calloc(slots, sizeof(*t->slots));
    t->entries = calloc(max, sizeof(*t->entries));
    if (t->slots == NULL || t->entries == NULL)
        return AW_NOMEM;
    t->mask = slots - 1;
    t->max = max;
    atomic_store(&t->n, 0);
    return AW_OK;
}

static void
names_fini(struct names *t)
{
    unsigned n = atomic_load(&t->n);

    for (unsigned i = 0; i < n && t->entries != NULL; i++)
        free(t->entries[i].name);
    free(t->entries);
    free((void *)t->slots);
    t->entries = NULL;
    t->slots = NULL;
    t->max = 0;
    atomic_store(&t->n, 0);
}

/*
 * The slot where name is, or the empty slot where it would go. The
 * table is never more than half full, so the probe ends.
 */
static size_t
names_probe(const struct names *t, const char *name, struct name_entry **e)
{
    size_t i = (size_t)name_hash(name) & t->mask;

    for (;;) {
        *e = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (*e == NULL || strcmp((*e)->name, name) == 0)
            return i;
        i = (i + 1) & t->mask;
    }
}

/* Enter name under the lock; t->max when the table is full. */
static unsigned
names_insert(struct names *t, const char *name)
{
    struct name_entry *e;
    unsigned index = t->max;
    size_t i;

    pthread_mutex_lock(&t->lock);
    i = names_probe(t, name, &e);
    if (e != NULL) {
        index = e->index;
    } else if (atomic_load(&t->n) < t->max) {
        unsigned n = atomic_load(&t->n);

        e = &t->entries[n];
        e->name = strdup(name);
        if (e->name != NULL) {
            e->index = n;
            index = n;
            atomic_store_explicit(&t->n, n + 1, memory_order_release);
            atomic_store_explicit(&t->slots[i], e, memory_order_release);
        }
    }
    pthread_mutex_unlock(&t->lock);
    return index;
}

/* The dense index of name, entering it on first sight; max when full. */
static unsigned
names_index(struct names *t, const char *name)
{
    struct name_entry *e;

    names_probe(t, name, &e);
    if (e != NULL)
        return e->index;
    return names_insert(t, name);
}

static void
shard_free(struct shard *s)
{
    free((void *)s->requests);
    free((void *)s->buckets);
    free((void *)s->sum_us);
}

static int
shard_alloc(struct shard *s, unsigned nroutes)
{
    s->requests = calloc((size_t)nroutes * NCLASS, sizeof(*s->requests));
    s->buckets = calloc((size_t)nroutes * (NBUCKETS + 1),
                        sizeof(*s->buckets));
    s->sum_us = calloc(nroutes, sizeof(*s->sum_us));
    if (s->requests == NULL || s->buckets == NULL || s->sum_us == NULL)
        return AW_NOMEM;
    return AW_OK;
}

void
metrics_stop(void)
{
    for (unsigned i = 0; metrics.shards != NULL && i < metrics.nshards; i++)
        shard_free(&metrics.shards[i]);
    free(metrics.shards);
    metrics.shards = NULL;
    metrics.nshards = 0;
    names_fini(&metrics.routes);
    names_fini(&metrics.backends);
}

int
metrics_start(unsigned nworkers, unsigned max_routes)
{
    int rc;

    if (nworkers == 0)
        nworkers = 1;
    if (max_routes == 0)
        max_routes = 1;
    metrics.shards = calloc(nworkers, sizeof(*metrics.shards));
    if (metrics.shards == NULL)
        return AW_NOMEM;
    metrics.nshards = nworkers;
    rc = names_init(&metrics.routes, max_routes);
    if (rc == AW_OK)
        rc = names_init(&metrics.backends, METRICS_MAX_BACKENDS);
    for (unsigned i = 0; rc == AW_OK && i < nworkers; i++)
        rc = shard_alloc(&metrics.shards[i], max_routes + 1);
    if (rc != AW_OK)
        metrics_stop();
    return rc;
}

static int
reason_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

unsigned
metrics_reason_index(const char *reason)
{
    const char *const *p = bsearch(reason, reasons, NREASONS,
                                   sizeof(reasons[0]), reason_cmp);

    return p == NULL ? (unsigned)NREASONS : (unsigned)(p - reasons);
}

static unsigned
stage_index(const char *stage)
{
    for (unsigned i = 0; stage != NULL && i < ARRAY_LEN(stage_names); i++)
        if (strcmp(stage, stage_names[i]) == 0)
            return i;
    return NSTAGES - 1;
}

static unsigned
status_class(int status)
{
    return status >= 100 && status <= 599 ? (unsigned)(status / 100) : 0;
}

void
metrics_observe(unsigned w, const struct metrics_request *m)
{
    struct shard *s;
    unsigned route, b = 0;

    if (metrics.shards == NULL || w >= metrics.nshards)
        return;
    s = &metrics.shards[w];
    route = names_index(&metrics.routes, m->route != NULL ? m->route : "");
    count_add(&s->requests[route * NCLASS + status_class(m->status)], 1);
    while (b < NBUCKETS && m->latency_us > bucket_us[b])
        b++;
    count_add(&s->buckets[route * (NBUCKETS + 1) + b], 1);
    count_add(&s->sum_us[route], m->latency_us);
    if (m->reason != NULL)
        count_add(&s->decisions[stage_index(m->stage)]
                               [metrics_reason_index(m->reason)], 1);
}

/*
 * A backend beyond METRICS_MAX_BACKENDS addresses is not shown: a gauge
 * shared by several addresses would mean nothing.
 */
void
metrics_backend(unsigned w, const struct metrics_backend *b)
{
    struct shard *s;
    unsigned i;

    if (metrics.shards == NULL || w >= metrics.nshards)
        return;
    s = &metrics.shards[w];
    i = names_index(&metrics.backends, b->address);
    if (i >= METRICS_MAX_BACKENDS)
        return;
    gauge_set(&s->be_active[i], b->active);
    gauge_set(&s->be_idle[i], b->idle);
    gauge_set(&s->be_ejected[i], b->ejected);
}

void
metrics_caches(unsigned w, const struct metrics_caches *c)
{
    const uint64_t v[NCACHE] = {
        c->token_hits, c->token_misses, c->token_inserts, c->token_evictions,
        c->intro_requests, c->intro_failures, c->intro_hits,
        c->intro_coalesced, c->intro_busy,
    };
    struct shard *s;

    if (metrics.shards == NULL || w >= metrics.nshards)
        return;
    s = &metrics.shards[w];
    for (size_t i = 0; i < NCACHE; i++)
        gauge_set(&s->caches[i], v[i]);
}

/*
 * EXPOSITION
 *
 * Families come in a fixed order; within one, series follow the order
 * of the names tables. A series whose every count is zero is left out,
 * except for histograms of routes that served a request.
 */

/* Text being written; after the first overflow every write is skipped. */
struct out {
    struct buf *b;
    int rc;
};

static void AW_PRINTF(2, 3)
out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->rc != AW_OK)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->b->data + o->b->end, buf_room(o->b), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= buf_room(o->b)) {
        o->rc = AW_TOOBIG;
        return;
    }
    o->b->end += (size_t)n;
}

static void
out_label(struct out *o, const char *s)
{
    if (o->rc == AW_OK)
        o->rc = metrics_label_append(o->b, s);
}

int
metrics_label_append(struct buf *out, const char *s)
{
    size_t end = out->end;

    for (; *s != '\0'; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\""
                        : *s == '\n' ? "\\n" : NULL;
        size_t n = esc != NULL ? 2 : 1;

        if (buf_room(out) < n) {
            out->end = end;
            return AW_TOOBIG;
        }
        memcpy(out->data + out->end, esc != NULL ? esc : s, n);
        out->end += n;
    }
    return AW_OK;
}

int
metrics_family(struct buf *out, const char *name, const char *type,
               const char *help)
{
    return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                      type);
}

static void
out_family(struct out *o, const char *name, const char *type,
           const char *help)
{
    if (o->rc == AW_OK)
        o->rc = metrics_family(o->b, name, type, help);
}

/* The sum over every shard of the word at the same place as c in s0. */
static uint64_t
sum_at(const _Atomic uint64_t *c, const struct shard *s0)
{
    ptrdiff_t off = (const char *)c - (const char *)s0;
    uint64_t v = 0;

    for (unsigned i = 0; i < metrics.nshards; i++)
        v += word((const _Atomic uint64_t *)((const char *)&metrics.shards[i]
                                             + off));
    return v;
}

/* The sum over every shard of element i of the array at offset arr. */
static uint64_t
sum_array(size_t arr, size_t i)
{
    uint64_t v = 0;

    for (unsigned k = 0; k < metrics.nshards; k++) {
        const struct shard *s = &metrics.shards[k];
        _Atomic uint64_t *const *base =
            (_Atomic uint64_t *const *)((const char *)s + arr);

        v += word(&(*base)[i]);
    }
    return v;
}

/* The label value of route index i: its name, or "_other". */
static const char *
route_name(unsigned i)
{
    return i < metrics.routes.max ? metrics.routes.entries[i].name
                                  : "_other";
}

static void
render_requests(struct out *o, unsigned nroutes)
{
    static const char *const cls[NCLASS] = {"none", "1xx", "2xx", "3xx",
                                            "4xx", "5xx"};

    out_family(o, "apiward_requests_total", "counter",
               "Requests ended, by route and status class");
    for (unsigned r = 0; r <= metrics.routes.max; r++) {
        if (r >= nroutes && r != metrics.routes.max)
            continue;
        for (unsigned c = 0; c < NCLASS; c++) {
            uint64_t v = sum_array(offsetof(struct shard, requests),
                                   (size_t)r * NCLASS + c);

            if (v == 0)
                continue;
            out_printf(o, "apiward_requests_total{route=\"");
            out_label(o, route_name(r));
            out_printf(o, "\",code=\"%s\"} %llu\n", cls[c],
                       (unsigned long long)v);
        }
    }
}

/* One route's histogram; nothing when it served no request. */
static void
render_route_latency(struct out *o, unsigned r)
{
    uint64_t cum = 0, counts[NBUCKETS + 1];

    for (size_t b = 0; b <= NBUCKETS; b++) {
        counts[b] = sum_array(offsetof(struct shard, buckets),
                              (size_t)r * (NBUCKETS + 1) + b);
        cum += counts[b];
    }
    if (cum == 0)
        return;
    cum = 0;
    for (size_t b = 0; b <= NBUCKETS; b++) {
        cum += counts[b];
        out_printf(o, "apiward_request_duration_seconds_bucket{route=\"");
        out_label(o, route_name(r));
        out_printf(o, "\",le=\"%s\"} %llu\n",
                   b < NBUCKETS ? bucket_le[b] : "+Inf",
                   (unsigned long long)cum);
    }
    out_printf(o, "apiward_request_duration_seconds_sum{route=\"");
    out_label(o, route_name(r));
    out_printf(o, "\"} %.6f\n",
               (double)sum_array(offsetof(struct shard, sum_us), r) / 1e6);
    out_printf(o, "apiward_request_duration_seconds_count{route=\"");
    out_label(o, route_name(r));
    out_printf(o, "\"} %llu\n", (unsigned long long)cum);
}

static void
render_latency(struct out *o, unsigned nroutes)
{
    out_family(o, "apiward_request_duration_seconds", "histogram",
               "Time from a request's first byte to its end, by route");
    for (unsigned r = 0; r < nroutes; r++)
        render_route_latency(o, r);
    render_route_latency(o, metrics.routes.max);
}

static void
render_decisions(struct out *o)
{
    const struct shard *s0 = &metrics.shards[0];

    out_family(o, "apiward_refusals_total", "counter",
               "Requests refused by the gateway, by stage and reason code");
    for (unsigned st = 0; st < NSTAGES; st++) {
        for (unsigned r = 0; r <= NREASONS; r++) {
            uint64_t v = sum_at(&s0->decisions[st][r], s0);

            if (v == 0)
                continue;
            out_printf(o, "apiward_refusals_total{stage=\"%s\","
                          "reason=\"%s\"} %llu\n",
                       st < ARRAY_LEN(stage_names) ? stage_names[st]
                                                   : "other",
                       r < NREASONS ? reasons[r] : "other",
                       (unsigned long long)v);
        }
    }
}

/* One gauge family over the backends, summed over workers. */
static void
render_backend_gauge(struct out *o, size_t field, const char *name,
                     const char *help)
{
    unsigned n = atomic_load_explicit(&metrics.backends.n,
                                      memory_order_acquire);

    out_family(o, name, "gauge", help);
    for (unsigned i = 0; i < n; i++) {
        uint64_t v = 0;

        for (unsigned k = 0; k < metrics.nshards; k++)
            v += word((const _Atomic uint64_t *)((const char *)
                      &metrics.shards[k] + field) + i);
        out_printf(o, "%s{backend=\"", name);
        out_label(o, metrics.backends.entries[i].name);
        out_printf(o, "\"} %llu\n", (unsigned long long)v);
    }
}

static void
render_backends(struct out *o)
{
    render_backend_gauge(o, offsetof(struct shard, be_active),
                         "apiward_upstream_active_connections",
                         "Backend connections carrying a request");
    render_backend_gauge(o, offsetof(struct shard, be_idle),
                         "apiward_upstream_idle_connections",
                         "Idle keep-alive backend connections in the pools");
    render_backend_gauge(o, offsetof(struct shard, be_ejected),
                         "apiward_upstream_ejected_workers",
                         "Workers that currently hold the backend ejected "
                         "after failures (0: healthy everywhere)");
}

static void
render_caches(struct out *o)
{
    const struct shard *s0 = &metrics.shards[0];

    for (size_t i = 0; i < NCACHE; i++) {
        out_family(o, cache_names[i][0], "counter", cache_names[i][1]);
        out_printf(o, "%s %llu\n", cache_names[i][0],
                   (unsigned long long)sum_at(&s0->caches[i], s0));
    }
}

static void
render_drops(struct out *o)
{
    out_family(o, "apiward_access_log_dropped_total", "counter",
               "Access-log lines dropped: a full ring");
    out_printf(o, "apiward_access_log_dropped_total %llu\n",
               (unsigned long long)accesslog_dropped());
    out_family(o, "apiward_events_dropped_total", "counter",
               "Security events dropped: a full ring or an oversized line");
    out_printf(o, "apiward_events_dropped_total %llu\n",
               (unsigned long long)events_dropped());
    out_family(o, "apiward_events_syslog_sent_total", "counter",
               "Security events delivered to the syslog receiver");
    out_printf(o, "apiward_events_syslog_sent_total %llu\n",
               (unsigned long long)events_syslog_sent());
}

int
metrics_render(struct buf *b)
{
    struct out o = {b, AW_OK};
    unsigned nroutes;

    if (metrics.shards == NULL) {
        render_drops(&o);
        return o.rc;
    }
    nroutes = atomic_load_explicit(&metrics.routes.n, memory_order_acquire);
    render_requests(&o, nroutes);
    render_latency(&o, nroutes);
    render_decisions(&o);
    render_backends(&o);
    render_caches(&o);
    render_drops(&o);
    return o.rc;
}
