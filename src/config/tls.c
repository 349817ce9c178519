/*
 * server.listen with TLS. A listener is a "host:port" string (plain
 * text) or a mapping {address, tls}; the tls mapping is checked here
 * and compiled by the tls module into the contexts the workers use.
 *
 * Certificates, keys, the client CA bundle and the CRL are read while
 * the file is loaded, so a reload that names a broken file is refused
 * and the running snapshot keeps serving.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "tls/tls.h"

#define TLS_CIPHERS_MAX 1024
#define TLS_ADDR_MAX 300
#define DAY_MS ((uint64_t)86400 * 1000)
#define HOUR_MS ((uint64_t)3600 * 1000)

/* ECDHE key exchange with AEAD ciphers only, for TLS 1.2. */
static const char tls_default_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
static const char tls_default_groups[] = "X25519:P-256:P-384";

/* One {cert, key} entry of tls.certificates. */
static int
tls_cert_entry(struct config_loader *ld, const struct config_node *it,
               struct config_tls_cert *out, const char *where)
{
    static const struct config_field fields[] = {
        {.key = "cert", .parse = config_parse_path, .required = true,
         .offset = offsetof(struct config_tls_cert, cert)},
        {.key = "key", .parse = config_parse_path, .required = true,
         .offset = offsetof(struct config_tls_cert, key)},
        {.key = NULL},
    };

    return config_walk_map(ld, it, fields, out, where);
}

/* tls.certificates: 1 to TLS_MAX_CERTS {cert, key} mappings. */
static int
tls_certificates(struct config_loader *ld, const struct config_node *v,
                 void *dst, const struct config_field *f, const char *where)
{
    struct config_tls *t = (struct config_tls *)((char *)dst -
                           offsetof(struct config_tls, certs));
    size_t i = 0;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, TLS_MAX_CERTS,
                                   "certificates", where);

    (void)f;
    if (rc != AW_OK)
        return rc;
    t->certs = config_alloc(ld, v->n * sizeof(*t->certs));
    if (t->certs == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        char path[96];
        int one;

        snprintf(path, sizeof(path), "%s[%zu]", where, i);
        one = tls_cert_entry(ld, it, &t->certs[i++], path);
        rc = rc == AW_OK ? one : rc;
    }
    t->ncerts = i;
    return rc;
}

/* tls.min_version: "1.2" or "1.3". */
static int
tls_min_version(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"1.2", "1.3"};
    int i;
    int rc = config_parse_choice(ld, v, 8, names, ARRAY_LEN(names), where,
                                 &i);

    (void)f;
    if (rc == AW_OK)
        *(unsigned *)dst = i == 0 ? 0x0303 : 0x0304;
    return rc;
}

/* tls.client_certificate: off, optional or required. */
static int
tls_client_cert(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"off", "optional", "required"};
    static const enum config_client_cert modes[] = {
        CLIENT_CERT_OFF, CLIENT_CERT_OPTIONAL, CLIENT_CERT_REQUIRED};
    int i;
    int rc = config_parse_choice(ld, v, 16, names, ARRAY_LEN(names), where,
                                 &i);

    (void)f;
    if (rc == AW_OK)
        *(enum config_client_cert *)dst = modes[i];
    return rc;
}

/* A cipher list, suite list or group list, kept as written. */
static int
tls_list(struct config_loader *ld, const struct config_node *v, void *dst,
         const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, TLS_CIPHERS_MAX, NULL, where, dst);
}

#define TLS_FIELD(k, fn, member, lo, hi)                                       \
    {                                                                          \
        .key = (k), .parse = (fn), .offset = offsetof(struct config_tls,       \
                                                      member),                 \
        .size = sizeof(((struct config_tls *)0)->member), .min = (lo),         \
        .max = (hi)                                                            \
    }

