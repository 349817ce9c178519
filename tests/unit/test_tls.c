/*
 * Unit tests of src/tls: listeners with TLS loaded from YAML,
 * certificates made here with OpenSSL (ECDSA and RSA, names in SANs or
 * the CN only, expiring soon or later), SNI name coverage with
 * wildcards, grouping of chains by names, audits of expiry and weak
 * keys, and the refusals of unusable settings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "config/config.h"
#include "tls/tls.h"

#define DAY 86400

static char dir[64];

/* A self-signed certificate for cn with SAN san (or none) valid for
   days from now, written as NAME.pem and NAME.key in dir. */
static void
make_cert(const char *name, const char *kind, const char *cn,
          const char *san, long days)
{
    EVP_PKEY *k = strcmp(kind, "rsa") == 0
                      ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                      : EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
    X509 *x = X509_new();
    X509_NAME *n = X509_get_subject_name(x);
    char path[128];
    FILE *f;

    assert_non_null(k);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), days * DAY);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_set_pubkey(x, k);
    if (san != NULL) {
        X509V3_CTX ctx;
        X509_EXTENSION *e;

        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        e = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
        assert_non_null(e);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);
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

static int
group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_tls.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    make_cert("ec", "P-256", "api.test", "DNS:api.test,DNS:*.api.test", 90);
    make_cert("rsa", "rsa", "api.test", "DNS:api.test,DNS:*.api.test", 90);
    make_cert("cn", "P-256", "cn-only.test", NULL, 20);
    make_cert("soon", "P-256", "soon.test", "DNS:soon.test", 5);
    make_cert("weak", "P-224", "weak.test", "DNS:weak.test", 90);
    return 0;
}

