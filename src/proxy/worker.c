/*
 * Worker threads, listeners, signals, reload and drain.
 *
 * Each worker has its own epoll loop and its own SO_REUSEPORT listening
 * sockets, so the kernel spreads connections and a request never changes
 * thread. The main thread only waits for signals: SIGHUP compiles a new
 * snapshot beside the running one and publishes it; SIGTERM and SIGINT
 * start the drain; SIGUSR1 reopens the access log and the security
 * event file.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "admin/admin.h"
#include "proxy.h"
#include "proxy_int.h"
#include "telemetry/telemetry.h"

#define LISTEN_BACKLOG 4096

atomic_bool proxy_draining;
atomic_uint_fast64_t proxy_generation;

static struct worker *workers;
static unsigned nworkers;
static atomic_bool workers_running;   /* every worker loop is ready */

/* Per-worker state of a backend address, created on first use. */
struct backend *
worker_backend(struct worker *w, const struct config_addr *a)
{
    struct backend *be;

    for (be = w->backends; be != NULL; be = be->next) {
        if (be->len == a->len && memcmp(&be->ss, &a->ss, a->len) == 0)
            return be;
    }
    be = calloc(1, sizeof(*be));
    if (be == NULL)
        return NULL;
    memcpy(&be->ss, &a->ss, a->len);
    be->len = a->len;
    slice_copy_cstr(be->text, sizeof(be->text),
                    (struct slice){a->text, strlen(a->text)});
    be->next = w->backends;
    w->backends = be;
    return be;
}

/*
 * Give b an empty I/O buffer from the worker's pool. Every I/O buffer
 * has the pool's size, fixed at start from limits.max_head. AW_NOMEM.
 */
int
worker_buf_get(struct worker *w, struct buf *b)
{
    b->data = pool_get(&w->io_pool);
    b->start = b->end = 0;
    b->cap = b->data == NULL ? 0 : w->io_pool.size;
    return b->data == NULL ? AW_NOMEM : AW_OK;
}

/* Return b's storage to the pool; accepts a buffer without storage. */
void
worker_buf_put(struct worker *w, struct buf *b)
{
    pool_put(&w->io_pool, b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}

/*
 * The worker's header array with room for n fields, or NULL. Parsers
 * fill it only once a head is complete and callers copy what they keep,
 * so one array serves every connection of the worker.
 */
struct http_header *
worker_scratch_headers(struct worker *w, unsigned n)
{
    struct http_header *h;

    if (n <= w->scratch_cap)
        return w->scratch;
    h = realloc(w->scratch, n * sizeof(*h));
    if (h == NULL)
        return NULL;
    w->scratch = h;
    w->scratch_cap = n;
    return h;
}

/*
 * Park c until the key store reports a finished fetch (see on_wake) or
 * an introspection answer arrives (on_introspected). The wait outlasts
 * the introspection timeout, so that a slow endpoint's own failure,
 * not the wait bound, decides the answer.
 */
void
worker_park(struct worker *w, struct conn *c)
{
    const struct config *cfg = c->req.cfg;
    /* A fetch has its own, usually shorter, timeout; key_wait bounds
       the wait whatever happens to the fetch. */
    uint64_t wait = cfg->keys_wait_ms;

    if (cfg->introspection != NULL)
        wait = MAX(wait, cfg->introspection->timeout_ms + 1000);
    c->phase = PHASE_AUTH_WAIT;
    c->park_prev = NULL;
    c->park_next = w->parked;
    if (w->parked != NULL)
        w->parked->park_prev = c;
    w->parked = c;
    loop_timer_set(&w->loop, &c->timer, wait);
}

void
worker_unpark(struct worker *w, struct conn *c)
{
    if (c->park_prev != NULL)
        c->park_prev->park_next = c->park_next;
    else
        w->parked = c->park_next;
    if (c->park_next != NULL)
        c->park_next->park_prev = c->park_prev;
    c->park_prev = c->park_next = NULL;
    loop_timer_cancel(&w->loop, &c->timer);
}

/* Give every parked request another try; some may park again. */
static void
resume_parked(struct worker *w)
{
    struct conn *list = w->parked;

    w->parked = NULL;
    while (list != NULL) {
        struct conn *c = list;

        list = c->park_next;
        c->park_prev = c->park_next = NULL;
        loop_timer_cancel(&w->loop, &c->timer);
        conn_resume_auth(c, false);
    }
}

/* Switch the worker to the newest snapshot if a reload published one. */
void
worker_refresh_config(struct worker *w)
{
    struct config *c;

    if (atomic_load_explicit(&proxy_generation, memory_order_acquire) ==
        w->cfg->generation)
        return;
    c = config_current();
    config_unref(w->cfg);
    w->cfg = c;
}

/*
 * The TLS server of listener l in the newest snapshot, NULL for plain
 * text. A connection keeps the server it started with across reloads.
 */
static struct tls_server *
listener_tls(struct listener *l)
{
    const struct config *cfg;

    worker_refresh_config(l->w);
    cfg = l->w->cfg;
    if (cfg->listener_tls == NULL || l->index >= cfg->nlisteners ||
        cfg->listener_tls[l->index] == NULL)
        return NULL;
    return cfg->listener_tls[l->index]->server;
}

static void
on_accept(struct loop_io *io, uint32_t events)
{
    struct listener *l = (struct listener *)io;
    static _Thread_local uint64_t last_warn;

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            conn_accept(l->w, fd, (struct sockaddr *)&ss, len,
                        listener_tls(l));
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && l->w->loop.now - last_warn > 1000) {
            log_warn("accept: %s", strerror(errno));
            last_warn = l->w->loop.now;
        }
        return;
    }
}

