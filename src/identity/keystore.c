/*
 * Key store: the sources of issuers' verification keys, and the thread
 * that keeps the remote ones fresh.
 *
 * A source is a JWK Set file, a JWK Set URL or an OpenID Connect
 * discovery document. Sources live in one process-wide list and are
 * found by (kind, location), so that configuration snapshots share them
 * and a reload that still names a source keeps its keys and schedule.
 *
 * Files are read on the thread that loads the configuration. Remote
 * sources are fetched by one thread driving libcurl's multi interface;
 * it is the only code that calls libcurl, so workers never wait on the
 * network: they read the current set with keysource_get and, on a kid
 * they do not know, ask for a refetch and park the request until
 * keystore_generation() moves.
 *
 * Locking. ks.lock guards the list, the reference counts, the requests
 * between workers and the thread (refetch wanted, fetch in flight), the
 * options a reload may replace and the figures behind keysource_stats.
 * The current set of a source is an atomic pointer read without the
 * lock (see ks_publish for how an old set is released). Fields marked
 * "fetch thread" are touched by that thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "identity/identity.h"

#define KS_BODY_FIRST ((size_t)16 << 10)
#define KS_MAX_REDIRS 3L
#define KS_CONNECT_MAX_MS 3000
#define KS_RETRY_FLOOR_MS 1000
#define KS_REFRESH_FLOOR_MS 1000
#define KS_DEFAULT_TIMEOUT_MS 5000
#define KS_LONGEST_SLEEP_MS 60000
#define KS_DISCOVERY_ARENA ((size_t)64 << 10)
#define KS_DISCOVERY_ARENA_MAX ((size_t)8 << 20)
#define KS_SHOWN 192
#define KS_DIGEST 32

/* A response body or file being read; bounded by KEYSTORE_MAX_BODY. */
struct ks_body {
    char *data;
    size_t len;
    size_t cap;
    bool too_big;   /* the bound was hit; the transfer was aborted */
    bool no_memory; /* growing failed; the transfer was aborted */
};

/* Which document a remote fetch is reading. */
enum ks_phase {
    KS_PHASE_DISCOVERY,
    KS_PHASE_JWKS,
};

/* What a fetch or read came to. */
struct ks_result {
    struct jwks *set;        /* a new set to publish, owned; or NULL */
    bool unchanged;          /* same body as the set in use: keep it */
    const char *reason;      /* NULL on success */
    char detail[128];
    uint64_t refresh_ms;     /* the next fetch after a success */
};

struct keysource {
    struct keysource *next;           /* ks.sources */
    enum config_keys_kind kind;
    char *location;                   /* path or URL as configured */
    char shown[KS_SHOWN];             /* for logs: the URL without
                                         credentials or query, escaped */
    bool https;                       /* remote: the URL's scheme */

    /* Under ks.lock. */
    unsigned refs;
    bool dead;                        /* no references; the fetch
                                         thread frees it */
    struct keysource_opts opts;       /* opts.issuer always NULL */
    char *issuer;                     /* expected discovery issuer */
    bool refetch_wanted;              /* a worker asked for a fetch */
    bool in_flight;                   /* a fetch has started */
    uint64_t last_refetch_ms;         /* monotonic; 0: never */
    uint64_t next_ms;                 /* monotonic: next fetch due */
    uint64_t last_ok_wall_ms;         /* 0: never */
    struct keysource_stats stats;     /* less nkeys and age_s */

    /* Any thread. */
    _Atomic(struct jwks *) keys;      /* the current set, or NULL */
    atomic_uint readers;              /* keysource_get in progress */
    atomic_bool pending;              /* no fetch has ended yet */

    /* Fetch thread. */
    CURL *easy;                       /* the request in flight */
    struct ks_body body;
    char errbuf[CURL_ERROR_SIZE];
    enum ks_phase phase;
    struct keysource_opts fopts;      /* opts when the fetch began */
    char *jwks_uri;                   /* from the discovery document */
    unsigned fails;                   /* consecutive failed fetches */
    bool outage_logged;
    unsigned char digest[KS_DIGEST];  /* of the body of the set in use */
    bool have_digest;
};

/* The process-wide store. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;     /* a fetch ended; valid while running */
    struct keysource *sources;
    CURLM *multi;               /* set while the thread runs */
    pthread_t thread;
    bool running;
    bool stopping;
    void (*on_change)(void *);
    void *arg;
} ks = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_uint_fast64_t ks_generation;

static void
ks_body_reset(struct ks_body *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

/* Make room for need bytes, doubling up to KEYSTORE_MAX_BODY. */
static int
ks_body_reserve(struct ks_body *b, size_t need)
{
    size_t cap = b->cap == 0 ? KS_BODY_FIRST : b->cap;
    char *p;

    if (need > KEYSTORE_MAX_BODY) {
        b->too_big = true;
        return AW_TOOBIG;
    }
    if (need <= b->cap)
        return AW_OK;
    while (cap < need)
        cap *= 2;
    cap = MIN(cap, KEYSTORE_MAX_BODY);
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->no_memory = true;
        return AW_NOMEM;
    }
    b->data = p;
    b->cap = cap;
    return AW_OK;
}

/*
 * libcurl's write callback: append to the body. Returning less than
 * the chunk's size aborts the transfer, which is how the bound on the
 * body is enforced even without a Content-Length.
 */
