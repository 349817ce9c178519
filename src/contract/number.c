/*
 * Exact decimals for the numeric keywords. A JSON number is kept as the
 * digits it was written with and a power of ten, so that minimum,
 * maximum and multipleOf compare what the document says rather than the
 * nearest binary double: 0.3 is a multiple of 0.1 here, and
 * 9007199254740993 is above 9007199254740992.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema_int.h"

/* 128-bit products for the remainder of a multipleOf division. */
__extension__ typedef unsigned __int128 u128;

#define EXP_CAP 100000000   /* exponents saturate here; far past any
                               finite double */

/*
 * Append the digits of t from *i on to buf; counts them in *n. The
 * positions are kept in locals while the loop writes to buf, which as a
 * char pointer could alias them.
 */
static int
dec_digits(struct slice t, size_t *i, char *buf, size_t cap, size_t *n,
           size_t *count)
{
    size_t at = *i, len = *n, from = at;
    int rc = AW_OK;

    while (at < t.len && t.ptr[at] >= '0' && t.ptr[at] <= '9') {
        if (len == 0 && t.ptr[at] == '0') {
            at++;
            continue;           /* leading zeros carry nothing */
        }
        if (len >= cap) {
            rc = AW_TOOBIG;
            break;
        }
        buf[len++] = t.ptr[at++];
    }
    *count = at - from;
    *i = at;
    *n = len;
    return rc;
}

/* The exponent part from t[i], saturated at EXP_CAP. */
static int
dec_exponent(struct slice t, size_t i, long *e)
{
    bool neg = false;

    *e = 0;
    if (i < t.len && (t.ptr[i] == '+' || t.ptr[i] == '-'))
        neg = t.ptr[i++] == '-';
    if (i >= t.len)
        return AW_INVALID;
    for (; i < t.len; i++) {
        if (t.ptr[i] < '0' || t.ptr[i] > '9')
            return AW_INVALID;
        if (*e < EXP_CAP)
            *e = *e * 10 + (t.ptr[i] - '0');
    }
    if (neg)
        *e = -*e;
    return AW_OK;
}

int
dec_parse(struct slice t, char *buf, size_t cap, struct dec *d)
{
    size_t i = 0, n = 0, cnt, frac = 0;
    long e = 0;
    int rc;

    d->neg = t.len > 0 && t.ptr[0] == '-';
    i = d->neg ? 1 : 0;
    rc = dec_digits(t, &i, buf, cap, &n, &cnt);
    if (rc != AW_OK || cnt == 0)
        return rc != AW_OK ? rc : AW_INVALID;
    if (i < t.len && t.ptr[i] == '.') {
        i++;
        rc = dec_digits(t, &i, buf, cap, &n, &frac);
        if (rc != AW_OK || frac == 0)
            return rc != AW_OK ? rc : AW_INVALID;
    }
    if (i < t.len && (t.ptr[i] == 'e' || t.ptr[i] == 'E')) {
        rc = dec_exponent(t, i + 1, &e);
        if (rc != AW_OK)
            return rc;
    } else if (i != t.len) {
        return AW_INVALID;
    }
    e -= (long)frac;
    while (n > 0 && buf[n - 1] == '0') {
        n--;
        e++;
    }
    d->dig = buf;
    d->n = (uint32_t)n;
    d->exp = n == 0 ? 0 : (int32_t)MAX(MIN(e, (long)EXP_CAP), -EXP_CAP);
    d->neg = n > 0 && d->neg;
    return AW_OK;
}

/* Compare magnitudes. */
static int
dec_cmp_abs(const struct dec *a, const struct dec *b)
{
    long ta = (long)a->n + a->exp, tb = (long)b->n + b->exp;

    if (a->n == 0 || b->n == 0)
        return (a->n != 0) - (b->n != 0);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    for (uint32_t i = 0; i < MAX(a->n, b->n); i++) {
        char ca = i < a->n ? a->dig[i] : '0';
        char cb = i < b->n ? b->dig[i] : '0';

        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

int
dec_cmp(const struct dec *a, const struct dec *b)
{
    if (a->neg != b->neg)
        return a->neg ? -1 : 1;
    return a->neg ? -dec_cmp_abs(a, b) : dec_cmp_abs(a, b);
}

bool
dec_is_int(const struct dec *d)
{
    return d->exp >= 0;
}

/* 10^k mod m, by squaring; m below 10^18 so products fit 128 bits. */
static uint64_t
pow10_mod(long k, uint64_t m)
{
    u128 r = 1 % m, b = 10 % m;

    while (k > 0) {
        if (k & 1)
            r = r * b % m;
        b = b * b % m;
        k >>= 1;
    }
    return (uint64_t)r;
}

/*
 * Both numbers are scaled to integers by the smaller exponent; the
 * divisor then has to fit 18 digits (it nearly always has one to a few)
 * and the remainder of the dividend is computed digit by digit, its
 * trailing zeros by modular exponentiation, so 1e308 costs no more than
 * 10. A divisor of more significant digits falls back to long double
 * division, which can be wrong in the last place.
 */
bool
dec_multiple(const struct dec *a, const struct dec *m)
{
    long e, mshift;
    u128 r = 0;
    uint64_t mv = 0;

    if (a->n == 0)
        return true;
    e = MIN(a->exp, m->exp);
    mshift = m->exp - e;
    if (m->n + mshift <= 18) {
        for (uint32_t i = 0; i < m->n; i++)
            mv = mv * 10 + (uint64_t)(m->dig[i] - '0');
        for (long i = 0; i < mshift; i++)
            mv *= 10;
        uint64_t r64 = 0;
        long k = a->exp - e;

        /* r64 < mv <= 10^18, so r64 * 10 + 9 fits 64 bits. */
        for (uint32_t i = 0; i < a->n; i++)
            r64 = (r64 * 10 + (unsigned)(a->dig[i] - '0')) % mv;
        if (k <= 64) {
            while (k-- > 0)
                r64 = r64 * 10 % mv;
            return r64 == 0;
        }
        r = (u128)r64 * pow10_mod(k, mv) % mv;
        return r == 0;
    }
    if (dec_cmp_abs(a, m) < 0)
        return false;
    char ab[DEC_MAX_DIGITS + 32], mb[DEC_MAX_DIGITS + 32];

    snprintf(ab, sizeof(ab), "%.*se%d", (int)MIN(a->n, DEC_MAX_DIGITS),
             a->dig, (int)a->exp);
    snprintf(mb, sizeof(mb), "%.*se%d", (int)MIN(m->n, DEC_MAX_DIGITS),
             m->dig, (int)m->exp);
    long double q = strtold(ab, NULL) / strtold(mb, NULL);

    return isfinite(q) ? q == floorl(q) : true;
}
