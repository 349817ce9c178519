/*
 * URLs and server-side request forgery.
 *
 * A value that a backend will fetch (a webhook, an avatar URL, an import
 * source) must not name the backend's own network. Attackers get past
 * simple checks by writing the host so that the check and the fetcher
 * read it differently: 127.1, 0x7f.1, 2130706433 and 017700000001 are
 * all 127.0.0.1 to inet_aton and to browsers; [::ffff:127.0.0.1] is too;
 * "http://good@evil" goes to evil; "http://evil\@good" goes to evil for
 * a WHATWG reader and to good for an RFC 3986 one; fullwidth digits and
 * dots become ASCII under IDNA mapping.
 *
 * So the parser reads a URL the way WHATWG-conforming resolvers (and
 * curl, which follows them for these points) do: tabs and newlines
 * dropped, backslashes as slashes in special schemes, any number of
 * slashes after "http:", the last '@' ending the userinfo, hosts
 * percent-decoded and lower-cased, IPv4 in every numeric form, IPv6 with
 * embedded IPv4 and zone identifiers. When a reading that keeps
 * backslashes as data gives another host, the URL is ambiguous and is
 * refused as such.
 */
#include <string.h>

#include "internal.h"

/* Schemes whose URLs always have a host (WHATWG's special schemes). */
static const char *const special_schemes[] = {
    "http", "https", "ws", "wss", "ftp", "file",
};

/* Schemes that reach files, other protocols or code when a server
   fetches them; refused even without "//". */
static const char *const fetch_schemes[] = {
    "file", "gopher", "dict", "ftp", "tftp", "ldap", "ldaps", "jar",
    "netdoc", "phar", "php", "expect", "smb", "sftp", "scp", "telnet",
    "redis", "mysql", "zip", "data", "ws", "wss",
};

/* Names that are internal wherever they are resolved. */
static const char *const default_internal[] = {
    "*.internal", "*.local", "*.localdomain", "*.home.arpa", "*.intranet",
    "*.corp", "*.lan", "*.svc",
};

static const char *const default_schemes[] = {"http", "https"};

void
inspect_ssrf_opts_default(struct inspect_ssrf_opts *o)
{
    o->schemes = default_schemes;
    o->nschemes = ARRAY_LEN(default_schemes);
    o->internal = default_internal;
    o->ninternal = ARRAY_LEN(default_internal);
    o->allow_userinfo = false;
    o->allow_single_label = false;
    o->max_len = 2048;
}

/* True when s is one of the n lower-case strings of list (ASCII case
   folded). */
static bool
in_list(struct slice s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (slice_is(s, list[i]))
            return true;
    return false;
}

static bool
is_alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Copy s into buf without tabs and newlines and without leading and
 * trailing C0 controls and spaces, as WHATWG parsers do before reading.
 * Returns the copy's length.
 */
static size_t
strip(struct slice s, char *buf)
{
    size_t a = 0, b = s.len, n = 0;

    while (a < b && (unsigned char)s.ptr[a] <= ' ')
        a++;
    while (b > a && (unsigned char)s.ptr[b - 1] <= ' ')
        b--;
    for (size_t i = a; i < b; i++)
        if (s.ptr[i] != '\t' && s.ptr[i] != '\n' && s.ptr[i] != '\r')
            buf[n++] = s.ptr[i];
    return n;
}

/* The scheme's length (before ':'), or 0 when s does not start with
   one. A URL goes on after the colon without a blank: "file: /etc/x"
   and "Note: ..." are prose or YAML, not URLs. */
static size_t
scheme_len(const char *s, size_t n)
{
    size_t i = 0;

    if (n == 0 || !is_alpha((unsigned char)s[0]))
        return 0;
    while (i < n && (is_alpha((unsigned char)s[i]) ||
                     is_digit((unsigned char)s[i]) || s[i] == '+' ||
                     s[i] == '-' || s[i] == '.'))
        i++;
    if (i + 1 >= n || s[i] != ':' || s[i + 1] == ' ')
        return 0;
    return i;
}