static size_t
ks_on_body(char *chunk, size_t size, size_t n, void *arg)
{
    struct ks_body *b = arg;
    size_t len = size * n;

    if (ks_body_reserve(b, b->len + len) != AW_OK)
        return 0;
    memcpy(b->data + b->len, chunk, len);
    b->len += len;
    return len;
}

/* Record a failure in r; returns AW_ERROR for the caller's rc. */
static int AW_PRINTF(3, 4)
ks_fail(struct ks_result *r, const char *reason, const char *fmt, ...)
{
    va_list ap;

    r->reason = reason;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
    va_end(ap);
    return AW_ERROR;
}

/* A URL taken apart for the checks below. */
struct ks_url {
    bool https;
    bool loopback;
    char shown[KS_SHOWN];
};

/* True when host (as libcurl gives it) names this machine. */
static bool
ks_host_is_loopback(const char *host)
{
    unsigned char a[16];
    char v6[INET6_ADDRSTRLEN];
    size_t len = strlen(host);

    if (strcasecmp(host, "localhost") == 0)
        return true;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (len < 3 || len - 2 >= sizeof(v6) || host[0] != '[')
        return false;
    memcpy(v6, host + 1, len - 2);
    v6[len - 2] = '\0';
    return inet_pton(AF_INET6, v6, a) == 1 &&
           memcmp(a, &in6addr_loopback, sizeof(a)) == 0;
}

/*
 * Fill u->shown with scheme://host[:port]/path, escaped: what the logs
 * may show of a URL. Credentials and the query are left out because
 * either may carry a secret.
 */
static void
ks_url_shown(CURLU *h, const char *scheme, const char *host,
             struct ks_url *u)
{
    char *port = NULL;
    char *path = NULL;
    char raw[KS_SHOWN * 2];
    int n;

    curl_url_get(h, CURLUPART_PORT, &port, 0);
    curl_url_get(h, CURLUPART_PATH, &path, 0);
    n = snprintf(raw, sizeof(raw), "%s://%s%s%s%s", scheme, host,
                 port != NULL ? ":" : "", port != NULL ? port : "",
                 path != NULL ? path : "");
    if (n < 0)
        n = 0;
    log_escape(u->shown, sizeof(u->shown),
               (struct slice){raw, MIN((size_t)n, sizeof(raw) - 1)});
    curl_free(port);
    curl_free(path);
}

/*
 * Check that url is an absolute http or https URL with a host, and
 * describe it in u. Returns AW_OK, AW_INVALID with a message in err, or
 * AW_NOMEM.
 */
static int
ks_url_check(const char *url, struct ks_url *u, char *err, size_t errlen)
{
    CURLU *h = curl_url();
    char *scheme = NULL;
    char *host = NULL;
    int rc = AW_INVALID;

    if (h == NULL)
        return AW_NOMEM;
    if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
        snprintf(err, errlen, "not an absolute URL with a host");
        goto out;
    }
    u->https = strcmp(scheme, "https") == 0;
    if (!u->https && strcmp(scheme, "http") != 0) {
        snprintf(err, errlen, "scheme must be http or https");
        goto out;
    }
    u->loopback = ks_host_is_loopback(host);
    ks_url_shown(h, scheme, host, u);
    rc = AW_OK;
out:
    curl_free(host);
    curl_free(scheme);
    curl_url_cleanup(h);
    return rc;
}

/* Copy o into dst, raising the bounds the contract raises. */
static void
ks_opts_norm(struct keysource_opts *dst, const struct keysource_opts *o)
{
    *dst = *o;
    dst->issuer = NULL;
    dst->refresh_min_ms = MAX(dst->refresh_min_ms, KS_REFRESH_FLOOR_MS);
    dst->refresh_max_ms = MAX(dst->refresh_max_ms, dst->refresh_min_ms);
    if (dst->timeout_ms == 0)
        dst->timeout_ms = KS_DEFAULT_TIMEOUT_MS;
}

/* Free a source that no list or thread can reach any more. */
static void
ks_source_free(struct keysource *s)
{
    if (s->easy != NULL) {
        curl_multi_remove_handle(ks.multi, s->easy);
        curl_easy_cleanup(s->easy);
    }
    ks_body_reset(&s->body);
    jwks_unref(atomic_load(&s->keys));
    free(s->jwks_uri);
    free(s->issuer);
    free(s->location);
    free(s);
}

/* Replace s->issuer with a copy of issuer (NULL allowed). Locked. */
static int
ks_set_issuer(struct keysource *s, const char *issuer)
{
    char *copy = NULL;

    if (issuer != NULL && (copy = strdup(issuer)) == NULL)
        return AW_NOMEM;
    free(s->issuer);
    s->issuer = copy;
    return AW_OK;
}

/* A new source holding one reference, not yet in the list. */
static struct keysource *
ks_source_new(enum config_keys_kind kind, const char *location,
              const struct keysource_opts *o)
{
    struct keysource *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->kind = kind;
    s->refs = 1;
    ks_opts_norm(&s->opts, o);
    atomic_init(&s->keys, NULL);
    atomic_init(&s->readers, 0);
    atomic_init(&s->pending, kind != KEYS_FILE);
    s->location = strdup(location);
    if (s->location == NULL || ks_set_issuer(s, o->issuer) != AW_OK) {
        ks_source_free(s);
        return NULL;
    }
    return s;
}