/* The keys of a listener's tls mapping; docs/configuration.md. */
static const struct config_field tls_fields[] = {
    {.key = "certificates", .parse = tls_certificates, .required = true,
     .offset = offsetof(struct config_tls, certs)},
    TLS_FIELD("min_version", tls_min_version, min_version, 0, 0),
    TLS_FIELD("ciphers", tls_list, ciphers, 0, 0),
    TLS_FIELD("ciphersuites", tls_list, ciphersuites, 0, 0),
    TLS_FIELD("groups", tls_list, groups, 0, 0),
    TLS_FIELD("strict_sni", config_parse_bool, strict_sni, 0, 1),
    TLS_FIELD("client_certificate", tls_client_cert, client_cert, 0, 0),
    TLS_FIELD("client_ca", config_parse_path, client_ca, 0, 0),
    TLS_FIELD("crl", config_parse_path, crl, 0, 0),
    TLS_FIELD("verify_depth", config_parse_uint, verify_depth, 1, 10),
    TLS_FIELD("handshake_timeout", config_parse_duration,
              handshake_timeout_ms, 100, 5 * 60 * 1000),
    TLS_FIELD("session_tickets", config_parse_bool, session_tickets, 0, 1),
    TLS_FIELD("ticket_rotation", config_parse_duration, ticket_rotation_ms,
              60 * 1000, 7 * DAY_MS),
    TLS_FIELD("hsts_max_age", config_parse_duration, hsts_max_age_ms, 0,
              2 * 365 * DAY_MS),
    TLS_FIELD("hsts_subdomains", config_parse_bool, hsts_subdomains, 0, 1),
    {.key = NULL},
};

static int
tls_defaults(struct config_loader *ld, struct config_tls *t)
{
    t->min_version = 0x0303;
    t->ciphers = config_strdup(ld, tls_default_ciphers,
                               sizeof(tls_default_ciphers) - 1);
    t->groups = config_strdup(ld, tls_default_groups,
                              sizeof(tls_default_groups) - 1);
    t->verify_depth = 4;
    t->handshake_timeout_ms = 10000;
    t->session_tickets = true;
    t->ticket_rotation_ms = HOUR_MS;
    t->hsts_max_age_ms = 365 * DAY_MS;
    return t->ciphers != NULL && t->groups != NULL ? AW_OK : AW_NOMEM;
}

/* Settings that only make sense together. */
static int
tls_cross_check(struct config_loader *ld, const struct config_node *m,
                const struct config_tls *t, const char *where)
{
    if (t->client_cert != CLIENT_CERT_OFF && t->client_ca == NULL) {
        config_error(ld, m, "%s: client_certificate needs client_ca", where);
        return AW_INVALID;
    }
    if (t->crl != NULL && t->client_ca == NULL) {
        config_error(ld, m, "%s: crl needs client_ca", where);
        return AW_INVALID;
    }
    return AW_OK;
}

/*
 * A listener's tls mapping into a new struct config_tls, compiled. The
 * files are read only when every key is valid.
 */
static int
tls_parse(struct config_loader *ld, const struct config_node *m,
          const char *where, struct config_tls **out)
{
    struct config_tls *t = config_alloc(ld, sizeof(*t));
    char err[256];
    int rc;

    if (t == NULL)
        return AW_NOMEM;
    rc = tls_defaults(ld, t);
    if (rc == AW_OK)
        rc = config_walk_map(ld, m, tls_fields, t, where);
    if (rc == AW_OK)
        rc = tls_cross_check(ld, m, t, where);
    if (rc != AW_OK)
        return rc;
    rc = tls_server_new(t, where, err, sizeof(err), &t->server);
    if (rc == AW_INVALID)
        config_error(ld, m, "%s", err);
    if (rc == AW_OK)
        *out = t;
    return rc;
}

/*
 * One listener: "host:port", or {address: "host:port", tls: {...}}.
 * where names the list in address messages; path names this entry.
 */
static int
tls_listener(struct config_loader *ld, const struct config_node *it,
             const char *where, const char *entry, struct config_addr *a,
             struct config_tls **tls)
{
    const struct config_node *addr = it, *t = NULL;
    char err[128], q[96], path[96];
    const char *s;
    int rc;

    if (it->type == CONFIG_NODE_MAP) {
        addr = config_map_get(it, "address");
        t = config_map_get(it, "tls");
        if (addr == NULL) {
            config_error(ld, it, "%s: missing required key 'address'",
                         entry);
            return AW_INVALID;
        }
    }
    rc = config_expect_string(ld, addr, TLS_ADDR_MAX, where, &s);
    if (rc != AW_OK)
        return rc;
    rc = config_addr_parse(s, ld->resolve, a, err, sizeof(err));
    if (rc != AW_OK) {
        config_error(ld, addr, "%s: '%s': %s", where,
                     config_node_quote(addr, q, sizeof(q)), err);
        return AW_INVALID;
    }
    snprintf(path, sizeof(path), "%s.tls", entry);
    return t != NULL ? tls_parse(ld, t, path, tls) : AW_OK;
}

