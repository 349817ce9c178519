/*
 * The schema of the top-level sections: which keys exist, their types
 * and bounds, and the values that need more than a number (listeners,
 * enumerations, trusted ranges, security headers, the access log path).
 *
 * Every bound here is a sanity bound, generous for real deployments: it
 * exists so that a typo ("max_head: 16g") is refused at load instead of
 * surfacing as memory exhaustion under traffic.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config/internal.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define HOUR_MS ((uint64_t)3600 * 1000)

#define SCHEMA_MAX_LISTENERS 16
#define SCHEMA_MAX_TRUSTED 256
#define SCHEMA_MAX_HEADERS 32
#define SCHEMA_HEADER_VALUE_MAX 1024
#define SCHEMA_PATH_MAX 4096
#define SCHEMA_CHOICE_MAX 32

/*
 * The accepted names are listed in the problem, cut to what fits: the
 * lists are short, and the reader needs them to correct the value.
 */
int
config_parse_choice(struct config_loader *ld, const struct config_node *v,
                    size_t max, const char *const *names, size_t n,
                    const char *where, int *index)
{
    const char *s;
    char q[64], list[96] = "";
    size_t used = 0;
    int rc = config_expect_string(ld, v, max, where, &s);

    for (size_t i = 0; rc == AW_OK && i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *index = (int)i;
            return AW_OK;
        }
    }
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s",
                         i == 0 ? "" : ", ", names[i]);

        used += w > 0 ? (size_t)w : 0;
    }
    if (rc == AW_OK)
        config_error(ld, v, "%s: '%s' is not one of: %s", where,
                     config_node_quote(v, q, sizeof(q)), list);
    return AW_INVALID;
}

/* One element of an address list; refuses one seen before in list. */
static int
schema_parse_addr(struct config_loader *ld, const struct config_node *it,
                  const char *where, struct config_addr *list, size_t n)
{
    char err[128], q[96];
    const char *s;
    int rc = config_expect_string(ld, it, 300, where, &s);

    if (rc != AW_OK)
        return rc;
    rc = config_addr_parse(s, ld->resolve, &list[n], err, sizeof(err));
    if (rc != AW_OK) {
        config_error(ld, it, "%s: '%s': %s", where,
                     config_node_quote(it, q, sizeof(q)), err);
        return AW_INVALID;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].len == list[n].len &&
            memcmp(&list[i].ss, &list[n].ss, list[n].len) == 0) {
            config_error(ld, it, "%s: %s is listed twice", where, list[n].text);
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/*
 * Parse a list of "host:port" strings into a new array of addresses,
 * refusing repeats. Used for listeners and for upstream servers.
 */
int
config_parse_addr_list(struct config_loader *ld, const struct config_node *v,
                       size_t max, const char *where, struct config_addr **out,
                       size_t *nout)
{
    struct config_addr *list;
    size_t n = 0;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, max, "addresses",
                                   where);

    if (rc != AW_OK)
        return rc;
    list = config_alloc(ld, v->n * sizeof(*list));
    if (list == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        int one = schema_parse_addr(ld, it, where, list, n);

        if (one == AW_OK)
            n++;
        else
            rc = AW_INVALID;
    }
    *out = list;
    *nout = n;
    return rc;
}

/*
 * server.listen (src/config/tls.c). The list replaces the default
 * listener; on a partly bad list the good addresses are kept, which
 * matters only in that the load fails anyway.
 */
static int
schema_listen(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    (void)dst;
    (void)f;
    return config_parse_listeners(ld, v, SCHEMA_MAX_LISTENERS, where);
}

