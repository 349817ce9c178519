/*
 * Server contexts of a TLS listener: certificates loaded and grouped by
 * the names they carry, the protocol and cipher choices, client
 * certificate verification, SNI selection and certificate audits.
 *
 * Everything is read and checked while the configuration loads; a file
 * that cannot be used refuses the load (or the reload) with a sentence
 * that names it. OpenSSL's own messages are not quoted: they can carry
 * bytes of the files.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "tls/tls_int.h"

static const unsigned char sid_ctx[] = "apiward";

/* Lower-case copy of name[0..len), or NULL. */
static char *
name_dup(const char *name, size_t len)
{
    char *s = malloc(len + 1);

    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32
                                                       : name[i]);
    s[len] = '\0';
    return s;
}

/* Append a DNS name to *names; names that are not plain text are
   skipped, and past TLS_MAX_NAMES the rest are ignored. */
static int
names_add(char ***names, size_t *n, const unsigned char *s, int len)
{
    if (len <= 0 || len > TLS_NAME_MAX || *n >= TLS_MAX_NAMES)
        return AW_OK;
    for (int i = 0; i < len; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return AW_OK;
    if (*names == NULL) {
        *names = calloc(TLS_MAX_NAMES, sizeof(**names));
        if (*names == NULL)
            return AW_NOMEM;
    }
    (*names)[*n] = name_dup((const char *)s, (size_t)len);
    if ((*names)[*n] == NULL)
        return AW_NOMEM;
    (*n)++;
    return AW_OK;
}

/* The DNS names of a server certificate: its DNS SANs, else its CN. */
static int
cert_names(X509 *x, char ***names, size_t *n)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    X509_NAME *subj = X509_get_subject_name(x);
    int rc = AW_OK;
    int i;

    for (int k = 0; g != NULL && k < sk_GENERAL_NAME_num(g); k++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, k);

        if (gn->type == GEN_DNS && rc == AW_OK)
            rc = names_add(names, n, ASN1_STRING_get0_data(gn->d.dNSName),
                           ASN1_STRING_length(gn->d.dNSName));
    }
    GENERAL_NAMES_free(g);
    if (rc != AW_OK || *n > 0)
        return rc;
    i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
    if (i >= 0) {
        ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
            X509_NAME_get_entry(subj, i));

        rc = names_add(names, n, ASN1_STRING_get0_data(cn),
                       ASN1_STRING_length(cn));
    }
    return rc;
}

static void
names_free(char **names, size_t n)
{
    for (size_t i = 0; names != NULL && i < n; i++)
        free(names[i]);
    free(names);
}

static bool
names_equal(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* Bit of a key's type in tls_ctx.key_types. */
static unsigned
key_type_bit(const X509 *x)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    int id = k != NULL ? EVP_PKEY_get_base_id(k) : 0;

    return id == EVP_PKEY_RSA ? 1u : id == EVP_PKEY_EC ? 2u : 4u;
}

/*
 * ALPN: http/1.1 when the client offers it. A client that offers only
 * other protocols (h2) goes on without ALPN rather than failing.
 */
static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
        const unsigned char *in, unsigned inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";
    unsigned char *sel;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Client certificate checks: CA bundle, CRL, depth, mode. */
static int
ctx_client_verify(SSL_CTX *ctx, const struct config_tls *t, char *err,
                  size_t errlen)
{
    STACK_OF(X509_NAME) *names;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int mode = SSL_VERIFY_PEER;

    if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
        snprintf(err, errlen, "client_ca %s: no readable PEM certificate",
                 t->client_ca);
        return AW_INVALID;
    }
    names = SSL_load_client_CA_file(t->client_ca);
    if (names != NULL)
        SSL_CTX_set_client_CA_list(ctx, names);
    if (t->crl != NULL) {
        X509_LOOKUP *lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());

        if (lu == NULL ||
            X509_load_crl_file(lu, t->crl, X509_FILETYPE_PEM) < 1) {
            snprintf(err, errlen, "crl %s: no readable PEM CRL", t->crl);
            return AW_INVALID;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    }
    if (t->client_cert == CLIENT_CERT_REQUIRED)
        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, mode, NULL);
    SSL_CTX_set_verify_depth(ctx, (int)t->verify_depth);
    return AW_OK;
}

