/*
 * Normalisation of request paths (RFC 3986 sections 2.3, 5.2.4 and
 * 6.2.2), done once per request so that routing, policy, logs and the
 * upstream all see the same bytes.
 *
 * The path is read in a single pass. Percent-encodings are decoded or
 * re-cased as they are met, and dot segments are removed from the output
 * as each segment ends, so a dot that arrived encoded ("%2e%2e") is
 * removed exactly like a literal one: the output can never spell a dot
 * segment, whatever the input used to hide it. Escapes that still stand
 * for a slash or a backslash are never turned into separators here; when
 * they are allowed they travel encoded and stay inside their segment.
 *
 * Output is written only once the input must change. Until then the
 * output is, by construction, the input read so far, and a path that
 * needs no change is returned as it came, without copying.
 *
 * Bytes other than '%', '/', '\', NUL and non-ASCII pass unchanged: the
 * request parser has already refused anything outside the request-target
 * grammar. Two shortcomings follow from reading the path as RFC 3986
 * does. A segment such as "..;x" is ordinary here, while some servlet
 * containers drop ";x" and then resolve "..", so "/public/..;/admin" can
 * leave a prefix route at such a backend. And when encoded slashes are
 * allowed they stay inside their segment here, while a backend that
 * decodes them before resolving dots sees other segments; that is why
 * refusing them is the default.
 */
#include <string.h>

#include "http.h"

/*
 * UTF-8 validation state for the decoded bytes (RFC 3629). need counts
 * the continuation bytes still expected; the next one must lie in
 * [lo, hi]. The narrower first ranges refuse overlong forms, UTF-16
 * surrogates and code points past U+10FFFF.
 */
struct norm_utf8 {
    unsigned need;
    unsigned char lo;
    unsigned char hi;
};

/* One normalisation in progress. */
struct norm {
    const char *raw;  /* the encoded input, borrowed */
    size_t n;         /* input length */
    size_t i;         /* next input byte to read */
    char *buf;        /* output; NULL while it equals raw[0..len) */
    size_t len;       /* output length */
    size_t seg;       /* output offset where the current segment starts */
    struct arena *a;
    const struct http_norm_opts *o;
    struct norm_utf8 u;
    struct http_error *err;
};

void
http_norm_defaults(struct http_norm_opts *o)
{
    o->slashes = HTTP_SLASHES_MERGE;
    o->reject_encoded_slash = true;
    o->reject_encoded_dot = true;
    o->reject_backslash = true;
    o->reject_nul = true;
    o->reject_invalid_utf8 = true;
    o->reject_dot_segments = false;
}

/* Fill err with a 400 for the given reason; returns AW_INVALID. */
static int
norm_fail(struct norm *st, const char *reason, const char *detail)
{
    st->err->status = 400;
    st->err->reason = reason;
    st->err->detail = detail;
    return AW_INVALID;
}

/* RFC 3986 unreserved: the characters an escape must not hide. */
static bool
norm_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/*
 * Bytes copied as they are without a second look: ASCII other than NUL,
 * the separator '/' (0x2F), the escape introducer '%' (0x25) and the
 * backslash (0x5C). A table keeps the hot loop at one load per byte.
 */
