/*
 * The admin API's bans: list them, lift one.
 *
 * Bans live in the process-wide ban table (one for every worker) and,
 * in fleet mode, in Redis. The list shows this gateway's table with
 * what it knows of each ban (printable subject, detector, level) and,
 * in fleet mode, the bans in Redis by id, marked as known here or not:
 * Redis holds no client text, so a ban given by another gateway shows
 * its id and time left only. A lift removes the ban from the table and
 * deletes it from Redis; it is a security event and counted.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "admin_int.h"
#include "proxy/proxy.h"
#include "ratelimit/ratelimit.h"
#include "telemetry/telemetry.h"

#define BANS_LIMIT_DEFAULT 100
#define BANS_LIMIT_MAX 500
#define BANS_NAME_MAX 256      /* a decoded id or subject */
#define BANS_ENTRY_BYTES 700   /* one entry of the answer, escaped */

static atomic_uint_fast64_t lifts;

/* The list's tables: the admin thread is the only one that uses them. */
static struct ratelimit_ban_info local[BANS_LIMIT_MAX];
static struct ratelimit_fleet_ban fleet[BANS_LIMIT_MAX];

/* limit=N of the query into *limit; false for any other query. */
static bool
query_limit(struct slice q, size_t *limit)
{
    uint64_t v;

    *limit = BANS_LIMIT_DEFAULT;
    if (q.ptr == NULL)
        return true;
    if (q.len <= 6 || memcmp(q.ptr, "limit=", 6) != 0 ||
        slice_to_u64((struct slice){q.ptr + 6, q.len - 6}, BANS_LIMIT_MAX,
                     &v) != AW_OK ||
        v == 0)
        return false;
    *limit = (size_t)v;
    return true;
}

/* ,"expires":"<ISO 8601 UTC>" for a ban with left_ns to go. */
static void
json_expiry(struct jb *j, uint64_t left_ns)
{
    time_t at = (time_t)(clock_wall_ms() / 1000 +
                         (left_ns + RATELIMIT_NS_PER_S - 1) /
                             RATELIMIT_NS_PER_S);
    char when[32] = "";
    struct tm tm;

    if (gmtime_r(&at, &tm) != NULL)
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    jb_printf(j, ",\"seconds_left\":%llu,\"expires\":\"%s\"",
              (unsigned long long)((left_ns + RATELIMIT_NS_PER_S - 1) /
                                   RATELIMIT_NS_PER_S),
              when);
}

/* A JSON string of s, or null when it is empty or NULL. */
static void
json_str_or_null(struct jb *j, const char *s)
{
    if (s == NULL || s[0] == '\0')
        jb_printf(j, "null");
    else
        jb_str(j, s);
}

/* One ban of the table as a JSON object. */
static void
json_local(struct jb *j, const struct ratelimit_ban_info *b, bool first)
{
    jb_printf(j, first ? "{\"id\":" : ",{\"id\":");
    json_str_or_null(j, b->id);
    jb_printf(j, ",\"subject\":");
    json_str_or_null(j, b->subject);
    jb_printf(j, ",\"reason\":");
    json_str_or_null(j, b->reason);
    jb_printf(j, ",\"level\":%u,\"shared\":%s,\"source\":\"gateway\"",
              b->level, b->shared ? "true" : "false");
    json_expiry(j, b->left_ns);
    jb_printf(j, "}");
}

/* True when id names one of the n bans of the table copied. */
static bool
known_here(const char *id, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(local[i].id, id) == 0)
            return true;
    return false;
}

/*
 * ,"fleet":{...}: the bans in Redis that the n copied from the table do
 * not show, at most limit of them. Nothing outside fleet mode.
 */
static void
json_fleet(struct jb *j, size_t nlocal, size_t limit)
{
    size_t n = 0, shown = 0, unknown = 0;
    bool more = false;
    int rc = proxy_fleet_bans(fleet, BANS_LIMIT_MAX, &n, &more);

    if (rc == AW_DECLINED)
        return;
    jb_printf(j, ",\"fleet\":{\"reachable\":%s,\"bans\":[",
              rc == AW_OK ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        if (known_here(fleet[i].id, nlocal))
            continue;
        if (unknown++ >= limit)
            continue;
        jb_printf(j, shown++ == 0 ? "{\"id\":" : ",{\"id\":");
        jb_str(j, fleet[i].id);
        jb_printf(j, ",\"subject\":null,\"source\":\"fleet\"");
        json_expiry(j, fleet[i].left_ns);
        jb_printf(j, "}");
    }
    jb_printf(j, "],\"truncated\":%s}",
              more || unknown > shown ? "true" : "false");
}

void
admin_bans_list(struct admin_conn *ac, struct slice query)
{
    static char out[2 * BANS_LIMIT_MAX * BANS_ENTRY_BYTES + 1024];
    struct jb j = {{out, 0, 0, sizeof(out)}, false};
    size_t limit, total = 0, n;

    if (!query_limit(query, &limit)) {
        admin_problem(ac, 400, "admin.bad_request",
                      "GET /bans takes one query parameter, limit, 1 to "
                      "500.");
        return;
    }
    n = proxy_bans(local, limit, &total);
    jb_printf(&j, "{\"bans\":[");
    for (size_t i = 0; i < n; i++)
        json_local(&j, &local[i], i == 0);
    jb_printf(&j, "],\"total\":%zu,\"truncated\":%s", total,
              total > n ? "true" : "false");
    json_fleet(&j, n, limit);
    jb_printf(&j, "}");
    admin_reply_json(ac, 200, &j);
}