/* Refuse keys of a listener mapping other than address and tls. */
static int
tls_listener_keys(struct config_loader *ld, const struct config_node *it,
                  const char *where)
{
    int rc = AW_OK;

    if (it->type != CONFIG_NODE_MAP)
        return AW_OK;
    for (const struct config_node *k = it->first; k != NULL; k = k->next) {
        char q[64];

        /* A key that is not a plain scalar (a list as a key) has no
         * text and is never one of the two. Repeats were reported. */
        if (k->dup)
            continue;
        if (k->type == CONFIG_NODE_SCALAR && k->text != NULL &&
            (strcmp(k->text, "address") == 0 || strcmp(k->text, "tls") == 0))
            continue;
        config_error(ld, k, "%s: unknown key '%s' (address, tls)", where,
                     config_node_quote(k, q, sizeof(q)));
        rc = AW_INVALID;
    }
    return rc;
}

int
config_parse_listeners(struct config_loader *ld, const struct config_node *v,
                       size_t max, const char *where)
{
    struct config *c = ld->c;
    struct config_addr *list;
    struct config_tls **tls;
    size_t n = 0;
    bool any_tls = false;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, max,
                                   "addresses", where);

    if (rc != AW_OK)
        return rc;
    list = config_alloc(ld, v->n * sizeof(*list));
    tls = config_alloc(ld, v->n * sizeof(*tls));
    if (list == NULL || tls == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        char path[64];
        int one;

        snprintf(path, sizeof(path), "%s[%zu]", where, n);
        one = tls_listener_keys(ld, it, path);
        if (one == AW_OK)
            one = tls_listener(ld, it, where, path, &list[n], &tls[n]);
        for (size_t i = 0; one == AW_OK && i < n; i++) {
            if (list[i].len == list[n].len &&
                memcmp(&list[i].ss, &list[n].ss, list[n].len) == 0) {
                config_error(ld, it, "%s: %s is listed twice", where,
                             list[n].text);
                one = AW_INVALID;
            }
        }
        if (one != AW_OK) {
            /* A listener that compiled before a later one failed keeps
             * its reference here, released when the snapshot is. */
            rc = rc == AW_OK || rc == AW_INVALID ? one : rc;
            if (tls[n] != NULL)
                tls_server_unref(tls[n]->server);
            tls[n] = NULL;
            continue;
        }
        any_tls |= tls[n] != NULL;
        n++;
    }
    c->listeners = list;
    c->nlisteners = n;
    c->listener_tls = any_tls ? tls : NULL;
    return rc;
}

/* The keys of upstreams.NAME.tls; docs/configuration.md. */
static const struct config_field upstream_tls_fields[] = {
    {.key = "ca", .parse = config_parse_path, .required = true,
     .offset = offsetof(struct config_upstream_tls, ca)},
    {.key = "server_name", .parse = tls_list, .required = true,
     .offset = offsetof(struct config_upstream_tls, server_name)},
    {.key = "cert", .parse = config_parse_path,
     .offset = offsetof(struct config_upstream_tls, cert)},
    {.key = "key", .parse = config_parse_path,
     .offset = offsetof(struct config_upstream_tls, key)},
    {.key = NULL},
};

/*
 * upstreams.NAME.tls into a new struct config_upstream_tls at dst,
 * compiled into a client context (the CA and the client certificate
 * are read now).
 */
int
config_parse_upstream_tls(struct config_loader *ld,
                          const struct config_node *v, void *dst,
                          const struct config_field *f, const char *where)
{
    struct config_upstream_tls *t = config_alloc(ld, sizeof(*t));
    char err[256];
    int rc;

    (void)f;
    if (t == NULL)
        return AW_NOMEM;
    rc = config_walk_map(ld, v, upstream_tls_fields, t, where);
    if (rc == AW_OK && (t->cert == NULL) != (t->key == NULL)) {
        config_error(ld, v, "%s: cert and key go together", where);
        rc = AW_INVALID;
    }
    if (rc != AW_OK)
        return rc;
    rc = tls_client_new(t, where, err, sizeof(err), &t->client);
    if (rc == AW_INVALID)
        config_error(ld, v, "%s", err);
    if (rc == AW_OK)
        *(struct config_upstream_tls **)dst = t;
    return rc;
}
