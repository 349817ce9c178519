/*
 * Query strings as forms write them. Every reader of a query parameter
 * (API keys, policy rules, the query sent upstream) splits with the same
 * function, so that none of them can see another parameter than the
 * others.
 */
#include <string.h>

#include "http/http.h"

bool
http_query_next(struct slice q, size_t *pos, struct slice *name,
                struct slice *value)
{
    size_t i = *pos, end;
    const char *amp, *eq;

    /* Parameters start at 0 and after each '&'; past the last one,
       *pos is the length plus one. */
    if (q.ptr == NULL || q.len == 0 || i > q.len)
        return false;
    amp = memchr(q.ptr + i, '&', q.len - i);
    end = amp != NULL ? (size_t)(amp - q.ptr) : q.len;
    eq = memchr(q.ptr + i, '=', end - i);
    if (eq != NULL) {
        *name = (struct slice){q.ptr + i, (size_t)(eq - q.ptr) - i};
        *value = (struct slice){eq + 1, end - (size_t)(eq - q.ptr) - 1};
    } else {
        *name = (struct slice){q.ptr + i, end - i};
        *value = (struct slice){q.ptr + end, 0};
    }
    *pos = end + 1;
    return true;
}

bool
http_cookie_next(struct slice v, size_t *pos, struct slice *name,
                 struct slice *value)
{
    while (v.ptr != NULL && *pos < v.len) {
        const char *semi = memchr(v.ptr + *pos, ';', v.len - *pos);
        size_t end = semi != NULL ? (size_t)(semi - v.ptr) : v.len;
        struct slice pair = {v.ptr + *pos, end - *pos};
        const char *eq = memchr(pair.ptr, '=', pair.len);

        *pos = end + 1;
        if (eq == NULL)
            continue;
        *name = slice_trim_blanks(
            (struct slice){pair.ptr, (size_t)(eq - pair.ptr)});
        *value = slice_trim_blanks(
            (struct slice){eq + 1, pair.len - (size_t)(eq - pair.ptr) - 1});
        return true;
    }
    return false;
}

int
http_form_decode(struct arena *a, struct slice s, struct slice *out)
{
    char *d = arena_alloc(a, s.len + 1);
    size_t n = 0;

    if (d == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < s.len; i++) {
        int hi, lo;

        if (s.ptr[i] != '%') {
            d[n++] = s.ptr[i] == '+' ? ' ' : s.ptr[i];
            continue;
        }
        if (s.len - i < 3)
            return AW_INVALID;
        hi = hex_digit_value((unsigned char)s.ptr[i + 1]);
        lo = hex_digit_value((unsigned char)s.ptr[i + 2]);
        if (hi < 0 || lo < 0)
            return AW_INVALID;
        d[n++] = (char)(hi << 4 | lo);
        i += 2;
    }
    d[n] = '\0';
    *out = (struct slice){d, n};
    return AW_OK;
}
