/*
 * Route table: routes compiled into one segment trie per host group,
 * matched per request by a depth-first walk that allocates nothing.
 *
 * Layout. Routes are grouped by host: one group per exact host, one per
 * wildcard suffix, and one for routes that name no host. Each group owns
 * a trie whose edges are path segments. A node has literal children (in
 * an open-addressing hash map keyed by the segment), at most one
 * parameter child shared by every "{name}" at that position, a list of
 * routes whose template ends at the node, and a list of "tail" routes
 * (rest parameters and prefix ends) that take whatever follows. Two
 * routes land on the same list of the same node exactly when they are
 * equally specific, which is how conflicts are found at compile time.
 *
 * Matching. The walk tries, at each node, the literal child first, then
 * the parameter child, then the tail routes, and when the path has ended,
 * the routes ending there before the prefix routes. That order is the
 * specificity order of route.h, so the first route found whose method
 * fits is the most specific one. Host groups are tried exact first, then
 * wildcards from the longest suffix to the shortest, then the any-host
 * group; a group whose trie has no route for the path (or none for the
 * method) falls through to the next.
 *
 * Cost. The trie is a tree, so the walk visits each node at most once,
 * and only nodes whose template prefix matches the path prefix. At each
 * visited node it hashes the current segment and probes one map, O(1)
 * expected whatever the number of routes. For a path of m segments, a
 * table without parameters costs O(m) probes plus one pass over the
 * path's bytes; each parameter level adds at most one more branch, and
 * the total is bounded by the number of trie nodes, never more than a
 * linear scan over every route. The host costs one hash of the Host
 * value for exact hosts and one right-to-left pass over at most its last
 * W bytes for wildcards, W being the longest wildcard suffix configured,
 * so a long Host value cannot make the search quadratic. Compilation is
 * linear in the total length of the definitions, plus sorting the names
 * to find duplicates.
 *
 * Trailing slashes are significant: "/users/{id}" matches "/users/42"
 * and not "/users/42/" (a separate route "/users/{id}/" would), and a
 * parameter never matches an empty segment. A rest parameter may take an
 * empty remainder: "/files/{p*}" matches "/files/" but not "/files".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

#define ROUTE_ALL_METHODS ((1u << HTTP_METHOD_COUNT) - 1)

/* Longest host name DNS allows; longer route hosts are refused. */
#define ROUTE_HOST_MAX 253

/* What a route takes after its last template segment. */
enum route_tail {
    ROUTE_TAIL_NONE,   /* nothing: the path ends with the template */
    ROUTE_TAIL_REST,   /* "{name*}": one or more further segments */
    ROUTE_TAIL_PREFIX, /* prefix route: zero or more further segments */
};

/* One compiled route. */
struct route_entry {
    struct route_def def;     /* strings point into the table's arena */
    uint32_t methods;         /* never 0: "any" is expanded to all bits */
    enum route_tail tail;
    unsigned nparams;         /* including a rest parameter, which is last */
    struct slice pname[ROUTE_MAX_PARAMS];
    struct route_entry *next; /* next route on the same node list */
};

/*
 * One slot of an open-addressing map (linear probing, at most half
 * full). value NULL marks an empty slot. Only the configuration inserts
 * keys, so a client cannot lengthen a probe chain: the longest chain a
 * request can walk is fixed when the table is compiled.
 */
struct route_slot {
    uint64_t hash;
    struct slice key;
    void *value;
};

/* Literal children of a node, or the host groups of a table. */
struct route_map {
    struct route_slot *slot; /* NULL while empty */
    size_t mask;             /* slot count minus one */
    size_t n;                /* used slots */
};

struct route_node {
    struct route_map lit;     /* segment text -> struct route_node */
    struct route_node *param; /* child for a "{name}" segment */
    struct route_entry *end;  /* routes whose template ends here */
    struct route_entry *tail; /* rest parameters and prefixes ending here */
};

struct route_table {
    struct arena arena;       /* holds everything below and every copy */
    struct route_map exact;   /* lower-case host -> trie root */
    struct route_map wild;    /* lower-case ".suffix" -> trie root */
    size_t max_wild;          /* longest wildcard key, bounds the scan */
    struct route_node *any;   /* routes that name no host */
};

/* A parsed template, before it is inserted in a trie. */
struct route_tpl {
    unsigned nseg;
    struct slice seg[ROUTE_MAX_SEGMENTS]; /* literal, or parameter name */
    bool param[ROUTE_MAX_SEGMENTS];
};

