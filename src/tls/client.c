/*
 * TLS to upstream servers: a client context per upstream that verifies
 * the server's chain against the configured CA and its name against
 * server_name, may present a client certificate (service-to-service
 * mTLS), and resumes sessions per backend address.
 *
 * Sessions are kept outside OpenSSL's cache, one per backend and
 * worker, in a slot the worker owns; the new-session callback fills it
 * when the server sends a ticket, which for TLS 1.3 happens after the
 * handshake, possibly while the connection is idle in the pool.
 */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls_int.h"

struct tls_client {
    atomic_uint refs;
    SSL_CTX *ctx;
    char *server_name;           /* owned copy */
};

void
tls_session_slot_clear(struct tls_session_slot *slot)
{
    SSL_SESSION_free(slot->session);
    tls_client_unref(slot->owner);
    slot->session = NULL;
    slot->owner = NULL;
}

/* A new session from the server: keep it in the connection's slot. */
static int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_conn *t = SSL_get_app_data(ssl);

    if (t == NULL || t->slot == NULL)
        return 0;
    tls_session_slot_clear(t->slot);
    t->slot->session = sess;
    t->slot->owner = tls_client_ref(t->client);
    return 1;                    /* the slot owns the reference */
}

/* The client certificate, when one is configured. */
static int
client_cert(SSL_CTX *ctx, const struct config_upstream_tls *t, char *err,
            size_t errlen)
{
    if (t->cert == NULL)
        return AW_OK;
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "cert %s and key %s: not a usable pair",
                 t->cert, t->key);
        return AW_INVALID;
    }
    return AW_OK;
}

static int
client_ctx(struct tls_client *c, const struct config_upstream_tls *t,
           char *err, size_t errlen)
{
    SSL_CTX *ctx;

    if (tls_check_file("ca", t->ca, err, errlen) != AW_OK ||
        tls_check_file("cert", t->cert, err, errlen) != AW_OK ||
        tls_check_file("key", t->key, err, errlen) != AW_OK)
        return AW_INVALID;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return AW_NOMEM;
    c->ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1) {
        snprintf(err, errlen, "ca %s: no readable PEM certificate", t->ca);
        return AW_INVALID;
    }
    return client_cert(ctx, t, err, errlen);
}

int
tls_client_new(const struct config_upstream_tls *t, const char *where,
               char *err, size_t errlen, struct tls_client **out)
{
    struct tls_client *c = calloc(1, sizeof(*c));
    char why[200] = "";
    int rc;

    if (c == NULL)
        return AW_NOMEM;
    atomic_init(&c->refs, 1);
    c->server_name = strdup(t->server_name);
    rc = c->server_name != NULL ? client_ctx(c, t, why, sizeof(why))
                                : AW_NOMEM;
    ERR_clear_error();
    if (rc != AW_OK) {
        snprintf(err, errlen, "%s: %s", where, why);
        tls_client_unref(c);
        return rc;
    }
    *out = c;
    return AW_OK;
}

struct tls_client *
tls_client_ref(struct tls_client *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void
tls_client_unref(struct tls_client *c)
{
    if (c == NULL ||
        atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    SSL_CTX_free(c->ctx);
    free(c->server_name);
    free(c);
}

/* SNI, the name to verify, and the kept session when it is ours. */
static int
client_setup(struct tls_conn *t, struct tls_client *c,
             struct tls_session_slot *slot)
{
    if (SSL_set_tlsext_host_name(t->ssl, c->server_name) != 1 ||
        SSL_set1_host(t->ssl, c->server_name) != 1)
        return AW_NOMEM;
    SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (slot->session != NULL && slot->owner == c)
        SSL_set_session(t->ssl, slot->session);
    return AW_OK;
}

int
tls_conn_new_client(struct tls_client *c, int fd,
                    struct tls_session_slot *slot, struct tls_conn **out)
{
    struct tls_conn *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return AW_NOMEM;
    t->ssl = SSL_new(c->ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1 ||
        client_setup(t, c, slot) != AW_OK) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return AW_NOMEM;
    }
    t->client = tls_client_ref(c);
    t->slot = slot;
    SSL_set_app_data(t->ssl, t);
    SSL_set_connect_state(t->ssl);
    *out = t;
    return AW_OK;
}

bool
tls_conn_resumed(const struct tls_conn *t)
{
    return SSL_session_reused(t->ssl) == 1;
}
