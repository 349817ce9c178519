/*
 * The identity section: token issuers with their key sources, and the
 * API key store.
 *
 * Key files and the API key file are read while the configuration is
 * loaded, so that a broken one is reported at the line that names it
 * and never reaches a running gateway. Remote key sources are only
 * registered here; the key store fetches them once the gateway runs.
 *
 * An issuer verifies either with secret keys (HS*) or with public keys,
 * never both: a verifier that accepts both kinds for one issuer is the
 * classic way to have a public key taken for an HMAC secret.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <sys/stat.h>

#include "config/internal.h"
#include "identity/identity.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define SEC_MS ((uint64_t)1000)
#define HOUR_MS ((uint64_t)3600 * 1000)
#define DAY_MS (24 * HOUR_MS)

#define IDENT_MAX_ISSUERS 64
#define IDENT_NAME_MAX 64
#define IDENT_ISSUER_MAX 1024
#define IDENT_MAX_AUDIENCES 32
#define IDENT_MAX_REQUIRED 32
#define IDENT_CLAIM_MAX 256
#define IDENT_TYP_MAX 64
#define IDENT_PATH_MAX 4096
#define IDENT_MAX_REVOKED 10000
#define IDENT_KEY_ID_MAX 128
#define IDENT_ALG_MAX 16
#define IDENT_CHOICE_MAX 16
#define IDENT_WHERE_MAX 200

/* The HMAC algorithms, whose keys are secrets. */
#define IDENT_ALGS_HS                                                          \
    ((1u << JOSE_HS256) | (1u << JOSE_HS384) | (1u << JOSE_HS512))

/* Every algorithm jose verifies; bit 0 stands for UNKNOWN. */
#define IDENT_ALGS_ALL (((1u << JOSE_ALG_COUNT) - 1) & ~1u)

/* The names of the key sources, indexed by enum config_keys_kind. */
static const char *const ident_kinds[] = {"file", "url", "discovery"};

/* identity.api_keys as written, before the store is loaded. */
struct ident_api_keys {
    char *file;
    char *pepper_file;
    char **revoked;
    size_t nrevoked;
};

/*
 * Parse a list of min to max distinct strings of at most maxlen bytes
 * into a new array in the snapshot. check, when not NULL, vets each
 * item further and records its own problem. Every bad item is
 * reported; the array holds the good ones.
 */
static int
ident_string_list(struct config_loader *ld, const struct config_node *v,
                  size_t min, size_t max, size_t maxlen, config_check_fn *check,
                  const char *where, char ***out, size_t *nout)
{
    char **list;
    size_t n = 0;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, min, max, "entries",
                                   where);

    if (rc != AW_OK)
        return rc;
    list = config_alloc(ld, (v->n + 1) * sizeof(*list));
    if (list == NULL)
        return AW_NOMEM;
    for (const struct config_node *it = v->first; it != NULL; it = it->next) {
        const char *s;
        bool repeat = false;

        if (config_expect_string(ld, it, maxlen, where, &s) != AW_OK ||
            (check != NULL && check(ld, it, where) != AW_OK)) {
            rc = AW_INVALID;
            continue;
        }
        for (size_t i = 0; i < n && !repeat; i++)
            repeat = strcmp(list[i], s) == 0;
        if (repeat) {
            config_error(ld, it, "%s: '%s' is listed twice", where, s);
            rc = AW_INVALID;
            continue;
        }
        list[n] = config_strdup(ld, s, it->len);
        if (list[n++] == NULL)
            return AW_NOMEM;
    }
    *out = list;
    *nout = n;
    return rc;
}

/*
 * A relative path is taken from the directory of the configuration file
 * and made absolute now, so that the gateway reads the same file
 * whatever directory it was started from and after every reload. A
 * configuration loaded from memory has no directory: there only
 * absolute paths are accepted.
 */
