/*
 * Unit tests of the detectors of suspicious token use
 * (src/telemetry/detect.c): thresholds, one alert per window, a new
 * window after the old one ends, repeated addresses counted once, the
 * bound on addresses, a full table, and workers calling at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include <cmocka.h>

#include "telemetry/telemetry.h"

static void
start(unsigned addresses, unsigned replays, size_t entries)
{
    struct detect_opts o = {addresses, replays, 1000, entries};

    assert_int_equal(detect_start(&o), AW_OK);
}

static void
test_sharing(void **state)
{
    unsigned n = 0;

    start(3, 0, 1024);
    assert_false(detect_token_address(7, 1, 0, &n));
    assert_false(detect_token_address(7, 1, 10, &n));   /* same address */
    assert_false(detect_token_address(7, 2, 20, &n));
    assert_true(detect_token_address(7, 3, 30, &n));
    assert_int_equal(n, 3);
    assert_false(detect_token_address(7, 4, 40, &n));   /* alerted once */
    assert_false(detect_token_address(8, 9, 40, &n));   /* another token */
    /* A new window starts from nothing. */
    assert_false(detect_token_address(7, 5, 1100, &n));
    assert_int_equal(n, 1);
    assert_false(detect_expired_replay(7, 0, &n));      /* detector off */
    detect_stop();
    detect_stop();
}

static void
test_replays(void **state)
{
    unsigned n = 0;

    start(0, 2, 1024);
    assert_false(detect_token_address(5, 1, 0, &n));    /* detector off */
    assert_false(detect_expired_replay(5, 0, &n));
    assert_true(detect_expired_replay(5, 1, &n));
    assert_int_equal(n, 2);
    assert_false(detect_expired_replay(5, 2, &n));
    detect_stop();
}

/* The threshold is capped at the addresses an entry can hold. */
static void
test_address_cap(void **state)
{
    unsigned n = 0;
    bool alerted = false;

    start(1000, 0, 1024);
    for (uint32_t a = 1; a <= 40; a++)
        alerted |= detect_token_address(11, a, a, &n);
    assert_true(alerted);
    assert_int_equal(n, DETECT_MAX_ADDRESSES);
    detect_stop();
}

/* Far more tokens than entries: old ones are forgotten, nothing breaks. */
static void
test_full_table(void **state)
{
    unsigned n = 0;

    start(2, 0, 1024);
    for (uint64_t t = 1; t < 100000; t++)
        detect_token_address(t, 1, 5, &n);
    assert_false(detect_token_address(424242, 1, 6, &n));
    assert_true(detect_token_address(424242, 2, 6, &n));
    detect_stop();
}

static void *
worker(void *arg)
{
    unsigned *alerts = arg, n;

    for (uint32_t a = 0; a < 20000; a++)
        if (detect_token_address(a % 50, a, 1, &n))
            (*alerts)++;
    return NULL;
}

/* Workers at once: each token is alerted on exactly once. */
static void
test_threads(void **state)
{
    pthread_t t[4];
    unsigned alerts[4] = {0};

    start(4, 0, 4096);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, &alerts[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(alerts[0] + alerts[1] + alerts[2] + alerts[3], 50);
    detect_stop();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharing),
        cmocka_unit_test(test_replays),
        cmocka_unit_test(test_address_cap),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