/* The source for (kind, location), or NULL. Locked. */
static struct keysource *
ks_find(enum config_keys_kind kind, const char *location)
{
    for (struct keysource *s = ks.sources; s != NULL; s = s->next)
        if (s->kind == kind && strcmp(s->location, location) == 0)
            return s;
    return NULL;
}

/*
 * Take a reference on an existing source for a new configuration, whose
 * options replace the old ones. A source whose references had all gone
 * but that the fetch thread has not freed yet comes back to life with
 * its keys. Locked.
 */
static int
ks_reuse(struct keysource *s, const struct keysource_opts *o)
{
    int rc = ks_set_issuer(s, o->issuer);

    if (rc != AW_OK)
        return rc;
    ks_opts_norm(&s->opts, o);
    s->refs++;
    s->dead = false;
    return AW_OK;
}

/*
 * Make set the current set of s and release the previous one.
 *
 * Readers load the pointer and take a reference inside a window that
 * they announce in s->readers. Once the pointer is swapped, a reader
 * that starts later can only see the new set, so when no window is open
 * the old set can have no reader left that has not taken its reference;
 * the writer waits for that moment, which lasts a few instructions.
 * Every operation is sequentially consistent, which this argument needs.
 */
static void
ks_publish(struct keysource *s, struct jwks *set)
{
    struct jwks *old = atomic_exchange(&s->keys, set);

    while (atomic_load(&s->readers) != 0)
        sched_yield();
    jwks_unref(old);
}

struct jwks *
keysource_get(struct keysource *s)
{
    struct jwks *set;

    atomic_fetch_add(&s->readers, 1);
    set = atomic_load(&s->keys);
    if (set != NULL)
        jwks_ref(set);
    atomic_fetch_sub(&s->readers, 1);
    return set;
}

/* Log what jwks_parse noted about the entries of a new set. */
static void
ks_log_notes(const char *shown, const struct jwks *set)
{
    size_t n;
    const struct jwks_note *notes = jwks_notes(set, &n);

    for (size_t i = 0; i < n; i++)
        log_warn("keys %s: entry %zu (kid \"%s\") %s: %s (%s)", shown,
                 notes[i].index, notes[i].kid,
                 notes[i].skipped ? "skipped" : "kept", notes[i].reason,
                 notes[i].detail);
}

/*
 * Build a set from buf[0..len) into r->set; shown names the source in
 * the log. A set in which no entry
 * could be loaded is a failure too: the caller keeps the set it has.
 * Returns AW_OK or AW_ERROR with r's reason set.
 */
static int
ks_parse_set(const char *shown, const char *buf, size_t len, unsigned flags,
             struct ks_result *r)
{
    struct jose_error jerr;
    struct jwks *set;
    size_t n;
    int rc = jwks_parse(buf, len, flags, &set, &jerr);

    if (rc == AW_NOMEM)
        return ks_fail(r, "jwks.no_memory", "while parsing the set");
    if (rc != AW_OK)
        return ks_fail(r, jerr.reason, "%s", jerr.detail);
    ks_log_notes(shown, set);
    if (jwks_count(set) == 0) {
        const struct jwks_note *notes = jwks_notes(set, &n);

        /* The notes live in the set: report before letting it go. */
        if (n == 0)
            rc = ks_fail(r, "jwks.no_usable_key", "the set is empty");
        else
            rc = ks_fail(r, "jwks.no_usable_key",
                         "%zu entries, none usable; first: %s", n,
                         notes[0].reason);
        jwks_unref(set);
        return rc;
    }
    r->set = set;
    return AW_OK;
}

/*
 * Read the regular file at path into b. A file of more than
 * KEYSTORE_MAX_BODY bytes is refused, which one extra byte read past
 * the bound tells even when the file grows while it is read. Returns
 * AW_OK or AW_ERROR with r's reason set.
 */
static int
ks_read_file(const char *path, struct ks_body *b, struct ks_result *r)
{
    struct stat st;
    ssize_t got = 1;
    char extra;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return ks_fail(r, "jwks.read_failed", "%s", strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return ks_fail(r, "jwks.read_failed", "not a regular file");
    }
    while (got > 0 && b->len < KEYSTORE_MAX_BODY) {
        if (b->len == b->cap && ks_body_reserve(b, b->len + 1) != AW_OK)
            break;
        got = read(fd, b->data + b->len, b->cap - b->len);
        if (got > 0)
            b->len += (size_t)got;
    }
    if (got > 0 && b->len == KEYSTORE_MAX_BODY && read(fd, &extra, 1) > 0)
        b->too_big = true;
    close(fd);
    if (b->too_big)
        return ks_fail(r, "jwks.too_large", "file over 1 MiB");
    if (b->no_memory)
        return ks_fail(r, "jwks.no_memory", "while reading the file");
    if (got < 0)
        return ks_fail(r, "jwks.read_failed", "%s", strerror(errno));
    return AW_OK;
}

/* Read and parse the key file at path (shown for the log) into r. */
static int
ks_load_file(const char *path, const char *shown, struct ks_result *r)
{
    struct ks_body b = {0};
    int rc = ks_read_file(path, &b, r);

    if (rc == AW_OK)
        rc = ks_parse_set(shown, b.data == NULL ? "" : b.data, b.len, 0, r);
    ks_body_reset(&b);
    return rc;
}

