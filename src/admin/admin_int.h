/*
 * admin internals shared by the files of src/admin/ and by nothing
 * else: the connection being served and the helpers that answer it.
 */
#ifndef APIWARD_ADMIN_INT_H
#define APIWARD_ADMIN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "admin.h"
#include "http/http.h"

/* The one exchange in progress on the admin thread. */
struct admin_conn {
    int fd;
    struct buf in;                     /* head and body as received */
    uint64_t deadline;                 /* monotonic ms: admin.timeout
                                          after accept */
    struct http_request req;           /* slices into in */
    struct http_header headers[64];
    struct slice body;                 /* into in; empty when none */
    const struct admin_hooks *hooks;
    const char *peer;                  /* the caller's address, text */
};

/* Send n bytes before the deadline; AW_OK or AW_IO. */
int admin_send(struct admin_conn *ac, const char *p, size_t n);

/*
 * Answer with status, a Content-Type and body[0..len). The head says
 * Connection: close and Cache-Control: no-store. AW_OK or AW_IO.
 */
int admin_reply(struct admin_conn *ac, int status, const char *type,
                const char *body, size_t len);

/*
 * Answer with an RFC 9457 problem document of type
 * urn:apiward:problem:<reason>; detail is a fixed sentence. A 401 also
 * gets WWW-Authenticate: Bearer.
 */
void admin_problem(struct admin_conn *ac, int status, const char *reason,
                   const char *detail);

/* A JSON answer being built; the first overflow is sticky. */
struct jb {
    struct buf b;
    bool overflow;
};

/* Append printf-formatted text to j. */
void jb_printf(struct jb *j, const char *fmt, ...) AW_PRINTF(2, 3);

/* Append s as a JSON string, its text cut at 1 KiB. */
void jb_str(struct jb *j, const char *s);

/*
 * Answer with j as application/json and status, or with a 500
 * admin.answer_too_large problem when j overflowed.
 */
void admin_reply_json(struct admin_conn *ac, int status, struct jb *j);

/*
 * GET /bans: the live bans, at most the query's limit. query is the
 * request's query string (ptr NULL when none).
 */
void admin_bans_list(struct admin_conn *ac, struct slice query);

/* DELETE /bans/<id or subject>: name is the path after "/bans/". */
void admin_bans_lift(struct admin_conn *ac, struct slice name);

/*
 * Append the ban counters (given, lifted through the admin API) to
 * out. AW_OK or AW_TOOBIG.
 */
int admin_bans_metrics(struct buf *out);

/* Route an authenticated request to its endpoint and answer it. */
void admin_dispatch(struct admin_conn *ac);

/*
 * Append the gauges the metrics module does not hold (key sets, the
 * configuration, the build) to out. AW_OK or AW_TOOBIG.
 */
int admin_metrics_extra(struct buf *out);

#endif
