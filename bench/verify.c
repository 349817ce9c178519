/*
 * apiward-bench-verify: signature verifications per second of CPU time,
 * through the gateway's own JOSE code.
 *
 *   apiward-bench-verify SECONDS JWKS_FILE TOKEN_FILE
 *
 * The key set is imported with jwks_parse, as the gateway imports an
 * issuer's keys, so every key holds the verification contexts prepared
 * at import. Each line of TOKEN_FILE is one compact JWS; it is parsed
 * once with jose_parse, its key is looked up once with jwks_find, and
 * then jose_verify is called on it in a loop for SECONDS of user CPU
 * time. What is measured is therefore the signature check alone, the
 * work the verified-token cache saves: parsing, claims and the cache
 * lookup are not in the loop.
 *
 * User CPU time is the divisor because `openssl speed` uses it too, and
 * its figures are printed beside these as the ceiling; time the process
 * spends descheduled by other jobs on the machine does not count. One
 * line is printed per token:
 *
 *   verify ALG COUNT USER_SECONDS PER_SECOND
 *
 * A token that does not verify once before the loop stops the program
 * with its reason code, so a broken key or token never passes for a
 * fast one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "base/base.h"
#include "identity/identity.h"

/* Both input files are small: a few keys, a few tokens. */
#define VERIFY_FILE_MAX ((size_t)1 << 20)

/* Longest measurement accepted on the command line, in seconds. */
#define VERIFY_SECONDS_MAX 60

/* Verifications between two readings of the CPU clock. */
#define VERIFY_BATCH 64

/* Room for one parsed token: decoded parts and the two JSON trees. */
#define VERIFY_ARENA_MAX ((size_t)4 << 20)

/*
 * Read all of path into a malloc'ed buffer of at most VERIFY_FILE_MAX
 * bytes; the caller frees *out. Returns AW_OK, AW_IO (errno kept),
 * AW_TOOBIG or AW_NOMEM.
 */
static int
verify_read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    int rc = AW_OK;

    *out = NULL;
    if (f == NULL)
        return AW_IO;
    buf = malloc(VERIFY_FILE_MAX + 1);
    if (buf == NULL) {
        rc = AW_NOMEM;
        goto out;
    }
    *len = fread(buf, 1, VERIFY_FILE_MAX + 1, f);
    if (ferror(f))
        rc = AW_IO;
    else if (*len > VERIFY_FILE_MAX)
        rc = AW_TOOBIG;
out:
    fclose(f);
    if (rc != AW_OK)
        free(buf);
    else
        *out = buf;
    return rc;
}

/* User CPU time of this process, in seconds. */
static double
verify_user_seconds(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

/*
 * Call jose_verify on tok with key until seconds of user CPU time have
 * passed, and print the rate. Returns AW_OK, or AW_INVALID when a
 * verification in the loop fails (which a correct verifier never does
 * for a token that verified once).
 */
static int
verify_loop(const struct jose_token *tok, const struct jwk *key,
            double seconds)
{
    struct jose_error err;
    unsigned long count = 0;
    double start = verify_user_seconds();
    double spent = 0;

    while (spent < seconds) {
        for (int i = 0; i < VERIFY_BATCH; i++) {
            if (jose_verify(tok, key, &err) != AW_OK) {
                fprintf(stderr, "apiward-bench-verify: %s failed in the "
                        "loop: %s\n", jose_alg_name(tok->alg), err.reason);
                return AW_INVALID;
            }
        }
        count += VERIFY_BATCH;
        spent = verify_user_seconds() - start;
    }
    printf("verify %s %lu %.3f %.1f\n", jose_alg_name(tok->alg), count,
           spent, (double)count / spent);
    fflush(stdout);
    return AW_OK;
}

/*
 * Parse one token, find its single key in set, check that it verifies,
 * then measure it. Returns AW_OK or the first failure, already reported
 * on stderr.
 */
static int
verify_token(const struct jwks *set, struct slice token, double seconds)
{
    struct arena a;
    struct jose_token tok;
    struct jose_error err;
    const struct jwk *key = NULL;
    int rc;

    arena_init(&a, 4096, VERIFY_ARENA_MAX);
    rc = jose_parse(token.ptr, token.len, JOSE_MAX_TOKEN, 0, &a, &tok,
                    &err);
    if (rc != AW_OK) {
        fprintf(stderr, "apiward-bench-verify: token refused: %s\n",
                err.reason);
        goto out;
    }
    if (jwks_find(set, tok.has_kid ? &tok.kid : NULL, tok.alg, &key,
                  1) != 1) {
        fprintf(stderr, "apiward-bench-verify: %s: not exactly one key "
                "in the set for this token\n", jose_alg_name(tok.alg));
        rc = AW_INVALID;
        goto out;
    }
    rc = jose_verify(&tok, key, &err);
    if (rc != AW_OK) {
        fprintf(stderr, "apiward-bench-verify: %s does not verify: %s\n",
                jose_alg_name(tok.alg), err.reason);
        goto out;
    }
    rc = verify_loop(&tok, key, seconds);
out:
    arena_fini(&a);
    return rc;
}

/* Measure every non-empty line of tokens[0..len) in turn. */
static int
verify_tokens(const struct jwks *set, const char *tokens, size_t len,
              double seconds)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(tokens + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - tokens) : len;
        struct slice line = {tokens + pos, end - pos};
        int rc;

        pos = end + 1;
        if (line.len == 0)
            continue;
        rc = verify_token(set, line, seconds);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

/* Read and import the key set; reasons go to stderr. */
static int
verify_load_set(const char *path, struct jwks **set)
{
    struct jose_error err;
    char *buf = NULL;
    size_t len = 0;
    int rc = verify_read_file(path, &buf, &len);

    *set = NULL;
    if (rc != AW_OK) {
        fprintf(stderr, "apiward-bench-verify: %s: %s\n", path,
                rc == AW_IO ? strerror(errno) : "too large");
        return rc;
    }
    rc = jwks_parse(buf, len, 0, set, &err);
    if (rc != AW_OK)
        fprintf(stderr, "apiward-bench-verify: %s: %s (%s)\n", path,
                err.reason, err.detail);
    else if (jwks_count(*set) == 0) {
        fprintf(stderr, "apiward-bench-verify: %s: no usable key\n", path);
        rc = AW_INVALID;
    }
    free(buf);
    return rc;
}

int
main(int argc, char **argv)
{
    struct jwks *set = NULL;
    char *tokens = NULL;
    size_t len = 0;
    uint64_t seconds = 0;
    int rc;

    if (argc != 4 ||
        slice_to_u64((struct slice){argv[1], strlen(argv[1])},
                     VERIFY_SECONDS_MAX, &seconds) != AW_OK ||
        seconds == 0) {
        fprintf(stderr, "usage: %s SECONDS(1-%d) JWKS_FILE TOKEN_FILE\n",
                argv[0], VERIFY_SECONDS_MAX);
        return 2;
    }
    rc = verify_load_set(argv[2], &set);
    if (rc != AW_OK)
        goto out;
    rc = verify_read_file(argv[3], &tokens, &len);
    if (rc != AW_OK) {
        fprintf(stderr, "apiward-bench-verify: %s: %s\n", argv[3],
                rc == AW_IO ? strerror(errno) : "too large");
        goto out;
    }
    rc = verify_tokens(set, tokens, len, (double)seconds);
out:
    free(tokens);
    jwks_unref(set);
    return rc == AW_OK ? 0 : 1;
}
