/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash made
 * for hash tables whose keys come from an adversary. Two compression
 * rounds per 8-byte word and four finalisation rounds.
 */
#include <string.h>

#include "ratelimit/ratelimit_int.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
    uint64_t v0, v1, v2, v3;
};

static void
sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

/* Little-endian load of n (at most 8) bytes. */
static uint64_t
load_le(const unsigned char *p, size_t n)
{
    uint64_t w = 0;

    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static void
sip_word(struct sip *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

uint64_t
ratelimit_siphash(uint64_t k0, uint64_t k1, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    struct sip s = {
        k0 ^ 0x736f6d6570736575ULL,
        k1 ^ 0x646f72616e646f6dULL,
        k0 ^ 0x6c7967656e657261ULL,
        k1 ^ 0x7465646279746573ULL,
    };
    size_t whole = len - len % 8;

    for (size_t i = 0; i < whole; i += 8)
        sip_word(&s, load_le(p + i, 8));
    /* The last word carries the length in its top byte. */
    sip_word(&s, load_le(p + whole, len % 8) | ((uint64_t)len << 56));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
