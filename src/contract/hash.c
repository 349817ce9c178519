/*
 * SipHash-2-4 over canonical JSON values. The key is drawn from the
 * kernel once per process, before the first hash, so hashes agree
 * between the compiler (enum values) and every validator thread, and an
 * attacker cannot search for two instances that collide.
 */
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "schema_int.h"

static uint64_t hash_key[2];
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

static void
hash_init(void)
{
    /* Without randomness the key stays fixed: hashes are still correct,
     * only collisions become predictable. */
    if (getrandom(hash_key, sizeof(hash_key), 0) != sizeof(hash_key))
        hash_key[0] = 0x736f6d6570736575ULL;
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                          \
    do {                                                                  \
        v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);         \
        v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                            \
        v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                            \
        v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);         \
    } while (0)

/* SipHash-2-4 of tag (as the first word) followed by p[0..n). */
uint64_t
hash_bytes(uint64_t tag, const void *p, size_t n)
{
    const unsigned char *in = p;
    uint64_t v0, v1, v2, v3, m, b = ((uint64_t)(n + 8)) << 56;

    pthread_once(&hash_once, hash_init);
    v0 = hash_key[0] ^ 0x736f6d6570736575ULL;
    v1 = hash_key[1] ^ 0x646f72616e646f6dULL;
    v2 = hash_key[0] ^ 0x6c7967656e657261ULL;
    v3 = hash_key[1] ^ 0x7465646279746573ULL;
    v3 ^= tag;
    SIPROUND;
    SIPROUND;
    v0 ^= tag;
    for (; n >= 8; n -= 8, in += 8) {
        memcpy(&m, in, 8);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t i = 0; i < n; i++)
        b |= (uint64_t)in[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
hash_pair(uint64_t a, uint64_t b)
{
    return hash_bytes(a, &b, sizeof(b));
}

uint64_t
hash_dec(const struct dec *d)
{
    uint64_t h = hash_bytes(H_NUM, d->dig, d->n);

    return hash_pair(h, ((uint64_t)(uint32_t)d->exp << 1) | d->neg);
}

uint64_t
hash_value(const struct json_value *v)
{
    uint64_t h = 0;
    struct dec d;
    char buf[DEC_MAX_DIGITS];

    switch (v->type) {
    case JSON_NULL:
        return hash_bytes(H_NULL, NULL, 0);
    case JSON_FALSE:
        return hash_bytes(H_FALSE, NULL, 0);
    case JSON_TRUE:
        return hash_bytes(H_TRUE, NULL, 0);
    case JSON_NUMBER:
        if (dec_parse(v->u.num.text, buf, sizeof(buf), &d) != AW_OK)
            return hash_bytes(H_NUM, v->u.num.text.ptr, v->u.num.text.len);
        return hash_dec(&d);
    case JSON_STRING:
        return hash_bytes(H_STR, v->u.str.ptr, v->u.str.len);
    case JSON_ARRAY:
        h = hash_bytes(H_ARR, NULL, 0);
        for (size_t i = 0; i < v->u.arr.n; i++)
            h = hash_pair(h, hash_value(v->u.arr.items[i]));
        return h;
    case JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) {
            struct slice n = v->u.obj.members[i].name;

            h += hash_pair(hash_bytes(H_NAME, n.ptr, n.len),
                           hash_value(v->u.obj.members[i].value));
        }
        return hash_pair(hash_bytes(H_OBJ, NULL, 0), h);
    }
    return 0;
}