/* Open one SO_REUSEPORT listening socket; -1 with errno on failure. */
static int
listen_on(const struct config_addr *a)
{
    int one = 1;
    int fd = socket(a->ss.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
        listen(fd, LISTEN_BACKLOG) < 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static void
close_listeners(struct worker *w)
{
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (w->listeners[i].io.fd < 0)
            continue;
        loop_del(&w->loop, &w->listeners[i].io);
        close(w->listeners[i].io.fd);
        w->listeners[i].io.fd = -1;
    }
}

static void
close_pools(struct worker *w)
{
    for (struct backend *be = w->backends; be != NULL; be = be->next) {
        while (be->idle != NULL)
            upconn_close(be->idle);
    }
}

/* Free what was closed during the batch of events that just ended. */
static void
on_batch(struct loop *l, void *arg)
{
    struct worker *w = arg;

    introspect_batch(w->intro);
    while (w->dead_conns != NULL) {
        struct conn *c = w->dead_conns;

        w->dead_conns = c->next;
        conn_free(c);
    }
    while (w->dead_ups != NULL) {
        struct upconn *u = w->dead_ups;

        w->dead_ups = u->next_idle;
        upconn_free(u);
    }
    if (w->draining && w->nconns == 0)
        loop_stop(l);
}

/* Introspection answers arrived: parked requests may go on. */
static void
on_introspected(void *arg)
{
    struct worker *w = arg;

    if (w->parked != NULL)
        resume_parked(w);
}

/*
 * Another thread asked for attention: the key store finished a fetch
 * (parked requests try again), or the drain begins.
 */
static void
on_wake(struct loop *l, void *arg)
{
    struct worker *w = arg;
    struct conn *c, *next;

    if (w->parked != NULL)
        resume_parked(w);
    if (!atomic_load(&proxy_draining) || w->draining)
        return;
    w->draining = true;
    close_listeners(w);
    close_pools(w);
    for (c = w->conns; c != NULL; c = next) {
        next = c->next;
        conn_drain(c);
    }
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;

    log_set_worker((int)w->id);
    if (loop_run(&w->loop) != AW_OK)
        log_error("event loop failed: %s", strerror(errno));
    while (w->conns != NULL)
        conn_close(w->conns);
    close_pools(w);
    on_batch(&w->loop, w);
    return NULL;
}

/*
 * Worker 0's certificate watch. When a file of a TLS listener changed
 * since the snapshot was loaded, the process reloads as on SIGHUP (a
 * signal to itself, which the main thread takes): new connections get
 * the new certificates, open ones keep theirs. One signal per new state
 * of the files, so a broken file is reported once, not every period.
 * Once a day the expiry warnings are written again.
 */
static void
on_tls_timer(struct loop_timer *t)
{
    struct worker *w = (struct worker *)((char *)t -
                                         offsetof(struct worker, tls_timer));
    uint64_t now;

    worker_refresh_config(w);
    now = tls_files_signature(w->cfg, false);
    if (now != tls_files_signature(w->cfg, true) && now != w->tls_signalled) {
        log_info("certificate files changed; reloading");
        w->tls_signalled = now;
        kill(getpid(), SIGHUP);
    }
    if (w->loop.now - w->tls_audited_ms >= PROXY_TLS_AUDIT_MS) {
        w->tls_audited_ms = w->loop.now;
        tls_audit(w->cfg, (int64_t)(clock_wall_ms() / 1000), false, NULL);
    }
    loop_timer_set(&w->loop, &w->tls_timer, PROXY_TLS_WATCH_MS);
}

/* Prepare worker w: loop and listeners. Returns AW_OK or AW_IO. */
static int
worker_init(struct worker *w, unsigned id, struct config *cfg)
{
    w->id = id;
    w->cfg = config_ref(cfg);
    pool_init(&w->io_pool, MAX((size_t)PROXY_IO_BUF,
                               cfg->limits.max_head_bytes + PROXY_HEAD_EXTRA),
              PROXY_POOL_KEEP);
    pool_init(&w->small_pool, PROXY_SMALL_BLOCK, PROXY_POOL_KEEP);
    w->idcache = identity_cache_new(cfg->token_cache_entries);
    if (w->idcache == NULL && cfg->token_cache_entries > 0)
        return AW_NOMEM;
    if (loop_init(&w->loop, on_wake, w) != AW_OK)
        return AW_IO;
    if (id == 0) {
        w->tls_timer.on_expire = on_tls_timer;
        w->tls_audited_ms = w->loop.now;
        loop_timer_set(&w->loop, &w->tls_timer, PROXY_TLS_WATCH_MS);
    }
    w->loop.on_batch = on_batch;
    if (introspect_new(&w->loop,
                       cfg->introspection != NULL
                           ? cfg->introspection->cache_entries
                           : 0,
                       on_introspected, w, &w->intro) != AW_OK)
        return AW_NOMEM;
    identity_cache_set_introspector(w->idcache, w->intro);
    w->listeners = calloc(cfg->nlisteners, sizeof(*w->listeners));
    if (w->listeners == NULL)
        return AW_IO;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        struct listener *l = &w->listeners[i];

        l->w = w;
        l->index = i;
        l->io.on_event = on_accept;
        l->io.fd = listen_on(&cfg->listeners[i]);
        if (l->io.fd < 0) {
            log_error("cannot listen on %s: %s", cfg->listeners[i].text,
                      strerror(errno));
            return AW_IO;
        }
        w->nlisteners++;
        if (loop_add(&w->loop, &l->io) != AW_OK)
            return AW_IO;
    }
    return AW_OK;
}

