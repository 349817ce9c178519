/*
 * The access log: one sink, one JSON line per request.
 */
#include <string.h>

#include "telemetry_int.h"

static struct sink alog = SINK_INIT("access log");

bool
accesslog_enabled(void)
{
    return sink_enabled(&alog);
}

uint64_t
accesslog_dropped(void)
{
    return atomic_load(&alog.dropped);
}

void
accesslog_write(unsigned w, const char *line, size_t len)
{
    sink_write(&alog, w, line, len);
}

int
accesslog_start(const char *dest, size_t ring_bytes, unsigned nworkers)
{
    return sink_open(&alog, dest, ring_bytes, nworkers);
}

void
accesslog_reopen(void)
{
    sink_reopen(&alog);
}

void
accesslog_stop(void)
{
    sink_close(&alog);
}

/* Bytes a JSON string carries as they are: printable ASCII but the
   quote and the backslash. */
static const unsigned char json_plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20: '"' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x30 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50: '\\' */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70: DEL */
    /* 0x80-0xff: 0 */
};

static inline bool
json_plain(unsigned char c)
{
    return json_plain_byte[c] != 0;
}

/* Are the 8 bytes at p all plain? */
static inline bool
json_plain8(const unsigned char *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return (word_below(w, 0x20) | word_eq(w, '"') | word_eq(w, '\\') |
            word_eq(w, 0x7f) | (w & WORD_HIGHS)) == 0;
}

/*
 * Shared by every JSON line the gateway writes. Runs of plain bytes are
 * copied whole; other bytes become \" \\ or \u00XX (bytes past 0x7e
 * too: a line stays ASCII whatever the request held).
 */
int
json_escape_append(struct buf *dst, struct slice s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = MIN(s.len, max);
    size_t end = dst->end;
    size_t i = 0;

    while (i < n) {
        const unsigned char *p = (const unsigned char *)s.ptr + i;
        size_t run = 0;

        while (n - i - run >= 8 && json_plain8(p + run))
            run += 8;
        while (i + run < n && json_plain(p[run]))
            run++;
        if (run > 0) {
            if (buf_room(dst) < run)
                goto full;
            memcpy(dst->data + dst->end, p, run);
            dst->end += run;
            i += run;
            continue;
        }
        if (buf_room(dst) < (p[0] == '"' || p[0] == '\\' ? 2u : 6u))
            goto full;
        if (p[0] == '"' || p[0] == '\\') {
            dst->data[dst->end++] = '\\';
            dst->data[dst->end++] = (char)p[0];
        } else {
            memcpy(dst->data + dst->end, "\\u00", 4);
            dst->data[dst->end + 4] = hex[p[0] >> 4];
            dst->data[dst->end + 5] = hex[p[0] & 15];
            dst->end += 6;
        }
        i++;
    }
    return AW_OK;
full:
    dst->end = end;
    return AW_TOOBIG;
}
