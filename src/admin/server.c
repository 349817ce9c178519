/*
 * The admin listener: one thread, one connection at a time, each
 * exchange bounded by admin.timeout from its first byte to its last.
 *
 * Serving one connection at a time keeps the thread simple and its
 * memory fixed; the cost is that a client who holds a connection open
 * delays the others by up to admin.timeout. The listener is meant for
 * loopback and for a few operators and scrapers, and every exchange
 * needs the token, so only a holder of the token can cause that delay.
 *
 * Requests are parsed by the strict HTTP parser of the gateway; one
 * request per connection, answered with "Connection: close".
 *
 * The listener speaks plain HTTP: neither TLS nor client certificates
 * are implemented on it, so the token crosses the network in clear
 * text unless the listener stays on loopback or a private network.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admin_int.h"
#include "telemetry/telemetry.h"

#define ADMIN_TOKEN_MIN 16
#define ADMIN_TOKEN_MAX 4096
#define ADMIN_MAX_HEADERS 64

static struct {
    int fd;                           /* listening socket, -1 when off */
    int stop[2];                      /* pipe: a byte asks the thread
                                         to stop */
    pthread_t thread;
    bool running;
    unsigned char token[32];          /* SHA-256 of the token */
    uint64_t timeout_ms;
    struct admin_hooks hooks;
} admin = {.fd = -1, .stop = {-1, -1}};

/* SHA-256 of data into d; false when OpenSSL fails. */
static bool
digest(const void *data, size_t len, unsigned char d[32])
{
    unsigned int n = 0;

    return EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) == 1 && n == 32;
}

/* Refuse a token file others may read, or that is not a regular file. */
static int
token_file_check(int fd, const char *path)
{
    struct stat st;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_error("admin: %s is not a regular file", path);
        return AW_INVALID;
    }
    if ((st.st_mode & 077) != 0) {
        log_error("admin: %s may be read by others (mode %03o); make it "
                  "readable by its owner only",
                  path, (unsigned)(st.st_mode & 0777));
        return AW_INVALID;
    }
    return AW_OK;
}

/*
 * Read the token file and keep the token's digest only. The token
 * itself is wiped from the stack before returning, and never logged.
 */
static int
token_load(const char *path)
{
    char buf[ADMIN_TOKEN_MAX + 2];
    ssize_t n;
    int rc, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        log_error("admin: cannot open token file %s: %s", path,
                  strerror(errno));
        return AW_INVALID;
    }
    rc = token_file_check(fd, path);
    n = rc == AW_OK ? read(fd, buf, sizeof(buf)) : 0;
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                     buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        n--;
    if (rc == AW_OK && (n < ADMIN_TOKEN_MIN || n > ADMIN_TOKEN_MAX)) {
        log_error("admin: the token in %s must be %d to %d bytes", path,
                  ADMIN_TOKEN_MIN, ADMIN_TOKEN_MAX);
        rc = AW_INVALID;
    }
    if (rc == AW_OK && !digest(buf, (size_t)n, admin.token))
        rc = AW_ERROR;
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* True when h carries the admin bearer token. */
static bool
admin_authorized(const struct http_request *h)
{
    const struct http_header *a =
        http_header_find(h->headers, h->nheaders, "Authorization");
    unsigned char d[32];
    struct slice v;

    if (a == NULL || a->value.len <= 7 ||
        !slice_is((struct slice){a->value.ptr, 7}, "Bearer "))
        return false;
    v = (struct slice){a->value.ptr + 7, a->value.len - 7};
    if (!digest(v.ptr, v.len, d))
        return false;
    return CRYPTO_memcmp(d, admin.token, sizeof(d)) == 0;
}

/* Milliseconds left until deadline (monotonic ms), at least 0. */
static int
ms_left(uint64_t deadline)
{
    uint64_t now = clock_mono_ms();

    return now >= deadline ? 0 : (int)MIN(deadline - now, (uint64_t)INT32_MAX);
}

/* Wait until fd is ready for events; false on timeout or error. */
static bool
wait_fd(int fd, short events, uint64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;

    do {
        n = poll(&p, 1, ms_left(deadline));
    } while (n < 0 && errno == EINTR);
    return n > 0;
}

int
admin_send(struct admin_conn *ac, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w;

        if (!wait_fd(ac->fd, POLLOUT, ac->deadline))
            return AW_IO;
        w = send(ac->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (w <= 0)
            return AW_IO;
        p += w;
        n -= (size_t)w;
    }
    return AW_OK;
}

