/*
 * Unit tests of the metrics (src/telemetry/metrics.c): counts summed
 * over worker shards, histogram buckets, refusals by stage and reason
 * with unknown codes folded into "other", the bound on route names,
 * label escaping, backend gauges, and the shape of the text exposition
 * (every sample under a HELP and a TYPE, no series twice).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include <cmocka.h>

#include "telemetry/telemetry.h"

#define OUT_CAP ((size_t)1 << 20)

static char out_mem[OUT_CAP];

/* Render into out_mem, NUL-terminated. */
static const char *
render(void)
{
    struct buf b = {out_mem, 0, 0, OUT_CAP - 1};

    assert_int_equal(metrics_render(&b), AW_OK);
    out_mem[b.end] = '\0';
    return out_mem;
}

/* The value of the sample line that starts with series, or -1. */
static double
sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');

        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = nl != NULL ? nl + 1 : NULL;
    }
    return -1;
}

static void
observe(unsigned w, const char *route, int status, uint64_t us,
        const char *stage, const char *reason)
{
    struct metrics_request m = {route, status, us, stage, reason};

    metrics_observe(w, &m);
}

static void
test_counts_sum_over_workers(void **state)
{
    const char *t;

    assert_int_equal(metrics_start(3, 16), AW_OK);
    observe(0, "users", 200, 300, "respond", NULL);
    observe(1, "users", 204, 2000, "respond", NULL);
    observe(2, "users", 503, 7000000, "forward", "upstream.unavailable");
    observe(2, NULL, 404, 10, "route", "route.not_found");
    t = render();
    assert_true(sample(t, "apiward_requests_total{route=\"users\","
                          "code=\"2xx\"}") == 2);
    assert_true(sample(t, "apiward_requests_total{route=\"users\","
                          "code=\"5xx\"}") == 1);
    assert_true(sample(t, "apiward_requests_total{route=\"\","
                          "code=\"4xx\"}") == 1);
    assert_true(sample(t, "apiward_refusals_total{stage=\"forward\","
                          "reason=\"upstream.unavailable\"}") == 1);
    assert_true(sample(t, "apiward_refusals_total{stage=\"route\","
                          "reason=\"route.not_found\"}") == 1);
    metrics_stop();
}

static void
test_histogram(void **state)
{
    const char *t;
#define LE "apiward_request_duration_seconds_bucket{route=\"r\",le=\"%s\"}"
    char series[160];

    assert_int_equal(metrics_start(2, 4), AW_OK);
    observe(0, "r", 200, 500, "respond", NULL);      /* on the bound */
    observe(1, "r", 200, 501, "respond", NULL);
    observe(0, "r", 200, 20000000, "respond", NULL); /* past 10 s */
    t = render();
    snprintf(series, sizeof(series), LE, "0.0005");
    assert_true(sample(t, series) == 1);
    snprintf(series, sizeof(series), LE, "0.001");
    assert_true(sample(t, series) == 2);
    snprintf(series, sizeof(series), LE, "10");
    assert_true(sample(t, series) == 2);
    snprintf(series, sizeof(series), LE, "+Inf");
    assert_true(sample(t, series) == 3);
    assert_true(sample(t, "apiward_request_duration_seconds_count"
                          "{route=\"r\"}") == 3);
    assert_true(sample(t, "apiward_request_duration_seconds_sum"
                          "{route=\"r\"}") > 20.0);
    metrics_stop();
}

static void
test_unknown_reason_and_stage(void **state)
{
    const char *t;

    assert_int_equal(metrics_start(1, 4), AW_OK);
    observe(0, "r", 400, 1, "nowhere", "made.up_code");
    observe(0, "r", 401, 1, "authenticate", "auth.bad_signature");
    t = render();
    assert_true(sample(t, "apiward_refusals_total{stage=\"other\","
                          "reason=\"other\"}") == 1);
    assert_true(sample(t, "apiward_refusals_total{stage=\"authenticate\","
                          "reason=\"auth.bad_signature\"}") == 1);
    assert_null(strstr(t, "made.up_code"));
    metrics_stop();
}

/* Every code the table knows is found, and the table is sorted. */
static void
test_reason_table(void **state)
{
    static const char *const known[] = {
        "abuse.banned", "auth.missing_credentials", "auth.wrong_issuer",
        "authz.object_mismatch", "http.ambiguous_length", "http.obs_fold",
        "ratelimit.exceeded", "upstream.unavailable", "inspect.xss",
        "inspect.xxe",
    };
    unsigned other = metrics_reason_index("zzz.unknown");

    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        assert_true(metrics_reason_index(known[i]) < other);
    assert_int_equal(metrics_reason_index(""), other);
    assert_int_equal(metrics_reason_index("auth."), other);
}

static void
test_route_bound(void **state)
{
    const char *t;

    assert_int_equal(metrics_start(1, 2), AW_OK);
    observe(0, "a", 200, 1, "respond", NULL);
    observe(0, "b", 200, 1, "respond", NULL);
    observe(0, "c", 200, 1, "respond", NULL);
    observe(0, "d", 200, 1, "respond", NULL);
    observe(0, "a", 200, 1, "respond", NULL);
    t = render();
    assert_true(sample(t, "apiward_requests_total{route=\"a\","
                          "code=\"2xx\"}") == 2);
    assert_true(sample(t, "apiward_requests_total{route=\"_other\","
                          "code=\"2xx\"}") == 2);
    assert_null(strstr(t, "route=\"c\""));
    metrics_stop();
}

static void
test_label_escaping(void **state)
{
    const char *t;

    assert_int_equal(metrics_start(1, 4), AW_OK);
    observe(0, "q\"b\\n\nx", 200, 1, "respond", NULL);
    t = render();
    assert_non_null(strstr(t, "route=\"q\\\"b\\\\n\\nx\""));
    metrics_stop();
}