int
config_parse_path(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    char **out = dst, *dir, *slash, *joined;
    size_t need;
    int rc = config_store_string(ld, v, IDENT_PATH_MAX, NULL, where, dst);

    (void)f;
    if (rc != AW_OK || (*out)[0] == '/')
        return rc;
    dir = ld->c->path != NULL ? realpath(ld->c->path, NULL) : NULL;
    slash = dir != NULL ? strrchr(dir, '/') : NULL;
    if (slash == NULL) {
        free(dir);
        config_error(ld, v, "%s: expected an absolute file path", where);
        return AW_INVALID;
    }
    *slash = '\0';
    need = strlen(dir) + 1 + strlen(*out) + 1;
    joined = need <= IDENT_PATH_MAX ? config_alloc(ld, need) : NULL;
    if (joined != NULL)
        snprintf(joined, need, "%s/%s", dir, *out);
    free(dir);
    if (joined == NULL && need <= IDENT_PATH_MAX)
        return AW_NOMEM;
    if (joined == NULL) {
        config_error(ld, v, "%s: the path is longer than %d bytes", where,
                     IDENT_PATH_MAX);
        return AW_INVALID;
    }
    *out = joined;
    return AW_OK;
}

/*
 * A claim name or a dotted path into nested objects ("realm_access.
 * roles"): no empty segment, no control characters.
 */
