/*
 * proxy: listeners, client connections, upstream pools and the request
 * pipeline, run by worker threads.
 */
#ifndef APIWARD_PROXY_H
#define APIWARD_PROXY_H

#include "config/config.h"

/*
 * Serve cfg until SIGTERM or SIGINT, then drain in-flight requests up to
 * cfg->drain_timeout_ms and return. SIGHUP reloads from cfg->path (when
 * set); SIGUSR1 reopens the access log. Takes over the caller's
 * reference to cfg. Returns the process exit status: 0 after a clean
 * drain, 1 when the server could not start.
 */
int proxy_serve(struct config *cfg);

struct ratelimit_stats;

/*
 * The rate limit counters of the process (evictions, bans, and the
 * fleet's outages, local fallbacks and Redis decisions) into s; all
 * zero before the first request that needed the limit tables. Safe
 * from any thread.
 */
void proxy_ratelimit_stats(struct ratelimit_stats *s);

#endif
