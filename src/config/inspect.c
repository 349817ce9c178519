/*
 * inspect: what the inspect stage looks for in request values, at the
 * top level and per route.
 *
 *     inspect:                      # every route, unless it says more
 *       mode: block                 # block | log | off
 *       detectors: [sqli, xss, ssrf]
 *       allow:
 *         - {location: "query:q", detectors: [xss]}
 *     routes:
 *       - {name: upload, ..., inspect: {mode: log}}
 *       - {name: health, ..., inspect: off}
 *
 * A route's block starts from the top-level one (or the defaults when
 * there is none) and overrides it key by key; a list given in a route
 * replaces the top-level list. A route without a block takes the
 * top-level settings as they are; with neither, it is not inspected.
 *
 * Each distinct detector set is compiled into one pattern database
 * per snapshot, shared by the settings that use it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

#define INSPECT_MAX_HEADERS 64
#define INSPECT_MAX_NAMES 256       /* ssrf lists, allow entries */
#define INSPECT_NAME_MAX 256        /* a header, parameter or pointer */
#define INSPECT_LOCATION_MAX 512
#define INSPECT_CHOICE_MAX 16
#define INSPECT_MAX_SCHEMES 16
/* Distinct detector sets, each compiled into a database at most once. */
#define INSPECT_DBS_MAX (1u << INSPECT_NDETECTORS)

/* The detectors by name, in the order of the mask bits' documentation. */
static const struct {
    const char *name;
    unsigned bit;
} inspect_detector_names[] = {
    {"sqli", INSPECT_SQLI},         {"nosql", INSPECT_NOSQL},
    {"cmdi", INSPECT_CMDI},         {"template", INSPECT_TEMPLATE},
    {"xss", INSPECT_XSS},           {"traversal", INSPECT_TRAVERSAL},
    {"crlf", INSPECT_CRLF},         {"ldap", INSPECT_LDAP},
    {"xxe", INSPECT_XXE},           {"ssrf", INSPECT_SSRF},
};

static const char *const inspect_default_headers[] = {"user-agent",
                                                      "referer"};

static char
inspect_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* The defaults of every key (without a top-level block to start from). */
static int
inspect_defaults(struct config_loader *ld, struct config_inspect *in)
{
    memset(in, 0, sizeof(*in));
    in->detectors = INSPECT_ALL;
    in->threshold = 50;
    in->cookies = true;
    in->decode_rounds = INSPECT_DECODE_ROUNDS;
    in->max_values = 1000;
    inspect_ssrf_opts_default(&in->ssrf);
    config_sensitive_defaults(&in->responses);
    in->headers = config_alloc(ld, ARRAY_LEN(inspect_default_headers) *
                                       sizeof(*in->headers));
    if (in->headers == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < ARRAY_LEN(inspect_default_headers); i++) {
        const char *h = inspect_default_headers[i];

        in->headers[i] = config_strdup(ld, h, strlen(h));
        if (in->headers[i] == NULL)
            return AW_NOMEM;
    }
    in->nheaders = ARRAY_LEN(inspect_default_headers);
    return AW_OK;
}

/* mode: block, log or off. */
static int
inspect_mode(struct config_loader *ld, const struct config_node *v, void *dst,
             const struct config_field *f, const char *where)
{
    static const char *const names[] = {"block", "log", "off"};
    struct config_inspect *in = dst;
    int i;
    int rc = config_parse_choice(ld, v, INSPECT_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK) {
        in->monitor = i == 1;
        in->off = i == 2;
    }
    return rc;
}

static int
inspect_detector_bit(struct config_loader *ld, const struct config_node *it,
                     const char *where, uint32_t *bit)
{
    char q[64];

    for (size_t i = 0; i < ARRAY_LEN(inspect_detector_names); i++) {
        if (strlen(inspect_detector_names[i].name) == it->len &&
            memcmp(inspect_detector_names[i].name, it->text, it->len) == 0) {
            *bit = inspect_detector_names[i].bit;
            return AW_OK;
        }
    }
    config_error(ld, it,
                 "%s: unknown detector '%s' (expected sqli, nosql, cmdi, "
                 "template, xss, traversal, crlf, ldap, xxe or ssrf)",
                 where, config_node_quote(it, q, sizeof(q)));
    return AW_INVALID;
}