/* Count a fetch or read that ended in r in s's figures. Locked. */
static void
ks_count(struct keysource *s, const struct ks_result *r)
{
    s->stats.fetches++;
    s->stats.failing = r->reason != NULL;
    if (r->reason == NULL) {
        s->last_ok_wall_ms = clock_wall_ms();
        return;
    }
    s->stats.failures++;
    s->stats.last_reason = r->reason;
    memcpy(s->stats.last_detail, r->detail, sizeof(r->detail));
}

/*
 * keystore_source for a file: read it first, without the lock, then
 * find or create the source. A failed read of a known file is counted
 * and reported, and its previous set stays.
 */
static int
ks_file_source(const char *path, const struct keysource_opts *o,
               struct keysource **out, char *err, size_t errlen)
{
    char shown[KS_SHOWN];
    struct ks_result r = {0};
    struct keysource *s;
    bool fresh = false;
    int rc;

    log_escape(shown, sizeof(shown), (struct slice){path, strlen(path)});
    rc = ks_load_file(path, shown, &r);
    pthread_mutex_lock(&ks.lock);
    s = ks_find(KEYS_FILE, path);
    if (rc != AW_OK) {
        if (s != NULL)
            ks_count(s, &r);
        pthread_mutex_unlock(&ks.lock);
        snprintf(err, errlen, "%s: %s (%s)%s", shown, r.reason, r.detail,
                 s != NULL ? "; the keys read before stay in use" : "");
        return strcmp(r.reason, "jwks.no_memory") == 0 ? AW_NOMEM
                                                       : AW_INVALID;
    }
    if (s == NULL) {
        fresh = true;
        s = ks_source_new(KEYS_FILE, path, o);
        if (s != NULL) {
            memcpy(s->shown, shown, sizeof(s->shown));
            atomic_store(&s->keys, r.set);
            s->next = ks.sources;
            ks.sources = s;
        }
        rc = s != NULL ? AW_OK : AW_NOMEM;
    } else {
        rc = ks_reuse(s, o);
    }
    if (rc == AW_OK)
        ks_count(s, &r);
    pthread_mutex_unlock(&ks.lock);
    if (rc != AW_OK) {
        jwks_unref(r.set);
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (!fresh)
        ks_publish(s, r.set);
    *out = s;
    return AW_OK;
}

/*
 * keystore_source for a URL or a discovery document: check the URL,
 * find or create the source, and wake the fetch thread so that a new
 * source is fetched at once.
 */
static int
ks_remote_source(enum config_keys_kind kind, const char *url,
                 const struct keysource_opts *o, struct keysource **out,
                 char *err, size_t errlen)
{
    struct ks_url u;
    struct keysource *s;
    int rc = ks_url_check(url, &u, err, errlen);

    if (rc != AW_OK)
        return rc;
    if (!u.https && !u.loopback)
        log_warn("keys %s: plain http to a host that is not loopback: "
                 "anyone on the path can replace the keys", u.shown);
    pthread_mutex_lock(&ks.lock);
    s = ks_find(kind, url);
    if (s != NULL) {
        rc = ks_reuse(s, o);
    } else if ((s = ks_source_new(kind, url, o)) != NULL) {
        memcpy(s->shown, u.shown, sizeof(s->shown));
        s->https = u.https;
        s->next = ks.sources;
        ks.sources = s;
    } else {
        rc = AW_NOMEM;
    }
    if (rc == AW_OK && ks.running)
        curl_multi_wakeup(ks.multi);
    pthread_mutex_unlock(&ks.lock);
    if (rc != AW_OK) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    *out = s;
    return AW_OK;
}

int
keystore_source(enum config_keys_kind kind, const char *location,
                const struct keysource_opts *o, struct keysource **out,
                char *err, size_t errlen)
{
    *out = NULL;
    if (kind == KEYS_FILE)
        return ks_file_source(location, o, out, err, errlen);
    if (kind == KEYS_URL || kind == KEYS_DISCOVERY)
        return ks_remote_source(kind, location, o, out, err, errlen);
    snprintf(err, errlen, "unknown kind of key source");
    return AW_INVALID;
}

/* Unlink s from the list. Locked. */
static void
ks_unlink(struct keysource *s)
{
    for (struct keysource **pp = &ks.sources; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            return;
        }
    }
}

/*
 * While the fetch thread runs it may be using the source (a request in
 * flight), so it is the one that frees it; otherwise it goes now.
 */
void
keysource_unref(struct keysource *s)
{
    bool gone = false;

    if (s == NULL)
        return;
    pthread_mutex_lock(&ks.lock);
    if (--s->refs == 0) {
        if (ks.running) {
            s->dead = true;
            curl_multi_wakeup(ks.multi);
        } else {
            ks_unlink(s);
            gone = true;
        }
    }
    pthread_mutex_unlock(&ks.lock);
    if (gone)
        ks_source_free(s);
}

int
keysource_refetch(struct keysource *s)
{
    uint64_t now = clock_mono_ms();
    int rc = AW_AGAIN;

    if (s->kind == KEYS_FILE)
        return AW_DECLINED;
    pthread_mutex_lock(&ks.lock);
    if (!ks.running) {
        rc = AW_DECLINED;
    } else if (s->in_flight || s->refetch_wanted) {
        rc = AW_AGAIN;
    } else if (s->last_refetch_ms != 0 &&
               now - s->last_refetch_ms < s->opts.unknown_kid_ms) {
        rc = AW_DECLINED;
    } else {
        s->last_refetch_ms = MAX(now, 1);
        s->refetch_wanted = true;
        curl_multi_wakeup(ks.multi);
    }
    pthread_mutex_unlock(&ks.lock);
    return rc;
}

