/*
 * The syslog sink's drain: records of "LEN SP MESSAGE" taken from the
 * rings and sent whole, over UDP (one datagram per message, without the
 * length) or TCP (octet-counting framing, RFC 6587 section 3.4.1, as
 * the records already are).
 *
 * Over TLS (RFC 5425) the records travel as they are inside a session
 * whose receiver is verified against the configured CA and name; no
 * client certificate is presented.
 *
 * Only the drain thread runs this, so a slow or absent receiver never
 * reaches a worker: records wait in the rings, and once a ring is full
 * the workers drop and count. A connection that fails is retried after
 * a backoff doubling from SYSLOG_BACKOFF_MIN_MS to SYSLOG_BACKOFF_MAX_MS.
 * A record cut off by a failure in the middle of its send is dropped
 * and counted (resending its head on a new connection would break the
 * framing); one not begun is kept for the next connection.
 *
 * Over TCP and TLS the records waiting in a ring go out together, as
 * many as fit SYSLOG_BATCH bytes in one send, so that a busy gateway
 * costs one system call per batch rather than one per event.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "telemetry_int.h"

#define SYSLOG_BACKOFF_MIN_MS 100
#define SYSLOG_BACKOFF_MAX_MS 30000
#define SYSLOG_CONNECT_MS 1000
#define SYSLOG_SEND_MS 2000
#define SYSLOG_RECORD_MAX (EVENTS_LINE_MAX + 1024)
#define SYSLOG_BATCH (4 * SYSLOG_RECORD_MAX)
#define SYSLOG_BATCH_RECORDS 512

/* Forget the connection and wait before the next attempt. */
static void
syslog_down(struct sink *s, const char *why)
{
    if (s->tls != NULL)
        SSL_free(s->tls);
    s->tls = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->backoff_ms = s->backoff_ms == 0 ? SYSLOG_BACKOFF_MIN_MS
                    : MIN(s->backoff_ms * 2, (uint64_t)SYSLOG_BACKOFF_MAX_MS);
    s->retry_at_ms = clock_mono_ms() + s->backoff_ms;
    if (!s->down_logged)
        log_warn("%s: syslog receiver %s unreachable (%s); retrying",
                 s->name, s->peer_text, why);
    s->down_logged = true;
}

/* Wait for a non-blocking connect; AW_OK when it succeeded. */
static int
syslog_wait_connect(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int err = 0;
    socklen_t len = sizeof(err);

    if (poll(&p, 1, SYSLOG_CONNECT_MS) != 1)
        return AW_IO;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
        return AW_IO;
    return AW_OK;
}

int
syslog_tls_init(struct sink *s, const char *ca_file, const char *name)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 ||
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        log_error("%s: cannot load the syslog CA file %s", s->name, ca_file);
        SSL_CTX_free(ctx);
        return AW_INVALID;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    s->tls_ctx = ctx;
    snprintf(s->tls_name, sizeof(s->tls_name), "%s", name);
    return AW_OK;
}

void
syslog_tls_fini(struct sink *s)
{
    if (s->tls != NULL)
        SSL_free(s->tls);
    SSL_CTX_free(s->tls_ctx);
    s->tls = NULL;
    s->tls_ctx = NULL;
}

/*
 * The TLS handshake on the connected socket fd, the receiver's
 * certificate checked against the CA file and the configured name.
 */
static int
syslog_handshake(struct sink *s, int fd)
{
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, s->tls_name, ip) == 1 ||
                 inet_pton(AF_INET6, s->tls_name, ip) == 1;

    s->tls = SSL_new(s->tls_ctx);
    if (s->tls == NULL || SSL_set_fd(s->tls, fd) != 1)
        return AW_NOMEM;
    if (is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->tls), s->tls_name);
    } else {
        SSL_set_tlsext_host_name(s->tls, s->tls_name);
        SSL_set1_host(s->tls, s->tls_name);
    }
    if (SSL_connect(s->tls) != 1) {
        log_debug("%s: TLS handshake with %s failed: %s", s->name,
                  s->peer_text, ERR_reason_error_string(ERR_peek_error()));
        ERR_clear_error();
        return AW_IO;
    }
    return AW_OK;
}

/*
 * Connect (UDP: fix the peer, so that sends need no address and ICMP
 * errors come back). The socket is left blocking with send and receive
 * timeouts (the receive one bounds a TLS handshake).
 */
