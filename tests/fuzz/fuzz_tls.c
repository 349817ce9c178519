/*
 * libFuzzer driver for the server side of a TLS handshake.
 *
 * The input is what a client sends: it is written into one end of a
 * socket pair and the gateway's session reads the other end, as a
 * worker would, until it needs more bytes, fails or closes. This runs
 * the gateway's own callbacks (SNI selection, ALPN, session ticket
 * keys, client certificate identity) and the reason mapping of
 * failures over arbitrary records. The listener asks for an optional
 * client certificate and has two certificates, so SNI switches
 * contexts. Certificates are made once, at the first input.
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "tls/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64 * 1024)

static struct config *cfg;
static char cert_dir[] = "/tmp/fuzz_tls.XXXXXX";

/* The certificates are read at load; their directory goes at exit. */
static void
fuzz_cleanup(void)
{
    static const char *const names[] = {"api.test.pem", "api.test.key",
                                        "other.test.pem", "other.test.key"};
    char path[256];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", cert_dir, names[i]);
        unlink(path);
    }
    rmdir(cert_dir);
}

/* A self-signed P-256 certificate for name in dir/NAME.pem, .key. */
static void
make_cert(const char *dir, const char *name)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_get_subject_name(x);
    char path[256], san[128];
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    FILE *f;

    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               (const unsigned char *)name, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    snprintf(san, sizeof(san), "DNS:%s,DNS:*.%s", name, name);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    X509_sign(x, k, EVP_sha256());
    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    f = fopen(path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.key", dir, name);
    f = fopen(path, "w");
    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void
fuzz_init(void)
{
    struct config_errors errs;
    char text[2048];

    if (mkdtemp(cert_dir) == NULL)
        abort();
    atexit(fuzz_cleanup);
    make_cert(cert_dir, "api.test");
    make_cert(cert_dir, "other.test");
    snprintf(text, sizeof(text),
             "server:\n"
             "  listen:\n"
             "    - address: \"127.0.0.1:1\"\n"
             "      tls:\n"
             "        certificates:\n"
             "          - {cert: %s/api.test.pem, key: %s/api.test.key}\n"
             "          - {cert: %s/other.test.pem, key: %s/other.test.key}\n"
             "        client_certificate: optional\n"
             "        client_ca: %s/api.test.pem\n"
             "upstreams:\n"
             "  demo: {servers: [\"127.0.0.1:9\"]}\n"
             "routes:\n"
             "  - {name: all, path: /, prefix: true, upstream: demo,\n"
             "     authz: {public: true}}\n",
             cert_dir, cert_dir, cert_dir, cert_dir, cert_dir);
    if (config_load_string("fuzz.yaml", text, strlen(text),
                           CONFIG_LOAD_NO_RESOLVE, &cfg, &errs) != AW_OK)
        abort();
}

/* Read until the session wants more, fails or ends; bounded. */
static void
fuzz_drive(struct tls_conn *t)
{
    char buf[4096];
    const struct tls_peer *peer;

    for (int i = 0; i < 64; i++) {
        size_t n = 0;
        int rc = tls_conn_read(t, buf, sizeof(buf), &n);

        if (rc == AW_ERROR && strncmp(tls_conn_reason(t), "tls.", 4) != 0)
            abort();
        if (rc != AW_OK)
            break;
        if (n == 0 || n > sizeof(buf))
            abort();
    }
    if (tls_conn_established(t) && tls_conn_peer(t, &peer) == AW_OK &&
        (peer->identity == NULL || strlen(peer->identity) > TLS_IDENTITY_MAX))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tls_conn *t = NULL;
    int sv[2];

    if (cfg == NULL)
        fuzz_init();
    if (size > FUZZ_MAX_INPUT)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    if (size > 0 && write(sv[0], data, size) != (ssize_t)size)
        abort();
    shutdown(sv[0], SHUT_WR);
    if (tls_conn_new(cfg->listener_tls[0]->server, sv[1], &t) != AW_OK)
        abort();
    fuzz_drive(t);
    tls_conn_free(t);
    close(sv[0]);
    close(sv[1]);
    return 0;
}