int
config_check_claim_path(struct config_loader *ld, const struct config_node *v,
                        const char *where)
{
    char q[96];
    bool bad = v->text[0] == '.' || v->text[v->len - 1] == '.' ||
               strstr(v->text, "..") != NULL;

    for (size_t i = 0; i < v->len && !bad; i++)
        bad = (unsigned char)v->text[i] < 0x20 || v->text[i] == 0x7f;
    if (!bad)
        return AW_OK;
    config_error(ld, v,
                 "%s: '%s' is not a claim name or a dotted path of "
                 "claim names",
                 where, config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

/* A loopback host, with or without a port: "127.0.0.1:8000", "[::1]". */
static bool
ident_is_loopback(const char *host, size_t len)
{
    char lit[64];
    unsigned char addr[16];
    size_t end = len;

    if (len > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', len);

        if (close == NULL || (size_t)(close - host) - 1 >= sizeof(lit))
            return false;
        slice_copy_cstr(lit, sizeof(lit),
                        (struct slice){host + 1, (size_t)(close - host) - 1});
        return inet_pton(AF_INET6, lit, addr) == 1 && strcmp(lit, "::1") == 0;
    }
    for (size_t i = 0; i < len; i++)
        if (host[i] == ':')
            end = i;
    if (end >= sizeof(lit))
        return false;
    slice_copy_cstr(lit, sizeof(lit), (struct slice){host, end});
    if (strcasecmp(lit, "localhost") == 0)
        return true;
    return inet_pton(AF_INET, lit, addr) == 1 && addr[0] == 127;
}

/*
 * Why url cannot name a key document, or NULL when it can. Keys are
 * trust anchors: fetched in clear text across a network they could be
 * replaced on the way, so http:// is left to loopback hosts (a local
 * identity provider, tests).
 */
static const char *
ident_url_problem(const char *url, size_t len)
{
    const char *host;
    size_t hlen;
    bool tls = strncasecmp(url, "https://", 8) == 0;

    if (!tls && strncasecmp(url, "http://", 7) != 0)
        return "expected an https:// URL";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return "a URL holds no spaces, control or non-ASCII bytes";
    host = url + (tls ? 8 : 7);
    hlen = strcspn(host, "/?#");
    if (hlen == 0)
        return "the URL has no host";
    if (memchr(host, '@', hlen) != NULL)
        return "a URL with user information is refused (it would be "
               "logged)";
    if (!tls && !ident_is_loopback(host, hlen))
        return "plain http:// is accepted only for a loopback host; keys "
               "fetched in clear text could be replaced on the way";
    return NULL;
}

/* A URL to fetch keys or introspection answers from. */
static int
ident_check_url(struct config_loader *ld, const struct config_node *v,
                const char *where)
{
    const char *why = ident_url_problem(v->text, v->len);

    if (why == NULL)
        return AW_OK;
    config_error(ld, v, "%s: %s", where, why);
    return AW_INVALID;
}

/* keys.url and keys.discovery: a URL, stored with the kind it names. */
static int
ident_keys_url(struct config_loader *ld, const struct config_node *v,
               enum config_keys_kind kind, struct config_issuer *iss,
               const char *where)
{
    int rc = config_store_string(ld, v, IDENT_PATH_MAX, ident_check_url, where,
                                 &iss->keys_location);

    if (rc == AW_OK)
        iss->keys_kind = kind;
    return rc;
}

/* keys.file; dst is the issuer (offset 0). */
static int
ident_keys_file(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    struct config_issuer *iss = dst;

    iss->keys_kind = KEYS_FILE;
    return config_parse_path(ld, v, &iss->keys_location, f, where);
}

/* keys.url: a JWK Set URL; dst is the issuer (offset 0). */
static int
ident_keys_jwks_url(struct config_loader *ld, const struct config_node *v,
                    void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return ident_keys_url(ld, v, KEYS_URL, dst, where);
}

/* keys.discovery: an OpenID discovery document URL. */
static int
ident_keys_discovery(struct config_loader *ld, const struct config_node *v,
                     void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return ident_keys_url(ld, v, KEYS_DISCOVERY, dst, where);
}

/* The keys of issuers.NAME.keys; each parse function takes the issuer. */
static const struct config_field ident_keys_schema[] = {
    {.key = "file", .parse = ident_keys_file},
    {.key = "url", .parse = ident_keys_jwks_url},
    {.key = "discovery", .parse = ident_keys_discovery},
    {.key = NULL},
};

/*
 * issuers.NAME.keys: exactly one of file, url and discovery. A second
 * source is reported where it is written, since two sources would leave
 * the reader guessing which one the gateway trusts.
 */
static int
ident_keys(struct config_loader *ld, const struct config_node *v, void *dst,
           const struct config_field *f, const char *where)
{
    unsigned seen = 0;
    int rc;

    (void)f;
    rc = config_walk_map(ld, v, ident_keys_schema, dst, where);
    if (v->type != CONFIG_NODE_MAP)
        return rc;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        if (k->dup ||
            (strcmp(k->text, "file") != 0 && strcmp(k->text, "url") != 0 &&
             strcmp(k->text, "discovery") != 0))
            continue;
        if (seen++ > 0) {
            config_error(ld, k,
                         "%s: give exactly one of file, url and "
                         "discovery",
                         where);
            rc = rc == AW_NOMEM ? rc : AW_INVALID;
        }
    }
    if (seen == 0) {
        config_error(ld, v, "%s: expected one of file, url and discovery",
                     where);
        rc = rc == AW_NOMEM ? rc : AW_INVALID;
    }
    return rc;
}

/* The bit of one entry of issuers.NAME.algorithms. */
static int
ident_alg_bit(struct config_loader *ld, const struct config_node *it,
              const char *where, uint32_t *bit)
{
    char q[64];
    enum jose_alg alg = jose_alg_from_name((struct slice){it->text, it->len});

    if (alg == JOSE_ALG_UNKNOWN) {
        config_error(ld, it,
                     "%s: '%s' is not an algorithm apiward verifies "
                     "(RS256, RS384, RS512, PS256, PS384, PS512, ES256, "
                     "ES384, ES512, EdDSA, HS256, HS384, HS512)",
                     where, config_node_quote(it, q, sizeof(q)));
        return AW_INVALID;
    }
    *bit = 1u << alg;
    return AW_OK;
}

static const struct config_bits ident_alg_bits = {
    .maxlen = IDENT_ALG_MAX,
    .bit_of = ident_alg_bit,
    .empty = "an empty list allows no token",
};

/*
 * issuers.NAME.algorithms: a list of JWS algorithms, all secret (HS*)
 * or all public-key. The default, set before the walk, is every
 * public-key algorithm; HS* are never allowed unless listed.
 */
static int
ident_algorithms(struct config_loader *ld, const struct config_node *v,
                 void *dst, const struct config_field *f, const char *where)
{
    uint32_t bits = 0;
    int rc = config_parse_bits(ld, v, &ident_alg_bits, where, &bits);

    (void)f;
    if (rc == AW_OK && (bits & IDENT_ALGS_HS) && (bits & ~IDENT_ALGS_HS)) {
        config_error(ld, v,
                     "%s: secret (HS*) and public-key algorithms cannot "
                     "share an issuer; a public key could then be taken "
                     "for an HMAC secret",
                     where);
        rc = AW_INVALID;
    }
    if (rc == AW_OK)
        *(uint32_t *)dst = bits;
    return rc;
}

/* issuers.NAME.issuer: the exact "iss" value. */
static int
ident_issuer_iss(struct config_loader *ld, const struct config_node *v,
                 void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, IDENT_ISSUER_MAX, NULL, where, dst);
}

