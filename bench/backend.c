/*
 * apiward-bench-backend: the origin server that every proxy in the
 * benchmark forwards to.
 *
 * It must cost as little CPU as possible, so that the figures measure
 * the proxies and not the backend, and it must be strict enough that a
 * proxy which forwards a malformed request is caught rather than
 * rewarded: a request it cannot frame exactly is answered with an error
 * and the connection is closed, and wrk then counts a non-2xx answer or
 * a socket error against that proxy.
 *
 * One thread, one level-triggered epoll loop, HTTP/1.1 keep-alive with
 * pipelining. Two endpoints:
 *
 *   GET  /small  answers a fixed JSON body of about 100 bytes;
 *   POST /echo   reads a Content-Length body and answers a small JSON
 *                object holding the number of bytes received.
 *
 * Bodies are framed by Content-Length only. Transfer-Encoding is refused
 * with 501, because none of the proxies under test should need it for
 * requests that arrive with a Content-Length. A request whose head and
 * body together do not fit the 16 KiB input buffer is refused with 413.
 *
 * The program uses the status enum and the slice type of src/base/base.h
 * but links nothing from the gateway, so that the benchmark still builds
 * while the gateway itself is being changed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "base/base.h"

/* Head plus body of one request must fit; the echo body is about 1 KiB. */
#define BACKEND_IN_CAP 16384
#define BACKEND_OUT_CAP 16384
/* Room kept free in the output buffer before another request is served. */
#define BACKEND_RESPONSE_MAX 512
#define BACKEND_MAX_EVENTS 256
#define BACKEND_BACKLOG 4096

static const char backend_small_body[] =
    "{\"id\":4711,\"name\":\"apiward-bench\",\"status\":\"ok\","
    "\"items\":[1,2,3,4,5],\"note\":\"small fixed response body\"}";

/* One client connection; the proxies keep a few dozen of these open. */
struct backend_conn {
    int fd;
    unsigned events;  /* epoll events currently registered */
    bool close_after; /* close once out[] has drained */
    size_t in_len;    /* bytes held in in[] */
    size_t out_start; /* first unsent byte of out[] */
    size_t out_end;   /* end of the queued bytes of out[] */
    char in[BACKEND_IN_CAP];
    char out[BACKEND_OUT_CAP];
};

/* The parts of a request head that decide the answer. Slices borrow in[]. */
struct backend_req {
    struct slice method;
    struct slice target;
    bool keep_alive; /* false for HTTP/1.0 or "Connection: close" */
    bool has_length; /* a Content-Length header was seen */
    uint64_t content_length;
    size_t head_len; /* bytes up to and including the blank line */
};

static volatile sig_atomic_t backend_stop;
static int backend_epfd = -1;

static void
backend_on_signal(int sig)
{
    (void)sig;
    backend_stop = 1;
}

/* True for the bytes RFC 9110 allows in a token (method, field name). */
static bool
backend_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
backend_is_token(struct slice s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!backend_is_tchar((unsigned char)s.ptr[i]))
            return false;
    }
    return true;
}

/* True when a holds exactly the bytes of the literal. */
static bool
backend_slice_is(struct slice a, const char *lit)
{
    size_t n = strlen(lit);

    return a.len == n && memcmp(a.ptr, lit, n) == 0;
}

/* As backend_slice_is, with ASCII letters compared case-insensitively. */
static bool
backend_slice_eq_nocase(struct slice a, const char *lit)
{
    size_t n = strlen(lit);

    return a.len == n && strncasecmp(a.ptr, lit, n) == 0;
}

/*
 * Parse a decimal Content-Length that fills the whole value. Leading
 * zeros are accepted; signs, spaces and lists are not. Returns AW_OK,
 * AW_INVALID or AW_TOOBIG (more than fits the input buffer).
 */
static int
backend_parse_length(struct slice v, uint64_t *out)
{
    uint64_t n = 0;

    if (v.len == 0)
        return AW_INVALID;
    for (size_t i = 0; i < v.len; i++) {
        unsigned d = (unsigned char)v.ptr[i] - '0';

        if (d > 9)
            return AW_INVALID;
        n = n * 10 + d;
        if (n > BACKEND_IN_CAP)
            return AW_TOOBIG;
    }
    *out = n;
    return AW_OK;
}

/*
 * Parse "METHOD SP target SP HTTP/1.x" (the line without its CRLF).
 * The target must be in origin form. Returns AW_OK or AW_INVALID.
 */
