/*
 * URI references (RFC 3986 section 5) for "$ref" and "$id": resolve a
 * reference against a base, so that every schema resource and anchor is
 * known by one absolute string. Only the syntax is handled; no name is
 * ever looked up on a network.
 */
#include <string.h>

#include "schema_uri.h"

/* The five components of a reference; absent ones have ptr NULL. */
struct uri_parts {
    struct slice scheme, authority, path, query, fragment;
};

static void
uri_split(const char *s, struct uri_parts *u)
{
    size_t n = strlen(s), i = 0, j;

    memset(u, 0, sizeof(*u));
    for (j = 0; j < n && s[j] != ':' && s[j] != '/' && s[j] != '?' &&
                s[j] != '#'; j++)
        ;
    if (j > 0 && j < n && s[j] == ':') {
        u->scheme = (struct slice){s, j};
        i = j + 1;
    }
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
        for (j = i + 2; j < n && s[j] != '/' && s[j] != '?' && s[j] != '#';
             j++)
            ;
        u->authority = (struct slice){s + i + 2, j - i - 2};
        i = j;
    }
    for (j = i; j < n && s[j] != '?' && s[j] != '#'; j++)
        ;
    u->path = (struct slice){s + i, j - i};
    i = j;
    if (i < n && s[i] == '?') {
        for (j = i + 1; j < n && s[j] != '#'; j++)
            ;
        u->query = (struct slice){s + i + 1, j - i - 1};
        i = j;
    }
    if (i < n && s[i] == '#')
        u->fragment = (struct slice){s + i + 1, n - i - 1};
}

/* Append p[0..n) to out (size cap) at *len; false when it does not fit. */
static bool
put(char *out, size_t cap, size_t *len, const char *p, size_t n)
{
    if (cap - *len <= n)
        return false;
    memcpy(out + *len, p, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

/*
 * RFC 3986 5.2.4: remove "." and ".." segments from the path in
 * buf[0..*len), in place.
 */
static void
remove_dots(char *buf, size_t *len)
{
    size_t r = 0, w = 0, n = *len;

    while (r < n) {
        if (n - r >= 3 && memcmp(buf + r, "../", 3) == 0) {
            r += 3;
        } else if (n - r >= 2 && memcmp(buf + r, "./", 2) == 0) {
            r += 2;
        } else if (n - r >= 3 && memcmp(buf + r, "/./", 3) == 0) {
            r += 2;
        } else if (n - r == 2 && memcmp(buf + r, "/.", 2) == 0) {
            buf[++r] = '/';
        } else if ((n - r >= 4 && memcmp(buf + r, "/../", 4) == 0) ||
                   (n - r == 3 && memcmp(buf + r, "/..", 3) == 0)) {
            r += 3;
            if (r == n)
                buf[--r] = '/';
            while (w > 0 && buf[--w] != '/')
                ;
        } else if ((n - r == 1 && buf[r] == '.') ||
                   (n - r == 2 && memcmp(buf + r, "..", 2) == 0)) {
            r = n;
        } else {
            do
                buf[w++] = buf[r++];
            while (r < n && buf[r] != '/');
        }
    }
    *len = w;
    buf[w] = '\0';
}

/* The target path of ref against base, dots removed, into out. */
static bool
target_path(const struct uri_parts *b, const struct uri_parts *r, char *out,
            size_t cap, size_t *len)
{
    bool ok = true;

    *len = 0;
    out[0] = '\0';
    if (r->path.len > 0 && r->path.ptr[0] == '/') {
        ok = put(out, cap, len, r->path.ptr, r->path.len);
    } else if (b->authority.ptr != NULL && b->path.len == 0) {
        ok = put(out, cap, len, "/", 1) &&
             put(out, cap, len, r->path.ptr, r->path.len);
    } else {
        size_t keep = b->path.len;

        while (keep > 0 && b->path.ptr[keep - 1] != '/')
            keep--;
        ok = put(out, cap, len, b->path.ptr, keep) &&
             put(out, cap, len, r->path.ptr, r->path.len);
    }
    if (ok && (b->scheme.ptr == NULL || b->authority.ptr != NULL ||
               (*len > 0 && out[0] == '/')))
        remove_dots(out, len);
    return ok;
}

/* Assemble the components into out. */
static bool
uri_join(const struct uri_parts *t, char *out, size_t cap)
{
    size_t len = 0;
    bool ok = true;

    out[0] = '\0';
    if (t->scheme.ptr != NULL)
        ok = put(out, cap, &len, t->scheme.ptr, t->scheme.len) &&
             put(out, cap, &len, ":", 1);
    if (ok && t->authority.ptr != NULL)
        ok = put(out, cap, &len, "//", 2) &&
             put(out, cap, &len, t->authority.ptr, t->authority.len);
    if (ok)
        ok = put(out, cap, &len, t->path.ptr ? t->path.ptr : "", t->path.len);
    if (ok && t->query.ptr != NULL)
        ok = put(out, cap, &len, "?", 1) &&
             put(out, cap, &len, t->query.ptr, t->query.len);
    if (ok && t->fragment.ptr != NULL)
        ok = put(out, cap, &len, "#", 1) &&
             put(out, cap, &len, t->fragment.ptr, t->fragment.len);
    return ok;
}

int
uri_resolve(const char *base, const char *ref, char *out, size_t cap)
{
    struct uri_parts b, r, t;
    char path[URI_MAX];
    size_t plen;

    uri_split(base != NULL ? base : "", &b);
    uri_split(ref, &r);
    t = r;
    if (r.scheme.ptr == NULL) {
        t.scheme = b.scheme;
        if (r.authority.ptr == NULL) {
            t.authority = b.authority;
            if (r.path.len == 0) {
                t.path = b.path;
                if (r.query.ptr == NULL)
                    t.query = b.query;
            } else {
                if (!target_path(&b, &r, path, sizeof(path), &plen))
                    return AW_TOOBIG;
                t.path = (struct slice){path, plen};
            }
        }
    }
    if ((r.scheme.ptr != NULL || r.authority.ptr != NULL) &&
        r.path.len > 0 && r.path.ptr[0] == '/') {
        if (r.path.len >= sizeof(path))
            return AW_TOOBIG;
        memcpy(path, r.path.ptr, r.path.len);
        plen = r.path.len;
        path[plen] = '\0';
        remove_dots(path, &plen);
        t.path = (struct slice){path, plen};
    }
    return uri_join(&t, out, cap) ? AW_OK : AW_TOOBIG;
}

size_t
uri_fragment_at(const char *uri)
{
    const char *h = strchr(uri, '#');

    return h != NULL ? (size_t)(h - uri) : strlen(uri);
}