static const struct config_bits inspect_detector_bits = {
    .maxlen = 16,
    .bit_of = inspect_detector_bit,
    .empty = "an empty detector list turns nothing on; say mode: off",
};

/* detectors: a non-empty list of detector names. */
static int
inspect_detectors(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    uint32_t bits = 0;
    int rc = config_parse_bits(ld, v, &inspect_detector_bits, where, &bits);

    (void)f;
    if (rc == AW_OK)
        *(unsigned *)dst = bits;
    return rc;
}

/*
 * A list of min to max distinct strings of 1 to INSPECT_NAME_MAX bytes
 * into a new array; lower is set for names compared without case,
 * which are stored in lower case. check vets each item when not NULL.
 */
static int
inspect_strings(struct config_loader *ld, const struct config_node *v,
                size_t max, bool lower, config_check_fn *check,
                const char *where, char ***out, size_t *nout)
{
    char **list;
    size_t n = 0;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 0, max, "entries",
                                   where);

    if (rc != AW_OK)
        return rc;
    list = config_alloc(ld, (v->n + 1) * sizeof(*list));
    if (list == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        const char *s;
        char *copy;
        bool repeat = false;

        if (config_expect_string(ld, it, INSPECT_NAME_MAX, where, &s) !=
                AW_OK ||
            (check != NULL && check(ld, it, where) != AW_OK)) {
            rc = AW_INVALID;
            continue;
        }
        copy = config_strdup(ld, s, it->len);
        if (copy == NULL)
            return AW_NOMEM;
        for (size_t i = 0; lower && i < it->len; i++)
            copy[i] = (char)inspect_lower(copy[i]);
        for (size_t i = 0; i < n && !repeat; i++)
            repeat = strcmp(list[i], copy) == 0;
        if (repeat) {
            config_error(ld, it, "%s: '%s' is listed twice", where, copy);
            rc = AW_INVALID;
            continue;
        }
        list[n++] = copy;
    }
    *out = list;
    *nout = n;
    return rc;
}