/* State of one compilation. */
struct route_build {
    struct route_table *t;
    const char *name;         /* route being compiled, for messages */
    char *err;
    size_t errlen;
};

/* Write a message naming the current route; returns AW_INVALID. */
static int AW_PRINTF(2, 3)
route_fail(struct route_build *b, const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (b->errlen == 0)
        return AW_INVALID;
    if (b->name != NULL)
        n = snprintf(b->err, b->errlen, "route \"%s\": ", b->name);
    if (n < 0 || (size_t)n >= b->errlen)
        return AW_INVALID;
    va_start(ap, fmt);
    vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return AW_INVALID;
}

static unsigned char
route_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool
route_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* Value of an upper-case hex digit; -1 for anything else. */
static int
route_hexup(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Whether a request's host a equals the stored key b, which is already
 * in lower case.
 */
static bool
route_host_eq(struct slice a, struct slice b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (route_lower((unsigned char)a.ptr[i]) != (unsigned char)b.ptr[i])
            return false;
    return true;
}

#define ROUTE_FNV_BASIS 0xcbf29ce484222325u
#define ROUTE_FNV_PRIME 0x100000001b3u

/* FNV-1a over a path segment. */
static uint64_t
route_hash_seg(struct slice s)
{
    uint64_t h = ROUTE_FNV_BASIS;

    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.ptr[i]) * ROUTE_FNV_PRIME;
    return h;
}

/*
 * FNV-1a over a host folded to lower case, from its last byte to its
 * first. Running backwards lets the wildcard search get the hash of
 * every suffix in one pass over the Host value.
 */
static uint64_t
route_hash_host_step(uint64_t h, char c)
{
    return (h ^ route_lower((unsigned char)c)) * ROUTE_FNV_PRIME;
}

static uint64_t
route_hash_host(struct slice s)
{
    uint64_t h = ROUTE_FNV_BASIS;

    for (size_t i = s.len; i-- > 0;)
        h = route_hash_host_step(h, s.ptr[i]);
    return h;
}

/*
 * Look key up in m. Host maps (fold) compare without case; their stored
 * keys are lower case. NULL when absent.
 */
static void *
route_map_get(const struct route_map *m, struct slice key, uint64_t h,
              bool fold)
{
    if (m->slot == NULL)
        return NULL;
    for (size_t i = h & m->mask; m->slot[i].value != NULL;
         i = (i + 1) & m->mask) {
        const struct route_slot *s = &m->slot[i];

        if (s->hash == h && (fold ? route_host_eq(key, s->key)
                                  : slice_eq(key, s->key)))
            return s->value;
    }
    return NULL;
}

static void
route_map_place(struct route_slot *slot, size_t mask,
                const struct route_slot *from)
{
    size_t i = from->hash & mask;

    while (slot[i].value != NULL)
        i = (i + 1) & mask;
    slot[i] = *from;
}

/*
 * Add a key known to be absent. The map doubles before it gets more
 * than half full; the old slots stay in the arena, which route_bound
 * allows for (all generations together are under twice the last).
 */
static int
route_map_put(struct arena *a, struct route_map *m, struct slice key,
              uint64_t h, void *value)
{
    size_t size = m->slot != NULL ? m->mask + 1 : 0;
    struct route_slot add = {h, key, value};

    if ((m->n + 1) * 2 > size) {
        size_t grown = size == 0 ? 4 : size * 2;
        struct route_slot *slot = arena_alloc(a, grown * sizeof(*slot));

        if (slot == NULL)
            return AW_NOMEM;
        memset(slot, 0, grown * sizeof(*slot));
        for (size_t i = 0; i < size; i++)
            if (m->slot[i].value != NULL)
                route_map_place(slot, grown - 1, &m->slot[i]);
        m->slot = slot;
        m->mask = grown - 1;
    }
    route_map_place(m->slot, m->mask, &add);
    m->n++;
    return AW_OK;
}

/*
 * An upper bound on the arena bytes a table for defs needs, so that the
 * table is created with its maximum and lives in a single chunk. Every
 * allocation is rounded to 16 bytes, hence the 16s.
 */
