/*
 * What telemetry costs: security events per second one drain thread
 * delivers while producer threads emit as fast as they can, and the
 * cost of counting one request into the metrics.
 *
 *   apiward-bench-events [seconds] [producers] [destination]
 *
 * destination is a file path (default /dev/null, which measures the
 * formatting, the rings and the drain rather than a disk). Events a
 * full ring refused are reported as dropped: delivered = emitted -
 * dropped. Figures vary with the machine; run it on a quiet one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "telemetry/telemetry.h"

static atomic_bool stop;

struct producer {
    unsigned id;
    uint64_t emitted;
};

static void *
produce(void *arg)
{
    struct producer *p = arg;
    const struct security_event e = {
        .action = "authentication.failed",
        .reason = "auth.bad_signature",
        .outcome = "denied",
        .severity = 6,
        .request_id = "5f0c2a9e8b7d4c3a2f1e0d9c8b7a6f5e",
        .method = "GET",
        .path = "/users/42/orders",
        .route = "orders",
        .client_ip = "192.0.2.7",
        .credential_id = "3fa2b1c0d9e8",
        .category = "authentication",
    };

    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        events_emit(p->id, &e);
        p->emitted++;
    }
    return NULL;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ns per metrics_observe, one thread, a handful of routes. */
static double
observe_cost(void)
{
    static const char *const routes[] = {"users", "orders", "files", "api"};
    const unsigned n = 5000000;
    double t0;

    metrics_start(1, 16);
    t0 = now_s();
    for (unsigned i = 0; i < n; i++) {
        struct metrics_request m = {routes[i & 3], 200, i & 0xffff,
                                    "respond", NULL};

        metrics_observe(0, &m);
    }
    t0 = now_s() - t0;
    metrics_stop();
    return t0 * 1e9 / n;
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? strtod(argv[1], NULL) : 2.0;
    unsigned np = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2;
    const char *dest = argc > 3 ? argv[3] : "/dev/null";
    struct producer p[64];
    pthread_t t[64];
    uint64_t emitted = 0, dropped;
    struct timespec d;
    double t0, el;

    np = np < 1 ? 1 : np > 64 ? 64 : np;
    if (events_start(dest, 1 << 20, np) != AW_OK) {
        fprintf(stderr, "cannot open %s\n", dest);
        return 1;
    }
    t0 = now_s();
    for (unsigned i = 0; i < np; i++) {
        p[i] = (struct producer){i, 0};
        pthread_create(&t[i], NULL, produce, &p[i]);
    }
    d.tv_sec = (time_t)seconds;
    d.tv_nsec = (long)((seconds - (double)d.tv_sec) * 1e9);
    nanosleep(&d, NULL);
    atomic_store(&stop, true);
    for (unsigned i = 0; i < np; i++) {
        pthread_join(t[i], NULL);
        emitted += p[i].emitted;
    }
    events_stop();
    el = now_s() - t0;
    dropped = events_dropped();
    printf("events: %u producers, %.1f s: emitted %llu, dropped %llu, "
           "delivered %.0f/s by one drain thread\n", np, el,
           (unsigned long long)emitted, (unsigned long long)dropped,
           (double)(emitted - dropped) / el);
    printf("metrics: %.1f ns per request counted\n", observe_cost());
    return 0;
}