/* Split the authority a into userinfo, host and port. */
static int
split_authority(struct slice a, struct inspect_url *u)
{
    const char *at = NULL, *colon = NULL;
    size_t hstart;

    for (size_t i = 0; i < a.len; i++)
        if (a.ptr[i] == '@')
            at = a.ptr + i;
    hstart = at != NULL ? (size_t)(at - a.ptr) + 1 : 0;
    u->has_userinfo = at != NULL;
    u->userinfo = (struct slice){a.ptr, at != NULL ? hstart - 1 : 0};
    u->host = (struct slice){a.ptr + hstart, a.len - hstart};

    if (u->host.len > 0 && u->host.ptr[0] == '[') {
        const char *close = memchr(u->host.ptr, ']', u->host.len);

        if (close == NULL)
            return AW_INVALID;
        colon = close + 1 < u->host.ptr + u->host.len ? close + 1 : NULL;
        if (colon != NULL && *colon != ':')
            return AW_INVALID;
        u->ipv6_literal = true;
    } else {
        colon = memrchr(u->host.ptr, ':', u->host.len);
    }
    if (colon == NULL)
        return AW_OK;
    u->port = (struct slice){colon + 1,
                             (size_t)(u->host.ptr + u->host.len - colon - 1)};
    u->host.len = (size_t)(colon - u->host.ptr);
    if (u->port.len > 0 && slice_to_u64(u->port, 65535, &u->port_num) != AW_OK)
        return AW_INVALID;
    u->has_port = u->port.len > 0;
    return AW_OK;
}

/*
 * Read the stripped URL buf[0..n). special_slash says whether a
 * backslash counts as a slash in special schemes (WHATWG) or as data.
 */
static int
parse_stripped(char *buf, size_t n, bool special_slash, struct inspect_url *u)
{
    size_t sl = scheme_len(buf, n), p, end;
    bool special;

    memset(u, 0, sizeof(*u));
    u->scheme = (struct slice){buf, sl};
    special = in_list(u->scheme, special_schemes, ARRAY_LEN(special_schemes));
    p = sl > 0 ? sl + 1 : 0;
    /* "//host" and "/\\host" take the scheme of the page or request
       they are resolved against, which is special in practice. */
    if (sl == 0) {
        if (n < 2 || strchr("/\\", buf[0]) == NULL ||
            strchr("/\\", buf[1]) == NULL ||
            (!special_slash && (buf[0] != '/' || buf[1] != '/')))
            return AW_DECLINED;
        special = true;
    }
    if (special && special_slash)
        for (size_t i = p; i < n; i++)
            buf[i] = buf[i] == '\\' ? '/' : buf[i];

    if (special) {
        while (p < n && buf[p] == '/')
            p++;
    } else if (p + 1 < n && buf[p] == '/' && buf[p + 1] == '/') {
        p += 2;
    } else {
        u->path = (struct slice){buf + p, n - p};
        return AW_OK;
    }
    for (end = p; end < n; end++)
        if (buf[end] == '/' || buf[end] == '?' || buf[end] == '#')
            break;
    u->has_authority = true;
    u->path = (struct slice){buf + end, n - end};
    return split_authority((struct slice){buf + p, end - p}, u);
}

int
inspect_url_parse(struct slice s, char *buf, size_t cap,
                  struct inspect_url *u)
{
    size_t n;

    if (cap < s.len)
        return AW_TOOBIG;
    n = strip(s, buf);
    return parse_stripped(buf, n, true, u);
}

/*
 * Host decoding: percent escapes and ASCII lower case (host_map_wide
 * then applies the IDNA mappings). Shrinks or keeps the length. Writes
 * into out (at least h.len bytes); returns the length.
 */
static size_t
host_decode(struct slice h, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < h.len; i++) {
        unsigned char c = (unsigned char)h.ptr[i];
        int hi = i + 2 < h.len ? hex_digit_value((unsigned char)h.ptr[i + 1])
                               : -1;
        int lo = i + 2 < h.len ? hex_digit_value((unsigned char)h.ptr[i + 2])
                               : -1;

        if (c == '%' && hi >= 0 && lo >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        out[n++] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
    }
    return n;
}

