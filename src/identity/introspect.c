/*
 * OAuth 2.0 token introspection (RFC 7662): opaque bearer tokens judged
 * by the identity provider, from each worker's own event loop.
 *
 * Every worker has one libcurl multi handle whose sockets and timer are
 * watched by the worker's loop (CURLMOPT_SOCKETFUNCTION and
 * TIMERFUNCTION), so a request waiting for an answer is only parked and
 * costs no thread. Finished exchanges are collected once per batch of
 * loop events (introspect_batch), never inside the call that started
 * them: the request that started a lookup is parked before its answer
 * can be delivered.
 *
 * Answers are judged on every request, whether they come from the
 * network or from the cache: the cache keeps the answer's bytes, not a
 * verdict, so time, audience, issuer and route claims are applied to a
 * cached answer exactly as to a fresh one.
 *
 * The token travels only to the endpoint. The cache and the lookups in
 * flight are keyed by its SHA-256; the form that carries it and the
 * client secret are wiped when a lookup ends. Answer bodies are never
 * logged.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "identity/identity.h"
#include "identity/identity_int.h"

/* Slots looked at per cache lookup or insert. */
#define IC_WINDOW 8

/* Process-wide evictions remembered for workers that have not seen them. */
#define IC_EVICT_RING 256

/* First allocation of an answer body; it grows to max_response. */
#define IC_BODY_FIRST 1024

/* The longest endpoint text kept for log lines. */
#define IC_SHOWN 160

/* At most one failure line per worker and interval. */
#define IC_LOG_EVERY_MS 5000

/* ------------------------------------------------------------------ */
/* Process-wide evictions                                               */
/* ------------------------------------------------------------------ */

static pthread_mutex_t ic_evict_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char ic_evict_ring[IC_EVICT_RING][IDENTITY_DIGEST_LEN];
static atomic_uint_fast64_t ic_evict_count;

void
identity_introspect_evict_digest(const unsigned char digest[32])
{
    uint64_t n;

    pthread_mutex_lock(&ic_evict_lock);
    n = atomic_load(&ic_evict_count);
    memcpy(ic_evict_ring[n % IC_EVICT_RING], digest, IDENTITY_DIGEST_LEN);
    atomic_store(&ic_evict_count, n + 1);
    pthread_mutex_unlock(&ic_evict_lock);
}

void
identity_introspect_evict(const char *token, size_t len)
{
    unsigned char d[IDENTITY_DIGEST_LEN];

    identity_digest((struct slice){token, len}, d);
    identity_introspect_evict_digest(d);
}

/* ------------------------------------------------------------------ */
/* The answer cache                                                     */
/* ------------------------------------------------------------------ */

struct ic_entry {
    unsigned char digest[IDENTITY_DIGEST_LEN];
    uint64_t gen;     /* configuration generation of the answer */
    int64_t until_ms; /* wall ms; the entry is void from then on */
    bool used;
    bool active;
    char *body;       /* active answers: the bytes received (malloc) */
    size_t len;
};

struct introspect_cache {
    struct ic_entry *slots;
    unsigned n;
    unsigned count; /* used slots */
};

struct introspect_cache *
introspect_cache_new(unsigned entries)
{
    struct introspect_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    if (entries > 0) {
        c->slots = calloc(entries, sizeof(*c->slots));
        if (c->slots == NULL) {
            free(c);
            return NULL;
        }
    }
    c->n = entries;
    return c;
}

/* Empty one slot. */
static void
ic_entry_clear(struct introspect_cache *c, struct ic_entry *e)
{
    if (!e->used)
        return;
    free(e->body);
    memset(e, 0, sizeof(*e));
    c->count--;
}

void
introspect_cache_clear(struct introspect_cache *c)
{
    for (unsigned i = 0; c != NULL && i < c->n; i++)
        ic_entry_clear(c, &c->slots[i]);
}

void
introspect_cache_free(struct introspect_cache *c)
{
    if (c == NULL)
        return;
    introspect_cache_clear(c);
    free(c->slots);
    free(c);
}

unsigned
introspect_cache_count(const struct introspect_cache *c)
{
    return c != NULL ? c->count : 0;
}

int64_t
introspect_cache_until(uint64_t cache_ttl_ms, uint64_t negative_ttl_ms,
                       bool active, int64_t exp, int64_t now_ms)
{
    int64_t until;

    if (!active)
        return now_ms + (int64_t)negative_ttl_ms;
    if (cache_ttl_ms == 0)
        return now_ms;
    until = now_ms + (int64_t)cache_ttl_ms;
    if (exp > 0 && exp < INT64_MAX / 1000)
        until = MIN(until, exp * 1000);
    return until;
}

