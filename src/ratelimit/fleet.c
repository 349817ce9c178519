/*
 * The fleet client of one worker: a hiredis asynchronous connection
 * driven by the worker's loop, the script loaded on it, and the
 * decisions in flight.
 *
 * Life of the connection: connect, AUTH when a password is set, SCRIPT
 * LOAD; only once the script's digest is back is the client ready.
 * The connect timeout covers all three. Any failure (refused, timed
 * out, dropped, or a caller that gave up waiting on a decision) closes
 * the connection; every decision still pending is answered "no answer"
 * (the caller decides locally), and a reconnection is tried after a
 * wait that starts at 100 ms and doubles up to backoff_max.
 *
 * The first worker whose connection goes down logs the outage and
 * counts it; the last one to come back logs the return. A worker
 * connection that is down counts as down until it is ready again.
 */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "loop/loop.h"
#include "ratelimit/ratelimit_int.h"

#define FLEET_BACKOFF_MIN_MS 100
#define FLEET_PASSWORD_MAX 512
#define FLEET_ADDRESS_MAX 256

/* A decision in flight: its caller and its command (kept for a retry). */
struct fleet_slot {
    struct ratelimit_fleet *f;
    struct fleet_slot *next_free;
    ratelimit_fleet_cb cb;      /* NULL: cancelled, or free */
    void *arg;
    bool retried;               /* sent again after NOSCRIPT */
    size_t n;                   /* items */
    uint8_t map[RATELIMIT_FLEET_MAX_ITEMS];
    struct fleet_cmd cmd;
};

struct ratelimit_fleet {
    struct ratelimit *rl;
    struct loop *loop;
    struct loop_io io;          /* the connection's socket */
    struct loop_timer timer;    /* connect timeout, or reconnection */
    uint32_t want;              /* EPOLLIN/EPOLLOUT hiredis asked for */
    bool watching;              /* io registered with the loop */
    redisAsyncContext *ac;      /* NULL while disconnected */
    bool ready;                 /* script loaded on ac */
    bool down;                  /* counted in rl->fleet_down */
    bool closing;               /* ratelimit_fleet_free in progress */
    bool told_error;            /* an error reply was logged on ac */
    uint64_t backoff_ms;
    char sha[41];               /* the script's digest */
    char host[FLEET_ADDRESS_MAX];
    int port;                   /* 0: host is a unix socket path */
    char prefix[65];
    char password[FLEET_PASSWORD_MAX];
    uint64_t connect_timeout_ms;
    uint64_t backoff_max_ms;
    struct fleet_slot *slots;
    struct fleet_slot *free_slots;
};

static void fleet_connect(struct ratelimit_fleet *f);

/* hiredis's event hooks: what it wants to hear about, level-triggered. */
static void
ev_update(struct ratelimit_fleet *f, uint32_t want)
{
    if (want == f->want)
        return;
    f->want = want;
    if (want == 0) {
        loop_del(f->loop, &f->io);
        f->watching = false;
        return;
    }
    if (loop_watch(f->loop, &f->io, want, !f->watching) == AW_OK)
        f->watching = true;
}

static void
ev_add_read(void *p)
{
    struct ratelimit_fleet *f = p;

    ev_update(f, f->want | EPOLLIN);
}

static void
ev_del_read(void *p)
{
    struct ratelimit_fleet *f = p;

    ev_update(f, f->want & ~(uint32_t)EPOLLIN);
}

static void
ev_add_write(void *p)
{
    struct ratelimit_fleet *f = p;

    ev_update(f, f->want | EPOLLOUT);
}

static void
ev_del_write(void *p)
{
    struct ratelimit_fleet *f = p;

    ev_update(f, f->want & ~(uint32_t)EPOLLOUT);
}

static void
ev_cleanup(void *p)
{
    ev_update(p, 0);
}

/*
 * The socket is ready. A read may end in the context being freed (the
 * server closed, an error): then f->ac no longer names it and the write
 * is skipped.
 */
static void
on_io(struct loop_io *io, uint32_t events)
{
    struct ratelimit_fleet *f =
        (struct ratelimit_fleet *)((char *)io -
                                   offsetof(struct ratelimit_fleet, io));
    redisAsyncContext *ac = f->ac;

    if (ac == NULL)
        return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        redisAsyncHandleRead(ac);
    if (f->ac == ac && (events & EPOLLOUT))
        redisAsyncHandleWrite(ac);
}