static void
worker_fini(struct worker *w)
{
    struct backend *be;

    close_listeners(w);
    free(w->listeners);
    while ((be = w->backends) != NULL) {
        w->backends = be->next;
        tls_session_slot_clear(&be->tls_session);
        free(be);
    }
    introspect_free(w->intro);
    proxy_limit_worker_fini(w);
    loop_fini(&w->loop);
    pool_fini(&w->io_pool);
    pool_fini(&w->small_pool);
    identity_cache_free(w->idcache);
    inspect_scratch_free(w->inspect_scratch);
    inspect_sensitive_scratch_free(w->sensitive_scratch);
    free(w->scratch);
    config_unref(w->cfg);
}

static unsigned
worker_count(const struct config *cfg)
{
    long n;

    if (cfg->workers > 0)
        return cfg->workers;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

/* The reload itself; the caller holds the reload lock. */
static int
reload_locked(void)
{
    struct config *cur = config_current();
    struct config *next = NULL;
    struct config_errors errs;
    int rc;

    if (cur->path == NULL) {
        log_warn("reload: no configuration file to reload");
        config_unref(cur);
        return AW_DECLINED;
    }
    rc = config_load(cur->path, &next, &errs);
    if (rc != AW_OK) {
        for (size_t i = 0; i < errs.n; i++)
            log_error("reload: %s", errs.msg[i]);
        log_error("reload failed; still serving generation %llu",
                  (unsigned long long)cur->generation);
        config_unref(cur);
        return rc;
    }
    if (next->nlisteners != cur->nlisteners ||
        worker_count(next) != nworkers)
        log_warn("reload: listeners and worker count change only on "
                 "restart");
    if (next->limits.max_head_bytes + PROXY_HEAD_EXTRA > workers[0].io_pool.size)
        log_warn("reload: heads beyond %zu bytes need a restart; until "
                 "then they get 431", workers[0].io_pool.size -
                 PROXY_HEAD_EXTRA);
    log_set_level(next->log_level);
    config_swap(next);
    atomic_store_explicit(&proxy_generation, next->generation,
                          memory_order_release);
    log_info("configuration reloaded: generation %llu, hash %s",
             (unsigned long long)next->generation, next->hash);
    tls_audit(next, (int64_t)(clock_wall_ms() / 1000), false, NULL);
    config_unref(cur);
    return AW_OK;
}

/*
 * SIGHUP or POST /reload: compile the file again; keep the old snapshot
 * on failure. The signal (main thread) and the admin API (its thread)
 * may ask at once: one reload runs at a time. Returns AW_OK or the
 * error of the load.
 */
static int
reload(void)
{
    static pthread_mutex_t one_at_a_time = PTHREAD_MUTEX_INITIALIZER;
    int rc;

    pthread_mutex_lock(&one_at_a_time);
    admin_notify("RELOADING=1");
    rc = reload_locked();
    admin_reload_event(rc == AW_OK);
    admin_notify("READY=1");
    pthread_mutex_unlock(&one_at_a_time);
    return rc;
}

/* Wait for every worker until the drain deadline. True when all ended. */
static bool
join_workers(uint64_t deadline_ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(deadline_ms / 1000);
    ts.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    for (unsigned i = 0; i < nworkers; i++) {
        if (pthread_timedjoin_np(workers[i].thread, NULL, &ts) != 0)
            return false;
    }
    return true;
}

/* The main thread's life after start: signals until drain. */
static void
wait_for_signals(const sigset_t *set)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);

        if (sig == SIGHUP) {
            (void)reload();
        } else if (sig == SIGUSR1) {
            accesslog_reopen();
            events_reopen();
        } else if (sig == SIGTERM || sig == SIGINT) {
            return;
        }
    }
}

