/*
 * telemetry internals shared by the files of src/telemetry/ and by
 * nothing else: the sink, a set of per-worker byte rings drained into one
 * destination by the telemetry thread.
 *
 * Every stream of lines (the access log, the security events) is a
 * sink. One thread drains every open sink in turn, so two streams sent
 * to the same destination (both to stdout, say) never interleave inside
 * a line: a ring only ever holds whole lines, and its bytes are written
 * by that one thread in one pass.
 */
#ifndef APIWARD_TELEMETRY_INT_H
#define APIWARD_TELEMETRY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "telemetry.h"

/* Single-producer single-consumer byte ring. */
struct sink_ring {
    char *data;
    size_t mask;         /* size - 1, size a power of two */
    _Atomic size_t head; /* written by the producer */
    _Atomic size_t tail; /* written by the drain thread */
    char pad[64];        /* keep rings on separate cache lines */
};

/* Where a sink's lines go. */
enum sink_kind {
    SINK_FILE,               /* a file or stdout: the ring's bytes as
                                they are */
    SINK_SYSLOG_UDP,         /* one datagram per record */
    SINK_SYSLOG_TCP,         /* records as they are, octet-counted */
    SINK_SYSLOG_TLS,         /* the same inside TLS (RFC 5425) */
};

struct ssl_ctx_st;
struct ssl_st;

/*
 * One stream. Zero-initialise it with fd = -1 (SINK_INIT); sink_open
 * fills it and sink_close empties it again, so a sink is reusable.
 *
 * A syslog sink's rings hold records "LEN SP MESSAGE" (RFC 6587 octet
 * counting), which its drain sends whole. Its socket may be down (fd
 * -1) while the sink is active: records then wait in the rings, which
 * bound the memory an outage takes, until a reconnection succeeds.
 */
struct sink {
    const char *name;        /* for diagnostics: "access log" */
    struct sink_ring *rings;
    unsigned nrings;
    int fd;                  /* -1 when off, or a syslog socket down */
    bool active;             /* producers may write */
    enum sink_kind kind;
    char *path;              /* NULL for stdout; owned */
    _Atomic bool reopen;     /* set by sink_reopen, read by the drain */
    _Atomic uint64_t dropped;
    struct sink *next;       /* in the drain thread's list */

    /* Syslog sinks only; touched by the drain thread alone once open. */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char peer_text[64];
    uint64_t retry_at_ms;    /* monotonic: no connection before this */
    uint64_t backoff_ms;     /* the next wait after a failure */
    bool down_logged;        /* the outage was logged once */
    struct ssl_ctx_st *tls_ctx; /* SINK_SYSLOG_TLS: verifies the
                                 receiver; set by syslog_tls_init */
    struct ssl_st *tls;      /* the session of the connection */
    char tls_name[256];      /* the name (or IP) the receiver's
                                certificate must hold */
    _Atomic uint64_t sent;   /* records delivered */
};

#define SINK_INIT(label) {.name = (label), .fd = -1}

/*
 * Open dest ("stdout", "off" or a file path opened for appending), give
 * the sink nrings rings of ring_bytes each (rounded up to a power of two
 * of at least 4 KiB) and hand it to the drain thread, which starts with
 * the first open sink. "off" (or NULL) leaves the sink closed and
 * returns AW_OK. Returns AW_OK, AW_IO when the file cannot be opened
 * (errno set), or AW_NOMEM; on failure the sink is left closed.
 */
int sink_open(struct sink *s, const char *dest, size_t ring_bytes,
              unsigned nrings);

/* True when the sink takes lines (its socket may be down). */
static inline bool
sink_enabled(const struct sink *s)
{
    return s->active;
}

/*
 * Open a syslog sink towards peer over UDP or TCP (kind), with nrings
 * rings of ring_bytes, and hand it to the drain thread. The first
 * connection is tried by the drain thread, so an unreachable receiver
 * delays nothing here. Returns AW_OK or AW_NOMEM.
 */
int sink_open_syslog(struct sink *s, enum sink_kind kind,
                     const struct sockaddr *peer, socklen_t len,
                     const char *peer_text, size_t ring_bytes,
                     unsigned nrings);

/*
 * One pass of the drain thread over a syslog sink (syslog.c): connect
 * when the backoff allows, then send every whole record. Returns the
 * bytes taken from the rings. The caller holds the drain lock.
 */
size_t syslog_drain(struct sink *s);

/*
 * Prepare TLS for a syslog sink (before sink_open_syslog): trust the
 * CA certificates of ca_file, require name (a DNS name, sent as SNI,
 * or an IP address) in the receiver's certificate. AW_OK, or
 * AW_INVALID with the reason logged.
 */
int syslog_tls_init(struct sink *s, const char *ca_file, const char *name);

/* Free what syslog_tls_init and the connection hold; accepts none. */
void syslog_tls_fini(struct sink *s);

/*
 * Append e to out as one CEF 0 message (cef.c), without a line end.
 * AW_OK or AW_TOOBIG (out holds a cut message).
 */
int cef_format(struct buf *out, const struct security_event *e);

/*
 * Queue one whole line on ring r. Lock-free; at most one thread may
 * write to a ring at a time. A line that does not fit, or a ring that
 * does not exist, is dropped and counted.
 */
void sink_write(struct sink *s, unsigned r, const char *line, size_t len);

/* Count a line dropped before it reached a ring. */
void sink_drop(struct sink *s);

/* Reopen the file (after rotation) at the next drain. */
void sink_reopen(struct sink *s);

/*
 * Drain the sink one last time, take it from the drain thread (which
 * stops with the last sink), close the file and free the rings. No
 * producer may write during or after this call. Accepts a closed sink.
 */
void sink_close(struct sink *s);

#endif
