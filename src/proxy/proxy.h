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

struct ratelimit_ban_info;
struct ratelimit_fleet_ban;

/*
 * The bans of the process-wide table (shared by every worker): up to
 * max into out, *total the number live (0 before the table exists).
 * Returns the number copied. Safe from any thread.
 */
size_t proxy_bans(struct ratelimit_ban_info *out, size_t max,
                  size_t *total);

/*
 * Lift every ban of the table whose id or printable subject is name;
 * returns how many, *first the first of them. Safe from any thread.
 */
size_t proxy_unban(const char *name, struct ratelimit_ban_info *first);

/*
 * The bans in Redis, for the configuration serving, through a blocking
 * connection of the caller's (the admin thread: never a worker). As
 * ratelimit_fleet_bans, or AW_DECLINED when there is no redis section.
 */
int proxy_fleet_bans(struct ratelimit_fleet_ban *out, size_t max,
                     size_t *n, bool *more);

/*
 * Delete the ban of fleet key id from Redis, blocking as above. AW_OK
 * (deleted), AW_DECLINED (none there), AW_DONE (no redis section),
 * AW_INVALID or AW_IO.
 */
int proxy_fleet_unban(const char *id);

#endif
