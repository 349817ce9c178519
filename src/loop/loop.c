/*
 * Event loop: epoll in edge-triggered mode plus a hashed timer wheel.
 *
 * The wheel has LOOP_WHEEL_SLOTS slots of LOOP_TICK_MS each. A timer lies
 * in the slot of its expiry tick; a timer further away than one turn of
 * the wheel is skipped until its turn comes, which costs one comparison
 * per turn. Setting and cancelling are O(1), which matters because every
 * read on a connection re-arms its timer.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "loop.h"

#define LOOP_MAX_EVENTS 256

static void
timer_unlink(struct loop_timer *t)
{
    t->prev->next = t->next;
    t->next->prev = t->prev;
    t->next = t->prev = NULL;
}

int
loop_init(struct loop *l, void (*on_wake)(struct loop *, void *),
          void *wake_arg)
{
    struct epoll_event ev = {.events = EPOLLIN};

    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < LOOP_WHEEL_SLOTS; i++)
        l->wheel[i].next = l->wheel[i].prev = &l->wheel[i];
    l->on_wake = on_wake;
    l->wake_arg = wake_arg;
    l->now = clock_mono_ms();
    l->last_tick = l->now / LOOP_TICK_MS;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        return AW_IO;
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wakefd < 0) {
        close(l->epfd);
        return AW_IO;
    }
    ev.data.ptr = NULL; /* NULL marks the wake descriptor */
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
        close(l->wakefd);
        close(l->epfd);
        return AW_IO;
    }
    return AW_OK;
}

void
loop_fini(struct loop *l)
{
    if (l->wakefd >= 0)
        close(l->wakefd);
    if (l->epfd >= 0)
        close(l->epfd);
    l->wakefd = l->epfd = -1;
}

int
loop_add(struct loop *l, struct loop_io *io)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.ptr = io,
    };

    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0)
        return AW_IO;
    return AW_OK;
}

int
loop_watch(struct loop *l, struct loop_io *io, uint32_t want, bool add)
{
    struct epoll_event ev = {
        .events = (want & (EPOLLIN | EPOLLOUT)) | EPOLLRDHUP,
        .data.ptr = io,
    };

    if (epoll_ctl(l->epfd, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, io->fd,
                  &ev) < 0)
        return AW_IO;
    return AW_OK;
}

void
loop_del(struct loop *l, struct loop_io *io)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void
loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms)
{
    struct loop_timer *head;
    uint64_t tick;

    if (t->next != NULL)
        timer_unlink(t);
    else
        l->ntimers++;
    t->expires = l->now + ms;
    /* Round up so that a timer never fires early. */
    tick = (t->expires + LOOP_TICK_MS - 1) / LOOP_TICK_MS;
    if (tick <= l->last_tick)
        tick = l->last_tick + 1;
    head = &l->wheel[tick % LOOP_WHEEL_SLOTS];
    t->next = head;
    t->prev = head->prev;
    head->prev->next = t;
    head->prev = t;
}

void
loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
    if (t->next == NULL)
        return;
    timer_unlink(t);
    l->ntimers--;
}

/*
 * Fire the timers of every tick passed since the last call. A handler may
 * set or cancel any timer, including ones in the slot being walked, so
 * due timers are first moved to a private list.
 */
static void
loop_expire(struct loop *l)
{
    uint64_t now_tick = l->now / LOOP_TICK_MS;
    struct loop_timer due = {.next = &due, .prev = &due};

    while (l->last_tick < now_tick && l->ntimers > 0) {
        struct loop_timer *head;

        l->last_tick++;
        head = &l->wheel[l->last_tick % LOOP_WHEEL_SLOTS];
        for (struct loop_timer *t = head->next, *n; t != head; t = n) {
            n = t->next;
            if (t->expires > l->now)
                continue;
            timer_unlink(t);
            t->next = &due;
            t->prev = due.prev;
            due.prev->next = t;
            due.prev = t;
        }
        while (due.next != &due) {
            struct loop_timer *t = due.next;

            timer_unlink(t);
            l->ntimers--;
            t->on_expire(t);
        }
    }
    l->last_tick = MAX(l->last_tick, now_tick);
}

static void
loop_drain_wake(struct loop *l)
{
    uint64_t v;

    while (read(l->wakefd, &v, sizeof(v)) > 0)
        ;
    if (l->on_wake != NULL)
        l->on_wake(l, l->wake_arg);
}

int
loop_run(struct loop *l)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];

    while (!l->stop) {
        int timeout = l->ntimers > 0 ? LOOP_TICK_MS : -1;
        int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout);

        if (n < 0 && errno != EINTR)
            return AW_IO;
        l->now = clock_mono_ms();
        for (int i = 0; i < n; i++) {
            struct loop_io *io = evs[i].data.ptr;

            if (io == NULL)
                loop_drain_wake(l);
            else
                io->on_event(io, evs[i].events);
        }
        loop_expire(l);
        if (l->on_batch != NULL)
            l->on_batch(l, l->wake_arg);
    }
    return AW_OK;
}

void
loop_stop(struct loop *l)
{
    l->stop = true;
}

void
loop_wake(struct loop *l)
{
    uint64_t one = 1;

    if (write(l->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return;
}
