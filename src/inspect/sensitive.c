/*
 * Sensitive data in a body: candidates from one Vectorscan database,
 * confirmed by validators (see inspect.h, "Sensitive data").
 *
 * The patterns are triggers, not whole findings: most are short and of
 * fixed length (a key's prefix, "@" and a letter, an SSN's shape), so
 * that the end offset Vectorscan reports places the candidate without
 * start-of-match tracking. Each validator then reads the text around
 * the trigger itself: it finds where the candidate starts (walking back
 * over a run of digits, a local part), checks the boundaries, measures
 * the finding and checks it (Luhn, mod 97, the SSN rules, a JWT's
 * header).
 *
 * Vectorscan reports every end offset of every pattern: a run of 40
 * digits ends the card trigger 28 times. Each kind keeps a cursor, the
 * end of the text its validator has already read; a trigger that ends
 * before it is ignored, and a validator never walks back past it. A
 * validator that reads forward over a run moves the cursor to the end
 * of the run, so that every byte is read a bounded number of times per
 * kind and the scan stays linear.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#include "identity/identity.h"
#include "internal.h"

#define JWT_HEADER_MAX 2048    /* base64url characters of a JWT header */
#define JWT_PART_MAX 65536     /* characters of its payload, signature */
#define PEM_MAX 65536          /* a PEM block, BEGIN line to END line */
#define EMAIL_LOCAL_MAX 64     /* RFC 5321 bounds */
#define EMAIL_DOMAIN_MAX 253
#define ESCAPE_LOOKBACK 16     /* backslashes counted before a byte */

static const char *const kind_names[INSPECT_SENS_NKINDS] = {
    "card", "iban", "national_id", "email", "jwt", "private_key",
    "cloud_key", "api_key",
};

struct scan;

/*
 * A validator: the candidate whose trigger ended at end; true with *f
 * filled (offset, length, rule) when it is a finding.
 */
typedef bool (*check_fn)(struct scan *sc, size_t end,
                         struct inspect_sensitive_find *f);

struct pattern {
    unsigned kind;
    const char *expr;
    check_fn check;
};

struct inspect_sensitive_db {
    hs_database_t *hs;          /* NULL when compiled for no kind */
    unsigned kinds;
    unsigned ids[32];           /* Vectorscan id -> index in patterns */
};

struct inspect_sensitive_scratch {
    hs_scratch_t *hs;
};

/* One scan in progress. */
struct scan {
    const char *p;
    size_t n;
    unsigned kinds;
    size_t done[INSPECT_SENS_NKINDS]; /* the text each kind has read */
    inspect_sensitive_cb on_find;
    void *ctx;
    bool stop;                        /* on_find asked to stop */
    const struct inspect_sensitive_db *db;
};

/* Hand f to the caller; true once the caller asked to stop. */
static bool
emit(struct scan *sc, const struct inspect_sensitive_find *f)
{
    if (!sc->stop && sc->on_find(sc->ctx, f) != 0)
        sc->stop = true;
    return sc->stop;
}

/* BYTE CLASSES */

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool
is_alnum(char c)
{
    return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z');
}

/* c is one of the bytes of set (never NUL). */
static bool
in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

/* A byte that continues a word or an identifier. */
static bool
is_word(char c)
{
    return is_alnum(c) || c == '_';
}

