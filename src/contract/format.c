/*
 * The formats the validator asserts. Each check follows the grammar its
 * RFC gives (RFC 3339 dates and times, RFC 5321 mailboxes without
 * internationalisation, RFC 4122 UUIDs, RFC 3986 URIs, dotted-quad IPv4,
 * RFC 4291 IPv6, RFC 1123 host names) and refuses anything outside it;
 * none allocates.
 */
#include <arpa/inet.h>
#include <string.h>

#include "schema_int.h"

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_hex(char c)
{
    return hex_digit_value((unsigned char)c) >= 0;
}

/* n decimal digits at p as a number, or -1. */
static int
digits(const char *p, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (!is_digit(p[i]))
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

static bool
leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* full-date: YYYY-MM-DD with a day that exists. */
static bool
fmt_date(struct slice s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (s.len != 10 || s.ptr[4] != '-' || s.ptr[7] != '-')
        return false;
    y = digits(s.ptr, 4);
    m = digits(s.ptr + 5, 2);
    d = digits(s.ptr + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && leap(y));
}

/*
 * full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM). A leap second (:60) is
 * only valid at 23:59 UTC.
 */
static bool
fmt_time(struct slice s)
{
    const char *p = s.ptr;
    size_t i = 8;
    int h, m, sec, oh = 0, om = 0, sign = 0, utc;

    if (s.len < 9 || p[2] != ':' || p[5] != ':')
        return false;
    h = digits(p, 2);
    m = digits(p + 3, 2);
    sec = digits(p + 6, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
        return false;
    if (p[i] == '.') {
        size_t start = ++i;

        while (i < s.len && is_digit(p[i]))
            i++;
        if (i == start)
            return false;
    }
    if (i < s.len && (p[i] == 'Z' || p[i] == 'z')) {
        i++;
    } else if (i < s.len && (p[i] == '+' || p[i] == '-')) {
        sign = p[i] == '+' ? 1 : -1;
        if (s.len - i != 6 || p[i + 3] != ':')
            return false;
        oh = digits(p + i + 1, 2);
        om = digits(p + i + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return false;
        i += 6;
    } else {
        return false;
    }
    if (i != s.len)
        return false;
    utc = ((h * 60 + m - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
    return sec != 60 || utc == 23 * 60 + 59;
}

static bool
fmt_date_time(struct slice s)
{
    if (s.len < 20 || (s.ptr[10] != 'T' && s.ptr[10] != 't'))
        return false;
    return fmt_date((struct slice){s.ptr, 10}) &&
           fmt_time((struct slice){s.ptr + 11, s.len - 11});
}

static bool
fmt_uuid(struct slice s)
{
    if (s.len != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s.ptr[i] != '-' : !is_hex(s.ptr[i]))
            return false;
    }
    return true;
}

static bool
fmt_ipv4(struct slice s)
{
    size_t i = 0;

    for (int part = 0; part < 4; part++) {
        size_t start = i;
        int v = 0;

        if (part > 0 && (i >= s.len || s.ptr[i++] != '.'))
            return false;
        start = i;
        while (i < s.len && is_digit(s.ptr[i]) && i - start < 3)
            v = v * 10 + (s.ptr[i++] - '0');
        if (i == start || v > 255 || (s.ptr[start] == '0' && i - start > 1))
            return false;
    }
    return i == s.len;
}

static bool
fmt_ipv6(struct slice s)
{
    char buf[64];
    unsigned char out[16];

    if (s.len == 0 || s.len >= sizeof(buf))
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!is_hex(s.ptr[i]) && s.ptr[i] != ':' && s.ptr[i] != '.')
            return false;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    /* An embedded IPv4 address follows the dotted-quad rules, which
     * inet_pton does not apply to it. */
    const char *dot = memchr(s.ptr, '.', s.len);

    if (dot != NULL) {
        const char *start = strrchr(buf, ':');

        if (start == NULL ||
            !fmt_ipv4((struct slice){start + 1, strlen(start + 1)}))
            return false;
    }
    return inet_pton(AF_INET6, buf, out) == 1;
}

/*
 * RFC 1123 host name: dot-separated labels of letters, digits and
 * inner hyphens, each 1..63 bytes, 253 in all. An A-label ("xn--") is
 * taken as such a label; its decoding is not checked against IDNA.
 */
static bool
fmt_hostname(struct slice s)
{
    size_t label = 0;

    if (s.len == 0 || s.len > 253)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];

        if (c == '.') {
            if (label == 0 || s.ptr[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return false;
        if ((label == 0 && c == '-') || ++label > 63)
            return false;
    }
    return label > 0 && s.ptr[s.len - 1] != '-';
}

static bool
atext(char c)
{
    return is_alpha(c) || is_digit(c) ||
           (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* The local part: a dot-atom or a quoted string. */
static bool
email_local(struct slice s)
{
    if (s.len >= 2 && s.ptr[0] == '"' && s.ptr[s.len - 1] == '"') {
        for (size_t i = 1; i + 1 < s.len; i++) {
            unsigned char c = (unsigned char)s.ptr[i];

            if (c == '\\' && i + 2 < s.len)
                i++;
            else if (c == '"' || c == '\\' || c < 0x20 || c > 0x7e)
                return false;
        }
        return true;
    }
    if (s.len == 0 || s.ptr[0] == '.' || s.ptr[s.len - 1] == '.')
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] == '.' && s.ptr[i + 1] == '.')
            return false;
        if (s.ptr[i] != '.' && !atext(s.ptr[i]))
            return false;
    }
    return true;
}

static bool
fmt_email(struct slice s)
{
    const char *at = NULL;
    struct slice dom;

    for (size_t i = 0; i < s.len; i++)
        if (s.ptr[i] == '@')
            at = s.ptr + i;
    if (at == NULL || !email_local((struct slice){s.ptr, (size_t)(at - s.ptr)}))
        return false;
    dom = (struct slice){at + 1, s.len - (size_t)(at + 1 - s.ptr)};
    if (dom.len > 2 && dom.ptr[0] == '[' && dom.ptr[dom.len - 1] == ']') {
        struct slice lit = {dom.ptr + 1, dom.len - 2};

        if (lit.len > 5 && memcmp(lit.ptr, "IPv6:", 5) == 0)
            return fmt_ipv6((struct slice){lit.ptr + 5, lit.len - 5});
        return fmt_ipv4(lit);
    }
    return fmt_hostname(dom);
}

/* RFC 3986 characters allowed outside percent-escapes in a reference. */
static bool
uri_char(char c)
{
    return is_alpha(c) || is_digit(c) ||
           (c != '\0' && strchr("-._~!$&'()*+,;=:@/?#[]", c) != NULL);
}

/* Every byte allowed, every '%' followed by two hex digits, at most one
 * '#', and brackets only around an IP literal in the authority. */
static bool
uri_chars(struct slice s)
{
    size_t hashes = 0;

    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];

        if (c == '%') {
            if (i + 2 >= s.len + 0 || !is_hex(s.ptr[i + 1]) ||
                !is_hex(s.ptr[i + 2]))
                return false;
            i += 2;
        } else if (c == '#') {
            hashes++;
        } else if (!uri_char(c)) {
            return false;
        }
    }
    return hashes <= 1;
}

/* Length of a scheme ("http") at the start of s followed by ':', or 0. */
static size_t
uri_scheme(struct slice s)
{
    size_t i = 0;

    if (s.len == 0 || !is_alpha(s.ptr[0]))
        return 0;
    while (i < s.len && (is_alpha(s.ptr[i]) || is_digit(s.ptr[i]) ||
                         s.ptr[i] == '+' || s.ptr[i] == '-' ||
                         s.ptr[i] == '.'))
        i++;
    return i < s.len && s.ptr[i] == ':' ? i : 0;
}

/* The authority after "//": brackets only as a whole host, a port of
 * digits. */
static bool
uri_authority(struct slice s)
{
    size_t end = 0, at = 0;

    while (end < s.len && s.ptr[end] != '/' && s.ptr[end] != '?' &&
           s.ptr[end] != '#')
        end++;
    for (size_t i = 0; i < end; i++) {
        if (s.ptr[i] == '@' && at > 0)
            return false;
        if (s.ptr[i] == '@')
            at = i + 1;
    }
    for (size_t i = 0; i < at; i++)
        if (s.ptr[i] == '[' || s.ptr[i] == ']')
            return false;
    if (at < end && s.ptr[at] == '[') {
        const char *close = memchr(s.ptr + at, ']', end - at);

        if (close == NULL)
            return false;
        if (s.ptr[at + 1] != 'v' && s.ptr[at + 1] != 'V' &&
            !fmt_ipv6((struct slice){s.ptr + at + 1,
                                     (size_t)(close - s.ptr) - at - 1}))
            return false;
        at = (size_t)(close - s.ptr) + 1;
        if (at < end && s.ptr[at] != ':')
            return false;
    }
    for (size_t i = at; i < end; i++) {
        if (s.ptr[i] == '[' || s.ptr[i] == ']')
            return false;
        if (s.ptr[i] == ':')
            for (size_t j = i + 1; j < end; j++)
                if (!is_digit(s.ptr[j]))
                    return false;
    }
    return true;
}

static bool
fmt_uri_reference(struct slice s)
{
    size_t sch = uri_scheme(s);
    struct slice rest = {s.ptr + sch + (sch ? 1 : 0),
                         s.len - sch - (sch ? 1 : 0)};

    if (!uri_chars(s))
        return false;
    if (rest.len >= 2 && rest.ptr[0] == '/' && rest.ptr[1] == '/')
        return uri_authority((struct slice){rest.ptr + 2, rest.len - 2});
    for (size_t i = 0; i < rest.len && rest.ptr[i] != '#'; i++)
        if (rest.ptr[i] == '[' || rest.ptr[i] == ']')
            return false;
    /* A relative path's first segment may not hold a colon: it would
     * read as a scheme. */
    if (sch == 0)
        for (size_t i = 0; i < s.len && s.ptr[i] != '/' && s.ptr[i] != '?' &&
                           s.ptr[i] != '#'; i++)
            if (s.ptr[i] == ':')
                return false;
    return true;
}

static bool
fmt_uri(struct slice s)
{
    return uri_scheme(s) > 0 && fmt_uri_reference(s);
}

bool
format_check(enum schema_format f, struct slice s)
{
    switch (f) {
    case FMT_NONE:
        return true;
    case FMT_DATE_TIME:
        return fmt_date_time(s);
    case FMT_DATE:
        return fmt_date(s);
    case FMT_TIME:
        return fmt_time(s);
    case FMT_EMAIL:
        return fmt_email(s);
    case FMT_UUID:
        return fmt_uuid(s);
    case FMT_URI:
        return fmt_uri(s);
    case FMT_URI_REFERENCE:
        return fmt_uri_reference(s);
    case FMT_IPV4:
        return fmt_ipv4(s);
    case FMT_IPV6:
        return fmt_ipv6(s);
    case FMT_HOSTNAME:
        return fmt_hostname(s);
    }
    return false;
}

bool
schema_format_asserted(const char *name)
{
    return format_by_name((struct slice){name, strlen(name)}) != FMT_NONE;
}

enum schema_format
format_by_name(struct slice n)
{
    static const struct {
        const char *name;
        enum schema_format f;
    } names[] = {
        {"date-time", FMT_DATE_TIME}, {"date", FMT_DATE},
        {"time", FMT_TIME},           {"email", FMT_EMAIL},
        {"uuid", FMT_UUID},           {"uri", FMT_URI},
        {"uri-reference", FMT_URI_REFERENCE},
        {"ipv4", FMT_IPV4},           {"ipv6", FMT_IPV6},
        {"hostname", FMT_HOSTNAME},
    };

    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (n.len == strlen(names[i].name) &&
            memcmp(n.ptr, names[i].name, n.len) == 0)
            return names[i].f;
    return FMT_NONE;
}