/*
 * The ASCII character IDNA mapping gives a code point that attackers use
 * to spell addresses and names: fullwidth forms (U+FF01..U+FF5E), the
 * ideographic and halfwidth full stops, circled digits (U+2460..U+2468,
 * U+24EA) and circled letters (U+24B6..U+24E9). 0 for any other.
 */
static unsigned char
wide_ascii(unsigned cp)
{
    unsigned char a = 0;

    if (cp >= 0xff01 && cp <= 0xff5e)
        a = (unsigned char)(cp - 0xff01 + 0x21);
    else if (cp == 0x3002 || cp == 0xff61)
        a = '.';
    else if (cp >= 0x2460 && cp <= 0x2468)
        a = (unsigned char)('1' + (cp - 0x2460));
    else if (cp == 0x24ea)
        a = '0';
    else if (cp >= 0x24b6 && cp <= 0x24cf)
        a = (unsigned char)('a' + (cp - 0x24b6));
    else if (cp >= 0x24d0 && cp <= 0x24e9)
        a = (unsigned char)('a' + (cp - 0x24d0));
    return a >= 'A' && a <= 'Z' ? (unsigned char)(a | 0x20) : a;
}

/* Apply wide_ascii to every three-byte UTF-8 sequence of s, in place
   (each mapping shrinks three bytes to one). Returns the new length. */
static size_t
host_map_wide(char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char a = 0;

        if (i + 2 < len && (u[i] & 0xf0) == 0xe0 &&
            (u[i + 1] & 0xc0) == 0x80 && (u[i + 2] & 0xc0) == 0x80)
            a = wide_ascii((unsigned)(u[i] & 0x0f) << 12 |
                           (unsigned)(u[i + 1] & 0x3f) << 6 |
                           (u[i + 2] & 0x3f));
        if (a != 0) {
            s[n++] = (char)a;
            i += 2;
        } else {
            s[n++] = s[i];
        }
    }
    return n;
}

/*
 * One part of a numeric IPv4 host as WHATWG and inet_aton read it:
 * "0x" and hex digits, a leading 0 and octal digits, or decimal. Values
 * saturate above 2^32 so that long digit runs stay cheap. Returns false
 * when the part is not a number.
 */
static bool
ipv4_part(struct slice p, uint64_t *v)
{
    unsigned base = 10;
    size_t i = 0;

    if (p.len >= 2 && p.ptr[0] == '0' && (p.ptr[1] | 0x20) == 'x') {
        base = 16;
        i = 2;
    } else if (p.len >= 2 && p.ptr[0] == '0') {
        base = 8;
        i = 1;
    }
    if (p.len == 0)
        return false;
    *v = 0;
    for (; i < p.len; i++) {
        int d = hex_digit_value((unsigned char)p.ptr[i]);

        if (d < 0 || (unsigned)d >= base)
            return false;
        *v = *v > 0xffffffffu ? *v : *v * base + (unsigned)d;
    }
    return true;
}

/* True when the last dot-separated part of h starts like a number;
   WHATWG then requires the whole host to be an IPv4 address. */
static bool
ends_in_number(struct slice h)
{
    const char *dot = memrchr(h.ptr, '.', h.len);
    size_t start = dot != NULL ? (size_t)(dot - h.ptr) + 1 : 0;

    return start < h.len && is_digit((unsigned char)h.ptr[start]);
}

/*
 * Parse h (decoded, trailing dot removed) as an IPv4 address in any of
 * the one- to four-part forms: 127.0.0.1, 127.1, 0x7f.1, 2130706433,
 * 017700000001. Returns AW_OK with the address, AW_DECLINED when h is
 * not numeric, AW_INVALID when it is numeric but out of range.
 */
static int
ipv4_parse(struct slice h, uint8_t out[4])
{
    uint64_t parts[4], v;
    size_t n = 0, start = 0;

    if (!ends_in_number(h))
        return AW_DECLINED;
    for (size_t i = 0; i <= h.len; i++) {
        if (i < h.len && h.ptr[i] != '.')
            continue;
        if (n == 4 ||
            !ipv4_part((struct slice){h.ptr + start, i - start}, &parts[n]))
            return AW_INVALID;
        n++;
        start = i + 1;
    }
    for (size_t i = 0; i + 1 < n; i++)
        if (parts[i] > 255)
            return AW_INVALID;
    if (parts[n - 1] >= (uint64_t)1 << (8 * (5 - n)))
        return AW_INVALID;
    v = parts[n - 1];
    for (size_t i = 0; i + 1 < n; i++)
        v |= parts[i] << (8 * (3 - i));
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(v >> (8 * (3 - i)));
    return AW_OK;
}

