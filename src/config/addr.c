/*
 * Addresses in the configuration: "host:port" for listeners and
 * upstream servers, CIDR ranges for trusted proxies, and the upstream
 * URL of "apiward proxy".
 *
 * Host names are resolved once, at load time, and the first address
 * getaddrinfo returns is kept. A name whose addresses change is picked
 * up only by the next reload; docs/configuration.md says so.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/internal.h"

#define ADDR_HOST_MAX 253

/* Letters, digits, '-', '.' and '_': what a resolvable name may hold. */
static bool
addr_is_name(struct slice h)
{
    if (h.len == 0 || h.len > ADDR_HOST_MAX)
        return false;
    for (size_t i = 0; i < h.len; i++) {
        char ch = h.ptr[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

/* Write the printable "a.b.c.d:port" or "[v6]:port" form of a. */
static void
addr_format(struct config_addr *a)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&a->ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(a->text, sizeof(a->text), "%s:%u", host, port);
    } else {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(a->text, sizeof(a->text), "[%s]:%u", host, port);
    }
}

/*
 * Split text into host and port. A bracketed host must be an IPv6
 * literal; an unbracketed host must not contain ':'.
 */
static int
addr_split(const char *text, struct slice *host, struct slice *port,
           bool *bracketed, char *err, size_t errlen)
{
    const char *colon;

    *bracketed = text[0] == '[';
    if (*bracketed) {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "expected [address]:port");
            return AW_INVALID;
        }
        *host = (struct slice){text + 1, (size_t)(close - text - 1)};
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "expected host:port");
            return AW_INVALID;
        }
        *host = (struct slice){text, (size_t)(colon - text)};
        if (memchr(host->ptr, ':', host->len) != NULL) {
            snprintf(err, errlen,
                     "an IPv6 address must be written in "
                     "brackets, e.g. [::1]:8080");
            return AW_INVALID;
        }
    }
    *port = (struct slice){colon + 1, strlen(colon + 1)};
    return AW_OK;
}

/* Resolve a host name with getaddrinfo and keep the first result. */
static int
addr_resolve(const char *host, unsigned port, struct config_addr *a, char *err,
             size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    char service[8];
    int gai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", port);
    gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host,
                 gai != 0 ? gai_strerror(gai) : "no address");
        return AW_INVALID;
    }
    if (res->ai_addrlen > sizeof(a->ss)) {
        freeaddrinfo(res);
        snprintf(err, errlen, "cannot resolve '%s': odd address", host);
        return AW_INVALID;
    }
    memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    return AW_OK;
}

/*
 * Read an IP literal with inet_pton, which takes only the dotted quad
 * for IPv4: getaddrinfo would also take "127.1" or "0x7f.0.0.1", forms
 * that read differently to a person. AW_DECLINED when it is no literal.
 */
static int
addr_literal(const char *host, bool v6, unsigned port, struct config_addr *a)
{
    struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;

    if (!v6 && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        a->len = sizeof(*in);
        return AW_OK;
    }
    if (v6 && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        a->len = sizeof(*in6);
        return AW_OK;
    }
    return AW_DECLINED;
}

/* A name whose last label starts with a digit is a malformed address. */
static bool
addr_looks_numeric(struct slice h)
{
    size_t i = h.len;

    while (i > 0 && h.ptr[i - 1] != '.')
        i--;
    return i < h.len && h.ptr[i] >= '0' && h.ptr[i] <= '9';
}

/*
 * Check and resolve a host that is not an IP literal. Messages do not
 * repeat the host: the caller quotes the whole value, escaped.
 */
static int
addr_name(const char *host, struct slice h, bool bracketed, bool resolve,
          unsigned port, struct config_addr *a, char *err, size_t errlen)
{
    if (bracketed) {
        snprintf(err, errlen, "not an IPv6 address");
        return AW_INVALID;
    }
    if (!addr_is_name(h) || addr_looks_numeric(h)) {
        snprintf(err, errlen, "neither an IP address nor a host name");
        return AW_INVALID;
    }
    if (!resolve) {
        snprintf(err, errlen,
                 "host names are not resolved here; write "
                 "an IP address");
        return AW_INVALID;
    }
    return addr_resolve(host, port, a, err, errlen);
}