/* Slot i of the window of digest d; the digest is uniform already. */
static struct ic_entry *
ic_slot(struct introspect_cache *c, const unsigned char *d, unsigned i)
{
    uint32_t h;

    memcpy(&h, d, sizeof(h));
    return &c->slots[(h % c->n + i) % c->n];
}

/*
 * The slot to overwrite for d: one holding d already, else a free or
 * void one, else the one whose life ends soonest, so that eviction
 * takes what would have gone first anyway.
 */
static struct ic_entry *
ic_victim(struct introspect_cache *c, const unsigned char *d, int64_t now_ms)
{
    unsigned window = MIN(c->n, IC_WINDOW);
    struct ic_entry *best = NULL;

    for (unsigned i = 0; i < window; i++) {
        struct ic_entry *e = ic_slot(c, d, i);

        if (e->used && memcmp(e->digest, d, IDENTITY_DIGEST_LEN) == 0)
            return e;
        if (!e->used || e->until_ms <= now_ms)
            return e;
        if (best == NULL || e->until_ms < best->until_ms)
            best = e;
    }
    return best;
}

void
introspect_cache_put(struct introspect_cache *c,
                     const unsigned char digest[IDENTITY_DIGEST_LEN],
                     uint64_t gen, bool active, struct slice body,
                     int64_t until_ms, int64_t now_ms)
{
    struct ic_entry *e;
    char *copy = NULL;

    if (c == NULL || c->n == 0 || until_ms <= now_ms)
        return;
    if (active && (body.len > INTROSPECT_CACHE_BODY ||
                   (copy = malloc(body.len + 1)) == NULL))
        return;
    if (copy != NULL)
        memcpy(copy, body.ptr, body.len);
    e = ic_victim(c, digest, now_ms);
    ic_entry_clear(c, e);
    memcpy(e->digest, digest, IDENTITY_DIGEST_LEN);
    e->gen = gen;
    e->until_ms = until_ms;
    e->active = active;
    e->body = copy;
    e->len = active ? body.len : 0;
    e->used = true;
    c->count++;
}

int
introspect_cache_get(struct introspect_cache *c,
                     const unsigned char digest[IDENTITY_DIGEST_LEN],
                     uint64_t gen, int64_t now_ms, bool *active,
                     struct slice *body)
{
    unsigned window;

    if (c == NULL || c->n == 0)
        return AW_DECLINED;
    window = MIN(c->n, IC_WINDOW);
    for (unsigned i = 0; i < window; i++) {
        struct ic_entry *e = ic_slot(c, digest, i);

        if (!e->used || memcmp(e->digest, digest, IDENTITY_DIGEST_LEN) != 0)
            continue;
        if (e->gen != gen || e->until_ms <= now_ms) {
            ic_entry_clear(c, e);
            continue;
        }
        *active = e->active;
        *body = (struct slice){e->body, e->len};
        return AW_OK;
    }
    return AW_DECLINED;
}

void
introspect_cache_drop(struct introspect_cache *c,
                      const unsigned char digest[IDENTITY_DIGEST_LEN])
{
    unsigned window;

    if (c == NULL || c->n == 0)
        return;
    window = MIN(c->n, IC_WINDOW);
    for (unsigned i = 0; i < window; i++) {
        struct ic_entry *e = ic_slot(c, digest, i);

        if (e->used && memcmp(e->digest, digest, IDENTITY_DIGEST_LEN) == 0)
            ic_entry_clear(c, e);
    }
}

void
introspect_cache_sync(struct introspect_cache *c, uint64_t *seen)
{
    uint64_t n;

    if (atomic_load(&ic_evict_count) == *seen)
        return;
    pthread_mutex_lock(&ic_evict_lock);
    n = atomic_load(&ic_evict_count);
    if (n - *seen > IC_EVICT_RING)
        introspect_cache_clear(c);
    else
        for (uint64_t i = *seen; i < n; i++)
            introspect_cache_drop(c, ic_evict_ring[i % IC_EVICT_RING]);
    pthread_mutex_unlock(&ic_evict_lock);
    *seen = n;
}

/* ------------------------------------------------------------------ */
/* Answers                                                              */
/* ------------------------------------------------------------------ */

/* True when the member name of ans is absent or of type t. */
static bool
ic_member_is(const struct json_value *ans, const char *name,
             enum json_type t)
{
    const struct json_value *v = json_get(ans, name);

    return v == NULL || v->type == t;
}