bool
keysource_pending(const struct keysource *s)
{
    return atomic_load((atomic_bool *)&s->pending);
}

void
keysource_stats(const struct keysource *s, struct keysource_stats *st)
{
    struct jwks *set = keysource_get((struct keysource *)s);
    uint64_t ok_ms;

    pthread_mutex_lock(&ks.lock);
    *st = s->stats;
    ok_ms = s->last_ok_wall_ms;
    pthread_mutex_unlock(&ks.lock);
    st->nkeys = set != NULL ? jwks_count(set) : 0;
    st->age_s = ok_ms == 0 ? -1 : (int64_t)((clock_wall_ms() - ok_ms) / 1000);
    jwks_unref(set);
}

uint64_t
keystore_generation(void)
{
    return atomic_load(&ks_generation);
}

/* ------------------------------------------------------------------ */
/* The fetch thread                                                   */
/* ------------------------------------------------------------------ */

/*
 * Point s->easy at url with every option the contract lists. Redirects
 * may go to https, or to http only when url itself is http.
 */
static int
ks_easy_setup(struct keysource *s, const char *url)
{
    CURL *e = s->easy;
    long timeout = (long)MIN(s->fopts.timeout_ms, (uint64_t)LONG_MAX);
    const char *redir =
        strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https";

    if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, s) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, redir) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, KS_MAX_REDIRS) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                         MIN(timeout, (long)KS_CONNECT_MAX_MS)) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "apiward/" APIWARD_VERSION) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ks_on_body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &s->body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)KEYSTORE_MAX_BODY) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf) != CURLE_OK)
        return AW_ERROR;
    return AW_OK;
}

/* Start a request of s for url. Returns AW_OK or AW_ERROR/AW_NOMEM. */
static int
ks_request(struct keysource *s, const char *url)
{
    int rc;

    ks_body_reset(&s->body);
    s->errbuf[0] = '\0';
    if (s->easy == NULL && (s->easy = curl_easy_init()) == NULL)
        return AW_NOMEM;
    rc = ks_easy_setup(s, url);
    if (rc == AW_OK && curl_multi_add_handle(ks.multi, s->easy) != CURLM_OK)
        rc = AW_ERROR;
    return rc;
}

/* Take s's request out of the multi handle and free it. */
static void
ks_request_end(struct keysource *s)
{
    if (s->easy != NULL) {
        curl_multi_remove_handle(ks.multi, s->easy);
        curl_easy_cleanup(s->easy);
        s->easy = NULL;
    }
    ks_body_reset(&s->body);
}

/*
 * Begin a fetch of s. A discovery source reads its document first,
 * except on a refetch for an unknown kid once its jwks_uri is known:
 * then the set alone is read, which is what may have changed. Locked.
 * Returns AW_OK, or a failure that ks_conclude_locked must record.
 */
static int
ks_begin(struct keysource *s)
{
    const char *url = s->location;

    s->phase = KS_PHASE_JWKS;
    if (s->kind == KEYS_DISCOVERY) {
        if (s->jwks_uri == NULL || !s->refetch_wanted)
            s->phase = KS_PHASE_DISCOVERY;
        else
            url = s->jwks_uri;
    }
    s->fopts = s->opts;
    s->refetch_wanted = false;
    s->in_flight = true;
    return ks_request(s, url);
}

/* Delay before the fetch after a success, from Cache-Control. */
struct ks_cache {
    bool no_cache;      /* no-cache or no-store */
    bool has_max_age;
    uint64_t max_age_s; /* the smallest max-age given */
};

/*
 * Fold one directive into c. Names are case-insensitive; max-age may be
 * quoted; a max-age that is not a number is ignored, and one too large
 * for the counter counts as huge (the ceiling applies anyway). When
 * max-age is given twice, the shorter wins.
 */
static void
ks_cache_directive(struct slice d, struct ks_cache *c)
{
    struct slice num = {d.ptr + 8, d.len - 8};
    uint64_t age;
    int rc;

    if (slice_is(d, "no-cache") || slice_is(d, "no-store"))
        c->no_cache = true;
    if (d.len <= 8 || !slice_is((struct slice){d.ptr, 8}, "max-age="))
        return;
    if (num.len >= 2 && num.ptr[0] == '"' && num.ptr[num.len - 1] == '"')
        num = (struct slice){num.ptr + 1, num.len - 2};
    rc = slice_to_u64(num, UINT64_MAX / 1000, &age);
    if (rc == AW_TOOBIG)
        age = UINT64_MAX / 1000;
    else if (rc != AW_OK)
        return;
    c->max_age_s = c->has_max_age ? MIN(c->max_age_s, age) : age;
    c->has_max_age = true;
}

/* Fold every directive of one Cache-Control field value into c. */
static void
ks_cache_parse(const char *v, struct ks_cache *c)
{
    for (;;) {
        size_t len = strcspn(v, ",");

        ks_cache_directive(slice_trim_blanks((struct slice){v, len}), c);
        if (v[len] == '\0')
            return;
        v += len + 1;
    }
}

/*
 * When the set just fetched is next due, from every Cache-Control field
 * of the last response (after redirects), clamped to the options.
 */