/* Dotted-decimal IPv4 at the end of an IPv6 literal; writes 4 bytes. */
static bool
ipv6_tail_v4(struct slice s, uint8_t *out)
{
    size_t start = 0, n = 0;

    for (size_t i = 0; i <= s.len; i++) {
        uint64_t v;

        if (i < s.len && s.ptr[i] != '.')
            continue;
        /* Dotted decimal only, without leading zeros (as inet_pton
           and WHATWG read it). */
        if (n == 4 || i == start || i - start > 3 ||
            (s.ptr[start] == '0' && i - start > 1) ||
            slice_to_u64((struct slice){s.ptr + start, i - start}, 255,
                         &v) != AW_OK)
            return false;
        out[n++] = (uint8_t)v;
        start = i + 1;
    }
    return n == 4;
}

/* IPv6 groups read so far, and where "::" stood (SIZE_MAX: nowhere). */
struct v6 {
    uint16_t g[8];
    size_t ng;
    size_t gap;
};

/*
 * Read one group at s[*i..): up to four hex digits, or the dotted IPv4
 * that may end the literal (two groups). Advances *i past it. Returns
 * false when neither is there or there is no room.
 */
static bool
v6_group(struct slice s, size_t *i, struct v6 *st)
{
    size_t j = *i;
    unsigned v = 0;
    int d;

    while (j < s.len && j - *i < 5 &&
           (d = hex_digit_value((unsigned char)s.ptr[j])) >= 0) {
        v = v << 4 | (unsigned)d;
        j++;
    }
    if (j < s.len && s.ptr[j] == '.') {
        uint8_t v4[4];

        if (st->ng > 6 ||
            !ipv6_tail_v4((struct slice){s.ptr + *i, s.len - *i}, v4))
            return false;
        st->g[st->ng++] = (uint16_t)(v4[0] << 8 | v4[1]);
        st->g[st->ng++] = (uint16_t)(v4[2] << 8 | v4[3]);
        *i = s.len;
        return true;
    }
    if (j == *i || j - *i > 4)
        return false;
    st->g[st->ng++] = (uint16_t)v;
    *i = j;
    return true;
}

/* Write the groups into 16 bytes, the "::" gap filled with zeros. */
static void
v6_store(const struct v6 *st, uint8_t out[16])
{
    memset(out, 0, 16);
    for (size_t k = 0; k < st->ng; k++) {
        size_t at = st->gap != SIZE_MAX && k >= st->gap ? k + 8 - st->ng
                                                        : k;

        out[2 * at] = (uint8_t)(st->g[k] >> 8);
        out[2 * at + 1] = (uint8_t)st->g[k];
    }
}

/*
 * Parse an IPv6 literal (without brackets; a zone identifier after '%'
 * has been cut off by the caller) into 16 bytes. Returns false when it
 * is not one: inet_pton's grammar, checked against it by fuzz_url.
 */
static bool
ipv6_parse(struct slice s, uint8_t out[16])
{
    struct v6 st = {{0}, 0, SIZE_MAX};
    size_t i = 0;

    if (s.len >= 2 && s.ptr[0] == ':' && s.ptr[1] == ':') {
        st.gap = 0;
        i = 2;
    }
    while (i < s.len && st.ng < 8) {
        if (!v6_group(s, &i, &st))
            return false;
        if (i == s.len)
            break;
        if (s.ptr[i] != ':' || i + 1 == s.len)
            return false;
        if (s.ptr[++i] == ':') {
            if (st.gap != SIZE_MAX)
                return false;
            st.gap = st.ng;
            i++;
        }
    }
    if (i < s.len || (st.gap == SIZE_MAX && st.ng != 8) ||
        (st.gap != SIZE_MAX && st.ng > 7))
        return false;
    v6_store(&st, out);
    return true;
}