/* Count this worker's connection down; the first one logs the outage. */
static void
fleet_mark_down(struct ratelimit_fleet *f, const char *why)
{
    if (f->down || f->closing)
        return;
    f->down = true;
    if (atomic_fetch_add(&f->rl->fleet_down, 1) == 0) {
        atomic_fetch_add(&f->rl->fleet_outages, 1);
        log_warn("ratelimit: Redis at %s%s%.0d %s; limits fall back to "
                 "this gateway's share until it answers",
                 f->host, f->port != 0 ? ":" : "", f->port, why);
    }
}

static void
fleet_mark_up(struct ratelimit_fleet *f)
{
    f->backoff_ms = FLEET_BACKOFF_MIN_MS;
    if (!f->down)
        return;
    f->down = false;
    if (atomic_fetch_sub(&f->rl->fleet_down, 1) == 1)
        log_info("ratelimit: Redis at %s%s%.0d answers again; limits are "
                 "shared again", f->host, f->port != 0 ? ":" : "", f->port);
}

/* Try again after the current wait, and double the next one. */
static void
fleet_schedule(struct ratelimit_fleet *f)
{
    if (f->closing)
        return;
    loop_timer_set(f->loop, &f->timer, f->backoff_ms);
    f->backoff_ms = MIN(f->backoff_ms * 2, MAX(f->backoff_max_ms,
                                               FLEET_BACKOFF_MIN_MS));
}

/*
 * Close the connection (pending decisions are answered "no answer" by
 * hiredis's callbacks with no reply) and plan the next attempt. Safe
 * inside a hiredis callback, where hiredis defers the free.
 */
static void
fleet_drop(struct ratelimit_fleet *f, const char *why)
{
    redisAsyncContext *ac = f->ac;

    f->ac = NULL;
    f->ready = false;
    fleet_mark_down(f, why);
    if (ac != NULL)
        redisAsyncFree(ac);
    fleet_schedule(f);
}

/* The connect timeout while connecting, else the wait before a retry. */
static void
on_timer(struct loop_timer *t)
{
    struct ratelimit_fleet *f =
        (struct ratelimit_fleet *)((char *)t -
                                   offsetof(struct ratelimit_fleet, timer));

    if (f->ac != NULL && !f->ready) {
        fleet_drop(f, "did not answer in time");
        return;
    }
    if (f->ac == NULL)
        fleet_connect(f);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct ratelimit_fleet *f = ac->ev.data;

    if (status == REDIS_OK || f->ac != ac)
        return;
    /* hiredis frees the context after this returns. */
    f->ac = NULL;
    f->ready = false;
    fleet_mark_down(f, "refused the connection");
    fleet_schedule(f);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct ratelimit_fleet *f = ac->ev.data;

    (void)status;
    if (f->ac != ac)
        return;
    f->ac = NULL;
    f->ready = false;
    fleet_mark_down(f, "closed the connection");
    fleet_schedule(f);
}

/* AUTH answered: an error is a configuration mistake, logged each time. */
static void
on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
    struct ratelimit_fleet *f = priv;
    const redisReply *r = reply;

    if (r != NULL && r->type == REDIS_REPLY_ERROR && f->ac == ac) {
        log_error("ratelimit: Redis refused the password of "
                  "redis.password_file: %.80s", r->str);
        fleet_drop(f, "refused the password");
    }
}

/* SCRIPT LOAD answered with the digest: the client is ready. */
static void
on_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
    struct ratelimit_fleet *f = priv;
    const redisReply *r = reply;

    if (f->ac != ac || r == NULL)
        return;
    if (r->type != REDIS_REPLY_STRING || r->len != 40) {
        fleet_drop(f, "did not load the limit script");
        return;
    }
    memcpy(f->sha, r->str, 40);
    f->sha[40] = '\0';
    f->ready = true;
    loop_timer_cancel(f->loop, &f->timer);
    fleet_mark_up(f);
}

/* Hook the new context to the loop and queue AUTH and SCRIPT LOAD. */
static int
fleet_attach(struct ratelimit_fleet *f, redisAsyncContext *ac)
{
    ac->ev.data = f;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    f->io.fd = ac->c.fd;
    f->told_error = false;
    f->want = 0;
    f->watching = false;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (f->password[0] != '\0' &&
        redisAsyncCommand(ac, on_auth, f, "AUTH %s", f->password) != REDIS_OK)
        return AW_IO;
    if (redisAsyncCommand(ac, on_loaded, f, "SCRIPT LOAD %s", fleet_script) !=
        REDIS_OK)
        return AW_IO;
    return AW_OK;
}