static int
hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/*
 * Percent-decode a path segment into out[BANS_NAME_MAX]. False for an
 * empty or too long name, a bad escape, a NUL or a '/'.
 */
static bool
name_decode(struct slice s, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++) {
        int ch = (unsigned char)s.ptr[i];

        if (ch == '%') {
            int hi = i + 2 < s.len ? hex_digit(s.ptr[i + 1]) : -1;
            int lo = hi >= 0 ? hex_digit(s.ptr[i + 2]) : -1;

            if (lo < 0)
                return false;
            ch = hi << 4 | lo;
            i += 2;
        }
        if (ch == '\0' || ch == '/' || n + 1 >= BANS_NAME_MAX)
            return false;
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return n > 0;
}

/* True for RATELIMIT_BAN_ID_HEX lowercase hex digits: a ban's id. */
static bool
is_ban_id(const char *s)
{
    size_t n = strlen(s);

    if (n != RATELIMIT_BAN_ID_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/*
 * The security event of a lift: the caller (its address; the admin
 * token is its identity) and the ban (its subject, or its id when the
 * subject is not known here; the detector that gave it as the rule).
 * Outcome "failure" when the shared ban could not be deleted.
 */
static void
lift_event(const struct admin_conn *ac, const struct ratelimit_ban_info *b,
           bool ok)
{
    struct security_event e = {0};

    e.action = "abuse.ban_lifted";
    e.reason = ok ? "admin.ban_lifted" : "admin.fleet_unavailable";
    e.category = "configuration";
    e.kind = "event";
    e.outcome = ok ? "success" : "failure";
    e.severity = 4;
    e.method = "DELETE";
    e.path = "/bans";
    e.client_ip = ac->peer;
    e.auth_method = "admin_token";
    e.rule_id = b->reason;
    e.object_id = b->subject[0] != '\0' ? b->subject : b->id;
    events_emit(0, &e);
}

/* The answer of a lift that went through, n bans of the table. */
static void
lifted(struct admin_conn *ac, const struct ratelimit_ban_info *b, size_t n,
       int frc)
{
    static char out[2048];
    struct jb j = {{out, 0, 0, sizeof(out)}, false};

    atomic_fetch_add_explicit(&lifts, 1, memory_order_relaxed);
    lift_event(ac, b, true);
    jb_printf(&j, "{\"lifted\":true,\"id\":");
    json_str_or_null(&j, b->id);
    jb_printf(&j, ",\"subject\":");
    json_str_or_null(&j, b->subject);
    jb_printf(&j, ",\"gateway\":%zu,\"fleet\":%s}", n,
              frc == AW_DONE ? "null" : frc == AW_OK ? "true" : "false");
    admin_reply_json(ac, 200, &j);
}

void
admin_bans_lift(struct admin_conn *ac, struct slice raw)
{
    struct ratelimit_ban_info b = {0};
    char name[BANS_NAME_MAX];
    size_t n;
    int frc = AW_DONE;

    if (!name_decode(raw, name)) {
        admin_problem(ac, 404, "admin.not_found",
                      "Expected /bans/ and a ban's id or subject, "
                      "percent-encoded, at most 255 bytes.");
        return;
    }
    n = proxy_unban(name, &b);
    if (n == 0 && is_ban_id(name))
        memcpy(b.id, name, sizeof(b.id));
    if (b.id[0] != '\0')
        frc = proxy_fleet_unban(b.id);
    if (frc == AW_IO || frc == AW_INVALID) {
        if (n > 0)
            lift_event(ac, &b, false);
        admin_problem(ac, 503, "admin.fleet_unavailable",
                      "Redis could not be reached to delete the shared "
                      "ban; it stays in force on every gateway. Try "
                      "again.");
        return;
    }
    if (n == 0 && frc != AW_OK) {
        admin_problem(ac, 404, "admin.ban_not_found",
                      "No live ban has this id or subject.");
        return;
    }
    lifted(ac, &b, n, frc);
}

int
admin_bans_metrics(struct buf *out)
{
    struct ratelimit_stats st;
    int rc;

    proxy_ratelimit_stats(&st);
    rc = metrics_family(out, "apiward_bans_total", "counter",
                        "Bans given by the abuse detectors");
    if (rc == AW_OK)
        rc = buf_printf(out, "apiward_bans_total %llu\n",
                        (unsigned long long)st.bans);
    if (rc == AW_OK)
        rc = metrics_family(out, "apiward_bans_lifted_total", "counter",
                            "Bans lifted through the admin API");
    if (rc == AW_OK)
        rc = buf_printf(out, "apiward_bans_lifted_total %llu\n",
                        (unsigned long long)atomic_load(&lifts));
    return rc;
}