static size_t
route_bound(const struct route_def *defs, size_t n)
{
    /* A map holds under 8 slots per key over all its generations. */
    size_t per_key = 8 * sizeof(struct route_slot) + 2 * 16;
    size_t per_seg = sizeof(struct route_node) + 16 + per_key;
    size_t total = 1024 + sizeof(struct route_node) + n * sizeof(char *);

    for (size_t i = 0; i < n; i++) {
        const char *path = defs[i].path != NULL ? defs[i].path : "";
        size_t nseg = 2;

        for (const char *p = path; *p != '\0'; p++)
            nseg += *p == '/';
        total += sizeof(struct route_entry) + per_key +
                 sizeof(struct route_node) + 8 * 16 + nseg * per_seg;
        total += 2 * strlen(path);
        total += defs[i].name != NULL ? strlen(defs[i].name) : 0;
        total += defs[i].host != NULL ? 2 * strlen(defs[i].host) + 2 : 0;
    }
    return total;
}

static char *
route_dup(struct route_build *b, const char *s)
{
    return arena_dup(&b->t->arena, s, strlen(s));
}

/* A hostname: dot-separated non-empty labels of letters, digits, - _. */
static bool
route_valid_hostname(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (route_alnum(c) || c == '-' || c == '_') {
            label++;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* The inside of an IPv6 literal: hex digits, ':' and '.' (for IPv4). */
static bool
route_valid_ipv6(const char *s, size_t len)
{
    if (len < 2)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = route_lower((unsigned char)s[i]);

        if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') &&
            c != ':' && c != '.')
            return false;
    }
    return true;
}

/* Copy s[0..len) in lower case, between the given delimiters. */
static int
route_key(struct route_build *b, const char *open, const char *s,
          size_t len, const char *close, struct slice *key)
{
    size_t lo = strlen(open), lc = strlen(close);
    char *k = arena_alloc(&b->t->arena, lo + len + lc);

    if (k == NULL)
        return AW_NOMEM;
    memcpy(k, open, lo);
    for (size_t i = 0; i < len; i++)
        k[lo + i] = (char)route_lower((unsigned char)s[i]);
    memcpy(k + lo + len, close, lc);
    *key = (struct slice){k, lo + len + lc};
    return AW_OK;
}

/*
 * Turn a route's host into a group key. NULL and "*" mean any host
 * (*wild is then untouched and key->ptr NULL); "*.example.com" gives the
 * wildcard key ".example.com"; an IPv6 literal is kept in brackets,
 * whether it was written with them or not; a trailing dot is dropped,
 * since "example.com." names the same host. A port is refused: ports
 * in the request are ignored, so one here could never match.
 */
static int
route_parse_host(struct route_build *b, const char *host, bool *wild,
                 struct slice *key)
{
    size_t len = host != NULL ? strlen(host) : 0;
    const char *colon = len > 0 ? strchr(host, ':') : NULL;

    *key = SLICE_NULL;
    if (host == NULL || strcmp(host, "*") == 0)
        return AW_OK;
    *wild = false;
    if (len > ROUTE_HOST_MAX)
        return route_fail(b, "host is longer than %d bytes", ROUTE_HOST_MAX);
    if (host[0] == '[' && len > 2 && host[len - 1] == ']' &&
        route_valid_ipv6(host + 1, len - 2))
        return route_key(b, "[", host + 1, len - 2, "]", key);
    if (colon != NULL && strchr(colon + 1, ':') != NULL &&
        route_valid_ipv6(host, len))
        return route_key(b, "[", host, len, "]", key);
    if (colon != NULL && strchr(colon + 1, ':') != NULL)
        return route_fail(b, "host \"%s\" is not a valid IPv6 literal",
                          host);
    if (colon != NULL)
        return route_fail(b, "host \"%s\" must not carry a port", host);
    if (len > 1 && host[len - 1] == '.')
        len--;
    if (len > 2 && host[0] == '*' && host[1] == '.' &&
        route_valid_hostname(host + 2, len - 2)) {
        *wild = true;
        return route_key(b, "", host + 1, len - 1, "", key);
    }
    if (!route_valid_hostname(host, len))
        return route_fail(b, "host \"%s\" is not a hostname, an IPv6 "
                          "literal or \"*.suffix\"", host);
    return route_key(b, "", host, len, "", key);
}

/* A parameter name: [A-Za-z_][A-Za-z0-9_]*. */
static bool
route_valid_param(struct slice s)
{
    if (s.len == 0 || (s.ptr[0] >= '0' && s.ptr[0] <= '9'))
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!route_alnum((unsigned char)s.ptr[i]) && s.ptr[i] != '_')
            return false;
    return true;
}