/* The registered members of an active answer have their RFC 7662 types. */
static bool
ic_types_ok(const struct json_value *ans)
{
    static const char *const numbers[] = {"exp", "iat", "nbf"};
    static const char *const strings[] = {"sub", "client_id", "username",
                                          "iss", "scope", "token_type"};
    const struct json_value *aud = json_get(ans, "aud");

    for (size_t i = 0; i < ARRAY_LEN(numbers); i++)
        if (!ic_member_is(ans, numbers[i], JSON_NUMBER))
            return false;
    for (size_t i = 0; i < ARRAY_LEN(strings); i++)
        if (!ic_member_is(ans, strings[i], JSON_STRING))
            return false;
    return aud == NULL || json_is(aud, JSON_STRING) ||
           json_is_string_array(aud);
}

int
introspect_answer_parse(const char *body, size_t len, size_t max,
                        struct arena *a, const struct json_value **out,
                        const char **detail)
{
    struct json_limits lim;
    struct json_value *doc;
    struct json_error jerr;
    const struct json_value *active;
    int rc;

    *out = NULL;
    json_limits_default(&lim);
    lim.max_bytes = max;
    rc = json_parse(body, len, &lim, a, &doc, &jerr);
    if (rc != AW_OK) {
        *detail = "the introspection answer is not valid JSON";
        return rc;
    }
    active = json_get(doc, "active");
    if (!json_is(doc, JSON_OBJECT) || active == NULL ||
        (active->type != JSON_TRUE && active->type != JSON_FALSE)) {
        *detail = "the introspection answer has no boolean active";
        return AW_INVALID;
    }
    if (active->type == JSON_FALSE)
        return AW_DECLINED;
    if (!ic_types_ok(doc)) {
        *detail = "a member of the introspection answer has the wrong type";
        return AW_INVALID;
    }
    *out = doc;
    return AW_OK;
}

/* True when s holds exactly the bytes of lit (case matters). */
static bool
ic_same(struct slice s, const char *lit)
{
    return s.ptr != NULL && slice_eq(s, (struct slice){lit, strlen(lit)});
}

/* True when "aud" (a string or an array of strings) holds one of ci's. */
static bool
ic_audience_ok(const struct config_introspection *ci,
               const struct json_value *aud)
{
    size_t n = json_is(aud, JSON_ARRAY) ? aud->u.arr.n : 1;

    for (size_t i = 0; i < n; i++) {
        struct slice s = json_str(json_is(aud, JSON_ARRAY)
                                      ? aud->u.arr.items[i]
                                      : aud);

        for (size_t j = 0; s.ptr != NULL && j < ci->naudiences; j++)
            if (ic_same(s, ci->audiences[j]))
                return true;
    }
    return false;
}

/* exp, nbf, aud and iss against the configuration (rule 4). */
static int
ic_judge_claims(const struct config_introspection *ci,
                const struct json_value *ans, int64_t now,
                struct auth_error *err)
{
    const struct json_value *exp = json_get(ans, "exp");
    const struct json_value *nbf = json_get(ans, "nbf");
    const struct json_value *aud = json_get(ans, "aud");
    const struct json_value *iss = json_get(ans, "iss");
    double leeway = (double)ci->leeway_ms / 1000.0;

    if (exp != NULL && exp->u.num.d <= (double)now - leeway)
        return identity_refuse(err, "auth.token_expired",
                               "the token has expired");
    if (nbf != NULL && nbf->u.num.d > (double)now + leeway)
        return identity_refuse(err, "auth.token_not_yet_valid",
                               "the token is not valid yet");
    if (ci->naudiences > 0 && aud == NULL)
        return identity_refuse(err, "auth.missing_claim",
                               "the introspection answer has no aud");
    if (ci->naudiences > 0 && !ic_audience_ok(ci, aud))
        return identity_refuse(err, "auth.wrong_audience",
                               "aud holds none of the expected audiences");
    if (ci->issuer != NULL && iss == NULL)
        return identity_refuse(err, "auth.missing_claim",
                               "the introspection answer has no iss");
    if (ci->issuer != NULL && !ic_same(json_str(iss), ci->issuer))
        return identity_refuse(err, "auth.wrong_issuer",
                               "iss is not the expected issuer");
    return AW_OK;
}

/* body in unpadded base64url, in a; for the forward.claims header. */
static struct slice
ic_b64url(struct slice body, struct arena *a)
{
    size_t cap = 4 * ((body.len + 2) / 3) + 1;
    char *out = arena_alloc(a, cap);
    int n;

    if (out == NULL)
        return SLICE_NULL;
    n = EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)body.ptr,
                        (int)body.len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return (struct slice){out, (size_t)n};
}

/* A JSON string member as a slice; "" when absent. */
static struct slice
ic_str(const struct json_value *ans, const char *name)
{
    struct slice s = json_str(json_get(ans, name));

    return s.ptr != NULL ? s : (struct slice){"", 0};
}

