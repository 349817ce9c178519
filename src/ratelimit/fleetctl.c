/*
 * The fleet's bans as an operator reaches them: a blocking connection
 * of its own for each call, made by the admin thread, never by a
 * worker (whose connection belongs to its loop). Each call connects,
 * sends AUTH when a password is set, runs a bounded number of commands
 * with the connect timeout as the limit of each, and closes.
 */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/ratelimit_int.h"

#define CTL_HOST_MAX 256

int
fleet_address(const char *a, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(a, ':');
    size_t hl;
    uint64_t p;

    if (a[0] == '/') {
        *port = 0;
        if (strlen(a) >= cap)
            return AW_INVALID;
        memcpy(host, a, strlen(a) + 1);
        return AW_OK;
    }
    if (colon == NULL ||
        slice_to_u64((struct slice){colon + 1, strlen(colon + 1)}, 65535,
                     &p) != AW_OK ||
        p == 0)
        return AW_INVALID;
    hl = (size_t)(colon - a);
    if (hl >= 2 && a[0] == '[' && a[hl - 1] == ']') {
        a++;
        hl -= 2;
    }
    if (hl == 0 || hl >= cap)
        return AW_INVALID;
    memcpy(host, a, hl);
    host[hl] = '\0';
    *port = (int)p;
    return AW_OK;
}

/* One command's reply; NULL (and the context dropped) on failure. */
static redisReply *
ctl_command(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/*
 * Connect to o->address and authenticate. AW_OK with *out set,
 * AW_INVALID for an address that does not parse, AW_IO otherwise.
 */
static int
ctl_connect(const struct ratelimit_fleet_opts *o, redisContext **out)
{
    struct timeval tv = {(time_t)(o->connect_timeout_ms / 1000),
                         (suseconds_t)(o->connect_timeout_ms % 1000) * 1000};
    char host[CTL_HOST_MAX];
    redisContext *c;
    redisReply *r;
    int port;

    if (fleet_address(o->address, host, sizeof(host), &port) != AW_OK)
        return AW_INVALID;
    c = port == 0 ? redisConnectUnixWithTimeout(host, tv)
                  : redisConnectWithTimeout(host, port, tv);
    if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK)
        goto fail;
    if (o->password != NULL) {
        r = ctl_command(c, "AUTH %s", o->password);
        if (r == NULL)
            goto fail;
        freeReplyObject(r);
    }
    *out = c;
    return AW_OK;
fail:
    if (c != NULL)
        redisFree(c);
    return AW_IO;
}

/*
 * The id of a ban key "<prefix>ban:<hex>" into id; false for any other
 * shape (a key someone else wrote under the prefix).
 */
static bool
ctl_ban_id(const redisReply *k, size_t plen, char *id)
{
    size_t n = RATELIMIT_FLEET_KEY_HEX;

    if (k->type != REDIS_REPLY_STRING || k->len != plen + 4 + n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k->str[plen + 4 + i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return false;
    }
    memcpy(id, k->str + plen + 4, n);
    id[n] = '\0';
    return true;
}

/* The time left of ban id; false when it is gone or has no expiry. */
static bool
ctl_ban_left(redisContext *c, const char *prefix, const char *id,
             uint64_t *left_ns)
{
    redisReply *r = ctl_command(c, "PTTL %sban:%s", prefix, id);
    bool ok = r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > 0;

    if (ok)
        *left_ns = (uint64_t)r->integer * 1000000;
    if (r != NULL)
        freeReplyObject(r);
    return ok;
}

/*
 * Take the keys of one SCAN reply into out (room for max, *n used).
 * Returns the next cursor ("0" at the end) into cursor, or false for a
 * reply of another shape.
 */
static bool
ctl_scan_page(redisContext *c, const struct ratelimit_fleet_opts *o,
              const redisReply *r, char *cursor, size_t cap,
              struct ratelimit_fleet_ban *out, size_t max, size_t *n)
{
    size_t plen = strlen(o->prefix);

    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len >= cap || r->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
    for (size_t i = 0; i < r->element[1]->elements && *n < max; i++) {
        struct ratelimit_fleet_ban *b = &out[*n];

        if (ctl_ban_id(r->element[1]->element[i], plen, b->id) &&
            ctl_ban_left(c, o->prefix, b->id, &b->left_ns))
            (*n)++;
    }
    return true;
}

int
ratelimit_fleet_bans(const struct ratelimit_fleet_opts *o,
                     struct ratelimit_fleet_ban *out, size_t max, size_t *n,
                     bool *more)
{
    char cursor[32] = "0";
    redisContext *c;
    int rc = ctl_connect(o, &c);

    *n = 0;
    *more = false;
    if (rc != AW_OK)
        return rc;
    for (unsigned calls = 0; calls < RATELIMIT_FLEET_SCAN_CALLS; calls++) {
        redisReply *r = ctl_command(c, "SCAN %s MATCH %sban:* COUNT 256",
                                    cursor, o->prefix);
        bool ok = r != NULL && ctl_scan_page(c, o, r, cursor, sizeof(cursor),
                                             out, max, n);

        if (r != NULL)
            freeReplyObject(r);
        if (!ok) {
            rc = AW_IO;
            break;
        }
        if (strcmp(cursor, "0") == 0)
            break;
        /* Stopped by a bound before the scan's end: say so. */
        *more = *n == max || calls + 1 == RATELIMIT_FLEET_SCAN_CALLS;
        if (*n == max)
            break;
    }
    redisFree(c);
    return rc;
}

int
ratelimit_fleet_unban(const struct ratelimit_fleet_opts *o, const char *id)
{
    redisContext *c;
    redisReply *r;
    int rc = ctl_connect(o, &c);

    if (rc != AW_OK)
        return rc;
    r = ctl_command(c, "DEL %sban:%s", o->prefix, id);
    if (r == NULL || r->type != REDIS_REPLY_INTEGER)
        rc = AW_IO;
    else
        rc = r->integer > 0 ? AW_OK : AW_DECLINED;
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}
