/*
 * Sinks: per-worker rings of whole lines, and the one telemetry thread
 * that drains them into their files.
 *
 * Producers never wait: a line that does not fit in its ring is dropped
 * and counted. The drain thread wakes every DRAIN_INTERVAL_MS, so a line
 * reaches its file within that interval plus the time of a write; while
 * lines arrive at DRAIN_BUSY_BYTES per DRAIN_INTERVAL_MS or more it comes
 * back after DRAIN_BUSY_MS instead, so that under load the rings are
 * emptied as fast as the destination takes them rather than once per
 * interval.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "telemetry_int.h"

#define DRAIN_INTERVAL_MS 50
#define DRAIN_BUSY_BYTES (16 * 1024)   /* a pass that moved this much */
#define DRAIN_BUSY_MS 1                /* is followed by one this soon */
#define SINK_RING_MIN 4096

/*
 * The drain thread and its list of open sinks. The lock guards the list
 * and each sink's file descriptor; only the drain thread and the thread
 * that opens and closes sinks take it, never a producer.
 */
static struct {
    pthread_mutex_t lock;
    struct sink *list;
    pthread_t thread;
    bool running;
    _Atomic bool stop;
} drain = {.lock = PTHREAD_MUTEX_INITIALIZER};

void
sink_write(struct sink *s, unsigned r, const char *line, size_t len)
{
    struct sink_ring *ring;
    size_t head, tail, size, off, first;

    if (!s->active)
        return;
    if (r >= s->nrings) {
        sink_drop(s);
        return;
    }
    ring = &s->rings[r];
    size = ring->mask + 1;
    head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    if (size - (head - tail) < len) {
        sink_drop(s);
        return;
    }
    off = head & ring->mask;
    first = MIN(len, size - off);
    memcpy(ring->data + off, line, first);
    memcpy(ring->data, line + first, len - first);
    atomic_store_explicit(&ring->head, head + len, memory_order_release);
}

void
sink_drop(struct sink *s)
{
    atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
}

void
sink_reopen(struct sink *s)
{
    atomic_store(&s->reopen, true);
}

/* Write everything, retrying on EINTR; a failing file loses the data. */
static void
sink_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Write out what the producer of ring published so far; the bytes. */
static size_t
sink_drain_ring(int fd, struct sink_ring *ring)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    size_t size = ring->mask + 1, start = tail;

    while (tail != head) {
        size_t off = tail & ring->mask;
        size_t n = MIN(head - tail, size - off);

        sink_write_all(fd, ring->data + off, n);
        tail += n;
    }
    atomic_store_explicit(&ring->tail, tail, memory_order_release);
    return tail - start;
}

/*
 * Point the sink's descriptor at a fresh open of its path, keeping the
 * descriptor number. A file that cannot be reopened keeps the old one.
 */
static void
sink_reopen_file(struct sink *s)
{
    int fd;

    if (s->path == NULL)
        return;
    fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("%s: cannot reopen %s: %s", s->name, s->path,
                  strerror(errno));
        return;
    }
    dup2(fd, s->fd);
    close(fd);
}

/* One pass over a sink; the bytes it moved. The caller holds drain.lock. */
static size_t
sink_drain(struct sink *s)
{
    size_t moved = 0;

    if (s->kind != SINK_FILE)
        return syslog_drain(s);
    if (atomic_exchange(&s->reopen, false))
        sink_reopen_file(s);
    for (unsigned i = 0; i < s->nrings; i++)
        moved += sink_drain_ring(s->fd, &s->rings[i]);
    return moved;
}

void
telemetry_flush(void)
{
    pthread_mutex_lock(&drain.lock);
    for (struct sink *s = drain.list; s != NULL; s = s->next)
        sink_drain(s);
    pthread_mutex_unlock(&drain.lock);
}

/*
 * True when a pass that moved moved bytes after a sleep of slept_ms
 * shows load: DRAIN_BUSY_BYTES per DRAIN_INTERVAL_MS or more. A rate,
 * not a count: after a short sleep a pass moves little even under
 * steady load, and going back to the long sleep then would let the
 * rings fill (at 9 MB/s of access log, a 256 KiB ring lasts 28 ms).
 */
static bool
drain_busy(size_t moved, long slept_ms)
{
    return (uint64_t)moved * DRAIN_INTERVAL_MS >=
           (uint64_t)DRAIN_BUSY_BYTES * (uint64_t)slept_ms;
}

static void *
drain_main(void *arg)
{
    long slept_ms = DRAIN_INTERVAL_MS;

    for (;;) {
        bool last = atomic_load(&drain.stop);
        size_t moved = 0;

        pthread_mutex_lock(&drain.lock);
        for (struct sink *s = drain.list; s != NULL; s = s->next)
            moved += sink_drain(s);
        pthread_mutex_unlock(&drain.lock);
        if (last)
            break;
        slept_ms = drain_busy(moved, slept_ms) ? DRAIN_BUSY_MS
                                               : DRAIN_INTERVAL_MS;
        nanosleep(&(struct timespec){0, slept_ms * 1000000L}, NULL);
    }
    return arg;
}