int
introspect_answer_judge(const struct config_introspection *ci,
                        const struct config_route_auth *ra,
                        const struct json_value *ans, struct slice body,
                        int64_t now, struct arena *a, struct principal *p,
                        struct auth_error *err)
{
    struct config_issuer roles = {.roles_claim = ci->roles_claim};
    int rc = ic_judge_claims(ci, ans, now, err);

    if (rc == AW_OK)
        rc = claims_check_route(ra, ans, err);
    if (rc == AW_OK)
        rc = principal_from_claims(&roles, ans, a, p, err);
    if (rc != AW_OK)
        return rc;
    p->kind = AUTH_INTROSPECTION;
    p->issuer = (struct slice){"introspection", 13};
    p->consumer = ic_str(ans, "client_id");
    p->username = ic_str(ans, "username");
    p->key_id = (struct slice){"", 0};
    p->claims = ans;
    p->claims_b64 = ic_b64url(body, a);
    if (p->claims_b64.ptr == NULL)
        return identity_fail(err, AW_NOMEM, 503, "auth.no_memory",
                             "the request arena is full", NULL);
    return AW_OK;
}

/* ------------------------------------------------------------------ */
/* The worker's client                                                  */
/* ------------------------------------------------------------------ */

/* What a finished exchange came to. */
enum ic_outcome {
    IC_ACTIVE,   /* a well-formed answer with active true */
    IC_INACTIVE, /* a well-formed answer with active false */
    IC_FAILED,   /* no usable answer */
};

/* An answer body being received, bounded by max_response. */
struct ic_body {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
    bool too_big;
};

/* One request to the endpoint, shared by every lookup of its token. */
struct ic_lookup {
    struct ic_lookup *next;
    unsigned char digest[IDENTITY_DIGEST_LEN];
    uint64_t gen;          /* configuration generation */
    uint64_t evictions;    /* ic_evict_count when it started */
    uint64_t cache_ttl_ms; /* from the snapshot that started it */
    uint64_t negative_ttl_ms;
    CURL *easy;
    struct curl_slist *headers; /* holds the Basic credentials */
    char *form;                 /* holds the token (and maybe secret) */
    size_t form_len;
    struct ic_body body;
    enum ic_outcome outcome;
    const char *detail;    /* fixed sentence of a failure */
    char errbuf[CURL_ERROR_SIZE];
};

/* A socket libcurl asked the loop to watch. */
struct ic_sock {
    struct loop_io io;
    struct introspector *in;
    struct ic_sock *next_dead;
    bool dead; /* libcurl is done with it; freed after the batch */
};

struct introspector {
    struct loop *loop;
    CURLM *multi;
    struct loop_timer timer;
    void (*on_done)(void *arg);
    void *arg;
    struct ic_lookup *flying;   /* requests in flight */
    unsigned nflying;
    struct ic_lookup *finished; /* delivered while on_done runs */
    struct ic_sock *dead;
    struct introspect_cache *cache;
    uint64_t evictions_seen;
    uint64_t last_log_ms;
    bool closing;
    struct introspect_stats stats;
};

/* Wipe and free a lookup; accepts NULL. */
static void
ic_lookup_free(struct ic_lookup *lk)
{
    if (lk == NULL)
        return;
    if (lk->easy != NULL)
        curl_easy_cleanup(lk->easy);
    for (struct curl_slist *h = lk->headers; h != NULL; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(lk->headers);
    if (lk->form != NULL)
        explicit_bzero(lk->form, lk->form_len);
    free(lk->form);
    free(lk->body.data);
    free(lk);
}

/* libcurl's body callback: append, refusing what passes the bound. */
static size_t
ic_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct ic_body *b = arg;
    size_t n = size * nmemb;

    if (n > b->max - b->len) {
        b->too_big = true;
        return 0;
    }
    if (b->len + n > b->cap) {
        size_t cap = MAX(b->cap * 2, (size_t)IC_BODY_FIRST);
        char *data;

        while (cap < b->len + n)
            cap *= 2;
        data = realloc(b->data, MIN(cap, b->max));
        if (data == NULL)
            return 0;
        b->data = data;
        b->cap = MIN(cap, b->max);
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

/* The loop reports activity on a socket libcurl watches. */
static void
ic_on_sock(struct loop_io *io, uint32_t events)
{
    struct ic_sock *k = (struct ic_sock *)io;
    int flags = 0, running;

    if (k->dead)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(k->in->multi, io->fd, flags, &running);
}

/*
 * CURLMOPT_SOCKETFUNCTION. Sockets are watched level-triggered for the
 * directions libcurl asks for, as it expects: it may leave bytes unread
 * and come back for them on the next readiness. A socket libcurl drops
 * is freed after the batch: an event of the same batch may still name
 * it.
 */
static int
ic_on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp,
                  void *socketp)
{
    struct introspector *in = userp;
    struct ic_sock *k = socketp;
    uint32_t want = 0;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (k == NULL)
            return 0;
        if (!in->closing)
            loop_del(in->loop, &k->io);
        k->dead = true;
        k->next_dead = in->dead;
        in->dead = k;
        curl_multi_assign(in->multi, s, NULL);
        return 0;
    }
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        want |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        want |= EPOLLOUT;
    if (k != NULL)
        return loop_watch(in->loop, &k->io, want, false) == AW_OK ? 0 : -1;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return -1;
    k->io.fd = s;
    k->io.on_event = ic_on_sock;
    k->in = in;
    if (loop_watch(in->loop, &k->io, want, true) != AW_OK) {
        free(k);
        return -1;
    }
    curl_multi_assign(in->multi, s, k);
    return 0;
}

