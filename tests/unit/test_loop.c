/*
 * Unit tests of src/loop: timers fire once, never early, in any order
 * they were armed; cancelled timers never fire; I/O readiness arrives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/loop.h"

struct probe {
    struct loop_timer t;
    struct loop *l;
    uint64_t armed_at;
    uint64_t delay;
    int fired;
};

static int remaining;

static void
on_probe(struct loop_timer *t)
{
    struct probe *p = (struct probe *)t;

    p->fired++;
    assert_true(p->l->now >= p->armed_at + p->delay);
    if (--remaining == 0)
        loop_stop(p->l);
}

static void
test_timers(void **state)
{
    struct loop l;
    struct probe p[5];
    const uint64_t delays[5] = {60, 5, 30, 0, 17};

    assert_int_equal(loop_init(&l, NULL, NULL), AW_OK);
    remaining = 4;
    for (int i = 0; i < 5; i++) {
        memset(&p[i], 0, sizeof(p[i]));
        p[i].t.on_expire = on_probe;
        p[i].l = &l;
        p[i].armed_at = l.now;
        p[i].delay = delays[i];
        loop_timer_set(&l, &p[i].t, delays[i]);
    }
    loop_timer_cancel(&l, &p[2].t);
    loop_timer_cancel(&l, &p[2].t);           /* twice is harmless */
    assert_int_equal(loop_run(&l), AW_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(p[i].fired, i == 2 ? 0 : 1);
    assert_int_equal(l.ntimers, 0);
    loop_fini(&l);
}

struct pipe_io {
    struct loop_io io;
    struct loop *l;
    uint32_t seen;
};

static void
on_pipe(struct loop_io *io, uint32_t events)
{
    struct pipe_io *p = (struct pipe_io *)io;

    p->seen |= events;
    loop_stop(p->l);
}

static void
test_io_and_wake(void **state)
{
    struct loop l;
    struct pipe_io p = {0};
    int fds[2];

    assert_int_equal(loop_init(&l, NULL, NULL), AW_OK);
    assert_int_equal(pipe(fds), 0);
    p.io.fd = fds[0];
    p.io.on_event = on_pipe;
    p.l = &l;
    assert_int_equal(loop_add(&l, &p.io), AW_OK);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(loop_run(&l), AW_OK);
    assert_true(p.seen & EPOLLIN);
    loop_del(&l, &p.io);
    close(fds[0]);
    close(fds[1]);
    loop_fini(&l);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_io_and_wake),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