static void
fleet_connect(struct ratelimit_fleet *f)
{
    redisAsyncContext *ac = f->port != 0
                                ? redisAsyncConnect(f->host, f->port)
                                : redisAsyncConnectUnix(f->host);

    if (ac == NULL || ac->err) {
        if (ac != NULL)
            redisAsyncFree(ac);
        fleet_mark_down(f, "cannot be reached");
        fleet_schedule(f);
        return;
    }
    f->ac = ac;
    if (fleet_attach(f, ac) != AW_OK) {
        fleet_drop(f, "cannot be written to");
        return;
    }
    loop_timer_set(f->loop, &f->timer, f->connect_timeout_ms);
}

static int
fleet_slots_init(struct ratelimit_fleet *f, unsigned n)
{
    f->slots = calloc(n, sizeof(*f->slots));
    if (f->slots == NULL)
        return AW_NOMEM;
    for (unsigned i = 0; i < n; i++) {
        f->slots[i].f = f;
        f->slots[i].next_free = i + 1 < n ? &f->slots[i + 1] : NULL;
    }
    f->free_slots = &f->slots[0];
    return AW_OK;
}

int
ratelimit_fleet_new(struct ratelimit *rl, struct loop *l,
                    const struct ratelimit_fleet_opts *o,
                    struct ratelimit_fleet **out)
{
    struct ratelimit_fleet *f = calloc(1, sizeof(*f));
    int rc = AW_NOMEM;

    if (f == NULL)
        return AW_NOMEM;
    f->rl = rl;
    f->loop = l;
    f->io.on_event = on_io;
    f->timer.on_expire = on_timer;
    f->backoff_ms = FLEET_BACKOFF_MIN_MS;
    f->connect_timeout_ms = o->connect_timeout_ms;
    f->backoff_max_ms = o->backoff_max_ms;
    rc = fleet_address(o->address, f->host, sizeof(f->host), &f->port);
    if (rc == AW_OK && (strlen(o->prefix) >= sizeof(f->prefix) ||
                        (o->password != NULL &&
                         strlen(o->password) >= sizeof(f->password))))
        rc = AW_INVALID;
    if (rc == AW_OK)
        rc = fleet_slots_init(f, MAX(o->max_pending, 1));
    if (rc != AW_OK)
        goto fail;
    memcpy(f->prefix, o->prefix, strlen(o->prefix) + 1);
    if (o->password != NULL)
        memcpy(f->password, o->password, strlen(o->password) + 1);
    fleet_connect(f);
    *out = f;
    return AW_OK;
fail:
    free(f->slots);
    free(f);
    return rc;
}

void
ratelimit_fleet_free(struct ratelimit_fleet *f)
{
    if (f == NULL)
        return;
    f->closing = true;
    loop_timer_cancel(f->loop, &f->timer);
    if (f->ac != NULL) {
        redisAsyncContext *ac = f->ac;

        f->ac = NULL;
        redisAsyncFree(ac);
    }
    if (f->down)
        atomic_fetch_sub(&f->rl->fleet_down, 1);
    explicit_bzero(f->password, sizeof(f->password));
    free(f->slots);
    free(f);
}

bool
ratelimit_fleet_ready(const struct ratelimit_fleet *f)
{
    return f != NULL && f->ready && f->ac != NULL;
}

static void
slot_put(struct ratelimit_fleet *f, struct fleet_slot *s)
{
    s->cb = NULL;
    s->arg = NULL;
    s->next_free = f->free_slots;
    f->free_slots = s;
}

static void on_decided(redisAsyncContext *ac, void *reply, void *priv);

/* Send (or send again) the slot's command. */
static int
slot_send(struct ratelimit_fleet *f, struct fleet_slot *s)
{
    return redisAsyncCommandArgv(f->ac, on_decided, s, (int)s->cmd.argc,
                                 s->cmd.argv, s->cmd.argvlen) == REDIS_OK
               ? AW_OK
               : AW_IO;
}

