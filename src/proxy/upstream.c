/*
 * Upstream connections: choosing a server, keep-alive pools, passive
 * health and the socket I/O towards backends.
 *
 * Pools and health are per worker: no lock is ever taken on the request
 * path. The price is that each worker learns on its own that a server is
 * down (max_fails failures per worker before it is ejected there).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy_int.h"

static void upconn_on_event(struct loop_io *io, uint32_t events);
static void upconn_on_timer(struct loop_timer *t);
static int upconn_tls_failed(struct upconn *u);

static bool
backend_usable(const struct backend *be, uint64_t now)
{
    return be->ejected_until == 0 || be->ejected_until <= now;
}

/*
 * Pick a server of the upstream that is not ejected, preferring one other
 * than avoid. When every server is ejected, NULL.
 */
static struct backend *
pick_backend(struct worker *w, const struct config_upstream *us,
             struct backend *avoid)
{
    uint64_t now = w->loop.now;
    struct backend *best = NULL, *fallback = NULL;

    for (size_t k = 0; k < us->nservers; k++) {
        size_t i = (w->rr + k) % us->nservers;
        struct backend *be = worker_backend(w, &us->servers[i]);

        if (be == NULL || !backend_usable(be, now))
            continue;
        if (be == avoid) {
            fallback = be;
            continue;
        }
        if (us->balance == BALANCE_ROUND_ROBIN) {
            best = be;
            break;
        }
        if (best == NULL || be->active < best->active)
            best = be;
    }
    w->rr++;
    return best != NULL ? best : fallback;
}

/* Take an idle pooled connection to be, or NULL. */
static struct upconn *
pool_take(struct backend *be)
{
    struct upconn *u = be->idle;

    if (u == NULL)
        return NULL;
    be->idle = u->next_idle;
    be->nidle--;
    u->next_idle = NULL;
    u->reused = true;
    return u;
}

/*
 * Start a non-blocking connect, with a TLS session on top for an
 * upstream with tls; NULL when the socket call fails.
 */
