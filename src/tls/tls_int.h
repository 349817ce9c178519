/*
 * Internals of the tls module, shared by its files only.
 */
#ifndef APIWARD_TLS_INT_H
#define APIWARD_TLS_INT_H

#include <openssl/ssl.h>
#include <stdatomic.h>

#include "tls/tls.h"

#define TLS_MAX_NAMES 64     /* names kept per certificate for SNI */
#define TLS_NAME_MAX 253     /* longest DNS name */

/*
 * One SSL_CTX and the names it answers for. Certificates listed with
 * the same names share a context, one per key type, so that OpenSSL
 * picks the RSA or the ECDSA chain by what the client supports.
 */
struct tls_ctx {
    SSL_CTX *ctx;
    char **names;            /* lower case; "*.x.y" for a wildcard */
    size_t nnames;
    unsigned key_types;      /* bit 0: RSA, bit 1: EC, bit 2: other */
};

/* A certificate as loaded, for audits and expiry figures. */
struct tls_cert {
    char *path;              /* owned copy */
    X509 *x509;              /* owned reference to the leaf */
};

struct tls_server {
    atomic_uint refs;
    struct tls_ctx ctxs[TLS_MAX_CERTS];
    size_t nctxs;            /* ctxs[0] serves clients without a match */
    struct tls_cert certs[TLS_MAX_CERTS];
    size_t ncerts;
    bool strict_sni;
    uint64_t handshake_timeout_ms;
    uint64_t ticket_rotation_ms;
    char hsts[96];           /* field line, or "" */
    uint64_t files_sig;      /* tls_files_signature part, at load */
};

/* Reasons of failed sessions, in the order of the failure counters. */
enum tls_reason {
    TLS_R_UNKNOWN_SNI,
    TLS_R_PROTOCOL_VERSION,
    TLS_R_NO_SHARED_CIPHER,
    TLS_R_NO_CLIENT_CERT,
    TLS_R_CERT_EXPIRED,
    TLS_R_CERT_REVOKED,
    TLS_R_UNKNOWN_CA,
    TLS_R_BAD_CLIENT_CERT,
    TLS_R_HTTP_ON_TLS,
    TLS_R_HANDSHAKE_ABORTED,
    TLS_R_HANDSHAKE_TIMEOUT,
    TLS_R_HANDSHAKE_FAILED,
    TLS_R_PROTOCOL_ERROR,
    TLS_R_COUNT,
};

/* The per-connection session. */
struct tls_conn {
    SSL *ssl;
    struct tls_server *srv;     /* one reference; NULL upstream */
    struct tls_client *client;  /* one reference; NULL for clients */
    struct tls_session_slot *slot; /* upstream: where tickets go */
    enum tls_reason reason;
    bool failed;
    bool sni_refused;           /* set by the servername callback */
    bool want_write;            /* a read waits for the socket to drain */
    bool want_read;             /* a write waits for bytes to arrive */
    bool peer_done;             /* peer identity computed */
    int peer_rc;
    struct tls_peer peer;
    char identity[TLS_IDENTITY_MAX + 1];
};

/* Largest certificate, key, CA or CRL file read. */
#define TLS_FILE_MAX ((off_t)1 << 20)

/*
 * server.c: refuse a path that is not a regular file of at most
 * TLS_FILE_MAX bytes before OpenSSL reads it (a FIFO or a device would
 * block or never end). NULL is accepted. AW_OK or AW_INVALID (err set,
 * naming what: "cert", "key", ...).
 */
int tls_check_file(const char *what, const char *path, char *err,
                   size_t errlen);

/* server.c: callbacks every context installs. */
int tls_on_servername(SSL *ssl, int *alert, void *arg);

/* session.c: count one failure of reason r. */
void tls_count_failure(enum tls_reason r);

/* ticket.c: the session ticket key callback (OpenSSL 3 EVP form). */
int tls_on_ticket_key(SSL *ssl, unsigned char *name, unsigned char *iv,
                      EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);

#endif