static int
start_workers(struct config *cfg)
{
    nworkers = worker_count(cfg);
    workers = calloc(nworkers, sizeof(*workers));
    if (workers == NULL)
        return AW_NOMEM;
    for (unsigned i = 0; i < nworkers; i++) {
        if (worker_init(&workers[i], i, cfg) != AW_OK)
            return AW_IO;
    }
    for (unsigned i = 0; i < nworkers; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main,
                           &workers[i]) != 0)
            return AW_IO;
    }
    atomic_store(&workers_running, true);
    return AW_OK;
}

/* The key store finished a fetch: parked requests may go on. */
static void
on_keys_changed(void *arg)
{
    admin_keys_changed();
    if (!atomic_load(&workers_running))
        return;
    for (unsigned i = 0; i < nworkers; i++)
        loop_wake(&workers[i].loop);
}

/* events.syslog: the security events to a syslog receiver too. */
static int
start_event_syslog(const struct config *cfg)
{
    const struct config_addr *a = cfg->events_syslog;
    struct events_syslog o = {
        .peer = (const struct sockaddr *)&a->ss,
        .peer_len = a->len,
        .peer_text = a->text,
        .tcp = cfg->events_syslog_tcp,
        .tls_ca = cfg->events_syslog_tls ? cfg->events_syslog_ca : NULL,
        .tls_name = cfg->events_syslog_name,
        .cef = cfg->events_syslog_cef,
        .facility = cfg->events_syslog_facility,
    };
    char ip[64];
    int rc;

    if (o.tls_name == NULL) {
        /* The address's host part: "[::1]:514" names ::1. */
        const char *colon = strrchr(a->text, ':');
        size_t n = colon != NULL ? (size_t)(colon - a->text) : 0;

        if (n >= 2 && a->text[0] == '[')
            snprintf(ip, sizeof(ip), "%.*s", (int)n - 2, a->text + 1);
        else
            snprintf(ip, sizeof(ip), "%.*s", (int)n, a->text);
        o.tls_name = ip;
    }
    rc = events_syslog_start(&o, cfg->events_buffer, worker_count(cfg));
    if (rc != AW_OK)
        log_error("cannot start sending security events to syslog");
    return rc;
}

