/*
 * Clocks and the parsing of durations and sizes written in the config.
 */
#include <string.h>
#include <time.h>

#include "base.h"

uint64_t
clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
clock_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
clock_utc_text(char *dst)
{
    static _Thread_local time_t cached_sec = -1;
    static _Thread_local char cached[32];
    struct timespec ts;
    unsigned ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != cached_sec) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = ts.tv_sec;
    }
    ms = (unsigned)(ts.tv_nsec / 1000000) % 1000;
    memcpy(dst, cached, 19);
    dst[19] = '.';
    dst[20] = (char)('0' + ms / 100);
    dst[21] = (char)('0' + ms / 10 % 10);
    dst[22] = (char)('0' + ms % 10);
    dst[23] = 'Z';
    dst[24] = '\0';
}

/* Split s into its leading digits and the unit that follows. */
static int
split_number(struct slice s, uint64_t *num, struct slice *unit)
{
    size_t i = 0;

    while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9')
        i++;
    if (i == 0)
        return AW_INVALID;
    *unit = (struct slice){s.ptr + i, s.len - i};
    return slice_to_u64((struct slice){s.ptr, i}, UINT64_MAX / 4096, num);
}

int
duration_parse_ms(struct slice s, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t factor;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60000},
                 {"h", 3600000}, {"d", 86400000}};
    struct slice unit;
    uint64_t n;
    int rc = split_number(s, &n, &unit);

    if (rc != AW_OK)
        return AW_INVALID;
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (slice_is(unit, units[i].unit)) {
            if (n > UINT64_MAX / units[i].factor)
                return AW_INVALID;
            *ms = n * units[i].factor;
            return AW_OK;
        }
    }
    return AW_INVALID;
}

int
size_parse(struct slice s, uint64_t *bytes)
{
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0}, {"b", 0}, {"k", 10}, {"kb", 10}, {"kib", 10},
                 {"m", 20}, {"mb", 20}, {"mib", 20}, {"g", 30},
                 {"gb", 30}, {"gib", 30}};
    struct slice unit;
    uint64_t n;
    int rc = split_number(s, &n, &unit);

    if (rc != AW_OK)
        return AW_INVALID;
    for (size_t i = 0; i < ARRAY_LEN(units); i++) {
        if (slice_is(unit, units[i].unit)) {
            if (n > (UINT64_C(1) << 40) >> units[i].shift)
                return AW_TOOBIG;
            *bytes = n << units[i].shift;
            return AW_OK;
        }
    }
    return AW_INVALID;
}