/*
 * A literal segment must be written as http_normalize_path would leave
 * it (pchar only, escapes with upper-case hex that do not hide an
 * unreserved character), or it could never match a normalised path.
 */
static bool
route_valid_literal(struct slice s)
{
    static const char other[] = "-._~!$&'()*+,;=:@";

    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        int hi, lo;

        if (route_alnum(c) || (c != 0 && strchr(other, c) != NULL))
            continue;
        if (c != '%' || i + 2 >= s.len)
            return false;
        hi = route_hexup((unsigned char)s.ptr[i + 1]);
        lo = route_hexup((unsigned char)s.ptr[i + 2]);
        if (hi < 0 || lo < 0)
            return false;
        c = (unsigned char)(hi * 16 + lo);
        if (route_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            return false; /* normalisation would have decoded it */
        i += 2;
    }
    return true;
}

/* Record a parameter name, refusing duplicates and too many names. */
static int
route_add_param(struct route_build *b, struct route_entry *e,
                struct slice name)
{
    if (!route_valid_param(name))
        return route_fail(b, "parameter \"%.*s\" is not a valid name",
                          (int)name.len, name.ptr);
    for (unsigned k = 0; k < e->nparams; k++)
        if (slice_eq(e->pname[k], name))
            return route_fail(b, "parameter \"%.*s\" appears twice",
                              (int)name.len, name.ptr);
    if (e->nparams == ROUTE_MAX_PARAMS)
        return route_fail(b, "more than %d parameters", ROUTE_MAX_PARAMS);
    e->pname[e->nparams++] = name;
    return AW_OK;
}

/* Parse "{name}" or, as the last segment, "{name*}". */
static int
route_parse_param(struct route_build *b, struct route_entry *e,
                  struct route_tpl *tpl, struct slice seg, bool last)
{
    struct slice name;
    bool rest;
    int rc;

    if (seg.len < 2 || seg.ptr[seg.len - 1] != '}')
        return route_fail(b, "segment \"%.*s\" must be a whole {name}",
                          (int)seg.len, seg.ptr);
    name = (struct slice){seg.ptr + 1, seg.len - 2};
    rest = name.len > 0 && name.ptr[name.len - 1] == '*';
    if (rest && !last)
        return route_fail(b, "rest parameter \"%.*s\" is not the last "
                          "segment", (int)seg.len, seg.ptr);
    if (rest && e->def.prefix)
        return route_fail(b, "a prefix route cannot end with a rest "
                          "parameter");
    name.len -= rest;
    rc = route_add_param(b, e, name);
    if (rc != AW_OK)
        return rc;
    if (rest) {
        e->tail = ROUTE_TAIL_REST; /* takes no trie level */
        return AW_OK;
    }
    tpl->param[tpl->nseg] = true;
    tpl->seg[tpl->nseg++] = name;
    return AW_OK;
}

/* Parse one '/'-separated segment of a template. */
static int
route_parse_segment(struct route_build *b, struct route_entry *e,
                    struct route_tpl *tpl, struct slice seg, bool last)
{
    if (tpl->nseg == ROUTE_MAX_SEGMENTS)
        return route_fail(b, "more than %d segments", ROUTE_MAX_SEGMENTS);
    if (seg.len > 0 && seg.ptr[0] == '{')
        return route_parse_param(b, e, tpl, seg, last);
    if (seg.len == 0 && !last)
        return route_fail(b, "path \"%s\" has an empty segment",
                          e->def.path);
    if (slice_eq(seg, SLICE_LIT(".")) || slice_eq(seg, SLICE_LIT("..")) ||
        !route_valid_literal(seg))
        return route_fail(b, "segment \"%.*s\" is not in normalised form "
                          "or holds '{' or '}' inside", (int)seg.len,
                          seg.ptr);
    tpl->param[tpl->nseg] = false;
    tpl->seg[tpl->nseg++] = seg;
    return AW_OK;
}

/*
 * Parse the template e->def.path (already copied into the arena, so the
 * slices stay valid). A prefix route's trailing slash is dropped: as a
 * prefix, "/api/" is "/api", and "/" covers every path.
 */
static int
route_parse_template(struct route_build *b, struct route_entry *e,
                     struct route_tpl *tpl)
{
    const char *p = e->def.path;
    size_t len = strlen(p), i = 1;