/* The loop's timer for libcurl fired. */
static void
ic_on_timer(struct loop_timer *t)
{
    struct introspector *in =
        (struct introspector *)((char *)t - offsetof(struct introspector,
                                                     timer));
    int running;

    curl_multi_socket_action(in->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* CURLMOPT_TIMERFUNCTION: -1 disarms, any other value arms. */
static int
ic_on_curl_timer(CURLM *m, long ms, void *userp)
{
    struct introspector *in = userp;

    (void)m;
    if (ms < 0)
        loop_timer_cancel(in->loop, &in->timer);
    else
        loop_timer_set(in->loop, &in->timer, (uint64_t)ms);
    return 0;
}

int
introspect_new(struct loop *l, unsigned cache_entries,
               void (*on_done)(void *arg), void *arg,
               struct introspector **out)
{
    struct introspector *in = calloc(1, sizeof(*in));

    *out = NULL;
    if (in == NULL)
        return AW_NOMEM;
    in->loop = l;
    in->on_done = on_done;
    in->arg = arg;
    in->timer.on_expire = ic_on_timer;
    in->evictions_seen = atomic_load(&ic_evict_count);
    in->cache = introspect_cache_new(cache_entries);
    if (in->cache == NULL) {
        free(in);
        return AW_NOMEM;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
        (in->multi = curl_multi_init()) == NULL) {
        introspect_cache_free(in->cache);
        free(in);
        return AW_ERROR;
    }
    curl_multi_setopt(in->multi, CURLMOPT_SOCKETFUNCTION, ic_on_curl_socket);
    curl_multi_setopt(in->multi, CURLMOPT_SOCKETDATA, in);
    curl_multi_setopt(in->multi, CURLMOPT_TIMERFUNCTION, ic_on_curl_timer);
    curl_multi_setopt(in->multi, CURLMOPT_TIMERDATA, in);
    *out = in;
    return AW_OK;
}

/* Free the sockets libcurl dropped during the batch. */
static void
ic_free_dead(struct introspector *in)
{
    while (in->dead != NULL) {
        struct ic_sock *k = in->dead;

        in->dead = k->next_dead;
        free(k);
    }
}

void
introspect_free(struct introspector *in)
{
    if (in == NULL)
        return;
    in->closing = true;
    while (in->flying != NULL) {
        struct ic_lookup *lk = in->flying;

        in->flying = lk->next;
        curl_multi_remove_handle(in->multi, lk->easy);
        ic_lookup_free(lk);
    }
    curl_multi_cleanup(in->multi);
    curl_global_cleanup();
    loop_timer_cancel(in->loop, &in->timer);
    ic_free_dead(in);
    introspect_cache_free(in->cache);
    free(in);
}

void
introspect_stats(const struct introspector *in, struct introspect_stats *st)
{
    if (in == NULL)
        memset(st, 0, sizeof(*st));
    else
        *st = in->stats;
}

/* True when c is safe in a form body as it is. */
static bool
ic_form_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '*';
}

/*
 * Append s form-url-encoded (application/x-www-form-urlencoded) to
 * dst at *n; dst has room for 3 * s.len more bytes.
 */
static void
ic_form_put(char *dst, size_t *n, struct slice s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];

        if (ic_form_plain(c)) {
            dst[(*n)++] = (char)c;
        } else if (c == ' ') {
            dst[(*n)++] = '+';
        } else {
            dst[(*n)++] = '%';
            dst[(*n)++] = hex[c >> 4];
            dst[(*n)++] = hex[c & 15];
        }
    }
}

/* Append the literal lit to dst at *n. */
static void
ic_put_lit(char *dst, size_t *n, const char *lit)
{
    size_t len = strlen(lit);

    memcpy(dst + *n, lit, len);
    *n += len;
}

