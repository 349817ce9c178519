/*
 * admin: the admin API on a listener of its own, and the process's
 * conversation with its supervisor (systemd readiness notifications).
 *
 * The admin listener is served by one thread of its own, never by a
 * worker, so nothing it does (a scrape, a reload) runs on the request
 * path. Every request must carry "Authorization: Bearer <token>", the
 * token read from admin.token_file at start; it is compared in constant
 * time through its SHA-256 digest, and only the digest is kept.
 *
 *   GET    /health                       the process answers
 *   GET    /ready                        every remote key set is loaded
 *   GET    /metrics                      Prometheus text format 0.0.4
 *   GET    /config                       version, generation, file hash
 *                                        and an outline; no secret
 *   POST   /reload                       as SIGHUP; answers the outcome
 *   DELETE /introspection/<sha256 hex>   evict a token's cached answer
 *   POST   /introspection/evict          the same, {"token": "..."}
 *   POST   /api-keys/<id>/revoke         refuse an API key from now on
 *   GET    /bans[?limit=N]               the live bans (bans.c)
 *   DELETE /bans/<id or subject>         lift a ban here and in Redis
 *
 * Answers are JSON (metrics aside); refusals are RFC 9457 problem+json
 * with type urn:apiward:problem:<reason>, the admin.* reasons below or
 * the http.* reasons of the HTTP parser:
 *   admin.unauthorized        401  no or wrong bearer token
 *   admin.not_found           404  no such endpoint
 *   admin.method_not_allowed  405  the endpoint takes another method
 *   admin.bad_body            400  a body that is not the JSON expected
 *   admin.body_too_large      413  a body over ADMIN_MAX_BODY
 *   admin.timeout             408  the request did not arrive in time
 *   admin.reload_failed       500  the file did not compile (the old
 *                                  snapshot keeps serving)
 *   admin.ban_not_found       404  no live ban has that id or subject
 *   admin.fleet_unavailable   503  Redis could not be reached to lift a
 *                                  shared ban
 */
#ifndef APIWARD_ADMIN_H
#define APIWARD_ADMIN_H

#include <stddef.h>

#include "base/base.h"
#include "config/config.h"

/* Largest request head and body the admin listener reads. */
#define ADMIN_MAX_HEAD 8192
#define ADMIN_MAX_BODY 65536

/* Largest metrics text; a longer one is cut and logged. */
#define ADMIN_MAX_METRICS ((size_t)4 << 20)

/* What the admin API asks of the rest of the process. */
struct admin_hooks {
    /*
     * Load the configuration file again and publish it, as SIGHUP does.
     * Returns AW_OK, or an error when the file did not compile (the
     * problems are in the diagnostic log). Called on the admin thread.
     */
    int (*reload)(void);
};

/*
 * Start the admin listener of cfg (cfg->admin_listen; nothing to do and
 * AW_DECLINED when NULL): read the token file, which must be a regular
 * file readable by its owner only, holding 16 to 4096 bytes of token
 * (trailing whitespace ignored); bind; start the thread. hooks is
 * copied. Returns AW_OK, AW_DECLINED, AW_INVALID (the token file: the
 * reason is logged) or AW_IO (errno set; logged).
 */
int admin_start(const struct config *cfg, const struct admin_hooks *hooks);

/* Stop the thread and close the listener; harmless when not started. */
void admin_stop(void);

/*
 * Tell the service manager about a state change ("READY=1",
 * "RELOADING=1", "STOPPING=1", "STATUS=..."): one datagram to the
 * socket named by $NOTIFY_SOCKET, as sd_notify(3) sends, without
 * libsystemd. "RELOADING=1" gets the MONOTONIC_USEC= line systemd's
 * Type=notify-reload asks for. Returns AW_OK, AW_DECLINED when the
 * variable is unset, AW_INVALID for a socket name that is not a path
 * or an abstract name, or AW_IO.
 */
int admin_notify(const char *state);

/*
 * The key store finished a fetch (any thread, the fetch thread in
 * practice): emit a security event for each key set of the current
 * snapshot whose failure count grew since the last call.
 */
void admin_keys_changed(void);

/* Emit the security event of a reload, outcome "success" or "failure". */
void admin_reload_event(bool ok);

#endif