static int
backend_parse_request_line(struct slice line, struct backend_req *req)
{
    const char *sp1 = memchr(line.ptr, ' ', line.len);
    const char *end = line.ptr + line.len;

    if (sp1 == NULL)
        return AW_INVALID;
    req->method = (struct slice){line.ptr, (size_t)(sp1 - line.ptr)};

    const char *sp2 = memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1));

    if (sp2 == NULL || !backend_is_token(req->method))
        return AW_INVALID;
    req->target = (struct slice){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
    if (req->target.len == 0 || req->target.ptr[0] != '/')
        return AW_INVALID;
    for (size_t i = 0; i < req->target.len; i++) {
        unsigned char c = (unsigned char)req->target.ptr[i];

        if (c <= 0x20 || c >= 0x7f)
            return AW_INVALID;
    }

    struct slice version = {sp2 + 1, (size_t)(end - sp2 - 1)};

    if (backend_slice_is(version, "HTTP/1.1"))
        req->keep_alive = true;
    else if (backend_slice_is(version, "HTTP/1.0"))
        req->keep_alive = false;
    else
        return AW_INVALID;
    return AW_OK;
}

/* True when a Connection value lists the "close" option. */
static bool
backend_lists_close(struct slice v)
{
    size_t i = 0;

    while (i < v.len) {
        size_t start = i;

        while (i < v.len && v.ptr[i] != ',')
            i++;

        struct slice item = {v.ptr + start, i - start};

        while (item.len > 0 && (item.ptr[0] == ' ' || item.ptr[0] == '\t')) {
            item.ptr++;
            item.len--;
        }
        while (item.len > 0 && (item.ptr[item.len - 1] == ' ' ||
                                item.ptr[item.len - 1] == '\t'))
            item.len--;
        if (backend_slice_eq_nocase(item, "close"))
            return true;
        i++;
    }
    return false;
}

/*
 * Apply one header field that matters for framing. A repeated
 * Content-Length is refused even when both copies agree: no proxy under
 * test should send one. Returns AW_OK, AW_INVALID, AW_TOOBIG, or
 * AW_DECLINED for Transfer-Encoding, which this backend does not speak.
 */
static int
backend_apply_header(struct slice name, struct slice value,
                     struct backend_req *req)
{
    if (backend_slice_eq_nocase(name, "content-length")) {
        if (req->has_length)
            return AW_INVALID;
        req->has_length = true;
        return backend_parse_length(value, &req->content_length);
    }
    if (backend_slice_eq_nocase(name, "transfer-encoding"))
        return AW_DECLINED;
    if (backend_slice_eq_nocase(name, "connection") &&
        backend_lists_close(value))
        req->keep_alive = false;
    return AW_OK;
}

/*
 * Split one header line (without its CRLF) into a token name and a value
 * with optional whitespace trimmed, and apply it. Line folding, a space
 * before the colon and control bytes in the value are refused. Returns
 * as backend_apply_header.
 */