/* normalization.slashes: merge, keep or reject. */
static int
schema_slashes(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    static const char *const names[] = {"merge", "keep", "reject"};
    int i;
    int rc = config_parse_choice(ld, v, SCHEMA_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(enum http_slashes *)dst = i == 0   ? HTTP_SLASHES_MERGE
                                    : i == 1 ? HTTP_SLASHES_KEEP
                                             : HTTP_SLASHES_REJECT;
    return rc;
}

/* log.level: the four levels of the diagnostic log. */
static int
schema_log_level(struct config_loader *ld, const struct config_node *v,
                 void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    static const enum log_level levels[] = {LOG_ERROR, LOG_WARN, LOG_INFO,
                                            LOG_DEBUG};
    int i;
    int rc = config_parse_choice(ld, v, SCHEMA_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(enum log_level *)dst = levels[i];
    return rc;
}

int
config_parse_balance(struct config_loader *ld, const struct config_node *v,
                     void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"round_robin", "least_conn"};
    int i;
    int rc = config_parse_choice(ld, v, SCHEMA_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(enum config_balance *)dst =
            i == 0 ? BALANCE_ROUND_ROBIN : BALANCE_LEAST_CONN;
    return rc;
}

/*
 * The access log and the security events go to stdout, nowhere ("off")
 * or a file. A file path must be absolute: the gateway may be started
 * from any directory, and a relative path would follow it.
 */
int
config_parse_log_dest(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where)
{
    const char *s;
    int rc = config_expect_string(ld, v, SCHEMA_PATH_MAX, where, &s);

    (void)f;
    if (rc != AW_OK)
        return rc;
    if (strcmp(s, "stdout") != 0 && strcmp(s, "off") != 0 && s[0] != '/') {
        config_error(ld, v,
                     "%s: expected stdout, off or an absolute file "
                     "path",
                     where);
        return AW_INVALID;
    }
    *(char **)dst = config_strdup(ld, s, v->len);
    return *(char **)dst != NULL ? AW_OK : AW_NOMEM;
}

/* One range of trusted_proxies into r; the problem names the entry. */
static int
schema_trusted_one(struct config_loader *ld, const struct config_node *it,
                   const char *where, struct config_cidr *r)
{
    char err[128], q[96];
    const char *s;
    int rc = config_expect_string(ld, it, 64, where, &s);

    if (rc != AW_OK)
        return rc;
    rc = config_cidr_parse(s, r, err, sizeof(err));
    if (rc != AW_OK)
        config_error(ld, it, "%s: '%s': %s", where,
                     config_node_quote(it, q, sizeof(q)), err);
    return rc;
}

/*
 * trusted_proxies: replaces the (empty) default. Ranges that fail are
 * skipped so that every bad entry is reported.
 */
static int
schema_trusted(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    struct config *c = ld->c;
    int rc = config_expect_seq(ld, v, where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    if (v->n > SCHEMA_MAX_TRUSTED) {
        config_error(ld, v, "%s: more than %d ranges", where,
                     SCHEMA_MAX_TRUSTED);
        return AW_INVALID;
    }
    c->ntrusted_proxies = 0;
    c->trusted_proxies =
        config_alloc(ld, (v->n + 1) * sizeof(*c->trusted_proxies));
    if (c->trusted_proxies == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        struct config_cidr *r = &c->trusted_proxies[c->ntrusted_proxies];

        if (schema_trusted_one(ld, it, where, r) == AW_OK)
            c->ntrusted_proxies++;
        else
            rc = AW_INVALID;
    }
    return rc;
}

bool
config_is_token(const char *s, size_t len)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || (ch != 0 && strchr(extra, ch))))
            return false;
    }
    return true;
}

/* Visible ASCII and inner spaces or tabs: a field value sent as is. */
static bool
schema_is_field_value(const char *s, size_t len)
{
    if (len == 0 || s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' ||
        s[len - 1] == '\t')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch != '\t' && (ch < 0x20 || ch > 0x7e))
            return false;
    }
    return true;
}

/*
 * A header the gateway adds to every response. Names that describe the
 * connection or the framing are refused: letting the configuration set
 * them would let it break the response it decorates.
 */
