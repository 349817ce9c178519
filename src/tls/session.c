/*
 * One TLS session over a client's non-blocking socket: reads and writes
 * that complete the handshake on the way, the reason a session failed,
 * and the identity a client certificate proves.
 *
 * OpenSSL's error queue is per thread and shared with the JOSE layer,
 * so every call here starts with it empty and leaves it empty.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tls/tls_int.h"

static const char *const reason_names[TLS_R_COUNT] = {
    [TLS_R_UNKNOWN_SNI] = "tls.unknown_sni",
    [TLS_R_PROTOCOL_VERSION] = "tls.protocol_version",
    [TLS_R_NO_SHARED_CIPHER] = "tls.no_shared_cipher",
    [TLS_R_NO_CLIENT_CERT] = "tls.no_client_cert",
    [TLS_R_CERT_EXPIRED] = "tls.cert_expired",
    [TLS_R_CERT_REVOKED] = "tls.cert_revoked",
    [TLS_R_UNKNOWN_CA] = "tls.unknown_ca",
    [TLS_R_BAD_CLIENT_CERT] = "tls.bad_client_cert",
    [TLS_R_HTTP_ON_TLS] = "tls.http_on_tls",
    [TLS_R_HANDSHAKE_ABORTED] = "tls.handshake_aborted",
    [TLS_R_HANDSHAKE_TIMEOUT] = "tls.handshake_timeout",
    [TLS_R_HANDSHAKE_FAILED] = "tls.handshake_failed",
    [TLS_R_PROTOCOL_ERROR] = "tls.protocol_error",
};

static atomic_uint_fast64_t failures[TLS_R_COUNT];

void
tls_count_failure(enum tls_reason r)
{
    atomic_fetch_add_explicit(&failures[r], 1, memory_order_relaxed);
}

size_t
tls_failures(struct tls_failure_count *out, size_t max)
{
    for (size_t i = 0; i < TLS_R_COUNT && i < max; i++) {
        out[i].reason = reason_names[i];
        out[i].count = atomic_load_explicit(&failures[i],
                                            memory_order_relaxed);
    }
    return TLS_R_COUNT;
}

int
tls_conn_new(struct tls_server *s, int fd, struct tls_conn **out)
{
    struct tls_conn *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return AW_NOMEM;
    t->ssl = SSL_new(s->ctxs[0].ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1) {
        SSL_free(t->ssl);
        free(t);
        ERR_clear_error();
        return AW_NOMEM;
    }
    t->srv = tls_server_ref(s);
    SSL_set_app_data(t->ssl, t);
    SSL_set_accept_state(t->ssl);
    *out = t;
    return AW_OK;
}

void
tls_conn_free(struct tls_conn *t)
{
    if (t == NULL)
        return;
    if (!t->failed && SSL_is_init_finished(t->ssl))
        SSL_shutdown(t->ssl);
    SSL_free(t->ssl);
    ERR_clear_error();
    tls_server_unref(t->srv);
    tls_client_unref(t->client);
    free(t);
}

/* The reason of a failed client certificate verification. */
static enum tls_reason
verify_reason(long v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return TLS_R_CERT_EXPIRED;
    case X509_V_ERR_CERT_REVOKED:
        return TLS_R_CERT_REVOKED;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
        return TLS_R_UNKNOWN_CA;
    default:
        return TLS_R_BAD_CLIENT_CERT;
    }
}

/* The reason of a handshake that OpenSSL ended (SSL_ERROR_SSL). */
static enum tls_reason
ssl_reason(const struct tls_conn *t, unsigned long e)
{
    if (t->sni_refused)
        return TLS_R_UNKNOWN_SNI;
    if (ERR_GET_LIB(e) != ERR_LIB_SSL)
        return TLS_R_HANDSHAKE_FAILED;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_VERSION_TOO_LOW:
        return TLS_R_PROTOCOL_VERSION;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SUITABLE_KEY_SHARE:
        return TLS_R_NO_SHARED_CIPHER;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return TLS_R_NO_CLIENT_CERT;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
        return verify_reason(SSL_get_verify_result(t->ssl));
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
        return TLS_R_HTTP_ON_TLS;
    default:
        return TLS_R_HANDSHAKE_FAILED;
    }
}

/*
 * Judge a call that returned ret <= 0 with SSL error code e. A failure
 * during the handshake is counted here, once.
 */
static int
conn_fail(struct tls_conn *t, int e)
{
    bool handshake = !SSL_is_init_finished(t->ssl);
    unsigned long err = ERR_peek_error();

    t->failed = true;
    if (!handshake && t->client != NULL && e == SSL_ERROR_SSL)
        t->reason = ssl_reason(t, err);
    else if (!handshake)
        t->reason = TLS_R_PROTOCOL_ERROR;
    else if (e == SSL_ERROR_SSL)
        t->reason = ssl_reason(t, err);
    else
        t->reason = t->sni_refused ? TLS_R_UNKNOWN_SNI
                                   : TLS_R_HANDSHAKE_ABORTED;
    if (handshake && t->srv != NULL)
        tls_count_failure(t->reason);
    ERR_clear_error();
    return AW_ERROR;
}

