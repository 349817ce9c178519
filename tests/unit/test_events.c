/*
 * Unit tests of the security event stream (src/telemetry/events.c) and
 * of the sink it shares with the access log: the ECS shape of a line,
 * escaping and cutting of client text, threads emitting at once, drop
 * counting, reopening after rotation, and two streams in one file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "json/json.h"
#include "telemetry/telemetry.h"

#define MAX_FILE ((size_t)8 << 20)

static char test_dir[64];
static char test_path[96];

static int
group_setup(void **state)
{
    snprintf(test_dir, sizeof(test_dir), "/tmp/test_events.XXXXXX");
    if (mkdtemp(test_dir) == NULL)
        return -1;
    snprintf(test_path, sizeof(test_path), "%s/events.log", test_dir);
    return 0;
}

static int
group_teardown(void **state)
{
    char old[128];

    snprintf(old, sizeof(old), "%s.1", test_path);
    unlink(old);
    unlink(test_path);
    rmdir(test_dir);
    return 0;
}

/* Each test starts from no file. */
static int
test_setup(void **state)
{
    unlink(test_path);
    return 0;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The whole file at path, NUL-terminated; *len its size. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(MAX_FILE + 1);
    size_t n;

    assert_non_null(buf);
    if (f == NULL) {
        buf[0] = '\0';
        *len = 0;
        return buf;
    }
    n = fread(buf, 1, MAX_FILE, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/*
 * Parse every line of buf as one JSON object with the strict parser;
 * returns the number of lines, failing on any that does not parse. The
 * last parsed tree is left in *last (in arena a) when last is not NULL.
 */
static size_t
parse_lines(char *buf, struct arena *a, struct json_value **last)
{
    struct json_limits lim;
    size_t n = 0;

    json_limits_default(&lim);
    for (char *p = buf, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        struct json_value *v;
        struct json_error err;

        if (json_parse(p, (size_t)(nl - p), &lim, a, &v, &err) != AW_OK)
            fail_msg("line %zu: %s at %zu: %.*s", n + 1, err.reason,
                     err.offset, (int)(nl - p), p);
        assert_int_equal(v->type, JSON_OBJECT);
        if (last != NULL)
            *last = v;
        n++;
    }
    return n;
}

static const struct json_value *
path2(const struct json_value *v, const char *a, const char *b)
{
    return json_get(json_get(v, a), b);
}

static void
assert_str(const struct json_value *v, const char *want)
{
    struct slice s = json_str(v);

    assert_non_null(s.ptr);
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

/* Emit one event into a fresh file and parse it back into *out. */
static void
emit_one(const struct security_event *e, struct arena *a,
         struct json_value **out)
{
    size_t len;
    char *buf;

    assert_int_equal(events_start(test_path, 64 << 10, 2), AW_OK);
    assert_true(events_enabled());
    events_emit(1, e);
    events_stop();
    assert_false(events_enabled());
    buf = slurp(test_path, &len);
    assert_int_equal(parse_lines(buf, a, out), 1);
    free(buf);
    unlink(test_path);
}

static void
test_ecs_shape(void **state)
{
    const struct security_event e = {
        .action = "authz.object_mismatch",
        .reason = "authz.object_mismatch",
        .outcome = "denied",
        .severity = 7,
        .request_id = "req-1",
        .method = "GET",
        .path = "/users/42",
        .route = "users",
        .client_ip = "192.0.2.7",
        .subject = "alice",
        .issuer = "corp",
        .auth_method = "jwt",
        .credential_id = "3fa2b1c0",
        .rule_id = "owner-only",
        .object_id = "42",
    };
    struct arena a;
    struct json_value *v;
    int64_t sev;

    arena_init(&a, 1 << 16, 1 << 24);
    emit_one(&e, &a, &v);
    assert_true(json_is(json_get(v, "@timestamp"), JSON_STRING));
    assert_int_equal(json_str(json_get(v, "@timestamp")).len, 24);
    assert_str(path2(v, "ecs", "version"), "8.11.0");
    assert_str(path2(v, "event", "kind"), "alert");
    assert_str(path2(v, "event", "category")->u.arr.items[0],
               "intrusion_detection");
    assert_str(path2(v, "event", "type")->u.arr.items[0], "denied");
    assert_str(path2(v, "event", "action"), "authz.object_mismatch");
    assert_str(path2(v, "event", "reason"), "authz.object_mismatch");
    assert_str(path2(v, "event", "outcome"), "failure");
    assert_true(json_int(path2(v, "event", "severity"), &sev));
    assert_int_equal(sev, 7);
    assert_str(path2(v, "rule", "id"), "owner-only");
    assert_str(path2(v, "source", "ip"), "192.0.2.7");
    assert_str(path2(v, "user", "name"), "alice");
    assert_str(json_get(path2(v, "http", "request"), "method"), "GET");
    assert_str(json_get(path2(v, "http", "request"), "id"), "req-1");
    assert_str(path2(v, "url", "path"), "/users/42");
    assert_str(path2(v, "apiward", "route"), "users");
    assert_str(path2(v, "apiward", "outcome"), "denied");
    assert_str(path2(v, "apiward", "issuer"), "corp");
    assert_str(path2(v, "apiward", "auth_method"), "jwt");
    assert_str(path2(v, "apiward", "credential_id"), "3fa2b1c0");
    assert_str(path2(v, "apiward", "object_id"), "42");
    arena_fini(&a);
}

/* Unset fields leave no key and no empty object; severity clamps. */
static void
test_sparse_and_clamped(void **state)
{
    const struct security_event e = {.action = "authz.privilege_escalation",
                                      .outcome = "monitored",
                                      .severity = 99};
    const struct security_event low = {.severity = -3};
    static const char *const absent[] = {"rule", "source", "user", "http",
                                         "url"};
    struct arena a;
    struct json_value *v;
    int64_t sev;

    arena_init(&a, 1 << 16, 1 << 24);
    emit_one(&e, &a, &v);
    for (size_t i = 0; i < ARRAY_LEN(absent); i++)
        assert_null(json_get(v, absent[i]));
    assert_str(path2(v, "event", "outcome"), "success");
    assert_str(path2(v, "event", "type")->u.arr.items[0], "allowed");
    assert_null(path2(v, "event", "reason"));
    assert_true(json_int(path2(v, "event", "severity"), &sev));
    assert_int_equal(sev, 10);
    assert_str(path2(v, "apiward", "outcome"), "monitored");
    assert_null(path2(v, "apiward", "route"));
    emit_one(&low, &a, &v);
    assert_true(json_int(path2(v, "event", "severity"), &sev));
    assert_int_equal(sev, 1);
    assert_str(path2(v, "event", "outcome"), "unknown");
    assert_null(path2(v, "event", "action"));
    assert_null(json_get(v, "apiward"));
    arena_fini(&a);
}

/* Client text is escaped into valid JSON and cut to its bound. */
static void
test_escaping_and_cuts(void **state)
{
    char path[2000], subject[300];
    struct security_event e = {.action = "authz.object_mismatch",
                               .outcome = "denied",
                               .severity = 5,
                               .object_id = "a\"b\\c\nd\x01\x7f\xc3\xa9}"};
    struct arena a;
    struct json_value *v;

    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    memset(subject, '"', sizeof(subject) - 1);
    subject[sizeof(subject) - 1] = '\0';
    e.path = path;
    e.subject = subject;
    arena_init(&a, 1 << 16, 1 << 24);
    emit_one(&e, &a, &v);
    /* Bytes outside ASCII are written as \u00XX, one per byte. */
    assert_str(path2(v, "apiward", "object_id"),
               "a\"b\\c\nd\x01\x7f\xc3\x83\xc2\xa9}");
    assert_int_equal(json_str(path2(v, "url", "path")).len, 512);
    assert_int_equal(json_str(path2(v, "user", "name")).len, 128);
    arena_fini(&a);
}

/* The escape of one byte, as json_escape_append writes it. */
static size_t
escape_byte(unsigned char c, char *out)
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    snprintf(out, 7, "\\u%04x", c);
    return 6;
}

/* Every byte value at every position of a run of plain bytes, so that
 * the eight-byte scan of plain runs meets it in each lane. */
static void
test_escape_every_byte_every_lane(void **state)
{
    char in[24], want[64], out[64];
    struct buf b;

    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        for (size_t at = 0; at < sizeof(in); at++) {
            size_t n = 0;

            memset(in, 'a', sizeof(in));
            in[at] = (char)c;
            for (size_t i = 0; i < sizeof(in); i++)
                n += escape_byte((unsigned char)in[i], want + n);
            b = (struct buf){out, 0, 0, sizeof(out)};
            assert_int_equal(json_escape_append(&b, (struct slice){in,
                                                sizeof(in)}, sizeof(in)),
                             AW_OK);
            assert_int_equal(b.end, n);
            assert_memory_equal(out, want, n);
        }
    }
}

struct emitter {
    unsigned worker;
    unsigned count;
};

static void *
emit_many(void *arg)
{
    struct emitter *m = arg;
    char id[32];
    struct security_event e = {.action = "authz.object_mismatch",
                               .outcome = "denied",
                               .severity = 6,
                               .request_id = id};

    for (unsigned i = 0; i < m->count; i++) {
        snprintf(id, sizeof(id), "w%u-%u", m->worker, i);
        events_emit(m->worker, &e);
        if (i % 64 == 0)
            sleep_ms(1);
    }
    return NULL;
}

/*
 * Four workers and the main thread (on worker 0's ring) emit at once,
 * with rings that hold every event even before the first drain: each
 * one arrives whole, exactly once.
 */
static void
test_threads(void **state)
{
    struct emitter m[5];
    pthread_t t[4];
    struct arena a;
    size_t len;
    char *buf;

    assert_int_equal(events_start(test_path, 4 << 20, 4), AW_OK);
    for (unsigned i = 0; i < 4; i++) {
        m[i] = (struct emitter){i, 2000};
        assert_int_equal(pthread_create(&t[i], NULL, emit_many, &m[i]), 0);
    }
    m[4] = (struct emitter){0, 2000};
    emit_many(&m[4]);
    for (unsigned i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    events_stop();
    assert_int_equal(events_dropped(), 0);
    buf = slurp(test_path, &len);
    arena_init(&a, 1 << 20, (size_t)1 << 30);
    assert_int_equal(parse_lines(buf, &a, NULL), 5 * 2000);
    assert_non_null(strstr(buf, "\"id\":\"w3-1999\""));
    arena_fini(&a);
    free(buf);
}

/*
 * A small ring and no pause: some events are dropped, each one is
 * counted, and what was written is whole lines.
 */
static void
test_drops_counted(void **state)
{
    const struct security_event e = {.action = "authz.object_mismatch",
                                     .outcome = "denied",
                                     .severity = 6,
                                     .path = "/users/1"};
    struct arena a;
    size_t len, lines;
    char *buf;

    assert_int_equal(events_start(test_path, 4096, 1), AW_OK);
    assert_int_equal(events_dropped(), 0);
    for (int i = 0; i < 500; i++)
        events_emit(0, &e);
    /* Past the last ring: shares ring 0 rather than being lost. */
    events_emit(7, &e);
    assert_true(events_dropped() > 0);
    events_stop();
    buf = slurp(test_path, &len);
    arena_init(&a, 1 << 16, 1 << 26);
    lines = parse_lines(buf, &a, NULL);
    assert_true(lines > 0);
    assert_int_equal(lines + events_dropped(), 501);
    arena_fini(&a);
    free(buf);
}

/* After a rename and events_reopen, new events go to a new file. */
static void
test_reopen(void **state)
{
    const struct security_event before = {.action = "before"};
    const struct security_event after = {.action = "after"};
    char old[128];
    size_t len;
    char *a, *b;

    snprintf(old, sizeof(old), "%s.1", test_path);
    assert_int_equal(events_start(test_path, 64 << 10, 1), AW_OK);
    events_emit(0, &before);
    sleep_ms(200);                 /* drained into the first file */
    assert_int_equal(rename(test_path, old), 0);
    events_reopen();
    sleep_ms(200);                 /* reopened by the drain thread */
    events_emit(0, &after);
    events_stop();
    a = slurp(old, &len);
    b = slurp(test_path, &len);
    assert_non_null(strstr(a, "\"before\""));
    assert_null(strstr(a, "\"after\""));
    assert_non_null(strstr(b, "\"after\""));
    assert_null(strstr(b, "\"before\""));
    free(a);
    free(b);
    unlink(old);
}

/* "off" writes nothing and starts no thread; emit is harmless. */
static void
test_off(void **state)
{
    const struct security_event e = {.action = "x"};

    assert_int_equal(events_start("off", 1 << 16, 2), AW_OK);
    assert_false(events_enabled());
    events_emit(0, &e);
    events_stop();
    assert_int_equal(access(test_path, F_OK), -1);
    assert_int_equal(events_start("/nonexistent/dir/events.log", 1 << 16, 1),
                     AW_IO);
    assert_false(events_enabled());
    events_stop();
}

static void *
write_access(void *arg)
{
    char line[600];

    memset(line, 'x', sizeof(line));
    memcpy(line, "{\"a\":\"", 6);
    memcpy(line + sizeof(line) - 3, "\"}\n", 3);
    for (int i = 0; i < 3000; i++) {
        accesslog_write(1, line, sizeof(line));
        if (i % 64 == 0)
            sleep_ms(1);
    }
    return arg;
}

/*
 * The access log and the events in one file, written at once from two
 * threads: one drain thread writes both, so no line is cut by another.
 */
static void
test_shared_file(void **state)
{
    struct emitter m = {0, 3000};
    pthread_t t;
    struct arena a;
    size_t len;
    char *buf;

    assert_int_equal(accesslog_start(test_path, 4 << 20, 2), AW_OK);
    assert_int_equal(events_start(test_path, 4 << 20, 2), AW_OK);
    assert_int_equal(pthread_create(&t, NULL, write_access, NULL), 0);
    emit_many(&m);
    pthread_join(t, NULL);
    events_stop();
    accesslog_stop();
    assert_int_equal(events_dropped() + accesslog_dropped(), 0);
    buf = slurp(test_path, &len);
    arena_init(&a, 1 << 20, (size_t)1 << 30);
    assert_int_equal(parse_lines(buf, &a, NULL), 6000);
    arena_fini(&a);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ecs_shape, test_setup),
        cmocka_unit_test_setup(test_sparse_and_clamped, test_setup),
        cmocka_unit_test_setup(test_escaping_and_cuts, test_setup),
        cmocka_unit_test(test_escape_every_byte_every_lane),
        cmocka_unit_test_setup(test_threads, test_setup),
        cmocka_unit_test_setup(test_drops_counted, test_setup),
        cmocka_unit_test_setup(test_reopen, test_setup),
        cmocka_unit_test_setup(test_off, test_setup),
        cmocka_unit_test_setup(test_shared_file, test_setup),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
