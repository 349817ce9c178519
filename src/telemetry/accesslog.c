/*
 * Access log rings and the thread that drains them.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "telemetry.h"

#define DRAIN_INTERVAL_MS 50

/* Single-producer single-consumer byte ring. */
struct ring {
    char *data;
    size_t mask;               /* size - 1, size a power of two */
    _Atomic size_t head;       /* written by the worker */
    _Atomic size_t tail;       /* written by the drain thread */
    char pad[64];              /* keep rings on separate cache lines */
};

static struct {
    struct ring *rings;
    unsigned nrings;
    int fd;                    /* -1 when off */
    char *path;                /* NULL for stdout */
    pthread_t thread;
    bool running;
    _Atomic bool stop;
    _Atomic bool reopen;
    _Atomic uint64_t dropped;
} alog = {.fd = -1};

bool
accesslog_enabled(void)
{
    return alog.fd >= 0;
}

uint64_t
accesslog_dropped(void)
{
    return atomic_load(&alog.dropped);
}

void
accesslog_write(unsigned w, const char *line, size_t len)
{
    struct ring *r;
    size_t head, tail, size, off, first;

    if (alog.fd < 0 || w >= alog.nrings)
        return;
    r = &alog.rings[w];
    size = r->mask + 1;
    head = atomic_load_explicit(&r->head, memory_order_relaxed);
    tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (size - (head - tail) < len) {
        atomic_fetch_add_explicit(&alog.dropped, 1, memory_order_relaxed);
        return;
    }
    off = head & r->mask;
    first = MIN(len, size - off);
    memcpy(r->data + off, line, first);
    memcpy(r->data, line + first, len - first);
    atomic_store_explicit(&r->head, head + len, memory_order_release);
}

/* Write everything, retrying on EINTR; a failing file loses the data. */
static void
write_all(int fd, const char *p, size_t n)
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

static void
drain_ring(struct ring *r)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t size = r->mask + 1;

    while (tail != head) {
        size_t off = tail & r->mask;
        size_t n = MIN(head - tail, size - off);

        write_all(alog.fd, r->data + off, n);
        tail += n;
    }
    atomic_store_explicit(&r->tail, tail, memory_order_release);
}

static void
reopen_file(void)
{
    int fd;

    if (alog.path == NULL)
        return;
    fd = open(alog.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("access log: cannot reopen %s: %s", alog.path,
                  strerror(errno));
        return;
    }
    dup2(fd, alog.fd);
    close(fd);
}

static void *
drain_main(void *arg)
{
    struct timespec ts = {0, DRAIN_INTERVAL_MS * 1000000L};

    for (;;) {
        bool last = atomic_load(&alog.stop);

        if (atomic_exchange(&alog.reopen, false))
            reopen_file();
        for (unsigned i = 0; i < alog.nrings; i++)
            drain_ring(&alog.rings[i]);
        if (last)
            break;
        nanosleep(&ts, NULL);
    }
    return arg;
}

static size_t
pow2_at_least(size_t n)
{
    size_t p = 4096;

    while (p < n)
        p <<= 1;
    return p;
}

int
accesslog_start(const char *dest, size_t ring_bytes, unsigned nworkers)
{
    size_t size = pow2_at_least(ring_bytes);

    if (dest == NULL || strcmp(dest, "off") == 0)
        return AW_OK;
    if (strcmp(dest, "stdout") == 0) {
        alog.fd = dup(STDOUT_FILENO);
    } else {
        alog.path = strdup(dest);
        if (alog.path == NULL)
            return AW_NOMEM;
        alog.fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                       0640);
    }
    if (alog.fd < 0)
        return AW_IO;
    alog.rings = calloc(nworkers, sizeof(*alog.rings));
    if (alog.rings == NULL)
        return AW_NOMEM;
    alog.nrings = nworkers;
    for (unsigned i = 0; i < nworkers; i++) {
        alog.rings[i].data = malloc(size);
        if (alog.rings[i].data == NULL)
            return AW_NOMEM;
        alog.rings[i].mask = size - 1;
    }
    if (pthread_create(&alog.thread, NULL, drain_main, NULL) != 0)
        return AW_NOMEM;
    alog.running = true;
    return AW_OK;
}

void
accesslog_reopen(void)
{
    atomic_store(&alog.reopen, true);
}

void
accesslog_stop(void)
{
    if (alog.running) {
        atomic_store(&alog.stop, true);
        pthread_join(alog.thread, NULL);
        alog.running = false;
    }
    for (unsigned i = 0; i < alog.nrings; i++)
        free(alog.rings[i].data);
    free(alog.rings);
    free(alog.path);
    alog.rings = NULL;
    alog.path = NULL;
    alog.nrings = 0;
    if (alog.fd >= 0)
        close(alog.fd);
    alog.fd = -1;
}

int
json_escape_append(struct buf *dst, struct slice s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = MIN(s.len, max);
    size_t end = dst->end;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t len = 6;
        const char *p = esc;

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            len = 1;
            p = (const char *)&s.ptr[i];
        } else if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            len = 2;
        }
        if (buf_room(dst) < len) {
            dst->end = end;
            return AW_TOOBIG;
        }
        memcpy(dst->data + dst->end, p, len);
        dst->end += len;
    }
    return AW_OK;
}
