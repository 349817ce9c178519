/*
 * libFuzzer driver for the query string readers: http_query_next and
 * http_form_decode; and for http_cookie_next, reading the same bytes as
 * a Cookie field value.
 *
 * The parameters given must tile the query exactly (each one, then one
 * '&', in order), their names hold no '&' or '=' and their values no
 * '&'; decoding a name or value must succeed exactly when every '%' is
 * followed by two hex digits, and then give the bytes a simple reference
 * decoder gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/* Reference decoder: returns the length, or -1 for a bad escape. */
static long
ref_decode(struct slice s, char *out)
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++) {
        const char *hi, *lo;

        if (s.ptr[i] != '%') {
            out[n++] = s.ptr[i] == '+' ? ' ' : s.ptr[i];
            continue;
        }
        if (s.len - i < 3)
            return -1;
        hi = s.ptr[i + 1] != 0 ? memchr(digits, s.ptr[i + 1], 32) : NULL;
        lo = s.ptr[i + 2] != 0 ? memchr(digits, s.ptr[i + 2], 32) : NULL;
        if (hi == NULL || lo == NULL)
            return -1;
        out[n++] = (char)((((hi - digits) & 15) << 4) | ((lo - digits) & 15));
        i += 2;
    }
    return (long)n;
}

static void
check_decode(struct arena *a, struct slice s, char *ref)
{
    struct slice out;
    long want = ref_decode(s, ref);
    int rc = http_form_decode(a, s, &out);

    if (want < 0) {
        check(rc == AW_INVALID);
        return;
    }
    check(rc == AW_OK);
    check(out.len == (size_t)want && memcmp(out.ptr, ref, out.len) == 0);
    check(out.ptr[out.len] == '\0');
}

/*
 * The cookies must come in order, each inside the value, with a name
 * free of ';' and '=' and a value free of ';', neither starting or
 * ending with a blank; as many as the pairs that hold a '='.
 */
static void
check_cookies(struct slice v)
{
    struct slice name, value;
    size_t pos = 0, count = 0, pairs = 0, last = 0;
    bool eq = false;

    while (http_cookie_next(v, &pos, &name, &value)) {
        check(name.ptr >= v.ptr + last && value.ptr >= name.ptr + name.len);
        check(value.ptr + value.len <= v.ptr + v.len);
        check(memchr(name.ptr, ';', name.len) == NULL);
        check(memchr(name.ptr, '=', name.len) == NULL);
        check(memchr(value.ptr, ';', value.len) == NULL);
        check(name.len == 0 || (name.ptr[0] != ' ' &&
                                name.ptr[name.len - 1] != ' '));
        check(value.len == 0 || (value.ptr[0] != ' ' &&
                                 value.ptr[value.len - 1] != ' '));
        last = (size_t)(value.ptr + value.len - v.ptr);
        count++;
    }
    for (size_t i = 0; i <= v.len; i++) {
        if (i == v.len || v.ptr[i] == ';') {
            pairs += eq;
            eq = false;
        } else if (v.ptr[i] == '=') {
            eq = true;
        }
    }
    check(count == pairs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice q = {(const char *)data, size}, name, value;
    struct arena a;
    size_t pos = 0, at = 0, count = 0;
    char *ref = malloc(size + 1);

    if (ref == NULL)
        return 0;
    check_cookies(q);
    arena_init(&a, 4096, (size_t)1 << 24);
    while (http_query_next(q, &pos, &name, &value)) {
        check(name.ptr == q.ptr + at);
        check(memchr(name.ptr, '&', name.len) == NULL);
        check(memchr(name.ptr, '=', name.len) == NULL);
        check(memchr(value.ptr, '&', value.len) == NULL);
        at += name.len;
        if (value.ptr != name.ptr + name.len) {
            check(value.ptr == name.ptr + name.len + 1 && q.ptr[at] == '=');
            at += 1 + value.len;
        } else {
            check(value.len == 0 && (at == size || q.ptr[at] == '&'));
        }
        check(at == size || q.ptr[at] == '&');
        at++;
        check(pos == at);
        check_decode(&a, name, ref);
        check_decode(&a, value, ref);
        count++;
        arena_reset(&a);
    }
    /* Every byte was covered, and there was one parameter per '&', plus
       one, in a query that is not empty. */
    check(size == 0 ? count == 0 : at == size + 1);
    if (size > 0) {
        size_t amps = 0;

        for (size_t i = 0; i < size; i++)
            amps += data[i] == '&';
        check(count == amps + 1);
    }
    arena_fini(&a);
    free(ref);
    return 0;
}
