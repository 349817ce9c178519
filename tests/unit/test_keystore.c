/*
 * Unit tests of the key store (src/identity/keystore.c) against a real
 * HTTP server on loopback: tests/unit/jwks_server.py, run with Debian's
 * /usr/bin/python3, serves a JWK Set and a discovery document and can
 * rotate keys, set Cache-Control, fail, hang, stall and go down. It
 * counts the requests it receives, which is how "only one request" is
 * checked from the server's side.
 *
 * Every test starts and stops the fetch thread itself, so each one also
 * checks that start and stop leave nothing behind (ASan's leak check).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "identity/identity.h"

#define SERVER SRCDIR "/tests/unit/jwks_server.py"
#define PYTHON "/usr/bin/python3"
#define ISSUER "https://issuer.test/"

/* The server process and the port it listens on. */
static pid_t server_pid = -1;
static int server_port;

static atomic_int changes;

static void
on_change(void *arg)
{
    assert_ptr_equal(arg, &changes);
    atomic_fetch_add(&changes, 1);
}

static void
sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/*
 * Start the server (port 0: any free port) and read the "PORT n" line
 * it prints once it listens.
 */
static void
server_start(int port)
{
    char arg[16];
    char line[64] = {0};
    int fds[2];
    ssize_t n;
    size_t got = 0;

    snprintf(arg, sizeof(arg), "%d", port);
    assert_int_equal(pipe(fds), 0);
    server_pid = fork();
    assert_true(server_pid >= 0);
    if (server_pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(PYTHON, PYTHON, SERVER, "--port", arg, "--issuer", ISSUER,
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (got < sizeof(line) - 1 && strchr(line, '\n') == NULL &&
           (n = read(fds[0], line + got, sizeof(line) - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    assert_int_equal(sscanf(line, "PORT %d", &server_port), 1);
}

/* Kill the server at once, as a crash would. */
static void
server_kill(void)
{
    if (server_pid <= 0)
        return;
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    server_pid = -1;
}

/*
 * One request to the server over a plain socket; the body of the answer
 * goes to out. Returns the body's length.
 */
static size_t
server_call(const char *method, const char *target, char *out, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    char req[512];
    char resp[4096];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    const char *body;

    sa.sin_port = htons((uint16_t)server_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    n = snprintf(req, sizeof(req),
                 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close"
                 "\r\nContent-Length: 0\r\n\r\n", method, target);
    assert_int_equal(write(fd, req, (size_t)n), n);
    while (got < sizeof(resp) - 1 &&
           (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    resp[got] = '\0';
    body = strstr(resp, "\r\n\r\n");
    assert_non_null(body);
    snprintf(out, cap, "%s", body + 4);
    return strlen(out);
}

/* Change the server's behaviour: query is the /ctl query string. */
static void
server_ctl(const char *query)
{
    char target[256];
    char out[16];

    snprintf(target, sizeof(target), "/ctl?%s", query);
    server_call("POST", target, out, sizeof(out));
    assert_string_equal(out, "ok");
}

/* Requests the server has received for the set and the document. */
static void
server_counts(int *jwks, int *discovery)
{
    char out[64];
    int d = 0;

    server_call("GET", "/stats", out, sizeof(out));
    assert_int_equal(sscanf(out, "jwks=%d discovery=%d", jwks, &d), 2);
    if (discovery != NULL)
        *discovery = d;
}

static int
server_jwks_count(void)
{
    int n;

    server_counts(&n, NULL);
    return n;
}

static void
server_reset(void)
{
    char out[16];

    server_call("POST", "/reset", out, sizeof(out));
}

/* A loopback port that nothing listens on (it was free a moment ago). */
static int
free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

static int
setup_server(void **state)
{
    server_start(0);
    return 0;
}

/* After each test: a failed one must not leave the thread running. */
static int
teardown_thread(void **state)
{
    keystore_stop();
    return 0;
}

static int
teardown_server(void **state)
{
    server_kill();
    return 0;
}

/* http://127.0.0.1:<port><path> */
static const char *
url(const char *path)
{
    static char buf[4][128];
    static int next;
    char *u = buf[next++ % 4];

    snprintf(u, sizeof(buf[0]), "http://127.0.0.1:%d%s", server_port, path);
    return u;
}

static struct keysource_opts
opts(uint64_t min, uint64_t max, uint64_t unknown_kid, uint64_t timeout)
{
    return (struct keysource_opts){min, max, unknown_kid, timeout, NULL};
}

static struct keysource *
source(enum config_keys_kind kind, const char *where,
       const struct keysource_opts *o)
{
    struct keysource *s = NULL;
    char err[256] = "";

    assert_int_equal(keystore_source(kind, where, o, &s, err, sizeof(err)),
                     AW_OK);
    assert_non_null(s);
    return s;
}

/* True when the current set of s holds a key named kid. */
static bool
has_kid(struct keysource *s, const char *kid)
{
    struct jwks *set = keysource_get(s);
    struct slice k = {kid, strlen(kid)};
    const struct jwk *found[2];
    size_t n;

    if (set == NULL)
        return false;
    n = jwks_find(set, &k, JOSE_ES256, found, 2);
    jwks_unref(set);
    return n == 1;
}

static size_t
nkeys(struct keysource *s)
{
    struct keysource_stats st;

    keysource_stats(s, &st);
    return st.nkeys;
}

/* Wait up to ms for keystore_generation() to pass g. */
static void
wait_generation(uint64_t g, unsigned ms)
{
    for (unsigned i = 0; i < ms / 5 && keystore_generation() == g; i++)
        sleep_ms(5);
    assert_true(keystore_generation() != g);
}

/* Wait up to ms until s's last failure is reason (and still failing). */
static void
wait_reason(struct keysource *s, const char *reason, unsigned ms)
{
    struct keysource_stats st;

    for (unsigned i = 0; i < ms / 5; i++) {
        keysource_stats(s, &st);
        if (st.failing && st.last_reason != NULL &&
            strcmp(st.last_reason, reason) == 0)
            return;
        sleep_ms(5);
    }
    keysource_stats(s, &st);
    fail_msg("wanted %s, last reason %s (%s)", reason,
             st.last_reason ? st.last_reason : "none", st.last_detail);
}

/* Wait up to ms until s's last fetch succeeded. */
static void
wait_success(struct keysource *s, unsigned ms)
{
    struct keysource_stats st;

    for (unsigned i = 0; i < ms / 5; i++) {
        keysource_stats(s, &st);
        if (st.fetches > st.failures && !st.failing)
            return;
        sleep_ms(5);
    }
    fail_msg("no successful fetch within %u ms", ms);
}

/* Ask for a refetch and wait until it has ended. */
static void
refetch_and_wait(struct keysource *s)
{
    uint64_t g = keystore_generation();

    assert_int_equal(keysource_refetch(s), AW_AGAIN);
    wait_generation(g, 5000);
}

/* Write a JWK Set of count fresh keys (kids f1...) to path. */
static void
write_jwks(const char *path, int count)
{
    char cmd[512];

    snprintf(cmd, sizeof(cmd), PYTHON " " SERVER " --write-jwks %s %d",
             path, count);
    assert_int_equal(system(cmd), 0);
}

static void
write_bytes(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void
write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* Redirect stderr (the log) to a file until log_end. */
static int saved_stderr = -1;

static void
log_begin(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(fd >= 0);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* Restore stderr; returns how many lines of the log hold needle. */
static int
log_end(const char *path, const char *needle)
{
    char line[1024];
    int n = 0;
    FILE *f;

    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/*
 * File sources: read at once, shared by path, re-read on every call,
 * the last good set kept when a re-read fails.
 */
static void
test_file_source(void **state)
{
    char dir[] = "/tmp/keystore-test-XXXXXX";
    char path[128], other[128];
    struct keysource_opts o = opts(0, 0, 0, 0);
    struct keysource *s, *again = NULL, *bad = NULL;
    struct keysource_stats st;
    struct jwks *before;
    char err[256];

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keys.json", dir);
    snprintf(other, sizeof(other), "%s/other.json", dir);
    write_jwks(path, 1);
    s = source(KEYS_FILE, path, &o);
    assert_int_equal(nkeys(s), 1);
    assert_true(has_kid(s, "f1"));
    assert_false(keysource_pending(s));
    assert_int_equal(keysource_refetch(s), AW_DECLINED);
    assert_true(keystore_ready());

    /* A broken file on reload: refused, and the old set stays. */
    before = keysource_get(s);
    write_text(path, "{\"keys\": [");
    assert_int_equal(keystore_source(KEYS_FILE, path, &o, &again, err,
                                     sizeof(err)), AW_INVALID);
    assert_null(again);
    assert_non_null(strstr(err, "jwks.malformed"));
    assert_non_null(strstr(err, "stay in use"));
    assert_ptr_equal(keysource_get(s), before);
    jwks_unref(before);
    jwks_unref(before);
    keysource_stats(s, &st);
    assert_true(st.failing);
    assert_int_equal(st.failures, 1);
    assert_string_equal(st.last_reason, "jwks.malformed");

    /* A good file on reload: the same source, with the new keys. */
    write_jwks(path, 2);
    again = source(KEYS_FILE, path, &o);
    assert_ptr_equal(again, s);
    assert_int_equal(nkeys(s), 2);
    assert_true(has_kid(s, "f2"));
    keysource_stats(s, &st);
    assert_false(st.failing);
    assert_int_equal(st.fetches, 3);
    assert_true(st.age_s >= 0 && st.age_s <= 1);

    /* Files that never make a source. */
    write_text(other, "{\"keys\": []}");
    assert_int_equal(keystore_source(KEYS_FILE, other, &o, &bad, err,
                                     sizeof(err)), AW_INVALID);
    assert_non_null(strstr(err, "jwks.no_usable_key"));
    write_text(other,
               "{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", "
               "\"x\": \"AQ\", \"y\": \"AQ\"}]}");
    assert_int_equal(keystore_source(KEYS_FILE, other, &o, &bad, err,
                                     sizeof(err)), AW_INVALID);
    assert_non_null(strstr(err, "jwks.no_usable_key"));
    unlink(other);
    assert_int_equal(keystore_source(KEYS_FILE, other, &o, &bad, err,
                                     sizeof(err)), AW_INVALID);
    assert_non_null(strstr(err, "jwks.read_failed"));
    assert_int_equal(keystore_source(KEYS_FILE, dir, &o, &bad, err,
                                     sizeof(err)), AW_INVALID);
    assert_non_null(strstr(err, "not a regular file"));
    assert_null(bad);

    /* One byte over the bound. */
    {
        size_t len = KEYSTORE_MAX_BODY + 1;
        char *big = malloc(len);

        assert_non_null(big);
        memset(big, ' ', len);
        write_bytes(other, big, len);
        free(big);
    }
    assert_int_equal(keystore_source(KEYS_FILE, other, &o, &bad, err,
                                     sizeof(err)), AW_INVALID);
    assert_non_null(strstr(err, "jwks.too_large"));

    keysource_unref(again);
    keysource_unref(s);
    unlink(other);
    unlink(path);
    rmdir(dir);
}

/* URLs that are refused when a configuration names them. */
static void
test_bad_urls(void **state)
{
    static const char *const bad[] = {
        "ftp://127.0.0.1/jwks", "not a url", "https://", "file:///etc/x",
        "/relative/path",
    };
    struct keysource_opts o = opts(1000, 2000, 0, 1000);
    struct keysource *s = NULL;
    char err[256];

    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        assert_int_equal(keystore_source(KEYS_URL, bad[i], &o, &s, err,
                                         sizeof(err)), AW_INVALID);
        assert_null(s);
    }
}

/*
 * keystore_start waits for the first fetch of every remote source; the
 * sources are pending until then.
 */
static void
test_first_fetch_ready(void **state)
{
    struct keysource_opts o = opts(60000, 60000, 0, 2000);
    struct keysource *s;
    struct keysource_stats st;

    server_reset();
    atomic_store(&changes, 0);
    s = source(KEYS_URL, url("/jwks"), &o);
    assert_true(keysource_pending(s));
    assert_null(keysource_get(s));
    assert_false(keystore_ready());
    assert_int_equal(keysource_refetch(s), AW_DECLINED);

    assert_int_equal(keystore_start(5000, on_change, &changes), AW_OK);
    assert_true(keystore_ready());
    assert_false(keysource_pending(s));
    assert_true(has_kid(s, "k1"));
    assert_int_equal(server_jwks_count(), 1);
    keysource_stats(s, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(st.failures, 0);
    assert_null(st.last_reason);
    assert_int_equal(st.refresh_ms, 60000);  /* max-age=300, clamped */
    /* The keystore thread calls on_change after it publishes, on its
       own time: a loaded machine may run this thread first. */
    for (unsigned i = 0; i < 400 && atomic_load(&changes) < 1; i++)
        sleep_ms(5);
    assert_true(atomic_load(&changes) >= 1);
    assert_int_equal(keystore_start(10, NULL, NULL), AW_ERROR);

    keystore_stop();
    keystore_stop();
    /* Stopped: the source keeps its set, and refetches are declined. */
    assert_true(has_kid(s, "k1"));
    assert_int_equal(keysource_refetch(s), AW_DECLINED);
    keysource_unref(s);
}

/* A reload that names a source again keeps its keys and its schedule. */
static void
test_reload_keeps_source(void **state)
{
    struct keysource_opts o = opts(60000, 60000, 0, 2000);
    struct keysource *s, *again;
    struct keysource_stats st;
    struct jwks *before;

    server_reset();
    s = source(KEYS_URL, url("/jwks"), &o);
    assert_int_equal(keystore_start(5000, NULL, NULL), AW_OK);
    before = keysource_get(s);

    again = source(KEYS_URL, url("/jwks"), &o);
    assert_ptr_equal(again, s);
    keysource_unref(s);               /* the old snapshot goes */
    sleep_ms(200);
    assert_ptr_equal(keysource_get(again), before);
    jwks_unref(before);
    jwks_unref(before);
    keysource_stats(again, &st);
    assert_int_equal(st.fetches, 1);
    assert_int_equal(server_jwks_count(), 1);

    /* The last reference goes while the thread runs: it frees it. */
    keysource_unref(again);
    sleep_ms(50);
    keystore_stop();
}

/* The refresh delay is Cache-Control max-age clamped to [min, max]. */
static void
test_cache_control(void **state)
{
    static const struct {
        const char *cc;
        uint64_t ms;
    } cases[] = {
        {"cc=max-age%3D1", 2000},
        {"cc=max-age%3D3", 3000},
        {"cc=public,%20MAX-AGE%3D%223%22", 3000},
        {"cc=max-age%3D100", 4000},
        {"cc=max-age%3D99999999999999999999999", 4000},
        {"cc=", 4000},
        {"cc=max-age%3Dsoon", 4000},
        {"cc=no-cache,%20max-age%3D3", 2000},
        {"cc=no-store", 2000},
        {"cc=max-age%3D3,%20max-age%3D2", 2000},
    };
    struct keysource_opts o = opts(2000, 4000, 0, 2000);
    struct keysource_stats st;
    struct keysource *s;
    uint64_t t0;
    int n0;

    server_ctl("mode=ok&cc=max-age%3D300");
    s = source(KEYS_URL, url("/jwks"), &o);
    assert_int_equal(keystore_start(5000, NULL, NULL), AW_OK);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        server_ctl(cases[i].cc);
        refetch_and_wait(s);
        keysource_stats(s, &st);
        assert_false(st.failing);
        assert_int_equal(st.refresh_ms, cases[i].ms);
    }

    /* And the scheduled refresh does come, after refresh_min. */
    server_ctl("cc=max-age%3D1");
    refetch_and_wait(s);
    t0 = clock_mono_ms();
    n0 = server_jwks_count();
    while (server_jwks_count() == n0 && clock_mono_ms() - t0 < 4000)
        sleep_ms(20);
    assert_int_equal(server_jwks_count(), n0 + 1);
    assert_true(clock_mono_ms() - t0 >= 1900);
    assert_true(clock_mono_ms() - t0 < 3000);

    server_ctl("cc=max-age%3D300");
    keysource_unref(s);
    keystore_stop();
}

struct spammer {
    struct keysource *s;
    atomic_bool *stop;
    int again, declined, other;
};

static void *
spam_refetch(void *arg)
{
    struct spammer *sp = arg;

    while (!atomic_load(sp->stop)) {
        int rc = keysource_refetch(sp->s);

        if (rc == AW_AGAIN)
            sp->again++;
        else if (rc == AW_DECLINED)
            sp->declined++;
        else
            sp->other++;
        sleep_ms(1);
    }
    return NULL;
}

/*
 * Unknown kids: at most one refetch per interval, and never a second
 * request in flight, however many workers ask.
 */
static void
test_unknown_kid(void **state)
{
    struct keysource_opts o = opts(60000, 60000, 1500, 3000);
    struct spammer sp[4];
    pthread_t th[4];
    atomic_bool stop = false;
    char kid[16];
    struct keysource *s;
    uint64_t g, t0;

    server_ctl("mode=ok&cc=max-age%3D300");
    s = source(KEYS_URL, url("/jwks"), &o);
    assert_int_equal(keystore_start(5000, NULL, NULL), AW_OK);
    server_call("POST", "/rotate", kid, sizeof(kid));
    assert_false(has_kid(s, kid));
    server_ctl("mode=slow&delay=0.5");
    server_reset();

    g = keystore_generation();
    t0 = clock_mono_ms();
    assert_int_equal(keysource_refetch(s), AW_AGAIN);
    for (int i = 0; i < 4; i++) {
        sp[i] = (struct spammer){s, &stop, 0, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, spam_refetch, &sp[i]),
                         0);
    }
    wait_generation(g, 5000);
    sleep_ms(100);
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(sp[i].again > 0);      /* while in flight */
        assert_true(sp[i].declined > 0);   /* after, within the interval */
        assert_int_equal(sp[i].other, 0);
    }
    assert_int_equal(server_jwks_count(), 1);
    assert_true(has_kid(s, kid));
    assert_true(has_kid(s, "k1"));
    assert_int_equal(keysource_refetch(s), AW_DECLINED);

    /* Once the interval has passed, one more refetch. */
    server_ctl("mode=ok");
    while (clock_mono_ms() - t0 < 1550)
        sleep_ms(10);
    refetch_and_wait(s);
    assert_int_equal(server_jwks_count(), 2);

    keysource_unref(s);
    keystore_stop();
}

/*
 * Every kind of failed fetch keeps the set in use, is told in the
 * figures, and is logged once for the whole outage.
 */
static void
test_failures_keep_last_good(void **state)
{
    static const struct {
        const char *ctl;
        const char *reason;
    } cases[] = {
        {"mode=fail", "jwks.http_status"},
        {"mode=badjson", "jwks.malformed"},
        {"mode=nokeys", "jwks.no_usable_key"},
        {"mode=unusable", "jwks.no_usable_key"},
        {"mode=big", "jwks.too_large"},
        {"mode=bigchunked", "jwks.too_large"},
        {"mode=hang", "jwks.timeout"},
    };
    const char *log = "/tmp/keystore-test-failures.log";
    struct keysource_opts o = opts(60000, 60000, 0, 700);
    struct keysource_stats st;
    struct keysource *s;
    struct jwks *before, *after;

    server_ctl("mode=ok&cc=max-age%3D300");
    s = source(KEYS_URL, url("/jwks"), &o);
    assert_int_equal(keystore_start(5000, NULL, NULL), AW_OK);
    before = keysource_get(s);
    assert_non_null(before);

    log_begin(log);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        server_ctl(cases[i].ctl);
        refetch_and_wait(s);
        wait_reason(s, cases[i].reason, 10);
        assert_ptr_equal(keysource_get(s), before);
        jwks_unref(before);
    }
    server_ctl("mode=ok");
    refetch_and_wait(s);
    assert_int_equal(log_end(log, "fetch failed"), 1);
    keysource_stats(s, &st);
    assert_false(st.failing);
    assert_int_equal(st.failures, ARRAY_LEN(cases));
    assert_string_equal(st.last_reason, "jwks.timeout");
    /* The same body again: the set in use is kept as it is. */
    assert_ptr_equal(keysource_get(s), before);
    jwks_unref(before);

    /* The server goes down, and comes back with other keys. */
    server_kill();
    refetch_and_wait(s);
    wait_reason(s, "jwks.connect_failed", 2000);
    assert_ptr_equal(keysource_get(s), before);
    jwks_unref(before);
    server_start(server_port);
    refetch_and_wait(s);
    wait_success(s, 3000);
    after = keysource_get(s);
    assert_ptr_not_equal(after, before);
    jwks_unref(after);
    jwks_unref(before);
    unlink(log);
    keysource_unref(s);
    keystore_stop();
}

/*
 * A source that keeps failing is retried after max(1 s, min / 8),
 * doubling up to refresh_min. (keystore_start is told not to wait, so
 * that the first failure is seen when it happens.)
 */
static void
test_backoff(void **state)
{
    static const uint64_t want[] = {1000, 2000, 4000, 4000};
    struct keysource_opts o = opts(4000, 60000, 60000, 1000);
    struct keysource_stats st;
    struct keysource *s;
    uint64_t ended[3] = {0};

    server_ctl("mode=fail&cc=max-age%3D300");
    server_reset();
    s = source(KEYS_URL, url("/jwks"), &o);
    assert_int_equal(keystore_start(0, NULL, NULL), AW_AGAIN);
    assert_false(keystore_ready());
    for (uint64_t done = 0; done < 3;) {
        keysource_stats(s, &st);
        if (st.fetches > done) {
            assert_int_equal(st.fetches, done + 1);
            assert_int_equal(st.refresh_ms, want[done]);
            ended[done++] = clock_mono_ms();
        }
        sleep_ms(5);
    }
    assert_true(ended[1] - ended[0] >= 950 && ended[1] - ended[0] < 1400);
    assert_true(ended[2] - ended[1] >= 1950 && ended[2] - ended[1] < 2400);
    assert_int_equal(server_jwks_count(), 3);
    assert_false(keysource_pending(s));
    assert_null(keysource_get(s));
    assert_string_equal(st.last_reason, "jwks.http_status");
    assert_int_equal(st.age_s, -1);

    /* It comes back: an unknown-kid refetch does not wait for the retry. */
    server_ctl("mode=ok");
    refetch_and_wait(s);
    assert_true(keystore_ready());
    assert_true(has_kid(s, "k1"));
    keysource_unref(s);
    keystore_stop();
}

/* No server at all: start gives up after its wait, nothing is ready. */
static void
test_never_up(void **state)
{
    struct keysource_opts o = opts(60000, 60000, 0, 1000);
    struct keysource_stats st;
    struct keysource *s;
    char where[64];

    snprintf(where, sizeof(where), "http://127.0.0.1:%d/jwks", free_port());
    s = source(KEYS_URL, where, &o);
    assert_int_equal(keystore_start(200, NULL, NULL), AW_AGAIN);
    assert_false(keystore_ready());
    wait_reason(s, "jwks.connect_failed", 2000);
    keysource_stats(s, &st);
    assert_int_equal(st.nkeys, 0);
    keystore_stop();
    keysource_unref(s);
}

/* Redirects are followed three times at most. */
static void
test_redirects(void **state)
{
    struct keysource_opts o = opts(60000, 60000, 0, 2000);
    struct keysource *ok, *far;

    server_ctl("mode=ok&cc=max-age%3D300");
    ok = source(KEYS_URL, url("/redir/2"), &o);
    far = source(KEYS_URL, url("/redir/3"), &o);
    assert_int_equal(keystore_start(500, NULL, NULL), AW_AGAIN);
    assert_true(has_kid(ok, "k1"));
    wait_reason(far, "jwks.fetch_failed", 2000);
    assert_null(keysource_get(far));
    keysource_unref(far);
    keysource_unref(ok);
    keystore_stop();
}

/*
 * Discovery: the document names the set; its issuer must match; an
 * unknown-kid refetch reads the set alone.
 */
static void
test_discovery(void **state)
{
    struct keysource_opts o = opts(60000, 60000, 0, 2000);
    struct keysource_opts wrong = o;
    struct keysource *s, *other, *nouri;
    int jwks, disco;

    server_ctl("mode=ok&cc=max-age%3D300&disco=ok");
    server_reset();
    o.issuer = ISSUER;
    s = source(KEYS_DISCOVERY, url("/.well-known/openid-configuration"), &o);
    assert_int_equal(keystore_start(5000, NULL, NULL), AW_OK);
    assert_true(has_kid(s, "k1"));
    server_counts(&jwks, &disco);
    assert_int_equal(jwks, 1);
    assert_int_equal(disco, 1);

    refetch_and_wait(s);
    server_counts(&jwks, &disco);
    assert_int_equal(jwks, 2);
    assert_int_equal(disco, 1);

    /* Sources named while the thread runs are fetched at once. */
    wrong.issuer = "https://someone-else.test/";
    other = source(KEYS_DISCOVERY,
                   url("/.well-known/openid-configuration?v=2"), &wrong);
    wait_reason(other, "jwks.issuer_mismatch", 3000);
    assert_null(keysource_get(other));
    assert_false(keystore_ready());

    server_ctl("disco=nouri");
    nouri = source(KEYS_DISCOVERY,
                   url("/.well-known/openid-configuration?v=3"), &o);
    wait_reason(nouri, "jwks.bad_discovery", 3000);
    server_ctl("disco=ok");

    keysource_unref(nouri);
    keysource_unref(other);
    keysource_unref(s);
    keystore_stop();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_file_source, teardown_thread),
        cmocka_unit_test_teardown(test_bad_urls, teardown_thread),
        cmocka_unit_test_teardown(test_first_fetch_ready, teardown_thread),
        cmocka_unit_test_teardown(test_reload_keeps_source, teardown_thread),
        cmocka_unit_test_teardown(test_cache_control, teardown_thread),
        cmocka_unit_test_teardown(test_unknown_kid, teardown_thread),
        cmocka_unit_test_teardown(test_failures_keep_last_good, teardown_thread),
        cmocka_unit_test_teardown(test_backoff, teardown_thread),
        cmocka_unit_test_teardown(test_never_up, teardown_thread),
        cmocka_unit_test_teardown(test_redirects, teardown_thread),
        cmocka_unit_test_teardown(test_discovery, teardown_thread),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