/* Read more bytes into ac->in; AW_IO on close, error or timeout. */
static int
read_more(struct admin_conn *ac)
{
    ssize_t n;

    if (buf_room(&ac->in) == 0)
        return AW_TOOBIG;
    for (;;) {
        if (!wait_fd(ac->fd, POLLIN, ac->deadline))
            return AW_AGAIN;
        n = recv(ac->fd, ac->in.data + ac->in.end, buf_room(&ac->in), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            return AW_IO;
        ac->in.end += (size_t)n;
        return AW_OK;
    }
}

/* Read the body the head announced (Content-Length only). */
static int
admin_read_body(struct admin_conn *ac)
{
    size_t want;

    if (ac->req.framing == HTTP_BODY_CHUNKED) {
        admin_problem(ac, 411, "admin.length_required",
                      "The admin API takes bodies with Content-Length.");
        return AW_INVALID;
    }
    want = ac->req.framing == HTTP_BODY_LENGTH
               ? (size_t)ac->req.content_length : 0;
    while (ac->in.end - ac->req.head_len < want) {
        int rc = read_more(ac);

        if (rc == AW_AGAIN)
            admin_problem(ac, 408, "admin.timeout",
                          "The request body did not arrive in time.");
        if (rc != AW_OK)
            return rc;
    }
    ac->body = (struct slice){ac->in.data + ac->req.head_len, want};
    return AW_OK;
}

/*
 * Read and parse the head, then the body it announces. Returns AW_OK,
 * or an error after answering (or, for a client that went away,
 * without).
 */
static int
read_request(struct admin_conn *ac)
{
    static const struct http_limits lim = {
        .max_head_bytes = ADMIN_MAX_HEAD, .max_headers = ADMIN_MAX_HEADERS,
        .max_target_bytes = 2048, .max_body_bytes = ADMIN_MAX_BODY,
    };
    struct http_parser p;
    struct http_error err;
    int rc;

    http_parser_init(&p);
    ac->req.headers = ac->headers;
    for (;;) {
        rc = http_parse_request(&p, ac->in.data, ac->in.end, &lim, &ac->req,
                                &err);
        if (rc == AW_OK)
            break;
        if (rc != AW_AGAIN) {
            admin_problem(ac, err.status, err.reason, err.detail);
            return AW_INVALID;
        }
        rc = read_more(ac);
        if (rc == AW_AGAIN || rc == AW_TOOBIG)
            admin_problem(ac, rc == AW_AGAIN ? 408 : 431,
                          rc == AW_AGAIN ? "admin.timeout"
                                         : "http.head_too_large",
                          "The request did not arrive whole in time.");
        if (rc != AW_OK)
            return rc;
    }
    return admin_read_body(ac);
}

/*
 * A request without the right token is a security event: someone on a
 * network that reaches the admin listener is guessing, or a scraper
 * lost its token. The token presented is not in it.
 */
static void
unauthorized_event(struct admin_conn *ac, const char *peer)
{
    char method[16], path[129];
    struct security_event e = {0};

    slice_copy_cstr(method, sizeof(method), ac->req.method_name);
    slice_copy_cstr(path, sizeof(path), ac->req.path);
    e.action = "admin.unauthorized";
    e.reason = "admin.unauthorized";
    e.category = "authentication";
    e.outcome = "denied";
    e.severity = 5;
    e.method = method;
    e.path = path;
    e.client_ip = peer;
    events_emit(0, &e);
}

/* The printable address of a peer, without its port. */
static void
peer_text(const struct sockaddr_storage *ss, char *dst, size_t cap)
{
    const void *a = ss->ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ss)
                              ->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ss)
                              ->sin_addr;

    if (inet_ntop(ss->ss_family, a, dst, (socklen_t)cap) == NULL)
        snprintf(dst, cap, "-");
}

/* One exchange on a freshly accepted connection from peer. */
static void
serve(int fd, const char *peer)
{
    static char in[ADMIN_MAX_HEAD + ADMIN_MAX_BODY];
    struct admin_conn ac = {
        .fd = fd,
        .in = {in, 0, 0, sizeof(in)},
        .deadline = clock_mono_ms() + admin.timeout_ms,
        .hooks = &admin.hooks,
        .peer = peer,
    };

    if (read_request(&ac) != AW_OK)
        return;
    if (!admin_authorized(&ac.req)) {
        admin_problem(&ac, 401, "admin.unauthorized",
                      "The admin API needs its bearer token.");
        unauthorized_event(&ac, peer);
        return;
    }
    admin_dispatch(&ac);
}

static void *
admin_main(void *arg)
{
    struct pollfd p[2] = {{.fd = admin.fd, .events = POLLIN},
                          {.fd = admin.stop[0], .events = POLLIN}};

    log_set_worker(-1);
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char peer[64];
        int fd;

        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[1].revents != 0)
            break;
        if ((p[0].revents & POLLIN) == 0)
            continue;
        fd = accept4(admin.fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        peer_text(&ss, peer, sizeof(peer));
        serve(fd, peer);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return arg;
}

/* The listening socket on a; -1 with errno on failure. */
static int
admin_listen_on(const struct config_addr *a)
{
    int one = 1;
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
        listen(fd, 64) < 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int
admin_start(const struct config *cfg, const struct admin_hooks *hooks)
{
    int rc;

    if (cfg->admin_listen == NULL)
        return AW_DECLINED;
    rc = token_load(cfg->admin_token_file);
    if (rc != AW_OK)
        return rc;
    admin.hooks = *hooks;
    admin.timeout_ms = cfg->admin_timeout_ms;
    admin.fd = admin_listen_on(cfg->admin_listen);
    if (admin.fd < 0) {
        log_error("admin: cannot listen on %s: %s", cfg->admin_listen->text,
                  strerror(errno));
        return AW_IO;
    }
    if (pipe2(admin.stop, O_CLOEXEC) != 0 ||
        pthread_create(&admin.thread, NULL, admin_main, NULL) != 0) {
        log_error("admin: cannot start the admin thread");
        admin_stop();
        return AW_IO;
    }
    admin.running = true;
    log_info("admin API on %s", cfg->admin_listen->text);
    return AW_OK;
}

void
admin_stop(void)
{
    if (admin.running) {
        ssize_t n;

        do {
            n = write(admin.stop[1], "x", 1);
        } while (n < 0 && errno == EINTR);
        pthread_join(admin.thread, NULL);
        admin.running = false;
    }
    for (int i = 0; i < 2; i++) {
        if (admin.stop[i] >= 0)
            close(admin.stop[i]);
        admin.stop[i] = -1;
    }
    if (admin.fd >= 0)
        close(admin.fd);
    admin.fd = -1;
    OPENSSL_cleanse(admin.token, sizeof(admin.token));
}