/* issuers.NAME.audiences: 1 to 32 distinct strings. */
static int
ident_audiences(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    struct config_issuer *iss = dst;

    (void)f;
    return ident_string_list(ld, v, 1, IDENT_MAX_AUDIENCES, IDENT_ISSUER_MAX,
                             NULL, where, &iss->audiences, &iss->naudiences);
}

/* issuers.NAME.require: claims that must be present; [] for none. */
static int
ident_require(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    struct config_issuer *iss = dst;

    (void)f;
    return ident_string_list(ld, v, 0, IDENT_MAX_REQUIRED, IDENT_CLAIM_MAX,
                             config_check_claim_path, where, &iss->required,
                             &iss->nrequired);
}

/* A media type: a token, or two tokens joined by one '/'. */
static bool
ident_is_media_type(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);

    if (slash == NULL)
        return config_is_token(s, len);
    return config_is_token(s, (size_t)(slash - s)) &&
           config_is_token(slash + 1, len - (size_t)(slash - s) - 1);
}

/* issuers.NAME.typ: a media type such as JWT or application/at+jwt. */
static int
ident_typ(struct config_loader *ld, const struct config_node *v, void *dst,
          const struct config_field *f, const char *where)
{
    (void)f;
    if (v->type == CONFIG_NODE_SCALAR && v->len > 0 &&
        !ident_is_media_type(v->text, v->len)) {
        config_error(ld, v, "%s: expected a media type such as JWT", where);
        return AW_INVALID;
    }
    return config_store_string(ld, v, IDENT_TYP_MAX, NULL, where, dst);
}

/* issuers.NAME.roles_claim: a dotted claim path. */
static int
ident_roles_claim(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, IDENT_CLAIM_MAX, config_check_claim_path,
                               where, dst);
}

#define FIELD(k, fn, type, member, lo, hi)                                     \
    {                                                                          \
        .key = (k), .parse = (fn), .offset = offsetof(type, member),           \
        .size = sizeof(((type *)0)->member), .min = (lo), .max = (hi)          \
    }
#define ISSUER_MS(k, member, lo, hi)                                           \
    FIELD(k, config_parse_duration, struct config_issuer, member, lo, hi)

/*
 * issuers.NAME.refresh. The bounds keep a typo from hammering an
 * identity provider (1s) or from trusting a key set for months.
 */
static const struct config_field ident_refresh_schema[] = {
    ISSUER_MS("min", refresh_min_ms, SEC_MS, 7 * DAY_MS),
    ISSUER_MS("max", refresh_max_ms, SEC_MS, 7 * DAY_MS),
    ISSUER_MS("unknown_kid", unknown_kid_ms, SEC_MS, HOUR_MS),
    ISSUER_MS("timeout", fetch_timeout_ms, 100, 60 * SEC_MS),
    {.key = NULL},
};

/*
 * The keys of an issuer, offsets into struct config_issuer; entries
 * without one receive the whole issuer. The key source is opened after
 * the walk, once every setting it depends on is known to be good.
 */
static const struct config_field ident_issuer_schema[] = {
    {.key = "issuer",
     .parse = ident_issuer_iss,
     .required = true,
     .offset = offsetof(struct config_issuer, issuer)},
    {.key = "audiences", .parse = ident_audiences, .required = true},
    FIELD("algorithms", ident_algorithms, struct config_issuer, algorithms, 0,
          0),
    ISSUER_MS("leeway", leeway_ms, 0, 10 * 60 * SEC_MS),
    ISSUER_MS("max_lifetime", max_lifetime_ms, 0, 366 * DAY_MS),
    {.key = "require", .parse = ident_require},
    FIELD("typ", ident_typ, struct config_issuer, typ, 0, 0),
    FIELD("roles_claim", ident_roles_claim, struct config_issuer, roles_claim,
          0, 0),
    {.key = "keys", .parse = ident_keys, .required = true},
    {.key = "refresh",
     .parse = config_parse_section,
     .sub = ident_refresh_schema},
    {.key = NULL},
};