/* An IPv4 range: the first bytes of the prefix and its length. */
struct range4 {
    uint8_t net[4];
    unsigned bits;
    enum inspect_host_class cls;
};

static const struct range4 ranges4[] = {
    {{169, 254, 169, 254}, 32, INSPECT_HOST_METADATA},
    {{100, 100, 100, 200}, 32, INSPECT_HOST_METADATA}, /* Alibaba */
    {{0, 0, 0, 0}, 8, INSPECT_HOST_UNSPECIFIED},
    {{127, 0, 0, 0}, 8, INSPECT_HOST_LOOPBACK},
    {{10, 0, 0, 0}, 8, INSPECT_HOST_PRIVATE},
    {{172, 16, 0, 0}, 12, INSPECT_HOST_PRIVATE},
    {{192, 168, 0, 0}, 16, INSPECT_HOST_PRIVATE},
    {{100, 64, 0, 0}, 10, INSPECT_HOST_PRIVATE},     /* CGNAT */
    {{198, 18, 0, 0}, 15, INSPECT_HOST_PRIVATE},     /* benchmarking */
    {{169, 254, 0, 0}, 16, INSPECT_HOST_LINK_LOCAL},
    {{192, 0, 0, 0}, 24, INSPECT_HOST_RESERVED},
    {{192, 0, 2, 0}, 24, INSPECT_HOST_RESERVED},
    {{198, 51, 100, 0}, 24, INSPECT_HOST_RESERVED},
    {{203, 0, 113, 0}, 24, INSPECT_HOST_RESERVED},
    {{224, 0, 0, 0}, 4, INSPECT_HOST_MULTICAST},
    {{240, 0, 0, 0}, 4, INSPECT_HOST_RESERVED},      /* and broadcast */
};

/* True when the first bits of address a equal those of net. */
static bool
prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;

    if (memcmp(a, net, full) != 0)
        return false;
    return rest == 0 ||
           ((a[full] ^ net[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static enum inspect_host_class
classify_v4(const uint8_t a[4])
{
    for (size_t i = 0; i < ARRAY_LEN(ranges4); i++)
        if (prefix_match(a, ranges4[i].net, ranges4[i].bits))
            return ranges4[i].cls;
    return INSPECT_HOST_PUBLIC;
}

/*
 * IPv6: the special ranges, and the forms that carry an IPv4 address
 * (mapped, compatible, NAT64, 6to4), which are classified by it.
 */
static enum inspect_host_class
classify_v6(const uint8_t a[16])
{
    static const uint8_t zero[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
    static const uint8_t ec2[16] = {0xfd, 0, 0x0e, 0xc2, [14] = 0x02,
                                    [15] = 0x54};

    if (memcmp(a, ec2, 16) == 0)
        return INSPECT_HOST_METADATA;
    if (memcmp(a, zero, 12) == 0) {
        if (a[12] == 0 && a[13] == 0 && a[14] == 0 && a[15] <= 1)
            return a[15] == 0 ? INSPECT_HOST_UNSPECIFIED
                              : INSPECT_HOST_LOOPBACK;
        return classify_v4(a + 12);
    }
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return classify_v4(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02)
        return classify_v4(a + 2);
    if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0))
        return INSPECT_HOST_PRIVATE;     /* ULA, old site-local */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return INSPECT_HOST_LINK_LOCAL;
    if (a[0] == 0xff)
        return INSPECT_HOST_MULTICAST;
    if ((a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) ||
        (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) ||
        (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0))
        return INSPECT_HOST_RESERVED;    /* documentation, Teredo, discard */
    return INSPECT_HOST_PUBLIC;
}

/* Punycode (RFC 3492) digit value, or -1. */
static int
puny_digit(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '0' && c <= '9')
        return c - '0' + 26;
    return -1;
}

/* The bias adaptation of RFC 3492, section 6.1. */
static uint64_t
puny_adapt(uint64_t delta, uint64_t points, bool first)
{
    uint64_t k = 0;

    delta = first ? delta / 700 : delta / 2;
    delta += delta / points;
    for (; delta > 455; k += 36)
        delta /= 35;
    return k + 36 * delta / (delta + 38);
}

/*
 * True when the label after "xn--" decodes as Punycode to code points
 * that are not all ASCII (an A-label that encodes only ASCII, or that
 * fails to decode, is invalid). Only the decoding is checked: the IDNA
 * rules on which code points, scripts and joiners may appear are not.
 */
static bool
punycode_valid(struct slice l)
{
    const char *dash = memrchr(l.ptr, '-', l.len);
    size_t i = dash != NULL ? (size_t)(dash - l.ptr) + 1 : 0;
    uint64_t n = 128, idx = 0, bias = 72, out = i > 0 ? i - 1 : 0;
    bool first = true;

    for (size_t k = 0; k + 1 < i; k++)
        if ((unsigned char)l.ptr[k] >= 0x80)
            return false;
    while (i < l.len) {
        uint64_t old = idx, w = 1;

        for (uint64_t k = 36;; k += 36) {
            int d = i < l.len ? puny_digit((unsigned char)l.ptr[i++]) : -1;
            uint64_t t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;

            /* Bounds far above any valid label keep the sums exact. */
            if (d < 0 || w > ((uint64_t)1 << 32))
                return false;
            idx += (uint64_t)d * w;
            if (idx > ((uint64_t)1 << 40))
                return false;
            if ((uint64_t)d < t)
                break;
            w *= 36 - t;
        }
        out++;
        bias = puny_adapt(idx - old, out, first);
        first = false;
        n += idx / out;
        idx %= out;
        if (n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff))
            return false;
        idx++;
    }
    return !first;
}