static bool
is_b64url(char c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

/*
 * True when p[i] is the escaped byte of a backslash escape: an odd
 * number of backslashes stands right before it. In a JSON string "\n"
 * ends a line, and the 'n' is no letter of the word that follows.
 */
static bool
escaped(const char *p, size_t i)
{
    size_t k = 0;

    while (k < i && k < ESCAPE_LOOKBACK && p[i - k - 1] == '\\')
        k++;
    return (k & 1) != 0;
}

/* The byte before offset i does not continue what starts there. */
static bool
starts_clean(const struct scan *sc, size_t i, bool (*cont)(char))
{
    return i == 0 || !cont(sc->p[i - 1]) || escaped(sc->p, i - 1);
}

/* The byte at offset i does not continue what ends there. */
static bool
ends_clean(const struct scan *sc, size_t i, bool (*cont)(char))
{
    return i >= sc->n || !cont(sc->p[i]);
}

/* The length of the run of bytes of class cont from i, at most max. */
static size_t
run_length(const struct scan *sc, size_t i, bool (*cont)(char), size_t max)
{
    size_t k = 0;

    while (i + k < sc->n && k < max && cont(sc->p[i + k]))
        k++;
    return k;
}

/* CARDS */

/* Issuer prefixes: the first digits between lo and hi, and the lengths
   (bits) cards of the range have. */
static const struct issuer {
    const char *name;
    unsigned lo, hi;
    unsigned char ndigits;
    uint32_t lengths;
} issuers[] = {
    {"visa", 4, 4, 1, 1u << 13 | 1u << 16 | 1u << 19},
    {"mastercard", 51, 55, 2, 1u << 16},
    {"mastercard", 2221, 2720, 4, 1u << 16},
    {"amex", 34, 34, 2, 1u << 15},
    {"amex", 37, 37, 2, 1u << 15},
    {"discover", 6011, 6011, 4, 0xfu << 16},
    {"discover", 644, 649, 3, 0xfu << 16},
    {"discover", 65, 65, 2, 0xfu << 16},
    {"diners", 300, 305, 3, 0x3fu << 14},
    {"diners", 36, 36, 2, 0x3fu << 14},
    {"diners", 38, 39, 2, 0xfu << 16},
    {"jcb", 3528, 3589, 4, 0xfu << 16},
    {"unionpay", 62, 62, 2, 0xfu << 16},
    {"maestro", 50, 50, 2, 0x7fu << 13},
    {"maestro", 56, 58, 2, 0x7fu << 13},
    {"maestro", 639, 639, 3, 0x7fu << 13},
    {"maestro", 67, 67, 2, 0x7fu << 13},
};

/* The issuer of the n digits d, or NULL. */
static const char *
card_issuer(const char *d, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(issuers); i++) {
        const struct issuer *is = &issuers[i];
        unsigned v = 0;

        for (unsigned k = 0; k < is->ndigits; k++)
            v = v * 10 + (unsigned)(d[k] - '0');
        if (v >= is->lo && v <= is->hi && (is->lengths >> n & 1))
            return is->name;
    }
    return NULL;
}

static bool
luhn_valid(const char *d, size_t n)
{
    unsigned sum = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');

        if (i & 1)
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return sum % 10 == 0;
}

/*
 * The groupings cards are printed in: 4-4-4-4 (and 4-4-4-1..4-4-4-4-3
 * for other lengths), 4-3-3-3 for 13 digits, 4-6-5 and 4-6-4.
 */
static bool
card_grouping(const unsigned char *g, size_t ng)
{
    bool fours = ng >= 3;

    for (size_t i = 0; i + 1 < ng; i++)
        fours = fours && g[i] == 4;
    if (fours && g[ng - 1] >= 1 && g[ng - 1] <= 4)
        return true;
    if (ng == 4 && g[0] == 4 && g[1] == 3 && g[2] == 3 && g[3] == 3)
        return true;
    return ng == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4);
}

/* A separator between two digit groups: one space or dash. */
static bool
card_separator(const struct scan *sc, size_t i)
{
    return (sc->p[i] == ' ' || sc->p[i] == '-') && i + 1 < sc->n &&
           is_digit(sc->p[i + 1]) && i > 0 && is_digit(sc->p[i - 1]);
}

/* Where the run of digits and separators holding offset end-1 starts,
   not before the cursor lo. */
static size_t
card_run_start(const struct scan *sc, size_t end, size_t lo)
{
    size_t i = end;

    while (i > lo && (is_digit(sc->p[i - 1]) || card_separator(sc, i - 1)))
        i--;
    return i;
}

/*
 * The byte before a card: not a letter, digit or underscore, not the
 * '+' of a phone number, not the decimal point of a number, not the
 * dash that joins it to a word ("ORD-..." is an order number).
 */
static bool
card_before_ok(const struct scan *sc, size_t start)
{
    char c;

    if (!starts_clean(sc, start, is_word))
        return false;
    if (start == 0)
        return true;
    c = sc->p[start - 1];
    if (c == '+' || ((c == '.' || c == '-') && start >= 2 &&
                     is_word(sc->p[start - 2])))
        return false;
    return true;
}

/* The byte after: no word byte, no decimal part, no dash and word. */
static bool
card_after_ok(const struct scan *sc, size_t end)
{
    if (!ends_clean(sc, end, is_word))
        return false;
    return !(end + 1 < sc->n && (sc->p[end] == '.' || sc->p[end] == '-') &&
             is_word(sc->p[end + 1]));
}

/* The digits and groups of a run, read from start; false when it is no
   card's shape (too many digits, mixed separators, too many groups). */
struct card_run {
    char digits[19];
    size_t ndigits;
    unsigned char groups[8];
    size_t ngroups;
    char sep;
    size_t end;
};