/* The settings an issuer has before its mapping is read. */
static int
ident_issuer_defaults(struct config_loader *ld, struct config_issuer *iss)
{
    iss->algorithms = IDENT_ALGS_ALL & ~IDENT_ALGS_HS;
    iss->leeway_ms = 30 * SEC_MS;
    iss->max_lifetime_ms = 0;
    iss->refresh_min_ms = 5 * 60 * SEC_MS;
    iss->refresh_max_ms = DAY_MS;
    iss->unknown_kid_ms = 30 * SEC_MS;
    iss->fetch_timeout_ms = 5 * SEC_MS;
    iss->roles_claim = config_strdup(ld, "roles", 5);
    iss->required = config_alloc(ld, sizeof(*iss->required));
    if (iss->roles_claim == NULL || iss->required == NULL)
        return AW_NOMEM;
    iss->required[0] = config_strdup(ld, "exp", 3);
    iss->nrequired = 1;
    return iss->required[0] != NULL ? AW_OK : AW_NOMEM;
}

/* True when the issuer's require list names claim. */
static bool
ident_requires(const struct config_issuer *iss, const char *claim)
{
    for (size_t i = 0; i < iss->nrequired; i++)
        if (strcmp(iss->required[i], claim) == 0)
            return true;
    return false;
}

/*
 * Checks between the keys of one issuer, made once each key parsed:
 * refresh settings need a remote source, HS* needs a local one (a
 * published secret is no secret, and the key store drops such keys),
 * and a lifetime bound needs "exp".
 */
static int
ident_issuer_cross(struct config_loader *ld, const struct config_node *m,
                   const struct config_issuer *iss, const char *where)
{
    const struct config_node *refresh = config_map_get(m, "refresh");
    const struct config_node *algs = config_map_get(m, "algorithms");
    const struct config_node *life = config_map_get(m, "max_lifetime");
    int rc = AW_OK;

    if (refresh != NULL && iss->keys_kind == KEYS_FILE) {
        config_error(ld, refresh,
                     "%s.refresh: applies to url and "
                     "discovery keys only",
                     where);
        rc = AW_INVALID;
    }
    if (refresh != NULL && iss->refresh_min_ms > iss->refresh_max_ms) {
        config_error(ld, refresh, "%s.refresh: min is larger than max", where);
        rc = AW_INVALID;
    }
    if (algs != NULL && (iss->algorithms & IDENT_ALGS_HS) &&
        iss->keys_kind != KEYS_FILE) {
        config_error(ld, algs,
                     "%s.algorithms: HS* keys are secrets and "
                     "can only come from keys.file",
                     where);
        rc = AW_INVALID;
    }
    if (life != NULL && iss->max_lifetime_ms > 0 &&
        !ident_requires(iss, "exp")) {
        config_error(ld, life,
                     "%s.max_lifetime: needs exp in require, "
                     "or a token without exp would have no bound",
                     where);
        rc = AW_INVALID;
    }
    return rc;
}

/*
 * A key file is loaded now; it must hold a key for at least one allowed
 * algorithm, or every token of the issuer would be refused. Secret keys
 * under the default algorithms land here too: HS* must be listed.
 */
static int
ident_check_file_keys(struct config_loader *ld, const struct config_node *at,
                      const struct config_issuer *iss, const char *where)
{
    struct jwks *set = keysource_get(iss->keys);
    const struct jwk *one[1];
    bool usable = false;

    for (int a = JOSE_ALG_UNKNOWN + 1; set != NULL && a < JOSE_ALG_COUNT; a++)
        if ((iss->algorithms & (1u << a)) &&
            jwks_find(set, NULL, (enum jose_alg)a, one, 1) > 0)
            usable = true;
    if (!usable)
        config_error(ld, at,
                     "%s.keys.file: no key in the file serves the issuer's "
                     "algorithms%s",
                     where,
                     set != NULL && jwks_count(set) > 0
                         ? " (secret keys need HS256, HS384 or HS512 "
                           "listed under algorithms)"
                         : "");
    jwks_unref(set);
    return usable ? AW_OK : AW_INVALID;
}

/*
 * Register the issuer's key source with the key store, which reads and
 * checks a key file right away. Problems are reported at the value of
 * keys.file, keys.url or keys.discovery.
 */