/*
 * An IP literal is taken as written; anything else must look like a
 * host name before it is given to the resolver.
 */
int
config_addr_parse(const char *text, bool resolve, struct config_addr *a,
                  char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX + 1];
    struct slice h, p;
    bool bracketed;
    uint64_t port;
    int rc = addr_split(text, &h, &p, &bracketed, err, errlen);

    if (rc != AW_OK)
        return rc;
    if (slice_to_u64(p, 65535, &port) != AW_OK || port == 0) {
        snprintf(err, errlen, "the port must be a number from 1 to 65535");
        return AW_INVALID;
    }
    if (h.len == 0 || h.len > ADDR_HOST_MAX) {
        snprintf(err, errlen, "the host is missing or too long");
        return AW_INVALID;
    }
    slice_copy_cstr(host, sizeof(host), h);
    memset(a, 0, sizeof(*a));
    rc = addr_literal(host, bracketed, (unsigned)port, a);
    if (rc == AW_DECLINED)
        rc = addr_name(host, h, bracketed, resolve, (unsigned)port, a, err,
                       errlen);
    if (rc == AW_OK)
        addr_format(a);
    return rc;
}

/* True when the bits of addr past the first bits are all zero. */
static bool
cidr_host_bits_clear(const uint8_t *addr, unsigned bits, unsigned total)
{
    for (unsigned i = bits; i < total; i++) {
        if (addr[i / 8] & (0x80u >> (i % 8)))
            return false;
    }
    return true;
}

/* Clear the bits of addr past the first bits. */
static void
cidr_mask(uint8_t *addr, unsigned bits, unsigned total)
{
    for (unsigned i = bits; i < total; i++)
        addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
}

/* Read the address part of a range into r (family and addr). */
static int
cidr_parse_addr(struct slice s, struct config_cidr *r)
{
    char text[INET6_ADDRSTRLEN + 1];

    if (s.len == 0 || s.len >= sizeof(text))
        return AW_INVALID;
    slice_copy_cstr(text, sizeof(text), s);
    memset(r, 0, sizeof(*r));
    if (inet_pton(AF_INET, text, r->addr) == 1) {
        r->family = AF_INET;
        return AW_OK;
    }
    if (inet_pton(AF_INET6, text, r->addr) == 1) {
        r->family = AF_INET6;
        return AW_OK;
    }
    return AW_INVALID;
}

/* Store an IPv4-mapped IPv6 range as the IPv4 range it stands for. */
static void
cidr_unmap(struct config_cidr *r)
{
    if (r->family != AF_INET6 || r->bits < 96 ||
        !IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)r->addr))
        return;
    memmove(r->addr, r->addr + 12, 4);
    memset(r->addr + 4, 0, 12);
    r->family = AF_INET;
    r->bits -= 96;
}

/* See internal.h; the suggestion in the message is the masked range. */
int
config_cidr_parse(const char *text, struct config_cidr *r, char *err,
                  size_t errlen)
{
    const char *slash = strchr(text, '/');
    size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
    unsigned total;
    uint64_t bits;

    if (cidr_parse_addr((struct slice){text, alen}, r) != AW_OK) {
        snprintf(err, errlen,
                 "expected an address or a range such as "
                 "10.0.0.0/8 or 2001:db8::/32");
        return AW_INVALID;
    }
    total = r->family == AF_INET ? 32 : 128;
    bits = total;
    if (slash != NULL &&
        slice_to_u64((struct slice){slash + 1, strlen(slash + 1)}, total,
                     &bits) != AW_OK) {
        snprintf(err, errlen, "the prefix length must be 0 to %u", total);
        return AW_INVALID;
    }
    r->bits = (unsigned)bits;
    if (!cidr_host_bits_clear(r->addr, r->bits, total)) {
        char fixed[INET6_ADDRSTRLEN];

        cidr_mask(r->addr, r->bits, total);
        inet_ntop(r->family, r->addr, fixed, sizeof(fixed));
        snprintf(err, errlen,
                 "bits are set past the /%u prefix; did you "
                 "mean %s/%u?",
                 r->bits, fixed, r->bits);
        return AW_INVALID;
    }
    cidr_unmap(r);
    return AW_OK;
}

