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

/* Shared by every JSON line the gateway writes. */
int
json_escape_append(struct buf *dst, struct slice s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = MIN(s.len, max);
    size_t end = dst->end;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        size_t len = 6;
        const char *p = esc;

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            len = 1;
            p = (const char *)&s.ptr[i];
        } else if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            len = 2;
        }
        if (buf_room(dst) < len) {
            dst->end = end;
            return AW_TOOBIG;
        }
        memcpy(dst->data + dst->end, p, len);
        dst->end += len;
    }
    return AW_OK;
}