static bool
card_read(const struct scan *sc, size_t start, struct card_run *cr)
{
    size_t i = start;
    bool ok = true;

    memset(cr, 0, sizeof(*cr));
    cr->ngroups = 1;
    for (; i < sc->n; i++) {
        if (is_digit(sc->p[i])) {
            if (cr->ndigits < sizeof(cr->digits))
                cr->digits[cr->ndigits] = sc->p[i];
            cr->ndigits++;
            if (cr->ngroups <= sizeof(cr->groups))
                cr->groups[cr->ngroups - 1]++;
            continue;
        }
        if (!card_separator(sc, i))
            break;
        ok = ok && (cr->sep == 0 || cr->sep == sc->p[i]);
        cr->sep = sc->p[i];
        cr->ngroups++;
    }
    cr->end = i;
    return ok && cr->ndigits <= sizeof(cr->digits) &&
           cr->ngroups <= sizeof(cr->groups);
}

/* The run read from start is a card: boundaries, grouping, issuer and
   length, Luhn. */
static bool
card_valid(const struct scan *sc, size_t start, const struct card_run *cr,
           struct inspect_sensitive_find *f)
{
    if (cr->ndigits < 13 || !card_before_ok(sc, start) ||
        !card_after_ok(sc, cr->end))
        return false;
    if (cr->sep != 0 && !card_grouping(cr->groups, cr->ngroups))
        return false;
    f->rule = card_issuer(cr->digits, cr->ndigits);
    if (f->rule == NULL || !luhn_valid(cr->digits, cr->ndigits))
        return false;
    f->offset = start;
    f->length = cr->end - start;
    return true;
}

/*
 * A run that is no card whole may be a list: numbers separated by
 * spaces, some of them cards written without separators
 * ("4111111111111111 42"). Each group of 13 to 19 digits between
 * spaces (or the run's ends) is tried alone, and every card found is
 * handed over here, so that the run is read once; a dash joins its
 * groups into one number, as in a phone number or an identifier.
 */
static void
card_list(struct scan *sc, size_t start, size_t end)
{
    struct inspect_sensitive_find f = {.kind = INSPECT_SENS_CARD};
    size_t i = start;

    while (i < end && !sc->stop) {
        size_t g = i;
        struct card_run cr;

        while (g < end && is_digit(sc->p[g]))
            g++;
        if (g - i >= 13 && g - i <= 19 &&
            (i == start || sc->p[i - 1] == ' ') &&
            (g == end || sc->p[g] == ' ')) {
            memset(&cr, 0, sizeof(cr));
            memcpy(cr.digits, sc->p + i, g - i);
            cr.ndigits = g - i;
            cr.end = g;
            if (card_valid(sc, i, &cr, &f))
                emit(sc, &f);
        }
        i = g + 1;
    }
}

static bool
check_card(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    size_t *done = &sc->done[0];
    size_t start = card_run_start(sc, end, *done);
    struct card_run cr;
    bool shaped = card_read(sc, start, &cr);

    *done = cr.end;
    if (shaped && card_valid(sc, start, &cr, f))
        return true;
    if (cr.sep != 0)
        card_list(sc, start, cr.end);
    return false;
}

/* IBAN */

