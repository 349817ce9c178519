/*
 * GCRA and the quota calendar: the arithmetic of a limit, with no
 * state of its own.
 *
 * GCRA keeps one number per key, the theoretical arrival time (TAT):
 * when the next request would be due if requests came exactly at the
 * rate. A request at time t is admitted when max(TAT, t) + T lies no
 * more than burst * T after t, and then moves TAT there. Time runs in
 * nanoseconds, and T is rounded up, so that a limit never admits more
 * than it says: at 3/s, T is 333,333,334 ns.
 */
#include <time.h>

#include "ratelimit/ratelimit_int.h"

#define SPAN_MAX ((uint64_t)1 << 62)
#define DAY_S 86400

int
ratelimit_rule_rate(struct ratelimit_rule *r, uint64_t count,
                    uint64_t period_s, uint64_t burst)
{
    uint64_t t;

    if (count == 0 || period_s == 0 || burst == 0 ||
        period_s > SPAN_MAX / RATELIMIT_NS_PER_S)
        return AW_INVALID;
    t = (period_s * RATELIMIT_NS_PER_S + count - 1) / count;
    if (t > SPAN_MAX / burst)
        return AW_INVALID;
    *r = (struct ratelimit_rule){.count = count, .period_s = period_s,
                                 .interval_ns = t, .burst = burst};
    return AW_OK;
}

void
ratelimit_gcra(const struct ratelimit_rule *r, uint64_t *tat,
               uint64_t now_ns, bool take, struct ratelimit_verdict *v)
{
    uint64_t span = r->interval_ns * r->burst;
    uint64_t base = *tat > now_ns ? *tat : now_ns;
    uint64_t next = base + r->interval_ns;
    uint64_t ahead = next - now_ns;

    v->limit = r->burst;
    if (ahead > span) {
        v->allowed = false;
        v->remaining = 0;
        v->reset_ns = base - now_ns;
        v->retry_ns = ahead - span;
        return;
    }
    v->allowed = true;
    v->remaining = (span - ahead) / r->interval_ns;
    v->reset_ns = ahead;
    v->retry_ns = 0;
    if (take)
        *tat = next;
}

/* Days from 1970-01-01 to the first day of (year, month 1..12). */
static int64_t
days_from_civil(int64_t y, unsigned m)
{
    /* Count years from March, so that February's length comes last. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/* Floor division of a possibly negative number of seconds by days. */
static int64_t
floor_days(int64_t s)
{
    return s >= 0 ? s / DAY_S : -((-s + DAY_S - 1) / DAY_S);
}

void
ratelimit_calendar(const struct ratelimit_rule *r, int64_t wall_s,
                   uint64_t *index, uint64_t *left_s)
{
    int64_t local = wall_s + r->tz_offset_s;
    int64_t day = floor_days(local);
    int64_t end_local;

    if (r->calendar == RATELIMIT_DAY) {
        *index = (uint64_t)day;
        end_local = (day + 1) * DAY_S;
    } else {
        time_t t = (time_t)(day * DAY_S);
        struct tm tm;

        gmtime_r(&t, &tm);
        int64_t y = (int64_t)tm.tm_year + 1900;
        unsigned m = (unsigned)tm.tm_mon + 1;

        *index = (uint64_t)(y * 12 + m - 1);
        end_local = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1) *
                    DAY_S;
    }
    *left_s = (uint64_t)(end_local - local);
}
