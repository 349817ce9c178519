/*
 * Loading a configuration into a snapshot, the snapshot's reference
 * count, the process-wide current snapshot, and the configuration built
 * from the command line of "apiward proxy".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/internal.h"
#include "identity/identity.h"
#include "policy/geo.h"
#include "policy/policy.h"
#include "tls/tls.h"

#define CONFIG_TREE_FIRST_CHUNK ((size_t)64 << 10)
#define CONFIG_STRINGS_FIRST_CHUNK ((size_t)16 << 10)

/* Counts successful loads; a snapshot's generation is its number. */
static _Atomic uint64_t config_generation;

/* The snapshot new requests start on; see config_current. */
static pthread_mutex_t config_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *config_installed;

static const struct {
    const char *name;
    const char *value;
} config_default_headers[] = {
    {"X-Content-Type-Options", "nosniff"},
    {"X-Frame-Options", "DENY"},
    {"Referrer-Policy", "no-referrer"},
};

#define CONFIG_FNV_BASIS UINT64_C(0xcbf29ce484222325)

/* Fold bytes into a 64-bit FNV-1a hash. */
static uint64_t
config_fnv(uint64_t h, const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)buf[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* A hash as the 16 lower-case hex digits shown by the admin API. */
static void
config_hash_hex(uint64_t h, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* server.listen before the file speaks: 127.0.0.1:8080. */
static int
config_default_listener(struct config_loader *ld)
{
    struct config *c = ld->c;
    char err[128];

    c->listeners = config_alloc(ld, sizeof(*c->listeners));
    if (c->listeners == NULL)
        return AW_NOMEM;
    if (config_addr_parse("127.0.0.1:8080", false, c->listeners, err,
                          sizeof(err)) != AW_OK)
        return AW_ERROR;
    c->nlisteners = 1;
    return AW_OK;
}

/* The three headers sent when security_headers is not given. */
static int
config_default_security_headers(struct config_loader *ld)
{
    struct config *c = ld->c;
    size_t n = ARRAY_LEN(config_default_headers);

    c->security_headers = config_alloc(ld, n * sizeof(*c->security_headers));
    if (c->security_headers == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *name = config_default_headers[i].name;
        const char *value = config_default_headers[i].value;
        struct config_header *h = &c->security_headers[i];

        h->name = config_strdup(ld, name, strlen(name));
        h->value = config_strdup(ld, value, strlen(value));
        if (h->name == NULL || h->value == NULL)
            return AW_NOMEM;
    }
    c->nsecurity_headers = n;
    return AW_OK;
}

int
config_defaults(struct config_loader *ld)
{
    struct config *c = ld->c;
    int rc;

    c->workers = 0;
    c->max_connections = 10000;
    c->drain_timeout_ms = 10000;
    c->limits.max_head_bytes = 16 << 10;
    c->limits.max_headers = 100;
    c->limits.max_target_bytes = 8 << 10;
    c->limits.max_body_bytes = 1 << 20;
    c->max_buffered_body = 1 << 20;
    c->header_timeout_ms = 10000;
    c->body_timeout_ms = 30000;
    c->idle_timeout_ms = 60000;
    c->send_timeout_ms = 30000;
    c->keepalive_requests = 10000;
    http_norm_defaults(&c->norm);
    c->access_log_buffer = 256 << 10;
    c->log_level = LOG_INFO;
    c->max_token_bytes = 8 << 10;
    c->token_cache_entries = 10000;
    c->keys_startup_wait_ms = 10000;
    c->keys_wait_ms = 5000;
    c->events_buffer = 64 << 10;
    config_admin_defaults(c);
    c->events_syslog_facility = 16;
    c->detect_addresses = 5;
    c->detect_expired = 10;
    c->detect_window_ms = 600000;
    c->detect_entries = 16384;
    config_ratelimit_defaults(c);
    c->access_log = config_strdup(ld, "stdout", 6);
    c->events_file = config_strdup(ld, "off", 3);
    if (c->access_log == NULL || c->events_file == NULL)
        return AW_NOMEM;
    rc = config_default_listener(ld);
    if (rc == AW_OK)
        rc = config_default_security_headers(ld);
    return rc;
}

/* A snapshot with one reference and an empty, bounded string arena. */
static struct config *
config_new(void)
{
    struct config *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    atomic_init(&c->refs, 1);
    arena_init(&c->strings, CONFIG_STRINGS_FIRST_CHUNK,
               CONFIG_STRINGS_MAX_BYTES);
    return c;
}

/*
 * Release a snapshot and everything it owns; refs are not looked at.
 * Key sources and the API key store are shared with the key store, and
 * geolocation databases with compiled policies: they outlive the
 * snapshot when another holder still uses them.
 */
static void
config_free(struct config *c)
{
    for (size_t i = 0; i < c->nissuers; i++)
        if (c->issuers[i].keys != NULL)
            keysource_unref(c->issuers[i].keys);
    apikey_store_free(c->api_keys);
    geo_unref(c->geo_country);
    geo_unref(c->geo_asn);
    for (size_t i = 0; c->listener_tls != NULL && i < c->nlisteners; i++)
        if (c->listener_tls[i] != NULL)
            tls_server_unref(c->listener_tls[i]->server);
    for (size_t i = 0; i < c->nupstreams; i++)
        if (c->upstreams[i].tls != NULL)
            tls_client_unref(c->upstreams[i].tls->client);
    if (c->introspection != NULL && c->introspection->client_secret != NULL)
        explicit_bzero(c->introspection->client_secret,
                       c->introspection->client_secret_len);
    route_table_free(c->route_table);
    policy_set_free(c->policy);
    config_contracts_free(c);
    config_inspect_free(c);
    config_sensitive_free(c);
    arena_fini(&c->strings);
    free(c);
}

/* Start a load: clear errs, allocate the snapshot, apply the defaults. */
static int
config_loader_init(struct config_loader *ld, const char *name,
                   struct config_errors *errs, bool resolve)
{
    memset(errs, 0, sizeof(*errs));
    memset(ld, 0, sizeof(*ld));
    ld->name = name;
    ld->errs = errs;
    ld->resolve = resolve;
    arena_init(&ld->tree, CONFIG_TREE_FIRST_CHUNK, CONFIG_TREE_MAX_BYTES);
    ld->c = config_new();
    if (ld->c == NULL)
        return AW_NOMEM;
    return config_defaults(ld);
}

/*
 * End a load. A load with any problem recorded fails as AW_INVALID even
 * when each step returned AW_OK, because steps go on after a problem to
 * find the next one. On success the snapshot gets its generation and is
 * handed to *out.
 */
static int
config_loader_finish(struct config_loader *ld, int rc, struct config **out)
{
    if (rc == AW_NOMEM || ld->nomem) {
        rc = AW_NOMEM;
        config_error_at(ld, 0, 0, "out of memory while loading");
    } else if (rc != AW_OK || ld->errs->n > 0 || ld->errs->dropped > 0) {
        rc = AW_INVALID;
    }
    config_errors_sort(ld);
    arena_fini(&ld->tree);
    if (rc != AW_OK) {
        if (ld->c != NULL)
            config_free(ld->c);
        return rc;
    }
    ld->c->generation = atomic_fetch_add(&config_generation, 1) + 1;
    *out = ld->c;
    return AW_OK;
}

/* Parse and check buf into the loader's snapshot. */
static int
config_load_buf(struct config_loader *ld, const char *path, const char *buf,
                size_t len)
{
    int rc;

    if (path != NULL) {
        ld->c->path = config_strdup(ld, path, strlen(path));
        if (ld->c->path == NULL)
            return AW_NOMEM;
    }
    config_hash_hex(config_fnv(CONFIG_FNV_BASIS, buf, len), ld->c->hash);
    rc = config_tree_parse(ld, buf, len);
    if (rc == AW_OK)
        rc = config_schema_apply(ld);
    return rc;
}

/*
 * The same load from memory, for the fuzz target and for callers that
 * hold the text already. Resolution can be turned off so that no input
 * reaches the network.
 */
int
config_load_string(const char *name, const char *buf, size_t len,
                   unsigned flags, struct config **out,
                   struct config_errors *errs)
{
    struct config_loader ld;
    int rc =
        config_loader_init(&ld, name, errs, !(flags & CONFIG_LOAD_NO_RESOLVE));

    if (rc == AW_OK && len > CONFIG_MAX_FILE_BYTES) {
        config_error_at(&ld, 0, 0, "larger than %u bytes",
                        CONFIG_MAX_FILE_BYTES);
        rc = AW_INVALID;
    }
    if (rc == AW_OK)
        rc = config_load_buf(&ld, NULL, buf, len);
    return config_loader_finish(&ld, rc, out);
}

/*
 * Read a whole regular file of at most CONFIG_MAX_FILE_BYTES into a new
 * buffer. On failure a sentence is left in err.
 */
static int
config_read_file(const char *path, char **out, size_t *len, char *err,
                 size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int rc = AW_INVALID;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_FILE_BYTES) {
        snprintf(err, errlen, "not a regular file of at most %u bytes",
                 CONFIG_MAX_FILE_BYTES);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = AW_NOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "cannot read: %s",
                     n < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        got += (size_t)n;
    }
    *out = buf;
    *len = got;
    buf = NULL;
    rc = AW_OK;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/*
 * The file is read whole before parsing so that its hash covers exactly
 * the bytes that were parsed, even if it changes on disk meanwhile.
 */
int
config_load(const char *path, struct config **out, struct config_errors *errs)
{
    struct config_loader ld;
    char err[160];
    char *buf = NULL;
    size_t len = 0;
    int rc = config_loader_init(&ld, path, errs, true);

    if (rc == AW_OK)
        rc = config_read_file(path, &buf, &len, err, sizeof(err));
    if (rc == AW_INVALID)
        config_error_at(&ld, 0, 0, "%s", err);
    if (rc == AW_OK)
        rc = config_load_buf(&ld, path, buf, len);
    free(buf);
    return config_loader_finish(&ld, rc, out);
}

/* The upstream and the catch-all route of "apiward proxy". */
static int
config_proxy_routes(struct config_loader *ld, const struct config_addr *to)
{
    struct config *c = ld->c;
    struct config_upstream *u = config_alloc(ld, sizeof(*u));
    struct config_route *r = config_alloc(ld, sizeof(*r));
    struct route_def def;
    char err[200];

    if (u == NULL || r == NULL)
        return AW_NOMEM;
    config_upstream_defaults(u);
    u->name = config_strdup(ld, "backend", 7);
    u->servers = config_alloc(ld, sizeof(*u->servers));
    r->name = config_strdup(ld, "default", 7);
    r->path = config_strdup(ld, "/", 1);
    if (u->name == NULL || u->servers == NULL || r->name == NULL ||
        r->path == NULL)
        return AW_NOMEM;
    u->servers[0] = *to;
    u->nservers = 1;
    r->prefix = true;
    r->upstream = u;
    r->max_body_bytes = c->limits.max_body_bytes;
    r->read_timeout_ms = u->read_timeout_ms;
    c->upstreams = u;
    c->nupstreams = 1;
    c->routes = r;
    c->nroutes = 1;
    def = (struct route_def){r->name, NULL, 0, r->path, true, r};
    if (route_table_new(&def, 1, &c->route_table, err, sizeof(err)) == AW_OK)
        return AW_OK;
    config_error_at(ld, 0, 0, "internal route table: %s", err);
    return AW_INVALID;
}

/* Parse one command-line address; problems name the option. */
static int
config_proxy_addr(struct config_loader *ld, const char *opt, const char *text,
                  struct config_addr *a)
{
    char err[128], q[96];
    struct slice s = {text, strlen(text)};

    if (config_addr_parse(text, true, a, err, sizeof(err)) == AW_OK)
        return AW_OK;
    config_error_at(ld, 0, 0, "%s '%s': %s", opt, log_escape(q, sizeof(q), s),
                    err);
    return AW_INVALID;
}

/* Check the --to URL and resolve the server it names. */
static int
config_proxy_upstream(struct config_loader *ld, const char *url,
                      struct config_addr *to)
{
    char hostport[300], err[128], q[96];
    struct slice s = {url, strlen(url)};

    if (config_url_to_addr(url, hostport, sizeof(hostport), err, sizeof(err)) !=
        AW_OK) {
        config_error_at(ld, 0, 0, "--to '%s': %s", log_escape(q, sizeof(q), s),
                        err);
        return AW_INVALID;
    }
    return config_proxy_addr(ld, "--to", hostport, to);
}

/*
 * A node of a tree built in memory rather than read from YAML, for the
 * settings that "apiward proxy" takes as options. It has no position,
 * so problems found in it are reported without one. text is borrowed
 * and must outlive the load (command-line arguments do).
 */
static struct config_node *
proxy_node(struct config_loader *ld, struct config_node *parent,
           const char *key, enum config_node_type type, const char *text)
{
    struct config_node *n = arena_alloc(&ld->tree, sizeof(*n));
    struct config_node *k = n;

    if (n == NULL)
        goto nomem;
    *n = (struct config_node){.type = type, .text = text,
                              .len = text != NULL ? strlen(text) : 0};
    if (key != NULL) {
        k = arena_alloc(&ld->tree, sizeof(*k));
        if (k == NULL)
            goto nomem;
        *k = (struct config_node){.type = CONFIG_NODE_SCALAR, .plain = true,
                                  .text = key, .len = strlen(key), .value = n};
    }
    if (parent->last != NULL)
        parent->last->next = k;
    else
        parent->first = k;
    parent->last = k;
    parent->n++;
    return n;

nomem:
    ld->nomem = true;
    return NULL;
}

/*
 * The --jwks value as the identity section takes it: a URL as given, a
 * file as an absolute path (the section refuses relative ones, which
 * would change meaning with the working directory).
 */
static int
proxy_jwks(struct config_loader *ld, const char *jwks, const char **kind,
           const char **location)
{
    char q[96], *abs;
    struct slice s = {jwks, strlen(jwks)};

    if (strncmp(jwks, "http://", 7) == 0 || strncmp(jwks, "https://", 8) == 0) {
        *kind = "url";
        *location = jwks;
        return AW_OK;
    }
    *kind = "file";
    abs = realpath(jwks, NULL);
    if (abs == NULL) {
        config_error_at(ld, 0, 0, "--jwks '%s': cannot open: %s",
                        log_escape(q, sizeof(q), s), strerror(errno));
        return AW_INVALID;
    }
    *location = config_strdup(ld, abs, strlen(abs));
    free(abs);
    return *location != NULL ? AW_OK : AW_NOMEM;
}

/*
 * What --jwks, --issuer and --audience stand for, as a file would say
 * it: one issuer named "proxy" with every default, and an auth mapping
 * with every default (jwt, all issuers) on the catch-all route. Going
 * through the file's own parsers keeps the command line exactly as
 * strict as a file; their messages name the keys of the file the
 * options stand for.
 */
static int
proxy_identity(struct config_loader *ld, const struct config_proxy_jwt *jwt)
{
    const char *kind = NULL, *location = NULL;
    struct config_node root = {.type = CONFIG_NODE_MAP};
    struct config_node *id, *iss, *auds, *keys, *auth;
    int rc = proxy_jwks(ld, jwt->jwks, &kind, &location);

    if (rc != AW_OK)
        return rc;
    id = proxy_node(ld, &root, "identity", CONFIG_NODE_MAP, NULL);
    iss = id ? proxy_node(ld, id, "issuers", CONFIG_NODE_MAP, NULL) : NULL;
    iss = iss ? proxy_node(ld, iss, "proxy", CONFIG_NODE_MAP, NULL) : NULL;
    if (iss == NULL || !proxy_node(ld, iss, "issuer", CONFIG_NODE_SCALAR,
                                   jwt->issuer))
        return AW_NOMEM;
    auds = proxy_node(ld, iss, "audiences", CONFIG_NODE_SEQ, NULL);
    for (size_t i = 0; auds != NULL && i < jwt->naudiences; i++)
        if (!proxy_node(ld, auds, NULL, CONFIG_NODE_SCALAR,
                        jwt->audiences[i]))
            return AW_NOMEM;
    keys = proxy_node(ld, iss, "keys", CONFIG_NODE_MAP, NULL);
    auth = proxy_node(ld, &root, "auth", CONFIG_NODE_MAP, NULL);
    if (auds == NULL || keys == NULL || auth == NULL ||
        !proxy_node(ld, keys, kind, CONFIG_NODE_SCALAR, location))
        return AW_NOMEM;
    /* The route parser looks for the identity section from the root. */
    ld->root = &root;
    rc = config_parse_identity(ld, id, ld->c, NULL, "identity");
    if (rc == AW_OK)
        rc = config_parse_route_auth(ld, auth, &ld->c->routes[0].auth, NULL,
                                     "routes[0].auth");
    ld->root = NULL;
    return rc;
}

/*
 * What --openapi stands for: one contract named "proxy" with every
 * default, enforced by the catch-all route. The path is made absolute
 * first, as the contracts section wants it.
 */
static int
proxy_contract(struct config_loader *ld, const char *openapi)
{
    struct config_node root = {.type = CONFIG_NODE_MAP};
    struct config_node *seq, *m;
    char q[96], *abs = realpath(openapi, NULL);
    struct slice s = {openapi, strlen(openapi)};
    const char *path;
    int rc;

    if (abs == NULL) {
        config_error_at(ld, 0, 0, "--openapi '%s': cannot open: %s",
                        log_escape(q, sizeof(q), s), strerror(errno));
        return AW_INVALID;
    }
    path = config_strdup(ld, abs, strlen(abs));
    free(abs);
    seq = proxy_node(ld, &root, "contracts", CONFIG_NODE_SEQ, NULL);
    m = seq ? proxy_node(ld, seq, NULL, CONFIG_NODE_MAP, NULL) : NULL;
    if (path == NULL || m == NULL ||
        !proxy_node(ld, m, "name", CONFIG_NODE_SCALAR, "proxy") ||
        !proxy_node(ld, m, "openapi", CONFIG_NODE_SCALAR, path))
        return AW_NOMEM;
    rc = config_parse_contracts(ld, seq, ld->c, NULL, "contracts");
    if (rc == AW_OK)
        ld->c->routes[0].contract = &ld->c->contracts[0];
    return rc;
}

/* The options stand in for the file in the hash, one per line. */
static void
proxy_hash(struct config *c, const char *listen, const char *to_url,
           const struct config_proxy_jwt *jwt, const char *openapi,
           bool inspect)
{
    uint64_t h = config_fnv(CONFIG_FNV_BASIS, listen, strlen(listen));

    h = config_fnv(h, "\n", 1);
    h = config_fnv(h, to_url, strlen(to_url));
    if (jwt != NULL) {
        const char *more[] = {jwt->jwks, jwt->issuer};

        for (size_t i = 0; i < ARRAY_LEN(more); i++) {
            h = config_fnv(h, "\n", 1);
            h = config_fnv(h, more[i], strlen(more[i]));
        }
        for (size_t i = 0; i < jwt->naudiences; i++) {
            h = config_fnv(h, "\n", 1);
            h = config_fnv(h, jwt->audiences[i], strlen(jwt->audiences[i]));
        }
    }
    if (openapi != NULL) {
        h = config_fnv(h, "\n", 1);
        h = config_fnv(h, openapi, strlen(openapi));
    }
    if (inspect)
        h = config_fnv(h, "\n--inspect", 10);
    config_hash_hex(h, c->hash);
}

/*
 * The settings of "apiward proxy" are the defaults of a file plus what
 * the options say, so that the quick start is as safe as a file.
 */
int
config_for_proxy_jwt(const char *listen, const char *to_url,
                     const struct config_proxy_jwt *jwt, struct config **out,
                     struct config_errors *errs)
{
    return config_for_proxy_contract(listen, to_url, jwt, NULL, out, errs);
}

int
config_for_proxy_contract(const char *listen, const char *to_url,
                          const struct config_proxy_jwt *jwt,
                          const char *openapi, struct config **out,
                          struct config_errors *errs)
{
    return config_for_proxy_inspect(listen, to_url, jwt, openapi, false, out,
                                    errs);
}

int
config_for_proxy_inspect(const char *listen, const char *to_url,
                         const struct config_proxy_jwt *jwt,
                         const char *openapi, bool inspect,
                         struct config **out, struct config_errors *errs)
{
    struct config_loader ld;
    struct config_addr to;
    int rc = config_loader_init(&ld, NULL, errs, true);

    if (rc == AW_OK)
        rc = config_proxy_addr(&ld, "--listen", listen, ld.c->listeners);
    if (rc != AW_NOMEM && config_proxy_upstream(&ld, to_url, &to) != AW_OK)
        rc = AW_INVALID;
    if (rc == AW_OK)
        rc = config_proxy_routes(&ld, &to);
    if (rc == AW_OK && jwt != NULL)
        rc = proxy_identity(&ld, jwt);
    if (rc == AW_OK && openapi != NULL)
        rc = proxy_contract(&ld, openapi);
    if (rc == AW_OK && inspect)
        rc = config_inspect_builtin(&ld, &ld.c->routes[0]);
    /* With --jwks every caller needs a token, and any valid one will do. */
    if (rc == AW_OK)
        rc = config_policy_builtin(&ld, &ld.c->routes[0], jwt != NULL);
    if (rc == AW_OK)
        proxy_hash(ld.c, listen, to_url, jwt, openapi, inspect);
    return config_loader_finish(&ld, rc, out);
}

int
config_for_proxy(const char *listen, const char *to_url, struct config **out,
                 struct config_errors *errs)
{
    return config_for_proxy_jwt(listen, to_url, NULL, out, errs);
}

/* Relaxed order suffices: a reference is taken from one already held. */
struct config *
config_ref(struct config *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void
config_unref(struct config *c)
{
    if (c == NULL)
        return;
    /* The release pairs with the acquire below, so that the freeing
       thread sees every write made while others held references. */
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_release) != 1)
        return;
    atomic_thread_fence(memory_order_acquire);
    config_free(c);
}

/*
 * The lock is held only to copy the pointer and take a reference;
 * workers call this when a reload has published a new generation, not
 * per request, so it is never contended in practice.
 */
struct config *
config_current(void)
{
    struct config *c;

    pthread_mutex_lock(&config_lock);
    c = config_installed;
    if (c != NULL)
        config_ref(c);
    pthread_mutex_unlock(&config_lock);
    return c;
}

/*
 * The old snapshot is released outside the lock: freeing a large one
 * must not hold up a worker that wants the new one.
 */
void
config_swap(struct config *c)
{
    struct config *old;

    pthread_mutex_lock(&config_lock);
    old = config_installed;
    config_installed = c;
    pthread_mutex_unlock(&config_lock);
    config_unref(old);
}

/* One line per problem, as apiward check prints them. */
void
config_errors_print(const struct config_errors *errs, FILE *out)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(out, "%s\n", errs->msg[i]);
    if (errs->dropped > 0)
        fprintf(out, "... and %zu more problem%s\n", errs->dropped,
                errs->dropped == 1 ? "" : "s");
}