/* Countries of the IBAN registry and the length of their IBANs. */
static const struct {
    char cc[3];
    unsigned char len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20},
    {"BE", 16}, {"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28},
    {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
    {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23},
    {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22},
    {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30},
    {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
    {"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19},
    {"MN", 20}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18},
    {"NO", 15}, {"OM", 23}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
    {"QA", 29}, {"RO", 24}, {"RS", 22}, {"RU", 33}, {"SA", 24}, {"SC", 31},
    {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"SO", 23},
    {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29},
    {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
};

/* The IBAN length of the country at p, 0 for none. */
static size_t
iban_length(const char *p)
{
    for (size_t i = 0; i < ARRAY_LEN(iban_lengths); i++)
        if (p[0] == iban_lengths[i].cc[0] && p[1] == iban_lengths[i].cc[1])
            return iban_lengths[i].len;
    return 0;
}

static bool
is_iban_char(char c)
{
    return is_digit(c) || is_upper(c);
}

/* ISO 7064 mod 97-10 over the IBAN's characters c[0..n), first four
   moved to the end, letters as 10..35. */
static bool
iban_mod97(const char *c, size_t n)
{
    unsigned rem = 0;

    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n];

        if (is_digit(ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
    }
    return rem == 1;
}

/*
 * Read an IBAN of want characters from start: contiguous, or printed
 * in groups of four separated by one space (the last group shorter).
 * Returns its end offset, 0 when it is not there whole.
 */
static size_t
iban_read(const struct scan *sc, size_t start, size_t want, char *out)
{
    bool spaced = start + 4 < sc->n && sc->p[start + 4] == ' ';
    size_t i = start, got = 0;

    while (got < want && i < sc->n) {
        if (spaced && got > 0 && got % 4 == 0 && sc->p[i - 1] != ' ') {
            if (sc->p[i] != ' ')
                return 0;
            i++;
            continue;
        }
        if (!is_iban_char(sc->p[i]))
            return 0;
        out[got++] = sc->p[i++];
    }
    return got == want ? i : 0;
}

static bool
check_iban(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    char chars[34];
    size_t start, want, stop;

    start = end >= 9 && sc->p[end - 5] == ' ' ? end - 9 : end - 8;
    want = iban_length(sc->p + start);
    if (want == 0 || want > sizeof(chars) || !starts_clean(sc, start, is_alnum))
        return false;
    stop = iban_read(sc, start, want, chars);
    if (stop == 0 || !ends_clean(sc, stop, is_alnum))
        return false;
    /* Check digits 00, 01 and 99 are never issued. */
    if ((chars[2] == '0' && chars[3] <= '1') ||
        (chars[2] == '9' && chars[3] == '9') || !iban_mod97(chars, want))
        return false;
    sc->done[1] = stop;
    f->rule = "iban";
    f->offset = start;
    f->length = stop - start;
    return true;
}

/* NATIONAL IDS */

/* Numbers printed on sample cards and in advertising, never issued. */
static const char *const ssn_samples[] = {
    "078-05-1120", "219-09-9999", "457-55-5462",
};

static unsigned
digits_value(const char *p, size_t n)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (unsigned)(p[i] - '0');
    return v;
}

static bool
is_ssn_joint(char c)
{
    return is_word(c) || c == '-';
}

/*
 * A US Social Security number, AAA-GG-SSSS: area 001-899 but 666,
 * group 01-99, serial 0001-9999, not a sample number, and not a part of
 * a longer run of digits and dashes.
 */
static bool
check_ssn(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    size_t start = end - 11;
    const char *p = sc->p + start;
    unsigned area = digits_value(p, 3);

    if (!starts_clean(sc, start, is_ssn_joint) ||
        !ends_clean(sc, end, is_ssn_joint))
        return false;
    if (area == 0 || area == 666 || area >= 900 ||
        digits_value(p + 4, 2) == 0 || digits_value(p + 7, 4) == 0)
        return false;
    for (size_t i = 0; i < ARRAY_LEN(ssn_samples); i++)
        if (memcmp(p, ssn_samples[i], 11) == 0)
            return false;
    f->rule = "us_ssn";
    f->offset = start;
    f->length = 11;
    return true;
}

/* E-MAIL ADDRESSES */

static bool
is_local_char(char c)
{
    return is_alnum(c) || in_set(c, "!#$%&'*+/=?^_`{|}~.-");
}

static bool
is_domain_char(char c)
{
    return is_alnum(c) || c == '-' || c == '.';
}

/* Image and script names look like addresses: "logo@2x.png". */
static const char *const file_suffixes[] = {
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js",
};

/*
 * Whether d[0..n) is a host name of at least two labels, each of 1 to
 * 63 letters, digits and inner hyphens, the last of two or more letters
 * that is no file suffix.
 */
static bool
email_domain_ok(const char *d, size_t n)
{
    size_t label = 0, labels = 1, tld = 0;

    for (size_t i = 0; i < n; i++) {
        if (d[i] == '.') {
            if (label == 0 || d[i - 1] == '-')
                return false;
            labels++;
            label = 0;
            tld = i + 1;
            continue;
        }
        if (label == 0 && d[i] == '-')
            return false;
        if (++label > 63)
            return false;
    }
    if (labels < 2 || n - tld < 2)
        return false;
    for (size_t i = tld; i < n; i++)
        if (is_digit(d[i]) || d[i] == '-')
            return false;
    for (size_t i = 0; i < ARRAY_LEN(file_suffixes); i++)
        if (strlen(file_suffixes[i]) == n - tld &&
            inspect_prefix_nocase(d + tld, n - tld, file_suffixes[i]))
            return false;
    return true;
}

static bool
check_email(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    size_t at = end - 2, start = at, stop, lo = sc->done[3];

    while (start > lo && at - start <= EMAIL_LOCAL_MAX &&
           is_local_char(sc->p[start - 1]) && !escaped(sc->p, start - 1))
        start--;
    while (start < at && sc->p[start] == '.')
        start++;
    if (start == at || at - start > EMAIL_LOCAL_MAX || sc->p[at - 1] == '.')
        return false;
    stop = at + 1 + run_length(sc, at + 1, is_domain_char,
                               EMAIL_DOMAIN_MAX + 1);
    sc->done[3] = stop;
    while (stop > at + 1 && sc->p[stop - 1] == '.')
        stop--;
    if (stop - at - 1 > EMAIL_DOMAIN_MAX ||
        !email_domain_ok(sc->p + at + 1, stop - at - 1))
        return false;
    f->rule = "email";
    f->offset = start;
    f->length = stop - start;
    return true;
}

/* JWT */

static int
b64url_value(char c)
{
    if (is_upper(c))
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Decode n base64url characters into out (room for 3n/4 bytes);
   returns the byte count, or SIZE_MAX for a length no encoder makes. */
static size_t
b64url_decode(const char *in, size_t n, unsigned char *out)
{
    uint32_t acc = 0;
    size_t o = 0, bits = 0;

    if (n % 4 == 1)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        acc = acc << 6 | (uint32_t)b64url_value(in[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

static bool
is_json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A JOSE header: a JSON object with an "alg" member. */
static bool
jose_header_ok(const unsigned char *h, size_t n)
{
    size_t a = 0, b = n;
    struct slice s;
    size_t k;

    while (a < b && is_json_space(h[a]))
        a++;
    while (b > a && is_json_space(h[b - 1]))
        b--;
    if (b - a < 2 || h[a] != '{' || h[b - 1] != '}')
        return false;
    s = (struct slice){(const char *)h + a, b - a};
    k = inspect_find_nocase(s, 0, "\"alg\"");
    if (k == SIZE_MAX || memcmp(s.ptr + k, "\"alg\"", 5) != 0)
        return false;
    for (k += 5; k < s.len && is_json_space((unsigned char)s.ptr[k]); k++)
        ;
    return k < s.len && s.ptr[k] == ':';
}

static bool
check_jwt(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    unsigned char header[JWT_HEADER_MAX / 4 * 3 + 3];
    size_t start = end - 16, h, pay, sig, stop;
    size_t len;

    if (!starts_clean(sc, start, is_b64url))
        return false;
    h = run_length(sc, start, is_b64url, JWT_HEADER_MAX + 1);
    sc->done[4] = start + h;
    if (h > JWT_HEADER_MAX || start + h >= sc->n || sc->p[start + h] != '.')
        return false;
    pay = run_length(sc, start + h + 1, is_b64url, JWT_PART_MAX + 1);
    stop = start + h + 1 + pay;
    sc->done[4] = stop;
    if (pay == 0 || pay > JWT_PART_MAX || stop >= sc->n || sc->p[stop] != '.')
        return false;
    sig = run_length(sc, stop + 1, is_b64url, JWT_PART_MAX + 1);
    stop += 1 + sig;
    sc->done[4] = stop;
    if (sig > JWT_PART_MAX || !ends_clean(sc, stop, is_b64url) ||
        (stop < sc->n && sc->p[stop] == '.'))
        return false;
    len = b64url_decode(sc->p + start, h, header);
    if (len == SIZE_MAX || !jose_header_ok(header, len))
        return false;
    f->rule = sig == 0 ? "unsigned" : "jws";
    f->offset = start;
    f->length = stop - start;
    return true;
}

/* PEM PRIVATE KEYS */

static const struct {
    const char *label;
    const char *rule;
} pem_labels[] = {
    {"PRIVATE KEY", "pkcs8"},
    {"RSA PRIVATE KEY", "rsa"},
    {"EC PRIVATE KEY", "ec"},
    {"DSA PRIVATE KEY", "dsa"},
    {"OPENSSH PRIVATE KEY", "openssh"},
    {"ENCRYPTED PRIVATE KEY", "pkcs8_encrypted"},
};

/* What a PEM body holds, in text or in a JSON string (with its "\n"
   escapes and header lines such as Proc-Type: 4,ENCRYPTED). */
static bool
is_pem_char(char c)
{
    return is_alnum(c) || in_set(c, "+/=\\:,- \t\r\n");
}

/* The first offset of needle in p[from..to), or SIZE_MAX. */
static size_t
find_between(const struct scan *sc, size_t from, size_t to,
             const char *needle, size_t nlen)
{
    const char *hit;

    if (to <= from || to - from < nlen)
        return SIZE_MAX;
    hit = memmem(sc->p + from, to - from, needle, nlen);
    return hit == NULL ? SIZE_MAX : (size_t)(hit - sc->p);
}

/*
 * A PEM private key: the BEGIN line the trigger matched, to its END
 * line within PEM_MAX bytes. A block whose END line is missing (cut
 * off) still counts, up to where its body stops looking like one.
 */
static bool
check_pem(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    static const char begin[] = "-----BEGIN ";
    char close[64];
    size_t start, lablen, limit, hit, n;

    start = find_between(sc, end >= 46 ? end - 46 : 0, end, begin, 11);
    if (start == SIZE_MAX)
        return false;
    lablen = end - 5 - (start + 11);
    f->rule = NULL;
    for (size_t i = 0; i < ARRAY_LEN(pem_labels); i++)
        if (strlen(pem_labels[i].label) == lablen &&
            memcmp(pem_labels[i].label, sc->p + start + 11, lablen) == 0)
            f->rule = pem_labels[i].rule;
    if (f->rule == NULL)
        return false;
    n = (size_t)snprintf(close, sizeof(close), "-----END %.*s-----",
                         (int)lablen, sc->p + start + 11);
    limit = MIN(sc->n, start + PEM_MAX);
    hit = find_between(sc, end, limit, close, n);
    if (hit != SIZE_MAX)
        limit = hit + n;
    else
        limit = end + run_length(sc, end, is_pem_char, limit - end);
    sc->done[5] = hit != SIZE_MAX ? limit : MIN(sc->n, start + PEM_MAX);
    f->offset = start;
    f->length = limit - start;
    return true;
}

/* CLOUD PROVIDERS' KEYS */

/* Fixed-length keys: the trigger is the whole key; only its boundaries
   are left to check. */
static bool
fixed_key(struct scan *sc, size_t end, size_t len, bool (*cont)(char),
          const char *rule, struct inspect_sensitive_find *f)
{
    size_t start = end - len;

    if (!starts_clean(sc, start, cont) || !ends_clean(sc, end, cont))
        return false;
    f->rule = rule;
    f->offset = start;
    f->length = len;
    return true;
}

static bool
check_aws(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    return fixed_key(sc, end, 20, is_alnum, "aws_access_key", f);
}

static bool
check_google(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    return fixed_key(sc, end, 39, is_b64url, "google_api_key", f);
}

static bool
check_github(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    return fixed_key(sc, end, 40, is_word, "github_token", f);
}

static bool
check_github_pat(struct scan *sc, size_t end,
                 struct inspect_sensitive_find *f)
{
    return fixed_key(sc, end, 93, is_word, "github_pat", f);
}

static bool
is_slack_char(char c)
{
    return is_alnum(c) || c == '-';
}

/* xoxb-, xoxp-, ... then numbers and a secret joined by dashes. */
static bool
check_slack(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    size_t start = end - 11, len, dashes = 0;

    len = 11 + run_length(sc, end, is_slack_char, 245);
    if (!starts_clean(sc, start, is_word) ||
        !ends_clean(sc, start + len, is_slack_char) || len < 24)
        return false;
    for (size_t i = start; i < start + len; i++)
        dashes += sc->p[i] == '-';
    if (dashes < 3)
        return false;
    f->rule = "slack_token";
    f->offset = start;
    f->length = len;
    return true;
}

/* sk_live_ and rk_live_ keys: 24 to 99 letters and digits. */
static bool
check_stripe(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    size_t start = end - 32, len;

    len = 32 + run_length(sc, end, is_alnum, 75);
    if (!starts_clean(sc, start, is_word) ||
        !ends_clean(sc, start + len, is_word))
        return false;
    f->rule = "stripe_secret_key";
    f->offset = start;
    f->length = len;
    return true;
}

/* APIWARD API KEYS */

static bool
is_key_id_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z');
}

/*
 * "aw_<id>_<secret>" as identity.h defines it: an id of APIKEY_ID_MIN
 * to APIKEY_ID_MAX of a-z 0-9, and a secret of APIKEY_SECRET_CHARS
 * base64url characters whose last one leaves its two unused bits zero.
 */
static bool
check_apikey(struct scan *sc, size_t end, struct inspect_sensitive_find *f)
{
    size_t head = sizeof(APIKEY_PREFIX), id, secret;
    size_t start = end - head - APIKEY_ID_MIN;

    if (!starts_clean(sc, start, is_b64url))
        return false;
    id = run_length(sc, start + head, is_key_id_char, APIKEY_ID_MAX + 1);
    if (id > APIKEY_ID_MAX || start + head + id >= sc->n ||
        sc->p[start + head + id] != '_')
        return false;
    secret = start + head + id + 1;
    if (run_length(sc, secret, is_b64url, APIKEY_SECRET_CHARS + 1) !=
            APIKEY_SECRET_CHARS ||
        (b64url_value(sc->p[secret + APIKEY_SECRET_CHARS - 1]) & 3) != 0)
        return false;
    f->rule = "apiward";
    f->offset = start;
    f->length = head + id + 1 + APIKEY_SECRET_CHARS;
    return true;
}

/* THE DATABASE */

#define APIKEY_TRIGGER APIKEY_PREFIX "_[a-z0-9]{8}"

static const struct pattern patterns[] = {
    {INSPECT_SENS_CARD, "[0-9](?:[ -]?[0-9]){12}", check_card},
    {INSPECT_SENS_IBAN, "[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4}", check_iban},
    {INSPECT_SENS_NATIONAL_ID, "[0-9]{3}-[0-9]{2}-[0-9]{4}", check_ssn},
    {INSPECT_SENS_EMAIL, "@[A-Za-z0-9]", check_email},
    {INSPECT_SENS_JWT, "e[wy][A-Za-z0-9_-]{14}", check_jwt},
    {INSPECT_SENS_PRIVATE_KEY,
     "-----BEGIN (?:(?:RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----",
     check_pem},
    {INSPECT_SENS_CLOUD_KEY, "A(?:KIA|SIA)[A-Z0-9]{16}", check_aws},
    {INSPECT_SENS_CLOUD_KEY, "AIza[0-9A-Za-z_-]{35}", check_google},
    {INSPECT_SENS_CLOUD_KEY, "gh[pousr]_[A-Za-z0-9]{36}", check_github},
    {INSPECT_SENS_CLOUD_KEY, "github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}",
     check_github_pat},
    {INSPECT_SENS_CLOUD_KEY, "xox[abeoprs]-[0-9A-Za-z]{6}", check_slack},
    {INSPECT_SENS_CLOUD_KEY, "[rs]k_live_[0-9A-Za-z]{24}", check_stripe},
    {INSPECT_SENS_API_KEY, APIKEY_TRIGGER, check_apikey},
};

const char *
inspect_sensitive_name(unsigned kind)
{
    for (unsigned i = 0; i < INSPECT_SENS_NKINDS; i++)
        if (kind == 1u << i)
            return kind_names[i];
    return NULL;
}

unsigned
inspect_sensitive_parse(struct slice name)
{
    for (unsigned i = 0; i < INSPECT_SENS_NKINDS; i++)
        if (name.len == strlen(kind_names[i]) &&
            memcmp(name.ptr, kind_names[i], name.len) == 0)
            return 1u << i;
    return 0;
}

/* The index of a kind bit, for the cursors. */
static unsigned
kind_index(unsigned kind)
{
    return (unsigned)__builtin_ctz(kind);
}

int
inspect_sensitive_db_compile(unsigned kinds, struct inspect_sensitive_db **out,
                             char *err, size_t errlen)
{
    const char *exprs[ARRAY_LEN(patterns)];
    unsigned flags[ARRAY_LEN(patterns)], ids[ARRAY_LEN(patterns)], n = 0;
    struct inspect_sensitive_db *db = calloc(1, sizeof(*db));
    hs_compile_error_t *ce = NULL;

    if (db == NULL)
        return AW_NOMEM;
    db->kinds = kinds & INSPECT_SENS_ALL;
    for (unsigned i = 0; i < ARRAY_LEN(patterns); i++) {
        if (!(db->kinds & patterns[i].kind))
            continue;
        exprs[n] = patterns[i].expr;
        flags[n] = 0;
        ids[n] = n;
        db->ids[n++] = i;
    }
    if (n > 0 && hs_compile_multi(exprs, flags, ids, n, HS_MODE_BLOCK, NULL,
                                  &db->hs, &ce) != HS_SUCCESS) {
        snprintf(err, errlen, "sensitive data patterns: %s",
                 ce != NULL ? ce->message : "not compiled");
        hs_free_compile_error(ce);
        free(db);
        return AW_INVALID;
    }
    *out = db;
    return AW_OK;
}

void
inspect_sensitive_db_free(struct inspect_sensitive_db *db)
{
    if (db == NULL)
        return;
    hs_free_database(db->hs);
    free(db);
}

unsigned
inspect_sensitive_db_kinds(const struct inspect_sensitive_db *db)
{
    return db->kinds;
}

int
inspect_sensitive_scratch_reserve(struct inspect_sensitive_scratch **s,
                                  const struct inspect_sensitive_db *db)
{
    struct inspect_sensitive_scratch *fresh = NULL;
    hs_scratch_t *hs;

    if (*s == NULL) {
        fresh = calloc(1, sizeof(*fresh));
        if (fresh == NULL)
            return AW_NOMEM;
    }
    hs = *s != NULL ? (*s)->hs : NULL;
    if (db->hs != NULL && hs_alloc_scratch(db->hs, &hs) != HS_SUCCESS) {
        free(fresh);
        return AW_NOMEM;
    }
    if (fresh != NULL)
        *s = fresh;
    (*s)->hs = hs;
    return AW_OK;
}

void
inspect_sensitive_scratch_free(struct inspect_sensitive_scratch *s)
{
    if (s == NULL)
        return;
    hs_free_scratch(s->hs);
    free(s);
}

/* Vectorscan's callback: one trigger ended at to. */
static int
on_trigger(unsigned int id, unsigned long long from, unsigned long long to,
           unsigned int flags, void *ctx)
{
    struct scan *sc = ctx;
    const struct pattern *pt = &patterns[sc->db->ids[id]];
    struct inspect_sensitive_find f;

    (void)from, (void)flags;
    if (!(sc->kinds & pt->kind) || to <= sc->done[kind_index(pt->kind)])
        return 0;
    if (pt->check(sc, (size_t)to, &f)) {
        f.kind = pt->kind;
        emit(sc, &f);
    }
    return sc->stop;
}

int
inspect_sensitive_scan(const struct inspect_sensitive_db *db,
                       struct inspect_sensitive_scratch *s,
                       struct slice text, unsigned kinds,
                       inspect_sensitive_cb on_find, void *ctx)
{
    struct scan sc = {.p = text.ptr, .n = text.len, .on_find = on_find,
                      .ctx = ctx, .db = db};
    hs_error_t rc;

    sc.kinds = kinds & db->kinds;
    if (db->hs == NULL || sc.kinds == 0 || text.len == 0)
        return AW_OK;
    if (text.len > UINT32_MAX)
        return AW_ERROR;    /* Vectorscan's block mode takes 32-bit sizes */
    rc = hs_scan(db->hs, text.ptr, (unsigned)text.len, 0, s->hs, on_trigger,
                 &sc);
    if (rc == HS_SCAN_TERMINATED)
        return AW_DONE;
    return rc == HS_SUCCESS ? AW_OK : AW_ERROR;
}

/* MASKING */

/*
 * Whether the card at f is a bare JSON number: digits alone, after ':',
 * '[', ',' or nothing and before ',', ']', '}' or nothing (blanks
 * aside). Inside a string it would be followed by more string or its
 * closing quote.
 */
static bool
bare_json_number(struct slice t, const struct inspect_sensitive_find *f)
{
    size_t a = f->offset, b = f->offset + f->length;

    for (size_t i = a; i < b; i++)
        if (!is_digit(t.ptr[i]))
            return false;
    while (a > 0 && is_json_space((unsigned char)t.ptr[a - 1]))
        a--;
    while (b < t.len && is_json_space((unsigned char)t.ptr[b]))
        b++;
    return (a == 0 || in_set(t.ptr[a - 1], ":[,")) &&
           (b == t.len || in_set(t.ptr[b], ",]}"));
}

/* The bytes of an apiward API key shown: "aw_<id>_". */
static size_t
apikey_shown(struct slice t, const struct inspect_sensitive_find *f)
{
    const char *p = t.ptr + f->offset;
    size_t i = sizeof(APIKEY_PREFIX);

    while (i < f->length && p[i] != '_')
        i++;
    return MIN(i + 1, f->length);
}

/*
 * Bytes at the start of the finding at off that continue a JSON escape
 * begun before it (an email's local part read back from "@" may start
 * at the "u" of "\u0041"): they are kept, so that masking cannot
 * break the escape.
 */
static size_t
escape_tail(struct slice text, size_t off, size_t len)
{
    for (size_t back = 1; back <= 5 && back <= off; back++) {
        size_t at = off - back, run = 0, esc;

        if (text.ptr[at] != '\\')
            continue;
        while (run < at && text.ptr[at - run - 1] == '\\')
            run++;
        if (run % 2 == 1)
            return 0;       /* the second byte of an escaped "\\" */
        esc = at + 1 < text.len && text.ptr[at + 1] == 'u' ? 6 : 2;
        return at + esc <= off ? 0 : MIN(at + esc - off, len);
    }
    return 0;
}

size_t
inspect_sensitive_mask(struct slice text,
                       const struct inspect_sensitive_find *f,
                       unsigned flags, char *out, size_t cap)
{
    const char *p = text.ptr + f->offset;
    size_t n = MIN(f->length, cap), digits = 0, seen = 0, shown = 0;
    size_t kept = 0;
    char fill = '*';
    bool card = f->kind == INSPECT_SENS_CARD;

    if (card) {
        for (size_t i = 0; i < f->length; i++)
            digits += is_digit(p[i]);
        if ((flags & INSPECT_SENS_MASK_JSON) && bare_json_number(text, f))
            fill = '9';
    }
    if (f->kind == INSPECT_SENS_API_KEY)
        shown = apikey_shown(text, f);
    if (flags & INSPECT_SENS_MASK_JSON)
        kept = escape_tail(text, f->offset, n);
    memcpy(out, p, kept);
    for (size_t i = kept; i < n; i++) {
        char c = p[i];

        if (p[i] == '\\') {
            /* An escape stays whole, one the finding ends inside too;
             * \uXXXX is six bytes. */
            size_t len = f->offset + i + 1 < text.len && p[i + 1] == 'u'
                             ? 6 : 2;

            for (size_t k = 0; k < len && i < n; k++, i++)
                out[i] = p[i];
            i--;
            continue;
        }
        if (card && is_digit(c))
            out[i] = ++seen + 4 > digits ? c : fill;
        else if (card || i < shown)
            out[i] = c;
        else
            out[i] = '*';
    }
    return n;
}