/*
 * Redis forgot the script (restarted, SCRIPT FLUSH): send the same
 * decision once more as EVAL with the script's text, which also loads
 * it. True when resent.
 */
static bool
retry_noscript(struct ratelimit_fleet *f, struct fleet_slot *s,
               const redisReply *r)
{
    if (s->retried || r == NULL || r->type != REDIS_REPLY_ERROR ||
        strncmp(r->str, "NOSCRIPT", 8) != 0 || f->ac == NULL)
        return false;
    s->retried = true;
    s->cmd.argv[0] = "EVAL";
    s->cmd.argvlen[0] = 4;
    s->cmd.argv[1] = fleet_script;
    s->cmd.argvlen[1] = strlen(fleet_script);
    return slot_send(f, s) == AW_OK;
}

/*
 * An error reply to a decision (a key of another type under the
 * prefix, a script that Redis refuses): the decision is made locally.
 * Logged once per connection, since every decision may meet it.
 */
static void
tell_error(struct ratelimit_fleet *f, const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ERROR || f->told_error)
        return;
    f->told_error = true;
    log_warn("ratelimit: Redis answered a decision with an error, decided "
             "locally (logged once per connection): %.120s", r->str);
}

/* A decision's reply, or NULL when the connection went away first. */
static void
on_decided(redisAsyncContext *ac, void *reply, void *priv)
{
    struct fleet_slot *s = priv;
    struct ratelimit_fleet *f = s->f;
    struct ratelimit_fleet_answer a;
    ratelimit_fleet_cb cb = s->cb;
    void *arg = s->arg;

    (void)ac;
    if (retry_noscript(f, s, reply))
        return;
    if (fleet_reply_read(reply, s->map, s->n, &a) == AW_OK) {
        atomic_fetch_add(&f->rl->fleet_decisions, 1);
    } else {
        tell_error(f, reply);
        if (cb != NULL)
            atomic_fetch_add(&f->rl->fleet_fallbacks, 1);
    }
    /* Free the slot first: the callback may start a new decision. */
    slot_put(f, s);
    if (cb != NULL)
        cb(arg, &a);
}

int
ratelimit_fleet_check(struct ratelimit_fleet *f,
                      const struct ratelimit_fleet_item *items, size_t n,
                      ratelimit_fleet_cb cb, void *arg, void **ticket)
{
    struct fleet_slot *s = f->free_slots;

    if (!ratelimit_fleet_ready(f) || s == NULL ||
        fleet_cmd_build(&s->cmd, f->sha, f->prefix, items, n, s->map) !=
            AW_OK) {
        atomic_fetch_add(&f->rl->fleet_fallbacks, 1);
        return AW_DECLINED;
    }
    s->n = n;
    s->retried = false;
    if (slot_send(f, s) != AW_OK) {
        atomic_fetch_add(&f->rl->fleet_fallbacks, 1);
        return AW_DECLINED;
    }
    f->free_slots = s->next_free;
    s->next_free = NULL;
    s->cb = cb;
    s->arg = arg;
    *ticket = s;
    return AW_AGAIN;
}

void
ratelimit_fleet_cancel(struct ratelimit_fleet *f, void *ticket,
                       bool timed_out)
{
    struct fleet_slot *s = ticket;

    if (s == NULL)
        return;
    s->cb = NULL;
    s->arg = NULL;
    if (!timed_out)
        return;
    atomic_fetch_add(&f->rl->fleet_fallbacks, 1);
    if (f->ac != NULL)
        fleet_drop(f, "did not answer a decision in time");
}

/* A ban write's reply; nothing to do (a ban not written stays local). */
static void
on_ban_written(redisAsyncContext *ac, void *reply, void *priv)
{
    (void)ac;
    (void)reply;
    (void)priv;
}

void
ratelimit_fleet_ban(struct ratelimit_fleet *f, const char *key,
                    uint64_t ttl_ns)
{
    unsigned long long ms = (unsigned long long)MAX(ttl_ns / 1000000, 1);

    if (!ratelimit_fleet_ready(f))
        return;
    /* NX then GT: a longer ban already written by another gateway stays. */
    redisAsyncCommand(f->ac, on_ban_written, NULL, "SET %sban:%s 1 PX %llu NX",
                      f->prefix, key, ms);
    redisAsyncCommand(f->ac, on_ban_written, NULL, "PEXPIRE %sban:%s %llu GT",
                      f->prefix, key, ms);
}