static const unsigned char norm_plain[256] = {
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/*
 * Feed one decoded byte to the UTF-8 validator. Returns false when the
 * byte cannot appear at this point of a well-formed sequence.
 */
static bool
norm_utf8_step(struct norm_utf8 *u, unsigned char c)
{
    if (u->need > 0) {
        if (c < u->lo || c > u->hi)
            return false;
        u->need--;
        u->lo = 0x80;
        u->hi = 0xBF;
        return true;
    }
    if (c < 0x80)
        return true;
    if (c < 0xC2 || c > 0xF4)
        return false; /* stray continuation, overlong lead, past U+10FFFF */
    u->lo = 0x80;
    u->hi = 0xBF;
    if (c < 0xE0) {
        u->need = 1;
    } else if (c < 0xF0) {
        u->need = 2;
        if (c == 0xE0)
            u->lo = 0xA0; /* overlong three-byte form */
        else if (c == 0xED)
            u->hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else {
        u->need = 3;
        if (c == 0xF0)
            u->lo = 0x90; /* overlong four-byte form */
        else if (c == 0xF4)
            u->hi = 0x8F; /* past U+10FFFF */
    }
    return true;
}

/*
 * Check that no multi-byte sequence is left open before an ASCII byte
 * that did not come from an escape, or at the end of the path.
 */
static int
norm_utf8_closed(struct norm *st)
{
    if (st->u.need != 0 && st->o->reject_invalid_utf8)
        return norm_fail(st, "http.path_bad_utf8",
                         "The decoded path is not valid UTF-8.");
    return AW_OK;
}

static const char *
norm_out(const struct norm *st)
{
    return st->buf != NULL ? st->buf : st->raw;
}

/*
 * Switch from "output equals input" to a private copy, the first time
 * the output has to differ. One allocation of the input's length is
 * enough: every change made here shortens the path or keeps its length.
 */
static int
norm_own(struct norm *st)
{
    if (st->buf != NULL)
        return AW_OK;
    st->buf = arena_alloc(st->a, st->n);
    if (st->buf == NULL)
        return AW_NOMEM;
    memcpy(st->buf, st->raw, st->len);
    return AW_OK;
}

/* Pass the next k input bytes to the output unchanged. */
static void
norm_copy(struct norm *st, size_t k)
{
    if (st->buf != NULL)
        memcpy(st->buf + st->len, st->raw + st->i, k);
    st->len += k;
    st->i += k;
}

/* Write k new bytes in place of the next used input bytes. */
static int
norm_emit(struct norm *st, const char *bytes, size_t k, size_t used)
{
    int rc = norm_own(st);

    if (rc != AW_OK)
        return rc;
    memcpy(st->buf + st->len, bytes, k);
    st->len += k;
    st->i += used;
    return AW_OK;
}

/*
 * Cut the output back to newlen. At the very end of the input the
 * shortened output is still a prefix of the input, so no copy is needed.
 */
static int
norm_truncate(struct norm *st, size_t newlen)
{
    if (st->i < st->n) {
        int rc = norm_own(st);

        if (rc != AW_OK)
            return rc;
    }
    st->len = newlen;
    return AW_OK;
}

/* Skip one input byte (a separator that must not be repeated). */
static int
norm_skip(struct norm *st)
{
    int rc = norm_own(st);

    if (rc != AW_OK)
        return rc;
    st->i++;
    return AW_OK;
}

/* 1 for ".", 2 for "..", 0 for any other segment. */
static int
norm_dots(const char *s, size_t len)
{
    if (len == 1 && s[0] == '.')
        return 1;
    if (len == 2 && s[0] == '.' && s[1] == '.')
        return 2;
    return 0;
}

/*
 * Remove the ".." segment that was just written, with the segment before
 * it. The output ends "/prev/.." here; a ".." right after the leading
 * slash would climb above the root and is refused rather than dropped,
 * since a client that sends one is probing, not browsing.
 */
static int
norm_pop(struct norm *st)
{
    const char *o = norm_out(st);
    size_t k;

    if (st->seg == 1)
        return norm_fail(st, "http.path_traversal",
                         "A dot-dot segment climbs above the root.");
    k = st->seg - 2;
    while (o[k] != '/')
        k--;
    st->seg = k + 1;
    return norm_truncate(st, k + 1);
}

/*
 * The segment that started at st->seg ends here, before a '/' in the
 * input (slash true) or at its end. Dot segments are removed now, once
 * their decoded form is known; the '/' that follows a removed segment is
 * dropped because the output already ends with one. An empty segment
 * (two slashes in a row) is merged, kept or refused as configured.
 */
static int
norm_end_segment(struct norm *st, bool slash)
{
    size_t seglen = st->len - st->seg;
    int dots = norm_dots(norm_out(st) + st->seg, seglen);
    int rc = AW_OK;

    if (dots != 0 && st->o->reject_dot_segments)
        return norm_fail(st, "http.path_dot_segment",
                         "The path contains a dot segment.");
    if (dots == 1)
        rc = norm_truncate(st, st->seg);
    else if (dots == 2)
        rc = norm_pop(st);
    if (rc != AW_OK || !slash)
        return rc;
    if (dots != 0)
        return norm_skip(st);
    if (seglen == 0 && st->o->slashes == HTTP_SLASHES_REJECT)
        return norm_fail(st, "http.path_slashes",
                         "The path contains an empty segment.");
    if (seglen == 0 && st->o->slashes == HTTP_SLASHES_MERGE)
        return norm_skip(st);
    norm_copy(st, 1);
    st->seg = st->len;
    return AW_OK;
}

/*
 * Check that a decoded byte v may appear in the path at all; the order
 * of the checks fixes which reason a path with several faults gets.
 */
static int
norm_check_decoded(struct norm *st, unsigned char v)
{
    if ((v == '/' || v == '\\') && st->o->reject_encoded_slash)
        return norm_fail(st, "http.path_encoded_slash",
                         "The path encodes a slash or a backslash.");
    if (v == '.' && st->o->reject_encoded_dot)
        return norm_fail(st, "http.path_encoded_dot",
                         "The path encodes a dot.");
    if (v == 0 && st->o->reject_nul)
        return norm_fail(st, "http.path_nul",
                         "The path contains a NUL byte.");
    if (st->o->reject_invalid_utf8 && !norm_utf8_step(&st->u, v))
        return norm_fail(st, "http.path_bad_utf8",
                         "The decoded path is not valid UTF-8.");
    return AW_OK;
}

/*
 * Handle the escape at raw[i] == '%'. An unreserved character is
 * decoded (a decoded '.' then counts for dot segments); any other byte
 * stays encoded with upper-case hex, so that two spellings of one path
 * compare equal byte for byte.
 */
static int
norm_escape(struct norm *st)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)st->raw + st->i;
    int hi = st->n - st->i >= 3 ? hex_digit_value(p[1]) : -1;
    int lo = st->n - st->i >= 3 ? hex_digit_value(p[2]) : -1;
    unsigned char v;
    char enc[3];
    int rc;

    if (hi < 0 || lo < 0)
        return norm_fail(st, "http.path_bad_escape",
                         "A '%' in the path is not followed by two hex "
                         "digits.");
    v = (unsigned char)(hi * 16 + lo);
    rc = norm_check_decoded(st, v);
    if (rc != AW_OK)
        return rc;
    if (norm_unreserved(v))
        return norm_emit(st, (const char *)&v, 1, 3);
    enc[0] = '%';
    enc[1] = hex[hi];
    enc[2] = hex[lo];
    if (memcmp(enc, p, 3) == 0) {
        norm_copy(st, 3);
        return AW_OK;
    }
    return norm_emit(st, enc, 3, 3);
}