/* True when name matches pattern: exact, or "*.suffix" for any name
   ending in ".suffix" (and the suffix itself). Both are lower case. */
static bool
name_match(struct slice name, const char *pattern)
{
    size_t pl = strlen(pattern);

    if (pl >= 2 && pattern[0] == '*' && pattern[1] == '.') {
        struct slice suf = {pattern + 2, pl - 2};

        if (slice_eq(name, suf))
            return true;
        return name.len > suf.len + 1 &&
               name.ptr[name.len - suf.len - 1] == '.' &&
               memcmp(name.ptr + name.len - suf.len, suf.ptr, suf.len) == 0;
    }
    return slice_is(name, pattern);
}

/*
 * The class of the IPv4 address a name starts with, as wildcard DNS
 * services answer it: "127.0.0.1.nip.io" and "10-0-0-5.sslip.io"
 * resolve to the address their first labels spell. Four decimal
 * octets, joined by '.' or all by '-', then a '.' and more of the name.
 * Returns INSPECT_HOST_PUBLIC when the name does not start so.
 */
static enum inspect_host_class
embedded_v4(struct slice h)
{
    uint8_t a[4];
    size_t i = 0;
    char sep = 0;

    for (int k = 0; k < 4; k++) {
        unsigned val = 0, digits = 0;

        while (i < h.len && h.ptr[i] >= '0' && h.ptr[i] <= '9' &&
               digits < 4) {
            val = val * 10 + (unsigned)(h.ptr[i++] - '0');
            digits++;
        }
        if (digits == 0 || digits > 3 || val > 255 || i >= h.len)
            return INSPECT_HOST_PUBLIC;
        a[k] = (uint8_t)val;
        if (k == 0)
            sep = h.ptr[i];
        if (k < 3 && (h.ptr[i] != sep || (sep != '.' && sep != '-')))
            return INSPECT_HOST_PUBLIC;
        i++;
    }
    if (h.ptr[i - 1] != '.' || i >= h.len)
        return INSPECT_HOST_PUBLIC;
    return classify_v4(a);
}

/* Classify a host name: localhost, configured internal names, names
   that spell an internal address for wildcard DNS, labels that are not
   valid DNS (or Punycode), single labels. */