/* Add s to the drain list, starting the thread with the first sink. */
static int
sink_attach(struct sink *s)
{
    int rc = AW_OK;

    pthread_mutex_lock(&drain.lock);
    if (!drain.running) {
        atomic_store(&drain.stop, false);
        if (pthread_create(&drain.thread, NULL, drain_main, NULL) == 0)
            drain.running = true;
        else
            rc = AW_NOMEM;
    }
    if (rc == AW_OK) {
        s->next = drain.list;
        drain.list = s;
    }
    pthread_mutex_unlock(&drain.lock);
    return rc;
}

/*
 * Drain s a last time and take it off the list; the thread is stopped
 * (outside the lock, which it needs to finish) when the list is empty.
 */
static void
sink_detach(struct sink *s)
{
    bool stop;

    pthread_mutex_lock(&drain.lock);
    for (struct sink **p = &drain.list; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            sink_drain(s);
            *p = s->next;
            break;
        }
    }
    s->next = NULL;
    stop = drain.list == NULL && drain.running;
    pthread_mutex_unlock(&drain.lock);
    if (stop) {
        atomic_store(&drain.stop, true);
        pthread_join(drain.thread, NULL);
        drain.running = false;
    }
}

static size_t
sink_ring_size(size_t n)
{
    size_t p = SINK_RING_MIN;

    while (p < n && p < SIZE_MAX / 2)
        p <<= 1;
    return p;
}

/* Open the destination into s->fd (and s->path for a file). */
static int
sink_open_fd(struct sink *s, const char *dest)
{
    if (strcmp(dest, "stdout") == 0) {
        s->fd = dup(STDOUT_FILENO);
        return s->fd >= 0 ? AW_OK : AW_IO;
    }
    s->path = strdup(dest);
    if (s->path == NULL)
        return AW_NOMEM;
    s->fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    return s->fd >= 0 ? AW_OK : AW_IO;
}

/* The rings, each of size bytes; freed by sink_close on failure. */
static int
sink_alloc_rings(struct sink *s, size_t size, unsigned nrings)
{
    s->rings = calloc(nrings, sizeof(*s->rings));
    if (s->rings == NULL)
        return AW_NOMEM;
    s->nrings = nrings;
    for (unsigned i = 0; i < nrings; i++) {
        s->rings[i].data = malloc(size);
        if (s->rings[i].data == NULL)
            return AW_NOMEM;
        s->rings[i].mask = size - 1;
    }
    return AW_OK;
}

int
sink_open(struct sink *s, const char *dest, size_t ring_bytes,
          unsigned nrings)
{
    int rc, saved;

    if (dest == NULL || strcmp(dest, "off") == 0)
        return AW_OK;
    atomic_store(&s->dropped, 0);
    atomic_store(&s->reopen, false);
    s->kind = SINK_FILE;
    rc = sink_open_fd(s, dest);
    if (rc == AW_OK)
        rc = sink_alloc_rings(s, sink_ring_size(ring_bytes), nrings);
    s->active = rc == AW_OK;
    if (rc == AW_OK)
        rc = sink_attach(s);
    if (rc != AW_OK) {
        saved = errno;
        sink_close(s);
        errno = saved;
    }
    return rc;
}

int
sink_open_syslog(struct sink *s, enum sink_kind kind,
                 const struct sockaddr *peer, socklen_t len,
                 const char *peer_text, size_t ring_bytes, unsigned nrings)
{
    int rc;

    atomic_store(&s->dropped, 0);
    atomic_store(&s->sent, 0);
    s->kind = kind;
    s->fd = -1;
    memcpy(&s->peer, peer, MIN((size_t)len, sizeof(s->peer)));
    s->peer_len = len;
    snprintf(s->peer_text, sizeof(s->peer_text), "%s", peer_text);
    s->retry_at_ms = 0;
    s->backoff_ms = 0;
    s->down_logged = false;
    rc = sink_alloc_rings(s, sink_ring_size(ring_bytes), nrings);
    s->active = rc == AW_OK;
    if (rc == AW_OK)
        rc = sink_attach(s);
    if (rc != AW_OK)
        sink_close(s);
    return rc;
}

void
sink_close(struct sink *s)
{
    sink_detach(s);
    s->active = false;
    for (unsigned i = 0; s->rings != NULL && i < s->nrings; i++)
        free(s->rings[i].data);
    free(s->rings);
    free(s->path);
    if (s->fd >= 0)
        close(s->fd);
    s->rings = NULL;
    s->nrings = 0;
    s->path = NULL;
    s->fd = -1;
    if (s->kind != SINK_FILE)
        syslog_tls_fini(s);
}