    tpl->nseg = 0;
    if (p[0] != '/')
        return route_fail(b, "path \"%s\" does not start with '/'", p);
    for (;;) {
        const char *slash = memchr(p + i, '/', len - i);
        size_t end = slash != NULL ? (size_t)(slash - p) : len;
        struct slice seg = {p + i, end - i};
        int rc = route_parse_segment(b, e, tpl, seg, slash == NULL);
        if (rc != AW_OK)
            return rc;
        if (slash == NULL)
            break;
        i = end + 1;
    }
    if (e->def.prefix && tpl->nseg > 0 && !tpl->param[tpl->nseg - 1] &&
        tpl->seg[tpl->nseg - 1].len == 0)
        tpl->nseg--;
    return AW_OK;
}

static struct route_node *
route_node_new(struct route_build *b)
{
    struct route_node *n = arena_alloc(&b->t->arena, sizeof(*n));

    if (n != NULL)
        memset(n, 0, sizeof(*n));
    return n;
}

/*
 * Find key in m, or add it with a new empty node. Returns the node, or
 * NULL when out of memory.
 */
static struct route_node *
route_child(struct route_build *b, struct route_map *m, struct slice key,
            uint64_t h, bool fold)
{
    struct route_node *node = route_map_get(m, key, h, fold);

    if (node != NULL)
        return node;
    node = route_node_new(b);
    if (node == NULL || route_map_put(&b->t->arena, m, key, h, node) != AW_OK)
        return NULL;
    return node;
}

/* The root of the trie for a host group, created if missing. */
static struct route_node *
route_group(struct route_build *b, bool wild, struct slice key)
{
    struct route_table *t = b->t;

    if (key.ptr == NULL) {
        if (t->any == NULL)
            t->any = route_node_new(b);
        return t->any;
    }
    if (wild)
        t->max_wild = MAX(t->max_wild, key.len);
    return route_child(b, wild ? &t->wild : &t->exact, key,
                       route_hash_host(key), true);
}

/*
 * Add e to a node list, refusing it when a route already there shares a
 * method: both would be equally specific for the same host and method.
 */
static int
route_attach(struct route_build *b, struct route_entry **list,
             struct route_entry *e)
{
    for (const struct route_entry *x = *list; x != NULL; x = x->next) {
        if ((x->methods & e->methods) == 0)
            continue;
        b->name = NULL;
        return route_fail(b, "routes \"%s\" and \"%s\" are equally specific "
                          "for host %s and a method they share",
                          x->def.name, e->def.name,
                          e->def.host != NULL ? e->def.host : "(any)");
    }
    e->next = *list;
    *list = e;
    return AW_OK;
}

/* Insert a parsed route into the trie under root. */
static int
route_insert(struct route_build *b, struct route_node *root,
             struct route_entry *e, const struct route_tpl *tpl)
{
    struct route_node *node = root;

    for (unsigned k = 0; k < tpl->nseg && node != NULL; k++) {
        if (!tpl->param[k])
            node = route_child(b, &node->lit, tpl->seg[k],
                               route_hash_seg(tpl->seg[k]), false);
        else if (node->param != NULL)
            node = node->param;
        else
            node = node->param = route_node_new(b);
    }
    if (node == NULL)
        return AW_NOMEM;
    return route_attach(b, e->tail == ROUTE_TAIL_NONE ? &node->end
                                                      : &node->tail, e);
}

/* Copy one definition into the arena and check its fields. */
static int
route_copy_def(struct route_build *b, const struct route_def *d,
               struct route_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->def = *d;
    e->def.name = route_dup(b, d->name);
    e->def.path = route_dup(b, d->path);
    e->def.host = d->host != NULL ? route_dup(b, d->host) : NULL;
    if (e->def.name == NULL || e->def.path == NULL ||
        (d->host != NULL && e->def.host == NULL))
        return AW_NOMEM;
    if ((d->methods & ~ROUTE_ALL_METHODS) != 0)
        return route_fail(b, "unknown method bits 0x%x",
                          (unsigned)(d->methods & ~ROUTE_ALL_METHODS));
    e->methods = d->methods != 0 ? d->methods : ROUTE_ALL_METHODS;
    e->tail = d->prefix ? ROUTE_TAIL_PREFIX : ROUTE_TAIL_NONE;
    return AW_OK;
}

