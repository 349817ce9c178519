/*
 * CRLF injection: line breaks that, once the value is copied into a
 * response header (a redirect's Location, a cookie) or a log line, start
 * a header or a whole response of the attacker's choosing.
 *
 * Free text holds line breaks legitimately ("Hello\nNote: ..."), so what
 * counts is a line that reads as a header the attacker gains from
 * (Set-Cookie, Location with a URL, Content-Length, ...) or as a status
 * line (HTTP/1.1 200), which starts a second response. In a query
 * parameter or a path segment, the values that end up in a Location or
 * a cookie, a blank line of CRLFs followed by markup ends the headers
 * and starts a body of the attacker's choosing; in free text (JSON,
 * forms) a blank line before HTML is ordinary. In a header or
 * cookie value, where no line break belongs, any CR or LF counts. The
 * characters U+560A and U+560D count as line breaks too: servers that
 * keep only the low byte of each UTF-16 unit turn them into LF and CR.
 */
#include <string.h>

#include "internal.h"

/* Headers an injected line gains from; the shape test on their value
   keeps prose like "Location: Paris" out. Lower case. */
enum shape { ANY, URL, TYPE, DIGITS, HOST };

static const struct {
    const char *name;
    enum shape shape;
} headers[] = {
    {"set-cookie", ANY},
    {"location", URL},
    {"content-location", URL},
    {"refresh", ANY},
    {"content-type", TYPE},
    {"content-length", DIGITS},
    {"transfer-encoding", ANY},
    {"content-disposition", ANY},
    {"content-security-policy", ANY},
    {"access-control-allow-origin", ANY},
    {"access-control-allow-credentials", ANY},
    {"x-xss-protection", ANY},
    {"x-forwarded-for", ANY},
    {"x-forwarded-host", ANY},
    {"host", HOST},
    {"cookie", ANY},
    {"authorization", ANY},
    {"link", URL},
};

/* Length of a line break at s[i..), 0 if none. */
static size_t
line_break(struct slice s, size_t i)
{
    const unsigned char *p = (const unsigned char *)s.ptr + i;

    if (p[0] == '\r' || p[0] == '\n')
        return 1;
    if (i + 3 <= s.len && p[0] == 0xe5 && p[1] == 0x98 &&
        (p[2] == 0x8a || p[2] == 0x8d))
        return 3;
    return 0;
}

/* True when header value v (after its leading blanks) has the shape
   sh asks for. */
static bool
value_shaped(struct slice v, enum shape sh)
{
    size_t i = 0;

    while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t'))
        i++;
    v = (struct slice){v.ptr + i, v.len - i};
    switch (sh) {
    case URL:
        return (v.len > 0 && v.ptr[0] == '/') ||
               inspect_find_nocase(v, 0, "://") != SIZE_MAX;
    case TYPE:
        return v.len > 0 && memchr(v.ptr, '/', v.len) != NULL;
    case DIGITS:
        return v.len > 0 && v.ptr[0] >= '0' && v.ptr[0] <= '9';
    case HOST:
        /* A name with a dot or a port, not "Host: Alice". */
        return v.len > 0 && memchr(v.ptr, ' ', v.len) == NULL &&
               (memchr(v.ptr, '.', v.len) != NULL ||
                memchr(v.ptr, ':', v.len) != NULL);
    default:
        return true;
    }
}

/* True when the line s[i..) reads as a header that matters. */
static bool
header_line(struct slice s, size_t i)
{
    size_t colon, end = i;

    while (end < s.len && !line_break(s, end))
        end++;
    colon = i;
    while (colon < end && s.ptr[colon] != ':' && s.ptr[colon] != ' ')
        colon++;
    if (colon == end || s.ptr[colon] != ':')
        return false;
    for (size_t k = 0; k < ARRAY_LEN(headers); k++) {
        size_t n = strlen(headers[k].name);

        if (colon - i == n && inspect_prefix_nocase(s.ptr + i, n,
                                                    headers[k].name))
            return value_shaped((struct slice){s.ptr + colon + 1,
                                               end - colon - 1},
                                headers[k].shape);
    }
    return false;
}

/* True when the run of line breaks s[i..j) ends a header block: it
   holds a CR and at least two LFs (or their U+560x forms). */
static bool
blank_line(struct slice s, size_t i, size_t j)
{
    unsigned cr = 0, lf = 0;

    while (i < j) {
        size_t n = line_break(s, i);
        unsigned char c = (unsigned char)s.ptr[i + n - 1];

        cr += c == '\r' || c == 0x8d;
        lf += c == '\n' || c == 0x8a;
        i += n;
    }
    return cr > 0 && lf >= 2;
}

/* True when s[j..) starts markup: '<' then a letter or '!'. */
static bool
markup_at(struct slice s, size_t j)
{
    return j + 1 < s.len && s.ptr[j] == '<' &&
           (s.ptr[j + 1] == '!' || ((s.ptr[j + 1] | 0x20) >= 'a' &&
                                    (s.ptr[j + 1] | 0x20) <= 'z'));
}

/* Each run of line breaks is looked at once: what the line after it
   starts with. */
bool
inspect_crlf_match(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct slice s = v->text;
    bool strict = v->origin == INSPECT_HEADER || v->origin == INSPECT_COOKIE;
    bool reflected = v->origin == INSPECT_QUERY_PARAM ||
                     v->origin == INSPECT_PATH_SEGMENT;

    for (size_t i = 0; i < s.len; i++) {
        size_t n = line_break(s, i), j;

        if (n == 0)
            continue;
        if (strict)
            return inspect_found(v, "crlf", "inspect.crlf", "line_break",
                                 80, i, out);
        for (j = i + n; j < s.len && (n = line_break(s, j)) > 0; j += n)
            ;
        if (inspect_prefix_nocase(s.ptr + j, s.len - j, "http/1.") ||
            inspect_prefix_nocase(s.ptr + j, s.len - j, "http/2"))
            return inspect_found(v, "crlf", "inspect.crlf",
                                 "response_splitting", 90, i, out);
        if (reflected && markup_at(s, j) && blank_line(s, i, j))
            return inspect_found(v, "crlf", "inspect.crlf",
                                 "response_splitting", 90, i, out);
        if (header_line(s, j))
            return inspect_found(v, "crlf", "inspect.crlf",
                                 "header_injection", 85, i, out);
        i = j - 1;
    }
    return false;
}
