/*
 * Session ticket keys. Tickets are sealed with AES-256-CBC and
 * HMAC-SHA256 under process-wide keys made from the system's random
 * source. The current key seals; it and the one before it open. Every
 * rotation period (the ticket_rotation of the listener whose handshake
 * asks first) a new key is made and the oldest forgotten, so a stolen
 * key exposes at most two periods of sessions. Keys never leave memory.
 *
 * One mutex guards the ring; it is taken once per sealed or opened
 * ticket, which is cheap beside the handshake around it.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "tls/tls_int.h"

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    bool set;
};

static struct {
    pthread_mutex_t lock;
    struct ticket_key keys[2];   /* [0] current, [1] previous */
    uint64_t made_ms;            /* wall clock of keys[0] */
} ring = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Make keys[0] anew when it is older than period_ms. Lock held. */
static int
ticket_rotate(uint64_t now_ms, uint64_t period_ms)
{
    struct ticket_key k;

    if (ring.keys[0].set && now_ms - ring.made_ms < period_ms)
        return AW_OK;
    if (RAND_bytes(k.name, sizeof(k.name)) != 1 ||
        RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
        RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
        return AW_ERROR;
    k.set = true;
    ring.keys[1] = ring.keys[0];
    ring.keys[0] = k;
    ring.made_ms = now_ms;
    OPENSSL_cleanse(&k, sizeof(k));
    return AW_OK;
}

/* Key the cipher and the MAC; 1 on success, as OpenSSL expects. */
static int
ticket_init(const struct ticket_key *k, unsigned char *iv,
            EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(hctx, k->hmac, sizeof(k->hmac), params) != 1)
        return 0;
    if (enc)
        return EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv);
    return EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv);
}

/*
 * OpenSSL's ticket callback. Sealing (enc 1): name the current key and
 * draw an IV; returns 1, or -1 when no key can be made. Opening: 1 with
 * the current key, 2 with the previous one (the client then gets a
 * fresh ticket), 0 for an unknown name (a full handshake follows).
 */
int
tls_on_ticket_key(SSL *ssl, unsigned char *name, unsigned char *iv,
                  EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct tls_conn *t = SSL_get_app_data(ssl);
    uint64_t period = t != NULL ? t->srv->ticket_rotation_ms : 3600000;
    int rc = 0;

    pthread_mutex_lock(&ring.lock);
    if (ticket_rotate(clock_wall_ms(), period) != AW_OK) {
        pthread_mutex_unlock(&ring.lock);
        return -1;
    }
    if (enc) {
        memcpy(name, ring.keys[0].name, sizeof(ring.keys[0].name));
        rc = RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1
                 ? ticket_init(&ring.keys[0], iv, cctx, hctx, 1)
                 : -1;
    } else {
        for (int i = 0; i < 2 && rc == 0; i++) {
            const struct ticket_key *k = &ring.keys[i];

            if (k->set && memcmp(name, k->name, sizeof(k->name)) == 0)
                rc = ticket_init(k, iv, cctx, hctx, 0) == 1 ? i + 1 : 0;
        }
    }
    pthread_mutex_unlock(&ring.lock);
    return rc;
}