/* A header field name: an RFC 9110 token. */
static int
inspect_check_header(struct config_loader *ld, const struct config_node *v,
                     const char *where)
{
    char q[96];

    if (config_is_token(v->text, v->len))
        return AW_OK;
    config_error(ld, v, "%s: '%s' is not a header field name", where,
                 config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

static int
inspect_headers(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    struct config_inspect *in = dst;

    (void)f;
    return inspect_strings(ld, v, INSPECT_MAX_HEADERS, true,
                           inspect_check_header, where, &in->headers,
                           &in->nheaders);
}

/* A JSON pointer (RFC 6901): empty, or '/' and reference tokens. */
static int
inspect_check_pointer(struct config_loader *ld, const struct config_node *v,
                      const char *where)
{
    char q[96];
    bool ok = v->text[0] == '/';

    for (size_t i = 0; ok && i < v->len; i++)
        if (v->text[i] == '~')
            ok = i + 1 < v->len &&
                 (v->text[i + 1] == '0' || v->text[i + 1] == '1');
    if (ok)
        return AW_OK;
    config_error(ld, v,
                 "%s: '%s' is not a JSON pointer ('/' and member names, "
                 "'~' written ~0 and '/' written ~1)",
                 where, config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

/* ssrf.schemes: lower-case scheme names (RFC 3986 section 3.1). */
static int
inspect_check_scheme(struct config_loader *ld, const struct config_node *v,
                     const char *where)
{
    char q[96];
    bool ok = v->text[0] >= 'a' && v->text[0] <= 'z';

    for (size_t i = 1; ok && i < v->len; i++) {
        char ch = v->text[i];

        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
             ch == '+' || ch == '-' || ch == '.';
    }
    if (ok)
        return AW_OK;
    config_error(ld, v, "%s: '%s' is not a lower-case URL scheme", where,
                 config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

/* ssrf.internal_names: "name.example" or "*.suffix", lower case. */
static int
inspect_check_internal(struct config_loader *ld, const struct config_node *v,
                       const char *where)
{
    char q[96];
    const char *s = v->text;
    size_t n = v->len;
    bool ok = true;

    if (n > 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        n -= 2;
    }
    for (size_t i = 0; ok && i < n; i++) {
        char ch = s[i];

        ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || (ch == '.' && i > 0 && i + 1 < n);
    }
    if (ok && n > 0)
        return AW_OK;
    config_error(ld, v,
                 "%s: '%s' is not a lower-case host name or '*.' and a "
                 "suffix", where, config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

/* The sub-block ssrf: its lists, read into the settings at dst. */
static int
inspect_ssrf_schemes(struct config_loader *ld, const struct config_node *v,
                     void *dst, const struct config_field *f,
                     const char *where)
{
    struct config_inspect *in = dst;
    char **list;
    size_t n = 0;
    int rc;

    (void)f;
    rc = inspect_strings(ld, v, INSPECT_MAX_SCHEMES, false,
                         inspect_check_scheme, where, &list, &n);
    if (rc == AW_OK) {
        in->ssrf.schemes = (const char *const *)list;
        in->ssrf.nschemes = n;
    }
    return rc;
}

/* internal_names come after the defaults, which always apply. */
static int
inspect_ssrf_internal(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where)
{
    struct config_inspect *in = dst;
    struct inspect_ssrf_opts defaults;
    const char **all;
    char **list;
    size_t n = 0;
    int rc;

    (void)f;
    rc = inspect_strings(ld, v, INSPECT_MAX_NAMES, true,
                         inspect_check_internal, where, &list, &n);
    if (rc != AW_OK)
        return rc;
    inspect_ssrf_opts_default(&defaults);
    all = config_alloc(ld, (defaults.ninternal + n) * sizeof(*all));
    if (all == NULL)
        return AW_NOMEM;
    memcpy(all, defaults.internal, defaults.ninternal * sizeof(*all));
    memcpy(all + defaults.ninternal, list, n * sizeof(*all));
    in->ssrf.internal = all;
    in->ssrf.ninternal = defaults.ninternal + n;
    return AW_OK;
}

static int
inspect_ssrf_params(struct config_loader *ld, const struct config_node *v,
                    void *dst, const struct config_field *f,
                    const char *where)
{
    struct config_inspect *in = dst;

    (void)f;
    return inspect_strings(ld, v, INSPECT_MAX_NAMES, false, NULL, where,
                           &in->ssrf_params, &in->nssrf_params);
}

static int
inspect_ssrf_pointers(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where)
{
    struct config_inspect *in = dst;

    (void)f;
    return inspect_strings(ld, v, INSPECT_MAX_NAMES, false,
                           inspect_check_pointer, where, &in->ssrf_pointers,
                           &in->nssrf_pointers);
}

static const struct config_field inspect_ssrf_fields[] = {
    {.key = "schemes", .parse = inspect_ssrf_schemes},
    {.key = "internal_names", .parse = inspect_ssrf_internal},
    {.key = "parameters", .parse = inspect_ssrf_params},
    {.key = "pointers", .parse = inspect_ssrf_pointers},
    {.key = NULL},
};

static int
inspect_ssrf(struct config_loader *ld, const struct config_node *v, void *dst,
             const struct config_field *f, const char *where)
{
    (void)f;
    return config_walk_map(ld, v, inspect_ssrf_fields, dst, where);
}

/* The kinds of locations, as an allow entry writes them. */
static const struct {
    const char *prefix;
    enum config_inspect_where at;
} inspect_locations[] = {
    {"path", INSPECT_AT_PATH},     {"query", INSPECT_AT_QUERY},
    {"header", INSPECT_AT_HEADER}, {"cookie", INSPECT_AT_COOKIE},
    {"form", INSPECT_AT_FORM},     {"json", INSPECT_AT_JSON},
    {"xml", INSPECT_AT_XML},
};

/* True when s[0..n) is a position of a path segment, 1 to 9999. */
static bool
inspect_is_position(const char *s, size_t n)
{
    if (n == 0 || n > 4 || s[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * Read "kind" or "kind:name" into a. The name of a header is kept in
 * lower case; a JSON name must be a pointer and a path name a position;
 * "xml" takes no name.
 */
int
config_inspect_location(const char *s, size_t len,
                        struct config_inspect_allow *a, const char **why)
{
    const char *colon = memchr(s, ':', len);
    size_t plen = colon != NULL ? (size_t)(colon - s) : len;
    const char *name = colon != NULL ? colon + 1 : NULL;
    size_t nlen = colon != NULL ? len - plen - 1 : 0;
    size_t i = 0;

    while (i < ARRAY_LEN(inspect_locations) &&
           !(strlen(inspect_locations[i].prefix) == plen &&
             memcmp(inspect_locations[i].prefix, s, plen) == 0))
        i++;
    if (i == ARRAY_LEN(inspect_locations)) {
        *why = "a location is path, query, header, cookie, form, json or "
               "xml, with ':' and a name after all but path and xml";
        return AW_INVALID;
    }
    a->at = inspect_locations[i].at;
    a->name = NULL;
    a->name_len = 0;
    if (colon == NULL)
        return AW_OK;
    if (nlen == 0) {
        *why = "the name after ':' is empty";
        return AW_INVALID;
    }
    if (a->at == INSPECT_AT_XML) {
        *why = "an xml location is the whole body, without a name";
        return AW_INVALID;
    }
    if (a->at == INSPECT_AT_PATH && !inspect_is_position(name, nlen)) {
        *why = "a path location names a segment by position, from 1";
        return AW_INVALID;
    }
    if (a->at == INSPECT_AT_JSON && name[0] != '/') {
        *why = "a json location is a JSON pointer, starting with '/'";
        return AW_INVALID;
    }
    a->name = (char *)name;
    a->name_len = nlen;
    return AW_OK;
}

/* allow[].location into the entry at dst. */
static int
inspect_allow_location(struct config_loader *ld, const struct config_node *v,
                       void *dst, const struct config_field *f,
                       const char *where)
{
    struct config_inspect_allow *a = dst;
    const char *s, *why = NULL;
    char q[96];
    int rc = config_expect_string(ld, v, INSPECT_LOCATION_MAX, where, &s);

    (void)f;
    if (rc != AW_OK)
        return rc;
    if (config_inspect_location(s, v->len, a, &why) != AW_OK) {
        config_error(ld, v, "%s: '%s': %s", where,
                     config_node_quote(v, q, sizeof(q)), why);
        return AW_INVALID;
    }
    if (a->name == NULL)
        return AW_OK;
    a->name = config_strdup(ld, a->name, a->name_len);
    if (a->name == NULL)
        return AW_NOMEM;
    for (size_t i = 0; a->at == INSPECT_AT_HEADER && i < a->name_len; i++)
        a->name[i] = (char)inspect_lower(a->name[i]);
    return AW_OK;
}

static const struct config_field inspect_allow_fields[] = {
    {.key = "location", .parse = inspect_allow_location, .required = true,
     .offset = offsetof(struct config_inspect_allow, at)},
    {.key = "detectors", .parse = inspect_detectors,
     .offset = offsetof(struct config_inspect_allow, detectors)},
    {.key = NULL},
};

/* allow: a list of {location, detectors} mappings. */
static int
inspect_allow(struct config_loader *ld, const struct config_node *v,
              void *dst, const struct config_field *f, const char *where)
{
    struct config_inspect *in = dst;
    struct config_inspect_allow *list;
    size_t i = 0;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 0,
                                   INSPECT_MAX_NAMES, "entries", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    list = config_alloc(ld, (v->n + 1) * sizeof(*list));
    if (list == NULL)
        return AW_NOMEM;
    for (const struct config_node *m = v->first; m != NULL; m = m->next) {
        char path[INSPECT_LOCATION_MAX];
        int one;

        snprintf(path, sizeof(path), "%s[%zu]", where, i);
        list[i].detectors = INSPECT_ALL;
        one = config_walk_map(ld, m, inspect_allow_fields, &list[i++], path);
        if (one == AW_NOMEM)
            return one;
        if (one != AW_OK)
            rc = AW_INVALID;
    }
    in->allow = list;
    in->nallow = i;
    return rc;
}

/* responses: sensitive data in response bodies (src/config/sensitive.c). */
static int
inspect_responses(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    struct config_inspect *in = dst;

    (void)f;
    return config_parse_sensitive(ld, v, &in->responses, where);
}

#define FIELD(k, fn, member, lo, hi)                                           \
    {                                                                          \
        .key = (k), .parse = (fn),                                             \
        .offset = offsetof(struct config_inspect, member),                     \
        .size = sizeof(((struct config_inspect *)0)->member), .min = (lo),     \
        .max = (hi)                                                            \
    }

static const struct config_field inspect_fields[] = {
    {.key = "mode", .parse = inspect_mode},
    FIELD("detectors", inspect_detectors, detectors, 0, 0),
    FIELD("threshold", config_parse_uint, threshold, 1, 1000),
    {.key = "headers", .parse = inspect_headers},
    FIELD("cookies", config_parse_bool, cookies, 0, 1),
    FIELD("decode_rounds", config_parse_uint, decode_rounds, 1, 8),
    FIELD("max_values", config_parse_uint, max_values, 1, 100000),
    {.key = "ssrf", .parse = inspect_ssrf},
    {.key = "allow", .parse = inspect_allow},
    {.key = "responses", .parse = inspect_responses},
    {.key = NULL},
};

/*
 * The pattern database of in's detectors: the one compiled already for
 * the same set in this snapshot, or a new one.
 */
static int
inspect_db(struct config_loader *ld, const struct config_node *v,
           struct config_inspect *in, const char *where)
{
    struct config *c = ld->c;
    char err[200] = "";
    int rc;

    for (size_t i = 0; i < c->ninspect_dbs; i++) {
        if (c->inspect_dbs[i].mask == in->detectors) {
            in->db = c->inspect_dbs[i].db;
            return AW_OK;
        }
    }
    if (c->inspect_dbs == NULL) {
        c->inspect_dbs = config_alloc(ld, INSPECT_DBS_MAX *
                                              sizeof(*c->inspect_dbs));
        if (c->inspect_dbs == NULL)
            return AW_NOMEM;
    }
    rc = inspect_db_compile(in->detectors, &in->db, err, sizeof(err));
    if (rc == AW_NOMEM)
        return rc;
    if (rc != AW_OK) {
        config_error(ld, v, "%s: the detectors' patterns do not compile: %s",
                     where, err);
        return AW_INVALID;
    }
    c->inspect_dbs[c->ninspect_dbs++] = (struct config_inspect_db){
        in->detectors, in->db};
    return AW_OK;
}

/*
 * One block over the settings in *in (a copy of what it overrides):
 * "off", or a mapping of keys. The database is compiled when the
 * block leaves inspection on.
 */
static int
inspect_block(struct config_loader *ld, const struct config_node *v,
              struct config_inspect *in, const char *where)
{
    int rc;

    if (v->type == CONFIG_NODE_SCALAR && v->len == 3 &&
        memcmp(v->text, "off", 3) == 0) {
        in->off = true;
        return AW_OK;
    }
    rc = config_walk_map(ld, v, inspect_fields, in, where);
    if (rc == AW_OK && !in->off)
        rc = inspect_db(ld, v, in, where);
    return rc;
}

int
config_parse_inspect(struct config_loader *ld, const struct config_node *v,
                     void *dst, const struct config_field *f,
                     const char *where)
{
    struct config_inspect *in = config_alloc(ld, sizeof(*in));
    int rc;

    (void)dst;
    (void)f;
    if (in == NULL)
        return AW_NOMEM;
    rc = inspect_defaults(ld, in);
    if (rc != AW_OK)
        return rc;
    ld->c->inspect = in;
    return inspect_block(ld, v, in, where);
}

int
config_parse_route_inspect(struct config_loader *ld,
                           const struct config_node *v, void *dst,
                           const struct config_field *f, const char *where)
{
    const struct config_inspect *top = ld->c->inspect;
    struct config_inspect *in = config_alloc(ld, sizeof(*in));
    struct config_route *route = dst;
    int rc = AW_OK;

    (void)f;
    if (in == NULL)
        return AW_NOMEM;
    if (top != NULL)
        *in = *top;
    else
        rc = inspect_defaults(ld, in);
    /* Off at the top does not turn off a route that gives a block. */
    in->off = false;
    if (rc == AW_OK)
        rc = inspect_block(ld, v, in, where);
    if (rc != AW_OK)
        return rc;
    if (!in->off)
        route->inspect = in;
    /* "inspect: off" turns response scanning off too; "mode: off" only
       the request side. */
    if (v->type != CONFIG_NODE_SCALAR &&
        in->responses.mode != SENSITIVE_OFF)
        route->sensitive = &in->responses;
    return AW_OK;
}

void
config_inspect_route_default(const struct config *c, struct config_route *r)
{
    if (c->inspect != NULL && !c->inspect->off)
        r->inspect = c->inspect;
    if (c->inspect != NULL && c->inspect->responses.mode != SENSITIVE_OFF)
        r->sensitive = &c->inspect->responses;
}

int
config_inspect_builtin(struct config_loader *ld, struct config_route *r)
{
    struct config_node off = {.type = CONFIG_NODE_MAP};
    struct config_inspect *in = config_alloc(ld, sizeof(*in));
    int rc;

    if (in == NULL)
        return AW_NOMEM;
    rc = inspect_defaults(ld, in);
    if (rc == AW_OK)
        rc = inspect_db(ld, &off, in, "--inspect");
    if (rc == AW_OK)
        rc = config_sensitive_builtin(ld, &in->responses);
    if (rc == AW_OK) {
        r->inspect = in;
        r->sensitive = &in->responses;
    }
    return rc;
}

void
config_inspect_free(struct config *c)
{
    for (size_t i = 0; i < c->ninspect_dbs; i++)
        inspect_db_free(c->inspect_dbs[i].db);
}

/* The position written in a "path:N" allow entry. */
static unsigned
inspect_allow_position(const struct config_inspect_allow *a)
{
    unsigned n = 0;

    for (size_t i = 0; i < a->name_len; i++)
        n = n * 10 + (unsigned)(a->name[i] - '0');
    return n;
}

/*
 * True when allow entry a covers a value at (at, name, pos): the same
 * kind, and no name, or the same name (header names without case; a
 * JSON pointer covers the values below it too; a path position its
 * segment only).
 */
static bool
inspect_allow_covers(const struct config_inspect_allow *a,
                     enum config_inspect_where at, struct slice name,
                     unsigned pos)
{
    struct slice n = {a->name, a->name_len};

    if (a->at != at)
        return false;
    if (a->name == NULL)
        return true;
    switch (at) {
    case INSPECT_AT_PATH:
        return pos != 0 && inspect_allow_position(a) == pos;
    case INSPECT_AT_HEADER:
        return slice_eq_nocase(n, name);
    case INSPECT_AT_JSON:
        return name.len >= n.len && memcmp(name.ptr, n.ptr, n.len) == 0 &&
               (name.len == n.len || name.ptr[n.len] == '/');
    default:
        return slice_eq(n, name);
    }
}

unsigned
config_inspect_allowed(const struct config_inspect *in,
                       enum config_inspect_where at, struct slice name,
                       unsigned pos)
{
    unsigned m = 0;

    for (size_t i = 0; i < in->nallow; i++)
        if (inspect_allow_covers(&in->allow[i], at, name, pos))
            m |= in->allow[i].detectors;
    return m;
}