/* True when the first bits of a and b are equal. */
static bool
cidr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    uint8_t mask;

    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/*
 * A linear scan: the list is at most 256 ranges and is read once per
 * request, when forwarding fields are built.
 */
bool
config_is_trusted_proxy(const struct config *c, const struct sockaddr *addr)
{
    const uint8_t *bytes;
    int family;

    if (addr->sa_family == AF_INET) {
        bytes = (const uint8_t *)&((const struct sockaddr_in *)addr)->sin_addr;
        family = AF_INET;
    } else if (addr->sa_family == AF_INET6) {
        const struct in6_addr *a6 =
            &((const struct sockaddr_in6 *)addr)->sin6_addr;

        /* A v4 client on a dual-stack socket is judged as v4. */
        family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
        bytes = a6->s6_addr + (family == AF_INET ? 12 : 0);
    } else {
        return false;
    }
    for (size_t i = 0; i < c->ntrusted_proxies; i++) {
        const struct config_cidr *r = &c->trusted_proxies[i];

        if (r->family == family && cidr_prefix_eq(bytes, r->addr, r->bits))
            return true;
    }
    return false;
}

/* Find where the authority of a URL ends: '/', '?', '#' or the end. */
static size_t
url_authority_len(const char *s)
{
    return strcspn(s, "/?#");
}

/*
 * Only the authority of the URL is used. Anything after it would be a
 * path prefix, which the proxy does not add, so it is refused rather
 * than silently dropped.
 */
int
config_url_to_addr(const char *url, char *hostport, size_t cap, char *err,
                   size_t errlen)
{
    const char *auth, *rest, *close;
    size_t alen;
    bool has_port;

    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(err, errlen,
                 "upstream TLS is not supported yet; use an "
                 "http:// URL");
        return AW_INVALID;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, errlen,
                 "expected a URL such as "
                 "http://127.0.0.1:9000");
        return AW_INVALID;
    }
    auth = url + 7;
    alen = url_authority_len(auth);
    rest = auth + alen;
    if (rest[0] != '\0' && strcmp(rest, "/") != 0) {
        snprintf(err, errlen,
                 "a path, query or fragment in the upstream "
                 "URL is not supported");
        return AW_INVALID;
    }
    if (memchr(auth, '@', alen) != NULL) {
        snprintf(err, errlen,
                 "user information in the upstream URL is "
                 "not supported");
        return AW_INVALID;
    }
    close = memchr(auth, ']', alen);
    has_port = auth[0] == '['
                   ? close != NULL && close + 1 < rest && close[1] == ':'
                   : memchr(auth, ':', alen) != NULL;
    if (alen == 0 || alen + 4 >= cap) {
        snprintf(err, errlen, "the host in the URL is missing or too long");
        return AW_INVALID;
    }
    snprintf(hostport, cap, "%.*s%s", (int)alen, auth, has_port ? "" : ":80");
    return AW_OK;
}

int
config_parse_ip_port(struct config_loader *ld, const struct config_node *v,
                     struct config_addr *a, const char *where)
{
    char err[160];
    const char *s;
    int rc = config_expect_string(ld, v, 128, where, &s);

    if (rc != AW_OK)
        return rc;
    if (config_addr_parse(s, false, a, err, sizeof(err)) != AW_OK) {
        config_error(ld, v, "%s: %s", where, err);
        return AW_INVALID;
    }
    return AW_OK;
}
