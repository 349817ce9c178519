/*
 * tls: TLS termination over OpenSSL 3. A listener with a tls section
 * gets a struct tls_server, compiled with the configuration snapshot
 * (certificates chosen by SNI, protocol and cipher choices, client
 * certificate checks). Each accepted connection gets a struct tls_conn
 * that reads and writes through a non-blocking SSL object.
 *
 * A tls_server is immutable once built and shared by every worker;
 * OpenSSL's contexts are safe to use from several threads at once. It
 * is reference-counted: the snapshot holds one reference and every
 * connection made from it another, so a reload builds new contexts
 * while open connections keep theirs. A tls_conn belongs to the thread
 * of its connection.
 *
 * Session tickets are sealed with process-wide keys that rotate every
 * ticket_rotation; the key before the current one still opens tickets,
 * so a ticket lives between one and two rotations. The keys survive a
 * reload and live in memory only.
 */
#ifndef APIWARD_TLS_H
#define APIWARD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"
#include "config/config.h"

struct tls_server;
struct tls_conn;

/* Most certificates of one listener, and longest identity kept. */
#define TLS_MAX_CERTS 16
#define TLS_IDENTITY_MAX 255

/*
 * Build the server of listener settings t (t->server is not touched):
 * load every certificate chain and key, the client CA bundle and CRL.
 * where names the settings in messages ("server.listen[0].tls"). On
 * failure err holds one sentence naming the file and what is wrong.
 * Returns AW_OK with *out holding one reference, AW_INVALID or
 * AW_NOMEM.
 */
int tls_server_new(const struct config_tls *t, const char *where,
                   char *err, size_t errlen, struct tls_server **out);

/* Take a reference; returns s. Drop one; frees with the last. NULL ok. */
struct tls_server *tls_server_ref(struct tls_server *s);
void tls_server_unref(struct tls_server *s);

/* The handshake bound of s, in milliseconds. */
uint64_t tls_server_handshake_timeout(const struct tls_server *s);

/*
 * Check every certificate of s against now (unix seconds): a line on
 * out (or the diagnostic log when out is NULL) for each certificate
 * that has expired, expires within 30 days (a warning) or within 7
 * days (an error), and, when weak is true, for each key under 2048
 * bits (RSA) or 256 bits (EC). Returns the number of lines written.
 */
unsigned tls_server_audit(const struct tls_server *s, int64_t now, bool weak,
                          FILE *out);

/*
 * tls_server_audit for every TLS listener of snapshot cfg; returns the
 * number of lines written. Called at start and on each reload (to the
 * log) and by `apiward check` (to stderr, weak keys too).
 */
unsigned tls_audit(const struct config *cfg, int64_t now, bool weak,
                   FILE *out);

/*
 * A signature of the files of every TLS listener of cfg (certificates,
 * keys, client CA, CRL): their inode, size and modification time, as
 * they were when cfg was loaded (at_load) or as they are now (a few
 * stat calls). A file that cannot be read counts as changed. The two
 * differ once a file was replaced or rewritten; 0 without TLS.
 */
uint64_t tls_files_signature(const struct config *cfg, bool at_load);

/*
 * Seconds from now until certificate i of s expires (negative once
 * expired), with its file path in *path (borrowed from s). Returns
 * AW_OK, or AW_DECLINED past the last certificate. For metrics.
 */
int tls_server_expiry(const struct tls_server *s, size_t i, int64_t now,
                      const char **path, int64_t *seconds);

/*
 * True when the certificate names of s cover host name[0..len): an
 * exact match, ignoring case, or a "*.example.com" name covering one
 * label. name is not trusted (the client's SNI).
 */
bool tls_server_covers(const struct tls_server *s, const char *name,
                       size_t len);

/*
 * Start a server-side session on the accepted, non-blocking socket fd.
 * The connection holds a reference on s until tls_conn_free. Returns
 * AW_OK with *out set, or AW_NOMEM.
 */
int tls_conn_new(struct tls_server *s, int fd, struct tls_conn **out);

/*
 * Send close_notify when the session is healthy (without waiting for
 * the peer's), and free the session; accepts NULL. Call before the
 * socket is closed.
 */
void tls_conn_free(struct tls_conn *t);

/*
 * Read up to cap decrypted bytes into buf, completing the handshake
 * first. Returns:
 *   AW_OK       *n > 0 bytes read;
 *   AW_AGAIN    nothing now: wait for readiness. tls_conn_wants_write
 *               says whether the socket must become writable (the
 *               handshake's own writes) rather than readable;
 *   AW_DONE     the peer closed the session (close_notify or EOF);
 *   AW_ERROR    the handshake or the session failed: tls_conn_reason
 *               says why. The session is unusable.
 * Ends with OpenSSL's error queue of this thread empty.
 */