/*
 * Metrics, the detectors of suspicious token use (when events are on),
 * then the admin listener (when configured). A configured
 * admin listener that cannot start stops the start: an operator who
 * asked for it would otherwise fly blind. AW_OK or an error (logged).
 */
static int
start_ops(const struct config *cfg)
{
    static const struct admin_hooks hooks = {.reload = reload};
    const struct detect_opts d = {
        .share_addresses = cfg->detect_addresses,
        .expired_replays = cfg->detect_expired,
        .window_ms = cfg->detect_window_ms,
        .entries = cfg->detect_entries,
    };
    int rc = metrics_start(worker_count(cfg), cfg->metrics_max_routes);

    if (rc == AW_OK && events_enabled())
        rc = detect_start(&d);
    if (rc != AW_OK) {
        log_error("no memory for metrics or token detectors");
        metrics_stop();
        return rc;
    }
    rc = admin_start(cfg, &hooks);
    if (rc == AW_DECLINED)
        return AW_OK;
    if (rc != AW_OK) {
        detect_stop();
        metrics_stop();
    }
    return rc;
}

int
proxy_serve(struct config *cfg)
{
    sigset_t set;
    uint64_t drain_ms = cfg->drain_timeout_ms;
    bool drained;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_set_level(cfg->log_level);
    config_swap(config_ref(cfg));
    atomic_store(&proxy_generation, cfg->generation);
    if (accesslog_start(cfg->access_log, cfg->access_log_buffer,
                        worker_count(cfg)) != AW_OK) {
        log_error("cannot open access log %s: %s", cfg->access_log,
                  strerror(errno));
        return 1;
    }
    if (events_start(cfg->events_file, cfg->events_buffer,
                     worker_count(cfg)) != AW_OK) {
        log_error("cannot open security event file %s: %s", cfg->events_file,
                  strerror(errno));
        accesslog_stop();
        return 1;
    }
    if (cfg->events_syslog != NULL && start_event_syslog(cfg) != AW_OK) {
        events_stop();
        accesslog_stop();
        return 1;
    }
    /* Listeners open only after the first fetch of remote key sets
     * (or its bound), so a client never meets a gateway without keys. */
    if (keystore_start(cfg->keys_startup_wait_ms, on_keys_changed, NULL) !=
        AW_OK)
        log_warn("key store: not every key set could be fetched; tokens "
                 "of those issuers get 503 until a fetch succeeds");
    if (start_ops(cfg) != AW_OK) {
        keystore_stop();
        events_stop();
        accesslog_stop();
        return 1;
    }
    if (start_workers(cfg) != AW_OK) {
        admin_stop();
        detect_stop();
        metrics_stop();
        keystore_stop();
        events_stop();
        accesslog_stop();
        return 1;
    }
    for (size_t i = 0; i < cfg->nlisteners; i++)
        log_info("listening on %s%s with %u workers", cfg->listeners[i].text,
                 cfg->listener_tls != NULL && cfg->listener_tls[i] != NULL
                     ? " (TLS)" : "",
                 nworkers);
    tls_audit(cfg, (int64_t)(clock_wall_ms() / 1000), false, NULL);
    config_unref(cfg);
    admin_notify("READY=1");
    wait_for_signals(&set);
    admin_notify("STOPPING=1");
    admin_stop();
    log_info("draining for up to %llu ms", (unsigned long long)drain_ms);
    atomic_store(&proxy_draining, true);
    for (unsigned i = 0; i < nworkers; i++)
        loop_wake(&workers[i].loop);
    drained = join_workers(drain_ms);
    if (!drained) {
        log_warn("drain deadline passed; exiting with requests in flight");
        /* Workers still run and may still write: flush, free nothing. */
        telemetry_flush();
        return 0;
    }
    keystore_stop();
    for (unsigned i = 0; i < nworkers; i++)
        worker_fini(&workers[i]);
    free(workers);
    detect_stop();
    metrics_stop();
    events_stop();
    accesslog_stop();
    config_swap(NULL);
    log_info("stopped");
    return 0;
}