static enum inspect_host_class
classify_name(struct slice h, const struct inspect_ssrf_opts *o)
{
    enum inspect_host_class spelled = embedded_v4(h);
    size_t start = 0;

    if (name_match(h, "*.localhost"))
        return INSPECT_HOST_LOOPBACK;
    /* Reserved and documentation ranges stay names: nothing listens
       there that an attacker wants. */
    if (spelled != INSPECT_HOST_PUBLIC && spelled != INSPECT_HOST_RESERVED &&
        spelled != INSPECT_HOST_MULTICAST)
        return spelled;
    for (size_t i = 0; i < o->ninternal; i++)
        if (name_match(h, o->internal[i]))
            return INSPECT_HOST_INTERNAL_NAME;
    for (size_t i = 0; i <= h.len; i++) {
        struct slice l = {h.ptr + start, i - start};

        if (i < h.len && h.ptr[i] != '.')
            continue;
        if (l.len == 0 || l.len > 63)
            return INSPECT_HOST_INVALID;
        if (l.len > 4 && memcmp(l.ptr, "xn--", 4) == 0 &&
            !punycode_valid((struct slice){l.ptr + 4, l.len - 4}))
            return INSPECT_HOST_INVALID;
        start = i + 1;
    }
    for (size_t i = 0; i < h.len; i++) {
        unsigned char c = (unsigned char)h.ptr[i];

        /* WHATWG's forbidden host code points (strchr also finds the
           NUL, which is one of them). */
        if (c < 0x20 || c == 0x7f || strchr(" %/\\<>^|@#?[]:", c) != NULL)
            return INSPECT_HOST_INVALID;
    }
    if (memchr(h.ptr, '.', h.len) == NULL && !o->allow_single_label)
        return INSPECT_HOST_SINGLE_LABEL;
    return INSPECT_HOST_PUBLIC;
}

/* Classify a bracketed host "[...]" (decoded into h): IPv6 with an
   optional zone identifier after '%'. */
static void
classify_bracketed(struct slice h, struct inspect_host *out)
{
    const char *zone;

    h = (struct slice){h.ptr + 1, h.len >= 2 ? h.len - 2 : 0};
    zone = memchr(h.ptr, '%', h.len);
    out->zone = zone != NULL;
    if (zone != NULL)
        h.len = (size_t)(zone - h.ptr);
    out->kind = INSPECT_HOST_IPV6;
    out->cls = ipv6_parse(h, out->addr) ? classify_v6(out->addr)
                                        : INSPECT_HOST_INVALID;
}

int
inspect_host_classify(struct slice host, bool bracketed,
                      const struct inspect_ssrf_opts *o, char *buf,
                      size_t cap, struct inspect_host *out)
{
    struct slice h;
    int rc;

    if (cap < host.len)
        return AW_TOOBIG;
    memset(out, 0, sizeof(*out));
    h = (struct slice){buf, host_decode(host, buf)};
    h.len = host_map_wide(buf, h.len);
    if (bracketed) {
        classify_bracketed(h, out);
        return AW_OK;
    }
    if (h.len > 0 && h.ptr[h.len - 1] == '.')
        h.len--;
    out->name = h;
    if (h.len == 0) {
        out->cls = INSPECT_HOST_INVALID;
        return AW_OK;
    }
    rc = ipv4_parse(h, out->addr);
    out->kind = rc == AW_OK ? INSPECT_HOST_IPV4 : INSPECT_HOST_NAME;
    if (rc == AW_OK)
        out->cls = classify_v4(out->addr);
    else
        out->cls = rc == AW_INVALID ? INSPECT_HOST_INVALID
                                    : classify_name(h, o);
    return AW_OK;
}

const char *
inspect_host_class_name(enum inspect_host_class c)
{
    static const char *const names[] = {
        [INSPECT_HOST_PUBLIC] = "public",
        [INSPECT_HOST_LOOPBACK] = "loopback",
        [INSPECT_HOST_PRIVATE] = "private",
        [INSPECT_HOST_LINK_LOCAL] = "link_local",
        [INSPECT_HOST_METADATA] = "metadata",
        [INSPECT_HOST_MULTICAST] = "multicast",
        [INSPECT_HOST_UNSPECIFIED] = "unspecified",
        [INSPECT_HOST_RESERVED] = "reserved",
        [INSPECT_HOST_INTERNAL_NAME] = "internal_name",
        [INSPECT_HOST_SINGLE_LABEL] = "single_label",
        [INSPECT_HOST_INVALID] = "bad_host",
    };

    return (size_t)c < ARRAY_LEN(names) ? names[c] : "bad_host";
}