static uint64_t
ks_refresh_ms(struct keysource *s)
{
    const struct keysource_opts *o = &s->fopts;
    struct ks_cache c = {0};
    struct curl_header *h;
    size_t amount = 1;

    for (size_t i = 0; i < amount; i++) {
        if (curl_easy_header(s->easy, "Cache-Control", i, CURLH_HEADER, -1,
                             &h) != CURLHE_OK)
            break;
        amount = h->amount;
        ks_cache_parse(h->value, &c);
    }
    if (c.no_cache)
        return o->refresh_min_ms;
    if (!c.has_max_age)
        return o->refresh_max_ms;
    return MIN(MAX(c.max_age_s * 1000, o->refresh_min_ms),
               o->refresh_max_ms);
}

/* Delay before retry number fails (1, 2, ...) after a failure. */
static uint64_t
ks_backoff_ms(const struct keysource_opts *o, unsigned fails)
{
    uint64_t d = MAX(o->refresh_min_ms / 8, (uint64_t)KS_RETRY_FLOOR_MS);

    for (unsigned i = 1; i < fails && d < o->refresh_min_ms; i++)
        d *= 2;
    return MAX(MIN(d, o->refresh_min_ms), (uint64_t)KS_RETRY_FLOOR_MS);
}

/*
 * Judge how the transfer of s ended: res from libcurl, then the status.
 * Returns AW_OK for a 200 with its whole body, else AW_ERROR with r's
 * reason set.
 */
static int
ks_check_transfer(struct keysource *s, CURLcode res, struct ks_result *r)
{
    const char *why = s->errbuf[0] != '\0' ? s->errbuf
                                           : curl_easy_strerror(res);
    long status = 0;

    if (res == CURLE_FILESIZE_EXCEEDED || s->body.too_big)
        return ks_fail(r, "jwks.too_large", "body over 1 MiB");
    if (s->body.no_memory)
        return ks_fail(r, "jwks.no_memory", "while receiving the body");
    if (res == CURLE_OPERATION_TIMEDOUT)
        return ks_fail(r, "jwks.timeout", "%s", why);
    if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST)
        return ks_fail(r, "jwks.connect_failed", "%s", why);
    if (res != CURLE_OK)
        return ks_fail(r, "jwks.fetch_failed", "%s", why);
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return ks_fail(r, "jwks.http_status", "HTTP status %ld", status);
    return AW_OK;
}

/*
 * Compare the discovery document's "issuer" with the expected one, if
 * any. The expectation may be replaced by a reload, hence the lock.
 */
static int
ks_check_issuer(struct keysource *s, const struct json_value *doc,
                struct ks_result *r)
{
    struct slice got = json_str(json_get(doc, "issuer"));
    char shown[64];
    bool ok;

    pthread_mutex_lock(&ks.lock);
    ok = s->issuer == NULL ||
         (got.ptr != NULL && slice_eq(got, (struct slice){
                                          s->issuer, strlen(s->issuer)}));
    pthread_mutex_unlock(&ks.lock);
    if (ok)
        return AW_OK;
    log_escape(shown, sizeof(shown), got);
    return ks_fail(r, "jwks.issuer_mismatch", "document names \"%s\"",
                   got.ptr != NULL ? shown : "(none)");
}

/*
 * Take "jwks_uri" from a discovery document and keep it in s. The set
 * must be served over https, or over http when the document was.
 */
static int
ks_take_jwks_uri(struct keysource *s, const struct json_value *doc,
                 struct ks_result *r)
{
    struct slice uri = json_str(json_get(doc, "jwks_uri"));
    char msg[96];
    struct ks_url u;
    char *copy;

    if (uri.ptr == NULL || memchr(uri.ptr, '\0', uri.len) != NULL)
        return ks_fail(r, "jwks.bad_discovery", "no jwks_uri string");
    if (ks_url_check(uri.ptr, &u, msg, sizeof(msg)) != AW_OK)
        return ks_fail(r, "jwks.bad_discovery", "jwks_uri: %s", msg);
    if (s->https && !u.https)
        return ks_fail(r, "jwks.bad_discovery", "jwks_uri is not https");
    if (s->jwks_uri != NULL && strcmp(s->jwks_uri, uri.ptr) == 0)
        return AW_OK;
    if ((copy = strdup(uri.ptr)) == NULL)
        return ks_fail(r, "jwks.no_memory", "jwks_uri");
    log_info("keys %s: the key set is at %s", s->shown, u.shown);
    if (!u.https && !u.loopback)
        log_warn("keys %s: plain http to a host that is not loopback: "
                 "anyone on the path can replace the keys", u.shown);
    free(s->jwks_uri);
    s->jwks_uri = copy;
    return AW_OK;
}

/*
 * The discovery document has arrived: check it and start reading the
 * set it names. Returns AW_OK when that request is under way, else
 * AW_ERROR with r's reason set.
 */