static int
ident_open_keys(struct config_loader *ld, const struct config_node *m,
                struct config_issuer *iss, const char *where)
{
    struct keysource_opts o = {
        .refresh_min_ms = iss->refresh_min_ms,
        .refresh_max_ms = iss->refresh_max_ms,
        .unknown_kid_ms = iss->unknown_kid_ms,
        .timeout_ms = iss->fetch_timeout_ms,
        .issuer = iss->issuer,
    };
    const char *kind = ident_kinds[iss->keys_kind];
    const struct config_node *at =
        config_map_get(config_map_get(m, "keys"), kind);
    char err[160];
    int rc = keystore_source(iss->keys_kind, iss->keys_location, &o, &iss->keys,
                             err, sizeof(err));

    if (rc == AW_NOMEM) {
        ld->nomem = true;
        return rc;
    }
    if (rc != AW_OK) {
        iss->keys = NULL;
        config_error(ld, at, "%s.keys.%s: %s", where, kind, err);
        return AW_INVALID;
    }
    if (iss->keys_kind == KEYS_FILE)
        rc = ident_check_file_keys(ld, at, iss, where);
    return rc;
}

/*
 * Parse one issuer. Its name is registered even when its settings are
 * wrong, so that routes naming it do not add a second, misleading
 * "no issuer" problem. The key source is opened only for an issuer
 * whose every setting is good.
 */
static int
ident_issuer_one(struct config_loader *ld, const struct config_node *k,
                 struct config_issuer *iss, const char *where)
{
    char path[IDENT_WHERE_MAX], q[96];
    int rc = config_entry_name(ld, k, IDENT_NAME_MAX, "an issuer", where,
                               &iss->name);

    if (rc == AW_NOMEM || ident_issuer_defaults(ld, iss) != AW_OK)
        return AW_NOMEM;
    snprintf(path, sizeof(path), "%s.%s", where,
             config_node_quote(k, q, sizeof(q)));
    if (config_walk_map(ld, k->value, ident_issuer_schema, iss, path) != AW_OK)
        rc = AW_INVALID;
    if (ld->nomem)
        return AW_NOMEM;
    if (rc == AW_OK)
        rc = ident_issuer_cross(ld, k->value, iss, path);
    if (rc == AW_OK)
        rc = ident_open_keys(ld, k->value, iss, path);
    return rc;
}

/* identity.issuers: a mapping from issuer name to its settings. */
static int
ident_issuers(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    struct config *c = ld->c;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_MAP, 1, IDENT_MAX_ISSUERS,
                                   "issuers", where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    c->issuers = config_alloc(ld, v->n * sizeof(*c->issuers));
    if (c->issuers == NULL)
        return AW_NOMEM;
    for (const struct config_node *k = v->first; k != NULL; k = k->next) {
        struct config_issuer *iss = &c->issuers[c->nissuers];
        int one;

        if (k->dup)
            continue;
        iss->index = (unsigned)c->nissuers;
        c->nissuers++;
        one = ident_issuer_one(ld, k, iss, where);
        if (one == AW_NOMEM)
            return AW_NOMEM;
        if (one != AW_OK)
            rc = AW_INVALID;
    }
    return rc;
}

/* A key id of api_keys.revoked: printable ASCII without spaces. */
static int
ident_check_key_id(struct config_loader *ld, const struct config_node *it,
                   const char *where)
{
    char q[96];

    for (size_t i = 0; i < it->len; i++) {
        unsigned char ch = (unsigned char)it->text[i];

        if (ch <= 0x20 || ch >= 0x7f) {
            config_error(ld, it, "%s: '%s' is not a key id", where,
                         config_node_quote(it, q, sizeof(q)));
            return AW_INVALID;
        }
    }
    return AW_OK;
}

/* api_keys.revoked; dst is the struct ident_api_keys (offset 0). */
static int
ident_revoked(struct config_loader *ld, const struct config_node *v, void *dst,
              const struct config_field *f, const char *where)
{
    struct ident_api_keys *k = dst;

    (void)f;
    return ident_string_list(ld, v, 0, IDENT_MAX_REVOKED, IDENT_KEY_ID_MAX,
                             ident_check_key_id, where, &k->revoked,
                             &k->nrevoked);
}

/* identity.api_keys, offsets into struct ident_api_keys. */
static const struct config_field ident_api_keys_schema[] = {
    {.key = "file",
     .parse = config_parse_path,
     .required = true,
     .offset = offsetof(struct ident_api_keys, file)},
    {.key = "pepper_file",
     .parse = config_parse_path,
     .required = true,
     .offset = offsetof(struct ident_api_keys, pepper_file)},
    {.key = "revoked", .parse = ident_revoked},
    {.key = NULL},
};