/* The verdict's score for each host class. */
static unsigned
class_score(enum inspect_host_class c)
{
    switch (c) {
    case INSPECT_HOST_METADATA:
        return 95;
    case INSPECT_HOST_LOOPBACK:
        return 90;
    case INSPECT_HOST_PRIVATE:
    case INSPECT_HOST_LINK_LOCAL:
    case INSPECT_HOST_UNSPECIFIED:
        return 85;
    case INSPECT_HOST_INTERNAL_NAME:
        return 80;
    case INSPECT_HOST_MULTICAST:
    case INSPECT_HOST_RESERVED:
    case INSPECT_HOST_INVALID:
        return 70;
    default:
        return 60;
    }
}

/* Fill the verdict for an SSRF finding; the window is the URL's start,
   where scheme and host are. */
static bool
ssrf_found(const struct inspect_value *v, const char *rule, unsigned score,
           struct inspect_verdict *out)
{
    return inspect_found(v, "ssrf", "inspect.ssrf", rule, score, 0, out);
}

/* True when a reading that keeps backslashes as data finds another
   host than the WHATWG reading did. */
static bool
ambiguous(struct slice text, const struct inspect_url *u, char *buf)
{
    struct inspect_url alt;
    size_t n = strip(text, buf);

    if (parse_stripped(buf, n, false, &alt) != AW_OK)
        return memchr(text.ptr, '\\', text.len) != NULL;
    return !slice_eq_nocase(alt.host, u->host);
}

/* True when the URL's scheme is refused: not allowed, and either one
   that servers fetch or one with an authority. "mailto:" and "urn:"
   values are not network URLs and pass. */
static bool
scheme_refused(const struct inspect_url *u,
               const struct inspect_ssrf_opts *o)
{
    bool fetchable = u->scheme.len > 0 &&
                     in_list(u->scheme, fetch_schemes,
                             ARRAY_LEN(fetch_schemes));
    bool allowed = u->scheme.len == 0 ||
                   in_list(u->scheme, o->schemes, o->nschemes);

    return !allowed && (fetchable || u->has_authority);
}

/* The checks after the host's: a host that other readers see
   differently, then credentials. */
static bool
check_url(const struct inspect_value *v, const struct inspect_url *u,
          const struct inspect_ssrf_opts *o, char *scratch,
          struct inspect_verdict *out)
{
    if (u->has_authority && ambiguous(v->text, u, scratch))
        return ssrf_found(v, "ambiguous_url", 80, out);
    if (u->has_userinfo && !o->allow_userinfo)
        return ssrf_found(v, "userinfo", 60, out);
    return false;
}

/*
 * The checks in order of what they reveal: a URL that cannot be read
 * whole, a malformed one, a refused scheme, a host that is not public,
 * then ambiguity and credentials (check_url). Buffers are on the stack,
 * bounded by INSPECT_URL_MAX.
 */
bool
inspect_ssrf_match(const struct inspect_value *v,
                   const struct inspect_ssrf_opts *o,
                   struct inspect_verdict *out)
{
    char buf[INSPECT_URL_MAX], scratch[INSPECT_URL_MAX];
    size_t max = MIN(o->max_len, (size_t)INSPECT_URL_MAX);
    struct inspect_url u;
    struct inspect_host h;
    int rc;

    if (v->text.len > max) {
        /* Too long to read whole: refused if it starts like a URL. */
        rc = inspect_url_parse((struct slice){v->text.ptr, max}, buf, max,
                               &u);
        return rc != AW_DECLINED && ssrf_found(v, "too_long", 60, out);
    }
    rc = inspect_url_parse(v->text, buf, sizeof(buf), &u);
    if (rc == AW_DECLINED)
        return false;
    if (rc != AW_OK)
        return ssrf_found(v, "bad_url", 70, out);
    if (scheme_refused(&u, o))
        return ssrf_found(v, "scheme", 80, out);
    if (u.has_authority) {
        inspect_host_classify(u.host, u.ipv6_literal, o, scratch,
                              sizeof(scratch), &h);
        if (h.cls != INSPECT_HOST_PUBLIC)
            return ssrf_found(v, inspect_host_class_name(h.cls),
                              class_score(h.cls), out);
    }
    return check_url(v, &u, o, scratch, out);
}