static int
group_teardown(void **state)
{
    char cmd[96];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Load a file whose single listener has tls lines tls (YAML, indented
   by 8). Returns the AW_ status; *out set on AW_OK. */
static int
load(const char *tls, struct config **out, struct config_errors *errs)
{
    char text[4096];

    snprintf(text, sizeof(text),
             "server:\n"
             "  listen:\n"
             "    - address: \"127.0.0.1:18443\"\n"
             "      tls:\n"
             "%s"
             "upstreams:\n"
             "  demo: {servers: [\"127.0.0.1:9000\"]}\n"
             "routes:\n"
             "  - {name: all, path: /, prefix: true, upstream: demo,\n"
             "     authz: {public: true}}\n",
             tls);
    return config_load_string("mem", text, strlen(text),
                              CONFIG_LOAD_NO_RESOLVE, out, errs);
}

/* "certificates: [...]" with the named pairs. */
static const char *
certs(const char *a, const char *b, const char *c)
{
    static char s[1024];
    const char *names[] = {a, b, c};
    size_t used = (size_t)snprintf(s, sizeof(s), "        certificates:\n");

    for (size_t i = 0; i < 3 && names[i] != NULL; i++)
        used += (size_t)snprintf(s + used, sizeof(s) - used,
                                 "          - {cert: %s/%s.pem, key: "
                                 "%s/%s.key}\n",
                                 dir, names[i], dir, names[i]);
    return s;
}

static const struct tls_server *
server_of(const struct config *c)
{
    assert_non_null(c->listener_tls);
    assert_non_null(c->listener_tls[0]);
    return c->listener_tls[0]->server;
}

static void
test_defaults_and_names(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;
    const struct config_tls *t;
    const struct tls_server *s;

    (void)state;
    assert_int_equal(load(certs("ec", "rsa", "cn"), &c, &errs), AW_OK);
    t = c->listener_tls[0];
    assert_int_equal(t->ncerts, 3);
    assert_int_equal(t->min_version, 0x0303);
    assert_int_equal(t->client_cert, CLIENT_CERT_OFF);
    assert_int_equal(t->handshake_timeout_ms, 10000);
    assert_true(t->session_tickets);
    s = server_of(c);
    assert_int_equal(tls_server_handshake_timeout(s), 10000);
    assert_true(tls_server_covers(s, "api.test", 8));
    assert_true(tls_server_covers(s, "API.Test", 8));
    assert_true(tls_server_covers(s, "v1.api.test", 11));
    assert_false(tls_server_covers(s, "a.v1.api.test", 13));
    assert_false(tls_server_covers(s, ".api.test", 9));
    assert_false(tls_server_covers(s, "xapi.test", 9));
    /* A certificate without SANs answers for its CN. */
    assert_true(tls_server_covers(s, "cn-only.test", 12));
    assert_false(tls_server_covers(s, "other.test", 10));
    config_unref(c);
}

static void
test_expiry_and_audit(void **state)
{
    struct config_errors errs;
    struct config *c = NULL;
    const char *path;
    int64_t left, now = (int64_t)(clock_wall_ms() / 1000);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    (void)state;
    assert_int_equal(load(certs("soon", "weak", "ec"), &c, &errs), AW_OK);
    assert_int_equal(tls_server_expiry(server_of(c), 0, now, &path, &left),
                     AW_OK);
    assert_true(left > 4 * DAY && left <= 5 * DAY);
    assert_non_null(strstr(path, "/soon.pem"));
    assert_int_equal(tls_server_expiry(server_of(c), 3, now, &path, &left),
                     AW_DECLINED);
    assert_int_equal(tls_audit(c, now, true, out), 2);
    fclose(out);
    assert_non_null(strstr(buf, "error: certificate "));
    assert_non_null(strstr(buf, "soon.pem: expires soon, days left: "));
    assert_non_null(strstr(buf, "weak.pem: weak key, bits: 224"));
    assert_null(strstr(buf, "ec.pem"));
    free(buf);
    /* A month later everything has expired. */
    out = open_memstream(&buf, &len);
    assert_int_equal(tls_audit(c, now + 100 * DAY, false, out), 3);
    fclose(out);
    assert_non_null(strstr(buf, "ec.pem: expired, days ago: "));
    free(buf);
    config_unref(c);
}

/* Each bad setting is refused with a message naming the place. */
static void
test_refusals(void **state)
{
    char tls[1400];
    const char *cases[][2] = {
        {"          - {cert: /nonexistent.pem, key: /nonexistent.key}\n",
         "cert /nonexistent.pem: cannot open"},
        {NULL, "does not match"},
        {"        client_certificate: required\n",
         "client_certificate needs client_ca"},
        {"        crl: /x.crl\n", "crl needs client_ca"},
        {"        min_version: \"1.1\"\n", "is not one of: 1.2, 1.3"},
        {"        ciphers: NOPE\n", "no cipher is known"},
        {"        groups: NOPE\n", "names an unknown group"},
        {"        handshake_timeout: 1ms\n", "handshake_timeout"},
        {"        bogus: 1\n", "unknown key 'bogus'"},
        {"        client_certificate: optional\n"
         "        client_ca: /dev/zero\n",
         "client_ca /dev/zero: not a regular file"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config_errors errs;
        struct config *c = NULL;

        if (i == 0)
            snprintf(tls, sizeof(tls), "        certificates:\n%s",
                     cases[i][0]);
        else if (cases[i][0] == NULL)
            snprintf(tls, sizeof(tls),
                     "        certificates:\n"
                     "          - {cert: %s/ec.pem, key: %s/rsa.key}\n",
                     dir, dir);
        else
            snprintf(tls, sizeof(tls), "%s%s", certs("ec", NULL, NULL),
                     cases[i][0]);
        assert_int_equal(load(tls, &c, &errs), AW_INVALID);
        assert_true(errs.n >= 1);
        if (strstr(errs.msg[0], cases[i][1]) == NULL ||
            strstr(errs.msg[0], "server.listen[0].tls") == NULL)
            fail_msg("case %zu: %s", i, errs.msg[0]);
    }
}

/* Plain addresses and TLS listeners mix; the array marks which is which. */
static void
test_mixed_listeners(void **state)
{
    char text[1024];
    struct config_errors errs;
    struct config *c = NULL;

    (void)state;
    snprintf(text, sizeof(text),
             "server:\n"
             "  listen:\n"
             "    - \"127.0.0.1:18080\"\n"
             "    - {address: \"127.0.0.1:18443\", tls: {certificates: "
             "[{cert: %s/ec.pem, key: %s/ec.key}], strict_sni: true}}\n"
             "upstreams:\n"
             "  demo: {servers: [\"127.0.0.1:9000\"]}\n"
             "routes:\n"
             "  - {name: all, path: /, prefix: true, upstream: demo,\n"
             "     authz: {public: true}}\n",
             dir, dir);
    assert_int_equal(config_load_string("mem", text, strlen(text),
                                        CONFIG_LOAD_NO_RESOLVE, &c, &errs),
                     AW_OK);
    assert_int_equal(c->nlisteners, 2);
    assert_null(c->listener_tls[0]);
    assert_non_null(c->listener_tls[1]);
    assert_true(c->listener_tls[1]->strict_sni);
    config_unref(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_names),
        cmocka_unit_test(test_expiry_and_audit),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_mixed_listeners),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