static struct upconn *
upconn_new(struct worker *w, struct backend *be,
           const struct config_upstream *us)
{
    struct upconn *u = calloc(1, sizeof(*u));
    int one = 1, fd, rc;

    if (u == NULL)
        return NULL;
    fd = socket(be->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        goto fail;
    u->io.fd = fd;
    u->io.on_event = upconn_on_event;
    u->timer.on_expire = upconn_on_timer;
    u->w = w;
    u->be = be;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (worker_buf_get(w, &u->in) != AW_OK ||
        worker_buf_get(w, &u->out) != AW_OK)
        goto fail;
    rc = connect(fd, (struct sockaddr *)&be->ss, be->len);
    if (rc < 0 && errno != EINPROGRESS)
        goto fail;
    u->connecting = rc < 0;
    u->writable = rc == 0;
    if (us->tls != NULL) {
        u->tls_owner = us->tls->client;
        if (tls_conn_new_client(us->tls->client, fd, &be->tls_session,
                                &u->tls) != AW_OK)
            goto fail;
    }
    if (loop_add(&w->loop, &u->io) != AW_OK)
        goto fail;
    return u;

fail:
    tls_conn_free(u->tls);
    if (fd >= 0)
        close(fd);
    worker_buf_put(w, &u->out);
    worker_buf_put(w, &u->in);
    free(u);
    return NULL;
}

/*
 * Give request r a backend connection, pooled or new, and queue its
 * head. A server whose connect fails at once counts as failed and the
 * next one is tried. Returns AW_OK, or AW_DECLINED when no server is
 * usable.
 */
int
upstream_attach(struct conn *c, struct request *r, struct backend *avoid)
{
    const struct config_upstream *us = r->route->upstream;
    struct worker *w = c->w;

    for (size_t tries = 0; tries <= us->nservers; tries++) {
        struct backend *be = pick_backend(w, us, avoid);
        struct upconn *u;

        if (be == NULL)
            return AW_DECLINED;
        u = pool_take(be);
        /* A pooled connection made for other TLS settings (a reload
         * changed them) is not reused. */
        if (u != NULL &&
            u->tls_owner != (us->tls != NULL ? us->tls->client : NULL)) {
            upconn_close(u);
            u = NULL;
        }
        if (u == NULL)
            u = upconn_new(w, be, us);
        if (u == NULL) {
            upstream_mark(w, be, false, us);
            avoid = be;
            continue;
        }
        u->client = c;
        u->in.start = u->in.end = u->out.start = u->out.end = 0;
        u->got_bytes = false;
        be->active++;
        r->up = u;
        r->attempts++;
        if (r->t_up_start == 0)
            r->t_up_start = clock_mono_us();
        buf_append(&u->out, r->up_head, r->up_head_len);
        upconn_arm(u, r);
        return AW_OK;
    }
    return AW_DECLINED;
}

/* Arm the backend timer for what the exchange is waiting on. */
void
upconn_arm(struct upconn *u, struct request *r)
{
    const struct config_upstream *us = r->route->upstream;
    uint64_t ms;

    if (u->connecting)
        ms = us->connect_timeout_ms;
    else if (buf_len(&u->out) > 0)
        ms = us->write_timeout_ms;
    else
        ms = r->route->read_timeout_ms;
    loop_timer_set(&u->w->loop, &u->timer, ms);
}

/*
 * Count a success or failure of be. max_fails consecutive failures eject
 * the server for fail_timeout; a success clears the count.
 */
void
upstream_mark(struct worker *w, struct backend *be, bool ok,
              const struct config_upstream *us)
{
    if (ok) {
        be->fails = 0;
        be->ejected_until = 0;
        return;
    }
    be->fails++;
    if (us->max_fails > 0 && be->fails >= us->max_fails) {
        if (be->ejected_until <= w->loop.now)
            log_warn("upstream %s: server %s ejected for %llu ms after "
                     "%u failures", us->name, be->text,
                     (unsigned long long)us->fail_timeout_ms, be->fails);
        be->ejected_until = w->loop.now + us->fail_timeout_ms;
    }
}

/*
 * Detach u from its request. A reusable connection goes back to the pool
 * when there is room; any other is closed.
 */
void
upstream_release(struct conn *c, struct upconn *u, bool reusable)
{
    struct request *r = &c->req;
    const struct config_upstream *us = r->route->upstream;
    struct backend *be = u->be;

    be->active--;
    u->client = NULL;
    if (!reusable || be->nidle >= us->keepalive || c->w->draining) {
        upconn_close(u);
        return;
    }
    u->next_idle = be->idle;
    be->idle = u;
    be->nidle++;
    loop_timer_set(&c->w->loop, &u->timer, us->keepalive_timeout_ms);
}

/* Unlink u from its backend's idle list, if it is there. */
static void
pool_unlink(struct upconn *u)
{
    struct upconn **pp = &u->be->idle;

    while (*pp != NULL && *pp != u)
        pp = &(*pp)->next_idle;
    if (*pp == u) {
        *pp = u->next_idle;
        u->be->nidle--;
    }
}

void
upconn_close(struct upconn *u)
{
    struct worker *w = u->w;

    if (u->closed)
        return;
    u->closed = true;
    if (u->client == NULL)
        pool_unlink(u);
    loop_timer_cancel(&w->loop, &u->timer);
    loop_del(&w->loop, &u->io);
    tls_conn_free(u->tls);
    u->tls = NULL;
    close(u->io.fd);
    u->next_idle = w->dead_ups;
    w->dead_ups = u;
}

void
upconn_free(struct upconn *u)
{
    worker_buf_put(u->w, &u->in);
    worker_buf_put(u->w, &u->out);
    free(u);
}

/* upconn_read over TLS, into room bytes of u->in. */
static int
upconn_read_tls(struct upconn *u, size_t room)
{
    size_t n = 0;
    bool was_up = tls_conn_established(u->tls);
    int rc = tls_conn_read(u->tls, u->in.data + u->in.end, room, &n);

    if (rc == AW_OK) {
        u->in.end += n;
        u->got_bytes = true;
        return AW_OK;
    }
    if (rc == AW_AGAIN) {
        u->readable = false;
        return AW_AGAIN;
    }
    u->eof = true;
    /* With TLS 1.3 a server refuses the client certificate after the
     * client saw the handshake end: the alert is the first record. */
    if (rc == AW_ERROR && (!was_up || !u->got_bytes))
        upconn_tls_failed(u);
    return rc == AW_DONE ? AW_DONE : AW_IO;
}

/*
 * Read what the backend sent into u->in. Returns AW_OK when bytes came,
 * AW_AGAIN when none are ready, AW_DONE at end of stream, AW_IO on error.
 */
int
upconn_read(struct upconn *u)
{
    size_t room;
    ssize_t n;

    if (buf_room(&u->in) == 0)
        buf_compact(&u->in);
    room = buf_room(&u->in);
    if (room == 0)
        return AW_AGAIN;
    if (u->tls != NULL)
        return upconn_read_tls(u, room);
    n = read(u->io.fd, u->in.data + u->in.end, room);
    if (n > 0) {
        u->in.end += (size_t)n;
        u->got_bytes = true;
        /* A short read drained the socket (see client_read). */
        if ((size_t)n < room && !u->hup)
            u->readable = false;
        return AW_OK;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        u->readable = false;
        return AW_AGAIN;
    }
    u->eof = true;
    return n == 0 ? AW_DONE : AW_IO;
}

/*
 * A failed TLS handshake with a backend: the reason goes to the
 * diagnostic log, at most once a second per worker.
 */
static int
upconn_tls_failed(struct upconn *u)
{
    static _Thread_local uint64_t last_warn;

    if (u->w->loop.now - last_warn > 1000) {
        log_warn("upstream %s: TLS handshake failed: %s", u->be->text,
                 tls_conn_reason(u->tls));
        last_warn = u->w->loop.now;
    }
    return AW_INVALID;
}

/*
 * Send queued request bytes over TLS; the handshake completes first.
 * AW_INVALID when the handshake failed (the server could not be
 * verified, or refused ours).
 */
static int
upconn_write_tls(struct upconn *u)
{
    size_t n = 0;
    bool was_up = tls_conn_established(u->tls);
    int rc = tls_conn_write(u->tls, u->out.data + u->out.start,
                            buf_len(&u->out), &n);

    if (rc == AW_OK) {
        u->out.start += n;
        if (buf_len(&u->out) == 0)
            u->out.start = u->out.end = 0;
        return AW_OK;
    }
    if (rc == AW_AGAIN) {
        u->writable = false;
        return AW_AGAIN;
    }
    return was_up ? AW_IO : upconn_tls_failed(u);
}

/* Send queued request bytes. AW_OK on progress, AW_AGAIN, AW_IO, or
   AW_INVALID when a TLS handshake failed. */
int
upconn_write(struct upconn *u)
{
    ssize_t n;

    if (u->tls != NULL)
        return upconn_write_tls(u);
    n = write(u->io.fd, u->out.data + u->out.start, buf_len(&u->out));

    if (n > 0) {
        /* A short write filled the socket: wait for the next edge. */
        if ((size_t)n < buf_len(&u->out))
            u->writable = false;
        u->out.start += (size_t)n;
        if (buf_len(&u->out) == 0)
            u->out.start = u->out.end = 0;
        return AW_OK;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        u->writable = false;
        return AW_AGAIN;
    }
    return AW_IO;
}

/* A non-blocking connect finished: find out how. */
static bool
connect_succeeded(struct upconn *u)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(u->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return false;
    return err == 0;
}

/*
 * An idle TLS connection became readable: let the session take what
 * came. True when that was only protocol records (tickets) and the
 * connection can stay in the pool.
 */
static bool
idle_tls_quiet(struct upconn *u)
{
    char scratch[64];
    size_t n = 0;

    return u->tls != NULL &&
           tls_conn_read(u->tls, scratch, sizeof(scratch), &n) == AW_AGAIN &&
           !tls_conn_wants_write(u->tls);
}

static void
upconn_on_event(struct loop_io *io, uint32_t events)
{
    struct upconn *u = (struct upconn *)io;

    if (u->closed)
        return;
    if (u->client == NULL) {
        /* An idle pooled connection has nothing to say: any event means
         * the server closed it or broke the protocol, except TLS
         * records without data (a TLS 1.3 ticket after the answer). */
        if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
            !idle_tls_quiet(u))
            upconn_close(u);
        return;
    }
    if (u->tls != NULL) {
        if ((events & EPOLLOUT) && tls_conn_wants_write(u->tls))
            u->readable = true;
        if ((events & EPOLLIN) && tls_conn_wants_read(u->tls))
            u->writable = true;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        u->hup = true;
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        u->writable = true;
    if (u->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        u->connecting = false;
        if (!connect_succeeded(u)) {
            struct conn *c = u->client;

            /* The retry, if any, waits for no event: pump it now. */
            conn_upstream_failed(c, UPSTREAM_CONNECT);
            if (!c->closed)
                conn_pump(c);
            return;
        }
        upconn_arm(u, &u->client->req);
    }
    conn_pump(u->client);
}

static void
upconn_on_timer(struct loop_timer *t)
{
    struct upconn *u = (struct upconn *)((char *)t -
                                         offsetof(struct upconn, timer));
    struct conn *c;

    if (u->closed)
        return;
    if (u->client == NULL) {
        upconn_close(u);
        return;
    }
    c = u->client;
    conn_upstream_failed(c, u->connecting ? UPSTREAM_CONNECT
                                          : UPSTREAM_TIMEOUT);
    if (!c->closed)
        conn_pump(c);
}