static int
syslog_connect(struct sink *s)
{
    struct timeval tv = {SYSLOG_SEND_MS / 1000, 0};
    int type = s->kind == SINK_SYSLOG_UDP ? SOCK_DGRAM : SOCK_STREAM;
    int fd = socket(s->peer.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);

    if (fd < 0)
        return AW_IO;
    if (connect(fd, (struct sockaddr *)&s->peer, s->peer_len) != 0 &&
        (errno != EINPROGRESS || syslog_wait_connect(fd) != AW_OK)) {
        close(fd);
        return AW_IO;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (s->kind == SINK_SYSLOG_TLS && syslog_handshake(s, fd) != AW_OK) {
        SSL_free(s->tls);
        s->tls = NULL;
        close(fd);
        return AW_IO;
    }
    s->fd = fd;
    s->backoff_ms = 0;
    if (s->down_logged)
        log_info("%s: syslog receiver %s reached again", s->name,
                 s->peer_text);
    s->down_logged = false;
    return AW_OK;
}

/* Copy n bytes at position pos of the ring into dst. */
static void
ring_copy(const struct sink_ring *ring, size_t pos, char *dst, size_t n)
{
    size_t off = pos & ring->mask;
    size_t first = MIN(n, ring->mask + 1 - off);

    memcpy(dst, ring->data + off, first);
    memcpy(dst + first, ring->data, n - first);
}

/*
 * The record at pos: its whole length (prefix included) and where its
 * message starts. Records are written whole by one producer, so the
 * prefix is always well formed; 0 when it is not (a bug), which makes
 * the caller drop the rest of the ring.
 */
static size_t
record_at(const struct sink_ring *ring, size_t pos, size_t avail,
          char *buf, size_t *msg_off)
{
    size_t len = 0, i;
    char digits[8];
    size_t nd = MIN(avail, sizeof(digits));

    ring_copy(ring, pos, digits, nd);
    for (i = 0; i < nd && digits[i] >= '0' && digits[i] <= '9'; i++)
        len = len * 10 + (size_t)(digits[i] - '0');
    if (i == 0 || i == nd || digits[i] != ' ' ||
        i + 1 + len > MIN(avail, (size_t)SYSLOG_RECORD_MAX))
        return 0;
    ring_copy(ring, pos, buf, i + 1 + len);
    *msg_off = i + 1;
    return i + 1 + len;
}

/*
 * Send p[0..n); the bytes the receiver took, n unless the connection
 * failed (it is then closed).
 */
static size_t
syslog_send(struct sink *s, const char *p, size_t n)
{
    size_t done = 0;

    while (done < n) {
        ssize_t w = s->tls != NULL
                        ? (ssize_t)SSL_write(s->tls, p + done,
                                             (int)MIN(n - done, INT_MAX))
                        : send(s->fd, p + done, n - done, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            syslog_down(s, strerror(errno));
            return done;
        }
        done += (size_t)w;
    }
    return done;
}

/*
 * Has the receiver closed or reset the stream? Sent into such a
 * connection, a batch would be accepted by the kernel and lost, so it is
 * closed here first and the batch waits for the next connection. Only
 * the peer's shutdown and errors count: data it sent (a TLS session
 * ticket) does not.
 */
static bool
syslog_peer_gone(struct sink *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLRDHUP};

    if (poll(&p, 1, 0) <= 0 ||
        !(p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return false;
    syslog_down(s, "closed by the receiver");
    return true;
}

/* One datagram per record, without its length. */
static size_t
syslog_drain_datagrams(struct sink *s, struct sink_ring *ring, size_t tail,
                       size_t head)
{
    static char rec[SYSLOG_RECORD_MAX];

    while (tail != head && s->fd >= 0) {
        size_t msg_off = 0;
        size_t n = record_at(ring, tail, head - tail, rec, &msg_off);

        if (n == 0) {
            sink_drop(s);
            return head;
        }
        if (syslog_send(s, rec + msg_off, n - msg_off) == n - msg_off)
            atomic_fetch_add_explicit(&s->sent, 1, memory_order_relaxed);
        else
            sink_drop(s);
        tail += n;
    }
    return tail;
}

/*
 * Whole records gathered into batches for a stream. A record the
 * failure of a send cut off is dropped; the records after it are kept.
 */
static size_t
syslog_drain_stream(struct sink *s, struct sink_ring *ring, size_t tail,
                    size_t head)
{
    static char batch[SYSLOG_BATCH];
    static size_t ends[SYSLOG_BATCH_RECORDS];

    while (tail != head && s->fd >= 0 && !syslog_peer_gone(s)) {
        size_t used = 0, nrec = 0, pos = tail, sent, full = 0;
        bool bad = false;

        while (pos != head && nrec < SYSLOG_BATCH_RECORDS &&
               sizeof(batch) - used >= SYSLOG_RECORD_MAX) {
            size_t msg_off = 0;
            size_t n = record_at(ring, pos, head - pos, batch + used,
                                 &msg_off);

            if (n == 0) {
                bad = true;
                break;
            }
            used += n;
            pos += n;
            ends[nrec++] = used;
        }
        sent = used > 0 ? syslog_send(s, batch, used) : 0;
        while (full < nrec && ends[full] <= sent)
            full++;
        atomic_fetch_add_explicit(&s->sent, full, memory_order_relaxed);
        tail += full > 0 ? ends[full - 1] : 0;
        if (sent < used) {
            if (sent > (full > 0 ? ends[full - 1] : 0)) {
                sink_drop(s);       /* cut off in the middle */
                tail += ends[full] - (full > 0 ? ends[full - 1] : 0);
            }
            return tail;
        }
        if (bad) {
            sink_drop(s);
            return head;
        }
    }
    return tail;
}

/* Send what ring holds while the connection lasts; the bytes taken. */
static size_t
syslog_drain_ring(struct sink *s, struct sink_ring *ring)
{
    size_t start = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t tail = s->kind == SINK_SYSLOG_UDP
                      ? syslog_drain_datagrams(s, ring, start, head)
                      : syslog_drain_stream(s, ring, start, head);

    atomic_store_explicit(&ring->tail, tail, memory_order_release);
    return tail - start;
}

size_t
syslog_drain(struct sink *s)
{
    size_t moved = 0;

    if (s->fd < 0) {
        bool pending = false;

        for (unsigned i = 0; i < s->nrings; i++)
            pending |= atomic_load(&s->rings[i].head) !=
                       atomic_load(&s->rings[i].tail);
        if (!pending || clock_mono_ms() < s->retry_at_ms)
            return 0;
        if (syslog_connect(s) != AW_OK) {
            syslog_down(s, "connection failed");
            return 0;
        }
    }
    for (unsigned i = 0; i < s->nrings && s->fd >= 0; i++)
        moved += syslog_drain_ring(s, &s->rings[i]);
    return moved;
}