static int
ks_discovered(struct keysource *s, struct ks_result *r)
{
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *doc = NULL;
    struct arena a;
    int rc;

    json_limits_default(&lim);
    lim.max_bytes = KEYSTORE_MAX_BODY;
    arena_init(&a, KS_DISCOVERY_ARENA, KS_DISCOVERY_ARENA_MAX);
    rc = json_parse(s->body.data, s->body.len, &lim, &a, &doc, &jerr);
    if (rc != AW_OK || !json_is(doc, JSON_OBJECT))
        rc = ks_fail(r, "jwks.bad_discovery", "not a JSON object (%s)",
                     rc != AW_OK ? jerr.reason : "other type");
    else if ((rc = ks_check_issuer(s, doc, r)) == AW_OK)
        rc = ks_take_jwks_uri(s, doc, r);
    arena_fini(&a);
    if (rc != AW_OK)
        return rc;
    curl_multi_remove_handle(ks.multi, s->easy);
    s->phase = KS_PHASE_JWKS;
    if (ks_request(s, s->jwks_uri) != AW_OK)
        return ks_fail(r, "jwks.no_memory", "starting the key set request");
    return AW_OK;
}

/*
 * The set's body has arrived: build the set, unless the body is the
 * one the set in use came from, and work out the next refresh.
 */
static int
ks_received(struct keysource *s, struct ks_result *r)
{
    const char *body = s->body.data == NULL ? "" : s->body.data;
    unsigned char digest[KS_DIGEST];
    int rc;

    r->refresh_ms = ks_refresh_ms(s);
    if (EVP_Digest(body, s->body.len, digest, NULL, EVP_sha256(),
                   NULL) != 1)
        return ks_fail(r, "jwks.no_memory", "hashing the body");
    if (s->have_digest && memcmp(digest, s->digest, KS_DIGEST) == 0 &&
        atomic_load(&s->keys) != NULL) {
        r->unchanged = true;
        return AW_OK;
    }
    rc = ks_parse_set(s->shown, body, s->body.len, JWKS_PUBLIC_ONLY, r);
    if (rc == AW_OK) {
        memcpy(s->digest, digest, KS_DIGEST);
        s->have_digest = true;
    }
    return rc;
}

/*
 * Log a failure once per outage and the recovery once; the retries in
 * between go to the debug level. Locked.
 */
static void
ks_log_outcome(struct keysource *s, const struct ks_result *r,
               uint64_t delay)
{
    if (r->reason == NULL) {
        if (s->outage_logged)
            log_info("keys %s: fetched again after %u failed attempts",
                     s->shown, s->fails);
        s->outage_logged = false;
        return;
    }
    if (s->outage_logged) {
        log_debug("keys %s: retry %u failed: %s (%s)", s->shown, s->fails,
                  r->reason, r->detail);
        return;
    }
    s->outage_logged = true;
    log_warn("keys %s: fetch failed: %s (%s); %s; retrying in %llu ms",
             s->shown, r->reason, r->detail,
             atomic_load(&s->keys) != NULL ? "keeping the keys in use"
                                           : "no keys yet",
             (unsigned long long)delay);
}

/*
 * Record the end of a fetch of s (r says how it went) and schedule the
 * next one. Locked; the caller tells the world with ks_notify after
 * unlocking.
 */
static void
ks_conclude_locked(struct keysource *s, const struct ks_result *r)
{
    uint64_t delay;

    bool ok = r->reason == NULL;

    if (!ok)
        s->fails++;
    delay = ok ? r->refresh_ms : ks_backoff_ms(&s->fopts, s->fails);
    ks_log_outcome(s, r, delay);
    if (ok)
        s->fails = 0;
    s->in_flight = false;
    s->next_ms = clock_mono_ms() + delay;
    s->stats.refresh_ms = delay;
    ks_count(s, r);
    atomic_store(&s->pending, false);
    atomic_fetch_add(&ks_generation, 1);
    pthread_cond_broadcast(&ks.changed);
}

/* Tell the proxy that a fetch ended. Not locked. */
static void
ks_notify(void)
{
    if (ks.on_change != NULL)
        ks.on_change(ks.arg);
}

/*
 * A request of s is over: move to the next phase or finish the fetch,
 * publishing the new set if there is one.
 */
static void
ks_on_done(struct keysource *s, CURLcode res)
{
    struct ks_result r = {0};
    int rc = ks_check_transfer(s, res, &r);

    if (rc == AW_OK && s->phase == KS_PHASE_DISCOVERY) {
        if (ks_discovered(s, &r) == AW_OK)
            return;
    } else if (rc == AW_OK) {
        ks_received(s, &r);
    }
    ks_request_end(s);
    if (r.set != NULL)
        ks_publish(s, r.set);
    pthread_mutex_lock(&ks.lock);
    ks_conclude_locked(s, &r);
    pthread_mutex_unlock(&ks.lock);
    ks_notify();
}

/* Run the transfers and handle the ones that finished. */
static void
ks_perform(void)
{
    CURLMsg *m;
    int running;
    int left;

    curl_multi_perform(ks.multi, &running);
    while ((m = curl_multi_info_read(ks.multi, &left)) != NULL) {
        char *s = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
        ks_on_done((struct keysource *)(void *)s, m->data.result);
    }
}

/* Free the sources whose references have all gone. Locked. */
static void
ks_reap(void)
{
    struct keysource **pp = &ks.sources;

    while (*pp != NULL) {
        struct keysource *s = *pp;

        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        ks_source_free(s);
    }
}

/*
 * Begin the fetches that are due: asked for by a worker, or scheduled.
 * Returns true when one failed to begin and so ended at once (the
 * caller then calls ks_notify). Locked.
 */
