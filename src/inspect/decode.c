/*
 * Bounded decoding of values before inspection.
 *
 * An attacker hides a payload from a filter by encoding it once more
 * than the filter decodes (%2527 for a quote) and counts on a later
 * layer (a framework, a template, a browser) to decode again. This file
 * decodes repeatedly, up to a fixed number of rounds, so detectors see
 * what the last layer would see. Every decoding here turns at least as
 * many bytes into at most as many, so each round runs in place over the
 * previous round's output and the result never outgrows the input.
 */
#include <string.h>

#include "internal.h"

/* A named character reference and the UTF-8 it stands for. */
struct entity {
    const char *name;
    const char *utf8;
    bool legacy; /* browsers accept it without the ';' */
};

/*
 * The references that matter for reading markup, scripts and URLs: the
 * five XML ones, no-break space, and the HTML5 names of the punctuation
 * used to build "javascript&colon;" and similar. Matching is exact-case,
 * as in HTML.
 */
static const struct entity entities[] = {
    {"amp", "&", true},     {"lt", "<", true},      {"gt", ">", true},
    {"quot", "\"", true},   {"apos", "'", false},   {"nbsp", "\xc2\xa0", true},
    {"Tab", "\t", false},   {"NewLine", "\n", false}, {"colon", ":", false},
    {"lpar", "(", false},   {"rpar", ")", false},   {"sol", "/", false},
    {"bsol", "\\", false},  {"semi", ";", false},   {"comma", ",", false},
    {"period", ".", false}, {"excl", "!", false},   {"num", "#", false},
    {"equals", "=", false}, {"plus", "+", false},   {"lsqb", "[", false},
    {"rsqb", "]", false},   {"lcub", "{", false},   {"rcub", "}", false},
    {"grave", "`", false},  {"quest", "?", false},  {"percnt", "%", false},
    {"dollar", "$", false}, {"ast", "*", false},    {"lowbar", "_", false},
    {"verbar", "|", false}, {"Hat", "^", false},    {"commat", "@", false},
};

/* Write code point cp as UTF-8 at out; returns the bytes written (1-4).
   The caller has mapped invalid code points to U+FFFD already. */
static size_t
put_utf8(char *out, uint32_t cp)
{
    unsigned char *o = (unsigned char *)out;

    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Set in a round's flags when it decoded something; never returned. */
#define DECODED (1u << 31)

/* Form encoding's '+' for a space; done in the first round only, since
   a form is decoded once and a later '+' came from an escape. */
static void
plus_round(char *buf, size_t len, bool *changed)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '+') {
            buf[i] = ' ';
            *changed = true;
        }
    }
}

/* The old IIS form %uXXXX at s[0..len) (s[0] is '%'): true with the
   code point in *cp (U+FFFD for a surrogate). */
static bool
percent_u(const char *s, size_t len, uint32_t *cp)
{
    if (len < 6 || (s[1] != 'u' && s[1] != 'U'))
        return false;
    *cp = 0;
    for (size_t i = 2; i < 6; i++) {
        int d = hex_digit_value((unsigned char)s[i]);

        if (d < 0)
            return false;
        *cp = *cp << 4 | (uint32_t)d;
    }
    if (*cp >= 0xd800 && *cp <= 0xdfff)
        *cp = 0xfffd;
    return true;
}

/*
 * One round of percent-decoding of buf[0..len) in place. A '%' not
 * followed by two hex digits (or 'u' and four, the old IIS form) stays
 * as it is and is flagged. Returns the new length; DECODED is set in
 * *flags when anything was decoded.
 */
