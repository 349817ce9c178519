/*
 * telemetry: the access log (one JSON line per request) and the security
 * events (one JSON line per event, shaped after the Elastic Common
 * Schema).
 *
 * Workers never block on either stream: each writes complete lines into
 * its own ring, and one telemetry thread drains every ring into its
 * destination. A line that does not fit in a full ring is dropped and
 * counted.
 */
#ifndef APIWARD_TELEMETRY_H
#define APIWARD_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/*
 * Start the access log with one ring of ring_bytes (rounded up to a power
 * of two) per worker. dest is "stdout", "off" or a file path opened for
 * appending. Returns AW_OK, AW_IO when the file cannot be opened (errno
 * set), or AW_NOMEM.
 */
int accesslog_start(const char *dest, size_t ring_bytes, unsigned nworkers);

/* True when lines are being written somewhere (dest is not "off"). */
bool accesslog_enabled(void);

/*
 * Queue one line (which should end in '\n') from worker w. Lock-free,
 * safe to call from that worker's thread only. A line that does not fit
 * is dropped and counted.
 */
void accesslog_write(unsigned w, const char *line, size_t len);

/* Reopen the file (after rotation); takes effect within one drain. */
void accesslog_reopen(void);

/* Drain every ring, stop the thread and close the file. */
void accesslog_stop(void);

/* Lines dropped because a ring was full, since start. */
uint64_t accesslog_dropped(void);

/*
 * Write out what every stream (access log, events) holds now, without
 * stopping anything: for a process about to exit while workers may
 * still be writing, where freeing the rings would not be safe.
 */
void telemetry_flush(void);

/*
 * SECURITY EVENTS
 *
 * An event records a decision a security team wants to see on its own:
 * a privilege-escalation attempt, a possible object-level authorization
 * bypass, and the like. It names the principal by subject, issuer and
 * credential id (a short hash), never by token or key.
 */
struct security_event {
    const char *action;     /* stable code, e.g. "authz.object_mismatch" */
    const char *reason;     /* the reason code of the decision */
    const char *outcome;    /* "denied", "monitored", ... */
    int severity;           /* 1 (low) .. 10 (critical); clamped */
    const char *request_id; /* the request's id, as in the access log */
    const char *method;
    const char *path;       /* the normalised path */
    const char *route;      /* the route's name */
    const char *client_ip;  /* text */
    const char *subject;    /* the principal's subject */
    const char *issuer;     /* the issuer's name in the configuration */
    const char *auth_method;   /* "jwt", "api_key", "introspection" */
    const char *credential_id; /* short hash of the credential */
    const char *rule_id;    /* policy rule that decided, or NULL */
    const char *object_id;  /* the request value compared, or NULL */
};                          /* any pointer may be NULL: the field is left
                               out; strings are borrowed for the call */

/*
 * Start the event stream with one ring of ring_bytes (rounded up to a
 * power of two) per worker. dest is "stdout", "off" or a file path
 * opened for appending. Returns AW_OK, AW_IO when the file cannot be
 * opened (errno set), or AW_NOMEM.
 */
int events_start(const char *dest, size_t ring_bytes, unsigned nworkers);

/* True when events are being written somewhere (dest is not "off"). */
bool events_enabled(void);

/*
 * Queue one event as a JSON line. worker: the calling worker's index
 * (0 for the main thread, which then shares worker 0's ring under a
 * short spin lock). Never waits on I/O; drops and counts when the ring
 * is full or the line would pass EVENTS_LINE_MAX. Text is cut (path at
 * 512 bytes, object_id at 256, every other string at 128) and escaped.
 * Does nothing while the stream is off.
 */
void events_emit(unsigned worker, const struct security_event *e);

/* The longest event line; longer ones are dropped and counted. */
#define EVENTS_LINE_MAX 16384

/* Reopen the file (after rotation); takes effect within one drain. */
void events_reopen(void);

/* Drain every ring, stop and close the stream. No emit may run. */
void events_stop(void);

/* Events dropped (full ring, line too long) since start. */
uint64_t events_dropped(void);

/*
 * Append s to dst as the inside of a JSON string: quote, backslash and
 * control characters escaped, bytes outside ASCII as \u00XX, cut at max
 * input bytes. Returns AW_TOOBIG (dst unchanged past its old end) when
 * the buffer is too small.
 */
int json_escape_append(struct buf *dst, struct slice s, size_t max);

#endif