/*
 * identity.api_keys: the key file is loaded now by the API key store;
 * its problems are reported at api_keys.file. The store never puts a
 * secret or the pepper into its messages.
 */
static int
ident_api_keys(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    struct ident_api_keys k = {0};
    char err[160];
    int rc = config_walk_map(ld, v, ident_api_keys_schema, &k, where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    rc = apikey_store_load(k.file, k.pepper_file, k.revoked, k.nrevoked,
                           &ld->c->api_keys, err, sizeof(err));
    if (rc == AW_NOMEM) {
        ld->nomem = true;
        return rc;
    }
    if (rc != AW_OK) {
        ld->c->api_keys = NULL;
        config_error(ld, config_map_get(v, "file"), "%s.file: %s", where, err);
        return AW_INVALID;
    }
    return AW_OK;
}

/* ==================================================================== */
/* identity.introspection                                               */
/* ==================================================================== */

#define INTRO_SECRET_MAX 4096
#define INTRO_ID_MAX 256

/* introspection.endpoint: an https URL, or http to a loopback host. */
static int
intro_endpoint(struct config_loader *ld, const struct config_node *v, void *dst,
               const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, IDENT_PATH_MAX, ident_check_url, where,
                               dst);
}

/* introspection.client_auth: basic (the default) or post. */
static int
intro_client_auth(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"basic", "post"};
    int i;
    int rc = config_parse_choice(ld, v, IDENT_CHOICE_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(enum config_client_auth *)dst =
            i == 1 ? CLIENT_AUTH_POST : CLIENT_AUTH_BASIC;
    return rc;
}

/*
 * introspection.client_id: the VSCHAR set of RFC 6749 appendix A.1
 * (printable ASCII and space), which the form encoding carries exactly.
 */
static int
intro_client_id(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    char q[96];

    (void)f;
    for (size_t i = 0; v->type == CONFIG_NODE_SCALAR && i < v->len; i++) {
        unsigned char ch = (unsigned char)v->text[i];

        if (ch < 0x20 || ch >= 0x7f) {
            config_error(ld, v,
                         "%s: '%s' holds a byte outside printable "
                         "ASCII",
                         where, config_node_quote(v, q, sizeof(q)));
            return AW_INVALID;
        }
    }
    return config_store_string(ld, v, INTRO_ID_MAX, NULL, where, dst);
}

/* introspection.audiences: 1 or more strings. */
static int
intro_audiences(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    struct config_introspection *in = dst;

    (void)f;
    return ident_string_list(ld, v, 1, IDENT_MAX_AUDIENCES, IDENT_ISSUER_MAX,
                             NULL, where, &in->audiences, &in->naudiences);
}

#define INTRO(k, fn, member, lo, hi)                                           \
    FIELD(k, fn, struct config_introspection, member, lo, hi)

/*
 * The keys of identity.introspection, offsets into struct
 * config_introspection. The secret itself never appears in the file:
 * a configuration is shown, copied and committed more freely than a
 * file readable by the gateway alone.
 */
static const struct config_field intro_schema[] = {
    {.key = "endpoint",
     .parse = intro_endpoint,
     .required = true,
     .offset = offsetof(struct config_introspection, endpoint)},
    INTRO("client_auth", intro_client_auth, client_auth, 0, 0),
    {.key = "client_id",
     .parse = intro_client_id,
     .required = true,
     .offset = offsetof(struct config_introspection, client_id)},
    {.key = "client_secret_file",
     .parse = config_parse_path,
     .required = true,
     .offset = offsetof(struct config_introspection, client_secret_file)},
    INTRO("timeout", config_parse_duration, timeout_ms, 100, 30 * SEC_MS),
    INTRO("cache_ttl", config_parse_duration, cache_ttl_ms, 0, DAY_MS),
    INTRO("negative_ttl", config_parse_duration, negative_ttl_ms, 0, HOUR_MS),
    INTRO("cache_entries", config_parse_uint, cache_entries, 0, 1000000),
    INTRO("max_response", config_parse_size, max_response_bytes, 256, MIB),
    INTRO("max_in_flight", config_parse_uint, max_in_flight, 1, 10000),
    INTRO("leeway", config_parse_duration, leeway_ms, 0, 10 * 60 * SEC_MS),
    {.key = "audiences", .parse = intro_audiences},
    {.key = "issuer",
     .parse = ident_issuer_iss,
     .offset = offsetof(struct config_introspection, issuer)},
    INTRO("roles_claim", ident_roles_claim, roles_claim, 0, 0),
    {.key = NULL},
};