int
tls_conn_read(struct tls_conn *t, char *buf, size_t cap, size_t *n)
{
    int ret, e;

    ERR_clear_error();
    t->want_write = false;
    ret = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
    if (ret > 0) {
        *n = (size_t)ret;
        return AW_OK;
    }
    e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ)
        return AW_AGAIN;
    if (e == SSL_ERROR_WANT_WRITE) {
        t->want_write = true;
        return AW_AGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN && SSL_is_init_finished(t->ssl)) {
        ERR_clear_error();
        return AW_DONE;
    }
    if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EINTR))
        return AW_AGAIN;
    return conn_fail(t, e);
}

int
tls_conn_write(struct tls_conn *t, const char *buf, size_t len, size_t *n)
{
    int ret, e;

    ERR_clear_error();
    t->want_read = false;
    ret = SSL_write(t->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (ret > 0) {
        *n = (size_t)ret;
        return AW_OK;
    }
    e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_WRITE)
        return AW_AGAIN;
    if (e == SSL_ERROR_WANT_READ) {
        t->want_read = true;
        return AW_AGAIN;
    }
    if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EINTR))
        return AW_AGAIN;
    return conn_fail(t, e);
}

bool
tls_conn_wants_write(const struct tls_conn *t)
{
    return t->want_write;
}

bool
tls_conn_wants_read(const struct tls_conn *t)
{
    return t->want_read;
}

bool
tls_conn_established(const struct tls_conn *t)
{
    return SSL_is_init_finished(t->ssl);
}

const char *
tls_conn_reason(const struct tls_conn *t)
{
    return reason_names[t->reason];
}

const char *
tls_conn_hsts(const struct tls_conn *t)
{
    return t->srv->hsts;
}

/*
 * Counted handshake timeout: the connection's handshake bound passed.
 * Returns the reason for the access log.
 */
const char *
tls_conn_timed_out(struct tls_conn *t)
{
    t->failed = true;
    t->reason = TLS_R_HANDSHAKE_TIMEOUT;
    tls_count_failure(t->reason);
    return reason_names[t->reason];
}

/* Copy an ASN1 string into t->identity if it is printable ASCII. */
static bool
take_identity(struct tls_conn *t, const ASN1_STRING *s)
{
    const unsigned char *p = ASN1_STRING_get0_data(s);
    int len = ASN1_STRING_length(s);

    if (len <= 0 || len > TLS_IDENTITY_MAX)
        return false;
    for (int i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] >= 0x7f)
            return false;
    memcpy(t->identity, p, (size_t)len);
    t->identity[len] = '\0';
    return true;
}

/* The SPIFFE URI SAN, else the first DNS SAN. */
static bool
peer_san(struct tls_conn *t, X509 *x)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    const ASN1_STRING *dns = NULL;
    bool found = false;

    for (int k = 0; g != NULL && k < sk_GENERAL_NAME_num(g) && !found; k++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, k);

        if (gn->type == GEN_URI &&
            ASN1_STRING_length(gn->d.uniformResourceIdentifier) > 9 &&
            strncasecmp((const char *)ASN1_STRING_get0_data(
                            gn->d.uniformResourceIdentifier),
                        "spiffe://", 9) == 0) {
            found = take_identity(t, gn->d.uniformResourceIdentifier);
            t->peer.source = "uri";
        } else if (gn->type == GEN_DNS && dns == NULL) {
            dns = gn->d.dNSName;
        }
    }
    if (!found && dns != NULL) {
        found = take_identity(t, dns);
        t->peer.source = "dns";
    }
    GENERAL_NAMES_free(g);
    return found;
}

/* The subject CN. */
static bool
peer_cn(struct tls_conn *t, X509 *x)
{
    X509_NAME *subj = X509_get_subject_name(x);
    int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);

    t->peer.source = "cn";
    return i >= 0 && take_identity(t, X509_NAME_ENTRY_get_data(
                                          X509_NAME_get_entry(subj, i)));
}

static int
peer_compute(struct tls_conn *t)
{
    X509 *x = SSL_get0_peer_certificate(t->ssl);
    unsigned len = 0;

    if (x == NULL)
        return AW_DECLINED;
    /* Only a verified certificate names anyone (fail closed). */
    if (SSL_get_verify_result(t->ssl) != X509_V_OK)
        return AW_INVALID;
    if (X509_digest(x, EVP_sha256(), t->peer.sha256, &len) != 1 || len != 32)
        return AW_INVALID;
    if (!peer_san(t, x) && !peer_cn(t, x))
        return AW_INVALID;
    t->peer.identity = t->identity;
    return AW_OK;
}

int
tls_conn_peer(struct tls_conn *t, const struct tls_peer **peer)
{
    if (!t->peer_done) {
        t->peer_rc = SSL_is_init_finished(t->ssl) ? peer_compute(t)
                                                  : AW_DECLINED;
        t->peer_done = true;
        ERR_clear_error();
    }
    if (t->peer_rc == AW_OK)
        *peer = &t->peer;
    return t->peer_rc;
}
