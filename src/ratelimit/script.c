/*
 * The fleet's decision script and the two ends of a call to it: the
 * command built from a request's limits and bans, and the answer read
 * back. Nothing here does I/O, so that tests can check both ends.
 *
 * The script runs atomically inside Redis:
 *   1. now = the server's TIME, in microseconds;
 *   2. any ban key still alive refuses, with its time left;
 *   3. every limit is checked, none counted yet; the first to refuse
 *      refuses, with the time until it would admit;
 *   4. all admit: each limit is counted, and its key expires when its
 *      state would be back to full (a rate) or the period ends (a quota).
 * A rate stores its theoretical arrival time (GCRA, as gcra.c), in
 * microseconds so that it stays an exact integer in Lua's doubles.
 */
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ratelimit/ratelimit_int.h"

const char fleet_script[] =
    "redis.replicate_commands()\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local nb = tonumber(ARGV[1])\n"
    "for i = 1, nb do\n"
    "  local left = redis.call('PTTL', KEYS[i])\n"
    "  if left > 0 then return {2, i, left * 1000} end\n"
    "end\n"
    "local put = {}\n"
    "for i = nb + 1, #KEYS do\n"
    "  local j = 2 + (i - nb - 1) * 3\n"
    "  local a, b = tonumber(ARGV[j + 1]), tonumber(ARGV[j + 2])\n"
    "  local v = tonumber(redis.call('GET', KEYS[i]) or '0')\n"
    "  if ARGV[j] == 'r' then\n"
    "    local base = math.max(v, now)\n"
    "    local ahead = base + a - now\n"
    "    if ahead > a * b then return {0, i, ahead - a * b} end\n"
    "    put[i] = {base + a, math.floor(ahead / 1000) + 1}\n"
    "  else\n"
    "    if v >= a then\n"
    "      return {0, i, math.max(redis.call('PTTL', KEYS[i]), 1) * 1000}\n"
    "    end\n"
    "    put[i] = {v + 1, b}\n"
    "  end\n"
    "end\n"
    "for i, p in pairs(put) do\n"
    "  redis.call('SET', KEYS[i], string.format('%d', p[1]), 'PX', p[2])\n"
    "end\n"
    "return {1, 0, 0}\n";

