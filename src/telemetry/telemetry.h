/*
 * telemetry: the access log (one JSON line per request).
 *
 * Workers never block on the log: each writes complete lines into its
 * own single-producer ring, and one telemetry thread drains every ring
 * into the destination. A line that does not fit in a full ring is
 * dropped and counted.
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
 * Append s to dst as the inside of a JSON string: quote, backslash and
 * control characters escaped, bytes outside ASCII as \u00XX, cut at max
 * input bytes. Returns AW_TOOBIG (dst unchanged past its old end) when
 * the buffer is too small.
 */
int json_escape_append(struct buf *dst, struct slice s, size_t max);

#endif
