/*
 * libFuzzer driver for http_normalize_path.
 *
 * The first input byte chooses the options, the rest is the path. Each
 * result is checked three ways: against a slow reference written in a
 * different shape (split into segments first, decode each, then apply
 * the dot-segment rules on a stack of segments); against invariants that
 * must hold for any accepted path (no dot segment, no encoded slash when
 * those are refused, escapes in canonical form); and for idempotence:
 * normalising the output again must return it unchanged and uncopied.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define FUZZ_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reference result: the output, or the fact that it was refused. */
struct ref {
    bool ok;
    char out[FUZZ_MAX];
    size_t len;
};

static void
check(bool cond)
{
    if (!cond)
        abort();
}

static int
ref_hex(unsigned char c)
{
    const char *digits = "0123456789abcdef";
    const char *p;

    if (c >= 'A' && c <= 'F')
        c = (unsigned char)(c - 'A' + 'a');
    p = c != 0 ? strchr(digits, c) : NULL;
    return p != NULL ? (int)(p - digits) : -1;
}

static bool
ref_unreserved(unsigned char c)
{
    return (c != 0 && strchr("abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "0123456789-._~", c) != NULL);
}

/*
 * Validate UTF-8 by decoding whole code points and checking each against
 * the smallest value its length may encode, the surrogate range and the
 * Unicode maximum.
 */
static bool
ref_utf8(const unsigned char *s, size_t n)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t i = 0;

    while (i < n) {
        unsigned len = s[i] < 0x80 ? 1 : s[i] >= 0xF0 ? 4
                     : s[i] >= 0xE0 ? 3 : s[i] >= 0xC0 ? 2 : 0;
        uint32_t cp;

        if (len == 0 || s[i] >= 0xF8 || i + len > n)
            return false;
        cp = len == 1 ? s[i] : s[i] & (0x7F >> len);
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if (cp < min[len] || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/*
 * Canonical form of one segment, appended to seg; the decoded bytes are
 * appended to dec for the UTF-8 check. Returns false when refused.
 */
static bool
ref_segment(const char *s, size_t n, const struct http_norm_opts *o,
            char *seg, size_t *seglen, unsigned char *dec, size_t *declen)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < n ? ref_hex((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? ref_hex((unsigned char)s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return false;
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (((c == '/' || c == '\\') && o->reject_encoded_slash) ||
                (c == '.' && o->reject_encoded_dot) ||
                (c == 0 && o->reject_nul))
                return false;
            dec[(*declen)++] = c;
            if (ref_unreserved(c)) {
                seg[(*seglen)++] = (char)c;
            } else {
                seg[(*seglen)++] = '%';
                seg[(*seglen)++] = "0123456789ABCDEF"[hi];
                seg[(*seglen)++] = "0123456789ABCDEF"[lo];
            }
            continue;
        }
        if ((c == '\\' && o->reject_backslash) || (c == 0 && o->reject_nul))
            return false;
        dec[(*declen)++] = c;
        seg[(*seglen)++] = (char)c;
    }
    return true;
}

/* Segments kept so far: offsets into a scratch buffer. */
struct ref_stack {
    char text[FUZZ_MAX];
    size_t used;
    size_t start[FUZZ_MAX];
    size_t len[FUZZ_MAX];
    size_t n;
};

static void
ref_push(struct ref_stack *st, const char *s, size_t n)
{
    memcpy(st->text + st->used, s, n);
    st->start[st->n] = st->used;
    st->len[st->n++] = n;
    st->used += n;
}

/* Apply the rules for one canonical segment; false when refused. */
static bool
ref_apply(struct ref_stack *st, const char *seg, size_t n, bool last,
          const struct http_norm_opts *o)
{
    bool dot = n == 1 && seg[0] == '.';
    bool dotdot = n == 2 && seg[0] == '.' && seg[1] == '.';

    if ((dot || dotdot) && o->reject_dot_segments)
        return false;
    if (dotdot) {
        if (st->n == 0)
            return false;
        st->n--;
        st->used = st->start[st->n];
    }
    if (dot || dotdot) {
        if (last)
            ref_push(st, "", 0);
        return true;
    }
    if (n == 0 && !last) {
        if (o->slashes == HTTP_SLASHES_REJECT)
            return false;
        if (o->slashes == HTTP_SLASHES_MERGE)
            return true;
    }
    ref_push(st, seg, n);
    return true;
}

static void
ref_normalize(const char *p, size_t n, const struct http_norm_opts *o,
              struct ref *r)
{
    static struct ref_stack st;
    static unsigned char dec[FUZZ_MAX];
    static char seg[FUZZ_MAX * 3];
    size_t declen = 0, i = 1;

    r->ok = false;
    st.n = st.used = 0;
    if (n == 0 || p[0] != '/')
        return;
    for (;;) {
        const char *end = memchr(p + i, '/', n - i);
        size_t k = end != NULL ? (size_t)(end - p) : n;
        size_t seglen = 0;

        if (!ref_segment(p + i, k - i, o, seg, &seglen, dec, &declen) ||
            !ref_apply(&st, seg, seglen, end == NULL, o))
            return;
        if (end == NULL)
            break;
        dec[declen++] = '/';
        i = k + 1;
    }
    if (o->reject_invalid_utf8 && !ref_utf8(dec, declen))
        return;
    r->len = 0;
    for (size_t k = 0; k < st.n; k++) {
        r->out[r->len++] = '/';
        memcpy(r->out + r->len, st.text + st.start[k], st.len[k]);
        r->len += st.len[k];
    }
    if (st.n == 0)
        r->out[r->len++] = '/';
    r->ok = true;
}

static bool
contains(struct slice s, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= s.len; i++)
        if (memcmp(s.ptr + i, needle, k) == 0)
            return true;
    return false;
}

static bool
ends_with(struct slice s, const char *tail)
{
    size_t k = strlen(tail);

    return s.len >= k && memcmp(s.ptr + s.len - k, tail, k) == 0;
}

/* Properties every accepted output has, whatever the input was. */
static void
check_invariants(struct slice in, struct slice out,
                 const struct http_norm_opts *o)
{
    check(out.len >= 1 && out.len <= in.len && out.ptr[0] == '/');
    check(!contains(out, "/./") && !contains(out, "/../"));
    check(!ends_with(out, "/.") && !ends_with(out, "/.."));
    if (o->reject_encoded_slash)
        check(!contains(out, "%2F") && !contains(out, "%5C"));
    if (o->reject_backslash)
        check(memchr(out.ptr, '\\', out.len) == NULL);
    if (o->slashes != HTTP_SLASHES_KEEP)
        check(!contains(out, "//"));
    for (size_t i = 0; i < out.len; i++) {
        if (out.ptr[i] != '%')
            continue;
        check(i + 2 < out.len);
        check(strchr("0123456789ABCDEF", out.ptr[i + 1]) != NULL);
        check(strchr("0123456789ABCDEF", out.ptr[i + 2]) != NULL);
        check(!ref_unreserved((unsigned char)(
            ref_hex((unsigned char)out.ptr[i + 1]) * 16 +
            ref_hex((unsigned char)out.ptr[i + 2]))));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ref r;
    struct http_norm_opts o;
    struct http_error err = {0};
    struct slice in, out, again;
    struct arena a;
    int rc;

    if (size < 1 || size > FUZZ_MAX)
        return 0;
    o.slashes = (enum http_slashes)((data[0] >> 6) % 3);
    o.reject_encoded_slash = data[0] & 1;
    o.reject_encoded_dot = data[0] & 2;
    o.reject_backslash = data[0] & 4;
    o.reject_nul = data[0] & 8;
    o.reject_invalid_utf8 = data[0] & 16;
    o.reject_dot_segments = data[0] & 32;
    in = (struct slice){(const char *)data + 1, size - 1};

    arena_init(&a, 4096, 1 << 20);
    rc = http_normalize_path(in, &o, &a, &out, &err);
    ref_normalize(in.ptr, in.len, &o, &r);
    check(rc == AW_OK || rc == AW_INVALID);
    check((rc == AW_OK) == r.ok);
    if (rc == AW_INVALID) {
        check(err.status == 400 && err.detail != NULL);
        check(strncmp(err.reason, "http.path_", 10) == 0);
    } else {
        check(out.len == r.len && memcmp(out.ptr, r.out, r.len) == 0);
        check_invariants(in, out, &o);
        rc = http_normalize_path(out, &o, &a, &again, &err);
        check(rc == AW_OK && again.ptr == out.ptr && again.len == out.len);
    }
    arena_fini(&a);
    return 0;
}