/* Compile one definition into its host group's trie. */
static int
route_add(struct route_build *b, const struct route_def *d)
{
    struct route_entry *e;
    struct route_node *root;
    struct route_tpl tpl;
    struct slice key;
    bool wild = false;
    int rc;

    b->name = d->name;
    if (d->name == NULL || d->path == NULL)
        return route_fail(b, "a route has no name or no path");
    e = arena_alloc(&b->t->arena, sizeof(*e));
    if (e == NULL)
        return AW_NOMEM;
    rc = route_copy_def(b, d, e);
    if (rc == AW_OK)
        rc = route_parse_template(b, e, &tpl);
    if (rc == AW_OK)
        rc = route_parse_host(b, d->host, &wild, &key);
    if (rc != AW_OK)
        return rc;
    root = route_group(b, wild, key);
    if (root == NULL)
        return AW_NOMEM;
    return route_insert(b, root, e, &tpl);
}

static int
route_name_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Refuse two routes with the same name: logs could not tell them apart. */
static int
route_check_names(struct route_build *b, const struct route_def *defs,
                  size_t n)
{
    const char **names;

    if (n < 2)
        return AW_OK;
    names = arena_alloc(&b->t->arena, n * sizeof(*names));
    if (names == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < n; i++)
        names[i] = defs[i].name != NULL ? defs[i].name : "";
    qsort(names, n, sizeof(*names), route_name_order);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(names[i - 1], names[i]) != 0)
            continue;
        b->name = NULL;
        return route_fail(b, "two routes are named \"%s\"", names[i]);
    }
    return AW_OK;
}

int
route_table_new(const struct route_def *defs, size_t n,
                struct route_table **out, char *err, size_t errlen)
{
    struct route_build b = {.err = err, .errlen = errlen};
    size_t bound = route_bound(defs, n);
    int rc = AW_NOMEM;

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    b.t = calloc(1, sizeof(*b.t));
    if (b.t == NULL)
        goto fail;
    arena_init(&b.t->arena, bound, bound + 256);
    rc = route_check_names(&b, defs, n);
    for (size_t i = 0; i < n && rc == AW_OK; i++)
        rc = route_add(&b, &defs[i]);
    if (rc != AW_OK)
        goto fail;
    *out = b.t;
    return AW_OK;

fail:
    if (rc == AW_NOMEM && errlen > 0)
        snprintf(err, errlen, "out of memory compiling routes");
    route_table_free(b.t);
    return rc;
}

void
route_table_free(struct route_table *t)
{
    if (t == NULL)
        return;
    arena_fini(&t->arena);
    free(t);
}

/*
 * The host part of a Host value: without the port, without one trailing
 * dot, brackets kept for IPv6 literals. A malformed value is returned
 * as it is and simply matches no exact or wildcard host.
 */
static struct slice
route_request_host(struct slice host)
{
    const char *cut;

    if (host.len > 0 && host.ptr[0] == '[') {
        cut = memchr(host.ptr, ']', host.len);
        if (cut != NULL)
            host.len = (size_t)(cut - host.ptr) + 1;
        return host;
    }
    cut = host.len > 0 ? memchr(host.ptr, ':', host.len) : NULL;
    if (cut != NULL)
        host.len = (size_t)(cut - host.ptr);
    if (host.len > 1 && host.ptr[host.len - 1] == '.')
        host.len--;
    return host;
}

/* One match in progress; lives on the caller's stack. */
struct route_search {
    struct slice path;
    uint32_t bit;        /* the request's method */
    uint32_t allowed;    /* methods of routes that matched all but method */
    unsigned depth;      /* parameter values captured on the current branch */
    struct slice value[ROUTE_MAX_PARAMS];
    struct slice rest;   /* remainder for a rest parameter */
    const struct route_entry *found;
};

/*
 * Take the first route of a node list that accepts the method. ended
 * says the path has no segment left, which a rest parameter needs.
 */
static bool
route_pick(struct route_search *s, const struct route_entry *e, bool ended)
{
    for (; e != NULL; e = e->next) {
        if (ended && e->tail == ROUTE_TAIL_REST)
            continue;
        if ((e->methods & s->bit) != 0) {
            s->found = e;
            return true;
        }
        s->allowed |= e->methods;
    }
    return false;
}

/*
 * Depth-first walk from node with the path's segment starting at pos
 * (pos past the end: no segment left). The order of the tries below is
 * the specificity order; see the top of this file.
 */