static int
backend_parse_header(struct slice line, struct backend_req *req)
{
    const char *colon = memchr(line.ptr, ':', line.len);

    if (colon == NULL)
        return AW_INVALID;

    struct slice name = {line.ptr, (size_t)(colon - line.ptr)};
    struct slice value = {colon + 1, line.len - name.len - 1};

    if (!backend_is_token(name))
        return AW_INVALID;
    while (value.len > 0 && (value.ptr[0] == ' ' || value.ptr[0] == '\t')) {
        value.ptr++;
        value.len--;
    }
    while (value.len > 0 && (value.ptr[value.len - 1] == ' ' ||
                             value.ptr[value.len - 1] == '\t'))
        value.len--;
    for (size_t i = 0; i < value.len; i++) {
        unsigned char c = (unsigned char)value.ptr[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return AW_INVALID;
    }
    return backend_apply_header(name, value, req);
}

/*
 * Parse the request at the front of in[]. Lines end in CRLF; a bare CR
 * or LF anywhere in the head makes the request malformed. Returns AW_OK
 * when the head and the whole body are buffered, AW_AGAIN when more
 * bytes are needed, AW_INVALID, AW_TOOBIG (head or body over the buffer)
 * or AW_DECLINED (Transfer-Encoding).
 */
static int
backend_parse(const struct backend_conn *c, struct backend_req *req)
{
    const char *blank = memmem(c->in, c->in_len, "\r\n\r\n", 4);

    if (blank == NULL)
        return c->in_len == BACKEND_IN_CAP ? AW_TOOBIG : AW_AGAIN;
    memset(req, 0, sizeof(*req));
    req->head_len = (size_t)(blank - c->in) + 4;

    const char *p = c->in;
    const char *head_end = blank + 2;
    int rc = AW_OK;

    for (bool first = true; p < head_end && rc == AW_OK; first = false) {
        const char *crlf = memmem(p, (size_t)(head_end - p), "\r\n", 2);
        struct slice line = {p, (size_t)(crlf - p)};

        if (memchr(line.ptr, '\r', line.len) != NULL ||
            memchr(line.ptr, '\n', line.len) != NULL)
            return AW_INVALID;
        if (first)
            rc = backend_parse_request_line(line, req);
        else
            rc = backend_parse_header(line, req);
        p = crlf + 2;
    }
    if (rc != AW_OK)
        return rc;
    if (req->head_len + req->content_length > BACKEND_IN_CAP)
        return AW_TOOBIG;
    if (c->in_len < req->head_len + req->content_length)
        return AW_AGAIN;
    return AW_OK;
}

/*
 * Queue one response in out[]. The caller has made sure that
 * BACKEND_RESPONSE_MAX bytes are free, which every answer here fits.
 */
static void
backend_emit(struct backend_conn *c, const char *status, struct slice body,
             bool keep_alive)
{
    char *dst = c->out + c->out_end;
    size_t room = BACKEND_OUT_CAP - c->out_end;
    int n =
        snprintf(dst, room,
                 "HTTP/1.1 %s\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: %zu\r\n"
                 "%s"
                 "\r\n"
                 "%.*s",
                 status, body.len, keep_alive ? "" : "Connection: close\r\n",
                 (int)body.len, body.ptr);

    if (n > 0 && (size_t)n < room)
        c->out_end += (size_t)n;
    if (!keep_alive)
        c->close_after = true;
}

/* Answer a parsed request by method and path (the query is ignored). */
static void
backend_respond(struct backend_conn *c, const struct backend_req *req)
{
    struct slice path = req->target;
    const char *q = memchr(path.ptr, '?', path.len);
    char body[64];

    if (q != NULL)
        path.len = (size_t)(q - path.ptr);
    if (backend_slice_is(path, "/small")) {
        if (!backend_slice_is(req->method, "GET"))
            goto not_allowed;
        backend_emit(c, "200 OK", SLICE_LIT(backend_small_body),
                     req->keep_alive);
        return;
    }
    if (backend_slice_is(path, "/echo")) {
        if (!backend_slice_is(req->method, "POST"))
            goto not_allowed;

        int n = snprintf(body, sizeof(body),
                         "{\"status\":\"ok\",\"received\":%llu}",
                         (unsigned long long)req->content_length);

        backend_emit(c, "200 OK", (struct slice){body, (size_t)n},
                     req->keep_alive);
        return;
    }
    backend_emit(c, "404 Not Found", SLICE_LIT("{\"error\":\"not found\"}"),
                 req->keep_alive);
    return;

not_allowed:
    backend_emit(c, "405 Method Not Allowed",
                 SLICE_LIT("{\"error\":\"method not allowed\"}"),
                 req->keep_alive);
}

/* Answer a request that could not be framed, and give up the connection. */
static void
backend_refuse(struct backend_conn *c, int rc)
{
    const char *status = "400 Bad Request";

    if (rc == AW_TOOBIG)
        status = "413 Content Too Large";
    else if (rc == AW_DECLINED)
        status = "501 Not Implemented";
    backend_emit(c, status, SLICE_LIT("{\"error\":\"refused\"}"), false);
    c->in_len = 0;
}

/*
 * Serve every complete request buffered in in[], as long as out[] has
 * room for one more answer. Bytes of a request not yet complete stay at
 * the front of in[].
 */
static void
backend_serve(struct backend_conn *c)
{
    while (!c->close_after &&
           BACKEND_OUT_CAP - c->out_end >= BACKEND_RESPONSE_MAX) {
        struct backend_req req;
        int rc = backend_parse(c, &req);

        if (rc == AW_AGAIN)
            return;
        if (rc != AW_OK) {
            backend_refuse(c, rc);
            return;
        }
        backend_respond(c, &req);

        size_t used = req.head_len + req.content_length;

        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
    }
}

/*
 * Write as much of out[] as the socket takes. Returns AW_OK when out[]
 * is empty (and reset), AW_AGAIN when the socket is full, AW_IO when the
 * peer is gone.
 */
static int
backend_flush(struct backend_conn *c)
{
    while (c->out_start < c->out_end) {
        ssize_t n = send(c->fd, c->out + c->out_start,
                         c->out_end - c->out_start, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return AW_AGAIN;
        if (n <= 0)
            return AW_IO;
        c->out_start += (size_t)n;
    }
    c->out_start = 0;
    c->out_end = 0;
    return AW_OK;
}

/*
 * Read what the socket holds into in[]. Returns AW_OK after reading some
 * bytes or when in[] is full, AW_AGAIN when nothing was ready, AW_DONE at
 * end of stream and AW_IO on error.
 */
static int
backend_read(struct backend_conn *c)
{
    bool got = false;

    while (c->in_len < BACKEND_IN_CAP) {
        ssize_t n =
            recv(c->fd, c->in + c->in_len, BACKEND_IN_CAP - c->in_len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return got ? AW_OK : AW_AGAIN;
        if (n < 0)
            return AW_IO;
        if (n == 0)
            return AW_DONE;
        c->in_len += (size_t)n;
        got = true;
    }
    return AW_OK;
}

static void
backend_close(struct backend_conn *c)
{
    epoll_ctl(backend_epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/*
 * Register interest in reading while out[] is empty, and only in writing
 * while it holds bytes the socket did not take. Waiting for writability
 * before reading more keeps a client that does not read its answers
 * from growing this server's work. Returns AW_OK or AW_IO.
 */
static int
backend_watch(struct backend_conn *c, bool writing)
{
    unsigned want = writing ? EPOLLOUT : EPOLLIN;

    if (want == c->events)
        return AW_OK;

    struct epoll_event ev = {.events = want, .data.ptr = c};

    if (epoll_ctl(backend_epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return AW_IO;
    c->events = want;
    return AW_OK;
}

/*
 * Handle readiness on a client connection: read, serve, write, and
 * repeat while requests remain buffered. The connection is freed here
 * when the peer leaves, on error, or after a "Connection: close" answer.
 */
static void
backend_on_ready(struct backend_conn *c)
{
    int rc = backend_read(c);

    if (rc == AW_DONE || rc == AW_IO)
        goto close;
    for (;;) {
        size_t before = c->in_len;

        backend_serve(c);
        rc = backend_flush(c);
        if (rc == AW_IO)
            goto close;
        if (rc == AW_AGAIN)
            break;
        if (c->close_after)
            goto close;
        if (c->in_len == before || c->in_len == 0)
            break;
    }
    if (backend_watch(c, rc == AW_AGAIN) != AW_OK)
        goto close;
    return;

close:
    backend_close(c);
}

/* Accept every pending connection and register it for reading. */
static void
backend_on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;

        int one = 1;
        struct backend_conn *c = malloc(sizeof(*c));

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        c->close_after = false;
        c->in_len = 0;
        c->out_start = 0;
        c->out_end = 0;

        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

        if (epoll_ctl(backend_epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
        }
    }
}

/*
 * Open the listening socket on 127.0.0.1:port; the benchmark never
 * listens beyond loopback. Returns the descriptor or -1 with errno set.
 */
static int
backend_listen(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sa = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(fd, BACKEND_BACKLOG) != 0) {
        int saved = errno;

        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Parse the port argument; AW_INVALID unless it is 1..65535. */
static int
backend_parse_port(const char *arg, uint16_t *port)
{
    char *end = NULL;
    unsigned long v;

    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v == 0 || v > 65535)
        return AW_INVALID;
    *port = (uint16_t)v;
    return AW_OK;
}

/* Run the loop until SIGTERM or SIGINT. */
static void
backend_run(int lfd)
{
    struct epoll_event events[BACKEND_MAX_EVENTS];

    while (!backend_stop) {
        int n = epoll_wait(backend_epfd, events, BACKEND_MAX_EVENTS, 1000);

        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                backend_on_accept(lfd);
            else
                backend_on_ready(events[i].data.ptr);
        }
    }
}

int
main(int argc, char **argv)
{
    uint16_t port = 18000;
    int rc = AW_OK;
    int lfd = -1;

    if (argc > 2 ||
        (argc == 2 && backend_parse_port(argv[1], &port) != AW_OK)) {
        fprintf(stderr, "usage: %s [port]  (listens on 127.0.0.1)\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, backend_on_signal);
    signal(SIGINT, backend_on_signal);

    lfd = backend_listen(port);
    backend_epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lfd < 0 || backend_epfd < 0) {
        perror("apiward-bench-backend: listen");
        rc = AW_IO;
        goto cleanup;
    }

    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

    if (epoll_ctl(backend_epfd, EPOLL_CTL_ADD, lfd, &ev) != 0) {
        perror("apiward-bench-backend: epoll");
        rc = AW_IO;
        goto cleanup;
    }
    backend_run(lfd);

cleanup:
    if (backend_epfd >= 0)
        close(backend_epfd);
    if (lfd >= 0)
        close(lfd);
    return rc == AW_OK ? 0 : 1;
}