static bool
ks_begin_due(void)
{
    uint64_t now = clock_mono_ms();
    bool ended = false;

    for (struct keysource *s = ks.sources; s != NULL; s = s->next) {
        struct ks_result r = {0};

        if (s->kind == KEYS_FILE || s->in_flight)
            continue;
        if (!s->refetch_wanted && now < s->next_ms)
            continue;
        if (ks_begin(s) == AW_OK)
            continue;
        ks_fail(&r, "jwks.no_memory", "starting the request");
        ks_request_end(s);
        ks_conclude_locked(s, &r);
        ended = true;
    }
    return ended;
}

/* How long the thread may sleep before a fetch is due. Locked. */
static int
ks_sleep_ms(void)
{
    uint64_t now = clock_mono_ms();
    uint64_t ms = KS_LONGEST_SLEEP_MS;

    for (const struct keysource *s = ks.sources; s != NULL; s = s->next) {
        if (s->kind == KEYS_FILE || s->in_flight)
            continue;
        if (s->refetch_wanted || s->dead || s->next_ms <= now)
            return 0;
        ms = MIN(ms, s->next_ms - now);
    }
    return (int)ms;
}

/*
 * The fetch thread: begin what is due, let libcurl work, handle what
 * finished, and sleep until the next due time, a transfer's event or a
 * wake-up (a new source, a refetch, a dropped source, stop).
 */
static void *
ks_main(void *arg)
{
    for (;;) {
        bool ended;
        int sleep_ms;

        pthread_mutex_lock(&ks.lock);
        if (ks.stopping) {
            pthread_mutex_unlock(&ks.lock);
            break;
        }
        ks_reap();
        ended = ks_begin_due();
        pthread_mutex_unlock(&ks.lock);
        if (ended)
            ks_notify();
        ks_perform();
        pthread_mutex_lock(&ks.lock);
        sleep_ms = ks_sleep_ms();
        pthread_mutex_unlock(&ks.lock);
        curl_multi_poll(ks.multi, NULL, 0, sleep_ms, NULL);
    }
    return arg;
}

/*
 * True when every remote source has a set and its first fetch is
 * concluded. Locked. A set is published before the fetch is counted
 * (ks_on_done), so the set alone would let a waiter woken in between
 * see a ready source with no fetch in its figures.
 */
static bool
ks_ready_locked(void)
{
    for (const struct keysource *s = ks.sources; s != NULL; s = s->next)
        if (!s->dead && s->kind != KEYS_FILE &&
            (atomic_load(&s->keys) == NULL ||
             atomic_load((atomic_bool *)&s->pending)))
            return false;
    return true;
}

bool
keystore_ready(void)
{
    bool ready;

    pthread_mutex_lock(&ks.lock);
    ready = ks_ready_locked();
    pthread_mutex_unlock(&ks.lock);
    return ready;
}

/* Wait until every remote source has a set or wait_ms has passed. */
static bool
ks_wait_ready(uint64_t wait_ms)
{
    struct timespec until;
    bool ready;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&ks.lock);
    while (!(ready = ks_ready_locked()))
        if (pthread_cond_timedwait(&ks.changed, &ks.lock, &until) != 0)
            break;
    pthread_mutex_unlock(&ks.lock);
    return ready;
}

/* The condition variable, timed on the monotonic clock. */
static int
ks_cond_init(void)
{
    pthread_condattr_t attr;
    int err;

    if (pthread_condattr_init(&attr) != 0)
        return AW_ERROR;
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (err == 0)
        err = pthread_cond_init(&ks.changed, &attr);
    pthread_condattr_destroy(&attr);
    return err == 0 ? AW_OK : AW_ERROR;
}

int
keystore_start(uint64_t wait_ms, void (*on_change)(void *), void *arg)
{
    int rc = AW_ERROR;

    if (ks.running || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return AW_ERROR;
    if (ks_cond_init() != AW_OK)
        goto fail_curl;
    if ((ks.multi = curl_multi_init()) == NULL)
        goto fail_cond;
    ks.on_change = on_change;
    ks.arg = arg;
    pthread_mutex_lock(&ks.lock);
    ks.running = true;
    if (pthread_create(&ks.thread, NULL, ks_main, NULL) != 0) {
        ks.running = false;
        pthread_mutex_unlock(&ks.lock);
        goto fail_multi;
    }
    pthread_mutex_unlock(&ks.lock);
    return ks_wait_ready(wait_ms) ? AW_OK : AW_AGAIN;

fail_multi:
    curl_multi_cleanup(ks.multi);
    ks.multi = NULL;
fail_cond:
    pthread_cond_destroy(&ks.changed);
fail_curl:
    curl_global_cleanup();
    return rc;
}

void
keystore_stop(void)
{
    pthread_mutex_lock(&ks.lock);
    if (!ks.running) {
        pthread_mutex_unlock(&ks.lock);
        return;
    }
    ks.stopping = true;
    curl_multi_wakeup(ks.multi);
    pthread_mutex_unlock(&ks.lock);
    pthread_join(ks.thread, NULL);

    /* The thread is gone: abort what it left in flight. */
    pthread_mutex_lock(&ks.lock);
    ks_reap();
    for (struct keysource *s = ks.sources; s != NULL; s = s->next) {
        ks_request_end(s);
        s->in_flight = false;
        s->refetch_wanted = false;
    }
    curl_multi_cleanup(ks.multi);
    ks.multi = NULL;
    ks.running = false;
    ks.stopping = false;
    pthread_mutex_unlock(&ks.lock);
    pthread_cond_destroy(&ks.changed);
    curl_global_cleanup();
}