/* Protocols, ciphers, tickets and callbacks common to every context. */
static int
ctx_settings(SSL_CTX *ctx, const struct config_tls *t, char *err,
             size_t errlen)
{
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF;

    SSL_CTX_set_min_proto_version(ctx, (int)t->min_version);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    if (!t->session_tickets)
        opts |= SSL_OP_NO_TICKET;
    SSL_CTX_set_options(ctx, opts);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1 ||
        (t->ciphersuites != NULL &&
         SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1)) {
        snprintf(err, errlen, "ciphers or ciphersuites: no cipher is known");
        return AW_INVALID;
    }
    if (SSL_CTX_set1_groups_list(ctx, t->groups) != 1) {
        snprintf(err, errlen, "groups: '%.64s' names an unknown group",
                 t->groups);
        return AW_INVALID;
    }
    /* Stateless tickets only: no server-side cache shared by workers. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, t->session_tickets ? 1 : 0);
    SSL_CTX_set_timeout(ctx, (long)(2 * t->ticket_rotation_ms / 1000));
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_on_ticket_key);
    SSL_CTX_set_tlsext_servername_callback(ctx, tls_on_servername);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    if (t->client_cert != CLIENT_CERT_OFF)
        return ctx_client_verify(ctx, t, err, errlen);
    return AW_OK;
}

int
tls_check_file(const char *what, const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (path == NULL)
        return AW_OK;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s %s: cannot open", what, path);
        return AW_INVALID;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > TLS_FILE_MAX) {
        snprintf(err, errlen, "%s %s: not a regular file of at most 1 MiB",
                 what, path);
        return AW_INVALID;
    }
    return AW_OK;
}

/* Every file of t, checked before any is read. */
static int
server_check_files(const struct config_tls *t, char *err, size_t errlen)
{
    int rc = tls_check_file("client_ca", t->client_ca, err, errlen);

    if (rc == AW_OK)
        rc = tls_check_file("crl", t->crl, err, errlen);
    for (size_t i = 0; i < t->ncerts && rc == AW_OK; i++) {
        rc = tls_check_file("cert", t->certs[i].cert, err, errlen);
        if (rc == AW_OK)
            rc = tls_check_file("key", t->certs[i].key, err, errlen);
    }
    return rc;
}

/* Read the leaf of a PEM chain file; NULL with err set. */
static X509 *
read_leaf(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    X509 *x;

    if (f == NULL) {
        snprintf(err, errlen, "cert %s: cannot open", path);
        return NULL;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL)
        snprintf(err, errlen, "cert %s: no PEM certificate", path);
    return x;
}

/* Load chain and key of c into ctx. */
static int
ctx_use(SSL_CTX *ctx, const struct config_tls_cert *c, char *err,
        size_t errlen)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, c->cert) != 1) {
        int why = ERR_GET_REASON(ERR_peek_last_error());

        snprintf(err, errlen, "cert %s: %s", c->cert,
                 why == SSL_R_EE_KEY_TOO_SMALL || why == SSL_R_CA_KEY_TOO_SMALL
                     ? "key too small for OpenSSL's security level"
                     : "not a usable PEM chain");
        return AW_INVALID;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen, "key %s: not a readable PEM private key",
                 c->key);
        return AW_INVALID;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "key %s does not match cert %s", c->key,
                 c->cert);
        return AW_INVALID;
    }
    return AW_OK;
}

/* The context serving names, with no key of type bit yet; or a new one. */
static struct tls_ctx *
ctx_for(struct tls_server *s, char ***names, size_t *n, unsigned bit,
        const struct config_tls *t, char *err, size_t errlen, int *rc)
{
    struct tls_ctx *c;

    for (size_t i = 0; i < s->nctxs; i++) {
        c = &s->ctxs[i];
        if (!(c->key_types & bit) &&
            names_equal(c->names, c->nnames, *names, *n)) {
            names_free(*names, *n);
            *names = NULL;
            return c;
        }
    }
    c = &s->ctxs[s->nctxs];
    c->ctx = SSL_CTX_new(TLS_server_method());
    if (c->ctx == NULL) {
        *rc = AW_NOMEM;
        return NULL;
    }
    s->nctxs++;
    c->names = *names;
    c->nnames = *n;
    *names = NULL;
    *rc = ctx_settings(c->ctx, t, err, errlen);
    return *rc == AW_OK ? c : NULL;
}

/* Load certificate i of t into s. */
static int
server_add_cert(struct tls_server *s, const struct config_tls_cert *cc,
                const struct config_tls *t, char *err, size_t errlen)
{
    X509 *x = read_leaf(cc->cert, err, errlen);
    char **names = NULL;
    size_t n = 0;
    struct tls_ctx *c;
    int rc;

    if (x == NULL)
        return AW_INVALID;
    s->certs[s->ncerts].x509 = x;
    s->certs[s->ncerts].path = strdup(cc->cert);
    s->ncerts++;
    if (s->certs[s->ncerts - 1].path == NULL)
        return AW_NOMEM;
    rc = cert_names(x, &names, &n);
    if (rc != AW_OK) {
        names_free(names, n);
        return rc;
    }
    c = ctx_for(s, &names, &n, key_type_bit(x), t, err, errlen, &rc);
    names_free(names, n);
    if (c == NULL)
        return rc;
    c->key_types |= key_type_bit(x);
    return ctx_use(c->ctx, cc, err, errlen);
}