/* Append one argument, formatted, to cmd; false when out of room. */
static bool
cmd_arg(struct fleet_cmd *cmd, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
cmd_arg(struct fleet_cmd *cmd, size_t *used, const char *fmt, ...)
{
    size_t room = sizeof(cmd->buf) - *used;
    va_list ap;
    int len;

    if (cmd->argc >= FLEET_ARGV_MAX)
        return false;
    va_start(ap, fmt);
    len = vsnprintf(cmd->buf + *used, room, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= room)
        return false;
    cmd->argv[cmd->argc] = cmd->buf + *used;
    cmd->argvlen[cmd->argc++] = (size_t)len;
    *used += (size_t)len + 1;
    return true;
}

/* The Redis key of one item: prefix, kind, fleet key, quota period. */
static bool
cmd_key(struct fleet_cmd *cmd, size_t *used, const char *prefix,
        const struct ratelimit_fleet_item *it)
{
    if (it->rule == NULL)
        return cmd_arg(cmd, used, "%sban:%s", prefix, it->key);
    if (!it->rule->quota)
        return cmd_arg(cmd, used, "%srate:%s", prefix, it->key);
    return cmd_arg(cmd, used, "%squota:%s:%llu", prefix, it->key,
                   (unsigned long long)it->quota_index);
}

/*
 * The three values of a limit: 'r', the emission interval in
 * microseconds (rounded up, as a limit never admits more than it says)
 * and the burst; or 'q', the count and the milliseconds to the
 * period's end.
 */
static bool
cmd_limit(struct fleet_cmd *cmd, size_t *used,
          const struct ratelimit_fleet_item *it)
{
    const struct ratelimit_rule *r = it->rule;

    if (!r->quota)
        return cmd_arg(cmd, used, "r") &&
               cmd_arg(cmd, used, "%llu",
                       (unsigned long long)((r->interval_ns + 999) / 1000)) &&
               cmd_arg(cmd, used, "%llu", (unsigned long long)r->burst);
    return cmd_arg(cmd, used, "q") &&
           cmd_arg(cmd, used, "%llu", (unsigned long long)r->count) &&
           cmd_arg(cmd, used, "%llu",
                   (unsigned long long)MAX(it->quota_left_s, 1) * 1000);
}

int
fleet_cmd_build(struct fleet_cmd *cmd, const char *sha, const char *prefix,
                const struct ratelimit_fleet_item *items, size_t n,
                uint8_t *map)
{
    size_t used = 0, k = 0;
    bool ok;

    if (n == 0 || n > RATELIMIT_FLEET_MAX_ITEMS || strlen(prefix) > 64)
        return AW_INVALID;
    cmd->argc = 0;
    cmd->nbans = 0;
    for (size_t i = 0; i < n; i++)
        cmd->nbans += items[i].rule == NULL;
    ok = cmd_arg(cmd, &used, "EVALSHA") && cmd_arg(cmd, &used, "%s", sha) &&
         cmd_arg(cmd, &used, "%zu", n);
    /* Bans first, then limits, each in the order given. */
    for (int pass = 0; pass < 2 && ok; pass++) {
        for (size_t i = 0; i < n && ok; i++) {
            if ((items[i].rule == NULL) != (pass == 0))
                continue;
            map[k++] = (uint8_t)i;
            ok = cmd_key(cmd, &used, prefix, &items[i]);
        }
    }
    ok = ok && cmd_arg(cmd, &used, "%zu", cmd->nbans);
    for (size_t k2 = cmd->nbans; k2 < n && ok; k2++)
        ok = cmd_limit(cmd, &used, &items[map[k2]]);
    return ok ? AW_OK : AW_INVALID;
}

int
fleet_reply_read(const struct redisReply *reply, const uint8_t *map, size_t n,
                 struct ratelimit_fleet_answer *a)
{
    long long st, key, us;

    *a = (struct ratelimit_fleet_answer){.rc = AW_IO};
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements != 3)
        return AW_INVALID;
    for (size_t i = 0; i < 3; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return AW_INVALID;
    }
    st = reply->element[0]->integer;
    key = reply->element[1]->integer;
    us = reply->element[2]->integer;
    if (st == 1) {
        *a = (struct ratelimit_fleet_answer){.rc = AW_OK, .allowed = true};
        return AW_OK;
    }
    if ((st != 0 && st != 2) || key < 1 || (size_t)key > n || us < 0)
        return AW_INVALID;
    *a = (struct ratelimit_fleet_answer){
        .rc = AW_OK, .banned = st == 2, .index = map[key - 1],
        .retry_ns = (uint64_t)us * 1000};
    return AW_OK;
}

/*
 * SHA-256 over kind and each part, every one preceded by its length
 * (8 bytes, little-endian) so that part boundaries cannot be moved.
 * When the digest cannot be had (no memory for OpenSSL's context), the
 * key is all zeros: such requests share one state, which errs towards
 * refusing.
 */
void
ratelimit_fleet_key(const char *kind, const struct slice *parts, size_t n,
                    char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE] = {0};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct slice all[RATELIMIT_MAX_PARTS + 1];
    size_t m = 0;

    all[m++] = (struct slice){kind, strlen(kind)};
    for (size_t i = 0; i < n && i < RATELIMIT_MAX_PARTS; i++)
        all[m++] = parts[i];
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        for (size_t i = 0; i < m; i++) {
            unsigned char len[8];

            for (size_t b = 0; b < 8; b++)
                len[b] = (unsigned char)((uint64_t)all[i].len >> (8 * b));
            EVP_DigestUpdate(ctx, len, sizeof(len));
            EVP_DigestUpdate(ctx, all[i].ptr, all[i].len);
        }
        if (EVP_DigestFinal_ex(ctx, md, NULL) != 1)
            memset(md, 0, sizeof(md));
    }
    EVP_MD_CTX_free(ctx);
    for (size_t i = 0; i < RATELIMIT_FLEET_KEY_HEX / 2; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[RATELIMIT_FLEET_KEY_HEX] = '\0';
}
