/*
 * loop: one epoll event loop per worker thread, with a timer wheel.
 *
 * Descriptors are registered once, edge-triggered, for both directions;
 * handlers read and write until EAGAIN. A loop is used by exactly one
 * thread; nothing here is thread-safe except loop_wake.
 */
#ifndef APIWARD_LOOP_H
#define APIWARD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

struct loop;

/* A registered descriptor; embed it in the object that owns the fd. */
struct loop_io {
    int fd;
    /* Called with the epoll event bits (EPOLLIN, EPOLLOUT, ...). */
    void (*on_event)(struct loop_io *io, uint32_t events);
};

/* A one-shot timer; embed it, arm it with loop_timer_set. */
struct loop_timer {
    struct loop_timer *next;
    struct loop_timer *prev;
    uint64_t expires;                         /* monotonic ms */
    void (*on_expire)(struct loop_timer *t);  /* called once per arming */
};

/* Granularity of the wheel; timers fire up to this late. */
#define LOOP_TICK_MS 16
#define LOOP_WHEEL_SLOTS 1024

struct loop {
    int epfd;
    int wakefd;                 /* eventfd; loop_wake makes it readable */
    bool stop;
    uint64_t now;               /* monotonic ms, refreshed each iteration */
    uint64_t last_tick;         /* wheel position processed up to */
    unsigned ntimers;
    struct loop_timer wheel[LOOP_WHEEL_SLOTS]; /* list heads */
    void (*on_wake)(struct loop *l, void *arg);
    void (*on_batch)(struct loop *l, void *arg); /* after each round of
                                                    events and timers */
    void *wake_arg;
};

/*
 * Create the epoll instance and wake descriptor. on_wake runs on the
 * loop's thread after another thread called loop_wake. AW_IO on failure.
 */
int loop_init(struct loop *l, void (*on_wake)(struct loop *, void *),
              void *wake_arg);

/* Close the descriptors; timers are forgotten. */
void loop_fini(struct loop *l);

/* Register io->fd edge-triggered for input, output and hang-up. */
int loop_add(struct loop *l, struct loop_io *io);

/*
 * Register io->fd (add true) or change its registration (add false),
 * level-triggered, for the events in want (EPOLLIN, EPOLLOUT; hang-up
 * and errors are always reported). For libraries that expect poll(2)
 * readiness and may leave bytes unread, such as libcurl's multi
 * interface.
 */
int loop_watch(struct loop *l, struct loop_io *io, uint32_t want, bool add);

/* Unregister io->fd (closing the fd also does it). */
void loop_del(struct loop *l, struct loop_io *io);

/* Arm (or re-arm) t to fire ms milliseconds from now. */
void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms);

/* Disarm t; harmless when it is not armed. */
void loop_timer_cancel(struct loop *l, struct loop_timer *t);

static inline bool
loop_timer_armed(const struct loop_timer *t)
{
    return t->next != NULL;
}

/* Run until loop_stop; returns AW_OK, or AW_IO if epoll fails. */
int loop_run(struct loop *l);

/* Make loop_run return after the current iteration (loop's thread). */
void loop_stop(struct loop *l);

/* Wake the loop from any thread; on_wake will run on its thread. */
void loop_wake(struct loop *l);

#endif