static int
schema_header_name(struct config_loader *ld, const struct config_node *k,
                   const struct config_node *m, const char *where)
{
    char q[64];
    struct slice name = {k->text, k->len};

    if (!config_is_token(k->text, k->len) || k->len > 64) {
        config_error(ld, k, "%s: '%s' is not a valid header name", where,
                     config_node_quote(k, q, sizeof(q)));
        return AW_INVALID;
    }
    if (http_is_hop_by_hop(name) || slice_is(name, "Content-Length") ||
        slice_is(name, "Host")) {
        config_error(ld, k, "%s: the gateway does not let '%s' be set", where,
                     k->text);
        return AW_INVALID;
    }
    for (const struct config_node *o = m->first; o != k; o = o->next) {
        struct slice other = {o->text, o->len};

        if (!o->dup && slice_eq_nocase(other, name)) {
            config_error(ld, k,
                         "%s: '%s' is listed twice (first at line "
                         "%d)",
                         where, k->text, o->line);
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/* The value of one security header, copied into the snapshot. */
static int
schema_header_value(struct config_loader *ld, const struct config_node *v,
                    const char *where, struct config_header *h)
{
    const char *s;
    int rc = config_expect_string(ld, v, SCHEMA_HEADER_VALUE_MAX, where, &s);

    if (rc != AW_OK)
        return rc;
    if (!schema_is_field_value(s, v->len)) {
        config_error(ld, v,
                     "%s: the value must be printable ASCII without "
                     "leading or trailing spaces",
                     where);
        return AW_INVALID;
    }
    h->value = config_strdup(ld, s, v->len);
    return h->value != NULL ? AW_OK : AW_NOMEM;
}

/* Given at all, the mapping replaces the default set; {} means none. */
static int
schema_security_headers(struct config_loader *ld, const struct config_node *v,
                        void *dst, const struct config_field *f,
                        const char *where)
{
    struct config *c = ld->c;
    int rc = config_expect_map(ld, v, where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    if (v->n > SCHEMA_MAX_HEADERS) {
        config_error(ld, v, "%s: more than %d headers", where,
                     SCHEMA_MAX_HEADERS);
        return AW_INVALID;
    }
    c->nsecurity_headers = 0;
    c->security_headers =
        config_alloc(ld, (v->n + 1) * sizeof(*c->security_headers));
    if (c->security_headers == NULL)
        return AW_NOMEM;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        struct config_header *h = &c->security_headers[c->nsecurity_headers];

        if (k->dup || schema_header_name(ld, k, v, where) != AW_OK ||
            schema_header_value(ld, k->value, where, h) != AW_OK) {
            rc = ld->nomem ? AW_NOMEM : AW_INVALID;
            continue;
        }
        h->name = config_strdup(ld, k->text, k->len);
        if (h->name == NULL)
            return AW_NOMEM;
        c->nsecurity_headers++;
    }
    return rc;
}

/*
 * Table entries. FIELD records where a member lives and how wide it is,
 * so that one parse function serves every count, size or duration;
 * SPECIAL marks keys whose parse function reaches into the snapshot
 * itself; SECTION nests a table. Offsets are into struct config, also
 * for the keys of nested sections.
 */
#define FIELD(k, fn, type, member, lo, hi)                                     \
    {                                                                          \
        .key = (k), .parse = (fn), .offset = offsetof(type, member),           \
        .size = sizeof(((type *)0)->member), .min = (lo), .max = (hi)          \
    }
#define SPECIAL(k, fn)                                                         \
    {                                                                          \
        .key = (k), .parse = (fn)                                              \
    }
#define SECTION(k, fields)                                                     \
    {                                                                          \
        .key = (k), .parse = config_parse_section, .sub = (fields)             \
    }

/* The tables below are the schema; docs/configuration.md mirrors them. */
static const struct config_field schema_server[] = {
    SPECIAL("listen", schema_listen),
    FIELD("workers", config_parse_uint, struct config, workers, 0, 256),
    FIELD("max_connections", config_parse_uint, struct config, max_connections,
          1, 1000000),
    FIELD("drain_timeout", config_parse_duration, struct config,
          drain_timeout_ms, 0, HOUR_MS),
    FIELD("keepalive_requests", config_parse_uint, struct config,
          keepalive_requests, 1, 1000000),
    {.key = NULL},
};

static const struct config_field schema_limits[] = {
    FIELD("max_head", config_parse_size, struct config, limits.max_head_bytes,
          KIB, MIB),
    FIELD("max_headers", config_parse_uint, struct config, limits.max_headers,
          1, 1000),
    FIELD("max_target", config_parse_size, struct config,
          limits.max_target_bytes, 64, MIB),
    FIELD("max_body", config_parse_size, struct config, limits.max_body_bytes,
          0, CONFIG_MAX_BODY),
    FIELD("max_buffered_body", config_parse_size, struct config,
          max_buffered_body, KIB, CONFIG_MAX_BUFFERED_BODY),
    FIELD("rate_states", config_parse_uint, struct config, rl_entries, 1024,
          (uint64_t)1 << 26),
    {.key = NULL},
};

static const struct config_field schema_timeouts[] = {
    FIELD("header", config_parse_duration, struct config, header_timeout_ms, 1,
          HOUR_MS),
    FIELD("body", config_parse_duration, struct config, body_timeout_ms, 1,
          HOUR_MS),
    FIELD("idle", config_parse_duration, struct config, idle_timeout_ms, 1,
          HOUR_MS),
    FIELD("send", config_parse_duration, struct config, send_timeout_ms, 1,
          HOUR_MS),
    {.key = NULL},
};

static const struct config_field schema_norm[] = {
    FIELD("slashes", schema_slashes, struct config, norm.slashes, 0, 0),
    FIELD("reject_encoded_slash", config_parse_bool, struct config,
          norm.reject_encoded_slash, 0, 1),
    FIELD("reject_encoded_dot", config_parse_bool, struct config,
          norm.reject_encoded_dot, 0, 1),
    FIELD("reject_backslash", config_parse_bool, struct config,
          norm.reject_backslash, 0, 1),
    FIELD("reject_nul", config_parse_bool, struct config, norm.reject_nul, 0,
          1),
    FIELD("reject_invalid_utf8", config_parse_bool, struct config,
          norm.reject_invalid_utf8, 0, 1),
    FIELD("reject_dot_segments", config_parse_bool, struct config,
          norm.reject_dot_segments, 0, 1),
    {.key = NULL},
};

static const struct config_field schema_access_log[] = {
    FIELD("path", config_parse_log_dest, struct config, access_log, 0, 0),
    FIELD("buffer", config_parse_size, struct config, access_log_buffer,
          4 * KIB, 64 * MIB),
    {.key = NULL},
};

static const struct config_field schema_log[] = {
    FIELD("level", schema_log_level, struct config, log_level, 0, 0),
    {.key = NULL},
};

/*
 * Upstreams and the identity section come before routes: routes refer
 * to upstreams and issuers by name.
 */
static const struct config_field schema_top[] = {
    SECTION("server", schema_server),
    SECTION("limits", schema_limits),
    SECTION("timeouts", schema_timeouts),
    SECTION("normalization", schema_norm),
    SPECIAL("trusted_proxies", schema_trusted),
    SPECIAL("security_headers", schema_security_headers),
    SECTION("access_log", schema_access_log),
    SECTION("log", schema_log),
    SPECIAL("identity", config_parse_identity),
    SECTION("geo", config_geo_fields),
    SECTION("events", config_events_fields),
    SPECIAL("admin", config_parse_admin),
    SPECIAL("rate_limits", config_parse_rate_limits),
    SECTION("abuse", config_abuse_fields),
    SECTION("redis", config_redis_fields),
    {.key = "upstreams", .parse = config_parse_upstreams, .required = true},
    SPECIAL("policies", config_parse_policies),
    SPECIAL("contracts", config_parse_contracts),
    SPECIAL("inspect", config_parse_inspect),
    {.key = "routes", .parse = config_parse_routes, .required = true},
    {.key = NULL},
};

/* Checks that involve two keys, made once each key is known to be good. */
static int
schema_cross_check(struct config_loader *ld)
{
    struct config *c = ld->c;
    const struct config_node *limits = config_map_get(ld->root, "limits");
    const struct config_node *t;

    t = limits != NULL && limits->type == CONFIG_NODE_MAP
            ? config_map_get(limits, "max_target")
            : NULL;
    if (t == NULL) {
        /* The default target bound follows a lowered head bound. */
        c->limits.max_target_bytes =
            MIN(c->limits.max_target_bytes, c->limits.max_head_bytes);
        return AW_OK;
    }
    if (c->limits.max_target_bytes > c->limits.max_head_bytes) {
        config_error(ld, t,
                     "limits.max_target: larger than "
                     "limits.max_head, so it could never be reached");
        return AW_INVALID;
    }
    return AW_OK;
}

int
config_schema_apply(struct config_loader *ld)
{
    int rc;

    if (ld->root == NULL) {
        config_error_at(ld, 1, 1,
                        "the file is empty; upstreams and routes "
                        "are required");
        return AW_INVALID;
    }
    rc = config_walk_map(ld, ld->root, schema_top, ld->c, "");
    if (rc == AW_OK)
        rc = schema_cross_check(ld);
    if (rc == AW_OK)
        rc = config_ratelimit_cross(ld);
    return rc;
}