/*
 * The form of the request: the token, its type hint and, for the post
 * method, the client's credentials (RFC 7662 section 2.1).
 */
static int
ic_build_form(struct ic_lookup *lk, const struct config_introspection *ci,
              struct slice token)
{
    struct slice id = {ci->client_id, strlen(ci->client_id)};
    struct slice secret = {ci->client_secret, ci->client_secret_len};
    size_t cap = 3 * (token.len + id.len + secret.len) + 128, n = 0;

    lk->form = malloc(cap);
    if (lk->form == NULL)
        return AW_NOMEM;
    ic_put_lit(lk->form, &n, "token=");
    ic_form_put(lk->form, &n, token);
    ic_put_lit(lk->form, &n, "&token_type_hint=access_token");
    if (ci->client_auth == CLIENT_AUTH_POST) {
        ic_put_lit(lk->form, &n, "&client_id=");
        ic_form_put(lk->form, &n, id);
        ic_put_lit(lk->form, &n, "&client_secret=");
        ic_form_put(lk->form, &n, secret);
    }
    lk->form_len = n;
    return AW_OK;
}

/*
 * "Authorization: Basic ..." over the form-encoded id and secret (RFC
 * 6749 section 2.3.1). Both buffers are wiped before they are freed.
 */
static int
ic_build_basic(struct ic_lookup *lk, const struct config_introspection *ci)
{
    size_t idlen = strlen(ci->client_id), cap, n = 0;
    char *pair, *line;
    struct curl_slist *h = NULL;

    cap = 3 * (idlen + ci->client_secret_len) + 2;
    pair = malloc(cap);
    line = malloc(4 * (cap / 3 + 1) + 32);
    if (pair != NULL && line != NULL) {
        ic_form_put(pair, &n, (struct slice){ci->client_id, idlen});
        pair[n++] = ':';
        ic_form_put(pair, &n, (struct slice){ci->client_secret,
                                             ci->client_secret_len});
        memcpy(line, "Authorization: Basic ", 21);
        EVP_EncodeBlock((unsigned char *)line + 21, (unsigned char *)pair,
                        (int)n);
        h = curl_slist_append(lk->headers, line);
        explicit_bzero(line, strlen(line));
        explicit_bzero(pair, cap);
    }
    free(line);
    free(pair);
    if (h == NULL)
        return AW_NOMEM;
    lk->headers = h;
    return AW_OK;
}

/* The fixed header fields of every request. */
static int
ic_build_headers(struct ic_lookup *lk, const struct config_introspection *ci)
{
    static const char *const fixed[] = {
        "Accept: application/json",
        "Content-Type: application/x-www-form-urlencoded",
        "Expect:",
    };

    for (size_t i = 0; i < ARRAY_LEN(fixed); i++) {
        struct curl_slist *h = curl_slist_append(lk->headers, fixed[i]);

        if (h == NULL)
            return AW_NOMEM;
        lk->headers = h;
    }
    if (ci->client_auth == CLIENT_AUTH_BASIC)
        return ic_build_basic(lk, ci);
    return AW_OK;
}

/*
 * The easy handle of a lookup. No redirect is followed (the form holds
 * the token, and a redirect could carry it elsewhere) and no proxy from
 * the environment is used.
 */
static int
ic_build_easy(struct ic_lookup *lk, const struct config_introspection *ci)
{
    CURL *e = curl_easy_init();
    long ms = (long)ci->timeout_ms;

    lk->easy = e;
    if (e == NULL ||
        curl_easy_setopt(e, CURLOPT_URL, ci->endpoint) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "apiward/" APIWARD_VERSION) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, lk->headers) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, lk->form) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)lk->form_len) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ic_on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &lk->body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, lk) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, lk->errbuf) != CURLE_OK)
        return AW_NOMEM;
    return AW_OK;
}

/*
 * Start the request for a token and put it in flight. The transfer is
 * kicked off here, but its end is only collected by introspect_batch.
 */
static int
ic_start(struct introspector *in, const struct config *cfg,
         struct slice token, const unsigned char *digest)
{
    const struct config_introspection *ci = cfg->introspection;
    struct ic_lookup *lk = calloc(1, sizeof(*lk));
    int running, rc = lk != NULL ? AW_OK : AW_NOMEM;

