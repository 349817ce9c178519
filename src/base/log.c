/*
 * Diagnostic log: one line per message on stderr, written with a single
 * write so that lines from different workers never interleave.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base.h"

static enum log_level log_level = LOG_INFO;
static _Thread_local int log_worker = -1;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void
log_set_level(enum log_level level)
{
    log_level = level;
}

void
log_set_worker(int worker)
{
    log_worker = worker;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;
    va_list ap;

    if (level > log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    if (log_worker >= 0)
        w = snprintf(line + n, sizeof(line) - n, ".%03ldZ [%s] w%d: ",
                     ts.tv_nsec / 1000000, level_names[level], log_worker);
    else
        w = snprintf(line + n, sizeof(line) - n, ".%03ldZ [%s] main: ",
                     ts.tv_nsec / 1000000, level_names[level]);
    n += (size_t)w;
    va_start(ap, fmt);
    w = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    n = MIN(n + (size_t)w, sizeof(line) - 2);
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0)
        return;
}

char *
log_escape(char *dst, size_t cap, struct slice s)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (cap < 8) {
        if (cap > 0)
            dst[0] = '\0';
        return dst;
    }
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        size_t need = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? 4 : 1;

        if (o + need + 4 > cap) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 1) {
            dst[o++] = (char)c;
            continue;
        }
        dst[o++] = '\\';
        dst[o++] = 'x';
        dst[o++] = hex[c >> 4];
        dst[o++] = hex[c & 15];
    }
    dst[o] = '\0';
    return dst;
}
