/*
 * Strict base64url (RFC 4648 section 5) without padding, as JOSE uses
 * it. Strict means one spelling per byte string: no '=', no whitespace,
 * no characters of the other alphabet, and zero bits where a final
 * partial group has bits that carry nothing. A lenient decoder would let
 * two different tokens carry the same header and signature, which breaks
 * any cache or replay list keyed on the token text.
 */
#include "identity/jose_int.h"

/*
 * One plus the 6-bit value of each byte of the alphabet
 * (A-Z a-z 0-9 - _), zero for every other byte. Every token of every
 * request goes through here, so it is a lookup rather than comparisons.
 */
static const unsigned char b64url_map[256] = {
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,
    53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
     0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0, 64,
     0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
    42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
     0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

bool
jose_b64url_alphabet(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned char all = 1;

    /* No early exit: tokens are short and nearly always valid. */
    for (size_t i = 0; i < n; i++)
        all &= (unsigned char)(b64url_map[p[i]] != 0);
    return all != 0;
}

int
jose_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap,
                   size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t rest = n % 4, whole = n - rest;
    size_t need = n / 4 * 3 + (rest == 0 ? 0 : rest - 1);
    size_t o = 0;
    unsigned bad = 0;

    *out_len = 0;
    /* Malformed input is told apart from a short buffer first. */
    if (rest == 1 || !jose_b64url_alphabet(s, n))
        return AW_INVALID;
    if (need > cap)
        return AW_TOOBIG;
    for (size_t i = 0; i < whole; i += 4) {
        uint32_t acc = (uint32_t)(b64url_map[p[i]] - 1) << 18 |
                       (uint32_t)(b64url_map[p[i + 1]] - 1) << 12 |
                       (uint32_t)(b64url_map[p[i + 2]] - 1) << 6 |
                       (uint32_t)(b64url_map[p[i + 3]] - 1);

        out[o++] = (unsigned char)(acc >> 16);
        out[o++] = (unsigned char)(acc >> 8);
        out[o++] = (unsigned char)acc;
    }
    if (rest > 0) {
        uint32_t acc = (uint32_t)(b64url_map[p[whole]] - 1) << 18 |
                       (uint32_t)(b64url_map[p[whole + 1]] - 1) << 12;

        if (rest == 3)
            acc |= (uint32_t)(b64url_map[p[whole + 2]] - 1) << 6;
        /* Bits past the last whole byte must be zero (see the top). */
        bad = rest == 2 ? (acc & 0xffff) : (acc & 0xff);
        out[o++] = (unsigned char)(acc >> 16);
        if (rest == 3)
            out[o++] = (unsigned char)(acc >> 8);
    }
    if (bad != 0)
        return AW_INVALID;
    *out_len = o;
    return AW_OK;
}