static void
server_free(struct tls_server *s)
{
    for (size_t i = 0; i < s->nctxs; i++) {
        SSL_CTX_free(s->ctxs[i].ctx);
        names_free(s->ctxs[i].names, s->ctxs[i].nnames);
    }
    for (size_t i = 0; i < s->ncerts; i++) {
        X509_free(s->certs[i].x509);
        free(s->certs[i].path);
    }
    free(s);
}

/* The Strict-Transport-Security line of t, or "". */
static void
server_hsts(struct tls_server *s, const struct config_tls *t)
{
    if (t->hsts_max_age_ms == 0)
        return;
    snprintf(s->hsts, sizeof(s->hsts),
             "Strict-Transport-Security: max-age=%llu%s\r\n",
             (unsigned long long)(t->hsts_max_age_ms / 1000),
             t->hsts_subdomains ? "; includeSubDomains" : "");
}

/* Mix the identity and state of the file at path into h (FNV-1a). */
static uint64_t
sig_file(uint64_t h, const char *path)
{
    struct stat st;
    uint64_t parts[4] = {0, 0, 0, 0};

    if (path == NULL)
        return h;
    if (stat(path, &st) == 0) {
        parts[0] = (uint64_t)st.st_ino;
        parts[1] = (uint64_t)st.st_size;
        parts[2] = (uint64_t)st.st_mtim.tv_sec;
        parts[3] = (uint64_t)st.st_mtim.tv_nsec;
    }
    for (size_t i = 0; i < sizeof(parts); i++) {
        h ^= ((const unsigned char *)parts)[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The signature of the files of one listener's settings. */
static uint64_t
sig_listener(const struct config_tls *t)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < t->ncerts; i++)
        h = sig_file(sig_file(h, t->certs[i].cert), t->certs[i].key);
    return sig_file(sig_file(h, t->client_ca), t->crl);
}

uint64_t
tls_files_signature(const struct config *cfg, bool at_load)
{
    uint64_t h = 0;

    for (size_t i = 0; cfg->listener_tls != NULL && i < cfg->nlisteners;
         i++) {
        const struct config_tls *t = cfg->listener_tls[i];

        if (t != NULL)
            h = h * 31 + (at_load ? t->server->files_sig : sig_listener(t));
    }
    return h;
}

int
tls_server_new(const struct config_tls *t, const char *where, char *err,
               size_t errlen, struct tls_server **out)
{
    struct tls_server *s = calloc(1, sizeof(*s));
    char why[200] = "";
    int rc = AW_OK;

    if (s == NULL)
        return AW_NOMEM;
    atomic_init(&s->refs, 1);
    s->strict_sni = t->strict_sni;
    s->handshake_timeout_ms = t->handshake_timeout_ms;
    s->ticket_rotation_ms = t->ticket_rotation_ms;
    /* Taken before the files are read: a change while they are read
     * is seen by the next check. */
    s->files_sig = sig_listener(t);
    server_hsts(s, t);
    rc = server_check_files(t, why, sizeof(why));
    for (size_t i = 0; i < t->ncerts && i < TLS_MAX_CERTS && rc == AW_OK; i++)
        rc = server_add_cert(s, &t->certs[i], t, why, sizeof(why));
    ERR_clear_error();
    if (rc != AW_OK) {
        snprintf(err, errlen, "%s: %s", where, why);
        server_free(s);
        return rc;
    }
    *out = s;
    return AW_OK;
}

struct tls_server *
tls_server_ref(struct tls_server *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void
tls_server_unref(struct tls_server *s)
{
    if (s == NULL ||
        atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    server_free(s);
}

uint64_t
tls_server_handshake_timeout(const struct tls_server *s)
{
    return s->handshake_timeout_ms;
}

/* Does pattern (lower case, maybe "*.x.y") cover name[0..len)? */
static bool
name_covers(const char *pattern, const char *name, size_t len)
{
    size_t pl = strlen(pattern);
    const char *dot;

    if (pl == len && strncasecmp(pattern, name, len) == 0)
        return true;
    if (pl < 3 || pattern[0] != '*' || pattern[1] != '.')
        return false;
    /* The wildcard stands for exactly one non-empty label. */
    dot = memchr(name, '.', len);
    if (dot == NULL || dot == name)
        return false;
    return (size_t)(name + len - dot) == pl - 1 &&
           strncasecmp(pattern + 1, dot, pl - 1) == 0;
}

/* The context whose names cover name, or NULL. */
static struct tls_ctx *
server_match(const struct tls_server *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->nctxs; i++)
        for (size_t k = 0; k < s->ctxs[i].nnames; k++)
            if (name_covers(s->ctxs[i].names[k], name, len))
                return (struct tls_ctx *)&s->ctxs[i];
    return NULL;
}

bool
tls_server_covers(const struct tls_server *s, const char *name, size_t len)
{
    return server_match(s, name, len) != NULL;
}

/*
 * SNI: switch the session to the context whose certificates cover the
 * name. Without a name, or without a match when strict_sni is off, the
 * first context serves. With strict_sni an unknown name ends the
 * handshake with unrecognized_name.
 */
int
tls_on_servername(SSL *ssl, int *alert, void *arg)
{
    struct tls_conn *t = SSL_get_app_data(ssl);
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    struct tls_ctx *c;

    (void)arg;
    if (t == NULL || name == NULL)
        return SSL_TLSEXT_ERR_OK;
    c = server_match(t->srv, name, strnlen(name, TLS_NAME_MAX + 1));
    if (c == NULL && t->srv->strict_sni) {
        t->sni_refused = true;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (c != NULL && c->ctx != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, c->ctx);
    return SSL_TLSEXT_ERR_OK;
}

/* Seconds from now to the notAfter of x; AW_ERROR when unreadable. */
static int
cert_left(const X509 *x, int64_t now, int64_t *left)
{
    struct tm tm;

    if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return AW_ERROR;
    *left = (int64_t)timegm(&tm) - now;
    return AW_OK;
}

int
tls_server_expiry(const struct tls_server *s, size_t i, int64_t now,
                  const char **path, int64_t *seconds)
{
    if (i >= s->ncerts)
        return AW_DECLINED;
    *path = s->certs[i].path;
    return cert_left(s->certs[i].x509, now, seconds);
}

/* Write one audit line to out or to the log. */
static void
audit_line(FILE *out, bool error, const char *path, const char *what,
           long long n)
{
    if (out != NULL)
        fprintf(out, "%s: certificate %s: %s%lld\n",
                error ? "error" : "warning", path, what, n);
    else if (error)
        log_error("certificate %s: %s%lld", path, what, n);
    else
        log_warn("certificate %s: %s%lld", path, what, n);
}

/* Weak keys: RSA under 2048 bits, EC under 256. */
static unsigned
audit_key(const struct tls_cert *c, FILE *out)
{
    EVP_PKEY *k = X509_get0_pubkey(c->x509);
    int bits = k != NULL ? EVP_PKEY_get_bits(k) : 0;
    int id = k != NULL ? EVP_PKEY_get_base_id(k) : 0;

    if ((id == EVP_PKEY_RSA && bits < 2048) ||
        (id == EVP_PKEY_EC && bits < 256)) {
        audit_line(out, false, c->path, "weak key, bits: ", bits);
        return 1;
    }
    return 0;
}

unsigned
tls_audit(const struct config *cfg, int64_t now, bool weak, FILE *out)
{
    unsigned lines = 0;

    for (size_t i = 0; cfg->listener_tls != NULL && i < cfg->nlisteners; i++)
        if (cfg->listener_tls[i] != NULL)
            lines += tls_server_audit(cfg->listener_tls[i]->server, now,
                                      weak, out);
    return lines;
}

unsigned
tls_server_audit(const struct tls_server *s, int64_t now, bool weak,
                 FILE *out)
{
    unsigned lines = 0;

    for (size_t i = 0; i < s->ncerts; i++) {
        const struct tls_cert *c = &s->certs[i];
        int64_t left;

        if (cert_left(c->x509, now, &left) != AW_OK)
            left = 0;
        if (left <= 0)
            audit_line(out, true, c->path, "expired, days ago: ",
                       (long long)(-left / 86400));
        else if (left <= 7 * 86400)
            audit_line(out, true, c->path, "expires soon, days left: ",
                       (long long)(left / 86400));
        else if (left <= 30 * 86400)
            audit_line(out, false, c->path, "expires soon, days left: ",
                       (long long)(left / 86400));
        lines += left <= 30 * 86400;
        if (weak)
            lines += audit_key(c, out);
    }
    return lines;
}