static bool
route_walk(struct route_search *s, const struct route_node *node,
           size_t pos)
{
    const char *p = s->path.ptr;
    size_t len = s->path.len;
    const char *slash;
    const struct route_node *child;
    struct slice seg;

    if (pos > len)
        return route_pick(s, node->end, true) ||
               route_pick(s, node->tail, true);
    slash = memchr(p + pos, '/', len - pos);
    seg = (struct slice){p + pos, slash != NULL ? (size_t)(slash - p) - pos
                                                : len - pos};
    child = route_map_get(&node->lit, seg, route_hash_seg(seg), false);
    if (child != NULL && route_walk(s, child, pos + seg.len + 1))
        return true;
    if (node->param != NULL && seg.len > 0 && s->depth < ROUTE_MAX_PARAMS) {
        s->value[s->depth++] = seg;
        if (route_walk(s, node->param, pos + seg.len + 1))
            return true;
        s->depth--;
    }
    s->rest = (struct slice){p + pos, len - pos};
    return route_pick(s, node->tail, false);
}

/* Names come from the route found; values from the walk. */
static void
route_fill_params(const struct route_search *s, struct route_params *out)
{
    const struct route_entry *e = s->found;

    out->n = e->nparams;
    for (unsigned k = 0; k < e->nparams; k++) {
        out->name[k] = e->pname[k];
        out->value[k] = k < s->depth ? s->value[k] : s->rest;
    }
}

/* Walk one host group's trie; true when a route was found. */
static bool
route_search_group(struct route_search *s, const struct route_node *root)
{
    s->depth = 0;
    return root != NULL && route_walk(s, root, 1);
}

/*
 * The wildcard groups whose suffix ends host, shortest first, stored in
 * hit[0..cap). Keys are at most ROUTE_HOST_MAX bytes of non-empty
 * labels, so ROUTE_HOST_MAX / 2 + 1 entries always suffice. One
 * right-to-left pass over at most the last max_wild bytes: a suffix
 * longer than every wildcard key cannot match one. A suffix must leave
 * at least one byte before it ("*.example.com" needs a label in front),
 * and IPv6 literals have no labels at all.
 */
static size_t
route_wild_hits(const struct route_table *t, struct slice host,
                const struct route_node **hit, size_t cap)
{
    size_t low = host.len > t->max_wild ? host.len - t->max_wild : 0;
    uint64_t h = ROUTE_FNV_BASIS;
    size_t n = 0;

    if (t->wild.n == 0 || (host.len > 0 && host.ptr[0] == '['))
        return 0;
    for (size_t i = host.len; i-- > MAX(low, 1);) {
        struct slice suffix = {host.ptr + i, host.len - i};

        h = route_hash_host_step(h, host.ptr[i]);
        if (host.ptr[i] != '.' || n == cap)
            continue;
        hit[n] = route_map_get(&t->wild, suffix, h, true);
        if (hit[n] != NULL)
            n++;
    }
    return n;
}

/* Try exact, then every matching wildcard from longest, then any host. */
static bool
route_search_hosts(const struct route_table *t, struct slice host,
                   struct route_search *s)
{
    const struct route_node *hit[ROUTE_HOST_MAX / 2 + 1];
    size_t n;

    if (route_search_group(s, route_map_get(&t->exact, host,
                                            route_hash_host(host), true)))
        return true;
    n = route_wild_hits(t, host, hit, ARRAY_LEN(hit));
    while (n-- > 0)
        if (route_search_group(s, hit[n]))
            return true;
    return route_search_group(s, t->any);
}

enum route_result
route_match(const struct route_table *t, struct slice host,
            enum http_method method, struct slice path,
            const struct route_def **def, struct route_params *params,
            uint32_t *allowed)
{
    struct route_search s = {.path = path};

    *def = NULL;
    params->n = 0;
    *allowed = 0;
    if (t == NULL || path.len == 0 || path.ptr[0] != '/' ||
        (unsigned)method >= HTTP_METHOD_COUNT)
        return ROUTE_NOT_FOUND;
    s.bit = 1u << method;
    if (route_search_hosts(t, route_request_host(host), &s)) {
        *def = &s.found->def;
        route_fill_params(&s, params);
        return ROUTE_FOUND;
    }
    if (s.allowed == 0)
        return ROUTE_NOT_FOUND;
    *allowed = s.allowed;
    return ROUTE_BAD_METHOD;
}
