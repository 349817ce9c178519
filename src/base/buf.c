/*
 * Fixed-capacity buffers and slice helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"

bool
slice_eq(struct slice a, struct slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline unsigned char
ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool
slice_eq_nocase(struct slice a, struct slice b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        if (ascii_lower((unsigned char)a.ptr[i]) !=
            ascii_lower((unsigned char)b.ptr[i]))
            return false;
    }
    return true;
}

struct slice
slice_trim_blanks(struct slice s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

int
hex_digit_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
slice_to_u64(struct slice s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (s.len == 0)
        return AW_INVALID;
    for (size_t i = 0; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';

        if (d > 9)
            return AW_INVALID;
        if (v > (max - d) / 10)
            return AW_TOOBIG;
        v = v * 10 + d;
    }
    *out = v;
    return AW_OK;
}

void
slice_copy_cstr(char *dst, size_t cap, struct slice s)
{
    size_t n;

    if (cap == 0)
        return;
    n = MIN(s.len, cap - 1);
    if (n > 0)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

int
buf_init(struct buf *b, size_t cap)
{
    b->data = malloc(cap);
    b->start = 0;
    b->end = 0;
    b->cap = b->data == NULL ? 0 : cap;
    return b->data == NULL ? AW_NOMEM : AW_OK;
}

void
buf_fini(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->start = b->end = b->cap = 0;
}

void
buf_compact(struct buf *b)
{
    size_t n = buf_len(b);

    if (b->start == 0)
        return;
    if (n > 0)
        memmove(b->data, b->data + b->start, n);
    b->start = 0;
    b->end = n;
}

int
buf_append_slow(struct buf *b, const void *src, size_t n)
{
    if (buf_room(b) < n)
        buf_compact(b);
    if (buf_room(b) < n)
        return AW_TOOBIG;
    memcpy(b->data + b->end, src, n);
    b->end += n;
    return AW_OK;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(b->data + b->end, buf_room(b), fmt, ap);
    va_end(ap);
    if (n < 0)
        return AW_ERROR;
    if ((size_t)n >= buf_room(b)) {
        buf_compact(b);
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->end, buf_room(b), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= buf_room(b))
            return AW_TOOBIG;
    }
    b->end += (size_t)n;
    return AW_OK;
}

size_t
fmt_u64(char *dst, uint64_t v)
{
    char tmp[FMT_U64_MAX];
    size_t n = 0;

    do {
        tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    memcpy(dst, tmp + sizeof(tmp) - n, n);
    return n;
}

void
fmt_hex64(char *dst, uint64_t v)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 14; i >= 0; i -= 2) {
        unsigned byte = (unsigned)(v & 0xff);

        dst[i] = hex[byte >> 4];
        dst[i + 1] = hex[byte & 15];
        v >>= 8;
    }
}
