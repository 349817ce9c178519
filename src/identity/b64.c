/*
 * Strict base64url (RFC 4648 section 5) without padding, as JOSE uses
 * it. Strict means one spelling per byte string: no '=', no whitespace,
 * no characters of the other alphabet, and zero bits where a final
 * partial group has bits that carry nothing. A lenient decoder would let
 * two different tokens carry the same header and signature, which breaks
 * any cache or replay list keyed on the token text.
 */
#include "identity/jose_int.h"

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool
jose_b64url_alphabet(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b64url_value((unsigned char)s[i]) < 0)
            return false;
    }
    return true;
}

/*
 * Decode the k characters (2 to 4) at s into the 24-bit group *acc.
 * Returns false on a byte outside the alphabet.
 */
static bool
b64url_group(const char *s, size_t k, unsigned long *acc)
{
    *acc = 0;
    for (size_t i = 0; i < 4; i++) {
        int v = 0;

        if (i < k) {
            v = b64url_value((unsigned char)s[i]);
            if (v < 0)
                return false;
        }
        *acc = (*acc << 6) | (unsigned long)v;
    }
    return true;
}

int
jose_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap,
                   size_t *out_len)
{
    size_t rest = n % 4;
    size_t need = n / 4 * 3 + (rest == 0 ? 0 : rest - 1);
    size_t o = 0;

    *out_len = 0;
    /* Malformed input is told apart from a short buffer first. */
    if (rest == 1 || !jose_b64url_alphabet(s, n))
        return AW_INVALID;
    if (need > cap)
        return AW_TOOBIG;
    for (size_t i = 0; i < n; i += 4) {
        size_t k = MIN(n - i, 4);
        unsigned long acc;

        if (!b64url_group(s + i, k, &acc))
            return AW_INVALID;
        /* Bits past the last whole byte must be zero (see the top). */
        if ((k == 2 && (acc & 0xffff) != 0) || (k == 3 && (acc & 0xff) != 0))
            return AW_INVALID;
        out[o++] = (unsigned char)(acc >> 16);
        if (k > 2)
            out[o++] = (unsigned char)(acc >> 8);
        if (k > 3)
            out[o++] = (unsigned char)acc;
    }
    *out_len = o;
    return AW_OK;
}