    if (rc == AW_OK) {
        memcpy(lk->digest, digest, IDENTITY_DIGEST_LEN);
        lk->gen = cfg->generation;
        lk->evictions = atomic_load(&ic_evict_count);
        lk->cache_ttl_ms = ci->cache_ttl_ms;
        lk->negative_ttl_ms = ci->negative_ttl_ms;
        lk->body.max = ci->max_response_bytes;
        rc = ic_build_form(lk, ci, token);
    }
    if (rc == AW_OK)
        rc = ic_build_headers(lk, ci);
    if (rc == AW_OK)
        rc = ic_build_easy(lk, ci);
    if (rc == AW_OK && curl_multi_add_handle(in->multi, lk->easy) != CURLM_OK)
        rc = AW_ERROR;
    if (rc != AW_OK) {
        ic_lookup_free(lk);
        return rc;
    }
    lk->next = in->flying;
    in->flying = lk;
    in->nflying++;
    in->stats.requests++;
    curl_multi_socket_action(in->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    return AW_OK;
}

/* The lookup of (digest, gen) in list, or NULL. */
static struct ic_lookup *
ic_find(struct ic_lookup *list, const unsigned char *digest, uint64_t gen)
{
    for (struct ic_lookup *lk = list; lk != NULL; lk = lk->next)
        if (lk->gen == gen &&
            memcmp(lk->digest, digest, IDENTITY_DIGEST_LEN) == 0)
            return lk;
    return NULL;
}

/* The endpoint failed a lookup; say so at most once per interval. */
static void
ic_log_failure(struct introspector *in, struct ic_lookup *lk)
{
    uint64_t now = clock_mono_ms();
    char *url = NULL, shown[IC_SHOWN], why[96];

    if (in->last_log_ms != 0 && now - in->last_log_ms < IC_LOG_EVERY_MS)
        return;
    in->last_log_ms = now;
    curl_easy_getinfo(lk->easy, CURLINFO_EFFECTIVE_URL, &url);
    log_escape(shown, sizeof(shown),
               (struct slice){url != NULL ? url : "", url ? strlen(url) : 0});
    log_escape(why, sizeof(why),
               (struct slice){lk->errbuf, strlen(lk->errbuf)});
    log_warn("introspection at %s failed: %s%s%s", shown, lk->detail,
             why[0] != '\0' ? ": " : "", why);
}

/*
 * An answer's exp as whole seconds for the cache: at least 1 (0 stands
 * for "no exp"), at most INT64_MAX, whatever the number.
 */
static int64_t
ic_exp_seconds(double d)
{
    d = floor(d);
    if (!(d >= 1.0))
        return 1;
    if (d >= 9.2e18)
        return INT64_MAX;
    return (int64_t)d;
}

/*
 * Classify a well-received body and keep it in the cache when its
 * verdict may be reused. A lookup that started before an eviction is
 * delivered but not kept: its answer may predate the revocation.
 */
static void
ic_classify(struct introspector *in, struct ic_lookup *lk, int64_t now_ms)
{
    struct arena a;
    const struct json_value *ans;
    int64_t exp = 0, until;
    int rc;

    arena_init(&a, 4096, 16 * lk->body.max + 65536);
    rc = introspect_answer_parse(lk->body.data, lk->body.len, lk->body.max,
                                 &a, &ans, &lk->detail);
    if (rc == AW_OK && json_get(ans, "exp") != NULL)
        exp = ic_exp_seconds(json_get(ans, "exp")->u.num.d);
    arena_fini(&a);
    if (rc != AW_OK && rc != AW_DECLINED) {
        lk->outcome = IC_FAILED;
        return;
    }
    lk->outcome = rc == AW_OK ? IC_ACTIVE : IC_INACTIVE;
    if (lk->evictions != atomic_load(&ic_evict_count))
        return;
    until = introspect_cache_until(lk->cache_ttl_ms, lk->negative_ttl_ms,
                                   rc == AW_OK, exp, now_ms);
    introspect_cache_put(in->cache, lk->digest, lk->gen, rc == AW_OK,
                         (struct slice){lk->body.data, lk->body.len}, until,
                         now_ms);
}

/* A transfer ended: judge how, and move the lookup to finished. */
static void
ic_finish(struct introspector *in, struct ic_lookup *lk, CURLcode result)
{
    long status = 0;

    for (struct ic_lookup **pp = &in->flying; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == lk) {
            *pp = lk->next;
            break;
        }
    }
    in->nflying--;
    curl_multi_remove_handle(in->multi, lk->easy);
    curl_easy_getinfo(lk->easy, CURLINFO_RESPONSE_CODE, &status);
    lk->outcome = IC_FAILED;
    if (result == CURLE_OPERATION_TIMEDOUT)
        lk->detail = "the introspection endpoint did not answer in time";
    else if (lk->body.too_big)
        lk->detail = "the introspection answer is larger than max_response";
    else if (result != CURLE_OK)
        lk->detail = "the introspection endpoint could not be reached";
    else if (status != 200)
        lk->detail = "the introspection endpoint did not answer 200";
    else
        ic_classify(in, lk, (int64_t)clock_wall_ms());
    if (lk->outcome == IC_FAILED) {
        in->stats.failures++;
        ic_log_failure(in, lk);
    }
    lk->next = in->finished;
    in->finished = lk;
}

