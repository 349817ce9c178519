/*
 * Abuse defence in the pipeline: the guard stage's checks of the client
 * address, the limit stage after authorize, and the observation of every
 * request as it ends.
 *
 * No rate limit, quota or ban exists yet: every request goes on, and
 * nothing is counted.
 */
#include "proxy_int.h"

int
proxy_guard(struct conn *c, struct request *r)
{
    (void)c;
    (void)r;
    return AW_OK;
}

int
proxy_limit(struct conn *c, struct request *r)
{
    (void)c;
    (void)r;
    return AW_OK;
}

void
proxy_observe(struct conn *c, struct request *r)
{
    (void)c;
    (void)r;
}