static size_t
percent_round(char *buf, size_t len, unsigned *flags)
{
    size_t w = 0;

    for (size_t r = 0; r < len; r++) {
        uint32_t cp;
        int hi, lo;

        if (buf[r] != '%') {
            buf[w++] = buf[r];
            continue;
        }
        hi = r + 2 < len ? hex_digit_value((unsigned char)buf[r + 1]) : -1;
        lo = r + 2 < len ? hex_digit_value((unsigned char)buf[r + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            *flags |= DECODED;
            buf[w++] = (char)(hi << 4 | lo);
            r += 2;
        } else if (percent_u(buf + r, len - r, &cp)) {
            *flags |= INSPECT_DEC_PERCENT_U | DECODED;
            w += put_utf8(buf + w, cp);
            r += 5;
        } else {
            *flags |= INSPECT_DEC_BAD_PERCENT;
            buf[w++] = buf[r];
        }
    }
    return w;
}

/*
 * Read a numeric character reference at s[0..len), which starts after
 * "&#". Digits beyond the seventh only grow the value past U+10FFFF, so
 * the value saturates there. Returns the bytes consumed (digits and an
 * optional ';'), 0 when there are no digits; *cp gets the code point,
 * U+FFFD for NUL, surrogates and values out of range, as browsers do.
 */
static size_t
numeric_ref(const char *s, size_t len, uint32_t *cp)
{
    bool hex = len > 0 && (s[0] == 'x' || s[0] == 'X');
    size_t i = hex ? 1 : 0, start = i;
    uint32_t v = 0;

    for (; i < len; i++) {
        int d = hex ? hex_digit_value((unsigned char)s[i])
                    : (s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1);

        if (d < 0)
            break;
        v = v > 0x10ffff ? v : v * (hex ? 16 : 10) + (uint32_t)d;
    }
    if (i == start)
        return 0;
    if (v == 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        v = 0xfffd;
    *cp = v;
    return i < len && s[i] == ';' ? i + 1 : i;
}

/*
 * Read a named reference at s[0..len), which starts after '&'. Returns
 * the bytes consumed (the name and its ';'), 0 when no known name is
 * there; *e gets the entity.
 */
static size_t
named_ref(const char *s, size_t len, const struct entity **e)
{
    for (size_t i = 0; i < ARRAY_LEN(entities); i++) {
        size_t n = strlen(entities[i].name);

        if (n > len || memcmp(s, entities[i].name, n) != 0)
            continue;
        *e = &entities[i];
        if (n < len && s[n] == ';')
            return n + 1;
        return entities[i].legacy ? n : 0;
    }
    return 0;
}

/* One round of HTML character reference decoding, in place. */
static size_t
html_round(char *buf, size_t len, unsigned *flags)
{
    size_t w = 0;

    for (size_t r = 0; r < len; r++) {
        const struct entity *e = NULL;
        uint32_t cp = 0;
        size_t n = 0;

        if (buf[r] == '&' && r + 1 < len && buf[r + 1] == '#')
            n = numeric_ref(buf + r + 2, len - r - 2, &cp);
        else if (buf[r] == '&')
            n = named_ref(buf + r + 1, len - r - 1, &e);
        if (n == 0) {
            buf[w++] = buf[r];
            continue;
        }
        *flags |= INSPECT_DEC_ENTITY | DECODED;
        if (e != NULL) {
            size_t k = strlen(e->utf8);

            memcpy(buf + w, e->utf8, k);
            w += k;
            r += n;
        } else {
            w += put_utf8(buf + w, cp);
            r += n + 1;
        }
    }
    return w;
}

/* The length of a UTF-8 sequence starting at s[0..len), and its flags:
   0 when valid, else BAD_UTF8 (with OVERLONG for overlong forms). */
static size_t
utf8_seq(const unsigned char *s, size_t len, unsigned *bad)
{
    unsigned char c = s[0];
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c < 0xc0 || c > 0xf4 || len < n) {
        *bad |= INSPECT_DEC_BAD_UTF8;
        return 1;
    }
    cp = c & (0x3f >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *bad |= INSPECT_DEC_BAD_UTF8;
            return i;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
        (n == 4 && cp < 0x10000))
        *bad |= INSPECT_DEC_BAD_UTF8 | INSPECT_DEC_OVERLONG;
    else if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        *bad |= INSPECT_DEC_BAD_UTF8;
    return n;
}

unsigned
inspect_utf8_flags(struct slice s)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    unsigned flags = 0;

    for (size_t i = 0; i < s.len;) {
        if (p[i] == 0)
            flags |= INSPECT_DEC_NUL;
        else if (p[i] < 0x20 && p[i] != '\t')
            flags |= INSPECT_DEC_CONTROL;
        i += utf8_seq(p + i, s.len - i, &flags);
    }
    return flags;
}

int
inspect_decode(struct slice in, unsigned mode, unsigned max_rounds,
               char *out, size_t cap, size_t *out_len, unsigned *flags)
{
    size_t len = in.len;
    unsigned rounds = 0;
    bool changed = true;

    if (max_rounds == 0)
        return AW_INVALID;
    if (cap < in.len)
        return AW_TOOBIG;
    if (in.len > 0)
        memcpy(out, in.ptr, in.len);

    while (changed && rounds < max_rounds) {
        bool plus = rounds == 0 && (mode & INSPECT_DECODE_PLUS);
        unsigned seen = 0;

        changed = false;
        if (plus)
            plus_round(out, len, &changed);
        if (mode & INSPECT_DECODE_PERCENT)
            len = percent_round(out, len, &seen);
        if (mode & INSPECT_DECODE_HTML)
            len = html_round(out, len, &seen);
        changed |= (seen & DECODED) != 0;
        *flags |= seen & ~DECODED;
        rounds += changed;
    }
    if (rounds > 1)
        *flags |= INSPECT_DEC_MULTI;
    if (changed && rounds == max_rounds)
        *flags |= INSPECT_DEC_ROUNDS;
    *out_len = len;
    *flags |= inspect_utf8_flags((struct slice){out, len});
    return AW_OK;
}

char *
inspect_excerpt(const struct inspect_value *v,
                const struct inspect_verdict *vd, char *dst, size_t cap)
{
    size_t off = MIN(vd->offset, v->text.len);
    size_t n = MIN(MIN(vd->length, INSPECT_WINDOW_MAX), v->text.len - off);

    return log_escape(dst, cap, (struct slice){v->text.ptr + off, n});
}

bool
inspect_found(const struct inspect_value *v, const char *det,
              const char *reason, const char *rule, unsigned score,
              size_t offset, struct inspect_verdict *out)
{
    out->detector = det;
    out->reason = reason;
    out->rule = rule;
    out->score = score;
    out->offset = MIN(offset, v->text.len);
    out->length = MIN(v->text.len - out->offset, INSPECT_WINDOW_MAX);
    /* Never the whole value: a short one shows its first half. */
    if (out->offset == 0 && out->length == v->text.len && out->length > 1)
        out->length = (out->length + 1) / 2;
    return true;
}

bool
inspect_prefix_nocase(const char *s, size_t len, const char *lit)
{
    size_t i = 0;

    for (; lit[i] != '\0'; i++)
        if (i >= len || inspect_lower((unsigned char)s[i]) !=
                            (unsigned char)lit[i])
            return false;
    return true;
}

size_t
inspect_find_nocase(struct slice s, size_t from, const char *lit)
{
    size_t n = strlen(lit);

    for (size_t i = from; i + n <= s.len; i++)
        if (inspect_lower((unsigned char)s.ptr[i]) == (unsigned char)lit[0]
            && inspect_prefix_nocase(s.ptr + i, s.len - i, lit))
            return i;
    return SIZE_MAX;
}