static void
test_backends(void **state)
{
    struct metrics_backend a = {"10.0.0.1:80", 2, 5, false};
    struct metrics_backend b = {"10.0.0.1:80", 1, 0, true};
    const char *t;

    assert_int_equal(metrics_start(2, 4), AW_OK);
    metrics_backend(0, &a);
    metrics_backend(1, &b);
    a.active = 3;
    metrics_backend(0, &a);          /* a gauge: replaced, not added */
    t = render();
    assert_true(sample(t, "apiward_upstream_active_connections"
                          "{backend=\"10.0.0.1:80\"}") == 4);
    assert_true(sample(t, "apiward_upstream_idle_connections"
                          "{backend=\"10.0.0.1:80\"}") == 5);
    assert_true(sample(t, "apiward_upstream_ejected_workers"
                          "{backend=\"10.0.0.1:80\"}") == 1);
    metrics_stop();
}

/* Name of the family a sample line belongs to (histogram parts cut). */
static void
family_of(const char *line, size_t len, char *name, size_t cap)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    static const char hist[] = "apiward_request_duration_seconds";
    size_t n = strcspn(line, "{ ");

    snprintf(name, cap, "%.*s", (int)MIN(n, len), line);
    for (size_t i = 0; i < 3; i++) {
        size_t s = strlen(suffixes[i]), l = strlen(name);

        if (l == sizeof(hist) - 1 + s && strncmp(name, hist, l - s) == 0 &&
            strcmp(name + l - s, suffixes[i]) == 0)
            name[l - s] = '\0';
    }
}

#define SHAPE_MAX 512

/* True when p[0..n) is in list[0..count). */
static bool
in_list(char (*list)[192], unsigned count, const char *p, size_t n)
{
    for (unsigned i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(list[i], p, n) == 0)
            return true;
    return false;
}

/* As in_list; adds p[0..n) when it is not there yet. */
static bool
seen_before(char (*list)[192], unsigned *count, const char *p, size_t n)
{
    if (in_list(list, *count, p, n))
        return true;
    assert_true(*count < SHAPE_MAX && n < 192);
    memcpy(list[*count], p, n);
    list[(*count)++][n] = '\0';
    return false;
}

/* One sample line: declared family, a number at the end, not twice. */
static void
check_sample(const char *l, size_t len, char (*types)[192],
             unsigned *ntypes, char (*series)[192], unsigned *nseries)
{
    char fam[192], *end;
    const char *sp = l + len;

    family_of(l, len, fam, sizeof(fam));
    assert_true(in_list(types, *ntypes, fam, strlen(fam)));
    while (sp > l && sp[-1] != ' ')
        sp--;
    assert_true(sp > l + 1);
    strtod(sp, &end);
    assert_true(end == l + len && end != sp);
    assert_false(seen_before(series, nseries, l, (size_t)(sp - 1 - l)));
}

/*
 * The exposition's shape: every sample's family was declared by a TYPE
 * line before it, each sample ends in a number, no series appears
 * twice, no family is declared twice.
 */
static void
test_exposition_shape(void **state)
{
    static char types[SHAPE_MAX][192], series[SHAPE_MAX][192];
    unsigned ntypes = 0, nseries = 0;
    const char *t;

    assert_int_equal(metrics_start(2, 8), AW_OK);
    observe(0, "x", 200, 100, "respond", NULL);
    observe(1, "y", 403, 100, "authorize", "authz.denied");
    t = render();
    for (const char *l = t; *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t len;

        assert_non_null(nl);     /* every line ends in a newline */
        len = (size_t)(nl - l);
        if (strncmp(l, "# TYPE ", 7) == 0)
            assert_false(seen_before(types, &ntypes, l + 7,
                                     strcspn(l + 7, " ")));
        else if (l[0] != '#')
            check_sample(l, len, types, &ntypes, series, &nseries);
        l = nl + 1;
    }
    assert_true(nseries > 20);
    metrics_stop();
}

struct writer {
    unsigned w;
    unsigned n;
};

static void *
writer_main(void *arg)
{
    struct writer *wr = arg;
    char route[16];

    for (unsigned i = 0; i < wr->n; i++) {
        snprintf(route, sizeof(route), "r%u", i % 7);
        observe(wr->w, route, 200, i, "respond", NULL);
    }
    return NULL;
}

/* Workers count while a scrape runs; the final sum is exact. */
static void
test_concurrent(void **state)
{
    struct writer wr[2] = {{0, 20000}, {1, 20000}};
    pthread_t t[2];
    double total = 0;
    const char *text;
    char series[96];

    assert_int_equal(metrics_start(2, 8), AW_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer_main, &wr[i]), 0);
    for (int i = 0; i < 20; i++)
        render();
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    text = render();
    for (int r = 0; r < 7; r++) {
        snprintf(series, sizeof(series),
                 "apiward_requests_total{route=\"r%d\",code=\"2xx\"}", r);
        total += sample(text, series);
    }
    assert_true(total == 40000);
    metrics_stop();
}

/* Before start and after stop, calls do nothing and do not crash. */
static void
test_off(void **state)
{
    struct metrics_backend b = {"x:1", 1, 1, false};
    const char *t;

    observe(0, "r", 200, 1, "respond", NULL);
    metrics_backend(0, &b);
    t = render();
    assert_null(strstr(t, "apiward_requests_total{"));
    assert_non_null(strstr(t, "apiward_events_dropped_total 0"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_sum_over_workers),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_unknown_reason_and_stage),
        cmocka_unit_test(test_reason_table),
        cmocka_unit_test(test_route_bound),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_backends),
        cmocka_unit_test(test_exposition_shape),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_off),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