void
introspect_batch(struct introspector *in)
{
    CURLMsg *m;
    int left;

    if (in == NULL)
        return;
    ic_free_dead(in);
    introspect_cache_sync(in->cache, &in->evictions_seen);
    while ((m = curl_multi_info_read(in->multi, &left)) != NULL) {
        struct ic_lookup *lk = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&lk);
        if (lk != NULL)
            ic_finish(in, lk, m->data.result);
    }
    if (in->finished == NULL)
        return;
    if (in->on_done != NULL)
        in->on_done(in->arg);
    while (in->finished != NULL) {
        struct ic_lookup *lk = in->finished;

        in->finished = lk->next;
        ic_lookup_free(lk);
    }
}

/* ------------------------------------------------------------------ */
/* Authentication                                                       */
/* ------------------------------------------------------------------ */

/* 503: no usable answer (rule 6). */
static int
ic_unavailable(struct auth_error *err, const char *detail)
{
    return identity_fail(err, AW_ERROR, 503, "auth.introspection_unavailable",
                         detail, NULL);
}

/*
 * Judge an answer known to be active, from its bytes: they are copied
 * into the request arena, since the tree and the principal outlive the
 * cache entry or the lookup they come from.
 */
static int
ic_judge_body(const struct config_introspection *ci,
              const struct config_route_auth *ra, struct slice body,
              int64_t now, struct arena *a, struct principal *p,
              struct auth_error *err)
{
    const struct json_value *ans;
    const char *detail = "";
    char *copy = arena_dup(a, body.ptr, body.len);
    int rc;

    if (copy == NULL)
        return identity_fail(err, AW_NOMEM, 503, "auth.no_memory",
                             "the request arena is full", NULL);
    rc = introspect_answer_parse(copy, body.len, ci->max_response_bytes, a,
                                 &ans, &detail);
    if (rc == AW_NOMEM)
        return identity_fail(err, AW_NOMEM, 503, "auth.no_memory",
                             "the request arena is full", NULL);
    if (rc != AW_OK)
        return ic_unavailable(err, detail);
    return introspect_answer_judge(ci, ra, ans, (struct slice){copy, body.len},
                                   now, a, p, err);
}

/* A verdict, from a finished lookup or the cache. */
static int
ic_verdict(const struct config_introspection *ci,
           const struct config_route_auth *ra, bool active, struct slice body,
           int64_t now, struct arena *a, struct principal *p,
           struct auth_error *err)
{
    if (!active)
        return identity_refuse(err, "auth.token_inactive",
                               "the token is not active");
    return ic_judge_body(ci, ra, body, now, a, p, err);
}

int
introspect_authenticate(const struct config *cfg,
                        const struct config_route_auth *ra, struct slice token,
                        const unsigned char digest[IDENTITY_DIGEST_LEN],
                        struct introspector *in, int64_t now, bool final,
                        struct arena *a, struct principal *p,
                        struct auth_error *err)
{
    const struct config_introspection *ci = cfg->introspection;
    struct ic_lookup *lk;
    struct slice body;
    bool active;
    int rc;

    if (ci == NULL || in == NULL)
        return ic_unavailable(err, "introspection is not available");
    introspect_cache_sync(in->cache, &in->evictions_seen);
    lk = ic_find(in->finished, digest, cfg->generation);
    if (lk != NULL && lk->outcome == IC_FAILED)
        return ic_unavailable(err, lk->detail);
    if (lk != NULL)
        return ic_verdict(ci, ra, lk->outcome == IC_ACTIVE,
                          (struct slice){lk->body.data, lk->body.len}, now, a,
                          p, err);
    if (introspect_cache_get(in->cache, digest, cfg->generation,
                             (int64_t)clock_wall_ms(), &active,
                             &body) == AW_OK) {
        in->stats.hits++;
        return ic_verdict(ci, ra, active, body, now, a, p, err);
    }
    if (final)
        return ic_unavailable(err, "no introspection answer in time");
    if (ic_find(in->flying, digest, cfg->generation) != NULL) {
        in->stats.coalesced++;
        return AW_AGAIN;
    }
    if (in->nflying >= ci->max_in_flight) {
        in->stats.busy++;
        return identity_fail(err, AW_ERROR, 503, "auth.introspection_busy",
                             "too many introspection requests in flight",
                             NULL);
    }
    rc = ic_start(in, cfg, token, digest);
    if (rc != AW_OK)
        return ic_unavailable(err, "the introspection request could not "
                                   "be made");
    return AW_AGAIN;
}
