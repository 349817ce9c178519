/*
 * libFuzzer driver for http_chunked_decode.
 *
 * The first input byte sets the body limit (0 to 255 bytes, or 1 MiB
 * when it is 255), the rest is a chunked body. It is decoded in one call,
 * in two calls cut where the second byte says, and (when short) one byte
 * per call, each piece from an exact-size copy; all must agree on the
 * verdict, the bytes used and the payload. The payload must also match a
 * slow reference decoder written from the grammar.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define BYTEWISE_MAX 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
    int rc;
    size_t consumed;
    size_t out_len;
    char *out;
    struct http_error err;
};

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/*
 * Decode data in pieces: the first ends at cut (when 0 < cut < n), the
 * rest are at most step bytes long (0: all that is left).
 */
static void
decode(const uint8_t *data, size_t n, size_t cut, size_t step, uint64_t max,
       struct result *r)
{
    struct http_chunked c;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    r->out = malloc(n > 0 ? n : 1);
    check(r->out != NULL);
    r->rc = AW_AGAIN;
    http_chunked_init(&c);
    while (off < n && r->rc == AW_AGAIN) {
        size_t len = step == 0 || step > n - off ? n - off : step;
        char *piece;
        size_t used;
        size_t out;

        if (off == 0 && cut > 0 && cut < n)
            len = cut;
        piece = malloc(len);
        check(piece != NULL);
        memcpy(piece, data + off, len);
        r->rc = http_chunked_decode(&c, piece, len, &used, &out, max, &r->err);
        check(used <= len && out <= used);
        check(r->rc != AW_AGAIN || used == len);
        memcpy(r->out + r->out_len, piece, out);
        r->out_len += out;
        off += used;
        free(piece);
    }
    r->consumed = off;
    check(c.total == r->out_len && c.total <= max);
}

static void
check_same(const struct result *a, const struct result *b)
{
    check(a->rc == b->rc);
    if (a->rc == AW_INVALID) {
        check(a->err.status == b->err.status);
        check(strcmp(a->err.reason, b->err.reason) == 0);
        return;
    }
    check(a->consumed == b->consumed);
    check(a->out_len == b->out_len);
    check(a->out_len == 0 || memcmp(a->out, b->out, a->out_len) == 0);
}

static int
hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
        return (c | 0x20) - 'a' + 10;
    return -1;
}

/*
 * Reference: read "size[;ext...] CRLF data CRLF" records the simple way,
 * skipping extensions up to CRLF without checking them, and stop at the
 * last chunk. Returns false when the framing is broken in a way the
 * reference sees (it checks less than the decoder). On success the
 * payload is in out.
 */
static bool
reference(const uint8_t *d, size_t n, char *out, size_t *out_len)
{
    size_t i = 0;

    *out_len = 0;
    for (;;) {
        uint64_t size = 0;
        size_t digits = 0;

        while (i < n && hexval(d[i]) >= 0 && digits < 16) {
            size = size * 16 + (uint64_t)hexval(d[i++]);
            digits++;
        }
        if (digits == 0)
            return false;
        while (i + 1 < n && !(d[i] == '\r' && d[i + 1] == '\n'))
            i++;
        if (i + 1 >= n)
            return false;
        i += 2;
        if (size == 0)
            return true;
        if (size > n - i)
            return false;
        memcpy(out + *out_len, d + i, size);
        *out_len += size;
        i += size;
        if (i + 1 >= n || d[i] != '\r' || d[i + 1] != '\n')
            return false;
        i += 2;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct result once;
    struct result cut;
    struct result slow;

    if (size < 2)
        return 0;

    uint64_t max = data[0] == 255 ? 1 << 20 : data[0];
    const uint8_t *d = data + 2;
    size_t n = size - 2;

    decode(d, n, 0, 0, max, &once);
    decode(d, n, data[1] % (n + 1), 0, max, &cut);
    check_same(&once, &cut);
    if (n <= BYTEWISE_MAX) {
        decode(d, n, 0, 1, max, &slow);
        check_same(&once, &slow);
        free(slow.out);
    }
    if (once.rc == AW_DONE) {
        char *ref = malloc(n > 0 ? n : 1);
        size_t ref_len;

        check(ref != NULL);
        check(reference(d, once.consumed, ref, &ref_len));
        check(ref_len == once.out_len);
        check(ref_len == 0 || memcmp(ref, once.out, ref_len) == 0);
        free(ref);
    }
    free(once.out);
    free(cut.out);
    return 0;
}