int tls_conn_read(struct tls_conn *t, char *buf, size_t cap, size_t *n);

/*
 * Write up to len bytes of buf. The same or a longer run of the same
 * bytes must be offered again after AW_AGAIN (the buffer may move).
 * Returns AW_OK with *n > 0 written, AW_AGAIN (tls_conn_wants_read:
 * the socket must become readable first), or AW_ERROR.
 */
int tls_conn_write(struct tls_conn *t, const char *buf, size_t len,
                   size_t *n);

/* After AW_AGAIN: true when the call waits for the socket to drain
   (read) or for bytes to arrive (write), the opposite of its own way. */
bool tls_conn_wants_write(const struct tls_conn *t);
bool tls_conn_wants_read(const struct tls_conn *t);

/* True once the handshake has completed. */
bool tls_conn_established(const struct tls_conn *t);

/*
 * Why the session failed, a static "tls.*" reason code: tls.unknown_sni,
 * tls.protocol_version, tls.no_shared_cipher, tls.no_client_cert,
 * tls.cert_expired, tls.cert_revoked, tls.unknown_ca, tls.bad_client_cert,
 * tls.http_on_tls, tls.handshake_aborted, tls.handshake_failed (any
 * other handshake failure) or tls.protocol_error (after the handshake).
 */
const char *tls_conn_reason(const struct tls_conn *t);

/*
 * The handshake bound of the connection passed: mark the session
 * failed and count it. Returns the reason, "tls.handshake_timeout".
 */
const char *tls_conn_timed_out(struct tls_conn *t);

/* The Strict-Transport-Security field line ("Name: value\r\n") of the
   connection's listener, or "" when HSTS is off. Borrowed from s. */
const char *tls_conn_hsts(const struct tls_conn *t);

/* What the client proved with its certificate, for authentication. */
struct tls_peer {
    const char *identity;   /* SPIFFE URI SAN, else the first DNS SAN,
                               else the subject CN; NUL-terminated,
                               printable ASCII, at most
                               TLS_IDENTITY_MAX bytes */
    const char *source;     /* "uri", "dns" or "cn" */
    unsigned char sha256[32]; /* SHA-256 of the certificate's DER: the
                                 RFC 8705 x5t#S256 thumbprint */
};

/*
 * The verified client certificate of an established session. Returns
 * AW_OK with *peer set (borrowed from t, valid until tls_conn_free),
 * AW_DECLINED when the client sent no certificate, or AW_INVALID when
 * it holds no usable identity (names too long or not printable).
 * Computed once per session.
 */
int tls_conn_peer(struct tls_conn *t, const struct tls_peer **peer);

/* ---- upstream side ---------------------------------------------------- */

/*
 * The client context of one upstream (upstreams.NAME.tls): the CA that
 * verifies its servers, the name they must carry, an optional client
 * certificate. Immutable and reference-counted like tls_server.
 */
struct tls_client;

/*
 * The session a worker keeps per backend address for resumption,
 * touched only by that worker. owner says which client context made
 * it: a session is never offered through another context (a reload
 * may change the CA or the name). The slot holds a reference on owner,
 * so that a new context can never take the old one's address.
 */
struct tls_session_slot {
    struct tls_client *owner;
    void *session;                 /* SSL_SESSION, owned */
};

/* Free the slot's session; the slot stays usable. */
void tls_session_slot_clear(struct tls_session_slot *slot);

/* Build the client context of t; returns as tls_server_new. */
int tls_client_new(const struct config_upstream_tls *t, const char *where,
                   char *err, size_t errlen, struct tls_client **out);
struct tls_client *tls_client_ref(struct tls_client *c);
void tls_client_unref(struct tls_client *c);

/*
 * Start a client session on the connecting socket fd, offering the
 * session kept in slot (borrowed; it must outlive the session, and
 * receives the server's new tickets). Returns AW_OK with *out set, or
 * AW_NOMEM. Reads and writes go through tls_conn_read and
 * tls_conn_write, which complete the handshake first; a failed
 * handshake is AW_ERROR with tls_conn_reason set.
 */
int tls_conn_new_client(struct tls_client *c, int fd,
                        struct tls_session_slot *slot, struct tls_conn **out);

/* True when the session resumed an earlier one. */
bool tls_conn_resumed(const struct tls_conn *t);

/*
 * Handshake failures since start, by reason: fills up to max pairs
 * (reason, count) and returns how many there are. Any thread.
 */
struct tls_failure_count {
    const char *reason;
    uint64_t count;
};
size_t tls_failures(struct tls_failure_count *out, size_t max);

#endif