/* The settings before the mapping is read. */
static int
intro_defaults(struct config_loader *ld, struct config_introspection *in)
{
    in->client_auth = CLIENT_AUTH_BASIC;
    in->timeout_ms = 2 * SEC_MS;
    in->cache_ttl_ms = 5 * 60 * SEC_MS;
    in->negative_ttl_ms = 10 * SEC_MS;
    in->cache_entries = 4096;
    in->max_response_bytes = 16 * KIB;
    in->max_in_flight = 64;
    in->leeway_ms = 30 * SEC_MS;
    in->roles_claim = config_strdup(ld, "roles", 5);
    return in->roles_claim != NULL ? AW_OK : AW_NOMEM;
}

/*
 * Read the client secret into the snapshot: a regular file of at most
 * INTRO_SECRET_MAX bytes, one trailing newline removed, not empty. The
 * read buffer is wiped; the snapshot's copy is wiped when it is freed.
 * A file others may read gets a warning, as the API key pepper does.
 */
static int
intro_read_secret(struct config_loader *ld, const struct config_node *at,
                  struct config_introspection *in, const char *where)
{
    char buf[INTRO_SECRET_MAX + 2];
    FILE *fp = fopen(in->client_secret_file, "re");
    struct stat st;
    size_t n;

    if (fp == NULL || fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        config_error(ld, at, "%s.client_secret_file: cannot read %s", where,
                     in->client_secret_file);
        if (fp != NULL)
            fclose(fp);
        return AW_INVALID;
    }
    if (st.st_mode & 077)
        log_warn("%s.client_secret_file: %s may be read by others", where,
                 in->client_secret_file);
    n = fread(buf, 1, sizeof(buf), fp);
    fclose(fp);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n == 0 || n > INTRO_SECRET_MAX) {
        explicit_bzero(buf, sizeof(buf));
        config_error(ld, at, "%s.client_secret_file: expected 1 to %d bytes",
                     where, INTRO_SECRET_MAX);
        return AW_INVALID;
    }
    in->client_secret = config_strdup(ld, buf, n);
    in->client_secret_len = n;
    explicit_bzero(buf, sizeof(buf));
    return in->client_secret != NULL ? AW_OK : AW_NOMEM;
}

/*
 * identity.introspection. The secret file is read now, so that a
 * missing or empty one is reported at its line and never reaches a
 * running gateway.
 */
static int
ident_introspection(struct config_loader *ld, const struct config_node *v,
                    void *dst, const struct config_field *f, const char *where)
{
    struct config_introspection *in = config_alloc(ld, sizeof(*in));
    int rc;

    (void)dst;
    (void)f;
    if (in == NULL || intro_defaults(ld, in) != AW_OK)
        return AW_NOMEM;
    rc = config_walk_map(ld, v, intro_schema, in, where);
    if (rc != AW_OK)
        return rc;
    rc = intro_read_secret(ld, config_map_get(v, "client_secret_file"), in,
                           where);
    if (rc == AW_OK)
        ld->c->introspection = in;
    return rc;
}

/*
 * The identity section, offsets into struct config. max_token stops at
 * the bound of the JOSE parser itself.
 */
static const struct config_field ident_schema[] = {
    FIELD("max_token", config_parse_size, struct config, max_token_bytes, 256,
          JOSE_MAX_TOKEN),
    FIELD("token_cache", config_parse_uint, struct config, token_cache_entries,
          0, 1000000),
    FIELD("startup_wait", config_parse_duration, struct config,
          keys_startup_wait_ms, 0, 10 * 60 * 1000),
    FIELD("key_wait", config_parse_duration, struct config, keys_wait_ms, 100,
          60 * 1000),
    {.key = "issuers", .parse = ident_issuers},
    {.key = "api_keys", .parse = ident_api_keys},
    {.key = "introspection", .parse = ident_introspection},
    {.key = NULL},
};

int
config_parse_identity(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where)
{
    (void)dst;
    (void)f;
    return config_walk_map(ld, v, ident_schema, ld->c, where);
}