/* Handle one input byte that norm_plain does not accept. */
static int
norm_special(struct norm *st)
{
    unsigned char c = (unsigned char)st->raw[st->i];
    int rc;

    if (c == '%')
        return norm_escape(st);
    if (c >= 0x80) {
        if (st->o->reject_invalid_utf8 && !norm_utf8_step(&st->u, c))
            return norm_fail(st, "http.path_bad_utf8",
                             "The decoded path is not valid UTF-8.");
        norm_copy(st, 1);
        return AW_OK;
    }
    rc = norm_utf8_closed(st);
    if (rc != AW_OK)
        return rc;
    if (c == '/')
        return norm_end_segment(st, true);
    if (c == '\\' && st->o->reject_backslash)
        return norm_fail(st, "http.path_backslash",
                         "The path contains a backslash.");
    if (c == 0 && st->o->reject_nul)
        return norm_fail(st, "http.path_nul",
                         "The path contains a NUL byte.");
    norm_copy(st, 1);
    return AW_OK;
}

/*
 * The single pass. Runs of ordinary bytes are copied (or, before the
 * first change, merely counted) in a tight loop; everything else goes
 * through norm_special.
 */
static int
norm_run(struct norm *st)
{
    const unsigned char *raw = (const unsigned char *)st->raw;
    size_t n = st->n;
    int rc;

    while (st->i < n) {
        size_t k = st->i;

        while (k < n && norm_plain[raw[k]])
            k++;
        if (k > st->i) {
            rc = norm_utf8_closed(st);
            if (rc != AW_OK)
                return rc;
            norm_copy(st, k - st->i);
            continue;
        }
        rc = norm_special(st);
        if (rc != AW_OK)
            return rc;
    }
    rc = norm_utf8_closed(st);
    if (rc != AW_OK)
        return rc;
    return norm_end_segment(st, false);
}

int
http_normalize_path(struct slice raw, const struct http_norm_opts *o,
                    struct arena *a, struct slice *out,
                    struct http_error *err)
{
    struct norm st = {
        .raw = raw.ptr, .n = raw.len, .a = a, .o = o, .err = err,
    };
    int rc;

    if (raw.len == 0 || raw.ptr[0] != '/')
        return norm_fail(&st, "http.path_not_absolute",
                         "The path does not start with a slash.");
    /* The leading slash is the root; segments start after it. */
    st.i = st.len = st.seg = 1;
    rc = norm_run(&st);
    if (rc != AW_OK)
        return rc;
    out->ptr = norm_out(&st);
    out->len = st.len;
    return AW_OK;
}
